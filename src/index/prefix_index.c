/*
 * The prefix index's storage: a run array of blocks in insertion order, and a hash table from
 * a block key to its position in the run. (The walks of a chain are in prefix_index_match.c.)
 *
 * The run array is the primary storage: one 24-byte entry per block (the whole 128-bit key, the
 * slot, the tier and a live flag), appended at the end as keys arrive. A prefill puts a prompt's
 * blocks in chain order, so a chain's keys sit side by side in the run -- what radix-tree caches
 * (SGLang's RadixCache) exploit by storing token runs contiguously -- and match() reads them
 * sequentially instead of one random cache line per key. The array is an anonymous mapping grown
 * with mremap(): pages past the last entry written are never touched and never resident.
 *
 * The hash table maps a key to its run position: open addressing over a power-of-two array of
 * 64-byte groups, each one cache line of eight (32-bit tag, 32-bit position) pairs. A key's home
 * group is its low word with the high half folded in (pi_home); a key lives in its home group or,
 * when that is full, in the first group after it with room (linear probing over groups), so a
 * lookup reads groups from the home on and stops at the first that is not full. Each candidate
 * whose tag matches is confirmed on the whole key in the run array: correctness never depends on
 * the tags, keys that share low words or tags only cost extra reads. At most 3/4 full, doubled
 * past that. Deletion is by backward shift, not tombstones: the invariant is that every group
 * from a key's home up to its own group is full; emptying an entry breaks it only for keys
 * further on whose home lies at or before the hole, and only up to the first group that was not
 * full, so the groups after the hole are walked, and in each the first entry whose home does not
 * lie cyclically in (hole, group] moves into the hole, whose place becomes the new hole.
 *
 * remove() marks the run entry dead and deletes the hash entry. When dead entries pass 1/8 of the
 * run (and number at least MIN_DEAD), compaction slides the live ones down in order (chains stay
 * contiguous) and gives the pages past the new end back (MADV_DONTNEED). It is incremental: every
 * put() and remove() while it runs moves at most STEP_MOVES live entries (each one's hash entry
 * re-pointed, found as a lookup finds it) and looks at most STEP_VISIT, so
 * no call stalls -- done in one pass, it held a 1 M-block index for 20 ms and a 4 M-block one for
 * 110 ms, under the store shard's write lock that every chain lookup needs (measured on the dev
 * VM). Meanwhile the run has three parts: [0, cw) compacted, [cw, cr) a gap of dead entries (moved
 * away or removed), [cr, used) not yet visited; new keys still go at the end. A walk needs nothing
 * of this: every hash entry points at a live entry wherever it is, and a chain that crosses the
 * gap only leaves the run once. Each call advances cr by at least STEP_MOVES (less only at the
 * end), so a compaction of n entries ends within n / (STEP_MOVES - 1) + 1 calls, before the
 * removes it lets through (one a call) could reach another 1/8. put() of a present key updates
 * its entry in place; a removed key put again lands at the end. A table grown past its created
 * size is halved when it falls under 5/16 full, so heavy removal does not leave a sparse table
 * behind (never below the size it was created with: the store sizes its shards up front and must
 * not pay rehashes for them).
 *
 * Resident bytes per block, worst case once grown: the hash table holds 8 bytes per entry and is
 * between 5/16 and 3/4 full (3/8 after a doubling, 5/8 after a halving), 10.7 to 25.6 bytes a
 * block; the run array holds 24 bytes per entry, and at most 1/8 of them are dead when a
 * compaction starts (or 64, so that a small run is not compacted every few removes), plus at
 * most 1/63 more removed while it runs (above): 24 / (1 - 1/8 - 1/63) = 27.9 bytes a live block;
 * a run on huge pages may be resident up to 2 MiB past its end, at most 7.0 bytes a block
 * (run_advise says why): 60.5 bytes at worst, plus the handle, the partly written last page and
 * the 64 dead entries. kvt_prefix_index_memory() reports that: the handle, the table and the
 * written part of the run rounded to the pages that hold it. At 1 M blocks put in order
 * it is 40.8 bytes (the earlier layout, whole keys in three-entry groups: 33.6).
 */
#include <kvtier/prefix_index.h>

#include "common/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "index/prefix_index_internal.h"

#define MIN_GROUPS ((size_t)16)
#define HUGE_PAGE  ((size_t)2 << 20)
#define HUGE_RUN   ((size_t)16 << 20)       /* a run mapping this large asks for huge pages */
#define MIN_DEAD   64                       /* a small run is not compacted for every few removes */
#define STEP_MOVES PI_STEP_MOVES            /* live entries a put or remove moves, compacting */
#define STEP_VISIT 4096                     /* and entries it looks at (a sequential 96 KiB) */
#define MAX_USED   ((size_t)UINT32_MAX - 1) /* run positions are 32-bit, PI_NONE excluded */

