/* records.h: what a trial, an epoch and a decision leave behind. Strategies fill these
 * records; the scheduler hands them to the store, which writes them to the database. */
#ifndef DS_RECORDS_H
#define DS_RECORDS_H

#include <stdint.h>

#include "../core/flops.h"

/* A trial's state, in the store and as the outcome of a strategy's run: a run ends
 * TRIAL_COMPLETE, TRIAL_FAILED (the reason in error) or TRIAL_INTERRUPTED (stopped by a
 * signal or a store failure; the next run starts it again). */
enum trial_state { TRIAL_WAITING, TRIAL_RUNNING, TRIAL_COMPLETE, TRIAL_FAILED, TRIAL_INTERRUPTED };

struct trial_record {
	long id;
	char key[160];	   /* unique within an experiment, e.g. "grid/K=8/seed=1" */
	char strategy[64]; /* e.g. "grid", "sosae(a=0.1,l=0.002)" */
	char role[16];	   /* "search": training that chooses the size (and, in the same
			    * trial, the model delivered at it); "delivery": a trial whose only
			    * training is the model delivered at the chosen size (estimators) */
	int latent;	   /* the width trained */
	long seed;
	char params[512]; /* hyper-parameters, JSON */
	int variant;	  /* which of the strategy's settings (in memory only) */
	enum trial_state state;
	int epochs_run;
	double train_mse, val_mse, test_mse; /* per element; NaN when unknown */
	double probe_accuracy;		     /* in [0, 1]; NaN without labels */
	struct flops flops;		     /* everything this trial counted */
	uint64_t delivery_flops; /* of that, spent after the size was named (fine-tuning) */
	double seconds;		 /* wall time of the trial */
	char error[512];	 /* why it failed */
	char details[2048];	 /* what the strategy learnt, JSON */
	char blas_kernel[32];	 /* the OpenBLAS kernel it was trained under ("" unknown) */
};

struct epoch_record {
	int epoch;
	double train_loss, penalty, val_mse;
	int active_latent;     /* -1 when the strategy has no such count */
	double mask_distance;  /* Early-Bird: newest mask's largest distance to the older
				* ones in its window; NaN when none */
	uint64_t flops_tuning; /* spent by this trial so far (flops_tuning) */
	double seconds;	       /* since the trial started */
};

struct decision_record {
	char strategy[64];
	long seed;
	int chosen_latent;
	uint64_t tuning_flops;	 /* everything run before the size was named */
	uint64_t delivery_flops; /* a run at the chosen size, 0 when the strategy holds it */
	uint64_t report_flops;	 /* test evaluation and probe */
	double test_mse, probe_accuracy;
	double seconds;	    /* wall time of its trials, added up */
	char details[2048]; /* JSON */
};

#endif
