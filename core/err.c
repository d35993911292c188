/* err.c: thread-local error messages for library code, which never prints or exits. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char errbuf[DS_ERR_MAX];

int ds_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return -1;
}

const char *ds_errmsg(void)
{
	return errbuf;
}
