/* grid.c: grid search: one autoencoder per latent width, the smallest good enough wins. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/err.h"
#include "grid.h"
#include "strategy.h"

static int grid_plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	int n = 0;
	for (int i = 0; i < e->n_grid && n < max; i++, n++) {
		struct trial_record *t = &trials[n];
		memset(t, 0, sizeof(*t));
		snprintf(t->key, sizeof(t->key), "grid/K=%d/seed=%ld", e->grid[i], seed);
		snprintf(t->strategy, sizeof(t->strategy), "grid");
		snprintf(t->role, sizeof(t->role), "search");
		t->latent = e->grid[i];
		t->seed = seed;
		snprintf(t->params, sizeof(t->params), "{\"epochs\":%d,\"batch\":%d,\"lr\":%g}",
			 e->epochs, e->batch, e->lr);
	}
	return n;
}

static int grid_run(const struct trial_ctx *c, struct trial_record *t)
{
	struct ae *m;
	int status = trial_train(c, t, NULL, &m);
	if (status == TRIAL_OK)
		status = trial_measure(c, m, t);
	ae_delete(m);
	return status;
}

int grid_choose(const int *K, const double *val, int n, enum grid_select select,
		double tolerance)
{
	int best = -1;
	for (int i = 0; i < n; i++)
		if (isfinite(val[i]) && (best < 0 || val[i] < val[best]))
			best = i;
	if (best < 0)
		return -1;
	if (select == SELECT_WITHIN) {
		int chosen = best;
		for (int i = 0; i < n; i++)
			if (isfinite(val[i]) && val[i] <= val[best] * (1.0 + tolerance) &&
			    K[i] < K[chosen])
				chosen = i;
		return chosen;
	}
	/* knee (Kneedle): normalise K and the error to [0, 1]; the knee is the point of a
	 * decreasing curve furthest below the chord from its first to its last point */
	int lo = -1, hi = -1;
	double vmax = -INFINITY, vmin = INFINITY;
	for (int i = 0; i < n; i++) {
		if (!isfinite(val[i]))
			continue;
		if (lo < 0 || K[i] < K[lo])
			lo = i;
		if (hi < 0 || K[i] > K[hi])
			hi = i;
		vmax = fmax(vmax, val[i]);
		vmin = fmin(vmin, val[i]);
	}
	if (K[hi] == K[lo] || vmax == vmin)
		return lo;
	int chosen = lo;
	double best_gap = -INFINITY;
	for (int i = 0; i < n; i++) {
		if (!isfinite(val[i]))
			continue;
		double x = (double)(K[i] - K[lo]) / (K[hi] - K[lo]);
		double y = (val[i] - vmin) / (vmax - vmin);
		double gap = (1.0 - x) - y; /* chord from (0, 1) to (1, 0), minus the curve */
		if (gap > best_gap || (gap == best_gap && K[i] < K[chosen])) {
			best_gap = gap;
			chosen = i;
		}
	}
	return chosen;
}

static int grid_decide(const struct experiment *e, long seed, const struct trial_record *trials,
		       int n, struct decision_record *d)
{
	int K[EXP_MAX_GRID];
	double val[EXP_MAX_GRID];
	int failed = 0;
	memset(d, 0, sizeof(*d));
	snprintf(d->strategy, sizeof(d->strategy), "grid");
	d->seed = seed;
	for (int i = 0; i < n && i < EXP_MAX_GRID; i++) {
		K[i] = trials[i].latent;
		val[i] = trials[i].state == TRIAL_COMPLETE ? trials[i].val_mse : NAN;
		failed += trials[i].state != TRIAL_COMPLETE;
		/* every trial's compute counts, failed ones included */
		d->tuning_flops += flops_tuning(&trials[i].flops);
		d->report_flops += trials[i].flops.report;
		d->seconds += isfinite(trials[i].seconds) ? trials[i].seconds : 0;
	}
	int c = grid_choose(K, val, n, e->grid_select, e->grid_tolerance);
	if (c < 0)
		return ds_fail("grid (seed %ld): every one of its %d trials failed; see "
			       "'select trial_key, error from trial where state = \"failed\"'",
			       seed, n);
	d->chosen_latent = K[c];
	d->test_mse = trials[c].test_mse;
	d->probe_accuracy = trials[c].probe_accuracy;
	int best = grid_choose(K, val, n, SELECT_WITHIN, 0.0);
	char rule[32];
	if (e->grid_select == SELECT_KNEE)
		snprintf(rule, sizeof(rule), "knee");
	else
		snprintf(rule, sizeof(rule), "within:%g", e->grid_tolerance);
	snprintf(d->details, sizeof(d->details),
		 "{\"select\":\"%s\",\"best_k\":%d,\"best_val_mse\":%.9g,\"chosen_val_mse\":%.9g,"
		 "\"trials\":%d,\"failed\":%d}",
		 rule, K[best], val[best], val[c], n, failed);
	return 0;
}

const struct strategy grid_strategy = {
	.name = "grid",
	.plan = grid_plan,
	.run = grid_run,
	.decide = grid_decide,
};
