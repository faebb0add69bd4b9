/*
 * Crash safety of the persistent tiers (NVMe, PFS): a child process writes blocks with several
 * puts in flight and reports each key on a pipe once its put completed (acknowledged durable);
 * the parent kills it with SIGKILL at a random moment, 50 times per tier. After every kill the
 * parent reopens the tier (recovery) and checks that
 *   - every acknowledged block of every round so far is found, byte for byte; and
 *   - every block the tier reports (scan) reads back either exactly right or as KVT_ERR_CORRUPT:
 *     a torn or wrong block is never served.
 * Payloads are derived from the key (tier_fixture.h), so the parent knows every byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tier_fixture.h"

#include <errno.h>

#define ROUNDS 50
#define PER_ROUND 10000u
#define QD 8
#define MAX_PER_ROUND 4000u /* keys one round may use */

static size_t size_of(uint64_t n)
{
    return 4096 + (size_t)(n * 2654435761u % 61) * 1024 + (n % 3) * 17; /* 4 KiB .. 64 KiB + 34 */
}

static void configure(kvt_tier_config_t *cfg, kvt_tier_kind_t kind, const char *dir)
{
    fx_config(cfg, kind, dir, 512u << 20);
    cfg->durable = true;
    cfg->queue_depth = QD;
}

/* The child: put keys round*PER_ROUND + 0, 1, 2, ... with QD in flight until killed. */
static void writer(kvt_tier_kind_t kind, const char *dir, unsigned round, int fd)
{
    kvt_tier_config_t cfg;
    configure(&cfg, kind, dir);
    kvt_tier_t *t;
    kvt_tier_channel_t *c;
    if (kvt_tier_open(&cfg, &t, NULL) != KVT_OK || kvt_tier_channel_open(t, &c) != KVT_OK) {
        _exit(3);
    }
    kvt_tier_io_t io[QD];
    unsigned char *buf = malloc(QD * (size_t)(70u << 10));
    bool busy[QD] = {false};
    uint64_t next = (uint64_t)round * PER_ROUND;
    for (;;) {
        for (unsigned i = 0; i < QD; i++) {
            if (busy[i]) {
                continue;
            }
            if (next == (uint64_t)round * PER_ROUND + MAX_PER_ROUND) {
                _exit(7); /* more than the parent can recognise: never happens within 45 ms */
            }
            uint64_t n = next++;
            size_t len = size_of(n);
            unsigned char *b = buf + (size_t)i * (70u << 10);
            fx_fill(fx_key(n), b, len);
            memset(&io[i], 0, sizeof(io[i]));
            io[i].op = KVT_TIER_PUT;
            io[i].meta = fx_meta(fx_key(n), b, len);
            io[i].buf = b;
            io[i].len = len;
            io[i].user = (void *)(uintptr_t)n;
            if (kvt_tier_submit(c, &io[i]) != KVT_OK) {
                _exit(4);
            }
            busy[i] = true;
        }
        kvt_tier_io_t *done[QD];
        size_t got = kvt_tier_poll(c, 1, done, QD);
        for (size_t j = 0; j < got; j++) {
            if (done[j]->status != KVT_OK) {
                _exit(5);
            }
            uint64_t n = (uint64_t)(uintptr_t)done[j]->user;
            if (write(fd, &n, sizeof(n)) != (ssize_t)sizeof(n)) {
                _exit(6);
            }
            busy[done[j] - io] = false;
        }
    }
}

/* Every key a writer can have used (round r writes r*PER_ROUND + 0 .. MAX_PER_ROUND-1), sorted
 * for lookup: a block found on the tier must be one of them, with the bytes of its number. */
typedef struct known {
    kvt_key_t key;
    uint64_t n;
} known_t;
static known_t *known;
static size_t nknown;

static int key_cmp(kvt_key_t a, kvt_key_t b)
{
    if (a.hi != b.hi) {
        return a.hi < b.hi ? -1 : 1;
    }
    return a.lo < b.lo ? -1 : a.lo > b.lo;
}

static int known_cmp(const void *a, const void *b)
{
    return key_cmp(((const known_t *)a)->key, ((const known_t *)b)->key);
}

