/*
 * Rendering sizing results.
 *
 * The JSON document is the contract scripts rely on (field names in docs/sizing.md); the text
 * report is for people and may change. Both are built from the same kvt_sizing_t/kvt_plan_t and
 * the same notes, and the JSON is assembled in memory and written only when complete, so a
 * failure never leaves half a document on stdout.
 */
#include "cli/size_report.h"

#include "cli/cli.h"
#include "cli/table.h"
#include "common/json_writer.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NOTES 12
#define NOTE_LEN  480

typedef struct notes {
    size_t n;
    char text[MAX_NOTES][NOTE_LEN];
} notes_t;

static void note(notes_t *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(notes_t *ns, const char *fmt, ...)
{
    va_list ap;
    if (ns->n == MAX_NOTES) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(ns->text[ns->n++], NOTE_LEN, fmt, ap);
    va_end(ap);
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0;
}

static uint32_t attention_layers(const kvt_sizing_t *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->num_layers; i++) {
        kvt_layer_kind_t k = s->layers[i].kind;
        n += k == KVT_LAYER_FULL || k == KVT_LAYER_SLIDING || k == KVT_LAYER_CHUNKED;
    }
    return n;
}

static void group_desc(char *buf, size_t len, kvt_dtype_t dt, uint32_t group)
{
    if (!kvt_dtype_is_quantized(dt)) {
        snprintf(buf, len, "%s, %u bits/element", kvt_dtype_name(dt), kvt_dtype_bits(dt));
    } else if (group == KVT_GROUP_TENSOR) {
        snprintf(buf, len, "%s, %u bits/element, one scale per tensor (no per-token overhead)",
                 kvt_dtype_name(dt), kvt_dtype_bits(dt));
    } else {
        char g[32];
        if (group == KVT_GROUP_VECTOR) {
            snprintf(g, sizeof(g), "per token and head");
        } else {
            snprintf(g, sizeof(g), "per %u elements", group);
        }
        snprintf(buf, len, "%s, %u bits/element + %u B of %s %s", kvt_dtype_name(dt),
                 kvt_dtype_bits(dt), kvt_dtype_group_meta_bytes(dt),
                 dt == KVT_DTYPE_FP8_E4M3 || dt == KVT_DTYPE_FP8_E5M2 ? "fp32 scale"
                                                                      : "fp16 scale + zero",
                 g);
    }
}

