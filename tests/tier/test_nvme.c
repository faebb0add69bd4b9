/*
 * The NVMe tier beyond the conformance suite: its on-disk layout (records found at the offsets
 * the format implies, so the tests can tear and corrupt exact bytes with plain pwrite), restart
 * and recovery (torn tail, a hole in the middle of a segment, a flipped payload byte),
 * compaction (exact fill counts derived from the geometry), fault injection through the
 * system-call table (io_uring results, fsync, fallocate, the segment header write), the
 * zero-copy and bounce paths, back-pressure, concurrent channels, a vanished directory and the
 * probe. Every test skips with a message when the probe says the tier cannot run here.
 *
 * Geometry used throughout (nvme_segment.c): a segment file starts with a 4 KiB header; a
 * record of p payload bytes takes 4096 (descriptor) + p rounded up to 4096 bytes, records back
 * to back from offset 4096 in the order their space was reserved. With one channel running one
 * put at a time the first segment used is seg-00000.kvt and record k of 8192-byte payloads sits
 * at 4096 + k * 12288, its payload 4096 bytes further.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tier_fixture.h"

#include "common/sysio.h"
#include "tier/gds_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <stdatomic.h>

#define KiB 1024ull
#define MiB (1024ull * 1024ull)

static char dir[128];
static bool skip_all;

static int group_setup(void **state)
{
    (void)state;
    fx_mkdtemp(dir);
    kvt_tier_config_t cfg;
    fx_config(&cfg, KVT_TIER_NVME, dir, 64 * MiB);
    char why[256];
    if (kvt_tier_probe(&cfg, why, sizeof(why)) != KVT_OK) {
        fprintf(stderr, "test_nvme: skipping, the nvme tier is unavailable here: %s\n", why);
        skip_all = true;
    }
    fx_rmtree(dir);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    fx_mkdtemp(dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kvt_sys_reset();
    fx_rmtree(dir);
    return 0;
}

#define SKIP_IF_UNAVAILABLE()                                                                  \
    do {                                                                                       \
        if (skip_all) {                                                                        \
            skip();                                                                            \
        }                                                                                      \
    } while (0)

typedef struct h {
    kvt_tier_t *tier;
    kvt_tier_channel_t *chan;
} h_t;

static kvt_status_t try_open(const kvt_tier_config_t *cfg, h_t *h)
{
    kvt_error_t err;
    kvt_status_t st = kvt_tier_open(cfg, &h->tier, &err);
    if (st != KVT_OK) {
        return st;
    }
    assert_int_equal(kvt_tier_channel_open(h->tier, &h->chan), KVT_OK);
    return KVT_OK;
}

static void open_cfg(const kvt_tier_config_t *cfg, h_t *h)
{
    kvt_error_t err;
    if (kvt_tier_open(cfg, &h->tier, &err) != KVT_OK) {
        fail_msg("open: %s", err.message);
    }
    assert_int_equal(kvt_tier_channel_open(h->tier, &h->chan), KVT_OK);
}

/* 64 MiB of 4 MiB segments, QD 8, durable (tier_fixture.h). */
static void open_default(h_t *h)
{
    kvt_tier_config_t cfg;
    fx_config(&cfg, KVT_TIER_NVME, dir, 64 * MiB);
    open_cfg(&cfg, h);
}

static void close_h(h_t *h)
{
    kvt_tier_channel_close(h->chan);
    kvt_tier_close(h->tier);
    h->chan = NULL;
    h->tier = NULL;
}

static kvt_tier_info_t info_of(h_t *h)
{
    kvt_tier_info_t info;
    kvt_tier_info(h->tier, &info);
    return info;
}

/* Put key's block of len bytes from buf (which may be at any alignment). */
static kvt_status_t put_from(h_t *h, kvt_key_t key, void *buf, size_t len)
{
    fx_fill(key, buf, len);
    kvt_tier_io_t io;
    memset(&io, 0, sizeof(io));
    io.op = KVT_TIER_PUT;
    io.meta = fx_meta(key, buf, len);
    io.buf = buf;
    io.len = len;
    return kvt_tier_run(h->chan, &io);
}

/* Get key into buf of cap bytes; on KVT_OK check every byte and the length. */
static kvt_status_t get_into(h_t *h, kvt_key_t key, void *buf, size_t cap, size_t want)
{
    kvt_tier_io_t io;
    memset(&io, 0, sizeof(io));
    io.op = KVT_TIER_GET;
    io.meta.key = key;
    io.buf = buf;
    io.len = cap;
    kvt_status_t st = kvt_tier_run(h->chan, &io);
    if (st == KVT_OK) {
        assert_int_equal(io.len, want);
        assert_true(fx_check(key, buf, want));
        assert_int_equal(io.meta.payload_bytes, want);
        assert_true(kvt_key_equal(io.meta.key, key));
    }
    return st;
}

static void seg_file(uint32_t i, char *path)
{
    snprintf(path, 256, "%s/seg-%05u.kvt", dir, i);
}

/* Plain (buffered) pwrite of len bytes of value c at off in segment 0: a crash's leftovers. */
static void scribble(off_t off, size_t len, int c)
{
    char path[256];
    seg_file(0, path);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    unsigned char *b = malloc(len);
    memset(b, c, len);
    assert_int_equal(pwrite(fd, b, len, off), (ssize_t)len);
    assert_int_equal(fsync(fd), 0);
    free(b);
    close(fd);
}

/* ---- data path ---- */

/*
 * Sizes 4 KiB .. 1 MiB, each put once from an unaligned buffer and once (another key) from a
 * 4 KiB-aligned one (zero-copy when the length is a multiple of 4 KiB), and read back three
 * ways: aligned and large enough for the padded payload (zero-copy), unaligned (bounce), and
 * exactly payload-sized (bounce unless the payload is whole sectors).
 * used_bytes = sum over both copies of 4096 + round_up(size, 4096):
 *   4096 -> 8192, 5000 -> 12288, 65536 -> 69632, 65537 -> 73728, 1 MiB -> 1052672;
 *   sum 1216512, twice = 2433024.
 */
