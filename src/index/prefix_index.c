/*
 * The prefix index: a hash table from 128-bit block keys to (tier, slot).
 *
 * Open addressing with linear probing over a power-of-two array of 24-byte buckets, kept at
 * most half full. The home bucket of a key is its low 64 bits masked to the capacity: keys are
 * XXH3 or SHA-256 output, already uniform, so there is nothing to gain from remixing. Linear
 * probing keeps a lookup to one or two cache lines at this load; a bucket stores the whole key,
 * so a hit is confirmed without touching anything else.
 *
 * Deletion is by backward shift rather than tombstones: after emptying a bucket, the entries of
 * the run that follows are moved back into the hole when their home bucket does not lie
 * cyclically between the hole and their own position. The table never fills with tombstones, and
 * a lookup still stops at the first empty bucket.
 *
 * match() knows every key of the chain before it starts, so it prefetches the home bucket of the
 * key PREFETCH_AHEAD positions ahead: in a table much larger than the caches each lookup is a
 * cache miss, and overlapping them hides most of the memory latency.
 */
#include <kvtier/prefix_index.h>

#include "common/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIN_CAP        64
#define PREFETCH_AHEAD 16
#define HUGE_PAGE      ((size_t)2 << 20)

typedef struct bucket {
    uint64_t lo, hi;
    uint32_t slot;
    uint8_t tier;
    uint8_t used;
} bucket_t;

struct kvt_prefix_index {
    bucket_t *b;
    size_t mask; /* capacity - 1 */
    size_t count;
};

/* Tables of 2 MiB or more are 2 MiB aligned and asked to be backed by transparent huge pages:
 * with 4 KiB pages every lookup in a large table is also a TLB miss (measured on the 2-vCPU
 * dev VM: the cache-cold match() of 2,000 blocks in 1 M went from 33 to 30 us, the warm one
 * from 4.8 to 3.9 us). madvise failing (no THP) only costs that speed. */
static kvt_status_t alloc_table(size_t cap, bucket_t **b_p)
{
    size_t bytes = cap * sizeof(bucket_t);
    bucket_t *b;
    if (bytes >= HUGE_PAGE) {
        bytes = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
        b = aligned_alloc(HUGE_PAGE, bytes);
        if (b == NULL) {
            return KVT_ERR_NO_MEMORY;
        }
        (void)madvise(b, bytes, MADV_HUGEPAGE);
        memset(b, 0, bytes);
    } else {
        b = calloc(cap, sizeof(*b));
        if (b == NULL) {
            return KVT_ERR_NO_MEMORY;
        }
    }
    *b_p = b;
    return KVT_OK;
}

kvt_status_t kvt_prefix_index_create(size_t expected, kvt_prefix_index_t **idx_p,
                                     kvt_error_t *err)
{
    if (idx_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "prefix index: NULL idx_p");
    }
    if (expected > SIZE_MAX / 2 / sizeof(bucket_t)) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "prefix index: %zu blocks is too many",
                             expected);
    }
    size_t cap = MIN_CAP;
    while (cap < expected * 2) {
        cap *= 2;
    }
    kvt_prefix_index_t *idx = malloc(sizeof(*idx));
    if (idx == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "prefix index: out of memory");
    }
    if (alloc_table(cap, &idx->b) != KVT_OK) {
        free(idx);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY,
                             "prefix index: out of memory for %zu buckets", cap);
    }
    idx->mask = cap - 1;
    idx->count = 0;
    *idx_p = idx;
    return KVT_OK;
}

void kvt_prefix_index_destroy(kvt_prefix_index_t *idx)
{
    if (idx == NULL) {
        return;
    }
    free(idx->b);
    free(idx);
}

/* The bucket holding key, or NULL. */
static bucket_t *find(const kvt_prefix_index_t *idx, kvt_key_t key)
{
    size_t j = (size_t)key.lo & idx->mask;
    while (idx->b[j].used) {
        if (idx->b[j].lo == key.lo && idx->b[j].hi == key.hi) {
            return &idx->b[j];
        }
        j = (j + 1) & idx->mask;
    }
    return NULL;
}

