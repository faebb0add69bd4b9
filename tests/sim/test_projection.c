/*
 * TTFT projection (src/sim/projection.c): prefill FLOPs, the H100 calibration, fetch pipelining,
 * FIFO queueing over instances, percentiles and validation. Every expected value is derived by
 * hand in the comments from the formulas in include/kvtier/projection.h and the design comment
 * of src/sim/projection.c:
 *
 *   FLOPs(n, c) = 2 P n + sum over attention layers of 2 H (d_qk + d_v) A(n, c),
 *   A = n c + n^2/2 (full), capped by the window (sliding), chunk-local (chunked);
 *   compute = overhead + FLOPs / (efficiency x 989.4e12) on an H100 SXM;
 *   fetch from tier k >= 1 = latency + hits x kv_bytes_per_token / (read_GBps x 1e9);
 *   service = F_b + max(F_l, compute) + min(F_l, compute) / L.
 *
 * The node is built by hand (no dependency on node.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>
#include <kvtier/projection.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define US 1000000ull /* microseconds per second */

/* |got - want| <= rel x |want| (or <= rel when want is 0) */
static void near(double got, double want, double rel)
{
    double tol = want != 0 ? fabs(want) * rel : rel;
    if (!(fabs(got - want) <= tol)) {
        fail_msg("got %.12g, want %.12g (relative tolerance %g)", got, want, rel);
    }
}

static kvt_model_t *catalog(const char *name)
{
    kvt_model_t *m;
    kvt_error_t err;
    assert_int_equal(kvt_model_load_catalog(name, &m, &err), KVT_OK);
    return m;
}

/*
 * A hand-built node: H100 SXM, `instances` instances, three tiers.
 *   T0 hbm: free.
 *   T1 dram: read 1 GB/s, no latency, not layerwise (tests change these).
 *   T2 nvme: read 1 GB/s, no latency, not layerwise.
 */
static void make_node(kvt_node_desc_t *node, uint32_t instances)
{
    memset(node, 0, sizeof(*node));
    snprintf(node->name, sizeof(node->name), "hand-node");
    node->gpu = kvt_gpu_find("h100-sxm");
    assert_non_null(node->gpu);
    node->instances = instances;
    snprintf(node->model, sizeof(node->model), "llama-3.1-8b");
    node->ntiers = 3;
    node->tiers[0] = (kvt_tier_desc_t){.kind = KVT_TIER_HBM, .name = "hbm", .read_GBps = 3350};
    node->tiers[1] = (kvt_tier_desc_t){.kind = KVT_TIER_DRAM, .name = "dram", .read_GBps = 1};
    node->tiers[2] = (kvt_tier_desc_t){.kind = KVT_TIER_NVME, .name = "nvme", .read_GBps = 1};
}

static void test_opts_init(void **state)
{
    kvt_proj_opts_t o;
    (void)state;
    memset(&o, 0xab, sizeof(o));
    kvt_proj_opts_init(&o);
    assert_int_equal(o.opts_size, sizeof(o));
    assert_null(o.model);
    assert_null(o.node);
    assert_int_equal(o.kv_bytes_per_token, 0);
    assert_true(o.efficiency == 0.613);
    assert_true(o.overhead_s == 0.020);
}

/* llama-3.1-8b: P = 8.03e9, 32 full layers, H = 32, d = 128 -> 2 H (d + d) x 32 layers = 524288 */
static void test_flops_llama(void **state)
{
    kvt_model_t *m = catalog("llama-3.1-8b");
    (void)state;
    /* n = 8192, c = 0: 2 x 8.03e9 x 8192 = 131563520000000;
     * 524288 x 8192^2 / 2 = 2^19 x 2^25 = 2^44 = 17592186044416; sum 149155706044416 */
    near(kvt_prefill_flops(m, 8192, 0), 149155706044416.0, 1e-12);
    /* n = 100, c = 8000: 2 x 8.03e9 x 100 = 1606000000000;
     * 524288 x (100 x 8000 + 100^2 / 2 = 805000) = 422051840000; sum 2028051840000 */
    near(kvt_prefill_flops(m, 100, 8000), 2028051840000.0, 1e-12);
    /* nothing new: no FLOPs */
    assert_true(kvt_prefill_flops(m, 0, 5000) == 0.0);
    assert_true(kvt_prefill_flops(NULL, 100, 0) == 0.0);
    kvt_model_destroy(m);
}

