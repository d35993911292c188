/* report.c: v_comparison as a table a researcher reads, or as CSV / JSON for tools. */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

int report_format_parse(const char *s, enum report_format *f)
{
	if (!strcmp(s, "table"))
		*f = REPORT_TABLE;
	else if (!strcmp(s, "csv"))
		*f = REPORT_CSV;
	else if (!strcmp(s, "json"))
		*f = REPORT_JSON;
	else
		return -1;
	return 0;
}

void report_flop_note(FILE *out)
{
	fprintf(out,
		"FLOPs: one floating-point add or multiply (a fused multiply-add is 2), counted "
		"where the work is done.\n"
		"tuning = everything a strategy ran before naming K (training, validation, its own "
		"overhead); delivery = a\n"
		"training run at the chosen K when the strategy did not already hold that model. "
		"Test evaluation and the probe\n"
		"are not counted. grid/x = grid search's tuning FLOPs divided by the strategy's; "
		"all/x = divided by the\n"
		"strategy's tuning plus delivery FLOPs, what its trained model at K cost in all.\n");
}

struct printer {
	enum report_format f;
	FILE *out;
	int rows;
	char experiment[128];
	double grid_mse, grid_probe;   /* grid search's, for the quality comparison */
};

static int column(int ncol, char **names, const char *want)
{
	for (int i = 0; i < ncol; i++)
		if (!strcmp(names[i], want))
			return i;
	return -1;
}

static const char *value(int ncol, char **names, char **values, const char *name)
{
	int i = column(ncol, names, name);
	return i >= 0 && values[i] ? values[i] : NULL;
}

