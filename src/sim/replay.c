/*
 * The replay engine: one cache tier, virtual time, any policy.
 *
 * The engine owns residency (one byte per block id) and the hit accounting; the policy owns
 * ordering and answers which block leaves (policy/policy.h). For each request in arrival order:
 * measure the longest cached prefix, then walk the chain head first, calling hit() for resident
 * blocks and miss() for the others. Policies that need the future (Belady) get, with each access,
 * the request and position of the block's next use (sim/next_use.h).
 */
#include <kvtier/replay.h>

#include "common/error.h"
#include "policy/policy.h"
#include "sim/next_use.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"lru",        "lfu",    "arc",         "s3fifo",
                                    "predictive", "belady", "belady-head", NULL};

const char *const *kvt_replay_policies(void)
{
    return names;
}

void kvt_replay_opts_init(kvt_replay_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->opts_size = sizeof(*opts);
    opts->policy = "lru";
}

/* The policy's outcomes per block type x transition, as Beta(1 + successes, 1 + failures). */
static void report_posteriors(const kvt_policy_ops_t *ops, const void *ctx, kvt_replay_result_t *r)
{
    enum { N = KVT_BLOCK_TYPES * KVT_TRANSITIONS };
    double succ[N], fail[N];
    ops->paper_counts(ctx, succ, fail);
    for (unsigned i = 0; i < N; i++) {
        kvt_reuse_posterior_t *q = &r->posteriors[i];
        q->block_type = (uint8_t)(i / KVT_TRANSITIONS);
        q->transition = (uint8_t)(i % KVT_TRANSITIONS);
        q->alpha = 1 + succ[i];
        q->beta = 1 + fail[i];
        q->mean = q->alpha / (q->alpha + q->beta);
    }
    r->nposteriors = N;
}

kvt_status_t kvt_replay_run(const kvt_trace_t *trace, const kvt_replay_opts_t *user,
                            kvt_replay_result_t *result_p, kvt_error_t *err)
{
    kvt_replay_opts_t o;
    kvt_replay_result_t r;
    const kvt_policy_ops_t *ops;
    kvt_policy_cfg_t cfg;
    void *ctx = NULL;
    uint8_t *resident = NULL;
    uint64_t *next = NULL;
    kvt_status_t st;

    if (trace == NULL || result_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_replay_run: NULL argument");
    }
    kvt_replay_opts_init(&o);
    if (user != NULL) {
        if (user->opts_size == 0 || user->opts_size > sizeof(o)) {
            return kvt_error_set(err, KVT_ERR_INVALID, "replay options: unknown opts_size");
        }
        memcpy(&o, user, user->opts_size);
    }
    const kvt_trace_info_t *in = kvt_trace_info(trace);
    const kvt_trace_request_t *reqs = kvt_trace_requests(trace);
    const uint32_t *refs = kvt_trace_refs(trace);
    const uint8_t *types = kvt_trace_block_types(trace);

    memset(&cfg, 0, sizeof(cfg));
    ops = kvt_policy_resolve(o.policy, &cfg.tail_first);
    if (ops == NULL) {
        return kvt_error_set(err, KVT_ERR_NOT_FOUND,
                             "unknown policy \"%s\" (lru, lfu, arc, s3fifo, predictive, belady, "
                             "belady-head)",
                             o.policy ? o.policy : "(null)");
    }
    cfg.nblocks = in->blocks;
    cfg.capacity = o.capacity_tokens / in->block_tokens;
    cfg.block_tokens = in->block_tokens;

    memset(&r, 0, sizeof(r));
    r.policy = cfg.tail_first ? ops->name : "belady-head";
    r.capacity_tokens = o.capacity_tokens;
    r.capacity_blocks = cfg.capacity;
    r.requests = in->requests;
    r.input_tokens = in->input_tokens;
    r.block_refs = in->refs;

    resident = calloc(in->blocks ? in->blocks : 1, 1);
    if (resident == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "replay: out of memory");
    }
    if ((ops->flags & KVT_POLICY_NEEDS_FUTURE) &&
        (st = kvt_next_uses(trace, &next, err)) != KVT_OK) {
        free(resident);
        return st;
    }
    if ((st = ops->create(&cfg, &ctx)) != KVT_OK) {
        free(resident);
        free(next);
        return kvt_error_set(err, st, "replay: %s: cannot create the policy: %s", ops->name,
                             kvt_status_str(st));
    }

    uint64_t used = 0;
    uint64_t tick = in->requests / 100 + 1;
    for (uint64_t i = 0; i < in->requests; i++) {
        const kvt_trace_request_t *q = &reqs[i];
        const uint32_t *chain = refs + q->first_ref;
        uint32_t k = 0;
        while (k < q->nblocks && resident[chain[k]]) {
            k++;
        }
        r.block_hits += k;
        for (uint32_t p = k; p < q->nblocks; p++) {
            r.resident_refs += resident[chain[p]]; /* resident at arrival, past the prefix */
        }
        r.resident_refs += k;
        r.hit_tokens += k == q->nblocks ? q->input_tokens : (uint64_t)k * in->block_tokens;
        if (cfg.capacity == 0) {
            continue;
        }
        kvt_access_t a = {.chain_len = q->nblocks,
                          .transition = q->transition,
                          .session = q->session,
                          .req = i,
                          .t_us = q->t_us};
        for (uint32_t p = 0; p < q->nblocks; p++) {
            a.block = chain[p];
            a.pos = p;
            a.block_type = types[a.block];
            a.partial = p + 1 == q->nblocks && q->input_tokens % in->block_tokens != 0;
            a.next_use = next ? next[q->first_ref + p] : KVT_NEVER;
            if (resident[a.block]) {
                ops->hit(ctx, &a);
                continue;
            }
            bool full = used == cfg.capacity;
            uint32_t v = ops->miss(ctx, &a, full);
            resident[a.block] = 1;
            r.insertions++;
            if (v != KVT_NO_BLOCK) {
                resident[v] = 0;
                r.evictions++;
            } else {
                used++;
            }
        }
        if (o.progress != NULL && i % tick == 0) {
            o.progress(i, in->requests, o.progress_arg);
        }
    }
    if (o.progress != NULL) {
        o.progress(in->requests, in->requests, o.progress_arg);
    }
    r.token_hit_rate = r.input_tokens ? (double)r.hit_tokens / (double)r.input_tokens : 0;
    if (ops->paper_counts != NULL && cfg.capacity > 0) {
        report_posteriors(ops, ctx, &r);
    }
    r.block_hit_rate = r.block_refs ? (double)r.block_hits / (double)r.block_refs : 0;
    ops->destroy(ctx);
    free(resident);
    free(next);
    *result_p = r;
    return KVT_OK;
}
