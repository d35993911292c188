/* idest.c: nearest neighbours by blocked GEMM, and the three estimators on them. */
#include "idest.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

/* LAPACK (shipped inside OpenBLAS): eigenvalues of a symmetric matrix */
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
	    double *w, double *work, const int *lwork, int *info);

#define KNN_BLOCK 256

void knn_free(struct knn *nn)
{
	free(nn->index);
	free(nn->dist);
	memset(nn, 0, sizeof(*nn));
}

/* out (n, D) = x minus its column means, in double */
static void center_columns(const float *x, size_t n, int D, double *out)
{
	for (int j = 0; j < D; j++) {
		double mean = 0;
		for (size_t i = 0; i < n; i++)
			mean += x[i * D + j];
		mean /= (double)n;
		for (size_t i = 0; i < n; i++)
			out[i * D + j] = x[i * D + j] - mean;
	}
}

/* keep the k smallest (d2, j) in ascending order; *count grows up to k */
static void insert(double *d2, int *idx, int *count, int k, double v, int j)
{
	if (*count == k && v >= d2[k - 1])
		return;
	int pos = *count < k ? (*count)++ : k - 1;
	while (pos > 0 && d2[pos - 1] > v) {
		d2[pos] = d2[pos - 1];
		idx[pos] = idx[pos - 1];
		pos--;
	}
	d2[pos] = v;
	idx[pos] = j;
}

int knn_search(const float *x, size_t n, int D, int k, int threads, struct knn *out,
	       uint64_t *flops)
{
	memset(out, 0, sizeof(*out));
	if (k < 1 || (size_t)k >= n)
		return ds_fail("%d neighbours need more than %d points (have %zu)", k, k, n);
	double *c = malloc(sizeof(double) * n * D), *norm = malloc(sizeof(double) * n);
	out->index = malloc(sizeof(int) * n * k);
	out->dist = malloc(sizeof(double) * n * k);
	if (!c || !norm || !out->index || !out->dist) {
		free(c);
		free(norm);
		knn_free(out);
		return ds_fail("out of memory for the neighbours of %zu points", n);
	}
	out->n = n;
	out->k = k;
	/* centre first: smaller norms, less cancellation in |a|^2 + |b|^2 - 2 a.b */
	center_columns(x, n, D, c);
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < D; j++)
			s += c[i * D + j] * c[i * D + j];
		norm[i] = s;
	}
	size_t n_blocks = (n + KNN_BLOCK - 1) / KNN_BLOCK;
	int failed = 0;
#pragma omp parallel num_threads(threads < 1 ? 1 : threads)
	{
		double *g = malloc(sizeof(double) * KNN_BLOCK * n);
		if (!g) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(dynamic, 1)
		for (size_t b = 0; b < n_blocks; b++) {
			if (!g)
				continue;
			size_t first = b * KNN_BLOCK;
			int rows = (int)(n - first < KNN_BLOCK ? n - first : KNN_BLOCK);
			cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, (int)n, D, 1.0,
				    c + first * D, D, c, D, 0.0, g, (int)n);
			for (int r = 0; r < rows; r++) {
				size_t i = first + r;
				double *d2 = out->dist + i * k;
				int *idx = out->index + i * k, count = 0;
				const double *gr = g + (size_t)r * n;
				for (size_t j = 0; j < n; j++) {
					if (j == i)
						continue;
					double v = norm[i] + norm[j] - 2.0 * gr[j];
					insert(d2, idx, &count, k, v < 0 ? 0 : v, (int)j);
				}
				for (int q = 0; q < k; q++)
					d2[q] = sqrt(d2[q]);
			}
		}
		free(g);
	}
	free(c);
	free(norm);
	if (failed) {
		knn_free(out);
		return ds_fail("out of memory for distance blocks");
	}
	*flops += 4ull * n * D + 2ull * n * n * D + 4ull * n * n + (uint64_t)n * k;
	return 0;
}

/* ---- local PCA ---- */

