/*
 * `kvtier bench`: what each tier delivers on this machine, beside what the hardware delivers
 * without kvtier, measured in the same invocation.
 *
 * For every block size x queue depth the verb runs one point (bench_tier.c): a fresh tier, PUTs
 * of random blocks through one channel with QD in flight, then GETs of the same blocks; GB/s of
 * payload and per-I/O latency percentiles from submit to completion. Next to each point stands
 * its peer (bench_peer.c): single-thread memcpy of the same block size for the memory tiers
 * (dram, cxl), fio with io_uring at the same block size, depth and byte count for the storage
 * tiers (nvme, pfs). A ratio is kvtier over peer, so 1.00x means kvtier adds nothing to what the
 * hardware does, and a missing peer (fio not installed) leaves the ratio out rather than failing
 * the run.
 *
 * Without --total a point is bounded by time: each phase stops submitting after --seconds
 * (default 1) or a byte cap (1 GiB for memory tiers, 4 GiB for storage, less when memory or
 * disk is short), so every point takes about 1-2 s whatever the tier's speed; the peer then
 * moves the bytes the tier moved. With --total the byte count is exact and no clock stops it.
 *
 * --repeat N (default 3) runs each point's tier and peer alternately N times and reports, for
 * each direction, the run with the median GB/s (its latencies with it): on a shared or virtual
 * host the bandwidth drifts by tens of percent over seconds, and alternating puts the same drift
 * on both sides of a ratio instead of on one.
 *
 * Storage tiers live in a fresh scratch directory under --dir (default $TMPDIR or /var/tmp),
 * one subdirectory per point, all removed at exit. A tier whose probe fails ends the verb with
 * exit 1 and "kvtier bench: <tier>: unavailable: <reason>"; usage errors exit 2 with one line on
 * stderr and nothing on stdout.
 */
#include "cli/args.h"
#include "cli/bench_peer.h"
#include "cli/bench_replay.h"
#include "cli/bench_stats.h"
#include "cli/bench_sys.h"
#include "cli/bench_tier.h"
#include "cli/cli.h"
#include "cli/table.h"
#include "common/json_writer.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: kvtier bench --tier TIER [options]\n"
    "       kvtier bench --replay TRACE [--format F] [--node N] [--model M] [--policy P]\n"
    "                    [--requests N] [--dir PATH] [--json]\n"
    "\n"
    "Measure a kvtier tier on this machine: for each block size and queue depth, write (PUT)\n"
    "then read (GET) blocks through one channel with QD I/Os in flight, beside a peer measured\n"
    "in the same run: single-thread memcpy for dram and cxl, fio (io_uring) for nvme and pfs.\n"
    "\n"
    "  --tier TIER         dram, cxl, nvme or pfs; several: dram,cxl\n"
    "  --block-bytes LIST  payload bytes per block, multiples of 4 KiB (default 64k,1M,16M;\n"
    "                      here k, M, G are KiB, MiB, GiB, as in fio)\n"
    "  --qd LIST           I/Os in flight (default 1,8,32)\n"
    "  --total BYTES       payload bytes written (then read) per point; default: each phase\n"
    "                      runs for --seconds, up to 1 GiB (memory tiers) or the least of\n"
    "                      4 GiB and --seconds x 4 GB/s (storage)\n"
    "  --seconds S         time limit of each phase (default 1 without --total, none with it)\n"
    "  --repeat N          run tier and peer alternately N times per point and report the\n"
    "                      median run of each (default 3)\n"
    "  --dir PATH          where nvme and pfs tiers live (default $TMPDIR or /var/tmp); a\n"
    "                      scratch directory is made inside it and removed afterwards\n"
    "  --no-durable        nvme, pfs: open the tier non-durable (a put completes once written,\n"
    "                      no fdatasync/fsync) and run fio without --fdatasync/--fsync: the\n"
    "                      write path alone, like for like (default: durable on both sides)\n"
    "  --json              JSON on stdout: one object for one point, an array for several\n"
    "replay (the live store driven by a trace on this machine's tiers):\n"
    "  --replay TRACE      a trace file (formats as in kvtier replay)\n"
    "  --format F          its format (default auto)\n"
    "  --node NAME|FILE    tier hierarchy and capacities (default h100-node)\n"
    "  --model NAME        the model whose exact block size is used (default: the node's);\n"
    "                      payloads are scaled by one factor to fit this machine\n"
    "  --policy P          lru (default), lfu, arc, s3fifo, predictive\n"
    "  --requests N        replay only the first N requests\n"
    "  -h, --help          this help\n"
    "\n"
    "GB/s is 1e9 bytes of payload per second. Latency is per I/O, from submit to the poll that\n"
    "returns it. ratio = kvtier / peer. Methodology: docs/bench.md.\n";

