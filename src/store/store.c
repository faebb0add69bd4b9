/*
 * The live store: tiers, one policy per tier, and an index from block key to dense block id.
 *
 * The policies (policy/policy.h) work on dense 32-bit ids over a fixed id space, so the store
 * interns keys: the prefix index (kvtier/prefix_index.h) maps a key to its id (the bucket's
 * slot), and per-id arrays say which tiers' policies hold the block (`where`, one bit per tier)
 * and which tiers hold its bytes (`valid`), plus the writes in flight (`pend`). `where` and
 * `valid` differ only transiently (a move in progress) or after a tier's I/O error (the policy
 * then holds a "phantom" that costs a miss, never wrong data): the policies' state is driven by
 * accesses alone, exactly as in the replay engine, and each admission reserves its space in the
 * tier (placement.c), so the data follows. A lookup reads `valid`, never the policy.
 *
 * Ids are recycled: an id is freed when no policy and no tier holds it and no thread has it
 * pinned. The id space is the sum of the tiers' capacities plus slack for blocks in flight;
 * policies that remember evicted ids (ARC's and S3-FIFO's ghosts, the predictor's history) may
 * see a recycled id as a ghost -- a heuristic blemish, not an inconsistency, since an id is only
 * recycled once no policy holds it as resident.
 *
 * Concurrency: the prefix index is not thread-safe, so it is split into KVT_STORE_SHARDS shards
 * by key, each under a rwlock (a chain lookup takes every read lock once and walks the chain
 * across the shards with kvt_prefix_index_match_sharded; interning and freeing
 * take the shard's write lock). `where`, `valid` and `pins` are atomics. Each tier's policy has
 * its own mutex (the predictive policy's lower instances read the top one's state, so with it
 * every tier shares the top tier's mutex), and each tier a move lock that orders admissions into
 * it with their data moves. No lock is global, and a GET that hits takes no policy lock: the
 * channel records the access and applies a batch later (channel.c).
 *
 * Persistent tiers are scanned at create: every record found is admitted into that tier's
 * policy as a demotion would be, and records beyond its capacity are removed from the tier.
 */
#include "store/store_internal.h"

#include "index/prefix_index_internal.h"

#include "common/error.h"
#include "common/logging.h"

#include <kvtier/projection.h>

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void kvt_store_opts_init(kvt_store_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->opts_size = sizeof(*opts);
    opts->policy = "lru";
    opts->block_tokens = 16;
    opts->queue_depth = 64;
    opts->access_buffer = 64;
    opts->move_buffers = 32;
}

uint64_t kvt_store_now_us(const kvt_store_t *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)(ts.tv_sec - s->t0.tv_sec) * 1000000u +
           (uint64_t)((ts.tv_nsec - s->t0.tv_nsec) / 1000) + 1;
}

uint64_t kvt_store_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void kvt_store_refused_wait(uint64_t waited_ns)
{
    if (waited_ns < 100000) {
        sched_yield();
        return;
    }
    uint64_t ns = waited_ns / 16;
    ns = ns < 50000 ? 50000 : ns > 1000000 ? 1000000 : ns;
    nanosleep(&(struct timespec){0, (long)ns}, NULL);
}

/* --- ids ------------------------------------------------------------------------------------ */

kvt_status_t kvt_store_intern(kvt_store_t *s, kvt_key_t key, uint32_t *id_p)
{
    st_shard_t *sh = st_shard(s, key);
    uint32_t id;
    kvt_status_t st = KVT_OK;
    pthread_rwlock_wrlock(&sh->lock);
    if (kvt_prefix_index_get(sh->idx, key, NULL, &id) == KVT_OK) {
        atomic_fetch_add(&s->pins[id], 1);
        goto out;
    }
    pthread_mutex_lock(&s->free_lock);
    if (s->nfree == 0) {
        pthread_mutex_unlock(&s->free_lock);
        st = KVT_ERR_NO_SPACE;
        goto out;
    }
    id = s->free_ids[--s->nfree];
    pthread_mutex_unlock(&s->free_lock);
    s->keys[id] = key;
    atomic_store(&s->where[id], 0);
    atomic_store(&s->valid[id], 0);
    atomic_store(&s->pend[id], 0);
    atomic_store(&s->pins[id], 1);
    if ((st = kvt_prefix_index_put(sh->idx, key, 0, id)) != KVT_OK) {
        atomic_store(&s->pins[id], 0);
        pthread_mutex_lock(&s->free_lock);
        s->free_ids[s->nfree++] = id;
        pthread_mutex_unlock(&s->free_lock);
    }
out:
    pthread_rwlock_unlock(&sh->lock);
    if (st == KVT_OK) {
        *id_p = id;
    }
    return st;
}

