/*
 * The prefix index: a hash table from 128-bit block keys to (tier, slot).
 *
 * Open addressing over a power-of-two array of 64-byte groups, each one cache line holding three
 * entries: their keys, slots and tiers side by side, and a bitmask of the entries in use. The
 * home group of a key is its low 64 bits, the high half folded into the low half, masked to the
 * group count (home_of() says why the fold). A key lives in its home group or, when that is
 * full, in the first group after it that had room (linear probing over groups), so a lookup
 * reads groups from the home on and stops at the first that is not full.
 * The table is kept at most 3/4 full (of its entries), and at that load almost every lookup
 * reads exactly one cache line: the whole key is stored, so a hit is confirmed in the line, and
 * a group is aligned to a line, so no entry straddles two (24-byte buckets did, one time in
 * four, and a probe past the home bucket often reached a second line).
 *
 * Deletion is by backward shift rather than tombstones. The invariant is that every group from
 * a key's home up to (not including) its own group is full. Emptying an entry breaks it only for
 * keys further on whose home lies at or before the hole, and only up to the first group that was
 * not full: the groups after the hole are walked, and in each the first entry whose home does
 * not lie cyclically in (hole, group] moves into the hole, whose place becomes the new hole.
 * The table never fills with tombstones, and a lookup still stops at the first group with room.
 *
 * match() knows every key of the chain before it starts, so it prefetches the home group of the
 * key PREFETCH_AHEAD positions ahead: in a table much larger than the caches each lookup is a
 * cache miss, and keeping that many in flight overlaps their latencies (memory-level
 * parallelism). What limits it then is not the misses but how much the loop does per key and
 * how often it mispredicts a branch: a mispredicted branch on a key's group throws away the
 * lookups the core had started past it, and the window of misses in flight has to refill.
 * So match()'s probe of the home group has no branch on the group's contents (the entries are
 * compared all at once, and one branch asks "found here?"), and on x86-64 CPUs with AVX-512 it
 * compares the whole line in one instruction (chosen at run time; the portable path, and get(),
 * compare the low words first and confirm the high word of the one candidate). The keys not in
 * their home group (about one in nine at 2/3 load, inevitable with three entries a group) take
 * the out-of-line path. Measured on the 2-vCPU dev VM, 2,000-block chains in an index of 1 M
 * blocks, medians of five alternating runs: cache-cold 22.9 us with AVX-512 and 25.4 us
 * portable, against 28.9 us for the earlier 24-byte buckets (whose probes went past the home
 * bucket or straddled two lines one time in three, each a mispredicted branch on a line still in
 * flight); cache-warm 5.0 and 6.7 us against 3.9. A loop that only loads each key's home line
 * runs at about 14 us there, and one that also compares and writes the answers, with no branch
 * at all, at about 19 us: the 20 us target is out of reach on that VM with this layout.
 *
 * match_sharded() walks a chain whose keys a caller spread over several indexes (the store's
 * shards) in the same way, picking each key's table by the shard rule; its probes are the same
 * helpers. The single-index walks keep their table and mask in registers rather than going
 * through the sharded walk with one shard (measured: 25.5 instead of 23 us cold, 6.7 instead of
 * 4.9 warm). Comparing the home group and the next one at once, to take the branch on keys that
 * live past their home off the path, was tried: 23.3-24.5 us cold, 6.4 warm (no gain cold, a
 * loss warm); not kept. Nor was a 256-bit (AVX2) compare of the group, in case 512-bit
 * instructions lowered the clock: 23.5-24.2 us cold, 5.2 warm. Nor a second prefetch into L2
 * only (hint T1) 64 to 160 keys ahead beside the one 16 to 32 ahead: 24.7-26.8 us cold and
 * 5.7-6.0 warm, against 23.8-24.9 and 4.8-4.9 without it in the same session.
 */
#include <kvtier/prefix_index.h>

#include "common/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "index/prefix_index_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX512_PATH 1
#else
#define HAVE_AVX512_PATH 0
#endif

#define GROUP_KEYS     3
#define FULL           ((1u << GROUP_KEYS) - 1)
#define MIN_GROUPS     16
#define PREFETCH_AHEAD 32
#define HUGE_PAGE      ((size_t)2 << 20)
#define LINE           64

