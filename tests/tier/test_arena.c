/*
 * The memory tiers (DRAM, CXL) and what they stand on: the slab arena (size classes,
 * exhaustion, reuse, no overlap, pins, NUMA binding), the tier's data path and its limits,
 * concurrent channels, and the CPU-less node detection on fake sysfs trees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tier_fixture.h"

#include "hw/numa_probe.h"
#include "tier/arena.h"

#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define KiB 1024ull
#define MiB (1024ull * 1024ull)

static kvt_arena_t *make_arena(uint64_t capacity, uint64_t max_slot, int node)
{
    kvt_arena_opts_t o = {.capacity_bytes = capacity,
                          .max_slot_bytes = max_slot,
                          .hugepages = false,
                          .numa_node = node};
    kvt_arena_t *a = NULL;
    kvt_error_t err;
    kvt_status_t st = kvt_arena_create(&o, &a, &err);
    if (st != KVT_OK) {
        fail_msg("arena: %s", err.message);
    }
    return a;
}

/*
 * Classes for a 64 KiB largest slot: 4, 8, 12, 16 KiB, then 20, 24, 28, 32 (16 KiB x 1.25,
 * 1.5, 1.75, 2), then 40, 48, 56, 64 (32 KiB x ...): 12 classes. Slabs are the smallest
 * multiple of the largest slot that is >= 2 MiB: 32 x 64 KiB = 2 MiB.
 */
