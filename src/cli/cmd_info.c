/*
 * `kvtier info`: what this machine offers each tier, and why a tier is missing.
 *
 * For each of hbm, dram, cxl, nvme, pool, pfs the verb asks the tier's probe (kvt_tier_probe)
 * whether it can run here; hbm and pool have no backend yet and say so. Capacity is the
 * machine's, not a configuration's: MemAvailable for dram, the chosen NUMA node's memory for
 * cxl (and whether that node is CPU-less, i.e. really an expander), free space of --dir for
 * nvme and pfs. A tier that probes available is then opened briefly (64 MiB) and pushed through
 * the bench loop once -- 1 MiB blocks, 8 in flight, at most 64 MiB or 0.2 s each way -- so the
 * report shows what the tier says about itself (kvt_tier_info's detail: huge pages, node,
 * filesystem, O_DIRECT, GDS) and a first bandwidth figure; `kvtier bench` measures properly.
 * Above the tiers: CPU model, cores, NUMA nodes, memory, huge pages, io_uring, GPUDirect Storage.
 *
 * With --node the rows are the node description's tiers (the format `kvtier replay --node` and
 * the store's tier choice read), each beside the capacity the description asks of it, so one
 * can see whether this machine can hold that node's hierarchy and which backend is missing.
 *
 * A tier that fails while it is measured is reported with its error in its row; the verb
 * still exits 0, because reporting is its job. Storage tiers run in a scratch directory under
 * --dir that is removed before exit.
 */
#include "cli/args.h"
#include "cli/bench_stats.h"
#include "cli/bench_sys.h"
#include "cli/bench_tier.h"
#include "cli/cli.h"
#include "cli/replay_common.h"
#include "cli/table.h"
#include "common/json_writer.h"
#include "hw/numa_probe.h"
#include "tier/gds_probe.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: kvtier info [--dir PATH] [--node NAME|FILE] [--json]\n"
    "\n"
    "This machine's tiers: for each of hbm, dram, cxl, nvme, pool and pfs, whether kvtier can\n"
    "use it (or why not), its capacity here, what the tier reports once opened, and a quick\n"
    "bandwidth (64 MiB of 1 MiB blocks written then read, 8 in flight); then the CPU, NUMA\n"
    "nodes, memory, huge pages, io_uring and GPUDirect Storage.\n"
    "\n"
    "  --dir PATH   where the nvme and pfs tiers would live (default $TMPDIR or /var/tmp); a\n"
    "               scratch directory is made inside it and removed afterwards\n"
    "  --node N     the tiers of a node description (built-in h100-node, or a JSON file as in\n"
    "               docs/node.md) instead of all six, each beside the capacity it asks for\n"
    "  --json       one JSON object on stdout, with a `tiers` array\n"
    "  -h, --help   this help\n";

enum { OPT_DIR = 256, OPT_NODE, OPT_JSON };

static const struct option longopts[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"node", required_argument, NULL, OPT_NODE},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define V "info"
#define QUICK_BLOCK   (1ull << 20)
#define QUICK_TOTAL   (64ull << 20)
#define QUICK_QD      8u
#define QUICK_SECONDS 0.2

typedef struct row {
    kvt_tier_kind_t kind;
    bool available;
    char why[512];          /* unavailable: why */
    bool have_capacity;
    uint64_t capacity;
    char capacity_note[160];
    char detail[256];
    bool measured;
    double write_GBps, read_GBps;
    char error[512];        /* available but failed when opened or measured */
    bool have_node;         /* --node: the description's figures for this tier */
    uint64_t node_capacity;
} row_t;

typedef struct machine {
    char cpu[256];
    long cores;
    kvt_numa_node_t *nodes;
    size_t nnodes;
    uint64_t mem_available, hp_total, hp_free, hp_bytes;
    bool uring;
    char uring_why[256];
    bool gds;
    char gds_why[512];
    const char *dir;        /* parent of the scratch dir */
    uint64_t dir_free;
    char fstype[32];
    bool dir_ok;
    char dir_why[512];      /* why no scratch directory could be made */
} machine_t;