/* At most 3/4 of the entries of groups may be used. */
static bool fits(size_t groups, size_t count)
{
    return count * 4 <= groups * PI_GROUP_KEYS * 3;
}

/* Under 5/16 full: a table above its created size is halved. */
static bool sparse(size_t groups, size_t count)
{
    return count * 16 < groups * PI_GROUP_KEYS * 5;
}

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

/* Tables are line aligned; those of 2 MiB or more are 2 MiB aligned and asked to be backed by
 * transparent huge pages: with 4 KiB pages every lookup in a large table is also a TLB miss.
 * madvise failing (no THP) only costs that speed. */
static kvt_status_t alloc_table(size_t groups, pi_group_t **g_p)
{
    if (groups > SIZE_MAX / 2 / sizeof(pi_group_t)) {
        return KVT_ERR_NO_MEMORY;
    }
    size_t bytes = groups * sizeof(pi_group_t);
    size_t align = bytes >= HUGE_PAGE ? HUGE_PAGE : PI_LINE;
    bytes = round_up(bytes, align);
    pi_group_t *g = aligned_alloc(align, bytes);
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

/* Stores (key, pos) in the first group with room from its home on (the key is absent). */
static void place(pi_group_t *tab, size_t mask, kvt_key_t key, uint32_t pos)
{
    size_t j = pi_home(key.lo, mask);
    while (pi_full(&tab[j])) {
        j = (j + 1) & mask;
    }
    pi_group_t *g = &tab[j];
    int k = __builtin_ctz(pi_tag_mask(g, 0));
    g->tag[k] = pi_tag(key);
    g->pos[k] = pos;
}

/* Fills tab (zeroed, groups a power of two) with every live entry of the run. */
static void fill(const kvt_prefix_index_t *idx, pi_group_t *tab, size_t groups)
{
    for (size_t p = 0; p < idx->used; p++) {
        const pi_entry_t *e = &idx->run[p];
        if (e->live) {
            place(tab, groups - 1, (kvt_key_t){.lo = e->lo, .hi = e->hi}, (uint32_t)p);
        }
    }
}

/* Replaces the table with one of groups groups; the index is unchanged on failure. */
static kvt_status_t rehash(kvt_prefix_index_t *idx, size_t groups)
{
    pi_group_t *ng;
    if (alloc_table(groups, &ng) != KVT_OK) {
        return KVT_ERR_NO_MEMORY;
    }
    fill(idx, ng, groups);
    free(idx->g);
    idx->g = ng;
    idx->mask = groups - 1;
    return KVT_OK;
}

/*
 * Whether the run array asks for transparent huge pages: a chain put out of order reads it at
 * random, and with 4 KiB pages each of those reads is also a TLB miss (measured on the 2-vCPU dev
 * VM, keys put shuffled, 1 M blocks: 30.3 against 32 us cold, 15.4 against 17.9 warm). A huge
 * page is faulted in whole, so the run may be resident up to 2 MiB past its last entry: only a
 * mapping of 16 MiB or more is advised, which it reaches by doubling with at least 8 MiB
 * written, and compaction takes the advice back when it leaves less than 8 MiB written -- 2 MiB
 * over at least 8 MiB of entries of which at least 1 - 1/8 - 1/63 are live, at most 7.0 bytes a
 * block.
 */
static void run_advise(kvt_prefix_index_t *idx, bool huge)
{
    if (huge != idx->huge || huge) {
        (void)madvise(idx->run, idx->run_bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    }
    idx->huge = huge;
}

/* The run array is now the mapping p of bytes (or none: KVT_ERR_NO_MEMORY, nothing changed). */
static kvt_status_t run_set(kvt_prefix_index_t *idx, void *p, size_t bytes)
{
    if (p == MAP_FAILED) {
        return KVT_ERR_NO_MEMORY;
    }
    idx->run = p;
    idx->run_bytes = bytes;
    idx->cap = bytes / sizeof(pi_entry_t);
    run_advise(idx, bytes >= HUGE_RUN);
    return KVT_OK;
}

/* Maps the run array for cap entries (the pages are touched only as entries are appended). */
static kvt_status_t run_map(kvt_prefix_index_t *idx, size_t cap)
{
    size_t bytes = round_up(cap * sizeof(pi_entry_t), page_size());
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return run_set(idx, p, bytes);
}

/* Doubles the run array's mapping (moving it if the address space after it is taken). */
static kvt_status_t run_grow(kvt_prefix_index_t *idx)
{
    if (idx->run_bytes > SIZE_MAX / 4) {
        return KVT_ERR_NO_MEMORY;
    }
    size_t bytes = idx->run_bytes * 2;
    return run_set(idx, mremap(idx->run, idx->run_bytes, bytes, MREMAP_MAYMOVE), bytes);
}

kvt_status_t kvt_prefix_index_create(size_t expected, kvt_prefix_index_t **idx_p, kvt_error_t *err)
{
    if (idx_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "prefix index: NULL idx_p");
    }
    if (expected > MAX_USED / 2) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "prefix index: %zu blocks is too many",
                             expected);
    }
    size_t groups = MIN_GROUPS;
    while (!fits(groups, expected)) {
        groups *= 2;
    }
    kvt_prefix_index_t *idx = calloc(1, sizeof(*idx));
    if (idx == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "prefix index: out of memory");
    }
    /* room for the expected blocks and the dead entries compaction lets through */
    if (alloc_table(groups, &idx->g) != KVT_OK ||
        run_map(idx, expected + expected / 8 + 1) != KVT_OK) {
        free(idx->g);
        free(idx);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "prefix index: out of memory for %zu blocks",
                             expected);
    }
    idx->mask = groups - 1;
    idx->min_groups = groups;
    *idx_p = idx;
    return KVT_OK;
}

