/*
 * Internal: the live store's shared state (store.c), placement (placement.c) and channels
 * (channel.c). See store.c for the design.
 */
#ifndef KVT_STORE_STORE_INTERNAL_H
#define KVT_STORE_STORE_INTERNAL_H

#include <kvtier/prefix_index.h>
#include <kvtier/store.h>

#include "policy/policy.h"

#include <pthread.h>
#include <stdatomic.h>

#define KVT_STORE_SHARDS 16u /* index shards, each under its own rwlock (power of two) */
#define KVT_STORE_NONE   UINT32_MAX

typedef struct st_counters {
    _Atomic uint64_t hits, puts, demotions, promotions, evictions, drops, bytes_read,
        bytes_written, errors;
} st_counters_t;

typedef struct st_tier {
    kvt_tier_t *tier;
    kvt_tier_kind_t kind;
    const char *name;
    pthread_mutex_t own_lock;
    pthread_mutex_t *lock; /* guards pol and used: own_lock, or tier 0's when the policy's
                              lower instances read the top one's state (predictive) */
    pthread_mutex_t move;  /* an admission into this tier and its data moves here (remove the
                              victim, start the newcomer's write); taken before `lock`, never
                              two at once */
    void *pol;
    uint64_t cap, used;
    bool skipped;
    st_counters_t c;
} st_tier_t;

typedef struct st_shard {
    pthread_rwlock_t lock;
    kvt_prefix_index_t *idx; /* key -> id (the bucket's slot); the tier field is unused */
} st_shard_t;

struct kvt_store {
    st_tier_t t[KVT_MAX_TIERS];
    uint32_t n;
    const kvt_policy_ops_t *ops;
    uint32_t block_tokens;
    uint64_t block_bytes;
    uint32_t queue_depth, access_buffer, move_buffers;

    /* per block id: its key (written under the shard's write lock while no one holds the id),
     * the tiers whose policy holds it (where, bit k under tier k's lock), the tiers holding its
     * data (valid: set by the writer, cleared under tier k's move lock), writes in flight
     * (pend), and pins (threads using the id: it is not freed while pinned) */
    uint32_t nids;
    kvt_key_t *keys;
    _Atomic uint8_t *where;
    _Atomic uint8_t *valid;
    _Atomic uint8_t *pend;     /* bit k: a write of the block into tier k is in flight (set
                                  under tier k's move lock, cleared by the writer) */
    _Atomic uint32_t *pins;
    _Atomic uint64_t *last_us; /* last access (a demotion tells the policy) */
    _Atomic uint8_t *types;    /* kvt_block_type_t the engine gave at the last access */
    pthread_mutex_t free_lock;
    uint32_t *free_ids; /* stack of unused ids */
    uint32_t nfree;

    st_shard_t shard[KVT_STORE_SHARDS];
    struct timespec t0;
    _Atomic uint64_t next_req;
    _Atomic uint64_t gets, get_misses, puts, prefetches, busy;
};

/* The shard of a key: the rule kvt_prefix_index_match_sharded() assumes. */
static inline st_shard_t *st_shard(kvt_store_t *s, kvt_key_t key)
{
    return &s->shard[(key.lo ^ key.hi) & (KVT_STORE_SHARDS - 1)];
}

/* Microseconds since create (the policies' clock). */
uint64_t kvt_store_now_us(const kvt_store_t *s);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t kvt_store_mono_ns(void);

/* A write a tier refused for space (NO_SPACE, BUSY) although the placement decision reserved
 * the room: the refusal is the tier's own state, brief (nvme: the segment compaction would free
 * is pinned by another channel's append in flight) or lasting (a memory tier with no slab left
 * for the size class, docs/store.md). Placement's synchronous writes and the channels' writes in
 * flight both try it again, for up to KVT_STORE_WRITE_PATIENCE_NS after the first refusal, and
 * between tries wait kvt_store_refused_wait(waited so far): a yield for the first 100 us, then
 * a sleep of a sixteenth of the time waited (50 us to 1 ms), so that a lasting refusal does not
 * spin a core (test_refused_write: 0.08 s of CPU in the 5 s; with a spin, 3.95). */
#define KVT_STORE_WRITE_PATIENCE_NS 5000000000ull
void kvt_store_refused_wait(uint64_t waited_ns);

/* The pinned id of key, interning it (KVT_ERR_NO_SPACE when every id is in use). */
kvt_status_t kvt_store_intern(kvt_store_t *s, kvt_key_t key, uint32_t *id_p);
/* The pinned id of key if the index has it. */
bool kvt_store_find(kvt_store_t *s, kvt_key_t key, uint32_t *id_p);
/* Drop a pin; the id is freed when no pin, no policy and no tier holds it any more. */
void kvt_store_release(kvt_store_t *s, uint32_t id);

