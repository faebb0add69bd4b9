/*
 * libFuzzer target for the NVMe tier's recovery: any bytes in, laid down as the first segment
 * file of a tier directory (what a crash, a bad disk or a stray writer may leave behind), then
 * the tier is opened (the recovery scan, docs/store.md), scanned, read, written and reopened.
 *
 * The input's first byte picks repairs so the fuzzer gets past the checksums to the fields
 * behind them; the rest is the segment file from offset 4096 (bit 2 clear: sector 0 is a valid
 * segment header of generation SEG_GEN) or from offset 0 (bit 2 set: the input's own header).
 * For every sector that holds the record magic ("KVTREC01" at +128), bit 0 rewrites the
 * descriptor's generation and offset to the segment's and recomputes the block header's and the
 * descriptor's checksums, bit 1 first recomputes the payload checksum over the payload_bytes the
 * descriptor declares (those that lie in the file). The seeds (scripts/fuzz.sh) are valid records
 * with every repair on.
 *
 * Contracts checked (abort when broken): the tier opens over any content; every block the scan
 * reports can be read back, or fails KVT_ERR_CORRUPT (recovery reads descriptors, GETs verify
 * payloads); a GET that succeeds returns exactly the payload of a record of that key in the file,
 * whose checksum matches; a new block put after the recovery reads back exactly, also after the
 * tier is closed and opened again, and every block served before is served again, unchanged,
 * after that put and after the restart. The sanitizers catch the rest. Where the scratch directory
 * ($TMPDIR, default /var/tmp) has no O_DIRECT, every input is skipped (said once).
 */
#include <kvtier/kvtier.h>

#include "fuzz_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECTOR    4096u
#define SEG_BYTES (64u << 10) /* small segments: a whole one per input */
#define NSEG      3u
#define MAX_REC   (24u << 10) /* largest payload a record may declare and the tier accept */
#define SEG_GEN   7u
#define BUF       (64u << 10)

static char dir[4096];
static bool skip;
static unsigned char *file, *buf;

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static void cleanup(void)
{
    fuzz_rm_tree(dir);
}

static void quiet(kvt_log_level_t level, const char *msg, void *arg)
{
    (void)level;
    (void)msg;
    (void)arg;
}

static void config(kvt_tier_config_t *cfg)
{
    kvt_tier_config_init(cfg, KVT_TIER_NVME);
    cfg->dir = dir;
    cfg->durable = false; /* the format and recovery are the same; syncs only cost time here */
    cfg->capacity_bytes = (uint64_t)NSEG * SEG_BYTES;
    cfg->segment_bytes = SEG_BYTES;
    cfg->max_record_bytes = MAX_REC + KVT_BLOCK_HEADER_BYTES;
    cfg->queue_depth = 2;
}

static int setup(void)
{
    kvt_log_set_handler(quiet, NULL); /* every damaged segment is logged as an error */
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/fuzz_segment_XXXXXX", tmp != NULL ? tmp : "/var/tmp");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    atexit(cleanup);
    kvt_tier_config_t cfg;
    config(&cfg);
    char why[256];
    if (kvt_tier_probe(&cfg, why, sizeof(why)) != KVT_OK) {
        fprintf(stderr, "fuzz_segment: skipped: %s\n", why);
        skip = true;
    }
    file = calloc(1, SEG_BYTES);
    buf = aligned_alloc(SECTOR, BUF);
    return file == NULL || buf == NULL ? -1 : 0;
}

/* The segment file: a header of generation SEG_GEN (or the input's), the input, the repairs. */
static void build_file(const uint8_t *data, size_t size, uint8_t flags)
{
    memset(file, 0, SEG_BYTES);
    size_t at = (flags & 4) ? 0 : SECTOR;
    size_t n = size < SEG_BYTES - at ? size : SEG_BYTES - at;
    memcpy(file + at, data, n);
    uint64_t gen = SEG_GEN;
    if (!(flags & 4)) { /* the documented header (src/tier/nvme_segment.c) */
        memcpy(file, "KVTSEG01", 8);
        put_le64(file + 8, 1); /* segment index 0 << 32 | format version 1 */
        put_le64(file + 16, SEG_BYTES);
        put_le64(file + 24, gen);
        put_le64(file + 32, XXH3_64bits(file, 32));
    } else {
        gen = get_le64(file + 24);
    }
    for (size_t off = SECTOR; off + SECTOR <= SEG_BYTES; off += SECTOR) {
        unsigned char *p = file + off;
        if (memcmp(p + 128, "KVTREC01", 8) != 0) {
            continue;
        }
        if (flags & 2) {
            uint64_t len = get_le64(p + 152);
            uint64_t room = SEG_BYTES - off - SECTOR;
            put_le64(p + 96, kvt_block_checksum(p + SECTOR, len < room ? len : room));
        }
        if (flags & 1) {
            put_le64(p + 136, gen);
            put_le64(p + 144, off);
            put_le64(p + 120, XXH3_64bits(p, 120));
            put_le64(p + 160, XXH3_64bits(p, 160));
        }
    }
}

static void write_file(void)
{
    char path[4200];
    for (unsigned i = 0; i < NSEG; i++) {
        snprintf(path, sizeof(path), "%s/seg-%05u.kvt", dir, i);
        (void)unlink(path);
    }
    snprintf(path, sizeof(path), "%s/seg-%05u.kvt", dir, 0u);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, file, SEG_BYTES) != (ssize_t)SEG_BYTES || close(fd) != 0) {
        abort();
    }
}

