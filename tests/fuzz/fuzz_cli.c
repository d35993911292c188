/* fuzz_cli.c: libFuzzer target for the command line: the input's lines are the arguments
 * of one dimsearch command, run in a scratch folder (dimsearch.c built with its main
 * renamed). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dimsearch_main(int argc, char **argv);

#define MAX_ARGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int in_scratch;
	if (!in_scratch) {
		/* a folder of its own, and stdout (tables, help) to /dev/null for good */
		char dir[] = "/tmp/dimsearch-fuzz-cli-XXXXXX";
		int null = open("/dev/null", O_WRONLY);
		if (!mkdtemp(dir) || chdir(dir) != 0 || null < 0 || dup2(null, 1) < 0)
			abort();
		close(null);
		in_scratch = 1;
	}
	if (size > 1024)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *argv[MAX_ARGS + 4] = { "dimsearch" };
	int argc = 1;
	for (char *save = NULL, *a = strtok_r(text, "\n", &save); a && argc <= MAX_ARGS;
	     a = strtok_r(NULL, "\n", &save))
		argv[argc++] = a;
	/* id estimates on at most 200 points: the last --n wins, and this one is last */
	if (argc > 1 && !strcmp(argv[1], "id")) {
		argv[argc++] = "--n";
		argv[argc++] = "200";
	}
	argv[argc] = NULL;
	/* what would train for minutes is not the command line's to find */
	int heavy = argc > 1 && (!strcmp(argv[1], "train") || !strcmp(argv[1], "run"));
	for (int i = 2; heavy && i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			heavy = 0;
	if (!heavy)
		dimsearch_main(argc, argv);
	free(text);
	return 0;
}
