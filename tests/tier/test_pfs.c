/*
 * The parallel-filesystem tier: round trips, the on-disk layout (paths computed by hand from the
 * key's hex), write-once semantics, corruption and truncation (never served), other processes
 * publishing and reading without coordination (fork + exec of this binary in a child mode),
 * capacity accounting across reopen, fault injection through kvt_sys (ENOSPC, a torn write
 * followed by a failing fsync, a failing rename, read errors), leftover temporaries, a tree
 * removed under an open tier, the format marker, probe and scan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tier/tier_fixture.h"

#include "common/sysio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

/* Library messages are counted, not printed (the fault tests provoke many). */
static atomic_int n_logged_errors;
static void count_log(kvt_log_level_t level, const char *msg, void *arg)
{
    (void)msg, (void)arg;
    if (level == KVT_LOG_ERROR) {
        atomic_fetch_add(&n_logged_errors, 1);
    }
}

#define REC(len) ((uint64_t)KVT_BLOCK_HEADER_BYTES + (uint64_t)(len))

typedef struct fixture {
    char dir[128];
    kvt_tier_config_t cfg;
    kvt_tier_t *tier;
    kvt_tier_channel_t *chan;
} fixture_t;

static void fx_open(fixture_t *f)
{
    kvt_error_t err;
    kvt_status_t st = kvt_tier_open(&f->cfg, &f->tier, &err);
    if (st != KVT_OK) {
        fail_msg("open: %s", err.message);
    }
    assert_int_equal(kvt_tier_channel_open(f->tier, &f->chan), KVT_OK);
}

static void fx_close(fixture_t *f)
{
    kvt_tier_channel_close(f->chan);
    kvt_tier_close(f->tier);
    f->chan = NULL;
    f->tier = NULL;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    fx_mkdtemp(f->dir);
    fx_config(&f->cfg, KVT_TIER_PFS, f->dir, 64u << 20);
    fx_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    kvt_sys_reset();
    fx_close(f);
    fx_rmtree(f->dir);
    free(f);
    return 0;
}

static kvt_tier_info_t info_of(fixture_t *f)
{
    kvt_tier_info_t info;
    kvt_tier_info(f->tier, &info);
    return info;
}

/* <dir>/<hex 0-1>/<hex 2-3>/<hex>.kvb, hex = hi then lo. */
static void path_of(const fixture_t *f, kvt_key_t k, char *out, size_t len)
{
    char hex[33];
    snprintf(hex, sizeof(hex), "%016llx%016llx", (unsigned long long)k.hi,
             (unsigned long long)k.lo);
    snprintf(out, len, "%s/%.2s/%.2s/%s.kvb", f->dir, hex, hex + 2, hex);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Files in the tree whose names start with ".tmp." / end with ".kvb". */
static size_t n_temps, n_records;
static int count_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    const char *name = p + ftw->base;
    if (flag == FTW_F) {
        n_temps += strncmp(name, ".tmp.", 5) == 0;
        size_t n = strlen(name);
        n_records += n == 36 && strcmp(name + 32, ".kvb") == 0;
    }
    return 0;
}

static void count_files(const char *dir, size_t *temps_p, size_t *records_p)
{
    n_temps = n_records = 0;
    (void)nftw(dir, count_one, 16, FTW_PHYS);
    *temps_p = n_temps;
    *records_p = n_records;
}

/* ---- child processes (this binary re-executed with a mode) ------------------------------- */

/* child-put/child-get DIR FIRST COUNT LEN BARRIER_FD: put (or get and check) keys
 * fx_key(FIRST .. FIRST+COUNT-1) of LEN bytes, after reading EOF from BARRIER_FD (if >= 0). */
