/* trial.c: the autoencoder trial every strategy shares: build, train, measure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/err.h"
#include "../core/model_io.h"
#include "../core/probe.h"
#include "models.h"
#include "strategy.h"

static double now_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

struct ae_arch experiment_arch(const struct experiment *e, const struct dataset *d, int K)
{
	if (!e->conv)
		return ae_arch_plain(d->dim, e->hidden, e->n_hidden, K, ACT_RELU, e->latent_act,
				     e->output_act, d->unit_range);
	const int *shape = e->shape[0] ? e->shape : d->image;
	struct ae_arch a = ae_arch_conv(shape[0], shape[1], shape[2], e->channels,
					e->n_channels, e->kernel, e->hidden,
					e->hidden_given ? e->n_hidden : 0, K, ACT_RELU,
					e->latent_act, e->output_act, d->unit_range);
	a.input_dim = d->dim; /* a shape that does not hold the data is refused, naming both */
	return a;
}

double details_number(const char *json, const char *key)
{
	char quoted[128];
	snprintf(quoted, sizeof(quoted), "\"%s\":", key);
	const char *at = json ? strstr(json, quoted) : NULL;
	if (!at)
		return NAN;
	char *end;
	double v = strtod(at + strlen(quoted), &end);
	return end == at + strlen(quoted) ? NAN : v;
}

void details_append(char *json, size_t size, const char *fields)
{
	size_t n = strlen(json);
	if (n < 2 || json[n - 1] != '}') {
		if (strlen(fields) + 3 <= size)
			snprintf(json, size, "{%s}", fields);
		return;
	}
	int empty = n == 2;
	if (n - 1 + !empty + strlen(fields) + 2 > size)
		return;
	snprintf(json + n - 1, size - (n - 1), "%s%s}", empty ? "" : ",", fields);
}

int decision_edge(struct decision_record *d, int lo, int hi)
{
	const char *edge = d->chosen_latent >= hi	       ? "k_max"
			   : lo > 1 && d->chosen_latent <= lo ? "k_min"
							      : NULL;
	if (!edge)
		return 0;
	char field[32];
	snprintf(field, sizeof(field), "\"edge\":\"%s\"", edge);
	details_append(d->details, sizeof(d->details), field);
	return 1;
}

const char *json_number(char *buf, double v)
{
	if (isfinite(v))
		snprintf(buf, 32, "%.9g", v);
	else
		snprintf(buf, 32, "null");
	return buf;
}

/* ---- epochs into the store ---- */

struct epoch_bridge {
	const struct trial_ctx *c;
	const struct trial_hooks *h;
	struct trial_record *t;
	double t0;
};

/* After each epoch of a trial: its record, the strategy's hook, then the store's. */
static int bridge_epoch(void *ctx, const struct epoch_report *r, struct ae *m)
{
	struct epoch_bridge *b = ctx;
	b->t->epochs_run = r->epoch;
	b->t->flops = r->flops;
	struct epoch_record e = {
		.epoch = r->epoch,
		.train_loss = r->train_loss,
		.penalty = r->penalty,
		.val_mse = r->val_mse,
		.active_latent = -1,
		.mask_distance = NAN,
		.flops_tuning = flops_tuning(&r->flops),
		.seconds = now_seconds() - b->t0,
	};
	int stop = 0;
	if (b->h && b->h->epoch)
		stop = b->h->epoch(b->h->ctx, &e, m);
	if (b->c->on_epoch && b->c->on_epoch(b->c->ctx, b->t, &e))
		stop = 1;
	return stop;
}

/* The measured model under its trial key in c->model_dir, with the data's scaling and
 * where it came from, for 'dimsearch export' (nothing without a folder). */
static enum trial_state save_model(const struct trial_ctx *c, const struct ae *m,
				   struct trial_record *t)
{
	if (!c->model_dir)
		return TRIAL_COMPLETE;
	const struct dataset *d = c->data;
	struct model_scaling s = { d->scale, d->dim, d->shift, d->spread };
	char about[1024], path[4096];
	snprintf(about, sizeof(about),
		 "\"experiment\":\"%s\",\"trial\":\"%s\",\"seed\":%ld,\"test_mse\":%.9g",
		 c->exp->name, t->key, t->seed, isfinite(t->test_mse) ? t->test_mse : -1.0);
	models_file(path, sizeof(path), c->model_dir, t->key);
	if (ae_save_npz(m, &s, about, path)) {
		snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
		return TRIAL_FAILED;
	}
	return TRIAL_COMPLETE;
}

