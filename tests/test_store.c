/* test_store.c: the SQLite store: schema and version, round trips with NaN flags, refusing
 * files it must not touch, and the comparison view. */
#include "testutil.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../results/store.h"

static void sql(const char *path, const char *stmt)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *err = NULL;
	if (sqlite3_exec(db, stmt, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", stmt, err);
	sqlite3_close(db);
}

static long scalar(const char *path, const char *stmt)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, stmt, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long v = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void test_schema_created_and_versioned(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("sub/fresh.db")); /* folder made too */
	struct store *s = store_open(path, 1);
	assert_non_null(s);
	store_close(s);
	assert_int_equal(scalar(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(scalar(path, "PRAGMA application_id"), 0x64696d73);
	assert_int_equal(scalar(path, "SELECT count(*) FROM sqlite_master WHERE name IN "
				      "('experiment','trial','epoch','decision','v_comparison',"
				      "'v_grid_curve','v_epochs')"),
			 7);
	/* opening again keeps everything */
	s = store_open(path, 1);
	assert_non_null(s);
	long id1, id2, id3;
	assert_int_equal(store_experiment(s, "x", "h1", "affine", 3, "a = 1\n", &id1), 0);
	assert_int_equal(store_experiment(s, "x", "h1", "affine", 3, "a = 1\n", &id2), 0);
	assert_int_equal(store_experiment(s, "x", "h2", "affine", 3, "a = 2\n", &id3), 0);
	long id4;
	assert_int_equal(store_experiment(s, "y", "h1", "affine", 3, "a = 1\n", &id4), 0);
	assert_int_equal(id1, id2);
	assert_true(id3 != id1);
	assert_true(id4 != id1); /* another name is another experiment, whatever its settings */
	long latest;
	assert_int_equal(store_latest_experiment(s, "x", &latest), 0);
	assert_int_equal(latest, id3);
	store_close(s);
	char mode[16];
	sqlite3 *db;
	sqlite3_stmt *st;
	sqlite3_open(path, &db);
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
	sqlite3_step(st);
	snprintf(mode, sizeof(mode), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_string_equal(mode, "wal");
}

static void test_trial_round_trip_with_nan(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("trials.db"));
	struct store *s = store_open(path, 1);
	long exp;
	assert_int_equal(store_experiment(s, "x", "h", "affine", -1, "", &exp), 0);
	struct trial_record t = { .latent = 4, .seed = 7 };
	snprintf(t.key, sizeof(t.key), "grid/K=4/seed=7");
	snprintf(t.strategy, sizeof(t.strategy), "grid");
	snprintf(t.role, sizeof(t.role), "search");
	struct trial_record got;
	assert_int_equal(store_trial_get(s, exp, t.key, &got), 0);
	assert_int_equal(store_trial_claim(s, exp, &t), CLAIM_TAKEN);
	assert_true(t.id > 0);
	/* this process runs it: a second claim finds it busy */
	struct trial_record again = t;
	assert_int_equal(store_trial_claim(s, exp, &again), CLAIM_BUSY);
	struct epoch_record e = { .epoch = 1, .train_loss = NAN, .penalty = 0, .val_mse = INFINITY,
				  .active_latent = -1, .flops_tuning = 123, .seconds = 0.5 };
	assert_int_equal(store_epoch(s, t.id, &e), 0);
	t.state = TRIAL_FAILED;
	t.epochs_run = 1;
	t.train_mse = NAN;
	t.val_mse = 0.25;
	t.test_mse = NAN;
	t.probe_accuracy = NAN;
	t.flops = (struct flops){ 1, 2, 3, 4, 5 };
	t.seconds = 1.5;
	snprintf(t.error, sizeof(t.error), "training diverged at epoch 1");
	assert_int_equal(store_trial_end(s, &t), 0);
	assert_int_equal(store_trial_get(s, exp, t.key, &got), 1);
	assert_int_equal(got.state, TRIAL_FAILED);
	assert_true(isnan(got.train_mse));
	assert_float_equal(got.val_mse, 0.25, 0);
	assert_true(got.flops.overhead == 4 && got.flops.report == 5);
	assert_string_equal(got.error, "training diverged at epoch 1");
	store_close(s);
	/* the NULLs are flagged as NaN, infinity is stored as itself */
	assert_int_equal(scalar(path, "SELECT nan_mask FROM trial"),
			 NAN_TRAIN_MSE | NAN_TEST_MSE | NAN_PROBE);
	assert_int_equal(scalar(path, "SELECT nan_mask FROM epoch"), NAN_EPOCH_LOSS);
	assert_int_equal(scalar(path, "SELECT val_mse > 1e308 FROM epoch"), 1);
	/* claiming the failed trial again clears its old epochs; while its owner (this process)
	 * lives it is not marked interrupted, once the owner is gone it is */
	s = store_open(path, 1);
	assert_int_equal(store_trial_claim(s, exp, &t), CLAIM_TAKEN);
	assert_int_equal(store_mark_interrupted(s, exp), 0);
	store_close(s);
	sql(path, "UPDATE trial SET owner_pid = 2147483646"); /* no such process */
	s = store_open(path, 1);
	assert_int_equal(store_mark_interrupted(s, exp), 1);
	store_close(s);
	assert_int_equal(scalar(path, "SELECT attempts FROM trial"), 2);
	assert_int_equal(scalar(path, "SELECT count(*) FROM epoch"), 0);
	assert_int_equal(scalar(path, "SELECT count(*) FROM trial WHERE state = 'interrupted'"), 1);
}

/* Each trial's BLAS kernel is stored, and the complete ones under another kernel than a
 * run's are counted (failed trials and those of unknown kernel are not). */
static void test_kernels_recorded_and_counted(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("kernels.db"));
	struct store *s = store_open(path, 1);
	long exp;
	assert_int_equal(store_experiment(s, "x", "h", "affine", -1, "", &exp), 0);
	const char *kernels[] = { "Haswell", "Zen", "Prescott", "" };
	enum trial_state states[] = { TRIAL_COMPLETE, TRIAL_COMPLETE, TRIAL_FAILED,
				      TRIAL_COMPLETE };
	for (int i = 0; i < 4; i++) {
		struct trial_record t = { .latent = i + 1, .seed = 1 };
		snprintf(t.key, sizeof(t.key), "grid/K=%d/seed=1", i + 1);
		snprintf(t.strategy, sizeof(t.strategy), "grid");
		snprintf(t.role, sizeof(t.role), "search");
		assert_int_equal(store_trial_claim(s, exp, &t), CLAIM_TAKEN);
		t.state = states[i];
		snprintf(t.blas_kernel, sizeof(t.blas_kernel), "%s", kernels[i]);
		assert_int_equal(store_trial_end(s, &t), 0);
	}
	char other[64];
	assert_int_equal(store_other_kernel(s, exp, "Haswell", other, sizeof(other)), 1);
	assert_string_equal(other, "Zen");
	assert_int_equal(store_other_kernel(s, exp, "Zen", other, sizeof(other)), 1);
	assert_string_equal(other, "Haswell");
	assert_int_equal(store_other_kernel(s, exp, "SkylakeX", other, sizeof(other)), 2);
	assert_int_equal(store_other_kernel(s, exp + 1, "SkylakeX", other, sizeof(other)), 0);
	store_close(s);
	assert_int_equal(scalar(path, "SELECT count(*) FROM trial WHERE blas_kernel IS NULL"), 1);
	assert_int_equal(scalar(path, "SELECT count(*) FROM trial WHERE blas_kernel = 'Prescott'"),
			 1);
}

static void test_refuses_foreign_and_newer_files(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("garbage.db"));
	write_text(path, "this is not an SQLite database, just text that is long enough........"
			 "..............................................................");
	assert_null(store_open(path, 1));
	assert_non_null(strstr(ds_errmsg(), path));
	assert_non_null(strstr(ds_errmsg(), "not a database"));
	snprintf(path, sizeof(path), "%s", tmp_path("other.db"));
	sql(path, "CREATE TABLE mine (x)");
	assert_null(store_open(path, 1));
	assert_non_null(strstr(ds_errmsg(), "not a dimsearch one"));
	assert_int_equal(scalar(path, "SELECT count(*) FROM sqlite_master"), 1); /* untouched */
	snprintf(path, sizeof(path), "%s", tmp_path("newer.db"));
	store_close(store_open(path, 1));
	sql(path, "PRAGMA user_version = 99");
	assert_null(store_open(path, 1));
	assert_non_null(strstr(ds_errmsg(), "newer dimsearch (schema 99"));
	assert_null(store_open(tmp_path("absent.db"), 0));
	assert_non_null(strstr(ds_errmsg(), "run 'dimsearch run' first"));
}

