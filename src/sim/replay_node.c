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
 * With opts.hold_cost (off by default) a demotion skips the tiers where the block's value,
 * P(reuse) (recompute - fetch) - holding cost over the horizon (tier_value()), is not positive,
 * so it lands in the highest lower tier that values it or is dropped (docs/replay.md).
 *
 * PREFETCH (policies flagged KVT_POLICY_PREFETCH: predictive). A session-turn model
 * (policy/predictor.h), learned online from the requests seen so far, gives after each request
 * the probability that its session sends another one within the horizon and the distribution of
 * the gap. When that probability exceeds PF_MIN_P (0.5: a prefetch is more likely used than
 * wasted; the Beta(1, 1) prior alone, 0.5, never prefetches), a job is scheduled so that the
 * session's chain, read from the fastest lower tier (latency + chain bytes / read bandwidth), lands by the gap's PF_QUANTILE-quantile after the
 * request. When the replay reaches the job's start, if the session has sent nothing since, its
 * last chain is walked head first: blocks already in T0 are passed, blocks in a lower tier are
 * offered to T0's policy as prefetches (it may evict a block worth less, which is demoted, or
 * refuse, which ends the job), and a block held nowhere ends the job (the prefix stops there).
 * Each copy occupies one of the node's per-instance links (the instance's link that frees
 * first) for latency (once per run of blocks from one tier) + bytes / the source tier's read
 * bandwidth; the block is in T0 at once (space is reserved) but usable only when its copy
 * completes: a request arriving earlier is served from the source tier (copy-on-promote keeps
 * it there). No future knowledge: the model sees only past requests, and the jobs only the
 * tiers' contents at their start.
 */
#include <kvtier/replay.h>

#include "common/error.h"
#include "policy/policy.h"
#include "policy/predictor.h"
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

#define PF_MIN_P     0.5                  /* prefetch a session more likely than this to return */
#define PF_QUANTILE  0.25                 /* ... to land by this quantile of its predicted gap */
#define PF_HORIZON_US (600ull * 1000000)  /* a session idle this long has ended (as predictive) */
#define PF_MAX_LINKS 4096                 /* instances beyond this share links */

typedef struct pf_job {
    uint64_t start_us;
    uint64_t req; /* the session's last request when scheduled */
} pf_job_t;

typedef struct engine {
    tier_rt_t t[KVT_MAX_TIERS];
    uint32_t n;
    uint8_t *where;     /* bit k: held by tier k */
    uint64_t *last_us;  /* per block: last access */
    uint64_t *next_use; /* per block: next use as of its last access (future-needing policies) */
    const uint8_t *types;
    kvt_node_replay_result_t *r;
    /* prefetch (NULL arrays when off) */
    const kvt_trace_request_t *reqs;
    const uint32_t *refs;
    uint64_t block_bytes;
    uint32_t block_tokens;
    const kvt_node_desc_t *node;
    uint64_t *ready_us;  /* per block: when its T0 copy is complete */
    uint8_t *pf_src;     /* per block: 1 + the tier a pending prefetch copied it from, 0: none */
    uint64_t *sess_last; /* per session: 1 + its last request, 0: none */
    uint32_t *sess_depth;
    uint8_t *req_cls;    /* per request: its turn class */
    uint64_t expired;    /* requests whose horizon has been checked */
    kvt_turn_model_t turns;
    pf_job_t *heap;
    uint64_t nheap, heap_cap;
    uint64_t *link_free; /* per instance link: busy until */
    uint32_t nlinks;
    bool hold;           /* opts.hold_cost: demote by value */
} engine_t;

/* Default holding prices, USD per GB-hour, per tier kind (docs/replay.md: indicative cloud
 * prices, assumptions like the GPU's): HBM at an H100's $2.99/h over 80 GB (never a demotion
 * target: priced for completeness); DRAM $0.0036 (the price difference of a memory-optimised over
 * a compute-optimised cloud instance per GiB); CXL 3/4 of DRAM; NVMe $0.00011 (block storage at
 * $0.08 per GB-month); a memory pool as DRAM; PFS $0.0002 (a managed parallel file system at
 * $0.145 per GB-month). */
double kvt_tier_hold_usd_per_gb_hour(kvt_tier_kind_t kind)
{
    switch (kind) {
    case KVT_TIER_HBM: return 2.99 / 80;
    case KVT_TIER_DRAM: return 0.0036;
    case KVT_TIER_CXL: return 0.0027;
    case KVT_TIER_NVME: return 0.00011;
    case KVT_TIER_POOL: return 0.0036;
    case KVT_TIER_PFS: return 0.0002;
    }
    return 0;
}

