/*
 * kvtier model descriptions: the attention architecture of a model, layer by layer, as the KV
 * cache sees it. Built from a Hugging Face config.json (any file, or a built-in catalog entry).
 *
 * A kvt_model_t is immutable once loaded and may be shared by threads. Everything it returns
 * (info, layers, strings) stays valid until kvt_model_destroy().
 */
#ifndef KVTIER_MODEL_H
#define KVTIER_MODEL_H

#include <kvtier/dtype.h>

KVT_BEGIN_DECLS

typedef struct kvt_model kvt_model_t;

/* The model's attention family, decided by its full-attention layers. */
typedef enum kvt_attn_kind {
    KVT_ATTN_NONE = 0, /* no softmax-attention layer (pure SSM) */
    KVT_ATTN_MHA,      /* one KV head per query head */
    KVT_ATTN_GQA,      /* 1 < KV heads < query heads */
    KVT_ATTN_MQA,      /* one KV head */
    KVT_ATTN_MLA,      /* multi-head latent attention: one compressed latent per token */
} kvt_attn_kind_t;

typedef enum kvt_layer_kind {
    KVT_LAYER_FULL = 0, /* attends to every earlier token */
    KVT_LAYER_SLIDING,  /* attends to the last `window` tokens */
    KVT_LAYER_CHUNKED,  /* attends within fixed chunks of `window` tokens (Llama 4) */
    KVT_LAYER_LINEAR,   /* linear attention (Gated DeltaNet): constant recurrent state */
    KVT_LAYER_MAMBA,    /* selective state-space layer: constant recurrent state */
} kvt_layer_kind_t;

/* One decoder layer as the cache sees it. */
typedef struct kvt_layer_desc {
    kvt_layer_kind_t kind;
    uint32_t window;     /* SLIDING: window in tokens; CHUNKED: chunk size; otherwise 0 */
    uint32_t kv_heads;   /* attention layers other than MLA: stored KV heads */
    uint32_t k_head_dim; /* elements of one K head vector */
    uint32_t v_head_dim; /* elements of one V head vector */
    uint32_t latent_dim; /* MLA: kv_lora_rank + qk_rope_head_dim elements per token */
    /* LINEAR/MAMBA state, split by tensor parallelism along units and conv channels:
     * recurrent state = state_units x state_unit_elems, conv state = conv_channels x conv_width */
    uint32_t state_units;
    uint64_t state_unit_elems;
    uint32_t conv_channels;
    uint32_t conv_width;
} kvt_layer_desc_t;

/* What the model is, beside its layers. Strings are never NULL (possibly ""). */
typedef struct kvt_model_info {
    const char *name;       /* catalog slug, or the config's file name */
    const char *origin;     /* "catalog:<slug>" or the file path */
    const char *model_type; /* the config's (text) model_type */
    const char *hf_id;      /* Hugging Face repository, catalog entries only */
    kvt_attn_kind_t attn_kind;
    uint32_t num_layers;    /* decoder layers, without MTP layers */
    uint32_t hidden_size;
    uint32_t num_heads;     /* query heads */
    uint32_t num_kv_heads;  /* KV heads of the attention layers (num_heads for MLA) */
    uint32_t head_dim;      /* attention head size (MLA: qk_nope + qk_rope) */
    /* MLA (0 otherwise) */
    uint32_t kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim, v_head_dim;
    /* multi-token-prediction layers (DeepSeek num_nextn_predict_layers), reported separately */
    uint32_t mtp_layers;
    /* sparse-attention indexer (DeepSeek-V3.2): per-token key of index_head_dim elements */
    uint32_t index_head_dim, index_n_heads, index_topk;
    kvt_dtype_t torch_dtype;      /* the config's dtype (bf16 when it names none) */
    uint64_t max_context;         /* max_position_embeddings (0 when absent) */
    double params_total;          /* parameters, catalog entries only (0 = unknown) */
    double params_active;         /* MoE: parameters used per token (0 = dense or unknown) */
    kvt_dtype_t weights_dtype;    /* the released checkpoint's weight type */
} kvt_model_info_t;

/* One built-in catalog entry. */
typedef struct kvt_catalog_entry {
    const char *name;          /* slug, e.g. "deepseek-v3" */
    const char *hf_id;         /* e.g. "deepseek-ai/DeepSeek-V3" */
    double params_total;       /* published parameter count */
    double params_active;      /* MoE: active per token; 0 for dense */
    kvt_dtype_t weights_dtype; /* released checkpoint's weight type */
    const char *config_json;   /* the embedded config.json text (NUL-terminated) */
    size_t config_len;
} kvt_catalog_entry_t;

KVT_API size_t kvt_catalog_count(void);
/* Entry i (0 <= i < count) in name order; NULL when out of range. Static storage. */
KVT_API const kvt_catalog_entry_t *kvt_catalog_at(size_t i);
/* Entry by slug, case-insensitive; NULL when unknown. */
KVT_API const kvt_catalog_entry_t *kvt_catalog_find(const char *name);

/*
 * Load a model from a config.json file. err (optional) receives "<path>: <field>: <problem>".
 * Returns KVT_ERR_IO (unreadable), KVT_ERR_PARSE (not JSON: line and column given),
 * KVT_ERR_INVALID (missing, mistyped or contradictory field), KVT_ERR_UNSUPPORTED.
 * *model_p is written only on success; the caller owns it.
 */
KVT_API kvt_status_t kvt_model_load_file(const char *path, kvt_model_t **model_p,
                                         kvt_error_t *err);

/* The same from a buffer of len bytes (need not be NUL-terminated); origin names it in errors. */
KVT_API kvt_status_t kvt_model_load_json(const char *json, size_t len, const char *origin,
                                         kvt_model_t **model_p, kvt_error_t *err);

/* Load a built-in catalog entry by slug; KVT_ERR_NOT_FOUND names the known slugs. */
KVT_API kvt_status_t kvt_model_load_catalog(const char *name, kvt_model_t **model_p,
                                            kvt_error_t *err);

/* Free a model. NULL is ignored. */
KVT_API void kvt_model_destroy(kvt_model_t *model);

KVT_API const kvt_model_info_t *kvt_model_info(const kvt_model_t *model);
/* Layer i (0 <= i < num_layers), NULL when out of range. */
KVT_API const kvt_layer_desc_t *kvt_model_layer(const kvt_model_t *model, uint32_t i);

KVT_API const char *kvt_attn_kind_name(kvt_attn_kind_t kind);   /* "GQA" */
KVT_API const char *kvt_layer_kind_name(kvt_layer_kind_t kind); /* "sliding" */

KVT_END_DECLS

#endif
