/* store.h: the SQLite results store: the one place that knows the schema.
 *
 * One database file (default results/dimsearch.db), WAL, a busy timeout, every write in
 * BEGIN IMMEDIATE. SQLite cannot store NaN (it becomes NULL), so each row with measurements
 * has a nan_mask: a set bit means "this NULL was a NaN", a NULL without it "not measured". */
#ifndef DS_STORE_H
#define DS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/flops.h"

#define STORE_DEFAULT_PATH "results/dimsearch.db"
#define STORE_SCHEMA_VERSION 1
#define STORE_BUSY_TIMEOUT_MS 10000   /* how long a write waits for a lock (DIMSEARCH_BUSY_MS) */

enum trial_state { TRIAL_WAITING, TRIAL_RUNNING, TRIAL_COMPLETE, TRIAL_FAILED,
		   TRIAL_INTERRUPTED };

/* nan_mask bits of trial and decision rows */
enum { NAN_TRAIN_MSE = 1, NAN_VAL_MSE = 2, NAN_TEST_MSE = 4, NAN_PROBE = 8 };
/* nan_mask bits of epoch rows */
enum { NAN_EPOCH_LOSS = 1, NAN_EPOCH_VAL = 2, NAN_EPOCH_PENALTY = 4 };

struct trial_record {
	long id;
	char key[160];             /* unique within an experiment, e.g. "grid/K=8/seed=1" */
	char strategy[64];         /* e.g. "grid", "sosae(a=0.1,l=0.002)" */
	char role[16];             /* "search", or "delivery" for a run at the chosen size */
	int latent;                /* the width trained */
	long seed;
	char params[512];          /* hyper-parameters, JSON */
	int variant;               /* which of the strategy's settings (in memory only) */
	enum trial_state state;
	int epochs_run;
	double train_mse, val_mse, test_mse;   /* per element; NaN when unknown */
	double probe_accuracy;                 /* in [0, 1]; NaN without labels */
	struct flops flops;        /* everything this trial counted */
	uint64_t delivery_flops;   /* of that, spent after the size was named (fine-tuning) */
	double seconds;            /* wall time of the trial */
	char error[512];           /* why it failed */
	char details[2048];        /* what the strategy learnt, JSON */
};

struct epoch_record {
	int epoch;
	double train_loss, penalty, val_mse;
	int active_latent;         /* -1 when the strategy has no such count */
	double mask_distance;      /* Early-Bird: newest mask's largest distance to the older
				    * ones in its window; NaN when none */
	uint64_t flops_tuning;     /* spent by this trial so far (flops_tuning) */
	double seconds;            /* since the trial started */
};

struct decision_record {
	char strategy[64];
	long seed;
	int chosen_latent;
	uint64_t tuning_flops;     /* everything run before the size was named */
	uint64_t delivery_flops;   /* a run at the chosen size, 0 when the strategy holds it */
	uint64_t report_flops;     /* test evaluation and probe */
	double test_mse, probe_accuracy;
	double seconds;            /* wall time of its trials, added up */
	char details[2048];        /* JSON */
};

struct store;

/* Open (creating when `create`) the database; checks that it is a dimsearch database of a
 * schema this build knows, and creates or upgrades the schema. NULL with ds_errmsg(). */
struct store *store_open(const char *path, int create);
void store_close(struct store *s);
const char *store_path(const struct store *s);

/* The experiment row for this name and these shared settings (inserted the first time; its
 * config text updated to the newest); its id. */
int store_experiment(struct store *s, const char *name, const char *hash, const char *dataset,
		     double true_dimension, const char *config, long *experiment_id);
/* The newest experiment with this name: its id, or 0 when there is none. */
int store_latest_experiment(struct store *s, const char *name, long *experiment_id);

/* Load a trial by key: 1 when present (into *t), 0 when absent. */
int store_trial_get(struct store *s, long experiment_id, const char *key,
		    struct trial_record *t);
enum { CLAIM_TAKEN = 0, CLAIM_DONE = 1, CLAIM_BUSY = 2 };

/* Claim a trial for this process, atomically: CLAIM_TAKEN (now running here; inserted, or an
 * unfinished one reset with its epochs), CLAIM_DONE (another process completed it),
 * CLAIM_BUSY (a live process is running it), or -1 with ds_errmsg(). */
int store_trial_claim(struct store *s, long experiment_id, struct trial_record *t);
int store_epoch(struct store *s, long trial_id, const struct epoch_record *e);
/* Final state, measurements and error of a trial. */
int store_trial_end(struct store *s, const struct trial_record *t);
/* Trials left running by a process that is gone (its pid on this machine, or no heartbeat
 * for 15 minutes from another): marked interrupted. Returns the count. */
int store_mark_interrupted(struct store *s, long experiment_id);

int store_decision(struct store *s, long experiment_id, const struct decision_record *d);
/* Forget an experiment's decisions, before they are made again from its trials. */
int store_clear_decisions(struct store *s, long experiment_id);

/* A trial's latent units over the training set, k < K: max and mean |h_k|, and for a VAE
 * Var(mu_k) and mean sigma_k^2 (NULL otherwise). */
int store_activity(struct store *s, long trial_id, int K, const double *max_abs,
		   const double *mean_abs, const double *var_mu, const double *mean_sigma2);

/* Run a read-only query with its ? parameters bound in order from params (a NULL-terminated
 * list, or NULL for none) and hand each row to fn as strings (NULL for SQL NULL); fn
 * returning non-zero stops early. */
int store_query(struct store *s, const char *sql, const char *const *params,
		int (*fn)(void *ctx, int ncol, char **names, char **values), void *ctx);

/* The first column of the first row of a store_query as text, into out (size bytes);
 * fallback when the query gives no row, a NULL, or fails. */
void store_scalar(struct store *s, const char *sql, const char *const *params, char *out,
		  size_t size, const char *fallback);

const char *trial_state_name(enum trial_state s);

#endif
