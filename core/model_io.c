/* model_io.c: autoencoders to and from .npz files (npz.h), with their data's scaling. */
#include "model_io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "npz.h"

#define MODEL_MAGIC "dsmodel1"       /* a dense model: the architecture in ARCH_INTS */
#define MODEL_MAGIC_CONV "dsmodel2"  /* a convolutional one: CONV_INTS more */
#define ARCH_INTS (2 * AE_MAX_HIDDEN + 10) /* the fields arch_pack writes for a dense arch */
#define CONV_INTS (AE_MAX_CONV + 5)        /* conv, channels, kernel, image */

/* the record's magic and architecture ints for arch */
static const char *magic_of(const struct ae_arch *a, int *ints)
{
	*ints = a->conv ? ARCH_INTS + CONV_INTS : ARCH_INTS;
	return a->conv ? MODEL_MAGIC_CONV : MODEL_MAGIC;
}

/* The architecture as int32 values, in a fixed order (the record is not a struct dump). */
static void arch_pack(const struct ae_arch *a, int32_t *v)
{
	int i = 0;
	v[i++] = a->input_dim;
	v[i++] = a->n_hidden;
	for (int h = 0; h < AE_MAX_HIDDEN; h++)
		v[i++] = a->hidden[h];
	v[i++] = a->latent;
	v[i++] = (int32_t)a->hidden_act;
	v[i++] = (int32_t)a->latent_act;
	v[i++] = (int32_t)a->output_act;
	v[i++] = a->latent_bn;
	v[i++] = a->hidden_bn;
	for (int h = 0; h < AE_MAX_HIDDEN; h++)
		v[i++] = a->dec_hidden[h];
	v[i++] = a->vae;
	v[i++] = a->linear;
	v[i++] = a->conv;
	for (int c = 0; c < AE_MAX_CONV; c++)
		v[i++] = a->channels[c];
	v[i++] = a->kernel;
	for (int c = 0; c < 3; c++)
		v[i++] = a->image[c];
}

static void arch_unpack(const int32_t *v, struct ae_arch *a)
{
	int i = 0;
	memset(a, 0, sizeof(*a));
	a->input_dim = v[i++];
	a->n_hidden = v[i++];
	for (int h = 0; h < AE_MAX_HIDDEN; h++)
		a->hidden[h] = v[i++];
	a->latent = v[i++];
	a->hidden_act = (enum act)v[i++];
	a->latent_act = (enum act)v[i++];
	a->output_act = (enum act)v[i++];
	a->latent_bn = v[i++];
	a->hidden_bn = v[i++];
	for (int h = 0; h < AE_MAX_HIDDEN; h++)
		a->dec_hidden[h] = v[i++];
	a->vae = v[i++];
	a->linear = v[i++];
	a->conv = v[i++]; /* 0 from here on in a dense model's record */
	for (int c = 0; c < AE_MAX_CONV; c++)
		a->channels[c] = v[i++];
	a->kernel = v[i++];
	for (int c = 0; c < 3; c++)
		a->image[c] = v[i++];
}

/* model.bin: magic, the architecture, n_params, n_bn (uint64), vae_beta, then params,
 * bn_mean, bn_var (n_bn each) and latent_mask (K) as float32 */
static unsigned char *record(const struct ae *m, size_t *size)
{
	size_t K = (size_t)m->arch.latent, floats = 1 + m->n_params + 2 * m->n_bn + K;
	int ints;
	const char *magic = magic_of(&m->arch, &ints);
	*size = 8 + sizeof(int32_t) * ints + 2 * sizeof(uint64_t) + sizeof(float) * floats;
	unsigned char *r = malloc(*size), *p = r;
	if (!r)
		return NULL;
	int32_t arch[ARCH_INTS + CONV_INTS];
	arch_pack(&m->arch, arch);
	uint64_t counts[2] = { m->n_params, m->n_bn };
	memcpy(p, magic, 8);
	p += 8;
	memcpy(p, arch, sizeof(int32_t) * ints);
	p += sizeof(int32_t) * ints;
	memcpy(p, counts, sizeof(counts));
	p += sizeof(counts);
	memcpy(p, &m->vae_beta, sizeof(float));
	p += sizeof(float);
	memcpy(p, m->params, sizeof(float) * m->n_params);
	p += sizeof(float) * m->n_params;
	memcpy(p, m->bn_mean, sizeof(float) * m->n_bn);
	p += sizeof(float) * m->n_bn;
	memcpy(p, m->bn_var, sizeof(float) * m->n_bn);
	p += sizeof(float) * m->n_bn;
	memcpy(p, m->latent_mask, sizeof(float) * K);
	return r;
}

