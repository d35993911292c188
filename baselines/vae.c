/* vae.c: VAE overpruning (Asperti 2019): train a VAE with a generous K_max and count the
 * latent units it keeps active, by Asperti's criterion Var_x(mu_k) >= 0.05; the count is the
 * latent size, taken only once it has held for vae.stable epochs and when it is below K_max.
 * Delivery is one plain autoencoder trained at that size. */
#include "vae.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

struct vae_settings {
	double beta; /* KL weight */
	int stable;  /* epochs the count must hold before it decides */
};

static const struct setting vae_keys[] = {
	{ .name = "vae.beta",
	  .type = SETTING_DOUBLE,
	  .offset = offsetof(struct vae_settings, beta),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "1",
	  .help = "the KL weight: loss = per-element loss + beta * KL / D per example; with "
		  "loss = bce, 1 is the Bernoulli ELBO; with mse, the Gaussian ELBO of variance "
		  "beta / 2" },
	{ .name = "vae.stable",
	  .type = SETTING_INT,
	  .offset = offsetof(struct vae_settings, stable),
	  .lo = 1,
	  .hi = 1e6,
	  .def = "5",
	  .help = "the active count must be the same over this many last epochs, or the "
		  "decision is flagged not converged; 1 for no check" },
};

static const struct settings vae_settings = { "VAE", vae_keys, SETTINGS_COUNT(vae_keys),
					      sizeof(struct vae_settings), NULL };

static const struct vae_settings *settings_of(const struct experiment *e)
{
	return experiment_settings(e, &vae_settings);
}

/* ---- counting and flags ---- */

struct vae_counts vae_count_active(const double *var_mu, const double *mean_sigma2, int K)
{
	struct vae_counts c = { 0, 0, 0, INFINITY, -INFINITY, INFINITY, -INFINITY };
	for (int k = 0; k < K; k++) {
		int active = var_mu[k] >= VAE_ACTIVE_VAR_MU;
		double law = var_mu[k] + mean_sigma2[k];
		c.asperti += active;
		c.burda += var_mu[k] > 0.01;
		c.sigma += mean_sigma2[k] < 0.95;
		c.law_min = fmin(c.law_min, law);
		c.law_max = fmax(c.law_max, law);
		if (active) {
			c.law_active_min = fmin(c.law_active_min, law);
			c.law_active_max = fmax(c.law_active_max, law);
		}
	}
	if (!c.asperti)
		c.law_active_min = c.law_active_max = NAN;
	return c;
}

/* ---- the strategy ---- */

/* One VAE at K_max per seed. */
static int vae_plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	if (max < 1)
		return 1;
	double beta = settings_of(e)->beta;
	struct trial_record *t = &trials[0];
	memset(t, 0, sizeof(*t));
	snprintf(t->strategy, sizeof(t->strategy), "vae");
	char de[24];
	/* "active=0.05": delivered at Asperti's count, with the count of every epoch */
	snprintf(t->key, sizeof(t->key), "vae/beta=%g/active=%g/K=%d/seed=%ld%s", beta,
		 VAE_ACTIVE_VAR_MU, e->k_max, seed, delivery_key(e, de));
	snprintf(t->role, sizeof(t->role), "search");
	t->latent = e->k_max;
	t->seed = seed;
	snprintf(t->params, sizeof(t->params), "{\"beta\":%g,\"epochs\":%d}", beta, e->epochs);
	return 1;
}

/* What one VAE run tracks while it trains: Asperti's count after every epoch. */
struct vae_run {
	const struct trial_ctx *c;
	struct trial_record *t; /* its flops are the training's running total */
	double *var_mu, *mean_sigma2;
	int last;		/* the latest epoch's count */
	int run;		/* epochs in a row with that count */
	int failed;		/* the statistics pass failed: ds_errmsg() */
};

/* After each epoch: the units' statistics on the validation split (the training split when
 * there is none), counted as the strategy's overhead, and Asperti's count. */
