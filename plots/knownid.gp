# knownid.gp: estimated or chosen dimension against the true dimension, per strategy and
# estimator, with the diagonal: the mean K over seeds, and with several seeds its 95%
# t-interval as an error bar. data/knownid.tsv: one block per strategy (true d, mean K,
# half-width or NaN), its first line the strategy's name; nblocks, dmax and errors (rows with
# an interval) are passed in.
load 'common.gp'
if (!exists('errors')) errors = 0  # drawn by hand: no error bars unless asked for
set title sprintf("Chosen latent size against true intrinsic dimension%s", title_extra)
set xlabel 'true intrinsic dimension'
set ylabel 'chosen K'
set key top left autotitle columnheader
set xrange [0:dmax*1.1]
set yrange [0:*]
file = data.'/knownid.tsv'
if (errors > 0) {
    plot for [i=0:nblocks-1] file index i using 1:2 with points pt (i%7)+4 ps 1.3 lc i+1, \
         for [i=0:nblocks-1] file index i using 1:2:3 with yerrorbars pt (i%7)+4 ps 1.3 \
             lc i+1 notitle, \
         x with lines dt 2 lc rgb '#888888' title 'K = d'
} else {
    plot for [i=0:nblocks-1] file index i using 1:2 with points pt (i%7)+4 ps 1.3 lc i+1, \
         x with lines dt 2 lc rgb '#888888' title 'K = d'
}
