/*
 * TTFT projection: prefill cost, fetch cost and FIFO queueing of a replay's requests.
 *
 * PREFILL COST. A prefill of n new tokens after c cached ones costs
 *
 *   FLOPs(n, c) = 2 P n + sum over softmax-attention layers of 2 H (d_qk + d_v) A_layer(n, c)
 *
 * with P the parameters a token passes through (params_active for MoE, else params_total), H the
 * query heads, d_qk = d_v = head_dim (MLA: d_qk = qk_nope + qk_rope, d_v = v_head_dim; the prefill
 * runs MLA in its uncompressed form), and A the query-key pairs the n new tokens attend, taking
 * token positions as continuous (x from c to c + n, each attending its earlier context):
 *
 *   full:      A = integral_c^{c+n} x dx            = n c + n^2 / 2
 *   sliding W: A = integral_c^{c+n} min(x, W) dx    = n W                       if c >= W
 *                                                   = m c + m^2/2 + (n - m) W   otherwise,
 *                                                     m = min(n, W - c) (tokens before the
 *                                                     window saturates)
 *   chunked W: A = integral_c^{c+n} (x mod W) dx    = G(c + n) - G(c),
 *                                                     G(x) = floor(x/W) W^2/2 + (x mod W)^2/2
 *   linear/Mamba: no attention term (their per-token cost is inside 2 P n).
 *
 * With windows no smaller than c + n all three reduce to the full term, so 2 H (d + d) A = 4 H d
 * (n c + n^2/2), the textbook count. The discrete sum over tokens of min(c + i + 1, W) differs
 * from the sliding integral by less than n/2 pairs (the "+1" of the diagonal), negligible beside
 * n W. The chunked form is the exact chunk-local context (a token at position p attends p mod W
 * earlier tokens of its own chunk), not a cap at W, which would count up to twice the pairs.
 * A chunked or sliding layer with window 0 is treated as full.
 *
 * 2 P n counts every weight once per token as a multiply-add, the lm_head and the embedding
 * table included (together 13% of an 8B model with a 128k vocabulary; the embedding is a lookup
 * and an engine needs only the last token's logits); the calibration absorbs such constant
 * factors into the efficiency. DeepSeek-V3.2's sparse indexer (top-k attention) is treated as dense
 * MLA.
 *
 * CALIBRATION. t = overhead + FLOPs / (efficiency x peak), peak = the GPU's dense bf16 rate.
 * Measured on one H100 SXM (989.4 TFLOP/s dense bf16), Llama-3-8B shape, bf16, c = 0
 * (research/device-probe.md): 512 tokens 33.8 ms, 2048 64.1 ms, 8192 266.1 ms, 16384 590.5 ms.
 * For llama-3.1-8b (8.03e9 parameters, 32 layers, 32 heads, head_dim 128) FLOPs(n, 0) =
 * 1.606e10 n + 262144 n^2:
 *
 *   FLOPs(512)  = 8.22272e12 + 6.8719476736e10  = 8.291439476736e12
 *   FLOPs(8192) = 1.3156352e14 + 1.7592186044416e13 = 1.49155706044416e14
 *
 * Fitting the line through these two points:
 *   efficiency x peak = (1.49155706e14 - 8.29143948e12) / (0.2661 - 0.0338 s)
 *                     = 1.40864267e14 / 0.2323 = 6.0639e14 FLOP/s -> efficiency 0.6129
 *   overhead          = 0.0338 - 8.29143948e12 / 6.0639e14 = 0.0338 - 0.01367 = 0.0201 s
 * rounded to efficiency 0.613 (6.065022e14 FLOP/s) and overhead 0.020 s. The model then gives:
 *
 *   tokens  FLOPs              model      measured   residual
 *     512   8.291439e12       33.67 ms    33.8 ms    -0.4%   (fit point)
 *    2048   3.399039e13       76.04 ms    64.1 ms   +18.6%
 *    8192   1.491557e14      265.93 ms   266.1 ms    -0.1%   (fit point)
 *   16384   3.334958e14      569.87 ms   590.5 ms    -3.5%
 *
 * The measurement bends more than a line in FLOPs can: 512 -> 2048 tokens cost 19.7 us per added
 * token, 2048 -> 8192 33 us. Small prompts run below the fitted efficiency-plus-overhead, and at
 * 16k the attention kernels run below the matmul efficiency. On other GPUs the same efficiency
 * and overhead are an assumption (see docs/projection.md).
 *
 * FETCH AND PIPELINING. Tier 0 (HBM) hits cost nothing. A fetch of h tokens from tier k >= 1
 * costs latency_k + h x kv_bytes_per_token / read_k. Fetches from layerwise tiers (total F_l) run
 * as a two-stage pipeline with the prefill over the model's L layers: layer i's KV loads while
 * layer i - 1 computes, so the first layer's load (or the last layer's compute) cannot overlap:
 *
 *   service = F_b + max(F_l, compute) + min(F_l, compute) / L
 *
 * (L equal stages of F_l / L and compute / L). Fetches from other tiers (total F_b) complete
 * before the prefill starts. compute includes the fixed overhead; a request whose prompt is
 * wholly cached still pays it (FLOPs(0, c) = 0): the engine runs one forward step to sample
 * the first token (strictly, that step recomputes the last prompt token; its cost is below the
 * overhead's accuracy).
 *
 * QUEUEING. The node's instances are identical servers fed FIFO in arrival order: each request
 * starts on the instance that frees first, at max(arrival, free time); TTFT = start - arrival +
 * service. A min-heap of at most min(instances, requests) free times does this in O(n log I).
 * Decode steps and prefill batching are not modelled (docs/projection.md).
 *
 * Percentiles are exact order statistics of a sorted copy: the p-quantile of n values is the
 * value at index ceil(p n) - 1, computed in integers (ceil(k n / 100) for p = k %).
 */
