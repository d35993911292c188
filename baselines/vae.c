/* vae.c: VAE overpruning (Asperti 2019): train a VAE with a generous K_max and count the
 * latent units it keeps active; the count is the latent size. Delivery is one plain
 * autoencoder trained at that size. */
#include "vae.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"

struct vae_settings {
	double beta; /* KL weight */
};

static const struct setting vae_keys[] = {
	{ .name = "vae.beta",
	  .type = SETTING_DOUBLE,
	  .offset = offsetof(struct vae_settings, beta),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "1",
	  .help = "the KL weight: loss = MSE + beta * KL / D per example, 1 for the plain ELBO" },
};

static const struct settings vae_settings = { "VAE", vae_keys, SETTINGS_COUNT(vae_keys),
					      sizeof(struct vae_settings), NULL };

static double beta_of(const struct experiment *e)
{
	return ((const struct vae_settings *)experiment_settings(e, &vae_settings))->beta;
}

/* One VAE at K_max per seed. */
static int vae_plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	if (max < 1)
		return 1;
	double beta = beta_of(e);
	struct trial_record *t = &trials[0];
	memset(t, 0, sizeof(*t));
	snprintf(t->strategy, sizeof(t->strategy), "vae");
	char de[24];
	snprintf(t->key, sizeof(t->key), "vae/beta=%g/K=%d/seed=%ld%s", beta, e->k_max, seed,
		 delivery_key(e, de));
	snprintf(t->role, sizeof(t->role), "search");
	t->latent = e->k_max;
	t->seed = seed;
	snprintf(t->params, sizeof(t->params), "{\"beta\":%g,\"epochs\":%d}", beta, e->epochs);
	return 1;
}

/* the three counts of active units; the first decides */
struct counts {
	int burda;		 /* Var(mu) > 0.01 */
	int asperti;		 /* Var(mu) >= 0.05 */
	int sigma;		 /* mean sigma^2 < 0.95 */
	double law_min, law_max; /* Var(mu) + E[sigma^2] over the units */
};

/* The counts of active units by three rules, and the range of the variance law. */
static struct counts count_active(const double *var_mu, const double *mean_var, int K)
{
	struct counts c = { 0, 0, 0, INFINITY, -INFINITY };
	for (int k = 0; k < K; k++) {
		c.burda += var_mu[k] > 0.01;
		c.asperti += var_mu[k] >= 0.05;
		c.sigma += mean_var[k] < 0.95;
		double law = var_mu[k] + mean_var[k];
		c.law_min = fmin(c.law_min, law);
		c.law_max = fmax(c.law_max, law);
	}
	return c;
}

/* Train the VAE, count its active units, deliver a plain autoencoder of that width. */
static enum trial_state vae_run(const struct trial_ctx *c, struct trial_record *t)
{
	double beta = beta_of(c->exp);
	int K = t->latent;
	struct trial_hooks hooks = { .vae = 1, .vae_beta = beta };
	struct ae *m;
	enum trial_state status = trial_train(c, t, &hooks, &m);
	if (status != TRIAL_COMPLETE)
		return status;
	double *var_mu = malloc(sizeof(double) * K), *mean_var = malloc(sizeof(double) * K);
	double *zero = calloc(K, sizeof(double));
	if (!var_mu || !mean_var || !zero ||
	    ae_vae_statistics(m, &c->data->train, c->threads, var_mu, mean_var, &t->flops)) {
		snprintf(t->error, sizeof(t->error), "%s",
			 ds_errmsg()[0] ? ds_errmsg() : "no memory");
		free(var_mu);
		free(mean_var);
		free(zero);
		ae_delete(m);
		return TRIAL_FAILED;
	}
	ae_delete(m);
	struct counts n = count_active(var_mu, mean_var, K);
	if (c->on_activity)
		c->on_activity(c->ctx, t, K, zero, zero, var_mu, mean_var);
	free(var_mu);
	free(mean_var);
	free(zero);
	status = trial_deliver(c, t, n.burda);
	snprintf(t->details, sizeof(t->details),
		 "{\"k_max\":%d,\"beta\":%g,\"active_var_mu_0.01\":%d,\"active_var_mu_0.05\":%d,"
		 "\"active_sigma2_0.95\":%d,\"variance_law_min\":%.6g,\"variance_law_max\":%.6g,"
		 "\"delivered_epochs\":%d}",
		 K, beta, n.burda, n.asperti, n.sigma, n.law_min, n.law_max,
		 c->exp->delivery_epochs);
	return status;
}

const struct strategy vae_strategy = {
	.name = "vae",
	.settings = &vae_settings,
	.plan = vae_plan,
	.run = vae_run,
};
