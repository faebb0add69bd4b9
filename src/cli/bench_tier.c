/*
 * One benchmark point through a tier: the loop an inference engine's offload thread runs.
 *
 * A fresh tier is opened with room for the blocks of the point and one channel of queue depth
 * QD. The write phase keeps QD PUTs in flight: it submits until the channel answers
 * KVT_ERR_BUSY or QD I/Os are outstanding, polls for at least one completion, and submits again;
 * the read phase does the same with GETs of every block written, in order. Each I/O's latency
 * runs from just before kvt_tier_submit to the poll that hands it back (one clock reading per
 * poll batch), so queueing inside the tier counts, as it does for a caller. Bandwidth is payload
 * bytes over the wall time of the phase.
 *
 * Everything a tier does not do for a real caller stays outside the clock: payloads are random
 * bytes generated up front into a pool of buffers and their checksums (kvt_block_checksum) are
 * computed before timing, as a caller hashing KV once would. In-flight PUTs may share a source
 * buffer, since a PUT only reads it. Each in-flight GET has its own destination buffer, so
 * persistent tiers can verify checksums without two reads racing into one buffer. The buffers
 * are the peer's kind of memory, because where a device reads and writes matters: on the dev VM
 * a 1 MiB O_DIRECT read into a huge page took 370 us and into 4 KiB pages 530-685 us (the
 * virtio request carries a segment per discontiguous page). For the memory tiers the pool is
 * 64 MiB (or the point's blocks, if fewer) in huge pages, as is the memcpy peer's source. For
 * the storage tiers it is one buffer per I/O in flight in 4 KiB pages, and the GET buffers are in
 * 4 KiB pages too, as fio's buffers are (fio allocates iodepth of them with malloc).
 *
 * After the read phase, the block each GET buffer last received is checked against the checksum
 * written: a tier that returns the wrong bytes fails the benchmark rather than posting a fast
 * figure.
 *
 * With a time budget the phase stops submitting once it has run that long and drains what is in
 * flight; the read phase then reads only the blocks the write phase wrote. Keys are distinct per
 * run (a nonce from the clock and pid), so no PUT is absorbed as "already present".
 *
 * The memory tiers are warmed first: one untimed pass of PUTs under other keys, then those keys
 * removed, then every page of the tier's memory faulted in. Their arenas fault pages in on first
 * use and keep them after a remove, so the timed phases measure the steady state of a store that
 * has been running, not the kernel zeroing fresh pages. The pass alone did not cover them: the
 * arena hands out slabs of several slots (16 MiB of 1 MiB slots by default), lowest slot first,
 * and takes back the slab freed last first, so the timed phase began with the warm-up's last,
 * partly written slab and filled the rest of it -- up to a slab of fresh pages, eight 2 MiB
 * transparent huge pages, faulted inside the clock. Whenever the warm-up's count was not a
 * whole number of slabs (a time limit, or --total 312M) that cost 20-30 ms of kernel time in a
 * 50-70 ms phase on the 2-vCPU dev VM, and the write ratio read 0.6-0.8x; --total 512M (a whole
 * number of slabs) did not show it. The warm-up keys share the timed keys' high word (the
 * memory tiers shard their key map by it), so the key map has grown to size before the clock
 * too. The nvme tier is brought to its steady state by kvt_tier_prefault alone: a segment, once
 * used and recycled, holds written blocks, and appends overwrite them; a fresh tier's segments
 * are fallocate'd (unwritten extents), whose first write also converts them, a journal update
 * each put's fdatasync commits (1.8x the time of a 64 KiB put on the dev VM's ext4). The fio
 * peer overwrites a laid-out file likewise (bench_peer.c). The pfs tier writes a new file per
 * block, so its first write is its steady state.
 */
#include "cli/bench_tier.h"

#include "cli/bench_stats.h"
#include "cli/bench_sys.h"
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_BYTES     (64ull << 20)
#define PROGRESS_NS    100000000ull /* at most ten progress updates a second */
#define WARM_LO        (1ull << 63) /* warm-up keys: low words the timed phases never use */

