/* earlybird.c: network slimming and Early-Bird tickets on an autoencoder: batch-norm scales on
 * every layer, a decoupled L1 push on them, masks from their global ordering drawn through
 * training, a ticket once the masks stop changing; the latent size is the number of code units
 * alive after the full budget. Delivery goes on training the pruned network, or trains a fresh
 * plain autoencoder at that size. */
#include "earlybird.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

void eb_shrink(float *gamma, int n, double step)
{
	for (int j = 0; j < n; j++) {
		double g = gamma[j], a = fabs(g) - step;
		gamma[j] = a > 0 ? (float)copysign(a, g) : 0.0f;
	}
}

static int by_value(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

int eb_mask(const float *abs_gamma, const int *sizes, int n_layers, double keep,
	    double layer_min, unsigned char *mask)
{
	int n = 0, widest = 0;
	for (int i = 0; i < n_layers; i++) {
		n += sizes[i];
		widest = sizes[i] > widest ? sizes[i] : widest;
	}
	float *score = malloc(sizeof(float) * (size_t)(n + widest));
	if (!score)
		return -1;
	float *sorted = score + n;
	/* each layer's protected units score as infinite */
	for (int i = 0, at = 0; i < n_layers; at += sizes[i], i++) {
		int size = sizes[i];
		memcpy(sorted, abs_gamma + at, sizeof(float) * size);
		qsort(sorted, (size_t)size, sizeof(float), by_value);
		long cut = lround(size * (1.0 - layer_min));
		float floor_value = sorted[cut < size - 1 ? cut : size - 1];
		for (int j = 0; j < size; j++)
			score[at + j] = abs_gamma[at + j] >= floor_value ? INFINITY : abs_gamma[at + j];
	}
	float *all = malloc(sizeof(float) * (size_t)n);
	if (!all) {
		free(score);
		return -1;
	}
	memcpy(all, score, sizeof(float) * (size_t)n);
	qsort(all, (size_t)n, sizeof(float), by_value);
	int pos = (int)floor(n * (1.0 - keep));
	float threshold = all[pos < n ? pos : n - 1];
	for (int j = 0; j < n; j++)
		mask[j] = score[j] >= threshold;
	free(all);
	free(score);
	return 0;
}

double eb_distance(const unsigned char *a, const unsigned char *b, int n)
{
	int differ = 0;
	for (int k = 0; k < n; k++)
		differ += a[k] != b[k];
	return (double)differ / n;
}

int eb_window_init(struct eb_window *w, int n)
{
	w->n = n;
	w->count = 0;
	w->masks = malloc((size_t)EB_WINDOW * (size_t)n);
	return w->masks ? 0 : -1;
}

void eb_window_free(struct eb_window *w)
{
	free(w->masks);
	w->masks = NULL;
}

int eb_window_push(struct eb_window *w, const unsigned char *mask, double eps, double *max_distance)
{
	int slot = w->count % EB_WINDOW;
	unsigned char *newest = w->masks + (size_t)slot * w->n;
	memcpy(newest, mask, (size_t)w->n);
	w->count++;
	*max_distance = NAN;
	if (w->count < EB_WINDOW)
		return 0;
	double worst = 0;
	for (int i = 1; i < EB_WINDOW; i++) {
		int older = (slot - i + EB_WINDOW) % EB_WINDOW;
		double d = eb_distance(newest, w->masks + (size_t)older * w->n, w->n);
		worst = d > worst ? d : worst;
	}
	*max_distance = worst;
	return worst <= eps;
}

int eb_alive(float gamma, float beta)
{
	double g = fabs((double)gamma);
	return g > EB_ALIVE && 0.5 * erfc(-(beta / g) / sqrt(2.0)) > EB_PHI;
}

int eb_active(const float *gamma, const float *beta, int K)
{
	int n = 0;
	for (int k = 0; k < K; k++)
		n += eb_alive(gamma[k], beta[k]);
	return n;
}

/* ---- settings ---- */

#define S(field) offsetof(struct eb_settings, field)

static const struct setting eb_keys[] = {
	{ .name = "eb.lambda",
	  .type = SETTING_DOUBLE_LIST,
	  .offset = S(lambda),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "0.9",
	  .help = "the L1 weight on the code layer's scales (decoupled: each step moves them "
		  "lambda * lr towards 0, apart from Adam); a list for a sweep",
	  .capacity = EB_MAX_RATIOS,
	  .count_offset = S(n_lambda) },
	{ .name = "eb.lambda_hidden",
	  .type = SETTING_DOUBLE_LIST,
	  .offset = S(lambda_hidden),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "0.001",
	  .help = "the L1 weight on the hidden layers' scales; a list for a sweep",
	  .capacity = EB_MAX_RATIOS,
	  .count_offset = S(n_lambda_hidden) },
	{ .name = "eb.lambda_conv",
	  .type = SETTING_DOUBLE,
	  .offset = S(lambda_conv),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "0.0001",
	  .help = "arch = conv: the L1 weight on the 2-D batch norms' scales (the thesis's "
		  "1e-4); they shrink but no mask or pruning covers channels" },
	{ .name = "eb.weight_decay",
	  .type = SETTING_DOUBLE,
	  .offset = S(weight_decay),
	  .lo = 0,
	  .hi = 1e3,
	  .def = "0",
	  .help = "decoupled weight decay on every weight matrix (each step scales them by "
		  "1 - lr * weight_decay), against the drain of the scales" },
	{ .name = "eb.bn",
	  .type = SETTING_WORD,
	  .offset = S(bn),
	  .def = "encoder",
	  .words = "all|encoder|code",
	  .help = "which layers carry scales: all (code and every hidden layer), encoder (code and "
		  "the encoder's hidden layers) or code" },
	{ .name = "eb.l1",
	  .type = SETTING_WORD,
	  .offset = S(l1),
	  .def = "decoupled",
	  .words = "decoupled|adam",
	  .help = "decoupled: each step moves a scale lambda * lr towards 0 after Adam's; adam: "
		  "lambda sign(gamma) joins the gradient and goes through Adam (the thesis's)" },
	{ .name = "eb.keep",
	  .type = SETTING_DOUBLE_LIST,
	  .offset = S(keep),
	  .lo = 0,
	  .hi = 1,
	  .def = "0.1, 0.3, 0.5, 0.7",
	  .help = "the fractions of all scales the masks keep, each in (0, 1]; the ticket comes "
		  "when every one of them is stable",
	  .capacity = EB_MAX_RATIOS,
	  .count_offset = S(n_keep) },
	{ .name = "eb.draws",
	  .type = SETTING_INT,
	  .offset = S(draws),
	  .lo = 1,
	  .hi = 1000,
	  .def = "4",
	  .help = "masks drawn per epoch, evenly over its steps" },
	{ .name = "eb.layer_min",
	  .type = SETTING_DOUBLE,
	  .offset = S(layer_min),
	  .lo = 0,
	  .hi = 1,
	  .def = "0.01",
	  .help = "the fraction of each layer no mask drops (at least its largest scale)" },
	{ .name = "eb.eps",
	  .type = SETTING_DOUBLE,
	  .offset = S(eps),
	  .lo = 0,
	  .hi = 1,
	  .def = "0.1",
	  .help = "ticket when the newest mask is this close to each of the 4 before it" },
	RUN_BUDGET_KEYS("eb", S(run), "0.008", "64", "0"),
	{ .name = "eb.stable",
	  .type = SETTING_INT,
	  .offset = S(stable),
	  .lo = 1,
	  .hi = 1000000,
	  .def = "5",
	  .help = "epochs the count of code units alive must hold at the end of the run, or the "
		  "decision is flagged not converged; 1 for no check" },
	{ .name = "eb.delivery",
	  .type = SETTING_WORD,
	  .offset = S(delivery),
	  .def = "ticket",
	  .words = "ticket|fresh",
	  .help = "ticket: prune the trained network to its live units and train it on; fresh: "
		  "train a new plain autoencoder at the count" },
};

const struct settings eb_settings = { "Early-Bird", eb_keys, SETTINGS_COUNT(eb_keys),
				      sizeof(struct eb_settings), NULL };

static const struct eb_settings *settings_of(const struct experiment *e)
{
	return experiment_settings(e, &eb_settings);
}

/* ---- the strategy ---- */

/* "0.1,0.3" from the keep list */
static void keep_text(const struct eb_settings *o, char *buf, size_t size)
{
	size_t at = 0;
	buf[0] = 0;
	for (int i = 0; i < o->n_keep && at < size; i++)
		at += (size_t)snprintf(buf + at, size - at, "%s%g", i ? "," : "", o->keep[i]);
}

/* One run at K_max per seed, or one per (lambda, lambda_hidden) of a sweep, named
 * earlybird(l=..,h=..). */
static int eb_plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	const struct eb_settings *o = settings_of(e);
	int n_variants = o->n_lambda * o->n_lambda_hidden;
	char de[24], keep[96], run[64] = "";
	keep_text(o, keep, sizeof(keep));
	static const char *bn_word[] = { "", "/bn=encoder", "/bn=code" };
	snprintf(run, sizeof(run), "%s%s", bn_word[o->bn], o->l1 == EB_L1_ADAM ? "/l1=adam" : "");
	if (o->weight_decay > 0)
		snprintf(run + strlen(run), sizeof(run) - strlen(run), "/wd=%g", o->weight_decay);
	double lr;
	int batch, epochs;
	run_budget_apply(&o->run, e, run, sizeof(run), &lr, &batch, &epochs);
	for (int v = 0; v < n_variants && v < max; v++) {
		double lambda = o->lambda[v / o->n_lambda_hidden];
		double hidden = o->lambda_hidden[v % o->n_lambda_hidden];
		struct trial_record *t = &trials[v];
		memset(t, 0, sizeof(*t));
		if (n_variants == 1)
			snprintf(t->strategy, sizeof(t->strategy), "earlybird");
		else
			snprintf(t->strategy, sizeof(t->strategy), "earlybird(l=%g,h=%g)", lambda,
				 hidden);
		char knobs[320], tail[64];
		char conv[32] = "";
		if (e->conv) /* dense experiments keep their trials' keys */
			snprintf(conv, sizeof(conv), "/c=%g", o->lambda_conv);
		snprintf(knobs, sizeof(knobs), "l=%g,%g%s/keep=%s/d=%d/min=%g/eps=%g%s/%s", lambda,
			 hidden, conv, keep, o->draws, o->layer_min, o->eps, run,
			 o->delivery == EB_DELIVER_FRESH ? "fresh" : "ticket");
		snprintf(tail, sizeof(tail), "/K=%d/seed=%ld%s", e->k_max, seed,
			 delivery_key(e, de));
		trial_key(t->key, sizeof(t->key), "earlybird2", knobs, tail);
		snprintf(t->role, sizeof(t->role), "search");
		t->latent = e->k_max;
		t->seed = seed;
		t->variant = v;
		snprintf(t->params, sizeof(t->params),
			 "{\"lambda\":%.17g,\"lambda_hidden\":%.17g,\"keep\":[%s],\"draws\":%d,"
			 "\"layer_min\":%g,\"eps\":%g,\"lr\":%g,\"batch\":%d,\"epochs\":%d,"
			 "\"delivery\":\"%s\"}",
			 lambda, hidden, keep, o->draws, o->layer_min, o->eps,
			 lr, batch, epochs,
			 o->delivery == EB_DELIVER_FRESH ? "fresh" : "ticket");
	}
	return n_variants;
}