static void machine_facts(machine_t *m)
{
    kvt_error_t err;
    kvt_sys_cpu_model(m->cpu, sizeof(m->cpu));
    m->cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (kvt_numa_scan(KVT_NUMA_SYSFS_ROOT, &m->nodes, &m->nnodes, &err) != KVT_OK) {
        m->nodes = NULL;
        m->nnodes = 0;
    }
    (void)kvt_sys_meminfo("MemAvailable", &m->mem_available);
    (void)kvt_sys_meminfo("HugePages_Total", &m->hp_total);
    (void)kvt_sys_meminfo("HugePages_Free", &m->hp_free);
    (void)kvt_sys_meminfo("Hugepagesize", &m->hp_bytes);
    m->uring = kvt_sys_io_uring_works(m->uring_why, sizeof(m->uring_why));
    m->gds = kvt_gds_probe(m->gds_why, sizeof(m->gds_why));
}

static void capacity(const machine_t *m, row_t *r)
{
    switch (r->kind) {
    case KVT_TIER_DRAM:
        r->have_capacity = m->mem_available > 0;
        r->capacity = m->mem_available;
        snprintf(r->capacity_note, sizeof(r->capacity_note), "MemAvailable");
        break;
    case KVT_TIER_CXL: {
        int node = -1;
        char desc[256];
        if (m->nnodes > 0 &&
            kvt_numa_choose(m->nodes, m->nnodes, -1, &node, desc, sizeof(desc), NULL) == KVT_OK) {
            for (size_t i = 0; i < m->nnodes; i++) {
                if (m->nodes[i].id == node) {
                    r->have_capacity = true;
                    r->capacity = m->nodes[i].mem_bytes;
                    snprintf(r->capacity_note, sizeof(r->capacity_note),
                             "NUMA node %d MemTotal, %s", node,
                             m->nodes[i].ncpus == 0 ? "CPU-less (a memory expander)"
                                                    : "has CPUs (ordinary DRAM, not CXL)");
                }
            }
        }
        break;
    }
    case KVT_TIER_NVME:
    case KVT_TIER_PFS:
        if (m->dir_ok) {
            r->have_capacity = true;
            r->capacity = m->dir_free;
            snprintf(r->capacity_note, sizeof(r->capacity_note), "free in %s (%s)", m->dir,
                     m->fstype);
        }
        break;
    default:
        break;
    }
}

static void probe_and_measure(const machine_t *m, const char *scratch, row_t *r, bool tty)
{
    const char *name = kvt_tier_kind_name(r->kind);
    bool storage = r->kind == KVT_TIER_NVME || r->kind == KVT_TIER_PFS;
    char dir[sizeof(((kvt_sys_scratch_t *)0)->path) + 16];
    kvt_tier_config_t cfg;

    if (storage && !m->dir_ok) {
        snprintf(r->why, sizeof(r->why), "%.*s", (int)sizeof(r->why) - 1, m->dir_why);
        return;
    }
    snprintf(dir, sizeof(dir), "%.*s/%s", (int)sizeof(dir) - 16, scratch, name);
    kvt_bench_tier_config(&cfg, r->kind, storage ? dir : NULL, QUICK_BLOCK,
                          QUICK_TOTAL / QUICK_BLOCK, QUICK_QD);
    if (kvt_tier_probe(&cfg, r->why, sizeof(r->why)) != KVT_OK) {
        size_t n = strlen(name);
        if (strncmp(r->why, name, n) == 0 && r->why[n] == ':' && r->why[n + 1] == ' ') {
            memmove(r->why, r->why + n + 2, strlen(r->why + n + 2) + 1);
        }
        return;
    }
    r->available = true;
    r->why[0] = '\0';
    kvt_bench_io_opts_t o = {
        .kind = r->kind,
        .dir = storage ? dir : NULL,
        .block_bytes = QUICK_BLOCK,
        .queue_depth = QUICK_QD,
        .total_bytes = QUICK_TOTAL,
        .seconds = QUICK_SECONDS,
        .progress = tty ? kvt_cli_progress : NULL,
        .progress_arg = (void *)name,
    };
    kvt_bench_result_t res;
    kvt_error_t err;
    kvt_status_t st = kvt_bench_tier_run(&o, &res, &err);
    if (tty) {
        kvt_cli_progress(1, 1, (void *)name);
    }
    if (storage) {
        kvt_sys_rm_rf(dir);
    }
    if (st != KVT_OK) {
        snprintf(r->error, sizeof(r->error), "%s", err.message);
        return;
    }
    r->measured = true;
    r->write_GBps = res.write.GBps;
    r->read_GBps = res.read.GBps;
    snprintf(r->detail, sizeof(r->detail), "%s", res.detail);
}

