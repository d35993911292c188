/* nn.c: dense layers, activations, losses and Adam, with their FLOP counts. */
#include "nn.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "flops.h"

/* GCC's vector types: the compiler maps them onto what the CPU has (AVX-512, AVX2, SSE), with
 * the same operations in the same order everywhere (no FMA contraction). */
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

static v16f select16(v16i mask, v16f yes, v16f no)
{
	return (v16f)(((v16i)yes & mask) | ((v16i)no & ~mask));
}


static const char *act_names[] = { "identity", "relu", "sigmoid" };
static const char *loss_names[] = { "mse", "bce" };

const char *act_name(enum act a)
{
	return act_names[a];
}

int act_parse(const char *s, enum act *a)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, act_names[i])) {
			*a = (enum act)i;
			return 0;
		}
	if (!strcmp(s, "linear")) {
		*a = ACT_IDENTITY;
		return 0;
	}
	return -1;
}

const char *loss_name(enum loss l)
{
	return loss_names[l];
}

int loss_parse(const char *s, enum loss *l)
{
	for (int i = 0; i < 2; i++)
		if (!strcmp(s, loss_names[i])) {
			*l = (enum loss)i;
			return 0;
		}
	return -1;
}

/* ---- dense layer ---- */

int dense_pieces(int B, int in, int out)
{
	double half = 0.5 * (double)B * (double)in * (double)out;
	return half >= DENSE_PIECE_MIN_MNK && in >= 32 && out >= 32 ? DENSE_PIECES : 1;
}

int dense_cut(int n, int p, int pieces)
{
	return p >= pieces ? n : (int)((long)n * p / pieces) & ~15;
}

void dense_forward(int B, int in, int out, const float *X, const float *W, const float *b,
		   float *Y, uint64_t *gemm)
{
	dense_forward_part(B, in, out, X, W, b, Y, 0, 1, gemm);
}

void dense_forward_part(int B, int in, int out, const float *X, const float *W, const float *b,
			float *Y, int p, int pieces, uint64_t *gemm)
{
	int lo = dense_cut(out, p, pieces), n = dense_cut(out, p + 1, pieces) - lo;
	for (int r = 0; r < B; r++)
		memcpy(Y + (size_t)r * out + lo, b + lo, sizeof(float) * n);
	blas_sgemm(0, 1, B, n, in, 1.0f, X, in, W + (size_t)lo * in, in, 1.0f, Y + lo, out);
	*gemm += 2ull * B * in * n + (uint64_t)B * n;
}

void dense_backward(int B, int in, int out, const float *X, const float *W, const float *dY,
		    float *dX, float *dW, float *db, uint64_t *gemm)
{
	for (int job = 0; job < 2; job++)
		dense_backward_part(B, in, out, X, W, dY, dX, dW, db, job, 1, gemm);
}

void dense_backward_part(int B, int in, int out, const float *X, const float *W, const float *dY,
			 float *dX, float *dW, float *db, int job, int pieces, uint64_t *gemm)
{
	if (job < pieces) {
		int lo = dense_cut(out, job, pieces), n = dense_cut(out, job + 1, pieces) - lo;
		blas_sgemm(1, 0, n, in, B, 1.0f, dY + lo, out, X, in, 0.0f, dW + (size_t)lo * in, in);
		float *d = db + lo;
		memset(d, 0, sizeof(float) * n);
		for (int r = 0; r < B; r++) {
			const float *row = dY + (size_t)r * out + lo;
#pragma omp simd
			for (int j = 0; j < n; j++)
				d[j] += row[j];
		}
		*gemm += 2ull * B * in * n + (uint64_t)B * n;
	} else if (dX) {
		int p = job - pieces;
		int lo = dense_cut(in, p, pieces), n = dense_cut(in, p + 1, pieces) - lo;
		blas_sgemm(0, 0, B, n, out, 1.0f, dY, out, W + lo, in, 0.0f, dX + lo, in);
		*gemm += 2ull * B * n * out;
	}
}

/* Wt (in, out) = W^T */
static void dense_transpose(int in, int out, const float *W, float *Wt)
{
	for (int j = 0; j < out; j++)
		for (int i = 0; i < in; i++)
			Wt[(size_t)i * out + j] = W[(size_t)j * in + i];
}

/* Output j of a row is b_j + x_0 w_0j + x_1 w_1j + ..., added in input order, an input that
 * is exactly 0 leaving it untouched. Four rows and 16 outputs at a time in registers, each
 * weight vector read once for the four; the rest one output at a time, the same sums. */