struct rows {
	int n;
	char strategy[4][16];
	double ratio[4], ratio_all[4];
};

static int collect(void *ctx, int ncol, char **names, char **values)
{
	struct rows *r = ctx;
	for (int i = 0; i < ncol; i++) {
		if (!strcmp(names[i], "strategy"))
			snprintf(r->strategy[r->n], 16, "%s", values[i]);
		if (!strcmp(names[i], "ratio_to_grid"))
			r->ratio[r->n] = values[i] ? atof(values[i]) : NAN;
		if (!strcmp(names[i], "ratio_with_delivery"))
			r->ratio_all[r->n] = values[i] ? atof(values[i]) : NAN;
	}
	r->n++;
	return 0;
}

static void test_comparison_view(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("view.db"));
	struct store *s = store_open(path, 1);
	long old, exp;
	assert_int_equal(store_experiment(s, "x", "old", "affine", -1, "", &old), 0);
	assert_int_equal(store_experiment(s, "x", "new", "affine", -1, "", &exp), 0);
	struct decision_record g = { .strategy = "grid", .seed = 1, .chosen_latent = 8,
				     .tuning_flops = 1300, .test_mse = 0.1,
				     .probe_accuracy = NAN, .seconds = 2 };
	struct decision_record o = { .strategy = "other", .seed = 1, .chosen_latent = 9,
				     .tuning_flops = 10, .delivery_flops = 5, .test_mse = 0.11,
				     .probe_accuracy = NAN, .seconds = 1 };
	assert_int_equal(store_decision(s, old, &o), 0); /* an older configuration: not shown */
	assert_int_equal(store_decision(s, exp, &g), 0);
	assert_int_equal(store_decision(s, exp, &o), 0);
	struct rows r = { 0 };
	assert_int_equal(store_query(s, "SELECT * FROM v_comparison", NULL, collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.strategy[0], "grid");
	assert_float_equal(r.ratio[0], 1.0, 1e-12);
	assert_string_equal(r.strategy[1], "other");
	assert_float_equal(r.ratio[1], 130.0, 1e-12);
	/* and against tuning plus delivery: 1300 / (10 + 5) */
	assert_float_equal(r.ratio_all[0], 1.0, 1e-12);
	assert_float_equal(r.ratio_all[1], 1300.0 / 15.0, 1e-12);
	store_close(s);
}