static int vae_epoch(void *ctx, struct epoch_record *e, struct ae *m)
{
	struct vae_run *s = ctx;
	const struct dataset *d = s->c->data;
	const struct split *on = d->val.n >= 2 ? &d->val : &d->train;
	uint64_t before = s->t->flops.overhead;
	if (ae_vae_statistics(m, on, s->c->threads, s->var_mu, s->mean_sigma2, &s->t->flops)) {
		s->failed = 1;
		return 1;
	}
	e->flops_tuning += s->t->flops.overhead - before;
	int active = vae_count_active(s->var_mu, s->mean_sigma2, m->arch.latent).asperti;
	e->active_latent = active;
	s->run = e->epoch > 1 && active == s->last ? s->run + 1 : 1;
	s->last = active;
	return 0;
}

/* Train the VAE, count its active units, deliver a plain autoencoder of that width. */
static enum trial_state vae_run(const struct trial_ctx *c, struct trial_record *t)
{
	const struct vae_settings *o = settings_of(c->exp);
	int K = t->latent;
	double *var_mu = malloc(sizeof(double) * K), *mean_sigma2 = malloc(sizeof(double) * K);
	double *zero = calloc(K, sizeof(double));
	struct vae_run s = { .c = c, .t = t, .var_mu = var_mu, .mean_sigma2 = mean_sigma2 };
	if (!var_mu || !mean_sigma2 || !zero) {
		free(var_mu);
		free(mean_sigma2);
		free(zero);
		snprintf(t->error, sizeof(t->error), "out of memory");
		return TRIAL_FAILED;
	}
	struct trial_hooks hooks = { .vae = 1, .vae_beta = o->beta, .epoch = vae_epoch, .ctx = &s };
	struct ae *m = NULL;
	enum trial_state status = trial_train(c, t, &hooks, &m);
	if (status == TRIAL_COMPLETE &&
	    (s.failed ||
	     ae_vae_statistics(m, &c->data->train, c->threads, var_mu, mean_sigma2, &t->flops))) {
		snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
		status = TRIAL_FAILED;
	}
	ae_delete(m);
	if (status != TRIAL_COMPLETE) {
		free(var_mu);
		free(mean_sigma2);
		free(zero);
		return status;
	}
	/* the decision's counts are the training split's, at the end */
	struct vae_counts n = vae_count_active(var_mu, mean_sigma2, K);
	if (c->on_activity)
		c->on_activity(c->ctx, t, K, zero, zero, var_mu, mean_sigma2);
	free(var_mu);
	free(mean_sigma2);
	free(zero);
	int epochs = t->epochs_run;
	status = trial_deliver(c, t, n.asperti);
	char lmin[32], lmax[32];
	snprintf(t->details, sizeof(t->details),
		 "{\"k_max\":%d,\"beta\":%g,\"rule\":\"var_mu>=0.05\","
		 "\"active_var_mu_0.05\":%d,\"active_var_mu_0.01\":%d,"
		 "\"active_sigma2_0.95\":%d,\"variance_law_min\":%.6g,\"variance_law_max\":%.6g,"
		 "\"variance_law_active_min\":%s,\"variance_law_active_max\":%s,"
		 "\"active_val_last_epoch\":%d,\"stable_epochs\":%d,\"epochs_run\":%d,"
		 "\"delivered_epochs\":%d}",
		 K, o->beta, n.asperti, n.burda, n.sigma, n.law_min, n.law_max,
		 json_number(lmin, n.law_active_min), json_number(lmax, n.law_active_max), s.last,
		 s.run, epochs, c->exp->delivery_epochs);
	return status;
}

/* The count at the end, flagged when it is K_max or has not held for vae.stable epochs. */
static int vae_decide(const struct experiment *e, long seed, const struct trial_record *trials,
		      int n, struct decision_record *d)
{
	if (decide_single(seed, trials, n, 0, d))
		return -1;
	int stable = settings_of(e)->stable;
	double active = details_number(d->details, "active_var_mu_0.05");
	double k_max = details_number(d->details, "k_max");
	double run = details_number(d->details, "stable_epochs");
	if (!isfinite(active) || !isfinite(k_max))
		return ds_fail("vae (seed %ld): its trial holds no active count", seed);
	count_decision_flag(d, count_flag((int)active, (int)k_max, isfinite(run) ? (int)run : 0,
					  stable),
			    stable);
	return 0;
}

const struct strategy vae_strategy = {
	.name = "vae",
	.settings = &vae_settings,
	.plan = vae_plan,
	.run = vae_run,
	.decide = vae_decide,
};
