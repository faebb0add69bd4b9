/*
 * The built-in model catalog.
 *
 * Each entry is a real Hugging Face config.json (data/models/<slug>.json, embedded at build
 * time), read by the same reader as a user's file, plus what a config does not say: the
 * published parameter counts and the checkpoint's weight type, needed to plan capacity. The
 * sources of every figure are in data/models/SOURCES.md. Adding a model = adding its config file
 * and one row below.
 */
#include "model/catalog_data.h"
#include "model/model_internal.h"

#include "common/error.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct catalog_meta {
    const char *name;
    const char *hf_id;
    double params_total;
    double params_active;
    kvt_dtype_t weights_dtype;
} catalog_meta_t;

#define B 1e9
static const catalog_meta_t meta[] = {
    {"deepseek-v2-lite", "deepseek-ai/DeepSeek-V2-Lite", 15.7 * B, 2.4 * B, KVT_DTYPE_BF16},
    {"deepseek-v3", "deepseek-ai/DeepSeek-V3", 671 * B, 37 * B, KVT_DTYPE_FP8_E4M3},
    {"deepseek-v3.2", "deepseek-ai/DeepSeek-V3.2", 671 * B, 37 * B, KVT_DTYPE_FP8_E4M3},
    {"falcon-7b", "tiiuae/falcon-7b", 7.22 * B, 0, KVT_DTYPE_BF16},
    {"gemma-2-27b", "google/gemma-2-27b", 27.2 * B, 0, KVT_DTYPE_BF16},
    {"gemma-2-9b", "google/gemma-2-9b", 9.24 * B, 0, KVT_DTYPE_BF16},
    {"gemma-3-27b", "google/gemma-3-27b-it", 27.4 * B, 0, KVT_DTYPE_BF16},
    {"gpt-oss-120b", "openai/gpt-oss-120b", 117 * B, 5.1 * B, KVT_DTYPE_MXFP4},
    {"gpt-oss-20b", "openai/gpt-oss-20b", 21 * B, 3.6 * B, KVT_DTYPE_MXFP4},
    {"jamba-v0.1", "ai21labs/Jamba-v0.1", 51.6 * B, 12 * B, KVT_DTYPE_BF16},
    {"kimi-k2", "moonshotai/Kimi-K2-Instruct", 1040 * B, 32 * B, KVT_DTYPE_FP8_E4M3},
    {"llama-3.1-405b", "meta-llama/Llama-3.1-405B-Instruct", 405 * B, 0, KVT_DTYPE_BF16},
    {"llama-3.1-70b", "meta-llama/Llama-3.1-70B-Instruct", 70.6 * B, 0, KVT_DTYPE_BF16},
    {"llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct", 8.03 * B, 0, KVT_DTYPE_BF16},
    {"llama-4-scout", "meta-llama/Llama-4-Scout-17B-16E-Instruct", 109 * B, 17 * B,
     KVT_DTYPE_BF16},
    {"mistral-7b-v0.1", "mistralai/Mistral-7B-v0.1", 7.24 * B, 0, KVT_DTYPE_BF16},
    {"mixtral-8x7b", "mistralai/Mixtral-8x7B-v0.1", 46.7 * B, 12.9 * B, KVT_DTYPE_BF16},
    {"qwen2.5-72b", "Qwen/Qwen2.5-72B-Instruct", 72.7 * B, 0, KVT_DTYPE_BF16},
    {"qwen2.5-7b", "Qwen/Qwen2.5-7B-Instruct", 7.61 * B, 0, KVT_DTYPE_BF16},
    {"qwen3-235b-a22b", "Qwen/Qwen3-235B-A22B", 235 * B, 22 * B, KVT_DTYPE_BF16},
    {"qwen3-32b", "Qwen/Qwen3-32B", 32.8 * B, 0, KVT_DTYPE_BF16},
    {"qwen3-next-80b-a3b", "Qwen/Qwen3-Next-80B-A3B-Instruct", 80 * B, 3 * B, KVT_DTYPE_BF16},
};
#undef B

#define NMETA (sizeof(meta) / sizeof(meta[0]))

static kvt_catalog_entry_t entries[NMETA];
static size_t n_entries;
static pthread_once_t entries_once = PTHREAD_ONCE_INIT;

/* Join the metadata rows with the embedded configs (once; the tables are constant). */
static void join_tables(void)
{
    for (size_t i = 0; i < NMETA; i++) {
        for (size_t j = 0; j < kvt_catalog_blob_count; j++) {
            if (strcmp(meta[i].name, kvt_catalog_blobs[j].slug) == 0) {
                kvt_catalog_entry_t *e = &entries[n_entries++];
                e->name = meta[i].name;
                e->hf_id = meta[i].hf_id;
                e->params_total = meta[i].params_total;
                e->params_active = meta[i].params_active;
                e->weights_dtype = meta[i].weights_dtype;
                e->config_json = kvt_catalog_blobs[j].data;
                e->config_len = kvt_catalog_blobs[j].len;
                break;
            }
        }
    }
}

static void build_entries(void)
{
    pthread_once(&entries_once, join_tables);
}

size_t kvt_catalog_count(void)
{
    build_entries();
    return n_entries;
}

const kvt_catalog_entry_t *kvt_catalog_at(size_t i)
{
    build_entries();
    return i < n_entries ? &entries[i] : NULL;
}

const kvt_catalog_entry_t *kvt_catalog_find(const char *name)
{
    build_entries();
    for (size_t i = 0; name != NULL && i < n_entries; i++) {
        if (strcasecmp(entries[i].name, name) == 0) {
            return &entries[i];
        }
    }
    return NULL;
}

kvt_status_t kvt_model_load_catalog(const char *name, kvt_model_t **model_p, kvt_error_t *err)
{
    const kvt_catalog_entry_t *e = kvt_catalog_find(name);
    char origin[160];
    kvt_model_t *m;
    kvt_status_t st;

    if (e == NULL) {
        char known[1024] = "";
        size_t off = 0;
        for (size_t i = 0; i < n_entries && off < sizeof(known); i++) {
            int w = snprintf(known + off, sizeof(known) - off, "%s%s", i ? ", " : "",
                             entries[i].name);
            off += w > 0 ? (size_t)w : 0;
        }
        return kvt_error_set(err, KVT_ERR_NOT_FOUND, "unknown model \"%s\" (known: %s)",
                             name ? name : "(null)", known);
    }
    snprintf(origin, sizeof(origin), "catalog:%s", e->name);
    if ((st = kvt_model_load_json(e->config_json, e->config_len, origin, &m, err)) != KVT_OK) {
        return st;
    }
    snprintf(m->name, sizeof(m->name), "%s", e->name);
    snprintf(m->hf_id, sizeof(m->hf_id), "%s", e->hf_id);
    m->info.params_total = e->params_total;
    m->info.params_active = e->params_active;
    m->info.weights_dtype = e->weights_dtype;
    *model_p = m;
    return KVT_OK;
}
