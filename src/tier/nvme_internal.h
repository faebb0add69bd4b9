/*
 * Internal: the NVMe tier's shared state (nvme.c, nvme_index.c, nvme_segment.c, nvme_space.c,
 * nvme_chan.c). See nvme.c for the design.
 */
#ifndef KVT_TIER_NVME_INTERNAL_H
#define KVT_TIER_NVME_INTERNAL_H

#include "tier/tier_module.h"

#include <pthread.h>
#include <stdatomic.h>

#define NVME_SECTOR     4096u    /* alignment of every I/O, offset and length */
#define NVME_SHARDS     64u      /* index shards (one mutex each) */
#define NVME_REC_MAGIC  "KVTREC01"
#define NVME_SEG_MAGIC  "KVTSEG01"
#define NVME_GET_RETRIES 8       /* re-lookups of a GET whose segment was reused mid-read */

static inline uint64_t nvme_round_up(uint64_t v)
{
    return (v + NVME_SECTOR - 1) & ~(uint64_t)(NVME_SECTOR - 1);
}

/* On-disk bytes of a record with `payload` payload bytes: descriptor sector + padded payload. */
static inline uint64_t nvme_rec_bytes(uint64_t payload)
{
    return NVME_SECTOR + nvme_round_up(payload);
}

/* ---- index: key -> where the record lives (nvme_index.c) ---- */

typedef struct nvme_loc {
    uint32_t seg;
    uint64_t off;       /* of the descriptor sector within the segment file */
    uint64_t rec_bytes; /* on-disk bytes, descriptor included */
} nvme_loc_t;

/* What stays in memory per record: what a GET needs to issue its read (nvme_index.c). The rest
   of the header, the payload checksum included, is in the descriptor sector read with the
   payload. The record's segment generation is that segment's current one while the entry
   points there (a segment is restarted only once nothing points into it). */
typedef struct nvme_entry {
    kvt_key_t key;
    uint64_t payload_bytes;
    uint32_t seg;
    uint32_t off_sec; /* descriptor offset / NVME_SECTOR; 0: an empty slot (sector 0 is the
                         segment header) */
} nvme_entry_t;

_Static_assert(sizeof(nvme_entry_t) == 32, "nvme_entry_t: 32 bytes per record slot");

static inline uint64_t nvme_entry_off(const nvme_entry_t *e)
{
    return (uint64_t)e->off_sec * NVME_SECTOR;
}

static inline uint64_t nvme_entry_rec(const nvme_entry_t *e)
{
    return nvme_rec_bytes(e->payload_bytes);
}

typedef struct nvme_shard {
    pthread_mutex_t lock;
    nvme_entry_t *e;
    size_t mask;  /* capacity - 1 (power of two) */
    size_t count;
} nvme_shard_t;

typedef struct nvme_index {
    nvme_shard_t shard[NVME_SHARDS];
} nvme_index_t;

kvt_status_t nvme_index_init(nvme_index_t *ix);
void nvme_index_fini(nvme_index_t *ix);
nvme_shard_t *nvme_index_shard(nvme_index_t *ix, kvt_key_t key);
/* The following take the shard's lock held by the caller. */
nvme_entry_t *nvme_shard_find(nvme_shard_t *s, kvt_key_t key);
/* Insert (key must be absent); KVT_ERR_NO_MEMORY if the table cannot grow. */
kvt_status_t nvme_shard_insert(nvme_shard_t *s, const nvme_entry_t *e);
void nvme_shard_erase(nvme_shard_t *s, nvme_entry_t *e);

/* ---- segments (nvme_segment.c: on-disk format and recovery) ---- */

typedef enum nvme_seg_state {
    NVME_SEG_FREE = 0,
    NVME_SEG_OPEN = 1,   /* receiving appends */
    NVME_SEG_SEALED = 2, /* full; a compaction candidate */
} nvme_seg_state_t;

typedef struct nvme_seg {
    int fd;
    nvme_seg_state_t state;    /* under space_lock */
    uint64_t write_off;        /* next append offset (open segment); under space_lock */
    _Atomic uint64_t gen;      /* bumped before the segment is rewritten (readers' seqlock) */
    _Atomic uint64_t live;     /* on-disk bytes of the records the index points at */
    _Atomic uint32_t writers;  /* appends allocated here whose write has not completed */
} nvme_seg_t;

