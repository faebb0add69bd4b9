/*
 * Measurement arithmetic shared by `kvtier bench` and `kvtier info`.
 *
 * Latencies are kept as raw nanosecond samples, one per I/O, and percentiles are taken by the
 * nearest-rank method over the sorted samples: no histogram buckets, so p50 and p99 are samples
 * that actually occurred, and p50 <= p99 holds by construction. A point of a benchmark has at
 * most a few hundred thousand I/Os, so sorting them once at the end costs milliseconds, outside
 * the timed loop.
 *
 * Sizes on the bench command line follow the storage convention (fio, dd): "64k" is 64 KiB.
 * The rest of the CLI reads k as 1000 (token counts), so the bench verbs map a bare k/M/G/T to
 * its binary twin before handing the text to the strict parser.
 */
#include "cli/bench_stats.h"

#include "common/parse_num.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t kvt_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint64_t kvt_bench_percentile(uint64_t *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmp_u64);
    double rank = ceil(p / 100.0 * (double)n);
    size_t i = rank < 1 ? 0 : (size_t)rank - 1;
    return v[i < n ? i : n - 1];
}

double kvt_bench_gbps(uint64_t bytes, uint64_t ns)
{
    return ns == 0 ? 0.0 : (double)bytes / (double)ns; /* B/ns = GB/s */
}

bool kvt_bench_parse_bytes(const char *s, uint64_t *v_p)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n + 2 > sizeof(buf)) {
        return false;
    }
    memcpy(buf, s, n + 1);
    char last = buf[n - 1];
    if (last == 'k' || last == 'K' || last == 'M' || last == 'G' || last == 'T') {
        buf[n - 1] = last == 'k' ? 'K' : last;
        buf[n] = 'i';
        buf[n + 1] = '\0';
    }
    return kvt_parse_u64(buf, v_p) == KVT_OK;
}

void kvt_bench_fill_random(void *buf, size_t len, uint64_t *seed)
{
    uint64_t x = *seed ? *seed : 0x9e3779b97f4a7c15ull;
    unsigned char *p = buf;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    for (; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
    *seed = x;
}
