# cost.gp: what each strategy bought for its compute: test MSE of the delivered model against
# all the FLOPs it spent (tuning plus delivery), means over seeds, both axes logarithmic (an
# MSE is above 0, and strategies differ by factors); with several seeds, the 95% t-intervals
# of both as error bars, a lower end below zero drawn down to a tenth of the mean.
# data/cost.tsv: one block per strategy (FLOPs, test MSE, their half-widths or NaN), its first
# line the strategy's name; nblocks and errors (rows with an interval) are passed in.
load 'common.gp'
if (!exists('errors')) errors = 0  # drawn by hand: no error bars unless asked for
set title sprintf("Test MSE of each strategy's delivered model against the FLOPs it cost%s", title_extra)
set xlabel 'tuning + delivery FLOPs (log scale)'
set ylabel 'test MSE per element (log scale)'
set logscale xy
set format x '10^{%L}'
set format y '%g'
set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05
set key outside right top autotitle columnheader font ',10'
low(mean, ci) = mean - ci > mean / 10 ? mean - ci : mean / 10
file = data.'/cost.tsv'
if (errors > 0) {
    plot for [i=0:nblocks-1] file index i using 1:2:(low($1, $3)):($1+$3):(low($2, $4)):($2+$4) \
             with xyerrorbars pt (i%7)+4 ps 1.3 lc i+1
} else {
    plot for [i=0:nblocks-1] file index i using 1:2 with points pt (i%7)+4 ps 1.3 lc i+1
}
