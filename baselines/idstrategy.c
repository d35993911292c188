/* idstrategy.c: the intrinsic-dimension estimators as strategies: estimate on a sample of
 * the training set (tuning: neighbour search and eigen work, no training), choose
 * K = ceil(estimate), then train one autoencoder at K (delivery). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../search/strategy.h"
#include "idest.h"

enum estimator { LPCA, MLE, TWONN };

static const char *names[] = { "lpca", "mle", "twonn" };

static enum estimator which(const struct trial_record *t)
{
	return !strcmp(t->strategy, "lpca") ? LPCA : !strcmp(t->strategy, "mle") ? MLE : TWONN;
}

static int plan(enum estimator est, const struct experiment *e, long seed,
		struct trial_record *trials, int max)
{
	if (max < 1)
		return 0;
	struct trial_record *t = &trials[0];
	memset(t, 0, sizeof(*t));
	snprintf(t->strategy, sizeof(t->strategy), "%s", names[est]);
	char setting[64];
	if (est == LPCA)
		snprintf(setting, sizeof(setting), "k=%d/alpha=%g", e->lpca_k, e->lpca_alpha);
	else if (est == MLE)
		snprintf(setting, sizeof(setting), "k=%d", e->mle_k);
	else
		snprintf(setting, sizeof(setting), "discard=%g", e->twonn_discard);
	snprintf(t->key, sizeof(t->key), "%s/%s/n=%d/kmax=%d/seed=%ld", names[est], setting,
		 e->id_n, e->k_max, seed);
	snprintf(t->role, sizeof(t->role), "search");
	t->latent = e->k_max;
	t->seed = seed;
	snprintf(t->params, sizeof(t->params), "{\"estimator\":\"%s\",\"n\":%d}", names[est],
		 e->id_n);
	return 1;
}

static int plan_lpca(const struct experiment *e, long s, struct trial_record *t, int max)
{
	return plan(LPCA, e, s, t, max);
}

static int plan_mle(const struct experiment *e, long s, struct trial_record *t, int max)
{
	return plan(MLE, e, s, t, max);
}

static int plan_twonn(const struct experiment *e, long s, struct trial_record *t, int max)
{
	return plan(TWONN, e, s, t, max);
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

static int run(const struct trial_ctx *c, struct trial_record *t)
{
	const struct experiment *e = c->exp;
	enum estimator est = which(t);
	size_t n;
	float *x = sample(&c->data->train, e->id_n, t->seed, &n);
	if (!x) {
		snprintf(t->error, sizeof(t->error), "out of memory sampling the training set");
		return TRIAL_ERROR;
	}
	int D = c->data->dim;
	int k = est == LPCA ? e->lpca_k : est == MLE ? e->mle_k : 2;
	uint64_t overhead = 0;
	struct knn nn;
	struct lpca_result lp = { NAN, NAN, NAN };
	double estimate = NAN;
	if (knn_search(x, n, D, k, c->threads, &nn, &overhead) == 0) {
		if (est == LPCA && !id_lpca(x, n, D, &nn, k, e->lpca_alpha, c->threads, &lp,
					    &overhead))
			estimate = lp.mean;
		else if (est == MLE)
			estimate = id_mle(&nn, k, &overhead);
		else if (est == TWONN)
			estimate = id_twonn(&nn, e->twonn_discard, &overhead);
		knn_free(&nn);
	}
	free(x);
	if (!isfinite(estimate) || estimate <= 0) {
		snprintf(t->error, sizeof(t->error), "%s: %s", names[est],
			 ds_errmsg()[0] ? ds_errmsg() : "no finite estimate");
		return TRIAL_ERROR;
	}
	int K = (int)ceil(estimate - 1e-9);
	int clamped = K < 1 || K > e->k_max;
	K = K < 1 ? 1 : K > e->k_max ? e->k_max : K;
	/* the estimation is tuning; one autoencoder at the chosen width is delivery */
	memset(&t->flops, 0, sizeof(t->flops));
	t->flops.overhead = overhead;
	int status = trial_deliver(c, t, K);
	char med[32], glob[32], truth[32];
	snprintf(t->details, sizeof(t->details),
		 "{\"estimator\":\"%s\",\"estimate\":%.6g,\"k_chosen\":%d,\"clamped\":%s,"
		 "\"points\":%zu,\"k\":%d,\"lpca_median\":%s,\"lpca_global\":%s,"
		 "\"true_dimension\":%s,\"estimate_flops\":%llu}",
		 names[est], estimate, K, clamped ? "true" : "false", n, k, json_number(med, lp.median),
		 json_number(glob, lp.global),
		 json_number(truth, c->data->true_dim > 0 ? c->data->true_dim : NAN),
		 (unsigned long long)overhead);
	return status;
}

static int decide(const struct experiment *e, long seed, const struct trial_record *trials,
		  int n, struct decision_record *d)
{
	(void)e;
	return decide_single(seed, trials, n, 0, d);
}

const struct strategy lpca_strategy = { "lpca", plan_lpca, run, decide };
const struct strategy mle_strategy = { "mle", plan_mle, run, decide };
const struct strategy twonn_strategy = { "twonn", plan_twonn, run, decide };
