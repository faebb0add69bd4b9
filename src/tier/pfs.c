/*
 * The parallel-filesystem tier (T5): block records as write-once files in a directory that
 * several nodes mount (Lustre, GPFS, WEKA, NFS, or any local file system). Layout and format
 * marker: pfs_layout.c. Channels (worker threads over blocking I/O): pfs_pool.c.
 *
 * The file system is the index. A record lives at a path computed from its key, so a GET is an
 * open() of that path, and a block published by another process or node is found the moment its
 * rename lands -- no shared lock, no shared index, nothing to invalidate. A PUT writes
 * [header | payload] to a temporary in the record's own leaf directory (unique per node, process,
 * thread and put: .tmp.<pid>.<tid>.<seq>.<random nonce chosen at open>), fsyncs it when the tier
 * is durable, closes it (NFS reports deferred write errors at close), and rename()s it onto the
 * final name. rename within a directory is atomic on every POSIX file system, so a reader sees
 * either no file or the whole file; two writers of one key (equal keys mean equal content) both
 * succeed and leave one valid file. When durable, the leaf directory is fsync'ed after the rename
 * as well, so the name survives a crash of a local file system (on NFS and Lustre rename is
 * already synchronous at the server; the extra fsync is cheap there). A failure at any step
 * (ENOSPC, EIO, a failing fsync after a torn write, a failing rename) unlinks the temporary and
 * publishes nothing.
 *
 * Reads trust nothing: the header checksum, the key in the header (against the one asked for),
 * the file size (against header + payload bytes) and the payload CRC-32C are checked on every
 * GET, the payload being read straight into the caller's buffer. A record that fails any check
 * is KVT_ERR_CORRUPT: it is unlinked (no quarantine: this is a cache and the block can be
 * recomputed; the warning names the file) -- but only if the path still names the inode that was
 * read, so a valid file another writer renamed over it in the meantime is left alone. An EIO is
 * KVT_ERR_IO and leaves the file (the fault may be transient).
 *
 * Capacity is this process's view: at open the tree is walked and every record file's size
 * counted; puts add, removes and corruption drops subtract (clamped at zero, since a file
 * another node published was never added). Records that other nodes publish later are found by
 * GET but not counted. Temporaries are never served (GET opens only <key>.kvb) nor counted; at
 * open those whose mtime is over an hour old are unlinked as the leftovers of crashed writers
 * (no put takes an hour; a live writer's temporary is younger).
 *
 * Puts of one key within this process are serialised by claiming the key in one of 64 striped
 * in-flight lists (a mutex held only to add or remove the claim), so two threads never both
 * count the same record; the I/O itself runs with no lock held, and different keys never wait
 * for each other. Counters are atomics. There is no lock shared by all channels.
 *
 * A vanished tree (rm -rf, or the file system unmounted under the mount point) is not
 * recreated: when a put needs a new leaf directory it first checks that the marker is still
 * there, and if not the put fails with KVT_ERR_IO and an error is logged (once), rather than
 * silently writing into the empty mount point on a local disk. GETs of a vanished tree miss.
 */
#include "tier/pfs_layout.h"
#include "tier/pfs_pool.h"
#include "tier/tier_module.h"

#include "common/error.h"
#include "common/logging.h"
#include "common/sysio.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define NSTRIPES          64u
#define MAX_THREADS       8u
#define STALE_TEMP_SECONDS 3600

typedef struct claim {
    kvt_key_t key;
    struct claim *next;
} claim_t;

typedef struct stripe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    claim_t *head;
} stripe_t;

typedef struct pfs {
    char dir[PATH_MAX - KVT_PFS_NAME_ROOM];
    uint64_t capacity;
    uint32_t queue_depth;
    bool durable;
    uint64_t nonce;
    _Atomic uint64_t used;
    _Atomic uint64_t blocks;
    _Atomic uint64_t errors;
    _Atomic uint64_t seq;
    atomic_bool warned_gone;
    char detail[256];
    stripe_t stripes[NSTRIPES];
} pfs_t;

