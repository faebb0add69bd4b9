/* Data types: names and the bytes a vector costs, worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>

static void test_parse_and_names(void **state)
{
    kvt_dtype_t d = KVT_DTYPE_AUTO;
    (void)state;
    static const struct {
        const char *name;
        kvt_dtype_t dtype;
    } ok[] = {
        {"bf16", KVT_DTYPE_BF16},      {"BFloat16", KVT_DTYPE_BF16},  {"fp16", KVT_DTYPE_FP16},
        {"float16", KVT_DTYPE_FP16},   {"half", KVT_DTYPE_FP16},      {"float32", KVT_DTYPE_FP32},
        {"fp8", KVT_DTYPE_FP8_E4M3},   {"fp8_e5m2", KVT_DTYPE_FP8_E5M2},
        {"int8", KVT_DTYPE_INT8},      {"INT4", KVT_DTYPE_INT4},      {"mxfp4", KVT_DTYPE_MXFP4},
        {"auto", KVT_DTYPE_AUTO},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(kvt_dtype_parse(ok[i].name, &d), KVT_OK);
        assert_int_equal(d, ok[i].dtype);
    }
    assert_int_equal(kvt_dtype_parse("fp7", &d), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_dtype_parse("", &d), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_dtype_parse(NULL, &d), KVT_ERR_NOT_FOUND);
    /* names parse back to themselves */
    for (int t = KVT_DTYPE_AUTO; t <= KVT_DTYPE_MXFP4; t++) {
        assert_int_equal(kvt_dtype_parse(kvt_dtype_name((kvt_dtype_t)t), &d), KVT_OK);
        assert_int_equal(d, t);
    }
    assert_int_equal(kvt_dtype_bits(KVT_DTYPE_BF16), 16);
    assert_int_equal(kvt_dtype_bits(KVT_DTYPE_FP32), 32);
    assert_int_equal(kvt_dtype_bits(KVT_DTYPE_INT4), 4);
    assert_int_equal(kvt_dtype_bits(KVT_DTYPE_AUTO), 0);
    assert_false(kvt_dtype_is_quantized(KVT_DTYPE_BF16));
    assert_true(kvt_dtype_is_quantized(KVT_DTYPE_FP8_E4M3));
}

static void test_vector_bytes(void **state)
{
    (void)state;
    /* 16-bit: 2 B per element, groups ignored */
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_BF16, 128, KVT_GROUP_DEFAULT), 256);
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_FP16, 576, 64), 1152);
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_FP32, 3, KVT_GROUP_DEFAULT), 12);
    /* fp8: per-tensor scale by default, nothing per token */
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_FP8_E4M3, 128, KVT_GROUP_DEFAULT), 128);
    /* fp8 with 128-element groups (DeepSeek-V3.2 indexer): 128 + one fp32 scale = 132 */
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_FP8_E4M3, 128, 128), 132);
    /* fp8, 576 elements in groups of 64: 576 + 9 x 4 = 612 */
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_FP8_E5M2, 576, 64), 612);
    /* fp8, 100 elements in groups of 64: 2 groups (ceil) -> 100 + 8 = 108 */
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_FP8_E4M3, 100, 64), 108);
    /* int8: per vector by default: 128 + fp16 scale + fp16 zero = 132 */
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_INT8, 128, KVT_GROUP_DEFAULT), 132);
    /* int4: 128 x 4 bits = 64 B + 4 = 68; groups of 32: 64 + 4 x 4 = 80 */
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_INT4, 128, KVT_GROUP_DEFAULT), 68);
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_INT4, 128, 32), 80);
    /* int4, 3 elements: 12 bits round up to 2 B, + 4 */
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_INT4, 3, KVT_GROUP_VECTOR), 6);
    /* int8 with a per-tensor group: payload only */
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_INT8, 128, KVT_GROUP_TENSOR), 128);
    /* mxfp4: 64 elements = 32 B + 2 e8m0 scales */
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_MXFP4, 64, KVT_GROUP_DEFAULT), 34);
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_INT8, 0, KVT_GROUP_DEFAULT), 0);
    assert_int_equal(kvt_dtype_vector_bytes(KVT_DTYPE_AUTO, 128, KVT_GROUP_DEFAULT), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_names),
        cmocka_unit_test(test_vector_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
