/*
 * Exact KV-cache sizing.
 *
 * The unit of account is one layer on one rank. For each layer we know what a token costs there
 * (K and V head vectors, or one MLA latent, in the KV dtype with its quantization metadata), how
 * many tokens the layer holds for a sequence of C tokens (all of them, or the last min(C, window)
 * for sliding windows, or min(C, chunk) for chunked attention: the peak while the last chunk is
 * processed), and what constant state it keeps instead (linear attention, Mamba). Tensor
 * parallelism decides the per-rank share:
 *
 *   - GQA/MHA/MQA: KV heads split over TP ranks; when TP exceeds the KV heads every rank keeps one
 *     head and each head exists TP/kv times (vLLM's rule: TP must divide, or be a multiple of, the
 *     KV head count);
 *   - MLA and the sparse indexer: one latent per token that every TP rank needs, so it is
 *     replicated on every rank -- unless attention is data parallel, where each rank holds whole
 *     latents for its own sequences and a replica serves TP independent sequence sets;
 *   - linear/SSM state: split along value heads / inner channels.
 *
 * Pipeline parallelism assigns contiguous layers to stages with vLLM's default partition (the
 * remainder goes to the stages before the last). Replica figures sum every rank; GPU figures are
 * for one rank of the most loaded stage. Every product is overflow-checked: a figure that does
 * not fit in 64 bits is an error, never a wrapped number.
 */
#include <kvtier/size.h>

#include "common/error.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONTEXT      32768u
#define DEFAULT_BLOCK_TOKENS 16u
/* DeepSeek-V3.2 reference: indexer keys in fp8 e4m3 with one fp32 scale per 128 elements */
#define INDEXER_GROUP 128u

void kvt_size_opts_init(kvt_size_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->opts_size = sizeof(*opts);
    opts->context_tokens = DEFAULT_CONTEXT;
    opts->kv_dtype = KVT_DTYPE_BF16;
    opts->kv_group = KVT_GROUP_DEFAULT;
    opts->state_dtype = KVT_DTYPE_AUTO;
    opts->tp = 1;
    opts->pp = 1;
    opts->block_tokens = DEFAULT_BLOCK_TOKENS;
}

/* Everything the computation carries around, so helpers stay small. */
typedef struct size_ctx {
    const kvt_model_info_t *in;
    kvt_sizing_t *s;
    kvt_error_t *err;
    bool overflow;
    uint32_t tp_split;  /* ranks one sequence's heads/state are split over (1 with DP attn) */
    uint32_t copies;    /* replica copies of a per-rank figure that is replicated */
} size_ctx_t;

static uint64_t mul(size_ctx_t *c, uint64_t a, uint64_t b)
{
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) {
        c->overflow = true;
        return 0;
    }
    return r;
}

static uint64_t add(size_ctx_t *c, uint64_t a, uint64_t b)
{
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        c->overflow = true;
        return 0;
    }
    return r;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* Blocks of bt tokens spanned by positions [ctx - held, ctx); aligned chunks start on a block. */
static uint64_t blocks_spanned(uint64_t ctx, uint64_t held, uint64_t bt, bool aligned)
{
    if (held == 0) {
        return 0;
    }
    if (aligned) {
        return div_up(held, bt);
    }
    return (ctx - 1) / bt - (ctx - held) / bt + 1;
}

static uint64_t vec(const kvt_sizing_t *s, uint64_t n)
{
    return kvt_dtype_vector_bytes(s->kv_dtype, n, s->kv_group);
}

/* Bytes one token costs in one attention layer on one rank. */
static uint64_t attn_rank_bytes(size_ctx_t *c, const kvt_layer_desc_t *l)
{
    if (l->latent_dim != 0) {
        return vec(c->s, l->latent_dim);
    }
    uint64_t per_head = vec(c->s, l->k_head_dim) + vec(c->s, l->v_head_dim);
    return mul(c, c->s->kv_heads_per_rank, per_head);
}