static void print_json(const machine_t *m, const char *node, const row_t *rows, size_t n,
                       kvt_json_t *w)
{
    kvt_json_begin_object(w, NULL);
    if (node != NULL) {
        kvt_json_str(w, "node", node);
    }
    kvt_json_str(w, "cpu_model", m->cpu);
    kvt_json_i64(w, "cores", m->cores);
    kvt_json_begin_array(w, "numa_nodes");
    for (size_t i = 0; i < m->nnodes; i++) {
        kvt_json_begin_object(w, NULL);
        kvt_json_i64(w, "id", m->nodes[i].id);
        kvt_json_u64(w, "cpus", m->nodes[i].ncpus);
        kvt_json_u64(w, "mem_bytes", m->nodes[i].mem_bytes);
        kvt_json_end_object(w);
    }
    kvt_json_end_array(w);
    kvt_json_u64(w, "mem_available_bytes", m->mem_available);
    kvt_json_u64(w, "hugepages_total", m->hp_total);
    kvt_json_u64(w, "hugepages_free", m->hp_free);
    kvt_json_u64(w, "hugepage_bytes", m->hp_bytes);
    kvt_json_begin_object(w, "io_uring");
    kvt_json_bool(w, "works", m->uring);
    if (!m->uring) {
        kvt_json_str(w, "reason", m->uring_why);
    }
    kvt_json_end_object(w);
    kvt_json_begin_object(w, "gds");
    kvt_json_bool(w, "available", m->gds);
    kvt_json_str(w, "detail", m->gds_why);
    kvt_json_end_object(w);
    kvt_json_str(w, "dir", m->dir);
    kvt_json_begin_array(w, "tiers");
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        kvt_json_begin_object(w, NULL);
        kvt_json_str(w, "tier", kvt_tier_kind_name(r->kind));
        kvt_json_bool(w, "available", r->available);
        if (!r->available) {
            kvt_json_str(w, "reason", r->why);
        }
        if (r->have_capacity) {
            kvt_json_u64(w, "capacity_bytes", r->capacity);
            kvt_json_str(w, "capacity_note", r->capacity_note);
        } else {
            kvt_json_null(w, "capacity_bytes");
        }
        if (r->have_node) {
            kvt_json_u64(w, "node_capacity_bytes", r->node_capacity);
        }
        if (r->measured) {
            kvt_json_str(w, "detail", r->detail);
            kvt_json_double(w, "write_GBps", r->write_GBps);
            kvt_json_double(w, "read_GBps", r->read_GBps);
        }
        if (r->error[0] != '\0') {
            kvt_json_str(w, "error", r->error);
        }
        kvt_json_end_object(w);
    }
    kvt_json_end_array(w);
    kvt_json_end_object(w);
}

static void print_text(const machine_t *m, const char *node, const row_t *rows, size_t n)
{
    char b[3][40];
    printf("cpu:         %s, %ld cores\n", m->cpu, m->cores);
    printf("numa:        %zu node%s", m->nnodes, m->nnodes == 1 ? "" : "s");
    for (size_t i = 0; i < m->nnodes; i++) {
        printf("%snode %d: %s, %u CPUs", i == 0 ? " (" : "; ", m->nodes[i].id,
               kvt_fmt_bytes(b[0], sizeof(b[0]), m->nodes[i].mem_bytes), m->nodes[i].ncpus);
    }
    printf("%s\n", m->nnodes > 0 ? ")" : "");
    printf("memory:      %s available\n", kvt_fmt_bytes(b[0], sizeof(b[0]), m->mem_available));
    printf("huge pages:  %llu total, %llu free, %s each\n", (unsigned long long)m->hp_total,
           (unsigned long long)m->hp_free, kvt_fmt_bytes(b[1], sizeof(b[1]), m->hp_bytes));
    printf("io_uring:    %s%s\n", m->uring ? "works" : "unavailable: ",
           m->uring ? "" : m->uring_why);
    printf("GDS:         %s\n", m->gds_why);
    printf("nvme/pfs in: %s\n", m->dir);
    if (node != NULL) {
        printf("node:        %s (capacity asked of each tier beside what this machine has)\n",
               node);
    }
    printf("\n");

    kvt_table_t t;
    int cols = node != NULL ? 6 : 5;
    kvt_table_init(&t, cols);
    for (int c = 2; c < cols; c++) {
        t.right[c] = true;
    }
    kvt_table_cell(&t, "tier");
    kvt_table_cell(&t, "status");
    if (node != NULL) {
        kvt_table_cell(&t, "node asks");
    }
    kvt_table_cell(&t, "capacity");
    kvt_table_cell(&t, "write GB/s");
    kvt_table_cell(&t, "read GB/s");
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        kvt_table_cell(&t, "%s", kvt_tier_kind_name(r->kind));
        kvt_table_cell(&t, "%s",
                       !r->available ? "unavailable" : r->error[0] ? "error" : "available");
        if (node != NULL) {
            kvt_table_cell(&t, "%s", kvt_fmt_bytes(b[1], sizeof(b[1]), r->node_capacity));
        }
        kvt_table_cell(&t, "%s", r->have_capacity ? kvt_fmt_bytes(b[2], sizeof(b[2]), r->capacity)
                                                  : "-");
        kvt_table_cell(&t, r->measured ? "%.2f" : "-", r->write_GBps);
        kvt_table_cell(&t, r->measured ? "%.2f" : "-", r->read_GBps);
    }
    kvt_table_print(&t, stdout, "  ");
    kvt_table_free(&t);
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        const char *what = !r->available ? r->why : r->error[0] ? r->error : r->detail;
        printf("  %-5s %s\n", kvt_tier_kind_name(r->kind), what);
        if (r->have_capacity) {
            printf("        capacity: %s\n", r->capacity_note);
        }
    }
    printf("\nbandwidth: 64 MiB of 1 MiB blocks, 8 in flight, at most 0.2 s each way (kvtier "
           "bench measures properly)\n");
}

