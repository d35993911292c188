/* test_eb.c: Early-Bird's rules on crafted masks and scales, the batch-norm scale and shift
 * against finite differences, and pruning on data of known dimension. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../baselines/earlybird.h"
#include "../core/blas.h"
#include "../core/flops.h"
#include "../core/model.h"
#include "../search/strategy.h"
#include "../strategies.h"


static void test_window_rule_on_crafted_masks(void **state)
{
	(void)state;
	struct eb_window w, v, u;
	assert_int_equal(eb_window_init(&w, 10), 0);
	assert_int_equal(eb_window_init(&v, 10), 0);
	assert_int_equal(eb_window_init(&u, 10), 0);
	unsigned char a[10] = { 1, 1, 1, 1, 1, 0, 0, 0, 0, 0 };
	unsigned char b[10] = { 1, 1, 1, 1, 0, 1, 0, 0, 0, 0 }; /* 2 of 10 differ: 0.2 */
	unsigned char c[10] = { 1, 1, 1, 1, 1, 0, 0, 0, 0, 1 }; /* 1 of 10 differs from a */
	assert_float_equal(eb_distance(a, b, 10), 0.2, 1e-12);
	assert_float_equal(eb_distance(a, c, 10), 0.1, 1e-12);
	double d;
	/* identical masks: no ticket before the window holds 5, a ticket on the 5th */
	for (int i = 1; i <= 4; i++) {
		assert_int_equal(eb_window_push(&w, a, 0.1, &d), 0);
		assert_true(isnan(d));
	}
	assert_int_equal(eb_window_push(&w, a, 0.1, &d), 1);
	assert_float_equal(d, 0.0, 0);
	/* b differs by 0.2 from the older ones: no ticket while b is in the window */
	const unsigned char *seq[] = { a, b, a, a, a, a, a };
	int want[] = { 0, 0, 0, 0, 0, 0, 1 };
	for (int i = 0; i < 7; i++) {
		assert_int_equal(eb_window_push(&v, seq[i], 0.1, &d), want[i]);
		if (i == 4)
			assert_float_equal(d, 0.2, 1e-12);
	}
	/* within eps exactly counts (0.1 <= 0.1) */
	const unsigned char *close[] = { a, a, a, a, c };
	for (int i = 0; i < 5; i++)
		assert_int_equal(eb_window_push(&u, close[i], 0.1, &d), i == 4);
	eb_window_free(&w);
	eb_window_free(&v);
	eb_window_free(&u);
}

/* Two layers of 4 and 2 scales, worked by hand: each layer's largest (at layer_min 0.01) is
 * protected, then one global threshold at position floor(6 (1 - keep)) of the 6 scores. */
static void test_global_mask_with_layer_cap(void **state)
{
	(void)state;
	float g[] = { 0.1f, 0.5f, 0.3f, 0.9f, /* layer 2: */ 0.05f, 0.02f };
	int sizes[] = { 4, 2 };
	unsigned char m[6];
	/* scores 0.1 0.5 0.3 inf | inf 0.02; ascending 0.02 0.1 0.3 0.5 inf inf */
	struct {
		double keep, layer_min;
		unsigned char want[6];
	} cases[] = {
		{ 0.5, 0.01, { 0, 1, 0, 1, 1, 0 } },  /* position 3: 0.5 */
		{ 0.1, 0.01, { 0, 0, 0, 1, 1, 0 } },  /* position 5: only the protected */
		{ 0.7, 0.01, { 1, 1, 1, 1, 1, 0 } },  /* position 1: 0.1 */
		{ 0.1, 0.0, { 0, 0, 0, 1, 1, 0 } },   /* still each layer's largest */
		{ 0.1, 0.5, { 0, 1, 0, 1, 1, 0 } },   /* half of layer 1 protected: 0.5 and 0.9 */
		{ 1.0, 0.01, { 1, 1, 1, 1, 1, 1 } },  /* position 0: all */
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		assert_int_equal(eb_mask(g, sizes, 2, cases[c].keep, cases[c].layer_min, m), 0);
		assert_memory_equal(m, cases[c].want, 6);
	}
	/* Phi(beta / |gamma|): Phi(-3) = 0.0013 is dead, Phi(-2) = 0.023 alive */
	float ga[] = { 1.0f, 1.0f, -1.0f, 1e-4f, 0.0f };
	float b[] = { -3.0f, -2.0f, -2.0f, 5.0f, 1.0f };
	assert_int_equal(eb_active(ga, b, 5), 2);
}