static void known_build(void)
{
    nknown = (size_t)ROUNDS * MAX_PER_ROUND;
    known = malloc(sizeof(*known) * nknown);
    size_t i = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (unsigned j = 0; j < MAX_PER_ROUND; j++) {
            uint64_t n = (uint64_t)r * PER_ROUND + j;
            known[i++] = (known_t){fx_key(n), n};
        }
    }
    qsort(known, nknown, sizeof(*known), known_cmp);
}

typedef struct checker {
    kvt_tier_channel_t *chan;
    unsigned served, corrupt;
} checker_t;

static void check_cb(const kvt_block_meta_t *m, void *arg)
{
    checker_t *k = arg;
    known_t probe = {m->key, 0};
    const known_t *w = bsearch(&probe, known, nknown, sizeof(*known), known_cmp);
    assert_non_null(w); /* only keys the writers used */
    unsigned char *buf = malloc(m->payload_bytes + 1);
    kvt_tier_io_t io;
    memset(&io, 0, sizeof(io));
    io.op = KVT_TIER_GET;
    io.meta.key = m->key;
    io.buf = buf;
    io.len = m->payload_bytes;
    kvt_status_t st = kvt_tier_run(k->chan, &io);
    if (st == KVT_OK) {
        assert_int_equal(io.len, size_of(w->n));
        assert_true(fx_check(m->key, buf, io.len));
        k->served++;
    } else {
        assert_true(st == KVT_ERR_CORRUPT || st == KVT_ERR_NOT_FOUND);
        k->corrupt++;
    }
    free(buf);
}

static void crash_rounds(kvt_tier_kind_t kind)
{
    if (!fx_available(kind)) {
        skip();
    }
    char dir[128];
    fx_mkdtemp(dir);
    kvt_tier_config_t cfg;
    configure(&cfg, kind, dir);
    known_build();
    uint64_t *acked = malloc(sizeof(uint64_t) * ROUNDS * MAX_PER_ROUND);
    size_t nacked = 0;
    unsigned seed = 12345;
    for (unsigned round = 0; round < ROUNDS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            writer(kind, dir, round, p[1]);
        }
        close(p[1]);
        /* kill after 5..45 ms: with opening, before, during and after the first puts; it must
           die of the kill, not of a failure of its own */
        int status;
        assert_true(fx_kill_after(pid, &seed, 5, 41, &status));
        uint64_t n;
        ssize_t r;
        while ((r = read(p[0], &n, sizeof(n))) == (ssize_t)sizeof(n)) {
            assert_true(nacked < (size_t)ROUNDS * MAX_PER_ROUND);
            acked[nacked++] = n;
        }
        assert_int_equal(r, 0);
        close(p[0]);

        kvt_tier_t *t;
        kvt_tier_channel_t *c;
        kvt_error_t err;
        if (kvt_tier_open(&cfg, &t, &err) != KVT_OK) {
            fail_msg("round %u: reopen: %s", round, err.message);
        }
        assert_int_equal(kvt_tier_channel_open(t, &c), KVT_OK);
        for (size_t i = 0; i < nacked; i++) {
            kvt_status_t st = fx_get(c, fx_key(acked[i]), 70u << 10, size_of(acked[i]));
            if (st != KVT_OK) {
                fail_msg("round %u: acknowledged block %llu lost: %s", round,
                         (unsigned long long)acked[i], kvt_status_str(st));
            }
        }
        if (round % 10 == 9 || round == ROUNDS - 1) {
            checker_t k = {.chan = c};
            assert_int_equal(kvt_tier_scan(t, check_cb, &k), KVT_OK);
            assert_true(k.served >= nacked);
        }
        kvt_tier_channel_close(c);
        kvt_tier_close(t);
    }
    printf("%s: %u kills, %zu acknowledged blocks all found\n", kvt_tier_kind_name(kind), ROUNDS,
           nacked);
    free(acked);
    free(known);
    fx_rmtree(dir);
}

static void test_crash_nvme(void **state)
{
    (void)state;
    crash_rounds(KVT_TIER_NVME);
}

static void test_crash_pfs(void **state)
{
    (void)state;
    crash_rounds(KVT_TIER_PFS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_nvme),
        cmocka_unit_test(test_crash_pfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
