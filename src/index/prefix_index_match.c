/*
 * The prefix index's walks of a key chain: match() over one index, match_sharded() over keys a
 * caller spread across several (the store's shards). The storage they read is described in
 * prefix_index.c.
 *
 * The run first. The key after a matched one is looked for first in the run entry right after
 * the previous match: a prompt's blocks were put in chain order, so in the common case that
 * entry holds it, and the walk reads the run sequentially (24 bytes a key, which the hardware
 * prefetcher streams) plus one hash lookup for the chain's first key. When it does not, the next
 * NEAR - 1 entries are scanned (live ones only): the blocks of a few prompts prefilled at the
 * same time (engine threads) interleave in the run, a few entries apart. A mismatch there too
 * -- a chain put in another order, or with a block removed and put again (it lands at the end)
 * -- falls back to the hash table. In the sharded walk each shard has its own "previous
 * position": a chain's keys in shard s sit in shard s's run in chain order. A caller that walks
 * a long chain in pieces keeps those positions between the pieces in a cursor
 * (prefix_index_match_sharded_from), so that a piece goes on in the runs.
 *
 * The pipeline. A chain whose keys are scattered costs two random lines a key (the home group,
 * then the run entry). Once the walk has fallen back it keeps a two-stage prefetch pipeline
 * going, since it knows every key of the chain: the home group of the key AHEAD positions on is
 * prefetched, and for the key AHEAD2 < AHEAD positions on, whose group has arrived by then, the
 * group's tags are compared and the candidate run entry prefetched; when the walk reaches a key
 * its candidate is confirmed on the whole key (a tag that misleads, or a key past its home group,
 * takes the full lookup). After CALM keys in a row whose candidate was the entry after the
 * previous one the chain has become contiguous again, and the pipeline stops: a contiguous chain
 * pays nothing for it. A key with no previous position (the chain's first, or in the sharded
 * walk the first in its shard) is looked up directly and does not start the pipeline (starting
 * the sharded walk with the pipeline on was measured: bench/bench_store_lookup 11.7 against 9.4
 * us cold, 7.3 against 6.0 warm; prefetching the first 48 keys' home groups instead: no gain).
 *
 * Measured on the 2-vCPU dev VM (bench/bench_index, 2,000-block chains in 1 M blocks, medians of
 * five alternating runs): put in order, 6.0 us cold and 3.0 warm (the earlier layout, whole keys
 * in the hash table: 26.5 and 4.9 with AVX-512, 29.6 and 6.8 without); four prompts put
 * interleaved block by block, 8.4 us cold (23.4 with the run entry right after the previous one
 * as the only one tried); put shuffled, 34.5 us cold and 14.9 warm; the same walk with the run
 * shortcut off, on the chains put in order, 23.4 us cold. Prefetching the run and the
 * chain RUN_AHEAD entries ahead on a contiguous stretch took the in-order cold walk from 9.0 to
 * 5.9 us (the hardware prefetcher stops at page boundaries). The shuffled walk is bound by its
 * two random lines a key (about 2.25, as a quarter of the 24-byte entries straddle two lines,
 * whence the second prefetch): with the run reads taken out (an experiment, not correct) it ran
 * at 21-24 us cold, 7.8 warm; the prefetch distances (32/16 to 96/48) and -march=native made no
 * difference past the noise, so the earlier layout's AVX-512 group compare was not carried over
 * (a group's eight tags are compared with two SSE2 compares, in the baseline x86-64 ISA); the
 * second prefetch gained about 0.5 us.
 */
#include <kvtier/prefix_index.h>

#include "index/prefix_index_internal.h"

#define AHEAD     48 /* home groups are prefetched this many keys ahead */
#define AHEAD2    24 /* and run entries this many (the groups having arrived) */
#define RUN_AHEAD 64 /* on a contiguous stretch, run entries and keys this many ahead */
#define RING      64 /* candidates in flight: more than AHEAD2, a power of two */
#define CALM      16 /* contiguous keys in a row that stop the pipeline */
#define NEAR      8  /* the run entries after the previous match that count as "next" */

_Static_assert(RING > AHEAD2 && (RING & (RING - 1)) == 0, "the ring holds the candidates");

/* One index as a walk reads it (copied out of the handle, so that the stores into tiers_out,
 * bytes which may alias anything, do not make the compiler reload the handle for every key). */
typedef struct walk_tab {
    const pi_group_t *g;
    size_t mask;
    const pi_entry_t *run;
    size_t used;
} walk_tab_t;

/* A key's run position through the hash table: the walk's slow path (a key off the run, or a
 * candidate the tags picked wrong), kept out of line so that the walk's loop stays small.
 * Against the same lookup inlined (bench_index, three alternating runs): keys put shuffled
 * 33.8-34.3 us cold against 34.9-36.5 and 16.3 warm against 16.8, the hash-table-only walk
 * 22.0-22.7 against 21.0-21.6, chains put in order 6.2-6.3 cold either way and 3.4 warm
 * against 3.3. */
