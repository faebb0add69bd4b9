/* The prefix index: put/get/update/remove, growth, backward-shift deletion under crafted
 * collisions (checked against a brute-force reference), and prefix matching, cross-checked
 * against a naive reference on random chains for every implementation of match() the machine
 * has. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/prefix_index.h>
#include <stdlib.h>
#include <string.h>

#include "common/mix64.h"
#include "index/prefix_index_internal.h"

static kvt_key_t rand_key(uint64_t i)
{
    return (kvt_key_t){.lo = kvt_splitmix64(2 * i), .hi = kvt_splitmix64(2 * i + 1)};
}

static kvt_prefix_index_t *make(size_t expected)
{
    kvt_prefix_index_t *idx = NULL;
    assert_int_equal(kvt_prefix_index_create(expected, &idx, NULL), KVT_OK);
    assert_non_null(idx);
    return idx;
}

/* The run's dead entries stay bounded: under 1/8 of it (or 64) between compactions, and while one
 * runs at most 1/63 more (the removes it lets through: it moves PI_STEP_MOVES entries per call) --
 * dead <= used / 8 + used / 63 + 2, i.e. 504 dead <= 71 used + 1008. */
static void assert_dead_bound(const prefix_index_stats_t *ps)
{
    if (!ps->compacting) {
        assert_true(ps->dead * 8 <= ps->used || ps->dead < 64);
    } else {
        assert_true(ps->dead * 504 <= ps->used * 71 + 1008);
    }
}

static void test_basic(void **state)
{
    (void)state;
    kvt_prefix_index_t *idx = make(0);
    kvt_key_t a = {1, 2}, b = {1, 3}, c = {5, 2};
    uint8_t tier = 200;
    uint32_t slot = 777;
    assert_int_equal(kvt_prefix_index_size(idx), 0);
    assert_int_equal(kvt_prefix_index_get(idx, a, &tier, &slot), KVT_ERR_NOT_FOUND);
    assert_int_equal(tier, 200); /* untouched on a miss */
    assert_int_equal(slot, 777);

    assert_int_equal(kvt_prefix_index_put(idx, a, 1, 10), KVT_OK);
    assert_int_equal(kvt_prefix_index_put(idx, b, 2, 20), KVT_OK);
    assert_int_equal(kvt_prefix_index_put(idx, c, 3, 0xFFFFFFFFu), KVT_OK);
    assert_int_equal(kvt_prefix_index_size(idx), 3);
    assert_int_equal(kvt_prefix_index_get(idx, a, &tier, &slot), KVT_OK);
    assert_int_equal(tier, 1);
    assert_int_equal(slot, 10);
    assert_int_equal(kvt_prefix_index_get(idx, b, &tier, &slot), KVT_OK); /* same lo as a */
    assert_int_equal(tier, 2);
    assert_int_equal(slot, 20);
    assert_int_equal(kvt_prefix_index_get(idx, c, &tier, &slot), KVT_OK);
    assert_int_equal(tier, 3);
    assert_true(slot == 0xFFFFFFFFu);
    assert_int_equal(kvt_prefix_index_get(idx, c, NULL, NULL), KVT_OK);

    /* update in place: no new entry */
    assert_int_equal(kvt_prefix_index_put(idx, a, 255, 11), KVT_OK);
    assert_int_equal(kvt_prefix_index_size(idx), 3);
    assert_int_equal(kvt_prefix_index_get(idx, a, &tier, &slot), KVT_OK);
    assert_int_equal(tier, 255);
    assert_int_equal(slot, 11);

    assert_int_equal(kvt_prefix_index_remove(idx, a), KVT_OK);
    assert_int_equal(kvt_prefix_index_remove(idx, a), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_prefix_index_size(idx), 2);
    assert_int_equal(kvt_prefix_index_get(idx, a, NULL, NULL), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_prefix_index_get(idx, b, &tier, &slot), KVT_OK);
    assert_int_equal(slot, 20);
    /* a removed key can come back */
    assert_int_equal(kvt_prefix_index_put(idx, a, 4, 40), KVT_OK);
    assert_int_equal(kvt_prefix_index_get(idx, a, &tier, &slot), KVT_OK);
    assert_int_equal(slot, 40);

    /* NULL handling */
    assert_int_equal(kvt_prefix_index_create(0, NULL, NULL), KVT_ERR_INVALID);
    kvt_prefix_index_t *huge = NULL;
    assert_int_equal(kvt_prefix_index_create(SIZE_MAX / 2, &huge, NULL), KVT_ERR_NO_MEMORY);
    assert_null(huge);
    assert_int_equal(kvt_prefix_index_put(NULL, a, 0, 0), KVT_ERR_INVALID);
    assert_int_equal(kvt_prefix_index_remove(NULL, a), KVT_ERR_INVALID);
    assert_int_equal(kvt_prefix_index_get(NULL, a, NULL, NULL), KVT_ERR_INVALID);
    assert_int_equal(kvt_prefix_index_match(NULL, &a, 1, NULL, NULL), 0);
    assert_int_equal(kvt_prefix_index_size(NULL), 0);
    kvt_prefix_index_destroy(NULL);
    kvt_prefix_index_destroy(idx);
}

