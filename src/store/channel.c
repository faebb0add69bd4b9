/*
 * Store channels: one per engine thread, each with its own tier channels, request queue, access
 * log and buffers, so threads share only the index shards, the atomics and the tier policy
 * locks.
 *
 * Submit only queues (a ring of queue_depth requests; a full ring is KVT_ERR_BUSY). Poll runs
 * queued requests on the calling thread, in order, with synchronous tier I/O (kvt_tier_run on
 * the channel's tier channels), and returns them. Parallelism comes from several channels; a
 * channel does not overlap its own I/Os (a known limit: a GET batch from NVMe is served one
 * block after another).
 *
 * The GET fast path takes no policy lock. A GET pins the block's id (a shard read lock), reads
 * the fastest tier holding it straight into the caller's buffer, completes, and appends the
 * access to the channel's log (the read buffers of Caffeine). A GET served below the top is a
 * promotion: its bytes are copied into one of a few promotion buffers so the caller may reuse
 * its buffer at once; when those are taken, the flush reads the block again from the tier that
 * keeps its copy. The log is applied to the policies when it fills (access_buffer entries),
 * before any PUT or PREFETCH (so a channel's accesses reach the policies in the order it made
 * them, as in a replay), and on kvt_store_channel_flush/close: runs of hits in one lock hold per
 * tier, other entries as full accesses with their moves. Until then the block is served from
 * where it is, so a promotion delays nothing but itself.
 *
 * A PUT interns the key, applies the log, then applies its own access at once with the
 * caller's bytes (admission, demotion cascade). A PREFETCH reads the block from the fastest tier
 * holding it and applies the promotion at once.
 */
#include "store/store_internal.h"

#include "common/logging.h"

#include <stdlib.h>
#include <string.h>

#define PROMO_SLOTS 4u

typedef struct log_entry {
    uint32_t id;      /* pinned until applied */
    int8_t slot;      /* the promotion buffer holding the block's bytes, or -1 */
    uint8_t src;      /* the tier that served it (0: a hit on top) */
    kvt_block_meta_t meta;
    kvt_access_t a;
} log_entry_t;

struct kvt_store_channel {
    kvt_store_t *s;
    st_io_t io;
    kvt_store_req_t **q; /* ring of queued requests */
    uint64_t *q_req;     /* their request numbers (one per submit call) */
    uint32_t q_head, q_len;
    log_entry_t *log;
    uint32_t nlog;
    uint32_t *hit_ids;
    kvt_access_t *hit_acc;
    void *slot[PROMO_SLOTS];
    uint32_t slots_used;
    void *reread; /* a promotion's bytes read again at flush, a prefetch's */
};

kvt_status_t kvt_store_channel_open(kvt_store_t *s, kvt_store_channel_t **chan_p)
{
    if (s == NULL || chan_p == NULL) {
        return KVT_ERR_INVALID;
    }
    kvt_store_channel_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    c->s = s;
    kvt_status_t st = KVT_ERR_NO_MEMORY;
    c->q = calloc(s->queue_depth, sizeof(*c->q));
    c->q_req = calloc(s->queue_depth, sizeof(*c->q_req));
    c->log = calloc(s->access_buffer, sizeof(*c->log));
    c->hit_ids = calloc(s->access_buffer, sizeof(*c->hit_ids));
    c->hit_acc = calloc(s->access_buffer, sizeof(*c->hit_acc));
    c->io.bounce[0] = malloc(s->block_bytes);
    c->io.bounce[1] = malloc(s->block_bytes);
    c->reread = malloc(s->block_bytes);
    if (c->reread == NULL || c->q == NULL || c->q_req == NULL || c->log == NULL || c->hit_ids == NULL ||
        c->hit_acc == NULL || c->io.bounce[0] == NULL || c->io.bounce[1] == NULL) {
        goto fail;
    }
    for (uint32_t k = 0; k < s->n; k++) {
        if ((st = kvt_tier_channel_open(s->t[k].tier, &c->io.tc[k])) != KVT_OK) {
            kvt_log_error("store: tier %u (%s): cannot open a channel: %s", k, s->t[k].name,
                          kvt_status_str(st));
            goto fail;
        }
    }
    *chan_p = c;
    return KVT_OK;
fail:
    for (uint32_t k = 0; k < s->n; k++) {
        kvt_tier_channel_close(c->io.tc[k]);
    }
    free(c->q);
    free(c->q_req);
    free(c->log);
    free(c->hit_ids);
    free(c->hit_acc);
    free(c->io.bounce[0]);
    free(c->io.bounce[1]);
    free(c->reread);
    free(c);
    return st;
}

