/*
 * `kvtier bench` and `kvtier info` as black boxes: exit statuses, where messages go, and the
 * JSON contract (docs/bench.md). Each case runs the built binary ($KVT_CLI).
 *
 * Figures a benchmark produces cannot be predicted, so the checks are the ones that hold on any
 * machine: counts derived from the flags (8 MiB of 64 KiB blocks is 128 I/Os each way), positive
 * bandwidth, p50 <= p99, and each ratio equal to the kvtier figure over the peer figure printed
 * beside it. The percentile and size-parsing helpers are also tested directly, against values
 * worked out by hand. Parts that need a tier backend this build does not have yet are skipped
 * with a message (kvt_tier_probe says why).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli/bench_stats.h"
#include "cli/cli_run.h"

#include <kvtier/kvtier.h>

#include <ctype.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether the tier can run here; if not, say why (the caller then skips). */
static bool tier_here(kvt_tier_kind_t kind, const char *dir)
{
    kvt_tier_config_t cfg;
    char why[512];
    kvt_tier_config_init(&cfg, kind);
    cfg.dir = dir;
    if (kvt_tier_probe(&cfg, why, sizeof(why)) != KVT_OK) {
        print_message("[  SKIP    ] %s: %s\n", kvt_tier_kind_name(kind), why);
        return false;
    }
    return true;
}

static char *make_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    char *path = malloc(4096);
    assert_non_null(path);
    snprintf(path, 4096, "%s/kvt_cli_bench_XXXXXX", t != NULL && t[0] != '\0' ? t : "/tmp");
    assert_non_null(mkdtemp(path));
    return path;
}

/* Number of entries in dir other than . and .. */
static int dir_entries(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

/* Whether text has a line whose first two words are a and b (a table row). */
static bool has_row(const char *text, const char *a, const char *b)
{
    for (const char *l = text; l != NULL && *l != '\0';) {
        char w1[64], w2[64];
        if (sscanf(l, "%63s %63s", w1, w2) == 2 && strcmp(w1, a) == 0 && strcmp(w2, b) == 0) {
            return true;
        }
        l = strchr(l, '\n');
        l = l != NULL ? l + 1 : NULL;
    }
    return false;
}

/* A ratio cell of the table ("0.97x") at >= 0.90x, as printed; -1 for a cell that is none. */
static int cell_meets(const char *cell)
{
    double v;
    char x;
    if (sscanf(cell, "%lf%c", &v, &x) != 2 || x != 'x') {
        return -1;
    }
    return v >= 0.895 ? 1 : 0; /* two decimals: 0.90 is the least that prints as 0.90 */
}

/* The summary under a bench table agrees with the table's rows for tier: the rows' write, read
 * and verifying-read ratio cells (columns 6, 9 and 15) counted at >= 0.90x here, and the counts
 * the tool prints ("TIER at >= 0.90x of its peer: writes W of N, reads R of N[; reads beside the
 * verifying peer V of M]"). Returns the rows counted. */
static unsigned check_targets(int line, const char *text, const char *tier)
{
    unsigned n = 0, w = 0, r = 0, nv = 0, v = 0;
    for (const char *l = text; l != NULL && *l != '\0';) {
        const char *eol = strchr(l, '\n');
        size_t len = eol != NULL ? (size_t)(eol - l) : strlen(l);
        char row[512], c[15][32];
        snprintf(row, sizeof(row), "%.*s", (int)(len < sizeof(row) ? len : sizeof(row) - 1), l);
        int k = sscanf(row,
                       "%31s %31s %31s %31s %31s %31s %31s %31s %31s %31s %31s %31s %31s "
                       "%31s %31s",
                       c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11],
                       c[12], c[13], c[14]);
        /* a row: the tier, then a block size ("64K"), then the cells */
        if (k >= 13 && strcmp(c[0], tier) == 0 && isdigit((unsigned char)c[1][0]) &&
            cell_meets(c[5]) >= 0) {
            n++;
            w += (unsigned)cell_meets(c[5]);
            r += (unsigned)cell_meets(c[8]);
            if (k == 15 && cell_meets(c[14]) >= 0) {
                nv++;
                v += (unsigned)cell_meets(c[14]);
            }
        }
        l = eol != NULL ? eol + 1 : NULL;
    }
    char want[256];
    int m =
        snprintf(want, sizeof(want), "%s at >= 0.90x of its peer: writes %u of %u, reads %u of %u",
                 tier, w, n, r, n);
    if (nv > 0) {
        snprintf(want + m, sizeof(want) - (size_t)m, "; reads beside the verifying peer %u of %u\n",
                 v, nv);
    } else {
        snprintf(want + m, sizeof(want) - (size_t)m, "\n");
    }
    if (n > 0 && strstr(text, want) == NULL) {
        fail_msg("line %d: no summary \"%s\" under the table:\n%s", line, want, text);
    }
    return n;
}

