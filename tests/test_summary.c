/* test_summary.c: means and 95% t-intervals over seeds, and the comparison with grid search
 * paired on the same seed, on decisions written directly with known values: through the
 * views (from the store and from the plain sqlite3 shell), report as JSON, CSV and table,
 * the edge flags of the decisions' details, and the figures' error bars. Run from the
 * repository root. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../results/report.h"
#include "../results/store.h"

#define BIN "./dimsearch"

static char db[512];
static long ci_id;
static char out[1 << 16];

static void decide(struct store *s, long experiment, const char *strategy, long seed, int k,
		   uint64_t tuning, uint64_t delivery, double mse, double probe,
		   const char *details)
{
	struct decision_record d = { .seed = seed, .chosen_latent = k, .tuning_flops = tuning,
				     .delivery_flops = delivery, .test_mse = mse,
				     .probe_accuracy = probe, .seconds = 1 };
	snprintf(d.strategy, sizeof(d.strategy), "%s", strategy);
	snprintf(d.details, sizeof(d.details), "%s", details);
	assert_int_equal(store_decision(s, experiment, &d), 0);
}

/* Experiment "ci" (true dimension 3), five seeds of grid search and SOSAE, lpca on seeds 1, 2
 * and 6 (grid has no seed 6 and lpca no 3 to 5), twonn on seed 1 alone with details that are
 * not JSON; experiment "solo", one seed of each of grid and sosae. */
static int setup(void **state)
{
	(void)state;
	snprintf(db, sizeof(db), "%s", tmp_path("summary.db"));
	struct store *s = store_open(db, 1);
	long solo;
	if (!s || store_experiment(s, "ci", "h", "affine:d=3", 3, "", &ci_id) ||
	    store_experiment(s, "solo", "h", "affine:d=3", -1, "", &solo))
		return -1;
	static const int grid_k[] = { 8, 8, 10, 10, 12 }, sosae_k[] = { 4, 6, 5, 7, 8 };
	static const double grid_mse[] = { 0.010, 0.012, 0.010, 0.013, 0.014 };
	static const double sosae_mse[] = { 0.011, 0.012, 0.012, 0.0117, 0.0154 };
	static const double sosae_probe[] = { 0.81, 0.79, 0.80, 0.82, 0.78 };
	static const uint64_t sosae_tuning[] = { 100, 200, 100, 250, 125 };
	for (int i = 0; i < 5; i++) {
		decide(s, ci_id, "grid", i + 1, grid_k[i], 1000, 0, grid_mse[i], 0.80, "{}");
		/* at k_max on seeds 1, 2 and 4 */
		decide(s, ci_id, "sosae", i + 1, sosae_k[i], sosae_tuning[i], 100, sosae_mse[i],
		       sosae_probe[i],
		       i == 0 || i == 1 || i == 3 ? "{\"edge\":\"k_max\",\"delivered_epochs\":45}"
						  : i == 4 ? "{\"delivered_epochs\":40,\"k_star\":8,"
							     "\"k_max\":8,\"alive_in_prefix\":6}"
							   : "{\"delivered_epochs\":40}");
	}
	decide(s, ci_id, "lpca", 1, 3, 10, 500, 0.020, 0.70, "{}");
	decide(s, ci_id, "lpca", 2, 3, 20, 500, 0.018, 0.72, "{}");
	decide(s, ci_id, "lpca", 6, 1, 40, 500, 0.030, 0.75, "{\"edge\":\"k_min\"}");
	decide(s, ci_id, "twonn", 1, 4, 50, 500, 0.015, 0.79, "not json");
	decide(s, solo, "grid", 1, 8, 1000, 0, 0.010, 0.80, "{}");
	decide(s, solo, "sosae", 1, 5, 100, 100, 0.011, 0.81, "{}");
	store_close(s);
	return 0;
}

/* A column of v_summary for one strategy of "ci" as text ("NULL" for NULL). */
static const char *summary(const char *strategy, const char *column)
{
	static char v[128];
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT coalesce(%s, 'NULL') FROM v_summary WHERE experiment = "
				   "'ci' AND strategy = ?", column);
	struct store *s = store_open(db, 0);
	assert_non_null(s);
	const char *args[] = { strategy, NULL };
	store_scalar(s, sql, args, v, sizeof(v), "no row");
	store_close(s);
	return v;
}

static double summary_number(const char *strategy, const char *column)
{
	const char *v = summary(strategy, column);
	if (!strcmp(v, "NULL") || !strcmp(v, "no row"))
		fail_msg("%s of %s is %s", column, strategy, v);
	return atof(v);
}

