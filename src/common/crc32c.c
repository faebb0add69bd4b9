/*
 * CRC-32C (Castagnoli): the payload checksum of every stored block.
 *
 * Two implementations, picked once at run time. On x86-64 CPUs with SSE4.2 and PCLMULQDQ the
 * crc32 instruction does the work: it has a latency of 3 cycles and a throughput of one per
 * cycle, so a single dependent chain runs at a third of what the unit can do. Large inputs are
 * therefore cut into stripes of three equal lanes, each lane an independent chain (the first
 * continues from the running CRC, the other two start from 0), and the three results are joined
 * with the linearity of the (uninverted) CRC:
 *
 *     crc(c, A||B||C) = crc(c, A) * x^(16L) + crc(0, B) * x^(8L) + crc(0, C)   (mod P)
 *
 * for lanes of L bytes. A product v * x^(8n) mod P is one carry-less multiply of v by the
 * constant K = x^(8n - 33) mod P, then one crc32 instruction over the 64-bit product, which
 * reduces it and multiplies by the missing x^33 (the Intel "crc_pcl" technique). The constants
 * are computed at init from a portable GF(2) multiply, never typed in. Lanes of 8 KiB take the
 * bulk (three lanes fit in L1); what is left goes through lanes of 256 bytes, then one chain 8
 * bytes at a time, then bytes, so the per-stripe cost of joining (2 multiplies and a crc32) stays
 * small against the work of the stripe. Everything that needs the instructions is compiled with
 * a target attribute, so the library still builds for generic x86-64 and other architectures
 * build only the software path.
 *
 * The software path is slice-by-8: eight 256-entry tables, each step folding 8 input bytes with
 * 8 independent table look-ups. The tables are built by a function, not typed in; pthread_once
 * builds them and picks the implementation, so the first calls from several threads are safe.
 */
#include "common/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* The reflected Castagnoli polynomial: bit 31 - i holds the coefficient of x^i. */
#define CRC32C_POLY 0x82F63B78u

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t sw_table[8][256];
static uint32_t (*crc_impl)(uint32_t crc, const unsigned char *p, size_t len);
static const char *crc_impl_name;

/* 8 bytes at p, least significant first (one load: le.h's byte loop is not merged by gcc 12). */
static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* ---- Software: slice-by-8 ---- */

static void sw_tables_build(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        }
        sw_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = sw_table[t - 1][n];
            sw_table[t][n] = (prev >> 8) ^ sw_table[0][prev & 0xffu];
        }
    }
}

/* Uninverted CRC state c over p[0..len). */
static uint32_t sw_update(uint32_t c, const unsigned char *p, size_t len)
{
    while (len >= 8) {
        uint64_t w = load_le64(p);
        uint32_t lo = (uint32_t)w ^ c; /* only these 4 bytes wait for the previous step */
        uint32_t hi = (uint32_t)(w >> 32);
        uint32_t h = (sw_table[3][hi & 0xffu] ^ sw_table[2][(hi >> 8) & 0xffu]) ^
                     (sw_table[1][(hi >> 16) & 0xffu] ^ sw_table[0][hi >> 24]);
        c = h ^ ((sw_table[7][lo & 0xffu] ^ sw_table[6][(lo >> 8) & 0xffu]) ^
                 (sw_table[5][(lo >> 16) & 0xffu] ^ sw_table[4][lo >> 24]));
        p += 8;
        len -= 8;
    }
    while (len-- > 0) {
        c = (c >> 8) ^ sw_table[0][(c ^ *p++) & 0xffu];
    }
    return c;
}

static uint32_t sw_crc(uint32_t crc, const unsigned char *p, size_t len)
{
    return ~sw_update(~crc, p, len);
}

/* ---- Hardware: SSE4.2 crc32 in three lanes, joined with PCLMULQDQ ---- */

#if defined(__x86_64__)
/* a * b mod P, both in the reflected representation (bit 31 is x^0, bit 0 is x^31). */
static uint32_t gf2_mulmod(uint32_t a, uint32_t b)
{
    uint32_t prod = 0;
    for (int i = 31; i >= 0; i--) { /* bit i of a is the coefficient of x^(31 - i) */
        if ((a >> i) & 1u) {
            prod ^= b;
        }
        b = (b & 1u) ? (b >> 1) ^ CRC32C_POLY : b >> 1; /* b *= x */
    }
    return prod;
}

/* x^n mod P, reflected, by square and multiply. */
static uint32_t gf2_xpow(uint64_t n)
{
    uint32_t r = 1u << 31;  /* x^0 */
    uint32_t sq = 1u << 30; /* x^1, then x^2, x^4, ... */
    for (; n != 0; n >>= 1) {
        if (n & 1u) {
            r = gf2_mulmod(r, sq);
        }
        sq = gf2_mulmod(sq, sq);
    }
    return r;
}

