/* The GPU catalog: every required device, with the memory its driver reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>
#include <string.h>

#define MIB (1ull << 20)

static void test_required_devices(void **state)
{
    (void)state;
    /* driver totals as nvidia-smi / rocm-smi print them on real machines */
    static const struct {
        const char *name;
        uint64_t bytes;
    } want[] = {
        {"h100-sxm", 81559 * MIB}, {"h100-pcie", 81559 * MIB}, {"h200", 143771 * MIB},
        {"b200", 183359 * MIB},    {"gb200", 189471 * MIB},    {"a100-40gb", 40960 * MIB},
        {"a100-80gb", 81920 * MIB}, {"l40s", 46068 * MIB},     {"mi300x", 205822885888ull},
        {"mi325x", 256ull << 30},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const kvt_gpu_spec_t *g = kvt_gpu_find(want[i].name);
        assert_non_null(g);
        assert_int_equal(g->hbm_bytes, want[i].bytes);
    }
    assert_int_equal(kvt_gpu_count(), sizeof(want) / sizeof(want[0]));
}

static void test_entries_sane(void **state)
{
    (void)state;
    for (size_t i = 0; i < kvt_gpu_count(); i++) {
        const kvt_gpu_spec_t *g = kvt_gpu_at(i);
        assert_true(g->hbm_GBps > 500 && g->hbm_GBps < 20000);
        assert_true(g->bf16_tflops > 100 && g->bf16_tflops < 5000);
        assert_true(g->host_link_GBps >= 32);
        assert_true(g->usd_per_hour > 0 && g->usd_per_hour < 20);
        assert_true(strlen(g->display) > 0 && strlen(g->note) > 0);
        for (size_t j = i + 1; j < kvt_gpu_count(); j++) {
            assert_string_not_equal(g->name, kvt_gpu_at(j)->name);
        }
    }
    assert_null(kvt_gpu_at(kvt_gpu_count()));
}

static void test_find(void **state)
{
    (void)state;
    assert_ptr_equal(kvt_gpu_find("H100"), kvt_gpu_find("h100-sxm"));
    assert_ptr_equal(kvt_gpu_find("H200-SXM"), kvt_gpu_find("h200"));
    assert_ptr_equal(kvt_gpu_find("a100"), kvt_gpu_find("a100-80gb"));
    assert_null(kvt_gpu_find("h300"));
    assert_null(kvt_gpu_find(""));
    assert_null(kvt_gpu_find(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_devices),
        cmocka_unit_test(test_entries_sane),
        cmocka_unit_test(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
