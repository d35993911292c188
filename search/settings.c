/* settings.c: one value of experiments.ini into its field, by the type its table gives. */
#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *setting_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* A whole number filling all of text (after trimming), without overflow: 0 or -1. */
static int whole_number(char *text, long *v)
{
	char *end, *t = setting_trim(text);
	errno = 0;
	*v = strtol(t, &end, 10);
	return end == t || *setting_trim(end) || errno ? -1 : 0;
}

/* "A..B" or "A..B step S" into out; the count or -1 with why */
static int parse_range(char *s, char *dots, long lo, long hi, long *out, int max, char *why,
		       int why_size)
{
	long a, b, step = 1;
	*dots = '\0';
	char *rest = dots + 2, *st = strstr(rest, "step");
	if (st)
		*st = '\0';
	if (whole_number(s, &a) || whole_number(rest, &b) || (st && whole_number(st + 4, &step)) ||
	    step < 1)
		return -2;
	if (a > b) {
		snprintf(why, (size_t)why_size, "the range %ld..%ld is empty", a, b);
		return -1;
	}
	if (a < lo || b > hi) {
		snprintf(why, (size_t)why_size, "%ld is outside %ld..%ld", a < lo ? a : b, lo, hi);
		return -1;
	}
	int n = 0;
	for (long v = a;; v += step) {
		if (n == max) {
			snprintf(why, (size_t)why_size, "more than %d values", max);
			return -1;
		}
		out[n++] = v;
		if (b - v < step) /* the next value would pass b (or overflow) */
			break;
	}
	return n;
}

int parse_int_list(const char *text, long lo, long hi, long *out, int max, char *why, int why_size)
{
	char *buf = strdup(text);
	if (!buf) {
		snprintf(why, (size_t)why_size, "out of memory");
		return -1;
	}
	char *s = setting_trim(buf);
	int n = 0;
	char *dots = strstr(s, "..");
	if (dots) {
		n = parse_range(s, dots, lo, hi, out, max, why, why_size);
		if (n == -2)
			goto bad;
		free(buf);
		return n;
	}
	for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		long v;
		if (whole_number(tok, &v))
			goto bad;
		if (v < lo || v > hi) {
			snprintf(why, (size_t)why_size, "%ld is outside %ld..%ld", v, lo, hi);
			goto fail;
		}
		if (n > 0 && v <= out[n - 1]) {
			snprintf(why, (size_t)why_size,
				 "values must be ascending and distinct (%ld "
				 "after %ld)",
				 v, out[n - 1]);
			goto fail;
		}
		if (n == max) {
			snprintf(why, (size_t)why_size, "more than %d values", max);
			goto fail;
		}
		out[n++] = v;
	}
	if (n == 0)
		goto bad;
	free(buf);
	return n;
bad:
	free(buf);
	buf = strdup(text);
	snprintf(why, (size_t)why_size,
		 "'%s' is not a list like 2,4,8 or a range like 1..64 "
		 "step 1",
		 buf ? setting_trim(buf) : text);
fail:
	free(buf);
	return -1;
}

/* SETTING_INT, SETTING_LONG, SETTING_DOUBLE */
static int parse_number(const struct setting *s, void *field, const char *value, char *why,
			size_t size)
{
	char *end;
	errno = 0;
	double v;
	long whole = 0;
	if (s->type == SETTING_DOUBLE) {
		v = strtod(value, &end);
	} else {
		whole = strtol(value, &end, 10);
		v = (double)whole;
	}
	if (end == value || *end || errno || !isfinite(v)) {
		snprintf(why, size, "'%s' is not %s", value,
			 s->type == SETTING_DOUBLE ? "a number" : "a whole number");
		return -1;
	}
	if (v < s->lo || v > s->hi) {
		if (s->type == SETTING_DOUBLE)
			snprintf(why, size, "%s is out of range: allowed %g to %g (%s)", value,
				 s->lo, s->hi, s->help);
		else
			snprintf(why, size, "%s is out of range: allowed %.0f to %.0f (%s)", value,
				 s->lo, s->hi, s->help);
		return -1;
	}
	if (s->type == SETTING_INT)
		*(int *)field = (int)whole;
	else if (s->type == SETTING_LONG)
		*(long *)field = whole;
	else
		*(double *)field = v;
	return 0;
}

