/* test_data.c: the IDX reader, CSV, synthetic generators (the sine set against its formula),
 * splits, the scalings fitted on the training split, and Fashion-MNIST. */
#include "testutil.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/data.h"
#include "../core/err.h"
#include "../core/model.h"

static unsigned char pixels[30 * 4 * 3];
static unsigned char labels[30];

static void make_pair(const char *img, const char *lab, int gz)
{
	for (size_t i = 0; i < sizeof(pixels); i++)
		pixels[i] = (unsigned char)(i * 7 % 256);
	for (int i = 0; i < 30; i++)
		labels[i] = (unsigned char)(i % 3);
	uint32_t idims[] = { 30, 4, 3 }, ldims[] = { 30 };
	write_idx(img, 3, idims, pixels, gz, 0);
	write_idx(lab, 1, ldims, labels, gz, 0);
}

static void test_idx_valid_plain_and_gz(void **state)
{
	(void)state;
	for (int gz = 0; gz <= 1; gz++) {
		const char *img = gz ? "img.gz" : "img";
		char ipath[512], lpath[512];
		snprintf(ipath, sizeof(ipath), "%s", tmp_path(img));
		snprintf(lpath, sizeof(lpath), "%s", tmp_path(gz ? "lab.gz" : "lab"));
		make_pair(ipath, lpath, gz);
		unsigned char *data;
		size_t n, item;
		assert_int_equal(idx_read(ipath, 3, &data, &n, &item), 0);
		assert_int_equal(n, 30);
		assert_int_equal(item, 12);
		assert_memory_equal(data, pixels, sizeof(pixels));
		free(data);
		char spec[1100];
		snprintf(spec, sizeof(spec), "idx:%s,%s", ipath, lpath);
		struct dataset d;
		struct data_opts o;
		data_opts_defaults(&o);
		o.n_val = 5;
		o.n_test = 5;
		assert_int_equal(dataset_load(&d, spec, &o), 0);
		assert_int_equal(d.dim, 12);
		assert_int_equal(d.n_classes, 3);
		assert_int_equal(d.train.n + d.val.n + d.test.n, 30);
		assert_int_equal(d.val.n, 5);
		/* pixels scaled to [0, 1], labels carried with their rows */
		for (size_t i = 0; i < d.train.n * 12; i++)
			assert_true(d.train.x[i] >= 0.0f && d.train.x[i] <= 1.0f);
		for (size_t i = 0; i < d.train.n; i++) {
			int found = 0;
			for (int j = 0; j < 30 && !found; j++)
				found = fabsf(d.train.x[i * 12] - pixels[j * 12] / 255.0f) < 1e-7f &&
					fabsf(d.train.x[i * 12 + 1] - pixels[j * 12 + 1] / 255.0f) <
						1e-7f &&
					d.train.y[i] == labels[j];
			assert_true(found);
		}
		dataset_free(&d);
	}
}

static void test_idx_truncated(void **state)
{
	(void)state;
	const char *p = tmp_path("trunc.idx");
	char path[512];
	snprintf(path, sizeof(path), "%s", p);
	uint32_t dims[] = { 30, 4, 3 };
	write_idx(path, 3, dims, pixels, 0, 0);
	/* cut the file short */
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 16 + 100), 0);
	fclose(f);
	unsigned char *data;
	size_t n, item;
	assert_int_equal(idx_read(path, 3, &data, &n, &item), -1);
	assert_non_null(strstr(ds_errmsg(), "truncated"));
	assert_non_null(strstr(ds_errmsg(), path));
	assert_null(data);
}

