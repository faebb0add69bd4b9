/*
 * The trace object and its builder.
 *
 * A trace is three flat arrays: requests (40 bytes each), block references (4 bytes each: dense
 * ids interned from whatever the file uses) and one type byte per distinct block. Readers feed
 * the builder request by request; it interns ids, types new blocks by a fixed rule when the file
 * does not say (docs/traces.md) and remembers, per block, the last request that held it, so a
 * reader of a trace without session ids can find the request a chain continues. finish() orders
 * requests by arrival with a stable sort (ties keep file order) and drops the building state,
 * leaving only what replay needs.
 */
#include "sim/reader_util.h"
#include "sim/trace_build.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const format_names[] = {"auto",     "mooncake", "bailian", "agent-csv",
                                            "swe-traj", "sharegpt", "tokens",  "azure"};
static const char *const type_names[] = {"system", "tool", "user", "output"};
static const char *const trans_names[] = {"next_turn", "tool_result", "handoff", "new_session"};

const char *kvt_trace_format_name(kvt_trace_format_t f)
{
    return (unsigned)f < sizeof(format_names) / sizeof(format_names[0]) ? format_names[f] : "?";
}

kvt_status_t kvt_trace_format_parse(const char *name, kvt_trace_format_t *f_p)
{
    for (size_t i = 0; name && i < sizeof(format_names) / sizeof(format_names[0]); i++) {
        if (strcasecmp(name, format_names[i]) == 0) {
            *f_p = (kvt_trace_format_t)i;
            return KVT_OK;
        }
    }
    return KVT_ERR_NOT_FOUND;
}

const char *kvt_block_type_name(kvt_block_type_t t)
{
    return (unsigned)t < KVT_BLOCK_TYPES ? type_names[t] : "?";
}

const char *kvt_transition_name(kvt_transition_t t)
{
    return (unsigned)t < KVT_TRANSITIONS ? trans_names[t] : "?";
}

static kvt_status_t grow(void **p, size_t *cap, size_t need, size_t elem)
{
    return kvt_grow_array(p, cap, need, elem) ? KVT_OK : KVT_ERR_NO_MEMORY;
}

kvt_status_t kvt_trace_new(const char *origin, kvt_trace_format_t format, uint32_t block_tokens,
                           kvt_trace_t **trace_p)
{
    kvt_trace_t *t = calloc(1, sizeof(*t));
    if (t == NULL || kvt_idmap_init(&t->ids, 1024) != KVT_OK) {
        free(t);
        return KVT_ERR_NO_MEMORY;
    }
    size_t n = strlen(origin);
    if (n >= sizeof(t->origin)) {
        n = sizeof(t->origin) - 1;
    }
    memcpy(t->origin, origin, n);
    t->info.origin = t->origin;
    t->info.format = format;
    t->info.block_tokens = block_tokens;
    t->parent = KVT_NO_PARENT;
    *trace_p = t;
    return KVT_OK;
}

kvt_status_t kvt_trace_begin_request(kvt_trace_t *t, uint64_t t_us, uint32_t input_tokens,
                                     uint32_t output_tokens, uint32_t session,
                                     kvt_transition_t transition, uint64_t parent,
                                     kvt_block_type_t new_content)
{
    if (grow((void **)&t->reqs, &t->cap_reqs, t->info.requests + 1, sizeof(*t->reqs)) != KVT_OK) {
        return KVT_ERR_NO_MEMORY;
    }
    kvt_trace_request_t *r = &t->reqs[t->info.requests++];
    memset(r, 0, sizeof(*r));
    r->t_us = t_us;
    r->first_ref = t->info.refs;
    r->input_tokens = input_tokens;
    r->output_tokens = output_tokens;
    r->session = session;
    r->transition = (uint8_t)transition;
    t->parent = parent < t->info.requests - 1 ? parent : KVT_NO_PARENT;
    t->new_content = (uint8_t)new_content;
    if (session + 1 > t->max_session) {
        t->max_session = session + 1;
    }
    t->info.input_tokens += input_tokens;
    return KVT_OK;
}

static uint8_t infer_type(const kvt_trace_t *t, uint32_t pos)
{
    if (t->parent == KVT_NO_PARENT) {
        return pos == 0 ? KVT_BLOCK_SYSTEM : t->new_content;
    }
    const kvt_trace_request_t *p = &t->reqs[t->parent];
    uint64_t start = (uint64_t)pos * t->info.block_tokens;
    if (start >= p->input_tokens && start < (uint64_t)p->input_tokens + p->output_tokens) {
        return KVT_BLOCK_OUTPUT;
    }
    return t->new_content;
}

