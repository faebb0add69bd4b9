/*
 * The NVMe tier (T3): a log-structured block store on a local filesystem, io_uring + O_DIRECT.
 *
 * The directory holds capacity / segment_bytes (at least 2) preallocated segment files; records
 * are appended to one open segment and never rewritten in place (nvme_segment.c gives the
 * format: a 4 KiB descriptor sector, then the payload starting on a 4 KiB boundary so GETs read
 * it zero-copy). Every I/O is O_DIRECT, 4 KiB aligned: the page cache would only duplicate DRAM,
 * the tier above. Each channel owns an io_uring with queue_depth I/Os in flight (nvme_chan.c);
 * channels share the sharded in-memory index (nvme_index.c) and the short critical section that
 * reserves append space (nvme_space.c, which also compacts).
 *
 * Durability (cfg->durable, the default): a put completes after an fdatasync of its segment
 * file covering its write, one fdatasync per group of puts in flight on the channel (group
 * commit). Recovery at open rebuilds the index by scanning every segment: a record counts only
 * if its descriptor checksum, segment generation and offset are right; payload checksums are
 * verified on every GET, so a torn record is at worst reported KVT_ERR_CORRUPT, never served.
 * Removes are not persisted (no tombstones): a removed block can reappear after a restart if its
 * segment was not reused or freed meanwhile (a freed segment's header is wiped). That is still
 * correct data (keys name content) and the store above sees it in scan(); persisting tombstones
 * would cost a write per eviction for no correctness gain.
 *
 * Errors of the file system (ENOSPC, EIO, short or torn I/O, the directory removed under us)
 * fail the I/O concerned with a logged line and count in info.errors; nothing aborts.
 */
#include "tier/nvme_internal.h"

#include "common/error.h"
#include "common/logging.h"
#include "common/sysio.h"

#include <errno.h>
#include <liburing.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>

#define RECOVERY_CHUNK (1u << 20)

void nvme_count_error(nvme_tier_t *t)
{
    atomic_fetch_add(&t->errors, 1);
}

static const char *fs_name(const char *dir)
{
    struct statfs sf;
    if (statfs(dir, &sf) != 0) {
        return "unknown filesystem";
    }
    switch ((unsigned long)sf.f_type) {
    case EXT4_SUPER_MAGIC:
        return "ext4";
    case XFS_SUPER_MAGIC:
        return "xfs";
    case BTRFS_SUPER_MAGIC:
        return "btrfs";
    case TMPFS_MAGIC:
        return "tmpfs (not persistent)";
    case F2FS_SUPER_MAGIC:
        return "f2fs";
    case NFS_SUPER_MAGIC:
        return "nfs";
    case OVERLAYFS_SUPER_MAGIC:
        return "overlayfs";
    default:
        return "other filesystem";
    }
}

static void size_str(uint64_t b, char *buf, size_t len)
{
    if (b >= (1ull << 30) && b % (1ull << 30) == 0) {
        snprintf(buf, len, "%llu GiB", (unsigned long long)(b >> 30));
    } else if (b >= (1ull << 20) && b % (1ull << 20) == 0) {
        snprintf(buf, len, "%llu MiB", (unsigned long long)(b >> 20));
    } else {
        snprintf(buf, len, "%llu KiB", (unsigned long long)(b >> 10));
    }
}

/* ---- probe ---- */

/* The directory to test in: dir itself, or its nearest existing ancestor. */
static void existing_dir(const char *dir, char *buf, size_t len)
{
    snprintf(buf, len, "%s", dir);
    for (;;) {
        int fd = kvt_sys.open(buf, O_RDONLY | O_DIRECTORY, 0);
        if (fd >= 0) {
            (void)kvt_sys.close(fd);
            return;
        }
        char *slash = strrchr(buf, '/');
        if (slash == NULL) {
            snprintf(buf, len, ".");
            return;
        }
        if (slash == buf) {
            buf[1] = '\0';
            return;
        }
        *slash = '\0';
    }
}

