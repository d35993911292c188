/* vae.h: VAE overpruning (Asperti 2019) as a strategy: the count of active units of a VAE
 * trained at K_max is the latent size. */
#ifndef DS_VAE_H
#define DS_VAE_H

#include "../search/strategy.h"

extern const struct strategy vae_strategy;

/* Asperti's threshold: a unit is active when Var_x(mu_k) >= VAE_ACTIVE_VAR_MU. */
#define VAE_ACTIVE_VAR_MU 0.05

/* The counts of active units of one VAE by three rules; Asperti's decides. */
struct vae_counts {
	int asperti;		 /* Var(mu) >= 0.05 (Asperti 2019): the decision */
	int burda;		 /* Var(mu) > 0.01 (Burda et al. 2016) */
	int sigma;		 /* mean sigma^2 < 0.95 */
	double law_min, law_max; /* Var(mu) + E[sigma^2] over every unit */
	double law_active_min, law_active_max; /* the same over Asperti's active units (NaN: none) */
};

/* The counts of K units from var_mu[k] = Var_x(mu_k) and mean_sigma2[k] = E_x[sigma_k^2]. */
struct vae_counts vae_count_active(const double *var_mu, const double *mean_sigma2, int K);

#endif
