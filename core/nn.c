/* nn.c: dense layers, activations, losses and Adam, with their FLOP counts. */
#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "flops.h"

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

void dense_forward(int B, int in, int out, const float *X, const float *W, const float *b,
		   float *Y, uint64_t *gemm)
{
	for (int r = 0; r < B; r++)
		memcpy(Y + (size_t)r * out, b, sizeof(float) * out);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1.0f, X, in, W, in, 1.0f,
		    Y, out);
	*gemm += 2ull * B * in * out + (uint64_t)B * out;
}

void dense_backward(int B, int in, int out, const float *X, const float *W, const float *dY,
		    float *dX, float *dW, float *db, uint64_t *gemm)
{
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1.0f, dY, out, X, in, 0.0f,
		    dW, in);
	memset(db, 0, sizeof(float) * out);
	for (int r = 0; r < B; r++) {
		const float *row = dY + (size_t)r * out;
		for (int j = 0; j < out; j++)
			db[j] += row[j];
	}
	*gemm += 2ull * B * in * out + (uint64_t)B * out;
	if (dX) {
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1.0f, dY, out, W,
			    in, 0.0f, dX, in);
		*gemm += 2ull * B * in * out;
	}
}

void dense_forward_ordered(int B, int in, int out, const float *X, const float *W,
			   const float *b, float *Y, float *Wt, uint64_t *gemm)
{
	for (int j = 0; j < out; j++)
		for (int i = 0; i < in; i++)
			Wt[(size_t)i * out + j] = W[(size_t)j * in + i];
	for (int r = 0; r < B; r++) {
		float *y = Y + (size_t)r * out;
		const float *x = X + (size_t)r * in;
		memcpy(y, b, sizeof(float) * out);
		for (int i = 0; i < in; i++) {
			float a = x[i];
			if (a == 0.0f)
				continue;
			const float *w = Wt + (size_t)i * out;
#pragma omp simd
			for (int j = 0; j < out; j++)
				y[j] += a * w[j];
		}
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
#pragma omp simd
		for (size_t i = 0; i < n; i++)
			y[i] = 1.0f / (1.0f + expf(-y[i]));
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
