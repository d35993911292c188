/* nn.h: the building blocks: dense layers on cblas_sgemm, activations, losses, Adam.
 *
 * Matrices are row-major float32. A dense layer maps X (B, in) to Y (B, out) = X W^T + b with
 * W (out, in) as in PyTorch, so weights can be compared with torch.nn.Linear directly.
 * Every function adds the FLOPs it performs to the counter it is given (flops.h). */
#ifndef DS_NN_H
#define DS_NN_H

#include <stddef.h>
#include <stdint.h>

enum act { ACT_IDENTITY, ACT_RELU, ACT_SIGMOID };
enum loss { LOSS_MSE, LOSS_BCE };

const char *act_name(enum act a);
int act_parse(const char *s, enum act *a);     /* 0, or -1 for an unknown name */
const char *loss_name(enum loss l);
int loss_parse(const char *s, enum loss *l);

/* ---- dense layer ---- */

/* A large layer's GEMMs are cut along their output features into DENSE_PIECES pieces (W's
 * rows going forward and for dW, dX's columns going back), chosen by shape alone: threads can
 * share one layer while every piece is the same BLAS call whatever the thread count, so the
 * results do not depend on it. OpenBLAS's kernels need not give a row of C the same bits
 * when the call around it is cut differently (its AVX2 kernels do not); a fixed cut avoids
 * the question. Half a layer's multiply-adds must reach DENSE_PIECE_MIN_MNK, far above the
 * sizes where OpenBLAS switches to its small-matrix and direct kernels (1e6 and 7.3e6). */
#define DENSE_PIECES 2
#define DENSE_PIECE_MIN_MNK 8388608.0

int dense_pieces(int B, int in, int out);      /* 1 or DENSE_PIECES for a layer on B rows */
int dense_cut(int n, int p, int pieces);       /* where piece p of n features starts (a
						* multiple of 16; n for p = pieces) */

/* Y (B, out) = X (B, in) W^T + b; gemm += 2*B*in*out + B*out */
void dense_forward(int B, int in, int out, const float *X, const float *W, const float *b,
		   float *Y, uint64_t *gemm);
/* The same for output features piece p of pieces only; gemm += its share. */
void dense_forward_part(int B, int in, int out, const float *X, const float *W, const float *b,
			float *Y, int p, int pieces, uint64_t *gemm);

/* From dY (B, out): dW (out, in) = dY^T X and db (out) = column sums of dY, both overwritten;
 * dX (B, in) = dY W unless dX is NULL (first layer). gemm += what was computed. */
void dense_backward(int B, int in, int out, const float *X, const float *W, const float *dY,
		    float *dX, float *dW, float *db, uint64_t *gemm);
/* One job of 2 * pieces of the same: job j < pieces computes rows piece j of dW and db, job
 * pieces + j columns piece j of dX (nothing when dX is NULL). The jobs are independent. */
void dense_backward_part(int B, int in, int out, const float *X, const float *W, const float *dY,
			 float *dX, float *dW, float *db, int job, int pieces, uint64_t *gemm);

/* Y (B, out) = X W^T + b with every output summed in input order and zero inputs skipped:
 * output j does not depend on how many outputs there are, and inputs that are exactly zero
 * change nothing, so cutting silent latent units is bit-exact. Used for the two layers that
 * touch the latent code. Rows are shared by `threads` threads (1: the calling thread alone);
 * each row's sums are its own, so the result does not depend on them. Wt (in * out floats)
 * is scratch. gemm += 2*B*in*out + B*out, the dense convention, even where zeros were
 * skipped. */
void dense_forward_ordered(int B, int in, int out, const float *X, const float *W,
			   const float *b, float *Y, float *Wt, int threads, uint64_t *gemm);

/* Plain-loop versions of the two above, the reference the tests compare BLAS against. */
void dense_forward_ref(int B, int in, int out, const float *X, const float *W, const float *b,
		       float *Y);
void dense_backward_ref(int B, int in, int out, const float *X, const float *W, const float *dY,
			float *dX, float *dW, float *db);

/* ---- activations (applied in place; backward works from the activation's output) ---- */

void act_forward(enum act a, size_t n, float *y, uint64_t *elementwise);
/* e^x as the sigmoid computes it (within 2 ulp of expf; clamped to [-87, 88]) */
float nn_exp(float x);
/* dy (n) *= f'(.) evaluated through the output y */
void act_backward(enum act a, size_t n, const float *y, float *dy, uint64_t *elementwise);

/* ---- losses: value is the sum over elements; dy = scale * dLoss/dy ---- */

/* sum (y - x)^2; dy = scale * 2 (y - x) when dy is not NULL */
double loss_forward_backward(enum loss l, size_t n, const float *y, const float *x, float *dy,
			     float scale, uint64_t *elementwise);

/* ---- Adam ---- */

struct adam {
	float lr;        /* step size */
	float beta1;     /* first-moment decay */
	float beta2;     /* second-moment decay */
	float eps;       /* added to sqrt(v) */
};

/* One Adam step on n parameters at step t (1-based), PyTorch's formulation. */
void adam_update(const struct adam *opt, long t, size_t n, float *p, const float *g, float *m,
		 float *v, uint64_t *elementwise);

#endif
