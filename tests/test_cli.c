/* test_cli.c: ./dimsearch as a user meets it: help, errors and exit codes, the JSON summary.
 * Run from the repository root, where make runs the tests. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	/* the share of the training time in sgemm: a fraction, and not nothing (every step
	 * runs GEMMs) */
	const char *share = strstr(json, "\"train_sgemm_share\":");
	if (!share)
		fail_msg("JSON lacks train_sgemm_share: %s", json);
	double f = atof(share + strlen("\"train_sgemm_share\":"));
	if (!(f > 0.0 && f <= 1.0))
		fail_msg("train_sgemm_share %g is not in (0, 1]: %s", f, json);
}

/* A CSV of raw numbers (a Swiss roll: |x| up to 14, height 0..21) runs zscore'd by default:
 * the table names the scaling and its MSE is in those units (predicting the mean costs 1);
 * scale = none is a new experiment beside it, in raw units; a bad value exits 2 naming the
 * file, the line and the values allowed. */
static void test_scale_of_csv_data(void **state)
{
	(void)state;
	char csv[512], ini[512], db[512], cmd[2048], text[4096];
	snprintf(csv, sizeof(csv), "%s", tmp_path("roll.csv"));
	snprintf(ini, sizeof(ini), "%s", tmp_path("scale.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("scale.db"));
	unlink(db);
	FILE *f = fopen(csv, "w");
	assert_non_null(f);
	fputs("x,y,z\n", f);
	for (int i = 0; i < 600; i++) {
		double t = 4.712 + 9.425 * ((i * 37 % 600) / 600.0), h = 21.0 * ((i * 101 % 600) / 600.0);
		fprintf(f, "%.5f,%.5f,%.5f\n", t * cos(t), h, t * sin(t));
	}
	fclose(f);
	const char *body = "hidden = 16\nepochs = 5\nbatch = 32\nlr = 0.003\n"
			   "strategies = grid\ngrid = 1..2\n";
	snprintf(text, sizeof(text), "[roll]\ndataset = csv:%s\n%s[raw]\ndataset = csv:%s\n"
		 "scale = none\n%s", csv, body, csv, body);
	write_text(ini, text);
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment roll --db %s --threads 1", ini,
		 db);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	assert_non_null(strstr(out, "experiment roll: csv:"));
	assert_non_null(strstr(out, ", scaled by zscore fitted on the training split\n"));
	assert_non_null(strstr(out, "test MSE, zscore units (vs grid)"));
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment raw --db %s --threads 1 --quiet",
		 ini, db);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	assert_null(strstr(out, "scaled by"));
	assert_null(strstr(out, "units (vs grid)"));
	char *z = db_dump(db, "SELECT d.test_mse FROM decision d JOIN experiment e ON "
			      "e.id = d.experiment_id WHERE e.name = 'roll'");
	char *raw = db_dump(db, "SELECT d.test_mse FROM decision d JOIN experiment e ON "
				"e.id = d.experiment_id WHERE e.name = 'raw'");
	if (!(atof(z) > 0 && atof(z) < 1.5 && atof(raw) > 5))
		fail_msg("test MSE zscore'd %s, raw %s", z, raw);
	free(z);
	free(raw);

	snprintf(text, sizeof(text), "[roll]\ndataset = csv:%s\nscale = standard\n%s", csv, body);
	write_text(ini, text);
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment roll --db %s", ini, db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	snprintf(text, sizeof(text), "%s:3: [roll] scale: 'standard' is not auto, none, minmax or "
		 "zscore", ini);
	if (!strstr(out, text))
		fail_msg("expected '%s' in:\n%s", text, out);
}

/* Before a run trains, stderr shows k_max and where it came from, the scaling auto chose,
 * and each setting the file left to its default (not with --quiet). */
static void test_run_prints_its_defaults(void **state)
{
	(void)state;
	char ini[512], db[512], cmd[2048];
	snprintf(ini, sizeof(ini), "%s", tmp_path("defaults.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("defaults.db"));
	write_text(ini, "[nogrid]\ndataset = affine:d=2,D=6,n=400\nhidden = 8\nepochs = 2\n"
			"batch = 32\nstrategies = sosae\nsosae.alpha = 0.3\n");
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment nogrid --db %s --threads 1",
		 ini, db);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	const char *want[] = { "[nogrid] k_max = 64 (default: no grid given); scale = none "
			       "(default for affine data)\n",
			       "[nogrid] SOSAE defaults: sosae.lambda = ",
			       ", sosae.tau = 0 (an exact (lossless) cut), " };
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		if (!strstr(out, want[i]))
			fail_msg("expected '%s' in:\n%s", want[i], out);
	assert_null(strstr(out, "sosae.alpha ="));  /* set in the file */
	assert_null(strstr(out, "halving.eta"));    /* no strategy of this run reads it */
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment nogrid --db %s --quiet", ini,
		 db);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	assert_null(strstr(out, "k_max = 64"));
	assert_null(strstr(out, "defaults:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_lists_every_option_with_defaults),
		cmocka_unit_test(test_bad_input_exits_2_with_a_message),
		cmocka_unit_test(test_train_json_summary),
		cmocka_unit_test(test_scale_of_csv_data),
		cmocka_unit_test(test_run_prints_its_defaults),
	};
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
