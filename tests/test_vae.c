/* test_vae.c: the VAE's sampling and KL gradients against finite differences; Asperti's
 * count and the decision's flags (saturated, collapsed, not converged) on constructed
 * statistics and histories; overpruning on data of known dimension with the variance law;
 * the count of every epoch stored, and the flags through whole runs, the store and the
 * report. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../baselines/vae.h"
#include "../core/blas.h"
#include "../core/model.h"
#include "../core/train.h"
#include "../results/report.h"
#include "../results/store.h"
#include "../search/scheduler.h"
#include "../search/strategy.h"
#include "../strategies.h"


/* the loss in double, with the draws eps the model used */
struct ref {
	const struct ae *m;
	double *p;
	const float *x, *eps;
	int rows;
	double scale, beta;
};

static double sigmoid(double z)
{
	return 1 / (1 + exp(-z));
}

static double ref_loss(void *ctx)
{
	const struct ref *c = ctx;
	const struct ae *m = c->m;
	int D = m->width[0], H = m->width[1], K = m->arch.latent;
	double total = 0;
	for (int r = 0; r < c->rows; r++) {
		const float *x = c->x + r * D;
		double h[16], mv[16], z[8], g[16], y[16];
		for (int j = 0; j < H; j++) { /* encoder hidden, sigmoid */
			double s = c->p[m->b_off[0] + j];
			for (int i = 0; i < D; i++)
				s += c->p[m->w_off[0] + j * D + i] * x[i];
			h[j] = sigmoid(s);
		}
		for (int j = 0; j < 2 * K; j++) { /* mu, log sigma^2 */
			double s = c->p[m->b_off[1] + j];
			for (int i = 0; i < H; i++)
				s += c->p[m->w_off[1] + j * H + i] * h[i];
			mv[j] = s;
		}
		double kl = 0;
		for (int k = 0; k < K; k++) {
			z[k] = mv[k] + exp(0.5 * mv[K + k]) * c->eps[r * K + k];
			kl += 0.5 * (mv[k] * mv[k] + exp(mv[K + k]) - mv[K + k] - 1);
		}
		for (int j = 0; j < H; j++) {
			double s = c->p[m->b_off[2] + j];
			for (int i = 0; i < K; i++)
				s += c->p[m->w_off[2] + j * K + i] * z[i];
			g[j] = sigmoid(s);
		}
		for (int j = 0; j < D; j++) {
			double s = c->p[m->b_off[3] + j];
			for (int i = 0; i < H; i++)
				s += c->p[m->w_off[3] + j * H + i] * g[i];
			y[j] = s;
			total += c->scale * (y[j] - x[j]) * (y[j] - x[j]);
		}
		total += c->beta * c->scale * kl;
	}
	return total;
}

static void test_vae_gradient_finite_differences(void **state)
{
	(void)state;
	struct ae_arch arch = { .input_dim = 6, .n_hidden = 1, .hidden = { 5 }, .latent = 3,
				.hidden_act = ACT_SIGMOID, .latent_act = ACT_IDENTITY,
				.output_act = ACT_IDENTITY, .vae = 1 };
	struct ae *m = ae_new(&arch);
	assert_non_null(m);
	assert_int_equal(ae_layer_out(m, 1), 6); /* mu and log sigma^2 */
	struct rng r;
	rng_seed(&r, 4);
	ae_init(m, &r);
	m->vae_beta = 0.7f;
	int rows = 4;
	float x[4 * 6];
	for (int i = 0; i < rows * 6; i++)
		x[i] = (float)rng_normal(&r);
	struct ae_work *w = ae_work_new(m, rows);
	w->training = 1;
	rng_seed(&w->rng, 99);
	float *grad = calloc(m->n_params, sizeof(float));
	uint64_t g = 0, e = 0;
	ae_forward(m, w, x, rows, &g, &e);
	double kl = 0;
	float scale = 1.0f / (rows * 6);
	ae_backward(m, w, x, rows, LOSS_MSE, scale, NULL, 1.0f / rows, &kl, grad, &g, &e);
	assert_true(kl > 0);
	struct ref c = { m, malloc(sizeof(double) * m->n_params), x, w->eps, rows, scale, 0.7 };
	for (size_t i = 0; i < m->n_params; i++)
		c.p[i] = m->params[i];
	double err = fd_gradient_error(ref_loss, &c, c.p, m->n_params, grad);
	print_message("VAE gradient relative error %.2e\n", err);
	assert_true(err < 1e-3);
	/* without sampling the decoder reads mu: codes are the means */
	w->training = 0;
	ae_forward(m, w, x, rows, &g, &e);
	for (int i = 0; i < rows; i++)
		for (int k = 0; k < 3; k++)
			assert_true(ae_codes(m, w)[i * 3 + k] == w->act[2][i * 6 + k]);
	assert_null(ae_truncate(m, 2));
	free(c.p);
	free(grad);
	ae_work_delete(w);
	ae_delete(m);
}