/* The JSON line of report for one strategy of "ci" (into line). */
static void json_line(const char *strategy, char *line, size_t size)
{
	char cmd[1024], want[128];
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --experiment ci --format json", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "\"strategy\":\"%s\",", strategy);
	char *at = strstr(out, want);
	if (!at)
		fail_msg("no row of %s in:\n%s", strategy, out);
	while (at > out && at[-1] != '\n')
		at--;
	size_t n = strcspn(at, "\n");
	assert_true(n < size);
	memcpy(line, at, n);
	line[n] = '\0';
	assert_true(json_valid(line));
}

/* A key of a JSON line as a number; NAN for null; fails when absent. */
static double json_number(const char *line, const char *key)
{
	char want[128];
	snprintf(want, sizeof(want), "\"%s\":", key);
	const char *at = strstr(line, want);
	if (!at)
		fail_msg("no %s in %s", key, line);
	at += strlen(want);
	return strncmp(at, "null", 4) ? strtod(at, NULL) : NAN;
}

/* Both paths a number takes to the user: the view and report --format json. */
static void expect(const char *strategy, const char *column, double want, double tolerance)
{
	char line[8192];
	double got = summary_number(strategy, column);
	if (fabs(got - want) > tolerance)
		fail_msg("v_summary: %s of %s = %.9g, expected %.9g", column, strategy, got, want);
	json_line(strategy, line, sizeof(line));
	got = json_number(line, column);
	if (!(fabs(got - want) <= tolerance))
		fail_msg("json: %s of %s = %.9g, expected %.9g", column, strategy, got, want);
}

static void test_t_quantiles(void **state)
{
	(void)state;
	/* the textbook table, to its three decimals */
	static const struct {
		int df;
		double t;
	} known[] = { { 1, 12.706 }, { 2, 4.303 }, { 4, 2.776 }, { 9, 2.262 }, { 30, 2.042 },
		      { 100, 1.984 } };
	struct store *s = store_open(db, 0);
	assert_non_null(s);
	char v[64], df[16];
	for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++) {
		snprintf(df, sizeof(df), "%d", known[i].df);
		const char *args[] = { df, NULL };
		store_scalar(s, "SELECT t975 FROM v_t_quantile WHERE df = CAST(? AS INTEGER)", args,
			     v, sizeof(v), "none");
		if (fabs(atof(v) - known[i].t) > 5e-4)
			fail_msg("t(0.975, %d) = %s, expected %.3f", known[i].df, v, known[i].t);
	}
	/* every df from 1 to 100 once, decreasing towards the normal's 1.960 */
	store_scalar(s, "SELECT count(*) || ' ' || count(DISTINCT df) || ' ' || min(df) || ' ' || "
			"max(df) FROM v_t_quantile",
		     NULL, v, sizeof(v), "none");
	assert_string_equal(v, "100 100 1 100");
	store_scalar(s, "SELECT count(*) FROM v_t_quantile a JOIN v_t_quantile b ON b.df = a.df "
			"+ 1 WHERE b.t975 >= a.t975 OR b.t975 <= 1.96",
		     NULL, v, sizeof(v), "none");
	assert_string_equal(v, "0");
	store_close(s);
	/* and from the sqlite3 shell, which knows no function of ours */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "sqlite3 %s 'SELECT t975 FROM v_t_quantile WHERE df = 4'", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	assert_string_equal(out, "2.776445\n");
}

/* Means and half-widths for five seeds, by hand; t(0.975, 4) = 2.776445.
 * sosae K 4, 6, 5, 7, 8: mean 6; deviations -2, 0, -1, 1, 2, squares sum to 10;
 *   s^2 = 10/4 = 2.5, s/sqrt(5) = sqrt(0.5) = 0.707107; half-width 1.963243.
 * grid K 8, 8, 10, 10, 12: mean 9.6; squares 2.56 + 2.56 + 0.16 + 0.16 + 5.76 = 11.2;
 *   s^2 = 2.8, s/sqrt(5) = sqrt(0.56) = 0.748331; half-width 2.077700.
 * grid test MSE 0.010, 0.012, 0.010, 0.013, 0.014: mean 0.0118; squares (1e-6) 3.24 + 0.04
 *   + 3.24 + 1.44 + 4.84 = 12.8; s^2 = 3.2e-6, s/sqrt(5) = 8e-4; half-width 2.221156e-3.
 * Paired with grid on each seed:
 * grid/x = 1000 / (100, 200, 100, 250, 125) = 10, 5, 10, 4, 8: mean 7.4; squares 6.76 + 5.76
 *   + 6.76 + 11.56 + 0.36 = 31.2; s^2 = 7.8, s/sqrt(5) = sqrt(1.56) = 1.249000; 3.467777
 *   (the ratio of the means, v_comparison's ratio_to_grid, is 1000 / 155 = 6.451613).
 * MSE / grid's - 1 = 0.1, 0, 0.2, -0.1, 0.1: mean 0.06; squares 0.0016 + 0.0036 + 0.0196
 *   + 0.0256 + 0.0016 = 0.052; s^2 = 0.013, s/sqrt(5) = sqrt(0.0026) = 0.050990; 0.141571.
 * probe points (0.81, 0.79, 0.80, 0.82, 0.78 against 0.80) +1, -1, 0, +2, -2: mean 0;
 *   squares sum to 10, as for K: half-width 1.963243.
 * K / K_grid = 4/8, 6/8, 5/10, 7/10, 8/12: mean (0.5 + 0.75 + 0.5 + 0.7 + 0.666667) / 5
 *   = 0.623333. */
