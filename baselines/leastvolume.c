/* leastvolume.c: Least Volume with dynamic pruning (Chen and Fuge, ICLR 2024, "Least Volume
 * Analysis"), a single-run peer of SOSAE.
 *
 * One training at k_max on reconstruction + w * exp(mean_i log(std_i(z) + eps)), the geometric
 * mean of the code's per-unit standard deviations over the batch, with the decoder kept
 * Lipschitz (every weight matrix's spectral norm at most 1, by one power-iteration step per
 * update). Dynamic pruning as the authors' DynamicPruningAE: moving averages (momentum beta)
 * of the reconstruction loss and of each unit's std and mean; once the averaged loss is below
 * r_t, every unit whose averaged std is below z_t is frozen at its averaged mean for the rest
 * of training (folded into the decoder's first-layer bias) and leaves the penalty.
 *
 * The decision: the units still alive, ordered by their std on the validation split, are
 * cut by the grid's rule (grid.select) over the validation MSE with the units past r held at
 * their validation means, r = 1..alive (charged). The delivered model is the trained network
 * with the held units folded into the decoder's bias, a plain r-wide autoencoder, fine-tuned
 * for delivery.epochs like the ordering methods'. */
#include "leastvolume.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/spectral.h"
#include "../search/grid.h"

#define LV(field) offsetof(struct lv_settings, field)

static const struct setting lv_keys[] = {
	{ .name = "lv.weight", .type = SETTING_DOUBLE, .offset = LV(weight), .lo = 0, .hi = 1e6,
	  .def = "0.001", .help = "the volume penalty's weight w (0: none)" },
	{ .name = "lv.eps", .type = SETTING_DOUBLE, .offset = LV(eps), .lo = 0, .hi = 1e6,
	  .def = "0.01", .help = "added to each unit's std before the log" },
	{ .name = "lv.beta", .type = SETTING_DOUBLE, .offset = LV(beta), .lo = 0, .hi = 0.999999,
	  .def = "0.8", .help = "the moving averages' momentum, in [0, 1)" },
	{ .name = "lv.r_t", .type = SETTING_DOUBLE, .offset = LV(r_t), .lo = 0, .hi = 1e30,
	  .def = "1.8", .help = "pruning starts once the averaged reconstruction loss is below this" },
	{ .name = "lv.z_t", .type = SETTING_DOUBLE, .offset = LV(z_t), .lo = 0, .hi = 1e30,
	  .def = "5e-05", .help = "units whose averaged std is below this are frozen" },
	{ .name = "lv.spectral", .type = SETTING_WORD, .offset = LV(spectral), .def = "on",
	  .words = "off|cap|on",
	  .help = "the decoder's weights: on (W / sigma(W) in every pass, the gradient through "
		  "sigma, as PyTorch's spectral_norm), cap (divided by sigma after a step when "
		  "it exceeds 1), off" },
	RUN_BUDGET_KEYS("lv", LV(run), "0", "0", "0"),
};

const struct settings lv_settings = { "Least Volume", lv_keys, SETTINGS_COUNT(lv_keys),
				      sizeof(struct lv_settings), NULL };

/* ---- the penalty, the rule and the folds ---- */

double lv_penalty(double w, double eps, int rows, int K, const float *h,
		  const unsigned char *frozen, float *dh, float scale, double *sum, double *sumsq,
		  uint64_t *elementwise)
{
	double *mean = malloc(sizeof(double) * 2 * (size_t)K), *sd = mean ? mean + K : NULL;
	if (!mean)
		return NAN;
	int alive = 0;
	double logsum = 0.0;
	for (int k = 0; k < K; k++) {
		double s = 0.0, q = 0.0;
		for (int r = 0; r < rows; r++) {
			double v = h[(size_t)r * K + k];
			s += v;
			q += v * v;
		}
		if (sum)
			sum[k] += s;
		if (sumsq)
			sumsq[k] += q;
		mean[k] = rows ? s / rows : 0.0;
		double dev = 0.0;
		for (int r = 0; r < rows; r++) {
			double d = h[(size_t)r * K + k] - mean[k];
			dev += d * d;
		}
		sd[k] = rows > 1 ? sqrt(dev / (rows - 1)) : 0.0;
		if (!frozen || !frozen[k]) {
			alive++;
			logsum += log(sd[k] + eps);
		}
	}
	*elementwise += (uint64_t)rows * K * FLOPS_VOLUME + (uint64_t)K * FLOPS_VOLUME_UNIT;
	double P = 0.0;
	if (rows > 1 && alive > 0) {
		P = rows * w * exp(logsum / alive);
		for (int k = 0; dh && k < K; k++) {
			if ((frozen && frozen[k]) || !(sd[k] > 0))
				continue;
			double coef = scale * P / (alive * (sd[k] + eps) * (rows - 1) * sd[k]);
			for (int r = 0; r < rows; r++)
				dh[(size_t)r * K + k] +=
					(float)(coef * (h[(size_t)r * K + k] - mean[k]));
		}
	}
	free(mean);
	return P;
}

