/*
 * An NVMe tier channel: one io_uring per channel, up to queue_depth I/Os in flight, nothing
 * shared with other channels on the I/O path except the index shard of the key and, for a
 * put, the short space_lock section that reserves its bytes.
 *
 * submit() prepares the SQE and returns; the SQEs queued since the last call are handed to the
 * kernel in one io_uring_enter by poll() (or when the submission queue fills), so a caller that
 * submits a batch and then polls pays one system call per batch. poll() hands the queued SQEs
 * to the kernel *before* it handles any completion, and handles completions (verifying a GET's
 * payload) only until min_complete ios (at least one) are done; the rest stay in the CQ ring
 * for the next poll. Verifying a GET means checksumming its payload, which has just been written
 * by DMA and is not in cache (11 us for 64 KiB here with XXH3, 4 us cached, when this was
 * measured; CRC-32C since: 9-13 us cold, bench/bench_verify_read): when poll verified
 * every completion there was before returning, a caller that resubmits after each poll left
 * that many slots of its queue depth idle on the device for the whole batch, and a 64 KiB QD 8
 * read lost about a third of its throughput to it (measured with a bare io_uring loop: batch
 * hashing 0.81 GB/s, hash then resubmit one at a time 1.05, no hash 1.28-1.34). When
 * completions are already posted poll costs one system call (the submission, if anything is
 * queued); when none are, one io_uring_enter submits and waits. Each I/O in flight owns a slot:
 * a 4 KiB-aligned buffer for its record descriptor and, when needed, the bounce copy of its
 * payload. A PUT whose buffer is 4 KiB aligned with a length that is a multiple of 4 KiB is
 * written zero-copy (writev: descriptor sector from the slot, payload from the caller); a GET
 * reads zero-copy into the caller's buffer when it is aligned and holds the padded payload.
 * Anything else goes through the slot's bounce buffer, which grows on first use to the largest
 * record seen and is then reused: the hot path allocates nothing once warm.
 *
 * A GET larger than CHUNK_MIN is read as up to MAX_CHUNKS chunks submitted together, and the
 * payload checksum (CRC-32C, which chains: one running value per slot) is computed over the
 * chunks in order as they complete, so checking a 16 MiB block (about 1.3 ms cold) overlaps
 * the reads still in flight instead of following the last one. The result equals
 * kvt_block_checksum of the whole payload. The GET completes once every chunk has (the kernel
 * may still be writing into the buffer until then), so a failed chunk fails the GET only after
 * the others land.
 *
 * Durability is a group commit: a durable put's write completing puts it on the channel's wait
 * list; whenever fewer than MAX_GROUPS groups are in flight, the whole wait list becomes a new
 * group and one IORING_OP_FSYNC (DATASYNC) per segment file in it is submitted; the group's puts
 * complete when its own fdatasyncs do. Every fdatasync of a group is issued after all of the
 * group's writes completed, so it covers them, whatever the other groups in flight do; groups
 * overlapping keeps the device busy with writes while a flush runs, instead of one flush at a
 * time gating the whole queue. The more puts in flight, the more each fdatasync covers. A record
 * is visible to GETs once its write has completed (before its fdatasync): its bytes are on the
 * device, only their durability is pending, and a failed fdatasync drops it again. A durable put
 * issued while nothing else is in flight on the channel (a QD 1 writer, or the first of a
 * batch) forms its group at once: its fdatasync is queued behind its write as a linked SQE
 * (IOSQE_IO_LINK), so the kernel starts it when the write completes, and the put costs one
 * submission and one wakeup instead of two round trips. A failed or short write severs the link
 * (the fdatasync completes -ECANCELED) and the put fails on its write. On the dev VM this took a
 * 64 KiB QD 1 put loop from 0.24 to 0.27 GB/s (bare io_uring loop, write 68 KiB + fdatasync).
 *
 * Every completion's result goes through kvt_sys.uring_result() first (fault injection). The
 * index holds no headers (nvme_index.c): a GET's first chunk reads the descriptor sector into
 * the slot together with the start of the payload (one readv, or one read into the bounce
 * buffer: descriptor then payload), and the GET verifies the descriptor (checksum, generation,
 * offset, key, length) and then the payload against the checksum the descriptor holds; a
 * mismatch drops the record (KVT_ERR_CORRUPT). A
 * GET whose segment was restarted by compaction while it read (generation changed) looks the
 * key up again: the record has moved, and what was read may be new data.
 */
