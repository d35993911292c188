# grid.gp: grid search's validation and test MSE against K, with each strategy's choice marked
# by a line, named along the top axis. data/grid.tsv: K, validation MSE, test MSE;
# data/chosen.tsv: strategies (comma-separated, at most three named and "+N more"), chosen K;
# ymark (the highest validation MSE) is passed in.
height = 760
load 'common.gp'
# the title by hand, above the room the strategies' names take (gnuplot's own would be pushed
# off by their rotated labels)
set label 1 sprintf("Grid search's MSE against latent width K, and the K each strategy chose%s", title_extra) \
    at screen 0.5, screen 0.975 center
set xlabel 'latent width K'
# the widths' range set here (not autoscaled), so that the top axis linked to it never
# scales itself to one chosen width; a whole number at each tick on a short range
stats data.'/grid.tsv' using 1 nooutput
kmin = STATS_min
kmax = STATS_max
kspan = kmax > kmin ? kmax - kmin : 1
# a log axis over the data's own range, labelled at 1-2-5 of every decade (at 1, 1.2, 1.5,
# 2, 2.5, 3, 4, 5, 6, 8 within about one), so that the plateau where the strategies' choices
# differ reads, not at the powers of ten alone
stats data.'/grid.tsv' using 2:3 nooutput
lo = STATS_min_x < STATS_min_y ? STATS_min_x : STATS_min_y
hi = STATS_max_x > STATS_max_y ? STATS_max_x : STATS_max_y
set ylabel 'MSE per element (log scale)'
set logscale y
if (hi < 12 * lo) { eval log_tics_y_fine } else { eval log_tics_y }
set yrange [lo / (hi / lo) ** 0.06:hi * (hi / lo) ** 0.06]
set xrange [kmin - 0.03 * kspan:kmax + 0.03 * kspan]
if (kspan <= 20) { set xtics 1 }
set key at screen 0.5, screen 0.04 center horizontal maxrows 1 box
# room above the graph for the longest name of the chosen widths (labelmax characters at 45
# degrees, about 5 pixels each)
if (!exists('labelmax')) labelmax = 40
top = 0.93 - (labelmax * 5.0 * 0.71 + 12) / height
set tmargin at screen (top < 0.62 ? 0.62 : top > 0.86 ? 0.86 : top)
set bmargin at screen 0.15
set lmargin at screen 0.11
set rmargin at screen 0.86
# the strategies' names along the top, at the K they chose, out of the way of the curves
set x2tics rotate by 45 left font ',9' scale 0
set link x2
set grid xtics ytics mytics lc rgb '#dddddd', lc rgb '#eeeeee'
plot data.'/grid.tsv' using 1:2 with linespoints pt 7 ps 0.6 lc rgb '#4477aa' title 'validation MSE', \
     '' using 1:3 with linespoints pt 5 ps 0.6 lc rgb '#ee6677' title 'test MSE', \
     data.'/chosen.tsv' using 2:(ymark) with impulses lw 2 lc rgb '#228833' title 'K chosen (strategies named on top)', \
     '' using 2:(NaN):x2ticlabel(1) axes x2y1 notitle
