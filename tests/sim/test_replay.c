/*
 * Trace replay: every policy on small hand-built Mooncake traces whose results are derived by
 * hand in the comments, plus invariants and an independent LRU on a generated trace, and the
 * predictive policy's chain rule driven decision by decision through the policy interface.
 *
 * Conventions of the hand derivations: block_tokens = 4 (kvt_trace_load's block_tokens
 * argument), "r3 t=5 in=10 [1,2,3]" is a request with timestamp 5 ms, input_length 10 and
 * hash_ids 1,2,3; cache contents are listed most recent / head first where order matters. The
 * engine's rules (include/kvtier/replay.h): at arrival the longest resident prefix k is measured;
 * hit_tokens += input_length when k is the whole chain, else k x 4; block_hits += k. Then the
 * chain is walked head first: a resident block is a hit for the policy, any other block an
 * insertion, and an insertion into a full cache evicts exactly one block (possibly itself, the
 * Belady bypass), counted in evictions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "policy/policy.h"
#include "policy/predictor.h"

#include <kvtier/kvtier.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BT 4u /* block_tokens of every hand-built trace */

/* One Mooncake line: R(timestamp_ms, input_length, "id,id,...") */
#define R(ts, in, ids)                                                                             \
    "{\"timestamp\": " #ts ", \"input_length\": " #in ", \"output_length\": 3, \"hash_ids\": ["    \
    ids "]}\n"

static const char *const all_policies[] = {"lru", "lfu", "arc", "s3fifo", "belady", "belady-head"};
#define NPOLICIES (sizeof(all_policies) / sizeof(all_policies[0]))

