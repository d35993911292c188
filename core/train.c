/* train.c: the training loop, parallel over the chunks of each batch, deterministic. */
#include "train.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "err.h"
#include "spectral.h"

#define EVAL_ROWS 256          /* rows per evaluation block */
#define OPTIMISER_SLICES 256   /* parameter slices for the gradient sum and Adam */

static double now_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void train_cfg_defaults(struct train_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->epochs = TRAIN_DEFAULT_EPOCHS;
	c->batch = TRAIN_DEFAULT_BATCH;
	c->chunks = TRAIN_DEFAULT_CHUNKS;
	c->threads = 1;
	c->adam = (struct adam){
		.lr = (float)TRAIN_DEFAULT_LR, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f
	};
	c->loss = LOSS_MSE;
}

/* ---- evaluation ---- */

/* Work on one block of rows [first, first + rows) of a split, on a thread's workspace. */
typedef void (*block_fn)(void *ctx, const struct ae *m, struct ae_work *w, size_t block,
			 size_t first, int rows, uint64_t *gemm, uint64_t *elementwise);

/* Run fn on every EVAL_ROWS block of s, blocks spread over the threads; each block writes
 * only its own results, so callers combine them in block order, whatever the threads. */
static int for_each_block(const struct ae *m, const struct split *s, int threads, block_fn fn,
			  void *ctx, uint64_t *gemm_total, uint64_t *elementwise_total)
{
	size_t n_blocks = (s->n + EVAL_ROWS - 1) / EVAL_ROWS;
	uint64_t gemm = 0, elementwise = 0;
	int failed = 0;
#pragma omp parallel num_threads(threads < 1 ? 1 : threads) reduction(+ : gemm, elementwise)
	{
		struct ae_work *w = ae_work_new(m, EVAL_ROWS);
		if (!w) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(static)
		for (size_t b = 0; b < n_blocks; b++) {
			if (!w)
				continue;
			size_t first = b * EVAL_ROWS;
			int rows = (int)(s->n - first < EVAL_ROWS ? s->n - first : EVAL_ROWS);
			fn(ctx, m, w, b, first, rows, &gemm, &elementwise);
		}
		ae_work_delete(w);
	}
	if (failed)
		return ds_fail("out of memory for an evaluation workspace");
	*gemm_total += gemm;
	*elementwise_total += elementwise;
	return 0;
}

struct encode_ctx {
	const struct split *s;
	float *codes;            /* (n, K) or NULL */
	double *block_sum;       /* squared error per block */
};

/* One block of ae_encode: codes and squared errors of its rows. */
static void encode_block(void *ctx, const struct ae *m, struct ae_work *w, size_t b,
			 size_t first, int rows, uint64_t *gemm, uint64_t *elementwise)
{
	struct encode_ctx *c = ctx;
	int D = m->arch.input_dim, K = m->arch.latent;
	const float *x = c->s->x + first * D;
	const float *y = ae_forward(m, w, x, rows, gemm, elementwise);
	c->block_sum[b] = loss_forward_backward(LOSS_MSE, (size_t)rows * D, y, x, NULL, 0.0f,
						elementwise);
	if (c->codes)
		memcpy(c->codes + first * K, ae_codes(m, w), sizeof(float) * rows * K);
}

int ae_encode(const struct ae *m, const struct split *s, int threads, float *codes, double *mse,
	      struct flops *f)
{
	if (s->n == 0) {
		if (mse)
			*mse = NAN;
		return 0;
	}
	size_t n_blocks = (s->n + EVAL_ROWS - 1) / EVAL_ROWS;
	struct encode_ctx c = { s, codes, calloc(n_blocks, sizeof(double)) };
	if (!c.block_sum)
		return ds_fail("out of memory evaluating %zu examples", s->n);
	uint64_t gemm = 0, elementwise = 0;
	if (for_each_block(m, s, threads, encode_block, &c, &gemm, &elementwise)) {
		free(c.block_sum);
		return -1;
	}
	double total = 0.0;
	for (size_t b = 0; b < n_blocks; b++)
		total += c.block_sum[b];
	free(c.block_sum);
	f->eval_gemm += gemm;
	f->elementwise += elementwise;
	if (mse)
		*mse = total / ((double)s->n * m->arch.input_dim);
	return 0;
}

