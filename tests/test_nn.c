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

/* A large layer in pieces: the pieces cover every output feature once (each a multiple of 16
 * from the start), they reproduce the reference, their FLOPs add up to the layer's, and the
 * choice depends on the shape alone. */
static void test_dense_pieces(void **state)
{
	(void)state;
	assert_int_equal(dense_pieces(256, 784, 512), DENSE_PIECES);
	assert_int_equal(dense_pieces(256, 256, 32), 1);   /* small: one call */
	assert_int_equal(dense_pieces(16, 784, 512), 1);   /* a short last batch */
	assert_int_equal(dense_cut(784, 0, 2), 0);
	assert_int_equal(dense_cut(784, 1, 2), 384);
	assert_int_equal(dense_cut(784, 2, 2), 784);
	enum { B = 200, IN = 330, OUT = 260 };
	assert_int_equal(dense_pieces(B, IN, OUT), DENSE_PIECES);
	struct rng r;
	rng_seed(&r, 3);
	float *X = malloc(sizeof(float) * B * IN), *W = malloc(sizeof(float) * OUT * IN);
	float *b = malloc(sizeof(float) * OUT), *G = malloc(sizeof(float) * B * OUT);
	float *Y = malloc(sizeof(float) * B * OUT), *Yref = malloc(sizeof(float) * B * OUT);
	float *dX = malloc(sizeof(float) * B * IN), *dXref = malloc(sizeof(float) * B * IN);
	float *dW = malloc(sizeof(float) * OUT * IN), *dWref = malloc(sizeof(float) * OUT * IN);
	float *db = malloc(sizeof(float) * OUT), *dbref = malloc(sizeof(float) * OUT);
	fill(&r, X, (size_t)B * IN, 1);
	fill(&r, W, (size_t)OUT * IN, 0.1);
	fill(&r, b, OUT, 1);
	fill(&r, G, (size_t)B * OUT, 1);
	for (size_t i = 0; i < (size_t)B * OUT; i++)
		Y[i] = NAN; /* every element must be written by exactly one piece */
	for (size_t i = 0; i < (size_t)B * IN; i++)
		dX[i] = NAN;
	uint64_t fwd = 0, bwd = 0, whole = 0;
	int P = dense_pieces(B, IN, OUT);
	for (int p = P - 1; p >= 0; p--) /* any order */
		dense_forward_part(B, IN, OUT, X, W, b, Y, p, P, &fwd);
	for (int j = 2 * P - 1; j >= 0; j--)
		dense_backward_part(B, IN, OUT, X, W, G, dX, dW, db, j, P, &bwd);
	dense_forward_ref(B, IN, OUT, X, W, b, Yref);
	dense_backward_ref(B, IN, OUT, X, W, G, dXref, dWref, dbref);
	for (size_t i = 0; i < (size_t)B * OUT; i++)
		assert_float_equal(Y[i], Yref[i], 1e-3);
	for (size_t i = 0; i < (size_t)B * IN; i++)
		assert_float_equal(dX[i], dXref[i], 1e-3);
	for (size_t i = 0; i < (size_t)OUT * IN; i++)
		assert_float_equal(dW[i], dWref[i], 2e-3);
	for (int j = 0; j < OUT; j++)
		assert_float_equal(db[j], dbref[j], 1e-3);
	dense_forward(B, IN, OUT, X, W, b, Yref, &whole);
	assert_int_equal(fwd, whole);
	whole = 0;
	dense_backward(B, IN, OUT, X, W, G, dXref, dWref, dbref, &whole);
	assert_int_equal(bwd, whole);
	free(X), free(W), free(b), free(G), free(Y), free(Yref);
	free(dX), free(dXref), free(dW), free(dWref), free(db), free(dbref);
}

/* The layers touching the code, their rows shared by 2 and 3 threads: the same bits as one
 * thread, and the reference's values. */
