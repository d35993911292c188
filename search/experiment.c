/* experiment.c: experiments.ini through inih, with line numbers, long lines, and every
 * mistake reported at once.
 *
 * Debian's inih is built with a 200-byte line limit and without line numbers for the
 * handler, so it reads through our own line reader: the reader counts lines (the handler
 * runs right after the reader returns the line it parses), strips leading white space (so
 * that an indented key is never taken as a continuation of the previous value), checks the
 * shape of each line, and hands lines longer than inih's limit to the handler on the side. */
#include "experiment.h"
#include "strategy.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INIH_LINE 200                 /* INI_MAX_LINE of Debian's libinih */
#define LONG_VALUE_MARK "\001long"    /* stands in for a value too long for inih */
#define MAX_EXPERIMENTS 256

/* ---- the keys ---- */

enum key_type { T_STRING, T_INT, T_LONG, T_DOUBLE, T_WIDTHS, T_ACT, T_OUTPUT_ACT, T_LOSS,
		T_SEEDS, T_STRATEGIES, T_GRID, T_SELECT, T_NUMBERS, T_WEIGHT, T_EPOCH_LIST };

struct key {
	const char *name;
	enum key_type type;
	size_t offset;        /* field in struct experiment */
	double lo, hi;        /* range of numbers */
	const char *def;      /* default, parsed like a user's value */
	const char *help;     /* what is allowed, for error messages */
};

#define F(field) offsetof(struct experiment, field)