/* value(block, tier k) = P(reuse) (recompute - fetch from k) - holding in k over the horizon,
 * GPU-seconds: what keeping the block in k is expected to save (the fetch is paid only when the
 * block is reused). P is predictive's posterior, 1 for policies without one. */
static double tier_value(const engine_t *e, uint32_t b, uint32_t k)
{
    const kvt_tier_stats_t *s = &e->r->tiers[k];
    double p = e->t[0].ops == &kvt_policy_predictive ? kvt_predictive_p_reuse(e->t[0].ctx, b) : 1;
    return p * (s->recompute_s - s->fetch_s) - s->hold_s;
}

/* Offer block b to tiers from k down, as a demotion; victims cascade further down. With
 * hold_cost, a tier where the block's value is not positive is passed by, so the block lands in
 * the highest lower tier that values it (if its policy admits it), else is dropped. */
static void demote(engine_t *e, uint32_t b, uint32_t k, uint64_t now)
{
    uint32_t from = k - 1;
    bool offered = false;
    while (k < e->n && b != KVT_NO_BLOCK) {
        tier_rt_t *t = &e->t[k];
        if (t->cap == 0 || t->skipped || (e->hold && tier_value(e, b, k) <= 0)) {
            k++;
            continue;
        }
        offered = true;
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
        offered = v == b; /* a bypassed block was offered; a victim starts its own descent */
        from = k;
        b = v;
        k++;
    }
    if (e->hold && b != KVT_NO_BLOCK && !offered) {
        e->r->tiers[from].dropped++; /* no lower tier valued it */
    }
}

static void pf_settle(engine_t *e, uint32_t b, uint64_t *counter)
{
    e->pf_src[b] = 0;
    (*counter)++;
}

/* Tier k evicted b: a pending prefetch into T0 was wasted. */
static void evicted(engine_t *e, uint32_t b, uint32_t k)
{
    if (k == 0 && e->pf_src != NULL && e->pf_src[b] != 0) {
        pf_settle(e, b, &e->r->pf.wasted);
    }
}

/* The tier serving b to a request arriving at t: the fastest holding a complete copy. */
static uint32_t serving_tier(const engine_t *e, uint32_t b, uint64_t t)
{
    uint8_t w = e->where[b];
    if ((w & 1) && e->ready_us != NULL && e->ready_us[b] > t) {
        /* a prefetch still in flight: the tier it copies from, which keeps its copy */
        w &= (uint8_t)~1u;
        if (w == 0) {
            return e->pf_src[b] ? e->pf_src[b] - 1u : 0;
        }
    }
    return (uint32_t)__builtin_ctz(w);
}

static void heap_push(engine_t *e, pf_job_t j)
{
    if (e->nheap == e->heap_cap) {
        uint64_t cap = e->heap_cap ? e->heap_cap * 2 : 1024;
        pf_job_t *h = realloc(e->heap, cap * sizeof(*h));
        if (h == NULL) {
            return; /* no memory for the job: the session is simply not prefetched */
        }
        e->heap = h;
        e->heap_cap = cap;
    }
    uint64_t i = e->nheap++;
    while (i > 0) {
        uint64_t up = (i - 1) / 2;
        if (e->heap[up].start_us < j.start_us ||
            (e->heap[up].start_us == j.start_us && e->heap[up].req < j.req)) {
            break;
        }
        e->heap[i] = e->heap[up];
        i = up;
    }
    e->heap[i] = j;
}

static pf_job_t heap_pop(engine_t *e)
{
    pf_job_t top = e->heap[0], last = e->heap[--e->nheap];
    uint64_t i = 0;
    for (;;) {
        uint64_t c = 2 * i + 1;
        if (c >= e->nheap) {
            break;
        }
        if (c + 1 < e->nheap && (e->heap[c + 1].start_us < e->heap[c].start_us ||
                                 (e->heap[c + 1].start_us == e->heap[c].start_us &&
                                  e->heap[c + 1].req < e->heap[c].req))) {
            c++;
        }
        if (last.start_us < e->heap[c].start_us ||
            (last.start_us == e->heap[c].start_us && last.req <= e->heap[c].req)) {
            break;
        }
        e->heap[i] = e->heap[c];
        i = c;
    }
    e->heap[i] = last;
    return top;
}

static void demote(engine_t *e, uint32_t b, uint32_t k, uint64_t now);