/* Does the file hold, at some sector, a record descriptor of key declaring exactly this payload? */
static bool in_file(kvt_key_t key, const unsigned char *payload, uint64_t len, uint64_t checksum)
{
    for (size_t off = SECTOR; off + SECTOR <= SEG_BYTES; off += SECTOR) {
        const unsigned char *p = file + off;
        kvt_block_meta_t m;
        if (memcmp(p + 128, "KVTREC01", 8) == 0 && kvt_block_header_decode(p, &m, NULL) == KVT_OK &&
            kvt_key_equal(m.key, key) && m.payload_bytes == len && m.payload_checksum == checksum &&
            off + SECTOR + len <= SEG_BYTES && memcmp(p + SECTOR, payload, len) == 0) {
            return true;
        }
    }
    return false;
}

typedef struct found {
    kvt_key_t keys[SEG_BYTES / SECTOR];
    size_t n;
    bool ok[SEG_BYTES / SECTOR];      /* the first GET served it */
    uint64_t sum[SEG_BYTES / SECTOR]; /* and this payload checksum */
} found_t;

static void on_block(const kvt_block_meta_t *meta, void *arg)
{
    found_t *f = arg;
    if (f->n == sizeof(f->keys) / sizeof(f->keys[0])) {
        abort(); /* more records than sectors */
    }
    f->keys[f->n++] = meta->key;
}

static kvt_status_t get(kvt_tier_channel_t *chan, kvt_key_t key, kvt_tier_io_t *io)
{
    memset(io, 0, sizeof(*io));
    io->op = KVT_TIER_GET;
    io->meta.key = key;
    io->buf = buf;
    io->len = BUF;
    return kvt_tier_run(chan, io);
}

/* Every block served once is served again, the same: nothing recovered is lost or changed by
   later puts or a restart. */
static void recheck(kvt_tier_channel_t *chan, const found_t *f)
{
    kvt_tier_io_t io;
    for (size_t i = 0; i < f->n; i++) {
        if (f->ok[i] &&
            (get(chan, f->keys[i], &io) != KVT_OK || kvt_block_checksum(buf, io.len) != f->sum[i] ||
             io.meta.payload_checksum != f->sum[i])) {
            abort();
        }
    }
}

/* A block that is not in the file: put after recovery, it must read back exactly. */
static const kvt_key_t fresh_key = {0x66726573686b6579ull, 0x6675a5a5f00d0001ull};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (file == NULL && setup() != 0) {
        abort();
    }
    if (skip || size < 1) {
        return 0;
    }
    build_file(data + 1, size - 1, data[0]);
    write_file();

    kvt_tier_config_t cfg;
    config(&cfg);
    kvt_tier_t *tier;
    kvt_tier_channel_t *chan;
    kvt_error_t err;
    if (kvt_tier_open(&cfg, &tier, &err) != KVT_OK ||
        kvt_tier_channel_open(tier, &chan) != KVT_OK) {
        fprintf(stderr, "fuzz_segment: open: %s\n", err.message);
        abort();
    }
    found_t f = {.n = 0};
    if (kvt_tier_scan(tier, on_block, &f) != KVT_OK) {
        abort();
    }
    if (getenv("FUZZ_SEGMENT_VERBOSE") != NULL) { /* for checking what a seed reaches */
        fprintf(stderr, "fuzz_segment: %zu blocks found\n", f.n);
    }
    kvt_tier_io_t io;
    for (size_t i = 0; i < f.n; i++) {
        kvt_status_t st = get(chan, f.keys[i], &io);
        if (st == KVT_OK) {
            if (!kvt_key_equal(io.meta.key, f.keys[i]) || io.meta.payload_bytes != io.len ||
                kvt_block_checksum(buf, io.len) != io.meta.payload_checksum ||
                !in_file(f.keys[i], buf, io.len, io.meta.payload_checksum)) {
                abort();
            }
            f.ok[i] = true;
            f.sum[i] = io.meta.payload_checksum;
        } else if (st != KVT_ERR_CORRUPT) {
            abort(); /* the scan lists each key once: none may vanish before its GET */
        }
    }
    /* a new block after the recovery, read back now and after a restart (its key removed
       first, should the input have crafted a record of it) */
    (void)kvt_tier_remove(tier, fresh_key);
    unsigned char payload[3 * SECTOR + 100];
    for (size_t i = 0; i < sizeof(payload); i++) {
        payload[i] = (unsigned char)(i * 131 + 7);
    }
    kvt_tier_io_t put;
    memset(&put, 0, sizeof(put));
    put.op = KVT_TIER_PUT;
    put.meta.key = fresh_key;
    put.meta.payload_bytes = sizeof(payload);
    put.meta.payload_checksum = kvt_block_checksum(payload, sizeof(payload));
    put.buf = payload;
    put.len = sizeof(payload);
    if (kvt_tier_run(chan, &put) != KVT_OK || get(chan, fresh_key, &io) != KVT_OK ||
        io.len != sizeof(payload) || memcmp(buf, payload, sizeof(payload)) != 0) {
        abort();
    }
    recheck(chan, &f);
    kvt_tier_channel_close(chan);
    kvt_tier_close(tier);
    if (kvt_tier_open(&cfg, &tier, &err) != KVT_OK ||
        kvt_tier_channel_open(tier, &chan) != KVT_OK || get(chan, fresh_key, &io) != KVT_OK ||
        io.len != sizeof(payload) || memcmp(buf, payload, sizeof(payload)) != 0) {
        abort();
    }
    recheck(chan, &f);
    kvt_tier_channel_close(chan);
    kvt_tier_close(tier);
    return 0;
}
