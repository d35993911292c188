/* test_lv.c: Least Volume with dynamic pruning: the volume penalty and its gradient against
 * finite differences, the pruning rule on crafted moving averages, freezing and cutting
 * units folded into the decoder's bias against the unfolded model, one power-iteration step
 * against its closed form, and the width chosen on affine data of dimension 4 over seeds. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../baselines/leastvolume.h"
#include "../core/data.h"
#include "../search/grid.h"
#include "../search/strategy.h"
#include "../strategies.h"

#define ROWS 7
#define K 5

/* The penalty in double: rows * w * exp(mean over alive units of log(std + eps)). */
static double penalty_ref(double w, double eps, const double *h, const unsigned char *frozen)
{
	double logsum = 0;
	int alive = 0;
	for (int k = 0; k < K; k++) {
		if (frozen[k])
			continue;
		double mean = 0, dev = 0;
		for (int r = 0; r < ROWS; r++)
			mean += h[r * K + k] / ROWS;
		for (int r = 0; r < ROWS; r++)
			dev += (h[r * K + k] - mean) * (h[r * K + k] - mean);
		logsum += log(sqrt(dev / (ROWS - 1)) + eps);
		alive++;
	}
	return ROWS * w * exp(logsum / alive);
}

static void test_penalty_gradient(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 3);
	double hd[ROWS * K];
	float h[ROWS * K], dh[ROWS * K];
	for (int i = 0; i < ROWS * K; i++) {
		hd[i] = 2 * rng_uniform(&r) - 1;
		h[i] = (float)hd[i];
		hd[i] = h[i];
		dh[i] = 0.25f; /* the penalty adds to what is there */
	}
	/* unit 1 constant: std 0, no gradient; unit 3 frozen: not in the mean */
	for (int i = 0; i < ROWS; i++)
		hd[i * K + 1] = h[i * K + 1] = 0.5f;
	unsigned char frozen[K] = { 0, 0, 0, 1, 0 };
	const double w = 0.3, eps = 0.01;
	const float scale = 1.0f / 16;
	double sum[K] = { 0 }, sumsq[K] = { 0 };
	uint64_t ew = 0;
	double p = lv_penalty(w, eps, ROWS, K, h, frozen, dh, scale, sum, sumsq, &ew);
	assert_float_equal(p, penalty_ref(w, eps, hd, frozen), 1e-9 * p);
	assert_true(ew == (uint64_t)ROWS * K * FLOPS_VOLUME + K * FLOPS_VOLUME_UNIT);
	for (int k = 0; k < K; k++) {
		double s = 0, q = 0;
		for (int i = 0; i < ROWS; i++) {
			s += hd[i * K + k];
			q += hd[i * K + k] * hd[i * K + k];
		}
		assert_float_equal(sum[k], s, 1e-12);
		assert_float_equal(sumsq[k], q, 1e-12);
	}
	double worst = 0;
	for (int i = 0; i < ROWS * K; i++) {
		double keep = hd[i], step = 1e-6;
		hd[i] = keep + step;
		double up = penalty_ref(w, eps, hd, frozen);
		hd[i] = keep - step;
		double down = penalty_ref(w, eps, hd, frozen);
		hd[i] = keep;
		double fd = scale * (up - down) / (2 * step), got = dh[i] - 0.25;
		int k = i % K;
		if (k == 1 || k == 3)
			assert_true(dh[i] == 0.25f); /* constant or frozen: untouched */
		else
			worst = fmax(worst, fabs(got - fd) / (fabs(fd) + 1e-6));
	}
	print_message("penalty %.6g, worst relative gradient error %.2g\n", p, worst);
	assert_true(worst < 1e-4);
	/* one row: no std, no penalty */
	assert_true(lv_penalty(w, eps, 1, K, h, NULL, NULL, scale, NULL, NULL, &ew) == 0);
}

static void test_pruning_rule(void **state)
{
	(void)state;
	const double z_t = 5e-5;
	double std_avg[6] = { 1e-6, 4.9e-5, 5e-5, 0.3, 0, 1e-7 };
	unsigned char frozen[6] = { 0, 0, 0, 0, 0, 1 }, newly[6];
	/* the loss not yet below r_t (equal is not below): nothing */
	assert_int_equal(lv_prune_rule(1.8, 1.8, std_avg, z_t, frozen, 6, newly), 0);
	assert_int_equal(lv_prune_rule(2.5, 1.8, std_avg, z_t, frozen, 6, newly), 0);
	for (int k = 0; k < 6; k++)
		assert_int_equal(newly[k], 0);
	/* below: every unit under z_t (strictly) not already frozen */
	assert_int_equal(lv_prune_rule(1.79, 1.8, std_avg, z_t, frozen, 6, newly), 3);
	unsigned char want[6] = { 1, 1, 0, 0, 1, 0 };
	for (int k = 0; k < 6; k++)
		assert_int_equal(newly[k], want[k]);
}

