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

/* ---- settings, shared by every estimator ---- */

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
	{ .name = "lpca.fit",
	  .type = SETTING_WORD,
	  .offset = S(p.lpca_fit),
	  .def = "pointwise",
	  .help = "pointwise (the mean of every point's count) or global (one count of the "
		  "whole sample, the thesis's local PCA)",
	  .words = "pointwise|global" },
	{ .name = "pca.variance",
	  .type = SETTING_DOUBLE,
	  .offset = S(p.pca_variance),
	  .lo = 1e-9,
	  .hi = 1,
	  .def = SETTING_NUMBER(PCA_DEFAULT_VARIANCE),
	  .help = "the fraction of the variance the leading components must explain" },
	{ .name = "corrint.k1",
	  .type = SETTING_INT,
	  .offset = S(p.corrint_k1),
	  .lo = 1,
	  .hi = 1e5,
	  .def = SETTING_NUMBER(CORRINT_DEFAULT_K1),
	  .help = "CorrInt's smaller scale: the median distance to this neighbour" },
	{ .name = "corrint.k2",
	  .type = SETTING_INT,
	  .offset = S(p.corrint_k2),
	  .lo = 2,
	  .hi = 1e5,
	  .def = SETTING_NUMBER(CORRINT_DEFAULT_K2),
	  .help = "CorrInt's larger scale, above corrint.k1" },
	{ .name = "mom.k",
	  .type = SETTING_INT,
	  .offset = S(p.mom_k),
	  .lo = 2,
	  .hi = 1e5,
	  .def = SETTING_NUMBER(MOM_DEFAULT_K),
	  .help = "neighbours of the method of moments" },
	{ .name = "tle.k",
	  .type = SETTING_INT,
	  .offset = S(p.tle_k),
	  .lo = 2,
	  .hi = 1e4,
	  .def = SETTING_NUMBER(TLE_DEFAULT_K),
	  .help = "neighbours of TLE" },
	{ .name = "tle.epsilon",
	  .type = SETTING_DOUBLE,
	  .offset = S(p.tle_epsilon),
	  .lo = 0,
	  .hi = 1e6,
	  .def = SETTING_NUMBER(TLE_DEFAULT_EPSILON),
	  .help = "TLE drops measurements and distances below this" },
	{ .name = "mada.k",
	  .type = SETTING_INT,
	  .offset = S(p.mada_k),
	  .lo = 2,
	  .hi = 1e5,
	  .def = SETTING_NUMBER(MADA_DEFAULT_K),
	  .help = "MADA's neighbours: the k-th against the floor(k/2)-th" },
	{ .name = "ess.k",
	  .type = SETTING_INT,
	  .offset = S(p.ess_k),
	  .lo = 3,
	  .hi = 100,
	  .def = SETTING_NUMBER(ESS_DEFAULT_K),
	  .help = "neighbours of ESS, every pair of them used (above 100 the reference samples "
		  "5000 pairs at random)" },
	{ .name = "fishers.conditional_number",
	  .type = SETTING_DOUBLE,
	  .offset = S(p.fishers_conditional_number),
	  .lo = 1,
	  .hi = 1e12,
	  .def = SETTING_NUMBER(FISHERS_DEFAULT_CONDITIONAL_NUMBER),
	  .help = "FisherS keeps the components with eigenvalues above the largest over this" },
	{ .name = "danco.k",
	  .type = SETTING_INT,
	  .offset = S(p.danco_k),
	  .lo = 2,
	  .hi = 1000,
	  .def = SETTING_NUMBER(DANCO_DEFAULT_K),
	  .help = "neighbours of DANCo" },
	{ .name = "danco.D",
	  .type = SETTING_INT,
	  .offset = S(p.danco_max_dim),
	  .lo = 0,
	  .hi = 1e5,
	  .def = "0",
	  .help = "the largest dimension DANCo simulates, 0 for the ambient dimension" },
	{ .name = "danco.calibration",
	  .type = SETTING_WORD,
	  .offset = S(p.danco_calibration),
	  .def = "skdim",
	  .help = "skdim (each ball's likelihood over [0, k], as scikit-dimension has it) or "
		  "original (over [0, 2d + 5], as the R package and Ceruti et al.)",
	  .words = "skdim|original" },
};

/* Across keys: CorrInt's two scales in order. */
static int id_finish(struct experiment *e, void *block, int used, char *why, size_t size,
		     const char **key)
{
	(void)e;
	const struct id_settings *o = block;
	if (used && o->p.corrint_k1 >= o->p.corrint_k2) {
		snprintf(why, size, "corrint.k1 = %d must be below corrint.k2 = %d",
			 o->p.corrint_k1, o->p.corrint_k2);
		*key = "corrint.k1";
		return -1;
	}
	return 0;
}

static const struct settings id_settings = { "intrinsic-dimension estimators", id_keys,
					     SETTINGS_COUNT(id_keys), sizeof(struct id_settings),
					     id_finish };

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
	id_setting_text(est, &o->p, setting, sizeof(setting));
	char de[24];
	snprintf(t->key, sizeof(t->key), "%s/%s/n=%d/kmax=%d/seed=%ld%s", name, setting, o->n,
		 e->k_max, seed, delivery_key(e, de));
	/* no training chooses the width: the trial's training is the model delivered at it */
	snprintf(t->role, sizeof(t->role), "delivery");
	t->latent = e->k_max;
	t->seed = seed;
	snprintf(t->params, sizeof(t->params), "{\"estimator\":\"%s\",\"n\":%d}", name, o->n);
	return 1;
}

