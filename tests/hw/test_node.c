/*
 * Node descriptions: the built-in h100-node, the committed file equal to it, custom nodes, and
 * every rule of the file format with the field named in the message. Expected figures are
 * derived by hand in the comments.
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

#define TIB (1ull << 40)
#define GIB (1ull << 30)

/*
 * llama-3.1-8b on one H100 SXM (tests/model/test_capacity.c): 81559 MiB = 85520809984 B;
 * x 0.9 = 76968728985 usable; - 8.03e9 x 2 B = 16060000000 weights; - 2 GiB (2147483648)
 * reserve = 58761245337 B of KV budget per GPU. Eight instances: 58761245337 x 8 = 470089962696.
 */
#define H100_NODE_HBM 470089962696ull

static char tmpdir[64];
static char tmppath[128];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kvt_test_node.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    snprintf(tmppath, sizeof(tmppath), "%s/node.json", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(tmppath);
    rmdir(tmpdir);
    return 0;
}

/* Write text to tmppath and load it. */
static kvt_status_t load_text(const char *text, kvt_node_desc_t *node, kvt_error_t *err)
{
    FILE *f = fopen(tmppath, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return kvt_node_load(tmppath, node, err);
}

/* The load fails with status, and the message holds "node.json: <needle>". */
static void expect_fail(const char *text, kvt_status_t status, const char *needle)
{
    kvt_node_desc_t node;
    kvt_error_t err;
    char want[256];

    memset(&node, 0x5a, sizeof(node));
    kvt_node_desc_t before = node;
    kvt_status_t st = load_text(text, &node, &err);
    if (st != status || strstr(err.message, needle) == NULL) {
        print_error("status %d, message \"%s\"; wanted %d and \"%s\"\n", st,
                    st == KVT_OK ? "" : err.message, status, needle);
        fail();
    }
    snprintf(want, sizeof(want), "node.json: %s", needle);
    if (status == KVT_ERR_INVALID && strstr(err.message, want) == NULL) {
        print_error("message \"%s\" does not name the file then the field: \"%s\"\n", err.message,
                    want);
        fail();
    }
    /* *node_p is written only on success */
    assert_memory_equal(&node, &before, sizeof(node));
}

static void expect_tier(const kvt_tier_desc_t *t, kvt_tier_kind_t kind, const char *name,
                        uint64_t capacity, double rd, double wr, double lat, bool layerwise)
{
    assert_int_equal(t->kind, kind);
    assert_string_equal(t->name, name);
    assert_int_equal(t->capacity_bytes, capacity);
    assert_true(t->read_GBps == rd);
    assert_true(t->write_GBps == wr);
    assert_true(t->latency_us == lat);
    assert_int_equal(t->layerwise, layerwise);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(kvt_tier_kind_name(KVT_TIER_HBM), "hbm");
    assert_string_equal(kvt_tier_kind_name(KVT_TIER_DRAM), "dram");
    assert_string_equal(kvt_tier_kind_name(KVT_TIER_CXL), "cxl");
    assert_string_equal(kvt_tier_kind_name(KVT_TIER_NVME), "nvme");
    assert_string_equal(kvt_tier_kind_name(KVT_TIER_POOL), "pool");
    assert_string_equal(kvt_tier_kind_name(KVT_TIER_PFS), "pfs");
    assert_string_equal(kvt_tier_kind_name((kvt_tier_kind_t)6), "?");
    assert_string_equal(kvt_tier_kind_name((kvt_tier_kind_t)-1), "?");
}

static void test_builtin(void **state)
{
    kvt_node_desc_t n;
    kvt_error_t err;
    (void)state;
    assert_int_equal(kvt_node_builtin("h100-node", &n, &err), KVT_OK);
    assert_string_equal(n.name, "h100-node");
    assert_ptr_equal(n.gpu, kvt_gpu_find("h100-sxm"));
    assert_int_equal(n.instances, 8);
    assert_string_equal(n.model, "llama-3.1-8b");
    assert_int_equal(n.ntiers, 6);
    /* HBM3 of the H100 SXM5: 3.35 TB/s */
    expect_tier(&n.tiers[0], KVT_TIER_HBM, "hbm", H100_NODE_HBM, 3350, 3350, 0, true);
    /* 2 TiB = 2^41 = 2199023255552 B */
    expect_tier(&n.tiers[1], KVT_TIER_DRAM, "dram", 2199023255552ull, 50, 50, 10, true);
    /* 1 TiB = 2^40 = 1099511627776 B */
    expect_tier(&n.tiers[2], KVT_TIER_CXL, "cxl", 1099511627776ull, 25, 25, 20, true);
    /* 30 TB = 30 x 10^12 */
    expect_tier(&n.tiers[3], KVT_TIER_NVME, "nvme", 30000000000000ull, 12, 8, 100, true);
    /* 16 TB = 16 x 10^12 */
    expect_tier(&n.tiers[4], KVT_TIER_POOL, "pool", 16000000000000ull, 40, 40, 20, true);
    /* 1 PB = 10^15 */
    expect_tier(&n.tiers[5], KVT_TIER_PFS, "pfs", 1000000000000000ull, 5, 3, 1000, false);

    /* names are case-insensitive, like the other catalogs */
    kvt_node_desc_t n2;
    assert_int_equal(kvt_node_builtin("H100-Node", &n2, &err), KVT_OK);
    assert_memory_equal(&n, &n2, sizeof(n));
}

static void test_builtin_unknown(void **state)
{
    kvt_node_desc_t n;
    kvt_error_t err;
    (void)state;
    memset(&n, 0, sizeof(n));
    assert_int_equal(kvt_node_builtin("h200-node", &n, &err), KVT_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "h200-node"));
    assert_non_null(strstr(err.message, "known: h100-node"));
    assert_int_equal(n.ntiers, 0);
    assert_int_equal(kvt_node_builtin(NULL, &n, &err), KVT_ERR_INVALID);
    assert_int_equal(kvt_node_builtin("h100-node", NULL, NULL), KVT_ERR_INVALID);
}

