/* test_conv.c: convolution and transposed convolution against a direct loop and against
 * directional derivatives (both are linear, so a step along a random direction is exact up to
 * rounding), 2-D batch norm against central differences in double, FLOP counts in closed
 * form, and the shapes refused. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/conv.h"
#include "../core/err.h"
#include "../core/rng.h"

static void fill(struct rng *r, float *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = (float)rng_normal(r);
}

static double dot(const float *a, const float *b, size_t n)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* a layer's multiply-adds per image: every output (convolution) or every input (transposed)
 * meets a k x k window of every channel on the other side */
static uint64_t multiply_adds(const struct conv_shape *s)
{
	uint64_t side = s->transposed ? (uint64_t)s->c_in * s->h * s->w
				      : (uint64_t)s->c_out * s->h_out * s->w_out;
	return side * (uint64_t)(s->transposed ? s->c_out : s->c_in) * s->k * s->k;
}

/* the shapes: odd sizes, stride 1 to 3, padding, single channels, a kernel wider than the
 * image (window columns that fall wholly outside it), and transposed ones that
 * invert a stride-2 convolution of 28 and 14 pixels as an image decoder does */
static const struct conv_shape shapes[] = {
	{ .c_in = 1, .h = 7, .w = 5, .c_out = 3, .k = 3, .stride = 1, .pad = 1 },
	{ .c_in = 2, .h = 8, .w = 9, .c_out = 4, .k = 3, .stride = 2, .pad = 1 },
	{ .c_in = 3, .h = 7, .w = 6, .c_out = 2, .k = 4, .stride = 3, .pad = 0 },
	{ .c_in = 2, .h = 5, .w = 5, .c_out = 1, .k = 5, .stride = 1, .pad = 2 },
	{ .c_in = 2, .h = 4, .w = 2, .c_out = 2, .k = 5, .stride = 2, .pad = 2 },
	{ .c_in = 3, .h = 7, .w = 7, .c_out = 2, .k = 3, .stride = 2, .pad = 1, .out_pad = 1,
	  .transposed = 1 },
	{ .c_in = 2, .h = 3, .w = 5, .c_out = 3, .k = 2, .stride = 2, .pad = 0, .transposed = 1 },
	{ .c_in = 1, .h = 4, .w = 3, .c_out = 2, .k = 3, .stride = 1, .pad = 1, .transposed = 1 },
	{ .c_in = 2, .h = 4, .w = 4, .c_out = 2, .k = 4, .stride = 3, .pad = 1, .out_pad = 2,
	  .transposed = 1 },
};

static void test_forward_against_direct_loops(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 1);
	for (size_t q = 0; q < sizeof(shapes) / sizeof(shapes[0]); q++) {
		struct conv_shape s = shapes[q];
		assert_int_equal(conv_shape_check(&s), 0);
		int B = CONV_BLOCK + 3; /* two blocks, the second partial */
		size_t nx = (size_t)B * s.c_in * s.h * s.w, ny = (size_t)B * s.c_out * s.h_out * s.w_out;
		float *X = malloc(sizeof(float) * nx), *W = malloc(sizeof(float) * conv_weights(&s));
		float *b = malloc(sizeof(float) * s.c_out), *Y = malloc(sizeof(float) * ny);
		float *Yref = malloc(sizeof(float) * ny);
		float *col = malloc(sizeof(float) * conv_scratch_floats(&s, B, 1));
		fill(&r, X, nx);
		fill(&r, W, conv_weights(&s));
		fill(&r, b, s.c_out);
		uint64_t gemm = 0;
		conv_forward(&s, B, X, W, b, Y, col, 1, &gemm);
		conv_forward_ref(&s, B, X, W, b, Yref);
		for (size_t i = 0; i < ny; i++)
			assert_float_equal(Y[i], Yref[i], 1e-4);
		/* 2 per multiply-add of the GEMM, 1 per bias add */
		uint64_t macs = multiply_adds(&s);
		assert_int_equal(gemm, (uint64_t)B * (2 * macs + (uint64_t)s.c_out * s.h_out * s.w_out));
		free(X), free(W), free(b), free(Y), free(Yref), free(col);
	}
	/* a transposed convolution of 14 with kernel 3, stride 2, padding 1 and output padding
	 * 1 gives back 28, the size the convolution took */
	struct conv_shape up = { .c_in = 1, .h = 14, .w = 14, .c_out = 1, .k = 3, .stride = 2,
				 .pad = 1, .out_pad = 1, .transposed = 1 };
	struct conv_shape down = { .c_in = 1, .h = 28, .w = 28, .c_out = 1, .k = 3, .stride = 2,
				   .pad = 1 };
	assert_int_equal(conv_shape_check(&up), 0);
	assert_int_equal(conv_shape_check(&down), 0);
	assert_int_equal(down.h_out, 14);
	assert_int_equal(up.h_out, 28);
}

