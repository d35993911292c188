/* leastvolume.h: Least Volume with dynamic pruning (Chen and Fuge, ICLR 2024), a single-run
 * peer of SOSAE; its penalty, pruning rule and folds, exposed for tests. */
#ifndef DS_LEASTVOLUME_H
#define DS_LEASTVOLUME_H

#include "../search/strategy.h"

enum lv_spectral {
	LV_SPECTRAL_OFF,
	LV_SPECTRAL_CAP, /* after each step, W / sigma when sigma > 1 (one power iteration) */
	LV_SPECTRAL_ON   /* W / sigma(W) in every pass, the gradient through sigma (spectral.h) */
};

struct lv_settings {
	double weight;   /* w: the volume penalty's weight */
	double eps;      /* added to each std before the log */
	double beta;     /* momentum of the moving averages */
	double r_t;      /* pruning starts once the averaged reconstruction loss is below this */
	double z_t;      /* ... and prunes the units whose averaged std is below this */
	int spectral;    /* the decoder's spectral normalisation: an enum lv_spectral */
	struct run_budget run; /* the training's lr, batch, epochs (0: the experiment's) */
};

extern const struct settings lv_settings;
extern const struct strategy leastvolume_strategy;

/* The volume penalty of one chunk h (rows, K): P = rows * w * exp(mean_i log(std_i + eps))
 * over the units not frozen (std unbiased, over the rows); adds scale * dP/dh to dh (when
 * not NULL) and each unit's sum and sum of squares over the rows to sum and sumsq (when not
 * NULL). Returns P (0 with fewer than 2 rows or no unit alive). */
double lv_penalty(double w, double eps, int rows, int K, const float *h,
		  const unsigned char *frozen, float *dh, float scale, double *sum, double *sumsq,
		  uint64_t *elementwise);

/* The dynamic pruning rule: once rec_avg < r_t, every unit not yet frozen whose averaged std
 * is below z_t is marked in newly (K); how many. Nothing when rec_avg >= r_t. */
int lv_prune_rule(double rec_avg, double r_t, const double *std_avg, double z_t,
		  const unsigned char *frozen, int K, unsigned char *newly);

/* Freeze code unit k of m at the constant c: c times the unit's column of the decoder's first
 * layer joins that layer's bias (summed in double), the column and its Adam moments are
 * zeroed and the unit's mask set to 0. The reconstruction of every input changes only by
 * rounding from m's with unit k held at c. */
void lv_freeze(struct ae *m, int k, double c);

/* A new plain model whose code is units order[0..r-1] of m, in that order; every other unit
 * k is taken to emit hold[k] (times its mask), folded into the decoder's first-layer bias.
 * Plain models (no VAE, no batch norm); NULL with ds_errmsg() on failure. */
struct ae *lv_cut(const struct ae *m, const int *order, int r, const float *hold);

/* One power-iteration step on W (out, in) with the persistent vectors u (out) and v (in);
 * returns the estimate of W's largest singular value, and when it is above 1 divides W by
 * it. FLOPs into *flops. */
double lv_spectral_step(float *W, int out, int in, double *u, double *v, uint64_t *flops);

#endif
