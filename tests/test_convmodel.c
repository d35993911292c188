/* test_convmodel.c: the convolutional autoencoder as a whole: its gradient against a
 * double-precision reference by finite differences (convolutions, transposed ones with both
 * output paddings, 2-D and 1-D batch norm on batch statistics, the first dense layer's input
 * gradient, an L1 weight on the 2-D batch norm's scales), its FLOPs against the closed form,
 * the decoder giving back the image's size, bad shapes refused naming the sizes, training
 * bit-identical on 1, 2 and 3 threads, and latent truncation keeping the reconstruction. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/blas.h"
#include "../core/data.h"
#include "../core/err.h"
#include "../core/model.h"
#include "../core/train.h"

#define GRAD_TOL 1e-3 /* relative error of the whole float gradient against double FD */

static double act_d(enum act a, double z)
{
	return a == ACT_RELU ? (z > 0 ? z : 0) : a == ACT_SIGMOID ? 1 / (1 + exp(-z)) : z;
}

/* Y (B, C_out, Ho, Wo) = conv(X) + b in double, by direct sums (conv.h's definitions) */
static void conv_d(const struct conv_shape *s, int B, const double *X, const double *W,
		   const double *b, double *Y)
{
	for (int i = 0; i < B; i++)
		for (int co = 0; co < s->c_out; co++)
			for (int oy = 0; oy < s->h_out; oy++)
				for (int ox = 0; ox < s->w_out; ox++) {
					double sum = b[co];
					for (int ci = 0; ci < s->c_in; ci++)
						for (int ki = 0; ki < s->k; ki++)
							for (int kj = 0; kj < s->k; kj++) {
								int y, x;
								double w;
								if (!s->transposed) {
									y = oy * s->stride - s->pad + ki;
									x = ox * s->stride - s->pad + kj;
									w = W[((co * s->c_in + ci) * s->k + ki) *
										      s->k +
									      kj];
								} else {
									int ny = oy + s->pad - ki;
									int nx = ox + s->pad - kj;
									if (ny < 0 || nx < 0 ||
									    ny % s->stride ||
									    nx % s->stride)
										continue;
									y = ny / s->stride;
									x = nx / s->stride;
									w = W[((ci * s->c_out + co) * s->k + ki) *
										      s->k +
									      kj];
								}
								if (y < 0 || y >= s->h || x < 0 ||
								    x >= s->w)
									continue;
								sum += w * X[((size_t)(i * s->c_in + ci) *
										      s->h +
									      y) * s->w +
									     x];
							}
					Y[((size_t)(i * s->c_out + co) * s->h_out + oy) * s->w_out + ox] =
						sum;
				}
}

/* batch norm of x (B, C, HW) in place on this batch's statistics */
static void bn_d(int B, int C, int HW, double *x, const double *gamma, const double *beta)
{
	for (int c = 0; c < C; c++) {
		double s = 0, sq = 0, n = (double)B * HW;
		for (int i = 0; i < B; i++)
			for (int j = 0; j < HW; j++) {
				double v = x[((size_t)i * C + c) * HW + j];
				s += v;
				sq += v * v;
			}
		double mu = s / n, var = sq / n - mu * mu;
		for (int i = 0; i < B; i++)
			for (int j = 0; j < HW; j++) {
				double *v = &x[((size_t)i * C + c) * HW + j];
				*v = gamma[c] * (*v - mu) / sqrt(var + BN_EPS) + beta[c];
			}
	}
}

struct ref {
	const struct ae *m;
	double *p; /* a double copy of the parameters */
	const float *x;
	int rows;
	double scale;
};

