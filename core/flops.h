/* flops.h: the FLOP counter, split by phase, incremented where work is done (README: "The
 * FLOP convention"; ae_flops_per_example in model.h gives the closed form per example).
 *
 * One FLOP is one floating-point add or multiply; a fused multiply-add counts 2.
 * Dense forward on B rows: 2*B*in*out + B*out (bias). Backward: dW and dX GEMMs, each
 * 2*B*in*out, plus B*out for the bias gradient; dX of the first layer is neither computed nor
 * counted. Element-wise work has its own column, with the per-element costs below. */
#ifndef DS_FLOPS_H
#define DS_FLOPS_H

#include <stdint.h>

struct flops {
	uint64_t train_gemm;     /* GEMMs (and bias adds) of training steps */
	uint64_t eval_gemm;      /* GEMMs of evaluation passes: validation, test, latent codes */
	uint64_t elementwise;    /* activations, losses, penalties, gradient sums, optimiser */
	uint64_t overhead;       /* a strategy's own work: kNN, eigen-decompositions, scans */
	uint64_t report;         /* test-set evaluation and the downstream probe: measuring the
				  * result, which no strategy needs in order to decide */
};

/* Element-wise costs, FLOPs per element (comparisons and selects count 1). */
enum {
	FLOPS_RELU = 1,              /* max(x, 0) */
	FLOPS_RELU_BACKWARD = 1,     /* dy * [y > 0] */
	FLOPS_SIGMOID = 4,           /* negate, exp, add, divide */
	FLOPS_SIGMOID_BACKWARD = 3,  /* dy * y * (1 - y) */
	FLOPS_MSE = 3,               /* difference, square, accumulate */
	FLOPS_MSE_GRAD = 2,          /* scale * difference */
	FLOPS_BCE = 7,               /* two logs, two products, 1-x, 1-y, accumulate */
	FLOPS_BCE_GRAD = 5,          /* (y - x) / (y (1 - y)) * scale */
	FLOPS_ADAM = 12,             /* two moment updates (7), sqrt, add, divide, scale, subtract */
	FLOPS_MASK = 1,              /* latent code times its mask */
	FLOPS_VAE_SAMPLE = 4,        /* z = mu + exp(lv / 2) eps: halve, exp, multiply, add */
	FLOPS_VAE_KL = 12,           /* KL term and the gradients of mu and log sigma^2 */
	FLOPS_BN = 8,                /* statistics (3), normalise (2), scale and shift (2), ... */
	FLOPS_BN_BACKWARD = 12,      /* gamma and beta gradients, and the normalisation's */
	FLOPS_GRAD_SUM = 1,          /* adding one chunk's gradient into the total */
	FLOPS_L1_SHRINK = 3,         /* |gamma| - step, its sign, the clip at 0 */
	FLOPS_FREEZE = 1,            /* |gamma| against the freezing threshold */
	FLOPS_VOLUME = 9,            /* Least Volume, per code element: sum and square sum (3),
				      * deviation (2), its gradient and the add (3), the mask (1) */
	FLOPS_VOLUME_UNIT = 10       /* ... per unit: mean, variance, sqrt, eps, log, coefficient */
};

/* What a strategy spent to decide: everything but the report column. */
static inline uint64_t flops_tuning(const struct flops *f)
{
	return f->train_gemm + f->eval_gemm + f->elementwise + f->overhead;
}

static inline uint64_t flops_total(const struct flops *f)
{
	return flops_tuning(f) + f->report;
}

static inline void flops_add(struct flops *to, const struct flops *from)
{
	to->train_gemm += from->train_gemm;
	to->eval_gemm += from->eval_gemm;
	to->elementwise += from->elementwise;
	to->overhead += from->overhead;
	to->report += from->report;
}

#endif
