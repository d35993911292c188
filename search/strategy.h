/* strategy.h: what every latent-size strategy provides, and the trial it shares.
 *
 * A strategy plans independent trials for each seed, runs each on the shared autoencoder
 * core, and decides a latent size from their results. The scheduler runs the trials (in
 * parallel), stores everything and asks for the decision. */
#ifndef DS_STRATEGY_H
#define DS_STRATEGY_H

#include <signal.h>
#include <stddef.h>

#include "../core/data.h"
#include "../core/model.h"
#include "../core/train.h"
#include "experiment.h"
#include "records.h"
#include "settings.h"

/* What a running trial may use. */
struct trial_ctx {
	const struct experiment *exp;
	const struct dataset *data;
	int threads;			   /* OpenMP threads for this trial's batches */
	const volatile sig_atomic_t *stop; /* raised on Ctrl-C / SIGTERM */
	/* Called after every epoch with the trial's record; non-zero stops training. */
	int (*on_epoch)(void *ctx, const struct trial_record *t, const struct epoch_record *e);
	/* Store the trial's latent units (see store_activity; the VAE arrays may be NULL). */
	int (*on_activity)(void *ctx, const struct trial_record *t, int K, const double *max_abs,
			   const double *mean_abs, const double *var_mu, const double *mean_sigma2);
	void *ctx;
	const char *model_dir; /* where each measured model is saved (models.h); NULL: nowhere */
};

/* What a strategy adds to the shared training run. */
struct trial_hooks {
	const struct latent_penalty *penalty; /* NULL for none */
	/* After each epoch, before it is stored: may set e->active_latent; non-zero stops
	 * training early (not an error). */
	int (*epoch)(void *ctx, struct epoch_record *e, struct ae *m);
	void *ctx;
	int vae;				     /* train a VAE (identity code layer) ... */
	double vae_beta;			     /* ... with this KL weight */
	int linear;				     /* IRMAE: K x K layers before the code
						      * (arch.linear), the code linear */
	int latent_bn;				     /* scale and shift on the code layer */
	int hidden_bn;				     /* ... and on hidden layers (arch) */
	/* on the initialised model, before the first step (NULL: none) */
	void (*ready)(void *ctx, struct ae *m);
	/* after every optimiser step; its own work into f->overhead */
	void (*after_step)(void *ctx, struct ae *m, double batch_loss, struct flops *f);
	int epochs;				     /* 0: the experiment's */
	double lr;				     /* 0: the experiment's */
	int batch;				     /* 0: the experiment's */
	double nested_p;			     /* nested dropout (train_cfg) */
	const int *prefixes;			     /* Matryoshka's prefixes (train_cfg) */
	int n_prefixes;
};

struct strategy {
	const char *name;
	/* Its keys in experiments.ini and the block they fill (NULL: none). Read the block
	 * with experiment_settings(e, settings). */
	const struct settings *settings;
	/* The independent trials for this seed (key, strategy, role, latent, seed, params):
	 * fills at most max and returns how many it plans (more than max: call again with
	 * room for all). */
	int (*plan)(const struct experiment *e, long seed, struct trial_record *trials, int max);
	/* For a search whose next trials depend on earlier results (bisection, successive
	 * halving): called when every trial planned so far for the seed has finished, with
	 * those trials in plan order; fills at most max further trials like plan and returns
	 * how many it wants, 0 when the search is over. NULL: plan names every trial. */
	int (*next)(const struct experiment *e, long seed, const struct trial_record *done,
		    int n_done, struct trial_record *trials, int max);
	/* Run one planned trial: measurements, FLOPs and details into t. TRIAL_COMPLETE,
	 * TRIAL_FAILED with the reason in t->error, or TRIAL_INTERRUPTED. */
	enum trial_state (*run)(const struct trial_ctx *c, struct trial_record *t);
	/* Decide from this seed's trials (finished or failed). 0, or -1 with ds_errmsg().
	 * NULL: decide_single, for one trial per seed that names its size in t->latent. */
	int (*decide)(const struct experiment *e, long seed, const struct trial_record *trials,
		      int n, struct decision_record *d);
	/* Whether the data suits the settings, before anything runs: 0, or -1 with
	 * ds_errmsg() naming the key and what to change. NULL: no check of its own. */
	int (*check)(const struct experiment *e, const struct dataset *d);
};