static int child_main(int argc, char **argv)
{
    if (argc != 7) {
        return 2;
    }
    const char *mode = argv[1];
    uint64_t first = strtoull(argv[3], NULL, 10), count = strtoull(argv[4], NULL, 10);
    size_t len = strtoull(argv[5], NULL, 10);
    int barrier = atoi(argv[6]);
    fixture_t f;
    memset(&f, 0, sizeof(f));
    snprintf(f.dir, sizeof(f.dir), "%s", argv[2]);
    fx_config(&f.cfg, KVT_TIER_PFS, f.dir, 64u << 20);
    fx_open(&f);
    if (barrier >= 0) {
        char c;
        while (read(barrier, &c, 1) > 0) {
        }
    }
    int rc = 0;
    for (uint64_t i = first; i < first + count; i++) {
        kvt_status_t st = strcmp(mode, "child-put") == 0 ? fx_put(f.chan, fx_key(i), len)
                                                         : fx_get(f.chan, fx_key(i), len, len);
        if (st != KVT_OK) {
            fprintf(stderr, "%s: key %llu: %s\n", mode, (unsigned long long)i,
                    kvt_status_name(st));
            rc = 1;
        }
    }
    fx_close(&f);
    return rc;
}

static pid_t spawn(const char *mode, const char *dir, uint64_t first, uint64_t count, size_t len,
                   int barrier_rd, int barrier_wr)
{
    char a_first[32], a_count[32], a_len[32], a_fd[16];
    snprintf(a_first, sizeof(a_first), "%llu", (unsigned long long)first);
    snprintf(a_count, sizeof(a_count), "%llu", (unsigned long long)count);
    snprintf(a_len, sizeof(a_len), "%zu", len);
    snprintf(a_fd, sizeof(a_fd), "%d", barrier_rd);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (barrier_wr >= 0) {
            close(barrier_wr);
        }
        execl("/proc/self/exe", "test_pfs", mode, dir, a_first, a_count, a_len, a_fd,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void wait_ok(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
    fixture_t *f = *state;
    static const size_t sizes[] = {0, 1, 4095, 4096, 65543, 1u << 20, 2u << 20};
    uint64_t want_used = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        assert_int_equal(fx_put(f->chan, fx_key(i), sizes[i]), KVT_OK);
        want_used += REC(sizes[i]);
    }
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        assert_int_equal(fx_get(f->chan, fx_key(i), sizes[i] + 10, sizes[i]), KVT_OK);
        assert_true(kvt_tier_contains(f->tier, fx_key(i)));
    }
    kvt_tier_info_t info = info_of(f);
    /* 7 records; used = sum(128 + size) */
    assert_int_equal(info.blocks, 7);
    assert_int_equal(info.used_bytes, want_used);
    assert_int_equal(info.errors, 0);
    assert_string_equal(info.name, "pfs");
    assert_non_null(strstr(info.detail, "directory "));
    assert_non_null(strstr(info.detail, f->dir));
    assert_non_null(strstr(info.detail, "fan-out"));
    assert_non_null(strstr(info.detail, "fsync+rename"));
}

static void test_layout(void **state)
{
    fixture_t *f = *state;
    kvt_key_t k = {.lo = 0x0123456789abcdefull, .hi = 0xfedcba9876543210ull};
    assert_int_equal(fx_put(f->chan, k, 1000), KVT_OK);
    /* kvt_key_format: hi then lo -> "fedcba9876543210" "0123456789abcdef" */
    char path[512];
    snprintf(path, sizeof(path), "%s/fe/dc/fedcba98765432100123456789abcdef.kvb", f->dir);
    assert_int_equal(file_size(path), 128 + 1000);
    unsigned char head[8];
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(head, 1, 8, fp), 8);
    fclose(fp);
    assert_memory_equal(head, "KVTBLK01", 8);
    /* marker at the root, format 1 */
    char marker[512], text[64] = {0};
    snprintf(marker, sizeof(marker), "%s/KVTIER-PFS", f->dir);
    fp = fopen(marker, "r");
    assert_non_null(fp);
    assert_non_null(fgets(text, sizeof(text), fp));
    fclose(fp);
    assert_string_equal(text, "kvtier-pfs 1\n");
    size_t temps, records;
    count_files(f->dir, &temps, &records);
    assert_int_equal(temps, 0);
    assert_int_equal(records, 1);
}

