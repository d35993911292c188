/* manifolds.c: generators of the benchmark manifolds, written from their published
 * definitions (scikit-dimension's BenchmarkManifolds, after Hein & Audibert 2005 and
 * Campadelli et al. 2015). Our random streams differ from numpy's; the sets are the same. */
#include "manifolds.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

enum kind { SPHERE, AFFINE_3TO5, NONLINEAR_4TO6, NONLINEAR, HELIX1, HELIX2, ROLL, AFFINE, CUBIC,
	    MOEBIUS, NORM, SCURVE, SPIRAL, BETA, CAMPADELLI_N, PARABOLOID };

struct entry {
	struct manifold m;
	enum kind kind;
};

static const struct entry table[] = {
	{ { "M1_Sphere", 10, 11, "10-sphere linearly embedded" }, SPHERE },
	{ { "M2_Affine_3to5", 3, 5, "affine space" }, AFFINE_3TO5 },
	{ { "M3_Nonlinear_4to6", 4, 6, "concentrated figure, mistakable for 3-D" },
	  NONLINEAR_4TO6 },
	{ { "M4_Nonlinear", 4, 8, "nonlinear manifold" }, NONLINEAR },
	{ { "M5a_Helix1d", 1, 3, "1-D helix" }, HELIX1 },
	{ { "M5b_Helix2d", 2, 3, "2-D helix" }, HELIX2 },
	{ { "M6_Nonlinear", 6, 36, "nonlinear manifold" }, NONLINEAR },
	{ { "M7_Roll", 2, 3, "Swiss roll" }, ROLL },
	{ { "M8_Nonlinear", 12, 72, "nonlinear, highly curved manifold" }, NONLINEAR },
	{ { "M9_Affine", 20, 20, "affine space" }, AFFINE },
	{ { "M10a_Cubic", 10, 11, "10-D hypercube surface" }, CUBIC },
	{ { "M10b_Cubic", 17, 18, "17-D hypercube surface" }, CUBIC },
	{ { "M10c_Cubic", 24, 25, "24-D hypercube surface" }, CUBIC },
	{ { "M10d_Cubic", 70, 71, "70-D hypercube surface" }, CUBIC },
	{ { "M11_Moebius", 2, 3, "Moebius band, 10 times twisted" }, MOEBIUS },
	{ { "M12_Norm", 20, 20, "isotropic Gaussian" }, NORM },
	{ { "M13a_Scurve", 2, 3, "2-D S-curve" }, SCURVE },
	{ { "M13b_Spiral", 1, 13, "1-D helix curve" }, SPIRAL },
	{ { "Mbeta", 10, 40, "smooth non-uniform density (beta 10, 0.5)" }, BETA },
	{ { "Mn1_Nonlinear", 18, 72, "nonlinearly embedded, high dimension" }, CAMPADELLI_N },
	{ { "Mn2_Nonlinear", 24, 96, "nonlinearly embedded, high dimension" }, CAMPADELLI_N },
	{ { "Mp1_Paraboloid", 3, 12, "3-D paraboloid, Burr distributed" }, PARABOLOID },
	{ { "Mp2_Paraboloid", 6, 21, "6-D paraboloid, Burr distributed" }, PARABOLOID },
	{ { "Mp3_Paraboloid", 9, 30, "9-D paraboloid, Burr distributed" }, PARABOLOID },
};

#define N_MANIFOLDS ((int)(sizeof(table) / sizeof(*table)))

int manifold_count(void)
{
	return N_MANIFOLDS;
}

const struct manifold *manifold_at(int i)
{
	return i >= 0 && i < N_MANIFOLDS ? &table[i].m : NULL;
}

const struct manifold *manifold_find(const char *name)
{
	for (int i = 0; i < N_MANIFOLDS; i++)
		if (!strcmp(table[i].m.name, name))
			return &table[i].m;
	return NULL;
}

/* ---- random variates ---- */