static double get_num(int line, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v)) {
        fail_msg("line %d: field \"%s\" is missing or not a number", line, key);
    }
    return v->valuedouble;
}

#define GET_NUM(obj, key) get_num(__LINE__, (obj), (key))

static const char *get_str(int line, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(v)) {
        fail_msg("line %d: field \"%s\" is missing or not a string", line, key);
    }
    return v->valuestring;
}

#define GET_STR(obj, key) get_str(__LINE__, (obj), (key))

/* ---------------------------------------------------------------------------------------------
 * helpers, directly
 */

static void test_percentile(void **state)
{
    (void)state;
    /* nearest rank: sorted[ceil(p/100 n) - 1]. 1..100: p50 -> 50th = 50, p99 -> 99, p100 -> 100 */
    uint64_t v[100];
    for (int i = 0; i < 100; i++) {
        v[i] = (uint64_t)(100 - i); /* descending: the helper must sort */
    }
    assert_int_equal(kvt_bench_percentile(v, 100, 50), 50);
    assert_int_equal(kvt_bench_percentile(v, 100, 99), 99);
    assert_int_equal(kvt_bench_percentile(v, 100, 100), 100);
    /* {5, 1, 3}: sorted 1 3 5; p50 -> ceil(1.5) = 2nd = 3; p99 -> ceil(2.97) = 3rd = 5 */
    uint64_t w[3] = {5, 1, 3};
    assert_int_equal(kvt_bench_percentile(w, 3, 50), 3);
    assert_int_equal(kvt_bench_percentile(w, 3, 99), 5);
    uint64_t one[1] = {7};
    assert_int_equal(kvt_bench_percentile(one, 1, 99), 7);
    assert_int_equal(kvt_bench_percentile(one, 0, 50), 0);
    /* 3e9 bytes in 1.5e9 ns is 2 GB/s */
    assert_true(fabs(kvt_bench_gbps(3000000000ull, 1500000000ull) - 2.0) < 1e-12);
    assert_true(kvt_bench_gbps(1, 0) == 0.0);
}

static void test_parse_bytes(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_true(kvt_bench_parse_bytes("64k", &v));
    assert_int_equal(v, 65536);
    assert_true(kvt_bench_parse_bytes("64K", &v));
    assert_int_equal(v, 65536);
    assert_true(kvt_bench_parse_bytes("1M", &v));
    assert_int_equal(v, 1048576);
    assert_true(kvt_bench_parse_bytes("16Mi", &v));
    assert_int_equal(v, 16777216);
    assert_true(kvt_bench_parse_bytes("2G", &v));
    assert_int_equal(v, 2147483648ull);
    assert_true(kvt_bench_parse_bytes("4096", &v));
    assert_int_equal(v, 4096);
    v = 1;
    assert_false(kvt_bench_parse_bytes("", &v));
    assert_false(kvt_bench_parse_bytes("64kB", &v));
    assert_false(kvt_bench_parse_bytes("-1", &v));
    assert_false(kvt_bench_parse_bytes("1.5M", &v));
    assert_false(kvt_bench_parse_bytes("99999999999999999999", &v));
    assert_int_equal(v, 1); /* untouched on failure */
}

/* ---------------------------------------------------------------------------------------------
 * usage
 */