/* One request of n tokens, nothing cached, one instance, default options: TTFT = compute. */
static double measured_prefill(kvt_model_t *m, uint32_t n)
{
    kvt_node_desc_t node;
    kvt_proj_opts_t o;
    kvt_proj_result_t r;
    kvt_error_t err;
    kvt_proj_request_t q = {.t_us = 5 * US, .input_tokens = n};
    make_node(&node, 1);
    kvt_proj_opts_init(&o);
    o.model = m;
    o.node = &node;
    o.kv_bytes_per_token = 131072;
    assert_int_equal(kvt_project(&q, 1, &o, &r, &err), KVT_OK);
    assert_int_equal(r.requests, 1);
    near(r.ttft_p50_s, r.ttft_mean_s, 1e-15);
    near(r.prefill_gpu_s, r.ttft_mean_s, 1e-15);
    near(r.prefill_gpu_s_no_cache, r.ttft_mean_s, 1e-15);
    assert_true(r.queue_mean_s == 0.0);
    assert_true(r.fetch_s == 0.0);
    return r.ttft_mean_s;
}

/*
 * Defaults: rate = 0.613 x 989.4e12 = 6.065022e14 FLOP/s.
 *   8192: 0.020 + 149155706044416 / 6.065022e14 = 0.020 + 0.245927725 = 0.265927725 s
 *         (measured 266.1 ms: -0.065%)
 *    512: FLOPs = 2 x 8.03e9 x 512 + 524288 x 512^2 / 2 = 8222720000000 + 68719476736
 *         = 8291439476736; 0.020 + 8291439476736 / 6.065022e14 = 0.020 + 0.013670914
 *         = 0.033670914 s (measured 33.8 ms: -0.38%)
 */
static void test_calibration(void **state)
{
    kvt_model_t *m = catalog("llama-3.1-8b");
    (void)state;
    double t8192 = measured_prefill(m, 8192), t512 = measured_prefill(m, 512);
    near(t8192, 0.2661, 0.01);
    near(t512, 0.0338, 0.01);
    near(t8192, 0.265927725, 1e-8);
    near(t512, 0.033670914, 1e-7);
    kvt_model_destroy(m);
}

/* mistral-7b-v0.1: P = 7.24e9, 32 sliding layers of window 4096, H = 32, d = 128: 524288/pair */
static void test_flops_sliding(void **state)
{
    kvt_model_t *m = catalog("mistral-7b-v0.1");
    (void)state;
    assert_int_equal(kvt_model_layer(m, 0)->kind, KVT_LAYER_SLIDING);
    assert_int_equal(kvt_model_layer(m, 0)->window, 4096);
    /* c = 10000 >= W: every new token attends 4096: A = 100 x 4096 = 409600;
     * 524288 x 409600 = 214748364800; + 2 x 7.24e9 x 100 = 1448000000000 -> 1662748364800
     * (uncapped it would be 524288 x (100 x 10000 + 5000) = 526909440000) */
    near(kvt_prefill_flops(m, 100, 10000), 1662748364800.0, 1e-12);
    /* c = 4000, n = 200: the window saturates after m = 4096 - 4000 = 96 tokens:
     * A = 96 x 4000 + 96^2 / 2 + (200 - 96) x 4096 = 384000 + 4608 + 425984 = 814592
     * = 1591 x 2^9; x 2^19 = 1591 x 2^28 = 427080810496; + 2 x 7.24e9 x 200 = 2896000000000
     * -> 3323080810496 */
    near(kvt_prefill_flops(m, 200, 4000), 3323080810496.0, 1e-12);
    /* within the window the full formula: A = 100^2 / 2 = 5000; 524288 x 5000 = 2621440000;
     * + 1448000000000 -> 1450621440000 */
    near(kvt_prefill_flops(m, 100, 0), 1450621440000.0, 1e-12);
    kvt_model_destroy(m);
}

