/*
 * kvtier trace replay: cache policies measured on real workloads in virtual time.
 *
 * Hit definition (token hit rate, the figure to report first): for each request in arrival
 * order, the longest prefix of its chain whose blocks are all cached at arrival counts as hit
 * tokens -- input_tokens when the whole chain matches, otherwise matched blocks x block_tokens;
 * after the lookup the whole chain is inserted or touched, head first. The rate is hit tokens over
 * the sum of input tokens. The block hit rate counts the same matched prefix blocks over all
 * block references.
 */
#ifndef KVTIER_REPLAY_H
#define KVTIER_REPLAY_H

#include <kvtier/node.h>
#include <kvtier/projection.h>
#include <kvtier/trace.h>

KVT_BEGIN_DECLS

typedef void (*kvt_progress_cb_t)(uint64_t done, uint64_t total, void *arg);

typedef struct kvt_replay_opts {
    size_t opts_size;           /* set by kvt_replay_opts_init() */
    const char *policy;         /* "lru", "lfu", "arc", "s3fifo", "belady", "belady-head" */
    uint64_t capacity_tokens;   /* single-tier cache size; rounded down to whole blocks */
    kvt_progress_cb_t progress; /* optional, called from the calling thread */
    void *progress_arg;
} kvt_replay_opts_t;

KVT_API void kvt_replay_opts_init(kvt_replay_opts_t *opts);

/* A reuse posterior of the predictive policy for one of the paper's classes (block type x
 * transition): Beta(alpha, beta) with alpha = 1 + blocks accessed again after an access of this
 * class, beta = 1 + blocks left idle past the 600 s horizon after one; mean = alpha / (alpha +
 * beta). Reported only: the policy's decisions use finer classes (docs/replay.md). */
typedef struct kvt_reuse_posterior {
    uint8_t block_type;          /* kvt_block_type_t */
    uint8_t transition;          /* kvt_transition_t */
    double alpha, beta, mean;
} kvt_reuse_posterior_t;

typedef struct kvt_replay_result {
    const char *policy;          /* static storage */
    uint64_t capacity_tokens;
    uint64_t capacity_blocks;
    uint64_t requests;
    uint64_t input_tokens;
    uint64_t hit_tokens;
    double token_hit_rate;       /* hit_tokens / input_tokens */
    uint64_t block_refs;
    uint64_t block_hits;         /* matched prefix blocks */
    double block_hit_rate;       /* block_hits / block_refs */
    uint64_t resident_refs;      /* references resident at arrival, prefix or not */
    uint64_t insertions;
    uint64_t evictions;
    /* policies that learn reuse posteriors (predictive): 16, one per block type x transition in
     * posteriors[type * 4 + transition], learned from every access (the same at any capacity
     * above 0); 0 for the others and at capacity 0 (the policy sees no access) */
    uint32_t nposteriors;
    kvt_reuse_posterior_t posteriors[KVT_BLOCK_TYPES * KVT_TRANSITIONS];
} kvt_replay_result_t;

/* Names of the built-in policies, NULL-terminated, static. */
KVT_API const char *const *kvt_replay_policies(void);

/*
 * Replay trace under opts. Fails with KVT_ERR_NOT_FOUND for an unknown policy (err names the
 * known ones) and KVT_ERR_NO_MEMORY. *result_p is written only on success.
 */
KVT_API kvt_status_t kvt_replay_run(const kvt_trace_t *trace, const kvt_replay_opts_t *opts,
                                    kvt_replay_result_t *result_p, kvt_error_t *err);

/*
 * Multi-tier replay over a node's tiers (kvtier/node.h).
 *
 * Each tier runs its own instance of the policy over blocks of block_tokens tokens; its capacity
 * in blocks is capacity_bytes / (kv_bytes_per_token x block_tokens). New blocks are admitted to
 * T0. A block evicted from tier k is demoted to tier k+1 (demote, not drop) unless it is already
 * there; a block evicted from the last tier is dropped. A hit in a lower tier promotes the block
 * to T0 (a copy: the lower tier keeps it and counts the hit). Given the model, a tier where a
 * block's fetch (latency + bytes / read bandwidth) costs more than its recompute is skipped:
 * keeping KV there would not pay. The prefix match at arrival counts
 * a block as cached if any tier holds it and attributes its tokens to the fastest tier holding
 * it. Belady in this mode is per tier: each tier evicts the block it holds whose next use is
 * farthest -- greedy per tier, not the joint optimum of the hierarchy.
 */
