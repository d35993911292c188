/* experiment.h: experiments.ini: one section per experiment, parsed with inih and checked
 * whole before any training starts. */
#ifndef DS_EXPERIMENT_H
#define DS_EXPERIMENT_H

#include <stdint.h>

#include "../core/data.h"
#include "../core/model.h"
#include "../core/nn.h"
#include "settings.h"

#define EXP_MAX_SEEDS 64
#define EXP_MAX_STRATEGIES 32
#define EXP_NAME_MAX 64
#define EXP_SETTINGS_BYTES 16384     /* the strategies' blocks of settings, in all */

struct registry;
struct settings;
struct strategy;

struct experiment {
	char name[EXP_NAME_MAX];        /* the section */
	int line;                       /* where the section starts */
	char description[256];
	char dataset[1024];             /* SPEC, see core/data.h */
	long n_train, n_val, n_test;    /* 0 / -1 / -1: the dataset's defaults */
	long data_seed;                 /* splits and synthetic draws */
	int scale_key;                  /* the key scale: an enum data_scale, -1 for auto */
	enum data_scale scale;          /* the scaling trained on: scale_key, or for auto the
	                                 * default of the dataset's kind (data_scale_default) */
	int hidden[AE_MAX_HIDDEN];      /* encoder widths, mirrored in the decoder */
	int n_hidden;
	int hidden_given;               /* the key was set (a conv model otherwise takes half
					 * its flattened size) */
	int conv;                       /* arch = conv */
	int channels[AE_MAX_CONV];      /* its blocks' output channels */
	int n_channels;
	int kernel;
	int shape[3];                   /* C, H, W; 0 0 0: the data's own image shape */
	enum act latent_act;
	int output_act;                 /* -1: sigmoid for data in [0, 1], else identity */
	enum loss loss;
	int k_max;                      /* widest latent layer any strategy may use */
	int epochs, batch, chunks;
	int delivery_epochs;            /* of the model a strategy hands over at its K */
	double lr;
	long seeds[EXP_MAX_SEEDS];      /* one decision per strategy and seed */
	int n_seeds;
	const struct strategy *strategies[EXP_MAX_STRATEGIES];   /* in the order listed */
	int n_strategies;
	/* probe */
	int probe_epochs;
	double probe_lr;
	/* what the file left to defaults a reader should see before trusting a run: the
	 * effective k_max and where it came from, the scaling when auto, and every key of the
	 * settings its strategies read that the section does not set; lines "[name] ...\n" */
	char defaults[4096];
	/* identity */
	char config[16384];             /* every resolved setting, one "key = value" a line */
	char hash[17];                  /* FNV-1a 64 of the settings every trial shares, hex */
	/* the strategies it may name, and their settings (see experiment_settings) */
	const struct registry *registry;
	_Alignas(16) unsigned char settings[EXP_SETTINGS_BYTES];
};

struct experiment_file {
	char path[1024];
	struct experiment *exp;
	int n_exp;
	char *errors;                   /* every problem, one line each; NULL when none */
	int n_errors;
};

/* Parse and check path, with the strategies of registry r and their keys. Returns 0 when the
 * file is usable; otherwise -1 with every problem found listed in f->errors
 * ("FILE:LINE: [section] key: what is wrong; what is allowed"). */
int experiments_load(struct experiment_file *f, const char *path, const struct registry *r);
void experiments_free(struct experiment_file *f);
const struct experiment *experiments_find(const struct experiment_file *f, const char *name);
/* The experiment NAME, or else the group of experiments named NAME.something, in file
 * order: up to max into out; returns how many. */
int experiments_select(const struct experiment_file *f, const char *name,
		       const struct experiment **out, int max);
/* Whether the experiment runs this strategy. */
int experiment_has(const struct experiment *e, const char *strategy);

/* The block of settings table t in e (NULL when t is not in e's registry). */
const void *experiment_settings(const struct experiment *e, const struct settings *t);

#endif
