/* test_idest2.c: the estimators scikit-dimension adds to local PCA, MLE and TwoNN (global
 * PCA, CorrInt, MOM, TLE, MADA, ESS, FisherS, DANCo): against values worked out by hand from
 * each formula on tiny inputs, on flat data whose dimension is known, on degenerate input,
 * and as strategies and keys. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../baselines/idest.h"
#include "../baselines/idstrategy.h"
#include "../core/blas.h"
#include "../core/err.h"
#include "../core/rng.h"
#include "../core/data.h"
#include "../search/experiment.h"
#include "../search/strategy.h"
#include "../strategies.h"

/* A hand-made neighbour table: n points, k neighbours each, the distances given. */
static struct knn table(size_t n, int k, const double *dist, const int *index)
{
	struct knn nn = { .n = n, .k = k };
	nn.dist = malloc(sizeof(double) * n * k);
	nn.index = malloc(sizeof(int) * n * k);
	memcpy(nn.dist, dist, sizeof(double) * n * k);
	for (size_t i = 0; i < n * k; i++)
		nn.index[i] = index ? index[i] : 0;
	return nn;
}

/* n points uniform in [0,1]^d (gaussian = 0) or standard normal, in the first d of D
 * columns; the other columns constant 0.5 */
static float *flat(size_t n, int d, int D, int gaussian, uint64_t seed)
{
	float *x = malloc(sizeof(float) * n * D);
	struct rng r;
	rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < D; j++)
			if (j >= d)
				x[i * D + j] = 0.5f;
			else
				x[i * D + j] = (float)(gaussian ? rng_normal(&r) : rng_uniform(&r));
	return x;
}

static void expect_error(double estimate, const char *name, const char *cause)
{
	if (!isnan(estimate))
		fail_msg("%s gave %g, not an error (%s expected)", name, estimate, cause);
	if (strncmp(ds_errmsg(), name, strlen(name)) || !strstr(ds_errmsg(), cause))
		fail_msg("%s: the message '%s' should name it and say '%s'", name, ds_errmsg(),
			 cause);
}

/* ---- worked by hand ---- */

/* Points +-3 e1, +-2 e2, +-1 e3 (and a constant fourth column): covariance eigenvalues in the
 * proportion 9 : 4 : 1, so the leading components explain 9/14 = 0.643, 13/14 = 0.929 and
 * all of the variance. */
static void test_pca_counts_components_by_hand(void **state)
{
	(void)state;
	const float x[6][4] = { { 3, 0, 0, 7 }, { -3, 0, 0, 7 }, { 0, 2, 0, 7 },
				{ 0, -2, 0, 7 }, { 0, 0, 1, 7 }, { 0, 0, -1, 7 } };
	uint64_t flops = 0;
	assert_true(id_pca(&x[0][0], 6, 4, 0.6, &flops) == 1);
	assert_true(id_pca(&x[0][0], 6, 4, 0.65, &flops) == 2);
	assert_true(id_pca(&x[0][0], 6, 4, 0.92, &flops) == 2);
	assert_true(id_pca(&x[0][0], 6, 4, 0.95, &flops) == 3);
	assert_true(id_pca(&x[0][0], 6, 4, 1.0, &flops) == 3);
	/* centring, the 4 x 4 covariance by SYRK and its eigenvalues are counted */
	assert_true(flops >= 5 * (2 * 6 * 4 + 6 * 4 * 5 + 4 * 4 * 4 * 4 / 3));
	float same[6][4];
	for (int i = 0; i < 6; i++)
		for (int j = 0; j < 4; j++)
			same[i][j] = 7;
	expect_error(id_pca(&same[0][0], 6, 4, 0.95, &flops), "pca", "no variance");
	expect_error(id_pca(&x[0][0], 1, 4, 0.95, &flops), "pca", "at least 2 points");
}

/* Two points' distances, [1 2 3 4] and [1 1 2 4]: MOM m1 / (T_4 - m1) = 2.5 / 1.5 and 2 / 2;
 * MADA (k = 4, against the 2nd) log 2 / log(4/2) = 1 and log 2 / log(4/1) = 0.5. */
