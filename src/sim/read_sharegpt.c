/*
 * Reader of LMBenchmark's multi-round ShareGPT workloads ("sharegpt"): a JSON array of
 * {"input": text, "output_length": tokens}, where input is a conversation's cumulative text up
 * to the current user message (docs/traces.md states the rules). Each entry is one request; its
 * prompt is the input's UTF-8 bytes at 4 bytes per token, hashed in 4B-byte chunks with the
 * chained chunk hash of chunk_hash.h (a block of B tokens), the last partial chunk hashing its
 * partial bytes. The file names no users, but a later round's input starts with the previous
 * round's input byte for byte, so a request continues the most recent earlier request holding the
 * deepest block it shares (kvt_trace_find_parent) when that request's whole input is a prefix of
 * this one: its last block key equals the key of this input cut at its length, computed from
 * the text. Such a request joins its parent's session (NEXT_TURN); any other opens a session
 * (NEW_SESSION). Types: a session's first request has no system prompt, so all its blocks are
 * USER; later requests type new blocks by the builder's rule (OUTPUT inside the parent's output,
 * taken as output_length tokens after its input, else USER). The files have no times: round r
 * (from 0) of session s arrives at s x 10 s + r x 30 s. The array is read with the streaming pull
 * parser (json_pull.c); memory is one input's text plus 16 bytes per request and the trace.
 */
#include "sim/chunk_hash.h"
#include "sim/json_pull.h"
#include "sim/reader_util.h"
#include "sim/trace_build.h"
#include "sim/trace_readers.h"

#include "common/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BYTES_PER_TOKEN 4
#define USER_GAP_US     (10ull * 1000 * 1000) /* session s starts at s x 10 s */
#define ROUND_GAP_US    (30ull * 1000 * 1000) /* its rounds 30 s apart */
#define MAX_TEXT        (64u << 20)           /* bytes: 2^24 tokens, as the other readers */

typedef struct seen {
    uint64_t bytes; /* input length */
    uint64_t last;  /* key of its last block */
} seen_t;

typedef struct sg {
    kvt_jp_t *jp;
    const char *path;
    kvt_error_t *err;
    kvt_trace_t *t;
    uint32_t bt;
    char *text; /* the current input */
    size_t len, cap;
    bool too_long;
    kvt_chunker_t ch;
    uint64_t *keys; /* the current chain */
    size_t cap_keys;
    seen_t *reqs; /* per request index */
    size_t cap_reqs;
    uint32_t *rounds; /* per session: requests so far */
    size_t cap_rounds;
    uint64_t index; /* of the current entry */
} sg_t;

static kvt_status_t oom(const sg_t *r)
{
    return kvt_no_memory(r->err, r->path);
}

static kvt_status_t bad(const sg_t *r, uint64_t line, const char *member, const char *msg)
{
    char field[64];
    snprintf(field, sizeof(field), "[%llu]%s%s", (unsigned long long)r->index, member ? "." : "",
             member ? member : "");
    return kvt_jp_bad(r->jp, line, field, msg);
}

static kvt_status_t text_sink(void *ctx, const char *bytes, size_t n)
{
    sg_t *r = ctx;
    if (r->too_long || n > MAX_TEXT - r->len) {
        r->too_long = true; /* reported once the string is read */
        return KVT_OK;
    }
    if (!kvt_grow_array((void **)&r->text, &r->cap, r->len + n, 1)) {
        return oom(r);
    }
    memcpy(r->text + r->len, bytes, n);
    r->len += n;
    return KVT_OK;
}

/* Key of this input's first `bytes` bytes (bytes <= r->len, > 0), from its chunk keys. */
static uint64_t prefix_key(const sg_t *r, uint64_t bytes)
{
    size_t c = r->ch.chunk;
    size_t full = (size_t)(bytes / c), rest = (size_t)(bytes % c);
    if (rest == 0) {
        return r->ch.keys[full - 1];
    }
    uint64_t h = kvt_fnv_u64(KVT_FNV_OFFSET, full ? r->ch.keys[full - 1] : 0);
    h = kvt_fnv_bytes(h, (const unsigned char *)r->text + full * c, rest);
    return kvt_chunk_key(h, rest);
}

