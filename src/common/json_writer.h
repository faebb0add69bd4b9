/* Internal: a small streaming JSON writer into a growing memory buffer. */
#ifndef KVT_COMMON_JSON_WRITER_H
#define KVT_COMMON_JSON_WRITER_H

#include <kvtier/status.h>

#define KVT_JSON_MAX_DEPTH 32

typedef struct kvt_json {
    char *buf;
    size_t len, cap;
    int depth;
    bool pretty;
    bool failed;                        /* out of memory or misuse: finish() reports it */
    bool has_items[KVT_JSON_MAX_DEPTH]; /* a comma is due before the next item at this depth */
} kvt_json_t;

void kvt_json_init(kvt_json_t *w, bool pretty);
/* key is NULL inside arrays and at the top level, a member name inside objects. */
void kvt_json_begin_object(kvt_json_t *w, const char *key);
void kvt_json_end_object(kvt_json_t *w);
void kvt_json_begin_array(kvt_json_t *w, const char *key);
void kvt_json_end_array(kvt_json_t *w);
void kvt_json_u64(kvt_json_t *w, const char *key, uint64_t v);
void kvt_json_i64(kvt_json_t *w, const char *key, int64_t v);
/* Non-finite values are written as null. */
void kvt_json_double(kvt_json_t *w, const char *key, double v);
void kvt_json_str(kvt_json_t *w, const char *key, const char *s);
void kvt_json_bool(kvt_json_t *w, const char *key, bool v);
void kvt_json_null(kvt_json_t *w, const char *key);

/* Hand over the text (NUL-terminated, caller frees) on KVT_OK; frees everything on failure. */
kvt_status_t kvt_json_finish(kvt_json_t *w, char **text_p, size_t *len_p);
void kvt_json_discard(kvt_json_t *w);

#endif
