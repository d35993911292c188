/* idest.h: intrinsic-dimension estimators on exact nearest neighbours: local and global PCA,
 * MLE (Levina-Bickel, MacKay-Ghahramani aggregation), TwoNN (Facco et al. 2017), CorrInt
 * (Grassberger-Procaccia), MOM and TLE (Amsaleg et al.), MADA (Farahmand et al.), ESS
 * (Johnsson et al.), FisherS (Albergante, Bac et al.) and DANCo (Ceruti et al.), each with
 * scikit-dimension's defaults.
 *
 * FLOPs: distances by GEMM (2*B*n*D per block of B rows) plus 4 per distance (norms, scale,
 * comparison); covariance by SYRK (k*m*(m+1) for an m x m matrix of k points); eigenvalues
 * by LAPACK's dsyev, counted as 4/3 m^3, the standard operation count of its tridiagonal
 * reduction (LAPACK reports none itself), 9 m^3 when the eigenvectors are wanted too (Golub
 * and Van Loan's count for the symmetric QR algorithm). Each estimator's own convention is
 * beside it below and in README's "Intrinsic-dimension estimators". */
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
/* Global PCA: the smallest K whose leading eigenvalues of the covariance of x (n, D) hold at
 * least `variance` (0 < variance <= 1) of their sum. */
double id_pca(const float *x, size_t n, int D, double variance, uint64_t *flops);
/* MLE with k neighbours (k <= nn->k): 1 / mean over points of 1 / m_k(x). */
double id_mle(const struct knn *nn, int k, uint64_t *flops);
/* TwoNN: mu = r2 / r1, the largest `discard` fraction dropped, slope through the origin of
 * -log(1 - i/N) against log mu_(i), i = 0 .. kept-1, as scikit-dimension fits it. */
double id_twonn(const struct knn *nn, double discard, uint64_t *flops);

/* The estimators below return NaN with ds_errmsg() naming the estimator and the cause when
 * the input is degenerate (duplicate points, too few neighbours, no variance). Those on
 * neighbours read nn->n points, each with the first k of its neighbours (k <= nn->k), and
 * take coordinates from the rows of x (D columns) that nn->index names. */

/* CorrInt: log(C(r2) / C(r1)) / log(r2 / r1), C(r) the fraction of pairs closer than r, r1
 * and r2 the medians of the k1-th and k2-th neighbour distances; a second all-pairs pass
 * over x (n = nn->n rows) counts the pairs. */
double id_corrint(const float *x, int D, const struct knn *nn, int k1, int k2, int threads,
		  uint64_t *flops);
/* MOM: the mean over points of m1 / (T_k - m1), m1 the mean of T_1 .. T_k. */
double id_mom(const struct knn *nn, int k, uint64_t *flops);
/* TLE: the mean over points of the tight local estimator on its k neighbours, measurements
 * below epsilon dropped. */
double id_tle(const float *x, int D, const struct knn *nn, int k, double epsilon, int threads,
	      uint64_t *flops);
/* MADA: the mean over points of log 2 / log(T_k / T_floor(k/2)). */
double id_mada(const struct knn *nn, int k, uint64_t *flops);
/* ESS (version a, d = 1): per point, the simplex skewness of its k neighbours centred on
 * their mean (sum over pairs of |a||b| sin(a, b), over sum of |a||b|), turned into a
 * dimension by interpolating the uniform ball's expected value; the mean over points. */
double id_ess(const float *x, int D, const struct knn *nn, int k, int threads,
	      uint64_t *flops);
/* The expected simplex skewness of pairs in an m-ball: Gamma(m/2)^2 / (Gamma((m+1)/2)
 * Gamma((m-1)/2)), 0 for m = 1. */
double id_ess_reference(int m);
/* FisherS: x centred, its principal components with eigenvalues above the largest over
 * conditional_number kept and whitened, each point projected on the unit sphere; the mean
 * fraction of points inseparable from each by Fisher's linear discriminant at alpha = 0.6,
 * 0.62, .. 0.98 turned into a dimension, read at the alpha nearest 0.9 times the largest
 * alpha at which some point is inseparable. */
double id_fishers(const float *x, size_t n, int D, double conditional_number, int threads,
		  uint64_t *flops);