struct prefix_ctx {
	const struct split *s;
	const int *prefix;
	int n;
	const float *fill; /* (K) the value of a unit past the prefix, or NULL for 0 */
	double *block_sum; /* (blocks, n) squared errors */
	float *codes;	   /* (threads, EVAL_ROWS, K) the encoder's codes, per thread */
};

/* One block of ae_prefix_mse: the encoder once, the decoder once per prefix. */
static void prefix_block(void *ctx, const struct ae *m, struct ae_work *w, size_t b, size_t first,
			 int rows, uint64_t *gemm, uint64_t *elementwise)
{
	struct prefix_ctx *c = ctx;
	int D = m->arch.input_dim, K = m->arch.latent;
	const float *x = c->s->x + first * D;
	float *h = w->act[m->latent_layer + 1];
	float *saved = c->codes + (size_t)omp_get_thread_num() * EVAL_ROWS * K;
	ae_forward_encoder(m, w, x, rows, gemm, elementwise);
	memcpy(saved, h, sizeof(float) * rows * K);
	for (int i = 0; i < c->n; i++) {
		int p = c->prefix[i];
		for (int r = 0; r < rows; r++)
			for (int k = 0; k < K; k++)
				h[(size_t)r * K + k] = k < p    ? saved[(size_t)r * K + k]
						       : c->fill ? c->fill[k]
								 : 0.0f;
		*elementwise += (uint64_t)rows * K * FLOPS_MASK;
		const float *y = ae_forward_decoder(m, w, rows, gemm, elementwise);
		c->block_sum[b * c->n + i] = loss_forward_backward(LOSS_MSE, (size_t)rows * D, y,
								    x, NULL, 0.0f, elementwise);
	}
}

int ae_prefix_mse(const struct ae *m, const struct split *s, int threads, const int *prefix,
		  int n, const float *fill, double *mse, struct flops *f)
{
	if (m->arch.vae || m->bn_at[m->latent_layer])
		return ds_fail("prefix errors need a plain autoencoder (no VAE, no batch norm on "
			       "the code)");
	size_t n_blocks = (s->n + EVAL_ROWS - 1) / EVAL_ROWS;
	int t = threads < 1 ? 1 : threads;
	struct prefix_ctx c = { s, prefix, n, fill, calloc(n_blocks * (size_t)n + 1, sizeof(double)),
				malloc(sizeof(float) * (size_t)t * EVAL_ROWS * m->arch.latent) };
	uint64_t gemm = 0, elementwise = 0;
	int rc = c.block_sum && c.codes ? for_each_block(m, s, t, prefix_block, &c, &gemm,
							 &elementwise)
					: ds_fail("out of memory measuring %d prefixes", n);
	for (int i = 0; !rc && i < n; i++) {
		double total = 0.0;
		for (size_t b = 0; b < n_blocks; b++)
			total += c.block_sum[b * n + i];
		mse[i] = s->n ? total / ((double)s->n * m->arch.input_dim) : NAN;
	}
	free(c.block_sum);
	free(c.codes);
	f->eval_gemm += gemm;
	f->elementwise += elementwise;
	return rc;
}

double ae_eval_mse(const struct ae *m, const struct split *s, int threads, struct flops *f)
{
	double mse = NAN;
	if (ae_encode(m, s, threads, NULL, &mse, f))
		return NAN;
	return mse;
}

struct activity_ctx {
	const struct split *s;
	double *part;            /* per block: K maxima then K sums */
};

/* One block of ae_latent_activity: the largest and summed |h_k| of its rows. */
static void activity_block(void *ctx, const struct ae *m, struct ae_work *w, size_t b,
			   size_t first, int rows, uint64_t *gemm, uint64_t *elementwise)
{
	struct activity_ctx *c = ctx;
	int D = m->arch.input_dim, K = m->arch.latent;
	const float *h = ae_forward_encoder(m, w, c->s->x + first * D, rows, gemm, elementwise);
	double *mx = c->part + b * 2 * K, *sum = mx + K;
	for (int r = 0; r < rows; r++)
		for (int k = 0; k < K; k++) {
			double a = fabs((double)h[(size_t)r * K + k]);
			mx[k] = a > mx[k] ? a : mx[k];
			sum[k] += a;
		}
	*elementwise += 3ull * rows * K; /* abs, max, add */
}

