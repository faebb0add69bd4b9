/*
 * The NVMe tier's space: which segment receives appends, and compaction.
 *
 * One segment is open at a time; an append reserves its bytes there under space_lock, a short
 * critical section (no I/O) unless the open segment is full. Then the segment is sealed and a
 * free one started: its generation is bumped *before* anything is written to it, its header
 * (with the new generation) is written and, for a durable tier, fdatasync'ed, so no record of
 * the new generation can be durable while its segment header is not.
 *
 * One free segment is held in reserve for compaction: appends take a free segment only while
 * two or more are free. When only the reserve is left, compaction picks the sealed segment with
 * the fewest live bytes that has no append in flight and has room for the pending record once
 * compacted (a segment whose live records were all removed is simply freed), starts the reserve
 * as the new open segment, copies the victim's live records into it (each read, its descriptor
 * and payload checksum verified, re-addressed and written), fdatasyncs it, moves the index
 * entries, and only then frees the victim (wiping its header, so removed records do not come
 * back at the next open), which becomes the new reserve. A crash at any point
 * leaves every record in the victim or durable in the destination (recovery keeps the copy of
 * the newer generation). If no segment qualifies the put fails KVT_ERR_NO_SPACE: the store
 * above must remove blocks; tiers never evict by themselves.
 *
 * Compaction runs synchronously in the thread whose put needed the space, holding space_lock
 * (other appenders wait; readers do not). Readers never wait for it either: a GET remembers the
 * generation of the segment it reads and, once the read completes, re-reads the segment's
 * generation; if the segment was restarted meanwhile the data may be new, so the GET looks the
 * key up again (a seqlock, with the segment restart as the writer). Appends in flight are the
 * other hazard (a write landing in a segment already restarted would corrupt it), so a segment
 * with writers > 0 is never chosen. If only such segments could be compacted the first answer
 * is KVT_ERR_BUSY: the channel drains its own writes (only its thread can reap them) and asks
 * again with wait, which then waits on space_cond, broadcast when a segment's last append in
 * flight completes (nvme_space_writer_done, by the channel that reaps it), and looks again, for
 * up to NVME_SPACE_WAIT_MS. So a put never fails for space while fewer records than
 * kvt_tier_capacity_blocks() are live or in flight: with only the spare free and every other
 * segment sealed, some segment holds fewer than a segment's worth of live records (pigeonhole),
 * and once the appends into it completed it can be compacted. The wait is bounded because the
 * completion is reaped by the owning channel's thread, which may not poll for a while (then
 * KVT_ERR_BUSY). A waiter never deadlocks another: it has drained its own appends and pins
 * nothing.
 *
 * Free space starts as the file system's unwritten extents (segments are fallocate'd). The first
 * append into such blocks converts them to written ones, a journal update that the put's
 * fdatasync must then commit: on the dev VM's ext4 a 64 KiB durable put took 330 us into
 * fallocate'd space and 180 us over blocks written before. A segment that has been used once
 * and recycled is in the second state for good, so that is the steady state; prefault (the
 * tier's kvt_tier_prefault) brings a fresh tier there at once, by writing zeros over every free
 * segment and over the open segment past its append offset, then fdatasyncing each. It holds
 * space_lock throughout (appends wait) and bumps the generation of each free segment first, so
 * a GET still reading a record there retries its lookup instead of reading zeros.
 */
#include "tier/nvme_internal.h"

#include "common/logging.h"
#include "common/sysio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct move {
    kvt_key_t key;
    uint64_t off;
    uint64_t rec_bytes;
} move_t;

static kvt_status_t errno_status(int e)
{
    return e == ENOSPC || e == EDQUOT ? KVT_ERR_NO_SPACE : KVT_ERR_IO;
}

/* Start free segment i as the open segment: new generation, header written (and synced). */
static kvt_status_t seg_start(nvme_tier_t *t, uint32_t i)
{
    nvme_seg_t *s = &t->seg[i];
    char path[4096];
    nvme_seg_path(t, i, path, sizeof(path));
    /* the directory may have been removed under us: writes to the unlinked file would
       "succeed" and vanish at close, so refuse to start new segments there */
    int probe = kvt_sys.open(path, O_RDONLY, 0);
    if (probe < 0) {
        kvt_log_error("nvme: %s: cannot reopen the segment file: %s", path, strerror(errno));
        nvme_count_error(t);
        return KVT_ERR_IO;
    }
    (void)kvt_sys.close(probe);
    uint64_t gen = t->next_gen++;
    atomic_store(&s->gen, gen); /* before any write: in-flight readers of old records retry */
    nvme_seg_header_encode(t, i, gen, t->cbuf);
    ssize_t n = kvt_sys.pwrite(s->fd, t->cbuf, NVME_SECTOR, 0);
    if (n != (ssize_t)NVME_SECTOR) {
        int e = n < 0 ? errno : EIO;
        kvt_log_error("nvme: %s: writing the segment header: %s", path,
                      n < 0 ? strerror(e) : "short write");
        nvme_count_error(t);
        return errno_status(e);
    }
    if (t->durable && kvt_sys.fdatasync(s->fd) != 0) {
        int e = errno;
        kvt_log_error("nvme: %s: fdatasync of the segment header: %s", path, strerror(e));
        nvme_count_error(t);
        return errno_status(e);
    }
    s->state = NVME_SEG_OPEN;
    s->write_off = NVME_SECTOR;
    t->open_seg = (int)i;
    return KVT_OK;
}

