/* test_registry.c: a strategy added as the README says (its file, one registry line, its
 * tests) is planned, run, decided, reported and stored, and its keys stay out of the
 * experiment's identity; the registry refuses tables that clash. */
#include "testutil.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/blas.h"
#include "../core/err.h"
#include "../results/report.h"
#include "../results/store.h"
#include "../search/grid.h"
#include "../search/scheduler.h"
#include "../search/strategy.h"

/* ---- a strategy that exists only here: train one autoencoder at fixed.k ---- */

struct fixed_settings {
	int k;
};

static const struct setting fixed_keys[] = {
	{ .name = "fixed.k",
	  .type = SETTING_INT,
	  .offset = offsetof(struct fixed_settings, k),
	  .lo = 1,
	  .hi = 64,
	  .def = "3",
	  .help = "the width it always names" },
};

static const struct settings fixed_settings = { "fixed width", fixed_keys, 1,
						sizeof(struct fixed_settings), NULL };

static int fixed_plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	const struct fixed_settings *o = experiment_settings(e, &fixed_settings);
	if (max < 1)
		return 1;
	memset(&trials[0], 0, sizeof(trials[0]));
	snprintf(trials[0].key, sizeof(trials[0].key), "fixed/K=%d/seed=%ld", o->k, seed);
	snprintf(trials[0].strategy, sizeof(trials[0].strategy), "fixed");
	snprintf(trials[0].role, sizeof(trials[0].role), "search");
	trials[0].latent = o->k;
	trials[0].seed = seed;
	snprintf(trials[0].params, sizeof(trials[0].params), "{\"k\":%d}", o->k);
	return 1;
}

static enum trial_state fixed_run(const struct trial_ctx *c, struct trial_record *t)
{
	struct ae *m;
	enum trial_state status = trial_train(c, t, NULL, &m);
	if (status == TRIAL_COMPLETE)
		status = trial_measure(c, m, t);
	ae_delete(m);
	return status;
}

static const struct strategy fixed_strategy = {
	.name = "fixed",
	.settings = &fixed_settings,
	.plan = fixed_plan,
	.run = fixed_run, /* no decide: the single-trial rule */
};

/* A faulty strategy: two trials of one key, or a key too long for its record. */
static int faulty_plan(const struct experiment *e, long seed, struct trial_record *trials,
		       int max)
{
	const struct fixed_settings *o = experiment_settings(e, &fixed_settings);
	for (int i = 0; i < 2 && i < max; i++) {
		memset(&trials[i], 0, sizeof(trials[i]));
		if (o->k == 1)
			snprintf(trials[i].key, sizeof(trials[i].key), "faulty/seed=%ld", seed);
		else
			memset(trials[i].key, 'k', sizeof(trials[i].key) - 1);
		snprintf(trials[i].strategy, sizeof(trials[i].strategy), "faulty");
		trials[i].latent = 1;
		trials[i].seed = seed;
	}
	return 2;
}

static const struct strategy faulty_strategy = {
	.name = "faulty",
	.settings = &fixed_settings,
	.plan = faulty_plan,
	.run = fixed_run,
};

static const char *ini_text = "[t]\n"
			      "dataset = affine:d=2,D=8,n=600,noise=0.01\n"
			      "hidden = 8\nepochs = 2\nbatch = 50\nlr = 0.003\n"
			      "strategies = grid, fixed\n"
			      "grid = 1,2\n"
			      "fixed.k = %d\n";

static struct registry registry;

static int setup(void **state)
{
	(void)state;
	const struct strategy *list[] = { &grid_strategy, &fixed_strategy };
	return registry_init(&registry, list, 2);
}

/* Load ini_text with fixed.k = k through the test registry. */
static void load(struct experiment_file *f, int k)
{
	char text[512], path[512];
	snprintf(text, sizeof(text), ini_text, k);
	snprintf(path, sizeof(path), "%s", tmp_path("registry.ini"));
	write_text(path, text);
	if (experiments_load(f, path, &registry))
		fail_msg("%s", f->errors);
}

static int count_rows(void *ctx, int ncol, char **names, char **values)
{
	(void)ncol;
	(void)names;
	(void)values;
	(*(int *)ctx)++;
	return 0;
}

