/*
 * Placement: one access applied to the tiers' policies as the replay engine applies it
 * (src/sim/replay_node.c), with the data moves those decisions imply.
 *
 * The lower tiers holding the block are touched (hits, under their policy locks); then the
 * cascade runs one tier at a time, top first: the top tier hits, or admits the block and names
 * a victim; the victim is offered to the next tier that takes demotions (skipped tiers and tiers
 * of zero capacity are passed by), which may name its own victim, and so on; a victim of the
 * last tier, or one a lower tier already holds a copy of, leaves. Single-threaded, the policies
 * see exactly the calls of a replay of the same access sequence.
 *
 * Space is reserved by the decision. Each tier has a move lock, held from its admission decision
 * until the newcomer's write has started: decide (under the policy lock, taken inside), wait for
 * a write of the victim still in flight (another thread's, which holds no lock and so finishes),
 * read the victim into a move buffer if a lower tier will take it, remove it, mark the
 * newcomer's write in flight (`pend`), release, then write. Demotions' writes are asynchronous:
 * the victim is read into one of the channel's move buffers (taken before the move lock, waiting
 * for one of the channel's demotions to land when all are: bounded memory), and its write into
 * the lower tier goes in flight through io->demote_async, owning that buffer until it lands
 * (valid set, pend cleared). A reader of a block whose only copy is such a write waits for pend
 * (kvt_store_wait_landed): the decisions see the same bytes as with synchronous writes, so they
 * stay those of the replay. So whatever holds or is being
 * written into a tier is a block its policy holds, plus nothing: the tier never sees more live
 * records than the policy's capacity (kvt_tier_capacity_blocks), a write never meets NO_SPACE,
 * and a victim is always read whole before it leaves -- no "phantom" (a block the policy holds
 * without bytes) unless a tier reports an I/O error. A thread holds at most one move lock and
 * never waits for another lock while holding it except the policy lock; the only wait under a
 * move lock is for a write that is already running. A write in flight may be a channel's
 * asynchronous one (a PUT's own block, channel.c), completed only when that channel reaps it:
 * so every wait here (for a move lock, for such a write, for a tier's transient refusal) reaps
 * the waiting channel's own writes meanwhile (st_io_t.progress), and no cycle can form.
 *
 * Between two tiers' steps the victim travels in the thread's move buffer; a concurrent lookup
 * may miss it then (a spurious miss, never wrong bytes: every tier I/O is by key and equal keys
 * mean equal content). An access whose block has no bytes anywhere any more (another thread
 * dropped it between the GET and the log's flush) is not admitted.
 */
#include "store/store_internal.h"

#include "common/logging.h"

#include <sched.h>
#include <string.h>
#include <time.h>

static inline bool has(_Atomic uint8_t *bits, uint32_t id, uint32_t k)
{
    return (atomic_load(&bits[id]) >> k) & 1u;
}

static inline void set_bit(_Atomic uint8_t *bits, uint32_t id, uint32_t k)
{
    atomic_fetch_or(&bits[id], (uint8_t)(1u << k));
}

static inline void clear_bit(_Atomic uint8_t *bits, uint32_t id, uint32_t k)
{
    atomic_fetch_and(&bits[id], (uint8_t) ~(1u << k));
}

static kvt_status_t run_io(st_io_t *io, uint32_t k, kvt_tier_io_t *x)
{
    return io->run != NULL ? io->run(io, k, x) : kvt_tier_run(io->tc[k], x);
}

/* Something this thread waits for may be another thread's wait for this thread's writes. */
static void progress(st_io_t *io)
{
    if (io->progress != NULL && io->nwrites > 0) {
        io->progress(io);
    }
}

/* Take a move lock; with writes of this channel in flight, keep reaping them meanwhile (the
 * holder may be waiting for one of them). */
static void lock_move(st_io_t *io, pthread_mutex_t *m)
{
    while (io->nwrites > 0 && pthread_mutex_trylock(m) != 0) {
        progress(io);
        sched_yield();
    }
    if (io->nwrites == 0) {
        pthread_mutex_lock(m);
    }
}

static void give_back(st_io_t *io, void *buf)
{
    if (buf != NULL) {
        io->move_buf_put(io, buf);
    }
}

/* Drop tier k's copy of id; the caller holds tier k's move lock. */
static void drop_copy(kvt_store_t *s, uint32_t k, uint32_t id)
{
    clear_bit(s->valid, id, k);
    (void)kvt_tier_remove(s->t[k].tier, s->keys[id]);
}

