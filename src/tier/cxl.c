/*
 * The CXL tier (T2): the DRAM tier's arena, bound to a CPU-less NUMA node.
 *
 * A CXL memory expander appears as a NUMA node with memory and no CPUs. The node comes from
 * sysfs (hw/numa_probe.c): numa_node >= 0 names it; -1 takes the first CPU-less memory node,
 * else the highest-numbered node -- and info.detail then says plainly that no CPU-less node was
 * found and the memory is ordinary DRAM, so a benchmark on a machine without CXL is not taken
 * for one with it. The arena is mbind()-ed to the node before its first page is touched
 * (arena.c); the rest is the shared memory-tier implementation (mem_tier.c).
 */
#include "tier/mem_tier.h"

#include "common/error.h"
#include "hw/numa_probe.h"

#include <numa.h>
#include <stdio.h>
#include <stdlib.h>

/* The node to bind and a line describing the choice. */
static kvt_status_t resolve(const kvt_tier_config_t *cfg, int *node_p, char *desc, size_t desc_len,
                            kvt_error_t *err)
{
    if (numa_available() < 0) {
        return kvt_error_set(err, KVT_ERR_UNAVAILABLE,
                             "cxl: libnuma reports NUMA unavailable (numa_available() < 0: "
                             "kernel without NUMA support, or get_mempolicy not permitted)");
    }
    kvt_numa_node_t *nodes;
    size_t n;
    kvt_error_t e;
    kvt_status_t st = kvt_numa_scan(KVT_NUMA_SYSFS_ROOT, &nodes, &n, &e);
    if (st == KVT_OK) {
        st = kvt_numa_choose(nodes, n, cfg->numa_node, node_p, desc, desc_len, &e);
        free(nodes);
    }
    return st == KVT_OK ? KVT_OK : kvt_error_set(err, st, "cxl: %s", e.message);
}

/* On success `why` also receives what was found ("bound to node 1 (first CPU-less ...)"). */
static kvt_status_t probe(const kvt_tier_config_t *cfg, char *why, size_t why_len)
{
    char desc[200];
    int node;
    kvt_error_t e;
    if (resolve(cfg, &node, desc, sizeof(desc), &e) != KVT_OK) {
        snprintf(why, why_len, "%s", e.message);
        return KVT_ERR_UNAVAILABLE;
    }
    snprintf(why, why_len, "cxl: %s", desc);
    return KVT_OK;
}

static kvt_status_t open_cxl(const kvt_tier_config_t *cfg, void **ctx_p, kvt_error_t *err)
{
    char desc[200];
    int node;
    kvt_status_t st = resolve(cfg, &node, desc, sizeof(desc), err);
    if (st != KVT_OK) {
        return st;
    }
    return kvt_mem_tier_open(cfg, "cxl", node, desc, ctx_p, err);
}

const kvt_tier_ops_t kvt_tier_cxl_ops = KVT_MEM_TIER_OPS(KVT_TIER_CXL, "cxl", probe, open_cxl);