static void test_idx_wrong_magic_and_mismatch(void **state)
{
	(void)state;
	char path[512], lab[512];
	snprintf(path, sizeof(path), "%s", tmp_path("magic.idx"));
	uint32_t dims[] = { 30, 4, 3 };
	write_idx(path, 3, dims, pixels, 0, 0x00000d03); /* float data: not supported */
	unsigned char *data;
	size_t n, item;
	assert_int_equal(idx_read(path, 3, &data, &n, &item), -1);
	assert_non_null(strstr(ds_errmsg(), "magic"));
	write_idx(path, 3, dims, pixels, 0, 0x12345678);
	assert_int_equal(idx_read(path, 3, &data, &n, &item), -1);
	assert_non_null(strstr(ds_errmsg(), "not an IDX"));
	/* a label file given where images are expected */
	snprintf(lab, sizeof(lab), "%s", tmp_path("lab29"));
	uint32_t ldims[] = { 29 };
	write_idx(lab, 1, ldims, labels, 0, 0);
	assert_int_equal(idx_read(lab, 3, &data, &n, &item), -1);
	assert_non_null(strstr(ds_errmsg(), "expected an IDX file of 3"));
	/* 29 labels for 30 images */
	write_idx(path, 3, dims, pixels, 0, 0);
	char spec[1100];
	snprintf(spec, sizeof(spec), "idx:%s,%s", path, lab);
	struct dataset d;
	struct data_opts o;
	data_opts_defaults(&o);
	assert_int_equal(dataset_load(&d, spec, &o), -1);
	assert_non_null(strstr(ds_errmsg(), "29 labels"));
	/* missing file */
	assert_int_equal(dataset_load(&d, "idx:/nonexistent/file.gz", &o), -1);
	assert_non_null(strstr(ds_errmsg(), "/nonexistent/file.gz"));
}

static void test_corrupt_gzip(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("corrupt.gz"));
	uint32_t dims[] = { 30, 4, 3 };
	write_idx(path, 3, dims, pixels, 1, 0);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 30, SEEK_SET); /* inside the deflate stream */
	unsigned char junk[8] = { 0xff, 0x00, 0xff, 0x13, 0x37, 0xde, 0xad, 0x00 };
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	unsigned char *data;
	size_t n, item;
	assert_int_equal(idx_read(path, 3, &data, &n, &item), -1);
	assert_non_null(strstr(ds_errmsg(), path));
}

static void test_csv(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("data.csv"));
	FILE *f = fopen(path, "w");
	fprintf(f, "a,b,c,label\n");
	for (int i = 0; i < 40; i++)
		fprintf(f, "%g, %g,%g,%d\n", i * 0.5, -1.0 * i, 2.0, i % 4);
	fclose(f);
	char spec[600];
	snprintf(spec, sizeof(spec), "csv:%s,label=last", path);
	struct dataset d;
	struct data_opts o;
	data_opts_defaults(&o);
	assert_int_equal(dataset_load(&d, spec, &o), 0);
	assert_int_equal(d.dim, 3);
	assert_int_equal(d.n_classes, 4);
	assert_int_equal(d.train.n + d.val.n + d.test.n, 40);
	assert_false(d.unit_range);
	for (size_t i = 0; i < d.train.n; i++) {
		float a = d.train.x[i * 3];
		assert_float_equal(d.train.x[i * 3 + 1], -2 * a, 1e-6);
		assert_int_equal(d.train.y[i], (int)lroundf(2 * a) % 4);
	}
	dataset_free(&d);
	/* ragged row and a non-number, each named by line */
	f = fopen(path, "w");
	fprintf(f, "1,2,3\n4,5,6\n7,8\n");
	fclose(f);
	snprintf(spec, sizeof(spec), "csv:%s", path);
	assert_int_equal(dataset_load(&d, spec, &o), -1);
	assert_non_null(strstr(ds_errmsg(), ":3:"));
	f = fopen(path, "w");
	fprintf(f, "1,2,3\n4,x,6\n");
	fclose(f);
	assert_int_equal(dataset_load(&d, spec, &o), -1);
	assert_non_null(strstr(ds_errmsg(), ":2: column 2"));
	/* a value no float holds is bad data, named by line and column, not a divergence */
	f = fopen(path, "w");
	fprintf(f, "1,2,3\n4,5,1e39\n");
	fclose(f);
	assert_int_equal(dataset_load(&d, spec, &o), -1);
	assert_non_null(strstr(ds_errmsg(), ":2: column 3"));
	/* a label larger than the rows could number: a wrong column, not a million classes */
	f = fopen(path, "w");
	fprintf(f, "1,2,0\n4,5,999999\n");
	fclose(f);
	snprintf(spec, sizeof(spec), "csv:%s,label=last", path);
	assert_int_equal(dataset_load(&d, spec, &o), -1);
	assert_non_null(strstr(ds_errmsg(), "the largest label is 999999 but there are only 2"));
	snprintf(spec, sizeof(spec), "csv:%s", path);
	/* synthetic sets that would take minutes to draw are refused */
	assert_int_equal(dataset_load(&d, "affine:d=2000,D=2000", &o), -1);
	assert_non_null(strstr(ds_errmsg(), "lower d, D or n"));
	/* the files read are fingerprinted: content and size */
	f = fopen(path, "w");
	fprintf(f, "1,2,3\n4,5,6\n7,8,9\n");
	fclose(f);
	assert_int_equal(dataset_load(&d, spec, &o), 0);
	assert_int_equal(d.n_files, 1);
	assert_int_equal(d.file_bytes, 18);
	uint64_t first = d.file_hash;
	dataset_free(&d);
	f = fopen(path, "w");
	fprintf(f, "1,2,3\n4,5,6\n7,8,0\n");
	fclose(f);
	assert_int_equal(dataset_load(&d, spec, &o), 0);
	assert_true(d.file_hash != first);
	dataset_free(&d);
	assert_int_equal(dataset_load(&d, "affine:d=2,D=4,n=100", &o), 0);
	assert_int_equal(d.n_files, 0);
	dataset_free(&d);
}