/* deepseek-v2-lite: P_active = 2.4e9, 27 MLA layers, H = 16, d_qk = 128 + 64, d_v = 128 */
static void test_flops_mla(void **state)
{
    kvt_model_t *m = catalog("deepseek-v2-lite");
    (void)state;
    assert_int_equal(kvt_model_info(m)->attn_kind, KVT_ATTN_MLA);
    /* per pair: 2 x 27 x 16 x (192 + 128) = 276480; n = 1000, c = 3000:
     * A = 3000000 + 500000 = 3500000; 276480 x 3500000 = 967680000000;
     * + 2 x 2.4e9 x 1000 = 4800000000000 (active, not the 15.7e9 total) -> 5767680000000 */
    near(kvt_prefill_flops(m, 1000, 3000), 5767680000000.0, 1e-12);
    kvt_model_destroy(m);
}

/* A chunked layer counts chunk-local pairs; linear layers none. */
static void test_flops_chunked_linear(void **state)
{
    kvt_model_t *m;
    kvt_error_t err;
    (void)state;
    /* two layers, H = 4, d = 256 / 4 = 64: 2 x 4 x (64 + 64) = 1024 per pair and layer;
     * no parameter count (a config file), so no 2 P n term */
    static const char cfg[] =
        "{\"num_hidden_layers\": 2, \"hidden_size\": 256, \"num_attention_heads\": 4, "
        "\"num_key_value_heads\": 2, \"attention_chunk_size\": 1000, "
        "\"layer_types\": [\"chunked_attention\", \"full_attention\"]}";
    assert_int_equal(kvt_model_load_json(cfg, strlen(cfg), "chunked.json", &m, &err), KVT_OK);
    assert_int_equal(kvt_model_layer(m, 0)->kind, KVT_LAYER_CHUNKED);
    assert_int_equal(kvt_model_layer(m, 0)->window, 1000);
    /* c = 1500, n = 700: positions 1500..2200. Chunked: 1500..2000 attend 500..1000 within
     * their chunk: (1000^2 - 500^2) / 2 = 375000; 2000..2200 attend 0..200: 200^2 / 2 = 20000;
     * A = 395000. Full: 700 x 1500 + 700^2 / 2 = 1050000 + 245000 = 1295000.
     * 1024 x (395000 + 1295000) = 1024 x 1690000 = 1730560000 */
    near(kvt_prefill_flops(m, 700, 1500), 1730560000.0, 1e-12);
    /* within the first chunk both layers count n^2 / 2 = 245000: 1024 x 490000 = 501760000 */
    near(kvt_prefill_flops(m, 700, 0), 501760000.0, 1e-12);
    kvt_model_destroy(m);

    /* qwen3-next-80b-a3b: 48 layers, full iff (i + 1) % 4 == 0 -> 12 full, 36 linear; H = 16,
     * d = 256; P_active = 3e9. n = 1000, c = 0: 2 x 3e9 x 1000 = 6e12;
     * 2 x 16 x 512 x 12 = 196608 per pair; x 1000^2 / 2 = 98304000000 -> 6098304000000 */
    m = catalog("qwen3-next-80b-a3b");
    assert_int_equal(kvt_model_layer(m, 0)->kind, KVT_LAYER_LINEAR);
    near(kvt_prefill_flops(m, 1000, 0), 6098304000000.0, 1e-12);
    kvt_model_destroy(m);
}

/*
 * Queue conventions: overhead 0.5 s, kv_bytes_per_token 1e6, T1 1 GB/s -> 1000 tokens = 1 s.
 * Every request is wholly cached (new = 0), so compute = overhead = 0.5 s and
 * service = 0.5 + T1 hits / 1000 s (T1 not layerwise; T0 hits free).
 */
