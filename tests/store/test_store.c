/*
 * The live store against the real tiers this machine has (kvt_tier_probe says which; the others
 * are skipped with a message). Payloads are a function of the key, so every byte a GET returns
 * is checked against an independent recomputation. Expected placements are worked out by hand
 * in the comments (LRU; the replay engine's rules, kvtier/replay.h).
 */
#include <kvtier/generator.h>
#include <kvtier/replay.h>
#include <kvtier/store.h>

#include "common/mix64.h"
#include "store/store_internal.h"

#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* One record = 4096 bytes with its header, so every tier's capacity in blocks is exact. */
#define BB ((uint64_t)4096 - KVT_BLOCK_HEADER_BYTES)

static char g_tmp[256];

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_tmp, sizeof(g_tmp), "%s/kvt_store_XXXXXX", base);
    return mkdtemp(g_tmp) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(g_tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static kvt_key_t key_of(uint64_t i)
{
    return (kvt_key_t){kvt_mix64(i * 2 + 1), kvt_mix64(i * 2 + 2)};
}

/* The payload of a key: 64-bit words mixed from the key and the word's index. */
static void fill(kvt_key_t k, unsigned char *buf, size_t len)
{
    for (size_t off = 0; off < len; off += 8) {
        uint64_t w = kvt_mix64(k.lo ^ (off * 0x9E3779B97F4A7C15ull) ^ k.hi);
        memcpy(buf + off, &w, len - off < 8 ? len - off : 8);
    }
}

static bool payload_ok(kvt_key_t k, const unsigned char *buf, size_t len)
{
    unsigned char *want = malloc(len);
    fill(k, want, len);
    bool ok = memcmp(want, buf, len) == 0;
    free(want);
    return ok;
}

static const char *kind_dir(kvt_tier_kind_t kind, char *out, size_t n, const char *tag)
{
    snprintf(out, n, "%s/%s-%s", g_tmp, tag, kvt_tier_kind_name(kind));
    return out;
}

/* A tier config of `blocks` records, or false (with a message) when this machine has none. */
static bool tier_cfg(kvt_tier_config_t *c, kvt_tier_kind_t kind, uint64_t blocks, char *dir,
                     size_t dirlen, const char *tag)
{
    kvt_tier_config_init(c, kind);
    c->capacity_bytes = blocks * 4096;
    c->max_record_bytes = 4096;
    c->hugepages = false;
    c->queue_depth = 8;
    if (kind == KVT_TIER_NVME) {
        /* a record is a header sector + the payload rounded to 4 KiB (8 KiB here); a segment
         * starts with a header sector and one segment is kept in reserve: two segments of
         * `blocks` records each hold exactly `blocks` (the store's own arithmetic) */
        c->segment_bytes = 4096 + blocks * 8192;
        c->capacity_bytes = 2 * c->segment_bytes;
    }
    c->durable = true;
    c->dir = kind_dir(kind, dir, dirlen, tag);
    char why[256];
    if (kvt_tier_probe(c, why, sizeof(why)) != KVT_OK) {
        print_message("skipping tier %s: %s\n", kvt_tier_kind_name(kind), why);
        return false;
    }
    return true;
}

/* A store of LRU over the n tiers c (blocks of BB bytes), and a channel. */
static void open_store(const kvt_tier_config_t *c, uint32_t n, kvt_store_t **s_p,
                       kvt_store_channel_t **ch_p)
{
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = c;
    o.ntiers = n;
    o.block_bytes = BB;
    kvt_error_t err = {0};
    if (kvt_store_create(&o, s_p, &err) != KVT_OK) {
        fail_msg("store: %s", err.message);
    }
    assert_int_equal(kvt_store_channel_open(*s_p, ch_p), KVT_OK);
}

/* A store of one tier of `blocks` blocks; false (and a message) when it is unavailable here. */
static bool open_one(kvt_tier_kind_t kind, uint64_t blocks, const char *tag, kvt_store_t **s_p,
                     kvt_store_channel_t **ch_p)
{
    kvt_tier_config_t c;
    char dir[300];
    if (!tier_cfg(&c, kind, blocks, dir, sizeof(dir), tag)) {
        return false;
    }
    open_store(&c, 1, s_p, ch_p);
    return true;
}

/* A store of LRU over a DRAM tier of `top` blocks above a `lower` tier of `below` blocks (BB
 * each), and a channel; false (and a message) when the lower tier is unavailable here. */
static bool open_two(kvt_tier_kind_t lower, uint64_t top, uint64_t below, const char *tag,
                     kvt_store_t **s_p, kvt_store_channel_t **ch_p)
{
    kvt_tier_config_t c[2];
    char d0[300], d1[300];
    if (!tier_cfg(&c[0], KVT_TIER_DRAM, top, d0, sizeof(d0), tag) ||
        !tier_cfg(&c[1], lower, below, d1, sizeof(d1), tag)) {
        return false;
    }
    open_store(c, 2, s_p, ch_p);
    return true;
}


static kvt_status_t put(kvt_store_channel_t *ch, uint64_t i, int *tier_p)
{
    unsigned char buf[BB];
    kvt_store_req_t r = {.op = KVT_STORE_PUT, .buf = buf, .len = BB};
    r.meta.key = key_of(i);
    r.meta.ntokens = 16;
    fill(r.meta.key, buf, BB);
    kvt_status_t st = kvt_store_run(ch, &r);
    if (tier_p != NULL) {
        *tier_p = r.tier;
    }
    return st;
}

/* GET block i, check its bytes; returns the tier that served it, -1 on a miss. */
static int get(kvt_store_channel_t *ch, uint64_t i)
{
    unsigned char buf[BB];
    kvt_store_req_t r = {.op = KVT_STORE_GET, .buf = buf, .len = BB};
    r.meta.key = key_of(i);
    kvt_status_t st = kvt_store_run(ch, &r);
    if (st == KVT_ERR_NOT_FOUND) {
        return -1;
    }
    assert_int_equal(st, KVT_OK);
    assert_int_equal(r.len, BB);
    assert_true(kvt_key_equal(r.meta.key, key_of(i)));
    assert_true(payload_ok(key_of(i), buf, BB));
    return r.tier;
}

/* The tier holding block i alone, or -1. */
static int where(kvt_store_t *s, uint64_t i)
{
    kvt_key_t k = key_of(i);
    uint8_t t;
    return kvt_store_lookup(s, &k, 1, &t) == 1 ? t : -1;
}

static const kvt_tier_kind_t ALL[] = {KVT_TIER_DRAM, KVT_TIER_CXL, KVT_TIER_NVME, KVT_TIER_PFS};

/* A chain of many lookup windows (it walks in windows of 512, a cursor carrying the shards' run
 * positions across): 5,000 blocks with block 4,100 missing match 4,100, each on the top tier,
 * the rest of tiers_out untouched; once it is put, all 5,000. */
static void test_long_chain(void **state)
{
    (void)state;
    enum { LONG = 5000, HOLE = 4100 };
    kvt_store_t *s;
    kvt_store_channel_t *ch;
    assert_true(open_one(KVT_TIER_DRAM, 2 * LONG, "long", &s, &ch)); /* room: no evictions */
    static kvt_key_t chain[LONG];
    static uint8_t tiers[LONG];
    for (uint64_t i = 0; i < LONG; i++) {
        chain[i] = key_of(i);
        if (i != HOLE) {
            assert_int_equal(put(ch, i, NULL), KVT_OK);
        }
    }
    memset(tiers, 9, sizeof(tiers));
    assert_int_equal(kvt_store_lookup(s, chain, LONG, tiers), HOLE);
    for (size_t i = 0; i < LONG; i++) {
        assert_int_equal(tiers[i], i < HOLE ? 0 : 9);
    }
    assert_int_equal(kvt_store_lookup(s, chain + HOLE + 1, LONG - HOLE - 1, NULL),
                     LONG - HOLE - 1);
    assert_int_equal(put(ch, HOLE, NULL), KVT_OK);
    assert_int_equal(kvt_store_lookup(s, chain, LONG, tiers), LONG);
    for (size_t i = 0; i < LONG; i++) {
        assert_int_equal(tiers[i], 0);
    }
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);
}

