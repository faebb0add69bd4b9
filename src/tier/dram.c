/*
 * The DRAM tier (T1): host memory in a huge-page arena, found by key through a sharded map.
 *
 * Everything but the probe and the binding is the shared memory-tier implementation
 * (mem_tier.c over arena.c), which the CXL tier uses too. numa_node = -1 (the default) binds
 * nothing: pages land where the thread that first writes them runs, which is what an engine
 * pinned to its GPU's socket wants. numa_node >= 0 binds the arena to that node, checked
 * against sysfs so a wrong number fails at open with the node named.
 */
#include "tier/mem_tier.h"

#include "common/error.h"
#include "hw/numa_probe.h"

#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* cfg->numa_node checked against the machine's nodes. */
static kvt_status_t check_node(int node, kvt_error_t *err)
{
    if (numa_available() < 0) {
        return kvt_error_set(err, KVT_ERR_UNAVAILABLE,
                             "dram: numa_node %d asked for, but libnuma reports NUMA "
                             "unavailable (numa_available() < 0)",
                             node);
    }
    kvt_numa_node_t *nodes;
    size_t n;
    kvt_error_t e;
    kvt_status_t st = kvt_numa_scan(KVT_NUMA_SYSFS_ROOT, &nodes, &n, &e);
    if (st == KVT_OK) {
        char desc[160];
        int chosen;
        st = kvt_numa_choose(nodes, n, node, &chosen, desc, sizeof(desc), &e);
        free(nodes);
    }
    return st == KVT_OK ? KVT_OK : kvt_error_set(err, st, "dram: %s", e.message);
}

static kvt_status_t probe(const kvt_tier_config_t *cfg, char *why, size_t why_len)
{
    kvt_error_t e;
    if (cfg->numa_node >= 0 && check_node(cfg->numa_node, &e) != KVT_OK) {
        snprintf(why, why_len, "%s", e.message);
        return KVT_ERR_UNAVAILABLE;
    }
    /* the address space for the arena: reserved and given back, nothing touched */
    void *p = mmap(NULL, (size_t)cfg->capacity_bytes, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        snprintf(why, why_len, "dram: cannot reserve %llu bytes of address space",
                 (unsigned long long)cfg->capacity_bytes);
        return KVT_ERR_UNAVAILABLE;
    }
    munmap(p, (size_t)cfg->capacity_bytes);
    return KVT_OK;
}

static kvt_status_t open_dram(const kvt_tier_config_t *cfg, void **ctx_p, kvt_error_t *err)
{
    char binding[64];
    if (cfg->numa_node >= 0) {
        kvt_status_t st = check_node(cfg->numa_node, err);
        if (st != KVT_OK) {
            return st;
        }
        snprintf(binding, sizeof(binding), "bound to node %d", cfg->numa_node);
    }
    return kvt_mem_tier_open(cfg, "dram", cfg->numa_node, cfg->numa_node >= 0 ? binding : NULL,
                             ctx_p, err);
}

const kvt_tier_ops_t kvt_tier_dram_ops = KVT_MEM_TIER_OPS(KVT_TIER_DRAM, "dram", probe, open_dram);