static void test_growth(void **state)
{
    (void)state;
    enum { N = 200000 };
    kvt_prefix_index_t *idx = make(0);
    size_t mem0 = kvt_prefix_index_memory(idx);
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(kvt_prefix_index_put(idx, rand_key(i), (uint8_t)i, (uint32_t)(i * 3)),
                         KVT_OK);
    }
    assert_int_equal(kvt_prefix_index_size(idx), N);
    assert_true(kvt_prefix_index_memory(idx) > mem0);
    /* hash groups of 8 (tag, position) pairs, at most 3/4 full, doubling when a put would pass
     * that: 200000 keys need 200000 / 6 = 33334 groups, so 2^16 (load 0.38), 4 MiB; the run
     * array holds 200000 entries of 24 bytes, 4,800,000 bytes, 4,800,512 in 4 KiB pages; plus
     * the handle */
    prefix_index_stats_t ps;
    prefix_index_stats(idx, &ps);
    assert_int_equal(ps.groups, 65536);
    assert_int_equal(ps.used, N);
    assert_int_equal(ps.dead, 0);
    size_t mem_n = kvt_prefix_index_memory(idx);
    assert_true(mem_n >= (size_t)65536 * 64 + 4800512 &&
                mem_n < (size_t)65536 * 64 + 4800512 + 512);
    assert_true(mem_n < (size_t)N * 64);
    for (uint64_t i = 0; i < N; i++) {
        uint8_t t;
        uint32_t s;
        assert_int_equal(kvt_prefix_index_get(idx, rand_key(i), &t, &s), KVT_OK);
        assert_int_equal(t, (uint8_t)i);
        assert_int_equal(s, (uint32_t)(i * 3));
    }
    assert_int_equal(kvt_prefix_index_get(idx, rand_key(N), NULL, NULL), KVT_ERR_NOT_FOUND);
    /* remove every odd key; the even ones must all stay findable */
    for (uint64_t i = 1; i < N; i += 2) {
        assert_int_equal(kvt_prefix_index_remove(idx, rand_key(i)), KVT_OK);
    }
    assert_int_equal(kvt_prefix_index_size(idx), N / 2);
    /* 100000 removes: the run was compacted (dead entries at most 1/8 of it), and the table,
     * which fell under 5/16 full at 163840 keys, was halved to 2^15 groups (load 0.38) */
    prefix_index_stats(idx, &ps);
    assert_true(ps.compactions > 0);
    assert_dead_bound(&ps);
    assert_true(ps.used >= N / 2);
    assert_int_equal(ps.groups, 32768);
    assert_true(kvt_prefix_index_memory(idx) < (size_t)N / 2 * 64);
    for (uint64_t i = 0; i < N; i++) {
        uint32_t s = 0;
        kvt_status_t st = kvt_prefix_index_get(idx, rand_key(i), NULL, &s);
        if (i % 2) {
            assert_int_equal(st, KVT_ERR_NOT_FOUND);
        } else {
            assert_int_equal(st, KVT_OK);
            assert_int_equal(s, (uint32_t)(i * 3));
        }
    }
    kvt_prefix_index_destroy(idx);

    /* sized up front: no growth while filling to the expected count */
    idx = make(N);
    prefix_index_stats(idx, &ps);
    size_t groups = ps.groups;
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(kvt_prefix_index_put(idx, rand_key(i), 0, 0), KVT_OK);
    }
    prefix_index_stats(idx, &ps);
    assert_int_equal(ps.groups, groups);
    /* and it does not shrink below that size when emptied */
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(kvt_prefix_index_remove(idx, rand_key(i)), KVT_OK);
    }
    prefix_index_stats(idx, &ps);
    assert_int_equal(ps.groups, groups);
    /* every entry is dead, and compaction ran once 64 were */
    assert_int_equal(ps.dead, ps.used);
    assert_true(ps.used < 64);
    kvt_prefix_index_destroy(idx);
}

/* Crafted keys in a 16-group table (create(0) gives 16 groups of 8; at most 96 keys keep it
 * there): homes 12..15 (low bits 60..63 masked to 16 groups), nine keys each, overflow their
 * group and wrap around the end of the table, several keys share all 64 low bits, and all share
 * one tag (their high words are small). Random puts and removes are checked after every step
 * against a brute-force list. */
static void test_collisions(void **state)
{
    (void)state;
    enum { UNIVERSE = 48, MAX_LIVE = 31 };
    kvt_key_t keys[UNIVERSE];
    for (int i = 0; i < UNIVERSE; i++) {
        /* home (lo mod 64) in 60..63 for most; lo itself repeats for i and i + 16 */
        uint64_t home = i % 16 < 12 ? 60 + (uint64_t)(i % 4) : (uint64_t)(i % 16 - 12);
        keys[i].lo = home + 64 * (uint64_t)((i % 16) / 4);
        keys[i].hi = (uint64_t)(i / 16) + 1;
    }
    bool live[UNIVERSE] = {false};
    uint32_t val[UNIVERSE] = {0};
    int nlive = 0;
    kvt_prefix_index_t *idx = make(0);
    prefix_index_stats_t ps;
    uint64_t rng = 42;
    for (int step = 0; step < 20000; step++) {
        rng = kvt_splitmix64(rng);
        int k = (int)(rng % UNIVERSE);
        bool do_put = ((rng >> 32) & 1) && (live[k] || nlive < MAX_LIVE);
        if (do_put) {
            uint32_t v = (uint32_t)(rng >> 40);
            assert_int_equal(kvt_prefix_index_put(idx, keys[k], (uint8_t)k, v), KVT_OK);
            nlive += !live[k];
            live[k] = true;
            val[k] = v;
        } else {
            assert_int_equal(kvt_prefix_index_remove(idx, keys[k]),
                             live[k] ? KVT_OK : KVT_ERR_NOT_FOUND);
            nlive -= live[k];
            live[k] = false;
        }
        assert_int_equal(kvt_prefix_index_size(idx), (size_t)nlive);
        for (int j = 0; j < UNIVERSE; j++) {
            uint8_t t;
            uint32_t s;
            kvt_status_t st = kvt_prefix_index_get(idx, keys[j], &t, &s);
            if (live[j]) {
                assert_int_equal(st, KVT_OK);
                assert_int_equal(t, j);
                assert_int_equal(s, val[j]);
            } else {
                assert_int_equal(st, KVT_ERR_NOT_FOUND);
            }
        }
    }
    prefix_index_stats(idx, &ps);
    assert_int_equal(ps.groups, 16); /* never grew: collisions were real */
    assert_true(ps.compactions > 0);
    kvt_prefix_index_destroy(idx);
}

/* A hand-worked case: a, b, c all home 5 (one group of 8 holds them), d home 6; removing a, then
 * c, leaves the others findable. */
static void test_backward_shift(void **state)
{
    (void)state;
    kvt_prefix_index_t *idx = make(0);
    kvt_key_t a = {5, 1}, b = {5 + 64, 1}, c = {5 + 128, 1}, d = {6 + 64, 9};
    assert_int_equal(kvt_prefix_index_put(idx, a, 1, 1), KVT_OK);
    assert_int_equal(kvt_prefix_index_put(idx, b, 2, 2), KVT_OK);
    assert_int_equal(kvt_prefix_index_put(idx, c, 3, 3), KVT_OK);
    assert_int_equal(kvt_prefix_index_put(idx, d, 4, 4), KVT_OK);
    assert_int_equal(kvt_prefix_index_remove(idx, a), KVT_OK);
    uint32_t s;
    assert_int_equal(kvt_prefix_index_get(idx, b, NULL, &s), KVT_OK);
    assert_int_equal(s, 2);
    assert_int_equal(kvt_prefix_index_get(idx, c, NULL, &s), KVT_OK);
    assert_int_equal(s, 3);
    assert_int_equal(kvt_prefix_index_get(idx, d, NULL, &s), KVT_OK);
    assert_int_equal(s, 4);
    assert_int_equal(kvt_prefix_index_remove(idx, c), KVT_OK);
    assert_int_equal(kvt_prefix_index_get(idx, b, NULL, &s), KVT_OK);
    assert_int_equal(kvt_prefix_index_get(idx, d, NULL, &s), KVT_OK);
    assert_int_equal(s, 4);
    assert_int_equal(kvt_prefix_index_get(idx, c, NULL, &s), KVT_ERR_NOT_FOUND);
    kvt_prefix_index_destroy(idx);
}