/* What one Early-Bird run tracks while it trains. */
struct eb_run {
	const struct eb_settings *o;
	double lr, lambda, lambda_hidden; /* this trial's */
	int K, n, steps_per_epoch;     /* code units, all batch-norm units */
	int sizes[AE_MAX_LAYERS], layers[AE_MAX_LAYERS], n_layers; /* the batch-norm layers */
	long steps;                    /* optimiser steps so far */
	int drawn;                     /* masks drawn in this epoch */
	float *abs_gamma;              /* (n) scratch */
	unsigned char *frozen, *mask;  /* (n) */
	struct eb_window window[EB_MAX_RATIOS];
	double distance;               /* the newest draw's largest distance over the ratios */
	int stable_epoch[EB_MAX_RATIOS]; /* the epoch each ratio's mask was first stable in */
	int ticket_epoch;              /* 0 until found */
	int ticket_count;              /* code units alive at the ticket */
	int ticket_frozen;             /* code units frozen by then */
	uint64_t ticket_flops;         /* tuning FLOPs at the end of the ticket's epoch */
	int last_count, stable_epochs; /* the count after the last epoch, and for how many */
};

/* Draw a mask at every ratio from the scales now; a ticket when all are stable. */
static void draw(struct eb_run *s, struct ae *m, int epoch, struct flops *f)
{
	for (int i = 0, at = 0; i < s->n_layers; at += s->sizes[i], i++)
		for (int j = 0; j < s->sizes[i]; j++)
			s->abs_gamma[at + j] = fabsf(m->params[m->bn_off[s->layers[i]] + j]);
	int stable = 1;
	s->distance = 0;
	double log_n = ceil(log2((double)s->n + 1));
	for (int r = 0; r < s->o->n_keep; r++) {
		double d;
		if (eb_mask(s->abs_gamma, s->sizes, s->n_layers, s->o->keep[r], s->o->layer_min,
			    s->mask))
			return; /* no memory: no draw (the count at the end is unaffected) */
		int now = eb_window_push(&s->window[r], s->mask, s->o->eps, &d);
		if (now && !s->stable_epoch[r])
			s->stable_epoch[r] = epoch;
		stable &= now;
		s->distance = isnan(d) || isnan(s->distance) ? NAN : fmax(s->distance, d);
		/* the sorts (compares), the mask, the distances to the older masks */
		f->overhead += (uint64_t)(2 * s->n * log_n) + (uint64_t)s->n * EB_WINDOW;
	}
	if (stable && !s->ticket_epoch) {
		const float *gamma = m->params + m->gamma_off, *beta = m->params + m->beta_off;
		s->ticket_epoch = epoch;
		s->ticket_count = eb_active(gamma, beta, s->K);
		int code = m->bn_unit[m->latent_layer];
		for (int k = 0; k < s->K; k++)
			s->ticket_frozen += s->frozen[code + k];
	}
}

