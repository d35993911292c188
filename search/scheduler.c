/* scheduler.c: plans an experiment's trials, runs the unfinished ones in parallel with
 * OpenMP, stores every epoch as it ends, and records each strategy's decision. */
#include "scheduler.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/blas.h"
#include "../core/err.h"
#include "../core/hash.h"
#include "../core/model.h"
#include "../core/train.h"
#include "../results/store.h"
#include "cluster.h"
#include "models.h"
#include "strategy.h"

/* One trial to run (or found stored). Two strategies that plan the same training (the same
 * key, width, seed and settings: a point of the full grid that bisection also visits) share
 * one job; each is charged for it in its decision. */
struct job {
	const struct strategy *strategy; /* the first to plan it, whose run runs it */
	struct trial_record t;
	int pending;	   /* to run in this process */
	int round;	   /* the planning round that added it */
	uint64_t expected; /* FLOPs expected, for the time estimate */
	uint64_t done;	   /* FLOPs counted so far */
};

/* A strategy x seed: its trials are the members naming it. */
struct group {
	const struct strategy *strategy;
	long seed;
	int closed; /* every trial it wants is planned (a strategy without next: at once) */
};

/* A trial of a group, under the name and variant its strategy planned it with. */
struct member {
	int group, job;
	char strategy[64];
	int variant;
};

struct pending {
	uint64_t expected;
	int job;
};

struct cluster_run;

/* One run of one experiment: its plan, its progress and how the store fared. */
struct run_state {
	const struct experiment *exp;
	const struct dataset *data;
	struct store *store;
	long exp_id;
	const struct run_options *opt;
	struct run_result *result;
	struct job *jobs;
	int n_jobs, jobs_size;
	struct group *groups; /* strategy x seed */
	int n_groups;
	struct member *members;
	int n_members, members_size;
	int round;    /* planning rounds so far */
	int finished; /* trials complete or failed, this run and earlier */
	int failed;
	double t0, last_print;
	int store_failed;
	char store_error[DS_ERR_MAX];
	int tty;
	struct pending *queue; /* this round's pending trials, largest first ... */
	int n_queue, next;     /* ... and the next to hand out */
	struct cluster_run *cl; /* the other ranks, under MPI; NULL alone */
	int kernel_checked;	/* the stored trials' BLAS kernels, against this run's */
	double stopped_at;	/* when rank 0 first saw the stop signal (0: not yet) */
	char model_dir[4096]; /* this configuration's models (models.h); "" for none */
	FILE *models_list;    /* the delivered models, while deciding */
};

static double now_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* GEMM FLOPs a plain training run of the trial's width and epochs (its "epochs" setting,
 * else the experiment's) will count (core's closed form): the time estimate's unit */
static uint64_t expected_flops(const struct experiment *e, const struct dataset *d,
			       const struct trial_record *t)
{
	struct ae_arch a = experiment_arch(e, d, t->latent);
	uint64_t step, eval;
	ae_flops_per_example(&a, &step, &eval);
	double epochs = details_number(t->params, "epochs");
	if (!(epochs >= 1))
		epochs = e->epochs;
	return (uint64_t)epochs * (step * d->train.n + eval * d->val.n);
}

static void format_duration(double s, char *buf, size_t size)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

static void cluster_rates(const struct cluster_run *cl, char *buf, size_t size);

/* One progress line, at most every half second on a terminal and every 30 s in a log;
 * called inside the progress critical section. */
static void print_progress(struct run_state *st, int force)
{
	if (st->opt->quiet)
		return;
	double now = now_seconds();
	if (!force && now - st->last_print < (st->tty ? 0.5 : 30.0))
		return;
	st->last_print = now;
	uint64_t done = 0, expected_left = 0;
	for (int i = 0; i < st->n_jobs; i++)
		if (st->jobs[i].pending) {
			done += st->jobs[i].done;
			if (st->jobs[i].done < st->jobs[i].expected &&
			    st->jobs[i].t.state != TRIAL_COMPLETE &&
			    st->jobs[i].t.state != TRIAL_FAILED)
				expected_left += st->jobs[i].expected - st->jobs[i].done;
		}
	double elapsed = now - st->t0;
	char el[32], left[32] = "?";
	format_duration(elapsed, el, sizeof(el));
	if (done > 0 && elapsed > 1.0)
		format_duration(elapsed * (double)expected_left / (double)done, left, sizeof(left));
	char failed[32] = "", ranks[96] = "";
	if (st->failed)
		snprintf(failed, sizeof(failed), ", %d failed", st->failed);
	if (st->cl)
		cluster_rates(st->cl, ranks, sizeof(ranks));
	fprintf(stderr, "%s[%s] trials %d/%d%s | %.3g FLOPs | %s elapsed | ~%s left%s%s",
		st->tty ? "\r\033[K" : "", st->exp->name, st->finished, st->n_jobs, failed,
		(double)done, el, left, ranks, st->tty ? "" : "\n");
	fflush(stderr);
}

/* The stored result of the planned trial into out, under the name and variant this run
 * planned for it (a strategy's naming may have changed since, e.g. "sosae" becoming one of
 * several variants). 1 when stored, 0 when not, -1 on error. */
static int load_stored(struct store *s, long exp_id, const struct trial_record *planned,
		       struct trial_record *out)
{
	if (!s) /* a plan: nothing is looked up */
		return 0;
	int found = store_trial_get(s, exp_id, planned->key, out);
	if (found == 1) {
		snprintf(out->strategy, sizeof(out->strategy), "%s", planned->strategy);
		out->variant = planned->variant;
	}
	return found;
}

static void note_store_failure(struct run_state *st)
{
	if (!st->store_failed) {
		st->store_failed = 1;
		snprintf(st->store_error, sizeof(st->store_error), "%s", ds_errmsg());
	}
}

struct epoch_ctx {
	struct run_state *st;
	struct job *job;
};

/* A trial's latent units into the store; 0, or -1 when the store failed. */
static int keep_activity(struct run_state *st, long trial_id, int K, const double *max_abs,
			 const double *mean_abs, const double *var_mu, const double *mean_sigma2)
{
	int failed = 0;
#pragma omp critical(store)
	{
		if (store_activity(st->store, trial_id, K, max_abs, mean_abs, var_mu,
				   mean_sigma2)) {
			note_store_failure(st);
			failed = 1;
		}
	}
	return failed ? -1 : 0;
}

/* An epoch of a job into the store, and the progress line; non-zero when the store failed
 * (which stops the trial). */
static int keep_epoch(struct run_state *st, struct job *job, const struct epoch_record *e)
{
	int stop = 0;
#pragma omp critical(store)
	{
		if (store_epoch(st->store, job->t.id, e))
			note_store_failure(st);
		stop = st->store_failed;
	}
#pragma omp critical(progress)
	{
		job->done = e->flops_tuning;
		print_progress(st, 0);
	}
	return stop;
}

/* The trial_ctx callbacks of a trial run in this process. */
static int on_activity(void *ctx, const struct trial_record *t, int K, const double *max_abs,
		       const double *mean_abs, const double *var_mu, const double *mean_sigma2)
{
	struct epoch_ctx *c = ctx;
	return keep_activity(c->st, t->id, K, max_abs, mean_abs, var_mu, mean_sigma2);
}

static int on_epoch(void *ctx, const struct trial_record *t, const struct epoch_record *e)
{
	(void)t;
	struct epoch_ctx *c = ctx;
	return keep_epoch(c->st, c->job, e);
}

