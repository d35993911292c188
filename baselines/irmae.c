/* irmae.c: the Implicit Rank-Minimizing Autoencoder (Jing, Zbontar and LeCun, NeurIPS 2020),
 * a single-run peer of SOSAE.
 *
 * One training at k_max with l extra K x K layers without activation between the encoder and
 * the code (the code linear, as theirs): gradient descent through the product of matrices
 * drives the code's covariance towards low rank. The decision: the eigenvalues of the
 * validation codes' covariance (its singular values, normalised by the largest, stored as the
 * spectrum), and the width chosen by the grid's rule (grid.select) over the validation MSE of
 * the codes projected on the top r principal directions, r = 1..k_max (charged). The
 * delivered model folds the l matrices and the rank-r projection into the encoder's last and
 * the decoder's first layer, a plain r-wide autoencoder, fine-tuned for delivery.epochs like
 * the ordering methods'. */
#include "irmae.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../search/grid.h"
#include "idest_impl.h"

#define IR(field) offsetof(struct irmae_settings, field)

static const struct setting irmae_keys[] = {
	{ .name = "irmae.layers", .type = SETTING_INT, .offset = IR(layers), .lo = 0,
	  .hi = AE_MAX_LINEAR, .def = "8",
	  .help = "the K x K layers without activation before the code (0: a plain linear code)" },
	RUN_BUDGET_KEYS("irmae", IR(run), "0", "0", "0"),
};

const struct settings irmae_settings = { "IRMAE", irmae_keys, SETTINGS_COUNT(irmae_keys),
					 sizeof(struct irmae_settings), NULL };

int irmae_spectrum(const float *codes, size_t n, int K, double *mean, double *vec, double *val,
		   uint64_t *flops)
{
	if (n < 2)
		return ds_fail("the spectrum needs at least 2 codes (got %zu)", n);
	double *a = calloc((size_t)K * K, sizeof(double)), *w = malloc(sizeof(double) * K);
	if (!a || !w) {
		free(a);
		free(w);
		return ds_fail("out of memory for a %d x %d covariance", K, K);
	}
	for (int k = 0; k < K; k++) {
		double s = 0;
		for (size_t r = 0; r < n; r++)
			s += codes[r * K + k];
		mean[k] = s / (double)n;
	}
	for (size_t r = 0; r < n; r++)
		for (int i = 0; i < K; i++) {
			double di = codes[r * K + i] - mean[i];
			for (int j = i; j < K; j++)
				a[(size_t)i * K + j] += di * (codes[r * K + j] - mean[j]);
		}
	for (int i = 0; i < K; i++)
		for (int j = i; j < K; j++)
			a[(size_t)j * K + i] = a[(size_t)i * K + j] /= (double)(n - 1);
	*flops += 2ull * n * K + (uint64_t)n * K * (K + 1) + EIGENVECTOR_FLOPS(K);
	int rc = symmetric_eigen(a, K, w, 1);
	if (!rc)
		for (int j = 0; j < K; j++) {
			val[j] = w[K - 1 - j];
			memcpy(vec + (size_t)j * K, a + (size_t)(K - 1 - j) * K, sizeof(double) * K);
		}
	free(a);
	free(w);
	return rc ? ds_fail("the eigen-decomposition of the codes' covariance failed") : 0;
}

