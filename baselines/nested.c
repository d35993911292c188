/* nested.c: two single-run peers of SOSAE that order the code instead of sparsifying it.
 *
 * Nested dropout (Rippel, Gelbart and Adams 2014, "Learning ordered representations with
 * nested dropout"): one training at k_max in which every example of a step keeps only its
 * first b code units, b drawn from a geometric distribution (truncated at k_max), so that the
 * first units must carry the most.
 *
 * Matryoshka representation learning (Kusupati et al. 2022): one training at k_max whose
 * loss is the sum of the reconstruction losses of nested prefixes m of the code (by default
 * the powers of two below k_max, and k_max), each decoded with the units past m zeroed.
 *
 * Both then measure the validation MSE of prefixes of the trained code (charged: it is how
 * they choose), choose K by the grid's rule (grid.select) among them, and hand over the
 * model cut to its first K units, fine-tuned for delivery.epochs like SOSAE's. Matryoshka
 * measures its trained prefixes first, then every width between the chosen one and the next
 * smaller, and chooses again among all it measured. */
#include "nested.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../search/grid.h"

#define N(field) offsetof(struct nested_settings, field)

static const struct setting nested_keys[] = {
	{ .name = "nested.p",
	  .type = SETTING_DOUBLE,
	  .offset = N(p),
	  .lo = 0,
	  .hi = 0.999,
	  .def = "0",
	  .help = "nested dropout's geometric p (the mean prefix kept is 1/p), 0 for 2 / k_max" },
	{ .name = "matryoshka.prefixes",
	  .type = SETTING_INT_LIST,
	  .offset = N(prefix),
	  .lo = 1,
	  .hi = 1 << 16,
	  .def = "",
	  .help = "the prefixes whose losses are summed, ascending (default: 1, 2, 4, ... below "
		  "k_max, and k_max)",
	  .capacity = NESTED_MAX_PREFIXES,
	  .count_offset = N(n_prefix) },
};

const struct settings nested_settings = { "nested codes", nested_keys,
					  SETTINGS_COUNT(nested_keys),
					  sizeof(struct nested_settings), NULL };

static const struct nested_settings *settings_of(const struct experiment *e)
{
	return experiment_settings(e, &nested_settings);
}

double nested_p(const struct experiment *e)
{
	const struct nested_settings *o = settings_of(e);
	return o->p > 0 ? o->p : fmin(0.5, 2.0 / e->k_max);
}

int matryoshka_prefixes(const struct experiment *e, int *prefix)
{
	const struct nested_settings *o = settings_of(e);
	int n = 0;
	if (o->n_prefix > 0) {
		for (int i = 0; i < o->n_prefix && o->prefix[i] <= e->k_max; i++)
			prefix[n++] = o->prefix[i];
	} else {
		for (long m = 1; m < e->k_max && n < NESTED_MAX_PREFIXES - 1; m *= 2)
			prefix[n++] = (int)m;
	}
	if (n == 0 || prefix[n - 1] != e->k_max)
		prefix[n++] = e->k_max;
	return n;
}

static int plan(const struct experiment *e, long seed, struct trial_record *trials, int max,
		const char *name)
{
	if (max < 1)
		return 1;
	struct trial_record *t = &trials[0];
	memset(t, 0, sizeof(*t));
	char de[24], setting[512];
	if (!strcmp(name, "nested")) {
		snprintf(setting, sizeof(setting), "p=%g", nested_p(e));
	} else {
		int prefix[NESTED_MAX_PREFIXES], n = matryoshka_prefixes(e, prefix);
		size_t len = (size_t)snprintf(setting, sizeof(setting), "m=");
		for (int i = 0; i < n && len < sizeof(setting); i++)
			len += (size_t)snprintf(setting + len, sizeof(setting) - len, "%s%d",
						i ? "," : "", prefix[i]);
	}
	snprintf(t->strategy, sizeof(t->strategy), "%s", name);
	/* a long prefix list fills the key, and the scheduler refuses a key that does */
	char text[1024];
	snprintf(text, sizeof(text), "%s/%s/K=%d/seed=%ld%s", name, setting, e->k_max, seed,
		 delivery_key(e, de));
	snprintf(t->key, sizeof(t->key), "%.*s", (int)sizeof(t->key) - 1, text);
	snprintf(t->role, sizeof(t->role), "search");
	t->latent = e->k_max;
	t->seed = seed;
	snprintf(text, sizeof(text), "{\"%s\":\"%s\",\"epochs\":%d,\"finetune\":%d}", name, setting,
		 e->epochs, e->delivery_epochs);
	snprintf(t->params, sizeof(t->params), "%.*s", (int)sizeof(t->params) - 1, text);
	return 1;
}

static int plan_nested(const struct experiment *e, long s, struct trial_record *t, int max)
{
	return plan(e, s, t, max, "nested");
}

static int plan_matryoshka(const struct experiment *e, long s, struct trial_record *t, int max)
{
	return plan(e, s, t, max, "matryoshka");
}