static void test_match(void **state)
{
    (void)state;
    enum { N = 40 };
    kvt_key_ctx_t ctx;
    kvt_key_ctx_init(&ctx);
    uint32_t tok[N * 16];
    for (size_t i = 0; i < N * 16; i++) {
        tok[i] = (uint32_t)(i * 7 + 1);
    }
    kvt_key_t chain[N];
    size_t nk = 0;
    assert_int_equal(kvt_key_chain(&ctx, tok, N * 16, 16, chain, &nk, NULL), KVT_OK);
    assert_int_equal(nk, N);

    kvt_prefix_index_t *idx = make(0);
    uint8_t tiers[N];
    uint32_t slots[N];
    assert_int_equal(kvt_prefix_index_match(idx, chain, N, tiers, slots), 0);
    assert_int_equal(kvt_prefix_index_match(idx, chain, 0, tiers, slots), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(kvt_prefix_index_put(idx, chain[i], (uint8_t)(i % 3), (uint32_t)(100 + i)),
                         KVT_OK);
    }
    /* full chain */
    assert_int_equal(kvt_prefix_index_match(idx, chain, N, tiers, slots), N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(tiers[i], i % 3);
        assert_int_equal(slots[i], 100 + i);
    }
    assert_int_equal(kvt_prefix_index_match(idx, chain, N, NULL, NULL), N);
    assert_int_equal(kvt_prefix_index_match(idx, chain, 7, NULL, slots), 7);

    /* a hole at block 13: the match stops there, outputs beyond it untouched */
    assert_int_equal(kvt_prefix_index_remove(idx, chain[13]), KVT_OK);
    memset(tiers, 0xEE, sizeof(tiers));
    memset(slots, 0xEE, sizeof(slots));
    assert_int_equal(kvt_prefix_index_match(idx, chain, N, tiers, slots), 13);
    for (int i = 0; i < 13; i++) {
        assert_int_equal(slots[i], 100 + i);
    }
    for (int i = 13; i < N; i++) {
        assert_int_equal(tiers[i], 0xEE);
        assert_true(slots[i] == 0xEEEEEEEEu);
    }
    /* blocks after the hole are present but do not count */
    assert_int_equal(kvt_prefix_index_match(idx, chain + 14, N - 14, NULL, NULL), N - 14);
    /* a hole at block 0 */
    assert_int_equal(kvt_prefix_index_remove(idx, chain[0]), KVT_OK);
    assert_int_equal(kvt_prefix_index_match(idx, chain, N, tiers, slots), 0);
    /* the block moved tier: match reports the new place */
    assert_int_equal(kvt_prefix_index_put(idx, chain[0], 9, 5), KVT_OK);
    assert_int_equal(kvt_prefix_index_put(idx, chain[13], 8, 6), KVT_OK);
    assert_int_equal(kvt_prefix_index_match(idx, chain, N, tiers, slots), N);
    assert_int_equal(tiers[0], 9);
    assert_int_equal(slots[13], 6);
    kvt_prefix_index_destroy(idx);
}

/* Backward shift across groups, worked by hand (16 groups of 8; keys with lo = h + 16 m have
 * home h). a[0..7] fill group 5; d (home 5) goes to 6; e[0..6] (home 6) fill 6 with d; g (home
 * 6) goes to 7. Removing a[0] must move d back into 5 and then g into the place d left in 6: a
 * lookup stops at the first group that is not full, so a d left in 6, or a g left in 7, would no
 * longer be found. (Fewer than 64 removes: no compaction rebuilds the table meanwhile.) */
static void test_backward_shift_groups(void **state)
{
    (void)state;
    kvt_prefix_index_t *idx = make(0);
    kvt_key_t a[8], e[7];
    kvt_key_t d = {5 + 16 * 8, 100}, g = {6 + 16 * 7, 200};
    for (uint64_t m = 0; m < 8; m++) {
        a[m] = (kvt_key_t){5 + 16 * m, m};
        assert_int_equal(kvt_prefix_index_put(idx, a[m], 1, (uint32_t)m), KVT_OK);
    }
    assert_int_equal(kvt_prefix_index_put(idx, d, 2, 13), KVT_OK);
    for (uint64_t m = 0; m < 7; m++) {
        e[m] = (kvt_key_t){6 + 16 * m, 50 + m};
        assert_int_equal(kvt_prefix_index_put(idx, e[m], 3, (uint32_t)(20 + m)), KVT_OK);
    }
    assert_int_equal(kvt_prefix_index_put(idx, g, 4, 16), KVT_OK);
    assert_int_equal(kvt_prefix_index_remove(idx, a[0]), KVT_OK);
    assert_int_equal(kvt_prefix_index_get(idx, a[0], NULL, NULL), KVT_ERR_NOT_FOUND);
    uint32_t s = 0;
    for (uint64_t m = 1; m < 8; m++) {
        assert_int_equal(kvt_prefix_index_get(idx, a[m], NULL, &s), KVT_OK);
        assert_int_equal(s, m);
    }
    for (uint64_t m = 0; m < 7; m++) {
        assert_int_equal(kvt_prefix_index_get(idx, e[m], NULL, &s), KVT_OK);
        assert_int_equal(s, 20 + m);
    }
    assert_int_equal(kvt_prefix_index_get(idx, d, NULL, &s), KVT_OK);
    assert_int_equal(s, 13);
    assert_int_equal(kvt_prefix_index_get(idx, g, NULL, &s), KVT_OK);
    assert_int_equal(s, 16);
    /* group 6 now holds e[0..6] and g, and 7 is empty: removing e[0] leaves g findable */
    assert_int_equal(kvt_prefix_index_remove(idx, e[0]), KVT_OK);
    assert_int_equal(kvt_prefix_index_get(idx, g, NULL, &s), KVT_OK);
    assert_int_equal(s, 16);
    assert_int_equal(kvt_prefix_index_get(idx, d, NULL, &s), KVT_OK);
    assert_int_equal(s, 13);
    /* d leaves: a[1..7] stay in 5, which is no longer full */
    assert_int_equal(kvt_prefix_index_remove(idx, d), KVT_OK);
    for (uint64_t m = 1; m < 8; m++) {
        assert_int_equal(kvt_prefix_index_get(idx, a[m], NULL, NULL), KVT_OK);
    }
    assert_int_equal(kvt_prefix_index_get(idx, d, NULL, NULL), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_prefix_index_size(idx), 14);
    prefix_index_stats_t ps;
    prefix_index_stats(idx, &ps);
    assert_int_equal(ps.compactions, 0);
    assert_int_equal(ps.groups, 16);
    kvt_prefix_index_destroy(idx);
}

typedef size_t (*match_fn)(const kvt_prefix_index_t *, const kvt_key_t *, size_t, uint8_t *,
                           uint32_t *);

/* The same keys split over SHARDS indexes by the rule kvt_prefix_index_match_sharded() assumes,
 * walked by its implementations (the match_fn's idx argument is ignored). */
#define SHARDS 4u
static kvt_prefix_index_t *shards[SHARDS];