int ae_latent_activity(const struct ae *m, const struct split *s, int threads, double *max_abs,
		       double *mean_abs, struct flops *f)
{
	int K = m->arch.latent;
	size_t n_blocks = (s->n + EVAL_ROWS - 1) / EVAL_ROWS;
	struct activity_ctx c = { s, calloc(n_blocks * 2 * K + 1, sizeof(double)) };
	if (!c.part)
		return ds_fail("out of memory scanning latent activity");
	uint64_t overhead = 0;
	if (for_each_block(m, s, threads, activity_block, &c, &overhead, &overhead)) {
		free(c.part);
		return -1;
	}
	for (int k = 0; k < K; k++) {
		max_abs[k] = 0.0;
		mean_abs[k] = 0.0;
		for (size_t b = 0; b < n_blocks; b++) {
			const double *mx = c.part + b * 2 * K;
			max_abs[k] = mx[k] > max_abs[k] ? mx[k] : max_abs[k];
			mean_abs[k] += mx[K + k];
		}
		mean_abs[k] /= s->n ? (double)s->n : 1.0;
	}
	free(c.part);
	f->overhead += overhead;
	return 0;
}

/* One block of ae_vae_statistics: sums of mu, mu^2 and sigma^2 of its rows. */
static void vae_block(void *ctx, const struct ae *m, struct ae_work *w, size_t b, size_t first,
		      int rows, uint64_t *gemm, uint64_t *elementwise)
{
	struct activity_ctx *c = ctx;
	int D = m->arch.input_dim, K = m->arch.latent;
	ae_forward_encoder(m, w, c->s->x + first * D, rows, gemm, elementwise);
	const float *mv = w->act[m->latent_layer + 1];
	double *sum = c->part + b * 3 * K, *sq = sum + K, *var = sq + K;
	for (int r = 0; r < rows; r++)
		for (int k = 0; k < K; k++) {
			double mu = mv[(size_t)r * 2 * K + k], lv = mv[(size_t)r * 2 * K + K + k];
			sum[k] += mu;
			sq[k] += mu * mu;
			var[k] += exp(lv);
		}
	*elementwise += 5ull * rows * K;
}

int ae_vae_statistics(const struct ae *m, const struct split *s, int threads, double *var_mu,
		      double *mean_var, struct flops *f)
{
	if (!m->arch.vae)
		return ds_fail("not a VAE");
	int K = m->arch.latent;
	size_t n_blocks = (s->n + EVAL_ROWS - 1) / EVAL_ROWS;
	struct activity_ctx c = { s, calloc(n_blocks * 3 * K + 1, sizeof(double)) };
	if (!c.part)
		return ds_fail("out of memory for VAE statistics");
	uint64_t overhead = 0;
	if (for_each_block(m, s, threads, vae_block, &c, &overhead, &overhead)) {
		free(c.part);
		return -1;
	}
	double n = s->n ? (double)s->n : 1.0;
	for (int k = 0; k < K; k++) {
		double sum = 0, sq = 0, var = 0;
		for (size_t b = 0; b < n_blocks; b++) {
			sum += c.part[b * 3 * K + k];
			sq += c.part[b * 3 * K + K + k];
			var += c.part[b * 3 * K + 2 * K + k];
		}
		double mean = sum / n;
		var_mu[k] = fmax(sq / n - mean * mean, 0.0);
		mean_var[k] = var / n;
	}
	free(c.part);
	f->overhead += overhead;
	return 0;
}

/* ---- training ---- */

struct chunk {
	struct ae_work *work;
	float *grad;             /* (n_params) this chunk's gradient */
	float *x;                /* (rows, D) gathered examples */
	int *keep;               /* (rows) nested dropout: code units each row keeps */
	struct rng rng;          /* nested dropout: this chunk's draws in this step */
	double loss_sum;
	double penalty_sum;
	uint64_t gemm;
	uint64_t elementwise;
};

