/* test_nn.c: dense layers, activations, losses and Adam against finite differences, the plain
 * reference kernels and closed forms. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/flops.h"
#include "../core/nn.h"
#include "../core/rng.h"

/* Finite differences use h = 1e-6 on functions evaluated in double; our gradients are float,
 * so agreement to a relative error of 1e-4 shows the formulas are right. */
#define FD_STEP 1e-6
#define GRAD_TOL 1e-4

static void fill(struct rng *r, float *a, size_t n, double scale)
{
	for (size_t i = 0; i < n; i++)
		a[i] = (float)(scale * rng_normal(r));
}

/* ---- dense ---- */

static void test_dense_forward_matches_reference(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 1);
	int B = 7, in = 13, out = 5;
	float X[7 * 13], W[5 * 13], b[5], Y[35], Yref[35];
	fill(&r, X, sizeof(X) / 4, 1);
	fill(&r, W, sizeof(W) / 4, 1);
	fill(&r, b, 5, 1);
	uint64_t gemm = 0;
	dense_forward(B, in, out, X, W, b, Y, &gemm);
	dense_forward_ref(B, in, out, X, W, b, Yref);
	for (int i = 0; i < B * out; i++)
		assert_float_equal(Y[i], Yref[i], 1e-4);
	assert_int_equal(gemm, 2 * B * in * out + B * out);
}

/* L(W, b, X) = sum_ij G_ij Y_ij with Y = X W^T + b, in double: dL/dY = G. */
static double dense_objective(int B, int in, int out, const double *X, const double *W,
			      const double *b, const float *G)
{
	double s = 0;
	for (int r = 0; r < B; r++)
		for (int j = 0; j < out; j++) {
			double y = b[j];
			for (int i = 0; i < in; i++)
				y += X[r * in + i] * W[j * in + i];
			s += G[r * out + j] * y;
		}
	return s;
}

struct dense_ctx {
	int B, in, out;
	double *X, *W, *b;
	const float *G;
};

static double dense_f(void *p)
{
	struct dense_ctx *c = p;
	return dense_objective(c->B, c->in, c->out, c->X, c->W, c->b, c->G);
}

static void test_dense_backward_finite_differences(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 2);
	enum { B = 6, IN = 9, OUT = 4 };
	float X[B * IN], W[OUT * IN], b[OUT], G[B * OUT];
	float dX[B * IN], dW[OUT * IN], db[OUT], dXr[B * IN], dWr[OUT * IN], dbr[OUT];
	fill(&r, X, B * IN, 1);
	fill(&r, W, OUT * IN, 1);
	fill(&r, b, OUT, 1);
	fill(&r, G, B * OUT, 1);
	uint64_t gemm = 0;
	dense_backward(B, IN, OUT, X, W, G, dX, dW, db, &gemm);
	assert_int_equal(gemm, 2 * (2 * B * IN * OUT) + B * OUT);
	dense_backward_ref(B, IN, OUT, X, W, G, dXr, dWr, dbr);
	double Xd[B * IN], Wd[OUT * IN], bd[OUT];
	for (int i = 0; i < B * IN; i++)
		Xd[i] = X[i];
	for (int i = 0; i < OUT * IN; i++)
		Wd[i] = W[i];
	for (int i = 0; i < OUT; i++)
		bd[i] = b[i];
	struct dense_ctx c = { B, IN, OUT, Xd, Wd, bd, G };
	assert_true(fd_gradient_error(dense_f, &c, Wd, OUT * IN, dW) < GRAD_TOL);
	assert_true(fd_gradient_error(dense_f, &c, bd, OUT, db) < GRAD_TOL);
	assert_true(fd_gradient_error(dense_f, &c, Xd, B * IN, dX) < GRAD_TOL);
	/* the BLAS path agrees with the plain loops */
	for (int i = 0; i < OUT * IN; i++)
		assert_float_equal(dW[i], dWr[i], 1e-4);
	for (int i = 0; i < B * IN; i++)
		assert_float_equal(dX[i], dXr[i], 1e-4);
	/* without dX (first layer) nothing is computed or counted for it */
	gemm = 0;
	dense_backward(B, IN, OUT, X, W, G, NULL, dW, db, &gemm);
	assert_int_equal(gemm, 2 * B * IN * OUT + B * OUT);
}

/* ---- activations ---- */

static double act_double(enum act a, double z)
{
	switch (a) {
	case ACT_RELU: return z > 0 ? z : 0;
	case ACT_SIGMOID: return 1 / (1 + exp(-z));
	default: return z;
	}
}