static kvt_status_t grow(kvt_prefix_index_t *idx)
{
    size_t cap = (idx->mask + 1) * 2;
    bucket_t *nb;
    if (cap > SIZE_MAX / sizeof(bucket_t) || alloc_table(cap, &nb) != KVT_OK) {
        return KVT_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i <= idx->mask; i++) {
        if (idx->b[i].used) {
            size_t j = (size_t)idx->b[i].lo & (cap - 1);
            while (nb[j].used) {
                j = (j + 1) & (cap - 1);
            }
            nb[j] = idx->b[i];
        }
    }
    free(idx->b);
    idx->b = nb;
    idx->mask = cap - 1;
    return KVT_OK;
}

kvt_status_t kvt_prefix_index_put(kvt_prefix_index_t *idx, kvt_key_t key, uint8_t tier,
                                  uint32_t slot)
{
    if (idx == NULL) {
        return KVT_ERR_INVALID;
    }
    bucket_t *e = find(idx, key);
    if (e != NULL) {
        e->tier = tier;
        e->slot = slot;
        return KVT_OK;
    }
    if ((idx->count + 1) * 2 > idx->mask + 1 && grow(idx) != KVT_OK) {
        return KVT_ERR_NO_MEMORY;
    }
    size_t j = (size_t)key.lo & idx->mask;
    while (idx->b[j].used) {
        j = (j + 1) & idx->mask;
    }
    idx->b[j] = (bucket_t){.lo = key.lo, .hi = key.hi, .slot = slot, .tier = tier, .used = 1};
    idx->count++;
    return KVT_OK;
}

kvt_status_t kvt_prefix_index_remove(kvt_prefix_index_t *idx, kvt_key_t key)
{
    if (idx == NULL) {
        return KVT_ERR_INVALID;
    }
    bucket_t *e = find(idx, key);
    if (e == NULL) {
        return KVT_ERR_NOT_FOUND;
    }
    size_t hole = (size_t)(e - idx->b);
    size_t j = hole;
    for (;;) {
        j = (j + 1) & idx->mask;
        if (!idx->b[j].used) {
            break;
        }
        size_t home = (size_t)idx->b[j].lo & idx->mask;
        /* the entry at j may fill the hole unless its home lies cyclically in (hole, j] */
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            idx->b[hole] = idx->b[j];
            hole = j;
        }
    }
    idx->b[hole].used = 0;
    idx->count--;
    return KVT_OK;
}

kvt_status_t kvt_prefix_index_get(const kvt_prefix_index_t *idx, kvt_key_t key, uint8_t *tier_p,
                                  uint32_t *slot_p)
{
    if (idx == NULL) {
        return KVT_ERR_INVALID;
    }
    const bucket_t *e = find(idx, key);
    if (e == NULL) {
        return KVT_ERR_NOT_FOUND;
    }
    if (tier_p != NULL) {
        *tier_p = e->tier;
    }
    if (slot_p != NULL) {
        *slot_p = e->slot;
    }
    return KVT_OK;
}

size_t kvt_prefix_index_match(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                              uint8_t *tiers_out, uint32_t *slots_out)
{
    if (idx == NULL || chain == NULL) {
        return 0;
    }
    size_t ahead = n < PREFETCH_AHEAD ? n : PREFETCH_AHEAD;
    for (size_t i = 0; i < ahead; i++) {
        __builtin_prefetch(&idx->b[(size_t)chain[i].lo & idx->mask]);
    }
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            __builtin_prefetch(&idx->b[(size_t)chain[i + PREFETCH_AHEAD].lo & idx->mask]);
        }
        const bucket_t *e = find(idx, chain[i]);
        if (e == NULL) {
            return i;
        }
        if (tiers_out != NULL) {
            tiers_out[i] = e->tier;
        }
        if (slots_out != NULL) {
            slots_out[i] = e->slot;
        }
    }
    return n;
}

void kvt_prefix_index_prefetch(const kvt_prefix_index_t *idx, kvt_key_t key)
{
    __builtin_prefetch(&idx->b[(size_t)key.lo & idx->mask]);
}

size_t kvt_prefix_index_size(const kvt_prefix_index_t *idx)
{
    return idx == NULL ? 0 : idx->count;
}

size_t kvt_prefix_index_memory(const kvt_prefix_index_t *idx)
{
    return idx == NULL ? 0 : sizeof(*idx) + (idx->mask + 1) * sizeof(bucket_t);
}
