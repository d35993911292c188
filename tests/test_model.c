/* test_model.c: whole-model back-propagation against finite differences (nested dropout's
 * per-example prefixes and Matryoshka's summed prefix losses too), latent truncation, prefix
 * errors against truncated models, and the FLOP counter against the closed form of README's "The FLOP convention". */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/data.h"
#include "../core/flops.h"
#include "../core/model.h"
#include "../core/train.h"

#define GRAD_TOL 1e-3   /* relative error of the whole float gradient against double FD */

/* ---- a double-precision reference of the model's loss ---- */

static double act_d(enum act a, double z)
{
	return a == ACT_RELU ? (z > 0 ? z : 0) : a == ACT_SIGMOID ? 1 / (1 + exp(-z)) : z;
}

struct ref {
	const struct ae *m;
	double *params;              /* double copy of m->params */
	const float *x;
	int rows;
	enum loss loss;
	double scale;
	double l1;                   /* weight of an L1 penalty on the codes (0: none) */
	const int *keep;             /* per row: code units kept (NULL: all) */
	const int *prefix;           /* summed over these prefixes of the code (n_prefix > 0) */
	int n_prefix;
};

static double ref_loss_once(struct ref *c, int cap);

static double ref_loss(void *p)
{
	struct ref *c = p;
	if (c->n_prefix == 0)
		return ref_loss_once(c, 1 << 30);
	double total = 0;
	for (int i = 0; i < c->n_prefix; i++)
		total += ref_loss_once(c, c->prefix[i]);
	return total;
}

/* the loss with the code's units from `cap` on (and past each row's keep) zeroed */
static double ref_loss_once(struct ref *c, int cap)
{
	const struct ae *m = c->m;
	int widest = 0;
	for (int l = 0; l <= m->n_layers; l++)
		widest = m->width[l] > widest ? m->width[l] : widest;
	double *a = malloc(sizeof(double) * widest), *b = malloc(sizeof(double) * widest);
	double total = 0;
	for (int r = 0; r < c->rows; r++) {
		int D = m->width[0];
		for (int i = 0; i < D; i++)
			a[i] = c->x[r * D + i];
		for (int l = 0; l < m->n_layers; l++) {
			int in = m->width[l], out = m->width[l + 1];
			const double *W = c->params + m->w_off[l], *bias = c->params + m->b_off[l];
			enum act act = l == m->n_layers - 1 ? m->arch.output_act
				       : l == m->latent_layer ? m->arch.latent_act
				       : l >= m->latent_layer - m->arch.linear && l < m->latent_layer
					       ? ACT_IDENTITY
					       : m->arch.hidden_act;
			for (int j = 0; j < out; j++) {
				double z = bias[j];
				for (int i = 0; i < in; i++)
					z += W[j * in + i] * a[i];
				b[j] = act_d(act, z);
				if (l == m->latent_layer) {
					b[j] *= m->latent_mask[j];
					if (j >= cap || (c->keep && j >= c->keep[r]))
						b[j] = 0;
					total += c->l1 * fabs(b[j]) / c->rows;
				}
			}
			double *t = a;
			a = b;
			b = t;
		}
		for (int i = 0; i < D; i++) {
			double y = a[i], t = c->x[r * D + i];
			total += c->scale * (c->loss == LOSS_MSE
						     ? (y - t) * (y - t)
						     : -(t * log(y) + (1 - t) * log(1 - y)));
		}
	}
	free(a);
	free(b);
	return total;
}

/* an L1 penalty through the strategy hook: P = l1 * sum |h| */
static double l1_apply(void *ctx, int chunk, int rows, int K, const float *h, float *dh,
		       float scale, uint64_t *elementwise)
{
	(void)chunk;
	double w = *(double *)ctx, sum = 0;
	for (int i = 0; i < rows * K; i++) {
		sum += w * fabs(h[i]);
		dh[i] += (float)(scale * w * (h[i] > 0 ? 1 : h[i] < 0 ? -1 : 0));
	}
	*elementwise += 2ull * rows * K;
	return sum;
}

