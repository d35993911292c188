# active.gp: active latent units against epoch for SOSAE, Early-Bird, the VAE and Least
# Volume, with grid search's choice as a line. data/active.tsv: one block per strategy (epoch,
# active units: the mean over seeds), its first line the strategy's name; nblocks and gridk
# are passed in. Lines that coincide stay visible: each is drawn thinner than the one before,
# with its own dashes and markers, and the key sits outside the graph.
load 'common.gp'
set title sprintf("Active latent units per epoch%s", title_extra)
set xlabel 'epoch'
set ylabel 'active latent units (mean over seeds)'
set key outside right top autotitle columnheader font ',10'
file = data.'/active.tsv'
stats file using 1 nooutput
xmax = STATS_max
stats file using 2 nooutput
ymax = gridk > STATS_max ? gridk : STATS_max
# whole-number axes: ticks at whole steps only (no 8.5)
step(m) = m <= 12 ? 1 : m <= 30 ? 2 : m <= 60 ? 5 : m <= 150 ? 10 : m <= 300 ? 25 : 50
set xtics step(xmax)
set ytics step(ymax)
set xrange [0:xmax + 0.5]
# a little room below 0 and above the top, so that a line there is not hidden by the axis
set yrange [-0.04 * ymax - 0.5:1.06 * ymax + 0.5]
plot for [i=0:nblocks-1] file index i using 1:2 with linespoints \
         lc i+1 lw ((nblocks - i) * 1.2 + 0.8) pt (i%7)+4 ps 0.7 dt 1+i%5, \
     (gridk > 0 ? gridk : NaN) with lines dt 2 lw 2 lc rgb '#228833' \
         title (gridk > 0 ? sprintf('grid search chose %d', gridk) : '')