enum trial_state trial_measure(const struct trial_ctx *c, const struct ae *m,
			       struct trial_record *t)
{
	const struct dataset *d = c->data;
	struct flops report = { 0 };
	t->val_mse = ae_eval_mse(m, &d->val, c->threads, &report);
	t->probe_accuracy = NAN;
	int K = m->arch.latent;
	/* with labels, the passes that give the probe its codes give the MSEs too */
	if (d->n_classes >= 2 && d->train.y && d->test.y && d->test.n > 0) {
		float *train_codes = malloc(sizeof(float) * d->train.n * K);
		float *test_codes = malloc(sizeof(float) * d->test.n * K);
		if (!train_codes || !test_codes) {
			free(train_codes);
			free(test_codes);
			snprintf(t->error, sizeof(t->error), "out of memory for latent codes");
			return TRIAL_FAILED;
		}
		int rc = ae_encode(m, &d->train, c->threads, train_codes, &t->train_mse, &report) ||
			 ae_encode(m, &d->test, c->threads, test_codes, &t->test_mse, &report);
		if (!rc) {
			struct probe_cfg pc;
			probe_cfg_defaults(&pc);
			pc.epochs = c->exp->probe_epochs;
			pc.lr = (float)c->exp->probe_lr;
			t->probe_accuracy = probe_accuracy(train_codes, d->train.y, d->train.n,
							   test_codes, d->test.y, d->test.n, K,
							   d->n_classes, &pc, (uint64_t)t->seed,
							   &report.report);
		}
		free(train_codes);
		free(test_codes);
		if (rc || t->probe_accuracy < 0) {
			snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
			return TRIAL_FAILED;
		}
	} else {
		t->train_mse = ae_eval_mse(m, &d->train, c->threads, &report);
		t->test_mse = ae_eval_mse(m, &d->test, c->threads, &report);
	}
	t->flops.report += flops_total(&report);
	return save_model(c, m, t);
}

enum trial_state trial_deliver(const struct trial_ctx *c, struct trial_record *t, int K)
{
	struct flops search = t->flops;
	int epochs = t->epochs_run;
	double seconds = t->seconds;
	/* a search that trained stored its epochs; only a search without training (the
	 * estimators) stores the delivery's */
	struct trial_ctx quiet = *c;
	if (epochs > 0)
		quiet.on_epoch = NULL;
	t->latent = K > 0 ? K : 1;
	struct ae *m;
	struct trial_hooks h = { .epochs = c->exp->delivery_epochs };
	enum trial_state status = trial_train(&quiet, t, &h, &m);
	if (status == TRIAL_COMPLETE) {
		t->delivery_flops = flops_tuning(&t->flops);
		status = trial_measure(c, m, t);
		ae_delete(m);
	}
	flops_add(&t->flops, &search);
	if (epochs > 0)
		t->epochs_run = epochs;
	t->seconds += seconds;
	return status;
}

const char *delivery_key(const struct experiment *e, char buf[24])
{
	buf[0] = '\0';
	if (e->delivery_epochs != e->epochs)
		snprintf(buf, 24, "/de=%d", e->delivery_epochs);
	return buf;
}

/* The fine-tuning's epochs into the store after the search's, numbered on from them
 * (epochs_run + 1, ...), so that the delivered model's curve can be queried too. */
struct finetune_bridge {
	const struct trial_ctx *c;
	const struct trial_record *t;
	uint64_t search_flops; /* the trial's tuning FLOPs before the fine-tuning */
	double t0, search_seconds;
};

static int finetune_epoch(void *ctx, const struct epoch_report *r, struct ae *m)
{
	(void)m;
	struct finetune_bridge *b = ctx;
	struct epoch_record e = {
		.epoch = b->t->epochs_run + r->epoch,
		.train_loss = r->train_loss,
		.penalty = r->penalty,
		.val_mse = r->val_mse,
		.active_latent = -1,
		.mask_distance = NAN,
		.flops_tuning = b->search_flops + flops_tuning(&r->flops),
		.seconds = b->search_seconds + now_seconds() - b->t0,
	};
	return b->c->on_epoch && b->c->on_epoch(b->c->ctx, b->t, &e);
}

