/* idstrategy.h: the intrinsic-dimension estimators as strategies (lpca, mle, twonn, pca,
 * corrint, mom, tle, mada, ess, fishers, danco), and their shared keys. */
#ifndef DS_IDSTRATEGY_H
#define DS_IDSTRATEGY_H

#include <stddef.h>

#include "../search/strategy.h"
#include "idest.h"

extern const struct strategy lpca_strategy, mle_strategy, twonn_strategy, pca_strategy,
	corrint_strategy, mom_strategy, tle_strategy, mada_strategy, ess_strategy,
	fishers_strategy, danco_strategy;

/* One "KEY=VALUE" of the estimators' keys (lpca.fit=global, danco.D=20; id.n excepted) into
 * p, parsed as experiments.ini parses it: 0, or -1 with the reason in why. */
int id_settings_set(struct id_params *p, const char *assignment, char *why, size_t size);

#endif
