/* experiment.c: experiments.ini through inih, with line numbers, long lines, and every
 * mistake reported at once.
 *
 * Debian's inih is built with a 200-byte line limit and without line numbers for the
 * handler, so it reads through our own line reader: the reader counts lines (the handler
 * runs right after the reader returns the line it parses), strips leading white space (so
 * that an indented key is never taken as a continuation of the previous value), checks the
 * shape of each line, and hands lines longer than inih's limit to the handler on the side. */
#include "experiment.h"

#include "../core/hash.h"
#include "../core/probe.h"
#include "../core/train.h"
#include "strategy.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INIH_LINE 200		   /* INI_MAX_LINE of Debian's libinih */
#define LONG_VALUE_MARK "\001long" /* stands in for a value too long for inih */
#define MAX_EXPERIMENTS 256
#define K_MAX_DEFAULT 64 /* k_max without a grid */

/* ---- the experiment's own keys ---- */

static int parse_widths(void *block, const char *value, char *why, size_t size);
static int parse_scale(void *block, const char *value, char *why, size_t size);
static int parse_latent_act(void *block, const char *value, char *why, size_t size);
static int parse_arch(void *block, const char *value, char *why, size_t size);
static int parse_channels(void *block, const char *value, char *why, size_t size);
static int parse_shape(void *block, const char *value, char *why, size_t size);
static int parse_output_act(void *block, const char *value, char *why, size_t size);
static int parse_loss(void *block, const char *value, char *why, size_t size);
static int parse_seeds(void *block, const char *value, char *why, size_t size);
static int parse_strategies(void *block, const char *value, char *why, size_t size);

#define F(field) offsetof(struct experiment, field)

/* Bumped whenever training's results change in their last bits for the same settings (a new
 * summation order, a new exp): 2 = one chunk per batch by default, GEMMs in fixed pieces, the
 * vectorised sigmoid. Version 1 was not written into the hash. */
#define ENGINE_NUMERICS "numerics = 2\n"

/* In the order of the configuration record. The identity hashes the shared keys in this
 * order: keep it, or every stored experiment gets a new identity. */