typedef struct group {
    _Alignas(LINE) uint64_t lo[GROUP_KEYS];
    uint64_t hi[GROUP_KEYS];
    uint32_t slot[GROUP_KEYS];
    uint8_t tier[GROUP_KEYS];
    uint8_t used; /* bit k: entry k holds a key */
} group_t;

_Static_assert(sizeof(group_t) == LINE, "a group is one cache line");

struct kvt_prefix_index {
    group_t *g;
    size_t mask; /* groups - 1 */
    size_t count;
};

/* A key's home group. Keys are hash output, but the low bits alone are not trusted to be
 * uniform within one index: the store shards keys by (lo ^ hi) & 15, and keys made by a counter
 * times a constant (its benchmark's) then put every key of a shard in one group of 16 -- runs of
 * eight full groups. Folding the high half in costs two instructions; keys below 2^32 (the
 * tests' crafted ones) keep home = lo & mask. */
static inline size_t home_of(uint64_t lo, size_t mask)
{
    return (size_t)(lo ^ (lo >> 32)) & mask;
}

/* At most 3/4 of the entries of groups may be used. */
static bool fits(size_t groups, size_t count)
{
    return count * 4 <= groups * GROUP_KEYS * 3;
}

/* Tables are line aligned; those of 2 MiB or more are 2 MiB aligned and asked to be backed by
 * transparent huge pages: with 4 KiB pages every lookup in a large table is also a TLB miss
 * (measured on the 2-vCPU dev VM with the earlier 24-byte buckets: the cache-cold match() of
 * 2,000 blocks in 1 M went from 33 to 30 us, the warm one from 4.8 to 3.9 us). madvise failing
 * (no THP) only costs that speed. */
static kvt_status_t alloc_table(size_t groups, group_t **g_p)
{
    size_t bytes = groups * sizeof(group_t);
    size_t align = bytes >= HUGE_PAGE ? HUGE_PAGE : LINE;
    bytes = (bytes + align - 1) & ~(align - 1);
    group_t *g = aligned_alloc(align, bytes);
    if (g == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    if (align == HUGE_PAGE) {
        (void)madvise(g, bytes, MADV_HUGEPAGE);
    }
    memset(g, 0, bytes);
    *g_p = g;
    return KVT_OK;
}

kvt_status_t kvt_prefix_index_create(size_t expected, kvt_prefix_index_t **idx_p,
                                     kvt_error_t *err)
{
    if (idx_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "prefix index: NULL idx_p");
    }
    if (expected > SIZE_MAX / 4 / sizeof(group_t)) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "prefix index: %zu blocks is too many",
                             expected);
    }
    size_t groups = MIN_GROUPS;
    while (!fits(groups, expected)) {
        groups *= 2;
    }
    kvt_prefix_index_t *idx = malloc(sizeof(*idx));
    if (idx == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "prefix index: out of memory");
    }
    if (alloc_table(groups, &idx->g) != KVT_OK) {
        free(idx);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY,
                             "prefix index: out of memory for %zu groups", groups);
    }
    idx->mask = groups - 1;
    idx->count = 0;
    *idx_p = idx;
    return KVT_OK;
}

void kvt_prefix_index_destroy(kvt_prefix_index_t *idx)
{
    if (idx == NULL) {
        return;
    }
    free(idx->g);
    free(idx);
}

/* The entries of g holding key, as a bitmask (at most one bit set), without a branch. */
static inline unsigned hitmask(const group_t *g, kvt_key_t key)
{
    unsigned hit = (unsigned)(((g->lo[0] ^ key.lo) | (g->hi[0] ^ key.hi)) == 0);
    hit |= (unsigned)(((g->lo[1] ^ key.lo) | (g->hi[1] ^ key.hi)) == 0) << 1;
    hit |= (unsigned)(((g->lo[2] ^ key.lo) | (g->hi[2] ^ key.hi)) == 0) << 2;
    return hit & g->used;
}

/*
 * The home group's entry holding key, or -1 (also when the key is elsewhere or nowhere). The
 * three low words are compared without a branch and the high word of the first match confirms
 * it: fewer instructions than comparing three whole keys, and no branch on which entry holds
 * the key -- one on a line still in flight that mispredicts costs the lookups started past it.
 * Keys that share a low word (crafted ones) get -1 when the first is not theirs; the caller's
 * full probe finds them.
 */
