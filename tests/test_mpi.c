/* test_mpi.c: runs across MPI ranks on this machine (loopback): trials, epochs, latent
 * activity, decisions and delivered models identical to one process on one thread, a worker
 * or rank 0 killed and the run continued (under MPI and without it) to the same results, bad
 * input refused once, and run --plan's schedule. Needs ./dimsearch-mpi and mpirun (make deps-mpi, make
 * mpi): skipped, with the reason, without them. Run from the repository root. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BIN "./dimsearch"
#define MPI_BIN "./dimsearch-mpi"

/* every row a run leaves, but ids, times and owners; reals to the last bit */
static const char *const dump_sql[] = {
	"SELECT t.trial_key, t.strategy, t.role, t.latent, t.seed, t.params, t.state, "
	"t.epochs_run, printf('%.17g %.17g %.17g %.17g', t.train_mse, t.val_mse, t.test_mse, "
	"t.probe_accuracy), t.nan_mask, t.flops_train_gemm, t.flops_eval_gemm, "
	"t.flops_elementwise, t.flops_overhead, t.flops_report, t.flops_delivery, t.error, "
	"t.details FROM trial t ORDER BY t.trial_key",
	"SELECT t.trial_key, e.epoch, printf('%.17g %.17g %.17g %.17g', e.train_loss, e.penalty, "
	"e.val_mse, e.mask_distance), e.active_latent, e.nan_mask, e.flops_tuning FROM epoch e "
	"JOIN trial t ON t.id = e.trial_id ORDER BY t.trial_key, e.epoch",
	"SELECT t.trial_key, a.k, printf('%.17g %.17g %.17g %.17g', a.max_abs, a.mean_abs, "
	"a.var_mu, a.mean_sigma2) FROM latent_activity a JOIN trial t ON t.id = a.trial_id "
	"ORDER BY t.trial_key, a.k",
	"SELECT d.strategy, d.seed, d.chosen_latent, d.tuning_flops, d.delivery_flops, "
	"d.report_flops, printf('%.17g %.17g', d.test_mse, d.probe_accuracy), d.nan_mask, "
	"d.details FROM decision d ORDER BY d.strategy, d.seed",
};

/* strategies of every kind: several rounds (bisect), latent activity
 * (sosae, vae), a delivery trial (an estimator) */
static const char *config = "[mixed]\n"
			    "dataset = affine:d=3,D=16,n=1200,noise=0.02\n"
			    "hidden = 32\n"
			    "epochs = 12\n"
			    "batch = 64\n"
			    "lr = 0.003\n"
			    "seeds = 1,2\n"
			    "strategies = bisect, sosae, vae, twonn\n"
			    "grid = 1..8\n"
			    "\n"
			    "[slow]\n"
			    "dataset = affine:d=3,D=32,n=3000,noise=0.02\n"
			    "hidden = 64\n"
			    "epochs = 120\n"
			    "batch = 32\n"
			    "lr = 0.003\n"
			    "strategies = grid\n"
			    "grid = 1..8\n";

static char ini[512], mpirun[256];
static char out[1 << 16];
static int have_mpi;

/* tmp_path's answer, kept (tmp_path reuses one buffer) */
static const char *scratch(const char *name)
{
	static char paths[16][512];
	static int next;
	char *p = paths[next++ % 16];
	snprintf(p, 512, "%s", tmp_path(name));
	return p;
}

static int setup(void **state)
{
	(void)state;
	snprintf(ini, sizeof(ini), "%s", scratch("mpi.ini"));
	write_text(ini, config);
	snprintf(mpirun, sizeof(mpirun), "mpirun --oversubscribe --bind-to none%s",
		 getuid() == 0 ? " --allow-run-as-root" : "");
	have_mpi = file_exists(MPI_BIN) && run_command("command -v mpirun", out, sizeof(out)) == 0;
	return 0;
}

static void need_mpi(void)
{
#if defined(__SANITIZE_ADDRESS__)
	print_message("drives ./dimsearch-mpi, which is not a sanitized build: run by the plain "
		      "suite only; skipped\n");
	skip();
#endif
	if (!have_mpi) {
		print_message("no ./dimsearch-mpi or no mpirun ('make deps-mpi' installs Open MPI, "
			      "'make mpi' builds it); skipped\n");
		skip();
	}
}

static char *dump(const char *db)
{
	size_t total = 1;
	char *parts[4];
	for (int i = 0; i < 4; i++) {
		parts[i] = db_dump(db, dump_sql[i]);
		total += strlen(parts[i]) + 8;
	}
	char *all = malloc(total);
	assert_non_null(all);
	all[0] = '\0';
	for (int i = 0; i < 4; i++) {
		strcat(all, parts[i]);
		strcat(all, "\n--\n");
		free(parts[i]);
	}
	return all;
}