static void test_help(void **state)
{
    run_t r;
    (void)state;
    RUN(&r, "bench", "--help");
    expect_status(__LINE__, &r, 0);
    expect_contains(__LINE__, &r, "stdout", r.out, "usage: kvtier bench");
    assert_int_equal(r.err_len, 0);
    run_free(&r);
    RUN(&r, "info", "--help");
    expect_status(__LINE__, &r, 0);
    expect_contains(__LINE__, &r, "stdout", r.out, "usage: kvtier info");
    assert_int_equal(r.err_len, 0);
    run_free(&r);
    RUN(&r, "--help");
    expect_status(__LINE__, &r, 0);
    expect_contains(__LINE__, &r, "stdout", r.out, "bench");
    expect_contains(__LINE__, &r, "stdout", r.out, "info");
    run_free(&r);
}

static void test_usage_errors(void **state)
{
    run_t r;
    (void)state;
    RUN(&r, "bench", "--tier", "dram", "--frobnicate");
    EXPECT_USAGE_ERROR(&r, "--frobnicate");
    run_free(&r);
    RUN(&r, "bench");
    EXPECT_USAGE_ERROR(&r, "--tier");
    run_free(&r);
    RUN(&r, "bench", "--tier", "floppy");
    EXPECT_USAGE_ERROR(&r, "floppy");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram,tape");
    EXPECT_USAGE_ERROR(&r, "tape");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram", "--qd", "0");
    EXPECT_USAGE_ERROR(&r, "--qd");
    run_free(&r);
    RUN(&r, "bench", "--replay", "trace.jsonl", "--no-durable");
    EXPECT_USAGE_ERROR(&r, "--no-durable");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram", "--qd", "1,x");
    EXPECT_USAGE_ERROR(&r, "--qd");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram", "--block-bytes", "5000");
    EXPECT_USAGE_ERROR(&r, "--block-bytes", "5000");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram", "--block-bytes", "64q");
    EXPECT_USAGE_ERROR(&r, "--block-bytes");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram", "--total", "lots");
    EXPECT_USAGE_ERROR(&r, "--total");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram", "--seconds", "0");
    EXPECT_USAGE_ERROR(&r, "--seconds");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram", "--repeat", "0");
    EXPECT_USAGE_ERROR(&r, "--repeat");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram", "--repeat", "16");
    EXPECT_USAGE_ERROR(&r, "--repeat");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram", "extra");
    EXPECT_USAGE_ERROR(&r, "extra");
    run_free(&r);
    RUN(&r, "bench", "--tier");
    EXPECT_USAGE_ERROR(&r, "--tier");
    run_free(&r);
    RUN(&r, "info", "--bogus");
    EXPECT_USAGE_ERROR(&r, "--bogus");
    run_free(&r);
    RUN(&r, "info", "surplus");
    EXPECT_USAGE_ERROR(&r, "surplus");
    run_free(&r);
}

/* ---------------------------------------------------------------------------------------------
 * bench dram
 */

