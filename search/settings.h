/* settings.h: keys of experiments.ini, declared as tables.
 *
 * The experiment's own keys (data, architecture, training) are one table in experiment.c;
 * each strategy declares its keys in a table of its own, beside its code, with a block of
 * fields they parse into (struct settings). The configuration loader reads every table of
 * the registry, so a strategy's keys need no change anywhere else, and they never enter the
 * experiment's identity: changing one re-runs only the trials whose keys name it. */
#ifndef DS_SETTINGS_H
#define DS_SETTINGS_H

#include <stddef.h>

struct experiment;

enum setting_type {
	SETTING_STRING,	     /* char[capacity] */
	SETTING_INT,	     /* int in [lo, hi] */
	SETTING_LONG,	     /* long in [lo, hi] */
	SETTING_DOUBLE,	     /* double in [lo, hi] */
	SETTING_INT_LIST,    /* int[capacity], ascending and distinct in [lo, hi]: "1..64 step 2",
			      * "2,4,8"; the count in the int at count_offset; an empty value is
			      * allowed when the default is empty */
	SETTING_DOUBLE_LIST, /* double[capacity], each in (lo, hi], comma-separated */
	SETTING_WORD,	     /* int: the index of the value in words ("exp|linear") */
	SETTING_CUSTOM	     /* parse() does it */
};

struct setting {
	const char *name; /* "sosae.alpha": a strategy's keys start with its prefix */
	enum setting_type type;
	size_t offset;	     /* the field in the table's block */
	double lo, hi;	     /* range of numbers */
	const char *def;     /* default, parsed like a user's value; NULL: required */
	const char *help;    /* what is allowed, for error messages and the README */
	int capacity;	     /* strings: bytes; lists: values */
	size_t count_offset; /* lists: the int holding the count */
	const char *words;   /* SETTING_WORD: the choices, '|'-separated */
	/* SETTING_CUSTOM: parse value into the block; 0, or -1 with the reason in why */
	int (*parse)(void *block, const char *value, char *why, size_t size);
	int shared; /* the experiment's keys only: part of its identity */
};

/* A table of keys and the block of fields they fill. Several strategies may share one (the
 * estimators share id.n); each experiment holds one block per table of its registry. */
struct settings {
	const char *title; /* for messages: "SOSAE" */
	const struct setting *keys;
	int n_keys;
	size_t size; /* of the block */
	/* After every key is read: checks across keys, and values derived from others (e.g.
	 * k_max from the grid). used: whether a strategy of the experiment reads this block.
	 * 0, or -1 with the reason in why and in *key the key whose line to cite (NULL: the
	 * section's). NULL for none. */
	int (*finish)(struct experiment *e, void *block, int used, char *why, size_t size,
		      const char **key);
};

#define SETTINGS_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A numeric macro as the text of a default: SETTING_NUMBER(TRAIN_DEFAULT_EPOCHS) is "10". */
#define SETTING_NUMBER(x) SETTING_TEXT_(x)
#define SETTING_TEXT_(x) #x

/* s without leading and trailing white space (s is changed). */
char *setting_trim(char *s);

/* Parse value into block for key s: 0, or -1 with the reason in why. */
int setting_parse(const struct setting *s, void *block, const char *value, char *why, size_t size);

/* "512,256" (white space allowed) or "none" into at most max widths, each 1 to 2^20: the
 * count, or -1 with the reason in why; widths is left as it was on failure. */
int setting_widths(const char *text, int *widths, int max, char *why, size_t size);

/* Parse "1..64 step 2", "1..64" or "2,4,8": ascending distinct values in [lo, hi].
 * Returns the count or -1 with a reason in why. */
int parse_int_list(const char *text, long lo, long hi, long *out, int max, char *why, int why_size);

#endif
