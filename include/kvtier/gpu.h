/*
 * kvtier GPU catalog: the accelerators capacity planning knows, with datasheet figures.
 */
#ifndef KVTIER_GPU_H
#define KVTIER_GPU_H

#include <kvtier/common.h>

KVT_BEGIN_DECLS

typedef struct kvt_gpu_spec {
    const char *name;         /* slug: "h100-sxm" */
    const char *display;      /* "NVIDIA H100 SXM5 80GB" */
    uint64_t hbm_bytes;       /* memory as the driver reports its total */
    double hbm_GBps;          /* peak memory bandwidth, 1e9 B/s */
    double bf16_tflops;       /* dense (no sparsity) bf16 tensor throughput */
    double host_link_GBps;    /* host link, one direction, 1e9 B/s */
    const char *host_link;    /* "PCIe Gen5 x16" */
    const char *note;         /* where the figures come from */
    double usd_per_hour;      /* indicative on-demand cloud price of one GPU-hour (assumption) */
} kvt_gpu_spec_t;

KVT_API size_t kvt_gpu_count(void);
KVT_API const kvt_gpu_spec_t *kvt_gpu_at(size_t i);
/* By slug, case-insensitive, also accepting a few aliases ("h100" = "h100-sxm"); NULL if unknown. */
KVT_API const kvt_gpu_spec_t *kvt_gpu_find(const char *name);

KVT_END_DECLS

#endif
