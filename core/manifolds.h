/* manifolds.h: the benchmark manifolds of Hein & Audibert and Campadelli et al., with
 * scikit-dimension's names, intrinsic and ambient dimensions and definitions. */
#ifndef DS_MANIFOLDS_H
#define DS_MANIFOLDS_H

#include <stddef.h>

#include "rng.h"

struct manifold {
	const char *name;     /* e.g. "M1_Sphere" */
	int d;                /* intrinsic dimension */
	int dim;              /* ambient dimension */
	const char *what;
};

/* The manifold of this name, or NULL. */
const struct manifold *manifold_find(const char *name);
/* The i-th manifold (i < manifold_count()). */
const struct manifold *manifold_at(int i);
int manifold_count(void);

/* n points of m into x (n, m->dim), without noise. Returns 0, or -1 with ds_errmsg(). */
int manifold_sample(const struct manifold *m, size_t n, struct rng *r, float *x);

#endif
