/* test_eb.c: Early-Bird's rules on crafted masks and scales, the batch-norm scale and shift
 * against finite differences, and pruning on data of known dimension. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../baselines/earlybird.h"
#include "../core/blas.h"
#include "../core/model.h"
#include "../search/strategy.h"
#include "../strategies.h"


static void test_window_rule_on_crafted_masks(void **state)
{
	(void)state;
	struct eb_window w = { .K = 10 };
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
	struct eb_window v = { .K = 10 };
	const unsigned char *seq[] = { a, b, a, a, a, a, a };
	int want[] = { 0, 0, 0, 0, 0, 0, 1 };
	for (int i = 0; i < 7; i++) {
		assert_int_equal(eb_window_push(&v, seq[i], 0.1, &d), want[i]);
		if (i == 4)
			assert_float_equal(d, 0.2, 1e-12);
	}
	/* within eps exactly counts (0.1 <= 0.1) */
	struct eb_window u = { .K = 10 };
	const unsigned char *close[] = { a, a, a, a, c };
	for (int i = 0; i < 5; i++)
		assert_int_equal(eb_window_push(&u, close[i], 0.1, &d), i == 4);
}

static void test_mask_quantile_and_alive_rule(void **state)
{
	(void)state;
	float gamma[] = { 0.1f, -0.5f, 0.3f, 0.9f };
	unsigned char m[4];
	eb_mask(gamma, 4, 0.5, m); /* median of |gamma| = 0.4 */
	assert_true(!m[0] && m[1] && !m[2] && m[3]);
	eb_mask(gamma, 4, 0.0, m); /* above the smallest */
	assert_true(!m[0] && m[1] && m[2] && m[3]);
	/* Phi(beta / |gamma|): Phi(-3) = 0.0013 is dead, Phi(-2) = 0.023 alive */
	float g[] = { 1.0f, 1.0f, -1.0f, 1e-4f, 0.0f };
	float b[] = { -3.0f, -2.0f, -2.0f, 5.0f, 1.0f };
	assert_int_equal(eb_active(g, b, 5), 2);
}

/* ---- batch norm on the code layer, against a double reference ---- */

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

static double ref_loss(void *ctx)
{
	const struct ref *c = ctx;
	const struct ae *m = c->m;
	enum { D = 6, H = 5, K = 3 };
	double h[8][H], z[8][K], total = 0;
	for (int r = 0; r < c->rows; r++) {
		for (int j = 0; j < H; j++) {
			double s = c->p[m->b_off[0] + j];
			for (int i = 0; i < D; i++)
				s += c->p[m->w_off[0] + j * D + i] * c->x[r * D + i];
			h[r][j] = sig(s);
		}
		for (int j = 0; j < K; j++) {
			double s = c->p[m->b_off[1] + j];
			for (int i = 0; i < H; i++)
				s += c->p[m->w_off[1] + j * H + i] * h[r][i];
			z[r][j] = s;
		}
	}
	for (int k = 0; k < K; k++) { /* batch statistics, biased variance */
		double mean = 0, var = 0;
		for (int r = 0; r < c->rows; r++)
			mean += z[r][k] / c->rows;
		for (int r = 0; r < c->rows; r++)
			var += (z[r][k] - mean) * (z[r][k] - mean) / c->rows;
		for (int r = 0; r < c->rows; r++)
			z[r][k] = sig(c->p[m->gamma_off + k] * (z[r][k] - mean) / sqrt(var + 1e-5) +
				      c->p[m->beta_off + k]);
	}
	for (int r = 0; r < c->rows; r++) {
		double g[H];
		for (int j = 0; j < H; j++) {
			double s = c->p[m->b_off[2] + j];
			for (int i = 0; i < K; i++)
				s += c->p[m->w_off[2] + j * K + i] * z[r][i];
			g[j] = sig(s);
		}
		for (int j = 0; j < D; j++) {
			double s = c->p[m->b_off[3] + j];
			for (int i = 0; i < H; i++)
				s += c->p[m->w_off[3] + j * H + i] * g[i];
			total += c->scale * (s - c->x[r * D + j]) * (s - c->x[r * D + j]);
		}
	}
	return total;
}

