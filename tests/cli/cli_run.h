/*
 * Test helpers for the CLI tests: run the built kvtier binary ($KVT_CLI, set by ctest) with
 * fork/execv, capture stdout and stderr separately, and check the exit-status contract (exit 2:
 * one line on stderr, nothing on stdout) and JSON output. Include after cmocka.h.
 */
#ifndef KVT_TESTS_CLI_CLI_RUN_H
#define KVT_TESTS_CLI_CLI_RUN_H

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

static inline void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1) {
            c *= 2;
        }
        char *b = realloc(*buf, c);
        assert_non_null(b);
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
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
    int po[2], pe[2];
    size_t n = 0, off = 0;
    size_t out_cap = 0, err_cap = 0;

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

    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
        }
        dup2(po[1], STDOUT_FILENO);
        dup2(pe[1], STDERR_FILENO);
        close(po[0]);
        close(po[1]);
        close(pe[0]);
        close(pe[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);

    /* read both pipes together: a large document on one must not block the other */
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        int rc = poll(fds, 2, -1);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        assert_true(rc > 0);
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0) {
                continue;
            }
            char buf[8192];
            ssize_t got = read(fds[i].fd, buf, sizeof(buf));
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (i == 0) {
                append(&r->out, &r->out_len, &out_cap, buf, (size_t)got);
            } else {
                append(&r->err, &r->err_len, &err_cap, buf, (size_t)got);
            }
        }
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        assert_int_equal(errno, EINTR);
    }
    r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    if (r->out == NULL) {
        append(&r->out, &r->out_len, &out_cap, "", 0);
    }
    if (r->err == NULL) {
        append(&r->err, &r->err_len, &err_cap, "", 0);
    }
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