struct ae *irmae_fold(const struct ae *m, const double *mean, const double *vec, int r)
{
	int K = m->arch.latent, lin = m->arch.linear, e0 = m->latent_layer - lin;
	int in = m->width[e0], out = m->width[m->latent_layer + 2];
	if (m->arch.vae || m->n_bn || m->arch.latent_act != ACT_IDENTITY || r < 1 || r > K) {
		ds_fail("cannot fold a %s code into %d directions of %d",
			m->arch.latent_act != ACT_IDENTITY ? "non-linear" : "VAE or batch-norm", r,
			K);
		return NULL;
	}
	struct ae_arch arch = m->arch;
	arch.linear = 0;
	arch.latent = r;
	struct ae *f = ae_new(&arch);
	double *A = malloc(sizeof(double) * (size_t)K * in), *c = malloc(sizeof(double) * K);
	double *A2 = malloc(sizeof(double) * (size_t)K * in), *c2 = malloc(sizeof(double) * K);
	if (!f || !A || !c || !A2 || !c2) {
		ae_delete(f);
		f = NULL;
		ds_fail("out of memory folding a model");
		goto done;
	}
	/* the layers before the encoder's last, and after the decoder's first, as they are */
	for (int l = 0; l < e0; l++)
		memcpy(f->params + f->w_off[l], m->params + m->w_off[l],
		       sizeof(float) * ((size_t)m->width[l] * m->width[l + 1] + m->width[l + 1]));
	for (int l = m->latent_layer + 2; l < m->n_layers; l++)
		memcpy(f->params + f->w_off[l - lin], m->params + m->w_off[l],
		       sizeof(float) * ((size_t)m->width[l] * m->width[l + 1] + m->width[l + 1]));
	/* z = A h + c: the encoder's last layer through the l linear ones, the mask last */
	const float *W = m->params + m->w_off[e0], *b = m->params + m->b_off[e0];
	for (size_t i = 0; i < (size_t)K * in; i++)
		A[i] = W[i];
	for (int k = 0; k < K; k++)
		c[k] = b[k];
	for (int l = e0 + 1; l <= m->latent_layer; l++) {
		W = m->params + m->w_off[l];
		b = m->params + m->b_off[l];
		for (int j = 0; j < K; j++) {
			double cj = b[j];
			for (int i = 0; i < in; i++)
				A2[(size_t)j * in + i] = 0;
			for (int k = 0; k < K; k++) {
				double wjk = W[(size_t)j * K + k];
				cj += wjk * c[k];
				for (int i = 0; i < in; i++)
					A2[(size_t)j * in + i] += wjk * A[(size_t)k * in + i];
			}
			c2[j] = cj;
		}
		memcpy(A, A2, sizeof(double) * (size_t)K * in);
		memcpy(c, c2, sizeof(double) * K);
	}
	for (int k = 0; k < K; k++) {
		for (int i = 0; i < in; i++)
			A[(size_t)k * in + i] *= m->latent_mask[k];
		c[k] *= m->latent_mask[k];
	}
	/* code_j = vec_j . (z - mean) */
	float *We = f->params + f->w_off[e0], *be = f->params + f->b_off[e0];
	for (int j = 0; j < r; j++) {
		const double *v = vec + (size_t)j * K;
		double bj = 0;
		for (int k = 0; k < K; k++)
			bj += v[k] * (c[k] - mean[k]);
		be[j] = (float)bj;
		for (int i = 0; i < in; i++) {
			double s = 0;
			for (int k = 0; k < K; k++)
				s += v[k] * A[(size_t)k * in + i];
			We[(size_t)j * in + i] = (float)s;
		}
	}
	/* the decoder reads mean + sum_j code_j vec_j */
	int l1 = m->latent_layer + 1;
	const float *Wd = m->params + m->w_off[l1], *bd = m->params + m->b_off[l1];
	float *Wf = f->params + f->w_off[e0 + 1], *bf = f->params + f->b_off[e0 + 1];
	for (int o = 0; o < out; o++) {
		const float *row = Wd + (size_t)o * K;
		double bo = bd[o];
		for (int k = 0; k < K; k++)
			bo += (double)row[k] * mean[k];
		bf[o] = (float)bo;
		for (int j = 0; j < r; j++) {
			double s = 0;
			for (int k = 0; k < K; k++)
				s += (double)row[k] * vec[(size_t)j * K + k];
			Wf[(size_t)o * r + j] = (float)s;
		}
	}
done:
	free(A);
	free(c);
	free(A2);
	free(c2);
	return f;
}

/* ---- the run ---- */

static int layers_of(const struct experiment *e)
{
	return ((const struct irmae_settings *)experiment_settings(e, &irmae_settings))->layers;
}

static int plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	if (max < 1)
		return 1;
	struct trial_record *t = &trials[0];
	memset(t, 0, sizeof(*t));
	char de[24], knobs[96];
	double lr;
	int batch, epochs;
	snprintf(knobs, sizeof(knobs), "l=%d", layers_of(e));
	const struct irmae_settings *o = experiment_settings(e, &irmae_settings);
	run_budget_apply(&o->run, e, knobs, sizeof(knobs), &lr, &batch, &epochs);
	snprintf(t->strategy, sizeof(t->strategy), "irmae");
	snprintf(t->key, sizeof(t->key), "irmae/%s/K=%d/seed=%ld%s", knobs, e->k_max, seed,
		 delivery_key(e, de));
	snprintf(t->role, sizeof(t->role), "search");
	t->latent = e->k_max;
	t->seed = seed;
	snprintf(t->params, sizeof(t->params),
		 "{\"irmae\":\"l=%d\",\"lr\":%g,\"batch\":%d,\"epochs\":%d,\"finetune\":%d}",
		 layers_of(e), lr, batch, epochs, e->delivery_epochs);
	return 1;
}

