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

#include "../core/err.h"
#include "../core/hash.h"
#include "../results/store.h"
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
	char failed[32] = "";
	if (st->failed)
		snprintf(failed, sizeof(failed), ", %d failed", st->failed);
	fprintf(stderr, "%s[%s] trials %d/%d%s | %.3g FLOPs | %s elapsed | ~%s left%s",
		st->tty ? "\r\033[K" : "", st->exp->name, st->finished, st->n_jobs, failed,
		(double)done, el, left, st->tty ? "" : "\n");
	fflush(stderr);
}

/* The stored result of the planned trial into out, under the name and variant this run
 * planned for it (a strategy's naming may have changed since, e.g. "sosae" becoming one of
 * several variants). 1 when stored, 0 when not, -1 on error. */
static int load_stored(struct store *s, long exp_id, const struct trial_record *planned,
		       struct trial_record *out)
{
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

/* A trial's latent units into the store (the trial_ctx callback). */
static int on_activity(void *ctx, const struct trial_record *t, int K, const double *max_abs,
		       const double *mean_abs, const double *var_mu, const double *mean_sigma2)
{
	struct epoch_ctx *c = ctx;
	int failed = 0;
#pragma omp critical(store)
	{
		if (store_activity(c->st->store, t->id, K, max_abs, mean_abs, var_mu,
				   mean_sigma2)) {
			note_store_failure(c->st);
			failed = 1;
		}
	}
	return failed ? -1 : 0;
}

/* An epoch into the store, and the progress line; a store failure stops the trial. */
static int on_epoch(void *ctx, const struct trial_record *t, const struct epoch_record *e)
{
	struct epoch_ctx *c = ctx;
	struct run_state *st = c->st;
	int stop = 0;
#pragma omp critical(store)
	{
		if (store_epoch(st->store, t->id, e)) {
			note_store_failure(st);
		}
		stop = st->store_failed;
	}
#pragma omp critical(progress)
	{
		c->job->done = e->flops_tuning;
		print_progress(st, 0);
	}
	return stop;
}

/* Data too small for the settings: said before anything trains. */
static int check_data(const struct experiment *e, const struct dataset *d)
{
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

struct pending {
	uint64_t expected;
	int job;
};

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

/* Count a trial that ended here, and say so when it failed. */
static void count_end(struct run_state *st, struct job *job)
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
	job->done = flops_tuning(&t->flops);
	print_progress(st, 1);
}

/* Claim, run and store one pending trial on `threads` threads. */
static void run_job(struct run_state *st, struct job *job, int threads)
{
	const struct run_options *o = st->opt;
	struct trial_record *t = &job->t;
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
	if (c != CLAIM_TAKEN)
		return;
	struct epoch_ctx ec = { st, job };
	struct trial_ctx ctx = { .exp = st->exp,
				 .data = st->data,
				 .threads = threads,
				 .stop = o->stop,
				 .on_epoch = on_epoch,
				 .on_activity = on_activity,
				 .ctx = &ec,
				 .model_dir = st->model_dir[0] ? st->model_dir : NULL };
	t->state = job->strategy->run(&ctx, t);
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
	count_end(st, job);
}

/* The pending trials of the latest planning round, largest first: one per thread when
 * there are enough of them, otherwise one at a time with the threads sharing its batches. */
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
	int threads = o->threads > 0 ? o->threads : 1;
	int outer = np >= threads ? threads : 1;
	int inner = threads / outer;
	if (!o->quiet && round == 0)
		fprintf(stderr,
			"[%s] %s: %d trials (%d already complete), %d at a time on %d "
			"thread%s each; about %.2g training FLOPs to run\n",
			st->exp->name, st->exp->dataset, n_new, n_new - np, outer, inner,
			inner > 1 ? "s" : "", (double)expected);
	else if (!o->quiet && n_new > 0)
		fprintf(stderr,
			"%s[%s] round %d: %d more trials chosen from the results so far (%d already "
			"complete); about %.2g training FLOPs\n",
			st->tty ? "\r\033[K" : "", st->exp->name, round + 1, n_new, n_new - np,
			(double)expected);
	qsort(pending, (size_t)np, sizeof(*pending), larger_first);
#pragma omp parallel for schedule(dynamic, 1) num_threads(outer)
	for (int i = 0; i < np; i++)
		if (!(o->stop && *o->stop) && !st->store_failed)
			run_job(st, &st->jobs[pending[i].job], inner);
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

enum run_status run_experiment(struct store *s, const struct experiment *e,
			       const struct run_options *o, struct run_result *r)
{
	memset(r, 0, sizeof(*r));
	struct data_opts dopt = { .n_train = e->n_train,
				  .n_val = e->n_val,
				  .n_test = e->n_test,
				  .seed = (uint64_t)e->data_seed };
	struct dataset d;
	if (dataset_load(&d, e->dataset, &dopt)) {
		ds_fail("[%s] %s", e->name, ds_errmsg());
		return RUN_BAD_INPUT;
	}
	if (dataset_scale(&d, e->scale)) { /* fitted on the training split (key scale) */
		dataset_free(&d);
		return RUN_FAILED;
	}
	if (check_data(e, &d)) {
		dataset_free(&d);
		return RUN_BAD_INPUT;
	}
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
	free(config);
	free(st.jobs);
	free(st.groups);
	free(st.members);
	dataset_free(&d);
	return rc;
}
