/* test_idest.c: the intrinsic-dimension estimators on sets of known dimension, and every
 * benchmark manifold against its defining equations. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../baselines/idest.h"
#include "../core/blas.h"
#include "../core/data.h"
#include "../core/err.h"
#include "../core/manifolds.h"
#include "../core/rng.h"

static struct dataset load(const char *spec, long n)
{
	struct data_opts o = { .n_train = n, .n_val = 0, .n_test = 0, .seed = 1 };
	struct dataset d;
	if (dataset_load(&d, spec, &o))
		fail_msg("%s: %s", spec, ds_errmsg());
	return d;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void test_knn_against_brute_force(void **state)
{
	(void)state;
	struct dataset d = load("sphere:d=2,D=5,n=700", 0);
	struct knn nn;
	uint64_t flops = 0;
	assert_int_equal(knn_search(d.train.x, d.train.n, 5, 7, 2, &nn, &flops), 0);
	assert_true(flops > 2ull * 700 * 700 * 5);
	for (size_t i = 0; i < d.train.n; i += 37) {
		/* the k-th distance found equals the k-th smallest by brute force */
		double *all = malloc(sizeof(double) * d.train.n);
		size_t m = 0;
		for (size_t j = 0; j < d.train.n; j++) {
			if (j == i)
				continue;
			double sum = 0;
			for (int q = 0; q < 5; q++) {
				double t = (double)d.train.x[i * 5 + q] - d.train.x[j * 5 + q];
				sum += t * t;
			}
			all[m++] = sqrt(sum);
		}
		qsort(all, m, sizeof(double), by_value);
		double best[7];
		memcpy(best, all, sizeof(best));
		free(all);
		for (int q = 0; q < 7; q++) {
			assert_float_equal(nn.dist[i * 7 + q], best[q], 1e-5);
			assert_true(nn.index[i * 7 + q] != (int)i);
		}
	}
	knn_free(&nn);
	assert_int_equal(knn_search(d.train.x, 5, 5, 5, 1, &nn, &flops), -1);
	assert_non_null(strstr(ds_errmsg(), "need more than 5 points"));
	dataset_free(&d);
}

static struct lpca_result lpca(const char *spec, int k)
{
	struct dataset d = load(spec, 0);
	struct knn nn;
	uint64_t flops = 0;
	assert_int_equal(knn_search(d.train.x, d.train.n, d.dim, k, 2, &nn, &flops), 0);
	struct lpca_result r;
	assert_int_equal(id_lpca(d.train.x, d.train.n, d.dim, &nn, k, 0.05, 2, &r, &flops), 0);
	knn_free(&nn);
	dataset_free(&d);
	return r;
}

static void test_fukunaga_olsen_exact_on_flat_data(void **state)
{
	(void)state;
	struct lpca_result r = lpca("affine:d=3,D=5,n=1500,noise=0", 100);
	assert_true(r.mean == 3.0 && r.median == 3.0 && r.global == 3.0);
	r = lpca("affine:d=20,D=20,n=2000,noise=0", 100);
	assert_true(r.global == 20.0);
	/* a 7-dimensional Gaussian, padded with zeros to 12 coordinates */
	struct dataset d = load("M12_Norm:n=1500", 0); /* 20-dimensional Gaussian */
	struct knn nn;
	uint64_t flops = 0;
	assert_int_equal(knn_search(d.train.x, d.train.n, d.dim, 10, 2, &nn, &flops), 0);
	struct lpca_result g;
	assert_int_equal(id_lpca(d.train.x, d.train.n, d.dim, &nn, 10, 0.05, 2, &g, &flops), 0);
	assert_true(g.global == 20.0);
	knn_free(&nn);
	dataset_free(&d);
}

static double twonn(const char *spec)
{
	struct dataset d = load(spec, 0);
	struct knn nn;
	uint64_t flops = 0;
	assert_int_equal(knn_search(d.train.x, d.train.n, d.dim, 2, 2, &nn, &flops), 0);
	double e = id_twonn(&nn, 0.1, &flops);
	knn_free(&nn);
	dataset_free(&d);
	return e;
}

static void test_twonn_on_two_dimensional_surfaces(void **state)
{
	(void)state;
	double roll = twonn("M7_Roll:n=2500"), scurve = twonn("M13a_Scurve:n=2500");
	print_message("TwoNN: Swiss roll %.3f, S-curve %.3f\n", roll, scurve);
	assert_true(fabs(roll - 2.0) <= 0.15);
	assert_true(fabs(scurve - 2.0) <= 0.15);
}

static void test_mle_on_a_ball(void **state)
{
	(void)state;
	/* uniform in the 5-ball: direction uniform, radius U^(1/5) */
	size_t n = 3000;
	float *x = malloc(sizeof(float) * n * 5);
	struct rng r;
	rng_seed(&r, 5);
	for (size_t i = 0; i < n; i++) {
		double v[5], norm = 0;
		for (int q = 0; q < 5; q++) {
			v[q] = rng_normal(&r);
			norm += v[q] * v[q];
		}
		double radius = pow(rng_uniform(&r), 1.0 / 5);
		for (int q = 0; q < 5; q++)
			x[i * 5 + q] = (float)(radius * v[q] / sqrt(norm));
	}
	struct knn nn;
	uint64_t flops = 0;
	assert_int_equal(knn_search(x, n, 5, 20, 2, &nn, &flops), 0);
	double e = id_mle(&nn, 20, &flops);
	print_message("MLE on the 5-ball: %.3f\n", e);
	assert_true(fabs(e - 5.0) <= 0.5);
	assert_true(isnan(id_mle(&nn, 21, &flops)));
	knn_free(&nn);
	free(x);
}