/* Run one prefetch job at its start time: the session's last chain, head first, into T0. */
static void pf_run(engine_t *e, const pf_job_t *j)
{
    const kvt_trace_request_t *q = &e->reqs[j->req];
    const uint32_t *chain = e->refs + q->first_ref;
    tier_rt_t *t0 = &e->t[0];
    uint32_t link = 0;
    for (uint32_t l = 1; l < e->nlinks; l++) {
        link = e->link_free[l] < e->link_free[link] ? l : link;
    }
    uint64_t now = j->start_us;
    double clock = (double)(e->link_free[link] > now ? e->link_free[link] : now);
    uint32_t prev_src = UINT32_MAX;
    uint64_t moved = 0;
    kvt_access_t a = {.chain_len = q->nblocks,
                      .transition = q->transition,
                      .session = q->session,
                      .req = j->req,
                      .t_us = now,
                      .prefetch = true,
                      .next_use = KVT_NEVER};
    for (uint32_t p = 0; p < q->nblocks; p++) {
        uint32_t b = chain[p];
        if (e->where[b] == 0) {
            break; /* held nowhere: the prefix ends here */
        }
        if (e->where[b] & 1) {
            continue;
        }
        uint32_t src = (uint32_t)__builtin_ctz(e->where[b]);
        a.block = b;
        a.pos = p;
        a.block_type = e->types[b];
        a.last_us = e->last_us[b];
        a.partial = p + 1 == q->nblocks && q->input_tokens % e->block_tokens != 0;
        uint32_t v = t0->ops->miss(t0->ctx, &a, t0->used == t0->cap);
        if (v == b) {
            break; /* T0 holds nothing worth less: no room without losing value */
        }
        const kvt_tier_desc_t *d = &e->node->tiers[src];
        clock += (src != prev_src ? d->latency_us : 0) +
                 (double)e->block_bytes / (d->read_GBps * 1e3); /* GB/s = 1e3 B/us */
        prev_src = src;
        e->where[b] |= 1;
        e->ready_us[b] = (uint64_t)(clock + 0.999999); /* whole microseconds, rounded up */
        e->pf_src[b] = (uint8_t)(src + 1);
        e->r->pf.blocks++;
        e->r->pf.bytes += e->block_bytes;
        moved++;
        if (v == KVT_NO_BLOCK) {
            t0->used++;
            continue;
        }
        e->where[v] &= (uint8_t)~1u;
        e->r->tiers[0].evictions++;
        bool own = e->pf_src[v] != 0 && e->ready_us[v] > now; /* one this job just copied */
        evicted(e, v, 0);
        demote(e, v, 1, now);
        if (own) {
            break; /* T0 is now evicting this very chain: it cannot hold more of it */
        }
    }
    if (moved > 0) {
        e->r->pf.jobs++;
        e->link_free[link] = (uint64_t)(clock + 0.999999);
    }
}

/* Before a request at t: sessions silent past the horizon have ended; due jobs run. */
static void pf_advance(engine_t *e, uint64_t t, uint64_t upto_req)
{
    while (e->expired < upto_req && e->reqs[e->expired].t_us + PF_HORIZON_US <= t) {
        const kvt_trace_request_t *q = &e->reqs[e->expired];
        if (e->sess_last[q->session] == e->expired + 1) {
            kvt_turn_ended(&e->turns, e->req_cls[e->expired]);
        }
        e->expired++;
    }
    while (e->nheap > 0 && e->heap[0].start_us <= t) {
        pf_job_t j = heap_pop(e);
        if (e->sess_last[e->reqs[j.req].session] == j.req + 1) {
            pf_run(e, &j); /* the session has sent nothing since: still predicted */
        }
    }
}