/* the training loss (batch statistics) of the whole model, in double */
static double ref_loss(void *ctx)
{
	struct ref *c = ctx;
	const struct ae *m = c->m;
	int B = c->rows, D = m->arch.input_dim, n = m->arch.conv;
	size_t big = (size_t)B * 4096;
	double *a = calloc(big, sizeof(double)), *b = calloc(big, sizeof(double));
	for (int i = 0; i < B * D; i++)
		a[i] = c->x[i];
	for (int j = 0; j < m->n_conv; j++) {
		if (j == n) { /* the dense layers, row by row */
			for (int l = 0; l < m->n_layers; l++) {
				int in = m->width[l], out = m->width[l + 1];
				for (int r = 0; r < B; r++)
					for (int o = 0; o < out; o++) {
						double z = c->p[m->b_off[l] + o];
						for (int i = 0; i < in; i++)
							z += c->p[m->w_off[l] + (size_t)o * in + i] *
							     a[(size_t)r * in + i];
						b[(size_t)r * out + o] = z;
					}
				if (m->bn_at[l])
					bn_d(B, out, 1, b, c->p + m->bn_off[l], c->p + m->bn_off[l] + out);
				for (int i = 0; i < B * out; i++) {
					b[i] = act_d(ae_layer_act(m, l), b[i]);
					if (l == m->latent_layer)
						b[i] *= m->latent_mask[i % out];
				}
				double *t = a;
				a = b;
				b = t;
			}
		}
		const struct conv_shape *s = &m->conv[j];
		conv_d(s, B, a, c->p + m->cw_off[j], c->p + m->cb_off[j], b);
		int hw = s->h_out * s->w_out, size = s->c_out * hw;
		if (m->cbn_at[j])
			bn_d(B, s->c_out, hw, b, c->p + m->cbn_off[j], c->p + m->cbn_off[j] + s->c_out);
		enum act act = j == m->n_conv - 1 ? m->arch.output_act : m->arch.hidden_act;
		for (int i = 0; i < B * size; i++)
			b[i] = act_d(act, b[i]);
		double *t = a;
		a = b;
		b = t;
	}
	double total = 0;
	for (int i = 0; i < B * D; i++)
		total += c->scale * (a[i] - c->x[i]) * (a[i] - c->x[i]);
	for (int j = 0; j < m->n_conv; j++)
		for (int o = 0; m->cbn_at[j] && o < m->conv[j].c_out; o++)
			total += m->cbn_l1[j] * fabs(c->p[m->cbn_off[j] + o]);
	free(a);
	free(b);
	return total;
}

/* 1 x 6 x 6 images, blocks of 2 and 3 channels: 6 -> 3 -> 2, then back 2 -> 3 (output
 * padding 0) -> 6 (output padding 1) */
static struct ae_arch small_arch(void)
{
	int ch[] = { 2, 3 };
	return ae_arch_conv(1, 6, 6, ch, 2, 3, NULL, 0, 3, ACT_SIGMOID, ACT_IDENTITY, ACT_SIGMOID, 1);
}

static void test_conv_model_gradient(void **state)
{
	(void)state;
	struct ae_arch arch = small_arch();
	assert_int_equal(ae_dense_input(&arch), 12);
	struct ae *m = ae_new(&arch);
	assert_non_null(m);
	assert_int_equal(m->n_conv, 4);
	assert_int_equal(m->width[0], 12);
	assert_int_equal(m->width[1], 6); /* half the flattened size */
	assert_int_equal(m->conv[2].out_pad, 0);
	assert_int_equal(m->conv[3].out_pad, 1);
	assert_int_equal(m->conv[3].h_out, 6);
	assert_true(m->bn_at[0] && m->cbn_at[0] && m->cbn_at[2] && !m->cbn_at[3]);
	struct rng r;
	rng_seed(&r, 11);
	ae_init(m, &r);
	/* scales and shifts away from their initial 1 and 0, so that every term matters */
	for (int j = 0; j < m->n_conv; j++)
		for (int o = 0; m->cbn_at[j] && o < m->conv[j].c_out; o++) {
			m->params[m->cbn_off[j] + o] = (float)(0.5 + rng_uniform(&r));
			m->params[m->cbn_off[j] + m->conv[j].c_out + o] = (float)(rng_uniform(&r) - 0.5);
		}
	m->cbn_l1[1] = 0.01f;
	enum { rows = 5 };
	int D = arch.input_dim;
	float *x = malloc(sizeof(float) * rows * D);
	for (int i = 0; i < rows * D; i++)
		x[i] = (float)rng_uniform(&r);
	struct ae_work *w = ae_work_new(m, rows);
	assert_non_null(w);
	w->training = 1;
	float *grad = calloc(m->n_params, sizeof(float));
	uint64_t gemm = 0, ew = 0;
	float scale = 1.0f / (rows * D);
	ae_forward(m, w, x, rows, &gemm, &ew);
	ae_backward(m, w, x, rows, LOSS_MSE, scale, NULL, 1.0f / rows, NULL, grad, &gemm, &ew);
	struct ref c = { m, malloc(sizeof(double) * m->n_params), x, rows, scale };
	for (size_t i = 0; i < m->n_params; i++)
		c.p[i] = m->params[i];
	double err = fd_gradient_error(ref_loss, &c, c.p, m->n_params, grad);
	if (err >= GRAD_TOL)
		print_error("conv model gradient relative error %g\n", err);
	assert_true(err < GRAD_TOL);
	/* the first layer's weights get a gradient: the convolutions' input gradients flow */
	double first = 0;
	for (size_t i = 0; i < conv_weights(&m->conv[0]); i++)
		first += fabs(grad[m->cw_off[0] + i]);
	assert_true(first > 0);
	/* the counter's GEMM FLOPs of a step and of an evaluation pass are the closed form's */
	uint64_t step, eval;
	ae_flops_per_example(&arch, &step, &eval);
	assert_true(gemm == step * rows);
	w->training = 0;
	uint64_t g2 = 0;
	ae_forward(m, w, x, rows, &g2, &ew);
	assert_true(g2 == eval * rows);
	free(c.p);
	free(grad);
	free(x);
	ae_work_delete(w);
	ae_delete(m);
}

