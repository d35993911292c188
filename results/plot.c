/* plot.c: exporting each figure's data from the views and running its gnuplot script. */
#include "plot.h"

#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/err.h"

/* Asperti's activity threshold on Var(mu), drawn in the VAE's figure (baselines/vae.h
 * holds the one the strategy counts with; results/ does not include baselines/) */
#define VAE_THRESHOLD 0.05

int plot_find_gnuplot(char *path, int size)
{
	const char *env = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof(dirs), "%s", env ? env : "");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(path, (size_t)size, "%s/gnuplot", d);
		if (access(path, X_OK) == 0)
			return 0;
	}
	return ds_fail("gnuplot not found on PATH: install it with 'apt-get install gnuplot-nox' "
		       "(or run 'make deps' as root)");
}

/* ---- export ---- */

/* the ? parameters of a query, in order */
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct writer {
	FILE *f;
	int rows;
};

/* One row of a query as a tab-separated line of the data file. */
static int write_row(void *ctx, int ncol, char **names, char **values)
{
	(void)names;
	struct writer *w = ctx;
	for (int i = 0; i < ncol; i++)
		fprintf(w->f, "%s%s", i ? "\t" : "", values[i] ? values[i] : "NaN");
	fputc('\n', w->f);
	w->rows++;
	return 0;
}

/* Append the rows of sql to f; returns the count or -1. */
static int export_rows(struct store *s, FILE *f, const char *sql, const char *const *params)
{
	struct writer w = { f, 0 };
	if (store_query(s, sql, params, write_row, &w))
		return -1;
	return w.rows;
}

static FILE *open_data(const char *dir, const char *name)
{
	char path[2048];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		ds_fail("cannot write %s: %s", path, strerror(errno));
	return f;
}

/* Blocks of (x, y) per strategy, each opened by a header line "x<TAB>name" and closed by two
 * blank lines (gnuplot's index). Returns the number of blocks, or -1. */
struct blocks {
	struct store *s;
	FILE *f;
	const char *rows_sql;      /* its parameters: the strategy, then the experiment if any */
	const char *experiment;    /* NULL: every experiment */
	const char *x_name;
	int n;
	int failed;
};

/* One strategy's rows as a gnuplot data block (blank lines between blocks). */
static int write_block(void *ctx, int ncol, char **names, char **values)
{
	(void)names;
	struct blocks *b = ctx;
	if (ncol < 1 || !values[0])
		return 0;
	fprintf(b->f, "%s\t%s\n", b->x_name, values[0]);
	if (export_rows(b->s, b->f, b->rows_sql, ARGS(values[0], b->experiment)) < 0) {
		b->failed = 1;
		return 1;
	}
	fputs("\n\n", b->f);
	b->n++;
	return 0;
}

/* Into the data file dir/name, a block for each strategy list_sql (with params) names: b's
 * rows for it. b->n blocks, 0; or -1. */
static int write_blocks(struct blocks *b, const char *dir, const char *name,
			const char *list_sql, const char *const *params)
{
	b->f = open_data(dir, name);
	if (!b->f)
		return -1;
	int rc = store_query(b->s, list_sql, params, write_block, b);
	fclose(b->f);
	return rc || b->failed ? -1 : 0;
}

/* ---- rendering ---- */

/* Run gnuplot on one script in the scripts' folder with the variables in vars. A signal
 * to dimsearch (Ctrl-C, SIGTERM) ends gnuplot too. */
