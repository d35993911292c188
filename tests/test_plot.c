/* test_plot.c: dimsearch plot on a database made by the smoke experiment: every figure as a
 * valid PNG and an SVG that parses, with the expected number of data series; and without
 * gnuplot, a clear message, exit code 2 and no files. Run from the repository root. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIN "./dimsearch"

static char out[1 << 16];
static char db[512];

static int setup(void **state)
{
	(void)state;
	snprintf(db, sizeof(db), "%s", tmp_path("plot.db"));
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), BIN " run --experiment smoke --db %s --quiet", db);
	return run_command(cmd, out, sizeof(out)) == 0 ? 0 : -1;
}

/* Well-formed enough: every element closed in order (comments, declarations and
 * self-closing tags handled); returns the depth error count. */
static int xml_balanced(const char *s)
{
	char stack[256][64];
	int depth = 0;
	for (const char *p = s; (p = strchr(p, '<'));) {
		if (!strncmp(p, "<!--", 4)) {
			p = strstr(p, "-->");
			if (!p)
				return 0;
			continue;
		}
		const char *end = strchr(p, '>');
		if (!end)
			return 0;
		if (p[1] == '?' || p[1] == '!') {
			p = end + 1;
			continue;
		}
		if (p[1] == '/') {
			char name[64];
			sscanf(p + 2, "%63[^ >\t\n]", name);
			if (depth == 0 || strcmp(stack[depth - 1], name))
				return 0;
			depth--;
		} else if (end[-1] != '/') {
			if (depth == 256)
				return 0;
			sscanf(p + 1, "%63[^ >\t\n/]", stack[depth++]);
		}
		p = end + 1;
	}
	return depth == 0;
}

static void check_figure(const char *dir, const char *name, int series)
{
	char path[1024];
	size_t size;
	snprintf(path, sizeof(path), "%s/%s.png", dir, name);
	char *png = slurp(path, &size);
	if (!png)
		fail_msg("%s was not written", path);
	assert_true(size > 2000);
	assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
	free(png);
	snprintf(path, sizeof(path), "%s/%s.svg", dir, name);
	char *svg = slurp(path, &size);
	if (!svg)
		fail_msg("%s was not written", path);
	assert_non_null(strstr(svg, "<svg"));
	if (!xml_balanced(svg))
		fail_msg("%s does not parse as XML", path);
	int n = svg_series(svg);
	if (n != series)
		fail_msg("%s has %d data series, expected %d", path, n, series);
	free(svg);
}

static void test_every_figure(void **state)
{
	(void)state;
	char dir[512], cmd[2048];
	snprintf(dir, sizeof(dir), "%s", tmp_path("figures"));
	snprintf(cmd, sizeof(cmd), BIN " plot --db %s --experiment smoke --out %s", db, dir);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
	assert_non_null(strstr(out, "6 figures of smoke"));
	/* smoke runs grid and SOSAE on data of dimension 3 */
	check_figure(dir, "smoke/smoke-flops", 3);   /* two kinds of bar, ratio labels */
	check_figure(dir, "smoke/smoke-grid", 4);    /* validation, test, chosen marks, labels */
	check_figure(dir, "smoke/smoke-active", 2);  /* SOSAE's K* per epoch, grid's choice */
	check_figure(dir, "smoke/smoke-profile", 2); /* mean and max |h_k| */
	check_figure(dir, "smoke/smoke-cost", 2);    /* grid's point, SOSAE's */
	check_figure(dir, "smoke/smoke-knownid", 3); /* grid, sosae, the diagonal */
	/* the data behind them, for re-running the scripts by hand */
	char path[1024];
	snprintf(path, sizeof(path), "%s/smoke/data/grid.tsv", dir);
	assert_true(file_exists(path));
	/* its folder alone: nothing beside it */
	snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	assert_string_equal(out, "smoke\n");
}

/* The single-run peers' figures: Least Volume's units sorted by std with the frozen ones
 * marked, IRMAE's normalised spectrum; their data against the decisions they come from. */