#define PREFAULT_CHUNK (1u << 20)

/* Zeros over [from, seg_bytes) of segment i, then fdatasync; under space_lock. */
static kvt_status_t seg_prefault(nvme_tier_t *t, uint32_t i, uint64_t from, const void *zero)
{
    nvme_seg_t *s = &t->seg[i];
    char path[4096];
    for (uint64_t off = from; off < t->seg_bytes; off += PREFAULT_CHUNK) {
        size_t n = t->seg_bytes - off < PREFAULT_CHUNK ? (size_t)(t->seg_bytes - off)
                                                       : PREFAULT_CHUNK;
        ssize_t w = kvt_sys.pwrite(s->fd, zero, n, (off_t)off);
        if (w != (ssize_t)n) {
            int e = w < 0 ? errno : EIO;
            nvme_seg_path(t, i, path, sizeof(path));
            kvt_log_error("nvme: %s: prefault write of %zu bytes at %llu: %s", path, n,
                          (unsigned long long)off, w < 0 ? strerror(e) : "short write");
            nvme_count_error(t);
            return errno_status(e);
        }
    }
    if (kvt_sys.fdatasync(s->fd) != 0) {
        int e = errno;
        nvme_seg_path(t, i, path, sizeof(path));
        kvt_log_error("nvme: %s: fdatasync after prefault: %s", path, strerror(e));
        nvme_count_error(t);
        return errno_status(e);
    }
    return KVT_OK;
}

kvt_status_t nvme_space_prefault(void *ctx)
{
    nvme_tier_t *t = ctx;
    void *zero = NULL;
    if (posix_memalign(&zero, NVME_SECTOR, PREFAULT_CHUNK) != 0) {
        return KVT_ERR_NO_MEMORY;
    }
    memset(zero, 0, PREFAULT_CHUNK);
    kvt_status_t st = KVT_OK;
    pthread_mutex_lock(&t->space_lock);
    for (uint32_t i = 0; i < t->nseg && st == KVT_OK; i++) {
        nvme_seg_t *s = &t->seg[i];
        if (s->state == NVME_SEG_FREE) {
            atomic_store(&s->gen, t->next_gen++); /* readers of its old records retry */
            st = seg_prefault(t, i, 0, zero);
        } else if ((int)i == t->open_seg) {
            st = seg_prefault(t, i, s->write_off, zero);
        }
    }
    pthread_mutex_unlock(&t->space_lock);
    free(zero);
    return st;
}

static kvt_status_t take_free(nvme_tier_t *t)
{
    for (uint32_t i = 0; i < t->nseg; i++) {
        if (t->seg[i].state == NVME_SEG_FREE) {
            kvt_status_t st = seg_start(t, i);
            if (st == KVT_OK) {
                t->free_count--;
            }
            return st;
        }
    }
    return KVT_ERR_NO_SPACE;
}

/* Mark segment i free, and wipe its header so that a restart does not bring back the records
   that were removed from it (they would be correct data, but would take space that only the
   store could free again). Best effort: a failed wipe is logged and costs only that. */
static void seg_release(nvme_tier_t *t, uint32_t i)
{
    nvme_seg_t *s = &t->seg[i];
    memset(t->cbuf, 0, NVME_SECTOR);
    if (kvt_sys.pwrite(s->fd, t->cbuf, NVME_SECTOR, 0) != (ssize_t)NVME_SECTOR ||
        (t->durable && kvt_sys.fdatasync(s->fd) != 0)) {
        char path[4096];
        nvme_seg_path(t, i, path, sizeof(path));
        kvt_log_warn("nvme: %s: wiping the header of a freed segment: %s", path,
                     strerror(errno));
    }
    s->state = NVME_SEG_FREE;
    t->free_count++;
}