/* The paper's shape: 1x28x28, channels 32,64, kernel 3 */
static void test_thesis_shape_flops(void **state)
{
	(void)state;
	int ch[] = { 32, 64 };
	struct ae_arch a = ae_arch_conv(1, 28, 28, ch, 2, 3, NULL, 0, 32, ACT_RELU, ACT_RELU, -1, 1);
	assert_int_equal(ae_dense_input(&a), 3136);
	assert_int_equal(a.hidden[0], 1568);
	struct ae *m = ae_new(&a);
	assert_non_null(m);
	assert_int_equal(m->conv[0].h_out, 14);
	assert_int_equal(m->conv[1].h_out, 7);
	assert_int_equal(m->conv[2].h_out, 14);
	assert_int_equal(m->conv[3].h_out, 28);
	/* multiply-adds of one forward pass, by hand: conv 1->32 on 14x14 outputs, 32->64 on
	 * 7x7, the dense 3136-1568-32-1568-3136, the transposed 64->32 from 7x7, 32->1 from
	 * 14x14 */
	uint64_t macs = 32ull * 9 * 196 + 64ull * 32 * 9 * 49 + 2 * (3136ull * 1568 + 1568ull * 32) +
			64ull * 32 * 9 * 49 + 32ull * 9 * 196;
	uint64_t bias = 32 * 196 + 64 * 49 + 1568 + 32 + 1568 + 3136 + 32 * 196 + 784;
	uint64_t step, eval;
	ae_flops_per_example(&a, &step, &eval);
	assert_true(eval == 2 * macs + bias);
	/* training: forward, weight and bias gradients, input gradients but the first layer's */
	assert_true(step == 3 * (2 * macs) - 2 * 32ull * 9 * 196 + 2 * bias);
	ae_delete(m);
}

static void test_bad_shapes_refused(void **state)
{
	(void)state;
	int ch[] = { 8, 8, 8 };
	/* a kernel larger than the padded image */
	struct ae_arch a = ae_arch_conv(1, 2, 2, ch, 1, 7, NULL, 0, 2, ACT_RELU, ACT_RELU, -1, 1);
	assert_null(ae_new(&a));
	assert_non_null(strstr(ds_errmsg(), "kernel 7"));
	/* an even kernel */
	a = ae_arch_conv(1, 8, 8, ch, 1, 4, NULL, 0, 2, ACT_RELU, ACT_RELU, -1, 1);
	assert_null(ae_new(&a));
	assert_non_null(strstr(ds_errmsg(), "odd"));
	/* a shape that does not hold the data */
	a = ae_arch_conv(1, 28, 28, ch, 2, 3, NULL, 0, 2, ACT_RELU, ACT_RELU, -1, 1);
	a.input_dim = 700;
	assert_null(ae_new(&a));
	assert_non_null(strstr(ds_errmsg(), "1x28x28"));
	assert_non_null(strstr(ds_errmsg(), "700"));
	/* 6 rows and 7 columns would need two output paddings to be given back */
	a = ae_arch_conv(1, 6, 7, ch, 1, 3, NULL, 0, 2, ACT_RELU, ACT_RELU, -1, 1);
	assert_null(ae_new(&a));
	assert_non_null(strstr(ds_errmsg(), "6x7"));
	/* IRMAE's linear layers are for dense models */
	a = ae_arch_conv(1, 8, 8, ch, 1, 3, NULL, 0, 2, ACT_RELU, ACT_RELU, -1, 1);
	a.linear = 2;
	assert_null(ae_new(&a));
}

