/*
 * Multi-tier replay: demotion cascade, hits attributed to the fastest tier holding a block, and
 * the fetch-versus-recompute rule. Every expected value is traced by hand below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>
#include <math.h>

#include "policy/predictor.h"
#include "sim/trace_build.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kvt_trace_t *load(const char *text)
{
    char path[] = "/tmp/kvt-node-XXXXXX.jsonl";
    int fd = mkstemps(path, 6);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    assert_int_equal(kvt_trace_load(path, KVT_TRACE_MOONCAKE, 4, &t, &err), KVT_OK);
    unlink(path);
    return t;
}

/* A node of `n` tiers whose capacities are given in 4-token blocks at 1 B per token. */
static void make_node(kvt_node_desc_t *node, uint32_t n, const uint64_t *blocks)
{
    memset(node, 0, sizeof(*node));
    snprintf(node->name, sizeof(node->name), "test");
    node->gpu = kvt_gpu_find("h100-sxm");
    node->instances = 1;
    node->ntiers = n;
    for (uint32_t k = 0; k < n; k++) {
        node->tiers[k].kind = (kvt_tier_kind_t)k;
        snprintf(node->tiers[k].name, sizeof(node->tiers[k].name), "t%u", k);
        node->tiers[k].capacity_bytes = blocks[k] * 4;
        node->tiers[k].read_GBps = 10;
        node->tiers[k].write_GBps = 10;
    }
}

static void test_lru_cascade(void **state)
{
    (void)state;
    /* 4-token blocks; T0 holds 2 blocks, T1 2, T2 1; LRU in every tier.
     * r1 [1 2]: misses; T0 = {1, 2}
     * r2 [3 4]: 3 evicts 1 from T0 -> T1 {1}; 4 evicts 2 -> T1 {1, 2}; T0 {3, 4}
     * r3 [1 2] (8 tokens): both in T1 at arrival: 8 hit tokens, 2 blocks, from T1.
     *    1: T1 touch (T1 order, oldest first: 2, 1); T0 evicts 3 -> T1 evicts 2 -> T2 {2};
     *       T1 {1, 3}; T0 {4, 1}
     *    2: T2 touch; T0 evicts 4 -> T1 evicts 1 (oldest of 1, 3) -> T2 evicts 2 (dropped);
     *       T2 {1}; T1 {3, 4}; T0 {1, 2}
     * r4 [5]: T0 evicts 1 -> T1 evicts 3 -> T2 evicts 1 (dropped), T2 {3}; T1 {4, 1}; T0 {2, 5}
     * r5 [3 4] (8 tokens): 3 in T2, 4 in T1: whole chain, 4 tokens from T2 and 4 from T1.
     * Hits: 16 of 8 + 8 + 8 + 4 + 8 = 36 tokens; T1 12 tokens in 3 blocks, T2 4 in 1.
     * T0 admissions: 2 + 2 + 2 + 1 + 2 = 9, evictions 9 - 2 = 7 (T0 ends full with 2). */
    kvt_trace_t *t = load("{\"timestamp\": 0, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [1, 2]}\n"
                          "{\"timestamp\": 1, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [3, 4]}\n"
                          "{\"timestamp\": 2, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [1, 2]}\n"
                          "{\"timestamp\": 3, \"input_length\": 4, \"output_length\": 1, \"hash_ids\": [5]}\n"
                          "{\"timestamp\": 4, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [3, 4]}\n");
    static const uint64_t caps[] = {2, 2, 1};
    kvt_node_desc_t node;
    make_node(&node, 3, caps);
    kvt_node_replay_opts_t o;
    kvt_node_replay_result_t r;
    kvt_error_t err;
    kvt_node_replay_opts_init(&o);
    o.policy = "lru";
    o.node = &node;
    o.kv_bytes_per_token = 1;
    o.record = true;
    assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
    assert_int_equal(r.ntiers, 3);
    assert_int_equal(r.total.input_tokens, 36);
    assert_int_equal(r.total.hit_tokens, 16);
    assert_int_equal(r.tiers[0].hit_tokens, 0);
    assert_int_equal(r.tiers[1].hit_tokens, 12);
    assert_int_equal(r.tiers[1].hit_blocks, 3);
    assert_int_equal(r.tiers[2].hit_tokens, 4);
    assert_int_equal(r.tiers[2].hit_blocks, 1);
    assert_int_equal(r.tiers[0].insertions, 9);
    assert_int_equal(r.tiers[0].evictions, 7);
    /* the per-request record splits r5's 8 tokens 0 / 4 / 4 */
    assert_int_equal(r.requests[4].hit_tokens[1], 4);
    assert_int_equal(r.requests[4].hit_tokens[2], 4);
    assert_int_equal(r.requests[2].hit_tokens[1], 8);
    kvt_node_replay_result_release(&r);

    /* HBM only (tiers = 1): r3 and r5 find nothing (their blocks were evicted from T0) */
    o.tiers = 1;
    assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
    assert_int_equal(r.ntiers, 1);
    assert_int_equal(r.total.hit_tokens, 0);
    kvt_node_replay_result_release(&r);
    kvt_trace_destroy(t);
}

