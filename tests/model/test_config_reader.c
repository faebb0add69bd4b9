/*
 * The config.json reader: what it rejects (and how it says so), how it lays out the layers of
 * each family of hybrid stack, and how it loads files and catalog entries.
 *
 * Every expected value below is derived by hand from the config text in the test and the rules
 * of the transformers configuration classes (quoted next to each case), never copied from
 * kvtier's own output.
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

#define ORIGIN "x/config.json"

/* A model pointer no loader can produce: it must survive every failed load unchanged. */
static char sentinel_obj;
#define SENTINEL ((kvt_model_t *)(void *)&sentinel_obj)

/* The smallest valid dense config: 4 layers, 8 heads of 256 / 8 = 32, 2 KV heads. */
#define DENSE4                                                                                     \
    "\"num_hidden_layers\": 4, \"hidden_size\": 256, \"num_attention_heads\": 8, "                 \
    "\"num_key_value_heads\": 2"

/* ---------------------------------------------------------------------------------------------
 * helpers
 */

/*
 * Load len bytes expecting `want`. Checks: the status (returned and in err), the model pointer
 * untouched, a one-line message of the documented form "<origin>: ..." (or "<origin>:L:C: ..."
 * for syntax errors) that contains every string of subs (NULL-terminated).
 */
static void expect_fail(int line, const char *json, size_t len, kvt_status_t want,
                        const char *const *subs)
{
    kvt_model_t *m = SENTINEL;
    kvt_error_t err;

    memset(&err, 0, sizeof(err));
    kvt_status_t st = kvt_model_load_json(json, len, ORIGIN, &m, &err);
    if (st == KVT_OK) {
        if (m != SENTINEL) {
            kvt_model_destroy(m);
        }
        fail_msg("line %d: the config loaded, expected %s", line, kvt_status_name(want));
    }
    if (st != want) {
        fail_msg("line %d: got %s, expected %s (message: \"%s\")", line, kvt_status_name(st),
                 kvt_status_name(want), err.message);
    }
    if (m != SENTINEL) {
        fail_msg("line %d: the model pointer was written by a failing load", line);
    }
    if (err.status != want) {
        fail_msg("line %d: err.status is %s, expected %s", line, kvt_status_name(err.status),
                 kvt_status_name(want));
    }
    if (strncmp(err.message, ORIGIN ":", strlen(ORIGIN ":")) != 0) {
        fail_msg("line %d: message \"%s\" does not start with the origin \"" ORIGIN ":\"", line,
                 err.message);
    }
    if (strchr(err.message, '\n') != NULL) {
        fail_msg("line %d: message \"%s\" is more than one line", line, err.message);
    }
    for (const char *const *s = subs; *s != NULL; s++) {
        if (strstr(err.message, *s) == NULL) {
            fail_msg("line %d: message \"%s\" does not mention \"%s\"", line, err.message, *s);
        }
    }
}

/* EXPECT_FAIL(json, status, "substring", ...): at least one substring (the field). */
#define EXPECT_FAIL(json, want, ...)                                                               \
    expect_fail(__LINE__, (json), strlen(json), (want), (const char *const[]){__VA_ARGS__, NULL})

static kvt_model_t *load_ok(int line, const char *json)
{
    kvt_model_t *m = NULL;
    kvt_error_t err;

    memset(&err, 0, sizeof(err));
    kvt_status_t st = kvt_model_load_json(json, strlen(json), ORIGIN, &m, &err);
    if (st != KVT_OK || m == NULL) {
        fail_msg("line %d: load failed with %s: %s", line, kvt_status_name(st), err.message);
    }
    return m;
}

#define LOAD_OK(json) load_ok(__LINE__, (json))

/* One letter per layer: F(ull) S(liding) C(hunked) L(inear) M(amba). */
static const char *kinds(const kvt_model_t *m, char *buf, size_t len)
{
    static const char letters[] = "FSCLM";
    const kvt_model_info_t *in = kvt_model_info(m);
    uint32_t i;

    for (i = 0; i < in->num_layers && i + 1 < len; i++) {
        const kvt_layer_desc_t *l = kvt_model_layer(m, i);
        assert_non_null(l);
        assert_true((unsigned)l->kind < 5);
        buf[i] = letters[l->kind];
    }
    buf[i] = '\0';
    return buf;
}

/* Layer kinds as letters, and every window: `window` on S, `chunk` on C, 0 elsewhere. */
static void expect_layout(int line, const kvt_model_t *m, const char *want, uint32_t window,
                          uint32_t chunk)
{
    char buf[128];
    const kvt_model_info_t *in = kvt_model_info(m);

    if (in->num_layers != strlen(want) || strcmp(kinds(m, buf, sizeof(buf)), want) != 0) {
        fail_msg("line %d: layers %s (%u), expected %s", line, kinds(m, buf, sizeof(buf)),
                 in->num_layers, want);
    }
    for (uint32_t i = 0; i < in->num_layers; i++) {
        const kvt_layer_desc_t *l = kvt_model_layer(m, i);
        uint32_t w = l->kind == KVT_LAYER_SLIDING   ? window
                     : l->kind == KVT_LAYER_CHUNKED ? chunk
                                                    : 0;
        if (l->window != w) {
            fail_msg("line %d: layer %u (%s) has window %u, expected %u", line, i,
                     kvt_layer_kind_name(l->kind), l->window, w);
        }
    }
    assert_null(kvt_model_layer(m, in->num_layers));
}

#define EXPECT_LAYOUT(m, want, window, chunk)                                                      \
    expect_layout(__LINE__, (m), (want), (window), (chunk))

/* ---------------------------------------------------------------------------------------------
 * a. bad input
 */

static void test_not_json(void **state)
{
    (void)state;
    /* 't' of "this" starts neither true nor anything else: the very first character is wrong */
    EXPECT_FAIL("this is not json", KVT_ERR_PARSE, ORIGIN ":1:1:");
    EXPECT_FAIL("<config/>", KVT_ERR_PARSE, ORIGIN ":1:1:");
}