#include <kvtier/projection.h>

#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_EFFICIENCY 0.613
#define DEFAULT_OVERHEAD_S 0.020

void kvt_proj_opts_init(kvt_proj_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->opts_size = sizeof(*opts);
    opts->efficiency = DEFAULT_EFFICIENCY;
    opts->overhead_s = DEFAULT_OVERHEAD_S;
}

/* integral_0^x (y mod w) dy */
static double chunk_integral(uint64_t x, uint64_t w)
{
    double chunks = (double)(x / w), r = (double)(x % w), wd = (double)w;
    return chunks * wd * wd / 2.0 + r * r / 2.0;
}

/* Query-key pairs the n new tokens attend in one layer (see the design comment). */
static double attended_pairs(const kvt_layer_desc_t *l, uint64_t n, uint64_t c)
{
    double nd = (double)n, cd = (double)c;
    double full = nd * cd + nd * nd / 2.0;

    switch (l->kind) {
    case KVT_LAYER_FULL:
        return full;
    case KVT_LAYER_SLIDING: {
        uint64_t w = l->window;
        if (w == 0) {
            return full;
        }
        if (c >= w) {
            return nd * (double)w;
        }
        uint64_t m = w - c < n ? w - c : n;
        double md = (double)m;
        return md * cd + md * md / 2.0 + (double)(n - m) * (double)w;
    }
    case KVT_LAYER_CHUNKED:
        if (l->window == 0) {
            return full;
        }
        return chunk_integral(c + n, l->window) - chunk_integral(c, l->window);
    case KVT_LAYER_LINEAR:
    case KVT_LAYER_MAMBA:
        break;
    }
    return 0.0;
}

double kvt_prefill_flops(const kvt_model_t *model, uint64_t new_tokens, uint64_t cached_tokens)
{
    if (model == NULL) {
        return 0.0;
    }
    const kvt_model_info_t *in = kvt_model_info(model);
    double params = in->params_active != 0 ? in->params_active : in->params_total;
    double dqk = in->head_dim, dv = in->head_dim;
    if (in->attn_kind == KVT_ATTN_MLA) {
        dqk = (double)in->qk_nope_head_dim + (double)in->qk_rope_head_dim;
        dv = in->v_head_dim;
    }
    /* QK^T and AV: one multiply-add (2 FLOPs) per head, pair and element of each */
    double per_pair = 2.0 * (double)in->num_heads * (dqk + dv);
    double attn = 0.0;
    for (uint32_t i = 0; i < in->num_layers; i++) {
        attn += per_pair * attended_pairs(kvt_model_layer(model, i), new_tokens, cached_tokens);
    }
    return 2.0 * params * (double)new_tokens + attn;
}