static void queue_opts(kvt_proj_opts_t *o, const kvt_model_t *m, const kvt_node_desc_t *node)
{
    kvt_proj_opts_init(o);
    o->model = m;
    o->node = node;
    o->kv_bytes_per_token = 1000000;
    o->overhead_s = 0.5;
}

/*
 * One instance:
 *   r0 t=0    in 2000, T1 2000          service 0.5 + 2.0 = 2.5   start 0    end 2.5
 *   r1 t=1.0  in 1000, T1 1000          service 0.5 + 1.0 = 1.5   start 2.5  end 4.0
 *   r2 t=1.5  in 500, T0 250, T1 250    service 0.5 + 0.25 = 0.75 start 4.0  end 4.75
 * waits 0, 1.5, 2.5 (mean 4/3); TTFT 2.5, 3.0, 3.25 (mean 8.75/3 = 2.916667);
 * p50: ceil(1.5) - 1 = 1 -> 3.0; p90: ceil(2.7) - 1 = 2 -> 3.25; p99 -> 3.25.
 * busy 4.75 = makespan (0 -> 4.75), utilization 1; tokens 3500 / 4.75 = 736.842105 /s;
 * fetch 2 + 1 + 0.25 = 3.25; prefill 3 x 0.5 = 1.5.
 * No cache: rate 6.065022e14; FLOPs(2000) = 3.212e13 + 262144 x 4e6 = 3.3168576e13,
 * FLOPs(1000) = 1.606e13 + 2.62144e11 = 1.6322144e13, FLOPs(500) = 8.03e12 + 6.5536e10 =
 * 8.095536e12; sum 5.7586256e13 / 6.065022e14 = 0.094948140 s; + 3 x 0.5 -> 1.594948140 s.
 */
static void test_queue_one_instance(void **state)
{
    kvt_model_t *m = catalog("llama-3.1-8b");
    kvt_node_desc_t node;
    kvt_proj_opts_t o;
    kvt_proj_result_t r;
    kvt_error_t err;
    (void)state;
    make_node(&node, 1);
    queue_opts(&o, m, &node);
    kvt_proj_request_t q[3] = {
        {.t_us = 0, .input_tokens = 2000, .hit_tokens = {0, 2000}},
        {.t_us = 1 * US, .input_tokens = 1000, .hit_tokens = {0, 1000}},
        {.t_us = 1500000, .input_tokens = 500, .hit_tokens = {250, 250}},
    };
    assert_int_equal(kvt_project(q, 3, &o, &r, &err), KVT_OK);
    assert_int_equal(r.requests, 3);
    near(r.ttft_mean_s, 8.75 / 3, 1e-12);
    near(r.ttft_p50_s, 3.0, 1e-12);
    near(r.ttft_p90_s, 3.25, 1e-12);
    near(r.ttft_p99_s, 3.25, 1e-12);
    near(r.queue_mean_s, 4.0 / 3, 1e-12);
    near(r.prefill_gpu_s, 1.5, 1e-12);
    near(r.prefill_gpu_s_no_cache, 1.594948140, 1e-9);
    near(r.fetch_s, 3.25, 1e-12);
    near(r.busy_s, 4.75, 1e-12);
    near(r.makespan_s, 4.75, 1e-12);
    near(r.tokens_per_s, 736.842105263, 1e-10);
    near(r.utilization, 1.0, 1e-12);
    /* cost: 4.75 busy GPU-seconds at the H100's catalog price of $2.99/h for 3500 input tokens:
     * 4.75 / 3600 x 2.99 / 0.0035 = $1.127182540 per million tokens */
    near(r.usd_per_mtok, 4.75 / 3600 * 2.99 / 0.0035, 1e-9);
    o.usd_per_gpu_hour = 10;
    assert_int_equal(kvt_project(q, 3, &o, &r, &err), KVT_OK);
    near(r.usd_per_mtok, 4.75 / 3600 * 10 / 0.0035, 1e-9);

    /* The same arrivals shifted by an hour: only relative times matter. */
    for (int i = 0; i < 3; i++) {
        q[i].t_us += 3600 * US;
    }
    assert_int_equal(kvt_project(q, 3, &o, &r, &err), KVT_OK);
    near(r.ttft_mean_s, 8.75 / 3, 1e-12);
    near(r.makespan_s, 4.75, 1e-12);
    kvt_model_destroy(m);
}