static void test_size_classes(void **state)
{
    (void)state;
    kvt_arena_t *a = make_arena(4 * MiB, 64 * KiB, -1);
    kvt_arena_stats_t st;
    kvt_arena_stats(a, &st);
    assert_int_equal(st.nclasses, 12);
    assert_int_equal(st.slab_bytes, 2 * MiB);
    assert_int_equal(st.slabs, 2); /* 4 MiB / 2 MiB */
    assert_int_equal(st.arena_bytes, 4 * MiB);
    assert_int_equal(st.free_slabs, 2);
    static const uint64_t cases[][2] = {
        {0, 4096},
        {1, 4096},
        {4096, 4096},
        {4097, 8192},
        {16 * KiB, 16 * KiB},
        {16 * KiB + 1, 20 * KiB},
        {33 * KiB, 40 * KiB},
        {60 * KiB, 64 * KiB},
        {64 * KiB, 64 * KiB},
        {64 * KiB + 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(kvt_arena_class_bytes(a, cases[i][0]), cases[i][1]);
    }
    uint64_t off;
    assert_int_equal(kvt_arena_alloc(a, 64 * KiB + 1, &off), KVT_ERR_DOES_NOT_FIT);
    kvt_arena_region_t r[2];
    assert_int_equal(kvt_arena_regions(a, r, 2), 1);
    assert_int_equal(r[0].len, 4 * MiB);
    assert_int_equal((uintptr_t)r[0].base % (2 * MiB), 0); /* THP-ready alignment */
    kvt_arena_destroy(a);

    /* default tier geometry: 16 MiB largest payload -> 4 small + 4 per doubling from 16 KiB
     * to 16 MiB (10 doublings) = 44 classes, 16 MiB slabs; 100 MiB holds 6 whole slabs */
    a = make_arena(100 * MiB, 16 * MiB, -1);
    kvt_arena_stats(a, &st);
    assert_int_equal(st.nclasses, 44);
    assert_int_equal(st.slab_bytes, 16 * MiB);
    assert_int_equal(st.slabs, 6);
    assert_int_equal(kvt_arena_class_bytes(a, 9 * MiB), 10 * MiB);
    assert_int_equal(kvt_arena_class_bytes(a, 2 * MiB + 1), 2560 * KiB);
    kvt_arena_destroy(a);

    /* 1.5 MiB largest slot: slab = 2 x 1.5 MiB = 3 MiB; capacity below one slab -> one slab */
    a = make_arena(1 * MiB, 1536 * KiB, -1);
    kvt_arena_stats(a, &st);
    assert_int_equal(st.slab_bytes, 3 * MiB);
    assert_int_equal(st.slabs, 1);
    kvt_arena_destroy(a);
    kvt_arena_destroy(NULL);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* 2 slabs x 32 slots of 64 KiB: 64 allocations of 60 KiB (class 64 KiB) fit, the 65th does
 * not; a released slot is the one handed out next; mixing classes holds slabs. */
static void test_exhaustion_and_reuse(void **state)
{
    (void)state;
    kvt_arena_t *a = make_arena(4 * MiB, 64 * KiB, -1);
    uint64_t offs[64], off;
    for (unsigned i = 0; i < 64; i++) {
        assert_int_equal(kvt_arena_alloc(a, 60 * KiB, &offs[i]), KVT_OK);
        assert_int_equal(offs[i] % (64 * KiB), 0);
        assert_true(offs[i] < 4 * MiB);
    }
    qsort(offs, 64, sizeof(offs[0]), cmp_u64);
    for (unsigned i = 0; i < 64; i++) {
        assert_int_equal(offs[i], i * 64 * KiB); /* all 64 distinct slots, nothing else */
    }
    assert_int_equal(kvt_arena_alloc(a, 60 * KiB, &off), KVT_ERR_NO_SPACE);
    assert_int_equal(kvt_arena_alloc(a, 4096, &off), KVT_ERR_NO_SPACE); /* no free slab */
    kvt_arena_release(a, offs[17]);
    assert_int_equal(kvt_arena_alloc(a, 64 * KiB, &off), KVT_OK);
    assert_int_equal(off, offs[17]);
    kvt_arena_stats_t st;
    kvt_arena_stats(a, &st);
    assert_int_equal(st.slots_used, 64);
    assert_int_equal(st.free_slabs, 0);
    for (unsigned i = 0; i < 64; i++) {
        kvt_arena_release(a, offs[i]);
    }
    kvt_arena_stats(a, &st);
    assert_int_equal(st.slots_used, 0);
    assert_int_equal(st.free_slabs, 2); /* empty slabs went back to the free list */

    /* one 4 KiB slot takes a whole slab for its class; 32 x 64 KiB fill the other; a 33rd
     * 64 KiB slot finds no slab though 2 MiB - 4 KiB is unused; the 4 KiB class still has
     * 511 slots; freeing its slots returns its slab, and 64 KiB slots fit again */
    uint64_t small, big[32], smalls[511];
    assert_int_equal(kvt_arena_alloc(a, 100, &small), KVT_OK);
    for (unsigned i = 0; i < 32; i++) {
        assert_int_equal(kvt_arena_alloc(a, 64 * KiB, &big[i]), KVT_OK);
    }
    assert_int_equal(kvt_arena_alloc(a, 64 * KiB, &off), KVT_ERR_NO_SPACE);
    for (unsigned i = 0; i < 511; i++) {
        assert_int_equal(kvt_arena_alloc(a, 4096, &smalls[i]), KVT_OK);
    }
    assert_int_equal(kvt_arena_alloc(a, 4096, &off), KVT_ERR_NO_SPACE);
    kvt_arena_release(a, small);
    for (unsigned i = 0; i < 511; i++) {
        kvt_arena_release(a, smalls[i]);
    }
    assert_int_equal(kvt_arena_alloc(a, 64 * KiB, &off), KVT_OK);
    kvt_arena_release(a, off);
    for (unsigned i = 0; i < 32; i++) {
        kvt_arena_release(a, big[i]);
    }

    /* pins: a released slot that is pinned is not reused until the last unpin */
    uint64_t p;
    assert_int_equal(kvt_arena_alloc(a, 64 * KiB, &p), KVT_OK);
    kvt_arena_pin(a, p);
    kvt_arena_pin(a, p);
    kvt_arena_release(a, p);
    kvt_arena_stats(a, &st);
    assert_int_equal(st.slots_used, 1);
    assert_int_equal(kvt_arena_alloc(a, 64 * KiB, &off), KVT_OK);
    assert_true(off != p);
    kvt_arena_release(a, off);
    kvt_arena_unpin(a, p);
    kvt_arena_stats(a, &st);
    assert_int_equal(st.slots_used, 1);
    kvt_arena_unpin(a, p);
    kvt_arena_stats(a, &st);
    assert_int_equal(st.slots_used, 0);
    kvt_arena_destroy(a);
}

/* Fill an 8 MiB arena with random sizes until it is full, write each allocation's own bytes,
 * check every byte back and that no two slots overlap; free half, refill, check again. */
static void test_no_overlap(void **state)
{
    (void)state;
    kvt_arena_t *a = make_arena(8 * MiB, 64 * KiB, -1);
    enum { MAXN = 4096 };
    static uint64_t off[MAXN], len[MAXN], iv[MAXN][2];
    static bool live[MAXN];
    uint64_t seed = 42;
    unsigned n = 0;
    for (int pass = 0; pass < 2; pass++) {
        kvt_status_t st = KVT_OK;
        while (n < MAXN) {
            uint64_t want = 1 + fx_mix(&seed) % (64 * KiB);
            st = kvt_arena_alloc(a, want, &off[n]);
            if (st != KVT_OK) {
                break;
            }
            len[n] = want;
            live[n] = true;
            fx_fill(fx_key(n), kvt_arena_ptr(a, off[n]), want);
            n++;
        }
        assert_int_equal(st, KVT_ERR_NO_SPACE);
        unsigned m = 0;
        for (unsigned i = 0; i < n; i++) {
            if (live[i]) {
                assert_true(fx_check(fx_key(i), kvt_arena_ptr(a, off[i]), len[i]));
                assert_true(off[i] + kvt_arena_class_bytes(a, len[i]) <= 8 * MiB);
                iv[m][0] = off[i];
                iv[m][1] = off[i] + len[i];
                m++;
            }
        }
        qsort(iv, m, sizeof(iv[0]), cmp_u64); /* sorts by start (first member) */
        for (unsigned i = 1; i < m; i++) {
            assert_true(iv[i - 1][1] <= iv[i][0]);
        }
        /* free every other live allocation */
        for (unsigned i = 0; i < n; i += 2) {
            if (live[i]) {
                kvt_arena_release(a, off[i]);
                live[i] = false;
            }
        }
    }
    kvt_arena_destroy(a);
}

/* Binding and pre-faulting: the arena's pages land on the node asked for (0 exists
 * everywhere), mbind policy included, and prefault makes every page resident. */
static void test_bind_and_prefault(void **state)
{
    (void)state;
    if (numa_available() < 0) {
        skip();
    }
    kvt_arena_t *a = make_arena(4 * MiB, 64 * KiB, 0);
    assert_int_equal(kvt_arena_prefault(a), KVT_OK);
    kvt_arena_region_t r;
    assert_int_equal(kvt_arena_regions(a, &r, 1), 1);
    unsigned char vec[1024];
    assert_int_equal(mincore(r.base, r.len, vec), 0);
    for (size_t i = 0; i < r.len / 4096; i++) {
        assert_true(vec[i] & 1);
    }
    int mode = -1;
    unsigned long mask[16] = {0};
    assert_int_equal(get_mempolicy(&mode, mask, sizeof(mask) * 8, r.base, MPOL_F_ADDR), 0);
    assert_int_equal(mode, MPOL_BIND);
    assert_int_equal(mask[0], 1ul); /* node 0 only */
    int node = -1;
    assert_int_equal(
        get_mempolicy(&node, NULL, 0, (char *)r.base + 3 * MiB, MPOL_F_NODE | MPOL_F_ADDR), 0);
    assert_int_equal(node, 0);
    kvt_arena_destroy(a);
}

static kvt_tier_t *open_mem(kvt_tier_kind_t kind, uint64_t capacity, uint64_t max_payload)
{
    kvt_tier_config_t cfg;
    kvt_tier_config_init(&cfg, kind);
    cfg.capacity_bytes = capacity;
    cfg.max_record_bytes = max_payload + KVT_BLOCK_HEADER_BYTES;
    cfg.hugepages = false;
    cfg.queue_depth = 8;
    kvt_tier_t *t = NULL;
    kvt_error_t err;
    if (kvt_tier_open(&cfg, &t, &err) != KVT_OK) {
        fail_msg("open: %s", err.message);
    }
    return t;
}

/* kvt_tier_prefault: before it a fresh DRAM tier has none of its pages resident (they are faulted
 * lazily), after it every page of every region is. */
static void test_tier_prefault(void **state)
{
    (void)state;
    kvt_tier_t *t = open_mem(KVT_TIER_DRAM, 8 * MiB, 64 * KiB);
    kvt_tier_region_t r[4];
    size_t n = kvt_tier_regions(t, r, 4);
    assert_true(n >= 1 && n <= 4);
    static unsigned char vec[(64 * MiB) / 4096];
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            assert_int_equal(kvt_tier_prefault(t), KVT_OK);
        }
        for (size_t k = 0; k < n; k++) {
            size_t pages = (r[k].len + 4095) / 4096;
            assert_true(pages <= sizeof(vec));
            assert_int_equal(mincore(r[k].base, r[k].len, vec), 0);
            size_t resident = 0;
            for (size_t i = 0; i < pages; i++) {
                resident += vec[i] & 1;
            }
            assert_int_equal(resident, pass == 0 ? 0 : pages);
        }
    }
    kvt_tier_close(t);
}

