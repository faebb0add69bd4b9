/*
 * Multi-tier replay: the same policies, one instance per tier of a node, with demotion.
 *
 * Residency is one byte per block with a bit per tier. Tier 0 sees every access: a block held
 * there is a hit; any other block is admitted (the policy may refuse it -- bypass -- and it then
 * goes down like an eviction: computed KV is demoted, not dropped). A block found in a lower tier
 * is also touched there (the tier served it and keeps its copy). Every eviction from tier k
 * offers the victim to tier k+1 as a demotion (kvt_access_t.demoted), which may in turn evict;
 * the cascade ends at the last tier, where victims are dropped. Hits are counted at arrival, as in
 * the single-tier engine (kvtier/replay.h), split by the fastest tier holding each prefix block.
 */
#include <kvtier/replay.h>

#include "common/error.h"
#include "policy/policy.h"
#include "sim/next_use.h"

#include <stdlib.h>
#include <string.h>

void kvt_node_replay_opts_init(kvt_node_replay_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->opts_size = sizeof(*opts);
    opts->policy = "lru";
}

void kvt_node_replay_result_release(kvt_node_replay_result_t *result)
{
    if (result != NULL) {
        free(result->requests);
        result->requests = NULL;
    }
}

typedef struct tier_rt {
    const kvt_policy_ops_t *ops;
    void *ctx;
    uint64_t cap, used;
    bool skipped; /* not worth holding KV in: demotions pass it by */
} tier_rt_t;

typedef struct engine {
    tier_rt_t t[KVT_MAX_TIERS];
    uint32_t n;
    uint8_t *where;     /* bit k: held by tier k */
    uint64_t *last_us;  /* per block: last access */
    uint64_t *next_use; /* per block: next use as of its last access (future-needing policies) */
    const uint8_t *types;
    kvt_node_replay_result_t *r;
} engine_t;

/* Offer block b to tiers from k down, as a demotion; victims cascade further down. */
static void demote(engine_t *e, uint32_t b, uint32_t k, uint64_t now)
{
    while (k < e->n && b != KVT_NO_BLOCK) {
        tier_rt_t *t = &e->t[k];
        if (t->cap == 0 || t->skipped) {
            k++;
            continue;
        }
        if ((e->where[b] >> k) & 1) {
            return; /* already holds a copy */
        }
        kvt_access_t a = {.block = b,
                          .block_type = e->types[b],
                          .demoted = true,
                          .t_us = now,
                          .last_us = e->last_us[b],
                          .next_use = e->next_use ? e->next_use[b] : KVT_NEVER};
        bool full = t->used == t->cap;
        uint32_t v = t->ops->miss(t->ctx, &a, full);
        e->r->tiers[k].insertions++;
        e->where[b] |= (uint8_t)(1u << k);
        if (v == KVT_NO_BLOCK) {
            t->used++;
            return;
        }
        e->where[v] &= (uint8_t) ~(1u << k);
        e->r->tiers[k].evictions++;
        b = v;
        k++;
    }
}