static void test_same_seed_same_estimate(void **state)
{
	(void)state;
	assert_true(twonn("M11_Moebius:n=1200") == twonn("M11_Moebius:n=1200"));
	struct lpca_result a = lpca("M5b_Helix2d:n=800", 30), b = lpca("M5b_Helix2d:n=800", 30);
	assert_true(a.mean == b.mean && a.median == b.median && a.global == b.global);
}

/* ---- the manifolds ---- */

static void test_manifolds_satisfy_their_equations(void **state)
{
	(void)state;
	assert_int_equal(manifold_count(), 24);
	for (int i = 0; i < manifold_count(); i++) {
		const struct manifold *m = manifold_at(i);
		char spec[64];
		snprintf(spec, sizeof(spec), "%s:n=600", m->name);
		struct dataset d = load(spec, 0);
		assert_int_equal(d.dim, m->dim);
		assert_true(d.true_dim == m->d);
		assert_int_equal(d.train.n, 600);
		const float *x = d.train.x;
		int D = m->dim, k = m->d;
		for (size_t p = 0; p < d.train.n; p++) {
			const float *v = x + p * D;
			double s = 0;
			if (!strcmp(m->name, "M1_Sphere")) {
				for (int q = 0; q < D; q++)
					s += v[q] * v[q];
				assert_float_equal(s, 1.0, 1e-5);
			} else if (!strcmp(m->name, "M5a_Helix1d")) {
				double rho = sqrt(v[0] * v[0] + v[1] * v[1]) - 2;
				assert_float_equal(rho * rho + v[2] * v[2], 1.0, 1e-4);
			} else if (!strcmp(m->name, "M7_Roll")) {
				double t = sqrt(v[0] * v[0] + v[2] * v[2]);
				assert_true(t > 1.5 * M_PI - 1e-4 && t < 4.5 * M_PI + 1e-4);
				assert_float_equal(t * cos(t), v[0], 1e-3);
			} else if (!strcmp(m->name, "M13b_Spiral")) {
				assert_float_equal(v[0] * v[0] + v[1] * v[1], 1e4, 1e-1);
				for (int q = 3; q < D; q++)
					assert_true(v[q] == 0.0f);
			} else if (!strcmp(m->name, "M11_Moebius")) {
				double rho = sqrt(v[0] * v[0] + v[1] * v[1]);
				assert_true(rho >= 0.5 - 1e-6 && rho <= 1.5 + 1e-6 &&
					    fabs(v[2]) <= 0.5 + 1e-6);
			} else if (!strncmp(m->name, "M10", 3)) {
				int on_face = 0;
				for (int q = 0; q < D; q++) {
					assert_true(v[q] >= 0.0f && v[q] <= 1.0f);
					on_face |= v[q] == 0.0f || v[q] == 1.0f;
				}
				assert_true(on_face);
			} else if (!strncmp(m->name, "Mp", 2)) {
				for (int q = 0; q < k; q++)
					s += (double)v[q] * v[q];
				assert_float_equal(v[k], s, 1e-5 * fmax(1.0, s));
				for (int q = 0; q <= k; q++) {
					assert_float_equal(v[k + 1 + q], sin(v[q]), 1e-6);
					assert_float_equal(v[2 * (k + 1) + q], (double)v[q] * v[q],
							   1e-5 * fmax(1.0, (double)v[q] * v[q]));
				}
			} else if (!strcmp(m->name, "Mbeta") || !strncmp(m->name, "Mn", 2)) {
				for (int q = 0; q < 2 * k; q++) /* the two halves repeat */
					assert_true(v[q] == v[2 * k + q]);
			} else if (!strcmp(m->name, "M4_Nonlinear") ||
				   !strcmp(m->name, "M6_Nonlinear") ||
				   !strcmp(m->name, "M8_Nonlinear")) {
				for (int q = 2 * k; q < D; q++)
					assert_true(v[q] == v[q % (2 * k)]);
			} else if (!strcmp(m->name, "M9_Affine")) {
				for (int q = 0; q < D; q++)
					assert_true(v[q] >= -2.5f && v[q] <= 2.5f);
			}
		}
		dataset_free(&d);
	}
	/* the 3-to-5 affine set has rank exactly 3 */
	struct lpca_result r = lpca("M2_Affine_3to5:n=800", 50);
	assert_true(r.global == 3.0);
}

int main(void)
{
	blas_single_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_knn_against_brute_force),
		cmocka_unit_test(test_fukunaga_olsen_exact_on_flat_data),
		cmocka_unit_test(test_twonn_on_two_dimensional_surfaces),
		cmocka_unit_test(test_mle_on_a_ball),
		cmocka_unit_test(test_same_seed_same_estimate),
		cmocka_unit_test(test_manifolds_satisfy_their_equations),
	};
	return cmocka_run_group_tests_name("idest", tests, NULL, NULL);
}