static kvt_status_t probe(const kvt_tier_config_t *cfg, char *why, size_t why_len)
{
    struct io_uring ring;
    int r = io_uring_queue_init(4, &ring, 0);
    if (r < 0) {
        snprintf(why, why_len, "nvme: no io_uring (%s: kernel too old, disabled or blocked by "
                 "seccomp)", strerror(-r));
        return KVT_ERR_UNAVAILABLE;
    }
    io_uring_queue_exit(&ring);
    if (cfg->dir == NULL || cfg->dir[0] == '\0') {
        snprintf(why, why_len, "nvme: no directory given");
        return KVT_ERR_UNAVAILABLE;
    }
    char dir[4096], path[4200];
    existing_dir(cfg->dir, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/.kvt-probe-%ld", dir, (long)getpid());
    int fd = kvt_sys.open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(why, why_len, "nvme: %s: %s", dir,
                 e == EINVAL ? "the filesystem refuses O_DIRECT" : strerror(e));
        return KVT_ERR_UNAVAILABLE;
    }
    kvt_status_t st = KVT_OK;
    void *buf = NULL;
    if (posix_memalign(&buf, NVME_SECTOR, NVME_SECTOR) != 0) {
        snprintf(why, why_len, "nvme: out of memory");
        st = KVT_ERR_UNAVAILABLE;
    } else {
        memset(buf, 0x5a, NVME_SECTOR);
        ssize_t w = kvt_sys.pwrite(fd, buf, NVME_SECTOR, 0);
        ssize_t rd = w == (ssize_t)NVME_SECTOR ? kvt_sys.pread(fd, buf, NVME_SECTOR, 0) : -1;
        if (w != (ssize_t)NVME_SECTOR || rd != (ssize_t)NVME_SECTOR) {
            int e = errno;
            snprintf(why, why_len, "nvme: %s: O_DIRECT 4 KiB %s failed: %s", dir,
                     w != (ssize_t)NVME_SECTOR ? "write" : "read",
                     e == EINVAL ? "the filesystem refuses O_DIRECT" : strerror(e));
            st = KVT_ERR_UNAVAILABLE;
        }
    }
    free(buf);
    (void)kvt_sys.close(fd);
    (void)kvt_sys.unlink(path);
    return st;
}

/* ---- open / close ---- */

static kvt_status_t mkdirs(const char *dir, kvt_error_t *err)
{
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s", dir);
    if (n <= 0 || (size_t)n >= sizeof(buf)) {
        return kvt_error_set(err, KVT_ERR_INVALID, "nvme: directory name too long");
    }
    for (char *p = buf + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (kvt_sys.mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return kvt_error_set(err, errno == ENOSPC ? KVT_ERR_NO_SPACE : KVT_ERR_IO,
                                     "nvme: cannot create directory %s: %s", buf,
                                     strerror(errno));
            }
            if (end) {
                break;
            }
            *p = '/';
        }
    }
    return KVT_OK;
}

/* Free what nvme_open built, at any stage: every field is NULL (or fd -1) until it is set, so
   open's error paths and close share this one function. */
static void tier_free(nvme_tier_t *t)
{
    if (t->seg != NULL) {
        for (uint32_t i = 0; i < t->nseg; i++) {
            if (t->seg[i].fd >= 0) {
                (void)kvt_sys.close(t->seg[i].fd);
            }
        }
    }
    free(t->seg);
    if (t->index_ready) {
        nvme_index_fini(&t->index);
    }
    pthread_mutex_destroy(&t->space_lock);
    pthread_cond_destroy(&t->space_cond);
    free(t->cbuf);
    free(t->dir);
    free(t);
}

static kvt_status_t seg_open_file(nvme_tier_t *t, uint32_t i, kvt_error_t *err)
{
    char path[4096];
    nvme_seg_path(t, i, path, sizeof(path));
    int fd = kvt_sys.open(path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        return kvt_error_set(err, e == ENOSPC ? KVT_ERR_NO_SPACE : KVT_ERR_IO,
                             "nvme: cannot open %s: %s", path, strerror(e));
    }
    t->seg[i].fd = fd;
    if (kvt_sys.fallocate(fd, 0, 0, (off_t)t->seg_bytes) != 0) {
        int e = errno;
        if (e == EOPNOTSUPP && kvt_sys.ftruncate(fd, (off_t)t->seg_bytes) == 0) {
            return KVT_OK; /* a filesystem without fallocate: a sparse file will do */
        }
        return kvt_error_set(err, e == ENOSPC || e == EDQUOT ? KVT_ERR_NO_SPACE : KVT_ERR_IO,
                             "nvme: cannot allocate %llu bytes for %s: %s",
                             (unsigned long long)t->seg_bytes, path, strerror(e));
    }
    return KVT_OK;
}