#include "tier/nvme_internal.h"

#include "common/crc32c.h"
#include "common/logging.h"
#include "common/sysio.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

enum { STAGE_READ = 1, STAGE_WRITE = 2, STAGE_SYNC = 3 };

/* io->priv[] while the tier owns the io */
#define P_STAGE 0
#define P_SLOT  1
#define P_SEG   2
#define P_OFF   3
#define P_REC   4
#define P_GEN   5
#define P_NEXT  6
#define P_FLAGS 7 /* bit 0: bounce; bit 1: a PUT with its fdatasync linked (group 0);
                     bits 8..: GET retries */

#define FLAG_BOUNCE 1u
#define FLAG_LINKED 2u

/* user_data: a write's io pointer (8-aligned: tag 0); ((group << 32 | seg) << 2) | SYNC_TAG for
   an fsync; ((slot << 16 | chunk) << 2) | CHUNK_TAG for a chunk of a GET */
#define TAG_MASK  3u
#define SYNC_TAG  1u
#define CHUNK_TAG 2u

#define CHUNK_MIN  (1u << 20) /* GETs above this are read in chunks */
#define MAX_CHUNKS 16u        /* chunks per GET (they grow beyond CHUNK_MIN for larger ones) */
#define MAX_GROUPS 4u         /* fdatasync groups in flight per channel */

typedef struct slot {
    void *buf; /* NVME_SECTOR-aligned: descriptor sector, then the bounce payload */
    size_t cap;
    struct iovec iov[2];
    /* a GET in flight: its chunks and the running payload checksum */
    kvt_tier_io_t *io;
    uint32_t crc;     /* CRC-32C of the chunks hashed so far */
    uint64_t chunk;   /* bytes per chunk (the last may be shorter) */
    uint64_t done;    /* bit k: chunk k completed */
    uint32_t nchunks, ndone, nhashed;
    int res;          /* first failure among the chunks (0: none) */
    uint64_t res_off; /* and the file offset of that chunk */
    uint64_t res_len;
} slot_t;

typedef struct io_list {
    kvt_tier_io_t *head, *tail;
    size_t n;
} io_list_t;

typedef struct sync_group {
    io_list_t ios;
    uint32_t pending; /* fdatasyncs in flight; 0: the group is free */
    int res;
    bool linked; /* one put whose fdatasync is linked behind its write */
} sync_group_t;

typedef struct nvme_chan {
    nvme_tier_t *t;
    struct io_uring ring;
    uint32_t qd;
    slot_t *slots;
    uint32_t *free_slots;
    uint32_t nfree;
    uint32_t unsubmitted; /* SQEs prepared, not yet handed to the kernel */
    uint32_t writes;      /* PUT writes in flight */
    io_list_t done;       /* completed, not yet returned by poll */
    io_list_t wait;       /* written, waiting for the next fdatasync group */
    sync_group_t group[MAX_GROUPS]; /* groups whose fdatasyncs are in flight */
    uint32_t groups;                /* how many of them */
} nvme_chan_t;

static void list_push(io_list_t *l, kvt_tier_io_t *io)
{
    io->priv[P_NEXT] = 0;
    if (l->tail != NULL) {
        l->tail->priv[P_NEXT] = (uint64_t)(uintptr_t)io;
    } else {
        l->head = io;
    }
    l->tail = io;
    l->n++;
}

static kvt_tier_io_t *list_pop(io_list_t *l)
{
    kvt_tier_io_t *io = l->head;
    if (io != NULL) {
        l->head = (kvt_tier_io_t *)(uintptr_t)io->priv[P_NEXT];
        if (l->head == NULL) {
            l->tail = NULL;
        }
        l->n--;
    }
    return io;
}

/* The status is published when poll hands the io back (kept in priv[P_STAGE] until then), so a
   caller that waits for status != KVT_INPROGRESS (kvt_tier_run) also drains the done list. */
static void complete(nvme_chan_t *c, kvt_tier_io_t *io, kvt_status_t st)
{
    io->priv[P_STAGE] = (uint64_t)(int64_t)st;
    list_push(&c->done, io);
}

static uint32_t slot_take(nvme_chan_t *c)
{
    return c->free_slots[--c->nfree];
}