uint64_t eb_scales_step(struct ae *m, double lambda, double lambda_hidden, double lambda_conv,
			double lr, unsigned char *frozen)
{
	for (int j = 0; lambda_conv > 0 && j < m->n_conv; j++)
		if (m->cbn_at[j])
			eb_shrink(m->params + m->cbn_off[j], m->conv[j].c_out, lambda_conv * lr);
	for (int l = 0; l < m->n_layers; l++) {
		if (!m->bn_at[l])
			continue;
		int width = m->width[l + 1];
		float *gamma = m->params + m->bn_off[l];
		eb_shrink(gamma, width, (l == m->latent_layer ? lambda : lambda_hidden) * lr);
		unsigned char *f = frozen + m->bn_unit[l];
		for (int j = 0; j < width; j++) {
			if (fabsf(gamma[j]) < EB_FREEZE)
				f[j] = 1;
			if (f[j]) {
				gamma[j] = 0.0f;
				m->adam_m[m->bn_off[l] + j] = m->adam_v[m->bn_off[l] + j] = 0.0f;
			}
		}
	}
	uint64_t conv_units = lambda_conv > 0 ? m->n_bn - m->conv_bn_unit : 0;
	return (uint64_t)m->conv_bn_unit * (FLOPS_L1_SHRINK + FLOPS_FREEZE) +
	       conv_units * FLOPS_L1_SHRINK;
}