static inline int home_entry(const group_t *g, kvt_key_t key)
{
    unsigned m = (unsigned)(g->lo[0] == key.lo) | (unsigned)(g->lo[1] == key.lo) << 1 |
                 (unsigned)(g->lo[2] == key.lo) << 2;
    m &= g->used;
    int k = __builtin_ctz(m | 4);
    return m != 0 && g->hi[k] == key.hi ? k : -1;
}

/* The group holding key, with the entry in *k_p, or NULL. */
static inline group_t *find(const kvt_prefix_index_t *idx, kvt_key_t key, int *k_p)
{
    size_t j = home_of(key.lo, idx->mask);
    int k = home_entry(&idx->g[j], key);
    if (__builtin_expect(k >= 0, 1)) {
        *k_p = k;
        return &idx->g[j];
    }
    for (;;) {
        group_t *g = &idx->g[j];
        unsigned h = hitmask(g, key);
        if (h != 0) {
            *k_p = __builtin_ctz(h);
            return g;
        }
        if (g->used != FULL) {
            return NULL;
        }
        j = (j + 1) & idx->mask;
    }
}

/* Stores key in the first group with room from its home on (the caller knows it is absent). */
static void place(group_t *tab, size_t mask, uint64_t lo, uint64_t hi, uint8_t tier,
                  uint32_t slot)
{
    size_t j = home_of(lo, mask);
    while (tab[j].used == FULL) {
        j = (j + 1) & mask;
    }
    group_t *g = &tab[j];
    int k = __builtin_ctz(~(unsigned)g->used);
    g->lo[k] = lo;
    g->hi[k] = hi;
    g->slot[k] = slot;
    g->tier[k] = tier;
    g->used |= (uint8_t)(1u << k);
}

static kvt_status_t grow(kvt_prefix_index_t *idx)
{
    size_t groups = (idx->mask + 1) * 2;
    group_t *ng;
    if (groups > SIZE_MAX / sizeof(group_t) || alloc_table(groups, &ng) != KVT_OK) {
        return KVT_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i <= idx->mask; i++) {
        const group_t *g = &idx->g[i];
        for (unsigned k = 0; k < GROUP_KEYS; k++) {
            if (g->used & (1u << k)) {
                place(ng, groups - 1, g->lo[k], g->hi[k], g->tier[k], g->slot[k]);
            }
        }
    }
    free(idx->g);
    idx->g = ng;
    idx->mask = groups - 1;
    return KVT_OK;
}

kvt_status_t kvt_prefix_index_put(kvt_prefix_index_t *idx, kvt_key_t key, uint8_t tier,
                                  uint32_t slot)
{
    if (idx == NULL) {
        return KVT_ERR_INVALID;
    }
    int k;
    group_t *g = find(idx, key, &k);
    if (g != NULL) {
        g->tier[k] = tier;
        g->slot[k] = slot;
        return KVT_OK;
    }
    if (!fits(idx->mask + 1, idx->count + 1) && grow(idx) != KVT_OK) {
        return KVT_ERR_NO_MEMORY;
    }
    place(idx->g, idx->mask, key.lo, key.hi, tier, slot);
    idx->count++;
    return KVT_OK;
}

kvt_status_t kvt_prefix_index_remove(kvt_prefix_index_t *idx, kvt_key_t key)
{
    if (idx == NULL) {
        return KVT_ERR_INVALID;
    }
    int k;
    group_t *g = find(idx, key, &k);
    if (g == NULL) {
        return KVT_ERR_NOT_FOUND;
    }
    size_t hole = (size_t)(g - idx->g);
    int hk = k; /* the free entry of the hole group */
    size_t j = hole;
    for (;;) {
        j = (j + 1) & idx->mask;
        group_t *q = &idx->g[j];
        bool was_full = q->used == FULL;
        for (unsigned e = 0; e < GROUP_KEYS; e++) {
            if (!(q->used & (1u << e))) {
                continue;
            }
            size_t home = home_of(q->lo[e], idx->mask);
            /* the entry may fill the hole unless its home lies cyclically in (hole, j] */
            bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
            if (!stays) {
                group_t *h = &idx->g[hole];
                h->lo[hk] = q->lo[e];
                h->hi[hk] = q->hi[e];
                h->slot[hk] = q->slot[e];
                h->tier[hk] = q->tier[e];
                /* bit hk of the hole group stays set: the entry is filled again */
                hole = j;
                hk = (int)e;
                break;
            }
        }
        if (!was_full) {
            break;
        }
    }
    idx->g[hole].used &= (uint8_t)~(1u << hk);
    idx->count--;
    return KVT_OK;
}

