# irmae.gp: IRMAE's singular values of the validation codes' covariance, normalised by the
# largest, each seed's (log scale; below 1e-12 drawn at 1e-12), with the rank chosen (the
# mean over seeds). data/irmae.tsv: rank, normalised singular value, seed, chosen K; seeds
# and kchosen passed in.
load 'common.gp'
if (!exists('seeds')) seeds = 1
if (!exists('kchosen')) kchosen = 0
set termoption enhanced
set title sprintf("IRMAE: singular values of the code's covariance%s\n{/*0.85 %d seed%s, normalised by the largest}", title_extra, seeds, seeds > 1 ? 's' : '')
set xlabel 'singular value rank'
set ylabel 'singular value / largest (log scale)'
set logscale y
set format y '10^{%L}'
set key bottom left
atleast(v) = v > 1e-12 ? v : 1e-12
set arrow from kchosen + 0.5, graph 0 to kchosen + 0.5, graph 1 nohead dt 2 lw 2 lc rgb '#228833'
set label sprintf('r = %.3g', kchosen) at kchosen + 0.5, graph 0.92 offset 1,0 tc rgb '#228833'
plot data.'/irmae.tsv' using 1:(atleast($2)) with points pt 7 ps 0.7 lc rgb '#4477aa' title 'normalised singular values'
