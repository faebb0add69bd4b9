/*
 * Restoring a prefix from NVMe through the live store: one batch of 256 GETs of blocks resident
 * on the NVMe tier only (the DRAM top tier holds no block of this size), 64 KiB and 1 MiB blocks,
 * beside the bare NVMe tier reading the same number of blocks of the same size with the store
 * channel's tier queue depth (32) kept full, in the same run on the same filesystem: what the
 * store's lookup, pins, access log and completion handling cost on the time-to-first-token path,
 * and whether a channel overlaps its reads (a channel that read one block after another would
 * show the QD-1 figure). Median of rounds. The one batch of 256 PUTs that stored them (into
 * the empty tier, not durable) is timed once, beside the bare tier's PUTs at the same depths.
 * The directory is a mkdtemp under $KVT_BENCH_DIR, else /var/tmp (O_DIRECT needs a real
 * filesystem, not tmpfs), removed at the end.
 */
#include <kvtier/kvtier.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#define NBLK   256u
#define QD     32u
#define ROUNDS 7

static kvt_key_t key_of(uint32_t i)
{
    return (kvt_key_t){(i + 1) * 0x9e3779b97f4a7c15ull, (i + 7) * 0xbf58476d1ce4e5b9ull};
}

static void nvme_cfg(kvt_tier_config_t *c, const char *dir, uint64_t bb)
{
    kvt_tier_config_init(c, KVT_TIER_NVME);
    c->dir = dir;
    c->max_record_bytes = bb + KVT_BLOCK_HEADER_BYTES;
    c->segment_bytes = 64ull << 20;
    /* NBLK records (a descriptor sector each) in whole segments, plus the compaction spare */
    uint64_t need = NBLK * (bb + 4096);
    c->capacity_bytes = (need / c->segment_bytes + 2) * c->segment_bytes;
    c->queue_depth = QD;
    c->durable = false; /* the writes only set the stage */
}

/* The store: GB/s of one batch of NBLK GETs (median of rounds); *put_p: of the one batch of
 * NBLK PUTs that wrote them (into the empty tier, once). */
static double store_restore(const char *dir, uint64_t bb, unsigned char **bufs, uint64_t *errs,
                            double *put_p)
{
    kvt_tier_config_t tc[2];
    kvt_tier_config_init(&tc[0], KVT_TIER_DRAM);
    tc[0].capacity_bytes = 4096; /* no block of this size fits: every GET comes from nvme */
    tc[0].max_record_bytes = bb + KVT_BLOCK_HEADER_BYTES;
    tc[0].hugepages = false;
    nvme_cfg(&tc[1], dir, bb);
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = tc;
    o.ntiers = 2;
    o.block_bytes = bb;
    o.queue_depth = NBLK;
    kvt_store_t *s;
    kvt_store_channel_t *ch;
    kvt_error_t err;
    if (kvt_store_create(&o, &s, &err) != KVT_OK || kvt_store_channel_open(s, &ch) != KVT_OK) {
        fprintf(stderr, "bench_store_restore: store: %s\n", err.message);
        exit(1);
    }
    static kvt_store_req_t r[NBLK];
    static kvt_store_req_t *done[NBLK];
    for (uint32_t i = 0; i < NBLK; i++) {
        memset(bufs[i], (int)(i & 0xff), bb);
        r[i] = (kvt_store_req_t){.op = KVT_STORE_PUT, .buf = bufs[i], .len = bb};
        r[i].meta.key = key_of(i);
    }
    double a0 = now();
    size_t acc0 = 0, got0 = 0;
    (void)kvt_store_submit(ch, r, NBLK, &acc0);
    while (got0 < acc0) {
        got0 += kvt_store_poll(ch, acc0 - got0, done, NBLK);
    }
    *put_p = (double)NBLK * (double)bb / (now() - a0) / 1e9;
    for (uint32_t i = 0; i < NBLK; i++) {
        if (acc0 != NBLK || r[i].status != KVT_OK || r[i].tier != 1) {
            fprintf(stderr, "bench_store_restore: put %u: %s (tier %d)\n", i,
                    kvt_status_str(r[i].status), r[i].tier);
            exit(1);
        }
    }
    double t[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        for (uint32_t i = 0; i < NBLK; i++) {
            r[i] = (kvt_store_req_t){.op = KVT_STORE_GET, .buf = bufs[i], .len = bb};
            r[i].meta.key = key_of(i);
        }
        double a = now();
        size_t acc = 0, got = 0;
        (void)kvt_store_submit(ch, r, NBLK, &acc);
        while (got < acc) {
            got += kvt_store_poll(ch, acc - got, done, NBLK);
        }
        kvt_store_channel_flush(ch);
        t[round] = now() - a;
        for (uint32_t i = 0; i < NBLK; i++) {
            if (r[i].status != KVT_OK || r[i].tier != 1 || r[i].len != bb ||
                bufs[i][bb - 1] != (unsigned char)(i & 0xff)) {
                (*errs)++;
            }
        }
    }
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);
    qsort(t, ROUNDS, sizeof(double), cmp_double);
    return (double)NBLK * (double)bb / t[ROUNDS / 2] / 1e9;
}

/* The bare tier: NBLK GETs with qd in flight (median of rounds); *put_p: the NBLK PUTs with
 * qd in flight that wrote them (once). */
