/*
 * kvtier: the live tiered store — blocks of real bytes placed in real tiers (kvtier/tier.h) by
 * the same policy code the replay lab runs (kvtier/replay.h), so a replay predicts the store.
 *
 * The store opens an ordered list of tiers (fastest first: DRAM, CXL, NVMe, PFS; any subset),
 * one policy instance per tier, and an index from block key to the tiers holding the block.
 * Placement follows the multi-tier replay exactly: every accessed block is admitted into the top
 * tier (the policy may bypass it); the top tier's victim is demoted to the next tier (read from
 * tier i, removed there, written to tier i+1), cascading down; the last tier's victims are
 * dropped. A GET served by a lower tier promotes a copy into the top tier (the lower tier keeps
 * its copy). Tiers that fetch a block slower than the GPU recomputes it (given a node and a
 * model) receive no demotions.
 *
 * Engine threads each open a channel and submit batches of requests (PUT, GET, PREFETCH) to it;
 * poll returns completed requests. A full channel answers KVT_ERR_BUSY (back-pressure as a
 * status, never an unbounded queue). Persistent tiers (nvme, pfs) are scanned at create, so the
 * blocks that were durable survive a restart. See docs/store.md.
 *
 * Thread rules: create/destroy from one thread, after every channel is closed; a channel is used
 * by one thread at a time; lookup and stats may be called from any thread at any time.
 */
#ifndef KVTIER_STORE_H
#define KVTIER_STORE_H

#include <kvtier/block.h>
#include <kvtier/model.h>
#include <kvtier/node.h>
#include <kvtier/tier.h>
#include <kvtier/trace.h>

KVT_BEGIN_DECLS

typedef struct kvt_store kvt_store_t;
typedef struct kvt_store_channel kvt_store_channel_t;

typedef struct kvt_store_opts {
    size_t opts_size;               /* set by kvt_store_opts_init() */
    const kvt_tier_config_t *tiers; /* ntiers configurations, fastest first (copied at create) */
    uint32_t ntiers;                /* 1 .. KVT_MAX_TIERS */
    const char *policy;             /* "lru" (default), "lfu", "arc", "s3fifo", "predictive";
                                       "belady" needs the future and is refused */
    uint32_t block_tokens;          /* tokens per block (default 16) */
    uint64_t block_bytes;           /* required: the largest payload of one block; a tier holds
                                       kvt_tier_capacity_blocks(tier, block_bytes) blocks */
    const kvt_node_desc_t *node;    /* optional: with model, tiers whose fetch of one block is
                                       slower than recomputing it receive no demotions */
    const kvt_model_t *model;       /* optional, see node */
    uint32_t queue_depth;           /* requests submitted and not yet polled, per channel
                                       (default 64) */
    uint32_t access_buffer;         /* accesses a channel records before applying them to the
                                       policies (default 64; 1 = apply at once) */
    uint64_t max_blocks;            /* ids for distinct blocks alive at once (0: the sum of the
                                       tiers' capacities plus slack for blocks in flight) */
    uint32_t move_buffers;          /* per channel: demotions whose write may be in flight at
                                       once, each holding its victim's bytes in a buffer of
                                       block_bytes allocated on first use (default 32; at
                                       least 2; beyond that the cascade waits for one) */
    const uint64_t *tier_blocks;    /* optional, ntiers entries: at most this many blocks in
                                       each tier (0: all it holds). With tiers opened large
                                       enough, the store places exactly as a node replay with
                                       these capacities in blocks (kvt_store_stats shows the
                                       capacities used). */
} kvt_store_opts_t;

/*
 * The store's tiers from a node description (kvtier/node.h, the format `kvtier replay --node`
 * reads): each tier of the node that has a backend here (dram, cxl, nvme, pfs; in the node's
 * order) becomes a configuration of the node's capacity, and its budget in blocks of
 * block_bytes the one the node replay gives it (capacity_bytes / block_bytes), for
 * kvt_store_opts_t.tier_blocks. A tier's own overheads (headers, slot sizes, sectors, a
 * compaction spare) may make it hold a little less: the store then uses what it holds. hbm (the engine's
 * own memory) and pool (no backend yet) are skipped and counted in *skipped_p. nvme lives in
 * nvme_dir and pfs in pfs_dir (both required when the node has those tiers; the strings must
 * outlive the configurations). cfg and blocks hold KVT_MAX_TIERS entries; *n_p receives how
 * many were filled. err names the tier that cannot be configured.
 */
