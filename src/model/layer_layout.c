/*
 * Which kind of layer each decoder layer is, and its window.
 *
 * Configs describe hybrid stacks in several dialects; this file is the one place that knows them
 * all, in the order transformers itself gives them precedence:
 *
 *  1. `layer_types` (transformers >= 4.5x, every recent model): one entry per layer.
 *  2. Older per-architecture rules, when `layer_types` is absent:
 *     - Qwen3-Next: `full_attention_interval` k, layer i is full iff (i+1) % k == 0, else linear;
 *     - Jamba: `attn_layer_period` p / `attn_layer_offset` o, attention iff i % p == o, else Mamba;
 *     - Llama 4: `attention_chunk_size` with `no_rope_layers` (1 = RoPE layer = chunked,
 *       0 = NoPE layer = global); the default list makes every 4th layer global;
 *     - Gemma 2: even layers sliding, odd layers global;
 *     - Gemma 3: `sliding_window_pattern` n (default 6): layer i global iff (i+1) % n == 0;
 *     - Qwen2/Qwen3 family: `use_sliding_window` gates the window, which applies from layer
 *       `max_window_layers` on (transformers' default 28);
 *     - otherwise a non-null `sliding_window` applies to every layer (Mistral, Phi-3).
 *  3. Everything else is full attention.
 *
 * A window is kept only where it can bind: a layer whose window is at least the model's maximum
 * context is still reported as sliding, but an active window larger than the maximum context is a
 * contradictory config and is rejected, naming the field.
 */
#include "model/model_internal.h"

#include <stdio.h>
#include <string.h>

static bool type_is(const kvt_model_t *m, const char *t)
{
    return strcmp(m->info.model_type, t) == 0;
}

static bool type_starts(const kvt_model_t *m, const char *prefix)
{
    return strncmp(m->info.model_type, prefix, strlen(prefix)) == 0;
}

static const struct {
    const char *name;
    kvt_layer_kind_t kind;
} layer_type_names[] = {
    {"full_attention", KVT_LAYER_FULL},       {"attention", KVT_LAYER_FULL},
    {"global_attention", KVT_LAYER_FULL},     {"sliding_attention", KVT_LAYER_SLIDING},
    {"local_attention", KVT_LAYER_SLIDING},   {"chunked_attention", KVT_LAYER_CHUNKED},
    {"linear_attention", KVT_LAYER_LINEAR},   {"mamba", KVT_LAYER_MAMBA},
};

static kvt_status_t from_layer_types(kvt_cfg_t *cfg, kvt_model_t *m, const cJSON *types,
                                     const char *path)
{
    char field[224];
    uint32_t n = m->info.num_layers;

    if (!cJSON_IsArray(types)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "expected an array of strings");
    }
    int count = cJSON_GetArraySize(types);
    if (count < 0 || (uint32_t)count != n) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path,
                            "has %d entries but num_hidden_layers is %u", count, n);
    }
    uint32_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, types)
    {
        snprintf(field, sizeof(field), "%s[%u]", path, i);
        if (!cJSON_IsString(e)) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "expected a string");
        }
        size_t k;
        for (k = 0; k < sizeof(layer_type_names) / sizeof(layer_type_names[0]); k++) {
            if (strcmp(e->valuestring, layer_type_names[k].name) == 0) {
                break;
            }
        }
        if (k == sizeof(layer_type_names) / sizeof(layer_type_names[0])) {
            /* at most 64 bytes of it; kvt_error_set shows control characters as '?' */
            return kvt_cfg_fail(cfg, KVT_ERR_UNSUPPORTED, field, "unknown layer type \"%.64s\"",
                                e->valuestring);
        }
        m->layers[i++].kind = layer_type_names[k].kind;
    }
    return KVT_OK;
}

/* Llama 4: no_rope_layers[i] == 1 means a RoPE layer, which uses chunked attention. */
static kvt_status_t llama4_layers(kvt_cfg_t *cfg, kvt_model_t *m)
{
    const char *scratch;
    const cJSON *nr = kvt_cfg_get(cfg, "no_rope_layers", &scratch);
    char path[192];
    uint32_t interval;
    /* copy the name: the next lookup reuses cfg->path */
    snprintf(path, sizeof(path), "%s", scratch);
    kvt_status_t st = kvt_cfg_u32(cfg, "no_rope_layer_interval", false, 4, &interval);
    if (st != KVT_OK) {
        return st;
    }
    if (interval == 0) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "no_rope_layer_interval", "must be positive");
    }
    if (nr != NULL && cJSON_IsArray(nr) && cJSON_GetArraySize(nr) > 0) {
        int count = cJSON_GetArraySize(nr);
        if ((uint32_t)count != m->info.num_layers) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path,
                                "has %d entries but num_hidden_layers is %u", count,
                                m->info.num_layers);
        }
        uint32_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, nr)
        {
            if (!cJSON_IsNumber(e) || (e->valuedouble != 0 && e->valuedouble != 1)) {
                char field[224];
                snprintf(field, sizeof(field), "%s[%u]", path, i);
                return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "expected 0 or 1");
            }
            m->layers[i++].kind = e->valuedouble == 1 ? KVT_LAYER_CHUNKED : KVT_LAYER_FULL;
        }
        return KVT_OK;
    }
    if (nr != NULL && !cJSON_IsArray(nr)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "expected an array of 0/1");
    }
    for (uint32_t i = 0; i < m->info.num_layers; i++) {
        m->layers[i].kind = ((i + 1) % interval != 0) ? KVT_LAYER_CHUNKED : KVT_LAYER_FULL;
    }
    return KVT_OK;
}