static int linear_layers; /* IRMAE's layers before the code in check_model_gradient's model */

static void check_model_gradient(enum act hidden, enum act latent, enum act output,
				 enum loss loss, double l1, int mask_last)
{
	struct ae_arch arch = { .input_dim = 6, .n_hidden = 2, .hidden = { 5, 4 }, .latent = 3,
				.hidden_act = hidden, .latent_act = latent,
				.output_act = output, .linear = linear_layers };
	struct ae *m = ae_new(&arch);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, 7);
	ae_init(m, &r);
	if (mask_last)
		m->latent_mask[2] = 0.0f;
	int rows = 4;
	float x[4 * 6];
	for (int i = 0; i < rows * 6; i++)
		x[i] = (float)(0.05 + 0.9 * rng_uniform(&r));
	struct ae_work *w = ae_work_new(m, rows);
	float *grad = calloc(m->n_params, sizeof(float));
	uint64_t gemm = 0, ew = 0;
	float scale = 1.0f / (rows * 6);
	struct latent_penalty pen = { l1_apply, &l1 };
	ae_forward(m, w, x, rows, &gemm, &ew);
	double penalty = 0;
	ae_backward(m, w, x, rows, loss, scale, l1 > 0 ? &pen : NULL, 1.0f / rows, &penalty, grad,
		    &gemm, &ew);
	struct ref c = { m, malloc(sizeof(double) * m->n_params), x, rows, loss, scale, l1,
			 NULL, NULL, 0 };
	for (size_t i = 0; i < m->n_params; i++)
		c.params[i] = m->params[i];
	double err = fd_gradient_error(ref_loss, &c, c.params, m->n_params, grad);
	if (err >= GRAD_TOL)
		print_error("gradient relative error %g (hidden %s latent %s output %s loss %s)\n",
			    err, act_name(hidden), act_name(latent), act_name(output),
			    loss_name(loss));
	assert_true(err < GRAD_TOL);
	/* the counter's GEMM FLOPs of one step are the closed form's */
	uint64_t step, eval;
	ae_flops_per_example(&arch, &step, &eval);
	assert_true(gemm == step * rows);
	if (mask_last) /* a masked unit's incoming weights get no gradient */
		for (int j = 0, in = m->width[m->latent_layer]; j < in; j++)
			assert_true(grad[m->w_off[m->latent_layer] + 2 * in + j] == 0.0f);
	free(c.params);
	free(grad);
	ae_work_delete(w);
	ae_delete(m);
}

/* IRMAE's K x K layers without activation between the encoder and the code: gradients of
 * every layer against the double reference, and the closed form of their FLOPs; a plain
 * model's layout and FLOPs are those of linear = 0. */
static void test_linear_layers_before_the_code(void **state)
{
	(void)state;
	linear_layers = 3;
	check_model_gradient(ACT_RELU, ACT_IDENTITY, ACT_SIGMOID, LOSS_MSE, 0.01, 0);
	check_model_gradient(ACT_SIGMOID, ACT_RELU, ACT_IDENTITY, LOSS_MSE, 0, 1);
	linear_layers = 0;
	struct ae_arch a = { .input_dim = 6, .n_hidden = 1, .hidden = { 5 }, .latent = 3,
			     .hidden_act = ACT_RELU, .latent_act = ACT_IDENTITY,
			     .output_act = ACT_SIGMOID };
	struct ae *plain = ae_new(&a);
	a.linear = 2;
	struct ae *lin = ae_new(&a);
	assert_non_null(plain);
	assert_non_null(lin);
	assert_int_equal(lin->n_layers, plain->n_layers + 2);
	assert_int_equal(lin->latent_layer, plain->latent_layer + 2);
	assert_true(lin->n_params == plain->n_params + 2 * (3 * 3 + 3));
	uint64_t s0, e0, s1, e1;
	a.linear = 0;
	ae_flops_per_example(&a, &s0, &e0);
	a.linear = 2;
	ae_flops_per_example(&a, &s1, &e1);
	/* each K x K layer: forward 2 K^2 + K, dW 2 K^2 + K, dX 2 K^2 */
	assert_true(s1 == s0 + 2 * (6 * 9 + 2 * 3) && e1 == e0 + 2 * (2 * 9 + 3));
	assert_null(ae_truncate(lin, 2));
	a.vae = 1;
	assert_null(ae_new(&a));
	ae_delete(plain);
	ae_delete(lin);
}