static int by_width(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The measured prefixes (K[0..n-1], val) into the details' curve, compactly. */
static void curve_json(const int *K, const double *val, int n, char *out, size_t size)
{
	size_t len = (size_t)snprintf(out, size, "\"prefix_k\":[");
	for (int i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%d", i ? "," : "", K[i]);
	if (len < size)
		len += (size_t)snprintf(out + len, size - len, "],\"prefix_val_mse\":[");
	for (int i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%.5g", i ? "," : "", val[i]);
	if (len + 2 < size)
		snprintf(out + len, size - len, "]");
	else
		snprintf(out, size, "\"prefix_curve_omitted\":true");
}

/* One training with ordered codes, its prefixes measured, cut, fine-tuned, measured. */
static enum trial_state run(const struct trial_ctx *c, struct trial_record *t)
{
	const struct experiment *e = c->exp;
	const struct grid_settings *g = experiment_settings(e, &grid_settings);
	int matryoshka = !strcmp(t->strategy, "matryoshka");
	int K = t->latent, prefix[NESTED_MAX_PREFIXES], n_prefix = 0;
	struct trial_hooks h = { 0 };
	if (matryoshka) {
		n_prefix = matryoshka_prefixes(e, prefix);
		h.prefixes = prefix;
		h.n_prefixes = n_prefix;
	} else {
		h.nested_p = nested_p(e);
	}
	struct ae *m = NULL, *cut = NULL;
	enum trial_state status = trial_train(c, t, &h, &m);
	if (status != TRIAL_COMPLETE)
		return status;
	/* the prefixes measured on validation: every width for nested dropout; Matryoshka's
	 * own, then the widths between its choice and the next smaller */
	int *Ks = malloc(sizeof(int) * (size_t)K);
	double *val = malloc(sizeof(double) * (size_t)K);
	int n = 0, chosen = -1;
	status = TRIAL_FAILED;
	if (!Ks || !val) {
		snprintf(t->error, sizeof(t->error), "out of memory");
		goto done;
	}
	if (matryoshka) {
		memcpy(Ks, prefix, sizeof(int) * (size_t)n_prefix);
		n = n_prefix;
	} else {
		for (int k = 1; k <= K; k++)
			Ks[n++] = k;
	}
	if (ae_prefix_mse(m, &c->data->val, c->threads, Ks, n, NULL, val, &t->flops))
		goto failed;
	chosen = grid_choose(Ks, val, n, g->select, g->tolerance);
	if (matryoshka && chosen > 0 && Ks[chosen] - Ks[chosen - 1] > 1) {
		int lo = Ks[chosen - 1], more = Ks[chosen] - lo - 1;
		for (int i = 0; i < more; i++)
			Ks[n + i] = lo + 1 + i;
		if (ae_prefix_mse(m, &c->data->val, c->threads, Ks + n, more, NULL, val + n,
				  &t->flops))
			goto failed;
		n += more;
		chosen = grid_choose(Ks, val, n, g->select, g->tolerance);
	}
	if (chosen < 0) {
		snprintf(t->error, sizeof(t->error), "no prefix of the code has a finite error");
		goto done;
	}
	int k_chosen = Ks[chosen];
	/* the curve in width order, for the details */
	int *order = malloc(sizeof(int) * (size_t)n * 2);
	if (!order) {
		snprintf(t->error, sizeof(t->error), "out of memory");
		goto done;
	}
	for (int i = 0; i < n; i++) {
		order[2 * i] = Ks[i];
		order[2 * i + 1] = i;
	}
	qsort(order, (size_t)n, sizeof(int) * 2, by_width);
	int *sorted_k = malloc(sizeof(int) * (size_t)n);
	double *sorted_v = malloc(sizeof(double) * (size_t)n);
	char curve[1400] = "";
	if (sorted_k && sorted_v) {
		for (int i = 0; i < n; i++) {
			sorted_k[i] = order[2 * i];
			sorted_v[i] = val[order[2 * i + 1]];
		}
		curve_json(sorted_k, sorted_v, n, curve, sizeof(curve));
	}
	free(order);
	free(sorted_k);
	free(sorted_v);
	cut = ae_truncate(m, k_chosen);
	if (!cut)
		goto failed;
	struct flops report = { 0 };
	double prefix_test = ae_eval_mse(cut, &c->data->test, c->threads, &report);
	t->flops.report += flops_total(&report);
	char what[32], b1[32];
	snprintf(what, sizeof(what), "at K = %d", k_chosen);
	status = trial_finetune(c, t, cut, e->delivery_epochs, what);
	snprintf(t->details, sizeof(t->details),
		 "{\"k_chosen\":%d,\"k_max\":%d,\"%s\":%g,\"prefixes_measured\":%d,"
		 "\"test_mse_prefix\":%s,\"finetune_epochs\":%d,\"delivered_epochs\":%d%s%s}",
		 k_chosen, K, matryoshka ? "prefixes_trained" : "p",
		 matryoshka ? (double)n_prefix : h.nested_p, n, json_number(b1, prefix_test),
		 e->delivery_epochs, t->epochs_run + e->delivery_epochs, curve[0] ? "," : "",
		 curve);
	goto done;
failed:
	snprintf(t->error, sizeof(t->error), "%s", ds_errmsg());
	status = TRIAL_FAILED;
done:
	free(Ks);
	free(val);
	ae_delete(m);
	ae_delete(cut);
	return status;
}

const struct strategy nested_strategy = {
	.name = "nested",
	.settings = &nested_settings,
	.plan = plan_nested,
	.run = run,
	.decide = decide_k_chosen,
};

static int check_matryoshka(const struct experiment *e, const struct dataset *d)
{
	(void)d;
	return strategy_dense_only(e, "matryoshka",
				   "each prefix decodes the batch again, through the decoder's "
				   "batch norm");
}

const struct strategy matryoshka_strategy = {
	.name = "matryoshka",
	.settings = &nested_settings,
	.plan = plan_matryoshka,
	.run = run,
	.decide = decide_k_chosen,
	.check = check_matryoshka,
};