static void test_round_trip(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    h_t h;
    open_default(&h);
    static const size_t sizes[] = {4096, 5000, 65536, 65537, MiB};
    const size_t n = sizeof(sizes) / sizeof(sizes[0]);
    unsigned char *raw = malloc(MiB + 4096 + 1);
    unsigned char *unaligned = raw + 1;
    unsigned char *aligned = aligned_alloc(4096, MiB + 4096);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(put_from(&h, fx_key(100 + i), unaligned, sizes[i]), KVT_OK);
        assert_int_equal(put_from(&h, fx_key(200 + i), aligned, sizes[i]), KVT_OK);
    }
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) {
            kvt_key_t key = fx_key((k == 0 ? 100 : 200) + i);
            memset(aligned, 0, MiB + 4096);
            assert_int_equal(get_into(&h, key, aligned, MiB + 4096, sizes[i]), KVT_OK);
            memset(raw, 0, MiB + 4096 + 1);
            assert_int_equal(get_into(&h, key, unaligned, MiB + 4096, sizes[i]), KVT_OK);
            assert_int_equal(get_into(&h, key, aligned, sizes[i], sizes[i]), KVT_OK);
            assert_int_equal(get_into(&h, key, aligned, sizes[i] - 1, 0), KVT_ERR_DOES_NOT_FIT);
        }
    }
    kvt_tier_info_t info = info_of(&h);
    assert_int_equal(info.blocks, 10);
    assert_int_equal(info.used_bytes, 2433024);
    assert_int_equal(info.errors, 0);
    /* a duplicate put completes OK without writing: nothing more is used */
    assert_int_equal(put_from(&h, fx_key(102), unaligned, 65536), KVT_OK);
    info = info_of(&h);
    assert_int_equal(info.blocks, 10);
    assert_int_equal(info.used_bytes, 2433024);
    assert_int_equal(get_into(&h, fx_key(999), aligned, MiB, 0), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_tier_remove(h.tier, fx_key(999)), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_tier_remove(h.tier, fx_key(100)), KVT_OK);
    assert_false(kvt_tier_contains(h.tier, fx_key(100)));
    assert_int_equal(info_of(&h).used_bytes, 2433024 - 8192);
    free(raw);
    free(aligned);
    close_h(&h);
}

/* Not durable: same data path, no fdatasync. */
static void test_not_durable(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    fx_config(&cfg, KVT_TIER_NVME, dir, 16 * MiB);
    cfg.durable = false;
    h_t h;
    open_cfg(&cfg, &h);
    for (uint64_t k = 0; k < 20; k++) {
        assert_int_equal(fx_put(h.chan, fx_key(k), 4096 + k * 3000), KVT_OK);
    }
    for (uint64_t k = 0; k < 20; k++) {
        assert_int_equal(fx_get(h.chan, fx_key(k), 70000, 4096 + k * 3000), KVT_OK);
    }
    assert_non_null(strstr(info_of(&h).detail, "not durable"));
    close_h(&h);
}

/* Queue depth 4: four I/Os in flight, the fifth is KVT_ERR_BUSY; poll hands back all four. */
static void test_busy_and_batch(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    fx_config(&cfg, KVT_TIER_NVME, dir, 16 * MiB);
    cfg.queue_depth = 4;
    h_t h;
    open_cfg(&cfg, &h);
    kvt_tier_io_t io[5];
    unsigned char *buf[5];
    for (int i = 0; i < 5; i++) {
        buf[i] = malloc(20000);
        fx_fill(fx_key(i), buf[i], 20000);
        memset(&io[i], 0, sizeof(io[i]));
        io[i].op = KVT_TIER_PUT;
        io[i].meta = fx_meta(fx_key(i), buf[i], 20000);
        io[i].buf = buf[i];
        io[i].len = 20000;
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(kvt_tier_submit(h.chan, &io[i]), KVT_OK);
    }
    assert_int_equal(kvt_tier_submit(h.chan, &io[4]), KVT_ERR_BUSY);
    kvt_tier_io_t *done[8];
    size_t got = 0;
    while (got < 4) {
        size_t n = kvt_tier_poll(h.chan, 4 - got, done + got, 8 - got);
        got += n;
    }
    assert_int_equal(got, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(done[i]->status, KVT_OK);
    }
    assert_int_equal(kvt_tier_poll(h.chan, 0, done, 8), 0);
    assert_int_equal(kvt_tier_run(h.chan, &io[4]), KVT_OK);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fx_get(h.chan, fx_key(i), 20000, 20000), KVT_OK);
        free(buf[i]);
    }
    close_h(&h);
}

/* ---- restart and recovery ---- */

static size_t size_of(uint64_t n)
{
    return 4096 + (size_t)(n * 2654435761u % 97) * 1024 + (n % 5) * 13; /* 4 KiB .. 100 KiB */
}

typedef struct scan_acc {
    size_t n;
    size_t bad;
} scan_acc_t;

static void scan_cb(const kvt_block_meta_t *meta, void *arg)
{
    scan_acc_t *a = arg;
    a->n++;
    /* keys 0..59 were put; find which one and check its size */
    for (uint64_t k = 0; k < 60; k++) {
        if (kvt_key_equal(meta->key, fx_key(k))) {
            if (meta->payload_bytes != size_of(k) || meta->tenant != 7) {
                a->bad++;
            }
            return;
        }
    }
    a->bad++;
}

static void test_restart_and_scan(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    h_t h;
    open_default(&h);
    for (uint64_t k = 0; k < 60; k++) {
        assert_int_equal(fx_put(h.chan, fx_key(k), size_of(k)), KVT_OK);
    }
    uint64_t used = info_of(&h).used_bytes;
    close_h(&h);
    open_default(&h);
    kvt_tier_info_t info = info_of(&h);
    assert_int_equal(info.blocks, 60);
    assert_int_equal(info.used_bytes, used);
    scan_acc_t acc = {0, 0};
    assert_int_equal(kvt_tier_scan(h.tier, scan_cb, &acc), KVT_OK);
    assert_int_equal(acc.n, 60);
    assert_int_equal(acc.bad, 0);
    for (uint64_t k = 0; k < 60; k++) {
        assert_int_equal(fx_get(h.chan, fx_key(k), 128 * KiB, size_of(k)), KVT_OK);
    }
    /* appends continue after the recovered records */
    assert_int_equal(fx_put(h.chan, fx_key(1000), 50000), KVT_OK);
    close_h(&h);
    open_default(&h);
    assert_int_equal(info_of(&h).blocks, 61);
    assert_int_equal(fx_get(h.chan, fx_key(1000), 50000, 50000), KVT_OK);
    assert_int_equal(fx_get(h.chan, fx_key(59), 128 * KiB, size_of(59)), KVT_OK);
    close_h(&h);
}

/* Five records of 8192 bytes: record k at 4096 + k * 12288 in seg-00000.kvt. */
#define REC_OFF(k) (4096 + (off_t)(k) * 12288)

static void put_five(void)
{
    h_t h;
    open_default(&h);
    for (uint64_t k = 0; k < 5; k++) {
        assert_int_equal(fx_put(h.chan, fx_key(k), 8192), KVT_OK);
    }
    close_h(&h);
}

static void others_intact(h_t *h, uint64_t except)
{
    for (uint64_t k = 0; k < 5; k++) {
        if (k != except) {
            assert_int_equal(fx_get(h->chan, fx_key(k), 8192, 8192), KVT_OK);
        }
    }
}

/* The last record's payload half written (crash mid-write): found, but read as CORRUPT. */
static void test_torn_tail_payload(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    put_five();
    scribble(REC_OFF(4) + 4096 + 4096, 4096, 0x5a); /* second half of record 4's payload */
    h_t h;
    open_default(&h);
    assert_int_equal(fx_get(h.chan, fx_key(4), 8192, 8192), KVT_ERR_CORRUPT);
    assert_int_equal(info_of(&h).errors, 1);
    assert_false(kvt_tier_contains(h.tier, fx_key(4)));
    assert_int_equal(fx_get(h.chan, fx_key(4), 8192, 8192), KVT_ERR_NOT_FOUND);
    others_intact(&h, 4);
    assert_int_equal(info_of(&h).blocks, 4);
    close_h(&h);
}

