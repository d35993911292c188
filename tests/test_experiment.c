/* test_experiment.c: experiments.ini parsing: values, defaults, identity, and every kind of
 * mistake reported with its line, all at once. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../search/experiment.h"
#include "../search/grid.h"
#include "../strategies.h"

static const struct grid_settings *grid_of(const struct experiment *e)
{
	return experiment_settings(e, &grid_settings);
}

static struct experiment_file load(const char *text, int expect_ok)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("exp.ini"));
	write_text(path, text);
	struct experiment_file f;
	int rc = experiments_load(&f, path, dimsearch_strategies());
	if (expect_ok && rc)
		fail_msg("unexpected errors:\n%s", f.errors);
	if (!expect_ok)
		assert_int_equal(rc, -1);
	return f;
}

/* The error list holds a line for LINE that contains `what`. */
static void expect_error(const struct experiment_file *f, int line, const char *what)
{
	char head[64];
	snprintf(head, sizeof(head), "exp.ini:%d: ", line);
	for (const char *p = f->errors; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char row[2048];
		snprintf(row, sizeof(row), "%.*s", (int)len, p);
		if (strstr(row, head) && strstr(row, what))
			return;
		p = end ? end + 1 : p + len;
	}
	fail_msg("no error on line %d containing '%s' in:\n%s", line, what,
		 f->errors ? f->errors : "(none)");
}

static void test_valid_file_and_defaults(void **state)
{
	(void)state;
	struct experiment_file f = load("; a comment\n"
					"[alpha]\n"
					"dataset = affine:d=3,D=16,n=500\n"
					"  strategies = grid   ; indented, with an inline comment\n"
					"grid = 1..9 step 2\n"
					"seeds = 3,5\n"
					"grid.select = knee\n"
					"\n"
					"[beta]\n"
					"dataset = fashion-mnist\n"
					"strategies = grid\n"
					"grid = 2, 4,8\n"
					"hidden = none\n"
					"lr = 3e-4\n",
					1);
	assert_int_equal(f.n_exp, 2);
	const struct experiment *a = experiments_find(&f, "alpha");
	assert_non_null(a);
	assert_int_equal(grid_of(a)->n, 5);
	int want[] = { 1, 3, 5, 7, 9 };
	for (int i = 0; i < 5; i++)
		assert_int_equal(grid_of(a)->K[i], want[i]);
	assert_int_equal(a->n_seeds, 2);
	assert_int_equal(a->seeds[1], 5);
	assert_int_equal(grid_of(a)->select, SELECT_KNEE);
	assert_int_equal(a->k_max, 9); /* defaults to the largest grid value */
	assert_int_equal(a->epochs, 10);
	assert_int_equal(a->batch, 256);
	assert_int_equal(a->n_hidden, 2);
	assert_int_equal(a->hidden[0], 512);
	assert_int_equal(a->line, 2);
	const struct experiment *b = experiments_find(&f, "beta");
	assert_int_equal(grid_of(b)->n, 3);
	assert_int_equal(b->n_hidden, 0);
	assert_float_equal(b->lr, 3e-4, 1e-12);
	assert_int_equal(grid_of(b)->select, SELECT_WITHIN);
	assert_float_equal(grid_of(b)->tolerance, 0.05, 1e-12);
	assert_string_not_equal(a->hash, b->hash);
	assert_null(experiments_find(&f, "gamma"));
	experiments_free(&f);
}

static void test_identity_ignores_comments_and_description(void **state)
{
	(void)state;
	struct experiment_file f1 = load("[x]\ndataset = affine\nstrategies = grid\ngrid = 1..3\n",
					 1);
	struct experiment_file f2 = load("[x]\n; note\ndescription = hello\ndataset = affine\n"
					 "strategies = grid ; why\ngrid = 1..3\n",
					 1);
	struct experiment_file f3 = load("[x]\ndataset = affine\nstrategies = grid\ngrid = 1..3\n"
					 "epochs = 11\n",
					 1);
	struct experiment_file f4 = load("[x]\ndataset = affine\nstrategies = grid, sosae\n"
					 "grid = 1..5\nsosae.tau = 0.5\n",
					 1);
	assert_string_equal(f1.exp[0].hash, f2.exp[0].hash);
	assert_string_not_equal(f1.exp[0].hash, f3.exp[0].hash);
	/* a strategy's settings and the list of widths are not the shared identity */
	assert_string_equal(f1.exp[0].hash, f4.exp[0].hash);
	assert_non_null(strstr(f4.exp[0].config, "sosae.tau = 0.5\n"));
	experiments_free(&f4);
	assert_non_null(strstr(f3.exp[0].config, "epochs = 11\n"));
	experiments_free(&f1);
	experiments_free(&f2);
	experiments_free(&f3);
}