/* The key whose neighbours an estimator reads, for the message when there are too few. */
static const char *neighbour_key(enum id_estimator est)
{
	switch (est) {
	case ID_LPCA: return "lpca.k";
	case ID_MLE: return "mle.k";
	case ID_CORRINT: return "corrint.k2";
	case ID_MOM: return "mom.k";
	case ID_TLE: return "tle.k";
	case ID_MADA: return "mada.k";
	case ID_ESS: return "ess.k";
	case ID_DANCO: return "danco.k + 1";
	default: return "twonn";
	}
}

/* Enough points for the estimator's neighbours, before anything runs. */
static int check(const struct experiment *e, const struct dataset *d, enum id_estimator est)
{
	const struct id_settings *o = settings_of(e);
	size_t n = d->train.n;
	size_t points = o->n > 0 && (size_t)o->n < n ? (size_t)o->n : n;
	int k = id_neighbours(est, &o->p);
	if (k > 0 && points <= (size_t)k)
		return ds_fail("[%s] %s = %d neighbours need more than %zu points (the estimators "
			       "use %zu of %s): lower it, or raise id.n or n_train",
			       e->name, neighbour_key(est), k, points, points, e->dataset);
	if (points < 3)
		return ds_fail("[%s] %s needs at least 3 points (the estimators use %zu of %s): "
			       "raise id.n or n_train", e->name, id_estimator_name(est), points,
			       e->dataset);
	if ((double)points * (double)points * d->dim > KNN_MAX_WORK)
		return ds_fail("[%s] id.n: the neighbour search over %zu points in R^%d would take "
			       "hours: set id.n to a sample size such as 5000",
			       e->name, points, d->dim);
	return 0;
}

/* plan_NAME and check_NAME for each estimator: the strategy interface has no context
 * argument to carry which one */
#define ID_STRATEGY_FUNCTIONS(id, est)                                                          \
	static int plan_##id(const struct experiment *e, long s, struct trial_record *t, int max) \
	{                                                                                       \
		return plan(e, s, t, max, est);                                                 \
	}                                                                                       \
	static int check_##id(const struct experiment *e, const struct dataset *d)              \
	{                                                                                       \
		return check(e, d, est);                                                        \
	}

ID_STRATEGY_FUNCTIONS(lpca, ID_LPCA)
ID_STRATEGY_FUNCTIONS(mle, ID_MLE)
ID_STRATEGY_FUNCTIONS(twonn, ID_TWONN)
ID_STRATEGY_FUNCTIONS(pca, ID_PCA)
ID_STRATEGY_FUNCTIONS(corrint, ID_CORRINT)
ID_STRATEGY_FUNCTIONS(mom, ID_MOM)
ID_STRATEGY_FUNCTIONS(tle, ID_TLE)
ID_STRATEGY_FUNCTIONS(mada, ID_MADA)
ID_STRATEGY_FUNCTIONS(ess, ID_ESS)
ID_STRATEGY_FUNCTIONS(fishers, ID_FISHERS)
ID_STRATEGY_FUNCTIONS(danco, ID_DANCO)

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
	struct knn nn = { 0 };
	struct lpca_result lp = { NAN, NAN, NAN };
	double estimate = NAN;
	struct id_params p = o->p;
	p.seed = (uint64_t)t->seed; /* DANCo's simulated balls follow the trial's seed */
	if (k == 0 || knn_search(x, n, D, k, c->threads, &nn, &overhead) == 0) {
		estimate = id_estimate(est, &p, x, n, D, k ? &nn : NULL, c->threads, &lp,
				       &overhead);
		knn_free(&nn);
	}
	free(x);
	if (!isfinite(estimate) || estimate <= 0) {
		const char *name = id_estimator_name(est), *why = ds_errmsg();
		/* most messages begin with the estimator's name already */
		if (!strncmp(why, name, strlen(name)))
			snprintf(t->error, sizeof(t->error), "%s", why);
		else
			snprintf(t->error, sizeof(t->error), "%s: %s", name,
				 why[0] ? why : "no finite estimate");
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

/* The strategy of one estimator, named as the estimator is */
#define ID_STRATEGY(id)                                                                         \
	const struct strategy id##_strategy = { .name = #id,                                    \
					.settings = &id_settings,                               \
					.plan = plan_##id,                                      \
					.run = run,                                             \
					.check = check_##id }

ID_STRATEGY(lpca);
ID_STRATEGY(mle);
ID_STRATEGY(twonn);
ID_STRATEGY(pca);
ID_STRATEGY(corrint);
ID_STRATEGY(mom);
ID_STRATEGY(tle);
ID_STRATEGY(mada);
ID_STRATEGY(ess);
ID_STRATEGY(fishers);
ID_STRATEGY(danco);

int id_settings_set(struct id_params *p, const char *assignment, char *why, size_t size)
{
	char text[256];
	snprintf(text, sizeof(text), "%s", assignment);
	char *eq = strchr(text, '=');
	if (!eq) {
		snprintf(why, size, "'%s' is not KEY=VALUE", assignment);
		return -1;
	}
	*eq = '\0';
	const char *key = setting_trim(text), *value = setting_trim(eq + 1);
	for (int i = 0; i < SETTINGS_COUNT(id_keys); i++) {
		const struct setting *s = &id_keys[i];
		if (strcmp(s->name, key))
			continue;
		if (s->offset == S(n)) {
			snprintf(why, size, "id.n is --n here");
			return -1;
		}
		struct id_settings block = { .p = *p };
		if (setting_parse(s, &block, value, why, size))
			return -1;
		*p = block.p;
		return 0;
	}
	snprintf(why, size, "'%s' is not an estimator's key (see README's key table)", key);
	return -1;
}