/* The last record's descriptor torn: the record is not found at all after restart. */
static void test_torn_tail_header(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    put_five();
    scribble(REC_OFF(4) + 100, 64, 0); /* inside the block header: checksum fails */
    h_t h;
    open_default(&h);
    assert_false(kvt_tier_contains(h.tier, fx_key(4)));
    assert_int_equal(info_of(&h).blocks, 4);
    others_intact(&h, 4);
    /* the space after the last good record is reused */
    assert_int_equal(fx_put(h.chan, fx_key(4), 8192), KVT_OK);
    close_h(&h);
    open_default(&h);
    assert_int_equal(info_of(&h).blocks, 5);
    others_intact(&h, 99);
    close_h(&h);
}

/* The file cut in the middle of the last record's payload (then preallocated again: zeros). */
static void test_truncated_tail(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    put_five();
    char path[256];
    seg_file(0, path);
    assert_int_equal(truncate(path, REC_OFF(4) + 4096 + 4096), 0);
    h_t h;
    open_default(&h);
    kvt_status_t st = fx_get(h.chan, fx_key(4), 8192, 8192);
    assert_true(st == KVT_ERR_CORRUPT || st == KVT_ERR_NOT_FOUND);
    others_intact(&h, 4);
    close_h(&h);
}

/*
 * A hole in the middle (record 2 never written, as when writes complete out of order and the
 * machine dies): the records after it are still found — recovery does not stop at the hole.
 */
static void test_hole_in_middle(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    put_five();
    scribble(REC_OFF(2), 4096, 0);
    h_t h;
    open_default(&h);
    assert_false(kvt_tier_contains(h.tier, fx_key(2)));
    assert_int_equal(info_of(&h).blocks, 4);
    others_intact(&h, 2);
    close_h(&h);
}

