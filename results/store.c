/* store.c: schema, versioning and every write of the results database. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/err.h"

#define APPLICATION_ID 0x64696d73 /* "dims" */

/* The lease on the trials this store runs: a thread renews their heartbeat on its own
 * connection, however long an epoch takes, while the store is open. */
struct lease {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int started, stop;
	double period;                /* seconds between renewals */
};

struct store {
	sqlite3 *db;
	char path[1024];
	dev_t dev;                    /* the file opened, to tell whether it is still there */
	ino_t ino;
	char token[40];               /* this open store's owner token, unique to it */
	struct lease lease;
};

static void make_token(char *token, size_t size);
static void lease_stop(struct store *s);

static const char *state_names[] = { "waiting", "running", "complete", "failed",
				     "interrupted" };

const char *trial_state_name(enum trial_state s)
{
	return state_names[s];
}

static enum trial_state state_parse(const char *s)
{
	for (int i = 0; i < 5; i++)
		if (s && !strcmp(s, state_names[i]))
			return (enum trial_state)i;
	return TRIAL_WAITING;
}

/* ---- schema ---- */

/* tables of the current schema, one statement per string */
static const char *schema_tables[] = {
	"CREATE TABLE experiment (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  name TEXT NOT NULL,\n"
	"  hash TEXT NOT NULL,                   -- of the settings every trial shares\n"
	"  dataset TEXT NOT NULL,\n"
	"  true_dimension REAL,                  -- of synthetic data; NULL when unknown\n"
	"  config TEXT NOT NULL,                 -- every resolved setting, key = value\n"
	"  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),\n"
	"  run_order INTEGER NOT NULL DEFAULT 0, -- larger: run (or decided) more recently\n"
	"  UNIQUE (name, hash)\n"
	");\n",
	"CREATE TABLE trial (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  experiment_id INTEGER NOT NULL REFERENCES experiment(id),\n"
	"  trial_key TEXT NOT NULL,\n"
	"  strategy TEXT NOT NULL,\n"
	"  role TEXT NOT NULL,                   -- search, or delivery (only the delivered model)\n"
	"  latent INTEGER NOT NULL,\n"
	"  seed INTEGER NOT NULL,\n"
	"  params TEXT NOT NULL DEFAULT '{}',\n"
	"  state TEXT NOT NULL CHECK (state IN\n"
	"    ('waiting', 'running', 'complete', 'failed', 'interrupted')),\n"
	"  epochs_run INTEGER NOT NULL DEFAULT 0,\n"
	"  train_mse REAL, val_mse REAL, test_mse REAL, probe_accuracy REAL,\n"
	"  nan_mask INTEGER NOT NULL DEFAULT 0,  -- 1 train, 2 val, 4 test, 8 probe were NaN\n"
	"  flops_train_gemm INTEGER NOT NULL DEFAULT 0,\n"
	"  flops_eval_gemm INTEGER NOT NULL DEFAULT 0,\n"
	"  flops_elementwise INTEGER NOT NULL DEFAULT 0,\n"
	"  flops_overhead INTEGER NOT NULL DEFAULT 0,\n"
	"  flops_report INTEGER NOT NULL DEFAULT 0,\n"
	"  flops_delivery INTEGER NOT NULL DEFAULT 0,  -- part of the above spent after deciding\n"
	"  seconds REAL,\n"
	"  error TEXT,\n"
	"  details TEXT,\n"
	"  started_at TEXT,\n"
	"  finished_at TEXT,\n"
	"  attempts INTEGER NOT NULL DEFAULT 0,  -- times a process started it\n"
	"  owner_pid INTEGER,                    -- the process running it ...\n"
	"  owner_host TEXT,                      -- ... on this machine ...\n"
	"  heartbeat REAL,                       -- ... last heard from (unix seconds)\n"
	"  owner_token TEXT,                     -- the owning process, unique to its run\n"
	"  blas_kernel TEXT,                     -- the OpenBLAS kernel that trained it\n"
	"  UNIQUE (experiment_id, trial_key)\n"
	");\n",
	"CREATE TABLE epoch (\n"
	"  trial_id INTEGER NOT NULL REFERENCES trial(id) ON DELETE CASCADE,\n"
	"  epoch INTEGER NOT NULL,\n"
	"  train_loss REAL, penalty REAL, val_mse REAL,\n"
	"  active_latent INTEGER,\n"
	"  mask_distance REAL,                   -- Early-Bird's mask distance, NULL for others\n"
	"  nan_mask INTEGER NOT NULL DEFAULT 0,  -- 1 loss, 2 val, 4 penalty were NaN\n"
	"  flops_tuning INTEGER NOT NULL,        -- spent by the trial so far\n"
	"  seconds REAL NOT NULL,                -- since the trial started\n"
	"  PRIMARY KEY (trial_id, epoch)\n"
	");\n",
	"CREATE TABLE decision (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  experiment_id INTEGER NOT NULL REFERENCES experiment(id),\n"
	"  strategy TEXT NOT NULL,\n"
	"  seed INTEGER NOT NULL,\n"
	"  chosen_latent INTEGER NOT NULL,\n"
	"  tuning_flops INTEGER NOT NULL,\n"
	"  delivery_flops INTEGER NOT NULL,\n"
	"  report_flops INTEGER NOT NULL,\n"
	"  test_mse REAL, probe_accuracy REAL,\n"
	"  nan_mask INTEGER NOT NULL DEFAULT 0,\n"
	"  seconds REAL NOT NULL,\n"
	"  details TEXT,\n"
	"  decided_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),\n"
	"  UNIQUE (experiment_id, strategy, seed)\n"
	");\n",
	"CREATE TABLE latent_activity (\n"
	"  trial_id INTEGER NOT NULL REFERENCES trial(id) ON DELETE CASCADE,\n"
	"  k INTEGER NOT NULL,                   -- latent unit, 1-based\n"
	"  max_abs REAL NOT NULL,                -- over the training set\n"
	"  mean_abs REAL NOT NULL,\n"
	"  var_mu REAL,                          -- VAE: Var_x(mu_k)\n"
	"  mean_sigma2 REAL,                     -- VAE: mean_x sigma_k^2\n"
	"  PRIMARY KEY (trial_id, k)\n"
	");\n",
	"CREATE INDEX trial_by_experiment ON trial(experiment_id, strategy);\n",
	NULL,
};

/* from schema version 1 to 2: which configuration ran last, and trial ownership by a
 * token of the owning run rather than its process id alone */
static const char *schema_upgrade_1[] = {
	"ALTER TABLE experiment ADD COLUMN run_order INTEGER NOT NULL DEFAULT 0;\n",
	"UPDATE experiment SET run_order = id;\n",
	"ALTER TABLE trial ADD COLUMN owner_token TEXT;\n",
	NULL,
};

/* from schema version 2 to 3: the BLAS kernel of each trial (results differ in their last
 * bits between kernels) */
static const char *schema_upgrade_2[] = {
	"ALTER TABLE trial ADD COLUMN blas_kernel TEXT;\n",
	NULL,
};

/* The current configuration of each name: the one run, or decided, most recently. A file of
 * schema 1 read by this build orders by id instead (it has no run_order). */
#define LATEST_ORDER "x.run_order DESC, "

/* The pieces of v_moments_all and v_summary_all for one measure x, a column of v_paired_all:
 * n_x and m_x, its count and mean; ss_x, the sum of squared deviations from the mean; and
 * the half-width of its 95% t-interval, t(0.975, n - 1) * s / sqrt(n), NULL below two values
 * (no row of v_t_quantile has df 0, and SQLite's x / 0 is NULL). Beyond df = 100 the quantile
 * of df = 100 (1.984) is used: at most 1.2% wider than the exact one. */
#define MEAN(column, x) "count(" column ") AS n_" x ", avg(" column ") AS m_" x
#define SPREAD(column, x) "sum((p." column " - m.m_" x ") * (p." column " - m.m_" x ")) AS ss_" x
#define CI95(x)                                                                              \
	"(SELECT t975 FROM v_t_quantile WHERE df = min(m.n_" x " - 1, 100))\n"              \
	"      * sqrt(m.ss_" x " / (m.n_" x " - 1) / m.n_" x ")"