/* Nested dropout (row r keeps its first keep[r] units) and Matryoshka (the loss summed over
 * prefixes 1, 2 and 4 of a code of 4) against the double reference. */
static void test_nested_codes_gradients(void **state)
{
	(void)state;
	struct ae_arch arch = { .input_dim = 6, .n_hidden = 1, .hidden = { 5 }, .latent = 4,
				.hidden_act = ACT_RELU, .latent_act = ACT_IDENTITY,
				.output_act = ACT_SIGMOID };
	struct ae *m = ae_new(&arch);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, 11);
	ae_init(m, &r);
	enum { ROWS = 4 };
	float x[ROWS * 6];
	for (int i = 0; i < ROWS * 6; i++)
		x[i] = (float)(0.05 + 0.9 * rng_uniform(&r));
	int keep[ROWS] = { 1, 4, 2, 3 }, prefix[] = { 4, 1, 2 };
	float scale = 1.0f / (ROWS * 6);
	for (int mode = 0; mode < 2; mode++) {
		struct ae_work *w = ae_work_new(m, ROWS);
		float *grad = calloc(m->n_params, sizeof(float));
		uint64_t gemm = 0, ew = 0, gemm_plain = 0;
		struct ref c = { m, malloc(sizeof(double) * m->n_params), x, ROWS, LOSS_MSE, scale,
				 0, NULL, NULL, 0 };
		if (mode == 0) {
			w->keep = keep;
			c.keep = keep;
			ae_forward(m, w, x, ROWS, &gemm, &ew);
			ae_backward(m, w, x, ROWS, LOSS_MSE, scale, NULL, 0, NULL, grad, &gemm,
				    &ew);
		} else {
			c.prefix = prefix;
			c.n_prefix = 3;
			ae_forward(m, w, x, ROWS, &gemm, &ew);
			gemm_plain = gemm;
			double loss = ae_backward_nested(m, w, x, ROWS, LOSS_MSE, scale, prefix, 3,
							 grad, &gemm, &ew);
			for (size_t i = 0; i < m->n_params; i++)
				c.params[i] = m->params[i];
			assert_float_equal(loss * scale, ref_loss(&c), 1e-5);
			/* the forward pass served prefix 4; 1 and 2 cost a decoder pass each way */
			uint64_t step, eval;
			ae_flops_per_example(&arch, &step, &eval);
			assert_true(gemm > gemm_plain + ROWS * (step - eval));
		}
		for (size_t i = 0; i < m->n_params; i++)
			c.params[i] = m->params[i];
		double err = fd_gradient_error(ref_loss, &c, c.params, m->n_params, grad);
		if (err >= GRAD_TOL)
			print_error("nested mode %d: gradient relative error %g\n", mode, err);
		assert_true(err < GRAD_TOL);
		free(c.params);
		free(grad);
		ae_work_delete(w);
	}
	ae_delete(m);
}

/* The error of a prefix is the error of the model cut to it, bit for bit. */
static void test_prefix_errors_equal_truncated_models(void **state)
{
	(void)state;
	struct ae_arch arch = ae_arch_plain(8, (int[]){ 7 }, 1, 5, ACT_RELU, ACT_RELU, -1, 1);
	struct ae *m = ae_new(&arch);
	struct rng r;
	rng_seed(&r, 3);
	ae_init(m, &r);
	struct split s = { .n = 300, .dim = 8 };
	float *x = malloc(sizeof(float) * 300 * 8);
	for (int i = 0; i < 300 * 8; i++)
		x[i] = (float)rng_uniform(&r);
	s.x = x;
	int prefix[] = { 1, 2, 3, 4, 5 };
	double mse[5];
	struct flops f = { 0 };
	for (int threads = 1; threads <= 2; threads++) {
		assert_int_equal(ae_prefix_mse(m, &s, threads, prefix, 5, NULL, mse, &f), 0);
		for (int i = 0; i < 5; i++) {
			struct ae *cut = ae_truncate(m, prefix[i]);
			struct flops g = { 0 };
			assert_true(mse[i] == ae_eval_mse(cut, &s, 1, &g));
			ae_delete(cut);
		}
	}
	assert_true(mse[0] > mse[4]); /* a random model still uses its code */
	free(x);
	ae_delete(m);
}