/* ---- accounting ---------------------------------------------------------------------------- */

static bool reserve(pfs_t *p, uint64_t bytes)
{
    uint64_t cur = atomic_load(&p->used);
    do {
        if (bytes > p->capacity || cur > p->capacity - bytes) {
            return false;
        }
    } while (!atomic_compare_exchange_weak(&p->used, &cur, cur + bytes));
    return true;
}

static void sub_clamped(_Atomic uint64_t *v, uint64_t n)
{
    uint64_t cur = atomic_load(v);
    while (!atomic_compare_exchange_weak(v, &cur, cur > n ? cur - n : 0)) {
    }
}

static void account_drop(pfs_t *p, uint64_t bytes)
{
    sub_clamped(&p->used, bytes);
    sub_clamped(&p->blocks, 1);
}

/* ---- per-key claims ------------------------------------------------------------------------ */

static stripe_t *stripe_of(pfs_t *p, kvt_key_t key)
{
    return &p->stripes[(key.lo ^ key.hi) % NSTRIPES];
}

static void claim_key(pfs_t *p, kvt_key_t key, claim_t *c)
{
    stripe_t *s = stripe_of(p, key);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        bool busy = false;
        for (claim_t *o = s->head; o != NULL; o = o->next) {
            busy |= kvt_key_equal(o->key, key);
        }
        if (!busy) {
            break;
        }
        pthread_cond_wait(&s->cv, &s->mu);
    }
    c->key = key;
    c->next = s->head;
    s->head = c;
    pthread_mutex_unlock(&s->mu);
}