int kvt_cmd_info(int argc, char **argv)
{
    const char *dir = NULL;
    const char *nodename = NULL;
    bool json = false;
    int opt;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char *flag = argv[optind - 1];
        switch (opt) {
        case OPT_DIR:
            if (optarg[0] == '\0') {
                kvt_cli_error(V, "--dir: empty path");
                return KVT_EXIT_USAGE;
            }
            dir = optarg;
            break;
        case OPT_NODE: nodename = optarg; break;
        case OPT_JSON: json = true; break;
        case 'h': fputs(help, stdout); return KVT_EXIT_OK;
        default: return kvt_arg_unknown(V, opt, optopt, flag);
        }
    }
    if (optind < argc) {
        kvt_cli_error(V, "unexpected argument \"%s\" (see kvtier info --help)", argv[optind]);
        return KVT_EXIT_USAGE;
    }
    kvt_node_desc_t node;
    if (nodename != NULL) {
        kvt_error_t err;
        kvt_status_t st = kvt_cli_load_node(nodename, &node, &err);
        if (st != KVT_OK) {
            kvt_cli_error(V, "--node: %s", err.message);
            return kvt_cli_exit_for(st);
        }
    }
    bool tty = isatty(STDERR_FILENO);
    machine_t m;
    memset(&m, 0, sizeof(m));
    machine_facts(&m);
    const char *tmp = getenv("TMPDIR");
    m.dir = dir != NULL ? dir : tmp != NULL && tmp[0] != '\0' ? tmp : "/var/tmp";

    kvt_sys_scratch_t scratch;
    m.dir_ok = kvt_sys_scratch_make(dir, &scratch, m.dir_why, sizeof(m.dir_why));
    if (m.dir_ok) {
        (void)kvt_sys_fs_free(scratch.path, &m.dir_free, m.fstype, sizeof(m.fstype));
    }
    row_t rows[KVT_MAX_TIERS];
    static const kvt_tier_kind_t kinds[KVT_MAX_TIERS] = {
        KVT_TIER_HBM, KVT_TIER_DRAM, KVT_TIER_CXL, KVT_TIER_NVME, KVT_TIER_POOL, KVT_TIER_PFS,
    };
    size_t nrows = nodename != NULL ? node.ntiers : KVT_MAX_TIERS;
    for (size_t i = 0; i < nrows; i++) {
        row_t *r = &rows[i];
        memset(r, 0, sizeof(*r));
        r->kind = nodename != NULL ? node.tiers[i].kind : kinds[i];
        if (nodename != NULL) {
            r->have_node = true;
            r->node_capacity = node.tiers[i].capacity_bytes;
        }
        capacity(&m, r);
        probe_and_measure(&m, scratch.path, r, tty);
    }
    if (m.dir_ok) {
        kvt_sys_scratch_remove(&scratch);
    }
    int rc = KVT_EXIT_OK;
    if (json) {
        kvt_json_t w;
        kvt_json_init(&w, true);
        print_json(&m, nodename != NULL ? node.name : NULL, rows, nrows, &w);
        rc = kvt_cli_print_json(&w);
    } else {
        print_text(&m, nodename != NULL ? node.name : NULL, rows, nrows);
    }
    free(m.nodes);
    return rc;
}