static void ordered_rows4(int in, int out, int j0, const float *X, const float *Wt,
			  const float *b, float *Y)
{
	const float *x0 = X, *x1 = X + in, *x2 = X + 2 * (size_t)in, *x3 = X + 3 * (size_t)in;
	v16f a0, zero = { 0 };
	memcpy(&a0, b + j0, sizeof(v16f));
	v16f a1 = a0, a2 = a0, a3 = a0;
	for (int i = 0; i < in; i++) {
		v16f w;
		memcpy(&w, Wt + (size_t)i * out + j0, sizeof(w));
		v16f s0 = zero + x0[i], s1 = zero + x1[i], s2 = zero + x2[i], s3 = zero + x3[i];
		a0 = select16(s0 != zero, a0 + s0 * w, a0);
		a1 = select16(s1 != zero, a1 + s1 * w, a1);
		a2 = select16(s2 != zero, a2 + s2 * w, a2);
		a3 = select16(s3 != zero, a3 + s3 * w, a3);
	}
	memcpy(Y + j0, &a0, sizeof(v16f));
	memcpy(Y + (size_t)out + j0, &a1, sizeof(v16f));
	memcpy(Y + 2 * (size_t)out + j0, &a2, sizeof(v16f));
	memcpy(Y + 3 * (size_t)out + j0, &a3, sizeof(v16f));
}

static void ordered_one(int in, int out, int j, const float *x, const float *Wt, const float *b,
			float *y)
{
	float acc = b[j];
	for (int i = 0; i < in; i++)
		if (x[i] != 0.0f)
			acc += x[i] * Wt[(size_t)i * out + j];
	y[j] = acc;
}

/* rows [0, B) of X from Wt (in, out) = W^T */
static void ordered_rows(int B, int in, int out, const float *X, const float *Wt,
			 const float *b, float *Y)
{
	int full = out / 16 * 16, r = 0;
	for (; r + 4 <= B; r += 4) {
		const float *x = X + (size_t)r * in;
		float *y = Y + (size_t)r * out;
		for (int j0 = 0; j0 < full; j0 += 16)
			ordered_rows4(in, out, j0, x, Wt, b, y);
		for (int q = 0; q < 4; q++)
			for (int j = full; j < out; j++)
				ordered_one(in, out, j, x + (size_t)q * in, Wt, b, y + (size_t)q * out);
	}
	for (; r < B; r++)
		for (int j = 0; j < out; j++)
			ordered_one(in, out, j, X + (size_t)r * in, Wt, b, Y + (size_t)r * out);
}

void dense_forward_ordered(int B, int in, int out, const float *X, const float *W,
			   const float *b, float *Y, float *Wt, int threads, uint64_t *gemm)
{
	dense_transpose(in, out, W, Wt);
	int parts = threads > 1 ? (threads < B ? threads : B) : 1;
#pragma omp parallel for num_threads(parts) if (parts > 1) schedule(static)
	for (int p = 0; p < parts; p++) {
		int lo = B * p / parts, hi = B * (p + 1) / parts;
		ordered_rows(hi - lo, in, out, X + (size_t)lo * in, Wt, b, Y + (size_t)lo * out);
	}
	*gemm += 2ull * B * in * out + (uint64_t)B * out;
}

void dense_forward_ref(int B, int in, int out, const float *X, const float *W, const float *b,
		       float *Y)
{
	for (int r = 0; r < B; r++)
		for (int j = 0; j < out; j++) {
			double s = b[j];
			for (int i = 0; i < in; i++)
				s += (double)X[(size_t)r * in + i] * W[(size_t)j * in + i];
			Y[(size_t)r * out + j] = (float)s;
		}
}

void dense_backward_ref(int B, int in, int out, const float *X, const float *W, const float *dY,
			float *dX, float *dW, float *db)
{
	for (int j = 0; j < out; j++) {
		double sb = 0;
		for (int r = 0; r < B; r++)
			sb += dY[(size_t)r * out + j];
		db[j] = (float)sb;
		for (int i = 0; i < in; i++) {
			double s = 0;
			for (int r = 0; r < B; r++)
				s += (double)dY[(size_t)r * out + j] * X[(size_t)r * in + i];
			dW[(size_t)j * in + i] = (float)s;
		}
	}
	if (!dX)
		return;
	for (int r = 0; r < B; r++)
		for (int i = 0; i < in; i++) {
			double s = 0;
			for (int j = 0; j < out; j++)
				s += (double)dY[(size_t)r * out + j] * W[(size_t)j * in + i];
			dX[(size_t)r * in + i] = (float)s;
		}
}

/* ---- activations ---- */

/* e^x, within 2 ulp of expf, 16 at a time in GCC's vector types (libm's expf goes one element
 * at a time, and loops around it do not vectorise): x = n ln2 + r with |r| <= ln2 / 2 (ln2 in
 * two parts, Cody and Waite), e^r by Cephes's degree-6 polynomial, 2^n put into the exponent
 * bits. The input is clamped to [-87, 88], where 2^n stays a normal float: e^-87 is 1.6e-38
 * and e^88 1.7e38, so a sigmoid is 0 or 1 to float precision beyond them either way. The
 * compiler maps the vectors onto whatever the CPU has (AVX-512, AVX2, SSE): the operations
 * and their order are the same everywhere, with no FMA contraction. */