/*
 * Two instances A and B (both free at first), each request to the instance that frees first:
 *   r0 t=0    in 2000, T1 2000         service 2.5   A: 0 -> 2.5               wait 0
 *   r1 t=1.0  in 500,  T1 500          service 1.0   B: 1.0 -> 2.0             wait 0
 *   r2 t=1.5  in 500, T0 250, T1 250   service 0.75  B frees first (2.0 < 2.5): 2.0 -> 2.75,
 *                                                    wait 0.5
 *   r3 t=1.6  in 100, T0 100           service 0.5   A frees first (2.5 < 2.75): 2.5 -> 3.0,
 *                                                    wait 0.9
 * TTFT 2.5, 1.0, 1.25, 1.4: mean 6.15 / 4 = 1.5375; sorted 1.0 1.25 1.4 2.5:
 * p50 ceil(2) - 1 = 1 -> 1.25; p90 ceil(3.6) - 1 = 3 -> 2.5; p99 -> 2.5.
 * queue mean (0 + 0 + 0.5 + 0.9) / 4 = 0.35; busy 2.5 + 1 + 0.75 + 0.5 = 4.75; makespan 3.0;
 * utilization 4.75 / (2 x 3.0) = 0.791667; tokens 3100 / 3 = 1033.333 /s;
 * fetch 2 + 0.5 + 0.25 = 2.75; prefill 4 x 0.5 = 2.0.
 */
static void test_queue_two_instances(void **state)
{
    kvt_model_t *m = catalog("llama-3.1-8b");
    kvt_node_desc_t node;
    kvt_proj_opts_t o;
    kvt_proj_result_t r;
    kvt_error_t err;
    (void)state;
    make_node(&node, 2);
    queue_opts(&o, m, &node);
    kvt_proj_request_t q[4] = {
        {.t_us = 0, .input_tokens = 2000, .hit_tokens = {0, 2000}},
        {.t_us = 1 * US, .input_tokens = 500, .hit_tokens = {0, 500}},
        {.t_us = 1500000, .input_tokens = 500, .hit_tokens = {250, 250}},
        {.t_us = 1600000, .input_tokens = 100, .hit_tokens = {100}},
    };
    assert_int_equal(kvt_project(q, 4, &o, &r, &err), KVT_OK);
    near(r.ttft_mean_s, 1.5375, 1e-12);
    near(r.ttft_p50_s, 1.25, 1e-12);
    near(r.ttft_p90_s, 2.5, 1e-12);
    near(r.ttft_p99_s, 2.5, 1e-12);
    near(r.queue_mean_s, 0.35, 1e-12);
    near(r.busy_s, 4.75, 1e-12);
    near(r.makespan_s, 3.0, 1e-12);
    near(r.utilization, 4.75 / 6.0, 1e-12);
    near(r.tokens_per_s, 3100.0 / 3.0, 1e-12);
    near(r.fetch_s, 2.75, 1e-12);
    near(r.prefill_gpu_s, 2.0, 1e-12);
    kvt_model_destroy(m);
}

/*
 * Pipelining. llama-3.1-8b (L = 32), overhead 0, efficiency 1 / 989.4 so the rate is 1e12 FLOP/s,
 * kv_bytes_per_token 131072. T1 dram layerwise, T2 nvme not; both 10 GB/s and 100 us.
 * Each request: 1100 tokens, 1000 cached, 100 new:
 *   compute = FLOPs(100, 1000) / 1e12, FLOPs(100, 1000) = 2 x 8.03e9 x 100
 *   + 524288 x (100 x 1000 + 100^2 / 2) = 1606000000000 + 55050240000 = 1661050240000
 *   -> 1.66105024 s.
 *   a fetch of 1000 tokens: 1e-4 + 131072000 / 1e10 = 0.0132072 s; of 500: 0.0066536 s.
 */
