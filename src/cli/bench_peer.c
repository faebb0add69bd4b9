/*
 * The peers: what the same bytes cost without kvtier, measured in the same invocation so a
 * ratio compares figures taken on the same machine within seconds of each other.
 *
 * Memory tiers (dram, cxl) are set against one thread's memcpy of the same block size and byte
 * count, shaped like the tier's point: "write" copies from a source pool of the tier's shape
 * (up to 64 MiB of random blocks) into an arena of min(bytes, 256 MiB) -- larger than the
 * last-level cache once the point is big enough -- and "read" copies from the arena into QD
 * block buffers in turn, as the tier's GETs land in one buffer per I/O in flight. The arena is
 * pre-faulted, as the tier is warmed (bench_tier.c), so both sides are in the steady state. A
 * volatile sink reads one byte of every copy so the compiler cannot drop a copy nobody reads.
 *
 * Storage tiers (nvme, pfs) are set against fio with the io_uring engine at the same block size,
 * queue depth and byte count, run as a child process with --output-format=json and parsed with
 * cJSON. fio writes the file (--rw=write) and then reads it back (--rw=read) in two runs, like
 * the tier's two phases. nvme runs O_DIRECT (--direct=1), as the nvme tier does; pfs runs
 * through the page cache (--direct=0), as the pfs tier's files do. Both tiers make a put durable
 * before it completes (nvme: a group fdatasync covering the puts in flight; pfs: each block's
 * file fsynced before it is renamed into place), so the durable write peer syncs once per
 * queue depth of writes (--fdatasync=QD for nvme, --fsync=QD for pfs): at QD 1 every write is
 * synced, as every put is. Without that, the ratio would measure the flush, not kvtier. The
 * write pass also names --fallocate=native: the nvme tier preallocates its segments, so both
 * sides write into unwritten extents. The
 * command lines are returned so the CLI can print exactly what ran.
 *
 * A persistent tier verifies the checksum of every block it reads; fio's plain read verifies
 * nothing. For nvme a second read peer does what the tier does: fio writes the file again with
 * verification headers (--verify=crc32c, untimed: crc32c because fio computes it with the CPU's
 * crc32 instruction, the fastest check it has) and reads it back checking every block
 * (--verify_only=1, timed). Measured on the dev VM at 1 MiB: 1.1 GB/s at QD 1 against 1.5
 * for the plain read, 2.6 against 3.0 at QD 8: on a disk as fast as memory, hashing each block
 * after it lands costs a QD 1 reader about a quarter, whoever does it. fio's latencies are its
 * total latencies (--lat_percentiles=1, lat_ns percentiles: from the I/O's submission to its
 * completion), the counterpart of the tier's submit-to-poll latency. Its default percentiles
 * are of clat_ns, which starts only once the submitting system call has returned: for an
 * O_DIRECT read that call issues the I/O to the device, and on the dev VM it takes about 20 us of
 * a 100 us 64 KiB read, which a clat comparison charged to the tier alone.
 */
#include "cli/bench_peer.h"

#include "cli/bench_stats.h"
#include "cli/bench_sys.h"
#include "cli/spawn.h"
#include "common/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARENA_MAX  (256ull << 20)
#define SRC_MAX    (64ull << 20)

static volatile unsigned char sink;

/* n copies of bs bytes, the i-th from src[i % nsrc] to dst[i % ndst], each timed. */
static void copy_pass(unsigned char *dst, size_t ndst, const unsigned char *src, size_t nsrc,
                      size_t bs, uint64_t n, uint64_t *lat, kvt_bench_side_t *side)
{
    uint64_t t0 = kvt_bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        unsigned char *d = dst + (size_t)(i % ndst) * bs;
        const unsigned char *from = src + (size_t)(i % nsrc) * bs;
        uint64_t c0 = kvt_bench_now_ns();
        memcpy(d, from, bs);
        sink = d[bs - 1];
        lat[i] = kvt_bench_now_ns() - c0;
    }
    uint64_t t1 = kvt_bench_now_ns();
    side->ios = n;
    side->bytes = n * bs;
    side->ns = t1 - t0;
    side->GBps = kvt_bench_gbps(side->bytes, side->ns);
    side->p50_us = (double)kvt_bench_percentile(lat, (size_t)n, 50) / 1e3;
    side->p99_us = (double)kvt_bench_percentile(lat, (size_t)n, 99) / 1e3;
}