/* Eigenvalues of the symmetric m x m matrix a (upper part used), ascending into w. */
static int eigenvalues(double *a, int m, double *w)
{
	int lwork = -1, info = 0;
	double query;
	dsyev_("N", "U", &m, a, &m, w, &query, &lwork, &info);
	lwork = (int)query;
	double *work = malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
	if (!work)
		return -1;
	dsyev_("N", "U", &m, a, &m, w, work, &lwork, &info);
	free(work);
	return info == 0 ? 0 : -1;
}

/* Fukunaga-Olsen on k points y (k, D), already centred: eigenvalues above alpha times the
 * largest, through the smaller of the D x D covariance and the k x k Gram matrix. */
static int fo_count(const double *y, int k, int D, double alpha, double *a, double *w,
		    uint64_t *flops)
{
	int m = D <= k ? D : k;
	if (D <= k)
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, D, k, 1.0, y, D, 0.0, a, D);
	else
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, k, D, 1.0, y, D, 0.0, a, k);
	/* SYRK filled one triangle; mirror it so that either reading of the storage is whole */
	for (int i = 0; i < m; i++)
		for (int j = 0; j < i; j++)
			a[(size_t)i * m + j] = a[(size_t)j * m + i];
	*flops += (uint64_t)(D <= k ? k : D) * m * (m + 1) + 4ull * m * m * m / 3;
	if (eigenvalues(a, m, w))
		return -1;
	double top = w[m - 1];
	int count = 0;
	for (int i = 0; i < m; i++)
		count += w[i] > alpha * top;
	return top > 0 ? count : 0;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int id_lpca(const float *x, size_t n, int D, const struct knn *nn, int k, double alpha,
	    int threads, struct lpca_result *r, uint64_t *flops)
{
	if (k > nn->k)
		return ds_fail("local PCA wants %d neighbours, the search found %d", k, nn->k);
	double *local = malloc(sizeof(double) * n);
	if (!local)
		return ds_fail("out of memory for local PCA");
	int m = D <= k ? D : k, failed = 0;
	uint64_t work = 0;
#pragma omp parallel num_threads(threads < 1 ? 1 : threads) reduction(+ : work)
	{
		double *y = malloc(sizeof(double) * (size_t)k * D);
		double *a = malloc(sizeof(double) * (size_t)m * m), *w = malloc(sizeof(double) * m);
		if (!y || !a || !w) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(dynamic, 16)
		for (size_t i = 0; i < n; i++) {
			if (!y || !a || !w)
				continue;
			const int *idx = nn->index + i * nn->k;
			for (int j = 0; j < D; j++) {
				double mean = 0;
				for (int q = 0; q < k; q++)
					mean += x[(size_t)idx[q] * D + j];
				mean /= k;
				for (int q = 0; q < k; q++)
					y[(size_t)q * D + j] = x[(size_t)idx[q] * D + j] - mean;
			}
			work += 2ull * k * D;
			int c = fo_count(y, k, D, alpha, a, w, &work);
			if (c < 0) {
#pragma omp atomic write
				failed = 1;
			}
			local[i] = c;
		}
		free(y);
		free(a);
		free(w);
	}
	if (failed) {
		free(local);
		return ds_fail("local PCA failed (out of memory or LAPACK error)");
	}
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += local[i];
	r->mean = sum / (double)n;
	qsort(local, n, sizeof(double), compare_double);
	r->median = n % 2 ? local[n / 2] : 0.5 * (local[n / 2 - 1] + local[n / 2]);
	free(local);
	/* global Fukunaga-Olsen on all points */
	size_t cap = n > (size_t)D ? (size_t)D : n;
	double *y = malloc(sizeof(double) * n * D), *a = malloc(sizeof(double) * cap * cap);
	double *w = malloc(sizeof(double) * cap);
	if (!y || !a || !w) {
		free(y);
		free(a);
		free(w);
		return ds_fail("out of memory for global PCA");
	}
	center_columns(x, n, D, y);
	work += 2ull * n * D;
	int g = fo_count(y, (int)n, D, alpha, a, w, &work);
	free(y);
	free(a);
	free(w);
	if (g < 0)
		return ds_fail("global PCA failed (LAPACK error)");
	r->global = g;
	*flops += work;
	return 0;
}