/* The dimension n of the uniform sphere in which a point is inseparable with probability p
 * at alpha: W(-w / (2 pi p^2 alpha^2 (1 - alpha^2))) / -w, w = log(1 - alpha^2), W the
 * principal branch of Lambert's function (the inverse of p = (1-alpha^2)^((n-1)/2) /
 * (alpha sqrt(2 pi n))). */
double id_fishers_dimension(double p, double alpha);
double id_lambert_w(double z);  /* z >= 0 */
/* DANCo: the dimension 1 .. max_dim whose seeded simulation (uniform points in the unit
 * ball, as many as nn->n) has the neighbour-distance and angle statistics nearest to the
 * data's in Kullback-Leibler divergence, refined to the minimum of a spline through the
 * divergences. nn holds k + 1 neighbours. max_dim 0: D. A d-ball's likelihood is maximised
 * over [0, k] as scikit-dimension does, or over [0, 2d + 5] as the R original does. */
enum danco_calibration { DANCO_SKDIM, DANCO_ORIGINAL };
double id_danco(const float *x, int D, const struct knn *nn, int k, int max_dim,
		enum danco_calibration calibration, uint64_t seed, int threads, uint64_t *flops);
/* DANCo's divergence of the neighbour-distance statistics, dcal over dhat, with k. */
double id_danco_kl_d(double dhat, double dcal, int k);

/* ---- one interface to every estimator, for dimsearch id and the strategies ---- */

enum id_estimator {
	ID_LPCA,
	ID_MLE,
	ID_TWONN,
	ID_PCA,
	ID_CORRINT,
	ID_MOM,
	ID_TLE,
	ID_MADA,
	ID_ESS,
	ID_FISHERS,
	ID_DANCO,
	ID_ESTIMATORS
};

enum lpca_fit { LPCA_POINTWISE, LPCA_GLOBAL };

/* Their settings; the defaults are scikit-dimension's where it has the estimator. */
#define LPCA_DEFAULT_K 100
#define LPCA_DEFAULT_ALPHA 0.05
#define MLE_DEFAULT_K 20
#define TWONN_DEFAULT_DISCARD 0.1
#define PCA_DEFAULT_VARIANCE 0.95
#define CORRINT_DEFAULT_K1 10
#define CORRINT_DEFAULT_K2 20
#define MOM_DEFAULT_K 100
#define TLE_DEFAULT_K 20
#define TLE_DEFAULT_EPSILON 0.0001
#define MADA_DEFAULT_K 20
#define ESS_DEFAULT_K 100
#define FISHERS_DEFAULT_CONDITIONAL_NUMBER 10
#define DANCO_DEFAULT_K 10

struct id_params {
	int lpca_k;
	double lpca_alpha;
	int lpca_fit;            /* enum lpca_fit: which figure is the estimate */
	int mle_k;
	double twonn_discard;
	double pca_variance;     /* fraction of the variance the leading components explain */
	int corrint_k1, corrint_k2;
	int mom_k;
	int tle_k;
	double tle_epsilon;
	int mada_k;
	int ess_k;
	double fishers_conditional_number;
	int danco_k;
	int danco_max_dim;       /* 0: the ambient dimension */
	int danco_calibration;   /* enum danco_calibration */
	uint64_t seed;           /* DANCo's simulations; the caller's seed, not a key */
};

void id_params_defaults(struct id_params *p);
const char *id_estimator_name(enum id_estimator e);       /* "lpca", "mle", ... */
int id_estimator_parse(const char *name, enum id_estimator *e);   /* 0, or -1 */
/* Neighbours the estimator reads from a knn search; 0 for those that read none. */
int id_neighbours(enum id_estimator e, const struct id_params *p);
/* The settings e reads, as "k=20" or "k1=10/k2=20", into buf: part of a trial's key. */
void id_setting_text(enum id_estimator e, const struct id_params *p, char *buf, size_t size);

/* The estimate of e on the n rows of x (n, D) with their neighbours nn (at least
 * id_neighbours(e, p) of them; NULL when that is 0); for local PCA also its mean, median
 * and global figures in *lp (NaN for the others). NaN with ds_errmsg() on failure. */
double id_estimate(enum id_estimator e, const struct id_params *p, const float *x, size_t n,
		   int D, const struct knn *nn, int threads, struct lpca_result *lp,
		   uint64_t *flops);

#endif
