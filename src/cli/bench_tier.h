/* Internal: one benchmark point through a kvtier tier (write then read, QD I/Os in flight). */
#ifndef KVT_CLI_BENCH_TIER_H
#define KVT_CLI_BENCH_TIER_H

#include <kvtier/kvtier.h>

typedef struct kvt_bench_io_opts {
    kvt_tier_kind_t kind;
    const char *dir;           /* nvme, pfs: the tier's directory (fresh; the tier creates it) */
    uint64_t block_bytes;      /* payload bytes per block */
    uint32_t queue_depth;      /* I/Os kept in flight on the one channel */
    uint64_t total_bytes;      /* payload bytes to write: rounded down to blocks, at least one */
    double seconds;            /* per phase, stop submitting after this long (0: no limit) */
    bool no_durable;           /* nvme, pfs: open the tier non-durable (default: durable) */
    kvt_progress_cb_t progress; /* optional: 0..1000 over both phases */
    void *progress_arg;
} kvt_bench_io_opts_t;

/* One direction of a point. */
typedef struct kvt_bench_side {
    uint64_t ios;       /* I/Os completed */
    uint64_t bytes;     /* payload bytes moved */
    uint64_t ns;        /* wall time from the first submit to the last completion */
    double GBps;        /* bytes / ns (1e9 B/s) */
    double p50_us, p99_us; /* per-I/O latency, submit to completion seen by poll */
} kvt_bench_side_t;

typedef struct kvt_bench_result {
    kvt_bench_side_t write, read;
    kvt_bench_side_t read_verify; /* peers only: the read with a checksum verified per block, as
                                     every read of a persistent tier is (ios 0: not measured) */
    char detail[256];   /* kvt_tier_info().detail of the tier as opened */
    uint64_t capacity_bytes; /* the capacity the tier was opened with */
} kvt_bench_result_t;

/*
 * Open a fresh tier of o->kind, write blocks of random payload (checksums computed before the
 * clock starts) keeping o->queue_depth I/Os in flight on one channel, then read every written
 * block back the same way; verify, after the clock stops, that the last block each buffer
 * received has the checksum written; close the tier. Errors name the tier and the I/O.
 */
kvt_status_t kvt_bench_tier_run(const kvt_bench_io_opts_t *o, kvt_bench_result_t *r_p,
                                kvt_error_t *err);

/* The tier configuration the bench opens for n blocks of block_bytes (capacity with headroom). */
void kvt_bench_tier_config(kvt_tier_config_t *cfg, kvt_tier_kind_t kind, const char *dir,
                           uint64_t block_bytes, uint64_t nblocks, uint32_t queue_depth);

#endif
