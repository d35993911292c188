/* idest.h: intrinsic-dimension estimators: local PCA (Fukunaga-Olsen), MLE (Levina-Bickel,
 * MacKay-Ghahramani aggregation) and TwoNN (Facco et al. 2017), on exact nearest neighbours.
 *
 * FLOPs: distances by GEMM (2*B*n*D per block of B rows) plus 4 per distance (norms, scale,
 * comparison); covariance by SYRK (k*m*(m+1) for an m x m matrix of k points); eigenvalues
 * by LAPACK's dsyev, counted as 4/3 m^3, the standard operation count of its tridiagonal
 * reduction (LAPACK reports none itself). */
#ifndef DS_IDEST_H
#define DS_IDEST_H

#include <stddef.h>
#include <stdint.h>

struct knn {
	size_t n;
	int k;
	int *index;        /* (n, k) neighbours of each point, nearest first, itself excluded */
	double *dist;      /* (n, k) their Euclidean distances */
};

/* The k nearest neighbours of every row of x (n, D); 0, or -1 with ds_errmsg() (k >= n,
 * out of memory). Threads split the rows; the result does not depend on them. */
int knn_search(const float *x, size_t n, int D, int k, int threads, struct knn *out,
	       uint64_t *flops);
void knn_free(struct knn *nn);

/* The largest n*n*D a neighbour search is allowed: about a minute on one core. */
#define KNN_MAX_WORK 2e12

struct lpca_result {
	double mean;       /* of the pointwise dimensions: the headline number */
	double median;
	double global;     /* Fukunaga-Olsen on the whole data set */
};

/* Local PCA: for each point, PCA of its k neighbours centred on their mean; the local
 * dimension is the number of eigenvalues above alpha times the largest. */
int id_lpca(const float *x, size_t n, int D, const struct knn *nn, int k, double alpha,
	    int threads, struct lpca_result *r, uint64_t *flops);
/* MLE with k neighbours (k <= nn->k): 1 / mean over points of 1 / m_k(x). */
double id_mle(const struct knn *nn, int k, uint64_t *flops);
/* TwoNN: mu = r2 / r1, the largest `discard` fraction dropped, slope through the origin of
 * -log(1 - i/N) against log mu_(i), i = 0 .. kept-1, as scikit-dimension fits it. */
double id_twonn(const struct knn *nn, double discard, uint64_t *flops);

/* ---- one interface to every estimator, for dimsearch id and the strategies ---- */

enum id_estimator { ID_LPCA, ID_MLE, ID_TWONN, ID_ESTIMATORS };

/* Their settings; the defaults are scikit-dimension's where it has the estimator. */
#define LPCA_DEFAULT_K 100
#define LPCA_DEFAULT_ALPHA 0.05
#define MLE_DEFAULT_K 20
#define TWONN_DEFAULT_DISCARD 0.1

struct id_params {
	int lpca_k;
	double lpca_alpha;
	int mle_k;
	double twonn_discard;
};

void id_params_defaults(struct id_params *p);
const char *id_estimator_name(enum id_estimator e);       /* "lpca", "mle", "twonn" */
int id_estimator_parse(const char *name, enum id_estimator *e);   /* 0, or -1 */
/* Neighbours the estimator reads from a knn search. */
int id_neighbours(enum id_estimator e, const struct id_params *p);

/* The estimate of e on the n rows of x (n, D) with their neighbours nn (at least
 * id_neighbours(e, p) of them); for local PCA also its median and global figures in *lp
 * (NaN for the others). NaN with ds_errmsg() on failure. */
double id_estimate(enum id_estimator e, const struct id_params *p, const float *x, size_t n,
		   int D, const struct knn *nn, int threads, struct lpca_result *lp,
		   uint64_t *flops);

#endif
