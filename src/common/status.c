/*
 * Status codes and error reports.
 *
 * The enum, its names and its messages come from one X-macro table (KVT_STATUS_MAP in
 * kvtier/status.h) so they cannot drift apart. kvt_error_set() is how the code that first decides
 * something is wrong explains it: it fills the caller's optional kvt_error_t and returns the
 * status, so a failure is reported once, where the most is known, and propagated unchanged.
 */
#include "common/error.h"

#include <kvtier/kvtier.h>
#include <stdarg.h>
#include <stdio.h>

const char *kvt_status_str(kvt_status_t status)
{
    switch (status) {
#define KVT_STATUS_STR_(name, value, msg)                                                          \
    case name:                                                                                     \
        return msg;
        KVT_STATUS_MAP(KVT_STATUS_STR_)
#undef KVT_STATUS_STR_
    }
    return "unknown status";
}

const char *kvt_status_name(kvt_status_t status)
{
    switch (status) {
#define KVT_STATUS_NAME_(name, value, msg)                                                         \
    case name:                                                                                     \
        return #name;
        KVT_STATUS_MAP(KVT_STATUS_NAME_)
#undef KVT_STATUS_NAME_
    }
    return "KVT_STATUS_UNKNOWN";
}

kvt_status_t kvt_error_set(kvt_error_t *err, kvt_status_t status, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        /* one line, whatever a file or a caller put in the strings it quotes: control
           characters (a newline in a JSON key, a terminal escape) are shown as '?' */
        for (char *c = err->message; *c != '\0'; c++) {
            if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f) {
                *c = '?';
            }
        }
        err->status = status;
    }
    return status;
}

const char *kvt_version(void)
{
    return KVT_VERSION_STRING;
}