/* A check for a strategy that works on dense autoencoders only: 0, or -1 with ds_errmsg()
 * naming the experiment, the strategy and the key arch when e is convolutional. */
int strategy_dense_only(const struct experiment *e, const char *strategy, const char *why);

/* The strategies a program offers (its registry) and the blocks of their settings. */
#define REGISTRY_MAX 32
struct registry {
	const struct strategy *strategy[REGISTRY_MAX];
	int n;
	const struct settings *table[REGISTRY_MAX]; /* distinct, in strategy order */
	size_t offset[REGISTRY_MAX];		    /* of each block in experiment.settings */
	int n_tables;
};

/* Fill r from n strategies: 0, or -1 with ds_errmsg() for a duplicate name or key, a key
 * outside its strategy's prefix, or blocks larger than EXP_SETTINGS_BYTES in all. */
int registry_init(struct registry *r, const struct strategy *const *list, int n);
const struct strategy *registry_find(const struct registry *r, const char *name);
/* "grid, sosae, ..." into buf, for messages. */
void registry_names(const struct registry *r, char *buf, size_t size);

/* The decision of a strategy's trials, by its own rule or decide_single; flagged at the
 * edge of 1..k_max (decision_edge) unless the strategy flagged it itself. A strategy may
 * write "flag":"saturated" (K = k_max is no width: the report prints the flag, never K) or
 * "flag":"not_converged" (K is provisional: train longer) in the details. */
int strategy_decide(const struct strategy *s, const struct experiment *e, long seed,
		    const struct trial_record *trials, int n, struct decision_record *d);

/* The shared trial: train an autoencoder of the experiment's architecture at latent width
 * t->latent with seed t->seed, for h->epochs epochs (the experiment's without hooks or when
 * 0), with optional hooks; every epoch is validated (tuning work) and stored. On TRIAL_COMPLETE *out receives
 * the model; otherwise t->error says why (TRIAL_FAILED) or it was interrupted
 * (TRIAL_INTERRUPTED). */
enum trial_state trial_train(const struct trial_ctx *c, struct trial_record *t,
			     const struct trial_hooks *h, struct ae **out);

/* Measure a trained model into t: train, val and test MSE and, with labels, the probe
 * accuracy; all of it counted in the report column. TRIAL_COMPLETE or TRIAL_FAILED. */
enum trial_state trial_measure(const struct trial_ctx *c, const struct ae *m,
			       struct trial_record *t);

/* train_cfg for the experiment's optimiser and budget on this trial's threads. */
void trial_train_cfg(const struct trial_ctx *c, struct train_cfg *cfg);

/* Fine-tune a model cut to its chosen width for `epochs` epochs (none when 0), counted as
 * t's delivery FLOPs, then measure it into t. what names the model in a failure ("at K* =
 * 12"). TRIAL_COMPLETE, TRIAL_FAILED or TRIAL_INTERRUPTED. */
enum trial_state trial_finetune(const struct trial_ctx *c, struct trial_record *t, struct ae *cut,
				int epochs, const char *what);

/* After a search trial named its size K: train one plain autoencoder at K for
 * delivery.epochs epochs (stored only when the search trained none), measure it into t, and count that training as t's
 * delivery FLOPs (added to t->flops). t keeps the search's epochs; t->latent becomes K. */
enum trial_state trial_deliver(const struct trial_ctx *c, struct trial_record *t, int K);

/* The part of a delivering strategy's trial keys that names delivery.epochs: "" at the
 * default (epochs, so that keys from before the key existed still match), else "/de=N". */
const char *delivery_key(const struct experiment *e, char buf[24]);

/* The decision of a strategy that ran one trial for the seed: K = t->latent, tuning = all
 * its tuning FLOPs but the delivery's (or `tuning` when non-zero), the rest from t.
 * -1 with ds_errmsg() when that trial did not complete. */
int decide_single(long seed, const struct trial_record *trials, int n, uint64_t tuning,
		  struct decision_record *d);

/* decide_single for a strategy whose one trial trained at k_max and names the width it
 * chose, by cut, prefix or rank, as "k_chosen" in its details (K is that, not the width
 * trained). */
