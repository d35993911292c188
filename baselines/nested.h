/* nested.h: nested dropout and Matryoshka representation learning, the ordering methods
 * that are SOSAE's closest single-run peers; their settings, exposed for tests. */
#ifndef DS_NESTED_H
#define DS_NESTED_H

#include "../search/strategy.h"

#define NESTED_MAX_PREFIXES 64

struct nested_settings {
	double p;                          /* nested dropout's geometric p; 0: 2 / k_max */
	int prefix[NESTED_MAX_PREFIXES];   /* Matryoshka's prefixes; none: the default */
	int n_prefix;
};

extern const struct settings nested_settings;
extern const struct strategy nested_strategy, matryoshka_strategy;

/* Nested dropout's p for experiment e. */
double nested_p(const struct experiment *e);

/* Matryoshka's prefixes for e into prefix (room for NESTED_MAX_PREFIXES + 1), ascending and
 * ending at k_max; how many. */
int matryoshka_prefixes(const struct experiment *e, int *prefix);

#endif
