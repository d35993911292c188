/* sosae.c: one run at K_max with a penalty that grows with a latent unit's position, so that
 * the units the data needs gather at the front and the rest fall to exactly zero (ReLU); the
 * model is then cut to its active prefix K*. */
#include "sosae.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "grid.h"

int sosae_weights(int form, double alpha, int K, double *w)
{
	int capped = 0;
	for (int k = 0; k < K; k++) {
		double v = form == SOSAE_WEIGHT_EXP ? exp((double)k * log1p(alpha))
						    : 1.0 + alpha * (double)k;
		if (!(v <= SOSAE_MAX_WEIGHT)) {
			v = SOSAE_MAX_WEIGHT;
			capped++;
		}
		w[k] = v;
	}
	return capped;
}

int sosae_active_size(const double *max_abs, int K, double tau)
{
	for (int k = K; k > 0; k--)
		if (max_abs[k - 1] > tau)
			return k;
	return 0;
}

double sosae_penalty(const double *w, double lambda, double l1, int rows, int K, const float *h,
		     float *dh, float scale, double *seen_max, uint64_t *elementwise)
{
	double sum = 0.0;
	for (int r = 0; r < rows; r++) {
		const float *hr = h + (size_t)r * K;
		float *dr = dh + (size_t)r * K;
		for (int k = 0; k < K; k++) {
			double c = lambda * w[k] + l1, a = fabs((double)hr[k]);
			sum += c * a;
			double sign = hr[k] > 0 ? 1.0 : hr[k] < 0 ? -1.0 : 0.0;
			dr[k] += (float)(scale * c * sign);
			if (seen_max && a > seen_max[k])
				seen_max[k] = a;
		}
	}
	*elementwise += 5ull * rows * K; /* abs, multiply-add for P, sign times c, add to dh */
	return sum;
}

/* ---- settings ---- */

#define S(field) offsetof(struct sosae_settings, field)

static const struct setting sosae_keys[] = {
	{ .name = "sosae.alpha",
	  .type = SETTING_DOUBLE_LIST,
	  .offset = S(alpha),
	  .lo = 0,
	  .hi = 100,
	  .def = "0.1",
	  .help = "the positional growth: one number above 0, or a list for a sensitivity sweep",
	  .capacity = SOSAE_MAX_VARIANTS,
	  .count_offset = S(n_alpha) },
	{ .name = "sosae.lambda",
	  .type = SETTING_DOUBLE_LIST,
	  .offset = S(lambda),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "0.00001",
	  .help = "the penalty weight: one number above 0, or a list",
	  .capacity = SOSAE_MAX_VARIANTS,
	  .count_offset = S(n_lambda) },
	{ .name = "sosae.weight",
	  .type = SETTING_WORD,
	  .offset = S(weight),
	  .lo = 0,
	  .hi = 0,
	  .def = "exp",
	  .help = "exp: w_k = (1+alpha)^(k-1), or linear: w_k = 1 + alpha (k-1)",
	  .words = "exp|linear" },
	{ .name = "sosae.l1",
	  .type = SETTING_DOUBLE,
	  .offset = S(l1),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "0",
	  .help = "a plain L1 weight, 0 for none" },
	{ .name = "sosae.tau",
	  .type = SETTING_DOUBLE,
	  .offset = S(tau),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "0",
	  .help = "activity threshold, 0 for an exact (lossless) cut" },
	{ .name = "sosae.patience",
	  .type = SETTING_INT,
	  .offset = S(patience),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "0",
	  .help = "stop after this many epochs with K* unchanged, 0 to train the full budget" },
	{ .name = "sosae.finetune",
	  .type = SETTING_INT_LIST,
	  .offset = S(finetune),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "",
	  .help = "epochs of training at K* after the cut, 0 for none (default delivery.epochs); a "
		  "list such as 0,5,20 compares them",
	  .capacity = SOSAE_MAX_VARIANTS,
	  .count_offset = S(n_finetune) },
};

