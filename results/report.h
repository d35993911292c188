/* report.h: the comparison table, read from the database alone (view v_summary). */
#ifndef DS_REPORT_H
#define DS_REPORT_H

#include <stdio.h>

#include "store.h"

enum report_format { REPORT_TABLE, REPORT_CSV, REPORT_JSON };

int report_format_parse(const char *s, enum report_format *f);

/* Print the comparison of the current configuration of one experiment (or of all when
 * NULL), or, when experiment_id > 0, of that one configuration whichever is current.
 * Returns the number of rows printed, or -1 with ds_errmsg(). */
int report_print(struct store *s, const char *experiment, long experiment_id,
		 enum report_format f, FILE *out);

/* The known-dimension table of the current configurations of experiment (a name or a
 * group's; NULL: all) whose data has a known intrinsic dimension: one row per data set, one
 * column per strategy, each cell the estimate (an estimator's own, else the chosen K; the
 * mean over seeds) marked '*' when correct as Klazinga's thesis counts it (view column
 * `correct`), and a last row counting the correct cells. Printed when there are at least
 * two such data sets; returns how many rows it printed (0 or at least 2), or -1 with
 * ds_errmsg(). */
int report_known_id(struct store *s, const char *experiment, FILE *out);

/* Early-Bird's lambda sweeps (strategies earlybird(l=..,h=..)) of the experiment or group
 * (NULL: all) on data of known dimension, from v_eb_sweep_summary: one row per setting, one
 * column per data set, nothing when there are none. The number of settings printed, or -1
 * with ds_errmsg(). */
int report_eb_sweep(struct store *s, const char *experiment, FILE *out);

/* text as a JSON string: quotes, backslashes and control characters escaped, bytes that are
 * not UTF-8 as U+FFFD. */
void report_json_string(FILE *out, const char *text);

/* The FLOP convention in three lines, printed once under a table. */
void report_flop_note(FILE *out);

#endif
