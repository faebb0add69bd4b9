/*
 * Node descriptions: the tiers below a node's GPU instances, built in or read from JSON.
 *
 * A node is a GPU type, a number of data-parallel instances of one catalog model, and up to six
 * tiers, fastest first, kinds in the enum's order and each at most once (a node may skip kinds).
 * Capacities are the node's (shared by its instances); bandwidths and latencies are what one
 * instance sees fetching KV into its own GPU. T0's capacity may be "auto": the model's KV budget
 * per GPU from the library's own planner (catalog model, default sizing, default plan: 0.90 of
 * the driver's memory, 2 GiB activation reserve) times the instances -- the same computation for
 * the built-in and for a file, so the two cannot drift apart.
 *
 * The built-in "h100-node" (docs/node.md has the same table with more detail):
 *
 *   T0 HBM   capacity auto: 58761245337 B per GPU (llama-3.1-8b on h100-sxm) x 8 =
 *            470089962696 B; read/write 3350 GB/s = the H100 SXM5's HBM3 datasheet peak
 *            (gpu_catalog.c; device-probe.md measured 3008 GB/s for a device copy); latency 0
 *            (already resident); layerwise.
 *   T1 DRAM  2 TiB (a DGX H100 has 2 TB of DDR5, per NVIDIA's DGX BasePOD reference
 *            architecture; all of it for KV is an upper bound); read 50 GB/s per instance:
 *            device-probe.md measured 53-55 GB/s pinned H2D for copies >= 16 MiB and
 *            50.9 GB/s for a gather kernel over 16 KiB pieces (the restore path's shape); write
 *            50 (D2H measured the same); latency 10 us (assumption: one gather launch plus a
 *            synchronisation; a lone 64 KiB cudaMemcpyAsync measured ~18 us); layerwise.
 *   T2 CXL   1 TiB (assumption); read/write 25 GB/s (assumption: a CXL 2.0 x8 expander, 32 GB/s
 *            raw per direction, reached through the host: about half the PCIe Gen5 x16 path);
 *            latency 20 us (assumption: CXL load latency is ~2x DRAM's, ~170-250 ns against
 *            ~100 ns, plus the fetch setup; taken as 2x the DRAM tier's figure); layerwise.
 *   T3 NVMe  30 TB (a DGX H100's 8 x 3.84 TB U.2 data drives = 30.72 TB raw, stated as
 *            30 TB); read 12 GB/s per instance (assumption: two PCIe Gen4 drives per fetching
 *            GPU at ~6.5 GB/s each through GPUDirect Storage; with 8 drives this holds while at
 *            most half the instances read at once); write 8 (assumption: ~4 GB/s per drive);
 *            latency 100 us (the QD1 128 KiB read class measured in peer-baselines.md,
 *            100-250 us, low end, for a datacenter drive); layerwise (GDS reads land in GPU
 *            memory as they complete, layer by layer).
 *   T4 pool  16 TB (assumption: this node's share of the cluster's RDMA memory pool); read/write
 *            40 GB/s (one 400 Gb/s NIC per GPU = 50 GB/s raw, ~80 % effective; 3FS reports
 *            40 GiB/s per client on one 400 Gb/s NIC, anchors.md); latency 20 us (assumption: a
 *            few us of RDMA round trip plus lookup and setup); layerwise.
 *   T5 PFS   1 PB (assumption); read 5, write 3 GB/s per instance (assumption: this node's share
 *            of a parallel filesystem); latency 1000 us (assumption: open + metadata per file);
 *            not layerwise: blocks are whole files that must arrive before use.
 */
#include <kvtier/node.h>

#include <kvtier/model.h>
#include <kvtier/plan.h>
#include <kvtier/size.h>

#include "common/error.h"
#include "common/parse_num.h"
#include "model/json_config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const kind_names[KVT_MAX_TIERS] = {"hbm", "dram", "cxl", "nvme", "pool", "pfs"};

