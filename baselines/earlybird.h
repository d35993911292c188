/* earlybird.h: Early-Bird tickets on the latent layer (Klazinga 2022, after You et al. 2020):
 * the rules, exposed for tests. */
#ifndef DS_EARLYBIRD_H
#define DS_EARLYBIRD_H

#include "../search/strategy.h"

struct eb_settings {
	double lambda;                 /* L1 subgradient weight on the scales */
	double p;                      /* mask quantile */
	double eps;                    /* ticket: distance to each of the 4 older masks */
};

extern const struct settings eb_settings;
extern const struct strategy earlybird_strategy;

#define EB_WINDOW 5            /* masks kept */
#define EB_FREEZE 1e-4         /* |gamma| below this is set to 0 and frozen */
#define EB_ALIVE 2e-4          /* a unit counts when |gamma| is above this ... */
#define EB_PHI 0.01            /* ... and Phi(beta / |gamma|) above this */

/* mask[j] = |gamma_j| above the p-quantile of all |gamma| (linear interpolation). */
void eb_mask(const float *gamma, int K, double p, unsigned char *mask);
/* Normalised Hamming distance: the fraction of positions where a and b differ. */
double eb_distance(const unsigned char *a, const unsigned char *b, int K);

struct eb_window {
	int K;
	int count;                          /* masks pushed so far */
	unsigned char masks[EB_WINDOW][4096]; /* the last EB_WINDOW, newest at (count-1) % 5 */
};

/* Push the newest mask; *max_distance gets its largest distance to the older masks in the
 * window (NaN until the window is full). Returns 1 when the window is full and that
 * distance is at most eps: an Early-Bird ticket. */
int eb_window_push(struct eb_window *w, const unsigned char *mask, double eps,
		   double *max_distance);

/* Units alive: |gamma_j| > EB_ALIVE and Phi(beta_j / |gamma_j|) > EB_PHI. */
int eb_active(const float *gamma, const float *beta, int K);

#endif
