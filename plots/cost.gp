# cost.gp: what each strategy bought for its compute: test MSE of the delivered model against
# all the FLOPs it spent (tuning plus delivery). data/cost.tsv: strategy, FLOPs, test MSE
load 'common.gp'
set title sprintf("Reconstruction error against FLOPs spent%s", title_extra)
set xlabel 'tuning + delivery FLOPs (log scale)'
set ylabel 'test MSE of the delivered model'
set logscale x
set offsets graph 0.08, graph 0.15, graph 0.1, graph 0.1
set key off
plot data.'/cost.tsv' using 2:3 with points pt 7 ps 1.4 lc rgb '#4477aa' title 'strategy', \
     '' using 2:3:1 with labels offset 0,1 font ',10' notitle
