/*
 * Helpers shared by the tier tests: a scratch directory per test, tier configurations small
 * enough for tests, payloads derived from their key so a reader can check every byte without
 * remembering what was written, and the crash tests' kill of a writer. Include after cmocka.h.
 */
#ifndef KVT_TESTS_TIER_FIXTURE_H
#define KVT_TESTS_TIER_FIXTURE_H

#include <kvtier/kvtier.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); path must hold 128 bytes. */
static inline void fx_mkdtemp(char *path)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, 128, "%s/kvt_tier_XXXXXX", dir && dir[0] && strlen(dir) < 64 ? dir : "/tmp");
    assert_non_null(mkdtemp(path));
}

static inline int fx_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* rm -rf path */
static inline void fx_rmtree(const char *path)
{
    (void)nftw(path, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* splitmix64: the payload stream of a key (independent of the library's hashes). */
static inline uint64_t fx_mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline kvt_key_t fx_key(uint64_t n)
{
    uint64_t s = n * 0x2545f4914f6cdd1dull + 17;
    kvt_key_t k = {fx_mix(&s), fx_mix(&s)};
    return k;
}

/* Fill buf with the bytes of key's block. */
static inline void fx_fill(kvt_key_t key, void *buf, size_t len)
{
    uint64_t s = key.lo ^ key.hi;
    unsigned char *p = buf;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = fx_mix(&s);
        memcpy(p + i, &v, 8);
    }
    uint64_t v = fx_mix(&s);
    memcpy(p + i, &v, len - i);
}

/* Whether buf holds exactly key's block of len bytes. */
static inline bool fx_check(kvt_key_t key, const void *buf, size_t len)
{
    unsigned char *want = malloc(len + 8);
    fx_fill(key, want, len);
    bool ok = memcmp(want, buf, len) == 0;
    free(want);
    return ok;
}

/* The header of key's block of len bytes (checksum over fx_fill's bytes). */
static inline kvt_block_meta_t fx_meta(kvt_key_t key, const void *payload, size_t len)
{
    kvt_block_meta_t m;
    memset(&m, 0, sizeof(m));
    m.key = key;
    m.parent.lo = key.lo ^ 1;
    m.parent.hi = key.hi;
    m.tenant = 7;
    m.model_fingerprint[0] = 0xabc;
    m.first_token = (key.lo & 0xffff) * 16;
    m.ntokens = 16;
    m.layout = KVT_BLOCK_LAYOUT_OPAQUE;
    m.payload_bytes = len;
    m.payload_checksum = kvt_block_checksum(payload, len);
    return m;
}

/* Small test configuration of kind under dir (nvme: 1 MiB segments). */
static inline void fx_config(kvt_tier_config_t *cfg, kvt_tier_kind_t kind, const char *dir,
                             uint64_t capacity)
{
    kvt_tier_config_init(cfg, kind);
    cfg->capacity_bytes = capacity;
    cfg->max_record_bytes = (2u << 20) + KVT_BLOCK_HEADER_BYTES;
    cfg->segment_bytes = 4u << 20;
    cfg->queue_depth = 8;
    cfg->hugepages = false;
    cfg->dir = dir;
}

/* Kill the child pid with SIGKILL after min_ms plus 0 .. spread_ms - 1 ms drawn from *seed (an
   LCG the caller keeps, so a run's kill times repeat) and reap it: true when it died of that
   kill, not of a failure of its own first (*status_p: its wait status). */
static inline bool fx_kill_after(pid_t pid, unsigned *seed, unsigned min_ms, unsigned spread_ms,
                                 int *status_p)
{
    *seed = *seed * 1103515245u + 12345u;
    struct timespec ts = {0, (long)(min_ms + (*seed >> 16) % spread_ms) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, status_p, 0), pid);
    return WIFSIGNALED(*status_p) && WTERMSIG(*status_p) == SIGKILL;
}

/* Whether a tier of kind can run here; prints "skipped: ..." with the probe's reason if not. */
static inline bool fx_available(kvt_tier_kind_t kind)
{
    char dir[128];
    fx_mkdtemp(dir);
    kvt_tier_config_t cfg;
    fx_config(&cfg, kind, dir, 16u << 20);
    char why[256] = "";
    kvt_status_t st = kvt_tier_probe(&cfg, why, sizeof(why));
    fx_rmtree(dir);
    if (st != KVT_OK) {
        printf("skipped: tier %s unavailable here: %s\n", kvt_tier_kind_name(kind), why);
    }
    return st == KVT_OK;
}

/* Put key's block of len bytes through chan and wait; returns the status. */
static inline kvt_status_t fx_put(kvt_tier_channel_t *chan, kvt_key_t key, size_t len)
{
    void *buf = malloc(len + 1);
    fx_fill(key, buf, len);
    kvt_tier_io_t io;
    memset(&io, 0, sizeof(io));
    io.op = KVT_TIER_PUT;
    io.meta = fx_meta(key, buf, len);
    io.buf = buf;
    io.len = len;
    kvt_status_t st = kvt_tier_run(chan, &io);
    free(buf);
    return st;
}

/* Get key into a buffer of cap bytes and wait; on KVT_OK checks length, bytes and header. */
static inline kvt_status_t fx_get(kvt_tier_channel_t *chan, kvt_key_t key, size_t cap,
                                  size_t want_len)
{
    void *buf = malloc(cap + 1);
    kvt_tier_io_t io;
    memset(&io, 0, sizeof(io));
    io.op = KVT_TIER_GET;
    io.meta.key = key;
    io.buf = buf;
    io.len = cap;
    kvt_status_t st = kvt_tier_run(chan, &io);
    if (st == KVT_OK) {
        assert_int_equal(io.len, want_len);
        assert_true(fx_check(key, buf, want_len));
        kvt_block_meta_t m = fx_meta(key, buf, want_len);
        assert_true(kvt_key_equal(io.meta.key, key));
        assert_true(kvt_key_equal(io.meta.parent, m.parent));
        assert_int_equal(io.meta.tenant, m.tenant);
        assert_int_equal(io.meta.first_token, m.first_token);
        assert_int_equal(io.meta.ntokens, m.ntokens);
        assert_int_equal(io.meta.payload_bytes, want_len);
        assert_int_equal(io.meta.payload_checksum, m.payload_checksum);
    }
    free(buf);
    return st;
}

#endif