static void test_mom_and_mada_by_hand(void **state)
{
	(void)state;
	const double d[] = { 1, 2, 3, 4, 1, 1, 2, 4 };
	struct knn nn = table(2, 4, d, NULL);
	uint64_t flops = 0;
	assert_float_equal(id_mom(&nn, 4, &flops), (2.5 / 1.5 + 1.0) / 2, 1e-12);
	assert_float_equal(id_mada(&nn, 4, &flops), (1.0 + 0.5) / 2, 1e-12);
	/* the first three only: m1 = 2 and 4/3, T_3 = 3 and 2 */
	assert_float_equal(id_mom(&nn, 3, &flops), (2.0 / 1.0 + (4.0 / 3) / (2 - 4.0 / 3)) / 2,
			   1e-12);
	assert_true(flops > 0);
	expect_error(id_mom(&nn, 5, &flops), "mom", "2 <= k <= 4");
	expect_error(id_mada(&nn, 5, &flops), "mada", "2 <= k <= 4");
	knn_free(&nn);
	const double same[] = { 0, 0, 0, 0, 1, 1, 1, 1 };
	nn = table(2, 4, same, NULL);
	expect_error(id_mom(&nn, 4, &flops), "mom", "point 0");
	expect_error(id_mada(&nn, 4, &flops), "mada", "duplicate");
	knn_free(&nn);
}

/* Points 0, 1, 3, 6, 10 on a line. First-neighbour distances 1 1 2 3 4 (median r1 = 2),
 * second 3 2 3 4 7 (median r2 = 3); of the ten pair distances 1 2 3 3 4 5 6 7 9 10 one is
 * below 2 and two below 3: log(2/1) / log(3/2). */
static void test_corrint_by_hand(void **state)
{
	(void)state;
	const float x[] = { 0, 1, 3, 6, 10 };
	struct knn nn;
	uint64_t flops = 0;
	assert_int_equal(knn_search(x, 5, 1, 2, 1, &nn, &flops), 0);
	assert_float_equal(id_corrint(x, 1, &nn, 1, 2, 1, &flops), log(2.0) / log(1.5), 1e-12);
	expect_error(id_corrint(x, 1, &nn, 2, 2, 1, &flops), "corrint", "k1 < k2");
	expect_error(id_corrint(x, 1, &nn, 1, 3, 1, &flops), "corrint", "k1 < k2 <= 2");
	knn_free(&nn);
	/* evenly spaced: the medians of the 1st and 2nd neighbour distances are both 1 */
	const float even[] = { 0, 1, 2, 3, 4, 5, 6 };
	assert_int_equal(knn_search(even, 7, 1, 2, 1, &nn, &flops), 0);
	expect_error(id_corrint(even, 1, &nn, 1, 2, 1, &flops), "corrint", "are equal");
	knn_free(&nn);
}

/* The query at the origin with neighbours u1 = (1, 0) and u2 = (0, 2): r = 2, |u1 - u2|^2 = 5.
 * Pair (1, 2): s = r (sqrt(2^2 + 4*5*3) - 2) / (2*3) = 2 = t, log(s/r) = 0. Pair (2, 1), the
 * row at distance r: s = r v^2 / (r^2 + v^2 - 1) = 10/8 = t. With log(1/2) from the
 * distances: -2 * 4 / (2 log(1.25/2) + 2 log(1/2)). */
