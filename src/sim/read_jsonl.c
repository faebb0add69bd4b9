/*
 * Readers of JSON-lines block-hash traces: Mooncake (FAST'25) and Alibaba Qwen-Bailian.
 *
 * Both formats give each request its prompt as a list of prefix-block hash ids; they differ in
 * units (Mooncake timestamps in ms and 512-token blocks, Bailian in seconds and 16-token blocks)
 * and in what they say about sessions. Bailian links turns with parent_chat_id; Mooncake does
 * not, so a request continues the session of the most recent request holding the deepest of its
 * blocks past the first (every Mooncake chain starts with one shared system block) -- equal ids at
 * a position mean equal prefixes, so sharing block 1 or deeper means sharing the conversation.
 * Lines are read one at a time (getline) and parsed one at a time; every malformed line fails the
 * load with the file, the line number and the field.
 */
#include "sim/reader_util.h"
#include "sim/trace_build.h"
#include "sim/trace_readers.h"

#include "common/error.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef kvt_line_reader_t line_ctx_t; /* path, line number, error */

static kvt_status_t bad(const line_ctx_t *c, const char *field, const char *msg)
{
    return kvt_line_bad(c, field, msg);
}

/* A non-negative integer field (required). */
static kvt_status_t get_uint(const line_ctx_t *c, const cJSON *o, const char *key, uint64_t max,
                             uint64_t *v_p)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL) {
        return bad(c, key, "missing");
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble)) {
        return bad(c, key, "expected an integer");
    }
    if (v->valuedouble < 0 || v->valuedouble > (double)max) {
        return bad(c, key, "out of range");
    }
    *v_p = (uint64_t)v->valuedouble;
    return KVT_OK;
}

/* A non-negative time in the given unit (seconds: 1e6, ms: 1e3), as microseconds. */
static kvt_status_t get_time(const line_ctx_t *c, const cJSON *o, const char *key, double to_us,
                             uint64_t *t_p)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL) {
        return bad(c, key, "missing");
    }
    /* at most 2^63 us (292,000 years): converted exactly, never through a signed overflow */
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble * to_us >= 0x1p63) {
        return bad(c, key, "expected a non-negative number below 2^63 microseconds");
    }
    *t_p = (uint64_t)(v->valuedouble * to_us + 0.5);
    return KVT_OK;
}

/* hash_ids: non-empty array of non-negative integers, ceil(input / bt) of them. */
static kvt_status_t get_chain(const line_ctx_t *c, const cJSON *o, uint64_t input, uint32_t bt,
                              uint64_t **keys_p, size_t *cap_p, size_t *n_p)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "hash_ids");
    char msg[160];
    if (a == NULL) {
        return bad(c, "hash_ids", "missing");
    }
    if (!cJSON_IsArray(a)) {
        return bad(c, "hash_ids", "expected an array of integers");
    }
    size_t n = (size_t)cJSON_GetArraySize(a);
    uint64_t want = (input + bt - 1) / bt;
    if (n != want) {
        snprintf(msg, sizeof(msg), "%zu blocks, but input_length %llu needs %llu of %u tokens", n,
                 (unsigned long long)input, (unsigned long long)want, bt);
        return bad(c, "hash_ids", msg);
    }
    if (!kvt_grow_array((void **)keys_p, cap_p, n, sizeof(**keys_p))) {
        return kvt_no_memory(c->err, c->path);
    }
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        double d = e->valuedouble;
        if (!cJSON_IsNumber(e) || d != floor(d) || d < 0 || d >= 1.8e19) {
            snprintf(msg, sizeof(msg), "element %zu is not a non-negative integer", i);
            return bad(c, "hash_ids", msg);
        }
        (*keys_p)[i++] = (uint64_t)d;
    }
    *n_p = n;
    return KVT_OK;
}

typedef struct reader_state {
    kvt_trace_format_t format;
    uint32_t bt;
    uint64_t *keys;
    size_t cap;
    kvt_idmap_t chats;     /* Bailian chat_id -> dense index */
    uint64_t *chat_req;    /* dense chat index -> request index */
    size_t chat_cap;
} reader_state_t;

