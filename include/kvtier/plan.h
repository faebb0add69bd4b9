/*
 * kvtier capacity planning: how many tokens and sequences fit in a GPU's KV budget.
 *
 * budget per GPU = floor(hbm_bytes x mem_util) - weights per GPU - activation reserve
 * weights per GPU = ceil(params x bits / 8 / (TP x PP))   (or the weights size given)
 * tokens per GPU  = floor(budget / gpu_kv_bytes_per_token)
 * sequences       = floor(budget / gpu_total_sequence_bytes_paged) x sequence_groups
 * naive sequences = floor(budget / naive sequence bytes per GPU), the textbook estimate divided
 *                   evenly over TP x PP GPUs.
 */
#ifndef KVTIER_PLAN_H
#define KVTIER_PLAN_H

#include <kvtier/gpu.h>
#include <kvtier/size.h>

KVT_BEGIN_DECLS

typedef struct kvt_plan_opts {
    size_t opts_size;                  /* set by kvt_plan_opts_init() */
    const kvt_gpu_spec_t *gpu;         /* required */
    double mem_util;                   /* fraction of HBM the engine may use, default 0.90 */
    uint64_t activation_reserve_bytes; /* per GPU, default 2 GiB */
    uint64_t weights_bytes;            /* whole model; 0 = params x weights dtype */
    double params;                     /* parameter count; 0 = the catalog's */
    kvt_dtype_t weights_dtype;         /* AUTO = the checkpoint's native type */
} kvt_plan_opts_t;

KVT_API void kvt_plan_opts_init(kvt_plan_opts_t *opts);

typedef struct kvt_plan {
    const kvt_gpu_spec_t *gpu;
    uint32_t gpus;                   /* TP x PP */
    double mem_util;
    kvt_dtype_t weights_dtype;
    uint64_t weights_bytes;          /* whole model */
    uint64_t weights_bytes_per_gpu;
    uint64_t activation_reserve_bytes;
    uint64_t usable_bytes_per_gpu;   /* floor(hbm x mem_util) */
    bool fits;                       /* weights + reserve leave a positive KV budget */
    uint64_t kv_budget_bytes_per_gpu;
    uint64_t tokens_per_gpu;
    uint64_t max_sequences;          /* per replica, at the sizing's context */
    uint64_t naive_max_sequences;
    double batch_ratio;              /* max_sequences / naive_max_sequences (0 if naive is 0) */
} kvt_plan_t;

/*
 * Plan capacity for sizing (computed for model) on opts->gpu. Fails with KVT_ERR_INVALID when
 * the weights size cannot be known (no parameter count: give params or weights_bytes). A model
 * that does not fit is not an error: plan->fits is false and the budget 0.
 */
KVT_API kvt_status_t kvt_plan_compute(const kvt_model_t *model, const kvt_sizing_t *sizing,
                                      const kvt_plan_opts_t *opts, kvt_plan_t *plan_p,
                                      kvt_error_t *err);

KVT_END_DECLS

#endif