static const struct setting own_keys[] = {
	{ .name = "description",
	  .type = SETTING_STRING,
	  .offset = F(description),
	  .lo = 0,
	  .hi = 0,
	  .def = "",
	  .help = "free text",
	  .capacity = sizeof(((struct experiment *)0)->description) },
	{ .name = "dataset",
	  .type = SETTING_STRING,
	  .offset = F(dataset),
	  .lo = 0,
	  .hi = 0,
	  .def = NULL,
	  .help = "a dataset SPEC such as fashion-mnist or affine:d=5,D=50,n=4000",
	  .capacity = sizeof(((struct experiment *)0)->dataset),
	  .shared = 1 },
	{ .name = "n_train",
	  .type = SETTING_LONG,
	  .offset = F(n_train),
	  .lo = 0,
	  .hi = 1e9,
	  .def = "0",
	  .help = "training examples to keep, 0 for all",
	  .shared = 1 },
	{ .name = "n_val",
	  .type = SETTING_LONG,
	  .offset = F(n_val),
	  .lo = -1,
	  .hi = 1e9,
	  .def = "-1",
	  .help = "validation examples, -1 for the default",
	  .shared = 1 },
	{ .name = "n_test",
	  .type = SETTING_LONG,
	  .offset = F(n_test),
	  .lo = -1,
	  .hi = 1e9,
	  .def = "-1",
	  .help = "test examples, -1 for the default",
	  .shared = 1 },
	{ .name = "data_seed",
	  .type = SETTING_LONG,
	  .offset = F(data_seed),
	  .lo = 0,
	  .hi = 9e18,
	  .def = "1",
	  .help = "seed of the splits and synthetic data",
	  .shared = 1 },
	/* not .shared: identify() hashes the resolved scaling itself, and only when it is not
	 * none, so that experiments from before the key keep their identity */
	{ .name = "scale",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = "auto",
	  .help = "auto, " DATA_SCALE_NAMES " (auto: zscore for csv data, none otherwise)",
	  .parse = parse_scale },
	{ .name = "hidden",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = AE_DEFAULT_HIDDEN,
	  .help = "comma-separated encoder widths, e.g. 512,256, or none (with arch = conv: "
		  "one layer of half the flattened size unless given)",
	  .parse = parse_widths,
	  .shared = 1 },
	/* the convolutional keys: not .shared, identify() hashes them when arch = conv, so
	 * that dense experiments keep their identity */
	{ .name = "arch",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = "dense",
	  .help = "dense, or conv: convolutional blocks before the dense layers and transposed "
		  "ones after them",
	  .parse = parse_arch },
	{ .name = "channels",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = AE_DEFAULT_CHANNELS,
	  .help = "arch = conv: each block's output channels, e.g. 32,64 (up to 4 blocks)",
	  .parse = parse_channels },
	{ .name = "kernel",
	  .type = SETTING_INT,
	  .offset = F(kernel),
	  .lo = 1,
	  .hi = 31,
	  .def = SETTING_NUMBER(AE_DEFAULT_KERNEL),
	  .help = "arch = conv: the kernel side, odd, from 1 to 31" },
	{ .name = "shape",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = "auto",
	  .help = "arch = conv: an example's shape CxHxW, e.g. 1x28x28 (auto: the image files' "
		  "own, for fashion-mnist, mnist and idx data)",
	  .parse = parse_shape },
	{ .name = "latent_act",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = "relu",
	  .help = "relu, sigmoid or identity",
	  .parse = parse_latent_act,
	  .shared = 1 },
	{ .name = "output_act",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = "auto",
	  .help = "auto, relu, sigmoid or identity",
	  .parse = parse_output_act,
	  .shared = 1 },
	{ .name = "loss",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = "mse",
	  .help = "mse or bce",
	  .parse = parse_loss,
	  .shared = 1 },
	{ .name = "k_max",
	  .type = SETTING_INT,
	  .offset = F(k_max),
	  .lo = 0,
	  .hi = 1 << 16,
	  .def = "0",
	  .help = "the widest latent layer, 0 for the largest grid value" },
	{ .name = "epochs",
	  .type = SETTING_INT,
	  .offset = F(epochs),
	  .lo = 1,
	  .hi = 1e6,
	  .def = SETTING_NUMBER(TRAIN_DEFAULT_EPOCHS),
	  .help = "a whole number from 1",
	  .shared = 1 },
	{ .name = "delivery.epochs",
	  .type = SETTING_INT,
	  .offset = F(delivery_epochs),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "0",
	  .help = "epochs of the training a strategy gives the model it hands over at its K (a "
		  "fresh one, SOSAE's fine-tuning, Early-Bird's ticket), 0 for epochs" },
	{ .name = "batch",
	  .type = SETTING_INT,
	  .offset = F(batch),
	  .lo = 1,
	  .hi = 1 << 20,
	  .def = SETTING_NUMBER(TRAIN_DEFAULT_BATCH),
	  .help = "a whole number from 1",
	  .shared = 1 },
	{ .name = "chunks",
	  .type = SETTING_INT,
	  .offset = F(chunks),
	  .lo = 1,
	  .hi = 1024,
	  .def = SETTING_NUMBER(TRAIN_DEFAULT_CHUNKS),
	  .help = "chunks per batch, from 1 to batch",
	  .shared = 1 },
	{ .name = "lr",
	  .type = SETTING_DOUBLE,
	  .offset = F(lr),
	  .lo = 1e-12,
	  .hi = 1e3,
	  .def = SETTING_NUMBER(TRAIN_DEFAULT_LR),
	  .help = "Adam's step size, above 0",
	  .shared = 1 },
	{ .name = "seeds",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = "1",
	  .help = "seeds such as 1 or 1,2,3 or 1..5",
	  .parse = parse_seeds },
	{ .name = "strategies",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = NULL,
	  .help = "a comma-separated list of strategies",
	  .parse = parse_strategies },
	{ .name = "probe.epochs",
	  .type = SETTING_INT,
	  .offset = F(probe_epochs),
	  .lo = 1,
	  .hi = 1e4,
	  .def = SETTING_NUMBER(PROBE_DEFAULT_EPOCHS),
	  .help = "a whole number from 1",
	  .shared = 1 },
	{ .name = "probe.lr",
	  .type = SETTING_DOUBLE,
	  .offset = F(probe_lr),
	  .lo = 1e-9,
	  .hi = 10,
	  .def = SETTING_NUMBER(PROBE_DEFAULT_LR),
	  .help = "a step size above 0",
	  .shared = 1 },
};

