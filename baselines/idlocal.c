/* idlocal.c: the estimators that read each point's neighbourhood: CorrInt, MOM, TLE, MADA and
 * ESS, as scikit-dimension computes them (README: "Intrinsic-dimension estimators" says where
 * we differ). */
#include "idest.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "idest_impl.h"

/* numpy's median of one column of the neighbour distances: the mean of the middle two when n
 * is even */
static double median_column(const struct knn *nn, int column, double *scratch)
{
	size_t n = nn->n;
	for (size_t i = 0; i < n; i++)
		scratch[i] = nn->dist[i * nn->k + column];
	qsort(scratch, n, sizeof(double), compare_double);
	return n % 2 ? scratch[n / 2] : 0.5 * (scratch[n / 2 - 1] + scratch[n / 2]);
}

/* The first point (smallest index) at which a parallel loop failed, for its message. */
static void note_failure(size_t *first, size_t i)
{
#pragma omp critical(idlocal_failure)
	if (i < *first)
		*first = i;
}

/* ---- CorrInt ---- */

struct corrint_pass {
	const double *norm;      /* (n) squared norms of the centred rows */
	size_t n;
	double r1_squared, r2_squared;
	uint64_t *below;         /* (n, 2) per row: pairs closer than r1, than r2 */
};

static void corrint_row(void *ctx, size_t i, const double *g)
{
	struct corrint_pass *p = ctx;
	uint64_t c1 = 0, c2 = 0;
	for (size_t j = 0; j < p->n; j++) {
		if (j == i)
			continue;
		double v = p->norm[i] + p->norm[j] - 2.0 * g[j];
		v = v < 0 ? 0 : v;
		c1 += v < p->r1_squared;
		c2 += v < p->r2_squared;
	}
	p->below[2 * i] = c1;
	p->below[2 * i + 1] = c2;
}

double id_corrint(const float *x, int D, const struct knn *nn, int k1, int k2, int threads,
		  uint64_t *flops)
{
	size_t n = nn->n;
	if (k1 < 1 || k1 >= k2 || k2 > nn->k) {
		ds_fail("corrint needs 1 <= k1 < k2 <= %d neighbours (got k1 = %d, k2 = %d)", nn->k,
			k1, k2);
		return NAN;
	}
	double *c = malloc(sizeof(double) * n * D), *norm = malloc(sizeof(double) * n);
	uint64_t *below = malloc(sizeof(uint64_t) * 2 * n);
	double estimate = NAN;
	if (!c || !norm || !below) {
		ds_fail("corrint: out of memory for %zu points", n);
		goto done;
	}
	double r1 = median_column(nn, k1 - 1, norm), r2 = median_column(nn, k2 - 1, norm);
	*flops += 2ull * n; /* two medians: a comparison per point, roughly */
	if (!(r1 > 0)) {
		ds_fail("corrint: the median distance to the %d-th neighbour is 0 (duplicate "
			"points)", k1);
		goto done;
	}
	if (!(r2 > r1)) {
		ds_fail("corrint: the median distances to the %d-th and %d-th neighbours are equal "
			"(%g): no scale between them", k1, k2, r1);
		goto done;
	}
	/* the same centred coordinates and norms as the neighbour search */
	center_columns(x, n, D, c);
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < D; j++)
			s += c[i * D + j] * c[i * D + j];
		norm[i] = s;
	}
	struct corrint_pass pass = { norm, n, r1 * r1, r2 * r2, below };
	if (pair_pass(c, n, D, threads, corrint_row, &pass, flops))
		goto done;
	*flops += 4ull * n * D + 5ull * n * n;
	uint64_t s1 = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		s1 += below[2 * i];
		s2 += below[2 * i + 1];
	}
	if (s1 == 0) {
		ds_fail("corrint: no pair is closer than r1 = %g", r1);
		goto done;
	}
	/* C(r) = pairs / n^2: the n^2 cancels in the ratio */
	estimate = log((double)s2 / (double)s1) / log(r2 / r1);
done:
	free(c);
	free(norm);
	free(below);
	return estimate;
}