static void test_intervals_by_hand(void **state)
{
	(void)state;
	expect("sosae", "seeds", 5, 0);
	expect("sosae", "paired_seeds", 5, 0);
	expect("sosae", "k_mean", 6, 1e-12);
	expect("sosae", "k_ci95", 1.963243, 2e-6);
	expect("grid", "k_mean", 9.6, 1e-12);
	expect("grid", "k_ci95", 2.077700, 2e-6);
	/* the range of K chosen over the seeds (8, 8, 10, 10, 12), not the widest layer */
	expect("grid", "k_chosen_min", 8, 0);
	expect("grid", "k_chosen_max", 12, 0);
	expect("grid", "test_mse_mean", 0.0118, 1e-12);
	expect("grid", "test_mse_ci95", 2.221156e-3, 2e-9);
	expect("sosae", "ratio_vs_grid_mean", 7.4, 1e-12);
	expect("sosae", "ratio_vs_grid_ci95", 3.467777, 2e-6);
	expect("sosae", "ratio_to_grid", 1000.0 / 155.0, 1e-9);
	expect("sosae", "delta_mse_vs_grid_mean", 0.06, 1e-12);
	expect("sosae", "delta_mse_vs_grid_ci95", 0.141571, 2e-6);
	expect("sosae", "delta_probe_vs_grid_mean", 0, 1e-9);
	expect("sosae", "delta_probe_vs_grid_ci95", 1.963243, 2e-6);
	expect("sosae", "k_over_grid_mean", 0.623333, 1e-6);
	/* grid against itself: 1 and 0 on every seed, so no spread at all */
	expect("grid", "ratio_vs_grid_mean", 1, 0);
	expect("grid", "ratio_vs_grid_ci95", 0, 0);
	expect("grid", "delta_mse_vs_grid_ci95", 0, 0);
	/* all/x, 1000 / (tuning + 100), against the same arithmetic done here */
	double r[5], mean = 0, ss = 0;
	static const double tuning[] = { 100, 200, 100, 250, 125 };
	for (int i = 0; i < 5; i++)
		mean += (r[i] = 1000 / (tuning[i] + 100)) / 5;
	for (int i = 0; i < 5; i++)
		ss += (r[i] - mean) * (r[i] - mean);
	expect("sosae", "ratio_all_vs_grid_mean", mean, 1e-12);
	expect("sosae", "ratio_all_vs_grid_ci95", 2.776445 * sqrt(ss / 4 / 5), 1e-6);
	/* the table shows the same numbers, rounded */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --experiment ci", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	const char *row = strstr(out, "\nsosae ");
	assert_non_null(row);
	char line[512];
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(row + 1, "\n"), row + 1);
	static const char *const cells[] = { "6.0 \u00b1 2.0", "7.4x \u00b1 3.5",
					     "0.01242 (+6.0 \u00b1 14.2%)",
					     "80.0% (+0.0 \u00b1 2.0)" };
	for (size_t i = 0; i < sizeof(cells) / sizeof(*cells); i++)
		if (!strstr(line, cells[i]))
			fail_msg("no '%s' in the row: %s", cells[i], line);
	assert_non_null(strstr(out, "\u00b1: 95% t-interval over 1 to 5 seeds"));
	assert_non_null(strstr(out, "paired against grid on the same seed"));
}

/* lpca on seeds 1, 2 and 6, grid on 1 to 5: its own K over all three seeds, its comparison
 * over the two both have. t(0.975, 1) = 12.706205, t(0.975, 2) = 4.302653.
 * K 3, 3, 1: mean 7/3; deviations 2/3, 2/3, -4/3, squares sum to 24/9; s^2 = 4/3,
 *   s/sqrt(3) = 2/3; half-width 2.868435.
 * grid/x = 1000/10, 1000/20 = 100, 50: mean 75, s/sqrt(2) = |100 - 50| / 2 = 25; 317.655125.
 * MSE / grid's - 1 = 0.020/0.010 - 1, 0.018/0.012 - 1 = 1, 0.5: mean 0.75, s/sqrt(2) = 0.25;
 *   3.176551. probe points -10, -8: mean -9, s/sqrt(2) = 1; 12.706205. */