static void test_synthetic_geometry(void **state)
{
	(void)state;
	struct data_opts o;
	data_opts_defaults(&o);
	struct dataset d;
	/* sphere: unit norm in R^3 (D = d + 1) */
	assert_int_equal(dataset_load(&d, "sphere:d=2,n=500", &o), 0);
	assert_int_equal(d.dim, 3);
	assert_true(d.true_dim == 2);
	for (size_t i = 0; i < d.train.n; i++) {
		double s = 0;
		for (int j = 0; j < 3; j++)
			s += d.train.x[i * 3 + j] * d.train.x[i * 3 + j];
		assert_float_equal(s, 1.0, 1e-5);
	}
	dataset_free(&d);
	/* embedded sphere keeps its norm too */
	assert_int_equal(dataset_load(&d, "sphere:d=3,D=10,n=300", &o), 0);
	assert_int_equal(d.dim, 10);
	for (size_t i = 0; i < d.val.n; i++) {
		double s = 0;
		for (int j = 0; j < 10; j++)
			s += d.val.x[i * 10 + j] * d.val.x[i * 10 + j];
		assert_float_equal(s, 1.0, 1e-5);
	}
	dataset_free(&d);
	/* affine without noise: differences of points span exactly d dimensions, checked by
	 * Gram-Schmidt on differences from the first point */
	assert_int_equal(dataset_load(&d, "affine:d=3,D=8,n=200,noise=0", &o), 0);
	assert_int_equal(d.dim, 8);
	double basis[8][8];
	int rank = 0;
	for (size_t i = 1; i < d.train.n && rank < 8; i++) {
		double v[8];
		for (int j = 0; j < 8; j++)
			v[j] = (double)d.train.x[i * 8 + j] - d.train.x[j];
		for (int k = 0; k < rank; k++) {
			double dot = 0;
			for (int j = 0; j < 8; j++)
				dot += v[j] * basis[k][j];
			for (int j = 0; j < 8; j++)
				v[j] -= dot * basis[k][j];
		}
		double norm = 0;
		for (int j = 0; j < 8; j++)
			norm += v[j] * v[j];
		if (sqrt(norm) > 1e-3) {
			for (int j = 0; j < 8; j++)
				basis[rank][j] = v[j] / sqrt(norm);
			rank++;
		}
	}
	assert_int_equal(rank, 3);
	dataset_free(&d);
	/* Swiss roll in R^3: radius from the axis equals the angle t in [1.5 pi, 4.5 pi] */
	assert_int_equal(dataset_load(&d, "swissroll:n=400", &o), 0);
	for (size_t i = 0; i < d.train.n; i++) {
		double x = d.train.x[i * 3], z = d.train.x[i * 3 + 2];
		double t = sqrt(x * x + z * z);
		assert_true(t >= 1.5 * M_PI - 1e-4 && t <= 4.5 * M_PI + 1e-4);
		assert_float_equal(cos(t) * t, x, 1e-3);
	}
	dataset_free(&d);
	/* bad parameters are named */
	assert_int_equal(dataset_load(&d, "affine:d=3,q=2", &o), -1);
	assert_non_null(strstr(ds_errmsg(), "unknown key 'q'"));
	assert_int_equal(dataset_load(&d, "affine:d=9,D=4", &o), -1);
	assert_int_equal(dataset_load(&d, "mystery", &o), -1);
	assert_non_null(strstr(ds_errmsg(), "unknown dataset"));
}

/* ---- the sine set, against its published formula ----
 * x_i = a sin(radians((i - b) f)) + c: for a fixed f the point is linear in
 * (A, B, c) = (a cos(phi), -a sin(phi), c), phi = radians(b f), through sin(theta_i),
 * cos(theta_i) and 1 with theta_i = radians(i f). */