/* Whether an estimate of the intrinsic dimension is correct as Klazinga's thesis counts it:
 * rounded to two decimals, within less than 0.5 of the true dimension (1 or 0; NULL when
 * either is unknown). */
#define CORRECT(estimate, truth)                                                             \
	"CASE WHEN " estimate " IS NOT NULL AND " truth " IS NOT NULL\n"                     \
	"      THEN abs(round(" estimate ", 2) - " truth ") < 0.5 END"

/* views: no data, so they are dropped and made again at every writable open, which keeps
 * an existing database's views those of this build. The *_all views hold every
 * configuration with its experiment_id; the others only the current one of each name. */
/* A decision's K where it names a width: a saturated decision's K is k_max and a collapsed
 * one's the 1-unit floor, no width, and is left out of every mean of K (NULL). */
#define DECIDED_LATENT                                                                       \
	"(CASE WHEN json_valid(d.details) AND json_extract(d.details, '$.flag') IN "              \
	"('saturated', 'collapsed') THEN NULL ELSE d.chosen_latent END)"

static const char *schema_views[] = {
	"CREATE VIEW v_latest AS\n"
	"  SELECT e.name, e.id AS experiment_id FROM experiment e\n"
	"  WHERE e.id = (SELECT x.id FROM experiment x WHERE x.name = e.name\n"
	"                ORDER BY " LATEST_ORDER "x.id DESC LIMIT 1);\n",
	/* t(0.975, df) of Student's t: a 95% interval of a mean over n seeds is
	 * mean +- t(0.975, n - 1) * s / sqrt(n). A view of constants rather than a table, so that
	 * it needs no upgrade and a reader of an older file has it too. */
	"CREATE VIEW v_t_quantile (df, t975) AS VALUES\n"
	"  (1, 12.706205), (2, 4.302653), (3, 3.182446), (4, 2.776445), (5, 2.570582),\n"
	"  (6, 2.446912), (7, 2.364624), (8, 2.306004), (9, 2.262157), (10, 2.228139),\n"
	"  (11, 2.200985), (12, 2.178813), (13, 2.160369), (14, 2.144787),\n"
	"  (15, 2.131450), (16, 2.119905), (17, 2.109816), (18, 2.100922),\n"
	"  (19, 2.093024), (20, 2.085963), (21, 2.079614), (22, 2.073873),\n"
	"  (23, 2.068658), (24, 2.063899), (25, 2.059539), (26, 2.055529),\n"
	"  (27, 2.051831), (28, 2.048407), (29, 2.045230), (30, 2.042272),\n"
	"  (31, 2.039513), (32, 2.036933), (33, 2.034515), (34, 2.032245),\n"
	"  (35, 2.030108), (36, 2.028094), (37, 2.026192), (38, 2.024394),\n"
	"  (39, 2.022691), (40, 2.021075), (41, 2.019541), (42, 2.018082),\n"
	"  (43, 2.016692), (44, 2.015368), (45, 2.014103), (46, 2.012896),\n"
	"  (47, 2.011741), (48, 2.010635), (49, 2.009575), (50, 2.008559),\n"
	"  (51, 2.007584), (52, 2.006647), (53, 2.005746), (54, 2.004879),\n"
	"  (55, 2.004045), (56, 2.003241), (57, 2.002465), (58, 2.001717),\n"
	"  (59, 2.000995), (60, 2.000298), (61, 1.999624), (62, 1.998972),\n"
	"  (63, 1.998341), (64, 1.997730), (65, 1.997138), (66, 1.996564),\n"
	"  (67, 1.996008), (68, 1.995469), (69, 1.994945), (70, 1.994437),\n"
	"  (71, 1.993943), (72, 1.993464), (73, 1.992997), (74, 1.992543),\n"
	"  (75, 1.992102), (76, 1.991673), (77, 1.991254), (78, 1.990847),\n"
	"  (79, 1.990450), (80, 1.990063), (81, 1.989686), (82, 1.989319),\n"
	"  (83, 1.988960), (84, 1.988610), (85, 1.988268), (86, 1.987934),\n"
	"  (87, 1.987608), (88, 1.987290), (89, 1.986979), (90, 1.986675),\n"
	"  (91, 1.986377), (92, 1.986086), (93, 1.985802), (94, 1.985523),\n"
	"  (95, 1.985251), (96, 1.984984), (97, 1.984723), (98, 1.984467),\n"
	"  (99, 1.984217), (100, 1.983972);\n",
	/* every decision beside grid search's on the same seed (a pair: a seed both have); a ratio
	 * or difference is NULL where a value is missing or a divisor is 0 */
	"CREATE VIEW v_paired_all AS\n"
	"  SELECT e.name AS experiment, d.experiment_id, d.strategy, d.seed, d.id AS decision_id,\n"
	"    d.chosen_latent, d.tuning_flops, d.delivery_flops,\n"
	"    d.tuning_flops + d.delivery_flops AS total_flops, d.test_mse, d.probe_accuracy,\n"
	"    d.seconds,\n"
	"    CASE WHEN json_valid(d.details) THEN json_extract(d.details, '$.edge') END AS edge,\n"
	"    CASE WHEN json_valid(d.details)\n"
	"      THEN json_extract(d.details, '$.delivered_epochs') END AS delivered_epochs,\n"
	"    CASE WHEN json_valid(d.details) THEN json_extract(d.details, '$.flag') END AS flag,\n"
	"    " DECIDED_LATENT " AS decided_latent,\n"
	/* the dimension a strategy estimated: an estimator's real-valued estimate, every other
	 * strategy's chosen K */
	"    coalesce(CASE WHEN json_valid(d.details)\n"
	"      THEN json_extract(d.details, '$.estimate') END, " DECIDED_LATENT ") AS estimate,\n"
	"    g.seed AS grid_seed,\n"
	"    CAST(g.tuning_flops AS REAL) / d.tuning_flops AS ratio_vs_grid,\n"
	"    CAST(g.tuning_flops AS REAL) / (d.tuning_flops + d.delivery_flops)\n"
	"      AS ratio_all_vs_grid,\n"
	"    d.test_mse / g.test_mse - 1 AS delta_mse_vs_grid,\n"
	"    100 * (d.probe_accuracy - g.probe_accuracy) AS delta_probe_vs_grid,\n"
	"    CAST(" DECIDED_LATENT " AS REAL) / g.chosen_latent AS k_over_grid\n"
	"  FROM decision d JOIN experiment e ON e.id = d.experiment_id\n"
	"  LEFT JOIN decision g ON g.experiment_id = d.experiment_id AND g.strategy = 'grid'\n"
	"    AND g.seed = d.seed\n"
	"  ORDER BY e.name, d.experiment_id, d.strategy, d.seed;\n",
	"CREATE VIEW v_paired AS\n"
	"  SELECT experiment, strategy, seed, chosen_latent, tuning_flops, delivery_flops,\n"
	"    total_flops, test_mse, probe_accuracy, seconds, edge, delivered_epochs, grid_seed,\n"
	"    ratio_vs_grid, ratio_all_vs_grid, delta_mse_vs_grid, delta_probe_vs_grid,\n"
	"    k_over_grid, flag, decided_latent\n"
	"  FROM v_paired_all\n"
	"  WHERE experiment_id IN (SELECT experiment_id FROM v_latest)\n"
	"  ORDER BY experiment, strategy, seed;\n",
	/* per experiment and strategy, each measure's count and mean over the seeds that have
	 * it, and the sum of squared deviations from that mean: two passes, so that a measure
	 * equal on every seed gives (close to) 0 rather than the noise of a cancellation */
	"CREATE VIEW v_moments_all AS\n"
	"  WITH mean AS (\n"
	"    SELECT experiment_id, strategy, count(*) AS seeds, count(grid_seed) AS paired_seeds,\n"
	"      min(decided_latent) AS k_chosen_min, max(decided_latent) AS k_chosen_max,\n"
	"      avg(seconds) AS seconds, min(decision_id) AS decided_first,\n"
	"      " MEAN("decided_latent", "k") ", " MEAN("tuning_flops", "tuning") ",\n"
	"      " MEAN("delivery_flops", "delivery") ", " MEAN("total_flops", "total") ",\n"
	"      " MEAN("test_mse", "mse") ", " MEAN("probe_accuracy", "probe") ",\n"
	"      " MEAN("ratio_vs_grid", "ratio") ", " MEAN("ratio_all_vs_grid", "all") ",\n"
	"      " MEAN("delta_mse_vs_grid", "dmse") ",\n"
	"      " MEAN("delta_probe_vs_grid", "dprobe") ",\n"
	"      avg(k_over_grid) AS k_over_grid_mean,\n"
	"      count(CASE WHEN edge = 'k_min' THEN 1 END) AS at_k_min,\n"
	"      count(CASE WHEN edge = 'k_max' THEN 1 END) AS at_k_max,\n"
	"      avg(delivered_epochs) AS delivered_epochs_mean,\n"
	"      count(CASE WHEN flag = 'saturated' THEN 1 END) AS saturated,\n"
	"      count(CASE WHEN flag = 'not_converged' THEN 1 END) AS not_converged,\n"
	"      count(CASE WHEN flag = 'collapsed' THEN 1 END) AS collapsed,\n"
	"      " MEAN("estimate", "est") "\n"
	"    FROM v_paired_all GROUP BY experiment_id, strategy)\n"
	"  SELECT m.*,\n"
	"    " SPREAD("decided_latent", "k") ",\n"
	"    " SPREAD("tuning_flops", "tuning") ",\n"
	"    " SPREAD("delivery_flops", "delivery") ",\n"
	"    " SPREAD("total_flops", "total") ",\n"
	"    " SPREAD("test_mse", "mse") ",\n"
	"    " SPREAD("probe_accuracy", "probe") ",\n"
	"    " SPREAD("ratio_vs_grid", "ratio") ",\n"
	"    " SPREAD("ratio_all_vs_grid", "all") ",\n"
	"    " SPREAD("delta_mse_vs_grid", "dmse") ",\n"
	"    " SPREAD("delta_probe_vs_grid", "dprobe") ",\n"
	"    " SPREAD("estimate", "est") "\n"
	"  FROM v_paired_all p JOIN mean m ON m.experiment_id = p.experiment_id\n"
	"    AND m.strategy = p.strategy\n"
	"  GROUP BY p.experiment_id, p.strategy;\n",
	"CREATE VIEW v_summary_all AS\n"
	/* the columns of v_comparison first, as they were: ratios of the means */
	"  SELECT e.name AS experiment, e.dataset, e.true_dimension, m.strategy,\n"
	"    CAST(round(m.m_k) AS INTEGER) AS chosen_k, m.k_chosen_min, m.k_chosen_max, m.seeds,\n"
	"    CAST(m.m_tuning AS INTEGER) AS tuning_flops,\n"
	"    CAST(m.m_delivery AS INTEGER) AS delivery_flops,\n"
	"    g.m_tuning / m.m_tuning AS ratio_to_grid,\n"
	"    g.m_tuning / (m.m_tuning + m.m_delivery) AS ratio_with_delivery,\n"
	"    m.m_mse AS test_mse, m.m_probe AS probe_accuracy, m.seconds, m.paired_seeds,\n"
	"    m.m_k AS k_mean, " CI95("k") " AS k_ci95,\n"
	"    m.m_tuning AS tuning_flops_mean, " CI95("tuning") " AS tuning_flops_ci95,\n"
	"    m.m_delivery AS delivery_flops_mean, " CI95("delivery") " AS delivery_flops_ci95,\n"
	"    m.m_total AS total_flops_mean, " CI95("total") " AS total_flops_ci95,\n"
	"    m.m_ratio AS ratio_vs_grid_mean, " CI95("ratio") " AS ratio_vs_grid_ci95,\n"
	"    m.m_all AS ratio_all_vs_grid_mean, " CI95("all") " AS ratio_all_vs_grid_ci95,\n"
	"    m.m_mse AS test_mse_mean, " CI95("mse") " AS test_mse_ci95,\n"
	"    m.m_dmse AS delta_mse_vs_grid_mean, " CI95("dmse") " AS delta_mse_vs_grid_ci95,\n"
	"    m.m_probe AS probe_mean, " CI95("probe") " AS probe_ci95,\n"
	"    m.m_dprobe AS delta_probe_vs_grid_mean,\n"
	"    " CI95("dprobe") " AS delta_probe_vs_grid_ci95,\n"
	"    m.k_over_grid_mean, m.at_k_min + m.at_k_max AS at_edge, m.at_k_min, m.at_k_max,\n"
	"    m.delivered_epochs_mean, m.n_k AS k_seeds, m.saturated, m.not_converged,\n"
	"    m.collapsed,\n"
	"    m.m_est AS estimate_mean, " CI95("est") " AS estimate_ci95,\n"
	"    " CORRECT("m.m_est", "e.true_dimension") " AS correct,\n"
	"    m.experiment_id, m.decided_first\n"
	"  FROM v_moments_all m JOIN experiment e ON e.id = m.experiment_id\n"
	"  LEFT JOIN v_moments_all g ON g.experiment_id = m.experiment_id AND g.strategy = 'grid'\n"
	"  ORDER BY e.name, m.experiment_id, m.strategy <> 'grid', m.decided_first;\n",
	"CREATE VIEW v_summary AS\n"
	"  SELECT " STORE_SUMMARY_COLUMNS "\n"
	"  FROM v_summary_all\n"
	"  WHERE experiment_id IN (SELECT experiment_id FROM v_latest)\n"
	"  ORDER BY experiment, strategy <> 'grid', decided_first;\n",
	"CREATE VIEW v_comparison_all AS\n"
	"  SELECT experiment, dataset, true_dimension, strategy, chosen_k, k_chosen_min,\n"
	"    k_chosen_max, seeds, tuning_flops, delivery_flops, ratio_to_grid,\n"
	"    ratio_with_delivery, test_mse, probe_accuracy, seconds, experiment_id,\n"
	"    decided_first\n"
	"  FROM v_summary_all\n"
	"  ORDER BY experiment, experiment_id, strategy <> 'grid', decided_first;\n",
	"CREATE VIEW v_comparison AS\n"
	"  SELECT experiment, dataset, true_dimension, strategy, chosen_k, k_chosen_min,\n"
	"    k_chosen_max, seeds, tuning_flops, delivery_flops, ratio_to_grid,\n"
	"    ratio_with_delivery, test_mse, probe_accuracy, seconds\n"
	"  FROM v_comparison_all\n"
	"  WHERE experiment_id IN (SELECT experiment_id FROM v_latest)\n"
	"  ORDER BY experiment, strategy <> 'grid', decided_first;\n",
	"CREATE VIEW v_grid_curve AS\n"
	"  SELECT e.name AS experiment, t.seed, t.latent, t.val_mse, t.test_mse, t.train_mse,\n"
	"    t.probe_accuracy, t.flops_train_gemm + t.flops_eval_gemm + t.flops_elementwise\n"
	"      + t.flops_overhead AS tuning_flops\n"
	"  FROM trial t JOIN v_latest l ON l.experiment_id = t.experiment_id\n"
	"  JOIN experiment e ON e.id = t.experiment_id\n"
	"  WHERE t.strategy = 'grid' AND t.state = 'complete'\n"
	"  ORDER BY e.name, t.seed, t.latent;\n",
	"CREATE VIEW v_epochs AS\n"
	"  SELECT e.name AS experiment, t.strategy, t.trial_key, t.latent, t.seed, t.state,\n"
	"    p.epoch, p.train_loss, p.penalty, p.val_mse, p.active_latent, p.mask_distance,\n"
	"    p.nan_mask,\n"
	"    p.flops_tuning, p.seconds\n"
	"  FROM epoch p JOIN trial t ON t.id = p.trial_id\n"
	"  JOIN v_latest l ON l.experiment_id = t.experiment_id\n"
	"  JOIN experiment e ON e.id = t.experiment_id\n"
	"  ORDER BY e.name, t.strategy, t.latent, t.seed, p.epoch;\n",
	"CREATE VIEW v_known_id AS\n"
	"  SELECT experiment, dataset, true_dimension, strategy, chosen_k,\n"
	"    chosen_k - true_dimension AS error, k_mean, k_ci95, estimate_mean, estimate_ci95,\n"
	"    correct\n"
	"  FROM v_summary WHERE true_dimension IS NOT NULL\n"
	"  ORDER BY experiment, strategy;\n",
	"CREATE VIEW v_latent_activity AS\n"
	"  SELECT e.name AS experiment, t.strategy, t.trial_key, t.seed, a.k, a.mean_abs,\n"
	"    a.max_abs, a.var_mu, a.mean_sigma2, a.var_mu + a.mean_sigma2 AS variance_law\n"
	"  FROM latent_activity a JOIN trial t ON t.id = a.trial_id\n"
	"  JOIN v_latest l ON l.experiment_id = t.experiment_id\n"
	"  JOIN experiment e ON e.id = t.experiment_id\n"
	"  ORDER BY e.name, t.strategy, t.seed, a.k;\n",
	"CREATE VIEW v_sosae_cut_all AS\n"
	"  SELECT e.name AS experiment, d.experiment_id, d.strategy, d.seed,\n"
	"    json_extract(d.details, '$.k_star') AS k_star,\n"
	"    json_extract(d.details, '$.k_max') AS k_max,\n"
	"    json_extract(d.details, '$.epochs_run') AS epochs_run,\n"
	"    json_extract(d.details, '$.stopped_early') AS stopped_early,\n"
	"    json_extract(d.details, '$.tau') AS tau,\n"
	"    json_extract(d.details, '$.lossless') AS lossless,\n"
	"    json_extract(d.details, '$.test_mse_before_cut') AS test_mse_before_cut,\n"
	"    json_extract(d.details, '$.test_mse_after_cut') AS test_mse_after_cut,\n"
	"    d.test_mse AS test_mse_delivered,\n"
	"    json_extract(d.details, '$.alive_in_prefix') AS alive_in_prefix\n"
	"  FROM decision d JOIN experiment e ON e.id = d.experiment_id\n"
	"  WHERE d.strategy LIKE 'sosae%'\n"
	"  ORDER BY e.name, d.experiment_id, d.strategy, d.seed;\n",
	"CREATE VIEW v_sosae_cut AS\n"
	"  SELECT experiment, strategy, seed, k_star, k_max, epochs_run, stopped_early, tau,\n"
	"    lossless, test_mse_before_cut, test_mse_after_cut, test_mse_delivered,\n"
	"    alive_in_prefix\n"
	"  FROM v_sosae_cut_all\n"
	"  WHERE experiment_id IN (SELECT experiment_id FROM v_latest)\n"
	"  ORDER BY experiment, strategy, seed;\n",
	"CREATE VIEW v_sosae_sweep_all AS\n"
	"  SELECT experiment, experiment_id, count(*) AS settings, min(chosen_k) AS k_chosen_min,\n"
	"    max(chosen_k) AS k_chosen_max, sum(tuning_flops) AS sweep_flops,\n"
	"    min(test_mse) AS best_test_mse, max(test_mse) AS worst_test_mse\n"
	"  FROM v_comparison_all WHERE strategy LIKE 'sosae(a=%'\n"
	"  GROUP BY experiment_id;\n",
	"CREATE VIEW v_sosae_sweep AS\n"
	"  SELECT experiment, settings, k_chosen_min, k_chosen_max, sweep_flops, best_test_mse,\n"
	"    worst_test_mse\n"
	"  FROM v_sosae_sweep_all\n"
	"  WHERE experiment_id IN (SELECT experiment_id FROM v_latest)\n"
	"  ORDER BY experiment;\n",
	/* Early-Bird's lambda sweeps: each seed's count against the data's dimension, and per
	 * setting the median (the middle one, or the mean of the middle two) and how many seeds
	 * kept too few, exactly d, one and two or more units too many */
	"CREATE VIEW v_eb_sweep AS\n"
	"  SELECT e.name AS experiment, e.true_dimension, d.strategy, d.seed,\n"
	"    json_extract(d.details, '$.lambda') AS lambda,\n"
	"    json_extract(d.details, '$.lambda_hidden') AS lambda_hidden,\n"
	"    d.chosen_latent AS k, json_extract(d.details, '$.k_at_ticket') AS k_at_ticket,\n"
	"    d.chosen_latent - e.true_dimension AS excess\n"
	"  FROM decision d JOIN experiment e ON e.id = d.experiment_id\n"
	"  WHERE d.strategy LIKE 'earlybird(%'\n"
	"    AND d.experiment_id IN (SELECT experiment_id FROM v_latest)\n"
	"  ORDER BY e.name, lambda, lambda_hidden, d.seed;\n",
	"CREATE VIEW v_eb_sweep_summary AS\n"
	"  SELECT s.experiment, s.true_dimension, s.strategy, s.lambda, s.lambda_hidden,\n"
	"    count(*) AS seeds, m.k_median, sum(s.excess < 0) AS too_few,\n"
	"    sum(s.excess = 0) AS exact, sum(s.excess = 1) AS one_over,\n"
	"    sum(s.excess >= 2) AS two_or_more_over\n"
	"  FROM v_eb_sweep s JOIN (\n"
	"    SELECT experiment, strategy, avg(k) AS k_median FROM (\n"
	"      SELECT experiment, strategy, k,\n"
	"        row_number() OVER (PARTITION BY experiment, strategy ORDER BY k) AS r,\n"
	"        count(*) OVER (PARTITION BY experiment, strategy) AS n FROM v_eb_sweep)\n"
	"    WHERE r IN ((n + 1) / 2, (n + 2) / 2) GROUP BY experiment, strategy) m\n"
	"    ON m.experiment = s.experiment AND m.strategy = s.strategy\n"
	"  GROUP BY s.experiment, s.strategy\n"
	"  ORDER BY s.lambda, s.lambda_hidden, s.true_dimension, s.experiment;\n",
	NULL,
};

