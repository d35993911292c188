/* models.h: the models a run delivers, kept as .npz files (core/model_io.h) beside the
 * database: DB.models/HASH/ per experiment configuration.
 *
 * Every trial saves the model it measured under its trial key while the run goes on; once
 * every decision is made, delivered.tsv names the trial whose model each strategy and seed
 * delivered, and the other trials' files are removed (a full grid over 1..150 would
 * otherwise keep 150 models per seed). A decision made again later from stored trials (a
 * new grid.select) may name a trial whose file is gone: models_find says so. */
#ifndef DS_MODELS_H
#define DS_MODELS_H

#include <stddef.h>
#include <stdio.h>

#include "records.h"

#define MODELS_SUFFIX ".models" /* DB.models: the folder beside database DB */

/* root/hash, made when missing (root too), into dir: 0, or -1 with ds_errmsg(). */
int models_dir(char *dir, size_t size, const char *root, const char *hash);
/* The file of a trial's model in dir: its key with '/' and anything unusual as '_'. */
void models_file(char *path, size_t size, const char *dir, const char *trial_key);

/* Begin the list of delivered models (NULL and ds_errmsg() when it cannot be written). */
FILE *models_begin(const char *dir);
/* Note decision d, made from trials[0..n): the trial that delivered its model is the one
 * whose test MSE is the decision's, at its width when there are several. Nothing when no
 * trial matches. */
void models_note(FILE *list, const struct decision_record *d, const struct trial_record *trials,
		 int n);
/* Close the list and, when prune (every decision was made), put it in place of the last
 * one and remove every trial's file it does not name; otherwise drop it, keeping the last
 * list and every file. 0, or -1 with ds_errmsg(). */
int models_end(FILE *list, const char *dir, int prune);

/* The file of the model strategy delivered for seed (seed < 0: the first listed) into
 * path, and that seed into *seed_out: 0, or -1 with ds_errmsg() naming what is listed or
 * why the file is missing. */
int models_find(const char *dir, const char *strategy, long seed, char *path, size_t size,
		long *seed_out);

#endif