/* <G, Y(X, W, b)> is linear in each argument: for a random direction D of one of them, its
 * change along D equals <gradient, D>, whatever the step, up to rounding. */
static void test_backward_directional_derivatives(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 2);
	for (size_t q = 0; q < sizeof(shapes) / sizeof(shapes[0]); q++) {
		struct conv_shape s = shapes[q];
		assert_int_equal(conv_shape_check(&s), 0);
		int B = CONV_BLOCK + 2;
		size_t nx = (size_t)B * s.c_in * s.h * s.w, nw = conv_weights(&s);
		size_t ny = (size_t)B * s.c_out * s.h_out * s.w_out;
		float *X = malloc(sizeof(float) * nx), *W = malloc(sizeof(float) * nw);
		float *b = malloc(sizeof(float) * s.c_out), *G = malloc(sizeof(float) * ny);
		float *Y = malloc(sizeof(float) * ny), *dX = malloc(sizeof(float) * nx);
		float *dW = malloc(sizeof(float) * nw), *db = malloc(sizeof(float) * s.c_out);
		float *DX = malloc(sizeof(float) * nx), *DW = malloc(sizeof(float) * nw);
		float *zero_b = calloc(s.c_out, sizeof(float));
		float *col = malloc(sizeof(float) * conv_scratch_floats(&s, B, 1));
		fill(&r, X, nx);
		fill(&r, W, nw);
		fill(&r, b, s.c_out);
		fill(&r, G, ny);
		fill(&r, DX, nx);
		fill(&r, DW, nw);
		uint64_t gemm = 0;
		conv_backward(&s, B, X, W, G, dX, dW, db, col, 1, &gemm);
		/* along DW: <G, Y(X, DW, 0)>; along DX: <G, Y(DX, W, 0)>; along b: column sums */
		conv_forward_ref(&s, B, X, DW, zero_b, Y);
		double along_w = dot(G, Y, ny), want_w = dot(dW, DW, nw);
		conv_forward_ref(&s, B, DX, W, zero_b, Y);
		double along_x = dot(G, Y, ny), want_x = dot(dX, DX, nx);
		assert_true(fabs(along_w - want_w) <= 1e-4 * (1.0 + fabs(want_w)));
		assert_true(fabs(along_x - want_x) <= 1e-4 * (1.0 + fabs(want_x)));
		size_t per = (size_t)s.h_out * s.w_out;
		for (int c = 0; c < s.c_out; c++) {
			double sum = 0.0;
			for (int i = 0; i < B; i++)
				for (size_t p = 0; p < per; p++)
					sum += G[((size_t)i * s.c_out + c) * per + p];
			assert_float_equal(db[c], sum, 1e-4 * (1.0 + fabs(sum)));
		}
		/* without dX: the same dW, bit for bit, and dX's GEMM not counted */
		float *dW2 = malloc(sizeof(float) * nw);
		uint64_t gemm2 = 0;
		conv_backward(&s, B, X, W, G, NULL, dW2, db, col, 1, &gemm2);
		assert_memory_equal(dW, dW2, sizeof(float) * nw);
		uint64_t macs = multiply_adds(&s);
		assert_int_equal(gemm, (uint64_t)B * (4 * macs + (uint64_t)s.c_out * per));
		assert_int_equal(gemm2, (uint64_t)B * (2 * macs + (uint64_t)s.c_out * per));
		free(X), free(W), free(b), free(G), free(Y), free(dX), free(dW), free(db);
		free(DX), free(DW), free(zero_b), free(col), free(dW2);
	}
}

