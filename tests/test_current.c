/* test_current.c: what run, report and plot show is the configuration and the data that were
 * run: alternating configurations of one name, two of them run at once, data rewritten
 * under an unchanged configuration, trials whose owner died while another process has
 * its PID, and a database deleted while a run writes to it. */
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

static char out[1 << 16];

/* An experiment [alt] with this many epochs on dataset, written to path. */
static void write_config(const char *path, int epochs, const char *dataset)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "[alt]\ndataset = %s\nhidden = 16\nepochs = %d\nbatch = 50\nlr = 0.003\n"
		 "strategies = grid\ngrid = 1,2,3\n",
		 dataset, epochs);
	write_text(path, text);
}

/* The first column of the first row of a query on db, as text (caller's buffer). */
static const char *scalar(const char *db, const char *sql, char *buf, size_t size)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	buf[0] = '\0';
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 10000);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return buf;
}

/* Run a command that must succeed; its output stays in out. */
static void must_run(const char *cmd)
{
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
}

/* text without the last number of each line (the seconds column of a table) and without
 * the progress lines; caller frees */
static char *without_seconds(const char *text)
{
	char *copy = strdup(text), *result = calloc(strlen(text) + 1, 1);
	for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '[')
			continue;
		char *end = line + strlen(line);
		while (end > line && (end[-1] == '.' || (end[-1] >= '0' && end[-1] <= '9')))
			end--;
		*end = '\0';
		strcat(result, line);
		strcat(result, "\n");
	}
	free(copy);
	return result;
}

static void run_config(const char *ini, const char *db)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment alt --db %s --threads 2",
		 ini, db);
	must_run(cmd);
}

/* CSV text without its column named `name` (a field may be quoted, commas inside); caller
 * frees */
static char *without_column(const char *text, const char *name)
{
	char *result = calloc(strlen(text) + 1, 1), *to = result;
	int skip = -1;
	for (const char *line = text; *line;) {
		int field = 0, quoted = 0, kept = 0;
		const char *start = line, *p = line;
		for (;; p++) {
			if (*p == '"')
				quoted = !quoted;
			if (quoted || (*p != ',' && *p != '\n' && *p))
				continue;
			/* a field ends at p: the header names the column to skip */
			if (skip < 0 && (size_t)(p - start) == strlen(name) &&
			    !strncmp(start, name, strlen(name)))
				skip = field;
			if (field != skip) {
				if (kept++)
					*to++ = ',';
				memcpy(to, start, (size_t)(p - start));
				to += p - start;
			}
			field++;
			start = p + 1;
			if (*p != ',')
				break;
		}
		*to++ = '\n';
		line = *p ? p + 1 : p;
	}
	*to = '\0';
	assert_true(skip >= 0);
	return result;
}

/* report --format csv of db, seconds removed; caller frees */
static char *report_csv(const char *db)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --format csv", db);
	must_run(cmd);
	return without_column(out, "seconds");
}