int lv_prune_rule(double rec_avg, double r_t, const double *std_avg, double z_t,
		  const unsigned char *frozen, int K, unsigned char *newly)
{
	int n = 0;
	for (int k = 0; k < K; k++) {
		newly[k] = rec_avg < r_t && !frozen[k] && std_avg[k] < z_t;
		n += newly[k];
	}
	return n;
}

void lv_freeze(struct ae *m, int k, double c)
{
	int l = m->latent_layer + 1, in = m->width[l], out = m->width[l + 1];
	float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
	for (int j = 0; j < out; j++) {
		size_t at = (size_t)j * in + k;
		b[j] = (float)((double)b[j] + (double)W[at] * c);
		W[at] = 0.0f;
		m->adam_m[m->w_off[l] + at] = m->adam_v[m->w_off[l] + at] = 0.0f;
	}
	m->latent_mask[k] = 0.0f;
}

struct ae *lv_cut(const struct ae *m, const int *order, int r, const float *hold)
{
	int K = m->arch.latent;
	if (m->arch.vae || m->n_bn || m->arch.linear || r < 1 || r > K) {
		ds_fail("cannot cut a %s model to %d of its %d code units",
			m->arch.vae || m->n_bn ? "VAE or batch-norm" : "plain", r, K);
		return NULL;
	}
	unsigned char *used = calloc((size_t)K, 1);
	struct ae_arch arch = m->arch;
	arch.latent = r;
	struct ae *c = used ? ae_new(&arch) : NULL;
	if (!c) {
		free(used);
		if (!used)
			ds_fail("out of memory cutting a model");
		return NULL;
	}
	for (int j = 0; j < r; j++)
		used[order[j]] = 1;
	int l0 = m->latent_layer, l1 = l0 + 1;
	const float *src[3] = { m->params, m->adam_m, m->adam_v };
	float *dst[3] = { c->params, c->adam_m, c->adam_v };
	for (int b = 0; b < 3; b++) {
		for (int l = 0; l < m->n_layers; l++) {
			if (l == l0 || l == l1)
				continue;
			size_t n = (size_t)m->width[l] * m->width[l + 1] + (size_t)m->width[l + 1];
			memcpy(dst[b] + c->w_off[l], src[b] + m->w_off[l], sizeof(float) * n);
		}
		int in = m->width[l0], out = m->width[l1 + 1];
		for (int j = 0; j < r; j++) {
			memcpy(dst[b] + c->w_off[l0] + (size_t)j * in,
			       src[b] + m->w_off[l0] + (size_t)order[j] * in, sizeof(float) * in);
			dst[b][c->b_off[l0] + j] = src[b][m->b_off[l0] + order[j]];
		}
		for (int i = 0; i < out; i++) {
			const float *W = src[b] + m->w_off[l1] + (size_t)i * K;
			float *W2 = dst[b] + c->w_off[l1] + (size_t)i * r;
			double bias = src[b][m->b_off[l1] + i];
			for (int j = 0; j < r; j++)
				W2[j] = W[order[j]];
			for (int k = 0; b == 0 && k < K; k++)
				if (!used[k] && hold)
					bias += (double)W[k] * hold[k] * m->latent_mask[k];
			dst[b][c->b_off[l1] + i] = (float)bias;
		}
	}
	for (int j = 0; j < r; j++)
		c->latent_mask[j] = m->latent_mask[order[j]];
	c->adam_t = m->adam_t;
	free(used);
	return c;
}

