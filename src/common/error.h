/* Internal: filling a caller's kvt_error_t. */
#ifndef KVT_COMMON_ERROR_H
#define KVT_COMMON_ERROR_H

#include <kvtier/status.h>

/* Set err (if not NULL) to status and a printf-formatted one-line message; returns status.
   Control characters in the result, as quoted input may carry, become '?'. */
kvt_status_t kvt_error_set(kvt_error_t *err, kvt_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