const char *kvt_tier_kind_name(kvt_tier_kind_t kind)
{
    return (unsigned)kind < KVT_MAX_TIERS ? kind_names[kind] : "?";
}

kvt_status_t kvt_tier_kind_parse(const char *s, kvt_tier_kind_t *kind_p)
{
    for (unsigned k = 0; s != NULL && k < KVT_MAX_TIERS; k++) {
        if (strcmp(s, kind_names[k]) == 0) {
            *kind_p = (kvt_tier_kind_t)k;
            return KVT_OK;
        }
    }
    return KVT_ERR_NOT_FOUND;
}

/*
 * T0 "auto": the KV budget of one GPU serving model (whole, TP = PP = 1) under the default
 * sizing and plan, times the instances. where prefixes every error ("node.json:
 * tiers[0].capacity"). A model that does not fit leaves no budget: an error, not a zero tier.
 */
static kvt_status_t hbm_auto_bytes(const kvt_gpu_spec_t *gpu, const char *model_name,
                                   uint32_t instances, const char *where, uint64_t *bytes_p,
                                   kvt_error_t *err)
{
    kvt_model_t *model = NULL;
    kvt_sizing_t *sizing = NULL;
    kvt_plan_opts_t po;
    kvt_plan_t plan;
    kvt_error_t inner = {KVT_OK, ""};
    kvt_status_t st;

    kvt_plan_opts_init(&po);
    po.gpu = gpu;
    if ((st = kvt_model_load_catalog(model_name, &model, &inner)) != KVT_OK ||
        (st = kvt_size_compute(model, NULL, &sizing, &inner)) != KVT_OK ||
        (st = kvt_plan_compute(model, sizing, &po, &plan, &inner)) != KVT_OK) {
        kvt_error_set(err, st, "%s: auto: %s", where, inner.message);
    } else if (!plan.fits || plan.kv_budget_bytes_per_gpu == 0) {
        st = kvt_error_set(err, KVT_ERR_INVALID,
                           "%s: auto: %s does not fit on %s (weights %llu B + reserve %llu B "
                           "against %llu B usable): no KV budget",
                           where, model_name, gpu->name,
                           (unsigned long long)plan.weights_bytes_per_gpu,
                           (unsigned long long)plan.activation_reserve_bytes,
                           (unsigned long long)plan.usable_bytes_per_gpu);
    } else if (plan.kv_budget_bytes_per_gpu > UINT64_MAX / instances) {
        st = kvt_error_set(err, KVT_ERR_INVALID, "%s: auto: %llu B x %u instances exceeds 2^64",
                           where, (unsigned long long)plan.kv_budget_bytes_per_gpu, instances);
    } else {
        *bytes_p = plan.kv_budget_bytes_per_gpu * instances;
    }
    kvt_sizing_destroy(sizing);
    kvt_model_destroy(model);
    return st;
}

/* ---- built-in nodes ------------------------------------------------------------------------ */

#define AUTO 0 /* in a built-in row: capacity = the KV budget, bandwidth = the GPU's HBM */
#define TB   1000000000000ull
#define TIB  (1ull << 40)

typedef struct builtin_tier {
    kvt_tier_kind_t kind;
    uint64_t capacity_bytes;
    double read_GBps, write_GBps, latency_us;
    bool layerwise;
} builtin_tier_t;

typedef struct builtin_node {
    const char *name, *gpu, *model;
    uint32_t instances, ntiers;
    builtin_tier_t tiers[KVT_MAX_TIERS];
} builtin_node_t;

/* Every figure's source: the comment atop this file and docs/node.md. */
static const builtin_node_t builtins[] = {
    {"h100-node",
     "h100-sxm",
     "llama-3.1-8b",
     8,
     6,
     {
         {KVT_TIER_HBM, AUTO, AUTO, AUTO, 0, true},
         {KVT_TIER_DRAM, 2 * TIB, 50, 50, 10, true},
         {KVT_TIER_CXL, 1 * TIB, 25, 25, 20, true},
         {KVT_TIER_NVME, 30 * TB, 12, 8, 100, true},
         {KVT_TIER_POOL, 16 * TB, 40, 40, 20, true},
         {KVT_TIER_PFS, 1000 * TB, 5, 3, 1000, false},
     }},
};

