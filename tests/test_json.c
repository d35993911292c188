/* test_json.c: every JSON line dimsearch prints parses as JSON, whatever the names, paths
 * and stored values (quotes, backslashes, control characters, bytes that are not UTF-8,
 * NaN and text where numbers belong); and the reader the test uses rejects what is not. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIN "./dimsearch"

static char out[1 << 16];

/* Every non-empty line of text is one JSON value; at least min of them. */
static void each_line_is_json(const char *text, int min)
{
	char *copy = strdup(text);
	int n = 0;
	for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++)
		if (!json_valid(line))
			fail_msg("not JSON: %s", line);
	free(copy);
	if (n < min)
		fail_msg("%d JSON lines, expected at least %d:\n%s", n, min, text);
}

static void test_the_reader_is_strict(void **state)
{
	(void)state;
	const char *good[] = { "{}", "[]", "{\"a\":[1,-0.5,2e-3,true,null,\"\\u00e9\\n\"]}",
			       " \"caf\xc3\xa9\" ", "0" };
	const char *bad[] = { "{\"a\":nan}", "{\"a\":inf}", "{\"a\":1.}", "{\"a\":0x10}",
			      "{\"a\":01}", "\"a\"b\"", "\"\x01\"", "\"\xff\"", "{\"a\":1,}",
			      "{\"a\" 1}", "[1 2]", "", "{\"a\":1}}" };
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		if (!json_valid(good[i]))
			fail_msg("rejected: %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (json_valid(bad[i]))
			fail_msg("accepted: %s", bad[i]);
}

/* A CSV file whose path holds a quote, a backslash and a byte that is not UTF-8. */
static const char *awkward_csv(void)
{
	static char path[600];
	snprintf(path, sizeof(path), "%s", tmp_path("we\"ird\\n\xff.csv"));
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fprintf(f, "%d,%d,%g\n", i % 7, i % 3, 0.01 * i);
	fclose(f);
	return path;
}

static void test_id_and_train(void **state)
{
	(void)state;
	const char *csv = awkward_csv();
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), BIN " id --dataset 'csv:%s' --json --k 5", csv);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	each_line_is_json(out, 3);
	assert_non_null(strstr(out, "we\\\"ird\\\\n\\ufffd.csv"));
	snprintf(cmd, sizeof(cmd),
		 BIN " train --dataset 'csv:%s' --latent 2 --hidden 4 --epochs 1 --json --quiet "
		     "| tail -n 1",
		 csv);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	each_line_is_json(out, 1);
}

static void test_report_with_awkward_values(void **state)
{
	(void)state;
	const char *csv = awkward_csv();
	char ini[512], db[512], cmd[4096];
	snprintf(ini, sizeof(ini), "%s", tmp_path("json.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("json.db"));
	char text[1024];
	snprintf(text, sizeof(text),
		 "[json]\ndataset = csv:%s\nhidden = 4\nepochs = 1\nbatch = 50\n"
		 "strategies = grid, sosae\ngrid = 1,2\nsosae.finetune = 0\n",
		 csv);
	write_text(ini, text);
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment json --db %s --quiet", ini,
		 db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	/* what a database may hold: NaN (NULL), text where numbers belong, control bytes and
	 * bytes that are not UTF-8 in names */
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 %s \"UPDATE decision SET test_mse = NULL WHERE strategy = 'grid'; "
		 "UPDATE decision SET probe_accuracy = 'nan', seconds = 'inf' WHERE strategy = "
		 "'sosae'; UPDATE experiment SET dataset = dataset || char(9, 34, 10) || "
		 "CAST(X'FF' AS TEXT)\"",
		 db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --format json", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	each_line_is_json(out, 2);
	assert_non_null(strstr(out, "\"test_mse\":null"));
	assert_non_null(strstr(out, ".csv\\u0009\\\"\\u000a\\ufffd\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_reader_is_strict),
		cmocka_unit_test(test_id_and_train),
		cmocka_unit_test(test_report_with_awkward_values),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
