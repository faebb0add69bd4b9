/*
 * Tensor, pipeline and data-parallel sharding of the KV cache. Every expected value is worked
 * out by hand from the catalog configs (data/models/) in the comments beside it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>
#include <string.h>

static kvt_model_t *load(const char *name)
{
    kvt_model_t *m = NULL;
    kvt_error_t err;
    assert_int_equal(kvt_model_load_catalog(name, &m, &err), KVT_OK);
    return m;
}

static kvt_sizing_t *size_tp(kvt_model_t *m, uint32_t tp, uint32_t pp, bool dp)
{
    kvt_size_opts_t o;
    kvt_sizing_t *s = NULL;
    kvt_error_t err;
    kvt_size_opts_init(&o);
    o.tp = tp;
    o.pp = pp;
    o.dp_attention = dp;
    kvt_status_t st = kvt_size_compute(m, &o, &s, &err);
    if (st != KVT_OK) {
        fail_msg("%s", err.message);
    }
    return s;
}

static kvt_status_t size_status(kvt_model_t *m, uint32_t tp, uint32_t pp, kvt_error_t *err)
{
    kvt_size_opts_t o;
    kvt_sizing_t *s = (kvt_sizing_t *)0x1;
    kvt_size_opts_init(&o);
    o.tp = tp;
    o.pp = pp;
    kvt_status_t st = kvt_size_compute(m, &o, &s, err);
    if (st != KVT_OK) {
        assert_ptr_equal(s, (kvt_sizing_t *)0x1); /* untouched on failure */
    } else {
        kvt_sizing_destroy(s);
    }
    return st;
}

/* Llama 3.1 70B: 80 layers, 8 KV heads of 128; one head costs (128 + 128) x 2 B = 512 B. */
static void test_gqa_tensor_parallel(void **state)
{
    (void)state;
    kvt_model_t *m = load("llama-3.1-70b");
    /* TP 2: 4 heads per rank; per GPU 80 x 4 x 512 = 163840; replica unchanged 327680 */
    kvt_sizing_t *s = size_tp(m, 2, 1, false);
    assert_int_equal(s->kv_heads_per_rank, 4);
    assert_int_equal(s->kv_head_replicas, 1);
    assert_int_equal(s->gpu_kv_bytes_per_token, 163840);
    assert_int_equal(s->kv_bytes_per_token, 327680);
    /* per GPU sequence at 32768 tokens: 163840 x 32768 */
    assert_int_equal(s->gpu_sequence_bytes, 163840ull * 32768);
    kvt_sizing_destroy(s);
    /* TP 8: one head per rank: 80 x 512 = 40960 per GPU, replica 8 x 40960 = 327680 */
    s = size_tp(m, 8, 1, false);
    assert_int_equal(s->kv_heads_per_rank, 1);
    assert_int_equal(s->gpu_kv_bytes_per_token, 40960);
    assert_int_equal(s->kv_bytes_per_token, 327680);
    kvt_sizing_destroy(s);
    /* TP 16 > 8 KV heads: every head twice; replica 16 x 40960 = 655360 */
    s = size_tp(m, 16, 1, false);
    assert_int_equal(s->kv_heads_per_rank, 1);
    assert_int_equal(s->kv_head_replicas, 2);
    assert_int_equal(s->gpu_kv_bytes_per_token, 40960);
    assert_int_equal(s->kv_bytes_per_token, 655360);
    kvt_sizing_destroy(s);
    /* TP 3 and TP 12 neither divide 8 nor are multiples of it */
    kvt_error_t err;
    assert_int_equal(size_status(m, 3, 1, &err), KVT_ERR_INVALID);
    assert_non_null(strstr(err.message, "tp (3)"));
    assert_int_equal(size_status(m, 12, 1, &err), KVT_ERR_INVALID);
    kvt_model_destroy(m);
}

/* DeepSeek-V3: 61 MLA layers, latent 512 + 64 = 576 elements = 1152 B per token per layer. */
static void test_mla_replication(void **state)
{
    (void)state;
    kvt_model_t *m = load("deepseek-v3");
    kvt_sizing_t *s = size_tp(m, 8, 1, false);
    /* every one of 8 ranks keeps 61 x 1152 = 70272 B per token: replica 562176 */
    assert_true(s->latent_replicated);
    assert_int_equal(s->gpu_kv_bytes_per_token, 70272);
    assert_int_equal(s->kv_bytes_per_token, 8 * 70272);
    assert_int_equal(s->sequence_groups, 1);
    /* naive per GPU: 61 x 128 x (192 + 128) x 2 B x 32768 tokens / 8 = 20468203520 */
    assert_int_equal(s->gpu_naive_sequence_bytes_paged, 20468203520ull);
    kvt_sizing_destroy(s);
    /* data-parallel attention: one latent per sequence, 8 independent sequence sets */
    s = size_tp(m, 8, 1, true);
    assert_false(s->latent_replicated);
    assert_int_equal(s->gpu_kv_bytes_per_token, 70272);
    assert_int_equal(s->kv_bytes_per_token, 70272);
    assert_int_equal(s->sequence_groups, 8);
    kvt_sizing_destroy(s);
    /* TP 1: no replication */
    s = size_tp(m, 1, 1, false);
    assert_false(s->latent_replicated);
    assert_int_equal(s->kv_bytes_per_token, 70272);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
}

