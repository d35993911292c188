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
#include "strategy.h"

#define MAX_TRIALS 8192

struct job {
	const struct strategy *strategy;
	struct trial_record t;
	int group;               /* strategy x seed */
	int pending;             /* to run in this process */
	uint64_t expected;       /* FLOPs expected, for the time estimate */
	uint64_t done;           /* FLOPs counted so far */
};

struct run_state {
	const struct experiment *exp;
	struct store *store;
	const struct run_options *opt;
	struct job *jobs;
	int n_jobs;
	int finished;            /* trials complete or failed, this run and earlier */
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

/* GEMM FLOPs a plain training run of this width will count, from DESIGN.md's closed form */
static uint64_t expected_flops(const struct experiment *e, const struct dataset *d, int K)
{
	int w[AE_MAX_LAYERS + 1], L = 2 * (e->n_hidden + 1);
	w[0] = w[L] = d->dim;
	for (int i = 0; i < e->n_hidden; i++)
		w[i + 1] = w[L - 1 - i] = e->hidden[i];
	w[e->n_hidden + 1] = K;
	uint64_t step = 0, eval = 0;
	for (int l = 0; l < L; l++) {
		uint64_t io = (uint64_t)w[l] * w[l + 1];
		step += 4 * io + 2 * (uint64_t)w[l + 1] + (l > 0 ? 2 * io : 0);
		eval += 2 * io + (uint64_t)w[l + 1];
	}
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

/* One progress line; called inside the progress critical section. */
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

static const struct job *sort_jobs;

static int larger_first(const void *a, const void *b)
{
	const struct job *x = &sort_jobs[*(const int *)a], *y = &sort_jobs[*(const int *)b];
	if (x->expected != y->expected)
		return x->expected < y->expected ? 1 : -1;
	return *(const int *)a - *(const int *)b;
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
static int check_sizes(const struct experiment *e, const struct dataset *d)
{
	size_t n = d->train.n;
	if (n < (size_t)e->batch)
		return ds_fail("[%s] dataset %s has %zu training examples, fewer than batch = %d: "
			       "lower batch, or raise n_train",
			       e->name, e->dataset, n, e->batch);
	size_t id_points = e->id_n > 0 && (size_t)e->id_n < n ? (size_t)e->id_n : n;
	struct {
		const char *strategy, *key;
		int k;
	} need[] = { { "lpca", "lpca.k", e->lpca_k }, { "mle", "mle.k", e->mle_k },
		     { "twonn", "twonn", 2 } };
	for (int i = 0; i < 3; i++)
		if (experiment_has(e, need[i].strategy) && id_points <= (size_t)need[i].k)
			return ds_fail("[%s] %s = %d neighbours need more than %zu points (the "
				       "estimators use %zu of %s): lower it, or raise id.n or "
				       "n_train",
				       e->name, need[i].key, need[i].k, id_points, id_points,
				       e->dataset);
	if (d->val.n == 0)
		return ds_fail("[%s] dataset %s leaves no validation examples: set n_val above 0",
			       e->name, e->dataset);
	return 0;
}

int run_experiment(struct store *s, const struct experiment *e, const struct run_options *o,
		   struct run_result *r)
{
	memset(r, 0, sizeof(*r));
	struct data_opts dopt = { .n_train = e->n_train, .n_val = e->n_val, .n_test = e->n_test,
				  .seed = (uint64_t)e->data_seed };
	struct dataset d;
	if (dataset_load(&d, e->dataset, &dopt)) {
		ds_fail("[%s] %s", e->name, ds_errmsg());
		return RUN_BAD_INPUT;
	}
	if (check_sizes(e, &d)) {
		dataset_free(&d);
		return RUN_BAD_INPUT;
	}
	long exp_id;
	if (store_experiment(s, e->name, e->hash, e->dataset, d.true_dim, e->config, &exp_id) ||
	    store_mark_interrupted(s, exp_id) < 0) {
		dataset_free(&d);
		return -1;
	}
	struct run_state st = { .exp = e, .store = s, .opt = o, .tty = isatty(2) };
	st.jobs = calloc(MAX_TRIALS, sizeof(struct job));
	struct trial_record *plan = calloc(MAX_TRIALS, sizeof(struct trial_record));
	if (!st.jobs || !plan) {
		free(st.jobs);
		free(plan);
		dataset_free(&d);
		return ds_fail("out of memory planning [%s]", e->name);
	}
	/* plan every strategy x seed; look each trial up in the store */
	int groups = 0, rc = 0;
	for (int i = 0; i < e->n_strategies && !rc; i++) {
		const struct strategy *strat = strategy_find(e->strategies[i]);
		for (int si = 0; si < e->n_seeds && !rc; si++, groups++) {
			int n = strat->plan(e, e->seeds[si], plan, MAX_TRIALS - st.n_jobs);
			for (int k = 0; k < n; k++) {
				struct job *job = &st.jobs[st.n_jobs++];
				job->strategy = strat;
				job->group = groups;
				job->t = plan[k];
				struct trial_record stored;
				int found = load_stored(s, exp_id, &plan[k], &stored);
				if (found < 0) {
					rc = -1;
					break;
				}
				if (found && stored.state == TRIAL_COMPLETE) {
					job->t = stored;
					r->already_complete++;
					st.finished++;
				} else {
					job->pending = 1;
					job->expected = expected_flops(e, &d, plan[k].latent);
					st.expected_total += job->expected;
				}
			}
		}
	}
	r->trials = st.n_jobs;
	int n_pending = st.n_jobs - r->already_complete;
	int threads = o->threads > 0 ? o->threads : 1;
	/* enough trials: one per thread; otherwise the threads share each trial's batches */
	int outer = n_pending >= threads ? threads : 1;
	int inner = threads / outer;
	if (!o->quiet && !rc) {
		fprintf(stderr, "[%s] %s: %d trials (%d already complete), %d at a time on %d "
				"thread%s each\n",
			e->name, e->dataset, st.n_jobs, r->already_complete, outer, inner,
			inner > 1 ? "s" : "");
	}
	st.t0 = now_seconds();
	int *pending = malloc(sizeof(int) * (n_pending > 0 ? n_pending : 1));
	int np = 0;
	for (int i = 0; i < st.n_jobs; i++)
		if (st.jobs[i].pending)
			pending[np++] = i;
	/* largest first, so that no long trial is left running alone at the end */
	sort_jobs = st.jobs;
	qsort(pending, (size_t)np, sizeof(int), larger_first);
#pragma omp parallel for schedule(dynamic, 1) num_threads(outer) if (!rc)
	for (int i = 0; i < np; i++) {
		struct job *job = &st.jobs[pending[i]];
		struct trial_record *t = &job->t;
		if ((o->stop && *o->stop) || st.store_failed || rc)
			continue;
		int claim = -1;
#pragma omp critical(store)
		{
			if (!st.store_failed) {
				claim = store_trial_claim(s, exp_id, t);
				if (claim < 0)
					note_store_failure(&st);
				else if (claim == CLAIM_DONE) {
					/* another process finished it meanwhile: take its result */
					struct trial_record stored;
					if (load_stored(s, exp_id, t, &stored) != 1)
						note_store_failure(&st);
					else
						*t = stored;
				}
			}
		}
		if (claim == CLAIM_DONE) {
#pragma omp critical(progress)
			st.finished++;
			continue;
		}
		if (claim == CLAIM_BUSY) {
#pragma omp critical(progress)
			r->elsewhere++;
			continue;
		}
		if (claim != CLAIM_TAKEN)
			continue;
		struct epoch_ctx ec = { &st, job };
		struct trial_ctx c = { .exp = e, .data = &d, .threads = inner, .stop = o->stop,
				       .on_epoch = on_epoch, .on_activity = on_activity, .ctx = &ec };
		int status = job->strategy->run(&c, t);
		t->state = status == TRIAL_OK	   ? TRIAL_COMPLETE
			   : status == TRIAL_STOPPED ? TRIAL_INTERRUPTED
						     : TRIAL_FAILED;
		/* a trial cut short because its epochs could not be stored is not finished,
		 * whatever its training returned */
		if (st.store_failed)
			t->state = TRIAL_INTERRUPTED;
#pragma omp critical(store)
		{
			if (store_trial_end(s, t))
				note_store_failure(&st);
		}
#pragma omp critical(progress)
		{
			if (t->state == TRIAL_COMPLETE || t->state == TRIAL_FAILED)
				st.finished++;
			if (t->state == TRIAL_COMPLETE)
				r->completed++;
			if (t->state == TRIAL_FAILED) {
				st.failed++;
				r->failed++;
				if (!o->quiet)
					fprintf(stderr, "%s[%s] trial %s failed: %s\n",
						st.tty ? "\r\033[K" : "", e->name, t->key,
						t->error);
			}
			job->done = flops_tuning(&t->flops);
			print_progress(&st, 1);
		}
	}
	if (!o->quiet && st.tty && np > 0)
		fputc('\n', stderr);
	free(pending);
	if (r->elsewhere && !o->quiet)
		fprintf(stderr, "[%s] %d trial%s being run by another dimsearch process; the "
				"last one to finish records the decisions\n",
			e->name, r->elsewhere, r->elsewhere == 1 ? " was" : "s were");
	if (st.store_failed) {
		rc = ds_fail("%s", st.store_error);
	} else if (o->stop && *o->stop) {
		r->interrupted = 1;
	} else if (!rc && store_clear_decisions(s, exp_id)) {
		rc = -1;
	} else if (!rc) {
		/* decisions, made again from the trials every run (a changed choice rule or a
		 * strategy dropped from the list shows at once): a strategy x seed whose trials
		 * have all finished */
		for (int g = 0; g < groups && !rc; g++) {
			int first = -1, n = 0;
			for (int i = 0; i < st.n_jobs; i++)
				if (st.jobs[i].group == g) {
					if (first < 0)
						first = i;
					plan[n] = st.jobs[i].t;
					/* run by another process: its result may be stored by now */
					if (plan[n].state != TRIAL_COMPLETE &&
					    plan[n].state != TRIAL_FAILED) {
						struct trial_record stored;
						if (load_stored(s, exp_id, &plan[n], &stored) == 1)
							plan[n] = stored;
					}
					n++;
				}
			if (first < 0)
				continue;
			int ready = 1;
			for (int i = 0; i < n; i++)
				ready &= plan[i].state == TRIAL_COMPLETE ||
					 plan[i].state == TRIAL_FAILED;
			if (!ready)
				continue;
			/* one decision per setting the strategy ran (e.g. SOSAE's variants) */
			const struct strategy *strat = st.jobs[first].strategy;
			for (int i = 0; i < n && !rc; i++) {
				if (!plan[i].strategy[0])
					continue;
				struct trial_record *same = malloc(sizeof(*same) * n);
				char name[sizeof(plan[i].strategy)];
				snprintf(name, sizeof(name), "%s", plan[i].strategy);
				int m = 0;
				for (int j = i; j < n; j++)
					if (!strcmp(plan[j].strategy, name)) {
						same[m++] = plan[j];
						plan[j].strategy[0] = '\0';
					}
				struct decision_record dec;
				if (strat->decide(e, same[0].seed, same, m, &dec)) {
					r->undecided++;
					if (!o->quiet)
						fprintf(stderr, "[%s] no decision: %s\n", e->name,
							ds_errmsg());
				} else if (store_decision(s, exp_id, &dec)) {
					rc = -1;
				} else {
					r->decisions++;
				}
				free(same);
			}
		}
	}
	free(plan);
	free(st.jobs);
	dataset_free(&d);
	return rc;
}