static const struct key keys[] = {
	{ "description", T_STRING, F(description), 0, 0, "", "free text" },
	{ "dataset", T_STRING, F(dataset), 0, 0, NULL,
	  "a dataset SPEC such as fashion-mnist or affine:d=5,D=50,n=4000" },
	{ "n_train", T_LONG, F(n_train), 0, 1e9, "0", "training examples to keep, 0 for all" },
	{ "n_val", T_LONG, F(n_val), -1, 1e9, "-1", "validation examples, -1 for the default" },
	{ "n_test", T_LONG, F(n_test), -1, 1e9, "-1", "test examples, -1 for the default" },
	{ "data_seed", T_LONG, F(data_seed), 0, 9e18, "1", "seed of the splits and synthetic data" },
	{ "hidden", T_WIDTHS, F(hidden), 1, 1 << 20, "512,256",
	  "comma-separated encoder widths, e.g. 512,256, or none" },
	{ "latent_act", T_ACT, F(latent_act), 0, 0, "relu", "relu, sigmoid or identity" },
	{ "output_act", T_OUTPUT_ACT, F(output_act), 0, 0, "auto",
	  "auto, relu, sigmoid or identity" },
	{ "loss", T_LOSS, F(loss), 0, 0, "mse", "mse or bce" },
	{ "k_max", T_INT, F(k_max), 0, 1 << 16, "0",
	  "the widest latent layer, 0 for the largest grid value" },
	{ "epochs", T_INT, F(epochs), 1, 1e6, "10", "a whole number from 1" },
	{ "batch", T_INT, F(batch), 1, 1 << 20, "256", "a whole number from 1" },
	{ "chunks", T_INT, F(chunks), 1, 1024, "2", "chunks per batch, from 1 to batch" },
	{ "lr", T_DOUBLE, F(lr), 1e-12, 1e3, "0.001", "Adam's step size, above 0" },
	{ "seeds", T_SEEDS, F(seeds), 0, 9e18, "1", "seeds such as 1 or 1,2,3 or 1..5" },
	{ "strategies", T_STRATEGIES, F(strategies), 0, 0, NULL,
	  "a comma-separated list of strategies" },
	{ "grid", T_GRID, F(grid), 1, 1 << 16, "", "latent widths: 1..64 step 1 or 2,4,8,16" },
	{ "grid.select", T_SELECT, F(grid_select), 0, 1, "within:0.05",
	  "within:TOL (smallest K within TOL of the best) or knee" },
	{ "sosae.alpha", T_NUMBERS, F(sosae_alpha), 0, 100, "0.1",
	  "the positional growth: one number above 0, or a list for a sensitivity sweep" },
	{ "sosae.lambda", T_NUMBERS, F(sosae_lambda), 0, 1e6, "0.00001",
	  "the penalty weight: one number above 0, or a list" },
	{ "sosae.weight", T_WEIGHT, F(sosae_weight), 0, 0, "exp",
	  "exp: w_k = (1+alpha)^(k-1), or linear: w_k = 1 + alpha (k-1)" },
	{ "sosae.l1", T_DOUBLE, F(sosae_l1), 0, 1e6, "0", "a plain L1 weight, 0 for none" },
	{ "sosae.tau", T_DOUBLE, F(sosae_tau), 0, 1e6, "0",
	  "activity threshold, 0 for an exact (lossless) cut" },
	{ "sosae.patience", T_INT, F(sosae_patience), 0, 1e6, "0",
	  "stop after this many epochs with K* unchanged, 0 to train the full budget" },
	{ "sosae.finetune", T_EPOCH_LIST, F(sosae_finetune), 0, 1e6, "5",
	  "epochs of training at K* after the cut, 0 for none; a list such as 0,5,20 compares "
	  "them" },
	{ "eb.lambda", T_DOUBLE, F(eb_lambda), 0, 1e6, "0.1",
	  "the L1 subgradient weight on the latent scales" },
	{ "eb.p", T_DOUBLE, F(eb_p), 0, 1, "0.5", "the mask's quantile of |gamma|, 0 to 1" },
	{ "eb.eps", T_DOUBLE, F(eb_eps), 0, 1, "0.1",
	  "ticket when the newest mask is this close to each of the 4 before it" },
	{ "vae.beta", T_DOUBLE, F(vae_beta), 0, 1e6, "1",
	  "the KL weight: loss = MSE + beta * KL / D per example, 1 for the plain ELBO" },
	{ "id.n", T_INT, F(id_n), 0, 1e7, "2500",
	  "training points the estimators use (a seeded sample), 0 for all" },
	{ "lpca.k", T_INT, F(lpca_k), 2, 1e5, "100", "neighbours of local PCA" },
	{ "lpca.alpha", T_DOUBLE, F(lpca_alpha), 1e-9, 1, "0.05",
	  "eigenvalues above alpha times the largest count" },
	{ "mle.k", T_INT, F(mle_k), 2, 1e5, "20", "neighbours of the MLE" },
	{ "twonn.discard", T_DOUBLE, F(twonn_discard), 0, 0.99, "0.1",
	  "fraction of the largest ratios TwoNN drops" },
	{ "probe.epochs", T_INT, F(probe_epochs), 1, 1e4, "20", "a whole number from 1" },
	{ "probe.lr", T_DOUBLE, F(probe_lr), 1e-9, 10, "0.01", "a step size above 0" },
};

#define N_KEYS ((int)(sizeof(keys) / sizeof(*keys)))


/* ---- parse state ---- */

struct parse {
	struct experiment_file *f;
	FILE *in;
	char *buf;                   /* the current physical line */
	size_t buf_size;
	int lineno;
	char *long_value;            /* value of a line too long for inih */
	int section_line;            /* line of the last [section] header */
	/* per experiment: the line where each key was set (0: not set) and its raw value */
	int (*key_line)[N_KEYS];
	char *(*raw)[N_KEYS];
	size_t errors_size;
};