/* The decoupled step moves each scale lambda * lr towards 0 and stops at 0. */
static void test_shrink_closed_form(void **state)
{
	(void)state;
	float g[] = { 1.0f, -0.5f, 0.003f, -0.002f, 0.0f };
	eb_shrink(g, 5, 0.0025);
	float want[] = { 0.9975f, -0.4975f, 0.0005f, 0.0f, 0.0f };
	for (int i = 0; i < 5; i++)
		assert_float_equal(g[i], want[i], 1e-7);
	eb_shrink(g, 5, 0.0025); /* 0.0005 reaches 0, never -0.002 */
	assert_float_equal(g[2], 0.0, 0);
	assert_float_equal(g[0], 0.995, 1e-7);
}

static uint64_t step_flops;
static unsigned char frozen_flags[64];
static double test_lambda, test_lambda_hidden, test_lr;

static void scales_step(void *ctx, struct ae *m, double batch_loss, struct flops *f)
{
	(void)batch_loss;
	(void)ctx;
	f->overhead += eb_scales_step(m, test_lambda, test_lambda_hidden, 0, test_lr, frozen_flags);
	step_flops++;
}

/* On identical rows every batch-normed value equals its batch mean, so the data gradient of
 * every scale is exactly 0 and Adam leaves the scales alone: what moves them is the decoupled
 * step alone, lambda * lr per step whatever Adam's normalisation, down to 0, where the freeze
 * holds them while Adam runs on. */
static void test_decoupled_l1_decays_at_lambda_lr(void **state)
{
	(void)state;
	enum { D = 4, N = 32 };
	struct ae_arch arch = { .input_dim = D, .n_hidden = 1, .hidden = { 3 }, .latent = 2,
				.hidden_act = ACT_RELU, .latent_act = ACT_RELU,
				.output_act = ACT_IDENTITY, .latent_bn = 1, .hidden_bn = AE_BN_HIDDEN };
	struct ae *m = ae_new(&arch);
	assert_non_null(m);
	assert_int_equal((int)m->n_bn, 3 + 2 + 3);
	struct rng r;
	rng_seed(&r, 3);
	ae_init(m, &r);
	float x[N * D];
	for (int i = 0; i < N * D; i++)
		x[i] = 0.25f * (float)(i % D);
	struct split train = { .x = x, .n = N, .dim = D };
	struct train_cfg c;
	train_cfg_defaults(&c);
	c.epochs = 10;
	c.batch = 8; /* 4 steps an epoch: 40 */
	c.adam.lr = 0.01f;
	c.after_step = scales_step;
	test_lambda = 0.5;
	test_lambda_hidden = 0.1;
	test_lr = 0.01;
	memset(frozen_flags, 0, sizeof(frozen_flags));
	step_flops = 0;
	struct flops f = { 0 };
	assert_int_equal(ae_train(m, &train, NULL, &c, &r, &f), 10);
	assert_int_equal((int)step_flops, 40);
	for (int l = 0; l < m->n_layers - 1; l++) {
		double want = 1.0 - 40 * (l == m->latent_layer ? 0.5 : 0.1) * 0.01;
		for (int j = 0; j < m->width[l + 1]; j++)
			assert_float_equal(m->params[m->bn_off[l] + j], want, 1e-5);
	}
	assert_int_equal(f.overhead, 40 * 8 * (FLOPS_L1_SHRINK + FLOPS_FREEZE));
	/* 0.8 left on the code layer: at 0.025 a step it reaches 0 at step 32 of 40, and stays */
	test_lambda = 2.5;
	assert_int_equal(ae_train(m, &train, NULL, &c, &r, &f), 10);
	for (int k = 0; k < 2; k++) {
		size_t at = m->gamma_off + (size_t)k;
		assert_float_equal(m->params[at], 0.0, 0);
		assert_float_equal(m->adam_m[at], 0.0, 0);
		assert_true(frozen_flags[m->bn_unit[m->latent_layer] + k]);
	}
	assert_float_equal(m->params[m->bn_off[0]], 0.92, 1e-5); /* hidden: 80 steps of 0.001 */
	assert_false(frozen_flags[0]);
	ae_delete(m);
}

