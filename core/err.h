/* err.h: the one error-reporting path of the library: record a message, return -1. */
#ifndef DS_ERR_H
#define DS_ERR_H

#define DS_ERR_MAX 1024

/* Format a message (lower case, no full stop, names what failed) into this thread's error
 * buffer; always returns -1 so that `return ds_fail(...)` reads naturally. */
int ds_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last message recorded by this thread ("" when none). */
const char *ds_errmsg(void);

#endif