const struct settings sosae_settings = { "SOSAE", sosae_keys, SETTINGS_COUNT(sosae_keys),
					 sizeof(struct sosae_settings), NULL };

static const struct sosae_settings *settings_of(const struct experiment *e)
{
	return experiment_settings(e, &sosae_settings);
}

/* ---- the strategy ---- */

struct variant {
	double alpha, lambda;
	int finetune;
};

/* fine-tuning lengths: sosae.finetune, or the one delivery budget every strategy has */
static int n_finetune(const struct sosae_settings *o)
{
	return o->n_finetune ? o->n_finetune : 1;
}

static int n_variants(const struct sosae_settings *o)
{
	return o->n_alpha * o->n_lambda * n_finetune(o);
}

/* Setting v of the alpha x lambda x finetune product, finetune varying fastest. */
static struct variant variant_of(const struct experiment *e, const struct sosae_settings *o,
				 int v)
{
	int nl = o->n_lambda, nf = n_finetune(o);
	return (struct variant){ o->alpha[v / (nl * nf)], o->lambda[(v / nf) % nl],
				 o->n_finetune ? o->finetune[v % nf] : e->delivery_epochs };
}

static const char *weight_name(const struct sosae_settings *o)
{
	return o->weight == SOSAE_WEIGHT_EXP ? "exp" : "linear";
}

/* Trial t: one SOSAE run at k_max with setting x, named `name`. Every setting of the run is
 * in its key (changing one runs it again), so that sosae and sosae-tuned share a run they
 * both plan; the run reads its setting back from params. */
static void sosae_trial(const struct experiment *e, const struct sosae_settings *o,
			struct variant x, long seed, const char *name, struct trial_record *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->strategy, sizeof(t->strategy), "%s", name);
	snprintf(t->key, sizeof(t->key),
		 "sosae/a=%g/l=%g/%s/l1=%g/tau=%g/p=%d/ft=%d/K=%d/"
		 "seed=%ld",
		 x.alpha, x.lambda, weight_name(o), o->l1, o->tau, o->patience, x.finetune,
		 e->k_max, seed);
	snprintf(t->role, sizeof(t->role), "search");
	t->latent = e->k_max;
	t->seed = seed;
	snprintf(t->params, sizeof(t->params),
		 "{\"alpha\":%.17g,\"lambda\":%.17g,\"weight\":\"%s\",\"l1\":%g,\"tau\":%g,"
		 "\"patience\":%d,\"finetune\":%d,\"epochs\":%d}",
		 x.alpha, x.lambda, weight_name(o), o->l1, o->tau, o->patience, x.finetune,
		 e->epochs);
}

/* One trial per setting of the sweep (one in all without a sweep), at K_max. */
static int sosae_plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	const struct sosae_settings *o = settings_of(e);
	int n = 0;
	for (int v = 0; v < n_variants(o) && n < max; v++, n++) {
		struct variant x = variant_of(e, o, v);
		/* named by the knobs that vary: sosae(a=..,l=..) in a sweep of the penalty,
		 * sosae(ft=..) for fine-tuning lengths alone */
		char knobs[32] = "", ft[16] = "", name[64];
		if (o->n_alpha * o->n_lambda > 1)
			snprintf(knobs, sizeof(knobs), "a=%g,l=%g", x.alpha, x.lambda);
		if (n_finetune(o) > 1)
			snprintf(ft, sizeof(ft), "%sft=%d", knobs[0] ? "," : "", x.finetune);
		if (n_variants(o) == 1)
			snprintf(name, sizeof(name), "sosae");
		else
			snprintf(name, sizeof(name), "sosae(%s%s)", knobs, ft);
		sosae_trial(e, o, x, seed, name, &trials[n]);
		trials[n].variant = v;
	}
	return n_variants(o);
}

/* What one SOSAE run tracks while it trains. */
struct sosae_run {
	const struct sosae_settings *o;
	double *w; /* (K) positional weights */
	double lambda;
	double *seen_max; /* (K) largest |h_k| in this epoch's training passes */
	int K;
	int last_k_star;
	int unchanged; /* epochs since K* last changed */
	int stopped_early;
};

