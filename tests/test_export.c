/* test_export.c: the models a run delivers: kept beside the database (the others pruned),
 * exported as the file that was kept, measuring again to the decision's test MSE on data
 * scaled by the scaling it carries, and encode's codes in the rows' order. Run from the
 * repository root. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/err.h"
#include "../core/model_io.h"
#include "../core/train.h"

#define BIN "./dimsearch"

static char out[1 << 16];
static char csv[512], ini[512], db[512], spec[600];

/* A Swiss roll in raw units (zscore'd by default as csv data), grid 1..2 and SOSAE. */
static int setup(void **state)
{
	(void)state;
	snprintf(csv, sizeof(csv), "%s", tmp_path("roll.csv"));
	snprintf(ini, sizeof(ini), "%s", tmp_path("export.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("export.db"));
	snprintf(spec, sizeof(spec), "csv:%s", csv);
	FILE *f = fopen(csv, "w");
	assert_non_null(f);
	for (int i = 0; i < 500; i++) {
		double t = 4.712 + 9.425 * ((i * 37 % 500) / 500.0), h = 21.0 * ((i * 101 % 500) / 500.0);
		fprintf(f, "%.5f,%.5f,%.5f\n", t * cos(t), h, t * sin(t));
	}
	fclose(f);
	char text[2048];
	snprintf(text, sizeof(text),
		 "[roll]\ndataset = %s\nhidden = 16\nepochs = 4\nbatch = 32\nlr = 0.003\n"
		 "strategies = grid, sosae\ngrid = 1..2\nsosae.finetune = 2\n",
		 spec);
	write_text(ini, text);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment roll --db %s --threads 1 --quiet",
		 ini, db);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	return 0;
}

static void test_export_is_the_delivered_model(void **state)
{
	(void)state;
	char cmd[2048], npz[512];
	snprintf(npz, sizeof(npz), "%s", tmp_path("grid.npz"));
	snprintf(cmd, sizeof(cmd), BIN " export --db %s --experiment roll --strategy grid --seed 1 --out %s",
		 db, npz);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	assert_non_null(strstr(out, "the model grid delivered for [roll] seed 1"));
	/* only the delivered models are kept: one per strategy and seed */
	snprintf(cmd, sizeof(cmd), "ls %s.models/*/ | sort", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	int files = 0;
	for (const char *p = out; (p = strstr(p, ".npz")); p++)
		files++;
	assert_int_equal(files, 2);
	assert_non_null(strstr(out, "delivered.tsv"));

	struct model_scaling sc;
	char meta[8192];
	struct ae *m = ae_load_npz(npz, &sc, meta, sizeof(meta));
	if (!m)
		fail_msg("%s", ds_errmsg());
	assert_int_equal(sc.scale, SCALE_ZSCORE);
	assert_non_null(strstr(meta, "\"scale\":\"zscore\""));
	assert_non_null(strstr(meta, "\"experiment\":\"roll\""));
	assert_int_equal(m->arch.output_act, ACT_IDENTITY); /* zscore'd data: a linear output */
	/* the experiment's test split, scaled by the model's own statistics: the decision's MSE */
	struct data_opts o;
	data_opts_defaults(&o);
	struct dataset d;
	assert_int_equal(dataset_load(&d, spec, &o), 0);
	assert_int_equal(dataset_apply_scale(&d, sc.scale, sc.shift, sc.spread), 0);
	struct flops f = { 0 };
	double mse = ae_eval_mse(m, &d.test, 1, &f);
	char *stored = db_dump(db, "SELECT printf('%.17g', test_mse) FROM decision WHERE "
				   "strategy = 'grid'");
	if (fabs(mse - atof(stored)) > 1e-12 * fabs(mse))
		fail_msg("test MSE of the exported model %.17g, of the decision %s", mse, stored);
	free(stored);
	dataset_free(&d);

	/* encode: every row in file order, by the model's scaling */
	char codes[512];
	snprintf(codes, sizeof(codes), "%s", tmp_path("codes.csv"));
	snprintf(cmd, sizeof(cmd), BIN " encode --model %s --dataset %s --out %s --threads 1", npz,
		 spec, codes);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	o.keep_order = 1;
	o.n_val = 0;
	o.n_test = 0;
	assert_int_equal(dataset_load(&d, spec, &o), 0);
	assert_int_equal(d.train.n, 500);
	assert_int_equal(dataset_apply_scale(&d, sc.scale, sc.shift, sc.spread), 0);
	int K = m->arch.latent;
	float *want = malloc(sizeof(float) * 500 * (size_t)K);
	assert_int_equal(ae_encode(m, &d.train, 1, want, NULL, &f), 0);
	size_t size;
	char *text = slurp(codes, &size);
	char *line = strchr(text, '\n');
	assert_non_null(line);
	assert_true(!strncmp(text, "z1", 2));
	int rows = 0;
	for (char *p = line + 1; *p; rows++) {
		for (int k = 0; k < K; k++) {
			char *end;
			double v = strtod(p, &end);
			assert_true(end != p);
			if (fabs(v - want[rows * K + k]) > 1e-6)
				fail_msg("row %d code %d: %g, not %g", rows, k, v,
					 (double)want[rows * K + k]);
			p = end + 1;
		}
	}
	assert_int_equal(rows, 500);
	free(text);
	free(want);
	dataset_free(&d);
	model_scaling_free(&sc);
	ae_delete(m);
}

static void test_mistakes_exit_2_with_what_exists(void **state)
{
	(void)state;
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), BIN " export --db %s --experiment roll --strategy vae --out %s",
		 db, tmp_path("x.npz"));
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "[roll] no delivered model of vae (there are: grid seed 1, sosae "
				    "seed 1)"));
	snprintf(cmd, sizeof(cmd), BIN " export --db %s --experiment nope --strategy grid --out %s",
		 db, tmp_path("x.npz"));
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "no experiment 'nope' in"));
	snprintf(cmd, sizeof(cmd), BIN " export --db %s --strategy grid", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "export needs --experiment NAME"));
	char npz[512];
	snprintf(npz, sizeof(npz), "%s", tmp_path("sosae.npz"));
	snprintf(cmd, sizeof(cmd), BIN " export --db %s --experiment roll --strategy sosae --out %s",
		 db, npz);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), BIN " encode --model %s --dataset affine:d=2,D=5,n=300 --out %s",
		 npz, tmp_path("c.csv"));
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "has 5 features but the model"));
	snprintf(cmd, sizeof(cmd), BIN " encode --model %s --dataset %s --out %s", csv, spec,
		 tmp_path("c.csv"));
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "not an .npz file"));
}