static void build_notes(const kvt_model_t *m, const kvt_sizing_t *s, const kvt_plan_t *p,
                        notes_t *ns)
{
    const kvt_model_info_t *in = kvt_model_info(m);
    memset(ns, 0, sizeof(*ns));

    if (in->max_context != 0 && s->context_tokens > in->max_context) {
        note(ns, "The context (%llu tokens) exceeds the model's max_position_embeddings (%llu).",
             (unsigned long long)s->context_tokens, (unsigned long long)in->max_context);
    }
    if (in->attn_kind == KVT_ATTN_MLA) {
        uint64_t lat = s->mla_bytes_per_token_layer;
        uint32_t L = attention_layers(s);
        note(ns,
             "MLA caches one latent of kv_lora_rank + qk_rope_head_dim = %u + %u = %u elements "
             "per token per layer (%llu B in %s), shared by all %u heads.",
             in->kv_lora_rank, in->qk_rope_head_dim, in->kv_lora_rank + in->qk_rope_head_dim,
             (unsigned long long)lat, kvt_dtype_name(s->kv_dtype), in->num_heads);
        note(ns,
             "Sized as MHA with its true head sizes (K: %u heads x (%u nope + %u rope), V: %u "
             "heads x %u) a layer would cost %llu B per token: %.1fx the latent.",
             in->num_heads, in->qk_nope_head_dim, in->qk_rope_head_dim, in->num_heads,
             in->v_head_dim, (unsigned long long)(L ? s->mha_equivalent_bytes_per_token / L : 0),
             ratio(s->mha_equivalent_bytes_per_token, (uint64_t)lat * L));
        note(ns,
             "The paper's convention (arXiv 2604.26968) counts K and V as %u heads x %u each, "
             "leaving out the decoupled RoPE key: %llu B per token per layer, %.1fx the latent.",
             in->num_heads, in->v_head_dim,
             (unsigned long long)(L ? s->mha_equivalent_paper_bytes_per_token / L : 0),
             ratio(s->mha_equivalent_paper_bytes_per_token, (uint64_t)lat * L));
        if (s->latent_replicated) {
            double rt = ratio(s->mha_equivalent_bytes_per_token, (uint64_t)lat * L);
            double rp = ratio(s->mha_equivalent_paper_bytes_per_token, (uint64_t)lat * L);
            note(ns,
                 "Under TP %u every rank keeps the whole latent (it is not split by heads), while "
                 "an MHA cache would be split %u ways: per GPU the advantage is %.1f / %u = "
                 "%.2fx (paper convention %.1f / %u = %.2fx, the ~7x batch-size gain the paper "
                 "reports). Data-parallel attention (--dp-attention) avoids the replication.",
                 s->tp, s->tp, rt, s->tp, rt / s->tp, rp, s->tp, rp / s->tp);
        }
    } else if (s->kv_head_replicas > 1) {
        note(ns,
             "TP %u exceeds the %u KV heads: each rank keeps one head and every head is "
             "replicated %u times, so the replica stores %ux the model's KV.",
             s->tp, in->num_kv_heads, s->kv_head_replicas, s->kv_head_replicas);
    }
    uint32_t win = 0, chunk = 0, nwin = 0, nchunk = 0;
    for (uint32_t i = 0; i < s->num_layers; i++) {
        if (s->layers[i].kind == KVT_LAYER_SLIDING) {
            win = s->layers[i].window;
            nwin++;
        } else if (s->layers[i].kind == KVT_LAYER_CHUNKED) {
            chunk = s->layers[i].window;
            nchunk++;
        }
    }
    if (nwin) {
        note(ns,
             "%u of %u layers use a sliding window of %u tokens: they hold the last "
             "min(context, %u) tokens of a sequence.",
             nwin, s->num_layers, win, win);
    }
    if (nchunk) {
        note(ns,
             "%u of %u layers use chunked attention (%u-token chunks): they hold at most one "
             "chunk, min(context, %u) tokens, at the peak.",
             nchunk, s->num_layers, chunk, chunk);
    }
    if (s->state_bytes) {
        char b[32];
        note(ns,
             "Linear-attention/SSM layers keep a constant state instead of per-token KV: %s per "
             "sequence in %s (recurrent + convolution state).",
             kvt_fmt_bytes(b, sizeof(b), s->state_bytes), kvt_dtype_name(s->state_dtype));
    }
    if (s->indexer_bytes_per_token) {
        note(ns,
             "The sparse-attention indexer caches one %u-element key per token per layer in fp8 "
             "with an fp32 scale per 128 elements (%llu B/token/layer), reported separately and "
             "included in the capacity figures.",
             in->index_head_dim,
             (unsigned long long)kvt_dtype_vector_bytes(s->indexer_dtype, in->index_head_dim,
                                                        s->indexer_group));
    }
    if (in->mtp_layers) {
        note(ns,
             "%u multi-token-prediction layer(s) add %llu B per token when speculative decoding "
             "uses them: %s.",
             in->mtp_layers, (unsigned long long)s->mtp_bytes_per_token,
             s->include_mtp ? "counted (--mtp)" : "not counted (add --mtp)");
    }
    if (p != NULL && p->fits && p->naive_max_sequences) {
        note(ns,
             "Batch ratio %.2fx = naive bytes per sequence per GPU / exact (paged, incl. states "
             "and indexer) = %llu / %llu.",
             p->batch_ratio, (unsigned long long)s->gpu_naive_sequence_bytes_paged,
             (unsigned long long)s->gpu_sequence_bytes_paged);
    }
    if (p != NULL && !p->fits) {
        char b1[32], b2[32];
        note(ns, "Does not fit: %s of weights per GPU + reserve exceed the %s usable; use more "
                 "GPUs (--tp/--pp) or a smaller weight type.",
             kvt_fmt_bytes(b1, sizeof(b1), p->weights_bytes_per_gpu),
             kvt_fmt_bytes(b2, sizeof(b2), p->usable_bytes_per_gpu));
    }
}