/* A plain model D = 12 - 9 - K - 9 - 12 with random parameters and a ReLU code. */
static struct ae *small_model(enum act code_act)
{
	int hidden[] = { 9 };
	struct ae_arch a = ae_arch_plain(12, hidden, 1, K, ACT_RELU, code_act, -1, 1);
	struct ae *m = ae_new(&a);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, 11);
	ae_init(m, &r);
	return m;
}

/* The reconstruction of x by m with code unit k replaced by held[k] wherever hold[k]. */
static void held_reconstruction(const struct ae *m, const float *x, int rows,
				const unsigned char *hold, const float *held, float *y)
{
	struct ae_work *w = ae_work_new(m, rows);
	uint64_t g = 0, ew = 0;
	ae_forward_encoder(m, w, x, rows, &g, &ew);
	float *h = w->act[m->latent_layer + 1];
	for (int r = 0; r < rows; r++)
		for (int k = 0; k < m->arch.latent; k++)
			if (hold[k])
				h[r * m->arch.latent + k] = held[k];
	memcpy(y, ae_forward_decoder(m, w, rows, &g, &ew), sizeof(float) * rows * 12);
	ae_work_delete(w);
}

static double max_diff(const float *a, const float *b, int n)
{
	double worst = 0;
	for (int i = 0; i < n; i++)
		worst = fmax(worst, fabs((double)a[i] - b[i]));
	return worst;
}

static void test_freeze_and_cut_fold_into_the_bias(void **state)
{
	(void)state;
	enum { N = 50 };
	float x[N * 12], want[N * 12], got[N * 12];
	struct rng r;
	rng_seed(&r, 5);
	for (int i = 0; i < N * 12; i++)
		x[i] = (float)rng_uniform(&r);
	struct ae *m = small_model(ACT_IDENTITY);
	/* freeze units 1 and 3 at constants: the model's outputs are those of the unfrozen
	 * model with the two units held there */
	unsigned char hold[K] = { 0, 1, 0, 1, 0 };
	float held[K] = { 0, 0.37f, 0, -1.25f, 0 };
	held_reconstruction(m, x, N, hold, held, want);
	lv_freeze(m, 1, held[1]);
	lv_freeze(m, 3, held[3]);
	assert_true(m->latent_mask[1] == 0 && m->latent_mask[3] == 0);
	struct ae_work *w = ae_work_new(m, N);
	uint64_t g = 0, ew = 0;
	memcpy(got, ae_forward(m, w, x, N, &g, &ew), sizeof(got));
	ae_work_delete(w);
	double freeze_err = max_diff(want, got, N * 12);
	/* cut to units 4, 0 (in that order), unit 2 held at 0.8: the frozen units are already
	 * in the bias, and a unit the cut drops is folded there */
	int order[] = { 4, 0 };
	float fill[K] = { 0, 0, 0.8f, 0, 0 };
	unsigned char hold2[K] = { 0, 1, 1, 1, 0 };
	float held2[K] = { 0, 0, 0.8f, 0, 0 }; /* frozen units emit 0 now (mask 0) */
	held_reconstruction(m, x, N, hold2, held2, want);
	struct ae *c = lv_cut(m, order, 2, fill);
	assert_non_null(c);
	assert_int_equal(c->arch.latent, 2);
	w = ae_work_new(c, N);
	memcpy(got, ae_forward(c, w, x, N, &g, &ew), sizeof(got));
	ae_work_delete(w);
	double cut_err = max_diff(want, got, N * 12);
	print_message("freeze: %.2g, cut: %.2g largest output difference\n", freeze_err, cut_err);
	assert_true(freeze_err < 1e-6);
	assert_true(cut_err < 1e-6);
	/* the cut's prefix errors, held at fill, are the cut model's errors */
	struct ae *all = lv_cut(m, (int[]){ 4, 0, 2 }, 3, NULL);
	assert_non_null(all);
	struct split s = { .x = x, .n = N, .dim = 12 };
	struct flops f = { 0 };
	double mse[1];
	float fill3[3] = { 0, 0, 0.8f };
	assert_int_equal(ae_prefix_mse(all, &s, 1, (int[]){ 2 }, 1, fill3, mse, &f), 0);
	double direct = ae_eval_mse(c, &s, 1, &f);
	assert_float_equal(mse[0], direct, 1e-6 * direct);
	ae_delete(all);
	ae_delete(c);
	ae_delete(m);
}

