/* models.c: which trial's model each decision delivered, and the files of the others. */
#include "models.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/err.h"

#define LIST "delivered.tsv"

static int make_dir(const char *path)
{
	if (mkdir(path, 0777) == 0 || errno == EEXIST)
		return 0;
	return ds_fail("cannot create the folder of delivered models %s: %s", path,
		       strerror(errno));
}

int models_dir(char *dir, size_t size, const char *root, const char *hash)
{
	if (make_dir(root))
		return -1;
	snprintf(dir, size, "%s/%s", root, hash);
	return make_dir(dir);
}

void models_file(char *path, size_t size, const char *dir, const char *trial_key)
{
	char name[256];
	size_t n = 0;
	for (const char *c = trial_key; *c && n + 1 < sizeof(name); c++)
		name[n++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
					    (*c >= '0' && *c <= '9') || strchr("=.,-+()", *c)
				    ? *c
				    : '_';
	name[n] = '\0';
	snprintf(path, size, "%s/%s.npz", dir, name);
}

/* The list as this process writes it, renamed into place whole by models_end, so that two
 * processes deciding the same experiment never read each other's half-written list. */
static void own_list(char *path, size_t size, const char *dir)
{
	snprintf(path, size, "%s/" LIST ".%ld", dir, (long)getpid());
}

FILE *models_begin(const char *dir)
{
	char path[4096];
	own_list(path, sizeof(path), dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		ds_fail("cannot write %s: %s", path, strerror(errno));
		return NULL;
	}
	fprintf(f, "strategy\tseed\tfile\n");
	return f;
}

void models_note(FILE *list, const struct decision_record *d, const struct trial_record *trials,
		 int n)
{
	/* at its width first; a strategy that trained at k_max and cut the model to its choice
	 * (nested dropout, Least Volume, IRMAE) keeps the trained width in its trial */
	int found = -1;
	for (int pass = 0; pass < 2 && found < 0; pass++)
		for (int i = 0; i < n && found < 0; i++)
			if (trials[i].state == TRIAL_COMPLETE && trials[i].test_mse == d->test_mse &&
			    !isnan(d->test_mse) && (pass || trials[i].latent == d->chosen_latent))
				found = i;
	if (found < 0)
		return;
	char path[4096];
	models_file(path, sizeof(path), ".", trials[found].key);
	fprintf(list, "%s\t%ld\t%s\n", d->strategy, d->seed, path + 2);
}

/* Whether name is listed in the list file at path (a line ending in "\tname"). */
static int listed(const char *list, const char *name)
{
	const char *at = list;
	size_t len = strlen(name);
	while ((at = strstr(at, name))) {
		if (at > list && at[-1] == '\t' && (at[len] == '\n' || at[len] == '\0'))
			return 1;
		at += len;
	}
	return 0;
}

static char *read_list(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/" LIST, dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *text = malloc(cap);
	for (size_t got; text && (got = fread(text + n, 1, cap - n - 1, f)) > 0;) {
		n += got;
		if (n + 1 == cap) {
			char *more = realloc(text, cap *= 2);
			if (!more) {
				free(text);
				text = NULL;
			}
			text = more;
		}
	}
	fclose(f);
	if (text)
		text[n] = '\0';
	return text;
}

int models_end(FILE *list, const char *dir, int prune)
{
	char own[4096], path[4096];
	own_list(own, sizeof(own), dir);
	snprintf(path, sizeof(path), "%s/" LIST, dir);
	if (fclose(list) || !prune) {
		int failed = errno;
		remove(own);
		return prune ? ds_fail("cannot write %s: %s", own, strerror(failed)) : 0;
	}
	if (rename(own, path))
		return ds_fail("cannot rename %s to %s: %s", own, path, strerror(errno));
	char *text = read_list(dir);
	DIR *d = opendir(dir);
	if (!text || !d) {
		free(text);
		if (d)
			closedir(d);
		return ds_fail("cannot read the delivered models in %s: %s", dir, strerror(errno));
	}
	for (struct dirent *e; (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (len > 4 && !strcmp(e->d_name + len - 4, ".npz") && !listed(text, e->d_name)) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			remove(path);
		}
	}
	closedir(d);
	free(text);
	return 0;
}

int models_find(const char *dir, const char *strategy, long seed, char *path, size_t size,
		long *seed_out)
{
	char *text = read_list(dir);
	if (!text)
		return ds_fail("no delivered models in %s: the experiment has not finished a run "
			       "since dimsearch began keeping them; run it again",
			       dir);
	char names[1024] = "";
	size_t used = 0;
	int rc = -1;
	char *save = NULL;
	strtok_r(text, "\n", &save); /* the header */
	for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
		if (!tab2)
			continue;
		*tab1 = *tab2 = '\0';
		long s = atol(tab1 + 1);
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s seed %ld",
						 used ? ", " : "", line, s);
		if (rc == 0 || strcmp(line, strategy) || (seed >= 0 && s != seed))
			continue;
		snprintf(path, size, "%s/%s", dir, tab2 + 1);
		*seed_out = s;
		rc = 0;
	}
	free(text);
	if (rc)
		return ds_fail("no delivered model of %s%s (there are: %s)", strategy,
			       seed >= 0 ? " for that seed" : "", used ? names : "none");
	struct stat st;
	if (stat(path, &st))
		return ds_fail("the model %s delivered was not kept (%s): its trial ran before the "
			       "last run pruned the other models; run the experiment on a new --db "
			       "to train it again",
			       strategy, path);
	return 0;
}