/* Flip one bit of the byte at off in segment 0, durably. */
static void flip_byte(off_t off)
{
    char path[256];
    seg_file(0, path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x01;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    assert_int_equal(fsync(fd), 0);
    close(fd);
}

/* One flipped payload byte: GET says CORRUPT once, counts one error, drops the record. */
static void test_corrupt_payload_byte(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    put_five();
    flip_byte(REC_OFF(1) + 4096 + 1234);
    h_t h;
    open_default(&h);
    assert_int_equal(info_of(&h).errors, 0);
    assert_int_equal(fx_get(h.chan, fx_key(1), 8192, 8192), KVT_ERR_CORRUPT);
    assert_int_equal(info_of(&h).errors, 1);
    assert_int_equal(fx_get(h.chan, fx_key(1), 8192, 8192), KVT_ERR_NOT_FOUND);
    others_intact(&h, 1);
    assert_int_equal(info_of(&h).errors, 1);
    close_h(&h);
}

static void count_scan(const kvt_block_meta_t *meta, void *arg)
{
    size_t *n = arg;
    /* the header comes from disk: it must be the one put (fx_meta of the key's 8192 bytes) */
    unsigned char *buf = malloc(8192);
    fx_fill(meta->key, buf, 8192);
    kvt_block_meta_t want = fx_meta(meta->key, buf, 8192);
    free(buf);
    if (kvt_key_equal(meta->parent, want.parent) && meta->tenant == want.tenant &&
        meta->model_fingerprint[0] == want.model_fingerprint[0] &&
        meta->first_token == want.first_token && meta->ntokens == want.ntokens &&
        meta->payload_checksum == want.payload_checksum) {
        (*n)++;
    }
}

/*
 * The index keeps no headers: a GET reads the record's descriptor with its payload and
 * verifies it. One flipped byte in a descriptor while the tier is open (record 1: inside the
 * block header, covered by both checksums) makes the GET answer CORRUPT and drop the record;
 * one in record 3's makes scan() (which reads the descriptors from disk) skip and drop it.
 */
static void test_corrupt_descriptor_live(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    h_t h;
    open_default(&h);
    for (uint64_t k = 0; k < 5; k++) {
        assert_int_equal(fx_put(h.chan, fx_key(k), 8192), KVT_OK);
    }
    size_t n = 0;
    assert_int_equal(kvt_tier_scan(h.tier, count_scan, &n), KVT_OK);
    assert_int_equal(n, 5);
    flip_byte(REC_OFF(1) + 40);
    assert_int_equal(fx_get(h.chan, fx_key(1), 8192, 8192), KVT_ERR_CORRUPT);
    assert_int_equal(info_of(&h).errors, 1);
    assert_false(kvt_tier_contains(h.tier, fx_key(1)));
    flip_byte(REC_OFF(3) + 150);
    n = 0;
    assert_int_equal(kvt_tier_scan(h.tier, count_scan, &n), KVT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(info_of(&h).errors, 2);
    assert_false(kvt_tier_contains(h.tier, fx_key(3)));
    assert_int_equal(fx_get(h.chan, fx_key(0), 8192, 8192), KVT_OK);
    assert_int_equal(fx_get(h.chan, fx_key(2), 8192, 8192), KVT_OK);
    assert_int_equal(fx_get(h.chan, fx_key(4), 8192, 8192), KVT_OK);
    assert_int_equal(info_of(&h).blocks, 3);
    close_h(&h);
}

/*
 * poll() hands the device its queued SQEs first and verifies completions only until
 * min_complete GETs are done; the other completions wait in the CQ ring for the next poll
 * (nvme_chan.c). Eight 64 KiB GETs in flight (QD 8), record 5's payload with one flipped byte:
 *   - poll(min 1) returns exactly one io each time (every GET completion is one CQE that
 *     completes one io, and handling stops at the first), eight polls in all, even once the
 *     other seven have all landed (a 50 ms pause after the first poll);
 *   - seven GETs hand back their exact bytes, record 5's answers KVT_ERR_CORRUPT (a completion
 *     left in the ring is verified when it is handled, never skipped), one error is counted
 *     and the record is dropped;
 *   - poll(min 8) returns all eight in one call; poll(min 0) with nothing in flight returns 0;
 *   - poll(min 0) alone, called until the GET comes back, drives a GET to completion.
 * Records of 65536 bytes sit at 4096 + k * (4096 + 65536) in seg-00000.kvt.
 */
#define LREC 65536u
#define LREC_OFF(k) (4096 + (off_t)(k) * (4096 + LREC))

static void submit_gets(h_t *h, kvt_tier_io_t *io, unsigned char **buf, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        memset(buf[i], 0, LREC);
        memset(&io[i], 0, sizeof(io[i]));
        io[i].op = KVT_TIER_GET;
        io[i].meta.key = fx_key(i);
        io[i].buf = buf[i];
        io[i].len = LREC;
        io[i].user = (void *)(uintptr_t)i;
        assert_int_equal(kvt_tier_submit(h->chan, &io[i]), KVT_OK);
    }
}

static void test_poll_verifies_lazily(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    h_t h;
    open_default(&h);
    enum { N = 8 };
    for (uint64_t k = 0; k < N; k++) {
        assert_int_equal(fx_put(h.chan, fx_key(k), LREC), KVT_OK);
    }
    flip_byte(LREC_OFF(5) + 4096 + 40000);
    kvt_tier_io_t io[N];
    unsigned char *buf[N];
    for (unsigned i = 0; i < N; i++) {
        buf[i] = aligned_alloc(4096, LREC);
    }
    submit_gets(&h, io, buf, N);
    kvt_tier_io_t *done[N];
    unsigned polls = 0, got = 0, corrupt = 0;
    while (got < N) {
        size_t n = kvt_tier_poll(h.chan, 1, done, N);
        assert_int_equal(n, 1);
        polls++;
        unsigned i = (unsigned)(uintptr_t)done[0]->user;
        if (i == 5) {
            assert_int_equal(done[0]->status, KVT_ERR_CORRUPT);
            corrupt++;
        } else {
            assert_int_equal(done[0]->status, KVT_OK);
            assert_int_equal(done[0]->len, LREC);
            assert_true(fx_check(fx_key(i), buf[i], LREC));
        }
        got++;
        if (polls == 1) {
            usleep(50000); /* the other seven land meanwhile: all in the ring at the next poll */
        }
    }
    assert_int_equal(polls, N);
    assert_int_equal(corrupt, 1);
    assert_int_equal(info_of(&h).errors, 1);
    assert_false(kvt_tier_contains(h.tier, fx_key(5)));
    assert_int_equal(kvt_tier_poll(h.chan, 0, done, N), 0);

    /* the seven left, all at once */
    assert_int_equal(fx_put(h.chan, fx_key(5), LREC), KVT_OK);
    submit_gets(&h, io, buf, N);
    assert_int_equal(kvt_tier_poll(h.chan, N, done, N), N);
    for (unsigned j = 0; j < N; j++) {
        unsigned i = (unsigned)(uintptr_t)done[j]->user;
        assert_int_equal(done[j]->status, KVT_OK);
        assert_true(fx_check(fx_key(i), buf[i], LREC));
    }
    assert_int_equal(kvt_tier_poll(h.chan, 0, done, N), 0);

    /* poll(0) alone makes progress */
    submit_gets(&h, io, buf, 1);
    size_t n = 0;
    for (int tries = 0; n == 0 && tries < 5000; tries++) {
        n = kvt_tier_poll(h.chan, 0, done, N);
        if (n == 0) {
            usleep(1000);
        }
    }
    assert_int_equal(n, 1);
    assert_int_equal(done[0]->status, KVT_OK);
    assert_true(fx_check(fx_key(0), buf[0], LREC));
    assert_int_equal(info_of(&h).errors, 1);
    for (unsigned i = 0; i < N; i++) {
        free(buf[i]);
    }
    close_h(&h);
}

/* ---- compaction ---- */

/*
 * 4 segments of 1 MiB, records of 61440 payload bytes = 65536 on disk. A segment holds
 * (1 MiB - 4 KiB) / 64 KiB = 15.9 -> 15 records. One segment is kept free for compaction, so
 * 3 x 15 = 45 puts fit; the 46th finds every segment full of live records (15 live + 1 new =
 * 16 x 64 KiB > 1 MiB - 4 KiB) and fails KVT_ERR_NO_SPACE.
 */
static void compaction_cfg(kvt_tier_config_t *cfg)
{
    fx_config(cfg, KVT_TIER_NVME, dir, 4 * MiB);
    cfg->segment_bytes = MiB;
    cfg->max_record_bytes = 128 * KiB + KVT_BLOCK_HEADER_BYTES;
}

#define CREC 61440u

static void test_compaction(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    compaction_cfg(&cfg);
    h_t h;
    open_cfg(&cfg, &h);
    uint64_t k = 0;
    kvt_status_t st;
    while ((st = fx_put(h.chan, fx_key(k), CREC)) == KVT_OK) {
        k++;
        assert_true(k <= 100);
    }
    assert_int_equal(st, KVT_ERR_NO_SPACE);
    assert_int_equal(k, 45);
    assert_int_equal(info_of(&h).blocks, 45);
    /* remove all but every fifth: 9 survivors (0, 5, ..., 40) */
    for (uint64_t i = 0; i < 45; i++) {
        if (i % 5 != 0) {
            assert_int_equal(kvt_tier_remove(h.tier, fx_key(i)), KVT_OK);
        }
    }
    assert_int_equal(info_of(&h).used_bytes, 9 * 65536);
    /* 30 more fit (39 live <= 45) but only by compacting */
    for (uint64_t i = 100; i < 130; i++) {
        assert_int_equal(fx_put(h.chan, fx_key(i), CREC), KVT_OK);
    }
    kvt_tier_info_t info = info_of(&h);
    assert_int_equal(info.blocks, 39);
    assert_int_equal(info.used_bytes, 39 * 65536);
    assert_int_equal(info.errors, 0);
    for (uint64_t i = 0; i < 45; i += 5) {
        assert_int_equal(fx_get(h.chan, fx_key(i), CREC, CREC), KVT_OK);
    }
    for (uint64_t i = 100; i < 130; i++) {
        assert_int_equal(fx_get(h.chan, fx_key(i), CREC, CREC), KVT_OK);
    }
    /* after a restart: the same 39, each once (compaction's copies and sources deduplicated,
       freed segments wiped) */
    close_h(&h);
    open_cfg(&cfg, &h);
    info = info_of(&h);
    assert_int_equal(info.blocks, 39);
    assert_int_equal(info.used_bytes, 39 * 65536);
    for (uint64_t i = 0; i < 45; i += 5) {
        assert_int_equal(fx_get(h.chan, fx_key(i), CREC, CREC), KVT_OK);
    }
    /* churn: remove the oldest, put new, many times over the capacity */
    for (uint64_t i = 200; i < 400; i++) {
        assert_int_equal(kvt_tier_remove(h.tier, fx_key(i < 230 ? i - 100 : i - 30)), KVT_OK);
        assert_int_equal(fx_put(h.chan, fx_key(i), CREC), KVT_OK);
    }
    info = info_of(&h);
    assert_int_equal(info.blocks, 39);
    for (uint64_t i = 370; i < 400; i++) {
        assert_int_equal(fx_get(h.chan, fx_key(i), CREC, CREC), KVT_OK);
    }
    for (uint64_t i = 0; i < 45; i += 5) {
        assert_int_equal(fx_get(h.chan, fx_key(i), CREC, CREC), KVT_OK);
    }
    assert_int_equal(info_of(&h).errors, 0);
    close_h(&h);
}

/* Two segments (the minimum): one for data, one reserve; still compacts. */
static void test_two_segments(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    compaction_cfg(&cfg);
    cfg.capacity_bytes = 1; /* -> 2 segments */
    h_t h;
    open_cfg(&cfg, &h);
    assert_int_equal(info_of(&h).capacity_bytes, 2 * MiB);
    for (uint64_t i = 0; i < 15; i++) {
        assert_int_equal(fx_put(h.chan, fx_key(i), CREC), KVT_OK);
    }
    assert_int_equal(fx_put(h.chan, fx_key(15), CREC), KVT_ERR_NO_SPACE);
    assert_int_equal(kvt_tier_remove(h.tier, fx_key(3)), KVT_OK);
    assert_int_equal(fx_put(h.chan, fx_key(15), CREC), KVT_OK);
    for (uint64_t i = 0; i < 16; i++) {
        assert_int_equal(fx_get(h.chan, fx_key(i), CREC, CREC),
                         i == 3 ? KVT_ERR_NOT_FOUND : KVT_OK);
    }
    close_h(&h);
}

/* ---- faults ---- */

static int fault_op = -1; /* kvt_sys_uring_op_t to fail, -1 none */
static int fault_res;     /* 0: short (res - 4096), else -errno */
static unsigned fault_hits;

static int hook_uring(kvt_sys_uring_op_t op, int fd, size_t len, off_t off, int res)
{
    (void)fd;
    (void)len;
    (void)off;
    if ((int)op != fault_op) {
        return res;
    }
    fault_hits++;
    return fault_res == 0 ? (res > 4096 ? res - 4096 : 0) : fault_res;
}

static void arm_uring(kvt_sys_uring_op_t op, int res)
{
    fault_op = (int)op;
    fault_res = res;
    fault_hits = 0;
    kvt_sys.uring_result = hook_uring;
}

static void test_read_faults(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    h_t h;
    open_default(&h);
    assert_int_equal(fx_put(h.chan, fx_key(1), 100000), KVT_OK);
    arm_uring(KVT_SYS_URING_READ, -EIO);
    assert_int_equal(fx_get(h.chan, fx_key(1), 100000, 100000), KVT_ERR_IO);
    assert_int_equal(fault_hits, 1);
    assert_int_equal(info_of(&h).errors, 1);
    arm_uring(KVT_SYS_URING_READ, 0); /* short read */
    assert_int_equal(fx_get(h.chan, fx_key(1), 100000, 100000), KVT_ERR_IO);
    assert_int_equal(info_of(&h).errors, 2);
    kvt_sys_reset();
    /* an I/O error is not corruption: the record stays */
    assert_int_equal(fx_get(h.chan, fx_key(1), 100000, 100000), KVT_OK);
    close_h(&h);
}

static void test_write_faults(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    h_t h;
    open_default(&h);
    assert_int_equal(fx_put(h.chan, fx_key(1), 30000), KVT_OK);
    arm_uring(KVT_SYS_URING_WRITE, -EIO);
    assert_int_equal(fx_put(h.chan, fx_key(2), 30000), KVT_ERR_IO);
    assert_false(kvt_tier_contains(h.tier, fx_key(2)));
    assert_int_equal(fx_get(h.chan, fx_key(2), 30000, 30000), KVT_ERR_NOT_FOUND);
    arm_uring(KVT_SYS_URING_WRITE, -ENOSPC);
    assert_int_equal(fx_put(h.chan, fx_key(3), 30000), KVT_ERR_NO_SPACE);
    arm_uring(KVT_SYS_URING_WRITE, 0); /* torn: short write */
    assert_int_equal(fx_put(h.chan, fx_key(4), 30000), KVT_ERR_IO);
    arm_uring(KVT_SYS_URING_FSYNC, -EIO);
    assert_int_equal(fx_put(h.chan, fx_key(5), 30000), KVT_ERR_IO);
    assert_true(fault_hits >= 1);
    assert_false(kvt_tier_contains(h.tier, fx_key(5)));
    kvt_sys_reset();
    assert_int_equal(info_of(&h).errors, 4);
    assert_int_equal(info_of(&h).blocks, 1);
    assert_int_equal(fx_get(h.chan, fx_key(1), 30000, 30000), KVT_OK);
    for (uint64_t k = 2; k <= 5; k++) {
        assert_int_equal(fx_put(h.chan, fx_key(k), 30000), KVT_OK);
        assert_int_equal(fx_get(h.chan, fx_key(k), 30000, 30000), KVT_OK);
    }
    close_h(&h);
}

/*
 * Write faults with several puts in flight. The first put of a batch, issued on an idle
 * channel, has its fdatasync linked behind its write; the others wait for a group fdatasync
 * after their writes. A failed fdatasync or write must fail every put it concerns, whichever
 * way it was synced, and leave none of them in the tier; a batch after that succeeds whole.
 */
static kvt_status_t put_batch(h_t *h, uint64_t k0, unsigned n, kvt_status_t *st)
{
    kvt_tier_io_t io[8];
    unsigned char *buf[8];
    for (unsigned i = 0; i < n; i++) {
        buf[i] = malloc(20000);
        fx_fill(fx_key(k0 + i), buf[i], 20000);
        memset(&io[i], 0, sizeof(io[i]));
        io[i].op = KVT_TIER_PUT;
        io[i].meta = fx_meta(fx_key(k0 + i), buf[i], 20000);
        io[i].buf = buf[i];
        io[i].len = 20000;
        assert_int_equal(kvt_tier_submit(h->chan, &io[i]), KVT_OK);
    }
    kvt_tier_io_t *done[8];
    size_t got = 0;
    while (got < n) {
        got += kvt_tier_poll(h->chan, n - got, done + got, 8 - got);
    }
    kvt_status_t all = KVT_OK;
    for (unsigned i = 0; i < n; i++) {
        st[i] = io[i].status;
        all = st[i] != KVT_OK ? st[i] : all;
        free(buf[i]);
    }
    return all;
}

static void test_write_faults_batch(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    h_t h;
    open_default(&h);
    kvt_status_t st[4];
    arm_uring(KVT_SYS_URING_FSYNC, -EIO);
    put_batch(&h, 10, 4, st);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(st[i], KVT_ERR_IO);
        assert_false(kvt_tier_contains(h.tier, fx_key(10 + i)));
    }
    assert_true(fault_hits >= 2); /* the linked group's and at least one other */
    arm_uring(KVT_SYS_URING_WRITE, -EIO);
    put_batch(&h, 20, 4, st);
    assert_int_equal(fault_hits, 4);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(st[i], KVT_ERR_IO);
        assert_false(kvt_tier_contains(h.tier, fx_key(20 + i)));
    }
    unsigned long long errors = info_of(&h).errors;
    assert_true(errors >= 2 + 4); /* a logged error per failed fdatasync and per write */
    kvt_sys_reset();
    assert_int_equal(put_batch(&h, 10, 4, st), KVT_OK);
    assert_int_equal(put_batch(&h, 20, 4, st), KVT_OK);
    assert_int_equal(info_of(&h).errors, errors); /* no stray error from a cancelled sync */
    assert_int_equal(info_of(&h).blocks, 8);
    for (uint64_t i = 0; i < 4; i++) {
        assert_int_equal(fx_get(h.chan, fx_key(10 + i), 20000, 20000), KVT_OK);
        assert_int_equal(fx_get(h.chan, fx_key(20 + i), 20000, 20000), KVT_OK);
    }
    close_h(&h);
}

