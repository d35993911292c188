/* grid.h: grid search: its settings and its choice rule, exposed for tests. */
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
};

extern const struct settings grid_settings;
extern const struct strategy grid_strategy;

/* Index of the chosen width among n (K ascending or not, val NaN for failed trials):
 * SELECT_WITHIN: the smallest K whose val is within (1 + tolerance) of the best;
 * SELECT_KNEE: the Kneedle knee of the (K, val) curve. -1 when every val is NaN. */
int grid_choose(const int *K, const double *val, int n, enum grid_select select,
		double tolerance);

#endif