#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

static void known_builtins(char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < NBUILTINS && off < size; i++) {
        int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", builtins[i].name);
        off += n > 0 ? (size_t)n : 0;
    }
}

kvt_status_t kvt_node_builtin(const char *name, kvt_node_desc_t *node_p, kvt_error_t *err)
{
    const builtin_node_t *b = NULL;
    kvt_node_desc_t node;
    kvt_status_t st;

    if (name == NULL || node_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_node_builtin: NULL argument");
    }
    for (size_t i = 0; i < NBUILTINS; i++) {
        if (strcasecmp(name, builtins[i].name) == 0) {
            b = &builtins[i];
        }
    }
    if (b == NULL) {
        char known[256];
        known_builtins(known, sizeof(known));
        return kvt_error_set(err, KVT_ERR_NOT_FOUND, "unknown node \"%s\" (known: %s)", name,
                             known);
    }
    memset(&node, 0, sizeof(node));
    snprintf(node.name, sizeof(node.name), "%s", b->name);
    snprintf(node.model, sizeof(node.model), "%s", b->model);
    node.gpu = kvt_gpu_find(b->gpu);
    node.instances = b->instances;
    node.ntiers = b->ntiers;
    for (uint32_t i = 0; i < b->ntiers; i++) {
        const builtin_tier_t *bt = &b->tiers[i];
        kvt_tier_desc_t *t = &node.tiers[i];
        t->kind = bt->kind;
        snprintf(t->name, sizeof(t->name), "%s", kvt_tier_kind_name(bt->kind));
        t->capacity_bytes = bt->capacity_bytes;
        t->read_GBps = bt->read_GBps == AUTO ? node.gpu->hbm_GBps : bt->read_GBps;
        t->write_GBps = bt->write_GBps == AUTO ? node.gpu->hbm_GBps : bt->write_GBps;
        t->latency_us = bt->latency_us;
        t->layerwise = bt->layerwise;
        if (bt->capacity_bytes == AUTO) {
            char where[96];
            snprintf(where, sizeof(where), "%s: tiers[%u].capacity", b->name, i);
            st = hbm_auto_bytes(node.gpu, node.model, node.instances, where, &t->capacity_bytes,
                                err);
            if (st != KVT_OK) {
                return st;
            }
        }
    }
    *node_p = node;
    return KVT_OK;
}

/* ---- node files ---------------------------------------------------------------------------- */

#define MAX_NODE_BYTES (1u << 20)
#define MAX_INSTANCES  4096u
#define MAX_EXACT_JSON 9007199254740992.0 /* 2^53: larger integers are not exact in a double */

static const char *const top_keys[] = {"name", "gpu", "instances", "model", "tiers", NULL};
static const char *const tier_keys[] = {"kind",       "capacity",  "read_GBps", "write_GBps",
                                        "latency_us", "layerwise", "prefault", NULL};

/* Reject keys outside known (typos must not pass silently) and keys given twice. */
static kvt_status_t check_keys(kvt_cfg_t *cfg, const cJSON *obj, const char *const *known,
                               const char *prefix)
{
    char field[96], list[160];
    size_t off = 0;

    list[0] = '\0';
    for (const char *const *k = known; *k != NULL && off < sizeof(list); k++) {
        int n = snprintf(list + off, sizeof(list) - off, "%s%s", k == known ? "" : ", ", *k);
        off += n > 0 ? (size_t)n : 0;
    }
    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        const char *const *k = known;
        while (*k != NULL && strcmp(*k, c->string) != 0) {
            k++;
        }
        snprintf(field, sizeof(field), "%s%s", prefix, c->string);
        if (*k == NULL) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "unknown key (known: %s)", list);
        }
        for (const cJSON *d = obj->child; d != c; d = d->next) {
            if (strcmp(d->string, c->string) == 0) {
                return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "given twice");
            }
        }
    }
    return KVT_OK;
}