#define N_OWN SETTINGS_COUNT(own_keys)

/* "512,256" or "none" into hidden */
static int parse_widths(void *block, const char *value, char *why, size_t size)
{
	struct experiment *e = block;
	int n = setting_widths(value, e->hidden, AE_MAX_HIDDEN, why, size);
	if (n < 0)
		return -1;
	e->n_hidden = n;
	return 0;
}

/* arch: dense or conv */
static int parse_arch(void *block, const char *value, char *why, size_t size)
{
	struct experiment *e = block;
	if (strcmp(value, "dense") && strcmp(value, "conv")) {
		snprintf(why, size, "'%s' is not dense or conv", value);
		return -1;
	}
	e->conv = !strcmp(value, "conv");
	return 0;
}

/* channels: "32,64" */
static int parse_channels(void *block, const char *value, char *why, size_t size)
{
	struct experiment *e = block;
	int n = setting_widths(value, e->channels, AE_MAX_CONV, why, size);
	if (n < 0)
		return -1;
	if (n == 0) {
		snprintf(why, size, "at least one block's channels, e.g. 32,64");
		return -1;
	}
	e->n_channels = n;
	return 0;
}

/* shape: auto, or CxHxW */
static int parse_shape(void *block, const char *value, char *why, size_t size)
{
	struct experiment *e = block;
	if (!strcmp(value, "auto")) {
		e->shape[0] = e->shape[1] = e->shape[2] = 0;
		return 0;
	}
	int c, h, w, used = 0;
	if (sscanf(value, "%dx%dx%d%n", &c, &h, &w, &used) != 3 || value[used] || c < 1 ||
	    h < 1 || w < 1 || (long long)c * h * w > (1 << 24)) {
		snprintf(why, size, "'%s' is not auto or CxHxW with positive sizes, e.g. 1x28x28",
			 value);
		return -1;
	}
	e->shape[0] = c, e->shape[1] = h, e->shape[2] = w;
	return 0;
}

/* scale: auto (by the dataset's kind, resolved in check_experiment) or a scaling. */
static int parse_scale(void *block, const char *value, char *why, size_t size)
{
	struct experiment *e = block;
	enum data_scale s;
	if (!strcmp(value, "auto")) {
		e->scale_key = -1;
		return 0;
	}
	if (data_scale_parse(value, &s)) {
		snprintf(why, size, "'%s' is not auto, %s", value, DATA_SCALE_NAMES);
		return -1;
	}
	e->scale_key = (int)s;
	return 0;
}

/* latent_act: an activation. */
static int parse_latent_act(void *block, const char *value, char *why, size_t size)
{
	struct experiment *e = block;
	if (act_parse(value, &e->latent_act)) {
		snprintf(why, size, "'%s' is not relu, sigmoid or identity", value);
		return -1;
	}
	return 0;
}

