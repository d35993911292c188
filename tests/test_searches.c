/* test_searches.c: the searches a practitioner runs instead of a full grid (geometric grid,
 * bisection, successive halving), driven on validation curves whose answer is known, the
 * edge flag, and the same searches trained for real: their choices against the trial table
 * they left, the FLOPs they were charged against the trials they ran, one training per
 * width and seed however many strategies ask for it, and the same results on 1 and 2
 * threads. */
#include "testutil.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../search/grid.h"
#include "../search/sosae.h"
#include "../search/strategy.h"
#include "../strategies.h"

static struct experiment_file file;

static const struct experiment *load(const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("searches.ini"));
	write_text(path, text);
	experiments_free(&file);
	if (experiments_load(&file, path, dimsearch_strategies()))
		fail_msg("%s", file.errors);
	return &file.exp[0];
}

/* A validation curve with its answer at K = 4 under within:0.05: widths below 4 miss a
 * dimension (error 1), from 4 on the error falls by 1e-4 a width to 0.1 at 12, so 4 is
 * within 5% of the best (0.1008 <= 0.105) and every wider width is too. Fewer epochs cost
 * (1 + 1/epochs). */
static double curve(int K, int epochs)
{
	double base = K < 4 ? 1.0 : 0.1 + 1e-4 * (12 - K);
	return base * (1.0 + 1.0 / epochs);
}

/* A finished trial as the scheduler hands it over: the curve's MSE, FLOPs that name it. */
static void finish(struct trial_record *t, int fail_at)
{
	double epochs = details_number(t->params, "epochs");
	t->state = t->latent == fail_at ? TRIAL_FAILED : TRIAL_COMPLETE;
	t->val_mse = t->state == TRIAL_COMPLETE ? curve(t->latent, (int)epochs) : NAN;
	t->test_mse = t->val_mse;
	t->probe_accuracy = NAN;
	memset(&t->flops, 0, sizeof(t->flops));
	t->flops.train_gemm = 1000u * (uint64_t)t->latent * (uint64_t)epochs;
}

/* Plan, then next until the search ends, as the scheduler does; the trials in *out. */
static int drive(const struct strategy *s, const struct experiment *e, int fail_at,
		 struct trial_record *out, int max)
{
	int n = s->plan(e, 1, out, max);
	assert_true(n <= max);
	for (int i = 0; i < n; i++)
		finish(&out[i], fail_at);
	for (int round = 0; s->next && round < 100; round++) {
		int more = s->next(e, 1, out, n, out + n, max - n);
		assert_true(n + more <= max);
		if (more == 0)
			break;
		for (int i = n; i < n + more; i++)
			finish(&out[i], fail_at);
		n += more;
	}
	return n;
}

static uint64_t charged(const struct trial_record *t, int n)
{
	uint64_t sum = 0;
	for (int i = 0; i < n; i++)
		sum += flops_tuning(&t[i].flops);
	return sum;
}

static const char *base_ini = "[s]\ndataset = affine:d=4,D=16,n=600\nepochs = 27\nk_max = 12\n"
			      "strategies = grid, geogrid, bisect, halving\n";

static void test_geometric_grid_widths(void **state)
{
	(void)state;
	static struct trial_record t[64];
	char text[512];
	snprintf(text, sizeof(text), "%sgrid = 1..12\n", base_ini);
	const struct experiment *e = load(text);
	const struct strategy *s = registry_find(dimsearch_strategies(), "geogrid");
	int n = drive(s, e, 0, t, 64);
	int want[] = { 1, 2, 4, 8, 12 };
	assert_int_equal(n, 5);
	for (int i = 0; i < n; i++) {
		assert_int_equal(t[i].latent, want[i]);
		/* the full grid's training at that width: shared when both run */
		char key[64];
		snprintf(key, sizeof(key), "grid/K=%d/seed=1", want[i]);
		assert_string_equal(t[i].key, key);
	}
	struct decision_record d;
	assert_int_equal(strategy_decide(s, e, 1, t, n, &d), 0);
	assert_int_equal(d.chosen_latent, 4);
	assert_true(d.tuning_flops == charged(t, n));
	assert_null(strstr(d.details, "\"edge\""));
	/* k_max a power of two is not trained twice */
	e = load("[s]\ndataset = affine:d=4,D=16,n=600\nk_max = 16\nstrategies = geogrid\n");
	assert_int_equal(s->plan(e, 1, t, 64), 5);
	assert_int_equal(t[4].latent, 16);
}

