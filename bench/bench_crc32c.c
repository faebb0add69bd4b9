/*
 * Payload checksum throughput: kvt_crc32c (the implementation the CPU picks), its software
 * slice-by-8 path, and the peer, XXH3-64 from libxxhash, on the same buffers. "Hot" repeats the
 * checksum over a buffer already in cache; "cold" first rewrites the buffer and then flushes
 * every line of it out of the cache hierarchy (clflush), so the checksum reads it from DRAM as it
 * would a block that a device has just written. (Touching other memory to evict it does not work
 * on hosts whose L3 is hundreds of MiB.) Each figure is the median of its repetitions, in GB/s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "bench_util.h"
#include "common/crc32c.h"

#define REPS 31

typedef uint64_t (*sum_fn_t)(const void *buf, size_t len);

static uint64_t sum_crc(const void *buf, size_t len)
{
    return kvt_crc32c(0, buf, len);
}

static uint64_t sum_crc_sw(const void *buf, size_t len)
{
    return kvt_crc32c_sw(0, buf, len);
}

static uint64_t sum_xxh3(const void *buf, size_t len)
{
    return XXH3_64bits(buf, len);
}

static const struct {
    const char *name;
    sum_fn_t fn;
} sums[] = {{"crc32c", sum_crc}, {"crc32c-sw", sum_crc_sw}, {"xxh3-64", sum_xxh3}};

static volatile uint64_t sink;

static void evict(unsigned char *buf, size_t len, int round)
{
    memset(buf, round & 0xff, len); /* freshly written, then pushed out to DRAM */
#if defined(__x86_64__)
    for (size_t i = 0; i < len; i += 64) {
        _mm_clflush(buf + i);
    }
    _mm_mfence();
#endif
}

/* Median GB/s of fn over buf[0..len): hot (cache-resident) or cold (flushed before each run). */
static double measure(sum_fn_t fn, unsigned char *buf, size_t len, int cold)
{
    double t[REPS];
    int inner = cold ? 1 : (int)(64 * 1048576 / len); /* ~64 MiB per hot repetition */
    fn(buf, len);
    for (int r = 0; r < REPS; r++) {
        if (cold) {
            evict(buf, len, r);
        }
        double t0 = now();
        for (int i = 0; i < inner; i++) {
            sink += fn(buf, len);
        }
        t[r] = (now() - t0) / inner;
    }
    qsort(t, REPS, sizeof(t[0]), cmp_double);
    return (double)len / t[REPS / 2] * 1e-9;
}

int main(void)
{
    static const size_t sizes[] = {4096, 64 * 1024, 1024 * 1024};
    size_t max = 1024 * 1024;
    unsigned char *buf = aligned_alloc(4096, max);
    if (buf == NULL) {
        return 1;
    }
    for (size_t i = 0; i < max; i++) {
        buf[i] = (unsigned char)(kvt_splitmix64(i) >> 56);
    }
    printf("kvt_crc32c implementation: %s\n", kvt_crc32c_impl());
    printf("%-10s %9s %11s %11s\n", "checksum", "bytes", "hot GB/s", "cold GB/s");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (size_t k = 0; k < sizeof(sums) / sizeof(sums[0]); k++) {
            double hot = measure(sums[k].fn, buf, sizes[s], 0);
            double cold = measure(sums[k].fn, buf, sizes[s], 1);
            printf("%-10s %9zu %11.2f %11.2f\n", sums[k].name, sizes[s], hot, cold);
        }
    }
    free(buf);
    return 0;
}