/* Options merged with the defaults, and the node checked: what the projection needs. */
static kvt_status_t resolve_opts(const kvt_proj_opts_t *user, kvt_proj_opts_t *o, kvt_error_t *err)
{
    if (user == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "projection options: missing (kvt_proj_opts_init, then set model, "
                             "node and kv_bytes_per_token)");
    }
    kvt_proj_opts_init(o);
    if (user->opts_size == 0 || user->opts_size > sizeof(*o)) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "projection options: opts_size %zu is not a known layout "
                             "(call kvt_proj_opts_init)",
                             user->opts_size);
    }
    memcpy(o, user, user->opts_size);
    if (o->model == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "projection options: model: required");
    }
    const kvt_model_info_t *in = kvt_model_info(o->model);
    if (in->params_active == 0 && in->params_total == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "projection options: model: '%s' has no parameter count (only "
                             "catalog models carry one), so its prefill cannot be costed",
                             in->name);
    }
    if (o->node == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "projection options: node: required");
    }
    if (o->kv_bytes_per_token == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "projection options: kv_bytes_per_token: required (non-zero)");
    }
    if (!(o->efficiency > 0 && o->efficiency <= 1)) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "projection options: efficiency: %g is not in (0, 1]", o->efficiency);
    }
    if (!(o->overhead_s >= 0) || !isfinite(o->overhead_s)) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "projection options: overhead_s: %g is not a finite time >= 0",
                             o->overhead_s);
    }
    const kvt_node_desc_t *node = o->node;
    if (node->gpu == NULL || !(node->gpu->bf16_tflops > 0)) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "node '%s': gpu: required, with a positive bf16_tflops", node->name);
    }
    if (node->instances < 1) {
        return kvt_error_set(err, KVT_ERR_INVALID, "node '%s': instances: must be at least 1",
                             node->name);
    }
    if (node->ntiers < 1 || node->ntiers > KVT_MAX_TIERS) {
        return kvt_error_set(err, KVT_ERR_INVALID, "node '%s': ntiers: %u is not in 1..%d",
                             node->name, node->ntiers, KVT_MAX_TIERS);
    }
    for (uint32_t k = 1; k < node->ntiers; k++) {
        const kvt_tier_desc_t *t = &node->tiers[k];
        if (!(t->read_GBps > 0) || !isfinite(t->read_GBps)) {
            return kvt_error_set(err, KVT_ERR_INVALID,
                                 "node '%s': tiers[%u].read_GBps: %g is not positive", node->name,
                                 k, t->read_GBps);
        }
        if (!(t->latency_us >= 0) || !isfinite(t->latency_us)) {
            return kvt_error_set(err, KVT_ERR_INVALID,
                                 "node '%s': tiers[%u].latency_us: %g is not a finite time >= 0",
                                 node->name, k, t->latency_us);
        }
    }
    return KVT_OK;
}

static kvt_status_t check_requests(const kvt_proj_request_t *reqs, size_t n,
                                   const kvt_node_desc_t *node, kvt_error_t *err)
{
    if (n > 0 && reqs == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "projection: %zu requests but reqs is NULL", n);
    }
    for (size_t i = 0; i < n; i++) {
        const kvt_proj_request_t *r = &reqs[i];
        if (i > 0 && r->t_us < reqs[i - 1].t_us) {
            return kvt_error_set(err, KVT_ERR_INVALID,
                                 "request %zu: t_us %llu is before request %zu's %llu (requests "
                                 "must be in arrival order)",
                                 i, (unsigned long long)r->t_us, i - 1,
                                 (unsigned long long)reqs[i - 1].t_us);
        }
        uint64_t hits = 0;
        for (uint32_t k = 0; k < KVT_MAX_TIERS; k++) {
            if (k >= node->ntiers && r->hit_tokens[k] != 0) {
                return kvt_error_set(err, KVT_ERR_INVALID,
                                     "request %zu: %u hit tokens in tier %u, but node '%s' has "
                                     "%u tiers",
                                     i, r->hit_tokens[k], k, node->name, node->ntiers);
            }
            hits += r->hit_tokens[k];
        }
        if (hits > r->input_tokens) {
            return kvt_error_set(err, KVT_ERR_INVALID,
                                 "request %zu: hit tokens (%llu) exceed input_tokens (%u)", i,
                                 (unsigned long long)hits, r->input_tokens);
        }
    }
    return KVT_OK;
}

/* Replace the heap's minimum with v and restore the heap. */
static void heap_replace_min(double *h, size_t m, double v)
{
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        double sv = v;
        if (l < m && h[l] < sv) {
            s = l;
            sv = h[l];
        }
        if (r < m && h[r] < sv) {
            s = r;
        }
        if (s == i) {
            break;
        }
        h[i] = h[s];
        i = s;
    }
    h[i] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value at index ceil(pct / 100 x n) - 1 of sorted[0..n), n >= 1. */
static double quantile(const double *sorted, size_t n, unsigned pct)
{
    uint64_t rank = ((uint64_t)pct * n + 99) / 100;
    return sorted[rank - 1];
}

double kvt_tier_fetch_seconds(const kvt_tier_desc_t *t, double bytes)
{
    return t->latency_us * 1e-6 + bytes / (t->read_GBps * 1e9);
}

