/*
 * Store channels: one per engine thread, each with its own tier channels, request queue, access
 * log and buffers, so threads share only the index shards, the atomics and the tier locks.
 *
 * Submit only queues (at most queue_depth requests accepted and not yet returned; beyond that
 * KVT_ERR_BUSY). Poll starts queued requests in order on the calling thread and returns them as
 * they complete. A batch's I/Os overlap: a GET is one kvt_tier_submit on the channel's tier
 * channel of the fastest tier holding the block, up to that tier channel's depth (KVT_ERR_BUSY:
 * reap that tier channel's completions, then go on), so a batch restoring a 100-block prefix
 * from NVMe keeps the device's queue full instead of reading one block after another. A GET that
 * fails on one tier (a race with a move, a corrupt record) is resubmitted to the next tier
 * holding the block. GETs may stay in flight between polls. A PUT first completes the GETs in
 * flight (so its decisions see the channel's earlier accesses, as in a replay), runs its
 * admission and demotion cascade (placement.c; victims read synchronously), and hands the write
 * of its own block back here (chan_write_async): it goes in flight and its completion completes
 * the PUT, while the next PUT runs. Demotions' writes go in flight too (chan_demote_async), from
 * move_buffers buffers per channel (slots gio[queue_depth ..], each tied to its buffer; taking
 * one while all are in flight waits for one to land: back-pressure, bounded memory), so a batch
 * of PUTs into a full top tier keeps many lower-tier writes in flight and one NVMe group commit
 * covers them. GETs and writes are never in flight together, and
 * a poll drains the channel's writes before it returns: another thread evicting one of those
 * blocks waits for its write, under a move lock, so the writer must keep reaping -- which every
 * wait of placement does through the hooks (chan_progress; chan_run for its synchronous I/Os on
 * tier channels that carry these writes).
 *
 * The GET fast path takes no policy lock. A GET pins the block's id (a shard read lock), reserves
 * the next entry of the channel's access log (so accesses reach the policies in request order,
 * whatever order the tiers complete them in), reads straight into the caller's buffer and, on
 * completion, fills the entry (the read buffers of Caffeine). A GET served below the top is a
 * promotion: its bytes are copied into one of a few promotion buffers so the caller may reuse
 * its buffer at once; when those are taken, the flush reads the block again from the tier that
 * keeps its copy. The log is applied to the policies when it is full (access_buffer entries),
 * before any PUT or PREFETCH, and on kvt_store_channel_flush/close, always with no GET in
 * flight: runs of hits in one lock hold per tier, other entries as full accesses with their
 * moves. Until then the block is served from where it is, so a promotion delays nothing but
 * itself.
 */
#include "store/store_internal.h"

#include "common/logging.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { LOG_WAIT, LOG_HIT, LOG_DEAD }; /* a GET in flight, served, missed */

typedef struct log_entry {
    uint32_t id;      /* pinned until applied (not for LOG_DEAD) */
    uint8_t state;
    int32_t slot;     /* the promotion buffer holding the block's bytes, or -1 */
    uint8_t src;      /* the tier that served it (0: a hit on top) */
    kvt_block_meta_t meta;
    kvt_access_t a;
} log_entry_t;

/* A GET, a PUT's write of its own block, or a demotion's write (r NULL), in flight on a tier
 * channel. */
typedef struct get_io {
    kvt_tier_io_t io;
    kvt_store_req_t *r;
    void *buf;           /* write: the payload (the caller's, or a move buffer) */
    uint64_t req;
    uint32_t id, log, tier;
    size_t cap;          /* GET: the caller's buffer; write: the payload bytes */
    bool write;
    kvt_block_meta_t meta; /* write: the header */
    uint64_t refused_ns; /* write: when the tier first refused it for space (0: never) */
} get_io_t;