/* metadata.json: what a reader without dimsearch needs to run the model */
static void metadata(const struct ae *m, const struct model_scaling *s, const char *about,
		     char *out, size_t size)
{
	size_t n = 0;
#define PUT(...) (n += n < size ? (size_t)snprintf(out + n, size - n, __VA_ARGS__) : 0)
	PUT("{\"format\":\"dimsearch autoencoder\",\"version\":1,\"input_dim\":%d,\"latent\":%d,"
	    "\"n_layers\":%d,\"latent_layer\":%d,\"widths\":[",
	    m->arch.input_dim, m->arch.latent, m->n_layers, m->latent_layer);
	for (int l = 0; l <= m->n_layers; l++)
		PUT("%s%d", l ? "," : "", m->width[l]);
	PUT("],\"activations\":[");
	for (int l = 0; l < m->n_layers; l++)
		PUT("%s\"%s\"", l ? "," : "", act_name(ae_layer_act(m, l)));
	PUT("],\"batch_norm\":[");
	for (int l = 0, first = 1; l < m->n_layers; l++)
		if (m->bn_at[l]) {
			PUT("%s%d", first ? "" : ",", l);
			first = 0;
		}
	PUT("],\"vae\":%d,\"scale\":\"%s\",", m->arch.vae,
	    data_scale_name(s ? s->scale : SCALE_NONE));
	if (m->n_conv) {
		const int *im = m->arch.image;
		PUT("\"image\":[%d,%d,%d],\"conv\":[", im[0], im[1], im[2]);
		for (int j = 0; j < m->n_conv; j++) {
			const struct conv_shape *c = &m->conv[j];
			PUT("%s{\"name\":\"C%d\",\"transposed\":%d,\"in_channels\":%d,"
			    "\"out_channels\":%d,\"kernel\":%d,\"stride\":%d,\"padding\":%d,"
			    "\"output_padding\":%d,\"batch_norm\":%d,\"activation\":\"%s\"}",
			    j ? "," : "", j, c->transposed, c->c_in, c->c_out, c->k, c->stride, c->pad,
			    c->out_pad, m->cbn_at[j], act_name(j == m->n_conv - 1 ? m->arch.output_act
										: m->arch.hidden_act));
		}
		PUT("],\"conv_forward\":\"the first %d conv layers (PyTorch's Conv2d, weights "
		    "CW_j, bias Cb_j, then batch norm with Cgamma_j, Cbeta_j, Crunning_mean_j, "
		    "Crunning_var_j, then the activation) read the image reshaped to (C, H, W); "
		    "their output, flattened, is the dense layers' input; the dense layers' output, "
		    "reshaped, goes through the rest (ConvTranspose2d) to the reconstruction\",",
		    m->arch.conv);
	}
	PUT("\"forward\":\"x = (x - scale_shift) / scale_spread when scaled; for each layer l, "
	    "h = act_l(h @ W_l.T + b_l) (with batch norm: gamma_l * (z - running_mean_l) / "
	    "sqrt(running_var_l + 1e-5) + beta_l before act_l); the code is layer latent_layer's "
	    "output times latent_mask (a VAE's first K outputs, mu)\"");
	if (about && *about)
		PUT(",%s", about);
	PUT("}");
#undef PUT
}