static void test_long_line_beyond_inih_limit(void **state)
{
	(void)state;
	char text[8192] = "[wide]\ndataset = affine\nstrategies = grid\ngrid = 1";
	for (int k = 2; k <= 400; k++) {
		char num[16];
		snprintf(num, sizeof(num), ",%d", k);
		strcat(text, num);
	}
	strcat(text, " ; inline comment\nepochs = 3\n");
	assert_true(strlen(text) > 1000);
	struct experiment_file f = load(text, 1);
	assert_int_equal(grid_of(&f.exp[0])->n, 400);
	assert_int_equal(grid_of(&f.exp[0])->K[399], 400);
	assert_int_equal(f.exp[0].epochs, 3);
	experiments_free(&f);
}

/* A misspelt key names the key meant; a number out of range names the range allowed. */
static void test_typo_suggests_the_key_and_range_names_its_bounds(void **state)
{
	(void)state;
	struct experiment_file f = load("[t]\n"                   /* 1 */
					"dataset = affine\n"      /* 2 */
					"strategies = grid\n"     /* 3 */
					"grid = 1..4\n"           /* 4 */
					"epoch = 3\n"             /* 5 */
					"sosae.lamda = 0.1\n"     /* 6 */
					"lr = 1e25\n"             /* 7 */
					"batch = 0\n",            /* 8 */
					0);
	expect_error(&f, 5, "[t] epoch: unknown key; did you mean 'epochs'?");
	expect_error(&f, 6, "[t] sosae.lamda: unknown key; did you mean 'sosae.lambda'?");
	expect_error(&f, 7, "[t] lr: 1e25 is out of range: allowed 1e-12 to 1000");
	expect_error(&f, 8, "[t] batch: 0 is out of range: allowed 1 to ");
	/* no long list of every key in any message */
	assert_null(strstr(f.errors, "known:"));
	experiments_free(&f);
}

static void test_every_mistake_at_once_with_lines(void **state)
{
	(void)state;
	struct experiment_file f = load("orphan = 1\n"                        /* 1 */
					"[bad]\n"                             /* 2 */
					"dataset = affine\n"                  /* 3 */
					"strategies = grid, magic\n"          /* 4 */
					"epochs = ten\n"                      /* 5 */
					"lr = -1\n"                           /* 6 */
					"batch = 0\n"                         /* 7 */
					"colour = blue\n"                     /* 8 */
					"dataset = sphere\n"                  /* 9 */
					"grid = 8..2\n"                       /* 10 */
					"this line has no equals sign\n"      /* 11 */
					"[missing]\n"                         /* 12 */
					"grid = 1..80\n"                      /* 13 */
					"k_max = 64\n"                        /* 14 */
					"[nogrid]\n"                          /* 15 */
					"dataset = affine\n"                  /* 16 */
					"strategies =\n"                      /* 17 */
					"chunks = 9\n"                        /* 18 */
					"batch = 4\n"                         /* 19 */
					"grid.select = median\n"              /* 20 */
					"[bad name!]\n"                       /* 21 */
					"dataset = affine\n",                 /* 22 */
					0);
	expect_error(&f, 1, "start one with [name]");
	expect_error(&f, 4, "unknown strategy 'magic'");
	expect_error(&f, 5, "[bad] epochs: 'ten' is not a whole number");
	expect_error(&f, 6, "[bad] lr: -1 is out of range: allowed ");
	expect_error(&f, 7, "[bad] batch: 0 is out of range");
	expect_error(&f, 8, "[bad] colour: unknown key (README.md");
	expect_error(&f, 9, "duplicate key (first set on line 3)");
	expect_error(&f, 10, "the range 8..2 is empty");
	expect_error(&f, 11, "expected 'key = value'");
	expect_error(&f, 12, "[missing] dataset: missing required key");
	expect_error(&f, 12, "[missing] strategies: missing required key");
	expect_error(&f, 13, "[missing] grid: 80 exceeds k_max = 64");
	expect_error(&f, 17, "[nogrid] strategies: the list is empty");
	expect_error(&f, 18, "[nogrid] chunks: 9 exceeds batch = 4");
	expect_error(&f, 20, "[nogrid] grid.select: 'median' is not");
	expect_error(&f, 22, "experiment names use letters");
	assert_true(f.n_errors >= 16);
	experiments_free(&f);
	/* a file that is not there */
	assert_int_equal(experiments_load(&f, "/no/such/experiments.ini", dimsearch_strategies()), -1);
	assert_non_null(strstr(f.errors, "/no/such/experiments.ini: cannot open"));
	experiments_free(&f);
}