static void release_key(pfs_t *p, claim_t *c)
{
    stripe_t *s = stripe_of(p, c->key);
    pthread_mutex_lock(&s->mu);
    for (claim_t **pp = &s->head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- paths and small I/O helpers ------------------------------------------------------------ */

static void leaf_path(const pfs_t *p, const char hex[33], char *out)
{
    snprintf(out, PATH_MAX, "%s/%.2s/%.2s", p->dir, hex, hex + 2);
}

static void record_path(const pfs_t *p, const char hex[33], char *out)
{
    snprintf(out, PATH_MAX, "%s/%.2s/%.2s/%s" KVT_PFS_SUFFIX, p->dir, hex, hex + 2, hex);
}

static kvt_status_t errno_status(int e)
{
    return (e == ENOSPC || e == EDQUOT) ? KVT_ERR_NO_SPACE : KVT_ERR_IO;
}

/* 0, or an errno (EIO for a write that makes no progress). */
static int write_all(int fd, const void *buf, size_t len, off_t off)
{
    const char *b = buf;
    while (len > 0) {
        ssize_t n = kvt_sys.pwrite(fd, b, len, off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        if (n == 0) {
            return EIO;
        }
        b += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/* Bytes read (fewer than len only at end of file), or -errno. */
static ssize_t read_all(int fd, void *buf, size_t len, off_t off)
{
    char *b = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = kvt_sys.pread(fd, b + got, len - got, off + (off_t)got);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -(ssize_t)errno;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static int fsync_dir(const char *path)
{
    int fd = kvt_sys.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    int e = kvt_sys.fsync(fd) != 0 ? errno : 0;
    (void)kvt_sys.close(fd);
    /* Some file systems refuse fsync on a directory; nothing more can be done there. */
    return (e == EINVAL || e == EBADF) ? 0 : e;
}

/* ---- put ----------------------------------------------------------------------------------- */

/* Create <dir>/<h0h1>/<h2h3> -- only while the tree is still ours (its marker is there). */
static kvt_status_t make_leaf(pfs_t *p, const char hex[33])
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/" KVT_PFS_MARKER, p->dir);
    if (stat(path, &st) != 0) {
        if (!atomic_exchange(&p->warned_gone, true)) {
            kvt_log_error("pfs: %s: the " KVT_PFS_MARKER " marker is gone (directory removed or "
                          "file system unmounted); puts fail until the tier is reopened",
                          p->dir);
        }
        return KVT_ERR_IO;
    }
    for (int level = 1; level <= 2; level++) {
        snprintf(path, sizeof(path), "%s/%.2s", p->dir, hex);
        if (level == 2) {
            snprintf(path, sizeof(path), "%s/%.2s/%.2s", p->dir, hex, hex + 2);
        }
        if (kvt_sys.mkdir(path, 0777) == 0) {
            if (p->durable) {
                char parent[PATH_MAX];
                snprintf(parent, sizeof(parent), "%s", path);
                *strrchr(parent, '/') = '\0';
                (void)fsync_dir(parent);
            }
        } else if (errno != EEXIST) {
            kvt_log_error("pfs: %s: %s", path, strerror(errno));
            return errno_status(errno);
        }
    }
    return KVT_OK;
}

static kvt_status_t open_temp(pfs_t *p, const char hex[33], char *tmp, int *fd_p)
{
    bool made = false;
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned long long seq = (unsigned long long)atomic_fetch_add(&p->seq, 1);
        snprintf(tmp, PATH_MAX, "%s/%.2s/%.2s/" KVT_PFS_TEMP_PREFIX "%ld.%ld.%llu.%016llx",
                 p->dir, hex, hex + 2, (long)getpid(), (long)gettid(), seq,
                 (unsigned long long)p->nonce);
        int fd = kvt_sys.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *fd_p = fd;
            return KVT_OK;
        }
        if (errno == EEXIST) {
            continue;
        }
        if (errno == ENOENT && !made) {
            kvt_status_t st = make_leaf(p, hex);
            if (st != KVT_OK) {
                return st;
            }
            made = true;
            continue;
        }
        kvt_log_error("pfs: %s: %s", tmp, strerror(errno));
        return errno_status(errno);
    }
    kvt_log_error("pfs: %s: cannot create a temporary file", p->dir);
    return KVT_ERR_IO;
}

/* Write, sync, close and rename one record; on failure nothing is published. */
static kvt_status_t publish(pfs_t *p, const char hex[33], const kvt_tier_io_t *io)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    int fd;
    kvt_status_t st = open_temp(p, hex, tmp, &fd);
    if (st != KVT_OK) {
        return st;
    }
    record_path(p, hex, final);
    unsigned char header[KVT_BLOCK_HEADER_BYTES];
    kvt_block_header_encode(&io->meta, header);
    const char *step = "write";
    int e = write_all(fd, header, sizeof(header), 0);
    if (e == 0) {
        e = write_all(fd, io->buf, io->len, KVT_BLOCK_HEADER_BYTES);
    }
    if (e == 0 && p->durable) {
        step = "fsync";
        e = kvt_sys.fsync(fd) != 0 ? errno : 0;
    }
    if (kvt_sys.close(fd) != 0 && e == 0) {
        step = "close";
        e = errno;
    }
    if (e == 0) {
        step = "rename";
        e = kvt_sys.rename(tmp, final) != 0 ? errno : 0;
    }
    if (e != 0) {
        (void)kvt_sys.unlink(tmp);
        kvt_log_error("pfs: %s: %s: %s", final, step, strerror(e));
        return errno_status(e);
    }
    if (p->durable) {
        char leaf[PATH_MAX];
        leaf_path(p, hex, leaf);
        e = fsync_dir(leaf);
        if (e != 0) {
            (void)kvt_sys.unlink(final);
            kvt_log_error("pfs: %s: fsync: %s", leaf, strerror(e));
            return errno_status(e);
        }
    }
    return KVT_OK;
}

static kvt_status_t do_put(pfs_t *p, kvt_tier_io_t *io)
{
    char hex[33], final[PATH_MAX];
    kvt_key_format(io->meta.key, hex);
    record_path(p, hex, final);
    claim_t c;
    claim_key(p, io->meta.key, &c);
    kvt_status_t st = KVT_OK;
    struct stat sb;
    if (stat(final, &sb) == 0) {
        goto out; /* present: equal keys mean equal content */
    }
    uint64_t bytes = KVT_BLOCK_HEADER_BYTES + (uint64_t)io->len;
    if (!reserve(p, bytes)) {
        st = KVT_ERR_NO_SPACE;
        goto out;
    }
    st = publish(p, hex, io);
    if (st == KVT_OK) {
        atomic_fetch_add(&p->blocks, 1);
    } else {
        sub_clamped(&p->used, bytes);
        atomic_fetch_add(&p->errors, 1);
    }
out:
    release_key(p, &c);
    return st;
}

/* ---- get ----------------------------------------------------------------------------------- */

/* Unlink a record found corrupt, if the path still names the inode that was read. */
static void drop_corrupt(pfs_t *p, const char *path, const struct stat *read_st, const char *why)
{
    struct stat now;
    atomic_fetch_add(&p->errors, 1);
    kvt_log_warn("pfs: %s: %s; record dropped", path, why);
    if (stat(path, &now) == 0 && now.st_ino == read_st->st_ino &&
        now.st_dev == read_st->st_dev && kvt_sys.unlink(path) == 0) {
        account_drop(p, (uint64_t)read_st->st_size);
    }
}

static kvt_status_t do_get(pfs_t *p, kvt_tier_io_t *io)
{
    char hex[33], path[PATH_MAX];
    kvt_key_format(io->meta.key, hex);
    record_path(p, hex, path);
    int fd = kvt_sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return KVT_ERR_NOT_FOUND;
        }
        atomic_fetch_add(&p->errors, 1);
        kvt_log_error("pfs: %s: %s", path, strerror(errno));
        return KVT_ERR_IO;
    }
    kvt_status_t st = KVT_OK;
    const char *why = NULL;
    struct stat sb;
    unsigned char header[KVT_BLOCK_HEADER_BYTES];
    kvt_block_meta_t meta;
    ssize_t n;
    if (fstat(fd, &sb) != 0) {
        n = -(ssize_t)errno;
        goto io_error;
    }
    n = read_all(fd, header, sizeof(header), 0);
    if (n < 0) {
        goto io_error;
    }
    if ((size_t)n < sizeof(header)) {
        why = "truncated header";
        goto corrupt;
    }
    kvt_error_t derr;
    if (kvt_block_header_decode(header, &meta, &derr) != KVT_OK) {
        why = derr.message;
        goto corrupt;
    }
    if (!kvt_key_equal(meta.key, io->meta.key)) {
        why = "header holds another key";
        goto corrupt;
    }
    if ((uint64_t)sb.st_size != KVT_BLOCK_HEADER_BYTES + meta.payload_bytes) {
        why = "file size does not match the header's payload bytes";
        goto corrupt;
    }
    if (meta.payload_bytes > io->len) {
        st = KVT_ERR_DOES_NOT_FIT;
        goto out;
    }
    n = read_all(fd, io->buf, (size_t)meta.payload_bytes, KVT_BLOCK_HEADER_BYTES);
    if (n < 0) {
        goto io_error;
    }
    if ((uint64_t)n < meta.payload_bytes) {
        why = "truncated payload";
        goto corrupt;
    }
    if (kvt_block_checksum(io->buf, (size_t)meta.payload_bytes) != meta.payload_checksum) {
        why = "payload checksum mismatch";
        goto corrupt;
    }
    io->len = (size_t)meta.payload_bytes;
    io->meta = meta;
    goto out;
io_error:
    atomic_fetch_add(&p->errors, 1);
    kvt_log_error("pfs: %s: read: %s", path, strerror((int)-n));
    st = KVT_ERR_IO;
    goto out;
corrupt:
    drop_corrupt(p, path, &sb, why);
    st = KVT_ERR_CORRUPT;
out:
    (void)kvt_sys.close(fd);
    return st;
}

