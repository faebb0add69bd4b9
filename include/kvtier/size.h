/*
 * kvtier exact KV-cache sizing.
 *
 * Every figure is an exact integer number of bytes. "Replica" figures count every GPU of one
 * model replica (tensor x pipeline parallel ranks), including copies that parallelism replicates
 * (an MLA latent on every TP rank, KV heads when TP exceeds them): what the fleet really stores.
 * "GPU" figures are for the most loaded rank (the largest pipeline stage). At TP = PP = 1 both are
 * the model's own cost.
 *
 * Definitions (docs/sizing.md has the derivations):
 * - kv_bytes_per_token: sum over softmax-attention layers of the bytes one token adds, windows
 *   ignored. Excludes indexer caches, MTP layers and linear/SSM states.
 * - sequence_bytes: one sequence of context_tokens tokens: each attention layer holds
 *   min(context, window or chunk) tokens; plus the constant linear/SSM state. No block rounding.
 * - *_paged: the same in blocks of block_tokens: a layer holding the last h of C tokens occupies
 *   the blocks those positions span.
 * - naive: the textbook 2 x num_layers x kv_heads x head_dim x bytes (MLA counted as MHA with its
 *   true K and V head sizes, windows ignored, every layer counted as attention).
 */
#ifndef KVTIER_SIZE_H
#define KVTIER_SIZE_H

#include <kvtier/model.h>

KVT_BEGIN_DECLS

typedef struct kvt_size_opts {
    size_t opts_size;        /* set by kvt_size_opts_init(): sizeof(kvt_size_opts_t) */
    uint64_t context_tokens; /* default 32768 */
    kvt_dtype_t kv_dtype;    /* default KVT_DTYPE_BF16; KVT_DTYPE_AUTO follows torch_dtype */
    uint32_t kv_group;       /* quantization group in elements; KVT_GROUP_DEFAULT by default */
    kvt_dtype_t state_dtype; /* linear/SSM state; default KVT_DTYPE_AUTO (torch_dtype) */
    uint32_t tp;             /* tensor parallel ranks, default 1 */
    uint32_t pp;             /* pipeline stages, default 1 */
    bool dp_attention;       /* data-parallel attention: each rank holds its own sequences */
    bool include_mtp;        /* count MTP layers in the totals (speculative decoding on) */
    uint32_t block_tokens;   /* paging granularity, default 16 */
} kvt_size_opts_t;

KVT_API void kvt_size_opts_init(kvt_size_opts_t *opts);

typedef struct kvt_layer_size {
    uint32_t index;
    kvt_layer_kind_t kind;
    uint32_t stage;                /* pipeline stage holding the layer */
    uint32_t window;               /* as in kvt_layer_desc_t */
    uint64_t bytes_per_token;      /* replica */
    uint64_t tokens_held;          /* min(context, window) for attention layers, else 0 */
    uint64_t sequence_bytes;       /* replica, incl. state */
    uint64_t sequence_bytes_paged; /* replica, incl. state */
    uint64_t gpu_bytes_per_token;  /* one rank */
    uint64_t gpu_sequence_bytes_paged;
} kvt_layer_size_t;

typedef struct kvt_stage_size {
    uint32_t first_layer, num_layers;
    uint64_t gpu_kv_bytes_per_token;   /* attention layers of the stage, one rank */
    uint64_t gpu_sequence_bytes;       /* incl. state, indexer, MTP when counted */
    uint64_t gpu_sequence_bytes_paged; /* the same, paged */
} kvt_stage_size_t;

typedef struct kvt_sizing {
    /* the options as applied (AUTO resolved, defaults filled) */
    kvt_dtype_t kv_dtype;
    uint32_t kv_group; /* KVT_GROUP_TENSOR, KVT_GROUP_VECTOR or elements */
    kvt_dtype_t state_dtype;
    kvt_dtype_t indexer_dtype; /* fp8_e4m3 with an fp32 scale per 128 elements */
    uint32_t indexer_group;
    uint64_t context_tokens;
    uint32_t tp, pp, block_tokens;
    bool dp_attention, include_mtp;

    /* replica figures */
    uint64_t kv_bytes_per_token;
    uint64_t sequence_bytes;
    uint64_t sequence_bytes_paged;
    uint64_t state_bytes;              /* linear/SSM state per sequence (in sequence_bytes) */
    uint64_t indexer_bytes_per_token;  /* sparse-attention indexer keys, all layers */
    uint64_t indexer_sequence_bytes;
    uint64_t mtp_bytes_per_token;      /* MTP layers (attention + their indexer) */
    uint64_t mtp_sequence_bytes;
    uint64_t total_sequence_bytes;       /* sequence + indexer (+ MTP when counted) */
    uint64_t total_sequence_bytes_paged; /* the same, paged */

    /* MLA against its MHA equivalent (0 when the model is not MLA) */
    uint64_t mla_bytes_per_token_layer;             /* one latent, one layer */
    uint64_t mha_equivalent_bytes_per_token;        /* heads x (nope+rope) K + heads x v V */
    uint64_t mha_equivalent_paper_bytes_per_token;  /* heads x v_head_dim for K and for V */

    /* the textbook estimate */
    uint64_t naive_bytes_per_token;
    uint64_t naive_sequence_bytes_paged;

    /* parallelism */
    uint32_t kv_heads_per_rank;  /* attention layers other than MLA */
    uint32_t kv_head_replicas;   /* > 1 when TP exceeds the KV heads: copies of each head */
    bool latent_replicated;      /* MLA/indexer latent stored on every TP rank */
    uint32_t sequence_groups;    /* independent sequence sets per replica (TP with DP attention) */

    /* the most loaded GPU (largest stage) */
    uint64_t gpu_kv_bytes_per_token;
    uint64_t gpu_sequence_bytes;
    uint64_t gpu_sequence_bytes_paged;
    uint64_t gpu_naive_sequence_bytes_paged;

    uint32_t num_layers;
    const kvt_layer_size_t *layers;
    uint32_t num_stages;
    const kvt_stage_size_t *stages;
} kvt_sizing_t;

/*
 * Size the KV cache of model under opts (NULL = defaults). Fails with KVT_ERR_INVALID when the
 * options contradict the model (TP that neither divides nor is a multiple of the KV heads, PP
 * larger than the layer count, a zero context or block size) and KVT_ERR_OVERFLOW when a figure
 * exceeds 64 bits. *sizing_p is written only on success; free it with kvt_sizing_destroy().
 */
KVT_API kvt_status_t kvt_size_compute(const kvt_model_t *model, const kvt_size_opts_t *opts,
                                      kvt_sizing_t **sizing_p, kvt_error_t *err);

KVT_API void kvt_sizing_destroy(kvt_sizing_t *sizing);

KVT_END_DECLS

#endif