struct trainer {
	int n_chunks;
	int chunk_rows;          /* rows of a full chunk */
	struct chunk *chunk;
	int *order;              /* (n_train) shuffled example indices */
};

/* Free what trainer_init made. */
static void trainer_free(struct trainer *t)
{
	if (t->chunk)
		for (int c = 0; c < t->n_chunks; c++) {
			ae_work_delete(t->chunk[c].work);
			if (t->n_chunks > 1)
				free(t->chunk[c].grad);
			free(t->chunk[c].x);
			free(t->chunk[c].keep);
		}
	free(t->chunk);
	free(t->order);
}

/* Workspaces and gradient buffers for every chunk of a batch; 0, or -1 when out of memory. */
static int trainer_init(struct trainer *t, const struct ae *m, const struct train_cfg *c,
			size_t n_train)
{
	memset(t, 0, sizeof(*t));
	t->n_chunks = c->chunks;
	t->chunk_rows = (c->batch + c->chunks - 1) / c->chunks;
	t->chunk = calloc(t->n_chunks, sizeof(struct chunk));
	t->order = malloc(sizeof(int) * n_train);
	if (!t->chunk || !t->order)
		goto oom;
	for (int i = 0; i < t->n_chunks; i++) {
		struct chunk *ch = &t->chunk[i];
		ch->work = ae_work_new(m, t->chunk_rows);
		if (ch->work) {
			ch->work->chunk = i;
			/* one chunk has every thread inside its layers; several, one each */
			ch->work->threads = t->n_chunks == 1 ? c->threads : 1;
		}
		ch->grad = t->n_chunks == 1 ? m->grad : malloc(sizeof(float) * m->n_params);
		ch->x = malloc(sizeof(float) * t->chunk_rows * m->arch.input_dim);
		ch->keep = c->nested_p > 0 ? malloc(sizeof(int) * t->chunk_rows) : NULL;
		if (!ch->work || !ch->grad || !ch->x || (c->nested_p > 0 && !ch->keep))
			goto oom;
	}
	for (size_t i = 0; i < n_train; i++)
		t->order[i] = (int)i;
	return 0;
oom:
	trainer_free(t);
	return ds_fail("out of memory setting up training (%zu parameters, batch %d)",
		       m->n_params, c->batch);
}

/* Settings ae_train cannot run with, as a message naming the setting. */
static int check_cfg(const struct ae *m, const struct split *train, const struct train_cfg *c)
{
	if (c->epochs < 0 || c->batch < 1 || c->chunks < 1 || c->chunks > c->batch)
		return ds_fail("bad training settings: epochs %d, batch %d, chunks %d (need epochs "
			       ">= 0, batch >= 1, 1 <= chunks <= batch)",
			       c->epochs, c->batch, c->chunks);
	if (!(c->adam.lr > 0.0f))
		return ds_fail("learning rate must be positive (got %g)", (double)c->adam.lr);
	if (train->n == 0)
		return ds_fail("the training split is empty");
	if (train->dim != m->arch.input_dim)
		return ds_fail("data has %d features but the model expects %d", train->dim,
			       m->arch.input_dim);
	if (train->n > (size_t)INT32_MAX)
		return ds_fail("too many training examples (%zu)", train->n);
	if (!(c->nested_p >= 0 && c->nested_p < 1))
		return ds_fail("nested dropout's p must be in [0, 1) (got %g)", c->nested_p);
	if ((c->nested_p > 0 || c->n_prefixes > 0) && (m->arch.vae || m->bn_at[m->latent_layer]))
		return ds_fail("nested codes need a plain autoencoder (no VAE, no batch norm on "
			       "the code)");
	if (c->n_prefixes > 0 && (m->n_conv || m->arch.hidden_bn & AE_BN_DECODER))
		return ds_fail("nested losses need a decoder without batch norm (each prefix "
			       "decodes the batch again)");
	return 0;
}

