/*
 * Test helpers for the CLI tests: run the built kvtier binary ($KVT_CLI, set by ctest) through
 * the CLI's own kvt_spawn_capture (src/cli/spawn.c), which captures stdout and stderr
 * separately, and check the exit-status contract (exit 2: one line on stderr, nothing on
 * stdout) and JSON output. Include after cmocka.h.
 */
#ifndef KVT_TESTS_CLI_CLI_RUN_H
#define KVT_TESTS_CLI_CLI_RUN_H

#include "cli/spawn.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct run {
    int status; /* exit status, or 128 + signal */
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
    char cmd[512]; /* the command line, for failure messages */
} run_t;

static inline const char *cli_path(void)
{
    const char *p = getenv("KVT_CLI");
    if (p == NULL || p[0] == '\0') {
        fail_msg("KVT_CLI is not set: run this test through ctest");
    }
    return p;
}

static inline void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

/* Run kvtier with args (NULL-terminated, without argv[0]). */
static inline void run_argv(run_t *r, const char *const *args)
{
    char *argv[48];
    size_t n = 0, off = 0;

    memset(r, 0, sizeof(*r));
    argv[n++] = (char *)cli_path();
    off += (size_t)snprintf(r->cmd, sizeof(r->cmd), "kvtier");
    for (const char *const *a = args; *a != NULL; a++) {
        assert_true(n + 1 < sizeof(argv) / sizeof(argv[0]));
        argv[n++] = (char *)*a;
        if (off < sizeof(r->cmd)) {
            off += (size_t)snprintf(r->cmd + off, sizeof(r->cmd) - off, " %s", *a);
        }
    }
    argv[n] = NULL;

    kvt_spawn_result_t sr;
    assert_int_equal(kvt_spawn_capture(argv, &sr), KVT_OK);
    r->status = sr.status;
    r->out = sr.out;
    r->out_len = sr.out_len;
    r->err = sr.err;
    r->err_len = sr.err_len;
}

#define RUN(r, ...) run_argv((r), (const char *const[]){__VA_ARGS__, NULL})

static inline void expect_status(int line, const run_t *r, int want)
{
    if (r->status != want) {
        fail_msg("line %d: `%s` exited %d, expected %d\nstdout: %s\nstderr: %s", line, r->cmd,
                 r->status, want, r->out, r->err);
    }
}

static inline void expect_contains(int line, const run_t *r, const char *stream,
                                   const char *text, const char *want)
{
    if (strstr(text, want) == NULL) {
        fail_msg("line %d: `%s`: %s does not mention \"%s\":\n%s", line, r->cmd, stream, want,
                 text);
    }
}

static inline size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        n += *s == '\n';
    }
    return n;
}

/*
 * A usage/input failure: exit 2, stdout empty, exactly one newline-terminated line on stderr
 * that starts with "kvtier" and contains every string of subs (NULL-terminated).
 */
static inline void expect_usage_error(int line, const run_t *r, const char *const *subs)
{
    expect_status(line, r, 2);
    if (r->out_len != 0) {
        fail_msg("line %d: `%s` failed but wrote %zu bytes on stdout:\n%s", line, r->cmd,
                 r->out_len, r->out);
    }
    if (count_lines(r->err) != 1 || r->err_len == 0 || r->err[r->err_len - 1] != '\n') {
        fail_msg("line %d: `%s`: expected exactly one line on stderr, got:\n%s", line, r->cmd,
                 r->err);
    }
    if (strncmp(r->err, "kvtier", 6) != 0) {
        fail_msg("line %d: `%s`: stderr does not start with \"kvtier\": %s", line, r->cmd, r->err);
    }
    for (const char *const *s = subs; *s != NULL; s++) {
        expect_contains(line, r, "stderr", r->err, *s);
    }
}

#define EXPECT_USAGE_ERROR(r, ...)                                                                 \
    expect_usage_error(__LINE__, (r), (const char *const[]){__VA_ARGS__, NULL})

/* stdout as one JSON document (and nothing else); the caller deletes it. */
static inline cJSON *parse_stdout(int line, const run_t *r)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithOpts(r->out, &end, true);
    if (doc == NULL) {
        fail_msg("line %d: `%s`: stdout is not one JSON document (error near offset %ld):\n%.2000s",
                 line, r->cmd, end ? (long)(end - r->out) : -1L, r->out);
    }
    return doc;
}

#endif
