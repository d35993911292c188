/* report.c: v_summary as a table a researcher reads, or as CSV / JSON for tools. */
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
		"are not counted. grid/x = grid search's tuning FLOPs divided by the strategy's on "
		"the same seed; all/x =\n"
		"divided by the strategy's tuning plus delivery FLOPs, what its trained model at K "
		"cost in all (means over seeds).\n");
}

/* The text table's columns; every one but the strategy is right-aligned. */
enum {
	COL_STRATEGY,
	COL_SEEDS,
	COL_K,
	COL_TUNING,
	COL_GRID_X,
	COL_DELIVERY,
	COL_EPOCHS,
	COL_ALL_X,
	COL_MSE,
	COL_PROBE,
	COL_SECONDS,
	NCOLS
};

static const char *const headers[NCOLS] = {
	"strategy", "seeds",	 "K",		       "tuning",	  "grid/x", "delivery",
	"epochs",   "all/x", "test MSE (vs grid)", "probe (vs grid)", "seconds",
};

/* One strategy's row of the table, and what the notes under it need. */
struct table_row {
	char cell[NCOLS][96];
	int seeds, paired_seeds;       /* paired: the seeds on which grid search decided too */
	int at_k_min, at_k_max;        /* seeds whose decision was at an edge of the range */
	int k_seeds;                   /* seeds whose K is a width (not saturated) */
	int saturated, not_converged;  /* seeds flagged so by their strategy */
	int collapsed;
	double total, mse, mse_ci;     /* tuning + delivery FLOPs, test MSE: means, interval */
	double grid_x, grid_x_ci;      /* grid/x, paired */
};

