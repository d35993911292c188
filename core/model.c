/* model.c: the autoencoder's parameters, passes and latent truncation. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "err.h"
#include "flops.h"
#include "spectral.h"

/* ---- construction ---- */

struct ae_arch ae_arch_plain(int D, const int *hidden, int n_hidden, int K, enum act hidden_act,
			     enum act latent_act, int output_act, int unit_range)
{
	struct ae_arch a = {
		.input_dim = D,
		.n_hidden = n_hidden,
		.latent = K,
		.hidden_act = hidden_act,
		.latent_act = latent_act,
		.output_act = output_act >= 0 ? (enum act)output_act
			      : unit_range    ? ACT_SIGMOID
					      : ACT_IDENTITY,
	};
	for (int i = 0; i < n_hidden && i < AE_MAX_HIDDEN; i++)
		a.hidden[i] = hidden[i];
	return a;
}

/* The convolutional layers of an arch (2 conv, returned): block i of the encoder is layer i,
 * its mirror in the decoder layer 2 conv - 1 - i. -1 with ds_errmsg() when they do not fit. */
static int conv_shapes(const struct ae_arch *a, struct conv_shape *s)
{
	int n = a->conv;
	if (n == 0)
		return 0;
	if (n < 0 || n > AE_MAX_CONV)
		return ds_fail("between 1 and %d convolutional blocks are supported (got %d)",
			       AE_MAX_CONV, n);
	if (a->image[0] < 1 || a->image[1] < 1 || a->image[2] < 1 ||
	    (long long)a->image[0] * a->image[1] * a->image[2] != a->input_dim)
		return ds_fail("the image shape %dx%dx%d does not hold the data's %d features",
			       a->image[0], a->image[1], a->image[2], a->input_dim);
	if (a->kernel < 1 || a->kernel % 2 == 0)
		return ds_fail("the kernel side must be odd and positive (got %d)", a->kernel);
	int c = a->image[0], h = a->image[1], w = a->image[2];
	for (int i = 0; i < n; i++) {
		if (a->channels[i] < 1)
			return ds_fail("block %d's channels must be positive (got %d)", i + 1,
				       a->channels[i]);
		if (a->kernel > h || a->kernel > w)
			return ds_fail("kernel %d is larger than block %d's %dx%d input; use a smaller "
				       "kernel or fewer channels' blocks",
				       a->kernel, i + 1, h, w);
		s[i] = (struct conv_shape){ .c_in = c, .h = h, .w = w, .c_out = a->channels[i],
					    .k = a->kernel, .stride = 2, .pad = a->kernel / 2 };
		if (conv_shape_check(&s[i]))
			return ds_fail("block %d: %s", i + 1, ds_errmsg());
		c = s[i].c_out, h = s[i].h_out, w = s[i].w_out;
	}
	for (int i = n - 1; i >= 0; i--) {
		const struct conv_shape *e = &s[i];
		struct conv_shape *d = &s[2 * n - 1 - i];
		/* back to e's input size: H_out = (H - 1) 2 - 2 pad + k + out_pad */
		int oh = e->h - ((e->h_out - 1) * 2 - 2 * e->pad + e->k);
		int ow = e->w - ((e->w_out - 1) * 2 - 2 * e->pad + e->k);
		if (oh < 0 || oh > 1 || ow < 0 || ow > 1)
			return ds_fail("block %d's stride-2 convolution of %dx%d gives %dx%d, which a "
				       "transposed convolution with kernel %d cannot give back",
				       i + 1, e->h, e->w, e->h_out, e->w_out, e->k);
		*d = (struct conv_shape){ .c_in = e->c_out, .h = e->h_out, .w = e->w_out,
					  .c_out = e->c_in, .k = e->k, .stride = 2, .pad = e->pad,
					  .transposed = 1 };
		d->out_pad = oh > ow ? oh : ow;
		if (oh != ow)
			return ds_fail("block %d: rows and columns need different output padding "
				       "(%d and %d) on a %dx%d image; use a square image or "
				       "sizes of the same parity",
				       i + 1, oh, ow, e->h, e->w);
		if (conv_shape_check(d))
			return ds_fail("decoder block %d: %s", n - i, ds_errmsg());
	}
	return 2 * n;
}

int ae_dense_input(const struct ae_arch *a)
{
	struct conv_shape s[2 * AE_MAX_CONV];
	int n = conv_shapes(a, s);
	if (n < 0)
		return -1;
	if (n == 0)
		return a->input_dim;
	const struct conv_shape *e = &s[a->conv - 1];
	long long f = (long long)e->c_out * e->h_out * e->w_out;
	if (f > (1 << 24))
		return ds_fail("the convolutional blocks' output is too large (%lld values)", f);
	return (int)f;
}

struct ae_arch ae_arch_conv(int C, int H, int W, const int *channels, int conv, int kernel,
			    const int *hidden, int n_hidden, int K, enum act hidden_act,
			    enum act latent_act, int output_act, int unit_range)
{
	struct ae_arch a = ae_arch_plain(C * H * W, hidden, n_hidden, K, hidden_act, latent_act,
					 output_act, unit_range);
	a.conv = conv;
	for (int i = 0; i < conv && i < AE_MAX_CONV; i++)
		a.channels[i] = channels[i];
	a.kernel = kernel;
	a.image[0] = C, a.image[1] = H, a.image[2] = W;
	a.hidden_bn = AE_BN_ENCODER;
	if (n_hidden == 0) {
		int f = ae_dense_input(&a);
		a.n_hidden = f > 1 ? 1 : 0;
		a.hidden[0] = f / 2;
	}
	return a;
}

/* The widths w[0..L] of an arch's dense layers (L = 2 (n_hidden + 1) + linear, returned): the
 * decoder's hidden widths mirror the encoder's unless dec_hidden says otherwise. */
static int arch_widths(const struct ae_arch *a, int *w)
{
	int n = a->n_hidden < 0 ? 0 : a->n_hidden < AE_MAX_HIDDEN ? a->n_hidden : AE_MAX_HIDDEN;
	int lin = a->linear < 0 ? 0 : a->linear < AE_MAX_LINEAR ? a->linear : AE_MAX_LINEAR;
	int L = 2 * (n + 1) + lin;
	int d = a->conv ? ae_dense_input(a) : a->input_dim;
	w[0] = w[L] = d;
	for (int i = 0; i < n; i++) {
		w[i + 1] = a->hidden[i];
		w[L - 1 - i] = a->dec_hidden[i] ? a->dec_hidden[i] : a->hidden[i];
	}
	for (int i = 0; i <= lin; i++)
		w[n + 1 + i] = a->latent;
	return L;
}