/* A bad token in the middle of a multi-line file: its own line and column. */
static void test_syntax_error_position(void **state)
{
    (void)state;
    /* line 3 is `  "hidden_size": x`: 2 spaces, the 13-character key (cols 3-15), ':' at 16,
     * a space at 17, and the offending 'x' at column 18 */
    EXPECT_FAIL("{\n"
                "  \"num_hidden_layers\": 4,\n"
                "  \"hidden_size\": x\n"
                "}\n",
                KVT_ERR_PARSE, ORIGIN ":3:18:");
    /* a missing comma: line 2 is `  "a": 1` and line 3 `  "b": 2`; the parser wants ',' or '}'
     * after the 1 and finds '"' of "b", line 3 column 3 */
    EXPECT_FAIL("{\n"
                "  \"a\": 1\n"
                "  \"b\": 2\n"
                "}",
                KVT_ERR_PARSE, ORIGIN ":3:3:");
}

/* A file cut short: the error is where the text ends, the next value being what is missing. */
static void test_truncated_json(void **state)
{
    (void)state;
    /* line 3 is `  "hidden_size":` (2 spaces + 13-character key + ':' = 16 characters) and the
     * input ends there: the value that should follow is missing at line 3, column 17. Column 16
     * is the ':' itself, which is valid JSON and not the error. */
    EXPECT_FAIL("{\n"
                "  \"num_hidden_layers\": 4,\n"
                "  \"hidden_size\":",
                KVT_ERR_PARSE, ORIGIN ":3:17:");
}

static void test_empty_input(void **state)
{
    kvt_model_t *m = SENTINEL;
    kvt_error_t err;
    (void)state;

    expect_fail(__LINE__, "", 0, KVT_ERR_PARSE, (const char *const[]){"empty", NULL});
    /* a non-empty buffer given with length 0 is empty too */
    expect_fail(__LINE__, "{" DENSE4 "}", 0, KVT_ERR_PARSE, (const char *const[]){ORIGIN, NULL});
    /* whitespace only: nothing to parse */
    EXPECT_FAIL("  \n\t \n", KVT_ERR_PARSE, ORIGIN);
    /* NULL buffer: an argument error, not a crash */
    assert_int_equal(kvt_model_load_json(NULL, 0, ORIGIN, &m, &err), KVT_ERR_INVALID);
    assert_ptr_equal(m, SENTINEL);
}

static void test_not_an_object(void **state)
{
    (void)state;
    EXPECT_FAIL("[{" DENSE4 "}]", KVT_ERR_PARSE, "object");
    EXPECT_FAIL("42", KVT_ERR_PARSE, "object");
    EXPECT_FAIL("\"config\"", KVT_ERR_PARSE, "object");
    EXPECT_FAIL("null", KVT_ERR_PARSE, "object");
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    EXPECT_FAIL("{" DENSE4 "} x", KVT_ERR_PARSE, ORIGIN);
    EXPECT_FAIL("{" DENSE4 "}{" DENSE4 "}", KVT_ERR_PARSE, ORIGIN);
    EXPECT_FAIL("{" DENSE4 "}\n,", KVT_ERR_PARSE, ORIGIN);
    /* trailing whitespace is fine */
    kvt_model_destroy(LOAD_OK("{" DENSE4 "}\n\n  \t\r\n"));
}

static void test_missing_required(void **state)
{
    (void)state;
    EXPECT_FAIL("{\"hidden_size\": 256, \"num_attention_heads\": 8}", KVT_ERR_INVALID,
                "num_hidden_layers");
    EXPECT_FAIL("{\"num_hidden_layers\": 4, \"num_attention_heads\": 8}", KVT_ERR_INVALID,
                "hidden_size");
    EXPECT_FAIL("{\"num_hidden_layers\": 4, \"hidden_size\": 256}", KVT_ERR_INVALID,
                "num_attention_heads");
    /* JSON null counts as absent */
    EXPECT_FAIL("{\"num_hidden_layers\": null, \"hidden_size\": 256, \"num_attention_heads\": 8}",
                KVT_ERR_INVALID, "num_hidden_layers");
}

static void test_mistyped_numbers(void **state)
{
    (void)state;
    EXPECT_FAIL("{\"num_hidden_layers\": 4, \"hidden_size\": 256, \"num_attention_heads\": \"8\"}",
                KVT_ERR_INVALID, "num_attention_heads");
    EXPECT_FAIL("{\"num_hidden_layers\": 4, \"hidden_size\": 4096.5, \"num_attention_heads\": 8}",
                KVT_ERR_INVALID, "hidden_size");
    EXPECT_FAIL("{\"num_hidden_layers\": 4, \"hidden_size\": 256, \"num_attention_heads\": 8, "
                "\"num_key_value_heads\": -8}",
                KVT_ERR_INVALID, "num_key_value_heads");
    EXPECT_FAIL("{\"num_hidden_layers\": -8, \"hidden_size\": 256, \"num_attention_heads\": 8}",
                KVT_ERR_INVALID, "num_hidden_layers");
    EXPECT_FAIL("{\"num_hidden_layers\": 0, \"hidden_size\": 256, \"num_attention_heads\": 8}",
                KVT_ERR_INVALID, "num_hidden_layers");
    EXPECT_FAIL("{\"num_hidden_layers\": true, \"hidden_size\": 256, \"num_attention_heads\": 8}",
                KVT_ERR_INVALID, "num_hidden_layers");
    EXPECT_FAIL("{" DENSE4 ", \"head_dim\": 0}", KVT_ERR_INVALID, "head_dim");
}

static void test_kv_heads_contradictions(void **state)
{
    (void)state;
    /* 32 query heads cannot be shared evenly by 7 KV heads */
    EXPECT_FAIL("{\"num_hidden_layers\": 4, \"hidden_size\": 4096, \"num_attention_heads\": 32, "
                "\"num_key_value_heads\": 7}",
                KVT_ERR_INVALID, "num_key_value_heads", "7", "32");
    /* more KV heads than query heads */
    EXPECT_FAIL("{\"num_hidden_layers\": 4, \"hidden_size\": 256, \"num_attention_heads\": 8, "
                "\"num_key_value_heads\": 16}",
                KVT_ERR_INVALID, "num_key_value_heads");
    EXPECT_FAIL("{\"num_hidden_layers\": 4, \"hidden_size\": 256, \"num_attention_heads\": 8, "
                "\"num_key_value_heads\": 0}",
                KVT_ERR_INVALID, "num_key_value_heads");
    /* inside text_config the field is named as spelled in the file */
    EXPECT_FAIL("{\"text_config\": {\"num_hidden_layers\": 4, \"hidden_size\": 4096, "
                "\"num_attention_heads\": 32, \"num_key_value_heads\": 7}}",
                KVT_ERR_INVALID, "text_config.num_key_value_heads");
}