struct printer {
	enum report_format f;
	FILE *out;
	int rows;
	char experiment[128];
	struct table_row *table;       /* the current experiment's rows, printed at its end */
	int n, cap;
	int has_grid;                  /* whether that experiment has grid search to pair with */
	int failed;                    /* out of memory, with ds_errmsg() */
	struct store *store;           /* for the configuration of each experiment */
	long experiment_id;            /* the one configuration asked for, 0: the current ones */
	char scale[16];                /* that experiment's scaling of the data ("none") */
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


/* ---- the text table ---- */

/* Columns on a terminal: a UTF-8 continuation byte takes none (the table prints "±"). */
static int display_width(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void pad(FILE *out, const char *s, int width, int left)
{
	int fill = width - display_width(s);
	if (!left && fill > 0)
		fprintf(out, "%*s", fill, "");
	fputs(s, out);
	if (left && fill > 0)
		fprintf(out, "%*s", fill, "");
}

/* A column of the view as a number: NAN for NULL or for text that is not a number. */
static double field(int ncol, char **names, char **values, const char *name)
{
	const char *v = value(ncol, names, values, name);
	return is_number(v) ? atof(v) : NAN;
}

/* x, or 0 when it prints as zero in one decimal: no "-0.0" from a sum's last bits */
static double tidy(double x)
{
	return fabs(x) < 0.05 ? 0 : x;
}

/* x with decimals places, or in scientific notation ("1.221e+05") when it would take more
 * than 4 digits before the point, or (3 decimals or more) show a non-zero value as zeros:
 * a cell never grows past a dozen characters, whatever the data's units. sign: "+" to
 * show it. */
static const char *num(char *buf, size_t size, double x, int decimals, const char *sign)
{
	double small = pow(10, -decimals);
	int plus = sign && *sign == '+';
	if (isfinite(x) && (fabs(x) >= 1e4 || (decimals >= 3 && x != 0 && fabs(x) < small)))
		snprintf(buf, size, plus ? "%+.3e" : "%.3e", x);
	else
		snprintf(buf, size, plus ? "%+.*f" : "%.*f", decimals, x);
	return buf;
}

/* " ± ci" in the mean's precision, or "" when the interval could not be computed (NULL in
 * the view: one seed). */
static const char *pm(char *buf, size_t size, double ci)
{
	char n[32];
	buf[0] = '\0';
	if (isfinite(ci))
		snprintf(buf, size, " \u00b1 %s", num(n, sizeof(n), ci, 1, NULL));
	return buf;
}

/* The cells of one row of v_summary: means with their intervals, and the comparison with
 * grid search paired on the same seed. */
static void table_row(struct table_row *r, int ncol, char **names, char **values)
{
	const char *strategy = value(ncol, names, values, "strategy");
	int is_grid = strategy && !strcmp(strategy, "grid");
	const size_t size = sizeof(r->cell[0]);
	char b[48], nb[32], nb2[32];
	memset(r, 0, sizeof(*r));
	r->seeds = (int)field(ncol, names, values, "seeds");
	r->paired_seeds = (int)field(ncol, names, values, "paired_seeds");
	r->at_k_min = (int)field(ncol, names, values, "at_k_min");
	r->at_k_max = (int)field(ncol, names, values, "at_k_max");
	snprintf(r->cell[COL_STRATEGY], size, "%s", strategy ? strategy : "?");
	snprintf(r->cell[COL_SEEDS], size, "%d", r->seeds);
	r->total = field(ncol, names, values, "tuning_flops_mean") +
		   field(ncol, names, values, "delivery_flops_mean");
	r->mse = field(ncol, names, values, "test_mse_mean");
	r->mse_ci = field(ncol, names, values, "test_mse_ci95");
	r->grid_x = field(ncol, names, values, "ratio_vs_grid_mean");
	r->grid_x_ci = field(ncol, names, values, "ratio_vs_grid_ci95");

	/* a file of an older build has no flag columns: every seed's K is a width */
	double k_seeds = field(ncol, names, values, "k_seeds");
	r->k_seeds = isfinite(k_seeds) ? (int)k_seeds : r->seeds;
	r->saturated = (int)fmax(field(ncol, names, values, "saturated"), 0);
	r->not_converged = (int)fmax(field(ncol, names, values, "not_converged"), 0);
	r->collapsed = (int)fmax(field(ncol, names, values, "collapsed"), 0);
	double k_ci = field(ncol, names, values, "k_ci95");
	char flags[128] = "";
	size_t used = 0;
	if (r->at_k_min + r->at_k_max > 0)
		used += (size_t)snprintf(flags + used, sizeof(flags) - used, " [edge %d/%d]",
					 r->at_k_min + r->at_k_max, r->seeds);
	if (r->not_converged > 0)
		used += (size_t)snprintf(flags + used, sizeof(flags) - used,
					 " [not converged %d/%d]", r->not_converged, r->seeds);
	if (r->saturated > 0)
		used += (size_t)snprintf(flags + used, sizeof(flags) - used, " [saturated %d/%d]",
					 r->saturated, r->seeds);
	if (r->collapsed > 0)
		snprintf(flags + used, sizeof(flags) - used, " [collapsed %d/%d]", r->collapsed,
			 r->seeds);
	/* K over the seeds that named a width; none: the flags alone, never k_max as K */
	if (r->k_seeds > 0)
		snprintf(r->cell[COL_K], size, isfinite(k_ci) ? "%.1f%s%s" : "%.0f%s%s",
			 field(ncol, names, values, "k_mean"), pm(b, sizeof(b), k_ci), flags);
	else
		snprintf(r->cell[COL_K], size, "-%.90s", flags);

	snprintf(r->cell[COL_TUNING], size, "%.4g",
		 field(ncol, names, values, "tuning_flops_mean"));
	snprintf(r->cell[COL_DELIVERY], size, "%.4g",
		 field(ncol, names, values, "delivery_flops_mean"));
	snprintf(r->cell[COL_SECONDS], size, "%s",
		 num(nb, sizeof(nb), field(ncol, names, values, "seconds"), 1, NULL));
	/* the epochs the delivered model trained in all, where the strategy says */
	double epochs = field(ncol, names, values, "delivered_epochs_mean");
	snprintf(r->cell[COL_EPOCHS], size, isfinite(epochs) ? "%.0f" : "-", epochs);

	/* grid search's tuning FLOPs over the strategy's tuning (grid/x) or tuning plus delivery
	 * (all/x), seed by seed; grid against itself is 1 on every seed, no interval to show */
	static const char *const ratios[2][2] = {
		{ "ratio_vs_grid_mean", "ratio_vs_grid_ci95" },
		{ "ratio_all_vs_grid_mean", "ratio_all_vs_grid_ci95" },
	};
	for (int i = 0; i < 2; i++) {
		char *cell = r->cell[i ? COL_ALL_X : COL_GRID_X];
		double mean = field(ncol, names, values, ratios[i][0]);
		double ci = is_grid ? NAN : field(ncol, names, values, ratios[i][1]);
		if (isfinite(mean))
			snprintf(cell, size, "%sx%s", num(nb, sizeof(nb), mean, 1, NULL),
				 pm(b, sizeof(b), ci));
		else
			snprintf(cell, size, "-");
	}

	/* quality against grid search's choice on the same seed: relative MSE, probe points */
	double mse = field(ncol, names, values, "test_mse_mean");
	double dmse = field(ncol, names, values, "delta_mse_vs_grid_mean");
	double dmse_ci = field(ncol, names, values, "delta_mse_vs_grid_ci95");
	if (!isfinite(mse))
		snprintf(r->cell[COL_MSE], size, "NaN");
	else if (is_grid || !isfinite(dmse))
		snprintf(r->cell[COL_MSE], size, "%s", num(nb, sizeof(nb), mse, 5, NULL));
	else
		snprintf(r->cell[COL_MSE], size, "%s (%s%s%%)", num(nb, sizeof(nb), mse, 5, NULL),
			 num(nb2, sizeof(nb2), tidy(100 * dmse), 1, "+"),
			 pm(b, sizeof(b), 100 * dmse_ci));
	double probe = field(ncol, names, values, "probe_mean");
	double dprobe = field(ncol, names, values, "delta_probe_vs_grid_mean");
	double dprobe_ci = field(ncol, names, values, "delta_probe_vs_grid_ci95");
	if (!isfinite(probe))
		snprintf(r->cell[COL_PROBE], size, "-");
	else if (is_grid || !isfinite(dprobe))
		snprintf(r->cell[COL_PROBE], size, "%.1f%%", 100 * probe);
	else
		snprintf(r->cell[COL_PROBE], size, "%.1f%% (%+.1f%s)", 100 * probe, tidy(dprobe),
			 pm(b, sizeof(b), dprobe_ci));
}

/* The line under a table that says what its ± are. */
static void interval_note(FILE *out, int min_seeds, int max_seeds)
{
	if (max_seeds <= 1) {
		fprintf(out, "\u00b1: n/a (1 seed), no interval: list several seeds (seeds = "
			     "1,2,3) for 95%% t-intervals\n");
		return;
	}
	char over[64];
	if (min_seeds == max_seeds)
		snprintf(over, sizeof(over), "%d seeds", max_seeds);
	else
		snprintf(over, sizeof(over), "%d to %d seeds (column seeds)", min_seeds, max_seeds);
	fprintf(out,
		"\u00b1: 95%% t-interval over %s (half-width t(0.975, n-1) s/\u221an); grid/x, "
		"all/x and (vs grid): paired against grid on the same seed%s\n",
		over, min_seeds == 1 ? "; n/a (1 seed) where none is shown" : "");
}

/* SOSAE's headline, two ratios: against the full grid (the paper's claim, paired seed by
 * seed), and against the cheapest other strategy whose delivered model is as good, its test
 * MSE no worse than the top of SOSAE's interval (or than SOSAE's own with one seed), in
 * what a delivered model cost in all (tuning + delivery, means over seeds). */
static void headline(FILE *out, const struct table_row *rows, int n, const struct table_row *s)
{
	const char *name = s->cell[COL_STRATEGY];
	double top = s->mse + (isfinite(s->mse_ci) ? s->mse_ci : 0);
	const struct table_row *cheapest = NULL;
	for (int i = 0; i < n; i++)
		if (strncmp(rows[i].cell[COL_STRATEGY], "sosae", 5) && rows[i].mse <= top &&
		    (!cheapest || rows[i].total < cheapest->total))
			cheapest = &rows[i];
	char b[48], n1[32], n2[32];
	fprintf(out, "%s: ", name);
	if (isfinite(s->grid_x))
		fprintf(out, "%sx%s cheaper to tune than the full grid; ",
			num(n1, sizeof(n1), s->grid_x, 1, NULL), pm(b, sizeof(b), s->grid_x_ci));
	if (cheapest)
		fprintf(out,
			"against %s, the cheapest strategy delivering a test MSE within its interval "
			"(<= %s): %.2fx (%s's tuning + delivery FLOPs over %s's)\n",
			cheapest->cell[COL_STRATEGY], num(n2, sizeof(n2), top, 5, NULL),
			cheapest->total / s->total,
			cheapest->cell[COL_STRATEGY], name);
	else
		fprintf(out, "no other strategy delivers a test MSE within its interval (<= %s)\n",
			num(n2, sizeof(n2), top, 5, NULL));
}

/* The current experiment's table, each column as wide as its widest cell, then what its
 * intervals mean, the pairs it lacks, the decisions at an edge of their range and SOSAE's
 * headline. */
static void table_flush(struct printer *p)
{
	int width[NCOLS], min_seeds = 0, max_seeds = 0;
	const char *head[NCOLS];
	char mse_head[64];
	for (int c = 0; c < NCOLS; c++)
		head[c] = headers[c];
	/* errors of scaled data are in the scaled units: say which, beside the numbers */
	if (strcmp(p->scale, "none")) {
		snprintf(mse_head, sizeof(mse_head), "test MSE, %s units (vs grid)", p->scale);
		head[COL_MSE] = mse_head;
	}
	for (int c = 0; c < NCOLS; c++)
		width[c] = display_width(head[c]);
	for (int i = 0; i < p->n; i++) {
		for (int c = 0; c < NCOLS; c++)
			if (display_width(p->table[i].cell[c]) > width[c])
				width[c] = display_width(p->table[i].cell[c]);
		int n = p->table[i].seeds;
		min_seeds = i == 0 || n < min_seeds ? n : min_seeds;
		max_seeds = n > max_seeds ? n : max_seeds;
	}
	for (int i = -1; i < p->n; i++) {
		for (int c = 0; c < NCOLS; c++) {
			if (c)
				fputc(' ', p->out);
			pad(p->out, i < 0 ? head[c] : p->table[i].cell[c], width[c],
			    c == COL_STRATEGY);
		}
		fputc('\n', p->out);
	}
	interval_note(p->out, min_seeds, max_seeds);
	for (int i = 0; i < p->n; i++) {
		const struct table_row *r = &p->table[i];
		if (p->has_grid && r->paired_seeds < r->seeds)
			fprintf(p->out, "%s: paired with grid on %d of %d seeds (grid has no "
					"decision on the others)\n",
				r->cell[COL_STRATEGY], r->paired_seeds, r->seeds);
		if (r->saturated)
			fprintf(p->out,
				"%s: saturated on %d of %d seeds: raise k_max (every unit active: no "
				"width; K%s)\n",
				r->cell[COL_STRATEGY], r->saturated, r->seeds,
				r->k_seeds ? " is the mean over the other seeds"
					   : " not shown");
		if (r->collapsed)
			fprintf(p->out,
				"%s: collapsed on %d of %d seeds: no unit in use (the delivered "
				"model's one unit is a floor, not a width; K%s)\n",
				r->cell[COL_STRATEGY], r->collapsed, r->seeds,
				r->k_seeds ? " is the mean over the other seeds" : " not shown");
		if (r->not_converged)
			fprintf(p->out,
				"%s: not converged on %d of %d seeds: more epochs (its count still "
				"changed at the end; K is provisional)\n",
				r->cell[COL_STRATEGY], r->not_converged, r->seeds);
		if (r->at_k_min + r->at_k_max == 0)
			continue;
		fprintf(p->out, "%s: at ", r->cell[COL_STRATEGY]);
		if (r->at_k_max)
			fprintf(p->out, "k_max on %d%s", r->at_k_max,
				r->at_k_min ? " and at " : "");
		if (r->at_k_min)
			fprintf(p->out, "k_min on %d", r->at_k_min);
		fprintf(p->out, " of %d seeds: widen the range (inconclusive)\n", r->seeds);
	}
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->table[i].cell[COL_STRATEGY], "sosae") ||
		    !strcmp(p->table[i].cell[COL_STRATEGY], "sosae-tuned"))
			headline(p->out, p->table, p->n, &p->table[i]);
	p->n = 0;
	p->has_grid = 0;
}