double lv_spectral_step(float *W, int out, int in, double *u, double *v, uint64_t *flops)
{
	double sigma = spectral_iterate(W, out, in, u, v, flops);
	if (sigma > 1.0) {
		float scale = (float)(1.0 / sigma);
		for (size_t p = 0; p < (size_t)out * in; p++)
			W[p] *= scale;
		*flops += (uint64_t)out * in;
	}
	return sigma;
}

/* ---- the run ---- */

static const struct lv_settings *settings_of(const struct experiment *e)
{
	return experiment_settings(e, &lv_settings);
}

#define LV_MAX_CHUNKS 64

struct lv_run {
	const struct lv_settings *o;
	int K, n_chunks;
	unsigned char *frozen;   /* (K) */
	unsigned char *newly;    /* (K) */
	double *slot;            /* (n_chunks, 2K) each chunk's sums and square sums */
	int slot_rows[LV_MAX_CHUNKS];
	double rec_avg, *std_avg, *mean_avg; /* moving averages; (K) each */
	int averaged;            /* the averages hold a step */
	int epoch;               /* the epoch being trained (1-based) */
	int *frozen_epoch;       /* (K) the epoch a unit was frozen in, 0 if alive */
	double *u, *v;           /* lv.spectral = cap: each decoder layer's vectors */
	size_t u_off[AE_MAX_LAYERS], v_off[AE_MAX_LAYERS];
	struct rng rng;
	uint64_t ready_flops;    /* lv.spectral = on: the first power iterations */
	int ready_failed;
};

static double lv_apply(void *ctx, int chunk, int rows, int K, const float *h, float *dh,
		       float scale, uint64_t *elementwise)
{
	struct lv_run *s = ctx;
	double *sum = s->slot + (size_t)chunk * 2 * K;
	s->slot_rows[chunk] = rows;
	memset(sum, 0, sizeof(double) * 2 * (size_t)K);
	return lv_penalty(s->o->weight, s->o->eps, rows, K, h, s->frozen, dh, scale, sum, sum + K,
			  elementwise);
}

static void lv_ready(void *ctx, struct ae *m)
{
	struct lv_run *s = ctx;
	if (s->o->spectral == LV_SPECTRAL_ON) {
		s->ready_failed =
			ae_spectral_on(m, m->latent_layer + 1, m->n_layers, &s->rng, &s->ready_flops);
		return;
	}
	for (int l = m->latent_layer + 1; l < m->n_layers; l++) {
		for (int j = 0; j < m->width[l + 1]; j++)
			s->u[s->u_off[l] + j] = 2.0 * rng_uniform(&s->rng) - 1.0;
	}
}

/* After every step: the batch's statistics into the moving averages, the pruning rule, and
 * the decoder's spectral norms. */
static void lv_step(void *ctx, struct ae *m, double batch_loss, struct flops *f)
{
	struct lv_run *s = ctx;
	int K = s->K;
	double n = 0.0;
	for (int c = 0; c < s->n_chunks; c++)
		n += s->slot_rows[c];
	if (n >= 2) {
		for (int k = 0; k < K; k++) {
			double sum = 0.0, sq = 0.0;
			for (int c = 0; c < s->n_chunks; c++) {
				if (!s->slot_rows[c])
					continue;
				sum += s->slot[(size_t)c * 2 * K + k];
				sq += s->slot[(size_t)c * 2 * K + K + k];
			}
			double mean = sum / n, var = (sq - n * mean * mean) / (n - 1);
			double sd = sqrt(var > 0 ? var : 0.0);
			if (s->averaged) {
				s->std_avg[k] += (1.0 - s->o->beta) * (sd - s->std_avg[k]);
				s->mean_avg[k] += (1.0 - s->o->beta) * (mean - s->mean_avg[k]);
			} else {
				s->std_avg[k] = sd;
				s->mean_avg[k] = mean;
			}
		}
		s->rec_avg = s->averaged ? s->rec_avg + (1.0 - s->o->beta) * (batch_loss - s->rec_avg)
					 : batch_loss;
		s->averaged = 1;
		/* the chunks' sums (2 per chunk), mean, variance, sqrt, two averages (6) */
		f->overhead += (uint64_t)K * (2ull * s->n_chunks + 10) + 3;
		if (lv_prune_rule(s->rec_avg, s->o->r_t, s->std_avg, s->o->z_t, s->frozen, K,
				  s->newly)) {
			for (int k = 0; k < K; k++)
				if (s->newly[k]) {
					lv_freeze(m, k, s->mean_avg[k] * m->latent_mask[k]);
					ae_spectral_zero_column(m, m->latent_layer + 1, k,
								&f->overhead);
					s->frozen[k] = 1;
					s->frozen_epoch[k] = s->epoch;
					f->overhead += 2ull * m->width[m->latent_layer + 2];
				}
		}
		f->overhead += (uint64_t)K; /* the rule's comparisons */
	}
	for (int c = 0; c < s->n_chunks; c++)
		s->slot_rows[c] = 0;
	if (s->o->spectral == LV_SPECTRAL_CAP)
		for (int l = m->latent_layer + 1; l < m->n_layers; l++)
			lv_spectral_step(m->params + m->w_off[l], m->width[l + 1], m->width[l],
					 s->u + s->u_off[l], s->v + s->v_off[l], &f->overhead);
}