/* Whether s is a number as JSON writes one: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 * (not nan, inf, hex or "1.", which strtod would take). */
static int is_number(const char *s)
{
	if (!s)
		return 0;
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return 0;
	if (*s == '.') {
		if (!(*++s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* s as a JSON string, escaped. */
/* The length of the valid UTF-8 sequence at s, or 0 when the bytes there are not one. */
static int utf8_length(const unsigned char *s)
{
	int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
			       : (s[0] & 0xf8) == 0xf0	  ? 4
								  : 0;
	if (n == 2 && s[0] < 0xc2)
		return 0; /* overlong */
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void report_json_string(FILE *out, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	fputc('"', out);
	while (*s) {
		int n = utf8_length(s);
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if (*s < 0x20 || *s == 0x7f)
			fprintf(out, "\\u%04x", *s);
		else if (n == 0)
			fputs("\\ufffd", out); /* not UTF-8: JSON holds only text */
		else
			fwrite(s, 1, (size_t)n, out);
		s += n ? n : 1;
	}
	fputc('"', out);
}

/* s as a CSV field, quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *out, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static double number(const char *s)
{
	return s ? atof(s) : NAN;
}

/* One row of v_comparison in the chosen format (the table aligns its columns). */
static int print_row(void *ctx, int ncol, char **names, char **values)
{
	struct printer *p = ctx;
	if (p->f == REPORT_JSON) {
		fputc('{', p->out);
		for (int i = 0; i < ncol; i++) {
			if (i)
				fputc(',', p->out);
			report_json_string(p->out, names[i]);
			fputc(':', p->out);
			if (!values[i])
				fputs("null", p->out);
			else if (is_number(values[i]))
				fputs(values[i], p->out);
			else
				report_json_string(p->out, values[i]);
		}
		fputs("}\n", p->out);
		p->rows++;
		return 0;
	}
	if (p->f == REPORT_CSV) {
		if (p->rows == 0) {
			for (int i = 0; i < ncol; i++) {
				if (i)
					fputc(',', p->out);
				csv_field(p->out, names[i]);
			}
			fputc('\n', p->out);
		}
		for (int i = 0; i < ncol; i++) {
			if (i)
				fputc(',', p->out);
			csv_field(p->out, values[i]);
		}
		fputc('\n', p->out);
		p->rows++;
		return 0;
	}
	const char *exp = value(ncol, names, values, "experiment");
	if (!exp)
		exp = "";
	if (p->rows == 0 || strcmp(exp, p->experiment)) {
		if (p->rows)
			fputc('\n', p->out);
		snprintf(p->experiment, sizeof(p->experiment), "%s", exp);
		const char *truth = value(ncol, names, values, "true_dimension");
		fprintf(p->out, "experiment %s: %s", exp,
			value(ncol, names, values, "dataset") ? value(ncol, names, values, "dataset")
							       : "");
		if (truth)
			fprintf(p->out, " (true dimension %g)", atof(truth));
		fputc('\n', p->out);
		fprintf(p->out, "%-22s %9s %11s %8s %11s %8s %18s %15s %8s\n", "strategy", "K",
			"tuning", "grid/x", "delivery", "all/x", "test MSE (vs grid)",
			"probe (vs grid)", "seconds");
		p->grid_mse = p->grid_probe = NAN;
	}
	const char *k = value(ncol, names, values, "chosen_k");
	const char *kmin = value(ncol, names, values, "k_min");
	const char *kmax = value(ncol, names, values, "k_max");
	char kbuf[48];
	if (kmin && kmax && strcmp(kmin, kmax))
		snprintf(kbuf, sizeof(kbuf), "%s (%s-%s)", k ? k : "?", kmin, kmax);
	else
		snprintf(kbuf, sizeof(kbuf), "%s", k ? k : "?");
	const char *ratio = value(ncol, names, values, "ratio_to_grid");
	const char *all = value(ncol, names, values, "ratio_with_delivery");
	const char *probe = value(ncol, names, values, "probe_accuracy");
	const char *mse = value(ncol, names, values, "test_mse");
	const char *tune = value(ncol, names, values, "tuning_flops");
	const char *del = value(ncol, names, values, "delivery_flops");
	const char *sec = value(ncol, names, values, "seconds");
	const char *strategy = value(ncol, names, values, "strategy");
	int is_grid = strategy && !strcmp(strategy, "grid");
	double m = number(mse), pr = number(probe);
	if (is_grid) {
		p->grid_mse = m;
		p->grid_probe = pr;
	}
	char ratio_s[32] = "-", all_s[32] = "-", probe_s[48] = "-", mse_s[48] = "NaN";
	if (ratio)
		snprintf(ratio_s, sizeof(ratio_s), "%.1fx", atof(ratio));
	if (all)
		snprintf(all_s, sizeof(all_s), "%.1fx", atof(all));
	/* quality against grid search's choice: relative MSE, probe points */
	if (mse && !is_grid && isfinite(p->grid_mse) && p->grid_mse > 0)
		snprintf(mse_s, sizeof(mse_s), "%.5f (%+.1f%%)", m,
			 100.0 * (m - p->grid_mse) / p->grid_mse);
	else if (mse)
		snprintf(mse_s, sizeof(mse_s), "%.5f", m);
	if (probe && !is_grid && isfinite(p->grid_probe))
		snprintf(probe_s, sizeof(probe_s), "%.1f%% (%+.1f)", 100 * pr,
			 100 * (pr - p->grid_probe));
	else if (probe)
		snprintf(probe_s, sizeof(probe_s), "%.1f%%", 100 * pr);
	fprintf(p->out, "%-22s %9s %11.4g %8s %11.4g %8s %18s %15s %8.1f\n", strategy, kbuf,
		tune ? atof(tune) : 0.0, ratio_s, del ? atof(del) : 0.0, all_s, mse_s, probe_s,
		sec ? atof(sec) : 0.0);
	p->rows++;
	return 0;
}

struct cut_lines {
	FILE *out;
	int n;
};

/* Whether each SOSAE cut kept the reconstructions, in a line */
static int print_cut(void *ctx, int ncol, char **names, char **values)
{
	struct cut_lines *c = ctx;
	const char *lossless = value(ncol, names, values, "lossless");
	int yes = lossless && atoi(lossless) == 1;
	double tau = number(value(ncol, names, values, "tau"));
	char why[128];
	if (yes)
		snprintf(why, sizeof(why), "lossless");
	else if (tau > 0)
		snprintf(why, sizeof(why), "not bit-exact: tau = %g also cut units active below it",
			 tau);
	else
		snprintf(why, sizeof(why), "NOT lossless: a unit silent on the training set fired "
					   "on test");
	fprintf(c->out,
		"%s (seed %s): K* = %s of %s after %s epochs; cut %s (test MSE %.6g before, "
		"%.6g after the cut, %.6g delivered)\n",
		value(ncol, names, values, "strategy"), value(ncol, names, values, "seed"),
		value(ncol, names, values, "k_star"), value(ncol, names, values, "k_max"),
		value(ncol, names, values, "epochs_run"),
		why,
		number(value(ncol, names, values, "test_mse_before_cut")),
		number(value(ncol, names, values, "test_mse_after_cut")),
		number(value(ncol, names, values, "test_mse_delivered")));
	c->n++;
	return 0;
}

/* SOSAE's own knobs cost something too: the whole alpha x lambda sweep, in one line */
static int print_sweep(void *ctx, int ncol, char **names, char **values)
{
	FILE *out = ctx;
	const char *n = value(ncol, names, values, "settings");
	const char *flops = value(ncol, names, values, "sweep_flops");
	fprintf(out,
		"SOSAE's own alpha x lambda sweep in %s: %s settings, %.4g tuning FLOPs in all; "
		"K* from %s to %s,\ntest MSE from %.5f to %.5f. Choosing SOSAE's knobs this way "
		"costs %s SOSAE runs.\n\n",
		value(ncol, names, values, "experiment"), n ? n : "?", flops ? atof(flops) : 0.0,
		value(ncol, names, values, "k_min"), value(ncol, names, values, "k_max"),
		number(value(ncol, names, values, "best_test_mse")),
		number(value(ncol, names, values, "worst_test_mse")), n ? n : "?");
	return 0;
}

/* The three queries of a report: the current configuration of one experiment or of all,
 * or one configuration by its id. */
struct report_queries {
	const char *rows, *sweep, *cuts;
};

static struct report_queries queries(const char *experiment, long experiment_id)
{
	if (experiment_id > 0)
		return (struct report_queries){
			"SELECT experiment, dataset, true_dimension, strategy, chosen_k, k_min, k_max, "
			"seeds, tuning_flops, delivery_flops, ratio_to_grid, ratio_with_delivery, "
			"test_mse, probe_accuracy, seconds FROM v_comparison_all WHERE experiment_id "
			"= ? ORDER BY strategy <> 'grid', decided_first",
			"SELECT * FROM v_sosae_sweep_all WHERE experiment_id = ?",
			"SELECT * FROM v_sosae_cut_all WHERE experiment_id = ?"
		};
	if (experiment)
		return (struct report_queries){ "SELECT * FROM v_comparison WHERE experiment = ?",
						"SELECT * FROM v_sosae_sweep WHERE experiment = ?",
						"SELECT * FROM v_sosae_cut WHERE experiment = ?" };
	return (struct report_queries){ "SELECT * FROM v_comparison", "SELECT * FROM v_sosae_sweep",
					"SELECT * FROM v_sosae_cut" };
}

int report_print(struct store *s, const char *experiment, long experiment_id,
		 enum report_format f, FILE *out)
{
	struct printer p = { .f = f, .out = out };
	char id[32];
	snprintf(id, sizeof(id), "%ld", experiment_id);
	const char *const only[] = { experiment_id > 0 ? id : experiment, NULL };
	struct report_queries q = queries(experiment, experiment_id);
	if (store_query(s, q.rows, only, print_row, &p))
		return -1;
	if (f == REPORT_TABLE && p.rows > 0) {
		fputc('\n', out);
		if (store_query(s, q.sweep, only, print_sweep, out))
			return -1;
		struct cut_lines cl = { out, 0 };
		if (store_query(s, q.cuts, only, print_cut, &cl))
			return -1;
		if (cl.n)
			fputc('\n', out);
		report_flop_note(out);
	}
	return p.rows;
}