static kvt_status_t exec_io(void *ctx, kvt_tier_io_t *io)
{
    return io->op == KVT_TIER_PUT ? do_put(ctx, io) : do_get(ctx, io);
}

/* ---- open: count what is there, sweep stale temporaries ------------------------------------ */

typedef struct open_walk {
    pfs_t *p;
    time_t now;
    uint64_t used, blocks, stale;
} open_walk_t;

static bool count_entry(const char *leaf, const char *name, void *arg)
{
    open_walk_t *w = arg;
    char path[PATH_MAX];
    struct stat sb;
    bool temp = kvt_pfs_is_temp_name(name);
    if (!temp && !kvt_pfs_is_record_name(name)) {
        return true;
    }
    snprintf(path, sizeof(path), "%s/%s", leaf, name);
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        return true;
    }
    if (temp) {
        if (w->now - sb.st_mtime > STALE_TEMP_SECONDS && kvt_sys.unlink(path) == 0) {
            w->stale++;
        }
        return true;
    }
    w->used += (uint64_t)sb.st_size;
    w->blocks++;
    return true;
}

static void describe(pfs_t *p)
{
    char fs[64];
    kvt_pfs_fs_name(p->dir, fs, sizeof(fs));
    const char *publish_how = p->durable ? "fsync+rename publish" : "rename publish (not durable)";
    int room = (int)sizeof(p->detail) - 64 - (int)strlen(fs) - (int)strlen(publish_how);
    snprintf(p->detail, sizeof(p->detail), "directory %.*s (%s), 2-level fan-out, %s",
             room > 8 ? room : 8, p->dir, fs, publish_how);
}

