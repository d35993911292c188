/* store.h: the SQLite results store: the one place that knows the schema.
 *
 * One database file (default results/dimsearch.db), WAL, a busy timeout, every write in
 * BEGIN IMMEDIATE. SQLite cannot store NaN (it becomes NULL), so each row with measurements
 * has a nan_mask: a set bit means "this NULL was a NaN", a NULL without it "not measured". */
#ifndef DS_STORE_H
#define DS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../search/records.h"

#define STORE_DEFAULT_PATH "results/dimsearch.db"
#define STORE_SCHEMA_VERSION 3   /* 2: experiment.run_order, trial.owner_token; 3: trial.blas_kernel */
#define STORE_BUSY_TIMEOUT_MS 10000   /* how long a write waits for a lock (DIMSEARCH_BUSY_MS) */

/* The columns of v_summary, one row per experiment and strategy over its seeds: those of
 * v_comparison (k_chosen_min and k_chosen_max: the smallest and largest K chosen over the
 * seeds, not the widest layer k_max), then means, the half-widths (*_ci95) of 95% Student t intervals (NULL with
 * one value), the paired comparison with grid search on the same seed (*_vs_grid), the
 * edge flags of the decisions' details, the seeds whose K enters the means (k_seeds) and
 * the seeds flagged saturated (their K, k_max, is left out of every mean of K) or
 * not_converged, then the estimated dimension (an estimator's estimate, else the chosen K;
 * none for a saturated seed) and whether it is correct on data of known dimension (1 when
 * its mean, rounded to two decimals, is less than 0.5 from the truth). v_summary_all adds
 * experiment_id, decided_first. */
#define STORE_SUMMARY_COLUMNS                                                                \
	"experiment, dataset, true_dimension, strategy, chosen_k, k_chosen_min, k_chosen_max, " \
	"seeds, "                                                                              \
	"tuning_flops, delivery_flops, ratio_to_grid, ratio_with_delivery, test_mse, "         \
	"probe_accuracy, seconds, paired_seeds, k_mean, k_ci95, tuning_flops_mean, "           \
	"tuning_flops_ci95, delivery_flops_mean, delivery_flops_ci95, total_flops_mean, "      \
	"total_flops_ci95, ratio_vs_grid_mean, ratio_vs_grid_ci95, ratio_all_vs_grid_mean, "   \
	"ratio_all_vs_grid_ci95, test_mse_mean, test_mse_ci95, delta_mse_vs_grid_mean, "       \
	"delta_mse_vs_grid_ci95, probe_mean, probe_ci95, delta_probe_vs_grid_mean, "           \
	"delta_probe_vs_grid_ci95, k_over_grid_mean, at_edge, at_k_min, at_k_max, "            \
	"delivered_epochs_mean, k_seeds, saturated, not_converged, collapsed, estimate_mean, " \
	"estimate_ci95, correct"

/* nan_mask bits of trial and decision rows */
enum { NAN_TRAIN_MSE = 1, NAN_VAL_MSE = 2, NAN_TEST_MSE = 4, NAN_PROBE = 8 };
/* nan_mask bits of epoch rows */
enum { NAN_EPOCH_LOSS = 1, NAN_EPOCH_VAL = 2, NAN_EPOCH_PENALTY = 4 };

struct store;

/* Open (creating when `create`) the database; checks that it is a dimsearch database of a
 * schema this build knows, and creates or upgrades the schema. NULL with ds_errmsg(). */
struct store *store_open(const char *path, int create);
void store_close(struct store *s);
/* Whether the file at the store's path is still the one opened: 0, or -1 with ds_errmsg()
 * when it was deleted or replaced (what was written since is not in it). */
int store_check(struct store *s);
const char *store_path(const struct store *s);

/* The experiment row for this name and these shared settings (inserted the first time; its
 * config text updated to the newest), made the current configuration of its name (the one
 * report, plot and the views without _all show); its id. */
int store_experiment(struct store *s, const char *name, const char *hash, const char *dataset,
		     double true_dimension, const char *config, long *experiment_id);
/* Make an experiment the current configuration of its name again (its decisions are the
 * newest). */
int store_experiment_ran(struct store *s, long experiment_id);
/* The current configuration of this name: its id, or 0 when there is none. */
int store_latest_experiment(struct store *s, const char *name, long *experiment_id);

/* The first experiment (by name) of the group NAME, i.e. named NAME.something, into out;
 * "" when there is none. */
void store_group_member(struct store *s, const char *group, char *out, size_t size);

/* Load a trial by key: 1 when present (into *t), 0 when absent. */
int store_trial_get(struct store *s, long experiment_id, const char *key,
		    struct trial_record *t);
enum { CLAIM_TAKEN = 0, CLAIM_DONE = 1, CLAIM_BUSY = 2 };

/* Claim a trial for this store, atomically: CLAIM_TAKEN (now running here; inserted, or an
 * unfinished one reset with its epochs), CLAIM_DONE (another process completed it),
 * CLAIM_BUSY (another owner holds its lease), or -1 with ds_errmsg(). While the store is
 * open, a thread renews the lease of the trials it runs (DIMSEARCH_LEASE_S, 60 s). */
int store_trial_claim(struct store *s, long experiment_id, struct trial_record *t);
int store_epoch(struct store *s, long trial_id, const struct epoch_record *e);
/* Final state, measurements and error of a trial. */
int store_trial_end(struct store *s, const struct trial_record *t);
/* Trials left running by an owner that is gone (no heartbeat within the lease of 60 s, or
 * its pid gone from this machine): marked interrupted. Returns the count, or -1. */
int store_mark_interrupted(struct store *s, long experiment_id);
/* How many complete trials of the experiment were trained under a BLAS kernel other than
 * kernel (one of them named in other), or -1. */
int store_other_kernel(struct store *s, long experiment_id, const char *kernel, char *other,
		       size_t size);

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