enum {
    OPT_TIER = 256, OPT_BLOCK, OPT_QD, OPT_TOTAL, OPT_SECONDS, OPT_REPEAT, OPT_DIR, OPT_JSON,
    OPT_NO_DURABLE, OPT_REPLAY,
    OPT_FORMAT, OPT_NODE, OPT_MODEL, OPT_POLICY, OPT_REQUESTS,
};

static const struct option longopts[] = {
    {"tier", required_argument, NULL, OPT_TIER},
    {"block-bytes", required_argument, NULL, OPT_BLOCK},
    {"qd", required_argument, NULL, OPT_QD},
    {"total", required_argument, NULL, OPT_TOTAL},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"dir", required_argument, NULL, OPT_DIR},
    {"json", no_argument, NULL, OPT_JSON},
    {"no-durable", no_argument, NULL, OPT_NO_DURABLE},
    {"replay", required_argument, NULL, OPT_REPLAY},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"node", required_argument, NULL, OPT_NODE},
    {"model", required_argument, NULL, OPT_MODEL},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define V          "bench"
#define MAX_LIST   16
#define MIN_BLOCK  4096ull
#define MAX_BLOCK  (1ull << 30)
#define MAX_QD     4096u
#define MEM_CAP    (1ull << 30)
#define DISK_CAP   (4ull << 30)
#define DISK_RATE  4e9 /* B/s no storage tier here reaches (the dev VM's: 2 GB/s) */

typedef struct bench_cli {
    kvt_tier_kind_t tiers[4];
    size_t ntiers;
    uint64_t blocks[MAX_LIST];
    size_t nblocks;
    uint32_t qds[MAX_LIST];
    size_t nqds;
    uint64_t total;      /* 0: time-bounded default */
    double seconds;
    bool seconds_set;
    uint32_t repeat;     /* tier and peer run alternately this many times per point */
    const char *dir;
    bool json;
    bool no_durable;     /* storage tiers and their fio peer without syncs */
    kvt_bench_replay_cli_t replay;
    bool sweep_flags;    /* a flag of the tier sweep was given (not with --replay) */
    bool replay_flags;   /* a flag of --replay was given */
} bench_cli_t;

/* One point's figures, and its peer's. */
typedef struct point {
    kvt_tier_kind_t kind;
    uint64_t block;
    uint32_t qd;
    bool durable;           /* storage tiers: puts durable, peer syncing */
    kvt_bench_result_t r;
    bool peer_ok;
    const char *peer_name;  /* "memcpy", "fio" */
    char peer_why[sizeof(((kvt_error_t *)0)->message)]; /* why there is no peer figure */
    char peer_cmd[1024];
    kvt_bench_result_t peer;
} point_t;

typedef bool (*item_fn)(const char *tok, size_t i, bench_cli_t *c);

static bool parse_list(const char *flag, const char *arg, size_t *n_p, item_fn fn,
                       bench_cli_t *c)
{
    char buf[512];
    size_t len = strlen(arg), n = 0;
    if (len >= sizeof(buf)) {
        kvt_cli_error(V, "%s: list too long", flag);
        return false;
    }
    memcpy(buf, arg, len + 1);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_LIST) {
            kvt_cli_error(V, "%s: at most %d values", flag, MAX_LIST);
            return false;
        }
        if (!fn(tok, n++, c)) {
            return false;
        }
    }
    if (n == 0) {
        kvt_cli_error(V, "%s: no value", flag);
        return false;
    }
    *n_p = n;
    return true;
}