/* Put then get sizes from 0 B to the 16 MiB maximum; used_bytes is exactly the records. */
static void test_round_trip(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 4096, 65536, 1u << 20, (1u << 20) + 123, 16u << 20};
    /* slabs of 16 MiB, one per class used: 4 KiB (0, 1, 4096), 64 KiB, 1 MiB, 1.25 MiB,
     * 16 MiB = 5 slabs; 6 fit in 96 MiB */
    kvt_tier_t *t = open_mem(KVT_TIER_DRAM, 96 * MiB, 16 * MiB);
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    uint64_t used = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        assert_int_equal(fx_put(c, fx_key(i), sizes[i]), KVT_OK);
        used += KVT_BLOCK_HEADER_BYTES + sizes[i];
    }
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        assert_int_equal(fx_get(c, fx_key(i), sizes[i], sizes[i]), KVT_OK);
        assert_int_equal(fx_get(c, fx_key(i), sizes[i] + 100, sizes[i]), KVT_OK);
        if (sizes[i] > 0) {
            assert_int_equal(fx_get(c, fx_key(i), sizes[i] - 1, sizes[i]), KVT_ERR_DOES_NOT_FIT);
        }
    }
    kvt_tier_info_t info;
    kvt_tier_info(t, &info);
    assert_int_equal(info.blocks, 7);
    /* 7 headers + 0 + 1 + 4096 + 65536 + 1048576 + 1048699 + 16777216 */
    assert_int_equal(info.used_bytes,
                     7 * 128 + 0 + 1 + 4096 + 65536 + 1048576 + 1048699 + 16777216);
    assert_int_equal(info.used_bytes, used);
    assert_int_equal(info.capacity_bytes, 96 * MiB);
    assert_string_equal(info.name, "dram");
    assert_non_null(strstr(info.detail, "4 KiB pages (huge pages not asked for)"));
    assert_non_null(strstr(info.detail, "local node"));
    assert_non_null(strstr(info.detail, "6 slabs of 16 MiB"));

    /* one past the maximum is refused; misses */
    assert_int_equal(fx_put(c, fx_key(50), (16u << 20) + 1), KVT_ERR_DOES_NOT_FIT);
    assert_int_equal(fx_get(c, fx_key(50), 4096, 4096), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_tier_remove(t, fx_key(50)), KVT_ERR_NOT_FOUND);

    /* a duplicate put with other bytes writes nothing: the first content stays */
    unsigned char other[4096];
    memset(other, 0xEE, sizeof(other));
    kvt_tier_io_t io;
    memset(&io, 0, sizeof(io));
    io.op = KVT_TIER_PUT;
    io.meta = fx_meta(fx_key(2), other, sizeof(other));
    io.buf = other;
    io.len = sizeof(other);
    assert_int_equal(kvt_tier_run(c, &io), KVT_OK);
    assert_int_equal(fx_get(c, fx_key(2), 4096, 4096), KVT_OK);
    kvt_tier_info(t, &info);
    assert_int_equal(info.used_bytes, used);

    /* remove frees; scan sees what is left */
    assert_int_equal(kvt_tier_remove(t, fx_key(6)), KVT_OK);
    assert_false(kvt_tier_contains(t, fx_key(6)));
    assert_true(kvt_tier_contains(t, fx_key(5)));
    kvt_tier_info(t, &info);
    assert_int_equal(info.blocks, 6);
    assert_int_equal(info.used_bytes, used - 128 - 16777216);
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