static void read_failed_locked(kvt_store_t *s, uint32_t k, uint32_t id, kvt_status_t st)
{
    st_tier_t *t = &s->t[k];
    if (!has(s->valid, id, k)) {
        return; /* moved meanwhile */
    }
    if (st == KVT_ERR_NOT_FOUND && kvt_tier_contains(t->tier, s->keys[id])) {
        return; /* removed and written again between the read and the lock */
    }
    char hex[33];
    kvt_key_format(s->keys[id], hex);
    atomic_fetch_add(&t->c.errors, 1);
    kvt_log_warn("store: tier %u (%s): reading block %s failed (%s); dropped from the tier", k,
                 t->name, hex, kvt_status_str(st));
    drop_copy(s, k, id); /* a corrupt record is already dropped by the tier itself */
}

void kvt_store_read_failed(kvt_store_t *s, st_io_t *io, uint32_t k, uint32_t id,
                           kvt_status_t st)
{
    lock_move(io, &s->t[k].move);
    read_failed_locked(s, k, id, st);
    pthread_mutex_unlock(&s->t[k].move);
}

static kvt_status_t read_block(kvt_store_t *s, st_io_t *io, uint32_t k, uint32_t id, void *buf,
                               size_t cap, kvt_block_meta_t *meta_p, size_t *len_p, bool locked)
{
    kvt_tier_io_t x = {.op = KVT_TIER_GET, .buf = buf, .len = cap};
    x.meta.key = s->keys[id];
    kvt_status_t st = run_io(io, k, &x);
    if (st == KVT_OK) {
        atomic_fetch_add_explicit(&s->t[k].c.bytes_read, x.len, memory_order_relaxed);
        *meta_p = x.meta;
        *len_p = x.len;
    } else if (st != KVT_ERR_DOES_NOT_FIT) {
        if (locked) {
            read_failed_locked(s, k, id, st);
        } else {
            kvt_store_read_failed(s, io, k, id, st);
        }
    }
    return st;
}

kvt_status_t kvt_store_read(kvt_store_t *s, st_io_t *io, uint32_t k, uint32_t id, void *buf,
                            size_t cap, kvt_block_meta_t *meta_p, size_t *len_p)
{
    return read_block(s, io, k, id, buf, cap, meta_p, len_p, false);
}

/* Write block id into tier k, whose move lock the caller held when it set pend (id, k) and has
 * released. Sets valid, then clears pend (an evictor waiting for pend then sees valid). Counts
 * and logs failures. */
static bool write_block(kvt_store_t *s, st_io_t *io, uint32_t k, uint32_t id, const st_data_t *d)
{
    st_tier_t *t = &s->t[k];
    kvt_tier_io_t x = {.op = KVT_TIER_PUT, .meta = d->meta, .buf = (void *)d->buf,
                       .len = d->meta.payload_bytes};
    x.meta.key = s->keys[id];
    kvt_status_t st = run_io(io, k, &x);
    /* The decision reserved the space, so a refusal is the tier's own state: try again, backing
     * off, until KVT_STORE_WRITE_PATIENCE_NS (store_internal.h). */
    uint64_t t0 = kvt_store_mono_ns();
    while (st == KVT_ERR_NO_SPACE || st == KVT_ERR_BUSY) {
        uint64_t waited = kvt_store_mono_ns() - t0;
        if (waited > KVT_STORE_WRITE_PATIENCE_NS) {
            break;
        }
        progress(io);
        kvt_store_refused_wait(waited);
        x = (kvt_tier_io_t){.op = KVT_TIER_PUT, .meta = d->meta, .buf = (void *)d->buf,
                            .len = d->meta.payload_bytes};
        x.meta.key = s->keys[id];
        st = run_io(io, k, &x);
    }
    if (st == KVT_OK) {
        atomic_fetch_add_explicit(&t->c.bytes_written, x.len, memory_order_relaxed);
        set_bit(s->valid, id, k);
    }
    clear_bit(s->pend, id, k);
    if (st != KVT_OK) {
        char hex[33];
        kvt_key_format(s->keys[id], hex);
        atomic_fetch_add(&t->c.errors, 1);
        kvt_log_warn("store: tier %u (%s): writing block %s failed (%s); not kept there", k,
                     t->name, hex, kvt_status_str(st));
        return false;
    }
    return true;
}