static void json_group(kvt_json_t *w, const char *key, uint32_t group)
{
    if (group == KVT_GROUP_TENSOR) {
        kvt_json_str(w, key, "tensor");
    } else if (group == KVT_GROUP_VECTOR) {
        kvt_json_str(w, key, "vector");
    } else {
        kvt_json_u64(w, key, group);
    }
}

static void json_plan(kvt_json_t *w, const kvt_plan_t *p)
{
    kvt_json_begin_object(w, "capacity");
    kvt_json_str(w, "gpu", p->gpu->name);
    kvt_json_u64(w, "gpus", p->gpus);
    kvt_json_u64(w, "hbm_bytes", p->gpu->hbm_bytes);
    kvt_json_double(w, "mem_util", p->mem_util);
    kvt_json_str(w, "weights_dtype", kvt_dtype_name(p->weights_dtype));
    kvt_json_u64(w, "weights_bytes", p->weights_bytes);
    kvt_json_u64(w, "weights_bytes_per_gpu", p->weights_bytes_per_gpu);
    kvt_json_u64(w, "activation_reserve_bytes", p->activation_reserve_bytes);
    kvt_json_u64(w, "usable_bytes_per_gpu", p->usable_bytes_per_gpu);
    kvt_json_bool(w, "fits", p->fits);
    kvt_json_u64(w, "kv_budget_bytes_per_gpu", p->kv_budget_bytes_per_gpu);
    kvt_json_u64(w, "tokens_per_gpu", p->tokens_per_gpu);
    kvt_json_u64(w, "max_sequences", p->max_sequences);
    kvt_json_u64(w, "naive_max_sequences", p->naive_max_sequences);
    kvt_json_double(w, "batch_ratio", p->batch_ratio);
    kvt_json_end_object(w);
}

/* Totals for n concurrent sequences, and for as many as fit: what a replica's KV cache holds. */
static void json_fleet(kvt_json_t *w, const kvt_sizing_t *s, const kvt_plan_t *p, uint64_t n)
{
    if (n == 0 && (p == NULL || !p->fits)) {
        return;
    }
    uint64_t v;
    kvt_json_begin_object(w, "fleet");
    if (n != 0) {
        kvt_json_u64(w, "sequences", n);
        if (!__builtin_mul_overflow(n, s->total_sequence_bytes, &v)) {
            kvt_json_u64(w, "bytes", v);
        }
        if (!__builtin_mul_overflow(n, s->total_sequence_bytes_paged, &v)) {
            kvt_json_u64(w, "bytes_paged", v);
        }
    }
    if (p != NULL && p->fits) {
        kvt_json_u64(w, "sequences_at_capacity", p->max_sequences);
        if (!__builtin_mul_overflow(p->max_sequences, s->total_sequence_bytes_paged, &v)) {
            kvt_json_u64(w, "bytes_paged_at_capacity", v);
        }
    }
    kvt_json_end_object(w);
}