/* Capacity = 4 MiB, largest payload 64 KiB: 2 slabs of 32 x 64 KiB slots.
 * 64 KiB payloads are 65664-byte records: floor(4194304 / 65664) = 63 fit by bytes.
 * 60 KiB payloads are 61568-byte records: 64 x 61568 = 3940352 <= 4 MiB, so the 64 slots
 * run out first and the 65th put is refused. */
static void test_no_space(void **state)
{
    (void)state;
    kvt_tier_t *t = open_mem(KVT_TIER_DRAM, 4 * MiB, 64 * KiB);
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    for (unsigned i = 0; i < 63; i++) {
        assert_int_equal(fx_put(c, fx_key(i), 64 * KiB), KVT_OK);
    }
    assert_int_equal(fx_put(c, fx_key(63), 64 * KiB), KVT_ERR_NO_SPACE);
    assert_false(kvt_tier_contains(t, fx_key(63)));
    assert_int_equal(kvt_tier_remove(t, fx_key(10)), KVT_OK);
    assert_int_equal(fx_put(c, fx_key(63), 64 * KiB), KVT_OK);
    for (unsigned i = 0; i < 64; i++) {
        assert_int_equal(fx_get(c, fx_key(i), 64 * KiB, 64 * KiB),
                         i == 10 ? KVT_ERR_NOT_FOUND : KVT_OK);
        if (i != 10) {
            assert_int_equal(kvt_tier_remove(t, fx_key(i)), KVT_OK);
        }
    }
    kvt_tier_info_t info;
    kvt_tier_info(t, &info);
    assert_int_equal(info.blocks, 0);
    assert_int_equal(info.used_bytes, 0);
    for (unsigned i = 0; i < 64; i++) {
        assert_int_equal(fx_put(c, fx_key(100 + i), 60 * KiB), KVT_OK);
    }
    assert_int_equal(fx_put(c, fx_key(164), 60 * KiB), KVT_ERR_NO_SPACE);
    kvt_tier_info(t, &info);
    assert_int_equal(info.used_bytes, 3940352);
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

/* ---- concurrent channels ---- */

typedef struct hammer {
    kvt_tier_t *tier;
    unsigned id;
    unsigned failures;
} hammer_t;

enum { OWN = 48, SHARED = 16, ROUNDS = 30 };

static uint64_t own_key(unsigned id, unsigned i)
{
    return 100000 + id * 1000 + i;
}

static size_t key_len(uint64_t k)
{
    return 4096 + (size_t)(k % 29) * 4096 + (size_t)(k % 3); /* 4 KiB .. 116 KiB + 2 */
}

/* Get k; OK must be k's exact bytes; NOT_FOUND is allowed only when may_miss. */
static unsigned check_get(kvt_tier_channel_t *c, uint64_t k, bool may_miss, unsigned char *buf)
{
    size_t len = key_len(k);
    kvt_tier_io_t io;
    memset(&io, 0, sizeof(io));
    io.op = KVT_TIER_GET;
    io.meta.key = fx_key(k);
    io.buf = buf;
    io.len = 128 * KiB;
    kvt_status_t st = kvt_tier_run(c, &io);
    if (st == KVT_ERR_NOT_FOUND && may_miss) {
        return 0;
    }
    return st != KVT_OK || io.len != len || io.meta.payload_bytes != len ||
           !kvt_key_equal(io.meta.key, fx_key(k)) || !fx_check(fx_key(k), buf, len);
}

static unsigned put_key(kvt_tier_channel_t *c, uint64_t k, unsigned char *buf)
{
    size_t len = key_len(k);
    fx_fill(fx_key(k), buf, len);
    kvt_tier_io_t io;
    memset(&io, 0, sizeof(io));
    io.op = KVT_TIER_PUT;
    io.meta = fx_meta(fx_key(k), buf, len);
    io.buf = buf;
    io.len = len;
    return kvt_tier_run(c, &io) != KVT_OK;
}

/*
 * Each of 4 threads, on its own channel, for ROUNDS rounds: puts its own 48 keys, reads them
 * back, removes a third of them (a different third each round); puts the 16 shared keys
 * (all threads put the same content: the first wins, the rest complete OK without writing)
 * and reads them, tolerating only a miss; thread 0 also removes shared keys, so gets race
 * removes and slot reuse -- a get that copies a reused slot would fail the byte check.
 */
static void *hammer_main(void *arg)
{
    hammer_t *h = arg;
    kvt_tier_channel_t *c;
    if (kvt_tier_channel_open(h->tier, &c) != KVT_OK) {
        h->failures++;
        return NULL;
    }
    unsigned char *buf = malloc(128 * KiB);
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (unsigned i = 0; i < OWN; i++) {
            h->failures += put_key(c, own_key(h->id, i), buf);
        }
        for (unsigned i = 0; i < SHARED; i++) {
            h->failures += put_key(c, i, buf);
        }
        for (unsigned i = 0; i < OWN; i++) {
            h->failures += check_get(c, own_key(h->id, i), false, buf);
        }
        for (unsigned i = 0; i < SHARED; i++) {
            h->failures += check_get(c, i, true, buf);
            if (h->id == 0 && (i + r) % 2 == 0) {
                kvt_status_t st = kvt_tier_remove(h->tier, fx_key(i));
                h->failures += st != KVT_OK && st != KVT_ERR_NOT_FOUND;
            }
        }
        if (r + 1 < ROUNDS) {
            for (unsigned i = r % 3; i < OWN; i += 3) {
                h->failures += kvt_tier_remove(h->tier, fx_key(own_key(h->id, i))) != KVT_OK;
            }
        }
    }
    free(buf);
    kvt_tier_channel_close(c);
    return NULL;
}

