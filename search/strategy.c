/* strategy.c: the registry of strategies, in the order reports list them. */
#include "strategy.h"

#include <string.h>

extern const struct strategy grid_strategy, sosae_strategy, earlybird_strategy, vae_strategy,
	lpca_strategy, mle_strategy, twonn_strategy;

static const struct strategy *registry[] = { &grid_strategy,	    &sosae_strategy,
					     &earlybird_strategy, &vae_strategy,
					     &lpca_strategy,	    &mle_strategy,
					     &twonn_strategy };

const struct strategy *strategy_find(const char *name)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(*registry); i++)
		if (!strcmp(registry[i]->name, name))
			return registry[i];
	return NULL;
}

const char *strategy_names(void)
{
	static char names[256];
	if (!names[0])
		for (size_t i = 0; i < sizeof(registry) / sizeof(*registry); i++) {
			if (i)
				strcat(names, ", ");
			strcat(names, registry[i]->name);
		}
	return names;
}