/* 12, then the midpoints of [1, 12]: 6 good, 3 bad, 5 good, 4 good. */
static void test_bisection_finds_the_smallest_good_width(void **state)
{
	(void)state;
	static struct trial_record t[64];
	char text[512];
	snprintf(text, sizeof(text), "%sgrid = 1..12\n", base_ini);
	const struct experiment *e = load(text);
	const struct strategy *s = registry_find(dimsearch_strategies(), "bisect");
	int n = drive(s, e, 0, t, 64);
	int want[] = { 12, 6, 3, 5, 4 };
	assert_int_equal(n, 5); /* 1 + ceil(log2 12) */
	for (int i = 0; i < n; i++)
		assert_int_equal(t[i].latent, want[i]);
	struct decision_record d;
	assert_int_equal(strategy_decide(s, e, 1, t, n, &d), 0);
	assert_int_equal(d.chosen_latent, 4);
	assert_true(d.tuning_flops == charged(t, n));
	assert_float_equal(d.test_mse, curve(4, 27), 1e-12);
	/* a training that fails counts as not good: 6 fails, so the answer lies above it:
	 * 12, 6 (failed), then 9, 8 and 7 good: 7 is the first good width above 6 */
	n = drive(s, e, 6, t, 64);
	int after_failure[] = { 12, 6, 9, 8, 7 };
	assert_int_equal(n, 5);
	for (int i = 0; i < n; i++)
		assert_int_equal(t[i].latent, after_failure[i]);
	assert_int_equal(strategy_decide(s, e, 1, t, n, &d), 0);
	assert_int_equal(d.chosen_latent, 7);
	assert_true(d.tuning_flops == charged(t, n)); /* the failed one charged too */
	/* a knee has no meaning for bisection: refused before anything runs */
	snprintf(text, sizeof(text), "%sgrid = 1..12\ngrid.select = knee\n", base_ini);
	e = load(text);
	assert_int_equal(s->check(e, NULL), -1);
}

static void test_halving_rungs_and_promotions(void **state)
{
	(void)state;
	static struct trial_record t[512];
	/* 1..12 (no grid key), eta 3, 27 epochs: rungs of 12, 4 and 1 widths at 3, 9 and 27
	 * epochs. Rung 0: every K >= 4 is within 5% of the best, so the four narrowest of them
	 * go on (4..7); rung 1 the same, so 4 is trained in full and chosen. */
	const struct experiment *e = load("[s]\ndataset = affine:d=4,D=16,n=600\nepochs = 27\n"
					  "k_max = 12\nstrategies = halving\n");
	const struct strategy *s = registry_find(dimsearch_strategies(), "halving");
	int n = drive(s, e, 0, t, 512);
	assert_int_equal(n, 12 + 4 + 1);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(t[i].latent, i + 1);
		assert_int_equal((int)details_number(t[i].params, "epochs"), 3);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(t[12 + i].latent, 4 + i);
		assert_int_equal((int)details_number(t[12 + i].params, "epochs"), 9);
	}
	assert_int_equal(t[16].latent, 4);
	assert_string_equal(t[16].key, "grid/K=4/seed=1"); /* the full grid's training */
	struct decision_record d;
	assert_int_equal(strategy_decide(s, e, 1, t, n, &d), 0);
	assert_int_equal(d.chosen_latent, 4);
	assert_true(d.tuning_flops == charged(t, n));
	assert_non_null(strstr(d.details, "\"rung_epochs\":[3,9,27],\"rung_sizes\":[12,4,1]"));
	/* the paper's size: 150 widths, 20 epochs: 150 at 2, 50 at 7, 16 at 20 */
	e = load("[s]\ndataset = affine:d=4,D=16,n=600\nepochs = 20\nk_max = 150\n"
		 "strategies = halving\ngrid = 1..150\n");
	n = drive(s, e, 0, t, 512);
	assert_int_equal(n, 150 + 50 + 16);
	assert_int_equal((int)details_number(t[0].params, "epochs"), 2);
	assert_int_equal((int)details_number(t[150].params, "epochs"), 7);
	assert_int_equal((int)details_number(t[200].params, "epochs"), 20);
}

