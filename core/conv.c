/* conv.c: convolution, transposed convolution and 2-D batch norm on im2col / col2im and sgemm. */
#include "conv.h"

#include <math.h>
#include <string.h>

#include <omp.h>

#include "err.h"
#include "blas.h"
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

/* The columns x of a row whose window column stride x - pad + kj falls inside 0..wi-1:
 * [*lo, *hi) */
static void inside(const struct geometry *g, int kj, int *lo, int *hi)
{
	int off = kj - g->pad; /* ix = x stride + off */
	*lo = off >= 0 ? 0 : (-off + g->stride - 1) / g->stride;
	*hi = g->wi - 1 - off < 0 ? 0 : (g->wi - 1 - off) / g->stride + 1;
	if (*hi > g->wc)
		*hi = g->wc;
	if (*lo > *hi)
		*lo = *hi;
}

/* col (C k k, Hc Wc), rows ld apart = the k x k windows of img (C, Hi, Wi), zero outside it */
static void im2col(const struct geometry *g, const float *img, float *col, size_t ld)
{
	for (int c = 0; c < g->c; c++)
		for (int ki = 0; ki < g->k; ki++)
			for (int kj = 0; kj < g->k; kj++) {
				float *row = col + ((size_t)(c * g->k + ki) * g->k + kj) * ld;
				const float *plane = img + (size_t)c * g->hi * g->wi;
				int lo, hi, st = g->stride;
				inside(g, kj, &lo, &hi);
				for (int y = 0; y < g->hc; y++) {
					int iy = y * st - g->pad + ki;
					float *out = row + (size_t)y * g->wc;
					if (iy < 0 || iy >= g->hi) {
						memset(out, 0, sizeof(float) * g->wc);
						continue;
					}
					const float *in = plane + (size_t)iy * g->wi;
					int off = kj - g->pad;
					for (int x = 0; x < lo; x++)
						out[x] = 0.0f;
					for (int x = lo; x < hi; x++)
						out[x] = in[x * st + off];
					for (int x = hi; x < g->wc; x++)
						out[x] = 0.0f;
				}
			}
}

/* img (C, Hi, Wi) += the windows of col (rows ld apart), added in the order im2col reads them */
static void col2im(const struct geometry *g, const float *col, size_t ld, float *img)
{
	for (int c = 0; c < g->c; c++)
		for (int ki = 0; ki < g->k; ki++)
			for (int kj = 0; kj < g->k; kj++) {
				const float *row = col + ((size_t)(c * g->k + ki) * g->k + kj) * ld;
				float *plane = img + (size_t)c * g->hi * g->wi;
				int lo, hi, st = g->stride;
				inside(g, kj, &lo, &hi);
				for (int y = 0; y < g->hc; y++) {
					int iy = y * st - g->pad + ki;
					if (iy < 0 || iy >= g->hi)
						continue;
					float *out = plane + (size_t)iy * g->wi;
					const float *in = row + (size_t)y * g->wc;
					int off = kj - g->pad;
					for (int x = lo; x < hi; x++)
						out[x * st + off] += in[x];
				}
			}
}

/* Between an image-major block T (n, C, P) and a channel-major one Q (C, n P) */
static void to_channels(int n, int C, size_t P, const float *T, float *Q)
{
	for (int i = 0; i < n; i++)
		for (int c = 0; c < C; c++)
			memcpy(Q + ((size_t)c * n + i) * P, T + ((size_t)i * C + c) * P,
			       sizeof(float) * P);
}