static int hook_fallocate_enospc(int fd, int mode, off_t off, off_t len)
{
    (void)fd;
    (void)mode;
    (void)off;
    (void)len;
    errno = ENOSPC;
    return -1;
}

static ssize_t hook_pwrite_enospc(int fd, const void *buf, size_t len, off_t off)
{
    (void)fd;
    (void)buf;
    (void)len;
    (void)off;
    errno = ENOSPC;
    return -1;
}

/* Bytes of segment file i the file system holds as unwritten extents (allocated, never
   written), from FIEMAP; -1 when it cannot say (no FIEMAP, e.g. tmpfs). */
static long long unwritten_bytes(uint32_t i)
{
    char path[256];
    seg_file(i, path);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    enum { NEXT = 64 };
    struct fiemap *fm = calloc(1, sizeof(*fm) + NEXT * sizeof(struct fiemap_extent));
    long long total = 0;
    uint64_t start = 0;
    for (;;) {
        memset(fm, 0, sizeof(*fm));
        fm->fm_start = start;
        fm->fm_length = FIEMAP_MAX_OFFSET - start;
        fm->fm_flags = FIEMAP_FLAG_SYNC;
        fm->fm_extent_count = NEXT;
        if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
            total = -1;
            break;
        }
        bool last = fm->fm_mapped_extents == 0;
        for (uint32_t k = 0; k < fm->fm_mapped_extents; k++) {
            const struct fiemap_extent *x = &fm->fm_extents[k];
            if ((x->fe_flags & FIEMAP_EXTENT_UNWRITTEN) != 0) {
                total += (long long)x->fe_length;
            }
            start = x->fe_logical + x->fe_length;
            last = last || (x->fe_flags & FIEMAP_EXTENT_LAST) != 0;
        }
        if (last) {
            break;
        }
    }
    free(fm);
    close(fd);
    return total;
}