static kvt_status_t pfs_open(const kvt_tier_config_t *cfg, void **ctx_p, kvt_error_t *err)
{
    size_t n = strlen(cfg->dir);
    if (n >= PATH_MAX - KVT_PFS_NAME_ROOM) {
        return kvt_error_set(err, KVT_ERR_INVALID, "pfs: directory path too long (%zu bytes)",
                             n);
    }
    kvt_status_t st = kvt_pfs_prepare_dir(cfg->dir, cfg->durable, err);
    if (st != KVT_OK) {
        return st;
    }
    pfs_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "pfs: out of memory");
    }
    memcpy(p->dir, cfg->dir, n + 1);
    while (n > 1 && p->dir[n - 1] == '/') {
        p->dir[--n] = '\0';
    }
    p->capacity = cfg->capacity_bytes;
    p->queue_depth = cfg->queue_depth;
    p->durable = cfg->durable;
    if (getrandom(&p->nonce, sizeof(p->nonce), 0) != (ssize_t)sizeof(p->nonce)) {
        p->nonce = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    }
    for (unsigned i = 0; i < NSTRIPES; i++) {
        pthread_mutex_init(&p->stripes[i].mu, NULL);
        pthread_cond_init(&p->stripes[i].cv, NULL);
    }
    open_walk_t w = {.p = p, .now = time(NULL)};
    if (kvt_pfs_walk(p->dir, count_entry, &w) != 0) {
        int e = errno;
        free(p);
        return kvt_error_set(err, KVT_ERR_IO, "pfs: %s: %s", cfg->dir, strerror(e));
    }
    if (w.stale > 0) {
        kvt_log_info("pfs: %s: removed %llu temporary files over an hour old (crashed writers)",
                     p->dir, (unsigned long long)w.stale);
    }
    atomic_store(&p->used, w.used);
    atomic_store(&p->blocks, w.blocks);
    describe(p);
    *ctx_p = p;
    return KVT_OK;
}

static void pfs_close(void *ctx)
{
    pfs_t *p = ctx;
    if (p == NULL) {
        return;
    }
    for (unsigned i = 0; i < NSTRIPES; i++) {
        pthread_cond_destroy(&p->stripes[i].cv);
        pthread_mutex_destroy(&p->stripes[i].mu);
    }
    free(p);
}

/* ---- probe --------------------------------------------------------------------------------- */

/* Remove the directories mkdir -p created for the probe (deepest first). */
static void unmake(const char *dir, size_t existing_len)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", dir);
    size_t n = strlen(buf);
    while (n > existing_len) {
        (void)rmdir(buf);
        while (n > 0 && buf[n - 1] != '/') {
            n--;
        }
        while (n > 1 && buf[n - 1] == '/') {
            n--;
        }
        buf[n] = '\0';
    }
}

