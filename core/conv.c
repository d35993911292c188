/* conv.c: convolution, transposed convolution and 2-D batch norm on im2col / col2im and sgemm. */
#include "conv.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "err.h"
#include "flops.h"

/* ---- geometry ----
 *
 * Both layers are one convolution seen from its two sides: an "image" side of C channels of
 * Hi x Wi pixels, and a "column" side of Hc x Wc positions, each reading a k x k window of the
 * image at (stride * y - pad, stride * x - pad). A convolution reads its input as the image
 * and writes its output at the column positions; a transposed convolution reads its input at
 * the column positions and writes its output as the image. */
struct geometry {
	int c, hi, wi;   /* image side */
	int hc, wc;      /* column side */
	int k, stride, pad;
};

static struct geometry geometry_of(const struct conv_shape *s)
{
	return s->transposed ? (struct geometry){ s->c_out, s->h_out, s->w_out, s->h, s->w, s->k,
						  s->stride, s->pad }
			     : (struct geometry){ s->c_in, s->h, s->w, s->h_out, s->w_out, s->k,
						  s->stride, s->pad };
}

int conv_shape_check(struct conv_shape *s)
{
	if (s->c_in < 1 || s->c_out < 1 || s->h < 1 || s->w < 1)
		return ds_fail("a convolution needs channels and a size of at least 1 (got %d -> %d "
			       "channels of %dx%d)",
			       s->c_in, s->c_out, s->h, s->w);
	if (s->k < 1 || s->stride < 1 || s->pad < 0 || s->pad >= s->k)
		return ds_fail("kernel %d, stride %d, padding %d: need kernel >= 1, stride >= 1 and "
			       "0 <= padding < kernel",
			       s->k, s->stride, s->pad);
	if (s->transposed) {
		if (s->out_pad < 0 || s->out_pad >= s->stride)
			return ds_fail("output padding %d must be at least 0 and below the stride %d",
				       s->out_pad, s->stride);
		s->h_out = (s->h - 1) * s->stride - 2 * s->pad + s->k + s->out_pad;
		s->w_out = (s->w - 1) * s->stride - 2 * s->pad + s->k + s->out_pad;
		if (s->h_out < 1 || s->w_out < 1)
			return ds_fail("a transposed convolution of %dx%d with kernel %d, stride %d "
				       "and padding %d has no output",
				       s->h, s->w, s->k, s->stride, s->pad);
		return 0;
	}
	if (s->out_pad)
		return ds_fail("output padding is for transposed convolutions only");
	if (s->k > s->h + 2 * s->pad || s->k > s->w + 2 * s->pad)
		return ds_fail("kernel %d is larger than the %dx%d image with padding %d", s->k,
			       s->h, s->w, s->pad);
	s->h_out = (s->h + 2 * s->pad - s->k) / s->stride + 1;
	s->w_out = (s->w + 2 * s->pad - s->k) / s->stride + 1;
	return 0;
}

size_t conv_weights(const struct conv_shape *s)
{
	return (size_t)s->c_in * s->c_out * s->k * s->k;
}

size_t conv_col_floats(const struct conv_shape *s)
{
	struct geometry g = geometry_of(s);
	return (size_t)g.c * g.k * g.k * g.hc * g.wc;
}

/* col (C k k, Hc Wc) = the k x k windows of img (C, Hi, Wi), zero outside it */
static void im2col(const struct geometry *g, const float *img, float *col)
{
	size_t n = (size_t)g->hc * g->wc;
	for (int c = 0; c < g->c; c++)
		for (int ki = 0; ki < g->k; ki++)
			for (int kj = 0; kj < g->k; kj++) {
				float *row = col + ((size_t)(c * g->k + ki) * g->k + kj) * n;
				const float *plane = img + (size_t)c * g->hi * g->wi;
				for (int y = 0; y < g->hc; y++) {
					int iy = y * g->stride - g->pad + ki;
					float *out = row + (size_t)y * g->wc;
					if (iy < 0 || iy >= g->hi) {
						memset(out, 0, sizeof(float) * g->wc);
						continue;
					}
					for (int x = 0; x < g->wc; x++) {
						int ix = x * g->stride - g->pad + kj;
						out[x] = ix >= 0 && ix < g->wi ? plane[(size_t)iy * g->wi + ix]
									       : 0.0f;
					}
				}
			}
}

/* img (C, Hi, Wi) += the windows of col, added in the order im2col reads them */
static void col2im(const struct geometry *g, const float *col, float *img)
{
	size_t n = (size_t)g->hc * g->wc;
	for (int c = 0; c < g->c; c++)
		for (int ki = 0; ki < g->k; ki++)
			for (int kj = 0; kj < g->k; kj++) {
				const float *row = col + ((size_t)(c * g->k + ki) * g->k + kj) * n;
				float *plane = img + (size_t)c * g->hi * g->wi;
				for (int y = 0; y < g->hc; y++) {
					int iy = y * g->stride - g->pad + ki;
					if (iy < 0 || iy >= g->hi)
						continue;
					for (int x = 0; x < g->wc; x++) {
						int ix = x * g->stride - g->pad + kj;
						if (ix >= 0 && ix < g->wi)
							plane[(size_t)iy * g->wi + ix] +=
								row[(size_t)y * g->wc + x];
					}
				}
			}
}