/* Chunk i's forward and backward pass on its rows of the batch at first. */
static void run_chunk(const struct ae *m, struct trainer *t, const struct split *train,
		      const struct train_cfg *c, size_t first, int rows, uint64_t step_seed, int i)
{
	int D = m->arch.input_dim;
	float scale = 1.0f / ((float)rows * (float)D);   /* mean over the batch's elements */
	float penalty_scale = 1.0f / (float)rows;         /* mean over the batch's examples */
	int per_chunk = (rows + t->n_chunks - 1) / t->n_chunks;
	struct chunk *ch = &t->chunk[i];
	int lo = i * per_chunk;
	int r = rows - lo < per_chunk ? rows - lo : per_chunk;
	ch->loss_sum = ch->penalty_sum = 0.0;
	if (r <= 0) {
		memset(ch->grad, 0, sizeof(float) * m->n_params);
		return;
	}
	ch->work->training = 1;
	if (m->arch.vae) /* each chunk its own draws, whatever thread runs it */
		rng_seed(&ch->work->rng, step_seed + (uint64_t)i);
	if (c->nested_p > 0) {
		rng_seed(&ch->rng, step_seed + (uint64_t)i);
		double q = log1p(-c->nested_p);
		for (int j = 0; j < r; j++) {
			double b = 1.0 + floor(log1p(-rng_uniform(&ch->rng)) / q);
			ch->keep[j] = b < m->arch.latent ? (int)b : m->arch.latent;
		}
		ch->work->keep = ch->keep;
	}
	for (int j = 0; j < r; j++)
		memcpy(ch->x + (size_t)j * D, train->x + (size_t)t->order[first + lo + j] * D,
		       sizeof(float) * D);
	ae_forward(m, ch->work, ch->x, r, &ch->gemm, &ch->elementwise);
	if (c->n_prefixes > 0)
		ch->loss_sum = ae_backward_nested(m, ch->work, ch->x, r, c->loss, scale,
						  c->prefixes, c->n_prefixes, ch->grad, &ch->gemm,
						  &ch->elementwise);
	else
		ch->loss_sum = ae_backward(m, ch->work, ch->x, r, c->loss, scale, c->penalty,
					   penalty_scale, &ch->penalty_sum, ch->grad, &ch->gemm,
					   &ch->elementwise);
	ch->work->keep = NULL;
}

/* One optimisation step on examples order[first .. first+rows-1]. One chunk (the default)
 * runs on every thread inside its layers; several run one per thread. */
static void train_step(struct ae *m, struct trainer *t, const struct split *train,
		       const struct train_cfg *c, size_t first, int rows, uint64_t step_seed,
		       struct flops *f)
{
	size_t n = m->n_params;
	uint64_t adam_flops = 0;
	m->adam_t++;
	if (t->n_chunks == 1)
		run_chunk(m, t, train, c, first, rows, step_seed, 0);
#pragma omp parallel num_threads(c->threads)
	{
		if (t->n_chunks > 1) {
#pragma omp for schedule(static)
			for (int i = 0; i < t->n_chunks; i++)
				run_chunk(m, t, train, c, first, rows, step_seed, i);
		}
		/* the gradient is the chunks' sum, always in chunk order, then Adam on it; one
		 * pass over the parameters, in slices small enough to stay in cache. Spectral
		 * normalisation needs the whole sum first (a layer's <G, W>), then Adam. */
#pragma omp for schedule(static) reduction(+ : adam_flops)
		for (int part = 0; part < OPTIMISER_SLICES; part++) {
			size_t lo = n * part / OPTIMISER_SLICES, hi = n * (part + 1) / OPTIMISER_SLICES;
			float *g = m->grad + lo;
			if (t->n_chunks > 1) /* one chunk writes m->grad itself */
				memcpy(g, t->chunk[0].grad + lo, sizeof(float) * (hi - lo));
			for (int i = 1; i < t->n_chunks; i++) {
				const float *gi = t->chunk[i].grad + lo;
#pragma omp simd
				for (size_t p = 0; p < hi - lo; p++)
					g[p] += gi[p];
			}
			if (!m->sn)
				adam_update(&c->adam, m->adam_t, hi - lo, m->params + lo, g,
					    m->adam_m + lo, m->adam_v + lo, &adam_flops);
		}
		if (m->sn) {
#pragma omp single
			ae_spectral_grad(m, &t->chunk[0].elementwise);
#pragma omp for schedule(static) reduction(+ : adam_flops)
			for (int part = 0; part < OPTIMISER_SLICES; part++) {
				size_t lo = n * part / OPTIMISER_SLICES;
				size_t hi = n * (part + 1) / OPTIMISER_SLICES;
				adam_update(&c->adam, m->adam_t, hi - lo, m->params + lo, m->grad + lo,
					    m->adam_m + lo, m->adam_v + lo, &adam_flops);
			}
		}
	}
	ae_spectral_renorm(m, &t->chunk[0].elementwise);
	t->chunk[0].elementwise += adam_flops + (uint64_t)(t->n_chunks - 1) * n * FLOPS_GRAD_SUM;
	if (m->n_bn) {
		struct ae_work *w[64];
		int used = 0;
		for (int i = 0; i < t->n_chunks && used < 64; i++)
			if (t->chunk[i].work->bn_rows > 0)
				w[used++] = t->chunk[i].work;
		ae_bn_update(m, w, used);
		for (int i = 0; i < t->n_chunks; i++)
			t->chunk[i].work->bn_rows = 0;
	}
	if (c->after_step) {
		double loss = 0.0;
		for (int i = 0; i < t->n_chunks; i++)
			loss += t->chunk[i].loss_sum;
		c->after_step(c->step_ctx, m, loss / ((double)rows * m->arch.input_dim), f);
	}
}

