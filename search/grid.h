/* grid.h: grid search's choice rule, exposed for tests. */
#ifndef DS_GRID_H
#define DS_GRID_H

#include "experiment.h"

/* Index of the chosen width among n (K ascending or not, val NaN for failed trials):
 * SELECT_WITHIN: the smallest K whose val is within (1 + tolerance) of the best;
 * SELECT_KNEE: the Kneedle knee of the (K, val) curve. -1 when every val is NaN. */
int grid_choose(const int *K, const double *val, int n, enum grid_select select,
		double tolerance);

#endif