/* Data too small for the settings: said before anything trains. */
static int check_data(const struct experiment *e, const struct dataset *d)
{
	if (e->conv && !e->shape[0] && !d->image[0])
		return ds_fail("[%s] arch = conv: dataset %s does not say its examples' image shape; "
			       "set shape = CxHxW (C H W = %d)",
			       e->name, e->dataset, d->dim);
	if (e->conv) {
		struct ae_arch a = experiment_arch(e, d, 1);
		if (ae_dense_input(&a) < 0)
			return ds_fail("[%s] arch = conv%s: %s", e->name,
				       e->shape[0] ? ", shape" : "", ds_errmsg());
	}
	if (d->train.n < (size_t)e->batch)
		return ds_fail("[%s] dataset %s has %zu training examples, fewer than batch = %d: "
			       "lower batch, or raise n_train",
			       e->name, e->dataset, d->train.n, e->batch);
	for (int i = 0; i < e->n_strategies; i++)
		if (e->strategies[i]->check && e->strategies[i]->check(e, d))
			return -1;
	if (d->val.n == 0)
		return ds_fail("[%s] dataset %s leaves no validation examples: set n_val above 0",
			       e->name, e->dataset);
	if (d->test.n == 0)
		return ds_fail("[%s] dataset %s leaves no test examples, on which every delivered "
			       "model is measured: set n_test above 0",
			       e->name, e->dataset);
	return 0;
}

/* ---- plan ---- */

/* Room for one more element in a growing array; -1 when out of memory. */
static int grow(void **items, int n, int *size, size_t item)
{
	if (n < *size)
		return 0;
	int want = *size ? 2 * *size : 256;
	void *p = realloc(*items, item * (size_t)want);
	if (!p)
		return -1;
	*items = p;
	*size = want;
	return 0;
}

/* Every trial a strategy plans for a seed, into trials (grown to fit); the count or -1. The
 * first call of a group is its plan; later ones (strategies with next) see its trials. */
static int plan_seed(const struct strategy *s, const struct experiment *e, long seed,
		     const struct trial_record *done, int n_done, struct trial_record **trials,
		     int *size)
{
	for (;;) {
		int n = done ? s->next(e, seed, done, n_done, *trials, *size)
			     : s->plan(e, seed, *trials, *size);
		if (n <= *size)
			return n;
		struct trial_record *t = realloc(*trials, sizeof(*t) * (size_t)n);
		if (!t)
			return ds_fail("out of memory planning %d trials of %s for [%s]", n,
				       s->name, e->name);
		*trials = t;
		*size = n;
	}
}

/* A planned trial whose text did not fit its record: two such trials could share a key,
 * and one would be taken for the other. */
static int check_planned(const struct experiment *e, const struct trial_record *t)
{
	if (strlen(t->key) + 1 >= sizeof(t->key) || strlen(t->strategy) + 1 >= sizeof(t->strategy) ||
	    strlen(t->params) + 1 >= sizeof(t->params))
		return ds_fail("[%s] a trial of %s has a key, name or settings longer than a trial "
			       "record holds (%zu, %zu and %zu characters): use fewer or shorter "
			       "settings (%.60s...)",
			       e->name, t->strategy, sizeof(t->key) - 2, sizeof(t->strategy) - 2,
			       sizeof(t->params) - 2, t->key);
	return 0;
}

static int find_job(const struct run_state *st, const char *key)
{
	for (int i = 0; i < st->n_jobs; i++)
		if (!strcmp(st->jobs[i].t.key, key))
			return i;
	return -1;
}

/* Planned trial t of group g: a member of the job of its key, which is made (and looked up
 * in the store: complete ones are taken as they are, the others are pending) when no
 * strategy planned that key before. 0, RUN_BAD_INPUT when one key names two different
 * trainings, or -1. */
static int add_planned(struct run_state *st, int g, const struct trial_record *t)
{
	const struct experiment *e = st->exp;
	const struct strategy *strat = st->groups[g].strategy;
	if (check_planned(e, t))
		return RUN_BAD_INPUT;
	int j = find_job(st, t->key);
	if (j >= 0) {
		const struct trial_record *o = &st->jobs[j].t;
		int same = o->latent == t->latent && o->seed == t->seed &&
			   !strcmp(o->params, t->params) && !strcmp(o->role, t->role);
		for (int i = 0; same && i < st->n_members; i++)
			same = !(st->members[i].job == j && st->members[i].group == g);
		if (!same) {
			ds_fail("[%s] two trials have the key %s (strategies %s and %s): a strategy "
				"must name every setting in its keys",
				e->name, t->key, st->jobs[j].strategy->name, strat->name);
			return RUN_BAD_INPUT;
		}
	} else {
		if (grow((void **)&st->jobs, st->n_jobs, &st->jobs_size, sizeof(*st->jobs)))
			return ds_fail("out of memory planning [%s]", e->name);
		j = st->n_jobs++;
		struct job *job = &st->jobs[j];
		memset(job, 0, sizeof(*job));
		job->strategy = strat;
		job->t = *t;
		job->round = st->round;
		struct trial_record stored;
		int found = load_stored(st->store, st->exp_id, t, &stored);
		if (found < 0)
			return -1;
		if (found && stored.state == TRIAL_COMPLETE) {
			job->t = stored;
			st->result->already_complete++;
			st->finished++;
		} else {
			job->pending = 1;
			job->expected = expected_flops(e, st->data, t);
		}
	}
	if (grow((void **)&st->members, st->n_members, &st->members_size, sizeof(*st->members)))
		return ds_fail("out of memory planning [%s]", e->name);
	struct member *m = &st->members[st->n_members++];
	m->group = g;
	m->job = j;
	snprintf(m->strategy, sizeof(m->strategy), "%s", t->strategy);
	m->variant = t->variant;
	return 0;
}

/* The trials of group g into out, under the names the group planned them with (their
 * latest stored state for those run elsewhere); how many, and whether every one has
 * finished. */
static int group_trials(struct run_state *st, int g, struct trial_record *out, int *ready)
{
	int n = 0;
	*ready = 1;
	for (int i = 0; i < st->n_members; i++) {
		const struct member *m = &st->members[i];
		if (m->group != g)
			continue;
		out[n] = st->jobs[m->job].t;
		/* run by another process: its result may be stored by now */
		if (out[n].state != TRIAL_COMPLETE && out[n].state != TRIAL_FAILED) {
			struct trial_record stored;
			if (load_stored(st->store, st->exp_id, &out[n], &stored) == 1)
				out[n] = stored;
		}
		snprintf(out[n].strategy, sizeof(out[n].strategy), "%s", m->strategy);
		out[n].variant = m->variant;
		*ready &= out[n].state == TRIAL_COMPLETE || out[n].state == TRIAL_FAILED;
		n++;
	}
	return n;
}

/* The trials group g plans now (all of them, or its next ones), added; 0, RUN_BAD_INPUT or
 * -1. The group closes when its strategy has no next or next wants no more. */
static int plan_group(struct run_state *st, int g, struct trial_record **plan, int *size,
		      struct trial_record **done, int *done_size, int *added)
{
	struct group *gr = &st->groups[g];
	const struct experiment *e = st->exp;
	int n;
	if (st->round == 0) {
		n = plan_seed(gr->strategy, e, gr->seed, NULL, 0, plan, size);
		gr->closed = !gr->strategy->next;
	} else {
		int have = 0;
		for (int i = 0; i < st->n_members; i++)
			have += st->members[i].group == g;
		if (have > *done_size) {
			struct trial_record *d = realloc(*done, sizeof(*d) * (size_t)have);
			if (!d)
				return ds_fail("out of memory planning [%s]", e->name);
			*done = d;
			*done_size = have;
		}
		int ready;
		have = group_trials(st, g, *done, &ready);
		if (!ready)
			return 0;
		n = plan_seed(gr->strategy, e, gr->seed, *done, have, plan, size);
		gr->closed = n == 0;
	}
	for (int k = 0; k < n; k++) {
		int rc = add_planned(st, g, &(*plan)[k]);
		if (rc)
			return rc;
	}
	*added += n > 0 ? n : 0;
	return n < 0 ? -1 : 0;
}