/* Unwritten bytes over segment files 0..n-1, or -1 when the file system cannot say. */
static long long unwritten_total(uint32_t n)
{
    long long total = 0;
    for (uint32_t i = 0; i < n; i++) {
        long long u = unwritten_bytes(i);
        if (u < 0) {
            return -1;
        }
        total += u;
    }
    return total;
}

/*
 * kvt_tier_prefault writes the free space once: afterwards no segment has unwritten extents
 * (checked with FIEMAP, independently of the tier), the blocks put before it still read back,
 * new puts work, a restart finds them all (the zeros past the open segment's last record end
 * its scan cleanly), and a write error fails the prefault with a logged error and loses nothing.
 */
static void test_prefault(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    fx_config(&cfg, KVT_TIER_NVME, dir, 16 * MiB); /* 4 x 4 MiB segments */
    h_t h;
    open_cfg(&cfg, &h);
    for (uint64_t k = 0; k < 3; k++) {
        assert_int_equal(fx_put(h.chan, fx_key(k), 50000), KVT_OK);
    }
    long long before = unwritten_total(4);
    assert_int_equal(kvt_tier_prefault(h.tier), KVT_OK);
    if (before < 0) {
        printf("note: no FIEMAP in %s: extent states not checked\n", dir);
    } else {
        /* segments 1..3 were never written: at least those were unwritten extents */
        assert_true(before >= (long long)(3 * 4 * MiB));
        assert_int_equal(unwritten_total(4), 0);
    }
    for (uint64_t k = 0; k < 3; k++) {
        assert_int_equal(fx_get(h.chan, fx_key(k), 50000, 50000), KVT_OK);
    }
    for (uint64_t k = 3; k < 40; k++) {
        assert_int_equal(fx_put(h.chan, fx_key(k), 50000), KVT_OK);
    }
    unsigned long long errors = info_of(&h).errors;
    kvt_sys.pwrite = hook_pwrite_enospc;
    assert_int_equal(kvt_tier_prefault(h.tier), KVT_ERR_NO_SPACE);
    kvt_sys_reset();
    assert_int_equal(info_of(&h).errors, errors + 1);
    close_h(&h);
    open_cfg(&cfg, &h);
    assert_int_equal(info_of(&h).blocks, 40);
    for (uint64_t k = 0; k < 40; k++) {
        assert_int_equal(fx_get(h.chan, fx_key(k), 50000, 50000), KVT_OK);
    }
    close_h(&h);
}

/*
 * cfg.prefault: kvt_tier_open prefaults before it returns (no unwritten extent left, by FIEMAP),
 * over a fresh directory and over one holding records (which survive); a prefault that fails
 * fails the open with its status and the message naming the step, and the next open works.
 */
static void test_prefault_at_open(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    fx_config(&cfg, KVT_TIER_NVME, dir, 16 * MiB); /* 4 x 4 MiB segments */
    cfg.prefault = true;
    kvt_sys.pwrite = hook_pwrite_enospc;
    kvt_error_t err;
    kvt_tier_t *tier = NULL;
    assert_int_equal(kvt_tier_open(&cfg, &tier, &err), KVT_ERR_NO_SPACE);
    assert_null(tier);
    assert_non_null(strstr(err.message, "prefault at open"));
    kvt_sys_reset();
    h_t h;
    open_cfg(&cfg, &h);
    long long after = unwritten_total(4);
    if (after < 0) {
        printf("note: no FIEMAP in %s: extent states not checked\n", dir);
    } else {
        assert_int_equal(after, 0);
    }
    for (uint64_t k = 0; k < 20; k++) {
        assert_int_equal(fx_put(h.chan, fx_key(k), 50000), KVT_OK);
    }
    close_h(&h);
    open_cfg(&cfg, &h); /* prefaults again, around the 20 records */
    assert_int_equal(info_of(&h).blocks, 20);
    for (uint64_t k = 0; k < 20; k++) {
        assert_int_equal(fx_get(h.chan, fx_key(k), 50000, 50000), KVT_OK);
    }
    close_h(&h);
}

/* ENOSPC from fallocate fails open; from the segment header write fails the put. */
static void test_enospc_sys(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    fx_config(&cfg, KVT_TIER_NVME, dir, 16 * MiB);
    h_t h;
    kvt_sys.fallocate = hook_fallocate_enospc;
    assert_int_equal(try_open(&cfg, &h), KVT_ERR_NO_SPACE);
    kvt_sys_reset();
    open_cfg(&cfg, &h);
    kvt_sys.pwrite = hook_pwrite_enospc; /* the first put starts a segment: header write */
    assert_int_equal(fx_put(h.chan, fx_key(1), 10000), KVT_ERR_NO_SPACE);
    assert_false(kvt_tier_contains(h.tier, fx_key(1)));
    kvt_sys_reset();
    assert_int_equal(fx_put(h.chan, fx_key(1), 10000), KVT_OK);
    assert_int_equal(fx_get(h.chan, fx_key(1), 10000, 10000), KVT_OK);
    close_h(&h);
}

