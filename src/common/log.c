/*
 * Logging: a level filter and one replaceable handler.
 *
 * The library logs only what an operator should see (a tier that degrades, a fallback taken);
 * errors a caller can act on are returned through kvt_error_t instead. The default handler
 * writes "kvtier: <level>: <msg>" to stderr. Messages are formatted into a stack buffer, so
 * logging never allocates.
 */
#include "common/logging.h"

#include <stdarg.h>
#include <stdio.h>

static kvt_log_cb_t log_cb;
static void *log_arg;
static kvt_log_level_t log_level = KVT_LOG_WARN;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void kvt_log_set_handler(kvt_log_cb_t cb, void *arg)
{
    log_cb = cb;
    log_arg = arg;
}

void kvt_log_set_level(kvt_log_level_t level)
{
    log_level = level;
}

kvt_log_level_t kvt_log_get_level(void)
{
    return log_level;
}

void kvt_log(kvt_log_level_t level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (level > log_level) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_cb != NULL) {
        log_cb(level, msg, log_arg);
    } else {
        fprintf(stderr, "kvtier: %s: %s\n", level_names[level], msg);
    }
}
