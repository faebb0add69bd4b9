/*
 * Building a model description from a config.json.
 *
 * The reader takes the fields the KV cache depends on and nothing else; it accepts the field
 * spellings of the families in the catalog (Falcon's n_head/n_layer/multi_query, MLA's
 * kv_lora_rank, Qwen3-Next's linear_* and Jamba's mamba_* fields) and applies transformers'
 * defaults only where real checkpoints rely on them (Gemma's head_dim of 256, Falcon's single KV
 * head). Everything that would make a size meaningless -- a non-integer head count, KV heads that
 * do not divide the query heads, a zero layer count -- is rejected with the file and field named,
 * so a model that loads is one we can size exactly.
 */
#include "model/model_internal.h"

#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const K_LAYERS[] = {"num_hidden_layers", "n_layer", "num_layers", NULL};
static const char *const K_HIDDEN[] = {"hidden_size", "n_embd", "d_model", NULL};
static const char *const K_HEADS[] = {"num_attention_heads", "n_head", "num_heads", NULL};
static const char *const K_KV[] = {"num_key_value_heads", "num_kv_heads", "n_head_kv", NULL};
static const char *const K_MAXPOS[] = {"max_position_embeddings", "n_positions",
                                       "max_sequence_length", NULL};
static const char *const K_DTYPE[] = {"torch_dtype", "dtype", NULL};

/* transformers' default head_dim where configs rely on it instead of hidden/heads */
static const struct {
    const char *model_type;
    uint32_t head_dim;
} head_dim_defaults[] = {
    {"gemma2", 256},
    {"gemma3_text", 256},
    {"gemma3", 256},
    {"llama4_text", 128},
};

#define MAX_LAYERS 100000u
#define MAX_DIM    (1u << 24)

static kvt_status_t read_u32(kvt_cfg_t *cfg, const char *const *keys, bool required,
                             uint32_t dflt, uint32_t max, uint32_t *v_p)
{
    uint64_t v;
    kvt_status_t st = kvt_cfg_uint(cfg, keys, required, required, max, dflt, &v);
    if (st == KVT_OK) {
        *v_p = (uint32_t)v;
    }
    return st;
}

static kvt_status_t read_dim(kvt_cfg_t *cfg, const char *key, uint32_t *v_p)
{
    const char *keys[] = {key, NULL};
    return read_u32(cfg, keys, true, 0, MAX_DIM, v_p);
}

static kvt_status_t read_common(kvt_cfg_t *cfg, kvt_model_t *m)
{
    kvt_model_info_t *in = &m->info;
    const char *s, *path;
    kvt_status_t st;

    if ((st = kvt_cfg_str(cfg, "model_type", "", &s)) != KVT_OK) {
        return st;
    }
    snprintf(m->model_type, sizeof(m->model_type), "%s", s);
    in->model_type = m->model_type;

    if ((st = read_u32(cfg, K_LAYERS, true, 0, MAX_LAYERS, &in->num_layers)) != KVT_OK ||
        (st = read_u32(cfg, K_HIDDEN, true, 0, MAX_DIM, &in->hidden_size)) != KVT_OK ||
        (st = read_u32(cfg, K_HEADS, true, 0, MAX_DIM, &in->num_heads)) != KVT_OK) {
        return st;
    }

    uint64_t maxpos;
    if ((st = kvt_cfg_uint(cfg, K_MAXPOS, false, false, UINT64_MAX / 2, 0, &maxpos)) != KVT_OK) {
        return st;
    }
    in->max_context = maxpos;

    const cJSON *dt = kvt_cfg_get_any(cfg, K_DTYPE, &path);
    in->torch_dtype = KVT_DTYPE_BF16;
    if (dt != NULL) {
        if (!cJSON_IsString(dt) || kvt_dtype_parse(dt->valuestring, &in->torch_dtype) != KVT_OK ||
            in->torch_dtype == KVT_DTYPE_AUTO || kvt_dtype_is_quantized(in->torch_dtype)) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path,
                                "expected \"bfloat16\", \"float16\" or \"float32\"");
        }
    }
    return KVT_OK;
}

