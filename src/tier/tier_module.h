/*
 * For tier authors: the ops table a backend fills (SPDK's bdev_module.h). Never installed.
 *
 * The core (tier.c) owns the kvt_tier_t and kvt_tier_channel_t wrappers and dispatches through
 * ops; a backend sees only its own context and channel pointers. Every entry is required unless
 * marked optional. A backend translates errno into kvt_status_t at its boundary and makes its
 * system calls through kvt_sys (common/sysio.h) so tests can inject faults.
 */
#ifndef KVT_TIER_MODULE_H
#define KVT_TIER_MODULE_H

#include <kvtier/tier.h>

#define KVT_TIER_OPS_VERSION 1u

typedef struct kvt_tier_ops {
    uint32_t version; /* KVT_TIER_OPS_VERSION */
    kvt_tier_kind_t kind;
    const char *name;
    /* KVT_OK or KVT_ERR_UNAVAILABLE with a one-line reason; must not leave anything behind. */
    kvt_status_t (*probe)(const kvt_tier_config_t *cfg, char *why, size_t why_len);
    kvt_status_t (*open)(const kvt_tier_config_t *cfg, void **ctx_p, kvt_error_t *err);
    void (*close)(void *ctx);
    kvt_status_t (*channel_open)(void *ctx, void **chan_p);
    void (*channel_close)(void *chan);
    kvt_status_t (*submit)(void *chan, kvt_tier_io_t *io);
    size_t (*poll)(void *chan, size_t min_complete, kvt_tier_io_t **done, size_t max);
    kvt_status_t (*remove)(void *ctx, kvt_key_t key);
    bool (*contains)(void *ctx, kvt_key_t key);
    kvt_status_t (*scan)(void *ctx, kvt_tier_scan_cb_t cb, void *arg);
    void (*info)(void *ctx, kvt_tier_info_t *info); /* fill all but kind and name */
    /* How many records of payload_bytes an empty tier holds: what a policy over this tier may
     * count on, with this backend's headers, slots, alignment and reserve taken into account. */
    uint64_t (*records)(void *ctx, uint64_t payload_bytes);
    /* Optional (NULL: the tier is not host memory, 0 regions): the ranges holding blocks. */
    size_t (*regions)(void *ctx, kvt_tier_region_t *out, size_t max);
    /* Optional (NULL: nothing to pay up front): kvt_tier_prefault -- memory tiers fault every
     * page of their regions in for writing, nvme writes its free space once. */
    kvt_status_t (*prefault)(void *ctx);
} kvt_tier_ops_t;

/* The built-in backends (tier.c's table). */
extern const kvt_tier_ops_t kvt_tier_dram_ops;
extern const kvt_tier_ops_t kvt_tier_cxl_ops;
extern const kvt_tier_ops_t kvt_tier_nvme_ops;
extern const kvt_tier_ops_t kvt_tier_pfs_ops;

#endif
