/* test_nested.c: nested dropout and Matryoshka on data of known dimension (d = 4): the
 * validation error of the trained code's prefixes falls to its floor at K = 4 and stays there,
 * on every seed tried; their GEMM FLOPs against the closed form (Matryoshka's extra decoder
 * passes included); the same results on 1 and 2 threads. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../baselines/nested.h"
#include "../core/data.h"
#include "../search/strategy.h"
#include "../strategies.h"

/* A linear code of affine data: the ordering methods' home ground. 60 epochs bring every
 * seed tried (1..4, on Haswell and SkylakeX kernels) to a prefix curve that drops 40-fold
 * from K = 3 to 4 and then stays within 25% of its floor; the asserts leave wide margins. */
static const char *ini = "[n]\ndataset = affine:d=4,D=16,n=2000,noise=0.02\nhidden = 32\n"
			 "latent_act = identity\nepochs = 60\nbatch = 64\nlr = 0.003\nk_max = 10\n"
			 "strategies = nested, matryoshka\ngrid.select = within:0.5\n"
			 "delivery.epochs = 10\n";

static struct experiment_file file;
static struct dataset data;

static int setup(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("nested.ini"));
	write_text(path, ini);
	if (experiments_load(&file, path, dimsearch_strategies()))
		fail_msg("%s", file.errors);
	const struct experiment *e = &file.exp[0];
	struct data_opts o = { .n_train = e->n_train,
			       .n_val = e->n_val,
			       .n_test = e->n_test,
			       .seed = (uint64_t)e->data_seed };
	return dataset_load(&data, e->dataset, &o);
}

static int teardown(void **state)
{
	(void)state;
	dataset_free(&data);
	experiments_free(&file);
	return 0;
}

static void run_one(const char *name, long seed, int threads, struct trial_record *t)
{
	const struct experiment *e = &file.exp[0];
	const struct strategy *s = registry_find(dimsearch_strategies(), name);
	assert_int_equal(s->plan(e, seed, t, 1), 1);
	struct trial_ctx c = { .exp = e, .data = &data, .threads = threads };
	enum trial_state st = s->run(&c, t);
	if (st != TRIAL_COMPLETE)
		fail_msg("%s seed %ld: %s", name, seed, t->error);
	t->state = TRIAL_COMPLETE;
}

/* The numbers of the JSON array "key":[...] in details, into v; how many. */
static int array(const char *details, const char *key, double *v, int max)
{
	char quoted[64];
	snprintf(quoted, sizeof(quoted), "\"%s\":[", key);
	const char *p = strstr(details, quoted);
	assert_non_null(p);
	p += strlen(quoted);
	int n = 0;
	while (*p && *p != ']' && n < max) {
		char *end;
		v[n++] = strtod(p, &end);
		p = *end == ',' ? end + 1 : end;
	}
	return n;
}

/* GEMM FLOPs per example of one training step of the decoder alone (layers after the code),
 * by the convention of ae_flops_per_example: forward and bias, dW and bias gradient, dX. */
static uint64_t decoder_step(const struct ae_arch *a)
{
	int w[] = { a->latent, a->hidden[0], a->input_dim };
	uint64_t sum = 0;
	for (int l = 0; l < 2; l++) {
		uint64_t io = (uint64_t)w[l] * w[l + 1], out = (uint64_t)w[l + 1];
		sum += 6 * io + 2 * out;
	}
	return sum;
}

static void test_prefix_curves_flatten_at_the_dimension(void **state)
{
	(void)state;
	const struct experiment *e = &file.exp[0];
	const char *names[] = { "nested", "matryoshka" };
	for (int s = 0; s < 2; s++)
		for (long seed = 1; seed <= 3; seed++) {
			struct trial_record t;
			run_one(names[s], seed, 2, &t);
			double K[16], val[16];
			int n = array(t.details, "prefix_k", K, 16);
			assert_int_equal(array(t.details, "prefix_val_mse", val, 16), n);
			double floor_ = INFINITY, at3 = NAN, at4 = NAN;
			for (int i = 0; i < n; i++) {
				if (K[i] >= 4)
					floor_ = fmin(floor_, val[i]);
				at3 = K[i] == 3 ? val[i] : at3;
				at4 = K[i] == 4 ? val[i] : at4;
			}
			int first_flat = 0;
			for (int i = n - 1; i >= 0; i--)
				if (val[i] <= 1.5 * floor_)
					first_flat = (int)K[i];
				else
					break;
			print_message("%s seed %ld: val(3) = %.3g, val(4) = %.3g, floor %.3g, flat "
				      "from %d\n",
				      names[s], seed, at3, at4, floor_, first_flat);
			/* missing one of the four directions costs more than ten times the floor */
			assert_true(at3 > 10 * floor_);
			assert_true(first_flat == 4 || first_flat == 5);
			struct decision_record d;
			assert_int_equal(strategy_decide(registry_find(dimsearch_strategies(),
								       names[s]),
							 e, seed, &t, 1, &d),
					 0);
			assert_true(d.chosen_latent == 4 || d.chosen_latent == 5);
			assert_true(details_number(t.details, "delivered_epochs") == 70);
			/* GEMM FLOPs of training: the search at k_max (Matryoshka: one more
			 * decoder pass, forward and back, per trained prefix below k_max), then
			 * fine-tuning at K */
			uint64_t step, eval, step_k, eval_k;
			struct ae_arch a = experiment_arch(e, &data, e->k_max);
			ae_flops_per_example(&a, &step, &eval);
			struct ae_arch ak = experiment_arch(e, &data, d.chosen_latent);
			ae_flops_per_example(&ak, &step_k, &eval_k);
			uint64_t per = step;
			if (s == 1) {
				int prefix[NESTED_MAX_PREFIXES + 1];
				int m = matryoshka_prefixes(e, prefix);
				assert_int_equal(m, 5); /* 1, 2, 4, 8, 10 */
				per += (uint64_t)(m - 1) * decoder_step(&a);
			}
			uint64_t want = (uint64_t)e->epochs * data.train.n * per +
					(uint64_t)e->delivery_epochs * data.train.n * step_k;
			assert_true(t.flops.train_gemm == want);
			assert_true(d.delivery_flops > 0 && d.delivery_flops < d.tuning_flops);
		}
}

static void test_threads_do_not_change_results(void **state)
{
	(void)state;
	const char *names[] = { "nested", "matryoshka" };
	for (int s = 0; s < 2; s++) {
		struct trial_record a, b;
		run_one(names[s], 2, 1, &a);
		run_one(names[s], 2, 2, &b);
		assert_string_equal(a.details, b.details);
		assert_true(a.val_mse == b.val_mse && a.test_mse == b.test_mse);
		assert_true(a.flops.train_gemm == b.flops.train_gemm);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_curves_flatten_at_the_dimension),
		cmocka_unit_test(test_threads_do_not_change_results),
	};
	return cmocka_run_group_tests_name("nested", tests, setup, teardown);
}