/* A planning round: the first plans every strategy x seed, later ones ask the open groups
 * whose trials have all finished for their next trials. How many trials were added, or
 * RUN_BAD_INPUT for a plan that cannot be stored as it is, or -1. */
static int plan_round(struct run_state *st)
{
	const struct experiment *e = st->exp;
	if (st->round == 0) {
		st->groups = calloc((size_t)(e->n_strategies * e->n_seeds + 1), sizeof(*st->groups));
		if (!st->groups)
			return ds_fail("out of memory planning [%s]", e->name);
		for (int i = 0; i < e->n_strategies; i++)
			for (int si = 0; si < e->n_seeds; si++)
				st->groups[st->n_groups++] =
					(struct group){ e->strategies[i], e->seeds[si], 0 };
	}
	int size = 64, done_size = 0, added = 0, rc = 0;
	struct trial_record *plan = malloc(sizeof(*plan) * (size_t)size), *done = NULL;
	if (!plan)
		return ds_fail("out of memory planning [%s]", e->name);
	for (int g = 0; g < st->n_groups && !rc; g++)
		if (!st->groups[g].closed)
			rc = plan_group(st, g, &plan, &size, &done, &done_size, &added);
	free(plan);
	free(done);
	st->round++;
	st->result->trials = st->n_jobs;
	return rc ? rc : added;
}

/* ---- run ---- */

/* largest first, so that no long trial is left running alone at the end */
static int larger_first(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	if (x->expected != y->expected)
		return x->expected < y->expected ? 1 : -1;
	return x->job - y->job;
}

/* Claim a pending trial in the store: CLAIM_TAKEN to run it here, CLAIM_DONE when another
 * process finished it (its result taken), CLAIM_BUSY, or -1 when the store failed. */
static int claim(struct run_state *st, struct trial_record *t)
{
	int c = -1;
#pragma omp critical(store)
	{
		if (!st->store_failed) {
			c = store_trial_claim(st->store, st->exp_id, t);
			if (c < 0) {
				note_store_failure(st);
			} else if (c == CLAIM_DONE) {
				struct trial_record stored;
				if (load_stored(st->store, st->exp_id, t, &stored) != 1) {
					note_store_failure(st);
					c = -1;
				} else {
					*t = stored;
				}
			}
		}
	}
	return c;
}

/* ---- across ranks: rank 0's side (see cluster.h) ---- */

/* What rank 0 knows of the other ranks during one experiment. Slot s is one thread of a
 * worker, running one trial at a time; rank r's slots are first[r] .. first[r + 1] - 1. */
struct cluster_run {
	int ranks, n_slots;
	int *first;
	int *job;   /* per slot: the job it runs, or -1 */
	int *asked; /* per slot: it waits for a trial */
	int in_flight;
	int *trials;	  /* per rank, trials ended there */
	double *seconds;  /* per rank, their wall time added up */
	uint64_t *flops;  /* per rank, their FLOPs */
};

/* " | N ranks, L..H GFLOP/s per trial" over the ranks that have ended a trial, for the
 * progress line */
static void cluster_rates(const struct cluster_run *cl, char *buf, size_t size)
{
	double lo = INFINITY, hi = 0;
	for (int r = 0; cl->seconds && cl->flops && r < cl->ranks; r++)
		if (cl->seconds[r] > 0) {
			double rate = 1e-9 * (double)cl->flops[r] / cl->seconds[r];
			lo = rate < lo ? rate : lo;
			hi = rate > hi ? rate : hi;
		}
	if (hi > 0)
		snprintf(buf, size, " | %d ranks, %.3g..%.3g GFLOP/s per trial", cl->ranks, lo, hi);
	else
		snprintf(buf, size, " | %d ranks", cl->ranks);
}

/* The messages (records travel as their bytes: every rank runs the same binary). */
struct cl_begin {
	char name[EXP_NAME_MAX];
	char hash[17];
	unsigned record_bytes; /* sizeof(struct trial_record): the same build everywhere */
	char model_dir[4096];  /* where each rank saves its trials' models; "" for none */
};
struct cl_trial {
	int more;     /* 0: no more trials in this experiment, the slot ends */
	int strategy; /* index in the experiment's strategies */
	struct trial_record t;
};
struct cl_epoch {
	int slot;
	struct epoch_record e;
};
struct cl_end {
	int slot;
	struct trial_record t;
};
/* activity: doubles: slot, K, has VAE arrays, then max_abs, mean_abs[, var_mu, mean_sigma2] */

/* Count a trial that ended on `rank`, and say so when it failed. */
static void count_end(struct run_state *st, struct job *job, int rank)
{
	const struct trial_record *t = &job->t;
	struct run_result *r = st->result;
	if (t->state == TRIAL_COMPLETE || t->state == TRIAL_FAILED)
		st->finished++;
	if (t->state == TRIAL_COMPLETE)
		r->completed++;
	if (t->state == TRIAL_FAILED) {
		st->failed++;
		r->failed++;
		if (!st->opt->quiet)
			fprintf(stderr, "%s[%s] trial %s failed: %s\n", st->tty ? "\r\033[K" : "",
				st->exp->name, t->key, t->error);
	}
	if (st->cl) {
		st->cl->trials[rank]++;
		st->cl->seconds[rank] += t->seconds;
		st->cl->flops[rank] += flops_total(&t->flops);
	}
	job->done = flops_tuning(&t->flops);
	print_progress(st, 1);
}

/* A trial that ended (here or on another rank) into the store, and counted. */
static void keep_end(struct run_state *st, struct job *job, int rank)
{
	struct trial_record *t = &job->t;
	/* a trial cut short because its epochs could not be stored is not finished, whatever
	 * its training returned */
	if (st->store_failed)
		t->state = TRIAL_INTERRUPTED;
#pragma omp critical(store)
	{
		if (store_trial_end(st->store, t))
			note_store_failure(st);
	}
#pragma omp critical(progress)
	count_end(st, job, rank);
}

/* The next trial of this round's queue that this process may run, claimed in the store
 * (CLAIM_TAKEN), or -1 when none is left (or the run is stopping). */
static int take_next(struct run_state *st)
{
	const struct run_options *o = st->opt;
	for (;;) {
		int j = -1;
#pragma omp critical(queue)
		{
			if (st->next < st->n_queue && !(o->stop && *o->stop) && !st->store_failed)
				j = st->queue[st->next++].job;
		}
		if (j < 0)
			return -1;
		struct trial_record *t = &st->jobs[j].t;
		int c = claim(st, t);
		if (c == CLAIM_DONE || c == CLAIM_BUSY) {
#pragma omp critical(progress)
			{
				if (c == CLAIM_DONE)
					st->finished++;
				else
					st->result->elsewhere++;
			}
		}
		if (c == CLAIM_TAKEN)
			return j;
		if (c < 0)
			return -1;
	}
}

