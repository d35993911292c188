/* testutil.c: scratch files and small numeric helpers for the tests. */
#include "testutil.h"

#include <ctype.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static char scratch[256];

static void remove_scratch(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", scratch);
}

const char *tmp_path(const char *name)
{
	static _Thread_local char buf[512];
	if (!scratch[0]) {
		snprintf(scratch, sizeof(scratch), "/tmp/dimsearch-test-XXXXXX");
		if (!mkdtemp(scratch)) {
			perror("mkdtemp");
			abort();
		}
		atexit(remove_scratch);
	}
	snprintf(buf, sizeof(buf), "%s/%s", scratch, name);
	return buf;
}

void write_idx(const char *path, int n_dims, const uint32_t *dims, const unsigned char *data,
	       int gz, uint32_t magic_override)
{
	unsigned char head[4 + 16];
	uint32_t magic = magic_override ? magic_override : 0x0800u | (uint32_t)n_dims;
	size_t bytes = 1;
	for (int i = 0; i < 4; i++)
		head[i] = (unsigned char)(magic >> (24 - 8 * i));
	for (int d = 0; d < n_dims; d++) {
		for (int i = 0; i < 4; i++)
			head[4 + 4 * d + i] = (unsigned char)(dims[d] >> (24 - 8 * i));
		bytes *= dims[d];
	}
	size_t head_len = 4 + 4 * (size_t)n_dims;
	if (gz) {
		gzFile f = gzopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(gzwrite(f, head, (unsigned)head_len), (int)head_len);
		if (bytes)
			assert_int_equal(gzwrite(f, data, (unsigned)bytes), (int)bytes);
		gzclose(f);
	} else {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(head, 1, head_len, f), head_len);
		assert_int_equal(fwrite(data, 1, bytes, f), bytes);
		fclose(f);
	}
}

double rel_err(const double *a, const double *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		num += (a[i] - b[i]) * (a[i] - b[i]);
		den += b[i] * b[i];
	}
	return sqrt(num) / fmax(sqrt(den), 1e-30);
}

int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int run_command(const char *cmd, char *out, size_t size)
{
	char full[4096];
	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	FILE *p = popen(full, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	while (fgetc(p) != EOF)
		; /* drain what did not fit */
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

double fd_gradient_error(double (*loss)(void *ctx), void *ctx, double *p, size_t n,
			 const float *grad)
{
	const double step = 1e-6;
	double *fd = malloc(sizeof(double) * n), *ours = malloc(sizeof(double) * n);
	assert_non_null(fd);
	assert_non_null(ours);
	for (size_t i = 0; i < n; i++) {
		double keep = p[i];
		p[i] = keep + step;
		double up = loss(ctx);
		p[i] = keep - step;
		double down = loss(ctx);
		p[i] = keep;
		fd[i] = (up - down) / (2 * step);
		ours[i] = grad[i];
	}
	double err = rel_err(ours, fd, n);
	free(fd);
	free(ours);
	return err;
}

/* ---- a strict JSON reader, for tests of what dimsearch prints ---- */

static const char *json_value(const char *p, int depth);

static const char *json_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_string_end(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
				p += 5;
			} else if (*p && strchr("\"\\/bfnrt", *p)) {
				p++;
			} else {
				return NULL;
			}
			continue;
		}
		int n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
				      : (c & 0xf8) == 0xf0	  ? 4
									  : 0;
		if (n == 0 || (n == 2 && c < 0xc2))
			return NULL;
		for (int i = 1; i < n; i++)
			if (((unsigned char)p[i] & 0xc0) != 0x80)
				return NULL;
		p += n;
	}
	return p + 1;
}

static const char *json_number_end(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p;
}

static const char *json_value(const char *p, int depth)
{
	p = json_space(p);
	if (depth > 64)
		return NULL;
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = json_space(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				p = json_string_end(json_space(p));
				if (!p || *(p = json_space(p)) != ':')
					return NULL;
				p++;
			}
			p = json_value(p, depth + 1);
			if (!p)
				return NULL;
			p = json_space(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return json_string_end(p);
	static const char *words[] = { "true", "false", "null" };
	for (int i = 0; i < 3; i++)
		if (!strncmp(p, words[i], strlen(words[i])))
			return p + strlen(words[i]);
	return json_number_end(p);
}

int json_valid(const char *text)
{
	const char *end = json_value(text, 0);
	return end && *json_space(end) == '\0';
}

char *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0, got;
	do {
		if (cap - n < 4096) {
			char *b = realloc(buf, cap = cap ? 2 * cap : 8192);
			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = '\0';
	if (size)
		*size = n;
	return buf;
}

char *db_dump(const char *db, const char *query)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 10000);
	if (sqlite3_prepare_v2(h, query, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", query, sqlite3_errmsg(h));
	size_t cap = 1 << 16, len = 0;
	char *text = calloc(cap, 1);
	assert_non_null(text);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const unsigned char *v = sqlite3_column_text(st, i);
			size_t need = len + (v ? strlen((const char *)v) : 4) + 4;
			if (need >= cap) { /* a long dump: room doubles */
				while (need >= cap)
					cap *= 2;
				text = realloc(text, cap);
				assert_non_null(text);
			}
			len += (size_t)snprintf(text + len, cap - len, "%s%s", i ? "|" : "",
						v ? (const char *)v : "NULL");
		}
		len += (size_t)snprintf(text + len, cap - len, "\n");
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return text;
}

int svg_series(const char *svg)
{
	int n = 0;
	for (int i = 1; i < 1000; i++) {
		char id[64];
		snprintf(id, sizeof(id), "<g id=\"gnuplot_plot_%d\"", i);
		if (!strstr(svg, id))
			break;
		n++;
	}
	return n;
}
