/*
 * Internal: the one implementation behind the DRAM (T1) and CXL (T2) tiers -- an arena
 * (arena.h) plus a sharded key map and per-thread completion queues. dram.c and cxl.c are thin:
 * a probe, an open that decides the NUMA binding, and an ops table made with
 * KVT_MEM_TIER_OPS. Never installed.
 */
#ifndef KVT_TIER_MEM_TIER_H
#define KVT_TIER_MEM_TIER_H

#include "tier/arena.h"
#include "tier/tier_module.h"

/*
 * Open a memory tier of cfg's capacity, max_record_bytes, hugepages and queue_depth. node >= 0
 * binds the arena to that NUMA node (-1: no binding, first touch decides). binding is a line
 * for info.detail ("bound to node 1 (first CPU-less memory node, ...)"), copied; may be NULL.
 * name prefixes error messages.
 */
kvt_status_t kvt_mem_tier_open(const kvt_tier_config_t *cfg, const char *name, int node,
                               const char *binding, void **ctx_p, kvt_error_t *err);
void kvt_mem_tier_close(void *ctx);
kvt_status_t kvt_mem_tier_channel_open(void *ctx, void **chan_p);
void kvt_mem_tier_channel_close(void *chan);
kvt_status_t kvt_mem_tier_submit(void *chan, kvt_tier_io_t *io);
size_t kvt_mem_tier_poll(void *chan, size_t min_complete, kvt_tier_io_t **done, size_t max);
kvt_status_t kvt_mem_tier_remove(void *ctx, kvt_key_t key);
bool kvt_mem_tier_contains(void *ctx, kvt_key_t key);
kvt_status_t kvt_mem_tier_scan(void *ctx, kvt_tier_scan_cb_t cb, void *arg);
void kvt_mem_tier_info(void *ctx, kvt_tier_info_t *info);
uint64_t kvt_mem_tier_records(void *ctx, uint64_t payload_bytes);
size_t kvt_mem_tier_regions(void *ctx, kvt_tier_region_t *out, size_t max);
kvt_status_t kvt_mem_tier_prefault(void *ctx);

/* The arena of an open memory tier's context: its regions are what a GPU path pins. */
kvt_arena_t *kvt_mem_tier_arena(void *ctx);

/* The ops table of a memory tier: everything shared but the kind, the name, probe and open. */
#define KVT_MEM_TIER_OPS(kind_, name_, probe_, open_)                                              \
    {                                                                                              \
        .version = KVT_TIER_OPS_VERSION, .kind = (kind_), .name = (name_), .probe = (probe_),      \
        .open = (open_), .close = kvt_mem_tier_close, .channel_open = kvt_mem_tier_channel_open,   \
        .channel_close = kvt_mem_tier_channel_close, .submit = kvt_mem_tier_submit,                \
        .poll = kvt_mem_tier_poll, .remove = kvt_mem_tier_remove,                                  \
        .contains = kvt_mem_tier_contains, .scan = kvt_mem_tier_scan, .info = kvt_mem_tier_info,   \
        .records = kvt_mem_tier_records, .regions = kvt_mem_tier_regions,                          \
        .prefault = kvt_mem_tier_prefault,                                                         \
    }

#endif
