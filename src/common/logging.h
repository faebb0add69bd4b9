/* Internal logging entry point (see kvtier/log.h for the public side). */
#ifndef KVT_COMMON_LOGGING_H
#define KVT_COMMON_LOGGING_H

#include <kvtier/log.h>

void kvt_log(kvt_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define kvt_log_error(...) kvt_log(KVT_LOG_ERROR, __VA_ARGS__)
#define kvt_log_warn(...)  kvt_log(KVT_LOG_WARN, __VA_ARGS__)
#define kvt_log_info(...)  kvt_log(KVT_LOG_INFO, __VA_ARGS__)
#define kvt_log_debug(...) kvt_log(KVT_LOG_DEBUG, __VA_ARGS__)

#endif
