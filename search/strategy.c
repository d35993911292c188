/* strategy.c: a program's registry of strategies, and the blocks their settings fill. */
#include "strategy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/err.h"
#include "../core/hash.h"

/* Whether any earlier table in r, or any other key of t, is named name. */
static int key_taken(const struct registry *r, const struct settings *t, int upto, const char *name)
{
	for (int i = 0; i < r->n_tables; i++)
		for (int k = 0; k < r->table[i]->n_keys; k++)
			if (!strcmp(r->table[i]->keys[k].name, name))
				return 1;
	for (int k = 0; k < upto; k++)
		if (!strcmp(t->keys[k].name, name))
			return 1;
	return 0;
}

/* Give table t a block in experiment.settings, after the others: 0, or -1. */
static int add_table(struct registry *r, const struct settings *t, size_t *used)
{
	for (int i = 0; i < r->n_tables; i++)
		if (r->table[i] == t)
			return 0;
	for (int k = 0; k < t->n_keys; k++)
		if (key_taken(r, t, k, t->keys[k].name))
			return ds_fail("the key %s of the %s settings is declared twice",
				       t->keys[k].name, t->title);
	size_t at = (*used + 15) & ~(size_t)15;
	if (at + t->size > EXP_SETTINGS_BYTES)
		return ds_fail("the strategies' settings need more than %d bytes "
			       "(EXP_SETTINGS_BYTES in search/experiment.h)",
			       EXP_SETTINGS_BYTES);
	r->table[r->n_tables] = t;
	r->offset[r->n_tables++] = at;
	*used = at + t->size;
	return 0;
}

int registry_init(struct registry *r, const struct strategy *const *list, int n)
{
	memset(r, 0, sizeof(*r));
	if (n > REGISTRY_MAX)
		return ds_fail("more than %d strategies in a registry", REGISTRY_MAX);
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		if (registry_find(r, list[i]->name))
			return ds_fail("two strategies are named %s", list[i]->name);
		if (list[i]->settings && add_table(r, list[i]->settings, &used))
			return -1;
		r->strategy[r->n++] = list[i];
	}
	return 0;
}

const struct strategy *registry_find(const struct registry *r, const char *name)
{
	for (int i = 0; r && i < r->n; i++)
		if (!strcmp(r->strategy[i]->name, name))
			return r->strategy[i];
	return NULL;
}

void registry_names(const struct registry *r, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; r && i < r->n && used < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
				 r->strategy[i]->name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

int strategy_decide(const struct strategy *s, const struct experiment *e, long seed,
		    const struct trial_record *trials, int n, struct decision_record *d)
{
	int rc = s->decide ? s->decide(e, seed, trials, n, d) : decide_single(seed, trials, n, 0, d);
	/* a strategy that trained at k_max and kept every unit (or an estimate clamped there)
	 * has not found the width: flagged unless it judged its own range, or flagged itself
	 * saturated (no width at all, which says more than an edge) */
	if (!rc && !strstr(d->details, "\"edge\":") &&
	    !strstr(d->details, "\"flag\":\"saturated\""))
		decision_edge(d, 1, e->k_max);
	return rc;
}

int count_stable_run(const int *history, int n)
{
	int run = 0;
	while (run < n && history[n - 1 - run] == history[n - 1])
		run++;
	return run;
}

const char *count_flag(int count, int k_max, int stable_run, int stable)
{
	if (k_max > 0 && count >= k_max)
		return "saturated";
	if (count <= 0)
		return "collapsed";
	if (stable_run < stable)
		return "not_converged";
	return NULL;
}

void count_decision_flag(struct decision_record *d, const char *flag, int stable)
{
	char fields[96];
	snprintf(fields, sizeof(fields), "\"stable\":%d", stable);
	details_append(d->details, sizeof(d->details), fields);
	if (flag) {
		snprintf(fields, sizeof(fields), "\"flag\":\"%s\"", flag);
		details_append(d->details, sizeof(d->details), fields);
	}
}

int decide_k_chosen(const struct experiment *e, long seed, const struct trial_record *trials,
		    int n, struct decision_record *d)
{
	(void)e;
	if (decide_single(seed, trials, n, 0, d))
		return -1;
	double k = details_number(trials[0].details, "k_chosen");
	d->chosen_latent = isfinite(k) ? (int)k : trials[0].latent;
	return 0;
}

void details_append_array(char *json, size_t size, const char *key, const double *v, int n,
			  int is_int)
{
	char buf[2048];
	size_t len = (size_t)snprintf(buf, sizeof(buf), "\"%s\":[", key);
	for (int i = 0; i < n && len < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, is_int ? "%s%.0f" : "%s%.3g",
					i ? "," : "", v[i]);
	if (len + 2 >= sizeof(buf))
		return;
	snprintf(buf + len, sizeof(buf) - len, "]");
	details_append(json, size, buf);
}

void run_budget_apply(const struct run_budget *b, const struct experiment *e, char *knobs,
		      size_t size, double *lr, int *batch, int *epochs)
{
	size_t used = knobs ? strlen(knobs) : 0;
	if (knobs && (b->lr > 0 || b->batch > 0 || b->epochs > 0) && used < size)
		snprintf(knobs + used, size - used, "/lr=%g/b=%d/e=%d", b->lr, b->batch, b->epochs);
	*lr = b->lr > 0 ? b->lr : e->lr;
	*batch = b->batch > 0 ? b->batch : e->batch;
	*epochs = b->epochs > 0 ? b->epochs : e->epochs;
}

void run_budget_hooks(const struct run_budget *b, struct trial_hooks *h)
{
	h->lr = b->lr;
	h->batch = b->batch;
	h->epochs = b->epochs;
}

void trial_key(char *key, size_t size, const char *prefix, const char *knobs, const char *tail)
{
	char hashed[24];
	if (strlen(prefix) + 1 + strlen(knobs) + strlen(tail) >= size) {
		snprintf(hashed, sizeof(hashed), "h=%016llx",
			 (unsigned long long)fnv1a(FNV1A_START, knobs, strlen(knobs)));
		knobs = hashed;
	}
	snprintf(key, size, "%s/%s%s", prefix, knobs, tail);
}

int strategy_dense_only(const struct experiment *e, const char *strategy, const char *why)
{
	if (!e->conv)
		return 0;
	return ds_fail("[%s] %s does not run on arch = conv (%s): remove it from strategies, or "
		       "set arch = dense",
		       e->name, strategy, why);
}