static kvt_status_t nvme_open(const kvt_tier_config_t *cfg, void **ctx_p, kvt_error_t *err)
{
    uint64_t seg_bytes = cfg->segment_bytes;
    if (seg_bytes < 4 * NVME_SECTOR || seg_bytes % NVME_SECTOR != 0) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "nvme: segment_bytes %llu: must be a multiple of 4096, at least "
                             "16384", (unsigned long long)seg_bytes);
    }
    uint64_t max_rec = nvme_rec_bytes(cfg->max_record_bytes - KVT_BLOCK_HEADER_BYTES);
    if (max_rec > seg_bytes - NVME_SECTOR) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "nvme: segment_bytes %llu too small for records of %llu bytes "
                             "(max_record_bytes; %llu on disk)",
                             (unsigned long long)seg_bytes,
                             (unsigned long long)cfg->max_record_bytes,
                             (unsigned long long)max_rec);
    }
    if (seg_bytes / NVME_SECTOR > UINT32_MAX) {
        return kvt_error_set(err, KVT_ERR_INVALID, "nvme: segment_bytes %llu: at most 16 TiB",
                             (unsigned long long)seg_bytes);
    }
    uint64_t nseg = cfg->capacity_bytes / seg_bytes;
    if (nseg < 2) {
        nseg = 2;
    }
    if (nseg > 1u << 20) {
        return kvt_error_set(err, KVT_ERR_INVALID, "nvme: %llu segments: too many (raise "
                             "segment_bytes)", (unsigned long long)nseg);
    }
    kvt_status_t st = mkdirs(cfg->dir, err);
    if (st != KVT_OK) {
        return st;
    }
    nvme_tier_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "nvme: out of memory");
    }
    pthread_mutex_init(&t->space_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* nvme_space_alloc's bounded wait */
    pthread_cond_init(&t->space_cond, &ca);
    pthread_condattr_destroy(&ca);
    t->seg_bytes = seg_bytes;
    t->nseg = (uint32_t)nseg;
    t->queue_depth = cfg->queue_depth;
    t->max_rec_bytes = max_rec;
    t->durable = cfg->durable;
    t->open_seg = -1;
    t->dir = strdup(cfg->dir);
    t->seg = calloc(nseg, sizeof(*t->seg));
    if (t->seg != NULL) {
        for (uint32_t i = 0; i < t->nseg; i++) {
            t->seg[i].fd = -1;
        }
    }
    size_t cbuf_len = max_rec > RECOVERY_CHUNK ? (size_t)max_rec : RECOVERY_CHUNK;
    if (posix_memalign(&t->cbuf, NVME_SECTOR, cbuf_len) != 0) {
        t->cbuf = NULL;
    }
    t->index_ready = t->dir != NULL && t->seg != NULL && t->cbuf != NULL &&
                     nvme_index_init(&t->index) == KVT_OK;
    if (!t->index_ready) {
        tier_free(t);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "nvme: out of memory");
    }
    for (uint32_t i = 0; i < t->nseg; i++) {
        st = seg_open_file(t, i, err);
        if (st != KVT_OK) {
            tier_free(t);
            return st;
        }
    }
    /* recovery: every segment's records into the index; the newest segment stays open */
    uint64_t max_gen = 0;
    int newest = -1;
    uint64_t *ends = calloc(t->nseg, sizeof(*ends));
    if (ends == NULL) {
        tier_free(t);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "nvme: out of memory");
    }
    for (uint32_t i = 0; i < t->nseg; i++) {
        uint64_t gen;
        nvme_seg_recover(t, i, t->cbuf, cbuf_len, &gen, &ends[i]);
        atomic_store(&t->seg[i].gen, gen);
        t->seg[i].state = gen != 0 ? NVME_SEG_SEALED : NVME_SEG_FREE;
        if (gen > max_gen) {
            max_gen = gen;
            newest = (int)i;
        }
    }
    t->next_gen = max_gen + 1;
    for (uint32_t i = 0; i < t->nseg; i++) {
        if (t->seg[i].state == NVME_SEG_SEALED && atomic_load(&t->seg[i].live) == 0 &&
            (int)i != newest) {
            t->seg[i].state = NVME_SEG_FREE; /* e.g. a compaction's source, all copied */
        }
        t->free_count += t->seg[i].state == NVME_SEG_FREE;
    }
    if (newest >= 0) {
        t->seg[newest].state = NVME_SEG_OPEN;
        t->seg[newest].write_off = ends[newest];
        t->open_seg = newest;
    }
    free(ends);

    char gds[160], segsz[32];
    (void)kvt_gds_probe(gds, sizeof(gds));
    size_str(seg_bytes, segsz, sizeof(segsz));
    int dn = snprintf(t->detail, sizeof(t->detail), "io_uring QD%u, O_DIRECT, %s, %u x %s segments, %s; "
             "GDS %s", t->queue_depth, fs_name(t->dir), t->nseg, segsz,
             t->durable ? "durable (group fdatasync)" : "not durable", gds);
    if (dn >= (int)sizeof(t->detail)) {
        memcpy(t->detail + sizeof(t->detail) - 4, "...", 4); /* a long dlerror() */
    }
    uint64_t blocks = 0;
    for (size_t i = 0; i < NVME_SHARDS; i++) {
        blocks += t->index.shard[i].count;
    }
    kvt_log_info("nvme: %s: %llu records recovered, %u of %u segments free", t->dir,
                 (unsigned long long)blocks, t->free_count, t->nseg);
    *ctx_p = t;
    return KVT_OK;
}

