/* report.h: the comparison table, read from the database alone (view v_comparison). */
#ifndef DS_REPORT_H
#define DS_REPORT_H

#include <stdio.h>

#include "store.h"

enum report_format { REPORT_TABLE, REPORT_CSV, REPORT_JSON };

int report_format_parse(const char *s, enum report_format *f);

/* Print v_comparison for one experiment (or all when NULL). Returns the number of rows
 * printed, or -1 with ds_errmsg(). */
int report_print(struct store *s, const char *experiment, enum report_format f, FILE *out);

/* The FLOP convention in three lines, printed once under a table. */
void report_flop_note(FILE *out);

#endif
