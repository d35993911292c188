/* scheduler.h: running an experiment: trials in parallel, everything stored, decisions. */
#ifndef DS_SCHEDULER_H
#define DS_SCHEDULER_H

#include <signal.h>
#include <stdio.h>

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

/* The schedule of e's first planning round under largest-first dynamic assignment on
 * ranks[i] ranks of o->threads threads each (every thread running one trial), printed to out
 * with the projected wall time of each (into wall[i] when not NULL): the trials' FLOPs from
 * the closed form, the seconds per FLOP from short trainings timed now on this machine.
 * Nothing is trained for the experiment, nothing stored. RUN_OK, RUN_BAD_INPUT or RUN_FAILED,
 * with ds_errmsg(). */
enum run_status run_plan(const struct experiment *e, const struct run_options *o,
			 const int *ranks, int n_ranks, double *wall, FILE *out);

/* Under MPI (cluster.h), on a worker rank: run the trials rank 0 hands out, of the
 * experiments to_run (the same list rank 0 runs, from the same command line), o->threads at
 * a time, until rank 0 says the run is over; the exit status rank 0 sent. Workers never open
 * the database: every epoch and result goes to rank 0 as a message. */
int run_worker(const struct experiment *const *to_run, int n, const struct run_options *o);

/* On rank 0: tell every worker waiting in run_worker that the run is over. */
void run_release_workers(int status);

#endif
