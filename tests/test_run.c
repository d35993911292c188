/* test_run.c: whole runs through ./dimsearch: thread count does not change results, a run
 * killed (SIGKILL) or interrupted (SIGINT) continues to the same decisions with every trial
 * stored once, and the report prints the rows of v_summary. Run from the repository root. */
#include "testutil.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BIN "./dimsearch"

/* six trials of about 0.2 s each on one thread: slow enough to be stopped part-way */
static const char *config = "[slow]\n"
			    "dataset = affine:d=3,D=32,n=3000,noise=0.02\n"
			    "hidden = 64\n"
			    "epochs = 40\n"
			    "batch = 32\n"
			    "lr = 0.003\n"
			    "strategies = grid\n"
			    "grid = 1..6\n";

static char ini[512];
static char out[1 << 16];

static int setup(void **state)
{
	(void)state;
	snprintf(ini, sizeof(ini), "%s", tmp_path("slow.ini"));
	write_text(ini, config);
	return 0;
}

static long count(const char *db, const char *query)
{
	char *t = db_dump(db, query);
	long v = atol(t);
	free(t);
	return v;
}

#define TRIALS_SQL                                                                           \
	"SELECT trial_key, state, epochs_run, val_mse, test_mse, flops_train_gemm, "         \
	"flops_eval_gemm, flops_elementwise FROM trial ORDER BY trial_key"
#define DECISIONS_SQL                                                                        \
	"SELECT strategy, seed, chosen_latent, tuning_flops, delivery_flops, test_mse, details " \
	"FROM decision ORDER BY strategy, seed"

static void run_to_end(const char *db, int threads)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment slow --db '%s' --threads %d",
		 ini, db, threads);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
}

