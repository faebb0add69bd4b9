/*
 * What every benchmark in bench/ needs: a monotonic clock in seconds, a comparator for sorting
 * timings (medians, percentiles), random keys, and removing a scratch directory tree.
 */
#ifndef KVT_BENCH_UTIL_H
#define KVT_BENCH_UTIL_H

#include "common/mix64.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keys for the store's benchmarks are kvt_splitmix64 of a counter (common/mix64.h), as uniform
 * as the XXH3-128 chain keys the store really sees. A counter times an odd constant, which
 * bench_store_lookup used first, is a permutation of the low bits (no two keys ever share a
 * home bucket: 16.5 us cold where random keys took 23 with the same index) and spreads
 * unevenly over the store's shards (some grow: 344 instead of 254 bytes per block in
 * bench_store_meta). */

/* qsort comparator of doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline int bench_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove path and everything under it (errors ignored: scratch space). */
static inline void bench_rm_rf(const char *path)
{
    nftw(path, bench_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
#endif
