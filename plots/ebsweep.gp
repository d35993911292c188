# ebsweep.gp: Early-Bird's lambda sweep over data sets of known dimension, a grid of cells:
# one row per (latent lambda, hidden lambda), one column per data set, coloured by the median
# count after the budget minus d (green: d; orange: one too many; red: two or more; blue: too
# few) and labelled with the median. data/ebsweep.tsv: column, row, median - d, median, data
# set with its d, setting; nx and ny (the grid's size) are passed in.
load 'common.gp'
set termoption noenhanced  # names hold underscores
set title sprintf("Early-Bird: median count after the budget, against d%s", title_extra)
unset key
unset grid
set xrange [-0.5:nx-0.5]
set yrange [ny-0.5:-0.5]
set xtics scale 0
set ytics scale 0
set xlabel "data set (d)"
set ylabel "latent lambda, hidden lambda"
set style fill solid 1.0 border lc rgb '#ffffff'
set lmargin 24
file = data.'/ebsweep.tsv'
colour(e) = e < -0.25 ? 0x90caf9 : e < 0.25 ? 0x66bb6a : e < 1.25 ? 0xffcc80 : 0xef9a9a
plot file using 1:2:(0.5):(0.5):(colour($3)):xtic(5):ytic(6) with boxxy lc rgb variable, \
     file using 1:2:(sprintf('%g', $4)) with labels font ',10'