static void test_duplicate_put(void **state)
{
    fixture_t *f = *state;
    kvt_key_t k = fx_key(42);
    char path[512];
    path_of(f, k, path, sizeof(path));
    assert_int_equal(fx_put(f->chan, k, 3000), KVT_OK);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    assert_int_equal(fx_put(f->chan, k, 3000), KVT_OK);
    assert_int_equal(stat(path, &after), 0);
    /* a rewrite would rename a new inode over the old one */
    assert_int_equal(before.st_ino, after.st_ino);
    kvt_tier_info_t info = info_of(f);
    assert_int_equal(info.blocks, 1);
    assert_int_equal(info.used_bytes, REC(3000));
}

static void test_not_found_does_not_fit(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fx_get(f->chan, fx_key(1), 100, 100), KVT_ERR_NOT_FOUND);
    assert_false(kvt_tier_contains(f->tier, fx_key(1)));
    assert_int_equal(kvt_tier_remove(f->tier, fx_key(1)), KVT_ERR_NOT_FOUND);
    assert_int_equal(fx_put(f->chan, fx_key(2), 5000), KVT_OK);
    assert_int_equal(fx_get(f->chan, fx_key(2), 4999, 5000), KVT_ERR_DOES_NOT_FIT);
    assert_int_equal(fx_get(f->chan, fx_key(2), 5000, 5000), KVT_OK);
    assert_int_equal(info_of(f).errors, 0);
    assert_int_equal(kvt_tier_remove(f->tier, fx_key(2)), KVT_OK);
    assert_int_equal(fx_get(f->chan, fx_key(2), 5000, 5000), KVT_ERR_NOT_FOUND);
    kvt_tier_info_t info = info_of(f);
    assert_int_equal(info.blocks, 0);
    assert_int_equal(info.used_bytes, 0);
}

static void poke(const char *path, off_t off, unsigned char x)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= x;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void test_corrupt_payload(void **state)
{
    fixture_t *f = *state;
    char path[512];
    kvt_key_t k = fx_key(7);
    path_of(f, k, path, sizeof(path));
    assert_int_equal(fx_put(f->chan, k, 10000), KVT_OK);
    assert_int_equal(fx_put(f->chan, fx_key(8), 10000), KVT_OK);
    poke(path, 128 + 5000, 0x01);
    assert_int_equal(fx_get(f->chan, k, 10000, 10000), KVT_ERR_CORRUPT);
    assert_int_equal(file_size(path), -1); /* dropped */
    assert_int_equal(fx_get(f->chan, k, 10000, 10000), KVT_ERR_NOT_FOUND);
    kvt_tier_info_t info = info_of(f);
    assert_int_equal(info.errors, 1);
    assert_int_equal(info.blocks, 1); /* key 8 left */
    assert_int_equal(info.used_bytes, REC(10000));
    /* a flipped header byte (inside the key) fails the header checksum */
    path_of(f, fx_key(8), path, sizeof(path));
    poke(path, 20, 0x80);
    assert_int_equal(fx_get(f->chan, fx_key(8), 10000, 10000), KVT_ERR_CORRUPT);
    assert_int_equal(fx_get(f->chan, fx_key(8), 10000, 10000), KVT_ERR_NOT_FOUND);
    info = info_of(f);
    assert_int_equal(info.errors, 2);
    assert_int_equal(info.blocks, 0);
    assert_int_equal(info.used_bytes, 0);
}

static void test_truncated_and_misplaced(void **state)
{
    fixture_t *f = *state;
    char path[512], other[512];
    kvt_key_t k = fx_key(9);
    path_of(f, k, path, sizeof(path));
    assert_int_equal(fx_put(f->chan, k, 10000), KVT_OK);
    assert_int_equal(truncate(path, 128 + 5000), 0);
    assert_int_equal(fx_get(f->chan, k, 10000, 10000), KVT_ERR_CORRUPT);
    assert_int_equal(fx_get(f->chan, k, 10000, 10000), KVT_ERR_NOT_FOUND);
    assert_int_equal(fx_put(f->chan, k, 10000), KVT_OK);
    assert_int_equal(truncate(path, 50), 0); /* partial header */
    assert_int_equal(fx_get(f->chan, k, 10000, 10000), KVT_ERR_CORRUPT);
    assert_int_equal(fx_get(f->chan, k, 10000, 10000), KVT_ERR_NOT_FOUND);
    /* a valid record of key 10 under key 11's name: the header names another key */
    assert_int_equal(fx_put(f->chan, fx_key(10), 2000), KVT_OK);
    path_of(f, fx_key(10), path, sizeof(path));
    path_of(f, fx_key(11), other, sizeof(other));
    char leaf[512];
    snprintf(leaf, sizeof(leaf), "%s", other);
    *strrchr(leaf, '/') = '\0';
    char l1[512];
    snprintf(l1, sizeof(l1), "%s", leaf);
    *strrchr(l1, '/') = '\0';
    (void)mkdir(l1, 0777);
    (void)mkdir(leaf, 0777);
    assert_int_equal(rename(path, other), 0);
    assert_int_equal(fx_get(f->chan, fx_key(11), 10000, 2000), KVT_ERR_CORRUPT);
    assert_int_equal(fx_get(f->chan, fx_key(10), 10000, 2000), KVT_ERR_NOT_FOUND);
    assert_int_equal(info_of(f).errors, 3);
}