/* Write text to a fresh /tmp file; *path receives its name. */
static void write_tmp(const char *text, char path[64])
{
    snprintf(path, 64, "/tmp/kvt_replay_XXXXXX.jsonl");
    int fd = mkstemps(path, 6);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

/* Load a Mooncake trace with block_tokens = bt from text. */
static kvt_trace_t *load_bt(const char *text, uint32_t bt)
{
    char path[64];
    kvt_trace_t *t = NULL;
    kvt_error_t err;

    memset(&err, 0, sizeof(err));
    write_tmp(text, path);
    kvt_status_t st = kvt_trace_load(path, KVT_TRACE_MOONCAKE, bt, &t, &err);
    unlink(path);
    if (st != KVT_OK) {
        print_error("kvt_trace_load: %s\n", err.message);
    }
    assert_int_equal(st, KVT_OK);
    assert_non_null(t);
    return t;
}

static kvt_trace_t *load(const char *text)
{
    return load_bt(text, BT);
}

static kvt_replay_result_t run(const kvt_trace_t *t, const char *policy, uint64_t cap_tokens)
{
    kvt_replay_opts_t o;
    kvt_replay_result_t r;
    kvt_error_t err;

    kvt_replay_opts_init(&o);
    o.policy = policy;
    o.capacity_tokens = cap_tokens;
    memset(&err, 0, sizeof(err));
    memset(&r, 0, sizeof(r));
    kvt_status_t st = kvt_replay_run(t, &o, &r, &err);
    if (st != KVT_OK) {
        print_error("kvt_replay_run(%s): %s\n", policy, err.message);
    }
    assert_int_equal(st, KVT_OK);
    return r;
}

/* The five counters a hand derivation predicts (a macro, so a failure names the caller's line). */
#define EXPECT(r, hit_tokens_, block_hits_, resident_refs_, insertions_, evictions_)               \
    do {                                                                                           \
        assert_int_equal((r).hit_tokens, (hit_tokens_));                                           \
        assert_int_equal((r).block_hits, (block_hits_));                                           \
        assert_int_equal((r).resident_refs, (resident_refs_));                                     \
        assert_int_equal((r).insertions, (insertions_));                                           \
        assert_int_equal((r).evictions, (evictions_));                                             \
    } while (0)

/*
 * Trace A, used by the hit-definition and capacity tests:
 *   r0 t=0 in=10 [1,2,3]   (blocks of 4, 4 and 2 tokens)
 *   r1 t=1 in=10 [1,2,3]   the same prompt again
 *   r2 t=2 in=12 [1,2,4]   shares the first two blocks
 *   r3 t=3 in=12 [5,2,3]   block 0 differs: a broken prefix, whatever is resident behind it
 * input_tokens = 44, block_refs = 12, 5 distinct blocks.
 */
static const char trace_a[] = R(0, 10, "1,2,3") R(1, 10, "1,2,3") R(2, 12, "1,2,4")
    R(3, 12, "5,2,3");

/*
 * LRU, capacity 27 tokens -> floor(27 / 4) = 6 blocks; the 5 distinct blocks all fit, so nothing
 * is ever evicted and "resident at arrival" and "resident when walked" agree.
 *   r0 [1,2,3]: k = 0. Insert 1, 2, 3 (ins 3).                          cache 3,2,1
 *   r1 [1,2,3]: all resident, k = 3 = whole chain -> hit_tokens += 10 (the partial last block
 *               counts its 2 tokens, not 4); block_hits += 3; resident_refs += 3.
 *   r2 [1,2,4]: 1, 2 resident, 4 not: k = 2 -> hit_tokens += 8; block_hits += 2;
 *               resident_refs += 2 (5); insert 4 (ins 4).                cache 4,2,1,3
 *   r3 [5,2,3]: 5 missing at position 0: k = 0, nothing counts as hit tokens, but 2 and 3 are
 *               resident -> resident_refs += 2 (7); insert 5 (ins 5).    cache 3,2,5,4,1
 * Totals: hit_tokens 18, block_hits 5, resident_refs 7, insertions 5, evictions 0.
 */
static void test_hit_definition(void **state)
{
    (void)state;
    kvt_trace_t *t = load(trace_a);
    kvt_replay_result_t r = run(t, "lru", 27);

    assert_string_equal(r.policy, "lru");
    assert_int_equal(r.capacity_tokens, 27);
    assert_int_equal(r.capacity_blocks, 6);
    assert_int_equal(r.requests, 4);
    assert_int_equal(r.input_tokens, 44);
    assert_int_equal(r.block_refs, 12);
    EXPECT(r, 18, 5, 7, 5, 0);
    assert_true(r.token_hit_rate == 18.0 / 44.0);
    assert_true(r.block_hit_rate == 5.0 / 12.0);
    kvt_trace_destroy(t);
}

/*
 * Capacity rounds down to whole blocks: 12 and 15 tokens are both 3 blocks, 11 is 2, 16 is 4,
 * 3 is 0. LRU on trace A:
 *
 * 3 blocks (12 and 15 tokens):
 *   r0 [1,2,3]: insert 1,2,3 (ins 3).                                   cache 3,2,1 (full)
 *   r1 [1,2,3]: whole chain -> +10 tokens, +3 block hits, +3 resident.  cache 3,2,1
 *   r2 [1,2,4]: k = 2 -> +8, +2; hits on 1, 2 (resident 5).             cache 2,1,3
 *               4 misses, full: evict the LRU 3 (ins 4, ev 1).          cache 4,2,1
 *   r3 [5,2,3]: k = 0. At arrival 2 is resident, 3 is not.
 *               5 misses: evict 1 (ins 5, ev 2).                        cache 5,4,2
 *               2 hits (resident 6).                                    cache 2,5,4
 *               3 misses: evict 4 (ins 6, ev 3).                        cache 3,2,5
 *   Totals: 18, 5, 6, 6, 3.
 *
 * 2 blocks (11 tokens):
 *   r0: 1 in; 2 in (full); 3 evicts 1 (ins 3, ev 1).                    cache 3,2
 *   r1 [1,2,3]: 1 missing, k = 0. 1 evicts 2, 2 evicts 3, 3 evicts 1 (ins 6, ev 4). cache 3,2
 *   r2 [1,2,4]: k = 0. 1 evicts 2, 2 evicts 3, 4 evicts 1 (ins 9, ev 7).            cache 4,2
 *   r3 [5,2,3]: k = 0. 5 evicts 2, 2 evicts 4, 3 evicts 5 (ins 12, ev 10).          cache 3,2
 *   hit_tokens 0, block_hits 0, insertions 12, evictions 10. (resident_refs is the subject of
 *   test_resident_refs_at_arrival; not asserted here.)
 *
 * 4 blocks (16 tokens):
 *   r0: insert 1,2,3 (ins 3).                                           cache 3,2,1
 *   r1: whole chain -> +10, +3.                                         cache 3,2,1
 *   r2 [1,2,4]: k = 2 -> +8, +2; 1, 2 hit; 4 inserted, not full (ins 4). cache 4,2,1,3
 *   r3 [5,2,3]: k = 0. 5 evicts 3 (ins 5, ev 1); 2 hits; 3 evicts 1 (ins 6, ev 2).
 *   hit_tokens 18, block_hits 5, insertions 6, evictions 2.
 */
static void test_capacity_rounding(void **state)
{
    (void)state;
    kvt_trace_t *t = load(trace_a);
    kvt_replay_result_t r;

    r = run(t, "lru", 12);
    assert_int_equal(r.capacity_blocks, 3);
    EXPECT(r, 18, 5, 6, 6, 3);
    r = run(t, "lru", 15);
    assert_int_equal(r.capacity_tokens, 15);
    assert_int_equal(r.capacity_blocks, 3);
    EXPECT(r, 18, 5, 6, 6, 3);

    r = run(t, "lru", 11);
    assert_int_equal(r.capacity_blocks, 2);
    assert_int_equal(r.hit_tokens, 0);
    assert_int_equal(r.block_hits, 0);
    assert_int_equal(r.insertions, 12);
    assert_int_equal(r.evictions, 10);

    r = run(t, "lru", 16);
    assert_int_equal(r.capacity_blocks, 4);
    assert_int_equal(r.hit_tokens, 18);
    assert_int_equal(r.block_hits, 5);
    assert_int_equal(r.insertions, 6);
    assert_int_equal(r.evictions, 2);
    kvt_trace_destroy(t);
}

/* Capacity 0 (and 3 tokens, less than a block): nothing is cached, for every registered policy. */
static void test_capacity_zero(void **state)
{
    (void)state;
    kvt_trace_t *t = load(trace_a);
    static const uint64_t caps[] = {0, 3};

    const char *const *names = kvt_replay_policies();

    for (size_t i = 0; names[i] != NULL; i++) {
        for (size_t c = 0; c < 2; c++) {
            kvt_replay_result_t r = run(t, names[i], caps[c]);
            assert_string_equal(r.policy, names[i]);
            assert_int_equal(r.capacity_tokens, caps[c]);
            assert_int_equal(r.capacity_blocks, 0);
            assert_int_equal(r.requests, 4);
            assert_int_equal(r.input_tokens, 44);
            assert_int_equal(r.block_refs, 12);
            EXPECT(r, 0, 0, 0, 0, 0);
            assert_true(r.token_hit_rate == 0.0);
        }
    }
    kvt_trace_destroy(t);
}

/*
 * resident_refs counts "references resident at arrival, prefix or not" (replay.h). The LRU
 * prefix cascade: a chain whose head was evicted while its tail stayed.
 *   r0 t=0 in=12 [1,2,3]
 *   r1 t=1 in=4  [4]
 *   r2 t=2 in=12 [1,2,3]
 * LRU, 3 blocks (12 tokens):
 *   r0: insert 1,2,3 (ins 3).                                  cache 3,2,1
 *   r1: 4 misses, full: evict 1 (ins 4, ev 1).                 cache 4,3,2
 *   r2: at arrival 2, 3 (and 4) are resident, 1 is not: k = 0, hit_tokens += 0, and two of the
 *       chain's references (2, 3) are resident at arrival -> resident_refs = 2.
 *       Walk: 1 misses, evicts 2 (ins 5, ev 2)                 cache 1,4,3
 *             2 misses, evicts 3 (ins 6, ev 3)                 cache 2,1,4
 *             3 misses, evicts 4 (ins 7, ev 4)                 cache 3,2,1
 * Totals: hit_tokens 0, block_hits 0, insertions 7, evictions 4, resident_refs 2 (by the
 * documented definition; a count of hit() calls during the walk would give 0).
 */
static void test_resident_refs_at_arrival(void **state)
{
    (void)state;
    kvt_trace_t *t = load(R(0, 12, "1,2,3") R(1, 4, "4") R(2, 12, "1,2,3"));
    kvt_replay_result_t r = run(t, "lru", 12);

    kvt_trace_destroy(t);
    assert_int_equal(r.hit_tokens, 0);
    assert_int_equal(r.block_hits, 0);
    assert_int_equal(r.insertions, 7);
    assert_int_equal(r.evictions, 4);
    assert_int_equal(r.resident_refs, 2);
}

/*
 * Requests out of timestamp order in the file are replayed in timestamp order, ties in file
 * order. File:
 *   L1 t=5 in=3 [1]
 *   L2 t=1 in=4 [2]
 *   L3 t=5 in=4 [2]
 *   L4 t=9 in=2 [2]
 *   L5 t=3 in=2 [1]
 * Arrival order: L2 (t1), L5 (t3), L1 (t5), L3 (t5, after L1: file order), L4 (t9).
 * LRU, 1 block (4 tokens):
 *   L2 [2]: insert 2 (ins 1).                         cache 2
 *   L5 [1]: 1 evicts 2 (ins 2, ev 1).                 cache 1
 *   L1 [1]: whole chain -> hit_tokens += 3, block hit, resident ref.
 *   L3 [2]: 2 evicts 1 (ins 3, ev 2).                 cache 2
 *   L4 [2]: whole chain -> hit_tokens += 2 (5), block hits 2, resident refs 2.
 * Totals: 5, 2, 2, 3, 2. (File order would give 6; ties reversed would give 0.)
 */
static void test_arrival_order(void **state)
{
    (void)state;
    kvt_trace_t *t = load(R(5, 3, "1") R(1, 4, "2") R(5, 4, "2") R(9, 2, "2") R(3, 2, "1"));
    const kvt_trace_request_t *q = kvt_trace_requests(t);
    const uint32_t *refs = kvt_trace_refs(t);
    static const uint64_t want_t[] = {1000, 3000, 5000, 5000, 9000};
    static const uint32_t want_in[] = {4, 2, 3, 4, 2};
    /* dense ids in first-seen (file) order: hash id 1 -> 0, 2 -> 1 */
    static const uint32_t want_block[] = {1, 0, 0, 1, 1};

    assert_int_equal(kvt_trace_info(t)->requests, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(q[i].t_us, want_t[i]);
        assert_int_equal(q[i].input_tokens, want_in[i]);
        assert_int_equal(q[i].nblocks, 1);
        assert_int_equal(refs[q[i].first_ref], want_block[i]);
    }
    assert_int_equal(kvt_trace_info(t)->duration_us, 9000);

    kvt_replay_result_t r = run(t, "lru", 4);
    assert_int_equal(r.input_tokens, 15);
    EXPECT(r, 5, 2, 2, 3, 2);
    kvt_trace_destroy(t);
}

/*
 * Replay the first k lines for k = 1..n, so the growth of hit_tokens is request k's own hit
 * (exact for online policies: a prefix of the trace replays identically): asserts which requests
 * hit, not only how many. Returns the result of the whole trace.
 */
static kvt_replay_result_t run_per_request(const char *const *lines, size_t n, const char *policy,
                                           uint64_t cap_tokens, const uint64_t *hits)
{
    char text[4096];
    size_t len = 0;
    uint64_t prev = 0;
    kvt_replay_result_t r;

    memset(&r, 0, sizeof(r));
    for (size_t k = 0; k < n; k++) {
        size_t l = strlen(lines[k]);
        assert_true(len + l < sizeof(text));
        memcpy(text + len, lines[k], l + 1);
        len += l;
        kvt_trace_t *t = load(text);
        r = run(t, policy, cap_tokens);
        kvt_trace_destroy(t);
        if (r.hit_tokens - prev != hits[k]) {
            print_error("%s: request r%zu hit %llu tokens, wanted %llu\n", policy, k,
                        (unsigned long long)(r.hit_tokens - prev), (unsigned long long)hits[k]);
        }
        assert_int_equal(r.hit_tokens - prev, hits[k]);
        prev = r.hit_tokens;
    }
    return r;
}

/*
 * LFU: evict the smallest count; equal counts go to the least recently accessed. Counts start at 1
 * on admission and are forgotten on eviction. Single-block requests, 3 blocks (12 tokens);
 * (count, last access) per resident block:
 *   r0  [1] insert                 1:(1,r0)                               ins 1
 *   r1  [2] insert                 1:(1,r0) 2:(1,r1)                      ins 2
 *   r2  [2] hit                    2:(2,r2)                               hit
 *   r3  [3] insert (now full)      1:(1,r0) 2:(2,r2) 3:(1,r3)             ins 3
 *   r4  [1] hit                    1:(2,r4)                               hit
 *   r5  [4] full: 1:(2,r4) 2:(2,r2) 3:(1,r3) -> evict 3 (smallest count; LRU would evict 2)
 *                                  4:(1,r5)                               ins 4 ev 1
 *   r6  [5] full: 1:(2,r4) 2:(2,r2) 4:(1,r5) -> evict 4;  5:(1,r6)        ins 5 ev 2
 *   r7  [5] hit                    5:(2,r7)                               hit
 *   r8  [6] full: 1:(2,r4) 2:(2,r2) 5:(2,r7): all count 2, least recent is 2 -> evict 2
 *           (not the lowest id 1, not the newest 5);  6:(1,r8)            ins 6 ev 3
 *   r9  [1] hit                    1:(3,r9)                               hit
 *   r10 [2] full: 1:(3,r9) 5:(2,r7) 6:(1,r8) -> evict 6; 2 re-enters with count 1: 2:(1,r10)
 *                                                                         ins 7 ev 4
 *   r11 [7] full: 1:(3) 5:(2) 2:(1) -> evict 2 (its old count is forgotten); 7:(1,r11)
 *                                                                         ins 8 ev 5
 *   r12 [5] hit                                                           hit
 * Hits r2, r4, r7, r9, r12 (input 4 each): hit_tokens 20, block_hits 5, resident_refs 5,
 * insertions 8, evictions 5.
 */
static void test_lfu(void **state)
{
    (void)state;
    static const char *const lines[] = {
        R(0, 4, "1"), R(1, 4, "2"), R(2, 4, "2"),  R(3, 4, "3"),   R(4, 4, "1"),
        R(5, 4, "4"), R(6, 4, "5"), R(7, 4, "5"),  R(8, 4, "6"),   R(9, 4, "1"),
        R(10, 4, "2"), R(11, 4, "7"), R(12, 4, "5"),
    };
    static const uint64_t hits[] = {0, 0, 4, 0, 4, 0, 0, 4, 0, 4, 0, 0, 4};
    kvt_replay_result_t r = run_per_request(lines, 13, "lfu", 12, hits);
    assert_int_equal(r.capacity_blocks, 3);
    EXPECT(r, 20, 5, 5, 8, 5);
}

/*
 * ARC, c = 2 blocks (8 tokens), p = 0 at start. Single-block requests, in=4. Lists head = MRU.
 *   r0  [1]: case IV, |T1|+|B1| = 0 < c, not full.        T1=[1]                       ins 1
 *   r1  [1]: hit -> T2.                                    T2=[1]                       hit
 *   r2  [2]: case IV, not full.                            T1=[2] T2=[1]                ins 2
 *   r3  [3]: case IV, |T1|+|B1| = 1 < c, total 2 < 2c; full: REPLACE: |T1| = 1 > p = 0 ->
 *            T1's LRU 2 goes to B1.                        T1=[3] T2=[1] B1=[2]         ins 3 ev 1
 *   r4  [2]: ghost hit in B1 (case II): p = min(p + max(|B2|/|B1|, 1), c) = 1; REPLACE:
 *            |T1| = 1 is not > p = 1 -> T2's LRU 1 into B2; 2 goes to T2.
 *                                         T1=[3] T2=[2] B2=[1], p = 1           ins 4 ev 2
 *            (with p still 0, 3 would have been evicted: r5 would miss)
 *   r5  [3]: hit -> T2.                                    T1=[] T2=[3,2]               hit
 *   r6  [4]: case IV, |T1|+|B1| = 0, total 3 < 2c; REPLACE: T1 empty -> T2's LRU 2 into B2.
 *                                         T1=[4] T2=[3] B2=[2,1]                ins 5 ev 3
 *            (had r4 put 2 in T1 instead of T2, T2 would hold only 3 and lose it here)
 *   r7  [3]: hit.                                          T2=[3]                       hit
 *   r8  [1]: ghost hit in B2 (case III): p = max(p - max(|B1|/|B2|, 1), 0) = 0; REPLACE:
 *            |T1| = 1 > p = 0 -> T1's LRU 4 into B1; 1 to T2.
 *                                         T2=[1,3] B1=[4] B2=[2], p = 0         ins 6 ev 4
 *   r9  [4]: ghost hit in B1: p = min(0 + max(1/1, 1), 2) = 1; REPLACE: T1 empty -> T2's LRU 3
 *            into B2; 4 to T2.            T2=[4,1] B2=[3,2], p = 1              ins 7 ev 5
 *   r10 [3]: ghost hit in B2: p = max(1 - max(0/2, 1), 0) = 0; REPLACE: T2's LRU 1 into B2.
 *                                         T2=[3,4] B2=[1,2]                     ins 8 ev 6
 *   r11 [4]: hit.                                          T2=[4,3]                     hit
 *   r12 [5]: case IV, |T1|+|B1| = 0 < c but total |T2|+|B2| = 4 = 2c: forget B2's LRU 2;
 *            REPLACE: T1 empty -> T2's LRU 3 into B2.      T1=[5] T2=[4] B2=[3,1]       ins 9 ev 7
 *   r13 [6]: case IV, |T1|+|B1| = 1, total 4: forget B2's LRU 1; REPLACE: |T1| = 1 > p = 0 ->
 *            T1's LRU 5 into B1.                           T1=[6] T2=[4] B1=[5] B2=[3]  ins 10 ev 8
 *            (had p not come back down from 1 at r8 and r10, T2's 4 would go instead)
 *   r14 [4]: hit.                                                                       hit
 * Hits r1, r5, r7, r11, r14: hit_tokens 20, block_hits 5, resident_refs 5, insertions 10,
 * evictions 8. (LRU would hit r1, r4, r5, r7 and r11 only.)
 */
static void test_arc(void **state)
{
    (void)state;
    static const char *const lines[] = {
        R(0, 4, "1"), R(1, 4, "1"), R(2, 4, "2"), R(3, 4, "3"), R(4, 4, "2"),  R(5, 4, "3"),
        R(6, 4, "4"), R(7, 4, "3"), R(8, 4, "1"), R(9, 4, "4"), R(10, 4, "3"), R(11, 4, "4"),
        R(12, 4, "5"), R(13, 4, "6"), R(14, 4, "4"),
    };
    static const uint64_t hits[] = {0, 4, 0, 0, 0, 4, 0, 4, 0, 0, 0, 4, 0, 0, 4};
    kvt_replay_result_t r = run_per_request(lines, 15, "arc", 8, hits);
    assert_int_equal(r.capacity_blocks, 2);
    EXPECT(r, 20, 5, 5, 10, 8);
}

/*
 * S3-FIFO, 3 blocks (12 tokens): S target max(3/10, 1) = 1, M target 3 - 1 = 2, ghost queue G
 * holds up to 2 ids. Queues head first; f = hit counter (reset to 0 on admission).
 *   r0  [1] insert to S                                S=[1]                        ins 1
 *   r1  [2] insert                                     S=[2,1]                      ins 2
 *   r2  [3] insert (now full)                          S=[3,2,1]                    ins 3
 *   r3  [1] hit f1=1;  r4 [1] hit f1=2;  r5 [2] hit f2=1                            hits
 *   r6  [4] full, |S| = 3 >= 1: evict from S: tail 1 has f=2 > 1 -> promoted to M (f1=0),
 *           M=[1] not over target; next tail 2 has f=1 -> to G, evicted.
 *                                                      S=[4,3] M=[1] G=[2]          ins 4 ev 1
 *   r7  [2] ghost: evict from S: tail 3 (f=0) -> G=[3,2]; 2 re-admitted into M (f2=0).
 *                                                      S=[4] M=[2,1] G=[3]          ins 5 ev 2
 *   r8  [1] hit f1=1                                                                hit
 *   r9  [5] evict S tail 4 -> G=[4,3].                 S=[5] M=[2,1]                ins 6 ev 3
 *   r10 [2] hit f2=1                                                                hit
 *   r11 [6] evict S tail 5 -> G=[5,4,3], over 2: 3 forgotten. S=[6] G=[5,4]         ins 7 ev 4
 *   r12 [5] ghost: evict S tail 6 -> G=[6,5,4] -> 4 forgotten; 5 into M.
 *                                                      S=[] M=[5,2,1] G=[6]         ins 8 ev 5
 *   r13 [7] |S| = 0 < 1 and M not empty: evict from M: tail 1 (f=1) -> f=0, back to head;
 *           tail 2 (f=1) -> f=0, back; tail 5 (f=0) evicted (not remembered in G).
 *                                                      S=[7] M=[2,1] G=[6]          ins 9 ev 6
 *   r14 [1] hit;  r15 [2] hit                                                       hits
 *   r16 [5] not a ghost: evict S tail 7 -> G=[7,6]; 5 into S.                       ins 10 ev 7
 *   r17 [3] forgotten at r11, so not a ghost: evict S tail 5 -> G=[5,7,6] -> 6 forgotten;
 *           3 into S.                                  S=[3] M=[2,1] G=[5,7]        ins 11 ev 8
 *   r18 [3] hit f3=1                                                                hit
 *   r19 [8] evict S tail 3 (f=1, not promoted) -> G=[3,5,7] -> 7 forgotten.
 *                                                      S=[8] M=[2,1] G=[3,5]        ins 12 ev 9
 *   r20 [3] ghost: evict S tail 8 -> G=[8,3,5] -> 5 forgotten; 3 into M.
 *                                                      S=[] M=[3,2,1] G=[8]         ins 13 ev 10
 *   (a ghost queue longer than M's target would have sent 3 to M at r17; then r19 would
 *   evict from M, where 3 has a second chance, and r20 would hit)
 * Hits r3, r4, r5, r8, r10, r14, r15, r18: hit_tokens 32, block_hits 8, resident_refs 8,
 * insertions 13, evictions 10.
 */
static void test_s3fifo(void **state)
{
    (void)state;
    static const char *const lines[] = {
        R(0, 4, "1"),  R(1, 4, "2"),  R(2, 4, "3"),  R(3, 4, "1"),  R(4, 4, "1"),  R(5, 4, "2"),
        R(6, 4, "4"),  R(7, 4, "2"),  R(8, 4, "1"),  R(9, 4, "5"),  R(10, 4, "2"), R(11, 4, "6"),
        R(12, 4, "5"), R(13, 4, "7"), R(14, 4, "1"), R(15, 4, "2"), R(16, 4, "5"), R(17, 4, "3"),
        R(18, 4, "3"), R(19, 4, "8"), R(20, 4, "3"),
    };
    static const uint64_t hits[] = {0, 0, 0, 4, 4, 4, 0, 0, 4, 0, 4, 0, 0, 0, 4, 4, 0, 0, 4, 0, 0};
    kvt_replay_result_t r = run_per_request(lines, 21, "s3fifo", 12, hits);
    assert_int_equal(r.capacity_blocks, 3);
    EXPECT(r, 32, 8, 8, 13, 10);
}

/*
 * Belady tail-first vs head-first: two blocks next used by the same request. 2 blocks (8 tokens).
 *   r0 t=0 in=8 [1,2]
 *   r1 t=1 in=4 [3]
 *   r2 t=2 in=4 [3]
 *   r3 t=3 in=8 [1,2]
 * r0 inserts 1 and 2 (next use: both r3, positions 0 and 1). r1: 3 misses into a full cache;
 * 3 is next used by r2, earlier than r3, so the victim is one of 1, 2:
 *   belady (tail first) evicts 2 (deeper in r3's chain).      cache {1,3}   ins 3 ev 1
 *     r2: 3 hits, whole chain: +4 tokens, block hit, resident ref.
 *     r3: 1 resident, 2 not: k = 1 -> +4 tokens; 1 hits (resident 2); 2 misses into a full
 *         cache where no block is used again: one is evicted (ins 4, ev 2).
 *     Totals: hit_tokens 8, block_hits 2, resident_refs 2, insertions 4, evictions 2.
 *   belady-head evicts 1 (position 0).                        cache {2,3}   ins 3 ev 1
 *     r2: +4 tokens, block hit, resident ref.
 *     r3: 1 missing: k = 0 -> +0; 1 misses: the victim is one never used again (3 or 1
 *         itself), never 2, which r3 uses next (ins 4, ev 2); 2 hits (resident 2).
 *     Totals: hit_tokens 4, block_hits 1, resident_refs 2, insertions 4, evictions 2.
 */
static void test_belady_tail_vs_head(void **state)
{
    (void)state;
    kvt_trace_t *t = load(R(0, 8, "1,2") R(1, 4, "3") R(2, 4, "3") R(3, 8, "1,2"));
    kvt_replay_result_t r = run(t, "belady", 8);
    assert_string_equal(r.policy, "belady");
    EXPECT(r, 8, 2, 2, 4, 2);
    r = run(t, "belady-head", 8);
    assert_string_equal(r.policy, "belady-head");
    EXPECT(r, 4, 1, 2, 4, 2);
    kvt_trace_destroy(t);
}

/*
 * Belady bypass: the incoming block is the one used farthest in the future (here never), so it
 * is evicted on admission -- counted as an insertion and an eviction -- and the cache keeps what
 * the next request needs.
 * Trace 1, 2 blocks (8 tokens):
 *   r0 t=0 in=8 [1,2]: insert 1, 2 (ins 2).
 *   r1 t=1 in=7 [3,4]: 3 (never used again) misses into a full cache whose blocks are next used
 *                      by r2: 3 bypasses (ins 3, ev 1); so does 4 (ins 4, ev 2).
 *   r2 t=2 in=8 [1,2]: whole chain resident: +8 tokens, 2 block hits, 2 resident refs.
 *   belady and belady-head: 8, 2, 2, 4, 2. (LRU: r1 evicts 1 and 2, r2 then misses both, and
 *   its insertions evict 3 and 4: 0, 0, 0, 6, 4.)
 * Trace 2, 1 block (4 tokens): [1], [2], [1] (in=4):
 *   r1: 2 bypasses (ins 2, ev 1); r2: 1 hits: 4, 1, 1, 2, 1. (LRU: 0, 0, 0, 3, 2.)
 */
static void test_belady_bypass(void **state)
{
    (void)state;
    kvt_trace_t *t = load(R(0, 8, "1,2") R(1, 7, "3,4") R(2, 8, "1,2"));
    kvt_replay_result_t r = run(t, "belady", 8);
    EXPECT(r, 8, 2, 2, 4, 2);
    r = run(t, "belady-head", 8);
    EXPECT(r, 8, 2, 2, 4, 2);
    r = run(t, "lru", 8);
    EXPECT(r, 0, 0, 0, 6, 4);
    kvt_trace_destroy(t);

    t = load(R(0, 4, "1") R(1, 4, "2") R(2, 4, "1"));
    r = run(t, "belady", 4);
    EXPECT(r, 4, 1, 1, 2, 1);
    r = run(t, "belady-head", 4);
    EXPECT(r, 4, 1, 1, 2, 1);
    r = run(t, "lru", 4);
    EXPECT(r, 0, 0, 0, 3, 2);
    kvt_trace_destroy(t);
}

static void test_policy_names(void **state)
{
    (void)state;
    kvt_trace_t *t = load(trace_a);
    const char *const *names = kvt_replay_policies();
    /* the six documented policies are all listed (others may follow) */
    for (size_t i = 0; i < NPOLICIES; i++) {
        size_t n = 0;
        while (names[n] != NULL && strcmp(names[n], all_policies[i]) != 0) {
            n++;
        }
        assert_non_null(names[n]);
    }

    kvt_replay_opts_t o;
    kvt_replay_result_t r;
    kvt_error_t err;
    kvt_replay_opts_init(&o);
    assert_string_equal(o.policy, "lru");
    o.policy = "fifo";
    o.capacity_tokens = 100;
    memset(&r, 0x5a, sizeof(r));
    memset(&err, 0, sizeof(err));
    assert_int_equal(kvt_replay_run(t, &o, &r, &err), KVT_ERR_NOT_FOUND);
    assert_int_equal(err.status, KVT_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "fifo"));
    assert_int_equal(r.requests, 0x5a5a5a5a5a5a5a5aull); /* written only on success */
    kvt_trace_destroy(t);
}

