/* test_convrun.c: convolutional experiments through ./dimsearch: every strategy that runs on
 * arch = conv delivers a model whose .npz holds its convolutions and measures again to the
 * decision's test MSE; 1 and 2 threads store the same trials; a run killed part-way resumes
 * to the same decisions; bad shapes and dense-only strategies exit 2 before anything runs,
 * naming the key and the sizes. Run from the repository root. */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/err.h"
#include "../core/model_io.h"
#include "../core/train.h"

#define BIN "./dimsearch"

static char out[1 << 16];
static char idx[512], spec[600];

/* 800 images of 8 x 8 pixels: a bright 3 x 3 square at one of 36 places, on a faint
 * gradient whose strength varies (three degrees of freedom) */
static int setup(void **state)
{
	(void)state;
	snprintf(idx, sizeof(idx), "%s", tmp_path("squares-idx3-ubyte"));
	snprintf(spec, sizeof(spec), "idx:%s", idx);
	enum { N = 800 };
	unsigned char *pix = malloc(N * 64);
	for (int i = 0; i < N; i++) {
		int px = (i * 7) % 6, py = (i * 11 / 3) % 6, g = (i * 13) % 17;
		/* and a little noise of its own, so that no two images are the same */
		for (int y = 0; y < 8; y++)
			for (int x = 0; x < 8; x++) {
				int in = x >= px && x < px + 3 && y >= py && y < py + 3;
				int noise = (i * 31 + x * 7 + y * 3) % 5;
				pix[i * 64 + y * 8 + x] = (unsigned char)((in ? 230 : g * (x + y)) + noise);
			}
	}
	uint32_t dims[3] = { N, 8, 8 };
	write_idx(idx, 3, dims, pix, 0, 0);
	free(pix);
	return 0;
}

static const char *conv_ini(const char *name, const char *strategies, int epochs)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path(name));
	char text[2048];
	snprintf(text, sizeof(text),
		 "[conv]\ndataset = %s\narch = conv\nchannels = 3,4\nepochs = %d\nbatch = 40\n"
		 "lr = 0.003\nk_max = 6\ngrid = 1..6\nstrategies = %s\n",
		 spec, epochs, strategies);
	write_text(path, text);
	return path;
}

static void test_every_conv_strategy_delivers_a_conv_model(void **state)
{
	(void)state;
	const char *ini = conv_ini("conv_all.ini",
				   "grid, geogrid, bisect, halving, nested, sosae, sosae-tuned, "
				   "earlybird, vae, lpca, mle, twonn",
				   3);
	char db[512], cmd[2048];
	snprintf(db, sizeof(db), "%s", tmp_path("conv_all.db"));
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment conv --db %s --threads 1 --quiet",
		 ini, db);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	char *rows = db_dump(db, "SELECT strategy || ' ' || chosen_latent || ' ' || "
				 "printf('%.17g', test_mse) FROM decision ORDER BY strategy");
	int n = 0;
	for (char *save = NULL, *line = strtok_r(rows, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		char strategy[64];
		int K;
		double mse;
		assert_int_equal(sscanf(line, "%63s %d %lf", strategy, &K, &mse), 3);
		char npz[512];
		snprintf(npz, sizeof(npz), "%s", tmp_path("conv_one.npz"));
		snprintf(cmd, sizeof(cmd), BIN " export --db %s --experiment conv --strategy %s --out %s",
			 db, strategy, npz);
		if (run_command(cmd, out, sizeof(out)))
			fail_msg("%s:\n%s", cmd, out);
		struct model_scaling sc;
		char meta[16384];
		struct ae *m = ae_load_npz(npz, &sc, meta, sizeof(meta));
		if (!m)
			fail_msg("%s: %s", strategy, ds_errmsg());
		if (m->n_conv != 4 || m->arch.image[1] != 8 || m->arch.channels[1] != 4)
			fail_msg("%s delivered a model without the experiment's convolutions",
				 strategy);
		assert_non_null(strstr(meta, "\"conv\":[{\"name\":\"C0\""));
		if (m->arch.latent != K && K > 0)
			fail_msg("%s chose K = %d but its model has %d units", strategy, K,
				 m->arch.latent);
		/* the test split again through the loaded model: the decision's MSE */
		struct data_opts o;
		data_opts_defaults(&o);
		struct dataset d;
		assert_int_equal(dataset_load(&d, spec, &o), 0);
		struct flops f = { 0 };
		double again = ae_eval_mse(m, &d.test, 1, &f);
		if (fabs(again - mse) > 1e-9 * mse)
			fail_msg("%s: the exported model's test MSE %.17g, the decision's %.17g",
				 strategy, again, mse);
		dataset_free(&d);
		model_scaling_free(&sc);
		ae_delete(m);
	}
	assert_int_equal(n, 12);
	free(rows);
}

#define TRIALS_SQL                                                                           \
	"SELECT trial_key, state, epochs_run, val_mse, test_mse, flops_train_gemm, "         \
	"flops_eval_gemm, flops_elementwise FROM trial ORDER BY trial_key"
#define DECISIONS_SQL                                                                        \
	"SELECT strategy, seed, chosen_latent, tuning_flops, delivery_flops, test_mse "      \
	"FROM decision ORDER BY strategy, seed"

static long count(const char *db, const char *query)
{
	char *t = db_dump(db, query);
	long v = atol(t);
	free(t);
	return v;
}

/* 1 and 2 threads, and a run killed after its first complete trial and resumed on 2
 * threads: the same trials and decisions, bit for bit */