static void run_ok(const char *cmd)
{
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
}

/* smoke is the repository's own; the others are this file's */
static const char *config_of(const char *experiment)
{
	return strcmp(experiment, "smoke") ? ini : "experiments.ini";
}

static void run_single(const char *experiment, const char *db)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 BIN " run --config %s --experiment %s --db '%s' --threads 1 --quiet",
		 config_of(experiment), experiment, db);
	run_ok(cmd);
}

static void run_ranks(int ranks, const char *experiment, const char *db)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s -np %d " MPI_BIN " run --config %s --experiment %s --db '%s' "
		 "--threads 1", mpirun, ranks, config_of(experiment), experiment, db);
	run_ok(cmd);
}

static void assert_same(const char *a, const char *b)
{
	char *x = dump(a), *y = dump(b);
	assert_true(strlen(x) > 1000);
	if (strcmp(x, y)) {
		size_t i = 0;
		while (x[i] && x[i] == y[i])
			i++;
		fail_msg("%s and %s differ at byte %zu:\n%.300s\n--- against ---\n%.300s", a, b, i,
			 x + (i > 100 ? i - 100 : 0), y + (i > 100 ? i - 100 : 0));
	}
	free(x);
	free(y);
	/* the delivered models, written by whichever rank trained them, byte for byte */
	char cmd[2048], diff[4096];
	snprintf(cmd, sizeof(cmd), "diff -r '%s.models' '%s.models'", a, b);
	if (run_command(cmd, diff, sizeof(diff)) != 0)
		fail_msg("the models of %s and %s differ:\n%s", a, b, diff);
}

static void test_three_ranks_store_what_one_thread_stores(void **state)
{
	(void)state;
	need_mpi();
	const char *one = scratch("smoke-1.db"), *three = scratch("smoke-3.db");
	run_single("smoke", one);
	run_ranks(3, "smoke", three);
	assert_non_null(strstr(out, "3 ranks"));
	assert_non_null(strstr(out, "rank 2:")); /* each rank's share, printed by rank 0 */
	assert_same(one, three);

	one = scratch("mixed-1.db");
	three = scratch("mixed-3.db");
	run_single("mixed", one);
	run_ranks(3, "mixed", three);
	assert_non_null(strstr(out, "round 2")); /* bisect planned again from results */
	assert_same(one, three);
	/* the report is printed once, by rank 0 */
	char *first = strstr(out, "experiment mixed");
	assert_non_null(first);
	assert_null(strstr(first + 1, "experiment mixed"));
}

/* The process ids of the run's ranks: rank 0 first (the owner of the running trials). */
static int rank_pids(const char *db, pid_t *pids, int max)
{
	char *owner = db_dump(db, "SELECT DISTINCT owner_pid FROM trial WHERE state = 'running'");
	pid_t zero = (pid_t)atol(owner);
	free(owner);
	if (zero <= 0)
		return 0;
	char listing[4096];
	if (run_command("pgrep -x dimsearch-mpi", listing, sizeof(listing)) != 0)
		return 0;
	int n = 0;
	pids[n++] = zero;
	for (char *p = strtok(listing, "\n"); p && n < max; p = strtok(NULL, "\n"))
		if ((pid_t)atol(p) != zero && (pid_t)atol(p) > 0)
			pids[n++] = (pid_t)atol(p);
	return n;
}

static long complete(const char *db)
{
	char cmd[1024], text[64];
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"SELECT count(*) FROM trial WHERE state = "
		 "'complete'\" 2>/dev/null", db);
	return run_command(cmd, text, sizeof(text)) == 0 ? atol(text) : 0; /* not made yet */
}

static int zombie(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	char *stat = slurp(path, NULL);
	int z = stat && strrchr(stat, ')') && strrchr(stat, ')')[2] == 'Z';
	free(stat);
	return z;
}

/* A run of slow on 3 ranks, SIGKILLed at one of its processes (0: rank 0, else a worker)
 * once 2 trials are complete; mpirun's exit status. */
