/* strategy.h: what every latent-size strategy provides, and the trial it shares.
 *
 * A strategy plans independent trials for each seed, runs each on the shared autoencoder
 * core, and decides a latent size from their results. The scheduler runs the trials (in
 * parallel), stores everything and asks for the decision. */
#ifndef DS_STRATEGY_H
#define DS_STRATEGY_H

#include <signal.h>

#include "../core/data.h"
#include "../core/model.h"
#include "../core/train.h"
#include "../results/store.h"
#include "experiment.h"

/* What a running trial may use. */
struct trial_ctx {
	const struct experiment *exp;
	const struct dataset *data;
	int threads;                          /* OpenMP threads for this trial's batches */
	const volatile sig_atomic_t *stop;    /* raised on Ctrl-C / SIGTERM */
	/* Called after every epoch with the trial's record; non-zero stops training. */
	int (*on_epoch)(void *ctx, const struct trial_record *t, const struct epoch_record *e);
	void *ctx;
};

/* Trial outcomes */
enum { TRIAL_OK = 0, TRIAL_ERROR = -1, TRIAL_STOPPED = -2 };

struct strategy {
	const char *name;
	/* Fill up to max independent trials for this seed (key, strategy, role, latent, seed,
	 * params); returns the count. */
	int (*plan)(const struct experiment *e, long seed, struct trial_record *trials, int max);
	/* Run one planned trial: measurements, FLOPs and details into t. TRIAL_OK, TRIAL_ERROR
	 * with the reason in t->error, or TRIAL_STOPPED when interrupted. */
	int (*run)(const struct trial_ctx *c, struct trial_record *t);
	/* Decide from this seed's trials (finished or failed). 0, or -1 with ds_errmsg(). */
	int (*decide)(const struct experiment *e, long seed, const struct trial_record *trials,
		      int n, struct decision_record *d);
};

const struct strategy *strategy_find(const char *name);   /* NULL when unknown */
const char *strategy_names(void);                         /* "grid, ...", for messages */

/* The shared trial: train an autoencoder of the experiment's architecture at latent width
 * t->latent with seed t->seed (penalty optional), then measure train/val/test MSE and, with
 * labels, the probe accuracy. Validation after each epoch is tuning work; the final
 * train/test evaluations and the probe go to the report column. On success *out (when not
 * NULL) receives the trained model. Returns TRIAL_OK, TRIAL_ERROR or TRIAL_STOPPED. */
int trial_train_autoencoder(const struct trial_ctx *c, struct trial_record *t,
			    const struct latent_penalty *penalty, struct ae **out);

/* Measure a trained model into t: train, val and test MSE, probe accuracy (report FLOPs). */
int trial_measure(const struct trial_ctx *c, const struct ae *m, struct trial_record *t);

/* The model architecture of an experiment at latent width K on its data. */
struct ae_arch experiment_arch(const struct experiment *e, const struct dataset *d, int K);

#endif
