/* experiment.h: experiments.ini: one section per experiment, parsed with inih and checked
 * whole before any training starts. */
#ifndef DS_EXPERIMENT_H
#define DS_EXPERIMENT_H

#include <stdint.h>

#include "../core/model.h"
#include "../core/nn.h"

#define EXP_MAX_GRID 1024
#define EXP_MAX_SEEDS 64
#define EXP_MAX_STRATEGIES 8
#define EXP_NAME_MAX 64
#define EXP_MAX_VARIANTS 16

enum grid_select { SELECT_WITHIN, SELECT_KNEE };
enum { SOSAE_WEIGHT_EXP, SOSAE_WEIGHT_LINEAR };

struct experiment {
	char name[EXP_NAME_MAX];        /* the section */
	int line;                       /* where the section starts */
	char description[256];
	char dataset[1024];             /* SPEC, see core/data.h */
	long n_train, n_val, n_test;    /* 0 / -1 / -1: the dataset's defaults */
	long data_seed;                 /* splits and synthetic draws */
	int hidden[AE_MAX_HIDDEN];      /* encoder widths, mirrored in the decoder */
	int n_hidden;
	enum act latent_act;
	int output_act;                 /* -1: sigmoid for data in [0, 1], else identity */
	enum loss loss;
	int k_max;                      /* widest latent layer any strategy may use */
	int epochs, batch, chunks;
	double lr;
	long seeds[EXP_MAX_SEEDS];      /* one decision per strategy and seed */
	int n_seeds;
	char strategies[EXP_MAX_STRATEGIES][16];
	int n_strategies;
	/* grid search */
	int grid[EXP_MAX_GRID];         /* latent widths, ascending, distinct */
	int n_grid;
	enum grid_select grid_select;
	double grid_tolerance;          /* within: relative to the best validation MSE */
	/* SOSAE: one run per (alpha, lambda, finetune) setting and seed */
	double sosae_alpha[EXP_MAX_VARIANTS];
	int n_sosae_alpha;
	double sosae_lambda[EXP_MAX_VARIANTS];
	int n_sosae_lambda;
	int sosae_weight;               /* SOSAE_WEIGHT_EXP or SOSAE_WEIGHT_LINEAR */
	double sosae_l1;                /* plain L1 weight on every unit */
	double sosae_tau;               /* a unit is active when max |h_k| > tau */
	int sosae_patience;             /* stop when K* is unchanged this many epochs; 0 never */
	int sosae_finetune[EXP_MAX_VARIANTS]; /* epochs at K* after the cut (delivery) */
	int n_sosae_finetune;
	/* Early-Bird */
	double eb_lambda;               /* L1 subgradient weight on the scales */
	double eb_p;                    /* mask quantile */
	double eb_eps;                  /* ticket: distance to each of the 4 older masks */
	/* VAE overpruning */
	double vae_beta;                /* KL weight */
	/* intrinsic-dimension estimators */
	int id_n;                       /* training points they look at, 0 for all */
	int lpca_k;
	double lpca_alpha;
	int mle_k;
	double twonn_discard;
	/* probe */
	int probe_epochs;
	double probe_lr;
	/* identity */
	char config[16384];             /* every resolved setting, one "key = value" a line */
	char hash[17];                  /* FNV-1a 64 of the settings every trial shares, hex */
};

struct experiment_file {
	char path[1024];
	struct experiment *exp;
	int n_exp;
	char *errors;                   /* every problem, one line each; NULL when none */
	int n_errors;
};

/* Parse and check path. Returns 0 when the file is usable; otherwise -1 with every problem
 * found listed in f->errors ("FILE:LINE: [section] key: what is wrong; what is allowed"). */
int experiments_load(struct experiment_file *f, const char *path);
void experiments_free(struct experiment_file *f);
const struct experiment *experiments_find(const struct experiment_file *f, const char *name);
/* The experiment NAME, or else the group of experiments named NAME.something, in file
 * order: up to max into out; returns how many. */
int experiments_select(const struct experiment_file *f, const char *name,
		       const struct experiment **out, int max);
/* Whether the experiment runs this strategy. */
int experiment_has(const struct experiment *e, const char *strategy);

/* Parse "1..64 step 2", "1..64" or "2,4,8": ascending distinct values in [lo, hi].
 * Returns the count or -1 with a reason in why. */
int parse_int_list(const char *text, long lo, long hi, long *out, int max, char *why,
		   int why_size);

#endif