static int lv_epoch(void *ctx, struct epoch_record *e, struct ae *m)
{
	(void)m;
	struct lv_run *s = ctx;
	int alive = 0;
	for (int k = 0; k < s->K; k++)
		alive += !s->frozen[k];
	e->active_latent = alive;
	s->epoch = e->epoch + 1;
	return 0;
}

static int plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	if (max < 1)
		return 1;
	const struct lv_settings *o = settings_of(e);
	struct trial_record *t = &trials[0];
	memset(t, 0, sizeof(*t));
	char de[24], setting[160];
	/* sn=1 was the cap's key before the reparametrisation joined, and stays its key */
	static const char *const sn[] = { "0", "1", "reparam" };
	snprintf(setting, sizeof(setting), "w=%g,eps=%g,b=%g,rt=%g,zt=%g,sn=%s", o->weight, o->eps,
		 o->beta, o->r_t, o->z_t, sn[o->spectral]);
	double lr;
	int batch, epochs;
	run_budget_apply(&o->run, e, setting, sizeof(setting), &lr, &batch, &epochs);
	snprintf(t->strategy, sizeof(t->strategy), "leastvolume");
	char text[512], tail[64];
	snprintf(tail, sizeof(tail), "/K=%d/seed=%ld%s", e->k_max, seed, delivery_key(e, de));
	trial_key(t->key, sizeof(t->key), "leastvolume", setting, tail);
	snprintf(t->role, sizeof(t->role), "search");
	t->latent = e->k_max;
	t->seed = seed;
	snprintf(text, sizeof(text),
		 "{\"leastvolume\":\"%s\",\"lr\":%g,\"batch\":%d,\"epochs\":%d,\"finetune\":%d}",
		 setting, lr, batch, epochs, e->delivery_epochs);
	snprintf(t->params, sizeof(t->params), "%.*s", (int)sizeof(t->params) - 1, text);
	return 1;
}

static int by_std(const void *a, const void *b)
{
	const double *x = a, *y = b; /* (std, index) pairs: std descending, then index */
	return x[0] > y[0] ? -1 : x[0] < y[0] ? 1 : (x[1] > y[1]) - (x[1] < y[1]);
}