static void test_pairs_only_on_shared_seeds(void **state)
{
	(void)state;
	expect("lpca", "seeds", 3, 0);
	expect("lpca", "paired_seeds", 2, 0);
	expect("lpca", "k_mean", 7.0 / 3.0, 1e-12);
	expect("lpca", "k_ci95", 2.868435, 2e-6);
	expect("lpca", "ratio_vs_grid_mean", 75, 1e-12);
	expect("lpca", "ratio_vs_grid_ci95", 317.655125, 1e-6);
	expect("lpca", "delta_mse_vs_grid_mean", 0.75, 1e-12);
	expect("lpca", "delta_mse_vs_grid_ci95", 3.176551, 2e-6);
	expect("lpca", "delta_probe_vs_grid_mean", -9, 1e-9);
	expect("lpca", "delta_probe_vs_grid_ci95", 12.706205, 1e-6);
	expect("lpca", "k_over_grid_mean", 0.375, 1e-12);
	/* the seed grid lacks still counts for the strategy's own means: (10 + 20 + 40) / 3 */
	expect("lpca", "tuning_flops_mean", 70.0 / 3.0, 1e-9);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --experiment ci", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "lpca: paired with grid on 2 of 3 seeds"));
	assert_null(strstr(out, "sosae: paired with"));
}

/* One seed: no interval (null, "n/a (1 seed)"), the means as they are. */
static void test_one_seed(void **state)
{
	(void)state;
	char line[8192];
	json_line("twonn", line, sizeof(line));
	static const char *const nulls[] = { "k_ci95", "tuning_flops_ci95", "ratio_vs_grid_ci95",
					     "ratio_all_vs_grid_ci95", "test_mse_ci95",
					     "delta_mse_vs_grid_ci95", "probe_ci95",
					     "delta_probe_vs_grid_ci95" };
	for (size_t i = 0; i < sizeof(nulls) / sizeof(*nulls); i++)
		if (!isnan(json_number(line, nulls[i])))
			fail_msg("%s is not null with one seed: %s", nulls[i], line);
	assert_float_equal(json_number(line, "k_mean"), 4, 0);
	assert_float_equal(json_number(line, "ratio_vs_grid_mean"), 20, 1e-12);
	assert_float_equal(json_number(line, "ratio_all_vs_grid_mean"), 1000.0 / 550.0, 1e-12);
	/* its row shows no interval, and the note under the table says why */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --experiment ci", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	const char *row = strstr(out, "\ntwonn ");
	assert_non_null(row);
	assert_true(strcspn(row + 1, "\n") < strcspn(row + 1, "\u00b1"));
	assert_non_null(strstr(out, "n/a (1 seed)"));
	/* a table of one seed only: no interval anywhere, and a line that says so */
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --experiment solo", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	const char *note = strstr(out, "\u00b1: n/a (1 seed)");
	assert_non_null(note);
	assert_null(memchr(out, 0xb1, (size_t)(note - out))); /* no "±" above it */
	row = strstr(out, "\nsosae ");
	assert_non_null(row);
	const char *cells = strstr(row, " 1 5 "); /* 1 seed, K 5 */
	assert_true(cells && cells < strchr(row + 1, '\n'));
}

/* Data in raw units: an MSE of 1e36 and a difference of +122079.6% print in scientific
 * notation, a cell stays short, and every line of the table is as wide as its header. */
static void test_table_of_huge_values(void **state)
{
	(void)state;
	char huge_db[512];
	snprintf(huge_db, sizeof(huge_db), "%s", tmp_path("huge.db"));
	struct store *s = store_open(huge_db, 1);
	long id;
	assert_non_null(s);
	assert_int_equal(store_experiment(s, "huge", "h", "affine:d=3", -1, "", &id), 0);
	decide(s, id, "grid", 1, 8, 1000, 0, 1.5e36, 0.80, "{}");
	decide(s, id, "sosae", 1, 5, 100, 100, 1.5e36 * 1221.796, 0.81, "{}");
	decide(s, id, "lpca", 1, 2, 1, 2, 4e-9, 0.5, "{}");
	store_close(s);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --experiment huge", huge_db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	/* no number spelt out in more than 10 digits */
	for (const char *c = out; *c; c++)
		if (strspn(c, "0123456789") > 10)
			fail_msg("a long number in the table:\n%s", out);
	assert_non_null(strstr(out, "1.500e+36"));
	if (!strstr(out, "+1.221e+05%"))
		fail_msg("no +1.221e+05%% in\n%s", out);
	assert_non_null(strstr(out, "4.000e-09"));
	/* the header and each row: one display width */
	const char *line = strstr(out, "strategy ");
	assert_non_null(line);
	int width = -1;
	for (int row = 0; row < 4; row++) {
		size_t n = strcspn(line, "\n");
		int w = 0;
		for (size_t i = 0; i < n; i++)
			w += ((unsigned char)line[i] & 0xc0) != 0x80;
		if (width >= 0 && w != width)
			fail_msg("line %d of the table is %d wide, the header %d:\n%s", row, w,
				 width, out);
		width = w;
		line += n + 1;
	}
}