static __attribute__((noinline)) uint32_t lookup(const walk_tab_t *w, kvt_key_t key)
{
    return pi_find(w->g, w->mask, w->run, key, NULL, NULL);
}

static inline size_t shard_of(kvt_key_t key, size_t smask)
{
    return (size_t)(key.lo ^ key.hi) & smask;
}

static inline __attribute__((always_inline)) const pi_group_t *home_in(const walk_tab_t *t,
                                                                       size_t smask, kvt_key_t key)
{
    const walk_tab_t *w = &t[shard_of(key, smask)];
    return &w->g[pi_home(key.lo, w->mask)];
}

/* Stage two of the pipeline for one key: its candidate run position from its home group's tags
 * (PI_NONE if none matches), and that run entry on its way. */
static inline __attribute__((always_inline)) uint32_t candidate(const walk_tab_t *t, size_t smask,
                                                                kvt_key_t key)
{
    const walk_tab_t *w = &t[shard_of(key, smask)];
    const pi_group_t *g = &w->g[pi_home(key.lo, w->mask)];
    unsigned m = pi_tag_mask(g, pi_tag(key));
    uint32_t p = g->pos[__builtin_ctz(m | (1u << PI_GROUP_KEYS)) & (PI_GROUP_KEYS - 1)];
    p = m != 0 ? p : 0; /* entry 0 exists when the table holds anything */
    __builtin_prefetch(&w->run[p]);
    __builtin_prefetch((const char *)&w->run[p] + sizeof(pi_entry_t) - 1); /* a quarter straddle */
    return m != 0 ? p : PI_NONE;
}

/* Starts the pipeline at key i: the stages catch up to AHEAD and AHEAD2 keys past it (a and b
 * are the next keys each stage has to do; keys they did before it stopped stay done). */
static inline __attribute__((always_inline)) void pipe_start(const walk_tab_t *t, size_t smask,
                                                             const kvt_key_t *chain, size_t n,
                                                             size_t i, size_t *a, size_t *b,
                                                             uint32_t *cand)
{
    size_t lim = i + AHEAD < n ? i + AHEAD : n;
    for (size_t j = *a > i ? *a : i; j < lim; j++) {
        __builtin_prefetch(home_in(t, smask, chain[j]));
    }
    *a = lim;
    lim = i + AHEAD2 < n ? i + AHEAD2 : n;
    for (size_t j = *b > i ? *b : i; j < lim; j++) {
        cand[j & (RING - 1)] = candidate(t, smask, chain[j]);
    }
    *b = lim;
}

/* The position of key among the run entries prev + 2 .. prev + NEAR (prev + 1 was tried), or
 * PI_NONE: blocks of a few chains put at the same time, interleaved in the run, are a few entries
 * apart, in lines the walk has read or is about to read. */
static inline uint32_t near_next(const walk_tab_t *w, uint32_t prev, kvt_key_t key)
{
    size_t end = (size_t)prev + NEAR < w->used ? (size_t)prev + NEAR + 1 : w->used;
    for (size_t q = (size_t)prev + 2; q < end; q++) {
        const pi_entry_t *e = &w->run[q];
        if (e->live && pi_is(e, key)) {
            return (uint32_t)q;
        }
    }
    return PI_NONE;
}

/*
 * The walk over nshards = smask + 1 indexes t (smask 0: one index), from prev[s], the run
 * position of the last key matched in shard s (PI_NONE: none yet), which it updates. run_first
 * false keeps the pipeline on and never tries the run shortcut (a test hook). always_inline:
 * each caller gets a copy specialised for its smask, and prev and cand stay its local arrays.
 */