/* ---- the count and the flags, on constructed cases ---- */

static void test_counts_on_constructed_statistics(void **state)
{
	(void)state;
	/* Var(mu) on both sides of 0.05 and 0.01, E[sigma^2] on both sides of 0.95 */
	const double var_mu[6] = { 0.9, 0.05, 0.0499, 0.011, 0.01, 0.0 };
	const double sigma2[6] = { 0.1, 0.94, 0.96, 0.99, 0.99, 1.0 };
	struct vae_counts c = vae_count_active(var_mu, sigma2, 6);
	assert_int_equal(c.asperti, 2); /* 0.9 and exactly 0.05: Var >= 0.05 */
	assert_int_equal(c.burda, 4);	/* 0.9, 0.05, 0.0499, 0.011: Var > 0.01 */
	assert_int_equal(c.sigma, 2);	/* 0.1, 0.94 */
	assert_float_equal(c.law_min, 0.99, 1e-12);
	assert_float_equal(c.law_max, 1.0099, 1e-12);
	assert_float_equal(c.law_active_min, 0.99, 1e-12);
	assert_float_equal(c.law_active_max, 1.0, 1e-12);
	/* no unit active: no law over active units */
	const double none[2] = { 0.001, 0.0 }, ones[2] = { 1.0, 1.0 };
	c = vae_count_active(none, ones, 2);
	assert_int_equal(c.asperti, 0);
	assert_true(isnan(c.law_active_min) && isnan(c.law_active_max));
}

static void test_stability_and_flags_on_histories(void **state)
{
	(void)state;
	const int rising[] = { 7, 6, 5, 5, 5 }, flat[] = { 5, 5, 5, 5, 5 },
		  back[] = { 5, 5, 4, 5 };
	assert_int_equal(count_stable_run(rising, 0), 0);
	assert_int_equal(count_stable_run(rising, 1), 1);
	assert_int_equal(count_stable_run(rising, 5), 3);
	assert_int_equal(count_stable_run(flat, 5), 5);
	assert_int_equal(count_stable_run(back, 4), 1); /* the 5s before the 4 do not count */
	/* every unit active is saturated, stable or not */
	assert_string_equal(count_flag(16, 16, 10, 5), "saturated");
	assert_string_equal(count_flag(16, 16, 0, 5), "saturated");
	/* below K_max: a decision once the count held vae.stable epochs */
	assert_string_equal(count_flag(4, 16, count_stable_run(rising, 5), 5), "not_converged");
	assert_string_equal(count_flag(4, 16, 4, 5), "not_converged");
	assert_null(count_flag(4, 16, 5, 5));
	assert_null(count_flag(4, 16, 1, 1));
	assert_string_equal(count_flag(0, 16, 5, 5), "collapsed"); /* no unit: not a width */
}