/* every view above, in the order they are made: dropped in reverse */
static const char *view_names[] = {
	"v_latest", "v_t_quantile", "v_paired_all", "v_paired", "v_moments_all", "v_summary_all",
	"v_summary", "v_comparison_all", "v_comparison", "v_grid_curve", "v_epochs", "v_known_id",
	"v_latent_activity", "v_sosae_cut_all", "v_sosae_cut", "v_sosae_sweep_all",
	"v_sosae_sweep", "v_eb_sweep", "v_eb_sweep_summary", NULL,
};

/* ---- helpers ---- */

/* SQLite's error as ds_errmsg(), with a hint for the errors a user can fix. */
static int fail_db(struct store *s, const char *what)
{
	int code = sqlite3_extended_errcode(s->db);
	const char *hint = "";
	if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
		hint = " (another process holds the database locked; wait for it or use --db)";
	else if ((code & 0xff) == SQLITE_READONLY)
		hint = " (the file or its folder is read-only; use --db to write elsewhere)";
	else if ((code & 0xff) == SQLITE_FULL)
		hint = " (the disk is full; free space and run again: stored results are kept)";
	else if ((code & 0xff) == SQLITE_IOERR)
		hint = " (a write failed; check the disk, then run again)";
	else if ((code & 0xff) == SQLITE_CANTOPEN)
		hint = " (check that its folder exists and that you may write there, or use --db)";
	return ds_fail("%s: %s: %s%s", s->path, what, sqlite3_errmsg(s->db), hint);
}