/* With a model, a tier that fetches slower than the GPU recomputes receives nothing. */
static void test_fetch_beyond_recompute(void **state)
{
    (void)state;
    kvt_trace_t *t = load("{\"timestamp\": 0, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [1, 2]}\n"
                          "{\"timestamp\": 1, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [3, 4]}\n"
                          "{\"timestamp\": 2, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [1, 2]}\n");
    kvt_model_t *m;
    kvt_error_t err;
    assert_int_equal(kvt_model_load_catalog("llama-3.1-8b", &m, &err), KVT_OK);
    static const uint64_t caps[] = {2, 8};
    kvt_node_desc_t node;
    make_node(&node, 2, caps);
    /* recompute of a 4-token block of the 8B model: 2 x 8.03e9 x 4 FLOPs (+ a negligible
     * attention term) at 0.613 x 989.4e12 FLOP/s = about 1.06e-4 s. A T1 latency of 1 ms makes
     * every fetch slower than that: T1 is skipped and r3 misses. */
    node.tiers[1].latency_us = 1000;
    kvt_node_replay_opts_t o;
    kvt_node_replay_result_t r;
    kvt_node_replay_opts_init(&o);
    o.policy = "lru";
    o.node = &node;
    o.kv_bytes_per_token = 1;
    o.model = m;
    assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
    assert_true(r.tiers[1].skipped);
    assert_true(r.tiers[1].recompute_s > 1.0e-4 && r.tiers[1].recompute_s < 1.1e-4);
    assert_true(r.tiers[1].fetch_s > 1e-3);
    assert_int_equal(r.tiers[1].insertions, 0);
    assert_int_equal(r.total.hit_tokens, 0);
    kvt_node_replay_result_release(&r);
    /* a fast T1 (latency 0, 10 GB/s: 0.4 ns per block) is kept: r3 hits 8 tokens from T1 */
    node.tiers[1].latency_us = 0;
    assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
    assert_false(r.tiers[1].skipped);
    assert_int_equal(r.total.hit_tokens, 8);
    assert_int_equal(r.tiers[1].hit_tokens, 8);
    kvt_node_replay_result_release(&r);
    kvt_model_destroy(m);
    kvt_trace_destroy(t);
}