static double one_request(const kvt_proj_opts_t *o, kvt_proj_request_t q, kvt_proj_result_t *r)
{
    kvt_error_t err;
    assert_int_equal(kvt_project(&q, 1, o, r, &err), KVT_OK);
    return r->ttft_mean_s;
}

static void test_pipelining(void **state)
{
    kvt_model_t *m = catalog("llama-3.1-8b");
    kvt_node_desc_t node;
    kvt_proj_opts_t o;
    kvt_proj_result_t r;
    (void)state;
    make_node(&node, 1);
    node.tiers[1].read_GBps = node.tiers[2].read_GBps = 10;
    node.tiers[1].latency_us = node.tiers[2].latency_us = 100;
    node.tiers[1].layerwise = true;
    kvt_proj_opts_init(&o);
    o.model = m;
    o.node = &node;
    o.kv_bytes_per_token = 131072;
    o.overhead_s = 0;
    o.efficiency = 1 / 989.4;

    /* layerwise T1 hidden under compute but for one layer: 1.66105024 + 0.0132072 / 32
     * = 1.66105024 + 0.000412725 = 1.661462965 */
    kvt_proj_request_t q = {.t_us = 0, .input_tokens = 1100, .hit_tokens = {0, 1000}};
    near(one_request(&o, q, &r), 1.661462965, 1e-9);
    near(r.prefill_gpu_s, 1.66105024, 1e-9);
    near(r.fetch_s, 0.0132072, 1e-9);
    near(r.busy_s, 1.661462965, 1e-9);

    /* non-layerwise T2 added in full: 0.0132072 + 1.66105024 = 1.67425744 */
    q = (kvt_proj_request_t){.t_us = 0, .input_tokens = 1100, .hit_tokens = {0, 0, 1000}};
    near(one_request(&o, q, &r), 1.67425744, 1e-9);
    near(r.fetch_s, 0.0132072, 1e-9);

    /* both: F_b = F_l = 0.0066536: 0.0066536 + 1.66105024 + 0.0066536 / 32 (= 0.000207925)
     * = 1.667911765; fetch 0.0133072 */
    q = (kvt_proj_request_t){.t_us = 0, .input_tokens = 1100, .hit_tokens = {0, 500, 500}};
    near(one_request(&o, q, &r), 1.667911765, 1e-9);
    near(r.fetch_s, 0.0133072, 1e-9);

    /* fetch-bound: T1 at 0.01 GB/s: F_l = 1e-4 + 131072000 / 1e7 = 13.1073 s; compute is hidden
     * but for one layer: 13.1073 + 1.66105024 / 32 (= 0.05190782) = 13.15920782 */
    node.tiers[1].read_GBps = 0.01;
    q = (kvt_proj_request_t){.t_us = 0, .input_tokens = 1100, .hit_tokens = {0, 1000}};
    near(one_request(&o, q, &r), 13.15920782, 1e-9);

    /* T0 hits only, nothing new: the overhead alone (here 0.25 s), no fetch */
    o.overhead_s = 0.25;
    q = (kvt_proj_request_t){.t_us = 0, .input_tokens = 1100, .hit_tokens = {1100}};
    near(one_request(&o, q, &r), 0.25, 1e-12);
    assert_true(r.fetch_s == 0.0);
    kvt_model_destroy(m);
}

/*
 * Percentiles: as many instances as requests (no waiting), overhead 0, every request wholly
 * cached in T1 (1 GB/s, 1e6 B per token), so TTFT = T1 hits / 1000 s = k s, k in a shuffled
 * order. p-quantile = value at index ceil(p n) - 1 of the sorted TTFTs.
 *   n = 100, k = (37 i mod 100) + 1 (a permutation of 1..100): p50 index 49 -> 50,
 *     p90 index 89 -> 90, p99 index 98 -> 99; mean 50.5; busy 5050, makespan 100,
 *     utilization 5050 / (100 x 100) = 0.505.
 *   n = 10, k = (3 i mod 10) + 1: p50 index 4 -> 5 (not the interpolated 5.5), p90 index 8 -> 9,
 *     p99 ceil(9.9) - 1 = 9 -> 10.
 *   n = 7, k = (3 i mod 7) + 1: p50 ceil(3.5) - 1 = 3 -> 4, p90 ceil(6.3) - 1 = 6 -> 7, p99 -> 7.
 *   n = 1: every quantile is the one value.
 */