static int exec(struct store *s, const char *sql, const char *what)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail_db(s, what);
	return 0;
}

static int begin(struct store *s)
{
	return exec(s, "BEGIN IMMEDIATE", "cannot start a write");
}

static int commit(struct store *s)
{
	if (exec(s, "COMMIT", "cannot commit")) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static void rollback(struct store *s)
{
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static sqlite3_stmt *prepare(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		fail_db(s, "cannot prepare a statement");
		return NULL;
	}
	return st;
}

/* Bind a double; NaN becomes NULL and sets its bit in *mask. */
static void bind_real(sqlite3_stmt *st, int i, double v, int *mask, int bit)
{
	if (isnan(v)) {
		sqlite3_bind_null(st, i);
		*mask |= bit;
	} else {
		sqlite3_bind_double(st, i, v);
	}
}

static double column_real(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static void column_text(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, size, "%s", t ? (const char *)t : "");
}

/* Run a prepared write to completion and free it. */
static int step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail_db(s, what);
	return 0;
}

/* ---- open ---- */

/* What the file holds: its application id, schema version and number of schema objects,
 * read in one statement so that all three come from the same moment (another process
 * may be creating the schema). */
static int read_header(struct store *s, int *app, int *version, int *objects)
{
	sqlite3_stmt *st = prepare(s, "SELECT (SELECT application_id FROM pragma_application_id), "
				      "(SELECT user_version FROM pragma_user_version), "
				      "(SELECT count(*) FROM sqlite_master)");
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	int *out[] = { app, version, objects };
	for (int i = 0; i < 3; i++)
		*out[i] = rc == SQLITE_ROW ? sqlite3_column_int(st, i) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail_db(s, "cannot read the schema");
	return 0;
}

