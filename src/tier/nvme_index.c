/*
 * The NVMe tier's index: block key -> (segment, offset, payload bytes), in memory, rebuilt from
 * the segments at open.
 *
 * 64 shards, each a mutex over an open-addressing table with linear probing kept at most 3/4
 * full and backward-shift deletion (no tombstones; see prefix_index.c). A key's shard is chosen
 * by its high 64 bits and its home bucket by its low 64 bits: keys are hash output, already
 * uniform. Lookups, inserts and removes from different threads meet only when they hit the same
 * shard, so channels never serialise on one lock.
 *
 * An entry is 32 bytes (key, payload length, segment, offset in sectors): exactly what a GET
 * needs to issue its read and to answer DOES_NOT_FIT. Everything else of the block header
 * (parent, tenant, fingerprint, positions, layout, payload checksum) stays on disk in the
 * record's descriptor sector, which a GET reads together with the payload (one contiguous read,
 * one sector more) and verifies before it checks the payload against the checksum found there.
 * The segment generation a GET needs for its seqlock is the segment's current one (read under
 * the shard lock: a segment is restarted only when no entry points into it). With the table
 * between 3/8 and 3/4 full that is 43 to 85 bytes per record (was ~128-byte entries at most
 * half full: 256 to 512). scan() reads the descriptors from disk (nvme.c).
 */
#include "tier/nvme_internal.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAP 64

/* On failure nothing is left to free: the tables allocated so far are freed (and their
   pointers cleared), every lock destroyed. */
kvt_status_t nvme_index_init(nvme_index_t *ix)
{
    for (size_t i = 0; i < NVME_SHARDS; i++) {
        nvme_shard_t *s = &ix->shard[i];
        s->e = calloc(MIN_CAP, sizeof(*s->e));
        if (s->e == NULL) {
            for (size_t j = 0; j < i; j++) {
                pthread_mutex_destroy(&ix->shard[j].lock);
                free(ix->shard[j].e);
                ix->shard[j].e = NULL;
            }
            return KVT_ERR_NO_MEMORY;
        }
        s->mask = MIN_CAP - 1;
        s->count = 0;
        pthread_mutex_init(&s->lock, NULL);
    }
    return KVT_OK;
}

void nvme_index_fini(nvme_index_t *ix)
{
    for (size_t i = 0; i < NVME_SHARDS; i++) {
        pthread_mutex_destroy(&ix->shard[i].lock);
        free(ix->shard[i].e);
        ix->shard[i].e = NULL;
    }
}

nvme_shard_t *nvme_index_shard(nvme_index_t *ix, kvt_key_t key)
{
    return &ix->shard[key.hi % NVME_SHARDS];
}

static bool key_eq(kvt_key_t a, kvt_key_t b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

nvme_entry_t *nvme_shard_find(nvme_shard_t *s, kvt_key_t key)
{
    for (size_t i = key.lo & s->mask;; i = (i + 1) & s->mask) {
        nvme_entry_t *e = &s->e[i];
        if (e->off_sec == 0) {
            return NULL;
        }
        if (key_eq(e->key, key)) {
            return e;
        }
    }
}

static void place(nvme_entry_t *tab, size_t mask, const nvme_entry_t *e)
{
    size_t i = e->key.lo & mask;
    while (tab[i].off_sec != 0) {
        i = (i + 1) & mask;
    }
    tab[i] = *e;
}

kvt_status_t nvme_shard_insert(nvme_shard_t *s, const nvme_entry_t *e)
{
    if ((s->count + 1) * 4 > (s->mask + 1) * 3) {
        size_t cap = (s->mask + 1) * 2;
        nvme_entry_t *n = calloc(cap, sizeof(*n));
        if (n == NULL) {
            return KVT_ERR_NO_MEMORY;
        }
        for (size_t i = 0; i <= s->mask; i++) {
            if (s->e[i].off_sec != 0) {
                place(n, cap - 1, &s->e[i]);
            }
        }
        free(s->e);
        s->e = n;
        s->mask = cap - 1;
    }
    place(s->e, s->mask, e);
    s->count++;
    return KVT_OK;
}

void nvme_shard_erase(nvme_shard_t *s, nvme_entry_t *e)
{
    size_t hole = (size_t)(e - s->e);
    s->e[hole].off_sec = 0;
    s->count--;
    for (size_t i = (hole + 1) & s->mask; s->e[i].off_sec != 0; i = (i + 1) & s->mask) {
        size_t home = s->e[i].key.lo & s->mask;
        /* move back unless home lies cyclically in (hole, i] */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            s->e[hole] = s->e[i];
            s->e[i].off_sec = 0;
            hole = i;
        }
    }
}

bool nvme_index_put(nvme_tier_t *t, kvt_key_t key, uint64_t payload_bytes, const nvme_loc_t *loc,
                    uint64_t gen, bool prefer_existing)
{
    nvme_shard_t *s = nvme_index_shard(&t->index, key);
    nvme_entry_t e = {.key = key,
                      .payload_bytes = payload_bytes,
                      .seg = loc->seg,
                      .off_sec = (uint32_t)(loc->off / NVME_SECTOR)};
    pthread_mutex_lock(&s->lock);
    nvme_entry_t *old = nvme_shard_find(s, key);
    bool taken = false;
    if (old != NULL) {
        /* equal keys name equal content: keep one copy. During recovery the copy in the newer
           segment generation wins (a compaction's copy over its source). */
        uint64_t old_gen = atomic_load(&t->seg[old->seg].gen);
        if (!prefer_existing &&
            (gen > old_gen || (gen == old_gen && loc->seg == old->seg &&
                               loc->off > nvme_entry_off(old)))) {
            atomic_fetch_sub(&t->seg[old->seg].live, nvme_entry_rec(old));
            *old = e;
            atomic_fetch_add(&t->seg[loc->seg].live, loc->rec_bytes);
            taken = true;
        }
    } else if (nvme_shard_insert(s, &e) == KVT_OK) {
        atomic_fetch_add(&t->seg[loc->seg].live, loc->rec_bytes);
        taken = true;
    }
    pthread_mutex_unlock(&s->lock);
    return taken;
}

void nvme_index_drop_at(nvme_tier_t *t, kvt_key_t key, uint32_t seg, uint64_t off)
{
    nvme_shard_t *s = nvme_index_shard(&t->index, key);
    pthread_mutex_lock(&s->lock);
    nvme_entry_t *e = nvme_shard_find(s, key);
    if (e != NULL && e->seg == seg && nvme_entry_off(e) == off) {
        atomic_fetch_sub(&t->seg[seg].live, nvme_entry_rec(e));
        nvme_shard_erase(s, e);
    }
    pthread_mutex_unlock(&s->lock);
}

bool nvme_index_contains_key(nvme_tier_t *t, kvt_key_t key)
{
    nvme_shard_t *s = nvme_index_shard(&t->index, key);
    pthread_mutex_lock(&s->lock);
    bool found = nvme_shard_find(s, key) != NULL;
    pthread_mutex_unlock(&s->lock);
    return found;
}