int ae_train(struct ae *m, const struct split *train, const struct split *val,
	     const struct train_cfg *c, struct rng *r, struct flops *f)
{
	if (check_cfg(m, train, c))
		return -1;
	struct trainer t;
	if (trainer_init(&t, m, c, train->n))
		return -1;
	int threads = c->threads < 1 ? 1 : c->threads;
	struct train_cfg cfg = *c;
	cfg.threads = threads;
	int epoch;
	for (epoch = 1; epoch <= c->epochs; epoch++) {
		double t0 = now_seconds(), g0 = blas_sgemm_seconds();
		rng_shuffle(r, t.order, train->n);
		double loss_sum = 0.0, penalty_sum = 0.0;
		for (size_t first = 0; first < train->n; first += (size_t)c->batch) {
			int rows = (int)(train->n - first < (size_t)c->batch ? train->n - first
									  : (size_t)c->batch);
			if (c->stop && *c->stop) {
				trainer_free(&t);
				return TRAIN_INTERRUPTED;
			}
			int draws = m->arch.vae || c->nested_p > 0;
			train_step(m, &t, train, &cfg, first, rows, draws ? rng_next(r) : 0, f);
			for (int i = 0; i < t.n_chunks; i++) {
				loss_sum += t.chunk[i].loss_sum;
				penalty_sum += t.chunk[i].penalty_sum;
			}
		}
		double t1 = now_seconds(), g1 = blas_sgemm_seconds();
		for (int i = 0; i < t.n_chunks; i++) {
			f->train_gemm += t.chunk[i].gemm;
			f->elementwise += t.chunk[i].elementwise;
			t.chunk[i].gemm = t.chunk[i].elementwise = 0;
		}
		struct epoch_report e = {
			.epoch = epoch,
			.train_loss = loss_sum / ((double)train->n * m->arch.input_dim),
			.penalty = penalty_sum / (double)train->n,
			.val_mse = val && val->n ? ae_eval_mse(m, val, threads, f) : NAN,
			.train_seconds = t1 - t0,
			.images_per_s = (double)train->n / (t1 - t0),
			.sgemm_seconds = g1 - g0,
		};
		e.seconds = now_seconds() - t0;
		e.flops = *f;
		int stop = c->on_epoch ? c->on_epoch(c->ctx, &e, m) : 0;
		if (!isfinite(e.train_loss)) {
			trainer_free(&t);
			return ds_fail("training diverged at epoch %d: the loss is %s (try a smaller "
				       "learning rate, or scale the data)",
				       epoch, isnan(e.train_loss) ? "NaN" : "infinite");
		}
		if (stop)
			break;
	}
	trainer_free(&t);
	return epoch > c->epochs ? c->epochs : epoch;
}
