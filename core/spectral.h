/* spectral.h: spectral normalisation as a reparametrisation (Miyato et al. 2018, as PyTorch's
 * torch.nn.utils.parametrizations.spectral_norm computes it).
 *
 * A normalised layer l has a free matrix V (the parameter Adam updates) and uses
 * W = V / sigma(V) in every pass, sigma estimated by power iteration with vectors u and v
 * kept from step to step: one iteration per optimisation step, and the gradient flows
 * through sigma, with u and v held constant:
 *
 *     dL/dV = (G - <G, W> u v^T) / sigma,   G = dL/dW,  sigma = u^T V v.
 *
 * Between steps the model's params hold W (so every evaluation, prefix curve or cut reads
 * the weights the network computes with) and the spectral state holds V; a training step
 * converts G, puts V back, lets Adam update it, iterates once and writes the new W. */
#ifndef DS_SPECTRAL_H
#define DS_SPECTRAL_H

#include <stdint.h>

#include "model.h"
#include "rng.h"

/* One power iteration on V (out, in) with the vectors u (out) and v (in): v = V^T u / |.|,
 * u = V v / |.| (norms floored at 1e-12, as PyTorch's); returns sigma = u^T V v, which is
 * |V v|: never above V's largest singular value. 4 out in + 3 (in + out) FLOPs. */
double spectral_iterate(const float *V, int out, int in, double *u, double *v, uint64_t *flops);

/* Power iterations when normalisation starts, as PyTorch's registration does. */
#define SPECTRAL_INIT_ITERATIONS 15

/* Normalise layers first..last-1 of m from its present weights: V = W, u drawn from r,
 * SPECTRAL_INIT_ITERATIONS iterations, then W = V / sigma. Counted in *flops. 0, or -1 with
 * ds_errmsg(). */
int ae_spectral_on(struct ae *m, int first, int last, struct rng *r, uint64_t *flops);
/* Stop normalising: the params keep W = V / sigma, a plain model's weights. */
void ae_spectral_off(struct ae *m);
/* sigma of layer l's last iteration, or 0 when l is not normalised; with u and v, its power
 * iteration's vectors (out and in long), when not NULL. */
double ae_spectral_sigma(const struct ae *m, int l, const double **u, const double **v);

/* Training step, after the chunks' gradients are summed into m->grad: each normalised
 * layer's gradient G = dL/dW becomes dL/dV and its params go back to V, for the optimiser. */
void ae_spectral_grad(struct ae *m, uint64_t *flops);
/* After the optimiser: one power iteration on each new V, then W = V / sigma in params. */
void ae_spectral_renorm(struct ae *m, uint64_t *flops);
/* Zero column k of layer l's V (and so of W), e.g. a code unit folded into the bias; sigma
 * is re-estimated by SPECTRAL_INIT_ITERATIONS iterations from u moved slightly off the
 * direction the column may have carried. */
void ae_spectral_zero_column(struct ae *m, int l, int k, uint64_t *flops);

#endif