static kvt_prefix_index_t *shard_for(kvt_key_t key)
{
    return shards[(key.lo ^ key.hi) & (SHARDS - 1)];
}

static size_t sharded_public(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                             uint8_t *tiers, uint32_t *slots)
{
    (void)idx;
    return kvt_prefix_index_match_sharded((const kvt_prefix_index_t *const *)shards, SHARDS,
                                          chain, n, tiers, slots);
}

static size_t sharded_hashed(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                             uint8_t *tiers, uint32_t *slots)
{
    (void)idx;
    return prefix_index_match_sharded((const kvt_prefix_index_t *const *)shards, SHARDS, chain,
                                      n, tiers, slots, false);
}

static size_t sharded_run_first(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                                uint8_t *tiers, uint32_t *slots)
{
    (void)idx;
    return prefix_index_match_sharded((const kvt_prefix_index_t *const *)shards, SHARDS, chain,
                                      n, tiers, slots, true);
}

/* The sharded walk in windows of 37 keys with one cursor carried across them (as the store walks
 * a chain), stopping at the first window that matches short. */
static size_t sharded_windows(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                              uint8_t *tiers, uint32_t *slots)
{
    (void)idx;
    uint32_t cursor[SHARDS];
    for (size_t s = 0; s < SHARDS; s++) {
        cursor[s] = PI_NONE;
    }
    size_t i = 0;
    while (i < n) {
        size_t w = n - i < 37 ? n - i : 37;
        size_t m = prefix_index_match_sharded_from((const kvt_prefix_index_t *const *)shards,
                                                   SHARDS, chain + i, w,
                                                   tiers != NULL ? tiers + i : NULL,
                                                   slots != NULL ? slots + i : NULL, cursor);
        i += m;
        if (m < w) {
            break;
        }
    }
    return i;
}

/* The single-index walk in each mode: through the run first (as match() does), or every key
 * through the hash table's pipeline. */
static size_t match_hashed(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                           uint8_t *tiers, uint32_t *slots)
{
    return prefix_index_match_mode(idx, chain, n, tiers, slots, false);
}

static size_t match_run_first(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                              uint8_t *tiers, uint32_t *slots)
{
    return prefix_index_match_mode(idx, chain, n, tiers, slots, true);
}

/* Every walk the tests check: the first WALKS_SINGLE over one index, the rest over the shards. */
static const match_fn walks[] = {kvt_prefix_index_match, match_run_first,   match_hashed,
                                 sharded_public,         sharded_run_first, sharded_hashed,
                                 sharded_windows};
enum { WALKS = sizeof(walks) / sizeof(walks[0]), WALKS_SINGLE = 3 };

/* The reference: the first position whose key is not resident, from the test's own table. */
static size_t ref_match(const bool *resident, const uint32_t *chain_ids, size_t n)
{
    size_t i = 0;
    while (i < n && resident[chain_ids[i]]) {
        i++;
    }
    return i;
}

/* Random chains over a universe of keys of which a random part is resident (put, removed and
 * put again at random, so the table grows, shifts back and holds keys past their home), each
 * chain resident up to a random point, then one absent key, then anything: match() must give
 * the reference's length, the reference's tier and slot before it, and leave the outputs after
 * it untouched. collide: keys drawn from few home groups and shared low words, so most probes
 * leave the home group and the fast paths' "same low word, other key" cases happen. The same
 * puts and removes go to SHARDS indexes by key, and the sharded walks must give the same. */
static void check_match_reference(bool collide)
{
    enum { U = 4000, CHAINS = 300, MAXLEN = 700 };
    kvt_key_t *keys = malloc(U * sizeof(*keys));
    bool *resident = calloc(U, sizeof(*resident));
    uint8_t *rtier = calloc(U, 1);
    uint32_t *rslot = calloc(U, sizeof(*rslot));
    uint32_t *ids = malloc(MAXLEN * sizeof(*ids));
    kvt_key_t *chain = malloc(MAXLEN * sizeof(*chain));
    uint8_t *tiers = malloc(MAXLEN + 1);
    uint32_t *slots = malloc((MAXLEN + 1) * sizeof(*slots));
    uint32_t *res_list = malloc(U * sizeof(*res_list));
    assert_non_null(keys);
    assert_non_null(resident);
    assert_non_null(rtier);
    assert_non_null(rslot);
    assert_non_null(ids);
    assert_non_null(chain);
    assert_non_null(tiers);
    assert_non_null(slots);
    assert_non_null(res_list);
    for (uint64_t u = 0; u < U; u++) {
        keys[u] = rand_key(u + (collide ? 1000000 : 0));
        if (collide) {
            /* 40 low words, 3 of them per home region: at most 40 distinct homes */
            keys[u].lo = (u % 40) * 1024 + (u % 3);
        }
    }
    kvt_prefix_index_t *idx = make(0);
    for (uint32_t i = 0; i < SHARDS; i++) {
        shards[i] = make(0);
    }
    uint64_t rng = collide ? 7 : 3;
    size_t checked_mid = 0, checked_full = 0;
    for (int c = 0; c < CHAINS; c++) {
        /* churn: about U/10 random puts and removes */
        for (int s = 0; s < U / 10; s++) {
            rng = kvt_splitmix64(rng);
            uint32_t u = (uint32_t)(rng % U);
            if ((rng >> 32) % 100 < 75) {
                rtier[u] = (uint8_t)(rng >> 40);
                rslot[u] = (uint32_t)(rng >> 20);
                assert_int_equal(kvt_prefix_index_put(idx, keys[u], rtier[u], rslot[u]), KVT_OK);
                assert_int_equal(kvt_prefix_index_put(shard_for(keys[u]), keys[u], rtier[u],
                                                      rslot[u]),
                                 KVT_OK);
                resident[u] = true;
            } else {
                assert_int_equal(kvt_prefix_index_remove(idx, keys[u]),
                                 resident[u] ? KVT_OK : KVT_ERR_NOT_FOUND);
                assert_int_equal(kvt_prefix_index_remove(shard_for(keys[u]), keys[u]),
                                 resident[u] ? KVT_OK : KVT_ERR_NOT_FOUND);
                resident[u] = false;
            }
        }
        size_t nres = 0;
        for (uint32_t u = 0; u < U; u++) {
            if (resident[u]) {
                res_list[nres++] = u;
            }
        }
        assert_int_equal(kvt_prefix_index_size(idx), nres);
        assert_true(nres > 0 && nres < U);
        rng = kvt_splitmix64(rng);
        size_t n = (size_t)(rng % (MAXLEN + 1));
        /* about one chain in four wholly resident, else a miss at a random place */
        size_t miss_at = (rng >> 61) % 5 == 0 ? n : (size_t)((rng >> 32) % (n + 1));
        for (size_t i = 0; i < n; i++) {
            rng = kvt_splitmix64(rng);
            uint32_t u;
            if (i < miss_at) {
                u = res_list[rng % nres];
            } else if (i == miss_at) {
                do {
                    rng = kvt_splitmix64(rng);
                    u = (uint32_t)(rng % U);
                } while (resident[u]);
            } else {
                u = (uint32_t)(rng % U);
            }
            ids[i] = u;
            chain[i] = keys[u];
        }
        size_t want = ref_match(resident, ids, n);
        assert_true(want == (miss_at < n ? miss_at : n));
        checked_mid += want > 0 && want < n;
        checked_full += want == n && n > 0;
        for (size_t m = 0; m < WALKS; m++) {
            memset(tiers, 0xEE, MAXLEN + 1);
            memset(slots, 0xEE, (MAXLEN + 1) * sizeof(*slots));
            size_t got = walks[m](idx, chain, n, tiers, slots);
            assert_int_equal(got, want);
            for (size_t i = 0; i < want; i++) {
                assert_int_equal(tiers[i], rtier[ids[i]]);
                assert_int_equal(slots[i], rslot[ids[i]]);
            }
            for (size_t i = want; i <= MAXLEN; i++) {
                assert_int_equal(tiers[i], 0xEE);
                assert_true(slots[i] == 0xEEEEEEEEu);
            }
            /* one output array, or none */
            assert_int_equal(walks[m](idx, chain, n, NULL, slots), want);
            assert_int_equal(walks[m](idx, chain, n, NULL, NULL), want);
        }
    }
    /* the chains covered both kinds of answer */
    assert_true(checked_mid > CHAINS / 4);
    assert_true(checked_full > 5);
    /* the keys did spread over every shard */
    for (uint32_t i = 0; i < SHARDS; i++) {
        assert_true(kvt_prefix_index_size(shards[i]) > 0);
        kvt_prefix_index_destroy(shards[i]);
        shards[i] = NULL;
    }
    kvt_prefix_index_destroy(idx);
    free(keys);
    free(resident);
    free(rtier);
    free(rslot);
    free(ids);
    free(chain);
    free(tiers);
    free(slots);
    free(res_list);
}