static kvt_status_t legacy_rules(kvt_cfg_t *cfg, kvt_model_t *m)
{
    uint32_t n = m->info.num_layers;
    kvt_status_t st;
    const cJSON *sw = kvt_cfg_get(cfg, "sliding_window", NULL);

    if (kvt_cfg_get(cfg, "full_attention_interval", NULL) != NULL) {
        uint32_t k;
        if ((st = kvt_cfg_u32(cfg, "full_attention_interval", true, 0, &k)) != KVT_OK) {
            return st;
        }
        for (uint32_t i = 0; i < n; i++) {
            m->layers[i].kind = ((i + 1) % k == 0) ? KVT_LAYER_FULL : KVT_LAYER_LINEAR;
        }
        return KVT_OK;
    }
    if (type_is(m, "jamba") || kvt_cfg_get(cfg, "attn_layer_period", NULL) != NULL) {
        uint32_t period, offset;
        if ((st = kvt_cfg_u32(cfg, "attn_layer_period", false, 8, &period)) != KVT_OK ||
            (st = kvt_cfg_u32(cfg, "attn_layer_offset", false, 4, &offset)) != KVT_OK) {
            return st;
        }
        if (period == 0 || offset >= period) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "attn_layer_offset",
                                "%u must be below attn_layer_period (%u)", offset, period);
        }
        for (uint32_t i = 0; i < n; i++) {
            m->layers[i].kind = (i % period == offset) ? KVT_LAYER_FULL : KVT_LAYER_MAMBA;
        }
        return KVT_OK;
    }
    if (kvt_cfg_get(cfg, "attention_chunk_size", NULL) != NULL) {
        return llama4_layers(cfg, m);
    }
    if (sw == NULL) {
        return KVT_OK; /* all full attention */
    }
    if (type_is(m, "gemma2")) {
        for (uint32_t i = 0; i < n; i++) {
            m->layers[i].kind = (i % 2 == 0) ? KVT_LAYER_SLIDING : KVT_LAYER_FULL;
        }
        return KVT_OK;
    }
    if (type_starts(m, "gemma3") || kvt_cfg_get(cfg, "sliding_window_pattern", NULL) != NULL) {
        uint32_t pattern;
        if ((st = kvt_cfg_u32(cfg, "sliding_window_pattern", false, 6, &pattern)) != KVT_OK) {
            return st;
        }
        if (pattern == 0) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "sliding_window_pattern",
                                "must be positive");
        }
        for (uint32_t i = 0; i < n; i++) {
            m->layers[i].kind = ((i + 1) % pattern != 0) ? KVT_LAYER_SLIDING : KVT_LAYER_FULL;
        }
        return KVT_OK;
    }
    if (kvt_cfg_get(cfg, "use_sliding_window", NULL) != NULL) {
        bool use;
        uint32_t from;
        if ((st = kvt_cfg_bool(cfg, "use_sliding_window", false, &use)) != KVT_OK ||
            (st = kvt_cfg_u32(cfg, "max_window_layers", false, 28, &from)) != KVT_OK) {
            return st;
        }
        for (uint32_t i = 0; use && i < n; i++) {
            m->layers[i].kind = (i >= from) ? KVT_LAYER_SLIDING : KVT_LAYER_FULL;
        }
        return KVT_OK;
    }
    for (uint32_t i = 0; i < n; i++) {
        m->layers[i].kind = KVT_LAYER_SLIDING;
    }
    return KVT_OK;
}

kvt_status_t kvt_layout_resolve(kvt_cfg_t *cfg, kvt_model_t *m)
{
    const char *path;
    const cJSON *types = kvt_cfg_get(cfg, "layer_types", &path);
    char types_path[192];
    bool uses_window = false, uses_chunk = false;
    kvt_status_t st;

    snprintf(types_path, sizeof(types_path), "%s", path);
    for (uint32_t i = 0; i < m->info.num_layers; i++) {
        m->layers[i].kind = KVT_LAYER_FULL;
    }
    if (types != NULL) {
        st = from_layer_types(cfg, m, types, types_path);
    } else {
        st = legacy_rules(cfg, m);
    }
    if (st != KVT_OK) {
        return st;
    }
    for (uint32_t i = 0; i < m->info.num_layers; i++) {
        uses_window |= m->layers[i].kind == KVT_LAYER_SLIDING;
        uses_chunk |= m->layers[i].kind == KVT_LAYER_CHUNKED;
    }

    /* window sizes: required where a layer uses them */
    uint32_t window = 0, chunk = 0;
    if (uses_window) {
        if ((st = kvt_cfg_u32(cfg, "sliding_window", true, 0, &window)) != KVT_OK) {
            if (types != NULL && kvt_cfg_get(cfg, "sliding_window", NULL) == NULL) {
                return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "sliding_window",
                                    "missing, but %s has sliding layers", types_path);
            }
            return st;
        }
    }
    if (uses_chunk) {
        if ((st = kvt_cfg_u32(cfg, "attention_chunk_size", true, 0, &chunk)) != KVT_OK) {
            return st;
        }
    }
    uint64_t max_ctx = m->info.max_context;
    if (uses_window && max_ctx != 0 && window > max_ctx) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "sliding_window",
                            "%u exceeds the model's maximum context (%llu): the window could "
                            "never apply",
                            window, (unsigned long long)max_ctx);
    }
    if (uses_chunk && max_ctx != 0 && chunk > max_ctx) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "attention_chunk_size",
                            "%u exceeds the model's maximum context (%llu): chunking could never "
                            "apply",
                            chunk, (unsigned long long)max_ctx);
    }
    for (uint32_t i = 0; i < m->info.num_layers; i++) {
        kvt_layer_desc_t *l = &m->layers[i];
        l->window = l->kind == KVT_LAYER_SLIDING ? window
                    : l->kind == KVT_LAYER_CHUNKED ? chunk
                                                    : 0;
    }
    return KVT_OK;
}