static int count_rows(void *ctx, int ncol, char **names, char **values)
{
	(void)ncol;
	(void)names;
	(void)values;
	++*(int *)ctx;
	return 0;
}

/* A file whose views an older build wrote: reading it sees this build's views, and the
 * file is left as it was. */
static void test_reader_sees_current_views(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("oldviews.db"));
	store_close(store_open(path, 1));
	sql(path, "DROP VIEW v_known_id; DROP VIEW v_sosae_sweep; DROP VIEW v_comparison; "
		  "CREATE VIEW v_comparison AS SELECT 1 AS old_column; DROP VIEW v_summary; "
		  "DROP VIEW v_t_quantile");
	struct store *s = store_open(path, 0);
	assert_non_null(s);
	/* a column the old view lacks: the statement would not even prepare against it */
	int rows = 0;
	assert_int_equal(store_query(s, "SELECT count(ratio_with_delivery) FROM v_comparison",
				     NULL, count_rows, &rows),
			 0);
	assert_int_equal(rows, 1);
	/* and the views an older build did not have */
	assert_int_equal(store_query(s, "SELECT count(k_ci95) FROM v_summary", NULL, count_rows,
				     &rows),
			 0);
	assert_int_equal(rows, 2);
	store_close(s);
	assert_int_equal(scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = "
				      "'v_comparison' AND sql LIKE '%old_column%'"),
			 1);
	assert_int_equal(scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = "
				      "'v_summary'"),
			 0);
}

