/*
 * LRU: evict the block accessed least recently.
 *
 * One intrusive list over dense ids (8 bytes per block id); a hit moves the block to the head, a
 * miss evicts the tail when full and pushes the newcomer. Within a request blocks are accessed
 * head of chain first, so a chain's tail is its most recent block -- the convention under which
 * the Mooncake conversation trace gives the published LRU figures.
 */
#include "policy/dlist.h"
#include "policy/policy.h"

typedef struct lru {
    kvt_dlinks_t links;
    kvt_dlist_t list;
} lru_t;

static kvt_status_t lru_create(const kvt_policy_cfg_t *cfg, void **ctx_p)
{
    lru_t *l = calloc(1, sizeof(*l));
    if (l == NULL || !kvt_dlinks_init(&l->links, cfg->nblocks ? cfg->nblocks : 1)) {
        if (l != NULL) {
            kvt_dlinks_fini(&l->links);
        }
        free(l);
        return KVT_ERR_NO_MEMORY;
    }
    kvt_dlist_init(&l->list);
    *ctx_p = l;
    return KVT_OK;
}

static void lru_destroy(void *ctx)
{
    lru_t *l = ctx;
    kvt_dlinks_fini(&l->links);
    free(l);
}

static void lru_hit(void *ctx, const kvt_access_t *a)
{
    lru_t *l = ctx;
    if (l->list.head != a->block) {
        kvt_dlist_remove(&l->list, &l->links, a->block);
        kvt_dlist_push_head(&l->list, &l->links, a->block);
    }
}

static uint32_t lru_miss(void *ctx, const kvt_access_t *a, bool full)
{
    lru_t *l = ctx;
    uint32_t victim = full ? kvt_dlist_pop_tail(&l->list, &l->links) : KVT_NO_BLOCK;
    kvt_dlist_push_head(&l->list, &l->links, a->block);
    return victim;
}

const kvt_policy_ops_t kvt_policy_lru = {
    .name = "lru",
    .summary = "least recently used",
    .create = lru_create,
    .destroy = lru_destroy,
    .hit = lru_hit,
    .miss = lru_miss,
};
