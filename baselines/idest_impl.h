/* idest_impl.h: what the estimator files (idest.c, idlocal.c, fishers.c, danco.c) share and
 * the module's users need not see: the all-pairs GEMM pass, centring, LAPACK's symmetric
 * eigen-solver. */
#ifndef DS_IDEST_IMPL_H
#define DS_IDEST_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* Row i of the all-pairs pass: g (n) holds <c_i, c_j> for every j. Called once for each i,
 * from any thread: it may write only what belongs to row i. */
typedef void (*pair_row_fn)(void *ctx, size_t i, const double *g);

/* fn(ctx, i, row i of c c^T) for every row i of c (n, D), blocks of rows by dgemm, the
 * blocks split over threads. 0, or -1 with ds_errmsg(). flops += 2 n^2 D. */
int pair_pass(const double *c, size_t n, int D, int threads, pair_row_fn fn, void *ctx,
	      uint64_t *flops);

/* out (n, D) = x minus its column means, in double */
void center_columns(const float *x, size_t n, int D, double *out);

/* Eigenvalues of the symmetric m x m matrix a, ascending into w; with vectors, a's row j
 * becomes the unit eigenvector of w[j] (else a is destroyed). 0, or -1 (LAPACK failed or
 * out of memory). */
int symmetric_eigen(double *a, int m, double *w, int vectors);

/* Symmetric LAPACK operation counts (README's FLOP convention). */
#define EIGENVALUE_FLOPS(m) (4ull * (uint64_t)(m) * (m) * (m) / 3)
#define EIGENVECTOR_FLOPS(m) (9ull * (uint64_t)(m) * (m) * (m))

int compare_double(const void *a, const void *b);  /* qsort, ascending */

#endif
