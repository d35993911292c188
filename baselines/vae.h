/* vae.h: VAE overpruning (Asperti 2019) as a strategy: the count of active units of a VAE
 * trained at K_max is the latent size. */
#ifndef DS_VAE_H
#define DS_VAE_H

#include "../search/strategy.h"

extern const struct strategy vae_strategy;

#endif