/* SETTING_INT_LIST */
static int parse_ints(const struct setting *s, void *block, const char *value, char *why,
		      size_t size)
{
	int *list = (int *)((char *)block + s->offset);
	int *count = (int *)((char *)block + s->count_offset);
	if (!*value && s->def && !*s->def) {
		*count = 0;
		return 0;
	}
	long *v = malloc(sizeof(long) * (size_t)s->capacity);
	if (!v) {
		snprintf(why, size, "out of memory");
		return -1;
	}
	int n = parse_int_list(value, (long)s->lo, (long)s->hi, v, s->capacity, why, (int)size);
	for (int i = 0; i < n; i++)
		list[i] = (int)v[i];
	free(v);
	if (n < 0)
		return -1;
	*count = n;
	return 0;
}

/* SETTING_DOUBLE_LIST: each value above lo and up to hi */
static int parse_doubles(const struct setting *s, void *block, const char *value, char *why,
			 size_t size)
{
	double *list = (double *)((char *)block + s->offset);
	int *count = (int *)((char *)block + s->count_offset);
	char *buf = strdup(value);
	if (!buf) {
		snprintf(why, size, "out of memory");
		return -1;
	}
	int n = 0, rc = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && !rc;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end, *t = setting_trim(tok);
		errno = 0;
		double v = strtod(t, &end);
		if (end == t || *end || errno || !isfinite(v) || v <= s->lo || v > s->hi) {
			snprintf(why, size, "'%s' is not a number above %g and up to %g (%s)", t,
				 s->lo, s->hi, s->help);
			rc = -1;
		} else if (n == s->capacity) {
			snprintf(why, size, "more than %d values", s->capacity);
			rc = -1;
		} else {
			list[n++] = v;
		}
	}
	free(buf);
	if (!rc && n == 0) {
		snprintf(why, size, "empty (%s)", s->help);
		rc = -1;
	}
	if (!rc)
		*count = n;
	return rc;
}

/* SETTING_WORD: the index of value among the '|'-separated words */
static int parse_word(const struct setting *s, void *field, const char *value, char *why,
		      size_t size)
{
	int index = 0;
	size_t len = strlen(value);
	for (const char *w = s->words; *w; index++) {
		const char *bar = strchr(w, '|');
		size_t n = bar ? (size_t)(bar - w) : strlen(w);
		if (n == len && !strncmp(w, value, n)) {
			*(int *)field = index;
			return 0;
		}
		w += n + (bar ? 1 : 0);
	}
	snprintf(why, size, "'%s' is not %s", value, s->help);
	return -1;
}

int setting_parse(const struct setting *s, void *block, const char *value, char *why, size_t size)
{
	char *field = (char *)block + s->offset;
	switch (s->type) {
	case SETTING_STRING:
		if (strlen(value) >= (size_t)s->capacity) {
			snprintf(why, size, "longer than %d characters", s->capacity - 1);
			return -1;
		}
		if (!s->def && !*value) {
			snprintf(why, size, "empty");
			return -1;
		}
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case SETTING_INT:
	case SETTING_LONG:
	case SETTING_DOUBLE: return parse_number(s, field, value, why, size);
	case SETTING_INT_LIST: return parse_ints(s, block, value, why, size);
	case SETTING_DOUBLE_LIST: return parse_doubles(s, block, value, why, size);
	case SETTING_WORD: return parse_word(s, field, value, why, size);
	case SETTING_CUSTOM: return s->parse(block, value, why, size);
	}
	snprintf(why, size, "a key of unknown type");
	return -1;
}

int setting_widths(const char *text, int *widths, int max, char *why, size_t size)
{
	if (!strcmp(text, "none") || !*text)
		return 0;
	int w[64], n = 0;
	for (const char *p = text;;) {
		char *end;
		while (isspace((unsigned char)*p))
			p++;
		errno = 0;
		long v = strtol(p, &end, 10);
		const char *after = end;
		while (isspace((unsigned char)*after))
			after++;
		if (end == p || errno || v < 1 || v > (1 << 20) || (*after && *after != ',')) {
			snprintf(why, size, "'%s' is not a list of widths (comma-separated encoder "
					    "widths, e.g. 512,256, or none)",
				 text);
			return -1;
		}
		if (n == max || n == 64) {
			snprintf(why, size, "at most %d hidden layers", max < 64 ? max : 64);
			return -1;
		}
		w[n++] = (int)v;
		if (!*after)
			break;
		p = after + 1;
	}
	memcpy(widths, w, sizeof(int) * (size_t)n);
	return n;
}