struct sine_fit {
	double a, b, c, f; /* b the smallest phase in [0, 360 / f) */
	double rms;        /* of the residual */
};

/* Least squares of x (D) on sin(theta_i), cos(theta_i) and, if with_bias, 1, at frequency f
 * (degrees per coordinate), by the normal equations (Cramer's rule). */
static struct sine_fit sine_fit_at(const float *x, int D, double f, int with_bias)
{
	double m[3][3] = { { 0 } }, r[3] = { 0 };
	int p = with_bias ? 3 : 2;
	for (int i = 0; i < D; i++) {
		double t = i * f * M_PI / 180.0, u[3] = { sin(t), cos(t), 1.0 };
		for (int j = 0; j < p; j++) {
			r[j] += u[j] * x[i];
			for (int k = 0; k < p; k++)
				m[j][k] += u[j] * u[k];
		}
	}
	if (!with_bias)
		m[2][2] = 1; /* c = 0 */
	double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
		     m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
		     m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
	double sol[3];
	for (int c = 0; c < 3; c++) {
		double q[3][3];
		memcpy(q, m, sizeof(q));
		for (int j = 0; j < 3; j++)
			q[j][c] = r[j];
		sol[c] = (q[0][0] * (q[1][1] * q[2][2] - q[1][2] * q[2][1]) -
			  q[0][1] * (q[1][0] * q[2][2] - q[1][2] * q[2][0]) +
			  q[0][2] * (q[1][0] * q[2][1] - q[1][1] * q[2][0])) /
			 det;
	}
	struct sine_fit s = { .f = f, .c = sol[2] };
	s.a = sqrt(sol[0] * sol[0] + sol[1] * sol[1]);
	double phi = atan2(-sol[1], sol[0]) * 180.0 / M_PI; /* degrees */
	if (phi < 0)
		phi += 360.0;
	s.b = phi / f;
	double ss = 0;
	for (int i = 0; i < D; i++) {
		double e = x[i] - (s.a * sin(((double)i - s.b) * f * M_PI / 180.0) + s.c);
		ss += e * e;
	}
	s.rms = sqrt(ss / D);
	return s;
}

/* The frequency too: a scan of [11, 33] in steps of 0.01, then golden sections around the
 * best step. */
static struct sine_fit sine_fit_free(const float *x, int D)
{
	struct sine_fit best = sine_fit_at(x, D, 11.0, 1);
	for (double f = 11.01; f <= 33.0 + 1e-9; f += 0.01) {
		struct sine_fit s = sine_fit_at(x, D, f, 1);
		if (s.rms < best.rms)
			best = s;
	}
	double lo = best.f - 0.01, hi = best.f + 0.01, g = (sqrt(5.0) - 1) / 2;
	for (int it = 0; it < 60; it++) {
		double m1 = hi - g * (hi - lo), m2 = lo + g * (hi - lo);
		if (sine_fit_at(x, D, m1, 1).rms < sine_fit_at(x, D, m2, 1).rms)
			hi = m2;
		else
			lo = m1;
	}
	struct sine_fit s = sine_fit_at(x, D, (lo + hi) / 2, 1);
	return s.rms < best.rms ? s : best;
}

