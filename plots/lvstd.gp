# lvstd.gp: Least Volume's units at the end of training, each seed's units sorted by their
# standard deviation on the validation split (log scale; below 1e-6 drawn at 1e-6), the
# units dynamic pruning froze marked, and the width chosen (the mean over seeds).
# data/lvstd.tsv: rank, std, frozen (0/1), seed, unit, chosen K; seeds and kchosen passed in.
load 'common.gp'
if (!exists('seeds')) seeds = 1
if (!exists('kchosen')) kchosen = 0
set termoption enhanced
set title sprintf("Least Volume: the code's per-unit std%s\n{/*0.85 %d seed%s, units sorted by std within each}", title_extra, seeds, seeds > 1 ? 's' : '')
set xlabel 'unit rank by std'
set ylabel 'std over the validation split (log scale)'
set logscale y
set format y '10^{%L}'
set key bottom left
atleast(v) = v > 1e-6 ? v : 1e-6
set arrow from kchosen + 0.5, graph 0 to kchosen + 0.5, graph 1 nohead dt 2 lw 2 lc rgb '#228833'
set label sprintf('K = %.3g', kchosen) at kchosen + 0.5, graph 0.92 offset 1,0 tc rgb '#228833'
file = data.'/lvstd.tsv'
plot file using 1:($3 == 0 ? atleast($2) : 1/0) with points pt 7 ps 0.8 lc rgb '#4477aa' title 'alive', \
     '' using 1:($3 == 1 ? atleast($2) : 1/0) with points pt 2 ps 1.0 lc rgb '#ee6677' title 'frozen by dynamic pruning'
