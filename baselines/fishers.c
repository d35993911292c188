/* fishers.c: FisherS (Albergante, Gorban et al.; Bac et al.'s scikit-dimension version): the
 * dimension of the uniform sphere whose points are as often inseparable from one another by
 * Fisher's linear discriminant as the data's are, after its preprocessing (centre, keep the
 * principal components above the largest eigenvalue over conditional_number, whiten, project
 * on the unit sphere) and at its alphas, 0.6, 0.62, .. 0.98. */
#include "idest.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "idest_impl.h"

#define FISHERS_ALPHAS 20

/* numpy's arange(0.6, 1, 0.02), which fills start + i * (second - start): the same doubles,
 * so that the choice of the alpha nearest 0.9 alpha_max below breaks ties as it does */
static void fishers_alphas(double *alpha)
{
	double start = 0.6, delta = (start + 0.02) - start;
	for (int i = 0; i < FISHERS_ALPHAS; i++)
		alpha[i] = start + i * delta;
}

double id_lambert_w(double z)
{
	if (!(z >= 0))
		return NAN;
	if (z == 0 || isinf(z))
		return z;
	if (z > 10) {
		/* Newton on w + log w = log z: no exp(w) to overflow for large z */
		double lz = log(z), w = lz - log(lz);
		for (int it = 0; it < 100; it++) {
			double next = w - (w + log(w) - lz) / (1 + 1 / w);
			if (fabs(next - w) <= 1e-15 * fabs(next))
				return next;
			w = next;
		}
		return w;
	}
	/* Winitzki's approximation, then Halley's iteration on w e^w = z */
	double l = log1p(z), w = l * (1 - log1p(l) / (2 + l));
	for (int it = 0; it < 100; it++) {
		double ew = exp(w), f = w * ew - z;
		double next = w - f / (ew * (w + 1) - (w + 2) * f / (2 * w + 2));
		if (fabs(next - w) <= 1e-15 * (1 + fabs(next)))
			return next;
		w = next;
	}
	return w;
}

double id_fishers_dimension(double p, double alpha)
{
	if (!(p > 0) || !(alpha > 0 && alpha < 1))
		return NAN;
	double a2 = alpha * alpha, w = log(1 - a2);
	double n = id_lambert_w(-w / (2 * M_PI * p * p * a2 * (1 - a2))) / -w;
	return isfinite(n) ? n : NAN;
}

struct fishers_pass {
	const double *alpha;
	size_t n;
	uint32_t *count;   /* (n, FISHERS_ALPHAS) per point: others at or above each alpha */
};

/* Point i against every other j: <x_i, x_j> / <x_i, x_i> at or above alpha means j lies
 * beyond the hyperplane that would separate x_i (numpy's digitize: bins closed on the left).
 * A bin per alpha first, summed from the top afterwards. */
static void fishers_row(void *ctx, size_t i, const double *g)
{
	struct fishers_pass *p = ctx;
	uint32_t *c = p->count + i * FISHERS_ALPHAS;
	memset(c, 0, sizeof(uint32_t) * FISHERS_ALPHAS);
	double length = g[i];
	for (size_t j = 0; j < p->n; j++) {
		if (j == i)
			continue;
		double v = g[j] / length;
		if (v < p->alpha[0])
			continue;
		int lo = 0, hi = FISHERS_ALPHAS; /* alpha[lo] <= v, and v < alpha[hi] if hi < 20 */
		while (hi - lo > 1) {
			int mid = (lo + hi) / 2;
			if (p->alpha[mid] <= v)
				lo = mid;
			else
				hi = mid;
		}
		c[lo]++;
	}
	for (int a = FISHERS_ALPHAS - 2; a >= 0; a--)
		c[a] += c[a + 1];
}

/* x centred, projected on the principal components whose eigenvalues exceed the largest over
 * conditional_number, each divided by its standard deviation, each row scaled to length 1:
 * into *out (n, *m). 0, or -1 with ds_errmsg(). */
