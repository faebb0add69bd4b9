/*
 * The memory tiers (DRAM, CXL): records in an arena, found through a sharded key map.
 *
 * Data path. A put is one memcpy of the payload into an arena slot; the header is not written
 * next to it but kept, as given, in the key map's record (no checksum is computed or checked:
 * the bytes never leave this process's memory, and hashing would halve the copy rate). A get
 * is one memcpy out. Both are done inside submit: the io is appended to the channel's
 * completion ring and poll hands it back, setting its status then (the status is kept in the
 * io's priv scratch meanwhile, so a caller that waits for the status also drains the ring). The
 * ring has queue_depth places; a channel whose ring is full answers KVT_ERR_BUSY until it is
 * polled, as every tier does.
 *
 * Key map. 64 shards chosen by the key's high word, each a mem_map.c table (slim buckets in
 * front of dense records: about 130 to 160 bytes per key, header included) under its own mutex. A lock is held only for a lookup or an insert -- never for a copy -- so
 * threads on different channels meet only when they touch the same shard at the same instant.
 *
 * Races. A put looks the key up, copies into a fresh slot outside any lock, then inserts; if
 * another channel inserted the key meanwhile, the new slot is released and the put completes
 * KVT_OK (equal keys are equal content). A get pins the slot under the shard lock and copies
 * after unlocking; a concurrent remove drops the entry at once, and the slot is reused only
 * after the copy (arena.c, pins). Capacity: live records (header + payload bytes) never exceed
 * capacity_bytes (one atomic counter, reserved before the slot is taken), and the arena holds
 * at most that much besides; a put that finds no room completes KVT_ERR_NO_SPACE -- the store
 * above decides what to evict.
 */
#include "tier/mem_tier.h"
#include "tier/mem_map.h"

#include "common/error.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSHARDS   64u

typedef struct shard {
    _Alignas(64) pthread_mutex_t lock;
    mem_map_t map;
} shard_t;

typedef struct kvt_mem_tier {
    kvt_arena_t *arena;
    uint64_t capacity;
    uint32_t queue_depth;
    _Atomic uint64_t used_bytes; /* header + payload of live records */
    _Atomic uint64_t blocks;
    char detail[256];
    shard_t shards[NSHARDS];
} kvt_mem_tier_t;

typedef struct mem_chan {
    kvt_mem_tier_t *t;
    uint32_t cap, head, count;
    kvt_tier_io_t *ring[]; /* completed, not yet polled */
} mem_chan_t;

static uint64_t record_bytes(uint64_t payload)
{
    return KVT_BLOCK_HEADER_BYTES + payload;
}

static shard_t *shard_of(kvt_mem_tier_t *t, kvt_key_t key)
{
    return &t->shards[key.hi % NSHARDS];
}

static void format_bytes(uint64_t b, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (u < 4 && b >= 1024 && b % 1024 == 0) {
        b /= 1024;
        u++;
    }
    snprintf(out, len, "%" PRIu64 " %s", b, units[u]);
}

kvt_status_t kvt_mem_tier_open(const kvt_tier_config_t *cfg, const char *name, int node,
                               const char *binding, void **ctx_p, kvt_error_t *err)
{
    kvt_mem_tier_t *t = aligned_alloc(64, sizeof(*t));
    if (t == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "tier %s: out of memory", name);
    }
    memset(t, 0, sizeof(*t));
    t->capacity = cfg->capacity_bytes;
    t->queue_depth = cfg->queue_depth;
    kvt_arena_opts_t ao = {
        .capacity_bytes = cfg->capacity_bytes,
        .max_slot_bytes = cfg->max_record_bytes - KVT_BLOCK_HEADER_BYTES,
        .hugepages = cfg->hugepages,
        .numa_node = node,
    };
    kvt_error_t aerr;
    kvt_status_t st = kvt_arena_create(&ao, &t->arena, &aerr);
    if (st != KVT_OK) {
        free(t);
        return kvt_error_set(err, st, "tier %s: %s", name, aerr.message);
    }
    size_t i;
    for (i = 0; i < NSHARDS; i++) {
        if (mem_map_init(&t->shards[i].map) != KVT_OK) {
            break;
        }
        pthread_mutex_init(&t->shards[i].lock, NULL);
    }
    if (i < NSHARDS) {
        while (i-- > 0) {
            pthread_mutex_destroy(&t->shards[i].lock);
            mem_map_fini(&t->shards[i].map);
        }
        kvt_arena_destroy(t->arena);
        free(t);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "tier %s: out of memory", name);
    }
    kvt_arena_stats_t as;
    kvt_arena_stats(t->arena, &as);
    char slab[32];
    format_bytes(as.slab_bytes, slab, sizeof(slab));
    snprintf(t->detail, sizeof(t->detail), "%s; %s; %" PRIu64 " slab%s of %s",
             kvt_arena_pages(t->arena), binding != NULL ? binding : "local node (first touch)",
             as.slabs, as.slabs == 1 ? "" : "s", slab);
    *ctx_p = t;
    return KVT_OK;
}

