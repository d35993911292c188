/* grid.h: grid search and the searches a practitioner runs instead of a full grid (a
 * geometric grid, bisection, successive halving), all on plain trainings of the shared
 * trial and all choosing K by the grid's rule; their settings and the rule, exposed for
 * tests. A training they share with the grid (same width, seed and epochs) runs once. */
#ifndef DS_GRID_H
#define DS_GRID_H

#include "strategy.h"

#define GRID_MAX 1024          /* widths in one grid */

enum grid_select { SELECT_WITHIN, SELECT_KNEE };

struct grid_settings {
	int K[GRID_MAX];               /* latent widths, ascending, distinct */
	int n;
	enum grid_select select;
	double tolerance;              /* within: relative to the best validation MSE */
	int eta;                       /* successive halving: keep 1/eta of a rung ... */
	int min_epochs;                /* ... whose first rung trains this many epochs or more */
};

extern const struct settings grid_settings;
extern const struct strategy grid_strategy, geogrid_strategy, bisect_strategy,
	halving_strategy;

/* Trial t: a plain training of width K for `epochs` epochs, named `name`. At the
 * experiment's epochs its key is the full grid's, so that strategies share it. */
void grid_trial(const struct experiment *e, int K, int epochs, long seed, const char *name,
		struct trial_record *t);

/* Run a planned plain training and measure it (the run of every strategy above). */
enum trial_state grid_run(const struct trial_ctx *c, struct trial_record *t);

/* The decision of a grid-family search named `name` for a seed: every one of the n trials
 * is charged (failed ones too); K is chosen by rule among those with use[i] set (NULL:
 * all), searched over [lo, hi]: a choice at hi, or at lo above 1, is flagged as at the
 * edge. extra (may be NULL) is appended to the details. 0, or -1 when no usable trial
 * completed. */
int grid_family_decide(const struct experiment *e, const char *name, long seed,
		       const struct trial_record *trials, int n, const unsigned char *use,
		       int lo, int hi, const char *extra, struct decision_record *d);

/* Index of the chosen width among n (K ascending or not, val NaN for failed trials):
 * SELECT_WITHIN: the smallest K whose val is within (1 + tolerance) of the best;
 * SELECT_KNEE: the Kneedle knee of the (K, val) curve. -1 when every val is NaN. */
int grid_choose(const int *K, const double *val, int n, enum grid_select select,
		double tolerance);

#endif