static void expect_same_node(const kvt_node_desc_t *a, const kvt_node_desc_t *b)
{
    assert_string_equal(a->name, b->name);
    assert_ptr_equal(a->gpu, b->gpu);
    assert_int_equal(a->instances, b->instances);
    assert_string_equal(a->model, b->model);
    assert_int_equal(a->ntiers, b->ntiers);
    for (uint32_t i = 0; i < a->ntiers; i++) {
        const kvt_tier_desc_t *x = &a->tiers[i], *y = &b->tiers[i];
        expect_tier(x, y->kind, y->name, y->capacity_bytes, y->read_GBps, y->write_GBps,
                    y->latency_us, y->layerwise);
    }
}

static void test_committed_file(void **state)
{
    const char *src = getenv("KVT_SOURCE_DIR");
    char path[1024];
    kvt_node_desc_t file, builtin;
    kvt_error_t err;
    (void)state;
    assert_non_null(src);
    snprintf(path, sizeof(path), "%s/data/nodes/h100-node.json", src);
    if (kvt_node_load(path, &file, &err) != KVT_OK) {
        print_error("%s\n", err.message);
        fail();
    }
    assert_int_equal(kvt_node_builtin("h100-node", &builtin, &err), KVT_OK);
    expect_same_node(&file, &builtin);
    assert_int_equal(file.tiers[0].capacity_bytes, H100_NODE_HBM);
}