typedef struct slot {
    kvt_tier_io_t io;
    uint64_t submit_ns;
    uint64_t block;      /* index of the block this I/O carries */
    void *getbuf;        /* GET destination, block_bytes */
    bool got;            /* a GET completed into getbuf ... */
    uint64_t got_block;  /* ... of this block */
} slot_t;

typedef struct bench {
    const kvt_bench_io_opts_t *o;
    kvt_tier_channel_t *chan;
    uint64_t nonce;
    uint64_t lo_base;    /* added to block + 1 to make a key's low word */
    uint64_t nblocks;    /* blocks the write phase may write */
    size_t npool;
    unsigned char *pool_mem; /* npool blocks, one after another (see bench_alloc) */
    unsigned char **pool;
    uint64_t *sums;      /* checksum of pool[i] */
    slot_t *slots;
    uint64_t *lat;       /* nanoseconds, one per I/O of the phase */
    uint64_t last_progress;
} bench_t;

void kvt_bench_tier_config(kvt_tier_config_t *cfg, kvt_tier_kind_t kind, const char *dir,
                           uint64_t block_bytes, uint64_t nblocks, uint32_t queue_depth)
{
    kvt_tier_config_init(cfg, kind);
    uint64_t rec = block_bytes + KVT_BLOCK_HEADER_BYTES;
    if (rec > cfg->max_record_bytes) {
        cfg->max_record_bytes = rec;
    }
    /* records padded to 4 KiB (O_DIRECT), an eighth more for allocator and segment slack, and
       two whole segments for the nvme log's open and spare segments */
    uint64_t padded = (rec + 4095) / 4096 * 4096;
    uint64_t cap = nblocks * padded;
    cap += cap / 8 + 2 * cfg->segment_bytes;
    if (kind == KVT_TIER_DRAM || kind == KVT_TIER_CXL) {
        cap = nblocks * padded + nblocks * padded / 8 + (4ull << 20);
    }
    cfg->capacity_bytes = cap;
    cfg->dir = dir;
    cfg->queue_depth = queue_depth;
}

static void progress(bench_t *b, uint64_t base, uint64_t done, uint64_t n, uint64_t t0)
{
    if (b->o->progress == NULL) {
        return;
    }
    uint64_t now = kvt_bench_now_ns();
    if (now - b->last_progress < PROGRESS_NS) {
        return;
    }
    b->last_progress = now;
    double f = n ? (double)done / (double)n : 1.0;
    if (b->o->seconds > 0) {
        double ft = (double)(now - t0) / (b->o->seconds * 1e9);
        f = ft > f ? ft : f;
    }
    f = f > 1 ? 1 : f;
    b->o->progress(base + (uint64_t)(f * 499), 1000, b->o->progress_arg);
}

static void fill_io(bench_t *b, slot_t *s, kvt_tier_op_t op, uint64_t block)
{
    kvt_tier_io_t *io = &s->io;
    memset(io, 0, sizeof(*io));
    io->op = op;
    io->meta.key.lo = b->lo_base + block + 1;
    io->meta.key.hi = b->nonce;
    io->user = s;
    s->block = block;
    if (op == KVT_TIER_PUT) {
        size_t p = (size_t)(block % b->npool);
        io->meta.layout = KVT_BLOCK_LAYOUT_OPAQUE;
        io->meta.payload_bytes = b->o->block_bytes;
        io->meta.payload_checksum = b->sums[p];
        io->buf = b->pool[p];
    } else {
        io->buf = s->getbuf;
    }
    io->len = (size_t)b->o->block_bytes;
}

/* Run one phase over blocks [0, n); *done_p = blocks completed (all of them unless the time
   budget ran out). The warm-up (report = false) reports no progress. */