static int fishers_preprocess(const float *x, size_t n, int D, double conditional_number,
			      double **out, int *m_out, uint64_t *flops)
{
	double *c = malloc(sizeof(double) * n * D), *cov = malloc(sizeof(double) * D * D);
	double *w = malloc(sizeof(double) * D), *basis = NULL, *y = NULL;
	int rc = -1;
	if (!c || !cov || !w) {
		ds_fail("fishers: out of memory for %zu points in R^%d", n, D);
		goto done;
	}
	center_columns(x, n, D, c);
	cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, D, (int)n, 1.0, c, D, 0.0, cov, D);
	for (int i = 0; i < D; i++)
		for (int j = 0; j < i; j++)
			cov[(size_t)i * D + j] = cov[(size_t)j * D + i];
	*flops += 2ull * n * D + (uint64_t)n * D * (D + 1) + EIGENVECTOR_FLOPS(D);
	if (symmetric_eigen(cov, D, w, 1)) {
		ds_fail("fishers: LAPACK's eigen-decomposition failed");
		goto done;
	}
	double top = w[D - 1];
	if (!(top > 0)) {
		ds_fail("fishers: the data has no variance (every column is constant)");
		goto done;
	}
	/* scikit-learn's PCA orders the components by decreasing variance */
	int m = 0;
	while (m < D && w[D - 1 - m] / top > 1 / conditional_number)
		m++;
	basis = malloc(sizeof(double) * (size_t)m * D);
	y = malloc(sizeof(double) * n * m);
	if (!basis || !y) {
		ds_fail("fishers: out of memory for %zu points in R^%d", n, m);
		goto done;
	}
	for (int q = 0; q < m; q++)
		memcpy(basis + (size_t)q * D, cov + (size_t)(D - 1 - q) * D, sizeof(double) * D);
	/* y (n, m) = c basis^T: the scores of the kept components */
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, m, D, 1.0, c, D, basis, D,
		    0.0, y, m);
	*flops += 2ull * n * D * m;
	/* whiten: each score over its standard deviation (ddof = 1), as numpy's std */
	for (int q = 0; q < m; q++) {
		double mean = 0, ss = 0;
		for (size_t i = 0; i < n; i++)
			mean += y[i * m + q];
		mean /= (double)n;
		for (size_t i = 0; i < n; i++)
			ss += (y[i * m + q] - mean) * (y[i * m + q] - mean);
		double sd = sqrt(ss / (double)(n - 1));
		for (size_t i = 0; i < n; i++)
			y[i * m + q] /= sd;
	}
	/* onto the unit sphere */
	for (size_t i = 0; i < n; i++) {
		double ss = 0;
		for (int q = 0; q < m; q++)
			ss += y[i * m + q] * y[i * m + q];
		if (!(ss > 0)) {
			ds_fail("fishers: point %zu lies at the mean of the kept components: it "
				"has no direction to project on the sphere", i);
			goto done;
		}
		double length = sqrt(ss);
		for (int q = 0; q < m; q++)
			y[i * m + q] /= length;
	}
	*flops += 5ull * n * m + 3ull * n * m;
	*out = y;
	*m_out = m;
	y = NULL;
	rc = 0;
done:
	free(c);
	free(cov);
	free(w);
	free(basis);
	free(y);
	return rc;
}

double id_fishers(const float *x, size_t n, int D, double conditional_number, int threads,
		  uint64_t *flops)
{
	if (n < 3 || D < 2) {
		ds_fail("fishers needs at least 3 points in at least 2 dimensions (have %zu in "
			"R^%d)", n, D);
		return NAN;
	}
	if (!(conditional_number >= 1)) {
		ds_fail("fishers: the conditional number must be at least 1 (got %g)",
			conditional_number);
		return NAN;
	}
	double *y = NULL, alpha[FISHERS_ALPHAS], dim[FISHERS_ALPHAS], estimate = NAN;
	int m = 0;
	if (fishers_preprocess(x, n, D, conditional_number, &y, &m, flops))
		return NAN;
	uint32_t *count = malloc(sizeof(uint32_t) * n * FISHERS_ALPHAS);
	if (!count) {
		ds_fail("fishers: out of memory");
		goto done;
	}
	fishers_alphas(alpha);
	struct fishers_pass pass = { alpha, n, count };
	if (pair_pass(y, n, m, threads, fishers_row, &pass, flops))
		goto done;
	/* the mean over points of the fraction of all n points inseparable from each, per alpha */
	uint64_t above = 0;
	for (size_t i = 0; i < n; i++)
		above += count[i * FISHERS_ALPHAS];
	*flops += 2ull * n * n + 5ull * above + 2ull * n * FISHERS_ALPHAS;
	int last = -1;
	for (int a = 0; a < FISHERS_ALPHAS; a++) {
		double p = 0;
		for (size_t i = 0; i < n; i++)
			p += count[i * FISHERS_ALPHAS + a] / (double)n;
		dim[a] = id_fishers_dimension(p / (double)n, alpha[a]);
		if (!isnan(dim[a]))
			last = a;
	}
	if (last < 0) {
		ds_fail("fishers: every point is separable from all others at every alpha from 0.6 "
			"to 0.98 (a dimension beyond what %zu points show)", n);
		goto done;
	}
	/* the alpha nearest 0.9 times the largest at which some point is inseparable; among
	 * equally near ones with a dimension, the largest dimension, as the reference's max() */
	double target = alpha[last] * 0.9, nearest = INFINITY;
	for (int a = 0; a < FISHERS_ALPHAS; a++)
		nearest = fmin(nearest, fabs(alpha[a] - target));
	for (int a = 0; a < FISHERS_ALPHAS; a++)
		if (!isnan(dim[a]) && fabs(alpha[a] - target) == nearest)
			estimate = isnan(estimate) ? dim[a] : fmax(estimate, dim[a]);
	if (isnan(estimate))
		ds_fail("fishers: every point is separable at alpha = %.2f, the one nearest 0.9 "
			"times %.2f", target, alpha[last]);
done:
	free(y);
	free(count);
	return estimate;
}
