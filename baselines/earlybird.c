/* earlybird.c: scale and shift on each latent unit, an L1 push on the scales, and a ticket
 * once the mask of the largest scales stops changing; the latent size is the number of units
 * still alive at the ticket. Delivery is one plain autoencoder at that size. */
#include "earlybird.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void eb_mask(const float *gamma, int K, double p, unsigned char *mask)
{
	double sorted[4096];
	for (int k = 0; k < K; k++)
		sorted[k] = fabs((double)gamma[k]);
	qsort(sorted, (size_t)K, sizeof(double), by_value);
	double pos = p * (K - 1);
	int lo = (int)floor(pos), hi = lo + 1 < K ? lo + 1 : lo;
	double q = sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
	for (int k = 0; k < K; k++)
		mask[k] = fabs((double)gamma[k]) > q;
}

double eb_distance(const unsigned char *a, const unsigned char *b, int K)
{
	int differ = 0;
	for (int k = 0; k < K; k++)
		differ += a[k] != b[k];
	return (double)differ / K;
}

int eb_window_push(struct eb_window *w, const unsigned char *mask, double eps, double *max_distance)
{
	int slot = w->count % EB_WINDOW;
	memcpy(w->masks[slot], mask, (size_t)w->K);
	w->count++;
	*max_distance = NAN;
	if (w->count < EB_WINDOW)
		return 0;
	double worst = 0;
	for (int i = 1; i < EB_WINDOW; i++) {
		int older = (slot - i + EB_WINDOW) % EB_WINDOW;
		double d = eb_distance(w->masks[slot], w->masks[older], w->K);
		worst = d > worst ? d : worst;
	}
	*max_distance = worst;
	return worst <= eps;
}

int eb_active(const float *gamma, const float *beta, int K)
{
	int n = 0;
	for (int k = 0; k < K; k++) {
		double g = fabs((double)gamma[k]);
		if (g > EB_ALIVE && 0.5 * erfc(-(beta[k] / g) / sqrt(2.0)) > EB_PHI)
			n++;
	}
	return n;
}

/* ---- settings ---- */

#define S(field) offsetof(struct eb_settings, field)

static const struct setting eb_keys[] = {
	{ .name = "eb.lambda",
	  .type = SETTING_DOUBLE,
	  .offset = S(lambda),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "0.1",
	  .help = "the L1 subgradient weight on the latent scales" },
	{ .name = "eb.p",
	  .type = SETTING_DOUBLE,
	  .offset = S(p),
	  .lo = 1e-6,
	  .hi = 1 - 1e-6,
	  .def = "0.5",
	  .help = "the mask's quantile of |gamma|, between 0 and 1 (neither: a mask of every "
		  "unit or of none never changes)" },
	{ .name = "eb.eps",
	  .type = SETTING_DOUBLE,
	  .offset = S(eps),
	  .lo = 0,
	  .hi = 1,
	  .def = "0.1",
	  .help = "ticket when the newest mask is this close to each of the 4 before it" },
};

const struct settings eb_settings = { "Early-Bird", eb_keys, SETTINGS_COUNT(eb_keys),
				      sizeof(struct eb_settings), NULL };

static const struct eb_settings *settings_of(const struct experiment *e)
{
	return experiment_settings(e, &eb_settings);
}

/* ---- the strategy ---- */

/* One run at K_max per seed. */
static int eb_plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	if (max < 1)
		return 1;
	const struct eb_settings *o = settings_of(e);
	struct trial_record *t = &trials[0];
	memset(t, 0, sizeof(*t));
	snprintf(t->strategy, sizeof(t->strategy), "earlybird");
	char de[24];
	snprintf(t->key, sizeof(t->key), "earlybird/lambda=%g/p=%g/eps=%g/K=%d/seed=%ld%s",
		 o->lambda, o->p, o->eps, e->k_max, seed, delivery_key(e, de));
	snprintf(t->role, sizeof(t->role), "search");
	t->latent = e->k_max;
	t->seed = seed;
	snprintf(t->params, sizeof(t->params), "{\"lambda\":%g,\"p\":%g,\"eps\":%g}", o->lambda,
		 o->p, o->eps);
	return 1;
}

/* What one Early-Bird run tracks while it trains. */
struct eb_run {
	const struct eb_settings *o;
	int K;
	unsigned char frozen[4096];
	struct eb_window window;
	int ticket_epoch;        /* 0 until found */
	int ticket_count;        /* units alive at the ticket */
	int ticket_frozen;       /* units frozen by then (more may freeze after it) */
	uint64_t ticket_flops;
};