/* --- one tier ------------------------------------------------------------------------------ */

static void test_single_tier(void **state)
{
    (void)state;
    int tested = 0;
    for (size_t ki = 0; ki < sizeof(ALL) / sizeof(ALL[0]); ki++) {
        kvt_store_t *s;
        kvt_store_channel_t *ch;
        if (!open_one(ALL[ki], 8, "single", &s, &ch)) {
            continue;
        }

        for (uint64_t i = 0; i < 3; i++) {
            int t;
            assert_int_equal(put(ch, i, &t), KVT_OK);
            assert_int_equal(t, 0);
        }
        kvt_key_t chain[4] = {key_of(0), key_of(1), key_of(2), key_of(3)};
        uint8_t tiers[4] = {9, 9, 9, 9};
        assert_int_equal(kvt_store_lookup(s, chain, 4, tiers), 3); /* block 3 never put */
        assert_int_equal(tiers[0] + tiers[1] + tiers[2], 0);
        assert_int_equal(tiers[3], 9); /* untouched past the prefix */
        kvt_key_t gap[3] = {key_of(0), key_of(7), key_of(2)};
        assert_int_equal(kvt_store_lookup(s, gap, 3, NULL), 1);
        for (uint64_t i = 0; i < 3; i++) {
            assert_int_equal(get(ch, i), 0);
        }
        assert_int_equal(get(ch, 3), -1);
        /* a PUT of a held key is an access and writes nothing more */
        assert_int_equal(put(ch, 1, NULL), KVT_OK);

        /* 8 blocks of room: putting 3..10 drops the 3 least recent. Recency after the GETs of
         * 0,1,2 and the re-put of 1: 0 < 2 < 1, then 3..10; so 0, 2, 1 go, in that order. */
        for (uint64_t i = 3; i <= 10; i++) {
            assert_int_equal(put(ch, i, NULL), KVT_OK);
        }
        kvt_store_channel_flush(ch);
        assert_int_equal(where(s, 0), -1);
        assert_int_equal(where(s, 1), -1);
        assert_int_equal(where(s, 2), -1);
        for (uint64_t i = 3; i <= 10; i++) {
            assert_int_equal(get(ch, i), 0);
        }
        kvt_store_stats_t st;
        kvt_store_stats(s, &st);
        assert_int_equal(st.ntiers, 1);
        assert_int_equal(st.tiers[0].capacity_blocks, 8);
        assert_int_equal(st.tiers[0].blocks, 8);
        assert_int_equal(st.tiers[0].puts, 11); /* 0..10, the re-put wrote nothing */
        assert_int_equal(st.tiers[0].evictions, 3);
        assert_int_equal(st.tiers[0].drops, 3);
        assert_int_equal(st.tiers[0].hits, 3 + 8);
        assert_int_equal(st.tiers[0].errors, 0);
        assert_int_equal(st.get_misses, 1);
        kvt_store_channel_close(ch);
        kvt_store_destroy(s);
        tested++;
    }
    assert_true(tested > 0);
}

/* --- two tiers: demotion and promotion ------------------------------------------------------ */