static v16f exp16(v16f x)
{
	v16f zero = { 0 }, lo = zero - 87.0f, hi = zero + 88.0f; /* constants: +-inf clamp too */
	x = select16(x < lo, lo, x);
	x = select16(x > hi, hi, x);
	v16f t = x * 1.44269504088896341f + 0.5f;
	v16i k = __builtin_convertvector(t, v16i); /* truncation; floor(t) follows */
	k += __builtin_convertvector(k, v16f) > t; /* true is -1 */
	v16f n = __builtin_convertvector(k, v16f);
	v16f r = x - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	v16f p = r * 1.9875691500e-4f + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * (r * r) + r + 1.0f;
	return p * (v16f)((k + 127) << 23);
}

/* y = 1 / (1 + e^-y) on n floats; a short tail goes through a padded vector, so that every
 * element takes the same operations wherever it sits. */
static void sigmoid_forward(size_t n, float *y)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		v16f v;
		memcpy(&v, y + i, sizeof(v));
		v = 1.0f / (1.0f + exp16(-v));
		memcpy(y + i, &v, sizeof(v));
	}
	if (i < n) {
		v16f v = { 0 };
		memcpy(&v, y + i, sizeof(float) * (n - i));
		v = 1.0f / (1.0f + exp16(-v));
		memcpy(y + i, &v, sizeof(float) * (n - i));
	}
}

float nn_exp(float x)
{
	v16f v = { x };
	return exp16(v)[0];
}

void act_forward(enum act a, size_t n, float *y, uint64_t *elementwise)
{
	switch (a) {
	case ACT_IDENTITY:
		return;
	case ACT_RELU:
#pragma omp simd
		for (size_t i = 0; i < n; i++)
			y[i] = y[i] > 0.0f ? y[i] : 0.0f;
		*elementwise += n * FLOPS_RELU;
		return;
	case ACT_SIGMOID:
		sigmoid_forward(n, y);
		*elementwise += n * FLOPS_SIGMOID;
		return;
	}
}

void act_backward(enum act a, size_t n, const float *y, float *dy, uint64_t *elementwise)
{
	switch (a) {
	case ACT_IDENTITY:
		return;
	case ACT_RELU:
#pragma omp simd
		for (size_t i = 0; i < n; i++)
			dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
		*elementwise += n * FLOPS_RELU_BACKWARD;
		return;
	case ACT_SIGMOID:
#pragma omp simd
		for (size_t i = 0; i < n; i++)
			dy[i] *= y[i] * (1.0f - y[i]);
		*elementwise += n * FLOPS_SIGMOID_BACKWARD;
		return;
	}
}

/* ---- losses ---- */

/* log clamped as PyTorch's BCELoss does, so a saturated output gives a finite loss */
static double clamped_log(double p)
{
	return p > 0.0 ? fmax(log(p), -100.0) : -100.0;
}

double loss_forward_backward(enum loss l, size_t n, const float *y, const float *x, float *dy,
			     float scale, uint64_t *elementwise)
{
	double sum = 0.0;
	if (l == LOSS_MSE) {
#pragma omp simd reduction(+ : sum)
		for (size_t i = 0; i < n; i++) {
			float d = y[i] - x[i];
			sum += (double)d * d;
			if (dy)
				dy[i] = 2.0f * scale * d;
		}
		*elementwise += n * (FLOPS_MSE + (dy ? FLOPS_MSE_GRAD : 0));
		return sum;
	}
	for (size_t i = 0; i < n; i++) {
		double p = y[i], t = x[i];
		sum -= t * clamped_log(p) + (1.0 - t) * clamped_log(1.0 - p);
		if (dy) {
			double denom = fmax(p * (1.0 - p), 1e-12);
			dy[i] = (float)(scale * (p - t) / denom);
		}
	}
	*elementwise += n * (FLOPS_BCE + (dy ? FLOPS_BCE_GRAD : 0));
	return sum;
}

/* ---- Adam ---- */

void adam_update(const struct adam *opt, long t, size_t n, float *p, const float *g, float *m,
		 float *v, uint64_t *elementwise)
{
	float b1 = opt->beta1, b2 = opt->beta2;
	float bias1 = 1.0f - powf(b1, (float)t);
	float bias2 = 1.0f - powf(b2, (float)t);
	float step = opt->lr / bias1;
	float inv_sqrt_bias2 = 1.0f / sqrtf(bias2);
#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		m[i] = b1 * m[i] + (1.0f - b1) * g[i];
		v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
		p[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bias2 + opt->eps);
	}
	*elementwise += n * FLOPS_ADAM;
}