/* After every step: the scales' step and, at its share of the epoch, a draw of the masks. */
static void eb_step(void *ctx, struct ae *m, double batch_loss, struct flops *f)
{
	(void)batch_loss;
	struct eb_run *s = ctx;
	int decoupled = s->o->l1 == EB_L1_DECOUPLED;
	f->overhead += eb_scales_step(m, decoupled ? s->lambda : 0,
				      decoupled ? s->lambda_hidden : 0,
				      decoupled ? s->o->lambda_conv : 0, s->lr, s->frozen);
	if (s->o->weight_decay > 0) {
		float keep = (float)(1.0 - s->lr * s->o->weight_decay);
		for (int l = 0; l < m->n_layers; l++) {
			size_t n = (size_t)m->width[l] * (size_t)m->width[l + 1];
			float *W = m->params + m->w_off[l];
			for (size_t i = 0; i < n; i++)
				W[i] *= keep;
			f->overhead += n;
		}
	}
	int in_epoch = (int)(s->steps % s->steps_per_epoch) + 1, epoch =
		(int)(s->steps / s->steps_per_epoch) + 1;
	s->steps++;
	if (in_epoch == 1)
		s->drawn = 0;
	/* draw i of the epoch once i / draws of its steps are done */
	while (s->drawn < s->o->draws &&
	       (double)(s->drawn + 1) / s->o->draws <= (double)in_epoch / s->steps_per_epoch) {
		s->drawn++;
		draw(s, m, epoch, f);
	}
}