/* Run one claimed trial here on `threads` threads, and store it. */
static void run_job(struct run_state *st, struct job *job, int threads)
{
	struct epoch_ctx ec = { st, job };
	struct trial_ctx ctx = { .exp = st->exp,
				 .data = st->data,
				 .threads = threads,
				 .stop = st->opt->stop,
				 .on_epoch = on_epoch,
				 .on_activity = on_activity,
				 .ctx = &ec,
				 .model_dir = st->model_dir[0] ? st->model_dir : NULL };
	job->t.state = job->strategy->run(&ctx, &job->t);
	snprintf(job->t.blas_kernel, sizeof(job->t.blas_kernel), "%s", blas_core_name());
	keep_end(st, job, 0);
}

static int strategy_index(const struct experiment *e, const struct strategy *s)
{
	for (int i = 0; i < e->n_strategies; i++)
		if (e->strategies[i] == s)
			return i;
	return -1;
}

/* Hand the next trial to each slot that waits for one. */
static void hand_out(struct run_state *st)
{
	struct cluster_run *cl = st->cl;
	for (int s = 0; s < cl->n_slots && !st->store_failed; s++) {
		if (!cl->asked[s])
			continue;
		int j = take_next(st);
		if (j < 0)
			return;
		int r = 1;
		while (s >= cl->first[r + 1])
			r++;
		struct cl_trial m = { .more = 1,
				      .strategy = strategy_index(st->exp, st->jobs[j].strategy),
				      .t = st->jobs[j].t };
		if (cluster_send(r, CL_TRIAL + (s - cl->first[r]), &m, sizeof(m))) {
			note_store_failure(st);
			return;
		}
		cl->asked[s] = 0;
		cl->job[s] = j;
		cl->in_flight++;
	}
}

/* One message from a worker during an experiment, acted on. */
static void take_message(struct run_state *st, int from, int tag, const void *buf, size_t len)
{
	struct cluster_run *cl = st->cl;
	int slot = len >= sizeof(int) ? *(const int *)buf : -1;
	if (tag == CL_ACTIVITY)
		slot = len >= sizeof(double) ? (int)((const double *)buf)[0] : -1;
	if (from < 1 || from >= cl->ranks || slot < 0 || slot >= cl->first[from + 1] - cl->first[from]) {
		ds_fail("rank 0: a message (tag %d) from rank %d that names no slot of it", tag, from);
		note_store_failure(st);
		return;
	}
	int s = cl->first[from] + slot;
	struct job *job = cl->job[s] >= 0 ? &st->jobs[cl->job[s]] : NULL;
	if (tag == CL_REQUEST) {
		cl->asked[s] = 1;
	} else if (tag == CL_EPOCH && job && len == sizeof(struct cl_epoch)) {
		keep_epoch(st, job, &((const struct cl_epoch *)buf)->e);
	} else if (tag == CL_ACTIVITY && job) {
		const double *v = buf;
		int K = (int)v[1], vae = v[2] != 0;
		if (len != sizeof(double) * (size_t)(3 + K * (vae ? 4 : 2))) {
			ds_fail("rank 0: a latent activity message of %zu bytes from rank %d", len,
				from);
			note_store_failure(st);
			return;
		}
		keep_activity(st, job->t.id, K, v + 3, v + 3 + K, vae ? v + 3 + 2 * K : NULL,
			      vae ? v + 3 + 3 * K : NULL);
	} else if (tag == CL_END && job && len == sizeof(struct cl_end)) {
		job->t = ((const struct cl_end *)buf)->t;
		keep_end(st, job, from);
		cl->job[s] = -1;
		cl->asked[s] = 1;
		cl->in_flight--;
	} else {
		ds_fail("rank 0: an unexpected message (tag %d, %zu bytes) from rank %d", tag, len,
			from);
		note_store_failure(st);
	}
}

/* One message if one has come (1), none (0), or a transport failure (-1). */
static int serve_one(struct run_state *st)
{
	void *buf;
	size_t len;
	int from, tag;
	int r = cluster_poll(-1, -1, &from, &tag, &buf, &len);
	if (r < 0) {
		note_store_failure(st);
		return -1;
	}
	if (r == 0)
		return 0;
	take_message(st, from, tag, buf, len);
	free(buf);
	return 1;
}

/* Stopped by a signal, the workers (signalled too) end their trials within a batch; rank 0
 * waits for them this long, then gives up on the rest (cluster_end). */
#define CLUSTER_GRACE_S 10.0

/* Whether the run was stopped and its grace has run out. */
static int past_grace(struct run_state *st)
{
	if (!(st->opt->stop && *st->opt->stop))
		return 0;
	double now = now_seconds();
	if (st->stopped_at == 0)
		st->stopped_at = now;
	return now - st->stopped_at > CLUSTER_GRACE_S;
}

/* Rank 0's dispatcher thread during a round: trials to the slots that ask, their epochs and
 * results into the store, until the queue is empty and no trial is out. */
static void dispatch(struct run_state *st)
{
	struct cluster_run *cl = st->cl;
	int idle = 0;
	for (;;) {
		hand_out(st);
		if (cl->in_flight == 0) {
			int left;
#pragma omp critical(queue)
			left = st->next < st->n_queue;
			if (!left || st->store_failed || (st->opt->stop && *st->opt->stop))
				return;
		}
		if (past_grace(st))
			return; /* a worker that does not answer: cluster_end gives it up */
		int r = serve_one(st);
		if (r < 0 && cl->in_flight > 0)
			return; /* cannot reach the workers: MPI will end the job */
		if (r == 0)
			cluster_pause(&idle);
		else
			idle = 0;
	}
}

static void cluster_free(struct cluster_run *cl)
{
	if (!cl)
		return;
	free(cl->first);
	free(cl->job);
	free(cl->asked);
	free(cl->trials);
	free(cl->seconds);
	free(cl->flops);
	free(cl);
}

/* The experiment starts on every worker: each loads the data and answers with its slots.
 * 0, or -1 with ds_errmsg() (out of memory, a worker that cannot run it); st->cl is set
 * either way, so that cluster_end releases the workers that are ready. */
static int cluster_begin(struct run_state *st, const char hash[17])
{
	int ranks = cluster_size();
	struct cluster_run *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return ds_fail("out of memory starting [%s] on %d ranks", st->exp->name, ranks);
	st->cl = cl;
	cl->ranks = ranks;
	cl->first = calloc((size_t)ranks + 1, sizeof(int));
	cl->trials = calloc((size_t)ranks, sizeof(int));
	cl->seconds = calloc((size_t)ranks, sizeof(double));
	cl->flops = calloc((size_t)ranks, sizeof(uint64_t));
	int *slots = calloc((size_t)ranks, sizeof(int));
	if (!cl->first || !cl->trials || !cl->seconds || !cl->flops || !slots) {
		free(slots);
		return ds_fail("out of memory starting [%s] on %d ranks", st->exp->name, ranks);
	}
	struct cl_begin b = { .record_bytes = sizeof(struct trial_record) };
	snprintf(b.name, sizeof(b.name), "%s", st->exp->name);
	memcpy(b.hash, hash, sizeof(b.hash));
	memcpy(b.model_dir, st->model_dir, sizeof(b.model_dir));
	int rc = 0;
	for (int r = 1; r < ranks && !rc; r++)
		rc = cluster_send(r, CL_BEGIN, &b, sizeof(b));
	char why[DS_ERR_MAX] = "";
	int idle = 0;
	for (int answered = 0; answered < ranks - 1 && !rc;) {
		void *buf;
		size_t len;
		int from, got = cluster_poll(-1, CL_READY, &from, NULL, &buf, &len);
		if (got == 0) {
			got = cluster_poll(-1, CL_FAIL, &from, NULL, &buf, &len);
			if (got == 1) {
				if (!why[0])
					snprintf(why, sizeof(why), "%.*s", (int)len, (const char *)buf);
				free(buf);
				answered++;
				continue;
			}
		}
		if (got < 0) {
			rc = -1;
		} else if (got == 0) {
			cluster_pause(&idle);
		} else {
			slots[from] = len == sizeof(int) ? *(int *)buf : 0;
			free(buf);
			answered++;
		}
	}
	for (int r = 1; r < ranks; r++)
		cl->first[r + 1] = cl->first[r] + slots[r];
	free(slots);
	cl->n_slots = cl->first[ranks];
	cl->job = malloc(sizeof(int) * (size_t)(cl->n_slots + 1));
	cl->asked = calloc((size_t)cl->n_slots + 1, sizeof(int));
	if (!cl->job || !cl->asked)
		return ds_fail("out of memory starting [%s] on %d ranks", st->exp->name, ranks);
	for (int s = 0; s < cl->n_slots; s++)
		cl->job[s] = -1;
	if (rc)
		return -1;
	if (why[0])
		return ds_fail("[%s] %s", st->exp->name, why);
	if (!st->opt->quiet) {
		fprintf(stderr, "[%s] %d ranks: rank 0 and %d worker thread%s on %d other rank%s\n",
			st->exp->name, ranks, cl->n_slots, cl->n_slots == 1 ? "" : "s", ranks - 1,
			ranks == 2 ? "" : "s");
	}
	return 0;
}