/* The latent penalty's hook: the positional penalty of one chunk, and its units' maxima. */
static double penalty_apply(void *ctx, int chunk, int rows, int K, const float *h, float *dh,
			    float scale, uint64_t *elementwise)
{
	(void)chunk;
	struct sosae_run *s = ctx;
	double local_max[256], *seen = K <= 256 ? local_max : NULL;
	if (seen)
		memset(seen, 0, sizeof(double) * K);
	double p =
		sosae_penalty(s->w, s->lambda, s->o->l1, rows, K, h, dh, scale, seen, elementwise);
	/* chunks run on several threads: merge this chunk's maxima under a lock (max is
	 * order-free, so the result does not depend on the threads) */
#pragma omp critical(sosae_max)
	{
		for (int r = 0; !seen && r < rows; r++)
			for (int k = 0; k < K; k++) {
				double a = fabs((double)h[(size_t)r * K + k]);
				if (a > s->seen_max[k])
					s->seen_max[k] = a;
			}
		for (int k = 0; seen && k < K; k++)
			if (seen[k] > s->seen_max[k])
				s->seen_max[k] = seen[k];
	}
	return p;
}

/* K* of the epoch just trained, from the activations its training passes saw */
static int epoch_hook(void *ctx, struct epoch_record *e, struct ae *m)
{
	(void)m;
	struct sosae_run *s = ctx;
	int k_star = sosae_active_size(s->seen_max, s->K, s->o->tau);
	memset(s->seen_max, 0, sizeof(double) * s->K);
	e->active_latent = k_star;
	s->unchanged = k_star == s->last_k_star ? s->unchanged + 1 : 0;
	s->last_k_star = k_star;
	int patience = s->o->patience;
	if (patience > 0 && s->unchanged >= patience && k_star < s->K) {
		s->stopped_early = 1;
		return 1;
	}
	return 0;
}

