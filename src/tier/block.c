/*
 * Block record headers (kvtier/block.h): a fixed 128-byte little-endian encoding written field by
 * field, so records written on one host read the same on another. The header checksum covers
 * bytes 0..119 and is checked before any field is trusted; decode then checks the magic, the
 * version and the declared header size, naming the first field that is wrong. The payload
 * checksum is CRC-32C (common/crc32c.c); the header checksum stays XXH3-64, which is as fast over
 * 120 bytes and wider.
 */
#include <kvtier/block.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/le.h"

#include <string.h>
#include <xxhash.h>

static const unsigned char magic[8] = {'K', 'V', 'T', 'B', 'L', 'K', '0', '1'};

uint64_t kvt_block_checksum(const void *payload, size_t len)
{
    return kvt_crc32c(0, payload, len);
}

void kvt_block_header_encode(const kvt_block_meta_t *m, void *out)
{
    unsigned char *p = out;
    memset(p, 0, KVT_BLOCK_HEADER_BYTES);
    memcpy(p, magic, sizeof(magic));
    kvt_put_le(p + 8, KVT_BLOCK_FORMAT_VERSION, 2);
    kvt_put_le(p + 10, KVT_BLOCK_HEADER_BYTES, 2);
    kvt_put_le(p + 12, (uint64_t)m->layout, 4);
    kvt_put_le(p + 16, m->key.lo, 8);
    kvt_put_le(p + 24, m->key.hi, 8);
    kvt_put_le(p + 32, m->parent.lo, 8);
    kvt_put_le(p + 40, m->parent.hi, 8);
    kvt_put_le(p + 48, m->tenant, 8);
    kvt_put_le(p + 56, m->model_fingerprint[0], 8);
    kvt_put_le(p + 64, m->model_fingerprint[1], 8);
    kvt_put_le(p + 72, m->first_token, 8);
    kvt_put_le(p + 80, m->ntokens, 4);
    kvt_put_le(p + 88, m->payload_bytes, 8);
    kvt_put_le(p + 96, m->payload_checksum, 8);
    kvt_put_le(p + 120, XXH3_64bits(p, 120), 8);
}

kvt_status_t kvt_block_header_decode(const void *in, kvt_block_meta_t *meta_p, kvt_error_t *err)
{
    const unsigned char *p = in;
    if (kvt_get_le(p + 120, 8) != XXH3_64bits(p, 120)) {
        return kvt_error_set(err, KVT_ERR_CORRUPT, "block header: header checksum mismatch");
    }
    if (memcmp(p, magic, sizeof(magic)) != 0) {
        return kvt_error_set(err, KVT_ERR_CORRUPT, "block header: bad magic");
    }
    uint64_t version = kvt_get_le(p + 8, 2);
    if (version != KVT_BLOCK_FORMAT_VERSION) {
        return kvt_error_set(err, KVT_ERR_UNSUPPORTED, "block header: format version %llu, expected %u",
                             (unsigned long long)version, KVT_BLOCK_FORMAT_VERSION);
    }
    if (kvt_get_le(p + 10, 2) != KVT_BLOCK_HEADER_BYTES) {
        return kvt_error_set(err, KVT_ERR_CORRUPT, "block header: header size %llu, expected %u",
                             (unsigned long long)kvt_get_le(p + 10, 2), KVT_BLOCK_HEADER_BYTES);
    }
    if (kvt_get_le(p + 100, 4) != 0) {
        return kvt_error_set(err, KVT_ERR_CORRUPT, "block header: payload checksum 0x%016llx has "
                                                   "its high 32 bits set (a CRC-32C has 32)",
                             (unsigned long long)kvt_get_le(p + 96, 8));
    }
    kvt_block_meta_t m;
    memset(&m, 0, sizeof(m));
    m.layout = (kvt_block_layout_t)kvt_get_le(p + 12, 4);
    m.key.lo = kvt_get_le(p + 16, 8);
    m.key.hi = kvt_get_le(p + 24, 8);
    m.parent.lo = kvt_get_le(p + 32, 8);
    m.parent.hi = kvt_get_le(p + 40, 8);
    m.tenant = kvt_get_le(p + 48, 8);
    m.model_fingerprint[0] = kvt_get_le(p + 56, 8);
    m.model_fingerprint[1] = kvt_get_le(p + 64, 8);
    m.first_token = kvt_get_le(p + 72, 8);
    m.ntokens = (uint32_t)kvt_get_le(p + 80, 4);
    m.payload_bytes = kvt_get_le(p + 88, 8);
    m.payload_checksum = kvt_get_le(p + 96, 8);
    *meta_p = m;
    return KVT_OK;
}
