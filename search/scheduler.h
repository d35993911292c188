/* scheduler.h: running an experiment: trials in parallel, everything stored, decisions. */
#ifndef DS_SCHEDULER_H
#define DS_SCHEDULER_H

#include <signal.h>

#include "experiment.h"

struct store;

struct run_options {
	int threads;			   /* cores to use */
	int quiet;			   /* no progress on stderr */
	const volatile sig_atomic_t *stop; /* raised by Ctrl-C / SIGTERM */
	const char *model_root;		   /* folder of the delivered models (models.h), one
					    * subfolder per configuration; NULL: none kept */
};

struct run_result {
	long experiment_id;   /* the configuration run, in the store */
	int trials;	      /* planned */
	int already_complete; /* finished by an earlier run, not repeated */
	int completed;	      /* finished by this run */
	int failed;
	int decisions;
	int undecided;	 /* strategy x seed with no decision (every trial failed) */
	int elsewhere;	 /* trials another live process was running */
	int interrupted; /* stopped by a signal; the next run continues */
};

/* What run_experiment returns. */
enum run_status {
	RUN_OK = 0,
	RUN_FAILED = -1,   /* the run cannot go on (the database, memory) */
	RUN_BAD_INPUT = -3 /* the data does not suit the settings: nothing was run */
};

/* Run experiment e into the store. Trials already complete are not repeated; unfinished ones
 * are run again from scratch. Trials run in parallel when there are enough of them (one per
 * thread, one BLAS thread each); otherwise the threads share each trial's batches. Results do
 * not depend on the thread count. Returns RUN_OK, RUN_BAD_INPUT with ds_errmsg() when the data
 * is missing or does not suit the settings (checked before anything runs), or RUN_FAILED
 * with ds_errmsg() when the run cannot go on (the database). */
enum run_status run_experiment(struct store *s, const struct experiment *e,
			       const struct run_options *o, struct run_result *r);

#endif