/* Every strategy's decision names a kept model, of the width it chose and with its test
 * MSE: those that cut a model trained at k_max (nested dropout, Least Volume, IRMAE) too. */
static void test_every_strategy_delivers_a_model(void **state)
{
	(void)state;
	char all_ini[512], all_db[512], cmd[2048];
	snprintf(all_ini, sizeof(all_ini), "%s", tmp_path("all.ini"));
	snprintf(all_db, sizeof(all_db), "%s", tmp_path("all.db"));
	write_text(all_ini, "[all]\ndataset = affine:d=2,D=8,n=600,noise=0.02\nhidden = 16\n"
			    "epochs = 3\nbatch = 32\nlr = 0.003\nk_max = 6\ngrid = 1..6\n"
			    "strategies = grid, geogrid, bisect, halving, nested, matryoshka, sosae, "
			    "sosae-tuned, leastvolume, irmae, earlybird, vae, lpca, mle, twonn\n");
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment all --db %s --threads 1 --quiet",
		 all_ini, all_db);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	char *rows = db_dump(all_db, "SELECT strategy || ' ' || chosen_latent || ' ' || "
				     "printf('%.17g', test_mse) FROM decision ORDER BY strategy");
	int n = 0;
	for (char *save = NULL, *line = strtok_r(rows, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		char strategy[64];
		int K;
		double mse;
		assert_int_equal(sscanf(line, "%63s %d %lf", strategy, &K, &mse), 3);
		char npz[512];
		snprintf(npz, sizeof(npz), "%s", tmp_path("one.npz"));
		snprintf(cmd, sizeof(cmd), BIN " export --db %s --experiment all --strategy %s --out %s",
			 all_db, strategy, npz);
		if (run_command(cmd, out, sizeof(out)))
			fail_msg("%s:\n%s", cmd, out);
		struct model_scaling sc;
		char meta[8192];
		struct ae *m = ae_load_npz(npz, &sc, meta, sizeof(meta));
		if (!m)
			fail_msg("%s: %s", strategy, ds_errmsg());
		if (m->arch.latent != K)
			fail_msg("%s chose K = %d but its model has %d units", strategy, K,
				 m->arch.latent);
		const char *at = strstr(meta, "\"test_mse\":");
		assert_non_null(at);
		if (fabs(atof(at + 11) - mse) > 1e-8 * mse)
			fail_msg("%s: the model's test MSE %s, the decision's %.17g", strategy, at + 11,
				 mse);
		model_scaling_free(&sc);
		ae_delete(m);
	}
	assert_int_equal(n, 15);
	free(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export_is_the_delivered_model),
		cmocka_unit_test(test_mistakes_exit_2_with_what_exists),
		cmocka_unit_test(test_every_strategy_delivers_a_model),
	};
	return cmocka_run_group_tests_name("export", tests, setup, NULL);
}
