/* plot.h: figures from the database alone: data exported from the views, drawn by the
 * gnuplot scripts in plots/ as PNG and SVG. */
#ifndef DS_PLOT_H
#define DS_PLOT_H

#include <signal.h>

#include "store.h"

/* Where gnuplot is on PATH (into path), or -1 with ds_errmsg() naming the package. */
int plot_find_gnuplot(char *path, int size);

/* Draw every figure that experiment's data allows into its own folder,
 * out_dir/EXPERIMENT/EXPERIMENT-FIGURE.png and .svg, with the data behind them in
 * out_dir/EXPERIMENT/data/. With group_figures, an experiment GROUP.NAME also draws the
 * figures over its whole group (known dimension, estimates, VAE against K_max, Early-Bird's
 * sweep) into out_dir/GROUP/ (outside a group, the known-dimension figure covers the
 * experiment alone). Nothing is written to out_dir unless every figure rendered, and nothing
 * is left behind when one fails or *stop is raised (Ctrl-C, SIGTERM). Returns the number of
 * figures, or -1 with ds_errmsg(). */
int plot_render(struct store *s, const char *experiment, const char *scripts_dir,
		const char *out_dir, const char *gnuplot, int group_figures,
		const volatile sig_atomic_t *stop);

#endif