static void test_threads_and_resume(void **state)
{
	(void)state;
	const char *ini = conv_ini("conv_slow.ini", "grid, sosae", 30);
	char one[512], two[512], killed[512], cmd[2048];
	snprintf(one, sizeof(one), "%s", tmp_path("conv_one.db"));
	snprintf(two, sizeof(two), "%s", tmp_path("conv_two.db"));
	snprintf(killed, sizeof(killed), "%s", tmp_path("conv_killed.db"));
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment conv --db %s --threads 1 --quiet",
		 ini, one);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment conv --db %s --threads 2 --quiet",
		 ini, two);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	char *trials = db_dump(one, TRIALS_SQL), *decisions = db_dump(one, DECISIONS_SQL);
	char *t2 = db_dump(two, TRIALS_SQL), *d2 = db_dump(two, DECISIONS_SQL);
	assert_string_equal(trials, t2);
	assert_string_equal(decisions, d2);
	free(t2);
	free(d2);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execl(BIN, BIN, "run", "--config", ini, "--experiment", "conv", "--db", killed,
		      "--threads", "1", (char *)NULL);
		_exit(127);
	}
	int i;
	for (i = 0; i < 12000; i++) {
		if (access(killed, F_OK) == 0 &&
		    count(killed, "SELECT count(*) FROM sqlite_master WHERE name = 'trial'") == 1 &&
		    count(killed, "SELECT count(*) FROM trial WHERE state = 'complete'") >= 1)
			break;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	assert_true(i < 12000);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	long done = count(killed, "SELECT count(*) FROM trial WHERE state = 'complete'");
	long all = count(one, "SELECT count(*) FROM trial");
	if (WIFSIGNALED(status))
		assert_true(done >= 1 && done < all);
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment conv --db %s --threads 2 --quiet",
		 ini, killed);
	if (run_command(cmd, out, sizeof(out)))
		fail_msg("%s:\n%s", cmd, out);
	char *t3 = db_dump(killed, TRIALS_SQL), *d3 = db_dump(killed, DECISIONS_SQL);
	assert_string_equal(trials, t3);
	assert_string_equal(decisions, d3);
	free(t3);
	free(d3);
	free(trials);
	free(decisions);
}

/* exit 2 and the message names what to change */
static void refused(const char *ini_text, const char *want1, const char *want2)
{
	char ini[512], db[512], cmd[2048];
	snprintf(ini, sizeof(ini), "%s", tmp_path("conv_bad.ini"));
	snprintf(db, sizeof(db), "%s", tmp_path("conv_bad.db"));
	write_text(ini, ini_text);
	unlink(db);
	snprintf(cmd, sizeof(cmd), BIN " run --config %s --experiment bad --db %s --threads 1 --quiet",
		 ini, db);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 2 || !strstr(out, want1) || (want2 && !strstr(out, want2)))
		fail_msg("%s\nexited %d (want 2, '%s', '%s'):\n%s", ini_text, rc, want1,
			 want2 ? want2 : "", out);
	/* nothing ran: no database, or one without trials */
	if (file_exists(db) &&
	    count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'trial'") > 0)
		assert_int_equal(count(db, "SELECT count(*) FROM trial"), 0);
}

static void test_bad_conv_input_exits_2(void **state)
{
	(void)state;
	char text[2048];
	/* csv data says no shape */
	refused("[bad]\nbatch = 32\ndataset = affine:d=2,D=64,n=300\narch = conv\nstrategies = grid\ngrid = 1..2\n",
		"shape = CxHxW", "C H W = 64");
	/* a shape that does not hold the data */
	refused("[bad]\nbatch = 32\ndataset = affine:d=2,D=64,n=300\narch = conv\nshape = 1x9x9\n"
		"strategies = grid\ngrid = 1..2\n",
		"1x9x9", "64 features");
	/* a kernel larger than the image */
	snprintf(text, sizeof(text),
		 "[bad]\nbatch = 32\ndataset = %s\narch = conv\nkernel = 9\nstrategies = grid\ngrid = 1..2\n",
		 spec);
	refused(text, "kernel 9", "8x8");
	/* an even kernel */
	snprintf(text, sizeof(text),
		 "[bad]\nbatch = 32\ndataset = %s\narch = conv\nkernel = 4\nstrategies = grid\ngrid = 1..2\n",
		 spec);
	refused(text, "kernel", "odd");
	/* rows and columns that one output padding cannot give back */
	refused("[bad]\nbatch = 32\ndataset = affine:d=2,D=42,n=300\narch = conv\nshape = 1x6x7\n"
		"strategies = grid\ngrid = 1..2\n",
		"output padding", "3x4");
	/* convolutional keys on a dense experiment */
	refused("[bad]\nbatch = 32\ndataset = affine:d=2,D=64,n=300\nchannels = 8\nstrategies = grid\n"
		"grid = 1..2\n",
		"channels", "arch = conv");
	/* a strategy for dense models only */
	snprintf(text, sizeof(text),
		 "[bad]\nbatch = 32\ndataset = %s\narch = conv\nstrategies = grid, irmae\ngrid = 1..2\n", spec);
	refused(text, "irmae does not run on arch = conv", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_conv_input_exits_2),
		cmocka_unit_test(test_every_conv_strategy_delivers_a_conv_model),
		cmocka_unit_test(test_threads_and_resume),
	};
	return cmocka_run_group_tests_name("convrun", tests, setup, NULL);
}
