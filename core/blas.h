/* blas.h: OpenBLAS set-up: kernel choice for the CPU, one BLAS thread, what is in use. */
#ifndef DS_BLAS_H
#define DS_BLAS_H

/* The OPENBLAS_CORETYPE to ask for, or NULL to keep OpenBLAS's own choice: "SkylakeX" when
 * the CPU has the AVX-512 subsets those kernels use (F, CD, BW, DQ, VL) and OpenBLAS picked a
 * narrower kernel (Debian's 0.3.21 picks Haswell's AVX2 kernels on AMD Zen 4/5). */
const char *blas_wanted_coretype(int cpu_has_avx512, const char *current_core);

/* Whether this CPU has those AVX-512 subsets. */
int blas_cpu_has_avx512(void);

/* OpenBLAS reads OPENBLAS_CORETYPE when it is loaded, before main(): when a better kernel is
 * wanted and the variable is unset, set it and re-execute this program (argv) once. Returns
 * only when no re-execution happened (or it failed). */
void blas_select_kernel(char **argv);

/* One BLAS thread: all parallelism is OpenMP's, so the two never compete for cores. */
void blas_single_thread(void);

/* The kernel OpenBLAS uses (e.g. "Zen", "SkylakeX") and its build configuration. */
const char *blas_core_name(void);
const char *blas_config(void);

/* cblas_sgemm, row-major, its wall time added to blas_sgemm_seconds(): every GEMM of the
 * layers goes through here, so `dimsearch train` can say what share of a step sgemm takes. */
void blas_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *A,
		int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Seconds spent in blas_sgemm so far by all threads together (of every model this process
 * trains: meaningful for one model at a time). */
double blas_sgemm_seconds(void);

/* How the kernel was chosen, one line, e.g. "Zen (CPU has no AVX-512; OpenBLAS's choice)". */
void blas_describe(char *buf, int size);

#endif