/* Constant per-sequence state of a linear/Mamba layer on one rank. */
static uint64_t state_rank_bytes(size_ctx_t *c, const kvt_layer_desc_t *l)
{
    uint64_t units = l->state_units / c->tp_split;
    uint64_t chans = l->conv_channels / c->tp_split;
    uint64_t elems = add(c, mul(c, units, l->state_unit_elems), mul(c, chans, l->conv_width));
    return kvt_dtype_vector_bytes(c->s->state_dtype, elems, KVT_GROUP_TENSOR);
}

static bool is_attention(kvt_layer_kind_t k)
{
    return k == KVT_LAYER_FULL || k == KVT_LAYER_SLIDING || k == KVT_LAYER_CHUNKED;
}

static kvt_status_t resolve_opts(const kvt_size_opts_t *user, size_ctx_t *c)
{
    const kvt_model_info_t *in = c->in;
    kvt_sizing_t *s = c->s;
    kvt_size_opts_t o;

    kvt_size_opts_init(&o);
    if (user != NULL) {
        if (user->opts_size == 0 || user->opts_size > sizeof(o)) {
            return kvt_error_set(c->err, KVT_ERR_INVALID,
                                 "size options: opts_size %zu is not a known layout "
                                 "(call kvt_size_opts_init)",
                                 user->opts_size);
        }
        memcpy(&o, user, user->opts_size);
    }
    if (o.context_tokens == 0) {
        return kvt_error_set(c->err, KVT_ERR_INVALID, "context: must be at least 1 token");
    }
    if (o.block_tokens == 0) {
        return kvt_error_set(c->err, KVT_ERR_INVALID, "block tokens: must be at least 1");
    }
    if (o.tp == 0 || o.pp == 0) {
        return kvt_error_set(c->err, KVT_ERR_INVALID, "tp and pp must be at least 1");
    }
    if (o.pp > in->num_layers) {
        return kvt_error_set(c->err, KVT_ERR_INVALID,
                             "pp (%u) exceeds the model's %u layers", o.pp, in->num_layers);
    }
    s->kv_dtype = o.kv_dtype == KVT_DTYPE_AUTO ? in->torch_dtype : o.kv_dtype;
    if (s->kv_dtype == KVT_DTYPE_MXFP4) {
        return kvt_error_set(c->err, KVT_ERR_UNSUPPORTED, "kv dtype: mxfp4 is a weight format");
    }
    if (o.kv_group != KVT_GROUP_DEFAULT && !kvt_dtype_is_quantized(s->kv_dtype)) {
        return kvt_error_set(c->err, KVT_ERR_INVALID,
                             "kv group: %s has no quantization groups",
                             kvt_dtype_name(s->kv_dtype));
    }
    s->kv_group = o.kv_group == KVT_GROUP_DEFAULT ? kvt_dtype_default_group(s->kv_dtype)
                                                   : o.kv_group;
    s->state_dtype = o.state_dtype == KVT_DTYPE_AUTO ? in->torch_dtype : o.state_dtype;
    if (kvt_dtype_is_quantized(s->state_dtype)) {
        return kvt_error_set(c->err, KVT_ERR_UNSUPPORTED,
                             "state dtype: %s; recurrent state must be bf16, fp16 or fp32",
                             kvt_dtype_name(s->state_dtype));
    }
    s->indexer_dtype = KVT_DTYPE_FP8_E4M3;
    s->indexer_group = INDEXER_GROUP;
    s->context_tokens = o.context_tokens;
    s->block_tokens = o.block_tokens;
    s->tp = o.tp;
    s->pp = o.pp;
    s->dp_attention = o.dp_attention;
    s->include_mtp = o.include_mtp;
    return KVT_OK;
}

