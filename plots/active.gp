# active.gp: active latent units against epoch for SOSAE, Early-Bird and the VAE, with grid
# search's choice as a line. data/active.tsv: one block per strategy (epoch, active units:
# the mean over seeds), its first line the strategy's name; nblocks and gridk are passed in.
load 'common.gp'
set title sprintf("Active latent units during training%s", title_extra)
set xlabel 'epoch'
set ylabel 'active latent units (mean over seeds)'
set yrange [0:*]
set key autotitle columnheader bottom left
plot for [i=0:nblocks-1] data.'/active.tsv' index i using 1:2 with linespoints pt 7 ps 0.5 lw 1.5, \
     (gridk > 0 ? gridk : NaN) with lines dt 2 lw 2 lc rgb '#228833' \
         title (gridk > 0 ? sprintf('grid search chose %d', gridk) : '')