/* Checks every point object shares; returns the peer object. */
static const cJSON *check_point(int line, const cJSON *p, const char *tier, uint64_t block,
                                uint64_t qd, uint64_t total)
{
    if (strcmp(get_str(line, p, "tier"), tier) != 0) {
        fail_msg("line %d: tier is %s, expected %s", line, get_str(line, p, "tier"), tier);
    }
    assert_true(get_num(line, p, "block_bytes") == (double)block);
    assert_true(get_num(line, p, "queue_depth") == (double)qd);
    /* --total is exact: total / block I/Os each way, total bytes each way */
    assert_true(get_num(line, p, "writes") == (double)(total / block));
    assert_true(get_num(line, p, "reads") == (double)(total / block));
    assert_true(get_num(line, p, "write_bytes") == (double)total);
    assert_true(get_num(line, p, "read_bytes") == (double)total);
    double w = get_num(line, p, "write_GBps"), rd = get_num(line, p, "read_GBps");
    assert_true(w > 0 && isfinite(w));
    assert_true(rd > 0 && isfinite(rd));
    assert_true(get_num(line, p, "read_p50_us") > 0);
    assert_true(get_num(line, p, "read_p50_us") <= get_num(line, p, "read_p99_us"));
    assert_true(get_num(line, p, "write_p50_us") > 0);
    assert_true(get_num(line, p, "write_p50_us") <= get_num(line, p, "write_p99_us"));

    const cJSON *peer = cJSON_GetObjectItemCaseSensitive(p, "peer");
    assert_true(cJSON_IsObject(peer));
    const cJSON *avail = cJSON_GetObjectItemCaseSensitive(peer, "available");
    assert_true(cJSON_IsBool(avail));
    const cJSON *rr = cJSON_GetObjectItemCaseSensitive(p, "ratio_read");
    const cJSON *rw = cJSON_GetObjectItemCaseSensitive(p, "ratio_write");
    if (cJSON_IsTrue(avail)) {
        double pw = get_num(line, peer, "write_GBps"), pr = get_num(line, peer, "read_GBps");
        assert_true(pw > 0 && pr > 0);
        assert_true(get_num(line, peer, "read_p50_us") <= get_num(line, peer, "read_p99_us"));
        /* the ratio is kvtier over peer, of the figures printed beside it */
        assert_true(cJSON_IsNumber(rr) && cJSON_IsNumber(rw));
        if (fabs(rr->valuedouble - rd / pr) > 1e-12 * (rd / pr) ||
            fabs(rw->valuedouble - w / pw) > 1e-12 * (w / pw)) {
            fail_msg("line %d: ratios %.17g, %.17g are not %.17g / %.17g and %.17g / %.17g", line,
                     rr->valuedouble, rw->valuedouble, rd, pr, w, pw);
        }
    } else {
        /* no peer: a reason and no ratio */
        assert_true(strlen(get_str(line, peer, "reason")) > 0);
        assert_true(cJSON_IsNull(rr) && cJSON_IsNull(rw));
    }
    return peer;
}

static void test_bench_dram_json(void **state)
{
    run_t r;
    (void)state;
    if (!tier_here(KVT_TIER_DRAM, NULL)) {
        skip();
    }
    RUN(&r, "bench", "--tier", "dram", "--block-bytes", "64k", "--qd", "1", "--total", "8M",
        "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    assert_true(cJSON_IsObject(doc)); /* one point: one object */
    const cJSON *peer = check_point(__LINE__, doc, "dram", 65536, 1, 8u << 20);
    assert_string_equal(GET_STR(peer, "name"), "memcpy");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(peer, "available")));
    cJSON_Delete(doc);
    run_free(&r);

    /* two queue depths, one block size: an array of two points, in flag order */
    RUN(&r, "bench", "--tier", "dram", "--block-bytes", "4k", "--qd", "4,1", "--total", "1M",
        "--json");
    expect_status(__LINE__, &r, 0);
    doc = parse_stdout(__LINE__, &r);
    assert_true(cJSON_IsArray(doc));
    assert_int_equal(cJSON_GetArraySize(doc), 2);
    check_point(__LINE__, cJSON_GetArrayItem(doc, 0), "dram", 4096, 4, 1u << 20);
    check_point(__LINE__, cJSON_GetArrayItem(doc, 1), "dram", 4096, 1, 1u << 20);
    cJSON_Delete(doc);
    run_free(&r);

    /* the table: one row per point, each GB/s beside its peer and ratio */
    RUN(&r, "bench", "--tier", "dram", "--block-bytes", "64k,1M", "--qd", "2", "--total",
        "4M");
    expect_status(__LINE__, &r, 0);
    expect_contains(__LINE__, &r, "stdout", r.out, "write GB/s");
    expect_contains(__LINE__, &r, "stdout", r.out, "ratio");
    expect_contains(__LINE__, &r, "stdout", r.out, "memcpy");
    assert_true(has_row(r.out, "dram", "64K"));
    assert_true(has_row(r.out, "dram", "1M"));
    /* under it, the points at >= 0.90x of memcpy, counted as the rows print them */
    assert_int_equal(check_targets(__LINE__, r.out, "dram"), 2);
    run_free(&r);
}

/* ---------------------------------------------------------------------------------------------
 * storage tiers
 */