/* ---- batch norm on every layer, against a double reference ---- */

struct ref {
	const struct ae *m;
	double *p;
	const float *x;
	int rows;
	double scale;
};

static double sig(double z)
{
	return 1 / (1 + exp(-z));
}

/* z (rows, n) of layer l through its batch norm (batch statistics, biased variance) */
static void ref_bn(const struct ref *c, int l, int n, double z[][8])
{
	const double *gamma = c->p + c->m->bn_off[l], *beta = gamma + n;
	for (int k = 0; k < n; k++) {
		double mean = 0, var = 0;
		for (int r = 0; r < c->rows; r++)
			mean += z[r][k] / c->rows;
		for (int r = 0; r < c->rows; r++)
			var += (z[r][k] - mean) * (z[r][k] - mean) / c->rows;
		for (int r = 0; r < c->rows; r++)
			z[r][k] = gamma[k] * (z[r][k] - mean) / sqrt(var + 1e-5) + beta[k];
	}
}

/* layer l: out (rows, n_out) = W in + b, then batch norm and the sigmoid unless last */
static void ref_layer(const struct ref *c, int l, int n_in, int n_out, double in[][8],
		      double out[][8], int last)
{
	const struct ae *m = c->m;
	for (int r = 0; r < c->rows; r++)
		for (int j = 0; j < n_out; j++) {
			double s = c->p[m->b_off[l] + j];
			for (int i = 0; i < n_in; i++)
				s += c->p[m->w_off[l] + j * n_in + i] * in[r][i];
			out[r][j] = s;
		}
	if (last)
		return;
	ref_bn(c, l, n_out, out);
	for (int r = 0; r < c->rows; r++)
		for (int j = 0; j < n_out; j++)
			out[r][j] = sig(out[r][j]);
}

static double ref_loss(void *ctx)
{
	const struct ref *c = ctx;
	enum { D = 6, H = 5, K = 3 };
	double x[8][8], h[8][8], z[8][8], g[8][8], y[8][8], total = 0;
	for (int r = 0; r < c->rows; r++)
		for (int i = 0; i < D; i++)
			x[r][i] = c->x[r * D + i];
	ref_layer(c, 0, D, H, x, h, 0);
	ref_layer(c, 1, H, K, h, z, 0);
	ref_layer(c, 2, K, H, z, g, 0);
	ref_layer(c, 3, H, D, g, y, 1);
	for (int r = 0; r < c->rows; r++)
		for (int j = 0; j < D; j++)
			total += c->scale * (y[r][j] - x[r][j]) * (y[r][j] - x[r][j]);
	return total;
}

