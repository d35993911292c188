/* probe.c: softmax regression trained with Adam on standardised features. */
#include "probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "flops.h"
#include "nn.h"
#include "rng.h"

enum { FLOPS_SOFTMAX = 5 };  /* per logit: subtract max, exp, sum, divide, minus target */

void probe_cfg_defaults(struct probe_cfg *c)
{
	c->epochs = PROBE_DEFAULT_EPOCHS;
	c->batch = 256;
	c->lr = (float)PROBE_DEFAULT_LR;
}

/* logits (rows, C) -> probabilities in place */
static void softmax_rows(float *z, int rows, int C)
{
	for (int r = 0; r < rows; r++) {
		float *row = z + (size_t)r * C, top = row[0], sum = 0;
		for (int j = 1; j < C; j++)
			top = row[j] > top ? row[j] : top;
		for (int j = 0; j < C; j++)
			sum += row[j] = expf(row[j] - top);
		for (int j = 0; j < C; j++)
			row[j] /= sum;
	}
}

static void standardise(const float *x, size_t n, int K, const double *mean, const double *inv,
			float *out)
{
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < K; k++)
			out[i * K + k] = (float)((x[i * K + k] - mean[k]) * inv[k]);
}

double probe_accuracy(const float *train_x, const int *train_y, size_t n_train,
		      const float *test_x, const int *test_y, size_t n_test, int K, int n_classes,
		      const struct probe_cfg *c, uint64_t seed, uint64_t *flops)
{
	if (n_train == 0 || n_test == 0 || K < 1 || n_classes < 2 || c->batch < 1)
		return ds_fail("the probe needs training and test codes and at least two classes");
	int C = n_classes, B = c->batch;
	size_t n_w = (size_t)C * K + C;           /* W (C, K) then b (C) */
	double *mean = calloc(K, sizeof(double)), *inv = calloc(K, sizeof(double));
	float *xs = malloc(sizeof(float) * n_train * K), *ts = malloc(sizeof(float) * n_test * K);
	float *params = calloc(n_w, sizeof(float)), *grad = malloc(sizeof(float) * n_w);
	float *m = calloc(n_w, sizeof(float)), *v = calloc(n_w, sizeof(float));
	float *xb = malloc(sizeof(float) * B * K), *z = malloc(sizeof(float) * B * C);
	int *order = malloc(sizeof(int) * n_train);
	double result = -1;
	if (!mean || !inv || !xs || !ts || !params || !grad || !m || !v || !xb || !z || !order) {
		ds_fail("out of memory in the probe");
		goto done;
	}
	for (size_t i = 0; i < n_train; i++)
		if (train_y[i] < 0 || train_y[i] >= C) {
			ds_fail("probe: label %d outside 0..%d", train_y[i], C - 1);
			goto done;
		}
	for (size_t i = 0; i < n_train; i++)
		for (int k = 0; k < K; k++)
			mean[k] += train_x[i * K + k];
	for (int k = 0; k < K; k++)
		mean[k] /= (double)n_train;
	for (size_t i = 0; i < n_train; i++)
		for (int k = 0; k < K; k++) {
			double d = train_x[i * K + k] - mean[k];
			inv[k] += d * d;
		}
	for (int k = 0; k < K; k++) {
		double sd = sqrt(inv[k] / (double)n_train);
		inv[k] = sd > 1e-12 ? 1.0 / sd : 0.0;
	}
	standardise(train_x, n_train, K, mean, inv, xs);
	standardise(test_x, n_test, K, mean, inv, ts);
	*flops += 4ull * (n_train + n_test) * K; /* statistics and standardisation */
	struct rng r;
	rng_seed(&r, seed);
	for (size_t i = 0; i < n_train; i++)
		order[i] = (int)i;
	struct adam opt = { .lr = c->lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f };
	long step = 0;
	float *W = params, *b = params + (size_t)C * K;
	for (int e = 0; e < c->epochs; e++) {
		rng_shuffle(&r, order, n_train);
		for (size_t first = 0; first < n_train; first += (size_t)B) {
			int rows = (int)(n_train - first < (size_t)B ? n_train - first : (size_t)B);
			for (int j = 0; j < rows; j++)
				memcpy(xb + (size_t)j * K, xs + (size_t)order[first + j] * K,
				       sizeof(float) * K);
			dense_forward(rows, K, C, xb, W, b, z, flops);
			softmax_rows(z, rows, C);
			for (int j = 0; j < rows; j++) {
				z[(size_t)j * C + train_y[order[first + j]]] -= 1.0f;
				for (int k = 0; k < C; k++)
					z[(size_t)j * C + k] /= (float)rows;
			}
			*flops += (uint64_t)rows * C * (FLOPS_SOFTMAX + 1);
			dense_backward(rows, K, C, xb, W, z, NULL, grad, grad + (size_t)C * K,
				       flops);
			adam_update(&opt, ++step, n_w, params, grad, m, v, flops);
		}
	}
	size_t correct = 0;
	for (size_t first = 0; first < n_test; first += (size_t)B) {
		int rows = (int)(n_test - first < (size_t)B ? n_test - first : (size_t)B);
		dense_forward(rows, K, C, ts + first * K, W, b, z, flops);
		for (int j = 0; j < rows; j++) {
			const float *row = z + (size_t)j * C;
			int best = 0;
			for (int k = 1; k < C; k++)
				best = row[k] > row[best] ? k : best;
			correct += best == test_y[first + j];
		}
		*flops += (uint64_t)rows * C;
	}
	result = (double)correct / (double)n_test;
done:
	free(mean);
	free(inv);
	free(xs);
	free(ts);
	free(params);
	free(grad);
	free(m);
	free(v);
	free(xb);
	free(z);
	free(order);
	return result;
}