static void test_activations_finite_differences(void **state)
{
	(void)state;
	/* points away from ReLU's kink at 0 */
	float z[] = { -2.5f, -0.7f, -0.1f, 0.2f, 0.9f, 3.0f };
	int n = 6;
	for (int a = ACT_IDENTITY; a <= ACT_SIGMOID; a++) {
		float y[6], dy[6];
		memcpy(y, z, sizeof(z));
		uint64_t ew = 0;
		act_forward((enum act)a, n, y, &ew);
		for (int i = 0; i < n; i++) {
			assert_float_equal(y[i], act_double((enum act)a, z[i]), 1e-6);
			dy[i] = 1.0f;
		}
		act_backward((enum act)a, n, y, dy, &ew);
		for (int i = 0; i < n; i++) {
			double fd = (act_double((enum act)a, z[i] + FD_STEP) -
				     act_double((enum act)a, z[i] - FD_STEP)) / (2 * FD_STEP);
			assert_float_equal(dy[i], fd, GRAD_TOL * fmax(1, fabs(fd)));
		}
	}
}

/* ---- losses ---- */

static double loss_double(enum loss l, int n, const double *y, const float *x)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += l == LOSS_MSE ? (y[i] - x[i]) * (y[i] - x[i])
				   : -(x[i] * log(y[i]) + (1 - x[i]) * log(1 - y[i]));
	return s;
}

static void test_losses_finite_differences(void **state)
{
	(void)state;
	float y[] = { 0.1f, 0.35f, 0.5f, 0.8f, 0.97f };
	float x[] = { 0.0f, 0.4f, 1.0f, 0.75f, 0.2f };
	int n = 5;
	float scale = 0.25f;
	for (int l = LOSS_MSE; l <= LOSS_BCE; l++) {
		float dy[5];
		uint64_t ew = 0;
		double value = loss_forward_backward((enum loss)l, n, y, x, dy, scale, &ew);
		double yd[5];
		for (int i = 0; i < n; i++)
			yd[i] = y[i];
		assert_float_equal(value, loss_double((enum loss)l, n, yd, x), 1e-6);
		for (int i = 0; i < n; i++) {
			yd[i] = y[i] + FD_STEP;
			double up = loss_double((enum loss)l, n, yd, x);
			yd[i] = y[i] - FD_STEP;
			double down = loss_double((enum loss)l, n, yd, x);
			yd[i] = y[i];
			double fd = scale * (up - down) / (2 * FD_STEP);
			assert_float_equal(dy[i], fd, GRAD_TOL * fmax(1, fabs(fd)));
		}
		assert_int_equal(ew, (uint64_t)n * (l == LOSS_MSE ? FLOPS_MSE + FLOPS_MSE_GRAD
								  : FLOPS_BCE + FLOPS_BCE_GRAD));
	}
}

/* ---- Adam ---- */

static void test_adam_closed_form(void **state)
{
	(void)state;
	/* two steps with constant gradient g: m_t = (1 - b1^t) g and v_t = (1 - b2^t) g^2, so
	 * the bias-corrected step is lr * g / (|g| + eps) each time */
	struct adam opt = { .lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f };
	float p[3] = { 1.0f, -2.0f, 0.5f }, g[3] = { 0.3f, -4.0f, 1e-3f };
	float m[3] = { 0 }, v[3] = { 0 };
	uint64_t ew = 0;
	adam_update(&opt, 1, 3, p, g, m, v, &ew);
	adam_update(&opt, 2, 3, p, g, m, v, &ew);
	float start[3] = { 1.0f, -2.0f, 0.5f };
	for (int i = 0; i < 3; i++) {
		double step = 0.01 * g[i] / (fabs(g[i]) + 1e-8);
		assert_float_equal(p[i], start[i] - 2 * step, 1e-5);
		assert_float_equal(m[i], (1 - 0.81) * g[i], 1e-6);
	}
	assert_int_equal(ew, 2 * 3 * FLOPS_ADAM);
}

/* ---- RNG ---- */

static void test_rng_reproducible_and_normal(void **state)
{
	(void)state;
	struct rng a, b;
	rng_seed(&a, 42);
	rng_seed(&b, 42);
	for (int i = 0; i < 100; i++)
		assert_true(rng_next(&a) == rng_next(&b));
	rng_seed(&b, 43);
	assert_true(rng_next(&a) != rng_next(&b));
	/* moments of 200000 normals: mean 0 and variance 1 within 5 standard errors */
	double s = 0, s2 = 0;
	int n = 200000;
	for (int i = 0; i < n; i++) {
		double z = rng_normal(&a);
		s += z;
		s2 += z * z;
	}
	assert_true(fabs(s / n) < 5 / sqrt(n));
	assert_true(fabs(s2 / n - 1) < 5 * sqrt(2.0 / n));
	int perm[50], seen[50] = { 0 };
	for (int i = 0; i < 50; i++)
		perm[i] = i;
	rng_shuffle(&a, perm, 50);
	for (int i = 0; i < 50; i++)
		seen[perm[i]]++;
	for (int i = 0; i < 50; i++)
		assert_int_equal(seen[i], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dense_forward_matches_reference),
		cmocka_unit_test(test_dense_backward_finite_differences),
		cmocka_unit_test(test_activations_finite_differences),
		cmocka_unit_test(test_losses_finite_differences),
		cmocka_unit_test(test_adam_closed_form),
		cmocka_unit_test(test_rng_reproducible_and_normal),
	};
	return cmocka_run_group_tests_name("nn", tests, NULL, NULL);
}
