/*
 * The prefix index's internals, shared by its two source files (prefix_index.c: the run array,
 * the hash table over it, put/remove/get and compaction; prefix_index_match.c: the walks of a
 * chain) and by the tests, which reach the walks and the layout through the hooks at the end.
 */
#ifndef KVT_PREFIX_INDEX_INTERNAL_H
#define KVT_PREFIX_INDEX_INTERNAL_H

#include <kvtier/prefix_index.h>

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define PI_GROUP_KEYS 8
#define PI_LINE       64
#define PI_NONE       UINT32_MAX /* no run position */
#define PI_STEP_MOVES 64         /* live entries one put or remove moves while compacting */

/* One block in the run array, in insertion order. A key has at most one live entry; a removed
 * key leaves a dead one (live 0) until the next compaction. */
typedef struct pi_entry {
    uint64_t lo, hi;
    uint32_t slot;
    uint8_t tier;
    uint8_t live;
    uint8_t pad[2];
} pi_entry_t;

_Static_assert(sizeof(pi_entry_t) == 24, "a run entry is 24 bytes");

/* One group of the hash table, one cache line: eight (tag, run position) pairs. Tag 0 marks an
 * empty entry; a key's tag always has its low bit set (pi_tag), so it never matches one. */
typedef struct pi_group {
    _Alignas(PI_LINE) uint32_t tag[PI_GROUP_KEYS];
    uint32_t pos[PI_GROUP_KEYS];
} pi_group_t;

_Static_assert(sizeof(pi_group_t) == PI_LINE, "a group is one cache line");

struct kvt_prefix_index {
    pi_group_t *g; /* the hash table: mask + 1 groups */
    size_t mask;
    size_t min_groups; /* the size it was created with: it never shrinks below */
    size_t count;      /* live keys */
    pi_entry_t *run;   /* the run array: used entries of cap (an mmap of cap entries) */
    size_t used;       /* entries appended, live or dead (the gap of a compaction included) */
    size_t cap;
    bool compacting;   /* a compaction is under way: [0, cw) done, [cw, cr) a dead gap */
    size_t cw, cr;
    size_t moves;      /* live entries moved by compactions, ever */
    size_t run_bytes; /* bytes mapped for the run array */
    size_t touched;   /* bytes of it written (up to the end, since the last compaction) */
    bool huge;        /* the mapping is advised to transparent huge pages */
    size_t compactions;
};

/* A key's home group: its low word with the high half folded in, masked (keys are hash output;
 * the fold keeps a counter-times-constant key set, or keys sharded by (lo ^ hi) & 15, from
 * piling into few groups). Keys below 2^32 (the tests' crafted ones) keep home = lo & mask. */
static inline size_t pi_home(uint64_t lo, size_t mask)
{
    return (size_t)(lo ^ (lo >> 32)) & mask;
}

/* A key's 32-bit tag: the top of its high word (bits the home and the shard rule do not use),
 * low bit forced so that it is never 0, the empty mark. A tag only picks candidates: a hit is
 * confirmed on the whole key in the run array. */
static inline uint32_t pi_tag(kvt_key_t key)
{
    return (uint32_t)(key.hi >> 32) | 1u;
}

/* The entries of g whose tag is t, as a bitmask (bit k: entry k). */
static inline unsigned pi_tag_mask(const pi_group_t *g, uint32_t t)
{
#if defined(__SSE2__)
    __m128i p = _mm_set1_epi32((int)t);
    __m128i a = _mm_cmpeq_epi32(_mm_load_si128((const __m128i *)&g->tag[0]), p);
    __m128i b = _mm_cmpeq_epi32(_mm_load_si128((const __m128i *)&g->tag[4]), p);
    return (unsigned)_mm_movemask_ps(_mm_castsi128_ps(a)) |
           (unsigned)_mm_movemask_ps(_mm_castsi128_ps(b)) << 4;
#else
    unsigned m = 0;
    for (unsigned k = 0; k < PI_GROUP_KEYS; k++) {
        m |= (unsigned)(g->tag[k] == t) << k;
    }
    return m;
#endif
}

/* Whether every entry of g is in use (a lookup must then go on to the next group). */
static inline bool pi_full(const pi_group_t *g)
{
    return pi_tag_mask(g, 0) == 0;
}

static inline bool pi_is(const pi_entry_t *e, kvt_key_t key)
{
    return ((e->lo ^ key.lo) | (e->hi ^ key.hi)) == 0;
}

/* The run position of key looked up through the hash table, or PI_NONE; where found, *j_p and
 * *k_p (when not NULL) get the group and entry that hold it (remove() empties that entry). */
static inline uint32_t pi_find(const pi_group_t *tab, size_t mask, const pi_entry_t *run,
                               kvt_key_t key, size_t *j_p, int *k_p)
{
    uint32_t t = pi_tag(key);
    for (size_t j = pi_home(key.lo, mask);; j = (j + 1) & mask) {
        const pi_group_t *g = &tab[j];
        for (unsigned m = pi_tag_mask(g, t); m != 0; m &= m - 1) {
            int k = __builtin_ctz(m);
            uint32_t p = g->pos[k];
            if (pi_is(&run[p], key)) {
                if (j_p != NULL) {
                    *j_p = j;
                    *k_p = k;
                }
                return p;
            }
        }
        if (!pi_full(g)) {
            return PI_NONE;
        }
    }
}

/* ---- Test hooks ---- */

/* match() and match_sharded() in a chosen mode: run_first true is what the public calls do (try
 * the entry after the previous one first, fall back to the hash table and its prefetch pipeline
 * on a mismatch); false looks every key up through the hash table's pipeline, so that path is
 * checked on chains that are contiguous too. idx and chain not NULL; for the sharded walk, nidx
 * a power of two up to KVT_PREFIX_INDEX_MAX_SHARDS and no index NULL. */
size_t prefix_index_match_mode(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                               uint8_t *tiers_out, uint32_t *slots_out, bool run_first);
size_t prefix_index_match_sharded(const kvt_prefix_index_t *const *idx, size_t nidx,
                                  const kvt_key_t *chain, size_t n, uint8_t *tiers_out,
                                  uint32_t *slots_out, bool run_first);

/*
 * kvt_prefix_index_match_sharded() in pieces: a caller that walks a long chain window by window
 * (the store: it checks each window's blocks before it goes on) passes the same cursor to each
 * call, nidx entries that start as PI_NONE and hold each shard's run position of the last key
 * matched there, so that each window goes on in the runs instead of starting from the hash table
 * in every shard. The indexes must not change between the calls (the caller holds their locks).
 */
size_t prefix_index_match_sharded_from(const kvt_prefix_index_t *const *idx, size_t nidx,
                                       const kvt_key_t *chain, size_t n, uint8_t *tiers_out,
                                       uint32_t *slots_out, uint32_t *cursor);

/* The layout's counters, for tests of growth, shrinking and compaction. */
typedef struct prefix_index_stats {
    size_t groups;      /* hash table groups */
    size_t used;        /* run entries, live and dead */
    size_t dead;        /* dead run entries (a running compaction's gap included) */
    size_t compactions; /* finished */
    bool compacting;    /* one is under way */
    size_t moves;       /* live entries moved by compactions, ever */
} prefix_index_stats_t;

void prefix_index_stats(const kvt_prefix_index_t *idx, prefix_index_stats_t *st);

/* Resident bytes of the run array: the part of kvt_prefix_index_memory() that is an mmap, not
 * malloc'd (for bench/bench_store_meta, which counts the store's heap with mallinfo2). */
size_t prefix_index_run_resident(const kvt_prefix_index_t *idx);

#endif
