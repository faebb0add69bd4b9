/*
 * CRC-32C: published check values (the catalogue's "123456789" and RFC 3720 B.4), then both
 * implementations (the one the CPU picks and the software one) against a one-bit-at-a-time
 * shift register, over every length up to 2048 at several misalignments, over sizes around the
 * stripe boundaries, and chained at random split points.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"

typedef uint32_t (*crc_fn_t)(uint32_t crc, const void *buf, size_t len);

static const struct {
    const char *name;
    crc_fn_t fn;
} impls[] = {{"dispatch", kvt_crc32c}, {"software", kvt_crc32c_sw}};
#define NIMPLS (sizeof(impls) / sizeof(impls[0]))

/* The reference: the CRC shift register, one input bit per step (uninverted state). */
static uint32_t ref_update(uint32_t r, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        r ^= p[i];
        for (int b = 0; b < 8; b++) {
            r = (r & 1u) ? (r >> 1) ^ 0x82F63B78u : r >> 1;
        }
    }
    return r;
}

static uint32_t ref_crc32c(uint32_t crc, const unsigned char *p, size_t len)
{
    return ~ref_update(~crc, p, len);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static unsigned char *random_buf(size_t len, uint64_t seed)
{
    unsigned char *b = malloc(len == 0 ? 1 : len);
    assert_non_null(b);
    for (size_t i = 0; i < len; i++) {
        b[i] = (unsigned char)rng_next(&seed);
    }
    return b;
}

static void test_published_vectors(void **state)
{
    unsigned char b[32];
    (void)state;
    for (size_t k = 0; k < NIMPLS; k++) {
        crc_fn_t fn = impls[k].fn;
        assert_int_equal(fn(0, "123456789", 9), 0xE3069283u);
        memset(b, 0x00, sizeof(b));
        assert_int_equal(fn(0, b, sizeof(b)), 0x8A9136AAu);
        memset(b, 0xFF, sizeof(b));
        assert_int_equal(fn(0, b, sizeof(b)), 0x62A8AB43u);
        for (int i = 0; i < 32; i++) {
            b[i] = (unsigned char)i;
        }
        assert_int_equal(fn(0, b, sizeof(b)), 0x46DD794Eu);
        for (int i = 0; i < 32; i++) {
            b[i] = (unsigned char)(31 - i);
        }
        assert_int_equal(fn(0, b, sizeof(b)), 0x113FDB5Cu);
        assert_int_equal(fn(0, NULL, 0), 0);
        assert_int_equal(fn(0x12345678u, NULL, 0), 0x12345678u);
    }
    /* The reference itself, so that the comparisons below stand on a checked base. */
    assert_int_equal(ref_crc32c(0, (const unsigned char *)"123456789", 9), 0xE3069283u);
}

static void test_impl_name(void **state)
{
    (void)state;
    const char *name = kvt_crc32c_impl();
    assert_non_null(name);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul")) {
        assert_string_equal(name, "sse4.2 x3 + pclmul");
    } else {
        assert_string_equal(name, "software slice-by-8");
    }
#else
    assert_string_equal(name, "software slice-by-8");
#endif
}

/* Every length 0..2048 at misalignments 0..7 and 13, seeded with 0 and with a running CRC. */
static void test_all_short_lengths(void **state)
{
    (void)state;
    enum { MAXLEN = 2048, MAXOFF = 16 };
    static const size_t offs[] = {0, 1, 2, 3, 4, 5, 6, 7, 13};
    unsigned char *buf = random_buf(MAXLEN + MAXOFF, 1);
    for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
        const unsigned char *p = buf + offs[o];
        uint32_t r = ~0u;               /* reference state over p[0..n), seed 0 */
        uint32_t r_seed = ~0xDEADBEEFu; /* same, seed 0xDEADBEEF */
        for (size_t n = 0; n <= MAXLEN; n++) {
            for (size_t k = 0; k < NIMPLS; k++) {
                assert_int_equal(impls[k].fn(0, p, n), ~r);
                assert_int_equal(impls[k].fn(0xDEADBEEFu, p, n), ~r_seed);
            }
            if (n < MAXLEN) {
                r = ref_update(r, p + n, 1);
                r_seed = ref_update(r_seed, p + n, 1);
            }
        }
    }
    free(buf);
}