static void test_head_dim_not_derivable(void **state)
{
    (void)state;
    /* no head_dim, and 100 / 8 is not an integer */
    EXPECT_FAIL("{\"model_type\": \"llama\", \"num_hidden_layers\": 4, \"hidden_size\": 100, "
                "\"num_attention_heads\": 8, \"num_key_value_heads\": 8}",
                KVT_ERR_INVALID, "head_dim");
    /* with an explicit head_dim the same sizes are fine */
    kvt_model_t *m = LOAD_OK("{\"num_hidden_layers\": 4, \"hidden_size\": 100, "
                             "\"num_attention_heads\": 8, \"num_key_value_heads\": 8, "
                             "\"head_dim\": 16}");
    assert_int_equal(kvt_model_info(m)->head_dim, 16);
    kvt_model_destroy(m);
}

static void test_layer_types_errors(void **state)
{
    (void)state;
    EXPECT_FAIL("{" DENSE4 ", \"layer_types\": [\"full_attention\", \"full_attention\", "
                "\"conv\", \"full_attention\"]}",
                KVT_ERR_UNSUPPORTED, "layer_types[2]", "conv");
    /* the unknown value is quoted in the message, which must stay one line (expect_fail checks
     * for a newline) even when the value holds one */
    EXPECT_FAIL("{" DENSE4 ", \"layer_types\": [\"full_attention\", \"con\\nv\", "
                "\"full_attention\", \"full_attention\"]}",
                KVT_ERR_UNSUPPORTED, "layer_types[1]");
    EXPECT_FAIL("{" DENSE4 ", \"layer_types\": [\"full_attention\", \"full_attention\", "
                "\"full_attention\"]}",
                KVT_ERR_INVALID, "layer_types");
    EXPECT_FAIL("{" DENSE4 ", \"layer_types\": [\"full_attention\", \"full_attention\", "
                "\"full_attention\", \"full_attention\", \"full_attention\"]}",
                KVT_ERR_INVALID, "layer_types");
    EXPECT_FAIL("{" DENSE4 ", \"layer_types\": \"full_attention\"}", KVT_ERR_INVALID,
                "layer_types");
    EXPECT_FAIL("{" DENSE4 ", \"layer_types\": [\"full_attention\", 1, \"full_attention\", "
                "\"full_attention\"]}",
                KVT_ERR_INVALID, "layer_types[1]");
}

static void test_sliding_without_window(void **state)
{
    (void)state;
    EXPECT_FAIL("{" DENSE4 ", \"layer_types\": [\"sliding_attention\", \"full_attention\", "
                "\"sliding_attention\", \"full_attention\"]}",
                KVT_ERR_INVALID, "sliding_window");
    EXPECT_FAIL("{" DENSE4 ", \"sliding_window\": null, \"layer_types\": [\"sliding_attention\", "
                "\"full_attention\", \"sliding_attention\", \"full_attention\"]}",
                KVT_ERR_INVALID, "sliding_window");
    EXPECT_FAIL("{" DENSE4 ", \"sliding_window\": 0, \"layer_types\": [\"sliding_attention\", "
                "\"full_attention\", \"sliding_attention\", \"full_attention\"]}",
                KVT_ERR_INVALID, "sliding_window");
}

static void test_window_beyond_context(void **state)
{
    (void)state;
    /* Mistral style: every layer slides, and an 8192-token window can never bind within 4096
     * positions */
    EXPECT_FAIL("{\"model_type\": \"mistral\", " DENSE4 ", \"sliding_window\": 8192, "
                "\"max_position_embeddings\": 4096}",
                KVT_ERR_INVALID, "sliding_window");
    /* Qwen2 style: the window is switched off (use_sliding_window false), so its size does not
     * matter: transformers sets sliding_window = None and every layer is full attention */
    kvt_model_t *m = LOAD_OK("{\"model_type\": \"qwen2\", " DENSE4 ", "
                             "\"use_sliding_window\": false, \"sliding_window\": 131072, "
                             "\"max_window_layers\": 2, \"max_position_embeddings\": 32768}");
    EXPECT_LAYOUT(m, "FFFF", 0, 0);
    assert_int_equal(kvt_model_info(m)->max_context, 32768);
    kvt_model_destroy(m);
}

static void test_text_config_not_object(void **state)
{
    (void)state;
    EXPECT_FAIL("{" DENSE4 ", \"text_config\": 5}", KVT_ERR_INVALID, "text_config");
    EXPECT_FAIL("{" DENSE4 ", \"text_config\": [{" DENSE4 "}]}", KVT_ERR_INVALID, "text_config");
    EXPECT_FAIL("{" DENSE4 ", \"text_config\": \"llama\"}", KVT_ERR_INVALID, "text_config");
}

static void test_unknown_dtype(void **state)
{
    (void)state;
    EXPECT_FAIL("{" DENSE4 ", \"torch_dtype\": \"float7\"}", KVT_ERR_INVALID, "torch_dtype");
    EXPECT_FAIL("{" DENSE4 ", \"torch_dtype\": 16}", KVT_ERR_INVALID, "torch_dtype");
    EXPECT_FAIL("{" DENSE4 ", \"dtype\": \"float7\"}", KVT_ERR_INVALID, "dtype");
    /* "auto" is an option value of kvtier, not a type a checkpoint is stored in */
    EXPECT_FAIL("{" DENSE4 ", \"torch_dtype\": \"auto\"}", KVT_ERR_INVALID, "torch_dtype");
}

static void test_mla_missing_field(void **state)
{
    (void)state;
    EXPECT_FAIL("{\"model_type\": \"deepseek_v3\", \"num_hidden_layers\": 2, \"hidden_size\": "
                "1024, \"num_attention_heads\": 16, \"kv_lora_rank\": 512, "
                "\"qk_nope_head_dim\": 128, \"v_head_dim\": 128}",
                KVT_ERR_INVALID, "qk_rope_head_dim");
    EXPECT_FAIL("{\"model_type\": \"deepseek_v3\", \"num_hidden_layers\": 2, \"hidden_size\": "
                "1024, \"num_attention_heads\": 16, \"kv_lora_rank\": 0, "
                "\"qk_rope_head_dim\": 64, \"qk_nope_head_dim\": 128, \"v_head_dim\": 128}",
                KVT_ERR_INVALID, "kv_lora_rank");
}