static bool tier_item(const char *tok, size_t i, bench_cli_t *c)
{
    kvt_tier_kind_t k;
    if (kvt_tier_kind_parse(tok, &k) != KVT_OK ||
        (k != KVT_TIER_DRAM && k != KVT_TIER_CXL && k != KVT_TIER_NVME && k != KVT_TIER_PFS)) {
        kvt_cli_error(V, "--tier: unknown tier \"%s\" (dram, cxl, nvme, pfs)", tok);
        return false;
    }
    if (i >= sizeof(c->tiers) / sizeof(c->tiers[0])) {
        kvt_cli_error(V, "--tier: at most 4 tiers");
        return false;
    }
    c->tiers[i] = k;
    return true;
}

static bool block_item(const char *tok, size_t i, bench_cli_t *c)
{
    uint64_t v;
    if (!kvt_bench_parse_bytes(tok, &v)) {
        kvt_cli_error(V, "--block-bytes: \"%s\" is not a size (e.g. 64k, 1M, 16M)", tok);
        return false;
    }
    if (v < MIN_BLOCK || v > MAX_BLOCK || v % MIN_BLOCK != 0) {
        kvt_cli_error(V, "--block-bytes: %s is not a multiple of 4 KiB in [4 KiB, 1 GiB]", tok);
        return false;
    }
    c->blocks[i] = v;
    return true;
}

static bool qd_item(const char *tok, size_t i, bench_cli_t *c)
{
    return kvt_arg_u32(V, "--qd", tok, 1, MAX_QD, &c->qds[i]);
}

static int parse(int argc, char **argv, bench_cli_t *c)
{
    int opt;
    memset(c, 0, sizeof(*c));
    c->blocks[0] = 64ull << 10;
    c->blocks[1] = 1ull << 20;
    c->blocks[2] = 16ull << 20;
    c->nblocks = 3;
    c->qds[0] = 1;
    c->qds[1] = 8;
    c->qds[2] = 32;
    c->nqds = 3;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char *flag = argv[optind - 1];
        bool ok = true;
        switch (opt) {
        case OPT_TIER: ok = parse_list("--tier", optarg, &c->ntiers, tier_item, c); break;
        case OPT_BLOCK: ok = parse_list("--block-bytes", optarg, &c->nblocks, block_item, c); break;
        case OPT_QD: ok = parse_list("--qd", optarg, &c->nqds, qd_item, c); break;
        case OPT_TOTAL:
            ok = kvt_bench_parse_bytes(optarg, &c->total) && c->total >= MIN_BLOCK &&
                 c->total <= (1ull << 40);
            if (!ok) {
                kvt_cli_error(V, "--total: \"%s\" is not a size in [4 KiB, 1 TiB] (e.g. 256M, "
                                 "2G)",
                              optarg);
            }
            break;
        case OPT_SECONDS:
            ok = kvt_arg_double(V, "--seconds", optarg, 0.001, 3600, &c->seconds);
            c->seconds_set = true;
            break;
        case OPT_REPEAT: {
            uint64_t v;
            ok = kvt_arg_u64(V, "--repeat", optarg, 1, 15, &v);
            c->repeat = (uint32_t)v;
            break;
        }
        case OPT_DIR:
            if (optarg[0] == '\0') {
                kvt_cli_error(V, "--dir: empty path");
                ok = false;
            }
            c->dir = optarg;
            break;
        case OPT_JSON: c->json = true; break;
        case OPT_NO_DURABLE: c->no_durable = true; break;
        case OPT_REPLAY: c->replay.trace = optarg; break;
        case OPT_FORMAT:
            if (kvt_trace_format_parse(optarg, &c->replay.format) != KVT_OK) {
                kvt_cli_error(V, "--format: unknown format \"%s\" (auto, mooncake, bailian, "
                                 "agent-csv, swe-traj, sharegpt, tokens, azure)",
                              optarg);
                ok = false;
            }
            break;
        case OPT_NODE: c->replay.node = optarg; break;
        case OPT_MODEL: c->replay.model = optarg; break;
        case OPT_POLICY: c->replay.policy = optarg; break;
        case OPT_REQUESTS:
            ok = kvt_arg_u64(V, "--requests", optarg, 1, UINT64_MAX / 2, &c->replay.requests);
            break;
        case 'h': fputs(help, stdout); return KVT_EXIT_OK;
        default: return kvt_arg_unknown(V, opt, optopt, flag);
        }
        if (!ok) {
            return KVT_EXIT_USAGE;
        }
        c->sweep_flags |= opt == OPT_TIER || opt == OPT_BLOCK || opt == OPT_QD ||
                          opt == OPT_TOTAL || opt == OPT_SECONDS || opt == OPT_REPEAT ||
                          opt == OPT_NO_DURABLE;
        c->replay_flags |= opt == OPT_FORMAT || opt == OPT_NODE || opt == OPT_MODEL ||
                           opt == OPT_POLICY || opt == OPT_REQUESTS;
    }
    if (optind < argc) {
        kvt_cli_error(V, "unexpected argument \"%s\" (see kvtier bench --help)", argv[optind]);
        return KVT_EXIT_USAGE;
    }
    if (c->replay.trace != NULL) {
        if (c->sweep_flags) {
            kvt_cli_error(V, "--replay takes no --tier, --block-bytes, --qd, --total, "
                             "--seconds, --repeat or --no-durable (see kvtier bench --help)");
            return KVT_EXIT_USAGE;
        }
        c->replay.dir = c->dir;
        c->replay.json = c->json;
        return -1;
    }
    if (c->replay_flags) {
        kvt_cli_error(V, "--format, --node, --model, --policy and --requests go with --replay");
        return KVT_EXIT_USAGE;
    }
    if (c->ntiers == 0) {
        kvt_cli_error(V, "give --tier dram, cxl, nvme or pfs (see kvtier bench --help)");
        return KVT_EXIT_USAGE;
    }
    if (!c->seconds_set) {
        c->seconds = c->total != 0 ? 0 : 1.0;
    }
    if (c->repeat == 0) {
        c->repeat = 3;
    }
    return -1;
}

