/* Internal: clocks, latency percentiles and rates for `kvtier bench` and `kvtier info`. */
#ifndef KVT_CLI_BENCH_STATS_H
#define KVT_CLI_BENCH_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t kvt_bench_now_ns(void);

/*
 * The p-th percentile (0 < p <= 100) of n samples by the nearest-rank method: the smallest
 * sample such that at least p% of the samples are <= it, i.e. sorted[ceil(p/100 * n) - 1].
 * Sorts v in place. Returns 0 for n = 0.
 */
uint64_t kvt_bench_percentile(uint64_t *v, size_t n, double p);

/* Payload bytes over nanoseconds as GB/s (1e9 B/s); 0 when ns is 0. */
double kvt_bench_gbps(uint64_t bytes, uint64_t ns);

/*
 * Parse a byte size for the bench verbs: a decimal integer with an optional suffix where, as in
 * fio and dd, k/K, M, G and T are binary (KiB, MiB, GiB, TiB); Ki, Mi, Gi, Ti are accepted too.
 * Returns false on malformed input or overflow; *v_p is written only on success.
 */
bool kvt_bench_parse_bytes(const char *s, uint64_t *v_p);

/* Fill buf with len pseudo-random bytes from the xorshift state *seed (never 0 after). */
void kvt_bench_fill_random(void *buf, size_t len, uint64_t *seed);

#endif
