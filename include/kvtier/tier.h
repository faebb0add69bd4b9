/*
 * kvtier: storage tiers below the GPU — DRAM (T1), CXL memory (T2), NVMe (T3), a parallel
 * filesystem directory (T5) — behind one interface.
 *
 * A tier stores block records (kvtier/block.h) by key. I/O is asynchronous: a caller opens a
 * channel per thread, submits I/O descriptors to it and polls it for completions. Channels share
 * nothing on the hot path (each has its own queue; NVMe its own io_uring), so several engine
 * threads drive one tier without a global lock. A full channel answers KVT_ERR_BUSY: poll, then
 * submit again — back-pressure is a status, never an unbounded queue.
 *
 * A tier does not decide what to keep: a put into a full tier fails with KVT_ERR_NO_SPACE and the
 * store (kvtier/store.h), guided by the policy layer, removes or demotes blocks first.
 *
 * Thread rules: kvt_tier_open/close from one thread; a channel is used by one thread at a time;
 * kvt_tier_remove, kvt_tier_contains and kvt_tier_stat may be called from any thread.
 */
#ifndef KVTIER_TIER_H
#define KVTIER_TIER_H

#include <kvtier/block.h>
#include <kvtier/node.h>
#include <kvtier/status.h>

KVT_BEGIN_DECLS

/* kvt_tier_kind_t, kvt_tier_kind_name() and kvt_tier_kind_parse() are in kvtier/node.h: the
 * tiers a node description lists are the tiers opened here. HBM and POOL have no backend yet. */

typedef struct kvt_tier_config {
    size_t opts_size;           /* set by kvt_tier_config_init() */
    kvt_tier_kind_t kind;
    uint64_t capacity_bytes;    /* bytes of records the tier may hold (default 1 GiB) */
    uint64_t max_record_bytes;  /* largest record, header included (default 16 MiB + header) */
    const char *dir;            /* nvme, pfs: directory (created if missing); copied at open */
    int numa_node;              /* cxl: node to bind; -1 = first CPU-less node, else the last
                                   node (default -1). dram: -1 = local (default) */
    bool hugepages;             /* dram, cxl: try huge pages first (default true) */
    uint32_t queue_depth;       /* I/Os in flight per channel (default 32) */
    uint64_t segment_bytes;     /* nvme: segment size (default 256 MiB) */
    bool durable;               /* nvme, pfs: a put completes only once on stable storage
                                   (fdatasync/fsync; default true) */
    bool prefault;              /* kvt_tier_prefault() at open, before it returns (default
                                   false): for bringing a fresh node up in its steady state */
} kvt_tier_config_t;

KVT_API void kvt_tier_config_init(kvt_tier_config_t *cfg, kvt_tier_kind_t kind);

typedef struct kvt_tier kvt_tier_t;
typedef struct kvt_tier_channel kvt_tier_channel_t;

typedef enum kvt_tier_op {
    KVT_TIER_PUT = 1, /* store meta + buf[0..len) under meta.key; replaces nothing: a key
                         already present completes KVT_OK without writing (equal keys = equal
                         content) */
    KVT_TIER_GET = 2, /* read key's payload into buf (capacity len); on success len = payload
                         bytes and meta = the stored header; KVT_ERR_NOT_FOUND on a miss,
                         KVT_ERR_DOES_NOT_FIT if buf is too small, KVT_ERR_CORRUPT if the
                         checksum fails (the record is then dropped from the tier) */
} kvt_tier_op_t;

/*
 * One I/O. The caller owns it and its buffer until poll returns it. `priv` is the tier's
 * scratch space: the hot path allocates nothing.
 */
typedef struct kvt_tier_io {
    kvt_tier_op_t op;
    kvt_block_meta_t meta; /* PUT: header to store (key, payload_bytes = len, checksum);
                              GET: key in; full header out */
    void *buf;
    size_t len;
    kvt_status_t status;   /* KVT_INPROGRESS from submit until poll returns the io */
    void *user;            /* caller's, untouched */
    uint64_t priv[8];      /* tier scratch */
} kvt_tier_io_t;

/* What a tier is and holds. Strings are static or live as long as the tier. */
typedef struct kvt_tier_info {
    kvt_tier_kind_t kind;
    const char *name;         /* "dram", ... */
    char detail[256];         /* one line: "2 MiB huge pages, node 0", "io_uring, O_DIRECT, ext4" */
    uint64_t capacity_bytes;
    uint64_t used_bytes;      /* bytes of live records */
    uint64_t blocks;          /* live records */
    uint64_t errors;          /* I/O errors and checksum failures seen since open */
} kvt_tier_info_t;

