/* idstrategy.c: the intrinsic-dimension estimators as strategies: estimate on a sample of
 * the training set (tuning: neighbour search and eigen work, no training), choose
 * K = ceil(estimate), then train one autoencoder at K (delivery). */
#include "idstrategy.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "idest.h"

/* ---- settings, shared by the three ---- */

struct id_settings {
	int n; /* training points they look at, 0 for all */
	struct id_params p;
};

#define S(field) offsetof(struct id_settings, field)

static const struct setting id_keys[] = {
	{ .name = "id.n",
	  .type = SETTING_INT,
	  .offset = S(n),
	  .lo = 0,
	  .hi = 1e7,
	  .def = "2500",
	  .help = "training points the estimators use (a seeded sample), 0 for all" },
	{ .name = "lpca.k",
	  .type = SETTING_INT,
	  .offset = S(p.lpca_k),
	  .lo = 2,
	  .hi = 1e5,
	  .def = SETTING_NUMBER(LPCA_DEFAULT_K),
	  .help = "neighbours of local PCA" },
	{ .name = "lpca.alpha",
	  .type = SETTING_DOUBLE,
	  .offset = S(p.lpca_alpha),
	  .lo = 1e-9,
	  .hi = 1,
	  .def = SETTING_NUMBER(LPCA_DEFAULT_ALPHA),
	  .help = "eigenvalues above alpha times the largest count" },
	{ .name = "mle.k",
	  .type = SETTING_INT,
	  .offset = S(p.mle_k),
	  .lo = 2,
	  .hi = 1e5,
	  .def = SETTING_NUMBER(MLE_DEFAULT_K),
	  .help = "neighbours of the MLE" },
	{ .name = "twonn.discard",
	  .type = SETTING_DOUBLE,
	  .offset = S(p.twonn_discard),
	  .lo = 0,
	  .hi = 0.99,
	  .def = SETTING_NUMBER(TWONN_DEFAULT_DISCARD),
	  .help = "fraction of the largest ratios TwoNN drops" },
};

static const struct settings id_settings = { "intrinsic-dimension estimators", id_keys,
					     SETTINGS_COUNT(id_keys), sizeof(struct id_settings),
					     NULL };

static const struct id_settings *settings_of(const struct experiment *e)
{
	return experiment_settings(e, &id_settings);
}

static enum id_estimator which(const char *strategy)
{
	enum id_estimator est = ID_TWONN;
	id_estimator_parse(strategy, &est);
	return est;
}

/* One trial per seed: the estimate, then one autoencoder at its ceiling. */
static int plan(const struct experiment *e, long seed, struct trial_record *trials, int max,
		enum id_estimator est)
{
	if (max < 1)
		return 1;
	const struct id_settings *o = settings_of(e);
	const char *name = id_estimator_name(est);
	struct trial_record *t = &trials[0];
	memset(t, 0, sizeof(*t));
	snprintf(t->strategy, sizeof(t->strategy), "%s", name);
	char setting[64];
	if (est == ID_LPCA)
		snprintf(setting, sizeof(setting), "k=%d/alpha=%g", o->p.lpca_k, o->p.lpca_alpha);
	else if (est == ID_MLE)
		snprintf(setting, sizeof(setting), "k=%d", o->p.mle_k);
	else
		snprintf(setting, sizeof(setting), "discard=%g", o->p.twonn_discard);
	char de[24];
	snprintf(t->key, sizeof(t->key), "%s/%s/n=%d/kmax=%d/seed=%ld%s", name, setting, o->n,
		 e->k_max, seed, delivery_key(e, de));
	snprintf(t->role, sizeof(t->role), "search");
	t->latent = e->k_max;
	t->seed = seed;
	snprintf(t->params, sizeof(t->params), "{\"estimator\":\"%s\",\"n\":%d}", name, o->n);
	return 1;
}

static int plan_lpca(const struct experiment *e, long s, struct trial_record *t, int max)
{
	return plan(e, s, t, max, ID_LPCA);
}

static int plan_mle(const struct experiment *e, long s, struct trial_record *t, int max)
{
	return plan(e, s, t, max, ID_MLE);
}

static int plan_twonn(const struct experiment *e, long s, struct trial_record *t, int max)
{
	return plan(e, s, t, max, ID_TWONN);
}

/* Enough points for the estimator's neighbours, before anything runs. */
static int check(const struct experiment *e, const struct dataset *d, enum id_estimator est,
		 const char *key)
{
	const struct id_settings *o = settings_of(e);
	size_t n = d->train.n;
	size_t points = o->n > 0 && (size_t)o->n < n ? (size_t)o->n : n;
	int k = id_neighbours(est, &o->p);
	if (points <= (size_t)k)
		return ds_fail("[%s] %s = %d neighbours need more than %zu points (the estimators "
			       "use %zu of %s): lower it, or raise id.n or n_train",
			       e->name, key, k, points, points, e->dataset);
	if ((double)points * (double)points * d->dim > KNN_MAX_WORK)
		return ds_fail("[%s] id.n: the neighbour search over %zu points in R^%d would take "
			       "hours: set id.n to a sample size such as 5000",
			       e->name, points, d->dim);
	return 0;
}