static void two_tiers(kvt_tier_kind_t lower)
{
    kvt_tier_config_t c[2];
    char d0[300], d1[300];
    if (!tier_cfg(&c[0], KVT_TIER_DRAM, 4, d0, sizeof(d0), "two") ||
        !tier_cfg(&c[1], lower, 16, d1, sizeof(d1), "two")) {
        return;
    }
    print_message("two tiers: dram + %s\n", kvt_tier_kind_name(lower));
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = c;
    o.ntiers = 2;
    o.block_bytes = BB;
    o.policy = "lru";
    kvt_store_t *s;
    kvt_error_t err = {0};
    assert_int_equal(kvt_store_create(&o, &s, &err), KVT_OK);
    kvt_store_channel_t *ch;
    assert_int_equal(kvt_store_channel_open(s, &ch), KVT_OK);

    /* LRU, 4 blocks on top: puts 0..3 fill it; 4 evicts 0, 5 evicts 1 -- both demoted */
    for (uint64_t i = 0; i < 6; i++) {
        assert_int_equal(put(ch, i, NULL), KVT_OK);
    }
    kvt_key_t chain[6];
    uint8_t tiers[6];
    for (int i = 0; i < 6; i++) {
        chain[i] = key_of((uint64_t)i);
    }
    assert_int_equal(kvt_store_lookup(s, chain, 6, tiers), 6);
    const uint8_t want1[6] = {1, 1, 0, 0, 0, 0};
    assert_memory_equal(tiers, want1, 6);

    /* GET 0: served by tier 1; the promotion (applied at the flush) admits 0 on top, whose LRU
     * block is then 2 (recency 2 < 3 < 4 < 5): 2 goes down. Tier 1 keeps its copy of 0. */
    assert_int_equal(get(ch, 0), 1);
    assert_int_equal(where(s, 0), 1); /* not promoted before the flush */
    kvt_store_channel_flush(ch);
    assert_int_equal(where(s, 0), 0);
    assert_int_equal(where(s, 2), 1);
    assert_int_equal(kvt_store_lookup(s, chain, 6, tiers), 6);
    const uint8_t want2[6] = {0, 1, 1, 0, 0, 0};
    assert_memory_equal(tiers, want2, 6);
    /* the copy: GET 0 is now a top-tier hit */
    assert_int_equal(get(ch, 0), 0);

    /* a chain with a block no tier holds */
    kvt_key_t broken[4] = {key_of(3), key_of(1), key_of(99), key_of(4)};
    assert_int_equal(kvt_store_lookup(s, broken, 4, tiers), 2);
    assert_int_equal(tiers[0], 0);
    assert_int_equal(tiers[1], 1);

    /* PREFETCH 1: up to the top, evicting the LRU block there, 3 (0 and 5, 4 more recent) */
    kvt_store_req_t pf = {.op = KVT_STORE_PREFETCH};
    pf.meta.key = key_of(1);
    assert_int_equal(kvt_store_run(ch, &pf), KVT_OK);
    assert_int_equal(pf.tier, 0);
    assert_int_equal(where(s, 1), 0);
    assert_int_equal(where(s, 3), 1);
    for (uint64_t i = 0; i < 6; i++) {
        assert_true(get(ch, i) >= 0); /* every byte checked, wherever it is */
    }
    kvt_store_channel_flush(ch);

    kvt_store_stats_t st;
    kvt_store_stats(s, &st);
    /* the GET loop accesses 0..5 in order on a 4-block LRU top holding {4, 5, 0, 1} (least
     * recent first), applied at the flush as a replay would: 0, 1 hit; 2 evicts 4; 3 evicts 5;
     * 4 (a top hit when read, gone by its turn) comes back from tier 1 evicting 0; 5 evicts 1.
     * Written into tier 1: 0, 1, 2, 3 before, then 4 and 5 (0 and 1 keep their copies there).
     * Promoted: 0, 1 before, then 2, 3, 4, 5. */
    assert_int_equal(st.tiers[1].demotions, 6);
    assert_int_equal(st.tiers[1].promotions, 6);
    assert_int_equal(where(s, 0), 1);
    assert_int_equal(where(s, 1), 1);
    for (uint64_t i = 2; i < 6; i++) {
        assert_int_equal(where(s, i), 0);
    }
    assert_int_equal(st.tiers[1].errors + st.tiers[0].errors, 0);
    assert_int_equal(st.tiers[0].puts, 6);
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);
}

static void test_two_tiers(void **state)
{
    (void)state;
    two_tiers(KVT_TIER_NVME);
    two_tiers(KVT_TIER_PFS);
    two_tiers(KVT_TIER_CXL);
    two_tiers(KVT_TIER_DRAM); /* always there: two DRAM arenas */
}

/* --- batches of GETs, of PUTs, in flight together ------------------------------------------ */

static void get_batch(kvt_tier_kind_t lower)
{
    kvt_store_t *s;
    kvt_store_channel_t *ch;
    if (!open_two(lower, 4, 64, "batch", &s, &ch)) {
        return;
    }
    print_message("get batch: dram + %s\n", kvt_tier_kind_name(lower));
    /* LRU, 4 blocks on top: after puts 0..41, 38..41 are on top, 0..37 in tier 1 */
    for (uint64_t i = 0; i < 42; i++) {
        assert_int_equal(put(ch, i, NULL), KVT_OK);
    }
    /* GET 0 promotes it (at the flush): the top evicts its LRU block, 38, down to tier 1; tier
     * 1 keeps its copy of 0. Top: 39, 40, 41, 0; tier 1: 0..38 */
    assert_int_equal(get(ch, 0), 1);
    kvt_store_channel_flush(ch);
    assert_int_equal(where(s, 0), 0);
    assert_int_equal(where(s, 38), 1);
    /* behind the store's back: tier 1 loses 37 (its only copy); the top loses 41 (its only
     * copy) and 0 (which tier 1 still has) */
    assert_int_equal(kvt_tier_remove(s->t[1].tier, key_of(37)), KVT_OK);
    assert_int_equal(kvt_tier_remove(s->t[0].tier, key_of(41)), KVT_OK);
    assert_int_equal(kvt_tier_remove(s->t[0].tier, key_of(0)), KVT_OK);

    /* one batch: GETs of 0..41 (each tier channel takes 8 at a time: the rest wait for room),
     * a key never put, and block 5 into a buffer too small for it */
    enum { N = 44 };
    unsigned char(*bufs)[BB] = malloc(N * BB);
    kvt_store_req_t r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (kvt_store_req_t){.op = KVT_STORE_GET, .buf = bufs[i], .len = BB};
        r[i].meta.key = key_of(i < 42 ? (uint64_t)i : i == 42 ? 999 : 5);
    }
    r[43].len = 100;
    size_t acc;
    assert_int_equal(kvt_store_submit(ch, r, N, &acc), KVT_OK);
    assert_int_equal(acc, N);
    kvt_store_req_t *done[N];
    bool seen[N] = {false};
    size_t got = 0;
    while (got < N) {
        size_t n = kvt_store_poll(ch, 1, done, N);
        for (size_t j = 0; j < n; j++) {
            ptrdiff_t i = done[j] - r;
            assert_true(i >= 0 && i < N && !seen[i]); /* each request handed back once */
            seen[i] = true;
        }
        got += n;
    }
    for (int i = 0; i < 42; i++) {
        if (i == 37 || i == 41) {
            assert_int_equal(r[i].status, KVT_ERR_NOT_FOUND); /* no copy left anywhere */
            continue;
        }
        assert_int_equal(r[i].status, KVT_OK);
        assert_int_equal(r[i].tier, i == 39 || i == 40 ? 0 : 1); /* 0: tried on top first */
        assert_int_equal(r[i].len, BB);
        assert_true(payload_ok(key_of((uint64_t)i), bufs[i], BB));
    }
    assert_int_equal(r[42].status, KVT_ERR_NOT_FOUND);
    assert_int_equal(r[43].status, KVT_ERR_DOES_NOT_FIT);
    kvt_store_channel_flush(ch);
    kvt_store_stats_t st;
    kvt_store_stats(s, &st);
    assert_int_equal(st.tiers[0].hits, 2);      /* 39, 40 */
    assert_int_equal(st.tiers[1].hits, 1 + 38); /* the first GET of 0; 0..36 and 38 */
    assert_int_equal(st.get_misses, 3);         /* 37, 41, 999 */
    /* the lost copies were noticed (counted, and lookups no longer offer them) */
    assert_int_equal(st.tiers[0].errors, 2); /* 0, 41 */
    assert_int_equal(st.tiers[1].errors, 1); /* 37 */
    assert_int_equal(where(s, 37), -1);
    /* the accesses were applied in request order (LRU top, 4 blocks, recency 39 < 40 < 41 < 0):
     * 0 hits on top and its bytes are written there again; 1..36 come up one after another,
     * pushing 39, 40, 41 (no bytes: it leaves), 0 (tier 1 has it), 1, ... down; 38 comes up,
     * then 39 and 40 (down meanwhile, read again from tier 1): the top ends with 36, 38, 39,
     * 40 */
    assert_int_equal(where(s, 36), 0);
    assert_int_equal(where(s, 38), 0);
    assert_int_equal(where(s, 39), 0);
    assert_int_equal(where(s, 40), 0);
    assert_int_equal(where(s, 35), 1);
    assert_int_equal(where(s, 0), 1);
    assert_int_equal(where(s, 41), -1);
    assert_int_equal(get(ch, 0), 1);
    free(bufs);
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);
}