int ae_save_npz(const struct ae *m, const struct model_scaling *s, const char *about,
		const char *path)
{
	char *meta = malloc(8192);
	size_t rec_size;
	unsigned char *rec = record(m, &rec_size);
	if (!meta || !rec) {
		free(meta);
		free(rec);
		return ds_fail("out of memory saving %s", path);
	}
	metadata(m, s, about, meta, 8192);
	struct npz_writer *z = npz_create(path);
	int rc = z ? 0 : -1;
	char name[32];
	for (int l = 0; l < m->n_layers && !rc; l++) {
		size_t out = (size_t)ae_layer_out(m, l), in = (size_t)m->width[l];
		size_t wshape[2] = { out, in };
		snprintf(name, sizeof(name), "W%d", l);
		rc = npz_add_floats(z, name, m->params + m->w_off[l], 2, wshape);
		snprintf(name, sizeof(name), "b%d", l);
		rc = rc || npz_add_floats(z, name, m->params + m->b_off[l], 1, &out);
		if (rc || !m->bn_at[l])
			continue;
		size_t units = (size_t)m->width[l + 1];
		const float *bn[4] = { m->params + m->bn_off[l], m->params + m->bn_off[l] + units,
				       m->bn_mean + m->bn_unit[l], m->bn_var + m->bn_unit[l] };
		const char *what[4] = { "gamma", "beta", "running_mean", "running_var" };
		for (int i = 0; i < 4 && !rc; i++) {
			snprintf(name, sizeof(name), "%s%d", what[i], l);
			rc = npz_add_floats(z, name, bn[i], 1, &units);
		}
	}
	for (int j = 0; j < m->n_conv && !rc; j++) {
		const struct conv_shape *c = &m->conv[j];
		size_t wshape[4] = { (size_t)(c->transposed ? c->c_in : c->c_out),
				     (size_t)(c->transposed ? c->c_out : c->c_in), (size_t)c->k,
				     (size_t)c->k };
		size_t ch = (size_t)c->c_out;
		snprintf(name, sizeof(name), "CW%d", j);
		rc = npz_add_floats(z, name, m->params + m->cw_off[j], 4, wshape);
		snprintf(name, sizeof(name), "Cb%d", j);
		rc = rc || npz_add_floats(z, name, m->params + m->cb_off[j], 1, &ch);
		const float *bn[4] = { m->params + m->cbn_off[j], m->params + m->cbn_off[j] + ch,
				       m->bn_mean + m->cbn_unit[j], m->bn_var + m->cbn_unit[j] };
		const char *what[4] = { "Cgamma", "Cbeta", "Crunning_mean", "Crunning_var" };
		for (int i = 0; m->cbn_at[j] && i < 4 && !rc; i++) {
			snprintf(name, sizeof(name), "%s%d", what[i], j);
			rc = npz_add_floats(z, name, bn[i], 1, &ch);
		}
	}
	size_t K = (size_t)m->arch.latent, D = (size_t)m->arch.input_dim;
	rc = rc || npz_add_floats(z, "latent_mask", m->latent_mask, 1, &K);
	if (!rc && s && s->scale != SCALE_NONE)
		rc = npz_add_floats(z, "scale_shift", s->shift, 1, &D) ||
		     npz_add_floats(z, "scale_spread", s->spread, 1, &D);
	rc = rc || npz_add_bytes(z, "metadata.json", meta, strlen(meta)) ||
	     npz_add_bytes(z, "model.bin", rec, rec_size);
	if (z && npz_close(z))
		rc = -1;
	free(meta);
	free(rec);
	return rc;
}

void model_scaling_free(struct model_scaling *s)
{
	free(s->shift);
	free(s->spread);
	memset(s, 0, sizeof(*s));
}