#define LINEAR_BUT_VALUE_HEADS                                                                     \
    "\"linear_num_key_heads\": 2, \"linear_key_head_dim\": 8, \"linear_value_head_dim\": 16, "     \
    "\"linear_conv_kernel_dim\": 4"

static void test_linear_missing_field(void **state)
{
    (void)state;
    /* Qwen3-Next style: layers 0-2 are linear (interval 4) and need every linear_* field */
    EXPECT_FAIL("{\"model_type\": \"qwen3_next\", " DENSE4
                ", \"full_attention_interval\": 4, " LINEAR_BUT_VALUE_HEADS "}",
                KVT_ERR_INVALID, "linear_num_value_heads");
    /* the same through layer_types */
    EXPECT_FAIL("{" DENSE4 ", \"layer_types\": [\"linear_attention\", \"full_attention\", "
                "\"linear_attention\", \"full_attention\"], " LINEAR_BUT_VALUE_HEADS "}",
                KVT_ERR_INVALID, "linear_num_value_heads");
}

static void test_bool_as_number(void **state)
{
    (void)state;
    EXPECT_FAIL("{\"model_type\": \"qwen2\", " DENSE4 ", \"use_sliding_window\": 1, "
                "\"sliding_window\": 4096, \"max_window_layers\": 2}",
                KVT_ERR_INVALID, "use_sliding_window");
    EXPECT_FAIL("{\"model_type\": \"falcon\", " DENSE4 ", \"multi_query\": 1}", KVT_ERR_INVALID,
                "multi_query");
    EXPECT_FAIL("{\"model_type\": \"falcon\", " DENSE4 ", \"new_decoder_architecture\": \"yes\"}",
                KVT_ERR_INVALID, "new_decoder_architecture");
}

/*
 * State sizes that do not fit the 32-bit fields of kvt_layer_desc_t must be rejected, not
 * wrapped: "a model that loads is one we can size exactly" (model.c). Either status documented
 * for a field out of range is accepted.
 */
static void expect_too_large(int line, const char *json, const char *field)
{
    kvt_model_t *m = SENTINEL;
    kvt_error_t err;

    memset(&err, 0, sizeof(err));
    kvt_status_t st = kvt_model_load_json(json, strlen(json), ORIGIN, &m, &err);
    if (st == KVT_OK) {
        const kvt_layer_desc_t *l = kvt_model_layer(m, 0);
        unsigned conv = l->conv_channels;
        kvt_model_destroy(m);
        fail_msg("line %d: loaded, with layer 0 conv_channels = %u (wrapped past 2^32)", line,
                 conv);
    }
    if (st != KVT_ERR_INVALID && st != KVT_ERR_OVERFLOW) {
        fail_msg("line %d: got %s: %s", line, kvt_status_name(st), err.message);
    }
    assert_ptr_equal(m, SENTINEL);
    assert_int_equal(strncmp(err.message, ORIGIN ":", strlen(ORIGIN ":")), 0);
    if (strstr(err.message, field) == NULL) {
        fail_msg("line %d: message \"%s\" does not mention \"%s\"", line, err.message, field);
    }
}

static void test_state_dims_overflow(void **state)
{
    (void)state;
    /* Gated DeltaNet conv channels 2 * nk * kd + nv * vd = 2 * 2^16 * 2^15 + 1 * 1 = 2^32 + 1,
     * every dimension within the reader's own 2^24 limit */
    expect_too_large(__LINE__,
                     "{\"num_hidden_layers\": 4, \"hidden_size\": 64, \"num_attention_heads\": 4, "
                     "\"full_attention_interval\": 2, \"linear_num_key_heads\": 65536, "
                     "\"linear_num_value_heads\": 1, \"linear_key_head_dim\": 32768, "
                     "\"linear_value_head_dim\": 1, \"linear_conv_kernel_dim\": 4}",
                     "linear_");
    /* Mamba-2 conv channels n_heads * d_head + 2 * groups * d_state
     * = 2^16 * 2^16 + 2 * 1 * 16 = 2^32 + 32 */
    expect_too_large(__LINE__,
                     "{\"model_type\": \"jamba\", \"num_hidden_layers\": 8, \"hidden_size\": 64, "
                     "\"num_attention_heads\": 4, \"mamba_n_heads\": 65536, "
                     "\"mamba_d_head\": 65536}",
                     "mamba_");
}

/* ---------------------------------------------------------------------------------------------
 * b. layout rules
 */

static void test_plain_dense(void **state)
{
    (void)state;
    kvt_model_t *m = LOAD_OK("{\"model_type\": \"llama\", " DENSE4 "}");
    const kvt_model_info_t *in = kvt_model_info(m);

    EXPECT_LAYOUT(m, "FFFF", 0, 0);
    assert_int_equal(in->attn_kind, KVT_ATTN_GQA);
    assert_int_equal(in->num_layers, 4);
    assert_int_equal(in->hidden_size, 256);
    assert_int_equal(in->num_heads, 8);
    assert_int_equal(in->num_kv_heads, 2);
    assert_int_equal(in->head_dim, 32);                /* 256 / 8 */
    assert_int_equal(in->torch_dtype, KVT_DTYPE_BF16); /* no dtype named: bf16 */
    assert_int_equal(in->max_context, 0);
    assert_string_equal(in->model_type, "llama");
    assert_string_equal(in->origin, ORIGIN);
    assert_string_equal(in->name, "config"); /* base name of x/config.json without .json */
    assert_string_equal(in->hf_id, "");
    for (uint32_t i = 0; i < 4; i++) {
        const kvt_layer_desc_t *l = kvt_model_layer(m, i);
        assert_int_equal(l->kv_heads, 2);
        assert_int_equal(l->k_head_dim, 32);
        assert_int_equal(l->v_head_dim, 32);
        assert_int_equal(l->latent_dim, 0);
    }
    kvt_model_destroy(m);

    /* no num_key_value_heads: one KV head per query head (MHA) */
    m = LOAD_OK("{\"num_hidden_layers\": 2, \"hidden_size\": 256, \"num_attention_heads\": 8}");
    assert_int_equal(kvt_model_info(m)->num_kv_heads, 8);
    assert_int_equal(kvt_model_info(m)->attn_kind, KVT_ATTN_MHA);
    kvt_model_destroy(m);
}