/* A batch of PUTs whose writes are in flight together, into a tier that evicts blocks of the
 * same batch (their writes possibly still in flight) to make room. */
static void put_batch(kvt_tier_kind_t kind)
{
    kvt_tier_config_t c[2];
    char d0[300], d1[300];
    if (!tier_cfg(&c[0], KVT_TIER_DRAM, 1, d0, sizeof(d0), "pbatch") ||
        !tier_cfg(&c[1], kind, 8, d1, sizeof(d1), "pbatch")) {
        return;
    }
    print_message("put batch: %s\n", kvt_tier_kind_name(kind));
    c[0].capacity_bytes = 1024; /* holds no block: every PUT goes to tier 1 */
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = c;
    o.ntiers = 2;
    o.block_bytes = BB;
    kvt_store_t *s;
    kvt_error_t err = {0};
    assert_int_equal(kvt_store_create(&o, &s, &err), KVT_OK);
    kvt_store_channel_t *ch;
    assert_int_equal(kvt_store_channel_open(s, &ch), KVT_OK);
    enum { N = 20 };
    unsigned char(*bufs)[BB] = malloc(N * BB);
    kvt_store_req_t r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (kvt_store_req_t){.op = KVT_STORE_PUT, .buf = bufs[i], .len = BB};
        r[i].meta.key = key_of(100 + (uint64_t)i);
        fill(r[i].meta.key, bufs[i], BB);
    }
    size_t acc, got = 0;
    assert_int_equal(kvt_store_submit(ch, r, N, &acc), KVT_OK);
    assert_int_equal(acc, N);
    kvt_store_req_t *done[N];
    while (got < N) {
        got += kvt_store_poll(ch, N - got, done, N);
    }
    /* LRU, 8 blocks: PUT 8 + j evicts PUT j (j < 12), which leaves the store */
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].status, KVT_OK);
        assert_int_equal(r[i].tier, 1); /* written there (0..11 left again since) */
    }
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(where(s, 100 + i), i < 12 ? -1 : 1);
        if (i >= 12) {
            assert_int_equal(get(ch, 100 + i), 1);
        }
    }
    kvt_store_channel_flush(ch);
    kvt_store_stats_t st;
    kvt_store_stats(s, &st);
    assert_int_equal(st.tiers[1].puts, N);
    assert_int_equal(st.tiers[1].evictions, 12);
    assert_int_equal(st.tiers[1].drops, 12);
    assert_int_equal(st.tiers[1].errors, 0);
    kvt_tier_info_t ti;
    kvt_tier_info(s->t[1].tier, &ti);
    assert_int_equal(ti.blocks, 8);
    free(bufs);
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);
}

static void test_batches(void **state)
{
    (void)state;
    get_batch(KVT_TIER_NVME);
    get_batch(KVT_TIER_PFS);
    get_batch(KVT_TIER_DRAM);
    put_batch(KVT_TIER_NVME);
    put_batch(KVT_TIER_PFS);
    put_batch(KVT_TIER_DRAM);
}

/* --- restart -------------------------------------------------------------------------------- */

static void restart(kvt_tier_kind_t kind)
{
    kvt_store_t *s;
    kvt_store_channel_t *ch;
    if (!open_two(kind, 2, 16, "restart", &s, &ch)) {
        return;
    }
    print_message("restart: dram + %s\n", kvt_tier_kind_name(kind));
    /* 2 blocks on top: 0, 1, 2 go down; 3, 4 stay in DRAM and die with the process */
    for (uint64_t i = 0; i < 5; i++) {
        assert_int_equal(put(ch, i, NULL), KVT_OK);
    }
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);

    assert_true(open_two(kind, 2, 16, "restart", &s, &ch)); /* the same directories */
    kvt_key_t chain[5];
    uint8_t tiers[5];
    for (int i = 0; i < 5; i++) {
        chain[i] = key_of((uint64_t)i);
    }
    assert_int_equal(kvt_store_lookup(s, chain, 5, tiers), 3);
    assert_int_equal(tiers[0], 1);
    assert_int_equal(tiers[1], 1);
    assert_int_equal(tiers[2], 1);
    assert_int_equal(where(s, 3), -1);
    assert_int_equal(get(ch, 1), 1);
    assert_int_equal(get(ch, 2), 1);
    kvt_store_stats_t st;
    kvt_store_stats(s, &st);
    assert_int_equal(st.tiers[1].blocks, 3);
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);
}

static void test_restart(void **state)
{
    (void)state;
    restart(KVT_TIER_NVME);
    restart(KVT_TIER_PFS);
}

/* --- a write the tier keeps refusing --------------------------------------------------------- */

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A DRAM tier of one 2 MiB slab: once a 1 KiB block has claimed it for the 4 KiB size class, an
 * 11 KiB block has no slab in its class, and the tier refuses its write with NO_SPACE however
 * long the store waits. The PUT still completes after the store's patience (5 s), the block
 * not kept (tier -1, a miss later); while it waits the thread backs off instead of spinning:
 * its CPU time stays well under the wall time (spinning, it was all of it). */