static void test_match_reference(void **state)
{
    (void)state;
    check_match_reference(false);
}

static void test_match_reference_collisions(void **state)
{
    (void)state;
    check_match_reference(true);
}

/*
 * Chain runs against a reference. CH chains of CLEN random keys (or crafted ones: few low words,
 * one tag) are put in order, in a shuffled order, interleaved two at a time, partly (a prefix),
 * partly removed (holes inside runs), removed whole (dead entries, compactions, the table
 * shrinking), put again after removal (the keys land at the end of the run) and updated in place,
 * at random; after each step chains and pieces of chains (from a random offset, or one chain's
 * start spliced onto another's) are matched by every walk, single and sharded, against the
 * reference: plain arrays indexed by the key's number, written by the test alone.
 */
enum { RCH = 24, RCLEN = 300, RU = RCH * RCLEN };

typedef struct ref {
    kvt_key_t keys[RU];
    bool live[RU];
    uint8_t tier[RU];
    uint32_t slot[RU];
    size_t nlive;
    kvt_prefix_index_t *idx;
    uint64_t rng;
} ref_t;

static uint64_t ref_next(ref_t *r)
{
    r->rng = kvt_splitmix64(r->rng);
    return r->rng;
}

static void ref_put(ref_t *r, uint32_t u)
{
    uint64_t x = ref_next(r);
    r->tier[u] = (uint8_t)x;
    r->slot[u] = (uint32_t)(x >> 32);
    assert_int_equal(kvt_prefix_index_put(r->idx, r->keys[u], r->tier[u], r->slot[u]), KVT_OK);
    assert_int_equal(kvt_prefix_index_put(shard_for(r->keys[u]), r->keys[u], r->tier[u],
                                          r->slot[u]),
                     KVT_OK);
    r->nlive += !r->live[u];
    r->live[u] = true;
}

static void ref_remove(ref_t *r, uint32_t u)
{
    kvt_status_t want = r->live[u] ? KVT_OK : KVT_ERR_NOT_FOUND;
    assert_int_equal(kvt_prefix_index_remove(r->idx, r->keys[u]), want);
    assert_int_equal(kvt_prefix_index_remove(shard_for(r->keys[u]), r->keys[u]), want);
    r->nlive -= r->live[u];
    r->live[u] = false;
}

/* Matches ids[0..n) with every walk and checks them against the reference. */
static void ref_check_chain(ref_t *r, const uint32_t *ids, size_t n)
{
    static kvt_key_t chain[2 * RCLEN];
    static uint8_t tiers[2 * RCLEN + 1];
    static uint32_t slots[2 * RCLEN + 1];
    size_t want = 0;
    while (want < n && r->live[ids[want]]) {
        want++;
    }
    for (size_t i = 0; i < n; i++) {
        chain[i] = r->keys[ids[i]];
    }
    for (size_t m = 0; m < WALKS; m++) {
        memset(tiers, 0xEE, sizeof(tiers));
        memset(slots, 0xEE, sizeof(slots));
        assert_int_equal(walks[m](r->idx, chain, n, tiers, slots), want);
        for (size_t i = 0; i < want; i++) {
            assert_int_equal(tiers[i], r->tier[ids[i]]);
            assert_int_equal(slots[i], r->slot[ids[i]]);
        }
        for (size_t i = want; i <= n; i++) {
            assert_int_equal(tiers[i], 0xEE);
            assert_true(slots[i] == 0xEEEEEEEEu);
        }
        assert_int_equal(walks[m](r->idx, chain, n, NULL, NULL), want);
    }
}

static void ref_check(ref_t *r)
{
    uint32_t ids[2 * RCLEN];
    for (int q = 0; q < 4; q++) {
        uint64_t x = ref_next(r);
        uint32_t c = (uint32_t)(x % RCH), c2 = (uint32_t)((x >> 8) % RCH);
        size_t off = (size_t)((x >> 16) % RCLEN), n;
        if (q == 0) { /* a whole chain */
            off = 0;
        }
        if (q < 3) { /* a chain from off on */
            n = RCLEN - off;
            for (size_t i = 0; i < n; i++) {
                ids[i] = c * RCLEN + (uint32_t)(off + i);
            }
        } else { /* chain c up to off, then chain c2 from its start */
            n = off + RCLEN;
            for (size_t i = 0; i < off; i++) {
                ids[i] = c * RCLEN + (uint32_t)i;
            }
            for (size_t i = 0; i < RCLEN; i++) {
                ids[off + i] = c2 * RCLEN + (uint32_t)i;
            }
        }
        ref_check_chain(r, ids, n);
    }
    assert_int_equal(kvt_prefix_index_size(r->idx), r->nlive);
}