static void test_int_lists(void **state)
{
	(void)state;
	long v[16];
	char why[256];
	assert_int_equal(parse_int_list("1..10 step 3", 1, 100, v, 16, why, sizeof(why)), 4);
	assert_int_equal(v[3], 10);
	assert_int_equal(parse_int_list("5", 1, 100, v, 16, why, sizeof(why)), 1);
	assert_int_equal(parse_int_list("4,2", 1, 100, v, 16, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "ascending"));
	assert_int_equal(parse_int_list("0..3", 1, 100, v, 16, why, sizeof(why)), -1);
	assert_int_equal(parse_int_list("1..3 stride 1", 1, 100, v, 16, why, sizeof(why)), -1);
	assert_int_equal(parse_int_list("1..100", 1, 100, v, 16, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "more than 16"));
}

/* Ranges at the edge of a long, and numbers beyond it, as values or as errors, never as
 * overflow. */
static void test_int_lists_at_the_limits(void **state)
{
	(void)state;
	long v[4];
	char why[256];
	assert_int_equal(parse_int_list("9223372036854775806..9223372036854775807", 0, INT64_MAX,
					v, 4, why, sizeof(why)),
			 2);
	assert_true(v[1] == INT64_MAX);
	assert_int_equal(parse_int_list("9223372036854775800..9223372036854775807 step 5", 0,
					INT64_MAX, v, 4, why, sizeof(why)),
			 2);
	assert_true(v[1] == INT64_MAX - 2);
	assert_int_equal(parse_int_list("1..99999999999999999999", 0, INT64_MAX, v, 4, why,
					sizeof(why)),
			 -1);
	assert_int_equal(parse_int_list("1..9 step 99999999999999999999", 0, INT64_MAX, v, 4, why,
					sizeof(why)),
			 -1);
	assert_int_equal(parse_int_list("99999999999999999999", 0, INT64_MAX, v, 4, why,
					sizeof(why)),
			 -1);
}

/* A byte-order mark at the start of the file is no part of the first line. */
static void test_byte_order_mark(void **state)
{
	(void)state;
	struct experiment_file f = load("\xEF\xBB\xBF[bom]\ndataset = affine\nstrategies = grid\n"
					"grid = 1,2\n",
					1);
	assert_int_equal(f.n_exp, 1);
	assert_string_equal(f.exp[0].name, "bom");
	experiments_free(&f);
}

static void test_grid_choice_rules(void **state)
{
	(void)state;
	int K[] = { 1, 2, 4, 8, 16, 32 };
	double val[] = { 1.0, 0.5, 0.2, 0.104, 0.101, 0.100 };
	assert_int_equal(grid_choose(K, val, 6, SELECT_WITHIN, 0.05), 3);  /* 0.104 <= 0.105 */
	assert_int_equal(grid_choose(K, val, 6, SELECT_WITHIN, 0.0), 5);
	assert_int_equal(grid_choose(K, val, 6, SELECT_WITHIN, 0.01), 4);
	/* knee: normalised, (1 - x) - y is largest at K = 4: x = 3/31, y = 0.1/0.9 */
	assert_int_equal(grid_choose(K, val, 6, SELECT_KNEE, 0), 2);
	double failed[] = { NAN, 0.5, NAN, 0.3, NAN, NAN };
	assert_int_equal(grid_choose(K, failed, 6, SELECT_WITHIN, 0.05), 3);
	double none[] = { NAN, NAN };
	assert_int_equal(grid_choose(K, none, 2, SELECT_WITHIN, 0.05), -1);
}

/* scale: resolved by the dataset's kind when not given, part of the identity when it is not
 * none (so that a changed scaling never reuses trials of the other), and a bad value named
 * with its line and the values allowed. */
