/*
 * Block record headers (kvtier/block.h): a fixed 128-byte little-endian encoding written field by
 * field, so records written on one host read the same on another. The header checksum covers
 * bytes 0..119 and is checked before any field is trusted; decode then checks the magic, the
 * version and the declared header size, naming the first field that is wrong.
 */
#include <kvtier/block.h>

#include "common/error.h"

#include <string.h>
#include <xxhash.h>

static const unsigned char magic[8] = {'K', 'V', 'T', 'B', 'L', 'K', '0', '1'};

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

uint64_t kvt_block_checksum(const void *payload, size_t len)
{
    return XXH3_64bits(payload, len);
}

void kvt_block_header_encode(const kvt_block_meta_t *m, void *out)
{
    unsigned char *p = out;
    memset(p, 0, KVT_BLOCK_HEADER_BYTES);
    memcpy(p, magic, sizeof(magic));
    put_le(p + 8, KVT_BLOCK_FORMAT_VERSION, 2);
    put_le(p + 10, KVT_BLOCK_HEADER_BYTES, 2);
    put_le(p + 12, (uint64_t)m->layout, 4);
    put_le(p + 16, m->key.lo, 8);
    put_le(p + 24, m->key.hi, 8);
    put_le(p + 32, m->parent.lo, 8);
    put_le(p + 40, m->parent.hi, 8);
    put_le(p + 48, m->tenant, 8);
    put_le(p + 56, m->model_fingerprint[0], 8);
    put_le(p + 64, m->model_fingerprint[1], 8);
    put_le(p + 72, m->first_token, 8);
    put_le(p + 80, m->ntokens, 4);
    put_le(p + 88, m->payload_bytes, 8);
    put_le(p + 96, m->payload_checksum, 8);
    put_le(p + 120, XXH3_64bits(p, 120), 8);
}

kvt_status_t kvt_block_header_decode(const void *in, kvt_block_meta_t *meta_p, kvt_error_t *err)
{
    const unsigned char *p = in;
    if (get_le(p + 120, 8) != XXH3_64bits(p, 120)) {
        return kvt_error_set(err, KVT_ERR_CORRUPT, "block header: header checksum mismatch");
    }
    if (memcmp(p, magic, sizeof(magic)) != 0) {
        return kvt_error_set(err, KVT_ERR_CORRUPT, "block header: bad magic");
    }
    uint64_t version = get_le(p + 8, 2);
    if (version != KVT_BLOCK_FORMAT_VERSION) {
        return kvt_error_set(err, KVT_ERR_UNSUPPORTED, "block header: format version %llu, expected %u",
                             (unsigned long long)version, KVT_BLOCK_FORMAT_VERSION);
    }
    if (get_le(p + 10, 2) != KVT_BLOCK_HEADER_BYTES) {
        return kvt_error_set(err, KVT_ERR_CORRUPT, "block header: header size %llu, expected %u",
                             (unsigned long long)get_le(p + 10, 2), KVT_BLOCK_HEADER_BYTES);
    }
    kvt_block_meta_t m;
    memset(&m, 0, sizeof(m));
    m.layout = (kvt_block_layout_t)get_le(p + 12, 4);
    m.key.lo = get_le(p + 16, 8);
    m.key.hi = get_le(p + 24, 8);
    m.parent.lo = get_le(p + 32, 8);
    m.parent.hi = get_le(p + 40, 8);
    m.tenant = get_le(p + 48, 8);
    m.model_fingerprint[0] = get_le(p + 56, 8);
    m.model_fingerprint[1] = get_le(p + 64, 8);
    m.first_token = get_le(p + 72, 8);
    m.ntokens = (uint32_t)get_le(p + 80, 4);
    m.payload_bytes = get_le(p + 88, 8);
    m.payload_checksum = get_le(p + 96, 8);
    *meta_p = m;
    return KVT_OK;
}