/* Request i has been served: learn the turn it completes, schedule its session's prefetch. */
static void pf_after(engine_t *e, uint64_t i)
{
    const kvt_trace_request_t *q = &e->reqs[i];
    uint64_t prev = e->sess_last[q->session];
    if (prev != 0) {
        uint64_t gap = q->t_us - e->reqs[prev - 1].t_us;
        if (gap < PF_HORIZON_US) { /* a longer gap was already counted as an end */
            kvt_turn_next(&e->turns, e->req_cls[prev - 1], gap);
        }
    }
    uint16_t c = kvt_turn_class(q->transition, e->sess_depth[q->session]++);
    e->req_cls[i] = (uint8_t)c;
    e->sess_last[q->session] = i + 1;
    double g = kvt_turn_gap_quantile(&e->turns, c, PF_QUANTILE);
    if (kvt_turn_p(&e->turns, c) <= PF_MIN_P || g < 0) {
        return;
    }
    /* the time to read the whole chain from the fastest lower tier */
    double lead = 0;
    for (uint32_t k = 1; k < e->n; k++) {
        if (e->t[k].cap > 0 && !e->t[k].skipped) {
            const kvt_tier_desc_t *d = &e->node->tiers[k];
            lead = d->latency_us +
                   (double)q->nblocks * (double)e->block_bytes / (d->read_GBps * 1e3);
            break;
        }
    }
    double start = (double)q->t_us + g - lead;
    heap_push(e, (pf_job_t){start > (double)q->t_us ? (uint64_t)start : q->t_us, i});
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
    bool prefetch = (ops->flags & KVT_POLICY_PREFETCH) && o.prefetch && e.n > 1 &&
                    o.node->tiers[0].capacity_bytes / block_bytes > 0;
    if (prefetch) {
        uint64_t nb = in->blocks ? in->blocks : 1, nr = in->requests ? in->requests : 1;
        uint64_t ns = in->sessions ? in->sessions : 1;
        e.reqs = reqs;
        e.refs = refs;
        e.block_bytes = block_bytes;
        e.block_tokens = in->block_tokens;
        e.node = o.node;
        e.nlinks = o.node->instances == 0       ? 1
                   : o.node->instances > PF_MAX_LINKS ? PF_MAX_LINKS
                                                      : o.node->instances;
        e.ready_us = calloc(nb, sizeof(*e.ready_us));
        e.pf_src = calloc(nb, 1);
        e.sess_last = calloc(ns, sizeof(*e.sess_last));
        e.sess_depth = calloc(ns, sizeof(*e.sess_depth));
        e.req_cls = calloc(nr, 1);
        e.link_free = calloc(e.nlinks, sizeof(*e.link_free));
        kvt_turn_init(&e.turns);
        if (e.ready_us == NULL || e.pf_src == NULL || e.sess_last == NULL ||
            e.sess_depth == NULL || e.req_cls == NULL || e.link_free == NULL) {
            st = kvt_error_set(err, KVT_ERR_NO_MEMORY, "node replay: out of memory");
            goto out;
        }
        r.prefetch = true;
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
            r.tiers[k].fetch_s = kvt_tier_fetch_seconds(d, (double)block_bytes);
        }
        if (o.model != NULL && o.node->gpu != NULL) {
            r.tiers[k].recompute_s = kvt_recompute_seconds(o.model, o.node->gpu, in->block_tokens);
            e.t[k].skipped = r.tiers[k].skipped =
                k > 0 && r.tiers[k].fetch_s >= r.tiers[k].recompute_s;
            if (o.hold_cost && o.node->gpu->usd_per_hour > 0) {
                /* $ per GB-hour x GB x horizon hours, over the GPU's $ per hour, in seconds */
                e.hold = true;
                r.tiers[k].hold_s = kvt_tier_hold_usd_per_gb_hour(o.node->tiers[k].kind) *
                                    ((double)block_bytes / 1e9) * (double)PF_HORIZON_US /
                                    (o.node->gpu->usd_per_hour * 1e6);
            }
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
        if (prefetch) {
            pf_advance(&e, q->t_us, i);
        }
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
            uint32_t k = serving_tier(&e, chain[p], q->t_us);
            if (prefetch && e.pf_src[chain[p]] != 0) {
                pf_settle(&e, chain[p], k == 0 ? &r.pf.useful : &r.pf.late);
            }
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
            if (prefetch && e.pf_src[b] != 0) {
                pf_settle(&e, b, &r.pf.wasted); /* accessed past the matched prefix */
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
            if (e.ready_us != NULL) {
                e.ready_us[b] = 0; /* computed (or fetched) by this request: complete now */
            }
            r.tiers[0].insertions++;
            if (v == KVT_NO_BLOCK) {
                t0->used++;
                continue;
            }
            e.where[v] &= (uint8_t)~1u;
            r.tiers[0].evictions++;
            evicted(&e, v, 0);
            demote(&e, v, 1, q->t_us);
        }
        if (prefetch) {
            pf_after(&e, i);
        }
        if (o.progress != NULL && i % tick == 0) {
            o.progress(i, in->requests, o.progress_arg);
        }
    }
    if (o.progress != NULL) {
        o.progress(in->requests, in->requests, o.progress_arg);
    }
    if (prefetch) {
        for (uint64_t b = 0; b < in->blocks; b++) {
            if (e.pf_src[b] != 0) {
                pf_settle(&e, (uint32_t)b, &r.pf.wasted); /* never used */
            }
        }
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
    free(e.ready_us);
    free(e.pf_src);
    free(e.sess_last);
    free(e.sess_depth);
    free(e.req_cls);
    free(e.link_free);
    free(e.heap);
    if (st != KVT_OK) {
        free(r.requests);
        return st;
    }
    *result_p = r;
    return KVT_OK;
}
