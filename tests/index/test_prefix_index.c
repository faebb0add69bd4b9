/* The prefix index: put/get/update/remove, growth, backward-shift deletion under crafted
 * collisions (checked against a brute-force reference), and prefix matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/prefix_index.h>
#include <stdlib.h>
#include <string.h>

#include "common/mix64.h"

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
    /* at most 50% load after growth: 2^19 buckets of 24 bytes for 200000 keys */
    assert_true(kvt_prefix_index_memory(idx) >= (size_t)N * 2 * 24);
    assert_true(kvt_prefix_index_memory(idx) <= (size_t)N * 4 * 24 + 64);
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

/* Crafted keys in a 64-bucket table (create(0) gives 64; at most 31 keys keep it there): homes
 * 60..63 wrap around the end of the table, and several keys share all 64 low bits. Random
 * puts and removes are checked after every step against a brute-force list. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),      cmocka_unit_test(test_growth),
        cmocka_unit_test(test_collisions), cmocka_unit_test(test_backward_shift),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