static void test_refused_write(void **state)
{
    (void)state;
    kvt_tier_config_t c;
    kvt_tier_config_init(&c, KVT_TIER_DRAM);
    c.capacity_bytes = 2u << 20;
    c.max_record_bytes = (12u << 10) + KVT_BLOCK_HEADER_BYTES;
    c.hugepages = false;
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = &c;
    o.ntiers = 1;
    o.block_bytes = 12u << 10;
    kvt_store_t *s;
    kvt_store_channel_t *ch;
    assert_int_equal(kvt_store_create(&o, &s, NULL), KVT_OK);
    assert_int_equal(kvt_store_channel_open(s, &ch), KVT_OK);
    static unsigned char buf[12u << 10];
    const size_t len[2] = {1024, 11301};
    kvt_store_req_t r[2];
    double wall = 0, cpu = 0; /* of the second PUT, the refused one */
    for (int i = 0; i < 2; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].op = KVT_STORE_PUT;
        r[i].meta.key = key_of(900 + (uint64_t)i);
        r[i].buf = buf;
        r[i].len = len[i];
        fill(r[i].meta.key, buf, len[i]);
        wall = seconds(CLOCK_MONOTONIC);
        cpu = seconds(CLOCK_THREAD_CPUTIME_ID);
        assert_int_equal(kvt_store_run(ch, &r[i]), KVT_OK);
    }
    wall = seconds(CLOCK_MONOTONIC) - wall;
    cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - cpu;
    print_message("refused write: %.2f s waited, %.2f s of it on the CPU\n", wall, cpu);
    assert_int_equal(r[0].tier, 0);
    assert_int_equal(r[1].tier, -1);
    assert_true(wall >= 4.9 && wall < 30);
    assert_true(cpu < wall / 2);
    kvt_store_stats_t st;
    kvt_store_stats(s, &st);
    assert_int_equal(st.tiers[0].errors, 1);
    unsigned char out[12u << 10];
    kvt_store_req_t g = {.op = KVT_STORE_GET, .buf = out, .len = sizeof(out)};
    g.meta.key = key_of(901);
    assert_int_equal(kvt_store_run(ch, &g), KVT_ERR_NOT_FOUND);
    g = (kvt_store_req_t){.op = KVT_STORE_GET, .buf = out, .len = sizeof(out)};
    g.meta.key = key_of(900);
    assert_int_equal(kvt_store_run(ch, &g), KVT_OK);
    assert_int_equal(g.len, 1024);
    assert_true(payload_ok(key_of(900), out, 1024));
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);
}

/* --- back-pressure and options -------------------------------------------------------------- */

static void test_backpressure(void **state)
{
    (void)state;
    kvt_tier_config_t c;
    char d[300];
    if (!tier_cfg(&c, KVT_TIER_DRAM, 16, d, sizeof(d), "bp")) {
        skip();
    }
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = &c;
    o.ntiers = 1;
    o.block_bytes = BB;
    o.queue_depth = 4;
    kvt_store_t *s;
    assert_int_equal(kvt_store_create(&o, &s, NULL), KVT_OK);
    kvt_store_channel_t *ch;
    assert_int_equal(kvt_store_channel_open(s, &ch), KVT_OK);
    static unsigned char bufs[6][BB];
    kvt_store_req_t r[6];
    for (int i = 0; i < 6; i++) {
        r[i] = (kvt_store_req_t){.op = KVT_STORE_PUT, .buf = bufs[i], .len = BB};
        r[i].meta.key = key_of((uint64_t)i);
        fill(r[i].meta.key, bufs[i], BB);
    }
    size_t acc = 99;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(kvt_store_submit(ch, &r[i], 1, &acc), KVT_OK);
        assert_int_equal(acc, 1);
    }
    assert_int_equal(kvt_store_submit(ch, &r[4], 1, &acc), KVT_ERR_BUSY);
    assert_int_equal(acc, 0);
    kvt_store_req_t *done[8];
    assert_int_equal(kvt_store_poll(ch, 4, done, 8), 4);
    for (int i = 0; i < 4; i++) {
        assert_ptr_equal(done[i], &r[i]);
        assert_int_equal(r[i].status, KVT_OK);
    }
    /* a batch of 2 into an empty queue of 4 fits; */
    assert_int_equal(kvt_store_submit(ch, &r[4], 2, &acc), KVT_OK);
    assert_int_equal(acc, 2);
    assert_int_equal(kvt_store_poll(ch, 2, done, 8), 2);
    /* a batch of 6 takes the first 4 */
    for (int i = 0; i < 6; i++) {
        r[i].op = KVT_STORE_GET;
    }
    assert_int_equal(kvt_store_submit(ch, r, 6, &acc), KVT_ERR_BUSY);
    assert_int_equal(acc, 4);
    assert_int_equal(kvt_store_poll(ch, 1, done, 8), 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r[i].status, KVT_OK);
        assert_true(payload_ok(key_of((uint64_t)i), bufs[i], BB));
    }
    /* malformed: a PUT larger than a block */
    kvt_store_req_t bad = {.op = KVT_STORE_PUT, .buf = bufs[0], .len = BB + 1};
    assert_int_equal(kvt_store_submit(ch, &bad, 1, &acc), KVT_ERR_INVALID);
    assert_int_equal(acc, 0);
    kvt_store_stats_t st;
    kvt_store_stats(s, &st);
    assert_int_equal(st.busy, 2);
    kvt_store_channel_close(ch);
    kvt_store_destroy(s);
}

static void test_policies(void **state)
{
    (void)state;
    kvt_tier_config_t c;
    char d[300];
    if (!tier_cfg(&c, KVT_TIER_DRAM, 16, d, sizeof(d), "pol")) {
        skip();
    }
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = &c;
    o.ntiers = 1;
    o.block_bytes = BB;
    kvt_store_t *s = NULL;
    kvt_error_t err = {0};
    const char *refused[] = {"belady", "belady-head"};
    for (int i = 0; i < 2; i++) {
        o.policy = refused[i];
        assert_int_equal(kvt_store_create(&o, &s, &err), KVT_ERR_UNSUPPORTED);
        assert_null(s);
        assert_non_null(strstr(err.message, refused[i]));
        assert_non_null(strstr(err.message, "future"));
    }
    o.policy = "nope";
    assert_int_equal(kvt_store_create(&o, &s, &err), KVT_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "nope"));
    o.policy = "lru";
    o.block_bytes = 8192; /* larger than a record of the tier */
    assert_int_equal(kvt_store_create(&o, &s, &err), KVT_ERR_INVALID);
    assert_non_null(strstr(err.message, "max_record_bytes"));
    o.block_bytes = BB;
    const char *ok[] = {"lru", "lfu", "arc", "s3fifo", "predictive"};
    for (int i = 0; i < 5; i++) {
        o.policy = ok[i];
        assert_int_equal(kvt_store_create(&o, &s, &err), KVT_OK);
        kvt_store_channel_t *ch;
        assert_int_equal(kvt_store_channel_open(s, &ch), KVT_OK);
        for (uint64_t b = 0; b < 40; b++) {
            assert_int_equal(put(ch, b % 24, NULL), KVT_OK);
            (void)get(ch, (b * 7) % 24); /* checks bytes when it hits */
        }
        kvt_store_channel_close(ch);
        kvt_store_stats_t st;
        kvt_store_stats(s, &st);
        assert_true(st.tiers[0].blocks <= 16);
        kvt_store_destroy(s);
        s = NULL;
    }
}