kvt_status_t kvt_prefix_index_get(const kvt_prefix_index_t *idx, kvt_key_t key, uint8_t *tier_p,
                                  uint32_t *slot_p)
{
    if (idx == NULL) {
        return KVT_ERR_INVALID;
    }
    int k;
    const group_t *g = find(idx, key, &k);
    if (g == NULL) {
        return KVT_ERR_NOT_FOUND;
    }
    if (tier_p != NULL) {
        *tier_p = g->tier[k];
    }
    if (slot_p != NULL) {
        *slot_p = g->slot[k];
    }
    return KVT_OK;
}

/* Where key is when it is not in group g, its home: in a later group if g is full, else
 * nowhere. Out of line: match() takes it for about one key in nine. */
__attribute__((noinline)) static const group_t *find_after(const kvt_prefix_index_t *idx,
                                                          const group_t *g, kvt_key_t key,
                                                          int *k_p)
{
    while (g->used == FULL) {
        g = &idx->g[((size_t)(g - idx->g) + 1) & idx->mask];
        unsigned h = hitmask(g, key);
        if (h != 0) {
            *k_p = __builtin_ctz(h);
            return g;
        }
    }
    return NULL;
}

/* always_inline: a call to it that GCC declines to inline into a target("avx512f") walk is a
 * call to a function with no side effects, and is deleted with its prefetch (seen with GCC 12:
 * the cold walk then took 37 us instead of 23). */
static inline __attribute__((always_inline)) void prefetch_home(const group_t *tab, size_t mask,
                                                              kvt_key_t key)
{
    __builtin_prefetch(&tab[home_of(key.lo, mask)]);
}

/* Where block i of a walk is, into the caller's arrays (either may be NULL). */
static inline void put_out(const group_t *g, int k, size_t i, uint8_t *tiers_out,
                           uint32_t *slots_out)
{
    if (tiers_out != NULL) {
        tiers_out[i] = g->tier[k];
    }
    if (slots_out != NULL) {
        slots_out[i] = g->slot[k];
    }
}

/* The group and entry of key, looked up from its home group g of idx (loaded or on its way),
 * or NULL: the per-key step of the walks below. */
static inline const group_t *probe_portable(const kvt_prefix_index_t *idx, const group_t *g,
                                            kvt_key_t key, int *k_p)
{
    int k = home_entry(g, key);
    if (__builtin_expect(k < 0, 0)) {
        unsigned h = hitmask(g, key);
        if (h != 0) {
            k = __builtin_ctz(h);
        } else if ((g = find_after(idx, g, key, &k)) == NULL) {
            return NULL;
        }
    }
    *k_p = k;
    return g;
}

#if HAVE_AVX512_PATH
/* The same, comparing a group's three keys with one 512-bit compare: the line holds lo[0..2]
 * then hi[0..2] in its first six words, the pattern is the key's lo three times and its hi three
 * times (spread: SPREAD), and entry k matches when bits k and k + 3 of the result are both set. */
#define SPREAD _mm512_set_epi64(1, 1, 1, 1, 1, 0, 0, 0)
static inline __attribute__((always_inline, target("avx512f"))) const group_t *
probe_avx512(const kvt_prefix_index_t *idx, const group_t *g, const kvt_key_t *key,
             __m512i spread, int *k_p)
{
    __m512i pat = _mm512_permutexvar_epi64(
        spread, _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)key)));
    unsigned e = (unsigned)_mm512_cmpeq_epi64_mask(_mm512_load_si512((const void *)g), pat);
    unsigned h = e & (e >> GROUP_KEYS) & g->used;
    *k_p = __builtin_ctz(h | 4);
    if (__builtin_expect(h == 0, 0)) {
        return find_after(idx, g, *key, k_p);
    }
    return g;
}
#endif