/* A required field of obj; field is its printable path. */
static const cJSON *need(kvt_cfg_t *cfg, const cJSON *obj, const char *key, const char *field,
                         kvt_status_t *st_p)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL) {
        *st_p = kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "missing (required)");
    }
    return v;
}

static kvt_status_t get_string(kvt_cfg_t *cfg, const cJSON *obj, const char *key, const char *field,
                               size_t max_len, const char **s_p)
{
    kvt_status_t st = KVT_OK;
    const cJSON *v = need(cfg, obj, key, field, &st);

    if (v == NULL) {
        return st;
    }
    if (!cJSON_IsString(v)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "expected a string");
    }
    if (v->valuestring[0] == '\0') {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "must not be empty");
    }
    if (strlen(v->valuestring) > max_len) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "longer than %zu characters", max_len);
    }
    *s_p = v->valuestring;
    return KVT_OK;
}

/* A finite number; positive=true rejects <= 0, otherwise only < 0 is rejected. */
static kvt_status_t get_number(kvt_cfg_t *cfg, const cJSON *obj, const char *key, const char *field,
                               bool positive, double *v_p)
{
    kvt_status_t st = KVT_OK;
    const cJSON *v = need(cfg, obj, key, field, &st);

    if (v == NULL) {
        return st;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "expected a number");
    }
    if (positive && !(v->valuedouble > 0)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "must be positive (got %g)",
                            v->valuedouble);
    }
    if (!positive && v->valuedouble < 0) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "must not be negative (got %g)",
                            v->valuedouble);
    }
    *v_p = v->valuedouble;
    return KVT_OK;
}

static kvt_status_t get_bool(kvt_cfg_t *cfg, const cJSON *obj, const char *key, const char *field,
                             bool *v_p)
{
    kvt_status_t st = KVT_OK;
    const cJSON *v = need(cfg, obj, key, field, &st);

    if (v == NULL) {
        return st;
    }
    if (!cJSON_IsBool(v)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "expected true or false");
    }
    *v_p = cJSON_IsTrue(v);
    return KVT_OK;
}

/* "auto" (sets *auto_p), "<digits>[k|M|G|T|Ki|Mi|Gi|Ti]", or an integral JSON number. */
static kvt_status_t get_capacity(kvt_cfg_t *cfg, const cJSON *obj, const char *field,
                                 uint64_t *bytes_p, bool *auto_p)
{
    static const char forms[] =
        "expected \"auto\" (hbm only), a byte count, or a size such as \"2Ti\" or "
        "\"30T\" (suffixes k, M, G, T, Ki, Mi, Gi, Ti)";
    kvt_status_t st = KVT_OK;
    const cJSON *v = need(cfg, obj, "capacity", field, &st);
    uint64_t bytes;

    if (v == NULL) {
        return st;
    }
    *auto_p = false;
    if (cJSON_IsString(v)) {
        if (strcmp(v->valuestring, "auto") == 0) {
            *auto_p = true;
            return KVT_OK;
        }
        st = kvt_parse_u64(v->valuestring, &bytes);
        if (st == KVT_ERR_OVERFLOW) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "\"%s\" exceeds 2^64 bytes",
                                v->valuestring);
        }
        if (st != KVT_OK) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "\"%s\": %s", v->valuestring, forms);
        }
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!isfinite(d) || d != floor(d)) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "expected whole bytes, got %g", d);
        }
        if (d < 0) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "must be positive (got %.0f)", d);
        }
        if (d > MAX_EXACT_JSON) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field,
                                "%.0f is beyond 2^53, where JSON numbers lose precision: give "
                                "a size string such as \"16T\"",
                                d);
        }
        bytes = (uint64_t)d;
    } else {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "%s", forms);
    }
    if (bytes == 0) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field, "must be positive (got 0)");
    }
    *bytes_p = bytes;
    return KVT_OK;
}