void kvt_prefix_index_destroy(kvt_prefix_index_t *idx)
{
    if (idx == NULL) {
        return;
    }
    free(idx->g);
    (void)munmap(idx->run, idx->run_bytes);
    free(idx);
}

/* Dead entries outside the compaction's gap (all of them when none runs). */
static size_t dead_of(const kvt_prefix_index_t *idx)
{
    return idx->used - (idx->cr - idx->cw) - idx->count;
}

/* Starts a compaction when dead entries pass 1/8 of the run (and MIN_DEAD). */
static void maybe_compact(kvt_prefix_index_t *idx)
{
    size_t dead = dead_of(idx);
    if (!idx->compacting && dead * 8 > idx->used && dead >= MIN_DEAD) {
        idx->compacting = true;
        idx->cw = 0;
        idx->cr = 0;
    }
}

/* The hash entry of the live run entry e (its key has no other) now points at position to. */
static void repoint(kvt_prefix_index_t *idx, const pi_entry_t *e, uint32_t to)
{
    size_t j = 0;
    int k = 0; /* set: e is live, so its key is found */
    (void)pi_find(idx->g, idx->mask, idx->run, (kvt_key_t){.lo = e->lo, .hi = e->hi}, &j, &k);
    idx->g[j].pos[k] = to;
}

/* The compaction is over: the run ends at cw; the pages past it go back. */
static void compact_finish(kvt_prefix_index_t *idx)
{
    idx->used = idx->cw;
    idx->compacting = false;
    idx->cw = 0;
    idx->cr = 0;
    size_t keep = round_up(idx->used * sizeof(pi_entry_t), page_size());
    if (keep < idx->touched) {
        (void)madvise((char *)idx->run + keep, idx->run_bytes - keep, MADV_DONTNEED);
    }
    idx->touched = idx->used * sizeof(pi_entry_t);
    if (idx->huge && idx->touched < HUGE_RUN / 2) {
        run_advise(idx, false);
    }
    idx->compactions++;
}

/* One bounded step of the compaction that runs (see the top comment), and the start of the
 * next one if the dead entries call for it once this one is over. */
static void compact_step(kvt_prefix_index_t *idx)
{
    if (idx->compacting) {
        size_t moved = 0;
        size_t end = idx->cr + STEP_VISIT < idx->used ? idx->cr + STEP_VISIT : idx->used;
        for (; idx->cr < end && moved < STEP_MOVES; idx->cr++) {
            pi_entry_t *e = &idx->run[idx->cr];
            if (!e->live) {
                continue; /* dropped: the gap grows */
            }
            if (idx->cw != idx->cr) {
                repoint(idx, e, (uint32_t)idx->cw);
                idx->run[idx->cw] = *e;
                e->live = 0;
                moved++;
            }
            idx->cw++;
        }
        idx->moves += moved;
        if (idx->cr == idx->used) {
            compact_finish(idx);
        }
    }
    maybe_compact(idx);
}

kvt_status_t kvt_prefix_index_put(kvt_prefix_index_t *idx, kvt_key_t key, uint8_t tier,
                                  uint32_t slot)
{
    if (idx == NULL) {
        return KVT_ERR_INVALID;
    }
    uint32_t pos = pi_find(idx->g, idx->mask, idx->run, key, NULL, NULL);
    if (pos != PI_NONE) {
        idx->run[pos].tier = tier;
        idx->run[pos].slot = slot;
        return KVT_OK;
    }
    if (idx->used >= MAX_USED) {
        return KVT_ERR_NO_MEMORY;
    }
    if (!fits(idx->mask + 1, idx->count + 1) && rehash(idx, (idx->mask + 1) * 2) != KVT_OK) {
        return KVT_ERR_NO_MEMORY;
    }
    if (idx->used == idx->cap && run_grow(idx) != KVT_OK) {
        return KVT_ERR_NO_MEMORY; /* a grown table is only emptier: still unchanged */
    }
    pos = (uint32_t)idx->used;
    idx->run[pos] = (pi_entry_t){.lo = key.lo, .hi = key.hi, .slot = slot, .tier = tier, .live = 1};
    idx->used++;
    if (idx->used * sizeof(pi_entry_t) > idx->touched) {
        idx->touched = idx->used * sizeof(pi_entry_t);
    }
    place(idx->g, idx->mask, key, pos);
    idx->count++;
    if (idx->compacting) {
        compact_step(idx);
    }
    return KVT_OK;
}

