/* test_readme.c: every dimsearch command line README.md shows, in a code block or an inline
 * code span, still parses: a concrete one runs with --help appended (so each option and value
 * before it is checked, and nothing trains) and exits 0; a synopsis (placeholders such as
 * SPEC or [--k N]) names only options its command's --help lists. Run from the repository
 * root. */
#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char out[1 << 16];

/* A word that stands for a value: SPEC, K, NAME|all, KEY=VALUE, "..." */
static int placeholder(const char *w)
{
	while (*w == '[' || *w == '(')
		w++;
	if (!strncmp(w, "...", 3))
		return 1;
	if (!isupper((unsigned char)*w))
		return 0;
	for (; *w && !strchr("]|=,)", *w); w++)
		if (!isupper((unsigned char)*w) && !isdigit((unsigned char)*w) && *w != '_')
			return 0;
	return 1;
}

/* One command line of the README, from "./dimsearch" to the end of the command (a pipe,
 * "&&" or ";" ends it, and in a block the end of a line, unless it ends with a backslash or
 * the next is indented): checked as described above; 1 when it was a command. */
static int check_command(const char *text, const char *where, int block)
{
	char line[2048];
	size_t n = strcspn(text, "|&;");
	/* "[--format table|csv|json]": a bar inside brackets does not end the command */
	for (size_t depth = 0, i = 0; text[i]; i++) {
		if (text[i] == '[')
			depth++;
		else if (text[i] == ']' && depth)
			depth--;
		else if (!depth && strchr("|&;", text[i])) {
			n = i;
			break;
		} else if (block && text[i] == '\n' && (i == 0 || text[i - 1] != '\\') &&
			   text[i + 1] != ' ') {
			n = i;
			break;
		}
		n = i + 1;
	}
	if (n >= sizeof(line))
		fail_msg("a command line too long in %s: %.60s", where, text);
	memcpy(line, text, n);
	line[n] = '\0';
	/* line breaks and continuation backslashes are spaces */
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\\')
			*c = ' ';
	char words[64][256];
	int nw = 0;
	for (char *save = NULL, *w = strtok_r(line, " \t", &save); w && nw < 64;
	     w = strtok_r(NULL, " \t", &save))
		snprintf(words[nw++], sizeof(words[0]), "%s", w);
	if (nw < 2 || strcmp(words[0], "./dimsearch"))
		return 0;
	int synopsis = 0;
	for (int i = 1; i < nw; i++)
		synopsis |= words[i][0] == '[' || placeholder(words[i]);
	char cmd[4096];
	if (!synopsis) {
		/* as a shell reads it (its quotes included), with --help at the end */
		snprintf(cmd, sizeof(cmd), "%.*s --help", (int)n, text);
		for (char *c = cmd; *c; c++)
			if (*c == '\n' || *c == '\\')
				*c = ' ';
		int rc = run_command(cmd, out, sizeof(out));
		if (rc != 0)
			fail_msg("README (%s): '%s' does not parse (exit %d):\n%s", where, cmd, rc,
				 out);
		return 1;
	}
	/* a synopsis: each option it shows is one its command offers */
	const char *command = words[1][0] == '-' ? "" : words[1];
	snprintf(cmd, sizeof(cmd), "./dimsearch %s --help", command);
	int rc = run_command(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("README (%s): '%s' exits %d:\n%s", where, cmd, rc, out);
	for (int i = 2; i < nw; i++) {
		char opt[256];
		const char *w = words[i];
		while (*w == '[')
			w++;
		if (strncmp(w, "--", 2))
			continue;
		snprintf(opt, sizeof(opt), "%.*s", (int)strcspn(w, "]|=,"), w);
		/* "--opt" followed by a space, a comma or the end in the help's option list */
		char want[300];
		snprintf(want, sizeof(want), "  %s ", opt);
		if (!strstr(out, want)) {
			snprintf(want, sizeof(want), "%s,", opt);
			if (!strstr(out, want))
				fail_msg("README (%s): %s shows %s, which '%s' does not list:\n%s",
					 where, words[1], opt, cmd, out);
		}
	}
	return 1;
}

/* Every "./dimsearch" command of text (a code block's lines, or a code span). */
static int commands_in(const char *text, size_t len, const char *where, int block)
{
	char *copy = strndup(text, len);
	int n = 0;
	for (char *at = copy; (at = strstr(at, "./dimsearch"));) {
		/* a command begins a line, a span, or follows "&&", "|", "$ " */
		n += check_command(at, where, block);
		at += strlen("./dimsearch");
	}
	free(copy);
	return n;
}

static void test_every_command_line_parses(void **state)
{
	(void)state;
	char *readme = slurp("README.md", NULL);
	assert_non_null(readme);
	int blocks = 0, spans = 0;
	char where[64];
	for (const char *p = readme; *p;) {
		if (!strncmp(p, "```", 3)) {
			const char *body = strchr(p, '\n');
			const char *end = body ? strstr(body, "\n```") : NULL;
			if (!end)
				break;
			int line = 1;
			for (const char *c = readme; c < p; c++)
				line += *c == '\n';
			snprintf(where, sizeof(where), "code block at line %d", line);
			blocks += commands_in(body, (size_t)(end - body), where, 1);
			p = strchr(end + 1, '\n');
			if (!p)
				break;
			p++;
			continue;
		}
		if (*p == '`') {
			const char *end = strchr(p + 1, '`');
			if (!end)
				break;
			int line = 1;
			for (const char *c = readme; c < p; c++)
				line += *c == '\n';
			snprintf(where, sizeof(where), "line %d", line);
			spans += commands_in(p + 1, (size_t)(end - p - 1), where, 0);
			p = end + 1;
			continue;
		}
		p++;
	}
	free(readme);
	print_message("%d command lines in code blocks, %d in code spans\n", blocks, spans);
	/* the README shows synopses of run, report and train in blocks, and a dozen inline */
	assert_true(blocks >= 3);
	assert_true(spans >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_command_line_parses),
	};
	return cmocka_run_group_tests_name("readme", tests, NULL, NULL);
}