/* The scaling from metadata.json's "scale" and the arrays scale_shift, scale_spread. */
static int read_scaling(const struct npz *z, const char *meta, size_t meta_size, int dim,
			struct model_scaling *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->dim = dim;
	char text[64] = "";
	const char *at = meta ? memmem(meta, meta_size, "\"scale\":\"", 9) : NULL;
	if (at)
		snprintf(text, sizeof(text), "%.*s", (int)strcspn(at + 9, "\""), at + 9);
	if (data_scale_parse(text, &s->scale))
		return ds_fail("%s: metadata.json names no scaling dimsearch knows ('%s')", path,
			       text);
	if (s->scale == SCALE_NONE)
		return 0;
	size_t n_shift, n_spread;
	const unsigned char *shift = npz_floats(z, "scale_shift", &n_shift);
	const unsigned char *spread = npz_floats(z, "scale_spread", &n_spread);
	if (!shift || !spread || n_shift != (size_t)dim || n_spread != (size_t)dim)
		return ds_fail("%s: scaled by %s but without %d values of scale_shift and "
			       "scale_spread",
			       path, text, dim);
	s->shift = malloc(sizeof(float) * (size_t)dim);
	s->spread = malloc(sizeof(float) * (size_t)dim);
	if (!s->shift || !s->spread) {
		model_scaling_free(s);
		return ds_fail("out of memory reading %s", path);
	}
	memcpy(s->shift, shift, sizeof(float) * (size_t)dim);
	memcpy(s->spread, spread, sizeof(float) * (size_t)dim);
	return 0;
}

struct ae *ae_load_npz(const char *path, struct model_scaling *s, char *meta, size_t size)
{
	struct npz z;
	memset(s, 0, sizeof(*s));
	if (npz_open(&z, path))
		return NULL;
	size_t rec_size, meta_size = 0;
	const unsigned char *rec = npz_find(&z, "model.bin", &rec_size);
	const char *json = (const char *)npz_find(&z, "metadata.json", &meta_size);
	int conv = rec && rec_size >= 8 && !memcmp(rec, MODEL_MAGIC_CONV, 8);
	size_t ints = conv ? ARCH_INTS + CONV_INTS : ARCH_INTS;
	size_t head = 8 + sizeof(int32_t) * ints + 2 * sizeof(uint64_t) + sizeof(float);
	struct ae *m = NULL;
	if (!rec || rec_size < head || (!conv && memcmp(rec, MODEL_MAGIC, 8))) {
		ds_fail("%s: not a model dimsearch saved (no model.bin with magic %s or %s)", path,
			MODEL_MAGIC, MODEL_MAGIC_CONV);
		goto done;
	}
	int32_t arch_v[ARCH_INTS + CONV_INTS] = { 0 };
	uint64_t counts[2];
	memcpy(arch_v, rec + 8, sizeof(int32_t) * ints);
	memcpy(counts, rec + 8 + sizeof(int32_t) * ints, sizeof(counts));
	struct ae_arch arch;
	arch_unpack(arch_v, &arch);
	m = ae_new(&arch);
	if (!m) {
		ds_fail("%s: its architecture does not build: %s", path, ds_errmsg());
		goto done;
	}
	size_t K = (size_t)arch.latent;
	if (counts[0] != m->n_params || counts[1] != m->n_bn ||
	    rec_size != head + sizeof(float) * (m->n_params + 2 * m->n_bn + K)) {
		ds_fail("%s: model.bin holds %llu parameters for an architecture of %zu: the file "
			"is corrupt or from another version",
			path, (unsigned long long)counts[0], m->n_params);
		ae_delete(m);
		m = NULL;
		goto done;
	}
	const unsigned char *p = rec + head - sizeof(float);
	memcpy(&m->vae_beta, p, sizeof(float));
	p += sizeof(float);
	memcpy(m->params, p, sizeof(float) * m->n_params);
	p += sizeof(float) * m->n_params;
	memcpy(m->bn_mean, p, sizeof(float) * m->n_bn);
	p += sizeof(float) * m->n_bn;
	memcpy(m->bn_var, p, sizeof(float) * m->n_bn);
	p += sizeof(float) * m->n_bn;
	memcpy(m->latent_mask, p, sizeof(float) * K);
	if (read_scaling(&z, json, meta_size, arch.input_dim, s, path)) {
		ae_delete(m);
		m = NULL;
		goto done;
	}
	if (meta && size)
		snprintf(meta, size, "%.*s", (int)(meta_size < size ? meta_size : size - 1),
			 json ? json : "");
done:
	npz_free(&z);
	return m;
}