static void json_model(kvt_json_t *w, const kvt_model_t *m, const kvt_sizing_t *s,
                       const kvt_plan_t *p, const notes_t *ns, bool per_layer, uint64_t nseq)
{
    const kvt_model_info_t *in = kvt_model_info(m);
    uint32_t counts[5] = {0};
    static const char *const kinds[] = {"full", "sliding", "chunked", "linear", "mamba"};

    for (uint32_t i = 0; i < s->num_layers; i++) {
        counts[s->layers[i].kind]++;
    }
    kvt_json_begin_object(w, NULL);
    kvt_json_str(w, "model", in->name);
    kvt_json_str(w, "origin", in->origin);
    kvt_json_str(w, "hf_id", in->hf_id);
    kvt_json_str(w, "model_type", in->model_type);
    kvt_json_str(w, "attention", kvt_attn_kind_name(in->attn_kind));
    kvt_json_u64(w, "num_layers", in->num_layers);
    kvt_json_begin_object(w, "layer_kinds");
    for (int k = 0; k < 5; k++) {
        kvt_json_u64(w, kinds[k], counts[k]);
    }
    kvt_json_end_object(w);
    kvt_json_u64(w, "num_heads", in->num_heads);
    kvt_json_u64(w, "num_kv_heads", in->num_kv_heads);
    kvt_json_u64(w, "head_dim", in->head_dim);
    kvt_json_str(w, "kv_dtype", kvt_dtype_name(s->kv_dtype));
    json_group(w, "kv_group", s->kv_group);
    kvt_json_str(w, "state_dtype", kvt_dtype_name(s->state_dtype));
    kvt_json_u64(w, "context_tokens", s->context_tokens);
    kvt_json_u64(w, "block_tokens", s->block_tokens);
    kvt_json_u64(w, "tp", s->tp);
    kvt_json_u64(w, "pp", s->pp);
    kvt_json_bool(w, "dp_attention", s->dp_attention);
    kvt_json_bool(w, "include_mtp", s->include_mtp);

    kvt_json_u64(w, "kv_bytes_per_token", s->kv_bytes_per_token);
    kvt_json_u64(w, "sequence_bytes", s->sequence_bytes);
    kvt_json_u64(w, "sequence_bytes_paged", s->sequence_bytes_paged);
    kvt_json_u64(w, "state_bytes_per_sequence", s->state_bytes);
    kvt_json_u64(w, "indexer_bytes_per_token", s->indexer_bytes_per_token);
    kvt_json_u64(w, "indexer_sequence_bytes", s->indexer_sequence_bytes);
    kvt_json_str(w, "indexer_dtype", s->indexer_bytes_per_token ? "fp8_e4m3" : "");
    kvt_json_u64(w, "mtp_layers", in->mtp_layers);
    kvt_json_u64(w, "mtp_bytes_per_token", s->mtp_bytes_per_token);
    kvt_json_u64(w, "mtp_sequence_bytes", s->mtp_sequence_bytes);
    kvt_json_u64(w, "total_sequence_bytes", s->total_sequence_bytes);
    kvt_json_u64(w, "total_sequence_bytes_paged", s->total_sequence_bytes_paged);
    if (in->attn_kind == KVT_ATTN_MLA) {
        uint64_t latent_all = s->mla_bytes_per_token_layer * attention_layers(s);
        kvt_json_u64(w, "mla_latent_elements", in->kv_lora_rank + in->qk_rope_head_dim);
        kvt_json_u64(w, "mla_bytes_per_token_layer", s->mla_bytes_per_token_layer);
        kvt_json_u64(w, "mha_equivalent_bytes_per_token", s->mha_equivalent_bytes_per_token);
        kvt_json_u64(w, "mha_equivalent_paper_bytes_per_token",
                     s->mha_equivalent_paper_bytes_per_token);
        kvt_json_double(w, "mla_ratio_true", ratio(s->mha_equivalent_bytes_per_token, latent_all));
        kvt_json_double(w, "mla_ratio_paper",
                        ratio(s->mha_equivalent_paper_bytes_per_token, latent_all));
    }
    kvt_json_u64(w, "naive_bytes_per_token", s->naive_bytes_per_token);
    kvt_json_u64(w, "naive_sequence_bytes_paged", s->naive_sequence_bytes_paged);

    kvt_json_begin_object(w, "parallel");
    kvt_json_u64(w, "kv_heads_per_rank", s->kv_heads_per_rank);
    kvt_json_u64(w, "kv_head_replicas", s->kv_head_replicas);
    kvt_json_bool(w, "latent_replicated", s->latent_replicated);
    kvt_json_u64(w, "sequence_groups", s->sequence_groups);
    kvt_json_end_object(w);
    kvt_json_begin_object(w, "per_gpu");
    kvt_json_u64(w, "kv_bytes_per_token", s->gpu_kv_bytes_per_token);
    kvt_json_u64(w, "sequence_bytes", s->gpu_sequence_bytes);
    kvt_json_u64(w, "sequence_bytes_paged", s->gpu_sequence_bytes_paged);
    kvt_json_u64(w, "naive_sequence_bytes_paged", s->gpu_naive_sequence_bytes_paged);
    kvt_json_end_object(w);
    kvt_json_begin_array(w, "stages");
    for (uint32_t k = 0; k < s->num_stages; k++) {
        const kvt_stage_size_t *st = &s->stages[k];
        kvt_json_begin_object(w, NULL);
        kvt_json_u64(w, "first_layer", st->first_layer);
        kvt_json_u64(w, "num_layers", st->num_layers);
        kvt_json_u64(w, "gpu_kv_bytes_per_token", st->gpu_kv_bytes_per_token);
        kvt_json_u64(w, "gpu_sequence_bytes", st->gpu_sequence_bytes);
        kvt_json_u64(w, "gpu_sequence_bytes_paged", st->gpu_sequence_bytes_paged);
        kvt_json_end_object(w);
    }
    kvt_json_end_array(w);
    if (per_layer) {
        kvt_json_begin_array(w, "layers");
        for (uint32_t i = 0; i < s->num_layers; i++) {
            const kvt_layer_size_t *l = &s->layers[i];
            kvt_json_begin_object(w, NULL);
            kvt_json_u64(w, "index", l->index);
            kvt_json_str(w, "kind", kvt_layer_kind_name(l->kind));
            kvt_json_u64(w, "window", l->window);
            kvt_json_u64(w, "stage", l->stage);
            kvt_json_u64(w, "bytes_per_token", l->bytes_per_token);
            kvt_json_u64(w, "tokens_held", l->tokens_held);
            kvt_json_u64(w, "sequence_bytes", l->sequence_bytes);
            kvt_json_u64(w, "sequence_bytes_paged", l->sequence_bytes_paged);
            kvt_json_end_object(w);
        }
        kvt_json_end_array(w);
    }
    if (p != NULL) {
        json_plan(w, p);
    }
    json_fleet(w, s, p, nseq);
    kvt_json_begin_array(w, "notes");
    for (size_t i = 0; i < ns->n; i++) {
        kvt_json_str(w, NULL, ns->text[i]);
    }
    kvt_json_end_array(w);
    kvt_json_end_object(w);
}