/* Every policy runs on a node; Belady per tier never loses to LRU on the same node here. */
static void test_all_policies(void **state)
{
    (void)state;
    kvt_gen_opts_t g;
    kvt_trace_t *t;
    kvt_error_t err;
    kvt_gen_opts_init(&g);
    g.sessions = 60;
    assert_int_equal(kvt_trace_generate(&g, &t, &err), KVT_OK);
    const kvt_trace_info_t *in = kvt_trace_info(t);
    uint64_t distinct = in->blocks;
    uint64_t caps[] = {distinct / 50, distinct / 20, distinct / 10};
    kvt_node_desc_t node;
    make_node(&node, 3, caps);
    uint64_t lru_hits = 0;
    for (const char *const *p = kvt_replay_policies(); *p != NULL; p++) {
        kvt_node_replay_opts_t o;
        kvt_node_replay_result_t r;
        kvt_node_replay_opts_init(&o);
        o.policy = *p;
        o.node = &node;
        o.kv_bytes_per_token = 1;
        assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
        uint64_t sum = 0;
        for (uint32_t k = 0; k < r.ntiers; k++) {
            sum += r.tiers[k].hit_tokens;
        }
        assert_int_equal(sum, r.total.hit_tokens); /* every hit token has one tier */
        if (strcmp(*p, "lru") == 0) {
            lru_hits = r.total.hit_tokens;
        }
        if (strcmp(*p, "belady") == 0) {
            assert_true(r.total.hit_tokens >= lru_hits);
        }
    }
    kvt_trace_destroy(t);
}

/* The session-turn model behind the prefetch: posterior and gap quantiles by hand. */
static void test_turn_model(void **state)
{
    (void)state;
    kvt_turn_model_t m;
    kvt_turn_init(&m);
    uint16_t c = kvt_turn_class(KVT_TRANS_NEXT_TURN, 2);
    /* no data: Beta(1, 1) mean 1/2, and no gap to place a prefetch by */
    assert_true(kvt_turn_p(&m, c) == 0.5);
    assert_true(kvt_turn_gap_quantile(&m, c, 0.25) < 0);
    /* gaps 1000, 1000, 3000, 3000 us and one end: p = (1 + 4) / (2 + 4 + 1) = 5/7.
     * 1000 us falls in log2 bucket [512, 1024), 3000 in [2048, 4096); fewer than 50 gaps, so the
     * global histogram answers (it holds the same four). The survival is linear inside a bucket:
     * the 0.25-quantile is halfway through [512, 1024): 768; the 0.75-quantile halfway through
     * [2048, 4096) (the empty bucket [1024, 2048) is skipped): 3072. */
    kvt_turn_next(&m, c, 1000);
    kvt_turn_next(&m, c, 1000);
    kvt_turn_next(&m, c, 3000);
    kvt_turn_next(&m, c, 3000);
    kvt_turn_ended(&m, c);
    assert_true(fabs(kvt_turn_p(&m, c) - 5.0 / 7) < 1e-12);
    assert_true(fabs(kvt_turn_gap_quantile(&m, c, 0.25) - 768) < 1e-9);
    assert_true(fabs(kvt_turn_gap_quantile(&m, c, 0.75) - 3072) < 1e-9);
    /* survival at 768: half of bucket 9's quarter-pairs above it, plus the 3000s: 0.75 */
    assert_true(fabs(kvt_turn_gap_survival(&m, c, 768) - 0.75) < 1e-12);
    /* another class of the same transition has its own posterior */
    assert_true(kvt_turn_p(&m, kvt_turn_class(KVT_TRANS_NEXT_TURN, 0)) == 0.5);
}

static kvt_node_replay_result_t node_run(const kvt_trace_t *t, const kvt_node_desc_t *node,
                                         const char *policy, bool prefetch)
{
    kvt_node_replay_opts_t o;
    kvt_node_replay_result_t r;
    kvt_error_t err;
    kvt_node_replay_opts_init(&o);
    o.policy = policy;
    o.node = node;
    o.kv_bytes_per_token = 1;
    o.prefetch = prefetch;
    assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
    return r;
}

