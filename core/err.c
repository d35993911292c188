/* err.c: thread-local error messages for library code, which never prints or exits. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char errbuf[DS_ERR_MAX];

int ds_fail(const char *fmt, ...)
{
	/* format aside first: the arguments may include ds_errmsg() itself, to wrap it */
	char msg[DS_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(errbuf, msg, sizeof(errbuf));
	return -1;
}

const char *ds_errmsg(void)
{
	return errbuf;
}
