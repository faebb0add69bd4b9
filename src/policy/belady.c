/*
 * Belady's offline optimum: evict the block whose next use is farthest in the future.
 *
 * The engine tells each access when the block is next used, as (request index, position in that
 * request's chain). Blocks never used again go first. Blocks next used by the same request tie on
 * the request; the tie decides how much of that request's prefix survives:
 *   - tail first (the true block-level optimum, `belady`): evict the block deepest in the next
 *     request's chain, so the prefix it needs stays whole;
 *   - head first (`belady-head`, the convention of the published Mooncake figures): evict
 *     position 0 first.
 * The incoming block competes too: it may be the one evicted (bypass).
 */
#include "policy/pheap.h"
#include "policy/policy.h"

#define POS_BITS 20
#define POS_MASK ((1ull << POS_BITS) - 1)

typedef struct belady {
    kvt_pheap_t q;
    bool tail_first;
} belady_t;

/* Larger = evicted sooner; never used again beats everything; always > 0. */
static uint64_t priority(const belady_t *b, uint64_t next_use)
{
    if (next_use == KVT_NEVER) {
        return UINT64_MAX;
    }
    uint64_t req = next_use >> POS_BITS, pos = next_use & POS_MASK;
    uint64_t tie = b->tail_first ? pos : POS_MASK - pos;
    return ((req << POS_BITS) | tie) + 1;
}

static kvt_status_t belady_create(const kvt_policy_cfg_t *cfg, void **ctx_p)
{
    belady_t *b = calloc(1, sizeof(*b));
    uint64_t live = cfg->capacity < cfg->nblocks ? cfg->capacity : cfg->nblocks;
    if (b == NULL || !kvt_pheap_init(&b->q, cfg->nblocks, live + 1)) {
        if (b != NULL) {
            kvt_pheap_fini(&b->q);
        }
        free(b);
        return KVT_ERR_NO_MEMORY;
    }
    b->tail_first = cfg->tail_first;
    *ctx_p = b;
    return KVT_OK;
}

static void belady_destroy(void *ctx)
{
    belady_t *b = ctx;
    kvt_pheap_fini(&b->q);
    free(b);
}

static void belady_hit(void *ctx, const kvt_access_t *a)
{
    belady_t *b = ctx;
    kvt_pheap_set(&b->q, a->block, priority(b, a->next_use));
}

static uint32_t belady_miss(void *ctx, const kvt_access_t *a, bool full)
{
    belady_t *b = ctx;
    kvt_pheap_set(&b->q, a->block, priority(b, a->next_use));
    return full ? kvt_pheap_pop(&b->q) : KVT_NO_BLOCK;
}

const kvt_policy_ops_t kvt_policy_belady = {
    .name = "belady",
    .summary = "offline optimal: farthest next use, ties evict the next request's deepest block",
    .flags = KVT_POLICY_NEEDS_FUTURE,
    .create = belady_create,
    .destroy = belady_destroy,
    .hit = belady_hit,
    .miss = belady_miss,
};