/* The experiment ends on every worker: the trials still out are waited for and stored, each
 * slot is told there are no more, and each rank's share is printed. */
static void cluster_end(struct run_state *st)
{
	struct cluster_run *cl = st->cl;
	if (!cl)
		return;
	if (cl->job && cl->asked) {
		int idle = 0, quiet = 0;
		for (;;) {
			idle = cl->in_flight == 0;
			for (int s = 0; s < cl->n_slots && idle; s++)
				idle = cl->asked[s];
			if (idle)
				break;
			if (past_grace(st))
				break;
			int r = serve_one(st);
			if (r < 0)
				break;
			if (r == 0)
				cluster_pause(&quiet);
			else
				quiet = 0;
		}
		if (!idle) {
			/* its trials stay interrupted in the store, and MPI ends the job */
			for (int s = 0; s < cl->n_slots; s++)
				if (cl->job[s] >= 0) {
					st->jobs[cl->job[s]].t.state = TRIAL_INTERRUPTED;
					keep_end(st, &st->jobs[cl->job[s]], 0);
				}
			cluster_give_up();
			cluster_free(cl);
			st->cl = NULL;
			return;
		}
		struct cl_trial none = { .more = 0 };
		for (int r = 1; r < cl->ranks; r++)
			for (int s = cl->first[r]; s < cl->first[r + 1]; s++)
				if (cluster_send(r, CL_TRIAL + (s - cl->first[r]), &none,
						 sizeof(none)))
					note_store_failure(st);
	}
	if (!st->opt->quiet && cl->trials) {
		int total = 0;
		for (int r = 0; r < cl->ranks; r++)
			total += cl->trials[r];
		if (total > 0)
			for (int r = 0; r < cl->ranks; r++)
				fprintf(stderr,
					"[%s] rank %d: %d trial%s, %.3g FLOPs in %.1f s of trials "
					"(%.3g FLOP/s)\n",
					st->exp->name, r, cl->trials[r], cl->trials[r] == 1 ? "" : "s",
					(double)cl->flops[r], cl->seconds[r],
					cl->seconds[r] > 0 ? (double)cl->flops[r] / cl->seconds[r] : 0.0);
	}
	cluster_free(cl);
	st->cl = NULL;
}

/* A resumed run under another BLAS kernel than its stored trials: said, since the results of
 * the two differ in their last bits and its table will mix them. 0, or -1 (the store). */
static int warn_kernels(struct run_state *st)
{
	char other[64];
	const char *kernel = blas_core_name();
	int n = store_other_kernel(st->store, st->exp_id, kernel, other, sizeof(other));
	if (n < 0)
		return -1;
	if (n > 0 && !st->opt->quiet)
		fprintf(stderr,
			"[%s] warning: %d trial%s stored complete %s trained under the OpenBLAS "
			"kernel %s, and the trials this run adds use %s: results differ in their last "
			"bits between kernels, so this experiment's table will mix them. To keep one "
			"kernel, run with OPENBLAS_CORETYPE=%s, or into a new --db\n",
			st->exp->name, n, n == 1 ? "" : "s", n == 1 ? "was" : "were", other, kernel,
			other);
	return 0;
}

/* The pending trials of the latest planning round, largest first: one per thread when
 * there are enough of them, otherwise one at a time with the threads sharing its batches.
 * Under MPI one more thread hands trials to the workers, each of whose threads runs one. */
static int run_pending(struct run_state *st)
{
	const struct run_options *o = st->opt;
	int round = st->round - 1, n_new = 0, np = 0;
	struct pending *pending = malloc(sizeof(*pending) * (size_t)(st->n_jobs + 1));
	if (!pending)
		return ds_fail("out of memory scheduling [%s]", st->exp->name);
	uint64_t expected = 0;
	for (int i = 0; i < st->n_jobs; i++)
		if (st->jobs[i].round == round) {
			n_new++;
			if (st->jobs[i].pending) {
				pending[np++] = (struct pending){ st->jobs[i].expected, i };
				expected += st->jobs[i].expected;
			}
		}
	if (np > 0 && !st->kernel_checked) {
		st->kernel_checked = 1;
		if (warn_kernels(st)) {
			free(pending);
			return -1;
		}
	}
	int threads = o->threads > 0 ? o->threads : 1;
	int outer = np >= threads || st->cl ? threads : 1;
	int inner = threads / outer;
	if (!o->quiet && round == 0)
		fprintf(stderr,
			"[%s] %s: %d trials (%d already complete), %d at a time on %d "
			"thread%s each%s; about %.2g training FLOPs to run\n",
			st->exp->name, st->exp->dataset, n_new, n_new - np, outer, inner,
			inner > 1 ? "s" : "", st->cl ? " here, more on the other ranks" : "",
			(double)expected);
	else if (!o->quiet && n_new > 0)
		fprintf(stderr,
			"%s[%s] round %d: %d more trials chosen from the results so far (%d already "
			"complete); about %.2g training FLOPs\n",
			st->tty ? "\r\033[K" : "", st->exp->name, round + 1, n_new, n_new - np,
			(double)expected);
	qsort(pending, (size_t)np, sizeof(*pending), larger_first);
	st->queue = pending;
	st->n_queue = np;
	st->next = 0;
	int dispatcher = st->cl ? 1 : 0;
#pragma omp parallel num_threads(outer + dispatcher)
	{
		if (dispatcher && omp_get_thread_num() == 0) {
			dispatch(st);
		} else {
			for (int j; (j = take_next(st)) >= 0;)
				run_job(st, &st->jobs[j], inner);
		}
	}
	st->queue = NULL;
	st->n_queue = 0;
	free(pending);
	return 0;
}

/* Plan, run, and plan again from the results while a strategy asks for more trials (a
 * bisection, successive halving); 0, RUN_BAD_INPUT (nothing was run) or -1. */
static int run_rounds(struct run_state *st)
{
	const struct run_options *o = st->opt;
	st->t0 = now_seconds();
	for (;;) {
		int added = plan_round(st);
		if (added < 0)
			return added;
		if (added == 0 && st->round > 1)
			break;
		if (run_pending(st))
			return -1;
		if ((o->stop && *o->stop) || st->store_failed)
			break;
	}
	if (!o->quiet && st->tty && st->n_jobs > 0)
		fputc('\n', stderr);
	if (st->result->elsewhere && !o->quiet)
		fprintf(stderr,
			"[%s] %d trial%s being run by another dimsearch process; the "
			"last one to finish records the decisions\n",
			st->exp->name, st->result->elsewhere,
			st->result->elsewhere == 1 ? " was" : "s were");
	return 0;
}

