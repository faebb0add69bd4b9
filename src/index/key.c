/*
 * Block keys: chained 128-bit hashes of (parent key, tenant salt, model fingerprint, tokens).
 *
 * One scratch buffer per call holds the hashed bytes of one block: the 48-byte header (parent,
 * salt, fingerprint) followed by the block's token ids, all written little-endian byte by byte so
 * the keys are the same on every host. The salt and fingerprint are written once; each block
 * rewrites the parent (the previous key) and its tokens. XXH3-128 hashes the buffer in one call;
 * SHA-256 goes through libcrypto's one-shot EVP_Digest and keeps the first 16 bytes. The layout
 * is documented in kvtier/key.h and checked by an independent implementation in the tests: it
 * is part of the on-disk and on-wire format (block headers carry keys), so changing it changes
 * every persisted key.
 */
#include <kvtier/key.h>

#include "common/error.h"
#include "common/le.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define HEADER_BYTES 48u

void kvt_key_ctx_init(kvt_key_ctx_t *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->opts_size = sizeof(*ctx);
    ctx->hash = KVT_KEY_XXH3;
}

static kvt_status_t hash_block(kvt_key_hash_t hash, const unsigned char *buf, size_t len,
                               kvt_key_t *key_p, kvt_error_t *err)
{
    if (hash == KVT_KEY_XXH3) {
        XXH128_hash_t h = XXH3_128bits(buf, len);
        key_p->lo = h.low64;
        key_p->hi = h.high64;
        return KVT_OK;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16) {
        return kvt_error_set(err, KVT_ERR_UNAVAILABLE, "key: libcrypto failed to compute SHA-256");
    }
    key_p->lo = kvt_get_le64(md);
    key_p->hi = kvt_get_le64(md + 8);
    return KVT_OK;
}

kvt_status_t kvt_key_chain(const kvt_key_ctx_t *ctx, const uint32_t *tokens, size_t ntokens,
                           uint32_t block_tokens, kvt_key_t *keys_out, size_t *nkeys_p,
                           kvt_error_t *err)
{
    if (ctx == NULL || keys_out == NULL || nkeys_p == NULL || (tokens == NULL && ntokens > 0)) {
        return kvt_error_set(err, KVT_ERR_INVALID, "key: NULL argument");
    }
    if (ctx->opts_size < sizeof(*ctx)) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "key: opts_size %zu below %zu (call kvt_key_ctx_init)",
                             ctx->opts_size, sizeof(*ctx));
    }
    if (ctx->hash != KVT_KEY_XXH3 && ctx->hash != KVT_KEY_SHA256) {
        return kvt_error_set(err, KVT_ERR_INVALID, "key: unknown hash %d", (int)ctx->hash);
    }
    if (block_tokens == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID, "key: block_tokens is 0");
    }
    size_t nblocks = ntokens / block_tokens + (ntokens % block_tokens != 0);
    if (nblocks == 0) {
        *nkeys_p = 0;
        return KVT_OK;
    }
    /* a block never holds more tokens than the prompt has */
    size_t per_block = block_tokens < ntokens ? block_tokens : ntokens;
    unsigned char *buf = malloc(HEADER_BYTES + 4 * per_block);
    if (buf == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "key: out of memory for %zu tokens",
                             per_block);
    }
    kvt_put_le64(buf + 16, ctx->tenant_salt[0]);
    kvt_put_le64(buf + 24, ctx->tenant_salt[1]);
    kvt_put_le64(buf + 32, ctx->model_fingerprint[0]);
    kvt_put_le64(buf + 40, ctx->model_fingerprint[1]);
    kvt_key_t parent = {0, 0};
    kvt_status_t status = KVT_OK;
    for (size_t b = 0; b < nblocks; b++) {
        size_t first = b * block_tokens;
        size_t n = ntokens - first < block_tokens ? ntokens - first : block_tokens;
        kvt_put_le64(buf, parent.lo);
        kvt_put_le64(buf + 8, parent.hi);
        unsigned char *p = buf + HEADER_BYTES;
        for (size_t t = 0; t < n; t++) {
            uint32_t v = tokens[first + t];
            p[4 * t] = (unsigned char)v;
            p[4 * t + 1] = (unsigned char)(v >> 8);
            p[4 * t + 2] = (unsigned char)(v >> 16);
            p[4 * t + 3] = (unsigned char)(v >> 24);
        }
        status = hash_block(ctx->hash, buf, HEADER_BYTES + 4 * n, &parent, err);
        if (status != KVT_OK) {
            goto out_free;
        }
        keys_out[b] = parent;
    }
    *nkeys_p = nblocks;
out_free:
    free(buf);
    return status;
}

bool kvt_key_equal(kvt_key_t a, kvt_key_t b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

void kvt_key_format(kvt_key_t k, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[i] = hex[(k.hi >> (60 - 4 * i)) & 0xF];
        out[16 + i] = hex[(k.lo >> (60 - 4 * i)) & 0xF];
    }
    out[32] = '\0';
}