/* Claim the write of id into tier k (under its move lock): false when its bytes are there or
 * on their way already. */
static bool claim_write(kvt_store_t *s, uint32_t id, uint32_t k)
{
    if (has(s->valid, id, k) || has(s->pend, id, k)) {
        return false;
    }
    set_bit(s->pend, id, k);
    return true;
}

/* The policy's view of a block moving down. */
static kvt_access_t demotion(kvt_store_t *s, uint32_t b, uint64_t now)
{
    return (kvt_access_t){.block = b,
                          .block_type = atomic_load(&s->types[b]),
                          .demoted = true,
                          .t_us = now,
                          .last_us = atomic_load(&s->last_us[b]),
                          .next_use = KVT_NEVER};
}

/* Admit b into tier k's policy (b not held there). Returns the victim or KVT_STORE_NONE; a
 * victim other than b is pinned before its bit is cleared (see kvt_store_release). */
static uint32_t admit(kvt_store_t *s, uint32_t k, uint32_t b, const kvt_access_t *a)
{
    st_tier_t *t = &s->t[k];
    uint32_t v = s->ops->miss(t->pol, a, t->used == t->cap);
    set_bit(s->where, b, k);
    if (v == KVT_NO_BLOCK) {
        t->used++;
        return KVT_STORE_NONE;
    }
    if (v != b) {
        atomic_fetch_add(&s->pins[v], 1);
    }
    clear_bit(s->where, v, k);
    return v;
}

/* The next tier below k that takes demotions, or s->n. */
static uint32_t next_tier(const kvt_store_t *s, uint32_t k)
{
    for (k++; k < s->n; k++) {
        if (s->t[k].cap > 0 && !s->t[k].skipped) {
            break;
        }
    }
    return k;
}

void kvt_store_wait_landed(kvt_store_t *s, st_io_t *io, uint32_t id)
{
    for (unsigned spin = 0; atomic_load(&s->pend[id]) != 0; spin++) {
        progress(io); /* the write may be this channel's */
        if (spin < 64) {
            sched_yield();
        } else {
            nanosleep(&(struct timespec){0, 20000}, NULL); /* the writer may be descheduled */
        }
    }
}

/* The victim v leaves tier k (its move lock held): wait for a write of it still in flight, read
 * it into rb (a move buffer; NULL: none) if tier `below` will want it (NULL data otherwise),
 * and remove it. */
static st_data_t evict_data(kvt_store_t *s, st_io_t *io, uint32_t k, uint32_t v, uint32_t below,
                            void *rb)
{
    st_data_t out = {.buf = NULL};
    for (unsigned spin = 0; has(s->pend, v, k); spin++) {
        progress(io); /* the write may be this channel's */
        if (spin < 64) {
            sched_yield();
        } else {
            nanosleep(&(struct timespec){0, 20000}, NULL); /* the writer may be descheduled */
        }
    }
    if (!has(s->valid, v, k)) {
        return out; /* never arrived (a failed write) */
    }
    if (rb != NULL && below < s->n && !has(s->where, v, below)) {
        size_t len;
        if (read_block(s, io, k, v, rb, s->block_bytes, &out.meta, &len, true) == KVT_OK) {
            out.buf = rb;
        }
    }
    drop_copy(s, k, v);
    return out;
}