/* Gamma(shape, 1) by Marsaglia and Tsang; shape < 1 through Gamma(shape + 1) U^(1/shape) */
static double gamma_variate(struct rng *r, double shape)
{
	if (shape < 1.0) {
		double u;
		do
			u = rng_uniform(r);
		while (u <= 0.0);
		return gamma_variate(r, shape + 1.0) * pow(u, 1.0 / shape);
	}
	double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
	for (;;) {
		double z = rng_normal(r), v = 1.0 + c * z;
		if (v <= 0.0)
			continue;
		v = v * v * v;
		double u = rng_uniform(r);
		if (u > 0.0 && log(u) < 0.5 * z * z + d - d * v + d * log(v))
			return d * v;
	}
}

static double beta_variate(struct rng *r, double a, double b)
{
	double x = gamma_variate(r, a), y = gamma_variate(r, b);
	return x / (x + y);
}

static double exponential_variate(struct rng *r)
{
	double u;
	do
		u = rng_uniform(r);
	while (u <= 0.0);
	return -log(u);
}

/* ---- generators: each fills row (dim) of point i ---- */

/* n points of benchmark manifold i into x (n, dim): one case per manifold, as the table. */
int manifold_sample(const struct manifold *m, size_t n, struct rng *r, float *x)
{
	const struct entry *e = (const struct entry *)m;
	int d = m->d, dim = m->dim;
	double *p = malloc(sizeof(double) * (size_t)(dim + d + 2));
	if (!p)
		return ds_fail("out of memory generating %s", m->name);
	memset(x, 0, sizeof(float) * n * dim);
	for (size_t i = 0; i < n; i++) {
		float *row = x + i * dim;
		switch (e->kind) {
		case SPHERE: {
			double norm = 0;
			for (int k = 0; k <= d; k++) {
				p[k] = rng_normal(r);
				norm += p[k] * p[k];
			}
			for (int k = 0; k <= d; k++)
				row[k] = (float)(p[k] / sqrt(norm));
			break;
		}
		case AFFINE_3TO5: {
			static const double A[5][3] = { { 1.2, -0.5, 0 }, { 0.5, 0.9, 0 },
							{ -0.5, -0.2, 1 }, { 0.4, -0.9, -0.1 },
							{ 1.1, -0.3, 0 } };
			static const double b[5] = { 3, -1, 0, 0, 8 };
			for (int k = 0; k < 3; k++)
				p[k] = 4.0 * rng_uniform(r);
			for (int j = 0; j < 5; j++)
				row[j] = (float)(A[j][0] * p[0] + A[j][1] * p[1] + A[j][2] * p[2] +
						 b[j]);
			break;
		}
		case NONLINEAR_4TO6: {
			double p0 = rng_uniform(r), p1 = rng_uniform(r), p2 = rng_uniform(r),
			       p3 = rng_uniform(r);
			row[0] = (float)(p1 * p1 * cos(2 * M_PI * p0));
			row[1] = (float)(p2 * p2 * sin(2 * M_PI * p0));
			row[2] = (float)(p1 + p2 + (p1 - p3) * (p1 - p3));
			row[3] = (float)(p1 - 2 * p2 + (p0 - p3) * (p0 - p3));
			row[4] = (float)(-p1 - 2 * p2 + (p2 - p3) * (p2 - p3));
			row[5] = (float)(p0 * p0 - p1 * p1 + p2 * p2 - p3 * p3);
			break;
		}
		case NONLINEAR: {
			/* 2d coordinates p_{k+1} cos(2 pi p_k), p_{k+1} sin(2 pi p_k) (p_d = p_0),
			 * repeated dim / (2d) times */
			for (int k = 0; k < d; k++)
				p[k] = rng_uniform(r);
			int reps = dim / (2 * d);
			for (int rep = 0; rep < reps; rep++)
				for (int k = 0; k < d; k++) {
					double radius = p[(k + 1) % d];
					row[rep * 2 * d + 2 * k] = (float)(radius * cos(2 * M_PI * p[k]));
					row[rep * 2 * d + 2 * k + 1] =
						(float)(radius * sin(2 * M_PI * p[k]));
				}
			break;
		}
		case HELIX1: {
			double t = 2 * M_PI / (double)n + rng_uniform(r) * 2 * M_PI;
			row[0] = (float)((2 + cos(8 * t)) * cos(t));
			row[1] = (float)((2 + cos(8 * t)) * sin(t));
			row[2] = (float)sin(8 * t);
			break;
		}
		case HELIX2: {
			double rad = 10 * M_PI * rng_uniform(r), ph = 10 * M_PI * rng_uniform(r);
			row[0] = (float)(rad * cos(ph));
			row[1] = (float)(rad * sin(ph));
			row[2] = (float)(0.5 * ph);
			break;
		}
		case ROLL: {
			double t = 1.5 * M_PI * (1 + 2 * rng_uniform(r)), h = 21 * rng_uniform(r);
			row[0] = (float)(t * cos(t));
			row[1] = (float)h;
			row[2] = (float)(t * sin(t));
			break;
		}
		case AFFINE:
			for (int k = 0; k < d; k++)
				row[k] = (float)(rng_uniform(r) * 5 - 2.5);
			break;
		case CUBIC: {
			/* the surface of the unit (d+1)-cube: faces in turn, as the reference
			 * builds them (face i at 0, then at 1, blocks of n/(2(d+1)) + 1) */
			size_t per_face = n / (2 * (size_t)(d + 1)) + 1;
			size_t face = i / per_face;
			for (int k = 0; k <= d; k++)
				row[k] = (float)rng_uniform(r);
			row[(face / 2) % (size_t)(d + 1)] = (float)(face % 2);
			break;
		}
		case MOEBIUS: {
			double ph = rng_uniform(r) * 2 * M_PI, rad = rng_uniform(r) * 2 - 1;
			row[0] = (float)((1 + 0.5 * rad * cos(5.0 * ph)) * cos(ph));
			row[1] = (float)((1 + 0.5 * rad * cos(5.0 * ph)) * sin(ph));
			row[2] = (float)(0.5 * rad * sin(5.0 * ph));
			break;
		}
		case NORM:
			for (int k = 0; k < d; k++)
				row[k] = (float)rng_normal(r);
			break;
		case SCURVE: {
			double t = 3 * M_PI * (rng_uniform(r) - 0.5), h = 2.0 * rng_uniform(r);
			row[0] = (float)sin(t);
			row[1] = (float)h;
			row[2] = (float)((t > 0) - (t < 0)) * (float)(cos(t) - 1);
			break;
		}
		case SPIRAL: {
			double t = 10 * M_PI * rng_uniform(r);
			row[0] = (float)(100 * cos(t));
			row[1] = (float)(100 * sin(t));
			row[2] = (float)t;
			break;
		}
		case BETA:
			for (int k = 0; k < d; k++) {
				double v = beta_variate(r, 10.0, 0.5);
				double a = v * sin(cos(2 * M_PI * v)), b = v * cos(sin(2 * M_PI * v));
				row[k] = row[2 * d + k] = (float)a;
				row[d + k] = row[3 * d + k] = (float)b;
			}
			break;
		case CAMPADELLI_N:
			for (int k = 0; k < d; k++)
				p[k] = rng_uniform(r);
			for (int k = 0; k < d; k++) {
				double a = tan(p[k] * cos(p[d - 1 - k]));
				double b = atan(p[d - 1 - k] * sin(p[k]));
				row[k] = row[2 * d + k] = (float)a;
				row[d + k] = row[3 * d + k] = (float)b;
			}
			break;
		case PARABOLOID: {
			double e0 = exponential_variate(r), sq = 0;
			for (int k = 0; k < d; k++) {
				p[k] = 1.0 / (1.0 + exponential_variate(r) / e0);
				sq += p[k] * p[k];
			}
			p[d] = sq;
			for (int k = 0; k <= d; k++) {
				row[k] = (float)p[k];
				row[d + 1 + k] = (float)sin(p[k]);
				row[2 * (d + 1) + k] = (float)(p[k] * p[k]);
			}
			break;
		}
		}
	}
	free(p);
	return 0;
}