/* The decisions' edge flags and delivered epochs, as the strategies write them. */
static void test_edge_flags(void **state)
{
	(void)state;
	expect("sosae", "at_edge", 3, 0);
	expect("sosae", "at_k_max", 3, 0);
	expect("sosae", "at_k_min", 0, 0);
	expect("sosae", "delivered_epochs_mean", (3 * 45 + 2 * 40) / 5.0, 1e-12);
	expect("lpca", "at_edge", 1, 0);
	expect("lpca", "at_k_min", 1, 0);
	expect("grid", "at_edge", 0, 0);
	/* details that are not JSON flag nothing, and break nothing */
	expect("twonn", "at_edge", 0, 0);
	assert_string_equal(summary("twonn", "delivered_epochs_mean"), "NULL");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --experiment ci", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	const char *row = strstr(out, "\nsosae ");
	assert_non_null(row);
	const char *mark = strstr(row, "[edge 3/5]");
	assert_true(mark && mark < strchr(row + 1, '\n'));
	/* the epochs of the delivered models, (3 * 45 + 2 * 40) / 5 = 43 */
	mark = strstr(row, " 43 ");
	assert_true(mark && mark < strchr(row + 1, '\n'));
	/* SOSAE's prefix with the units alive inside it */
	assert_non_null(strstr(out, "sosae (seed 5): K* = 8 (6 alive inside) of 8"));
	assert_non_null(strstr(out, "\nsosae: at k_max on 3 of 5 seeds: widen the range "
				    "(inconclusive)\n"));
	assert_non_null(strstr(out, "\nlpca: at k_min on 1 of 3 seeds: widen the range "
				    "(inconclusive)\n"));
	assert_null(strstr(out, "grid: at"));
	assert_null(strstr(out, "twonn: at"));
}

/* SOSAE's two ratios: against the full grid, and against the cheapest strategy whose
 * delivered test MSE is within SOSAE's interval. SOSAE's MSEs have mean 0.01242 and
 * half-width 2.776 * 0.0017152 / sqrt 5 = 0.0021294: the top is 0.014549. grid (0.0118)
 * qualifies, twonn (0.015) just misses, lpca (0.0227) does not: the cheapest is grid, at
 * 1000 / (155 + 100) = 3.92 times SOSAE's tuning + delivery. With one seed, SOSAE's own MSE
 * is the bound: grid at 0.010 <= 0.011 qualifies, 1000 / 200 = 5.00. */
static void test_sosae_headline(void **state)
{
	(void)state;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --experiment ci", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	const char *line = strstr(out, "\nsosae: ");
	if (!line || !strstr(line, "3.92x (grid's"))
		fail_msg("%s", out);
	if (!strstr(line, "cheaper to tune than the full grid; against grid, the cheapest "
				     "strategy delivering a test MSE within its interval (<= "
				     "0.01455): 3.92x (grid's tuning + delivery FLOPs over "
				     "sosae's)\n"))
		fail_msg("%s", line);
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --experiment solo", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "against grid, the cheapest strategy delivering a test MSE "
				    "within its interval (<= 0.01100): 5.00x"));
}

/* Every key scripts rely on, old and new, in every JSON line; CSV with the same columns; and
 * the report of one configuration by its id (what run prints) the same as by its name. */
