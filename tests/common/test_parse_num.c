/* Strict number parsing for flags and files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/parse_num.h"

static void test_u64_forms(void **state)
{
    uint64_t v = 7;
    (void)state;
    assert_int_equal(kvt_parse_u64("0", &v), KVT_OK);
    assert_int_equal(v, 0);
    assert_int_equal(kvt_parse_u64("123", &v), KVT_OK);
    assert_int_equal(v, 123);
    assert_int_equal(kvt_parse_u64("32k", &v), KVT_OK);
    assert_int_equal(v, 32000);
    assert_int_equal(kvt_parse_u64("32Ki", &v), KVT_OK);
    assert_int_equal(v, 32768);
    assert_int_equal(kvt_parse_u64("3M", &v), KVT_OK);
    assert_int_equal(v, 3000000);
    assert_int_equal(kvt_parse_u64("2Gi", &v), KVT_OK);
    assert_int_equal(v, 2147483648ull);
    assert_int_equal(kvt_parse_u64("1T", &v), KVT_OK);
    assert_int_equal(v, 1000000000000ull);
    assert_int_equal(kvt_parse_u64("18446744073709551615", &v), KVT_OK);
    assert_true(v == UINT64_MAX);
}

static void test_u64_rejects(void **state)
{
    uint64_t v = 42;
    (void)state;
    static const char *const invalid[] = {"", "-1", "+1", " 1", "1 ", "1x", "k", "1kk", "0x10",
                                          "1.5", "1ki", "1K"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        assert_int_equal(kvt_parse_u64(invalid[i], &v), KVT_ERR_INVALID);
    }
    assert_int_equal(kvt_parse_u64(NULL, &v), KVT_ERR_INVALID);
    assert_int_equal(kvt_parse_u64("18446744073709551616", &v), KVT_ERR_OVERFLOW);
    assert_int_equal(kvt_parse_u64("18446744073709552k", &v), KVT_ERR_OVERFLOW);
    assert_int_equal(kvt_parse_u64("17179869184Gi", &v), KVT_ERR_OVERFLOW); /* 2^34 x 2^30 */
    assert_int_equal(v, 42); /* never written on failure */
}

static void test_double(void **state)
{
    double d = -1;
    (void)state;
    assert_int_equal(kvt_parse_double("0.9", &d), KVT_OK);
    assert_true(d == 0.9);
    assert_int_equal(kvt_parse_double("1e3", &d), KVT_OK);
    assert_true(d == 1000.0);
    assert_int_equal(kvt_parse_double("-2.5", &d), KVT_OK);
    assert_true(d == -2.5);
    d = 3;
    assert_int_not_equal(kvt_parse_double("", &d), KVT_OK);
    assert_int_not_equal(kvt_parse_double("abc", &d), KVT_OK);
    assert_int_not_equal(kvt_parse_double("1.0x", &d), KVT_OK);
    assert_int_not_equal(kvt_parse_double(" 1", &d), KVT_OK);
    assert_int_not_equal(kvt_parse_double("inf", &d), KVT_OK);
    assert_int_not_equal(kvt_parse_double("nan", &d), KVT_OK);
    assert_int_not_equal(kvt_parse_double("1e999", &d), KVT_OK);
    assert_true(d == 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64_forms),
        cmocka_unit_test(test_u64_rejects),
        cmocka_unit_test(test_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
