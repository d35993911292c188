/* idest.c: nearest neighbours and the all-pairs pass by blocked GEMM; local and global PCA,
 * MLE and TwoNN on them; the one interface to every estimator. */
#include "idest.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "idest_impl.h"

/* LAPACK (shipped inside OpenBLAS): eigenvalues of a symmetric matrix */
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
	    double *w, double *work, const int *lwork, int *info);

#define PAIR_BLOCK 256

void knn_free(struct knn *nn)
{
	free(nn->index);
	free(nn->dist);
	memset(nn, 0, sizeof(*nn));
}

void center_columns(const float *x, size_t n, int D, double *out)
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

int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int pair_pass(const double *c, size_t n, int D, int threads, pair_row_fn fn, void *ctx,
	      uint64_t *flops)
{
	size_t n_blocks = (n + PAIR_BLOCK - 1) / PAIR_BLOCK;
	int failed = 0;
#pragma omp parallel num_threads(threads < 1 ? 1 : threads)
	{
		double *g = malloc(sizeof(double) * PAIR_BLOCK * n);
		if (!g) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(dynamic, 1)
		for (size_t b = 0; b < n_blocks; b++) {
			if (!g)
				continue;
			size_t first = b * PAIR_BLOCK;
			int rows = (int)(n - first < PAIR_BLOCK ? n - first : PAIR_BLOCK);
			cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, (int)n, D, 1.0,
				    c + first * D, D, c, D, 0.0, g, (int)n);
			for (int r = 0; r < rows; r++)
				fn(ctx, first + r, g + (size_t)r * n);
		}
		free(g);
	}
	if (failed)
		return ds_fail("out of memory for distance blocks");
	*flops += 2ull * n * n * D;
	return 0;
}

/* ---- nearest neighbours ---- */

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

struct knn_pass {
	const double *norm;   /* (n) squared norms of the centred rows */
	struct knn *out;
};

static void knn_row(void *ctx, size_t i, const double *g)
{
	struct knn_pass *p = ctx;
	size_t n = p->out->n;
	int k = p->out->k, count = 0;
	double *d2 = p->out->dist + i * k;
	int *idx = p->out->index + i * k;
	for (size_t j = 0; j < n; j++) {
		if (j == i)
			continue;
		double v = p->norm[i] + p->norm[j] - 2.0 * g[j];
		insert(d2, idx, &count, k, v < 0 ? 0 : v, (int)j);
	}
	for (int q = 0; q < k; q++)
		d2[q] = sqrt(d2[q]);
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
	struct knn_pass pass = { norm, out };
	int rc = pair_pass(c, n, D, threads, knn_row, &pass, flops);
	free(c);
	free(norm);
	if (rc) {
		knn_free(out);
		return -1;
	}
	*flops += 4ull * n * D + 4ull * n * n + (uint64_t)n * k;
	return 0;
}

/* ---- local and global PCA ---- */

int symmetric_eigen(double *a, int m, double *w, int vectors)
{
	int lwork = -1, info = 0;
	double query;
	const char *jobz = vectors ? "V" : "N";
	dsyev_(jobz, "U", &m, a, &m, w, &query, &lwork, &info);
	lwork = (int)query;
	double *work = malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
	if (!work)
		return -1;
	dsyev_(jobz, "U", &m, a, &m, w, work, &lwork, &info);
	free(work);
	return info == 0 ? 0 : -1;
}

/* The eigenvalues (ascending into w, m of them) of the covariance of k centred points y
 * (k, D), through the smaller of the D x D covariance and the k x k Gram matrix: the same
 * non-zero eigenvalues. a holds m x m. */
static int spectrum(const double *y, int k, int D, double *a, double *w, uint64_t *flops)
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
	*flops += (uint64_t)(D <= k ? k : D) * m * (m + 1) + EIGENVALUE_FLOPS(m);
	return symmetric_eigen(a, m, w, 0);
}

/* Fukunaga-Olsen on k points y (k, D), already centred: eigenvalues above alpha times the
 * largest. */
static int fo_count(const double *y, int k, int D, double alpha, double *a, double *w,
		    uint64_t *flops)
{
	if (spectrum(y, k, D, a, w, flops))
		return -1;
	int m = D <= k ? D : k;
	double top = w[m - 1];
	int count = 0;
	for (int i = 0; i < m; i++)
		count += w[i] > alpha * top;
	return top > 0 ? count : 0;
}

/* All points centred (y, n x D) with room for their covariance (a, cap x cap) and its
 * eigenvalues (w, cap), cap = min(n, D): what global PCA needs. 0, or -1 out of memory. */
struct centred {
	double *y, *a, *w;
	size_t cap;
};

