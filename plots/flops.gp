# flops.gp: FLOPs per strategy, log scale: tuning (to name K) in the dark bar, tuning plus
# delivery (a trained model at K) in the light one, each labelled with grid search's tuning
# FLOPs divided by it.
# data/flops.tsv: strategy, tuning FLOPs, grid/tuning, tuning + delivery FLOPs, grid/(that)
load 'common.gp'
set title sprintf("FLOPs per strategy%s\n{/*0.85 labels: grid search's tuning FLOPs / tuning, and / (tuning + delivery)}", title_extra) enhanced
set ylabel 'FLOPs (log scale)'
set logscale y
set style fill solid 0.7 border -1
set boxwidth 0.6
set xtics rotate by -30
set key top right
set yrange [*:*] writeback
plot data.'/flops.tsv' using 0:4:xtic(1) with boxes lc rgb '#bbccee' title 'tuning + delivery', \
     '' using 0:2 with boxes lc rgb '#4477aa' title 'tuning', \
     '' using 0:($4*1.9):(sprintf('%.1fx / %.1fx', $3, $5)) with labels font ',11' notitle
