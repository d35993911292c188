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
#include "strategy.h"

struct job {
	const struct strategy *strategy;
	struct trial_record t;
	int group;	   /* strategy x seed */
	int pending;	   /* to run in this process */
	uint64_t expected; /* FLOPs expected, for the time estimate */
	uint64_t done;	   /* FLOPs counted so far */
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
	int groups;   /* strategy x seed */
	int finished; /* trials complete or failed, this run and earlier */
	int failed;
	double t0, last_print;
	uint64_t expected_total;
	int store_failed;
	char store_error[DS_ERR_MAX];
	int tty;
};

static double now_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* GEMM FLOPs a plain training run of this width will count (core's closed form): the
 * time estimate's unit */
static uint64_t expected_flops(const struct experiment *e, const struct dataset *d, int K)
{
	struct ae_arch a = experiment_arch(e, d, K);
	uint64_t step, eval;
	ae_flops_per_example(&a, &step, &eval);
	return (uint64_t)e->epochs * (step * d->train.n + eval * d->val.n);
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

/* A new job at the end of the list, which grows as needed; NULL when out of memory. */
static struct job *add_job(struct run_state *st)
{
	if (st->n_jobs == st->jobs_size) {
		int size = st->jobs_size ? 2 * st->jobs_size : 256;
		struct job *j = realloc(st->jobs, sizeof(*j) * (size_t)size);
		if (!j)
			return NULL;
		st->jobs = j;
		st->jobs_size = size;
	}
	struct job *job = &st->jobs[st->n_jobs++];
	memset(job, 0, sizeof(*job));
	return job;
}

/* Every trial a strategy plans for a seed, into trials (grown to fit); the count or -1. */
static int plan_seed(const struct strategy *s, const struct experiment *e, long seed,
		     struct trial_record **trials, int *size)
{
	for (;;) {
		int n = s->plan(e, seed, *trials, *size);
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

static int by_key(const void *a, const void *b)
{
	return strcmp((*(const struct job *const *)a)->t.key, (*(const struct job *const *)b)->t.key);
}

/* Every planned key once: two trials of one key would share one stored result. */
static int check_unique(const struct run_state *st)
{
	const struct job **order = malloc(sizeof(*order) * (size_t)(st->n_jobs ? st->n_jobs : 1));
	if (!order)
		return ds_fail("out of memory planning [%s]", st->exp->name);
	for (int i = 0; i < st->n_jobs; i++)
		order[i] = &st->jobs[i];
	qsort(order, (size_t)st->n_jobs, sizeof(*order), by_key);
	int rc = 0;
	for (int i = 1; i < st->n_jobs && !rc; i++)
		if (!strcmp(order[i]->t.key, order[i - 1]->t.key))
			rc = ds_fail("[%s] two trials have the key %s (strategies %s and %s): a "
				     "strategy must name every setting in its keys",
				     st->exp->name, order[i]->t.key, order[i - 1]->strategy->name,
				     order[i]->strategy->name);
	free(order);
	return rc;
}

/* Plan every strategy x seed, and look each trial up in the store: complete ones are
 * taken as they are, the others are pending. 0, RUN_BAD_INPUT for a plan that cannot be
 * stored as it is, or -1. */
static int plan_trials(struct run_state *st)
{
	const struct experiment *e = st->exp;
	int size = 64;
	struct trial_record *plan = malloc(sizeof(*plan) * (size_t)size);
	if (!plan)
		return ds_fail("out of memory planning [%s]", e->name);
	int rc = 0;
	for (int i = 0; i < e->n_strategies && !rc; i++) {
		const struct strategy *strat = e->strategies[i];
		for (int si = 0; si < e->n_seeds && !rc; si++, st->groups++) {
			int n = plan_seed(strat, e, e->seeds[si], &plan, &size);
			if (n < 0)
				rc = -1;
			for (int k = 0; k < n && !rc; k++) {
				if (check_planned(e, &plan[k])) {
					rc = RUN_BAD_INPUT;
					break;
				}
				struct job *job = add_job(st);
				if (!job) {
					rc = ds_fail("out of memory planning [%s]", e->name);
					break;
				}
				job->strategy = strat;
				job->group = st->groups;
				job->t = plan[k];
				struct trial_record stored;
				int found = load_stored(st->store, st->exp_id, &plan[k], &stored);
				if (found < 0) {
					rc = -1;
				} else if (found && stored.state == TRIAL_COMPLETE) {
					job->t = stored;
					st->result->already_complete++;
					st->finished++;
				} else {
					job->pending = 1;
					job->expected = expected_flops(e, st->data, plan[k].latent);
					st->expected_total += job->expected;
				}
			}
		}
	}
	free(plan);
	st->result->trials = st->n_jobs;
	return rc ? rc : check_unique(st) ? RUN_BAD_INPUT : 0;
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
				 .ctx = &ec };
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

/* Every pending trial, largest first: one per thread when there are enough of them,
 * otherwise one at a time with the threads sharing its batches. */
static int run_pending(struct run_state *st)
{
	const struct run_options *o = st->opt;
	int n_pending = st->n_jobs - st->result->already_complete;
	int threads = o->threads > 0 ? o->threads : 1;
	int outer = n_pending >= threads ? threads : 1;
	int inner = threads / outer;
	if (!o->quiet)
		fprintf(stderr,
			"[%s] %s: %d trials (%d already complete), %d at a time on %d "
			"thread%s each; about %.2g training FLOPs to run\n",
			st->exp->name, st->exp->dataset, st->n_jobs, st->result->already_complete,
			outer, inner, inner > 1 ? "s" : "", (double)st->expected_total);
	struct pending *pending =
		malloc(sizeof(*pending) * (size_t)(n_pending > 0 ? n_pending : 1));
	if (!pending)
		return ds_fail("out of memory scheduling [%s]", st->exp->name);
	int np = 0;
	for (int i = 0; i < st->n_jobs; i++)
		if (st->jobs[i].pending)
			pending[np++] = (struct pending){ st->jobs[i].expected, i };
	qsort(pending, (size_t)np, sizeof(*pending), larger_first);
	st->t0 = now_seconds();
#pragma omp parallel for schedule(dynamic, 1) num_threads(outer)
	for (int i = 0; i < np; i++)
		if (!(o->stop && *o->stop) && !st->store_failed)
			run_job(st, &st->jobs[pending[i].job], inner);
	if (!o->quiet && st->tty && np > 0)
		fputc('\n', stderr);
	free(pending);
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

/* The trials of group g into out (their latest stored state for those run elsewhere); how
 * many, and whether every one has finished. */
static int group_trials(struct run_state *st, int g, struct trial_record *out, int *ready)
{
	int n = 0;
	*ready = 1;
	for (int i = 0; i < st->n_jobs; i++) {
		if (st->jobs[i].group != g)
			continue;
		out[n] = st->jobs[i].t;
		/* run by another process: its result may be stored by now */
		if (out[n].state != TRIAL_COMPLETE && out[n].state != TRIAL_FAILED) {
			struct trial_record stored;
			if (load_stored(st->store, st->exp_id, &out[n], &stored) == 1)
				out[n] = stored;
		}
		*ready &= out[n].state == TRIAL_COMPLETE || out[n].state == TRIAL_FAILED;
		n++;
	}
	return n;
}

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
	struct trial_record *plan = malloc(sizeof(*plan) * (size_t)(st->n_jobs ? st->n_jobs : 1));
	struct trial_record *same = malloc(sizeof(*same) * (size_t)(st->n_jobs ? st->n_jobs : 1));
	int rc = plan && same ? 0 : ds_fail("out of memory deciding [%s]", st->exp->name);
	for (int g = 0; g < st->groups && !rc; g++) {
		int ready, n = group_trials(st, g, plan, &ready);
		if (n == 0 || !ready)
			continue;
		const struct strategy *strat = NULL;
		for (int i = 0; i < st->n_jobs && !strat; i++)
			if (st->jobs[i].group == g)
				strat = st->jobs[i].strategy;
		rc = decide_group(st, strat, plan, n, same);
	}
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
	if (store_experiment(s, e->name, hash, e->dataset, d.true_dim, config, &st.exp_id) ||
	    store_mark_interrupted(s, st.exp_id) < 0)
		goto done;
	r->experiment_id = st.exp_id;
	int planned = plan_trials(&st);
	if (planned) {
		rc = planned == RUN_BAD_INPUT ? RUN_BAD_INPUT : RUN_FAILED;
		goto done;
	}
	if (run_pending(&st))
		goto done;
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
	dataset_free(&d);
	return rc;
}