static void test_bench_dir_uncreatable(void **state)
{
    run_t r;
    (void)state;
    /* /proc refuses new directories: exit 1, the tier unavailable, the path named */
    RUN(&r, "bench", "--tier", "nvme", "--dir", "/proc/kvtier-no/such", "--total", "1M");
    expect_status(__LINE__, &r, 1);
    assert_int_equal(r.out_len, 0);
    expect_contains(__LINE__, &r, "stderr", r.err, "kvtier bench: nvme: unavailable: ");
    expect_contains(__LINE__, &r, "stderr", r.err, "/proc/kvtier-no");
    assert_int_equal(count_lines(r.err), 1);
    run_free(&r);

    /* a regular file in the way */
    char *tmp = make_tmpdir();
    char file[4200], dir[4300];
    snprintf(file, sizeof(file), "%s/plain", tmp);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(dir, sizeof(dir), "%s/sub", file);
    RUN(&r, "bench", "--tier", "pfs", "--dir", dir, "--total", "1M");
    expect_status(__LINE__, &r, 1);
    assert_int_equal(r.out_len, 0);
    expect_contains(__LINE__, &r, "stderr", r.err, "kvtier bench: pfs: unavailable: ");
    expect_contains(__LINE__, &r, "stderr", r.err, file);
    run_free(&r);
    unlink(file);
    rmdir(tmp);
    free(tmp);
}

static void bench_storage(kvt_tier_kind_t kind)
{
    run_t r;
    char *tmp = make_tmpdir();
    char dir[4200];
    /* a --dir that does not exist yet: created, used, and removed again */
    snprintf(dir, sizeof(dir), "%s/new/dir", tmp);
    if (!tier_here(kind, dir)) {
        rmdir(tmp);
        free(tmp);
        skip();
    }
    const char *name = kvt_tier_kind_name(kind);
    RUN(&r, "bench", "--tier", name, "--block-bytes", "64k", "--qd", "4", "--total", "4M",
        "--dir", dir, "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    const cJSON *peer = check_point(__LINE__, doc, name, 65536, 4, 4u << 20);
    assert_string_equal(GET_STR(peer, "name"), "fio");
    /* durable by default: the tier says so, and fio syncs once per queue depth of writes */
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "durable")));
    assert_null(strstr(GET_STR(doc, "detail"), "not durable"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(peer, "available"))) {
        /* the command run is stated, with the point's block size, depth and bytes */
        const char *cmd = GET_STR(peer, "command");
        assert_non_null(strstr(cmd, kind == KVT_TIER_NVME ? "--fdatasync=4" : "--fsync=4"));
        assert_non_null(strstr(cmd, "--ioengine=io_uring"));
        assert_non_null(strstr(cmd, "--bs=65536"));
        assert_non_null(strstr(cmd, "--iodepth=4"));
        assert_non_null(strstr(cmd, "--size=4194304"));
        assert_non_null(strstr(cmd, kind == KVT_TIER_NVME ? "--direct=1" : "--direct=0"));
        /* nvme also reads beside fio verifying every block, and the ratio is to that read;
           pfs has no such peer */
        const cJSON *vr = cJSON_GetObjectItemCaseSensitive(peer, "read_verify_GBps");
        const cJSON *vratio = cJSON_GetObjectItemCaseSensitive(doc, "ratio_read_verify");
        if (kind == KVT_TIER_NVME) {
            assert_non_null(strstr(cmd, "--verify=crc32c --verify_only=1"));
            /* fio saves a verify state file in the working directory unless told not to */
            assert_non_null(strstr(cmd, "--verify_state_save=0"));
            assert_int_equal(access("local-peer-0-verify.state", F_OK), -1);
            assert_true(cJSON_IsNumber(vr) && vr->valuedouble > 0);
            assert_true(cJSON_IsNumber(vratio));
            double want = GET_NUM(doc, "read_GBps") / vr->valuedouble;
            assert_true(fabs(vratio->valuedouble - want) <= 1e-9 * want);
        } else {
            assert_null(strstr(cmd, "--verify"));
            assert_null(vr);
            assert_null(vratio);
        }
    } else {
        print_message("[  NOTE    ] %s peer: %s\n", name, GET_STR(peer, "reason"));
    }
    bool have_fio = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(peer, "available"));
    cJSON_Delete(doc);
    run_free(&r);

    /* the table, and under it the points at >= 0.90x of fio (and for nvme, of fio verifying),
       counted as the rows print them */
    RUN(&r, "bench", "--tier", name, "--block-bytes", "64k", "--qd", "4", "--total", "4M", "--dir",
        dir);
    expect_status(__LINE__, &r, 0);
    assert_true(has_row(r.out, name, "64K"));
    assert_int_equal(check_targets(__LINE__, r.out, name), have_fio ? 1 : 0);
    if (have_fio) {
        expect_contains(__LINE__, &r, "stdout", r.out,
                        kind == KVT_TIER_NVME ? "reads beside the verifying peer" : "reads ");
    }
    run_free(&r);

    /* --no-durable: the tier opened without syncs (its detail says so) and fio without them */
    RUN(&r, "bench", "--tier", name, "--block-bytes", "64k", "--qd", "4", "--total", "4M",
        "--dir", dir, "--json", "--no-durable");
    expect_status(__LINE__, &r, 0);
    doc = parse_stdout(__LINE__, &r);
    peer = check_point(__LINE__, doc, name, 65536, 4, 4u << 20);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "durable")));
    assert_non_null(strstr(GET_STR(doc, "detail"), "not durable"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(peer, "available"))) {
        const char *cmd = GET_STR(peer, "command");
        assert_null(strstr(cmd, "sync="));
    }
    cJSON_Delete(doc);
    run_free(&r);

    /* without fio: the peer says "fio: not found", no ratio, and the run still succeeds */
    char *path = strdup(getenv("PATH") != NULL ? getenv("PATH") : "");
    assert_non_null(path);
    setenv("PATH", "/nonexistent-kvtier-test", 1);
    RUN(&r, "bench", "--tier", name, "--block-bytes", "64k", "--qd", "2", "--total", "1M",
        "--dir", dir, "--json");
    setenv("PATH", path, 1);
    free(path);
    expect_status(__LINE__, &r, 0);
    doc = parse_stdout(__LINE__, &r);
    peer = check_point(__LINE__, doc, name, 65536, 2, 1u << 20);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(peer, "available")));
    assert_string_equal(GET_STR(peer, "reason"), "fio: not found");
    cJSON_Delete(doc);
    run_free(&r);
    /* nothing left behind: not the scratch dir, not the dirs the bench created */
    assert_int_equal(dir_entries(tmp), 0);
    rmdir(tmp);
    free(tmp);
}