/* How TP shares heads and states among ranks; rejects splits engines refuse. */
static kvt_status_t resolve_tp(const kvt_model_t *model, size_ctx_t *c)
{
    const kvt_model_info_t *in = c->in;
    kvt_sizing_t *s = c->s;
    uint32_t tp = s->tp;

    c->tp_split = s->dp_attention ? 1 : tp;
    s->sequence_groups = s->dp_attention ? tp : 1;
    s->kv_head_replicas = 1;
    s->latent_replicated = false;
    if (in->attn_kind == KVT_ATTN_MLA) {
        s->latent_replicated = !s->dp_attention && tp > 1;
    } else if (in->attn_kind != KVT_ATTN_NONE) {
        uint32_t kv = in->num_kv_heads;
        if (c->tp_split <= kv) {
            if (kv % c->tp_split != 0) {
                return kvt_error_set(c->err, KVT_ERR_INVALID,
                                     "tp (%u) must divide the KV heads (%u) or be a multiple of "
                                     "them",
                                     tp, kv);
            }
            s->kv_heads_per_rank = kv / c->tp_split;
        } else {
            if (c->tp_split % kv != 0) {
                return kvt_error_set(c->err, KVT_ERR_INVALID,
                                     "tp (%u) must divide the KV heads (%u) or be a multiple of "
                                     "them",
                                     tp, kv);
            }
            s->kv_heads_per_rank = 1;
            s->kv_head_replicas = c->tp_split / kv;
        }
    }
    /* per-rank figures of split data are multiplied by the ranks; replicated data too */
    c->copies = s->dp_attention ? 1 : tp;
    for (uint32_t i = 0; i < in->num_layers; i++) {
        const kvt_layer_desc_t *l = kvt_model_layer(model, i);
        if ((l->kind == KVT_LAYER_LINEAR || l->kind == KVT_LAYER_MAMBA) &&
            (l->state_units % c->tp_split != 0 || l->conv_channels % c->tp_split != 0)) {
            return kvt_error_set(c->err, KVT_ERR_INVALID,
                                 "tp (%u) must divide the %s state of layer %u (%u heads or "
                                 "channels, %u conv channels)",
                                 tp, kvt_layer_kind_name(l->kind), i, l->state_units,
                                 l->conv_channels);
        }
    }
    return KVT_OK;
}

/* vLLM's default pipeline partition: L / pp layers each, remainder to the stages before last. */
static void partition(kvt_stage_size_t *st, uint32_t pp, uint32_t layers)
{
    uint32_t first = 0;
    uint32_t rem = layers % pp;
    for (uint32_t k = 0; k < pp; k++) {
        st[k].num_layers = layers / pp;
    }
    for (uint32_t i = 2; i < rem + 2; i++) {
        st[pp - i].num_layers++;
    }
    for (uint32_t k = 0; k < pp; k++) {
        st[k].first_layer = first;
        first += st[k].num_layers;
    }
}

