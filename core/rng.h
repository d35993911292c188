/* rng.h: the one random number generator (xoshiro256**), owned by each trial. */
#ifndef DS_RNG_H
#define DS_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t s[4];
	int has_spare;        /* a second Gaussian from the last Box-Muller pair is waiting */
	double spare;
};

void rng_seed(struct rng *r, uint64_t seed);          /* state from splitmix64(seed) */
uint64_t rng_next(struct rng *r);                     /* 64 uniform bits */
double rng_uniform(struct rng *r);                    /* uniform on [0, 1), 53-bit */
double rng_normal(struct rng *r);                     /* standard normal (Box-Muller) */
uint64_t rng_below(struct rng *r, uint64_t n);        /* uniform on 0..n-1, unbiased, n > 0 */
void rng_shuffle(struct rng *r, int *a, size_t n);    /* Fisher-Yates */
void rng_fork(struct rng *r, struct rng *child);      /* an independent stream for a sub-task */

#endif