#if HAVE_AVX512_PATH
/* probe_avx512 over the home group and the next one at once: about one key in nine lives past
 * its home group (three entries a group at up to 3/4 load), and a branch on which group holds
 * it mispredicts on a line still in flight; comparing both and picking with a conditional move
 * leaves a branch only for keys two or more groups away (about one in a hundred) and for the
 * absent. g1 may hold the key only if g0 is full (the table's invariant), and a match is on
 * the whole key, so a hit in g1 is the key's entry. */
static inline __attribute__((always_inline, target("avx512f"))) const group_t *
probe2_avx512(const kvt_prefix_index_t *idx, const group_t *tab, size_t mask, size_t j,
              const kvt_key_t *key, __m512i spread, int *k_p)
{
    const group_t *g0 = &tab[j], *g1 = &tab[(j + 1) & mask];
    __m512i pat = _mm512_permutexvar_epi64(
        spread, _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)key)));
    unsigned e0 = (unsigned)_mm512_cmpeq_epi64_mask(_mm512_load_si512((const void *)g0), pat);
    unsigned e1 = (unsigned)_mm512_cmpeq_epi64_mask(_mm512_load_si512((const void *)g1), pat);
    unsigned h0 = e0 & (e0 >> GROUP_KEYS) & g0->used;
    unsigned h1 = e1 & (e1 >> GROUP_KEYS) & g1->used;
    const group_t *g = h0 != 0 ? g0 : g1;
    unsigned h = h0 != 0 ? h0 : h1;
    *k_p = __builtin_ctz(h | 4);
    if (__builtin_expect(h == 0, 0)) {
        return g0->used == FULL ? find_after(idx, g1, *key, k_p) : NULL;
    }
    return g;
}

static inline void prefetch_two(const group_t *tab, size_t mask, kvt_key_t key)
{
    size_t j = home_of(key.lo, mask);
    __builtin_prefetch(&tab[j]);
    __builtin_prefetch(&tab[(j + 1) & mask]);
}
#endif

size_t prefix_index_match_portable(const kvt_prefix_index_t *idx, const kvt_key_t *chain,
                                   size_t n, uint8_t *tiers_out, uint32_t *slots_out)
{
    const group_t *tab = idx->g;
    size_t mask = idx->mask;
    for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++) {
        prefetch_home(tab, mask, chain[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            prefetch_home(tab, mask, chain[i + PREFETCH_AHEAD]);
        }
        int k;
        const group_t *g = probe_portable(idx, &tab[home_of(chain[i].lo, mask)], chain[i], &k);
        if (g == NULL) {
            return i;
        }
        put_out(g, k, i, tiers_out, slots_out);
    }
    return n;
}

#if HAVE_AVX512_PATH
/* The same walk with the 512-bit probe. */
__attribute__((target("avx512f"))) size_t
prefix_index_match_avx512(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                          uint8_t *tiers_out, uint32_t *slots_out)
{
    const group_t *tab = idx->g;
    size_t mask = idx->mask;
    const __m512i spread = SPREAD;
    for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++) {
        prefetch_home(tab, mask, chain[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            prefetch_home(tab, mask, chain[i + PREFETCH_AHEAD]);
        }
        int k;
        const group_t *g =
            probe_avx512(idx, &tab[home_of(chain[i].lo, mask)], &chain[i], spread, &k);
        if (g == NULL) {
            return i;
        }
        put_out(g, k, i, tiers_out, slots_out);
    }
    return n;
}
#endif

/*
 * The walk of a chain whose keys are spread over nidx indexes (match_sharded). The tables and
 * masks are copied out of the handles first: the stores into tiers_out (bytes, which may alias
 * anything) would otherwise make the compiler reload each handle for every key.
 */
typedef struct shard_tabs {
    const group_t *g[KVT_PREFIX_INDEX_MAX_SHARDS];
    size_t mask[KVT_PREFIX_INDEX_MAX_SHARDS];
} shard_tabs_t;

static inline size_t shard_of(kvt_key_t key, size_t smask)
{
    return (size_t)(key.lo ^ key.hi) & smask;
}

static inline const group_t *home_in(const shard_tabs_t *t, size_t smask, kvt_key_t key)
{
    size_t sh = shard_of(key, smask);
    return &t->g[sh][home_of(key.lo, t->mask[sh])];
}

