/* test_fuzz_regressions.c: every input the fuzzers ever broke a loader with, kept in
 * tests/fuzz/regressions/{ini,idx,csv}/, goes through the same loader again: it must come
 * back with a result or a message (the ASan build of this test catches memory errors). */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/data.h"
#include "../core/err.h"
#include "../search/experiment.h"
#include "../strategies.h"

#define DIR_OF(kind) "tests/fuzz/regressions/" kind

static int each_file(const char *dir, void (*fn)(const char *path))
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fn(path);
		n++;
	}
	closedir(d);
	return n;
}

static void load_ini(const char *path)
{
	struct experiment_file f;
	int rc = experiments_load(&f, path, dimsearch_strategies());
	assert_true(rc == 0 || (rc == -1 && f.n_errors > 0));
	experiments_free(&f);
}

static void load_idx(const char *path)
{
	for (int dims = 1; dims <= 3; dims += 2) {
		unsigned char *data = NULL;
		size_t n, item;
		if (idx_read(path, dims, &data, &n, &item) == 0)
			free(data);
		else
			assert_true(strstr(ds_errmsg(), path) != NULL);
	}
}

static void load_csv(const char *path)
{
	char spec[1100];
	snprintf(spec, sizeof(spec), "csv:%s,label=last", path);
	struct data_opts o;
	data_opts_defaults(&o);
	struct dataset d;
	if (dataset_load(&d, spec, &o) == 0)
		dataset_free(&d);
}

static void test_regressions(void **state)
{
	(void)state;
	int n = each_file(DIR_OF("ini"), load_ini) + each_file(DIR_OF("idx"), load_idx) +
		each_file(DIR_OF("csv"), load_csv);
	assert_true(n >= 1);
	/* the first finding: 8 bytes announcing a huge image set are truncated, not allocated */
	unsigned char *data = NULL;
	size_t count, item;
	const char *huge = DIR_OF("idx") "/huge-header-few-bytes.idx";
	assert_int_equal(idx_read(huge, 3, &data, &count, &item), -1);
	assert_non_null(strstr(ds_errmsg(), "truncated"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regressions),
	};
	return cmocka_run_group_tests_name("fuzz regressions", tests, NULL, NULL);
}