kvt_status_t kvt_bench_memcpy(uint64_t block_bytes, uint64_t total_bytes, uint32_t queue_depth,
                              kvt_bench_result_t *r_p, kvt_error_t *err)
{
    size_t bs = (size_t)block_bytes;
    uint64_t n = total_bytes / block_bytes;
    n = n < 1 ? 1 : n;
    uint64_t arena = total_bytes < ARENA_MAX ? total_bytes : ARENA_MAX;
    size_t narena = (size_t)(arena / block_bytes), nsrc = (size_t)(SRC_MAX / block_bytes);
    size_t nbuf = queue_depth;
    narena = narena < 1 ? 1 : narena;
    nsrc = nsrc < 1 ? 1 : nsrc > narena ? narena : nsrc;
    unsigned char *buf = NULL;
    uint64_t *lat = malloc(n * sizeof(*lat));
    /* the arena and the source pool in huge pages, as the tier's arena and the bench's pool */
    unsigned char *dst = kvt_sys_alloc_buffers(narena * bs);
    unsigned char *src = kvt_sys_alloc_buffers(nsrc * bs);
    if (lat == NULL || dst == NULL || src == NULL ||
        posix_memalign((void **)&buf, 4096, nbuf * bs) != 0) {
        free(lat);
        free(dst);
        free(src);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "memcpy peer: out of memory");
    }
    memset(dst, 0, narena * bs); /* pre-faulted: the steady state, as the warmed tier */
    memset(buf, 0, nbuf * bs);
    uint64_t seed = kvt_bench_now_ns() | 1;
    kvt_bench_fill_random(src, nsrc * bs, &seed);

    kvt_bench_result_t r;
    memset(&r, 0, sizeof(r));
    copy_pass(dst, narena, src, nsrc, bs, n, lat, &r.write);
    copy_pass(buf, nbuf, dst, narena, bs, n, lat, &r.read);
    snprintf(r.detail, sizeof(r.detail),
             "single-thread memcpy: %zu MiB source pool -> %zu MiB arena (write), arena -> one "
             "block buffer per I/O in flight (read)",
             nsrc * bs >> 20, narena * bs >> 20);
    free(lat);
    free(dst);
    free(src);
    free(buf);
    *r_p = r;
    return KVT_OK;
}