/* |gamma| under the freezing threshold: set to 0, and kept there */
static void freeze(void *ctx, struct ae *m)
{
	struct eb_run *s = ctx;
	float *gamma = m->params + m->gamma_off;
	for (int k = 0; k < s->K; k++) {
		if (fabsf(gamma[k]) < EB_FREEZE)
			s->frozen[k] = 1;
		if (s->frozen[k]) {
			gamma[k] = 0.0f;
			m->adam_m[m->gamma_off + k] = m->adam_v[m->gamma_off + k] = 0.0f;
		}
	}
}

/* After each epoch: the mask, its distance to the last four, the count alive, the ticket. */
static int eb_epoch(void *ctx, struct epoch_record *e, struct ae *m)
{
	struct eb_run *s = ctx;
	const float *gamma = m->params + m->gamma_off, *beta = m->params + m->beta_off;
	unsigned char mask[4096];
	eb_mask(gamma, s->K, s->o->p, mask);
	double distance;
	int ticket = eb_window_push(&s->window, mask, s->o->eps, &distance);
	e->mask_distance = distance;
	e->active_latent = eb_active(gamma, beta, s->K);
	if (ticket && !s->ticket_epoch) {
		s->ticket_epoch = e->epoch;
		s->ticket_count = e->active_latent;
		s->ticket_flops = e->flops_tuning;
		for (int k = 0; k < s->K; k++)
			s->ticket_frozen += s->frozen[k];
	}
	return 0; /* the full budget runs, for the count after it */
}

/* The run with scales on the code layer; the count at the ticket names the size. */
static enum trial_state eb_run_trial(const struct trial_ctx *c, struct trial_record *t)
{
	const struct eb_settings *o = settings_of(c->exp);
	int K = t->latent;
	if (K > 4096) {
		snprintf(t->error, sizeof(t->error),
			 "Early-Bird handles at most 4096 latent units");
		return TRIAL_FAILED;
	}
	struct eb_run *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(t->error, sizeof(t->error), "out of memory");
		return TRIAL_FAILED;
	}
	s->o = o;
	s->K = K;
	s->window.K = K;
	struct trial_hooks hooks = { .epoch = eb_epoch,
				     .ctx = s,
				     .latent_bn = 1,
				     .gamma_l1 = o->lambda,
				     .after_step = freeze };
	struct ae *m;
	enum trial_state status = trial_train(c, t, &hooks, &m);
	if (status != TRIAL_COMPLETE) {
		free(s);
		return status;
	}
	int full_count = eb_active(m->params + m->gamma_off, m->params + m->beta_off, K);
	int frozen = 0;
	for (int k = 0; k < K; k++)
		frozen += s->frozen[k];
	ae_delete(m);
	uint64_t full_flops = flops_tuning(&t->flops);
	int found = s->ticket_epoch > 0;
	int chosen = found ? s->ticket_count : full_count;
	if (!found)
		s->ticket_flops = full_flops;
	status = trial_deliver(c, t, chosen);
	snprintf(t->details, sizeof(t->details),
		 "{\"k_max\":%d,\"lambda\":%g,\"p\":%g,\"eps\":%g,\"ticket\":%s,"
		 "\"ticket_epoch\":%d,\"k_at_ticket\":%d,\"frozen_at_ticket\":%d,"
		 "\"k_full_budget\":%d,\"frozen\":%d,"
		 "\"tuning_flops_at_ticket\":%llu,\"tuning_flops_full_budget\":%llu,"
		 "\"delivered_epochs\":%d}",
		 K, o->lambda, o->p, o->eps, found ? "true" : "false", s->ticket_epoch,
		 found ? s->ticket_count : -1, found ? s->ticket_frozen : -1, full_count, frozen,
		 (unsigned long long)s->ticket_flops, (unsigned long long)full_flops,
		 c->exp->delivery_epochs);
	free(s);
	return status;
}

/* Charged up to the ticket: what it needed to decide. */
static int eb_decide(const struct experiment *e, long seed, const struct trial_record *trials,
		     int n, struct decision_record *d)
{
	(void)e;
	/* what it needed to decide: training up to the ticket (or the whole budget) */
	double at = n ? details_number(trials[0].details, "tuning_flops_at_ticket") : NAN;
	return decide_single(seed, trials, n, isfinite(at) ? (uint64_t)at : 0, d);
}

const struct strategy earlybird_strategy = {
	.name = "earlybird",
	.settings = &eb_settings,
	.plan = eb_plan,
	.run = eb_run_trial,
	.decide = eb_decide,
};