/* layer_types wins over every older rule the same config would trigger. */
static void test_layer_types_precedence(void **state)
{
    (void)state;
    /* gemma2 alone would give S F S F and full_attention_interval 2 would give L F L F */
    kvt_model_t *m = LOAD_OK(
        "{\"model_type\": \"gemma2\", " DENSE4 ", \"head_dim\": 32, \"sliding_window\": 128, "
        "\"full_attention_interval\": 2, \"layer_types\": [\"full_attention\", "
        "\"sliding_attention\", \"sliding_attention\", \"full_attention\"]}");
    EXPECT_LAYOUT(m, "FSSF", 128, 0);
    kvt_model_destroy(m);

    /* every spelling transformers uses */
    m = LOAD_OK("{\"num_hidden_layers\": 6, \"hidden_size\": 256, \"num_attention_heads\": 8, "
                "\"sliding_window\": 64, \"attention_chunk_size\": 512, "
                "\"layer_types\": [\"attention\", \"global_attention\", \"local_attention\", "
                "\"sliding_attention\", \"chunked_attention\", \"full_attention\"]}");
    EXPECT_LAYOUT(m, "FFSSCF", 64, 512);
    kvt_model_destroy(m);
}

/* Gemma 2: sliding iff (i + 1) % 2 != 0, i.e. even layers slide. */
static void test_gemma2_alternation(void **state)
{
    (void)state;
    kvt_model_t *m = LOAD_OK("{\"model_type\": \"gemma2\", \"num_hidden_layers\": 5, "
                             "\"hidden_size\": 512, \"num_attention_heads\": 4, "
                             "\"num_key_value_heads\": 2, \"sliding_window\": 4096, "
                             "\"max_position_embeddings\": 8192}");
    EXPECT_LAYOUT(m, "SFSFS", 4096, 0);
    /* gemma2 configs leave head_dim to transformers' default of 256, not 512 / 4 = 128 */
    assert_int_equal(kvt_model_info(m)->head_dim, 256);
    kvt_model_destroy(m);
}

/* Gemma 3: global iff (i + 1) % pattern == 0. */
static void test_gemma3_pattern(void **state)
{
    (void)state;
    /* pattern 3 over 7 layers: global at i = 2, 5 */
    kvt_model_t *m = LOAD_OK("{\"model_type\": \"gemma3_text\", \"num_hidden_layers\": 7, "
                             "\"hidden_size\": 512, \"num_attention_heads\": 4, "
                             "\"num_key_value_heads\": 2, \"head_dim\": 128, "
                             "\"sliding_window\": 512, \"sliding_window_pattern\": 3}");
    EXPECT_LAYOUT(m, "SSFSSFS", 512, 0);
    assert_int_equal(kvt_model_info(m)->head_dim, 128);
    kvt_model_destroy(m);

    /* default pattern 6 over 12 layers: global at i = 5, 11; head_dim defaults to 256 */
    m = LOAD_OK("{\"model_type\": \"gemma3_text\", \"num_hidden_layers\": 12, "
                "\"hidden_size\": 1024, \"num_attention_heads\": 4, \"num_key_value_heads\": 1, "
                "\"sliding_window\": 1024, \"max_position_embeddings\": 131072}");
    EXPECT_LAYOUT(m, "SSSSSFSSSSSF", 1024, 0);
    assert_int_equal(kvt_model_info(m)->head_dim, 256);
    assert_int_equal(kvt_model_info(m)->attn_kind, KVT_ATTN_MQA);
    kvt_model_destroy(m);
}

/* Qwen2: with use_sliding_window, layers i >= max_window_layers slide. */
static void test_qwen2_max_window_layers(void **state)
{
    (void)state;
    kvt_model_t *m = LOAD_OK("{\"model_type\": \"qwen2\", \"num_hidden_layers\": 6, "
                             "\"hidden_size\": 256, \"num_attention_heads\": 8, "
                             "\"num_key_value_heads\": 2, \"use_sliding_window\": true, "
                             "\"sliding_window\": 1024, \"max_window_layers\": 4, "
                             "\"max_position_embeddings\": 32768}");
    EXPECT_LAYOUT(m, "FFFFSS", 1024, 0);
    kvt_model_destroy(m);
}

/* Mistral v0.1: a non-null sliding_window applies to every layer; null means no window. */
static void test_mistral_all_sliding(void **state)
{
    (void)state;
    kvt_model_t *m = LOAD_OK("{\"model_type\": \"mistral\", \"num_hidden_layers\": 3, "
                             "\"hidden_size\": 256, \"num_attention_heads\": 8, "
                             "\"num_key_value_heads\": 2, \"sliding_window\": 4096, "
                             "\"max_position_embeddings\": 32768}");
    EXPECT_LAYOUT(m, "SSS", 4096, 0);
    kvt_model_destroy(m);

    m = LOAD_OK("{\"model_type\": \"mistral\", \"num_hidden_layers\": 3, \"hidden_size\": 256, "
                "\"num_attention_heads\": 8, \"num_key_value_heads\": 2, "
                "\"sliding_window\": null, \"max_position_embeddings\": 32768}");
    EXPECT_LAYOUT(m, "FFF", 0, 0);
    kvt_model_destroy(m);
}