static void test_spectral_step_closed_form(void **state)
{
	(void)state;
	/* W = diag(3, 0.5) (2 x 2) from u = (1, 1): v = W^T u / |W^T u| = (3, 0.5) / sqrt(9.25),
	 * W v = (9, 0.25) / sqrt(9.25), sigma = |W v| = sqrt(81.0625 / 9.25) */
	float W[4] = { 3, 0, 0, 0.5f };
	double u[2] = { 1, 1 }, v[2];
	uint64_t fl = 0;
	double sigma = lv_spectral_step(W, 2, 2, u, v, &fl);
	assert_float_equal(sigma, sqrt(81.0625 / 9.25), 1e-12);
	assert_float_equal(v[0], 3 / sqrt(9.25), 1e-12);
	assert_float_equal(u[0], 9 / sqrt(81.0625), 1e-12);
	assert_float_equal(W[0], 3 / sigma, 1e-6);
	assert_float_equal(W[3], 0.5 / sigma, 1e-7);
	assert_true(fl == 4 * 4 + 3 * 2 + 3 * 2 + 4); /* two products, norms, the division */
	/* converges on the largest singular value and never scales a matrix already below 1 */
	float A[6] = { 0.2f, 0.1f, 0, 0, 0.3f, 0.1f };
	double a_u[2] = { 0.3, -1 }, a_v[3];
	for (int i = 0; i < 50; i++)
		sigma = lv_spectral_step(A, 2, 3, a_u, a_v, &fl);
	assert_true(sigma < 1 && A[0] == 0.2f && A[4] == 0.3f);
	float B[4] = { 3, 0, 0, 0.5f };
	double b_u[2] = { 1, 1 }, b_v[2];
	for (int i = 0; i < 30; i++)
		lv_spectral_step(B, 2, 2, b_u, b_v, &fl);
	assert_float_equal(B[0], 1.0, 1e-5); /* the largest singular value is now 1 */
}

/* The strategy on affine data, d = 4 in R^32 with 16 code units: its defaults (ReLU code,
 * w = 1e-3) and a linear code with w = 1e-2. */
static const char *ini = "[relu]\ndataset = affine:d=4,D=32,n=4000,noise=0.01\nhidden = 64\n"
			 "k_max = 16\nepochs = 40\nbatch = 64\nlr = 0.003\ndelivery.epochs = 5\n"
			 "strategies = leastvolume\n"
			 "[linear]\ndataset = affine:d=4,D=32,n=4000,noise=0.01\nhidden = 64\n"
			 "latent_act = identity\nk_max = 16\nepochs = 40\nbatch = 64\n"
			 "lr = 0.003\ndelivery.epochs = 5\nstrategies = leastvolume\n"
			 "lv.weight = 0.01\n";

static int array(const char *details, const char *key, double *v, int max)
{
	char quoted[64];
	snprintf(quoted, sizeof(quoted), "\"%s\":[", key);
	const char *p = strstr(details, quoted);
	assert_non_null(p);
	p += strlen(quoted);
	int n = 0;
	while (*p && *p != ']' && n < max) {
		char *end;
		v[n++] = strtod(p, &end);
		p = *end == ',' ? end + 1 : end;
	}
	return n;
}

/* Over seeds 1..5 (1..8 measured with the decoder normalised as W / sigma(W): the ReLU code
 * chose 4, 6, 5, 6, 6, 5, 6, 6 and the linear one 8, 8, 7, 4, 6, 6, 6, 7 under each of the
 * Haswell, Zen and Sandybridge kernels, and the same on seeds 1..5 under Prescott and
 * Nehalem; no AVX-512 kernel was tried with it; with the earlier cap on sigma, 4 to 7 and
 * 4 to 7 under SkylakeX as well), every choice is between d = 4 and 2d + 2 = 10: never below
 * the dimension, where the prefix curve is ten times its floor and more, and about one extra
 * unit per direction (a ReLU code spends two on a direction, one for each sign; a linear
 * code in 40 epochs, its decoder held at norm 1, prunes nothing and has not yet aligned its
 * units with the data's directions, so the std ordering needs up to d more). Whatever it
 * chose, each run's choice is the grid rule on the curve it stored, and the fold is exact:
 * the delivered model before fine-tuning has that point's validation error. */