static kvt_status_t phase(bench_t *b, kvt_tier_op_t op, uint64_t n, bool report,
                          kvt_bench_side_t *side, uint64_t *done_p, kvt_error_t *err)
{
    const char *name = kvt_tier_kind_name(b->o->kind);
    const char *what = op == KVT_TIER_PUT ? "put" : "get";
    uint32_t qd = b->o->queue_depth;
    uint32_t *freel = malloc(qd * sizeof(*freel));
    kvt_tier_io_t **done = malloc(qd * sizeof(*done));
    if (freel == NULL || done == NULL) {
        free(freel);
        free(done);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "out of memory");
    }
    uint32_t nfree = 0;
    for (uint32_t i = qd; i-- > 0;) {
        freel[nfree++] = i;
    }
    uint64_t next = 0, completed = 0, inflight = 0;
    uint64_t base = op == KVT_TIER_PUT ? 0 : 500;
    kvt_status_t st = KVT_OK;
    uint64_t deadline = 0;
    uint64_t t0 = kvt_bench_now_ns();
    if (b->o->seconds > 0) {
        deadline = t0 + (uint64_t)(b->o->seconds * 1e9);
    }
    while (completed < n && st == KVT_OK) {
        while (nfree > 0 && next < n) {
            uint64_t now = kvt_bench_now_ns();
            if (deadline != 0 && now >= deadline) {
                n = next; /* out of time: drain what is in flight */
                break;
            }
            slot_t *s = &b->slots[freel[nfree - 1]];
            fill_io(b, s, op, next);
            s->submit_ns = now;
            kvt_status_t rc = kvt_tier_submit(b->chan, &s->io);
            if (rc == KVT_ERR_BUSY) {
                if (inflight == 0) {
                    st = kvt_error_set(err, KVT_ERR_IO, "%s: %s of block %llu: channel busy "
                                                        "with nothing in flight",
                                       name, what, (unsigned long long)next);
                }
                break;
            }
            if (rc != KVT_OK) {
                st = kvt_error_set(err, rc, "%s: %s of block %llu (%llu bytes): %s", name, what,
                                   (unsigned long long)next,
                                   (unsigned long long)b->o->block_bytes, kvt_status_str(rc));
                break;
            }
            nfree--;
            next++;
            inflight++;
        }
        if (inflight == 0) {
            break;
        }
        size_t got = kvt_tier_poll(b->chan, 1, done, qd);
        uint64_t now = kvt_bench_now_ns();
        for (size_t i = 0; i < got; i++) {
            slot_t *s = done[i]->user;
            b->lat[completed++] = now - s->submit_ns;
            inflight--;
            freel[nfree++] = (uint32_t)(s - b->slots);
            kvt_status_t ios = s->io.status;
            if (ios == KVT_OK && op == KVT_TIER_GET && s->io.len != b->o->block_bytes) {
                ios = KVT_ERR_CORRUPT;
            }
            if (ios != KVT_OK && st == KVT_OK) {
                st = kvt_error_set(err, ios, "%s: %s of block %llu (%llu bytes): %s", name, what,
                                   (unsigned long long)s->block,
                                   (unsigned long long)b->o->block_bytes, kvt_status_str(ios));
            }
            if (op == KVT_TIER_GET && ios == KVT_OK) {
                s->got = true;
                s->got_block = s->block;
            }
        }
        if (report) {
            progress(b, base, completed, n, t0);
        }
    }
    /* on an error, let what is in flight finish before the buffers go */
    while (inflight > 0) {
        inflight -= kvt_tier_poll(b->chan, 1, done, qd);
    }
    uint64_t t1 = kvt_bench_now_ns();
    free(freel);
    free(done);
    if (st != KVT_OK) {
        return st;
    }
    side->ios = completed;
    side->bytes = completed * b->o->block_bytes;
    side->ns = t1 - t0;
    side->GBps = kvt_bench_gbps(side->bytes, side->ns);
    side->p50_us = (double)kvt_bench_percentile(b->lat, completed, 50) / 1e3;
    side->p99_us = (double)kvt_bench_percentile(b->lat, completed, 99) / 1e3;
    *done_p = completed;
    return KVT_OK;
}

