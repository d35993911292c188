/* fuzz_idx.c: libFuzzer target for the IDX reader (plain and gzip), as images and labels. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_file.h"

#include "../../core/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	if (fuzz_file(data, size, "idx", path, sizeof(path)))
		return 0;
	for (int dims = 1; dims <= 3; dims += 2) {
		unsigned char *out = NULL;
		size_t n, item;
		if (idx_read(path, dims, &out, &n, &item) == 0)
			free(out);
	}
	unlink(path);
	return 0;
}
