/*
 * kvtier node descriptions: the memory tiers below one inference instance, for replay and
 * (later) the live store.
 *
 * A node is a GPU type, a number of GPU instances (data-parallel replicas of one model) that
 * share the node's lower tiers, the model they serve, and up to six tiers ordered fastest first:
 * T0 GPU HBM, T1 CPU DRAM, T2 CXL memory, T3 NVMe, T4 an RDMA memory pool across nodes, T5 a
 * parallel filesystem. Bandwidths are what one instance sees when it fetches KV into its GPU:
 * the slower of the medium and the path to the GPU (e.g. DRAM through PCIe).
 */
#ifndef KVTIER_NODE_H
#define KVTIER_NODE_H

#include <kvtier/gpu.h>
#include <kvtier/status.h>

KVT_BEGIN_DECLS

#define KVT_MAX_TIERS 6

typedef enum kvt_tier_kind {
    KVT_TIER_HBM = 0,
    KVT_TIER_DRAM,
    KVT_TIER_CXL,
    KVT_TIER_NVME,
    KVT_TIER_POOL,
    KVT_TIER_PFS,
} kvt_tier_kind_t;

typedef struct kvt_tier_desc {
    kvt_tier_kind_t kind;
    char name[32];           /* as given, e.g. "dram" */
    uint64_t capacity_bytes; /* for T0 with "capacity": "auto": the model's KV budget x gpus */
    double read_GBps;        /* into one instance's GPU, 1e9 B/s */
    double write_GBps;       /* from one instance's GPU */
    double latency_us;       /* added once per fetch from this tier */
    bool layerwise;          /* fetches can be pipelined layer by layer with compute */
    bool prefault;           /* optional, default false: the live store prefaults the tier at
                                open (kvt_tier_config_t.prefault) */
} kvt_tier_desc_t;

typedef struct kvt_node_desc {
    char name[64];
    const kvt_gpu_spec_t *gpu;
    uint32_t instances;      /* GPU instances sharing the tiers (each serves the whole model) */
    char model[64];          /* catalog model, for KV bytes per token and prefill cost */
    uint32_t ntiers;
    kvt_tier_desc_t tiers[KVT_MAX_TIERS]; /* fastest first; tiers[0] is HBM */
} kvt_node_desc_t;

KVT_API const char *kvt_tier_kind_name(kvt_tier_kind_t kind); /* "hbm", "dram", ... */
/* The kind named `name` ("hbm", "dram", "cxl", "nvme", "pool", "pfs"); KVT_ERR_NOT_FOUND else. */
KVT_API kvt_status_t kvt_tier_kind_parse(const char *name, kvt_tier_kind_t *kind_p);

/* The built-in descriptions: "h100-node" (see docs/node.md for every figure and its source). */
KVT_API kvt_status_t kvt_node_builtin(const char *name, kvt_node_desc_t *node_p,
                                      kvt_error_t *err);

/*
 * Read a node description (JSON, format in docs/node.md). Errors name the file and the field:
 * "node.json: tiers[2].read_GBps: must be positive". *node_p is written only on success.
 */
KVT_API kvt_status_t kvt_node_load(const char *path, kvt_node_desc_t *node_p, kvt_error_t *err);

KVT_END_DECLS

#endif
