/* idstrategy.h: the intrinsic-dimension estimators as strategies (lpca, mle, twonn). */
#ifndef DS_IDSTRATEGY_H
#define DS_IDSTRATEGY_H

#include "../search/strategy.h"

extern const struct strategy lpca_strategy, mle_strategy, twonn_strategy;

#endif