/* Apply hits log[from..to) in one pass per tier, then unpin them. */
static void apply_hit_run(kvt_store_channel_t *c, uint32_t from, uint32_t to)
{
    uint32_t n = 0;
    for (uint32_t i = from; i < to; i++) {
        c->hit_ids[n] = c->log[i].id;
        c->hit_acc[n++] = c->log[i].a;
    }
    if (n == 0) {
        return;
    }
    kvt_store_apply_hits(c->s, c->hit_ids, c->hit_acc, n);
    for (uint32_t i = 0; i < n; i++) {
        kvt_store_release(c->s, c->hit_ids[i]);
    }
}

/* The fastest tier holding id whose read succeeds; -1 when none does. */
static int read_fastest(kvt_store_t *s, st_io_t *io, uint32_t id, void *buf, size_t cap,
                        kvt_block_meta_t *meta_p, size_t *len_p, kvt_status_t *st_p)
{
    for (int k = st_first_valid(s, id, 0); k >= 0; k = st_first_valid(s, id, (uint32_t)k + 1)) {
        kvt_status_t st = kvt_store_read(s, io, (uint32_t)k, id, buf, cap, meta_p, len_p);
        if (st == KVT_OK) {
            return k;
        }
        if (st == KVT_ERR_DOES_NOT_FIT) {
            *st_p = st;
            return -1;
        }
    }
    *st_p = KVT_ERR_NOT_FOUND;
    return -1;
}

/*
 * Apply the log in order. Entries whose block the top tier's policy still holds are hits,
 * applied in runs (one lock hold per tier); any other entry -- a promotion, or a hit whose block
 * an earlier entry's promotion pushed down meanwhile -- is a full access, as the replay engine
 * would make it at that point of the sequence, with the bytes from the entry's promotion buffer
 * or read again from the fastest tier holding them (lower tiers keep their copies).
 */
void kvt_store_channel_flush(kvt_store_channel_t *c)
{
    if (c == NULL) {
        return;
    }
    kvt_store_t *s = c->s;
    uint32_t run = 0;
    for (uint32_t i = 0; i < c->nlog; i++) {
        log_entry_t *e = &c->log[i];
        if (e->slot < 0 && (atomic_load(&s->where[e->id]) & 1u)) {
            continue; /* part of the current run of hits */
        }
        apply_hit_run(c, run, i);
        run = i + 1;
        st_data_t d = {.meta = e->meta, .buf = NULL};
        int src = e->src;
        if (e->slot >= 0) {
            d.buf = c->slot[e->slot];
        } else {
            size_t len;
            kvt_status_t st;
            src = read_fastest(s, &c->io, e->id, c->reread, s->block_bytes, &d.meta, &len, &st);
            d.buf = src > 0 ? c->reread : NULL; /* src 0: held on top again (another thread) */
        }
        if (kvt_store_access(s, &c->io, e->id, &e->a, &d, false) == 0 && src > 0) {
            atomic_fetch_add_explicit(&s->t[src].c.promotions, 1, memory_order_relaxed);
        }
        kvt_store_release(s, e->id);
    }
    apply_hit_run(c, run, c->nlog);
    c->nlog = 0;
    c->slots_used = 0;
}

/* Room for one more log entry; *slot_p: a promotion buffer for it, or -1 when all are taken
 * (the flush then reads the block again). */