static void text_layers(const kvt_sizing_t *s)
{
    kvt_table_t t;
    char b[3][32];

    kvt_table_init(&t, 7);
    for (int c = 0; c < 7; c++) {
        t.right[c] = c != 1;
    }
    const char *head[] = {"layer", "kind", "window", "stage", "B/token", "tokens held",
                          "per sequence (paged)"};
    for (int c = 0; c < 7; c++) {
        kvt_table_cell(&t, "%s", head[c]);
    }
    for (uint32_t i = 0; i < s->num_layers; i++) {
        const kvt_layer_size_t *l = &s->layers[i];
        kvt_table_cell(&t, "%u", l->index);
        kvt_table_cell(&t, "%s", kvt_layer_kind_name(l->kind));
        kvt_table_cell(&t, l->window ? "%u" : "-", l->window);
        kvt_table_cell(&t, "%u", l->stage);
        kvt_table_cell(&t, "%s", l->bytes_per_token ? kvt_fmt_count(b[0], 32, l->bytes_per_token)
                                                    : "-");
        kvt_table_cell(&t, "%s", l->tokens_held ? kvt_fmt_count(b[1], 32, l->tokens_held) : "-");
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[2], 32, l->sequence_bytes_paged));
    }
    printf("\nper layer (replica):\n");
    kvt_table_print(&t, stdout, "  ");
    kvt_table_free(&t);
}