/* Two epochs of the small model on random images with 1, 2 and 3 threads, batches of three
 * blocks and a partial one: every parameter, Adam moment and running statistic bit for bit */
static struct ae *train_small(const struct split *s, int threads)
{
	int ch[] = { 4, 8 };
	struct ae_arch a = ae_arch_conv(1, 12, 12, ch, 2, 3, NULL, 0, 4, ACT_RELU, ACT_RELU, -1, 1);
	struct ae *m = ae_new(&a);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, 5);
	ae_init(m, &r);
	struct train_cfg c;
	train_cfg_defaults(&c);
	c.epochs = 2;
	c.batch = 3 * CONV_BLOCK + 7;
	c.threads = threads;
	struct flops f = { 0 };
	assert_int_equal(ae_train(m, s, s, &c, &r, &f), 2);
	return m;
}

static void test_conv_training_bit_identical_across_threads(void **state)
{
	(void)state;
	struct split s = { 0 };
	s.n = 150;
	s.dim = 144;
	s.x = malloc(sizeof(float) * s.n * s.dim);
	struct rng r;
	rng_seed(&r, 9);
	for (size_t i = 0; i < s.n * s.dim; i++)
		s.x[i] = (float)rng_uniform(&r);
	struct ae *one = train_small(&s, 1);
	for (int t = 2; t <= 3; t++) {
		struct ae *more = train_small(&s, t);
		size_t n = one->n_params * sizeof(float);
		assert_memory_equal(one->params, more->params, n);
		assert_memory_equal(one->adam_m, more->adam_m, n);
		assert_memory_equal(one->adam_v, more->adam_v, n);
		assert_memory_equal(one->bn_mean, more->bn_mean, one->n_bn * sizeof(float));
		assert_memory_equal(one->bn_var, more->bn_var, one->n_bn * sizeof(float));
		ae_delete(more);
	}
	ae_delete(one);
	free(s.x);
}

/* Cutting silent code units keeps every reconstruction (the convolutions and batch norms
 * are copied), and the cut model has the convolutions' parameters of the full one. */
static void test_conv_truncation(void **state)
{
	(void)state;
	struct ae_arch arch = small_arch();
	struct ae *m = ae_new(&arch);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, 3);
	ae_init(m, &r);
	for (size_t k = 0; k < m->n_bn; k++) {
		m->bn_mean[k] = (float)(rng_uniform(&r) - 0.5);
		m->bn_var[k] = (float)(0.5 + rng_uniform(&r));
	}
	m->latent_mask[2] = 0.0f;
	struct ae *t = ae_truncate(m, 2);
	assert_non_null(t);
	assert_memory_equal(m->params + m->conv_off, t->params + t->conv_off,
			    sizeof(float) * (m->n_params - m->conv_off));
	enum { rows = 4 };
	float x[rows * 36];
	for (int i = 0; i < rows * 36; i++)
		x[i] = (float)rng_uniform(&r);
	struct ae_work *wm = ae_work_new(m, rows), *wt = ae_work_new(t, rows);
	uint64_t g = 0, e = 0;
	const float *ym = ae_forward(m, wm, x, rows, &g, &e);
	const float *yt = ae_forward(t, wt, x, rows, &g, &e);
	for (int i = 0; i < rows * 36; i++)
		assert_float_equal(ym[i], yt[i], 1e-6);
	ae_work_delete(wm);
	ae_work_delete(wt);
	ae_delete(t);
	ae_delete(m);
}

int main(void)
{
	blas_single_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv_model_gradient),
		cmocka_unit_test(test_thesis_shape_flops),
		cmocka_unit_test(test_bad_shapes_refused),
		cmocka_unit_test(test_conv_training_bit_identical_across_threads),
		cmocka_unit_test(test_conv_truncation),
	};
	return cmocka_run_group_tests_name("convmodel", tests, NULL, NULL);
}
