/*
 * NUMA nodes from sysfs, and the node a CXL tier binds to.
 *
 * A CXL memory expander shows up to Linux as a NUMA node that has memory but no CPUs: its
 * nodeN/cpulist is empty. Reading that from sysfs rather than asking libnuma keeps the detection
 * a pure function of a directory tree, so tests build a fake tree in a temp directory (one node
 * with CPUs; a second node with memory only) and check the choice without the hardware. libnuma
 * is still what binds the memory (arena.c, mbind) and what says whether NUMA works at all
 * (numa_available(), checked by the tier's probe).
 *
 * The choice for numa_node = -1: the first CPU-less node with memory (the expander), else the
 * highest-numbered node -- on a two-socket machine without CXL that is the remote socket, the
 * closest stand-in for "slower memory"; on a one-node machine it is node 0, ordinary DRAM, and
 * the description says so rather than pretending to have found CXL.
 */
#include "hw/numa_probe.h"

#include "common/error.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole of a small text file, NUL-terminated, into buf; false if it cannot be read. */
static bool read_small(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    size_t n = fread(buf, 1, len - 1, f);
    bool ok = !ferror(f);
    fclose(f);
    buf[n] = '\0';
    return ok;
}

/* CPUs in a cpulist ("0-3,8,10-11", "" for none); -1 if malformed. */
static long count_cpulist(const char *s)
{
    long count = 0;
    while (*s != '\0') {
        while (*s == ',' || isspace((unsigned char)*s)) {
            s++;
        }
        if (*s == '\0') {
            break;
        }
        char *end;
        errno = 0;
        unsigned long a = strtoul(s, &end, 10);
        if (end == s || errno != 0) {
            return -1;
        }
        unsigned long b = a;
        if (*end == '-') {
            s = end + 1;
            b = strtoul(s, &end, 10);
            if (end == s || errno != 0 || b < a) {
                return -1;
            }
        }
        count += (long)(b - a + 1);
        s = end;
        if (*s != '\0' && *s != ',' && !isspace((unsigned char)*s)) {
            return -1;
        }
    }
    return count;
}

/* MemTotal from a node's meminfo ("Node 0 MemTotal:  8480972 kB"); false if absent. */
static bool parse_memtotal(const char *text, uint64_t *bytes_p)
{
    const char *p = strstr(text, "MemTotal:");
    if (p == NULL) {
        return false;
    }
    p += strlen("MemTotal:");
    char *end;
    errno = 0;
    unsigned long long kb = strtoull(p, &end, 10);
    if (end == p || errno != 0) {
        return false;
    }
    *bytes_p = (uint64_t)kb * 1024u;
    return true;
}

