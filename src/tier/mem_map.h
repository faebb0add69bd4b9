/*
 * Internal: the memory tiers' key map (one shard of it): key -> the record's header and its
 * arena slot. Not thread-safe: mem_tier.c holds the shard's mutex around every call.
 */
#ifndef KVT_TIER_MEM_MAP_H
#define KVT_TIER_MEM_MAP_H

#include <kvtier/block.h>
#include <kvtier/status.h>

#include <stddef.h>
#include <stdint.h>

/* A record: its header as the put gave it (meta.key is the key) and its payload's slot. */
typedef struct mem_rec {
    kvt_block_meta_t meta;
    uint64_t off;
} mem_rec_t;

typedef struct mem_bucket {
    uint64_t lo, hi; /* the key */
    uint32_t rec;    /* 1 + the record's number; 0: empty bucket */
} mem_bucket_t;

typedef struct mem_map {
    mem_bucket_t *b;
    size_t mask;       /* buckets - 1 */
    size_t count;      /* keys */
    mem_rec_t **chunk; /* records, MEM_MAP_CHUNK per chunk, allocated as needed */
    uint32_t nchunks;
    uint32_t free_rec; /* 1 + the first free record (its off links the next); 0: none */
} mem_map_t;

kvt_status_t mem_map_init(mem_map_t *m);
void mem_map_fini(mem_map_t *m);

/* The record of key, or NULL. */
mem_rec_t *mem_map_find(const mem_map_t *m, kvt_key_t key);

/* Add key (meta->key, absent) with its slot: KVT_ERR_NO_MEMORY leaves the map unchanged. */
kvt_status_t mem_map_insert(mem_map_t *m, const kvt_block_meta_t *meta, uint64_t off);

/* Remove key (present). */
void mem_map_erase(mem_map_t *m, kvt_key_t key);

/* The i-th record of the bucket array (i in 0..mask), or NULL for an empty bucket: a scan. */
mem_rec_t *mem_map_at(const mem_map_t *m, size_t i);

#endif