static void size_layers(const kvt_model_t *model, size_ctx_t *c, kvt_layer_size_t *ls,
                        kvt_stage_size_t *st)
{
    const kvt_model_info_t *in = c->in;
    kvt_sizing_t *s = c->s;
    uint64_t ctx = s->context_tokens, bt = s->block_tokens;
    uint64_t idx_tok = 0;
    uint32_t stage = 0;

    if (in->index_head_dim != 0) {
        idx_tok = kvt_dtype_vector_bytes(s->indexer_dtype, in->index_head_dim, s->indexer_group);
    }
    for (uint32_t i = 0; i < in->num_layers; i++) {
        const kvt_layer_desc_t *l = kvt_model_layer(model, i);
        kvt_layer_size_t *o = &ls[i];
        while (i >= st[stage].first_layer + st[stage].num_layers) {
            stage++;
        }
        o->index = i;
        o->kind = l->kind;
        o->stage = stage;
        o->window = l->window;
        uint64_t gpu_seq, gpu_paged;
        if (is_attention(l->kind)) {
            uint64_t held = l->window ? (ctx < l->window ? ctx : l->window) : ctx;
            uint64_t blocks = blocks_spanned(ctx, held, bt, l->kind == KVT_LAYER_CHUNKED);
            uint64_t rank_tok = attn_rank_bytes(c, l);
            o->tokens_held = held;
            o->gpu_bytes_per_token = rank_tok;
            o->bytes_per_token = mul(c, rank_tok, c->copies);
            gpu_seq = mul(c, rank_tok, held);
            gpu_paged = mul(c, rank_tok, mul(c, blocks, bt));
            /* the indexer keeps one key per token for the whole context, on every rank */
            uint64_t idx_rank = mul(c, idx_tok, ctx);
            uint64_t idx_paged = mul(c, idx_tok, mul(c, div_up(ctx, bt), bt));
            s->indexer_bytes_per_token = add(c, s->indexer_bytes_per_token, mul(c, idx_tok, c->copies));
            s->indexer_sequence_bytes = add(c, s->indexer_sequence_bytes, mul(c, idx_rank, c->copies));
            st[stage].gpu_kv_bytes_per_token = add(c, st[stage].gpu_kv_bytes_per_token, rank_tok);
            st[stage].gpu_sequence_bytes = add(c, st[stage].gpu_sequence_bytes, idx_rank);
            st[stage].gpu_sequence_bytes_paged = add(c, st[stage].gpu_sequence_bytes_paged, idx_paged);
            s->kv_bytes_per_token = add(c, s->kv_bytes_per_token, o->bytes_per_token);
        } else {
            gpu_seq = gpu_paged = state_rank_bytes(c, l);
            s->state_bytes = add(c, s->state_bytes, mul(c, gpu_seq, c->copies));
        }
        o->sequence_bytes = mul(c, gpu_seq, c->copies);
        o->sequence_bytes_paged = mul(c, gpu_paged, c->copies);
        o->gpu_sequence_bytes_paged = gpu_paged;
        s->sequence_bytes = add(c, s->sequence_bytes, o->sequence_bytes);
        s->sequence_bytes_paged = add(c, s->sequence_bytes_paged, o->sequence_bytes_paged);
        st[stage].gpu_sequence_bytes = add(c, st[stage].gpu_sequence_bytes, gpu_seq);
        st[stage].gpu_sequence_bytes_paged = add(c, st[stage].gpu_sequence_bytes_paged, gpu_paged);
    }

    /* MTP layers: full-attention layers (plus their indexer) after the last stage */
    if (in->mtp_layers != 0 && in->attn_kind != KVT_ATTN_NONE) {
        kvt_layer_desc_t full = {.kind = KVT_LAYER_FULL};
        if (in->attn_kind == KVT_ATTN_MLA) {
            full.latent_dim = in->kv_lora_rank + in->qk_rope_head_dim;
        } else {
            full.kv_heads = in->num_kv_heads;
            full.k_head_dim = full.v_head_dim = in->head_dim;
        }
        uint64_t rank_tok = mul(c, in->mtp_layers, add(c, attn_rank_bytes(c, &full), idx_tok));
        s->mtp_bytes_per_token = mul(c, rank_tok, c->copies);
        s->mtp_sequence_bytes = mul(c, s->mtp_bytes_per_token, ctx);
        if (s->include_mtp) {
            kvt_stage_size_t *last = &st[s->pp - 1];
            last->gpu_sequence_bytes = add(c, last->gpu_sequence_bytes, mul(c, rank_tok, ctx));
            last->gpu_sequence_bytes_paged = add(
                c, last->gpu_sequence_bytes_paged, mul(c, rank_tok, mul(c, div_up(ctx, bt), bt)));
        }
    }
}

