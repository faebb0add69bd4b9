/* Block keys: the documented byte layout (checked by an independent implementation), chaining,
 * tenant and model isolation, partial blocks and argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/key.h>
#include <openssl/evp.h>
#include <string.h>
#include <xxhash.h>

#define BT 16

/* The layout of kvtier/key.h, written independently: parent, salt, fingerprint as 64-bit
 * little-endian words, then each token as 4 little-endian bytes. Returns the length. */
static size_t layout(unsigned char *out, kvt_key_t parent, const uint64_t salt[2],
                     const uint64_t fp[2], const uint32_t *tok, size_t n)
{
    uint64_t words[6] = {parent.lo, parent.hi, salt[0], salt[1], fp[0], fp[1]};
    size_t len = 0;
    for (int w = 0; w < 6; w++) {
        for (int byte = 0; byte < 8; byte++) {
            out[len++] = (unsigned char)((words[w] >> (8 * byte)) & 0xFF);
        }
    }
    for (size_t t = 0; t < n; t++) {
        out[len++] = (unsigned char)(tok[t] & 0xFF);
        out[len++] = (unsigned char)((tok[t] >> 8) & 0xFF);
        out[len++] = (unsigned char)((tok[t] >> 16) & 0xFF);
        out[len++] = (unsigned char)((tok[t] >> 24) & 0xFF);
    }
    return len;
}

static kvt_key_t ref_xxh3(kvt_key_t parent, const uint64_t salt[2], const uint64_t fp[2],
                          const uint32_t *tok, size_t n)
{
    unsigned char buf[48 + 4 * 64];
    size_t len = layout(buf, parent, salt, fp, tok, n);
    XXH128_hash_t h = XXH3_128bits(buf, len);
    return (kvt_key_t){.lo = h.low64, .hi = h.high64};
}

/* SHA-256 by the incremental EVP interface (the library uses the one-shot EVP_Digest). */
static kvt_key_t ref_sha256(kvt_key_t parent, const uint64_t salt[2], const uint64_t fp[2],
                            const uint32_t *tok, size_t n)
{
    unsigned char buf[48 + 4 * 64];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t len = layout(buf, parent, salt, fp, tok, n);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    assert_non_null(c);
    assert_int_equal(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(c, buf, len), 1);
    assert_int_equal(EVP_DigestFinal_ex(c, md, &mdlen), 1);
    EVP_MD_CTX_free(c);
    assert_int_equal(mdlen, 32);
    kvt_key_t k = {0, 0};
    for (int i = 7; i >= 0; i--) {
        k.lo = (k.lo << 8) | md[i];
        k.hi = (k.hi << 8) | md[8 + i];
    }
    return k;
}

static void fill_tokens(uint32_t *tok, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        tok[i] = seed * 2654435761u + (uint32_t)i * 40503u + 0x01020304u; /* all 4 bytes vary */
    }
}

static void chain_ok(const kvt_key_ctx_t *ctx, const uint32_t *tok, size_t n, kvt_key_t *keys,
                     size_t expect)
{
    size_t nk = 12345;
    kvt_error_t err;
    assert_int_equal(kvt_key_chain(ctx, tok, n, BT, keys, &nk, &err), KVT_OK);
    assert_int_equal(nk, expect);
}

static void check_against_reference(kvt_key_hash_t hash)
{
    kvt_key_ctx_t ctx;
    kvt_key_ctx_init(&ctx);
    ctx.hash = hash;
    ctx.tenant_salt[0] = 0x0123456789ABCDEFull;
    ctx.tenant_salt[1] = 0xFEDCBA9876543210ull;
    ctx.model_fingerprint[0] = 0xA5A5A5A55A5A5A5Aull;
    ctx.model_fingerprint[1] = 7;
    uint32_t tok[2 * BT + 5];
    fill_tokens(tok, 2 * BT + 5, 3);
    kvt_key_t keys[3];
    chain_ok(&ctx, tok, 2 * BT + 5, keys, 3);
    kvt_key_t (*ref)(kvt_key_t, const uint64_t *, const uint64_t *, const uint32_t *, size_t) =
        hash == KVT_KEY_XXH3 ? ref_xxh3 : ref_sha256;
    kvt_key_t zero = {0, 0};
    kvt_key_t k0 = ref(zero, ctx.tenant_salt, ctx.model_fingerprint, tok, BT);
    kvt_key_t k1 = ref(k0, ctx.tenant_salt, ctx.model_fingerprint, tok + BT, BT);
    kvt_key_t k2 = ref(k1, ctx.tenant_salt, ctx.model_fingerprint, tok + 2 * BT, 5);
    assert_true(kvt_key_equal(keys[0], k0));
    assert_true(kvt_key_equal(keys[1], k1));
    assert_true(kvt_key_equal(keys[2], k2));
}