static void test_dense_ordered_rows(void **state)
{
	(void)state;
	enum { B = 9, IN = 70, OUT = 75 }; /* a full tile of 64 and a short one */
	struct rng r;
	rng_seed(&r, 4);
	float X[B * IN], W[OUT * IN], Wt[IN * OUT], b[OUT], Y[B * OUT], Y2[B * OUT];
	float Yref[B * OUT];
	fill(&r, X, B * IN, 1);
	for (int i = 0; i < B * IN; i += 3)
		X[i] = 0.0f; /* skipped inputs */
	fill(&r, W, OUT * IN, 0.2);
	fill(&r, b, OUT, 1);
	uint64_t gemm = 0;
	dense_forward_ordered(B, IN, OUT, X, W, b, Y, Wt, 1, &gemm);
	assert_int_equal(gemm, 2 * B * IN * OUT + B * OUT);
	for (int threads = 2; threads <= 3; threads++) {
		uint64_t g = 0;
		memset(Y2, 0, sizeof(Y2));
		dense_forward_ordered(B, IN, OUT, X, W, b, Y2, Wt, threads, &g);
		assert_memory_equal(Y, Y2, sizeof(Y));
		assert_int_equal(g, gemm);
	}
	dense_forward_ref(B, IN, OUT, X, W, b, Yref);
	for (int i = 0; i < B * OUT; i++)
		assert_float_equal(Y[i], Yref[i], 1e-4);
}

/* The sigmoid's exp against libm's over the whole clamped range (every 4099th float), its
 * clamps, and a sigmoid that stays finite and in [0, 1] at the extremes. */
static void test_vector_exp(void **state)
{
	(void)state;
	double worst = 0.0;
	for (int sign = 0; sign < 2; sign++) {
		float end = sign ? 87.0f : 88.0f;
		uint32_t last;
		memcpy(&last, &end, sizeof(last));
		for (uint32_t bits = 0; bits <= last; bits += 4099) {
			float x;
			memcpy(&x, &bits, sizeof(x));
			x = sign ? -x : x;
			float a = nn_exp(x), e = expf(x);
			double ulp = (double)nextafterf(e, INFINITY) - (double)e;
			double err = fabs((double)a - (double)e) / ulp;
			worst = err > worst ? err : worst;
		}
	}
	print_message("largest difference from expf: %.2f ulp\n", worst);
	assert_true(worst <= 2.0);
	assert_float_equal(nn_exp(0.0f), 1.0f, 0.0);
	assert_float_equal(nn_exp(-200.0f), expf(-87.0f), 0.0);
	assert_float_equal(nn_exp(200.0f), expf(88.0f), expf(88.0f) * 1e-6);
	/* infinities clamp as well: a diverged unit's sigmoid is 1 or 0, never -0 */
	assert_true(nn_exp(-INFINITY) == nn_exp(-87.0f));
	assert_true(nn_exp(INFINITY) == nn_exp(88.0f));
	float inf[2] = { INFINITY, -INFINITY };
	uint64_t count = 0;
	act_forward(ACT_SIGMOID, 2, inf, &count);
	assert_true(inf[0] == 1.0f);
	assert_true(inf[1] >= 0.0f && inf[1] < 1e-37f && !signbit(inf[1]));
	float y[37];
	for (int i = 0; i < 37; i++) /* 37: two full vectors and a tail */
		y[i] = (float)(i - 18) * 10.0f;
	float z[37];
	memcpy(z, y, sizeof(y));
	uint64_t ew = 0;
	act_forward(ACT_SIGMOID, 37, y, &ew);
	for (int i = 0; i < 37; i++) {
		assert_true(y[i] >= 0.0f && y[i] <= 1.0f);
		assert_float_equal(y[i], 1.0 / (1.0 + exp(-(double)z[i])), 1e-6);
	}
	/* an element's value does not depend on where it sits: the tail against a full vector */
	float one = z[36];
	act_forward(ACT_SIGMOID, 1, &one, &ew);
	assert_memory_equal(&one, &y[36], sizeof(float));
	act_forward(ACT_SIGMOID, 16, z + 20, &ew);
	assert_memory_equal(z + 20, y + 20, 16 * sizeof(float));
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
		cmocka_unit_test(test_dense_pieces),
		cmocka_unit_test(test_dense_ordered_rows),
		cmocka_unit_test(test_vector_exp),
	};
	return cmocka_run_group_tests_name("nn", tests, NULL, NULL);
}
