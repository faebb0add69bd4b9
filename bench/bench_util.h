/*
 * What every benchmark in bench/ needs: a monotonic clock in seconds, a comparator for sorting
 * timings (medians, percentiles), and removing a scratch directory tree.
 */
#ifndef KVT_BENCH_UTIL_H
#define KVT_BENCH_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <time.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

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
