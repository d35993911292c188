# cost.gp: what each strategy bought for its compute: test MSE of the delivered model against
# all the FLOPs it spent (tuning plus delivery), means over seeds, FLOPs on a log axis and the
# MSE on one too unless all lie within a factor of 4; with several seeds, the 95% t-intervals
# of both as error bars, a lower end below zero drawn down to a tenth of the mean.
# data/cost.tsv: one block per strategy (FLOPs, test MSE, their half-widths or NaN), its first
# line the strategy's name; nblocks and errors (rows with an interval) are passed in.
load 'common.gp'
if (!exists('errors')) errors = 0  # drawn by hand: no error bars unless asked for
set title sprintf("Test MSE of each strategy's delivered model against the FLOPs it cost%s", title_extra)
set xlabel 'tuning + delivery FLOPs (log scale)'
set ylabel 'test MSE per element (log scale)'
set logscale x
eval log_tics_x
# MSEs within a factor of 4 of each other: a linear axis over their range (it stays above 0);
# wider apart, a log axis labelled at 1-2-5 or at every 1-9 of a decade
stats data.'/cost.tsv' using 2 nooutput
if (STATS_max >= 4 * STATS_min) {
    set logscale y
    if (STATS_max < 12 * STATS_min) { eval log_tics_y_fine } else { eval log_tics_y }
} else {
    set ylabel 'test MSE per element'
}
# the data's own range, not whole decades, with a margin
set autoscale fix
set offsets graph 0.08, graph 0.08, graph 0.12, graph 0.12
set key outside right top autotitle columnheader font ',10'
low(mean, ci) = mean - ci > mean / 10 ? mean - ci : mean / 10
file = data.'/cost.tsv'
if (errors > 0) {
    plot for [i=0:nblocks-1] file index i using 1:2:(low($1, $3)):($1+$3):(low($2, $4)):($2+$4) \
             with xyerrorbars pt (i%7)+4 ps 1.3 lc i+1
} else {
    plot for [i=0:nblocks-1] file index i using 1:2 with points pt (i%7)+4 ps 1.3 lc i+1
}