bool kvt_store_find(kvt_store_t *s, kvt_key_t key, uint32_t *id_p)
{
    st_shard_t *sh = st_shard(s, key);
    uint32_t id;
    pthread_rwlock_rdlock(&sh->lock);
    bool found = kvt_prefix_index_get(sh->idx, key, NULL, &id) == KVT_OK;
    if (found) {
        atomic_fetch_add(&s->pins[id], 1);
    }
    pthread_rwlock_unlock(&sh->lock);
    if (found) {
        *id_p = id;
    }
    return found;
}

/*
 * Pins are taken under the shard lock (find, intern) or, for a victim, by the thread evicting
 * it, before it clears the victim's `where` bit. So the free test reads where and valid first
 * and the pins last: a victim pin taken concurrently is seen whenever its where clear is.
 */
void kvt_store_release(kvt_store_t *s, uint32_t id)
{
    kvt_key_t key = s->keys[id];
    st_shard_t *sh = st_shard(s, key);
    pthread_rwlock_wrlock(&sh->lock);
    atomic_fetch_sub(&s->pins[id], 1);
    if (atomic_load(&s->where[id]) == 0 && atomic_load(&s->valid[id]) == 0 &&
        atomic_load(&s->pins[id]) == 0) {
        (void)kvt_prefix_index_remove(sh->idx, key);
        pthread_mutex_lock(&s->free_lock);
        s->free_ids[s->nfree++] = id;
        pthread_mutex_unlock(&s->free_lock);
    }
    pthread_rwlock_unlock(&sh->lock);
}

/* --- create --------------------------------------------------------------------------------- */

/* Whether fetching one block from a tier of this kind takes at least as long as recomputing
 * it, by the node's figures (the rule of the node replay, kvtier/replay.h). */
static bool tier_not_worth(const kvt_store_opts_t *o, kvt_tier_kind_t kind)
{
    if (o->node == NULL || o->model == NULL || o->node->gpu == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < o->node->ntiers; i++) {
        const kvt_tier_desc_t *d = &o->node->tiers[i];
        if (d->kind != kind || d->read_GBps <= 0) {
            continue;
        }
        return kvt_tier_fetch_seconds(d, (double)o->block_bytes) >=
               kvt_recompute_seconds(o->model, o->node->gpu, o->block_tokens);
    }
    return false;
}

typedef struct scan_list {
    kvt_block_meta_t *m;
    size_t n, cap;
    bool oom;
} scan_list_t;

static void scan_cb(const kvt_block_meta_t *meta, void *arg)
{
    scan_list_t *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        kvt_block_meta_t *m = realloc(l->m, cap * sizeof(*m));
        if (m == NULL) {
            l->oom = true;
            return;
        }
        l->m = m;
        l->cap = cap;
    }
    l->m[l->n++] = *meta;
}

/* Admit what a persistent tier holds into its policy; drop what does not fit. Runs before any
 * channel exists, so it takes no tier lock. */
