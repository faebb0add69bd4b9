/*
 * Capacity planning. Budgets are worked out in exact integer arithmetic by hand:
 * usable = floor(driver memory x 0.9), weights = params x bytes per weight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>
#include <string.h>

#define GIB (1ull << 30)

static void plan_for(const char *model, const char *gpu, uint32_t tp, kvt_plan_t *p,
                     kvt_sizing_t **s_p, kvt_model_t **m_p)
{
    kvt_size_opts_t so;
    kvt_plan_opts_t po;
    kvt_error_t err;
    assert_int_equal(kvt_model_load_catalog(model, m_p, &err), KVT_OK);
    kvt_size_opts_init(&so);
    so.tp = tp;
    assert_int_equal(kvt_size_compute(*m_p, &so, s_p, &err), KVT_OK);
    kvt_plan_opts_init(&po);
    po.gpu = kvt_gpu_find(gpu);
    assert_non_null(po.gpu);
    assert_int_equal(kvt_plan_compute(*m_p, *s_p, &po, p, &err), KVT_OK);
}

static void test_llama8b_h100(void **state)
{
    kvt_plan_t p;
    kvt_sizing_t *s;
    kvt_model_t *m;
    (void)state;
    plan_for("llama-3.1-8b", "h100-sxm", 1, &p, &s, &m);
    /* H100: 81559 MiB = 85520809984 B; x 0.9 = 76968728985.6 -> 76968728985 */
    assert_int_equal(p.usable_bytes_per_gpu, 76968728985ull);
    /* 8.03e9 parameters x 2 B (bf16) */
    assert_int_equal(p.weights_bytes, 16060000000ull);
    assert_int_equal(p.weights_bytes_per_gpu, 16060000000ull);
    /* budget = 76968728985 - 16060000000 - 2 GiB (2147483648) = 58761245337 */
    assert_true(p.fits);
    assert_int_equal(p.kv_budget_bytes_per_gpu, 58761245337ull);
    /* tokens = 58761245337 / 131072 = 448312; sequences of 32768 tokens: / 4 GiB = 13 */
    assert_int_equal(p.tokens_per_gpu, 448312);
    assert_int_equal(p.max_sequences, 13);
    assert_int_equal(p.naive_max_sequences, 13);
    assert_true(p.batch_ratio == 1.0);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
}

static void test_deepseek_h200_tp8(void **state)
{
    kvt_plan_t p;
    kvt_sizing_t *s;
    kvt_model_t *m;
    (void)state;
    plan_for("deepseek-v3", "h200", 8, &p, &s, &m);
    /* H200: 143771 MiB = 150754820096 B; x 0.9 = 135679338086.4 -> 135679338086 */
    assert_int_equal(p.usable_bytes_per_gpu, 135679338086ull);
    /* 671e9 parameters in fp8 = 671e9 B; / 8 GPUs = 83875000000 */
    assert_int_equal(p.weights_bytes_per_gpu, 83875000000ull);
    assert_int_equal(p.gpus, 8);
    /* budget = 135679338086 - 83875000000 - 2147483648 = 49656854438 */
    assert_int_equal(p.kv_budget_bytes_per_gpu, 49656854438ull);
    /* exact: latent replicated, 61 x 1152 = 70272 B per token per GPU;
     * 49656854438 / 70272 = 706637 tokens; / (70272 x 32768 = 2302672896) = 21 sequences */
    assert_int_equal(p.tokens_per_gpu, 706637);
    assert_int_equal(p.max_sequences, 21);
    /* naive: 20468203520 B per sequence per GPU -> 2 sequences; ratio 21 / 2 */
    assert_int_equal(p.naive_max_sequences, 2);
    assert_true(p.batch_ratio == 10.5);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
}

static void test_mxfp4_and_no_fit(void **state)
{
    kvt_plan_t p;
    kvt_sizing_t *s;
    kvt_model_t *m;
    (void)state;
    /* gpt-oss-120b: 117e9 x 4.25 bits / 8 = 62156250000 B */
    plan_for("gpt-oss-120b", "h100", 1, &p, &s, &m);
    assert_int_equal(p.weights_bytes, 62156250000ull);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
    /* Llama 3.1 405B in bf16 (810 GB) on one 80 GB H100 does not fit: no budget, no sequences */
    plan_for("llama-3.1-405b", "h100-sxm", 1, &p, &s, &m);
    assert_false(p.fits);
    assert_int_equal(p.kv_budget_bytes_per_gpu, 0);
    assert_int_equal(p.max_sequences, 0);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
}

static void test_options(void **state)
{
    kvt_model_t *m;
    kvt_sizing_t *s;
    kvt_plan_opts_t po;
    kvt_plan_t p;
    kvt_error_t err;
    (void)state;
    /* a config file has no parameter count: the weights must be given */
    static const char cfg[] = "{\"num_hidden_layers\": 2, \"hidden_size\": 256, "
                              "\"num_attention_heads\": 4, \"num_key_value_heads\": 2}";
    assert_int_equal(kvt_model_load_json(cfg, strlen(cfg), "tiny.json", &m, &err), KVT_OK);
    assert_int_equal(kvt_size_compute(m, NULL, &s, &err), KVT_OK);
    kvt_plan_opts_init(&po);
    po.gpu = kvt_gpu_find("a100-40gb");
    assert_int_equal(kvt_plan_compute(m, s, &po, &p, &err), KVT_ERR_INVALID);
    assert_non_null(strstr(err.message, "parameter count"));
    /* with 1e9 parameters in bf16: A100 40 GB = 40960 MiB = 42949672960 B;
     * x 0.5 = 21474836480; - 2e9 - 1 GiB (1073741824) = 18401094656; a token costs
     * 2 layers x 2 heads x (64 + 64) x 2 B = 1024 B -> 17969819 tokens */
    po.params = 1e9;
    po.mem_util = 0.5;
    po.activation_reserve_bytes = GIB;
    assert_int_equal(kvt_plan_compute(m, s, &po, &p, &err), KVT_OK);
    assert_int_equal(p.kv_budget_bytes_per_gpu, 18401094656ull);
    assert_int_equal(p.tokens_per_gpu, 17969819);
    /* explicit weights size wins over parameters */
    po.weights_bytes = 10 * GIB;
    assert_int_equal(kvt_plan_compute(m, s, &po, &p, &err), KVT_OK);
    assert_int_equal(p.weights_bytes, 10 * GIB);
    /* bad utilisation and missing GPU */
    po.mem_util = 1.5;
    assert_int_equal(kvt_plan_compute(m, s, &po, &p, &err), KVT_ERR_INVALID);
    po.mem_util = 0.9;
    po.gpu = NULL;
    assert_int_equal(kvt_plan_compute(m, s, &po, &p, &err), KVT_ERR_INVALID);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama8b_h100),
        cmocka_unit_test(test_deepseek_h200_tp8),
        cmocka_unit_test(test_mxfp4_and_no_fit),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