/* --- several threads ------------------------------------------------------------------------ */

typedef struct worker {
    kvt_store_t *s;
    unsigned seed;
    int iters;
    uint64_t gets_ok, bad, bad_bytes, bad_status, bad_submit;
} worker_t;

/* Chain c (0..23), position p (0..7): the first 3 blocks are shared by chains of one group of
 * four (c / 4), the rest are the chain's own -- overlapping prefixes. */
static uint64_t chain_block(uint32_t c, uint32_t p)
{
    return p < 3 ? 1000 + (c / 4) * 3 + p : (uint64_t)c * 8 + p;
}

static void *work(void *arg)
{
    worker_t *w = arg;
    kvt_store_channel_t *ch;
    if (kvt_store_channel_open(w->s, &ch) != KVT_OK) {
        w->bad++;
        return NULL;
    }
    static const size_t NB = 8;
    unsigned char(*bufs)[BB] = malloc(NB * BB);
    kvt_store_req_t r[8];
    kvt_store_req_t *done[8];
    for (int it = 0; it < w->iters; it++) {
        uint32_t c = (uint32_t)rand_r(&w->seed) % 24;
        kvt_key_t keys[8];
        for (uint32_t p = 0; p < NB; p++) {
            keys[p] = key_of(chain_block(c, p));
        }
        size_t m = kvt_store_lookup(w->s, keys, NB, NULL);
        for (size_t p = 0; p < m; p++) {
            r[p] = (kvt_store_req_t){.op = KVT_STORE_GET, .buf = bufs[p], .len = BB};
            r[p].meta.key = keys[p];
            memset(bufs[p], 0, BB);
        }
        size_t acc = 0, got = 0;
        if (m > 0 && kvt_store_submit(ch, r, m, &acc) != KVT_OK) {
            w->bad_submit++;
        }
        while (got < acc) {
            got += kvt_store_poll(ch, acc - got, done, 8);
        }
        size_t hit = 0;
        for (size_t p = 0; p < acc; p++) {
            if (r[p].status == KVT_OK) {
                w->gets_ok++;
                if (r[p].len != BB || !payload_ok(keys[p], bufs[p], BB)) {
                    w->bad_bytes++;
                }
                hit = hit == p ? p + 1 : hit;
            } else if (r[p].status != KVT_ERR_NOT_FOUND) {
                w->bad_status++;
            }
        }
        for (size_t p = hit; p < NB; p++) {
            r[p - hit] = (kvt_store_req_t){.op = KVT_STORE_PUT, .buf = bufs[p], .len = BB,
                                           .session = c};
            r[p - hit].meta.key = keys[p];
            r[p - hit].meta.first_token = p * 16;
            fill(keys[p], bufs[p], BB);
        }
        size_t n = NB - hit;
        if (n > 0 && (kvt_store_submit(ch, r, n, &acc) != KVT_OK || acc != n)) {
            w->bad_submit++;
        }
        got = 0;
        while (got < n) {
            got += kvt_store_poll(ch, n - got, done, 8);
        }
        for (size_t p = 0; p < n; p++) {
            w->bad_status += r[p].status != KVT_OK;
        }
        if (it % 16 == 0) {
            kvt_store_channel_flush(ch);
        }
    }
    kvt_store_channel_close(ch);
    free(bufs);
    return NULL;
}

/* Samples how many records each tier holds while the workers run. */
typedef struct monitor {
    kvt_store_t *s;
    _Atomic bool stop;
    uint64_t most[2];
} monitor_t;

static void *watch(void *arg)
{
    monitor_t *m = arg;
    while (!atomic_load(&m->stop)) {
        for (uint32_t k = 0; k < 2; k++) {
            kvt_tier_info_t ti;
            kvt_tier_info(m->s->t[k].tier, &ti);
            m->most[k] = ti.blocks > m->most[k] ? ti.blocks : m->most[k];
        }
        sched_yield();
    }
    return NULL;
}

static void stress(const char *policy, kvt_tier_kind_t lower, int iters)
{
    kvt_tier_config_t c[2];
    char d0[300], d1[300];
    if (!tier_cfg(&c[0], KVT_TIER_DRAM, 24, d0, sizeof(d0), "stress") ||
        !tier_cfg(&c[1], lower, 48, d1, sizeof(d1), policy)) {
        return;
    }
    print_message("stress: %s, dram + %s, 4 threads\n", policy, kvt_tier_kind_name(lower));
    c[1].durable = false; /* the test is about placement and bytes, not fsync latency */
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = c;
    o.ntiers = 2;
    o.block_bytes = BB;
    o.policy = policy;
    o.access_buffer = 16;
    kvt_store_t *s;
    kvt_error_t err = {0};
    assert_int_equal(kvt_store_create(&o, &s, &err), KVT_OK);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    monitor_t mon = {.s = s};
    pthread_t mt;
    assert_int_equal(pthread_create(&mt, NULL, watch, &mon), 0);
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.s = s, .seed = (unsigned)i * 7919u + 1, .iters = iters};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    uint64_t ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad_bytes, 0);
        assert_int_equal(w[i].bad_status, 0);
        assert_int_equal(w[i].bad_submit, 0);
        assert_int_equal(w[i].bad, 0);
        ok += w[i].gets_ok;
    }
    atomic_store(&mon.stop, true);
    pthread_join(mt, NULL);
    /* the tiers never held more records than the policies' capacities (24 and 48): a victim
     * leaves before its replacement is written, whatever the other threads do */
    print_message("  most records seen: tier 0 %llu, tier 1 %llu\n",
                  (unsigned long long)mon.most[0], (unsigned long long)mon.most[1]);
    assert_true(mon.most[0] <= 24);
    assert_true(mon.most[1] <= 48);
    assert_true(ok > (uint64_t)iters); /* 24 chains x 8 blocks = 192 distinct blocks, 72 fit: many hits */
    kvt_store_stats_t st;
    kvt_store_stats(s, &st);
    /* no leak: what each tier holds is exactly what the store believes it holds */
    for (uint32_t k = 0; k < 2; k++) {
        kvt_tier_info_t ti;
        kvt_tier_info(s->t[k].tier, &ti);
        uint64_t nvalid = 0;
        for (uint32_t id = 0; id < s->nids; id++) {
            nvalid += (atomic_load(&s->valid[id]) >> k) & 1u;
        }
        print_message("  tier %u: tier holds %llu, store says %llu, policy %llu, errors %llu\n",
                      k, (unsigned long long)ti.blocks, (unsigned long long)nvalid,
                      (unsigned long long)st.tiers[k].blocks,
                      (unsigned long long)st.tiers[k].errors);
        assert_int_equal(ti.blocks, nvalid);
    }
    /* The decisions reserve the space, so no write is ever refused and no block the policy
     * holds lacks its bytes (no "phantom"): every block a tier's policy holds is in that tier,
     * whole and correct, and the tier holds nothing else. */
    assert_int_equal(st.tiers[0].errors, 0);
    assert_int_equal(st.tiers[1].errors, 0);
    unsigned char *buf = malloc(BB);
    for (uint32_t k = 0; k < 2; k++) {
        kvt_tier_channel_t *tc;
        assert_int_equal(kvt_tier_channel_open(s->t[k].tier, &tc), KVT_OK);
        uint64_t held = 0;
        for (uint32_t id = 0; id < s->nids; id++) {
            uint8_t wh = atomic_load(&s->where[id]), va = atomic_load(&s->valid[id]);
            assert_int_equal(atomic_load(&s->pend[id]), 0);
            assert_int_equal((wh >> k) & 1u, (va >> k) & 1u); /* no phantom, no leftover */
            if (!((wh >> k) & 1u)) {
                continue;
            }
            held++;
            kvt_tier_io_t x = {.op = KVT_TIER_GET, .buf = buf, .len = BB};
            x.meta.key = s->keys[id];
            assert_int_equal(kvt_tier_run(tc, &x), KVT_OK);
            assert_int_equal(x.len, BB);
            assert_true(payload_ok(s->keys[id], buf, BB));
        }
        assert_int_equal(held, st.tiers[k].blocks); /* the policy's count */
        kvt_tier_channel_close(tc);
    }
    free(buf);
    assert_true(st.tiers[0].blocks <= 24);
    assert_true(st.tiers[1].blocks <= 48);
    assert_true(st.tiers[1].demotions > 0);
    print_message("  gets %llu (misses %llu), tier0 hits %llu, tier1 hits %llu, promotions %llu, "
                  "tier1 errors %llu\n",
                  (unsigned long long)st.gets, (unsigned long long)st.get_misses,
                  (unsigned long long)st.tiers[0].hits, (unsigned long long)st.tiers[1].hits,
                  (unsigned long long)st.tiers[1].promotions,
                  (unsigned long long)st.tiers[1].errors);
    kvt_store_destroy(s);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("  %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
}