static void slot_give(nvme_chan_t *c, uint32_t i)
{
    c->free_slots[c->nfree++] = i;
}

static bool slot_reserve(slot_t *s, size_t bytes)
{
    if (s->cap >= bytes) {
        return true;
    }
    void *p = NULL;
    if (posix_memalign(&p, NVME_SECTOR, bytes) != 0) {
        return false;
    }
    free(s->buf);
    s->buf = p;
    s->cap = bytes;
    return true;
}

static struct io_uring_sqe *get_sqe(nvme_chan_t *c)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
    while (sqe == NULL) {
        int r = io_uring_submit(&c->ring);
        if (r >= 0) {
            c->unsubmitted = 0;
        }
        sqe = io_uring_get_sqe(&c->ring);
    }
    c->unsubmitted++;
    return sqe;
}

static void flush(nvme_chan_t *c)
{
    while (c->unsubmitted != 0) {
        int r = io_uring_submit(&c->ring);
        if (r >= 0) {
            c->unsubmitted = 0;
        } else if (r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            kvt_log_error("nvme: io_uring_submit: %s", strerror(-r));
            return;
        }
    }
}

/* ---- GET ---- */

/* Look key up and queue the reads of its descriptor and payload (the first chunk reads the
   descriptor sector too); completes the io at once on a miss, a buffer too small or no memory. */
static void get_issue(nvme_chan_t *c, kvt_tier_io_t *io, uint32_t slot)
{
    nvme_tier_t *t = c->t;
    nvme_shard_t *sh = nvme_index_shard(&t->index, io->meta.key);
    pthread_mutex_lock(&sh->lock);
    nvme_entry_t *e = nvme_shard_find(sh, io->meta.key);
    nvme_entry_t copy = {0};
    uint64_t gen = 0;
    if (e != NULL) {
        copy = *e;
        gen = atomic_load(&t->seg[copy.seg].gen); /* the record's: see nvme_internal.h */
    }
    pthread_mutex_unlock(&sh->lock);
    if (e == NULL) {
        slot_give(c, slot);
        complete(c, io, KVT_ERR_NOT_FOUND);
        return;
    }
    if (io->len < copy.payload_bytes) {
        slot_give(c, slot);
        complete(c, io, KVT_ERR_DOES_NOT_FIT);
        return;
    }
    io->meta.payload_bytes = copy.payload_bytes; /* the rest comes from the descriptor */
    uint64_t padded = nvme_round_up(copy.payload_bytes);
    slot_t *s = &c->slots[slot];
    char *dst = io->buf;
    uint64_t flags = io->priv[P_FLAGS] & ~(uint64_t)FLAG_BOUNCE;
    if (padded != 0 && (((uintptr_t)io->buf % NVME_SECTOR) != 0 || io->len < padded)) {
        if (!slot_reserve(s, NVME_SECTOR + (size_t)padded)) {
            slot_give(c, slot);
            complete(c, io, KVT_ERR_NO_MEMORY);
            return;
        }
        dst = (char *)s->buf + NVME_SECTOR;
        flags |= FLAG_BOUNCE;
    }
    uint64_t off = nvme_entry_off(&copy);
    io->priv[P_STAGE] = STAGE_READ;
    io->priv[P_SLOT] = slot;
    io->priv[P_SEG] = copy.seg;
    io->priv[P_OFF] = off;
    io->priv[P_REC] = nvme_entry_rec(&copy);
    io->priv[P_GEN] = gen;
    io->priv[P_FLAGS] = flags;
    uint64_t n = padded == 0 ? 1 : (padded + CHUNK_MIN - 1) / CHUNK_MIN;
    n = n > MAX_CHUNKS ? MAX_CHUNKS : n;
    s->chunk = nvme_round_up((padded + n - 1) / n);
    s->nchunks = padded == 0 ? 1 : (uint32_t)((padded + s->chunk - 1) / s->chunk);
    s->io = io;
    s->done = 0;
    s->ndone = 0;
    s->nhashed = 0;
    s->res = 0;
    s->crc = 0;
    int fd = t->seg[copy.seg].fd;
    for (uint32_t k = 0; k < s->nchunks; k++) {
        uint64_t start = (uint64_t)k * s->chunk;
        uint64_t len = padded - start < s->chunk ? padded - start : s->chunk;
        struct io_uring_sqe *sqe = get_sqe(c);
        if (k != 0) {
            io_uring_prep_read(sqe, fd, dst + start, (unsigned)len, off + NVME_SECTOR + start);
        } else if ((flags & FLAG_BOUNCE) != 0 || len == 0) {
            /* descriptor and payload contiguous in the slot */
            io_uring_prep_read(sqe, fd, s->buf, (unsigned)(NVME_SECTOR + len), off);
        } else {
            s->iov[0] = (struct iovec){.iov_base = s->buf, .iov_len = NVME_SECTOR};
            s->iov[1] = (struct iovec){.iov_base = dst, .iov_len = (size_t)len};
            io_uring_prep_readv(sqe, fd, s->iov, 2, off);
        }
        io_uring_sqe_set_data64(sqe, ((((uint64_t)slot << 16) | k) << 2) | CHUNK_TAG);
    }
}