/* Put the file in WAL mode (kept in the file, so once is enough). The switch needs the
 * file to itself and SQLite does not wait for that, so wait here, up to busy_ms, while
 * another process is opening or creating the same file. A file system without WAL
 * support answers with the mode it kept, and the store works on in that mode. */
static int use_wal(struct store *s, int busy_ms)
{
	for (int waited = 0;; waited += 20) {
		sqlite3_stmt *st = prepare(s, "PRAGMA journal_mode = WAL");
		if (!st)
			return -1;
		int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc == SQLITE_ROW)
			return 0;
		if (((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) && waited < busy_ms) {
			sqlite3_sleep(20);
			continue;
		}
		return fail_db(s, "cannot switch to WAL");
	}
}

/* Create the folder a new database goes in. */
static int make_parent_folder(const char *path)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	struct stat st;
	if (stat(dir, &st) == 0)
		return 0;
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return ds_fail("cannot create the folder %s for %s: %s", dir, path,
			       strerror(errno));
	return 0;
}

/* A connection that only reads sees this build's views even in a file last written by an
 * older one: the same definitions as TEMP views, which SQLite looks up before the file's
 * own (the temporary schema is writable on any connection). */
static int reading_views(struct store *s, int version)
{
	const char *prefix = "CREATE VIEW ";
	for (int i = 0; schema_views[i]; i++) {
		if (strncmp(schema_views[i], prefix, strlen(prefix)) ||
		    strstr(schema_views[i] + strlen(prefix), prefix))
			return ds_fail("internal: a view definition is not one %s", prefix);
		char *sql = NULL;
		if (asprintf(&sql, "CREATE TEMP VIEW %s", schema_views[i] + strlen(prefix)) < 0)
			return ds_fail("out of memory opening %s", s->path);
		char *order = version < 2 ? strstr(sql, LATEST_ORDER) : NULL;
		if (order) /* schema 1 has no run_order: its newest id is its latest run */
			memmove(order, order + strlen(LATEST_ORDER),
				strlen(order + strlen(LATEST_ORDER)) + 1);
		int rc = exec(s, sql, "cannot define the views");
		free(sql);
		if (rc)
			return -1;
	}
	return 0;
}

/* Create the schema in an empty file, or bring one of an older schema up to this one,
 * inside the caller's write transaction. */
static int create_or_upgrade(struct store *s, int version)
{
	/* an empty file gets the whole schema (version 0), an older one each upgrade from its
	 * version to this one */
	const char *const *const steps[] = { schema_tables, schema_upgrade_1, schema_upgrade_2 };
	int last = version == 0 ? 0 : STORE_SCHEMA_VERSION - 1;
	for (int v = version; v <= last; v++)
		for (int i = 0; steps[v][i]; i++)
			if (exec(s, steps[v][i], version == 0 ? "cannot create the schema"
							      : "cannot upgrade the schema"))
				return -1;
	char set[128];
	snprintf(set, sizeof(set), "PRAGMA application_id = %d; PRAGMA user_version = %d",
		 APPLICATION_ID, STORE_SCHEMA_VERSION);
	return exec(s, set, "cannot record the schema version");
}

/* Busy timeout, WAL, and the schema checked, created or upgraded under the write lock. */
static int setup(struct store *s, int create)
{
	/* first, so that every read and write below waits for another process rather than
	 * failing: one that is creating the file, or checkpointing it as it closes */
	const char *wait = getenv("DIMSEARCH_BUSY_MS");
	int busy_ms = wait && atoi(wait) > 0 ? atoi(wait) : STORE_BUSY_TIMEOUT_MS;
	if (sqlite3_busy_timeout(s->db, busy_ms) != SQLITE_OK)
		return fail_db(s, "cannot set the busy timeout");
	int app = 0, version = 0, tables = 0;
	if (read_header(s, &app, &version, &tables))
		return -1;
	if (tables > 0 && app != APPLICATION_ID)
		return ds_fail("%s is an SQLite database but not a dimsearch one; use --db to "
			       "choose another file",
			       s->path);
	if (version > STORE_SCHEMA_VERSION)
		return ds_fail("%s was written by a newer dimsearch (schema %d; this build knows "
			       "up to %d): update dimsearch or use another --db",
			       s->path, version, STORE_SCHEMA_VERSION);
	if (create && use_wal(s, busy_ms))
		return -1;
	if (exec(s, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL",
		 "cannot configure the connection"))
		return -1;
	if (version == 0 && !create)
		return ds_fail("%s holds no dimsearch results yet; run 'dimsearch run' first",
			       s->path);
	if (!create)
		return reading_views(s, version);
	if (begin(s))
		return -1;
	/* read again under the write lock: another process may have created the schema
	 * since the look above */
	if (read_header(s, &app, &version, &tables)) {
		rollback(s);
		return -1;
	}
	if (version != STORE_SCHEMA_VERSION && create_or_upgrade(s, version)) {
		rollback(s);
		return -1;
	}
	/* dropped in reverse, since some views are built on others */
	for (int i = (int)(sizeof(view_names) / sizeof(*view_names)) - 2; i >= 0; i--) {
		char drop[128];
		snprintf(drop, sizeof(drop), "DROP VIEW IF EXISTS %s", view_names[i]);
		if (exec(s, drop, "cannot refresh the views")) {
			rollback(s);
			return -1;
		}
	}
	for (int i = 0; schema_views[i]; i++)
		if (exec(s, schema_views[i], "cannot create the views")) {
			rollback(s);
			return -1;
		}
	return commit(s);
}

/* A database must be writable, and so must its folder (WAL keeps files beside it): say
 * which is not, before anything runs. */
static int writable_problem(const char *path)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (access(path, F_OK) == 0 && access(path, W_OK) != 0)
		return ds_fail("%s is read-only: make it writable, or name another file with --db",
			       path);
	if (access(dir, W_OK) != 0)
		return ds_fail("cannot write in %s, the folder of %s (%s): SQLite keeps its journal "
			       "there; use --db to write elsewhere",
			       dir, path, strerror(errno));
	return 0;
}