static void text_report(const kvt_size_cli_t *c, const kvt_model_t *m, const kvt_sizing_t *s,
                        const kvt_plan_t *p, const notes_t *ns)
{
    const kvt_model_info_t *in = kvt_model_info(m);
    char b[6][40], dt[160];
    uint32_t counts[5] = {0};

    for (uint32_t i = 0; i < s->num_layers; i++) {
        counts[s->layers[i].kind]++;
    }
    printf("%s%s%s%s  (%s)\n", in->name, in->hf_id[0] ? " - " : "", in->hf_id,
           "", in->origin);
    printf("  attention    %s, %u layers:", kvt_attn_kind_name(in->attn_kind), in->num_layers);
    for (int k = 0; k < 5; k++) {
        if (counts[k]) {
            printf(" %u %s", counts[k], kvt_layer_kind_name(k));
        }
    }
    if (in->attn_kind == KVT_ATTN_MLA) {
        printf("; %u query heads, latent %u + rope %u\n", in->num_heads, in->kv_lora_rank,
               in->qk_rope_head_dim);
    } else if (in->attn_kind != KVT_ATTN_NONE) {
        printf("; %u query heads, %u KV heads of %u\n", in->num_heads, in->num_kv_heads,
               in->head_dim);
    } else {
        printf("\n");
    }
    group_desc(dt, sizeof(dt), s->kv_dtype, s->kv_group);
    printf("  KV dtype     %s\n", dt);
    printf("  context      %s tokens, paged in blocks of %u\n",
           kvt_fmt_count(b[0], 40, s->context_tokens), s->block_tokens);
    printf("  parallelism  TP %u x PP %u%s%s\n", s->tp, s->pp,
           s->dp_attention ? ", data-parallel attention" : "",
           s->latent_replicated ? ", latent replicated on every TP rank" : "");
    printf("\n");

    kvt_table_t t;
    kvt_table_init(&t, 4);
    t.right[1] = t.right[2] = t.right[3] = true;
    kvt_table_cell(&t, "replica");
    kvt_table_cell(&t, "per token");
    kvt_table_cell(&t, "per sequence");
    kvt_table_cell(&t, "paged");
    kvt_table_cell(&t, "KV cache (attention layers)");
    kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[0], 40, s->kv_bytes_per_token));
    kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[1], 40, s->sequence_bytes - s->state_bytes));
    kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[2], 40, s->sequence_bytes_paged - s->state_bytes));
    if (s->state_bytes) {
        kvt_table_cell(&t, "linear/SSM state (%s)", kvt_dtype_name(s->state_dtype));
        kvt_table_cell(&t, "-");
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[1], 40, s->state_bytes));
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[2], 40, s->state_bytes));
    }
    if (s->indexer_bytes_per_token) {
        kvt_table_cell(&t, "sparse indexer keys (fp8)");
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[0], 40, s->indexer_bytes_per_token));
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[1], 40, s->indexer_sequence_bytes));
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[2], 40, s->total_sequence_bytes_paged -
                                                              s->sequence_bytes_paged -
                                                              (s->include_mtp ? s->mtp_sequence_bytes : 0)));
    }
    if (s->mtp_bytes_per_token) {
        kvt_table_cell(&t, "MTP layers (%s)", s->include_mtp ? "counted" : "not counted");
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[0], 40, s->mtp_bytes_per_token));
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[1], 40, s->mtp_sequence_bytes));
        kvt_table_cell(&t, "%s", "");
    }
    kvt_table_cell(&t, "total");
    kvt_table_cell(&t, "%s", "");
    kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[1], 40, s->total_sequence_bytes));
    kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[2], 40, s->total_sequence_bytes_paged));
    kvt_table_cell(&t, "naive (2 x layers x heads x dim)");
    kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[0], 40, s->naive_bytes_per_token));
    kvt_table_cell(&t, "%s", "");
    kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[2], 40, s->naive_sequence_bytes_paged));
    if (s->tp * s->pp > 1) {
        kvt_table_cell(&t, "one GPU (largest stage)");
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[0], 40, s->gpu_kv_bytes_per_token));
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[1], 40, s->gpu_sequence_bytes));
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[2], 40, s->gpu_sequence_bytes_paged));
    }
    kvt_table_print(&t, stdout, "  ");
    kvt_table_free(&t);
    printf("  exact bytes: %llu per token, %llu per sequence (kvtier size --json)\n",
           (unsigned long long)s->kv_bytes_per_token, (unsigned long long)s->sequence_bytes);
    uint64_t all, paged;
    if (c->sequences != 0 && !__builtin_mul_overflow(c->sequences, s->total_sequence_bytes, &all) &&
        !__builtin_mul_overflow(c->sequences, s->total_sequence_bytes_paged, &paged)) {
        printf("  %s sequences: %s (paged %s)\n", kvt_fmt_count(b[0], 40, c->sequences),
               kvt_fmt_bytes(b[1], 40, all), kvt_fmt_bytes(b[2], 40, paged));
    }

    if (p != NULL) {
        printf("\ncapacity on %s x %u (%s each, %.0f%% usable):\n", p->gpu->display, p->gpus,
               kvt_fmt_bytes(b[0], 40, p->gpu->hbm_bytes), p->mem_util * 100);
        printf("  weights      %s in %s, %s per GPU\n", kvt_fmt_bytes(b[0], 40, p->weights_bytes),
               kvt_dtype_name(p->weights_dtype), kvt_fmt_bytes(b[1], 40, p->weights_bytes_per_gpu));
        printf("  reserve      %s per GPU (activations, runtime)\n",
               kvt_fmt_bytes(b[0], 40, p->activation_reserve_bytes));
        if (p->fits) {
            printf("  KV budget    %s per GPU: %s tokens\n",
                   kvt_fmt_bytes(b[0], 40, p->kv_budget_bytes_per_gpu),
                   kvt_fmt_count(b[1], 40, p->tokens_per_gpu));
            printf("  sequences    %s of %s tokens (exact), %s (naive): %.2fx\n",
                   kvt_fmt_count(b[0], 40, p->max_sequences),
                   kvt_fmt_count(b[1], 40, s->context_tokens),
                   kvt_fmt_count(b[2], 40, p->naive_max_sequences), p->batch_ratio);
        } else {
            printf("  does not fit: no KV budget left\n");
        }
    }
    if (c->layers) {
        text_layers(s);
    }
    if (ns->n) {
        printf("\nnotes:\n");
        for (size_t i = 0; i < ns->n; i++) {
            printf("  - %s\n", ns->text[i]);
        }
    }
}