KVT_API kvt_status_t kvt_store_tiers_from_node(const kvt_node_desc_t *node, uint64_t block_bytes,
                                               const char *nvme_dir, const char *pfs_dir,
                                               kvt_tier_config_t *cfg, uint64_t *blocks,
                                               uint32_t *n_p, uint32_t *skipped_p,
                                               kvt_error_t *err);

KVT_API void kvt_store_opts_init(kvt_store_opts_t *opts);

/*
 * Open the tiers, create the policies, scan the persistent tiers to rebuild the index (blocks
 * beyond a tier's capacity in blocks are removed from it). *store_p is written only on success.
 * Errors name the tier or the option: "store: policy \"belady\" needs the future ...".
 */
KVT_API kvt_status_t kvt_store_create(const kvt_store_opts_t *opts, kvt_store_t **store_p,
                                      kvt_error_t *err);
/* Close the tiers (persistent ones keep their records). Every channel must be closed. NULL: no-op. */
KVT_API void kvt_store_destroy(kvt_store_t *store);

/* A channel for one thread. Its tier channels and bounce buffers are allocated here. */
KVT_API kvt_status_t kvt_store_channel_open(kvt_store_t *store, kvt_store_channel_t **chan_p);
/* Finishes the channel's pending requests and deferred moves (their completions are discarded:
 * poll first to see them), then frees it. NULL is a no-op. */
KVT_API void kvt_store_channel_close(kvt_store_channel_t *chan);

typedef enum kvt_store_op {
    KVT_STORE_PUT = 1,      /* store meta + buf[0..len) (len = payload bytes <= block_bytes);
                               the store fills meta.payload_bytes and meta.payload_checksum. A
                               key already held is an access and writes nothing. */
    KVT_STORE_GET = 2,      /* read key's payload into buf (capacity len) from the fastest tier
                               holding it; on success len = payload bytes, meta = the stored
                               header, tier = the tier that served it. KVT_ERR_NOT_FOUND: miss */
    KVT_STORE_PREFETCH = 3, /* bring key into the top tier (buf unused); completes once it is
                               there. KVT_ERR_NOT_FOUND if no tier holds it */
} kvt_store_op_t;

/* One request. The caller owns it and its buffer until poll returns it. */
typedef struct kvt_store_req {
    kvt_store_op_t op;
    kvt_block_meta_t meta;  /* key in; PUT: header (first_token, ntokens, ...) */
    void *buf;
    size_t len;
    uint32_t session;       /* optional: the engine's session (the predictive policy learns
                               from it) */
    uint8_t block_type;     /* optional: kvt_block_type_t of the block (predictive policy) */
    kvt_status_t status;    /* KVT_INPROGRESS until poll returns it */
    int tier;               /* out: GET the tier index that served it, PUT the tier written
                               (0, or the first below a bypass), -1 if none */
    void *user;             /* caller's, untouched */
} kvt_store_req_t;

/*
 * Queue n requests. *accepted_p (may be NULL) receives how many were queued, the first ones in
 * order. KVT_OK when all were, KVT_ERR_BUSY when the channel's queue (queue_depth requests
 * submitted and not yet polled) filled first: poll, then submit the rest. KVT_ERR_INVALID for
 * a malformed request (none after it is queued). Never blocks.
 */
KVT_API kvt_status_t kvt_store_submit(kvt_store_channel_t *chan, kvt_store_req_t *reqs,
                                      size_t n, size_t *accepted_p);
/*
 * Start the queued requests and return up to max completed ones in done[] (their status set),
 * in completion order (a batch's tier I/Os overlap: a GET served by DRAM may come back before
 * one from NVMe submitted earlier); returns how many, waiting until at least min_complete have
 * completed or nothing is left in flight. Requests run on the calling thread, inside poll; GETs
 * may stay in flight until the next poll, a PUT's write does not. Blocks only on tier I/O and,
 * briefly, on another thread's move in the same tier.
 */
KVT_API size_t kvt_store_poll(kvt_store_channel_t *chan, size_t min_complete,
                              kvt_store_req_t **done, size_t max);
/* Submit one request and wait for it, on a channel with nothing queued. Returns req->status. */
KVT_API kvt_status_t kvt_store_run(kvt_store_channel_t *chan, kvt_store_req_t *req);
/*
 * Apply the accesses the channel has recorded (hits, promotions of blocks a GET found in a lower
 * tier) to the policies and finish the resulting moves. Poll and submit do this as the buffer
 * fills; engines call it when idle, tests to observe placement deterministically.
 */