static void test_tle_by_hand(void **state)
{
	(void)state;
	const float x[] = { 0, 0, 1, 0, 0, 2 };
	const double d[] = { 1, 2 };
	const int index[] = { 1, 2 };
	struct knn nn = table(1, 2, d, index);
	uint64_t flops = 0;
	double expected = -8 / (2 * log(1.25 / 2) + 2 * log(0.5));
	assert_float_equal(id_tle(x, 2, &nn, 2, 1e-4, 1, &flops), expected, 1e-12);
	knn_free(&nn);
	/* u1 = (1, 0), u2 = (-1, 0), u3 = (0, 0.5): r = 1. Pairs (1, 2) and (2, 1) are rows at r
	 * with |u1 + u2| = 0, where the reference divides 0 by 0: the limit t = r, s = 4/4 = r.
	 * Pairs (1, 3), (2, 3): s = t = 1.25 / (1 + 1.25 - 0.25) = 0.625. Pairs (3, 1), (3, 2):
	 * s = t = (sqrt(0.25 + 4 * 1.25 * 0.75) - 0.5) / 1.5 = 1. With log(0.5) from the
	 * distances: -2 * 9 / (4 log 0.625 + 2 log 0.5). */
	const float opposite[] = { 0, 0, 1, 0, -1, 0, 0, 0.5f };
	const double d3[] = { 1, 1, 0.5 };
	const int index3[] = { 1, 2, 3 };
	nn = table(1, 3, d3, index3);
	expected = -18 / (4 * log(0.625) + 2 * log(0.5));
	assert_float_equal(id_tle(opposite, 2, &nn, 3, 1e-4, 1, &flops), expected, 1e-12);
	knn_free(&nn);
	nn = table(1, 2, d, index);
	/* both neighbours on the query: no scale at all */
	const float on[] = { 0, 0, 0, 0, 0, 0 };
	expect_error(id_tle(on, 2, &nn, 2, 1e-4, 1, &flops), "tle", "point 0");
	knn_free(&nn);
}

/* Four neighbours at the corners of a square about their mean: the four adjacent pairs have
 * sin = 1, the two opposite ones sin = 0, all |a||b| = 2, so the skewness is 8/12 = 2/3,
 * between ref(2) = 2/pi and ref(3) = pi/4: 2 + (2/3 - 2/pi) / (pi/4 - 2/pi). */
static void test_ess_by_hand(void **state)
{
	(void)state;
	assert_float_equal(id_ess_reference(1), 0, 0);
	assert_float_equal(id_ess_reference(2), 2 / M_PI, 1e-15);
	assert_float_equal(id_ess_reference(3), M_PI / 4, 1e-15);
	/* Gamma(m/2)^2 / (Gamma((m+1)/2) Gamma((m-1)/2)) from lgamma */
	for (int m = 4; m <= 200; m += 49) {
		double closed = exp(2 * lgamma(m / 2.0) - lgamma((m + 1) / 2.0) -
				    lgamma((m - 1) / 2.0));
		assert_float_equal(id_ess_reference(m), closed, 1e-12);
	}
	const float x[] = { 9, 9, 1, 1, 1, -1, -1, 1, -1, -1 };
	const double d[] = { 1, 1, 1, 1 };
	const int index[] = { 1, 2, 3, 4 };
	struct knn nn = table(1, 4, d, index);
	uint64_t flops = 0;
	double expected = 2 + (2.0 / 3 - 2 / M_PI) / (M_PI / 4 - 2 / M_PI);
	assert_float_equal(id_ess(x, 2, &nn, 4, 1, &flops), expected, 1e-12);
	const float on[] = { 9, 9, 1, 1, 1, 1, 1, 1, 1, 1 };
	expect_error(id_ess(on, 2, &nn, 4, 1, &flops), "ess", "coincide");
	knn_free(&nn);
}

/* Lambert's W at known points, and FisherS's dimension as the inverse of the inseparability
 * probability of the n-sphere, p = (1 - a^2)^((n-1)/2) / (a sqrt(2 pi n)). */
static void test_fishers_formula(void **state)
{
	(void)state;
	assert_float_equal(id_lambert_w(0), 0, 0);
	assert_float_equal(id_lambert_w(M_E), 1, 1e-14);
	assert_float_equal(id_lambert_w(1), 0.5671432904097838, 1e-14);
	assert_float_equal(id_lambert_w(10 * exp(10.0)), 10, 1e-12);
	double w = id_lambert_w(1e300);
	assert_float_equal(w + log(w), log(1e300), 1e-12);
	const int dims[] = { 2, 7, 30, 150 };
	const double alphas[] = { 0.6, 0.8, 0.98 };
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 3; j++) {
			double a = alphas[j], n = dims[i];
			double p = pow(1 - a * a, (n - 1) / 2) / (a * sqrt(2 * M_PI * n));
			assert_float_equal(id_fishers_dimension(p, a), n, 1e-9 * n);
		}
	assert_true(isnan(id_fishers_dimension(0, 0.8)));
}