void ae_flops_per_example(const struct ae_arch *a, uint64_t *step, uint64_t *eval)
{
	int w[AE_MAX_LAYERS + 1], L = arch_widths(a, w);
	*step = *eval = 0;
	for (int l = 0; l < L; l++) {
		uint64_t io = (uint64_t)w[l] * (uint64_t)w[l + 1], out = (uint64_t)w[l + 1];
		*step += 2 * io + out; /* forward and bias */
		*step += 2 * io + out; /* dW and the bias gradient */
		if (l > 0 || a->conv)
			*step += 2 * io; /* dX, not for the first layer */
		*eval += 2 * io + out;
	}
	struct conv_shape s[2 * AE_MAX_CONV];
	int n = conv_shapes(a, s);
	for (int j = 0; j < n; j++) {
		const struct conv_shape *c = &s[j];
		uint64_t macs = (uint64_t)c->c_in * c->c_out * c->k * c->k *
				(c->transposed ? (uint64_t)c->h * c->w : (uint64_t)c->h_out * c->w_out);
		uint64_t out = (uint64_t)c->c_out * c->h_out * c->w_out;
		*step += 2 * (2 * macs + out) + (j > 0 ? 2 * macs : 0);
		*eval += 2 * macs + out;
	}
}

int ae_layer_out(const struct ae *m, int l)
{
	return m->arch.vae && l == m->latent_layer ? 2 * m->arch.latent : m->width[l + 1];
}

/* Widths and parameter offsets of every layer; 0, or -1 with ds_errmsg() for a bad arch. */
static int layout(struct ae *m)
{
	const struct ae_arch *a = &m->arch;
	if (a->input_dim <= 0 || a->latent <= 0)
		return ds_fail("input and latent widths must be positive (got %d and %d)",
			       a->input_dim, a->latent);
	m->n_conv = conv_shapes(a, m->conv);
	if (m->n_conv < 0)
		return -1;
	if (a->n_hidden < 0 || a->n_hidden > AE_MAX_HIDDEN)
		return ds_fail("between 0 and %d hidden layers are supported (got %d)",
			       AE_MAX_HIDDEN, a->n_hidden);
	int n = a->n_hidden;
	for (int i = 0; i < n; i++)
		if (a->hidden[i] <= 0 || a->dec_hidden[i] < 0)
			return ds_fail("hidden width %d must be positive (got %d)", i + 1,
				       a->hidden[i] <= 0 ? a->hidden[i] : a->dec_hidden[i]);
	if (a->linear < 0 || a->linear > AE_MAX_LINEAR)
		return ds_fail("between 0 and %d linear layers before the code are supported "
			       "(got %d)",
			       AE_MAX_LINEAR, a->linear);
	if (a->linear && (a->vae || a->latent_bn || a->hidden_bn))
		return ds_fail("linear layers before the code need a plain autoencoder (no VAE, "
			       "no batch norm)");
	m->n_layers = arch_widths(a, m->width);
	m->latent_layer = n + a->linear;
	size_t off = 0;
	for (int l = 0; l < m->n_layers; l++) {
		size_t in = (size_t)m->width[l], out = (size_t)ae_layer_out(m, l);
		if (in > (1u << 24) || out > (1u << 24) || off > SIZE_MAX / 8 - in * out - out)
			return ds_fail("architecture too large (layer %d is %zu x %zu)", l, out,
				       in);
		m->w_off[l] = off;
		off += in * out;
		m->b_off[l] = off;
		off += out;
	}
	m->n_bn = 0;
	for (int l = 0; l < m->n_layers - 1; l++) {
		m->bn_at[l] = l == m->latent_layer ? a->latent_bn && !a->vae
			      : l < m->latent_layer ? (a->hidden_bn & AE_BN_ENCODER) != 0
						    : (a->hidden_bn & AE_BN_DECODER) != 0;
		if (!m->bn_at[l])
			continue;
		m->bn_off[l] = off;
		off += 2 * (size_t)m->width[l + 1];
		m->bn_unit[l] = m->n_bn;
		m->n_bn += (size_t)m->width[l + 1];
	}
	if (m->bn_at[m->latent_layer]) {
		m->gamma_off = m->bn_off[m->latent_layer];
		m->beta_off = m->gamma_off + (size_t)a->latent;
	}
	if (a->conv && a->linear)
		return ds_fail("linear layers before the code are for dense autoencoders");
	m->conv_off = off;
	m->conv_bn_unit = m->n_bn;
	for (int j = 0; j < m->n_conv; j++) {
		const struct conv_shape *c = &m->conv[j];
		m->cw_off[j] = off;
		off += conv_weights(c);
		m->cb_off[j] = off;
		off += (size_t)c->c_out;
		m->cbn_at[j] = j < m->n_conv - 1; /* all but the reconstruction */
		if (!m->cbn_at[j])
			continue;
		m->cbn_off[j] = off;
		off += 2 * (size_t)c->c_out;
		m->cbn_unit[j] = m->n_bn;
		m->n_bn += (size_t)c->c_out;
	}
	m->n_params = off;
	return 0;
}

struct ae *ae_new(const struct ae_arch *arch)
{
	struct ae *m = calloc(1, sizeof(*m));
	if (!m) {
		ds_fail("out of memory allocating a model");
		return NULL;
	}
	m->arch = *arch;
	if (layout(m)) {
		free(m);
		return NULL;
	}
	m->params = calloc(m->n_params, sizeof(float));
	m->grad = calloc(m->n_params, sizeof(float));
	m->adam_m = calloc(m->n_params, sizeof(float));
	m->adam_v = calloc(m->n_params, sizeof(float));
	m->latent_mask = malloc(sizeof(float) * arch->latent);
	m->bn_mean = calloc(m->n_bn + 1, sizeof(float));
	m->bn_var = malloc(sizeof(float) * (m->n_bn + 1));
	if (!m->params || !m->grad || !m->adam_m || !m->adam_v || !m->latent_mask || !m->bn_mean ||
	    !m->bn_var) {
		ds_fail("out of memory allocating %zu parameters", m->n_params);
		ae_delete(m);
		return NULL;
	}
	for (int k = 0; k < arch->latent; k++)
		m->latent_mask[k] = 1.0f;
	for (size_t k = 0; k < m->n_bn; k++)
		m->bn_var[k] = 1.0f;
	return m;
}

void ae_delete(struct ae *m)
{
	if (!m)
		return;
	free(m->params);
	free(m->grad);
	free(m->adam_m);
	free(m->adam_v);
	free(m->latent_mask);
	free(m->bn_mean);
	free(m->bn_var);
	ae_spectral_off(m);
	free(m);
}

