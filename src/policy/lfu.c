/*
 * LFU: evict the block accessed least often while cached; ties go to the least recent.
 *
 * Counts start at 1 on admission and are forgotten on eviction (in-cache LFU, so a block that
 * was hot long ago cannot squat forever). The newcomer is always admitted. Priority for the
 * max-heap is the complement of (count << 40 | access sequence), so the smallest count and, among
 * equals, the oldest access comes out first.
 */
#include "policy/pheap.h"
#include "policy/policy.h"

#define SEQ_BITS 40
#define SEQ_MASK ((1ull << SEQ_BITS) - 1)
#define MAX_FREQ ((1ull << (64 - SEQ_BITS)) - 2)

typedef struct lfu {
    kvt_pheap_t q;
    uint32_t *freq;
    uint64_t seq;
} lfu_t;

static void touch(lfu_t *l, uint32_t block)
{
    uint64_t key = ((uint64_t)l->freq[block] << SEQ_BITS) | (++l->seq & SEQ_MASK);
    kvt_pheap_set(&l->q, block, UINT64_MAX - key);
}

static kvt_status_t lfu_create(const kvt_policy_cfg_t *cfg, void **ctx_p)
{
    lfu_t *l = calloc(1, sizeof(*l));
    uint64_t live = cfg->capacity < cfg->nblocks ? cfg->capacity : cfg->nblocks;
    if (l == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    l->freq = calloc(cfg->nblocks ? cfg->nblocks : 1, sizeof(*l->freq));
    if (l->freq == NULL || !kvt_pheap_init(&l->q, cfg->nblocks, live + 1)) {
        kvt_pheap_fini(&l->q);
        free(l->freq);
        free(l);
        return KVT_ERR_NO_MEMORY;
    }
    *ctx_p = l;
    return KVT_OK;
}

static void lfu_destroy(void *ctx)
{
    lfu_t *l = ctx;
    kvt_pheap_fini(&l->q);
    free(l->freq);
    free(l);
}

static void lfu_hit(void *ctx, const kvt_access_t *a)
{
    lfu_t *l = ctx;
    if (l->freq[a->block] < MAX_FREQ) {
        l->freq[a->block]++;
    }
    touch(l, a->block);
}

static uint32_t lfu_miss(void *ctx, const kvt_access_t *a, bool full)
{
    lfu_t *l = ctx;
    uint32_t victim = full ? kvt_pheap_pop(&l->q) : KVT_NO_BLOCK;
    if (victim != KVT_NO_BLOCK) {
        l->freq[victim] = 0;
    }
    l->freq[a->block] = 1;
    touch(l, a->block);
    return victim;
}

const kvt_policy_ops_t kvt_policy_lfu = {
    .name = "lfu",
    .summary = "least frequently used while cached, least recent among equals",
    .create = lfu_create,
    .destroy = lfu_destroy,
    .hit = lfu_hit,
    .miss = lfu_miss,
};
