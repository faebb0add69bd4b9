/*
 * kvtier prefix index: block key -> where the block is resident (tier, slot).
 *
 * The store asks "how much of this prompt's prefix do we hold, and where?" by walking the
 * prompt's key chain (kvtier/key.h) through the index until the first key that is absent:
 * because a key covers its whole prefix, the blocks before the first miss are exactly the
 * reusable prefix.
 *
 * Layout: blocks are stored in a run array in the order they were put (24 bytes each: the key,
 * the slot, the tier, a live flag), and a hash table of 64-byte groups of eight (32-bit tag,
 * 32-bit run position) pairs finds a key's entry. A prefill puts a prompt's blocks in chain
 * order, so a chain's keys sit side by side in the run, and match() reads them sequentially,
 * using the hash table only where the chain leaves the run (src/index/prefix_index.c).
 *
 * Memory: resident bytes per block, worst case, once the index has grown to what it holds:
 * the hash table is kept between 5/16 and 3/4 full (doubled past 3/4, halved under 5/16, never
 * below its created size), 8 / (5/16) = 25.6 bytes a block at most; the run array holds 24
 * bytes per entry, at most 1/8 of them dead (removed, awaiting compaction) when a compaction
 * starts and 1/63 more by the time its steps are done (src/index/prefix_index.c), 24 / (1 - 1/8
 * - 1/63) = 27.9; a run mapping large enough for huge pages (16 MiB) may be resident up to 2 MiB
 * past its last entry while at least 8 MiB of it is written, at most 2 MiB / (8 MiB / 24 x
 * 0.859) = 7.0 bytes a block: 25.6 + 27.9 + 7.0 = 60.5, under 64 at every load it keeps, plus
 * the handle, one page and 64 dead entries (1.5 KiB) of fixed cost. At 1 M blocks put in order
 * (created for them) it is 40.8 bytes a block (bench/bench_index): the table at load 0.48, 16
 * bytes, and the run, 24. An index created for far more blocks than it holds costs more per
 * block until it fills.
 *
 * Speed: match() of a 2,000-block chain in an index of 1 M blocks on the 2-vCPU dev VM, medians
 * of five alternating runs: 6.0 us cache-cold and 3.0 us warm when the chain's blocks were put
 * in order; 34.5 us cold and 14.9 us warm when they were put in a shuffled order (two random
 * lines a block, the home group and the run entry). The earlier layout (whole keys in the hash
 * table, three a group, AVX-512 compare) took 26.5 us cold and 4.9 us warm in the same runs.
 *
 * Not thread-safe: calls on one index must be serialised by the caller (reads included, since
 * put() may rehash the table and remove() may compact the run). The live store stripes it
 * across 16 indexes under rwlocks and walks a chain over all of them at once with
 * kvt_prefix_index_match_sharded().
 */
#ifndef KVTIER_PREFIX_INDEX_H
#define KVTIER_PREFIX_INDEX_H

#include <kvtier/key.h>

KVT_BEGIN_DECLS

typedef struct kvt_prefix_index kvt_prefix_index_t;

/*
 * A new, empty index sized for expected blocks without growing (0 is allowed). *idx_p is written
 * only on success; free it with kvt_prefix_index_destroy(). KVT_ERR_INVALID for a NULL idx_p,
 * KVT_ERR_NO_MEMORY.
 */
KVT_API kvt_status_t kvt_prefix_index_create(size_t expected, kvt_prefix_index_t **idx_p,
                                             kvt_error_t *err);

/* Frees the index; NULL does nothing. */
KVT_API void kvt_prefix_index_destroy(kvt_prefix_index_t *idx);

/*
 * Records key as resident in (tier, slot): inserts it, or updates its record if present.
 * KVT_ERR_INVALID for a NULL idx, KVT_ERR_NO_MEMORY when the table must grow and cannot (the
 * index is then unchanged).
 */
KVT_API kvt_status_t kvt_prefix_index_put(kvt_prefix_index_t *idx, kvt_key_t key, uint8_t tier,
                                          uint32_t slot);

/* Forgets key: KVT_OK if it was present, KVT_ERR_NOT_FOUND if not, KVT_ERR_INVALID for NULL. */
KVT_API kvt_status_t kvt_prefix_index_remove(kvt_prefix_index_t *idx, kvt_key_t key);

/*
 * Where key is resident: KVT_OK and *tier_p, *slot_p (either may be NULL), or KVT_ERR_NOT_FOUND
 * (outputs untouched); KVT_ERR_INVALID for a NULL idx.
 */
KVT_API kvt_status_t kvt_prefix_index_get(const kvt_prefix_index_t *idx, kvt_key_t key,
                                          uint8_t *tier_p, uint32_t *slot_p);

/*
 * The length of the longest prefix chain[0..len) whose keys are all present; tiers_out[i] and
 * slots_out[i] (either array may be NULL; otherwise they hold n entries) receive where block i
 * is, for i < len, and are untouched beyond. 0 for a NULL idx or chain.
 */
KVT_API size_t kvt_prefix_index_match(const kvt_prefix_index_t *idx, const kvt_key_t *chain,
                                      size_t n, uint8_t *tiers_out, uint32_t *slots_out);

/*
 * match() for a chain whose keys are spread over nidx indexes (a power of two, at most
 * KVT_PREFIX_INDEX_MAX_SHARDS; a caller that shards one index for concurrency): key k lives in
 * idx[(k.lo ^ k.hi) & (nidx - 1)], the rule the caller must have used to put it there. The same
 * answer as match() over one index holding all the keys, at about the same speed (the walk
 * follows each index's run on its own, and prefetches ahead across indexes where it leaves
 * them). 0 when idx or chain is NULL, an index is NULL, or nidx is not a power of two up to the
 * maximum. The caller keeps every index from changing meanwhile (e.g. holds their read locks).
 */
#define KVT_PREFIX_INDEX_MAX_SHARDS 64u
KVT_API size_t kvt_prefix_index_match_sharded(const kvt_prefix_index_t *const *idx, size_t nidx,
                                              const kvt_key_t *chain, size_t n,
                                              uint8_t *tiers_out, uint32_t *slots_out);

/* A hint: start loading key's home group (one cache line) into the cache, for a caller that will
 * look it up soon (match() does this itself along a chain). Never fails, changes nothing. */
KVT_API void kvt_prefix_index_prefetch(const kvt_prefix_index_t *idx, kvt_key_t key);

/* Blocks in the index. */
KVT_API size_t kvt_prefix_index_size(const kvt_prefix_index_t *idx);

/* Resident bytes of the index (handle, hash table, and the written part of the run array,
 * rounded to the pages that can hold it), for bytes-per-block accounting. */
KVT_API size_t kvt_prefix_index_memory(const kvt_prefix_index_t *idx);

KVT_END_DECLS

#endif