static void test_bench_nvme(void **state)
{
    (void)state;
    bench_storage(KVT_TIER_NVME);
}

static void test_bench_pfs(void **state)
{
    (void)state;
    bench_storage(KVT_TIER_PFS);
}

/* ---------------------------------------------------------------------------------------------
 * info
 */

static void test_info_json(void **state)
{
    run_t r;
    (void)state;
    char *tmp = make_tmpdir();
    RUN(&r, "info", "--json", "--dir", tmp);
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    assert_true(GET_NUM(doc, "cores") >= 1);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "numa_nodes")) >= 1);
    assert_true(GET_NUM(doc, "mem_available_bytes") > 0);
    assert_true(GET_NUM(doc, "hugepages_free") <= GET_NUM(doc, "hugepages_total"));
    assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "io_uring"), "works")));
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(doc, "tiers");
    assert_true(cJSON_IsArray(tiers));
    assert_int_equal(cJSON_GetArraySize(tiers), 6);
    static const char *const names[] = {"hbm", "dram", "cxl", "nvme", "pool", "pfs"};
    for (int i = 0; i < 6; i++) {
        const cJSON *t = cJSON_GetArrayItem(tiers, i);
        assert_string_equal(GET_STR(t, "tier"), names[i]);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(t, "available");
        assert_true(cJSON_IsBool(a));
        if (cJSON_IsTrue(a)) {
            /* measured: a detail line and positive bandwidth, unless it failed (then an error) */
            if (cJSON_GetObjectItemCaseSensitive(t, "error") == NULL) {
                assert_true(GET_NUM(t, "write_GBps") > 0);
                assert_true(GET_NUM(t, "read_GBps") > 0);
                (void)GET_STR(t, "detail");
            }
        } else {
            assert_true(strlen(GET_STR(t, "reason")) > 0);
        }
    }
    /* hbm and pool have no backend: unavailable, saying so */
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(tiers, 0),
                                                               "available")));
    assert_non_null(strstr(GET_STR(cJSON_GetArrayItem(tiers, 0), "reason"), "backend"));
    assert_non_null(strstr(GET_STR(cJSON_GetArrayItem(tiers, 4), "reason"), "backend"));
    /* dram capacity is MemAvailable; nvme and pfs have the free space of --dir */
    const cJSON *dram = cJSON_GetArrayItem(tiers, 1);
    assert_true(GET_NUM(dram, "capacity_bytes") > 0);
    assert_true(GET_NUM(cJSON_GetArrayItem(tiers, 3), "capacity_bytes") > 0);
    if (tier_here(KVT_TIER_DRAM, NULL)) {
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dram, "available")));
        assert_null(cJSON_GetObjectItemCaseSensitive(dram, "error"));
    }
    cJSON_Delete(doc);
    run_free(&r);
    assert_int_equal(dir_entries(tmp), 0); /* the scratch directory is gone */
    rmdir(tmp);
    free(tmp);

    RUN(&r, "info");
    expect_status(__LINE__, &r, 0);
    expect_contains(__LINE__, &r, "stdout", r.out, "io_uring");
    expect_contains(__LINE__, &r, "stdout", r.out, "huge pages");
    expect_contains(__LINE__, &r, "stdout", r.out, "pfs");
    run_free(&r);
}