kvt_status_t kvt_node_replay_run(const kvt_trace_t *trace, const kvt_node_replay_opts_t *user,
                                 kvt_node_replay_result_t *result_p, kvt_error_t *err)
{
    kvt_node_replay_opts_t o;
    kvt_node_replay_result_t r;
    engine_t e;
    uint64_t *next_ref = NULL;
    kvt_status_t st = KVT_OK;

    if (trace == NULL || result_p == NULL || user == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_node_replay_run: NULL argument");
    }
    kvt_node_replay_opts_init(&o);
    if (user->opts_size == 0 || user->opts_size > sizeof(o)) {
        return kvt_error_set(err, KVT_ERR_INVALID, "node replay options: unknown opts_size");
    }
    memcpy(&o, user, user->opts_size);
    if (o.node == NULL || o.node->ntiers == 0 || o.kv_bytes_per_token == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "node replay: a node with tiers and the KV bytes per token are "
                             "required");
    }
    const kvt_trace_info_t *in = kvt_trace_info(trace);
    const kvt_trace_request_t *reqs = kvt_trace_requests(trace);
    const uint32_t *refs = kvt_trace_refs(trace);

    bool tail_first;
    const kvt_policy_ops_t *ops = kvt_policy_resolve(o.policy, &tail_first);
    if (ops == NULL) {
        return kvt_error_set(err, KVT_ERR_NOT_FOUND, "unknown policy \"%s\"",
                             o.policy ? o.policy : "(null)");
    }

    memset(&r, 0, sizeof(r));
    memset(&e, 0, sizeof(e));
    e.r = &r;
    e.types = kvt_trace_block_types(trace);
    e.n = o.tiers && o.tiers < o.node->ntiers ? o.tiers : o.node->ntiers;
    r.ntiers = e.n;
    uint64_t block_bytes = o.kv_bytes_per_token * in->block_tokens;
    e.where = calloc(in->blocks ? in->blocks : 1, 1);
    e.last_us = calloc(in->blocks ? in->blocks : 1, sizeof(*e.last_us));
    if (o.record) {
        r.requests = calloc(in->requests ? in->requests : 1, sizeof(*r.requests));
    }
    if (e.where == NULL || e.last_us == NULL || (o.record && r.requests == NULL)) {
        st = kvt_error_set(err, KVT_ERR_NO_MEMORY, "node replay: out of memory");
        goto out;
    }
    if (ops->flags & KVT_POLICY_NEEDS_FUTURE) {
        e.next_use = malloc((in->blocks ? in->blocks : 1) * sizeof(*e.next_use));
        if (e.next_use == NULL) {
            st = kvt_error_set(err, KVT_ERR_NO_MEMORY, "node replay: out of memory");
            goto out;
        }
        if ((st = kvt_next_uses(trace, &next_ref, err)) != KVT_OK) {
            goto out;
        }
    }
    for (uint32_t k = 0; k < e.n; k++) {
        kvt_policy_cfg_t cfg = {.nblocks = in->blocks,
                                .capacity = o.node->tiers[k].capacity_bytes / block_bytes,
                                .block_tokens = in->block_tokens,
                                .tail_first = tail_first,
                                .upper = k > 0 ? e.t[k - 1].ctx : NULL};
        e.t[k].ops = ops;
        e.t[k].cap = cfg.capacity;
        r.tiers[k].capacity_blocks = cfg.capacity;
        if (k > 0) {
            const kvt_tier_desc_t *d = &o.node->tiers[k];
            r.tiers[k].fetch_s = d->latency_us * 1e-6 + (double)block_bytes / (d->read_GBps * 1e9);
        }
        if (o.model != NULL && o.node->gpu != NULL) {
            kvt_proj_opts_t po;
            kvt_proj_opts_init(&po);
            r.tiers[k].recompute_s = kvt_prefill_flops(o.model, in->block_tokens, 0) /
                                     (po.efficiency * o.node->gpu->bf16_tflops * 1e12);
            e.t[k].skipped = r.tiers[k].skipped =
                k > 0 && r.tiers[k].fetch_s >= r.tiers[k].recompute_s;
        }
        if ((st = ops->create(&cfg, &e.t[k].ctx)) != KVT_OK) {
            st = kvt_error_set(err, st, "node replay: cannot create %s for tier %u", ops->name, k);
            goto out;
        }
    }
    r.total.policy = tail_first ? ops->name : "belady-head";
    r.total.capacity_blocks = e.t[0].cap;
    r.total.capacity_tokens = e.t[0].cap * in->block_tokens;
    r.total.requests = in->requests;
    r.total.input_tokens = in->input_tokens;
    r.total.block_refs = in->refs;

    uint64_t tick = in->requests / 100 + 1;
    for (uint64_t i = 0; i < in->requests; i++) {
        const kvt_trace_request_t *q = &reqs[i];
        const uint32_t *chain = refs + q->first_ref;
        uint32_t m = 0;
        while (m < q->nblocks && e.where[chain[m]] != 0) {
            m++;
        }
        for (uint32_t p = 0; p < q->nblocks; p++) {
            r.total.resident_refs += e.where[chain[p]] != 0;
        }
        r.total.block_hits += m;
        uint64_t hit = m == q->nblocks ? q->input_tokens : (uint64_t)m * in->block_tokens;
        r.total.hit_tokens += hit;
        for (uint32_t p = 0; p < m; p++) {
            uint32_t k = (uint32_t)__builtin_ctz(e.where[chain[p]]);
            uint64_t tok =
                p + 1 == q->nblocks ? hit - (uint64_t)p * in->block_tokens : in->block_tokens;
            r.tiers[k].hit_tokens += tok;
            r.tiers[k].hit_blocks++;
            if (o.record) {
                r.requests[i].hit_tokens[k] += (uint32_t)tok;
            }
        }
        if (o.record) {
            r.requests[i].t_us = q->t_us;
            r.requests[i].input_tokens = q->input_tokens;
        }
        kvt_access_t a = {.chain_len = q->nblocks,
                          .transition = q->transition,
                          .session = q->session,
                          .req = i,
                          .t_us = q->t_us};
        for (uint32_t p = 0; p < q->nblocks; p++) {
            uint32_t b = chain[p];
            a.block = b;
            a.pos = p;
            a.block_type = e.types[b];
            a.partial = p + 1 == q->nblocks && q->input_tokens % in->block_tokens != 0;
            a.next_use = next_ref ? next_ref[q->first_ref + p] : KVT_NEVER;
            if (e.next_use != NULL) {
                e.next_use[b] = a.next_use;
            }
            /* lower tiers that hold it served it: touch them */
            for (uint32_t k = 1; k < e.n; k++) {
                if ((e.where[b] >> k) & 1) {
                    e.t[k].ops->hit(e.t[k].ctx, &a);
                }
            }
            e.last_us[b] = q->t_us;
            tier_rt_t *t0 = &e.t[0];
            if (e.where[b] & 1) {
                t0->ops->hit(t0->ctx, &a);
                continue;
            }
            if (t0->cap == 0) {
                demote(&e, b, 1, q->t_us);
                continue;
            }
            uint32_t v = t0->ops->miss(t0->ctx, &a, t0->used == t0->cap);
            e.where[b] |= 1;
            r.tiers[0].insertions++;
            if (v == KVT_NO_BLOCK) {
                t0->used++;
                continue;
            }
            e.where[v] &= (uint8_t)~1u;
            r.tiers[0].evictions++;
            demote(&e, v, 1, q->t_us);
        }
        if (o.progress != NULL && i % tick == 0) {
            o.progress(i, in->requests, o.progress_arg);
        }
    }
    if (o.progress != NULL) {
        o.progress(in->requests, in->requests, o.progress_arg);
    }
    r.total.insertions = r.tiers[0].insertions;
    r.total.evictions = r.tiers[0].evictions;
    r.total.token_hit_rate =
        r.total.input_tokens ? (double)r.total.hit_tokens / (double)r.total.input_tokens : 0;
    r.total.block_hit_rate =
        r.total.block_refs ? (double)r.total.block_hits / (double)r.total.block_refs : 0;

out:
    for (uint32_t k = 0; k < e.n; k++) {
        if (e.t[k].ctx != NULL) {
            e.t[k].ops->destroy(e.t[k].ctx);
        }
    }
    free(e.where);
    free(e.last_us);
    free(e.next_use);
    free(next_ref);
    if (st != KVT_OK) {
        free(r.requests);
        return st;
    }
    *result_p = r;
    return KVT_OK;
}