/* ---- MLE ---- */

double id_mle(const struct knn *nn, int k, uint64_t *flops)
{
	if (k < 2 || k > nn->k) {
		ds_fail("MLE needs 2 <= k <= %d (got %d)", nn->k, k);
		return NAN;
	}
	double inverse_sum = 0;
	for (size_t i = 0; i < nn->n; i++) {
		const double *t = nn->dist + i * nn->k;
		double s = 0;
		for (int j = 0; j < k - 1; j++)
			s += log(t[k - 1] / t[j]);
		/* 1 / m_k(x) = s / (k - 1): averaging inverses is MacKay and Ghahramani's rule */
		inverse_sum += s / (k - 1);
	}
	*flops += (uint64_t)nn->n * (3ull * (k - 1) + 2);
	return (double)nn->n / inverse_sum;
}

/* ---- TwoNN ---- */

double id_twonn(const struct knn *nn, double discard, uint64_t *flops)
{
	if (nn->k < 2) {
		ds_fail("TwoNN needs two neighbours per point");
		return NAN;
	}
	size_t n = nn->n, kept = (size_t)((double)n * (1.0 - discard));
	double *mu = malloc(sizeof(double) * n);
	if (!mu) {
		ds_fail("out of memory for TwoNN");
		return NAN;
	}
	for (size_t i = 0; i < n; i++)
		mu[i] = nn->dist[i * nn->k + 1] / nn->dist[i * nn->k];
	qsort(mu, n, sizeof(double), compare_double);
	double sxy = 0, sxx = 0;
	for (size_t i = 0; i < kept; i++) {
		double xv = log(mu[i]), yv = -log(1.0 - (double)i / (double)n);
		sxy += xv * yv;
		sxx += xv * xv;
	}
	free(mu);
	*flops += 2ull * n + 8ull * kept;
	return sxy / sxx;
}

/* ---- one interface to every estimator ---- */

static const char *const estimator_names[ID_ESTIMATORS] = { "lpca", "mle", "twonn" };

void id_params_defaults(struct id_params *p)
{
	p->lpca_k = LPCA_DEFAULT_K;
	p->lpca_alpha = LPCA_DEFAULT_ALPHA;
	p->mle_k = MLE_DEFAULT_K;
	p->twonn_discard = TWONN_DEFAULT_DISCARD;
}

const char *id_estimator_name(enum id_estimator e)
{
	return e >= 0 && e < ID_ESTIMATORS ? estimator_names[e] : "unknown";
}

int id_estimator_parse(const char *name, enum id_estimator *e)
{
	for (int i = 0; i < ID_ESTIMATORS; i++)
		if (!strcmp(name, estimator_names[i])) {
			*e = (enum id_estimator)i;
			return 0;
		}
	return -1;
}

int id_neighbours(enum id_estimator e, const struct id_params *p)
{
	return e == ID_LPCA ? p->lpca_k : e == ID_MLE ? p->mle_k : 2;
}

double id_estimate(enum id_estimator e, const struct id_params *p, const float *x, size_t n,
		   int D, const struct knn *nn, int threads, struct lpca_result *lp,
		   uint64_t *flops)
{
	*lp = (struct lpca_result){ NAN, NAN, NAN };
	switch (e) {
	case ID_LPCA:
		if (id_lpca(x, n, D, nn, p->lpca_k, p->lpca_alpha, threads, lp, flops))
			return NAN;
		return lp->mean;
	case ID_MLE: return id_mle(nn, p->mle_k, flops);
	case ID_TWONN: return id_twonn(nn, p->twonn_discard, flops);
	case ID_ESTIMATORS: break;
	}
	ds_fail("unknown estimator");
	return NAN;
}