typedef struct kvt_node_replay_opts {
    size_t opts_size;            /* set by kvt_node_replay_opts_init() */
    const char *policy;
    const kvt_node_desc_t *node; /* required */
    uint64_t kv_bytes_per_token; /* required: the node model's KV bytes per token */
    uint32_t tiers;              /* use only the first N tiers (0 = all): N = 1 is HBM only */
    bool record;                 /* keep per-request hits per tier, for kvt_project() */
    const kvt_model_t *model;    /* optional: with it, a tier from which fetching a block takes
                                  * longer than recomputing it (kvt_prefill_flops at the
                                  * projection's default efficiency) receives no demotions */
    kvt_progress_cb_t progress;
    void *progress_arg;
    bool prefetch;               /* prefetch sessions predicted to return into T0 ahead of
                                  * their next request (only for policies that value prefetched
                                  * blocks: predictive; docs/replay.md). Off by default: on the
                                  * real traces it moved T0 hits by under a point either way */
    bool hold_cost;              /* demote by value (needs model and node->gpu): a block leaving
                                  * tier k goes to the first lower tier i where
                                  * P(reuse) (recompute_s - fetch_s[i]) - hold_s[i] > 0, else is
                                  * dropped; hold_s[i]: the tier kind's $ per GB-hour
                                  * (kvt_tier_hold_usd_per_gb_hour) for the block's bytes over the
                                  * 600 s reuse horizon, in GPU-seconds at node->gpu's $ per hour.
                                  * P(reuse): predictive's posterior, 1 for other policies. Off by
                                  * default: it lowers the hit rate (docs/replay.md) */
} kvt_node_replay_opts_t;

/* The default price of holding one GB for one hour in a tier of this kind, USD (an assumption
 * documented in docs/replay.md; HBM is priced but never a demotion target). */
KVT_API double kvt_tier_hold_usd_per_gb_hour(kvt_tier_kind_t kind);

KVT_API void kvt_node_replay_opts_init(kvt_node_replay_opts_t *opts);

typedef struct kvt_tier_stats {
    uint64_t capacity_blocks;
    double fetch_s;        /* one block from this tier (0 for T0) */
    double recompute_s;    /* one block recomputed (0 without a model) */
    bool skipped;          /* fetching costs more than recomputing: nothing is demoted here */
    uint64_t hit_tokens;   /* prefix tokens served from this tier (it was the fastest holding them) */
    uint64_t hit_blocks;
    uint64_t insertions;   /* admissions (T0) and demotions into the tier */
    uint64_t evictions;
    double hold_s;         /* opts.hold_cost: holding a block here over the horizon, GPU-seconds */
    uint64_t dropped;      /* opts.hold_cost: blocks leaving this tier that no lower tier valued */
} kvt_tier_stats_t;

/* Prefetch into T0 ahead of a session's predicted next request (docs/replay.md). Every
 * prefetched block ends as exactly one of useful, late or wasted. */
typedef struct kvt_prefetch_stats {
    uint64_t jobs;    /* sessions whose blocks were promoted (at least one block moved) */
    uint64_t blocks;  /* blocks copied up to T0 */
    uint64_t bytes;
    uint64_t useful;  /* served from T0 to a matched prefix, the copy complete at arrival */
    uint64_t late;    /* in the matched prefix but still in flight at arrival: served from the
                       * tier it was being copied from */
    uint64_t wasted;  /* evicted from T0 or accessed outside a matched prefix before any use,
                       * or never used by the end of the trace */
} kvt_prefetch_stats_t;

typedef struct kvt_node_replay_result {
    kvt_replay_result_t total;       /* capacity fields: T0's */
    uint32_t ntiers;
    kvt_tier_stats_t tiers[KVT_MAX_TIERS];
    kvt_proj_request_t *requests;    /* with opts.record: one per request, in arrival order */
    bool prefetch;                   /* the prefetch ran */
    kvt_prefetch_stats_t pf;
} kvt_node_replay_result_t;

KVT_API kvt_status_t kvt_node_replay_run(const kvt_trace_t *trace,
                                         const kvt_node_replay_opts_t *opts,
                                         kvt_node_replay_result_t *result_p, kvt_error_t *err);

/* Free what a result owns (the request records). */
KVT_API void kvt_node_replay_result_release(kvt_node_replay_result_t *result);

KVT_END_DECLS

#endif
