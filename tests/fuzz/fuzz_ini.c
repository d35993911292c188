/* fuzz_ini.c: libFuzzer target for experiments.ini parsing: any bytes, parsed and freed. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz_file.h"

#include "../../search/experiment.h"
#include "../../strategies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	if (fuzz_file(data, size, "ini", path, sizeof(path)))
		return 0;
	struct experiment_file e;
	experiments_load(&e, path, dimsearch_strategies());
	experiments_free(&e);
	unlink(path);
	return 0;
}
