/*
 * Internal: a streaming JSON pull parser for the readers of whole-document JSON traces (SWE-agent
 * .traj files, LMBenchmark ShareGPT arrays).
 *
 * The caller walks the document value by value: kvt_jp_peek() tells the kind of the next value
 * (and records the line it starts on, for error messages), kvt_jp_open() enters an object or an
 * array, kvt_jp_member() / kvt_jp_element() step through it, kvt_jp_string() decodes a string
 * into a sink piece by piece, kvt_jp_number() reads a number and kvt_jp_skip() passes over any
 * value. The file is read through a fixed buffer, so memory does not grow with the document;
 * nesting is followed without recursion (at most KVT_JP_MAX_DEPTH levels). Every failure sets err
 * to "<path>:<line>: <problem>" (KVT_ERR_PARSE, or KVT_ERR_IO for a read error) and returns it.
 */
#ifndef KVT_SIM_JSON_PULL_H
#define KVT_SIM_JSON_PULL_H

#include <kvtier/status.h>

#include <stdio.h>

#define KVT_JP_MAX_DEPTH 256
#define KVT_JP_KEY_MAX   64

typedef enum kvt_jp_kind {
    KVT_JP_OBJECT,
    KVT_JP_ARRAY,
    KVT_JP_STRING,
    KVT_JP_NUMBER,
    KVT_JP_TRUE,
    KVT_JP_FALSE,
    KVT_JP_NULL,
} kvt_jp_kind_t;

typedef struct kvt_jp {
    FILE *f;
    const char *path;
    kvt_error_t *err;
    uint64_t line;       /* line of the next unread byte, from 1 */
    uint64_t value_line; /* line where the value last peeked starts */
    size_t pos, len;
    bool eof;
    char key[KVT_JP_KEY_MAX]; /* the member name kvt_jp_member() read, NUL-terminated */
    bool key_long;            /* it was longer than KVT_JP_KEY_MAX - 1 bytes (key truncated) */
    unsigned char buf[16384];
} kvt_jp_t;

/* Receives decoded string bytes; a non-OK return stops kvt_jp_string() (the sink sets err). */
typedef kvt_status_t (*kvt_jp_sink_t)(void *ctx, const char *bytes, size_t n);

void kvt_jp_init(kvt_jp_t *p, FILE *f, const char *path, kvt_error_t *err);

/* The kind of the next value (whitespace skipped); sets value_line. */
kvt_status_t kvt_jp_peek(kvt_jp_t *p, kvt_jp_kind_t *kind_p);

/* Consume the '{' or '[' of the object or array kvt_jp_peek() just saw. */
kvt_status_t kvt_jp_open(kvt_jp_t *p);

/*
 * Step to the next member of an open object: *more_p true with its name in p->key (the value
 * comes next and must be consumed), or false after the closing '}'. *first_p: true before the
 * first member (set it to true after kvt_jp_open()); updated here.
 */
kvt_status_t kvt_jp_member(kvt_jp_t *p, bool *first_p, bool *more_p);

/* The same for the elements of an open array ("]"). */
kvt_status_t kvt_jp_element(kvt_jp_t *p, bool *first_p, bool *more_p);

/* Decode the next value, a string, into sink (NULL: discard). */
kvt_status_t kvt_jp_string(kvt_jp_t *p, kvt_jp_sink_t sink, void *ctx);

/* Read the next value, a number. */
kvt_status_t kvt_jp_number(kvt_jp_t *p, double *v_p);

/* Pass over the next value, whatever it is. */
kvt_status_t kvt_jp_skip(kvt_jp_t *p);

/* After the top-level value: only whitespace may remain. */
kvt_status_t kvt_jp_finish(kvt_jp_t *p);

/* Set err to "<path>:<line>: <field>: <msg>" (field may be NULL) and return KVT_ERR_PARSE. */
kvt_status_t kvt_jp_bad(const kvt_jp_t *p, uint64_t line, const char *field, const char *msg);

#endif