static pid_t spawn_with(const char *db, const char *log, const char *threads)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen(log, "w", stderr))
			_exit(126);
		execl(BIN, BIN, "run", "--config", ini, "--experiment", "slow", "--db", db,
		      "--threads", threads, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static pid_t spawn_logged(const char *db, const char *log)
{
	return spawn_with(db, log, "1");
}

/* Wait until query's count reaches at least n (or the process ends). */
static void wait_for(const char *db, const char *query, long n, pid_t pid)
{
	for (int i = 0; i < 6000; i++) {
		if (access(db, F_OK) == 0 && count(db, "SELECT count(*) FROM sqlite_master "
						       "WHERE name = 'trial'") == 1 &&
		    count(db, query) >= n)
			return;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid)
			fail_msg("the run ended before '%s' reached %ld", query, n);
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	fail_msg("timed out waiting for '%s' to reach %ld", query, n);
}

static char *reference_trials, *reference_decisions;

/* db holds the trials and decisions of the uninterrupted one-thread run */
static void assert_as_uninterrupted(const char *db)
{
	char *trials = db_dump(db, TRIALS_SQL), *decisions = db_dump(db, DECISIONS_SQL);
	assert_string_equal(trials, reference_trials);
	assert_string_equal(decisions, reference_decisions);
	free(trials);
	free(decisions);
}

static void test_threads_do_not_change_results(void **state)
{
	(void)state;
	char one[512], two[512];
	snprintf(one, sizeof(one), "%s", tmp_path("one.db"));
	snprintf(two, sizeof(two), "%s", tmp_path("two.db"));
	run_to_end(one, 1);
	run_to_end(two, 2);
	reference_trials = db_dump(one, TRIALS_SQL);
	reference_decisions = db_dump(one, DECISIONS_SQL);
	assert_as_uninterrupted(two);
	assert_int_equal(count(one, "SELECT count(*) FROM trial WHERE state = 'complete'"), 6);
	assert_int_equal(count(one, "SELECT count(*) FROM epoch"), 6 * 40);
	/* a second run repeats nothing */
	run_to_end(one, 2);
	assert_non_null(strstr(out, "6 trials (6 already complete)"));
	char *again = db_dump(one, TRIALS_SQL);
	assert_string_equal(reference_trials, again);
	free(again);
}

/* Kill -9 after `complete` trials (0: during the first one), run again, compare. */
static void kill_and_resume(const char *name, long complete, const char *threads)
{
	char db[512];
	snprintf(db, sizeof(db), "%s", tmp_path(name));
	pid_t pid = spawn_with(db, "/dev/null", threads);
	if (complete > 0)
		wait_for(db, "SELECT count(*) FROM trial WHERE state = 'complete'", complete, pid);
	else
		wait_for(db, "SELECT count(*) FROM epoch", 3, pid);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	long done = count(db, "SELECT count(*) FROM trial WHERE state = 'complete'");
	assert_true(done >= complete && done < 6);
	char before[64 * 1024];
	char *b = db_dump(db, "SELECT trial_key, finished_at, val_mse FROM trial WHERE state = "
			   "'complete' ORDER BY trial_key");
	snprintf(before, sizeof(before), "%s", b);
	free(b);
	run_to_end(db, 2);
	char expect[64];
	snprintf(expect, sizeof(expect), "(%ld already complete)", done);
	assert_non_null(strstr(out, expect));
	assert_as_uninterrupted(db);
	/* each trial once, each epoch once, and the finished ones were not run again */
	assert_int_equal(count(db, "SELECT count(*) FROM trial"), 6);
	assert_int_equal(count(db, "SELECT count(*) FROM epoch"), 6 * 40);
	char *kept = db_dump(db, "SELECT trial_key, finished_at, val_mse FROM trial ORDER BY "
			      "trial_key");
	for (char *line = strtok(before, "\n"); line; line = strtok(NULL, "\n"))
		assert_non_null(strstr(kept, line));
	free(kept);
}

static void test_sigkill_at_several_points_then_resume(void **state)
{
	(void)state;
	assert_non_null(reference_trials);
	kill_and_resume("kill0.db", 0, "1");
	kill_and_resume("kill1.db", 1, "2"); /* two trials in flight */
	kill_and_resume("kill4.db", 4, "2");
}

static void test_sigint_marks_interrupted_and_resumes(void **state)
{
	(void)state;
	char db[512], log[512];
	/* a space in the path: the hint must quote it */
	snprintf(db, sizeof(db), "%s", tmp_path("sig int.db"));
	snprintf(log, sizeof(log), "%s", tmp_path("sigint.log"));
	pid_t pid = spawn_logged(db, log);
	wait_for(db, "SELECT count(*) FROM trial WHERE state = 'complete'", 2, pid);
	kill(pid, SIGINT);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 130);
	/* the hint repeats the command line as given, ready to paste into a shell */
	char hint[2048];
	snprintf(hint, sizeof(hint),
		 "To continue, run again: " BIN " run --config %s --experiment slow --db '%s' "
		 "--threads 1\n",
		 ini, db);
	char *said = slurp(log, NULL);
	assert_non_null(said);
	if (!strstr(said, hint))
		fail_msg("expected the hint\n%s\nin\n%s", hint, said);
	free(said);
	assert_int_equal(count(db, "SELECT count(*) FROM trial WHERE state = 'running'"), 0);
	assert_int_equal(count(db, "SELECT count(*) FROM decision"), 0);
	long stopped = count(db, "SELECT count(*) FROM trial WHERE state = 'interrupted'");
	long done = count(db, "SELECT count(*) FROM trial WHERE state = 'complete'");
	assert_true(stopped + done >= 2 && done < 6);
	run_to_end(db, 1);
	assert_as_uninterrupted(db);
}

/* Two runs of one experiment started together on db: each exits 0, no lock error reaches
 * either, every trial is run once, and the results are those of a lone run. */
static void two_processes(const char *db)
{
	char log1[512], log2[512];
	snprintf(log1, sizeof(log1), "%s", tmp_path("first.log"));
	snprintf(log2, sizeof(log2), "%s", tmp_path("second.log"));
	pid_t a = spawn_logged(db, log1), b = spawn_logged(db, log2);
	int sa, sb;
	waitpid(a, &sa, 0);
	waitpid(b, &sb, 0);
	char *l1 = slurp(log1, NULL), *l2 = slurp(log2, NULL);
	assert_true(l1 && l2);
	if (!WIFEXITED(sa) || WEXITSTATUS(sa) != 0 || !WIFEXITED(sb) || WEXITSTATUS(sb) != 0 ||
	    strstr(l1, "locked") || strstr(l2, "locked"))
		fail_msg("two runs on %s: status %d and %d\n-- first:\n%s\n-- second:\n%s", db, sa,
			 sb, l1, l2);
	free(l1);
	free(l2);
	assert_int_equal(count(db, "SELECT count(*) FROM trial"), 6);
	assert_int_equal(count(db, "SELECT count(*) FROM trial WHERE attempts = 1 AND state = "
				   "'complete'"),
			 6);
	assert_int_equal(count(db, "SELECT count(*) FROM epoch"), 6 * 40);
	assert_as_uninterrupted(db);
}