/* Free sealed segments that hold nothing live and expect no write. */
static void reclaim_empty(nvme_tier_t *t)
{
    for (uint32_t i = 0; i < t->nseg; i++) {
        nvme_seg_t *s = &t->seg[i];
        if (s->state == NVME_SEG_SEALED && atomic_load(&s->writers) == 0 &&
            atomic_load(&s->live) == 0) {
            seg_release(t, i);
        }
    }
}

/* The live records of segment v, from the index. */
static kvt_status_t collect(nvme_tier_t *t, uint32_t v, move_t **moves_p, size_t *n_p)
{
    move_t *m = NULL;
    size_t n = 0, cap = 0;
    for (size_t si = 0; si < NVME_SHARDS; si++) {
        nvme_shard_t *s = &t->index.shard[si];
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i <= s->mask; i++) {
            const nvme_entry_t *e = &s->e[i];
            if (e->off_sec == 0 || e->seg != v) {
                continue;
            }
            if (n == cap) {
                size_t nc = cap != 0 ? cap * 2 : 256;
                move_t *nm = realloc(m, nc * sizeof(*nm));
                if (nm == NULL) {
                    pthread_mutex_unlock(&s->lock);
                    free(m);
                    return KVT_ERR_NO_MEMORY;
                }
                m = nm;
                cap = nc;
            }
            m[n++] = (move_t){.key = e->key, .off = nvme_entry_off(e), .rec_bytes = nvme_entry_rec(e)};
        }
        pthread_mutex_unlock(&s->lock);
    }
    *moves_p = m;
    *n_p = n;
    return KVT_OK;
}

/* Copy one record from victim v to the open segment; false only if the destination failed. */
static bool move_one(nvme_tier_t *t, uint32_t v, uint64_t vgen, const move_t *mv)
{
    nvme_seg_t *src = &t->seg[v];
    nvme_seg_t *dst = &t->seg[t->open_seg];
    char path[4096];
    nvme_seg_path(t, v, path, sizeof(path));
    ssize_t n = kvt_sys.pread(src->fd, t->cbuf, (size_t)mv->rec_bytes, (off_t)mv->off);
    kvt_block_meta_t meta;
    if (n != (ssize_t)mv->rec_bytes) {
        kvt_log_error("nvme: %s: compaction read at %llu: %s; record dropped", path,
                      (unsigned long long)mv->off, n < 0 ? strerror(errno) : "short read");
    } else if (!nvme_rec_decode(t->cbuf, vgen, mv->off, t->seg_bytes, &meta) ||
               nvme_rec_bytes(meta.payload_bytes) != mv->rec_bytes ||
               kvt_block_checksum((char *)t->cbuf + NVME_SECTOR, (size_t)meta.payload_bytes) !=
                   meta.payload_checksum) {
        kvt_log_error("nvme: %s: record at %llu failed its checksum during compaction; dropped",
                      path, (unsigned long long)mv->off);
    } else {
        uint64_t noff = dst->write_off;
        uint64_t dgen = atomic_load(&dst->gen);
        nvme_rec_encode(&meta, dgen, noff, t->cbuf);
        n = kvt_sys.pwrite(dst->fd, t->cbuf, (size_t)mv->rec_bytes, (off_t)noff);
        if (n != (ssize_t)mv->rec_bytes) {
            char dpath[4096];
            nvme_seg_path(t, (uint32_t)t->open_seg, dpath, sizeof(dpath));
            kvt_log_error("nvme: %s: compaction write at %llu: %s", dpath,
                          (unsigned long long)noff, n < 0 ? strerror(errno) : "short write");
            nvme_count_error(t);
            return false;
        }
        dst->write_off += mv->rec_bytes;
        nvme_shard_t *s = nvme_index_shard(&t->index, mv->key);
        pthread_mutex_lock(&s->lock);
        nvme_entry_t *e = nvme_shard_find(s, mv->key);
        if (e != NULL && e->seg == v && nvme_entry_off(e) == mv->off) {
            e->seg = (uint32_t)t->open_seg;
            e->off_sec = (uint32_t)(noff / NVME_SECTOR);
            atomic_fetch_sub(&src->live, mv->rec_bytes);
            atomic_fetch_add(&dst->live, mv->rec_bytes);
        }
        pthread_mutex_unlock(&s->lock);
        return true;
    }
    nvme_count_error(t);
    nvme_index_drop_at(t, mv->key, v, mv->off);
    return true;
}