/* DANCo's distance divergence at dcal = dhat: H_k + (k - 1)/k, since the alternating sum
 * sum_i (-1)^i C(k, i) psi(1 + i) is -1/k. */
static void test_danco_divergence_formula(void **state)
{
	(void)state;
	for (int k = 2; k <= 12; k += 5) {
		double harmonic = 0;
		for (int i = 1; i <= k; i++)
			harmonic += 1.0 / i;
		assert_float_equal(id_danco_kl_d(4, 4, k), harmonic + (k - 1.0) / k, 1e-9);
		assert_float_equal(id_danco_kl_d(1.5, 1.5, k), harmonic + (k - 1.0) / k, 1e-9);
	}
}

/* ---- flat data of known dimension ---- */

/* Every estimator, with its default settings, on n = 2000 points uniform in the d-cube or
 * standard normal in R^d, three constant columns beside them, for d = 2 and 5. PCA, global
 * and local, counts a flat set's directions exactly. The neighbour estimators are biased at
 * this n, more as d grows: low in the cube (its boundary cuts neighbourhoods short), high for
 * the ball-calibrated DANCo and for TLE and MADA on the Gaussian's thinning tails; within 15%
 * of d for all of them here (Levina and Bickel's and Campadelli et al.'s experiments show
 * biases of this size at d <= 5 and n ~ 10^3; at d = 10 several are 20% low, untested). On
 * the Gaussian, whitened and projected on the sphere, FisherS sees its own model exactly. */
static void test_flat_data_of_known_dimension(void **state)
{
	(void)state;
	size_t n = 2000;
	struct id_params p;
	id_params_defaults(&p);
	for (int d = 2; d <= 5; d += 3)
		for (int gaussian = 0; gaussian <= 1; gaussian++) {
			int D = d + 3;
			float *x = flat(n, d, D, gaussian, 11);
			struct knn nn;
			uint64_t flops = 0;
			assert_int_equal(knn_search(x, n, D, 101, 2, &nn, &flops), 0);
			for (int e = 0; e < ID_ESTIMATORS; e++) {
				struct lpca_result lp;
				double v = id_estimate((enum id_estimator)e, &p, x, n, D, &nn, 2,
						       &lp, &flops);
				const char *name = id_estimator_name((enum id_estimator)e);
				const char *what = gaussian ? "Gaussian" : "cube";
				print_message("%s in R^%d: %-8s %.3f\n", what, d, name, v);
				double tolerance = e == ID_PCA || e == ID_LPCA ? 0 :
						   e == ID_FISHERS && gaussian ? 0.1 :
										 0.15 * d;
				if (!(fabs(v - d) <= tolerance))
					fail_msg("%s on the %s in R^%d: %g, beyond %g of the truth",
						 name, what, d, v, tolerance);
			}
			knn_free(&nn);
			free(x);
		}
}

/* ---- degenerate input ---- */

/* Whatever the data, an estimator gives a finite positive estimate or an error that starts
 * with its name: never 0 or NaN as an estimate. */
static void finite_or_named_error(const float *x, size_t n, int D, const char *what,
				  int *errors)
{
	struct id_params p;
	id_params_defaults(&p);
	struct knn nn;
	uint64_t flops = 0;
	assert_int_equal(knn_search(x, n, D, 101, 1, &nn, &flops), 0);
	for (int e = 0; e < ID_ESTIMATORS; e++) {
		struct lpca_result lp;
		ds_fail("%s", "");
		double v = id_estimate((enum id_estimator)e, &p, x, n, D, &nn, 1, &lp, &flops);
		const char *name = id_estimator_name((enum id_estimator)e);
		if (isnan(v)) {
			if (strncmp(ds_errmsg(), name, strlen(name)))
				fail_msg("%s on %s: NaN with '%s', which does not name it", name,
					 what, ds_errmsg());
			print_message("%s: %s\n", what, ds_errmsg());
			errors[e]++;
		} else if (!(isfinite(v) && v > 0)) {
			fail_msg("%s on %s: %g", name, what, v);
		}
	}
	knn_free(&nn);
}