__attribute__((format(printf, 3, 4))) static void report(struct parse *p, int line,
							 const char *fmt, ...)
{
	struct experiment_file *f = p->f;
	char msg[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char head[1200];
	if (line > 0)
		snprintf(head, sizeof(head), "%s:%d: ", f->path, line);
	else
		snprintf(head, sizeof(head), "%s: ", f->path);
	size_t need = strlen(head) + strlen(msg) + 2;
	size_t used = f->errors ? strlen(f->errors) : 0;
	if (used + need + 1 > p->errors_size) {
		size_t size = (used + need + 1) * 2;
		char *e = realloc(f->errors, size);
		if (!e)
			return;
		if (!f->errors)
			e[0] = '\0';
		f->errors = e;
		p->errors_size = size;
	}
	strcat(f->errors, head);
	strcat(f->errors, msg);
	strcat(f->errors, "\n");
	f->n_errors++;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* inih's reader: one physical line per call, checked for shape */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	for (;;) {
		ssize_t len = getline(&p->buf, &p->buf_size, p->in);
		if (len < 0)
			return NULL;
		p->lineno++;
		char *line = trim(p->buf);
		if (*line == '\0' || *line == ';' || *line == '#') {
			snprintf(str, (size_t)num, "\n");
			return str;
		}
		if (*line == '[') {
			char *close = strchr(line, ']');
			if (!close || trim(close + 1)[0] != '\0') {
				report(p, p->lineno, "a section header must look like [name]");
				snprintf(str, (size_t)num, "\n");
				return str;
			}
			p->section_line = p->lineno;
		} else if (!strchr(line, '=')) {
			report(p, p->lineno, "expected 'key = value' (got '%.60s')", line);
			snprintf(str, (size_t)num, "\n");
			return str;
		}
		if ((int)strlen(line) + 2 <= num && (int)strlen(line) + 2 <= INIH_LINE) {
			snprintf(str, (size_t)num, "%s\n", line);
			return str;
		}
		/* too long for inih: pass "key = MARK" and keep the value here */
		char *eq = strchr(line, '=');
		if (*line == '[' || !eq || eq - line > 64) {
			report(p, p->lineno, "line too long to be a section header or key");
			snprintf(str, (size_t)num, "\n");
			return str;
		}
		*eq = '\0';
		free(p->long_value);
		char *value = eq + 1;
		/* inline comments start with ';' after white space, as inih has it */
		for (char *c = value; *c; c++)
			if (*c == ';' && c > value && isspace((unsigned char)c[-1])) {
				*c = '\0';
				break;
			}
		p->long_value = strdup(trim(value));
		snprintf(str, (size_t)num, "%s = %s\n", trim(line), LONG_VALUE_MARK);
		return str;
	}
}

/* ---- values ---- */

int parse_int_list(const char *text, long lo, long hi, long *out, int max, char *why,
		   int why_size)
{
	char buf[8192];
	snprintf(buf, sizeof(buf), "%s", text);
	char *s = trim(buf);
	int n = 0;
	char *dots = strstr(s, "..");
	if (dots) {
		char *end;
		errno = 0;
		long a = strtol(s, &end, 10);
		if (end != dots || errno)
			goto bad;
		long b = strtol(dots + 2, &end, 10);
		long step = 1;
		char *rest = trim(end);
		if (!strncmp(rest, "step", 4)) {
			char *num = trim(rest + 4);
			step = strtol(num, &end, 10);
			if (end == num || *trim(end) || step < 1)
				goto bad;
		} else if (*rest) {
			goto bad;
		}
		if (a > b) {
			snprintf(why, (size_t)why_size, "the range %ld..%ld is empty", a, b);
			return -1;
		}
		for (long v = a; v <= b; v += step) {
			if (v < lo || v > hi) {
				snprintf(why, (size_t)why_size, "%ld is outside %ld..%ld", v, lo, hi);
				return -1;
			}
			if (n == max) {
				snprintf(why, (size_t)why_size, "more than %d values", max);
				return -1;
			}
			out[n++] = v;
		}
		return n;
	}
	for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end, *t = trim(tok);
		errno = 0;
		long v = strtol(t, &end, 10);
		if (end == t || *end || errno)
			goto bad;
		if (v < lo || v > hi) {
			snprintf(why, (size_t)why_size, "%ld is outside %ld..%ld", v, lo, hi);
			return -1;
		}
		if (n > 0 && v <= out[n - 1]) {
			snprintf(why, (size_t)why_size, "values must be ascending and distinct (%ld "
				 "after %ld)", v, out[n - 1]);
			return -1;
		}
		if (n == max) {
			snprintf(why, (size_t)why_size, "more than %d values", max);
			return -1;
		}
		out[n++] = v;
	}
	if (n == 0)
		goto bad;
	return n;
