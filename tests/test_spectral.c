/* test_spectral.c: spectral normalisation as a reparametrisation: the power iteration against
 * a closed form (and after a column is zeroed), the gradient with respect to the free matrices against central finite
 * differences of the loss as a function of them (sigma = u^T V v with u and v held, as
 * PyTorch differentiates it), and training with it keeping every normalised layer's largest
 * singular value at 1. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/model.h"
#include "../core/spectral.h"
#include "../core/train.h"

static void test_closed_form(void **state)
{
	(void)state;
	/* a 2-2-2 linear autoencoder whose decoder is diag(3, 0.5): sigma converges on 3, and
	 * the weights the network computes with become diag(1, 1/6) */
	int hidden[1] = { 0 };
	struct ae_arch a = ae_arch_plain(2, hidden, 0, 2, ACT_RELU, ACT_IDENTITY, ACT_IDENTITY, 0);
	struct ae *m = ae_new(&a);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, 1);
	ae_init(m, &r);
	int l = m->latent_layer + 1;
	float *W = m->params + m->w_off[l];
	W[0] = 3, W[1] = 0, W[2] = 0, W[3] = 0.5f;
	uint64_t fl = 0;
	assert_int_equal(ae_spectral_on(m, l, m->n_layers, &r, &fl), 0);
	const double *u, *v;
	assert_float_equal(ae_spectral_sigma(m, l, &u, &v), 3.0, 1e-9);
	assert_float_equal(fabs(u[0]), 1.0, 1e-9);
	assert_float_equal(fabs(v[0]), 1.0, 1e-9);
	assert_float_equal(W[0], 1.0, 1e-7);
	assert_float_equal(W[3], 0.5 / 3, 1e-7);
	assert_true(W[1] == 0 && W[2] == 0);
	/* 15 iterations (2 products of 2 x 2 each, two norms, the divisions), then W = V / sigma */
	assert_true(fl == SPECTRAL_INIT_ITERATIONS * (4 * 4 + 3 * 2 + 3 * 2) + 4 + 1);
	assert_float_equal(ae_spectral_sigma(m, 0, NULL, NULL), 0.0, 0); /* not normalised */
	/* a zeroed column (a unit folded into the bias) leaves V = diag(0, 0.5), whose top
	 * direction is orthogonal to u's: sigma = 0.5 again, and W = diag(0, 1) */
	fl = 0;
	ae_spectral_zero_column(m, l, 0, &fl);
	assert_float_equal(ae_spectral_sigma(m, l, NULL, NULL), 0.5, 1e-9);
	assert_true(W[0] == 0 && W[2] == 0);
	assert_float_equal(W[3], 1.0, 1e-7);
	assert_true(fl == 4 * 2 + 1 + SPECTRAL_INIT_ITERATIONS * (4 * 4 + 3 * 2 + 3 * 2) + 4 + 1);
	/* off: the model keeps the normalised weights */
	ae_spectral_off(m);
	assert_null(m->sn);
	assert_float_equal(W[3], 1.0, 1e-7);
	ae_delete(m);
}

#define D 6
#define ROWS 4

/* The mean squared error of a ReLU-hidden, linear-code, linear-output model with parameters p
 * on x, in double. */
static double loss_double(const struct ae *m, const double *p, const float *x)
{
	double a[ROWS][16], b[ROWS][16];
	for (int r = 0; r < ROWS; r++)
		for (int i = 0; i < D; i++)
			a[r][i] = x[r * D + i];
	for (int l = 0; l < m->n_layers; l++) {
		int in = m->width[l], out = m->width[l + 1];
		for (int r = 0; r < ROWS; r++)
			for (int j = 0; j < out; j++) {
				double s = p[m->b_off[l] + j];
				for (int i = 0; i < in; i++)
					s += p[m->w_off[l] + (size_t)j * in + i] * a[r][i];
				int relu = l != m->latent_layer && l != m->n_layers - 1;
				b[r][j] = relu && s < 0 ? 0 : s;
			}
		memcpy(a, b, sizeof(a));
	}
	double e = 0;
	for (int r = 0; r < ROWS; r++)
		for (int i = 0; i < D; i++)
			e += (a[r][i] - x[r * D + i]) * (a[r][i] - x[r * D + i]);
	return e / (ROWS * D);
}

