/*
 * Resident metadata per block of the whole live store: the index shards, the store's per-id
 * arrays, every tier's policy and every tier's own key map or index -- everything the store
 * allocates with malloc (glibc's mallinfo2: bytes in use, mmapped chunks included), plus the
 * index shards' run arrays, which are anonymous mappings of their own (counted as the resident
 * part the index reports). Payload bytes are not in it: the memory tiers keep them in their
 * mmapped arena, NVMe on disk.
 *
 * Each configuration is created and filled twice, at N and at 4N distinct blocks (every tier
 * full, with 64-byte payloads so that filling is quick), and the figure is the slope
 * (bytes(4N) - bytes(N)) / 3N: what one more resident block costs, without the fixed costs
 * (rings, channels, move buffers) that a small store would spread over few blocks. The peer is
 * the payload itself: the figure as a fraction of one block of Llama-3.1-8B at 16 tokens (2 MiB)
 * and at the smallest block sizes engines use (16 tokens of a 1 GiB/M-token model: 16 KiB).
 */
#include <kvtier/kvtier.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "index/prefix_index_internal.h"
#include "store/store_internal.h"

#define N1 50000u

typedef struct config {
    const char *name;
    const char *policy;
    uint32_t ntiers;
    kvt_tier_kind_t kind[2];
    uint32_t share[2]; /* parts of N each tier holds, out of 4 */
} config_t;

static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Heap bytes of a store of cfg holding n blocks (-1 on failure). */
static double fill(const config_t *cfg, uint32_t n, const char *dir)
{
    kvt_tier_config_t tc[2];
    uint64_t blocks[2];
    bench_rm_rf(dir); /* a fresh directory: the NVMe tier would rescan an earlier fill */
    for (uint32_t k = 0; k < cfg->ntiers; k++) {
        kvt_tier_config_init(&tc[k], cfg->kind[k]);
        blocks[k] = (uint64_t)n * cfg->share[k] / 4;
        tc[k].capacity_bytes = blocks[k] * 16384 + (256u << 20); /* no compaction while filling */
        tc[k].max_record_bytes = 4096 + KVT_BLOCK_HEADER_BYTES;
        tc[k].dir = dir;
        tc[k].segment_bytes = 64u << 20;
        tc[k].durable = false;
    }
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = tc;
    o.ntiers = cfg->ntiers;
    o.tier_blocks = blocks;
    o.policy = cfg->policy;
    o.block_bytes = 64;
    malloc_trim(0);
    size_t before = heap_bytes();
    kvt_store_t *s;
    kvt_store_channel_t *ch;
    kvt_error_t err;
    if (kvt_store_create(&o, &s, &err) != KVT_OK) {
        fprintf(stderr, "bench_store_meta: %s: %s\n", cfg->name, err.message);
        return -1;
    }
    if (kvt_store_channel_open(s, &ch) != KVT_OK) {
        kvt_store_destroy(s);
        return -1;
    }
    char payload[64] = {0};
    for (uint32_t i = 0; i < n; i++) {
        kvt_store_req_t r;
        memset(&r, 0, sizeof(r));
        r.op = KVT_STORE_PUT;
        r.meta.key.lo = kvt_splitmix64(2 * (uint64_t)i);
        r.meta.key.hi = kvt_splitmix64(2 * (uint64_t)i + 1);
        r.buf = payload;
        r.len = sizeof(payload);
        if (kvt_store_run(ch, &r) != KVT_OK) {
            fprintf(stderr, "bench_store_meta: %s: put %u failed\n", cfg->name, i);
            return -1;
        }
    }
    kvt_store_stats_t st;
    kvt_store_stats(s, &st);
    uint64_t held = 0;
    for (uint32_t k = 0; k < st.ntiers; k++) {
        held += st.tiers[k].blocks;
    }
    size_t runs = 0; /* the shards' run arrays: mmapped, not in mallinfo2 */
    for (uint32_t i = 0; i < KVT_STORE_SHARDS; i++) {
        runs += prefix_index_run_resident(s->shard[i].idx);
    }
    double bytes = (double)(heap_bytes() - before + runs);
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);
    if (held < (uint64_t)n * 99 / 100) {
        fprintf(stderr, "bench_store_meta: %s: %llu of %u blocks held\n", cfg->name,
                (unsigned long long)held, n);
        return -1;
    }
    return bytes;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/kvtier-bench-meta-%d", base, (int)getpid());
    static const config_t cfgs[] = {
        {"dram, lru", "lru", 1, {KVT_TIER_DRAM}, {4}},
        {"dram, predictive", "predictive", 1, {KVT_TIER_DRAM}, {4}},
        {"dram 1/4 + nvme 3/4, lru", "lru", 2, {KVT_TIER_DRAM, KVT_TIER_NVME}, {1, 3}},
        {"dram 1/4 + nvme 3/4, predictive", "predictive", 2, {KVT_TIER_DRAM, KVT_TIER_NVME},
         {1, 3}},
    };
    printf("store metadata per resident block: heap bytes at %u and %u blocks, slope\n", N1,
           4 * N1);
    printf("  %-34s %12s %12s %10s %9s %9s\n", "tiers, policy", "at N", "at 4N", "B/block",
           "of 16 KiB", "of 2 MiB");
    int rc = 0;
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        double a = fill(&cfgs[i], N1, dir), b = fill(&cfgs[i], 4 * N1, dir);
        if (a < 0 || b < 0) {
            rc = 1;
            continue;
        }
        double per = (b - a) / (3.0 * N1);
        printf("  %-34s %9.1f MB %9.1f MB %8.1f B %8.3f%% %8.4f%%\n", cfgs[i].name, a / 1e6,
               b / 1e6, per, 100 * per / 16384, 100 * per / (2 << 20));
        fflush(stdout);
    }
    bench_rm_rf(dir);
    return rc;
}