static int centred_new(struct centred *c, const float *x, size_t n, int D, uint64_t *flops)
{
	c->cap = n > (size_t)D ? (size_t)D : n;
	c->y = malloc(sizeof(double) * n * D);
	c->a = malloc(sizeof(double) * c->cap * c->cap);
	c->w = malloc(sizeof(double) * c->cap);
	if (!c->y || !c->a || !c->w) {
		free(c->y);
		free(c->a);
		free(c->w);
		return -1;
	}
	center_columns(x, n, D, c->y);
	*flops += 2ull * n * D;
	return 0;
}

static void centred_free(struct centred *c)
{
	free(c->y);
	free(c->a);
	free(c->w);
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
	struct centred c;
	if (centred_new(&c, x, n, D, &work))
		return ds_fail("out of memory for global PCA");
	int g = fo_count(c.y, (int)n, D, alpha, c.a, c.w, &work);
	centred_free(&c);
	if (g < 0)
		return ds_fail("global PCA failed (LAPACK error)");
	if (g == 0)
		return ds_fail("lpca: the data has no variance (every column is constant)");
	r->global = g;
	*flops += work;
	return 0;
}

double id_pca(const float *x, size_t n, int D, double variance, uint64_t *flops)
{
	if (n < 2) {
		ds_fail("pca needs at least 2 points (have %zu)", n);
		return NAN;
	}
	if (!(variance > 0 && variance <= 1)) {
		ds_fail("pca: the explained variance must be in (0, 1] (got %g)", variance);
		return NAN;
	}
	struct centred c;
	if (centred_new(&c, x, n, D, flops)) {
		ds_fail("pca: out of memory for %zu points in R^%d", n, D);
		return NAN;
	}
	double *w = c.w;
	int m = (int)c.cap, rc = spectrum(c.y, (int)n, D, c.a, w, flops);
	double total = 0, estimate = NAN;
	if (rc)
		ds_fail("pca: LAPACK's eigen-decomposition failed");
	/* rounding can leave the smallest eigenvalues slightly below zero: they explain nothing */
	for (int i = m - 1; !rc && i >= 0; i--) /* largest first, as the count below sums */
		total += w[i] > 0 ? w[i] : 0;
	if (!rc && !(total > 0))
		ds_fail("pca: the data has no variance (every column is constant)");
	else if (!rc) {
		/* the smallest K whose leading eigenvalues hold the fraction: scikit-dimension's
		 * lPCA(ver="ratio") */
		double sum = 0;
		int K = 0;
		while (K < m && sum < variance * total) {
			sum += w[m - 1 - K] > 0 ? w[m - 1 - K] : 0;
			K++;
		}
		estimate = K;
		*flops += 3ull * m;
	}
	centred_free(&c);
	return estimate;
}

/* ---- MLE ---- */

double id_mle(const struct knn *nn, int k, uint64_t *flops)
{
	if (k < 2 || k > nn->k) {
		ds_fail("mle needs 2 <= k <= %d neighbours (got %d)", nn->k, k);
		return NAN;
	}
	double inverse_sum = 0;
	for (size_t i = 0; i < nn->n; i++) {
		const double *t = nn->dist + i * nn->k;
		if (!(t[0] > 0)) {
			/* log(T_k / 0) would make the estimate 0 */
			ds_fail("mle: point %zu has a neighbour at distance 0 (duplicate points)",
				i);
			return NAN;
		}
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
		ds_fail("twonn needs two neighbours per point");
		return NAN;
	}
	size_t n = nn->n, kept = (size_t)((double)n * (1.0 - discard));
	double *mu = malloc(sizeof(double) * n);
	if (!mu) {
		ds_fail("out of memory for TwoNN");
		return NAN;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(nn->dist[i * nn->k] > 0)) {
			free(mu);
			ds_fail("twonn: point %zu has a neighbour at distance 0 (duplicate "
				"points)", i);
			return NAN;
		}
		mu[i] = nn->dist[i * nn->k + 1] / nn->dist[i * nn->k];
	}
	qsort(mu, n, sizeof(double), compare_double);
	double sxy = 0, sxx = 0;
	for (size_t i = 0; i < kept; i++) {
		double xv = log(mu[i]), yv = -log(1.0 - (double)i / (double)n);
		sxy += xv * yv;
		sxx += xv * xv;
	}
	free(mu);
	*flops += 2ull * n + 8ull * kept;
	if (!(sxx > 0)) {
		ds_fail("twonn: every point kept has its two nearest neighbours at one distance");
		return NAN;
	}
	return sxy / sxx;
}

/* ---- one interface to every estimator ---- */

static const char *const estimator_names[ID_ESTIMATORS] = {
	"lpca", "mle", "twonn", "pca", "corrint", "mom", "tle", "mada", "ess", "fishers", "danco"
};