/* ---- batch norm ---- */

#define BN_EPS 1e-5f

/* L = sum G * bn(x) in double, the batch's own statistics */
static double bn_objective(int B, int C, int HW, const double *x, const double *gamma,
			   const double *beta, const float *G)
{
	double L = 0.0, n = (double)B * HW;
	for (int c = 0; c < C; c++) {
		double s = 0.0, sq = 0.0;
		for (int i = 0; i < B; i++)
			for (int j = 0; j < HW; j++) {
				double v = x[((size_t)i * C + c) * HW + j];
				s += v;
				sq += v * v;
			}
		double mu = s / n, var = sq / n - mu * mu;
		for (int i = 0; i < B; i++)
			for (int j = 0; j < HW; j++) {
				size_t at = ((size_t)i * C + c) * HW + j;
				L += G[at] * (gamma[c] * (x[at] - mu) / sqrt(var + BN_EPS) + beta[c]);
			}
	}
	return L;
}

/* Blocks are fixed by the batch size: 1, 2 and 3 threads give the same bits, forward and
 * back, on a batch of several blocks and a partial one. */
static void test_threads_bit_identical(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 4);
	for (size_t q = 0; q < sizeof(shapes) / sizeof(shapes[0]); q += 3) {
		struct conv_shape s = shapes[q];
		assert_int_equal(conv_shape_check(&s), 0);
		int B = 3 * CONV_BLOCK + 5;
		size_t nx = (size_t)B * s.c_in * s.h * s.w, nw = conv_weights(&s);
		size_t ny = (size_t)B * s.c_out * s.h_out * s.w_out;
		float *X = malloc(sizeof(float) * nx), *W = malloc(sizeof(float) * nw);
		float *b = malloc(sizeof(float) * s.c_out), *G = malloc(sizeof(float) * ny);
		float *Y[3], *dX[3], *dW[3], *db[3];
		fill(&r, X, nx);
		fill(&r, W, nw);
		fill(&r, b, s.c_out);
		fill(&r, G, ny);
		for (int t = 0; t < 3; t++) {
			float *scratch = malloc(sizeof(float) * conv_scratch_floats(&s, B, t + 1));
			Y[t] = malloc(sizeof(float) * ny);
			dX[t] = malloc(sizeof(float) * nx);
			dW[t] = malloc(sizeof(float) * nw);
			db[t] = malloc(sizeof(float) * s.c_out);
			uint64_t gemm = 0;
			conv_forward(&s, B, X, W, b, Y[t], scratch, t + 1, &gemm);
			conv_backward(&s, B, X, W, G, dX[t], dW[t], db[t], scratch, t + 1, &gemm);
			free(scratch);
		}
		for (int t = 1; t < 3; t++) {
			assert_memory_equal(Y[0], Y[t], sizeof(float) * ny);
			assert_memory_equal(dX[0], dX[t], sizeof(float) * nx);
			assert_memory_equal(dW[0], dW[t], sizeof(float) * nw);
			assert_memory_equal(db[0], db[t], sizeof(float) * s.c_out);
		}
		for (int t = 0; t < 3; t++)
			free(Y[t]), free(dX[t]), free(dW[t]), free(db[t]);
		free(X), free(W), free(b), free(G);
	}
}