/* No prefetch where the model predicts none: sessions that rarely come back. */
static void test_prefetch_not_when_unlikely(void **state)
{
    (void)state;
    /* T0 holds 1 block, T1 16 (never full: nothing is dropped). Mooncake sessions: a request
     * continues the session holding its block 1 or deeper; [1 2] and [1 2 3 ...] are one session,
     * the others each open one. Turn classes: N0 = (new_session, depth 0), T1 = (next_turn, 1).
     * A job needs p > 0.5 and a known gap.
     *   r0   0 s [10 11] S0: N0 has no data, p = 1/2: not > 1/2, no job.
     *   r1 1000 s [20 21] S1: r0 is 1000 s old, past the 600 s horizon, its session silent:
     *        N0 ends once, p = 1/3. No job.
     *   r2 2000 s [1 2] S2: r1's session ends: N0 p = 1/4. No job.
     *   r3 2001 s [1 2 3] S2: a next turn 1 s after r2: N0 learns a success (p = 2/5) and the
     *        first gap. r3's class T1 has no data: p = 1/2, no job.
     *   r4 2002 s [30 31] S3: N0 p = 2/5: no job.
     *   r5 2010 s [1 2 3 4] S2: its chain's blocks were pushed to T1 by r4 (T0 holds 1 block),
     *        which a prefetch could have moved, but none was scheduled. r5 continues S2 9 s
     *        after r3: T1 learns a success (p = 2/3), but r5's own class (next_turn, 2) has no
     *        data: p = 1/2, no job.
     * So no job ever: the run is the no-prefetch run, tier by tier. */
    kvt_trace_t *t = load("{\"timestamp\": 0, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [10, 11]}\n"
                          "{\"timestamp\": 1000000, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [20, 21]}\n"
                          "{\"timestamp\": 2000000, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [1, 2]}\n"
                          "{\"timestamp\": 2001000, \"input_length\": 12, \"output_length\": 1, \"hash_ids\": [1, 2, 3]}\n"
                          "{\"timestamp\": 2002000, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [30, 31]}\n"
                          "{\"timestamp\": 2010000, \"input_length\": 16, \"output_length\": 1, \"hash_ids\": [1, 2, 3, 4]}\n");
    static const uint64_t caps[] = {1, 16};
    kvt_node_desc_t node;
    make_node(&node, 2, caps);
    kvt_node_replay_result_t off = node_run(t, &node, "predictive", false);
    kvt_node_replay_result_t on = node_run(t, &node, "predictive", true);
    assert_false(off.prefetch);
    assert_true(on.prefetch);
    assert_int_equal(on.pf.jobs, 0);
    assert_int_equal(on.pf.blocks, 0);
    /* r3 hits [1 2] (8 tokens), r5 hits [1 2 3] (12): 20 tokens, the same tiers either way */
    assert_int_equal(on.total.hit_tokens, 20);
    for (uint32_t k = 0; k < 2; k++) {
        assert_int_equal(on.tiers[k].hit_tokens, off.tiers[k].hit_tokens);
    }
    /* LRU never prefetches: only policies that value prefetched blocks do */
    kvt_node_replay_result_t lru = node_run(t, &node, "lru", true);
    assert_false(lru.prefetch);
    kvt_trace_destroy(t);
}

/* Where sessions do come back (generated agent loops), prefetches run; their accounting is
 * conserved, and since the lower tier never fills (nothing is ever dropped) and a prefetch only
 * copies, every block is held somewhere at exactly the same arrivals as without prefetch: the
 * total hit tokens are identical; only the tier serving them may change. */
static void test_prefetch_accounting(void **state)
{
    (void)state;
    kvt_gen_opts_t g;
    kvt_gen_opts_init(&g);
    g.kind = KVT_GEN_AGENT;
    g.sessions = 60;
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    assert_int_equal(kvt_trace_generate(&g, &t, &err), KVT_OK);
    const kvt_trace_info_t *in = kvt_trace_info(t);
    /* 16-token blocks at 1 B per token; T0 2 % of the distinct blocks, T1 all of them */
    uint64_t caps[] = {in->blocks / 50, in->blocks};
    kvt_node_desc_t node;
    make_node(&node, 2, caps);
    for (uint32_t k = 0; k < 2; k++) {
        node.tiers[k].capacity_bytes = caps[k] * in->block_tokens;
    }
    kvt_node_replay_result_t off = node_run(t, &node, "predictive", false);
    kvt_node_replay_result_t on = node_run(t, &node, "predictive", true);
    assert_true(on.pf.jobs > 0);
    assert_true(on.pf.blocks >= on.pf.jobs);
    assert_int_equal(on.pf.bytes, on.pf.blocks * in->block_tokens);
    assert_int_equal(on.pf.useful + on.pf.late + on.pf.wasted, on.pf.blocks);
    assert_int_equal(on.total.hit_tokens, off.total.hit_tokens);
    assert_int_equal(on.tiers[0].hit_tokens + on.tiers[1].hit_tokens, on.total.hit_tokens);
    assert_int_equal(off.pf.blocks, 0);
    kvt_trace_destroy(t);
}