/* ---- MOM ---- */

double id_mom(const struct knn *nn, int k, uint64_t *flops)
{
	if (k < 2 || k > nn->k) {
		ds_fail("mom needs 2 <= k <= %d neighbours (got %d)", nn->k, k);
		return NAN;
	}
	double sum = 0;
	for (size_t i = 0; i < nn->n; i++) {
		const double *t = nn->dist + i * nn->k;
		double m1 = 0, w = t[k - 1];
		for (int j = 0; j < k; j++)
			m1 += t[j];
		m1 /= k;
		if (!(w > m1)) {
			ds_fail("mom: point %zu has its %d neighbours all at distance %g "
				"(duplicate points?)", i, k, w);
			return NAN;
		}
		sum += m1 / (w - m1);
	}
	*flops += (uint64_t)nn->n * (k + 4);
	return sum / (double)nn->n;
}

/* ---- TLE ---- */

/* Amsaleg et al.'s tight local estimator at one point q with neighbours nb (k of them), as
 * scikit-dimension's _idtle writes it, every boundary case in its order. d (k) and v (k, k)
 * are scratch. NaN when the neighbourhood is degenerate. */
static double tle_point(const float *x, int D, size_t q, const int *nb, int k, double epsilon,
			double *d, double *v)
{
	const float *xq = x + q * D;
	double r = 0;
	/* distances recomputed from the coordinates, so that d and v are one geometry */
	for (int a = 0; a < k; a++) {
		const float *xa = x + (size_t)nb[a] * D;
		double s = 0;
		for (int j = 0; j < D; j++) {
			double t = (double)xa[j] - xq[j];
			s += t * t;
		}
		d[a] = sqrt(s);
		r = d[a] > r ? d[a] : r;
	}
	if (!(r > 0))
		return NAN;
	for (int a = 0; a < k; a++) {
		v[(size_t)a * k + a] = 0;
		const float *xa = x + (size_t)nb[a] * D;
		for (int b = a + 1; b < k; b++) {
			const float *xb = x + (size_t)nb[b] * D;
			double s = 0;
			for (int j = 0; j < D; j++) {
				double t = (double)xa[j] - xb[j];
				s += t * t;
			}
			v[(size_t)a * k + b] = v[(size_t)b * k + a] = sqrt(s);
		}
	}
	double r2 = r * r, s1 = 0, s2 = 0;
	long dropped = 0; /* nTSeps + nV0 of the reference */
	for (int a = 0; a < k; a++) {
		double di = d[a], di2 = di * di;
		for (int b = 0; b < k; b++) {
			if (a == b)
				continue;
			double dj = d[b], dj2 = dj * dj, vij = v[(size_t)a * k + b], v2 = vij * vij;
			/* |u_a + u_b|^2 by the parallelogram law; rounding may take it below 0 */
			double z2 = fmax(2 * di2 + 2 * dj2 - v2, 0), s, t;
			if (di == r) {
				s = r * v2 / (r2 + v2 - dj2);
				/* 0/0 only for two neighbours at r on opposite sides of the point
				 * (z2 = 0, dj = r), where the reference returns NaN: the limit */
				t = z2 > 0 || dj < r ? r * z2 / (r2 + z2 - dj2) : r;
			} else {
				double bs = di2 + v2 - dj2, bt = di2 + z2 - dj2;
				double den = 2 * (r2 - di2);
				s = r * (sqrt(bs * bs + 4 * v2 * (r2 - di2)) - bs) / den;
				t = r * (sqrt(bt * bt + 4 * z2 * (r2 - di2)) - bt) / den;
			}
			if (di == 0)
				s = t = dj;
			if (dj == 0)
				s = t = r * vij / (r + vij);
			if (vij == 0) {
				s = t = r;
				dropped++;
			}
			if (t < epsilon || s < epsilon) {
				s = t = r;
				dropped++;
			}
			s1 += log(s / r) + log(t / r);
		}
	}
	long small = 0;
	for (int a = 0; a < k; a++) {
		if (d[a] < epsilon)
			small++;
		else
			s2 += log(d[a] / r);
	}
	return -2.0 * ((double)k * k - dropped - small) / (s1 + 2 * s2);
}