static void test_model_gradient_mse(void **state)
{
	(void)state;
	check_model_gradient(ACT_SIGMOID, ACT_IDENTITY, ACT_IDENTITY, LOSS_MSE, 0, 0);
	check_model_gradient(ACT_RELU, ACT_RELU, ACT_SIGMOID, LOSS_MSE, 0, 0);
}

static void test_model_gradient_bce_mask_penalty(void **state)
{
	(void)state;
	check_model_gradient(ACT_SIGMOID, ACT_SIGMOID, ACT_SIGMOID, LOSS_BCE, 0, 1);
	check_model_gradient(ACT_SIGMOID, ACT_RELU, ACT_SIGMOID, LOSS_MSE, 0.3, 0);
}

/* ---- truncation ---- */

static void test_truncation_is_lossless(void **state)
{
	(void)state;
	struct ae_arch arch = { .input_dim = 12, .n_hidden = 1, .hidden = { 10 }, .latent = 7,
				.hidden_act = ACT_RELU, .latent_act = ACT_RELU,
				.output_act = ACT_SIGMOID };
	struct ae *m = ae_new(&arch);
	struct rng r;
	rng_seed(&r, 3);
	ae_init(m, &r);
	int keep = 4, rows = 9;
	for (int k = keep; k < 7; k++)
		m->latent_mask[k] = 0.0f;
	float x[9 * 12];
	for (int i = 0; i < rows * 12; i++)
		x[i] = (float)rng_uniform(&r);
	struct ae *t = ae_truncate(m, keep);
	assert_non_null(t);
	assert_int_equal(t->arch.latent, keep);
	assert_true(t->n_params < m->n_params);
	struct ae_work *wm = ae_work_new(m, rows), *wt = ae_work_new(t, rows);
	uint64_t g = 0, e = 0;
	const float *ym = ae_forward(m, wm, x, rows, &g, &e);
	const float *yt = ae_forward(t, wt, x, rows, &g, &e);
	assert_memory_equal(ym, yt, sizeof(float) * rows * 12);
	const float *cm = ae_codes(m, wm), *ct = ae_codes(t, wt);
	for (int i = 0; i < rows; i++)
		for (int k = 0; k < keep; k++)
			assert_true(cm[i * 7 + k] == ct[i * keep + k]);
	assert_null(ae_truncate(m, 0));
	assert_null(ae_truncate(m, 8));
	ae_work_delete(wm);
	ae_work_delete(wt);
	ae_delete(t);
	ae_delete(m);
}

static void test_bad_architecture_rejected(void **state)
{
	(void)state;
	struct ae_arch arch = { .input_dim = 12, .n_hidden = 1, .hidden = { 0 }, .latent = 3 };
	assert_null(ae_new(&arch));
	arch.hidden[0] = 5;
	arch.latent = 0;
	assert_null(ae_new(&arch));
	arch.latent = 2;
	arch.n_hidden = AE_MAX_HIDDEN + 1;
	assert_null(ae_new(&arch));
}

/* ---- FLOP counter ---- */

/* README's FLOP convention written out: one training step on B rows, one evaluation of B
 * rows */
static uint64_t closed_form_train_step(const int *width, int n_layers, uint64_t B)
{
	uint64_t total = 0;
	for (int l = 0; l < n_layers; l++) {
		uint64_t in = width[l], out = width[l + 1];
		total += 2 * B * in * out + B * out;          /* forward and bias */
		total += 2 * B * in * out + B * out;          /* dW and the bias gradient */
		if (l > 0)
			total += 2 * B * in * out;            /* dX, skipped for the first layer */
	}
	return total;
}

