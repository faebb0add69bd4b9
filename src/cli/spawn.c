/*
 * Running a child program and capturing its two output streams: the fio peer of `kvtier bench`
 * and the CLI tests (tests/cli/cli_run.h), which run the built kvtier the same way.
 *
 * Both pipes are read together with poll(): a child that fills the pipe of one stream while the
 * parent blocks reading the other would deadlock (fio's JSON reports, kvtier's --json documents).
 * stdout and stderr are flushed before the fork so nothing buffered is written twice.
 */
#include "cli/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Append n bytes to a NUL-terminated buffer: false when out of memory. */
static bool append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap * 2 : 4096;
        while (c < *len + n + 1) {
            c *= 2;
        }
        char *b = realloc(*buf, c);
        if (b == NULL) {
            return false;
        }
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

kvt_status_t kvt_spawn_capture(char *const argv[], kvt_spawn_result_t *r)
{
    memset(r, 0, sizeof(*r));
    int po[2], pe[2];
    if (pipe(po) != 0) {
        return KVT_ERR_IO;
    }
    if (pipe(pe) != 0) {
        close(po[0]);
        close(po[1]);
        return KVT_ERR_IO;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(po[0]);
        close(po[1]);
        close(pe[0]);
        close(pe[1]);
        return KVT_ERR_IO;
    }
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
        execvp(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t ocap = 0, ecap = 0;
    bool ok = append(&r->out, &r->out_len, &ocap, "", 0) &&
              append(&r->err, &r->err_len, &ecap, "", 0);
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
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
            } else if (ok) { /* out of memory: keep draining so the child can finish */
                ok = i == 0 ? append(&r->out, &r->out_len, &ocap, buf, (size_t)got)
                            : append(&r->err, &r->err_len, &ecap, buf, (size_t)got);
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i].fd >= 0) {
            close(fds[i].fd);
        }
    }
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    if (!ok) {
        kvt_spawn_result_free(r);
        return KVT_ERR_NO_MEMORY;
    }
    return KVT_OK;
}

void kvt_spawn_result_free(kvt_spawn_result_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
    r->out_len = r->err_len = 0;
}