/* Length of the longest existing ancestor of dir (or dir itself). */
static size_t existing_prefix(const char *dir)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", dir);
    size_t n = strlen(buf);
    struct stat sb;
    while (n > 0 && stat(buf, &sb) != 0) {
        while (n > 0 && buf[n - 1] != '/') {
            n--;
        }
        while (n > 1 && buf[n - 1] == '/') {
            n--;
        }
        buf[n] = '\0';
    }
    return n;
}

static kvt_status_t pfs_probe(const kvt_tier_config_t *cfg, char *why, size_t why_len)
{
    if (cfg->dir == NULL || cfg->dir[0] == '\0') {
        snprintf(why, why_len, "pfs: no directory given");
        return KVT_ERR_UNAVAILABLE;
    }
    if (strlen(cfg->dir) >= PATH_MAX - KVT_PFS_NAME_ROOM) {
        snprintf(why, why_len, "pfs: directory path too long");
        return KVT_ERR_UNAVAILABLE;
    }
    size_t had = existing_prefix(cfg->dir);
    if (kvt_pfs_mkdir_p(cfg->dir) != 0) {
        snprintf(why, why_len, "pfs: %s: %s", cfg->dir, strerror(errno));
        unmake(cfg->dir, had);
        return KVT_ERR_UNAVAILABLE;
    }
    char tmp[PATH_MAX], moved[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/" KVT_PFS_TEMP_PREFIX "probe.%ld.%ld", cfg->dir,
             (long)getpid(), (long)gettid());
    snprintf(moved, sizeof(moved), "%s/" KVT_PFS_TEMP_PREFIX "probe.%ld.%ld.renamed", cfg->dir,
             (long)getpid(), (long)gettid());
    const char *step = "create";
    int e = 0;
    int fd = kvt_sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        e = errno;
    } else {
        static const char probe_bytes[] = "kvtier pfs probe\n";
        step = "write";
        e = write_all(fd, probe_bytes, sizeof(probe_bytes) - 1, 0);
        if (e == 0 && cfg->durable && kvt_sys.fsync(fd) != 0) {
            step = "fsync";
            e = errno;
        }
        if (kvt_sys.close(fd) != 0 && e == 0) {
            step = "close";
            e = errno;
        }
        if (e == 0) {
            step = "rename";
            if (kvt_sys.rename(tmp, moved) != 0) {
                e = errno;
            } else if (kvt_sys.unlink(moved) != 0) {
                step = "unlink";
                e = errno;
            }
        }
        (void)kvt_sys.unlink(tmp);
        (void)kvt_sys.unlink(moved);
    }
    unmake(cfg->dir, had);
    if (e != 0) {
        snprintf(why, why_len, "pfs: %s: %s: %s", cfg->dir, step, strerror(e));
        return KVT_ERR_UNAVAILABLE;
    }
    return KVT_OK;
}

/* ---- channels ------------------------------------------------------------------------------ */

static kvt_status_t pfs_channel_open(void *ctx, void **chan_p)
{
    pfs_t *p = ctx;
    uint32_t threads = p->queue_depth < MAX_THREADS ? p->queue_depth : MAX_THREADS;
    kvt_pfs_pool_t *pool;
    kvt_status_t st = kvt_pfs_pool_create(p->queue_depth, threads, exec_io, p, &pool);
    if (st != KVT_OK) {
        return st;
    }
    *chan_p = pool;
    return KVT_OK;
}

static void pfs_channel_close(void *chan)
{
    kvt_pfs_pool_destroy(chan);
}

static kvt_status_t pfs_submit(void *chan, kvt_tier_io_t *io)
{
    return kvt_pfs_pool_submit(chan, io);
}

static size_t pfs_poll(void *chan, size_t min_complete, kvt_tier_io_t **done, size_t max)
{
    return kvt_pfs_pool_poll(chan, min_complete, done, max);
}

/* ---- remove, contains, scan, info ----------------------------------------------------------- */