KVT_API void kvt_store_channel_flush(kvt_store_channel_t *chan);

/*
 * The longest prefix chain[0..len) the store holds (every block in some tier) and, for i < len,
 * tiers_out[i] = the index of the fastest tier holding block i (tiers_out may be NULL; else it
 * has n entries). Thread-safe; takes shard read locks only; does not block on I/O. A block can
 * leave between lookup and GET: the GET then misses.
 */
KVT_API size_t kvt_store_lookup(kvt_store_t *store, const kvt_key_t *chain, size_t n,
                                uint8_t *tiers_out);

typedef struct kvt_store_tier_stats {
    kvt_tier_kind_t kind;
    const char *name;          /* "dram", ... */
    uint64_t capacity_blocks;  /* the policy's capacity */
    uint64_t blocks;           /* blocks the policy holds in this tier */
    bool skipped;              /* fetch slower than recompute: receives no demotions */
    uint64_t hits;             /* GETs served by this tier */
    uint64_t puts;             /* blocks written here from a caller's PUT */
    uint64_t demotions;        /* blocks written here from the tier above */
    uint64_t promotions;       /* blocks copied from here into the top tier */
    uint64_t evictions;        /* blocks removed from here by the policy (demoted or dropped) */
    uint64_t drops;            /* blocks that left the store from here (last tier, or a copy
                                  already below) */
    uint64_t bytes_read;       /* payload bytes read from this tier */
    uint64_t bytes_written;    /* payload bytes written into this tier */
    uint64_t errors;           /* I/O errors, checksum failures, no space on a move */
} kvt_store_tier_stats_t;

typedef struct kvt_store_stats {
    uint32_t ntiers;
    kvt_store_tier_stats_t tiers[KVT_MAX_TIERS];
    uint64_t gets, get_misses, puts, prefetches, busy; /* busy: submits answered KVT_ERR_BUSY */
    uint64_t blocks;                                   /* distinct blocks in the index */
} kvt_store_stats_t;

/* A snapshot of the counters (each read atomically; the set is not one instant). */
KVT_API void kvt_store_stats(kvt_store_t *store, kvt_store_stats_t *stats_p);

/* --- driving the store with a trace (benchmarks) ------------------------------------------ */

typedef struct kvt_store_replay_opts {
    size_t opts_size;       /* set by kvt_store_replay_opts_init() */
    uint64_t max_requests;  /* 0: the whole trace */
    uint64_t payload_bytes; /* bytes per block (0: the store's block_bytes) */
} kvt_store_replay_opts_t;

KVT_API void kvt_store_replay_opts_init(kvt_store_replay_opts_t *opts);

typedef struct kvt_store_replay_result {
    uint64_t requests;
    uint64_t input_tokens;
    uint64_t hit_tokens;                    /* prefix tokens served by GETs */
    double token_hit_rate;                  /* hit_tokens / input_tokens */
    uint64_t hit_blocks[KVT_MAX_TIERS];     /* prefix blocks by the tier the lookup found
                                               them in at arrival (the replay's split; the GET
                                               may be served from a lower tier if a promotion
                                               of the same prefix pushed the block down) */
    uint64_t hit_tokens_tier[KVT_MAX_TIERS];
    uint64_t lookups_short;                 /* blocks the lookup matched that GET then missed */
    uint64_t put_blocks;
    uint64_t bytes_moved;                   /* payload bytes of GETs and PUTs */
    double wall_s;
    double GBps;                            /* bytes_moved / wall_s / 1e9 */
} kvt_store_replay_result_t;

/*
 * Drive the store with a trace on one channel: for each request, look up its chain (block ids
 * become keys, a fixed function of the id), GET the cached prefix into a scratch buffer, PUT
 * the missing blocks with synthetic payloads (a function of the key), and count hits per tier,
 * bytes moved and wall time. Accesses follow the request's chain order, as in the replay
 * engine, so with one thread the store's hits match kvt_node_replay_run on the same tiers.
 */
KVT_API kvt_status_t kvt_store_replay(kvt_store_t *store, const kvt_trace_t *trace,
                                      const kvt_store_replay_opts_t *opts,
                                      kvt_store_replay_result_t *result_p, kvt_error_t *err);

KVT_END_DECLS

#endif