/* Llama 4: no_rope_layers[i] == 1 is a RoPE layer, which attends in chunks; 0 is global. */
static void test_llama4_chunked(void **state)
{
    (void)state;
    kvt_model_t *m = LOAD_OK("{\"model_type\": \"llama4_text\", \"num_hidden_layers\": 5, "
                             "\"hidden_size\": 512, \"num_attention_heads\": 8, "
                             "\"num_key_value_heads\": 2, \"attention_chunk_size\": 8192, "
                             "\"no_rope_layers\": [1, 1, 0, 1, 0], "
                             "\"max_position_embeddings\": 10485760}");
    EXPECT_LAYOUT(m, "CCFCF", 0, 8192);
    /* llama4_text: transformers' head_dim default is 128, not 512 / 8 = 64 */
    assert_int_equal(kvt_model_info(m)->head_dim, 128);
    kvt_model_destroy(m);

    /* default list: no_rope_layers[i] = int((i + 1) % 4 != 0), so i = 3, 7 are global */
    m = LOAD_OK("{\"model_type\": \"llama4_text\", \"num_hidden_layers\": 8, "
                "\"hidden_size\": 512, \"num_attention_heads\": 8, \"num_key_value_heads\": 2, "
                "\"attention_chunk_size\": 8192}");
    EXPECT_LAYOUT(m, "CCCFCCCF", 0, 8192);
    kvt_model_destroy(m);

    /* an empty list (as released configs have) means the default too */
    m = LOAD_OK("{\"model_type\": \"llama4_text\", \"num_hidden_layers\": 8, "
                "\"hidden_size\": 512, \"num_attention_heads\": 8, \"num_key_value_heads\": 2, "
                "\"attention_chunk_size\": 8192, \"no_rope_layers\": []}");
    EXPECT_LAYOUT(m, "CCCFCCCF", 0, 8192);
    kvt_model_destroy(m);

    EXPECT_FAIL("{\"model_type\": \"llama4_text\", " DENSE4 ", \"attention_chunk_size\": 8192, "
                "\"no_rope_layers\": [1, 1, 0]}",
                KVT_ERR_INVALID, "no_rope_layers");
    EXPECT_FAIL("{\"model_type\": \"llama4_text\", " DENSE4 ", \"attention_chunk_size\": 8192, "
                "\"no_rope_layers\": [1, 2, 0, 1]}",
                KVT_ERR_INVALID, "no_rope_layers[1]");
}

/* Qwen3-Next: full iff (i + 1) % full_attention_interval == 0, else Gated DeltaNet. */
static void test_qwen3_next_interval(void **state)
{
    (void)state;
    kvt_model_t *m =
        LOAD_OK("{\"model_type\": \"qwen3_next\", \"num_hidden_layers\": 8, \"hidden_size\": 256, "
                "\"num_attention_heads\": 8, \"num_key_value_heads\": 2, \"head_dim\": 64, "
                "\"full_attention_interval\": 4, \"linear_num_key_heads\": 2, "
                "\"linear_num_value_heads\": 4, \"linear_key_head_dim\": 8, "
                "\"linear_value_head_dim\": 16, \"linear_conv_kernel_dim\": 4}");
    EXPECT_LAYOUT(m, "LLLFLLLF", 0, 0);
    assert_int_equal(kvt_model_info(m)->attn_kind, KVT_ATTN_GQA);

    const kvt_layer_desc_t *full = kvt_model_layer(m, 3);
    assert_int_equal(full->kv_heads, 2);
    assert_int_equal(full->k_head_dim, 64);
    assert_int_equal(full->v_head_dim, 64);

    /* Gated DeltaNet state: one key_dim x value_dim matrix per value head (4 x 8*16), and a
     * causal conv over q, k and v: 2 * 2*8 + 4*16 = 96 channels keeping kernel - 1 = 3 columns */
    const kvt_layer_desc_t *lin = kvt_model_layer(m, 0);
    assert_int_equal(lin->state_units, 4);
    assert_int_equal(lin->state_unit_elems, 128);
    assert_int_equal(lin->conv_channels, 96);
    assert_int_equal(lin->conv_width, 3);
    assert_int_equal(lin->kv_heads, 0);
    kvt_model_destroy(m);
}

/* Jamba: attention iff i % attn_layer_period == attn_layer_offset, Mamba elsewhere. */
static void test_jamba_period(void **state)
{
    (void)state;
    kvt_model_t *m = LOAD_OK("{\"model_type\": \"jamba\", \"num_hidden_layers\": 8, "
                             "\"hidden_size\": 64, \"num_attention_heads\": 8, "
                             "\"num_key_value_heads\": 2, \"attn_layer_period\": 4, "
                             "\"attn_layer_offset\": 2, \"mamba_d_state\": 16, "
                             "\"mamba_d_conv\": 4, \"mamba_expand\": 2}");
    EXPECT_LAYOUT(m, "MMFMMMFM", 0, 0);
    /* Mamba-1: d_inner = expand * hidden = 128 channels, each a 16-element state; the conv keeps
     * d_conv - 1 = 3 columns of the 128 channels */
    const kvt_layer_desc_t *l = kvt_model_layer(m, 0);
    assert_int_equal(l->state_units, 128);
    assert_int_equal(l->state_unit_elems, 16);
    assert_int_equal(l->conv_channels, 128);
    assert_int_equal(l->conv_width, 3);
    kvt_model_destroy(m);

    /* transformers' JambaConfig defaults: period 8, offset 4 */
    m = LOAD_OK("{\"model_type\": \"jamba\", \"num_hidden_layers\": 8, \"hidden_size\": 64, "
                "\"num_attention_heads\": 8, \"num_key_value_heads\": 2}");
    EXPECT_LAYOUT(m, "MMMMFMMM", 0, 0);
    kvt_model_destroy(m);

    EXPECT_FAIL("{\"model_type\": \"jamba\", " DENSE4 ", \"attn_layer_period\": 4, "
                "\"attn_layer_offset\": 4}",
                KVT_ERR_INVALID, "attn_layer_offset");
}

/* Falcon: num_kv_heads = config.num_kv_heads if (new_decoder_architecture or not multi_query)
 * else 1 (transformers' FalconAttention). */