void ae_init(struct ae *m, struct rng *r)
{
	for (int l = 0; l < m->n_layers; l++) {
		int in = m->width[l], out = ae_layer_out(m, l);
		double bound = 1.0 / sqrt((double)in);
		float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
		for (size_t i = 0; i < (size_t)in * out; i++)
			W[i] = (float)((2.0 * rng_uniform(r) - 1.0) * bound);
		for (int j = 0; j < out; j++)
			b[j] = (float)((2.0 * rng_uniform(r) - 1.0) * bound);
	}
	for (int j = 0; j < m->n_conv; j++) {
		/* PyTorch's Conv2d and ConvTranspose2d: +-1/sqrt(fan in), fan in from W's second
		 * dimension times k k */
		const struct conv_shape *c = &m->conv[j];
		int fan = (c->transposed ? c->c_out : c->c_in) * c->k * c->k;
		double bound = 1.0 / sqrt((double)fan);
		float *W = m->params + m->cw_off[j], *b = m->params + m->cb_off[j];
		for (size_t i = 0; i < conv_weights(c); i++)
			W[i] = (float)((2.0 * rng_uniform(r) - 1.0) * bound);
		for (int o = 0; o < c->c_out; o++)
			b[o] = (float)((2.0 * rng_uniform(r) - 1.0) * bound);
		for (int o = 0; m->cbn_at[j] && o < c->c_out; o++) {
			m->params[m->cbn_off[j] + o] = 1.0f;
			m->params[m->cbn_off[j] + c->c_out + o] = 0.0f;
		}
	}
	memset(m->adam_m, 0, sizeof(float) * m->n_params);
	memset(m->adam_v, 0, sizeof(float) * m->n_params);
	m->adam_t = 0;
	for (int k = 0; k < m->arch.latent; k++)
		m->latent_mask[k] = 1.0f;
	for (size_t k = 0; k < m->n_bn; k++) {
		m->bn_mean[k] = 0.0f;
		m->bn_var[k] = 1.0f;
	}
	for (int l = 0; l < m->n_layers; l++)
		for (int j = 0; m->bn_at[l] && j < m->width[l + 1]; j++) {
			m->params[m->bn_off[l] + j] = 1.0f;
			m->params[m->bn_off[l] + m->width[l + 1] + j] = 0.0f;
		}
}

/* Copy layer l of a parameter-shaped buffer from model `from` into model `to`, whose latent
 * width may be smaller: only the leading rows or columns that `to` has are taken. */
static void copy_layer(const struct ae *from, const float *src, const struct ae *to, float *dst,
		       int l)
{
	int in = to->width[l], out = to->width[l + 1], from_in = from->width[l];
	const float *W = src + from->w_off[l];
	float *W2 = dst + to->w_off[l];
	for (int j = 0; j < out; j++)
		memcpy(W2 + (size_t)j * in, W + (size_t)j * from_in, sizeof(float) * in);
	memcpy(dst + to->b_off[l], src + from->b_off[l], sizeof(float) * out);
}

/* The convolutional layers of `from` into `to`, which has the same ones: parameters, Adam
 * state and running statistics. */
static void copy_conv(const struct ae *from, struct ae *to)
{
	size_t n = from->n_params - from->conv_off, u = from->n_bn - from->conv_bn_unit;
	memcpy(to->params + to->conv_off, from->params + from->conv_off, sizeof(float) * n);
	memcpy(to->adam_m + to->conv_off, from->adam_m + from->conv_off, sizeof(float) * n);
	memcpy(to->adam_v + to->conv_off, from->adam_v + from->conv_off, sizeof(float) * n);
	memcpy(to->bn_mean + to->conv_bn_unit, from->bn_mean + from->conv_bn_unit,
	       sizeof(float) * u);
	memcpy(to->bn_var + to->conv_bn_unit, from->bn_var + from->conv_bn_unit, sizeof(float) * u);
}

/* Dense layer l's batch norm (gamma, beta, their Adam state and running statistics), of the
 * same width in both models. */
static void copy_bn(const struct ae *from, struct ae *to, int l)
{
	size_t n = 2 * (size_t)from->width[l + 1], u = (size_t)from->width[l + 1];
	memcpy(to->params + to->bn_off[l], from->params + from->bn_off[l], sizeof(float) * n);
	memcpy(to->adam_m + to->bn_off[l], from->adam_m + from->bn_off[l], sizeof(float) * n);
	memcpy(to->adam_v + to->bn_off[l], from->adam_v + from->bn_off[l], sizeof(float) * n);
	memcpy(to->bn_mean + to->bn_unit[l], from->bn_mean + from->bn_unit[l], sizeof(float) * u);
	memcpy(to->bn_var + to->bn_unit[l], from->bn_var + from->bn_unit[l], sizeof(float) * u);
}

struct ae *ae_truncate(const struct ae *m, int keep)
{
	if (m->arch.vae || m->bn_at[m->latent_layer] || m->arch.linear) {
		ds_fail("only a plain autoencoder's latent layer can be cut (no VAE, no batch norm "
			"on the code)");
		return NULL;
	}
	if (keep < 1 || keep > m->arch.latent) {
		ds_fail("cannot cut the latent layer to %d units (it has %d)", keep,
			m->arch.latent);
		return NULL;
	}
	struct ae_arch arch = m->arch;
	arch.latent = keep;
	struct ae *t = ae_new(&arch);
	if (!t)
		return NULL;
	for (int l = 0; l < m->n_layers; l++) {
		copy_layer(m, m->params, t, t->params, l);
		copy_layer(m, m->adam_m, t, t->adam_m, l);
		copy_layer(m, m->adam_v, t, t->adam_v, l);
		if (m->bn_at[l])
			copy_bn(m, t, l);
	}
	copy_conv(m, t);
	memcpy(t->latent_mask, m->latent_mask, sizeof(float) * keep);
	t->adam_t = m->adam_t;
	return t;
}

/* The units kept at the output of layer l (all when keep[l] is NULL, and for the output). */
static int kept(const struct ae *m, const unsigned char *const *keep, int l, int j)
{
	return l < 0 || l >= m->n_layers - 1 || !keep[l] || keep[l][j];
}

/* What dropped unit j of layer l emits in evaluation when its batch-norm gamma is 0:
 * act(beta_j) times its mask (0 without batch norm: nothing to fold). */
static float dropped_output(const struct ae *m, int l, int j)
{
	if (!m->bn_at[l])
		return 0.0f;
	float y = m->params[m->bn_off[l] + m->width[l + 1] + j];
	act_forward(l == m->latent_layer ? m->arch.latent_act : m->arch.hidden_act, 1, &y,
		    &(uint64_t){ 0 });
	return l == m->latent_layer ? y * m->latent_mask[j] : y;
}

/* Copy layer l of a parameter-shaped buffer into the pruned model p, kept rows and columns
 * only; with fold, dropped inputs' constant outputs join the biases. */