static void test_xxh3_reference(void **state)
{
    (void)state;
    check_against_reference(KVT_KEY_XXH3);
}

static void test_sha256_reference(void **state)
{
    (void)state;
    check_against_reference(KVT_KEY_SHA256);
}

/* A known answer computed outside C (Python hashlib over struct.pack('<6Q', 0, 0, salt, fp) +
 * struct.pack('<4I', 1, 2, 3, 4)), pinning the layout and the byte order of lo and hi. */
static void test_sha256_known_answer(void **state)
{
    (void)state;
    kvt_key_ctx_t ctx;
    kvt_key_ctx_init(&ctx);
    ctx.hash = KVT_KEY_SHA256;
    ctx.tenant_salt[0] = 0x1111111111111111ull;
    ctx.tenant_salt[1] = 0x2222222222222222ull;
    ctx.model_fingerprint[0] = 0x3333333333333333ull;
    ctx.model_fingerprint[1] = 0x4444444444444444ull;
    const uint32_t tok[4] = {1, 2, 3, 4};
    kvt_key_t k;
    size_t nk = 0;
    assert_int_equal(kvt_key_chain(&ctx, tok, 4, 4, &k, &nk, NULL), KVT_OK);
    assert_int_equal(nk, 1);
    assert_true(k.lo == 0xe9b3920412bb1447ull);
    assert_true(k.hi == 0x1262ef9260e6e262ull);
}

static void test_chaining(void **state)
{
    (void)state;
    kvt_key_ctx_t ctx;
    kvt_key_ctx_init(&ctx);
    uint32_t a[5 * BT], b[5 * BT];
    fill_tokens(a, 5 * BT, 11);
    kvt_key_t ka[5], kb[5];
    chain_ok(&ctx, a, 5 * BT, ka, 5);

    /* one token of block 0 changed: every key changes */
    memcpy(b, a, sizeof(a));
    b[3] ^= 1;
    chain_ok(&ctx, b, 5 * BT, kb, 5);
    for (int i = 0; i < 5; i++) {
        assert_false(kvt_key_equal(ka[i], kb[i]));
    }
    /* one token of block 3 changed: keys 0-2 equal, 3-4 differ */
    memcpy(b, a, sizeof(a));
    b[3 * BT + 7] += 1;
    chain_ok(&ctx, b, 5 * BT, kb, 5);
    for (int i = 0; i < 3; i++) {
        assert_true(kvt_key_equal(ka[i], kb[i]));
    }
    for (int i = 3; i < 5; i++) {
        assert_false(kvt_key_equal(ka[i], kb[i]));
    }
    /* same tokens in a different block order: block contents alone do not make the key */
    memcpy(b, a + BT, BT * sizeof(uint32_t));
    memcpy(b + BT, a, BT * sizeof(uint32_t));
    chain_ok(&ctx, b, 2 * BT, kb, 2);
    assert_false(kvt_key_equal(ka[0], kb[1]));
    assert_false(kvt_key_equal(ka[1], kb[0]));
}

/* Two contexts that differ in one field give chains with no key in common. */
static void check_disjoint(const kvt_key_ctx_t *c1, const kvt_key_ctx_t *c2)
{
    uint32_t tok[6 * BT];
    fill_tokens(tok, 6 * BT, 5);
    kvt_key_t k1[6], k2[6];
    chain_ok(c1, tok, 6 * BT, k1, 6);
    chain_ok(c2, tok, 6 * BT, k2, 6);
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 6; j++) {
            assert_false(kvt_key_equal(k1[i], k2[j]));
        }
    }
}

static void test_tenant_isolation(void **state)
{
    (void)state;
    for (int h = KVT_KEY_XXH3; h <= KVT_KEY_SHA256; h++) {
        kvt_key_ctx_t c1, c2;
        kvt_key_ctx_init(&c1);
        c1.hash = (kvt_key_hash_t)h;
        c1.tenant_salt[0] = 1;
        c2 = c1;
        c2.tenant_salt[0] = 2;
        check_disjoint(&c1, &c2);
        c2 = c1;
        c2.tenant_salt[1] = 1; /* the second word counts too */
        check_disjoint(&c1, &c2);
    }
}

static void test_model_isolation(void **state)
{
    (void)state;
    for (int h = KVT_KEY_XXH3; h <= KVT_KEY_SHA256; h++) {
        kvt_key_ctx_t c1, c2;
        kvt_key_ctx_init(&c1);
        c1.hash = (kvt_key_hash_t)h;
        c1.model_fingerprint[1] = 99;
        c2 = c1;
        c2.model_fingerprint[1] = 100;
        check_disjoint(&c1, &c2);
        c2 = c1;
        c2.model_fingerprint[0] = 1;
        check_disjoint(&c1, &c2);
    }
    /* and the hash choice itself separates key spaces */
    kvt_key_ctx_t c1, c2;
    kvt_key_ctx_init(&c1);
    c2 = c1;
    c2.hash = KVT_KEY_SHA256;
    check_disjoint(&c1, &c2);
}