/* KV heads: Falcon spells them with flags, everyone else with a count (default: MHA). */
static kvt_status_t read_kv_heads(kvt_cfg_t *cfg, kvt_model_t *m)
{
    kvt_model_info_t *in = &m->info;
    bool mq = false, newarch = false;
    const char *path;
    kvt_status_t st;

    if ((st = kvt_cfg_bool(cfg, "multi_query", false, &mq)) != KVT_OK ||
        (st = kvt_cfg_bool(cfg, "new_decoder_architecture", false, &newarch)) != KVT_OK) {
        return st;
    }
    if (mq && !newarch) {
        /* Falcon's multi_query: one KV head, whatever num_kv_heads says (transformers ignores
         * it unless new_decoder_architecture is set) */
        in->num_kv_heads = 1;
        path = "multi_query";
    } else {
        st = read_u32(cfg, K_KV, false, in->num_heads, MAX_DIM, &in->num_kv_heads);
        if (st != KVT_OK) {
            return st;
        }
        kvt_cfg_get_any(cfg, K_KV, &path);
    }
    if (in->num_kv_heads == 0) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "must be positive (got 0)");
    }
    if (in->num_kv_heads > in->num_heads || in->num_heads % in->num_kv_heads != 0) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path,
                            "%u does not divide num_attention_heads (%u)", in->num_kv_heads,
                            in->num_heads);
    }
    in->attn_kind = in->num_kv_heads == in->num_heads ? KVT_ATTN_MHA
                    : in->num_kv_heads == 1           ? KVT_ATTN_MQA
                                                      : KVT_ATTN_GQA;
    return KVT_OK;
}

static kvt_status_t read_head_dim(kvt_cfg_t *cfg, kvt_model_t *m)
{
    kvt_model_info_t *in = &m->info;
    uint32_t dflt = 0;
    const char *keys[] = {"head_dim", NULL};

    for (size_t i = 0; i < sizeof(head_dim_defaults) / sizeof(head_dim_defaults[0]); i++) {
        if (strcmp(in->model_type, head_dim_defaults[i].model_type) == 0) {
            dflt = head_dim_defaults[i].head_dim;
        }
    }
    if (dflt == 0 && kvt_cfg_get(cfg, "head_dim", NULL) == NULL) {
        if (in->hidden_size % in->num_heads != 0) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "head_dim",
                                "missing, and hidden_size (%u) is not a multiple of "
                                "num_attention_heads (%u)",
                                in->hidden_size, in->num_heads);
        }
        dflt = in->hidden_size / in->num_heads;
    }
    kvt_status_t st = read_u32(cfg, keys, false, dflt, MAX_DIM, &in->head_dim);
    if (st == KVT_OK && in->head_dim == 0) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "head_dim", "must be positive (got 0)");
    }
    return st;
}

static kvt_status_t read_mla(kvt_cfg_t *cfg, kvt_model_t *m)
{
    kvt_model_info_t *in = &m->info;
    kvt_status_t st;

    if ((st = read_dim(cfg, "kv_lora_rank", &in->kv_lora_rank)) != KVT_OK ||
        (st = read_dim(cfg, "qk_rope_head_dim", &in->qk_rope_head_dim)) != KVT_OK ||
        (st = read_dim(cfg, "qk_nope_head_dim", &in->qk_nope_head_dim)) != KVT_OK ||
        (st = read_dim(cfg, "v_head_dim", &in->v_head_dim)) != KVT_OK) {
        return st;
    }
    in->attn_kind = KVT_ATTN_MLA;
    in->num_kv_heads = in->num_heads;
    in->head_dim = in->qk_nope_head_dim + in->qk_rope_head_dim;
    return KVT_OK;
}

static kvt_status_t read_linear_state(kvt_cfg_t *cfg, kvt_layer_desc_t *l)
{
    uint32_t nk, nv, kd, vd, kernel;
    kvt_status_t st;

    if ((st = read_dim(cfg, "linear_num_key_heads", &nk)) != KVT_OK ||
        (st = read_dim(cfg, "linear_num_value_heads", &nv)) != KVT_OK ||
        (st = read_dim(cfg, "linear_key_head_dim", &kd)) != KVT_OK ||
        (st = read_dim(cfg, "linear_value_head_dim", &vd)) != KVT_OK ||
        (st = read_dim(cfg, "linear_conv_kernel_dim", &kernel)) != KVT_OK) {
        return st;
    }
    /* Gated DeltaNet: one k_dim x v_dim matrix per value head; a causal conv over q, k and v */
    uint64_t channels = 2 * (uint64_t)nk * kd + (uint64_t)nv * vd;
    if (channels > UINT32_MAX) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "linear_num_key_heads",
                            "the linear layers' conv channels (2 x %u x %u + %u x %u) exceed 2^32",
                            nk, kd, nv, vd);
    }
    l->state_units = nv;
    l->state_unit_elems = (uint64_t)kd * vd;
    l->conv_channels = (uint32_t)channels;
    l->conv_width = kernel - 1;
    return KVT_OK;
}