static int run_gnuplot(const char *gnuplot, const char *scripts_dir, const char *script,
		       const char *vars)
{
	/* what the parent buffered must not be written again by the child */
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return ds_fail("cannot start gnuplot: %s", strerror(errno));
	if (pid == 0) {
		if (chdir(scripts_dir) != 0)
			_exit(125);
		if (!freopen("/dev/null", "w", stdout))
			_exit(125);
		execl(gnuplot, "gnuplot", "-e", vars, script, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return ds_fail("cannot wait for gnuplot: %s", strerror(errno));
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
		return ds_fail("interrupted");
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 125)
		return ds_fail("cannot use the scripts' folder %s", scripts_dir);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return ds_fail("cannot run %s (not an executable gnuplot?)", gnuplot);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return ds_fail("gnuplot failed on %s/%s (%s %d); its message is above",
			       scripts_dir, script, WIFEXITED(status) ? "exit" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 0;
}

/* text as a gnuplot single-quoted string into out (a quote doubled; nothing else is special
 * inside single quotes); -1 when it does not fit or holds a control character, which no
 * quoting makes safe on gnuplot's command line. */
static int gp_quote(const char *text, char *out, size_t size)
{
	size_t n = 0;
	if (size < 3)
		return -1;
	out[n++] = '\'';
	for (const char *c = text; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f || n + 3 >= size)
			return -1;
		if (*c == '\'')
			out[n++] = '\'';
		out[n++] = *c;
	}
	out[n++] = '\'';
	out[n] = '\0';
	return 0;
}

/* Render one figure as PNG and SVG into stage/EXPERIMENT/EXPERIMENT-NAME.*; every path
 * handed to gnuplot quoted. */
static int figure(const char *gnuplot, const char *scripts_dir, const char *stage,
		  const char *data, const char *experiment, const char *name, const char *extra)
{
	static const char *fmts[] = { "png", "svg" };
	for (int i = 0; i < 2; i++) {
		char file[PATH_MAX + 512], title[256], q_data[2 * PATH_MAX + 8];
		char q_out[2 * PATH_MAX + 1040], q_title[520], vars[7 * PATH_MAX];
		snprintf(file, sizeof(file), "%s/%s/%s-%s.%s", stage, experiment, experiment, name,
			 fmts[i]);
		snprintf(title, sizeof(title), " (%s)", experiment);
		if (gp_quote(data, q_data, sizeof(q_data)) || gp_quote(file, q_out, sizeof(q_out)) ||
		    gp_quote(title, q_title, sizeof(q_title)))
			return ds_fail("cannot hand the folder %s to gnuplot: it holds a control "
				       "character",
				       stage);
		snprintf(vars, sizeof(vars), "data=%s; out=%s; fmt='%s'; title_extra=%s; %s", q_data,
			 q_out, fmts[i], q_title, extra ? extra : "");
		char script[64];
		snprintf(script, sizeof(script), "%s.gp", name);
		if (run_gnuplot(gnuplot, scripts_dir, script, vars))
			return -1;
	}
	return 0;
}

/* Remove a folder and everything in it (the staging folder). */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			struct stat st;
			if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
				remove_tree(sub);
			else
				unlink(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

/* mkdir -p: 0, or -1 with ds_errmsg(). */
static int make_dirs(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0777);
			*p = '/';
		}
	if (mkdir(buf, 0777) != 0 && errno != EEXIST)
		return ds_fail("cannot create %s: %s", path, strerror(errno));
	return 0;
}