static int kill_part_way(const char *db, int victim)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char cmd[2048];
		snprintf(cmd, sizeof(cmd), "exec %s -np 3 " MPI_BIN " run --config %s --experiment slow "
			 "--db '%s' --threads 1 --quiet >/dev/null 2>&1", mpirun, ini, db);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	pid_t pids[8];
	int n = 0;
	for (int i = 0; i < 3000; i++) {
		if (complete(db) >= 2 && (n = rank_pids(db, pids, 8)) >= 3)
			break;
		nanosleep(&pause, NULL);
	}
	assert_true(n >= 3);
	assert_int_equal(kill(pids[victim], SIGKILL), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* mpirun may return before its ranks have gone: what a user who runs again at once
	 * meets is a trial its dying owner still holds, so the next run starts once they are */
	for (int i = 0; i < 1500; i++) {
		int alive = 0;
		for (int k = 0; k < n; k++)
			alive += kill(pids[k], 0) == 0 && !zombie(pids[k]);
		if (!alive)
			break;
		nanosleep(&pause, NULL);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_a_killed_rank_loses_nothing(void **state)
{
	(void)state;
	need_mpi();
	const char *whole = scratch("slow-whole.db");
	run_single("slow", whole);
	for (int victim = 1; victim >= 0; victim--) {
		char name[64];
		snprintf(name, sizeof(name), "slow-killed-%d.db", victim);
		const char *db = scratch(name);
		int rc = kill_part_way(db, victim);
		assert_int_not_equal(rc, 0); /* the job ended with its killed rank */
		char *ok = db_dump(db, "PRAGMA integrity_check");
		assert_string_equal(ok, "ok\n");
		free(ok);
		long done = complete(db);
		assert_true(done >= 2 && done < 8);
		/* continued without MPI after a worker died, under MPI after rank 0 died */
		if (victim == 1)
			run_single("slow", db);
		else
			run_ranks(2, "slow", db);
		assert_same(whole, db);
		char *again = db_dump(db, "SELECT count(*) FROM trial WHERE attempts > 1");
		assert_true(atol(again) >= 1); /* trials in flight were run again */
		free(again);
	}
}

static void test_bad_input_is_refused_once(void **state)
{
	(void)state;
	need_mpi();
	const char *bad = scratch("bad.ini");
	write_text(bad, "[b]\ndataset = affine:d=3,D=16,n=600\nepochs = 0\nstrategies = grid\n"
			"grid = 1..3\n");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s -np 3 " MPI_BIN " run --config %s --experiment b --db '%s'",
		 mpirun, bad, scratch("bad.db"));
	int rc = run_command(cmd, out, sizeof(out));
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "epochs"));
	/* the file's problem is printed by rank 0 alone */
	int lines = 0;
	for (char *p = out; (p = strstr(p, "nothing was run")); p++)
		lines++;
	assert_int_equal(lines, 1);

	/* data a rank finds too small for the settings: refused before anything runs */
	write_text(bad, "[s]\ndataset = affine:d=3,D=16,n=100\nbatch = 256\nstrategies = grid\n"
			"grid = 1..3\n");
	snprintf(cmd, sizeof(cmd), "%s -np 3 " MPI_BIN " run --config %s --experiment s --db '%s'",
		 mpirun, bad, scratch("small.db"));
	rc = run_command(cmd, out, sizeof(out));
	assert_int_equal(rc, 2);
	lines = 0;
	for (char *p = out; (p = strstr(p, "fewer than batch")); p++)
		lines++;
	assert_int_equal(lines, 1);
}

/* --plan: no training, a row per rank count, speed-ups that never fall and never pass the
 * rank count, each rank's share when one count is asked for */
static void test_plan(void **state)
{
	(void)state;
	const char *db = scratch("plan.db");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 BIN " run --config %s --experiment slow --db '%s' --threads 1 --plan --ranks "
		     "1,2,4,16",
		 ini, db);
	run_ok(cmd);
	assert_false(file_exists(db));
	assert_non_null(strstr(out, "8 trials in the first round"));
	int ranks[4] = { 1, 2, 4, 16 };
	double last = 0;
	char *p = strstr(out, "projected wall");
	assert_non_null(p);
	for (int i = 0; i < 4; i++) {
		p = strchr(p, '\n') + 1;
		int r, threads;
		char wall[32];
		double speedup;
		assert_int_equal(sscanf(p, "%d %d %31s %*s %lfx", &r, &threads, wall, &speedup), 4);
		assert_int_equal(r, ranks[i]);
		assert_int_equal(threads, 1);
		assert_true(speedup >= last - 1e-9 && speedup <= r + 1e-9);
		last = speedup;
	}
	assert_true(last > 1.5); /* 8 trials on 16 ranks: the longest trial bounds it */
	snprintf(cmd, sizeof(cmd),
		 BIN " run --config %s --experiment slow --db '%s' --threads 1 --plan --ranks 2",
		 ini, db);
	run_ok(cmd);
	int trials[2];
	assert_int_equal(sscanf(strstr(out, "rank 0:"), "rank 0: %d trials", &trials[0]), 1);
	assert_int_equal(sscanf(strstr(out, "rank 1:"), "rank 1: %d trials", &trials[1]), 1);
	assert_int_equal(trials[0] + trials[1], 8);
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment slow --ranks 2", ini);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--ranks goes with --plan"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_ranks_store_what_one_thread_stores),
		cmocka_unit_test(test_a_killed_rank_loses_nothing),
		cmocka_unit_test(test_bad_input_is_refused_once),
		cmocka_unit_test(test_plan),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