/* The scaling of experiment exp's configuration (the one asked for, or its current one)
 * into p->scale, from the line "scale = ..." of its record; "none" for a record from
 * before the key. */
static void experiment_scale(struct printer *p, const char *exp)
{
	char id[32], config[16384];
	snprintf(id, sizeof(id), "%ld", p->experiment_id);
	const char *const by_id[] = { id, NULL }, *const by_name[] = { exp, NULL };
	if (p->experiment_id > 0)
		store_scalar(p->store, "SELECT config FROM experiment WHERE id = ?", by_id, config,
			     sizeof(config), "");
	else
		store_scalar(p->store,
			     "SELECT e.config FROM experiment e JOIN v_latest l ON "
			     "l.experiment_id = e.id WHERE e.name = ?",
			     by_name, config, sizeof(config), "");
	const char *at = !strncmp(config, "scale = ", 8) ? config : strstr(config, "\nscale = ");
	snprintf(p->scale, sizeof(p->scale), "none");
	if (at) {
		at += at[0] == '\n' ? 9 : 8;
		size_t n = strcspn(at, "\n");
		snprintf(p->scale, sizeof(p->scale), "%.*s", (int)(n < 15 ? n : 15), at);
	}
}

/* One row of v_summary in the chosen format; a table's rows wait for the end of their
 * experiment, to align its columns. */
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
			table_flush(p);
		snprintf(p->experiment, sizeof(p->experiment), "%s", exp);
		const char *truth = value(ncol, names, values, "true_dimension");
		const char *dataset = value(ncol, names, values, "dataset");
		fprintf(p->out, "experiment %s: %s", exp, dataset ? dataset : "");
		if (truth)
			fprintf(p->out, " (true dimension %g)", atof(truth));
		experiment_scale(p, exp);
		if (strcmp(p->scale, "none"))
			fprintf(p->out, ", scaled by %s fitted on the training split", p->scale);
		fputc('\n', p->out);
	}
	if (p->n == p->cap) {
		int cap = p->cap ? 2 * p->cap : 16;
		struct table_row *t = realloc(p->table, sizeof(*t) * (size_t)cap);
		if (!t) {
			p->failed = ds_fail("out of memory printing the report");
			return 1;
		}
		p->table = t;
		p->cap = cap;
	}
	table_row(&p->table[p->n++], ncol, names, values);
	const char *strategy = value(ncol, names, values, "strategy");
	if (strategy && !strcmp(strategy, "grid"))
		p->has_grid = 1;
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
	/* the prefix 1..K* may hold dead units: how many are alive, where stored */
	const char *alive = value(ncol, names, values, "alive_in_prefix");
	char inside[48] = "";
	if (alive)
		snprintf(inside, sizeof(inside), " (%s alive inside)", alive);
	fprintf(c->out,
		"%s (seed %s): K* = %s%s of %s after %s epochs; cut %s (test MSE %.6g before, "
		"%.6g after the cut, %.6g delivered)\n",
		value(ncol, names, values, "strategy"), value(ncol, names, values, "seed"),
		value(ncol, names, values, "k_star"), inside, value(ncol, names, values, "k_max"),
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
		value(ncol, names, values, "k_chosen_min"),
		value(ncol, names, values, "k_chosen_max"),
		number(value(ncol, names, values, "best_test_mse")),
		number(value(ncol, names, values, "worst_test_mse")), n ? n : "?");
	return 0;
}

