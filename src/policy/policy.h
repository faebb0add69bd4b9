/*
 * Internal: the cache-policy interface shared by the replay engine and (later) the live store.
 *
 * A policy decides, never does: it sees accesses to blocks (dense ids) and answers which block
 * leaves. No I/O, no clock: time comes in the access. The engine owns residency; the policy owns
 * its ordering state. Contract:
 *   hit(a):        a resident block was accessed;
 *   miss(a, full): a non-resident block is admitted. When full is true the policy must return
 *                  exactly one victim among the resident blocks or a->block itself (bypass: the
 *                  incoming block is not kept); when false it returns KVT_NO_BLOCK.
 * Accesses come in request order and, within a request, in chain order (position 0 first).
 */
#ifndef KVT_POLICY_POLICY_H
#define KVT_POLICY_POLICY_H

#include <kvtier/status.h>

#define KVT_NO_BLOCK UINT32_MAX
#define KVT_NEVER    UINT64_MAX

typedef struct kvt_access {
    uint32_t block;      /* dense block id */
    uint32_t pos;        /* position in the request's chain */
    uint32_t chain_len;
    uint8_t block_type;  /* kvt_block_type_t */
    uint8_t transition;  /* kvt_transition_t of the request */
    bool partial;        /* the chain's last block, not full of tokens */
    bool demoted;        /* not an access: the block moves down from the tier above (multi-tier
                          * replay); only block, block_type, t_us (now), last_us and next_use
                          * are meaningful */
    bool prefetch;       /* not an access: the engine promotes the block ahead of its session's
                          * predicted next request (multi-tier replay, KVT_POLICY_PREFETCH
                          * policies only); meaningful fields as for demoted. A policy values it
                          * as just accessed and may refuse it (bypass) */
    uint64_t last_us;    /* demoted: the block's last access */
    uint32_t session;
    uint64_t req;        /* request index in arrival order */
    uint64_t t_us;       /* arrival time of the request */
    /* filled only for policies with KVT_POLICY_NEEDS_FUTURE: the next access of this block,
     * as (request index << 20 | position), or KVT_NEVER */
    uint64_t next_use;
} kvt_access_t;

typedef struct kvt_policy_cfg {
    uint64_t nblocks;      /* block ids are < nblocks */
    uint64_t capacity;     /* blocks the cache holds */
    uint32_t block_tokens;
    bool tail_first;       /* belady: among blocks next used by one request, evict the tail */
    void *upper;           /* multi-tier: the same policy's instance in the tier above, whose
                            * learning a policy may share (the top tier sees every access);
                            * NULL for the top tier */
} kvt_policy_cfg_t;

#define KVT_POLICY_NEEDS_FUTURE 1u
#define KVT_POLICY_PREFETCH    2u /* values prefetched blocks: the node replay may prefetch */

typedef struct kvt_policy_ops {
    const char *name;
    const char *summary;
    unsigned flags;
    kvt_status_t (*create)(const kvt_policy_cfg_t *cfg, void **ctx_p);
    void (*destroy)(void *ctx);
    void (*hit)(void *ctx, const kvt_access_t *a);
    uint32_t (*miss)(void *ctx, const kvt_access_t *a, bool full);
    /* optional, NULL when the policy learns no reuse posteriors: its outcomes per the paper's
     * class, block type x transition (succ[type * 4 + transition], fail[...], 16 each; for
     * reporting: kvt_predictive_paper_counts in policy/predictor.h) */
    void (*paper_counts)(const void *ctx, double *succ, double *fail);
} kvt_policy_ops_t;

extern const kvt_policy_ops_t kvt_policy_lru;
extern const kvt_policy_ops_t kvt_policy_lfu;
extern const kvt_policy_ops_t kvt_policy_arc;
extern const kvt_policy_ops_t kvt_policy_s3fifo;
extern const kvt_policy_ops_t kvt_policy_belady;
extern const kvt_policy_ops_t kvt_policy_predictive;

/* The built-in policies in display order; NULL-terminated. */
extern const kvt_policy_ops_t *const kvt_policies[];

const kvt_policy_ops_t *kvt_policy_find(const char *name);

/* A policy by its user-facing name, which also accepts "belady-head" (Belady with ties broken
 * chain head first: *tail_first_p false); NULL when unknown. */
const kvt_policy_ops_t *kvt_policy_resolve(const char *name, bool *tail_first_p);

#endif