static void test_falcon_kv_heads(void **state)
{
    (void)state;
    /* falcon-7b: 71 heads of 4544 / 71 = 64, multi_query: one KV head whatever num_kv_heads says */
    kvt_model_t *m = LOAD_OK("{\"model_type\": \"falcon\", \"n_layer\": 2, "
                             "\"hidden_size\": 4544, \"n_head\": 71, \"num_kv_heads\": 71, "
                             "\"multi_query\": true}");
    const kvt_model_info_t *in = kvt_model_info(m);
    EXPECT_LAYOUT(m, "FF", 0, 0);
    assert_int_equal(in->num_layers, 2);
    assert_int_equal(in->num_heads, 71);
    assert_int_equal(in->num_kv_heads, 1);
    assert_int_equal(in->head_dim, 64);
    assert_int_equal(in->attn_kind, KVT_ATTN_MQA);
    assert_int_equal(kvt_model_layer(m, 1)->kv_heads, 1);
    kvt_model_destroy(m);

    /* falcon-40b style: new_decoder_architecture makes num_kv_heads count, multi_query or not */
    m = LOAD_OK("{\"model_type\": \"falcon\", \"num_hidden_layers\": 2, \"hidden_size\": 8192, "
                "\"num_attention_heads\": 128, \"num_kv_heads\": 8, \"multi_query\": true, "
                "\"new_decoder_architecture\": true}");
    in = kvt_model_info(m);
    assert_int_equal(in->num_kv_heads, 8);
    assert_int_equal(in->head_dim, 64); /* 8192 / 128 */
    assert_int_equal(in->attn_kind, KVT_ATTN_GQA);
    assert_int_equal(kvt_model_layer(m, 0)->kv_heads, 8);
    kvt_model_destroy(m);
}

/* Multimodal nesting: the language model's fields come from text_config, the dtype from the top
 * level, and a top-level field of the same name (another tower's) does not leak in. */
static void test_text_config_nesting(void **state)
{
    (void)state;
    kvt_model_t *m = LOAD_OK(
        "{\"model_type\": \"gemma3\", \"torch_dtype\": \"float16\", \"num_hidden_layers\": 99,"
        " \"vision_config\": {\"num_hidden_layers\": 27, \"hidden_size\": 1152},"
        " \"text_config\": {\"model_type\": \"gemma3_text\", \"num_hidden_layers\": 6,"
        "   \"hidden_size\": 512, \"num_attention_heads\": 8, \"num_key_value_heads\": 4,"
        "   \"head_dim\": 64, \"sliding_window\": 256, \"max_position_embeddings\": 8192}}");
    const kvt_model_info_t *in = kvt_model_info(m);
    assert_int_equal(in->num_layers, 6);
    assert_int_equal(in->hidden_size, 512);
    assert_int_equal(in->num_heads, 8);
    assert_int_equal(in->num_kv_heads, 4);
    assert_int_equal(in->head_dim, 64);
    assert_int_equal(in->max_context, 8192);
    assert_string_equal(in->model_type, "gemma3_text");
    assert_int_equal(in->torch_dtype, KVT_DTYPE_FP16);
    /* gemma3_text default pattern 6 over 6 layers: only i = 5 is global */
    EXPECT_LAYOUT(m, "SSSSSF", 256, 0);
    kvt_model_destroy(m);

    /* "text_config": null is no text_config */
    m = LOAD_OK("{" DENSE4 ", \"text_config\": null}");
    assert_int_equal(kvt_model_info(m)->num_layers, 4);
    kvt_model_destroy(m);
}

static void test_dtype_spellings(void **state)
{
    (void)state;
    kvt_model_t *m = LOAD_OK("{" DENSE4 ", \"dtype\": \"float32\"}");
    assert_int_equal(kvt_model_info(m)->torch_dtype, KVT_DTYPE_FP32);
    kvt_model_destroy(m);

    m = LOAD_OK("{" DENSE4 ", \"torch_dtype\": \"float16\"}");
    assert_int_equal(kvt_model_info(m)->torch_dtype, KVT_DTYPE_FP16);
    kvt_model_destroy(m);

    m = LOAD_OK("{" DENSE4 ", \"torch_dtype\": \"bfloat16\"}");
    assert_int_equal(kvt_model_info(m)->torch_dtype, KVT_DTYPE_BF16);
    kvt_model_destroy(m);

    /* null dtype is no dtype: bf16 */
    m = LOAD_OK("{" DENSE4 ", \"torch_dtype\": null, \"dtype\": null}");
    assert_int_equal(kvt_model_info(m)->torch_dtype, KVT_DTYPE_BF16);
    kvt_model_destroy(m);
}

/* MLA: the latent is kv_lora_rank + qk_rope_head_dim; head_dim is nope + rope. */
static void test_mla_fields(void **state)
{
    (void)state;
    kvt_model_t *m = LOAD_OK("{\"model_type\": \"deepseek_v3\", \"num_hidden_layers\": 3, "
                             "\"hidden_size\": 1024, \"num_attention_heads\": 16, "
                             "\"num_key_value_heads\": 16, \"kv_lora_rank\": 512, "
                             "\"qk_rope_head_dim\": 64, \"qk_nope_head_dim\": 128, "
                             "\"v_head_dim\": 128, \"num_nextn_predict_layers\": 1}");
    const kvt_model_info_t *in = kvt_model_info(m);
    assert_int_equal(in->attn_kind, KVT_ATTN_MLA);
    assert_int_equal(in->head_dim, 192);
    assert_int_equal(in->num_kv_heads, 16);
    assert_int_equal(in->mtp_layers, 1);
    assert_int_equal(in->num_layers, 3);
    EXPECT_LAYOUT(m, "FFF", 0, 0);
    assert_int_equal(kvt_model_layer(m, 0)->latent_dim, 576);
    assert_int_equal(kvt_model_layer(m, 0)->kv_heads, 0);
    kvt_model_destroy(m);
}

/* ---------------------------------------------------------------------------------------------
 * c. files
 */

static void test_load_file_missing(void **state)
{
    static const char path[] = "/nonexistent-kvtier-test-dir/model/config.json";
    kvt_model_t *m = SENTINEL;
    kvt_error_t err;
    (void)state;

    memset(&err, 0, sizeof(err));
    assert_int_equal(kvt_model_load_file(path, &m, &err), KVT_ERR_IO);
    assert_ptr_equal(m, SENTINEL);
    assert_int_equal(err.status, KVT_ERR_IO);
    assert_non_null(strstr(err.message, path));
}

static void write_all(int fd, const char *text)
{
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
}