/* A VAE trial as its run leaves it, with the given count, K_max and stable epochs. */
static void vae_trial(struct trial_record *t, int active, int k_max, int stable_epochs)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->strategy, sizeof(t->strategy), "vae");
	t->state = TRIAL_COMPLETE;
	t->latent = active;
	t->seed = 1;
	t->flops.train_gemm = 1000;
	t->delivery_flops = 10;
	snprintf(t->details, sizeof(t->details),
		 "{\"k_max\":%d,\"active_var_mu_0.05\":%d,\"active_var_mu_0.01\":%d,"
		 "\"stable_epochs\":%d,\"delivered_epochs\":3}",
		 k_max, active, active, stable_epochs);
}

static void test_decisions_flagged_on_constructed_trials(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("vae-flags.ini"));
	write_text(path, "[v]\ndataset = affine:d=4,D=16,n=500\nk_max = 16\nvae.stable = 5\n"
			 "strategies = vae\n");
	struct experiment_file f;
	if (experiments_load(&f, path, dimsearch_strategies()))
		fail_msg("%s", f.errors);
	const struct strategy *s = registry_find(dimsearch_strategies(), "vae");
	struct trial_record t;
	struct decision_record d;
	/* all 16 active: K holds k_max, flagged saturated, and no edge beside it */
	vae_trial(&t, 16, 16, 9);
	assert_int_equal(strategy_decide(s, &f.exp[0], 1, &t, 1, &d), 0);
	assert_int_equal(d.chosen_latent, 16);
	assert_non_null(strstr(d.details, "\"flag\":\"saturated\""));
	assert_null(strstr(d.details, "\"edge\""));
	/* 4 for only 3 epochs: provisional */
	vae_trial(&t, 4, 16, 3);
	assert_int_equal(strategy_decide(s, &f.exp[0], 1, &t, 1, &d), 0);
	assert_int_equal(d.chosen_latent, 4);
	assert_non_null(strstr(d.details, "\"flag\":\"not_converged\""));
	assert_non_null(strstr(d.details, "\"stable\":5"));
	/* 4 for 5 epochs: a decision, unflagged */
	vae_trial(&t, 4, 16, 5);
	assert_int_equal(strategy_decide(s, &f.exp[0], 1, &t, 1, &d), 0);
	assert_int_equal(d.chosen_latent, 4);
	assert_null(strstr(d.details, "\"flag\""));
	assert_null(strstr(d.details, "\"edge\""));
	assert_int_equal(d.tuning_flops, 990);
	experiments_free(&f);
}

/* ---- training on data of known dimension ---- */

/* What a run of the strategy hands to the store, kept here. */
struct seen {
	struct epoch_record epoch[128];
	int n_epochs;
	double var_mu[64], mean_sigma2[64];
	int K;
};

static int seen_epoch(void *ctx, const struct trial_record *t, const struct epoch_record *e)
{
	(void)t;
	struct seen *s = ctx;
	if (s->n_epochs < 128)
		s->epoch[s->n_epochs++] = *e;
	return 0;
}

static int seen_activity(void *ctx, const struct trial_record *t, int K, const double *max_abs,
			 const double *mean_abs, const double *var_mu, const double *mean_sigma2)
{
	(void)t, (void)max_abs, (void)mean_abs;
	struct seen *s = ctx;
	s->K = K;
	memcpy(s->var_mu, var_mu, sizeof(double) * K);
	memcpy(s->mean_sigma2, mean_sigma2, sizeof(double) * K);
	return 0;
}

/* The overhead FLOPs of one statistics pass of a VAE of K units over split sp: counted, so
 * the same for any weights. */
static uint64_t statistics_flops(const struct experiment *e, const struct dataset *d,
				 const struct split *sp, int K)
{
	struct ae_arch arch = experiment_arch(e, d, K);
	arch.vae = 1;
	arch.latent_act = ACT_IDENTITY;
	struct ae *m = ae_new(&arch);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, 1);
	ae_init(m, &r);
	double v[64], s2[64];
	struct flops f = { 0 };
	assert_int_equal(ae_vae_statistics(m, sp, 1, v, s2, &f), 0);
	ae_delete(m);
	return f.overhead;
}

