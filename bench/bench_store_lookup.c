/*
 * The live store's chain lookup (kvt_store_lookup: sharded prefix index under read locks, plus
 * the residency check) beside the bare prefix index's match() over the same keys, measured in the
 * same run: what thread safety and residency cost on top of the index. 200,000 resident blocks
 * (or the count given as the argument, a multiple of 2,000; tiny payloads in one DRAM tier)
 * under uniformly random keys put chain by chain, chains of 2,000 blocks;
 * "rotating" walks 100 different chains (mostly cache-cold), "repeated" looks one chain up again
 * and again (cache-warm). Median of runs.
 */
#include <kvtier/kvtier.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#define N_DEFAULT 200000u
#define CHAIN     2000u
#define ROUNDS    400

static uint32_t N = N_DEFAULT; /* resident blocks (the argument, if given) */

typedef size_t (*lookup_fn)(void *obj, const kvt_key_t *chain, size_t n, uint8_t *tiers);

static size_t store_fn(void *obj, const kvt_key_t *chain, size_t n, uint8_t *tiers)
{
    return kvt_store_lookup(obj, chain, n, tiers);
}

static size_t index_fn(void *obj, const kvt_key_t *chain, size_t n, uint8_t *tiers)
{
    return kvt_prefix_index_match(obj, chain, n, tiers, NULL);
}

/* Median microseconds of one lookup; rotating: a different chain each round. */
static double measure(lookup_fn fn, void *obj, const kvt_key_t *keys, bool rotating)
{
    static double t[ROUNDS];
    uint8_t tiers[CHAIN];
    for (int r = 0; r < ROUNDS; r++) {
        size_t base = rotating ? (size_t)(r % (N / CHAIN)) * CHAIN : 0;
        double a = now();
        size_t m = fn(obj, keys + base, CHAIN, tiers);
        t[r] = (now() - a) * 1e6;
        if (m != CHAIN) {
            fprintf(stderr, "bench_store_lookup: matched %zu of %u\n", m, CHAIN);
            exit(1);
        }
    }
    qsort(t, ROUNDS, sizeof(double), cmp_double);
    return t[ROUNDS / 2];
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        char *end;
        unsigned long v = strtoul(argv[1], &end, 10);
        if (*end != '\0' || v < CHAIN || v % CHAIN != 0 || v > 50000000ul) {
            fprintf(stderr, "usage: bench_store_lookup [BLOCKS] (a multiple of %u, at most 5e7)\n",
                    CHAIN);
            return 2;
        }
        N = (uint32_t)v;
    }
    kvt_tier_config_t tc;
    kvt_tier_config_init(&tc, KVT_TIER_DRAM);
    tc.capacity_bytes = (uint64_t)N * 4096 + (64u << 20);
    tc.max_record_bytes = 4096 + KVT_BLOCK_HEADER_BYTES;
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = &tc;
    o.ntiers = 1;
    o.block_bytes = 64;
    kvt_store_t *s;
    kvt_store_channel_t *ch;
    kvt_prefix_index_t *idx;
    kvt_error_t err;
    if (kvt_store_create(&o, &s, &err) != KVT_OK || kvt_store_channel_open(s, &ch) != KVT_OK ||
        kvt_prefix_index_create(N, &idx, &err) != KVT_OK) {
        fprintf(stderr, "bench_store_lookup: %s\n", err.message);
        return 1;
    }
    kvt_key_t *keys = malloc((size_t)N * sizeof(*keys));
    char payload[64] = {0};
    for (uint32_t i = 0; i < N; i++) {
        keys[i].lo = kvt_splitmix64(2 * (uint64_t)i);
        keys[i].hi = kvt_splitmix64(2 * (uint64_t)i + 1);
        kvt_store_req_t r;
        memset(&r, 0, sizeof(r));
        r.op = KVT_STORE_PUT;
        r.meta.key = keys[i];
        r.buf = payload;
        r.len = sizeof(payload);
        if (kvt_store_run(ch, &r) != KVT_OK || kvt_prefix_index_put(idx, keys[i], 1, i) != KVT_OK) {
            fprintf(stderr, "bench_store_lookup: put %u failed\n", i);
            return 1;
        }
    }
    double sc = measure(store_fn, s, keys, true), sw = measure(store_fn, s, keys, false);
    double ic = measure(index_fn, idx, keys, true), iw = measure(index_fn, idx, keys, false);
    printf("store lookup of a %u-block chain, %u blocks resident (median of %d)\n", CHAIN, N,
           ROUNDS);
    printf("  %-30s %10s %12s %8s\n", "", "store", "bare index", "ratio");
    printf("  %-30s %7.2f us %9.2f us %7.2fx\n", "rotating chains (cold)", sc, ic, sc / ic);
    printf("  %-30s %7.2f us %9.2f us %7.2fx\n", "one chain repeated (warm)", sw, iw, sw / iw);
    printf("  target: < 20 us: %s\n", sc < 20 && sw < 20 ? "met" : "NOT met");
    kvt_prefix_index_destroy(idx);
    free(keys);
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);
    return 0;
}
