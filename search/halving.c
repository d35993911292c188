/* halving.c: successive halving over the candidate widths (the grid's, or 1..k_max), with
 * epochs as the resource (Jamieson and Talwalkar 2016; the inner loop of Hyperband). Rung 0
 * trains every candidate for a few epochs; each later rung trains the best 1/eta of the one
 * before eta times longer, from scratch, up to the experiment's epochs; K is chosen by the
 * grid's rule among the last rung's fully trained widths.
 *
 * "Best" serves the question asked, the smallest good width: the candidates of a rung within
 * grid.select's tolerance of its best validation MSE come first, narrowest first, then the
 * others by validation MSE (plain halving by MSE alone would promote the widest). With a knee
 * rule, by validation MSE alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "grid.h"

/* The schedule for n candidates: rungs s + 1, rung i training n_i = n / eta^i widths for
 * epochs_i = R eta^(i - s) epochs (R the experiment's), s as large as the first rung's
 * epochs (at least min_epochs) and n allow. */
struct schedule {
	int rungs;
	int size[32], epochs[32];
};

static int candidates(const struct experiment *e, int *K)
{
	const struct grid_settings *g = experiment_settings(e, &grid_settings);
	if (g->n > 0) {
		memcpy(K, g->K, sizeof(int) * (size_t)g->n);
		return g->n;
	}
	for (int k = 1; k <= e->k_max && k <= GRID_MAX; k++)
		K[k - 1] = k;
	return e->k_max < GRID_MAX ? e->k_max : GRID_MAX;
}

static struct schedule schedule_of(const struct experiment *e, int n)
{
	const struct grid_settings *g = experiment_settings(e, &grid_settings);
	struct schedule s = { 0 };
	int extra = 0;
	for (long f = g->eta; extra < 30 && e->epochs / f >= g->min_epochs && n / f >= 1;
	     f *= g->eta)
		extra++;
	s.rungs = extra + 1;
	long shrink = 1;
	for (int i = 0; i < s.rungs; i++, shrink *= g->eta) {
		s.size[i] = (int)(n / shrink);
		double epochs = e->epochs * pow(g->eta, i - extra);
		s.epochs[i] = (int)fmax(g->min_epochs, floor(epochs + 0.5));
	}
	s.epochs[extra] = e->epochs;
	return s;
}

struct ranked {
	int K, good;
	double val;
};

static int rank_order(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->good != y->good)
		return y->good - x->good;
	if (x->good)
		return x->K - y->K;
	if (x->val != y->val)
		return x->val < y->val ? -1 : 1; /* NaN (failed) compares false: last */
	return x->K - y->K;
}

/* The n trials of one rung, best first into order (their widths). */
static void rank(const struct experiment *e, const struct trial_record *t, int n, int *order)
{
	const struct grid_settings *g = experiment_settings(e, &grid_settings);
	struct ranked *r = malloc(sizeof(*r) * (size_t)(n ? n : 1));
	double best = INFINITY;
	for (int i = 0; i < n; i++)
		if (t[i].state == TRIAL_COMPLETE && t[i].val_mse < best)
			best = t[i].val_mse;
	for (int i = 0; r && i < n; i++) {
		double v = t[i].state == TRIAL_COMPLETE ? t[i].val_mse : INFINITY;
		r[i] = (struct ranked){ t[i].latent,
					g->select == SELECT_WITHIN && v <= best * (1 + g->tolerance),
					isnan(v) ? INFINITY : v };
	}
	if (r)
		qsort(r, (size_t)n, sizeof(*r), rank_order);
	for (int i = 0; i < n; i++)
		order[i] = r ? r[i].K : t[i].latent;
	free(r);
}

static int halving_plan(const struct experiment *e, long seed, struct trial_record *trials,
			int max)
{
	int K[GRID_MAX], n = candidates(e, K);
	struct schedule s = schedule_of(e, n);
	for (int i = 0; i < n && i < max; i++)
		grid_trial(e, K[i], s.epochs[0], seed, "halving", &trials[i]);
	return n;
}

/* Which rung the done trials complete: rung i's trials follow rung i-1's in plan order. */
static int halving_next(const struct experiment *e, long seed, const struct trial_record *done,
			int n_done, struct trial_record *trials, int max)
{
	int K[GRID_MAX], n = candidates(e, K);
	struct schedule s = schedule_of(e, n);
	/* done holds rungs 0..rung, the last one starting at `at` */
	int at = 0, rung = 0;
	while (rung < s.rungs && at + s.size[rung] < n_done)
		at += s.size[rung++];
	if (rung + 1 >= s.rungs || at + s.size[rung] != n_done)
		return 0;
	int order[GRID_MAX];
	rank(e, done + at, s.size[rung], order);
	int want = s.size[rung + 1];
	for (int i = 0; i < want && i < max; i++)
		grid_trial(e, order[i], s.epochs[rung + 1], seed, "halving", &trials[i]);
	return want;
}

static int halving_decide(const struct experiment *e, long seed, const struct trial_record *trials,
			  int n, struct decision_record *d)
{
	int K[GRID_MAX], nc = candidates(e, K);
	struct schedule s = schedule_of(e, nc);
	int last = 0;
	for (int i = 0; i + 1 < s.rungs; i++)
		last += s.size[i];
	if (n != last + s.size[s.rungs - 1])
		return ds_fail("halving (seed %ld): %d trials where its %d rungs take %d", seed, n,
			       s.rungs, last + s.size[s.rungs - 1]);
	unsigned char *use = calloc((size_t)n, 1);
	if (!use)
		return ds_fail("halving (seed %ld): out of memory", seed);
	for (int i = last; i < n; i++)
		use[i] = 1;
	/* the schedule, stored with the decision so that the rungs can be drawn: each rung's
	 * epochs and widths, the trial table holding their validation MSEs */
	const struct grid_settings *g = experiment_settings(e, &grid_settings);
	char extra[1536];
	size_t len = (size_t)snprintf(extra, sizeof(extra),
				      "\"eta\":%d,\"rungs\":%d,\"rung_epochs\":[", g->eta, s.rungs);
	for (int i = 0; i < s.rungs && len < sizeof(extra); i++)
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "%s%d", i ? "," : "",
					s.epochs[i]);
	if (len < sizeof(extra))
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "],\"rung_sizes\":[");
	for (int i = 0; i < s.rungs && len < sizeof(extra); i++)
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "%s%d", i ? "," : "",
					s.size[i]);
	if (len < sizeof(extra))
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "],\"last_rung\":[");
	for (int i = last; i < n && len < sizeof(extra); i++)
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "%s%d",
					i > last ? "," : "", trials[i].latent);
	if (len + 2 < sizeof(extra))
		snprintf(extra + len, sizeof(extra) - len, "]");
	else
		snprintf(extra, sizeof(extra), "\"rungs\":%d", s.rungs);
	int rc = grid_family_decide(e, "halving", seed, trials, n, use, K[0], K[nc - 1], extra, d);
	free(use);
	return rc;
}

const struct strategy halving_strategy = {
	.name = "halving",
	.settings = &grid_settings,
	.plan = halving_plan,
	.next = halving_next,
	.run = grid_run,
	.decide = halving_decide,
};
