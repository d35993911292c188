/* sosae.h: the Self-Organizing Sparse AutoEncoder strategy (Modi et al. 2025), exposed for
 * tests: the positional penalty and the active size. */
#ifndef DS_SOSAE_H
#define DS_SOSAE_H

#include <stdint.h>

#include "strategy.h"

#define SOSAE_MAX_WEIGHT 1e30   /* positional weights are capped here, against overflow */
#define SOSAE_MAX_VARIANTS 16   /* values of each knob in one sweep */

enum { SOSAE_WEIGHT_EXP, SOSAE_WEIGHT_LINEAR };

struct sosae_settings {
	double alpha[SOSAE_MAX_VARIANTS];    /* one run per (alpha, lambda, finetune) and seed */
	int n_alpha;
	double lambda[SOSAE_MAX_VARIANTS];
	int n_lambda;
	int weight;                          /* SOSAE_WEIGHT_EXP or SOSAE_WEIGHT_LINEAR */
	double l1;                           /* plain L1 weight on every unit */
	double tau;                          /* a unit is active when max |h_k| > tau */
	int patience;                        /* stop when K* is unchanged this many epochs */
	int finetune[SOSAE_MAX_VARIANTS];    /* epochs at K* after the cut (delivery) */
	int n_finetune;
};

extern const struct settings sosae_settings;
extern const struct strategy sosae_strategy, sosae_tuned_strategy;

/* w_k for k = 1..K into w[0..K-1]: exp: (1 + alpha)^(k-1), linear: 1 + alpha (k-1); each
 * capped at SOSAE_MAX_WEIGHT. Returns how many were capped. */
int sosae_weights(int form, double alpha, int K, double *w);

/* K* = the largest k (1-based) with max_abs[k-1] > tau; 0 when no unit is active. */
int sosae_active_size(const double *max_abs, int K, double tau);

/* The penalty of one batch: P = sum_rows sum_k (lambda w_k + l1) |h_k|; adds
 * scale * dP/dh to dh and returns P. When seen_max is not NULL it is raised to the largest
 * |h_k| of these rows. */
double sosae_penalty(const double *w, double lambda, double l1, int rows, int K, const float *h,
		     float *dh, float scale, double *seen_max, uint64_t *elementwise);

#endif
