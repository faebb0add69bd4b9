/*
 * `kvtier bench --replay TRACE`: the live store (kvtier/store.h) driven by a workload trace on
 * this machine's real tiers, reporting where each hit was served and the bytes moved per second.
 *
 * The node description (h100-node by default, or --node) gives the tier hierarchy and each
 * tier's capacity; the model (the node's, or --model) gives the exact bytes of one block:
 * kv_bytes_per_token x the trace's block tokens (kvt_size_compute). Each tier's capacity in
 * blocks is the node's capacity over that exact block size, so the store's placement -- and its
 * hit rates -- are the node's. Only the bytes are scaled to the machine: a node holds terabytes,
 * this machine a few GiB, so every block's payload is shrunk by one common factor until the
 * memory tiers' blocks fit in min(MemAvailable / 8, 2 GiB), each storage tier's in
 * min(free / 8, 4 GiB), and the whole replay moves at most 4 GiB; never below 4 KiB. A tier's
 * capacity never needs to exceed the trace's distinct blocks, so it is clamped there (the
 * placement does not change). Bandwidth is therefore that of scaled blocks: the figure to read
 * is the hit rate per tier, and GB/s for how the store keeps up on this machine.
 *
 * Tiers without a backend: the node's T0 HBM is stood in for by a DRAM tier of the HBM's
 * capacity (kvtier has no GPU tier yet; the store needs a top tier to admit into, as the replay
 * engine has), and the RDMA pool is left out. The report says both.
 */
#include "cli/bench_replay.h"

#include "cli/bench_sys.h"
#include "cli/cli.h"
#include "cli/replay_common.h"
#include "cli/table.h"
#include "common/json_writer.h"

#include <kvtier/store.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define V            "bench"
#define MEM_BUDGET   (2ull << 30)
#define DISK_BUDGET  (4ull << 30)
#define MOVE_BUDGET  (4ull << 30)
#define MIN_PAYLOAD  4096ull

typedef struct rtier {
    const kvt_tier_desc_t *desc;
    kvt_tier_kind_t backend;
    bool stand_in;           /* hbm served by a dram tier */
    uint64_t blocks;         /* capacity in blocks, clamped to the trace's distinct blocks */
    char dir[4200];
} rtier_t;

static bool storage(kvt_tier_kind_t k)
{
    return k == KVT_TIER_NVME || k == KVT_TIER_PFS;
}

static uint64_t round4k(uint64_t v)
{
    return (v + 4095) / 4096 * 4096;
}

/* The common payload size: the exact block, shrunk until everything fits this machine. */
static uint64_t scaled_payload(uint64_t exact, const rtier_t *t, size_t n,
                               const kvt_trace_info_t *in, const char *scratch)
{
    uint64_t p = exact, avail = 0, mem_blocks = 0;
    uint64_t mem = MEM_BUDGET;
    if (kvt_sys_meminfo("MemAvailable", &avail) && avail / 8 < mem) {
        mem = avail / 8;
    }
    uint64_t disk = DISK_BUDGET;
    if (kvt_sys_fs_free(scratch, &avail, NULL, 0) && avail / 8 < disk) {
        disk = avail / 8;
    }
    for (size_t i = 0; i < n; i++) {
        if (storage(t[i].backend)) {
            uint64_t each = t[i].blocks ? disk / t[i].blocks : p;
            p = each < p ? each : p;
        } else {
            mem_blocks += t[i].blocks;
        }
    }
    if (mem_blocks > 0 && mem / mem_blocks < p) {
        p = mem / mem_blocks;
    }
    if (in->refs > 0 && MOVE_BUDGET / in->refs < p) {
        p = MOVE_BUDGET / in->refs;
    }
    /* room for the header inside a 4 KiB-rounded record */
    p = p > KVT_BLOCK_HEADER_BYTES ? (p + KVT_BLOCK_HEADER_BYTES) / 4096 * 4096 : 0;
    p = p > KVT_BLOCK_HEADER_BYTES ? p - KVT_BLOCK_HEADER_BYTES : 0;
    if (p < MIN_PAYLOAD) {
        p = MIN_PAYLOAD;
    }
    return p < exact ? p : exact;
}