static bool is_storage(kvt_tier_kind_t k)
{
    return k == KVT_TIER_NVME || k == KVT_TIER_PFS;
}

/* Bytes a point may write: --total, or the time-bounded default's cap. */
static uint64_t point_total(const bench_cli_t *c, kvt_tier_kind_t k, const char *dir,
                            uint64_t block)
{
    uint64_t cap, avail = 0;
    if (c->total != 0) {
        return c->total;
    }
    if (is_storage(k)) {
        /* no more than the phase's time at DISK_RATE: the nvme tier's free space is written
           once before the clock (kvt_tier_prefault), and 4 GiB of it per point and run would
           take longer than the point; a faster disk only ends the phase before its time */
        cap = DISK_CAP;
        if (c->seconds > 0 && c->seconds * DISK_RATE < (double)cap) {
            cap = (uint64_t)(c->seconds * DISK_RATE);
        }
        if (kvt_sys_fs_free(dir, &avail, NULL, 0) && avail / 4 < cap) {
            cap = avail / 4;
        }
    } else {
        cap = MEM_CAP;
        /* the tier holds the bytes, the peer an arena of up to 256 MiB, plus buffers */
        if (kvt_sys_meminfo("MemAvailable", &avail) && avail / 8 < cap) {
            cap = avail / 8;
        }
    }
    return cap < block ? block : cap;
}

/* "kvtier bench: nvme: unavailable: <reason>" with the reason's own "nvme: " dropped. */
static int unavailable(kvt_tier_kind_t k, const char *why)
{
    const char *name = kvt_tier_kind_name(k);
    size_t n = strlen(name);
    if (strncmp(why, name, n) == 0 && why[n] == ':' && why[n + 1] == ' ') {
        why += n + 2;
    }
    kvt_cli_error(V, "%s: unavailable: %s", name, why);
    return KVT_EXIT_FAIL;
}

static const char *fmt_block(char *buf, size_t len, uint64_t b)
{
    if (b % (1ull << 30) == 0) {
        snprintf(buf, len, "%lluG", (unsigned long long)(b >> 30));
    } else if (b % (1ull << 20) == 0) {
        snprintf(buf, len, "%lluM", (unsigned long long)(b >> 20));
    } else {
        snprintf(buf, len, "%lluK", (unsigned long long)(b >> 10));
    }
    return buf;
}