static void log_room(kvt_store_channel_t *c, bool promote, int *slot_p)
{
    if (c->nlog == c->s->access_buffer) {
        kvt_store_channel_flush(c);
    }
    *slot_p = -1;
    if (promote && c->slots_used < PROMO_SLOTS) {
        if (c->slot[c->slots_used] == NULL &&
            (c->slot[c->slots_used] = malloc(c->s->block_bytes)) == NULL) {
            return;
        }
        *slot_p = (int)c->slots_used++;
    }
}

static kvt_access_t access_of(const kvt_store_t *s, const kvt_store_req_t *r,
                              const kvt_block_meta_t *meta, uint64_t req)
{
    return (kvt_access_t){.pos = (uint32_t)(meta->first_token / s->block_tokens),
                          .block_type = r->block_type,
                          .session = r->session,
                          .req = req,
                          .t_us = kvt_store_now_us(s),
                          .next_use = KVT_NEVER};
}

static void run_get(kvt_store_channel_t *c, kvt_store_req_t *r, uint64_t req)
{
    kvt_store_t *s = c->s;
    uint32_t id;
    kvt_block_meta_t meta;
    size_t len;
    kvt_status_t st = KVT_ERR_NOT_FOUND;
    int k = -1;
    atomic_fetch_add_explicit(&s->gets, 1, memory_order_relaxed);
    if (kvt_store_find(s, r->meta.key, &id)) {
        k = read_fastest(s, &c->io, id, r->buf, r->len, &meta, &len, &st);
        if (k < 0) {
            kvt_store_release(s, id);
        }
    }
    if (k < 0) {
        if (st == KVT_ERR_NOT_FOUND) {
            atomic_fetch_add_explicit(&s->get_misses, 1, memory_order_relaxed);
        }
        r->status = st;
        return;
    }
    atomic_fetch_add_explicit(&s->t[k].c.hits, 1, memory_order_relaxed);
    r->meta = meta;
    r->len = len;
    r->tier = k;
    r->status = KVT_OK;
    int slot;
    log_room(c, k > 0 && len <= s->block_bytes, &slot);
    log_entry_t *e = &c->log[c->nlog++];
    e->id = id;
    e->a = access_of(s, r, &meta, req);
    e->slot = (int8_t)slot;
    e->src = (uint8_t)k;
    e->meta = meta;
    if (slot >= 0) {
        memcpy(c->slot[slot], r->buf, len);
    }
}

static void run_put(kvt_store_channel_t *c, kvt_store_req_t *r, uint64_t req)
{
    kvt_store_t *s = c->s;
    uint32_t id;
    atomic_fetch_add_explicit(&s->puts, 1, memory_order_relaxed);
    kvt_block_meta_t meta = r->meta;
    meta.payload_bytes = r->len;
    meta.payload_checksum = kvt_block_checksum(r->buf, r->len);
    kvt_status_t st = kvt_store_intern(s, meta.key, &id);
    if (st != KVT_OK) {
        r->status = st;
        return;
    }
    kvt_store_channel_flush(c);
    kvt_access_t a = access_of(s, r, &meta, req);
    st_data_t d = {.meta = meta, .buf = r->buf};
    int w = kvt_store_access(s, &c->io, id, &a, &d, true);
    r->tier = w >= 0 ? w : st_first_valid(s, id, 0);
    r->meta = meta;
    r->status = KVT_OK;
    kvt_store_release(s, id);
}

static void run_prefetch(kvt_store_channel_t *c, kvt_store_req_t *r, uint64_t req)
{
    kvt_store_t *s = c->s;
    uint32_t id;
    atomic_fetch_add_explicit(&s->prefetches, 1, memory_order_relaxed);
    if (!kvt_store_find(s, r->meta.key, &id)) {
        r->status = KVT_ERR_NOT_FOUND;
        return;
    }
    kvt_store_channel_flush(c);
    kvt_block_meta_t meta;
    size_t len;
    kvt_status_t st = KVT_ERR_NOT_FOUND;
    int k = st_first_valid(s, id, 0);
    if (k != 0) {
        k = read_fastest(s, &c->io, id, c->reread, s->block_bytes, &meta, &len, &st);
    }
    if (k == 0) {
        st = KVT_OK;
    } else if (k > 0) {
        kvt_access_t a = access_of(s, r, &meta, req);
        st_data_t d = {.meta = meta, .buf = c->reread};
        if (kvt_store_access(s, &c->io, id, &a, &d, false) == 0) {
            atomic_fetch_add_explicit(&s->t[k].c.promotions, 1, memory_order_relaxed);
        }
        st = KVT_OK;
    }
    r->tier = st_first_valid(s, id, 0);
    r->status = st;
    kvt_store_release(s, id);
}