/* After each epoch: the newest draw's distance, the code units alive, the ticket's FLOPs. */
static int eb_epoch(void *ctx, struct epoch_record *e, struct ae *m)
{
	struct eb_run *s = ctx;
	e->mask_distance = s->distance;
	e->active_latent =
		eb_active(m->params + m->gamma_off, m->params + m->beta_off, s->K);
	s->stable_epochs = e->active_latent == s->last_count ? s->stable_epochs + 1 : 1;
	s->last_count = e->active_latent;
	if (s->ticket_epoch == e->epoch)
		s->ticket_flops = e->flops_tuning;
	return 0; /* the full budget runs, for the count after it */
}

/* With the thesis's L1, its subgradient on every batch-norm layer's scales. */
static void eb_ready(void *ctx, struct ae *m)
{
	struct eb_run *s = ctx;
	for (int l = 0; s->o->l1 == EB_L1_ADAM && l < m->n_layers; l++)
		if (m->bn_at[l])
			m->bn_l1[l] = (float)(l == m->latent_layer ? s->lambda : s->lambda_hidden);
	for (int j = 0; s->o->l1 == EB_L1_ADAM && j < m->n_conv; j++)
		if (m->cbn_at[j])
			m->cbn_l1[j] = (float)s->o->lambda_conv;
}

static void run_free(struct eb_run *s)
{
	for (int r = 0; r < EB_MAX_RATIOS; r++)
		eb_window_free(&s->window[r]);
	free(s->abs_gamma);
	free(s->frozen);
	free(s->mask);
	free(s);
}

/* The run's state for model m: its batch-norm layers, windows and scratch; NULL when out of
 * memory. */
