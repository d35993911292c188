# flops.gp: tuning FLOPs per strategy, log scale, with the ratio to grid search on each bar.
# data/flops.tsv: strategy, tuning FLOPs, grid/strategy ratio
load 'common.gp'
set title sprintf("Tuning FLOPs per strategy%s", title_extra)
set ylabel 'tuning FLOPs (log scale)'
set logscale y
set style fill solid 0.7 border -1
set boxwidth 0.6
set xtics rotate by -30
set key off
set yrange [*:*] writeback
plot data.'/flops.tsv' using 0:2:xtic(1) with boxes lc rgb '#4477aa' title 'tuning FLOPs', \
     '' using 0:($2*1.6):(sprintf('%.1fx', $3)) with labels font ',11' title 'grid / strategy'