double id_tle(const float *x, int D, const struct knn *nn, int k, double epsilon, int threads,
	      uint64_t *flops)
{
	size_t n = nn->n, first_bad = (size_t)-1;
	if (k < 2 || k > nn->k) {
		ds_fail("tle needs 2 <= k <= %d neighbours (got %d)", nn->k, k);
		return NAN;
	}
	double sum = 0;
	int failed = 0;
#pragma omp parallel num_threads(threads < 1 ? 1 : threads) reduction(+ : sum)
	{
		double *d = malloc(sizeof(double) * k), *v = malloc(sizeof(double) * k * k);
		if (!d || !v) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(dynamic, 16)
		for (size_t i = 0; i < n; i++) {
			if (!d || !v)
				continue;
			double e = tle_point(x, D, i, nn->index + i * nn->k, k, epsilon, d, v);
			if (!isfinite(e))
				note_failure(&first_bad, i);
			else
				sum += e;
		}
		free(d);
		free(v);
	}
	if (failed) {
		ds_fail("tle: out of memory");
		return NAN;
	}
	if (first_bad != (size_t)-1) {
		ds_fail("tle: point %zu has no finite estimate: its %d neighbours lie at one "
			"distance (duplicate points?)", first_bad, k);
		return NAN;
	}
	/* distances 3 per coordinate, each of the k^2 measurements about 30 (two square roots,
	 * two logarithms and a divide counted 1 each) */
	*flops += (uint64_t)n * ((uint64_t)k * (k + 1) / 2 * 3 * D + 30ull * k * k);
	return sum / (double)n;
}

/* ---- MADA ---- */

double id_mada(const struct knn *nn, int k, uint64_t *flops)
{
	if (k < 2 || k > nn->k) {
		ds_fail("mada needs 2 <= k <= %d neighbours (got %d)", nn->k, k);
		return NAN;
	}
	int half = k / 2;
	double sum = 0;
	for (size_t i = 0; i < nn->n; i++) {
		const double *t = nn->dist + i * nn->k;
		if (!(t[half - 1] > 0)) {
			ds_fail("mada: point %zu has its %d-th neighbour at distance 0 (duplicate "
				"points)", i, half);
			return NAN;
		}
		if (!(t[k - 1] > t[half - 1])) {
			ds_fail("mada: point %zu has its %d-th and %d-th neighbours at one "
				"distance (%g)", i, half, k, t[k - 1]);
			return NAN;
		}
		sum += log(2.0) / log(t[k - 1] / t[half - 1]);
	}
	*flops += 4ull * nn->n;
	return sum / (double)nn->n;
}

/* ---- ESS ---- */

/* ref(m+2) = ref(m) m^2 / (m^2 - 1), from Gamma(x+1) = x Gamma(x), with ref(2) = 2/pi and
 * ref(3) = pi/4: scikit-dimension's cumulative products, written as one recurrence */
static void ess_references(double *ref, int count)
{
	for (int m = 1; m <= count; m++) {
		double j = m - 2;
		ref[m - 1] = m == 1 ? 0 : m == 2 ? 2 / M_PI : m == 3 ? M_PI / 4 :
			     ref[m - 3] * j * j / (j * j - 1);
	}
}

double id_ess_reference(int m)
{
	if (m < 1)
		return NAN;
	double *ref = malloc(sizeof(double) * m);
	if (!ref)
		return NAN;
	ess_references(ref, m);
	double v = ref[m - 1];
	free(ref);
	return v;
}

/* The skewness of one neighbourhood: its k points centred on their mean into y (k, D), their
 * Gram matrix into g (k, k); NaN when every point is at the mean. */