static void test_scale_and_shift_gradient(void **state)
{
	(void)state;
	struct ae_arch arch = { .input_dim = 6, .n_hidden = 1, .hidden = { 5 }, .latent = 3,
				.hidden_act = ACT_SIGMOID, .latent_act = ACT_SIGMOID,
				.output_act = ACT_IDENTITY, .latent_bn = 1 };
	struct ae *m = ae_new(&arch);
	struct rng r;
	rng_seed(&r, 8);
	ae_init(m, &r);
	assert_float_equal(m->params[m->gamma_off], 1.0, 0);
	for (int k = 0; k < 3; k++) { /* away from the initial values */
		m->params[m->gamma_off + k] = (float)(0.5 + 0.4 * k);
		m->params[m->beta_off + k] = (float)(0.2 * k - 0.1);
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
	/* the L1 subgradient adds lambda sign(gamma) to gamma's gradient, once per batch */
	m->gamma_l1 = 0.25f;
	m->params[m->gamma_off + 1] = -0.7f;
	float *grad2 = calloc(m->n_params, sizeof(float));
	ae_forward(m, w, x, rows, &g, &e);
	ae_backward(m, w, x, rows, LOSS_MSE, scale, NULL, 1.0f / rows, NULL, grad, &g, &e);
	m->gamma_l1 = 0.0f;
	ae_forward(m, w, x, rows, &g, &e);
	ae_backward(m, w, x, rows, LOSS_MSE, scale, NULL, 1.0f / rows, NULL, grad2, &g, &e);
	assert_float_equal(grad[m->gamma_off] - grad2[m->gamma_off], 0.25, 1e-6);
	assert_float_equal(grad[m->gamma_off + 1] - grad2[m->gamma_off + 1], -0.25, 1e-6);
	assert_float_equal(grad[m->beta_off] - grad2[m->beta_off], 0.0, 0);
	assert_null(ae_truncate(m, 2));
	free(grad2);
	free(c.p);
	free(grad);
	ae_work_delete(w);
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

/* Which epoch brings the ticket, and how many units are alive then, tip with the last bits of
 * training (seen here: epoch 11 to 16 and 4 to 9 units over seeds and BLAS kernels). What the
 * method guarantees does not: the ticket is the first epoch whose mask is within eps of the
 * window, the decision is the count stored at that epoch, and a frozen unit (gamma held at
 * exactly 0) is never counted alive, at the ticket or after it. */
static const struct eb_settings *eb_of(const struct experiment *e)
{
	return experiment_settings(e, &eb_settings);
}

static void test_strong_lambda_prunes_some_units(void **state)
{
	(void)state;
	enum { K = 16, EPOCHS = 30 };
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("eb.ini"));
	write_text(path, "[e]\ndataset = affine:d=4,D=32,n=4000,noise=0.01\nhidden = 64\n"
			 "epochs = 30\nbatch = 64\nlr = 0.003\nk_max = 16\nstrategies = earlybird\n"
			 "eb.lambda = 0.1\n");
	struct experiment_file f;
	if (experiments_load(&f, path, dimsearch_strategies()))
		fail_msg("%s", f.errors);
	const struct experiment *e = &f.exp[0];
	struct data_opts o = { .n_train = 0, .n_val = -1, .n_test = -1, .seed = 1 };
	struct dataset d;
	assert_int_equal(dataset_load(&d, e->dataset, &o), 0);
	const struct strategy *s = registry_find(dimsearch_strategies(), "earlybird");
	struct trial_record t;
	assert_int_equal(s->plan(e, 1, &t, 1), 1);
	struct eb_history h = { 0 };
	struct trial_ctx c = { .exp = e, .data = &d, .threads = 2, .on_epoch = record, .ctx = &h };
	assert_int_equal(s->run(&c, &t), TRIAL_COMPLETE);
	t.state = TRIAL_COMPLETE;
	struct decision_record dec;
	assert_int_equal(s->decide(e, 1, &t, 1, &dec), 0);
	print_message("Early-Bird: %s\n", dec.details);
	assert_int_equal(h.epochs, EPOCHS);
	/* lambda = 0.1 freezes most units on d = 4 data, never all (10 to 12 of 16 seen) */
	int frozen = (int)details_number(dec.details, "frozen");
	int frozen_at_ticket = (int)details_number(dec.details, "frozen_at_ticket");
	assert_true(frozen > 0 && frozen < K);
	/* a frozen unit stays frozen */
	assert_true(frozen_at_ticket >= 0 && frozen_at_ticket <= frozen);
	/* the ticket: the first epoch whose mask is within eps of the 4 before it (a strong
	 * lambda settles the mask well inside the budget: epoch 11 to 16 of 30 seen) */
	assert_non_null(strstr(dec.details, "\"ticket\":true"));
	int ticket = (int)details_number(dec.details, "ticket_epoch");
	assert_true(ticket >= EB_WINDOW && ticket < EPOCHS);
	for (int ep = 1; ep < ticket; ep++)
		assert_true(isnan(h.distance[ep]) || h.distance[ep] > eb_of(e)->eps);
	assert_true(h.distance[ticket] <= eb_of(e)->eps);
	/* the decision is the count stored at the ticket, not after it ... */
	int at_ticket = (int)details_number(dec.details, "k_at_ticket");
	assert_int_equal(at_ticket, h.active[ticket]);
	assert_int_equal(dec.chosen_latent, at_ticket);
	assert_int_equal((int)details_number(dec.details, "k_full_budget"), h.active[EPOCHS]);
	/* ... and counts no frozen unit, then or at the end */
	assert_true(at_ticket >= 1 && at_ticket <= K - frozen_at_ticket);
	assert_true(h.active[EPOCHS] <= K - frozen);
	/* the decision is charged the training up to the ticket, less than the whole run */
	assert_true(dec.tuning_flops == h.flops[ticket]);
	assert_true(details_number(dec.details, "tuning_flops_full_budget") == h.flops[EPOCHS]);
	assert_true(dec.tuning_flops < h.flops[EPOCHS]);
	dataset_free(&d);
	experiments_free(&f);
}

int main(void)
{
	blas_single_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_rule_on_crafted_masks),
		cmocka_unit_test(test_mask_quantile_and_alive_rule),
		cmocka_unit_test(test_scale_and_shift_gradient),
		cmocka_unit_test(test_strong_lambda_prunes_some_units),
	};
	return cmocka_run_group_tests_name("earlybird", tests, NULL, NULL);
}
