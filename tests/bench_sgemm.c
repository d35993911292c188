/* bench_sgemm.c: the sgemm-only ceiling of one training step of the benchmark autoencoder:
 * every GEMM of the step on the whole batch (chunks = 1, dimsearch's default) or on each of
 * its chunks of rows, one BLAS thread per OpenMP thread; on 2 cores, two steps side by side.
 * Prints GFLOP/s and the images/s that GEMMs alone would allow.
 * Usage: bench_sgemm [batch 256] [chunks 1] [latent 32] */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../core/blas.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	blas_select_kernel(argv);
	blas_single_thread();
	int batch = argc > 1 ? atoi(argv[1]) : 256;
	int chunks = argc > 2 ? atoi(argv[2]) : 1;
	int latent = argc > 3 ? atoi(argv[3]) : 32;
	int width[] = { 784, 512, 256, latent, 256, 512, 784 };
	int rows = batch / chunks;
	char kernel[256];
	blas_describe(kernel, sizeof(kernel));
	printf("sgemm ceiling of one step of 784-512-256-%d-256-512-784, batch %d in %d chunks; "
	       "BLAS kernel %s\n",
	       latent, batch, chunks, kernel);
	for (int threads = 1; threads <= 2; threads++) {
		double flops = 0, seconds = 0;
		int steps = 400;
#pragma omp parallel num_threads(threads) reduction(+ : flops)
		{
			float *X = malloc(sizeof(float) * rows * 1024);
			float *Y = malloc(sizeof(float) * rows * 1024);
			float *W = malloc(sizeof(float) * 1024 * 1024);
			float *dW = malloc(sizeof(float) * 1024 * 1024);
			for (int i = 0; i < rows * 1024; i++)
				X[i] = Y[i] = 0.001f * (float)(i % 13);
			for (int i = 0; i < 1024 * 1024; i++)
				W[i] = 0.001f * (float)(i % 7);
#pragma omp barrier
#pragma omp master
			seconds = now();
#pragma omp for schedule(static)
			for (int job = 0; job < steps * chunks; job++)
				for (int l = 0; l < 6; l++) {
					int in = width[l], out = width[l + 1];
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out,
						    in, 1, X, in, W, in, 1, Y, out);
					cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in,
						    rows, 1, Y, out, X, in, 0, dW, in);
					flops += 4.0 * rows * in * out;
					if (l > 0) {
						cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
							    rows, in, out, 1, Y, out, W, in, 0, X, in);
						flops += 2.0 * rows * in * out;
					}
				}
#pragma omp master
			seconds = now() - seconds;
			free(X);
			free(Y);
			free(W);
			free(dW);
		}
		printf("sgemm ceiling, %d core%s: %6.1f GFLOP/s, %8.0f images/s\n", threads,
		       threads > 1 ? "s" : " ", flops / seconds / 1e9,
		       (double)steps * batch / seconds);
	}
	return 0;
}