static double ess_point(const float *x, int D, const int *nb, int k, double *y, double *g)
{
	for (int j = 0; j < D; j++) {
		double mean = 0;
		for (int q = 0; q < k; q++)
			mean += x[(size_t)nb[q] * D + j];
		mean /= k;
		for (int q = 0; q < k; q++)
			y[(size_t)q * D + j] = x[(size_t)nb[q] * D + j] - mean;
	}
	cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, k, D, 1.0, y, D, 0.0, g, k);
	double volume = 0, weight = 0;
	for (int a = 0; a < k; a++)
		for (int b = a + 1; b < k; b++) {
			double aa = g[(size_t)a * k + a], bb = g[(size_t)b * k + b];
			double ab = g[(size_t)a * k + b];
			/* |a||b|, and the area |a||b| sin(a, b): the root of the pair's Gram
			 * determinant */
			weight += sqrt(aa * bb);
			volume += sqrt(fabs(aa * bb - ab * ab));
		}
	return weight > 0 ? volume / weight : NAN;
}

/* The fractional dimension whose reference value is s: m + (s - ref(m)) / (ref(m+1) -
 * ref(m)) for the largest m with ref(m) <= s. */
static double ess_dimension(double s, const double *ref, int count)
{
	int lo = 0, hi = count - 1; /* ref[lo] <= s < ref[hi], ref[0] = 0 */
	while (hi - lo > 1) {
		int mid = (lo + hi) / 2;
		if (ref[mid] <= s)
			lo = mid;
		else
			hi = mid;
	}
	return lo + 1 + (s - ref[lo]) / (ref[lo + 1] - ref[lo]);
}

/* the largest dimension ESS reads: ref(m) = 1 - 1/(2m) roughly, so this resolves skewness
 * to 1e-6 */
#define ESS_MAX_DIM 500000

double id_ess(const float *x, int D, const struct knn *nn, int k, int threads, uint64_t *flops)
{
	size_t n = nn->n, first_bad = (size_t)-1;
	if (k < 3 || k > nn->k) {
		ds_fail("ess needs 3 <= k <= %d neighbours (got %d)", nn->k, k);
		return NAN;
	}
	double *skew = malloc(sizeof(double) * n);
	if (!skew) {
		ds_fail("ess: out of memory");
		return NAN;
	}
	int failed = 0;
#pragma omp parallel num_threads(threads < 1 ? 1 : threads)
	{
		double *y = malloc(sizeof(double) * (size_t)k * D);
		double *g = malloc(sizeof(double) * (size_t)k * k);
		if (!y || !g) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(dynamic, 16)
		for (size_t i = 0; i < n; i++) {
			if (!y || !g)
				continue;
			skew[i] = ess_point(x, D, nn->index + i * nn->k, k, y, g);
			if (isnan(skew[i]))
				note_failure(&first_bad, i);
		}
		free(y);
		free(g);
	}
	double estimate = NAN, largest = 0;
	if (failed) {
		ds_fail("ess: out of memory");
		goto done;
	}
	if (first_bad != (size_t)-1) {
		ds_fail("ess: the %d neighbours of point %zu all coincide (duplicate points)", k,
			first_bad);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		largest = skew[i] > largest ? skew[i] : largest;
	/* the reference table as far as the most skewed neighbourhood needs */
	int count = 64;
	double *ref = NULL;
	for (;;) {
		double *grown = realloc(ref, sizeof(double) * count);
		if (!grown) {
			ds_fail("ess: out of memory");
			goto done_ref;
		}
		ref = grown;
		ess_references(ref, count);
		if (ref[count - 1] > largest)
			break;
		if (count >= ESS_MAX_DIM) {
			ds_fail("ess: a neighbourhood's skewness %.9f is beyond dimension %d",
				largest, ESS_MAX_DIM);
			goto done_ref;
		}
		count = count * 4 > ESS_MAX_DIM ? ESS_MAX_DIM : count * 4;
	}
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += ess_dimension(skew[i], ref, count);
	estimate = sum / (double)n;
	/* centring 2 per coordinate, the Gram matrix by SYRK, 8 per pair (two products, a
	 * difference, an absolute value, two square roots, two sums), the lookup 20 */
	*flops += (uint64_t)n * (2ull * k * D + (uint64_t)k * D * (k + 1) +
				 4ull * k * (k - 1) + 20);
done_ref:
	free(ref);
done:
	free(skew);
	return estimate;
}
