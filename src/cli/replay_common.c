/*
 * Node replays for the CLI: a policy replayed on a node's tiers, then the TTFT projection of
 * its hits, and the JSON object scripts read. `kvtier replay --node` and `kvtier demo` both use
 * it, so their figures are the same computation.
 */
#include "cli/replay_common.h"

#include <unistd.h>

kvt_status_t kvt_cli_load_node(const char *name, kvt_node_desc_t *node_p, kvt_error_t *err)
{
    return access(name, R_OK) == 0 ? kvt_node_load(name, node_p, err)
                                   : kvt_node_builtin(name, node_p, err);
}

/* opts as the caller set them (policy, node, model, kv_bytes_per_token, tiers, prefetch,
 * hold_cost, progress); per-request records are switched on for the projection. */
kvt_status_t kvt_cli_node_run(const kvt_trace_t *trace, const kvt_node_replay_opts_t *opts,
                              double *ttft_sorted, kvt_node_replay_result_t *r,
                              kvt_proj_result_t *pr, kvt_error_t *err)
{
    kvt_node_replay_opts_t o = *opts;
    kvt_proj_opts_t po;
    kvt_status_t st;
    o.record = true;
    o.progress_arg = (void *)o.policy;
    if ((st = kvt_node_replay_run(trace, &o, r, err)) != KVT_OK) {
        return st;
    }
    kvt_proj_opts_init(&po);
    po.model = o.model;
    po.node = o.node;
    po.kv_bytes_per_token = o.kv_bytes_per_token;
    po.ttft_sorted_out = ttft_sorted;
    st = kvt_project(r->requests, r->total.requests, &po, pr, err);
    kvt_node_replay_result_release(r);
    return st;
}

void kvt_cli_json_node_run(kvt_json_t *w, const char *label, const kvt_node_desc_t *node,
                           const kvt_node_replay_result_t *r, const kvt_proj_result_t *pr)
{
    kvt_json_begin_object(w, NULL);
    kvt_json_str(w, "policy", label);
    kvt_json_u64(w, "requests", r->total.requests);
    kvt_json_u64(w, "input_tokens", r->total.input_tokens);
    kvt_json_u64(w, "hit_tokens", r->total.hit_tokens);
    kvt_json_double(w, "token_hit_rate", r->total.token_hit_rate);
    kvt_json_double(w, "block_hit_rate", r->total.block_hit_rate);
    kvt_json_begin_array(w, "tiers");
    for (uint32_t k = 0; k < r->ntiers; k++) {
        kvt_json_begin_object(w, NULL);
        kvt_json_str(w, "tier", node->tiers[k].name);
        kvt_json_u64(w, "capacity_blocks", r->tiers[k].capacity_blocks);
        kvt_json_u64(w, "hit_tokens", r->tiers[k].hit_tokens);
        kvt_json_u64(w, "hit_blocks", r->tiers[k].hit_blocks);
        kvt_json_u64(w, "insertions", r->tiers[k].insertions);
        kvt_json_u64(w, "evictions", r->tiers[k].evictions);
        kvt_json_double(w, "fetch_s", r->tiers[k].fetch_s);
        kvt_json_double(w, "recompute_s", r->tiers[k].recompute_s);
        kvt_json_bool(w, "skipped", r->tiers[k].skipped);
        kvt_json_end_object(w);
    }
    kvt_json_end_array(w);
    if (r->prefetch) {
        kvt_json_begin_object(w, "prefetch");
        kvt_json_u64(w, "jobs", r->pf.jobs);
        kvt_json_u64(w, "blocks", r->pf.blocks);
        kvt_json_u64(w, "bytes", r->pf.bytes);
        kvt_json_u64(w, "useful", r->pf.useful);
        kvt_json_u64(w, "late", r->pf.late);
        kvt_json_u64(w, "wasted", r->pf.wasted);
        kvt_json_end_object(w);
    }
    kvt_json_begin_object(w, "projection");
    kvt_json_double(w, "ttft_mean_s", pr->ttft_mean_s);
    kvt_json_double(w, "ttft_p50_s", pr->ttft_p50_s);
    kvt_json_double(w, "ttft_p90_s", pr->ttft_p90_s);
    kvt_json_double(w, "ttft_p99_s", pr->ttft_p99_s);
    kvt_json_double(w, "queue_mean_s", pr->queue_mean_s);
    kvt_json_double(w, "prefill_gpu_s", pr->prefill_gpu_s);
    kvt_json_double(w, "prefill_gpu_s_no_cache", pr->prefill_gpu_s_no_cache);
    kvt_json_double(w, "tokens_per_s", pr->tokens_per_s);
    kvt_json_double(w, "utilization", pr->utilization);
    kvt_json_double(w, "usd_per_mtok", pr->usd_per_mtok);
    kvt_json_end_object(w);
    kvt_json_end_object(w);
}