static void test_scale_and_shift_gradient(void **state)
{
	(void)state;
	struct ae_arch arch = { .input_dim = 6, .n_hidden = 1, .hidden = { 5 }, .latent = 3,
				.hidden_act = ACT_SIGMOID, .latent_act = ACT_SIGMOID,
				.output_act = ACT_IDENTITY, .latent_bn = 1, .hidden_bn = AE_BN_HIDDEN };
	struct ae *m = ae_new(&arch);
	struct rng r;
	rng_seed(&r, 8);
	ae_init(m, &r);
	assert_float_equal(m->params[m->gamma_off], 1.0, 0);
	assert_true(m->bn_at[0] && m->bn_at[1] && m->bn_at[2] && !m->bn_at[3]);
	for (int l = 0; l < 3; l++) /* away from the initial values */
		for (int k = 0; k < m->width[l + 1]; k++) {
			m->params[m->bn_off[l] + k] = (float)(0.5 + 0.4 * k - 0.1 * l);
			m->params[m->bn_off[l] + m->width[l + 1] + k] = (float)(0.2 * k - 0.1 * l);
		}
	int rows = 5;
	float x[5 * 6];
	for (int i = 0; i < rows * 6; i++)
		x[i] = (float)rng_normal(&r);
	struct ae_work *w = ae_work_new(m, rows);
	w->training = 1;
	float *grad = calloc(m->n_params, sizeof(float));
	uint64_t g = 0, e = 0;
	float scale = 1.0f / (rows * 6);
	ae_forward(m, w, x, rows, &g, &e);
	ae_backward(m, w, x, rows, LOSS_MSE, scale, NULL, 1.0f / rows, NULL, grad, &g, &e);
	struct ref c = { m, malloc(sizeof(double) * m->n_params), x, rows, scale };
	for (size_t i = 0; i < m->n_params; i++)
		c.p[i] = m->params[i];
	double err = fd_gradient_error(ref_loss, &c, c.p, m->n_params, grad);
	print_message("batch-norm gradient relative error %.2e\n", err);
	assert_true(err < 1e-3);
	/* the thesis's L1 (eb.l1 = adam): lambda sign(gamma) joins gamma's gradient, once a batch */
	m->bn_l1[1] = 0.25f;
	m->bn_l1[0] = 0.1f;
	m->params[m->gamma_off + 1] = -0.7f;
	float *grad2 = calloc(m->n_params, sizeof(float));
	ae_forward(m, w, x, rows, &g, &e);
	ae_backward(m, w, x, rows, LOSS_MSE, scale, NULL, 1.0f / rows, NULL, grad, &g, &e);
	m->bn_l1[1] = m->bn_l1[0] = 0.0f;
	ae_forward(m, w, x, rows, &g, &e);
	ae_backward(m, w, x, rows, LOSS_MSE, scale, NULL, 1.0f / rows, NULL, grad2, &g, &e);
	assert_float_equal(grad[m->gamma_off] - grad2[m->gamma_off], 0.25, 1e-6);
	assert_float_equal(grad[m->gamma_off + 1] - grad2[m->gamma_off + 1], -0.25, 1e-6);
	assert_float_equal(grad[m->bn_off[0]] - grad2[m->bn_off[0]], 0.1, 1e-6);
	assert_float_equal(grad[m->beta_off] - grad2[m->beta_off], 0.0, 0);
	assert_float_equal(grad[m->bn_off[2]] - grad2[m->bn_off[2]], 0.0, 0);
	free(grad2);
	assert_null(ae_truncate(m, 2));
	free(c.p);
	free(grad);
	ae_work_delete(w);
	ae_delete(m);
}

/* Cutting units whose scale is 0 (they emit act(beta) whatever the input) changes no
 * evaluation output: their constant joins the next layer's biases. */
