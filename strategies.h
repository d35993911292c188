/* strategies.h: the strategies dimsearch offers, in the order reports list them. */
#ifndef DS_STRATEGIES_H
#define DS_STRATEGIES_H

#include "search/strategy.h"

/* The program's registry, built on first use; NULL with ds_errmsg() when its tables
 * conflict (a bug, caught by the tests). */
const struct registry *dimsearch_strategies(void);

#endif