static int check_lpca(const struct experiment *e, const struct dataset *d)
{
	return check(e, d, ID_LPCA, "lpca.k");
}

static int check_mle(const struct experiment *e, const struct dataset *d)
{
	return check(e, d, ID_MLE, "mle.k");
}

static int check_twonn(const struct experiment *e, const struct dataset *d)
{
	return check(e, d, ID_TWONN, "twonn");
}

/* A seeded sample of the training rows (all of them when n is 0 or larger). */
static float *sample(const struct split *s, int n, long seed, size_t *count)
{
	size_t m = n > 0 && (size_t)n < s->n ? (size_t)n : s->n;
	int *order = malloc(sizeof(int) * s->n);
	float *x = malloc(sizeof(float) * m * s->dim);
	if (!order || !x) {
		free(order);
		free(x);
		return NULL;
	}
	for (size_t i = 0; i < s->n; i++)
		order[i] = (int)i;
	struct rng r;
	rng_seed(&r, (uint64_t)seed ^ 0x1d5a3b1eULL);
	if (m < s->n)
		rng_shuffle(&r, order, s->n);
	for (size_t i = 0; i < m; i++)
		memcpy(x + i * s->dim, s->x + (size_t)order[i] * s->dim, sizeof(float) * s->dim);
	free(order);
	*count = m;
	return x;
}

/* Estimate on a sample of the training set (tuning), then deliver at ceil(estimate). */
static enum trial_state run(const struct trial_ctx *c, struct trial_record *t)
{
	const struct experiment *e = c->exp;
	const struct id_settings *o = settings_of(e);
	enum id_estimator est = which(t->strategy);
	size_t n;
	float *x = sample(&c->data->train, o->n, t->seed, &n);
	if (!x) {
		snprintf(t->error, sizeof(t->error), "out of memory sampling the training set");
		return TRIAL_FAILED;
	}
	int D = c->data->dim;
	int k = id_neighbours(est, &o->p);
	uint64_t overhead = 0;
	struct knn nn;
	struct lpca_result lp = { NAN, NAN, NAN };
	double estimate = NAN;
	if (knn_search(x, n, D, k, c->threads, &nn, &overhead) == 0) {
		estimate = id_estimate(est, &o->p, x, n, D, &nn, c->threads, &lp, &overhead);
		knn_free(&nn);
	}
	free(x);
	if (!isfinite(estimate) || estimate <= 0) {
		snprintf(t->error, sizeof(t->error), "%s: %s", id_estimator_name(est),
			 ds_errmsg()[0] ? ds_errmsg() : "no finite estimate");
		return TRIAL_FAILED;
	}
	int K = (int)ceil(estimate - 1e-9);
	int clamped = K < 1 || K > e->k_max;
	K = K < 1 ? 1 : K > e->k_max ? e->k_max : K;
	/* the estimation is tuning; one autoencoder at the chosen width is delivery */
	memset(&t->flops, 0, sizeof(t->flops));
	t->flops.overhead = overhead;
	enum trial_state status = trial_deliver(c, t, K);
	char med[32], glob[32], truth[32];
	snprintf(t->details, sizeof(t->details),
		 "{\"estimator\":\"%s\",\"estimate\":%.6g,\"k_chosen\":%d,\"clamped\":%s,"
		 "\"points\":%zu,\"k\":%d,\"lpca_median\":%s,\"lpca_global\":%s,"
		 "\"true_dimension\":%s,\"estimate_flops\":%llu,\"delivered_epochs\":%d}",
		 id_estimator_name(est), estimate, K, clamped ? "true" : "false", n, k,
		 json_number(med, lp.median), json_number(glob, lp.global),
		 json_number(truth, c->data->true_dim > 0 ? c->data->true_dim : NAN),
		 (unsigned long long)overhead, e->delivery_epochs);
	return status;
}

const struct strategy lpca_strategy = {
	.name = "lpca", .settings = &id_settings, .plan = plan_lpca, .run = run, .check = check_lpca
};
const struct strategy mle_strategy = {
	.name = "mle", .settings = &id_settings, .plan = plan_mle, .run = run, .check = check_mle
};
const struct strategy twonn_strategy = { .name = "twonn",
					 .settings = &id_settings,
					 .plan = plan_twonn,
					 .run = run,
					 .check = check_twonn };