static kvt_status_t pfs_remove(void *ctx, kvt_key_t key)
{
    pfs_t *p = ctx;
    char hex[33], path[PATH_MAX];
    kvt_key_format(key, hex);
    record_path(p, hex, path);
    claim_t c;
    claim_key(p, key, &c);
    kvt_status_t st = KVT_OK;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        st = KVT_ERR_NOT_FOUND;
    } else if (kvt_sys.unlink(path) != 0) {
        if (errno == ENOENT) {
            st = KVT_ERR_NOT_FOUND;
        } else {
            kvt_log_error("pfs: %s: unlink: %s", path, strerror(errno));
            atomic_fetch_add(&p->errors, 1);
            st = KVT_ERR_IO;
        }
    } else {
        account_drop(p, (uint64_t)sb.st_size);
    }
    release_key(p, &c);
    return st;
}

static bool pfs_contains(void *ctx, kvt_key_t key)
{
    pfs_t *p = ctx;
    char hex[33], path[PATH_MAX];
    kvt_key_format(key, hex);
    record_path(p, hex, path);
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

typedef struct scan_walk {
    pfs_t *p;
    kvt_tier_scan_cb_t cb;
    void *arg;
} scan_walk_t;

static bool scan_entry(const char *leaf, const char *name, void *arg)
{
    scan_walk_t *w = arg;
    if (!kvt_pfs_is_record_name(name)) {
        return true;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", leaf, name);
    int fd = kvt_sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        return true; /* removed meanwhile */
    }
    unsigned char header[KVT_BLOCK_HEADER_BYTES];
    kvt_block_meta_t meta;
    struct stat sb;
    char hex[33];
    bool ok = fstat(fd, &sb) == 0 && read_all(fd, header, sizeof(header), 0) ==
                                             (ssize_t)sizeof(header);
    (void)kvt_sys.close(fd);
    ok = ok && kvt_block_header_decode(header, &meta, NULL) == KVT_OK;
    if (ok) {
        kvt_key_format(meta.key, hex);
        ok = strncmp(hex, name, 32) == 0 &&
             (uint64_t)sb.st_size == KVT_BLOCK_HEADER_BYTES + meta.payload_bytes;
    }
    if (!ok) {
        atomic_fetch_add(&w->p->errors, 1);
        kvt_log_warn("pfs: %s: bad header or size; skipped by scan", path);
        return true;
    }
    w->cb(&meta, w->arg);
    return true;
}

static kvt_status_t pfs_scan(void *ctx, kvt_tier_scan_cb_t cb, void *arg)
{
    pfs_t *p = ctx;
    scan_walk_t w = {.p = p, .cb = cb, .arg = arg};
    if (kvt_pfs_walk(p->dir, scan_entry, &w) != 0) {
        kvt_log_error("pfs: %s: %s", p->dir, strerror(errno));
        atomic_fetch_add(&p->errors, 1);
        return KVT_ERR_IO;
    }
    return KVT_OK;
}

static void pfs_info(void *ctx, kvt_tier_info_t *info)
{
    pfs_t *p = ctx;
    snprintf(info->detail, sizeof(info->detail), "%s", p->detail);
    info->capacity_bytes = p->capacity;
    info->used_bytes = atomic_load(&p->used);
    info->blocks = atomic_load(&p->blocks);
    info->errors = atomic_load(&p->errors);
}

/* One file per record: header + payload bytes count against the capacity. */
static uint64_t pfs_records(void *ctx, uint64_t payload_bytes)
{
    pfs_t *p = ctx;
    return p->capacity / (KVT_BLOCK_HEADER_BYTES + payload_bytes);
}

const kvt_tier_ops_t kvt_tier_pfs_ops = {
    .version = KVT_TIER_OPS_VERSION,
    .kind = KVT_TIER_PFS,
    .name = "pfs",
    .probe = pfs_probe,
    .open = pfs_open,
    .close = pfs_close,
    .channel_open = pfs_channel_open,
    .channel_close = pfs_channel_close,
    .submit = pfs_submit,
    .poll = pfs_poll,
    .remove = pfs_remove,
    .contains = pfs_contains,
    .scan = pfs_scan,
    .info = pfs_info,
    .records = pfs_records,
};
