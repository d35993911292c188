/* bisect.c: bisection for the smallest width whose validation MSE is within grid.select's
 * tolerance of the k_max model's. It assumes the error does not grow with K (true of the
 * grid's curve on average, not on every seed): a width that looks good ends the search
 * below it. One trial at k_max, then one per halving of [1, k_max]: 1 + ceil(log2 k_max)
 * trainings, each a point of the full grid (shared with it when both run). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/err.h"
#include "grid.h"

/* Where the search stands after the trials done (k_max first, then each midpoint): the
 * interval [lo, hi] still holding the answer, hi always a good width. */
struct bisection {
	int lo, hi;
	double target; /* a width is good when its validation MSE is at most this */
	int failed;    /* the k_max trial failed: nothing to compare with */
};

static struct bisection replay(const struct experiment *e, const struct trial_record *done,
			       int n)
{
	const struct grid_settings *g = experiment_settings(e, &grid_settings);
	struct bisection b = { 1, e->k_max, NAN, 0 };
	if (n == 0)
		return b;
	if (done[0].state != TRIAL_COMPLETE || !isfinite(done[0].val_mse)) {
		b.failed = 1;
		return b;
	}
	b.target = done[0].val_mse * (1.0 + g->tolerance);
	for (int i = 1; i < n; i++) {
		int mid = done[i].latent;
		/* a failed training (it diverged) counts as not good enough */
		if (done[i].state == TRIAL_COMPLETE && done[i].val_mse <= b.target)
			b.hi = mid;
		else
			b.lo = mid + 1;
	}
	return b;
}

static int bisect_plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	if (max >= 1)
		grid_trial(e, e->k_max, e->epochs, seed, "bisect", &trials[0]);
	return 1;
}

static int bisect_next(const struct experiment *e, long seed, const struct trial_record *done,
		       int n_done, struct trial_record *trials, int max)
{
	struct bisection b = replay(e, done, n_done);
	if (b.failed || b.lo >= b.hi)
		return 0;
	if (max >= 1)
		grid_trial(e, b.lo + (b.hi - b.lo) / 2, e->epochs, seed, "bisect", &trials[0]);
	return 1;
}

/* K = the end of the search, hi; the rule within the trained widths would agree whenever the
 * error is monotone. */
static int bisect_decide(const struct experiment *e, long seed, const struct trial_record *trials,
			 int n, struct decision_record *d)
{
	struct bisection b = replay(e, trials, n);
	if (b.failed)
		return ds_fail("bisect (seed %ld): its training at k_max = %d failed: %s", seed,
			       e->k_max, n ? trials[0].error : "no trial");
	unsigned char use[64] = { 0 };
	if (n > 64)
		return ds_fail("bisect (seed %ld): %d trials, more than a bisection takes", seed, n);
	for (int i = 0; i < n; i++)
		use[i] = trials[i].latent == b.hi;
	char extra[96];
	snprintf(extra, sizeof(extra), "\"target_val_mse\":%.9g,\"assumes\":\"error non-increasing "
		 "in K\"", b.target);
	/* the rule over the one usable trial picks it; the details say how it was reached */
	return grid_family_decide(e, "bisect", seed, trials, n, use, 1, e->k_max, extra, d);
}

/* Bisection compares with a tolerance: a knee has no meaning for it. */
static int bisect_check(const struct experiment *e, const struct dataset *d)
{
	(void)d;
	const struct grid_settings *g = experiment_settings(e, &grid_settings);
	if (g->select != SELECT_WITHIN)
		return ds_fail("[%s] bisect needs grid.select = within:TOL (it looks for the "
			       "smallest K within TOL of the k_max model), not knee",
			       e->name);
	return 0;
}

const struct strategy bisect_strategy = {
	.name = "bisect",
	.settings = &grid_settings,
	.plan = bisect_plan,
	.next = bisect_next,
	.run = grid_run,
	.decide = bisect_decide,
	.check = bisect_check,
};