static void prune_layer(const struct ae *m, const float *src, const struct ae *p, float *dst,
			const unsigned char *const *keep, int l, int fold)
{
	int in = m->width[l], out = m->width[l + 1], jp = 0;
	for (int j = 0; j < out; j++) {
		if (!kept(m, keep, l, j))
			continue;
		const float *W = src + m->w_off[l] + (size_t)j * in;
		float *W2 = dst + p->w_off[l] + (size_t)jp * p->width[l];
		double bias = src[m->b_off[l] + j];
		for (int i = 0, ip = 0; i < in; i++) {
			if (kept(m, keep, l - 1, i))
				W2[ip++] = W[i];
			else if (fold)
				bias += (double)W[i] * dropped_output(m, l - 1, i);
		}
		dst[p->b_off[l] + jp] = (float)bias;
		if (m->bn_at[l]) {
			dst[p->bn_off[l] + jp] = src[m->bn_off[l] + j];
			dst[p->bn_off[l] + p->width[l + 1] + jp] = src[m->bn_off[l] + out + j];
		}
		jp++;
	}
}

struct ae *ae_prune(const struct ae *m, const unsigned char *const *keep)
{
	if (m->arch.vae || m->arch.linear) {
		ds_fail("a VAE or a model with linear layers before its code cannot be pruned");
		return NULL;
	}
	int count[AE_MAX_LAYERS + 1];
	for (int l = 0; l <= m->n_layers; l++) {
		count[l] = 0;
		for (int j = 0; j < m->width[l]; j++)
			count[l] += kept(m, keep, l - 1, j);
		if (!count[l]) {
			ds_fail("pruning would leave layer %d with no unit", l);
			return NULL;
		}
	}
	struct ae_arch arch = m->arch;
	int n = arch.n_hidden;
	for (int i = 0; i < n; i++) {
		arch.hidden[i] = count[i + 1];
		arch.dec_hidden[i] = count[m->n_layers - 1 - i];
	}
	arch.latent = count[n + 1];
	struct ae *p = ae_new(&arch);
	if (!p)
		return NULL;
	for (int l = 0; l < m->n_layers; l++) {
		prune_layer(m, m->params, p, p->params, keep, l, 1);
		prune_layer(m, m->adam_m, p, p->adam_m, keep, l, 0);
		prune_layer(m, m->adam_v, p, p->adam_v, keep, l, 0);
		for (int j = 0, jp = 0; m->bn_at[l] && j < m->width[l + 1]; j++)
			if (kept(m, keep, l, j)) {
				p->bn_mean[p->bn_unit[l] + jp] = m->bn_mean[m->bn_unit[l] + j];
				p->bn_var[p->bn_unit[l] + jp] = m->bn_var[m->bn_unit[l] + j];
				jp++;
			}
	}
	copy_conv(m, p);
	for (int k = 0, kp = 0; k < m->arch.latent; k++)
		if (kept(m, keep, n, k))
			p->latent_mask[kp++] = m->latent_mask[k];
	p->adam_t = m->adam_t;
	p->vae_beta = m->vae_beta;
	return p;
}

/* ---- workspace ---- */

struct ae_work *ae_work_new(const struct ae *m, int max_rows)
{
	struct ae_work *w = calloc(1, sizeof(*w));
	if (!w) {
		ds_fail("out of memory allocating a workspace");
		return NULL;
	}
	w->max_rows = max_rows;
	int widest = 0;
	int ok = 1;
	for (int l = 0; l < m->n_layers; l++) {
		widest = m->width[l] > widest ? m->width[l] : widest;
		widest = ae_layer_out(m, l) > widest ? ae_layer_out(m, l) : widest;
	}
	for (int l = 1; l <= m->n_layers; l++)
		ok &= (w->act[l] = malloc(sizeof(float) * max_rows * ae_layer_out(m, l - 1))) !=
		      NULL;
	for (int l = 0; l < m->n_layers; l++)
		if (m->bn_at[l]) {
			size_t width = (size_t)m->width[l + 1];
			ok &= (w->bn_xhat[l] = malloc(sizeof(float) * max_rows * width)) != NULL;
			ok &= (w->bn_stats[l] = malloc(sizeof(float) * 3 * width)) != NULL;
		}
	if (m->arch.vae) {
		ok &= (w->z = malloc(sizeof(float) * max_rows * m->arch.latent)) != NULL;
		ok &= (w->eps = calloc((size_t)max_rows * m->arch.latent, sizeof(float))) != NULL;
	}
	size_t scratch = 0;
	w->cthreads = omp_get_max_threads();
	for (int j = 0; j < m->n_conv; j++) {
		const struct conv_shape *c = &m->conv[j];
		int in = c->c_in * c->h * c->w, out = c->c_out * c->h_out * c->w_out;
		widest = in > widest ? in : widest;
		widest = out > widest ? out : widest;
		ok &= (w->cact[j] = malloc(sizeof(float) * max_rows * out)) != NULL;
		if (m->cbn_at[j]) {
			ok &= (w->cxhat[j] = malloc(sizeof(float) * max_rows * out)) != NULL;
			ok &= (w->cstats[j] = malloc(sizeof(float) * 2 * c->c_out)) != NULL;
		}
		size_t f = conv_scratch_floats(c, max_rows, w->cthreads);
		scratch = f > scratch ? f : scratch;
	}
	if (scratch)
		ok &= (w->cscratch = malloc(sizeof(float) * scratch)) != NULL;
	for (int i = 0; i < 2; i++)
		ok &= (w->delta[i] = malloc(sizeof(float) * max_rows * widest)) != NULL;
	ok &= (w->row_sum = malloc(sizeof(double) * max_rows)) != NULL;
	int L = m->latent_layer;
	size_t wt = (size_t)m->width[L] * ae_layer_out(m, L);
	if ((size_t)m->width[L + 1] * m->width[L + 2] > wt)
		wt = (size_t)m->width[L + 1] * m->width[L + 2];
	ok &= (w->wt = malloc(sizeof(float) * wt)) != NULL;
	if (!ok) {
		ae_work_delete(w);
		ds_fail("out of memory allocating a workspace for %d rows", max_rows);
		return NULL;
	}
	return w;
}

void ae_work_delete(struct ae_work *w)
{
	if (!w)
		return;
	for (int l = 0; l <= AE_MAX_LAYERS; l++)
		free(w->act[l]);
	free(w->delta[0]);
	free(w->delta[1]);
	free(w->wt);
	free(w->row_sum);
	free(w->z);
	free(w->eps);
	for (int l = 0; l < AE_MAX_LAYERS; l++) {
		free(w->bn_xhat[l]);
		free(w->bn_stats[l]);
	}
	free(w->code_copy);
	free(w->dcode);
	free(w->grad_prefix);
	for (int j = 0; j < 2 * AE_MAX_CONV; j++) {
		free(w->cact[j]);
		free(w->cxhat[j]);
		free(w->cstats[j]);
	}
	free(w->cscratch);
	free(w);
}

