/*
 * kvtier logging: levels and a replaceable handler.
 *
 * By default messages at KVT_LOG_WARN and above go to stderr. An application replaces the
 * handler to route them elsewhere; the handler may be called from any thread that calls into the
 * library and must not call back into it.
 */
#ifndef KVTIER_LOG_H
#define KVTIER_LOG_H

#include <kvtier/common.h>

KVT_BEGIN_DECLS

typedef enum kvt_log_level {
    KVT_LOG_ERROR = 0,
    KVT_LOG_WARN = 1,
    KVT_LOG_INFO = 2,
    KVT_LOG_DEBUG = 3,
} kvt_log_level_t;

typedef void (*kvt_log_cb_t)(kvt_log_level_t level, const char *msg, void *arg);

/* Replace the handler (NULL restores the stderr handler). Not thread-safe with logging calls. */
KVT_API void kvt_log_set_handler(kvt_log_cb_t cb, void *arg);

/* Messages above this level are dropped before formatting. Default KVT_LOG_WARN. */
KVT_API void kvt_log_set_level(kvt_log_level_t level);
KVT_API kvt_log_level_t kvt_log_get_level(void);

KVT_END_DECLS

#endif