static kvt_status_t compact(nvme_tier_t *t, uint32_t v)
{
    move_t *moves;
    size_t n;
    kvt_status_t st = collect(t, v, &moves, &n);
    if (st != KVT_OK) {
        return st;
    }
    st = take_free(t);
    if (st != KVT_OK) {
        free(moves);
        return st;
    }
    uint64_t vgen = atomic_load(&t->seg[v].gen);
    for (size_t i = 0; i < n && st == KVT_OK; i++) {
        if (!move_one(t, v, vgen, &moves[i])) {
            st = KVT_ERR_IO;
        }
    }
    free(moves);
    if (st == KVT_OK && t->durable && kvt_sys.fdatasync(t->seg[t->open_seg].fd) != 0) {
        kvt_log_error("nvme: fdatasync after compaction: %s", strerror(errno));
        nvme_count_error(t);
        st = KVT_ERR_IO;
    }
    if (st != KVT_OK) {
        return st; /* the victim keeps whatever was not moved durably */
    }
    kvt_log_debug("nvme: compacted segment %u (%zu records) into %d", v, n, t->open_seg);
    if (atomic_load(&t->seg[v].live) == 0) {
        seg_release(t, v);
    }
    return KVT_OK;
}

void nvme_space_writer_done(nvme_tier_t *t, uint32_t seg)
{
    /* seq_cst: either a waiter's increment of space_waiters precedes this load (and we wake it)
       or its check of writers, made under space_lock after the increment, sees our decrement */
    if (atomic_fetch_sub(&t->seg[seg].writers, 1) == 1 && atomic_load(&t->space_waiters) != 0) {
        pthread_mutex_lock(&t->space_lock);
        pthread_cond_broadcast(&t->space_cond);
        pthread_mutex_unlock(&t->space_lock);
    }
}

/* Wait (space_lock held) until woken or the deadline; false once the deadline has passed. */
static bool wait_writers(nvme_tier_t *t, struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (deadline->tv_sec == 0 && deadline->tv_nsec == 0) {
        uint64_t ns = (uint64_t)now.tv_nsec + (uint64_t)NVME_SPACE_WAIT_MS * 1000000u;
        deadline->tv_sec = now.tv_sec + (time_t)(ns / 1000000000u);
        deadline->tv_nsec = (long)(ns % 1000000000u);
    } else if (now.tv_sec > deadline->tv_sec ||
               (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec)) {
        return false;
    }
    atomic_fetch_add(&t->space_waiters, 1);
    (void)pthread_cond_timedwait(&t->space_cond, &t->space_lock, deadline);
    atomic_fetch_sub(&t->space_waiters, 1);
    return true;
}

kvt_status_t nvme_space_alloc(nvme_tier_t *t, uint64_t rec_bytes, bool wait, uint32_t *seg_p,
                              uint64_t *off_p, uint64_t *gen_p)
{
    uint64_t usable = t->seg_bytes - NVME_SECTOR;
    kvt_status_t st = KVT_ERR_NO_SPACE;
    struct timespec deadline = {0, 0};
    pthread_mutex_lock(&t->space_lock);
    for (uint32_t iter = 0; iter < t->nseg + 2; iter++) {
        if (t->open_seg >= 0) {
            nvme_seg_t *s = &t->seg[t->open_seg];
            if (s->write_off + rec_bytes <= t->seg_bytes) {
                *seg_p = (uint32_t)t->open_seg;
                *off_p = s->write_off;
                *gen_p = atomic_load(&s->gen);
                s->write_off += rec_bytes;
                atomic_fetch_add(&s->writers, 1);
                pthread_mutex_unlock(&t->space_lock);
                return KVT_OK;
            }
            s->state = NVME_SEG_SEALED;
            t->open_seg = -1;
        }
        reclaim_empty(t);
        if (t->free_count >= 2) {
            st = take_free(t);
            if (st != KVT_OK) {
                break;
            }
            continue;
        }
        /* compaction: the sealed segment with the fewest live bytes that makes room */
        int victim = -1;
        bool blocked = false;
        uint64_t best = UINT64_MAX;
        for (uint32_t i = 0; i < t->nseg; i++) {
            nvme_seg_t *s = &t->seg[i];
            uint64_t live = atomic_load(&s->live);
            if (s->state != NVME_SEG_SEALED || live + rec_bytes > usable) {
                continue;
            }
            if (atomic_load(&s->writers) != 0) {
                blocked = true;
                continue;
            }
            if (live < best) {
                best = live;
                victim = (int)i;
            }
        }
        if (victim < 0 && blocked && wait && wait_writers(t, &deadline)) {
            iter--; /* waiting is not a compaction step */
            continue;
        }
        if (victim < 0 || t->free_count == 0) {
            /* (no free segment at all happens only after a restart that found every segment
               in use: then only segments emptied by removes can be reused) */
            st = blocked ? KVT_ERR_BUSY : KVT_ERR_NO_SPACE;
            break;
        }
        st = compact(t, (uint32_t)victim);
        if (st != KVT_OK) {
            break;
        }
        st = KVT_ERR_NO_SPACE;
    }
    pthread_mutex_unlock(&t->space_lock);
    return st;
}
