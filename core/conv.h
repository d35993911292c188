/* conv.h: 2-D convolution, transposed convolution and 2-D batch norm on NCHW float32 tensors,
 * forward and backward, on cblas_sgemm through im2col / col2im.
 *
 * A convolution maps X (B, C_in, H, W) to Y (B, C_out, H_out, W_out) with weights
 * W (C_out, C_in, k, k) and bias b (C_out), H_out = (H + 2 pad - k) / stride + 1, as PyTorch's
 * nn.Conv2d. A transposed convolution is the convolution's gradient with respect to its input,
 * run forward: X (B, C_in, H, W) to Y (B, C_out, H_out, W_out) with
 * H_out = (H - 1) stride - 2 pad + k + out_pad, weights W (C_in, C_out, k, k), as PyTorch's
 * nn.ConvTranspose2d. Images go in fixed blocks (CONV_BLOCK), so results depend on the shapes
 * alone, not on the number of threads. Every function adds the FLOPs it performs to
 * the counter it is given, by the dense layers' convention (flops.h): 2 per multiply-add,
 * 1 per bias add. */
#ifndef DS_CONV_H
#define DS_CONV_H

#include <stddef.h>
#include <stdint.h>

struct conv_shape {
	int c_in, h, w;          /* input channels and size */
	int c_out, k;            /* output channels, kernel side */
	int stride, pad;         /* the same along both axes */
	int out_pad;             /* transposed only: extra rows and columns at the end */
	int transposed;          /* 0 convolution, 1 transposed convolution */
	int h_out, w_out;        /* set by conv_shape_check */
};

/* Fill in h_out and w_out: 0, or -1 with ds_errmsg() naming the sizes that do not fit (a
 * kernel larger than the padded image, a stride or padding out of range). */
int conv_shape_check(struct conv_shape *s);

size_t conv_weights(const struct conv_shape *s);   /* floats in W */
size_t conv_col_floats(const struct conv_shape *s);  /* floats of one image's im2col columns */

/* Images per block: the batch is cut into blocks of this many images, each one GEMM, and the
 * weight gradient adds the blocks' gradients in block order. The cut depends on the batch
 * size alone, so the results are the same for any number of threads. */
#define CONV_BLOCK 16

/* Floats of scratch a pass over B images on up to `threads` threads needs. */
size_t conv_scratch_floats(const struct conv_shape *s, int B, int threads);

/* Y = conv(X) + b, the blocks shared among up to `threads` threads. */
void conv_forward(const struct conv_shape *s, int B, const float *X, const float *W,
		  const float *b, float *Y, float *scratch, int threads, uint64_t *gemm);

/* From dY: dW and db overwritten, dX (unless NULL) overwritten. */
void conv_backward(const struct conv_shape *s, int B, const float *X, const float *W,
		   const float *dY, float *dX, float *dW, float *db, float *scratch, int threads,
		   uint64_t *gemm);

/* Plain-loop forward, the reference the tests compare against. */
void conv_forward_ref(const struct conv_shape *s, int B, const float *X, const float *W,
		      const float *b, float *Y);

/* ---- 2-D batch norm: per channel over (B, H, W) ---- */

/* Training: y = gamma (x - mean) / sqrt(var + eps) + beta with this batch's statistics,
 * written to mean, var (C each, biased variance) and xhat (B, C, H, W), for the backward
 * pass. In place on x. */
void bn2d_forward(int B, int C, int HW, float *x, const float *gamma, const float *beta,
		  float eps, float *mean, float *var, float *xhat, int threads,
		  uint64_t *elementwise);

/* Evaluation: the same with given (running) statistics, in place. */
void bn2d_eval(int B, int C, int HW, float *x, const float *gamma, const float *beta,
	       float eps, const float *mean, const float *var, uint64_t *elementwise);

/* dy (B, C, H, W) becomes dx in place; dgamma and dbeta (C) overwritten. */
void bn2d_backward(int B, int C, int HW, float *dy, const float *gamma, const float *xhat,
		   const float *var, float eps, float *dgamma, float *dbeta, int threads,
		   uint64_t *elementwise);

#endif