static void test_concurrent_channels(void **state)
{
    (void)state;
    /* live at most 4 x 48 + 16 = 208 records of <= 116 KiB + 2 B: < 24 MiB; 64 MiB is ample */
    kvt_tier_t *t = open_mem(KVT_TIER_DRAM, 64 * MiB, 128 * KiB);
    enum { N = 4 };
    pthread_t th[N];
    hammer_t h[N];
    for (unsigned i = 0; i < N; i++) {
        h[i] = (hammer_t){.tier = t, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
    }
    for (unsigned i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(h[i].failures, 0);
    }
    /* afterwards: every own key is present (the last round removes none); shared keys are
     * present or not; put them all again, then exactly 4 x 48 + 16 blocks, all intact */
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    unsigned char *buf = malloc(128 * KiB);
    uint64_t used = 0;
    for (unsigned i = 0; i < SHARED; i++) {
        assert_int_equal(put_key(c, i, buf), 0);
        assert_int_equal(check_get(c, i, false, buf), 0);
        used += KVT_BLOCK_HEADER_BYTES + key_len(i);
    }
    for (unsigned id = 0; id < N; id++) {
        for (unsigned i = 0; i < OWN; i++) {
            assert_int_equal(check_get(c, own_key(id, i), false, buf), 0);
            used += KVT_BLOCK_HEADER_BYTES + key_len(own_key(id, i));
        }
    }
    kvt_tier_info_t info;
    kvt_tier_info(t, &info);
    assert_int_equal(info.blocks, N * OWN + SHARED);
    assert_int_equal(info.used_bytes, used);
    free(buf);
    kvt_tier_channel_close(c);
    kvt_tier_close(t);
}

/* ---- NUMA detection on fake sysfs trees ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* nodeN under root with a cpulist and a MemTotal of kb kB */
static void fake_node(const char *root, int id, const char *cpulist, unsigned long long kb)
{
    char dir[512], text[128];
    snprintf(dir, sizeof(dir), "%s/node%d", root, id);
    assert_int_equal(mkdir(dir, 0755), 0);
    write_file(dir, "cpulist", cpulist);
    snprintf(text, sizeof(text), "Node %d MemTotal:       %llu kB\nNode %d MemFree: 1 kB\n", id, kb,
             id);
    write_file(dir, "meminfo", text);
}

static void test_numa_fake_sysfs(void **state)
{
    (void)state;
    char root[128];
    fx_mkdtemp(root);
    kvt_numa_node_t *nodes = NULL;
    size_t n = 0;
    kvt_error_t err;
    char desc[256];
    int node = -1;

    /* one node with CPUs: node 0 is chosen, and the description says it is ordinary DRAM */
    fake_node(root, 0, "0-1\n", 8388608); /* 8 GiB */
    write_file(root, "possible", "0\n");  /* not a node directory: ignored */
    assert_int_equal(kvt_numa_scan(root, &nodes, &n, &err), KVT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(nodes[0].id, 0);
    assert_int_equal(nodes[0].ncpus, 2);
    assert_int_equal(nodes[0].mem_bytes, 8ull << 30);
    assert_int_equal(kvt_numa_choose(nodes, n, -1, &node, desc, sizeof(desc), &err), KVT_OK);
    assert_int_equal(node, 0);
    assert_string_equal(desc, "bound to node 0 (no CPU-less memory node found: 1 node, this is "
                              "ordinary DRAM)");
    free(nodes);

    /* node1: memory, no CPUs (a CXL expander) -> node 1 */
    fake_node(root, 1, "\n", 16777216); /* 16 GiB */
    assert_int_equal(kvt_numa_scan(root, &nodes, &n, &err), KVT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(nodes[1].id, 1);
    assert_int_equal(nodes[1].ncpus, 0);
    assert_int_equal(kvt_numa_choose(nodes, n, -1, &node, desc, sizeof(desc), &err), KVT_OK);
    assert_int_equal(node, 1);
    assert_non_null(strstr(desc, "bound to node 1 (first CPU-less memory node, 16.0 GiB"));
    /* asking for node 0 gets node 0; a node that does not exist is named in the error */
    assert_int_equal(kvt_numa_choose(nodes, n, 0, &node, desc, sizeof(desc), &err), KVT_OK);
    assert_int_equal(node, 0);
    node = -7;
    assert_int_equal(kvt_numa_choose(nodes, n, 5, &node, desc, sizeof(desc), &err),
                     KVT_ERR_INVALID);
    assert_int_equal(node, -7); /* untouched on failure */
    assert_string_equal(err.message, "NUMA node 5 does not exist (this machine has nodes 0, 1)");
    free(nodes);
    fx_rmtree(root);

    /* ids sort numerically (node10 after node2); a CPU-less node without memory is skipped;
     * "0-3,8,10-11" is 4 + 1 + 2 = 7 CPUs */
    fx_mkdtemp(root);
    fake_node(root, 10, "", 1048576);
    fake_node(root, 2, "", 0);
    fake_node(root, 0, "0-3,8,10-11\n", 1048576);
    assert_int_equal(kvt_numa_scan(root, &nodes, &n, &err), KVT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(nodes[0].id, 0);
    assert_int_equal(nodes[0].ncpus, 7);
    assert_int_equal(nodes[1].id, 2);
    assert_int_equal(nodes[2].id, 10);
    assert_int_equal(kvt_numa_choose(nodes, n, -1, &node, desc, sizeof(desc), &err), KVT_OK);
    assert_int_equal(node, 10);
    assert_int_equal(kvt_numa_choose(nodes, n, 2, &node, desc, sizeof(desc), &err),
                     KVT_ERR_INVALID); /* no memory there */
    free(nodes);
    fx_rmtree(root);

    /* two nodes with CPUs: the last one, described as another socket's DRAM */
    fx_mkdtemp(root);
    fake_node(root, 0, "0-7", 1048576);
    fake_node(root, 1, "8-15", 1048576);
    assert_int_equal(kvt_numa_scan(root, &nodes, &n, &err), KVT_OK);
    assert_int_equal(kvt_numa_choose(nodes, n, -1, &node, desc, sizeof(desc), &err), KVT_OK);
    assert_int_equal(node, 1);
    assert_non_null(strstr(desc, "no CPU-less memory node found among nodes 0, 1"));
    free(nodes);

    /* a malformed cpulist, a missing meminfo, a missing root */
    fake_node(root, 3, "zero", 1048576);
    assert_int_equal(kvt_numa_scan(root, &nodes, &n, &err), KVT_ERR_PARSE);
    assert_non_null(strstr(err.message, "node3/cpulist"));
    fx_rmtree(root);
    fx_mkdtemp(root);
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/node0", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    write_file(dir, "cpulist", "0\n");
    assert_int_equal(kvt_numa_scan(root, &nodes, &n, &err), KVT_ERR_PARSE);
    assert_non_null(strstr(err.message, "node0/meminfo"));
    fx_rmtree(root);
    assert_int_equal(kvt_numa_scan(root, &nodes, &n, &err), KVT_ERR_NOT_FOUND);
}

/* ---- the CXL tier on this machine ---- */

static size_t count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    size_t n = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF) {
        n += ch == '\n';
    }
    fclose(f);
    return n;
}

static void test_cxl_tier(void **state)
{
    (void)state;
    kvt_tier_config_t cfg;
    kvt_tier_config_init(&cfg, KVT_TIER_CXL);
    cfg.capacity_bytes = 32 * MiB;
    cfg.max_record_bytes = 1 * MiB + KVT_BLOCK_HEADER_BYTES;
    char why[256] = "";
    size_t maps = count_maps();
    kvt_status_t st = kvt_tier_probe(&cfg, why, sizeof(why));
    assert_int_equal(count_maps(), maps); /* the probe left no mapping behind */
    if (numa_available() < 0) {
        assert_int_equal(st, KVT_ERR_UNAVAILABLE);
        assert_non_null(strstr(why, "numa_available"));
        skip();
    }
    assert_int_equal(st, KVT_OK);

    /* the node expected here, read independently: first CPU-less node with memory, else the
     * last; on the 1-node dev VM that is node 0 */
    kvt_numa_node_t *nodes;
    size_t n;
    assert_int_equal(kvt_numa_scan(KVT_NUMA_SYSFS_ROOT, &nodes, &n, NULL), KVT_OK);
    int want = nodes[n - 1].id;
    for (size_t i = n; i-- > 0;) {
        if (nodes[i].ncpus == 0 && nodes[i].mem_bytes > 0) {
            want = nodes[i].id;
        }
    }
    free(nodes);
    char expect[64];
    snprintf(expect, sizeof(expect), "bound to node %d (", want);
    assert_non_null(strstr(why, expect));

    kvt_tier_t *t = NULL;
    kvt_error_t err;
    assert_int_equal(kvt_tier_open(&cfg, &t, &err), KVT_OK);
    kvt_tier_info_t info;
    kvt_tier_info(t, &info);
    assert_string_equal(info.name, "cxl");
    assert_int_equal(info.kind, KVT_TIER_CXL);
    assert_non_null(strstr(info.detail, expect));
    if (n == 1) {
        assert_non_null(strstr(info.detail, "bound to node 0 (no CPU-less memory node found: 1 "
                                            "node, this is ordinary DRAM)"));
    }
    /* huge pages were asked for: hugetlbfs if enough 2 MiB pages are free (32 MiB = 16),
     * else the THP fallback says why */
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long total = 0, free_pages = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        (void)sscanf(line, "HugePages_Total: %llu", &total);
        (void)sscanf(line, "HugePages_Free: %llu", &free_pages);
    }
    fclose(f);
    if (total == 0) {
        assert_non_null(strstr(info.detail, "4 KiB pages (no hugetlbfs pages reserved)"));
    } else if (free_pages >= 16) {
        assert_non_null(strstr(info.detail, "2 MiB huge pages"));
    }
    kvt_tier_channel_t *c;
    assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(fx_put(c, fx_key(i), (size_t)(i + 1) * 100 * KiB), KVT_OK);
    }
    for (unsigned i = 0; i < 8; i++) {
        size_t len = (size_t)(i + 1) * 100 * KiB;
        assert_int_equal(fx_get(c, fx_key(i), 1 * MiB, len), KVT_OK);
    }
    kvt_tier_channel_close(c);
    kvt_tier_close(t);

    /* a node that does not exist: open fails naming it, probe says unavailable */
    cfg.numa_node = 999;
    st = kvt_tier_open(&cfg, &t, &err);
    assert_int_equal(st, KVT_ERR_INVALID);
    assert_non_null(strstr(err.message, "cxl: NUMA node 999 does not exist"));
    assert_int_equal(kvt_tier_probe(&cfg, why, sizeof(why)), KVT_ERR_UNAVAILABLE);
    assert_non_null(strstr(why, "NUMA node 999"));

    /* the DRAM tier bound to a node says so; to a missing node it fails the same way */
    kvt_tier_config_init(&cfg, KVT_TIER_DRAM);
    cfg.capacity_bytes = 4 * MiB;
    cfg.max_record_bytes = 64 * KiB + KVT_BLOCK_HEADER_BYTES;
    cfg.numa_node = want;
    assert_int_equal(kvt_tier_open(&cfg, &t, &err), KVT_OK);
    kvt_tier_info(t, &info);
    snprintf(expect, sizeof(expect), "bound to node %d", want);
    assert_non_null(strstr(info.detail, expect));
    kvt_tier_close(t);
    cfg.numa_node = 999;
    assert_int_equal(kvt_tier_open(&cfg, &t, &err), KVT_ERR_INVALID);
    assert_non_null(strstr(err.message, "dram: NUMA node 999 does not exist"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_classes),
        cmocka_unit_test(test_exhaustion_and_reuse),
        cmocka_unit_test(test_no_overlap),
        cmocka_unit_test(test_bind_and_prefault),
        cmocka_unit_test(test_tier_prefault),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_no_space),
        cmocka_unit_test(test_concurrent_channels),
        cmocka_unit_test(test_numa_fake_sysfs),
        cmocka_unit_test(test_cxl_tier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
