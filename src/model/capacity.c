/*
 * Capacity planning: what fits in one GPU's KV budget.
 *
 * The budget follows how engines reserve memory (vLLM's gpu_memory_utilization): a fraction of
 * the device's memory, minus the weights this GPU holds, minus a reserve for activations and
 * the CUDA context. Weights come from the parameter count and the weight type (mxfp4 counted at
 * 4.25 bits, its e8m0 scales included) and are split evenly over TP x PP GPUs. Sequences that fit
 * are counted with the exact paged per-sequence size of the most loaded GPU; the naive count uses
 * the textbook size split evenly, which is what a capacity calculator without MLA, windows or
 * linear layers would answer. With data-parallel attention every rank serves its own sequences,
 * so a replica holds TP times the per-GPU count.
 */
#include <kvtier/plan.h>

#include "common/error.h"

#include <math.h>
#include <string.h>

#define DEFAULT_MEM_UTIL 0.90
#define DEFAULT_RESERVE  (2ull << 30)

void kvt_plan_opts_init(kvt_plan_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->opts_size = sizeof(*opts);
    opts->mem_util = DEFAULT_MEM_UTIL;
    opts->activation_reserve_bytes = DEFAULT_RESERVE;
    opts->weights_dtype = KVT_DTYPE_AUTO;
}

kvt_status_t kvt_plan_compute(const kvt_model_t *model, const kvt_sizing_t *sizing,
                              const kvt_plan_opts_t *user, kvt_plan_t *plan_p, kvt_error_t *err)
{
    const kvt_model_info_t *in;
    kvt_plan_opts_t o;
    kvt_plan_t p;

    if (model == NULL || sizing == NULL || user == NULL || plan_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_plan_compute: NULL argument");
    }
    kvt_plan_opts_init(&o);
    if (user->opts_size == 0 || user->opts_size > sizeof(o)) {
        return kvt_error_set(err, KVT_ERR_INVALID, "plan options: unknown opts_size %zu",
                             user->opts_size);
    }
    memcpy(&o, user, user->opts_size);
    if (o.gpu == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "plan options: no GPU given");
    }
    if (!(o.mem_util > 0 && o.mem_util <= 1)) {
        return kvt_error_set(err, KVT_ERR_INVALID, "memory utilization: %g is not in (0, 1]",
                             o.mem_util);
    }
    in = kvt_model_info(model);
    memset(&p, 0, sizeof(p));
    p.gpu = o.gpu;
    p.gpus = sizing->tp * sizing->pp;
    p.mem_util = o.mem_util;
    p.weights_dtype = o.weights_dtype == KVT_DTYPE_AUTO ? in->weights_dtype : o.weights_dtype;
    p.activation_reserve_bytes = o.activation_reserve_bytes;

    if (o.weights_bytes != 0) {
        p.weights_bytes = o.weights_bytes;
    } else {
        double params = o.params != 0 ? o.params : in->params_total;
        if (!(params > 0) || !isfinite(params)) {
            return kvt_error_set(err, KVT_ERR_INVALID,
                                 "%s: the parameter count is unknown: give the weights size or "
                                 "the parameter count",
                                 in->name);
        }
        double bits = kvt_dtype_bits(p.weights_dtype);
        if (p.weights_dtype == KVT_DTYPE_MXFP4) {
            bits += 8.0 / 32.0; /* one e8m0 scale per 32 weights */
        }
        double bytes = ceil(params * bits / 8.0);
        if (bytes >= 1.8e19) {
            return kvt_error_set(err, KVT_ERR_OVERFLOW, "weights size out of range");
        }
        p.weights_bytes = (uint64_t)bytes;
    }
    p.weights_bytes_per_gpu = p.weights_bytes / p.gpus + (p.weights_bytes % p.gpus != 0);
    p.usable_bytes_per_gpu = (uint64_t)floor((double)o.gpu->hbm_bytes * o.mem_util);

    uint64_t need = p.weights_bytes_per_gpu + p.activation_reserve_bytes;
    p.fits = p.usable_bytes_per_gpu > need;
    if (p.fits) {
        p.kv_budget_bytes_per_gpu = p.usable_bytes_per_gpu - need;
        if (sizing->gpu_kv_bytes_per_token != 0) {
            p.tokens_per_gpu = p.kv_budget_bytes_per_gpu / sizing->gpu_kv_bytes_per_token;
        }
        if (sizing->gpu_sequence_bytes_paged != 0) {
            p.max_sequences = p.kv_budget_bytes_per_gpu / sizing->gpu_sequence_bytes_paged *
                              sizing->sequence_groups;
        }
        if (sizing->gpu_naive_sequence_bytes_paged != 0) {
            p.naive_max_sequences =
                p.kv_budget_bytes_per_gpu / sizing->gpu_naive_sequence_bytes_paged;
        }
        if (p.naive_max_sequences != 0) {
            p.batch_ratio = (double)p.max_sequences / (double)p.naive_max_sequences;
        }
    }
    *plan_p = p;
    return KVT_OK;
}
