/* grid.c: grid search: one autoencoder per latent width, the smallest good enough wins; and
 * the geometric grid a practitioner runs instead (powers of two up to k_max). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "grid.h"

/* grid.select: "within:TOL" or "knee" */
static int parse_select(void *block, const char *value, char *why, size_t size)
{
	struct grid_settings *g = block;
	char *end;
	if (!strcmp(value, "knee")) {
		g->select = SELECT_KNEE;
		return 0;
	}
	if (!strncmp(value, "within:", 7)) {
		double tol = strtod(value + 7, &end);
		if (end != value + 7 && !*end && tol >= 0 && tol < 10) {
			g->select = SELECT_WITHIN;
			g->tolerance = tol;
			return 0;
		}
	}
	snprintf(why, size, "'%s' is not within:TOL (smallest K within TOL of the best) or knee",
		 value);
	return -1;
}

static int runs(const struct experiment *e, const struct strategy *s)
{
	for (int i = 0; i < e->n_strategies; i++)
		if (e->strategies[i] == s)
			return 1;
	return 0;
}

/* A grid for the grid strategy, and k_max from its largest width when k_max is not set. */
static int grid_finish(struct experiment *e, void *block, int used, char *why, size_t size,
		       const char **key)
{
	const struct grid_settings *g = block;
	*key = "grid";
	if (used && g->n == 0 && runs(e, &grid_strategy)) {
		snprintf(why, size,
			 "grid: %s; the grid strategy needs latent widths (1..64 step 1 "
			 "or 2,4,8,16)",
			 "missing or empty");
		return -1;
	}
	int largest = g->n ? g->K[g->n - 1] : 0;
	if (e->k_max == 0) {
		e->k_max = largest;
	} else if (largest > e->k_max) {
		snprintf(why, size, "grid: %d exceeds k_max = %d", largest, e->k_max);
		return -1;
	}
	return 0;
}

#define G(field) offsetof(struct grid_settings, field)

static const struct setting grid_keys[] = {
	{ .name = "grid",
	  .type = SETTING_INT_LIST,
	  .offset = G(K),
	  .lo = 1,
	  .hi = 1 << 16,
	  .def = "",
	  .help = "latent widths: 1..64 step 1 or 2,4,8,16",
	  .capacity = GRID_MAX,
	  .count_offset = G(n) },
	{ .name = "grid.select",
	  .type = SETTING_CUSTOM,
	  .offset = 0,
	  .lo = 0,
	  .hi = 0,
	  .def = "within:0.05",
	  .help = "within:TOL (smallest K within TOL of the best) or knee",
	  .parse = parse_select },
	{ .name = "halving.eta",
	  .type = SETTING_INT,
	  .offset = G(eta),
	  .lo = 2,
	  .hi = 100,
	  .def = "3",
	  .help = "successive halving keeps the best 1/eta of each rung and trains them eta "
		  "times longer" },
	{ .name = "halving.min_epochs",
	  .type = SETTING_INT,
	  .offset = G(min_epochs),
	  .lo = 1,
	  .hi = 1e6,
	  .def = "1",
	  .help = "epochs of successive halving's first rung, at least" },
};

const struct settings grid_settings = { "grid search", grid_keys, SETTINGS_COUNT(grid_keys),
					sizeof(struct grid_settings), grid_finish };

static const struct grid_settings *settings_of(const struct experiment *e)
{
	return experiment_settings(e, &grid_settings);
}

void grid_trial(const struct experiment *e, int K, int epochs, long seed, const char *name,
		struct trial_record *t)
{
	memset(t, 0, sizeof(*t));
	if (epochs == e->epochs)
		snprintf(t->key, sizeof(t->key), "grid/K=%d/seed=%ld", K, seed);
	else
		snprintf(t->key, sizeof(t->key), "grid/K=%d/epochs=%d/seed=%ld", K, epochs, seed);
	snprintf(t->strategy, sizeof(t->strategy), "%s", name);
	snprintf(t->role, sizeof(t->role), "search");
	t->latent = K;
	t->seed = seed;
	snprintf(t->params, sizeof(t->params), "{\"epochs\":%d,\"batch\":%d,\"lr\":%g}", epochs,
		 e->batch, e->lr);
}

/* One trial per width of the grid. */
static int grid_plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	const struct grid_settings *g = settings_of(e);
	for (int i = 0; i < g->n && i < max; i++)
		grid_trial(e, g->K[i], e->epochs, seed, "grid", &trials[i]);
	return g->n;
}