int kvt_size_report(const kvt_size_cli_t *c, const kvt_model_t *model,
                    const kvt_sizing_t *sizing, const kvt_plan_t *plan)
{
    notes_t ns;
    build_notes(model, sizing, plan, &ns);
    if (c->json) {
        kvt_json_t w;
        kvt_json_init(&w, true);
        json_model(&w, model, sizing, plan, &ns, true, c->sequences);
        return kvt_cli_print_json(&w);
    }
    text_report(c, model, sizing, plan, &ns);
    return KVT_EXIT_OK;
}

/*
 * Size one catalog model for --all. With --tp auto, try TP 1, 2, 4, 8 on one node, then 8 x PP 2
 * and 8 x PP 4 across nodes, and keep the first layout where at least one sequence fits.
 */
static kvt_status_t size_for_all(const kvt_size_cli_t *c, const kvt_model_t *m,
                                 kvt_sizing_t **s_p, kvt_plan_t *p, kvt_error_t *err)
{
    static const uint32_t layouts[][2] = {{1, 1}, {2, 1}, {4, 1}, {8, 1}, {8, 2}, {8, 4}};
    kvt_size_opts_t o = c->size;
    kvt_status_t st = KVT_ERR_INVALID;
    size_t n = c->tp_auto ? sizeof(layouts) / sizeof(layouts[0]) : 1;

    for (size_t i = 0; i < n; i++) {
        kvt_sizing_t *s;
        if (c->tp_auto) {
            o.tp = layouts[i][0];
            o.pp = layouts[i][1];
        }
        st = kvt_size_compute(m, &o, &s, err);
        if (st != KVT_OK) {
            continue; /* a TP the heads do not allow: try the next */
        }
        if (c->plan.gpu != NULL) {
            st = kvt_plan_compute(m, s, &c->plan, p, err);
            if (st == KVT_OK && p->max_sequences == 0 && i + 1 < n) {
                kvt_sizing_destroy(s);
                continue;
            }
        }
        if (st != KVT_OK) {
            kvt_sizing_destroy(s);
            return st;
        }
        *s_p = s;
        return KVT_OK;
    }
    return st;
}