bool kvt_bench_have_program(const char *name)
{
    const char *path = getenv("PATH");
    char dir[4096];
    if (path == NULL || path[0] == '\0') {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    while (*path != '\0') {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        if (len > 0 && len + strlen(name) + 2 < sizeof(dir)) {
            snprintf(dir, sizeof(dir), "%.*s/%s", (int)len, path, name);
            if (access(dir, X_OK) == 0) {
                return true;
            }
        }
        path += len;
        if (*path == ':') {
            path++;
        }
    }
    return false;
}

/* Run argv: its stdout (malloc'd, NUL-terminated) when it exits 0, else the first line of its
 * stderr (or its exit status) in errline. */
static kvt_status_t run_capture(char *const argv[], char **out_p, char *errline, size_t errlen)
{
    kvt_spawn_result_t r;
    kvt_status_t st = kvt_spawn_capture(argv, &r);
    if (st != KVT_OK) {
        snprintf(errline, errlen, "cannot run %s: %s", argv[0], kvt_status_str(st));
        return st;
    }
    snprintf(errline, errlen, "%s", r.err);
    errline[strcspn(errline, "\n")] = '\0';
    if (r.status != 0) {
        if (errline[0] == '\0') {
            snprintf(errline, errlen, "exit status %d", r.status);
        }
        kvt_spawn_result_free(&r);
        return KVT_ERR_IO;
    }
    *out_p = r.out;
    free(r.err);
    return KVT_OK;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Parse one fio JSON report: jobs[0].<dir>.{bw_bytes, lat_ns.percentile}. */
static kvt_status_t parse_fio(const char *out, const char *dir, kvt_bench_side_t *side,
                              kvt_error_t *err)
{
    /* fio may print notes before the document: start at the first line opening with '{' */
    const char *p = out;
    while (*p != '\0' && *p != '{') {
        const char *nl = strchr(p, '\n');
        p = nl != NULL ? nl + 1 : p + strlen(p);
    }
    cJSON *doc = cJSON_Parse(p);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(doc, "jobs");
    const cJSON *job = cJSON_IsArray(jobs) ? cJSON_GetArrayItem(jobs, 0) : NULL;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(job, dir);
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(d, "lat_ns");
    const cJSON *pct = cJSON_GetObjectItemCaseSensitive(lat, "percentile");
    double bw = num(d, "bw_bytes"), io = num(d, "io_bytes"), rt = num(d, "runtime");
    double p50 = num(pct, "50.000000"), p99 = num(pct, "99.000000");
    double ios = num(d, "total_ios");
    cJSON_Delete(doc);
    if (bw < 0 || io < 0 || p50 < 0 || p99 < 0) {
        return kvt_error_set(err, KVT_ERR_PARSE, "fio: no %s bandwidth and lat percentiles in "
                                                 "its JSON output",
                             dir);
    }
    side->bytes = (uint64_t)io;
    side->ios = ios > 0 ? (uint64_t)ios : 0;
    side->ns = rt > 0 ? (uint64_t)(rt * 1e6) : 0; /* runtime is in ms */
    side->GBps = bw / 1e9;
    side->p50_us = p50 / 1e3;
    side->p99_us = p99 / 1e3;
    return KVT_OK;
}

kvt_status_t kvt_bench_fio(const kvt_bench_fio_opts_t *o, kvt_bench_result_t *r_p, char *cmd,
                           size_t cmd_len, kvt_error_t *err)
{
    if (!kvt_bench_have_program("fio")) {
        return kvt_error_set(err, KVT_ERR_UNAVAILABLE, "fio: not found");
    }
    char bs[40], qd[40], size[48], file[4200], sync[48];
    snprintf(bs, sizeof(bs), "--bs=%llu", (unsigned long long)o->block_bytes);
    snprintf(qd, sizeof(qd), "--iodepth=%u", o->queue_depth);
    snprintf(size, sizeof(size), "--size=%llu", (unsigned long long)o->size);
    snprintf(file, sizeof(file), "--filename=%s", o->file);
    /* one sync per queue depth of writes: kvtier's group commit (nvme: one fdatasync per group
       of puts in flight; pfs: every block file fsynced, QD at a time) */
    snprintf(sync, sizeof(sync), "--%s=%u", o->direct ? "fdatasync" : "fsync", o->queue_depth);
    kvt_bench_result_t r;
    memset(&r, 0, sizeof(r));
    kvt_status_t st = KVT_OK;
    size_t off = 0;
    cmd[0] = '\0';
    int passes = o->verify_read ? 4 : 2;
    for (int pass = 0; pass < passes && st == KVT_OK; pass++) {
        char *argv[20];
        int n = 0;
        argv[n++] = "fio";
        argv[n++] = "--name=peer";
        argv[n++] = "--ioengine=io_uring";
        argv[n++] = o->direct ? "--direct=1" : "--direct=0";
        argv[n++] = bs;
        argv[n++] = qd;
        /* 0: write, 1: read, 2: write with verify headers, 3: read them back verifying (fio
           calls it a write job with --verify_only and reports it as reads) */
        argv[n++] = pass == 1 ? "--rw=read" : "--rw=write";
        if (pass >= 2) {
            argv[n++] = "--verify=crc32c";
            argv[n++] = pass == 2 ? "--do_verify=0" : "--verify_only=1";
            argv[n++] = "--verify_state_save=0"; /* else a state file lands in the cwd */
        }
        if (pass == 0 && o->durable) {
            argv[n++] = sync;
        }
        if (pass == 0 && o->overwrite) {
            /* fio lays the file out (writes and fsyncs it, untimed) and the timed job
               overwrites it, as the nvme tier overwrites its prefaulted or recycled segments */
            argv[n++] = "--overwrite=1";
        } else if (pass == 0 || pass == 2) {
            /* preallocated, unwritten extents (fio's default today; named so that a fio with
               another default cannot change the comparison) */
            argv[n++] = "--fallocate=native";
        }
        argv[n++] = size;
        argv[n++] = file;
        argv[n++] = "--lat_percentiles=1"; /* submission to completion, as the tier's */
        argv[n++] = "--output-format=json";
        argv[n] = NULL;
        for (int i = 0; i < n && off < cmd_len; i++) {
            off += (size_t)snprintf(cmd + off, cmd_len - off, "%s%s",
                                    i == 0 && pass > 0 ? " && " : i == 0 ? "" : " ", argv[i]);
        }
        static const char *const what[] = {"--rw=write", "--rw=read", "--verify=crc32c write",
                                           "--verify_only"};
        char *out = NULL, errline[256];
        st = run_capture(argv, &out, errline, sizeof(errline));
        if (st != KVT_OK) {
            kvt_error_set(err, st, "fio %s: %s", what[pass], errline);
            break;
        }
        if (pass != 2) {
            kvt_bench_side_t *side = pass == 0 ? &r.write : pass == 1 ? &r.read : &r.read_verify;
            st = parse_fio(out, pass == 0 ? "write" : "read", side, err);
        }
        free(out);
        if (pass == 1) {
            unlink(o->file); /* the verify passes write a fresh file */
        }
    }
    unlink(o->file);
    if (st == KVT_OK) {
        snprintf(r.detail, sizeof(r.detail), "fio %s", o->direct ? "O_DIRECT" : "buffered");
        *r_p = r;
    }
    return st;
}
