/*
 * KV-cache sizes of every catalog model, against figures derived BY HAND.
 *
 * Every expected constant in this file was worked out from the fields of the model's real
 * Hugging Face config, data/models/<slug>.json (notes in data/models/SOURCES.md), following the
 * definitions in include/kvtier/size.h and include/kvtier/dtype.h. The arithmetic is written in a
 * comment beside each number. None of them was obtained by running kvtier: if a check here fails,
 * either the derivation in the comment is wrong (re-check it against the config) or the program
 * is -- never "fix" a constant by copying what the program printed.
 *
 * Conventions used in the comments:
 *   - C = context tokens; the default is C = 32768, KV dtype bf16 = 2 B/element whatever the
 *     config's torch_dtype says, TP = PP = 1, blocks of 16 tokens;
 *   - one GQA/MHA/MQA attention layer costs kv_heads x (head_dim K + head_dim V) x 2 B per token;
 *     head_dim is the config's head_dim when present, else hidden_size / num_attention_heads;
 *   - one MLA layer costs (kv_lora_rank + qk_rope_head_dim) x 2 B per token, with no head factor;
 *   - a sliding layer holds min(C, sliding_window) tokens, a chunked layer min(C,
 *     attention_chunk_size), a full layer all C;
 *   - linear (Gated DeltaNet) and Mamba layers hold a constant state in the config's torch_dtype.
 *
 * Checks are "soft": each mismatch is printed with the model, the field, the program's value and
 * the hand-derived value, and the test fails at its end, so one run lists every discrepancy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Soft checks
 * ------------------------------------------------------------------------------------------- */

static int g_failures;
static const char *g_subject = "";

static void begin_checks(const char *subject)
{
    g_failures = 0;
    g_subject = subject;
}

static void end_checks(void)
{
    if (g_failures != 0) {
        print_error("%s: %d check(s) failed (see above)\n", g_subject, g_failures);
    }
    assert_int_equal(g_failures, 0);
}

static void check_u64_at(int line, const char *what, uint64_t actual, uint64_t expected)
{
    if (actual != expected) {
        print_error("line %d: %s: %s: program gives %llu, hand-derived %llu\n", line, g_subject,
                    what, (unsigned long long)actual, (unsigned long long)expected);
        g_failures++;
    }
}

static void check_true_at(int line, const char *what, bool ok)
{
    if (!ok) {
        print_error("line %d: %s: %s: not true\n", line, g_subject, what);
        g_failures++;
    }
}