#define HW_TARGET __attribute__((target("sse4.2,pclmul")))
#define HW_LONG   8192u /* bytes per lane of the bulk stripes */
#define HW_SHORT  256u  /* bytes per lane of the tail stripes */
/* Software prefetch distance in each lane. The payloads checked on a read were just written by
   DMA and are in no cache; the hardware prefetchers ramp up per stream and restart at every
   4 KiB page, so a 64 KiB block read cold at 4.3 GB/s. Prefetching each lane 2 KiB ahead took
   that to 7.7 GB/s (4 KiB blocks 3.7 -> 5.1) and left 1 MiB (13 GB/s, about what a plain loop
   reads cold) and hot buffers (27 GB/s) as they were; 512 B gave 6.4, 1 KiB 7.2, 4 KiB 6.8
   (bench_crc32c, dev VM). Prefetching past the end of the buffer is harmless: it never faults. */
#define HW_PREFETCH 2048u

/* Multipliers for lanes of L bytes: k2 = x^(16L - 33), k1 = x^(8L - 33) mod P (see the top). */
typedef struct hw_consts {
    uint64_t k2;
    uint64_t k1;
} hw_consts_t;

static hw_consts_t hw_long, hw_short;

static hw_consts_t hw_consts_for(uint64_t lane)
{
    hw_consts_t k = {gf2_xpow(16 * lane - 33), gf2_xpow(8 * lane - 33)};
    return k;
}

/* a * x^(16L) + b * x^(8L) mod P, for uninverted 32-bit states a and b. */
HW_TARGET static inline uint64_t hw_join(uint64_t a, uint64_t b, hw_consts_t k)
{
    __m128i kk = _mm_set_epi64x((long long)k.k1, (long long)k.k2);
    __m128i pa = _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)a), kk, 0x00); /* a * k2 */
    __m128i pb = _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)b), kk, 0x10); /* b * k1 */
    return _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(pa, pb)));
}

/* Uninverted state c over nstripes stripes of 3 lanes of `lane` bytes each. */
HW_TARGET static inline uint64_t hw_stripes(uint64_t c, const unsigned char *p, size_t nstripes,
                                            size_t lane, hw_consts_t k)
{
    for (size_t s = 0; s < nstripes; s++) {
        uint64_t a = c, b = 0, d = 0;
        for (size_t i = 0; i < lane; i += 8) {
            if ((i & 63) == 0) { /* once a line: each lane's line HW_PREFETCH bytes on */
                __builtin_prefetch(p + i + HW_PREFETCH);
                __builtin_prefetch(p + lane + i + HW_PREFETCH);
                __builtin_prefetch(p + 2 * lane + i + HW_PREFETCH);
            }
            a = _mm_crc32_u64(a, load_le64(p + i));
            b = _mm_crc32_u64(b, load_le64(p + lane + i));
            d = _mm_crc32_u64(d, load_le64(p + 2 * lane + i));
        }
        c = hw_join(a, b, k) ^ d;
        p += 3 * lane;
    }
    return c;
}

HW_TARGET static uint32_t hw_crc(uint32_t crc, const unsigned char *p, size_t len)
{
    uint64_t c = (uint32_t)~crc;
    size_t n;

    if (len >= 3 * HW_SHORT) {
        for (; ((uintptr_t)p & 7u) != 0; p++, len--) { /* aligned loads in the stripes */
            c = _mm_crc32_u8((uint32_t)c, *p);
        }
        n = len / (3 * HW_LONG);
        c = hw_stripes(c, p, n, HW_LONG, hw_long);
        p += n * 3 * HW_LONG;
        len -= n * 3 * HW_LONG;
        n = len / (3 * HW_SHORT);
        c = hw_stripes(c, p, n, HW_SHORT, hw_short);
        p += n * 3 * HW_SHORT;
        len -= n * 3 * HW_SHORT;
    }
    for (; len >= 8; p += 8, len -= 8) {
        c = _mm_crc32_u64(c, load_le64(p));
    }
    for (; len > 0; p++, len--) {
        c = _mm_crc32_u8((uint32_t)c, *p);
    }
    return ~(uint32_t)c;
}
#endif /* __x86_64__ */

static void crc_init(void)
{
    sw_tables_build();
    crc_impl = sw_crc;
    crc_impl_name = "software slice-by-8";
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul")) {
        hw_long = hw_consts_for(HW_LONG);
        hw_short = hw_consts_for(HW_SHORT);
        crc_impl = hw_crc;
        crc_impl_name = "sse4.2 x3 + pclmul";
    }
#endif
}

uint32_t kvt_crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return len == 0 ? crc : crc_impl(crc, buf, len);
}

uint32_t kvt_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return len == 0 ? crc : sw_crc(crc, buf, len);
}

const char *kvt_crc32c_impl(void)
{
    pthread_once(&crc_once, crc_init);
    return crc_impl_name;
}