/* The fastest tier with valid data for id at or after tier `from`, or -1. */
static inline int st_first_valid(kvt_store_t *s, uint32_t id, uint32_t from)
{
    unsigned v = atomic_load(&s->valid[id]) >> from;
    return v ? (int)(from + (unsigned)__builtin_ctz(v)) : -1;
}

/* The fastest tier at or after `from` holding id's data or having it on its way (a write in
 * flight), or -1. */
static inline int st_first_held(kvt_store_t *s, uint32_t id, uint32_t from)
{
    unsigned v = (unsigned)(atomic_load(&s->valid[id]) | atomic_load(&s->pend[id])) >> from;
    return v ? (int)(from + (unsigned)__builtin_ctz(v)) : -1;
}

/* --- placement.c --------------------------------------------------------------------------- */

/* Data for a block moving into a tier: its header and payload (NULL: nothing to write). */
typedef struct st_data {
    kvt_block_meta_t meta;
    const void *buf;
} st_data_t;

/* Scratch a channel lends placement: one tier channel per tier, and hooks into the channel,
 * which may have writes of its own in flight on those tier channels. */
typedef struct st_io {
    kvt_tier_channel_t *tc[KVT_MAX_TIERS];
    /* run one I/O on tc[k] to completion, handing the channel any other completion */
    kvt_status_t (*run)(struct st_io *io, uint32_t k, kvt_tier_io_t *x);
    /* reap the channel's writes in flight (every wait calls it: others may wait for them) */
    void (*progress)(struct st_io *io);
    /* start the write of the accessed block of a PUT into tier k (pend already set); false:
     * write it synchronously instead */
    bool (*write_async)(struct st_io *io, uint32_t k, uint32_t id, const st_data_t *d);
    /* a free move buffer (block_bytes) for a victim's bytes, waiting for one of the channel's
     * demotions in flight to land while all are taken; NULL only when out of memory */
    void *(*move_buf)(struct st_io *io);
    /* give back a move buffer that no write took */
    void (*move_buf_put)(struct st_io *io, void *buf);
    /* start the demotion write of id into tier k (pend already set) from d->buf, a move
     * buffer, which the write owns until it lands: then valid is set, pend cleared, the
     * demotion counted and the buffer freed */
    void (*demote_async)(struct st_io *io, uint32_t k, uint32_t id, const st_data_t *d);
    uint32_t nwrites; /* the channel's writes in flight (PUTs' own blocks and demotions) */
} st_io_t;

/*
 * An access of block id (pinned by the caller), as the replay engine applies it: the lower
 * tiers holding it are touched, the top tier hits or admits it, and victims cascade down. The
 * moves the decisions imply run here, on the caller's thread, through io (no GET of io in
 * flight): victims are read synchronously into move buffers, the demotions' writes go in
 * flight (io->demote_async) and land later. `data` is the block's content when the caller has
 * it (a PUT, a promotion; is_put for the counters): written into the top tier when the policy
 * holds the block there and the tier does not; without it (buf NULL) a block the top tier does
 * not hold is not admitted. Returns the tier the data was written to (or is being written to by
 * another thread), or -1.
 */
int kvt_store_access(kvt_store_t *s, st_io_t *io, uint32_t id, const kvt_access_t *a,
                     const st_data_t *data, bool is_put);

/* Wait until no write of id is in flight (pend clear), reaping the channel's own writes
 * meanwhile: a block whose only copy is on its way into a tier is read once it has landed. */
void kvt_store_wait_landed(kvt_store_t *s, st_io_t *io, uint32_t id);

/* Hits of blocks held by the top tier, applied in one pass per tier (ids stay pinned). */
void kvt_store_apply_hits(kvt_store_t *s, const uint32_t *ids, const kvt_access_t *acc, size_t n);

/* Read block id from tier k into buf (capacity cap), synchronously (no other I/O of io in
 * flight): the tier's status; a failure goes through kvt_store_read_failed. */
kvt_status_t kvt_store_read(kvt_store_t *s, st_io_t *io, uint32_t k, uint32_t id, void *buf,
                            size_t cap, kvt_block_meta_t *meta_p, size_t *len_p);

/* A read of block id from tier k failed with st (not DOES_NOT_FIT). Under the tier's move lock
 * (nothing moves there meanwhile): a CORRUPT or I/O error drops the tier's copy (counted,
 * logged); a NOT_FOUND is a race with a move (nothing to do) unless the store still believes
 * the tier holds it and the tier says it does not (then the copy is forgotten, counted). */
void kvt_store_read_failed(kvt_store_t *s, st_io_t *io, uint32_t k, uint32_t id,
                           kvt_status_t st);

#endif