int decide_k_chosen(const struct experiment *e, long seed, const struct trial_record *trials,
		    int n, struct decision_record *d);

/* The number stored under "key" in a strategy's details (flat JSON), or NaN. */
double details_number(const char *json, const char *key);

/* Append fields ("\"key\":value,...", no braces) to the flat JSON object json (or make
 * one of an empty string); nothing when they do not fit. */
void details_append(char *json, size_t size, const char *fields);

/* Append "key":[v0,v1,...] (integers when is_int, else 3 significant digits) to json, as
 * details_append: nothing when it does not fit. */
void details_append_array(char *json, size_t size, const char *key, const double *v, int n,
			  int is_int);

/* Trial key "prefix/knobs/tail" into key (size bytes); when that would not fit, knobs go in
 * as their hash ("prefix/h=<16 hex>tail"), so that two settings never share a key cut short.
 * tail starts with '/'. */
void trial_key(char *key, size_t size, const char *prefix, const char *knobs, const char *tail);

/* A search run's own optimiser and budget, when it differs from the experiment's: the keys
 * PREFIX.lr, PREFIX.batch and PREFIX.epochs (0: the experiment's) filling a run_budget at
 * offset OFF of a strategy's settings block, with these defaults (as text). */
struct run_budget {
	double lr;
	int batch;
	int epochs;
};

#define RUN_BUDGET_KEYS(PREFIX, OFF, LR, BATCH, EPOCHS)                                     \
	{ .name = PREFIX ".lr", .type = SETTING_DOUBLE,                                     \
	  .offset = (OFF) + offsetof(struct run_budget, lr), .lo = 0, .hi = 10, .def = LR,    \
	  .help = "the search run's learning rate; 0 for the experiment's lr" },            \
	{ .name = PREFIX ".batch", .type = SETTING_INT,                                     \
	  .offset = (OFF) + offsetof(struct run_budget, batch), .lo = 0, .hi = 1 << 20,       \
	  .def = BATCH, .help = "the search run's batch; 0 for the experiment's batch" },     \
	{ .name = PREFIX ".epochs", .type = SETTING_INT,                                    \
	  .offset = (OFF) + offsetof(struct run_budget, epochs), .lo = 0, .hi = 100000,       \
	  .def = EPOCHS, .help = "the search run's epochs; 0 for the experiment's epochs" }

/* Appends "/lr=../b=../e=.." to a trial key's knobs (size bytes in all; NULL: none) when
 * any of b's values is set; the effective values (b's, else e's) go to *lr, *batch and
 * *epochs. */
void run_budget_apply(const struct run_budget *b, const struct experiment *e, char *knobs,
		      size_t size, double *lr, int *batch, int *epochs);
/* Its fields of the hooks: the values set, 0 for the experiment's. */
void run_budget_hooks(const struct run_budget *b, struct trial_hooks *h);

/* A decision at K searched over [lo, hi] is at the edge of its range: at hi (widen the range),
 * or at lo when lo > 1 (extend it down). Flags d's details ("edge":"k_max" or "k_min"); 1
 * when flagged. */
int decision_edge(struct decision_record *d, int lo, int hi);

/* How many of the last epochs of a count history (n epochs, oldest first) have the last
 * epoch's count: 0 for an empty history. */
int count_stable_run(const int *history, int n);

/* The flag of a decision at count units of k_max whose last stable_run epochs had that
 * count, when `stable` epochs are asked for: "saturated" (every unit in use: raise k_max;
 * this wins; k_max 0 never saturates), "collapsed" (no unit in use: the delivered model's
 * one unit is a floor, not a width), "not_converged" (fewer than stable epochs at that
 * count: train longer), or NULL when the count is a decision. */
const char *count_flag(int count, int k_max, int stable_run, int stable);

/* Append "stable":stable and, when flag is not NULL, "flag":flag to d's details. */
void count_decision_flag(struct decision_record *d, const char *flag, int stable);

/* A number for JSON: "null" when it is NaN or infinite (JSON has neither). buf >= 32. */
const char *json_number(char *buf, double v);

/* The model architecture of an experiment at latent width K on its data. */
struct ae_arch experiment_arch(const struct experiment *e, const struct dataset *d, int K);

#endif
