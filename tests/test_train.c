/* test_train.c: training learns, is deterministic whatever the thread count, stops on
 * divergence; the BLAS kernel choice. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/blas.h"
#include "../core/data.h"
#include "../core/err.h"
#include "../core/model.h"
#include "../core/train.h"

static struct ae *affine_model(const struct dataset *d, int K, enum act latent, uint64_t seed)
{
	struct ae_arch arch = { .input_dim = d->dim, .n_hidden = 1, .hidden = { 64 }, .latent = K,
				.hidden_act = ACT_RELU, .latent_act = latent,
				.output_act = ACT_IDENTITY };
	struct ae *m = ae_new(&arch);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, seed);
	ae_init(m, &r);
	return m;
}

static double train_affine(const struct dataset *d, int K, int epochs, int threads,
			   uint64_t seed, struct ae **out)
{
	struct ae *m = affine_model(d, K, ACT_IDENTITY, seed);
	struct train_cfg c;
	train_cfg_defaults(&c);
	c.epochs = epochs;
	c.batch = 64;
	c.threads = threads;
	struct rng r;
	rng_seed(&r, seed + 1000);
	struct flops f = { 0 };
	assert_int_equal(ae_train(m, &d->train, &d->val, &c, &r, &f), epochs);
	double mse = ae_eval_mse(m, &d->val, threads, &f);
	if (out)
		*out = m;
	else
		ae_delete(m);
	return mse;
}

/* d = 5 in R^50 with noise sd 0.01 (variance 1e-4): K = 5 explains everything but the noise,
 * K = 2 leaves three directions of variance 1/50 each, about 0.06 per coordinate. */
static void test_learning_reaches_noise_floor(void **state)
{
	(void)state;
	struct data_opts o;
	data_opts_defaults(&o);
	struct dataset d;
	assert_int_equal(dataset_load(&d, "affine:d=5,D=50,n=4000,noise=0.01", &o), 0);
	double noise_var = 1e-4;
	double mse5 = train_affine(&d, 5, 40, 2, 1, NULL);
	double mse2 = train_affine(&d, 2, 40, 2, 1, NULL);
	print_message("val MSE: K=5 %.3g, K=2 %.3g, noise variance %.3g\n", mse5, mse2, noise_var);
	assert_true(mse5 < 3 * noise_var);
	assert_true(mse2 > 100 * noise_var);
	dataset_free(&d);
}

static void test_deterministic_across_threads(void **state)
{
	(void)state;
	struct data_opts o;
	data_opts_defaults(&o);
	struct dataset d;
	assert_int_equal(dataset_load(&d, "affine:d=3,D=20,n=1500,noise=0.05", &o), 0);
	struct ae *one, *two, *other;
	double a = train_affine(&d, 4, 3, 1, 11, &one);
	double b = train_affine(&d, 4, 3, 2, 11, &two);
	train_affine(&d, 4, 3, 2, 12, &other);
	assert_true(a == b);
	assert_memory_equal(one->params, two->params, sizeof(float) * one->n_params);
	assert_memory_equal(one->adam_v, two->adam_v, sizeof(float) * one->n_params);
	assert_true(memcmp(one->params, other->params, sizeof(float) * one->n_params) != 0);
	ae_delete(one);
	ae_delete(two);
	ae_delete(other);
	dataset_free(&d);
}

/* One training run of a model with layers large enough to be cut into pieces (300 x 256 on
 * 256 rows; the 48-row last batch of each epoch is not cut), in one variant: 0 plain, 1 batch
 * norm everywhere, 2 a VAE, 3 nested dropout, 4 two chunks. */
static struct ae *train_large(const struct dataset *d, int variant, int threads)
{
	struct ae_arch arch = { .input_dim = d->dim, .n_hidden = 1, .hidden = { 256 }, .latent = 8,
				.hidden_act = ACT_RELU, .latent_act = ACT_RELU,
				.output_act = ACT_SIGMOID, .latent_bn = variant == 1,
				.hidden_bn = variant == 1 ? AE_BN_HIDDEN : 0, .vae = variant == 2 };
	if (variant == 2)
		arch.latent_act = ACT_IDENTITY;
	struct ae *m = ae_new(&arch);
	assert_non_null(m);
	m->vae_beta = variant == 2 ? 1.0f : 0.0f;
	struct rng r;
	rng_seed(&r, 21);
	ae_init(m, &r);
	struct train_cfg c;
	train_cfg_defaults(&c);
	c.epochs = 2;
	c.batch = 256;
	c.threads = threads;
	c.nested_p = variant == 3 ? 0.2 : 0.0;
	c.chunks = variant == 4 ? 2 : 1;
	struct flops f = { 0 };
	assert_int_equal(ae_train(m, &d->train, &d->val, &c, &r, &f), 2);
	return m;
}

