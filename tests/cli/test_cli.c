/*
 * The kvtier command line as a black box: exit statuses, where messages go, and the JSON
 * contract. Each case runs the built binary ($KVT_CLI) with fork/execv and captures stdout and
 * stderr separately.
 *
 * The contract (src/cli/main.c): exit 0 on success, 1 when the work fails, 2 for bad usage or
 * bad input, with one line on stderr and nothing at all on stdout. Expected figures are derived
 * by hand in the comments from the catalog configs in data/models.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <kvtier/kvtier.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_run.h"

/* An integer-valued number field of obj. */
static uint64_t get_uint(int line, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v)) {
        fail_msg("line %d: field \"%s\" is missing or not a number", line, key);
    }
    double d = v->valuedouble;
    /* every figure checked here is below 2^53, where a double holds integers exactly */
    if (!(d >= 0) || d != floor(d) || d >= 9007199254740992.0) {
        fail_msg("line %d: field \"%s\" = %.17g is not an exact non-negative integer", line, key,
                 d);
    }
    return (uint64_t)d;
}

#define GET_UINT(obj, key) get_uint(__LINE__, (obj), (key))

/* ---------------------------------------------------------------------------------------------
 * top level
 */

static void test_help_and_version(void **state)
{
    run_t r;
    (void)state;

    RUN(&r, "--help");
    expect_status(__LINE__, &r, 0);
    expect_contains(__LINE__, &r, "stdout", r.out, "size");
    expect_contains(__LINE__, &r, "stdout", r.out, "usage: kvtier");
    assert_int_equal(r.err_len, 0);
    run_free(&r);

    RUN(&r, "--version");
    expect_status(__LINE__, &r, 0);
    assert_int_equal(strncmp(r.out, "kvtier 0.", 9), 0);
    assert_int_equal(count_lines(r.out), 1);
    run_free(&r);

    RUN(&r, "size", "--help");
    expect_status(__LINE__, &r, 0);
    expect_contains(__LINE__, &r, "stdout", r.out, "usage: kvtier size");
    expect_contains(__LINE__, &r, "stdout", r.out, "--model");
    run_free(&r);
}

static void test_no_arguments(void **state)
{
    run_t r;
    (void)state;

    run_argv(&r, (const char *const[]){NULL});
    expect_status(__LINE__, &r, 2);
    /* the usage goes to stderr, nothing to stdout */
    assert_int_equal(r.out_len, 0);
    expect_contains(__LINE__, &r, "stderr", r.err, "usage");
    run_free(&r);
}

static void test_unknown_verb(void **state)
{
    run_t r;
    (void)state;

    RUN(&r, "frobnicate");
    EXPECT_USAGE_ERROR(&r, "frobnicate");
    run_free(&r);

    RUN(&r, "--frobnicate");
    EXPECT_USAGE_ERROR(&r, "--frobnicate");
    run_free(&r);
}

/* ---------------------------------------------------------------------------------------------
 * size: usage errors
 */

static void test_size_bad_flags(void **state)
{
    run_t r;
    (void)state;

    RUN(&r, "size", "--model", "llama-3.1-8b", "--bogus");
    EXPECT_USAGE_ERROR(&r, "--bogus");
    run_free(&r);

    RUN(&r, "size", "--model");
    EXPECT_USAGE_ERROR(&r, "--model");
    run_free(&r);

    RUN(&r, "size");
    EXPECT_USAGE_ERROR(&r, "--model", "--config");
    run_free(&r);

    RUN(&r, "size", "--model", "llama-3.1-8b", "--config", "x.json");
    EXPECT_USAGE_ERROR(&r, "--model", "--config");
    run_free(&r);

    RUN(&r, "size", "--model", "llama-3.1-8b", "extra");
    EXPECT_USAGE_ERROR(&r, "extra");
    run_free(&r);
}