/* ---- passes ---- */

enum act ae_layer_act(const struct ae *m, int l)
{
	if (l == m->n_layers - 1)
		return m->n_conv ? m->arch.hidden_act : m->arch.output_act;
	if (l == m->latent_layer)
		return m->arch.latent_act;
	if (l >= m->latent_layer - m->arch.linear && l < m->latent_layer)
		return ACT_IDENTITY; /* IRMAE's linear layers and the encoder's last before them */
	return m->arch.hidden_act;
}

/* h (rows, K) *= mask, on codes going forward and on their gradient going back */
static void apply_mask(const struct ae *m, int rows, float *h, uint64_t *elementwise)
{
	int K = m->arch.latent;
	for (int r = 0; r < rows; r++)
		for (int k = 0; k < K; k++)
			h[(size_t)r * K + k] *= m->latent_mask[k];
	*elementwise += (uint64_t)rows * K * FLOPS_MASK;
}

/* nested dropout: row r of h (rows, K) keeps units 0..keep[r]-1 */
static void apply_keep(const struct ae *m, const struct ae_work *w, int rows, float *h,
		       uint64_t *elementwise)
{
	int K = m->arch.latent;
	for (int r = 0; w->keep && r < rows; r++)
		for (int k = w->keep[r]; k < K; k++)
			h[(size_t)r * K + k] = 0.0f;
	if (w->keep)
		*elementwise += (uint64_t)rows * K * FLOPS_MASK;
}

/* VAE: z (rows, K) = mu + exp(lv / 2) eps from mv (rows, 2K) = (mu, lv), or z = mu */
static void vae_sample(const struct ae *m, struct ae_work *w, int rows, const float *mv,
		       uint64_t *elementwise)
{
	int K = m->arch.latent;
	for (int r = 0; r < rows; r++)
		for (int k = 0; k < K; k++) {
			float mu = mv[(size_t)r * 2 * K + k], lv = mv[(size_t)r * 2 * K + K + k];
			float e = w->training ? (float)rng_normal(&w->rng) : 0.0f;
			w->eps[(size_t)r * K + k] = e;
			w->z[(size_t)r * K + k] = w->training ? mu + expf(0.5f * lv) * e : mu;
		}
	if (w->training)
		*elementwise += (uint64_t)rows * K * FLOPS_VAE_SAMPLE;
}

/* VAE backward through the sample and the KL term: from dz (rows, K) to d(mu, lv) (rows,
 * 2K); KL = 0.5 sum (mu^2 + e^lv - lv - 1), weighted by kl_scale. Returns KL summed. */
static double vae_backward(const struct ae *m, const struct ae_work *w, int rows, const float *dz,
			   float *dmv, float kl_scale, uint64_t *elementwise)
{
	int K = m->arch.latent;
	const float *mv = w->act[m->latent_layer + 1];
	double kl = 0.0;
	for (int r = 0; r < rows; r++)
		for (int k = 0; k < K; k++) {
			float mu = mv[(size_t)r * 2 * K + k], lv = mv[(size_t)r * 2 * K + K + k];
			float g = dz[(size_t)r * K + k], e = w->eps[(size_t)r * K + k];
			float var = expf(lv);
			kl += 0.5 * ((double)mu * mu + var - lv - 1.0);
			dmv[(size_t)r * 2 * K + k] = g + kl_scale * mu;
			dmv[(size_t)r * 2 * K + K + k] =
				g * e * 0.5f * expf(0.5f * lv) + kl_scale * 0.5f * (var - 1.0f);
		}
	*elementwise += (uint64_t)rows * K * FLOPS_VAE_KL;
	return kl;
}

/* Batch norm of layer l on z (rows, K), in place: z = gamma (z - mean) / std + beta, with
 * this batch's statistics when training (kept for backward and the running update), else the
 * running ones. */
static void bn_forward(const struct ae *m, struct ae_work *w, int l, int rows, float *z,
		       uint64_t *elementwise)
{
	int K = m->width[l + 1];
	const float *gamma = m->params + m->bn_off[l], *beta = gamma + K;
	const float *run_mean = m->bn_mean + m->bn_unit[l], *run_var = m->bn_var + m->bn_unit[l];
	float *mean = w->bn_stats[l], *var = mean + K, *inv = var + K, *xhat_out = w->bn_xhat[l];
	for (int k = 0; k < K; k++) {
		if (w->training) {
			double s = 0, sq = 0;
			for (int r = 0; r < rows; r++) {
				double v = z[(size_t)r * K + k];
				s += v;
				sq += v * v;
			}
			double mu = s / rows;
			mean[k] = (float)mu;
			var[k] = (float)fmax(sq / rows - mu * mu, 0.0);
		} else {
			mean[k] = run_mean[k];
			var[k] = run_var[k];
		}
		inv[k] = 1.0f / sqrtf(var[k] + BN_EPS);
	}
	w->bn_rows = rows;
	for (int r = 0; r < rows; r++)
		for (int k = 0; k < K; k++) {
			float xhat = (z[(size_t)r * K + k] - mean[k]) * inv[k];
			xhat_out[(size_t)r * K + k] = xhat;
			z[(size_t)r * K + k] = gamma[k] * xhat + beta[k];
		}
	*elementwise += (uint64_t)rows * K * FLOPS_BN;
}

/* Batch norm backward of layer l (training statistics): dy (rows, K) becomes dz in place;
 * gamma's and beta's gradients are written to grad, gamma's with its L1 subgradient times
 * share (this pass's rows over the batch's, so that a batch's chunks add it once). */
static void bn_backward(const struct ae *m, const struct ae_work *w, int l, int rows, float *dy,
			float *grad, float share, uint64_t *elementwise)
{
	int K = m->width[l + 1];
	size_t g_off = m->bn_off[l], b_off = g_off + (size_t)K;
	const float *gamma = m->params + g_off, *inv = w->bn_stats[l] + 2 * K;
	const float *bn_xhat = w->bn_xhat[l];
	for (int k = 0; k < K; k++) {
		double dgamma = 0, dbeta = 0, sum_dx = 0, sum_dx_xhat = 0;
		for (int r = 0; r < rows; r++) {
			double g = dy[(size_t)r * K + k], xhat = bn_xhat[(size_t)r * K + k];
			dgamma += g * xhat;
			dbeta += g;
			sum_dx += g * gamma[k];
			sum_dx_xhat += g * gamma[k] * xhat;
		}
		float sign = gamma[k] > 0 ? 1.0f : gamma[k] < 0 ? -1.0f : 0.0f;
		grad[g_off + k] = (float)dgamma + m->bn_l1[l] * sign * share;
		grad[b_off + k] = (float)dbeta;
		for (int r = 0; r < rows; r++) {
			double dx = dy[(size_t)r * K + k] * gamma[k];
			double xhat = bn_xhat[(size_t)r * K + k];
			dy[(size_t)r * K + k] =
				(float)(inv[k] / rows * (rows * dx - sum_dx - xhat * sum_dx_xhat));
		}
	}
	*elementwise += (uint64_t)rows * K * FLOPS_BN_BACKWARD;
}