struct store *store_open(const char *path, int create)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		ds_fail("out of memory opening %s", path);
		return NULL;
	}
	if (!*path || strlen(path) >= sizeof(s->path) || !strcmp(path, ":memory:") ||
	    !strncmp(path, "file:", 5)) {
		ds_fail("'%s' is not a database file that keeps its results: name a file (of at "
			"most %zu characters) with --db",
			path, sizeof(s->path) - 1);
		free(s);
		return NULL;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	make_token(s->token, sizeof(s->token));
	if (create && make_parent_folder(path)) {
		free(s);
		return NULL;
	}
	struct stat st;
	if (!create && stat(path, &st) != 0) {
		ds_fail("cannot open %s: %s (run 'dimsearch run' first, or name another --db)",
			path, strerror(errno));
		free(s);
		return NULL;
	}
	if (create && writable_problem(path)) {
		store_close(s);
		return NULL;
	}
	int flags = create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		fail_db(s, "cannot open");
		store_close(s);
		return NULL;
	}
	int rc = setup(s, create);
	if (rc && !create && (sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_READONLY) {
		/* a WAL database in a folder we may not write: reading it needs a shared-memory
		 * file beside it, which nobody can be writing there either, so open it as
		 * immutable instead */
		sqlite3_close(s->db);
		char uri[2200];
		snprintf(uri, sizeof(uri), "file:%s?immutable=1", path);
		rc = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) !=
			     SQLITE_OK
			     ? fail_db(s, "cannot open")
			     : setup(s, 0);
	}
	if (!rc && stat(path, &st) != 0)
		rc = ds_fail("cannot find %s after opening it: %s", path, strerror(errno));
	if (rc) {
		store_close(s);
		return NULL;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return s;
}

int store_check(struct store *s)
{
	struct stat st;
	if (stat(s->path, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino)
		return ds_fail("%s was deleted or replaced while dimsearch was writing to it: "
			       "what this run stored is not in the file that is there now; run "
			       "again",
			       s->path);
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	lease_stop(s);
	sqlite3_close(s->db);
	free(s);
}

const char *store_path(const struct store *s)
{
	return s->path;
}

/* ---- experiments ---- */

int store_experiment(struct store *s, const char *name, const char *hash, const char *dataset,
		     double true_dimension, const char *config, long *experiment_id)
{
	if (begin(s))
		return -1;
	sqlite3_stmt *st = prepare(s, "INSERT INTO experiment (name, hash, dataset, config, "
				      "true_dimension, run_order) VALUES (?, ?, ?, ?, ?, (SELECT "
				      "coalesce(max(run_order), 0) + 1 FROM experiment)) ON CONFLICT "
				      "(name, hash) DO UPDATE SET config = excluded.config, "
				      "run_order = excluded.run_order");
	if (!st)
		goto fail;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, dataset, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, config, -1, SQLITE_TRANSIENT);
	if (true_dimension > 0)
		sqlite3_bind_double(st, 5, true_dimension);
	else
		sqlite3_bind_null(st, 5);
	if (step_done(s, st, "cannot record the experiment"))
		goto fail;
	st = prepare(s, "SELECT id FROM experiment WHERE name = ? AND hash = ?");
	if (!st)
		goto fail;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		fail_db(s, "cannot find the experiment just recorded");
		goto fail;
	}
	*experiment_id = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return commit(s);
fail:
	rollback(s);
	return -1;
}

/* One statement whose only parameter is an id, in a write transaction of its own. */
static int exec_with_id(struct store *s, const char *sql, long id, const char *what)
{
	if (begin(s))
		return -1;
	sqlite3_stmt *st = prepare(s, sql);
	if (!st) {
		rollback(s);
		return -1;
	}
	sqlite3_bind_int64(st, 1, id);
	if (step_done(s, st, what)) {
		rollback(s);
		return -1;
	}
	return commit(s);
}

int store_experiment_ran(struct store *s, long experiment_id)
{
	return exec_with_id(s, "UPDATE experiment SET run_order = (SELECT max(run_order) + 1 "
			       "FROM experiment) WHERE id = ?",
			    experiment_id, "cannot record the experiment's run");
}

int store_latest_experiment(struct store *s, const char *name, long *experiment_id)
{
	sqlite3_stmt *st = prepare(s, "SELECT experiment_id FROM v_latest WHERE name = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	*experiment_id = rc == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail_db(s, "cannot read experiments");
	return 0;
}

int store_other_kernel(struct store *s, long experiment_id, const char *kernel, char *other,
		       size_t size)
{
	sqlite3_stmt *st = prepare(s, "SELECT count(*), min(blas_kernel) FROM trial WHERE "
				      "experiment_id = ? AND state = 'complete' AND blas_kernel IS "
				      "NOT NULL AND blas_kernel <> ?");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, experiment_id);
	sqlite3_bind_text(st, 2, kernel, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st), n = 0;
	if (rc == SQLITE_ROW) {
		n = sqlite3_column_int(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		snprintf(other, size, "%s", name ? name : "");
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return fail_db(s, "cannot read the trials' kernels");
	return n;
}

void store_group_member(struct store *s, const char *group, char *out, size_t size)
{
	const char *args[] = { group, NULL };
	store_scalar(s, "SELECT name FROM experiment WHERE substr(name, 1, length(?1) + 1) = "
			"?1 || '.' ORDER BY name LIMIT 1",
		     args, out, size, "");
}

/* ---- trials ---- */

int store_trial_get(struct store *s, long experiment_id, const char *key,
		    struct trial_record *t)
{
	sqlite3_stmt *st = prepare(
		s, "SELECT id, strategy, role, latent, seed, params, state, epochs_run, train_mse, "
		   "val_mse, test_mse, probe_accuracy, nan_mask, flops_train_gemm, "
		   "flops_eval_gemm, flops_elementwise, flops_overhead, flops_report, seconds, "
		   "error, details, flops_delivery FROM trial WHERE experiment_id = ? AND "
		   "trial_key = ?");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, experiment_id);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return fail_db(s, "cannot read a trial");
	}
	memset(t, 0, sizeof(*t));
	snprintf(t->key, sizeof(t->key), "%s", key);
	t->id = (long)sqlite3_column_int64(st, 0);
	column_text(st, 1, t->strategy, sizeof(t->strategy));
	column_text(st, 2, t->role, sizeof(t->role));
	t->latent = sqlite3_column_int(st, 3);
	t->seed = (long)sqlite3_column_int64(st, 4);
	column_text(st, 5, t->params, sizeof(t->params));
	t->state = state_parse((const char *)sqlite3_column_text(st, 6));
	t->epochs_run = sqlite3_column_int(st, 7);
	t->train_mse = column_real(st, 8);
	t->val_mse = column_real(st, 9);
	t->test_mse = column_real(st, 10);
	t->probe_accuracy = column_real(st, 11);
	t->flops.train_gemm = (uint64_t)sqlite3_column_int64(st, 13);
	t->flops.eval_gemm = (uint64_t)sqlite3_column_int64(st, 14);
	t->flops.elementwise = (uint64_t)sqlite3_column_int64(st, 15);
	t->flops.overhead = (uint64_t)sqlite3_column_int64(st, 16);
	t->flops.report = (uint64_t)sqlite3_column_int64(st, 17);
	t->seconds = column_real(st, 18);
	column_text(st, 19, t->error, sizeof(t->error));
	column_text(st, 20, t->details, sizeof(t->details));
	t->delivery_flops = (uint64_t)sqlite3_column_int64(st, 21);
	sqlite3_finalize(st);
	return 1;
}

/* ---- owners: which process runs a trial ---- */

/* A trial's owner holds it while its heartbeat is younger than the lease: a process that
 * died, on this machine or another, in this PID namespace or another, loses its trials when
 * the lease runs out, whatever process now has its PID. */
#define LEASE_SECONDS 60.0

static void this_host(char *host, size_t size)
{
	if (gethostname(host, size) != 0)
		snprintf(host, size, "unknown");
	host[size - 1] = '\0';
}

static double unix_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The lease in seconds: LEASE_SECONDS, or DIMSEARCH_LEASE_S (tests shorten it). */
static double lease_seconds(void)
{
	const char *v = getenv("DIMSEARCH_LEASE_S");
	double s = v ? atof(v) : 0;
	return s > 0 ? s : LEASE_SECONDS;
}

/* A token no other open store has: host, pid, time and random bits. */
static void make_token(char *token, size_t size)
{
	uint64_t r = 0;
	int fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0 || read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		r = (uint64_t)unix_now() * 1000003u ^ (uint64_t)getpid() << 32;
	if (fd >= 0)
		close(fd);
	snprintf(token, size, "%d-%016llx", (int)getpid(), (unsigned long long)r);
}

/* Whether process pid has ended but not been reaped (state Z in /proc/PID/stat): an owner
 * that is gone, though kill() still finds it (a rank of an MPI job whose parent exited, in a
 * container whose first process reaps nothing). */
