/*
 * kvtier prefix index: block key -> where the block is resident (tier, slot).
 *
 * The store asks "how much of this prompt's prefix do we hold, and where?" by walking the
 * prompt's key chain (kvtier/key.h) through the index until the first key that is absent:
 * because a key covers its whole prefix, the blocks before the first miss are exactly the
 * reusable prefix.
 *
 * Memory: the table is an array of 64-byte groups, one cache line each, holding three entries
 * (the 16-byte key, the 4-byte slot and the tier of each, and which are in use). It is kept at
 * most 3/4 full and doubles when a put would pass that, so once it has grown it is between 3/8
 * and 3/4 full: 28.4 to 56.9 bytes per resident block, 64 / (3 x load) -- under the 64-byte
 * target at every load it keeps. At 1 M blocks (created for them) it is 2^19 groups at load
 * 0.64: 33.6 bytes per block (bench/bench_index). Only a table created for far more blocks
 * than it holds is emptier than 3/8, and costs more per block.
 *
 * Keys are hash outputs, so the table is addressed by the key's low 64 bits with the high half
 * folded in (two instructions, no mixing function). Keys made by anyone able to choose them (a
 * test, an adversary against XXH3 keys) can collide on those bits and lengthen probes; they stay
 * correct.
 *
 * Speed: match() of a 2,000-block chain in an index of 1 M blocks on the 2-vCPU dev VM: about
 * 23 us cache-cold and 5 us warm with AVX-512 (used where the CPU has it), 25 and 7 us without
 * (src/index/prefix_index.c says what bounds it).
 *
 * Not thread-safe: calls on one index must be serialised by the caller (reads included, since
 * put() may rehash the table). The live store stripes it across 16 indexes under rwlocks and
 * walks a chain over all of them at once with kvt_prefix_index_match_sharded().
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
 * answer as match() over one index holding all the keys, at the same speed (the walk prefetches
 * ahead across indexes). 0 when idx or chain is NULL, an index is NULL, or nidx is not a power of
 * two up to the maximum. The caller keeps every index from changing meanwhile (e.g. holds their
 * read locks).
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

/* Bytes the index has allocated (table and handle), for bytes-per-block accounting. */
KVT_API size_t kvt_prefix_index_memory(const kvt_prefix_index_t *idx);

KVT_END_DECLS

#endif