/* Fold n batches' statistics into K running ones: stats[i] holds batch i's means (K), then
 * its biased variances (K), from count values per unit. */
static void fold_running(float *run_mean, float *run_var, int K, const float *const *stats,
			 const long *count, int n)
{
	for (int k = 0; k < K; k++) {
		double mean = 0.0, var = 0.0;
		int used = 0;
		for (int i = 0; i < n; i++) {
			if (count[i] < 1)
				continue;
			mean += stats[i][k];
			/* unbiased, as running variances conventionally are */
			long r = count[i];
			var += stats[i][K + k] * (r > 1 ? (double)r / (r - 1) : 1.0);
			used++;
		}
		if (!used)
			return;
		run_mean[k] = (1 - BN_MOMENTUM) * run_mean[k] + BN_MOMENTUM * (float)(mean / used);
		run_var[k] = (1 - BN_MOMENTUM) * run_var[k] + BN_MOMENTUM * (float)(var / used);
	}
}

void ae_bn_update(struct ae *m, struct ae_work *const *w, int n)
{
	const float *stats[64];
	long count[64];
	n = n < 64 ? n : 64;
	for (int l = 0; l < m->n_layers; l++) {
		if (!m->bn_at[l])
			continue;
		for (int i = 0; i < n; i++)
			stats[i] = w[i]->bn_stats[l], count[i] = w[i]->bn_rows;
		fold_running(m->bn_mean + m->bn_unit[l], m->bn_var + m->bn_unit[l],
			     m->width[l + 1], stats, count, n);
	}
	for (int j = 0; j < m->n_conv; j++) {
		if (!m->cbn_at[j])
			continue;
		const struct conv_shape *c = &m->conv[j];
		for (int i = 0; i < n; i++)
			stats[i] = w[i]->cstats[j],
			count[i] = (long)w[i]->bn_rows * c->h_out * c->w_out;
		fold_running(m->bn_mean + m->cbn_unit[j], m->bn_var + m->cbn_unit[j], c->c_out,
			     stats, count, n);
	}
}

/* ---- the work of one layer, on the pass's threads ----
 *
 * Every split here is fixed by the shapes (dense_pieces) or touches only independent
 * elements, and every sum runs in one fixed order, so w->threads changes the speed alone. */

/* Threads for n independent jobs of a pass. */
static int team(const struct ae_work *w, int n)
{
	return w->threads > 1 ? (w->threads < n ? w->threads : n) : 1;
}

/* Work smaller than these stays on the calling thread, where starting a team would cost more
 * than it saves: element-wise passes over fewer elements, a layer's dW beside its dX with fewer
 * multiply-adds each. Which thread does what never changes a result. */
#define PAR_MIN_ELEMENTS 16384
#define PAR_MIN_MNK (1 << 20)

static void layer_forward(const struct ae_work *w, int rows, int in, int out, const float *X,
			  const float *W, const float *b, float *Y, uint64_t *gemm)
{
	int pieces = dense_pieces(rows, in, out), t = team(w, pieces);
	uint64_t g = 0;
#pragma omp parallel for num_threads(t) if (t > 1) schedule(static) reduction(+ : g)
	for (int p = 0; p < pieces; p++)
		dense_forward_part(rows, in, out, X, W, b, Y, p, pieces, &g);
	*gemm += g;
}

/* dW and db, and dX unless it is NULL, as 2 * pieces independent jobs. */
static void layer_backward(const struct ae_work *w, int rows, int in, int out, const float *X,
			   const float *W, const float *dY, float *dX, float *dW, float *db,
			   uint64_t *gemm)
{
	int pieces = dense_pieces(rows, in, out), jobs = dX ? 2 * pieces : pieces;
	int t = (double)rows * in * out >= PAR_MIN_MNK ? team(w, jobs) : 1;
	uint64_t g = 0;
#pragma omp parallel for num_threads(t) if (t > 1) schedule(static) reduction(+ : g)
	for (int j = 0; j < jobs; j++)
		dense_backward_part(rows, in, out, X, W, dY, dX, dW, db, j, pieces, &g);
	*gemm += g;
}

/* The activation of a (rows, width) block in place: forward when y is NULL, else backward
 * on its gradient d from the activation's output y. */
static void act_rows(const struct ae_work *w, enum act a, int rows, int width, float *d,
		     const float *y, uint64_t *elementwise)
{
	size_t n = (size_t)rows * width;
	int parts = n >= PAR_MIN_ELEMENTS ? team(w, rows) : 1;
	uint64_t e = 0;
#pragma omp parallel for num_threads(parts) if (parts > 1) schedule(static) reduction(+ : e)
	for (int p = 0; p < parts; p++) {
		size_t lo = n * p / parts, hi = n * (p + 1) / parts;
		if (y)
			act_backward(a, hi - lo, y + lo, d + lo, &e);
		else
			act_forward(a, hi - lo, d + lo, &e);
	}
	*elementwise += e;
}

/* The training loss of (rows, width) outputs y against x and its gradient dy: each row's
 * sum on its own, then the rows' sums in row order. row_sum is (rows) scratch. */
static double loss_rows(const struct ae_work *w, enum loss loss, int rows, int width,
			const float *y, const float *x, float *dy, float scale, double *row_sum,
			uint64_t *elementwise)
{
	int parts = (size_t)rows * width >= PAR_MIN_ELEMENTS ? team(w, rows) : 1;
	uint64_t e = 0;
#pragma omp parallel for num_threads(parts) if (parts > 1) schedule(static) reduction(+ : e)
	for (int r = 0; r < rows; r++) {
		size_t at = (size_t)r * width;
		row_sum[r] = loss_forward_backward(loss, width, y + at, x + at, dy + at, scale, &e);
	}
	*elementwise += e;
	double sum = 0.0;
	for (int r = 0; r < rows; r++)
		sum += row_sum[r];
	return sum;
}

/* ---- convolutional layers ---- */

/* The activation of convolutional layer j: output_act on the reconstruction, else hidden_act */
static enum act conv_act(const struct ae *m, int j)
{
	return j == m->n_conv - 1 ? m->arch.output_act : m->arch.hidden_act;
}