struct kvt_store_channel {
    kvt_store_t *s;
    st_io_t io;
    uint32_t nreq;       /* accepted and not yet returned */
    kvt_store_req_t **q; /* ring of requests not started yet */
    uint64_t *q_req;     /* their request numbers (one per submit call) */
    uint32_t q_head, q_len;
    kvt_store_req_t **dq; /* ring of completed requests not returned yet */
    uint32_t d_head, d_len;
    get_io_t *gio;       /* queue_depth GET/PUT slots, then move_buffers demotion slots */
    uint32_t *gfree, ngfree;
    uint32_t *retry, nretry; /* GET slots to submit again (next tier) */
    uint32_t inflight[KVT_MAX_TIERS], ninflight;
    uint32_t ngets;          /* GETs started and not completed */
    kvt_store_req_t *cur_put; /* the PUT whose access is running (its write may go async) */
    bool put_started;        /* ... and did */
    kvt_tier_io_t **reaped;
    log_entry_t *log;
    uint32_t nlog;
    uint32_t *hit_ids;
    kvt_access_t *hit_acc;
    void **slot;         /* access_buffer promotion buffers, allocated on first use */
    uint32_t slots_used;
    void *reread; /* a promotion's bytes read again at flush, a prefetch's */
    void **mbuf;        /* move buffer i (allocated on first use) belongs to slot gio[qd + i] */
    uint32_t *mfree, nmfree; /* free move buffers */
};

static void chan_free(kvt_store_channel_t *c)
{
    for (uint32_t k = 0; k < c->s->n; k++) {
        kvt_tier_channel_close(c->io.tc[k]);
    }
    for (uint32_t i = 0; c->slot != NULL && i <= c->s->access_buffer; i++) {
        free(c->slot[i]);
    }
    free(c->slot);
    free(c->q);
    free(c->q_req);
    free(c->dq);
    free(c->gio);
    free(c->gfree);
    free(c->retry);
    free(c->reaped);
    free(c->log);
    free(c->hit_ids);
    free(c->hit_acc);
    free(c->reread);
    for (uint32_t i = 0; c->mbuf != NULL && i < c->s->move_buffers; i++) {
        free(c->mbuf[i]);
    }
    free(c->mbuf);
    free(c->mfree);
    free(c);
}

static kvt_status_t chan_run(st_io_t *io, uint32_t k, kvt_tier_io_t *x);
static void chan_progress(st_io_t *io);
static bool chan_write_async(st_io_t *io, uint32_t k, uint32_t id, const st_data_t *d);
static void *chan_move_buf(st_io_t *io);
static void chan_move_buf_put(st_io_t *io, void *buf);
static void chan_demote_async(st_io_t *io, uint32_t k, uint32_t id, const st_data_t *d);

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
    uint32_t qd = s->queue_depth, nm = s->move_buffers;
    c->q = calloc(qd, sizeof(*c->q));
    c->q_req = calloc(qd, sizeof(*c->q_req));
    c->dq = calloc(qd, sizeof(*c->dq));
    c->gio = calloc(qd + nm, sizeof(*c->gio));
    c->gfree = calloc(qd, sizeof(*c->gfree));
    c->retry = calloc(qd + nm, sizeof(*c->retry));
    c->reaped = calloc(qd, sizeof(*c->reaped));
    c->mbuf = calloc(nm, sizeof(*c->mbuf));
    c->mfree = calloc(nm, sizeof(*c->mfree));
    c->log = calloc(s->access_buffer + 1, sizeof(*c->log));
    c->hit_ids = calloc(s->access_buffer + 1, sizeof(*c->hit_ids));
    c->hit_acc = calloc(s->access_buffer + 1, sizeof(*c->hit_acc));
    c->slot = calloc(s->access_buffer + 1, sizeof(*c->slot));
    c->reread = malloc(s->block_bytes);
    if (c->q == NULL || c->q_req == NULL || c->dq == NULL || c->gio == NULL || c->gfree == NULL ||
        c->retry == NULL || c->reaped == NULL || c->log == NULL || c->hit_ids == NULL ||
        c->hit_acc == NULL || c->slot == NULL || c->reread == NULL || c->mbuf == NULL ||
        c->mfree == NULL) {
        chan_free(c);
        return KVT_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < qd; i++) {
        c->gfree[c->ngfree++] = qd - 1 - i;
    }
    for (uint32_t i = 0; i < nm; i++) {
        c->mfree[c->nmfree++] = nm - 1 - i;
    }
    c->io.run = chan_run;
    c->io.progress = chan_progress;
    c->io.write_async = chan_write_async;
    c->io.move_buf = chan_move_buf;
    c->io.move_buf_put = chan_move_buf_put;
    c->io.demote_async = chan_demote_async;
    for (uint32_t k = 0; k < s->n; k++) {
        kvt_status_t st = kvt_tier_channel_open(s->t[k].tier, &c->io.tc[k]);
        if (st != KVT_OK) {
            kvt_log_error("store: tier %u (%s): cannot open a channel: %s", k, s->t[k].name,
                          kvt_status_str(st));
            chan_free(c);
            return st;
        }
    }
    *chan_p = c;
    return KVT_OK;
}