/* output_act: auto (by the data) or an activation. */
static int parse_output_act(void *block, const char *value, char *why, size_t size)
{
	struct experiment *e = block;
	enum act a;
	if (!strcmp(value, "auto")) {
		e->output_act = -1;
		return 0;
	}
	if (act_parse(value, &a)) {
		snprintf(why, size, "'%s' is not auto, relu, sigmoid or identity", value);
		return -1;
	}
	e->output_act = (int)a;
	return 0;
}

/* loss: mse or bce. */
static int parse_loss(void *block, const char *value, char *why, size_t size)
{
	struct experiment *e = block;
	if (loss_parse(value, &e->loss)) {
		snprintf(why, size, "'%s' is not mse or bce", value);
		return -1;
	}
	return 0;
}

/* seeds: a list or a range of seeds. */
static int parse_seeds(void *block, const char *value, char *why, size_t size)
{
	struct experiment *e = block;
	long s[EXP_MAX_SEEDS];
	int n = parse_int_list(value, 0, INT64_MAX, s, EXP_MAX_SEEDS, why, (int)size);
	if (n < 0)
		return -1;
	memcpy(e->seeds, s, sizeof(long) * (size_t)n);
	e->n_seeds = n;
	return 0;
}

/* names of the registry's strategies, each at most once */
static int parse_strategies(void *block, const char *value, char *why, size_t size)
{
	struct experiment *e = block;
	char known[1024];
	registry_names(e->registry, known, sizeof(known));
	char *buf = strdup(value);
	if (!buf) {
		snprintf(why, size, "out of memory");
		return -1;
	}
	int rc = 0;
	e->n_strategies = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && !rc;
	     tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		for (char *end = tok + strlen(tok); end > tok && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		const struct strategy *s = registry_find(e->registry, tok);
		if (!s) {
			snprintf(why, size, "unknown strategy '%s' (known: %s)", tok, known);
			rc = -1;
		} else if (experiment_has(e, tok)) {
			snprintf(why, size, "'%s' is listed twice", tok);
			rc = -1;
		} else if (e->n_strategies == EXP_MAX_STRATEGIES) {
			snprintf(why, size, "more than %d strategies", EXP_MAX_STRATEGIES);
			rc = -1;
		} else {
			e->strategies[e->n_strategies++] = s;
		}
	}
	free(buf);
	if (!rc && e->n_strategies == 0) {
		snprintf(why, size, "the list is empty (known: %s)", known);
		rc = -1;
	}
	return rc;
}

/* ---- every key: the experiment's, then each table's in registry order ---- */

struct key {
	const struct setting *s;
	int table; /* -1: the experiment's own */
};

/* The keys of registry r, in record order, into a new array; its length in *n. */
static struct key *all_keys(const struct registry *r, int *n)
{
	int total = N_OWN;
	for (int t = 0; t < r->n_tables; t++)
		total += r->table[t]->n_keys;
	struct key *k = malloc(sizeof(*k) * (size_t)total);
	if (!k)
		return NULL;
	int i = 0;
	for (int j = 0; j < N_OWN; j++)
		k[i++] = (struct key){ &own_keys[j], -1 };
	for (int t = 0; t < r->n_tables; t++)
		for (int j = 0; j < r->table[t]->n_keys; j++)
			k[i++] = (struct key){ &r->table[t]->keys[j], t };
	*n = total;
	return k;
}

/* The block a key parses into: the experiment itself, or its table's block. */
static void *key_block(struct experiment *e, const struct key *k)
{
	return k->table < 0 ? (void *)e : (void *)(e->settings + e->registry->offset[k->table]);
}

/* ---- parse state ---- */

struct parse {
	struct experiment_file *f;
	const struct registry *registry;
	struct key *keys;
	int n_keys;
	FILE *in;
	char *buf; /* the current physical line */
	size_t buf_size;
	int lineno;
	char *long_value; /* value of a line too long for inih */
	int section_line; /* line of the last [section] header */
	/* per experiment and key: the line where it was set (0: not set) and its raw value */
	int *key_line;
	char **raw;
	size_t errors_size;
};