/* Grid search over `grid` (a value of the key) on the curve, with the last width's error
 * replaced by last_val when it is not NaN; its decision into d. */
static void grid_on_curve(const char *grid, double last_val, struct decision_record *d)
{
	static struct trial_record t[64];
	char text[256];
	snprintf(text, sizeof(text),
		 "[s]\ndataset = affine:d=4,D=16,n=600\nepochs = 27\nstrategies = grid\n"
		 "grid = %s\n",
		 grid);
	const struct experiment *e = load(text);
	const struct strategy *s = registry_find(dimsearch_strategies(), "grid");
	int n = s->plan(e, 1, t, 64);
	for (int i = 0; i < n; i++)
		finish(&t[i], 0);
	if (!isnan(last_val))
		t[n - 1].val_mse = last_val;
	assert_int_equal(strategy_decide(s, e, 1, t, n, d), 0);
}

static void test_a_choice_at_the_edge_is_flagged(void **state)
{
	(void)state;
	struct decision_record d;
	/* a grid 1..3 whose error is still falling at its last width */
	grid_on_curve("1..3", 0.5, &d);
	assert_int_equal(d.chosen_latent, 3);
	assert_non_null(strstr(d.details, "\"edge\":\"k_max\""));
	/* a grid 6..12: its smallest width is good enough, and below it was not searched */
	grid_on_curve("6..12", NAN, &d);
	assert_int_equal(d.chosen_latent, 6);
	assert_non_null(strstr(d.details, "\"edge\":\"k_min\""));
	/* inside the range: no flag */
	grid_on_curve("1..12", NAN, &d);
	assert_int_equal(d.chosen_latent, 4);
	assert_null(strstr(d.details, "\"edge\""));
	/* a grid 1, 5 whose best is its narrowest width, 1: nothing is narrower, no flag */
	grid_on_curve("1, 5", 1.5, &d);
	assert_int_equal(d.chosen_latent, 1);
	assert_null(strstr(d.details, "\"edge\""));
}

/* SOSAE tuned: the sweep's runs are SOSAE's own (shared when both run), the setting is the
 * narrowest within tolerance of the best validation MSE, and the whole sweep is charged but
 * the chosen run's fine-tuning, its delivery. */