static void test_prune_folds_silent_units(void **state)
{
	(void)state;
	struct ae_arch arch = { .input_dim = 7, .n_hidden = 2, .hidden = { 6, 5 }, .latent = 4,
				.hidden_act = ACT_RELU, .latent_act = ACT_RELU,
				.output_act = ACT_SIGMOID, .latent_bn = 1, .hidden_bn = AE_BN_HIDDEN };
	struct ae *m = ae_new(&arch);
	struct rng r;
	rng_seed(&r, 5);
	ae_init(m, &r);
	for (size_t u = 0; u < m->n_bn; u++) { /* running statistics away from 0 and 1 */
		m->bn_mean[u] = (float)(0.3 * rng_normal(&r));
		m->bn_var[u] = (float)(0.5 + rng_uniform(&r));
	}
	for (int l = 0; l < m->n_layers - 1; l++)
		for (int j = 0; j < m->width[l + 1]; j++)
			m->params[m->bn_off[l] + m->width[l + 1] + j] = (float)(0.5 * rng_normal(&r));
	/* silence: encoder unit 2 of layer 0, code units 0 and 3, decoder unit 4 of layer 3 */
	unsigned char k0[6] = { 1, 1, 0, 1, 1, 1 }, k2[4] = { 0, 1, 1, 0 },
		      k3[5] = { 1, 1, 1, 1, 0 };
	const unsigned char *keep[AE_MAX_LAYERS] = { k0, NULL, k2, k3, NULL };
	m->params[m->bn_off[0] + 2] = 0.0f;
	m->params[m->bn_off[2] + 0] = m->params[m->bn_off[2] + 3] = 0.0f;
	m->params[m->bn_off[3] + 4] = 0.0f;
	m->params[m->bn_off[2] + 4 + 3] = 0.8f; /* a silent code unit emitting relu(0.8) */
	m->latent_mask[1] = 0.5f;
	struct ae *p = ae_prune(m, keep);
	assert_non_null(p);
	assert_int_equal(p->arch.hidden[0], 5);
	assert_int_equal(p->arch.hidden[1], 5);
	assert_int_equal(p->arch.latent, 2);
	assert_int_equal(p->arch.dec_hidden[1], 4); /* mirrors hidden[1], width 5 -> 4 */
	assert_int_equal(p->arch.dec_hidden[0], 6);
	assert_int_equal(p->width[4], 4);
	assert_int_equal(p->width[5], 6);
	assert_float_equal(p->latent_mask[0], 0.5, 0);
	enum { ROWS = 9 };
	float x[ROWS * 7];
	for (int i = 0; i < ROWS * 7; i++)
		x[i] = (float)rng_uniform(&r);
	struct ae_work *wm = ae_work_new(m, ROWS), *wp = ae_work_new(p, ROWS);
	uint64_t g = 0, e = 0;
	const float *ym = ae_forward(m, wm, x, ROWS, &g, &e), *yp = ae_forward(p, wp, x, ROWS, &g, &e);
	double worst = 0;
	for (int i = 0; i < ROWS * 7; i++)
		worst = fmax(worst, fabs(ym[i] - yp[i]));
	print_message("pruned against whole: largest output difference %.2e\n", worst);
	assert_true(worst < 1e-6);
	/* the pruned model counts the FLOPs of its own widths */
	uint64_t step, eval;
	ae_flops_per_example(&p->arch, &step, &eval);
	assert_int_equal(eval, 2 * (7 * 5 + 5 * 5 + 5 * 2 + 2 * 4 + 4 * 6 + 6 * 7) +
				       (5 + 5 + 2 + 4 + 6 + 7));
	/* no layer may lose every unit */
	unsigned char none[4] = { 0 };
	const unsigned char *empty[AE_MAX_LAYERS] = { NULL, NULL, none };
	assert_null(ae_prune(m, empty));
	ae_work_delete(wm);
	ae_work_delete(wp);
	ae_delete(p);
	ae_delete(m);
}

/* what the strategy stored after every epoch */
struct eb_history {
	int epochs;
	int active[64];           /* epoch.active_latent */
	double distance[64];      /* epoch.mask_distance */
	uint64_t flops[64];       /* tuning FLOPs so far */
};

static int record(void *ctx, const struct trial_record *t, const struct epoch_record *e)
{
	(void)t;
	struct eb_history *h = ctx;
	assert_true(e->epoch < 64);
	h->epochs = e->epoch;
	h->active[e->epoch] = e->active_latent;
	h->distance[e->epoch] = e->mask_distance;
	h->flops[e->epoch] = e->flops_tuning;
	return 0;
}

