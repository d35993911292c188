/* blas_info.c: where the tests run: the CPU, OpenBLAS's version and the kernel it uses, as the
 * first line of 'make test'; with --core, only the kernel's name (for 'make test-kernels'). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/blas.h"

/* The "model name" of /proc/cpuinfo's first CPU, or "unknown". */
static void cpu_model(char *buf, size_t size)
{
	snprintf(buf, size, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		const char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon++;
		colon += strspn(colon, " \t");
		snprintf(buf, size, "%.*s", (int)strcspn(colon, "\n"), colon);
		break;
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	/* no blas_select_kernel here: this reports the kernel the test programs get */
	const char *core = blas_core_name();
	if (argc > 1 && !strcmp(argv[1], "--core")) {
		printf("%s\n", core);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: %s [--core]\n", argv[0]);
		return 2;
	}
	char cpu[256], version[64] = "unknown";
	cpu_model(cpu, sizeof(cpu));
	/* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...": the version is the second word */
	sscanf(blas_config(), "OpenBLAS %63s", version);
	const char *env = getenv("OPENBLAS_CORETYPE");
	printf("cpu: %s; openblas %s kernel %s; OPENBLAS_CORETYPE%s%s", cpu, version, core,
	       env ? "=" : " unset", env ? env : "");
	/* ./dimsearch itself may re-execute with wider kernels (see blas_select_kernel) */
	const char *wanted = env ? NULL : blas_wanted_coretype(blas_cpu_has_avx512(), core);
	if (wanted)
		printf("; ./dimsearch re-executes with %s", wanted);
	printf("\n");
	return 0;
}
