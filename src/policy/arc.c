/*
 * ARC (Megiddo and Modha, FAST'03): adaptive replacement between recency and frequency.
 *
 * Two resident lists -- T1 (seen once recently) and T2 (seen at least twice) -- and two ghost
 * lists of ids recently evicted from each (B1, B2), all intrusive over one pair of link arrays,
 * with one byte per block saying where it is. A miss that hits a ghost moves the target size p of
 * T1 toward the list that would have kept the block; REPLACE evicts from T1 when it exceeds p,
 * else from T2. The cases follow the paper's figure 4 line by line; the one liberty is that
 * REPLACE runs only when the cache is full, which the paper's invariants imply anyway (ghosts
 * exist only once it has filled). Ghost ids cost the same 9 bytes per block id as resident ones.
 */
#include "policy/dlist.h"
#include "policy/policy.h"

enum { NONE = 0, T1, T2, B1, B2 };

typedef struct arc {
    kvt_dlinks_t links;
    kvt_dlist_t l[5];
    uint8_t *where;
    uint64_t c, p;
} arc_t;

static void move_to(arc_t *a, uint32_t id, int to)
{
    if (a->where[id] != NONE) {
        kvt_dlist_remove(&a->l[a->where[id]], &a->links, id);
    }
    a->where[id] = (uint8_t)to;
    if (to != NONE) {
        kvt_dlist_push_head(&a->l[to], &a->links, id);
    }
}

static void forget_lru(arc_t *a, int list)
{
    uint32_t id = kvt_dlist_pop_tail(&a->l[list], &a->links);
    if (id != KVT_DL_NIL) {
        a->where[id] = NONE;
    }
}

/* Evict the LRU block of T1 or T2 into its ghost list; returns it. */
static uint32_t replace(arc_t *a, uint32_t x)
{
    uint64_t t1 = a->l[T1].size;
    int from = (t1 >= 1 && (t1 > a->p || (a->where[x] == B2 && t1 == a->p))) ? T1 : T2;
    if (a->l[from].size == 0) {
        from = from == T1 ? T2 : T1;
    }
    uint32_t v = a->l[from].tail;
    move_to(a, v, from == T1 ? B1 : B2);
    return v;
}

static kvt_status_t arc_create(const kvt_policy_cfg_t *cfg, void **ctx_p)
{
    arc_t *a = calloc(1, sizeof(*a));
    uint64_t n = cfg->nblocks ? cfg->nblocks : 1;
    if (a == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    a->where = calloc(n, 1);
    if (a->where == NULL || !kvt_dlinks_init(&a->links, n)) {
        kvt_dlinks_fini(&a->links);
        free(a->where);
        free(a);
        return KVT_ERR_NO_MEMORY;
    }
    for (int i = 0; i < 5; i++) {
        kvt_dlist_init(&a->l[i]);
    }
    a->c = cfg->capacity;
    *ctx_p = a;
    return KVT_OK;
}

static void arc_destroy(void *ctx)
{
    arc_t *a = ctx;
    kvt_dlinks_fini(&a->links);
    free(a->where);
    free(a);
}

static void arc_hit(void *ctx, const kvt_access_t *acc)
{
    move_to(ctx, acc->block, T2);
}

static uint64_t max1(uint64_t x)
{
    return x > 1 ? x : 1;
}

static uint32_t arc_miss(void *ctx, const kvt_access_t *acc, bool full)
{
    arc_t *a = ctx;
    uint32_t x = acc->block, victim = KVT_NO_BLOCK;
    uint64_t b1 = a->l[B1].size, b2 = a->l[B2].size;

    if (a->where[x] == B1) { /* case II: recency list was too short */
        uint64_t d = max1(b1 ? b2 / b1 : 1);
        a->p = a->p + d < a->c ? a->p + d : a->c;
        victim = full ? replace(a, x) : KVT_NO_BLOCK;
        move_to(a, x, T2);
        return victim;
    }
    if (a->where[x] == B2) { /* case III: frequency list was too short */
        uint64_t d = max1(b2 ? b1 / b2 : 1);
        a->p = a->p > d ? a->p - d : 0;
        victim = full ? replace(a, x) : KVT_NO_BLOCK;
        move_to(a, x, T2);
        return victim;
    }
    /* case IV: a block in no list */
    uint64_t l1 = a->l[T1].size + b1;
    uint64_t total = l1 + a->l[T2].size + b2;
    if (l1 >= a->c) {
        if (a->l[T1].size < a->c) {
            forget_lru(a, B1);
            victim = full ? replace(a, x) : KVT_NO_BLOCK;
        } else {
            victim = a->l[T1].tail; /* T1 alone fills the cache: drop its LRU outright */
            move_to(a, victim, NONE);
        }
    } else {
        if (total >= 2 * a->c) {
            forget_lru(a, B2);
        }
        victim = full ? replace(a, x) : KVT_NO_BLOCK;
    }
    move_to(a, x, T1);
    return victim;
}

const kvt_policy_ops_t kvt_policy_arc = {
    .name = "arc",
    .summary = "adaptive replacement cache (recency vs frequency, ghost-guided)",
    .create = arc_create,
    .destroy = arc_destroy,
    .hit = arc_hit,
    .miss = arc_miss,
};
