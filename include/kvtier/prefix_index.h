/*
 * kvtier prefix index: block key -> where the block is resident (tier, slot).
 *
 * The store asks "how much of this prompt's prefix do we hold, and where?" by walking the
 * prompt's key chain (kvtier/key.h) through the index until the first key that is absent:
 * because a key covers its whole prefix, the blocks before the first miss are exactly the
 * reusable prefix.
 *
 * Memory: one 24-byte bucket per table slot (the 16-byte key, the 4-byte slot, the tier and an
 * occupied flag), and the table is kept between 25% and 50% full (it doubles when an insert
 * would pass 50%), so a resident block costs 48 to 96 bytes, 24 / load. At the sizes the store
 * is built for the figure is measured by bench/bench_index: 1 M blocks in 2^21 buckets, 50.3
 * bytes per resident block. The 64-byte target holds whenever the table is at least 37.5% full;
 * right after a doubling it does not (create() with the expected count avoids doublings).
 *
 * Keys are hash outputs, so the table is addressed by the key's low 64 bits directly (no
 * remixing). Keys made by anyone able to choose them (a test, an adversary against XXH3 keys)
 * can collide on those bits and lengthen probes; they stay correct.
 *
 * Not thread-safe: calls on one index must be serialised by the caller (reads included, since
 * put() may rehash the table). The live store will stripe the index across locks.
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

/* A hint: start loading key's bucket into the cache, for a caller that will look it up soon
 * (match() does this itself along a chain). Never fails, changes nothing. */
KVT_API void kvt_prefix_index_prefetch(const kvt_prefix_index_t *idx, kvt_key_t key);

/* Blocks in the index. */
KVT_API size_t kvt_prefix_index_size(const kvt_prefix_index_t *idx);

/* Bytes the index has allocated (table and handle), for bytes-per-block accounting. */
KVT_API size_t kvt_prefix_index_memory(const kvt_prefix_index_t *idx);

KVT_END_DECLS

#endif