static void test_sosae_tuned_picks_on_validation(void **state)
{
	(void)state;
	static struct trial_record t[16], one;
	const struct experiment *e = load("[s]\ndataset = affine:d=4,D=16,n=600\nepochs = 27\n"
					  "k_max = 12\nstrategies = sosae, sosae-tuned\n"
					  "sosae.alpha = 0.3\nsosae.lambda = 0.002\n"
					  "sosae-tuned.alpha = 0.2, 0.3\n"
					  "sosae-tuned.lambda = 0.001, 0.002\n");
	const struct strategy *tuned = registry_find(dimsearch_strategies(), "sosae-tuned");
	const struct strategy *sosae = registry_find(dimsearch_strategies(), "sosae");
	assert_int_equal(tuned->plan(e, 1, t, 16), 4);
	assert_int_equal(sosae->plan(e, 1, &one, 1), 1);
	assert_string_equal(t[3].key, one.key); /* alpha 0.3, lambda 0.002 */
	assert_string_equal(t[3].params, one.params);
	/* K* and validation MSE of the four settings: 3 is the best (0.010); 1 (K* 6, 0.0104)
	 * is the narrowest within 5% of it; 2 is narrower but 20% worse */
	int kstar[] = { 9, 6, 5, 8 };
	double val[] = { 0.0102, 0.0104, 0.012, 0.010 };
	uint64_t all = 0;
	for (int i = 0; i < 4; i++) {
		t[i].state = TRIAL_COMPLETE;
		t[i].val_mse = val[i];
		t[i].test_mse = 1.0 + i; /* never looked at */
		t[i].probe_accuracy = NAN;
		memset(&t[i].flops, 0, sizeof(t[i].flops));
		t[i].flops.train_gemm = 1000u * (i + 1);
		t[i].delivery_flops = 100u * (i + 1);
		all += t[i].flops.train_gemm;
		snprintf(t[i].details, sizeof(t[i].details), "{\"k_star\":%d}", kstar[i]);
	}
	struct decision_record d;
	assert_int_equal(strategy_decide(tuned, e, 1, t, 4, &d), 0);
	assert_int_equal(d.chosen_latent, 6);
	assert_float_equal(d.test_mse, 2.0, 0);
	assert_true(d.tuning_flops == all - 200 && d.delivery_flops == 200);
	assert_non_null(strstr(d.details, "\"picked_alpha\":0.2,\"picked_lambda\":0.002"));
}

/* delivery.epochs is one budget for every model handed over: the estimators' fresh training,
 * SOSAE's fine-tuning (its default), the ordering methods' fine-tuning; it is in the keys of
 * the trials it changes, and only when it differs from epochs (older keys stay valid). */
static void test_one_delivery_budget(void **state)
{
	(void)state;
	static struct trial_record t[4];
	const struct experiment *e = load("[s]\ndataset = affine:d=3,D=8,n=400\nhidden = 16\n"
					  "epochs = 5\nbatch = 32\nk_max = 6\n"
					  "strategies = lpca, sosae, nested\nid.n = 0\n");
	assert_int_equal(e->delivery_epochs, 5);
	const struct strategy *lpca = registry_find(dimsearch_strategies(), "lpca");
	assert_int_equal(lpca->plan(e, 1, t, 4), 1);
	assert_null(strstr(t[0].key, "/de="));
	e = load("[s]\ndataset = affine:d=3,D=8,n=400\nhidden = 16\nepochs = 5\nbatch = 32\n"
		 "k_max = 6\nstrategies = lpca, sosae, nested\nid.n = 0\ndelivery.epochs = 3\n");
	assert_int_equal(lpca->plan(e, 1, t, 4), 1);
	assert_non_null(strstr(t[0].key, "/de=3"));
	const struct strategy *sosae = registry_find(dimsearch_strategies(), "sosae");
	assert_int_equal(sosae->plan(e, 1, t + 1, 1), 1);
	assert_int_equal((int)details_number(t[1].params, "finetune"), 3);
	const struct strategy *nested = registry_find(dimsearch_strategies(), "nested");
	assert_int_equal(nested->plan(e, 1, t + 2, 1), 1);
	assert_int_equal((int)details_number(t[2].params, "finetune"), 3);
	/* the estimator's delivered model trains 3 epochs, stored as its epochs */
	struct data_opts o = { .n_train = e->n_train, .n_val = e->n_val, .n_test = e->n_test,
			       .seed = (uint64_t)e->data_seed };
	struct dataset d;
	assert_int_equal(dataset_load(&d, e->dataset, &o), 0);
	struct trial_ctx c = { .exp = e, .data = &d, .threads = 1 };
	assert_int_equal(lpca->run(&c, &t[0]), TRIAL_COMPLETE);
	assert_int_equal(t[0].epochs_run, 3);
	assert_int_equal((int)details_number(t[0].details, "delivered_epochs"), 3);
	uint64_t step, eval;
	struct ae_arch a = experiment_arch(e, &d, t[0].latent);
	ae_flops_per_example(&a, &step, &eval);
	assert_true(t[0].flops.train_gemm == 3 * d.train.n * step);
	dataset_free(&d);
}