static void test_two_processes_share_the_work(void **state)
{
	(void)state;
	char db[512], reset[1024];
	/* both creating a new file at once */
	snprintf(db, sizeof(db), "%s", tmp_path("new-shared.db"));
	two_processes(db);
	/* both on an existing store, starting the same trials at once */
	snprintf(db, sizeof(db), "%s", tmp_path("shared.db"));
	run_to_end(db, 1);
	snprintf(reset, sizeof(reset), "sqlite3 %s 'DELETE FROM epoch; DELETE FROM decision; "
				       "DELETE FROM trial'", db);
	assert_int_equal(run_command(reset, out, sizeof(out)), 0);
	two_processes(db);
}

static void test_locked_database_is_reported(void **state)
{
	(void)state;
	char db[512], cmd[2048];
	snprintf(db, sizeof(db), "%s", tmp_path("one.db"));
	char *before = db_dump(db, TRIALS_SQL);
	/* another process holds a write transaction for 5 s; we wait 0.3 s */
	snprintf(cmd, sizeof(cmd), "{ (echo 'BEGIN IMMEDIATE; UPDATE experiment SET config = "
				   "config;'; sleep 5) | sqlite3 %s & sleep 1; "
				   "DIMSEARCH_BUSY_MS=300 " BIN " run --config %s --experiment slow "
				   "--db %s; rc=$?; wait; exit $rc; }",
		 db, ini, db);
	int rc = run_command(cmd, out, sizeof(out));
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "another process holds the database locked"));
	assert_non_null(strstr(out, db));
	/* nothing was trained, nothing lost, the file still whole */
	char *after = db_dump(db, TRIALS_SQL);
	assert_string_equal(before, after);
	free(before);
	free(after);
	char *ok = db_dump(db, "PRAGMA integrity_check");
	assert_string_equal(ok, "ok\n");
	free(ok);
}

static void test_sigterm_during_a_parallel_run(void **state)
{
	(void)state;
	char db[512];
	snprintf(db, sizeof(db), "%s", tmp_path("sigterm.db"));
	pid_t pid = spawn_with(db, "/dev/null", "2");
	wait_for(db, "SELECT count(*) FROM trial WHERE state = 'complete'", 2, pid);
	kill(pid, SIGTERM);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 130);
	assert_int_equal(count(db, "SELECT count(*) FROM trial WHERE state = 'running'"), 0);
	run_to_end(db, 2);
	assert_as_uninterrupted(db);
}

static void test_full_disk_stops_cleanly(void **state)
{
	(void)state;
	char db[512], cmd[2048];
	snprintf(db, sizeof(db), "%s", tmp_path("full.db"));
	/* a file-size limit makes a write fail part-way, as a full disk does */
	snprintf(cmd, sizeof(cmd), "{ trap '' XFSZ; ulimit -f 400; " BIN " run --config %s "
				   "--experiment slow --db %s --threads 1 --quiet; }", ini, db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out, db));
	assert_non_null(strstr(out, "check the disk"));
	char *ok = db_dump(db, "PRAGMA integrity_check");
	assert_string_equal(ok, "ok\n");
	free(ok);
	assert_int_equal(count(db, "SELECT count(*) FROM decision"), 0);
	/* with room again, the run continues to the same results */
	run_to_end(db, 1);
	char *decisions = db_dump(db, DECISIONS_SQL);
	assert_string_equal(decisions, reference_decisions);
	free(decisions);
}

static void test_read_only_file_and_folder(void **state)
{
	(void)state;
	if (getuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
		print_message("needs root and setpriv to act as an unprivileged user; skipped\n");
		skip();
	}
	char dir[512], db[600], fresh[600], cmd[4096];
	snprintf(dir, sizeof(dir), "%s", tmp_path("ro"));
	snprintf(db, sizeof(db), "%s/results.db", dir);
	snprintf(fresh, sizeof(fresh), "%s/new.db", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && chmod 711 $(dirname %s)", dir, dir);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	run_to_end(db, 1);
	snprintf(cmd, sizeof(cmd), "chmod 555 %s && chmod 444 %s", dir, db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	const char *as_nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups";
	/* a read-only file, and a folder where nothing can be written: refused up front */
	snprintf(cmd, sizeof(cmd), "%s " BIN " run --config %s --experiment slow --db %s",
		 as_nobody, ini, db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "is read-only"));
	snprintf(cmd, sizeof(cmd), "%s " BIN " run --config %s --experiment slow --db %s",
		 as_nobody, ini, fresh);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "cannot write in"));
	assert_false(file_exists(fresh));
	/* reading still works */
	snprintf(cmd, sizeof(cmd), "%s " BIN " report --db %s", as_nobody, db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "experiment slow"));
	snprintf(cmd, sizeof(cmd), "chmod 755 %s && chmod 644 %s", dir, db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	char *ok = db_dump(db, "PRAGMA integrity_check");
	assert_string_equal(ok, "ok\n");
	free(ok);
}