double kvt_recompute_seconds(const kvt_model_t *model, const kvt_gpu_spec_t *gpu, uint64_t tokens)
{
    kvt_proj_opts_t po;
    kvt_proj_opts_init(&po);
    return kvt_prefill_flops(model, tokens, 0) / (po.efficiency * gpu->bf16_tflops * 1e12);
}

kvt_status_t kvt_project(const kvt_proj_request_t *reqs, size_t n, const kvt_proj_opts_t *opts,
                         kvt_proj_result_t *result_p, kvt_error_t *err)
{
    kvt_proj_opts_t o;
    kvt_status_t st;

    if ((st = resolve_opts(opts, &o, err)) != KVT_OK) {
        return st;
    }
    if (result_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "projection: result_p: required");
    }
    const kvt_node_desc_t *node = o.node;
    if ((st = check_requests(reqs, n, node, err)) != KVT_OK) {
        return st;
    }

    kvt_proj_result_t r;
    memset(&r, 0, sizeof(r));
    r.requests = n;
    if (n == 0) {
        *result_p = r;
        return KVT_OK;
    }

    size_t servers = node->instances < n ? node->instances : n;
    double *ttft = malloc(n * sizeof(*ttft));
    double *free_at = calloc(servers, sizeof(*free_at)); /* all free at the first arrival */
    if (ttft == NULL || free_at == NULL) {
        free(ttft);
        free(free_at);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "projection: %zu requests", n);
    }

    const double rate = o.efficiency * node->gpu->bf16_tflops * 1e12;
    const double layers = kvt_model_info(o.model)->num_layers;
    const double kvb = (double)o.kv_bytes_per_token;
    const uint64_t t0 = reqs[0].t_us;
    double ttft_sum = 0, wait_sum = 0, end_max = 0, input_sum = 0;

    for (size_t i = 0; i < n; i++) {
        const kvt_proj_request_t *q = &reqs[i];
        uint64_t cached = 0;
        double f_layer = 0, f_block = 0;
        for (uint32_t k = 0; k < node->ntiers; k++) {
            cached += q->hit_tokens[k];
            if (k == 0 || q->hit_tokens[k] == 0) {
                continue;
            }
            const kvt_tier_desc_t *t = &node->tiers[k];
            double f = kvt_tier_fetch_seconds(t, (double)q->hit_tokens[k] * kvb);
            if (t->layerwise) {
                f_layer += f;
            } else {
                f_block += f;
            }
        }
        uint64_t fresh = q->input_tokens - cached;
        double compute = o.overhead_s + kvt_prefill_flops(o.model, fresh, cached) / rate;
        double hi = f_layer > compute ? f_layer : compute;
        double lo = f_layer > compute ? compute : f_layer;
        double service = f_block + hi + lo / layers;

        double arrival = (double)(q->t_us - t0) / 1e6;
        double start = free_at[0] > arrival ? free_at[0] : arrival;
        double end = start + service;
        heap_replace_min(free_at, servers, end);

        ttft[i] = (start - arrival) + service;
        ttft_sum += ttft[i];
        wait_sum += start - arrival;
        end_max = end > end_max ? end : end_max;
        input_sum += q->input_tokens;
        r.prefill_gpu_s += compute;
        r.prefill_gpu_s_no_cache +=
            o.overhead_s + kvt_prefill_flops(o.model, q->input_tokens, 0) / rate;
        r.fetch_s += f_layer + f_block;
        r.busy_s += service;
    }

    qsort(ttft, n, sizeof(*ttft), cmp_double);
    if (o.ttft_sorted_out != NULL) {
        memcpy(o.ttft_sorted_out, ttft, n * sizeof(*ttft));
    }
    r.ttft_mean_s = ttft_sum / (double)n;
    r.ttft_p50_s = quantile(ttft, n, 50);
    r.ttft_p90_s = quantile(ttft, n, 90);
    r.ttft_p99_s = quantile(ttft, n, 99);
    r.queue_mean_s = wait_sum / (double)n;
    r.makespan_s = end_max;
    if (end_max > 0) {
        r.tokens_per_s = input_sum / end_max;
        r.utilization = r.busy_s / ((double)node->instances * end_max);
    }
    /* cost: the GPU time the prefills kept an instance busy, at the hourly price, per million
     * input tokens (idle time is not charged: a fleet is sized to its load) */
    double price = o.usd_per_gpu_hour > 0 ? o.usd_per_gpu_hour : node->gpu->usd_per_hour;
    if (input_sum > 0) {
        r.usd_per_mtok = r.busy_s / 3600 * price / (input_sum / 1e6);
    }
    free(ttft);
    free(free_at);
    *result_p = r;
    return KVT_OK;
}
