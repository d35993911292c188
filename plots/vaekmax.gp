# vaekmax.gp: the VAE's active units (Asperti's count, Var(mu) >= 0.05) against K_max, one
# line per data set: the mean over seeds, with several seeds its 95% t-interval, and the
# line K = k_max where every unit is active (saturated), both axes log 2. data/vaekmax.tsv: one block per
# data set (K_max, mean count, half-width or NaN, fewest, most, seeds), its first line the
# data set's name; nblocks, kmaxtop and errors are passed in.
load 'common.gp'
if (!exists('errors')) errors = 0  # drawn by hand: no error bars unless asked for
set title sprintf("VAE active units against k\\_max%s", title_extra)
set xlabel 'k\_max (log scale)'
set ylabel 'active units, Var(mu) >= 0.05 (log scale)'
set logscale xy 2
set xrange [kmaxtop/16.0:kmaxtop*1.4]
set yrange [2:kmaxtop*1.4]
set key top left autotitle columnheader
file = data.'/vaekmax.tsv'
if (errors > 0) {
    plot for [i=0:nblocks-1] file index i using 1:2 with linespoints pt (i%7)+5 ps 1.2 lw 1.5 lc i+1, \
         for [i=0:nblocks-1] file index i using 1:2:3 with yerrorbars pt (i%7)+5 ps 1.2 lc i+1 notitle, \
         x with lines dt 2 lc rgb '#888888' title 'K = k\_max (saturated)'
} else {
    plot for [i=0:nblocks-1] file index i using 1:2 with linespoints pt (i%7)+5 ps 1.2 lw 1.5 lc i+1, \
         x with lines dt 2 lc rgb '#888888' title 'K = k\_max (saturated)'
}
