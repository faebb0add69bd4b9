/*
 * Test helpers shared by the trace-reader tests: a trace written to a temporary file and loaded,
 * and a request's chain. Include after cmocka.h.
 */
#ifndef KVT_TESTS_SIM_TRACE_FIXTURE_H
#define KVT_TESTS_SIM_TRACE_FIXTURE_H

#include <kvtier/kvtier.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write len bytes to a new temporary file; its name goes to path (at least 64 bytes). */
static inline void write_tmp(const char *data, size_t len, char *path)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, 64, "%s/kvt_trace_XXXXXX", dir && dir[0] && strlen(dir) < 32 ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Load text as a trace of format fmt (the temporary file is removed again). */
static inline kvt_status_t load_text(const char *text, kvt_trace_format_t fmt, uint32_t bt,
                                     kvt_trace_t **t_p, kvt_error_t *err, char *path)
{
    write_tmp(text, strlen(text), path);
    kvt_status_t st = kvt_trace_load(path, fmt, bt, t_p, err);
    unlink(path);
    return st;
}

/* The chain of request r. */
static inline const uint32_t *chain_of(const kvt_trace_t *t, uint64_t r)
{
    return kvt_trace_refs(t) + kvt_trace_requests(t)[r].first_ref;
}

#endif
