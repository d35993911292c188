/* fuzz_ini.c: libFuzzer target for experiments.ini parsing: any bytes, parsed and freed. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "../../search/experiment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/dimsearch-fuzz-%d.ini", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	struct experiment_file e;
	experiments_load(&e, path);
	experiments_free(&e);
	unlink(path);
	return 0;
}