static void report(const kvt_bench_replay_cli_t *c, const kvt_trace_info_t *in,
                   const kvt_node_desc_t *node, const char *model, uint64_t exact,
                   uint64_t payload, const char *policy, const rtier_t *t, size_t n,
                   const kvt_store_replay_result_t *r, const kvt_store_stats_t *s, int *rc)
{
    kvt_json_t w;
    kvt_json_init(&w, true);
    kvt_json_begin_object(&w, NULL);
    kvt_json_str(&w, "trace", in->origin);
    kvt_json_str(&w, "node", node->name);
    kvt_json_str(&w, "model", model);
    kvt_json_str(&w, "policy", policy);
    kvt_json_u64(&w, "block_tokens", in->block_tokens);
    kvt_json_u64(&w, "block_bytes_exact", exact);
    kvt_json_u64(&w, "payload_bytes", payload);
    kvt_json_double(&w, "scale", (double)payload / (double)exact);
    kvt_json_u64(&w, "requests", r->requests);
    kvt_json_u64(&w, "input_tokens", r->input_tokens);
    kvt_json_u64(&w, "hit_tokens", r->hit_tokens);
    kvt_json_double(&w, "token_hit_rate", r->token_hit_rate);
    kvt_json_u64(&w, "put_blocks", r->put_blocks);
    kvt_json_u64(&w, "bytes_moved", r->bytes_moved);
    kvt_json_double(&w, "wall_s", r->wall_s);
    kvt_json_double(&w, "GBps", r->GBps);
    kvt_json_begin_array(&w, "tiers");

    kvt_table_t tb;
    kvt_table_init(&tb, 9);
    for (size_t k = 2; k < tb.ncols; k++) {
        tb.right[k] = true;
    }
    static const char *const h[] = {"tier", "backend", "capacity blocks", "hit tokens",
                                    "blocks served", "puts", "demotions", "promotions",
                                    "GB read"};
    for (size_t k = 0; k < tb.ncols; k++) {
        kvt_table_cell(&tb, "%s", h[k]);
    }
    for (size_t i = 0; i < n; i++) {
        const kvt_store_tier_stats_t *st = &s->tiers[i];
        double share = r->input_tokens ? (double)r->hit_tokens_tier[i] / (double)r->input_tokens
                                       : 0;
        char b[40];
        kvt_json_begin_object(&w, NULL);
        kvt_json_str(&w, "tier", t[i].desc->name);
        kvt_json_str(&w, "backend", kvt_tier_kind_name(t[i].backend));
        kvt_json_u64(&w, "capacity_blocks", st->capacity_blocks);
        kvt_json_u64(&w, "hit_blocks", r->hit_blocks[i]);
        kvt_json_u64(&w, "hit_tokens", r->hit_tokens_tier[i]);
        kvt_json_double(&w, "token_share", share);
        kvt_json_u64(&w, "puts", st->puts);
        kvt_json_u64(&w, "demotions", st->demotions);
        kvt_json_u64(&w, "promotions", st->promotions);
        kvt_json_u64(&w, "drops", st->drops);
        kvt_json_u64(&w, "bytes_read", st->bytes_read);
        kvt_json_u64(&w, "bytes_written", st->bytes_written);
        kvt_json_u64(&w, "errors", st->errors);
        kvt_json_end_object(&w);
        kvt_table_cell(&tb, "%s", t[i].desc->name);
        kvt_table_cell(&tb, "%s%s", kvt_tier_kind_name(t[i].backend),
                       t[i].stand_in ? " (stand-in)" : "");
        kvt_table_cell(&tb, "%s", kvt_fmt_count(b, sizeof(b), st->capacity_blocks));
        kvt_table_cell(&tb, "%.2f%%", 100 * share);
        kvt_table_cell(&tb, "%s", kvt_fmt_count(b, sizeof(b), r->hit_blocks[i]));
        kvt_table_cell(&tb, "%s", kvt_fmt_count(b, sizeof(b), st->puts));
        kvt_table_cell(&tb, "%s", kvt_fmt_count(b, sizeof(b), st->demotions));
        kvt_table_cell(&tb, "%s", kvt_fmt_count(b, sizeof(b), st->promotions));
        kvt_table_cell(&tb, "%.2f", (double)st->bytes_read / 1e9);
    }
    kvt_json_end_array(&w);
    kvt_json_end_object(&w);
    if (c->json) {
        *rc = kvt_cli_print_json(&w);
    } else {
        kvt_json_discard(&w);
        char b[3][40];
        printf("%s: %s requests replayed, %s input tokens, %u tokens per block\n", in->origin,
               kvt_fmt_count(b[0], 40, r->requests), kvt_fmt_count(b[1], 40, r->input_tokens),
               in->block_tokens);
        printf("node %s, model %s: %s per block, replayed with %s payloads (x%.4g, to fit this "
               "machine; capacities in blocks are the node's), policy %s\n",
               node->name, model, kvt_fmt_bytes(b[0], 40, exact), kvt_fmt_bytes(b[1], 40, payload),
               (double)payload / (double)exact, policy);
        printf("hbm is stood in for by a dram tier of its capacity; the pool tier has no backend "
               "and is left out\n\n");
        kvt_table_print(&tb, stdout, "  ");
        printf("\n  token hit rate %.2f%%; %s moved in %.2f s: %.2f GB/s\n",
               100 * r->token_hit_rate, kvt_fmt_bytes(b[2], 40, r->bytes_moved), r->wall_s,
               r->GBps);
    }
    kvt_table_free(&tb);
}