static void nvme_close(void *ctx)
{
    if (ctx != NULL) {
        tier_free(ctx);
    }
}

/* ---- index queries ---- */

static kvt_status_t nvme_remove(void *ctx, kvt_key_t key)
{
    nvme_tier_t *t = ctx;
    nvme_shard_t *s = nvme_index_shard(&t->index, key);
    pthread_mutex_lock(&s->lock);
    nvme_entry_t *e = nvme_shard_find(s, key);
    if (e == NULL) {
        pthread_mutex_unlock(&s->lock);
        return KVT_ERR_NOT_FOUND;
    }
    atomic_fetch_sub(&t->seg[e->seg].live, nvme_entry_rec(e));
    nvme_shard_erase(s, e);
    pthread_mutex_unlock(&s->lock);
    return KVT_OK;
}

static bool nvme_contains(void *ctx, kvt_key_t key)
{
    return nvme_index_contains_key(ctx, key);
}

/* The header of key's record, from its descriptor sector on disk (the index keeps only the
   location). False if the key is gone, or its descriptor fails verification (then the record
   is dropped and counted, as a GET would). A record moved by compaction meanwhile is looked up
   again. */
static bool scan_read(nvme_tier_t *t, void *sec, kvt_key_t key, kvt_block_meta_t *meta_p)
{
    for (int attempt = 0; attempt < NVME_GET_RETRIES; attempt++) {
        nvme_shard_t *s = nvme_index_shard(&t->index, key);
        pthread_mutex_lock(&s->lock);
        nvme_entry_t *e = nvme_shard_find(s, key);
        nvme_entry_t copy = e != NULL ? *e : (nvme_entry_t){0};
        uint64_t gen = e != NULL ? atomic_load(&t->seg[copy.seg].gen) : 0;
        pthread_mutex_unlock(&s->lock);
        if (e == NULL) {
            return false;
        }
        uint64_t off = nvme_entry_off(&copy);
        ssize_t n = kvt_sys.pread(t->seg[copy.seg].fd, sec, NVME_SECTOR, (off_t)off);
        kvt_block_meta_t m;
        if (n == (ssize_t)NVME_SECTOR && nvme_rec_decode(sec, gen, off, t->seg_bytes, &m) &&
            m.key.lo == key.lo && m.key.hi == key.hi && m.payload_bytes == copy.payload_bytes) {
            *meta_p = m;
            return true;
        }
        if (atomic_load(&t->seg[copy.seg].gen) == gen) {
            char path[4096];
            nvme_seg_path(t, copy.seg, path, sizeof(path));
            kvt_log_error("nvme: %s: scan: descriptor at %llu %s; record dropped", path,
                          (unsigned long long)off,
                          n < 0 ? strerror(errno)
                                : n != (ssize_t)NVME_SECTOR ? "short read"
                                                            : "failed its checksum");
            nvme_count_error(t);
            nvme_index_drop_at(t, key, copy.seg, off);
            return false;
        }
    }
    return false;
}