enum trial_state grid_run(const struct trial_ctx *c, struct trial_record *t)
{
	struct ae *m;
	double epochs = details_number(t->params, "epochs");
	struct trial_hooks h = { .epochs = epochs >= 1 ? (int)epochs : 0 };
	enum trial_state status = trial_train(c, t, &h, &m);
	if (status == TRIAL_COMPLETE)
		status = trial_measure(c, m, t);
	ae_delete(m);
	return status;
}

int grid_choose(const int *K, const double *val, int n, enum grid_select select, double tolerance)
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

int grid_family_decide(const struct experiment *e, const char *name, long seed,
		       const struct trial_record *trials, int n, const unsigned char *use,
		       int lo, int hi, const char *extra, struct decision_record *d)
{
	const struct grid_settings *g = settings_of(e);
	int *K = malloc(sizeof(int) * (size_t)(n ? n : 1));
	double *val = malloc(sizeof(double) * (size_t)(n ? n : 1));
	if (!K || !val) {
		free(K);
		free(val);
		return ds_fail("%s (seed %ld): out of memory deciding", name, seed);
	}
	int failed = 0;
	memset(d, 0, sizeof(*d));
	snprintf(d->strategy, sizeof(d->strategy), "%s", name);
	d->seed = seed;
	for (int i = 0; i < n; i++) {
		int usable = trials[i].state == TRIAL_COMPLETE && (!use || use[i]);
		K[i] = trials[i].latent;
		val[i] = usable ? trials[i].val_mse : NAN;
		failed += trials[i].state != TRIAL_COMPLETE;
		/* every trial's compute counts, failed ones included */
		d->tuning_flops += flops_tuning(&trials[i].flops);
		d->report_flops += trials[i].flops.report;
		d->seconds += isfinite(trials[i].seconds) ? trials[i].seconds : 0;
	}
	int c = grid_choose(K, val, n, g->select, g->tolerance);
	int best = grid_choose(K, val, n, SELECT_WITHIN, 0.0);
	int rc = 0;
	if (c < 0) {
		rc = ds_fail("%s (seed %ld): every one of its %d trials failed; see "
			     "'select trial_key, error from trial where state = \"failed\"'",
			     name, seed, n);
	} else {
		d->chosen_latent = K[c];
		d->test_mse = trials[c].test_mse;
		d->probe_accuracy = trials[c].probe_accuracy;
		char rule[32];
		if (g->select == SELECT_KNEE)
			snprintf(rule, sizeof(rule), "knee");
		else
			snprintf(rule, sizeof(rule), "within:%g", g->tolerance);
		double epochs = details_number(trials[c].params, "epochs");
		snprintf(d->details, sizeof(d->details),
			 "{\"select\":\"%s\",\"best_k\":%d,\"best_val_mse\":%.9g,"
			 "\"chosen_val_mse\":%.9g,\"trials\":%d,\"failed\":%d,"
			 "\"delivered_epochs\":%d}",
			 rule, K[best], val[best], val[c], n, failed,
			 epochs >= 1 ? (int)epochs : e->epochs);
		if (extra && extra[0])
			details_append(d->details, sizeof(d->details), extra);
		decision_edge(d, lo, hi);
	}
	free(K);
	free(val);
	return rc;
}

/* The smallest width good enough by grid.select, from every width's validation MSE. */
static int grid_decide(const struct experiment *e, long seed, const struct trial_record *trials,
		       int n, struct decision_record *d)
{
	const struct grid_settings *g = settings_of(e);
	return grid_family_decide(e, "grid", seed, trials, n, NULL, g->K[0], g->K[g->n - 1],
				  NULL, d);
}

/* ---- the geometric grid: 1, 2, 4, ... below k_max, and k_max ---- */

static int geogrid_plan(const struct experiment *e, long seed, struct trial_record *trials,
			int max)
{
	int n = 0;
	for (long K = 1; K < e->k_max; K *= 2, n++)
		if (n < max)
			grid_trial(e, (int)K, e->epochs, seed, "geogrid", &trials[n]);
	if (n < max)
		grid_trial(e, e->k_max, e->epochs, seed, "geogrid", &trials[n]);
	return n + 1;
}

static int geogrid_decide(const struct experiment *e, long seed, const struct trial_record *trials,
			  int n, struct decision_record *d)
{
	return grid_family_decide(e, "geogrid", seed, trials, n, NULL, 1, e->k_max, NULL, d);
}

const struct strategy geogrid_strategy = {
	.name = "geogrid",
	.settings = &grid_settings,
	.plan = geogrid_plan,
	.run = grid_run,
	.decide = geogrid_decide,
};

const struct strategy grid_strategy = {
	.name = "grid",
	.settings = &grid_settings,
	.plan = grid_plan,
	.run = grid_run,
	.decide = grid_decide,
};