static kvt_status_t one_line(reader_state_t *rs, const line_ctx_t *c, const cJSON *o,
                             kvt_trace_t *t)
{
    uint64_t in = 0, out = 0, ts = 0;
    size_t n = 0;
    kvt_status_t st;
    double to_us = rs->format == KVT_TRACE_MOONCAKE ? 1e3 : 1e6;

    if ((st = get_time(c, o, "timestamp", to_us, &ts)) != KVT_OK ||
        (st = get_uint(c, o, "input_length", UINT32_MAX, &in)) != KVT_OK ||
        (st = get_uint(c, o, "output_length", UINT32_MAX, &out)) != KVT_OK) {
        return st;
    }
    if (in == 0) {
        return bad(c, "input_length", "must be positive");
    }
    if ((st = get_chain(c, o, in, rs->bt, &rs->keys, &rs->cap, &n)) != KVT_OK) {
        return st;
    }
    uint64_t parent = KVT_NO_PARENT;
    kvt_block_type_t content = KVT_BLOCK_USER;
    uint64_t chat = 0;
    uint32_t chat_idx = 0;
    if (rs->format == KVT_TRACE_MOONCAKE) {
        parent = kvt_trace_find_parent(t, rs->keys, n, 1);
    } else {
        uint64_t pc;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "parent_chat_id");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
        if ((st = get_uint(c, o, "chat_id", UINT64_MAX / 2, &chat)) != KVT_OK) {
            return st;
        }
        if (p == NULL || !cJSON_IsNumber(p)) {
            return bad(c, "parent_chat_id", "expected an integer (-1 for none)");
        }
        if (p->valuedouble >= 0) {
            if ((st = get_uint(c, o, "parent_chat_id", UINT64_MAX / 2, &pc)) != KVT_OK) {
                return st;
            }
            uint32_t pidx;
            if (kvt_idmap_find(&rs->chats, pc, &pidx)) {
                parent = rs->chat_req[pidx];
            }
        }
        if (ty != NULL && cJSON_IsString(ty) &&
            (strcmp(ty->valuestring, "search") == 0 || strcmp(ty->valuestring, "file") == 0)) {
            content = KVT_BLOCK_TOOL;
        }
        if (kvt_idmap_intern(&rs->chats, chat, &chat_idx) != KVT_OK) {
            return kvt_no_memory(c->err, c->path);
        }
        if (!kvt_grow_array((void **)&rs->chat_req, &rs->chat_cap, (size_t)chat_idx + 1,
                            sizeof(*rs->chat_req))) {
            return kvt_no_memory(c->err, c->path);
        }
    }
    uint32_t session = parent != KVT_NO_PARENT ? kvt_trace_session_of(t, parent)
                                               : (uint32_t)t->max_session;
    kvt_transition_t tr = parent != KVT_NO_PARENT ? KVT_TRANS_NEXT_TURN : KVT_TRANS_NEW_SESSION;
    if (kvt_trace_begin_request(t, ts, (uint32_t)in, (uint32_t)out, session, tr, parent,
                                content) != KVT_OK) {
        return kvt_no_memory(c->err, c->path);
    }
    if (rs->format == KVT_TRACE_BAILIAN) {
        rs->chat_req[chat_idx] = t->info.requests - 1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((st = kvt_trace_add_block(t, rs->keys[i], KVT_BLOCK_INFER)) != KVT_OK) {
            return kvt_status_error(c->err, st, c->path, c->line);
        }
    }
    return KVT_OK;
}

kvt_status_t kvt_read_jsonl(FILE *f, const char *path, kvt_trace_format_t format, uint32_t bt,
                            kvt_trace_t *t, kvt_error_t *err)
{
    reader_state_t rs = {.format = format, .bt = bt};
    line_ctx_t c;
    cJSON *o;
    kvt_status_t st;

    if (kvt_idmap_init(&rs.chats, 1024) != KVT_OK) {
        return kvt_no_memory(err, path);
    }
    kvt_line_reader_init(&c, f, path, err);
    while ((st = kvt_line_next_json(&c, &o)) == KVT_OK && o != NULL) {
        st = one_line(&rs, &c, o, t);
        cJSON_Delete(o);
        if (st != KVT_OK) {
            break;
        }
    }
    if (st == KVT_OK && t->info.requests == 0) {
        st = kvt_error_set(err, KVT_ERR_PARSE, "%s: no requests", path);
    }
    kvt_line_reader_fini(&c);
    free(rs.keys);
    free(rs.chat_req);
    kvt_idmap_fini(&rs.chats);
    return st;
}