enum trial_state trial_finetune(const struct trial_ctx *c, struct trial_record *t, struct ae *cut,
				int epochs, const char *what)
{
	if (epochs > 0) {
		struct train_cfg cfg;
		trial_train_cfg(c, &cfg);
		cfg.epochs = epochs;
		struct finetune_bridge bridge = { c, t, flops_tuning(&t->flops), now_seconds(),
						  t->seconds };
		cfg.on_epoch = finetune_epoch;
		cfg.ctx = &bridge;
		struct rng r;
		rng_seed(&r, (uint64_t)t->seed ^ 0xf17e7u);
		struct flops ft = { 0 };
		int rc = ae_train(cut, &c->data->train, &c->data->val, &cfg, &r, &ft);
		if (rc == TRAIN_INTERRUPTED)
			return TRIAL_INTERRUPTED;
		if (rc < 0) {
			snprintf(t->error, sizeof(t->error), "fine-tuning %s: %s", what, ds_errmsg());
			return TRIAL_FAILED;
		}
		t->delivery_flops = flops_tuning(&ft);
		flops_add(&t->flops, &ft);
	}
	return trial_measure(c, cut, t);
}

int decide_single(long seed, const struct trial_record *trials, int n, uint64_t tuning,
		  struct decision_record *d)
{
	if (n != 1 || trials[0].state != TRIAL_COMPLETE)
		return ds_fail("%s (seed %ld): its run failed: %s",
			       n ? trials[0].strategy : "strategy", seed,
			       n ? trials[0].error : "no trial");
	const struct trial_record *t = &trials[0];
	memset(d, 0, sizeof(*d));
	snprintf(d->strategy, sizeof(d->strategy), "%s", t->strategy);
	d->seed = seed;
	d->chosen_latent = t->latent;
	d->tuning_flops = tuning ? tuning : flops_tuning(&t->flops) - t->delivery_flops;
	d->delivery_flops = t->delivery_flops;
	d->report_flops = t->flops.report;
	d->test_mse = t->test_mse;
	d->probe_accuracy = t->probe_accuracy;
	d->seconds = t->seconds;
	snprintf(d->details, sizeof(d->details), "%s", t->details);
	return 0;
}

void trial_train_cfg(const struct trial_ctx *c, struct train_cfg *cfg)
{
	const struct experiment *e = c->exp;
	train_cfg_defaults(cfg);
	cfg->epochs = e->epochs;
	cfg->batch = e->batch;
	cfg->chunks = e->chunks;
	cfg->threads = c->threads;
	cfg->adam.lr = (float)e->lr;
	cfg->loss = e->loss;
	cfg->stop = c->stop;
}

enum trial_state trial_train(const struct trial_ctx *c, struct trial_record *t,
			     const struct trial_hooks *h, struct ae **out)
{
	double t0 = now_seconds();
	*out = NULL;
	struct ae_arch arch = experiment_arch(c->exp, c->data, t->latent);
	if (h && h->vae) {
		arch.vae = 1;
		arch.latent_act = ACT_IDENTITY;
	}
	if (h && h->linear) {
		arch.linear = h->linear;
		arch.latent_act = ACT_IDENTITY;
	}
	if (h && h->latent_bn)
		arch.latent_bn = 1;
	if (h && h->hidden_bn)
		arch.hidden_bn = h->hidden_bn;
	struct ae *m = ae_new(&arch);
	if (!m) {
		snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
		return TRIAL_FAILED;
	}
	if (h && h->vae)
		m->vae_beta = (float)h->vae_beta;
	struct rng r;
	rng_seed(&r, (uint64_t)t->seed);
	ae_init(m, &r);
	if (h && h->ready)
		h->ready(h->ctx, m);
	struct epoch_bridge bridge = { .c = c, .h = h, .t = t, .t0 = t0 };
	struct train_cfg cfg;
	trial_train_cfg(c, &cfg);
	if (h && h->epochs > 0)
		cfg.epochs = h->epochs;
	if (h && h->lr > 0)
		cfg.adam.lr = (float)h->lr;
	if (h && h->batch > 0)
		cfg.batch = h->batch;
	if (h) {
		cfg.nested_p = h->nested_p;
		cfg.prefixes = h->prefixes;
		cfg.n_prefixes = h->n_prefixes;
	}
	cfg.penalty = h ? h->penalty : NULL;
	cfg.after_step = h ? h->after_step : NULL;
	cfg.step_ctx = h ? h->ctx : NULL;
	cfg.on_epoch = bridge_epoch;
	cfg.ctx = &bridge;
	memset(&t->flops, 0, sizeof(t->flops));
	int rc = ae_train(m, &c->data->train, &c->data->val, &cfg, &r, &t->flops);
	t->seconds = now_seconds() - t0;
	if (rc == TRAIN_INTERRUPTED) {
		ae_delete(m);
		return TRIAL_INTERRUPTED;
	}
	if (rc < 0) {
		snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
		ae_delete(m);
		return TRIAL_FAILED;
	}
	t->epochs_run = rc;
	*out = m;
	return TRIAL_COMPLETE;
}