#define CHECK_U64(actual, expected) \
    check_u64_at(__LINE__, #actual, (uint64_t)(actual), (uint64_t)(expected))
#define CHECK_TRUE(cond) check_true_at(__LINE__, #cond, (cond))

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */

static kvt_model_t *load(const char *slug)
{
    kvt_model_t *m = NULL;
    kvt_error_t err;
    memset(&err, 0, sizeof(err));
    kvt_status_t st = kvt_model_load_catalog(slug, &m, &err);
    if (st != KVT_OK) {
        print_error("%s: load failed: %s\n", slug, err.message);
    }
    assert_int_equal(st, KVT_OK);
    assert_non_null(m);
    return m;
}

/* Size under the defaults, with the context, KV dtype and group overridden. */
static kvt_sizing_t *size_with(const kvt_model_t *m, uint64_t context, kvt_dtype_t kv_dtype,
                               uint32_t kv_group)
{
    kvt_size_opts_t opts;
    kvt_sizing_t *s = NULL;
    kvt_error_t err;
    memset(&err, 0, sizeof(err));
    kvt_size_opts_init(&opts);
    opts.context_tokens = context;
    opts.kv_dtype = kv_dtype;
    opts.kv_group = kv_group;
    kvt_status_t st = kvt_size_compute(m, &opts, &s, &err);
    if (st != KVT_OK) {
        print_error("%s: size failed: %s\n", kvt_model_info(m)->name, err.message);
    }
    assert_int_equal(st, KVT_OK);
    assert_non_null(s);
    return s;
}

static kvt_sizing_t *size_ctx(const kvt_model_t *m, uint64_t context)
{
    return size_with(m, context, KVT_DTYPE_BF16, KVT_GROUP_DEFAULT);
}

static kvt_sizing_t *size_opts(const kvt_model_t *m, const kvt_size_opts_t *opts)
{
    kvt_sizing_t *s = NULL;
    kvt_error_t err;
    memset(&err, 0, sizeof(err));
    kvt_status_t st = kvt_size_compute(m, opts, &s, &err);
    if (st != KVT_OK) {
        print_error("%s: size failed: %s\n", kvt_model_info(m)->name, err.message);
    }
    assert_int_equal(st, KVT_OK);
    assert_non_null(s);
    return s;
}

static bool is_attention(kvt_layer_kind_t k)
{
    return k == KVT_LAYER_FULL || k == KVT_LAYER_SLIDING || k == KVT_LAYER_CHUNKED;
}

/* ---------------------------------------------------------------------------------------------
 * The table: one row per catalog model
 * ------------------------------------------------------------------------------------------- */

/* How the config lays out its layers (the rule read from the config, see each row). */
typedef enum layout {
    LAYOUT_ALL_FULL,       /* no window anywhere */
    LAYOUT_ALL_SLIDING,    /* sliding_window on every layer (Mistral 7B v0.1) */
    LAYOUT_EVEN_SLIDING,   /* layer i sliding iff i even, else full (Gemma 2, gpt-oss) */
    LAYOUT_GLOBAL_EVERY6,  /* full iff (i+1) % 6 == 0, else sliding (Gemma 3) */
    LAYOUT_FULL_EVERY4_CHUNKED, /* full iff (i+1) % 4 == 0, else chunked (Llama 4 Scout) */
    LAYOUT_FULL_EVERY4_LINEAR,  /* full iff (i+1) % 4 == 0, else linear (Qwen3-Next) */
    LAYOUT_ATTN_I_MOD8_IS4,     /* full iff i % 8 == 4, else Mamba (Jamba) */
} layout_t;

typedef struct model_row {
    const char *slug;
    /* what kvt_model_info() must report */
    kvt_attn_kind_t attn;
    uint32_t layers, heads, kv_heads, head_dim; /* MLA: kv_heads = heads, head_dim = nope+rope */
    kvt_dtype_t torch_dtype;
    uint64_t max_context; /* max_position_embeddings, 0 when the config has none */
    uint32_t mtp_layers;
    uint32_t latent_dim; /* MLA: kv_lora_rank + qk_rope_head_dim, else 0 */
    /* the layer layout */
    layout_t layout;
    uint32_t n_full, n_sliding, n_chunked, n_linear, n_mamba;
    uint32_t window; /* sliding_window of sliding layers (0 none) */
    uint32_t chunk;  /* attention_chunk_size of chunked layers (0 none) */
    /* sizes, bf16 KV */
    uint64_t kv_per_token;
    uint64_t seq_32k;   /* sequence_bytes at C = 32768 (= paged: windows are multiples of 16) */
    uint64_t seq_1k;    /* sequence_bytes at C = 1000 */
    uint64_t seq_200k;  /* sequence_bytes at C = 200000 */
    uint64_t state;     /* state_bytes (linear/Mamba), constant */
    uint64_t naive_per_token;
    uint64_t indexer_per_token; /* DeepSeek-V3.2 only */
    uint64_t mtp_per_token;
} model_row_t;

static const model_row_t rows[] = {
    /* deepseek-v2-lite: MLA, num_hidden_layers 27, 16 heads, kv_lora_rank 512, qk_rope 64,
     * qk_nope 128, v_head_dim 128, no num_nextn_predict_layers, no window. torch_dtype bfloat16,
     * max_position_embeddings 163840. */
    {.slug = "deepseek-v2-lite", .attn = KVT_ATTN_MLA, .layers = 27, .heads = 16,
     .kv_heads = 16, /* info reports the query heads for MLA */
     .head_dim = 192, /* 128 nope + 64 rope */
     .torch_dtype = KVT_DTYPE_BF16, .max_context = 163840, .mtp_layers = 0,
     .latent_dim = 576, /* 512 + 64 */
     .layout = LAYOUT_ALL_FULL, .n_full = 27,
     .kv_per_token = 31104,      /* 27 layers x (512 + 64) x 2 B = 27 x 1152 = 31104 */
     .seq_32k = 1019215872,      /* 31104 x 32768 = 1019215872 */
     .seq_1k = 31104000,         /* 31104 x 1000 */
     .seq_200k = 6220800000ull,  /* 31104 x 200000 */
     .naive_per_token = 276480,  /* 27 layers x 16 heads x ((128+64) K + 128 V) x 2 B = 276480 */
     .indexer_per_token = 0, .mtp_per_token = 0},

    /* deepseek-v3: MLA, 61 layers, 128 heads, kv_lora_rank 512, qk_rope 64, qk_nope 128, v 128,
     * num_nextn_predict_layers 1, bfloat16, max_position_embeddings 163840. */
    {.slug = "deepseek-v3", .attn = KVT_ATTN_MLA, .layers = 61, .heads = 128, .kv_heads = 128,
     .head_dim = 192, .torch_dtype = KVT_DTYPE_BF16, .max_context = 163840, .mtp_layers = 1,
     .latent_dim = 576, .layout = LAYOUT_ALL_FULL, .n_full = 61,
     .kv_per_token = 70272,       /* 61 x (512 + 64) x 2 B = 61 x 1152 = 70272 */
     .seq_32k = 2302672896ull,    /* 70272 x 32768 */
     .seq_1k = 70272000,          /* 70272 x 1000 */
     .seq_200k = 14054400000ull,  /* 70272 x 200000 */
     .naive_per_token = 4997120,  /* 61 x 128 heads x ((128+64) + 128) x 2 B = 61 x 81920 */
     .indexer_per_token = 0,
     .mtp_per_token = 1152},      /* 1 MTP layer x (512 + 64) x 2 B */

    /* deepseek-v3.2: as V3 (61 layers, 128 heads, 512/64/128/128, MTP 1) plus the indexer:
     * index_head_dim 128 (fp8 1 B/element + one fp32 scale of 4 B per 128 elements). */
    {.slug = "deepseek-v3.2", .attn = KVT_ATTN_MLA, .layers = 61, .heads = 128,
     .kv_heads = 128, .head_dim = 192, .torch_dtype = KVT_DTYPE_BF16, .max_context = 163840,
     .mtp_layers = 1, .latent_dim = 576, .layout = LAYOUT_ALL_FULL, .n_full = 61,
     .kv_per_token = 70272,       /* 61 x 1152, the indexer excluded */
     .seq_32k = 2302672896ull,    /* 70272 x 32768 (indexer excluded) */
     .seq_1k = 70272000,          /* 70272 x 1000 */
     .seq_200k = 14054400000ull,  /* 70272 x 200000 */
     .naive_per_token = 4997120,  /* as V3: 61 x 128 x 320 x 2 */
     .indexer_per_token = 8052,   /* 61 layers x (128 x 1 B + 1 scale x 4 B) = 61 x 132 */
     .mtp_per_token = 1284},      /* 1 x (1152 latent + 132 indexer key) */

    /* falcon-7b: 32 layers, 71 heads, hidden 4544, multi_query true + new_decoder_architecture
     * false -> 1 KV head; no head_dim -> 4544 / 71 = 64. No window. No max_position_embeddings. */
    {.slug = "falcon-7b", .attn = KVT_ATTN_MQA, .layers = 32, .heads = 71, .kv_heads = 1,
     .head_dim = 64, .torch_dtype = KVT_DTYPE_BF16, .max_context = 0,
     .layout = LAYOUT_ALL_FULL, .n_full = 32,
     .kv_per_token = 8192,       /* 32 layers x 1 head x (64 + 64) x 2 B = 8192 */
     .seq_32k = 268435456,       /* 8192 x 32768 */
     .seq_1k = 8192000,          /* 8192 x 1000 */
     .seq_200k = 1638400000,     /* 8192 x 200000 */
     .naive_per_token = 8192},   /* 2 x 32 x 1 x 64 x 2 B */

    /* gemma-2-27b: 46 layers, 32 heads, 16 KV heads, head_dim 128 (not 4608/32 = 144),
     * sliding_window 4096 on even layers (23 of them: 0, 2, .., 44), odd layers full (23).
     * torch_dtype float32 (ignored: KV bf16 by default), max_position_embeddings 8192. */
    {.slug = "gemma-2-27b", .attn = KVT_ATTN_GQA, .layers = 46, .heads = 32, .kv_heads = 16,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_FP32, .max_context = 8192,
     .layout = LAYOUT_EVEN_SLIDING, .n_full = 23, .n_sliding = 23, .window = 4096,
     .kv_per_token = 376832,     /* 46 x 16 x (128 + 128) x 2 B = 46 x 8192 = 376832 */
     .seq_32k = 6945767424ull,   /* 8192 x (23 full x 32768 + 23 sliding x 4096) */
     .seq_1k = 376832000,        /* 1000 < 4096: every layer holds 1000: 376832 x 1000 */
     .seq_200k = 38454951936ull, /* 8192 x (23 x 200000 + 23 x 4096) */
     .naive_per_token = 376832}, /* 2 x 46 x 16 x 128 x 2 B */

    /* gemma-2-9b: 42 layers, 16 heads, 8 KV heads, head_dim 256 (not 3584/16 = 224),
     * sliding_window 4096 on even layers (21), 21 full. float32, max_position_embeddings 8192. */
    {.slug = "gemma-2-9b", .attn = KVT_ATTN_GQA, .layers = 42, .heads = 16, .kv_heads = 8,
     .head_dim = 256, .torch_dtype = KVT_DTYPE_FP32, .max_context = 8192,
     .layout = LAYOUT_EVEN_SLIDING, .n_full = 21, .n_sliding = 21, .window = 4096,
     .kv_per_token = 344064,     /* 42 x 8 x (256 + 256) x 2 B = 42 x 8192 = 344064 */
     .seq_32k = 6341787648ull,   /* 8192 x (21 x 32768 + 21 x 4096) */
     .seq_1k = 344064000,        /* 344064 x 1000 */
     .seq_200k = 35111043072ull, /* 8192 x (21 x 200000 + 21 x 4096) */
     .naive_per_token = 344064}, /* 2 x 42 x 8 x 256 x 2 B */

    /* gemma-3-27b: text_config: 62 layers, 32 heads, 16 KV heads, head_dim 128,
     * sliding_window 1024, no sliding_window_pattern -> default 6: layer i full iff
     * (i+1) % 6 == 0 (i = 5, 11, .., 59: 10 layers), 52 sliding. No max_position_embeddings. */
    {.slug = "gemma-3-27b", .attn = KVT_ATTN_GQA, .layers = 62, .heads = 32, .kv_heads = 16,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 0,
     .layout = LAYOUT_GLOBAL_EVERY6, .n_full = 10, .n_sliding = 52, .window = 1024,
     .kv_per_token = 507904,     /* 62 x 16 x (128 + 128) x 2 B = 62 x 8192 = 507904 */
     .seq_32k = 3120562176ull,   /* 8192 x (10 x 32768 + 52 x 1024) */
     .seq_1k = 507904000,        /* 1000 < 1024: all layers hold 1000: 507904 x 1000 */
     .seq_200k = 16820207616ull, /* 8192 x (10 x 200000 + 52 x 1024) */
     .naive_per_token = 507904}, /* 2 x 62 x 16 x 128 x 2 B */

    /* gpt-oss-120b: 36 layers, 64 heads, 8 KV heads, head_dim 64, sliding_window 128,
     * layer_types alternating sliding (even i) / full (odd i): 18 + 18. No torch_dtype (-> bf16).
     * max_position_embeddings 131072. */
    {.slug = "gpt-oss-120b", .attn = KVT_ATTN_GQA, .layers = 36, .heads = 64, .kv_heads = 8,
     .head_dim = 64, .torch_dtype = KVT_DTYPE_BF16, .max_context = 131072,
     .layout = LAYOUT_EVEN_SLIDING, .n_full = 18, .n_sliding = 18, .window = 128,
     .kv_per_token = 73728,      /* 36 x 8 x (64 + 64) x 2 B = 36 x 2048 = 73728 */
     .seq_32k = 1212678144ull,   /* 2048 x (18 x 32768 + 18 x 128) */
     .seq_1k = 41582592,         /* 2048 x (18 x 1000 + 18 x 128): 1000 > window 128 */
     .seq_200k = 7377518592ull,  /* 2048 x (18 x 200000 + 18 x 128) */
     .naive_per_token = 73728},  /* 2 x 36 x 8 x 64 x 2 B */

    /* gpt-oss-20b: 24 layers, 64 heads, 8 KV heads, head_dim 64, window 128, 12 sliding (even)
     * + 12 full (odd). No torch_dtype. max_position_embeddings 131072. */
    {.slug = "gpt-oss-20b", .attn = KVT_ATTN_GQA, .layers = 24, .heads = 64, .kv_heads = 8,
     .head_dim = 64, .torch_dtype = KVT_DTYPE_BF16, .max_context = 131072,
     .layout = LAYOUT_EVEN_SLIDING, .n_full = 12, .n_sliding = 12, .window = 128,
     .kv_per_token = 49152,      /* 24 x 8 x (64 + 64) x 2 B = 24 x 2048 = 49152 */
     .seq_32k = 808452096,       /* 2048 x (12 x 32768 + 12 x 128) */
     .seq_1k = 27721728,         /* 2048 x (12 x 1000 + 12 x 128) */
     .seq_200k = 4918345728ull,  /* 2048 x (12 x 200000 + 12 x 128) */
     .naive_per_token = 49152},  /* 2 x 24 x 8 x 64 x 2 B */

    /* jamba-v0.1: 32 layers, 32 heads, 8 KV heads, hidden 4096 -> head_dim 128;
     * attn_layer_period 8, attn_layer_offset 4: attention at i = 4, 12, 20, 28 (4 layers),
     * the other 28 are Mamba-1 (mamba_d_state 16, mamba_d_conv 4, mamba_expand 2 -> d_inner
     * 2 x 4096 = 8192). sliding_window null. bfloat16. max_position_embeddings 262144. */
    {.slug = "jamba-v0.1", .attn = KVT_ATTN_GQA, .layers = 32, .heads = 32, .kv_heads = 8,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 262144,
     .layout = LAYOUT_ATTN_I_MOD8_IS4, .n_full = 4, .n_mamba = 28,
     .kv_per_token = 16384,      /* 4 attention layers x 8 x (128 + 128) x 2 B = 4 x 4096 */
     /* state per Mamba layer: (8192 x 16 ssm + 8192 x (4 - 1) conv) elements x 2 B
      *   = (131072 + 24576) x 2 = 311296 B; x 28 layers = 8716288 */
     .state = 8716288,
     .seq_32k = 545587200,       /* 16384 x 32768 + 8716288 = 536870912 + 8716288 */
     .seq_1k = 25100288,         /* 16384 x 1000 + 8716288 */
     .seq_200k = 3285516288ull,  /* 16384 x 200000 + 8716288 */
     .naive_per_token = 131072}, /* 2 x 32 (all layers) x 8 x 128 x 2 B */

    /* kimi-k2: MLA, 61 layers, 64 heads, kv_lora_rank 512, rope 64, nope 128, v 128,
     * num_nextn_predict_layers 0, bfloat16, max_position_embeddings 131072. */
    {.slug = "kimi-k2", .attn = KVT_ATTN_MLA, .layers = 61, .heads = 64, .kv_heads = 64,
     .head_dim = 192, .torch_dtype = KVT_DTYPE_BF16, .max_context = 131072, .mtp_layers = 0,
     .latent_dim = 576, .layout = LAYOUT_ALL_FULL, .n_full = 61,
     .kv_per_token = 70272,       /* 61 x (512 + 64) x 2 B */
     .seq_32k = 2302672896ull,    /* 70272 x 32768 */
     .seq_1k = 70272000,          /* 70272 x 1000 */
     .seq_200k = 14054400000ull,  /* 70272 x 200000 */
     .naive_per_token = 2498560,  /* 61 x 64 heads x (192 + 128) x 2 B */
     .mtp_per_token = 0},

    /* llama-3.1-405b: 126 layers, 128 heads, 8 KV heads, hidden 16384 -> head_dim 128. */
    {.slug = "llama-3.1-405b", .attn = KVT_ATTN_GQA, .layers = 126, .heads = 128,
     .kv_heads = 8, .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 131072,
     .layout = LAYOUT_ALL_FULL, .n_full = 126,
     .kv_per_token = 516096,       /* 126 x 8 x (128 + 128) x 2 B = 126 x 4096 */
     .seq_32k = 16911433728ull,    /* 516096 x 32768 */
     .seq_1k = 516096000,          /* 516096 x 1000 */
     .seq_200k = 103219200000ull,  /* 516096 x 200000 */
     .naive_per_token = 516096},   /* 2 x 126 x 8 x 128 x 2 B */

    /* llama-3.1-70b: 80 layers, 64 heads, 8 KV heads, hidden 8192 -> head_dim 128. */
    {.slug = "llama-3.1-70b", .attn = KVT_ATTN_GQA, .layers = 80, .heads = 64, .kv_heads = 8,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 131072,
     .layout = LAYOUT_ALL_FULL, .n_full = 80,
     .kv_per_token = 327680,      /* 80 x 8 x 256 x 2 B = 80 x 4096 */
     .seq_32k = 10737418240ull,   /* 327680 x 32768 */
     .seq_1k = 327680000,         /* 327680 x 1000 */
     .seq_200k = 65536000000ull,  /* 327680 x 200000 */
     .naive_per_token = 327680},  /* 2 x 80 x 8 x 128 x 2 B */

    /* llama-3.1-8b: 32 layers, 32 heads, 8 KV heads, hidden 4096 -> head_dim 128. */
    {.slug = "llama-3.1-8b", .attn = KVT_ATTN_GQA, .layers = 32, .heads = 32, .kv_heads = 8,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 131072,
     .layout = LAYOUT_ALL_FULL, .n_full = 32,
     .kv_per_token = 131072,      /* 32 x 8 x (128 + 128) x 2 B */
     .seq_32k = 4294967296ull,    /* 131072 x 32768 */
     .seq_1k = 131072000,         /* 131072 x 1000 */
     .seq_200k = 26214400000ull,  /* 131072 x 200000 */
     .naive_per_token = 131072},  /* 2 x 32 x 8 x 128 x 2 B */

    /* llama-4-scout: text_config: 48 layers, 40 heads, 8 KV heads, head_dim 128,
     * attention_chunk_size 8192, no_rope_layers [] -> default: layer i full (NoPE) iff
     * (i+1) % 4 == 0 (3, 7, .., 47: 12 layers), the other 36 chunked 8192.
     * max_position_embeddings 10485760. */
    {.slug = "llama-4-scout", .attn = KVT_ATTN_GQA, .layers = 48, .heads = 40, .kv_heads = 8,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 10485760,
     .layout = LAYOUT_FULL_EVERY4_CHUNKED, .n_full = 12, .n_chunked = 36, .chunk = 8192,
     .kv_per_token = 196608,      /* 48 x 8 x (128 + 128) x 2 B = 48 x 4096 */
     .seq_32k = 2818572288ull,    /* 4096 x (12 x 32768 + 36 x 8192) */
     .seq_1k = 196608000,         /* 1000 < 8192: 196608 x 1000 */
     .seq_200k = 11038359552ull,  /* 4096 x (12 x 200000 + 36 x 8192) */
     .naive_per_token = 196608},  /* 2 x 48 x 8 x 128 x 2 B */

    /* mistral-7b-v0.1: 32 layers, 32 heads, 8 KV heads, hidden 4096 -> head_dim 128,
     * sliding_window 4096 on every layer, max_position_embeddings 32768. */
    {.slug = "mistral-7b-v0.1", .attn = KVT_ATTN_GQA, .layers = 32, .heads = 32, .kv_heads = 8,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 32768,
     .layout = LAYOUT_ALL_SLIDING, .n_sliding = 32, .window = 4096,
     .kv_per_token = 131072,     /* 32 x 8 x (128 + 128) x 2 B */
     .seq_32k = 536870912,       /* 131072 x min(32768, 4096) = 131072 x 4096 */
     .seq_1k = 131072000,        /* 131072 x 1000 */
     .seq_200k = 536870912,      /* 131072 x 4096: the window caps it */
     .naive_per_token = 131072}, /* 2 x 32 x 8 x 128 x 2 B */

    /* mixtral-8x7b: 32 layers, 32 heads, 8 KV heads, head_dim 4096/32 = 128,
     * sliding_window null -> all full. max_position_embeddings 32768. */
    {.slug = "mixtral-8x7b", .attn = KVT_ATTN_GQA, .layers = 32, .heads = 32, .kv_heads = 8,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 32768,
     .layout = LAYOUT_ALL_FULL, .n_full = 32,
     .kv_per_token = 131072,      /* 32 x 8 x 256 x 2 B */
     .seq_32k = 4294967296ull,    /* 131072 x 32768 */
     .seq_1k = 131072000,         /* 131072 x 1000 */
     .seq_200k = 26214400000ull,  /* 131072 x 200000 */
     .naive_per_token = 131072},

    /* qwen2.5-72b: 80 layers, 64 heads, 8 KV heads, head_dim 8192/64 = 128;
     * use_sliding_window false -> no window (despite sliding_window 131072, max_window_layers
     * 70). max_position_embeddings 32768. */
    {.slug = "qwen2.5-72b", .attn = KVT_ATTN_GQA, .layers = 80, .heads = 64, .kv_heads = 8,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 32768,
     .layout = LAYOUT_ALL_FULL, .n_full = 80,
     .kv_per_token = 327680,      /* 80 x 8 x 256 x 2 B */
     .seq_32k = 10737418240ull,   /* 327680 x 32768 */
     .seq_1k = 327680000,         /* 327680 x 1000 */
     .seq_200k = 65536000000ull,  /* 327680 x 200000 */
     .naive_per_token = 327680},

    /* qwen2.5-7b: 28 layers, 28 heads, 4 KV heads, head_dim 3584/28 = 128,
     * use_sliding_window false. max_position_embeddings 32768. */
    {.slug = "qwen2.5-7b", .attn = KVT_ATTN_GQA, .layers = 28, .heads = 28, .kv_heads = 4,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 32768,
     .layout = LAYOUT_ALL_FULL, .n_full = 28,
     .kv_per_token = 57344,       /* 28 x 4 x (128 + 128) x 2 B = 28 x 2048 */
     .seq_32k = 1879048192,       /* 57344 x 32768 */
     .seq_1k = 57344000,          /* 57344 x 1000 */
     .seq_200k = 11468800000ull,  /* 57344 x 200000 */
     .naive_per_token = 57344},   /* 2 x 28 x 4 x 128 x 2 B */

    /* qwen3-235b-a22b: 94 layers, 64 heads, 4 KV heads, head_dim 128 (not 4096/64 = 64),
     * sliding_window null. max_position_embeddings 40960. */
    {.slug = "qwen3-235b-a22b", .attn = KVT_ATTN_GQA, .layers = 94, .heads = 64, .kv_heads = 4,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 40960,
     .layout = LAYOUT_ALL_FULL, .n_full = 94,
     .kv_per_token = 192512,      /* 94 x 4 x (128 + 128) x 2 B = 94 x 2048 */
     .seq_32k = 6308233216ull,    /* 192512 x 32768 */
     .seq_1k = 192512000,         /* 192512 x 1000 */
     .seq_200k = 38502400000ull,  /* 192512 x 200000 */
     .naive_per_token = 192512},

    /* qwen3-32b: 64 layers, 64 heads, 8 KV heads, head_dim 128 (not 5120/64 = 80).
     * max_position_embeddings 40960. */
    {.slug = "qwen3-32b", .attn = KVT_ATTN_GQA, .layers = 64, .heads = 64, .kv_heads = 8,
     .head_dim = 128, .torch_dtype = KVT_DTYPE_BF16, .max_context = 40960,
     .layout = LAYOUT_ALL_FULL, .n_full = 64,
     .kv_per_token = 262144,      /* 64 x 8 x (128 + 128) x 2 B = 64 x 4096 */
     .seq_32k = 8589934592ull,    /* 262144 x 32768 */
     .seq_1k = 262144000,         /* 262144 x 1000 */
     .seq_200k = 52428800000ull,  /* 262144 x 200000 */
     .naive_per_token = 262144},

    /* qwen3-next-80b-a3b: 48 layers, 16 heads, 2 KV heads, head_dim 256,
     * full_attention_interval 4: full iff (i+1) % 4 == 0 (12 layers), 36 Gated DeltaNet linear
     * layers with linear_num_key_heads 16, linear_num_value_heads 32, key/value head dims 128,
     * linear_conv_kernel_dim 4. bfloat16. max_position_embeddings 262144. */
    {.slug = "qwen3-next-80b-a3b", .attn = KVT_ATTN_GQA, .layers = 48, .heads = 16,
     .kv_heads = 2, .head_dim = 256, .torch_dtype = KVT_DTYPE_BF16, .max_context = 262144,
     .layout = LAYOUT_FULL_EVERY4_LINEAR, .n_full = 12, .n_linear = 36,
     .kv_per_token = 24576,       /* 12 full layers x 2 x (256 + 256) x 2 B = 12 x 2048 */
     /* state per linear layer: recurrent 32 x 128 x 128 = 524288 elements,
      *   conv (4 - 1) x (2 x 16 x 128 + 32 x 128) = 3 x 8192 = 24576 elements,
      *   (524288 + 24576) x 2 B = 1097728 B; x 36 layers = 39518208 */
     .state = 39518208,
     .seq_32k = 844824576,        /* 24576 x 32768 + 39518208 = 805306368 + 39518208 */
     .seq_1k = 64094208,          /* 24576 x 1000 + 39518208 */
     .seq_200k = 4954718208ull,   /* 24576 x 200000 + 39518208 */
     .naive_per_token = 98304},   /* 2 x 48 (all layers) x 2 x 256 x 2 B */
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static const model_row_t *row_by_slug(const char *slug)
{
    for (size_t i = 0; i < NROWS; i++) {
        if (strcmp(rows[i].slug, slug) == 0) {
            return &rows[i];
        }
    }
    return NULL;
}

/* The kind layer i must have under the row's layout rule. */
static kvt_layer_kind_t expected_kind(layout_t layout, uint32_t i)
{
    switch (layout) {
    case LAYOUT_ALL_FULL:
        return KVT_LAYER_FULL;
    case LAYOUT_ALL_SLIDING:
        return KVT_LAYER_SLIDING;
    case LAYOUT_EVEN_SLIDING:
        return i % 2 == 0 ? KVT_LAYER_SLIDING : KVT_LAYER_FULL;
    case LAYOUT_GLOBAL_EVERY6:
        return (i + 1) % 6 == 0 ? KVT_LAYER_FULL : KVT_LAYER_SLIDING;
    case LAYOUT_FULL_EVERY4_CHUNKED:
        return (i + 1) % 4 == 0 ? KVT_LAYER_FULL : KVT_LAYER_CHUNKED;
    case LAYOUT_FULL_EVERY4_LINEAR:
        return (i + 1) % 4 == 0 ? KVT_LAYER_FULL : KVT_LAYER_LINEAR;
    case LAYOUT_ATTN_I_MOD8_IS4:
        return i % 8 == 4 ? KVT_LAYER_FULL : KVT_LAYER_MAMBA;
    }
    return KVT_LAYER_FULL;
}

/* ---------------------------------------------------------------------------------------------
 * Catalog coverage
 * ------------------------------------------------------------------------------------------- */

/* The table covers the catalog exactly: 22 models, each with one row, and no stray rows. */
static void test_catalog_covered(void **state)
{
    (void)state;
    begin_checks("catalog");
    CHECK_U64(kvt_catalog_count(), 22);
    CHECK_U64(NROWS, 22);
    for (size_t i = 0; i < kvt_catalog_count(); i++) {
        const kvt_catalog_entry_t *e = kvt_catalog_at(i);
        assert_non_null(e);
        if (row_by_slug(e->name) == NULL) {
            print_error("catalog model %s has no row in this test\n", e->name);
            g_failures++;
        }
    }
    CHECK_TRUE(kvt_catalog_at(kvt_catalog_count()) == NULL);
    for (size_t i = 0; i < NROWS; i++) {
        if (kvt_catalog_find(rows[i].slug) == NULL) {
            print_error("row %s is not in the catalog\n", rows[i].slug);
            g_failures++;
        }
        for (size_t j = i + 1; j < NROWS; j++) {
            CHECK_TRUE(strcmp(rows[i].slug, rows[j].slug) != 0);
        }
    }
    end_checks();
}

/* ---------------------------------------------------------------------------------------------
 * One test per row: info, layout, sizes at 32768 / 1000 / 200000 tokens
 * ------------------------------------------------------------------------------------------- */

static void check_info(const model_row_t *r, const kvt_model_info_t *in)
{
    CHECK_TRUE(strcmp(in->name, r->slug) == 0);
    CHECK_U64(in->attn_kind, r->attn);
    CHECK_U64(in->num_layers, r->layers);
    CHECK_U64(in->num_heads, r->heads);
    CHECK_U64(in->num_kv_heads, r->kv_heads);
    CHECK_U64(in->head_dim, r->head_dim);
    CHECK_U64(in->torch_dtype, r->torch_dtype);
    CHECK_U64(in->max_context, r->max_context);
    CHECK_U64(in->mtp_layers, r->mtp_layers);
    if (r->attn == KVT_ATTN_MLA) {
        /* all four MLA models: kv_lora_rank 512, qk_rope 64, qk_nope 128, v_head_dim 128 */
        CHECK_U64(in->kv_lora_rank, 512);
        CHECK_U64(in->qk_rope_head_dim, 64);
        CHECK_U64(in->qk_nope_head_dim, 128);
        CHECK_U64(in->v_head_dim, 128);
    } else {
        CHECK_U64(in->kv_lora_rank, 0);
    }
    /* index_head_dim 128 only in deepseek-v3.2 */
    CHECK_U64(in->index_head_dim, r->indexer_per_token != 0 ? 128 : 0);
}

static void check_layout(const model_row_t *r, const kvt_model_t *m)
{
    uint32_t count[5] = {0, 0, 0, 0, 0};
    char what[96];

    CHECK_TRUE(kvt_model_layer(m, r->layers) == NULL);
    for (uint32_t i = 0; i < r->layers; i++) {
        const kvt_layer_desc_t *l = kvt_model_layer(m, i);
        assert_non_null(l);
        kvt_layer_kind_t want = expected_kind(r->layout, i);
        if (l->kind != want) {
            snprintf(what, sizeof(what), "layer %u kind", i);
            print_error("%s: %s: program says %s, config says %s\n", r->slug, what,
                        kvt_layer_kind_name(l->kind), kvt_layer_kind_name(want));
            g_failures++;
        }
        if ((unsigned)l->kind < 5) {
            count[l->kind]++;
        }
        uint32_t want_window = want == KVT_LAYER_SLIDING   ? r->window
                               : want == KVT_LAYER_CHUNKED ? r->chunk
                                                           : 0;
        if (l->window != want_window) {
            print_error("%s: layer %u window: program says %u, config says %u\n", r->slug, i,
                        l->window, want_window);
            g_failures++;
        }
        if (is_attention(want)) {
            if (r->attn == KVT_ATTN_MLA) {
                CHECK_U64(l->latent_dim, r->latent_dim);
            } else {
                CHECK_U64(l->kv_heads, r->kv_heads);
                CHECK_U64(l->k_head_dim, r->head_dim);
                CHECK_U64(l->v_head_dim, r->head_dim);
                CHECK_U64(l->latent_dim, 0);
            }
        }
    }
    CHECK_U64(count[KVT_LAYER_FULL], r->n_full);
    CHECK_U64(count[KVT_LAYER_SLIDING], r->n_sliding);
    CHECK_U64(count[KVT_LAYER_CHUNKED], r->n_chunked);
    CHECK_U64(count[KVT_LAYER_LINEAR], r->n_linear);
    CHECK_U64(count[KVT_LAYER_MAMBA], r->n_mamba);
    /* the row's own counts must add up (guards the table itself) */
    CHECK_U64(r->n_full + r->n_sliding + r->n_chunked + r->n_linear + r->n_mamba, r->layers);
}

static void test_model_row(void **state)
{
    const model_row_t *r = *state;
    begin_checks(r->slug);
    kvt_model_t *m = load(r->slug);
    check_info(r, kvt_model_info(m));
    check_layout(r, m);

    /* defaults: 32768 tokens, bf16, TP = PP = 1, block 16 */
    kvt_size_opts_t opts;
    kvt_size_opts_init(&opts);
    CHECK_U64(opts.context_tokens, 32768);
    CHECK_U64(opts.kv_dtype, KVT_DTYPE_BF16);
    CHECK_U64(opts.block_tokens, 16);
    CHECK_U64(opts.tp, 1);
    CHECK_U64(opts.pp, 1);
    kvt_sizing_t *s = size_opts(m, &opts);
    CHECK_U64(s->kv_dtype, KVT_DTYPE_BF16);
    CHECK_U64(s->context_tokens, 32768);
    CHECK_U64(s->block_tokens, 16);
    CHECK_U64(s->num_layers, r->layers);
    CHECK_U64(s->kv_bytes_per_token, r->kv_per_token);
    CHECK_U64(s->sequence_bytes, r->seq_32k);
    /* 32768 and every window (128, 1024, 4096, 8192) are multiples of 16: no rounding */
    CHECK_U64(s->sequence_bytes_paged, r->seq_32k);
    CHECK_U64(s->state_bytes, r->state);
    CHECK_U64(s->naive_bytes_per_token, r->naive_per_token);
    CHECK_U64(s->naive_sequence_bytes_paged, r->naive_per_token * 32768);
    CHECK_U64(s->indexer_bytes_per_token, r->indexer_per_token);
    CHECK_U64(s->indexer_sequence_bytes, r->indexer_per_token * 32768);
    CHECK_U64(s->total_sequence_bytes, r->seq_32k + r->indexer_per_token * 32768);
    CHECK_U64(s->total_sequence_bytes_paged, r->seq_32k + r->indexer_per_token * 32768);
    CHECK_U64(s->mtp_bytes_per_token, r->mtp_per_token);
    CHECK_U64(s->mtp_sequence_bytes, r->mtp_per_token * 32768);
    if (r->attn != KVT_ATTN_MLA) {
        CHECK_U64(s->mla_bytes_per_token_layer, 0);
        CHECK_U64(s->mha_equivalent_bytes_per_token, 0);
        CHECK_U64(s->mha_equivalent_paper_bytes_per_token, 0);
    } else {
        CHECK_U64(s->mla_bytes_per_token_layer, r->latent_dim * 2);
    }
    /* at TP = PP = 1 the one GPU holds everything */
    CHECK_U64(s->gpu_kv_bytes_per_token, r->kv_per_token);
    CHECK_U64(s->gpu_sequence_bytes_paged, r->seq_32k + r->indexer_per_token * 32768);
    /* per-layer figures add up to the totals; attention layers hold min(C, window) tokens */
    uint64_t sum_seq = 0, sum_tok = 0;
    for (uint32_t i = 0; i < s->num_layers; i++) {
        const kvt_layer_size_t *ls = &s->layers[i];
        kvt_layer_kind_t k = expected_kind(r->layout, i);
        uint64_t held = k == KVT_LAYER_SLIDING   ? (r->window < 32768 ? r->window : 32768)
                        : k == KVT_LAYER_CHUNKED ? (r->chunk < 32768 ? r->chunk : 32768)
                        : k == KVT_LAYER_FULL    ? 32768
                                                 : 0;
        CHECK_U64(ls->index, i);
        CHECK_U64(ls->tokens_held, held);
        sum_seq += ls->sequence_bytes;
        sum_tok += ls->bytes_per_token;
    }
    CHECK_U64(sum_seq, r->seq_32k);
    CHECK_U64(sum_tok, r->kv_per_token);
    kvt_sizing_destroy(s);

    /* 1000 tokens: below every window and chunk except gpt-oss's 128 */
    s = size_ctx(m, 1000);
    CHECK_U64(s->kv_bytes_per_token, r->kv_per_token);
    CHECK_U64(s->sequence_bytes, r->seq_1k);
    CHECK_U64(s->state_bytes, r->state);
    CHECK_U64(s->indexer_sequence_bytes, r->indexer_per_token * 1000);
    CHECK_U64(s->total_sequence_bytes, r->seq_1k + r->indexer_per_token * 1000);
    kvt_sizing_destroy(s);

    /* 200000 tokens: above every window and chunk */
    s = size_ctx(m, 200000);
    CHECK_U64(s->kv_bytes_per_token, r->kv_per_token);
    CHECK_U64(s->sequence_bytes, r->seq_200k);
    CHECK_U64(s->state_bytes, r->state);
    CHECK_U64(s->total_sequence_bytes, r->seq_200k + r->indexer_per_token * 200000);
    kvt_sizing_destroy(s);

    kvt_model_destroy(m);
    end_checks();
}

/* ---------------------------------------------------------------------------------------------
 * Layouts: specific indices, from each config's own rule
 * ------------------------------------------------------------------------------------------- */

static void expect_layer(const kvt_model_t *m, uint32_t i, kvt_layer_kind_t kind,
                         uint32_t window)
{
    const kvt_layer_desc_t *l = kvt_model_layer(m, i);
    if (l == NULL) {
        print_error("%s: layer %u missing\n", g_subject, i);
        g_failures++;
        return;
    }
    if (l->kind != kind || l->window != window) {
        print_error("%s: layer %u: program says %s/%u, config says %s/%u\n", g_subject, i,
                    kvt_layer_kind_name(l->kind), l->window, kvt_layer_kind_name(kind), window);
        g_failures++;
    }
}

static void test_layout_indices(void **state)
{
    kvt_model_t *m;
    (void)state;
    begin_checks("layout indices");

    /* Gemma 2 9B (42 layers, sliding_window 4096): even layers sliding, odd global */
    m = load("gemma-2-9b");
    expect_layer(m, 0, KVT_LAYER_SLIDING, 4096);
    expect_layer(m, 1, KVT_LAYER_FULL, 0);
    expect_layer(m, 40, KVT_LAYER_SLIDING, 4096);
    expect_layer(m, 41, KVT_LAYER_FULL, 0);
    kvt_model_destroy(m);

    /* Gemma 2 27B (46 layers): same rule */
    m = load("gemma-2-27b");
    expect_layer(m, 44, KVT_LAYER_SLIDING, 4096);
    expect_layer(m, 45, KVT_LAYER_FULL, 0);
    kvt_model_destroy(m);

    /* Gemma 3 27B (62 layers, window 1024, pattern 6): global iff (i+1) % 6 == 0 */
    m = load("gemma-3-27b");
    expect_layer(m, 0, KVT_LAYER_SLIDING, 1024);
    expect_layer(m, 4, KVT_LAYER_SLIDING, 1024);
    expect_layer(m, 5, KVT_LAYER_FULL, 0);   /* 6 % 6 == 0 */
    expect_layer(m, 6, KVT_LAYER_SLIDING, 1024);
    expect_layer(m, 11, KVT_LAYER_FULL, 0);  /* 12 % 6 == 0 */
    expect_layer(m, 59, KVT_LAYER_FULL, 0);  /* 60 % 6 == 0 */
    expect_layer(m, 60, KVT_LAYER_SLIDING, 1024);
    expect_layer(m, 61, KVT_LAYER_SLIDING, 1024); /* 62 % 6 == 2 */
    kvt_model_destroy(m);

    /* gpt-oss-20b: layer_types starts "sliding_attention", "full_attention", ...; window 128 */
    m = load("gpt-oss-20b");
    expect_layer(m, 0, KVT_LAYER_SLIDING, 128);
    expect_layer(m, 1, KVT_LAYER_FULL, 0);
    expect_layer(m, 22, KVT_LAYER_SLIDING, 128);
    expect_layer(m, 23, KVT_LAYER_FULL, 0);
    kvt_model_destroy(m);

    /* gpt-oss-120b: 36 entries, same alternation */
    m = load("gpt-oss-120b");
    expect_layer(m, 34, KVT_LAYER_SLIDING, 128);
    expect_layer(m, 35, KVT_LAYER_FULL, 0);
    kvt_model_destroy(m);

    /* Llama 4 Scout: no_rope_layers [] -> (i+1) % 4 == 0 global, else chunked 8192 */
    m = load("llama-4-scout");
    expect_layer(m, 0, KVT_LAYER_CHUNKED, 8192);
    expect_layer(m, 2, KVT_LAYER_CHUNKED, 8192);
    expect_layer(m, 3, KVT_LAYER_FULL, 0);
    expect_layer(m, 4, KVT_LAYER_CHUNKED, 8192);
    expect_layer(m, 7, KVT_LAYER_FULL, 0);
    expect_layer(m, 46, KVT_LAYER_CHUNKED, 8192);
    expect_layer(m, 47, KVT_LAYER_FULL, 0);
    kvt_model_destroy(m);

    /* Qwen3-Next: full_attention_interval 4 -> full iff (i+1) % 4 == 0, else linear */
    m = load("qwen3-next-80b-a3b");
    expect_layer(m, 0, KVT_LAYER_LINEAR, 0);
    expect_layer(m, 2, KVT_LAYER_LINEAR, 0);
    expect_layer(m, 3, KVT_LAYER_FULL, 0);
    expect_layer(m, 4, KVT_LAYER_LINEAR, 0);
    expect_layer(m, 47, KVT_LAYER_FULL, 0);
    kvt_model_destroy(m);

    /* Jamba: attn_layer_period 8, attn_layer_offset 4 -> attention at 4, 12, 20, 28 */
    m = load("jamba-v0.1");
    expect_layer(m, 0, KVT_LAYER_MAMBA, 0);
    expect_layer(m, 3, KVT_LAYER_MAMBA, 0);
    expect_layer(m, 4, KVT_LAYER_FULL, 0);
    expect_layer(m, 5, KVT_LAYER_MAMBA, 0);
    expect_layer(m, 12, KVT_LAYER_FULL, 0);
    expect_layer(m, 20, KVT_LAYER_FULL, 0);
    expect_layer(m, 28, KVT_LAYER_FULL, 0);
    expect_layer(m, 31, KVT_LAYER_MAMBA, 0);
    kvt_model_destroy(m);

    /* Qwen2.5 72B: use_sliding_window false, so layers from max_window_layers (70) on are
     * still full and have no window */
    m = load("qwen2.5-72b");
    expect_layer(m, 0, KVT_LAYER_FULL, 0);
    expect_layer(m, 69, KVT_LAYER_FULL, 0);
    expect_layer(m, 70, KVT_LAYER_FULL, 0);
    expect_layer(m, 79, KVT_LAYER_FULL, 0);
    kvt_model_destroy(m);

    /* Qwen2.5 7B: same (max_window_layers 28 = all) */
    m = load("qwen2.5-7b");
    expect_layer(m, 0, KVT_LAYER_FULL, 0);
    expect_layer(m, 27, KVT_LAYER_FULL, 0);
    kvt_model_destroy(m);

    /* Mistral 7B v0.1: sliding_window 4096 on every layer */
    m = load("mistral-7b-v0.1");
    expect_layer(m, 0, KVT_LAYER_SLIDING, 4096);
    expect_layer(m, 31, KVT_LAYER_SLIDING, 4096);
    kvt_model_destroy(m);

    /* Mixtral: sliding_window null -> full */
    m = load("mixtral-8x7b");
    expect_layer(m, 0, KVT_LAYER_FULL, 0);
    expect_layer(m, 31, KVT_LAYER_FULL, 0);
    kvt_model_destroy(m);

    /* Falcon 7B: multi_query -> 1 KV head (MQA), head_dim 4544 / 71 = 64 */
    m = load("falcon-7b");
    {
        const kvt_model_info_t *in = kvt_model_info(m);
        const kvt_layer_desc_t *l = kvt_model_layer(m, 0);
        CHECK_U64(in->attn_kind, KVT_ATTN_MQA);
        CHECK_U64(in->num_kv_heads, 1);
        CHECK_U64(in->head_dim, 64);
        CHECK_U64(l->kv_heads, 1);
        CHECK_U64(l->k_head_dim, 64);
        CHECK_U64(l->v_head_dim, 64);
    }
    kvt_model_destroy(m);
    end_checks();
}

/* ---------------------------------------------------------------------------------------------
 * Linear / SSM state
 * ------------------------------------------------------------------------------------------- */

static void test_gated_deltanet_state(void **state)
{
    (void)state;
    begin_checks("qwen3-next-80b-a3b state");
    kvt_model_t *m = load("qwen3-next-80b-a3b");
    /* layer 0 is linear: linear_num_value_heads 32 units of 128 x 128 = 16384 elements;
     * conv channels 2 x 16 x 128 + 32 x 128 = 4096 + 4096 = 8192, width 4 - 1 = 3 */
    const kvt_layer_desc_t *l = kvt_model_layer(m, 0);
    CHECK_U64(l->kind, KVT_LAYER_LINEAR);
    CHECK_U64(l->state_units, 32);
    CHECK_U64(l->state_unit_elems, 16384);
    CHECK_U64(l->conv_channels, 8192);
    CHECK_U64(l->conv_width, 3);

    kvt_sizing_t *s = size_ctx(m, 32768);
    CHECK_U64(s->state_dtype, KVT_DTYPE_BF16); /* torch_dtype bfloat16 */
    CHECK_U64(s->state_bytes, 39518208);       /* 36 x (524288 + 24576) x 2 B */
    /* one linear layer: (32 x 16384 + 8192 x 3) x 2 B = 1097728, held at any context */
    CHECK_U64(s->layers[0].sequence_bytes, 1097728);
    CHECK_U64(s->layers[0].sequence_bytes_paged, 1097728);
    CHECK_U64(s->layers[0].tokens_held, 0);
    CHECK_U64(s->layers[0].bytes_per_token, 0);
    /* one full layer (3): 2 x (256 + 256) x 2 B = 2048 per token, x 32768 = 67108864 */
    CHECK_U64(s->layers[3].bytes_per_token, 2048);
    CHECK_U64(s->layers[3].sequence_bytes, 67108864);
    kvt_sizing_destroy(s);

    /* the state does not grow with the context: at 1 token, 24576 x 1 + 39518208 */
    s = size_ctx(m, 1);
    CHECK_U64(s->sequence_bytes, 39542784);
    kvt_sizing_destroy(s);

    /* state dtype fp32: 36 x 548864 elements x 4 B = 79036416; the KV cache is unchanged */
    kvt_size_opts_t o;
    kvt_size_opts_init(&o);
    o.state_dtype = KVT_DTYPE_FP32;
    s = size_opts(m, &o);
    CHECK_U64(s->state_bytes, 79036416);
    CHECK_U64(s->sequence_bytes, 805306368ull + 79036416); /* 24576 x 32768 + 79036416 */
    kvt_sizing_destroy(s);

    /* KV in fp8 leaves the bf16 state alone: 12 x 2 x 512 x 1 B = 12288 per token;
     * 12288 x 32768 + 39518208 = 402653184 + 39518208 = 442171392 */
    s = size_with(m, 32768, KVT_DTYPE_FP8_E4M3, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 12288);
    CHECK_U64(s->state_bytes, 39518208);
    CHECK_U64(s->sequence_bytes, 442171392);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
    end_checks();
}

static void test_mamba_state(void **state)
{
    (void)state;
    begin_checks("jamba-v0.1 state");
    kvt_model_t *m = load("jamba-v0.1");
    /* Mamba-1: d_inner = mamba_expand 2 x hidden 4096 = 8192 units of mamba_d_state 16;
     * conv over 8192 channels, width mamba_d_conv 4 - 1 = 3 */
    const kvt_layer_desc_t *l = kvt_model_layer(m, 0);
    CHECK_U64(l->kind, KVT_LAYER_MAMBA);
    CHECK_U64(l->state_units, 8192);
    CHECK_U64(l->state_unit_elems, 16);
    CHECK_U64(l->conv_channels, 8192);
    CHECK_U64(l->conv_width, 3);

    kvt_sizing_t *s = size_ctx(m, 32768);
    CHECK_U64(s->state_dtype, KVT_DTYPE_BF16);
    CHECK_U64(s->state_bytes, 8716288); /* 28 x (131072 + 24576) x 2 B */
    CHECK_U64(s->layers[0].sequence_bytes, 311296); /* (8192 x 16 + 8192 x 3) x 2 B */
    /* attention layer 4: 8 x (128 + 128) x 2 B = 4096 per token, x 32768 = 134217728 */
    CHECK_U64(s->layers[4].bytes_per_token, 4096);
    CHECK_U64(s->layers[4].sequence_bytes, 134217728);
    /* naive counts all 32 layers as attention: 2 x 32 x 8 x 128 x 2 = 131072, 8x the real 16384 */
    CHECK_U64(s->naive_bytes_per_token, 131072);
    CHECK_U64(s->kv_bytes_per_token, 16384);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
    end_checks();
}

/* ---------------------------------------------------------------------------------------------
 * MLA, MTP and the DeepSeek-V3.2 indexer
 * ------------------------------------------------------------------------------------------- */

static void test_mla_against_mha(void **state)
{
    (void)state;
    begin_checks("MLA vs MHA");

    /* DeepSeek-V3: 61 layers, 128 heads, latent 512 + 64 */
    kvt_model_t *m = load("deepseek-v3");
    kvt_sizing_t *s = size_ctx(m, 32768);
    CHECK_U64(s->mla_bytes_per_token_layer, 1152);           /* (512 + 64) x 2 B */
    CHECK_U64(s->kv_bytes_per_token, 70272);                 /* 61 x 1152 */
    CHECK_U64(s->mha_equivalent_bytes_per_token, 4997120);   /* 61 x 128 x (192 + 128) x 2 B */
    CHECK_U64(s->mha_equivalent_paper_bytes_per_token, 3997696); /* 61 x 128 x 2 x 128 x 2 B */
    /* ratios: 4997120 / 70272 = 640 x 128 / (2 x 576) = 71.11; 3997696 / 70272 = 56.89 */
    double r_true = (double)s->mha_equivalent_bytes_per_token / (double)s->kv_bytes_per_token;
    double r_paper =
        (double)s->mha_equivalent_paper_bytes_per_token / (double)s->kv_bytes_per_token;
    CHECK_TRUE(fabs(r_true - 71.1) < 0.05);
    CHECK_TRUE(fabs(r_paper - 56.9) < 0.05);
    CHECK_U64(s->naive_bytes_per_token, 4997120); /* naive = MHA with true dims, all layers */
    CHECK_U64(s->naive_sequence_bytes_paged, 163745628160ull); /* 4997120 x 32768 */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* DeepSeek-V2-Lite: 27 layers, 16 heads */
    m = load("deepseek-v2-lite");
    s = size_ctx(m, 32768);
    CHECK_U64(s->mla_bytes_per_token_layer, 1152);
    CHECK_U64(s->mha_equivalent_bytes_per_token, 276480);       /* 27 x 16 x 320 x 2 */
    CHECK_U64(s->mha_equivalent_paper_bytes_per_token, 221184); /* 27 x 16 x 256 x 2 */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* DeepSeek-V3.2: MLA figures as V3 (the indexer is not part of them) */
    m = load("deepseek-v3.2");
    s = size_ctx(m, 32768);
    CHECK_U64(s->mla_bytes_per_token_layer, 1152);
    CHECK_U64(s->mha_equivalent_bytes_per_token, 4997120);
    CHECK_U64(s->mha_equivalent_paper_bytes_per_token, 3997696);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* Kimi K2: 61 layers, 64 heads */
    m = load("kimi-k2");
    s = size_ctx(m, 32768);
    CHECK_U64(s->mla_bytes_per_token_layer, 1152);
    CHECK_U64(s->mha_equivalent_bytes_per_token, 2498560);       /* 61 x 64 x 320 x 2 */
    CHECK_U64(s->mha_equivalent_paper_bytes_per_token, 1998848); /* 61 x 64 x 256 x 2 */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
    end_checks();
}

static void test_mtp(void **state)
{
    (void)state;
    begin_checks("MTP");
    kvt_size_opts_t o;

    /* DeepSeek-V3: num_nextn_predict_layers 1 -> one extra latent of 1152 B per token,
     * reported apart from kv_bytes_per_token and sequence_bytes */
    kvt_model_t *m = load("deepseek-v3");
    kvt_sizing_t *s = size_ctx(m, 32768);
    CHECK_U64(s->mtp_bytes_per_token, 1152);
    CHECK_U64(s->mtp_sequence_bytes, 37748736);  /* 1152 x 32768 */
    CHECK_U64(s->kv_bytes_per_token, 70272);     /* 61 layers only */
    CHECK_U64(s->sequence_bytes, 2302672896ull); /* 70272 x 32768 */
    CHECK_U64(s->total_sequence_bytes, 2302672896ull);
    kvt_sizing_destroy(s);
    /* with include_mtp: total = 2302672896 + 37748736 = 2340421632; sequence_bytes unchanged */
    kvt_size_opts_init(&o);
    o.include_mtp = true;
    s = size_opts(m, &o);
    CHECK_U64(s->sequence_bytes, 2302672896ull);
    CHECK_U64(s->kv_bytes_per_token, 70272);
    CHECK_U64(s->total_sequence_bytes, 2340421632ull);
    CHECK_U64(s->total_sequence_bytes_paged, 2340421632ull);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* DeepSeek-V3.2: MTP layer = latent 1152 + indexer key 132 = 1284 B per token */
    m = load("deepseek-v3.2");
    s = size_ctx(m, 32768);
    CHECK_U64(s->mtp_bytes_per_token, 1284);
    CHECK_U64(s->mtp_sequence_bytes, 42074112); /* 1284 x 32768 */
    CHECK_U64(s->total_sequence_bytes, 2566520832ull); /* MTP not counted by default */
    kvt_sizing_destroy(s);
    kvt_size_opts_init(&o);
    o.include_mtp = true;
    s = size_opts(m, &o);
    /* 70272 x 32768 + 8052 x 32768 + 1284 x 32768 = 2302672896 + 263847936 + 42074112 */
    CHECK_U64(s->total_sequence_bytes, 2608594944ull);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* Kimi K2: num_nextn_predict_layers 0 */
    m = load("kimi-k2");
    s = size_ctx(m, 32768);
    CHECK_U64(kvt_model_info(m)->mtp_layers, 0);
    CHECK_U64(s->mtp_bytes_per_token, 0);
    CHECK_U64(s->mtp_sequence_bytes, 0);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
    end_checks();
}

static void test_indexer(void **state)
{
    (void)state;
    begin_checks("deepseek-v3.2 indexer");
    kvt_model_t *m = load("deepseek-v3.2");
    const kvt_model_info_t *in = kvt_model_info(m);
    CHECK_U64(in->index_head_dim, 128);
    CHECK_U64(in->index_n_heads, 64);
    CHECK_U64(in->index_topk, 2048);

    kvt_sizing_t *s = size_ctx(m, 32768);
    CHECK_U64(s->indexer_dtype, KVT_DTYPE_FP8_E4M3);
    CHECK_U64(s->indexer_group, 128);
    CHECK_U64(s->indexer_bytes_per_token, 8052);        /* 61 x (128 x 1 B + 4 B scale) */
    CHECK_U64(s->indexer_sequence_bytes, 263847936);    /* 8052 x 32768 */
    CHECK_U64(s->sequence_bytes, 2302672896ull);        /* 70272 x 32768, indexer excluded */
    CHECK_U64(s->total_sequence_bytes, 2566520832ull);  /* 2302672896 + 263847936 */
    CHECK_U64(s->kv_bytes_per_token, 70272);            /* indexer excluded */
    kvt_sizing_destroy(s);

    /* 10001 tokens (not a multiple of 16): ceil(10001 / 16) = 626 blocks = 10016 tokens */
    s = size_ctx(m, 10001);
    CHECK_U64(s->sequence_bytes, 702790272);            /* 70272 x 10001 */
    CHECK_U64(s->indexer_sequence_bytes, 80528052);     /* 8052 x 10001 */
    CHECK_U64(s->total_sequence_bytes, 783318324);      /* 702790272 + 80528052 */
    CHECK_U64(s->sequence_bytes_paged, 703844352);      /* 70272 x 10016 */
    CHECK_U64(s->total_sequence_bytes_paged, 784493184); /* (70272 + 8052) x 10016 */
    kvt_sizing_destroy(s);

    /* the indexer keeps its own fp8 format whatever the KV dtype: with fp8 KV the latent is
     * 61 x 576 x 1 B = 35136 per token; total = (35136 + 8052) x 32768 = 1415184384 */
    s = size_with(m, 32768, KVT_DTYPE_FP8_E4M3, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 35136);
    CHECK_U64(s->indexer_bytes_per_token, 8052);
    CHECK_U64(s->total_sequence_bytes, 1415184384);
    CHECK_U64(s->mtp_bytes_per_token, 708); /* 576 + 132 */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
    end_checks();
}

/* ---------------------------------------------------------------------------------------------
 * Paged sizes at a context that is not a multiple of 16: C = 10001
 *   full layer:    ceil(10001 / 16) = 626 blocks = 10016 tokens
 *   sliding W:     h = min(C, W); blocks = floor((C-1)/16) - floor((C-h)/16) + 1
 *   chunked K:     h = min(C, K); blocks = ceil(h / 16)
 * ------------------------------------------------------------------------------------------- */

static void test_paged_10001(void **state)
{
    (void)state;
    begin_checks("paged at 10001");
    kvt_model_t *m;
    kvt_sizing_t *s;

    /* Mistral 7B, 32 sliding layers of 4096 B/token, W = 4096: h = 4096,
     * floor(10000/16) - floor(5905/16) + 1 = 625 - 369 + 1 = 257 blocks = 4112 tokens */
    m = load("mistral-7b-v0.1");
    s = size_ctx(m, 10001);
    CHECK_U64(s->sequence_bytes, 536870912);        /* 131072 x 4096 */
    CHECK_U64(s->sequence_bytes_paged, 538968064);  /* 131072 x 4112 */
    CHECK_U64(s->layers[0].tokens_held, 4096);
    CHECK_U64(s->layers[0].sequence_bytes_paged, 16842752); /* 4096 x 4112 */
    CHECK_U64(s->naive_sequence_bytes_paged, 1312817152);   /* 131072 x 10016, no window */
    kvt_sizing_destroy(s);
    /* C = 4097: h = 4096 -> floor(4096/16) - floor(1/16) + 1 = 256 - 0 + 1 = 257 blocks */
    s = size_ctx(m, 4097);
    CHECK_U64(s->sequence_bytes, 536870912);       /* 131072 x 4096 */
    CHECK_U64(s->sequence_bytes_paged, 538968064); /* 131072 x 257 x 16 */
    kvt_sizing_destroy(s);
    /* C = 100 < W: h = 100 -> floor(99/16) - 0 + 1 = 7 blocks = 112 tokens */
    s = size_ctx(m, 100);
    CHECK_U64(s->sequence_bytes, 13107200);       /* 131072 x 100 */
    CHECK_U64(s->sequence_bytes_paged, 14680064); /* 131072 x 112 */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* gpt-oss-20b, 2048 B/token per layer, 12 full + 12 sliding with W = 128:
     * sliding h = 128: floor(10000/16) - floor(9873/16) + 1 = 625 - 617 + 1 = 9 blocks = 144 */
    m = load("gpt-oss-20b");
    s = size_ctx(m, 10001);
    CHECK_U64(s->sequence_bytes, 248930304);       /* 2048 x 12 x (10001 + 128) */
    CHECK_U64(s->sequence_bytes_paged, 249692160); /* 2048 x 12 x (10016 + 144) */
    CHECK_U64(s->layers[0].tokens_held, 128);
    CHECK_U64(s->layers[0].sequence_bytes, 262144);       /* 2048 x 128 */
    CHECK_U64(s->layers[0].sequence_bytes_paged, 294912); /* 2048 x 144 */
    CHECK_U64(s->layers[1].tokens_held, 10001);
    CHECK_U64(s->layers[1].sequence_bytes, 20482048);       /* 2048 x 10001 */
    CHECK_U64(s->layers[1].sequence_bytes_paged, 20512768); /* 2048 x 10016 */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* Llama 4 Scout, 4096 B/token per layer, 12 full + 36 chunked with K = 8192:
     * chunked h = 8192 -> ceil(8192/16) = 512 blocks = 8192 tokens */
    m = load("llama-4-scout");
    s = size_ctx(m, 10001);
    CHECK_U64(s->sequence_bytes, 1699528704);       /* 4096 x (12 x 10001 + 36 x 8192) */
    CHECK_U64(s->sequence_bytes_paged, 1700265984); /* 4096 x (12 x 10016 + 36 x 8192) */
    CHECK_U64(s->layers[0].tokens_held, 8192);
    CHECK_U64(s->layers[0].sequence_bytes_paged, 33554432); /* 4096 x 8192 */
    CHECK_U64(s->layers[3].sequence_bytes_paged, 41025536); /* 4096 x 10016 */
    kvt_sizing_destroy(s);
    /* C = 1000 < K: every layer holds 1000 = ceil(1000/16) = 63 blocks = 1008 tokens:
     * 196608 x 1008 = 198180864 */
    s = size_ctx(m, 1000);
    CHECK_U64(s->sequence_bytes, 196608000);
    CHECK_U64(s->sequence_bytes_paged, 198180864);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* Gemma 3 27B, 8192 B/token per layer, 10 full + 52 sliding with W = 1024:
     * h = 1024: floor(10000/16) - floor(8977/16) + 1 = 625 - 561 + 1 = 65 blocks = 1040 */
    m = load("gemma-3-27b");
    s = size_ctx(m, 10001);
    CHECK_U64(s->sequence_bytes, 1255489536);       /* 8192 x (10 x 10001 + 52 x 1024) */
    CHECK_U64(s->sequence_bytes_paged, 1263534080); /* 8192 x (10 x 10016 + 52 x 1040) */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* Jamba: 4 x 4096 B/token full layers, the Mamba state is not block-rounded */
    m = load("jamba-v0.1");
    s = size_ctx(m, 10001);
    CHECK_U64(s->sequence_bytes, 172572672);       /* 16384 x 10001 + 8716288 */
    CHECK_U64(s->sequence_bytes_paged, 172818432); /* 16384 x 10016 + 8716288 */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
    end_checks();
}

/* ---------------------------------------------------------------------------------------------
 * KV dtypes and quantization groups
 * ------------------------------------------------------------------------------------------- */

static void test_dtype_variants(void **state)
{
    (void)state;
    begin_checks("dtype variants");
    kvt_model_t *m;
    kvt_sizing_t *s;

    /* Llama 3.1 8B: 32 layers x 8 KV heads x 2 vectors (K, V) of 128 elements = 512 vectors */
    m = load("llama-3.1-8b");
    s = size_with(m, 32768, KVT_DTYPE_FP8_E4M3, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 65536);  /* 512 x 128 x 1 B, per-tensor scale */
    CHECK_U64(s->sequence_bytes, 2147483648ull); /* 65536 x 32768 */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_FP8_E5M2, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 65536);  /* same size as e4m3 */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_FP8_E4M3, 128);
    CHECK_U64(s->kv_bytes_per_token, 67584);  /* 512 x (128 + 1 fp32 scale x 4 B) */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_INT8, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 67584);  /* 512 x (128 x 1 B + 2 B scale + 2 B zero) */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_INT8, 32); /* --kv-group 32 */
    CHECK_U64(s->kv_bytes_per_token, 73728);  /* 512 x (128 + 128/32 = 4 groups x 4 B) */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_INT8, 48);
    CHECK_U64(s->kv_bytes_per_token, 71680);  /* 512 x (128 + ceil(128/48) = 3 groups x 4 B) */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_INT4, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 34816);  /* 512 x (128 x 0.5 B = 64 + 4 B) */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_INT4, 32);
    CHECK_U64(s->kv_bytes_per_token, 40960);  /* 512 x (64 + 4 groups x 4 B) */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_INT4, KVT_GROUP_TENSOR);
    CHECK_U64(s->kv_bytes_per_token, 32768);  /* 512 x 64, no per-token metadata */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_FP16, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 131072); /* 512 x 128 x 2 B */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_FP32, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 262144); /* 512 x 128 x 4 B */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_AUTO, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_dtype, KVT_DTYPE_BF16);   /* torch_dtype bfloat16 */
    CHECK_U64(s->kv_bytes_per_token, 131072);
    kvt_sizing_destroy(s);
    /* a group on an unquantized type is a contradiction */
    {
        kvt_size_opts_t o;
        kvt_sizing_t *bad = NULL;
        kvt_size_opts_init(&o);
        o.kv_group = 32;
        CHECK_U64(kvt_size_compute(m, &o, &bad, NULL), KVT_ERR_INVALID);
        CHECK_TRUE(bad == NULL);
    }
    kvt_model_destroy(m);

    /* DeepSeek-V3: 61 latents of 576 elements per token */
    m = load("deepseek-v3");
    s = size_with(m, 32768, KVT_DTYPE_FP8_E4M3, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 35136);           /* 61 x 576 x 1 B */
    CHECK_U64(s->mla_bytes_per_token_layer, 576);
    CHECK_U64(s->mha_equivalent_bytes_per_token, 2498560);       /* 61 x 128 x 320 x 1 B */
    CHECK_U64(s->mha_equivalent_paper_bytes_per_token, 1998848); /* 61 x 128 x 256 x 1 B */
    CHECK_U64(s->mtp_bytes_per_token, 576);
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_INT8, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 35380);  /* 61 x (576 + 4): one vector per latent */
    CHECK_U64(s->mla_bytes_per_token_layer, 580);
    /* MHA equivalent, int8 per head vector: 61 x 128 x ((192 + 4) + (128 + 4)) = 2561024 */
    CHECK_U64(s->mha_equivalent_bytes_per_token, 2561024);
    CHECK_U64(s->mha_equivalent_paper_bytes_per_token, 2061312); /* 61 x 128 x 2 x 132 */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_INT4, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 17812);  /* 61 x (576 / 2 + 4) = 61 x 292 */
    kvt_sizing_destroy(s);
    s = size_with(m, 32768, KVT_DTYPE_INT4, 32);
    CHECK_U64(s->kv_bytes_per_token, 21960);  /* 61 x (288 + 576/32 = 18 groups x 4 B) */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* Falcon 7B: 32 layers x 1 head x 2 vectors of 64 elements; int4 group 32:
     * 64 x 0.5 = 32 B + 2 groups x 4 B = 40 B per vector -> 32 x 2 x 40 = 2560 */
    m = load("falcon-7b");
    s = size_with(m, 32768, KVT_DTYPE_INT4, 32);
    CHECK_U64(s->kv_bytes_per_token, 2560);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* Gemma 2 9B, AUTO: torch_dtype float32 -> 4 B/element:
     * 42 x 8 x (256 + 256) x 4 = 688128 per token;
     * sequence 688128 / 42 = 16384 per layer x (21 x 32768 + 21 x 4096) = 12683575296 */
    m = load("gemma-2-9b");
    s = size_with(m, 32768, KVT_DTYPE_AUTO, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_dtype, KVT_DTYPE_FP32);
    CHECK_U64(s->kv_bytes_per_token, 688128);
    CHECK_U64(s->sequence_bytes, 12683575296ull);
    CHECK_U64(s->naive_bytes_per_token, 688128); /* 2 x 42 x 8 x 256 x 4 */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* Gemma 2 27B, AUTO: 46 x 16 x (128 + 128) x 4 B = 753664 */
    m = load("gemma-2-27b");
    s = size_with(m, 32768, KVT_DTYPE_AUTO, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_dtype, KVT_DTYPE_FP32);
    CHECK_U64(s->kv_bytes_per_token, 753664);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* gpt-oss-20b has no torch_dtype: AUTO means bf16, 24 x 8 x 128 x 2 = 49152 */
    m = load("gpt-oss-20b");
    s = size_with(m, 32768, KVT_DTYPE_AUTO, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_dtype, KVT_DTYPE_BF16);
    CHECK_U64(s->kv_bytes_per_token, 49152);
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);

    /* Qwen3-Next int4 KV: 12 full layers x 2 heads x 2 vectors x (256 x 0.5 + 4) = 48 x 132 */
    m = load("qwen3-next-80b-a3b");
    s = size_with(m, 32768, KVT_DTYPE_INT4, KVT_GROUP_DEFAULT);
    CHECK_U64(s->kv_bytes_per_token, 6336);
    CHECK_U64(s->state_bytes, 39518208); /* state stays bf16 */
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
    end_checks();
}

