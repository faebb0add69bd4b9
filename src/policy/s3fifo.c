/*
 * S3-FIFO (Yang et al., SOSP'23): a small probationary FIFO, a main FIFO and a ghost FIFO.
 *
 * New blocks enter the small queue S (10% of the capacity); a block leaving S that was hit more
 * than once is promoted to the main queue M, others are evicted and remembered in the ghost
 * queue G (as many ids as M holds). A miss on a ghost id goes straight to M. M is a FIFO with up
 * to three second chances (a 2-bit hit counter, decremented on each pass). The paper's
 * algorithm 1, with one adjustment for the engine's contract of exactly one eviction per
 * admission: when a promotion overfills M, the block M then evicts is the eviction.
 */
#include "policy/dlist.h"
#include "policy/policy.h"

enum { NONE = 0, S, M, G };

typedef struct s3 {
    kvt_dlinks_t links;
    kvt_dlist_t q[4];
    uint8_t *where;
    uint8_t *freq;
    uint64_t s_target, m_target;
} s3_t;

static void put(s3_t *s, uint32_t id, int to)
{
    if (s->where[id] != NONE) {
        kvt_dlist_remove(&s->q[s->where[id]], &s->links, id);
    }
    s->where[id] = (uint8_t)to;
    if (to != NONE) {
        kvt_dlist_push_head(&s->q[to], &s->links, id);
    }
}

static uint32_t evict_m(s3_t *s)
{
    for (;;) {
        uint32_t t = s->q[M].tail;
        if (t == KVT_DL_NIL) {
            return KVT_NO_BLOCK;
        }
        if (s->freq[t] > 0) {
            s->freq[t]--;
            put(s, t, M); /* reinsert at the head */
        } else {
            put(s, t, NONE);
            return t;
        }
    }
}

static uint32_t evict_s(s3_t *s)
{
    while (s->q[S].size > 0) {
        uint32_t t = s->q[S].tail;
        if (s->freq[t] > 1) {
            s->freq[t] = 0;
            put(s, t, M);
            if (s->q[M].size > s->m_target) {
                return evict_m(s);
            }
        } else {
            put(s, t, G);
            if (s->q[G].size > s->m_target) {
                put(s, s->q[G].tail, NONE);
            }
            return t;
        }
    }
    return evict_m(s);
}

static kvt_status_t s3_create(const kvt_policy_cfg_t *cfg, void **ctx_p)
{
    s3_t *s = calloc(1, sizeof(*s));
    uint64_t n = cfg->nblocks ? cfg->nblocks : 1;
    if (s == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    s->where = calloc(n, 1);
    s->freq = calloc(n, 1);
    if (s->where == NULL || s->freq == NULL || !kvt_dlinks_init(&s->links, n)) {
        kvt_dlinks_fini(&s->links);
        free(s->where);
        free(s->freq);
        free(s);
        return KVT_ERR_NO_MEMORY;
    }
    for (int i = 0; i < 4; i++) {
        kvt_dlist_init(&s->q[i]);
    }
    s->s_target = cfg->capacity / 10 ? cfg->capacity / 10 : 1;
    s->m_target = cfg->capacity > s->s_target ? cfg->capacity - s->s_target : 1;
    *ctx_p = s;
    return KVT_OK;
}

static void s3_destroy(void *ctx)
{
    s3_t *s = ctx;
    kvt_dlinks_fini(&s->links);
    free(s->where);
    free(s->freq);
    free(s);
}

static void s3_hit(void *ctx, const kvt_access_t *a)
{
    s3_t *s = ctx;
    if (s->freq[a->block] < 3) {
        s->freq[a->block]++;
    }
}

static uint32_t s3_miss(void *ctx, const kvt_access_t *a, bool full)
{
    s3_t *s = ctx;
    uint32_t victim = KVT_NO_BLOCK;
    bool ghost = s->where[a->block] == G;

    if (full) {
        victim = (s->q[S].size >= s->s_target || s->q[M].size == 0) ? evict_s(s) : evict_m(s);
    }
    s->freq[a->block] = 0;
    put(s, a->block, ghost ? M : S);
    return victim;
}

const kvt_policy_ops_t kvt_policy_s3fifo = {
    .name = "s3fifo",
    .summary = "S3-FIFO: small probationary FIFO, main FIFO with second chances, ghost FIFO",
    .create = s3_create,
    .destroy = s3_destroy,
    .hit = s3_hit,
    .miss = s3_miss,
};
