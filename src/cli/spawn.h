/* Internal: run a program and capture what it writes (fio for the bench, kvtier for the CLI tests). */
#ifndef KVT_CLI_SPAWN_H
#define KVT_CLI_SPAWN_H

#include <kvtier/status.h>

#include <stddef.h>

typedef struct kvt_spawn_result {
    int status;     /* exit status, or 128 + the signal that ended it */
    char *out;      /* stdout, NUL-terminated (never NULL after KVT_OK); free() it */
    size_t out_len;
    char *err;      /* stderr, likewise */
    size_t err_len;
} kvt_spawn_result_t;

/*
 * Run argv (argv[0] looked up in $PATH) with stdin from /dev/null, read its stdout and stderr
 * together until both close (a large output on one cannot block the other), and wait for it.
 * KVT_OK whatever the program's exit status (in r->status); KVT_ERR_IO when it cannot be started
 * (no pipe, no fork; a program that is not found exits 127), KVT_ERR_NO_MEMORY when its output
 * does not fit in memory (nothing is returned then).
 */
kvt_status_t kvt_spawn_capture(char *const argv[], kvt_spawn_result_t *r);

/* Free what kvt_spawn_capture returned. */
void kvt_spawn_result_free(kvt_spawn_result_t *r);

#endif