static void test_json_csv_and_by_id(void **state)
{
	(void)state;
	static const char *const keys[] = {
		"experiment", "strategy", "chosen_k", "k_chosen_min", "k_chosen_max", "tuning_flops",
		"delivery_flops", "ratio_to_grid", "ratio_with_delivery", "test_mse",
		"probe_accuracy", "seconds", "seeds", "k_mean", "k_ci95", "tuning_flops_mean",
		"tuning_flops_ci95", "delivery_flops_mean", "ratio_vs_grid_mean",
		"ratio_vs_grid_ci95", "ratio_all_vs_grid_mean", "ratio_all_vs_grid_ci95",
		"test_mse_mean", "test_mse_ci95", "delta_mse_vs_grid_mean",
		"delta_mse_vs_grid_ci95", "probe_mean", "probe_ci95", "delta_probe_vs_grid_mean",
		"delta_probe_vs_grid_ci95", "k_over_grid_mean", "at_edge", "delivered_epochs_mean"
	};
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --format json", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	int lines = 0;
	char *copy = strdup(out);
	for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), lines++) {
		if (!json_valid(line))
			fail_msg("not JSON: %s", line);
		for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
			char want[64];
			snprintf(want, sizeof(want), "\"%s\":", keys[i]);
			if (!strstr(line, want))
				fail_msg("no %s in %s", keys[i], line);
		}
	}
	free(copy);
	assert_int_equal(lines, 6); /* four strategies of ci, two of solo */
	/* CSV: the header is the view's columns */
	snprintf(cmd, sizeof(cmd), BIN " report --db %s --format csv", db);
	assert_int_equal(run_command(cmd, out, sizeof(out)), 0);
	char header[2048];
	size_t n = 0;
	for (const char *c = STORE_SUMMARY_COLUMNS; *c; c++)
		if (*c != ' ')
			header[n++] = *c;
	header[n++] = '\n';
	header[n] = '\0';
	assert_memory_equal(out, header, strlen(header));
	/* by id, as run prints it, and by name, as report does: the same rows */
	struct store *s = store_open(db, 0);
	assert_non_null(s);
	char *by_name = NULL, *by_id = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&by_name, &size);
	assert_int_equal(report_print(s, "ci", 0, REPORT_JSON, f), 4);
	fclose(f);
	f = open_memstream(&by_id, &size);
	assert_int_equal(report_print(s, NULL, ci_id, REPORT_JSON, f), 4);
	fclose(f);
	assert_string_equal(by_id, by_name);
	free(by_name);
	free(by_id);
	store_close(s);
}

/* Data series in a gnuplot SVG (gnuplot_plot_1, _2, ...). */
static int series(const char *dir, const char *figure)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s.svg", dir, figure);
	char *svg = slurp(path, NULL);
	if (!svg)
		fail_msg("%s was not written", path);
	int n = svg_series(svg);
	free(svg);
	return n;
}

/* Several seeds: the comparison figures gain their error bars; one seed: none. */
static void test_figures_error_bars(void **state)
{
	(void)state;
	char dir[512], cmd[4096], path[1024];
	snprintf(dir, sizeof(dir), "%s", tmp_path("figures"));
	snprintf(cmd, sizeof(cmd), BIN " plot --db %s --experiment ci --out %s && " BIN
				   " plot --db %s --experiment solo --out %s",
		 db, dir, db, dir);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
	/* boxes of two kinds, labels, and the error bars of each kind of box */
	assert_int_equal(series(dir, "ci/ci-flops"), 5);
	assert_int_equal(series(dir, "solo/solo-flops"), 3);
	/* a series per strategy: its point with error bars (ci's four), or a point (solo's two) */
	assert_int_equal(series(dir, "ci/ci-cost"), 4);
	assert_int_equal(series(dir, "solo/solo-cost"), 2);
	/* four strategies' points and their error bars, and the diagonal; solo has no true
	 * dimension, so no such figure */
	assert_int_equal(series(dir, "ci/ci-knownid"), 9);
	snprintf(path, sizeof(path), "%s/solo/solo-knownid.svg", dir);
	assert_false(file_exists(path));
	/* the data: twonn's one seed has no interval to draw */
	snprintf(path, sizeof(path), "%s/ci/data/flops.tsv", dir);
	char *tsv = slurp(path, NULL);
	assert_non_null(tsv);
	const char *row = strstr(tsv, "twonn\t");
	assert_non_null(row);
	assert_non_null(strstr(row, "\tNaN\tNaN\n"));
	free(tsv);
}


/* Fail unless each of the n lines is somewhere in text. */
static void expect_lines(const char *text, const char *const *lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strstr(text, lines[i]))
			fail_msg("no line\n%sin\n%s", lines[i], text);
}

/* `dimsearch plot` of experiment (in group) from the database at db: the group's figure
 * NAME is drawn, and its data returned (free it). */
