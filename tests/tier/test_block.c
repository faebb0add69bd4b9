/*
 * The block record header: its bytes are a format other processes and nodes read, so the test
 * builds the expected 128 bytes by hand from the layout table in kvtier/block.h and compares,
 * then checks that decode refuses every kind of damage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>

#include <string.h>
#include <xxhash.h>

static kvt_block_meta_t sample(void)
{
    kvt_block_meta_t m;
    memset(&m, 0, sizeof(m));
    m.key = (kvt_key_t){0x0102030405060708ull, 0x1112131415161718ull};
    m.parent = (kvt_key_t){0x2122232425262728ull, 0x3132333435363738ull};
    m.tenant = 0x42;
    m.model_fingerprint[0] = 0xaabbccddeeff0011ull;
    m.model_fingerprint[1] = 0x99;
    m.first_token = 4096;
    m.ntokens = 16;
    m.layout = KVT_BLOCK_LAYOUT_LAYER_HEAD;
    m.payload_bytes = 2097152;
    m.payload_checksum = 0xcafef00dull; /* a CRC-32C: 32 bits */
    return m;
}

static void le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static void test_encoding_is_the_documented_layout(void **state)
{
    (void)state;
    kvt_block_meta_t m = sample();
    unsigned char got[KVT_BLOCK_HEADER_BYTES], want[KVT_BLOCK_HEADER_BYTES];
    kvt_block_header_encode(&m, got);
    memset(want, 0, sizeof(want));
    memcpy(want, "KVTBLK01", 8);
    le(want + 8, 2, 2);
    le(want + 10, 128, 2);
    le(want + 12, 1, 4); /* LAYER_HEAD */
    le(want + 16, 0x0102030405060708ull, 8);
    le(want + 24, 0x1112131415161718ull, 8);
    le(want + 32, 0x2122232425262728ull, 8);
    le(want + 40, 0x3132333435363738ull, 8);
    le(want + 48, 0x42, 8);
    le(want + 56, 0xaabbccddeeff0011ull, 8);
    le(want + 64, 0x99, 8);
    le(want + 72, 4096, 8);
    le(want + 80, 16, 4);
    le(want + 88, 2097152, 8);
    le(want + 96, 0xcafef00dull, 8);
    le(want + 120, XXH3_64bits(want, 120), 8);
    assert_memory_equal(got, want, sizeof(want));

    kvt_block_meta_t back;
    assert_int_equal(kvt_block_header_decode(got, &back, NULL), KVT_OK);
    assert_memory_equal(&back, &m, sizeof(m));
}

/* The payload checksum is CRC-32C: the published check value and RFC 3720's B.4 vectors. */
static void test_checksum_is_crc32c(void **state)
{
    (void)state;
    assert_int_equal(kvt_block_checksum("123456789", 9), 0xE3069283u);
    unsigned char v[32];
    memset(v, 0, sizeof(v));
    assert_int_equal(kvt_block_checksum(v, sizeof(v)), 0x8A9136AAu);
    memset(v, 0xff, sizeof(v));
    assert_int_equal(kvt_block_checksum(v, sizeof(v)), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) {
        v[i] = (unsigned char)i;
    }
    assert_int_equal(kvt_block_checksum(v, sizeof(v)), 0x46DD794Eu);
    assert_int_equal(kvt_block_checksum(NULL, 0), 0);
}

/* A payload checksum with any of its high 32 bits set cannot be a CRC-32C: refused, named. */
static void test_wide_payload_checksum_is_refused(void **state)
{
    (void)state;
    kvt_block_meta_t m = sample(), out;
    unsigned char h[KVT_BLOCK_HEADER_BYTES];
    kvt_error_t err;
    for (int bit = 32; bit < 64; bit++) {
        m.payload_checksum = 0xcafef00dull | (1ull << bit);
        kvt_block_header_encode(&m, h);
        assert_int_equal(kvt_block_header_decode(h, &out, &err), KVT_ERR_CORRUPT);
        assert_non_null(strstr(err.message, "payload checksum"));
    }
}

/* Any single flipped bit anywhere in the header is caught; err names the header checksum. */
static void test_every_bit_flip_is_refused(void **state)
{
    (void)state;
    kvt_block_meta_t m = sample(), out;
    unsigned char h[KVT_BLOCK_HEADER_BYTES];
    kvt_block_header_encode(&m, h);
    for (unsigned bit = 0; bit < 8 * KVT_BLOCK_HEADER_BYTES; bit++) {
        h[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        kvt_error_t err;
        assert_int_equal(kvt_block_header_decode(h, &out, &err), KVT_ERR_CORRUPT);
        h[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    kvt_error_t err;
    h[20] ^= 1;
    assert_int_equal(kvt_block_header_decode(h, &out, &err), KVT_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "header checksum"));
}

/* A consistent header of another format version or magic (checksum recomputed) is refused. */
static void test_version_and_magic(void **state)
{
    (void)state;
    kvt_block_meta_t m = sample(), out;
    unsigned char h[KVT_BLOCK_HEADER_BYTES];
    kvt_error_t err;
    kvt_block_header_encode(&m, h);
    le(h + 8, 1, 2); /* version 1: its payload checksum was XXH3-64 */
    le(h + 120, XXH3_64bits(h, 120), 8);
    assert_int_equal(kvt_block_header_decode(h, &out, &err), KVT_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "version 1"));
    le(h + 8, 3, 2);
    le(h + 120, XXH3_64bits(h, 120), 8);
    assert_int_equal(kvt_block_header_decode(h, &out, &err), KVT_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "version 3"));
    kvt_block_header_encode(&m, h);
    h[0] = 'X';
    le(h + 120, XXH3_64bits(h, 120), 8);
    assert_int_equal(kvt_block_header_decode(h, &out, &err), KVT_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "magic"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_is_the_documented_layout),
        cmocka_unit_test(test_checksum_is_crc32c),
        cmocka_unit_test(test_wide_payload_checksum_is_refused),
        cmocka_unit_test(test_every_bit_flip_is_refused),
        cmocka_unit_test(test_version_and_magic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