/* Y (B, C, P) = b_c broadcast, then plus what follows */
static void fill_bias(int B, int C, size_t P, const float *b, float *Y)
{
	for (int i = 0; i < B; i++)
		for (int c = 0; c < C; c++) {
			float *y = Y + ((size_t)i * C + c) * P;
			for (size_t p = 0; p < P; p++)
				y[p] = b[c];
		}
}

/* db (C) = sums of dY (B, C, P) over images and positions, in that order */
static void bias_grad(int B, int C, size_t P, const float *dY, float *db)
{
	for (int c = 0; c < C; c++) {
		double s = 0.0;
		for (int i = 0; i < B; i++) {
			const float *d = dY + ((size_t)i * C + c) * P;
			for (size_t p = 0; p < P; p++)
				s += d[p];
		}
		db[c] = (float)s;
	}
}

/* ---- passes ---- */

void conv_forward(const struct conv_shape *s, int B, const float *X, const float *W,
		  const float *b, float *Y, float *col, uint64_t *gemm)
{
	struct geometry g = geometry_of(s);
	int ckk = g.c * g.k * g.k;
	size_t hw_in = (size_t)s->h * s->w, hw_out = (size_t)s->h_out * s->w_out;
	size_t hwc = (size_t)g.hc * g.wc;
	fill_bias(B, s->c_out, hw_out, b, Y);
	for (int i = 0; i < B; i++) {
		const float *x = X + (size_t)i * s->c_in * hw_in;
		float *y = Y + (size_t)i * s->c_out * hw_out;
		if (!s->transposed) {
			/* y (C_out, Ho Wo) += W (C_out, C_in k k) col */
			im2col(&g, x, col);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->c_out, (int)hwc,
				    ckk, 1.0f, W, ckk, col, (int)hwc, 1.0f, y, (int)hwc);
		} else {
			/* col (C_out k k, H W) = W^T x with W (C_in, C_out k k); y += its windows */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, (int)hwc, s->c_in,
				    1.0f, W, ckk, x, (int)hwc, 0.0f, col, (int)hwc);
			col2im(&g, col, y);
		}
	}
	*gemm += (uint64_t)B * (2ull * ckk * hwc * (s->transposed ? s->c_in : s->c_out) +
				(uint64_t)s->c_out * hw_out);
}

void conv_backward(const struct conv_shape *s, int B, const float *X, const float *W,
		   const float *dY, float *dX, float *dW, float *db, float *col, uint64_t *gemm)
{
	struct geometry g = geometry_of(s);
	int ckk = g.c * g.k * g.k;
	size_t hw_in = (size_t)s->h * s->w, hw_out = (size_t)s->h_out * s->w_out;
	size_t hwc = (size_t)g.hc * g.wc;
	int small = s->transposed ? s->c_in : s->c_out; /* W is (small, ckk) */
	bias_grad(B, s->c_out, hw_out, dY, db);
	if (dX)
		memset(dX, 0, sizeof(float) * (size_t)B * s->c_in * hw_in);
	for (int i = 0; i < B; i++) {
		const float *x = X + (size_t)i * s->c_in * hw_in;
		const float *dy = dY + (size_t)i * s->c_out * hw_out;
		float beta = i ? 1.0f : 0.0f; /* images added in order */
		if (!s->transposed) {
			/* dW (C_out, C_in k k) += dy (C_out, Ho Wo) col^T; dcol = W^T dy */
			im2col(&g, x, col);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, small, ckk, (int)hwc,
				    1.0f, dy, (int)hwc, col, (int)hwc, beta, dW, ckk);
			if (dX) {
				cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, (int)hwc,
					    small, 1.0f, W, ckk, dy, (int)hwc, 0.0f, col, (int)hwc);
				col2im(&g, col, dX + (size_t)i * s->c_in * hw_in);
			}
		} else {
			/* col = the windows of dy; dW (C_in, C_out k k) += x col^T; dx = W col */
			im2col(&g, dy, col);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, small, ckk, (int)hwc,
				    1.0f, x, (int)hwc, col, (int)hwc, beta, dW, ckk);
			if (dX)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, small, (int)hwc,
					    ckk, 1.0f, W, ckk, col, (int)hwc, 0.0f,
					    dX + (size_t)i * s->c_in * hw_in, (int)hwc);
		}
	}
	uint64_t per = 2ull * small * ckk * hwc;
	*gemm += (uint64_t)B * (per + (uint64_t)s->c_out * hw_out + (dX ? per : 0));
}