/* ---- trained for real ---- */

static const char *trained_ini =
	"[s]\ndataset = affine:d=4,D=16,n=1500,noise=0.02\nhidden = 32\nepochs = 27\nbatch = 64\n"
	"lr = 0.003\nseeds = 1, 2\nk_max = 8\nstrategies = grid, geogrid, bisect, halving\n"
	"grid = 1..8\ngrid.select = within:0.5\n";


static double number(const char *db, const char *query)
{
	char *t = db_dump(db, query);
	double v = atof(t);
	free(t);
	return v;
}

static void run(const char *ini, const char *db, int threads)
{
	char cmd[2048], out[1 << 14];
	snprintf(cmd, sizeof(cmd), "./dimsearch run --config %s --experiment s --db %s --threads %d "
		 "--quiet", ini, db, threads);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
}

#define DECISIONS "SELECT strategy, seed, chosen_latent, tuning_flops, test_mse, details " \
		  "FROM decision ORDER BY strategy, seed"
#define TRIALS "SELECT trial_key, val_mse, flops_train_gemm FROM trial ORDER BY trial_key"

static void test_trained_searches(void **state)
{
	(void)state;
	char ini[512], one[512], two[512];
	snprintf(ini, sizeof(ini), "%s", tmp_path("trained.ini"));
	snprintf(one, sizeof(one), "%s", tmp_path("one.db"));
	snprintf(two, sizeof(two), "%s", tmp_path("two.db"));
	write_text(ini, trained_ini);
	run(ini, one, 1);
	run(ini, two, 2);
	char *a = db_dump(one, DECISIONS), *b = db_dump(two, DECISIONS);
	assert_string_equal(a, b);
	free(a);
	free(b);
	a = db_dump(one, TRIALS);
	b = db_dump(two, TRIALS);
	assert_string_equal(a, b);
	free(a);
	free(b);
	/* one training per width and seed at the full budget, whoever asked for it; halving's
	 * first rung (1..8 at 9 epochs) besides, its second (2 widths) at the full budget */
	assert_int_equal(number(one, "SELECT count(*) FROM trial WHERE trial_key NOT LIKE "
				     "'%epochs=%'"),
			 2 * 8);
	assert_int_equal(number(one, "SELECT count(*) FROM trial"), 2 * (8 + 8));
	for (long seed = 1; seed <= 2; seed++) {
		char q[1024];
		/* widths below 4 miss a dimension of the data: never within 50% of the best */
		snprintf(q, sizeof(q), "SELECT min(chosen_latent) FROM decision WHERE seed = %ld",
			 seed);
		assert_true(number(one, q) >= 4);
		/* the grid's choice is the smallest width within 50% of its best */
		snprintf(q, sizeof(q),
			 "SELECT min(latent) FROM trial WHERE seed = %ld AND trial_key NOT LIKE "
			 "'%%epochs=%%' AND val_mse <= 1.5 * (SELECT min(val_mse) FROM trial WHERE "
			 "seed = %ld AND trial_key NOT LIKE '%%epochs=%%')",
			 seed, seed);
		int grid_k = (int)number(one, q);
		snprintf(q, sizeof(q),
			 "SELECT chosen_latent FROM decision WHERE strategy = 'grid' AND seed = %ld",
			 seed);
		assert_int_equal((int)number(one, q), grid_k);
		/* every strategy is charged exactly its trials: the grid all 8, halving the
		 * 10 of its rungs */
		snprintf(q, sizeof(q),
			 "SELECT (SELECT tuning_flops FROM decision WHERE strategy = 'grid' AND seed "
			 "= %ld) - (SELECT sum(flops_train_gemm + flops_eval_gemm + flops_elementwise "
			 "+ flops_overhead) FROM trial WHERE seed = %ld AND trial_key NOT LIKE "
			 "'%%epochs=%%')",
			 seed, seed);
		assert_float_equal(number(one, q), 0, 0);
		snprintf(q, sizeof(q),
			 "SELECT (SELECT tuning_flops FROM decision WHERE strategy = 'halving' AND "
			 "seed = %ld) - (SELECT sum(flops_train_gemm + flops_eval_gemm + "
			 "flops_elementwise + flops_overhead) FROM trial WHERE seed = %ld AND "
			 "(trial_key LIKE '%%epochs=%%' OR trial_key IN (SELECT 'grid/K=' || "
			 "j.value || '/seed=%ld' FROM decision d, json_each(d.details, "
			 "'$.last_rung') j WHERE d.strategy = 'halving' AND d.seed = %ld)))",
			 seed, seed, seed, seed);
		assert_float_equal(number(one, q), 0, 0);
		/* the geometric grid chose among 1, 2, 4, 8 */
		snprintf(q, sizeof(q),
			 "SELECT chosen_latent FROM decision WHERE strategy = 'geogrid' AND seed = "
			 "%ld",
			 seed);
		int g = (int)number(one, q);
		assert_true(g == 4 || g == 8);
	}
}