static size_t sharded_portable(const kvt_prefix_index_t *const *idx, const shard_tabs_t *t,
                               size_t smask, const kvt_key_t *chain, size_t n, uint8_t *tiers_out,
                               uint32_t *slots_out)
{
    for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++) {
        __builtin_prefetch(home_in(t, smask, chain[i]));
    }
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            __builtin_prefetch(home_in(t, smask, chain[i + PREFETCH_AHEAD]));
        }
        int k;
        const group_t *g = probe_portable(idx[shard_of(chain[i], smask)],
                                          home_in(t, smask, chain[i]), chain[i], &k);
        if (g == NULL) {
            return i;
        }
        put_out(g, k, i, tiers_out, slots_out);
    }
    return n;
}

#if HAVE_AVX512_PATH
__attribute__((target("avx512f"))) static size_t
sharded_avx512(const kvt_prefix_index_t *const *idx, const shard_tabs_t *t, size_t smask,
               const kvt_key_t *chain, size_t n, uint8_t *tiers_out, uint32_t *slots_out)
{
    const __m512i spread = SPREAD;
    for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++) {
        __builtin_prefetch(home_in(t, smask, chain[i]));
    }
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            __builtin_prefetch(home_in(t, smask, chain[i + PREFETCH_AHEAD]));
        }
        int k;
        const group_t *g = probe_avx512(idx[shard_of(chain[i], smask)],
                                        home_in(t, smask, chain[i]), &chain[i], spread, &k);
        if (g == NULL) {
            return i;
        }
        put_out(g, k, i, tiers_out, slots_out);
    }
    return n;
}
#endif

size_t prefix_index_match_sharded(const kvt_prefix_index_t *const *idx, size_t nidx,
                                  const kvt_key_t *chain, size_t n, uint8_t *tiers_out,
                                  uint32_t *slots_out, bool avx512)
{
    shard_tabs_t t;
    for (size_t i = 0; i < nidx; i++) {
        t.g[i] = idx[i]->g;
        t.mask[i] = idx[i]->mask;
    }
#if HAVE_AVX512_PATH
    if (avx512) {
        return sharded_avx512(idx, &t, nidx - 1, chain, n, tiers_out, slots_out);
    }
#endif
    (void)avx512;
    return sharded_portable(idx, &t, nidx - 1, chain, n, tiers_out, slots_out);
}

bool prefix_index_has_avx512(void)
{
#if HAVE_AVX512_PATH
    return __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

size_t kvt_prefix_index_match(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                              uint8_t *tiers_out, uint32_t *slots_out)
{
    if (idx == NULL || chain == NULL) {
        return 0;
    }
#if HAVE_AVX512_PATH
    if (__builtin_cpu_supports("avx512f")) {
        return prefix_index_match_avx512(idx, chain, n, tiers_out, slots_out);
    }
#endif
    return prefix_index_match_portable(idx, chain, n, tiers_out, slots_out);
}

size_t kvt_prefix_index_match_sharded(const kvt_prefix_index_t *const *idx, size_t nidx,
                                      const kvt_key_t *chain, size_t n, uint8_t *tiers_out,
                                      uint32_t *slots_out)
{
    if (idx == NULL || chain == NULL || nidx == 0 || nidx > KVT_PREFIX_INDEX_MAX_SHARDS ||
        (nidx & (nidx - 1)) != 0) {
        return 0;
    }
    for (size_t i = 0; i < nidx; i++) {
        if (idx[i] == NULL) {
            return 0;
        }
    }
    return prefix_index_match_sharded(idx, nidx, chain, n, tiers_out, slots_out,
                                      prefix_index_has_avx512());
}

void kvt_prefix_index_prefetch(const kvt_prefix_index_t *idx, kvt_key_t key)
{
    __builtin_prefetch(&idx->g[home_of(key.lo, idx->mask)]);
}

size_t kvt_prefix_index_size(const kvt_prefix_index_t *idx)
{
    return idx == NULL ? 0 : idx->count;
}

size_t kvt_prefix_index_memory(const kvt_prefix_index_t *idx)
{
    return idx == NULL ? 0 : sizeof(*idx) + (idx->mask + 1) * sizeof(group_t);
}