static void test_new_strategy_end_to_end(void **state)
{
	(void)state;
	struct experiment_file f;
	load(&f, 2);
	const struct experiment *e = &f.exp[0];
	assert_int_equal(e->n_strategies, 2);
	assert_ptr_equal(e->strategies[1], &fixed_strategy);
	const struct fixed_settings *o = experiment_settings(e, &fixed_settings);
	assert_int_equal(o->k, 2);
	assert_non_null(strstr(e->config, "fixed.k = 2\n"));
	char db[512];
	snprintf(db, sizeof(db), "%s", tmp_path("registry.db"));
	struct store *s = store_open(db, 1);
	assert_non_null(s);
	struct run_options ro = { .threads = 2, .quiet = 1 };
	struct run_result r;
	assert_int_equal(run_experiment(s, e, &ro, &r), RUN_OK);
	assert_int_equal(r.trials, 3);
	assert_int_equal(r.completed, 3);
	assert_int_equal(r.decisions, 2);
	/* stored: its trial and its decision by the default rule */
	char latent[32];
	const char *args[] = { "fixed", NULL };
	store_scalar(s, "SELECT chosen_latent FROM decision WHERE strategy = ?1", args, latent,
		     sizeof(latent), "none");
	assert_string_equal(latent, "2");
	int rows = 0;
	const char *key[] = { "fixed/K=2/seed=1", NULL };
	assert_int_equal(store_query(s, "SELECT 1 FROM trial WHERE trial_key = ?1 AND state = "
					"'complete'",
				     key, count_rows, &rows),
			 0);
	assert_int_equal(rows, 1);
	/* reported beside grid search */
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	assert_true(report_print(s, "t", 0, REPORT_CSV, out) >= 2);
	fclose(out);
	assert_non_null(strstr(text, "fixed"));
	assert_non_null(strstr(text, "grid"));
	free(text);
	/* a changed key of the strategy keeps the experiment (its identity) and re-runs only
	 * its own trial */
	char hash[17];
	snprintf(hash, sizeof(hash), "%s", e->hash);
	experiments_free(&f);
	load(&f, 3);
	e = &f.exp[0];
	assert_string_equal(e->hash, hash);
	assert_int_equal(run_experiment(s, e, &ro, &r), RUN_OK);
	assert_int_equal(r.already_complete, 2);
	assert_int_equal(r.completed, 1);
	store_scalar(s, "SELECT count(*) FROM experiment", NULL, latent, sizeof(latent), "");
	assert_string_equal(latent, "1");
	store_scalar(s, "SELECT chosen_latent FROM decision WHERE strategy = ?1", args, latent,
		     sizeof(latent), "none");
	assert_string_equal(latent, "3");
	store_close(s);
	experiments_free(&f);
}

static void test_keys_checked_like_the_experiments_own(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("bad.ini"));
	write_text(path, "[t]\ndataset = affine\nstrategies = fixed\nfixed.k = 99\nfixed.q = 1\n");
	struct experiment_file f;
	assert_int_equal(experiments_load(&f, path, &registry), -1);
	assert_non_null(strstr(f.errors, ":4: [t] fixed.k: 99 is out of range: allowed "));
	assert_non_null(strstr(f.errors, " (the width it always names)"));
	assert_non_null(strstr(f.errors, ":5: [t] fixed.q: unknown key"));
	assert_int_equal(f.n_errors, 2);
	experiments_free(&f);
}

static void test_registry_refuses_clashes(void **state)
{
	(void)state;
	struct registry r;
	/* two strategies of one name */
	const struct strategy *twice[] = { &fixed_strategy, &fixed_strategy };
	assert_int_equal(registry_init(&r, twice, 2), -1);
	/* a second table declaring a key that the first has */
	struct strategy other = fixed_strategy;
	static const struct settings copy = { "copy", fixed_keys, 1, sizeof(int), NULL };
	other.name = "other";
	other.settings = &copy;
	const struct strategy *clash[] = { &fixed_strategy, &other };
	assert_int_equal(registry_init(&r, clash, 2), -1);
	assert_non_null(strstr(ds_errmsg(), "fixed.k of the copy settings"));
	/* one table shared by two strategies is one block */
	other.settings = &fixed_settings;
	const struct strategy *shared[] = { &fixed_strategy, &other };
	assert_int_equal(registry_init(&r, shared, 2), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.n_tables, 1);
	/* more settings than an experiment holds */
	static const struct settings huge = { "huge", NULL, 0, EXP_SETTINGS_BYTES + 1, NULL };
	other.settings = &huge;
	const struct strategy *big[] = { &other };
	assert_int_equal(registry_init(&r, big, 1), -1);
}

static void test_a_plan_that_cannot_be_stored_is_refused(void **state)
{
	(void)state;
	struct registry r;
	const struct strategy *list[] = { &faulty_strategy };
	assert_int_equal(registry_init(&r, list, 1), 0);
	char path[512], db[512];
	snprintf(path, sizeof(path), "%s", tmp_path("faulty.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("faulty.db"));
	struct store *s = store_open(db, 1);
	struct run_options ro = { .threads = 1, .quiet = 1 };
	struct run_result res;
	const char *want[] = { "two trials have the key faulty/seed=1",
			       "longer than a trial record holds" };
	for (int k = 1; k <= 2; k++) {
		char text[256];
		snprintf(text, sizeof(text), "[t]\ndataset = affine:d=2,D=4,n=300\nhidden = 4\n"
					     "epochs = 1\nbatch = 50\nstrategies = faulty\n"
					     "fixed.k = %d\n", k);
		write_text(path, text);
		struct experiment_file f;
		if (experiments_load(&f, path, &r))
			fail_msg("%s", f.errors);
		assert_int_equal(run_experiment(s, &f.exp[0], &ro, &res), RUN_BAD_INPUT);
		assert_non_null(strstr(ds_errmsg(), want[k - 1]));
		assert_int_equal(res.completed, 0);
		experiments_free(&f);
	}
	store_close(s);
}

int main(void)
{
	blas_single_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_strategy_end_to_end),
		cmocka_unit_test(test_keys_checked_like_the_experiments_own),
		cmocka_unit_test(test_registry_refuses_clashes),
		cmocka_unit_test(test_a_plan_that_cannot_be_stored_is_refused),
	};
	return cmocka_run_group_tests_name("registry", tests, setup, NULL);
}