static void test_async_busy(void **state)
{
    fixture_t *f = *state;
    /* queue_depth 8 (fx_config): 8 accepted, the 9th BUSY; each comes back exactly once */
    enum { QD = 8, LEN = 20000 };
    kvt_tier_io_t ios[QD + 1];
    unsigned char *bufs[QD + 1];
    int seen[QD + 1] = {0};
    for (int i = 0; i <= QD; i++) {
        bufs[i] = malloc(LEN);
        fx_fill(fx_key(100 + (uint64_t)i), bufs[i], LEN);
        memset(&ios[i], 0, sizeof(ios[i]));
        ios[i].op = KVT_TIER_PUT;
        ios[i].meta = fx_meta(fx_key(100 + (uint64_t)i), bufs[i], LEN);
        ios[i].buf = bufs[i];
        ios[i].len = LEN;
        ios[i].user = &seen[i];
    }
    for (int i = 0; i < QD; i++) {
        assert_int_equal(kvt_tier_submit(f->chan, &ios[i]), KVT_OK);
    }
    assert_int_equal(kvt_tier_submit(f->chan, &ios[QD]), KVT_ERR_BUSY);
    size_t got = 0;
    while (got < QD) {
        kvt_tier_io_t *done[QD + 4];
        size_t n = kvt_tier_poll(f->chan, 1, done, QD + 4);
        assert_true(n >= 1);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(done[j]->status, KVT_OK);
            (*(int *)done[j]->user)++;
        }
        got += n;
    }
    kvt_tier_io_t *none[2];
    assert_int_equal(kvt_tier_poll(f->chan, 0, none, 2), 0);
    assert_int_equal(kvt_tier_poll(f->chan, 5, none, 2), 0); /* nothing in flight: no wait */
    for (int i = 0; i < QD; i++) {
        assert_int_equal(seen[i], 1);
    }
    assert_int_equal(seen[QD], 0);
    /* read them back concurrently */
    for (int i = 0; i < QD; i++) {
        memset(bufs[i], 0, LEN);
        ios[i].op = KVT_TIER_GET;
        ios[i].len = LEN;
        assert_int_equal(kvt_tier_submit(f->chan, &ios[i]), KVT_OK);
    }
    kvt_tier_io_t *done[QD];
    got = 0;
    while (got < QD) {
        got += kvt_tier_poll(f->chan, QD - got, done + got, QD - got);
    }
    for (int i = 0; i < QD; i++) {
        assert_int_equal(ios[i].status, KVT_OK);
        assert_true(fx_check(fx_key(100 + (uint64_t)i), bufs[i], LEN));
    }
    for (int i = 0; i <= QD; i++) {
        free(bufs[i]);
    }
    assert_int_equal(info_of(f).blocks, QD);
}

static void test_other_process(void **state)
{
    fixture_t *f = *state;
    /* a child publishes keys 200..219; this tier, opened before, reads them */
    wait_ok(spawn("child-put", f->dir, 200, 20, 30000, -1, -1));
    for (uint64_t i = 200; i < 220; i++) {
        assert_true(kvt_tier_contains(f->tier, fx_key(i)));
        assert_int_equal(fx_get(f->chan, fx_key(i), 30000, 30000), KVT_OK);
    }
    /* not counted in this process's view */
    assert_int_equal(info_of(f).blocks, 0);
    /* and the other way round */
    for (uint64_t i = 300; i < 320; i++) {
        assert_int_equal(fx_put(f->chan, fx_key(i), 12345), KVT_OK);
    }
    wait_ok(spawn("child-get", f->dir, 300, 20, 12345, -1, -1));
}