static struct eb_run *run_new(const struct trial_ctx *c, const struct eb_settings *o,
			      const struct ae *m)
{
	struct eb_run *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	const struct experiment *e = c->exp;
	int batch, epochs;
	run_budget_apply(&o->run, e, NULL, 0, &s->lr, &batch, &epochs);
	s->o = o;
	s->K = m->arch.latent;
	s->n = (int)m->conv_bn_unit; /* the dense layers' scales: masks cover no channel */
	s->steps_per_epoch = (int)((c->data->train.n + (size_t)batch - 1) / (size_t)batch);
	for (int l = 0; l < m->n_layers; l++)
		if (m->bn_at[l]) {
			s->layers[s->n_layers] = l;
			s->sizes[s->n_layers++] = m->width[l + 1];
		}
	int ok = (s->abs_gamma = malloc(sizeof(float) * s->n)) && (s->frozen = calloc(s->n, 1)) &&
		 (s->mask = malloc(s->n));
	for (int r = 0; ok && r < o->n_keep; r++)
		ok = !eb_window_init(&s->window[r], s->n);
	if (!ok) {
		run_free(s);
		return NULL;
	}
	return s;
}

/* The network with the live units of every batch-norm layer, trained on for
 * delivery.epochs: the Early-Bird paper's retraining of the ticket (keep the mask, go on
 * training the pruned network). */
static enum trial_state deliver_ticket(const struct trial_ctx *c, struct trial_record *t,
				       const struct ae *m, int *pruned_hidden)
{
	unsigned char *keep[AE_MAX_LAYERS] = { 0 };
	enum trial_state status = TRIAL_FAILED;
	*pruned_hidden = 0;
	for (int l = 0; l < m->n_layers - 1; l++) {
		if (!m->bn_at[l])
			continue;
		int width = m->width[l + 1];
		if (!(keep[l] = malloc((size_t)width)))
			goto done;
		const float *gamma = m->params + m->bn_off[l], *beta = gamma + width;
		int alive = 0;
		for (int j = 0; j < width; j++)
			alive += keep[l][j] = (unsigned char)eb_alive(gamma[j], beta[j]);
		if (!alive) /* a layer keeps its largest scale, as the masks do */
			for (int j = 0, best = 0; j < width; j++)
				if (fabsf(gamma[j]) >= fabsf(gamma[best])) {
					keep[l][best] = 0;
					keep[l][best = j] = 1;
				}
		if (l != m->latent_layer)
			*pruned_hidden += width - (alive ? alive : 1);
	}
	struct ae *p = ae_prune(m, (const unsigned char *const *)keep);
	if (!p) {
		snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
		goto done;
	}
	char what[48];
	snprintf(what, sizeof(what), "at the ticket's K = %d", p->arch.latent);
	status = trial_finetune(c, t, p, c->exp->delivery_epochs, what);
	t->latent = p->arch.latent;
	ae_delete(p);
done:
	for (int l = 0; l < AE_MAX_LAYERS; l++)
		free(keep[l]);
	return status;
}

/* The run with scales on every layer; the code units alive after the full budget name the
 * size (the thesis's count), the ticket's count is kept beside it. */