static void test_peer_figures(void **state)
{
	(void)state;
	char ini[512], pdb[512], dir[512], cmd[4096], path[1024];
	snprintf(ini, sizeof(ini), "%s", tmp_path("peers.ini"));
	snprintf(pdb, sizeof(pdb), "%s", tmp_path("peers.db"));
	snprintf(dir, sizeof(dir), "%s", tmp_path("peer-figures"));
	write_text(ini, "[peers]\ndataset = affine:d=3,D=16,n=1500,noise=0.02\nhidden = 32\n"
			"epochs = 10\nbatch = 64\nlr = 0.003\nseeds = 1,2\nk_max = 8\n"
			"delivery.epochs = 1\nstrategies = leastvolume, irmae\n");
	snprintf(cmd, sizeof(cmd),
		 BIN " run --config %s --experiment peers --db %s --quiet && " BIN
		     " plot --db %s --experiment peers --out %s",
		 ini, pdb, pdb, dir);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
	check_figure(dir, "peers/peers-lvstd", 2); /* alive, frozen */
	check_figure(dir, "peers/peers-irmae", 1); /* the spectrum */
	for (int which = 0; which < 2; which++) {
		snprintf(path, sizeof(path), "%s/peers/data/%s.tsv", dir,
			 which ? "irmae" : "lvstd");
		char *tsv = slurp(path, NULL);
		assert_non_null(tsv);
		/* 8 units a seed, ranked 1..8, values non-increasing within a seed */
		int rows = 0, last_seed = 0, rank, seed, frozen, unit, k;
		double v, prev = 0;
		for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
			int n = which ? sscanf(line, "%d\t%lf\t%d\t%d", &rank, &v, &seed, &k)
				      : sscanf(line, "%d\t%lf\t%d\t%d\t%d\t%d", &rank, &v, &frozen,
					       &seed, &unit, &k);
			assert_int_equal(n, which ? 4 : 6);
			assert_int_equal(rank, seed == last_seed ? rank : 1);
			if (seed == last_seed)
				assert_true(v <= prev);
			else if (which)
				assert_true(v == 1); /* normalised by the largest */
			assert_true(k >= 1 && k <= 8);
			if (!which && frozen) {
				/* a frozen unit is listed in its decision's details */
				char q[256], *dump;
				snprintf(q, sizeof(q),
					 "SELECT count(*) FROM decision d, json_each(d.details, "
					 "'$.frozen_units') z WHERE d.strategy = 'leastvolume' AND "
					 "d.seed = %d AND z.value = %d",
					 seed, unit - 1);
				dump = db_dump(pdb, q);
				assert_non_null(strstr(dump, "1"));
				free(dump);
			}
			last_seed = seed;
			prev = v;
			rows++;
		}
		assert_int_equal(rows, 16);
		free(tsv);
	}
}

/* Without --experiment, plot draws what report shows: every experiment with decisions, each
 * into its own folder; a group's name draws each of its experiments, and the group's own
 * figures into the group's folder. */
static void test_plot_and_report_agree(void **state)
{
	(void)state;
	char ini[512], gdb[512], dir[512], cmd[4096], path[1024];
	snprintf(ini, sizeof(ini), "%s", tmp_path("agree.ini"));
	snprintf(gdb, sizeof(gdb), "%s", tmp_path("agree.db"));
	snprintf(dir, sizeof(dir), "%s", tmp_path("agree-figures"));
	write_text(ini, "[g.a]\ndataset = affine:d=2,D=8,n=600\nhidden = 8\nepochs = 2\n"
			"batch = 64\ngrid = 1..3\nstrategies = grid, mle\n"
			"[g.b]\ndataset = affine:d=3,D=8,n=600\nhidden = 8\nepochs = 2\n"
			"batch = 64\ngrid = 1..4\nstrategies = grid, mle\n"
			"[lone]\ndataset = affine:d=1,D=4,n=600\nhidden = 8\nepochs = 2\n"
			"batch = 64\ngrid = 1..2\nstrategies = grid\n");
	snprintf(cmd, sizeof(cmd),
		 BIN " run --config %s --experiment g --experiment lone --db %s --quiet", ini,
		 gdb);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
	/* (the estimator's one trial trains only the model it delivers; grid's choose K) */
	char *roles = db_dump(gdb, "SELECT group_concat(DISTINCT strategy || ':' || role) FROM "
				   "(SELECT strategy, role FROM trial ORDER BY strategy)");
	assert_string_equal(roles, "grid:search,mle:delivery\n");
	free(roles);
	/* the experiments report shows */
	snprintf(cmd, sizeof(cmd),
		 BIN " report --db %s --format csv | sed 1d | cut -d, -f1 | sort -u | tr '\\n' ' '",
		 gdb);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	assert_string_equal(out, "g.a g.b lone ");
	snprintf(cmd, sizeof(cmd), BIN " plot --db %s --out %s", gdb, dir);
	rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
	/* one line per experiment (nothing the figures' processes printed twice) */
	const char *line = strstr(out, "figures of g.a in ");
	assert_non_null(line);
	assert_null(strstr(line + 1, "figures of g.a in "));
	assert_non_null(strstr(line, ", its group's in "));
	/* one folder per experiment reported, and the group's */
	snprintf(cmd, sizeof(cmd), "ls '%s' | tr '\\n' ' '", dir);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	assert_string_equal(out, "g g.a g.b lone ");
	check_figure(dir, "g.a/g.a-grid", 4);
	check_figure(dir, "lone/lone-grid", 4);
	/* chosen K against d over the group's two data sets: grid, mle, the diagonal */
	check_figure(dir, "g/g-knownid", 3);
	snprintf(path, sizeof(path), "%s/g/data/knownid.tsv", dir);
	assert_true(file_exists(path));
	/* a group by name: its experiments alone */
	snprintf(dir, sizeof(dir), "%s", tmp_path("agree-group"));
	snprintf(cmd, sizeof(cmd), BIN " plot --db %s --experiment g --out %s && ls '%s' | tr "
				   "'\\n' ' '",
		 gdb, dir, dir);
	rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
	assert_non_null(strstr(out, "g g.a g.b "));
	assert_null(strstr(out, "lone"));
}

