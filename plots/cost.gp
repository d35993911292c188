# cost.gp: what each strategy bought for its compute: test MSE of the delivered model against
# all the FLOPs it spent (tuning plus delivery), means over seeds; with several seeds, the 95%
# t-intervals of both as error bars (the FLOPs' lower end kept at a tenth of the mean on the
# log axis). data/cost.tsv: strategy, FLOPs, test MSE, their half-widths (NaN with one seed);
# errors (rows with an interval) is passed in.
load 'common.gp'
if (!exists('errors')) errors = 0  # drawn by hand: no error bars unless asked for
set title sprintf("Reconstruction error against FLOPs spent%s", title_extra)
set xlabel 'tuning + delivery FLOPs (log scale)'
set ylabel 'test MSE of the delivered model'
set logscale x
set offsets graph 0.08, graph 0.15, graph 0.1, graph 0.1
set key off
low(mean, ci) = mean - ci > mean / 10 ? mean - ci : mean / 10
if (errors > 0) {
    plot data.'/cost.tsv' using 2:3 with points pt 7 ps 1.4 lc rgb '#4477aa' title 'strategy', \
         '' using 2:3:1 with labels offset 0,1 font ',10' notitle, \
         '' using 2:3:(low($2, $4)):($2+$4):($3-$5):($3+$5) with xyerrorbars pt 7 ps 1.4 \
             lc rgb '#4477aa' title '95% interval over seeds'
} else {
    plot data.'/cost.tsv' using 2:3 with points pt 7 ps 1.4 lc rgb '#4477aa' title 'strategy', \
         '' using 2:3:1 with labels offset 0,1 font ',10' notitle
}