static enum trial_state run(const struct trial_ctx *c, struct trial_record *t)
{
	const struct experiment *e = c->exp;
	const struct grid_settings *g = experiment_settings(e, &grid_settings);
	int K = t->latent;
	struct lv_run s = { .o = settings_of(e), .K = K, .n_chunks = e->chunks, .epoch = 1 };
	struct ae *m = NULL, *sel = NULL, *cut = NULL;
	float *codes = NULL, *fill = NULL;
	double *pairs = NULL, *val = NULL, *stat = NULL;
	int *Ks = NULL, *order = NULL;
	enum trial_state status = TRIAL_FAILED;
	if (s.n_chunks > LV_MAX_CHUNKS) {
		snprintf(t->error, sizeof(t->error), "leastvolume: at most %d chunks (got %d)",
			 LV_MAX_CHUNKS, s.n_chunks);
		return TRIAL_FAILED;
	}
	struct ae_arch arch = experiment_arch(e, c->data, K);
	size_t nu = 0, nv = 0;
	{
		struct ae *probe = ae_new(&arch);
		if (!probe) {
			snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
			return TRIAL_FAILED;
		}
		for (int l = probe->latent_layer + 1; l < probe->n_layers; l++) {
			s.u_off[l] = nu;
			s.v_off[l] = nv;
			nu += (size_t)probe->width[l + 1];
			nv += (size_t)probe->width[l];
		}
		ae_delete(probe);
	}
	s.frozen = calloc((size_t)K, 2);
	s.newly = s.frozen ? s.frozen + K : NULL;
	s.slot = calloc((size_t)s.n_chunks * 2 * K, sizeof(double));
	s.std_avg = calloc((size_t)K * 2, sizeof(double));
	s.mean_avg = s.std_avg ? s.std_avg + K : NULL;
	s.frozen_epoch = calloc((size_t)K, sizeof(int));
	s.u = calloc(nu + nv + 1, sizeof(double));
	s.v = s.u ? s.u + nu : NULL;
	rng_seed(&s.rng, (uint64_t)t->seed ^ 0x1f5a7u);
	if (!s.frozen || !s.slot || !s.std_avg || !s.frozen_epoch || !s.u) {
		snprintf(t->error, sizeof(t->error), "out of memory");
		goto done;
	}
	struct latent_penalty pen = { lv_apply, &s };
	/* at weight 0 the penalty's pass still gathers the statistics */
	struct trial_hooks h = { .penalty = &pen,
				 .epoch = lv_epoch,
				 .ready = lv_ready,
				 .after_step = lv_step,
				 .ctx = &s };
	run_budget_hooks(&s.o->run, &h);
	status = trial_train(c, t, &h, &m);
	if (status != TRIAL_COMPLETE)
		goto done;
	status = TRIAL_FAILED;
	if (s.ready_failed)
		goto failed;
	t->flops.elementwise += s.ready_flops;
	ae_spectral_off(m); /* the params hold W / sigma: from here a plain model */
	/* the units' std and mean on validation: one encoder pass, charged */
	const struct split *v = &c->data->val;
	codes = malloc(sizeof(float) * (v->n ? v->n : 1) * (size_t)K);
	stat = calloc((size_t)K * 2, sizeof(double));
	pairs = malloc(sizeof(double) * 2 * (size_t)K);
	order = calloc((size_t)K, sizeof(int));
	Ks = malloc(sizeof(int) * (size_t)K);
	val = malloc(sizeof(double) * (size_t)K);
	fill = calloc((size_t)K, sizeof(float));
	if (!codes || !stat || !pairs || !order || !Ks || !val || !fill) {
		snprintf(t->error, sizeof(t->error), "out of memory");
		goto done;
	}
	if (v->n < 2) {
		snprintf(t->error, sizeof(t->error), "leastvolume needs a validation split");
		goto done;
	}
	if (ae_encode(m, v, c->threads, codes, NULL, &t->flops))
		goto failed;
	double *mean = stat, *sd = stat + K;
	for (int k = 0; k < K; k++) {
		double sum = 0, dev = 0;
		for (size_t r = 0; r < v->n; r++)
			sum += codes[r * K + k];
		mean[k] = sum / (double)v->n;
		for (size_t r = 0; r < v->n; r++) {
			double d = codes[r * K + k] - mean[k];
			dev += d * d;
		}
		sd[k] = sqrt(dev / (double)(v->n - 1));
	}
	t->flops.overhead += 5ull * v->n * K;
	int alive = 0;
	for (int k = 0; k < K; k++)
		if (!s.frozen[k]) {
			pairs[2 * alive] = sd[k];
			pairs[2 * alive + 1] = k;
			alive++;
		}
	if (!alive) {
		snprintf(t->error, sizeof(t->error), "every code unit was pruned (lower lv.z_t)");
		goto done;
	}
	qsort(pairs, (size_t)alive, sizeof(double) * 2, by_std);
	for (int j = 0; j < alive; j++)
		order[j] = (int)pairs[2 * j + 1];
	/* the alive units in std order, each past a prefix held at its validation mean */
	sel = lv_cut(m, order, alive, NULL);
	if (!sel)
		goto failed;
	for (int j = 0; j < alive; j++) {
		fill[j] = (float)mean[order[j]];
		Ks[j] = j + 1;
	}
	if (ae_prefix_mse(sel, v, c->threads, Ks, alive, fill, val, &t->flops))
		goto failed;
	int chosen = grid_choose(Ks, val, alive, g->select, g->tolerance);
	if (chosen < 0) {
		snprintf(t->error, sizeof(t->error), "no prefix of the code has a finite error");
		goto done;
	}
	int r = Ks[chosen];
	int *identity = Ks; /* Ks[j] - 1 = j */
	for (int j = 0; j < alive; j++)
		identity[j] = j;
	cut = lv_cut(sel, identity, r, fill);
	if (!cut)
		goto failed;
	struct flops report = { 0 };
	double cut_val = ae_eval_mse(cut, v, c->threads, &report);
	double cut_test = ae_eval_mse(cut, &c->data->test, c->threads, &report);
	t->flops.report += flops_total(&report);
	char what[32], b1[32], b2[32], b3[32];
	snprintf(what, sizeof(what), "at K = %d", r);
	int first_freeze = 0;
	for (int k = 0; k < K; k++)
		if (s.frozen_epoch[k] && (!first_freeze || s.frozen_epoch[k] < first_freeze))
			first_freeze = s.frozen_epoch[k];
	status = trial_finetune(c, t, cut, e->delivery_epochs, what);
	snprintf(t->details, sizeof(t->details),
		 "{\"k_chosen\":%d,\"k_max\":%d,\"alive\":%d,\"frozen\":%d,\"first_freeze_epoch\":%d,"
		 "\"val_mse_cut\":%s,\"val_mse_prefix\":%s,\"test_mse_cut\":%s,"
		 "\"finetune_epochs\":%d,\"delivered_epochs\":%d}",
		 r, K, alive, K - alive, first_freeze, json_number(b1, cut_val),
		 json_number(b2, val[chosen]), json_number(b3, cut_test), e->delivery_epochs,
		 t->epochs_run + e->delivery_epochs);
	/* every unit's validation std (unit order), the frozen units and the curve, in that
	 * order: at k_max = 150 the curve no longer fits */
	double *d = pairs;
	details_append_array(t->details, sizeof(t->details), "unit_std", sd, K, 0);
	int nf = 0;
	for (int k = 0; k < K; k++)
		if (s.frozen[k])
			d[nf++] = k;
	details_append_array(t->details, sizeof(t->details), "frozen_units", d, nf, 1);
	for (int j = 0; j < alive; j++)
		d[j] = j + 1;
	details_append_array(t->details, sizeof(t->details), "prefix_k", d, alive, 1);
	details_append_array(t->details, sizeof(t->details), "prefix_val_mse", val, alive, 0);
	goto done;
failed:
	snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
	status = TRIAL_FAILED;
done:
	free(s.frozen);
	free(s.slot);
	free(s.std_avg);
	free(s.frozen_epoch);
	free(s.u);
	free(codes);
	free(stat);
	free(pairs);
	free(order);
	free(Ks);
	free(val);
	free(fill);
	ae_delete(m);
	ae_delete(sel);
	ae_delete(cut);
	return status;
}

static int check(const struct experiment *e, const struct dataset *d)
{
	(void)d;
	if (strategy_dense_only(e, "leastvolume", "its Lipschitz bound covers dense decoder layers "
				"and its cut a model without batch norm"))
		return -1;
	if (e->chunks > LV_MAX_CHUNKS)
		return ds_fail("leastvolume keeps statistics of at most %d chunks (chunks = %d)",
			       LV_MAX_CHUNKS, e->chunks);
	return 0;
}

const struct strategy leastvolume_strategy = {
	.name = "leastvolume",
	.settings = &lv_settings,
	.plan = plan,
	.run = run,
	.decide = decide_k_chosen,
	.check = check,
};
