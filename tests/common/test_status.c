/* Status table and error reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>
#include <string.h>

#include "common/error.h"

static void test_status_strings(void **state)
{
    (void)state;
    assert_int_equal(KVT_OK, 0);
    assert_true(KVT_INPROGRESS > 0);
    assert_true(KVT_ERR_INVALID < 0);
    assert_string_equal(kvt_status_name(KVT_OK), "KVT_OK");
    assert_string_equal(kvt_status_name(KVT_ERR_PARSE), "KVT_ERR_PARSE");
    assert_string_equal(kvt_status_str(KVT_ERR_NO_MEMORY), "out of memory");
    assert_string_equal(kvt_status_str((kvt_status_t)-999), "unknown status");
    assert_string_equal(kvt_status_name((kvt_status_t)42), "KVT_STATUS_UNKNOWN");
}

/* Every status has a distinct name and message (the X-macro cannot drift). */
static void test_status_distinct(void **state)
{
    static const kvt_status_t all[] = {
#define X_(name, value, msg) name,
        KVT_STATUS_MAP(X_)
#undef X_
    };
    (void)state;
    size_t n = sizeof(all) / sizeof(all[0]);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            assert_int_not_equal(all[i], all[j]);
            assert_string_not_equal(kvt_status_name(all[i]), kvt_status_name(all[j]));
            assert_string_not_equal(kvt_status_str(all[i]), kvt_status_str(all[j]));
        }
    }
}

static void test_error_set(void **state)
{
    kvt_error_t err;
    (void)state;
    memset(&err, 0, sizeof(err));
    assert_int_equal(kvt_error_set(&err, KVT_ERR_INVALID, "%s: %d", "field", 7), KVT_ERR_INVALID);
    assert_int_equal(err.status, KVT_ERR_INVALID);
    assert_string_equal(err.message, "field: 7");
    /* a NULL error report is allowed and the status still comes back */
    assert_int_equal(kvt_error_set(NULL, KVT_ERR_IO, "x"), KVT_ERR_IO);
    /* long messages are truncated, not overflowed */
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    kvt_error_set(&err, KVT_ERR_PARSE, "%s", big);
    assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
    /* one line whatever the quoted input holds: a newline, a tab, an escape, DEL */
    kvt_error_set(&err, KVT_ERR_PARSE, "f.json: \"%s\": unknown key", "a\nb\tc\x1b[31md\x7f");
    assert_string_equal(err.message, "f.json: \"a?b?c?[31md?\": unknown key");
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(kvt_version(), KVT_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_status_distinct),
        cmocka_unit_test(test_error_set),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