static void run_sample(size_t n, unsigned mult, kvt_proj_result_t *r)
{
    kvt_model_t *m = catalog("llama-3.1-8b");
    kvt_node_desc_t node;
    kvt_proj_opts_t o;
    kvt_proj_request_t q[100];
    kvt_error_t err;
    make_node(&node, (uint32_t)n);
    queue_opts(&o, m, &node);
    o.overhead_s = 0;
    memset(q, 0, sizeof(q));
    for (size_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)((mult * i) % n) + 1;
        q[i].t_us = 0;
        q[i].input_tokens = k * 1000;
        q[i].hit_tokens[1] = k * 1000;
    }
    assert_int_equal(kvt_project(q, n, &o, r, &err), KVT_OK);
    kvt_model_destroy(m);
}

static void test_percentiles(void **state)
{
    kvt_proj_result_t r;
    (void)state;
    run_sample(100, 37, &r);
    near(r.ttft_p50_s, 50, 1e-12);
    near(r.ttft_p90_s, 90, 1e-12);
    near(r.ttft_p99_s, 99, 1e-12);
    near(r.ttft_mean_s, 50.5, 1e-12);
    near(r.busy_s, 5050, 1e-12);
    near(r.makespan_s, 100, 1e-12);
    near(r.utilization, 0.505, 1e-12);
    assert_true(r.queue_mean_s == 0.0);
    run_sample(10, 3, &r);
    near(r.ttft_p50_s, 5, 1e-12);
    near(r.ttft_p90_s, 9, 1e-12);
    near(r.ttft_p99_s, 10, 1e-12);
    run_sample(7, 3, &r);
    near(r.ttft_p50_s, 4, 1e-12);
    near(r.ttft_p90_s, 7, 1e-12);
    near(r.ttft_p99_s, 7, 1e-12);
    run_sample(1, 1, &r);
    near(r.ttft_p50_s, 1, 1e-12);
    near(r.ttft_p90_s, 1, 1e-12);
    near(r.ttft_p99_s, 1, 1e-12);
}

/* Expect KVT_ERR_INVALID with `needle` in the message and the result untouched. */
static void expect_invalid(const kvt_proj_request_t *q, size_t n, const kvt_proj_opts_t *o,
                           const char *needle)
{
    kvt_proj_result_t r;
    kvt_error_t err;
    memset(&r, 0x5a, sizeof(r));
    memset(&err, 0, sizeof(err));
    assert_int_equal(kvt_project(q, n, o, &r, &err), KVT_ERR_INVALID);
    if (strstr(err.message, needle) == NULL) {
        fail_msg("message \"%s\" does not name \"%s\"", err.message, needle);
    }
    assert_int_equal(((unsigned char *)&r)[0], 0x5a);
    assert_int_equal(r.requests, 0x5a5a5a5a5a5a5a5aull);
}