static const struct eb_settings *eb_of(const struct experiment *e)
{
	return experiment_settings(e, &eb_settings);
}

/* The Early-Bird run of an experiment on affine:d=4,D=32 (16 code units, 30 epochs) with
 * `extra` keys, for seed; its decision into dec and its epochs into h. */
static void run_affine(const char *extra, long seed, struct eb_history *h,
		       struct trial_record *t, struct decision_record *dec, int *n_keep)
{
	char path[512], text[512];
	snprintf(path, sizeof(path), "%s", tmp_path("eb.ini"));
	snprintf(text, sizeof(text),
		 "[e]\ndataset = affine:d=4,D=32,n=4000,noise=0.01\nhidden = 64\n"
		 "epochs = 30\nbatch = 64\nlr = 0.003\nk_max = 16\nstrategies = earlybird\n%s",
		 extra);
	write_text(path, text);
	struct experiment_file f;
	if (experiments_load(&f, path, dimsearch_strategies()))
		fail_msg("%s", f.errors);
	const struct experiment *e = &f.exp[0];
	struct data_opts o = { .n_train = 0, .n_val = -1, .n_test = -1, .seed = 1 };
	struct dataset d;
	assert_int_equal(dataset_load(&d, e->dataset, &o), 0);
	const struct strategy *s = registry_find(dimsearch_strategies(), "earlybird");
	assert_int_equal(s->plan(e, seed, t, 1), 1);
	memset(h, 0, sizeof(*h));
	struct trial_ctx c = { .exp = e, .data = &d, .threads = 2, .on_epoch = record, .ctx = h };
	assert_int_equal(s->run(&c, t), TRIAL_COMPLETE);
	t->state = TRIAL_COMPLETE;
	assert_int_equal(s->decide(e, seed, t, 1, dec), 0);
	*n_keep = eb_of(e)->n_keep;
	dataset_free(&d);
	experiments_free(&f);
}

/* How many units are alive after the budget tips with the last bits of training. What the
 * method guarantees does not: the decision is the count stored after the last epoch, a
 * frozen unit (gamma held at exactly 0) is never counted alive, the ticket comes no earlier
 * than every fraction's mask was stable, and the whole run is charged. */
static void test_pruning_run_keeps_its_rules(void **state)
{
	(void)state;
	enum { K = 16, EPOCHS = 30 };
	struct eb_history h;
	struct trial_record t;
	struct decision_record dec;
	int n_keep;
	run_affine("delivery.epochs = 3\n", 1, &h, &t, &dec, &n_keep);
	print_message("Early-Bird: %s\n", dec.details);
	/* the search's epochs, then the ticket's 3 of training on, without a count */
	assert_int_equal(h.epochs, EPOCHS + 3);
	for (int ep = EPOCHS + 1; ep <= EPOCHS + 3; ep++)
		assert_int_equal(h.active[ep], -1);
	/* the defaults freeze units on d = 4 data within the budget, never all (8 of 16 seen) */
	int frozen = (int)details_number(dec.details, "frozen");
	int frozen_at_ticket = (int)details_number(dec.details, "frozen_at_ticket");
	assert_true(frozen > 0 && frozen < K);
	assert_true(frozen_at_ticket >= 0 && frozen_at_ticket <= frozen);
	/* the decision is the count stored after the last epoch, no frozen unit in it */
	int full = (int)details_number(dec.details, "k_full_budget");
	assert_int_equal(full, h.active[EPOCHS]);
	assert_int_equal(dec.chosen_latent, full);
	assert_true(full >= 1 && full <= K - frozen);
	/* the ticket: stored beside it, no earlier than each ratio's first stable mask */
	assert_non_null(strstr(dec.details, "\"ticket\":true"));
	int ticket = (int)details_number(dec.details, "ticket_epoch");
	int at_ticket = (int)details_number(dec.details, "k_at_ticket");
	assert_true(ticket >= 2 && ticket <= EPOCHS);
	assert_true(at_ticket >= full && at_ticket <= K - frozen_at_ticket);
	const char *st = strstr(dec.details, "\"stable_epoch_by_keep\":[");
	assert_non_null(st);
	st += strlen("\"stable_epoch_by_keep\":[");
	for (int r = 0; r < n_keep; r++) {
		int first = (int)strtol(st, (char **)&st, 10);
		assert_true(first >= 2 && first <= ticket);
		st++;
	}
	/* the count's last run of equal epochs, and the flag when shorter than eb.stable (5) */
	int run = (int)details_number(dec.details, "stable_epochs");
	assert_true(run >= 1 && run <= EPOCHS);
	for (int ep = EPOCHS - run + 1; ep <= EPOCHS; ep++)
		assert_int_equal(h.active[ep], full);
	if (run < EPOCHS)
		assert_true(h.active[EPOCHS - run] != full);
	assert_true((strstr(dec.details, "\"flag\":\"not_converged\"") != NULL) == (run < 5));
	/* units are left, so the decision is a width, never flagged collapsed */
	assert_null(strstr(dec.details, "\"flag\":\"collapsed\""));
	/* charged the whole run, its mask and scale work included */
	assert_true(dec.tuning_flops == h.flops[EPOCHS]);
	assert_true(details_number(dec.details, "tuning_flops_at_ticket") == h.flops[ticket]);
	assert_true(t.flops.overhead > 0);
	/* the delivered model: the pruned network, trained on */
	assert_int_equal(t.latent, full);
	assert_true(isfinite(t.test_mse) && t.test_mse > 0);
}