/* ---- identity ---- */

/* The identity of e on the data as read: its settings' hash, mixed with the fingerprint of
 * the files the data came from (so that rewritten data is a new experiment, never the old
 * trials), into hash; and its record with a line naming those files. The record is
 * malloc'd, NULL when out of memory. */
static char *identity(const struct experiment *e, const struct dataset *d, char hash[17])
{
	char files[160] = "";
	if (d->n_files > 0)
		snprintf(files, sizeof(files), "data.files = %d, %llu bytes, fnv1a %016llx\n",
			 d->n_files, (unsigned long long)d->file_bytes,
			 (unsigned long long)d->file_hash);
	snprintf(hash, 17, "%s", e->hash);
	if (d->n_files > 0) {
		uint64_t h = fnv1a(FNV1A_START, e->hash, strlen(e->hash));
		h = fnv1a(h, files, strlen(files));
		snprintf(hash, 17, "%016llx", (unsigned long long)h);
	}
	char *config = malloc(strlen(e->config) + strlen(files) + 1);
	if (config) {
		strcpy(config, e->config);
		strcat(config, files);
	}
	return config;
}

/* ---- decide ---- */

/* One decision per setting a strategy ran for a seed (e.g. SOSAE's variants), from the
 * group's n trials in plan (whose names are consumed); 0, or -1 when the store failed. */
static int decide_group(struct run_state *st, const struct strategy *strat,
			struct trial_record *plan, int n, struct trial_record *same)
{
	struct run_result *r = st->result;
	for (int i = 0; i < n; i++) {
		if (!plan[i].strategy[0])
			continue;
		char name[sizeof(plan[i].strategy)];
		snprintf(name, sizeof(name), "%s", plan[i].strategy);
		int m = 0;
		for (int j = i; j < n; j++)
			if (!strcmp(plan[j].strategy, name)) {
				same[m++] = plan[j];
				plan[j].strategy[0] = '\0';
			}
		struct decision_record dec;
		if (strategy_decide(strat, st->exp, same[0].seed, same, m, &dec)) {
			r->undecided++;
			if (!st->opt->quiet)
				fprintf(stderr, "[%s] no decision: %s\n", st->exp->name,
					ds_errmsg());
		} else if (store_decision(st->store, st->exp_id, &dec)) {
			return -1;
		} else {
			r->decisions++;
			if (st->models_list)
				models_note(st->models_list, &dec, same, m);
		}
	}
	return 0;
}

/* Decisions, made again from the trials every run (a changed choice rule or a strategy
 * dropped from the list shows at once): each strategy x seed whose trials have all
 * finished. */
static int decide_all(struct run_state *st)
{
	if (store_clear_decisions(st->store, st->exp_id))
		return -1;
	size_t room = (size_t)(st->n_members ? st->n_members : 1);
	struct trial_record *plan = malloc(sizeof(*plan) * room);
	struct trial_record *same = malloc(sizeof(*same) * room);
	int rc = plan && same ? 0 : ds_fail("out of memory deciding [%s]", st->exp->name);
	if (!rc && st->model_dir[0] && !(st->models_list = models_begin(st->model_dir)))
		rc = -1;
	for (int g = 0; g < st->n_groups && !rc; g++) {
		int ready, n = group_trials(st, g, plan, &ready);
		if (n == 0 || !ready || !st->groups[g].closed)
			continue;
		rc = decide_group(st, st->groups[g].strategy, plan, n, same);
	}
	if (st->models_list && models_end(st->models_list, st->model_dir, !rc) && !rc)
		rc = -1;
	st->models_list = NULL;
	free(plan);
	free(same);
	return rc;
}

/* e's data, read and scaled (key scale, fitted on the training split) and checked against
 * the settings: RUN_OK, or RUN_BAD_INPUT / RUN_FAILED with ds_errmsg() and nothing held. */
static enum run_status read_data(const struct experiment *e, struct dataset *d)
{
	struct data_opts dopt = { .n_train = e->n_train,
				  .n_val = e->n_val,
				  .n_test = e->n_test,
				  .seed = (uint64_t)e->data_seed };
	if (dataset_load(d, e->dataset, &dopt)) {
		ds_fail("[%s] %s", e->name, ds_errmsg());
		return RUN_BAD_INPUT;
	}
	enum run_status rc = dataset_scale(d, e->scale) ? RUN_FAILED
			     : check_data(e, d)		? RUN_BAD_INPUT
							: RUN_OK;
	if (rc != RUN_OK)
		dataset_free(d);
	return rc;
}

enum run_status run_experiment(struct store *s, const struct experiment *e,
			       const struct run_options *o, struct run_result *r)
{
	memset(r, 0, sizeof(*r));
	struct dataset d;
	enum run_status read = read_data(e, &d);
	if (read != RUN_OK)
		return read;
	struct run_state st = {
		.exp = e, .data = &d, .store = s, .opt = o, .result = r, .tty = isatty(2)
	};
	enum run_status rc = RUN_FAILED;
	char hash[17], *config = identity(e, &d, hash);
	if (!config) {
		ds_fail("out of memory recording [%s]", e->name);
		goto done;
	}
	if (o->model_root && models_dir(st.model_dir, sizeof(st.model_dir), o->model_root, hash))
		goto done;
	if (store_experiment(s, e->name, hash, e->dataset, d.true_dim, config, &st.exp_id) ||
	    store_mark_interrupted(s, st.exp_id) < 0)
		goto done;
	r->experiment_id = st.exp_id;
	if (cluster_size() > 1 && cluster_begin(&st, hash))
		goto done;
	int ran = run_rounds(&st);
	if (ran) {
		/* a plan refused in a later round is the strategy's fault, not the input's */
		rc = ran == RUN_BAD_INPUT && st.round == 1 ? RUN_BAD_INPUT : RUN_FAILED;
		goto done;
	}
	if (st.store_failed) {
		ds_fail("%s", st.store_error);
		goto done;
	}
	if (o->stop && *o->stop) {
		r->interrupted = 1;
		rc = RUN_OK;
		goto done;
	}
	if (decide_all(&st) || store_experiment_ran(s, st.exp_id))
		goto done;
	rc = RUN_OK;
done:
	cluster_end(&st);
	free(config);
	free(st.jobs);
	free(st.groups);
	free(st.members);
	dataset_free(&d);
	return rc;
}

/* ---- across ranks: a worker's side ---- */

struct worker_slot {
	int slot;
};

static void worker_send(int tag, const void *buf, size_t len)
{
	if (cluster_send(0, tag, buf, len))
		cluster_abort(EXIT_FAILURE); /* rank 0 is gone: nothing here can be kept */
}

static int worker_epoch(void *ctx, const struct trial_record *t, const struct epoch_record *e)
{
	(void)t;
	struct cl_epoch m = { .slot = ((struct worker_slot *)ctx)->slot, .e = *e };
	worker_send(CL_EPOCH, &m, sizeof(m));
	return 0;
}