static void test_bn2d_finite_differences(void **state)
{
	(void)state;
	enum { B = 3, C = 2, HW = 5 * 3, N = B * C * HW };
	struct rng r;
	rng_seed(&r, 3);
	float x[N], G[N], xhat[N], gamma[C], beta[C], mean[C], var[C], dg[C], dbt[C];
	fill(&r, x, N);
	fill(&r, G, N);
	fill(&r, gamma, C);
	fill(&r, beta, C);
	double xd[N], gd[C], bd[C];
	for (int i = 0; i < N; i++)
		xd[i] = x[i];
	for (int c = 0; c < C; c++)
		gd[c] = gamma[c], bd[c] = beta[c];
	float y[N];
	memcpy(y, x, sizeof(x));
	uint64_t ew = 0;
	bn2d_forward(B, C, HW, y, gamma, beta, BN_EPS, mean, var, xhat, 1, &ew);
	/* each channel of the output has mean beta and spread gamma */
	for (int c = 0; c < C; c++) {
		double s = 0.0;
		for (int i = 0; i < B; i++)
			for (int j = 0; j < HW; j++)
				s += y[((size_t)i * C + c) * HW + j];
		assert_float_equal(s / (B * HW), beta[c], 1e-5);
	}
	float dy[N];
	memcpy(dy, G, sizeof(G));
	bn2d_backward(B, C, HW, dy, gamma, xhat, var, BN_EPS, dg, dbt, 1, &ew);
	const double h = 1e-6;
	for (int i = 0; i < N; i += 7) {
		double keep = xd[i];
		xd[i] = keep + h;
		double up = bn_objective(B, C, HW, xd, gd, bd, G);
		xd[i] = keep - h;
		double down = bn_objective(B, C, HW, xd, gd, bd, G);
		xd[i] = keep;
		double fd = (up - down) / (2 * h);
		assert_true(fabs(fd - dy[i]) <= 1e-4 * (1.0 + fabs(fd)));
	}
	for (int c = 0; c < C; c++) {
		double keep = gd[c];
		gd[c] = keep + h;
		double up = bn_objective(B, C, HW, xd, gd, bd, G);
		gd[c] = keep - h;
		double down = bn_objective(B, C, HW, xd, gd, bd, G);
		gd[c] = keep;
		assert_true(fabs((up - down) / (2 * h) - dg[c]) <= 1e-4 * (1.0 + fabs(dg[c])));
		keep = bd[c];
		bd[c] = keep + h;
		up = bn_objective(B, C, HW, xd, gd, bd, G);
		bd[c] = keep - h;
		down = bn_objective(B, C, HW, xd, gd, bd, G);
		bd[c] = keep;
		assert_true(fabs((up - down) / (2 * h) - dbt[c]) <= 1e-4 * (1.0 + fabs(dbt[c])));
	}
}

/* ---- shapes refused, with the sizes named ---- */

static void test_bad_shapes(void **state)
{
	(void)state;
	struct conv_shape big = { .c_in = 1, .h = 4, .w = 4, .c_out = 1, .k = 7, .stride = 1 };
	assert_int_equal(conv_shape_check(&big), -1);
	assert_non_null(strstr(ds_errmsg(), "kernel 7 is larger than the 4x4 image"));
	struct conv_shape pad = { .c_in = 1, .h = 4, .w = 4, .c_out = 1, .k = 3, .stride = 1,
				  .pad = 3 };
	assert_int_equal(conv_shape_check(&pad), -1);
	assert_non_null(strstr(ds_errmsg(), "padding 3"));
	struct conv_shape op = { .c_in = 1, .h = 4, .w = 4, .c_out = 1, .k = 3, .stride = 2,
				 .pad = 1, .out_pad = 2, .transposed = 1 };
	assert_int_equal(conv_shape_check(&op), -1);
	assert_non_null(strstr(ds_errmsg(), "output padding 2 must be at least 0 and below the "
					    "stride 2"));
	struct conv_shape none = { .c_in = 0, .h = 4, .w = 4, .c_out = 1, .k = 3, .stride = 1 };
	assert_int_equal(conv_shape_check(&none), -1);
	assert_non_null(strstr(ds_errmsg(), "0 -> 1 channels of 4x4"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_against_direct_loops),
		cmocka_unit_test(test_backward_directional_derivatives),
		cmocka_unit_test(test_threads_bit_identical),
		cmocka_unit_test(test_bn2d_finite_differences),
		cmocka_unit_test(test_bad_shapes),
	};
	return cmocka_run_group_tests_name("conv", tests, NULL, NULL);
}