/*
 * info --node: the rows are the description's tiers, each with the capacity it asks for. A node
 * file of two tiers (hbm 80 GB, nvme 1 TiB) checks the order and the figures; h100-node's DRAM
 * row asks 2 TiB (data/nodes/h100-node.json: "2Ti" = 2 * 2^40 bytes).
 */
static void test_info_node(void **state)
{
    run_t r;
    (void)state;
    char *tmp = make_tmpdir();
    char path[4200];
    snprintf(path, sizeof(path), "%s/two.json", tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"name\": \"two\", \"gpu\": \"h100-sxm\", \"instances\": 1, "
          "\"model\": \"llama-3.1-8b\", \"tiers\": ["
          "{\"kind\": \"hbm\", \"capacity\": \"80G\", \"read_GBps\": 3000, "
          "\"write_GBps\": 3000, \"latency_us\": 0, \"layerwise\": true},"
          "{\"kind\": \"nvme\", \"capacity\": \"1Ti\", \"read_GBps\": 6, "
          "\"write_GBps\": 3, \"latency_us\": 80, \"layerwise\": true}]}\n",
          f);
    assert_int_equal(fclose(f), 0);
    RUN(&r, "info", "--json", "--node", path, "--dir", tmp);
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    assert_string_equal(GET_STR(doc, "node"), "two");
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(doc, "tiers");
    assert_int_equal(cJSON_GetArraySize(tiers), 2);
    assert_string_equal(GET_STR(cJSON_GetArrayItem(tiers, 0), "tier"), "hbm");
    assert_string_equal(GET_STR(cJSON_GetArrayItem(tiers, 1), "tier"), "nvme");
    assert_true(GET_NUM(cJSON_GetArrayItem(tiers, 0), "node_capacity_bytes") == 80e9);
    assert_true(GET_NUM(cJSON_GetArrayItem(tiers, 1), "node_capacity_bytes") ==
                1099511627776.0);
    cJSON_Delete(doc);
    run_free(&r);
    unlink(path);

    RUN(&r, "info", "--json", "--node", "h100-node", "--dir", tmp);
    expect_status(__LINE__, &r, 0);
    doc = parse_stdout(__LINE__, &r);
    tiers = cJSON_GetObjectItemCaseSensitive(doc, "tiers");
    assert_int_equal(cJSON_GetArraySize(tiers), 6);
    assert_string_equal(GET_STR(cJSON_GetArrayItem(tiers, 1), "tier"), "dram");
    assert_true(GET_NUM(cJSON_GetArrayItem(tiers, 1), "node_capacity_bytes") ==
                2.0 * 1099511627776.0);
    cJSON_Delete(doc);
    run_free(&r);

    RUN(&r, "info", "--node", "no-such-node");
    EXPECT_USAGE_ERROR(&r, "no-such-node");
    run_free(&r);
    assert_int_equal(dir_entries(tmp), 0);
    rmdir(tmp);
    free(tmp);
}

