/*
 * libFuzzer target for node descriptions (docs/node.md): any bytes in, written to a memory file
 * and loaded with kvt_node_load; when they load, the description goes everywhere the tools take
 * one: kvt_store_tiers_from_node (the live store's tiers), kvt_node_replay_run over a small
 * fixed Mooncake-format trace with the node's model (the policy, prefetch and hold-cost picked
 * from the input's length), and kvt_project on the replay's per-request hits.
 *
 * Beside the sanitizers it checks the documented contracts and aborts when one is broken: a
 * failed load leaves *node_p untouched and fills err with its status and one line starting with
 * the path; a loaded node is well formed (1 to 6 tiers, hbm first, each kind at most once and in
 * order, positive finite bandwidths, a finite latency >= 0, a nonzero capacity, a GPU, at least
 * one instance, NUL-terminated names); the store gets one tier per node tier but hbm and pool;
 * the replay serves at most the trace's input tokens, attributed to the tiers exactly once; the
 * projection's TTFTs are ordered and none is NaN.
 */
#include <kvtier/kvtier.h>

#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];
static kvt_trace_t *trace;

static void cleanup(void)
{
    kvt_trace_destroy(trace);
    close(fd);
}

/* 48 requests in 6 sessions of 8 turns, each turn extending its session's prefix by one or two
   512-token blocks over a system prompt all share: enough reuse for every tier to see traffic. */
static int setup(void)
{
    char tpath[64];
    int tf = fuzz_memory_file("fuzz_node_trace", tpath, sizeof(tpath));
    fd = fuzz_memory_file("fuzz_node", path, sizeof(path));
    if (tf < 0 || fd < 0) {
        return -1;
    }
    FILE *f = fdopen(dup(tf), "w");
    if (f == NULL) {
        return -1;
    }
    for (unsigned turn = 0; turn < 8; turn++) {
        for (unsigned s = 0; s < 6; s++) {
            unsigned blocks = 2 + turn + turn / 2;
            fprintf(f,
                    "{\"timestamp\": %u, \"input_length\": %u, \"output_length\": 16, "
                    "\"hash_ids\": [0",
                    (turn * 6 + s) * 250, blocks * 512 - 100);
            for (unsigned b = 1; b < blocks; b++) {
                fprintf(f, ", %u", 1 + s * 100 + b);
            }
            fprintf(f, "]}\n");
        }
    }
    if (fclose(f) != 0) {
        return -1;
    }
    kvt_error_t err;
    kvt_status_t st = kvt_trace_load(tpath, KVT_TRACE_AUTO, 512, &trace, &err);
    close(tf);
    if (st != KVT_OK) {
        fprintf(stderr, "fuzz_node: the fixed trace: %s\n", err.message);
        return -1;
    }
    kvt_log_set_level(KVT_LOG_ERROR);
    atexit(cleanup);
    return 0;
}

static void check_node(const kvt_node_desc_t *n)
{
    if (n->ntiers < 1 || n->ntiers > KVT_MAX_TIERS || n->gpu == NULL || n->instances < 1 ||
        memchr(n->name, '\0', sizeof(n->name)) == NULL ||
        memchr(n->model, '\0', sizeof(n->model)) == NULL || n->tiers[0].kind != KVT_TIER_HBM) {
        abort();
    }
    for (uint32_t i = 0; i < n->ntiers; i++) {
        const kvt_tier_desc_t *t = &n->tiers[i];
        if ((i > 0 && t->kind <= n->tiers[i - 1].kind) || t->capacity_bytes == 0 ||
            !(isfinite(t->read_GBps) && t->read_GBps > 0) ||
            !(isfinite(t->write_GBps) && t->write_GBps > 0) ||
            !(isfinite(t->latency_us) && t->latency_us >= 0) ||
            strcmp(t->name, kvt_tier_kind_name(t->kind)) != 0) {
            abort();
        }
    }
}