static kvt_status_t read_tier(kvt_cfg_t *cfg, const cJSON *obj, uint32_t i, unsigned *seen,
                              int *prev_kind, kvt_tier_desc_t *t, bool *auto_p)
{
    char prefix[32], field[64];
    const char *s;
    kvt_status_t st;

#define FIELD(key) (snprintf(field, sizeof(field), "tiers[%u].%s", i, key), field)
    snprintf(prefix, sizeof(prefix), "tiers[%u]", i);
    if (!cJSON_IsObject(obj)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, prefix, "expected an object");
    }
    snprintf(prefix, sizeof(prefix), "tiers[%u].", i);
    if ((st = check_keys(cfg, obj, tier_keys, prefix)) != KVT_OK ||
        (st = get_string(cfg, obj, "kind", FIELD("kind"), 31, &s)) != KVT_OK) {
        return st;
    }
    if (kvt_tier_kind_parse(s, &t->kind) != KVT_OK) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field,
                            "unknown tier kind \"%s\" (known: hbm, dram, cxl, nvme, pool, pfs)", s);
    }
    if (i == 0 && t->kind != KVT_TIER_HBM) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field,
                            "the first tier must be \"hbm\" (got \"%s\")", s);
    }
    if (*seen & (1u << t->kind)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field,
                            "\"%s\" given twice: each kind at most once", s);
    }
    if ((int)t->kind < *prev_kind) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field,
                            "\"%s\" after \"%s\": tiers go fastest first, in the order hbm, "
                            "dram, cxl, nvme, pool, pfs",
                            s, kvt_tier_kind_name((kvt_tier_kind_t)*prev_kind));
    }
    *seen |= 1u << t->kind;
    *prev_kind = (int)t->kind;
    snprintf(t->name, sizeof(t->name), "%s", kind_names[t->kind]);

    if ((st = get_capacity(cfg, obj, FIELD("capacity"), &t->capacity_bytes, auto_p)) != KVT_OK) {
        return st;
    }
    if (*auto_p && t->kind != KVT_TIER_HBM) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, field,
                            "\"auto\" is only for the hbm tier (the model's KV budget)");
    }
    if ((st = get_number(cfg, obj, "read_GBps", FIELD("read_GBps"), true, &t->read_GBps)) !=
            KVT_OK ||
        (st = get_number(cfg, obj, "write_GBps", FIELD("write_GBps"), true, &t->write_GBps)) !=
            KVT_OK ||
        (st = get_number(cfg, obj, "latency_us", FIELD("latency_us"), false, &t->latency_us)) !=
            KVT_OK ||
        (st = get_bool(cfg, obj, "layerwise", FIELD("layerwise"), &t->layerwise)) != KVT_OK) {
        return st;
    }
    t->prefault = false; /* optional */
    if (cJSON_GetObjectItemCaseSensitive(obj, "prefault") != NULL &&
        (st = get_bool(cfg, obj, "prefault", FIELD("prefault"), &t->prefault)) != KVT_OK) {
        return st;
    }
#undef FIELD
    return KVT_OK;
}