/* A file of schema 1 (no run_order, no owner_token): read as it is, its newest row being
 * current; upgraded in place by a writer, after which the configuration run last is. */
static void test_schema_1_read_then_upgraded(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("schema1.db"));
	struct store *s = store_open(path, 1);
	long h1, h2, latest;
	assert_int_equal(store_experiment(s, "x", "h1", "affine", 3, "a = 1\n", &h1), 0);
	assert_int_equal(store_experiment(s, "x", "h2", "affine", 3, "a = 2\n", &h2), 0);
	struct decision_record d = { .strategy = "grid", .chosen_latent = 4, .tuning_flops = 10,
				     .seconds = 1 };
	for (d.seed = 1; d.seed <= 2; d.seed++, d.chosen_latent += 2)
		assert_int_equal(store_decision(s, h2, &d), 0);
	store_close(s);
	sql(path, "DROP VIEW v_eb_sweep_summary; DROP VIEW v_eb_sweep; DROP VIEW v_sosae_sweep; "
		  "DROP VIEW v_sosae_sweep_all; DROP VIEW v_sosae_cut; DROP VIEW v_sosae_cut_all; "
		  "DROP VIEW v_latent_activity; DROP VIEW v_known_id; "
		  "DROP VIEW v_epochs; DROP VIEW v_grid_curve; DROP VIEW v_comparison; "
		  "DROP VIEW v_comparison_all; DROP VIEW v_summary; DROP VIEW v_summary_all; "
		  "DROP VIEW v_moments_all; DROP VIEW v_paired; DROP VIEW v_paired_all; "
		  "DROP VIEW v_t_quantile; DROP VIEW v_latest; "
		  "ALTER TABLE experiment DROP COLUMN run_order; "
		  "ALTER TABLE trial DROP COLUMN owner_token; "
		  "ALTER TABLE trial DROP COLUMN blas_kernel; PRAGMA user_version = 1");
	s = store_open(path, 0);
	assert_non_null(s);
	assert_int_equal(store_latest_experiment(s, "x", &latest), 0);
	assert_int_equal(latest, h2);
	/* the summary too, with its intervals, on the file as it is */
	char ci[64];
	store_scalar(s, "SELECT k_mean || ' ' || k_ci95 FROM v_summary", NULL, ci, sizeof(ci),
		     "none");
	assert_string_equal(ci, "5.0 12.706205"); /* K 4 and 6: s / sqrt(2) = 1 */
	store_close(s);
	assert_int_equal(scalar(path, "PRAGMA user_version"), 1); /* a reader changes nothing */
	s = store_open(path, 1);
	assert_non_null(s);
	assert_int_equal(scalar(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(scalar(path, "SELECT count(*) FROM pragma_table_info('trial') WHERE "
				      "name = 'owner_token'"),
			 1);
	assert_int_equal(scalar(path, "SELECT count(*) FROM pragma_table_info('trial') WHERE "
				      "name = 'blas_kernel'"),
			 1); /* both upgrades, 1 to 2 and 2 to 3 */
	assert_int_equal(store_latest_experiment(s, "x", &latest), 0);
	assert_int_equal(latest, h2);
	/* running h1 again makes it current */
	assert_int_equal(store_experiment(s, "x", "h1", "affine", 3, "a = 1\n", &latest), 0);
	assert_int_equal(latest, h1);
	assert_int_equal(store_latest_experiment(s, "x", &latest), 0);
	assert_int_equal(latest, h1);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_created_and_versioned),
		cmocka_unit_test(test_trial_round_trip_with_nan),
		cmocka_unit_test(test_kernels_recorded_and_counted),
		cmocka_unit_test(test_refuses_foreign_and_newer_files),
		cmocka_unit_test(test_comparison_view),
		cmocka_unit_test(test_reader_sees_current_views),
		cmocka_unit_test(test_schema_1_read_then_upgraded),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