static void test_alternating_configurations(void **state)
{
	(void)state;
	char two[512], three[512], db[512], buf[256];
	snprintf(two, sizeof(two), "%s", tmp_path("alt2.ini"));
	snprintf(three, sizeof(three), "%s", tmp_path("alt3.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("alt.db"));
	const char *data = "affine:d=2,D=8,n=600,noise=0.01";
	write_config(two, 2, data);
	write_config(three, 3, data);
	run_config(two, db);
	char *table2 = without_seconds(out), *report2 = report_csv(db);
	run_config(three, db);
	char *table3 = without_seconds(out), *report3 = report_csv(db);
	assert_string_not_equal(table2, table3);
	assert_string_not_equal(report2, report3);
	/* epochs = 2 again: nothing is trained, and its own table is shown */
	run_config(two, db);
	assert_non_null(strstr(out, "3 trials (3 already complete)"));
	char *again = without_seconds(out), *report = report_csv(db);
	assert_string_equal(again, table2);
	assert_string_equal(report, report2);
	/* the views behind plot follow: the grid curve is the epochs = 2 one */
	assert_string_equal(scalar(db, "SELECT group_concat(t.epochs_run) FROM v_grid_curve c "
				       "JOIN trial t ON t.latent = c.latent AND t.val_mse = c.val_mse",
				   buf, sizeof(buf)),
			    "2,2,2");
	free(table2);
	free(table3);
	free(report2);
	free(report3);
	free(again);
	free(report);
}

/* Start `run` of ini on db in the background, its stdout into log. */
static pid_t spawn_run(const char *ini, const char *db, const char *log)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen(log, "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execl(BIN, BIN, "run", "--config", ini, "--experiment", "alt", "--db", db,
		      "--threads", "1", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void test_two_configurations_at_once(void **state)
{
	(void)state;
	char a[512], b[512], lone_a[512], lone_b[512], db[512], log_a[512], log_b[512];
	snprintf(a, sizeof(a), "%s", tmp_path("at-once-a.ini"));
	snprintf(b, sizeof(b), "%s", tmp_path("at-once-b.ini"));
	snprintf(lone_a, sizeof(lone_a), "%s", tmp_path("lone-a.db"));
	snprintf(lone_b, sizeof(lone_b), "%s", tmp_path("lone-b.db"));
	snprintf(db, sizeof(db), "%s", tmp_path("at-once.db"));
	snprintf(log_a, sizeof(log_a), "%s", tmp_path("at-once-a.out"));
	snprintf(log_b, sizeof(log_b), "%s", tmp_path("at-once-b.out"));
	/* trials of a few tenths of a second, so that the two runs overlap */
	const char *data = "affine:d=3,D=32,n=3000,noise=0.02";
	write_config(a, 6, data);
	write_config(b, 7, data);
	run_config(a, lone_a);
	char *want_a = without_seconds(out);
	run_config(b, lone_b);
	char *want_b = without_seconds(out);
	assert_string_not_equal(want_a, want_b);
	pid_t pa = spawn_run(a, db, log_a), pb = spawn_run(b, db, log_b);
	int sa, sb;
	waitpid(pa, &sa, 0);
	waitpid(pb, &sb, 0);
	assert_true(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
	assert_true(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
	char *got_a = slurp(log_a, NULL), *got_b = slurp(log_b, NULL);
	assert_true(got_a && got_b);
	char *ta = without_seconds(got_a), *tb = without_seconds(got_b);
	/* each run printed the configuration it ran */
	assert_string_equal(ta, want_a);
	assert_string_equal(tb, want_b);
	/* and report shows one of the two, whole: the one decided last */
	char buf[64], *report = report_csv(db);
	const char *last = scalar(db, "SELECT config LIKE '%epochs = 7%' FROM experiment ORDER BY "
				      "run_order DESC LIMIT 1",
				  buf, sizeof(buf));
	char *lone = report_csv(!strcmp(last, "1") ? lone_b : lone_a);
	assert_string_equal(report, lone);
	free(want_a);
	free(want_b);
	free(got_a);
	free(got_b);
	free(ta);
	free(tb);
	free(report);
	free(lone);
}

/* 300 rows of 6 values in [0, 1] drawn from seed: the same size for every seed */
static void write_csv(const char *path, unsigned seed)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	unsigned s = seed;
	for (int i = 0; i < 300; i++)
		for (int j = 0; j < 6; j++) {
			s = s * 1103515245u + 12345u;
			fprintf(f, "%.4f%s", (double)(s >> 8 & 0xffff) / 65536.0, j == 5 ? "\n" : ",");
		}
	fclose(f);
}

static void test_rewritten_data_is_not_the_old_data(void **state)
{
	(void)state;
	char csv[512], ini[512], db[512], spec[600], buf[64];
	snprintf(csv, sizeof(csv), "%s", tmp_path("data.csv"));
	snprintf(ini, sizeof(ini), "%s", tmp_path("csv.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("csv.db"));
	snprintf(spec, sizeof(spec), "csv:%s", csv);
	write_config(ini, 2, spec);
	write_csv(csv, 7);
	run_config(ini, db);
	char *first = report_csv(db);
	/* the same size, other values: a new experiment, every trial run on the new data */
	write_csv(csv, 8);
	run_config(ini, db);
	assert_non_null(strstr(out, "3 trials (0 already complete)"));
	assert_string_equal(scalar(db, "SELECT count(*) FROM experiment", buf, sizeof(buf)), "2");
	assert_non_null(strstr(scalar(db, "SELECT config FROM experiment ORDER BY run_order DESC",
				      out, sizeof(out)),
			       "data.files = 1, "));
	char *second = report_csv(db);
	assert_string_not_equal(first, second);
	/* the first data back: its trials again, nothing trained */
	write_csv(csv, 7);
	run_config(ini, db);
	assert_non_null(strstr(out, "3 trials (3 already complete)"));
	char *third = report_csv(db);
	assert_string_equal(first, third);
	free(first);
	free(second);
	free(third);
}

/* Mark one complete trial of db as running, owned by a live process (this one) of another
 * run, last heard from `age` seconds ago. */
static void fake_owner(const char *db, double age)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 %s \"UPDATE trial SET state = 'running', owner_pid = %d, owner_host = "
		 "'%s', owner_token = 'another-run', heartbeat = (julianday('now') - 2440587.5) * "
		 "86400.0 - %g WHERE trial_key = 'grid/K=2/seed=1'; DELETE FROM decision\"",
		 db, (int)getpid(), "HOST", age);
	char host[256];
	gethostname(host, sizeof(host));
	char *at = strstr(cmd, "HOST");
	char rest[1024];
	snprintf(rest, sizeof(rest), "%s", at + 4);
	snprintf(at, sizeof(cmd) - (size_t)(at - cmd), "%s%s", host, rest);
	must_run(cmd);
}

static void test_a_dead_owner_loses_its_trials_whatever_has_its_pid(void **state)
{
	(void)state;
	char ini[512], db[512], cmd[2048], buf[64];
	snprintf(ini, sizeof(ini), "%s", tmp_path("lease.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("lease.db"));
	write_config(ini, 2, "affine:d=2,D=8,n=600,noise=0.01");
	run_config(ini, db);
	/* an owner heard from within the lease holds its trial, even with no progress */
	fake_owner(db, 0);
	run_config(ini, db);
	assert_non_null(strstr(out, "1 trial was being run by another dimsearch process"));
	assert_string_equal(scalar(db, "SELECT state FROM trial WHERE trial_key = "
				       "'grid/K=2/seed=1'",
				   buf, sizeof(buf)),
			    "running");
	/* past its lease it has lost it, though a live process (this one) has its PID */
	fake_owner(db, 3600);
	run_config(ini, db);
	assert_non_null(strstr(out, "3 trials (2 already complete)"));
	assert_null(strstr(out, "another dimsearch process"));
	assert_string_equal(scalar(db, "SELECT count(*) FROM trial WHERE state = 'complete'", buf,
				   sizeof(buf)),
			    "3");
	assert_string_equal(scalar(db, "SELECT count(*) FROM decision", buf, sizeof(buf)), "1");
	/* a short lease runs out by itself */
	fake_owner(db, 0);
	sleep(2);
	snprintf(cmd, sizeof(cmd),
		 "DIMSEARCH_LEASE_S=1 " BIN " run --config %s --experiment alt --db %s", ini, db);
	must_run(cmd);
	assert_non_null(strstr(out, "3 trials (2 already complete)"));
}

static void test_the_lease_is_renewed_during_a_long_epoch(void **state)
{
	(void)state;
	char ini[512], db[512], log[512], buf[64];
	snprintf(ini, sizeof(ini), "%s", tmp_path("long.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("long.db"));
	snprintf(log, sizeof(log), "%s", tmp_path("long.out"));
	/* one epoch of several seconds on one thread, even on a fast AVX-512 core (with 512
	 * hidden units an AMD EPYC finished it inside the 2 s below); the run is killed
	 * long before it ends, so a longer epoch costs the test nothing */
	write_text(ini, "[alt]\ndataset = affine:d=4,D=256,n=40000,noise=0.01\nhidden = 4096\n"
			"epochs = 1\nbatch = 16\nstrategies = grid\ngrid = 4\n");
	setenv("DIMSEARCH_LEASE_S", "1", 1);
	pid_t pid = spawn_run(ini, db, log);
	unsetenv("DIMSEARCH_LEASE_S");
	int running = 0;
	for (int i = 0; i < 2000 && !running; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		running = access(db, F_OK) == 0 &&
			  !strcmp(scalar(db, "SELECT count(*) FROM sqlite_master WHERE name = "
					     "'trial'",
					 buf, sizeof(buf)),
				  "1") &&
			  !strcmp(scalar(db, "SELECT count(*) FROM trial WHERE state = 'running'",
					 buf, sizeof(buf)),
				  "1");
	}
	assert_true(running);
	sleep(2); /* twice the lease, and no epoch has ended */
	assert_string_equal(scalar(db, "SELECT count(*) FROM epoch", buf, sizeof(buf)), "0");
	const char *beat = scalar(db, "SELECT ((julianday('now') - 2440587.5) * 86400.0) - "
				      "heartbeat FROM trial",
				  buf, sizeof(buf));
	assert_true(beat[0] != '\0');
	double age = atof(beat);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	print_message("heartbeat %.2f s old, lease 1 s\n", age);
	assert_true(age >= 0 && age < 1.0);
}

static void test_a_deleted_database_is_a_failed_run(void **state)
{
	(void)state;
	char ini[512], db[512], log[512], buf[64];
	snprintf(ini, sizeof(ini), "%s", tmp_path("gone.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("gone.db"));
	snprintf(log, sizeof(log), "%s", tmp_path("gone.err"));
	write_config(ini, 20, "affine:d=3,D=32,n=3000,noise=0.02");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen(log, "w", stderr))
			_exit(126);
		execl(BIN, BIN, "run", "--config", ini, "--experiment", "alt", "--db", db,
		      "--threads", "1", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 3000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		if (access(db, F_OK) == 0 &&
		    !strcmp(scalar(db, "SELECT count(*) FROM sqlite_master WHERE name = 'epoch'",
				   buf, sizeof(buf)),
			    "1") &&
		    atoi(scalar(db, "SELECT count(*) FROM epoch", buf, sizeof(buf))) > 0)
			break;
	}
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "rm -f %s %s-wal %s-shm", db, db, db);
	must_run(cmd);
	int status;
	waitpid(pid, &status, 0);
	char *err = slurp(log, NULL);
	assert_non_null(err);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 1 || !strstr(err, "was deleted or replaced"))
		fail_msg("exit %d:\n%s", WEXITSTATUS(status), err);
	free(err);
	/* names that keep nothing are refused before anything runs */
	const char *nowhere[] = { ":memory:", "''", "file::memory:" };
	for (int i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment alt --db %s", ini,
			 nowhere[i]);
		assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
		assert_non_null(strstr(out, "is not a database file that keeps its results"));
	}
}

/* Values that parse but cannot give a result: refused with the key, before anything runs. */
static void test_values_that_cannot_work(void **state)
{
	(void)state;
	char ini[512], db[512], cmd[2048];
	snprintf(ini, sizeof(ini), "%s", tmp_path("cannot.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("cannot.db"));
	const char *cases[][2] = {
		{ "n_test = 0\n", "leaves no test examples" },
		{ "grid =\n", "grid: missing or empty" },
		{ "strategies = earlybird\neb.draws = 0\n", "eb.draws: 0 is out of range" },
	};
	for (int i = 0; i < 3; i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "[alt]\ndataset = affine:d=2,D=8,n=600\nhidden = 8\nepochs = 1\n"
			 "batch = 50\n%s%s",
			 strstr(cases[i][0], "strategies") ? "" : "strategies = grid\n", cases[i][0]);
		if (!strstr(cases[i][0], "grid ="))
			strcat(text, "grid = 1\n");
		write_text(ini, text);
		snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment alt --db %s", ini, db);
		assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
		if (!strstr(out, cases[i][1]))
			fail_msg("no '%s' in:\n%s", cases[i][1], out);
	}
	char buf[64];
	assert_true(access(db, F_OK) != 0 ||
		    !strcmp(scalar(db, "SELECT count(*) FROM trial", buf, sizeof(buf)), "0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alternating_configurations),
		cmocka_unit_test(test_two_configurations_at_once),
		cmocka_unit_test(test_rewritten_data_is_not_the_old_data),
		cmocka_unit_test(test_a_dead_owner_loses_its_trials_whatever_has_its_pid),
		cmocka_unit_test(test_the_lease_is_renewed_during_a_long_epoch),
		cmocka_unit_test(test_a_deleted_database_is_a_failed_run),
		cmocka_unit_test(test_values_that_cannot_work),
	};
	return cmocka_run_group_tests_name("current", tests, NULL, NULL);
}