/* Every chunk has landed: check the generation, the reads, the descriptor and the payload. */
static void get_finish(nvme_chan_t *c, kvt_tier_io_t *io, uint32_t slot)
{
    nvme_tier_t *t = c->t;
    slot_t *s = &c->slots[slot];
    uint32_t seg = (uint32_t)io->priv[P_SEG];
    uint64_t off = io->priv[P_OFF];
    uint64_t payload = io->meta.payload_bytes;
    if (atomic_load(&t->seg[seg].gen) != io->priv[P_GEN]) {
        /* the segment was restarted while we read: the record moved; look it up again */
        uint64_t retries = io->priv[P_FLAGS] >> 8;
        if (retries < NVME_GET_RETRIES) {
            io->priv[P_FLAGS] = (io->priv[P_FLAGS] & 0xff) | ((retries + 1) << 8);
            get_issue(c, io, slot);
            return;
        }
        kvt_log_error("nvme: GET gave up after %d relocations of its record", NVME_GET_RETRIES);
        slot_give(c, slot);
        complete(c, io, KVT_ERR_IO);
        return;
    }
    char path[4096];
    if (s->res != 0) {
        nvme_seg_path(t, seg, path, sizeof(path));
        kvt_log_error("nvme: %s: read of %llu bytes at %llu: %s", path,
                      (unsigned long long)s->res_len, (unsigned long long)s->res_off,
                      s->res < 0 ? strerror(-s->res) : "short read");
        nvme_count_error(t);
        slot_give(c, slot);
        complete(c, io, KVT_ERR_IO);
        return;
    }
    kvt_block_meta_t m;
    bool desc_ok = nvme_rec_decode(s->buf, io->priv[P_GEN], off, t->seg_bytes, &m) &&
                   kvt_key_equal(m.key, io->meta.key) && m.payload_bytes == payload;
    if (!desc_ok || (uint64_t)s->crc != m.payload_checksum) {
        nvme_seg_path(t, seg, path, sizeof(path));
        kvt_log_error("nvme: %s: record at %llu failed its %s checksum; dropped", path,
                      (unsigned long long)off, desc_ok ? "payload" : "descriptor");
        nvme_count_error(t);
        nvme_index_drop_at(t, io->meta.key, seg, off);
        slot_give(c, slot);
        complete(c, io, KVT_ERR_CORRUPT);
        return;
    }
    if ((io->priv[P_FLAGS] & FLAG_BOUNCE) != 0) {
        memcpy(io->buf, (char *)s->buf + NVME_SECTOR, (size_t)payload);
    }
    io->meta = m;
    io->len = (size_t)payload;
    slot_give(c, slot);
    complete(c, io, KVT_OK);
}

