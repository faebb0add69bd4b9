/*
 * Fault injection under the persistent tiers (NVMe, PFS) by swapping entries of the system-call
 * table (common/sysio.h; SQLite's xSetSystemCall): every write path goes through kvt_sys.pwrite
 * or an io_uring completion seen by kvt_sys.uring_result, every read path through kvt_sys.pread
 * or uring_result, so one set of hooks covers both backends. What must hold (the issue): a full
 * disk, an I/O error, a short read or a torn write degrades to a failed I/O or a miss — never a
 * crash, never a wrong block served — and the tier goes on working once the fault is gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tier_fixture.h"

#include "common/sysio.h"

#include <errno.h>

typedef enum fault { NONE, WRITE_ERR, READ_ERR, SHORT_READ, TORN_WRITE } fault_t;

static fault_t fault;
static int fault_errno;
static unsigned hits; /* faults injected */

/*
 * Write garbage over the second half of [off, off + len) of fd: what a torn write leaves. The
 * split point and the buffer are 4 KiB-aligned so the overwrite also works on O_DIRECT files.
 */
static void tear(int fd, size_t len, off_t off)
{
    size_t half = (len / 2) & ~(size_t)4095;
    unsigned char *junk = aligned_alloc(4096, (len - half + 4095) & ~(size_t)4095);
    memset(junk, 0x5a, len - half);
    assert_int_equal(pwrite(fd, junk, len - half, off + (off_t)half), (ssize_t)(len - half));
    free(junk);
}

static ssize_t hook_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (fault == WRITE_ERR) {
        hits++;
        errno = fault_errno;
        return -1;
    }
    ssize_t r = pwrite(fd, buf, len, off);
    if (fault == TORN_WRITE && r == (ssize_t)len && len >= 1024) {
        hits++;
        tear(fd, len, off);
    }
    return r;
}

static ssize_t hook_pread(int fd, void *buf, size_t len, off_t off)
{
    if (fault == READ_ERR) {
        hits++;
        errno = EIO;
        return -1;
    }
    if (fault == SHORT_READ && len >= 2) {
        hits++;
        return pread(fd, buf, len / 2, off);
    }
    return pread(fd, buf, len, off);
}

static int hook_fallocate(int fd, int mode, off_t off, off_t len)
{
    if (fault == WRITE_ERR && fault_errno == ENOSPC) {
        hits++;
        errno = ENOSPC;
        return -1;
    }
    return fallocate(fd, mode, off, len);
}

static int hook_uring(kvt_sys_uring_op_t op, int fd, size_t len, off_t off, int res)
{
    if (op == KVT_SYS_URING_WRITE && fault == WRITE_ERR) {
        hits++;
        return -fault_errno;
    }
    if (op == KVT_SYS_URING_WRITE && fault == TORN_WRITE && res == (int)len && len >= 1024) {
        hits++;
        tear(fd, len, off);
        return res;
    }
    if (op == KVT_SYS_URING_READ && fault == READ_ERR) {
        hits++;
        return -EIO;
    }
    if (op == KVT_SYS_URING_READ && fault == SHORT_READ && res > 1) {
        hits++;
        return res / 2;
    }
    return res;
}

static void arm(fault_t f, int err)
{
    fault = f;
    fault_errno = err;
    hits = 0;
    kvt_sys.pwrite = hook_pwrite;
    kvt_sys.pread = hook_pread;
    kvt_sys.fallocate = hook_fallocate;
    kvt_sys.uring_result = hook_uring;
}

static void disarm(void)
{
    fault = NONE;
    kvt_sys_reset();
}

typedef struct suite {
    kvt_tier_kind_t kind;
    char dir[128];
    kvt_tier_t *tier;
    kvt_tier_channel_t *chan;
} suite_t;

static void open_tier(suite_t *s)
{
    kvt_tier_config_t cfg;
    fx_config(&cfg, s->kind, s->dir, 64u << 20);
    cfg.max_record_bytes = (8u << 20) + KVT_BLOCK_HEADER_BYTES;
    cfg.segment_bytes = 16u << 20;
    kvt_error_t err;
    if (kvt_tier_open(&cfg, &s->tier, &err) != KVT_OK) {
        fail_msg("open: %s", err.message);
    }
    assert_int_equal(kvt_tier_channel_open(s->tier, &s->chan), KVT_OK);
}

static void close_tier(suite_t *s)
{
    kvt_tier_channel_close(s->chan);
    kvt_tier_close(s->tier);
    s->chan = NULL;
    s->tier = NULL;
}

static int setup(void **state)
{
    suite_t *s = *state;
    fx_mkdtemp(s->dir);
    open_tier(s);
    /* two good blocks that every fault must leave intact */
    assert_int_equal(fx_put(s->chan, fx_key(1), 65536), KVT_OK);
    assert_int_equal(fx_put(s->chan, fx_key(2), 100000), KVT_OK);
    return 0;
}

static int teardown(void **state)
{
    suite_t *s = *state;
    disarm();
    if (s->tier != NULL) {
        close_tier(s);
    }
    fx_rmtree(s->dir);
    return 0;
}

static void good_blocks_intact(suite_t *s)
{
    assert_int_equal(fx_get(s->chan, fx_key(1), 65536, 65536), KVT_OK);
    assert_int_equal(fx_get(s->chan, fx_key(2), 100000, 100000), KVT_OK);
}