static void test_asperti_count_on_known_dimension(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("vae.ini"));
	write_text(path, "[v]\ndataset = affine:d=4,D=32,n=4000,noise=0.01\nhidden = 64\n"
			 "epochs = 60\nbatch = 64\nlr = 0.003\nk_max = 16\nstrategies = vae\n");
	struct experiment_file f;
	if (experiments_load(&f, path, dimsearch_strategies()))
		fail_msg("%s", f.errors);
	const struct experiment *e = &f.exp[0];
	struct data_opts o = { .n_train = 0, .n_val = -1, .n_test = -1, .seed = 1 };
	struct dataset d;
	assert_int_equal(dataset_load(&d, e->dataset, &o), 0);
	const struct strategy *s = registry_find(dimsearch_strategies(), "vae");
	uint64_t per_epoch = statistics_flops(e, &d, &d.val, 16);
	uint64_t final = statistics_flops(e, &d, &d.train, 16);
	/* Over seeds 1..8 with the SkylakeX, Haswell, Sandybridge and Prescott kernels, the 4
	 * units in use had Var(mu) of 0.45 or more and the others 0.008 or less: Asperti's 0.05
	 * sits six times above the one and nine times below the other, so the last bits of
	 * training cannot tip a unit across it. The variance law of every unit held within
	 * 0.066 of 1 on all of them; 0.1 is asserted for the active ones. The count settled by
	 * epoch 17 on each, well inside vae.stable = 5 of 60 epochs. */
	double weakest = INFINITY, strongest_off = 0, law_worst = 0;
	for (long seed = 1; seed <= 3; seed++) {
		struct seen *seen = calloc(1, sizeof(*seen));
		assert_non_null(seen);
		struct trial_ctx c = { .exp = e, .data = &d, .threads = 2, .on_epoch = seen_epoch,
				       .on_activity = seen_activity, .ctx = seen };
		struct trial_record plan;
		assert_int_equal(s->plan(e, seed, &plan, 1), 1);
		assert_int_equal(s->run(&c, &plan), TRIAL_COMPLETE);
		plan.state = TRIAL_COMPLETE;
		assert_int_equal(seen->K, 16);
		int active = 0;
		for (int k = 0; k < 16; k++) {
			double law = seen->var_mu[k] + seen->mean_sigma2[k];
			if (seen->var_mu[k] >= 0.05) {
				active++;
				weakest = fmin(weakest, seen->var_mu[k]);
				law_worst = fmax(law_worst, fabs(law - 1.0));
				assert_true(fabs(law - 1.0) <= 0.1);
			} else {
				strongest_off = fmax(strongest_off, seen->var_mu[k]);
			}
		}
		assert_int_equal(active, 4);
		/* the count of every epoch, on the validation split, each pass charged as the
		 * strategy's overhead: exactly one per epoch and one at the end */
		assert_int_equal(seen->n_epochs, 60);
		for (int i = 0; i < seen->n_epochs; i++) {
			assert_true(seen->epoch[i].active_latent >= 0 &&
				    seen->epoch[i].active_latent <= 16);
			if (i)
				assert_true(seen->epoch[i].flops_tuning >
					    seen->epoch[i - 1].flops_tuning);
		}
		assert_int_equal(seen->epoch[59].active_latent,
				 (int)details_number(plan.details, "active_val_last_epoch"));
		assert_int_equal(plan.flops.overhead, 60 * per_epoch + final);
		/* the strategy decides that count, unflagged, and delivers that width */
		struct decision_record dec;
		assert_int_equal(strategy_decide(s, e, seed, &plan, 1, &dec), 0);
		assert_int_equal(dec.chosen_latent, 4);
		assert_null(strstr(dec.details, "\"flag\""));
		assert_int_equal((int)details_number(dec.details, "active_var_mu_0.05"), 4);
		assert_true(details_number(dec.details, "active_var_mu_0.01") >= 4);
		assert_true(dec.delivery_flops > 0 && dec.tuning_flops > dec.delivery_flops);
		free(seen);
	}
	print_message("seeds 1..3: 4 of 16 units active on each (d = 4); Var(mu) %.3g and above "
		      "in use, %.3g and below not; variance law of the active units within %.3g "
		      "of 1\n",
		      weakest, strongest_off, law_worst);
	dataset_free(&d);
	experiments_free(&f);
}

