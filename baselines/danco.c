/* danco.c: DANCo (Ceruti et al. 2014, "DANCo: An intrinsic dimensionality estimator
 * exploiting angle and norm concentration"), as scikit-dimension computes it: the data's
 * statistics (the MLE of the normalised nearest-neighbour distance, the mean von Mises
 * location and concentration of the angles between each point's neighbours) against those
 * of uniform balls of every dimension 1 .. max_dim with as many points, simulated here with
 * a seed; the dimension of least Kullback-Leibler divergence, refined on a spline. */
#include "idest.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/rng.h"
#include "idest_impl.h"

/* LAPACK: solve a general linear system */
void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b,
	    const int *ldb, int *info);

struct danco_stats {
	double dhat;     /* the MLE of the dimension from rho = r_1 / r_(k+1) (MIND_MLk) */
	double mu_nu;    /* mean over points of the angles' von Mises location */
	double mu_tau;   /* mean over points of their concentration */
};

/* ---- special functions ---- */

/* digamma for x > 0: the recurrence up to 6, then the asymptotic series (error < 1e-15) */
static double digamma(double x)
{
	double r = 0;
	while (x < 6) {
		r -= 1 / x;
		x += 1;
	}
	double f = 1 / (x * x);
	return r + log(x) - 0.5 / x -
	       f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

/* Modified Bessel functions I0 and I1 by their series (all terms positive, so accurate);
 * beyond x = 713 the sum overflows to infinity, which the caller clamps as the reference
 * does */
static void bessel_i0_i1(double x, double *i0, double *i1)
{
	double q = x * x / 4, t0 = 1, t1 = 1, s0 = 1, s1 = 1;
	for (int m = 1; m < 100000; m++) {
		t0 *= q / ((double)m * m);
		t1 *= q / ((double)m * (m + 1));
		s0 += t0;
		s1 += t1;
		if (t0 < 1e-17 * s0 && t1 < 1e-17 * s1)
			break;
	}
	*i0 = s0;
	*i1 = s1 * x / 2;
}

double id_danco_kl_d(double dhat, double dcal, int k)
{
	double harmonic = 0, sum = 0, binomial = 1, q = dcal / dhat;
	for (int i = 1; i <= k; i++)
		harmonic += 1.0 / i;
	for (int i = 0; i <= k; i++) {
		sum += (i % 2 ? -1 : 1) * binomial * digamma(1 + i / q);
		binomial = binomial * (k - i) / (i + 1);
	}
	return harmonic * q - log(q) - (k - 1) * sum;
}

/* the divergence of the angle statistics; I0 and I1 clamped at the largest double */
static double kl_nu_tau(double nu1, double nu2, double tau1, double tau2)
{
	double a0, a1, b0, b1;
	bessel_i0_i1(tau1, &a0, &a1);
	bessel_i0_i1(tau2, &b0, &b1);
	a0 = fmin(a0, DBL_MAX);
	a1 = fmin(a1, DBL_MAX);
	b0 = fmin(b0, DBL_MAX);
	return log(b0 / a0) + a1 / a0 * (tau1 - tau2 * cos(nu1 - nu2));
}

/* Best and Fisher's approximation of the inverse of A(tau) = I1(tau) / I0(tau) */
static double a_inverse(double eta)
{
	if (eta < 0.53)
		return 2 * eta + eta * eta * eta + 5 * pow(eta, 5) / 6;
	if (eta < 0.85)
		return -0.4 + 1.39 * eta + 0.43 / (1 - eta);
	return 1 / (eta * eta * eta - 4 * eta * eta + 3 * eta);
}

/* ---- the statistics of one set ---- */

/* d/dd of the log-likelihood of rho under g(r) = k d r^(d-1) (1 - r^d)^(k-1) */
static double likelihood_slope(double d, const double *log_rho, size_t n, int k)
{
	double s = (double)n / d;
	for (size_t i = 0; i < n; i++) {
		double rd = exp(d * log_rho[i]);
		s += log_rho[i] - (k - 1) * rd * log_rho[i] / (1 - rd);
	}
	return s;
}

/* The maximum over [0, max_dim] of the likelihood, which is concave in d (each term's second
 * derivative is negative): the zero of its slope by bisection, where the reference runs
 * L-BFGS-B from the best integer (MIND_MLi); the same maximum to within its tolerance. */
static double mind_mlk(const double *log_rho, size_t n, int k, int max_dim, uint64_t *flops)
{
	double lo = 0, hi = max_dim;
	int evaluations = 1;
	if (likelihood_slope(hi, log_rho, n, k) >= 0) {
		*flops += 8ull * n;
		return hi;
	}
	for (; evaluations < 200 && hi - lo > 1e-12 * hi; evaluations++) {
		double mid = 0.5 * (lo + hi);
		if (likelihood_slope(mid, log_rho, n, k) > 0)
			lo = mid;
		else
			hi = mid;
	}
	/* each slope: an exp, two products, a divide, a difference and sums: 8 per point */
	*flops += 8ull * n * evaluations;
	return 0.5 * (lo + hi);
}

/* The statistics of n points x (n, D) with their k+1 neighbours; the likelihood is
 * maximised over [0, max_dim]. 0, or -1 with ds_errmsg(). */
static int danco_statistics(const float *x, int D, const struct knn *nn, int k, int max_dim,
			    struct danco_stats *out, uint64_t *flops)
{
	size_t n = nn->n;
	double *log_rho = malloc(sizeof(double) * n), *vec = malloc(sizeof(double) * k * D);
	double *len = malloc(sizeof(double) * k);
	int rc = -1;
	if (!log_rho || !vec || !len) {
		ds_fail("danco: out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const double *t = nn->dist + i * nn->k;
		if (!(t[0] > 0)) {
			ds_fail("danco: point %zu has a duplicate (its nearest neighbour is at "
				"distance 0)", i);
			goto done;
		}
		if (!(t[k] > t[0])) {
			ds_fail("danco: point %zu has its nearest and %d-th neighbours at one "
				"distance", i, k + 1);
			goto done;
		}
		log_rho[i] = log(t[0] / t[k]);
	}
	out->dhat = mind_mlk(log_rho, n, k, max_dim, flops);
	double sum_nu = 0, sum_tau = 0;
	for (size_t i = 0; i < n; i++) {
		const float *xi = x + i * D;
		const int *nb = nn->index + i * nn->k;
		for (int a = 0; a < k; a++) {
			double s = 0;
			for (int j = 0; j < D; j++) {
				double v = (double)x[(size_t)nb[a] * D + j] - xi[j];
				vec[(size_t)a * D + j] = v;
				s += v * v;
			}
			len[a] = sqrt(s);
		}
		double sum_sin = 0, sum_cos = 0;
		for (int a = 0; a < k; a++)
			for (int b = a + 1; b < k; b++) {
				double dot = 0;
				for (int j = 0; j < D; j++)
					dot += vec[(size_t)a * D + j] * vec[(size_t)b * D + j];
				/* rounding can take |cos| past 1 for collinear neighbours */
				double c = fmax(-1, fmin(1, dot / (len[a] * len[b])));
				double theta = acos(c);
				sum_sin += sin(theta);
				sum_cos += c;
			}
		double pairs = k * (k - 1) / 2.0;
		/* the von Mises fit of the reference: atan, not atan2, of the mean direction */
		sum_nu += atan(sum_sin / sum_cos);
		sum_tau += a_inverse(sqrt(pow(sum_cos / pairs, 2) + pow(sum_sin / pairs, 2)));
	}
	out->mu_nu = sum_nu / (double)n;
	out->mu_tau = D == 1 ? 1 : sum_tau / (double)n;
	/* differences 3 per coordinate, dot products 2 per coordinate, 6 per angle (divide,
	 * clamp, acos, sin and two sums), 12 per point for the fit */
	*flops += n * (3ull * k * D + (uint64_t)k * (k - 1) / 2 * (2ull * D + 6) + 12 + 4);
	rc = 0;
done:
	free(log_rho);
	free(vec);
	free(len);
	return rc;
}

/* n points uniform in the unit d-ball: a Gaussian direction, radius U^(1/d) */
static void uniform_ball(struct rng *r, size_t n, int d, float *x)
{
	for (size_t i = 0; i < n; i++) {
		double norm = 0;
		float *p = x + i * d;
		for (int j = 0; j < d; j++) {
			double g = rng_normal(r);
			p[j] = (float)g;
			norm += g * g;
		}
		double scale = pow(rng_uniform(r), 1.0 / d) / sqrt(norm);
		for (int j = 0; j < d; j++)
			p[j] = (float)(p[j] * scale);
	}
}

/* ---- the refinement ---- */

/* The minimum over [lo, hi] (1-based abscissae) of the not-a-knot cubic spline through
 * y[0 .. m-1] at 1 .. m (scipy's interp1d(kind="cubic")), or of the parabola through three
 * points (kind="quadratic"). */
static double spline_minimum(const double *y, int m, double lo, double hi, uint64_t *flops)
{
	double best_x = lo, best = INFINITY;
	if (m == 3) {
		/* the parabola y0 + b (x-1) + a (x-1)(x-2) */
		double a = (y[0] - 2 * y[1] + y[2]) / 2, b = y[1] - y[0];
		double cand[3] = { lo, hi, a > 0 ? 1.5 - b / (2 * a) : lo };
		for (int c = 0; c < 3; c++) {
			double x = fmax(lo, fmin(hi, cand[c]));
			double v = y[0] + b * (x - 1) + a * (x - 1) * (x - 2);
			if (v < best) {
				best = v;
				best_x = x;
			}
		}
		return best_x;
	}
	/* second derivatives M: M_(i-1) + 4 M_i + M_(i+1) = 6 (y_(i+1) - 2 y_i + y_(i-1)) inside,
	 * and a continuous third derivative at the second and the last but one knot */
	double *a = calloc((size_t)m * m, sizeof(double)), *M = malloc(sizeof(double) * m);
	int *pivot = malloc(sizeof(int) * m), one = 1, info = -1;
	if (a && M && pivot) {
		/* column-major for LAPACK: a[row + col * m] */
		a[0] = 1, a[m] = -2, a[2 * m] = 1, M[0] = 0;
		for (int i = 1; i < m - 1; i++) {
			a[i + (i - 1) * m] = 1, a[i + i * m] = 4, a[i + (i + 1) * m] = 1;
			M[i] = 6 * (y[i + 1] - 2 * y[i] + y[i - 1]);
		}
		int l = m - 1;
		a[l + (l - 2) * m] = 1, a[l + (l - 1) * m] = -2, a[l + l * m] = 1, M[l] = 0;
		dgesv_(&m, &one, a, &m, pivot, M, &m, &info);
		*flops += 2ull * m * m * m / 3 + 2ull * m * m;
	}
	if (info == 0) {
		/* each piece [i+1, i+2]: its ends and the zeros of its derivative inside */
		for (int i = 0; i < m - 1; i++) {
			double x0 = i + 1, from = fmax(lo, x0), to = fmin(hi, x0 + 1);
			if (from > to)
				continue;
			double A = M[i], B = M[i + 1], c0 = y[i] - A / 6, c1 = y[i + 1] - B / 6;
			/* S'(t) = -A (1-t)^2 / 2 + B t^2 / 2 + c1 - c0 = p t^2 + q t + r */
			double p = (B - A) / 2, q = A, r = -A / 2 + c1 - c0;
			double cand[4] = { from, to, NAN, NAN };
			if (fabs(p) > 1e-300) {
				double disc = q * q - 4 * p * r;
				if (disc >= 0) {
					cand[2] = x0 + (-q + sqrt(disc)) / (2 * p);
					cand[3] = x0 + (-q - sqrt(disc)) / (2 * p);
				}
			} else if (fabs(q) > 1e-300) {
				cand[2] = x0 - r / q;
			}
			for (int c = 0; c < 4; c++) {
				if (!(cand[c] >= from && cand[c] <= to))
					continue;
				double t = cand[c] - x0;
				double v = A * pow(1 - t, 3) / 6 + B * pow(t, 3) / 6 +
					   c0 * (1 - t) + c1 * t;
				if (v < best) {
					best = v;
					best_x = cand[c];
				}
			}
		}
	}
	free(a);
	free(M);
	free(pivot);
	return best == INFINITY ? NAN : best_x;
}

/* ---- DANCo ---- */

double id_danco(const float *x, int D, const struct knn *nn, int k, int max_dim,
		enum danco_calibration calibration, uint64_t seed, int threads, uint64_t *flops)
{
	size_t n = nn->n;
	if (k < 2 || k + 1 > nn->k) {
		ds_fail("danco needs 2 <= k and k + 1 <= %d neighbours (got k = %d)", nn->k, k);
		return NAN;
	}
	if (max_dim <= 0)
		max_dim = D;
	struct danco_stats data;
	if (danco_statistics(x, D, nn, k, max_dim, &data, flops))
		return NAN;
	struct danco_stats *cal = malloc(sizeof(*cal) * max_dim);
	double *kl = malloc(sizeof(double) * max_dim), estimate = NAN;
	char error[DS_ERR_MAX] = "";
	int failed = 0;
	if (!cal || !kl) {
		ds_fail("danco: out of memory");
		goto done;
	}
	/* the calibration: one seeded ball per dimension, each its own stream, so that the
	 * thread count changes nothing; dimensions in parallel, each search on one thread */
	uint64_t work = 0;
#pragma omp parallel for num_threads(threads < 1 ? 1 : threads) schedule(dynamic, 1) \
	reduction(+ : work)
	for (int d = 1; d <= max_dim; d++) {
		int stop;
#pragma omp atomic read
		stop = failed;
		if (stop)
			continue;
		struct rng r;
		rng_seed(&r, seed ^ 0xda9c0000000ULL ^ ((uint64_t)d << 40));
		float *ball = malloc(sizeof(float) * n * d);
		struct knn bn;
		int rc = -1;
		if (!ball)
			ds_fail("danco: out of memory for the %d-ball", d);
		else {
			uniform_ball(&r, n, d, ball);
			work += 10ull * n * d;
			rc = knn_search(ball, n, d, k + 1, 1, &bn, &work);
			if (!rc) {
				/* scikit-dimension passes k where the R original passes 2d + 5
				 * (its argument list lost k); the thesis's figures come from it */
				int bound = calibration == DANCO_ORIGINAL ? 2 * d + 5 : k;
				rc = danco_statistics(ball, d, &bn, k, bound, &cal[d - 1], &work);
				knn_free(&bn);
			}
		}
		free(ball);
		if (rc) {
#pragma omp critical(danco_error)
			if (!failed) {
				snprintf(error, sizeof(error),
					 "danco: calibration in dimension %d: %s", d, ds_errmsg());
#pragma omp atomic write
				failed = 1;
			}
		}
	}
	*flops += work;
	if (failed) {
		ds_fail("%s", error);
		goto done;
	}
	int best = 0;
	for (int d = 0; d < max_dim; d++) {
		kl[d] = id_danco_kl_d(data.dhat, cal[d].dhat, k) +
			kl_nu_tau(data.mu_nu, cal[d].mu_nu, data.mu_tau, cal[d].mu_tau);
		if (kl[d] < kl[best])
			best = d;
	}
	*flops += 60ull * max_dim;
	if (!isfinite(kl[best])) {
		ds_fail("danco: no finite divergence from the calibration");
		goto done;
	}
	estimate = best + 1;
	/* the fractal dimension: the spline's minimum next to the best integer, where the
	 * reference runs L-BFGS-B from it; a cubic from four divergences on, as the reference
	 * does in more than three ambient dimensions, a parabola through three, none below */
	int pieces = max_dim >= 4 && D > 3 ? max_dim : max_dim == 3 ? 3 : 0;
	if (pieces) {
		double lo = fmax(1, estimate - 1), hi = fmin(max_dim, estimate + 1);
		double refined = spline_minimum(kl, pieces, lo, hi, flops);
		if (isfinite(refined))
			estimate = refined;
	}
done:
	free(cal);
	free(kl);
	return estimate;
}