static void test_data_too_small_is_refused(void **state)
{
	(void)state;
	char cfg[512], db[512], cmd[2048];
	snprintf(cfg, sizeof(cfg), "%s", tmp_path("small.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("small.db"));
	write_text(cfg, "[batch]\ndataset = affine:n=100\nbatch = 256\nstrategies = grid\n"
			"grid = 1\n"
			"[knn]\ndataset = affine:n=100\nbatch = 16\nstrategies = lpca\nk_max = 4\n"
			"[nofile]\ndataset = csv:/no/such.csv\nstrategies = grid\ngrid = 1\n");
	const char *cases[][2] = {
		{ "batch", "fewer than batch = 256" },
		{ "knn", "lpca.k = 100 neighbours need more than 80 points" },
		{ "nofile", "cannot open /no/such.csv" },
	};
	for (int i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment %s --db %s", cfg,
			 cases[i][0], db);
		assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
		if (!strstr(out, cases[i][1]))
			fail_msg("'%s' not in: %s", cases[i][1], out);
	}
	assert_int_equal(count(db, "SELECT count(*) FROM trial"), 0); /* nothing trained */
}

static void test_divergence_is_recorded(void **state)
{
	(void)state;
	char cfg[512], db[512], cmd[2048];
	snprintf(cfg, sizeof(cfg), "%s", tmp_path("boom.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("boom.db"));
	/* values near float's limit: the first epoch's loss is NaN for every trial */
	write_text(cfg, "[boom]\ndataset = affine:d=3,D=16,n=600,noise=1e37\nhidden = 8\n"
			"epochs = 3\nbatch = 64\nstrategies = grid, sosae\ngrid = 1..2\n"
			"[fine]\ndataset = affine:d=3,D=16,n=600\nhidden = 8\nepochs = 3\n"
			"batch = 64\nstrategies = grid\ngrid = 1..2\n");
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment boom --experiment fine "
				   "--db %s --threads 1", cfg, db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "no decision: grid (seed 1): every one of its 2 trials"));
	assert_non_null(strstr(out, "no decision: sosae (seed 1)"));
	/* every trial failed with its reason, its first epoch kept with the NaN flagged */
	assert_int_equal(count(db, "SELECT count(*) FROM trial t JOIN experiment e ON "
				   "e.id = t.experiment_id WHERE e.name = 'boom' AND t.state = "
				   "'failed' AND t.error LIKE 'training diverged at epoch 1: the loss "
				   "is NaN%'"),
			 3);
	assert_int_equal(count(db, "SELECT count(*) FROM epoch p JOIN trial t ON t.id = "
				   "p.trial_id WHERE t.state = 'failed' AND p.train_loss IS NULL "
				   "AND p.nan_mask & 1"),
			 3);
	/* the other experiment went on and decided */
	assert_int_equal(count(db, "SELECT count(*) FROM v_comparison WHERE experiment = 'fine'"),
			 1);
}

/* A run that adds trials to ones stored under another BLAS kernel says so, naming both; a run
 * that adds none, or adds them under the same kernel, says nothing. (Atom: a kernel of
 * OpenBLAS that test-kernels never runs, so never this run's.) */
static void test_mixed_kernels_are_warned(void **state)
{
	(void)state;
	char db[512], cmd[2048];
	snprintf(db, sizeof(db), "%s", tmp_path("kernels.db"));
	run_to_end(db, 2);
	assert_null(strstr(out, "warning"));
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 '%s' \"UPDATE trial SET blas_kernel = 'Atom'; UPDATE trial SET "
		 "state = 'interrupted' WHERE trial_key = 'grid/K=6/seed=1'\"",
		 db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	run_to_end(db, 2);
	assert_non_null(strstr(out, "warning: 5 trials stored complete were trained under the "
				    "OpenBLAS kernel Atom"));
	assert_non_null(strstr(out, "OPENBLAS_CORETYPE=Atom"));
	run_to_end(db, 2); /* nothing to add: nothing to say */
	assert_null(strstr(out, "warning"));
}

static void test_report_prints_the_view(void **state)
{
	(void)state;
	char db[512], cmd[1024];
	snprintf(db, sizeof(db), "%s", tmp_path("one.db"));
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --format csv", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	char *view = db_dump(db, "SELECT * FROM v_summary");
	/* the CSV body is the view's rows: NULL empty, a field with a comma quoted */
	char expect[8192] = "";
	for (char *line = strtok(view, "\n"); line; line = strtok(NULL, "\n")) {
		char *save = NULL;
		int first = 1;
		for (char *field = strtok_r(line, "|", &save); field;
		     field = strtok_r(NULL, "|", &save), first = 0) {
			size_t len = strlen(expect);
			snprintf(expect + len, sizeof(expect) - len, strchr(field, ',') ? "%s\"%s\""
							       : "%s%s",
				 first ? "" : ",", strcmp(field, "NULL") ? field : "");
		}
		strcat(expect, "\n");
	}
	char *body = strchr(out, '\n');
	assert_non_null(body);
	assert_string_equal(body + 1, expect);
	free(view);
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --format json", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "{\"experiment\":\"slow\""));
	assert_non_null(strstr(out, "\"ratio_to_grid\":1.0"));
	assert_non_null(strstr(out, "\"ratio_with_delivery\":1.0"));
	snprintf(cmd, sizeof(cmd), BIN " report --db %s", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "experiment slow:"));
	assert_non_null(strstr(out, "FLOPs: one floating-point add or multiply"));
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --experiment none", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "no decisions"));
}