/* ---- a generated trace: invariants and an independent LRU ---- */

static uint32_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

#define GEN_REQUESTS 3000
#define GEN_SESSIONS 40
#define GEN_MAX_HIST 48

typedef struct gen {
    uint32_t nreq;
    uint32_t first[GEN_REQUESTS], len[GEN_REQUESTS], input[GEN_REQUESTS];
    uint64_t *ids; /* all chains, in file (= arrival) order */
    size_t nids, cap;
    uint64_t distinct;
} gen_t;

static void gen_push(gen_t *g, uint64_t id)
{
    if (g->nids == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4096;
        g->ids = realloc(g->ids, g->cap * sizeof(*g->ids));
        assert_non_null(g->ids);
    }
    g->ids[g->nids++] = id;
}

/*
 * A conversation-shaped trace that is prefix-closed (a block id always has the same ancestors):
 * sessions each start with one of 3 shared system blocks followed by their own history; a turn
 * re-sends the history (sometimes only a prefix of it: a branch or retry) and appends 0..3 new
 * blocks; a third of the requests end in a partial block whose id is fresh and never reused, so
 * every prefix hit is exactly 4 tokens per matched block. Timestamps are nondecreasing, with ties.
 */
static void gen_trace(gen_t *g, char path[64])
{
    uint64_t seed = 0x6b767469657221ull;
    uint64_t sys[GEN_SESSIONS], hist[GEN_SESSIONS][GEN_MAX_HIST + 4];
    uint32_t hlen[GEN_SESSIONS];
    uint64_t next_id = 100, ts = 0;

    memset(g, 0, sizeof(*g));
    for (int s = 0; s < GEN_SESSIONS; s++) {
        sys[s] = 1 + lcg(&seed) % 3;
        hlen[s] = 0;
    }
    write_tmp("", path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (uint32_t r = 0; r < GEN_REQUESTS; r++) {
        uint32_t s = lcg(&seed) % GEN_SESSIONS;
        if (hlen[s] > GEN_MAX_HIST - 4 || lcg(&seed) % 12 == 0) { /* a new conversation */
            sys[s] = 1 + lcg(&seed) % 3;
            hlen[s] = 0;
        } else if (lcg(&seed) % 5 == 0) { /* branch from a prefix of the history */
            hlen[s] = lcg(&seed) % (hlen[s] + 1);
        }
        uint32_t add = lcg(&seed) % 4;
        for (uint32_t k = 0; k < add; k++) {
            hist[s][hlen[s]++] = next_id++;
        }
        g->first[r] = (uint32_t)g->nids;
        gen_push(g, sys[s]);
        for (uint32_t k = 0; k < hlen[s]; k++) {
            gen_push(g, hist[s][k]);
        }
        uint32_t full = 1 + hlen[s];
        uint32_t input = full * 4;
        if (lcg(&seed) % 3 == 0) {
            gen_push(g, next_id++);
            input += 1 + lcg(&seed) % 3;
        }
        g->len[r] = (uint32_t)g->nids - g->first[r];
        g->input[r] = input;
        ts += lcg(&seed) % 3;
        fprintf(f, "{\"timestamp\": %llu, \"input_length\": %u, \"output_length\": %u, \"hash_ids\": [",
                (unsigned long long)ts, input, lcg(&seed) % 50);
        for (uint32_t k = 0; k < g->len[r]; k++) {
            fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)g->ids[g->first[r] + k]);
        }
        fprintf(f, "]}\n");
    }
    assert_int_equal(fclose(f), 0);
    g->nreq = GEN_REQUESTS;
    g->distinct = 3 + (next_id - 100); /* every system block is used: checked below */
}