kvt_status_t kvt_store_submit(kvt_store_channel_t *c, kvt_store_req_t *reqs, size_t n,
                              size_t *accepted_p)
{
    kvt_store_t *s = c->s;
    size_t i = 0;
    kvt_status_t st = KVT_OK;
    uint64_t req = atomic_fetch_add_explicit(&s->next_req, 1, memory_order_relaxed);
    for (; i < n; i++) {
        kvt_store_req_t *r = &reqs[i];
        bool ok = r->op == KVT_STORE_PREFETCH ||
                  (r->op == KVT_STORE_GET && r->buf != NULL) ||
                  (r->op == KVT_STORE_PUT && r->buf != NULL && r->len > 0 &&
                   r->len <= s->block_bytes);
        if (!ok) {
            st = KVT_ERR_INVALID;
            break;
        }
        if (c->q_len == s->queue_depth) {
            atomic_fetch_add_explicit(&s->busy, 1, memory_order_relaxed);
            st = KVT_ERR_BUSY;
            break;
        }
        r->status = KVT_INPROGRESS;
        r->tier = -1;
        uint32_t at = (c->q_head + c->q_len++) % s->queue_depth;
        c->q[at] = r;
        c->q_req[at] = req;
    }
    if (accepted_p != NULL) {
        *accepted_p = i;
    }
    return st;
}

size_t kvt_store_poll(kvt_store_channel_t *c, size_t min_complete, kvt_store_req_t **done,
                      size_t max)
{
    (void)min_complete; /* requests run here, so every one asked for is complete on return */
    size_t nd = 0;
    while (nd < max && c->q_len > 0) {
        kvt_store_req_t *r = c->q[c->q_head];
        uint64_t req = c->q_req[c->q_head];
        c->q_head = (c->q_head + 1) % c->s->queue_depth;
        c->q_len--;
        switch (r->op) {
        case KVT_STORE_GET:
            run_get(c, r, req);
            break;
        case KVT_STORE_PUT:
            run_put(c, r, req);
            break;
        default:
            run_prefetch(c, r, req);
            break;
        }
        done[nd++] = r;
    }
    return nd;
}

kvt_status_t kvt_store_run(kvt_store_channel_t *c, kvt_store_req_t *req)
{
    kvt_status_t st = kvt_store_submit(c, req, 1, NULL);
    if (st != KVT_OK) {
        req->status = st;
        return st;
    }
    kvt_store_req_t *done[1];
    while (req->status == KVT_INPROGRESS) {
        (void)kvt_store_poll(c, 1, done, 1);
    }
    return req->status;
}

void kvt_store_channel_close(kvt_store_channel_t *c)
{
    if (c == NULL) {
        return;
    }
    kvt_store_req_t *done[16];
    while (c->q_len > 0) {
        (void)kvt_store_poll(c, 0, done, 16);
    }
    kvt_store_channel_flush(c);
    for (uint32_t k = 0; k < c->s->n; k++) {
        kvt_tier_channel_close(c->io.tc[k]);
    }
    for (uint32_t i = 0; i < PROMO_SLOTS; i++) {
        free(c->slot[i]);
    }
    free(c->q);
    free(c->q_req);
    free(c->log);
    free(c->hit_ids);
    free(c->hit_acc);
    free(c->io.bounce[0]);
    free(c->io.bounce[1]);
    free(c->reread);
    free(c);
}