static kvt_status_t rebuild(kvt_store_t *s, uint32_t k, kvt_error_t *err)
{
    st_tier_t *t = &s->t[k];
    scan_list_t l = {0};
    kvt_status_t st = kvt_tier_scan(t->tier, scan_cb, &l);
    if (st == KVT_OK && l.oom) {
        st = KVT_ERR_NO_MEMORY;
    }
    if (st != KVT_OK) {
        free(l.m);
        return kvt_error_set(err, st, "store: tier %u (%s): scan failed: %s", k, t->name,
                             kvt_status_str(st));
    }
    uint64_t kept = 0, dropped = 0;
    for (size_t i = 0; i < l.n; i++) {
        uint32_t id;
        if (t->cap == 0 || kvt_store_intern(s, l.m[i].key, &id) != KVT_OK) {
            (void)kvt_tier_remove(t->tier, l.m[i].key);
            dropped++;
            continue;
        }
        if (!(atomic_load(&s->where[id]) & (1u << k))) {
            kvt_access_t a = {.block = id, .demoted = true, .t_us = kvt_store_now_us(s),
                              .last_us = 0, .next_use = KVT_NEVER, .req = 0};
            uint32_t v = s->ops->miss(t->pol, &a, t->used == t->cap);
            atomic_fetch_or(&s->where[id], (uint8_t)(1u << k));
            atomic_fetch_or(&s->valid[id], (uint8_t)(1u << k));
            kept++;
            if (v == KVT_NO_BLOCK) {
                t->used++;
            } else {
                atomic_fetch_and(&s->where[v], (uint8_t) ~(1u << k));
                atomic_fetch_and(&s->valid[v], (uint8_t) ~(1u << k));
                (void)kvt_tier_remove(t->tier, s->keys[v]);
                atomic_fetch_add(&s->pins[v], 1);
                kvt_store_release(s, v);
                kept--;
                dropped++;
            }
        }
        kvt_store_release(s, id);
    }
    free(l.m);
    if (l.n > 0) {
        kvt_log_info("store: tier %u (%s): %llu blocks found again, %llu removed (capacity %llu "
                     "blocks)",
                     k, t->name, (unsigned long long)kept, (unsigned long long)dropped,
                     (unsigned long long)t->cap);
    }
    return KVT_OK;
}

