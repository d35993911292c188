# knownid.gp: estimated or chosen dimension against the true dimension, per strategy and
# estimator, with the diagonal. data/knownid.tsv: one block per strategy (true d, chosen K),
# its first line the strategy's name; nblocks and dmax are passed in.
load 'common.gp'
set title sprintf("Chosen latent size against true intrinsic dimension%s", title_extra)
set xlabel 'true intrinsic dimension'
set ylabel 'chosen K'
set key top left autotitle columnheader
set xrange [0:dmax*1.1]
set yrange [0:*]
plot for [i=0:nblocks-1] data.'/knownid.tsv' index i using 1:2 with points pt (i%7)+4 ps 1.3, \
     x with lines dt 2 lc rgb '#888888' title 'K = d'
