/* strategies.c: the one table of strategies. search/ holds the interface and the searches
 * over K (grid, SOSAE); baselines/ the methods from other papers; this table, above both,
 * is what the configuration loader and the scheduler are handed. Adding a strategy: its
 * file, one line here, its tests. */
#include "strategies.h"

#include "baselines/earlybird.h"
#include "baselines/idstrategy.h"
#include "baselines/irmae.h"
#include "baselines/leastvolume.h"
#include "baselines/nested.h"
#include "baselines/vae.h"
#include "search/grid.h"
#include "search/sosae.h"

static const struct strategy *const table[] = {
	&grid_strategy,	   &geogrid_strategy,	 &bisect_strategy,   &halving_strategy,
	&nested_strategy,  &matryoshka_strategy, &sosae_strategy,    &sosae_tuned_strategy,
	&leastvolume_strategy, &irmae_strategy, &earlybird_strategy, &vae_strategy,	 &lpca_strategy,     &mle_strategy,
	&twonn_strategy,   &pca_strategy,	 &corrint_strategy,  &mom_strategy,
	&tle_strategy,	   &mada_strategy,	 &ess_strategy,	     &fishers_strategy,
	&danco_strategy,
};

const struct registry *dimsearch_strategies(void)
{
	static struct registry registry;
	static int state; /* 0 not built, 1 built, -1 failed */
#pragma omp critical(dimsearch_strategies)
	{
		if (!state)
			state = registry_init(&registry, table, SETTINGS_COUNT(table)) ? -1 : 1;
	}
	return state > 0 ? &registry : NULL;
}