static void test_load_file_tmp(void **state)
{
    static const char cfg[] = "{\"model_type\": \"llama\", " DENSE4 "}\n";
    kvt_model_t *m = NULL;
    kvt_error_t err;
    (void)state;

    /* a file named <base>.json: the model is named <base> */
    char path[] = "/tmp/kvt-reader-XXXXXX.json";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    write_all(fd, cfg);
    assert_int_equal(close(fd), 0);
    kvt_status_t st = kvt_model_load_file(path, &m, &err);
    unlink(path);
    if (st != KVT_OK) {
        fail_msg("%s: %s", kvt_status_name(st), err.message);
    }
    char want[sizeof(path)];
    /* base name: after "/tmp/", without the 5 characters of ".json" */
    snprintf(want, sizeof(want), "%.*s", (int)(strlen(path) - 5 - 5), path + 5);
    assert_string_equal(kvt_model_info(m)->name, want);
    assert_int_equal(strncmp(want, "kvt-reader-", 11), 0);
    assert_string_equal(kvt_model_info(m)->origin, path);
    EXPECT_LAYOUT(m, "FFFF", 0, 0);
    kvt_model_destroy(m);

    /* a name without .json is kept whole */
    char path2[] = "/tmp/kvt-reader-XXXXXX";
    fd = mkstemp(path2);
    assert_true(fd >= 0);
    write_all(fd, cfg);
    assert_int_equal(close(fd), 0);
    m = NULL;
    st = kvt_model_load_file(path2, &m, &err);
    unlink(path2);
    if (st != KVT_OK) {
        fail_msg("%s: %s", kvt_status_name(st), err.message);
    }
    assert_string_equal(kvt_model_info(m)->name, path2 + 5);
    kvt_model_destroy(m);

    /* a malformed file: the message names the file's path and the field */
    char path3[] = "/tmp/kvt-reader-XXXXXX.json";
    fd = mkstemps(path3, 5);
    assert_true(fd >= 0);
    write_all(fd, "{\"num_hidden_layers\": 4, \"hidden_size\": 4096, "
                  "\"num_attention_heads\": 32, \"num_key_value_heads\": 7}");
    assert_int_equal(close(fd), 0);
    m = SENTINEL;
    st = kvt_model_load_file(path3, &m, &err);
    unlink(path3);
    assert_int_equal(st, KVT_ERR_INVALID);
    assert_ptr_equal(m, SENTINEL);
    assert_int_equal(strncmp(err.message, path3, strlen(path3)), 0);
    assert_non_null(strstr(err.message, "num_key_value_heads"));
}

/* ---------------------------------------------------------------------------------------------
 * d. catalog
 */

static void test_catalog_unknown(void **state)
{
    kvt_model_t *m = SENTINEL;
    kvt_error_t err;
    (void)state;

    memset(&err, 0, sizeof(err));
    assert_int_equal(kvt_model_load_catalog("no-such-model", &m, &err), KVT_ERR_NOT_FOUND);
    assert_ptr_equal(m, SENTINEL);
    assert_int_equal(err.status, KVT_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "no-such-model"));
    /* the message lists the known names: every one of them */
    for (size_t i = 0; i < kvt_catalog_count(); i++) {
        const char *name = kvt_catalog_at(i)->name;
        if (strstr(err.message, name) == NULL) {
            fail_msg("message \"%s\" does not list \"%s\"", err.message, name);
        }
    }
    assert_null(kvt_catalog_find("no-such-model"));
}

static void test_catalog_loads(void **state)
{
    (void)state;
    /* data/models holds 22 configs, each with a row of metadata */
    assert_int_equal(kvt_catalog_count(), 22);
    assert_null(kvt_catalog_at(kvt_catalog_count()));
    for (size_t i = 0; i < kvt_catalog_count(); i++) {
        const kvt_catalog_entry_t *e = kvt_catalog_at(i);
        kvt_model_t *m = NULL;
        kvt_error_t err;
        char origin[160];

        assert_non_null(e);
        kvt_status_t st = kvt_model_load_catalog(e->name, &m, &err);
        if (st != KVT_OK) {
            fail_msg("catalog entry %s: %s: %s", e->name, kvt_status_name(st), err.message);
        }
        const kvt_model_info_t *in = kvt_model_info(m);
        snprintf(origin, sizeof(origin), "catalog:%s", e->name);
        assert_string_equal(in->name, e->name);
        assert_string_equal(in->origin, origin);
        assert_string_equal(in->hf_id, e->hf_id);
        assert_true(in->num_layers > 0);
        assert_true(in->params_total > 0);
        assert_ptr_equal(kvt_catalog_find(e->name), e);
        if (i > 0) {
            /* name order */
            assert_true(strcmp(kvt_catalog_at(i - 1)->name, e->name) < 0);
        }
        kvt_model_destroy(m);
    }
    /* lookups are case-insensitive */
    assert_non_null(kvt_catalog_find("Llama-3.1-8B"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* a. bad input */
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_syntax_error_position),
        cmocka_unit_test(test_truncated_json),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_mistyped_numbers),
        cmocka_unit_test(test_kv_heads_contradictions),
        cmocka_unit_test(test_head_dim_not_derivable),
        cmocka_unit_test(test_layer_types_errors),
        cmocka_unit_test(test_sliding_without_window),
        cmocka_unit_test(test_window_beyond_context),
        cmocka_unit_test(test_text_config_not_object),
        cmocka_unit_test(test_unknown_dtype),
        cmocka_unit_test(test_mla_missing_field),
        cmocka_unit_test(test_linear_missing_field),
        cmocka_unit_test(test_bool_as_number),
        cmocka_unit_test(test_state_dims_overflow),
        /* b. layout rules */
        cmocka_unit_test(test_plain_dense),
        cmocka_unit_test(test_layer_types_precedence),
        cmocka_unit_test(test_gemma2_alternation),
        cmocka_unit_test(test_gemma3_pattern),
        cmocka_unit_test(test_qwen2_max_window_layers),
        cmocka_unit_test(test_mistral_all_sliding),
        cmocka_unit_test(test_llama4_chunked),
        cmocka_unit_test(test_qwen3_next_interval),
        cmocka_unit_test(test_jamba_period),
        cmocka_unit_test(test_falcon_kv_heads),
        cmocka_unit_test(test_text_config_nesting),
        cmocka_unit_test(test_dtype_spellings),
        cmocka_unit_test(test_mla_fields),
        /* c. files */
        cmocka_unit_test(test_load_file_missing),
        cmocka_unit_test(test_load_file_tmp),
        /* d. catalog */
        cmocka_unit_test(test_catalog_unknown),
        cmocka_unit_test(test_catalog_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