typedef struct ref_result {
    uint64_t hit_tokens, block_hits, insertions, evictions, resident_end;
} ref_result_t;

/* The simplest correct LRU: the cache is an array of (id, last use), every lookup a linear scan. */
static ref_result_t ref_lru(const gen_t *g, uint64_t cap)
{
    ref_result_t out;
    uint64_t *id = malloc((cap ? cap : 1) * sizeof(*id));
    uint64_t *used = malloc((cap ? cap : 1) * sizeof(*used));
    uint64_t n = 0, clock = 0;

    memset(&out, 0, sizeof(out));
    assert_non_null(id);
    assert_non_null(used);
    for (uint32_t r = 0; r < g->nreq; r++) {
        const uint64_t *chain = g->ids + g->first[r];
        uint32_t k = 0;
        for (; k < g->len[r]; k++) { /* prefix resident at arrival */
            uint64_t j = 0;
            while (j < n && id[j] != chain[k]) {
                j++;
            }
            if (j == n) {
                break;
            }
        }
        out.block_hits += k;
        out.hit_tokens += k == g->len[r] ? g->input[r] : (uint64_t)k * 4;
        if (cap == 0) {
            continue;
        }
        for (uint32_t p = 0; p < g->len[r]; p++) {
            uint64_t j = 0;
            while (j < n && id[j] != chain[p]) {
                j++;
            }
            if (j < n) {
                used[j] = ++clock;
                continue;
            }
            out.insertions++;
            if (n < cap) {
                j = n++;
            } else {
                j = 0;
                for (uint64_t i = 1; i < n; i++) {
                    if (used[i] < used[j]) {
                        j = i;
                    }
                }
                out.evictions++;
            }
            id[j] = chain[p];
            used[j] = ++clock;
        }
    }
    out.resident_end = n;
    free(id);
    free(used);
    return out;
}