/* Empties entry k of group j by backward shift (see the top comment). */
static void unlink_entry(kvt_prefix_index_t *idx, size_t j, int k)
{
    pi_group_t *tab = idx->g;
    size_t mask = idx->mask;
    size_t hole = j;
    int hk = k;
    if (pi_full(&tab[hole])) {
        for (size_t q = (hole + 1) & mask;; q = (q + 1) & mask) {
            pi_group_t *g = &tab[q];
            bool was_full = pi_full(g);
            for (int e = 0; e < PI_GROUP_KEYS; e++) {
                if (g->tag[e] == 0) {
                    continue;
                }
                size_t home = pi_home(idx->run[g->pos[e]].lo, mask);
                /* the entry may fill the hole unless its home lies cyclically in (hole, q] */
                bool stays = hole <= q ? (hole < home && home <= q) : (hole < home || home <= q);
                if (!stays) {
                    tab[hole].tag[hk] = g->tag[e];
                    tab[hole].pos[hk] = g->pos[e];
                    hole = q;
                    hk = e;
                    break;
                }
            }
            if (!was_full) {
                break;
            }
        }
    }
    tab[hole].tag[hk] = 0;
    tab[hole].pos[hk] = 0;
}

kvt_status_t kvt_prefix_index_remove(kvt_prefix_index_t *idx, kvt_key_t key)
{
    if (idx == NULL) {
        return KVT_ERR_INVALID;
    }
    size_t j;
    int k;
    uint32_t pos = pi_find(idx->g, idx->mask, idx->run, key, &j, &k);
    if (pos == PI_NONE) {
        return KVT_ERR_NOT_FOUND;
    }
    unlink_entry(idx, j, k);
    idx->run[pos].live = 0;
    idx->count--;
    compact_step(idx);
    size_t groups = idx->mask + 1;
    if (groups > idx->min_groups && sparse(groups, idx->count)) {
        (void)rehash(idx, groups / 2); /* failing leaves it larger, still correct */
    }
    return KVT_OK;
}

kvt_status_t kvt_prefix_index_get(const kvt_prefix_index_t *idx, kvt_key_t key, uint8_t *tier_p,
                                  uint32_t *slot_p)
{
    if (idx == NULL) {
        return KVT_ERR_INVALID;
    }
    uint32_t pos = pi_find(idx->g, idx->mask, idx->run, key, NULL, NULL);
    if (pos == PI_NONE) {
        return KVT_ERR_NOT_FOUND;
    }
    if (tier_p != NULL) {
        *tier_p = idx->run[pos].tier;
    }
    if (slot_p != NULL) {
        *slot_p = idx->run[pos].slot;
    }
    return KVT_OK;
}

void kvt_prefix_index_prefetch(const kvt_prefix_index_t *idx, kvt_key_t key)
{
    __builtin_prefetch(&idx->g[pi_home(key.lo, idx->mask)]);
}

size_t kvt_prefix_index_size(const kvt_prefix_index_t *idx)
{
    return idx == NULL ? 0 : idx->count;
}

size_t prefix_index_run_resident(const kvt_prefix_index_t *idx)
{
    size_t run = round_up(idx->touched, page_size());
    if (idx->huge) {
        /* the huge page holding the last entry may be resident whole */
        size_t start = (size_t)(uintptr_t)idx->run & (HUGE_PAGE - 1);
        run = round_up(start + idx->touched, HUGE_PAGE) - start;
        run = run < idx->run_bytes ? run : idx->run_bytes;
    }
    return run;
}

size_t kvt_prefix_index_memory(const kvt_prefix_index_t *idx)
{
    if (idx == NULL) {
        return 0;
    }
    return sizeof(*idx) + (idx->mask + 1) * sizeof(pi_group_t) + prefix_index_run_resident(idx);
}

void prefix_index_stats(const kvt_prefix_index_t *idx, prefix_index_stats_t *st)
{
    st->groups = idx->mask + 1;
    st->used = idx->used;
    st->dead = idx->used - idx->count;
    st->compactions = idx->compactions;
    st->compacting = idx->compacting;
    st->moves = idx->moves;
}