static void test_degenerate_input_is_named(void **state)
{
	(void)state;
	size_t n = 300;
	int errors[ID_ESTIMATORS] = { 0 };
	/* one point, 300 times: nothing has a scale or a direction, every estimator refuses */
	float *x = malloc(sizeof(float) * n * 4);
	for (size_t i = 0; i < n * 4; i++)
		x[i] = (float)(i % 4);
	finite_or_named_error(x, n, 4, "one point repeated", errors);
	for (int e = 0; e < ID_ESTIMATORS; e++)
		if (errors[e] != 1)
			fail_msg("%s gave an estimate of one repeated point",
				 id_estimator_name((enum id_estimator)e));
	/* every point twice: the estimators that divide by the nearest distance refuse */
	float *y = flat(n / 2, 3, 4, 1, 5);
	memcpy(x, y, sizeof(float) * n / 2 * 4);
	memcpy(x + n / 2 * 4, y, sizeof(float) * n / 2 * 4);
	memset(errors, 0, sizeof(errors));
	finite_or_named_error(x, n, 4, "every point twice", errors);
	assert_true(errors[ID_MLE] && errors[ID_TWONN] && errors[ID_DANCO]);
	assert_false(errors[ID_PCA] || errors[ID_FISHERS] || errors[ID_ESS]);
	free(y);
	free(x);
	/* fewer neighbours than an estimator reads */
	x = flat(50, 2, 2, 0, 3);
	struct knn nn;
	uint64_t flops = 0;
	assert_int_equal(knn_search(x, 50, 2, 20, 1, &nn, &flops), 0);
	struct id_params p;
	id_params_defaults(&p);
	struct lpca_result lp;
	expect_error(id_estimate(ID_MOM, &p, x, 50, 2, &nn, 1, &lp, &flops), "mom", "<= 20");
	expect_error(id_estimate(ID_ESS, &p, x, 50, 2, &nn, 1, &lp, &flops), "ess", "<= 20");
	expect_error(id_estimate(ID_CORRINT, &p, x, 20, 2, &nn, 1, &lp, &flops), "corrint",
		     "no neighbours of the 20 points");
	knn_free(&nn);
	assert_int_equal(knn_search(x, 50, 2, 50, 1, &nn, &flops), -1);
	assert_non_null(strstr(ds_errmsg(), "50 neighbours need more than 50 points"));
	free(x);
}

/* DANCo's calibration is seeded per dimension: the same on 1 and 2 threads, another seed
 * another draw. */
static void test_danco_is_seeded(void **state)
{
	(void)state;
	size_t n = 600;
	float *x = flat(n, 3, 4, 0, 8);
	struct knn nn;
	uint64_t f0 = 0, f1 = 0, f2 = 0;
	assert_int_equal(knn_search(x, n, 4, 11, 1, &nn, &f0), 0);
	double one = id_danco(x, 4, &nn, 10, 0, DANCO_SKDIM, 1, 1, &f1);
	double two = id_danco(x, 4, &nn, 10, 0, DANCO_SKDIM, 1, 2, &f2);
	double other = id_danco(x, 4, &nn, 10, 0, DANCO_SKDIM, 2, 2, &f0);
	print_message("DANCo on the 3-cube: %.6f (seed 1), %.6f (seed 2)\n", one, other);
	assert_true(one == two && f1 == f2);
	assert_true(other != one && fabs(other - 3) < 0.5 && fabs(one - 3) < 0.5);
	/* the balls of up to 4 dimensions have their likelihood's maximum inside both bounds,
	 * [0, k] and [0, 2d + 5]: the two calibrations agree, to the bisection's tolerance */
	assert_float_equal(id_danco(x, 4, &nn, 10, 0, DANCO_ORIGINAL, 1, 2, &f0), one, 1e-9);
	/* a smaller calibration range caps the answer */
	assert_true(id_danco(x, 4, &nn, 10, 2, DANCO_SKDIM, 1, 2, &f0) <= 2);
	knn_free(&nn);
	free(x);
}

