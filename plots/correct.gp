# correct.gp: every strategy's estimate on every data set of known dimension in a group, a
# grid of cells, green where |estimate - d| < 0.5 (the estimate rounded to two decimals:
# Klazinga's criterion), red elsewhere. data/correct.tsv: one row per cell (column, row,
# estimate, correct 1/0, strategy with its count of correct cells, data set with its d, the
# estimate as printed); nx and ny (the grid's size) are passed in.
load 'common.gp'
set termoption noenhanced  # names hold underscores
set title sprintf("Estimated dimension, green where |estimate - d| < 0.5%s", title_extra)
unset key
unset grid
set xrange [-0.5:nx-0.5]
set yrange [ny-0.5:-0.5]
set xtics rotate by -30 left scale 0
set ytics scale 0
set style fill solid 1.0 border lc rgb '#ffffff'
set lmargin 22
file = data.'/correct.tsv'
plot file using 1:2:(0.5):(0.5):($4 > 0 ? 0x66bb6a : 0xef9a9a):xtic(5):ytic(6) \
         with boxxy lc rgb variable, \
     file using 1:2:7 with labels font ',10'