/* One problem, "FILE:LINE: message", appended to the file's list of errors. */
__attribute__((format(printf, 3, 4))) static void config_error(struct parse *p, int line,
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


/* inih's reader: one physical line per call, checked for shape */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	for (;;) {
		ssize_t len = getline(&p->buf, &p->buf_size, p->in);
		if (len < 0)
			return NULL;
		p->lineno++;
		char *line = p->buf;
		/* a UTF-8 byte-order mark, as some editors write it, is not part of the text */
		if (p->lineno == 1 && !strncmp(line, "\xEF\xBB\xBF", 3))
			line += 3;
		line = setting_trim(line);
		if (*line == '\0' || *line == ';' || *line == '#') {
			snprintf(str, (size_t)num, "\n");
			return str;
		}
		if (*line == '[') {
			char *close = strchr(line, ']');
			if (!close || setting_trim(close + 1)[0] != '\0') {
				config_error(p, p->lineno,
					     "a section header must look like [name]");
				snprintf(str, (size_t)num, "\n");
				return str;
			}
			p->section_line = p->lineno;
		} else if (!strchr(line, '=')) {
			config_error(p, p->lineno, "expected 'key = value' (got '%.60s')", line);
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
			config_error(p, p->lineno, "line too long to be a section header or key");
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
		p->long_value = strdup(setting_trim(value));
		snprintf(str, (size_t)num, "%s = %s\n", setting_trim(line), LONG_VALUE_MARK);
		return str;
	}
}

/* ---- the handler ---- */

static int find_key(const struct parse *p, const char *name)
{
	for (int i = 0; i < p->n_keys; i++)
		if (!strcmp(p->keys[i].s->name, name))
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

/* The experiment of this section, begun with every default the first time it is seen; -1
 * when there are too many. */
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
	e->registry = p->registry;
	char why[256];
	for (int k = 0; k < p->n_keys; k++) {
		const struct setting *s = p->keys[k].s;
		if (s->def && setting_parse(s, key_block(e, &p->keys[k]), s->def, why, sizeof(why)))
			abort(); /* a default that does not parse is a bug in its table */
	}
	return f->n_exp++;
}

/* Levenshtein distance between a and b (keys are short: one row of at most 64 cells) */
static int edit_distance(const char *a, const char *b)
{
	int row[65];
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 1 << 20;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j];
			int best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* An unknown key, with the nearest known one when it is a likely typo (within a third of
 * the name's length, at least 2 edits), else a pointer to the README's list: listing all
 * of them buries the line that matters. */
static void unknown_key(struct parse *p, int line, const char *section, const char *name)
{
	int best = -1, best_d = 1 << 20;
	for (int i = 0; i < p->n_keys; i++) {
		int d = edit_distance(name, p->keys[i].s->name);
		if (d < best_d) {
			best_d = d;
			best = i;
		}
	}
	int near = (int)strlen(name) / 3;
	if (best >= 0 && best_d <= (near > 2 ? near : 2))
		config_error(p, line, "[%s] %s: unknown key; did you mean '%s'?", section, name,
			     p->keys[best].s->name);
	else
		config_error(p, line,
			     "[%s] %s: unknown key (README.md, section experiments.ini, lists "
			     "every key)",
			     section, name);
}

/* inih's callback: one key of one section into its experiment, checked. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	int line = p->lineno;
	if (!strcmp(value, LONG_VALUE_MARK) && p->long_value)
		value = p->long_value;
	if (!*section) {
		config_error(p, line,
			     "%s: every key belongs to an experiment: start one with [name]", name);
		return 1;
	}
	if (!valid_name(section)) {
		config_error(p, line,
			     "[%s]: experiment names use letters, digits, '-', '_' and '.'",
			     section);
		return 1;
	}
	int x = experiment_index(p, section);
	if (x < 0) {
		config_error(p, line, "more than %d experiments", MAX_EXPERIMENTS);
		return 1;
	}
	struct experiment *e = &p->f->exp[x];
	int k = find_key(p, name);
	if (k < 0) {
		unknown_key(p, line, section, name);
		return 1;
	}
	int *at = &p->key_line[x * p->n_keys + k];
	if (*at) {
		config_error(p, line, "[%s] %s: duplicate key (first set on line %d)", section,
			     name, *at);
		return 1;
	}
	*at = line;
	char why[1024];
	if (setting_parse(p->keys[k].s, key_block(e, &p->keys[k]), value, why, sizeof(why))) {
		config_error(p, line, "[%s] %s: %s", section, name, why);
		return 1;
	}
	p->raw[x * p->n_keys + k] = strdup(value);
	return 1;
}

/* ---- checks across keys, identity ---- */


/* Whether a strategy of e reads settings table t. */
static int table_used(const struct experiment *e, const struct settings *t)
{
	for (int i = 0; i < e->n_strategies; i++)
		if (e->strategies[i]->settings == t)
			return 1;
	return 0;
}

/* printf into e->defaults after what it holds; text that does not fit is dropped whole */
__attribute__((format(printf, 2, 3))) static void defaults_add(struct experiment *e,
							       const char *fmt, ...)
{
	size_t used = strlen(e->defaults);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(e->defaults + used, sizeof(e->defaults) - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(e->defaults) - used)
		e->defaults[used] = '\0';
}

/* Whether key s of table t belongs to a strategy e does not run, though a strategy it runs
 * reads the table (halving.eta in grid search's table, when halving is not listed): its
 * prefix names a strategy other than the one of the table's first key. */
static int for_a_strategy_not_run(const struct experiment *e, int t, const struct setting *s)
{
	const struct settings *table = e->registry->table[t];
	char prefix[64], owner[64];
	snprintf(prefix, sizeof(prefix), "%.*s", (int)strcspn(s->name, "."), s->name);
	snprintf(owner, sizeof(owner), "%.*s", (int)strcspn(table->keys[0].name, "."),
		 table->keys[0].name);
	return strcmp(prefix, owner) && registry_find(e->registry, prefix) &&
	       !experiment_has(e, prefix);
}

/* What a default of 0 or nothing stands for, as its help says it (" (2 / k_max)" from
 * "..., 0 for 2 / k_max"; "(unset: delivery.epochs)" for an empty default whose help says
 * "(default delivery.epochs)"), else "". */
static void default_meaning(const struct setting *s, char *out, size_t size)
{
	const char *at = NULL;
	size_t n = 0;
	out[0] = '\0';
	if (!*s->def && (at = strstr(s->help, "(default"))) {
		at += strlen("(default");
		at += strspn(at, ": ");
		n = strcspn(at, ")");
	} else if (!strcmp(s->def, "0") && (at = strstr(s->help, "0 for "))) {
		at += strlen("0 for ");
		n = strcspn(at, ";,");
	}
	if (!*s->def)
		snprintf(out, size, n ? "(unset: %.*s)" : "(unset)", (int)n, at);
	else if (n)
		snprintf(out, size, " (%.*s)", (int)n, at);
}

/* e->defaults: k_max and its source, the scaling when auto chose it, then one line per
 * settings table a strategy of e reads, naming each key the section left to its default
 * (its text as the table declares it: 0 is often "the experiment's", see README.md). */
static void note_defaults(struct parse *p, int x, const char *k_max_from)
{
	struct experiment *e = &p->f->exp[x];
	const int *at = &p->key_line[x * p->n_keys];
	e->defaults[0] = '\0';
	defaults_add(e, "[%s] k_max = %d (%s)", e->name, e->k_max, k_max_from);
	if (e->scale_key < 0)
		defaults_add(e, "; scale = %s (default for %.*s data)", data_scale_name(e->scale),
			     (int)strcspn(e->dataset, ":"), e->dataset);
	defaults_add(e, "\n");
	const struct registry *r = p->registry;
	for (int t = 0; t < r->n_tables; t++) {
		if (!table_used(e, r->table[t]))
			continue;
		char keys[2048] = "";
		size_t used = 0;
		for (int k = 0; k < p->n_keys && used < sizeof(keys); k++) {
			const struct setting *s = p->keys[k].s;
			if (p->keys[k].table != t || at[k] || !s->def || for_a_strategy_not_run(e, t, s))
				continue;
			char meaning[128];
			default_meaning(s, meaning, sizeof(meaning));
			used += (size_t)snprintf(keys + used, sizeof(keys) - used, "%s%s = %s%s",
						 used ? ", " : "", s->name, s->def, meaning);
		}
		if (used)
			defaults_add(e, "[%s] %s defaults: %s\n", e->name, r->table[t]->title, keys);
	}
}

/* Each table's checks across its keys, then the experiment's own. */
static void check_experiment(struct parse *p, int x)
{
	struct experiment *e = &p->f->exp[x];
	const int *at = &p->key_line[x * p->n_keys];
	for (int k = 0; k < p->n_keys; k++)
		if (!p->keys[k].s->def && !at[k])
			config_error(p, e->line, "[%s] %s: missing required key (%s)", e->name,
				     p->keys[k].s->name, p->keys[k].s->help);
	for (int k = 0; k < p->n_keys; k++)
		if (!strcmp(p->keys[k].s->name, "hidden"))
			e->hidden_given = at[k] != 0;
	for (int k = 0; k < p->n_keys && !e->conv; k++) {
		const char *name = p->keys[k].s->name;
		if (at[k] && (!strcmp(name, "channels") || !strcmp(name, "kernel") ||
			      !strcmp(name, "shape")))
			config_error(p, at[k], "[%s] %s: only for convolutional models; add arch = "
				     "conv, or remove it", e->name, name);
	}
	if (e->conv && e->kernel % 2 == 0)
		config_error(p, e->line, "[%s] kernel: %d is even; the blocks need an odd kernel "
			     "side (1, 3, 5, ...)", e->name, e->kernel);
	const struct registry *r = p->registry;
	int k_max_given = e->k_max != 0;
	for (int t = 0; t < r->n_tables; t++) {
		if (!r->table[t]->finish)
			continue;
		char why[1024];
		const char *key = NULL;
		if (r->table[t]->finish(e, e->settings + r->offset[t], table_used(e, r->table[t]),
					why, sizeof(why), &key)) {
			int k = key ? find_key(p, key) : -1;
			config_error(p, k >= 0 && at[k] ? at[k] : e->line, "[%s] %s", e->name, why);
		}
	}
	const char *k_max_from = k_max_given ? "given" : "the largest grid value";
	if (e->k_max == 0) {
		e->k_max = K_MAX_DEFAULT;
		k_max_from = "default: no grid given";
	}
	if (e->delivery_epochs == 0)
		e->delivery_epochs = e->epochs;
	e->scale = e->scale_key >= 0 ? (enum data_scale)e->scale_key
				     : data_scale_default(e->dataset);
	note_defaults(p, x, k_max_from);
	if (e->chunks > e->batch)
		config_error(p, at[find_key(p, "chunks")], "[%s] chunks: %d exceeds batch = %d",
			     e->name, e->chunks, e->batch);
}

/* The record: every resolved setting in key order; the identity: only what every trial
 * shares (data, architecture, training, probe). Strategy settings are part of their trials'
 * keys instead, so that changing one strategy re-runs only its trials. */
static void identify(struct parse *p, int x)
{
	struct experiment *e = &p->f->exp[x];
	/* the engine's arithmetic first: trials stored by an engine that sums differently are
	 * another configuration's, never mixed with this one's; the stored settings say so */
	size_t used = (size_t)snprintf(e->config, sizeof(e->config), "%s", ENGINE_NUMERICS);
	uint64_t hash = fnv1a(FNV1A_START, ENGINE_NUMERICS, strlen(ENGINE_NUMERICS));
	for (int k = 0; k < p->n_keys; k++) {
		const struct setting *s = p->keys[k].s;
		if (!strcmp(s->name, "description"))
			continue;
		const char *raw = p->raw[x * p->n_keys + k];
		const char *v = raw ? raw : s->def ? s->def : "";
		int scale_key = !strcmp(s->name, "scale");
		if (scale_key)
			v = data_scale_name(e->scale); /* the scaling, auto resolved */
		int conv_key = !strcmp(s->name, "arch") || !strcmp(s->name, "channels") ||
			       !strcmp(s->name, "kernel") || !strcmp(s->name, "shape");
		if (conv_key && !e->conv)
			continue;
		if (e->conv && !e->hidden_given && !strcmp(s->name, "hidden"))
			v = "auto (half the flattened size)";
		int n = snprintf(e->config + used, sizeof(e->config) - used, "%s = %s\n", s->name,
				 v);
		if (n < 0 || (size_t)n >= sizeof(e->config) - used) {
			config_error(p, e->line,
				     "[%s]: the settings are longer than %zu characters", e->name,
				     sizeof(e->config) - 1);
			break;
		}
		if (p->keys[k].table < 0 &&
		    (s->shared || conv_key || (scale_key && e->scale != SCALE_NONE)))
			hash = fnv1a(hash, e->config + used, (size_t)n);
		used += (size_t)n;
	}
	snprintf(e->hash, sizeof(e->hash), "%016llx", (unsigned long long)hash);
}

/* Read every section of p->in into p->f. */
static void parse_file(struct parse *p)
{
	struct experiment_file *f = p->f;
	int rc = ini_parse_stream(read_line, p, handler, p);
	if (rc > 0 && f->n_errors == 0)
		config_error(p, rc, "cannot parse this line");
	if (ferror(p->in))
		config_error(p, 0, "read error: %s", strerror(errno));
	if (f->n_exp == 0 && f->n_errors == 0)
		config_error(p, 0, "no experiments: add a section such as [quick] with keys");
	for (int x = 0; x < f->n_exp; x++) {
		check_experiment(p, x);
		identify(p, x);
	}
}

int experiments_load(struct experiment_file *f, const char *path, const struct registry *r)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s", path);
	struct parse p = { .f = f, .registry = r };
	p.in = fopen(path, "r");
	if (!p.in) {
		config_error(&p, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	p.keys = all_keys(r, &p.n_keys);
	f->exp = calloc(MAX_EXPERIMENTS, sizeof(struct experiment));
	if (p.keys) {
		p.key_line = calloc((size_t)MAX_EXPERIMENTS * p.n_keys, sizeof(int));
		p.raw = calloc((size_t)MAX_EXPERIMENTS * p.n_keys, sizeof(char *));
	}
	if (!f->exp || !p.keys || !p.key_line || !p.raw)
		config_error(&p, 0, "out of memory");
	else
		parse_file(&p);
	fclose(p.in);
	free(p.buf);
	free(p.long_value);
	for (size_t i = 0; p.raw && i < (size_t)MAX_EXPERIMENTS * p.n_keys; i++)
		free(p.raw[i]);
	free(p.raw);
	free(p.key_line);
	free(p.keys);
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
		if (!strcmp(e->strategies[i]->name, strategy))
			return 1;
	return 0;
}

const void *experiment_settings(const struct experiment *e, const struct settings *t)
{
	for (int i = 0; e->registry && i < e->registry->n_tables; i++)
		if (e->registry->table[i] == t)
			return e->settings + e->registry->offset[i];
	return NULL;
}