/* rm -rf of the directory while open: errors (when a new segment is needed), never a crash. */
static void test_vanished_directory(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    compaction_cfg(&cfg);
    h_t h;
    open_cfg(&cfg, &h);
    for (uint64_t k = 0; k < 5; k++) {
        assert_int_equal(fx_put(h.chan, fx_key(k), CREC), KVT_OK);
    }
    fx_rmtree(dir);
    unsigned failed = 0;
    for (uint64_t k = 5; k < 40; k++) {
        kvt_status_t st = fx_put(h.chan, fx_key(k), CREC);
        assert_true(st == KVT_OK || st == KVT_ERR_IO || st == KVT_ERR_NO_SPACE);
        failed += st != KVT_OK;
    }
    assert_true(failed > 0);
    assert_true(info_of(&h).errors > 0);
    for (uint64_t k = 0; k < 40; k++) {
        kvt_status_t st = fx_get(h.chan, fx_key(k), CREC, CREC); /* served bytes are checked */
        assert_true(st == KVT_OK || st == KVT_ERR_NOT_FOUND || st == KVT_ERR_IO);
    }
    close_h(&h);
}

/* ---- concurrency ---- */

typedef struct worker {
    kvt_tier_t *tier;
    uint64_t base;
    int failures;
} worker_t;

#define WORKER_BLOCKS 48u

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    kvt_tier_channel_t *chan;
    if (kvt_tier_channel_open(w->tier, &chan) != KVT_OK) {
        w->failures++;
        return NULL;
    }
    /* puts with up to queue_depth in flight */
    kvt_tier_io_t io[WORKER_BLOCKS];
    unsigned char *buf[WORKER_BLOCKS];
    for (size_t i = 0; i < WORKER_BLOCKS; i++) {
        buf[i] = malloc(size_of(w->base + i));
    }
    for (unsigned round = 0; round < 2; round++) {
        size_t next = 0, done_n = 0;
        while (done_n < WORKER_BLOCKS) {
            while (next < WORKER_BLOCKS) {
                kvt_key_t key = fx_key(w->base + next);
                size_t len = size_of(w->base + next);
                if (round == 0) {
                    fx_fill(key, buf[next], len);
                } else {
                    memset(buf[next], 0, len);
                }
                memset(&io[next], 0, sizeof(io[next]));
                io[next].op = round == 0 ? KVT_TIER_PUT : KVT_TIER_GET;
                io[next].meta = round == 0 ? fx_meta(key, buf[next], len) : io[next].meta;
                io[next].meta.key = key;
                io[next].buf = buf[next];
                io[next].len = len;
                kvt_status_t st = kvt_tier_submit(chan, &io[next]);
                if (st == KVT_ERR_BUSY) {
                    break;
                }
                if (st != KVT_OK) {
                    w->failures++;
                }
                next++;
            }
            kvt_tier_io_t *done[16];
            size_t n = kvt_tier_poll(chan, 1, done, 16);
            for (size_t i = 0; i < n; i++) {
                if (done[i]->status != KVT_OK) {
                    w->failures++;
                } else if (round == 1) {
                    size_t idx = (size_t)(done[i] - io);
                    if (!fx_check(done[i]->meta.key, buf[idx], size_of(w->base + idx))) {
                        w->failures++;
                    }
                }
            }
            done_n += n;
        }
    }
    for (size_t i = 0; i < WORKER_BLOCKS; i++) {
        free(buf[i]);
    }
    kvt_tier_channel_close(chan);
    return NULL;
}