/* One SOSAE run: train with the penalty, cut to K*, check the cut, fine-tune, measure. */
static enum trial_state sosae_run(const struct trial_ctx *c, struct trial_record *t)
{
	const struct sosae_settings *o = settings_of(c->exp);
	struct variant x = { details_number(t->params, "alpha"), details_number(t->params, "lambda"),
			     (int)details_number(t->params, "finetune") };
	int K = t->latent;
	struct sosae_run s = { .o = o, .lambda = x.lambda, .K = K, .last_k_star = -1 };
	s.w = malloc(sizeof(double) * K);
	s.seen_max = calloc(K, sizeof(double));
	double *max_abs = malloc(sizeof(double) * K), *mean_abs = malloc(sizeof(double) * K);
	struct ae *m = NULL, *cut = NULL;
	enum trial_state status = TRIAL_FAILED;
	if (!s.w || !s.seen_max || !max_abs || !mean_abs) {
		snprintf(t->error, sizeof(t->error), "out of memory");
		goto done;
	}
	int capped = sosae_weights(o->weight, x.alpha, K, s.w);
	struct latent_penalty pen = { penalty_apply, &s };
	struct trial_hooks hooks = { .penalty = &pen, .epoch = epoch_hook, .ctx = &s };
	status = trial_train(c, t, &hooks, &m);
	if (status != TRIAL_COMPLETE)
		goto done;
	/* the exact activity of the trained model over the training set decides K* */
	if (ae_latent_activity(m, &c->data->train, c->threads, max_abs, mean_abs, &t->flops)) {
		snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
		status = TRIAL_FAILED;
		goto done;
	}
	if (c->on_activity)
		c->on_activity(c->ctx, t, K, max_abs, mean_abs, NULL, NULL);
	int k_star = sosae_active_size(max_abs, K, o->tau);
	/* the prefix 1..K* may hold silent units (the paper's figure shows many): counted */
	int alive = 0;
	for (int k = 0; k < k_star; k++)
		alive += max_abs[k] > o->tau;
	int dead = k_star == 0;
	if (dead)
		k_star = 1; /* every unit silent: keep one so that a model can be delivered */
	struct flops report = { 0 };
	double before = ae_eval_mse(m, &c->data->test, c->threads, &report);
	double train_before = ae_eval_mse(m, &c->data->train, c->threads, &report);
	cut = ae_truncate(m, k_star);
	if (!cut) {
		snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
		status = TRIAL_FAILED;
		goto done;
	}
	/* the cut model's errors: measured here when fine-tuning will change it, else they
	 * are the delivered model's, measured below */
	double after = NAN, train_after = NAN;
	if (x.finetune > 0) {
		after = ae_eval_mse(cut, &c->data->test, c->threads, &report);
		train_after = ae_eval_mse(cut, &c->data->train, c->threads, &report);
	}
	t->flops.report += flops_total(&report);
	/* optional fine-tuning at K*: delivery work, after the size was named */
	char what[32];
	snprintf(what, sizeof(what), "at K* = %d", k_star);
	status = trial_finetune(c, t, cut, x.finetune, what);
	if (status == TRIAL_INTERRUPTED)
		goto done;
	if (x.finetune == 0) {
		after = t->test_mse;
		train_after = t->train_mse;
	}
	char b1[32], b2[32], b3[32], b4[32];
	snprintf(t->details, sizeof(t->details),
		 "{\"k_star\":%d,\"k_max\":%d,\"alpha\":%g,\"lambda\":%g,\"weight\":\"%s\","
		 "\"tau\":%g,\"epochs_run\":%d,\"stopped_early\":%s,\"all_units_silent\":%s,"
		 "\"test_mse_before_cut\":%s,\"test_mse_after_cut\":%s,"
		 "\"train_mse_before_cut\":%s,\"train_mse_after_cut\":%s,\"lossless\":%s,"
		 "\"capped_weights\":%d,\"finetune_epochs\":%d,\"alive_in_prefix\":%d,"
		 "\"delivered_epochs\":%d}",
		 k_star, K, x.alpha, x.lambda, weight_name(o), o->tau, t->epochs_run,
		 s.stopped_early ? "true" : "false", dead ? "true" : "false",
		 json_number(b1, before), json_number(b2, after), json_number(b3, train_before),
		 json_number(b4, train_after),
		 before == after && train_before == train_after ? "true" : "false", capped,
		 x.finetune, alive, t->epochs_run + x.finetune);
done:
	ae_delete(m);
	ae_delete(cut);
	free(s.w);
	free(s.seen_max);
	free(max_abs);
	free(mean_abs);
	return status;
}

/* K* of the one run, not the width it trained at. */
static int sosae_decide(const struct experiment *e, long seed, const struct trial_record *trials,
			int n, struct decision_record *d)
{
	(void)e;
	if (decide_single(seed, trials, n, 0, d))
		return -1;
	/* the size is K*, not the width it trained at */
	double k_star = details_number(trials[0].details, "k_star");
	d->chosen_latent = isfinite(k_star) ? (int)k_star : trials[0].latent;
	return 0;
}

/* ---- SOSAE tuned: its knobs picked on validation, the sweep charged ---- */

struct tuned_settings {
	double alpha[SOSAE_MAX_VARIANTS];
	int n_alpha;
	double lambda[SOSAE_MAX_VARIANTS];
	int n_lambda;
};

#define T(field) offsetof(struct tuned_settings, field)

static const struct setting tuned_keys[] = {
	{ .name = "sosae-tuned.alpha",
	  .type = SETTING_DOUBLE_LIST,
	  .offset = T(alpha),
	  .lo = 0,
	  .hi = 100,
	  .def = "0.05, 0.1, 0.2",
	  .help = "the alphas sosae-tuned tries",
	  .capacity = SOSAE_MAX_VARIANTS,
	  .count_offset = T(n_alpha) },
	{ .name = "sosae-tuned.lambda",
	  .type = SETTING_DOUBLE_LIST,
	  .offset = T(lambda),
	  .lo = 0,
	  .hi = 1e6,
	  .def = "0.000003, 0.00001, 0.00003",
	  .help = "the lambdas sosae-tuned tries",
	  .capacity = SOSAE_MAX_VARIANTS,
	  .count_offset = T(n_lambda) },
};