static void test_custom_nodes(void **state)
{
    kvt_node_desc_t n;
    kvt_error_t err;
    (void)state;

    /* three tiers, skipping cxl; byte counts as integers and as suffixed strings; a GPU alias
     * and a model spelled in capitals resolve to the catalog's entries */
    static const char three[] =
        "{\"name\": \"small\", \"gpu\": \"h100\", \"instances\": 2, \"model\": \"Llama-3.1-8B\",\n"
        " \"tiers\": [\n"
        "  {\"kind\": \"hbm\", \"capacity\": 100000000000, \"read_GBps\": 3350,"
        "   \"write_GBps\": 3350, \"latency_us\": 0, \"layerwise\": true},\n"
        "  {\"kind\": \"dram\", \"capacity\": \"512Gi\", \"read_GBps\": 50.5,"
        "   \"write_GBps\": 45, \"latency_us\": 7.5, \"layerwise\": true},\n"
        "  {\"kind\": \"nvme\", \"capacity\": \"7680G\", \"read_GBps\": 6.5,"
        "   \"write_GBps\": 4, \"latency_us\": 80, \"layerwise\": false, \"prefault\": true}]}\n";
    if (load_text(three, &n, &err) != KVT_OK) {
        print_error("%s\n", err.message);
        fail();
    }
    assert_string_equal(n.name, "small");
    assert_ptr_equal(n.gpu, kvt_gpu_find("h100-sxm"));
    assert_int_equal(n.instances, 2);
    assert_string_equal(n.model, "llama-3.1-8b");
    assert_int_equal(n.ntiers, 3);
    expect_tier(&n.tiers[0], KVT_TIER_HBM, "hbm", 100000000000ull, 3350, 3350, 0, true);
    /* 512 GiB = 512 x 2^30 = 549755813888 B */
    expect_tier(&n.tiers[1], KVT_TIER_DRAM, "dram", 549755813888ull, 50.5, 45, 7.5, true);
    /* 7680 G = 7.68 x 10^12 B */
    expect_tier(&n.tiers[2], KVT_TIER_NVME, "nvme", 7680000000000ull, 6.5, 4, 80, false);
    /* "prefault" is optional: given on nvme only */
    assert_false(n.tiers[0].prefault);
    assert_false(n.tiers[1].prefault);
    assert_true(n.tiers[2].prefault);

    /* hbm only, "auto" on another GPU: H200 143771 MiB = 150754820096 B; x 0.9 =
     * 135679338086; - 16060000000 - 2147483648 = 117471854438 per GPU; x 2 = 234943708876 */
    static const char hbm_only[] =
        "{\"name\": \"h200-pair\", \"gpu\": \"h200\", \"instances\": 2, \"model\": "
        "\"llama-3.1-8b\","
        " \"tiers\": [{\"kind\": \"hbm\", \"capacity\": \"auto\", \"read_GBps\": 4800,"
        " \"write_GBps\": 4800, \"latency_us\": 0, \"layerwise\": true}]}";
    assert_int_equal(load_text(hbm_only, &n, &err), KVT_OK);
    assert_int_equal(n.ntiers, 1);
    expect_tier(&n.tiers[0], KVT_TIER_HBM, "hbm", 234943708876ull, 4800, 4800, 0, true);

    /* the last kinds only, and a capacity just at 2^53 as a JSON integer */
    static const char far[] =
        "{\"name\": \"far\", \"gpu\": \"a100-80gb\", \"instances\": 1, \"model\": \"qwen2.5-7b\","
        " \"tiers\": [{\"kind\": \"hbm\", \"capacity\": \"40Gi\", \"read_GBps\": 2039,"
        " \"write_GBps\": 2039, \"latency_us\": 0, \"layerwise\": true},"
        " {\"kind\": \"pool\", \"capacity\": 9007199254740992, \"read_GBps\": 25,"
        " \"write_GBps\": 25, \"latency_us\": 5, \"layerwise\": true},"
        " {\"kind\": \"pfs\", \"capacity\": \"2Ti\", \"read_GBps\": 1,"
        " \"write_GBps\": 1, \"latency_us\": 2000, \"layerwise\": false}]}";
    assert_int_equal(load_text(far, &n, &err), KVT_OK);
    assert_int_equal(n.ntiers, 3);
    expect_tier(&n.tiers[0], KVT_TIER_HBM, "hbm", 40 * GIB, 2039, 2039, 0, true);
    expect_tier(&n.tiers[1], KVT_TIER_POOL, "pool", 9007199254740992ull, 25, 25, 5, true);
    expect_tier(&n.tiers[2], KVT_TIER_PFS, "pfs", 2 * TIB, 1, 1, 2000, false);
}

/* Pieces of valid node texts: the tiers hbm, dram, nvme, and the top-level fields but "tiers". */
#define HBM                                                                                        \
    "{\"kind\": \"hbm\", \"capacity\": \"auto\", \"read_GBps\": 3350, "                            \
    "\"write_GBps\": 3350, \"latency_us\": 0, \"layerwise\": true}"
#define DRAM                                                                                       \
    "{\"kind\": \"dram\", \"capacity\": \"2Ti\", \"read_GBps\": 50, "                              \
    "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"
#define NVME                                                                                       \
    "{\"kind\": \"nvme\", \"capacity\": \"30T\", \"read_GBps\": 12, "                              \
    "\"write_GBps\": 8, \"latency_us\": 100, \"layerwise\": true}"
#define HEAD                                                                                       \
    "\"name\": \"n\", \"gpu\": \"h100-sxm\", \"instances\": 8, "                                   \
    "\"model\": \"llama-3.1-8b\""
#define NODE(tiers) "{" HEAD ", \"tiers\": [" tiers "]}"

