/*
 * bench_index: the prefix index's match() beside a plain chained hash table, same run.
 *
 * An index of 1 M blocks (500 prompts of 2,000 blocks, keys from kvt_key_chain) answers
 * match() for a whole 2,000-block chain; each run takes the next prompt in turn, so the
 * lookups mostly miss the caches as they would in a store serving many sessions (a second line
 * repeats one prompt, cache-warm). The peer is what a C++ programmer would reach for first:
 * a std::unordered_map-like table -- separate chaining, one malloc'd node per key, a bucket
 * array at load 1 -- walked with the same early exit. Median of 1,000 runs each; target < 20 us.
 * Bytes per resident block: the index's own accounting, and the peer's measured by mallinfo2.
 * The index's match() reads a chain put in order sequentially from its run array; a second index
 * holds the same keys put in a shuffled order, so no chain is contiguous anywhere (the scattered
 * worst case, every key through the hash table), a third the keys of four prompts at a time put
 * interleaved block by block (as engine threads prefilling at once would), and one more line
 * walks the in-order index with the run shortcut switched off (the hash table's pipeline alone).
 */
#include <kvtier/kvtier.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"
#include "index/prefix_index_internal.h"

#define PROMPTS 500
#define BLOCKS  2000
#define BT      16
#define RUNS    1000
#define INTERLEAVE 4

/* The peer: separate chaining with malloc'd nodes. */
typedef struct node {
    kvt_key_t key;
    uint32_t slot;
    uint8_t tier;
    struct node *next;
} node_t;

typedef struct chained {
    node_t **buckets;
    size_t mask;
} chained_t;

static void chained_put(chained_t *h, kvt_key_t key, uint8_t tier, uint32_t slot)
{
    node_t *n = malloc(sizeof(*n));
    if (n == NULL) {
        abort();
    }
    n->key = key;
    n->tier = tier;
    n->slot = slot;
    n->next = h->buckets[key.lo & h->mask];
    h->buckets[key.lo & h->mask] = n;
}

static size_t chained_match(const chained_t *h, const kvt_key_t *chain, size_t n, uint8_t *tiers,
                            uint32_t *slots)
{
    for (size_t i = 0; i < n; i++) {
        const node_t *e = h->buckets[chain[i].lo & h->mask];
        while (e != NULL && !kvt_key_equal(e->key, chain[i])) {
            e = e->next;
        }
        if (e == NULL) {
            return i;
        }
        tiers[i] = e->tier;
        slots[i] = e->slot;
    }
    return n;
}

static volatile size_t sink;

/* Median microseconds of RUNS matches; prompt r % nprompts on run r. */
#define MEDIAN_US(out, nprompts, call)                                                             \
    do {                                                                                           \
        static double t_[RUNS];                                                                    \
        for (size_t r_ = 0; r_ < RUNS; r_++) {                                                     \
            const kvt_key_t *c_ = keys + (r_ % (nprompts)) * BLOCKS;                               \
            double t0_ = now();                                                                    \
            size_t m_ = call;                                                                      \
            t_[r_] = (now() - t0_) * 1e6;                                                          \
            if (m_ != BLOCKS) {                                                                    \
                fprintf(stderr, "bench_index: matched %zu of %d\n", m_, BLOCKS);                   \
                exit(1);                                                                           \
            }                                                                                      \
            sink += m_;                                                                            \
        }                                                                                          \
        qsort(t_, RUNS, sizeof(double), cmp_double);                                               \
        (out) = t_[RUNS / 2];                                                                      \
    } while (0)