static void test_two_processes_same_keys(void **state)
{
    fixture_t *f = *state;
    /* two children publish the same 64 keys at the same moment (released by closing a pipe) */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t a = spawn("child-put", f->dir, 400, 64, 50000, fds[0], fds[1]);
    pid_t b = spawn("child-put", f->dir, 400, 64, 50000, fds[0], fds[1]);
    close(fds[0]);
    usleep(100 * 1000);
    close(fds[1]);
    wait_ok(a);
    wait_ok(b);
    for (uint64_t i = 400; i < 464; i++) {
        assert_int_equal(fx_get(f->chan, fx_key(i), 50000, 50000), KVT_OK);
    }
    size_t temps, records;
    count_files(f->dir, &temps, &records);
    assert_int_equal(temps, 0);
    assert_int_equal(records, 64);
}

typedef struct put_thread {
    kvt_tier_t *tier;
    int failures;
} put_thread_t;

static void *put_same_keys(void *arg)
{
    put_thread_t *t = arg;
    kvt_tier_channel_t *chan;
    if (kvt_tier_channel_open(t->tier, &chan) != KVT_OK) {
        t->failures++;
        return NULL;
    }
    for (uint64_t i = 500; i < 564; i++) {
        t->failures += fx_put(chan, fx_key(i), 4096) != KVT_OK;
    }
    kvt_tier_channel_close(chan);
    return NULL;
}

static void test_threads_same_keys(void **state)
{
    fixture_t *f = *state;
    /* 4 channels put the same 64 keys: one record each, counted once */
    put_thread_t t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (put_thread_t){.tier = f->tier};
        assert_int_equal(pthread_create(&th[i], NULL, put_same_keys, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].failures, 0);
    }
    kvt_tier_info_t info = info_of(f);
    assert_int_equal(info.blocks, 64);
    assert_int_equal(info.used_bytes, 64 * REC(4096)); /* 64 * 4224 = 270336 */
    size_t temps, records;
    count_files(f->dir, &temps, &records);
    assert_int_equal(temps, 0);
    assert_int_equal(records, 64);
}

static void test_reopen(void **state)
{
    fixture_t *f = *state;
    uint64_t want = 0;
    for (uint64_t i = 0; i < 10; i++) {
        assert_int_equal(fx_put(f->chan, fx_key(600 + i), 1000 * (i + 1)), KVT_OK);
        want += REC(1000 * (i + 1)); /* 10 * 128 + 1000 * 55 = 56280 */
    }
    assert_int_equal(want, 56280);
    fx_close(f);
    fx_open(f);
    kvt_tier_info_t info = info_of(f);
    assert_int_equal(info.blocks, 10);
    assert_int_equal(info.used_bytes, 56280);
    for (uint64_t i = 0; i < 10; i++) {
        assert_int_equal(fx_get(f->chan, fx_key(600 + i), 20000, 1000 * (i + 1)), KVT_OK);
    }
}

static void test_no_space(void **state)
{
    fixture_t *f = *state;
    fx_close(f);
    f->cfg.capacity_bytes = 3 * REC(4096); /* 12672: room for exactly three */
    fx_open(f);
    for (uint64_t i = 0; i < 3; i++) {
        assert_int_equal(fx_put(f->chan, fx_key(700 + i), 4096), KVT_OK);
    }
    assert_int_equal(fx_put(f->chan, fx_key(703), 4096), KVT_ERR_NO_SPACE);
    assert_false(kvt_tier_contains(f->tier, fx_key(703)));
    assert_int_equal(fx_put(f->chan, fx_key(704), 1), KVT_ERR_NO_SPACE);
    assert_int_equal(kvt_tier_remove(f->tier, fx_key(701)), KVT_OK);
    assert_int_equal(fx_put(f->chan, fx_key(703), 4096), KVT_OK);
    kvt_tier_info_t info = info_of(f);
    assert_int_equal(info.used_bytes, 12672);
    assert_int_equal(info.blocks, 3);
    assert_int_equal(info.errors, 0); /* capacity is not an I/O error */
}