static kvt_status_t read_mamba_state(kvt_cfg_t *cfg, kvt_model_t *m, kvt_layer_desc_t *l)
{
    const char *k_state[] = {"mamba_d_state", "state_size", NULL};
    const char *k_conv[] = {"mamba_d_conv", "conv_kernel", NULL};
    const char *k_expand[] = {"mamba_expand", "expand", NULL};
    const char *k_heads[] = {"mamba_n_heads", NULL};
    uint32_t d_state, d_conv, expand, n_heads;
    kvt_status_t st;

    if ((st = read_u32(cfg, k_state, false, 16, MAX_DIM, &d_state)) != KVT_OK ||
        (st = read_u32(cfg, k_conv, false, 4, MAX_DIM, &d_conv)) != KVT_OK ||
        (st = read_u32(cfg, k_expand, false, 2, 64, &expand)) != KVT_OK ||
        (st = read_u32(cfg, k_heads, false, 0, MAX_DIM, &n_heads)) != KVT_OK) {
        return st;
    }
    if (d_state == 0 || d_conv == 0 || expand == 0) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "mamba_d_state",
                            "mamba_d_state, mamba_d_conv and mamba_expand must be positive");
    }
    if (n_heads != 0) {
        /* Mamba-2: per head a d_head x d_state state; conv over x, B and C */
        const char *k_dhead[] = {"mamba_d_head", NULL};
        const char *k_groups[] = {"mamba_n_groups", NULL};
        uint32_t d_head, groups;
        if ((st = read_u32(cfg, k_dhead, true, 0, MAX_DIM, &d_head)) != KVT_OK ||
            (st = read_u32(cfg, k_groups, false, 1, MAX_DIM, &groups)) != KVT_OK) {
            return st;
        }
        uint64_t channels = (uint64_t)n_heads * d_head + 2 * (uint64_t)groups * d_state;
        if (channels > UINT32_MAX) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "mamba_n_heads",
                                "the Mamba conv channels (%u x %u + 2 x %u x %u) exceed 2^32",
                                n_heads, d_head, groups, d_state);
        }
        l->state_units = n_heads;
        l->state_unit_elems = (uint64_t)d_head * d_state;
        l->conv_channels = (uint32_t)channels;
    } else {
        /* Mamba-1: per inner channel a d_state vector; conv over the inner channels */
        uint64_t d_inner = (uint64_t)expand * m->info.hidden_size;
        if (d_inner > UINT32_MAX) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "mamba_expand",
                                "mamba_expand x hidden_size (%u x %u) exceeds 2^32", expand,
                                m->info.hidden_size);
        }
        l->state_units = (uint32_t)d_inner;
        l->state_unit_elems = d_state;
        l->conv_channels = (uint32_t)d_inner;
    }
    l->conv_width = d_conv - 1;
    return KVT_OK;
}

static kvt_status_t read_extras(kvt_cfg_t *cfg, kvt_model_t *m)
{
    kvt_model_info_t *in = &m->info;
    const char *k_mtp[] = {"num_nextn_predict_layers", "mtp_num_hidden_layers", NULL};
    kvt_status_t st;

    if ((st = read_u32(cfg, k_mtp, false, 0, 64, &in->mtp_layers)) != KVT_OK) {
        return st;
    }
    if (kvt_cfg_get(cfg, "index_head_dim", NULL) != NULL) {
        if ((st = read_dim(cfg, "index_head_dim", &in->index_head_dim)) != KVT_OK ||
            (st = kvt_cfg_u32(cfg, "index_n_heads", false, 0, &in->index_n_heads)) != KVT_OK ||
            (st = kvt_cfg_u32(cfg, "index_topk", false, 0, &in->index_topk)) != KVT_OK) {
            return st;
        }
    }
    return KVT_OK;
}

static kvt_status_t fill_layers(kvt_cfg_t *cfg, kvt_model_t *m)
{
    kvt_model_info_t *in = &m->info;
    kvt_status_t st;
    uint32_t n_attn = 0;

    for (uint32_t i = 0; i < in->num_layers; i++) {
        kvt_layer_desc_t *l = &m->layers[i];
        switch (l->kind) {
        case KVT_LAYER_FULL:
        case KVT_LAYER_SLIDING:
        case KVT_LAYER_CHUNKED:
            n_attn++;
            if (in->attn_kind == KVT_ATTN_MLA) {
                l->latent_dim = in->kv_lora_rank + in->qk_rope_head_dim;
            } else {
                l->kv_heads = in->num_kv_heads;
                l->k_head_dim = in->head_dim;
                l->v_head_dim = in->head_dim;
            }
            break;
        case KVT_LAYER_LINEAR:
            if ((st = read_linear_state(cfg, l)) != KVT_OK) {
                return st;
            }
            break;
        case KVT_LAYER_MAMBA:
            if ((st = read_mamba_state(cfg, m, l)) != KVT_OK) {
                return st;
            }
            break;
        }
    }
    if (n_attn == 0) {
        in->attn_kind = KVT_ATTN_NONE;
    }
    return KVT_OK;
}

