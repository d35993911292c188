/* blas.c: choosing OpenBLAS's kernels and keeping it to one thread. */
#include "blas.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* OpenBLAS extensions (declared in its cblas.h, repeated here to keep this file small) */
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int n);

#define REEXEC_GUARD "DIMSEARCH_BLAS_REEXEC"

static const char *avx512_cores[] = { "skylakex", "cooperlake", "sapphirerapids" };

const char *blas_wanted_coretype(int cpu_has_avx512, const char *current_core)
{
	if (!cpu_has_avx512 || !current_core)
		return NULL;
	for (size_t i = 0; i < sizeof(avx512_cores) / sizeof(*avx512_cores); i++)
		if (!strcasecmp(current_core, avx512_cores[i]))
			return NULL;
	return "SkylakeX";
}

int blas_cpu_has_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
	       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
	       __builtin_cpu_supports("avx512vl");
}

void blas_select_kernel(char **argv)
{
	if (getenv("OPENBLAS_CORETYPE") || getenv(REEXEC_GUARD))
		return;
	const char *want = blas_wanted_coretype(blas_cpu_has_avx512(), openblas_get_corename());
	if (!want)
		return;
	setenv("OPENBLAS_CORETYPE", want, 1);
	setenv(REEXEC_GUARD, "1", 1);
	execv("/proc/self/exe", argv);
	/* could not re-execute: carry on with the kernel already loaded */
	unsetenv("OPENBLAS_CORETYPE");
}

void blas_single_thread(void)
{
	openblas_set_num_threads(1);
}

const char *blas_core_name(void)
{
	return openblas_get_corename();
}

const char *blas_config(void)
{
	return openblas_get_config();
}

void blas_describe(char *buf, int size)
{
	const char *core = openblas_get_corename();
	const char *env = getenv("OPENBLAS_CORETYPE");
	int avx512 = blas_cpu_has_avx512();
	const char *why;
	if (getenv(REEXEC_GUARD) && env)
		why = "AVX-512 kernels selected by dimsearch";
	else if (env)
		why = "OPENBLAS_CORETYPE set by the user";
	else if (avx512)
		why = "CPU has AVX-512; OpenBLAS's choice";
	else
		why = "CPU has no AVX-512; OpenBLAS's choice";
	snprintf(buf, (size_t)size, "%s (%s)", core, why);
}

static double sgemm_seconds;

static double clock_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void blas_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *A,
		int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
	double t0 = clock_seconds();
	cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
		    trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, lda, B, ldb, beta, C,
		    ldc);
	double dt = clock_seconds() - t0;
#pragma omp atomic
	sgemm_seconds += dt;
}

double blas_sgemm_seconds(void)
{
	double s;
#pragma omp atomic read
	s = sgemm_seconds;
	return s;
}
