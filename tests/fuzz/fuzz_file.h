/* fuzz_file.h: the loaders read files, so each fuzz input is written to one first. */
#ifndef DS_FUZZ_FILE_H
#define DS_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* Write data to /tmp/dimsearch-fuzz-PID.SUFFIX into path; 0, or -1 when it cannot. */
static inline int fuzz_file(const uint8_t *data, size_t size, const char *suffix, char *path,
			    size_t path_size)
{
	snprintf(path, path_size, "/tmp/dimsearch-fuzz-%d.%s", (int)getpid(), suffix);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(data, 1, size, f);
	fclose(f);
	return 0;
}

#endif