bad:
	snprintf(why, (size_t)why_size, "'%s' is not a list like 2,4,8 or a range like 1..64 "
		 "step 1", s);
	return -1;
}

/* Parse value into e's field for key k; 0, or -1 with why filled. */
static int set_value(struct experiment *e, const struct key *k, const char *value, char *why,
		     int why_size)
{
	char *field = (char *)e + k->offset;
	char *end;
	switch (k->type) {
	case T_STRING: {
		size_t cap = k->offset == F(dataset) ? sizeof(e->dataset) : sizeof(e->description);
		if (strlen(value) >= cap) {
			snprintf(why, (size_t)why_size, "longer than %zu characters", cap - 1);
			return -1;
		}
		if (k->offset == F(dataset) && !*value) {
			snprintf(why, (size_t)why_size, "empty");
			return -1;
		}
		memcpy(field, value, strlen(value) + 1);
		return 0;
	}
	case T_INT:
	case T_LONG:
	case T_DOUBLE: {
		errno = 0;
		double v = k->type == T_DOUBLE ? strtod(value, &end) : (double)strtol(value, &end, 10);
		if (end == value || *end || errno || !isfinite(v)) {
			snprintf(why, (size_t)why_size, "'%s' is not %s", value,
				 k->type == T_DOUBLE ? "a number" : "a whole number");
			return -1;
		}
		if (v < k->lo || v > k->hi) {
			snprintf(why, (size_t)why_size, "%s is out of range (%s)", value, k->help);
			return -1;
		}
		if (k->type == T_INT)
			*(int *)field = (int)v;
		else if (k->type == T_LONG)
			*(long *)field = strtol(value, NULL, 10);
		else
			*(double *)field = v;
		return 0;
	}
	case T_WIDTHS: {
		if (!strcmp(value, "none") || !*value) {
			e->n_hidden = 0;
			return 0;
		}
		long w[AE_MAX_HIDDEN + 1];
		int n = 0;
		char buf[512];
		snprintf(buf, sizeof(buf), "%s", value);
		for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			char *t = trim(tok);
			w[n] = strtol(t, &end, 10);
			if (end == t || *end || w[n] < 1 || w[n] > (1 << 20)) {
				snprintf(why, (size_t)why_size, "'%s' is not a width (%s)", t, k->help);
				return -1;
			}
			if (++n > AE_MAX_HIDDEN) {
				snprintf(why, (size_t)why_size, "at most %d hidden layers",
					 AE_MAX_HIDDEN);
				return -1;
			}
		}
		e->n_hidden = n;
		for (int i = 0; i < n; i++)
			e->hidden[i] = (int)w[i];
		return 0;
	}
	case T_ACT:
	case T_OUTPUT_ACT: {
		enum act a;
		if (k->type == T_OUTPUT_ACT && !strcmp(value, "auto")) {
			e->output_act = -1;
			return 0;
		}
		if (act_parse(value, &a)) {
			snprintf(why, (size_t)why_size, "'%s' is not %s", value, k->help);
			return -1;
		}
		if (k->type == T_ACT)
			e->latent_act = a;
		else
			e->output_act = (int)a;
		return 0;
	}
	case T_LOSS:
		if (loss_parse(value, &e->loss)) {
			snprintf(why, (size_t)why_size, "'%s' is not %s", value, k->help);
			return -1;
		}
		return 0;
	case T_SEEDS: {
		long s[EXP_MAX_SEEDS];
		int n = parse_int_list(value, 0, INT64_MAX, s, EXP_MAX_SEEDS, why, why_size);
		if (n < 0)
			return -1;
		memcpy(e->seeds, s, sizeof(long) * n);
		e->n_seeds = n;
		return 0;
	}
	case T_GRID:
	case T_EPOCH_LIST: {
		int grid = k->type == T_GRID;
		if (grid && !*value) {
			e->n_grid = 0;
			return 0;
		}
		int *list = grid ? e->grid : e->sosae_finetune;
		int *count = grid ? &e->n_grid : &e->n_sosae_finetune;
		long v[EXP_MAX_GRID];
		int n = parse_int_list(value, (long)k->lo, (long)k->hi, v,
				       grid ? EXP_MAX_GRID : EXP_MAX_VARIANTS, why, why_size);
		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++)
			list[i] = (int)v[i];
		*count = n;
		return 0;
	}
	case T_NUMBERS: {
		double *list = (double *)field;
		int *count = k->offset == F(sosae_alpha) ? &e->n_sosae_alpha : &e->n_sosae_lambda;
		char buf[1024];
		snprintf(buf, sizeof(buf), "%s", value);
		int n = 0;
		for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			char *t = trim(tok);
			errno = 0;
			double v = strtod(t, &end);
			if (end == t || *end || errno || !isfinite(v) || v <= k->lo || v > k->hi) {
				snprintf(why, (size_t)why_size, "'%s' is not a number above %g and up "
					 "to %g (%s)", t, k->lo, k->hi, k->help);
				return -1;
			}
			if (n == EXP_MAX_VARIANTS) {
				snprintf(why, (size_t)why_size, "more than %d values",
					 EXP_MAX_VARIANTS);
				return -1;
			}
			list[n++] = v;
		}
		if (n == 0) {
			snprintf(why, (size_t)why_size, "empty (%s)", k->help);
			return -1;
		}
		*count = n;
		return 0;
	}
	case T_WEIGHT:
		if (!strcmp(value, "exp") || !strcmp(value, "linear")) {
			e->sosae_weight = !strcmp(value, "exp") ? SOSAE_WEIGHT_EXP
								: SOSAE_WEIGHT_LINEAR;
			return 0;
		}
		snprintf(why, (size_t)why_size, "'%s' is not %s", value, k->help);
		return -1;
	case T_SELECT:
		if (!strcmp(value, "knee")) {
			e->grid_select = SELECT_KNEE;
			return 0;
		}
		if (!strncmp(value, "within:", 7)) {
			double tol = strtod(value + 7, &end);
			if (end != value + 7 && !*end && tol >= 0 && tol < 10) {
				e->grid_select = SELECT_WITHIN;
				e->grid_tolerance = tol;
				return 0;
			}
		}
		snprintf(why, (size_t)why_size, "'%s' is not %s", value, k->help);
		return -1;
	case T_STRATEGIES: {
		char buf[512];
		snprintf(buf, sizeof(buf), "%s", value);
		e->n_strategies = 0;
		for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			char *t = trim(tok);
			if (!strategy_find(t)) {
				snprintf(why, (size_t)why_size, "unknown strategy '%s' (known: %s)",
					 t, strategy_names());
				return -1;
			}
			for (int i = 0; i < e->n_strategies; i++)
				if (!strcmp(e->strategies[i], t)) {
					snprintf(why, (size_t)why_size, "'%s' is listed twice", t);
					return -1;
				}
			snprintf(e->strategies[e->n_strategies++], sizeof(e->strategies[0]), "%s",
				 t);
		}
		if (e->n_strategies == 0) {
			snprintf(why, (size_t)why_size, "the list is empty (known: %s)",
				 strategy_names());
			return -1;
		}
		return 0;
	}
	}
	return -1;
}

