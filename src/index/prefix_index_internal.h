/*
 * The prefix index's two implementations of match() and match_sharded(), for tests that check
 * each against a reference whichever one the public calls pick on the machine they run on.
 */
#ifndef KVT_PREFIX_INDEX_INTERNAL_H
#define KVT_PREFIX_INDEX_INTERNAL_H

#include <kvtier/prefix_index.h>

/* match() in portable C (idx and chain not NULL). */
size_t prefix_index_match_portable(const kvt_prefix_index_t *idx, const kvt_key_t *chain,
                                   size_t n, uint8_t *tiers_out, uint32_t *slots_out);

/* Whether this build and CPU have the AVX-512 match(); when true, prefix_index_match_avx512()
 * may be called (it exists only in x86-64 builds). */
bool prefix_index_has_avx512(void);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
size_t prefix_index_match_avx512(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                                 uint8_t *tiers_out, uint32_t *slots_out);
#endif

/* kvt_prefix_index_match_sharded() with the implementation chosen by the caller (avx512 only
 * when prefix_index_has_avx512()); idx holds nidx (a power of two) non-NULL indexes. */
size_t prefix_index_match_sharded(const kvt_prefix_index_t *const *idx, size_t nidx,
                                  const kvt_key_t *chain, size_t n, uint8_t *tiers_out,
                                  uint32_t *slots_out, bool avx512);

#endif
