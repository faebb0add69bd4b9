/*
 * A node description -> the store's tier configurations (kvt_store_tiers_from_node). The node
 * format is the replay lab's (docs/node.md), so one file describes a hierarchy for both: the
 * replay predicts, the store does. Each tier with a backend keeps the node's capacity, and its
 * budget in blocks is the one the node replay computes (capacity_bytes / block_bytes, whole
 * blocks); passed to the store as tier_blocks, it caps the store's policies at the replay's
 * capacities. The tier keeps the node's bytes, so its own overheads (headers, slot size
 * classes, sectors, a compaction spare) may leave room for a few blocks fewer; the store then
 * uses what the tier holds and kvt_store_stats says so.
 */
#include <kvtier/store.h>

#include "common/error.h"

#include <string.h>

kvt_status_t kvt_store_tiers_from_node(const kvt_node_desc_t *node, uint64_t block_bytes,
                                       const char *nvme_dir, const char *pfs_dir,
                                       kvt_tier_config_t *cfg, uint64_t *blocks, uint32_t *n_p,
                                       uint32_t *skipped_p, kvt_error_t *err)
{
    if (node == NULL || block_bytes == 0 || cfg == NULL || blocks == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "store tiers: no node or zero block size");
    }
    uint32_t n = 0, skipped = 0;
    for (uint32_t i = 0; i < node->ntiers && i < KVT_MAX_TIERS; i++) {
        const kvt_tier_desc_t *d = &node->tiers[i];
        if (d->kind == KVT_TIER_HBM || d->kind == KVT_TIER_POOL) {
            skipped++;
            continue;
        }
        const char *dir = d->kind == KVT_TIER_NVME ? nvme_dir
                          : d->kind == KVT_TIER_PFS ? pfs_dir
                                                    : NULL;
        if ((d->kind == KVT_TIER_NVME || d->kind == KVT_TIER_PFS) && (dir == NULL || !dir[0])) {
            return kvt_error_set(err, KVT_ERR_INVALID, "%s: tiers[%u] (%s): no directory given",
                                 node->name, i, d->name);
        }
        uint64_t b = d->capacity_bytes / block_bytes;
        if (b == 0) {
            return kvt_error_set(err, KVT_ERR_DOES_NOT_FIT,
                                 "%s: tiers[%u] (%s): %llu bytes hold no block of %llu", node->name,
                                 i, d->name, (unsigned long long)d->capacity_bytes,
                                 (unsigned long long)block_bytes);
        }
        kvt_tier_config_t *c = &cfg[n];
        kvt_tier_config_init(c, d->kind);
        c->capacity_bytes = d->capacity_bytes;
        c->max_record_bytes = block_bytes + KVT_BLOCK_HEADER_BYTES;
        c->dir = dir;
        c->prefault = d->prefault;
        blocks[n++] = b;
    }
    *n_p = n;
    if (skipped_p != NULL) {
        *skipped_p = skipped;
    }
    return KVT_OK;
}