kvt_status_t kvt_store_create(const kvt_store_opts_t *user, kvt_store_t **store_p,
                              kvt_error_t *err)
{
    kvt_store_opts_t o;
    kvt_status_t st;
    if (user == NULL || store_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_store_create: NULL argument");
    }
    kvt_store_opts_init(&o);
    if (user->opts_size == 0 || user->opts_size > sizeof(o)) {
        return kvt_error_set(err, KVT_ERR_INVALID, "store options: unknown opts_size");
    }
    memcpy(&o, user, user->opts_size);
    if (o.tiers == NULL || o.ntiers == 0 || o.ntiers > KVT_MAX_TIERS) {
        return kvt_error_set(err, KVT_ERR_INVALID, "store: tiers: between 1 and %d required",
                             KVT_MAX_TIERS);
    }
    if (o.block_bytes == 0 || o.block_tokens == 0 || o.queue_depth == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "store: block_bytes, block_tokens and queue_depth must be positive");
    }
    bool tail_first;
    const kvt_policy_ops_t *ops = kvt_policy_resolve(o.policy ? o.policy : "lru", &tail_first);
    if (ops == NULL) {
        return kvt_error_set(err, KVT_ERR_NOT_FOUND, "store: unknown policy \"%s\"", o.policy);
    }
    if (ops->flags & KVT_POLICY_NEEDS_FUTURE) {
        return kvt_error_set(err, KVT_ERR_UNSUPPORTED,
                             "store: policy \"%s\" needs every block's future accesses, which a "
                             "live store cannot know (it is for replay); use lru, lfu, arc, "
                             "s3fifo or predictive",
                             o.policy);
    }

    kvt_store_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "store: out of memory");
    }
    clock_gettime(CLOCK_MONOTONIC, &s->t0);
    s->n = o.ntiers;
    s->ops = ops;
    s->block_tokens = o.block_tokens;
    s->block_bytes = o.block_bytes;
    s->queue_depth = o.queue_depth;
    s->access_buffer = o.access_buffer ? o.access_buffer : 1;
    s->move_buffers = o.move_buffers == 0 ? 32 : o.move_buffers < 2 ? 2 : o.move_buffers;
    pthread_mutex_init(&s->free_lock, NULL);
    for (uint32_t i = 0; i < KVT_STORE_SHARDS; i++) {
        pthread_rwlock_init(&s->shard[i].lock, NULL);
    }
    for (uint32_t k = 0; k < KVT_MAX_TIERS; k++) {
        pthread_mutex_init(&s->t[k].own_lock, NULL);
        pthread_mutex_init(&s->t[k].move, NULL);
        s->t[k].lock = &s->t[k].own_lock;
    }

    uint64_t total = 0;
    for (uint32_t k = 0; k < s->n; k++) {
        const kvt_tier_config_t *c = &o.tiers[k];
        st_tier_t *t = &s->t[k];
        t->kind = c->kind;
        t->name = kvt_tier_kind_name(c->kind);
        t->name = t->name ? t->name : "?";
        if (c->max_record_bytes < o.block_bytes + KVT_BLOCK_HEADER_BYTES) {
            st = kvt_error_set(err, KVT_ERR_INVALID,
                               "store: tier %u (%s): max_record_bytes %llu below a block of %llu "
                               "bytes plus its header",
                               k, t->name, (unsigned long long)c->max_record_bytes,
                               (unsigned long long)o.block_bytes);
            goto fail;
        }
        if ((st = kvt_tier_open(c, &t->tier, err)) != KVT_OK) {
            goto fail;
        }
        t->cap = kvt_tier_capacity_blocks(t->tier, o.block_bytes);
        if (o.tier_blocks != NULL && o.tier_blocks[k] != 0 && o.tier_blocks[k] < t->cap) {
            t->cap = o.tier_blocks[k];
        }
        t->skipped = k > 0 && tier_not_worth(&o, c->kind);
        total += t->cap;
        if (ops == &kvt_policy_predictive) {
            t->lock = &s->t[0].own_lock;
        }
    }
    uint64_t nids = o.max_blocks ? o.max_blocks : total + (total / 8 > 4096 ? total / 8 : 4096);
    if (nids >= UINT32_MAX) {
        st = kvt_error_set(err, KVT_ERR_INVALID, "store: %llu block ids exceed 32 bits",
                           (unsigned long long)nids);
        goto fail;
    }
    s->nids = (uint32_t)nids;
    s->keys = calloc(nids, sizeof(*s->keys));
    s->where = calloc(nids, sizeof(*s->where));
    s->valid = calloc(nids, sizeof(*s->valid));
    s->pend = calloc(nids, sizeof(*s->pend));
    s->pins = calloc(nids, sizeof(*s->pins));
    s->last_us = calloc(nids, sizeof(*s->last_us));
    s->types = calloc(nids, sizeof(*s->types));
    s->free_ids = malloc(nids * sizeof(*s->free_ids));
    if (s->keys == NULL || s->where == NULL || s->valid == NULL || s->pend == NULL ||
        s->pins == NULL || s->last_us == NULL || s->types == NULL || s->free_ids == NULL) {
        st = kvt_error_set(err, KVT_ERR_NO_MEMORY, "store: out of memory for %llu block ids",
                           (unsigned long long)nids);
        goto fail;
    }
    for (uint32_t i = 0; i < s->nids; i++) {
        s->free_ids[i] = s->nids - 1 - i; /* id 0 first */
    }
    s->nfree = s->nids;
    for (uint32_t i = 0; i < KVT_STORE_SHARDS; i++) {
        if ((st = kvt_prefix_index_create(nids / KVT_STORE_SHARDS + 1, &s->shard[i].idx, err)) !=
            KVT_OK) {
            goto fail;
        }
    }
    for (uint32_t k = 0; k < s->n; k++) {
        kvt_policy_cfg_t cfg = {.nblocks = nids,
                                .capacity = s->t[k].cap,
                                .block_tokens = o.block_tokens,
                                .tail_first = tail_first,
                                .upper = k > 0 ? s->t[k - 1].pol : NULL};
        if ((st = ops->create(&cfg, &s->t[k].pol)) != KVT_OK) {
            st = kvt_error_set(err, st, "store: tier %u (%s): cannot create policy %s", k,
                               s->t[k].name, ops->name);
            goto fail;
        }
    }
    for (uint32_t k = 0; k < s->n; k++) {
        if ((o.tiers[k].kind == KVT_TIER_NVME || o.tiers[k].kind == KVT_TIER_PFS) &&
            (st = rebuild(s, k, err)) != KVT_OK) {
            goto fail;
        }
    }
    *store_p = s;
    return KVT_OK;

fail:
    kvt_store_destroy(s);
    return st;
}

void kvt_store_destroy(kvt_store_t *s)
{
    if (s == NULL) {
        return;
    }
    for (uint32_t k = 0; k < KVT_MAX_TIERS; k++) {
        if (s->t[k].pol != NULL) {
            s->ops->destroy(s->t[k].pol);
        }
        kvt_tier_close(s->t[k].tier);
        pthread_mutex_destroy(&s->t[k].own_lock);
        pthread_mutex_destroy(&s->t[k].move);
    }
    for (uint32_t i = 0; i < KVT_STORE_SHARDS; i++) {
        kvt_prefix_index_destroy(s->shard[i].idx);
        pthread_rwlock_destroy(&s->shard[i].lock);
    }
    pthread_mutex_destroy(&s->free_lock);
    free(s->keys);
    free((void *)s->where);
    free((void *)s->valid);
    free((void *)s->pend);
    free((void *)s->pins);
    free((void *)s->last_us);
    free((void *)s->types);
    free(s->free_ids);
    free(s);
}