static void test_without_gnuplot(void **state)
{
	(void)state;
	char dir[512], cmd[2048];
	snprintf(dir, sizeof(dir), "%s", tmp_path("nothing"));
	snprintf(cmd, sizeof(cmd), "PATH=/nonexistent " BIN " plot --db %s --experiment smoke "
				   "--out %s", db, dir);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "gnuplot not found"));
	assert_non_null(strstr(out, "gnuplot-nox"));
	assert_false(file_exists(dir)); /* nothing written, not even the folder */
	/* and an unknown experiment is named */
	snprintf(cmd, sizeof(cmd), BIN " plot --db %s --experiment nope --out %s", db, dir);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "no experiment 'nope'"));
	assert_false(file_exists(dir));
	/* a group none of whose experiments has decided yet: nothing to draw either */
	snprintf(cmd, sizeof(cmd), "sqlite3 %s \"INSERT INTO experiment (name, hash, dataset, "
				   "config) VALUES ('grp.one', 'h', 'affine', '')\"", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), BIN " plot --db %s --experiment grp --out %s", db, dir);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "no experiment 'grp'"));
	assert_false(file_exists(dir));
}

/* Whether a folder holds an entry whose name starts with prefix. */
static int has_entry(const char *dir, const char *prefix)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' 2>/dev/null | grep -q '^%s'", dir, prefix);
	return system(cmd) == 0;
}

/* A folder name with a quote and a crafted one that would run a command if it reached
 * gnuplot as code: the figures land in the folder named, and nothing runs. */
static void test_folder_names_are_not_code(void **state)
{
	(void)state;
	char base[512], dir[1024], cmd[4096], marker[1024];
	snprintf(base, sizeof(base), "%s", tmp_path("names"));
	snprintf(marker, sizeof(marker), "%s/ran", base);
	const char *names[] = { "it's", "x'; system('touch ../ran'); y='" };
	for (int i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", base, names[i]);
		snprintf(cmd, sizeof(cmd), "mkdir -p \"%s\" && " BIN " plot --db %s --experiment smoke "
					   "--out \"%s\"", dir, db, dir);
		int rc = run_command(cmd, out, sizeof(out));
		if (rc != 0)
			fail_msg("%s exited %d:\n%s", cmd, rc, out);
		char png[1200];
		snprintf(png, sizeof(png), "%s/smoke/smoke-grid.png", dir);
		assert_true(file_exists(png));
		assert_false(file_exists(marker));
	}
}

static void test_plot_failures_leave_nothing(void **state)
{
	(void)state;
	char dir[512], file[512], cmd[4096];
	snprintf(dir, sizeof(dir), "%s", tmp_path("interrupted"));
	snprintf(file, sizeof(file), "%s", tmp_path("a-file"));
	write_text(file, "not a folder\n");
	/* --out naming a file, or nothing: usage errors */
	snprintf(cmd, sizeof(cmd), BIN " plot --db %s --experiment smoke --out %s", db, file);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "is a file, not a folder"));
	snprintf(cmd, sizeof(cmd), BIN " plot --db %s --experiment smoke --out ''", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 2);
	/* a gnuplot that cannot run says so, and stages nothing */
	char fake[512];
	snprintf(fake, sizeof(fake), "%s", tmp_path("fakebin"));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && printf 'x' > %s/gnuplot && chmod +x "
				   "%s/gnuplot && PATH=%s " BIN " plot --db %s --experiment smoke "
				   "--out %s",
		 fake, fake, fake, fake, db, dir);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "gnuplot"));
	assert_null(strstr(out, "its message is above"));
	assert_false(has_entry(dir, ".plot-"));
	/* SIGTERM while a (slow) gnuplot draws: exit 130, no staging folder left */
	snprintf(cmd, sizeof(cmd), "printf '#!/bin/sh\\n/bin/sleep 5\\n' > %s/gnuplot && "
				   "(PATH=%s " BIN " plot --db %s --experiment smoke --out %s & "
				   "pid=$!; sleep 1; kill -TERM $pid; wait $pid)",
		 fake, fake, db, dir);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 130);
	assert_non_null(strstr(out, "interrupted"));
	assert_false(has_entry(dir, ".plot-"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_figure),
		cmocka_unit_test(test_peer_figures),
		cmocka_unit_test(test_plot_and_report_agree),
		cmocka_unit_test(test_without_gnuplot),
		cmocka_unit_test(test_folder_names_are_not_code),
		cmocka_unit_test(test_plot_failures_leave_nothing),
	};
	return cmocka_run_group_tests_name("plot", tests, setup, NULL);
}