kvt_status_t kvt_model_build(kvt_cfg_t *cfg, kvt_model_t **model_p)
{
    kvt_model_t *m = calloc(1, sizeof(*m));
    kvt_status_t st;

    if (m == NULL) {
        return kvt_error_set(cfg->err, KVT_ERR_NO_MEMORY, "%s: out of memory", cfg->origin);
    }
    m->info.name = m->name;
    m->info.origin = m->origin;
    m->info.model_type = m->model_type;
    m->info.hf_id = m->hf_id;
    snprintf(m->origin, sizeof(m->origin), "%s", cfg->origin);

    if ((st = read_common(cfg, m)) != KVT_OK) {
        goto err_free;
    }
    if (kvt_cfg_get(cfg, "kv_lora_rank", NULL) != NULL) {
        st = read_mla(cfg, m);
    } else if ((st = read_kv_heads(cfg, m)) == KVT_OK) {
        st = read_head_dim(cfg, m);
    }
    if (st != KVT_OK || (st = read_extras(cfg, m)) != KVT_OK) {
        goto err_free;
    }
    m->layers = calloc(m->info.num_layers, sizeof(*m->layers));
    if (m->layers == NULL) {
        st = kvt_error_set(cfg->err, KVT_ERR_NO_MEMORY, "%s: out of memory", cfg->origin);
        goto err_free;
    }
    if ((st = kvt_layout_resolve(cfg, m)) != KVT_OK || (st = fill_layers(cfg, m)) != KVT_OK) {
        goto err_free;
    }
    m->info.weights_dtype = m->info.torch_dtype;
    *model_p = m;
    return KVT_OK;

err_free:
    kvt_model_destroy(m);
    return st;
}

kvt_status_t kvt_model_load_json(const char *json, size_t len, const char *origin,
                                 kvt_model_t **model_p, kvt_error_t *err)
{
    kvt_cfg_t cfg;
    kvt_model_t *m;
    const char *base;
    kvt_status_t st;

    if (json == NULL || model_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_model_load_json: NULL argument");
    }
    if (origin == NULL) {
        origin = "config";
    }
    if ((st = kvt_cfg_parse(&cfg, json, len, origin, err)) != KVT_OK) {
        return st;
    }
    st = kvt_model_build(&cfg, &m);
    kvt_cfg_release(&cfg);
    if (st != KVT_OK) {
        return st;
    }
    /* name: the file's base name without ".json" */
    base = strrchr(origin, '/');
    base = base ? base + 1 : origin;
    snprintf(m->name, sizeof(m->name), "%s", base);
    size_t n = strlen(m->name);
    if (n > 5 && strcmp(m->name + n - 5, ".json") == 0) {
        m->name[n - 5] = '\0';
    }
    *model_p = m;
    return KVT_OK;
}

#define MAX_CONFIG_BYTES (16u << 20)

kvt_status_t kvt_model_load_file(const char *path, kvt_model_t **model_p, kvt_error_t *err)
{
    FILE *f;
    char *buf;
    size_t len;
    kvt_status_t st;

    if (path == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_model_load_file: NULL path");
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        return kvt_error_set(err, KVT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    buf = malloc(MAX_CONFIG_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    len = fread(buf, 1, MAX_CONFIG_BYTES + 1, f);
    if (ferror(f)) {
        st = kvt_error_set(err, KVT_ERR_IO, "%s: read error: %s", path, strerror(errno));
    } else if (len > MAX_CONFIG_BYTES) {
        st = kvt_error_set(err, KVT_ERR_PARSE, "%s: larger than %u MiB, not a config.json",
                           path, MAX_CONFIG_BYTES >> 20);
    } else {
        st = kvt_model_load_json(buf, len, path, model_p, err);
    }
    free(buf);
    fclose(f);
    return st;
}

void kvt_model_destroy(kvt_model_t *model)
{
    if (model == NULL) {
        return;
    }
    free(model->layers);
    free(model);
}

const kvt_model_info_t *kvt_model_info(const kvt_model_t *model)
{
    return &model->info;
}

const kvt_layer_desc_t *kvt_model_layer(const kvt_model_t *model, uint32_t i)
{
    return i < model->info.num_layers ? &model->layers[i] : NULL;
}

const char *kvt_attn_kind_name(kvt_attn_kind_t kind)
{
    static const char *const names[] = {"none", "MHA", "GQA", "MQA", "MLA"};
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

const char *kvt_layer_kind_name(kvt_layer_kind_t kind)
{
    static const char *const names[] = {"full", "sliding", "chunked", "linear", "mamba"};
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}