static void test_size_bad_values(void **state)
{
    run_t r;
    (void)state;

    RUN(&r, "size", "--model", "llama-3.1-8b", "--context", "-5");
    EXPECT_USAGE_ERROR(&r, "--context");
    run_free(&r);

    RUN(&r, "size", "--model", "llama-3.1-8b", "--context", "12abc");
    EXPECT_USAGE_ERROR(&r, "--context", "12abc");
    run_free(&r);

    RUN(&r, "size", "--model", "llama-3.1-8b", "--context", "0");
    EXPECT_USAGE_ERROR(&r, "--context");
    run_free(&r);

    RUN(&r, "size", "--model", "llama-3.1-8b", "--tp", "0");
    EXPECT_USAGE_ERROR(&r, "--tp");
    run_free(&r);

    RUN(&r, "size", "--model", "llama-3.1-8b", "--gpu", "rtx-9999");
    EXPECT_USAGE_ERROR(&r, "--gpu", "rtx-9999");
    run_free(&r);

    RUN(&r, "size", "--model", "llama-3.1-8b", "--kv-dtype", "fp7");
    EXPECT_USAGE_ERROR(&r, "--kv-dtype", "fp7");
    run_free(&r);

    RUN(&r, "size", "--model", "no-such-model");
    EXPECT_USAGE_ERROR(&r, "no-such-model", "llama-3.1-8b");
    run_free(&r);

    /* llama-3.1-8b has 8 KV heads: TP 3 neither divides them nor is a multiple of them */
    RUN(&r, "size", "--model", "llama-3.1-8b", "--tp", "3", "--json");
    EXPECT_USAGE_ERROR(&r, "tp");
    run_free(&r);
}

static void test_size_bad_config_file(void **state)
{
    char dir[] = "/tmp/kvt-cli-XXXXXX";
    char path[64], missing[64];
    run_t r;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/bad.json", dir);
    snprintf(missing, sizeof(missing), "%s/missing.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* well-formed JSON, but 7 KV heads cannot share 32 query heads */
    fputs("{\n  \"num_hidden_layers\": 32,\n  \"hidden_size\": 4096,\n"
          "  \"num_attention_heads\": 32,\n  \"num_key_value_heads\": 7\n}\n",
          f);
    assert_int_equal(fclose(f), 0);

    /* with --json too: no partial document may reach stdout */
    RUN(&r, "size", "--config", path, "--json");
    EXPECT_USAGE_ERROR(&r, path, "num_key_value_heads");
    run_free(&r);
    RUN(&r, "size", "--config", path);
    EXPECT_USAGE_ERROR(&r, path, "num_key_value_heads");
    run_free(&r);

    /* a syntax error */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\n  \"num_hidden_layers\": 32,\n  \"hidden_size\" 4096\n}\n", f);
    assert_int_equal(fclose(f), 0);
    RUN(&r, "size", "--config", path, "--json");
    EXPECT_USAGE_ERROR(&r, path);
    run_free(&r);

    RUN(&r, "size", "--config", missing, "--json");
    EXPECT_USAGE_ERROR(&r, missing);
    run_free(&r);

    unlink(path);
    rmdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * size: the JSON contract
 */

static void test_size_json_llama(void **state)
{
    run_t r;
    (void)state;

    RUN(&r, "size", "--model", "llama-3.1-8b", "--json");
    expect_status(__LINE__, &r, 0);
    assert_int_equal(r.err_len, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    assert_true(cJSON_IsObject(doc));
    /* llama-3.1-8b: 32 layers x 8 KV heads x 128 (4096 / 32) elements x 2 (K and V) x 2 B (bf16)
     * = 32 x 8 x 128 x 4 = 131072 B per token */
    assert_int_equal(GET_UINT(doc, "kv_bytes_per_token"), 131072);
    /* every layer is full attention, default context 32768 tokens: 131072 x 32768 = 2^32 */
    assert_int_equal(GET_UINT(doc, "context_tokens"), 32768);
    assert_int_equal(GET_UINT(doc, "sequence_bytes"), (uint64_t)131072 * 32768);
    assert_int_equal(GET_UINT(doc, "num_layers"), 32);
    assert_int_equal(GET_UINT(doc, "num_kv_heads"), 8);
    assert_int_equal(GET_UINT(doc, "head_dim"), 128);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "model")->valuestring,
                        "llama-3.1-8b");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "attention")->valuestring, "GQA");
    cJSON_Delete(doc);
    run_free(&r);

    /* --sequences 100: the fleet holds 100 x 2^32 B = 429496729600 B (no windows: paged equal) */
    RUN(&r, "size", "--model", "llama-3.1-8b", "--sequences", "100", "--json");
    expect_status(__LINE__, &r, 0);
    doc = parse_stdout(__LINE__, &r);
    const cJSON *fleet = cJSON_GetObjectItemCaseSensitive(doc, "fleet");
    assert_int_equal(GET_UINT(fleet, "sequences"), 100);
    assert_int_equal(GET_UINT(fleet, "bytes"), 429496729600ull);
    assert_int_equal(GET_UINT(fleet, "bytes_paged"), 429496729600ull);
    cJSON_Delete(doc);
    run_free(&r);

    /* --context with a binary suffix: 4Ki = 4096 tokens, 131072 x 4096 = 2^29 B */
    RUN(&r, "size", "--model", "llama-3.1-8b", "--context", "4Ki", "--json");
    expect_status(__LINE__, &r, 0);
    doc = parse_stdout(__LINE__, &r);
    assert_int_equal(GET_UINT(doc, "context_tokens"), 4096);
    assert_int_equal(GET_UINT(doc, "sequence_bytes"), (uint64_t)131072 * 4096);
    cJSON_Delete(doc);
    run_free(&r);
}