static int by_id(const void *a, const void *b)
{
    const kvt_numa_node_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Whether name is "node<digits>"; *id_p gets the number. */
static bool node_dir(const char *name, int *id_p)
{
    if (strncmp(name, "node", 4) != 0 || !isdigit((unsigned char)name[4])) {
        return false;
    }
    char *end;
    long id = strtol(name + 4, &end, 10);
    if (*end != '\0' || id < 0 || id > 1 << 20) {
        return false;
    }
    *id_p = (int)id;
    return true;
}

kvt_status_t kvt_numa_scan(const char *root, kvt_numa_node_t **nodes_p, size_t *n_p,
                           kvt_error_t *err)
{
    DIR *d = opendir(root);
    if (d == NULL) {
        return kvt_error_set(err, KVT_ERR_NOT_FOUND, "%s: cannot list NUMA nodes: %s", root,
                             strerror(errno));
    }
    kvt_numa_node_t *nodes = NULL;
    size_t n = 0, cap = 0;
    kvt_status_t st = KVT_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int id;
        if (!node_dir(e->d_name, &id)) {
            continue;
        }
        char path[4096], text[4096];
        kvt_numa_node_t node = {.id = id};
        snprintf(path, sizeof(path), "%s/%s/cpulist", root, e->d_name);
        long ncpus = read_small(path, text, sizeof(text)) ? count_cpulist(text) : -1;
        if (ncpus < 0) {
            st = kvt_error_set(err, KVT_ERR_PARSE, "%s: cannot read a CPU list", path);
            break;
        }
        node.ncpus = (unsigned)ncpus;
        snprintf(path, sizeof(path), "%s/%s/meminfo", root, e->d_name);
        if (!read_small(path, text, sizeof(text)) || !parse_memtotal(text, &node.mem_bytes)) {
            st = kvt_error_set(err, KVT_ERR_PARSE, "%s: no MemTotal line", path);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            kvt_numa_node_t *grown = realloc(nodes, cap * sizeof(*nodes));
            if (grown == NULL) {
                st = kvt_error_set(err, KVT_ERR_NO_MEMORY, "%s: out of memory", root);
                break;
            }
            nodes = grown;
        }
        nodes[n++] = node;
    }
    closedir(d);
    if (st == KVT_OK && n == 0) {
        st = kvt_error_set(err, KVT_ERR_NOT_FOUND, "%s: no nodeN directory", root);
    }
    if (st != KVT_OK) {
        free(nodes);
        return st;
    }
    qsort(nodes, n, sizeof(*nodes), by_id);
    *nodes_p = nodes;
    *n_p = n;
    return KVT_OK;
}

/* "0, 1, 2" into out. */
static void list_ids(const kvt_numa_node_t *nodes, size_t n, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        int w = snprintf(out + used, len - used, "%s%d", i ? ", " : "", nodes[i].id);
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
}

kvt_status_t kvt_numa_choose(const kvt_numa_node_t *nodes, size_t n, int requested, int *node_p,
                             char *desc, size_t desc_len, kvt_error_t *err)
{
    if (n == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID, "no NUMA node to choose from");
    }
    char ids[128];
    list_ids(nodes, n, ids, sizeof(ids));
    const double gib = 1024.0 * 1024.0 * 1024.0;
    if (requested >= 0) {
        for (size_t i = 0; i < n; i++) {
            if (nodes[i].id != requested) {
                continue;
            }
            if (nodes[i].mem_bytes == 0) {
                return kvt_error_set(err, KVT_ERR_INVALID, "NUMA node %d has no memory", requested);
            }
            if (nodes[i].ncpus == 0) {
                snprintf(desc, desc_len,
                         "bound to node %d as asked (CPU-less memory node, %.1f GiB)", requested,
                         (double)nodes[i].mem_bytes / gib);
            } else {
                snprintf(desc, desc_len,
                         "bound to node %d as asked (it has %u CPUs: ordinary DRAM, not a "
                         "CPU-less memory node)",
                         requested, nodes[i].ncpus);
            }
            *node_p = requested;
            return KVT_OK;
        }
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "NUMA node %d does not exist (this machine has node%s %s)", requested,
                             n == 1 ? "" : "s", ids);
    }
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].ncpus == 0 && nodes[i].mem_bytes > 0) {
            snprintf(desc, desc_len,
                     "bound to node %d (first CPU-less memory node, %.1f GiB; nodes %s)",
                     nodes[i].id, (double)nodes[i].mem_bytes / gib, ids);
            *node_p = nodes[i].id;
            return KVT_OK;
        }
    }
    const kvt_numa_node_t *last = &nodes[n - 1];
    if (last->mem_bytes == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID, "NUMA node %d (the last) has no memory",
                             last->id);
    }
    if (n == 1) {
        snprintf(desc, desc_len,
                 "bound to node %d (no CPU-less memory node found: 1 node, this is ordinary DRAM)",
                 last->id);
    } else {
        snprintf(desc, desc_len,
                 "bound to node %d (no CPU-less memory node found among nodes %s: the last "
                 "node, ordinary DRAM of another socket)",
                 last->id, ids);
    }
    *node_p = last->id;
    return KVT_OK;
}