typedef struct nvme_tier {
    char *dir;
    uint64_t seg_bytes;
    uint32_t nseg;
    uint32_t queue_depth;
    uint64_t max_rec_bytes; /* largest on-disk record */
    bool durable;
    nvme_seg_t *seg;
    nvme_index_t index;
    bool index_ready;           /* index initialised (tier_free finalises it only then) */

    pthread_mutex_t space_lock; /* open segment, free list, compaction */
    pthread_cond_t space_cond;  /* broadcast when a segment's last append in flight completes */
    _Atomic uint32_t space_waiters; /* allocations waiting on space_cond */
    int open_seg;               /* -1 when none */
    uint32_t free_count;
    uint64_t next_gen;
    void *cbuf;                 /* compaction buffer (max_rec_bytes, aligned), under space_lock */

    _Atomic uint64_t errors;
    char detail[256];
} nvme_tier_t;

/* Segment file path into buf. */
void nvme_seg_path(const nvme_tier_t *t, uint32_t i, char *buf, size_t len);

/* Encode the segment header sector for (index, gen) into out[NVME_SECTOR]. */
void nvme_seg_header_encode(const nvme_tier_t *t, uint32_t index, uint64_t gen, void *out);
/* Whether in[NVME_SECTOR] is a valid header of segment `index`; its generation in gen_p. */
bool nvme_seg_header_decode(const nvme_tier_t *t, uint32_t index, const void *in,
                            uint64_t *gen_p);

/* Encode a record descriptor sector (block header + placement) into out[NVME_SECTOR]. */
void nvme_rec_encode(const kvt_block_meta_t *meta, uint64_t gen, uint64_t off, void *out);
/* Decode a descriptor sector written at `off` in a segment of generation `gen`. */
bool nvme_rec_decode(const void *in, uint64_t gen, uint64_t off, uint64_t seg_bytes,
                     kvt_block_meta_t *meta_p);

/* Recovery: read segment i and add its records to the index (nvme_segment.c). */
void nvme_seg_recover(nvme_tier_t *t, uint32_t i, void *buf, size_t buf_len, uint64_t *gen_p,
                      uint64_t *end_p);

/* Insert a found/written record, keeping the newest copy of a key; adjusts live bytes.
 * Returns true if this copy is now the indexed one. */
bool nvme_index_put(nvme_tier_t *t, kvt_key_t key, uint64_t payload_bytes, const nvme_loc_t *loc,
                    uint64_t gen, bool prefer_existing);
bool nvme_index_contains_key(nvme_tier_t *t, kvt_key_t key);
/* Drop key if it still lives at loc (seg, off). */
void nvme_index_drop_at(nvme_tier_t *t, kvt_key_t key, uint32_t seg, uint64_t off);

/* ---- space (nvme_space.c) ---- */

/* Reserve rec_bytes in the open segment, starting a new segment or compacting one if needed;
 * increments the segment's writers. KVT_OK, KVT_ERR_NO_SPACE (every segment is too live),
 * KVT_ERR_BUSY (space is reclaimable only once in-flight appends complete: returned at once
 * without wait; with wait only after NVME_SPACE_WAIT_MS of waiting for them) or KVT_ERR_IO.
 * Call with wait only when the calling thread has no append of its own in flight. */
kvt_status_t nvme_space_alloc(nvme_tier_t *t, uint64_t rec_bytes, bool wait, uint32_t *seg_p,
                              uint64_t *off_p, uint64_t *gen_p);
/* An append allocated in segment seg completed (written or failed): drop its writer count and
 * wake allocations waiting for the segment. */
void nvme_space_writer_done(nvme_tier_t *t, uint32_t seg);
/* The tier's prefault op: write the free space once so that appends overwrite (nvme_space.c). */
kvt_status_t nvme_space_prefault(void *ctx);

#define NVME_SPACE_WAIT_MS 2000u

void nvme_count_error(nvme_tier_t *t);

/* ---- channels (nvme_chan.c): the ops table's channel entries ---- */

kvt_status_t nvme_chan_open(void *ctx, void **chan_p);
void nvme_chan_close(void *chan);
kvt_status_t nvme_chan_submit(void *chan, kvt_tier_io_t *io);
size_t nvme_chan_poll(void *chan, size_t min_complete, kvt_tier_io_t **done, size_t max);

/* GPUDirect Storage probe (gds_probe.c). */
#include "tier/gds_probe.h"

#endif
