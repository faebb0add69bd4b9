/*
 * One conformance suite, every tier the machine has (libuv's TEST_FS_IMPL): each test runs once
 * per backend whose probe says it is available here; the others are reported as skipped with the
 * probe's reason. Payloads are derived from their keys (tier_fixture.h), so every byte read back
 * is checked against an independent generator, not against what the tier echoes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tier_fixture.h"

#include <pthread.h>

typedef struct suite {
    kvt_tier_kind_t kind;
    char dir[128];
} suite_t;

static bool persistent(kvt_tier_kind_t k)
{
    return k == KVT_TIER_NVME || k == KVT_TIER_PFS;
}

static int setup(void **state)
{
    suite_t *s = *state;
    fx_mkdtemp(s->dir);
    return 0;
}

static int teardown(void **state)
{
    suite_t *s = *state;
    fx_rmtree(s->dir);
    return 0;
}

static kvt_tier_t *open_tier(const suite_t *s, uint64_t capacity)
{
    kvt_tier_config_t cfg;
    fx_config(&cfg, s->kind, s->dir, capacity);
    kvt_tier_t *t = NULL;
    kvt_error_t err;
    kvt_status_t st = kvt_tier_open(&cfg, &t, &err);
    if (st != KVT_OK) {
        fail_msg("open %s: %s", kvt_tier_kind_name(s->kind), err.message);
    }
    return t;
}

/* Sizes: one sector, one 64 KiB block, 1 MiB + 123 (not a multiple of any sector). */
static const size_t sizes[] = {4096, 65536, (1u << 20) + 123};

static void test_round_trip(void **state)
{
    suite_t *s = *state;
    kvt_tier_t *t = open_tier(s, 64u << 20);
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(fx_put(c, fx_key(i), sizes[i]), KVT_OK);
    }
    for (size_t i = 0; i < 3; i++) {
        assert_true(kvt_tier_contains(t, fx_key(i)));
        /* exact buffer, and a larger one: io.len comes back as the payload size */
        assert_int_equal(fx_get(c, fx_key(i), sizes[i], sizes[i]), KVT_OK);
        assert_int_equal(fx_get(c, fx_key(i), sizes[i] + 5000, sizes[i]), KVT_OK);
    }
    kvt_tier_info_t info;
    kvt_tier_info(t, &info);
    assert_int_equal(info.kind, s->kind);
    assert_string_equal(info.name, kvt_tier_kind_name(s->kind));
    assert_int_equal(info.blocks, 3);
    /* at least the payloads: 4096 + 65536 + 1048699 */
    assert_true(info.used_bytes >= 4096 + 65536 + 1048699);
    assert_int_equal(info.errors, 0);
    assert_true(info.detail[0] != '\0');
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

/*
 * Blocks of many MiB (a 64-layer model's 256-token block is tens of MiB): 5 MiB + 123 and
 * 40 MiB + 4097 — both beyond any chunk or sector size a backend may split reads into (NVMe reads
 * records over 1 MiB in up to 16 chunks and checksums them as they land) — read back whole into
 * an unaligned buffer. (test_tier_faults.c tears such a block.)
 */
static void test_large_blocks(void **state)
{
    suite_t *s = *state;
    kvt_tier_config_t cfg;
    fx_config(&cfg, s->kind, s->dir, 256u << 20);
    cfg.max_record_bytes = (48u << 20) + KVT_BLOCK_HEADER_BYTES;
    cfg.segment_bytes = 64u << 20;
    kvt_tier_t *t;
    kvt_error_t err;
    if (kvt_tier_open(&cfg, &t, &err) != KVT_OK) {
        fail_msg("open: %s", err.message);
    }
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    const size_t big[] = {(5u << 20) + 123, (40u << 20) + 4097};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(fx_put(c, fx_key(900 + i), big[i]), KVT_OK);
    }
    for (size_t i = 0; i < 2; i++) {
        /* fx_get allocates with malloc: 16-byte aligned, not sector aligned; the +1 byte offset
         * below makes sure of it */
        unsigned char *raw = malloc(big[i] + 2);
        kvt_tier_io_t io;
        memset(&io, 0, sizeof(io));
        io.op = KVT_TIER_GET;
        io.meta.key = fx_key(900 + i);
        io.buf = raw + 1;
        io.len = big[i] + 1;
        assert_int_equal(kvt_tier_run(c, &io), KVT_OK);
        assert_int_equal(io.len, big[i]);
        assert_true(fx_check(fx_key(900 + i), raw + 1, big[i]));
        free(raw);
    }
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