/* MLA against MHA, and the textbook estimate. */
static void size_references(size_ctx_t *c)
{
    const kvt_model_info_t *in = c->in;
    kvt_sizing_t *s = c->s;
    uint64_t per_layer;

    if (in->attn_kind == KVT_ATTN_MLA) {
        uint32_t attn_layers = 0;
        for (uint32_t i = 0; i < s->num_layers; i++) {
            attn_layers += is_attention(s->layers[i].kind);
        }
        uint64_t h = in->num_heads;
        uint64_t true_layer = mul(c, h, vec(s, in->qk_nope_head_dim + in->qk_rope_head_dim) +
                                            vec(s, in->v_head_dim));
        uint64_t paper_layer = mul(c, h, 2 * vec(s, in->v_head_dim));
        s->mla_bytes_per_token_layer = vec(s, in->kv_lora_rank + in->qk_rope_head_dim);
        s->mha_equivalent_bytes_per_token = mul(c, true_layer, attn_layers);
        s->mha_equivalent_paper_bytes_per_token = mul(c, paper_layer, attn_layers);
        per_layer = true_layer;
    } else if (in->attn_kind != KVT_ATTN_NONE) {
        per_layer = mul(c, in->num_kv_heads, 2 * vec(s, in->head_dim));
    } else {
        per_layer = 0;
    }
    uint64_t bt = s->block_tokens;
    uint64_t paged_tokens = mul(c, div_up(s->context_tokens, bt), bt);
    s->naive_bytes_per_token = mul(c, per_layer, in->num_layers);
    s->naive_sequence_bytes_paged = mul(c, s->naive_bytes_per_token, paged_tokens);
    s->gpu_naive_sequence_bytes_paged =
        div_up(s->naive_sequence_bytes_paged, (uint64_t)s->tp * s->pp);
}

kvt_status_t kvt_size_compute(const kvt_model_t *model, const kvt_size_opts_t *opts,
                              kvt_sizing_t **sizing_p, kvt_error_t *err)
{
    size_ctx_t c = {.err = err};
    kvt_sizing_t *s;
    kvt_layer_size_t *ls = NULL;
    kvt_stage_size_t *st = NULL;
    kvt_status_t status;

    if (model == NULL || sizing_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_size_compute: NULL argument");
    }
    c.in = kvt_model_info(model);
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "out of memory");
    }
    c.s = s;
    if ((status = resolve_opts(opts, &c)) != KVT_OK ||
        (status = resolve_tp(model, &c)) != KVT_OK) {
        goto err_free;
    }
    ls = calloc(c.in->num_layers, sizeof(*ls));
    st = calloc(s->pp, sizeof(*st));
    if (ls == NULL || st == NULL) {
        status = kvt_error_set(err, KVT_ERR_NO_MEMORY, "out of memory");
        goto err_free;
    }
    s->num_layers = c.in->num_layers;
    s->layers = ls;
    s->num_stages = s->pp;
    s->stages = st;
    partition(st, s->pp, s->num_layers);
    size_layers(model, &c, ls, st);
    size_references(&c);

    /* the indexer and MTP layers hold every token of the context, in whole blocks when paged */
    uint64_t paged_tokens = mul(&c, div_up(s->context_tokens, s->block_tokens), s->block_tokens);
    uint64_t extra_per_token =
        add(&c, s->indexer_bytes_per_token, s->include_mtp ? s->mtp_bytes_per_token : 0);
    s->total_sequence_bytes =
        add(&c, s->sequence_bytes, mul(&c, extra_per_token, s->context_tokens));
    s->total_sequence_bytes_paged =
        add(&c, s->sequence_bytes_paged, mul(&c, extra_per_token, paged_tokens));
    for (uint32_t k = 0; k < s->pp; k++) {
        if (st[k].gpu_kv_bytes_per_token > s->gpu_kv_bytes_per_token) {
            s->gpu_kv_bytes_per_token = st[k].gpu_kv_bytes_per_token;
        }
        if (st[k].gpu_sequence_bytes_paged > s->gpu_sequence_bytes_paged) {
            s->gpu_sequence_bytes_paged = st[k].gpu_sequence_bytes_paged;
            s->gpu_sequence_bytes = st[k].gpu_sequence_bytes;
        }
    }
    if (c.overflow) {
        status = kvt_error_set(err, KVT_ERR_OVERFLOW,
                               "a size exceeds 64 bits (context %llu tokens is too large)",
                               (unsigned long long)s->context_tokens);
        goto err_free;
    }
    *sizing_p = s;
    return KVT_OK;

err_free:
    free(ls);
    free(st);
    free(s);
    return status;
}

void kvt_sizing_destroy(kvt_sizing_t *sizing)
{
    if (sizing == NULL) {
        return;
    }
    free((void *)sizing->layers);
    free((void *)sizing->stages);
    free(sizing);
}