/* The same model read from its file through --config. */
static void test_size_json_config_file(void **state)
{
    const char *src = getenv("KVT_SOURCE_DIR");
    char path[1024];
    run_t r;
    (void)state;

    if (src == NULL) {
        fail_msg("KVT_SOURCE_DIR is not set: run this test through ctest");
    }
    snprintf(path, sizeof(path), "%s/data/models/llama-3.1-8b.json", src);
    RUN(&r, "size", "--config", path, "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    /* same arithmetic as above: 32 x 8 x 128 x 2 x 2 */
    assert_int_equal(GET_UINT(doc, "kv_bytes_per_token"), 131072);
    /* a file's model is named after the file */
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "model")->valuestring,
                        "llama-3.1-8b");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "origin")->valuestring, path);
    cJSON_Delete(doc);
    run_free(&r);
}

static void test_size_json_deepseek(void **state)
{
    run_t r;
    (void)state;

    RUN(&r, "size", "--model", "deepseek-v3", "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    assert_true(cJSON_IsObject(doc));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "attention")->valuestring, "MLA");
    /* deepseek-v3: 61 layers (the MTP layer excluded), 128 heads; as MHA each head stores
     * K of qk_nope + qk_rope = 128 + 64 = 192 and V of v_head_dim = 128 elements, 2 B each:
     * 61 x 128 x (192 + 128) x 2 = 61 x 128 x 640 = 4,997,120 B per token */
    assert_int_equal(GET_UINT(doc, "mha_equivalent_bytes_per_token"),
                     (uint64_t)61 * 128 * (192 + 128) * 2);
    assert_int_equal(GET_UINT(doc, "mha_equivalent_bytes_per_token"), 4997120);
    /* MLA stores one latent of kv_lora_rank + qk_rope_head_dim = 512 + 64 = 576 elements per
     * token per layer: 61 x 576 x 2 = 70,272 B per token */
    assert_int_equal(GET_UINT(doc, "kv_bytes_per_token"), (uint64_t)61 * 576 * 2);
    assert_int_equal(GET_UINT(doc, "kv_bytes_per_token"), 70272);
    /* one layer's latent: 576 x 2 = 1152 B */
    assert_int_equal(GET_UINT(doc, "mla_bytes_per_token_layer"), 1152);
    assert_int_equal(GET_UINT(doc, "mla_latent_elements"), 576);
    assert_int_equal(GET_UINT(doc, "num_layers"), 61);
    assert_int_equal(GET_UINT(doc, "mtp_layers"), 1);
    cJSON_Delete(doc);
    run_free(&r);
}

static void test_size_json_capacity(void **state)
{
    run_t r;
    (void)state;

    RUN(&r, "size", "--model", "deepseek-v3", "--gpu", "h200", "--tp", "8", "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    const cJSON *cap = cJSON_GetObjectItemCaseSensitive(doc, "capacity");
    assert_true(cJSON_IsObject(cap));
    assert_int_equal(GET_UINT(cap, "gpus"), 8);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cap, "gpu")->valuestring, "h200");
    /* 671e9 fp8 parameters over 8 GPUs is ~84 GB a GPU, well inside an H200's 141 GB: it fits
     * and at least one 32768-token sequence does */
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cap, "fits")));
    assert_true(GET_UINT(cap, "max_sequences") >= 1);
    assert_int_equal(GET_UINT(doc, "tp"), 8);
    cJSON_Delete(doc);
    run_free(&r);
}