static double tier_restore(const char *dir, uint64_t bb, uint32_t qd, unsigned char **bufs,
                           uint64_t *errs, double *put_p)
{
    kvt_tier_config_t c;
    nvme_cfg(&c, dir, bb);
    c.queue_depth = qd;
    kvt_tier_t *tier;
    kvt_tier_channel_t *ch;
    kvt_error_t err;
    if (kvt_tier_open(&c, &tier, &err) != KVT_OK || kvt_tier_channel_open(tier, &ch) != KVT_OK) {
        fprintf(stderr, "bench_store_restore: tier: %s\n", err.message);
        exit(1);
    }
    static kvt_tier_io_t io[NBLK];
    static kvt_tier_io_t *done[NBLK];
    double t[ROUNDS];
    for (int round = -1; round < ROUNDS; round++) { /* round -1: the PUTs */
        double a = now();
        uint32_t next = 0, inflight = 0;
        while (next < NBLK || inflight > 0) {
            while (next < NBLK && inflight < qd) {
                io[next] = (kvt_tier_io_t){.op = round < 0 ? KVT_TIER_PUT : KVT_TIER_GET,
                                           .buf = bufs[next],
                                           .len = bb};
                io[next].meta.key = key_of(next);
                if (round < 0) {
                    memset(bufs[next], (int)(next & 0xff), bb);
                    io[next].meta.payload_bytes = bb;
                    io[next].meta.payload_checksum = kvt_block_checksum(bufs[next], bb);
                }
                if (kvt_tier_submit(ch, &io[next]) != KVT_OK) {
                    break;
                }
                next++;
                inflight++;
            }
            inflight -= (uint32_t)kvt_tier_poll(ch, 1, done, NBLK);
        }
        if (round < 0) {
            *put_p = (double)NBLK * (double)bb / (now() - a) / 1e9;
            for (uint32_t i = 0; i < NBLK; i++) {
                if (io[i].status != KVT_OK) {
                    fprintf(stderr, "bench_store_restore: tier put %u failed\n", i);
                    exit(1);
                }
            }
            continue;
        }
        t[round] = now() - a;
        for (uint32_t i = 0; i < NBLK; i++) {
            *errs += io[i].status != KVT_OK || io[i].len != bb;
        }
    }
    kvt_tier_channel_close(ch);
    kvt_tier_close(tier);
    qsort(t, ROUNDS, sizeof(double), cmp_double);
    return (double)NBLK * (double)bb / t[ROUNDS / 2] / 1e9;
}

int main(void)
{
    const char *base = getenv("KVT_BENCH_DIR") ? getenv("KVT_BENCH_DIR") : "/var/tmp";
    char root[512], d[600];
    snprintf(root, sizeof(root), "%s/kvt_restore_XXXXXX", base);
    if (mkdtemp(root) == NULL) {
        perror("bench_store_restore: mkdtemp");
        return 1;
    }
    kvt_tier_config_t probe;
    char why[256];
    snprintf(d, sizeof(d), "%s/probe", root);
    nvme_cfg(&probe, d, 65536);
    if (kvt_tier_probe(&probe, why, sizeof(why)) != KVT_OK) {
        printf("store restore: skipped, no nvme tier here: %s\n", why);
        bench_rm_rf(root);
        return 0;
    }
    printf("store restore: one batch of %u GETs, blocks on the nvme tier only (%s), beside the "
           "bare tier (median of %d)\n",
           NBLK, base, ROUNDS);
    printf("  %-10s %-8s %10s %14s %8s %14s\n", "block", "batch", "store GB/s", "tier QD32 GB/s",
           "ratio", "tier QD1 GB/s");
    static const uint64_t sizes[] = {64u << 10, 1u << 20};
    uint64_t errs = 0;
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        uint64_t bb = sizes[si];
        unsigned char **bufs = malloc(NBLK * sizeof(*bufs));
        for (uint32_t i = 0; i < NBLK; i++) {
            bufs[i] = aligned_alloc(4096, bb); /* engine buffers are page aligned */
        }
        snprintf(d, sizeof(d), "%s/store-%llu", root, (unsigned long long)bb);
        double sp, tp, t1p;
        double st = store_restore(d, bb, bufs, &errs, &sp);
        snprintf(d, sizeof(d), "%s/tier-%llu", root, (unsigned long long)bb);
        double tq = tier_restore(d, bb, QD, bufs, &errs, &tp);
        snprintf(d, sizeof(d), "%s/tier1-%llu", root, (unsigned long long)bb);
        double t1 = tier_restore(d, bb, 1, bufs, &errs, &t1p);
        const char *name = bb >= (1u << 20) ? "1 MiB" : "64 KiB";
        printf("  %-10s %-8s %10.2f %14.2f %7.2fx %14.2f\n", name, "GET", st, tq, st / tq, t1);
        printf("  %-10s %-8s %10.2f %14.2f %7.2fx %14.2f\n", name, "PUT once", sp, tp, sp / tp,
               t1p);
        for (uint32_t i = 0; i < NBLK; i++) {
            free(bufs[i]);
        }
        free(bufs);
    }
    bench_rm_rf(root);
    if (errs != 0) {
        fprintf(stderr, "bench_store_restore: %llu reads failed or came from the wrong tier\n",
                (unsigned long long)errs);
        return 1;
    }
    return 0;
}
