/* spectral.c: spectral normalisation as a reparametrisation (spectral.h). */
#include "spectral.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define SPECTRAL_NORM_EPS 1e-12 /* PyTorch's floor on a vector's norm when normalising */

struct ae_spectral {
	int first, last;                /* layers first..last-1 are normalised */
	float *V[AE_MAX_LAYERS];        /* (out, in) the free matrices */
	double *u[AE_MAX_LAYERS];       /* (out) */
	double *v[AE_MAX_LAYERS];       /* (in) */
	double sigma[AE_MAX_LAYERS];
};

/* x (n) divided by its norm, floored at SPECTRAL_NORM_EPS; returns the norm (3n FLOPs). */
static double normalise(double *x, int n)
{
	double norm = 0.0;
	for (int i = 0; i < n; i++)
		norm += x[i] * x[i];
	norm = sqrt(norm);
	double d = fmax(norm, SPECTRAL_NORM_EPS);
	for (int i = 0; i < n; i++)
		x[i] /= d;
	return norm;
}

double spectral_iterate(const float *V, int out, int in, double *u, double *v, uint64_t *flops)
{
	for (int i = 0; i < in; i++)
		v[i] = 0.0;
	for (int j = 0; j < out; j++) {
		const float *row = V + (size_t)j * in;
		double uj = u[j];
		for (int i = 0; i < in; i++)
			v[i] += (double)row[i] * uj;
	}
	normalise(v, in);
	for (int j = 0; j < out; j++) {
		const float *row = V + (size_t)j * in;
		double s = 0.0;
		for (int i = 0; i < in; i++)
			s += (double)row[i] * v[i];
		u[j] = s;
	}
	double sigma = normalise(u, out);
	/* V^T u and V v (2 out in each), two norms (2 in, 2 out) and the divisions */
	*flops += 4ull * out * in + 3ull * in + 3ull * out;
	return sigma;
}

/* params' W = V / sigma for layer l. */
static void write_w(struct ae *m, int l, uint64_t *flops)
{
	struct ae_spectral *s = m->sn;
	size_t n = (size_t)m->width[l] * m->width[l + 1];
	float *W = m->params + m->w_off[l];
	double inv = s->sigma[l] > 0 ? 1.0 / s->sigma[l] : 1.0;
	for (size_t p = 0; p < n; p++)
		W[p] = (float)((double)s->V[l][p] * inv);
	*flops += n + 1;
}

int ae_spectral_on(struct ae *m, int first, int last, struct rng *r, uint64_t *flops)
{
	if (m->sn)
		ae_spectral_off(m);
	if (first < 0 || last > m->n_layers || first >= last)
		return ds_fail("spectral normalisation of layers %d..%d of a %d-layer model", first,
			       last - 1, m->n_layers);
	struct ae_spectral *s = calloc(1, sizeof(*s));
	if (!s)
		return ds_fail("out of memory for spectral normalisation");
	s->first = first;
	s->last = last;
	m->sn = s;
	for (int l = first; l < last; l++) {
		int in = m->width[l], out = m->width[l + 1];
		s->V[l] = malloc(sizeof(float) * (size_t)in * out);
		s->u[l] = malloc(sizeof(double) * (size_t)out);
		s->v[l] = malloc(sizeof(double) * (size_t)in);
		if (!s->V[l] || !s->u[l] || !s->v[l]) {
			ae_spectral_off(m);
			return ds_fail("out of memory for spectral normalisation");
		}
		memcpy(s->V[l], m->params + m->w_off[l], sizeof(float) * (size_t)in * out);
		for (int j = 0; j < out; j++)
			s->u[l][j] = rng_normal(r);
		normalise(s->u[l], out);
		for (int it = 0; it < SPECTRAL_INIT_ITERATIONS; it++)
			s->sigma[l] = spectral_iterate(s->V[l], out, in, s->u[l], s->v[l], flops);
		write_w(m, l, flops);
	}
	return 0;
}

void ae_spectral_off(struct ae *m)
{
	struct ae_spectral *s = m->sn;
	if (!s)
		return;
	for (int l = 0; l < AE_MAX_LAYERS; l++) {
		free(s->V[l]);
		free(s->u[l]);
		free(s->v[l]);
	}
	free(s);
	m->sn = NULL;
}

double ae_spectral_sigma(const struct ae *m, int l, const double **u, const double **v)
{
	const struct ae_spectral *s = m->sn;
	int on = s && l >= s->first && l < s->last;
	if (u)
		*u = on ? s->u[l] : NULL;
	if (v)
		*v = on ? s->v[l] : NULL;
	return on ? s->sigma[l] : 0.0;
}

void ae_spectral_grad(struct ae *m, uint64_t *flops)
{
	struct ae_spectral *s = m->sn;
	if (!s)
		return;
	for (int l = s->first; l < s->last; l++) {
		int in = m->width[l], out = m->width[l + 1];
		float *G = m->grad + m->w_off[l], *W = m->params + m->w_off[l];
		const double *u = s->u[l], *v = s->v[l];
		double dot = 0.0;
		for (size_t p = 0; p < (size_t)in * out; p++)
			dot += (double)G[p] * W[p];
		double inv = s->sigma[l] > 0 ? 1.0 / s->sigma[l] : 1.0;
		for (int j = 0; j < out; j++) {
			float *g = G + (size_t)j * in;
			double cu = dot * u[j];
			for (int i = 0; i < in; i++)
				g[i] = (float)(((double)g[i] - cu * v[i]) * inv);
		}
		memcpy(W, s->V[l], sizeof(float) * (size_t)in * out);
		/* <G, W> (2 out in), c u_j (out), each element: product, difference, scale (3) */
		*flops += 5ull * out * in + out;
	}
}

void ae_spectral_renorm(struct ae *m, uint64_t *flops)
{
	struct ae_spectral *s = m->sn;
	if (!s)
		return;
	for (int l = s->first; l < s->last; l++) {
		int in = m->width[l], out = m->width[l + 1];
		memcpy(s->V[l], m->params + m->w_off[l], sizeof(float) * (size_t)in * out);
		s->sigma[l] = spectral_iterate(s->V[l], out, in, s->u[l], s->v[l], flops);
		write_w(m, l, flops);
	}
}

void ae_spectral_zero_column(struct ae *m, int l, int k, uint64_t *flops)
{
	struct ae_spectral *s = m->sn;
	if (!s || l < s->first || l >= s->last)
		return;
	int in = m->width[l], out = m->width[l + 1];
	for (int j = 0; j < out; j++)
		s->V[l][(size_t)j * in + k] = 0.0f;
	/* the column may have carried the top direction, which u then points along: nudge u
	 * off it and iterate as at the start */
	double *u = s->u[l], nudge = 1e-3 / sqrt((double)out);
	for (int j = 0; j < out; j++)
		u[j] += nudge;
	normalise(u, out);
	*flops += 4ull * out + 1;
	for (int it = 0; it < SPECTRAL_INIT_ITERATIONS; it++)
		s->sigma[l] = spectral_iterate(s->V[l], out, in, u, s->v[l], flops);
	write_w(m, l, flops);
}
