/*
 * The memory tiers' key map: slim buckets in front of dense records.
 *
 * A bucket holds the 128-bit key and the number of its record (24 bytes); the record -- the
 * 88-byte header the put gave and the payload's arena slot -- lives in fixed chunks of
 * MEM_MAP_CHUNK records that are allocated as the map grows and never move, so the record array
 * is full but for records freed and not yet reused (a free list threaded through their `off`).
 * Buckets are open addressing with linear probing on the key's low word, backward-shift deletion
 * (no tombstones), doubled when more than 3/4 full: 32 to 64 bytes of buckets per key, plus 96 of
 * record. Keeping the header in the bucket, as the first version did, cost 104 bytes per bucket
 * at most half full -- 208 to 416 bytes per key -- and made every probe step over a header.
 * A lookup reads the buckets of its probe run and then one record.
 */
#include "tier/mem_map.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MEM_MAP_MIN   16u  /* buckets of an empty map */
#define MEM_MAP_CHUNK 256u /* records per chunk */

kvt_status_t mem_map_init(mem_map_t *m)
{
    memset(m, 0, sizeof(*m));
    m->b = calloc(MEM_MAP_MIN, sizeof(*m->b));
    if (m->b == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    m->mask = MEM_MAP_MIN - 1;
    return KVT_OK;
}

void mem_map_fini(mem_map_t *m)
{
    for (uint32_t i = 0; i < m->nchunks; i++) {
        free(m->chunk[i]);
    }
    free(m->chunk);
    free(m->b);
    memset(m, 0, sizeof(*m));
}

static mem_rec_t *rec_of(const mem_map_t *m, uint32_t rec)
{
    uint32_t i = rec - 1;
    return &m->chunk[i / MEM_MAP_CHUNK][i % MEM_MAP_CHUNK];
}

static mem_bucket_t *find_bucket(const mem_map_t *m, kvt_key_t key)
{
    for (size_t j = (size_t)key.lo & m->mask; m->b[j].rec != 0; j = (j + 1) & m->mask) {
        if (m->b[j].lo == key.lo && m->b[j].hi == key.hi) {
            return &m->b[j];
        }
    }
    return NULL;
}

mem_rec_t *mem_map_find(const mem_map_t *m, kvt_key_t key)
{
    const mem_bucket_t *b = find_bucket(m, key);
    return b != NULL ? rec_of(m, b->rec) : NULL;
}

mem_rec_t *mem_map_at(const mem_map_t *m, size_t i)
{
    return m->b[i].rec != 0 ? rec_of(m, m->b[i].rec) : NULL;
}

static void place(mem_bucket_t *b, size_t mask, const mem_bucket_t *item)
{
    size_t j = (size_t)item->lo & mask;
    while (b[j].rec != 0) {
        j = (j + 1) & mask;
    }
    b[j] = *item;
}

/* Room for one more key: buckets at most 3/4 full after it, and a free record. */
static kvt_status_t reserve(mem_map_t *m)
{
    if ((m->count + 1) * 4 > (m->mask + 1) * 3) {
        size_t cap = (m->mask + 1) * 2;
        mem_bucket_t *nb = calloc(cap, sizeof(*nb));
        if (nb == NULL) {
            return KVT_ERR_NO_MEMORY;
        }
        for (size_t i = 0; i <= m->mask; i++) {
            if (m->b[i].rec != 0) {
                place(nb, cap - 1, &m->b[i]);
            }
        }
        free(m->b);
        m->b = nb;
        m->mask = cap - 1;
    }
    if (m->free_rec == 0) {
        if ((uint64_t)(m->nchunks + 1) * MEM_MAP_CHUNK >= UINT32_MAX) {
            return KVT_ERR_NO_MEMORY;
        }
        mem_rec_t **nt = realloc(m->chunk, (m->nchunks + 1) * sizeof(*nt));
        if (nt == NULL) {
            return KVT_ERR_NO_MEMORY;
        }
        m->chunk = nt;
        mem_rec_t *c = malloc(MEM_MAP_CHUNK * sizeof(*c));
        if (c == NULL) {
            return KVT_ERR_NO_MEMORY;
        }
        m->chunk[m->nchunks] = c;
        uint32_t first = m->nchunks * MEM_MAP_CHUNK + 1;
        for (uint32_t i = 0; i < MEM_MAP_CHUNK; i++) {
            c[i].off = i + 1 < MEM_MAP_CHUNK ? first + i + 1 : 0;
        }
        m->nchunks++;
        m->free_rec = first;
    }
    return KVT_OK;
}

kvt_status_t mem_map_insert(mem_map_t *m, const kvt_block_meta_t *meta, uint64_t off)
{
    kvt_status_t st = reserve(m);
    if (st != KVT_OK) {
        return st;
    }
    uint32_t rec = m->free_rec;
    mem_rec_t *r = rec_of(m, rec);
    m->free_rec = (uint32_t)r->off;
    r->meta = *meta;
    r->off = off;
    mem_bucket_t item = {.lo = meta->key.lo, .hi = meta->key.hi, .rec = rec};
    place(m->b, m->mask, &item);
    m->count++;
    return KVT_OK;
}

void mem_map_erase(mem_map_t *m, kvt_key_t key)
{
    mem_bucket_t *hb = find_bucket(m, key);
    size_t hole = (size_t)(hb - m->b);
    mem_rec_t *r = rec_of(m, hb->rec);
    r->off = m->free_rec;
    m->free_rec = hb->rec;
    m->b[hole].rec = 0;
    for (size_t j = (hole + 1) & m->mask; m->b[j].rec != 0; j = (j + 1) & m->mask) {
        size_t home = (size_t)m->b[j].lo & m->mask;
        /* move j into the hole unless its home lies cyclically in (hole, j] */
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            m->b[hole] = m->b[j];
            m->b[j].rec = 0;
            hole = j;
        }
    }
    m->count--;
}