static void test_threads(void **state)
{
    (void)state;
    stress("lru", KVT_TIER_DRAM, 1500);
    stress("predictive", KVT_TIER_DRAM, 1500);
    stress("arc", KVT_TIER_NVME, 150); /* O_DIRECT writes: about 25 ms per iteration here */
    stress("s3fifo", KVT_TIER_PFS, 500);
}

/* --- the store follows the replay engine ---------------------------------------------------- */

/*
 * The store on a DRAM top tier over a `lower` tier, with `move_buffers` demotions in flight at
 * most per channel
 * (2: the cascade keeps waiting for one to land), against the replay engine on tiers of the
 * same capacities in blocks. Returns false when the machine has no such tier.
 */
static bool replay_agrees(kvt_tier_kind_t lower, uint32_t move_buffers, uint32_t sessions,
                          uint64_t min_requests, const char *tag)
{
    kvt_gen_opts_t g;
    kvt_gen_opts_init(&g);
    g.kind = KVT_GEN_CHAT;
    g.sessions = sessions;
    g.session_rate = 5;
    kvt_trace_t *trace;
    assert_int_equal(kvt_trace_generate(&g, &trace, NULL), KVT_OK);

    const uint64_t BYTES = 256; /* small payloads: the test is about placement */
    const uint64_t cap0 = 40, cap1 = 120;
    kvt_tier_config_t c[2];
    char d0[300], d1[300];
    if (!tier_cfg(&c[0], KVT_TIER_DRAM, 1, d0, sizeof(d0), tag) ||
        !tier_cfg(&c[1], lower, cap1, d1, sizeof(d1), tag)) {
        kvt_trace_destroy(trace);
        return false;
    }
    c[0].capacity_bytes = cap0 * (BYTES + KVT_BLOCK_HEADER_BYTES);
    c[1].capacity_bytes = cap1 * (BYTES + KVT_BLOCK_HEADER_BYTES);
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = c;
    o.ntiers = 2;
    o.block_bytes = BYTES;
    o.block_tokens = kvt_trace_info(trace)->block_tokens;
    o.move_buffers = move_buffers;
    kvt_store_t *s;
    assert_int_equal(kvt_store_create(&o, &s, NULL), KVT_OK);
    kvt_store_replay_result_t sr;
    assert_int_equal(kvt_store_replay(s, trace, NULL, &sr, NULL), KVT_OK);
    kvt_store_stats_t st;
    kvt_store_stats(s, &st);
    kvt_store_destroy(s);
    assert_int_equal(st.tiers[0].capacity_blocks, cap0);
    assert_int_equal(st.tiers[1].capacity_blocks, cap1);
    /* every demotion landed (the replay's flush waits for them) and none failed */
    assert_int_equal(st.tiers[0].errors, 0);
    assert_int_equal(st.tiers[1].errors, 0);
    assert_true(st.tiers[1].demotions > cap1); /* the lower tier filled and kept taking more */
    assert_true(st.tiers[1].blocks <= cap1);

    /* the replay engine on a node whose two tiers hold the same numbers of blocks */
    kvt_node_desc_t node;
    memset(&node, 0, sizeof(node));
    node.ntiers = 2;
    node.instances = 1;
    node.tiers[0].kind = KVT_TIER_DRAM;
    node.tiers[1].kind = KVT_TIER_DRAM;
    node.tiers[0].capacity_bytes = cap0 * o.block_tokens;
    node.tiers[1].capacity_bytes = cap1 * o.block_tokens;
    node.tiers[0].read_GBps = node.tiers[1].read_GBps = 10;
    kvt_node_replay_opts_t ro;
    kvt_node_replay_opts_init(&ro);
    ro.node = &node;
    ro.kv_bytes_per_token = 1;
    kvt_node_replay_result_t rr;
    kvt_error_t err = {0};
    assert_int_equal(kvt_node_replay_run(trace, &ro, &rr, &err), KVT_OK);
    print_message("store (%s below, %u move buffers): %llu requests, hit rate %.4f (tier0 %llu, "
                  "tier1 %llu blocks; %llu demotions); replay: %.4f (%llu, %llu)\n",
                  kvt_tier_kind_name(lower), move_buffers, (unsigned long long)sr.requests,
                  sr.token_hit_rate,
                  (unsigned long long)sr.hit_blocks[0], (unsigned long long)sr.hit_blocks[1],
                  (unsigned long long)st.tiers[1].demotions, rr.total.token_hit_rate,
                  (unsigned long long)rr.tiers[0].hit_blocks,
                  (unsigned long long)rr.tiers[1].hit_blocks);
    assert_true(sr.requests > min_requests);
    assert_int_equal(sr.hit_tokens, rr.total.hit_tokens);
    assert_int_equal(sr.hit_blocks[0], rr.tiers[0].hit_blocks);
    assert_int_equal(sr.hit_blocks[1], rr.tiers[1].hit_blocks);
    assert_int_equal(sr.lookups_short, 0);
    assert_true(sr.hit_blocks[1] > 0); /* the lower tier mattered */
    kvt_node_replay_result_release(&rr);
    kvt_trace_destroy(trace);
    return true;
}