void id_params_defaults(struct id_params *p)
{
	memset(p, 0, sizeof(*p));
	p->lpca_k = LPCA_DEFAULT_K;
	p->lpca_alpha = LPCA_DEFAULT_ALPHA;
	p->lpca_fit = LPCA_POINTWISE;
	p->mle_k = MLE_DEFAULT_K;
	p->twonn_discard = TWONN_DEFAULT_DISCARD;
	p->pca_variance = PCA_DEFAULT_VARIANCE;
	p->corrint_k1 = CORRINT_DEFAULT_K1;
	p->corrint_k2 = CORRINT_DEFAULT_K2;
	p->mom_k = MOM_DEFAULT_K;
	p->tle_k = TLE_DEFAULT_K;
	p->tle_epsilon = TLE_DEFAULT_EPSILON;
	p->mada_k = MADA_DEFAULT_K;
	p->ess_k = ESS_DEFAULT_K;
	p->fishers_conditional_number = FISHERS_DEFAULT_CONDITIONAL_NUMBER;
	p->danco_k = DANCO_DEFAULT_K;
	p->danco_max_dim = 0;
	p->danco_calibration = DANCO_SKDIM;
	p->seed = 1;
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
	switch (e) {
	case ID_LPCA: return p->lpca_k;
	case ID_MLE: return p->mle_k;
	case ID_TWONN: return 2;
	case ID_CORRINT: return p->corrint_k2;
	case ID_MOM: return p->mom_k;
	case ID_TLE: return p->tle_k;
	case ID_MADA: return p->mada_k;
	case ID_ESS: return p->ess_k;
	case ID_DANCO: return p->danco_k + 1; /* the (k+1)-th scales the nearest */
	case ID_PCA:
	case ID_FISHERS:
	case ID_ESTIMATORS: break;
	}
	return 0;
}

void id_setting_text(enum id_estimator e, const struct id_params *p, char *buf, size_t size)
{
	switch (e) {
	case ID_LPCA:
		/* the pointwise fit keeps the key it had before the global one existed */
		snprintf(buf, size, "k=%d/alpha=%g%s", p->lpca_k, p->lpca_alpha,
			 p->lpca_fit == LPCA_GLOBAL ? "/fit=global" : "");
		return;
	case ID_MLE: snprintf(buf, size, "k=%d", p->mle_k); return;
	case ID_TWONN: snprintf(buf, size, "discard=%g", p->twonn_discard); return;
	case ID_PCA: snprintf(buf, size, "variance=%g", p->pca_variance); return;
	case ID_CORRINT: snprintf(buf, size, "k1=%d/k2=%d", p->corrint_k1, p->corrint_k2); return;
	case ID_MOM: snprintf(buf, size, "k=%d", p->mom_k); return;
	case ID_TLE: snprintf(buf, size, "k=%d/epsilon=%g", p->tle_k, p->tle_epsilon); return;
	case ID_MADA: snprintf(buf, size, "k=%d", p->mada_k); return;
	case ID_ESS: snprintf(buf, size, "k=%d", p->ess_k); return;
	case ID_FISHERS: snprintf(buf, size, "cond=%g", p->fishers_conditional_number); return;
	case ID_DANCO:
		snprintf(buf, size, "k=%d/D=%d%s", p->danco_k, p->danco_max_dim,
			 p->danco_calibration == DANCO_ORIGINAL ? "/cal=original" : "");
		return;
	case ID_ESTIMATORS: break;
	}
	snprintf(buf, size, "unknown");
}

double id_estimate(enum id_estimator e, const struct id_params *p, const float *x, size_t n,
		   int D, const struct knn *nn, int threads, struct lpca_result *lp,
		   uint64_t *flops)
{
	*lp = (struct lpca_result){ NAN, NAN, NAN };
	if (id_neighbours(e, p) > 0 && (!nn || nn->n != n)) {
		ds_fail("%s: no neighbours of the %zu points were given", id_estimator_name(e), n);
		return NAN;
	}
	switch (e) {
	case ID_LPCA:
		if (id_lpca(x, n, D, nn, p->lpca_k, p->lpca_alpha, threads, lp, flops))
			return NAN;
		return p->lpca_fit == LPCA_GLOBAL ? lp->global : lp->mean;
	case ID_MLE: return id_mle(nn, p->mle_k, flops);
	case ID_TWONN: return id_twonn(nn, p->twonn_discard, flops);
	case ID_PCA: return id_pca(x, n, D, p->pca_variance, flops);
	case ID_CORRINT:
		return id_corrint(x, D, nn, p->corrint_k1, p->corrint_k2, threads, flops);
	case ID_MOM: return id_mom(nn, p->mom_k, flops);
	case ID_TLE: return id_tle(x, D, nn, p->tle_k, p->tle_epsilon, threads, flops);
	case ID_MADA: return id_mada(nn, p->mada_k, flops);
	case ID_ESS: return id_ess(x, D, nn, p->ess_k, threads, flops);
	case ID_FISHERS:
		return id_fishers(x, n, D, p->fishers_conditional_number, threads, flops);
	case ID_DANCO:
		return id_danco(x, D, nn, p->danco_k, p->danco_max_dim,
				(enum danco_calibration)p->danco_calibration, p->seed, threads, flops);
	case ID_ESTIMATORS: break;
	}
	ds_fail("unknown estimator");
	return NAN;
}
