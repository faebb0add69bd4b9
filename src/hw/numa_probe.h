/*
 * Internal: the NUMA nodes of this machine as sysfs lists them, and the choice of the node a
 * CXL tier binds to. Never installed.
 */
#ifndef KVT_HW_NUMA_PROBE_H
#define KVT_HW_NUMA_PROBE_H

#include <kvtier/status.h>

#define KVT_NUMA_SYSFS_ROOT "/sys/devices/system/node"

typedef struct kvt_numa_node {
    int id;             /* N of nodeN */
    unsigned ncpus;     /* CPUs in nodeN/cpulist; 0 for a memory-only node (a CXL expander) */
    uint64_t mem_bytes; /* MemTotal of nodeN/meminfo */
} kvt_numa_node_t;

/*
 * The nodes under root (a directory laid out like /sys/devices/system/node: nodeN/cpulist,
 * nodeN/meminfo), sorted by id. *nodes_p is malloc'd (free() it) and written only on success,
 * with *n_p >= 1. KVT_ERR_NOT_FOUND when root cannot be read or holds no node, KVT_ERR_PARSE for
 * a cpulist or meminfo that cannot be read; err names the file.
 */
kvt_status_t kvt_numa_scan(const char *root, kvt_numa_node_t **nodes_p, size_t *n_p,
                           kvt_error_t *err);

/*
 * The node a memory tier binds to. requested >= 0: that node, which must exist and have memory
 * (KVT_ERR_INVALID naming the node otherwise). requested < 0: the first CPU-less node with
 * memory, else the highest-numbered node. *node_p and desc (one line for info.detail, e.g.
 * "bound to node 0 (no CPU-less memory node found: 1 node, this is ordinary DRAM)") are written
 * only on success.
 */
kvt_status_t kvt_numa_choose(const kvt_numa_node_t *nodes, size_t n, int requested, int *node_p,
                             char *desc, size_t desc_len, kvt_error_t *err);

#endif