/* The parameters the network computes with when the normalised layers' free matrices are
 * those in V (double, n_params; other entries as they are): W = V / (u^T V v). */
static void effective(const struct ae *m, const double *V, double *p)
{
	memcpy(p, V, sizeof(double) * m->n_params);
	for (int l = m->latent_layer + 1; l < m->n_layers; l++) {
		int in = m->width[l], out = m->width[l + 1];
		const double *u, *v;
		ae_spectral_sigma(m, l, &u, &v);
		double sigma = 0;
		for (int j = 0; j < out; j++)
			for (int i = 0; i < in; i++)
				sigma += u[j] * V[m->w_off[l] + (size_t)j * in + i] * v[i];
		for (size_t q = 0; q < (size_t)in * out; q++)
			p[m->w_off[l] + q] = V[m->w_off[l] + q] / sigma;
	}
}

static void test_gradient_finite_differences(void **state)
{
	(void)state;
	int hidden[1] = { 5 };
	struct ae_arch a = ae_arch_plain(D, hidden, 1, 3, ACT_RELU, ACT_IDENTITY, ACT_IDENTITY, 0);
	struct ae *m = ae_new(&a);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, 7);
	ae_init(m, &r);
	float x[ROWS * D];
	for (int i = 0; i < ROWS * D; i++)
		x[i] = (float)(2 * rng_uniform(&r) - 1);
	uint64_t fl = 0;
	assert_int_equal(ae_spectral_on(m, m->latent_layer + 1, m->n_layers, &r, &fl), 0);
	/* the trainer's order: the gradient G at W, then dL/dV with the params back at V */
	struct ae_work *w = ae_work_new(m, ROWS);
	assert_non_null(w);
	uint64_t gemm = 0, ew = 0;
	double pen = 0;
	w->training = 1;
	ae_forward(m, w, x, ROWS, &gemm, &ew);
	ae_backward(m, w, x, ROWS, LOSS_MSE, 1.0f / (ROWS * D), NULL, 0, &pen, m->grad, &gemm, &ew);
	ae_spectral_grad(m, &fl);
	double *V = malloc(sizeof(double) * m->n_params), *p = malloc(sizeof(double) * m->n_params);
	assert_true(V && p);
	for (size_t q = 0; q < m->n_params; q++)
		V[q] = m->params[q];
	int checked = 0;
	double worst = 0;
	for (int l = 0; l < m->n_layers; l++) {
		size_t n = (size_t)m->width[l] * m->width[l + 1];
		for (size_t q = m->w_off[l]; q < m->w_off[l] + n; q++) {
			const double h = 1e-5;
			double keep = V[q];
			V[q] = keep + h;
			effective(m, V, p);
			double up = loss_double(m, p, x);
			V[q] = keep - h;
			effective(m, V, p);
			double down = loss_double(m, p, x);
			V[q] = keep;
			double fd = (up - down) / (2 * h), g = m->grad[q];
			double err = fabs(fd - g) / (1e-4 + fabs(fd));
			worst = err > worst ? err : worst;
			checked++;
		}
	}
	print_message("%d weights, worst relative error %.2e\n", checked, worst);
	assert_true(worst < 1e-3);
	free(V);
	free(p);
	ae_work_delete(w);
	ae_delete(m);
}