static inline __attribute__((always_inline)) size_t walk_from(const walk_tab_t *t, size_t smask,
                                                              const kvt_key_t *chain, size_t n,
                                                              uint8_t *tiers_out,
                                                              uint32_t *slots_out, bool run_first,
                                                              uint32_t *prev, uint32_t *cand)
{
    bool piped = !run_first;
    size_t a = 0, b = 0; /* the next keys for stages one and two */
    if (piped) {
        pipe_start(t, smask, chain, n, 0, &a, &b, cand);
    }
    unsigned calm = 0;
    for (size_t i = 0; i < n; i++) {
        kvt_key_t key = chain[i];
        size_t s = shard_of(key, smask);
        const walk_tab_t *w = &t[s];
        uint32_t pos;
        if (piped) {
            /* steady state: a == i + AHEAD and b == i + AHEAD2, short of the end */
            if (a < n) {
                __builtin_prefetch(home_in(t, smask, chain[a]));
                a++;
            }
            if (b < n) {
                cand[b & (RING - 1)] = candidate(t, smask, chain[b]);
                b++;
            }
            pos = cand[i & (RING - 1)];
            if (__builtin_expect(pos == PI_NONE || !pi_is(&w->run[pos], key), 0)) {
                pos = lookup(w, key);
                if (pos == PI_NONE) {
                    return i;
                }
            }
            if (run_first) {
                calm = pos > prev[s] && pos - prev[s] <= NEAR ? calm + 1 : 0;
                piped = calm < CALM;
            }
        } else {
            /* 0 when there is no previous: any live entry holding key is the key's */
            pos = prev[s] + 1;
            /* pos may lie past the run's end, and the prefetches past the ends of the run and
             * the chain (a prefetch never faults; the hardware prefetcher stops at page
             * boundaries): addresses are formed with integer arithmetic, read only once known
             * to be in the run */
            uintptr_t e = (uintptr_t)w->run + (size_t)pos * sizeof(pi_entry_t);
            __builtin_prefetch((const void *)(e + RUN_AHEAD * sizeof(pi_entry_t)));
            __builtin_prefetch((const void *)((uintptr_t)&chain[i] + RUN_AHEAD * sizeof(*chain)));
            if (__builtin_expect(pos >= w->used || !((const pi_entry_t *)e)->live ||
                                     !pi_is((const pi_entry_t *)e, key),
                                 0)) {
                bool first = prev[s] == PI_NONE;
                pos = first ? PI_NONE : near_next(w, prev[s], key);
                if (pos == PI_NONE) {
                    pos = lookup(w, key);
                    if (pos == PI_NONE) {
                        return i;
                    }
                    if (!first) {
                        piped = true;
                        calm = 0;
                        pipe_start(t, smask, chain, n, i + 1, &a, &b, cand);
                    }
                }
            }
        }
        prev[s] = pos;
        const pi_entry_t *e = &w->run[pos];
        if (tiers_out != NULL) {
            tiers_out[i] = e->tier;
        }
        if (slots_out != NULL) {
            slots_out[i] = e->slot;
        }
    }
    return n;
}

/* walk_from() with a cursor: cursor[s] (nshards entries) in and out, or none (NULL: from no
 * previous position). A local copy, since the stores into tiers_out (bytes) may alias it. */
static inline __attribute__((always_inline)) size_t walk(const walk_tab_t *t, size_t smask,
                                                         const kvt_key_t *chain, size_t n,
                                                         uint8_t *tiers_out, uint32_t *slots_out,
                                                         bool run_first, uint32_t *cursor)
{
    uint32_t prev[KVT_PREFIX_INDEX_MAX_SHARDS];
    uint32_t cand[RING];
    for (size_t s = 0; s <= smask; s++) {
        prev[s] = cursor != NULL ? cursor[s] : PI_NONE;
    }
    size_t m = walk_from(t, smask, chain, n, tiers_out, slots_out, run_first, prev, cand);
    if (cursor != NULL) {
        for (size_t s = 0; s <= smask; s++) {
            cursor[s] = prev[s];
        }
    }
    return m;
}

static walk_tab_t tab_of(const kvt_prefix_index_t *idx)
{
    return (walk_tab_t){.g = idx->g, .mask = idx->mask, .run = idx->run, .used = idx->used};
}

size_t prefix_index_match_mode(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                               uint8_t *tiers_out, uint32_t *slots_out, bool run_first)
{
    walk_tab_t t[1] = {tab_of(idx)};
    if (idx->count == 0) {
        return 0;
    }
    if (run_first) { /* a constant per call: each walk() copy is specialised for its mode */
        return walk(t, 0, chain, n, tiers_out, slots_out, true, NULL);
    }
    return walk(t, 0, chain, n, tiers_out, slots_out, false, NULL);
}

static size_t sharded(const kvt_prefix_index_t *const *idx, size_t nidx, const kvt_key_t *chain,
                      size_t n, uint8_t *tiers_out, uint32_t *slots_out, bool run_first,
                      uint32_t *cursor)
{
    walk_tab_t t[KVT_PREFIX_INDEX_MAX_SHARDS];
    for (size_t i = 0; i < nidx; i++) {
        t[i] = tab_of(idx[i]);
    }
    if (run_first) {
        return walk(t, nidx - 1, chain, n, tiers_out, slots_out, true, cursor);
    }
    return walk(t, nidx - 1, chain, n, tiers_out, slots_out, false, cursor);
}

size_t prefix_index_match_sharded(const kvt_prefix_index_t *const *idx, size_t nidx,
                                  const kvt_key_t *chain, size_t n, uint8_t *tiers_out,
                                  uint32_t *slots_out, bool run_first)
{
    return sharded(idx, nidx, chain, n, tiers_out, slots_out, run_first, NULL);
}

size_t prefix_index_match_sharded_from(const kvt_prefix_index_t *const *idx, size_t nidx,
                                       const kvt_key_t *chain, size_t n, uint8_t *tiers_out,
                                       uint32_t *slots_out, uint32_t *cursor)
{
    return sharded(idx, nidx, chain, n, tiers_out, slots_out, true, cursor);
}

size_t kvt_prefix_index_match(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                              uint8_t *tiers_out, uint32_t *slots_out)
{
    if (idx == NULL || chain == NULL) {
        return 0;
    }
    return prefix_index_match_mode(idx, chain, n, tiers_out, slots_out, true);
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
    return prefix_index_match_sharded(idx, nidx, chain, n, tiers_out, slots_out, true);
}
