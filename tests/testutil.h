/* testutil.h: helpers shared by the cmocka tests: temp files, IDX writers, error measures. */
#ifndef DS_TESTUTIL_H
#define DS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* A path inside this process's scratch folder (made on first use, removed at exit). */
const char *tmp_path(const char *name);

/* Write an IDX ubyte file: dims sizes (dims[0] items), data of prod(dims) bytes; gzipped when
 * gz is set. magic_override replaces the magic number when non-zero. */
void write_idx(const char *path, int n_dims, const uint32_t *dims, const unsigned char *data,
	       int gz, uint32_t magic_override);

/* Central differences (step 1e-6) of loss(ctx) in each of the n doubles of p, compared with
 * the analytic gradient grad: returns ||grad - fd|| / ||fd||. p is restored. */
double fd_gradient_error(double (*loss)(void *ctx), void *ctx, double *p, size_t n,
			 const float *grad);

/* ||a - b|| / max(||b||, 1e-30) */
double rel_err(const double *a, const double *b, size_t n);

/* Run a shell command with stdout+stderr into out (NUL-terminated); returns its exit
 * status, or -1 when it did not exit normally. */
int run_command(const char *cmd, char *out, size_t size);

/* The whole of a file, NUL-terminated, its length in *size (when not NULL); NULL when it
 * cannot be read. Caller frees. */
char *slurp(const char *path, size_t *size);

/* Write text to a file. */
void write_text(const char *path, const char *text);

/* Whether a file exists. */
int file_exists(const char *path);

/* Every row of a query on the database file db (opened read-only), one line each, '|' between
 * columns, NULL as "NULL"; the test fails when the query does. Caller frees. */
char *db_dump(const char *db, const char *query);

/* Data series in a gnuplot SVG: the distinct ids gnuplot_plot_1, _2, ... (each appears for
 * its curve and again for its key entry). */
int svg_series(const char *svg);

/* Whether text is exactly one JSON value (RFC 8259: strict numbers, escapes, UTF-8),
 * surrounded by white space at most. */
int json_valid(const char *text);

#endif