/* ---- the handler ---- */

static int find_key(const char *name)
{
	for (int i = 0; i < N_KEYS; i++)
		if (!strcmp(keys[i].name, name))
			return i;
	return -1;
}

static int valid_name(const char *s)
{
	if (!*s || strlen(s) >= EXP_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

static int experiment_index(struct parse *p, const char *section)
{
	struct experiment_file *f = p->f;
	for (int i = 0; i < f->n_exp; i++)
		if (!strcmp(f->exp[i].name, section))
			return i;
	if (f->n_exp == MAX_EXPERIMENTS)
		return -1;
	struct experiment *e = &f->exp[f->n_exp];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", section);
	e->line = p->section_line;
	char why[256];
	for (int k = 0; k < N_KEYS; k++)
		if (keys[k].def && set_value(e, &keys[k], keys[k].def, why, sizeof(why)))
			abort(); /* a default that does not parse is a bug in the table */
	return f->n_exp++;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	int line = p->lineno;
	if (!strcmp(value, LONG_VALUE_MARK) && p->long_value)
		value = p->long_value;
	if (!*section) {
		report(p, line, "%s: every key belongs to an experiment: start one with [name]",
		       name);
		return 1;
	}
	if (!valid_name(section)) {
		report(p, line, "[%s]: experiment names use letters, digits, '-', '_' and '.'",
		       section);
		return 1;
	}
	int x = experiment_index(p, section);
	if (x < 0) {
		report(p, line, "more than %d experiments", MAX_EXPERIMENTS);
		return 1;
	}
	struct experiment *e = &p->f->exp[x];
	int k = find_key(name);
	if (k < 0) {
		char list[1024] = "";
		for (int i = 0; i < N_KEYS; i++) {
			strcat(list, keys[i].name);
			if (i + 1 < N_KEYS)
				strcat(list, ", ");
		}
		report(p, line, "[%s] %s: unknown key (known: %s)", section, name, list);
		return 1;
	}
	if (p->key_line[x][k]) {
		report(p, line, "[%s] %s: duplicate key (first set on line %d)", section, name,
		       p->key_line[x][k]);
		return 1;
	}
	p->key_line[x][k] = line;
	char why[512];
	if (set_value(e, &keys[k], value, why, sizeof(why))) {
		report(p, line, "[%s] %s: %s", section, name, why);
		return 1;
	}
	p->raw[x][k] = strdup(value);
	return 1;
}

/* ---- checks across keys, identity ---- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* Keys that every trial depends on; the others belong to one strategy or only steer the run
 * (which strategies, which widths), and are part of the trial keys instead. */
static int shared_key(const struct key *k)
{
	static const char *own[] = { "strategies", "grid", "grid.select", "k_max", "seeds" };
	for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++)
		if (!strcmp(k->name, own[i]))
			return 0;
	static const char *prefix[] = { "sosae.", "eb.", "vae.", "id.", "lpca.", "mle.", "twonn." };
	for (size_t i = 0; i < sizeof(prefix) / sizeof(*prefix); i++)
		if (!strncmp(k->name, prefix[i], strlen(prefix[i])))
			return 0;
	return 1;
}

static void finish(struct parse *p, int x)
{
	struct experiment *e = &p->f->exp[x];
	int *at = p->key_line[x];
	for (int k = 0; k < N_KEYS; k++)
		if (!keys[k].def && !at[k])
			report(p, e->line, "[%s] %s: missing required key (%s)", e->name,
			       keys[k].name, keys[k].help);
	if (experiment_has(e, "grid") && e->n_grid == 0 && !at[find_key("grid")])
		report(p, e->line, "[%s] grid: missing; the grid strategy needs it (%s)", e->name,
		       keys[find_key("grid")].help);
	int largest = e->n_grid ? e->grid[e->n_grid - 1] : 0;
	if (e->k_max == 0)
		e->k_max = largest ? largest : 64;
	else if (largest > e->k_max)
		report(p, at[find_key("grid")], "[%s] grid: %d exceeds k_max = %d", e->name,
		       largest, e->k_max);
	if (e->chunks > e->batch)
		report(p, at[find_key("chunks")], "[%s] chunks: %d exceeds batch = %d", e->name,
		       e->chunks, e->batch);
	/* the record: every resolved setting in table order; the identity: only what every
	 * trial shares (data, architecture, training, probe). Strategy settings are part of
	 * their trials' keys instead, so that changing one strategy re-runs only its trials. */
	size_t used = 0;
	uint64_t hash = 0xcbf29ce484222325ULL;
	for (int k = 0; k < N_KEYS; k++) {
		if (!strcmp(keys[k].name, "description"))
			continue;
		const char *v = p->raw[x][k] ? p->raw[x][k] : keys[k].def ? keys[k].def : "";
		int n = snprintf(e->config + used, sizeof(e->config) - used, "%s = %s\n",
				 keys[k].name, v);
		if (n < 0 || (size_t)n >= sizeof(e->config) - used) {
			report(p, e->line, "[%s]: the settings are longer than %zu characters",
			       e->name, sizeof(e->config) - 1);
			break;
		}
		if (shared_key(&keys[k]))
			hash = fnv1a(hash, e->config + used);
		used += (size_t)n;
	}
	snprintf(e->hash, sizeof(e->hash), "%016llx", (unsigned long long)hash);
}
int experiments_load(struct experiment_file *f, const char *path)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s", path);
	struct parse p = { .f = f };
	p.in = fopen(path, "r");
	if (!p.in) {
		report(&p, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	f->exp = calloc(MAX_EXPERIMENTS, sizeof(struct experiment));
	p.key_line = calloc(MAX_EXPERIMENTS, sizeof(*p.key_line));
	p.raw = calloc(MAX_EXPERIMENTS, sizeof(*p.raw));
	if (!f->exp || !p.key_line || !p.raw) {
		report(&p, 0, "out of memory");
	} else {
		int rc = ini_parse_stream(read_line, &p, handler, &p);
		if (rc > 0 && f->n_errors == 0)
			report(&p, rc, "cannot parse this line");
		if (ferror(p.in))
			report(&p, 0, "read error: %s", strerror(errno));
		if (f->n_exp == 0 && f->n_errors == 0)
			report(&p, 0, "no experiments: add a section such as [quick] with keys");
		for (int x = 0; x < f->n_exp; x++)
			finish(&p, x);
	}
	fclose(p.in);
	free(p.buf);
	free(p.long_value);
	for (int x = 0; p.raw && x < MAX_EXPERIMENTS; x++)
		for (int k = 0; k < N_KEYS; k++)
			free(p.raw[x][k]);
	free(p.raw);
	free(p.key_line);
	return f->n_errors ? -1 : 0;
}

void experiments_free(struct experiment_file *f)
{
	free(f->exp);
	free(f->errors);
	memset(f, 0, sizeof(*f));
}

int experiments_select(const struct experiment_file *f, const char *name,
		       const struct experiment **out, int max)
{
	const struct experiment *e = experiments_find(f, name);
	if (e) {
		if (max > 0)
			out[0] = e;
		return 1;
	}
	int n = 0;
	size_t len = strlen(name);
	for (int i = 0; i < f->n_exp && n < max; i++)
		if (!strncmp(f->exp[i].name, name, len) && f->exp[i].name[len] == '.')
			out[n++] = &f->exp[i];
	return n;
}

const struct experiment *experiments_find(const struct experiment_file *f, const char *name)
{
	for (int i = 0; i < f->n_exp; i++)
		if (!strcmp(f->exp[i].name, name))
			return &f->exp[i];
	return NULL;
}

int experiment_has(const struct experiment *e, const char *strategy)
{
	for (int i = 0; i < e->n_strategies; i++)
		if (!strcmp(e->strategies[i], strategy))
			return 1;
	return 0;
}
