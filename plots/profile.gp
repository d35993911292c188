# profile.gp: SOSAE's activity profile: mean and max |h_k| against latent index k at the end
# of training, with K* marked. data/profile.tsv: k, mean |h_k|, max |h_k|; kstar is passed in.
load 'common.gp'
set title sprintf("SOSAE: activity of each latent unit at the end of training, with K*%s", title_extra)
set xlabel 'latent index k'
set ylabel '|h_k| over the training set'
set key outside right top
stats data.'/profile.tsv' using 1 nooutput
kmax = STATS_max
step(m) = m <= 16 ? 1 : m <= 40 ? 2 : m <= 100 ? 5 : m <= 200 ? 10 : 25
set xtics step(kmax)
set xrange [0:kmax + 1]
# room below 0 and above the top, so that points there are not hidden by the axes
stats data.'/profile.tsv' using 3 nooutput
set yrange [-0.03 * STATS_max:1.06 * STATS_max]
set arrow from kstar, graph 0 to kstar, graph 1 nohead dt 2 lw 2 lc rgb '#228833'
set label sprintf('K* = %d', kstar) at kstar, graph 0.95 offset 1,0 tc rgb '#228833'
plot data.'/profile.tsv' using 1:2 with impulses lw 3 lc rgb '#4477aa' title 'mean |h_k|', \
     '' using 1:3 with points pt 6 ps 0.8 lc rgb '#ee6677' title 'max |h_k|'