/* With the defaults (scales on the code and encoder layers, lambda 0.9 at lr 8e-3) the count
 * settles near 2d - 1 on affine data: a ReLU code spends about two units on a direction, one
 * for each sign (README, "What Early-Bird's count measures here"). Seen: 7 on each of seeds
 * 1-5 after 30 epochs (5 to 7 after 60). Asserted over the seeds: a median between d and 2d,
 * no seed outside d - 1 .. 2d + 2. */
static void test_defaults_count_on_known_dimension(void **state)
{
	(void)state;
	enum { SEEDS = 5, D = 4 };
	int count[SEEDS];
	for (int i = 0; i < SEEDS; i++) {
		struct eb_history h;
		struct trial_record t;
		struct decision_record dec;
		int n_keep;
		run_affine("delivery.epochs = 1\n", i + 1, &h, &t, &dec, &n_keep);
		count[i] = dec.chosen_latent;
		print_message("seed %d: %d units after the budget, %d at the ticket (epoch %d)\n",
			      i + 1, count[i], (int)details_number(dec.details, "k_at_ticket"),
			      (int)details_number(dec.details, "ticket_epoch"));
		assert_true(count[i] >= D - 1 && count[i] <= 2 * D + 2);
	}
	for (int i = 0; i < SEEDS; i++) /* sort for the median */
		for (int j = i + 1; j < SEEDS; j++)
			if (count[j] < count[i]) {
				int x = count[i];
				count[i] = count[j];
				count[j] = x;
			}
	assert_true(count[SEEDS / 2] >= D && count[SEEDS / 2] <= 2 * D);
}

/* Settings too long to spell out still give a key that fits, names them apart, and stays the
 * same from one plan to the next. */