static void check_store_tiers(const kvt_node_desc_t *n)
{
    kvt_tier_config_t cfg[KVT_MAX_TIERS];
    uint64_t blocks[KVT_MAX_TIERS];
    uint32_t nt = 0, skipped = 0, want = 0;
    kvt_error_t err;
    const uint64_t block_bytes = (uint64_t)1 << 20;
    kvt_status_t st = kvt_store_tiers_from_node(
        n, block_bytes, "/nonexistent/nvme", "/nonexistent/pfs", cfg, blocks, &nt, &skipped, &err);
    if (st != KVT_OK) {
        /* the only refusal for a well-formed node: a tier too small for one block */
        if (st != KVT_ERR_DOES_NOT_FIT || err.status != st || err.message[0] == '\0') {
            abort();
        }
        return;
    }
    for (uint32_t i = 0; i < n->ntiers; i++) {
        const kvt_tier_desc_t *t = &n->tiers[i];
        if (t->kind == KVT_TIER_HBM || t->kind == KVT_TIER_POOL) {
            continue;
        }
        if (want >= nt || cfg[want].kind != t->kind ||
            cfg[want].capacity_bytes != t->capacity_bytes ||
            blocks[want] != t->capacity_bytes / block_bytes || blocks[want] == 0) {
            abort();
        }
        want++;
    }
    if (want != nt || nt + skipped != n->ntiers) {
        abort();
    }
}

static void check_replay(const kvt_node_desc_t *n, size_t size)
{
    kvt_model_t *model = NULL;
    kvt_sizing_t *sizing = NULL;
    kvt_error_t err;
    if (kvt_model_load_catalog(n->model, &model, &err) != KVT_OK ||
        kvt_size_compute(model, NULL, &sizing, &err) != KVT_OK) {
        abort(); /* the loader accepts only catalog models, whose sizing never fails */
    }
    const char *const *policies = kvt_replay_policies();
    size_t np = 0;
    while (policies[np] != NULL) {
        np++;
    }
    kvt_node_replay_opts_t o;
    kvt_node_replay_opts_init(&o);
    o.policy = policies[size % np];
    o.node = n;
    o.model = model;
    o.kv_bytes_per_token = sizing->kv_bytes_per_token;
    o.record = true;
    o.prefetch = (size / np) % 2 == 1;
    o.hold_cost = (size / np / 2) % 2 == 1;
    kvt_node_replay_result_t r;
    kvt_status_t st = kvt_node_replay_run(trace, &o, &r, &err);
    if (st != KVT_OK) {
        /* belady needs a future the fixed trace has; nothing else may refuse a valid node */
        abort();
    }
    const kvt_trace_info_t *in = kvt_trace_info(trace);
    uint64_t sum = 0;
    for (uint32_t k = 0; k < r.ntiers; k++) {
        sum += r.tiers[k].hit_tokens;
    }
    if (r.ntiers != n->ntiers || r.total.input_tokens != in->input_tokens ||
        r.total.hit_tokens > r.total.input_tokens || sum != r.total.hit_tokens) {
        abort();
    }
    kvt_proj_opts_t po;
    kvt_proj_opts_init(&po);
    po.model = model;
    po.node = n;
    po.kv_bytes_per_token = sizing->kv_bytes_per_token;
    kvt_proj_result_t pr;
    if (kvt_project(r.requests, (size_t)in->requests, &po, &pr, &err) != KVT_OK ||
        pr.requests != in->requests || isnan(pr.ttft_p50_s) || isnan(pr.ttft_p99_s) ||
        isnan(pr.ttft_mean_s) || pr.ttft_p50_s > pr.ttft_p90_s || pr.ttft_p90_s > pr.ttft_p99_s ||
        pr.ttft_p50_s < 0) {
        abort();
    }
    kvt_node_replay_result_release(&r);
    kvt_sizing_destroy(sizing);
    kvt_model_destroy(model);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0 && setup() != 0) {
        abort();
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
        abort();
    }
    kvt_node_desc_t node, before;
    memset(&node, 0xa5, sizeof(node));
    before = node;
    kvt_error_t err;
    kvt_status_t st = kvt_node_load(path, &node, &err);
    if (st != KVT_OK) {
        if (memcmp(&node, &before, sizeof(node)) != 0 || st >= 0 || err.status != st ||
            strnlen(err.message, sizeof(err.message)) == sizeof(err.message) ||
            strncmp(err.message, path, strlen(path)) != 0 || strchr(err.message, '\n') != NULL) {
            abort();
        }
        return 0;
    }
    check_node(&node);
    check_store_tiers(&node);
    check_replay(&node, size);
    return 0;
}
