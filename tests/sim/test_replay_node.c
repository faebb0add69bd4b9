/*
 * Multi-tier replay: demotion cascade, hits attributed to the fastest tier holding a block, and
 * the fetch-versus-recompute rule. Every expected value is traced by hand below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_cascade),
        cmocka_unit_test(test_fetch_beyond_recompute),
        cmocka_unit_test(test_all_policies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