/* Sizes around the stripes (3 lanes of 8 KiB, then of 256 bytes) and a few large ones. */
static void test_large_sizes(void **state)
{
    (void)state;
    static const size_t sizes[] = {
        3 * 256 - 1,  3 * 256,        3 * 256 + 1, 3 * 8192 - 1,        3 * 8192,     3 * 8192 + 1,
        6 * 8192 - 1, 6 * 8192 + 769, 64 * 1024,   2 * 1024 * 1024 / 3, 1048576 + 13,
    };
    enum { MAXOFF = 8 };
    size_t max = 1048576 + 13;
    unsigned char *buf = random_buf(max + MAXOFF, 2);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (size_t off = 0; off < MAXOFF; off += (sizes[s] > 100000 ? 3 : 1)) {
            uint32_t want = ref_crc32c(0, buf + off, sizes[s]);
            for (size_t k = 0; k < NIMPLS; k++) {
                if (impls[k].fn(0, buf + off, sizes[s]) != want) {
                    fail_msg("%s: size %zu offset %zu", impls[k].name, sizes[s], off);
                }
            }
        }
    }
    free(buf);
}

/* Constant inputs are where a wrong join constant could cancel out; random ones where it can't. */
static void test_large_constant(void **state)
{
    (void)state;
    size_t len = 5 * 3 * 8192 + 7 * 3 * 256 + 11;
    unsigned char *buf = malloc(len);
    assert_non_null(buf);
    for (int v = 0; v < 256; v += 255) {
        memset(buf, v, len);
        uint32_t want = ref_crc32c(0, buf, len);
        for (size_t k = 0; k < NIMPLS; k++) {
            assert_int_equal(impls[k].fn(0, buf, len), want);
        }
    }
    free(buf);
}

/* crc(crc(a), b) == crc(a||b), for random splits into 2 to 6 pieces, both implementations. */
static void test_chaining(void **state)
{
    (void)state;
    size_t len = 200 * 1024 + 5;
    unsigned char *buf = random_buf(len, 3);
    uint64_t rng = 4;
    uint32_t whole = ref_crc32c(0, buf, len);
    for (int trial = 0; trial < 200; trial++) {
        size_t cuts[7];
        int ncuts = 1 + (int)(rng_next(&rng) % 5);
        size_t total = trial < 100 ? len : (size_t)(rng_next(&rng) % len);
        uint32_t want = trial < 100 ? whole : ref_crc32c(0, buf, total);
        cuts[0] = 0;
        for (int c = 1; c <= ncuts; c++) {
            cuts[c] = (size_t)(rng_next(&rng) % (total + 1));
        }
        cuts[ncuts + 1] = total;
        for (int i = 1; i <= ncuts; i++) { /* sort the inner cuts */
            for (int j = i + 1; j <= ncuts; j++) {
                if (cuts[j] < cuts[i]) {
                    size_t t = cuts[i];
                    cuts[i] = cuts[j];
                    cuts[j] = t;
                }
            }
        }
        for (size_t k = 0; k < NIMPLS; k++) {
            uint32_t c = 0;
            for (int i = 0; i <= ncuts; i++) {
                c = impls[k].fn(c, buf + cuts[i], cuts[i + 1] - cuts[i]);
            }
            if (c != want) {
                fail_msg("%s: trial %d, %d cuts, total %zu", impls[k].name, trial, ncuts, total);
            }
        }
    }
    /* Byte by byte across a stripe boundary and 8 bytes at a time. */
    for (size_t k = 0; k < NIMPLS; k++) {
        uint32_t c = 0;
        size_t n = 3 * 8192 + 300;
        for (size_t i = 0; i < n; i++) {
            c = impls[k].fn(c, buf + i, 1);
        }
        assert_int_equal(c, ref_crc32c(0, buf, n));
        c = 0;
        for (size_t i = 0; i < n; i += 8) {
            c = impls[k].fn(c, buf + i, 8);
        }
        assert_int_equal(c, ref_crc32c(0, buf, n + (8 - n % 8) % 8));
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_vectors), cmocka_unit_test(test_impl_name),
        cmocka_unit_test(test_all_short_lengths), cmocka_unit_test(test_large_sizes),
        cmocka_unit_test(test_large_constant),    cmocka_unit_test(test_chaining),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