static void test_size_all_json(void **state)
{
    run_t r;
    (void)state;

    RUN(&r, "size", "--all", "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    assert_true(cJSON_IsArray(doc));
    /* one element per catalog model: the 22 configs of data/models */
    assert_int_equal(cJSON_GetArraySize(doc), 22);
    assert_int_equal((size_t)cJSON_GetArraySize(doc), kvt_catalog_count());
    bool seen_llama = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, doc)
    {
        assert_true(cJSON_IsObject(e));
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "model");
        assert_true(cJSON_IsString(name));
        assert_non_null(kvt_catalog_find(name->valuestring));
        (void)GET_UINT(e, "kv_bytes_per_token");
        if (strcmp(name->valuestring, "llama-3.1-8b") == 0) {
            seen_llama = true;
            assert_int_equal(GET_UINT(e, "kv_bytes_per_token"), 131072); /* as above */
        }
    }
    assert_true(seen_llama);
    cJSON_Delete(doc);
    run_free(&r);
}

static void test_catalog_verbs_json(void **state)
{
    run_t r;
    (void)state;

    RUN(&r, "models", "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    assert_true(cJSON_IsArray(doc));
    assert_int_equal(cJSON_GetArraySize(doc), 22);
    cJSON_Delete(doc);
    run_free(&r);

    RUN(&r, "gpus", "--json");
    expect_status(__LINE__, &r, 0);
    doc = parse_stdout(__LINE__, &r);
    assert_true(cJSON_IsArray(doc));
    assert_true(cJSON_GetArraySize(doc) > 0);
    bool seen_h200 = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, doc)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        assert_true(cJSON_IsString(name));
        seen_h200 |= strcmp(name->valuestring, "h200") == 0;
    }
    assert_true(seen_h200);
    cJSON_Delete(doc);
    run_free(&r);

    RUN(&r, "models", "--bogus");
    EXPECT_USAGE_ERROR(&r, "--bogus");
    run_free(&r);
}

/* ---------------------------------------------------------------------------------------------
 * replay and demo
 */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_replay_errors(void **state)
{
    char dir[] = "/tmp/kvt-cli-XXXXXX";
    char bad[64], missing[64];
    run_t r;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(bad, sizeof(bad), "%s/bad.jsonl", dir);
    snprintf(missing, sizeof(missing), "%s/missing.jsonl", dir);
    /* line 2: 10 tokens in 4-token blocks need 3 hash ids, 2 are given */
    write_file(bad, "{\"timestamp\": 0, \"input_length\": 4, \"output_length\": 1, "
                    "\"hash_ids\": [1]}\n"
                    "{\"timestamp\": 1, \"input_length\": 10, \"output_length\": 1, "
                    "\"hash_ids\": [1, 2]}\n");
    RUN(&r, "replay", "--policy", "lru", "--capacity", "1M");
    EXPECT_USAGE_ERROR(&r, "--trace");
    run_free(&r);
    RUN(&r, "replay", "--trace", bad, "--block-tokens", "4", "--policy", "mru", "--capacity",
        "100");
    EXPECT_USAGE_ERROR(&r, "mru");
    run_free(&r);
    RUN(&r, "replay", "--trace", bad, "--block-tokens", "4", "--policy", "lru", "--capacity",
        "1x");
    EXPECT_USAGE_ERROR(&r, "--capacity");
    run_free(&r);
    RUN(&r, "replay", "--trace", bad, "--block-tokens", "4", "--policy", "lru", "--capacity",
        "100", "--json");
    EXPECT_USAGE_ERROR(&r, ":2:", "hash_ids");
    run_free(&r);
    RUN(&r, "replay", "--trace", missing, "--policy", "lru", "--capacity", "100");
    EXPECT_USAGE_ERROR(&r, missing);
    run_free(&r);
    RUN(&r, "replay", "--generate", "chat", "--policy", "lru", "--node", "no-such-node");
    EXPECT_USAGE_ERROR(&r, "no-such-node");
    run_free(&r);
    unlink(bad);
    rmdir(dir);
}