/* Move every regular file of from into to (same file system). */
static int move_files(const char *from, const char *to)
{
	DIR *d = opendir(from);
	if (!d)
		return ds_fail("cannot read %s: %s", from, strerror(errno));
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d))) {
		char a[4096], b[4096];
		snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
		struct stat st;
		if (lstat(a, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (rename(a, b) != 0)
			rc = ds_fail("cannot move %s to %s: %s", a, b, strerror(errno));
	}
	closedir(d);
	return rc;
}

/* What every figure needs: the store, the experiment, where gnuplot and its scripts are,
 * and the staging folder the images and their data go to. */
struct plot_ctx {
	struct store *s;
	const char *experiment;
	const char *scripts_dir, *gnuplot;
	const char *stage, *data;
	const char *group;      /* GROUP of GROUP.NAME, NULL outside a group */
	const char *group_data; /* where the group's figures' data go */
	int group_figures;      /* whether to draw the figures of the whole group */
};

/* Render figure name of the experiment, or of its group (experiment then names the group),
 * from the data written: 1 when drawn, -1 on failure. */
static int draw(const struct plot_ctx *c, const char *experiment, const char *name,
		const char *extra)
{
	const char *data = strcmp(experiment, c->experiment) ? c->group_data : c->data;
	return figure(c->gnuplot, c->scripts_dir, c->stage, data, experiment, name, extra) ? -1
											     : 1;
}

/* The result of a figure whose data query gave n rows: -1, 0 (nothing to draw) or 1. */
static int draw_rows(const struct plot_ctx *c, int n, const char *name, const char *extra)
{
	return n < 0 ? -1 : n == 0 ? 0 : draw(c, c->experiment, name, extra);
}

/* Whether a figure has error bars to draw: "errors = N", N the first column of sql's first
 * row (a count of the half-widths of 95% intervals; there are none with one seed). */
static void errors_var(const struct plot_ctx *c, const char *sql, const char *const *params,
		       char *out, size_t size)
{
	char v[64];
	store_scalar(c->s, sql, params, v, sizeof(v), "0");
	snprintf(out, size, "errors = %d", atoi(v));
}

/* A figure drawn from one query of the experiment into one data file, told by errors_sql
 * whether it has error bars. */
static int query_figure(const struct plot_ctx *c, const char *file, const char *sql,
			const char *errors_sql, const char *name)
{
	FILE *f = open_data(c->data, file);
	if (!f)
		return -1;
	int n = export_rows(c->s, f, sql, ARGS(c->experiment));
	fclose(f);
	char extra[64];
	errors_var(c, errors_sql, ARGS(c->experiment), extra, sizeof(extra));
	return draw_rows(c, n, name, extra);
}

/* 1. tuning FLOPs per strategy, with their 95% intervals over seeds */
static int fig_flops(const struct plot_ctx *c)
{
	return query_figure(c, "flops.tsv",
			    "SELECT strategy, tuning_flops_mean, coalesce(ratio_vs_grid_mean, 0), "
			    "total_flops_mean, coalesce(ratio_all_vs_grid_mean, 0), "
			    "tuning_flops_ci95, total_flops_ci95 FROM v_summary WHERE "
			    "experiment = ?",
			    "SELECT count(tuning_flops_ci95) FROM v_summary WHERE experiment = ?",
			    "flops");
}

/* The longest first column of a data file written here, in characters (0 when none). */
static int longest_label(const char *dir, const char *name)
{
	char path[4096], line[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	int longest = 0;
	while (f && fgets(line, sizeof(line), f)) {
		int n = (int)strcspn(line, "\t\n");
		longest = n > longest ? n : longest;
	}
	if (f)
		fclose(f);
	return longest;
}

/* 2. grid curve with the chosen widths */
static int fig_grid(const struct plot_ctx *c)
{
	FILE *f = open_data(c->data, "grid.tsv");
	if (!f)
		return -1;
	int n = export_rows(c->s, f, "SELECT latent, avg(val_mse), avg(test_mse) FROM "
				     "v_grid_curve WHERE experiment = ? GROUP BY latent ORDER "
				     "BY latent",
			    ARGS(c->experiment));
	fclose(f);
	if (n > 0 && (f = open_data(c->data, "chosen.tsv"))) {
		/* one label per width, naming the strategies that chose it: three and a count
		 * when there are more than four, so that a label fits above the graph */
		n = export_rows(c->s, f,
				"WITH c AS (SELECT strategy, chosen_k, row_number() OVER (PARTITION "
				"BY chosen_k ORDER BY strategy) AS r, count(*) OVER (PARTITION BY "
				"chosen_k) AS n FROM v_comparison WHERE experiment = ? AND chosen_k IS NOT "
				"NULL) SELECT "
				"group_concat(strategy, ', ') || CASE WHEN max(n) > 4 THEN "
				"printf(' +%d more', max(n) - 3) ELSE '' END, chosen_k FROM c WHERE "
				"r <= CASE WHEN n > 4 THEN 3 ELSE 4 END GROUP BY chosen_k",
				ARGS(c->experiment)) < 0
			    ? -1
			    : n;
		fclose(f);
	}
	char v[256], extra[512];
	store_scalar(c->s, "SELECT max(val_mse) FROM v_grid_curve WHERE experiment = ?",
		     ARGS(c->experiment), v, sizeof(v), "1");
	/* numbers, whatever the file holds: nothing from it reaches gnuplot as code */
	snprintf(extra, sizeof(extra), "ymark = %.9g; labelmax = %d", atof(v),
		 longest_label(c->data, "chosen.tsv"));
	return draw_rows(c, n, "grid", extra);
}

/* 3. active units per epoch, the mean over seeds: SOSAE's K*, Early-Bird's alive count, the
 * VAE's Asperti count */
static int fig_active(const struct plot_ctx *c)
{
	struct blocks b = { c->s, NULL,
			    "SELECT epoch, avg(active_latent) FROM v_epochs WHERE strategy = ? AND "
			    "experiment = ? AND active_latent IS NOT NULL GROUP BY epoch ORDER BY "
			    "epoch",
			    c->experiment, "epoch", 0, 0 };
	if (write_blocks(&b, c->data, "active.tsv",
			 "SELECT DISTINCT strategy FROM v_epochs WHERE experiment = ? AND "
			 "active_latent IS NOT NULL ORDER BY strategy",
			 ARGS(c->experiment)))
		return -1;
	char v[256], extra[512];
	store_scalar(c->s, "SELECT chosen_k FROM v_comparison WHERE strategy = 'grid' AND "
			   "experiment = ?",
		     ARGS(c->experiment), v, sizeof(v), "-1");
	snprintf(extra, sizeof(extra), "nblocks = %d; gridk = %d", b.n, atoi(v));
	return draw_rows(c, b.n, "active", extra);
}

/* 3b. the VAE's units at the end of training, sorted by Var(mu) within each seed: Var(mu),
 * E[sigma^2] and their sum (Asperti's variance law), with the activity threshold. Trials
 * of the rule now in use only (their keys name it), not those of older builds. */
static int fig_vae_law(const struct plot_ctx *c)
{
	FILE *f = open_data(c->data, "vaelaw.tsv");
	if (!f)
		return -1;
	int n = export_rows(c->s, f,
			    "SELECT row_number() OVER (PARTITION BY seed ORDER BY var_mu DESC, k), "
			    "var_mu, mean_sigma2, variance_law, seed, k FROM v_latent_activity "
			    "WHERE experiment = ? AND strategy = 'vae' AND var_mu IS NOT NULL AND "
			    "trial_key LIKE 'vae/%/active=%' ORDER BY seed, 1",
			    ARGS(c->experiment));
	fclose(f);
	char seeds[64], kmax[64], extra[512];
	store_scalar(c->s, "SELECT count(DISTINCT seed) FROM v_latent_activity WHERE "
			   "experiment = ? AND strategy = 'vae' AND var_mu IS NOT NULL AND "
			   "trial_key LIKE 'vae/%/active=%'",
		     ARGS(c->experiment), seeds, sizeof(seeds), "0");
	store_scalar(c->s, "SELECT max(k) FROM v_latent_activity WHERE experiment = ? AND "
			   "strategy = 'vae' AND var_mu IS NOT NULL",
		     ARGS(c->experiment), kmax, sizeof(kmax), "1");
	snprintf(extra, sizeof(extra), "threshold = %.9g; seeds = %d; kmax = %d",
		 VAE_THRESHOLD, atoi(seeds), atoi(kmax));
	return draw_rows(c, n, "vaelaw", extra);
}

/* 3c. the VAE's active count against K_max, one line per data set, over the experiments of
 * the drawn one's group (asperti.fashion-mnist.k16, ...: the group "asperti"): the mean over
 * seeds with its 95% t-interval, and the seeds' range. Drawn when the group has at least
 * two K_max. */
static int fig_vae_kmax(const struct plot_ctx *c)
{
	char group[128];
	size_t dot = strcspn(c->experiment, ".");
	if (!c->group_figures || !c->experiment[dot] || dot >= sizeof(group))
		return 0;
	memcpy(group, c->experiment, dot);
	group[dot] = '\0';
#define VAE_COUNTS                                                                         \
	"WITH c AS (SELECT e.dataset AS dataset, "                                         \
	"CAST(json_extract(d.details, '$.k_max') AS INTEGER) AS kmax, "                    \
	"json_extract(d.details, '$.\"active_var_mu_0.05\"') AS n "                            \
	"FROM decision d JOIN v_latest l ON l.experiment_id = d.experiment_id "            \
	"JOIN experiment e ON e.id = d.experiment_id WHERE d.strategy = 'vae' AND "        \
	"json_valid(d.details) AND substr(e.name, 1, length(?2) + 1) = ?2 || '.' "        \
	"AND json_extract(d.details, '$.\"active_var_mu_0.05\"') IS NOT NULL) "
	char v[64];
	/* ?1 is the data set of a block, unused (bound to "") outside them */
	store_scalar(c->s, VAE_COUNTS "SELECT count(DISTINCT kmax) FROM c", ARGS("", group), v,
		     sizeof(v), "0");
	if (atoi(v) < 2)
		return 0;
	struct blocks b = { c->s, NULL,
			    VAE_COUNTS ", g AS (SELECT dataset, kmax, count(*) AS seeds, "
				       "avg(n) AS m, sum(n * n) AS q, min(n) AS lo, max(n) AS hi "
				       "FROM c GROUP BY dataset, kmax) "
				       "SELECT kmax, m, (SELECT t975 FROM v_t_quantile WHERE df = "
				       "min(seeds - 1, 100)) * sqrt(max(q - seeds * m * m, 0) / "
				       "(seeds - 1) / seeds), lo, hi, seeds FROM g WHERE "
				       "dataset = ?1 ORDER BY kmax",
			    group, "k_max", 0, 0 };
	int rc = write_blocks(&b, c->group_data, "vaekmax.tsv",
			      VAE_COUNTS "SELECT DISTINCT dataset FROM c ORDER BY dataset",
			      ARGS("", group));
#undef VAE_COUNTS
	if (rc)
		return -1;
	char errors[64], top[64], extra[512];
	store_scalar(c->s, "SELECT max(CAST(json_extract(d.details, '$.k_max') AS INTEGER)) "
			   "FROM decision d JOIN v_latest l ON l.experiment_id = d.experiment_id "
			   "WHERE d.strategy = 'vae' AND json_valid(d.details) AND "
			   "substr(l.name, 1, length(?1) + 1) = ?1 || '.'",
		     ARGS(group), top, sizeof(top), "1");
	store_scalar(c->s, "SELECT max(seeds) FROM (SELECT count(*) AS seeds FROM decision d "
			   "JOIN v_latest l ON l.experiment_id = d.experiment_id WHERE "
			   "d.strategy = 'vae' AND substr(l.name, 1, length(?1) + 1) = ?1 || '.' "
			   "GROUP BY d.experiment_id)",
		     ARGS(group), errors, sizeof(errors), "0");
	snprintf(extra, sizeof(extra), "nblocks = %d; kmaxtop = %d; errors = %d", b.n, atoi(top),
		 atoi(errors) > 1);
	return b.n > 0 ? draw(c, group, "vaekmax", extra) : 0;
}

/* 4. SOSAE's activity profile (the plain run, or the first of a sweep) */
static int fig_profile(const struct plot_ctx *c)
{
	FILE *f = open_data(c->data, "profile.tsv");
	if (!f)
		return -1;
	char strategy[256], v[256], extra[512];
	store_scalar(c->s, "SELECT strategy FROM v_sosae_cut WHERE experiment = ? ORDER BY "
			   "strategy <> 'sosae', strategy LIMIT 1",
		     ARGS(c->experiment), strategy, sizeof(strategy), "");
	int n = strategy[0] ? export_rows(c->s, f, "SELECT k, mean_abs, max_abs FROM "
						   "v_latent_activity WHERE strategy = ? AND "
						   "experiment = ? AND var_mu IS NULL ORDER BY k",
					  ARGS(strategy, c->experiment))
			    : 0;
	fclose(f);
	store_scalar(c->s, "SELECT k_star FROM v_sosae_cut WHERE strategy = ? AND experiment = ?",
		     ARGS(strategy, c->experiment), v, sizeof(v), "0");
	snprintf(extra, sizeof(extra), "kstar = %d", atoi(v));
	return draw_rows(c, n, "profile", extra);
}

/* 5. what each strategy bought for its compute, with 95% intervals over seeds: one block
 * per strategy (a key entry each, rather than labels that pile up where strategies
 * delivered the same model) */
static int fig_cost(const struct plot_ctx *c)
{
	struct blocks b = { c->s, NULL,
			    "SELECT total_flops_mean, test_mse_mean, total_flops_ci95, "
			    "test_mse_ci95 FROM v_summary WHERE strategy = ? AND experiment = ? "
			    "AND test_mse_mean IS NOT NULL",
			    c->experiment, "flops", 0, 0 };
	if (write_blocks(&b, c->data, "cost.tsv",
			 "SELECT strategy FROM v_summary WHERE experiment = ? AND test_mse_mean IS "
			 "NOT NULL",
			 ARGS(c->experiment)))
		return -1;
	char errors[64], extra[128];
	errors_var(c, "SELECT count(test_mse_ci95) FROM v_summary WHERE experiment = ?",
		   ARGS(c->experiment), errors, sizeof(errors));
	snprintf(extra, sizeof(extra), "nblocks = %d; %s", b.n, errors);
	return draw_rows(c, b.n, "cost", extra);
}

/* 6. chosen against true dimension, over the experiments of known dimension of the drawn
 * one's group (GROUP.*), or of the experiment alone outside a group */
static int fig_known_id(const struct plot_ctx *c)
{
	const char *scope = c->group ? c->group : c->experiment;
	if (c->group && !c->group_figures)
		return 0;
#define IN_SCOPE(n) "(experiment = ?" n " OR substr(experiment, 1, length(?" n ") + 1) = ?" n " || '.')"
	struct blocks b = { c->s, NULL,
			    "SELECT true_dimension, k_mean, k_ci95 FROM v_known_id WHERE "
			    "strategy = ?1 AND " IN_SCOPE("2") " ORDER BY true_dimension",
			    scope, "true_dimension", 0, 0 };
	const char *dir = c->group ? c->group_data : c->data;
	/* a strategy that named no width anywhere (saturated) has no point to draw */
	if (write_blocks(&b, dir, "knownid.tsv",
			 "SELECT DISTINCT strategy FROM v_known_id WHERE strategy NOT LIKE '%(%' AND "
			 "k_mean IS NOT NULL AND " IN_SCOPE("1") " ORDER BY strategy",
			 ARGS(scope)))
		return -1;
	char v[256], top[256], errors[64], extra[512];
	store_scalar(c->s, "SELECT max(true_dimension) FROM v_known_id WHERE " IN_SCOPE("1"),
		     ARGS(scope), v, sizeof(v), "1");
	store_scalar(c->s, "SELECT max(k_mean + coalesce(k_ci95, 0)) FROM v_known_id WHERE "
			   "strategy NOT LIKE '%(%' AND " IN_SCOPE("1"),
		     ARGS(scope), top, sizeof(top), "1");
	errors_var(c, "SELECT count(k_ci95) FROM v_known_id WHERE strategy NOT LIKE '%(%' AND "
		      IN_SCOPE("1"), ARGS(scope), errors, sizeof(errors));
#undef IN_SCOPE
	snprintf(extra, sizeof(extra), "nblocks = %d; dmax = %.9g; kmax = %.9g; %s", b.n, atof(v),
		 atof(top), errors);
	return b.n > 0 ? draw(c, scope, "knownid", extra) : 0;
}

/* The group of an experiment named GROUP.NAME into buf: 1, or 0 outside a group. */
static int group_of(const char *experiment, char *buf, size_t size)
{
	const char *dot = strchr(experiment, '.');
	if (dot)
		snprintf(buf, size, "%.*s", (int)(dot - experiment), experiment);
	return dot != NULL;
}

/* 7. every strategy's estimate on every data set of known dimension of the experiment's
 * group (named GROUP.NAME; none for an experiment outside a group), correct or not */
static int fig_correct(const struct plot_ctx *c)
{
	char group[256];
	if (!c->group_figures || !group_of(c->experiment, group, sizeof(group)))
		return 0;
	/* the experiments of the group: the name, or GROUP.anything */
#define KNOWN_IN_GROUP                                                                       \
	"SELECT experiment, true_dimension, strategy, estimate_mean, correct, decided_first, "  \
	"(SELECT min(x.id) FROM experiment x WHERE x.name = experiment) AS first_run FROM "     \
	"v_summary_all WHERE experiment_id IN (SELECT experiment_id FROM v_latest) AND "        \
	"true_dimension IS NOT NULL AND estimate_mean IS NOT NULL AND "                         \
	"strategy NOT LIKE 'earlybird(%' AND "                                                  \
	"substr(experiment, 1, length(?1) + 1) = ?1 || '.'"
	char v[64];
	store_scalar(c->s, "SELECT count(DISTINCT experiment) FROM (" KNOWN_IN_GROUP ")",
		     ARGS(group), v, sizeof(v), "0");
	int ny = atoi(v);
	if (ny < 2)
		return 0;
	store_scalar(c->s, "SELECT count(DISTINCT strategy) FROM (" KNOWN_IN_GROUP ")",
		     ARGS(group), v, sizeof(v), "0");
	int nx = atoi(v);
	FILE *f = open_data(c->group_data, "correct.tsv");
	if (!f)
		return -1;
	/* columns in the order of each strategy's first decision, rows in the order the data
	 * sets were first run */
	int n = export_rows(
		c->s, f,
		"SELECT dense_rank() OVER (ORDER BY strategy_first, strategy) - 1, "
		"dense_rank() OVER (ORDER BY first_run, experiment) - 1, estimate_mean, "
		"coalesce(correct, 0), printf('%s: %d of %d', strategy, strategy_correct, "
		"(SELECT count(DISTINCT experiment) FROM (" KNOWN_IN_GROUP "))), "
		"printf('%s (%g)', substr(experiment, length(?1) + 2), true_dimension), "
		"CASE WHEN estimate_mean = round(estimate_mean) THEN printf('%d', "
		"CAST(estimate_mean AS INTEGER)) ELSE printf('%.2f', estimate_mean) END "
		"FROM (SELECT *, min(decided_first) OVER (PARTITION BY strategy) AS strategy_first, "
		"sum(coalesce(correct, 0)) OVER (PARTITION BY strategy) AS strategy_correct "
		"FROM (" KNOWN_IN_GROUP ")) ORDER BY 2, 1",
		ARGS(group));
#undef KNOWN_IN_GROUP
	fclose(f);
	char extra[64];
	snprintf(extra, sizeof(extra), "nx = %d; ny = %d", nx, ny);
	return n < 0 ? -1 : n == 0 ? 0 : draw(c, group, "correct", extra);
}

/* Early-Bird's lambda sweep of a group: settings by data sets, coloured by the median count
 * after the budget against d. */
static int fig_eb_sweep(const struct plot_ctx *c)
{
	char group[256];
	if (!c->group_figures || !group_of(c->experiment, group, sizeof(group)))
		return 0;
#define SWEEP_IN_GROUP                                                                       \
	"SELECT * FROM v_eb_sweep_summary WHERE substr(experiment, 1, length(?1) + 1) = ?1 || '.'"
	char v[64];
	store_scalar(c->s, "SELECT count(DISTINCT experiment) FROM (" SWEEP_IN_GROUP ")",
		     ARGS(group), v, sizeof(v), "0");
	int nx = atoi(v);
	store_scalar(c->s, "SELECT count(DISTINCT strategy) FROM (" SWEEP_IN_GROUP ")",
		     ARGS(group), v, sizeof(v), "0");
	int ny = atoi(v);
	if (nx < 1 || ny < 2)
		return 0;
	FILE *f = open_data(c->group_data, "ebsweep.tsv");
	if (!f)
		return -1;
	int n = export_rows(c->s, f,
			    "SELECT dense_rank() OVER (ORDER BY true_dimension, experiment) - 1, "
			    "dense_rank() OVER (ORDER BY lambda, lambda_hidden) - 1, "
			    "k_median - true_dimension, k_median, "
			    "printf('%s (%g)', substr(experiment, length(?1) + 2), true_dimension), "
			    "printf('%g, %g', lambda, lambda_hidden) "
			    "FROM (" SWEEP_IN_GROUP ") ORDER BY 2, 1",
			    ARGS(group));
#undef SWEEP_IN_GROUP
	fclose(f);
	char extra[64];
	snprintf(extra, sizeof(extra), "nx = %d; ny = %d", nx, ny);
	return n < 0 ? -1 : n == 0 ? 0 : draw(c, group, "ebsweep", extra);
}

/* The decisions of strategy in the experiment's latest run, for the single-run peers'
 * figures: their per-unit arrays are in the details. */
#define PEER_FROM "FROM decision d JOIN v_latest l ON l.experiment_id = d.experiment_id "
#define PEER_WHERE "WHERE l.name = ?1 AND d.strategy = ?2 "
#define PEER_DECISIONS PEER_FROM PEER_WHERE
/* the elements of the details' array NAME as j (none when the details are not JSON) */
#define PEER_ARRAY(name)                                                                   \
	PEER_FROM ", json_each(CASE WHEN json_valid(d.details) THEN d.details ELSE '{}' END, " \
		  "'$." name "') j " PEER_WHERE

/* 8. Least Volume's units at the end of training: each seed's validation std of every unit,
 * sorted, the frozen ones marked, with the width chosen */
static int fig_lv_std(const struct plot_ctx *c)
{
	FILE *f = open_data(c->data, "lvstd.tsv");
	if (!f)
		return -1;
	int n = export_rows(c->s, f,
			    "SELECT row_number() OVER (PARTITION BY d.seed ORDER BY j.value DESC, "
			    "j.key), j.value, EXISTS (SELECT 1 FROM json_each(d.details, "
			    "'$.frozen_units') z WHERE z.value = j.key), d.seed, j.key + 1, "
			    "d.chosen_latent " PEER_ARRAY("unit_std") "ORDER BY d.seed, 1",
			    ARGS(c->experiment, "leastvolume"));
	fclose(f);
	char v[64], k[64], extra[256];
	store_scalar(c->s, "SELECT count(*) " PEER_DECISIONS, ARGS(c->experiment, "leastvolume"),
		     v, sizeof(v), "0");
	store_scalar(c->s, "SELECT avg(d.chosen_latent) " PEER_DECISIONS,
		     ARGS(c->experiment, "leastvolume"), k, sizeof(k), "0");
	snprintf(extra, sizeof(extra), "seeds = %d; kchosen = %.9g", atoi(v), atof(k));
	return draw_rows(c, n, "lvstd", extra);
}

/* 9. IRMAE's normalised singular values of the validation codes' covariance, each seed's,
 * with the rank chosen */
static int fig_irmae_spectrum(const struct plot_ctx *c)
{
	FILE *f = open_data(c->data, "irmae.tsv");
	if (!f)
		return -1;
	int n = export_rows(c->s, f,
			    "SELECT j.key + 1, j.value, d.seed, d.chosen_latent "
			    PEER_ARRAY("spectrum") "ORDER BY d.seed, 1",
			    ARGS(c->experiment, "irmae"));
	fclose(f);
	char v[64], k[64], extra[256];
	store_scalar(c->s, "SELECT count(*) " PEER_DECISIONS, ARGS(c->experiment, "irmae"), v,
		     sizeof(v), "0");
	store_scalar(c->s, "SELECT avg(d.chosen_latent) " PEER_DECISIONS,
		     ARGS(c->experiment, "irmae"), k, sizeof(k), "0");
	snprintf(extra, sizeof(extra), "seeds = %d; kchosen = %.9g", atoi(v), atof(k));
	return draw_rows(c, n, "irmae", extra);
}
#undef PEER_ARRAY
#undef PEER_DECISIONS
#undef PEER_WHERE
#undef PEER_FROM

/* Move the staged figures of one folder (EXPERIMENT or GROUP) and their data into place. */
static int move_folder(const char *stage, const char *out_dir, const char *name)
{
	char from[PATH_MAX + 320], to[PATH_MAX + 320];
	snprintf(from, sizeof(from), "%s/%s", stage, name);
	struct stat st;
	if (stat(from, &st) != 0)
		return 0;
	snprintf(to, sizeof(to), "%s/%s/data", out_dir, name);
	if (make_dirs(to))
		return -1;
	snprintf(from, sizeof(from), "%s/%s/data", stage, name);
	if (move_files(from, to))
		return -1;
	snprintf(from, sizeof(from), "%s/%s", stage, name);
	snprintf(to, sizeof(to), "%s/%s", out_dir, name);
	return move_files(from, to);
}

int plot_render(struct store *s, const char *experiment, const char *scripts_dir,
		const char *out_dir, const char *gnuplot, int group_figures,
		const volatile sig_atomic_t *stop)
{
	/* the name becomes part of file names and of gnuplot's -e text */
	for (const char *c = experiment; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("-_.", *c))
			return ds_fail("experiment names use letters, digits, '-', '_' and '.' (got "
				       "'%s')",
				       experiment);
	if (strlen(experiment) > 200)
		return ds_fail("experiment name too long for a file name: %.40s...", experiment);
	if (make_dirs(out_dir))
		return -1;
	/* gnuplot runs in the scripts' folder: give it absolute paths */
	char abs_out[PATH_MAX];
	if (!realpath(out_dir, abs_out))
		return ds_fail("cannot resolve %s: %s", out_dir, strerror(errno));
	out_dir = abs_out;
	char stage[PATH_MAX + 16], data[PATH_MAX + 512], group_data[PATH_MAX + 512];
	snprintf(stage, sizeof(stage), "%s/.plot-XXXXXX", out_dir);
	if (!mkdtemp(stage))
		return ds_fail("cannot create a folder in %s: %s", out_dir, strerror(errno));
	char group[256];
	int in_group = group_of(experiment, group, sizeof(group));
	snprintf(data, sizeof(data), "%s/%s/data", stage, experiment);
	snprintf(group_data, sizeof(group_data), "%s/%s/data", stage, in_group ? group : experiment);
	struct plot_ctx c = { s,	  experiment, scripts_dir,		   gnuplot, stage,
			      data,	  in_group ? group : NULL, group_data, group_figures };
	int (*const figures[])(const struct plot_ctx *) = {
		fig_flops,   fig_grid, fig_active,   fig_vae_law, fig_vae_kmax,
		fig_profile, fig_cost, fig_known_id, fig_correct, fig_eb_sweep,
		fig_lv_std,  fig_irmae_spectrum
	};
	int made = 0, rc = make_dirs(data) || make_dirs(group_data);
	for (size_t i = 0; i < sizeof(figures) / sizeof(*figures) && !rc; i++) {
		if (stop && *stop) {
			rc = ds_fail("interrupted");
			break;
		}
		int n = figures[i](&c);
		if (n < 0)
			rc = -1;
		else
			made += n;
	}
	/* everything rendered: move it into place */
	if (!rc && stop && *stop)
		rc = ds_fail("interrupted");
	if (!rc)
		rc = move_folder(stage, out_dir, experiment) ||
		     (in_group && move_folder(stage, out_dir, group));
	remove_tree(stage);
	return rc ? -1 : made;
}