static void test_deterministic_across_threads_in_pieces(void **state)
{
	(void)state;
	assert_int_equal(dense_pieces(256, 300, 256), DENSE_PIECES);
	assert_int_equal(dense_pieces(48, 300, 256), 1);
	struct data_opts o;
	data_opts_defaults(&o);
	struct dataset d;
	assert_int_equal(dataset_load(&d, "affine:d=6,D=300,n=700,noise=0.05", &o), 0);
	assert_int_equal(dataset_scale(&d, SCALE_MINMAX), 0);
	assert_int_equal(d.train.n % 256, 48);
	for (int variant = 0; variant < 5; variant++) {
		struct ae *one = train_large(&d, variant, 1);
		for (int threads = 2; threads <= 3; threads++) {
			struct ae *more = train_large(&d, variant, threads);
			size_t n = one->n_params * sizeof(float);
			assert_memory_equal(one->params, more->params, n);
			assert_memory_equal(one->adam_m, more->adam_m, n);
			assert_memory_equal(one->adam_v, more->adam_v, n);
			assert_memory_equal(one->bn_mean, more->bn_mean, one->n_bn * sizeof(float));
			assert_memory_equal(one->bn_var, more->bn_var, one->n_bn * sizeof(float));
			ae_delete(more);
		}
		ae_delete(one);
	}
	dataset_free(&d);
}

static int count_epochs(void *ctx, const struct epoch_report *e, struct ae *m)
{
	(void)m;
	*(int *)ctx = e->epoch;
	return e->epoch == 2; /* stop early after the second */
}

static void test_early_stop_and_divergence(void **state)
{
	(void)state;
	struct data_opts o;
	data_opts_defaults(&o);
	struct dataset d;
	assert_int_equal(dataset_load(&d, "affine:d=3,D=20,n=1000,noise=0.05", &o), 0);
	struct ae *m = affine_model(&d, 3, ACT_IDENTITY, 1);
	struct train_cfg c;
	train_cfg_defaults(&c);
	c.epochs = 10;
	int seen = 0;
	c.on_epoch = count_epochs;
	c.ctx = &seen;
	struct rng r;
	rng_seed(&r, 3);
	struct flops f = { 0 };
	assert_int_equal(ae_train(m, &d.train, &d.val, &c, &r, &f), 2);
	assert_int_equal(seen, 2);
	/* a learning rate that blows up: an error naming the epoch, not a crash */
	c.on_epoch = NULL;
	c.adam.lr = 1e30f;
	c.adam.eps = 1e-30f;
	ae_init(m, &r);
	for (size_t i = 0; i < d.train.n * d.dim; i++)
		d.train.x[i] *= 1e30f;
	assert_int_equal(ae_train(m, &d.train, &d.val, &c, &r, &f), -1);
	assert_non_null(strstr(ds_errmsg(), "diverged at epoch"));
	/* settings checked before any work */
	c.adam.lr = -1;
	assert_int_equal(ae_train(m, &d.train, &d.val, &c, &r, &f), -1);
	assert_non_null(strstr(ds_errmsg(), "learning rate"));
	ae_delete(m);
	dataset_free(&d);
}

static void test_blas_kernel_choice(void **state)
{
	(void)state;
	assert_string_equal(blas_wanted_coretype(1, "Haswell"), "SkylakeX");
	assert_string_equal(blas_wanted_coretype(1, "Zen"), "SkylakeX");
	assert_null(blas_wanted_coretype(1, "SkylakeX"));
	assert_null(blas_wanted_coretype(1, "Cooperlake"));
	assert_null(blas_wanted_coretype(0, "Haswell"));
	assert_non_null(blas_core_name());
}

int main(void)
{
	blas_single_thread();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learning_reaches_noise_floor),
		cmocka_unit_test(test_deterministic_across_threads),
		cmocka_unit_test(test_deterministic_across_threads_in_pieces),
		cmocka_unit_test(test_early_stop_and_divergence),
		cmocka_unit_test(test_blas_kernel_choice),
	};
	return cmocka_run_group_tests_name("train", tests, NULL, NULL);
}