/* ---- as strategies, with their keys ---- */

static struct experiment_file file;

static int load(const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("idest2.ini"));
	write_text(path, text);
	experiments_free(&file);
	int rc = experiments_load(&file, path, dimsearch_strategies());
	if (rc)
		print_message("%s", file.errors);
	return rc;
}

static void test_strategies_and_keys(void **state)
{
	(void)state;
	const char *names[] = { "pca", "corrint", "mom", "tle", "mada", "ess", "fishers", "danco" };
	assert_int_equal(load("[s]\ndataset = affine:d=3,D=8,n=400,noise=0\nhidden = 8\n"
			      "epochs = 1\nbatch = 64\nk_max = 6\nid.n = 0\n"
			      "strategies = lpca, pca, corrint, mom, tle, mada, ess, fishers, "
			      "danco\n"
			      "lpca.fit = global\npca.variance = 0.9\n"),
			 0);
	const struct experiment *e = &file.exp[0];
	struct trial_record t;
	const struct strategy *lpca = registry_find(dimsearch_strategies(), "lpca");
	assert_int_equal(lpca->plan(e, 1, &t, 1), 1);
	assert_string_equal(t.key, "lpca/k=100/alpha=0.05/fit=global/n=0/kmax=6/seed=1");
	struct data_opts o = { .n_train = e->n_train, .n_val = e->n_val, .n_test = e->n_test,
			       .seed = (uint64_t)e->data_seed };
	struct dataset d;
	assert_int_equal(dataset_load(&d, e->dataset, &o), 0);
	struct trial_ctx c = { .exp = e, .data = &d, .threads = 1 };
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		const struct strategy *s = registry_find(dimsearch_strategies(), names[i]);
		assert_non_null(s);
		assert_int_equal(s->check(e, &d), 0);
		assert_int_equal(s->plan(e, 1, &t, 1), 1);
		assert_true(!strncmp(t.key, names[i], strlen(names[i])));
		/* only PCA is run here: the others' estimates are tested above */
		if (strcmp(names[i], "pca"))
			continue;
		assert_string_equal(t.key, "pca/variance=0.9/n=0/kmax=6/seed=1");
		assert_int_equal(s->run(&c, &t), TRIAL_COMPLETE);
		/* flat d = 3 data: three components hold all of the variance */
		assert_int_equal(t.latent, 3);
		assert_non_null(strstr(t.details, "\"estimator\":\"pca\",\"estimate\":3,"));
	}
	dataset_free(&d);
	/* pointwise local PCA keeps the key it always had */
	assert_int_equal(load("[s]\ndataset = affine:n=100\nk_max = 4\nstrategies = lpca, mom\n"),
			 0);
	assert_int_equal(lpca->plan(&file.exp[0], 2, &t, 1), 1);
	assert_string_equal(t.key, "lpca/k=100/alpha=0.05/n=2500/kmax=4/seed=2");
	/* too few points for MOM's 100 neighbours, named before anything runs */
	o = (struct data_opts){ .n_train = 80, .n_val = 10, .n_test = 10, .seed = 1 };
	assert_int_equal(dataset_load(&d, "affine:n=100", &o), 0);
	const struct strategy *mom = registry_find(dimsearch_strategies(), "mom");
	assert_int_equal(mom->check(&file.exp[0], &d), -1);
	assert_non_null(strstr(ds_errmsg(), "mom.k = 100 neighbours need more than 80 points"));
	dataset_free(&d);
	/* CorrInt's scales out of order, a word that is not a fit */
	assert_int_equal(load("[s]\ndataset = affine:n=100\nk_max = 4\nstrategies = corrint\n"
			      "corrint.k1 = 20\n"),
			 -1);
	assert_non_null(strstr(file.errors, "corrint.k1 = 20 must be below corrint.k2 = 20"));
	assert_int_equal(load("[s]\ndataset = affine:n=100\nk_max = 4\nstrategies = lpca\n"
			      "lpca.fit = median\n"),
			 -1);
	assert_non_null(strstr(file.errors, "'median' is not pointwise"));
	experiments_free(&file);
	/* the same keys from the command line's --set */
	struct id_params p;
	id_params_defaults(&p);
	char why[256];
	assert_int_equal(id_settings_set(&p, "lpca.fit=global", why, sizeof(why)), 0);
	assert_int_equal(id_settings_set(&p, "danco.D = 7", why, sizeof(why)), 0);
	assert_int_equal(id_settings_set(&p, "danco.calibration=original", why, sizeof(why)), 0);
	assert_true(p.lpca_fit == LPCA_GLOBAL && p.danco_max_dim == 7 &&
		    p.danco_calibration == DANCO_ORIGINAL);
	char text[64];
	id_setting_text(ID_DANCO, &p, text, sizeof(text));
	assert_string_equal(text, "k=10/D=7/cal=original");
	assert_int_equal(id_settings_set(&p, "tle.k=1", why, sizeof(why)), -1);
	assert_int_equal(id_settings_set(&p, "id.n=5", why, sizeof(why)), -1);
	assert_non_null(strstr(why, "--n"));
	assert_int_equal(id_settings_set(&p, "grid=1..4", why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not an estimator's key"));
}

/* dimsearch id: every estimator, one JSON line each with its name, and --set reaching the
 * estimators' keys. */
static void test_id_command_lists_every_estimator(void **state)
{
	(void)state;
	static char out[1 << 16];
	assert_int_equal(run_command("./dimsearch id --dataset M7_Roll:n=400 --estimator all "
				     "--json --threads 1",
				     out, sizeof(out)),
			 0);
	int lines = 0;
	for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), lines++) {
		char want[64];
		snprintf(want, sizeof(want), "\"estimator\":\"%s\",\"estimate\":",
			 id_estimator_name((enum id_estimator)lines));
		assert_true(json_valid(line));
		if (!strstr(line, want))
			fail_msg("line %d lacks %s: %s", lines + 1, want, line);
		assert_non_null(strstr(line, "\"true_dimension\":2,\"n\":400"));
	}
	assert_int_equal(lines, ID_ESTIMATORS);
	assert_int_equal(run_command("./dimsearch id --dataset M7_Roll:n=400 --estimator lpca "
				     "--set lpca.fit=global --json --threads 1",
				     out, sizeof(out)),
			 0);
	assert_non_null(strstr(out, "\"estimate\":3,\"median\":3,\"global\":3,"));
	assert_int_equal(run_command("./dimsearch id --dataset M7_Roll --set pca.k=3", out,
				     sizeof(out)),
			 2);
	assert_non_null(strstr(out, "--set pca.k=3: 'pca.k' is not an estimator's key"));
}

int main(void)
{
	blas_single_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pca_counts_components_by_hand),
		cmocka_unit_test(test_mom_and_mada_by_hand),
		cmocka_unit_test(test_corrint_by_hand),
		cmocka_unit_test(test_tle_by_hand),
		cmocka_unit_test(test_ess_by_hand),
		cmocka_unit_test(test_fishers_formula),
		cmocka_unit_test(test_danco_divergence_formula),
		cmocka_unit_test(test_flat_data_of_known_dimension),
		cmocka_unit_test(test_degenerate_input_is_named),
		cmocka_unit_test(test_danco_is_seeded),
		cmocka_unit_test(test_strategies_and_keys),
		cmocka_unit_test(test_id_command_lists_every_estimator),
	};
	return cmocka_run_group_tests_name("idest2", tests, NULL, NULL);
}
