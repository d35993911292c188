# vaelaw.gp: the VAE's latent units at the end of training, each seed's units sorted by
# Var(mu) (rank 1: the largest): Var_x(mu_k), E_x[sigma_k^2] and their sum, which Asperti's
# variance law puts near 1 for every unit, with the activity threshold Var(mu) = 0.05 (log
# scale; values below 1e-5 drawn at 1e-5). data/vaelaw.tsv: rank, Var(mu), E[sigma^2], sum,
# seed, unit; threshold, seeds and kmax are passed in.
load 'common.gp'
if (!exists('threshold')) threshold = 0.05
if (!exists('seeds')) seeds = 1
if (!exists('kmax')) kmax = 16
set termoption enhanced
set title sprintf("VAE units by Var(mu): the variance law%s\n{/*0.85 %d seed%s, units sorted by Var(mu) within each}", title_extra, seeds, seeds > 1 ? 's' : '')
set xlabel 'unit rank by Var(mu)'
set ylabel 'variance (log scale)'
set logscale y
set yrange [1e-5:3]
set format y '10^{%L}'
set xrange [0.5:kmax+0.5]
set key bottom left
atleast(v) = v > 1e-5 ? v : 1e-5
file = data.'/vaelaw.tsv'
plot file using 1:(atleast($2)) with points pt 7 ps 0.8 lc rgb '#4477aa' title 'Var(mu_k)', \
     '' using 1:(atleast($3)) with points pt 5 ps 0.7 lc rgb '#ee6677' title 'E[sigma_k^2]', \
     '' using 1:4 with points pt 9 ps 0.8 lc rgb '#228833' title 'Var(mu_k) + E[sigma_k^2]', \
     threshold with lines dt 2 lw 2 lc rgb '#555555' title sprintf('active: Var(mu) >= %g', threshold), \
     1 with lines dt 3 lw 1 lc rgb '#228833' notitle