static void test_generated_trace(void **state)
{
    (void)state;
    static gen_t g;
    char path[64];
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    /* capacities in blocks; each is also run as blocks x 4 + 3 tokens (rounded down) */
    static const uint64_t caps[] = {0, 1, 2, 5, 16, 40, 64, 128, 200, 400, 700, 2000, 100000};
    const size_t ncaps = sizeof(caps) / sizeof(caps[0]);
    uint64_t prev_lru = 0, prev_belady = 0;
    const char *const *names = kvt_replay_policies();
    size_t np = 0, lru = SIZE_MAX, belady = SIZE_MAX;

    while (names[np] != NULL) {
        lru = strcmp(names[np], "lru") == 0 ? np : lru;
        belady = strcmp(names[np], "belady") == 0 ? np : belady;
        np++;
    }
    assert_true(np <= 16);
    assert_true(lru != SIZE_MAX && belady != SIZE_MAX);

    gen_trace(&g, path);
    memset(&err, 0, sizeof(err));
    assert_int_equal(kvt_trace_load(path, KVT_TRACE_AUTO, BT, &t, &err), KVT_OK);
    unlink(path);

    const kvt_trace_info_t *in = kvt_trace_info(t);
    uint64_t input_sum = 0;
    for (uint32_t r = 0; r < g.nreq; r++) {
        input_sum += g.input[r];
    }
    assert_int_equal(in->requests, GEN_REQUESTS);
    assert_int_equal(in->refs, g.nids);
    assert_int_equal(in->blocks, g.distinct);
    assert_int_equal(in->input_tokens, input_sum);

    for (size_t c = 0; c < ncaps; c++) {
        uint64_t cap = caps[c];
        uint64_t cap_tokens = cap * 4 + (c % 2 ? 3 : 0);
        kvt_replay_result_t res[16];

        for (size_t p = 0; p < np; p++) {
            res[p] = run(t, names[p], cap_tokens);
            kvt_replay_result_t *r = &res[p];
            assert_int_equal(r->capacity_blocks, cap);
            assert_int_equal(r->input_tokens, input_sum);
            assert_int_equal(r->block_refs, g.nids);
            /* partial blocks are never reused: every hit is 4 tokens a block */
            assert_int_equal(r->hit_tokens, 4 * r->block_hits);
            assert_true(r->block_hits <= r->resident_refs);
            assert_true(r->evictions <= r->insertions);
            /* what stays resident: min(capacity, distinct blocks) once every block was seen */
            assert_true(r->insertions - r->evictions <= r->capacity_blocks);
            assert_int_equal(r->insertions - r->evictions, cap < g.distinct ? cap : g.distinct);
            if (cap > 0) {
                /* every reference is resident at arrival or inserted (or both, when a block
                 * resident at arrival is evicted by its own chain before the walk reaches it) */
                assert_true(r->resident_refs + r->insertions >= g.nids);
            }
        }
        /*
         * Belady (tail first) is optimal on a prefix-closed trace: a block's next use is never
         * earlier than its ancestors', and ties evict the deeper block, so Belady's resident set
         * is prefix-closed, its prefix hits equal its resident accesses, and those are the most
         * any policy (whose prefix hits are resident accesses) can have.
         */
        for (size_t p = 0; p < np; p++) {
            if (res[p].hit_tokens > res[belady].hit_tokens) {
                print_error("capacity %llu: %s hit %llu tokens > belady %llu\n",
                            (unsigned long long)cap, names[p],
                            (unsigned long long)res[p].hit_tokens,
                            (unsigned long long)res[belady].hit_tokens);
            }
            assert_true(res[belady].hit_tokens >= res[p].hit_tokens);
        }
        /* more capacity never hurts LRU (a stack algorithm) or Belady */
        assert_true(res[lru].hit_tokens >= prev_lru);
        assert_true(res[belady].hit_tokens >= prev_belady);
        assert_true(res[lru].token_hit_rate >= (double)prev_lru / (double)input_sum);
        prev_lru = res[lru].hit_tokens;
        prev_belady = res[belady].hit_tokens;
        if (cap >= g.distinct) {
            /* nothing is ever evicted: every policy sees only compulsory misses */
            for (size_t p = 0; p < np; p++) {
                assert_int_equal(res[p].insertions, g.distinct);
                assert_int_equal(res[p].evictions, 0);
                assert_int_equal(res[p].hit_tokens, res[lru].hit_tokens);
            }
        }

        /* the independent LRU */
        ref_result_t want = ref_lru(&g, cap);
        assert_int_equal(res[lru].hit_tokens, want.hit_tokens);
        assert_int_equal(res[lru].block_hits, want.block_hits);
        assert_int_equal(res[lru].insertions, want.insertions);
        assert_int_equal(res[lru].evictions, want.evictions);
        assert_int_equal(res[lru].insertions - res[lru].evictions, want.resident_end);
    }
    /* the trace is not trivial: small caches miss, big ones hit */
    assert_true(prev_lru > 0);
    assert_true(ref_lru(&g, 2).hit_tokens < prev_lru);
    kvt_trace_destroy(t);
    free(g.ids);
}

/* ---- the predictive policy's chain rule, driven directly through the policy interface ---- */

/*
 * A minimal single-tier engine (the replay engine's rules: a resident block is a hit, any other
 * is admitted; into a full cache the policy names one victim, or the block itself: bypass), so a
 * test can see each decision. Block ids < MB; out[i] per position of a request: OUT_HIT,
 * OUT_ADMIT (not full), OUT_BYPASS, or the victim's id.
 *
 * Facts the hand derivations below use (src/policy/predictive.c, predictor.c):
 *  - the predictor learns a reuse when the next request begins; while no reuse has been learned,
 *    every gap survival is 1, so every value is p (S(e) - S(e + T)) / ... = 0: the weakest leaf
 *    is the one idle longest, ties to the lower class, and a newcomer (value 0, not below the
 *    weakest) is always admitted;
 *  - once every learned gap is 0 us, S(e) = 0 for e >= 2 us: a block idle 2 us or more is worth
 *    0, and a newcomer (idle 0) more than 0, so again the oldest leaf goes, ties to lower class;
 *  - a system-prompt block is "shared", and shared classes number below all own-content classes;
 *    among own classes of one transition and depth, a shorter chain (fewer blocks) numbers lower.
 */
#define MB         64u
#define OUT_HIT    1000u
#define OUT_ADMIT  1001u
#define OUT_BYPASS 1002u
#define SEC        1000000ull

typedef struct mini {
    void *ctx;
    uint32_t cap, n;
    bool res[MB];
    uint64_t req;
    kvt_transition_t trans; /* of every request until changed: new session */
} mini_t;

static void mini_open(mini_t *m, uint32_t cap)
{
    kvt_policy_cfg_t cfg = {.nblocks = MB, .capacity = cap, .block_tokens = BT};
    memset(m, 0, sizeof(*m));
    m->cap = cap;
    m->trans = KVT_TRANS_NEW_SESSION;
    assert_int_equal(kvt_policy_predictive.create(&cfg, &m->ctx), KVT_OK);
}

/* One access at position pos of a request of len blocks (system: a system-prompt block, else a
 * user block); returns OUT_HIT, OUT_ADMIT, OUT_BYPASS or the victim's id. */
static uint32_t mini_access(mini_t *m, uint32_t session, uint64_t t_us, uint32_t block,
                            uint32_t pos, uint32_t len, bool system)
{
    kvt_access_t a;
    memset(&a, 0, sizeof(a));
    a.block = block;
    a.pos = pos;
    a.chain_len = len;
    a.block_type = system ? KVT_BLOCK_SYSTEM : KVT_BLOCK_USER;
    a.transition = m->trans;
    a.session = session;
    a.req = m->req;
    a.t_us = t_us;
    a.next_use = KVT_NEVER;
    assert_true(block < MB);
    if (m->res[block]) {
        kvt_policy_predictive.hit(m->ctx, &a);
        return OUT_HIT;
    }
    bool full = m->n == m->cap;
    uint32_t v = kvt_policy_predictive.miss(m->ctx, &a, full);
    if (!full) {
        assert_int_equal(v, KVT_NO_BLOCK);
        m->res[block] = true;
        m->n++;
        return OUT_ADMIT;
    }
    if (v == block) {
        return OUT_BYPASS;
    }
    assert_true(v < MB && m->res[v]);
    m->res[v] = false;
    m->res[block] = true;
    return v;
}