static enum trial_state eb_run_trial(const struct trial_ctx *c, struct trial_record *t)
{
	const struct eb_settings *o = settings_of(c->exp);
	int K = t->latent;
	struct ae_arch arch = experiment_arch(c->exp, c->data, K);
	static const int hidden_bn[] = { AE_BN_HIDDEN, AE_BN_ENCODER, 0 };
	arch.latent_bn = 1;
	/* a convolutional model's encoder always normalises its dense hidden layer */
	arch.hidden_bn = hidden_bn[o->bn] | (c->exp->conv ? AE_BN_ENCODER : 0);
	struct ae *shape = ae_new(&arch);
	struct eb_run *s = shape ? run_new(c, o, shape) : NULL;
	ae_delete(shape);
	if (!s) {
		snprintf(t->error, sizeof(t->error), "out of memory");
		return TRIAL_FAILED;
	}
	s->lambda = details_number(t->params, "lambda");
	s->lambda_hidden = details_number(t->params, "lambda_hidden");
	struct trial_hooks hooks = { .epoch = eb_epoch,
				     .ctx = s,
				     .latent_bn = 1,
				     .hidden_bn = arch.hidden_bn,
				     .ready = eb_ready,
				     .after_step = eb_step };
	run_budget_hooks(&o->run, &hooks);
	struct ae *m;
	enum trial_state status = trial_train(c, t, &hooks, &m);
	if (status != TRIAL_COMPLETE) {
		run_free(s);
		return status;
	}
	int full_count = eb_active(m->params + m->gamma_off, m->params + m->beta_off, K);
	int frozen = 0, hidden_alive = 0, hidden_units = s->n - K;
	for (int k = 0; k < K; k++)
		frozen += s->frozen[m->bn_unit[m->latent_layer] + k];
	for (int i = 0; i < s->n_layers; i++) {
		int l = s->layers[i];
		const float *gamma = m->params + m->bn_off[l], *beta = gamma + s->sizes[i];
		if (l != m->latent_layer)
			hidden_alive += eb_active(gamma, beta, s->sizes[i]);
	}
	uint64_t full_flops = flops_tuning(&t->flops);
	int searched = t->epochs_run; /* the cut network goes on from these */
	int found = s->ticket_epoch > 0, pruned_hidden = 0;
	int chosen = full_count > 0 ? full_count : 1;
	t->latent = chosen;
	if (o->delivery == EB_DELIVER_FRESH)
		status = trial_deliver(c, t, chosen);
	else
		status = deliver_ticket(c, t, m, &pruned_hidden);
	ae_delete(m);
	char stable[96] = "";
	for (int r = 0, at = 0; r < o->n_keep; r++)
		at += snprintf(stable + at, sizeof(stable) - (size_t)at, "%s%d", r ? "," : "",
			       s->stable_epoch[r]);
	snprintf(t->details, sizeof(t->details),
		 "{\"k_max\":%d,\"lambda\":%g,\"lambda_hidden\":%g,\"ticket\":%s,"
		 "\"ticket_epoch\":%d,\"k_at_ticket\":%d,\"frozen_at_ticket\":%d,"
		 "\"stable_epoch_by_keep\":[%s],\"k_full_budget\":%d,\"frozen\":%d,"
		 "\"hidden_alive\":%d,\"hidden_units\":%d,\"hidden_pruned\":%d,"
		 "\"tuning_flops_at_ticket\":%llu,\"tuning_flops_full_budget\":%llu,"
		 "\"stable_epochs\":%d,\"delivery\":\"%s\",\"delivered_epochs\":%d}",
		 K, s->lambda, s->lambda_hidden, found ? "true" : "false", s->ticket_epoch,
		 found ? s->ticket_count : -1, found ? s->ticket_frozen : -1, stable, full_count,
		 frozen, hidden_alive, hidden_units, pruned_hidden,
		 (unsigned long long)(found ? s->ticket_flops : full_flops),
		 (unsigned long long)full_flops, s->stable_epochs,
		 o->delivery == EB_DELIVER_FRESH ? "fresh" : "ticket",
		 c->exp->delivery_epochs + (o->delivery == EB_DELIVER_FRESH ? 0 : searched));
	run_free(s);
	return status;
}

/* The decision at the count after the full budget, charged for the whole run; flagged
 * collapsed when no unit is left, not converged when the count moved in its last eb.stable
 * epochs. */
static int eb_decide(const struct experiment *e, long seed, const struct trial_record *trials,
		     int n, struct decision_record *d)
{
	if (decide_single(seed, trials, n, 0, d))
		return -1;
	int stable = settings_of(e)->stable;
	double run = details_number(d->details, "stable_epochs");
	/* the count itself (0: every unit pruned, collapsed); k_max's edge is judged by the
	 * caller, so no saturation here */
	double count = details_number(d->details, "k_full_budget");
	count_decision_flag(d,
			    count_flag(isfinite(count) ? (int)count : d->chosen_latent, 0,
				       isfinite(run) ? (int)run : 0, stable),
			    stable);
	return 0;
}

const struct strategy earlybird_strategy = {
	.name = "earlybird",
	.settings = &eb_settings,
	.plan = eb_plan,
	.run = eb_run_trial,
	.decide = eb_decide,
};
