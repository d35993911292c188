/* model.h: the autoencoder D - h1 - ... - hn - K - hn - ... - h1 - D on dense layers, with
 * optional convolutional blocks in front of the dense layers and transposed ones behind them.
 *
 * All parameters live in one buffer (layer by layer: W (out, in), then b (out)); the gradient
 * and Adam's moments are buffers of the same layout. The latent layer's output, after its
 * activation, is multiplied by a per-unit mask (1 keep, 0 drop). */
#ifndef DS_MODEL_H
#define DS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "nn.h"
#include "rng.h"

#define AE_MAX_HIDDEN 8
#define AE_DEFAULT_HIDDEN "512,256"   /* encoder widths unless told otherwise */
#define AE_MAX_LINEAR 16   /* IRMAE's square layers between the encoder and the code */
#define AE_MAX_LAYERS (2 * AE_MAX_HIDDEN + 2 + AE_MAX_LINEAR)
#define AE_MAX_CONV 4      /* convolutional blocks of the encoder (mirrored in the decoder) */
#define AE_DEFAULT_CHANNELS "32,64"
#define AE_DEFAULT_KERNEL 3

enum { AE_BN_ENCODER = 1, AE_BN_DECODER = 2, AE_BN_HIDDEN = 3 };

struct ae_arch {
	int input_dim;                  /* D */
	int n_hidden;                   /* encoder hidden layers, mirrored in the decoder */
	int hidden[AE_MAX_HIDDEN];      /* h1..hn, widest first by convention */
	int latent;                     /* K */
	enum act hidden_act;            /* every hidden layer */
	enum act latent_act;            /* the code layer */
	enum act output_act;            /* the reconstruction */
	int latent_bn;                  /* batch-norm-style scale gamma and shift beta on the code
					 * layer, before its activation (Early-Bird) */
	int hidden_bn;                  /* the same on hidden layers: AE_BN_ENCODER, AE_BN_DECODER
					 * or both (AE_BN_HIDDEN) */
	int dec_hidden[AE_MAX_HIDDEN];  /* decoder widths when they differ from the mirror (a
					 * pruned network): dec_hidden[i] replaces hidden[i] on the
					 * decoder's side; 0 mirrors hidden[i] */
	int vae;                        /* variational: the code layer emits mu and log sigma^2
					 * (2K outputs, identity), and the decoder reads a sample
					 * z = mu + sigma * eps (the mean mu when evaluating) */
	int linear;                     /* IRMAE (Jing et al. 2020): this many K x K layers
					 * between the encoder's last layer and the code, that
					 * layer and these without activation (the last of them
					 * is the code layer, with latent_act); 0 for none. Not
					 * with a VAE, batch norm, truncation or pruning */
	/* Convolutional autoencoder (the Klazinga thesis's shape): `conv` encoder blocks, block i
	 * a stride-2 convolution to channels[i] (kernel side `kernel`, padding kernel / 2), 2-D
	 * batch norm and hidden_act, read an image (image[0] channels of image[1] x image[2]
	 * pixels, input_dim values in all); their output, flattened, is the dense layers' input
	 * and the dense layers' output (hidden_act, not output_act). The decoder mirrors the
	 * blocks with stride-2 transposed convolutions, each back to its encoder block's input
	 * size, with batch norm and hidden_act but the last, which ends in output_act. 0 blocks:
	 * a dense model. */
	int conv;
	int channels[AE_MAX_CONV];
	int kernel;
	int image[3];
};

struct ae_spectral;

struct ae {
	struct ae_arch arch;
	int n_layers;                   /* dense layers: 2 * (n_hidden + 1) */
	int latent_layer;               /* index of the layer whose output is the code */
	int width[AE_MAX_LAYERS + 1];   /* width[l] -> width[l + 1] is layer l */
	size_t w_off[AE_MAX_LAYERS];    /* where W_l starts in params (floats) */
	size_t b_off[AE_MAX_LAYERS];    /* where b_l starts in params (floats) */
	size_t n_params;
	float *params;                  /* (n_params) */
	float *grad;                    /* (n_params) gradient of the last step */
	float *adam_m;                  /* (n_params) first moment */
	float *adam_v;                  /* (n_params) second moment */
	long adam_t;                    /* Adam steps taken */
	float *latent_mask;             /* (K) */
	float vae_beta;                 /* KL weight: loss = MSE + beta * KL / D per example */
	/* Batch norm: layer l has it when bn_at[l]; its gamma (width[l + 1]) starts at
	 * params[bn_off[l]], its beta follows, and its running statistics start at
	 * bn_mean[bn_unit[l]] and bn_var[bn_unit[l]] (n_bn units in all layers). */
	int bn_at[AE_MAX_LAYERS];
	size_t bn_off[AE_MAX_LAYERS], bn_unit[AE_MAX_LAYERS], n_bn;
	size_t gamma_off, beta_off;     /* the code layer's gamma (K) and beta (K), with latent_bn */
	float *bn_mean, *bn_var;        /* (n_bn) running statistics, for evaluation */
	float bn_l1[AE_MAX_LAYERS];     /* an L1 weight on layer l's gamma whose subgradient
					 * lambda sign(gamma) joins gamma's gradient (0: none) */
	struct ae_spectral *sn;         /* spectral normalisation of some layers (spectral.h);
					 * NULL for none. Copies and cuts do not inherit it */
	/* Convolutional layers: arch.conv encoder blocks, then as many decoder blocks (n_conv in
	 * all). Layer j's weights start at params[cw_off[j]], its bias at cb_off[j]; with cbn_at[j]
	 * its 2-D batch norm's gamma (channels) at cbn_off[j], its beta after it, and its running
	 * statistics at bn_mean[cbn_unit[j]]. They follow every dense parameter, from conv_off. */
	int n_conv;
	struct conv_shape conv[2 * AE_MAX_CONV];
	size_t cw_off[2 * AE_MAX_CONV], cb_off[2 * AE_MAX_CONV];
	int cbn_at[2 * AE_MAX_CONV];
	size_t cbn_off[2 * AE_MAX_CONV], cbn_unit[2 * AE_MAX_CONV];
	size_t conv_off, conv_bn_unit;  /* the first convolutional parameter and running unit */
	float cbn_l1[2 * AE_MAX_CONV];  /* as bn_l1, on layer j's batch-norm gamma */
};

