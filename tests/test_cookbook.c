/* test_cookbook.c: every query of the README's "Ready to paste" block, taken from README.md
 * itself so that the two cannot drift, run with the sqlite3 shell on a database holding
 * several experiments: `quick` (an older configuration and the current one) and `other`,
 * with the same trial keys. Each query must give exactly what it gives on a copy holding the
 * current `quick` alone: a query that forgets to name its experiment, or reads the raw
 * tables without v_latest, mixes in rows it should not. Run from the repository root. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIN "./dimsearch"

static char out[1 << 16];
static char mixed[512], alone[512], work[512];

/* The same settings under two names, and an older configuration of quick (fewer epochs). */
#define SETTINGS                                                                             \
	"dataset = affine:d=3,D=20,n=600,noise=0.01\nhidden = 16\nbatch = 64\nk_max = 16\n"  \
	"grid = 1,2,16\nseeds = 1,2\nstrategies = grid, sosae\n"

static void run_config(const char *name, const char *text)
{
	char ini[512], cmd[2048];
	snprintf(ini, sizeof(ini), "%s", tmp_path(name));
	write_text(ini, text);
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment quick --experiment other "
				   "--db %s --quiet --threads 1",
		 ini, mixed);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
}

static int setup(void **state)
{
	(void)state;
	snprintf(mixed, sizeof(mixed), "%s", tmp_path("several.db"));
	snprintf(alone, sizeof(alone), "%s", tmp_path("quick-alone.db"));
	snprintf(work, sizeof(work), "%s", tmp_path("work"));
	run_config("old.ini", "[quick]\n" SETTINGS "epochs = 1\n[other]\n" SETTINGS "epochs = 1\n");
	run_config("new.ini", "[quick]\n" SETTINGS "epochs = 2\n[other]\n" SETTINGS "epochs = 2\n");
	/* a failed trial in every configuration, for the query of failures */
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 %s \"UPDATE trial SET state = 'failed', error = 'made to fail' WHERE "
		 "trial_key LIKE 'grid/K=2/%%'\" && cp %s %s && sqlite3 %s \"PRAGMA "
		 "foreign_keys = OFF; CREATE TEMP TABLE keep AS SELECT experiment_id AS id FROM "
		 "v_latest WHERE name = 'quick'; DELETE FROM epoch WHERE trial_id IN (SELECT id "
		 "FROM trial WHERE experiment_id NOT IN keep); DELETE FROM latent_activity WHERE "
		 "trial_id IN (SELECT id FROM trial WHERE experiment_id NOT IN keep); DELETE FROM "
		 "trial WHERE experiment_id NOT IN keep; DELETE FROM decision WHERE experiment_id "
		 "NOT IN keep; DELETE FROM experiment WHERE id NOT IN keep;\" && mkdir -p %s",
		 mixed, mixed, alone, alone, work);
	return run_command(cmd, out, sizeof(out)) == 0 ? 0 : -1;
}

/* The README's block after "Ready to paste", its lines without the fences (free it). */
static char *cookbook(void)
{
	char *readme = slurp("README.md", NULL);
	assert_non_null(readme);
	const char *at = strstr(readme, "Ready to paste");
	assert_non_null(at);
	at = strstr(at, "```sh\n");
	assert_non_null(at);
	at += strlen("```sh\n");
	const char *end = strstr(at, "```");
	assert_non_null(end);
	char *block = strndup(at, (size_t)(end - at));
	free(readme);
	return block;
}

/* cmd with every results/dimsearch.db replaced by db, run in the scratch folder (a query
 * that writes a file writes it there, and the file's text is added to the output) */
static int run_on(const char *cmd, const char *db, char *output, size_t size)
{
	static char text[16384];
	size_t n = 0;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "cd '%s' && rm -f ./*.csv && { ", work);
	for (const char *c = cmd; *c && n + 600 < sizeof(text);) {
		if (!strncmp(c, "results/dimsearch.db", 20)) {
			n += (size_t)snprintf(text + n, sizeof(text) - n, "'%s'", db);
			c += 20;
		} else {
			text[n++] = *c++;
		}
	}
	snprintf(text + n, sizeof(text) - n, "\n} && cat ./*.csv 2>/dev/null; true");
	return run_command(text, output, size);
}

static void test_each_query_names_its_experiment(void **state)
{
	(void)state;
	char *block = cookbook();
	static char got_mixed[1 << 16], got_alone[1 << 16];
	char cmd[8192];
	int queries = 0;
	/* a command: from a line starting "sqlite3" to the next comment or command */
	for (char *line = block; line && *line;) {
		char *next = strchr(line, '\n');
		if (strncmp(line, "sqlite3 ", 8)) {
			line = next ? next + 1 : NULL;
			continue;
		}
		size_t len = 0;
		char *end = line;
		while (end && *end) {
			char *nl = strchr(end, '\n');
			char *after = nl ? nl + 1 : end + strlen(end);
			if (end != line && (*end == '#' || !strncmp(end, "sqlite3 ", 8)))
				break;
			end = after;
		}
		len = (size_t)(end - line);
		assert_true(len < sizeof(cmd));
		memcpy(cmd, line, len);
		cmd[len] = '\0';
		int rc = run_on(cmd, mixed, got_mixed, sizeof(got_mixed));
		if (rc != 0)
			fail_msg("the README's query\n%s\nexited %d:\n%s", cmd, rc, got_mixed);
		rc = run_on(cmd, alone, got_alone, sizeof(got_alone));
		if (rc != 0)
			fail_msg("the README's query\n%s\nexited %d:\n%s", cmd, rc, got_alone);
		if (strcmp(got_mixed, got_alone))
			fail_msg("the README's query\n%s\ngives, on a database of several "
				 "experiments,\n%s\nbut on quick alone\n%s",
				 cmd, got_mixed, got_alone);
		if (!got_alone[0] || strstr(got_alone, "Error"))
			fail_msg("the README's query\n%s\ngives nothing on quick:\n%s", cmd,
				 got_alone);
		queries++;
		line = end;
	}
	free(block);
	/* the block was found and read: as many queries as it holds today, or more */
	assert_true(queries >= 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_query_names_its_experiment),
	};
	return cmocka_run_group_tests_name("cookbook", tests, setup, NULL);
}