/* One request of `session` at t_us over ids[0..len); bit i of sys_mask: position i is a
 * system-prompt block. out[i]: the outcome of position i. */
static void mini_request(mini_t *m, uint32_t session, uint64_t t_us, const uint32_t *ids,
                         uint32_t len, uint32_t sys_mask, uint32_t *out)
{
    for (uint32_t i = 0; i < len; i++) {
        out[i] = mini_access(m, session, t_us, ids[i], i, len, (sys_mask >> i) & 1);
    }
    m->req++;
}

/* A request's outcomes must be exactly want[0..len). */
#define REQ(m, session, t, sys, want, ...)                                                         \
    do {                                                                                           \
        static const uint32_t ids_[] = {__VA_ARGS__};                                              \
        uint32_t n_ = (uint32_t)(sizeof(ids_) / sizeof(ids_[0]));                                  \
        uint32_t out_[sizeof(ids_) / sizeof(ids_[0])];                                             \
        mini_request((m), (session), (t), ids_, n_, (sys), out_);                                  \
        for (uint32_t i_ = 0; i_ < n_; i_++) {                                                     \
            assert_int_equal(out_[i_], (want)[i_]);                                                \
        }                                                                                          \
    } while (0)

enum { A = 1, B, C, S, U, V, W, X, Y, Z, Z2, Z3, Z4 }; /* block ids */

/*
 * Only leaves compete. Capacity 2 blocks, nothing ever reused (all values 0):
 *   r0 s0 t=0 [S(system), U]: both admitted; U hangs below S, so S is inner, U a leaf.
 *   r1 s1 t=1s [V]: full. The only leaf is U (S is inner): victim U. Without
 *      the rule S would go: S and U tie on value (0) and idle time (both last used at t=0), and
 *      S's shared class numbers lower. S is a leaf again, at its place by idle time (t=0).
 *   r2 s2 t=2s [W]: full; leaves S (t=0) and V (t=1s): victim S.
 *   r3 s3 t=3s [A, B]: A evicts V (t=1s; W is t=2s); B evicts W (A, a leaf until B comes, is
 *      younger).
 *   r4 s4 t=4s [C]: leaves: B only (A is inner): victim B, then A is a leaf.
 *   r5 s5 t=5s [W]: leaves A (t=3s), C (t=4s): victim A. (W's reuse is learned only at r6.)
 */
static void test_predictive_leaves_only(void **state)
{
    (void)state;
    mini_t m;
    mini_open(&m, 2);
    REQ(&m, 0, 0, 1u, ((uint32_t[]){OUT_ADMIT, OUT_ADMIT}), S, U);
    REQ(&m, 1, 1 * SEC, 0, ((uint32_t[]){U}), V);
    REQ(&m, 2, 2 * SEC, 0, ((uint32_t[]){S}), W);
    REQ(&m, 3, 3 * SEC, 0, ((uint32_t[]){V, W}), A, B);
    REQ(&m, 4, 4 * SEC, 0, ((uint32_t[]){B}), C);
    REQ(&m, 5, 5 * SEC, 0, ((uint32_t[]){A}), W);
    kvt_policy_predictive.destroy(m.ctx);
}

/*
 * Orphans, bypass, and an orphan's return. Capacity 4 blocks; S is a system block, the rest
 * user blocks; r0..r4 all at t=0.
 *   r0 s0 [B, C]: admitted; B inner, C a leaf below it.
 *   r1 s1 [U], r2 s2 [S]: admitted; the cache is full: B (inner), C, U, S (leaves).
 *   r3 s3 [S, X, B, Y]:
 *      S: hit (a reuse, learned only when r4 begins: all values still 0).
 *      X: miss, full; its parent S is resident. Leaves C, U, S all idle since t=0: the lowest
 *         class goes, S's (shared). Victim S: X is admitted below a missing block, an orphan.
 *      B: hit, now below X (its parent is the block before it): its prefix is cut, so B is an
 *         orphan, and so is C, the whole block that hung below it.
 *      Y: miss, full, its parent B is an orphan: not admitted (bypass).
 *   Orphans, oldest first: X, B, C; U is the only leaf.
 *   r4 s0 [B] (position 0, t=0): B hit, now at the head of its chain: its prefix is whole. B comes
 *      back, and so does C below it: C returns to its class list (a leaf), B is inner.
 *   r5 s5 t=1s [Z]: r3's and r4's reuses are learned (gaps 0 us: every block idle >= 2 us is
 *      worth 0). Full: the orphan X goes first, whatever the values. Z is a leaf.
 *   r6 s6 t=2s [Z2]: no orphan left. Leaves U, C (both t=0) and Z (1s); B is inner. U and C tie
 *      on value and age; U's class is lower (a 1-block chain, C's had 2): victim U. (Had C stayed
 *      an orphan it would have gone here.)
 *   r7 s7 t=3s [Z3]: leaves C (t=0), Z, Z2: victim C; B is a leaf again.
 *   r8 s8 t=4s [Z4]: leaves B (t=0), Z, Z2, Z3: victim B.
 */
static void test_predictive_orphans(void **state)
{
    (void)state;
    mini_t m;
    mini_open(&m, 4);
    REQ(&m, 0, 0, 0, ((uint32_t[]){OUT_ADMIT, OUT_ADMIT}), B, C);
    REQ(&m, 1, 0, 0, ((uint32_t[]){OUT_ADMIT}), U);
    REQ(&m, 2, 0, 1u, ((uint32_t[]){OUT_ADMIT}), S);
    REQ(&m, 3, 0, 1u, ((uint32_t[]){OUT_HIT, S, OUT_HIT, OUT_BYPASS}), S, X, B, Y);
    REQ(&m, 0, 0, 0, ((uint32_t[]){OUT_HIT}), B);
    REQ(&m, 5, 1 * SEC, 0, ((uint32_t[]){X}), Z);
    REQ(&m, 6, 2 * SEC, 0, ((uint32_t[]){U}), Z2);
    REQ(&m, 7, 3 * SEC, 0, ((uint32_t[]){C}), Z3);
    REQ(&m, 8, 4 * SEC, 0, ((uint32_t[]){B}), Z4);
    kvt_policy_predictive.destroy(m.ctx);
}

/*
 * A sub-agent's chain left behind. A request's chain is a sub-agent's if its first own block was
 * made in a handoff request (or carries that mark); once its session has sent a request after
 * the chain's last access (the main chain resumed), its blocks are "left", and when the evidence
 * says a left block is more likely never reused than reused -- p_left = (s_left + 8 p_all) /
 * (s_left + f_left + 8) < 1/2, p_all = (1 + s) / (2 + s + f) over all outcomes -- the chain
 * becomes orphans when that session's request ends: it goes before every leaf.
 * Capacity 4 blocks; S a system block, the rest user blocks; times in us unless said.
 * Learned gaps are all below 4 us until r9 (1, 1, 2 us), so a block idle 1 s or more is worth 0
 * (S(e) = 0), and the oldest of such leaves goes.
 *   r0 s0 t=0 NEW [X]; r1 s1 t=1 NEW [S, M]: admitted; S inner, X and M leaves.
 *   r2 s1 t=2 HANDOFF [S, Q]: S hit; Q admitted: first own block, made in a handoff: marked.
 *   r3 s1 t=3 TOOL_RESULT [S, M]: hits; M is old and unmarked: the main chain resumes.
 *   r4 s2 t=1 s NEW [A]: r3 is past, Q is left (s1 sent r3 after Q's last access, t=2). Learned
 *      s = 3 (S at r2, r3; M at r3), f = 0: p_all = 4/5 = p_left (no left outcome): not dead, Q
 *      stays a leaf. Leaves X (t=0), M (3), Q (2), all worth 0: victim X, the oldest.
 *   r5 s3 t=1000 s NEW [B]: X, S, M, A and Q (left) expire: s = 3, f = 5, left f = 1. Leaves M,
 *      Q, A, all worth 0: victim Q (t=2).
 *   r6 s4 t=2000 s NEW [C]: B expires (f = 6). Leaves M (3), A (1 s), B: victim M; S is a leaf.
 *   r7 s4 t=2001 s HANDOFF [U]: U marked (made in a handoff). Leaves S (3), A, B, C: victim S.
 *   r8 s4 t=2002 s TOOL_RESULT [C, V]: C hit (the main chain); V: leaves A (1 s), B, U (idle
 *      1 s, worth 0) and C (idle 0: worth more than 0): victim A. C is inner above V.
 *   r9 s5 t=2003 s NEW [W]: r8 is past: U is left. Learned C's reuse (gap 2 s): s = 4, f = 6,
 *      left f = 1: p_all = 5/12, p_left = (8 * 5/12) / 9 = 10/27 < 1/2: U becomes an orphan and
 *      goes first. (Otherwise the leaves B (idle 1003 s, worth 0), U (2 s), V (1 s): B would go.)
 *   r10 s6 t=2004 s NEW [Y]: leaves B, V, W (C inner): B, worth 0, the oldest.
 * The gate alone, on a predictor: nothing learned, p_left = p_all = 1/2: not below. Three
 * reuses and one failure, a left one: p_all = 4/6, p_left = (8 * 4/6) / 9 = 0.59; four more
 * failures: p_all = 4/10, p_left = 3.2/9 = 0.36 < 1/2.
 */
