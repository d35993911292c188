/* bench_sgemm.c: the sgemm-only ceiling of one training step of the benchmark autoencoder:
 * every GEMM of the step on the whole batch (chunks = 1, dimsearch's default) or on each of
 * its chunks of rows, one BLAS thread per OpenMP thread; on 2 cores, two steps side by side.
 * Prints GFLOP/s and the images/s that GEMMs alone would allow.
 * Usage: bench_sgemm [batch 256] [chunks 1] [latent 32]
 *        bench_sgemm conv [batch 256] [images per GEMM: 0 = the whole batch] [latent 32]
 * The second is the convolutional autoencoder of the README (1x28x28, channels 32,64,
 * kernel 3, stride 2, dense 3136-1568-K, mirrored with transposed convolutions) in its
 * im2col formulation: every GEMM of a training step, the convolutions' on blocks of that
 * many images (dimsearch runs them on CONV_BLOCK) or on the whole batch. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/blas.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The GEMMs of a dense step through layers width[0] -> ... -> width[layers] on `rows` rows:
 * forward (onto a preloaded bias), weight gradient and, but for the first layer unless
 * first_dx, input gradient. Returns their FLOPs. X, Y hold rows x the widest layer, W and
 * dW the largest weight matrix. */
static double dense_step(int rows, const int *width, int layers, int first_dx, float *X,
			 float *Y, const float *W, float *dW)
{
	double flops = 0;
	for (int l = 0; l < layers; l++) {
		int in = width[l], out = width[l + 1];
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1, X, in, W, in,
			    1, Y, out);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows, 1, Y, out, X, in,
			    0, dW, in);
		flops += 4.0 * rows * in * out;
		if (l > 0 || first_dx) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1, Y,
				    out, W, in, 0, X, in);
			flops += 2.0 * rows * in * out;
		}
	}
	return flops;
}

static void print_ceiling(int threads, double flops, double seconds, double images)
{
	printf("sgemm ceiling, %d core%s: %6.1f GFLOP/s, %8.0f images/s\n", threads,
	       threads > 1 ? "s" : " ", flops / seconds / 1e9, images / seconds);
}

/* One GEMM of a step: C (m, n) = op(A) op(B) with inner size k; n and k may count images:
 * per_image says which of them scales with the images of the GEMM */
struct gemm {
	int ta, tb, m, n, k;
	char per_image; /* 'n', 'k' or 0 */
};

static int conv_ceiling(int batch, int block, int latent)
{
	/* per image: 196 positions of conv 1 (and of the last transposed conv), 49 of conv 2 */
	const struct gemm g[] = {
		{ 0, 0, 32, 196, 9, 'n' },    /* conv 1 forward: W (32, 9) col (9, n 196) */
		{ 0, 1, 32, 9, 196, 'k' },    /* its weight gradient (the input needs none) */
		{ 0, 0, 64, 49, 288, 'n' },   /* conv 2 forward */
		{ 0, 1, 64, 288, 49, 'k' },   /* weight gradient */
		{ 1, 0, 288, 49, 64, 'n' },   /* input gradient (columns) */
		{ 1, 0, 288, 49, 64, 'n' },   /* transposed conv 1 forward: W^T (288, 64) x */
		{ 0, 1, 64, 288, 49, 'k' },   /* weight gradient */
		{ 0, 0, 64, 49, 288, 'n' },   /* input gradient */
		{ 1, 0, 9, 196, 32, 'n' },    /* transposed conv 2 forward */
		{ 0, 1, 32, 9, 196, 'k' },    /* weight gradient */
		{ 0, 0, 32, 196, 9, 'n' },    /* input gradient */
	};
	int dense[] = { 3136, 1568, latent, 1568, 3136 };
	if (block <= 0 || block > batch)
		block = batch;
	int blocks = (batch + block - 1) / block;
	char kernel[256];
	blas_describe(kernel, sizeof(kernel));
	printf("sgemm ceiling of one step of the convolutional autoencoder (32,64, K = %d), batch "
	       "%d, convolutions on %d images per GEMM; BLAS kernel %s\n",
	       latent, batch, block, kernel);
	for (int threads = 1; threads <= 2; threads++) {
		double flops = 0, seconds = 0;
		int steps = 8;
#pragma omp parallel num_threads(threads) reduction(+ : flops)
		{
			size_t big = (size_t)block * 288 * 196 + 3136 * 1568;
			float *A = malloc(sizeof(float) * big), *B = malloc(sizeof(float) * big);
			float *C = malloc(sizeof(float) * big), *D = malloc(sizeof(float) * big);
			for (size_t i = 0; i < big; i++)
				A[i] = B[i] = C[i] = D[i] = 0.001f * (float)(i % 13);
#pragma omp barrier
#pragma omp master
			seconds = now();
#pragma omp for schedule(static)
			for (int step = 0; step < steps * threads; step++) {
				for (size_t l = 0; l < sizeof(g) / sizeof(g[0]); l++)
					for (int j = 0; j < blocks; j++) {
						int imgs = batch - j * block < block ? batch - j * block
										     : block;
						int m = g[l].m, n = g[l].n, k = g[l].k;
						n *= g[l].per_image == 'n' ? imgs : 1;
						k *= g[l].per_image == 'k' ? imgs : 1;
						cblas_sgemm(CblasRowMajor,
							    g[l].ta ? CblasTrans : CblasNoTrans,
							    g[l].tb ? CblasTrans : CblasNoTrans, m, n, k,
							    1, A, g[l].ta ? m : k, B, g[l].tb ? k : n, 0,
							    C, n);
						flops += 2.0 * m * n * k;
					}
				/* every dense layer's input gradient: the first one's feeds
				 * the convolutions */
				flops += dense_step(batch, dense, 4, 1, A, C, B, D);
			}
#pragma omp master
			seconds = now() - seconds;
			free(A);
			free(B);
			free(C);
			free(D);
		}
		print_ceiling(threads, flops, seconds, (double)steps * threads * batch);
	}
	return 0;
}

int main(int argc, char **argv)
{
	blas_select_kernel(argv);
	blas_single_thread();
	if (argc > 1 && !strcmp(argv[1], "conv"))
		return conv_ceiling(argc > 2 ? atoi(argv[2]) : 256, argc > 3 ? atoi(argv[3]) : 0,
				    argc > 4 ? atoi(argv[4]) : 32);
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
				flops += dense_step(rows, width, 6, 0, X, Y, W, dW);
#pragma omp master
			seconds = now() - seconds;
			free(X);
			free(Y);
			free(W);
			free(dW);
		}
		print_ceiling(threads, flops, seconds, (double)steps * batch);
	}
	return 0;
}