static uint64_t closed_form_eval(const int *width, int n_layers, uint64_t B)
{
	uint64_t total = 0;
	for (int l = 0; l < n_layers; l++)
		total += 2 * B * width[l] * width[l + 1] + B * width[l + 1];
	return total;
}

static void check_flops(int D, int n_hidden, const int *hidden, int K, int n_train, int n_val,
			int batch, int chunks, int epochs)
{
	struct ae_arch arch = { .input_dim = D, .n_hidden = n_hidden, .latent = K,
				.hidden_act = ACT_RELU, .latent_act = ACT_RELU,
				.output_act = ACT_SIGMOID };
	if (n_hidden)
		memcpy(arch.hidden, hidden, sizeof(int) * n_hidden);
	int width[AE_MAX_LAYERS + 1], L = 2 * (n_hidden + 1);
	width[0] = width[L] = D;
	for (int i = 0; i < n_hidden; i++)
		width[i + 1] = width[L - 1 - i] = hidden[i];
	width[n_hidden + 1] = K;
	struct ae *m = ae_new(&arch);
	struct rng r;
	rng_seed(&r, 5);
	ae_init(m, &r);
	struct split train = { .n = n_train, .dim = D, .x = malloc(sizeof(float) * n_train * D) };
	struct split val = { .n = n_val, .dim = D, .x = malloc(sizeof(float) * n_val * D) };
	for (int i = 0; i < n_train * D; i++)
		train.x[i] = (float)rng_uniform(&r);
	for (int i = 0; i < n_val * D; i++)
		val.x[i] = (float)rng_uniform(&r);
	struct train_cfg c;
	train_cfg_defaults(&c);
	c.epochs = epochs;
	c.batch = batch;
	c.chunks = chunks;
	struct flops f = { 0 };
	assert_int_equal(ae_train(m, &train, &val, &c, &r, &f), epochs);
	uint64_t want = 0;
	for (int first = 0; first < n_train; first += batch)
		want += closed_form_train_step(width, L,
					       n_train - first < batch ? n_train - first : batch);
	want *= epochs;
	assert_int_equal(f.train_gemm, want);
	assert_int_equal(f.eval_gemm, epochs * closed_form_eval(width, L, n_val));
	/* the per-example estimate the scheduler uses, against what the counter counted */
	uint64_t step, eval;
	ae_flops_per_example(&arch, &step, &eval);
	assert_int_equal(step * (uint64_t)n_train * (uint64_t)epochs, f.train_gemm);
	assert_int_equal(eval * (uint64_t)n_val * (uint64_t)epochs, f.eval_gemm);
	/* an evaluation pass alone */
	struct flops e = { 0 };
	ae_eval_mse(m, &val, 2, &e);
	assert_int_equal(e.eval_gemm, closed_form_eval(width, L, n_val));
	assert_int_equal(e.train_gemm, 0);
	free(train.x);
	free(val.x);
	ae_delete(m);
}

static void test_flops_closed_form(void **state)
{
	(void)state;
	/* 50 = 3 * 16 + 2: a ragged last batch; two architectures, one and two chunks */
	int h2[] = { 16, 8 };
	check_flops(20, 2, h2, 4, 50, 11, 16, 2, 2);
	check_flops(20, 0, NULL, 3, 50, 7, 16, 1, 1);
	int h1[] = { 31 };
	check_flops(17, 1, h1, 5, 300, 257, 64, 3, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_gradient_mse),
		cmocka_unit_test(test_nested_codes_gradients),
		cmocka_unit_test(test_prefix_errors_equal_truncated_models),
		cmocka_unit_test(test_model_gradient_bce_mask_penalty),
		cmocka_unit_test(test_linear_layers_before_the_code),
		cmocka_unit_test(test_truncation_is_lossless),
		cmocka_unit_test(test_bad_architecture_rejected),
		cmocka_unit_test(test_flops_closed_form),
	};
	return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