/* ---- through a whole run: the store and the report ---- */

static void test_flags_and_epoch_counts_through_a_run(void **state)
{
	(void)state;
	char path[512], db[512];
	snprintf(path, sizeof(path), "%s", tmp_path("vae-run.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("vae-run.db"));
	/* two units for four directions: both carry data, every unit is active (16 epochs:
	 * after 8, one seed of five has opened only one unit so far); and a count asked to
	 * hold for longer than the training runs, which it cannot */
	write_text(path, "[vaeg.sat]\ndataset = affine:d=4,D=16,n=1200,noise=0.01\nhidden = 32\n"
			 "epochs = 16\nbatch = 64\nlr = 0.003\nk_max = 2\nstrategies = vae\n\n"
			 "[vaeg.short]\ndataset = affine:d=4,D=16,n=1200,noise=0.01\nhidden = 32\n"
			 "epochs = 8\nbatch = 64\nlr = 0.003\nk_max = 12\nvae.stable = 9\n"
			 "strategies = vae\n\n"
			 "[vaec]\ndataset = affine:d=4,D=16,n=1200,noise=0.01\nhidden = 32\n"
			 "epochs = 4\nbatch = 64\nlr = 0.003\nk_max = 4\nvae.beta = 1000\n"
			 "strategies = vae\n");
	struct experiment_file f;
	if (experiments_load(&f, path, dimsearch_strategies()))
		fail_msg("%s", f.errors);
	struct store *s = store_open(db, 1);
	assert_non_null(s);
	struct run_options ro = { .threads = 2, .quiet = 1 };
	struct run_result r;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(run_experiment(s, &f.exp[i], &ro, &r), RUN_OK);
		assert_int_equal(r.decisions, 1);
	}
	/* a KL weight of 1000 closes every unit: the count is 0, flagged collapsed, its
	 * delivered 1-unit model no width */
	assert_int_equal(run_experiment(s, &f.exp[2], &ro, &r), RUN_OK);
	char *col = db_dump(db, "SELECT experiment, k_mean, k_seeds, collapsed FROM v_summary "
				"WHERE experiment = 'vaec'");
	assert_string_equal(col, "vaec|NULL|0|1\n");
	free(col);
	/* every epoch of the VAE's training has its count, the delivery's none are stored */
	char *epochs = db_dump(db, "SELECT e.name, count(*), count(p.active_latent), "
				   "min(p.active_latent) >= 0 FROM epoch p JOIN trial t ON t.id = "
				   "p.trial_id JOIN experiment e ON e.id = t.experiment_id GROUP BY "
				   "e.name ORDER BY e.name");
	assert_string_equal(epochs, "vaec|4|4|1\nvaeg.sat|16|16|1\nvaeg.short|8|8|1\n");
	free(epochs);
	char *sat = db_dump(db, "SELECT chosen_latent, json_extract(details, '$.flag'), "
				"json_extract(details, '$.edge') FROM decision d JOIN experiment e ON "
				"e.id = d.experiment_id WHERE e.name = 'vaeg.sat'");
	assert_string_equal(sat, "2|saturated|NULL\n");
	free(sat);
	/* the other: whatever it counted, not a decision after 8 epochs of 9 */
	char *flag = db_dump(db, "SELECT json_extract(details, '$.flag') FROM decision d JOIN "
				 "experiment e ON e.id = d.experiment_id WHERE e.name = 'vaeg.short'");
	int short_saturated = !strcmp(flag, "saturated\n");
	print_message("vaeg.short (12 units, 8 epochs, vae.stable = 9): %s", flag);
	assert_true(short_saturated || !strcmp(flag, "not_converged\n"));
	free(flag);
	/* the summary leaves a saturated K out of its mean and says why */
	char *summary = db_dump(db, "SELECT experiment, k_mean, k_seeds, saturated, not_converged, "
				    "at_k_max FROM v_summary ORDER BY experiment");
	assert_non_null(strstr(summary, "vaeg.sat|NULL|0|1|0|0\n"));
	/* K over the one seed, provisional: k_seeds 1, not converged 1 */
	assert_non_null(strstr(summary, short_saturated ? "vaeg.short|NULL|0|1|0|0\n"
							: "|1|0|1|0\n"));
	free(summary);
	/* the report prints the flags, never k_max as the VAE's K */
	char *out = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&out, &size);
	assert_non_null(mem);
	assert_true(report_print(s, "vaeg.sat", 0, REPORT_TABLE, mem) > 0);
	assert_true(report_print(s, "vaeg.short", 0, REPORT_TABLE, mem) > 0);
	assert_true(report_print(s, "vaeg.sat", 0, REPORT_JSON, mem) > 0);
	assert_true(report_print(s, "vaec", 0, REPORT_TABLE, mem) > 0);
	fclose(mem);
	print_message("%s", out);
	assert_non_null(strstr(out, "vae          1 - [saturated 1/1]"));
	assert_non_null(strstr(out, "vae: saturated on 1 of 1 seeds: raise k_max"));
	assert_non_null(strstr(out, "vae          1 - [collapsed 1/1]"));
	assert_non_null(strstr(out, "vae: collapsed on 1 of 1 seeds: no unit in use"));
	assert_null(strstr(out, "[edge"));
	assert_non_null(strstr(out, short_saturated ? "vae: saturated on 1 of 1 seeds"
						    : "[not converged 1/1]"));
	if (!short_saturated)
		assert_non_null(strstr(out, "vae: not converged on 1 of 1 seeds: more epochs"));
	assert_non_null(strstr(out, "\"k_mean\":null"));
	assert_non_null(strstr(out, "\"saturated\":1"));
	free(out);
	store_close(s);
	experiments_free(&f);
	/* the figures: the variance law of the one seed's 12 units (three series, the
	 * threshold and the line at 1), the group's count against k_max (one data set, the
	 * saturation line), and the count per epoch (the VAE's, grid's choice: none here) */
	char cmd[2048], dir[512], text[4096];
	if (run_command("command -v gnuplot", text, sizeof(text)) != 0) {
		print_message("gnuplot not installed: figures not checked\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s", tmp_path("vae-figures"));
	snprintf(cmd, sizeof(cmd), "./dimsearch plot --db %s --experiment vaeg.short --out %s", db,
		 dir);
	if (run_command(cmd, text, sizeof(text)) != 0)
		fail_msg("%s failed:\n%s", cmd, text);
	const char *want[][2] = { { "vaeg.short/vaeg.short-vaelaw.svg", "5" },
				  { "vaeg/vaeg-vaekmax.svg", "2" },
				  { "vaeg.short/vaeg.short-active.svg", "2" } };
	for (int i = 0; i < 3; i++) {
		char file[1024];
		snprintf(file, sizeof(file), "%s/%s", dir, want[i][0]);
		char *svg = slurp(file, NULL);
		if (!svg)
			fail_msg("no %s after %s", file, cmd);
		if (svg_series(svg) != atoi(want[i][1]))
			fail_msg("%s: %d data series, expected %s", file, svg_series(svg),
				 want[i][1]);
		free(svg);
	}
}

int main(void)
{
	blas_single_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vae_gradient_finite_differences),
		cmocka_unit_test(test_counts_on_constructed_statistics),
		cmocka_unit_test(test_stability_and_flags_on_histories),
		cmocka_unit_test(test_decisions_flagged_on_constructed_trials),
		cmocka_unit_test(test_asperti_count_on_known_dimension),
		cmocka_unit_test(test_flags_and_epoch_counts_through_a_run),
	};
	return cmocka_run_group_tests_name("vae", tests, NULL, NULL);
}