static void check_runs_reference(bool crafted)
{
    ref_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    for (uint32_t u = 0; u < RU; u++) {
        r->keys[u] = rand_key(u + 5000000);
        if (crafted) {
            /* 64 low words and one tag for all: every probe goes past the tags to the keys */
            r->keys[u].lo = (uint64_t)(u % 64) * 16;
            r->keys[u].hi = (uint64_t)u;
        }
    }
    r->rng = crafted ? 99 : 98;
    r->idx = make(0);
    for (uint32_t i = 0; i < SHARDS; i++) {
        shards[i] = make(0);
    }
    uint32_t order[RCLEN];
    size_t max_groups = 0;
    bool shrank = false;
    for (int step = 0; step < 600; step++) {
        uint64_t x = ref_next(r);
        uint32_t c = (uint32_t)(x % RCH), c2 = (uint32_t)((x >> 8) % RCH);
        uint32_t base = c * RCLEN;
        switch ((x >> 16) % 9) {
        case 0: /* in chain order */
        case 1:
            for (uint32_t i = 0; i < RCLEN; i++) {
                ref_put(r, base + i);
            }
            break;
        case 2: /* shuffled */
            for (uint32_t i = 0; i < RCLEN; i++) {
                order[i] = i;
            }
            for (uint32_t i = RCLEN - 1; i > 0; i--) {
                uint32_t j = (uint32_t)(ref_next(r) % (i + 1)), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            for (uint32_t i = 0; i < RCLEN; i++) {
                ref_put(r, base + order[i]);
            }
            break;
        case 3: /* interleaved with another chain */
            for (uint32_t i = 0; i < RCLEN; i++) {
                ref_put(r, base + i);
                ref_put(r, c2 * RCLEN + i);
            }
            break;
        case 4: /* a prefix, in order */
            for (uint32_t i = 0, n = (uint32_t)((x >> 24) % RCLEN); i < n; i++) {
                ref_put(r, base + i);
            }
            break;
        case 5: /* holes */
            for (uint32_t i = 0, n = 1 + (uint32_t)((x >> 24) % 20); i < n; i++) {
                ref_remove(r, base + (uint32_t)(ref_next(r) % RCLEN));
            }
            break;
        case 6: /* a whole chain goes */
        case 7:
            for (uint32_t i = 0; i < RCLEN; i++) {
                ref_remove(r, base + i);
            }
            break;
        case 8: /* the missing keys come back, in order (at the end of the run), and the others
                 * are updated in place */
            for (uint32_t i = 0; i < RCLEN; i++) {
                ref_put(r, base + i);
            }
            break;
        }
        ref_check(r);
        prefix_index_stats_t ps;
        prefix_index_stats(r->idx, &ps);
        assert_dead_bound(&ps);
        assert_int_equal(ps.used - ps.dead, r->nlive);
        shrank |= ps.groups < max_groups;
        max_groups = ps.groups > max_groups ? ps.groups : max_groups;
        if (r->nlive >= 2000) {
            assert_true(kvt_prefix_index_memory(r->idx) < r->nlive * 64);
        }
        if (step % 100 == 99) {
            for (uint32_t u = 0; u < RU; u++) {
                uint8_t t = 0;
                uint32_t sl = 0;
                kvt_status_t st = kvt_prefix_index_get(r->idx, r->keys[u], &t, &sl);
                assert_int_equal(st, r->live[u] ? KVT_OK : KVT_ERR_NOT_FOUND);
                if (r->live[u]) {
                    assert_int_equal(t, r->tier[u]);
                    assert_int_equal(sl, r->slot[u]);
                }
            }
        }
    }
    /* the steps went through growth, compaction and shrinking, in every index */
    prefix_index_stats_t ps;
    prefix_index_stats(r->idx, &ps);
    assert_true(ps.compactions > 3);
    assert_true(max_groups >= 512);
    assert_true(shrank);
    for (uint32_t i = 0; i < SHARDS; i++) {
        prefix_index_stats(shards[i], &ps);
        assert_true(ps.compactions > 0);
        kvt_prefix_index_destroy(shards[i]);
        shards[i] = NULL;
    }
    kvt_prefix_index_destroy(r->idx);
    free(r);
}

static void test_runs_reference(void **state)
{
    (void)state;
    check_runs_reference(false);
}

static void test_runs_reference_crafted(void **state)
{
    (void)state;
    check_runs_reference(true);
}

/* Worked by hand: a chain of 10 put in order is one run; key 4 removed and put again lands at
 * the end of the run (position 10), so the walk leaves the run at 4 and comes back at 5 via the
 * hash table; updating key 7 in place keeps the run; and a chain whose first keys are another
 * chain's is matched across the join. */
static void test_runs_by_hand(void **state)
{
    (void)state;
    kvt_key_t k[20];
    for (uint64_t i = 0; i < 20; i++) {
        k[i] = rand_key(700 + i);
    }
    kvt_prefix_index_t *idx = make(0);
    for (uint32_t i = 0; i < 10; i++) {
        assert_int_equal(kvt_prefix_index_put(idx, k[i], 1, i), KVT_OK);
    }
    uint8_t tiers[20];
    uint32_t slots[20];
    for (size_t m = 0; m < WALKS_SINGLE; m++) {
        assert_int_equal(walks[m](idx, k, 10, tiers, slots), 10);
        assert_int_equal(walks[m](idx, k + 3, 7, tiers, slots), 7);
        assert_int_equal(slots[0], 3);
    }
    assert_int_equal(kvt_prefix_index_remove(idx, k[4]), KVT_OK);
    prefix_index_stats_t ps;
    prefix_index_stats(idx, &ps);
    assert_int_equal(ps.used, 10);
    assert_int_equal(ps.dead, 1);
    for (size_t m = 0; m < WALKS_SINGLE; m++) {
        assert_int_equal(walks[m](idx, k, 10, tiers, slots), 4);
    }
    assert_int_equal(kvt_prefix_index_put(idx, k[4], 2, 44), KVT_OK);
    assert_int_equal(kvt_prefix_index_put(idx, k[7], 3, 77), KVT_OK);
    prefix_index_stats(idx, &ps);
    assert_int_equal(ps.used, 11); /* k[4] again at 10; k[7] in place */
    assert_int_equal(ps.dead, 1);
    /* keys 10..19 after it: a chain 0..19 runs 0..3, jumps to 10 (k[4]), back to 5..9, then on
     * to 11..20 */
    for (uint32_t i = 10; i < 20; i++) {
        assert_int_equal(kvt_prefix_index_put(idx, k[i], 1, i), KVT_OK);
    }
    for (size_t m = 0; m < WALKS_SINGLE; m++) {
        memset(slots, 0, sizeof(slots));
        assert_int_equal(walks[m](idx, k, 20, tiers, slots), 20);
        for (uint32_t i = 0; i < 20; i++) {
            assert_int_equal(slots[i], i == 4 ? 44 : i == 7 ? 77 : i);
            assert_int_equal(tiers[i], i == 4 ? 2 : i == 7 ? 3 : 1);
        }
    }
    kvt_prefix_index_destroy(idx);
}

/* Worked by hand: three chains a, b, c of 6 put interleaved (a0 b0 c0 a1 b1 c1 ...: run
 * positions 3i, 3i + 1, 3i + 2), so each chain's next key is 3 entries after its previous one,
 * inside the window the walk scans before the hash table. a2 is removed and put again (dead at
 * 6, live at 18, new tier and slot): the walk from a1 (at 3) meets the dead a2 in its window and
 * must not take it; it finds a2 at 18 through the table, then a3 (at 9) back in the window. */
static void test_runs_interleaved(void **state)
{
    (void)state;
    kvt_key_t k[3][6];
    kvt_prefix_index_t *idx = make(0);
    for (uint32_t i = 0; i < 6; i++) {
        for (uint32_t c = 0; c < 3; c++) {
            k[c][i] = rand_key(900 + 10 * c + i);
            assert_int_equal(kvt_prefix_index_put(idx, k[c][i], (uint8_t)c, 3 * i + c), KVT_OK);
        }
    }
    uint8_t tiers[6];
    uint32_t slots[6];
    for (size_t m = 0; m < WALKS_SINGLE; m++) {
        for (uint32_t c = 0; c < 3; c++) {
            assert_int_equal(walks[m](idx, k[c], 6, tiers, slots), 6);
            for (uint32_t i = 0; i < 6; i++) {
                assert_int_equal(slots[i], 3 * i + c);
                assert_int_equal(tiers[i], c);
            }
        }
    }
    assert_int_equal(kvt_prefix_index_remove(idx, k[0][2]), KVT_OK);
    for (size_t m = 0; m < WALKS_SINGLE; m++) {
        assert_int_equal(walks[m](idx, k[0], 6, tiers, slots), 2);
    }
    assert_int_equal(kvt_prefix_index_put(idx, k[0][2], 7, 1000), KVT_OK);
    prefix_index_stats_t ps;
    prefix_index_stats(idx, &ps);
    assert_int_equal(ps.used, 19);
    assert_int_equal(ps.dead, 1);
    for (size_t m = 0; m < WALKS_SINGLE; m++) {
        memset(slots, 0, sizeof(slots));
        assert_int_equal(walks[m](idx, k[0], 6, tiers, slots), 6);
        for (uint32_t i = 0; i < 6; i++) {
            assert_int_equal(slots[i], i == 2 ? 1000 : 3 * i);
            assert_int_equal(tiers[i], i == 2 ? 7 : 0);
        }
        assert_int_equal(walks[m](idx, k[1], 6, tiers, slots), 6);
    }
    kvt_prefix_index_destroy(idx);
}

/*
 * Compaction is incremental: once it starts, no put() or remove() moves more than PI_STEP_MOVES
 * live entries, it ends within used / 63 + 2 calls, and every chain matches right at each step
 * of the way (checked against the test's own record of what is live and where). 40 chains of
 * 1,000 keys put in order; every third key of chains 0..15 removed (5,001 of them cross 1/8 of
 * 40,000 and start it), then puts of new keys and further removes drive it to the end.
 */
static void test_compaction_incremental(void **state)
{
    (void)state;
    enum { CH = 40, LEN = 1000, NK = CH * LEN };
    static bool live[NK + 2000];
    kvt_key_t *k = malloc((NK + 2000) * sizeof(*k));
    assert_non_null(k);
    kvt_prefix_index_t *idx = make(0);
    for (uint32_t i = 0; i < NK + 2000; i++) {
        k[i] = rand_key(5000000 + i);
    }
    for (uint32_t i = 0; i < NK; i++) {
        assert_int_equal(kvt_prefix_index_put(idx, k[i], 0, i), KVT_OK);
        live[i] = true;
    }
    static uint32_t slots[LEN];
    prefix_index_stats_t ps = {0}, before;
    size_t calls = 0, calls_compacting = 0, next_new = NK;
    bool started = false;
    for (uint32_t c = 0; c < CH && !(started && !ps.compacting); c++) {
        for (uint32_t i = 0; i < LEN; i++) {
            uint32_t u = c * LEN + i;
            prefix_index_stats(idx, &before);
            if (c < 16 && i % 3 == 1) {
                assert_int_equal(kvt_prefix_index_remove(idx, k[u]), KVT_OK);
                live[u] = false;
            } else if (started) {
                /* a new key at the end */
                assert_int_equal(kvt_prefix_index_put(idx, k[next_new], 1, next_new), KVT_OK);
                live[next_new] = true;
                next_new++;
            } else {
                continue;
            }
            calls++;
            prefix_index_stats(idx, &ps);
            assert_true(ps.moves - before.moves <= PI_STEP_MOVES);
            assert_dead_bound(&ps);
            if (ps.compacting) {
                if (!started) {
                    started = true;
                    assert_int_equal(ps.compactions, 0);
                }
                calls_compacting++;
                assert_true(calls_compacting <= NK / 63 + 2);
            }
            if (started && (calls % 97 == 0 || !ps.compacting)) {
                for (uint32_t cc = 0; cc < CH; cc++) {
                    size_t want = 0;
                    while (want < LEN && live[cc * LEN + want]) {
                        want++;
                    }
                    memset(slots, 0xFF, sizeof(slots));
                    assert_int_equal(kvt_prefix_index_match(idx, k + cc * LEN, LEN, NULL, slots),
                                     want);
                    for (size_t i2 = 0; i2 < want; i2++) {
                        assert_int_equal(slots[i2], cc * LEN + i2);
                    }
                }
            }
            if (started && !ps.compacting) {
                break;
            }
        }
    }
    assert_true(started);
    prefix_index_stats(idx, &ps);
    assert_false(ps.compacting);
    assert_int_equal(ps.compactions, 1);
    /* what was moved is every live entry after the first dead one; the run holds only the live
     * entries and the removes made while it ran (at most one a call) */
    assert_true(ps.moves > 0);
    assert_true(ps.used - ps.dead == kvt_prefix_index_size(idx));
    assert_true(ps.dead <= calls_compacting);
    /* the new keys, put while it ran, are found too */
    for (uint32_t u = NK; u < next_new; u++) {
        uint32_t sl;
        assert_int_equal(kvt_prefix_index_get(idx, k[u], NULL, &sl), KVT_OK);
        assert_int_equal(sl, u);
    }
    kvt_prefix_index_destroy(idx);
    free(k);
}

/*
 * Worked by hand: what a compaction leaves behind it is dead. 64 filler keys (positions 0..63),
 * then a chain c[0..199] (64..263). Removing the fillers: the 64th remove passes 1/8 of 264 and
 * MIN_DEAD and starts a compaction; the put of a new key takes its first step: the fillers are
 * dropped and c[0..63] move to 0..63, so positions 64..127 still hold copies of them. c[0] is
 * then updated in place (a put of a present key takes no step) and the chain [c[63], c[0]]
 * matched: a walk tries the entry after c[63]'s, position 64, first -- the old copy of c[0]
 * must not be taken.
 */
static void test_compaction_gap(void **state)
{
    (void)state;
    kvt_key_t f[64], c[200];
    kvt_prefix_index_t *idx = make(0);
    for (uint32_t i = 0; i < 64; i++) {
        f[i] = rand_key(7000000 + i);
        assert_int_equal(kvt_prefix_index_put(idx, f[i], 0, i), KVT_OK);
    }
    for (uint32_t i = 0; i < 200; i++) {
        c[i] = rand_key(8000000 + i);
        assert_int_equal(kvt_prefix_index_put(idx, c[i], 1, 64 + i), KVT_OK);
    }
    prefix_index_stats_t ps;
    for (uint32_t i = 0; i < 64; i++) {
        assert_int_equal(kvt_prefix_index_remove(idx, f[i]), KVT_OK);
        prefix_index_stats(idx, &ps);
        assert_int_equal(ps.compacting, i == 63);
    }
    assert_int_equal(ps.moves, 0); /* started, no step taken yet */
    kvt_key_t z = rand_key(9000000); /* a new key: its put takes the first step */
    assert_int_equal(kvt_prefix_index_put(idx, z, 2, 5), KVT_OK);
    prefix_index_stats(idx, &ps);
    assert_int_equal(ps.moves, PI_STEP_MOVES); /* c[0..63] */
    assert_true(ps.compacting);
    assert_int_equal(kvt_prefix_index_put(idx, c[0], 9, 999), KVT_OK);
    prefix_index_stats(idx, &ps);
    assert_int_equal(ps.moves, PI_STEP_MOVES); /* an update takes no step */
    kvt_key_t pair[2] = {c[63], c[0]};
    uint8_t tiers[2];
    uint32_t slots[2];
    for (size_t m = 0; m < WALKS_SINGLE; m++) {
        assert_int_equal(walks[m](idx, pair, 2, tiers, slots), 2);
        assert_int_equal(slots[0], 64 + 63);
        assert_int_equal(slots[1], 999);
        assert_int_equal(tiers[1], 9);
        assert_int_equal(walks[m](idx, c, 200, NULL, NULL), 200);
    }
    kvt_prefix_index_destroy(idx);
}

/* Bytes per block stay under 64 while an index grows from empty through several sizes, and
 * while most of it is removed again in random order; and they are what the layout says: the
 * table and the written run at least. */
static void test_memory_per_block(void **state)
{
    (void)state;
    enum { N = 400000 };
    kvt_prefix_index_t *idx = make(0);
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(kvt_prefix_index_put(idx, rand_key(i), 0, (uint32_t)i), KVT_OK);
        if (i + 1 >= 2000 && (i % 1009 == 0 || i + 1 == N)) {
            size_t mem = kvt_prefix_index_memory(idx);
            prefix_index_stats_t ps;
            prefix_index_stats(idx, &ps);
            assert_true(mem >= ps.groups * 64 + ps.used * 24);
            assert_true(mem < (i + 1) * 64);
        }
    }
    /* remove 95% in a random order (a permutation: i -> i * odd mod 2^k over the keys) */
    size_t removed = 0;
    for (uint64_t j = 0; removed < N / 20 * 19; j++) {
        uint64_t i = (j * 0x9E3779B97F4A7C15ull) & ((1u << 19) - 1);
        if (i >= N) {
            continue;
        }
        assert_int_equal(kvt_prefix_index_remove(idx, rand_key(i)), KVT_OK);
        removed++;
        size_t live = N - removed;
        if (live >= 2000 && removed % 1013 == 0) {
            size_t mem = kvt_prefix_index_memory(idx);
            prefix_index_stats_t ps;
            prefix_index_stats(idx, &ps);
            assert_true(mem >= ps.groups * 64 + ps.used * 24);
            assert_true(mem < live * 64);
        }
    }
    assert_int_equal(kvt_prefix_index_size(idx), N / 20);
    assert_true(kvt_prefix_index_memory(idx) < (size_t)N / 20 * 64);
    kvt_prefix_index_destroy(idx);
}