static int is_zombie(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *close = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	return close && close[1] == ' ' && close[2] == 'Z';
}

/* Whether the recorded owner of a running trial is still at work: this store, or another
 * whose heartbeat is within the lease (and, on this machine, whose process exists: a PID
 * that no process has is an owner that is certainly gone). */
static int owner_alive(struct store *s, sqlite3_stmt *st, int pid_col, int host_col,
		       int beat_col, int token_col)
{
	const char *token = (const char *)sqlite3_column_text(st, token_col);
	if (token && !strcmp(token, s->token))
		return 1;
	if (sqlite3_column_type(st, beat_col) == SQLITE_NULL ||
	    unix_now() - sqlite3_column_double(st, beat_col) >= lease_seconds())
		return 0;
	if (sqlite3_column_type(st, pid_col) == SQLITE_NULL)
		return 0;
	pid_t pid = (pid_t)sqlite3_column_int64(st, pid_col);
	const char *host = (const char *)sqlite3_column_text(st, host_col);
	char me[256];
	this_host(me, sizeof(me));
	if (host && !strcmp(host, me) && (kill(pid, 0) != 0 ? errno == ESRCH : is_zombie(pid)))
		return 0;
	return 1;
}

/* The keeper: every period, the heartbeat of each running trial this store owns. */
static void *lease_keeper(void *arg)
{
	struct store *s = arg;
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL; /* the epochs still renew it */
	}
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	pthread_mutex_lock(&s->lease.lock);
	while (!s->lease.stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		double t = (double)until.tv_sec + 1e-9 * (double)until.tv_nsec + s->lease.period;
		until.tv_sec = (time_t)t;
		until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
		pthread_cond_timedwait(&s->lease.wake, &s->lease.lock, &until);
		if (s->lease.stop)
			break;
		pthread_mutex_unlock(&s->lease.lock);
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(db, "UPDATE trial SET heartbeat = ? WHERE owner_token = ? AND "
					   "state = 'running'",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_double(st, 1, unix_now());
			sqlite3_bind_text(st, 2, s->token, -1, SQLITE_STATIC);
			sqlite3_step(st);
		}
		sqlite3_finalize(st);
		pthread_mutex_lock(&s->lease.lock);
	}
	pthread_mutex_unlock(&s->lease.lock);
	sqlite3_close(db);
	return NULL;
}

/* Start the keeper once, when this store first claims a trial. */
static void lease_start(struct store *s)
{
	if (s->lease.started)
		return;
	s->lease.period = lease_seconds() / 4;
	pthread_mutex_init(&s->lease.lock, NULL);
	pthread_cond_init(&s->lease.wake, NULL);
	s->lease.started = pthread_create(&s->lease.thread, NULL, lease_keeper, s) == 0 ? 1 : -1;
}

static void lease_stop(struct store *s)
{
	if (s->lease.started != 1)
		return;
	pthread_mutex_lock(&s->lease.lock);
	s->lease.stop = 1;
	pthread_cond_signal(&s->lease.wake);
	pthread_mutex_unlock(&s->lease.lock);
	pthread_join(s->lease.thread, NULL);
	pthread_mutex_destroy(&s->lease.lock);
	pthread_cond_destroy(&s->lease.wake);
	s->lease.started = 0;
}

int store_trial_claim(struct store *s, long experiment_id, struct trial_record *t)
{
	if (begin(s))
		return -1;
	sqlite3_stmt *st = prepare(s, "SELECT id, state, owner_pid, owner_host, heartbeat, "
				      "owner_token FROM trial WHERE experiment_id = ? AND trial_key = ?");
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, experiment_id);
	sqlite3_bind_text(st, 2, t->key, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st), verdict = CLAIM_TAKEN;
	if (rc == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 1);
		if (state && !strcmp(state, "complete"))
			verdict = CLAIM_DONE;
		else if (state && !strcmp(state, "running") && owner_alive(s, st, 2, 3, 4, 5))
			verdict = CLAIM_BUSY;
	} else if (rc != SQLITE_DONE) {
		sqlite3_finalize(st);
		fail_db(s, "cannot read a trial");
		goto fail;
	}
	sqlite3_finalize(st);
	if (verdict != CLAIM_TAKEN) {
		rollback(s);
		return verdict;
	}
	char host[256];
	this_host(host, sizeof(host));
	st = prepare(
		s, "INSERT INTO trial (experiment_id, trial_key, strategy, role, latent, seed, "
		   "params, state, started_at, attempts, owner_pid, owner_host, heartbeat, "
		   "owner_token) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', "
		   "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 1, ?, ?, ?, ?) ON CONFLICT (experiment_id, "
		   "trial_key) DO UPDATE SET state = 'running', "
		   "epochs_run = 0, train_mse = NULL, val_mse = NULL, test_mse = NULL, "
		   "probe_accuracy = NULL, nan_mask = 0, flops_train_gemm = 0, "
		   "flops_eval_gemm = 0, flops_elementwise = 0, flops_overhead = 0, "
		   "flops_report = 0, flops_delivery = 0, seconds = NULL, error = NULL, "
		   "details = NULL, started_at = excluded.started_at, finished_at = NULL, "
		   "attempts = attempts + 1, owner_pid = excluded.owner_pid, "
		   "owner_host = excluded.owner_host, heartbeat = excluded.heartbeat, "
		   "owner_token = excluded.owner_token RETURNING id");
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, experiment_id);
	sqlite3_bind_text(st, 2, t->key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, t->strategy, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, t->role, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 5, t->latent);
	sqlite3_bind_int64(st, 6, t->seed);
	sqlite3_bind_text(st, 7, t->params[0] ? t->params : "{}", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)getpid());
	sqlite3_bind_text(st, 9, host, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 10, unix_now());
	sqlite3_bind_text(st, 11, s->token, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		fail_db(s, "cannot record a trial");
		goto fail;
	}
	t->id = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	static const char *clear[] = { "DELETE FROM epoch WHERE trial_id = ?",
				       "DELETE FROM latent_activity WHERE trial_id = ?" };
	for (int i = 0; i < 2; i++) {
		st = prepare(s, clear[i]);
		if (!st)
			goto fail;
		sqlite3_bind_int64(st, 1, t->id);
		if (step_done(s, st, "cannot clear a trial's old results"))
			goto fail;
	}
	t->state = TRIAL_RUNNING;
	if (commit(s))
		return -1;
	lease_start(s);
	return CLAIM_TAKEN;
fail:
	rollback(s);
	return -1;
}

int store_epoch(struct store *s, long trial_id, const struct epoch_record *e)
{
	if (begin(s))
		return -1;
	sqlite3_stmt *st = prepare(
		s, "INSERT OR REPLACE INTO epoch (trial_id, epoch, train_loss, penalty, val_mse, "
		   "active_latent, nan_mask, flops_tuning, seconds, mask_distance) VALUES (?, ?, ?, "
		   "?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		goto fail;
	int mask = 0;
	sqlite3_bind_int64(st, 1, trial_id);
	sqlite3_bind_int(st, 2, e->epoch);
	bind_real(st, 3, e->train_loss, &mask, NAN_EPOCH_LOSS);
	bind_real(st, 4, e->penalty, &mask, NAN_EPOCH_PENALTY);
	bind_real(st, 5, e->val_mse, &mask, NAN_EPOCH_VAL);
	if (e->active_latent >= 0)
		sqlite3_bind_int(st, 6, e->active_latent);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int(st, 7, mask);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)e->flops_tuning);
	sqlite3_bind_double(st, 9, e->seconds);
	if (isfinite(e->mask_distance))
		sqlite3_bind_double(st, 10, e->mask_distance);
	else
		sqlite3_bind_null(st, 10);
	if (step_done(s, st, "cannot record an epoch"))
		goto fail;
	st = prepare(s, "UPDATE trial SET heartbeat = ? WHERE id = ?");
	if (!st)
		goto fail;
	sqlite3_bind_double(st, 1, unix_now());
	sqlite3_bind_int64(st, 2, trial_id);
	if (step_done(s, st, "cannot record a heartbeat"))
		goto fail;
	return commit(s);