/*
 * A node description -> the store's tiers. The node (JSON below): hbm 1 GB, dram 4 MiB,
 * nvme 64 MiB, pool 1 GB, pfs 16 MiB. With blocks of 64 KiB: hbm and pool are skipped (2),
 * dram -> 4 MiB / 64 KiB = 64 blocks, nvme -> 1024, pfs -> 256, in the node's order, nvme and
 * pfs in the directories given. The store then caps each policy at those budgets or at what the
 * tier holds, whichever is less: dram's arena charges the 128-byte header against the bytes,
 * floor(4 MiB / (64 KiB + 128)) = 63; nvme keeps one 4 MiB segment of 16 spare and spends a
 * 4 KiB descriptor per record: 15 x floor((4 MiB - 4 KiB) / 68 KiB) = 15 x 60 = 900; pfs
 * charges header + payload: floor(16 MiB / (64 KiB + 128)) = 255. A budget below what a tier
 * holds is taken as it is (tier_blocks = 10 for dram: 10).
 */
static void test_tiers_from_node(void **state)
{
    (void)state;
    char path[300], nvme[300], pfs[300];
    snprintf(path, sizeof(path), "%s/node.json", g_tmp);
    snprintf(nvme, sizeof(nvme), "%s/nvme", g_tmp);
    snprintf(pfs, sizeof(pfs), "%s/pfs", g_tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
#define TIER "{\"kind\": \"%s\", \"capacity\": \"%s\", \"read_GBps\": 10, " \
             "\"write_GBps\": 10, \"latency_us\": 1, \"layerwise\": true}%s"
    fprintf(f, "{\"name\": \"small\", \"gpu\": \"h100-sxm\", \"instances\": 1, "
               "\"model\": \"llama-3.1-8b\", \"tiers\": [");
    fprintf(f, TIER, "hbm", "1G", ",");
    fprintf(f, TIER, "dram", "4Mi", ",");
    fprintf(f, TIER, "nvme", "64Mi", ",");
    fprintf(f, TIER, "pool", "1G", ",");
    fprintf(f, TIER, "pfs", "16Mi", "]}\n");
#undef TIER
    fclose(f);
    kvt_node_desc_t node;
    kvt_error_t err;
    if (kvt_node_load(path, &node, &err) != KVT_OK) {
        fail_msg("%s", err.message);
    }
    kvt_tier_config_t cfg[KVT_MAX_TIERS];
    uint64_t blocks[KVT_MAX_TIERS];
    uint32_t n = 0, skipped = 0;
    const uint64_t bb = 64u << 10;
    assert_int_equal(kvt_store_tiers_from_node(&node, bb, nvme, pfs, cfg, blocks, &n, &skipped,
                                               &err),
                     KVT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(skipped, 2);
    assert_int_equal(cfg[0].kind, KVT_TIER_DRAM);
    assert_int_equal(cfg[1].kind, KVT_TIER_NVME);
    assert_int_equal(cfg[2].kind, KVT_TIER_PFS);
    assert_int_equal(blocks[0], 64);
    assert_int_equal(blocks[1], 1024);
    assert_int_equal(blocks[2], 256);
    assert_string_equal(cfg[1].dir, nvme);
    assert_string_equal(cfg[2].dir, pfs);
    assert_int_equal(cfg[0].capacity_bytes, 4u << 20);
    /* without directories the storage tiers cannot be configured */
    assert_int_equal(kvt_store_tiers_from_node(&node, bb, NULL, pfs, cfg, blocks, &n, NULL, &err),
                     KVT_ERR_INVALID);
    assert_non_null(strstr(err.message, "nvme"));
    assert_int_equal(kvt_store_tiers_from_node(&node, bb, nvme, pfs, cfg, blocks, &n, NULL, &err),
                     KVT_OK);

    cfg[1].segment_bytes = 4u << 20;
    kvt_store_opts_t o;
    kvt_store_opts_init(&o);
    o.tiers = cfg;
    o.ntiers = n;
    o.block_bytes = bb;
    o.tier_blocks = blocks;
    kvt_store_t *s;
    if (kvt_store_create(&o, &s, &err) != KVT_OK) {
        fail_msg("%s", err.message);
    }
    kvt_store_stats_t st;
    kvt_store_stats(s, &st);
    assert_int_equal(st.ntiers, 3);
    assert_int_equal(st.tiers[0].capacity_blocks, 63);
    assert_int_equal(st.tiers[1].capacity_blocks, 900);
    assert_int_equal(st.tiers[2].capacity_blocks, 255);
    kvt_store_destroy(s);

    blocks[0] = 10;
    assert_int_equal(kvt_store_create(&o, &s, &err), KVT_OK);
    kvt_store_stats(s, &st);
    assert_int_equal(st.tiers[0].capacity_blocks, 10);
    kvt_store_destroy(s);
}

static void test_replay_agrees(void **state)
{
    (void)state;
    /* move buffers 0: the default */
    if (!replay_agrees(KVT_TIER_DRAM, 0, 60, 100, "rp")) {
        skip();
    }
    assert_true(replay_agrees(KVT_TIER_DRAM, 2, 60, 100, "rp2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_tier),     cmocka_unit_test(test_two_tiers),
        cmocka_unit_test(test_long_chain),      cmocka_unit_test(test_batches),
        cmocka_unit_test(test_restart),         cmocka_unit_test(test_refused_write),
        cmocka_unit_test(test_backpressure),    cmocka_unit_test(test_policies),
        cmocka_unit_test(test_threads),         cmocka_unit_test(test_replay_agrees),
        cmocka_unit_test(test_tiers_from_node),
    };
    if (getenv("KVT_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("KVT_TEST_FILTER"));
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