/* Llama 3.1 8B: 32 layers of 8 x 512 = 4096 B per token. */
static void test_pipeline_partition(void **state)
{
    (void)state;
    kvt_model_t *m = load("llama-3.1-8b");
    /* PP 3: 32 / 3 = 10 each, remainder 2 to the two stages before the last: 11, 11, 10 */
    kvt_sizing_t *s = size_tp(m, 1, 3, false);
    assert_int_equal(s->num_stages, 3);
    assert_int_equal(s->stages[0].first_layer, 0);
    assert_int_equal(s->stages[0].num_layers, 11);
    assert_int_equal(s->stages[1].first_layer, 11);
    assert_int_equal(s->stages[1].num_layers, 11);
    assert_int_equal(s->stages[2].first_layer, 22);
    assert_int_equal(s->stages[2].num_layers, 10);
    assert_int_equal(s->stages[2].gpu_kv_bytes_per_token, 10 * 4096);
    assert_int_equal(s->layers[21].stage, 1);
    assert_int_equal(s->layers[22].stage, 2);
    /* the most loaded GPU holds 11 layers */
    assert_int_equal(s->gpu_kv_bytes_per_token, 11 * 4096);
    assert_int_equal(s->gpu_sequence_bytes, 11ull * 4096 * 32768);
    /* replica unchanged */
    assert_int_equal(s->kv_bytes_per_token, 32 * 4096);
    kvt_sizing_destroy(s);
    /* PP 5: 6 each, remainder 2 to stages 3 and 2: 6, 6, 7, 7, 6 */
    s = size_tp(m, 1, 5, false);
    uint32_t expect[] = {6, 6, 7, 7, 6};
    for (int k = 0; k < 5; k++) {
        assert_int_equal(s->stages[k].num_layers, expect[k]);
    }
    kvt_sizing_destroy(s);
    /* PP 4 x TP 2: 8 layers per stage, 4 heads per rank: 8 x 4 x 512 = 16384 per GPU */
    s = size_tp(m, 2, 4, false);
    assert_int_equal(s->gpu_kv_bytes_per_token, 16384);
    kvt_sizing_destroy(s);
    kvt_error_t err;
    assert_int_equal(size_status(m, 1, 33, &err), KVT_ERR_INVALID);
    assert_int_equal(size_status(m, 1, 0, &err), KVT_ERR_INVALID);
    kvt_model_destroy(m);
}

/* Linear-attention and Mamba states split over TP ranks. */
static void test_state_split(void **state)
{
    (void)state;
    /* Jamba: 28 Mamba layers; d_inner = 2 x 4096 = 8192; per layer (8192 x 16 + 8192 x 3)
     * elements x 2 B = 311296 B; TP 2 halves it per GPU, replica unchanged 28 x 311296 */
    kvt_model_t *m = load("jamba-v0.1");
    kvt_sizing_t *s = size_tp(m, 2, 1, false);
    assert_int_equal(s->state_bytes, 28ull * 311296);
    /* per GPU: 4 attention layers x 4 heads x 512 B x 32768 + 28 x 311296 / 2 */
    assert_int_equal(s->gpu_sequence_bytes, 4ull * 4 * 512 * 32768 + 28ull * 311296 / 2);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* Qwen3-Next: 2 KV heads, 32 linear value heads. TP 64 is a multiple of the KV heads but
     * does not divide the 32 value heads of the linear layers: rejected */
    m = load("qwen3-next-80b-a3b");
    kvt_error_t err;
    assert_int_equal(size_status(m, 64, 1, &err), KVT_ERR_INVALID);
    assert_non_null(strstr(err.message, "linear"));
    assert_int_equal(size_status(m, 4, 1, &err), KVT_OK);
    kvt_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gqa_tensor_parallel),
        cmocka_unit_test(test_mla_replication),
        cmocka_unit_test(test_pipeline_partition),
        cmocka_unit_test(test_state_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