/* A put that fails is not stored: not now, and (if found after a restart) only intact. */
static void write_fault(void **state, int err, kvt_status_t want)
{
    suite_t *s = *state;
    arm(WRITE_ERR, err);
    kvt_status_t st = fx_put(s->chan, fx_key(3), 65536);
    unsigned n = hits;
    disarm();
    assert_true(n > 0);
    assert_int_equal(st, want);
    assert_false(kvt_tier_contains(s->tier, fx_key(3)));
    assert_int_equal(fx_get(s->chan, fx_key(3), 65536, 65536), KVT_ERR_NOT_FOUND);
    good_blocks_intact(s);
    /* the fault is gone: the tier takes the block now */
    assert_int_equal(fx_put(s->chan, fx_key(3), 65536), KVT_OK);
    assert_int_equal(fx_get(s->chan, fx_key(3), 65536, 65536), KVT_OK);
    close_tier(s);
    open_tier(s);
    good_blocks_intact(s);
    assert_int_equal(fx_get(s->chan, fx_key(3), 65536, 65536), KVT_OK);
}

static void test_enospc(void **state)
{
    write_fault(state, ENOSPC, KVT_ERR_NO_SPACE);
}

static void test_eio_on_write(void **state)
{
    write_fault(state, EIO, KVT_ERR_IO);
}

static void test_eio_on_read(void **state)
{
    suite_t *s = *state;
    arm(READ_ERR, EIO);
    kvt_status_t st = fx_get(s->chan, fx_key(1), 65536, 65536);
    unsigned n = hits;
    disarm();
    assert_true(n > 0);
    assert_int_equal(st, KVT_ERR_IO);
    kvt_tier_info_t info;
    kvt_tier_info(s->tier, &info);
    assert_true(info.errors >= 1);
    /* a transient error: the block may be kept or dropped, never served wrong */
    st = fx_get(s->chan, fx_key(1), 65536, 65536);
    assert_true(st == KVT_OK || st == KVT_ERR_NOT_FOUND);
    assert_int_equal(fx_get(s->chan, fx_key(2), 100000, 100000), KVT_OK);
}

/* A short read is retried or failed; fx_get checks every byte whenever it says KVT_OK. */
static void test_short_read(void **state)
{
    suite_t *s = *state;
    arm(SHORT_READ, 0);
    kvt_status_t st = fx_get(s->chan, fx_key(2), 100000, 100000);
    unsigned n = hits;
    disarm();
    assert_true(n > 0);
    assert_true(st == KVT_OK || st == KVT_ERR_IO || st == KVT_ERR_CORRUPT);
    st = fx_get(s->chan, fx_key(2), 100000, 100000);
    assert_true(st == KVT_OK || st == KVT_ERR_NOT_FOUND);
    assert_int_equal(fx_get(s->chan, fx_key(1), 65536, 65536), KVT_OK);
}

/*
 * A torn write the device acknowledged: the put may say KVT_OK, but the block is never served:
 * the read's checksum catches it (KVT_ERR_CORRUPT, counted), before and after a restart. Two
 * sizes: 200,000 bytes (read in one piece) and 3 MiB + 5 (NVMe reads it in chunks, checksummed
 * as they land).
 */
static void test_torn_write(void **state)
{
    suite_t *s = *state;
    const size_t sizes[] = {200000, (3u << 20) + 5};
    for (unsigned i = 0; i < 2; i++) {
        arm(TORN_WRITE, 0);
        kvt_status_t put = fx_put(s->chan, fx_key(4 + 10 * i), sizes[i]);
        unsigned n = hits;
        disarm();
        assert_true(n > 0);
        (void)put;
        kvt_status_t st = fx_get(s->chan, fx_key(4 + 10 * i), sizes[i], sizes[i]);
        assert_true(st == KVT_ERR_CORRUPT || st == KVT_ERR_NOT_FOUND);
    }
    close_tier(s);
    open_tier(s);
    for (unsigned i = 0; i < 2; i++) {
        kvt_status_t st = fx_get(s->chan, fx_key(4 + 10 * i), sizes[i], sizes[i]);
        assert_true(st == KVT_ERR_CORRUPT || st == KVT_ERR_NOT_FOUND);
    }
    good_blocks_intact(s);
}

/* The directory vanishes under an open tier: puts fail or land in a recreated tree, gets of
 * the lost blocks miss, nothing crashes; a fresh tier opens there again. */
static void test_vanished_directory(void **state)
{
    suite_t *s = *state;
    fx_rmtree(s->dir);
    kvt_status_t st = fx_put(s->chan, fx_key(5), 65536);
    assert_true(st == KVT_OK || st == KVT_ERR_IO || st == KVT_ERR_NOT_FOUND ||
                st == KVT_ERR_NO_SPACE || st == KVT_ERR_UNAVAILABLE);
    st = fx_get(s->chan, fx_key(1), 65536, 65536);
    assert_true(st == KVT_OK || st == KVT_ERR_NOT_FOUND || st == KVT_ERR_IO ||
                st == KVT_ERR_CORRUPT);
    close_tier(s);
    open_tier(s);
    st = fx_get(s->chan, fx_key(2), 100000, 100000);
    assert_true(st == KVT_ERR_NOT_FOUND);
    assert_int_equal(fx_put(s->chan, fx_key(6), 65536), KVT_OK);
    assert_int_equal(fx_get(s->chan, fx_key(6), 65536, 65536), KVT_OK);
}

int main(void)
{
    static const kvt_tier_kind_t kinds[] = {KVT_TIER_NVME, KVT_TIER_PFS};
    static suite_t suites[2];
    int failed = 0;
    for (size_t k = 0; k < 2; k++) {
        suite_t *s = &suites[k];
        s->kind = kinds[k];
        if (!fx_available(s->kind)) {
            continue;
        }
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_prestate_setup_teardown(test_enospc, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_eio_on_write, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_eio_on_read, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_short_read, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_torn_write, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_vanished_directory, setup, teardown, s),
        };
        char name[64];
        snprintf(name, sizeof(name), "tier_faults_%s", kvt_tier_kind_name(s->kind));
        failed += _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
    }
    return failed;
}
