/* fuzz_spec.c: libFuzzer target for dataset SPECs: any text, loaded (small) and freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 512)
		return 0;
	char spec[513];
	memcpy(spec, data, size);
	spec[size] = '\0';
	/* the real Fashion-MNIST and MNIST files: loads of a second that find nothing new */
	if (!strncmp(spec, "fashion-mnist", 13) || !strncmp(spec, "mnist", 5))
		return 0;
	struct data_opts o;
	data_opts_defaults(&o);
	struct dataset d;
	if (dataset_load(&d, spec, &o) == 0)
		dataset_free(&d);
	return 0;
}