/*
 * Whether a tier of this configuration can run on this machine: KVT_OK, or
 * KVT_ERR_UNAVAILABLE with a one-line reason in `why` (e.g. "no io_uring: kernel too old").
 */
KVT_API kvt_status_t kvt_tier_probe(const kvt_tier_config_t *cfg, char *why, size_t why_len);

/* Open a tier; reopening an nvme or pfs directory finds the records that were durable. */
KVT_API kvt_status_t kvt_tier_open(const kvt_tier_config_t *cfg, kvt_tier_t **tier_p,
                                   kvt_error_t *err);
/* Close; every channel must be closed first. NULL is a no-op. */
KVT_API void kvt_tier_close(kvt_tier_t *tier);

KVT_API kvt_status_t kvt_tier_channel_open(kvt_tier_t *tier, kvt_tier_channel_t **chan_p);
/* Waits for the channel's I/Os in flight, then frees it. NULL is a no-op. */
KVT_API void kvt_tier_channel_close(kvt_tier_channel_t *chan);

/* Queue one I/O: KVT_OK (it will complete through poll) or KVT_ERR_BUSY (queue full). */
KVT_API kvt_status_t kvt_tier_submit(kvt_tier_channel_t *chan, kvt_tier_io_t *io);
/*
 * Wait until at least min_complete I/Os of this channel are done (0: do not wait), then return
 * up to max of them in done[]. Returns how many were written to done[].
 */
KVT_API size_t kvt_tier_poll(kvt_tier_channel_t *chan, size_t min_complete, kvt_tier_io_t **done,
                             size_t max);

/*
 * Submit one I/O and wait for it, on a channel with nothing else in flight (tools and tests).
 * Returns io->status.
 */
KVT_API kvt_status_t kvt_tier_run(kvt_tier_channel_t *chan, kvt_tier_io_t *io);

/* Drop key from the tier (its space becomes reusable). KVT_ERR_NOT_FOUND if absent. */
KVT_API kvt_status_t kvt_tier_remove(kvt_tier_t *tier, kvt_key_t key);
KVT_API bool kvt_tier_contains(kvt_tier_t *tier, kvt_key_t key);

typedef void (*kvt_tier_scan_cb_t)(const kvt_block_meta_t *meta, void *arg);
/* Call cb for each live record (e.g. after a restart, to rebuild the prefix index). */
KVT_API kvt_status_t kvt_tier_scan(kvt_tier_t *tier, kvt_tier_scan_cb_t cb, void *arg);

KVT_API void kvt_tier_info(kvt_tier_t *tier, kvt_tier_info_t *info);

/*
 * How many blocks of payload_bytes each the (empty) tier holds, after its own overheads: record
 * headers, slot size classes, sector alignment, a compaction reserve. A policy placing blocks of
 * that size in the tier can count on this many puts succeeding.
 */
KVT_API uint64_t kvt_tier_capacity_blocks(kvt_tier_t *tier, uint64_t payload_bytes);

/* A contiguous range of host memory that holds a tier's blocks. */
typedef struct kvt_tier_region {
    void *base;
    size_t len;
} kvt_tier_region_t;

/*
 * The memory a memory tier (dram, cxl) keeps its blocks in, for a GPU path to register once
 * (cudaHostRegister) so copies to and from the GPU run from pinned memory: writes up to max
 * regions and returns how many the tier has (0 for tiers that are not host memory). The ranges
 * stay valid until kvt_tier_close.
 */
KVT_API size_t kvt_tier_regions(kvt_tier_t *tier, kvt_tier_region_t *out, size_t max);

/*
 * Pay now the first-use cost a tier would otherwise pay on the first put into each part of it,
 * for a caller that wants it up front: a GPU path about to pin the regions, a deployment
 * bringing up a fresh node, a benchmark measuring the steady state. Memory tiers (dram, cxl)
 * fault every page of their memory in (KVT_ERR_NO_MEMORY when the pages cannot be had). The nvme
 * tier writes its free space once, so that the file system holds it as written blocks, as it
 * holds every segment once recycled: a first append then costs what later ones do instead of a
 * conversion of unwritten extents (about 1.8x the time of a 64 KiB durable put on ext4). That
 * writes the whole free capacity (minutes per TB), holding appends off meanwhile: call it after
 * open, before the tier takes traffic. Errors are logged and returned (KVT_ERR_NO_SPACE,
 * KVT_ERR_IO); what the tier holds is untouched either way. KVT_OK at once for other tiers.
 */
KVT_API kvt_status_t kvt_tier_prefault(kvt_tier_t *tier);

KVT_END_DECLS

#endif