/* Chunk k of the GET in `slot` completed: hash what is now contiguous from the front. */
static void get_chunk_done(nvme_chan_t *c, uint32_t slot, uint32_t k, int cqe_res)
{
    nvme_tier_t *t = c->t;
    slot_t *s = &c->slots[slot];
    kvt_tier_io_t *io = s->io;
    uint32_t seg = (uint32_t)io->priv[P_SEG];
    uint64_t payload = io->meta.payload_bytes;
    uint64_t padded = nvme_round_up(payload);
    uint64_t start = (uint64_t)k * s->chunk;
    uint64_t len = padded - start < s->chunk ? padded - start : s->chunk;
    /* chunk 0 starts at the descriptor sector */
    uint64_t foff = io->priv[P_OFF] + (k == 0 ? 0 : NVME_SECTOR + start);
    uint64_t want = len + (k == 0 ? NVME_SECTOR : 0);
    int res = kvt_sys.uring_result(KVT_SYS_URING_READ, t->seg[seg].fd, (size_t)want,
                                   (off_t)foff, cqe_res);
    if (res != (int)want && s->res == 0) {
        s->res = res < 0 ? res : 1; /* > 0: short */
        s->res_off = foff;
        s->res_len = want;
    }
    s->done |= 1ull << k;
    s->ndone++;
    const char *src = (io->priv[P_FLAGS] & FLAG_BOUNCE) != 0 ? (char *)s->buf + NVME_SECTOR
                                                             : io->buf;
    while (s->res == 0 && s->nhashed < s->nchunks && ((s->done >> s->nhashed) & 1) != 0) {
        uint64_t h0 = (uint64_t)s->nhashed * s->chunk;
        uint64_t h1 = h0 + s->chunk < payload ? h0 + s->chunk : payload;
        if (h1 > h0) {
            s->crc = kvt_crc32c(s->crc, src + h0, (size_t)(h1 - h0));
        }
        s->nhashed++;
    }
    if (s->ndone == s->nchunks) {
        get_finish(c, io, slot);
    }
}

/* ---- PUT ---- */

/* Wait for this channel's own writes (they may pin the segment compaction needs). */
static void reap(nvme_chan_t *c, bool wait);

static void drain_writes(nvme_chan_t *c)
{
    while (c->writes != 0) {
        reap(c, true);
    }
}

