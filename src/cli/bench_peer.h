/* Internal: the peers `kvtier bench` measures beside each tier: memcpy and fio. */
#ifndef KVT_CLI_BENCH_PEER_H
#define KVT_CLI_BENCH_PEER_H

#include "cli/bench_tier.h"

/*
 * Single-thread memcpy of total_bytes in block_bytes blocks each way: "write" copies a source
 * pool (up to 64 MiB) into an arena of min(total, 256 MiB) (pre-faulted), "read" copies the
 * arena into queue_depth block buffers in turn. Fills r_p's write and read sides.
 */
kvt_status_t kvt_bench_memcpy(uint64_t block_bytes, uint64_t total_bytes, uint32_t queue_depth,
                              kvt_bench_result_t *r_p, kvt_error_t *err);

/* Whether an executable named `name` is on $PATH. */
bool kvt_bench_have_program(const char *name);

typedef struct kvt_bench_fio_opts {
    const char *file;      /* the file fio writes then reads (removed afterwards) */
    uint64_t block_bytes;  /* --bs */
    uint32_t queue_depth;  /* --iodepth */
    uint64_t size;         /* --size: a whole number of blocks */
    bool direct;           /* nvme: --direct=1 (and --fdatasync); pfs: --direct=0 (and --fsync) */
    bool durable;          /* the write syncs every queue_depth writes (--fdatasync / --fsync) */
    bool overwrite;        /* the timed write overwrites a file laid out first (--overwrite=1);
                              else it writes fallocate'd space (--fallocate=native) */
    bool verify_read;      /* also: write the file with fio's crc32c verify headers (untimed)
                              and read it back verifying every block (--verify_only) */
} kvt_bench_fio_opts_t;

/*
 * Run fio twice (--rw=write, then --rw=read on the same file) with the io_uring engine and
 * --output-format=json, and read write_bw/read_bw and the p50/p99 of the total latency (lat_ns,
 * --lat_percentiles=1) from its JSON (cJSON);
 * with verify_read, twice more for r_p->read_verify (see the field).
 * cmd (cmd_len bytes) receives the command lines run, separated by " && ".
 * KVT_ERR_UNAVAILABLE when fio is not installed; KVT_ERR_IO when it fails (err has its stderr's
 * first line); KVT_ERR_PARSE when its output is not the JSON expected.
 */
kvt_status_t kvt_bench_fio(const kvt_bench_fio_opts_t *o, kvt_bench_result_t *r_p, char *cmd,
                           size_t cmd_len, kvt_error_t *err);

#endif
