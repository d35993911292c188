/* test_model_io.c: a model and its data's scaling through an .npz file: back bit for bit
 * (plain, batch norm, VAE), a corrupt file refused, and, where python3 has NumPy, the file
 * read by NumPy alone reproducing dimsearch's reconstruction. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/model_io.h"
#include "../core/npz.h"

static char out[1 << 16];

static struct ae *random_model(const struct ae_arch *a, uint64_t seed)
{
	struct ae *m = ae_new(a);
	assert_non_null(m);
	struct rng r;
	rng_seed(&r, seed);
	ae_init(m, &r);
	/* running statistics and a mask that are not their defaults */
	for (size_t i = 0; i < m->n_bn; i++) {
		m->bn_mean[i] = (float)rng_normal(&r);
		m->bn_var[i] = 0.5f + (float)rng_uniform(&r);
	}
	m->latent_mask[0] = 0.0f;
	return m;
}

static void assert_same_model(const struct ae *a, const struct ae *b)
{
	assert_memory_equal(&a->arch, &b->arch, sizeof(a->arch));
	assert_int_equal(a->n_params, b->n_params);
	assert_memory_equal(a->params, b->params, sizeof(float) * a->n_params);
	assert_int_equal(a->n_bn, b->n_bn);
	if (a->n_bn) {
		assert_memory_equal(a->bn_mean, b->bn_mean, sizeof(float) * a->n_bn);
		assert_memory_equal(a->bn_var, b->bn_var, sizeof(float) * a->n_bn);
	}
	assert_memory_equal(a->latent_mask, b->latent_mask, sizeof(float) * a->arch.latent);
	assert_memory_equal(&a->vae_beta, &b->vae_beta, sizeof(float));
}

static void test_round_trip_bit_for_bit(void **state)
{
	(void)state;
	int hidden[] = { 12, 7 };
	struct ae_arch plain = ae_arch_plain(9, hidden, 2, 3, ACT_RELU, ACT_RELU, -1, 0);
	struct ae_arch bn = plain;
	bn.latent_bn = 1;
	bn.hidden_bn = AE_BN_ENCODER;
	bn.output_act = ACT_SIGMOID;
	struct ae_arch vae = plain;
	vae.vae = 1;
	vae.latent_act = ACT_IDENTITY;
	const struct ae_arch *archs[] = { &plain, &bn, &vae };
	float shift[9], spread[9];
	for (int j = 0; j < 9; j++) {
		shift[j] = 0.1f * (float)j - 0.3f;
		spread[j] = 1.0f + 0.01f * (float)j;
	}
	struct model_scaling zscore = { SCALE_ZSCORE, 9, shift, spread };
	const char *path = tmp_path("model.npz");
	for (int i = 0; i < 3; i++) {
		struct ae *m = random_model(archs[i], 7 + (uint64_t)i);
		assert_int_equal(ae_save_npz(m, i == 1 ? NULL : &zscore,
					     "\"experiment\":\"t\",\"seed\":3", path),
				 0);
		struct model_scaling s;
		char meta[8192];
		struct ae *back = ae_load_npz(path, &s, meta, sizeof(meta));
		if (!back)
			fail_msg("%s", ds_errmsg());
		assert_same_model(m, back);
		assert_int_equal(json_valid(meta), 1);
		assert_non_null(strstr(meta, "\"seed\":3"));
		if (i == 1) {
			assert_int_equal(s.scale, SCALE_NONE);
			assert_null(s.shift);
			assert_non_null(strstr(meta, "\"scale\":\"none\""));
		} else {
			assert_int_equal(s.scale, SCALE_ZSCORE);
			assert_memory_equal(s.shift, shift, sizeof(shift));
			assert_memory_equal(s.spread, spread, sizeof(spread));
		}
		/* one array per layer, in forward order, readable on their own */
		struct npz z;
		assert_int_equal(npz_open(&z, path), 0);
		size_t count;
		const unsigned char *w = npz_floats(&z, "W0", &count);
		assert_non_null(w);
		assert_int_equal(count, 12 * 9);
		assert_memory_equal(w, m->params + m->w_off[0], sizeof(float) * count);
		assert_non_null(npz_floats(&z, "b5", &count));
		assert_int_equal(count, 9);
		assert_true((npz_floats(&z, "gamma0", &count) != NULL) == (i == 1));
		npz_free(&z);
		model_scaling_free(&s);
		ae_delete(back);
		ae_delete(m);
	}
}