kvt_status_t kvt_trace_add_block(kvt_trace_t *t, uint64_t key, unsigned type)
{
    kvt_trace_request_t *r = &t->reqs[t->info.requests - 1];
    uint32_t id;
    kvt_status_t st = kvt_idmap_intern(&t->ids, key, &id);

    if (st != KVT_OK) {
        return st;
    }
    if (grow((void **)&t->refs, &t->cap_refs, t->info.refs + 1, sizeof(*t->refs)) != KVT_OK) {
        return KVT_ERR_NO_MEMORY;
    }
    if (id >= t->info.blocks) {
        /* a new block: type it, and make room in the per-block arrays */
        if (grow((void **)&t->types, &t->cap_types, (size_t)id + 1, 1) != KVT_OK ||
            grow((void **)&t->last_req, &t->cap_last, (size_t)id + 1, sizeof(*t->last_req)) !=
                KVT_OK) {
            return KVT_ERR_NO_MEMORY;
        }
        t->types[id] = type == KVT_BLOCK_INFER ? infer_type(t, r->nblocks) : (uint8_t)type;
        t->info.blocks = (uint64_t)id + 1;
    }
    t->last_req[id] = (uint32_t)(t->info.requests - 1);
    t->refs[t->info.refs++] = id;
    r->nblocks++;
    return KVT_OK;
}

kvt_status_t kvt_trace_add_block_id(kvt_trace_t *t, uint32_t id, kvt_block_type_t type)
{
    kvt_trace_request_t *r = &t->reqs[t->info.requests - 1];

    if (id > t->info.blocks || id == UINT32_MAX) {
        return KVT_ERR_INVALID;
    }
    if (grow((void **)&t->refs, &t->cap_refs, t->info.refs + 1, sizeof(*t->refs)) != KVT_OK) {
        return KVT_ERR_NO_MEMORY;
    }
    if (id == t->info.blocks) {
        if (grow((void **)&t->types, &t->cap_types, (size_t)id + 1, 1) != KVT_OK) {
            return KVT_ERR_NO_MEMORY;
        }
        t->types[id] = (uint8_t)type;
        t->info.blocks++;
    }
    t->refs[t->info.refs++] = id;
    r->nblocks++;
    return KVT_OK;
}

uint64_t kvt_trace_find_parent(const kvt_trace_t *t, const uint64_t *keys, size_t n,
                               size_t min_depth)
{
    for (size_t k = n; k > min_depth; k--) {
        uint32_t id;
        if (kvt_idmap_find(&t->ids, keys[k - 1], &id)) {
            return t->last_req[id];
        }
    }
    return KVT_NO_PARENT;
}

uint32_t kvt_trace_session_of(const kvt_trace_t *t, uint64_t req)
{
    return t->reqs[req].session;
}

static int by_time(const void *a, const void *b)
{
    const kvt_trace_request_t *x = a, *y = b;
    if (x->t_us != y->t_us) {
        return x->t_us < y->t_us ? -1 : 1;
    }
    /* ties keep file order: chains are appended in file order */
    return x->first_ref < y->first_ref ? -1 : x->first_ref > y->first_ref;
}

kvt_status_t kvt_trace_finish(kvt_trace_t *t)
{
    bool sorted = true;
    for (uint64_t i = 1; i < t->info.requests; i++) {
        sorted &= t->reqs[i - 1].t_us <= t->reqs[i].t_us;
    }
    if (!sorted) {
        qsort(t->reqs, t->info.requests, sizeof(*t->reqs), by_time);
    }
    t->info.sessions = t->max_session;
    t->info.duration_us = t->info.requests ? t->reqs[t->info.requests - 1].t_us : 0;
    kvt_idmap_fini(&t->ids);
    free(t->last_req);
    t->last_req = NULL;
    return KVT_OK;
}

void kvt_trace_destroy(kvt_trace_t *t)
{
    if (t == NULL) {
        return;
    }
    kvt_idmap_fini(&t->ids);
    free(t->last_req);
    free(t->reqs);
    free(t->refs);
    free(t->types);
    free(t);
}

const kvt_trace_info_t *kvt_trace_info(const kvt_trace_t *t)
{
    return &t->info;
}

const kvt_trace_request_t *kvt_trace_requests(const kvt_trace_t *t)
{
    return t->reqs;
}

const uint32_t *kvt_trace_refs(const kvt_trace_t *t)
{
    return t->refs;
}

const uint8_t *kvt_trace_block_types(const kvt_trace_t *t)
{
    return t->types;
}