static size_t conv_out_size(const struct ae *m, int j)
{
	const struct conv_shape *c = &m->conv[j];
	return (size_t)c->c_out * c->h_out * c->w_out;
}

/* Threads a convolutional pass may use: the workspace's, within what its scratch holds */
static int conv_threads(const struct ae_work *w)
{
	return w->threads < w->cthreads ? w->threads : w->cthreads;
}

/* Convolutional layers j0 .. j1-1 forward from `in`; returns the last output. */
static const float *conv_layers_forward(const struct ae *m, struct ae_work *w, const float *in,
					int rows, int j0, int j1, uint64_t *gemm,
					uint64_t *elementwise)
{
	for (int j = j0; j < j1; j++) {
		const struct conv_shape *c = &m->conv[j];
		float *out = w->cact[j];
		int hw = c->h_out * c->w_out, t = conv_threads(w);
		conv_forward(c, rows, in, m->params + m->cw_off[j], m->params + m->cb_off[j], out,
			     w->cscratch, t, gemm);
		if (m->cbn_at[j]) {
			const float *gamma = m->params + m->cbn_off[j], *beta = gamma + c->c_out;
			if (w->training) {
				bn2d_forward(rows, c->c_out, hw, out, gamma, beta, BN_EPS, w->cstats[j],
					     w->cstats[j] + c->c_out, w->cxhat[j], t, elementwise);
				w->bn_rows = rows;
			} else {
				bn2d_eval(rows, c->c_out, hw, out, gamma, beta, BN_EPS,
					  m->bn_mean + m->cbn_unit[j], m->bn_var + m->cbn_unit[j],
					  elementwise);
			}
		}
		act_rows(w, conv_act(m, j), rows, (int)conv_out_size(m, j), out, NULL, elementwise);
		in = out;
	}
	return in;
}

/* Back from delta, the gradient of convolutional layer j1's output, through layers j1 down to
 * j0, writing their parameters' gradients into grad; the gradient of layer j0's input is
 * computed when j0 > 0 or with_dx, and the buffer holding it returned. `input` is layer 0's
 * input, `mid` the decoder's first input (the dense layers' output). */
static float *conv_layers_backward(const struct ae *m, struct ae_work *w, const float *input,
				   const float *mid, int rows, int j1, int j0, int with_dx,
				   float *delta, float *next, float share, float *grad,
				   uint64_t *gemm, uint64_t *elementwise)
{
	int t = conv_threads(w), n = m->arch.conv;
	for (int j = j1; j >= j0; j--) {
		const struct conv_shape *c = &m->conv[j];
		act_rows(w, conv_act(m, j), rows, (int)conv_out_size(m, j), delta, w->cact[j],
			 elementwise);
		if (m->cbn_at[j]) {
			size_t g = m->cbn_off[j];
			const float *gamma = m->params + g;
			bn2d_backward(rows, c->c_out, c->h_out * c->w_out, delta, gamma, w->cxhat[j],
				      w->cstats[j] + c->c_out, BN_EPS, grad + g, grad + g + c->c_out,
				      t, elementwise);
			for (int o = 0; m->cbn_l1[j] != 0.0f && o < c->c_out; o++) {
				float sign = gamma[o] > 0 ? 1.0f : gamma[o] < 0 ? -1.0f : 0.0f;
				grad[g + o] += m->cbn_l1[j] * sign * share;
			}
		}
		const float *x = j == 0 ? input : j == n ? mid : w->cact[j - 1];
		conv_backward(c, rows, x, m->params + m->cw_off[j], delta,
			      j > j0 || with_dx ? next : NULL, grad + m->cw_off[j],
			      grad + m->cb_off[j], w->cscratch, t, gemm);
		float *tmp = delta;
		delta = next;
		next = tmp;
	}
	return delta;
}

/* layers first .. last-1 of the forward pass, from x (first = 0) or the output of layer
 * first-1 held in w; returns the last output */
static const float *forward_layers(const struct ae *m, struct ae_work *w, const float *x, int rows,
				   int first, int last, uint64_t *gemm, uint64_t *elementwise)
{
	const float *in = first == 0 ? x : first == m->latent_layer + 1 ? ae_codes(m, w)
									 : w->act[first];
	for (int l = first; l < last; l++) {
		float *out = w->act[l + 1];
		int n_out = ae_layer_out(m, l);
		const float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
		/* the layers into and out of the code sum in a fixed order, so that cutting
		 * silent latent units leaves every output bit-identical */
		if (l == m->latent_layer || l == m->latent_layer + 1)
			dense_forward_ordered(rows, m->width[l], n_out, in, W, b, out, w->wt,
					      (size_t)rows * n_out >= PAR_MIN_ELEMENTS
						      ? team(w, rows)
						      : 1,
					      gemm);
		else
			layer_forward(w, rows, m->width[l], n_out, in, W, b, out, gemm);
		if (m->bn_at[l])
			bn_forward(m, w, l, rows, out, elementwise);
		act_rows(w, ae_layer_act(m, l), rows, n_out, out, NULL, elementwise);
		if (l == m->latent_layer && m->arch.vae) {
			vae_sample(m, w, rows, out, elementwise);
			out = w->z;
		} else if (l == m->latent_layer) {
			apply_mask(m, rows, out, elementwise);
			apply_keep(m, w, rows, out, elementwise);
		}
		in = out;
	}
	return in;
}

const float *ae_forward_encoder(const struct ae *m, struct ae_work *w, const float *x, int rows,
				uint64_t *gemm, uint64_t *elementwise)
{
	if (m->n_conv)
		x = conv_layers_forward(m, w, x, rows, 0, m->arch.conv, gemm, elementwise);
	return forward_layers(m, w, x, rows, 0, m->latent_layer + 1, gemm, elementwise);
}

const float *ae_forward_decoder(const struct ae *m, struct ae_work *w, int rows, uint64_t *gemm,
				uint64_t *elementwise)
{
	const float *y = forward_layers(m, w, NULL, rows, m->latent_layer + 1, m->n_layers, gemm,
					elementwise);
	if (m->n_conv)
		y = conv_layers_forward(m, w, y, rows, m->arch.conv, m->n_conv, gemm, elementwise);
	return y;
}

const float *ae_forward(const struct ae *m, struct ae_work *w, const float *x, int rows,
			uint64_t *gemm, uint64_t *elementwise)
{
	ae_forward_encoder(m, w, x, rows, gemm, elementwise);
	return ae_forward_decoder(m, w, rows, gemm, elementwise);
}

/* The reconstruction of the last forward pass (rows, input_dim) */
static const float *output_of(const struct ae *m, const struct ae_work *w)
{
	return m->n_conv ? w->cact[m->n_conv - 1] : w->act[m->n_layers];
}