int kvt_store_access(kvt_store_t *s, st_io_t *io, uint32_t id, const kvt_access_t *acc,
                     const st_data_t *data, bool is_put)
{
    kvt_access_t a = *acc;
    a.block = id;
    atomic_store(&s->types[id], a.block_type);
    atomic_store(&s->last_us[id], a.t_us);
    /* lower tiers that hold it serve it: touch them */
    for (uint32_t k = 1; k < s->n; k++) {
        st_tier_t *t = &s->t[k];
        if (has(s->where, id, k)) {
            pthread_mutex_lock(t->lock);
            if (has(s->where, id, k)) {
                s->ops->hit(t->pol, &a);
            }
            pthread_mutex_unlock(t->lock);
        }
    }
    uint32_t victims[KVT_MAX_TIERS], nvictims = 0;
    int written = -1;
    st_data_t cur = *data; /* the bytes of x, the block entering tier k */
    bool moving = false;   /* cur.buf is a move buffer (x is a victim on its way down) */
    uint32_t x = id;
    int from = -1; /* the tier x was evicted from (-1: the accessed block itself) */
    uint64_t now = a.t_us;
    uint32_t k = s->t[0].cap == 0 ? next_tier(s, 0) : 0; /* no room on top: offered below */
    for (; x != KVT_STORE_NONE && k < s->n; k = next_tier(s, k)) {
        st_tier_t *t = &s->t[k];
        /* a buffer for this tier's victim, should a tier below take it: taken before the move
         * lock, so that waiting for one (the channel's demotions in flight must land) holds no
         * lock */
        void *rb = next_tier(s, k) < s->n ? io->move_buf(io) : NULL;
        lock_move(io, &t->move);
        pthread_mutex_lock(t->lock);
        if (has(s->where, x, k)) {
            if (k == 0) { /* a hit on top */
                s->ops->hit(t->pol, &a);
                pthread_mutex_unlock(t->lock);
                bool w = cur.buf != NULL && claim_write(s, id, 0); /* a promotion, a repair */
                pthread_mutex_unlock(&t->move);
                if (w && write_block(s, io, 0, id, &cur) && is_put) {
                    atomic_fetch_add_explicit(&t->c.puts, 1, memory_order_relaxed);
                }
                written = has(s->valid, id, 0) || has(s->pend, id, 0) ? 0 : -1;
                x = KVT_STORE_NONE;
                give_back(io, rb);
                break;
            }
            pthread_mutex_unlock(t->lock);
            pthread_mutex_unlock(&t->move);
            give_back(io, rb);
            break; /* already holds a copy: x leaves */
        }
        if (cur.buf == NULL) { /* no bytes to place (gone meanwhile, or a read error) */
            pthread_mutex_unlock(t->lock);
            pthread_mutex_unlock(&t->move);
            give_back(io, rb);
            break;
        }
        kvt_access_t d = k == 0 ? a : demotion(s, x, now); /* below the top: a demotion */
        uint32_t v = admit(s, k, x, &d);
        pthread_mutex_unlock(t->lock);
        if (v == x) { /* bypassed: x goes on down with its bytes (not a drop if none takes it) */
            pthread_mutex_unlock(&t->move);
            give_back(io, rb);
            from = -1;
            continue;
        }
        st_data_t next = {.buf = NULL};
        if (v != KVT_STORE_NONE) {
            victims[nvictims++] = v;
            atomic_fetch_add_explicit(&t->c.evictions, 1, memory_order_relaxed);
            next = evict_data(s, io, k, v, next_tier(s, k), rb);
        }
        if (next.buf == NULL) {
            give_back(io, rb);
        }
        bool w = claim_write(s, x, k);
        pthread_mutex_unlock(&t->move);
        if (moving) { /* a demotion: its write goes in flight and owns the buffer */
            if (w) {
                io->demote_async(io, k, x, &cur);
            } else {
                give_back(io, (void *)cur.buf);
            }
        } else if (w && x == id && is_put && io->write_async != NULL &&
                   io->write_async(io, k, id, &cur)) {
            written = written < 0 ? (int)k : written; /* the channel completes it */
        } else if (w && write_block(s, io, k, x, &cur) && x == id) {
            written = written < 0 ? (int)k : written;
            if (is_put) {
                atomic_fetch_add_explicit(&t->c.puts, 1, memory_order_relaxed);
            }
        }
        x = v;
        from = (int)k;
        cur = next;
        moving = next.buf != NULL;
    }
    if (moving) {
        give_back(io, (void *)cur.buf); /* a victim no tier took */
    }
    if (x != KVT_STORE_NONE && from >= 0) { /* the last victim found no tier below */
        atomic_fetch_add_explicit(&s->t[from].c.drops, 1, memory_order_relaxed);
    }
    for (uint32_t i = 0; i < nvictims; i++) {
        kvt_store_release(s, victims[i]);
    }
    return written;
}

void kvt_store_apply_hits(kvt_store_t *s, const uint32_t *ids, const kvt_access_t *acc, size_t n)
{
    for (uint32_t k = 0; k < s->n; k++) {
        st_tier_t *t = &s->t[k];
        bool locked = false;
        for (size_t i = 0; i < n; i++) {
            if (!has(s->where, ids[i], k)) {
                continue;
            }
            if (!locked) {
                pthread_mutex_lock(t->lock);
                locked = true;
            }
            if (has(s->where, ids[i], k)) {
                kvt_access_t a = acc[i];
                a.block = ids[i];
                s->ops->hit(t->pol, &a);
            }
        }
        if (locked) {
            pthread_mutex_unlock(t->lock);
        }
    }
}