static void test_long_settings_key(void **state)
{
	(void)state;
	char keys[2][160];
	const char *keep[2] = {
		"0.111111, 0.222222, 0.333333, 0.444444, 0.555555, 0.666666, 0.777777",
		"0.111111, 0.222222, 0.333333, 0.444444, 0.555555, 0.666666, 0.777778",
	};
	for (int i = 0; i < 2; i++) {
		char path[512], text[1024];
		snprintf(path, sizeof(path), "%s", tmp_path("eb-key.ini"));
		snprintf(text, sizeof(text),
			 "[e]\ndataset = affine:d=4,D=32,n=4000\nk_max = 16\nstrategies = earlybird\n"
			 "eb.keep = %s\neb.weight_decay = 0.000123456\neb.lr = 0.00123456\n"
			 "eb.l1 = adam\neb.bn = code\neb.layer_min = 0.0123456\ndelivery.epochs = 7\n",
			 keep[i]);
		write_text(path, text);
		struct experiment_file f;
		if (experiments_load(&f, path, dimsearch_strategies()))
			fail_msg("%s", f.errors);
		struct trial_record t[2];
		const struct strategy *s = registry_find(dimsearch_strategies(), "earlybird");
		assert_int_equal(s->plan(&f.exp[0], 3, &t[0], 1), 1);
		assert_int_equal(s->plan(&f.exp[0], 3, &t[1], 1), 1);
		assert_string_equal(t[0].key, t[1].key);
		assert_non_null(strstr(t[0].key, "/h="));
		assert_non_null(strstr(t[0].key, "/K=16/seed=3/de=7"));
		snprintf(keys[i], sizeof(keys[i]), "%s", t[0].key);
		experiments_free(&f);
	}
	assert_string_not_equal(keys[0], keys[1]);
}

/* On a convolutional model the 2-D batch norms' scales shrink by lambda_conv * lr, exactly,
 * and are never frozen; the dense scales keep to their own lambdas; the FLOPs count both. */
static void test_conv_scales_shrink_at_lambda_conv(void **state)
{
	(void)state;
	int ch[] = { 2, 3 };
	struct ae_arch a = ae_arch_conv(1, 6, 6, ch, 2, 3, NULL, 0, 3, ACT_RELU, ACT_RELU, -1, 1);
	a.latent_bn = 1;
	struct ae *m = ae_new(&a);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, 1);
	ae_init(m, &r);
	size_t dense = m->conv_bn_unit, conv = m->n_bn - m->conv_bn_unit;
	assert_int_equal(conv, 2 + 3 + 2); /* two encoder blocks and the first decoder block */
	m->params[m->cbn_off[1]] = 5e-5f; /* below the freeze: still not frozen */
	unsigned char *frozen = calloc(m->n_bn, 1);
	uint64_t f = eb_scales_step(m, 0, 0, 0.5, 0.1, frozen);
	assert_true(f == dense * (FLOPS_L1_SHRINK + FLOPS_FREEZE) + conv * FLOPS_L1_SHRINK);
	for (int j = 0; j < m->n_conv; j++)
		for (int o = 0; m->cbn_at[j] && o < m->conv[j].c_out; o++) {
			float g = m->params[m->cbn_off[j] + o];
			if (j == 1 && o == 0)
				assert_true(g == 0.0f); /* stopped at 0, not across it */
			else
				assert_float_equal(g, 1.0f - 0.05f, 1e-7);
		}
	for (int l = 0; l < m->n_layers; l++)
		for (int k = 0; m->bn_at[l] && k < m->width[l + 1]; k++)
			assert_true(m->params[m->bn_off[l] + k] == 1.0f);
	free(frozen);
	ae_delete(m);
}

int main(void)
{
	blas_single_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_rule_on_crafted_masks),
		cmocka_unit_test(test_global_mask_with_layer_cap),
		cmocka_unit_test(test_shrink_closed_form),
		cmocka_unit_test(test_conv_scales_shrink_at_lambda_conv),
		cmocka_unit_test(test_decoupled_l1_decays_at_lambda_lr),
		cmocka_unit_test(test_scale_and_shift_gradient),
		cmocka_unit_test(test_prune_folds_silent_units),
		cmocka_unit_test(test_pruning_run_keeps_its_rules),
		cmocka_unit_test(test_defaults_count_on_known_dimension),
		cmocka_unit_test(test_long_settings_key),
	};
	return cmocka_run_group_tests_name("earlybird", tests, NULL, NULL);
}