/* The dense layers' input: the data, or the encoder's convolutional blocks' output */
static const float *dense_input(const struct ae *m, const struct ae_work *w, const float *x)
{
	return m->n_conv ? w->cact[m->arch.conv - 1] : x;
}

const float *ae_codes(const struct ae *m, const struct ae_work *w)
{
	return m->arch.vae ? w->z : w->act[m->latent_layer + 1];
}

/* Back-propagate delta (the gradient of layer `from`'s output) through layers from down to
 * to, writing their parameters' gradients into grad; delta and next are the ping-pong
 * buffers. Returns the buffer holding the gradient of layer to's input (to > 0). */
static float *backward_layers(const struct ae *m, struct ae_work *w, const float *x, int rows,
			      int from, int to, float *delta, float *next, float scale,
			      const struct latent_penalty *penalty, float penalty_scale,
			      double *penalty_sum, float *grad, uint64_t *gemm,
			      uint64_t *elementwise)
{
	for (int l = from; l >= to; l--) {
		int in = m->width[l], out = ae_layer_out(m, l);
		const float *y = w->act[l + 1];
		if (l == m->latent_layer && m->arch.vae) {
			/* delta holds dz; the KL gradient joins on the way to (mu, lv) */
			double kl = vae_backward(m, w, rows, delta, next, m->vae_beta * scale,
						 elementwise);
			if (penalty_sum)
				*penalty_sum = kl;
			float *t = delta;
			delta = next;
			next = t;
		} else if (l == m->latent_layer) {
			if (penalty && penalty->apply) {
				double p = penalty->apply(penalty->ctx, w->chunk, rows, out, y, delta,
							  penalty_scale, elementwise);
				if (penalty_sum)
					*penalty_sum = p;
			}
			apply_mask(m, rows, delta, elementwise);
			apply_keep(m, w, rows, delta, elementwise);
		}
		act_rows(w, ae_layer_act(m, l), rows, out, delta, y, elementwise);
		if (m->bn_at[l])
			bn_backward(m, w, l, rows, delta, grad, (float)rows * penalty_scale,
				    elementwise);
		const float *input = l == 0				       ? x
				     : m->arch.vae && l == m->latent_layer + 1 ? w->z
									       : w->act[l];
		/* the first layer's dX only when convolutions lie before it */
		layer_backward(w, rows, in, out, input, m->params + m->w_off[l], delta,
			       l == 0 && !m->n_conv ? NULL : next, grad + m->w_off[l],
			       grad + m->b_off[l], gemm);
		float *t = delta;
		delta = next;
		next = t;
	}
	return delta;
}

double ae_backward(const struct ae *m, struct ae_work *w, const float *x, int rows, enum loss loss,
		   float scale, const struct latent_penalty *penalty, float penalty_scale,
		   double *penalty_sum, float *grad, uint64_t *gemm, uint64_t *elementwise)
{
	int L = m->n_layers, D = m->arch.input_dim, n = m->arch.conv;
	float share = (float)rows * penalty_scale;
	double loss_sum = loss_rows(w, loss, rows, D, output_of(m, w), x, w->delta[0], scale,
				    w->row_sum, elementwise);
	if (penalty_sum)
		*penalty_sum = 0.0;
	float *d = w->delta[0];
	if (m->n_conv)
		d = conv_layers_backward(m, w, x, w->act[L], rows, m->n_conv - 1, n, 1, d,
					 w->delta[1], share, grad, gemm, elementwise);
	d = backward_layers(m, w, dense_input(m, w, x), rows, L - 1, 0, d,
			    d == w->delta[0] ? w->delta[1] : w->delta[0], scale, penalty,
			    penalty_scale, penalty_sum, grad, gemm, elementwise);
	if (m->n_conv)
		conv_layers_backward(m, w, x, NULL, rows, n - 1, 0, 0, d,
				     d == w->delta[0] ? w->delta[1] : w->delta[0], share, grad, gemm,
				     elementwise);
	return loss_sum;
}

double ae_backward_nested(const struct ae *m, struct ae_work *w, const float *x, int rows,
			  enum loss loss, float scale, const int *prefix, int n, float *grad,
			  uint64_t *gemm, uint64_t *elementwise)
{
	int L = m->n_layers, D = m->width[L], K = m->arch.latent, c = m->latent_layer;
	size_t hk = (size_t)rows * K, dec = m->w_off[c + 1];
	if (!w->code_copy) {
		w->code_copy = malloc(sizeof(float) * (size_t)w->max_rows * K);
		w->dcode = malloc(sizeof(float) * (size_t)w->max_rows * K);
		w->grad_prefix = malloc(sizeof(float) * m->n_params);
		if (!w->code_copy || !w->dcode || !w->grad_prefix)
			return NAN;
	}
	float *h = w->act[c + 1];
	memcpy(w->code_copy, h, sizeof(float) * hk);
	memset(w->dcode, 0, sizeof(float) * hk);
	double total = 0.0;
	int first = 1;
	/* the full prefix first, while the forward pass's decoder activations are its own */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++) {
			int p = prefix[i] < K ? prefix[i] : K;
			if ((pass == 0) != (p == K))
				continue;
			if (pass == 1) {
				for (int r = 0; r < rows; r++)
					for (int k = 0; k < K; k++)
						h[(size_t)r * K + k] =
							k < p ? w->code_copy[(size_t)r * K + k] : 0.0f;
				*elementwise += hk * FLOPS_MASK;
				ae_forward_decoder(m, w, rows, gemm, elementwise);
			}
			total += loss_rows(w, loss, rows, D, w->act[L], x, w->delta[0], scale,
					   w->row_sum, elementwise);
			const float *dh = backward_layers(m, w, x, rows, L - 1, c + 1, w->delta[0],
							  w->delta[1], scale, NULL, 0.0f, NULL,
							  w->grad_prefix, gemm, elementwise);
			/* units past the prefix were zeroed: no gradient reaches them */
			for (int r = 0; r < rows; r++)
				for (int k = 0; k < p; k++)
					w->dcode[(size_t)r * K + k] += dh[(size_t)r * K + k];
			float *g = grad + dec;
			const float *gp = w->grad_prefix + dec;
			if (first)
				memcpy(g, gp, sizeof(float) * (m->n_params - dec));
			else
				for (size_t j = 0; j < m->n_params - dec; j++)
					g[j] += gp[j];
			*elementwise += hk + (first ? 0 : m->n_params - dec);
			first = 0;
		}
	/* the encoder, once, from the code it produced and the summed gradient */
	memcpy(h, w->code_copy, sizeof(float) * hk);
	memcpy(w->delta[0], w->dcode, sizeof(float) * hk);
	backward_layers(m, w, x, rows, c, 0, w->delta[0], w->delta[1], scale, NULL, 0.0f, NULL,
			grad, gemm, elementwise);
	return total;
}