/* --- lookup and stats ----------------------------------------------------------------------- */

/*
 * One chain is looked up under the read locks of every shard, taken once in shard order, rather
 * than one lock round trip per block: a 2,000-block chain touches every shard anyway, and 16
 * uncontended read locks cost less than 2,000 (measured on the 2-vCPU dev VM, 200 k blocks
 * resident: 62 us mean per 2,000-block chain with a lock per block). Writers hold one shard at a
 * time, so the fixed order cannot deadlock; they wait at most one lookup.
 */
size_t kvt_store_lookup(kvt_store_t *s, const kvt_key_t *chain, size_t n, uint8_t *tiers_out)
{
    if (s == NULL || chain == NULL || n == 0) {
        return 0;
    }
    for (uint32_t k = 0; k < KVT_STORE_SHARDS; k++) {
        pthread_rwlock_rdlock(&s->shard[k].lock);
    }
    /* the index's sharded walk (st_shard() is its shard rule), in windows that bound the ids
       buffer and the walk past a block that is indexed but no longer held anywhere. One cursor
       carries each shard's run position from window to window: a window that started afresh
       would find its first key in every shard through the hash table (16 unprefetched lookups:
       2,000-block chains among 200 k blocks took 8.9 us cold in windows of 512 that way, 6.8-7.1
       with the cursor) */
    const kvt_prefix_index_t *idx[KVT_STORE_SHARDS];
    uint32_t cursor[KVT_STORE_SHARDS];
    for (uint32_t k = 0; k < KVT_STORE_SHARDS; k++) {
        idx[k] = s->shard[k].idx;
        cursor[k] = PI_NONE;
    }
    enum { WINDOW = 512 };
    uint32_t ids[WINDOW];
    size_t i = 0;
    while (i < n) {
        size_t w = n - i < WINDOW ? n - i : WINDOW;
        size_t m = prefix_index_match_sharded_from(idx, KVT_STORE_SHARDS, chain + i, w, NULL, ids,
                                                   cursor);
        size_t j = 0;
        for (; j < m; j++) {
            int k = st_first_held(s, ids[j], 0); /* a block on its way into a tier is there */
            if (k < 0) {
                break;
            }
            if (tiers_out != NULL) {
                tiers_out[i + j] = (uint8_t)k;
            }
        }
        i += j;
        if (j < w) {
            break;
        }
    }
    for (uint32_t k = KVT_STORE_SHARDS; k-- > 0;) {
        pthread_rwlock_unlock(&s->shard[k].lock);
    }
    return i;
}

void kvt_store_stats(kvt_store_t *s, kvt_store_stats_t *out)
{
    kvt_store_stats_t r;
    memset(&r, 0, sizeof(r));
    r.ntiers = s->n;
    for (uint32_t k = 0; k < s->n; k++) {
        st_tier_t *t = &s->t[k];
        kvt_store_tier_stats_t *x = &r.tiers[k];
        x->kind = t->kind;
        x->name = t->name;
        x->capacity_blocks = t->cap;
        x->skipped = t->skipped;
        pthread_mutex_lock(t->lock);
        x->blocks = t->used;
        pthread_mutex_unlock(t->lock);
        x->hits = atomic_load(&t->c.hits);
        x->puts = atomic_load(&t->c.puts);
        x->demotions = atomic_load(&t->c.demotions);
        x->promotions = atomic_load(&t->c.promotions);
        x->evictions = atomic_load(&t->c.evictions);
        x->drops = atomic_load(&t->c.drops);
        x->bytes_read = atomic_load(&t->c.bytes_read);
        x->bytes_written = atomic_load(&t->c.bytes_written);
        x->errors = atomic_load(&t->c.errors);
    }
    r.gets = atomic_load(&s->gets);
    r.get_misses = atomic_load(&s->get_misses);
    r.puts = atomic_load(&s->puts);
    r.prefetches = atomic_load(&s->prefetches);
    r.busy = atomic_load(&s->busy);
    for (uint32_t i = 0; i < KVT_STORE_SHARDS; i++) {
        pthread_rwlock_rdlock(&s->shard[i].lock);
        r.blocks += kvt_prefix_index_size(s->shard[i].idx);
        pthread_rwlock_unlock(&s->shard[i].lock);
    }
    *out = r;
}
