/* test_layout.c: the dependencies between folders run one way, as README's "Layout" says:
 * core/ includes nothing of the other folders, search/ nothing of baselines/, no strategy
 * reaches the store (only the scheduler joins the two), and no two files include each
 * other, directly or through others. Run from the top of the tree. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 256
#define MAX_INCLUDES 32

struct file {
	char path[128];                  /* "search/grid.c" */
	char includes[MAX_INCLUDES][128];
	int n;
};

static struct file files[MAX_FILES];
static int n_files;

/* "dir/../x.h" and "dir/./x.h" resolved, relative to the top */
static void normalise(const char *dir, const char *name, char *out, size_t size)
{
	char buf[600], *parts[16];
	int n = 0;
	snprintf(buf, sizeof(buf), "%s%s%s", dir, *dir ? "/" : "", name);
	for (char *save = NULL, *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save))
		if (!strcmp(p, ".."))
			n = n > 0 ? n - 1 : 0;
		else if (strcmp(p, ".") && n < 16)
			parts[n++] = p;
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "/" : "", parts[i]);
}

static void read_file(const char *dir, const char *name)
{
	assert_true(n_files < MAX_FILES);
	struct file *f = &files[n_files++];
	snprintf(f->path, sizeof(f->path), "%s%s%s", dir, *dir ? "/" : "", name);
	FILE *in = fopen(f->path, "r");
	assert_non_null(in);
	char line[512];
	while (fgets(line, sizeof(line), in)) {
		char inc[256];
		if (sscanf(line, " #include \"%255[^\"]\"", inc) == 1) {
			assert_true(f->n < MAX_INCLUDES);
			normalise(dir, inc, f->includes[f->n++], sizeof(f->includes[0]));
		}
	}
	fclose(in);
}

static void read_dir(const char *dir)
{
	DIR *d = opendir(*dir ? dir : ".");
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 2 && e->d_name[len - 2] == '.' &&
		    (e->d_name[len - 1] == 'c' || e->d_name[len - 1] == 'h'))
			read_file(dir, e->d_name);
	}
	closedir(d);
}

static int setup(void **state)
{
	(void)state;
	const char *dirs[] = { "", "core", "search", "baselines", "results" };
	for (int i = 0; i < 5; i++)
		read_dir(dirs[i]);
	return 0;
}

static struct file *find(const char *path)
{
	for (int i = 0; i < n_files; i++)
		if (!strcmp(files[i].path, path))
			return &files[i];
	return NULL;
}

static int in_folder(const char *path, const char *folder)
{
	size_t n = strlen(folder);
	return !strncmp(path, folder, n) && path[n] == '/';
}

/* Whether from reaches target through includes (seen: visited marks). */
static int reaches(const struct file *from, const char *target, char *seen)
{
	for (int i = 0; i < from->n; i++) {
		if (!strcmp(from->includes[i], target))
			return 1;
		struct file *next = find(from->includes[i]);
		if (next && !seen[next - files]) {
			seen[next - files] = 1;
			if (reaches(next, target, seen))
				return 1;
		}
	}
	return 0;
}

static void test_folders_depend_one_way(void **state)
{
	(void)state;
	assert_true(n_files > 40);
	int checked = 0;
	for (int i = 0; i < n_files; i++) {
		const struct file *f = &files[i];
		for (int k = 0; k < f->n; k++) {
			const char *to = f->includes[k];
			if (in_folder(f->path, "core") && !in_folder(to, "core"))
				fail_msg("%s includes %s: core/ includes only core/", f->path, to);
			if (in_folder(f->path, "search") && in_folder(to, "baselines"))
				fail_msg("%s includes %s: search/ never names a baseline", f->path, to);
			checked++;
		}
	}
	assert_true(checked > 50);
}

static void test_only_the_scheduler_joins_strategies_and_store(void **state)
{
	(void)state;
	for (int i = 0; i < n_files; i++) {
		const struct file *f = &files[i];
		if (!in_folder(f->path, "search") && !in_folder(f->path, "baselines"))
			continue;
		if (!strcmp(f->path, "search/scheduler.c"))
			continue;
		char seen[MAX_FILES] = { 0 };
		if (reaches(f, "results/store.h", seen))
			fail_msg("%s reaches results/store.h", f->path);
	}
	char seen[MAX_FILES] = { 0 };
	assert_true(reaches(find("search/scheduler.c"), "results/store.h", seen));
}

static void test_no_include_cycle(void **state)
{
	(void)state;
	for (int i = 0; i < n_files; i++) {
		char seen[MAX_FILES] = { 0 };
		if (reaches(&files[i], files[i].path, seen))
			fail_msg("%s includes itself through others", files[i].path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folders_depend_one_way),
		cmocka_unit_test(test_only_the_scheduler_joins_strategies_and_store),
		cmocka_unit_test(test_no_include_cycle),
	};
	return cmocka_run_group_tests_name("layout", tests, setup, NULL);
}