/* Demotion by value (opts.hold_cost): value(block, T1) = P (R - F) - H, demoted when positive,
 * else dropped. 4-token blocks at 1e6 B per token: 4 MB = 0.004 GB a block; T0 holds 2 blocks,
 * T1 (NVMe, $0.00011 per GB-hour, 1000 GB/s, no latency) 8.
 *   R = recompute of 4 tokens of the 8B model on an H100 ~ 1.06e-4 s (test above);
 *   F = 4e6 B / 1e12 B/s = 4e-6 s;
 *   H = 0.00011 $/GB-h x 0.004 GB x 600 s / 3600 s/h = 7.33e-8 $, at the H100's $ per hour
 *       (2.99) = 7.33e-8 / 2.99 x 3600 s = 8.83e-5 GPU-seconds.
 * Trace: r1 [1 2] at 0 s, r2 [3 4] at 1 s (new session: evicts 1 and 2 from T0), r3 [1 2] at 2 s.
 *   LRU (P = 1): v = 1.06e-4 - 4e-6 - 8.83e-5 = 1.4e-5 > 0: 1 and 2 go to T1, r3 hits 8 tokens
 *   from T1; r3 evicts 3 and 4, demoted too: 4 demotions, nothing dropped.
 *   predictive: nothing learned yet (no reuse applied, no expiry within 600 s): every class has
 *   P = (0 + 8 x 1/2) / 8 = 1/2, v = 0.5 x 1.02e-4 - 8.83e-5 < 0: all 4 are dropped, r3 misses.
 *   Without hold_cost predictive demotes them and r3 hits 8 tokens.
 *   With T1 as DRAM ($0.0036 per GB-hour: H = 2.89e-3 s > R) even LRU drops all 4. */
static void test_hold_cost_demote_or_drop(void **state)
{
    (void)state;
    kvt_trace_t *t = load("{\"timestamp\": 0, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [1, 2]}\n"
                          "{\"timestamp\": 1000, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [3, 4]}\n"
                          "{\"timestamp\": 2000, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [1, 2]}\n");
    kvt_model_t *m;
    kvt_error_t err;
    assert_int_equal(kvt_model_load_catalog("llama-3.1-8b", &m, &err), KVT_OK);
    static const uint64_t caps[] = {2, 8};
    kvt_node_desc_t node;
    make_node(&node, 2, caps);
    node.tiers[0].capacity_bytes = 2 * 4000000ull;
    node.tiers[1].capacity_bytes = 8 * 4000000ull;
    node.tiers[1].kind = KVT_TIER_NVME;
    node.tiers[1].read_GBps = 1000;
    assert_true(fabs(node.gpu->usd_per_hour - 2.99) < 1e-9);
    kvt_node_replay_opts_t o;
    kvt_node_replay_result_t r;
    kvt_node_replay_opts_init(&o);
    o.node = &node;
    o.kv_bytes_per_token = 1000000;
    o.model = m;
    o.hold_cost = true;

    o.policy = "lru";
    assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
    assert_true(fabs(r.tiers[1].fetch_s - 4e-6) < 1e-12);
    assert_true(fabs(r.tiers[1].hold_s - 0.00011 * 0.004 * 600 / 2.99) < 1e-12);
    assert_true(r.tiers[1].hold_s > 8.8e-5 && r.tiers[1].hold_s < 8.9e-5);
    assert_int_equal(r.tiers[1].insertions, 4);
    assert_int_equal(r.tiers[0].dropped, 0);
    assert_int_equal(r.total.hit_tokens, 8);
    assert_int_equal(r.tiers[1].hit_tokens, 8);

    o.policy = "predictive";
    assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
    assert_int_equal(r.tiers[1].insertions, 0);
    assert_int_equal(r.tiers[0].dropped, 4);
    assert_int_equal(r.total.hit_tokens, 0);
    o.hold_cost = false;
    assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
    assert_int_equal(r.tiers[1].insertions, 4);
    assert_int_equal(r.tiers[0].dropped, 0);
    assert_int_equal(r.total.hit_tokens, 8);

    o.hold_cost = true;
    o.policy = "lru";
    node.tiers[1].kind = KVT_TIER_DRAM;
    assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
    assert_true(fabs(r.tiers[1].hold_s - 0.0036 * 0.004 * 600 / 2.99) < 1e-12);
    assert_int_equal(r.tiers[1].insertions, 0);
    assert_int_equal(r.tiers[0].dropped, 4);
    assert_int_equal(r.total.hit_tokens, 0);
    kvt_model_destroy(m);
    kvt_trace_destroy(t);
}