static const struct settings tuned_settings = { "SOSAE tuned", tuned_keys,
						SETTINGS_COUNT(tuned_keys),
						sizeof(struct tuned_settings), NULL };

/* Every alpha x lambda with SOSAE's other settings, each fine-tuned for delivery.epochs. */
static int tuned_plan(const struct experiment *e, long seed, struct trial_record *trials, int max)
{
	const struct sosae_settings *o = settings_of(e);
	const struct tuned_settings *g = experiment_settings(e, &tuned_settings);
	int n = 0;
	for (int a = 0; a < g->n_alpha; a++)
		for (int l = 0; l < g->n_lambda; l++, n++)
			if (n < max) {
				struct variant x = { g->alpha[a], g->lambda[l], e->delivery_epochs };
				sosae_trial(e, o, x, seed, "sosae-tuned", &trials[n]);
			}
	return n;
}

/* The setting whose delivered model is the narrowest within grid.select's tolerance of the
 * sweep's best validation MSE: the grid's rule over (K*, validation MSE), test data unseen.
 * Every run of the sweep is tuning, but the chosen one's fine-tuning, which is delivery. */
static int tuned_decide(const struct experiment *e, long seed, const struct trial_record *trials,
			int n, struct decision_record *d)
{
	const struct grid_settings *g = experiment_settings(e, &grid_settings);
	int K[SOSAE_MAX_VARIANTS * SOSAE_MAX_VARIANTS];
	double val[SOSAE_MAX_VARIANTS * SOSAE_MAX_VARIANTS];
	if (n > SOSAE_MAX_VARIANTS * SOSAE_MAX_VARIANTS || n < 1)
		return ds_fail("sosae-tuned (seed %ld): %d runs in its sweep", seed, n);
	uint64_t all = 0;
	double seconds = 0;
	for (int i = 0; i < n; i++) {
		int done = trials[i].state == TRIAL_COMPLETE;
		K[i] = done ? (int)details_number(trials[i].details, "k_star") : 0;
		val[i] = done ? trials[i].val_mse : NAN;
		all += flops_tuning(&trials[i].flops);
		seconds += isfinite(trials[i].seconds) ? trials[i].seconds : 0;
	}
	int c = grid_choose(K, val, n, g->select, g->tolerance);
	if (c < 0)
		return ds_fail("sosae-tuned (seed %ld): every run of its sweep failed", seed);
	if (decide_single(seed, &trials[c], 1, 0, d))
		return -1;
	snprintf(d->strategy, sizeof(d->strategy), "sosae-tuned");
	d->chosen_latent = K[c];
	d->tuning_flops = all - trials[c].delivery_flops;
	d->seconds = seconds;
	d->report_flops = 0;
	for (int i = 0; i < n; i++)
		d->report_flops += trials[i].flops.report;
	char picked[160];
	snprintf(picked, sizeof(picked),
		 "\"picked_alpha\":%g,\"picked_lambda\":%g,\"sweep\":%d,\"picked_on\":"
		 "\"validation\"",
		 details_number(trials[c].params, "alpha"),
		 details_number(trials[c].params, "lambda"), n);
	details_append(d->details, sizeof(d->details), picked);
	return 0;
}

const struct strategy sosae_tuned_strategy = {
	.name = "sosae-tuned",
	.settings = &tuned_settings,
	.plan = tuned_plan,
	.run = sosae_run,
	.decide = tuned_decide,
};

const struct strategy sosae_strategy = {
	.name = "sosae",
	.settings = &sosae_settings,
	.plan = sosae_plan,
	.run = sosae_run,
	.decide = sosae_decide,
};