static void test_groups_and_estimators_against_truth(void **state)
{
	(void)state;
	char cfg[512], db[512], cmd[2048];
	snprintf(cfg, sizeof(cfg), "%s", tmp_path("group.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("group.db"));
	write_text(cfg, "[grp.roll]\n"
			"dataset = M7_Roll:n=1500\n"
			"hidden = 16\nepochs = 5\nbatch = 64\n"
			"k_max = 3\ngrid = 1..3\n"
			"strategies = grid, sosae, lpca, mle, twonn\n"
			"[grp.flat]\n"
			"dataset = affine:d=3,D=8,n=1500,noise=0\n"
			"hidden = 16\nepochs = 5\nbatch = 64\n"
			"k_max = 8\ngrid = 1..8\n"
			"strategies = grid, lpca\n"
			"[other]\n"
			"dataset = affine\nstrategies = grid\ngrid = 1\n");
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment grp --db %s --threads 2", cfg,
		 db);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
	assert_non_null(strstr(out, "(true dimension 2)"));
	/* both sections of the group ran, the other did not */
	assert_int_equal(count(db, "SELECT count(DISTINCT name) FROM experiment"), 2);
	assert_int_equal(count(db, "SELECT count(*) FROM v_known_id"), 7);
	/* noise-free flat data: local PCA finds 3 and trains there; its tuning cost is its
	 * estimation alone, the training is delivery */
	char *flat = db_dump(db, "SELECT chosen_latent, tuning_flops = json_extract(details, "
			      "'$.estimate_flops'), delivery_flops > 0 FROM decision WHERE "
			      "strategy = 'lpca' AND experiment_id = (SELECT id FROM experiment "
			      "WHERE name = 'grp.flat')");
	assert_string_equal(flat, "3|1|1\n");
	free(flat);
	char *roll = db_dump(db, "SELECT strategy, chosen_k FROM v_known_id WHERE experiment = "
			      "'grp.roll' AND strategy IN ('mle', 'twonn') ORDER BY strategy");
	assert_string_equal(roll, "mle|2\ntwonn|2\n");
	free(roll);
	/* a second run decides again from the stored trials, and decides the same */
	char *first = db_dump(db, DECISIONS_SQL);
	rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
	char *second = db_dump(db, DECISIONS_SQL);
	assert_string_equal(first, second);
	free(first);
	free(second);
}

static int teardown(void **state)
{
	(void)state;
	free(reference_trials);
	free(reference_decisions);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_do_not_change_results),
		cmocka_unit_test(test_sigkill_at_several_points_then_resume),
		cmocka_unit_test(test_sigint_marks_interrupted_and_resumes),
		cmocka_unit_test(test_two_processes_share_the_work),
		cmocka_unit_test(test_locked_database_is_reported),
		cmocka_unit_test(test_divergence_is_recorded),
		cmocka_unit_test(test_data_too_small_is_refused),
		cmocka_unit_test(test_sigterm_during_a_parallel_run),
		cmocka_unit_test(test_full_disk_stops_cleanly),
		cmocka_unit_test(test_read_only_file_and_folder),
		cmocka_unit_test(test_report_prints_the_view),
		cmocka_unit_test(test_mixed_kernels_are_warned),
		cmocka_unit_test(test_groups_and_estimators_against_truth),
	};
	return cmocka_run_group_tests_name("run", tests, setup, teardown);
}