/* One request of a hand-built trace: 4-token blocks with the given ids (new ids in order). */
static void add_req(kvt_trace_t *t, uint64_t t_us, uint32_t tokens, uint32_t session,
                    kvt_transition_t tr, const uint32_t *ids, uint32_t n)
{
    assert_int_equal(
        kvt_trace_begin_request(t, t_us, tokens, 1, session, tr, KVT_NO_PARENT, KVT_BLOCK_USER),
        KVT_OK);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(kvt_trace_add_block_id(t, ids[i], KVT_BLOCK_USER), KVT_OK);
    }
}

/* Session A's chain [4 5 6] (6 partial: 2 tokens), sent again identically at t_next. */
static kvt_trace_t *prefetch_trace(uint64_t t_next)
{
    kvt_trace_t *t = NULL;
    assert_int_equal(kvt_trace_new("prefetch-test", KVT_TRACE_AUTO, 4, &t), KVT_OK);
    static const uint32_t r0[] = {0}, r1[] = {0, 1}, r2[] = {2}, r3[] = {3}, a[] = {4, 5, 6},
                          f[] = {7, 8, 9};
    add_req(t, 0, 4, 0, KVT_TRANS_NEW_SESSION, r0, 1);      /* S0 */
    add_req(t, 1000, 8, 1, KVT_TRANS_NEW_SESSION, r1, 2);   /* S1 */
    add_req(t, 65536, 4, 0, KVT_TRANS_NEXT_TURN, r2, 1);    /* S0 */
    add_req(t, 66536, 4, 1, KVT_TRANS_NEXT_TURN, r3, 1);    /* S1 */
    add_req(t, 200000, 10, 2, KVT_TRANS_NEW_SESSION, a, 3); /* A = S2: L */
    add_req(t, 210000, 12, 0, KVT_TRANS_NEXT_TURN, f, 3);   /* S0: the filler F */
    add_req(t, t_next, 10, 2, KVT_TRANS_NEXT_TURN, a, 3);   /* A again: N */
    assert_int_equal(kvt_trace_finish(t), KVT_OK);
    return t;
}