/* sigma(W) by many power iterations from a fixed start, in double. */
static double largest_singular(const float *W, int out, int in)
{
	double u[64], v[64], s = 0;
	for (int j = 0; j < out; j++)
		u[j] = 1.0 + 0.01 * j;
	for (int it = 0; it < 500; it++) {
		double n = 0;
		for (int i = 0; i < in; i++) {
			v[i] = 0;
			for (int j = 0; j < out; j++)
				v[i] += W[(size_t)j * in + i] * u[j];
			n += v[i] * v[i];
		}
		for (int i = 0; i < in; i++)
			v[i] /= sqrt(n);
		s = 0;
		for (int j = 0; j < out; j++) {
			u[j] = 0;
			for (int i = 0; i < in; i++)
				u[j] += W[(size_t)j * in + i] * v[i];
			s += u[j] * u[j];
		}
		s = sqrt(s);
		for (int j = 0; j < out; j++)
			u[j] /= s;
	}
	return s;
}

/* Training with the decoder normalised: each normalised layer's weights end with largest
 * singular value at least 1 (a power iteration's |V v| never exceeds sigma(V): the method's
 * guarantee) and near 1 (one iteration per step tracks a matrix Adam moves; here 1.001 and
 * 1.057, so 1.15 leaves room for other BLAS kernels and is far below the unnormalised
 * layers' 1.9 and 1.4). The FLOPs of the iterations and gradient conversions are counted. */
static void test_training_keeps_sigma_at_one(void **state)
{
	(void)state;
	int hidden[1] = { 24 };
	struct ae_arch a = ae_arch_plain(12, hidden, 1, 4, ACT_RELU, ACT_IDENTITY, ACT_IDENTITY, 0);
	struct ae *m = ae_new(&a), *plain = ae_new(&a);
	assert_true(m && plain);
	struct rng r;
	rng_seed(&r, 5);
	struct split s = { .n = 256, .dim = 12 };
	s.x = malloc(sizeof(float) * s.n * s.dim);
	assert_non_null(s.x);
	for (size_t i = 0; i < s.n * (size_t)s.dim; i++)
		s.x[i] = (float)(3 * rng_normal(&r));
	struct flops f[2] = { { 0 }, { 0 } };
	for (int pass = 0; pass < 2; pass++) {
		struct ae *x = pass ? m : plain;
		struct rng ri;
		rng_seed(&ri, 11);
		ae_init(x, &ri);
		uint64_t init = 0;
		if (pass)
			assert_int_equal(ae_spectral_on(x, x->latent_layer + 1, x->n_layers, &ri,
							&init), 0);
		struct train_cfg c;
		train_cfg_defaults(&c);
		c.epochs = 5;
		c.batch = 32;
		c.adam.lr = 0.01f;
		struct rng rt;
		rng_seed(&rt, 2);
		assert_int_equal(ae_train(x, &s, &s, &c, &rt, &f[pass]), 5);
	}
	for (int l = m->latent_layer + 1; l < m->n_layers; l++) {
		double sn = largest_singular(m->params + m->w_off[l], m->width[l + 1], m->width[l]);
		double sp = largest_singular(plain->params + plain->w_off[l], plain->width[l + 1],
					     plain->width[l]);
		print_message("layer %d: sigma %.5f normalised, %.3f plain\n", l, sn, sp);
		assert_true(sn >= 1.0 - 1e-5 && sn < 1.15);
		assert_true(sp > 1.3);
	}
	/* every step: per normalised layer one iteration (4 out in + ...), the conversion
	 * (5 out in + out) and W = V / sigma (out in + 1) */
	uint64_t steps = 5 * (256 / 32), extra = 0;
	for (int l = m->latent_layer + 1; l < m->n_layers; l++) {
		uint64_t in = m->width[l], out = m->width[l + 1];
		extra += steps * (4 * out * in + 3 * in + 3 * out + 5 * out * in + out + out * in + 1);
	}
	assert_true(f[1].elementwise - f[0].elementwise == extra);
	assert_true(f[1].train_gemm == f[0].train_gemm);
	free(s.x);
	ae_delete(m);
	ae_delete(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closed_form),
		cmocka_unit_test(test_gradient_finite_differences),
		cmocka_unit_test(test_training_keeps_sigma_at_one),
	};
	return cmocka_run_group_tests_name("spectral", tests, NULL, NULL);
}