/* --- completing requests -------------------------------------------------------------------- */

static void complete(kvt_store_channel_t *c, kvt_store_req_t *r)
{
    c->dq[(c->d_head + c->d_len++) % c->s->queue_depth] = r;
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

/* A promotion buffer for the log's next promotion (-1 when out of memory: the flush then reads
 * the block again). */
static int promo_slot(kvt_store_channel_t *c)
{
    if (c->slots_used > c->s->access_buffer ||
        (c->slot[c->slots_used] == NULL &&
         (c->slot[c->slots_used] = malloc(c->s->block_bytes)) == NULL)) {
        return -1;
    }
    return (int)c->slots_used++;
}

/* A GET that served nothing: its log entry is dead, its pin dropped. */
static void get_miss(kvt_store_channel_t *c, get_io_t *g, kvt_status_t st)
{
    kvt_store_t *s = c->s;
    c->ngets--;
    c->log[g->log].state = LOG_DEAD;
    kvt_store_release(s, g->id);
    if (st == KVT_ERR_NOT_FOUND) {
        atomic_fetch_add_explicit(&s->get_misses, 1, memory_order_relaxed);
    }
    g->r->status = st;
    complete(c, g->r);
    c->gfree[c->ngfree++] = (uint32_t)(g - c->gio);
}

/* A tier handed back the write of a PUT's block (its id pinned, pend set by placement) or of a
 * demotion (r NULL; the victim's id pinned until it lands, its bytes in a move buffer). As for
 * placement's synchronous writes, a refusal for space is the tier's own state (the decision
 * reserved the room): the write is submitted again, for up to KVT_STORE_WRITE_PATIENCE_NS
 * (backoff() waits between tries). */
static void put_done(kvt_store_channel_t *c, get_io_t *g)
{
    kvt_store_t *s = c->s;
    uint32_t k = g->tier;
    st_tier_t *t = &s->t[k];
    kvt_status_t st = g->io.status;
    c->inflight[k]--;
    c->ninflight--;
    c->io.nwrites--;
    if (st == KVT_ERR_NO_SPACE || st == KVT_ERR_BUSY) {
        uint64_t now = kvt_store_mono_ns();
        g->refused_ns = g->refused_ns ? g->refused_ns : now;
        if (now - g->refused_ns < KVT_STORE_WRITE_PATIENCE_NS) {
            c->retry[c->nretry++] = (uint32_t)(g - c->gio);
            c->io.nwrites++; /* still this channel's, still awaited */
            return;
        }
    }
    if (st == KVT_OK) {
        atomic_fetch_add_explicit(&t->c.bytes_written, g->cap, memory_order_relaxed);
        atomic_fetch_or(&s->valid[g->id], (uint8_t)(1u << k));
        atomic_fetch_add_explicit(g->r != NULL ? &t->c.puts : &t->c.demotions, 1,
                                  memory_order_relaxed);
    }
    atomic_fetch_and(&s->pend[g->id], (uint8_t) ~(1u << k)); /* after valid: see placement */
    if (st != KVT_OK) {
        char hex[33];
        kvt_key_format(s->keys[g->id], hex);
        atomic_fetch_add(&t->c.errors, 1);
        kvt_log_warn("store: tier %u (%s): writing block %s failed (%s); not kept there", k,
                     t->name, hex, kvt_status_str(st));
    }
    if (g->r == NULL) { /* a demotion: its move buffer is free again */
        kvt_store_release(s, g->id);
        c->mfree[c->nmfree++] = (uint32_t)(g - c->gio) - s->queue_depth;
        return;
    }
    g->r->tier = st == KVT_OK ? (int)k : st_first_valid(s, g->id, 0);
    g->r->status = KVT_OK;
    kvt_store_release(s, g->id);
    complete(c, g->r);
    c->gfree[c->ngfree++] = (uint32_t)(g - c->gio);
}

/* A tier handed back GET g. */
static void get_done(kvt_store_channel_t *c, get_io_t *g)
{
    if (g->write) {
        put_done(c, g);
        return;
    }
    kvt_store_t *s = c->s;
    kvt_store_req_t *r = g->r;
    kvt_status_t st = g->io.status;
    uint32_t k = g->tier;
    c->inflight[k]--;
    c->ninflight--;
    if (st != KVT_OK) {
        if (st == KVT_ERR_DOES_NOT_FIT) {
            get_miss(c, g, st);
            return;
        }
        kvt_store_read_failed(s, &c->io, k, g->id, st);
        int next = st_first_valid(s, g->id, k + 1);
        if (next < 0) {
            get_miss(c, g, KVT_ERR_NOT_FOUND);
            return;
        }
        g->tier = (uint32_t)next;
        c->retry[c->nretry++] = (uint32_t)(g - c->gio);
        return;
    }
    size_t len = g->io.len;
    atomic_fetch_add_explicit(&s->t[k].c.hits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->t[k].c.bytes_read, len, memory_order_relaxed);
    r->meta = g->io.meta;
    r->len = len;
    r->tier = (int)k;
    r->status = KVT_OK;
    c->ngets--;
    log_entry_t *e = &c->log[g->log];
    e->state = LOG_HIT;
    e->a = access_of(s, r, &r->meta, g->req);
    e->src = (uint8_t)k;
    e->meta = r->meta;
    if (k == 0 || len > s->block_bytes) {
        e->slot = -1; /* on top after all (promoted meanwhile), or a record larger than a
                         block (left by another configuration): nothing to keep */
    } else if (e->slot < 0) {
        e->slot = promo_slot(c); /* on top when started, pushed down meanwhile */
    }
    if (e->slot >= 0) {
        memcpy(c->slot[e->slot], r->buf, len);
    }
    complete(c, r);
    c->gfree[c->ngfree++] = (uint32_t)(g - c->gio);
}

/* Hand back what tier channel k has completed (waiting for min of them). */
static void reap(kvt_store_channel_t *c, uint32_t k, size_t min)
{
    size_t n = kvt_tier_poll(c->io.tc[k], min, c->reaped, c->s->queue_depth);
    for (size_t i = 0; i < n; i++) {
        get_done(c, c->reaped[i]->user);
    }
}

/* Submit GET slot gi to its tier, reaping that tier channel while it is full. */
static void get_submit(kvt_store_channel_t *c, uint32_t gi)
{
    get_io_t *g = &c->gio[gi];
    for (;;) {
        if (g->write) {
            g->io = (kvt_tier_io_t){.op = KVT_TIER_PUT, .meta = g->meta, .buf = g->buf,
                                    .len = g->cap, .user = g};
        } else {
            g->io = (kvt_tier_io_t){.op = KVT_TIER_GET, .buf = g->r->buf, .len = g->cap,
                                    .user = g};
        }
        g->io.meta.key = c->s->keys[g->id];
        if (kvt_tier_submit(c->io.tc[g->tier], &g->io) == KVT_OK) {
            c->inflight[g->tier]++;
            c->ninflight++;
            return;
        }
        /* BUSY: the tier channel is full of this channel's I/Os; make room */
        reap(c, g->tier, c->inflight[g->tier] > 0 ? 1 : 0);
    }
}

static void submit_retries(kvt_store_channel_t *c)
{
    while (c->nretry > 0) {
        get_submit(c, c->retry[--c->nretry]);
    }
}

/* Nothing is in flight and only writes refused for space are left to submit again: wait as
 * placement's synchronous writes do (kvt_store_refused_wait, after the oldest refusal). */
static void backoff(const kvt_store_channel_t *c)
{
    uint64_t first = UINT64_MAX;
    for (uint32_t i = 0; i < c->nretry; i++) {
        const get_io_t *g = &c->gio[c->retry[i]];
        if (!g->write || g->refused_ns == 0) {
            return; /* a GET going on to the next tier: no waiting */
        }
        first = g->refused_ns < first ? g->refused_ns : first;
    }
    kvt_store_refused_wait(kvt_store_mono_ns() - first);
}

/* Wait for at least one GET in flight to complete (any tier), then resubmit failed ones. */
static void wait_some(kvt_store_channel_t *c)
{
    uint32_t before = c->ninflight;
    for (uint32_t k = 0; k < c->s->n && c->ninflight == before; k++) {
        if (c->inflight[k] > 0) {
            reap(c, k, 0);
        }
    }
    for (uint32_t k = 0; k < c->s->n && c->ninflight == before; k++) {
        if (c->inflight[k] > 0) {
            reap(c, k, 1);
        }
    }
    if (c->ninflight == 0 && c->nretry > 0) {
        backoff(c);
    }
    submit_retries(c);
}

/* Complete every I/O in flight. */
static void drain(kvt_store_channel_t *c)
{
    while (c->ninflight > 0 || c->nretry > 0) {
        wait_some(c);
    }
}

/* Complete every GET in flight (writes and GETs are never in flight together). */
static void drain_gets(kvt_store_channel_t *c)
{
    while (c->ngets > 0) {
        wait_some(c);
    }
}

/* --- hooks for placement (st_io_t) ---------------------------------------------------------- */

static kvt_store_channel_t *chan_of(st_io_t *io)
{
    return (kvt_store_channel_t *)(void *)((char *)io - offsetof(kvt_store_channel_t, io));
}

/* One synchronous I/O on tier channel k, which may carry this channel's writes: their
 * completions are handled on the way. */
static kvt_status_t chan_run(st_io_t *io, uint32_t k, kvt_tier_io_t *x)
{
    kvt_store_channel_t *c = chan_of(io);
    x->user = NULL;
    kvt_status_t st;
    while ((st = kvt_tier_submit(io->tc[k], x)) == KVT_ERR_BUSY && c->inflight[k] > 0) {
        reap(c, k, 1);
    }
    if (st != KVT_OK) {
        x->status = st;
        return st;
    }
    for (bool back = false; !back;) {
        kvt_tier_io_t *got[8];
        size_t n = kvt_tier_poll(io->tc[k], 1, got, 8);
        for (size_t i = 0; i < n; i++) {
            if (got[i] == x) {
                back = true;
            } else {
                get_done(c, got[i]->user);
            }
        }
    }
    submit_retries(c);
    return x->status;
}

static void chan_progress(st_io_t *io)
{
    kvt_store_channel_t *c = chan_of(io);
    for (uint32_t k = 0; k < c->s->n; k++) {
        if (c->inflight[k] > 0) {
            reap(c, k, 0);
        }
    }
    submit_retries(c);
}

/* The write of the running PUT's own block into tier k goes in flight; put_done completes the
 * request. */
static bool chan_write_async(st_io_t *io, uint32_t k, uint32_t id, const st_data_t *d)
{
    kvt_store_channel_t *c = chan_of(io);
    kvt_store_req_t *r = c->cur_put;
    if (r == NULL || d->buf != r->buf || c->ngfree == 0) {
        return false;
    }
    uint32_t gi = c->gfree[--c->ngfree];
    get_io_t *g = &c->gio[gi];
    *g = (get_io_t){.r = r, .buf = r->buf, .id = id, .tier = k, .cap = d->meta.payload_bytes,
                    .write = true, .meta = d->meta};
    c->io.nwrites++;
    c->put_started = true;
    get_submit(c, gi);
    return true;
}

/* A free move buffer: while all are taken, wait for the channel's demotions in flight to land
 * (no GET is in flight during placement; a demotion's write completes without waiting for
 * anything this thread holds). */
static void *chan_move_buf(st_io_t *io)
{
    kvt_store_channel_t *c = chan_of(io);
    kvt_store_t *s = c->s;
    while (c->nmfree == 0 && (c->ninflight > 0 || c->nretry > 0)) {
        wait_some(c);
    }
    if (c->nmfree == 0) {
        return NULL; /* cannot happen: a cascade holds at most one buffer not in flight */
    }
    uint32_t i = c->mfree[c->nmfree - 1];
    if (c->mbuf[i] == NULL && (c->mbuf[i] = malloc(s->block_bytes)) == NULL) {
        return NULL;
    }
    c->nmfree--;
    return c->mbuf[i];
}

static uint32_t move_index(const kvt_store_channel_t *c, const void *buf)
{
    uint32_t i = 0;
    while (c->mbuf[i] != buf) {
        i++;
    }
    return i;
}

static void chan_move_buf_put(st_io_t *io, void *buf)
{
    kvt_store_channel_t *c = chan_of(io);
    c->mfree[c->nmfree++] = move_index(c, buf);
}

/* The demotion of id into tier k goes in flight from its move buffer; put_done lands it. */
static void chan_demote_async(st_io_t *io, uint32_t k, uint32_t id, const st_data_t *d)
{
    kvt_store_channel_t *c = chan_of(io);
    uint32_t gi = c->s->queue_depth + move_index(c, d->buf);
    get_io_t *g = &c->gio[gi];
    *g = (get_io_t){.buf = (void *)d->buf, .id = id, .tier = k, .cap = d->meta.payload_bytes,
                    .write = true, .meta = d->meta};
    atomic_fetch_add(&c->s->pins[id], 1); /* the id stays the block's until the write lands */
    c->io.nwrites++;
    get_submit(c, gi);
}

/* --- the access log ------------------------------------------------------------------------- */

/* Apply hits log[from..to) in one pass per tier, then unpin them. */
static void apply_hit_run(kvt_store_channel_t *c, uint32_t from, uint32_t to)
{
    uint32_t n = 0;
    for (uint32_t i = from; i < to; i++) {
        if (c->log[i].state == LOG_HIT) {
            c->hit_ids[n] = c->log[i].id;
            c->hit_acc[n++] = c->log[i].a;
        }
    }
    if (n == 0) {
        return;
    }
    kvt_store_apply_hits(c->s, c->hit_ids, c->hit_acc, n);
    for (uint32_t i = 0; i < n; i++) {
        kvt_store_release(c->s, c->hit_ids[i]);
    }
}

/* The fastest tier holding id whose read succeeds; -1 when none does. Synchronous, with no GET
 * of the channel in flight (its writes may be: chan_run hands their completions on). */
static int read_fastest(kvt_store_t *s, st_io_t *io, uint32_t id, void *buf, size_t cap,
                        kvt_block_meta_t *meta_p, size_t *len_p, kvt_status_t *st_p)
{
    kvt_store_wait_landed(s, io, id); /* its only copy may be a demotion still in flight */
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
 * Apply the log in order (no GET in flight). Entries whose block the top tier's policy still
 * holds are hits, applied in runs (one lock hold per tier); any other entry -- a promotion, or a
 * hit whose block an earlier entry's promotion pushed down meanwhile -- is a full access, as the
 * replay engine would make it at that point of the sequence, with the bytes from the entry's
 * promotion buffer or read again from the fastest tier holding them (lower tiers keep their
 * copies). A block with no bytes left anywhere (dropped by another thread meanwhile) is not
 * admitted.
 */
static void flush_log(kvt_store_channel_t *c, uint32_t upto)
{
    kvt_store_t *s = c->s;
    uint32_t run = 0;
    for (uint32_t i = 0; i < upto; i++) {
        log_entry_t *e = &c->log[i];
        if (e->state != LOG_HIT || (e->slot < 0 && (atomic_load(&s->where[e->id]) & 1u))) {
            continue; /* dead, or part of the current run of hits */
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
            d.buf = src >= 0 ? c->reread : NULL;
        }
        if (kvt_store_access(s, &c->io, e->id, &e->a, &d, false) == 0 && src > 0) {
            atomic_fetch_add_explicit(&s->t[src].c.promotions, 1, memory_order_relaxed);
        }
        kvt_store_release(s, e->id);
    }
    apply_hit_run(c, run, upto);
    /* the entry past upto (at most one: the read that went first) stays, first in the log,
     * with its promotion buffer */
    c->slots_used = 0;
    for (uint32_t i = upto; i < c->nlog; i++) {
        log_entry_t *e = &c->log[i - upto];
        *e = c->log[i];
        if (e->slot >= 0) {
            void *b = c->slot[c->slots_used];
            c->slot[c->slots_used] = c->slot[e->slot];
            c->slot[e->slot] = b;
            e->slot = (int32_t)c->slots_used++;
        }
    }
    c->nlog -= upto;
}

void kvt_store_channel_flush(kvt_store_channel_t *c)
{
    if (c == NULL) {
        return;
    }
    drain(c);
    flush_log(c, c->nlog);
    drain(c); /* the demotions the promotions caused */
}

/* --- running requests ----------------------------------------------------------------------- */

static void start_get(kvt_store_channel_t *c, kvt_store_req_t *r, uint64_t req)
{
    kvt_store_t *s = c->s;
    uint32_t id;
    if (c->io.nwrites > 0) {
        drain(c); /* GETs and writes are never in flight together */
    }
    atomic_fetch_add_explicit(&s->gets, 1, memory_order_relaxed);
    int k = -1;
    if (kvt_store_find(s, r->meta.key, &id)) {
        k = st_first_valid(s, id, 0);
        if (k < 0 && atomic_load(&s->pend[id]) != 0) {
            /* its only copy is on its way into a tier (another channel's write): served once
             * it lands (this channel has no write in flight, holds no lock) */
            kvt_store_wait_landed(s, &c->io, id);
            k = st_first_valid(s, id, 0);
        }
        if (k < 0) {
            kvt_store_release(s, id);
        }
    }
    if (k < 0) {
        atomic_fetch_add_explicit(&s->get_misses, 1, memory_order_relaxed);
        r->status = KVT_ERR_NOT_FOUND;
        complete(c, r);
        return;
    }
    int slot = -1;
    if (k > 0) {
        slot = promo_slot(c);
    }
    uint32_t gi = c->gfree[--c->ngfree];
    get_io_t *g = &c->gio[gi];
    g->r = r;
    g->req = req;
    g->id = id;
    g->tier = (uint32_t)k;
    g->cap = r->len;
    g->log = c->nlog++;
    c->log[g->log] = (log_entry_t){.id = id, .state = LOG_WAIT, .slot = slot};
    g->write = false;
    c->ngets++;
    get_submit(c, gi);
    if (c->nlog > s->access_buffer) {
        /* full: apply the log, all but this read (which went first, as the read of a GET
         * always precedes the application of the earlier accesses it follows) */
        drain(c);
        flush_log(c, s->access_buffer);
    }
}

/* Returns whether the request is still in flight (its write: put_done completes it). */
static bool run_put(kvt_store_channel_t *c, kvt_store_req_t *r, uint64_t req)
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
        return false;
    }
    drain_gets(c);
    flush_log(c, c->nlog);
    kvt_access_t a = access_of(s, r, &meta, req);
    st_data_t d = {.meta = meta, .buf = r->buf};
    r->meta = meta;
    c->cur_put = r;
    c->put_started = false;
    int w = kvt_store_access(s, &c->io, id, &a, &d, true);
    c->cur_put = NULL;
    if (c->put_started) {
        return true;
    }
    r->tier = w >= 0 ? w : st_first_valid(s, id, 0);
    r->status = KVT_OK;
    kvt_store_release(s, id);
    return false;
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
        if (c->nreq == s->queue_depth) {
            atomic_fetch_add_explicit(&s->busy, 1, memory_order_relaxed);
            st = KVT_ERR_BUSY;
            break;
        }
        r->status = KVT_INPROGRESS;
        r->tier = -1;
        uint32_t at = (c->q_head + c->q_len++) % s->queue_depth;
        c->q[at] = r;
        c->q_req[at] = req;
        c->nreq++;
    }
    if (accepted_p != NULL) {
        *accepted_p = i;
    }
    return st;
}