static int worker_activity(void *ctx, const struct trial_record *t, int K, const double *max_abs,
			   const double *mean_abs, const double *var_mu, const double *mean_sigma2)
{
	(void)t;
	int vae = var_mu && mean_sigma2;
	size_t n = 3 + (size_t)K * (vae ? 4 : 2);
	double *v = malloc(sizeof(*v) * n);
	if (!v)
		return ds_fail("out of memory sending latent activity");
	v[0] = ((struct worker_slot *)ctx)->slot;
	v[1] = K;
	v[2] = vae;
	memcpy(v + 3, max_abs, sizeof(*v) * (size_t)K);
	memcpy(v + 3 + K, mean_abs, sizeof(*v) * (size_t)K);
	if (vae) {
		memcpy(v + 3 + 2 * K, var_mu, sizeof(*v) * (size_t)K);
		memcpy(v + 3 + 3 * K, mean_sigma2, sizeof(*v) * (size_t)K);
	}
	worker_send(CL_ACTIVITY, v, sizeof(*v) * n);
	free(v);
	return 0;
}

/* A worker's threads during one experiment: each asks for a trial, runs it, sends its epochs
 * and result, and asks again, until rank 0 says there are no more. */
static void worker_slots(const struct experiment *e, const struct dataset *d, int threads,
			 const char *model_dir, const volatile sig_atomic_t *stop)
{
#pragma omp parallel num_threads(threads)
	{
		struct worker_slot ws = { omp_get_thread_num() };
		worker_send(CL_REQUEST, &ws.slot, sizeof(ws.slot));
		for (;;) {
			void *buf;
			size_t len;
			if (cluster_wait(0, CL_TRIAL + ws.slot, NULL, NULL, &buf, &len) < 0)
				cluster_abort(EXIT_FAILURE);
			struct cl_trial *m = buf;
			if (len != sizeof(*m) || !m->more || m->strategy < 0 ||
			    m->strategy >= e->n_strategies) {
				free(buf);
				break;
			}
			struct trial_ctx ctx = { .exp = e,
						 .data = d,
						 .threads = 1,
						 .stop = stop,
						 .on_epoch = worker_epoch,
						 .on_activity = worker_activity,
						 .ctx = &ws,
						 .model_dir = model_dir[0] ? model_dir : NULL };
			struct cl_end end = { .slot = ws.slot, .t = m->t };
			end.t.state = e->strategies[m->strategy]->run(&ctx, &end.t);
			snprintf(end.t.blas_kernel, sizeof(end.t.blas_kernel), "%s",
				 blas_core_name());
			free(buf);
			worker_send(CL_END, &end, sizeof(end));
		}
	}
}

/* The first experiment's data, read while rank 0 reads its own (a worker knows the list). */
struct preload {
	const struct experiment *e;
	struct dataset d;
	int loaded;
};

/* e's data into d: taken from the preload when it holds e's, else read. 1, or 0 with
 * ds_errmsg(). */
static int load_data(const struct experiment *e, struct dataset *d, struct preload *p)
{
	if (p->loaded && p->e == e) {
		*d = p->d;
		p->loaded = 0;
		return 1;
	}
	return read_data(e, d) == RUN_OK;
}

/* Why this worker cannot run the experiment rank 0 began, or "" when it can; its data into d
 * (loaded when the answer is ""). */
static void worker_prepare(const struct cl_begin *b, size_t len,
			   const struct experiment *const *to_run, int n, struct preload *preloaded,
			   const struct experiment **e, struct dataset *d, char *why, size_t size)
{
	*e = NULL;
	why[0] = '\0';
	if (len != sizeof(*b) || b->record_bytes != sizeof(struct trial_record)) {
		snprintf(why, size, "rank %d runs another build of dimsearch than rank 0: run the "
			 "same binary on every rank", cluster_rank());
		return;
	}
	for (int i = 0; i < n && !*e; i++)
		if (!strcmp(to_run[i]->name, b->name))
			*e = to_run[i];
	if (!*e) {
		snprintf(why, size, "rank %d has no experiment %s: give every rank the same command "
			 "line and experiments file", cluster_rank(), b->name);
		return;
	}
	if (!load_data(*e, d, preloaded)) {
		snprintf(why, size, "rank %d: %s", cluster_rank(), ds_errmsg());
		return;
	}
	char hash[17], *config = identity(*e, d, hash);
	if (!config || strcmp(hash, b->hash)) {
		if (!config)
			snprintf(why, size, "rank %d: out of memory", cluster_rank());
		else
			snprintf(why, size, "rank %d reads other settings or other data files than "
				 "rank 0 (experiment %s against %s): every rank must see the same "
				 "experiments file and data", cluster_rank(), hash, b->hash);
		dataset_free(d);
	}
	free(config);
}

int run_worker(const struct experiment *const *to_run, int n, const struct run_options *o)
{
	int threads = o->threads > 0 ? o->threads : 1;
	struct preload pre = { .e = n > 0 ? to_run[0] : NULL };
	if (pre.e)
		pre.loaded = load_data(pre.e, &pre.d, &pre);
	for (;;) {
		void *buf;
		size_t len;
		int tag;
		if (cluster_wait(0, -1, NULL, &tag, &buf, &len) < 0)
			return EXIT_FAILURE;
		if (tag == CL_FINISH) {
			int status = len == sizeof(int) ? *(int *)buf : EXIT_FAILURE;
			free(buf);
			if (pre.loaded)
				dataset_free(&pre.d);
			return status;
		}
		if (tag != CL_BEGIN) {
			free(buf);
			continue;
		}
		const struct experiment *e;
		struct dataset d;
		char why[DS_ERR_MAX];
		worker_prepare(buf, len, to_run, n, &pre, &e, &d, why, sizeof(why));
		if (why[0]) {
			free(buf);
			worker_send(CL_FAIL, why, strlen(why));
			continue;
		}
		worker_send(CL_READY, &threads, sizeof(threads));
		worker_slots(e, &d, threads, ((const struct cl_begin *)buf)->model_dir, o->stop);
		free(buf);
		dataset_free(&d);
	}
}

void run_release_workers(int status)
{
	if (cluster_given_up())
		return;
	for (int r = 1; r < cluster_size(); r++)
		if (cluster_send(r, CL_FINISH, &status, sizeof(status)))
			cluster_abort(status ? status : EXIT_FAILURE);
}

/* ---- plan: the schedule a run would follow on N ranks, without training ---- */