/* element (i, c, y, x) of a (B, C, H, W) tensor */
static float at(const float *t, int C, int H, int W, int i, int c, int y, int x)
{
	return t[(((size_t)i * C + c) * H + y) * W + x];
}

/* output (i, co, oy, ox) of the convolution, summed directly */
static double conv_ref_one(const struct conv_shape *s, const float *X, const float *W, int i,
			   int co, int oy, int ox)
{
	double sum = 0.0;
	for (int ci = 0; ci < s->c_in; ci++)
		for (int ki = 0; ki < s->k; ki++)
			for (int kj = 0; kj < s->k; kj++) {
				int y = oy * s->stride - s->pad + ki, x = ox * s->stride - s->pad + kj;
				if (y >= 0 && y < s->h && x >= 0 && x < s->w)
					sum += (double)at(W, s->c_in, s->k, s->k, co, ci, ki, kj) *
					       at(X, s->c_in, s->h, s->w, i, ci, y, x);
			}
	return sum;
}

/* output (i, co, oy, ox) of the transposed convolution: the inputs (y, x) whose window,
 * placed at (y stride - pad, x stride - pad), covers it */
static double conv_t_ref_one(const struct conv_shape *s, const float *X, const float *W, int i,
			     int co, int oy, int ox)
{
	double sum = 0.0;
	for (int ci = 0; ci < s->c_in; ci++)
		for (int ki = 0; ki < s->k; ki++)
			for (int kj = 0; kj < s->k; kj++) {
				int ny = oy + s->pad - ki, nx = ox + s->pad - kj;
				if (ny < 0 || nx < 0 || ny % s->stride || nx % s->stride)
					continue;
				int y = ny / s->stride, x = nx / s->stride;
				if (y < s->h && x < s->w)
					sum += (double)at(W, s->c_out, s->k, s->k, ci, co, ki, kj) *
					       at(X, s->c_in, s->h, s->w, i, ci, y, x);
			}
	return sum;
}

void conv_forward_ref(const struct conv_shape *s, int B, const float *X, const float *W,
		      const float *b, float *Y)
{
	for (int i = 0; i < B; i++)
		for (int co = 0; co < s->c_out; co++)
			for (int oy = 0; oy < s->h_out; oy++)
				for (int ox = 0; ox < s->w_out; ox++) {
					double v = s->transposed ? conv_t_ref_one(s, X, W, i, co, oy, ox)
								 : conv_ref_one(s, X, W, i, co, oy, ox);
					size_t o = (((size_t)i * s->c_out + co) * s->h_out + oy) *
						   s->w_out + ox;
					Y[o] = (float)(b[co] + v);
				}
}

/* ---- 2-D batch norm ---- */

void bn2d_forward(int B, int C, int HW, float *x, const float *gamma, const float *beta,
		  float eps, float *mean, float *var, float *xhat, uint64_t *elementwise)
{
	double n = (double)B * HW;
	for (int c = 0; c < C; c++) {
		double s = 0.0, sq = 0.0;
		for (int i = 0; i < B; i++) {
			const float *p = x + ((size_t)i * C + c) * HW;
			for (int j = 0; j < HW; j++) {
				s += p[j];
				sq += (double)p[j] * p[j];
			}
		}
		double mu = s / n;
		mean[c] = (float)mu;
		var[c] = (float)fmax(sq / n - mu * mu, 0.0);
		float inv = 1.0f / sqrtf(var[c] + eps);
		for (int i = 0; i < B; i++) {
			size_t at = ((size_t)i * C + c) * HW;
			for (int j = 0; j < HW; j++) {
				float h = (x[at + j] - mean[c]) * inv;
				xhat[at + j] = h;
				x[at + j] = gamma[c] * h + beta[c];
			}
		}
	}
	*elementwise += (uint64_t)B * C * HW * FLOPS_BN;
}

void bn2d_backward(int B, int C, int HW, float *dy, const float *gamma, const float *xhat,
		   const float *var, float eps, float *dgamma, float *dbeta,
		   uint64_t *elementwise)
{
	double n = (double)B * HW;
	for (int c = 0; c < C; c++) {
		double dg = 0.0, dbt = 0.0;
		for (int i = 0; i < B; i++) {
			size_t at = ((size_t)i * C + c) * HW;
			for (int j = 0; j < HW; j++) {
				dg += (double)dy[at + j] * xhat[at + j];
				dbt += dy[at + j];
			}
		}
		dgamma[c] = (float)dg;
		dbeta[c] = (float)dbt;
		double inv = 1.0 / sqrt((double)var[c] + eps);
		for (int i = 0; i < B; i++) {
			size_t at = ((size_t)i * C + c) * HW;
			for (int j = 0; j < HW; j++)
				dy[at + j] = (float)(gamma[c] * inv / n *
						     (n * dy[at + j] - dbt - xhat[at + j] * dg));
		}
	}
	*elementwise += (uint64_t)B * C * HW * FLOPS_BN_BACKWARD;
}
