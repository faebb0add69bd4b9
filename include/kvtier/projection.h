/*
 * kvtier TTFT projection: what a replay's hits mean for time to first token.
 *
 * Given each request's arrival, its prompt length and how many of its prefix tokens were served
 * from each tier, the projection computes per request: the prefill time of the missed suffix from
 * a roofline of the GPU calibrated on a measured H100 prefill; the fetch time of the hits from
 * their tiers (pipelined with the prefill layer by layer where the tier allows); and the queueing
 * delay at the node's instances (FIFO, each request to the instance that frees first). It reports
 * the TTFT distribution, the prefill GPU time spent and saved, and the throughput.
 */
#ifndef KVTIER_PROJECTION_H
#define KVTIER_PROJECTION_H

#include <kvtier/model.h>
#include <kvtier/node.h>

KVT_BEGIN_DECLS

typedef struct kvt_proj_request {
    uint64_t t_us;                          /* arrival */
    uint32_t input_tokens;
    uint32_t hit_tokens[KVT_MAX_TIERS];     /* prefix tokens served from each tier (sum <= input) */
} kvt_proj_request_t;

typedef struct kvt_proj_opts {
    size_t opts_size;              /* set by kvt_proj_opts_init() */
    const kvt_model_t *model;      /* required: parameters, layers, heads for the FLOP count */
    const kvt_node_desc_t *node;   /* required: GPU, instances, tier bandwidths and latencies */
    uint64_t kv_bytes_per_token;   /* required: bytes one token's KV moves from a tier */
    double efficiency;             /* fraction of dense bf16 peak achieved, default 0.613 */
    double overhead_s;             /* fixed cost per prefill, default 0.020 s */
    double *ttft_sorted_out;       /* optional, n doubles: every request's TTFT, ascending */
    double usd_per_gpu_hour;       /* price for the cost figure; 0 = the GPU catalog's */
} kvt_proj_opts_t;

KVT_API void kvt_proj_opts_init(kvt_proj_opts_t *opts);

typedef struct kvt_proj_result {
    uint64_t requests;
    double ttft_mean_s, ttft_p50_s, ttft_p90_s, ttft_p99_s;
    double queue_mean_s;              /* mean wait before an instance starts the request */
    double prefill_gpu_s;             /* GPU time spent on prefill (compute of missed tokens) */
    double prefill_gpu_s_no_cache;    /* the same if nothing were cached */
    double fetch_s;                   /* total time spent fetching hits (not overlapped or not) */
    double busy_s;                    /* instance time: prefill + exposed fetch */
    double makespan_s;                /* first arrival to last completion */
    double tokens_per_s;              /* input tokens / makespan */
    double utilization;               /* busy / (instances x makespan) */
    double usd_per_mtok;              /* busy GPU time x price per million input tokens */
} kvt_proj_result_t;

/* Prefill FLOPs for n new tokens after c cached tokens: 2 P_active n + 4 L H d (n c + n^2 / 2). */
KVT_API double kvt_prefill_flops(const kvt_model_t *model, uint64_t new_tokens,
                                 uint64_t cached_tokens);

/* Seconds to fetch `bytes` from tier t into one instance's GPU: its latency plus the bytes at its
 * read bandwidth (one fetch, not pipelined). */
KVT_API double kvt_tier_fetch_seconds(const kvt_tier_desc_t *t, double bytes);

/* Seconds a GPU takes to prefill `tokens` new tokens of model from scratch, at the projection's
 * default efficiency (kvt_proj_opts_init) of the GPU's bf16 peak: the recompute cost a cached
 * block saves. */
KVT_API double kvt_recompute_seconds(const kvt_model_t *model, const kvt_gpu_spec_t *gpu,
                                     uint64_t tokens);

/* Project reqs (in arrival order). Fails with KVT_ERR_INVALID naming a missing option. */
KVT_API kvt_status_t kvt_project(const kvt_proj_request_t *reqs, size_t n,
                                 const kvt_proj_opts_t *opts, kvt_proj_result_t *result_p,
                                 kvt_error_t *err);

KVT_END_DECLS

#endif
