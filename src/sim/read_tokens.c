/*
 * Reader of token-id request traces ("tokens"): LLMServingSim's JSON lines, one request per line
 * with its prompt as token ids: input_toks, output_toks, arrival_time_ns, input_tok_ids (and
 * output_tok_ids, not used). docs/traces.md states the rules. Block i holds token ids
 * [i x B, (i+1) x B) of input_tok_ids; its key is the chained chunk hash of chunk_hash.h over the
 * ids as 4-byte little-endian words, the last partial block hashing its partial ids, so equal keys
 * mean equal token prefixes. The file does not link turns: as for Mooncake, a request continues
 * the session of the most recent earlier request holding the deepest of its blocks past the first
 * (kvt_trace_find_parent from position 1, so a shared opening of fewer than 2B tokens, such as a
 * prompt template, does not join conversations), which becomes its parent (NEXT_TURN); a request
 * without one opens a session (NEW_SESSION). Types: a session's first request has no system
 * prompt, so its new blocks are USER; later requests type new blocks by the builder's rule
 * (OUTPUT inside the parent's output, else USER). arrival_time_ns is rounded to the nearest
 * microsecond. Lines are read one at a time (getline) and parsed with cJSON; every malformed line
 * fails the load with the file, the line and the field.
 */
#include "sim/chunk_hash.h"
#include "sim/reader_util.h"
#include "sim/trace_build.h"
#include "sim/trace_readers.h"

#include "common/error.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROMPT (1u << 24) /* tokens, as the other readers */

typedef struct tok {
    kvt_line_reader_t in; /* path, line number, error */
    kvt_trace_t *t;
    uint32_t bt;
    kvt_chunker_t ch;
    uint64_t *keys;
    size_t cap_keys;
} tok_t;

static kvt_status_t bad(const tok_t *r, const char *field, const char *msg)
{
    return kvt_line_bad(&r->in, field, msg);
}

static kvt_status_t oom(const tok_t *r)
{
    return kvt_no_memory(r->in.err, r->in.path);
}

/* A non-negative integer member (required), at most max. */
static kvt_status_t get_uint(const tok_t *r, const cJSON *o, const char *key, double max,
                             uint64_t *v_p)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL) {
        return bad(r, key, "missing");
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        v->valuedouble != floor(v->valuedouble)) {
        return bad(r, key, "expected an integer");
    }
    if (v->valuedouble < 0 || v->valuedouble > max) {
        return bad(r, key, "out of range");
    }
    *v_p = (uint64_t)v->valuedouble;
    return KVT_OK;
}

static kvt_status_t one_line(tok_t *r, const cJSON *o)
{
    kvt_trace_t *t = r->t;
    uint64_t in, out, key;
    kvt_status_t st;
    char msg[160];

    if ((st = get_uint(r, o, "input_toks", (double)UINT32_MAX, &in)) != KVT_OK ||
        (st = get_uint(r, o, "output_toks", (double)UINT32_MAX, &out)) != KVT_OK) {
        return st;
    }
    if (in == 0) {
        return bad(r, "input_toks", "must be positive");
    }
    if (in > MAX_PROMPT) {
        snprintf(msg, sizeof(msg), "%llu tokens, more than %u", (unsigned long long)in, MAX_PROMPT);
        return bad(r, "input_toks", msg);
    }
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(o, "arrival_time_ns");
    if (at == NULL) {
        return bad(r, "arrival_time_ns", "missing");
    }
    /* at most 2^63 us: converted exactly, never through a signed overflow */
    if (!cJSON_IsNumber(at) || !isfinite(at->valuedouble) || at->valuedouble < 0 ||
        at->valuedouble / 1000.0 >= 0x1p63) {
        return bad(r, "arrival_time_ns", "expected a non-negative number below 2^63 microseconds");
    }
    uint64_t t_us = (uint64_t)(at->valuedouble / 1000.0 + 0.5);

    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "input_tok_ids");
    if (a == NULL) {
        return bad(r, "input_tok_ids", "missing");
    }
    if (!cJSON_IsArray(a)) {
        return bad(r, "input_tok_ids", "expected an array of token ids");
    }
    size_t n = (size_t)cJSON_GetArraySize(a);
    if (n != in) {
        snprintf(msg, sizeof(msg), "%zu token ids, but input_toks is %llu", n,
                 (unsigned long long)in);
        return bad(r, "input_tok_ids", msg);
    }
    kvt_chunker_reset(&r->ch);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        double d = e->valuedouble;
        if (!cJSON_IsNumber(e) || d != floor(d) || d < 0 || d > (double)UINT32_MAX) {
            snprintf(msg, sizeof(msg), "element %zu is not a token id (an integer in [0, 2^32))",
                     i);
            return bad(r, "input_tok_ids", msg);
        }
        uint32_t id = (uint32_t)d;
        unsigned char le[4] = {(unsigned char)id, (unsigned char)(id >> 8),
                               (unsigned char)(id >> 16), (unsigned char)(id >> 24)};
        if (kvt_chunker_feed(&r->ch, le, sizeof(le)) != KVT_OK) {
            return oom(r);
        }
        i++;
    }
    size_t nk = r->ch.nkeys;
    if (!kvt_grow_array((void **)&r->keys, &r->cap_keys, nk + 1, sizeof(*r->keys))) {
        return oom(r);
    }
    if (nk > 0) {
        memcpy(r->keys, r->ch.keys, nk * sizeof(*r->keys));
    }
    if (kvt_chunker_partial(&r->ch, &key)) {
        r->keys[nk++] = key;
    }

    uint64_t parent = kvt_trace_find_parent(t, r->keys, nk, 1);
    uint32_t session;
    if (parent != KVT_NO_PARENT) {
        session = kvt_trace_session_of(t, parent);
    } else {
        if (t->max_session == UINT32_MAX) {
            return bad(r, NULL, "too many sessions");
        }
        session = t->max_session;
    }
    kvt_transition_t tr = parent != KVT_NO_PARENT ? KVT_TRANS_NEXT_TURN : KVT_TRANS_NEW_SESSION;
    if (kvt_trace_begin_request(t, t_us, (uint32_t)in, (uint32_t)out, session, tr, parent,
                                KVT_BLOCK_USER) != KVT_OK) {
        return oom(r);
    }
    for (size_t j = 0; j < nk; j++) {
        st = kvt_trace_add_block(t, r->keys[j],
                                 parent != KVT_NO_PARENT ? KVT_BLOCK_INFER : KVT_BLOCK_USER);
        if (st != KVT_OK) {
            return kvt_status_error(r->in.err, st, r->in.path, r->in.line);
        }
    }
    return KVT_OK;
}

kvt_status_t kvt_read_tokens(FILE *f, const char *path, uint32_t bt, kvt_trace_t *t,
                             kvt_error_t *err)
{
    tok_t r = {.t = t, .bt = bt};
    cJSON *o;
    kvt_status_t st;

    if (bt == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID, "%s: block_tokens must be positive", path);
    }
    kvt_line_reader_init(&r.in, f, path, err);
    kvt_chunker_init(&r.ch, (size_t)bt * 4);
    while ((st = kvt_line_next_json(&r.in, &o)) == KVT_OK && o != NULL) {
        st = one_line(&r, o);
        cJSON_Delete(o);
        if (st != KVT_OK) {
            break;
        }
    }
    if (st == KVT_OK && t->info.requests == 0) {
        st = kvt_error_set(err, KVT_ERR_PARSE, "%s: no requests", path);
    }
    kvt_line_reader_fini(&r.in);
    free(r.keys);
    kvt_chunker_fini(&r.ch);
    return st;
}