int main(void)
{
    size_t nblocks = (size_t)PROMPTS * BLOCKS;
    kvt_key_t *keys = malloc(nblocks * sizeof(*keys));
    uint32_t *tok = malloc((size_t)BLOCKS * BT * sizeof(*tok));
    uint8_t *tiers = malloc(BLOCKS);
    uint32_t *slots = malloc(BLOCKS * sizeof(*slots));
    if (keys == NULL || tok == NULL || tiers == NULL || slots == NULL) {
        return 1;
    }
    kvt_key_ctx_t ctx;
    kvt_key_ctx_init(&ctx);
    uint64_t x = 1;
    for (size_t p = 0; p < PROMPTS; p++) {
        for (size_t i = 0; i < (size_t)BLOCKS * BT; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            tok[i] = (uint32_t)(x >> 33) % 128000u;
        }
        size_t nk;
        kvt_status_t st = kvt_key_chain(&ctx, tok, (size_t)BLOCKS * BT, BT, keys + p * BLOCKS, &nk,
                                        NULL);
        if (st != KVT_OK || nk != BLOCKS) {
            return 1;
        }
    }

    kvt_prefix_index_t *idx;
    if (kvt_prefix_index_create(nblocks, &idx, NULL) != KVT_OK) {
        return 1;
    }
    for (size_t i = 0; i < nblocks; i++) {
        if (kvt_prefix_index_put(idx, keys[i], (uint8_t)(i & 3), (uint32_t)i) != KVT_OK) {
            return 1;
        }
    }
    struct mallinfo2 m0 = mallinfo2();
    chained_t peer;
    size_t cap = 1;
    while (cap < nblocks) {
        cap *= 2;
    }
    peer.buckets = calloc(cap, sizeof(*peer.buckets));
    peer.mask = cap - 1;
    if (peer.buckets == NULL) {
        return 1;
    }
    for (size_t i = 0; i < nblocks; i++) {
        chained_put(&peer, keys[i], (uint8_t)(i & 3), (uint32_t)i);
    }
    struct mallinfo2 m1 = mallinfo2();
    /* calloc of the bucket array is an mmap, outside uordblks */
    double peer_bytes = (double)(m1.uordblks - m0.uordblks + m1.hblkhd - m0.hblkhd);

    /* the same keys put in a shuffled order (Fisher-Yates, fixed seed) */
    size_t *perm = malloc(nblocks * sizeof(*perm));
    kvt_prefix_index_t *shuf;
    if (perm == NULL || kvt_prefix_index_create(nblocks, &shuf, NULL) != KVT_OK) {
        return 1;
    }
    for (size_t i = 0; i < nblocks; i++) {
        perm[i] = i;
    }
    for (size_t i = nblocks - 1; i > 0; i--) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t j = (size_t)((x >> 17) % (i + 1));
        size_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (size_t i = 0; i < nblocks; i++) {
        size_t k = perm[i];
        if (kvt_prefix_index_put(shuf, keys[k], (uint8_t)(k & 3), (uint32_t)k) != KVT_OK) {
            return 1;
        }
    }
    free(perm);

    /* the same keys put as INTERLEAVE prompts at a time, one block of each in turn (engine
       threads prefilling at once) */
    kvt_prefix_index_t *inter;
    if (kvt_prefix_index_create(nblocks, &inter, NULL) != KVT_OK) {
        return 1;
    }
    for (size_t p = 0; p < PROMPTS; p += INTERLEAVE) {
        for (size_t i = 0; i < BLOCKS; i++) {
            for (size_t q = p; q < p + INTERLEAVE && q < PROMPTS; q++) {
                size_t k = q * BLOCKS + i;
                if (kvt_prefix_index_put(inter, keys[k], (uint8_t)(k & 3), (uint32_t)k) != KVT_OK) {
                    return 1;
                }
            }
        }
    }

    double idx_cold, idx_warm, peer_cold, peer_warm, shuf_cold, shuf_warm, hash_cold, inter_cold;
    MEDIAN_US(idx_cold, PROMPTS, kvt_prefix_index_match(idx, c_, BLOCKS, tiers, slots));
    MEDIAN_US(peer_cold, PROMPTS, chained_match(&peer, c_, BLOCKS, tiers, slots));
    MEDIAN_US(shuf_cold, PROMPTS, kvt_prefix_index_match(shuf, c_, BLOCKS, tiers, slots));
    MEDIAN_US(hash_cold, PROMPTS, prefix_index_match_mode(idx, c_, BLOCKS, tiers, slots, false));
    MEDIAN_US(inter_cold, PROMPTS, kvt_prefix_index_match(inter, c_, BLOCKS, tiers, slots));
    MEDIAN_US(idx_warm, 1, kvt_prefix_index_match(idx, c_, BLOCKS, tiers, slots));
    MEDIAN_US(peer_warm, 1, chained_match(&peer, c_, BLOCKS, tiers, slots));
    MEDIAN_US(shuf_warm, 1, kvt_prefix_index_match(shuf, c_, BLOCKS, tiers, slots));

    printf("prefix index: match() of a %d-block chain in an index of %zu blocks "
           "(median of %d runs)\n", BLOCKS, nblocks, RUNS);
    printf("  %-34s %10s %10s %8s\n", "", "kvtier", "chained", "ratio");
    printf("  %-34s %8.2f us %7.2f us %7.2fx\n", "rotating prompts (cache-cold)", idx_cold,
           peer_cold, peer_cold / idx_cold);
    printf("  %-34s %8.2f us %7.2f us %7.2fx\n", "one prompt repeated (cache-warm)", idx_warm,
           peer_warm, peer_warm / idx_warm);
    printf("  %-34s %8.2f us\n", "  4 prompts put interleaved, cold", inter_cold);
    printf("  %-34s %8.2f us\n", "  keys put shuffled, cache-cold", shuf_cold);
    printf("  %-34s %8.2f us\n", "  keys put shuffled, cache-warm", shuf_warm);
    printf("  %-34s %8.2f us\n", "  hash table only, cache-cold", hash_cold);
    printf("  %-34s %8.1f ns %7.1f ns\n", "per block (cold)", idx_cold * 1e3 / BLOCKS,
           peer_cold * 1e3 / BLOCKS);
    printf("  %-34s %8.1f B  %7.1f B\n", "bytes per resident block",
           (double)kvt_prefix_index_memory(idx) / (double)nblocks, peer_bytes / (double)nblocks);
    printf("  %-34s %8.1f B\n", "  keys put shuffled",
           (double)kvt_prefix_index_memory(shuf) / (double)nblocks);
    printf("  target: match() < 20 us: %s; < 64 B per block: %s\n",
           idx_cold < 20.0 ? "met" : "NOT met",
           (double)kvt_prefix_index_memory(idx) / (double)nblocks < 64.0 ? "met" : "NOT met");
    kvt_prefix_index_destroy(idx);
    kvt_prefix_index_destroy(shuf);
    kvt_prefix_index_destroy(inter);
    return 0;
}
