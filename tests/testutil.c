/* testutil.c: scratch files and small numeric helpers for the tests. */
#include "testutil.h"

#include <math.h>
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