static void test_partial_block(void **state)
{
    (void)state;
    kvt_key_ctx_t ctx;
    kvt_key_ctx_init(&ctx);
    uint32_t tok[36];
    fill_tokens(tok, 36, 17);
    kvt_key_t k35[3], k36[3];
    chain_ok(&ctx, tok, 35, k35, 3); /* 16 + 16 + 3 */
    chain_ok(&ctx, tok, 36, k36, 3); /* 16 + 16 + 4 */
    assert_true(kvt_key_equal(k35[0], k36[0]));
    assert_true(kvt_key_equal(k35[1], k36[1]));
    assert_false(kvt_key_equal(k35[2], k36[2]));
    /* the partial key is the hash of its 3 actual tokens */
    kvt_key_t ref = ref_xxh3(k35[1], ctx.tenant_salt, ctx.model_fingerprint, tok + 32, 3);
    assert_true(kvt_key_equal(k35[2], ref));
    /* a trailing token 0 is not padding: 35 tokens + a 0 differs from 35 tokens */
    tok[35] = 0;
    chain_ok(&ctx, tok, 36, k36, 3);
    assert_false(kvt_key_equal(k35[2], k36[2]));
    /* a prompt shorter than one block */
    kvt_key_t one;
    chain_ok(&ctx, tok, 5, &one, 1);
    assert_true(kvt_key_equal(one, ref_xxh3((kvt_key_t){0, 0}, ctx.tenant_salt,
                                            ctx.model_fingerprint, tok, 5)));
    /* exact multiple: no partial block */
    kvt_key_t k32[2];
    chain_ok(&ctx, tok, 32, k32, 2);
    assert_true(kvt_key_equal(k32[1], k35[1]));
    /* empty prompt: no keys */
    size_t nk = 9;
    assert_int_equal(kvt_key_chain(&ctx, tok, 0, BT, k32, &nk, NULL), KVT_OK);
    assert_int_equal(nk, 0);
    assert_int_equal(kvt_key_chain(&ctx, NULL, 0, BT, k32, &nk, NULL), KVT_OK);
}

static void test_invalid(void **state)
{
    (void)state;
    kvt_key_ctx_t ctx;
    kvt_key_ctx_init(&ctx);
    uint32_t tok[4] = {1, 2, 3, 4};
    kvt_key_t keys[4];
    size_t nk = 77;
    kvt_error_t err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(kvt_key_chain(&ctx, tok, 4, 0, keys, &nk, &err), KVT_ERR_INVALID);
    assert_int_equal(err.status, KVT_ERR_INVALID);
    assert_true(strlen(err.message) > 0);
    assert_int_equal(kvt_key_chain(NULL, tok, 4, 2, keys, &nk, NULL), KVT_ERR_INVALID);
    assert_int_equal(kvt_key_chain(&ctx, NULL, 4, 2, keys, &nk, NULL), KVT_ERR_INVALID);
    assert_int_equal(kvt_key_chain(&ctx, tok, 4, 2, NULL, &nk, NULL), KVT_ERR_INVALID);
    assert_int_equal(kvt_key_chain(&ctx, tok, 4, 2, keys, NULL, NULL), KVT_ERR_INVALID);
    kvt_key_ctx_t bad = ctx;
    bad.opts_size = 0;
    assert_int_equal(kvt_key_chain(&bad, tok, 4, 2, keys, &nk, NULL), KVT_ERR_INVALID);
    bad = ctx;
    bad.hash = (kvt_key_hash_t)7;
    assert_int_equal(kvt_key_chain(&bad, tok, 4, 2, keys, &nk, NULL), KVT_ERR_INVALID);
    assert_int_equal(nk, 77); /* untouched on failure */
}

static void test_equal_format(void **state)
{
    (void)state;
    kvt_key_t a = {.lo = 0x0123456789ABCDEFull, .hi = 0xFEDCBA9876543210ull};
    kvt_key_t b = a;
    char s[33];
    assert_true(kvt_key_equal(a, b));
    b.hi ^= 1ull << 63;
    assert_false(kvt_key_equal(a, b));
    b = a;
    b.lo ^= 1;
    assert_false(kvt_key_equal(a, b));
    kvt_key_format(a, s);
    assert_string_equal(s, "fedcba98765432100123456789abcdef");
    kvt_key_format((kvt_key_t){0, 0}, s);
    assert_string_equal(s, "00000000000000000000000000000000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xxh3_reference),   cmocka_unit_test(test_sha256_reference),
        cmocka_unit_test(test_sha256_known_answer), cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_tenant_isolation), cmocka_unit_test(test_model_isolation),
        cmocka_unit_test(test_partial_block),    cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_equal_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
