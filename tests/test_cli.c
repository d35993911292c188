/* test_cli.c: ./dimsearch as a user meets it: help, errors and exit codes, the JSON summary.
 * Run from the repository root, where make runs the tests. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIN "./dimsearch"

static char out[1 << 16];

static void test_help_lists_every_option_with_defaults(void **state)
{
	(void)state;
	assert_int_equal(run_command(BIN " --help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "train"));
	assert_int_equal(run_command(BIN " train --help", out, sizeof(out)), 0);
	const char *opts[] = { "--dataset", "--latent", "--hidden", "--epochs", "--batch", "--lr",
			       "--seed", "--n-train", "--threads", "--json", "(512,256)", "(256)",
			       "(0.001)" };
	for (size_t i = 0; i < sizeof(opts) / sizeof(*opts); i++)
		if (!strstr(out, opts[i]))
			fail_msg("train --help does not mention %s", opts[i]);
	assert_int_equal(run_command(BIN " --version", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "BLAS kernel:"));
}

static void test_bad_input_exits_2_with_a_message(void **state)
{
	(void)state;
	assert_int_equal(run_command(BIN " train --dataset affine --latent 3 --bogus", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "unknown option '--bogus'"));
	assert_int_equal(run_command(BIN " train --dataset affine --latent", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "needs a value"));
	assert_int_equal(run_command(BIN " train --dataset affine --latent 0", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--latent takes a whole number"));
	assert_int_equal(run_command(BIN " train --latent 3", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--dataset"));
	assert_int_equal(run_command(BIN " train --dataset idx:/no/such/images.gz --latent 3", out,
			     sizeof(out)),
			 2);
	assert_non_null(strstr(out, "cannot open /no/such/images.gz"));
	assert_null(strchr(strchr(out, '\n') + 1, '\n')); /* one line */
	assert_int_equal(run_command(BIN " train --dataset fashion-mnist:dir=/nowhere --latent 3", out,
			     sizeof(out)),
			 2);
	assert_non_null(strstr(out, "apt-get install dataset-fashion-mnist"));
	assert_int_equal(run_command(BIN " train --dataset mnist:dir=/nowhere --latent 3", out,
				     sizeof(out)),
			 2);
	assert_non_null(strstr(out, "cannot open /nowhere/0.json"));
	assert_non_null(strstr(out, "'make deps'"));
	assert_null(strchr(strchr(out, '\n') + 1, '\n')); /* one line */
	assert_int_equal(run_command(BIN " frobnicate", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "unknown command"));
	/* an experiment that is not in the file: the known ones are listed */
	assert_int_equal(run_command(BIN " run --experiment nope --db /tmp/unused.db", out,
				     sizeof(out)),
			 2);
	assert_non_null(strstr(out, "no experiment 'nope' in experiments.ini (known: quick, smoke"));
	assert_int_equal(run_command(BIN " run --experiment", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--experiment needs a value"));
	assert_int_equal(run_command(BIN " report --format xml", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--format takes table, csv or json"));
}

static void test_train_json_summary(void **state)
{
	(void)state;
	/* stdout alone holds the JSON and nothing else, progress and summary lines or not */
	assert_int_equal(run_command("{ " BIN " train --dataset affine:d=2,D=10,n=600 --latent 2 "
				     "--hidden 8 --epochs 2 --batch 32 --threads 1 --json "
				     "2>/dev/null; }",
			     out, sizeof(out)),
			 0);
	if (!json_valid(out))
		fail_msg("stdout of train --json is not one JSON value: %s", out);
	assert_int_equal(run_command(BIN " train --dataset affine:d=2,D=10,n=600 --latent 2 --hidden 8 "
				 "--epochs 2 --batch 32 --threads 1 --json --quiet",
			     out, sizeof(out)),
			 0);
	char *last = out + strlen(out) - 1;
	assert_true(*last == '\n');
	*last = '\0';
	char *json = strrchr(out, '\n');
	json = json ? json + 1 : out;
	assert_true(json[0] == '{' && json[strlen(json) - 1] == '}');
	const char *keys[] = { "\"latent\":2", "\"epochs\":2", "\"train_mse\":", "\"val_mse\":",
			       "\"test_mse\":", "\"flops_train_gemm\":", "\"flops_eval_gemm\":",
			       "\"flops_elementwise\":", "\"images_per_s\":", "\"seconds\":" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (!strstr(json, keys[i]))
			fail_msg("JSON lacks %s: %s", keys[i], json);
	/* D-8-2-8-D on 480 training rows, batches of 32, 2 epochs: the closed form */
	unsigned long long want = 0;
	int w[] = { 10, 8, 2, 8, 10 };
	for (int l = 0; l < 4; l++) {
		unsigned long long io = (unsigned long long)w[l] * w[l + 1];
		want += 2 * (2 * io + w[l + 1]) + (l > 0 ? 2 * io : 0);
	}
	want *= 480ull * 2;
	char expect[64];
	snprintf(expect, sizeof(expect), "\"flops_train_gemm\":%llu,", want);
	if (!strstr(json, expect))
		fail_msg("expected %s in %s", expect, json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_lists_every_option_with_defaults),
		cmocka_unit_test(test_bad_input_exits_2_with_a_message),
		cmocka_unit_test(test_train_json_summary),
	};
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