static void test_predictive_left_chain(void **state)
{
    (void)state;
    enum { M = Z4 + 1, Q }; /* block ids beside the shared ones */
    mini_t m;
    mini_open(&m, 4);
    const uint64_t s1 = SEC;
    REQ(&m, 0, 0, 0, ((uint32_t[]){OUT_ADMIT}), X);
    REQ(&m, 1, 1, 1u, ((uint32_t[]){OUT_ADMIT, OUT_ADMIT}), S, M);
    m.trans = KVT_TRANS_HANDOFF;
    REQ(&m, 1, 2, 1u, ((uint32_t[]){OUT_HIT, OUT_ADMIT}), S, Q);
    m.trans = KVT_TRANS_TOOL_RESULT;
    REQ(&m, 1, 3, 1u, ((uint32_t[]){OUT_HIT, OUT_HIT}), S, M);
    m.trans = KVT_TRANS_NEW_SESSION;
    REQ(&m, 2, s1, 0, ((uint32_t[]){X}), A);
    REQ(&m, 3, 1000 * s1, 0, ((uint32_t[]){Q}), B);
    REQ(&m, 4, 2000 * s1, 0, ((uint32_t[]){M}), C);
    m.trans = KVT_TRANS_HANDOFF;
    REQ(&m, 4, 2001 * s1, 0, ((uint32_t[]){S}), U);
    m.trans = KVT_TRANS_TOOL_RESULT;
    REQ(&m, 4, 2002 * s1, 0, ((uint32_t[]){OUT_HIT, A}), C, V);
    m.trans = KVT_TRANS_NEW_SESSION;
    REQ(&m, 5, 2003 * s1, 0, ((uint32_t[]){U}), W);
    REQ(&m, 6, 2004 * s1, 0, ((uint32_t[]){B}), Y);
    kvt_policy_predictive.destroy(m.ctx);

    kvt_predictor_t *p = malloc(sizeof(*p));
    assert_non_null(p);
    kvt_pred_init(p, NULL);
    assert_false(kvt_pred_left_dead(p));
    uint16_t c = kvt_pred_class(false, KVT_TRANS_NEW_SESSION, false, 0, 1, 0, 1);
    for (int i = 0; i < 3; i++) {
        kvt_pred_reused(p, c, 1);
    }
    kvt_pred_expired(p, c);
    kvt_pred_left_outcome(p, false);
    assert_false(kvt_pred_left_dead(p)); /* p_all 4/6, p_left (8 * 2/3) / 9 = 0.593 */
    for (int i = 0; i < 4; i++) {
        kvt_pred_expired(p, c);
    }
    assert_true(kvt_pred_left_dead(p)); /* p_all 4/10, p_left 3.2/9 */
    free(p);
}

/*
 * Popularity: a block accessed 2+ times is classed by the sessions that used it (1-3, 4-7, 8+).
 * Capacity 2 blocks; every request is one user block (chain length 1) of a new session, so each
 * access is of class (kind, new session, depth 0, length <2, bucket); u0, u1, u2 (2+ accesses by
 * 1-3 sessions), u3 (by 4-7). Sessions s1..s15, one request each; times in seconds.
 *   r0-r3  t=0..3  [A] by s1..s4: admitted, then hits; A's classes own/u0 (one session so far),
 *          shared/u1, shared/u2, shared/u3 (4 sessions).
 *   r4-r9  t=4..9  [B] by s5..s10: admitted, then hits: own/u0, shared/u1, u2, u3, u3, u3.
 *   r10    t=10    [C] by s11: full (A, B). Learned: eight reuses, all 1 s apart. A is idle 7 s,
 *          beyond every gap: S = 0, value 0; B (idle 1 s) and the newcomer are worth more: A goes.
 *   r11    t=11    [C] by s12: hit, shared/u1.
 *   r12    t=12    [B] by s13: hit, shared/u3 (7 sessions).
 *   r13    t=12    [C] by s14: hit, shared/u2 (3 sessions, 2 earlier accesses).
 *      After r13 the predictor has learned (each reuse is learned when the next request begins):
 *      own/u0 3 successes (A, B, C); shared/u1 2 (A, B); shared/u2 2 (A, B); shared/u3 3 (B at
 *      r8, r9, r12); no failure. Shared base: Beta(1 + 7, 1) -> 8/9. So
 *        p(B) = p(shared/u3) = (3 + 8 * 8/9) / (3 + 8)  = 91/99,
 *        p(C) = p(shared/u2) = (2 + 8 * 8/9) / (2 + 8)  = 41/45.
 *   r14    t=12    [A] by s15: full (B, C). A is now shared/u3 (5 sessions). r13's reuse of C
 *      is learned: shared base 9/10, p(shared/u3) = (3 + 7.2) / 11, p(shared/u2) = (2 + 7.2) / 10
 *      = 0.92 < 10.2/11. B, C and A are all at idle 0 under one gap survival (the global one:
 *      fewer than 50 gaps) and one T, where the density p (S(0) - S(T)) / occupied, occupied =
 *      sum over 8 points of (1 - p + p S(x)), grows with p: C is the weakest, A is worth as much
 *      as B: admitted, victim C. Without the popularity split B and C would share class u2 (one
 *      list, B the older by placement) and B would go.
 */
static void test_predictive_popularity(void **state)
{
    (void)state;
    mini_t m;
    mini_open(&m, 2);
    static const uint32_t admit[] = {OUT_ADMIT}, hit[] = {OUT_HIT};
    uint32_t s = 1;
    for (uint64_t t = 0; t < 4; t++) {
        REQ(&m, s++, t * SEC, 0, t == 0 ? admit : hit, A);
    }
    for (uint64_t t = 4; t < 10; t++) {
        REQ(&m, s++, t * SEC, 0, t == 4 ? admit : hit, B);
    }
    REQ(&m, s++, 10 * SEC, 0, ((uint32_t[]){A}), C);
    REQ(&m, s++, 11 * SEC, 0, hit, C);
    REQ(&m, s++, 12 * SEC, 0, hit, B);
    REQ(&m, s++, 12 * SEC, 0, hit, C);
    assert_true(fabs(kvt_predictive_p_reuse(m.ctx, B) - 91.0 / 99) < 1e-12);
    assert_true(fabs(kvt_predictive_p_reuse(m.ctx, C) - 41.0 / 45) < 1e-12);
    REQ(&m, s++, 12 * SEC, 0, ((uint32_t[]){C}), A);
    assert_int_equal(s, 16);
    kvt_policy_predictive.destroy(m.ctx);
}

/*
 * The paper's 16 posteriors (block type x transition), reported by kvt_replay_run. Mooncake
 * trace, block_tokens 4, output_length 3 (docs/traces.md: position 0 of a request without a
 * parent is system, other new blocks user, or output when they start inside the parent's output):
 *   r0 t=0      in=8  [1,2]    new session s0, new_session: 1 system, 2 user.
 *   r1 t=1ms    in=12 [1,2,3]  shares block 2: s0, next_turn; 3 starts at token 8, inside r0's
 *                              output [8, 11): output. Reused: 1 (system, new_session), 2 (user,
 *                              new_session).
 *   r2 t=2ms    in=4  [1]      shares only position 0: new session s1, new_session. Reused: 1
 *                              (system, next_turn).
 *   r3 t=700s   in=4  [9]      new session: 9 system. Before it, everything idle 600 s expires:
 *                              2 (user, next_turn), 3 (output, next_turn), 1 (system, new_session).
 *   r4 t=700.001s [9]          block 9 reused (system, new_session): the request in progress,
 *                              reported although the predictor learns it only at a next request.
 * So (reused / expired): system x new_session 2 / 1 -> Beta(3, 2), mean 0.6; system x next_turn
 * 1 / 0 -> Beta(2, 1); user x new_session 1 / 0 -> Beta(2, 1); user x next_turn 0 / 1 and output
 * x next_turn 0 / 1 -> Beta(1, 2); the other 11 Beta(1, 1). Learned from every access, hit or
 * miss: the same at 1 block and at 25. LRU reports none, nor does predictive at capacity 0.
 */