/* A search that plans from results continues where it was killed: the same trials and
 * decisions as a run left alone, every trial once. */
static void test_adaptive_searches_resume_after_a_kill(void **state)
{
	(void)state;
	char ini[512], ref[512], db[512];
	snprintf(ini, sizeof(ini), "%s", tmp_path("slow.ini"));
	snprintf(ref, sizeof(ref), "%s", tmp_path("ref.db"));
	snprintf(db, sizeof(db), "%s", tmp_path("killed.db"));
	/* trials of about 0.2 s: slow enough to be stopped in the second round */
	write_text(ini, "[s]\ndataset = affine:d=3,D=32,n=3000,noise=0.02\nhidden = 64\n"
			"epochs = 40\nbatch = 32\nlr = 0.003\nk_max = 6\nstrategies = bisect, "
			"halving\ngrid.select = within:0.5\n");
	run(ini, ref, 1);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execl("./dimsearch", "./dimsearch", "run", "--config", ini, "--experiment", "s",
		      "--db", db, "--threads", "1", (char *)NULL);
		_exit(127);
	}
	/* halving's first rung is 6 trials: wait for the 7th, in the second round */
	for (int i = 0; i < 6000; i++) {
		if (access(db, F_OK) == 0 &&
		    number(db, "SELECT count(*) FROM sqlite_master WHERE name = 'trial'") == 1 &&
		    number(db, "SELECT count(*) FROM trial WHERE state = 'complete'") >= 7)
			break;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	if (!WIFSIGNALED(status))
		fail_msg("the run ended (status %d) before it could be killed", status);
	assert_true(number(db, "SELECT count(*) FROM decision") == 0);
	run(ini, db, 2);
	char *a = db_dump(ref, DECISIONS), *b = db_dump(db, DECISIONS);
	assert_string_equal(a, b);
	free(a);
	free(b);
	a = db_dump(ref, TRIALS);
	b = db_dump(db, TRIALS);
	assert_string_equal(a, b);
	free(a);
	free(b);
	assert_true(number(db, "SELECT count(*) FROM trial WHERE state <> 'complete'") == 0);
}

static int teardown(void **state)
{
	(void)state;
	experiments_free(&file);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometric_grid_widths),
		cmocka_unit_test(test_bisection_finds_the_smallest_good_width),
		cmocka_unit_test(test_halving_rungs_and_promotions),
		cmocka_unit_test(test_a_choice_at_the_edge_is_flagged),
		cmocka_unit_test(test_sosae_tuned_picks_on_validation),
		cmocka_unit_test(test_one_delivery_budget),
		cmocka_unit_test(test_trained_searches),
		cmocka_unit_test(test_adaptive_searches_resume_after_a_kill),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
