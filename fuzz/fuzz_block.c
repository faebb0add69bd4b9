/*
 * libFuzzer target for block records as the persistent tiers read them back: any bytes in,
 * treated as a block file someone (a crashed writer, a bad disk, another node) left in a PFS
 * directory. The first byte's bits pick repairs so the fuzzer gets past the checksums to the
 * fields behind them: bit 1 recomputes the payload checksum (bytes 96..103, over the bytes after
 * the header), bit 0 the header checksum (bytes 120..127, over 0..119); the rest is the file.
 * The file is placed at the path of the key its header names (or of a fixed key) in a PFS tier,
 * and a GET through the tier must either fail cleanly (NOT_FOUND, CORRUPT, DOES_NOT_FIT, IO) or
 * return exactly the file's payload with a checksum that matches the header. Anything else
 * aborts; the sanitizers catch the rest.
 */
#include <kvtier/kvtier.h>

#include "fuzz_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BUF (1u << 20)

static kvt_tier_t *tier;
static kvt_tier_channel_t *chan;
static char dir[64];
static unsigned char *buf;

static void cleanup(void)
{
    kvt_tier_channel_close(chan);
    kvt_tier_close(tier);
    fuzz_rm_tree(dir);
}

static int setup(void)
{
    kvt_log_set_level(KVT_LOG_ERROR); /* every damaged record is logged as a warning */
    snprintf(dir, sizeof(dir), "/tmp/fuzz_block_XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    kvt_tier_config_t cfg;
    kvt_tier_config_init(&cfg, KVT_TIER_PFS);
    cfg.dir = dir;
    cfg.durable = false;
    cfg.capacity_bytes = 1ull << 40;
    cfg.queue_depth = 1;
    kvt_error_t err;
    if (kvt_tier_open(&cfg, &tier, &err) != KVT_OK ||
        kvt_tier_channel_open(tier, &chan) != KVT_OK) {
        fprintf(stderr, "fuzz_block: %s\n", err.message);
        return -1;
    }
    buf = malloc(BUF);
    atexit(cleanup);
    return buf == NULL ? -1 : 0;
}

/* The documented layout: <dir>/<hex 0-1>/<hex 2-3>/<32 hex>.kvb (docs/store.md). */
static void key_path(kvt_key_t key, char *path, size_t len)
{
    char hex[33];
    kvt_key_format(key, hex);
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/%.2s", dir, hex);
    mkdir(sub, 0755);
    snprintf(sub, sizeof(sub), "%s/%.2s/%.2s", dir, hex, hex + 2);
    mkdir(sub, 0755);
    snprintf(path, len, "%s/%s.kvb", sub, hex);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (tier == NULL && setup() != 0) {
        abort();
    }
    if (size < 1) {
        return 0;
    }
    bool repair = data[0] & 1, repair_payload = data[0] & 2;
    data++;
    size--;
    unsigned char *file = malloc(size + 1);
    memcpy(file, data, size);
    kvt_key_t key = {0x1234, 0x5678};
    kvt_block_meta_t meta;
    if (size >= KVT_BLOCK_HEADER_BYTES) {
        if (repair_payload) {
            uint64_t h =
                kvt_block_checksum(file + KVT_BLOCK_HEADER_BYTES, size - KVT_BLOCK_HEADER_BYTES);
            for (int i = 0; i < 8; i++) {
                file[96 + i] = (unsigned char)(h >> (8 * i));
            }
        }
        if (repair) {
            uint64_t h = XXH3_64bits(file, 120);
            for (int i = 0; i < 8; i++) {
                file[120 + i] = (unsigned char)(h >> (8 * i));
            }
        }
        if (kvt_block_header_decode(file, &meta, NULL) == KVT_OK) {
            key = meta.key;
        }
    }
    char path[256];
    key_path(key, path, sizeof(path));
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(file, 1, size, f) != size || fclose(f) != 0) {
        abort();
    }
    kvt_tier_io_t io;
    memset(&io, 0, sizeof(io));
    io.op = KVT_TIER_GET;
    io.meta.key = key;
    io.buf = buf;
    io.len = BUF;
    kvt_status_t st = kvt_tier_run(chan, &io);
    if (st == KVT_OK) {
        /* served: it must be this file's payload, whole, under a header that says so */
        if (size < KVT_BLOCK_HEADER_BYTES || io.len != size - KVT_BLOCK_HEADER_BYTES ||
            memcmp(buf, file + KVT_BLOCK_HEADER_BYTES, io.len) != 0 ||
            kvt_block_checksum(buf, io.len) != io.meta.payload_checksum ||
            !kvt_key_equal(io.meta.key, key) || io.meta.payload_bytes != io.len) {
            abort();
        }
    } else if (st != KVT_ERR_NOT_FOUND && st != KVT_ERR_CORRUPT && st != KVT_ERR_DOES_NOT_FIT &&
               st != KVT_ERR_IO && st != KVT_ERR_UNSUPPORTED) {
        abort();
    }
    (void)kvt_tier_remove(tier, key);
    unlink(path);
    free(file);
    return 0;
}
