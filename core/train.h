/* train.h: mini-batch training with Adam, evaluation passes and latent codes.
 *
 * A batch is one chunk by default: its passes run on all the threads inside each layer, the
 * large GEMMs in fixed pieces (nn.h), a layer's dW beside its dX. With `chunks` > 1 the batch
 * is cut into that many chunks, which run one per thread, and their gradients are added in
 * chunk order. Every BLAS call has one BLAS thread. The result depends on the seed, batch and
 * chunk count, never on the number of threads. */
#ifndef DS_TRAIN_H
#define DS_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "data.h"
#include "flops.h"
#include "model.h"
#include "nn.h"
#include "rng.h"

struct epoch_report {
	int epoch;              /* 1-based */
	double train_loss;      /* mean loss per element over the epoch's batches */
	double penalty;         /* mean latent penalty per example (0 without one) */
	double val_mse;         /* mean squared error per element on the validation split */
	double seconds;         /* wall time of this epoch, validation included */
	double train_seconds;   /* wall time of this epoch's training steps alone */
	double images_per_s;    /* training examples per second (validation excluded) */
	double sgemm_seconds;   /* of train_seconds, in sgemm, summed over the threads */
	struct flops flops;     /* everything counted so far by this training run */
};

struct train_cfg {
	int epochs;
	int batch;
	int chunks;                             /* fixed split of every batch (>= 1) */
	int threads;                            /* OpenMP threads for the chunks */
	struct adam adam;
	enum loss loss;
	const struct latent_penalty *penalty;   /* NULL for a plain autoencoder */
	/* Called after every epoch; a non-zero return stops training early (not an error). */
	int (*on_epoch)(void *ctx, const struct epoch_report *e, struct ae *m);
	void *ctx;
	/* When set and non-zero (e.g. by a SIGINT handler), training stops after the current
	 * batch and ae_train returns TRAIN_INTERRUPTED. */
	const volatile sig_atomic_t *stop;
	/* Called after every optimisation step (e.g. to freeze parameters) with the step's
	 * mean loss per element (before the step); its own work goes to f->overhead. */
	void (*after_step)(void *ctx, struct ae *m, double batch_loss, struct flops *f);
	void *step_ctx;
	/* Ordered codes (plain models), both off by default: */
	double nested_p;      /* nested dropout (Rippel et al. 2014): each example of a step keeps
			       * its first b code units, b ~ Geometric(nested_p) on 1, 2, ...
			       * truncated at K; 0 for none */
	const int *prefixes;  /* Matryoshka: the loss is summed over these prefixes of the code */
	int n_prefixes;       /* (ae_backward_nested); 0 for none */
};

#define TRAIN_INTERRUPTED (-2)

/* The defaults of every training run: the experiments' keys and dimsearch train use them. */
#define TRAIN_DEFAULT_EPOCHS 10
#define TRAIN_DEFAULT_BATCH 256
#define TRAIN_DEFAULT_CHUNKS 1
#define TRAIN_DEFAULT_LR 0.001

/* Defaults: PyTorch's Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), batch 256, MSE, 10 epochs. */
void train_cfg_defaults(struct train_cfg *c);

/* Train m on train (shuffled every epoch with r), evaluating val after every epoch; FLOPs are
 * added to *f. Returns the epochs run, TRAIN_INTERRUPTED when *stop was raised, or -1 with
 * ds_errmsg() (bad settings, out of memory, a loss that became NaN or infinite: the message
 * names the epoch). */
int ae_train(struct ae *m, const struct split *train, const struct split *val,
	     const struct train_cfg *c, struct rng *r, struct flops *f);

/* The mean squared reconstruction error per element over split s of the model whose code
 * keeps only its first prefix[i] units, the rest held at fill[k] (zero when fill is NULL),
 * for each of the n prefixes, into mse[i]: one encoder pass, then one decoder pass per
 * prefix, counted as evaluation. Plain models; 0, or -1 with ds_errmsg(). */
int ae_prefix_mse(const struct ae *m, const struct split *s, int threads, const int *prefix,
		  int n, const float *fill, double *mse, struct flops *f);

/* Mean squared reconstruction error per element over split s, counted as evaluation. */
double ae_eval_mse(const struct ae *m, const struct split *s, int threads, struct flops *f);

/* Latent codes of every example of s into codes (s->n, K), counted as evaluation; also the
 * reconstruction MSE when mse is not NULL. Returns 0, or -1 with ds_errmsg(). */
int ae_encode(const struct ae *m, const struct split *s, int threads, float *codes, double *mse,
	      struct flops *f);

/* Activity of each latent unit over split s (encoder passes only): max_abs[k] and
 * mean_abs[k] of |h_k|, k < K. FLOPs go to f->overhead (a strategy's own work). Returns 0,
 * or -1 with ds_errmsg(). */
int ae_latent_activity(const struct ae *m, const struct split *s, int threads, double *max_abs,
		       double *mean_abs, struct flops *f);

/* A VAE's units over split s (encoder passes, z = mu): var_mu[k] = Var_x(mu_k) and
 * mean_var[k] = mean_x sigma_k^2, k < K. FLOPs to f->overhead. 0, or -1 with ds_errmsg(). */
int ae_vae_statistics(const struct ae *m, const struct split *s, int threads, double *var_mu,
		      double *mean_var, struct flops *f);

#endif
