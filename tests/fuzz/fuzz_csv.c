/* fuzz_csv.c: libFuzzer target for the CSV reader, without and with a label column. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz_file.h"

#include "../../core/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], spec[128];
	if (fuzz_file(data, size, "csv", path, sizeof(path)))
		return 0;
	struct data_opts o;
	data_opts_defaults(&o);
	const char *forms[] = { "csv:%s", "csv:%s,label=last", "csv:%s,label=first" };
	for (int i = 0; i < 3; i++) {
		struct dataset d;
		snprintf(spec, sizeof(spec), forms[i], path);
		if (dataset_load(&d, spec, &o) == 0)
			dataset_free(&d);
	}
	unlink(path);
	return 0;
}
