/* irmae.h: the Implicit Rank-Minimizing Autoencoder (Jing, Zbontar and LeCun 2020), a
 * single-run peer of SOSAE; its spectrum and fold, exposed for tests. */
#ifndef DS_IRMAE_H
#define DS_IRMAE_H

#include "../search/strategy.h"

struct irmae_settings {
	int layers;      /* l: K x K layers without activation between the encoder and the code */
	struct run_budget run; /* the training's lr, batch, epochs (0: the experiment's) */
};

extern const struct settings irmae_settings;
extern const struct strategy irmae_strategy;

/* The covariance of n codes (n, K) (unbiased, as numpy's cov): its mean into mean (K), its
 * eigenvalues descending into val (K) and the unit eigenvector of val[j] into row j of vec
 * (K, K). FLOPs (centring, covariance, eigenvectors) into *flops. 0, or -1 with
 * ds_errmsg(). */
int irmae_spectrum(const float *codes, size_t n, int K, double *mean, double *vec, double *val,
		   uint64_t *flops);

/* A plain autoencoder of width r whose code j is the projection of m's code on direction
 * vec[j] (rows of vec, K of them), around mean: m's linear layers and the projection folded
 * into the encoder's last layer, and the reconstruction from mean + sum_j code_j vec[j] into
 * the decoder's first, in double. Decoding the first r of the K-wide fold (the rest zero) is
 * decoding the rank-r projection of m's code. m's code must be linear (IRMAE's). Adam's state
 * starts afresh. NULL with ds_errmsg() on failure. */
struct ae *irmae_fold(const struct ae *m, const double *mean, const double *vec, int r);

#endif