static void test_predictive_paper_posteriors(void **state)
{
    (void)state;
    kvt_trace_t *t = load(R(0, 8, "1,2") R(1, 12, "1,2,3") R(2, 4, "1") R(700000, 4, "9")
                              R(700001, 4, "9"));
    double want_a[16], want_b[16];
    for (int i = 0; i < 16; i++) {
        want_a[i] = want_b[i] = 1;
    }
#define PC(type, trans) ((type) * 4 + (trans))
    want_a[PC(KVT_BLOCK_SYSTEM, KVT_TRANS_NEW_SESSION)] = 3;
    want_b[PC(KVT_BLOCK_SYSTEM, KVT_TRANS_NEW_SESSION)] = 2;
    want_a[PC(KVT_BLOCK_SYSTEM, KVT_TRANS_NEXT_TURN)] = 2;
    want_a[PC(KVT_BLOCK_USER, KVT_TRANS_NEW_SESSION)] = 2;
    want_b[PC(KVT_BLOCK_USER, KVT_TRANS_NEXT_TURN)] = 2;
    want_b[PC(KVT_BLOCK_OUTPUT, KVT_TRANS_NEXT_TURN)] = 2;
    for (int k = 0; k < 2; k++) {
        kvt_replay_result_t r = run(t, "predictive", k == 0 ? 4 : 100);
        assert_int_equal(r.nposteriors, 16);
        for (int i = 0; i < 16; i++) {
            const kvt_reuse_posterior_t *q = &r.posteriors[i];
            assert_int_equal(q->block_type, i / 4);
            assert_int_equal(q->transition, i % 4);
            assert_true(q->alpha == want_a[i] && q->beta == want_b[i]);
            assert_true(fabs(q->mean - want_a[i] / (want_a[i] + want_b[i])) < 1e-15);
        }
        assert_true(r.posteriors[PC(KVT_BLOCK_SYSTEM, KVT_TRANS_NEW_SESSION)].mean == 0.6);
    }
    assert_int_equal(run(t, "lru", 100).nposteriors, 0);
    assert_int_equal(run(t, "predictive", 0).nposteriors, 0);
    kvt_trace_destroy(t);

    /* Through the policy interface, the transitions the Mooncake trace has none of: block A, a
     * tool block, at t=0 after a tool call (tool_result), again at 1 s in a handoff, then idle:
     * expired before a request at 700 s. tool x tool_result 1 / 0, tool x handoff 0 / 1. */
    kvt_policy_cfg_t cfg = {.nblocks = MB, .capacity = 4, .block_tokens = BT};
    void *ctx;
    assert_int_equal(kvt_policy_predictive.create(&cfg, &ctx), KVT_OK);
    static const uint8_t trans[] = {KVT_TRANS_TOOL_RESULT, KVT_TRANS_HANDOFF, KVT_TRANS_NEXT_TURN};
    static const uint32_t blocks[] = {A, A, B};
    for (uint64_t i = 0; i < 3; i++) {
        kvt_access_t a = {.block = blocks[i], .chain_len = 1, .block_type = KVT_BLOCK_TOOL,
                          .transition = trans[i], .req = i,
                          .t_us = i < 2 ? i * SEC : 700 * SEC, .next_use = KVT_NEVER};
        if (i == 1) {
            kvt_policy_predictive.hit(ctx, &a);
        } else {
            assert_int_equal(kvt_policy_predictive.miss(ctx, &a, false), KVT_NO_BLOCK);
        }
    }
    double succ[16], fail[16];
    kvt_policy_predictive.paper_counts(ctx, succ, fail);
    for (int i = 0; i < 16; i++) {
        assert_true(succ[i] == (i == PC(KVT_BLOCK_TOOL, KVT_TRANS_TOOL_RESULT) ? 1 : 0));
        assert_true(fail[i] == (i == PC(KVT_BLOCK_TOOL, KVT_TRANS_HANDOFF) ? 1 : 0));
    }
#undef PC
    kvt_policy_predictive.destroy(ctx);
}

/* The class buckets: 0, 1, 2+ earlier accesses, 2+ split by sessions 1-3, 4-7, 8+. */
static void test_predictor_popularity_classes(void **state)
{
    (void)state;
    uint16_t base = kvt_pred_class(true, KVT_TRANS_NEXT_TURN, false, 2, 10, 0, 1);
    assert_int_equal(kvt_pred_class(true, KVT_TRANS_NEXT_TURN, false, 2, 10, 1, 2), base + 1);
    assert_int_equal(kvt_pred_class(true, KVT_TRANS_NEXT_TURN, false, 2, 10, 2, 1), base + 2);
    assert_int_equal(kvt_pred_class(true, KVT_TRANS_NEXT_TURN, false, 2, 10, 200, 3), base + 2);
    assert_int_equal(kvt_pred_class(true, KVT_TRANS_NEXT_TURN, false, 2, 10, 4, 4), base + 3);
    assert_int_equal(kvt_pred_class(true, KVT_TRANS_NEXT_TURN, false, 2, 10, 9, 7), base + 3);
    assert_int_equal(kvt_pred_class(true, KVT_TRANS_NEXT_TURN, false, 2, 10, 9, 8), base + 4);
    assert_int_equal(kvt_pred_class(true, KVT_TRANS_NEXT_TURN, false, 2, 10, 63, 63), base + 4);
    /* the next chain-length bucket (16..31 blocks) follows the five reuse buckets */
    assert_int_equal(kvt_pred_class(true, KVT_TRANS_NEXT_TURN, false, 2, 16, 0, 1), base + 5);
    assert_int_equal(KVT_PRED_CLASSES, 16 * 6 * 7 * 5);
}

/*
 * The rules against a second implementation, on a random prefix-closed trace: block i > 0 of a
 * 48-block forest hangs below a random earlier block (or starts a tree), and a request is the path
 * from a root to a random block. The test keeps its own residency and tree and checks every
 * decision: (1) into a full cache, a block whose prefix is not all resident is not admitted; (2)
 * while any resident block lacks part of its prefix (an orphan), the victim is one; (3) otherwise
 * the victim is a leaf: no resident block hangs below it. Capacities 3..12, values learned
 * along the way (gaps 0-20 s). The trace must exercise every rule.
 */
static bool mini_whole(const mini_t *m, const int *parent, uint32_t b)
{
    for (int x = (int)b; x >= 0; x = parent[x]) {
        if (!m->res[x]) {
            return false;
        }
    }
    return true;
}

static void test_predictive_chain_invariants(void **state)
{
    (void)state;
    enum { NB = 48, NREQ = 4000 };
    int parent[NB];
    uint64_t seed = 7;
    uint32_t bypasses = 0, orphan_victims = 0, leaf_victims = 0;

    for (uint32_t b = 0; b < NB; b++) {
        parent[b] = b == 0 || lcg(&seed) % 6 == 0 ? -1 : (int)(lcg(&seed) % b);
    }
    for (uint32_t cap = 3; cap <= 12; cap += 3) {
        mini_t m;
        uint64_t t = 0;
        mini_open(&m, cap);
        for (uint32_t r = 0; r < NREQ; r++) {
            uint32_t path[NB], len = 0;
            bool sys;
            for (int x = (int)(lcg(&seed) % NB); x >= 0; x = parent[x]) {
                path[len++] = (uint32_t)x;
            }
            for (uint32_t i = 0; i < len / 2; i++) { /* root first */
                uint32_t tmp = path[i];
                path[i] = path[len - 1 - i];
                path[len - 1 - i] = tmp;
            }
            sys = path[0] % 4 == 0; /* some roots are system prompts */
            t += (lcg(&seed) % 4 == 0 ? 0 : lcg(&seed) % (20 * SEC));
            uint32_t session = lcg(&seed) % 8;
            /* one access at a time, each decision checked against the residency before it */
            for (uint32_t i = 0; i < len; i++) {
                uint32_t b = path[i];
                bool full = m.n == m.cap && !m.res[b];
                bool cut = i > 0 && !mini_whole(&m, parent, path[i - 1]);
                bool orphans = false;
                for (uint32_t x = 0; x < NB; x++) {
                    orphans |= m.res[x] && !mini_whole(&m, parent, x);
                }
                uint32_t out = mini_access(&m, session, t, b, i, len, i == 0 && sys);
                if (!full) {
                    continue;
                }
                if (cut) {
                    assert_int_equal(out, OUT_BYPASS); /* (1) */
                    bypasses++;
                    continue;
                }
                if (orphans) {
                    assert_int_not_equal(out, OUT_BYPASS); /* an orphan is worth less than any */
                }
                if (out == OUT_BYPASS) {
                    continue;
                }
                m.res[b] = false; /* the residency the decision was made on */
                m.res[out] = true;
                if (orphans) {
                    assert_false(mini_whole(&m, parent, out)); /* (2) */
                    orphan_victims++;
                } else {
                    for (uint32_t x = 0; x < NB; x++) { /* (3) */
                        assert_false(m.res[x] && parent[x] == (int)out);
                    }
                    leaf_victims++;
                }
                m.res[out] = false;
                m.res[b] = true;
            }
            m.req++;
        }
        kvt_policy_predictive.destroy(m.ctx);
    }
    assert_true(bypasses > 0);
    assert_true(orphan_victims > 0);
    assert_true(leaf_victims > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_definition),
        cmocka_unit_test(test_capacity_rounding),
        cmocka_unit_test(test_capacity_zero),
        cmocka_unit_test(test_resident_refs_at_arrival),
        cmocka_unit_test(test_arrival_order),
        cmocka_unit_test(test_lfu),
        cmocka_unit_test(test_arc),
        cmocka_unit_test(test_s3fifo),
        cmocka_unit_test(test_belady_tail_vs_head),
        cmocka_unit_test(test_belady_bypass),
        cmocka_unit_test(test_policy_names),
        cmocka_unit_test(test_generated_trace),
        cmocka_unit_test(test_predictive_leaves_only),
        cmocka_unit_test(test_predictive_orphans),
        cmocka_unit_test(test_predictive_left_chain),
        cmocka_unit_test(test_predictive_popularity),
        cmocka_unit_test(test_predictive_paper_posteriors),
        cmocka_unit_test(test_predictor_popularity_classes),
        cmocka_unit_test(test_predictive_chain_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