static void json_side(kvt_json_t *w, const kvt_bench_result_t *r)
{
    kvt_json_double(w, "write_GBps", r->write.GBps);
    kvt_json_double(w, "read_GBps", r->read.GBps);
    kvt_json_double(w, "write_p50_us", r->write.p50_us);
    kvt_json_double(w, "write_p99_us", r->write.p99_us);
    kvt_json_double(w, "read_p50_us", r->read.p50_us);
    kvt_json_double(w, "read_p99_us", r->read.p99_us);
    kvt_json_u64(w, "write_bytes", r->write.bytes);
    kvt_json_u64(w, "read_bytes", r->read.bytes);
    if (r->read_verify.ios > 0) {
        kvt_json_double(w, "read_verify_GBps", r->read_verify.GBps);
        kvt_json_double(w, "read_verify_p50_us", r->read_verify.p50_us);
        kvt_json_double(w, "read_verify_p99_us", r->read_verify.p99_us);
    }
}

/* Whether the point's peer also read verifying each block (fio --verify_only: nvme). */
static bool has_verify(const point_t *p)
{
    return p->peer_ok && p->peer.read_verify.ios > 0 && p->peer.read_verify.GBps > 0;
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static void json_point(kvt_json_t *w, const point_t *p)
{
    kvt_json_begin_object(w, NULL);
    kvt_json_str(w, "tier", kvt_tier_kind_name(p->kind));
    kvt_json_str(w, "detail", p->r.detail);
    kvt_json_u64(w, "block_bytes", p->block);
    kvt_json_u64(w, "queue_depth", p->qd);
    if (is_storage(p->kind)) {
        kvt_json_bool(w, "durable", p->durable);
    }
    kvt_json_u64(w, "writes", p->r.write.ios);
    kvt_json_u64(w, "reads", p->r.read.ios);
    json_side(w, &p->r);
    kvt_json_begin_object(w, "peer");
    kvt_json_str(w, "name", p->peer_name);
    kvt_json_bool(w, "available", p->peer_ok);
    if (p->peer_ok) {
        kvt_json_str(w, "detail", p->peer.detail);
        if (p->peer_cmd[0] != '\0') {
            kvt_json_str(w, "command", p->peer_cmd);
        }
        json_side(w, &p->peer);
    } else {
        kvt_json_str(w, "reason", p->peer_why);
    }
    kvt_json_end_object(w);
    if (p->peer_ok && p->peer.write.GBps > 0 && p->peer.read.GBps > 0) {
        kvt_json_double(w, "ratio_write", ratio(p->r.write.GBps, p->peer.write.GBps));
        kvt_json_double(w, "ratio_read", ratio(p->r.read.GBps, p->peer.read.GBps));
    } else {
        kvt_json_null(w, "ratio_write");
        kvt_json_null(w, "ratio_read");
    }
    if (has_verify(p)) {
        kvt_json_double(w, "ratio_read_verify", ratio(p->r.read.GBps, p->peer.read_verify.GBps));
    }
    kvt_json_end_object(w);
}

/* verify: two more columns, the read beside fio reading with a checksum per block. */
static void table_header(kvt_table_t *t, bool verify)
{
    static const char *const h[] = {"tier",   "block",       "QD",   "write GB/s", "peer",
                                    "ratio",  "read GB/s",   "peer", "ratio",      "read p50 us",
                                    "peer",   "p99 us",      "peer", "verify peer", "ratio"};
    kvt_table_init(t, sizeof(h) / sizeof(h[0]) - (verify ? 0 : 2));
    for (size_t i = 0; i < t->ncols; i++) {
        kvt_table_cell(t, "%s", h[i]);
        t->right[i] = i >= 1;
    }
}

/* Latency in us: two decimals below 10 us (page-cache reads take fractions of one). */
static void cell_us(kvt_table_t *t, bool have, double us)
{
    if (!have) {
        kvt_table_cell(t, "-");
    } else {
        kvt_table_cell(t, us < 10 ? "%.2f" : "%.1f", us);
    }
}

static void table_point(kvt_table_t *t, const point_t *p)
{
    char b[32];
    bool peer = p->peer_ok;
    kvt_table_cell(t, "%s", kvt_tier_kind_name(p->kind));
    kvt_table_cell(t, "%s", fmt_block(b, sizeof(b), p->block));
    kvt_table_cell(t, "%u", p->qd);
    kvt_table_cell(t, "%.2f", p->r.write.GBps);
    kvt_table_cell(t, peer ? "%.2f" : "-", p->peer.write.GBps);
    kvt_table_cell(t, peer ? "%.2fx" : "-", ratio(p->r.write.GBps, p->peer.write.GBps));
    kvt_table_cell(t, "%.2f", p->r.read.GBps);
    kvt_table_cell(t, peer ? "%.2f" : "-", p->peer.read.GBps);
    kvt_table_cell(t, peer ? "%.2fx" : "-", ratio(p->r.read.GBps, p->peer.read.GBps));
    cell_us(t, true, p->r.read.p50_us);
    cell_us(t, peer, p->peer.read.p50_us);
    cell_us(t, true, p->r.read.p99_us);
    cell_us(t, peer, p->peer.read.p99_us);
    if (t->ncols > 13) {
        bool v = has_verify(p);
        kvt_table_cell(t, v ? "%.2f" : "-", p->peer.read_verify.GBps);
        kvt_table_cell(t, v ? "%.2fx" : "-", ratio(p->r.read.GBps, p->peer.read_verify.GBps));
    }
}

/* The peer of one point, over the bytes the tier moved: memcpy or fio. */
static void run_peer(const char *scratch, point_t *p, bool tty)
{
    kvt_error_t err;
    char label[64], b[32];
    uint64_t bytes = p->r.write.ios > 0 ? p->r.write.bytes : p->block;
    if (!is_storage(p->kind)) {
        p->peer_name = "memcpy";
        snprintf(label, sizeof(label), "memcpy %s qd%u", fmt_block(b, sizeof(b), p->block),
                 p->qd);
        if (tty) {
            kvt_cli_progress(0, 1000, label);
        }
        p->peer_ok = kvt_bench_memcpy(p->block, bytes, p->qd, &p->peer, &err) == KVT_OK;
        if (!p->peer_ok) {
            snprintf(p->peer_why, sizeof(p->peer_why), "%s", err.message);
        }
        return;
    }
    p->peer_name = "fio";
    char file[4200];
    snprintf(file, sizeof(file), "%s/fio-peer", scratch);
    kvt_bench_fio_opts_t fo = {
        .file = file,
        .block_bytes = p->block,
        .queue_depth = p->qd,
        .size = bytes,
        .direct = p->kind == KVT_TIER_NVME,
        .durable = p->durable, /* as the tier was opened */
        .verify_read = p->kind == KVT_TIER_NVME,
        .overwrite = p->kind == KVT_TIER_NVME, /* as the prefaulted tier does */
    };
    snprintf(label, sizeof(label), "fio %s qd%u", fmt_block(b, sizeof(b), p->block), p->qd);
    if (tty) {
        kvt_cli_progress(0, 1000, label);
    }
    kvt_status_t st = kvt_bench_fio(&fo, &p->peer, p->peer_cmd, sizeof(p->peer_cmd), &err);
    p->peer_ok = st == KVT_OK;
    if (!p->peer_ok) {
        snprintf(p->peer_why, sizeof(p->peer_why), "%s", err.message);
        p->peer_cmd[0] = '\0';
    }
}

enum { SIDE_WRITE, SIDE_READ, SIDE_READ_VERIFY };

static double side_GBps(const kvt_bench_result_t *r, int side)
{
    return side == SIDE_WRITE ? r->write.GBps : side == SIDE_READ ? r->read.GBps
                                                                  : r->read_verify.GBps;
}

/* Index of the run whose side (write, read or verified read; of the tier or the peer) has the
 * median GB/s. */
static size_t median_of(const point_t *runs, size_t n, bool peer, int side)
{
    size_t order[15];
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort: n <= 15 */
        for (size_t j = i; j > 0; j--) {
            const kvt_bench_result_t *a = peer ? &runs[order[j]].peer : &runs[order[j]].r;
            const kvt_bench_result_t *b = peer ? &runs[order[j - 1]].peer : &runs[order[j - 1]].r;
            if (side_GBps(a, side) >= side_GBps(b, side)) {
                break;
            }
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    return order[n / 2];
}

/* One point from n alternating runs: each direction of the tier and of the peer from its median
 * run; the rest (detail, peer command, peer availability) from the last run. */
static void median_point(const point_t *runs, size_t n, point_t *p)
{
    *p = runs[n - 1];
    p->r.write = runs[median_of(runs, n, false, SIDE_WRITE)].r.write;
    p->r.read = runs[median_of(runs, n, false, SIDE_READ)].r.read;
    if (p->peer_ok) {
        p->peer.write = runs[median_of(runs, n, true, SIDE_WRITE)].peer.write;
        p->peer.read = runs[median_of(runs, n, true, SIDE_READ)].peer.read;
        p->peer.read_verify = runs[median_of(runs, n, true, SIDE_READ_VERIFY)].peer.read_verify;
    }
}

/* Every point of one tier; appends to pts. Exit status. */
static int bench_tier(const bench_cli_t *c, kvt_tier_kind_t kind, const char *scratch,
                      point_t *pts, size_t *np, bool tty)
{
    const char *name = kvt_tier_kind_name(kind);
    char why[512];
    char dir[4200];
    kvt_tier_config_t cfg;

    snprintf(dir, sizeof(dir), "%s/%s", scratch, name);
    kvt_bench_tier_config(&cfg, kind, dir, c->blocks[0], 1, c->qds[0]);
    if (kvt_tier_probe(&cfg, why, sizeof(why)) != KVT_OK) {
        return unavailable(kind, why);
    }
    for (size_t bi = 0; bi < c->nblocks; bi++) {
        for (size_t qi = 0; qi < c->nqds; qi++) {
            point_t *p = &pts[(*np)++];
            char label[64], b[32];
            memset(p, 0, sizeof(*p));
            p->kind = kind;
            p->block = c->blocks[bi];
            p->qd = c->qds[qi];
            p->durable = !c->no_durable;
            snprintf(label, sizeof(label), "%s %s qd%u", name, fmt_block(b, sizeof(b), p->block),
                     p->qd);
            snprintf(dir, sizeof(dir), "%s/%s-%s-qd%u", scratch, name, b, p->qd);
            kvt_bench_io_opts_t o = {
                .kind = kind,
                .dir = dir,
                .block_bytes = p->block,
                .queue_depth = p->qd,
                .total_bytes = point_total(c, kind, scratch, p->block),
                .seconds = c->seconds,
                .no_durable = c->no_durable,
                .progress = tty ? kvt_cli_progress : NULL,
                .progress_arg = label,
            };
            point_t runs[15];
            uint32_t nrep = c->repeat ? c->repeat : 1;
            for (uint32_t rep = 0; rep < nrep; rep++) {
                point_t *q = &runs[rep];
                *q = *p;
                kvt_error_t err;
                kvt_status_t st = kvt_bench_tier_run(&o, &q->r, &err);
                kvt_sys_rm_rf(dir);
                if (st != KVT_OK) {
                    if (tty) {
                        kvt_cli_progress(1, 1, label);
                    }
                    if (st == KVT_ERR_UNAVAILABLE) {
                        return unavailable(kind, err.message);
                    }
                    kvt_cli_error(V, "%s", err.message);
                    return KVT_EXIT_FAIL;
                }
                run_peer(scratch, q, tty);
            }
            median_point(runs, nrep, p);
            if (tty) {
                kvt_cli_progress(1, 1, label);
            }
        }
    }
    return KVT_EXIT_OK;
}

/* Whether a ratio is at least 0.90x as the table prints it (two decimals), so that the summary
 * under the table counts what a reader of the table would. */
static bool meets(double r)
{
    return lround(r * 100) >= 90;
}

/* Under the table, for each tier (its points are consecutive, in tier order): how many of its
 * points read >= 0.90x of the peer (the ratio targets are stated in), writes and reads apart,
 * and reads beside fio verifying each block. */
static void print_targets(const point_t *pts, size_t np)
{
    for (size_t i = 0, end; i < np; i = end) {
        unsigned n = 0, w = 0, r = 0, nv = 0, v = 0;
        for (end = i; end < np && pts[end].kind == pts[i].kind; end++) {
            const point_t *p = &pts[end];
            if (!p->peer_ok) {
                continue;
            }
            n++;
            w += meets(ratio(p->r.write.GBps, p->peer.write.GBps));
            r += meets(ratio(p->r.read.GBps, p->peer.read.GBps));
            if (has_verify(p)) {
                nv++;
                v += meets(ratio(p->r.read.GBps, p->peer.read_verify.GBps));
            }
        }
        if (n == 0) {
            continue;
        }
        printf("  %s at >= 0.90x of its peer: writes %u of %u, reads %u of %u",
               kvt_tier_kind_name(pts[i].kind), w, n, r, n);
        if (nv > 0) {
            printf("; reads beside the verifying peer %u of %u", v, nv);
        }
        printf("\n");
    }
}

static void print_text(const bench_cli_t *c, const point_t *pts, size_t np)
{
    kvt_table_t t;
    bool verify = false;
    for (size_t i = 0; i < np; i++) {
        verify |= has_verify(&pts[i]);
    }
    table_header(&t, verify);
    for (size_t i = 0; i < np; i++) {
        table_point(&t, &pts[i]);
    }
    kvt_tier_kind_t last = (kvt_tier_kind_t)-1;
    for (size_t i = 0; i < np; i++) {
        const point_t *p = &pts[i];
        if (p->kind == last) {
            continue;
        }
        last = p->kind;
        printf("%s: %s\n", kvt_tier_kind_name(p->kind), p->r.detail[0] ? p->r.detail : "-");
        if (!p->peer_ok) {
            printf("  peer: %s\n", p->peer_why);
        } else if (is_storage(p->kind)) {
            printf("  peer: %s (first point; --bs, --iodepth and --size follow each row)\n",
                   p->peer_cmd);
        } else {
            printf("  peer: %s\n", p->peer.detail);
        }
    }
    printf("%s, GB/s = 1e9 B/s of payload, latency per I/O, ratio = kvtier / peer\n\n",
           c->total ? "fixed bytes per point" : "each phase time-limited");
    kvt_table_print(&t, stdout, "  ");
    kvt_table_free(&t);
    printf("\n");
    print_targets(pts, np);
}

int kvt_cmd_bench(int argc, char **argv)
{
    bench_cli_t c;
    int rc = parse(argc, argv, &c);
    if (rc != -1) {
        return rc;
    }
    if (c.replay.trace != NULL) {
        return kvt_bench_replay(&c.replay);
    }
    bool tty = isatty(STDERR_FILENO);
    bool storage = false;
    for (size_t i = 0; i < c.ntiers; i++) {
        storage |= is_storage(c.tiers[i]);
    }
    kvt_sys_scratch_t scratch;
    memset(&scratch, 0, sizeof(scratch));
    if (storage) {
        char why[4400];
        if (!kvt_sys_scratch_make(c.dir, &scratch, why, sizeof(why))) {
            for (size_t i = 0; i < c.ntiers; i++) {
                if (is_storage(c.tiers[i])) {
                    return unavailable(c.tiers[i], why);
                }
            }
        }
    }
    size_t cap = c.ntiers * c.nblocks * c.nqds, np = 0;
    point_t *pts = calloc(cap, sizeof(*pts));
    if (pts == NULL) {
        kvt_cli_error(V, "out of memory");
        kvt_sys_scratch_remove(&scratch);
        return KVT_EXIT_FAIL;
    }
    rc = KVT_EXIT_OK;
    for (size_t i = 0; i < c.ntiers && rc == KVT_EXIT_OK; i++) {
        rc = bench_tier(&c, c.tiers[i], scratch.path, pts, &np, tty);
    }
    kvt_sys_scratch_remove(&scratch);
    if (rc == KVT_EXIT_OK) {
        if (c.json) {
            kvt_json_t w;
            kvt_json_init(&w, true);
            if (np > 1) {
                kvt_json_begin_array(&w, NULL);
            }
            for (size_t i = 0; i < np; i++) {
                json_point(&w, &pts[i]);
            }
            if (np > 1) {
                kvt_json_end_array(&w);
            }
            rc = kvt_cli_print_json(&w);
        } else {
            print_text(&c, pts, np);
        }
    }
    free(pts);
    return rc;
}