static enum trial_state run(const struct trial_ctx *c, struct trial_record *t)
{
	const struct experiment *e = c->exp;
	const struct grid_settings *g = experiment_settings(e, &grid_settings);
	int K = t->latent, layers = layers_of(e);
	struct trial_hooks h = { .linear = layers };
	const struct irmae_settings *o = experiment_settings(e, &irmae_settings);
	run_budget_hooks(&o->run, &h);
	struct ae *m = NULL, *rot = NULL, *cut = NULL;
	const struct split *v = &c->data->val;
	float *codes = NULL;
	double *mean = NULL, *vec = NULL, *val = NULL, *mse = NULL;
	int *Ks = NULL;
	/* a plain linear code when l = 0: the IRMAE paper's baseline autoencoder */
	enum trial_state status = layers ? trial_train(c, t, &h, &m) : TRIAL_FAILED;
	if (!layers) {
		struct trial_ctx lin = *c;
		struct experiment e2 = *e;
		e2.latent_act = ACT_IDENTITY;
		lin.exp = &e2;
		status = trial_train(&lin, t, &h, &m);
	}
	if (status != TRIAL_COMPLETE)
		return status;
	status = TRIAL_FAILED;
	if (v->n < 2) {
		snprintf(t->error, sizeof(t->error), "irmae needs a validation split");
		goto done;
	}
	codes = malloc(sizeof(float) * v->n * (size_t)K);
	mean = malloc(sizeof(double) * (size_t)K);
	vec = malloc(sizeof(double) * (size_t)K * K);
	val = malloc(sizeof(double) * (size_t)K);
	mse = malloc(sizeof(double) * (size_t)K);
	Ks = malloc(sizeof(int) * (size_t)K);
	if (!codes || !mean || !vec || !val || !mse || !Ks) {
		snprintf(t->error, sizeof(t->error), "out of memory");
		goto done;
	}
	/* the validation codes and their spectrum, charged */
	if (ae_encode(m, v, c->threads, codes, NULL, &t->flops) ||
	    irmae_spectrum(codes, v->n, K, mean, vec, val, &t->flops.overhead))
		goto failed;
	rot = irmae_fold(m, mean, vec, K);
	if (!rot)
		goto failed;
	/* the fold: the l products, the projection and the decoder's columns */
	t->flops.overhead += 2ull * K * K * (m->width[m->latent_layer - layers] * (layers + 1) +
					     m->width[m->latent_layer + 2]);
	for (int j = 0; j < K; j++)
		Ks[j] = j + 1;
	/* the codes projected on the top r directions: prefixes of the rotated code */
	if (ae_prefix_mse(rot, v, c->threads, Ks, K, NULL, mse, &t->flops))
		goto failed;
	int chosen = grid_choose(Ks, mse, K, g->select, g->tolerance);
	if (chosen < 0) {
		snprintf(t->error, sizeof(t->error), "no projection of the code has a finite error");
		goto done;
	}
	int r = Ks[chosen];
	cut = irmae_fold(m, mean, vec, r);
	if (!cut)
		goto failed;
	struct flops report = { 0 };
	double cut_val = ae_eval_mse(cut, v, c->threads, &report);
	double cut_test = ae_eval_mse(cut, &c->data->test, c->threads, &report);
	t->flops.report += flops_total(&report);
	char what[32], b1[32], b2[32], b3[32];
	snprintf(what, sizeof(what), "at K = %d", r);
	status = trial_finetune(c, t, cut, e->delivery_epochs, what);
	snprintf(t->details, sizeof(t->details),
		 "{\"k_chosen\":%d,\"k_max\":%d,\"layers\":%d,\"val_mse_cut\":%s,"
		 "\"val_mse_prefix\":%s,\"test_mse_cut\":%s,\"finetune_epochs\":%d,"
		 "\"delivered_epochs\":%d}",
		 r, K, layers, json_number(b1, cut_val), json_number(b2, mse[chosen]),
		 json_number(b3, cut_test), e->delivery_epochs, t->epochs_run + e->delivery_epochs);
	for (int j = K - 1; j >= 0; j--)
		val[j] = val[0] > 0 ? fmax(val[j], 0) / val[0] : 0;
	double *kd = mean; /* no longer needed */
	for (int j = 0; j < K; j++)
		kd[j] = j + 1;
	/* the spectrum first: at k_max = 150 the curve no longer fits beside it */
	details_append_array(t->details, sizeof(t->details), "spectrum", val, K, 0);
	details_append_array(t->details, sizeof(t->details), "prefix_k", kd, K, 1);
	details_append_array(t->details, sizeof(t->details), "prefix_val_mse", mse, K, 0);
	goto done;
failed:
	snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
	status = TRIAL_FAILED;
done:
	free(codes);
	free(mean);
	free(vec);
	free(val);
	free(mse);
	free(Ks);
	ae_delete(m);
	ae_delete(rot);
	ae_delete(cut);
	return status;
}

static int check(const struct experiment *e, const struct dataset *d)
{
	(void)d;
	return strategy_dense_only(e, "irmae", "its linear layers need a model without batch "
				   "norm");
}

const struct strategy irmae_strategy = {
	.name = "irmae",
	.settings = &irmae_settings,
	.plan = plan,
	.run = run,
	.decide = decide_k_chosen,
	.check = check,
};