static ssize_t enospc_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    (void)fd, (void)buf, (void)len, (void)off;
    errno = ENOSPC;
    return -1;
}

/* writes half and claims all of it */
static ssize_t torn_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    ssize_t r = pwrite(fd, buf, len / 2, off);
    (void)r;
    return (ssize_t)len;
}

static int eio_fsync(int fd)
{
    (void)fd;
    errno = EIO;
    return -1;
}

static int eio_rename(const char *a, const char *b)
{
    (void)a, (void)b;
    errno = EIO;
    return -1;
}

static void assert_nothing_published(fixture_t *f, kvt_key_t k, size_t want_records)
{
    assert_false(kvt_tier_contains(f->tier, k));
    assert_int_equal(fx_get(f->chan, k, 10000, 10000), KVT_ERR_NOT_FOUND);
    size_t temps, records;
    count_files(f->dir, &temps, &records);
    assert_int_equal(temps, 0);
    assert_int_equal(records, want_records);
}

static void test_faults_write(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fx_put(f->chan, fx_key(800), 10000), KVT_OK);

    kvt_sys.pwrite = enospc_pwrite;
    assert_int_equal(fx_put(f->chan, fx_key(801), 10000), KVT_ERR_NO_SPACE);
    kvt_sys_reset();
    assert_nothing_published(f, fx_key(801), 1);

    kvt_sys.pwrite = torn_pwrite; /* durable (default): the fsync fails */
    kvt_sys.fsync = eio_fsync;
    assert_int_equal(fx_put(f->chan, fx_key(802), 10000), KVT_ERR_IO);
    kvt_sys_reset();
    assert_nothing_published(f, fx_key(802), 1);

    kvt_sys.rename = eio_rename;
    assert_int_equal(fx_put(f->chan, fx_key(803), 10000), KVT_ERR_IO);
    kvt_sys_reset();
    assert_nothing_published(f, fx_key(803), 1);

    kvt_tier_info_t info = info_of(f);
    assert_int_equal(info.blocks, 1);
    assert_int_equal(info.used_bytes, REC(10000));
    assert_int_equal(info.errors, 3);
    /* the tier still works, and the failed keys can be put now */
    assert_int_equal(fx_put(f->chan, fx_key(802), 10000), KVT_OK);
    assert_int_equal(fx_get(f->chan, fx_key(802), 10000, 10000), KVT_OK);
}

static void test_torn_write_not_durable(void **state)
{
    fixture_t *f = *state;
    fx_close(f);
    f->cfg.durable = false;
    fx_open(f);
    assert_non_null(strstr(info_of(f).detail, "not durable"));
    /* no fsync to fail: the torn record is published, and a GET must refuse it */
    kvt_sys.pwrite = torn_pwrite;
    assert_int_equal(fx_put(f->chan, fx_key(900), 10000), KVT_OK);
    kvt_sys_reset();
    assert_int_equal(fx_get(f->chan, fx_key(900), 10000, 10000), KVT_ERR_CORRUPT);
    assert_int_equal(fx_get(f->chan, fx_key(900), 10000, 10000), KVT_ERR_NOT_FOUND);
    assert_int_equal(info_of(f).errors, 1);
}

static ssize_t eio_pread(int fd, void *buf, size_t len, off_t off)
{
    (void)fd, (void)buf, (void)len, (void)off;
    errno = EIO;
    return -1;
}

static ssize_t eof_pread(int fd, void *buf, size_t len, off_t off)
{
    /* the header reads whole, the payload hits end of file at once */
    return off == 0 ? pread(fd, buf, len, off) : 0;
}