/* ---------------------------------------------------------------------------------------------
 * bench --replay: the live store driven by a trace
 */

static void test_bench_replay(void **state)
{
    run_t r;
    (void)state;
    char *tmp = make_tmpdir();
    const kvt_tier_kind_t need[] = {KVT_TIER_DRAM, KVT_TIER_CXL, KVT_TIER_NVME, KVT_TIER_PFS};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (!tier_here(need[i], tmp)) {
            rmdir(tmp);
            free(tmp);
            skip();
        }
    }
    const char *src = getenv("KVT_SOURCE_DIR");
    assert_non_null(src);
    char trace[4096];
    snprintf(trace, sizeof(trace), "%s/tests/data/bailian_small.jsonl", src);

    /* the reference: the replay engine on the same node and policy */
    RUN(&r, "replay", "--trace", trace, "--policy", "lru", "--node", "h100-node", "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *ref = parse_stdout(__LINE__, &r);
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(ref, "runs");
    /* runs[0] is the HBM-only baseline, runs[1] lru on every tier */
    const cJSON *lru = cJSON_GetArrayItem(runs, 1);
    assert_non_null(lru);
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(lru, "total");
    double want = GET_NUM(total != NULL ? total : lru, "hit_tokens");
    cJSON_Delete(ref);
    run_free(&r);

    RUN(&r, "bench", "--replay", trace, "--dir", tmp, "--json");
    expect_status(__LINE__, &r, 0);
    cJSON *doc = parse_stdout(__LINE__, &r);
    /* the store on real tiers, one channel, places and hits as the replay engine does */
    assert_true(GET_NUM(doc, "hit_tokens") == want);
    assert_true(GET_NUM(doc, "requests") == 11); /* the file's 11 lines */
    /* llama-3.1-8b: 131072 B per token x 16 tokens = 2 MiB per block, fits unscaled here
       less the 128-byte header inside a 2 MiB record */
    assert_true(GET_NUM(doc, "block_bytes_exact") == 2097152);
    assert_true(GET_NUM(doc, "payload_bytes") <= 2097152);
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(doc, "tiers");
    assert_int_equal(cJSON_GetArraySize(tiers), 5); /* h100-node less the pool */
    assert_string_equal(GET_STR(cJSON_GetArrayItem(tiers, 0), "tier"), "hbm");
    assert_string_equal(GET_STR(cJSON_GetArrayItem(tiers, 0), "backend"), "dram");
    double sum = 0;
    for (int i = 0; i < cJSON_GetArraySize(tiers); i++) {
        sum += GET_NUM(cJSON_GetArrayItem(tiers, i), "hit_tokens");
    }
    assert_true(sum == GET_NUM(doc, "hit_tokens"));
    cJSON_Delete(doc);
    run_free(&r);
    assert_int_equal(dir_entries(tmp), 0);

    RUN(&r, "bench", "--replay", trace, "--qd", "4");
    EXPECT_USAGE_ERROR(&r, "--replay");
    run_free(&r);
    RUN(&r, "bench", "--tier", "dram", "--policy", "lru");
    EXPECT_USAGE_ERROR(&r, "--replay");
    run_free(&r);
    rmdir(tmp);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_parse_bytes),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_bench_dram_json),
        cmocka_unit_test(test_bench_dir_uncreatable),
        cmocka_unit_test(test_bench_nvme),
        cmocka_unit_test(test_bench_pfs),
        cmocka_unit_test(test_info_json),
        cmocka_unit_test(test_info_node),
        cmocka_unit_test(test_bench_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