static void test_concurrent_channels(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    fx_config(&cfg, KVT_TIER_NVME, dir, 64 * MiB);
    kvt_error_t err;
    kvt_tier_t *tier;
    assert_int_equal(kvt_tier_open(&cfg, &tier, &err), KVT_OK);
    pthread_t th[3];
    worker_t w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (worker_t){.tier = tier, .base = 10000u * (uint64_t)(i + 1), .failures = 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    kvt_tier_info_t info;
    kvt_tier_info(tier, &info);
    assert_int_equal(info.blocks, 3 * WORKER_BLOCKS);
    assert_int_equal(info.errors, 0);
    kvt_tier_close(tier);
}

/*
 * The capacity promise under concurrency: kvt_tier_capacity_blocks() records of one size fit,
 * whatever other channels have in flight. Geometry: 64 KiB segments, 8 of them (512 KiB), 4096-
 * byte payloads: a record is 4096 + 4096 = 8192 bytes, a segment holds (65536 - 4096) / 8192 =
 * 7 of them, one segment is the compaction spare, so capacity = 7 * 7 = 49 records.
 * FILL_THREADS threads, each with a channel and up to FILL_QD puts in flight, reserve a unit of
 * a shared count before each put (so records held + puts in flight never exceed 49) and remove
 * one of their own completed records now and then; every put must complete KVT_OK (never
 * NO_SPACE/BUSY) although compaction keeps meeting segments pinned by other channels' appends.
 * Then they fill the tier to exactly 49: info.blocks is 49, every record reads back whole, and
 * one more put is refused KVT_ERR_NO_SPACE (every segment is then full of live records).
 */
#define FILL_THREADS 4
#define FILL_QD      4u
#define FILL_OPS     600u
#define FILL_PAYLOAD 4096u
#define FILL_CAP     49u

typedef struct fill_shared {
    kvt_tier_t *tier;
    _Atomic uint64_t reserved; /* records held + puts in flight, over all threads */
} fill_shared_t;

typedef struct filler {
    fill_shared_t *sh;
    uint64_t base;
    uint64_t rng;
    uint64_t keys[FILL_CAP]; /* this thread's completed records (key numbers) */
    size_t nkeys;
    int failures;
    int refused; /* puts answered NO_SPACE or BUSY */
    /* puts in flight */
    kvt_tier_io_t io[FILL_QD];
    uint64_t io_key[FILL_QD];
    unsigned char *buf[FILL_QD];
    bool busy[FILL_QD];
    uint32_t inflight;
} filler_t;

static bool fill_reserve(fill_shared_t *sh)
{
    uint64_t v = atomic_load(&sh->reserved);
    while (v < FILL_CAP) {
        if (atomic_compare_exchange_weak(&sh->reserved, &v, v + 1)) {
            return true;
        }
    }
    return false;
}

/* Remove one of w's records (chosen by the rng); false if it holds none. */
static bool fill_remove(filler_t *w)
{
    if (w->nkeys == 0) {
        return false;
    }
    size_t i = (size_t)(fx_mix(&w->rng) % w->nkeys);
    if (kvt_tier_remove(w->sh->tier, fx_key(w->keys[i])) != KVT_OK) {
        w->failures++;
    }
    w->keys[i] = w->keys[--w->nkeys];
    atomic_fetch_sub(&w->sh->reserved, 1);
    return true;
}

static void fill_reap(filler_t *w, kvt_tier_channel_t *chan, size_t min)
{
    kvt_tier_io_t *done[FILL_QD];
    size_t n = kvt_tier_poll(chan, min, done, FILL_QD);
    for (size_t i = 0; i < n; i++) {
        size_t s = (size_t)(done[i] - w->io);
        w->busy[s] = false;
        w->inflight--;
        if (done[i]->status == KVT_OK) {
            w->keys[w->nkeys++] = w->io_key[s];
        } else {
            if (done[i]->status == KVT_ERR_NO_SPACE || done[i]->status == KVT_ERR_BUSY) {
                w->refused++;
            }
            w->failures++;
            atomic_fetch_sub(&w->sh->reserved, 1);
        }
    }
}

/* Submit a put of a new key into a free slot (a unit is already reserved). */
static void fill_put(filler_t *w, kvt_tier_channel_t *chan, uint64_t *seq)
{
    size_t s = 0;
    while (w->busy[s]) {
        s++;
    }
    uint64_t k = w->base + (*seq)++;
    kvt_key_t key = fx_key(k);
    fx_fill(key, w->buf[s], FILL_PAYLOAD);
    memset(&w->io[s], 0, sizeof(w->io[s]));
    w->io[s].op = KVT_TIER_PUT;
    w->io[s].meta = fx_meta(key, w->buf[s], FILL_PAYLOAD);
    w->io[s].buf = w->buf[s];
    w->io[s].len = FILL_PAYLOAD;
    w->io_key[s] = k;
    w->busy[s] = true;
    w->inflight++;
    if (kvt_tier_submit(chan, &w->io[s]) != KVT_OK) {
        w->failures++;
        w->busy[s] = false;
        w->inflight--;
        atomic_fetch_sub(&w->sh->reserved, 1);
    }
}

static void *filler_main(void *arg)
{
    filler_t *w = arg;
    kvt_tier_channel_t *chan;
    if (kvt_tier_channel_open(w->sh->tier, &chan) != KVT_OK) {
        w->failures++;
        return NULL;
    }
    for (uint32_t i = 0; i < FILL_QD; i++) {
        w->buf[i] = aligned_alloc(4096, FILL_PAYLOAD);
    }
    uint64_t seq = 0;
    /* churn: puts with removes interleaved, at most 49 records held or in flight overall */
    for (uint32_t op = 0; op < FILL_OPS; op++) {
        if (w->inflight == FILL_QD) {
            fill_reap(w, chan, 1);
        }
        if (fx_mix(&w->rng) % 4 == 0 && fill_remove(w)) {
            continue;
        }
        if (fill_reserve(w->sh)) {
            fill_put(w, chan, &seq);
        } else if (!fill_remove(w)) {
            fill_reap(w, chan, w->inflight != 0 ? 1 : 0);
        }
        fill_reap(w, chan, 0);
    }
    /* fill: no more removes, puts until the 49 are taken */
    while (fill_reserve(w->sh)) {
        if (w->inflight == FILL_QD) {
            fill_reap(w, chan, 1);
        }
        fill_put(w, chan, &seq);
    }
    while (w->inflight != 0) {
        fill_reap(w, chan, 1);
    }
    for (uint32_t i = 0; i < FILL_QD; i++) {
        free(w->buf[i]);
    }
    kvt_tier_channel_close(chan);
    return NULL;
}

static void test_capacity_concurrent(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    fx_config(&cfg, KVT_TIER_NVME, dir, 512 * KiB);
    cfg.segment_bytes = 64 * KiB;
    cfg.max_record_bytes = 16 * KiB + KVT_BLOCK_HEADER_BYTES;
    cfg.queue_depth = FILL_QD;
    h_t h;
    open_cfg(&cfg, &h);
    assert_int_equal(kvt_tier_capacity_blocks(h.tier, FILL_PAYLOAD), FILL_CAP);
    fill_shared_t sh = {.tier = h.tier};
    atomic_init(&sh.reserved, 0);
    pthread_t th[FILL_THREADS];
    filler_t *w = calloc(FILL_THREADS, sizeof(*w));
    for (int i = 0; i < FILL_THREADS; i++) {
        w[i].sh = &sh;
        w[i].base = 1000000u * (uint64_t)(i + 1);
        w[i].rng = 99u + (uint64_t)i;
        assert_int_equal(pthread_create(&th[i], NULL, filler_main, &w[i]), 0);
    }
    size_t held = 0;
    for (int i = 0; i < FILL_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].refused, 0);
        assert_int_equal(w[i].failures, 0);
        held += w[i].nkeys;
    }
    assert_int_equal(held, FILL_CAP);
    kvt_tier_info_t info = info_of(&h);
    assert_int_equal(info.blocks, FILL_CAP);
    assert_int_equal(info.used_bytes, FILL_CAP * 8192u);
    assert_int_equal(info.errors, 0);
    unsigned char *buf = aligned_alloc(4096, FILL_PAYLOAD);
    for (int i = 0; i < FILL_THREADS; i++) {
        for (size_t j = 0; j < w[i].nkeys; j++) {
            assert_int_equal(get_into(&h, fx_key(w[i].keys[j]), buf, FILL_PAYLOAD, FILL_PAYLOAD),
                             KVT_OK);
        }
    }
    assert_int_equal(put_from(&h, fx_key(1), buf, FILL_PAYLOAD), KVT_ERR_NO_SPACE);
    free(buf);
    free(w);
    close_h(&h);
}

/* ---- probe ---- */

static void test_probe_and_detail(void **state)
{
    (void)state;
    SKIP_IF_UNAVAILABLE();
    kvt_tier_config_t cfg;
    char sub[200], why[256];
    snprintf(sub, sizeof(sub), "%s/not/yet", dir);
    fx_config(&cfg, KVT_TIER_NVME, sub, 16 * MiB);
    /* a directory that does not exist yet is probed through its nearest ancestor */
    assert_int_equal(kvt_tier_probe(&cfg, why, sizeof(why)), KVT_OK);
    char probe_left[256];
    snprintf(probe_left, sizeof(probe_left), "%s/not", dir);
    assert_int_not_equal(access(probe_left, F_OK), 0); /* nothing created */
    cfg.dir = "";
    assert_int_equal(kvt_tier_probe(&cfg, why, sizeof(why)), KVT_ERR_UNAVAILABLE);
    char gds[160];
    bool have = kvt_gds_probe(gds, sizeof(gds));
    assert_true(strncmp(gds, have ? "available: " : "unavailable: ", have ? 11 : 13) == 0);
    h_t h;
    fx_config(&cfg, KVT_TIER_NVME, sub, 16 * MiB);
    open_cfg(&cfg, &h);
    kvt_tier_info_t info = info_of(&h);
    assert_string_equal(info.name, "nvme");
    assert_int_equal(info.kind, KVT_TIER_NVME);
    assert_int_equal(info.capacity_bytes, 16 * MiB);
    assert_non_null(strstr(info.detail, "io_uring QD8, O_DIRECT"));
    assert_non_null(strstr(info.detail, gds)); /* "GDS unavailable: ..." */
    close_h(&h);
    /* a segment too small for the largest record is refused */
    cfg.segment_bytes = MiB;
    kvt_error_t err;
    kvt_tier_t *t;
    assert_int_equal(kvt_tier_open(&cfg, &t, &err), KVT_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_and_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_and_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hole_in_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_payload_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_descriptor_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_verifies_lazily, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_faults_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefault_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enospc_sys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vanished_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_and_detail, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