static kvt_status_t put_issue(nvme_chan_t *c, kvt_tier_io_t *io, uint32_t slot)
{
    nvme_tier_t *t = c->t;
    uint64_t rec = nvme_rec_bytes(io->len);
    slot_t *s = &c->slots[slot];
    bool zero_copy = io->len != 0 && ((uintptr_t)io->buf % NVME_SECTOR) == 0 &&
                     (io->len % NVME_SECTOR) == 0;
    if (!slot_reserve(s, zero_copy ? NVME_SECTOR : (size_t)rec)) {
        return KVT_ERR_NO_MEMORY;
    }
    uint32_t seg;
    uint64_t off, gen;
    kvt_status_t st = nvme_space_alloc(t, rec, false, &seg, &off, &gen);
    if (st == KVT_ERR_BUSY) {
        /* appends in flight pin the only segments compaction could free: reap ours, then wait
           (bounded) for the other channels' to complete */
        drain_writes(c);
        st = nvme_space_alloc(t, rec, true, &seg, &off, &gen);
    }
    if (st != KVT_OK) {
        return st;
    }
    nvme_rec_encode(&io->meta, gen, off, s->buf);
    io->priv[P_STAGE] = STAGE_WRITE;
    io->priv[P_SLOT] = slot;
    io->priv[P_SEG] = seg;
    io->priv[P_OFF] = off;
    io->priv[P_REC] = rec;
    io->priv[P_GEN] = gen;
    /* alone on the channel: the write and its fdatasync go in together (both SQEs in one
       submission, or the link would be cut by a submit in between) */
    bool link = t->durable && c->nfree == c->qd - 1 && c->groups == 0 && c->wait.head == NULL &&
                io_uring_sq_space_left(&c->ring) >= 2;
    struct io_uring_sqe *sqe = get_sqe(c);
    if (zero_copy) {
        s->iov[0] = (struct iovec){.iov_base = s->buf, .iov_len = NVME_SECTOR};
        s->iov[1] = (struct iovec){.iov_base = io->buf, .iov_len = io->len};
        io_uring_prep_writev(sqe, t->seg[seg].fd, s->iov, 2, off);
    } else {
        char *p = (char *)s->buf + NVME_SECTOR;
        memcpy(p, io->buf, io->len);
        memset(p + io->len, 0, (size_t)(rec - NVME_SECTOR - io->len));
        io_uring_prep_write(sqe, t->seg[seg].fd, s->buf, (unsigned)rec, off);
    }
    io_uring_sqe_set_data(sqe, io);
    c->writes++;
    if (link) {
        sqe->flags |= IOSQE_IO_LINK;
        sync_group_t *gr = &c->group[0]; /* no group is in flight: a linked put's is group 0 */
        *gr = (sync_group_t){.pending = 1, .linked = true};
        list_push(&gr->ios, io);
        c->groups++;
        io->priv[P_FLAGS] = FLAG_LINKED;
        sqe = get_sqe(c);
        io_uring_prep_fsync(sqe, t->seg[seg].fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data64(sqe, ((uint64_t)seg << 2) | SYNC_TAG);
    }
    return KVT_OK;
}

static void put_done(nvme_chan_t *c, kvt_tier_io_t *io, int cqe_res)
{
    nvme_tier_t *t = c->t;
    uint32_t seg = (uint32_t)io->priv[P_SEG];
    uint64_t off = io->priv[P_OFF];
    uint64_t rec = io->priv[P_REC];
    int res = kvt_sys.uring_result(KVT_SYS_URING_WRITE, t->seg[seg].fd, (size_t)rec, (off_t)off,
                                   cqe_res);
    slot_give(c, (uint32_t)io->priv[P_SLOT]);
    c->writes--;
    bool linked = (io->priv[P_FLAGS] & FLAG_LINKED) != 0;
    if (res != (int)rec && linked) {
        /* its group dies with it: the linked fdatasync is cancelled (or, were the failure
           injected, syncs nothing that matters) */
        c->group[0].ios = (io_list_t){0};
    }
    if (res != (int)rec) {
        char path[4096];
        nvme_seg_path(t, seg, path, sizeof(path));
        kvt_log_error("nvme: %s: write of %llu bytes at %llu: %s", path,
                      (unsigned long long)rec, (unsigned long long)off,
                      res < 0 ? strerror(-res) : "short write");
        nvme_count_error(t);
        nvme_space_writer_done(t, seg);
        complete(c, io, res == -ENOSPC || res == -EDQUOT ? KVT_ERR_NO_SPACE : KVT_ERR_IO);
        return;
    }
    nvme_loc_t loc = {.seg = seg, .off = off, .rec_bytes = rec};
    bool indexed = nvme_index_put(t, io->meta.key, io->meta.payload_bytes, &loc, io->priv[P_GEN],
                                  true);
    nvme_space_writer_done(t, seg); /* after the index insert (see nvme_space.c) */
    if (!indexed && !nvme_index_contains_key(t, io->meta.key)) {
        complete(c, io, KVT_ERR_NO_MEMORY);
        return;
    }
    if (!t->durable) {
        complete(c, io, KVT_OK);
        return;
    }
    io->priv[P_STAGE] = STAGE_SYNC;
    if (!linked) {
        list_push(&c->wait, io);
    } /* else: already in its group, whose fdatasync the kernel starts now */
}

/* Turn the wait list into a new group, if one is free: one fdatasync per segment file it wrote
   to, all issued now that each of the group's writes has completed. */
static void sync_start(nvme_chan_t *c)
{
    if (c->groups == MAX_GROUPS || c->wait.head == NULL) {
        return;
    }
    uint32_t g = 0;
    while (c->group[g].pending != 0) {
        g++;
    }
    sync_group_t *gr = &c->group[g];
    gr->ios = c->wait;
    c->wait = (io_list_t){0};
    gr->res = 0;
    gr->linked = false;
    uint32_t segs[8];
    uint32_t nsegs = 0;
    for (kvt_tier_io_t *io = gr->ios.head; io != NULL;
         io = (kvt_tier_io_t *)(uintptr_t)io->priv[P_NEXT]) {
        uint32_t seg = (uint32_t)io->priv[P_SEG];
        bool seen = false;
        for (uint32_t i = 0; i < nsegs; i++) {
            seen = seen || segs[i] == seg;
        }
        if (!seen && nsegs < 8) {
            segs[nsegs++] = seg;
        } else if (!seen) {
            /* more than 8 segments in one group cannot happen with sane segment sizes; sync
               the extra ones synchronously rather than lose their durability */
            if (kvt_sys.fdatasync(c->t->seg[seg].fd) != 0) {
                gr->res = -errno;
            }
        }
    }
    for (uint32_t i = 0; i < nsegs; i++) {
        struct io_uring_sqe *sqe = get_sqe(c);
        io_uring_prep_fsync(sqe, c->t->seg[segs[i]].fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data64(sqe, ((((uint64_t)g << 32) | segs[i]) << 2) | SYNC_TAG);
        gr->pending++;
    }
    c->groups++;
}

static void sync_done(nvme_chan_t *c, uint32_t g, uint32_t seg, int cqe_res)
{
    nvme_tier_t *t = c->t;
    sync_group_t *gr = &c->group[g];
    int res = kvt_sys.uring_result(KVT_SYS_URING_FSYNC, t->seg[seg].fd, 0, 0, cqe_res);
    if (gr->linked && gr->ios.head == NULL) {
        res = 0; /* its put failed on the write and has completed: nothing was covered */
    }
    if (res < 0) {
        char path[4096];
        nvme_seg_path(t, seg, path, sizeof(path));
        kvt_log_error("nvme: %s: fdatasync: %s; the puts it covered fail", path, strerror(-res));
        nvme_count_error(t);
        gr->res = res;
    }
    if (--gr->pending != 0) {
        return;
    }
    c->groups--;
    kvt_tier_io_t *io;
    while ((io = list_pop(&gr->ios)) != NULL) {
        if (gr->res < 0) {
            nvme_index_drop_at(t, io->meta.key, (uint32_t)io->priv[P_SEG], io->priv[P_OFF]);
            complete(c, io, gr->res == -ENOSPC ? KVT_ERR_NO_SPACE : KVT_ERR_IO);
        } else {
            complete(c, io, KVT_OK);
        }
    }
}

/* ---- completion loop ---- */

static bool busy(const nvme_chan_t *c)
{
    return c->nfree != c->qd || c->groups != 0 || c->wait.head != NULL;
}

/* Handle the completions already in the CQ ring (no system call), in order, until `want` ios
   wait on the done list; the rest stay in the ring for the next poll. */
static void handle_cqes_until(nvme_chan_t *c, size_t want)
{
    struct io_uring_cqe *cqe;
    while (c->done.n < want && io_uring_peek_cqe(&c->ring, &cqe) == 0) {
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&c->ring, cqe); /* before the handler: it may resubmit (GET retry) */
        uint64_t v = ud >> 2;
        if ((ud & TAG_MASK) == SYNC_TAG) {
            sync_done(c, (uint32_t)(v >> 32), (uint32_t)v, res);
        } else if ((ud & TAG_MASK) == CHUNK_TAG) {
            get_chunk_done(c, (uint32_t)(v >> 16), (uint32_t)(v & 0xffff), res);
        } else {
            put_done(c, (kvt_tier_io_t *)(uintptr_t)ud, res);
        }
    }
}

/* Handle every completion already in the CQ ring (no system call). */
static void handle_cqes(nvme_chan_t *c)
{
    handle_cqes_until(c, SIZE_MAX);
}

/* Hand queued SQEs to the kernel and wait for at least one completion, in one system call
   (only with I/O in flight); completions are left in the CQ ring. */
static void submit_and_wait_one(nvme_chan_t *c)
{
    int r;
    do {
        r = io_uring_submit_and_wait(&c->ring, 1);
    } while (r == -EINTR || r == -EAGAIN || r == -EBUSY);
    if (r >= 0) {
        c->unsubmitted = 0;
    }
}

/* Hand queued SQEs to the kernel and wait for at least one completion in the same system call
   (only call it with I/O in flight), then handle every completion there is. */
static void submit_wait(nvme_chan_t *c)
{
    sync_start(c);
    submit_and_wait_one(c);
    handle_cqes(c);
}

/* Hand queued SQEs to the kernel and handle every completion there is; with wait, block for
   at least one first (only call it with I/O in flight). */
static void reap(nvme_chan_t *c, bool wait)
{
    if (wait) {
        submit_wait(c);
    } else {
        sync_start(c);
        flush(c);
        handle_cqes(c);
    }
    sync_start(c);
    flush(c);
}

/* ---- the ops entries ---- */

/* Free what nvme_chan_open allocated (the ring is the caller's): the slots and their bounce
 * buffers, the free list, the channel. */
static void chan_free(nvme_chan_t *c)
{
    if (c->slots != NULL) {
        for (uint32_t i = 0; i < c->qd; i++) {
            free(c->slots[i].buf);
        }
    }
    free(c->slots);
    free(c->free_slots);
    free(c);
}

kvt_status_t nvme_chan_open(void *ctx, void **chan_p)
{
    nvme_tier_t *t = ctx;
    nvme_chan_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    c->t = t;
    c->qd = t->queue_depth;
    c->slots = calloc(c->qd, sizeof(*c->slots));
    c->free_slots = calloc(c->qd, sizeof(*c->free_slots));
    if (c->slots == NULL || c->free_slots == NULL) {
        goto err_alloc;
    }
    for (uint32_t i = 0; i < c->qd; i++) {
        if (!slot_reserve(&c->slots[i], NVME_SECTOR)) {
            goto err_alloc;
        }
        c->free_slots[i] = c->qd - 1 - i;
    }
    c->nfree = c->qd;
    /* SQ: an SQE per I/O plus some fdatasyncs (get_sqe submits when it is full); CQ: room for
       every chunk of qd GETs and the fdatasyncs of MAX_GROUPS groups. COOP_TASKRUN: no IPI to
       run completions' task work (a VM exit each here); SINGLE_ISSUER | DEFER_TASKRUN, which fio
       uses, measured no better at 64 KiB QD 8 (three alternating runs) and would tie the ring
       to the thread that opened the channel. */
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    p.cq_entries = c->qd * MAX_CHUNKS + MAX_GROUPS * 8;
    int r = io_uring_queue_init_params(c->qd + 16, &c->ring, &p);
    if (r == -EINVAL) {
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
        p.cq_entries = c->qd * MAX_CHUNKS + MAX_GROUPS * 8;
        r = io_uring_queue_init_params(c->qd + 16, &c->ring, &p);
    }
    if (r < 0) {
        kvt_log_error("nvme: io_uring_queue_init (%u entries): %s", c->qd + 16, strerror(-r));
        chan_free(c);
        return r == -ENOMEM ? KVT_ERR_NO_MEMORY : KVT_ERR_UNAVAILABLE;
    }
    *chan_p = c;
    return KVT_OK;

err_alloc:
    chan_free(c);
    return KVT_ERR_NO_MEMORY;
}

void nvme_chan_close(void *chan)
{
    nvme_chan_t *c = chan;
    if (c == NULL) {
        return;
    }
    while (busy(c)) {
        reap(c, true);
    }
    io_uring_queue_exit(&c->ring);
    chan_free(c);
}

kvt_status_t nvme_chan_submit(void *chan, kvt_tier_io_t *io)
{
    nvme_chan_t *c = chan;
    if (c->nfree == 0) {
        return KVT_ERR_BUSY;
    }
    io->priv[P_FLAGS] = 0;
    uint32_t slot = slot_take(c);
    if (io->op == KVT_TIER_GET) {
        get_issue(c, io, slot);
        return KVT_OK;
    }
    if (nvme_index_contains_key(c->t, io->meta.key)) {
        slot_give(c, slot);
        complete(c, io, KVT_OK); /* equal keys name equal content: nothing to write */
        return KVT_OK;
    }
    kvt_status_t st = put_issue(c, io, slot);
    if (st != KVT_OK) {
        slot_give(c, slot);
        complete(c, io, st);
    }
    return KVT_OK;
}

size_t nvme_chan_poll(void *chan, size_t min_complete, kvt_tier_io_t **done, size_t max)
{
    nvme_chan_t *c = chan;
    /* The device first: SQEs queued since the last poll are handed to the kernel before any
       completion is handled, and completions are handled (a GET's payload verified) only until
       min_complete ios are done, at least one; the others stay in the CQ ring for the next
       poll. So a caller that resubmits after each poll keeps its queue depth on the device
       while a GET is being verified, instead of letting it drain while a whole batch is
       hashed. At most one system call per poll when completions are already there (the
       submission) or one when they are not (submit and wait in one io_uring_enter). */
    size_t want = min_complete > 0 ? min_complete : 1;
    if (io_uring_cq_ready(&c->ring) != 0 || !busy(c)) {
        sync_start(c);
        flush(c);
        handle_cqes_until(c, want);
    }
    while (c->done.n < min_complete && busy(c)) {
        sync_start(c);
        submit_and_wait_one(c);
        handle_cqes_until(c, want);
    }
    sync_start(c);
    flush(c);
    size_t n = 0;
    while (n < max && c->done.head != NULL) {
        kvt_tier_io_t *io = list_pop(&c->done);
        io->status = (kvt_status_t)(int64_t)io->priv[P_STAGE];
        done[n++] = io;
    }
    return n;
}
