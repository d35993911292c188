/* earlybird.h: Early-Bird tickets and network slimming on an autoencoder (Klazinga 2022,
 * after You et al. 2020 and Liu et al. 2017): the rules, exposed for tests. */
#ifndef DS_EARLYBIRD_H
#define DS_EARLYBIRD_H

#include "../search/strategy.h"

#define EB_MAX_RATIOS 8

struct eb_settings {
	double lambda[EB_MAX_RATIOS];  /* L1 weights on the code layer's scales (a sweep) ... */
	int n_lambda;
	double lambda_hidden[EB_MAX_RATIOS]; /* ... and on the hidden layers' */
	int n_lambda_hidden;
	double lambda_conv;            /* ... and on a convolutional model's 2-D batch norms' */
	double weight_decay;           /* decoupled weight decay on the weight matrices */
	double keep[EB_MAX_RATIOS];    /* fractions of all scales a mask keeps */
	int n_keep;
	int draws;                     /* masks drawn per epoch */
	double layer_min;              /* no mask keeps less than this fraction of a layer */
	double eps;                    /* ticket: distance to each of the 4 older masks */
	struct run_budget run;         /* the search run's lr, batch, epochs (0: the
					* experiment's) */
	int delivery;                  /* EB_DELIVER_TICKET or EB_DELIVER_FRESH */
	int bn;                        /* EB_BN_ALL, EB_BN_ENCODER or EB_BN_CODE */
	int l1;                        /* EB_L1_DECOUPLED or EB_L1_ADAM */
	int stable;                    /* epochs the count must hold at the end */
};

enum { EB_DELIVER_TICKET, EB_DELIVER_FRESH };
enum { EB_BN_ALL, EB_BN_ENCODER, EB_BN_CODE };
enum { EB_L1_DECOUPLED, EB_L1_ADAM };

extern const struct settings eb_settings;
extern const struct strategy earlybird_strategy;

#define EB_WINDOW 5            /* masks kept */
#define EB_FREEZE 1e-4         /* |gamma| below this is set to 0 and frozen */
#define EB_ALIVE 2e-4          /* a unit counts when |gamma| is above this ... */
#define EB_PHI 0.01            /* ... and Phi(beta / |gamma|) above this */

/* The decoupled L1 step on n scales: gamma moves towards 0 by step (lambda * lr) and stops at
 * 0 rather than crossing it (the proximal step of lambda |gamma|, applied after Adam's
 * update and apart from it, as AdamW applies weight decay). */
void eb_shrink(float *gamma, int n, double step);

/* One step's work on the scales of every batch-norm layer of m, after Adam's update:
 * eb_shrink by lambda * lr on the code layer and lambda_hidden * lr on the other dense
 * layers, then the freeze: a scale under EB_FREEZE is set to 0 with its Adam moments, and its
 * unit marked in frozen (flags of the dense layers' units, at bn_unit), for good. The
 * convolutional layers' scales shrink by lambda_conv * lr and are not frozen (no mask covers
 * channels). Returns the FLOPs it took. */
uint64_t eb_scales_step(struct ae *m, double lambda, double lambda_hidden, double lambda_conv,
			double lr, unsigned char *frozen);

/* The mask of the scales (|gamma| of every batch-norm layer, layer after layer: sizes[i]
 * units in layer i) that keeps the fraction `keep` of them by one global ordering: unit j is
 * kept when |gamma_j| >= the value at position floor(n (1 - keep)) of all |gamma| ascending,
 * where the units at or above each layer's own value at position
 * min(size - 1, round(size (1 - layer_min))) count as infinite, so that no layer loses them
 * (at least its largest). Returns 0, or -1 when out of memory. */
int eb_mask(const float *abs_gamma, const int *sizes, int n_layers, double keep,
	    double layer_min, unsigned char *mask);
/* Normalised Hamming distance: the fraction of positions where a and b differ. */
double eb_distance(const unsigned char *a, const unsigned char *b, int n);

struct eb_window {
	int n;                  /* units per mask */
	int count;              /* masks pushed so far */
	unsigned char *masks;   /* EB_WINDOW masks of n: the newest at (count - 1) % EB_WINDOW */
};

/* A window for masks of n units: 0, or -1 when out of memory. */
int eb_window_init(struct eb_window *w, int n);
void eb_window_free(struct eb_window *w);
/* Push the newest mask; *max_distance gets its largest distance to the older masks in the
 * window (NaN until the window is full). Returns 1 when the window is full and that
 * distance is at most eps: an Early-Bird ticket. */
int eb_window_push(struct eb_window *w, const unsigned char *mask, double eps,
		   double *max_distance);

/* Whether a unit is alive: |gamma| > EB_ALIVE and Phi(beta / |gamma|) > EB_PHI (after a
 * ReLU, it is not silent). */
int eb_alive(float gamma, float beta);
/* Units alive of the K with these scales and shifts. */
int eb_active(const float *gamma, const float *beta, int K);

#endif