static kvt_status_t read_node(kvt_cfg_t *cfg, kvt_node_desc_t *node)
{
    const cJSON *root = cfg->root;
    const cJSON *v;
    const char *s;
    double d;
    kvt_status_t st = KVT_OK;
    bool is_auto[KVT_MAX_TIERS] = {false};

    if ((st = check_keys(cfg, root, top_keys, "")) != KVT_OK ||
        (st = get_string(cfg, root, "name", "name", sizeof(node->name) - 1, &s)) != KVT_OK) {
        return st;
    }
    snprintf(node->name, sizeof(node->name), "%s", s);

    if ((st = get_string(cfg, root, "gpu", "gpu", 63, &s)) != KVT_OK) {
        return st;
    }
    if ((node->gpu = kvt_gpu_find(s)) == NULL) {
        char list[256];
        size_t off = 0;
        list[0] = '\0';
        for (size_t i = 0; i < kvt_gpu_count() && off < sizeof(list); i++) {
            int n = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
                             kvt_gpu_at(i)->name);
            off += n > 0 ? (size_t)n : 0;
        }
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "gpu", "unknown GPU \"%s\" (known: %s)", s, list);
    }

    if ((v = need(cfg, root, "instances", "instances", &st)) == NULL) {
        return st;
    }
    d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!isfinite(d) || d != floor(d)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "instances", "expected a whole number");
    }
    if (d < 1) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "instances", "must be positive (got %.0f)", d);
    }
    if (d > MAX_INSTANCES) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "instances", "at most %u (got %.0f)",
                            MAX_INSTANCES, d);
    }
    node->instances = (uint32_t)d;

    if ((st = get_string(cfg, root, "model", "model", sizeof(node->model) - 1, &s)) != KVT_OK) {
        return st;
    }
    const kvt_catalog_entry_t *entry = kvt_catalog_find(s);
    if (entry == NULL) {
        /* the catalog's own message lists the known slugs */
        kvt_model_t *m = NULL;
        kvt_error_t inner = {KVT_OK, ""};
        kvt_model_load_catalog(s, &m, &inner);
        kvt_model_destroy(m);
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "model", "%s", inner.message);
    }
    snprintf(node->model, sizeof(node->model), "%s", entry->name);

    if ((v = need(cfg, root, "tiers", "tiers", &st)) == NULL) {
        return st;
    }
    if (!cJSON_IsArray(v)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "tiers", "expected an array of tier objects");
    }
    int n = cJSON_GetArraySize(v);
    if (n < 1) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "tiers",
                            "empty: at least the hbm tier is required");
    }
    if (n > KVT_MAX_TIERS) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, "tiers", "at most %d tiers (got %d)",
                            KVT_MAX_TIERS, n);
    }
    unsigned seen = 0;
    int prev_kind = -1;
    uint32_t i = 0;
    for (const cJSON *t = v->child; t != NULL; t = t->next, i++) {
        st = read_tier(cfg, t, i, &seen, &prev_kind, &node->tiers[i], &is_auto[i]);
        if (st != KVT_OK) {
            return st;
        }
    }
    node->ntiers = i;

    /* "auto" last: gpu, model and instances are known and valid by now */
    for (i = 0; i < node->ntiers; i++) {
        if (is_auto[i]) {
            char where[160];
            snprintf(where, sizeof(where), "%s: tiers[%u].capacity", cfg->origin, i);
            st = hbm_auto_bytes(node->gpu, node->model, node->instances, where,
                                &node->tiers[i].capacity_bytes, cfg->err);
            if (st != KVT_OK) {
                return st;
            }
        }
    }
    return KVT_OK;
}

kvt_status_t kvt_node_load(const char *path, kvt_node_desc_t *node_p, kvt_error_t *err)
{
    kvt_node_desc_t node;
    kvt_cfg_t cfg;
    FILE *f;
    char *buf;
    size_t len;
    kvt_status_t st;

    if (path == NULL || node_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_node_load: NULL argument");
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        return kvt_error_set(err, KVT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    buf = malloc(MAX_NODE_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    len = fread(buf, 1, MAX_NODE_BYTES + 1, f);
    if (ferror(f)) {
        st = kvt_error_set(err, KVT_ERR_IO, "%s: read error: %s", path, strerror(errno));
    } else if (len > MAX_NODE_BYTES) {
        st = kvt_error_set(err, KVT_ERR_PARSE, "%s: larger than %u MiB, not a node description",
                           path, MAX_NODE_BYTES >> 20);
    } else if ((st = kvt_cfg_parse(&cfg, buf, len, path, err)) == KVT_OK) {
        memset(&node, 0, sizeof(node));
        st = read_node(&cfg, &node);
        kvt_cfg_release(&cfg);
        if (st == KVT_OK) {
            *node_p = node;
        }
    }
    free(buf);
    fclose(f);
    return st;
}