static void test_scale_key(void **state)
{
	(void)state;
	struct experiment_file plain = load("[x]\ndataset = affine\nstrategies = grid\n"
					    "grid = 1..3\n",
					    1);
	struct experiment_file none = load("[x]\ndataset = affine\nscale = none\n"
					   "strategies = grid\ngrid = 1..3\n",
					   1);
	struct experiment_file z = load("[x]\ndataset = affine\nscale = zscore\n"
					"strategies = grid\ngrid = 1..3\n",
					1);
	struct experiment_file mm = load("[x]\ndataset = affine\nscale = minmax\n"
					 "strategies = grid\ngrid = 1..3\n",
					 1);
	assert_int_equal(plain.exp[0].scale, SCALE_NONE);
	assert_int_equal(z.exp[0].scale, SCALE_ZSCORE);
	assert_int_equal(mm.exp[0].scale, SCALE_MINMAX);
	/* none is the data as before the key: the same identity as an experiment without it */
	assert_string_equal(plain.exp[0].hash, none.exp[0].hash);
	assert_string_not_equal(plain.exp[0].hash, z.exp[0].hash);
	assert_string_not_equal(plain.exp[0].hash, mm.exp[0].hash);
	assert_string_not_equal(z.exp[0].hash, mm.exp[0].hash);
	assert_non_null(strstr(plain.exp[0].config, "scale = none\n"));
	assert_non_null(strstr(z.exp[0].config, "scale = zscore\n"));
	experiments_free(&plain);
	experiments_free(&none);
	experiments_free(&z);
	experiments_free(&mm);

	/* csv data defaults to zscore, and says so in its record; naming it changes nothing */
	struct experiment_file csv = load("[c]\ndataset = csv:/tmp/x.csv\nstrategies = grid\n"
					  "grid = 1..3\n",
					  1);
	struct experiment_file csv_z = load("[c]\ndataset = csv:/tmp/x.csv\nscale = zscore\n"
					    "strategies = grid\ngrid = 1..3\n",
					    1);
	struct experiment_file csv_raw = load("[c]\ndataset = csv:/tmp/x.csv\nscale = none\n"
					      "strategies = grid\ngrid = 1..3\n",
					      1);
	assert_int_equal(csv.exp[0].scale, SCALE_ZSCORE);
	assert_int_equal(csv_raw.exp[0].scale, SCALE_NONE);
	assert_non_null(strstr(csv.exp[0].config, "scale = zscore\n"));
	assert_string_equal(csv.exp[0].hash, csv_z.exp[0].hash);
	assert_string_not_equal(csv.exp[0].hash, csv_raw.exp[0].hash);
	experiments_free(&csv);
	experiments_free(&csv_z);
	experiments_free(&csv_raw);

	struct experiment_file bad = load("[x]\ndataset = affine\nstrategies = grid\n"
					  "grid = 1..3\nscale = standard\n",
					  0);
	expect_error(&bad, 5, "[x] scale: 'standard' is not auto, none, minmax or zscore");
	experiments_free(&bad);
}

/* k_max's source in the defaults shown at a run's start: given, the grid's, or 64. */
static void test_defaults_name_k_max_and_unset_keys(void **state)
{
	(void)state;
	struct experiment_file f = load("[given]\ndataset = affine\nstrategies = grid\n"
					"grid = 1..3\nk_max = 8\n"
					"[from_grid]\ndataset = csv:/tmp/x.csv\nstrategies = grid, bisect\n"
					"grid = 1..5\ngrid.select = knee\n"
					"[none]\ndataset = affine\nscale = minmax\nstrategies = nested\n",
					1);
	const char *given = experiments_find(&f, "given")->defaults;
	const char *grid = experiments_find(&f, "from_grid")->defaults;
	const char *none = experiments_find(&f, "none")->defaults;
	assert_non_null(strstr(given, "[given] k_max = 8 (given); scale = none (default for "
				      "affine data)\n"));
	assert_non_null(strstr(grid, "[from_grid] k_max = 5 (the largest grid value); scale = "
				     "zscore (default for csv data)\n"));
	assert_null(strstr(grid, "grid.select")); /* set */
	assert_null(strstr(grid, "halving."));    /* halving does not run */
	assert_non_null(strstr(none, "[none] k_max = 64 (default: no grid given)\n"));
	assert_non_null(strstr(none, "nested.p = 0 (2 / k_max)"));
	assert_null(strstr(none, "SOSAE")); /* a table no strategy of it reads */
	experiments_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_file_and_defaults),
		cmocka_unit_test(test_identity_ignores_comments_and_description),
		cmocka_unit_test(test_long_line_beyond_inih_limit),
		cmocka_unit_test(test_every_mistake_at_once_with_lines),
		cmocka_unit_test(test_typo_suggests_the_key_and_range_names_its_bounds),
		cmocka_unit_test(test_int_lists),
		cmocka_unit_test(test_int_lists_at_the_limits),
		cmocka_unit_test(test_byte_order_mark),
		cmocka_unit_test(test_grid_choice_rules),
		cmocka_unit_test(test_scale_key),
		cmocka_unit_test(test_defaults_name_k_max_and_unset_keys),
	};
	return cmocka_run_group_tests_name("experiment", tests, NULL, NULL);
}