void kvt_mem_tier_close(void *ctx)
{
    kvt_mem_tier_t *t = ctx;
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < NSHARDS; i++) {
        pthread_mutex_destroy(&t->shards[i].lock);
        mem_map_fini(&t->shards[i].map);
    }
    kvt_arena_destroy(t->arena);
    free(t);
}

kvt_status_t kvt_mem_tier_channel_open(void *ctx, void **chan_p)
{
    kvt_mem_tier_t *t = ctx;
    mem_chan_t *c = calloc(1, sizeof(*c) + t->queue_depth * sizeof(c->ring[0]));
    if (c == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    c->t = t;
    c->cap = t->queue_depth;
    *chan_p = c;
    return KVT_OK;
}

void kvt_mem_tier_channel_close(void *chan)
{
    free(chan); /* nothing is ever in flight: completed ios belong to the caller */
}

static kvt_status_t do_put(kvt_mem_tier_t *t, const kvt_tier_io_t *io)
{
    shard_t *s = shard_of(t, io->meta.key);
    pthread_mutex_lock(&s->lock);
    bool present = mem_map_find(&s->map, io->meta.key) != NULL;
    pthread_mutex_unlock(&s->lock);
    if (present) {
        return KVT_OK;
    }
    uint64_t rec = record_bytes(io->len);
    if (atomic_fetch_add(&t->used_bytes, rec) + rec > t->capacity) {
        atomic_fetch_sub(&t->used_bytes, rec);
        return KVT_ERR_NO_SPACE;
    }
    uint64_t off;
    kvt_status_t st = kvt_arena_alloc(t->arena, io->len, &off);
    if (st != KVT_OK) {
        atomic_fetch_sub(&t->used_bytes, rec);
        return st;
    }
    memcpy(kvt_arena_ptr(t->arena, off), io->buf, io->len);

    pthread_mutex_lock(&s->lock);
    if (mem_map_find(&s->map, io->meta.key) != NULL) {
        st = KVT_OK; /* another channel stored the same key meanwhile */
        present = true;
    } else {
        st = mem_map_insert(&s->map, &io->meta, off);
    }
    pthread_mutex_unlock(&s->lock);
    if (present || st != KVT_OK) {
        kvt_arena_release(t->arena, off);
        atomic_fetch_sub(&t->used_bytes, rec);
        return st;
    }
    atomic_fetch_add(&t->blocks, 1);
    return KVT_OK;
}

static kvt_status_t do_get(kvt_mem_tier_t *t, kvt_tier_io_t *io)
{
    shard_t *s = shard_of(t, io->meta.key);
    pthread_mutex_lock(&s->lock);
    const mem_rec_t *e = mem_map_find(&s->map, io->meta.key);
    if (e == NULL) {
        pthread_mutex_unlock(&s->lock);
        return KVT_ERR_NOT_FOUND;
    }
    if (e->meta.payload_bytes > io->len) {
        pthread_mutex_unlock(&s->lock);
        return KVT_ERR_DOES_NOT_FIT;
    }
    kvt_block_meta_t meta = e->meta;
    uint64_t off = e->off;
    kvt_arena_pin(t->arena, off);
    pthread_mutex_unlock(&s->lock);

    memcpy(io->buf, kvt_arena_ptr(t->arena, off), meta.payload_bytes);
    kvt_arena_unpin(t->arena, off);
    io->meta = meta;
    io->len = meta.payload_bytes;
    return KVT_OK;
}

kvt_status_t kvt_mem_tier_submit(void *chan, kvt_tier_io_t *io)
{
    mem_chan_t *c = chan;
    if (c->count == c->cap) {
        io->status = KVT_ERR_BUSY;
        return KVT_ERR_BUSY;
    }
    /* the copy is done now; the status is published when poll hands the io back, so a
       caller waiting for status != KVT_INPROGRESS (kvt_tier_run) polls it out of the ring */
    kvt_status_t st = io->op == KVT_TIER_PUT ? do_put(c->t, io) : do_get(c->t, io);
    io->priv[0] = (uint64_t)(int64_t)st;
    c->ring[(c->head + c->count) % c->cap] = io;
    c->count++;
    return KVT_OK;
}

size_t kvt_mem_tier_poll(void *chan, size_t min_complete, kvt_tier_io_t **done, size_t max)
{
    (void)min_complete; /* every submitted io is already complete: nothing to wait for */
    mem_chan_t *c = chan;
    size_t n = 0;
    while (n < max && c->count > 0) {
        kvt_tier_io_t *io = c->ring[c->head];
        io->status = (kvt_status_t)(int64_t)io->priv[0];
        done[n++] = io;
        c->head = (c->head + 1) % c->cap;
        c->count--;
    }
    return n;
}

kvt_status_t kvt_mem_tier_remove(void *ctx, kvt_key_t key)
{
    kvt_mem_tier_t *t = ctx;
    shard_t *s = shard_of(t, key);
    pthread_mutex_lock(&s->lock);
    const mem_rec_t *e = mem_map_find(&s->map, key);
    if (e == NULL) {
        pthread_mutex_unlock(&s->lock);
        return KVT_ERR_NOT_FOUND;
    }
    uint64_t off = e->off;
    uint64_t rec = record_bytes(e->meta.payload_bytes);
    mem_map_erase(&s->map, key);
    pthread_mutex_unlock(&s->lock);
    kvt_arena_release(t->arena, off); /* reused once no get still copies out of it */
    atomic_fetch_sub(&t->used_bytes, rec);
    atomic_fetch_sub(&t->blocks, 1);
    return KVT_OK;
}

bool kvt_mem_tier_contains(void *ctx, kvt_key_t key)
{
    kvt_mem_tier_t *t = ctx;
    shard_t *s = shard_of(t, key);
    pthread_mutex_lock(&s->lock);
    bool found = mem_map_find(&s->map, key) != NULL;
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* Each shard's headers are copied out under its lock and handed to cb after unlocking, so cb
 * may call back into the tier (remove, contains, even put through a channel). */
kvt_status_t kvt_mem_tier_scan(void *ctx, kvt_tier_scan_cb_t cb, void *arg)
{
    kvt_mem_tier_t *t = ctx;
    kvt_block_meta_t *copy = NULL;
    size_t copy_cap = 0;
    for (size_t i = 0; i < NSHARDS; i++) {
        shard_t *s = &t->shards[i];
        pthread_mutex_lock(&s->lock);
        if (s->map.count > copy_cap) {
            kvt_block_meta_t *grown = realloc(copy, s->map.count * sizeof(*copy));
            if (grown == NULL) {
                pthread_mutex_unlock(&s->lock);
                free(copy);
                return KVT_ERR_NO_MEMORY;
            }
            copy = grown;
            copy_cap = s->map.count;
        }
        size_t n = 0;
        for (size_t j = 0; j <= s->map.mask; j++) {
            const mem_rec_t *r = mem_map_at(&s->map, j);
            if (r != NULL) {
                copy[n++] = r->meta;
            }
        }
        pthread_mutex_unlock(&s->lock);
        for (size_t j = 0; j < n; j++) {
            cb(&copy[j], arg);
        }
    }
    free(copy);
    return KVT_OK;
}

void kvt_mem_tier_info(void *ctx, kvt_tier_info_t *info)
{
    kvt_mem_tier_t *t = ctx;
    snprintf(info->detail, sizeof(info->detail), "%s", t->detail);
    info->capacity_bytes = t->capacity;
    info->used_bytes = atomic_load(&t->used_bytes);
    info->blocks = atomic_load(&t->blocks);
    info->errors = 0; /* memory copies do not fail */
}

/* The smaller of the byte budget (header + payload per record) and the slots the arena's slabs
 * give payload_bytes' size class. */
uint64_t kvt_mem_tier_records(void *ctx, uint64_t payload_bytes)
{
    kvt_mem_tier_t *t = ctx;
    uint64_t by_bytes = t->capacity / record_bytes(payload_bytes);
    uint64_t slot = kvt_arena_class_bytes(t->arena, payload_bytes);
    if (slot == 0) {
        return 0;
    }
    kvt_arena_stats_t st;
    kvt_arena_stats(t->arena, &st);
    uint64_t by_slots = st.slabs * (st.slab_bytes / slot);
    return by_bytes < by_slots ? by_bytes : by_slots;
}

size_t kvt_mem_tier_regions(void *ctx, kvt_tier_region_t *out, size_t max)
{
    kvt_arena_region_t r[4];
    size_t n = kvt_arena_regions(((kvt_mem_tier_t *)ctx)->arena, r, 4);
    for (size_t i = 0; i < n && i < max; i++) {
        out[i].base = r[i].base;
        out[i].len = r[i].len;
    }
    return n;
}

kvt_status_t kvt_mem_tier_prefault(void *ctx)
{
    return kvt_arena_prefault(((kvt_mem_tier_t *)ctx)->arena);
}

kvt_arena_t *kvt_mem_tier_arena(void *ctx)
{
    return ((kvt_mem_tier_t *)ctx)->arena;
}