static void test_validation(void **state)
{
    kvt_model_t *m = catalog("llama-3.1-8b");
    kvt_node_desc_t node;
    kvt_proj_opts_t o, good;
    kvt_proj_result_t r;
    kvt_error_t err;
    (void)state;
    make_node(&node, 1);
    kvt_proj_opts_init(&good);
    good.model = m;
    good.node = &node;
    good.kv_bytes_per_token = 131072;
    kvt_proj_request_t q[3] = {
        {.t_us = 10, .input_tokens = 100, .hit_tokens = {10, 20, 30}},
        {.t_us = 10, .input_tokens = 100},
        {.t_us = 20, .input_tokens = 100},
    };
    assert_int_equal(kvt_project(q, 3, &good, &r, &err), KVT_OK);
    /* no requests: fine, all zero */
    assert_int_equal(kvt_project(NULL, 0, &good, &r, &err), KVT_OK);
    assert_int_equal(r.requests, 0);
    assert_true(r.makespan_s == 0.0 && r.utilization == 0.0 && r.ttft_p99_s == 0.0);

    expect_invalid(q, 3, NULL, "options");
    o = good;
    o.opts_size = 0;
    expect_invalid(q, 3, &o, "opts_size");
    o.opts_size = sizeof(o) + 8;
    expect_invalid(q, 3, &o, "opts_size");
    o = good;
    o.model = NULL;
    expect_invalid(q, 3, &o, "model");
    o = good;
    o.node = NULL;
    expect_invalid(q, 3, &o, "node");
    o = good;
    o.kv_bytes_per_token = 0;
    expect_invalid(q, 3, &o, "kv_bytes_per_token");
    o = good;
    o.efficiency = 0;
    expect_invalid(q, 3, &o, "efficiency");
    o.efficiency = 1.5;
    expect_invalid(q, 3, &o, "efficiency");
    o.efficiency = NAN;
    expect_invalid(q, 3, &o, "efficiency");
    o = good;
    o.overhead_s = -0.001;
    expect_invalid(q, 3, &o, "overhead_s");
    o.overhead_s = INFINITY;
    expect_invalid(q, 3, &o, "overhead_s");

    /* the node */
    node.instances = 0;
    expect_invalid(q, 3, &good, "instances");
    node.instances = 1;
    node.gpu = NULL;
    expect_invalid(q, 3, &good, "gpu");
    node.gpu = kvt_gpu_find("h100-sxm");
    node.ntiers = 0;
    expect_invalid(q, 3, &good, "ntiers");
    node.ntiers = KVT_MAX_TIERS + 1;
    expect_invalid(q, 3, &good, "ntiers");
    node.ntiers = 3;
    node.tiers[2].read_GBps = 0;
    expect_invalid(q, 3, &good, "tiers[2].read_GBps");
    node.tiers[2].read_GBps = 1;
    node.tiers[1].latency_us = -1;
    expect_invalid(q, 3, &good, "tiers[1].latency_us");
    node.tiers[1].latency_us = 0;

    /* a model without a parameter count cannot be costed */
    kvt_model_t *cfg_model;
    static const char cfg[] = "{\"num_hidden_layers\": 2, \"hidden_size\": 256, "
                              "\"num_attention_heads\": 4, \"num_key_value_heads\": 2}";
    assert_int_equal(kvt_model_load_json(cfg, strlen(cfg), "tiny.json", &cfg_model, &err),
                     KVT_OK);
    o = good;
    o.model = cfg_model;
    expect_invalid(q, 3, &o, "parameter count");
    kvt_model_destroy(cfg_model);

    /* the result pointer and the requests */
    assert_int_equal(kvt_project(q, 3, &good, NULL, &err), KVT_ERR_INVALID);
    assert_non_null(strstr(err.message, "result_p"));
    expect_invalid(NULL, 1, &good, "reqs");
    q[2].t_us = 9; /* before request 1 (t = 10) */
    expect_invalid(q, 3, &good, "request 2");
    q[2].t_us = 20;
    q[1].hit_tokens[0] = 60;
    q[1].hit_tokens[2] = 41; /* 101 > 100 */
    expect_invalid(q, 3, &good, "request 1: hit tokens (101) exceed input_tokens (100)");
    q[1].hit_tokens[2] = 40; /* 100: allowed */
    assert_int_equal(kvt_project(q, 3, &good, &r, &err), KVT_OK);
    q[0].hit_tokens[3] = 1; /* the node has 3 tiers */
    expect_invalid(q, 3, &good, "request 0: 1 hit tokens in tier 3");
    kvt_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_init),
        cmocka_unit_test(test_flops_llama),
        cmocka_unit_test(test_calibration),
        cmocka_unit_test(test_flops_sliding),
        cmocka_unit_test(test_flops_mla),
        cmocka_unit_test(test_flops_chunked_linear),
        cmocka_unit_test(test_queue_one_instance),
        cmocka_unit_test(test_queue_two_instances),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