/*
 * Memory tiers fault their pages in on the first put into each (arena.c) and keep them when a
 * slot is freed: fill the tier once with other keys and remove them, so the timed phases see
 * the steady state a long-running store is in (the memcpy peer's arena is pre-faulted too), and
 * fault in the rest of the tier's memory, which the pass does not reach (see the top of this
 * file). Under a time budget the warm-up gets the same budget, and the timed phases then write
 * no more blocks than it warmed.
 */
static kvt_status_t warm_up(bench_t *b, kvt_tier_t *tier, kvt_error_t *err)
{
    kvt_bench_side_t side;
    uint64_t done = 0;
    b->lo_base = WARM_LO;
    kvt_status_t st = phase(b, KVT_TIER_PUT, b->nblocks, false, &side, &done, err);
    for (uint64_t i = 0; i < done; i++) {
        kvt_key_t key = {.lo = WARM_LO + i + 1, .hi = b->nonce};
        kvt_status_t rs = kvt_tier_remove(tier, key);
        if (rs != KVT_OK && st == KVT_OK) {
            st = kvt_error_set(err, rs, "%s: removing warm-up block %llu: %s",
                               kvt_tier_kind_name(b->o->kind), (unsigned long long)i,
                               kvt_status_str(rs));
        }
    }
    b->lo_base = 0;
    if (st == KVT_OK && done > 0) {
        b->nblocks = done;
    }
    if (st == KVT_OK && (st = kvt_tier_prefault(tier)) != KVT_OK) {
        kvt_error_set(err, st, "%s: faulting in the tier's memory: %s",
                      kvt_tier_kind_name(b->o->kind), kvt_status_str(st));
    }
    return st;
}

static void bench_free(bench_t *b)
{
    if (b->slots != NULL) {
        for (uint32_t i = 0; i < b->o->queue_depth; i++) {
            free(b->slots[i].getbuf);
        }
    }
    free(b->pool);
    free(b->pool_mem);
    free(b->sums);
    free(b->slots);
    free(b->lat);
}

static kvt_status_t bench_alloc(bench_t *b, kvt_error_t *err)
{
    const kvt_bench_io_opts_t *o = b->o;
    bool storage = o->kind == KVT_TIER_NVME || o->kind == KVT_TIER_PFS;
    uint64_t pool = storage ? o->queue_depth : POOL_BYTES / o->block_bytes;
    pool = pool < 1 ? 1 : pool;
    b->npool = (size_t)(pool < b->nblocks ? pool : b->nblocks);
    b->pool = calloc(b->npool, sizeof(*b->pool));
    b->sums = calloc(b->npool, sizeof(*b->sums));
    b->slots = calloc(o->queue_depth, sizeof(*b->slots));
    b->lat = malloc(b->nblocks * sizeof(*b->lat));
    /* 4 KiB aligned blocks (block_bytes is a multiple of 4 KiB), as O_DIRECT wants: for the
       storage tiers in 4 KiB pages (fio's), else in huge pages (the memcpy peer's) */
    size_t pool_bytes = b->npool * (size_t)o->block_bytes;
    if (storage) {
        if (posix_memalign((void **)&b->pool_mem, 4096, pool_bytes) != 0) {
            b->pool_mem = NULL;
        }
    } else {
        b->pool_mem = kvt_sys_alloc_buffers(pool_bytes);
    }
    if (b->pool == NULL || b->sums == NULL || b->slots == NULL || b->lat == NULL ||
        b->pool_mem == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "out of memory for %llu blocks",
                             (unsigned long long)b->nblocks);
    }
    uint64_t seed = b->nonce | 1;
    for (size_t i = 0; i < b->npool; i++) {
        b->pool[i] = b->pool_mem + i * (size_t)o->block_bytes;
        kvt_bench_fill_random(b->pool[i], (size_t)o->block_bytes, &seed);
        b->sums[i] = kvt_block_checksum(b->pool[i], (size_t)o->block_bytes);
    }
    for (uint32_t i = 0; i < o->queue_depth; i++) {
        if (posix_memalign(&b->slots[i].getbuf, 4096, (size_t)o->block_bytes) != 0) {
            b->slots[i].getbuf = NULL;
            return kvt_error_set(err, KVT_ERR_NO_MEMORY, "out of memory for read buffers");
        }
        memset(b->slots[i].getbuf, 0, (size_t)o->block_bytes); /* fault the pages in now */
    }
    return KVT_OK;
}

