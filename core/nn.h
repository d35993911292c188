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

/* Y (B, out) = X (B, in) W^T + b; gemm += 2*B*in*out + B*out */
void dense_forward(int B, int in, int out, const float *X, const float *W, const float *b,
		   float *Y, uint64_t *gemm);

/* From dY (B, out): dW (out, in) = dY^T X and db (out) = column sums of dY, both overwritten;
 * dX (B, in) = dY W unless dX is NULL (first layer). gemm += what was computed. */
void dense_backward(int B, int in, int out, const float *X, const float *W, const float *dY,
		    float *dX, float *dW, float *db, uint64_t *gemm);

/* Y (B, out) = X W^T + b with every output summed in input order and zero inputs skipped:
 * output j does not depend on how many outputs there are, and inputs that are exactly zero
 * change nothing, so cutting silent latent units is bit-exact. Used for the two layers that
 * touch the latent code. Wt (in * out floats) is scratch. gemm += 2*B*in*out + B*out, the
 * dense convention, even where zeros were skipped. */
void dense_forward_ordered(int B, int in, int out, const float *X, const float *W,
			   const float *b, float *Y, float *Wt, uint64_t *gemm);

/* Plain-loop versions of the two above, the reference the tests compare BLAS against. */
void dense_forward_ref(int B, int in, int out, const float *X, const float *W, const float *b,
		       float *Y);
void dense_backward_ref(int B, int in, int out, const float *X, const float *W, const float *dY,
			float *dX, float *dW, float *db);

/* ---- activations (applied in place; backward works from the activation's output) ---- */

void act_forward(enum act a, size_t n, float *y, uint64_t *elementwise);
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