/* Copies each shard's keys out under its lock, reads their headers from disk (one 4 KiB pread
   per record: the index keeps no headers) and calls cb without any lock held, so cb may call
   back into the tier. */
static kvt_status_t nvme_scan(void *ctx, kvt_tier_scan_cb_t cb, void *arg)
{
    nvme_tier_t *t = ctx;
    kvt_key_t *keys = NULL;
    size_t cap = 0;
    void *sec = NULL;
    if (posix_memalign(&sec, NVME_SECTOR, NVME_SECTOR) != 0) {
        return KVT_ERR_NO_MEMORY;
    }
    for (size_t si = 0; si < NVME_SHARDS; si++) {
        nvme_shard_t *s = &t->index.shard[si];
        pthread_mutex_lock(&s->lock);
        if (s->count > cap) {
            kvt_key_t *k = realloc(keys, s->count * sizeof(*k));
            if (k == NULL) {
                pthread_mutex_unlock(&s->lock);
                free(keys);
                free(sec);
                return KVT_ERR_NO_MEMORY;
            }
            keys = k;
            cap = s->count;
        }
        size_t n = 0;
        for (size_t i = 0; i <= s->mask; i++) {
            if (s->e[i].off_sec != 0) {
                keys[n++] = s->e[i].key;
            }
        }
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0; i < n; i++) {
            kvt_block_meta_t meta;
            if (scan_read(t, sec, keys[i], &meta)) {
                cb(&meta, arg);
            }
        }
    }
    free(keys);
    free(sec);
    return KVT_OK;
}

static void nvme_info(void *ctx, kvt_tier_info_t *info)
{
    nvme_tier_t *t = ctx;
    snprintf(info->detail, sizeof(info->detail), "%s", t->detail);
    info->capacity_bytes = (uint64_t)t->nseg * t->seg_bytes;
    uint64_t used = 0, blocks = 0;
    for (uint32_t i = 0; i < t->nseg; i++) {
        used += atomic_load(&t->seg[i].live);
    }
    for (size_t i = 0; i < NVME_SHARDS; i++) {
        pthread_mutex_lock(&t->index.shard[i].lock);
        blocks += t->index.shard[i].count;
        pthread_mutex_unlock(&t->index.shard[i].lock);
    }
    info->used_bytes = used;
    info->blocks = blocks;
    info->errors = atomic_load(&t->errors);
}

/* Records of payload_bytes that fit: each segment after its header sector holds whole records
 * (descriptor sector + payload rounded up to a sector), and one segment is the compaction spare. */
static uint64_t nvme_records(void *ctx, uint64_t payload_bytes)
{
    nvme_tier_t *t = ctx;
    uint64_t per_seg = (t->seg_bytes - NVME_SECTOR) / nvme_rec_bytes(payload_bytes);
    return (uint64_t)(t->nseg - 1) * per_seg;
}

const kvt_tier_ops_t kvt_tier_nvme_ops = {
    .version = KVT_TIER_OPS_VERSION,
    .kind = KVT_TIER_NVME,
    .name = "nvme",
    .probe = probe,
    .open = nvme_open,
    .close = nvme_close,
    .channel_open = nvme_chan_open,
    .channel_close = nvme_chan_close,
    .submit = nvme_chan_submit,
    .poll = nvme_chan_poll,
    .remove = nvme_remove,
    .contains = nvme_contains,
    .scan = nvme_scan,
    .info = nvme_info,
    .records = nvme_records,
    .prefault = nvme_space_prefault,
};