/* SQL: the experiment named ?1, or every experiment of the group ?1 (named "?1.NAME") */
#define IN_GROUP(column)                                                                     \
	"(" column " = ?1 OR substr(" column ", 1, length(?1) + 1) = ?1 || '.')"

/* The three queries of a report: the current configuration of one experiment (or of the
 * experiments of one group) or of all, or one configuration by its id. */
struct report_queries {
	const char *rows, *sweep, *cuts;
};

static struct report_queries queries(const char *experiment, long experiment_id)
{
	if (experiment_id > 0)
		return (struct report_queries){
			"SELECT " STORE_SUMMARY_COLUMNS " FROM v_summary_all WHERE "
			"experiment_id = ? ORDER BY strategy <> 'grid', decided_first",
			"SELECT * FROM v_sosae_sweep_all WHERE experiment_id = ?",
			"SELECT * FROM v_sosae_cut_all WHERE experiment_id = ?"
		};
	if (experiment)
		return (struct report_queries){
			"SELECT * FROM v_summary WHERE " IN_GROUP("experiment"),
			"SELECT * FROM v_sosae_sweep WHERE " IN_GROUP("experiment"),
			"SELECT * FROM v_sosae_cut WHERE " IN_GROUP("experiment")
		};
	return (struct report_queries){ "SELECT * FROM v_summary", "SELECT * FROM v_sosae_sweep",
					"SELECT * FROM v_sosae_cut" };
}