static void test_corrupt_file_is_refused(void **state)
{
	(void)state;
	int hidden[] = { 5 };
	struct ae_arch a = ae_arch_plain(4, hidden, 1, 2, ACT_RELU, ACT_RELU, -1, 1);
	struct ae *m = random_model(&a, 1);
	const char *path = tmp_path("bad.npz");
	assert_int_equal(ae_save_npz(m, NULL, NULL, path), 0);
	size_t size;
	char *bytes = slurp(path, &size);
	bytes[200] ^= 0x40; /* inside W0's values */
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(bytes, 1, size, f);
	fclose(f);
	struct model_scaling s;
	assert_null(ae_load_npz(path, &s, NULL, 0));
	assert_non_null(strstr(ds_errmsg(), "fails its CRC-32: the file is corrupt"));
	write_text(path, "not a zip at all, but long enough to have an end record");
	assert_null(ae_load_npz(path, &s, NULL, 0));
	assert_non_null(strstr(ds_errmsg(), "not an .npz file"));
	free(bytes);
	ae_delete(m);
}

/* NumPy, given only the .npz, computes what ae_forward computes: the reconstruction of
 * scaled rows, to 1e-5. */
static void test_numpy_reproduces_the_reconstruction(void **state)
{
	(void)state;
	/* the python3 on PATH (a virtual environment's, say), else Debian's, which make deps
	 * gives python3-numpy */
	static const char *const pythons[] = { "python3", "/usr/bin/python3" };
	const char *python = NULL;
	for (size_t i = 0; i < sizeof(pythons) / sizeof(*pythons) && !python; i++) {
		char probe[128];
		snprintf(probe, sizeof(probe), "%s -c 'import numpy' 2>/dev/null", pythons[i]);
		if (run_command(probe, out, sizeof(out)) == 0)
			python = pythons[i];
	}
	if (!python) {
		print_message("neither python3 nor /usr/bin/python3 imports numpy ('make deps' "
			      "installs python3-numpy); skipped\n");
		skip();
	}
	int hidden[] = { 16, 8 };
	struct ae_arch a = ae_arch_plain(6, hidden, 2, 3, ACT_RELU, ACT_IDENTITY, -1, 1);
	struct ae *m = random_model(&a, 11);
	m->latent_mask[0] = 1.0f;
	m->latent_mask[2] = 0.0f;
	float shift[6] = { 1, -2, 0.5f, 3, 0, -1 }, spread[6] = { 2, 1, 0.5f, 4, 1, 3 };
	struct model_scaling s = { SCALE_MINMAX, 6, shift, spread };
	const char *path = tmp_path("np.npz");
	assert_int_equal(ae_save_npz(m, &s, NULL, path), 0);
	enum { ROWS = 5 };
	float raw[ROWS * 6], x[ROWS * 6];
	for (int i = 0; i < ROWS * 6; i++) {
		raw[i] = (float)sin(1.3 * i) * 4.0f;
		x[i] = (raw[i] - shift[i % 6]) / spread[i % 6];
	}
	struct ae_work *w = ae_work_new(m, ROWS);
	uint64_t gemm = 0, elementwise = 0;
	const float *y = ae_forward(m, w, x, ROWS, &gemm, &elementwise);
	char script[8192], cell[64];
	size_t n = (size_t)snprintf(script, sizeof(script),
		"import json, numpy as np\n"
		"z = np.load('%s')\n"
		"meta = json.loads(z['metadata.json'])  # not a .npy: numpy hands over its bytes\n"
		"f = {'relu': lambda v: np.maximum(v, 0), 'identity': lambda v: v,\n"
		"     'sigmoid': lambda v: 1 / (1 + np.exp(-v))}\n"
		"raw = np.array([", path);
	for (int i = 0; i < ROWS * 6; i++) {
		snprintf(cell, sizeof(cell), "%s%.9g", i ? "," : "", raw[i]);
		n += (size_t)snprintf(script + n, sizeof(script) - n, "%s", cell);
	}
	n += (size_t)snprintf(script + n, sizeof(script) - n,
		"], dtype=np.float32).reshape(%d, 6)\n"
		"h = (raw - z['scale_shift']) / z['scale_spread']\n"
		"for l, act in enumerate(meta['activations']):\n"
		"    h = f[act](h @ z['W%%d' %% l].T + z['b%%d' %% l])\n"
		"    if l == meta['latent_layer']:\n"
		"        h = h * z['latent_mask']\n"
		"print(' '.join('%%.9g' %% v for v in h.ravel()))\n", ROWS);
	const char *py = tmp_path("forward.py");
	write_text(py, script);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s %s", python, py);
	if (run_command(cmd, out, sizeof(out)) != 0)
		fail_msg("%s failed:\n%s", cmd, out);
	char *p = out;
	for (int i = 0; i < ROWS * 6; i++) {
		char *end;
		double v = strtod(p, &end);
		if (end == p)
			fail_msg("NumPy printed %d values of %d: %s", i, ROWS * 6, out);
		if (fabs(v - y[i]) > 1e-5)
			fail_msg("value %d: NumPy %.9g, dimsearch %.9g", i, v, (double)y[i]);
		p = end;
	}
	ae_work_delete(w);
	ae_delete(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_bit_for_bit),
		cmocka_unit_test(test_corrupt_file_is_refused),
		cmocka_unit_test(test_numpy_reproduces_the_reconstruction),
	};
	return cmocka_run_group_tests_name("model_io", tests, NULL, NULL);
}
