/* The JSON writer: exact integers, escaping, nesting, and all-or-nothing output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_writer.h"

static char *finish(kvt_json_t *w)
{
    char *text = NULL;
    assert_int_equal(kvt_json_finish(w, &text, NULL), KVT_OK);
    return text;
}

static void test_compact_document(void **state)
{
    kvt_json_t w;
    (void)state;
    kvt_json_init(&w, false);
    kvt_json_begin_object(&w, NULL);
    kvt_json_u64(&w, "max", UINT64_MAX);
    kvt_json_i64(&w, "neg", -5);
    kvt_json_double(&w, "util", 0.9);
    kvt_json_double(&w, "nan", 0.0 / 0.0);
    kvt_json_bool(&w, "t", true);
    kvt_json_null(&w, "n");
    kvt_json_begin_array(&w, "a");
    kvt_json_u64(&w, NULL, 1);
    kvt_json_begin_object(&w, NULL);
    kvt_json_end_object(&w);
    kvt_json_begin_array(&w, NULL);
    kvt_json_end_array(&w);
    kvt_json_end_array(&w);
    kvt_json_end_object(&w);
    char *text = finish(&w);
    /* expected text written out by hand */
    assert_string_equal(text, "{\"max\":18446744073709551615,\"neg\":-5,\"util\":0.9,"
                              "\"nan\":null,\"t\":true,\"n\":null,\"a\":[1,{},[]]}");
    free(text);
}

static void test_escaping(void **state)
{
    kvt_json_t w;
    (void)state;
    kvt_json_init(&w, false);
    kvt_json_begin_object(&w, NULL);
    kvt_json_str(&w, "k\"ey", "a\"b\\c\nd\te\x01" "f\xc3\xa9");
    kvt_json_end_object(&w);
    char *text = finish(&w);
    assert_string_equal(text, "{\"k\\\"ey\":\"a\\\"b\\\\c\\nd\\te\\u0001f\xc3\xa9\"}");
    /* and a real parser reads the original string back */
    cJSON *doc = cJSON_Parse(text);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, "k\"ey")->valuestring,
                        "a\"b\\c\nd\te\x01" "f\xc3\xa9");
    cJSON_Delete(doc);
    free(text);
}

static void test_pretty_parses(void **state)
{
    kvt_json_t w;
    (void)state;
    kvt_json_init(&w, true);
    kvt_json_begin_array(&w, NULL);
    for (int i = 0; i < 1000; i++) {
        kvt_json_begin_object(&w, NULL);
        kvt_json_u64(&w, "i", (uint64_t)i);
        kvt_json_double(&w, "half", i / 2.0);
        kvt_json_end_object(&w);
    }
    kvt_json_end_array(&w);
    char *text = finish(&w);
    assert_non_null(strchr(text, '\n'));
    cJSON *doc = cJSON_Parse(text);
    assert_non_null(doc);
    assert_int_equal(cJSON_GetArraySize(doc), 1000);
    cJSON *last = cJSON_GetArrayItem(doc, 999);
    assert_int_equal(cJSON_GetObjectItem(last, "i")->valueint, 999);
    assert_true(cJSON_GetObjectItem(last, "half")->valuedouble == 499.5);
    cJSON_Delete(doc);
    free(text);
}

/* Unbalanced or too deep documents fail at finish, and no text is handed out. */
static void test_misuse_fails(void **state)
{
    kvt_json_t w;
    char *text = NULL;
    (void)state;
    kvt_json_init(&w, false);
    kvt_json_begin_object(&w, NULL);
    assert_int_not_equal(kvt_json_finish(&w, &text, NULL), KVT_OK);
    assert_null(text);

    kvt_json_init(&w, false);
    for (int i = 0; i < KVT_JSON_MAX_DEPTH + 5; i++) {
        kvt_json_begin_array(&w, NULL);
    }
    assert_int_not_equal(kvt_json_finish(&w, &text, NULL), KVT_OK);
    assert_null(text);

    kvt_json_init(&w, false);
    kvt_json_end_object(&w);
    assert_int_not_equal(kvt_json_finish(&w, &text, NULL), KVT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_document),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_pretty_parses),
        cmocka_unit_test(test_misuse_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