/* ---------------------------------------------------------------------------------------------
 * main: the fixed tests, then one test per table row
 * ------------------------------------------------------------------------------------------- */

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_catalog_covered),   cmocka_unit_test(test_layout_indices),
        cmocka_unit_test(test_gated_deltanet_state), cmocka_unit_test(test_mamba_state),
        cmocka_unit_test(test_mla_against_mha),   cmocka_unit_test(test_mtp),
        cmocka_unit_test(test_indexer),           cmocka_unit_test(test_paged_10001),
        cmocka_unit_test(test_dtype_variants),
    };
    enum { NFIXED = sizeof(fixed) / sizeof(fixed[0]) };
    static struct CMUnitTest all[NFIXED + NROWS];
    static char names[NROWS][64];

    for (size_t i = 0; i < NFIXED; i++) {
        all[i] = fixed[i];
    }
    for (size_t i = 0; i < NROWS; i++) {
        struct CMUnitTest *t = &all[NFIXED + i];
        snprintf(names[i], sizeof(names[i]), "test_model_row(%s)", rows[i].slug);
        memset(t, 0, sizeof(*t));
        t->name = names[i];
        t->test_func = test_model_row;
        t->initial_state = (void *)&rows[i];
    }
    return _cmocka_run_group_tests("test_catalog_sizes", all, NFIXED + NROWS, NULL, NULL);
}