static void test_faults_read(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fx_put(f->chan, fx_key(1000), 10000), KVT_OK);
    kvt_sys.pread = eio_pread;
    assert_int_equal(fx_get(f->chan, fx_key(1000), 10000, 10000), KVT_ERR_IO);
    kvt_sys_reset();
    /* EIO may be transient: the record stays */
    assert_true(kvt_tier_contains(f->tier, fx_key(1000)));
    assert_int_equal(fx_get(f->chan, fx_key(1000), 10000, 10000), KVT_OK);
    kvt_sys.pread = eof_pread;
    assert_int_equal(fx_get(f->chan, fx_key(1000), 10000, 10000), KVT_ERR_CORRUPT);
    kvt_sys_reset();
    assert_int_equal(info_of(f).errors, 2);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, out), n);
    }
    fclose(in);
    fclose(out);
}

static void test_temp_files(void **state)
{
    fixture_t *f = *state;
    char a[512], b[512], fresh[512], old[512];
    assert_int_equal(fx_put(f->chan, fx_key(1100), 5000), KVT_OK);
    assert_int_equal(fx_put(f->chan, fx_key(1101), 6000), KVT_OK);
    path_of(f, fx_key(1100), a, sizeof(a));
    path_of(f, fx_key(1101), b, sizeof(b));
    /* turn key 1101's record into a fresh temporary, and a copy into one two hours old */
    snprintf(fresh, sizeof(fresh), "%s", b);
    snprintf(strrchr(fresh, '/'), 64, "/.tmp.99999.1.1.00000000deadbeef");
    snprintf(old, sizeof(old), "%s", b);
    snprintf(strrchr(old, '/'), 64, "/.tmp.99999.1.2.00000000deadbeef");
    copy_file(b, old); /* a copy, not a link: the two need their own mtimes */
    assert_int_equal(rename(b, fresh), 0);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 2 * 3600;
    tv[1] = tv[0];
    assert_int_equal(utimes(old, tv), 0);
    /* never served */
    assert_false(kvt_tier_contains(f->tier, fx_key(1101)));
    assert_int_equal(fx_get(f->chan, fx_key(1101), 6000, 6000), KVT_ERR_NOT_FOUND);
    /* never counted: reopen sees one record of 128 + 5000; the old temporary is swept */
    fx_close(f);
    fx_open(f);
    kvt_tier_info_t info = info_of(f);
    assert_int_equal(info.blocks, 1);
    assert_int_equal(info.used_bytes, REC(5000));
    assert_int_equal(file_size(old), -1);
    assert_int_equal(file_size(fresh), 128 + 6000);
    (void)a;
}

static void test_vanished_dir(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(fx_put(f->chan, fx_key(1200), 5000), KVT_OK);
    fx_rmtree(f->dir);
    int logged_before = atomic_load(&n_logged_errors);
    assert_int_equal(fx_put(f->chan, fx_key(1201), 5000), KVT_ERR_IO);
    assert_int_equal(fx_put(f->chan, fx_key(1201), 5000), KVT_ERR_IO);
    assert_true(atomic_load(&n_logged_errors) > logged_before); /* an error was logged */
    struct stat sb;
    assert_int_equal(stat(f->dir, &sb), -1); /* not recreated */
    assert_int_equal(fx_get(f->chan, fx_key(1200), 5000, 5000), KVT_ERR_NOT_FOUND);
    assert_false(kvt_tier_contains(f->tier, fx_key(1200)));
    assert_int_equal(kvt_tier_remove(f->tier, fx_key(1200)), KVT_ERR_NOT_FOUND);
    assert_int_equal(kvt_tier_scan(f->tier, NULL, NULL), KVT_ERR_IO);
    kvt_tier_info_t info = info_of(f);
    assert_true(info.errors >= 2);
    /* teardown removes nothing more; recreate the dir so rmtree has something */
    assert_int_equal(mkdir(f->dir, 0700), 0);
}

