# knownid.gp: estimated or chosen dimension against the true dimension, per strategy and
# estimator, with the diagonal: the mean K over seeds, and with several seeds its 95%
# t-interval as an error bar. Strategies sharing a d are set side by side around it (a dodge
# of at most 0.4 either way), so that no marker hides another. data/knownid.tsv: one block per
# strategy (true d, mean K, half-width or NaN), its first line the strategy's name; nblocks,
# dmax, kmax (the highest mean K plus its half-width) and errors (rows with an interval) are
# passed in.
load 'common.gp'
file = data.'/knownid.tsv'
if (!exists('errors')) errors = 0  # drawn by hand: no error bars unless asked for
set title sprintf("Chosen latent width K against the true intrinsic dimension d%s", title_extra)
set xlabel 'true intrinsic dimension d (strategies side by side around each d)'
set ylabel 'chosen K (mean over seeds)'
set key outside right top vertical autotitle columnheader font ',10' spacing 0.9
set xrange [0:dmax + 1]
# headroom above the highest point (kmax, its error bar included), so that no marker sits on
# the border; a whole number at each tick
if (exists('kmax')) {
    set yrange [0:kmax * 1.1 + 0.5]
    if (kmax <= 20) { set ytics 1 }
} else {
    set yrange [0:*]
}
set xtics 1
set mxtics 1
set grid xtics ytics
dodge(i) = nblocks > 1 ? 0.8 * (i - (nblocks - 1) / 2.0) / (nblocks - 1) : 0
if (errors > 0) {
    plot for [i=0:nblocks-1] file index i using ($1 + dodge(i)):2 with points pt (i%7)+4 ps 1.2 lc i+1, \
         for [i=0:nblocks-1] file index i using ($1 + dodge(i)):2:3 with yerrorbars pt (i%7)+4 ps 1.2 \
             lc i+1 notitle, \
         x with lines dt 2 lc rgb '#888888' title 'K = d'
} else {
    plot for [i=0:nblocks-1] file index i using ($1 + dodge(i)):2 with points pt (i%7)+4 ps 1.2 lc i+1, \
         x with lines dt 2 lc rgb '#888888' title 'K = d'
}