static void to_images(int n, int C, size_t P, const float *Q, float *T)
{
	for (int i = 0; i < n; i++)
		for (int c = 0; c < C; c++)
			memcpy(T + ((size_t)i * C + c) * P, Q + ((size_t)c * n + i) * P,
			       sizeof(float) * P);
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

/* ---- passes ----
 *
 * The batch is cut into blocks of CONV_BLOCK images, fixed by the batch size alone. Each block
 * is one GEMM (its images' columns side by side); a block's weight gradient goes to a buffer of
 * its own, and the blocks' gradients are added in block order, so any number of threads gives
 * the same bits. Per thread the scratch holds a block's columns and one block-sized tensor in
 * channel-major order; then come the blocks' weight gradients. */

/* a pass over fewer elements stays on the calling thread */
#define BN2D_MIN_ELEMENTS 16384

static int blocks_of(int B)
{
	return (B + CONV_BLOCK - 1) / CONV_BLOCK;
}

static size_t thread_floats(const struct conv_shape *s)
{
	size_t in = (size_t)s->c_in * s->h * s->w, out = (size_t)s->c_out * s->h_out * s->w_out;
	return (size_t)CONV_BLOCK * (conv_col_floats(s) + (in > out ? in : out));
}

size_t conv_scratch_floats(const struct conv_shape *s, int B, int threads)
{
	return (size_t)(threads > 1 ? threads : 1) * thread_floats(s) +
	       (size_t)blocks_of(B) * conv_weights(s);
}

/* Threads for nb blocks */
static int team_of(int threads, int nb)
{
	return threads > 1 ? (threads < nb ? threads : nb) : 1;
}

void conv_forward(const struct conv_shape *s, int B, const float *X, const float *W,
		  const float *b, float *Y, float *scratch, int threads, uint64_t *gemm)
{
	struct geometry g = geometry_of(s);
	int ckk = g.c * g.k * g.k, nb = blocks_of(B), t = team_of(threads, nb);
	size_t hw_in = (size_t)s->h * s->w, hw_out = (size_t)s->h_out * s->w_out;
	size_t hwc = (size_t)g.hc * g.wc;
#pragma omp parallel for num_threads(t) if (t > 1) schedule(static)
	for (int j = 0; j < nb; j++) {
		int i0 = j * CONV_BLOCK, n = B - i0 < CONV_BLOCK ? B - i0 : CONV_BLOCK;
		float *col = scratch + (size_t)omp_get_thread_num() * thread_floats(s);
		float *q = col + (size_t)CONV_BLOCK * conv_col_floats(s);
		size_t ld = (size_t)n * hwc;
		const float *x = X + (size_t)i0 * s->c_in * hw_in;
		float *y = Y + (size_t)i0 * s->c_out * hw_out;
		if (!s->transposed) {
			/* q (C_out, n Ho Wo) = W (C_out, C_in k k) col */
			for (int i = 0; i < n; i++)
				im2col(&g, x + (size_t)i * s->c_in * hw_in, col + i * hwc, ld);
			blas_sgemm(0, 0, s->c_out, (int)ld, ckk, 1.0f, W, ckk, col, (int)ld, 0.0f,
				   q, (int)ld);
			to_images(n, s->c_out, hw_out, q, y);
		} else {
			/* col (C_out k k, n H W) = W^T q with W (C_in, C_out k k); y = its windows */
			to_channels(n, s->c_in, hw_in, x, q);
			blas_sgemm(1, 0, ckk, (int)ld, s->c_in, 1.0f, W, ckk, q, (int)ld, 0.0f, col,
				   (int)ld);
			memset(y, 0, sizeof(float) * n * s->c_out * hw_out);
			for (int i = 0; i < n; i++)
				col2im(&g, col + i * hwc, ld, y + (size_t)i * s->c_out * hw_out);
		}
		for (int i = 0; i < n; i++)
			for (int c = 0; c < s->c_out; c++) {
				float *p = y + ((size_t)i * s->c_out + c) * hw_out;
				for (size_t e = 0; e < hw_out; e++)
					p[e] += b[c];
			}
	}
	*gemm += (uint64_t)B * (2ull * ckk * hwc * (s->transposed ? s->c_in : s->c_out) +
				(uint64_t)s->c_out * hw_out);
}

void conv_backward(const struct conv_shape *s, int B, const float *X, const float *W,
		   const float *dY, float *dX, float *dW, float *db, float *scratch, int threads,
		   uint64_t *gemm)
{
	struct geometry g = geometry_of(s);
	int ckk = g.c * g.k * g.k, nb = blocks_of(B), t = team_of(threads, nb);
	size_t hw_in = (size_t)s->h * s->w, hw_out = (size_t)s->h_out * s->w_out;
	size_t hwc = (size_t)g.hc * g.wc, nw = conv_weights(s);
	int small = s->transposed ? s->c_in : s->c_out; /* W is (small, ckk) */
	float *partial = scratch + (size_t)(threads > 1 ? threads : 1) * thread_floats(s);
#pragma omp parallel for num_threads(t) if (t > 1) schedule(static)
	for (int j = 0; j < nb; j++) {
		int i0 = j * CONV_BLOCK, n = B - i0 < CONV_BLOCK ? B - i0 : CONV_BLOCK;
		float *col = scratch + (size_t)omp_get_thread_num() * thread_floats(s);
		float *q = col + (size_t)CONV_BLOCK * conv_col_floats(s);
		float *dw = partial + (size_t)j * nw;
		size_t ld = (size_t)n * hwc;
		const float *x = X + (size_t)i0 * s->c_in * hw_in;
		const float *dy = dY + (size_t)i0 * s->c_out * hw_out;
		float *dx = dX ? dX + (size_t)i0 * s->c_in * hw_in : NULL;
		if (!s->transposed) {
			/* dW (C_out, C_in k k) = q col^T with q = dy channel-major; dcol = W^T q */
			for (int i = 0; i < n; i++)
				im2col(&g, x + (size_t)i * s->c_in * hw_in, col + i * hwc, ld);
			to_channels(n, s->c_out, hw_out, dy, q);
			blas_sgemm(0, 1, small, ckk, (int)ld, 1.0f, q, (int)ld, col, (int)ld, 0.0f,
				   dw, ckk);
			if (dx) {
				blas_sgemm(1, 0, ckk, (int)ld, small, 1.0f, W, ckk, q, (int)ld,
					   0.0f, col, (int)ld);
				memset(dx, 0, sizeof(float) * n * s->c_in * hw_in);
				for (int i = 0; i < n; i++)
					col2im(&g, col + i * hwc, ld, dx + (size_t)i * s->c_in * hw_in);
			}
		} else {
			/* col = the windows of dy; dW (C_in, C_out k k) = q col^T with q = x
			 * channel-major; dx = W col */
			for (int i = 0; i < n; i++)
				im2col(&g, dy + (size_t)i * s->c_out * hw_out, col + i * hwc, ld);
			to_channels(n, s->c_in, hw_in, x, q);
			blas_sgemm(0, 1, small, ckk, (int)ld, 1.0f, q, (int)ld, col, (int)ld, 0.0f,
				   dw, ckk);
			if (dx) {
				blas_sgemm(0, 0, small, (int)ld, ckk, 1.0f, W, ckk, col, (int)ld,
					   0.0f, q, (int)ld);
				to_images(n, s->c_in, hw_in, q, dx);
			}
		}
	}
	memcpy(dW, partial, sizeof(float) * nw);
	for (int j = 1; j < nb; j++)
		for (size_t e = 0; e < nw; e++)
			dW[e] += partial[(size_t)j * nw + e];
	bias_grad(B, s->c_out, hw_out, dY, db);
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
		  float eps, float *mean, float *var, float *xhat, int threads,
		  uint64_t *elementwise)
{
	double n = (double)B * HW;
	int t = (size_t)B * C * HW >= BN2D_MIN_ELEMENTS ? team_of(threads, C) : 1;
#pragma omp parallel for num_threads(t) if (t > 1) schedule(static)
	for (int c = 0; c < C; c++) {
		/* each image's plane summed in vector lanes, the planes in image order */
		double s = 0.0, sq = 0.0;
		for (int i = 0; i < B; i++) {
			const float *p = x + ((size_t)i * C + c) * HW;
#pragma omp simd reduction(+ : s, sq)
			for (int j = 0; j < HW; j++) {
				s += p[j];
				sq += (double)p[j] * p[j];
			}
		}
		double mu = s / n;
		float m = (float)mu, v = (float)fmax(sq / n - mu * mu, 0.0);
		float inv = 1.0f / sqrtf(v + eps), g = gamma[c], b = beta[c];
		mean[c] = m;
		var[c] = v;
		for (int i = 0; i < B; i++) {
			float *p = x + ((size_t)i * C + c) * HW, *h = xhat + ((size_t)i * C + c) * HW;
#pragma omp simd
			for (int j = 0; j < HW; j++) {
				h[j] = (p[j] - m) * inv;
				p[j] = g * h[j] + b;
			}
		}
	}
	*elementwise += (uint64_t)B * C * HW * FLOPS_BN;
}

void bn2d_eval(int B, int C, int HW, float *x, const float *gamma, const float *beta,
	       float eps, const float *mean, const float *var, uint64_t *elementwise)
{
	for (int c = 0; c < C; c++) {
		float inv = 1.0f / sqrtf(var[c] + eps), g = gamma[c], b = beta[c], m = mean[c];
		for (int i = 0; i < B; i++) {
			float *p = x + ((size_t)i * C + c) * HW;
#pragma omp simd
			for (int j = 0; j < HW; j++)
				p[j] = g * ((p[j] - m) * inv) + b;
		}
	}
	*elementwise += (uint64_t)B * C * HW * FLOPS_BN;
}

void bn2d_backward(int B, int C, int HW, float *dy, const float *gamma, const float *xhat,
		   const float *var, float eps, float *dgamma, float *dbeta, int threads,
		   uint64_t *elementwise)
{
	double n = (double)B * HW;
	int t = (size_t)B * C * HW >= BN2D_MIN_ELEMENTS ? team_of(threads, C) : 1;
#pragma omp parallel for num_threads(t) if (t > 1) schedule(static)
	for (int c = 0; c < C; c++) {
		double dg = 0.0, dbt = 0.0;
		for (int i = 0; i < B; i++) {
			const float *d = dy + ((size_t)i * C + c) * HW;
			const float *h = xhat + ((size_t)i * C + c) * HW;
#pragma omp simd reduction(+ : dg, dbt)
			for (int j = 0; j < HW; j++) {
				dg += (double)d[j] * h[j];
				dbt += d[j];
			}
		}
		dgamma[c] = (float)dg;
		dbeta[c] = (float)dbt;
		double k = gamma[c] * (1.0 / sqrt((double)var[c] + eps)) / n;
		for (int i = 0; i < B; i++) {
			float *d = dy + ((size_t)i * C + c) * HW;
			const float *h = xhat + ((size_t)i * C + c) * HW;
#pragma omp simd
			for (int j = 0; j < HW; j++)
				d[j] = (float)(k * (n * d[j] - dbt - h[j] * dg));
		}
	}
	*elementwise += (uint64_t)B * C * HW * FLOPS_BN_BACKWARD;
}