fail:
	rollback(s);
	return -1;
}

int store_trial_end(struct store *s, const struct trial_record *t)
{
	if (begin(s))
		return -1;
	sqlite3_stmt *st = prepare(
		s, "UPDATE trial SET state = ?, epochs_run = ?, train_mse = ?, val_mse = ?, "
		   "test_mse = ?, probe_accuracy = ?, nan_mask = ?, flops_train_gemm = ?, "
		   "flops_eval_gemm = ?, flops_elementwise = ?, flops_overhead = ?, "
		   "flops_report = ?, seconds = ?, error = ?, details = ?, flops_delivery = ?, "
		   "latent = ?, blas_kernel = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', "
		   "'now') WHERE id = ?");
	if (!st)
		goto fail;
	int mask = 0;
	sqlite3_bind_text(st, 1, trial_state_name(t->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, t->epochs_run);
	bind_real(st, 3, t->train_mse, &mask, NAN_TRAIN_MSE);
	bind_real(st, 4, t->val_mse, &mask, NAN_VAL_MSE);
	bind_real(st, 5, t->test_mse, &mask, NAN_TEST_MSE);
	bind_real(st, 6, t->probe_accuracy, &mask, NAN_PROBE);
	sqlite3_bind_int(st, 7, mask);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)t->flops.train_gemm);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)t->flops.eval_gemm);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)t->flops.elementwise);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)t->flops.overhead);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)t->flops.report);
	sqlite3_bind_double(st, 13, t->seconds);
	if (t->error[0])
		sqlite3_bind_text(st, 14, t->error, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 14);
	sqlite3_bind_text(st, 15, t->details[0] ? t->details : "{}", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 16, (sqlite3_int64)t->delivery_flops);
	sqlite3_bind_int(st, 17, t->latent); /* the width delivered may differ from the plan */
	if (t->blas_kernel[0])
		sqlite3_bind_text(st, 18, t->blas_kernel, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 18);
	sqlite3_bind_int64(st, 19, t->id);
	if (step_done(s, st, "cannot record a trial's result"))
		goto fail;
	return commit(s);
fail:
	rollback(s);
	return -1;
}

int store_mark_interrupted(struct store *s, long experiment_id)
{
	if (begin(s))
		return -1;
	sqlite3_stmt *st = prepare(s, "SELECT id, owner_pid, owner_host, heartbeat, owner_token "
				      "FROM trial WHERE experiment_id = ? AND state IN ('running', "
				      "'waiting')");
	if (!st) {
		rollback(s);
		return -1;
	}
	sqlite3_bind_int64(st, 1, experiment_id);
	long *dead = NULL;
	int n = 0, size = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (owner_alive(s, st, 1, 2, 3, 4))
			continue;
		if (n == size) {
			size = size ? 2 * size : 64;
			long *d = realloc(dead, sizeof(*d) * (size_t)size);
			if (!d) {
				sqlite3_finalize(st);
				free(dead);
				rollback(s);
				return ds_fail("out of memory reading trials");
			}
			dead = d;
		}
		dead[n++] = (long)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(dead);
		fail_db(s, "cannot read trials");
		rollback(s);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		st = prepare(s, "UPDATE trial SET state = 'interrupted', owner_pid = NULL, "
				"owner_token = NULL WHERE id = ?");
		if (!st || (sqlite3_bind_int64(st, 1, dead[i]),
			    step_done(s, st, "cannot mark interrupted trials"))) {
			free(dead);
			rollback(s);
			return -1;
		}
	}
	free(dead);
	return commit(s) ? -1 : n;
}

/* ---- decisions ---- */

int store_clear_decisions(struct store *s, long experiment_id)
{
	return exec_with_id(s, "DELETE FROM decision WHERE experiment_id = ?", experiment_id,
			    "cannot clear old decisions");
}

int store_decision(struct store *s, long experiment_id, const struct decision_record *d)
{
	if (begin(s))
		return -1;
	sqlite3_stmt *st = prepare(
		s, "INSERT OR REPLACE INTO decision (experiment_id, strategy, seed, chosen_latent, "
		   "tuning_flops, delivery_flops, report_flops, test_mse, probe_accuracy, "
		   "nan_mask, seconds, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		goto fail;
	int mask = 0;
	sqlite3_bind_int64(st, 1, experiment_id);
	sqlite3_bind_text(st, 2, d->strategy, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, d->seed);
	sqlite3_bind_int(st, 4, d->chosen_latent);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)d->tuning_flops);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)d->delivery_flops);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)d->report_flops);
	bind_real(st, 8, d->test_mse, &mask, NAN_TEST_MSE);
	bind_real(st, 9, d->probe_accuracy, &mask, NAN_PROBE);
	sqlite3_bind_int(st, 10, mask);
	sqlite3_bind_double(st, 11, d->seconds);
	sqlite3_bind_text(st, 12, d->details[0] ? d->details : "{}", -1, SQLITE_TRANSIENT);
	if (step_done(s, st, "cannot record a decision"))
		goto fail;
	return commit(s);
fail:
	rollback(s);
	return -1;
}

int store_activity(struct store *s, long trial_id, int K, const double *max_abs,
		   const double *mean_abs, const double *var_mu, const double *mean_sigma2)
{
	if (begin(s))
		return -1;
	sqlite3_stmt *st = prepare(s, "INSERT OR REPLACE INTO latent_activity (trial_id, k, "
				      "max_abs, mean_abs, var_mu, mean_sigma2) VALUES (?, ?, ?, ?, "
				      "?, ?)");
	if (!st)
		goto fail;
	for (int k = 0; k < K; k++) {
		sqlite3_bind_int64(st, 1, trial_id);
		sqlite3_bind_int(st, 2, k + 1);
		sqlite3_bind_double(st, 3, max_abs[k]);
		sqlite3_bind_double(st, 4, mean_abs[k]);
		if (var_mu)
			sqlite3_bind_double(st, 5, var_mu[k]);
		else
			sqlite3_bind_null(st, 5);
		if (mean_sigma2)
			sqlite3_bind_double(st, 6, mean_sigma2[k]);
		else
			sqlite3_bind_null(st, 6);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			fail_db(s, "cannot record latent activity");
			goto fail;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return commit(s);
fail:
	rollback(s);
	return -1;
}

/* ---- queries ---- */

int store_query(struct store *s, const char *sql, const char *const *params,
		int (*fn)(void *ctx, int ncol, char **names, char **values), void *ctx)
{
	sqlite3_stmt *st = prepare(s, sql);
	if (!st)
		return -1;
	for (int i = 0; params && params[i]; i++)
		sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_TRANSIENT);
	int ncol = sqlite3_column_count(st), rc;
	char **names = calloc((size_t)ncol, sizeof(char *));
	char **values = calloc((size_t)ncol, sizeof(char *));
	if (!names || !values) {
		free(names);
		free(values);
		sqlite3_finalize(st);
		return ds_fail("out of memory reading %s", s->path);
	}
	for (int i = 0; i < ncol; i++)
		names[i] = (char *)sqlite3_column_name(st, i);
	int stopped = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < ncol; i++)
			values[i] = (char *)sqlite3_column_text(st, i);
		if (fn(ctx, ncol, names, values)) {
			stopped = 1;
			break;
		}
	}
	free(names);
	free(values);
	sqlite3_finalize(st);
	if (!stopped && rc != SQLITE_DONE)
		return fail_db(s, "cannot read results");
	return 0;
}

struct scalar_out {
	char *out;
	size_t size;
};

static int take_first(void *ctx, int ncol, char **names, char **values)
{
	(void)names;
	struct scalar_out *o = ctx;
	if (ncol > 0 && values[0])
		snprintf(o->out, o->size, "%s", values[0]);
	return 1;
}

void store_scalar(struct store *s, const char *sql, const char *const *params, char *out,
		  size_t size, const char *fallback)
{
	snprintf(out, size, "%s", fallback);
	struct scalar_out o = { out, size };
	store_query(s, sql, params, take_first, &o);
}