static void test_affine_dimension_four(void **state)
{
	(void)state;
	struct experiment_file file;
	const char *path = tmp_path("lv.ini");
	write_text(path, ini);
	if (experiments_load(&file, path, dimsearch_strategies()))
		fail_msg("%s", file.errors);
	const struct strategy *s = registry_find(dimsearch_strategies(), "leastvolume");
	for (int x = 0; x < 2; x++) {
		const struct experiment *e = &file.exp[x];
		struct dataset data;
		struct data_opts o = { .n_train = e->n_train, .n_val = e->n_val, .n_test = e->n_test,
				       .seed = (uint64_t)e->data_seed };
		assert_int_equal(dataset_load(&data, e->dataset, &o), 0);
		const struct grid_settings *g = experiment_settings(e, &grid_settings);
		for (long seed = 1; seed <= 5; seed++) {
			struct trial_record t;
			assert_int_equal(s->plan(e, seed, &t, 1), 1);
			struct trial_ctx c = { .exp = e, .data = &data, .threads = 2 };
			if (s->run(&c, &t) != TRIAL_COMPLETE)
				fail_msg("seed %ld: %s", seed, t.error);
			t.state = TRIAL_COMPLETE;
			struct decision_record d;
			assert_int_equal(strategy_decide(s, e, seed, &t, 1, &d), 0);
			double kk[16], val[16];
			int n = array(t.details, "prefix_k", kk, 16);
			assert_int_equal(array(t.details, "prefix_val_mse", val, 16), n);
			int Ks[16];
			for (int i = 0; i < n; i++)
				Ks[i] = (int)kk[i];
			int alive = (int)details_number(t.details, "alive");
			print_message("%s seed %ld: K = %d of %d alive\n", e->name, seed,
				      d.chosen_latent, alive);
			assert_int_equal(n, alive);
			assert_int_equal(Ks[grid_choose(Ks, val, n, g->select, g->tolerance)],
					 d.chosen_latent);
			double cut = details_number(t.details, "val_mse_cut");
			double at = details_number(t.details, "val_mse_prefix");
			assert_float_equal(cut, at, 1e-5 * at);
			assert_true(d.chosen_latent >= 4 && d.chosen_latent <= 10);
			assert_true(t.flops.overhead > 0 && d.delivery_flops > 0);
		}
		dataset_free(&data);
	}
	experiments_free(&file);
}

/* lv.lr, lv.batch, lv.epochs (and IRMAE's) set the training run's own budget: in the key
 * (so a stored run of the shared budget is never taken for it), in params, and in the run. */
static void test_own_budget(void **state)
{
	(void)state;
	const char *text = "[shared]\ndataset = affine:d=2,D=8,n=300,noise=0.01\nhidden = 8\n"
			   "k_max = 4\nepochs = 3\nstrategies = leastvolume, irmae\n"
			   "[own]\ndataset = affine:d=2,D=8,n=300,noise=0.01\nhidden = 8\n"
			   "k_max = 4\nepochs = 3\nstrategies = leastvolume, irmae\n"
			   "lv.lr = 0.0001\nlv.epochs = 2\nlv.batch = 32\n"
			   "irmae.lr = 0.0002\nirmae.epochs = 1\n";
	struct experiment_file file;
	const char *path = tmp_path("lvbudget.ini");
	write_text(path, text);
	if (experiments_load(&file, path, dimsearch_strategies()))
		fail_msg("%s", file.errors);
	const char *names[2] = { "leastvolume", "irmae" };
	const int own_epochs[2] = { 2, 1 };
	for (int i = 0; i < 2; i++) {
		const struct strategy *s = registry_find(dimsearch_strategies(), names[i]);
		struct trial_record shared, own;
		assert_int_equal(s->plan(&file.exp[0], 1, &shared, 1), 1);
		assert_int_equal(s->plan(&file.exp[1], 1, &own, 1), 1);
		assert_null(strstr(shared.key, "/lr="));
		assert_non_null(strstr(own.key, i ? "/lr=0.0002/b=0/e=1" : "/lr=0.0001/b=32/e=2"));
		assert_int_equal((int)details_number(shared.params, "epochs"), 3);
		assert_int_equal((int)details_number(own.params, "epochs"), own_epochs[i]);
		assert_float_equal(details_number(own.params, "lr"), i ? 2e-4 : 1e-4, 1e-12);
		struct dataset data;
		struct data_opts o = { .n_train = 200, .n_val = 50, .n_test = 50, .seed = 1 };
		assert_int_equal(dataset_load(&data, file.exp[1].dataset, &o), 0);
		struct trial_ctx c = { .exp = &file.exp[1], .data = &data, .threads = 1 };
		if (s->run(&c, &own) != TRIAL_COMPLETE)
			fail_msg("%s: %s", names[i], own.error);
		assert_int_equal(own.epochs_run, own_epochs[i]);
		dataset_free(&data);
	}
	experiments_free(&file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_penalty_gradient),
		cmocka_unit_test(test_pruning_rule),
		cmocka_unit_test(test_freeze_and_cut_fold_into_the_bias),
		cmocka_unit_test(test_spectral_step_closed_form),
		cmocka_unit_test(test_affine_dimension_four),
		cmocka_unit_test(test_own_budget),
	};
	return cmocka_run_group_tests_name("leastvolume", tests, NULL, NULL);
}
