/*
 * kvtier status codes: one table generates the enum, the names and the messages.
 *
 * KVT_OK is 0, KVT_INPROGRESS is positive, every error is negative. Library functions return a
 * kvt_status_t; they never return -1 and leave errno to be read. Functions that can fail for a
 * reason a person must read (a malformed file, an unknown name) also take an optional
 * kvt_error_t * that receives a one-line message naming the file and the field.
 */
#ifndef KVTIER_STATUS_H
#define KVTIER_STATUS_H

#include <kvtier/common.h>

KVT_BEGIN_DECLS

/* X(name, value, message) */
#define KVT_STATUS_MAP(X)                                                                          \
    X(KVT_OK, 0, "success")                                                                        \
    X(KVT_INPROGRESS, 1, "operation in progress")                                                  \
    X(KVT_ERR_INVALID, -1, "invalid argument")                                                     \
    X(KVT_ERR_NO_MEMORY, -2, "out of memory")                                                      \
    X(KVT_ERR_PARSE, -3, "malformed input")                                                        \
    X(KVT_ERR_NOT_FOUND, -4, "not found")                                                          \
    X(KVT_ERR_UNSUPPORTED, -5, "not supported")                                                    \
    X(KVT_ERR_OVERFLOW, -6, "value out of range")                                                  \
    X(KVT_ERR_IO, -7, "input/output error")                                                        \
    X(KVT_ERR_NO_SPACE, -8, "no space left")                                                       \
    X(KVT_ERR_BUSY, -9, "resource busy, retry later")                                              \
    X(KVT_ERR_CORRUPT, -10, "corrupt data")                                                        \
    X(KVT_ERR_UNAVAILABLE, -11, "unavailable")                                                     \
    X(KVT_ERR_TIMEOUT, -12, "timed out")                                                           \
    X(KVT_ERR_DOES_NOT_FIT, -13, "does not fit")

typedef enum kvt_status {
#define KVT_STATUS_ENUM_(name, value, msg) name = value,
    KVT_STATUS_MAP(KVT_STATUS_ENUM_)
#undef KVT_STATUS_ENUM_
} kvt_status_t;

/* Human-readable message for a status ("invalid argument"); never NULL, static storage. */
KVT_API const char *kvt_status_str(kvt_status_t status);

/* Symbolic name of a status ("KVT_ERR_INVALID"); never NULL, static storage. */
KVT_API const char *kvt_status_name(kvt_status_t status);

/*
 * Where a failing call explains itself. Pass NULL when the message is not wanted. On success the
 * struct is left untouched; on failure status is set and message holds one line without a
 * trailing newline, e.g. "config.json: num_key_value_heads: 7 does not divide
 * num_attention_heads (32)".
 */
typedef struct kvt_error {
    kvt_status_t status;
    char message[512];
} kvt_error_t;

KVT_END_DECLS

#endif