static void test_file_errors(void **state)
{
    kvt_node_desc_t n;
    kvt_error_t err;
    (void)state;

    /* the base text is valid */
    assert_int_equal(load_text(NODE(HBM ", " DRAM ", " NVME), &n, &err), KVT_OK);
    assert_int_equal(n.tiers[0].capacity_bytes, H100_NODE_HBM);

    /* unreadable */
    assert_int_equal(kvt_node_load("/nonexistent/node.json", &n, &err), KVT_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/node.json: cannot open"));
    assert_int_equal(kvt_node_load(NULL, &n, &err), KVT_ERR_INVALID);

    /* not JSON: line 3, column 9 is the '"' where the ':' after "gpu" should be */
    expect_fail("{\n  \"name\": \"x\",\n  \"gpu\" \"h100\"\n}\n", KVT_ERR_PARSE, "node.json:3:9:");
    expect_fail("{\"name\": \"x\"", KVT_ERR_PARSE, "unexpected end of input");
    expect_fail("", KVT_ERR_PARSE, "empty");
    expect_fail("[1, 2]", KVT_ERR_PARSE, "expected a JSON object");

    /* top level: typos, missing and mistyped fields */
    expect_fail("{" HEAD ", \"instance\": 8, \"tiers\": [" HBM "]}", KVT_ERR_INVALID,
                "instance: unknown key");
    expect_fail("{" HEAD ", \"name\": \"m\", \"tiers\": [" HBM "]}", KVT_ERR_INVALID,
                "name: given twice");
    expect_fail("{\"gpu\": \"h100-sxm\", \"instances\": 8, \"model\": \"llama-3.1-8b\", "
                "\"tiers\": [" HBM "]}",
                KVT_ERR_INVALID, "name: missing");
    expect_fail("{\"name\": \"\", \"gpu\": \"h100-sxm\", \"instances\": 8, "
                "\"model\": \"llama-3.1-8b\", \"tiers\": [" HBM "]}",
                KVT_ERR_INVALID, "name: must not be empty");
    expect_fail("{\"name\": \"n\", \"gpu\": \"h300\", \"instances\": 8, "
                "\"model\": \"llama-3.1-8b\", \"tiers\": [" HBM "]}",
                KVT_ERR_INVALID, "gpu: unknown GPU \"h300\"");
    expect_fail("{\"name\": \"n\", \"gpu\": \"h100-sxm\", \"instances\": 0, "
                "\"model\": \"llama-3.1-8b\", \"tiers\": [" HBM "]}",
                KVT_ERR_INVALID, "instances: must be positive");
    expect_fail("{\"name\": \"n\", \"gpu\": \"h100-sxm\", \"instances\": 2.5, "
                "\"model\": \"llama-3.1-8b\", \"tiers\": [" HBM "]}",
                KVT_ERR_INVALID, "instances: expected a whole number");
    expect_fail("{\"name\": \"n\", \"gpu\": \"h100-sxm\", \"instances\": 8, "
                "\"model\": \"llama-9\", \"tiers\": [" HBM "]}",
                KVT_ERR_INVALID, "model: unknown model \"llama-9\"");
    expect_fail("{" HEAD "}", KVT_ERR_INVALID, "tiers: missing");
    expect_fail("{" HEAD ", \"tiers\": {}}", KVT_ERR_INVALID, "tiers: expected an array");
    expect_fail(NODE(""), KVT_ERR_INVALID, "tiers: empty");
    expect_fail(NODE(HBM ", 3"), KVT_ERR_INVALID, "tiers[1]: expected an object");

    /* at most six tiers: seven objects (the seventh a repeat) are refused by count */
    expect_fail(NODE(HBM ", " DRAM ", " DRAM ", " DRAM ", " DRAM ", " DRAM ", " DRAM),
                KVT_ERR_INVALID, "tiers: at most 6 tiers (got 7)");

    /* kinds: known, hbm first, strictly increasing */
    expect_fail(NODE(HBM ", {\"kind\": \"ssd\", \"capacity\": \"1T\", \"read_GBps\": 1, "
                         "\"write_GBps\": 1, \"latency_us\": 1, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].kind: unknown tier kind \"ssd\"");
    expect_fail(NODE(DRAM ", " NVME), KVT_ERR_INVALID,
                "tiers[0].kind: the first tier must be \"hbm\"");
    expect_fail(NODE(HBM ", " NVME ", " DRAM), KVT_ERR_INVALID,
                "tiers[2].kind: \"dram\" after \"nvme\"");
    expect_fail(NODE(HBM ", " DRAM ", " DRAM), KVT_ERR_INVALID,
                "tiers[2].kind: \"dram\" given twice");
    expect_fail(NODE(HBM ", " HBM), KVT_ERR_INVALID, "tiers[1].kind: \"hbm\" given twice");

    /* tier keys: typos, missing fields, duplicates */
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"2Ti\", \"read_GBs\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].read_GBs: unknown key");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"2Ti\", \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10}"),
                KVT_ERR_INVALID, "tiers[1].layerwise: missing");
    /* a key or a value with control characters in it is quoted on one line (found by
       fuzz_node: a raw newline in a key split the message) */
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"2Ti\", \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latenc\377\n\033y_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].latenc\377??y_us: unknown key");
    expect_fail(NODE(HBM ", {\"kind\": \"dr\\tam\\r\\n\", \"capacity\": \"2Ti\", "
                         "\"read_GBps\": 50, \"write_GBps\": 50, \"latency_us\": 10, "
                         "\"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].kind: unknown tier kind \"dr?am??\"");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"2Ti\", \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true, "
                         "\"prefault\": 1}"),
                KVT_ERR_INVALID, "tiers[1].prefault: expected true or false");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].capacity: missing");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"2Ti\", \"read_GBps\": 50, "
                         "\"read_GBps\": 60, \"write_GBps\": 50, \"latency_us\": 10, "
                         "\"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].read_GBps: given twice");
    expect_fail(NODE(HBM ", {\"capacity\": \"2Ti\", \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].kind: missing");

    /* capacities: auto only for hbm, positive, well formed */
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"auto\", \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].capacity: \"auto\" is only for the hbm tier");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": 0, \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].capacity: must be positive");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"0Ti\", \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].capacity: must be positive");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": -5, \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].capacity: must be positive");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": 1.5, \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].capacity: expected whole bytes");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"2TB\", \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].capacity: \"2TB\": expected");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"99999999T\", "
                         "\"read_GBps\": 50, \"write_GBps\": 50, \"latency_us\": 10, "
                         "\"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].capacity: \"99999999T\" exceeds 2^64");
    /* 2^53 + 2 is not exact as a JSON number */
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": 9007199254740994, "
                         "\"read_GBps\": 50, \"write_GBps\": 50, \"latency_us\": 10, "
                         "\"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].capacity: 9007199254740994 is beyond 2^53");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": true, \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].capacity: expected \"auto\"");
    /* auto where the model leaves no budget: Llama 3.1 70B in bf16 is 70.6e9 x 2 = 141.2e9 B
     * of weights, more than an H200's 135679338086 usable bytes */
    expect_fail("{\"name\": \"n\", \"gpu\": \"h200\", \"instances\": 8, "
                "\"model\": \"llama-3.1-70b\", \"tiers\": [" HBM "]}",
                KVT_ERR_INVALID, "tiers[0].capacity: auto: llama-3.1-70b does not fit on h200");

    /* bandwidths positive, latency not negative, layerwise a boolean */
    expect_fail(NODE(HBM ", " DRAM ", {\"kind\": \"nvme\", \"capacity\": \"30T\", "
                         "\"read_GBps\": 0, \"write_GBps\": 8, \"latency_us\": 100, "
                         "\"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[2].read_GBps: must be positive");
    expect_fail(NODE(HBM ", " DRAM ", {\"kind\": \"nvme\", \"capacity\": \"30T\", "
                         "\"read_GBps\": 12, \"write_GBps\": -8, \"latency_us\": 100, "
                         "\"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[2].write_GBps: must be positive");
    expect_fail(NODE(HBM ", " DRAM ", {\"kind\": \"nvme\", \"capacity\": \"30T\", "
                         "\"read_GBps\": \"12\", \"write_GBps\": 8, \"latency_us\": 100, "
                         "\"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[2].read_GBps: expected a number");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"2Ti\", \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": -1, \"layerwise\": true}"),
                KVT_ERR_INVALID, "tiers[1].latency_us: must not be negative");
    expect_fail(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"2Ti\", \"read_GBps\": 50, "
                         "\"write_GBps\": 50, \"latency_us\": 10, \"layerwise\": \"yes\"}"),
                KVT_ERR_INVALID, "tiers[1].layerwise: expected true or false");
    /* zero latency is allowed below hbm too */
    assert_int_equal(load_text(NODE(HBM ", {\"kind\": \"dram\", \"capacity\": \"2Ti\", "
                                        "\"read_GBps\": 50, \"write_GBps\": 50, \"latency_us\": 0, "
                                        "\"layerwise\": true}"),
                               &n, &err),
                     KVT_OK);
    assert_true(n.tiers[1].latency_us == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),      cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_builtin_unknown), cmocka_unit_test(test_committed_file),
        cmocka_unit_test(test_custom_nodes),    cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