int kvt_size_report_all(const kvt_size_cli_t *c)
{
    kvt_table_t t;
    kvt_json_t w;
    int rc = KVT_EXIT_OK;
    bool gpu = c->plan.gpu != NULL;
    char b[4][40];

    kvt_json_init(&w, true);
    kvt_json_begin_array(&w, NULL);
    kvt_table_init(&t, gpu ? 11 : 7);
    for (size_t i = 2; i < t.ncols; i++) {
        t.right[i] = true;
    }
    const char *head[] = {"model", "attention", "KV B/token", "naive B/token", "ratio",
                          "per sequence", "paged", "TP", "weights/GPU", "sequences", "vs naive"};
    for (size_t i = 0; i < t.ncols; i++) {
        kvt_table_cell(&t, "%s", head[i]);
    }
    for (size_t i = 0; i < kvt_catalog_count(); i++) {
        const kvt_catalog_entry_t *e = kvt_catalog_at(i);
        kvt_model_t *m = NULL;
        kvt_sizing_t *s = NULL;
        kvt_plan_t p;
        kvt_error_t err;
        kvt_status_t st = kvt_model_load_catalog(e->name, &m, &err);
        if (st == KVT_OK) {
            st = size_for_all(c, m, &s, &p, &err);
        }
        if (st != KVT_OK) {
            kvt_cli_error("size", "%s: %s", e->name, err.message);
            rc = kvt_cli_exit_for(st);
            kvt_model_destroy(m);
            continue;
        }
        const kvt_model_info_t *in = kvt_model_info(m);
        notes_t ns;
        build_notes(m, s, gpu ? &p : NULL, &ns);
        json_model(&w, m, s, gpu ? &p : NULL, &ns, false, c->sequences);
        kvt_table_cell(&t, "%s", e->name);
        kvt_table_cell(&t, "%s", kvt_attn_kind_name(in->attn_kind));
        kvt_table_cell(&t, "%s", kvt_fmt_count(b[0], 40, s->kv_bytes_per_token));
        kvt_table_cell(&t, "%s", kvt_fmt_count(b[1], 40, s->naive_bytes_per_token));
        kvt_table_cell(&t, "%.2fx", ratio(s->naive_sequence_bytes_paged,
                                          s->total_sequence_bytes_paged));
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[2], 40, s->total_sequence_bytes));
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[3], 40, s->total_sequence_bytes_paged));
        if (gpu) {
            kvt_table_cell(&t, s->pp > 1 ? "%u x PP %u" : "%u", s->tp, s->pp);
            kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[0], 40, p.weights_bytes_per_gpu));
            if (p.fits) {
                kvt_table_cell(&t, "%s", kvt_fmt_count(b[1], 40, p.max_sequences));
                kvt_table_cell(&t, "%.2fx", p.batch_ratio);
            } else {
                kvt_table_cell(&t, "does not fit");
                kvt_table_cell(&t, "-");
            }
        }
        kvt_sizing_destroy(s);
        kvt_model_destroy(m);
    }
    kvt_json_end_array(&w);
    if (c->json) {
        int jrc = kvt_cli_print_json(&w);
        rc = rc != KVT_EXIT_OK ? rc : jrc;
    } else {
        kvt_json_discard(&w);
        printf("KV cache per model at %s tokens of context, KV dtype %s, blocks of %u%s%s\n\n",
               kvt_fmt_count(b[0], 40, c->size.context_tokens),
               kvt_dtype_name(c->size.kv_dtype), c->size.block_tokens,
               gpu ? ", on " : "", gpu ? c->plan.gpu->display : "");
        kvt_table_print(&t, stdout, "  ");
        printf("\n  ratio = naive (2 x layers x KV heads x head dim, MLA as MHA, no windows) / "
               "exact, per sequence.\n");
    }
    kvt_table_free(&t);
    return rc;
}