int kvt_bench_replay(const kvt_bench_replay_cli_t *c)
{
    kvt_node_desc_t node;
    kvt_model_t *model = NULL;
    kvt_sizing_t *sizing = NULL;
    kvt_trace_t *trace = NULL;
    kvt_store_t *store = NULL;
    kvt_error_t err;
    kvt_status_t st;
    int rc = KVT_EXIT_OK;
    const char *nodename = c->node != NULL ? c->node : "h100-node";
    const char *policy = c->policy != NULL ? c->policy : "lru";

    memset(&node, 0, sizeof(node));
    st = kvt_cli_load_node(nodename, &node, &err);
    const char *mname = c->model != NULL ? c->model : node.model;
    if (st == KVT_OK) {
        st = kvt_model_load_catalog(mname, &model, &err);
    }
    if (st == KVT_OK) {
        st = kvt_trace_load(c->trace, c->format, 0, &trace, &err);
    }
    const kvt_trace_info_t *in = st == KVT_OK ? kvt_trace_info(trace) : NULL;
    if (st == KVT_OK) {
        kvt_size_opts_t so;
        kvt_size_opts_init(&so);
        so.block_tokens = in->block_tokens;
        st = kvt_size_compute(model, &so, &sizing, &err);
    }
    if (st != KVT_OK) {
        kvt_cli_error(V, "%s", err.message);
        rc = kvt_cli_exit_for(st);
        goto out;
    }
    uint64_t exact = sizing->kv_bytes_per_token * in->block_tokens;

    kvt_sys_scratch_t scratch;
    char why[512];
    if (!kvt_sys_scratch_make(c->dir, &scratch, why, sizeof(why))) {
        kvt_cli_error(V, "--replay: %s", why);
        rc = KVT_EXIT_FAIL;
        goto out;
    }
    rtier_t t[KVT_MAX_TIERS];
    size_t n = 0;
    for (uint32_t i = 0; i < node.ntiers; i++) {
        const kvt_tier_desc_t *d = &node.tiers[i];
        if (d->kind == KVT_TIER_POOL) {
            continue;
        }
        rtier_t *x = &t[n++];
        memset(x, 0, sizeof(*x));
        x->desc = d;
        x->backend = d->kind == KVT_TIER_HBM ? KVT_TIER_DRAM : d->kind;
        x->stand_in = d->kind == KVT_TIER_HBM;
        x->blocks = exact ? d->capacity_bytes / exact : 0;
        x->blocks = x->blocks < in->blocks ? x->blocks : in->blocks;
        x->blocks = x->blocks < 1 ? 1 : x->blocks;
        snprintf(x->dir, sizeof(x->dir), "%.4000s/%u-%s", scratch.path, i, d->name);
    }
    uint64_t payload = scaled_payload(exact, t, n, in, scratch.path);
    kvt_tier_config_t cfg[KVT_MAX_TIERS];
    uint64_t budget[KVT_MAX_TIERS];
    for (size_t i = 0; i < n; i++) {
        kvt_tier_config_init(&cfg[i], t[i].backend);
        /* room for the node's blocks plus the tier's own overheads (a descriptor sector, slot
           size classes up to 20 %, a compaction spare): the store is then capped at exactly the
           node's blocks (tier_blocks), so it places as the node replay does */
        uint64_t rec = round4k(payload + KVT_BLOCK_HEADER_BYTES) + 4096;
        cfg[i].capacity_bytes = t[i].blocks * rec / 4 * 5 + 2 * cfg[i].segment_bytes;
        budget[i] = t[i].blocks;
        cfg[i].max_record_bytes = round4k(payload + KVT_BLOCK_HEADER_BYTES);
        cfg[i].dir = storage(t[i].backend) ? t[i].dir : NULL;
        char pwhy[512];
        if (kvt_tier_probe(&cfg[i], pwhy, sizeof(pwhy)) != KVT_OK) {
            kvt_cli_error(V, "%s: unavailable: %s", t[i].desc->name, pwhy);
            rc = KVT_EXIT_FAIL;
            goto out_scratch;
        }
    }
    kvt_store_opts_t so;
    kvt_store_opts_init(&so);
    so.tiers = cfg;
    so.ntiers = (uint32_t)n;
    so.policy = policy;
    so.block_tokens = in->block_tokens;
    so.block_bytes = payload;
    so.tier_blocks = budget;
    st = kvt_store_create(&so, &store, &err);
    if (st != KVT_OK) {
        kvt_cli_error(V, "%s", err.message);
        rc = st == KVT_ERR_INVALID ? KVT_EXIT_USAGE : KVT_EXIT_FAIL;
        goto out_scratch;
    }
    kvt_store_replay_opts_t ro;
    kvt_store_replay_opts_init(&ro);
    ro.max_requests = c->requests;
    kvt_store_replay_result_t r;
    st = kvt_store_replay(store, trace, &ro, &r, &err);
    if (st != KVT_OK) {
        kvt_cli_error(V, "%s", err.message);
        rc = KVT_EXIT_FAIL;
        goto out_store;
    }
    kvt_store_stats_t stats;
    kvt_store_stats(store, &stats);
    report(c, in, &node, mname, exact, payload, policy, t, n, &r, &stats, &rc);
out_store:
    kvt_store_destroy(store);
out_scratch:
    kvt_sys_scratch_remove(&scratch);
out:
    kvt_trace_destroy(trace);
    kvt_sizing_destroy(sizing);
    kvt_model_destroy(model);
    return rc;
}