/*
 * Pinned-ready memory: a memory tier names the host memory its blocks live in (what a GPU path
 * registers once), and a block put into it is found there, byte for byte; storage tiers have no
 * such memory (0 regions).
 */
static void test_regions(void **state)
{
    suite_t *s = *state;
    kvt_tier_t *t = open_tier(s, 16u << 20);
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    const size_t len = 65536;
    assert_int_equal(fx_put(c, fx_key(77), len), KVT_OK);
    kvt_tier_region_t r[4];
    size_t n = kvt_tier_regions(t, r, 4);
    if (s->kind == KVT_TIER_NVME || s->kind == KVT_TIER_PFS) {
        assert_int_equal(n, 0);
    } else {
        assert_true(n >= 1 && n <= 4);
        unsigned char *want = malloc(len);
        fx_fill(fx_key(77), want, len);
        bool found = false;
        for (size_t i = 0; i < n && !found; i++) {
            assert_non_null(r[i].base);
            assert_true(r[i].len >= len);
            found = memmem(r[i].base, r[i].len, want, len) != NULL;
        }
        assert_true(found);
        free(want);
    }
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

static void test_miss_and_small_buffer(void **state)
{
    suite_t *s = *state;
    kvt_tier_t *t = open_tier(s, 16u << 20);
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    assert_false(kvt_tier_contains(t, fx_key(1)));
    assert_int_equal(fx_get(c, fx_key(1), 4096, 4096), KVT_ERR_NOT_FOUND);
    assert_int_equal(fx_put(c, fx_key(1), 65536), KVT_OK);
    assert_int_equal(fx_get(c, fx_key(1), 65535, 65536), KVT_ERR_DOES_NOT_FIT);
    /* the failed get left the block intact */
    assert_int_equal(fx_get(c, fx_key(1), 65536, 65536), KVT_OK);
    /* a put larger than max_record_bytes (2 MiB + header) is refused before the backend */
    assert_int_equal(fx_put(c, fx_key(2), (2u << 20) + 1), KVT_ERR_DOES_NOT_FIT);
    assert_false(kvt_tier_contains(t, fx_key(2)));
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

static void test_duplicate_and_remove(void **state)
{
    suite_t *s = *state;
    kvt_tier_t *t = open_tier(s, 16u << 20);
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    assert_int_equal(fx_put(c, fx_key(5), 65536), KVT_OK);
    kvt_tier_info_t a, b;
    kvt_tier_info(t, &a);
    assert_int_equal(fx_put(c, fx_key(5), 65536), KVT_OK); /* equal key: nothing written */
    kvt_tier_info(t, &b);
    assert_int_equal(b.blocks, a.blocks);
    assert_int_equal(b.used_bytes, a.used_bytes);
    assert_int_equal(kvt_tier_remove(t, fx_key(5)), KVT_OK);
    assert_false(kvt_tier_contains(t, fx_key(5)));
    assert_int_equal(fx_get(c, fx_key(5), 65536, 65536), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_tier_remove(t, fx_key(5)), KVT_ERR_NOT_FOUND);
    kvt_tier_info(t, &b);
    assert_int_equal(b.blocks, a.blocks - 1);
    assert_true(b.used_bytes < a.used_bytes);
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

/*
 * Capacity: 16 MiB of 256 KiB blocks. A tier may spend some of its capacity on headers,
 * alignment and (NVMe) a spare segment for compaction, but must hold at least half of the
 * 64 payloads that fit (32), never more than 64, answer NO_SPACE when full rather than evicting
 * anything, and take new blocks again once blocks are removed (the store's eviction). The
 * number it took is the number kvt_tier_capacity_blocks() announced.
 */
static void test_capacity_and_reclaim(void **state)
{
    suite_t *s = *state;
    const size_t bs = 256u << 10;
    kvt_tier_t *t = open_tier(s, 16u << 20);
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    unsigned n = 0;
    kvt_status_t st;
    while ((st = fx_put(c, fx_key(100 + n), bs)) == KVT_OK) {
        n++;
        assert_true(n <= 64);
    }
    assert_int_equal(st, KVT_ERR_NO_SPACE);
    assert_true(n >= 32);
    /* what the tier promises a policy is exactly what it took: no more (a policy would meet
     * NO_SPACE), and no fewer than it can hold (capacity wasted by the placement above) */
    assert_int_equal(kvt_tier_capacity_blocks(t, bs), n);
    /* nothing was evicted by the tier itself */
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(fx_get(c, fx_key(100 + i), bs, bs), KVT_OK);
    }
    /* free every other block, then the tier takes n/2 new ones */
    for (unsigned i = 0; i < n; i += 2) {
        assert_int_equal(kvt_tier_remove(t, fx_key(100 + i)), KVT_OK);
    }
    for (unsigned i = 0; i < n / 2; i++) {
        assert_int_equal(fx_put(c, fx_key(1000 + i), bs), KVT_OK);
    }
    for (unsigned i = 1; i < n; i += 2) {
        assert_int_equal(fx_get(c, fx_key(100 + i), bs, bs), KVT_OK);
    }
    for (unsigned i = 0; i < n / 2; i++) {
        assert_int_equal(fx_get(c, fx_key(1000 + i), bs, bs), KVT_OK);
    }
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

/*
 * Asynchrony and back-pressure: queue_depth (8) I/Os are accepted without polling, the ninth is
 * refused with BUSY; every I/O comes back from poll exactly once and then the channel accepts
 * again.
 */
static void test_queue_depth(void **state)
{
    suite_t *s = *state;
    kvt_tier_t *t = open_tier(s, 16u << 20);
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    enum { QD = 8, LEN = 32768 };
    kvt_tier_io_t io[QD + 1];
    unsigned char *buf = malloc((QD + 1) * (size_t)LEN);
    memset(io, 0, sizeof(io));
    for (unsigned i = 0; i <= QD; i++) {
        fx_fill(fx_key(200 + i), buf + (size_t)i * LEN, LEN);
        io[i].op = KVT_TIER_PUT;
        io[i].meta = fx_meta(fx_key(200 + i), buf + (size_t)i * LEN, LEN);
        io[i].buf = buf + (size_t)i * LEN;
        io[i].len = LEN;
        io[i].user = &io[i];
    }
    for (unsigned i = 0; i < QD; i++) {
        assert_int_equal(kvt_tier_submit(c, &io[i]), KVT_OK);
    }
    assert_int_equal(kvt_tier_submit(c, &io[QD]), KVT_ERR_BUSY);
    unsigned seen[QD] = {0};
    size_t got = 0;
    while (got < QD) {
        kvt_tier_io_t *done[QD];
        size_t n = kvt_tier_poll(c, 1, done, QD);
        for (size_t j = 0; j < n; j++) {
            assert_ptr_equal(done[j]->user, done[j]);
            assert_int_equal(done[j]->status, KVT_OK);
            seen[done[j] - io]++;
        }
        got += n;
    }
    assert_int_equal(got, QD);
    for (unsigned i = 0; i < QD; i++) {
        assert_int_equal(seen[i], 1);
    }
    kvt_tier_io_t *none[1];
    assert_int_equal(kvt_tier_poll(c, 0, none, 1), 0);
    assert_int_equal(kvt_tier_run(c, &io[QD]), KVT_OK);
    for (unsigned i = 0; i <= QD; i++) {
        assert_int_equal(fx_get(c, fx_key(200 + i), LEN, LEN), KVT_OK);
    }
    free(buf);
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

typedef struct worker {
    kvt_tier_t *tier;
    unsigned id;
    int failures;
} worker_t;

/* Each thread: its own channel, 24 own keys and 8 keys shared by all threads, put then get. */
static void *worker_main(void *arg)
{
    worker_t *w = arg;
    kvt_tier_channel_t *c;
    if (kvt_tier_channel_open(w->tier, &c) != KVT_OK) {
        w->failures++;
        return NULL;
    }
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned i = 0; i < 32; i++) {
            uint64_t k = i < 24 ? 10000 + w->id * 100 + i : 20000 + i;
            size_t len = 8192 + (size_t)(k % 7) * 4096;
            if (round == 0 && fx_put(c, fx_key(k), len) != KVT_OK) {
                w->failures++;
            }
            void *buf = malloc(len);
            kvt_tier_io_t io;
            memset(&io, 0, sizeof(io));
            io.op = KVT_TIER_GET;
            io.meta.key = fx_key(k);
            io.buf = buf;
            io.len = len;
            if (kvt_tier_run(c, &io) != KVT_OK || io.len != len || !fx_check(fx_key(k), buf, len)) {
                w->failures++;
            }
            free(buf);
        }
    }
    kvt_tier_channel_close(c);
    return NULL;
}

static void test_concurrent_channels(void **state)
{
    suite_t *s = *state;
    kvt_tier_t *t = open_tier(s, 64u << 20);
    enum { N = 4 };
    pthread_t th[N];
    worker_t w[N];
    for (unsigned i = 0; i < N; i++) {
        w[i] = (worker_t){.tier = t, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    kvt_tier_info_t info;
    kvt_tier_info(t, &info);
    /* 4 x 24 own keys + 8 shared */
    assert_int_equal(info.blocks, 4 * 24 + 8);
    kvt_tier_close(t);
}

static unsigned scanned;
static void count_cb(const kvt_block_meta_t *m, void *arg)
{
    (void)arg;
    /* keys 300..339: payload bytes 4096 * (1 + n % 4) */
    uint64_t want = 0;
    for (uint64_t n = 300; n < 340; n++) {
        if (kvt_key_equal(fx_key(n), m->key)) {
            want = 4096 * (1 + n % 4);
        }
    }
    assert_int_equal(m->payload_bytes, want);
    scanned++;
}

/* Restart: what a persistent tier held is found again, verified, by get and by scan. */
static void test_restart(void **state)
{
    suite_t *s = *state;
    if (!persistent(s->kind)) {
        skip();
    }
    kvt_tier_t *t = open_tier(s, 64u << 20);
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    for (uint64_t n = 300; n < 340; n++) {
        assert_int_equal(fx_put(c, fx_key(n), 4096 * (1 + n % 4)), KVT_OK);
    }
    assert_int_equal(kvt_tier_remove(t, fx_key(300)), KVT_OK);
    kvt_tier_channel_close(c);
    kvt_tier_close(t);

    t = open_tier(s, 64u << 20);
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    for (uint64_t n = 301; n < 340; n++) {
        size_t len = 4096 * (1 + n % 4);
        assert_int_equal(fx_get(c, fx_key(n), len, len), KVT_OK);
    }
    scanned = 0;
    assert_int_equal(kvt_tier_scan(t, count_cb, NULL), KVT_OK);
    /* 39 live; a removed block may come back after a restart (equal keys, equal content) */
    assert_true(scanned == 39 || scanned == 40);
    kvt_tier_info_t info;
    kvt_tier_info(t, &info);
    assert_int_equal(info.blocks, scanned);
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

int main(void)
{
    static const kvt_tier_kind_t kinds[] = {KVT_TIER_DRAM, KVT_TIER_CXL, KVT_TIER_NVME,
                                            KVT_TIER_PFS};
    int failed = 0;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        static suite_t suites[4];
        suite_t *s = &suites[k];
        s->kind = kinds[k];
        if (!fx_available(s->kind)) {
            continue;
        }
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_prestate_setup_teardown(test_round_trip, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_large_blocks, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_regions, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_miss_and_small_buffer, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_duplicate_and_remove, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_capacity_and_reclaim, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_queue_depth, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_concurrent_channels, setup, teardown, s),
            cmocka_unit_test_prestate_setup_teardown(test_restart, setup, teardown, s),
        };
        char name[64];
        snprintf(name, sizeof(name), "tier_conformance_%s", kvt_tier_kind_name(s->kind));
        failed += _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
    }
    return failed;
}