/* Scratch space for forward and backward passes over up to max_rows rows. */
struct ae_work {
	int max_rows;
	int threads;                    /* threads one pass may use inside its layers (pieces of
					 * a GEMM, a layer's dW beside its dX, rows of element-wise
					 * work); 0 or 1 runs on the calling thread alone. The
					 * results are the same for any number */
	float *act[AE_MAX_LAYERS + 1];  /* act[l + 1] (rows, width[l + 1]): output of layer l */
	float *delta[2];                /* (rows, max width) ping-pong gradients */
	float *wt;                      /* transposed weights of a layer touching the code */
	double *row_sum;                /* (rows) each row's training loss */
	float *z;                       /* VAE: (rows, K) the sample the decoder reads */
	float *eps;                     /* VAE: (rows, K) its standard normal draws */
	int training;                   /* a training pass: a VAE draws eps (else z = mu) and batch
					 * norm uses this batch's statistics (else the running ones) */
	float *bn_xhat[AE_MAX_LAYERS];  /* batch norm of layer l: (rows, width) normalised
					 * pre-activations ... */
	float *bn_stats[AE_MAX_LAYERS]; /* ... and (3 width) this batch's mean, variance, 1/std */
	int bn_rows;                    /* batch norm: rows those statistics came from */
	struct rng rng;                 /* VAE: where eps comes from, seeded by the trainer */
	const int *keep;                /* nested dropout: row r keeps code units 0..keep[r]-1
					 * (forward and backward); NULL keeps every unit */
	float *code_copy, *dcode;       /* nested losses: (rows, K) the code, its gradient */
	float *grad_prefix;             /* nested losses: (n_params) one prefix's gradient */
	int chunk;                      /* training: which chunk of the batch this workspace
					 * serves (0 outside training), passed to a penalty */
	float *cact[2 * AE_MAX_CONV];   /* convolutional layer j's output (rows, C H W) */
	float *cxhat[2 * AE_MAX_CONV];  /* its batch norm's normalised input ... */
	float *cstats[2 * AE_MAX_CONV]; /* ... and (2 C) this batch's mean and variance */
	float *cscratch;                /* convolutions' scratch, for up to cthreads threads */
	int cthreads;
};

/* Penalty on the latent codes h (rows, K), added to the loss by a strategy (e.g. SOSAE). */
struct latent_penalty {
	/* Add scale * dP/dh to dh and return P summed over the rows; count element-wise FLOPs.
	 * chunk is the workspace's chunk of the batch (ae_work.chunk), for a penalty that
	 * keeps statistics of each chunk apart. */
	double (*apply)(void *ctx, int chunk, int rows, int K, const float *h, float *dh,
			float scale, uint64_t *elementwise);
	void *ctx;
};

/* A plain autoencoder D - hidden - K - mirrored - D: hidden layers hidden_act, the code
 * latent_act, the output output_act or, when output_act < 0, sigmoid for data in [0, 1]
 * (unit_range) and identity otherwise. */
struct ae_arch ae_arch_plain(int D, const int *hidden, int n_hidden, int K, enum act hidden_act,
			     enum act latent_act, int output_act, int unit_range);

/* A convolutional arch (conv blocks of the given channels and kernel side) for images of
 * C x H x W, dense layers between: one hidden layer of half the flattened size with batch
 * norm, unless n_hidden > 0 gives the widths (then batch norm on the encoder's). */
struct ae_arch ae_arch_conv(int C, int H, int W, const int *channels, int conv, int kernel,
			    const int *hidden, int n_hidden, int K, enum act hidden_act,
			    enum act latent_act, int output_act, int unit_range);

/* The size of the convolutional blocks' flattened output (the dense layers' input) for a conv
 * arch, input_dim for a dense one; -1 with ds_errmsg() naming the sizes when the blocks do not
 * fit the image or the decoder cannot give its size back. */