/*
 * One prefetch job derived by hand: when it is scheduled, what it moves, in what order, when
 * each copy completes, and how the next request is served (useful / late per block).
 *
 * Node: 4-token blocks at 250,000 B per token = 1e6 B a block. T0 holds 3 blocks; T1 (DRAM)
 * 16, 500 us latency, 1 GB/s read: one block = 1e6 B / (1e3 B/us) = 1000 us. One GPU instance:
 * one link. Policy predictive (the only one flagged KVT_POLICY_PREFETCH).
 *
 * Trace (builder: sessions and transitions explicit; blocks of different requests disjoint except
 * block 0):
 *   r0      0 us S0 new  [0]       r1   1000 S1 new [0 1]   r2 65536 S0 next [2]
 *   r3  66536 S1 next [3]          L  200000 S2 new [4 5 6] (10 tokens: 6 is partial, 2 tokens)
 *   F  210000 S0 next [7 8 9]      N  t_next S2 next [4 5 6] (10 tokens: L's prompt again)
 *
 * Session-turn model (classes: transition x depth). r0, r1: (new, 0) has no data, p = 1/2: no job.
 * r2 continues S0 65536 us after r0, r3 continues S1 65536 us after r1: (new, 0) learns two
 * successes, p = (1 + 2) / (2 + 2) = 3/4, and the gaps {65536, 65536} (global histogram, fewer
 * than 50). r2, r3 are (next, 1): no data, p = 1/2, no job. Nothing reaches the 600 s horizon.
 * L is (new, 0): p = 3/4 > 1/2, a job. Both gaps in log2 bucket [65536, 131072): the
 * 0.25-quantile is a quarter through it, 65536 + 16384 = 81920 us. lead = 500 + 3 x 1000 = 3500
 * us, so the job starts at 200000 + 81920 - 3500 = 278420 (the chain to land by 281920).
 * F is (next, 2): no data, p = 1/2, no job (it teaches (next, 1) a success, for later requests
 * only). So exactly one job, L's, if N comes after 278420; if N comes first it is dropped.
 *
 * Block values (predictive, hit density): the only block reuse before N is block 0 at r1, gap
 * 1000 us, bucket [512, 1024) (learned at r2). So the gap survival S(x) is 1 at x = 0 and 0 for
 * every x >= 1024: a block idle >= 1024 us has hit = p (S(e) - S(e + T)) / alive = 0, value 0
 * exactly; a block valued at idle 0 (a newcomer, or a prefetched block: "as just accessed") with
 * T >= 1024 has hit = p (1 - 0) > 0 (p > 0 under the Beta prior), value > 0.
 *   L: T0 holds 3 of blocks 0-3, idle >= 133464 us: value 0. T (the last 3 admissions: 1 @ 1000,
 *      2 @ 65536, 3 @ 66536) = 199000: 4, 5, 6 (> 0) evict them. T0 = {4 5 6}.
 *   F: 4, 5, 6 idle 10000: value 0; T = 210000 - 200000 = 10000: 7, 8, 9 (> 0) evict all three
 *      (each placed newcomer is worth > 0, so the weakest is always one of A's). T0 = {7 8 9},
 *      T1 holds 4, 5, 6 (and the others: 10 blocks < 16, nothing dropped).
 *   Job at 278420: 7, 8, 9 idle 68420: value 0. Head first: 4 (T1) is worth > 0 > 0: admitted,
 *      evicting an F block; so do 5 and 6 (the prefetched ones are worth > 0 at idle 0). 3 blocks,
 *      3e6 bytes, 1 job. Link clock from 278420: 4 ready at 278420 + 500 + 1000 = 279920, 5 at
 *      280920, 6 at 281920 (the latency once: one run from T1).
 * N (all three blocks held: the whole prompt, 10 tokens, matches; block 6 gives 2 tokens):
 *   t_next 280000: 4 complete (T0, useful); 5, 6 in flight: served from T1 (late).
 *                  T0 4 tokens, T1 4 + 2 = 6. (Tail first would give T0 2 tokens.)
 *   t_next 280920: 4, 5 complete (a copy complete exactly at arrival is usable), 6 late:
 *                  T0 8, T1 2.
 *   t_next 290000: all complete: 3 useful, T0 10.
 *   t_next 250000 or 278419: before the job's start: the job is dropped (its session sent a
 *                  request first); N is served from T1: T1 10.
 *   t_next 278420: the job runs (due at the arrival) but no copy is complete: 3 late, T1 10.
 * The cases at each completion time and 1 us before it pin the start (278420) and every ready
 * time (279920, 280920, 281920) to the microsecond.
 * Besides, r1 hits block 0 in T0 (4 tokens): total hits 4 + 10 = 14 in every case.
 */