/* Start every queued request: GETs go in flight, PUTs and PREFETCHes run after them. */
static void start_queued(kvt_store_channel_t *c)
{
    kvt_store_t *s = c->s;
    while (c->q_len > 0) {
        kvt_store_req_t *r = c->q[c->q_head];
        uint64_t req = c->q_req[c->q_head];
        c->q_head = (c->q_head + 1) % s->queue_depth;
        c->q_len--;
        if (r->op == KVT_STORE_GET) {
            start_get(c, r, req);
            continue;
        }
        if (r->op == KVT_STORE_PUT) {
            if (!run_put(c, r, req)) {
                complete(c, r);
            }
            continue;
        }
        drain(c);
        run_prefetch(c, r, req);
        complete(c, r);
    }
    submit_retries(c);
}

size_t kvt_store_poll(kvt_store_channel_t *c, size_t min_complete, kvt_store_req_t **done,
                      size_t max)
{
    kvt_store_t *s = c->s;
    start_queued(c);
    size_t nd = 0;
    for (;;) {
        while (nd < max && c->d_len > 0) {
            done[nd++] = c->dq[c->d_head];
            c->d_head = (c->d_head + 1) % s->queue_depth;
            c->d_len--;
            c->nreq--;
        }
        if (nd >= min_complete || nd == max || (c->ninflight == 0 && c->nretry == 0)) {
            break;
        }
        wait_some(c);
    }
    /* what else has completed meanwhile, without waiting */
    for (uint32_t k = 0; k < s->n && c->ninflight > 0; k++) {
        if (c->inflight[k] > 0) {
            reap(c, k, 0);
        }
    }
    submit_retries(c);
    if (c->io.nwrites > 0) {
        drain(c); /* no write of this channel stays in flight while its thread is away: another
                     thread's eviction may be waiting for it */
    }
    while (nd < max && c->d_len > 0) {
        done[nd++] = c->dq[c->d_head];
        c->d_head = (c->d_head + 1) % s->queue_depth;
        c->d_len--;
        c->nreq--;
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
    start_queued(c);
    kvt_store_channel_flush(c);
    chan_free(c);
}
