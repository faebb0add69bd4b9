/*
 * kvtier block keys: chained 128-bit hashes naming the KV of one block of tokens.
 *
 * A prompt is cut into blocks of block_tokens tokens; block i gets the key
 *
 *     key_i = H(parent || tenant_salt || model_fingerprint || tokens of block i)
 *
 * where parent is key_{i-1} (the all-zero key for block 0), so a key names the block *and its
 * whole prefix*: two prompts share key_i exactly when they share every token up to the end of
 * block i, under the same tenant salt and model. The hashed bytes are, in this order:
 *
 *     parent.lo, parent.hi                         2 x uint64, little-endian   (16 bytes)
 *     tenant_salt[0], tenant_salt[1]               2 x uint64, little-endian   (16 bytes)
 *     model_fingerprint[0], model_fingerprint[1]   2 x uint64, little-endian   (16 bytes)
 *     the block's token ids                        n x uint32, little-endian   (4n bytes)
 *
 * n is block_tokens, except for a partial last block, which is hashed with its actual n tokens:
 * the input length differs, so a partial block only ever matches an identical prompt (a prompt
 * of 35 tokens and one of 36 tokens that starts with the same 35 share the keys of their full
 * blocks, never the last key).
 *
 * H is XXH3-128 by default (XXH3_128bits over that buffer; lo = low64, hi = high64). XXH3 is fast
 * but not collision resistant: someone who can choose token ids can craft two different blocks
 * with the same key. Since equal keys are taken to mean equal content (no lookup validates a
 * hit), a crafted collision would let one tenant be served KV computed from another tenant's
 * prompt -- reading another tenant's data, or poisoning its cache. KVT_KEY_SHA256 is therefore
 * selectable for tenants that may be adversarial: SHA-256 over the same bytes, its first 16
 * bytes read as lo (bytes 0-7) and hi (bytes 8-15), little-endian -- 128 bits of a
 * collision-resistant hash, so a collision costs about 2^64 work.
 *
 * Tenant isolation: different tenant salts give different hash inputs for every block, so two
 * tenants never share keys (short of a hash collision) -- not even for identical prompts, and
 * therefore never a cache hit across tenants. Tenants that should share a prefix cache (one
 * organisation, public system prompts) are given the same salt. The model fingerprint does the
 * same for models: KV from one model (or one quantisation of its weights) is never served to
 * another.
 */
#ifndef KVTIER_KEY_H
#define KVTIER_KEY_H

#include <kvtier/status.h>

KVT_BEGIN_DECLS

typedef struct kvt_key {
    uint64_t lo, hi;
} kvt_key_t;

typedef enum kvt_key_hash {
    KVT_KEY_XXH3 = 0, /* XXH3-128: fast; for tenants that trust each other */
    KVT_KEY_SHA256,   /* SHA-256 truncated to 128 bits: for adversarial tenants */
} kvt_key_hash_t;

typedef struct kvt_key_ctx {
    size_t opts_size;              /* set by kvt_key_ctx_init() */
    kvt_key_hash_t hash;           /* default KVT_KEY_XXH3 */
    uint64_t tenant_salt[2];       /* default 0, 0 */
    uint64_t model_fingerprint[2]; /* default 0, 0 */
} kvt_key_ctx_t;

/* Fill ctx with the defaults above (and opts_size); ctx must not be NULL. */
KVT_API void kvt_key_ctx_init(kvt_key_ctx_t *ctx);

/*
 * Keys of the blocks of tokens[0..ntokens): ceil(ntokens / block_tokens) of them, written to
 * keys_out, which must hold that many; *nkeys_p receives the count. ntokens = 0 gives 0 keys.
 * Returns KVT_ERR_INVALID for a NULL ctx, keys_out or nkeys_p, NULL tokens with ntokens > 0,
 * block_tokens 0, an unknown hash or an opts_size below sizeof(kvt_key_ctx_t);
 * KVT_ERR_NO_MEMORY; KVT_ERR_UNAVAILABLE when libcrypto fails to compute SHA-256. On failure
 * *nkeys_p is untouched and keys_out may hold some keys already computed. Thread-safe; does
 * not block; allocates one buffer of 48 + 4 * block_tokens bytes per call.
 */
KVT_API kvt_status_t kvt_key_chain(const kvt_key_ctx_t *ctx, const uint32_t *tokens,
                                   size_t ntokens, uint32_t block_tokens, kvt_key_t *keys_out,
                                   size_t *nkeys_p, kvt_error_t *err);

/* Whether a and b are the same key. */
KVT_API bool kvt_key_equal(kvt_key_t a, kvt_key_t b);

/* 32 lowercase hex digits, hi then lo (each most significant digit first), NUL-terminated. */
KVT_API void kvt_key_format(kvt_key_t k, char out[33]);

KVT_END_DECLS

#endif