static kvt_status_t request(sg_t *r, uint64_t line, uint64_t out)
{
    kvt_trace_t *t = r->t;
    kvt_status_t st;
    uint64_t key;

    kvt_chunker_reset(&r->ch);
    if (kvt_chunker_feed(&r->ch, r->text, r->len) != KVT_OK) {
        return oom(r);
    }
    size_t n = r->ch.nkeys;
    if (!kvt_grow_array((void **)&r->keys, &r->cap_keys, n + 1, sizeof(*r->keys))) {
        return oom(r);
    }
    if (n > 0) {
        memcpy(r->keys, r->ch.keys, n * sizeof(*r->keys));
    }
    if (kvt_chunker_partial(&r->ch, &key)) {
        r->keys[n++] = key;
    }
    uint64_t parent = kvt_trace_find_parent(t, r->keys, n, 0);
    if (parent != KVT_NO_PARENT && (r->reqs[parent].bytes > r->len ||
                                    prefix_key(r, r->reqs[parent].bytes) != r->reqs[parent].last)) {
        parent = KVT_NO_PARENT; /* shares blocks, but its input is not a prefix of this one */
    }
    uint32_t session;
    if (parent != KVT_NO_PARENT) {
        session = kvt_trace_session_of(t, parent);
    } else {
        if (t->max_session == UINT32_MAX) {
            return bad(r, line, NULL, "too many sessions");
        }
        session = t->max_session;
    }
    if (!kvt_grow_array((void **)&r->rounds, &r->cap_rounds, (size_t)session + 1, sizeof(*r->rounds)) ||
        !kvt_grow_array((void **)&r->reqs, &r->cap_reqs, t->info.requests + 1, sizeof(*r->reqs))) {
        return oom(r);
    }
    if (parent == KVT_NO_PARENT) {
        r->rounds[session] = 0;
    }
    uint64_t t_us = session * USER_GAP_US + r->rounds[session]++ * ROUND_GAP_US;
    uint64_t in = (r->len + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN;
    kvt_transition_t tr = parent != KVT_NO_PARENT ? KVT_TRANS_NEXT_TURN : KVT_TRANS_NEW_SESSION;
    r->reqs[t->info.requests] = (seen_t){.bytes = r->len, .last = r->keys[n - 1]};
    if (kvt_trace_begin_request(t, t_us, (uint32_t)in, (uint32_t)out, session, tr, parent,
                                KVT_BLOCK_USER) != KVT_OK) {
        return oom(r);
    }
    for (size_t i = 0; i < n; i++) {
        st = kvt_trace_add_block(t, r->keys[i],
                                 parent != KVT_NO_PARENT ? KVT_BLOCK_INFER : KVT_BLOCK_USER);
        if (st != KVT_OK) {
            return kvt_error_set(r->err, st, "%s:%llu: %s", r->path, (unsigned long long)line,
                                 kvt_status_str(st));
        }
    }
    return KVT_OK;
}

/* One entry: {"input": string, "output_length": integer, ...}. */
static kvt_status_t entry(sg_t *r)
{
    kvt_jp_t *p = r->jp;
    kvt_jp_kind_t k;
    kvt_status_t st;
    bool first = true, more, have_input = false, have_out = false;
    uint64_t out = 0;
    char msg[96];

    if ((st = kvt_jp_peek(p, &k)) != KVT_OK) {
        return st;
    }
    uint64_t line = p->value_line;
    if (k != KVT_JP_OBJECT) {
        return bad(r, line, NULL, "expected an object {input, output_length}");
    }
    if ((st = kvt_jp_open(p)) != KVT_OK) {
        return st;
    }
    while ((st = kvt_jp_member(p, &first, &more)) == KVT_OK && more) {
        if (!p->key_long && strcmp(p->key, "input") == 0) {
            if ((st = kvt_jp_peek(p, &k)) != KVT_OK) {
                return st;
            }
            if (k != KVT_JP_STRING) {
                return bad(r, p->value_line, "input", "expected a string");
            }
            uint64_t at = p->value_line;
            r->len = 0;
            r->too_long = false;
            if ((st = kvt_jp_string(p, text_sink, r)) != KVT_OK) {
                return st;
            }
            if (r->too_long) {
                snprintf(msg, sizeof(msg), "longer than %u bytes (%u tokens of %d bytes)", MAX_TEXT,
                         MAX_TEXT / BYTES_PER_TOKEN, BYTES_PER_TOKEN);
                return bad(r, at, "input", msg);
            }
            if (r->len == 0) {
                return bad(r, at, "input", "empty");
            }
            have_input = true;
        } else if (!p->key_long && strcmp(p->key, "output_length") == 0) {
            double v;
            if ((st = kvt_jp_peek(p, &k)) != KVT_OK) {
                return st;
            }
            uint64_t at = p->value_line;
            if (k != KVT_JP_NUMBER) {
                return bad(r, at, "output_length", "expected an integer");
            }
            if ((st = kvt_jp_number(p, &v)) != KVT_OK) {
                return st;
            }
            if (!isfinite(v) || v != floor(v)) {
                return bad(r, at, "output_length", "expected an integer");
            }
            if (v < 0 || v > (double)UINT32_MAX) {
                return bad(r, at, "output_length", "out of range");
            }
            out = (uint64_t)v;
            have_out = true;
        } else if ((st = kvt_jp_skip(p)) != KVT_OK) {
            return st;
        }
    }
    if (st != KVT_OK) {
        return st;
    }
    if (!have_input) {
        return bad(r, line, "input", "missing");
    }
    if (!have_out) {
        return bad(r, line, "output_length", "missing");
    }
    return request(r, line, out);
}

kvt_status_t kvt_read_sharegpt(FILE *f, const char *path, uint32_t bt, kvt_trace_t *t,
                               kvt_error_t *err)
{
    sg_t r = {.path = path, .err = err, .t = t, .bt = bt};
    kvt_jp_kind_t k;
    kvt_status_t st;
    bool first = true, more;

    if (bt == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID, "%s: block_tokens must be positive", path);
    }
    r.jp = malloc(sizeof(*r.jp));
    if (r.jp == NULL) {
        return oom(&r);
    }
    kvt_jp_init(r.jp, f, path, err);
    kvt_chunker_init(&r.ch, (size_t)bt * BYTES_PER_TOKEN);
    if ((st = kvt_jp_peek(r.jp, &k)) == KVT_OK) {
        if (k != KVT_JP_ARRAY) {
            st = kvt_jp_bad(r.jp, r.jp->value_line, NULL,
                            "expected a JSON array of {input, output_length} objects");
        } else {
            st = kvt_jp_open(r.jp);
        }
    }
    for (r.index = 0; st == KVT_OK; r.index++) {
        if ((st = kvt_jp_element(r.jp, &first, &more)) != KVT_OK || !more) {
            break;
        }
        st = entry(&r);
    }
    if (st == KVT_OK) {
        st = kvt_jp_finish(r.jp);
    }
    if (st == KVT_OK && t->info.requests == 0) {
        st = kvt_error_set(err, KVT_ERR_PARSE, "%s: no requests", path);
    }
    kvt_chunker_fini(&r.ch);
    free(r.text);
    free(r.keys);
    free(r.reqs);
    free(r.rounds);
    free(r.jp);
    return st;
}