/* A three-request trace whose hits are worked out by hand. */
static void test_replay_json(void **state)
{
    char dir[] = "/tmp/kvt-cli-XXXXXX";
    char path[64];
    run_t r;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.jsonl", dir);
    /* 4-token blocks, capacity 8 tokens = 2 blocks, LRU:
     * r1 [1 2] (8 tokens): miss; cache {1, 2}
     * r2 [1 2 3] (10 tokens): prefix 1 2 hits = 8 tokens; 3 evicts 1; cache {2, 3}
     * r3 [1 2] (7 tokens): 1 is gone: 0 tokens
     * hit tokens 8 of 8 + 10 + 7 = 25 */
    write_file(path, "{\"timestamp\": 0, \"input_length\": 8, \"output_length\": 1, "
                     "\"hash_ids\": [1, 2]}\n"
                     "{\"timestamp\": 1, \"input_length\": 10, \"output_length\": 1, "
                     "\"hash_ids\": [1, 2, 3]}\n"
                     "{\"timestamp\": 2, \"input_length\": 7, \"output_length\": 1, "
                     "\"hash_ids\": [1, 2]}\n");
    RUN(&r, "replay", "--trace", path, "--format", "mooncake", "--block-tokens", "4", "--policy",
        "lru", "--capacity", "8", "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    assert_int_equal(GET_UINT(doc, "requests"), 3);
    assert_int_equal(GET_UINT(doc, "input_tokens"), 25);
    assert_int_equal(GET_UINT(doc, "hit_tokens"), 8);
    assert_int_equal(GET_UINT(doc, "capacity_blocks"), 2);
    cJSON_Delete(doc);
    run_free(&r);
    /* all policies at two capacities: an array of 7 x 2 objects */
    RUN(&r, "replay", "--trace", path, "--block-tokens", "4", "--policy", "all", "--capacity",
        "8,100", "--json");
    expect_status(__LINE__, &r, 0);
    doc = parse_stdout(__LINE__, &r);
    assert_true(cJSON_IsArray(doc));
    assert_int_equal(cJSON_GetArraySize(doc), 14);
    cJSON_Delete(doc);
    run_free(&r);
    unlink(path);
    rmdir(dir);
}

static void test_demo_json(void **state)
{
    char dir[] = "/tmp/kvt-demo-XXXXXX";
    char file[96];
    run_t r;
    (void)state;

    assert_non_null(mkdtemp(dir));
    RUN(&r, "demo", "--sessions", "8", "--out", dir, "--no-plots", "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(doc, "single_tier");
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(doc, "node_runs");
    /* 7 policies x 7 capacities; the HBM-only baseline + 7 policies on the node */
    assert_int_equal(cJSON_GetArraySize(single), 49);
    assert_int_equal(cJSON_GetArraySize(node), 8);
    cJSON_Delete(doc);
    run_free(&r);
    static const char *const files[] = {"results.json", "hitrate.dat", "ttft.dat"};
    for (int i = 0; i < 3; i++) {
        snprintf(file, sizeof(file), "%s/%s", dir, files[i]);
        assert_int_equal(access(file, R_OK), 0);
        unlink(file);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_no_arguments),
        cmocka_unit_test(test_unknown_verb),
        cmocka_unit_test(test_size_bad_flags),
        cmocka_unit_test(test_size_bad_values),
        cmocka_unit_test(test_size_bad_config_file),
        cmocka_unit_test(test_size_json_llama),
        cmocka_unit_test(test_size_json_config_file),
        cmocka_unit_test(test_size_json_deepseek),
        cmocka_unit_test(test_size_json_capacity),
        cmocka_unit_test(test_size_all_json),
        cmocka_unit_test(test_catalog_verbs_json),
        cmocka_unit_test(test_replay_errors),
        cmocka_unit_test(test_replay_json),
        cmocka_unit_test(test_demo_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