static void test_format_marker(void **state)
{
    fixture_t *f = *state;
    char dir[256], path[300];
    kvt_tier_t *t = NULL;
    kvt_error_t err;
    kvt_tier_config_t cfg = f->cfg;
    /* another format version */
    snprintf(dir, sizeof(dir), "%s/v2", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/KVTIER-PFS", dir);
    FILE *fp = fopen(path, "w");
    fputs("kvtier-pfs 2\n", fp);
    fclose(fp);
    cfg.dir = dir;
    assert_int_equal(kvt_tier_open(&cfg, &t, &err), KVT_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "format version 2"));
    /* someone else's directory */
    snprintf(dir, sizeof(dir), "%s/foreign", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/data.bin", dir);
    fp = fopen(path, "w");
    fclose(fp);
    assert_int_equal(kvt_tier_open(&cfg, &t, &err), KVT_ERR_INVALID);
    assert_non_null(strstr(err.message, "not empty"));
    /* a missing directory is created, with its marker */
    snprintf(dir, sizeof(dir), "%s/new/deeper", f->dir);
    assert_int_equal(kvt_tier_open(&cfg, &t, &err), KVT_OK);
    kvt_tier_close(t);
    snprintf(path, sizeof(path), "%s/KVTIER-PFS", dir);
    assert_true(file_size(path) > 0);
}

static void test_probe(void **state)
{
    fixture_t *f = *state;
    char dir[256], why[256];
    kvt_tier_config_t cfg = f->cfg;
    struct stat sb;
    /* a directory that does not exist yet: OK, and nothing is left behind */
    snprintf(dir, sizeof(dir), "%s/p/q", f->dir);
    cfg.dir = dir;
    assert_int_equal(kvt_tier_probe(&cfg, why, sizeof(why)), KVT_OK);
    snprintf(dir, sizeof(dir), "%s/p", f->dir);
    assert_int_equal(stat(dir, &sb), -1);
    /* an existing one: OK, still holding only what it held */
    size_t temps, records;
    cfg.dir = f->dir;
    assert_int_equal(kvt_tier_probe(&cfg, why, sizeof(why)), KVT_OK);
    count_files(f->dir, &temps, &records);
    assert_int_equal(temps, 0);
    /* under a regular file */
    char file[256];
    snprintf(file, sizeof(file), "%s/plain", f->dir);
    FILE *fp = fopen(file, "w");
    fclose(fp);
    snprintf(dir, sizeof(dir), "%s/plain/sub", f->dir);
    cfg.dir = dir;
    assert_int_equal(kvt_tier_probe(&cfg, why, sizeof(why)), KVT_ERR_UNAVAILABLE);
    assert_true(strncmp(why, "pfs: ", 5) == 0);
    assert_non_null(strstr(why, "Not a directory"));
    cfg.dir = NULL;
    assert_int_equal(kvt_tier_probe(&cfg, why, sizeof(why)), KVT_ERR_UNAVAILABLE);
    unlink(file);
}

typedef struct scan_seen {
    int n;
    uint64_t bytes;
    bool ok;
} scan_seen_t;

static void on_scan(const kvt_block_meta_t *m, void *arg)
{
    scan_seen_t *s = arg;
    s->n++;
    s->bytes += m->payload_bytes;
    /* keys 1300..1304 have payload 1000 * (i - 1299) and tenant 7 (fx_meta) */
    bool known = false;
    for (uint64_t i = 1300; i < 1305; i++) {
        known |= kvt_key_equal(m->key, fx_key(i)) && m->payload_bytes == 1000 * (i - 1299);
    }
    s->ok &= known && m->tenant == 7;
}

static void test_scan(void **state)
{
    fixture_t *f = *state;
    for (uint64_t i = 1300; i < 1305; i++) {
        assert_int_equal(fx_put(f->chan, fx_key(i), 1000 * (i - 1299)), KVT_OK);
    }
    char path[512];
    path_of(f, fx_key(1302), path, sizeof(path)); /* payload 3000 */
    poke(path, 0, 0xff);
    scan_seen_t s = {.ok = true};
    assert_int_equal(kvt_tier_scan(f->tier, on_scan, &s), KVT_OK);
    /* 4 good records: 1000 + 2000 + 4000 + 5000 = 12000 payload bytes */
    assert_int_equal(s.n, 4);
    assert_int_equal(s.bytes, 12000);
    assert_true(s.ok);
    assert_int_equal(info_of(f).errors, 1);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strncmp(argv[1], "child-", 6) == 0) {
        return child_main(argc, argv);
    }
    kvt_log_set_handler(count_log, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_does_not_fit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_misplaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_processes_same_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_same_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_write_not_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_temp_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vanished_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_marker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
