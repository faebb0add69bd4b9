/*
 * Placement: one access applied to the tiers' policies as the replay engine applies it
 * (src/sim/replay_node.c), then the data moves those decisions imply.
 *
 * Decisions first, one tier at a time, each under that tier's policy lock and never two locks
 * at once: the lower tiers holding the block are touched; the top tier hits, or admits the block
 * and names a victim; the victim is offered to the next tier that takes demotions (skipped
 * tiers and tiers of zero capacity are passed by), which may name its own victim, and so on; a
 * victim of the last tier, or one a lower tier already holds a copy of, leaves. The result is a
 * list of steps (tier, incoming block, victim), each step's incoming block the previous step's
 * victim. Decisions change `where` (the policies' view) at once, so the policies evolve exactly
 * as in a replay of the same access sequence, whatever the I/O does afterwards.
 *
 * Then the moves, on the caller's thread through its own tier channels, step by step: read the
 * victim (if the next step takes it) into a bounce buffer, remove it, then write the incoming
 * block -- the victim leaves before the newcomer arrives, so a tier sized by the policy's
 * capacity never overfills. Tiers never evict on their own; a write that fails (NO_SPACE, IO)
 * leaves the policy holding a block without data (a phantom: a later lookup misses it, a later
 * access with the data rewrites it), is counted and logged, and the cascade goes on without the
 * lost bytes. Concurrent accesses interleave at step granularity; what they can cause is a block
 * briefly in two tiers or a spurious miss, never wrong bytes, because every tier I/O is by key
 * and equal keys mean equal content.
 */
#include "store/store_internal.h"

#include "common/logging.h"

#include <sched.h>
#include <string.h>
#include <time.h>

#define WRITE_RETRIES 512 /* 16 yields, then 20 us sleeps: about 10 ms before a NO_SPACE on a
                            * write is taken as final */

typedef struct step {
    uint32_t tier, in, victim;
} step_t;

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

kvt_status_t kvt_store_read(kvt_store_t *s, st_io_t *io, uint32_t k, uint32_t id, void *buf,
                            size_t cap, kvt_block_meta_t *meta_p, size_t *len_p)
{
    st_tier_t *t = &s->t[k];
    kvt_tier_io_t x = {.op = KVT_TIER_GET, .buf = buf, .len = cap};
    x.meta.key = s->keys[id];
    kvt_status_t st = kvt_tier_run(io->tc[k], &x);
    if (st == KVT_OK) {
        atomic_fetch_add_explicit(&t->c.bytes_read, x.len, memory_order_relaxed);
        *meta_p = x.meta;
        *len_p = x.len;
        return KVT_OK;
    }
    if (st == KVT_ERR_DOES_NOT_FIT) {
        return st;
    }
    clear_bit(s->valid, id, k); /* the tier no longer serves it */
    if (st != KVT_ERR_NOT_FOUND) {
        char hex[33];
        kvt_key_format(s->keys[id], hex);
        atomic_fetch_add(&t->c.errors, 1);
        kvt_log_warn("store: tier %u (%s): reading block %s failed (%s); dropped from the tier",
                     k, t->name, hex, kvt_status_str(st));
        if (st != KVT_ERR_CORRUPT) { /* a corrupt record is dropped by the tier itself */
            (void)kvt_tier_remove(t->tier, s->keys[id]);
        }
    }
    return st;
}

/* Write block id into tier k; on success mark it valid there (undone if the policy let it go
 * meanwhile). Counts and logs failures. */
static bool write_block(kvt_store_t *s, st_io_t *io, uint32_t k, uint32_t id, const st_data_t *d)
{
    st_tier_t *t = &s->t[k];
    kvt_tier_io_t x = {.op = KVT_TIER_PUT, .meta = d->meta, .buf = (void *)d->buf,
                       .len = d->meta.payload_bytes};
    x.meta.key = s->keys[id];
    kvt_status_t st = kvt_tier_run(io->tc[k], &x);
    /* Concurrent cascades can overlap: another thread's victim may still be on its way out
     * (read for demotion, or a write it must undo) when this write arrives, so a tier full to
     * the policy's capacity can refuse it for a moment. Give those moves a chance to land. */
    for (int retry = 0; (st == KVT_ERR_NO_SPACE || st == KVT_ERR_BUSY) && retry < WRITE_RETRIES;
         retry++) {
        if (retry < 16) {
            sched_yield();
        } else {
            nanosleep(&(struct timespec){0, 20000}, NULL); /* the mover may be descheduled */
        }
        x.meta = d->meta;
        x.meta.key = s->keys[id];
        x.len = d->meta.payload_bytes;
        st = kvt_tier_run(io->tc[k], &x);
    }
    if (st != KVT_OK) {
        char hex[33];
        kvt_key_format(s->keys[id], hex);
        atomic_fetch_add(&t->c.errors, 1);
        kvt_log_warn("store: tier %u (%s): writing block %s failed (%s); not kept there", k,
                     t->name, hex, kvt_status_str(st));
        return false;
    }
    atomic_fetch_add_explicit(&t->c.bytes_written, x.len, memory_order_relaxed);
    set_bit(s->valid, id, k);
    if (!has(s->where, id, k)) { /* evicted by another thread while we wrote */
        clear_bit(s->valid, id, k);
        (void)kvt_tier_remove(t->tier, s->keys[id]);
    }
    return true;
}

