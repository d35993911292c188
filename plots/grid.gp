# grid.gp: grid search's validation and test MSE against K, with each strategy's choice marked.
# data/grid.tsv: K, validation MSE, test MSE; data/chosen.tsv: strategy, chosen K
load 'common.gp'
set title sprintf("Grid search: reconstruction error against latent width%s", title_extra)
set xlabel 'latent width K'
set ylabel 'MSE per element'
set logscale y
set key right center
plot data.'/grid.tsv' using 1:2 with linespoints pt 7 ps 0.6 lc rgb '#4477aa' title 'validation MSE', \
     '' using 1:3 with linespoints pt 5 ps 0.6 lc rgb '#ee6677' title 'test MSE', \
     data.'/chosen.tsv' using 2:(ymark) with impulses lw 2 lc rgb '#228833' title 'K chosen by a strategy', \
     '' using 2:(ymark):1 with labels rotate by 90 left offset 0,0.5 font ',10' notitle