static char *group_figure(const char *db, const char *experiment, const char *group,
			  const char *name)
{
	char dir[512], cmd[2048], out[4096], file[1024];
	snprintf(dir, sizeof(dir), "%s", tmp_path(name));
	snprintf(cmd, sizeof(cmd), BIN " plot --db %s --experiment %s --out %s", db, experiment,
		 dir);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited %d:\n%s", cmd, rc, out);
	snprintf(file, sizeof(file), "%s/%s/%s-%s.png", dir, group, group, name);
	assert_true(file_exists(file));
	snprintf(file, sizeof(file), "%s/%s/data/%s.tsv", dir, group, name);
	char *tsv = slurp(file, NULL);
	assert_non_null(tsv);
	return tsv;
}
/* The thesis's criterion, |estimate - d| < 0.5 on the estimate rounded to two decimals, at
 * its boundary: in the view, the JSON report and the known-dimension table of a group. */
static void test_known_dimension_criterion(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("known.db"));
	struct store *s = store_open(path, 1);
	assert_non_null(s);
	long a, b, other;
	assert_int_equal(store_experiment(s, "kb.four", "h", "M4_Nonlinear", 4, "", &a), 0);
	assert_int_equal(store_experiment(s, "kb.one", "h", "M13b_Spiral", 1, "", &b), 0);
	assert_int_equal(store_experiment(s, "kbx.one", "h", "M13b_Spiral", 1, "", &other), 0);
	static const struct {
		const char *strategy, *details;
		int k, correct;
	} four[] = {
		{ "e4.49", "{\"estimate\":4.49}", 5, 1 },	/* 0.49 from d: correct */
		{ "e4.50", "{\"estimate\":4.5}", 5, 0 },	/* 0.5: not */
		{ "e3.51", "{\"estimate\":3.51}", 4, 1 },	/* 0.49 below */
		{ "e3.50", "{\"estimate\":3.5}", 4, 0 },	/* 0.5 below: not */
		{ "e4.496", "{\"estimate\":4.496}", 5, 0 }, /* rounds to 4.50, as the thesis did */
		{ "e4.494", "{\"estimate\":4.494}", 5, 1 }, /* rounds to 4.49 */
		{ "k4", "{}", 4, 1 },			/* no estimate: the chosen K */
		{ "k5", "not json", 5, 0 },
	};
	for (size_t i = 0; i < sizeof(four) / sizeof(*four); i++)
		decide(s, a, four[i].strategy, 1, four[i].k, 10, 10, 0.01, NAN, four[i].details);
	decide(s, b, "e4.49", 1, 2, 10, 10, 0.01, NAN, "{\"estimate\":1.2}");
	decide(s, b, "k4", 1, 1, 10, 10, 0.01, NAN, "{}");
	decide(s, other, "k4", 1, 9, 10, 10, 0.01, NAN, "{}");
	for (size_t i = 0; i < sizeof(four) / sizeof(*four); i++) {
		char v[64];
		store_scalar(s, "SELECT correct FROM v_known_id WHERE experiment = 'kb.four' AND "
				"strategy = ?",
			     (const char *const[]){ four[i].strategy, NULL }, v, sizeof(v), "NULL");
		if (atoi(v) != four[i].correct || !strcmp(v, "NULL"))
			fail_msg("%s: correct = %s, expected %d", four[i].strategy, v,
				 four[i].correct);
	}
	/* the JSON report carries it, and a group's name selects its experiments only */
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	assert_int_equal(report_print(s, "kb", 0, REPORT_JSON, f), 10);
	fclose(f);
	assert_non_null(strstr(text, "\"strategy\":\"e4.49\""));
	assert_non_null(strstr(text, "\"estimate_mean\":4.49,\"estimate_ci95\":null,\"correct\":1"));
	assert_non_null(strstr(text, "\"estimate_mean\":4.5,\"estimate_ci95\":null,\"correct\":0"));
	assert_null(strstr(text, "kbx"));
	free(text);
	/* the table: cells marked, '-' where a strategy did not run, the count per strategy */
	f = open_memstream(&text, &size);
	assert_int_equal(report_known_id(s, "kb", f), 2);
	fclose(f);
	static const char *const expected[] = {
		"data (true d)    e4.49  e4.50  e3.51  e3.50 e4.496 e4.494     k4     k5\n",
		"four (4)         4.49*   4.50  3.51*   3.50   4.50  4.49*     4*      5\n",
		"one (1)          1.20*      -      -      -      -      -     1*      -\n",
		"correct (of 2)       2      0      1      0      0      1      2      0\n",
	};
	expect_lines(text, expected, sizeof(expected) / sizeof(*expected));
	free(text);
	/* one data set of known dimension: no table */
	f = open_memstream(&text, &size);
	assert_int_equal(report_known_id(s, "kb.four", f), 0);
	fclose(f);
	assert_int_equal(size, 0);
	free(text);
	store_close(s);
	/* the figure of the group: one cell per estimate, coloured by the criterion */
	char *tsv = group_figure(path, "kb.four", "kb", "correct");
	assert_non_null(strstr(tsv, "1\t0\t4.5\t0\te4.50: 0 of 2\tfour (4)\t4.50\n"));
	assert_non_null(strstr(tsv, "0\t1\t1.2\t1\te4.49: 2 of 2\tone (1)\t1.20\n"));
	assert_non_null(strstr(tsv, "6\t1\t1.0\t1\tk4: 2 of 2\tone (1)\t1\n"));
	free(tsv);
}