/* Carry out the steps. data: the accessed block's content (buf NULL: none). */
static int execute(kvt_store_t *s, st_io_t *io, const step_t *steps, uint32_t n, uint32_t id,
                   const st_data_t *data, bool is_put)
{
    st_data_t cur = *data;
    int written = -1;
    for (uint32_t i = 0; i < n; i++) {
        const step_t *p = &steps[i];
        st_tier_t *t = &s->t[p->tier];
        st_data_t next = {.buf = NULL};
        bool bypass = p->victim == p->in;
        if (p->victim != KVT_STORE_NONE && !bypass) {
            uint32_t v = p->victim;
            bool carry = i + 1 < n; /* steps[i + 1].in == v */
            if (has(s->valid, v, p->tier)) {
                if (carry) {
                    void *rb = cur.buf == io->bounce[0] ? io->bounce[1] : io->bounce[0];
                    size_t len;
                    if (kvt_store_read(s, io, p->tier, v, rb, s->block_bytes, &next.meta, &len) ==
                        KVT_OK) {
                        next.buf = rb;
                    }
                }
                clear_bit(s->valid, v, p->tier);
                (void)kvt_tier_remove(t->tier, s->keys[v]);
            }
            atomic_fetch_add_explicit(&t->c.evictions, 1, memory_order_relaxed);
            if (!carry) {
                atomic_fetch_add_explicit(&t->c.drops, 1, memory_order_relaxed);
            }
        }
        if (bypass) {
            next = cur;
        } else if (cur.buf != NULL) {
            if (write_block(s, io, p->tier, p->in, &cur)) {
                if (p->in == id) {
                    written = written < 0 ? (int)p->tier : written;
                    if (is_put) {
                        atomic_fetch_add_explicit(&t->c.puts, 1, memory_order_relaxed);
                    }
                } else {
                    atomic_fetch_add_explicit(&t->c.demotions, 1, memory_order_relaxed);
                }
            }
        }
        cur = next;
    }
    return written;
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
    step_t steps[KVT_MAX_TIERS];
    uint32_t nsteps = 0, x, k;
    st_tier_t *t0 = &s->t[0];
    if (t0->cap == 0) {
        x = id; /* nothing kept on top: offered to the tiers below as a demotion */
        k = 1;
    } else {
        pthread_mutex_lock(t0->lock);
        if (has(s->where, id, 0)) {
            s->ops->hit(t0->pol, &a);
            pthread_mutex_unlock(t0->lock);
            if (data->buf != NULL && !has(s->valid, id, 0)) {
                /* held by the policy but not the tier (a promotion, a repair) */
                if (!write_block(s, io, 0, id, data)) {
                    return -1;
                }
                if (is_put) {
                    atomic_fetch_add_explicit(&t0->c.puts, 1, memory_order_relaxed);
                }
                return 0;
            }
            return has(s->valid, id, 0) ? 0 : -1;
        }
        uint32_t v = admit(s, 0, id, &a);
        pthread_mutex_unlock(t0->lock);
        steps[nsteps++] = (step_t){0, id, v};
        x = v;
        k = 1;
    }
    uint64_t now = a.t_us;
    for (; x != KVT_STORE_NONE && k < s->n; k++) {
        st_tier_t *t = &s->t[k];
        if (t->cap == 0 || t->skipped) {
            continue;
        }
        pthread_mutex_lock(t->lock);
        if (has(s->where, x, k)) {
            pthread_mutex_unlock(t->lock);
            break; /* already holds a copy */
        }
        kvt_access_t d = demotion(s, x, now);
        uint32_t v = admit(s, k, x, &d);
        pthread_mutex_unlock(t->lock);
        steps[nsteps++] = (step_t){k, x, v};
        x = v;
    }
    int written = execute(s, io, steps, nsteps, id, data, is_put);
    for (uint32_t i = 0; i < nsteps; i++) {
        uint32_t v = steps[i].victim;
        if (v != KVT_STORE_NONE && v != steps[i].in) {
            kvt_store_release(s, v);
        }
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