/* match_sharded() refuses what it cannot walk: a shard count that is not a power of two, above
 * the maximum, or with a NULL index -- 0, outputs untouched. */
static void test_match_sharded_args(void **state)
{
    (void)state;
    kvt_prefix_index_t *x[3] = {make(0), make(0), make(0)};
    kvt_key_t k = rand_key(5);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(kvt_prefix_index_put(x[i], k, 1, 9), KVT_OK);
    }
    uint32_t slot = 77;
    const kvt_prefix_index_t *const *xs = (const kvt_prefix_index_t *const *)x;
    assert_int_equal(kvt_prefix_index_match_sharded(xs, 3, &k, 1, NULL, &slot), 0);
    assert_int_equal(kvt_prefix_index_match_sharded(xs, 0, &k, 1, NULL, &slot), 0);
    assert_int_equal(kvt_prefix_index_match_sharded(NULL, 2, &k, 1, NULL, &slot), 0);
    assert_int_equal(kvt_prefix_index_match_sharded(xs, 2, NULL, 1, NULL, &slot), 0);
    assert_int_equal(kvt_prefix_index_match_sharded(xs, 128, &k, 1, NULL, &slot), 0);
    const kvt_prefix_index_t *with_null[2] = {x[0], NULL};
    assert_int_equal(kvt_prefix_index_match_sharded(with_null, 2, &k, 1, NULL, &slot), 0);
    assert_int_equal(slot, 77);
    /* one shard, and two: the key is found where the rule puts it (both hold it here) */
    assert_int_equal(kvt_prefix_index_match_sharded(xs, 1, &k, 1, NULL, &slot), 1);
    assert_int_equal(slot, 9);
    slot = 77;
    assert_int_equal(kvt_prefix_index_match_sharded(xs, 2, &k, 1, NULL, &slot), 1);
    assert_int_equal(slot, 9);
    for (uint32_t i = 0; i < 3; i++) {
        kvt_prefix_index_destroy(x[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),      cmocka_unit_test(test_growth),
        cmocka_unit_test(test_collisions), cmocka_unit_test(test_backward_shift),
        cmocka_unit_test(test_match),      cmocka_unit_test(test_backward_shift_groups),
        cmocka_unit_test(test_match_reference), cmocka_unit_test(test_match_reference_collisions),
        cmocka_unit_test(test_match_sharded_args), cmocka_unit_test(test_runs_reference),
        cmocka_unit_test(test_runs_reference_crafted), cmocka_unit_test(test_runs_by_hand),
        cmocka_unit_test(test_runs_interleaved), cmocka_unit_test(test_compaction_incremental),
        cmocka_unit_test(test_compaction_gap),
        cmocka_unit_test(test_memory_per_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