int report_print(struct store *s, const char *experiment, long experiment_id,
		 enum report_format f, FILE *out)
{
	struct printer p = { .f = f, .out = out, .store = s, .experiment_id = experiment_id };
	char id[32];
	snprintf(id, sizeof(id), "%ld", experiment_id);
	const char *const only[] = { experiment_id > 0 ? id : experiment, NULL };
	struct report_queries q = queries(experiment, experiment_id);
	int rc = store_query(s, q.rows, only, print_row, &p);
	if (!rc && !p.failed && f == REPORT_TABLE && p.n > 0)
		table_flush(&p);
	free(p.table);
	if (rc || p.failed)
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

/* ---- the known-dimension table ---- */

/* Every data set of known dimension against every strategy run on it: the estimates, and
 * the cells the thesis's criterion counts as correct (the view's `correct`). */
struct known_table {
	char (*data)[128];     /* experiments, in the order their names were first run */
	double *truth;
	char (*strategy)[64];  /* strategies, in the order of their first decision */
	double *estimate;      /* (data, strategy), NAN where not run */
	int *correct;          /* (data, strategy), -1 where not run */
	int n_data, n_strategy, cap;
	int failed;
};

#define KNOWN_MAX_STRATEGIES 64

static int known_row(void *ctx, int ncol, char **names, char **values)
{
	struct known_table *t = ctx;
	const char *exp = value(ncol, names, values, "experiment");
	const char *strategy = value(ncol, names, values, "strategy");
	if (!exp || !strategy)
		return 0;
	int i = t->n_data - 1, j;
	if (i < 0 || strcmp(t->data[i], exp)) {
		if (t->n_data == t->cap) {
			int cap = t->cap ? 2 * t->cap : 16;
			void *d = realloc(t->data, sizeof(*t->data) * (size_t)cap);
			if (d)
				t->data = d;
			void *tr = d ? realloc(t->truth, sizeof(double) * (size_t)cap) : NULL;
			if (tr)
				t->truth = tr;
			size_t cells = (size_t)cap * KNOWN_MAX_STRATEGIES;
			void *e = tr ? realloc(t->estimate, sizeof(double) * cells) : NULL;
			if (e)
				t->estimate = e;
			void *c = e ? realloc(t->correct, sizeof(int) * cells) : NULL;
			if (!c) {
				t->failed = ds_fail("out of memory printing the known-dimension table");
				return 1;
			}
			t->correct = c;
			t->cap = cap;
		}
		i = t->n_data++;
		snprintf(t->data[i], sizeof(t->data[i]), "%s", exp);
		t->truth[i] = field(ncol, names, values, "true_dimension");
		for (j = 0; j < KNOWN_MAX_STRATEGIES; j++) {
			t->estimate[(size_t)i * KNOWN_MAX_STRATEGIES + j] = NAN;
			t->correct[(size_t)i * KNOWN_MAX_STRATEGIES + j] = -1;
		}
	}
	for (j = 0; j < t->n_strategy && strcmp(t->strategy[j], strategy); j++)
		;
	if (j == t->n_strategy) {
		if (j == KNOWN_MAX_STRATEGIES)
			return 0; /* more columns than a table can show: the views have them all */
		snprintf(t->strategy[j], sizeof(t->strategy[j]), "%s", strategy);
		t->n_strategy++;
	}
	const char *correct = value(ncol, names, values, "correct");
	t->estimate[(size_t)i * KNOWN_MAX_STRATEGIES + j] =
		field(ncol, names, values, "estimate_mean");
	t->correct[(size_t)i * KNOWN_MAX_STRATEGIES + j] = correct ? atoi(correct) == 1 : -1;
	return 0;
}

/* An estimate as the thesis prints it: two decimals, whole numbers without them; '*' marks
 * a correct cell. */
static void known_cell(char *out, size_t size, double estimate, int correct)
{
	if (!isfinite(estimate))
		snprintf(out, size, "-");
	else if (estimate == floor(estimate))
		snprintf(out, size, "%.0f%s", estimate, correct == 1 ? "*" : "");
	else
		snprintf(out, size, "%.2f%s", estimate, correct == 1 ? "*" : "");
}

int report_known_id(struct store *s, const char *experiment, FILE *out)
{
	static const char *const sql[2] = {
		"SELECT experiment, true_dimension, strategy, estimate_mean, correct FROM "
		"v_summary_all WHERE experiment_id IN (SELECT experiment_id FROM v_latest) AND "
		"true_dimension IS NOT NULL AND strategy NOT LIKE 'earlybird(%' ORDER BY (SELECT "
		"min(x.id) FROM experiment x WHERE "
		"x.name = experiment), decided_first",
		"SELECT experiment, true_dimension, strategy, estimate_mean, correct FROM "
		"v_summary_all WHERE experiment_id IN (SELECT experiment_id FROM v_latest) AND "
		"true_dimension IS NOT NULL AND strategy NOT LIKE 'earlybird(%' AND "
		IN_GROUP("experiment") " ORDER BY (SELECT "
		"min(x.id) FROM experiment x WHERE x.name = experiment), decided_first",
	};
	struct known_table t = { 0 };
	t.strategy = calloc(KNOWN_MAX_STRATEGIES, sizeof(*t.strategy));
	if (!t.strategy)
		return ds_fail("out of memory printing the known-dimension table");
	const char *const only[] = { experiment, NULL };
	int rc = store_query(s, sql[experiment != NULL], experiment ? only : NULL, known_row, &t);
	if (!rc && !t.failed && t.n_data >= 2) {
		/* the data set's name without its group's, and its true dimension */
		size_t skip = experiment ? strlen(experiment) + 1 : 0;
		char label[160], cell[48];
		int w0 = (int)strlen("correct (of 99)"), w = 5;
		for (int i = 0; i < t.n_data; i++) {
			snprintf(label, sizeof(label), "%s (%g)",
				 strlen(t.data[i]) > skip ? t.data[i] + skip : t.data[i], t.truth[i]);
			w0 = display_width(label) > w0 ? display_width(label) : w0;
		}
		for (int j = 0; j < t.n_strategy; j++)
			w = (int)strlen(t.strategy[j]) > w ? (int)strlen(t.strategy[j]) : w;
		fprintf(out, "known dimension: each strategy's estimate (the mean over its seeds)\n");
		pad(out, "data (true d)", w0, 1);
		for (int j = 0; j < t.n_strategy; j++) {
			fputc(' ', out);
			pad(out, t.strategy[j], w, 0);
		}
		fputc('\n', out);
		for (int i = 0; i < t.n_data; i++) {
			snprintf(label, sizeof(label), "%s (%g)",
				 strlen(t.data[i]) > skip ? t.data[i] + skip : t.data[i], t.truth[i]);
			pad(out, label, w0, 1);
			for (int j = 0; j < t.n_strategy; j++) {
				size_t at = (size_t)i * KNOWN_MAX_STRATEGIES + j;
				known_cell(cell, sizeof(cell), t.estimate[at], t.correct[at]);
				fputc(' ', out);
				pad(out, cell, w, 0);
			}
			fputc('\n', out);
		}
		snprintf(label, sizeof(label), "correct (of %d)", t.n_data);
		pad(out, label, w0, 1);
		for (int j = 0; j < t.n_strategy; j++) {
			int n = 0;
			for (int i = 0; i < t.n_data; i++)
				n += t.correct[(size_t)i * KNOWN_MAX_STRATEGIES + j] == 1;
			snprintf(cell, sizeof(cell), "%d", n);
			fputc(' ', out);
			pad(out, cell, w, 0);
		}
		fprintf(out,
			"\n*: correct, |estimate - d| < 0.5 with the estimate rounded to two "
			"decimals (Klazinga's criterion); the estimate\nis an estimator's own, the "
			"chosen K of every other strategy; '-': not run on that data set\n\n");
	}
	int shown = t.n_data >= 2 ? t.n_data : 0;
	free(t.data);
	free(t.truth);
	free(t.strategy);
	free(t.estimate);
	free(t.correct);
	if (rc || t.failed)
		return -1;
	return shown;
}

/* ---- Early-Bird's lambda sweep ---- */

/* The sweep's table as it fills: settings as rows, data sets as columns. */
struct sweep_table {
	char setting[64][48];  /* "0.001  0.01" */
	char data[16][128];
	double truth[16];
	char cell[64][16][40];
	int n_setting, n_data;
	FILE *out;
};

static int sweep_row(void *ctx, int ncol, char **names, char **values)
{
	struct sweep_table *t = ctx;
	const char *exp = value(ncol, names, values, "experiment");
	char setting[48];
	snprintf(setting, sizeof(setting), "%-8g %g", field(ncol, names, values, "lambda"),
		 field(ncol, names, values, "lambda_hidden"));
	int i, j;
	for (i = 0; i < t->n_setting && strcmp(t->setting[i], setting); i++)
		;
	for (j = 0; j < t->n_data && strcmp(t->data[j], exp ? exp : ""); j++)
		;
	if (i == 64 || j == 16)
		return 0; /* more than a table shows: the view has them all */
	if (i == t->n_setting)
		snprintf(t->setting[t->n_setting++], sizeof(t->setting[0]), "%s", setting);
	if (j == t->n_data) {
		snprintf(t->data[t->n_data], sizeof(t->data[0]), "%s", exp ? exp : "");
		t->truth[t->n_data++] = field(ncol, names, values, "true_dimension");
	}
	snprintf(t->cell[i][j], sizeof(t->cell[0][0]), "%g (%d/%d/%d/%d)",
		 field(ncol, names, values, "k_median"),
		 (int)field(ncol, names, values, "too_few"), (int)field(ncol, names, values, "exact"),
		 (int)field(ncol, names, values, "one_over"),
		 (int)field(ncol, names, values, "two_or_more_over"));
	return 0;
}

int report_eb_sweep(struct store *s, const char *experiment, FILE *out)
{
	static const char *const sql[2] = {
		"SELECT * FROM v_eb_sweep_summary",
		"SELECT * FROM v_eb_sweep_summary WHERE " IN_GROUP("experiment"),
	};
	struct sweep_table *t = calloc(1, sizeof(*t));
	if (!t)
		return ds_fail("out of memory printing Early-Bird's sweep");
	const char *const only[] = { experiment, NULL };
	int rc = store_query(s, sql[experiment != NULL], experiment ? only : NULL, sweep_row, t);
	if (!rc && t->n_setting > 0) {
		size_t skip = experiment ? strlen(experiment) + 1 : 0;
		int w = 18;
		char label[160];
		fprintf(out, "Early-Bird's lambda sweep: the median count after the budget over the "
			     "seeds (seeds with too few / d / d + 1 / d + 2 or more)\n");
		pad(out, "lambda   hidden", 17, 1);
		for (int j = 0; j < t->n_data; j++) {
			snprintf(label, sizeof(label), "%s (%g)",
				 strlen(t->data[j]) > skip ? t->data[j] + skip : t->data[j],
				 t->truth[j]);
			fputc(' ', out);
			pad(out, label, w, 0);
		}
		fputc('\n', out);
		for (int i = 0; i < t->n_setting; i++) {
			pad(out, t->setting[i], 17, 1);
			for (int j = 0; j < t->n_data; j++) {
				fputc(' ', out);
				pad(out, t->cell[i][j][0] ? t->cell[i][j] : "-", w, 0);
			}
			fputc('\n', out);
		}
		fputc('\n', out);
	}
	int n = t->n_setting;
	free(t);
	return rc ? -1 : n;
}