kvt_status_t kvt_bench_tier_run(const kvt_bench_io_opts_t *o, kvt_bench_result_t *r_p,
                                kvt_error_t *err)
{
    const char *name = kvt_tier_kind_name(o->kind);
    bench_t b;
    kvt_bench_result_t r;
    kvt_tier_config_t cfg;
    kvt_tier_t *tier = NULL;
    kvt_status_t st;

    if (o->block_bytes == 0 || o->queue_depth == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID, "%s: block size and queue depth must be "
                                                   "positive", name);
    }
    memset(&b, 0, sizeof(b));
    memset(&r, 0, sizeof(r));
    b.o = o;
    b.nblocks = o->total_bytes / o->block_bytes;
    b.nblocks = b.nblocks < 1 ? 1 : b.nblocks;
    b.nonce = kvt_bench_now_ns() ^ ((uint64_t)getpid() << 40);
    st = bench_alloc(&b, err);
    if (st != KVT_OK) {
        goto out;
    }
    kvt_bench_tier_config(&cfg, o->kind, o->dir, o->block_bytes, b.nblocks, o->queue_depth);
    cfg.durable = !o->no_durable;
    r.capacity_bytes = cfg.capacity_bytes;
    st = kvt_tier_open(&cfg, &tier, err);
    if (st != KVT_OK) {
        goto out;
    }
    st = kvt_tier_channel_open(tier, &b.chan);
    if (st != KVT_OK) {
        kvt_error_set(err, st, "%s: opening a channel: %s", name, kvt_status_str(st));
        goto out_tier;
    }
    uint64_t written = 0, read = 0;
    if (o->kind == KVT_TIER_DRAM || o->kind == KVT_TIER_CXL) {
        st = warm_up(&b, tier, err);
    } else if ((st = kvt_tier_prefault(tier)) != KVT_OK) {
        kvt_error_set(err, st, "%s: writing the free space once (prefault): %s", name,
                      kvt_status_str(st));
    }
    if (st == KVT_OK) {
        st = phase(&b, KVT_TIER_PUT, b.nblocks, true, &r.write, &written, err);
    }
    if (st == KVT_OK) {
        st = phase(&b, KVT_TIER_GET, written, true, &r.read, &read, err);
    }
    kvt_tier_channel_close(b.chan);
    /* outside the clock: the last block each buffer received is the one written */
    for (uint32_t i = 0; st == KVT_OK && i < o->queue_depth; i++) {
        const slot_t *s = &b.slots[i];
        if (s->got &&
            kvt_block_checksum(s->getbuf, (size_t)o->block_bytes) !=
                b.sums[s->got_block % b.npool]) {
            st = kvt_error_set(err, KVT_ERR_CORRUPT, "%s: block %llu read back with different "
                                                     "bytes than were written",
                               name, (unsigned long long)s->got_block);
        }
    }
    if (st == KVT_OK) {
        kvt_tier_info_t info;
        kvt_tier_info(tier, &info);
        snprintf(r.detail, sizeof(r.detail), "%s", info.detail);
    }
out_tier:
    kvt_tier_close(tier);
out:
    bench_free(&b);
    if (st == KVT_OK) {
        *r_p = r;
    }
    return st;
}