/* One short training at width K on this machine, one thread: its wall time and FLOPs. */
static int time_training(const struct experiment *e, const struct dataset *d, int K,
			 double *seconds, double *flops)
{
	/* the shared trial's own training, one epoch, none of it kept */
	struct trial_ctx c = { .exp = e, .data = d, .threads = 1 };
	struct trial_hooks h = { .epochs = 1 };
	struct trial_record t = { .latent = K, .seed = 1 };
	struct ae *m;
	if (trial_train(&c, &t, &h, &m) != TRIAL_COMPLETE)
		return ds_fail("[%s] timing a training at K = %d: %s", e->name, K, t.error);
	ae_delete(m);
	*seconds = t.seconds;
	*flops = (double)flops_total(&t.flops);
	return 0;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* seconds = a + b * FLOPs for one epoch (its steps and its validation pass) on one thread of
 * this machine, fitted to one-epoch trainings (on up to 8,192 of the training examples) at
 * the narrowest and widest width planned, in turn, the median of five each (after a
 * second untimed), so that a moment's load elsewhere does not set the rate. */
static int calibrate(const struct experiment *e, const struct dataset *data, int k_lo, int k_hi,
		     double *a, double *b)
{
	struct dataset d = *data; /* the same arrays, fewer rows: never freed */
	size_t rows = 8192;
	if (d.train.n > rows)
		d.train.n = rows;
	if (d.val.n > rows / 4)
		d.val.n = rows / 4;
	double s[2], f[2];
	int widths[2] = { k_lo, k_hi };
	/* the first trainings pay for page faults, BLAS buffers and a core waking up, which
	 * a run's trials meet once: a second of them, not timed */
	for (double warm = 0; warm < 1.0;) {
		if (time_training(e, &d, k_hi, &s[0], &f[0]))
			return -1;
		warm += s[0];
	}
	enum { RUNS = 5 };
	double runs[2][RUNS];
	for (int k = 0; k < RUNS; k++) /* the two widths in turn: a drift moves both */
		for (int i = 0; i < 2; i++)
			if (time_training(e, &d, widths[i], &runs[i][k], &f[i]))
				return -1;
	for (int i = 0; i < 2; i++) {
		qsort(runs[i], RUNS, sizeof(double), compare_double);
		s[i] = runs[i][RUNS / 2];
	}
	*b = f[1] > 1.5 * f[0] ? (s[1] - s[0]) / (f[1] - f[0]) : 0;
	if (!(*b > 0)) { /* widths too alike to part the two terms, or noise: one rate */
		*b = (s[0] + s[1]) / (f[0] + f[1]);
		*a = 0;
	} else {
		*a = s[0] - *b * f[0];
		if (*a < 0)
			*a = 0;
	}
	return 0;
}

/* Largest-first dynamic assignment of n trial times (sorted, longest first) onto `slots`
 * threads: each trial goes to the thread that frees first. The makespan; each thread's busy
 * time and trial count into busy and count when not NULL. */
static double simulate(const double *seconds, int n, int slots, double *busy, int *count)
{
	double *free_at = calloc((size_t)slots, sizeof(double));
	if (!free_at)
		return NAN;
	for (int i = 0; i < n; i++) {
		int s = 0;
		for (int k = 1; k < slots; k++)
			if (free_at[k] < free_at[s])
				s = k;
		free_at[s] += seconds[i];
		if (count)
			count[s]++;
	}
	double end = 0;
	for (int s = 0; s < slots; s++) {
		if (free_at[s] > end)
			end = free_at[s];
		if (busy)
			busy[s] = free_at[s];
	}
	free(free_at);
	return end;
}

/* A projected time: seconds to a tenth below a minute, else as the progress line shows it. */
static void plan_duration(double s, char *buf, size_t size)
{
	if (s < 59.95)
		snprintf(buf, size, "%.1f s", s);
	else
		format_duration(s, buf, size);
}

static int longer_first(const void *a, const void *b)
{
	return compare_double(b, a);
}

enum run_status run_plan(const struct experiment *e, const struct run_options *o,
			 const int *ranks, int n_ranks, double *wall, FILE *out)
{
	struct dataset d;
	double t0 = now_seconds();
	enum run_status read = read_data(e, &d);
	if (read != RUN_OK)
		return read;
	double load = now_seconds() - t0;
	struct run_result r;
	memset(&r, 0, sizeof(r));
	struct run_state st = { .exp = e, .data = &d, .opt = o, .result = &r };
	enum run_status rc = RUN_FAILED;
	double *seconds = NULL, *busy = NULL;
	int *count = NULL;
	int planned = plan_round(&st);
	if (planned < 0) {
		rc = planned == RUN_BAD_INPUT ? RUN_BAD_INPUT : RUN_FAILED;
		goto done;
	}
	int k_lo = 0, k_hi = 0, more = 0;
	uint64_t total = 0, step, eval;
	for (int i = 0; i < st.n_jobs; i++) {
		int K = st.jobs[i].t.latent;
		k_lo = !k_lo || K < k_lo ? K : k_lo;
		k_hi = K > k_hi ? K : k_hi;
	}
	for (int g = 0; g < st.n_groups; g++)
		more += !st.groups[g].closed;
	double a, b;
	if (st.n_jobs == 0 || calibrate(e, &d, k_lo, k_hi, &a, &b)) {
		if (st.n_jobs == 0)
			ds_fail("[%s] plans no trials", e->name);
		goto done;
	}
	int threads = o->threads > 0 ? o->threads : 1, most = 0;
	for (int i = 0; i < n_ranks; i++)
		most = ranks[i] > most ? ranks[i] : most;
	seconds = malloc(sizeof(*seconds) * (size_t)st.n_jobs);
	busy = malloc(sizeof(*busy) * (size_t)most * (size_t)threads);
	count = malloc(sizeof(*count) * (size_t)most * (size_t)threads);
	if (!seconds || !busy || !count) {
		ds_fail("out of memory planning [%s]", e->name);
		goto done;
	}
	for (int i = 0; i < st.n_jobs; i++) {
		/* its training, and the measurement of train, validation and test at the end */
		struct ae_arch arch = experiment_arch(e, &d, st.jobs[i].t.latent);
		ae_flops_per_example(&arch, &step, &eval);
		double f = (double)st.jobs[i].expected +
			   (double)eval * (double)(d.train.n + d.val.n + d.test.n);
		double epochs = details_number(st.jobs[i].t.params, "epochs");
		seconds[i] = (epochs >= 1 ? epochs : e->epochs) * a + b * f;
		total += (uint64_t)f;
	}
	qsort(seconds, (size_t)st.n_jobs, sizeof(*seconds), longer_first);
	fprintf(out,
		"[%s] %d trials in the first round, %.3g FLOPs of training and measurement; one "
		"thread of this machine runs an epoch in %.3g s + %.3g s per GFLOP (%.3g GFLOP/s), "
		"measured now; data loading %.2f s\n",
		e->name, st.n_jobs, (double)total, a, b * 1e9, 1e-9 / b, load);
	if (more)
		fprintf(out,
			"[%s] %d strategy x seed group%s plan%s more trials from the results "
			"(bisect, halving): those later rounds are not in the projection\n",
			e->name, more, more == 1 ? "" : "s", more == 1 ? "s" : "");
	double one = simulate(seconds, st.n_jobs, threads, NULL, NULL);
	fprintf(out, "%8s %8s %14s %9s   %s\n", "ranks", "threads", "projected wall", "speed-up",
		"busy per thread, least..most loaded rank");
	for (int i = 0; i < n_ranks; i++) {
		int slots = ranks[i] * threads;
		for (int s = 0; s < slots; s++) {
			busy[s] = 0;
			count[s] = 0;
		}
		double end = simulate(seconds, st.n_jobs, slots, busy, count);
		double lo = INFINITY, hi = 0;
		for (int rk = 0; rk < ranks[i]; rk++) {
			double sum = 0;
			for (int k = 0; k < threads; k++)
				sum += busy[rk * threads + k];
			lo = sum < lo ? sum : lo;
			hi = sum > hi ? sum : hi;
		}
		char w[32], l[32], h[32];
		plan_duration(load + end, w, sizeof(w));
		plan_duration(lo / threads, l, sizeof(l));
		plan_duration(hi / threads, h, sizeof(h));
		fprintf(out, "%8d %8d %14s %8.2fx   %s..%s\n", ranks[i], threads, w,
			(load + one) / (load + end), l, h);
		if (wall)
			wall[i] = load + end;
		if (ranks[i] <= 4 && n_ranks == 1)
			for (int rk = 0; rk < ranks[i]; rk++) {
				int trials = 0;
				double sum = 0;
				for (int k = 0; k < threads; k++) {
					trials += count[rk * threads + k];
					sum += busy[rk * threads + k];
				}
				fprintf(out, "    rank %d: %d trials, busy %.1f s\n", rk, trials, sum);
			}
	}
	rc = RUN_OK;
done:
	free(seconds);
	free(busy);
	free(count);
	free(st.jobs);
	free(st.groups);
	free(st.members);
	dataset_free(&d);
	return rc;
}
