/*
 * kvtier: the block record — the unit every tier stores.
 *
 * A record is [header (KVT_BLOCK_HEADER_BYTES) | payload]. The payload is the KV of
 * `ntokens` consecutive tokens of one sequence for every layer, laid out layer by layer and,
 * within a layer, KV head by KV head (docs/store.md); kvtier treats it as opaque bytes of the
 * size the sizing engine gives. The header is part of the on-disk format of the NVMe and
 * parallel-filesystem tiers (other processes and nodes read it), so it is encoded
 * little-endian field by field, never as a C struct image:
 *
 *   off size field
 *     0    8 magic "KVTBLK01"
 *     8    2 format version (2; version 1 held an XXH3-64 payload checksum)
 *    10    2 header bytes (128)
 *    12    4 layout (kvt_block_layout_t)
 *    16   16 key (lo, hi)
 *    32   16 parent key (lo, hi; zero for a chain's first block)
 *    48    8 tenant id
 *    56   16 model fingerprint
 *    72    8 first token position
 *    80    4 tokens in the block
 *    84    4 reserved (0)
 *    88    8 payload bytes
 *    96    8 payload checksum: CRC-32C (Castagnoli) of the payload in the low 32 bits,
 *           high 32 bits zero
 *   104   16 reserved (0)
 *   120    8 header checksum: XXH3-64 of bytes 0..119, seed 0
 *
 * Readers verify the header checksum on decode and the payload checksum on every read from a
 * persistent or remote tier: a torn or corrupted record is reported as KVT_ERR_CORRUPT, never
 * served.
 */
#ifndef KVTIER_BLOCK_H
#define KVTIER_BLOCK_H

#include <kvtier/key.h>
#include <kvtier/status.h>

KVT_BEGIN_DECLS

#define KVT_BLOCK_HEADER_BYTES 128u
#define KVT_BLOCK_FORMAT_VERSION 2u

typedef enum kvt_block_layout {
    KVT_BLOCK_LAYOUT_OPAQUE = 0,     /* payload bytes with no declared structure */
    KVT_BLOCK_LAYOUT_LAYER_HEAD = 1, /* [layer][kv head][token][k|v] (GQA/MHA) */
    KVT_BLOCK_LAYOUT_LAYER_LATENT = 2, /* [layer][token][latent + rope key] (MLA) */
} kvt_block_layout_t;

/* The decoded header of one record. */
typedef struct kvt_block_meta {
    kvt_key_t key;
    kvt_key_t parent;
    uint64_t tenant;
    uint64_t model_fingerprint[2];
    uint64_t first_token;
    uint32_t ntokens;
    kvt_block_layout_t layout;
    uint64_t payload_bytes;
    uint64_t payload_checksum; /* CRC-32C of the payload (kvt_block_checksum) */
} kvt_block_meta_t;

/*
 * CRC-32C (Castagnoli, as iSCSI, ext4 and NVMe use it) of a payload, zero-extended: the checksum
 * stored in headers. Hardware CRC32C: a persistent tier checks it on every read, over bytes that
 * DMA has just written and that are not in cache, where it runs about twice as fast as XXH3-64
 * (docs/store.md, "Payload checksum").
 */
KVT_API uint64_t kvt_block_checksum(const void *payload, size_t len);

/*
 * Encode meta into out[KVT_BLOCK_HEADER_BYTES] (header checksum included). meta's
 * payload_checksum is written as given: compute it with kvt_block_checksum() first.
 */
KVT_API void kvt_block_header_encode(const kvt_block_meta_t *meta, void *out);

/*
 * Decode and verify a header: KVT_ERR_CORRUPT (with err naming the field) when the magic,
 * version, size or header checksum is wrong. meta_p is written only on success.
 */
KVT_API kvt_status_t kvt_block_header_decode(const void *in, kvt_block_meta_t *meta_p,
                                             kvt_error_t *err);

KVT_END_DECLS

#endif