int ae_dense_input(const struct ae_arch *a);

/* The GEMM FLOPs per example that the counter counts for a plain (not VAE) arch, by the
 * convention of README's "The FLOP convention": one training step (forward, dW and bias
 * gradient, dX but the first layer's) in *step, one evaluation pass in *eval. The
 * convolutions count as conv.h says. */
void ae_flops_per_example(const struct ae_arch *a, uint64_t *step, uint64_t *eval);

/* Checks the architecture (positive widths, at most AE_MAX_HIDDEN hidden layers, size
 * overflow); NULL with ds_errmsg() on failure. Parameters are zero until ae_init. */
struct ae *ae_new(const struct ae_arch *arch);
void ae_delete(struct ae *m);
/* PyTorch's nn.Linear default: W and b uniform on +-1/sqrt(in); Adam state and mask reset. */
void ae_init(struct ae *m, struct rng *r);
#define BN_EPS 1e-5f             /* added to the variance before the square root */
#define BN_MOMENTUM 0.1f         /* running statistics: new = 0.9 old + 0.1 batch */

/* Fold the batch statistics of the given training workspaces (in order) into the running
 * ones: one update per optimisation step. */
void ae_bn_update(struct ae *m, struct ae_work *const *w, int n);

/* The activation of layer l: hidden_act, latent_act on the code layer, identity on IRMAE's
 * linear layers, output_act on the last. */
enum act ae_layer_act(const struct ae *m, int l);
/* Outputs of layer l: its width, or 2K (mu, log sigma^2) for a VAE's code layer. */
int ae_layer_out(const struct ae *m, int l);
/* A new model keeping latent units 0..keep-1 (encoder's last-layer rows, decoder's first-layer
 * columns), parameters, Adam state and mask copied; NULL with ds_errmsg() on failure. */
struct ae *ae_truncate(const struct ae *m, int keep);

/* A new, smaller model keeping, at the output of each layer l < n_layers - 1, the units with
 * keep[l][j] set (keep[l] NULL keeps them all): weights, biases, batch norm, its running
 * statistics, Adam state and mask copied. A dropped unit of a batch-norm layer is taken to
 * emit act(beta) (times its mask), which it does exactly when its gamma is 0; that constant
 * is folded into the next layer's biases, so cutting such units changes no evaluation output
 * but for rounding.
 * Plain or batch-norm models (not VAE); every layer keeps at least one unit. NULL with
 * ds_errmsg() on failure. */
struct ae *ae_prune(const struct ae *m, const unsigned char *const *keep);

struct ae_work *ae_work_new(const struct ae *m, int max_rows);
void ae_work_delete(struct ae_work *w);

/* Forward pass of x (rows, D); returns the reconstruction (rows, D) held in w. */
const float *ae_forward(const struct ae *m, struct ae_work *w, const float *x, int rows,
			uint64_t *gemm, uint64_t *elementwise);
/* Encoder only: x (rows, D) to the latent codes (rows, K), held in w (ae_codes). */
const float *ae_forward_encoder(const struct ae *m, struct ae_work *w, const float *x, int rows,
				uint64_t *gemm, uint64_t *elementwise);
/* The decoder alone, from the codes held in w (ae_codes, as ae_forward left them or as a
 * caller set them) to the reconstruction (rows, D), returned. */
const float *ae_forward_decoder(const struct ae *m, struct ae_work *w, int rows, uint64_t *gemm,
				uint64_t *elementwise);
/* The latent codes (rows, K) of the last forward pass (a VAE's z; mu when not sampling).
 * A VAE's mu and log sigma^2 are ae_codes' neighbour: w->act[latent_layer + 1], (rows, 2K). */
const float *ae_codes(const struct ae *m, const struct ae_work *w);
/* After ae_forward on the same x: loss (scaled by scale, e.g. 1/(batch*D) for the mean) and
 * optional penalty (scaled by penalty_scale, e.g. 1/batch), back-propagated into grad
 * (n_params, overwritten). Returns the unscaled loss sum; *penalty_sum gets the penalty, or
 * for a VAE the KL divergence summed over the rows (its gradient scaled by vae_beta*scale). */
double ae_backward(const struct ae *m, struct ae_work *w, const float *x, int rows,
		   enum loss loss, float scale, const struct latent_penalty *penalty,
		   float penalty_scale, double *penalty_sum, float *grad, uint64_t *gemm,
		   uint64_t *elementwise);

/* After ae_forward on the same x, Matryoshka's loss (Kusupati et al. 2022): the sum over the
 * n prefixes of the loss of x decoded from the code's first prefix[i] units (the rest zeroed),
 * each scaled by scale, back-propagated into grad. The forward pass serves the prefix K when
 * listed; every other prefix costs a decoder pass forward and back, counted. Plain (not VAE,
 * no batch norm) models; returns the unscaled loss summed over the prefixes, or NaN when out
 * of memory. */
double ae_backward_nested(const struct ae *m, struct ae_work *w, const float *x, int rows,
			  enum loss loss, float scale, const int *prefix, int n, float *grad,
			  uint64_t *gemm, uint64_t *elementwise);

#endif