static void test_prefetch_by_hand(void **state)
{
    (void)state;
    static const uint64_t caps[] = {3, 16};
    kvt_node_desc_t node;
    make_node(&node, 2, caps);
    node.tiers[0].capacity_bytes = 3 * 1000000ull;
    node.tiers[1].capacity_bytes = 16 * 1000000ull;
    node.tiers[1].kind = KVT_TIER_DRAM;
    node.tiers[1].latency_us = 500;
    node.tiers[1].read_GBps = 1;
    static const struct {
        uint64_t t_next;
        uint64_t jobs, useful, late, t0_tokens, t1_tokens;
    } cases[] = {
        {250000, 0, 0, 0, 0, 10}, /* before the job's start: dropped */
        {278419, 0, 0, 0, 0, 10}, /* 1 us before it */
        {278420, 1, 0, 3, 0, 10}, /* at its start: it runs, nothing complete yet */
        {279919, 1, 0, 3, 0, 10},
        {279920, 1, 1, 2, 4, 6}, /* 4 complete */
        {280000, 1, 1, 2, 4, 6},
        {280919, 1, 1, 2, 4, 6},
        {280920, 1, 2, 1, 8, 2}, /* 4, 5 complete */
        {281919, 1, 2, 1, 8, 2},
        {281920, 1, 3, 0, 10, 0}, /* all complete: by the 0.25-quantile, 200000 + 81920 */
        {290000, 1, 3, 0, 10, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kvt_trace_t *t = prefetch_trace(cases[i].t_next);
        kvt_node_replay_opts_t o;
        kvt_node_replay_result_t r;
        kvt_error_t err;
        kvt_node_replay_opts_init(&o);
        o.policy = "predictive";
        o.node = &node;
        o.kv_bytes_per_token = 250000;
        o.prefetch = true;
        o.record = true;
        assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
        assert_true(r.prefetch);
        assert_int_equal(r.pf.jobs, cases[i].jobs);
        assert_int_equal(r.pf.blocks, 3 * cases[i].jobs);
        assert_int_equal(r.pf.bytes, 3 * cases[i].jobs * 1000000ull);
        assert_int_equal(r.pf.useful, cases[i].useful);
        assert_int_equal(r.pf.late, cases[i].late);
        assert_int_equal(r.pf.wasted, 0);
        assert_int_equal(r.requests[6].t_us, cases[i].t_next);
        assert_int_equal(r.requests[6].hit_tokens[0], cases[i].t0_tokens);
        assert_int_equal(r.requests[6].hit_tokens[1], cases[i].t1_tokens);
        assert_int_equal(r.requests[1].hit_tokens[0], 4);
        assert_int_equal(r.total.hit_tokens, 14);
        assert_int_equal(r.tiers[0].hit_tokens, 4 + cases[i].t0_tokens);
        assert_int_equal(r.tiers[1].hit_tokens, cases[i].t1_tokens);
        kvt_node_replay_result_release(&r);
        /* without prefetch N finds its chain only in T1 */
        o.prefetch = false;
        assert_int_equal(kvt_node_replay_run(t, &o, &r, &err), KVT_OK);
        assert_false(r.prefetch);
        assert_int_equal(r.requests[6].hit_tokens[0], 0);
        assert_int_equal(r.requests[6].hit_tokens[1], 10);
        kvt_node_replay_result_release(&r);
        kvt_trace_destroy(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_cascade),
        cmocka_unit_test(test_fetch_beyond_recompute),
        cmocka_unit_test(test_all_policies),
        cmocka_unit_test(test_turn_model),
        cmocka_unit_test(test_prefetch_not_when_unlikely),
        cmocka_unit_test(test_prefetch_accounting),
        cmocka_unit_test(test_hold_cost_demote_or_drop),
        cmocka_unit_test(test_prefetch_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