/* Early-Bird's sweep: the median over seeds (the middle one; the mean of the middle two) and
 * the seeds with too few, d, d + 1 and d + 2 or more units, per setting and data set. */
static void test_eb_sweep_table(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_path("sweep.db"));
	struct store *s = store_open(path, 1);
	assert_non_null(s);
	long one, two;
	assert_int_equal(store_experiment(s, "sw.d1", "h", "sine:d=1", 1, "", &one), 0);
	assert_int_equal(store_experiment(s, "sw.d2", "h", "sine:d=2", 2, "", &two), 0);
	const char *a = "earlybird(l=0.1,h=0.01)", *b = "earlybird(l=1,h=0.01)";
	const char *da = "{\"lambda\":0.1,\"lambda_hidden\":0.01}";
	const char *db = "{\"lambda\":1,\"lambda_hidden\":0.01}";
	int k1[] = { 1, 2, 1 }, k2[] = { 5, 1, 4 };
	for (int i = 0; i < 3; i++) {
		decide(s, one, a, i + 1, k1[i], 10, 10, 0.01, NAN, da);
		decide(s, two, a, i + 1, k2[i], 10, 10, 0.01, NAN, da);
	}
	decide(s, two, b, 1, 3, 10, 10, 0.01, NAN, db);
	decide(s, two, b, 2, 2, 10, 10, 0.01, NAN, db);
	decide(s, two, "lpca", 1, 2, 10, 10, 0.01, NAN, "{}");
	char v[128];
	store_scalar(s, "SELECT k_median || ' ' || too_few || exact || one_over || two_or_more_over "
			"FROM v_eb_sweep_summary WHERE experiment = 'sw.d2' AND lambda = 0.1",
		     NULL, v, sizeof(v), "");
	assert_string_equal(v, "4.0 1002");
	store_scalar(s, "SELECT k_median || ' ' || seeds FROM v_eb_sweep_summary WHERE lambda = 1",
		     NULL, v, sizeof(v), "");
	assert_string_equal(v, "2.5 2");
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	assert_int_equal(report_eb_sweep(s, "sw", f), 2);
	fclose(f);
	static const char *const expected[] = {
		"lambda   hidden               d1 (1)             d2 (2)\n",
		"0.1      0.01            1 (0/2/1/0)        4 (1/0/0/2)\n",
		"1        0.01                      -      2.5 (0/1/1/0)\n",
	};
	expect_lines(text, expected, sizeof(expected) / sizeof(*expected));
	free(text);
	/* the sweep's runs stay out of the known-dimension table; the other strategies stay in */
	f = open_memstream(&text, &size);
	report_known_id(s, "sw", f);
	fclose(f);
	assert_null(strstr(text, "earlybird("));
	free(text);
	/* no sweep: no table */
	f = open_memstream(&text, &size);
	assert_int_equal(report_eb_sweep(s, "none", f), 0);
	fclose(f);
	assert_int_equal(size, 0);
	free(text);
	store_close(s);
	/* the figure of the group: a cell per setting and data set, its median against d */
	char *tsv = group_figure(path, "sw.d1", "sw", "ebsweep");
	assert_non_null(strstr(tsv, "1\t0\t2.0\t4.0\td2 (2)\t0.1, 0.01\n"));
	assert_non_null(strstr(tsv, "1\t1\t0.5\t2.5\td2 (2)\t1, 0.01\n"));
	assert_non_null(strstr(tsv, "0\t0\t0.0\t1.0\td1 (1)\t0.1, 0.01\n"));
	free(tsv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_t_quantiles),
		cmocka_unit_test(test_intervals_by_hand),
		cmocka_unit_test(test_pairs_only_on_shared_seeds),
		cmocka_unit_test(test_one_seed),
		cmocka_unit_test(test_table_of_huge_values),
		cmocka_unit_test(test_edge_flags),
		cmocka_unit_test(test_sosae_headline),
		cmocka_unit_test(test_json_csv_and_by_id),
		cmocka_unit_test(test_figures_error_bars),
		cmocka_unit_test(test_known_dimension_criterion),
		cmocka_unit_test(test_eb_sweep_table),
	};
	return cmocka_run_group_tests_name("summary", tests, setup, NULL);
}