static void test_sine(void **state)
{
	(void)state;
	struct data_opts o;
	data_opts_defaults(&o);
	struct dataset d;
	/* the defaults: all four variables vary, 16 coordinates */
	assert_int_equal(dataset_load(&d, "sine:n=100", &o), 0);
	assert_int_equal(d.dim, 16);
	assert_true(d.true_dim == 4);
	assert_string_equal(d.name, "sine");
	dataset_free(&d);

	/* d = 1: x_i = a sin(radians(22 i)), so x_i / x_1 = sin(22 i deg) / sin(22 deg) on every
	 * point, and a = x_1 / sin(22 deg) drawn from U(0.1, 1) */
	assert_int_equal(dataset_load(&d, "sine:d=1,D=16,n=2000,noise=0", &o), 0);
	assert_true(d.true_dim == 1);
	double a_min = 1e9, a_max = -1e9;
	for (size_t k = 0; k < d.train.n; k++) {
		const float *x = d.train.x + k * 16;
		double a = x[1] / sin(22.0 * M_PI / 180.0);
		assert_float_equal(x[0], 0.0, 1e-7);
		for (int i = 2; i < 16; i++)
			assert_float_equal(x[i] / x[1], sin(22.0 * i * M_PI / 180.0) /
							 sin(22.0 * M_PI / 180.0),
					   1e-5);
		a_min = a < a_min ? a : a_min;
		a_max = a > a_max ? a : a_max;
	}
	assert_true(a_min >= 0.1 - 1e-6 && a_min < 0.11);
	assert_true(a_max < 1.0 + 1e-6 && a_max > 0.99);
	dataset_free(&d);

	/* d = 3 at f = 22: a linear fit recovers a, b, c exactly, each inside its range and
	 * spread over it; b in [0, 16), the smallest phase (a shift of 360/22 = 16.36 repeats) */
	assert_int_equal(dataset_load(&d, "sine:d=3,D=16,n=2000", &o), 0);
	double lo[3] = { 1e9, 1e9, 1e9 }, hi[3] = { -1e9, -1e9, -1e9 };
	for (size_t k = 0; k < d.train.n; k++) {
		struct sine_fit s = sine_fit_at(d.train.x + k * 16, 16, 22.0, 1);
		assert_true(s.rms < 1e-6);
		double v[3] = { s.a, s.b, s.c };
		for (int j = 0; j < 3; j++) {
			lo[j] = v[j] < lo[j] ? v[j] : lo[j];
			hi[j] = v[j] > hi[j] ? v[j] : hi[j];
		}
	}
	assert_true(lo[0] >= 0.1 - 1e-5 && lo[0] < 0.11 && hi[0] <= 1 + 1e-5 && hi[0] > 0.99);
	assert_true(lo[1] >= -1e-4 && lo[1] < 0.1 && hi[1] < 16 + 1e-4 && hi[1] > 15.9);
	assert_true(lo[2] >= -1e-5 && lo[2] < 0.01 && hi[2] <= 1 + 1e-5 && hi[2] > 0.99);
	dataset_free(&d);

	/* d = 2 has no bias: c = 0 is the fit without a constant */
	assert_int_equal(dataset_load(&d, "sine:d=2,D=16,n=300", &o), 0);
	assert_true(d.true_dim == 2);
	for (size_t k = 0; k < d.train.n; k++) {
		struct sine_fit s = sine_fit_at(d.train.x + k * 16, 16, 22.0, 0);
		assert_true(s.rms < 1e-6);
		assert_true(s.b >= -1e-4 && s.b < 16 + 1e-4);
	}
	dataset_free(&d);

	/* d = 4: every point is the formula for some a, b, c, f in range; the frequencies are
	 * spread over [11, 33] */
	assert_int_equal(dataset_load(&d, "sine:d=4,D=16,n=250", &o), 0);
	double f_min = 1e9, f_max = -1e9;
	for (size_t k = 0; k < d.train.n; k++) {
		struct sine_fit s = sine_fit_free(d.train.x + k * 16, 16);
		assert_true(s.rms < 1e-5);
		assert_true(s.a >= 0.1 - 1e-4 && s.a <= 1 + 1e-4);
		assert_true(s.c >= -1e-4 && s.c <= 1 + 1e-4);
		assert_true(s.f >= 11 - 1e-3 && s.f <= 33 + 1e-3);
		/* the phase: some b in [0, 16) gives it (b is known modulo 360 / f) */
		assert_true(s.b < 16 + 1e-3);
		f_min = s.f < f_min ? s.f : f_min;
		f_max = s.f > f_max ? s.f : f_max;
	}
	assert_true(f_min < 12 && f_max > 32);
	dataset_free(&d);

	/* noise: the residual of the exact fit has the noise's standard deviation, less the
	 * one degree of freedom the fit takes out of 16 */
	assert_int_equal(dataset_load(&d, "sine:d=1,D=16,n=2000,noise=0.1", &o), 0);
	double ss = 0;
	for (size_t k = 0; k < d.train.n; k++) {
		const float *x = d.train.x + k * 16;
		double num = 0, den = 0;
		for (int i = 0; i < 16; i++) {
			double u = sin(22.0 * i * M_PI / 180.0);
			num += u * x[i];
			den += u * u;
		}
		for (int i = 0; i < 16; i++) {
			double e = x[i] - num / den * sin(22.0 * i * M_PI / 180.0);
			ss += e * e;
		}
	}
	double sd = sqrt(ss / (15.0 * d.train.n));
	assert_true(sd > 0.098 && sd < 0.102);
	dataset_free(&d);

	/* seeded: the same seed the same points, another seed others */
	struct dataset e;
	assert_int_equal(dataset_load(&d, "sine:d=2,n=200,noise=0.1", &o), 0);
	assert_int_equal(dataset_load(&e, "sine:d=2,n=200,noise=0.1", &o), 0);
	assert_memory_equal(d.train.x, e.train.x, sizeof(float) * d.train.n * 16);
	dataset_free(&e);
	o.seed = 2;
	assert_int_equal(dataset_load(&e, "sine:d=2,n=200,noise=0.1", &o), 0);
	assert_true(memcmp(d.train.x, e.train.x, sizeof(float) * d.train.n * 16) != 0);
	dataset_free(&e);
	dataset_free(&d);

	/* bad specs name the key and what to do */
	static const struct {
		const char *spec, *message;
	} bad[] = {
		{ "sine:d=5", "sine: d must be between 1 and 4 (got 5)" },
		{ "sine:d=5", "lower d" },
		{ "sine:d=0", "sine: d must be a positive whole number (got 0)" },
		{ "sine:d=2.5", "sine: d must be a positive whole number (got 2.5)" },
		{ "sine:d=4,D=3", "sine: D must be between d = 4 and" },
		{ "sine:d=4,D=3", "raise D" },
		{ "sine:D=16,amplitude=1", "sine: unknown key 'amplitude' (keys: d,D,n,noise)" },
		{ "sine:noise=-0.1", "sine: noise must be >= 0" },
		{ "sine:n=x", "sine: n=x is not a number" },
		{ "sine:d", "sine: expected key=value, got 'd'" },
		{ "sine:n=100000000,D=16", "lower n or D" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(dataset_load(&d, bad[i].spec, &o), -1);
		if (!strstr(ds_errmsg(), bad[i].message))
			fail_msg("%s: expected '%s' in '%s'", bad[i].spec, bad[i].message,
				 ds_errmsg());
	}
}

static void test_splits_fixed_by_seed(void **state)
{
	(void)state;
	struct data_opts o;
	data_opts_defaults(&o);
	o.seed = 9;
	o.n_train = 100;
	struct dataset a, b;
	assert_int_equal(dataset_load(&a, "affine:d=2,D=5,n=1000,noise=0.1", &o), 0);
	assert_int_equal(dataset_load(&b, "affine:d=2,D=5,n=1000,noise=0.1", &o), 0);
	assert_int_equal(a.train.n, 100);
	assert_int_equal(a.val.n, 100);
	assert_memory_equal(a.train.x, b.train.x, sizeof(float) * 100 * 5);
	assert_memory_equal(a.test.x, b.test.x, sizeof(float) * a.test.n * 5);
	dataset_free(&b);
	o.seed = 10;
	assert_int_equal(dataset_load(&b, "affine:d=2,D=5,n=1000,noise=0.1", &o), 0);
	assert_true(memcmp(a.train.x, b.train.x, sizeof(float) * 100 * 5) != 0);
	dataset_free(&a);
	dataset_free(&b);
}

static void test_fashion_mnist(void **state)
{
	(void)state;
	if (!file_exists(FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz")) {
		print_message("Fashion-MNIST not installed; skipped\n");
		skip();
	}
	struct data_opts o;
	data_opts_defaults(&o);
	o.n_train = 1000;
	o.n_test = 500;
	struct dataset d;
	assert_int_equal(dataset_load(&d, "fashion-mnist", &o), 0);
	assert_int_equal(d.dim, 784);
	assert_int_equal(d.n_classes, 10);
	assert_int_equal(d.train.n, 1000);
	assert_int_equal(d.val.n, 5000);
	assert_int_equal(d.test.n, 500);
	int count[10] = { 0 };
	for (size_t i = 0; i < d.val.n; i++)
		count[d.val.y[i]]++;
	for (int c = 0; c < 10; c++) /* 5000 of a balanced 60000: about 500 each */
		assert_true(count[c] > 400 && count[c] < 600);
	dataset_free(&d);
	assert_int_equal(dataset_load(&d, "fashion-mnist:dir=/nonexistent", &o), -1);
	assert_non_null(strstr(ds_errmsg(), "dataset-fashion-mnist"));
}

/* A Fashion-MNIST folder of small files: the two pairs load on two threads, and a broken
 * file in either is reported by name, whichever thread read it. */
static void test_fashion_folder_pairs(void **state)
{
	(void)state;
	char dir[512], spec[600], tr_x[600], tr_y[600], te_x[600], te_y[600];
	snprintf(dir, sizeof(dir), "%s", tmp_path("fashion"));
	mkdir(dir, 0755);
	snprintf(tr_x, sizeof(tr_x), "%s/train-images-idx3-ubyte.gz", dir);
	snprintf(tr_y, sizeof(tr_y), "%s/train-labels-idx1-ubyte.gz", dir);
	snprintf(te_x, sizeof(te_x), "%s/t10k-images-idx3-ubyte.gz", dir);
	snprintf(te_y, sizeof(te_y), "%s/t10k-labels-idx1-ubyte.gz", dir);
	snprintf(spec, sizeof(spec), "fashion-mnist:dir=%s", dir);
	struct data_opts o;
	data_opts_defaults(&o);
	o.n_val = 5;
	omp_set_num_threads(2);
	for (int broken = -1; broken < 2; broken++) {
		make_pair(tr_x, tr_y, 1);
		make_pair(te_x, te_y, 1);
		if (broken >= 0) /* labels that do not match their images */
			write_text(broken ? te_y : tr_y, "not an IDX file");
		struct dataset d;
		int rc = dataset_load(&d, spec, &o);
		if (broken < 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(d.train.n, 25);
			assert_int_equal(d.val.n, 5);
			assert_int_equal(d.test.n, 30);
			assert_int_equal(d.dim, 12);
			dataset_free(&d);
		} else {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(ds_errmsg(), broken ? "t10k-labels" : "train-labels"));
		}
	}
	omp_set_num_threads(1);
}

/* ---- scaling ---- */

/* A split of n rows of 2 features from v, malloc'd as dataset_free expects. */
static void fill_split(struct split *s, size_t n, const float *v)
{
	s->n = n;
	s->dim = 2;
	s->x = malloc(sizeof(float) * n * 2);
	assert_non_null(s->x);
	memcpy(s->x, v, sizeof(float) * n * 2);
}

/* Train (1, 10), (3, 10), (5, 10): the second feature constant; validation (7, 4), test
 * (-1, 10), each far from the training rows, so that their own statistics would differ. */
static void small_set(struct dataset *d)
{
	memset(d, 0, sizeof(*d));
	d->dim = 2;
	fill_split(&d->train, 3, (const float[]){ 1, 10, 3, 10, 5, 10 });
	fill_split(&d->val, 1, (const float[]){ 7, 4 });
	fill_split(&d->test, 1, (const float[]){ -1, 10 });
}

static void test_scale_closed_form(void **state)
{
	(void)state;
	struct dataset d;
	/* zscore: mean 3, sd sqrt(8/3) of the first feature; the constant one has sd 0 and
	 * maps to 0 (shift 10, spread 1), never a division by zero */
	small_set(&d);
	d.unit_range = 1;
	assert_int_equal(dataset_scale(&d, SCALE_ZSCORE), 0);
	double sd = sqrt(8.0 / 3.0);
	assert_int_equal(d.scale, SCALE_ZSCORE);
	assert_int_equal(d.unit_range, 0); /* a sigmoid output cannot reach negative values */
	/* output_act auto ("by the data") is then linear, as zscore'd data needs */
	assert_int_equal(ae_arch_plain(2, NULL, 0, 1, ACT_RELU, ACT_RELU, -1, d.unit_range)
				 .output_act,
			 ACT_IDENTITY);
	assert_float_equal(d.train.x[0], -2 / sd, 1e-6);
	assert_float_equal(d.train.x[2], 0, 1e-6);
	assert_float_equal(d.train.x[4], 2 / sd, 1e-6);
	for (int i = 0; i < 3; i++)
		assert_float_equal(d.train.x[2 * i + 1], 0, 0);
	assert_float_equal(d.spread[1], 1, 0);
	/* validation and test by the training split's mean and sd, not their own (which would
	 * map their single rows to 0) */
	assert_float_equal(d.val.x[0], 4 / sd, 1e-6);
	assert_float_equal(d.val.x[1], -6, 1e-6);
	assert_float_equal(d.test.x[0], -4 / sd, 1e-6);
	assert_float_equal(d.test.x[1], 0, 0);
	dataset_free(&d);

	/* minmax: the training split onto [0, 1], the others by its minimum and range */
	small_set(&d);
	assert_int_equal(dataset_scale(&d, SCALE_MINMAX), 0);
	assert_int_equal(d.unit_range, 1);
	const float train[] = { 0, 0, 0.5f, 0, 1, 0 };
	for (int i = 0; i < 6; i++)
		assert_float_equal(d.train.x[i], train[i], 1e-7);
	assert_float_equal(d.val.x[0], 1.5, 1e-7);
	assert_float_equal(d.val.x[1], -6, 1e-7);
	assert_float_equal(d.test.x[0], -0.5, 1e-7);
	dataset_free(&d);

	/* none: the data as loaded, no statistics kept */
	small_set(&d);
	d.unit_range = 1;
	assert_int_equal(dataset_scale(&d, SCALE_NONE), 0);
	assert_null(d.shift);
	assert_int_equal(d.unit_range, 1);
	assert_float_equal(d.val.x[0], 7, 0);
	dataset_free(&d);
}

/* On a generated set: every training column of zscore'd data has mean 0 and sd 1, and the
 * validation rows are the raw rows mapped by the training split's statistics. */
static void test_scale_zscore_columns(void **state)
{
	(void)state;
	struct data_opts o;
	data_opts_defaults(&o);
	struct dataset raw, d;
	assert_int_equal(dataset_load(&raw, "affine:d=3,D=8,n=2000,noise=0.1", &o), 0);
	assert_int_equal(dataset_load(&d, "affine:d=3,D=8,n=2000,noise=0.1", &o), 0);
	assert_int_equal(dataset_scale(&d, SCALE_ZSCORE), 0);
	for (int j = 0; j < d.dim; j++) {
		double sum = 0, sq = 0, raw_mean = 0, raw_sq = 0;
		for (size_t i = 0; i < d.train.n; i++) {
			double v = d.train.x[i * 8 + j];
			sum += v;
			sq += v * v;
			raw_mean += raw.train.x[i * 8 + j];
		}
		double mean = sum / (double)d.train.n;
		assert_true(fabs(mean) < 1e-5);
		assert_true(fabs(sqrt(sq / (double)d.train.n - mean * mean) - 1) < 1e-5);
		raw_mean /= (double)raw.train.n;
		for (size_t i = 0; i < raw.train.n; i++) {
			double dv = raw.train.x[i * 8 + j] - raw_mean;
			raw_sq += dv * dv;
		}
		double raw_sd = sqrt(raw_sq / (double)raw.train.n);
		for (size_t i = 0; i < d.val.n; i++) {
			double want = (raw.val.x[i * 8 + j] - raw_mean) / raw_sd;
			assert_true(fabs(d.val.x[i * 8 + j] - want) < 1e-4);
		}
	}
	dataset_free(&raw);
	dataset_free(&d);
}

static void test_scale_names_and_defaults(void **state)
{
	(void)state;
	enum data_scale s;
	assert_int_equal(data_scale_parse("zscore", &s), 0);
	assert_int_equal(s, SCALE_ZSCORE);
	assert_int_equal(data_scale_parse("minmax", &s), 0);
	assert_int_equal(s, SCALE_MINMAX);
	assert_int_equal(data_scale_parse("none", &s), 0);
	assert_int_equal(s, SCALE_NONE);
	assert_int_equal(data_scale_parse("standard", &s), -1);
	assert_string_equal(data_scale_name(SCALE_MINMAX), "minmax");
	assert_int_equal(data_scale_default("csv:/tmp/x.csv,label=last"), SCALE_ZSCORE);
	assert_int_equal(data_scale_default("fashion-mnist"), SCALE_NONE);
	assert_int_equal(data_scale_default("idx:a.gz"), SCALE_NONE);
	assert_int_equal(data_scale_default("M7_Roll:n=1000"), SCALE_NONE);
	assert_int_equal(data_scale_default("affine:d=3"), SCALE_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idx_valid_plain_and_gz),
		cmocka_unit_test(test_fashion_folder_pairs),
		cmocka_unit_test(test_idx_truncated),
		cmocka_unit_test(test_idx_wrong_magic_and_mismatch),
		cmocka_unit_test(test_corrupt_gzip),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_synthetic_geometry),
		cmocka_unit_test(test_sine),
		cmocka_unit_test(test_splits_fixed_by_seed),
		cmocka_unit_test(test_scale_closed_form),
		cmocka_unit_test(test_scale_zscore_columns),
		cmocka_unit_test(test_scale_names_and_defaults),
		cmocka_unit_test(test_fashion_mnist),
	};
	return cmocka_run_group_tests_name("data", tests, NULL, NULL);
}
