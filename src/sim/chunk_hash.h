/*
 * Internal: chained block keys for traces that carry text or token ids instead of block hashes
 * (swe-traj, sharegpt, tokens; docs/traces.md).
 *
 * A prompt's bytes (text, or token ids as 4-byte little-endian words) are cut into chunks of
 * `chunk` bytes, one per block, the last one possibly shorter. Chunk i's key is
 *
 *     key_i = mix64(FNV-1a-64(key_{i-1} || chunk bytes || chunk length))
 *
 * with key_{i-1} and the length as 8 little-endian bytes each, key_{-1} = 0, and mix64 the
 * splitmix64 finalizer. Chaining makes a key name the whole prefix
 * up to its chunk, so equal keys at a position mean equal prefixes; the length makes a partial
 * last chunk differ from every full chunk, so it matches only an identical prompt. The chunker
 * takes the bytes in pieces of any size and keeps the keys of the full chunks so far; the key of
 * the partial chunk in progress is available at any point, so prompts that grow by appending
 * (an agent's history) are hashed once.
 */
#ifndef KVT_SIM_CHUNK_HASH_H
#define KVT_SIM_CHUNK_HASH_H

#include <kvtier/status.h>

#include "common/mix64.h"
#include "sim/reader_util.h"

#include <stdlib.h>

#define KVT_FNV_OFFSET 14695981039346656037ull
#define KVT_FNV_PRIME  1099511628211ull

static inline uint64_t kvt_fnv_bytes(uint64_t h, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ s[i]) * KVT_FNV_PRIME;
    }
    return h;
}

static inline uint64_t kvt_fnv_u64(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h = (h ^ (v >> (8 * i) & 0xFF)) * KVT_FNV_PRIME;
    }
    return h;
}

typedef struct kvt_chunker {
    size_t chunk;   /* bytes per chunk */
    uint64_t prev;  /* key of the last full chunk, 0 before the first */
    uint64_t h;     /* FNV state of the chunk in progress */
    size_t fill;    /* its bytes so far */
    uint64_t total; /* bytes fed since the last reset */
    uint64_t *keys; /* keys of the full chunks */
    size_t nkeys, cap;
} kvt_chunker_t;

static inline void kvt_chunker_reset(kvt_chunker_t *c)
{
    c->prev = 0;
    c->h = kvt_fnv_u64(KVT_FNV_OFFSET, 0);
    c->fill = 0;
    c->total = 0;
    c->nkeys = 0;
}

static inline void kvt_chunker_init(kvt_chunker_t *c, size_t chunk)
{
    c->chunk = chunk;
    c->keys = NULL;
    c->cap = 0;
    kvt_chunker_reset(c);
}

static inline void kvt_chunker_fini(kvt_chunker_t *c)
{
    free(c->keys);
    c->keys = NULL;
    c->cap = 0;
}

/* Key of a chunk whose bytes (after prev) are hashed into state h, fill bytes long. */
static inline uint64_t kvt_chunk_key(uint64_t h, uint64_t fill)
{
    return kvt_mix64(kvt_fnv_u64(h, fill));
}

/* Append bytes; KVT_ERR_NO_MEMORY if the key array cannot grow. */
static inline kvt_status_t kvt_chunker_feed(kvt_chunker_t *c, const void *bytes, size_t n)
{
    const unsigned char *s = bytes;
    c->total += n;
    while (n > 0) {
        size_t m = c->chunk - c->fill < n ? c->chunk - c->fill : n;
        c->h = kvt_fnv_bytes(c->h, s, m);
        c->fill += m;
        s += m;
        n -= m;
        if (c->fill == c->chunk) {
            if (!kvt_grow_array((void **)&c->keys, &c->cap, c->nkeys + 1, sizeof(*c->keys))) {
                return KVT_ERR_NO_MEMORY;
            }
            c->prev = kvt_chunk_key(c->h, c->chunk);
            c->keys[c->nkeys++] = c->prev;
            c->h = kvt_fnv_u64(KVT_FNV_OFFSET, c->prev);
            c->fill = 0;
        }
    }
    return KVT_OK;
}

/* Whether a partial chunk is in progress, and its key if the prompt ended here. */
static inline bool kvt_chunker_partial(const kvt_chunker_t *c, uint64_t *key_p)
{
    if (c->fill == 0) {
        return false;
    }
    *key_p = kvt_chunk_key(c->h, c->fill);
    return true;
}

#endif
