# flops.gp: FLOPs per strategy, log scale: tuning (to name K) in the dark bar, tuning plus
# delivery (a trained model at K) in the light one, each labelled with grid search's tuning
# FLOPs divided by it on the same seed (mean over seeds); with several seeds, each bar's 95%
# t-interval as an error bar (its lower end kept at a tenth of the mean on the log axis).
# data/flops.tsv: strategy, tuning FLOPs, grid/tuning, tuning + delivery FLOPs, grid/(that),
# the two half-widths (NaN with one seed); errors (rows with an interval) is passed in.
load 'common.gp'
if (!exists('errors')) errors = 0  # drawn by hand: no error bars unless asked for
set title sprintf("FLOPs per strategy%s\n{/*0.85 labels: grid search's tuning FLOPs / tuning, and / (tuning + delivery)}", title_extra) enhanced
set ylabel 'FLOPs (log scale)'
set logscale y
set format y '10^{%L}'
set style fill solid 0.7 border -1
set boxwidth 0.6
set xtics rotate by -30
set key top right
set yrange [*:*] writeback
# room above the tallest bar for its upright label
set offsets 0, 0, graph 0.3, 0
low(mean, ci) = mean - ci > mean / 10 ? mean - ci : mean / 10
file = data.'/flops.tsv'
if (errors > 0) {
    plot file using 0:4:xtic(1) with boxes lc rgb '#bbccee' title 'tuning + delivery', \
         '' using 0:2 with boxes lc rgb '#4477aa' title 'tuning', \
         '' using 0:($4*1.3):(sprintf('%.1fx / %.1fx', $3, $5)) with labels rotate by 90 left \
             font ',9' notitle, \
         '' using ($0+0.12):4:(low($4, $7)):($4+$7) with yerrorbars pt 7 ps 0.5 lw 1.5 \
             lc rgb '#555555' title '95% interval over seeds', \
         '' using ($0-0.12):2:(low($2, $6)):($2+$6) with yerrorbars pt 7 ps 0.5 lw 1.5 \
             lc rgb '#222222' notitle
} else {
    plot file using 0:4:xtic(1) with boxes lc rgb '#bbccee' title 'tuning + delivery', \
         '' using 0:2 with boxes lc rgb '#4477aa' title 'tuning', \
         '' using 0:($4*1.3):(sprintf('%.1fx / %.1fx', $3, $5)) with labels rotate by 90 left \
             font ',9' notitle
}
