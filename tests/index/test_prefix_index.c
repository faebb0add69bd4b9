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
    /* 64-byte groups of 3 entries, at most 3/4 full, doubling when a put would pass that:
     * 200000 keys need 200000 / 2.25 = 88889 groups, so 2^17 (load 0.51), 8 MiB plus the
     * handle; in general between 64 / 2.25 and 64 / 1.125 bytes a key once grown */
    size_t mem_n = kvt_prefix_index_memory(idx);
    assert_true(mem_n >= (size_t)131072 * 64 && mem_n < (size_t)131072 * 64 + 64);
    assert_true(mem_n * 9 >= (size_t)N * 64 * 4);
    assert_true(mem_n * 9 <= (size_t)N * 64 * 8 + 9 * 64);
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
    size_t mem = kvt_prefix_index_memory(idx);
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(kvt_prefix_index_put(idx, rand_key(i), 0, 0), KVT_OK);
    }
    assert_int_equal(kvt_prefix_index_memory(idx), mem);
    kvt_prefix_index_destroy(idx);
}

/* Crafted keys in a 16-group table (create(0) gives 16 groups of 3; at most 36 keys keep it
 * there): homes 12..15 (low bits 60..63 masked to 16 groups) wrap around the end of the table,
 * and several keys share all 64 low bits. Random puts and removes are checked after every step
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
    size_t mem = kvt_prefix_index_memory(idx);
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
    assert_int_equal(kvt_prefix_index_memory(idx), mem); /* never grew: collisions were real */
    kvt_prefix_index_destroy(idx);
}

/* A hand-worked case: a, b, c all home 5 (in 5, 6, 7), d home 6 (in 8). Removing a must shift
 * b to 5, c to 6 and d to 7; removing then b leaves c and d findable. */
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

/* Backward shift across groups, worked by hand (16 groups of 3; keys with lo = h + 16 m have
 * home h). a, b, c fill group 5; d (home 5) goes to 6; e, f (home 6) fill 6; g (home 6) goes to
 * 7. Removing a must move d back into 5 and then g into the place d left in 6: a lookup stops at
 * the first group that is not full, so a g left in 7 would no longer be found. */
static void test_backward_shift_groups(void **state)
{
    (void)state;
    kvt_prefix_index_t *idx = make(0);
    kvt_key_t a = {5, 1}, b = {5 + 16, 2}, c = {5 + 32, 3}, d = {5 + 48, 4};
    kvt_key_t e = {6, 5}, f = {6 + 16, 6}, g = {6 + 32, 7};
    kvt_key_t all[] = {a, b, c, d, e, f, g};
    for (uint32_t i = 0; i < 7; i++) {
        assert_int_equal(kvt_prefix_index_put(idx, all[i], (uint8_t)i, 10 + i), KVT_OK);
    }
    assert_int_equal(kvt_prefix_index_remove(idx, a), KVT_OK);
    assert_int_equal(kvt_prefix_index_get(idx, a, NULL, NULL), KVT_ERR_NOT_FOUND);
    for (uint32_t i = 1; i < 7; i++) {
        uint32_t s = 0;
        assert_int_equal(kvt_prefix_index_get(idx, all[i], NULL, &s), KVT_OK);
        assert_int_equal(s, 10 + i);
    }
    /* group 6 now holds e, f, g and 7 is empty: removing e leaves f and g findable */
    assert_int_equal(kvt_prefix_index_remove(idx, e), KVT_OK);
    uint32_t s = 0;
    assert_int_equal(kvt_prefix_index_get(idx, f, NULL, &s), KVT_OK);
    assert_int_equal(s, 15);
    assert_int_equal(kvt_prefix_index_get(idx, g, NULL, &s), KVT_OK);
    assert_int_equal(s, 16);
    assert_int_equal(kvt_prefix_index_get(idx, d, NULL, &s), KVT_OK);
    assert_int_equal(s, 13);
    /* d leaves: b, c stay in 5, which is no longer full */
    assert_int_equal(kvt_prefix_index_remove(idx, d), KVT_OK);
    assert_int_equal(kvt_prefix_index_get(idx, b, NULL, NULL), KVT_OK);
    assert_int_equal(kvt_prefix_index_get(idx, c, NULL, NULL), KVT_OK);
    assert_int_equal(kvt_prefix_index_get(idx, d, NULL, NULL), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_prefix_index_size(idx), 4);
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

static size_t sharded_portable(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                               uint8_t *tiers, uint32_t *slots)
{
    (void)idx;
    return prefix_index_match_sharded((const kvt_prefix_index_t *const *)shards, SHARDS, chain,
                                      n, tiers, slots, false);
}

static size_t sharded_avx512(const kvt_prefix_index_t *idx, const kvt_key_t *chain, size_t n,
                             uint8_t *tiers, uint32_t *slots)
{
    (void)idx;
    return prefix_index_match_sharded((const kvt_prefix_index_t *const *)shards, SHARDS, chain,
                                      n, tiers, slots, true);
}

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
    enum { NIMPL = 6 };
    match_fn impls[NIMPL] = {kvt_prefix_index_match, prefix_index_match_portable, NULL,
                             sharded_public, sharded_portable, NULL};
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (prefix_index_has_avx512()) {
        impls[2] = prefix_index_match_avx512;
        impls[5] = sharded_avx512;
    }
#endif
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
        for (size_t m = 0; m < NIMPL; m++) {
            if (impls[m] == NULL) {
                continue;
            }
            memset(tiers, 0xEE, MAXLEN + 1);
            memset(slots, 0xEE, (MAXLEN + 1) * sizeof(*slots));
            size_t got = impls[m](idx, chain, n, tiers, slots);
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
            assert_int_equal(impls[m](idx, chain, n, NULL, slots), want);
            assert_int_equal(impls[m](idx, chain, n, NULL, NULL), want);
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
        cmocka_unit_test(test_match_sharded_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
