/*
 * The memory tiers' key map (tier/mem_map.c) against a second implementation: a plain array of
 * every key ever used with its expected record (or "absent"), driven by a seeded random mix of
 * inserts and erases over keys whose low words crowd a few home buckets, so probe runs are long,
 * wrap around the table and are cut by backward-shift deletion. After every step the map must
 * find exactly the live keys with their own header and slot, and a scan of its buckets must list
 * each live key once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tier/mem_map.h"

#include <stdlib.h>
#include <string.h>

#define NKEYS 3000u

typedef struct ref {
    bool live;
    uint64_t off;
} ref_t;

static kvt_key_t key_of(uint32_t i)
{
    /* low words: 0..63 repeated, so 3000 keys share 64 homes below the table's size */
    kvt_key_t k = {.lo = (uint64_t)(i % 64) | ((uint64_t)i << 40), .hi = 0x1234u + i};
    if (i % 7 == 0) {
        k.lo = UINT64_MAX - (i % 5); /* homes at the table's end: runs wrap to bucket 0 */
    }
    return k;
}

static void meta_of(uint32_t i, kvt_block_meta_t *m)
{
    memset(m, 0, sizeof(*m));
    m->key = key_of(i);
    m->first_token = i;
    m->payload_bytes = 4096u + i;
    m->payload_checksum = 0xabcdef00u ^ i;
}

static void check_all(const mem_map_t *m, const ref_t *ref)
{
    size_t live = 0;
    for (uint32_t i = 0; i < NKEYS; i++) {
        const mem_rec_t *r = mem_map_find(m, key_of(i));
        if (!ref[i].live) {
            assert_null(r);
            continue;
        }
        live++;
        assert_non_null(r);
        assert_int_equal(r->meta.key.lo, key_of(i).lo);
        assert_int_equal(r->meta.key.hi, key_of(i).hi);
        assert_int_equal(r->meta.first_token, i);
        assert_int_equal(r->meta.payload_bytes, 4096u + i);
        assert_int_equal(r->off, ref[i].off);
    }
    assert_int_equal(m->count, live);
    /* the bucket scan lists every live key once (ntokens is unused here: a visit mark) */
    size_t seen = 0;
    for (size_t j = 0; j <= m->mask; j++) {
        mem_rec_t *r = mem_map_at(m, j);
        if (r != NULL) {
            assert_true(r->meta.first_token < NKEYS);
            assert_true(ref[r->meta.first_token].live);
            assert_int_equal(r->meta.ntokens, 0);
            r->meta.ntokens = 1;
            seen++;
        }
    }
    assert_int_equal(seen, live);
    for (size_t j = 0; j <= m->mask; j++) {
        mem_rec_t *r = mem_map_at(m, j);
        if (r != NULL) {
            r->meta.ntokens = 0;
        }
    }
    /* at most 3/4 of the buckets in use */
    assert_true(m->count * 4 <= (m->mask + 1) * 3);
}

static void test_against_reference(void **state)
{
    (void)state;
    static ref_t ref[NKEYS];
    memset(ref, 0, sizeof(ref));
    mem_map_t m;
    assert_int_equal(mem_map_init(&m), KVT_OK);
    srand(7);
    uint32_t live = 0, peak = 0;
    for (int step = 0; step < 20000; step++) {
        uint32_t i = (uint32_t)rand() % NKEYS;
        if (ref[i].live) {
            mem_map_erase(&m, key_of(i));
            ref[i].live = false;
            live--;
        } else {
            kvt_block_meta_t meta;
            meta_of(i, &meta);
            uint64_t off = (uint64_t)step * 4096u;
            assert_int_equal(mem_map_insert(&m, &meta, off), KVT_OK);
            ref[i].live = true;
            ref[i].off = off;
            peak = ++live > peak ? live : peak;
        }
        if (step % 997 == 0) {
            check_all(&m, ref);
        }
    }
    check_all(&m, ref);
    /* empty it: every record returns to the free list, and as many inserts as the peak reuse
       them (records come in chunks of 256: the peak needed ceil(peak / 256) of them) */
    uint32_t chunks = m.nchunks;
    assert_int_equal(chunks, (peak + 255) / 256);
    for (uint32_t i = 0; i < NKEYS; i++) {
        if (ref[i].live) {
            mem_map_erase(&m, key_of(i));
            ref[i].live = false;
        }
    }
    check_all(&m, ref);
    for (uint32_t i = 0; i < peak; i++) {
        kvt_block_meta_t meta;
        meta_of(i, &meta);
        assert_int_equal(mem_map_insert(&m, &meta, i), KVT_OK);
        ref[i].live = true;
        ref[i].off = i;
    }
    check_all(&m, ref);
    assert_int_equal(m.nchunks, chunks); /* no new chunk: freed records were reused */
    mem_map_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
