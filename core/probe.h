/* probe.h: the downstream probe: softmax regression on latent codes, test accuracy. */
#ifndef DS_PROBE_H
#define DS_PROBE_H

#include <stddef.h>
#include <stdint.h>

struct probe_cfg {
	int epochs;     /* passes over the training codes */
	int batch;      /* mini-batch size */
	float lr;       /* Adam step size */
};

#define PROBE_DEFAULT_EPOCHS 20
#define PROBE_DEFAULT_LR 0.01
void probe_cfg_defaults(struct probe_cfg *c);   /* 20 epochs, batch 256, lr 0.01 */

/* Fit softmax regression on train codes (n_train, K) with labels 0..n_classes-1, features
 * standardised with the training mean and deviation (a constant feature becomes 0), and
 * return the accuracy on the test codes, in [0, 1]. Deterministic for a seed. FLOPs (GEMMs,
 * softmax, Adam, evaluation) are added to *flops. Returns -1 with ds_errmsg() on bad input
 * or out of memory. */
double probe_accuracy(const float *train_x, const int *train_y, size_t n_train,
		      const float *test_x, const int *test_y, size_t n_test, int K, int n_classes,
		      const struct probe_cfg *c, uint64_t seed, uint64_t *flops);

#endif
