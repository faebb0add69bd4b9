/* Internal: what the kvtier CLI's verbs share. */
#ifndef KVT_CLI_H
#define KVT_CLI_H

#include <kvtier/kvtier.h>
#include <stdio.h>

/* Exit statuses: 0 success, 1 failure of the work itself, 2 bad usage or bad input. */
#define KVT_EXIT_OK    0
#define KVT_EXIT_FAIL  1
#define KVT_EXIT_USAGE 2

typedef int (*kvt_cmd_fn_t)(int argc, char **argv);

int kvt_cmd_size(int argc, char **argv);
int kvt_cmd_models(int argc, char **argv);
int kvt_cmd_replay(int argc, char **argv);
int kvt_cmd_demo(int argc, char **argv);
int kvt_cmd_gpus(int argc, char **argv);
int kvt_cmd_bench(int argc, char **argv);
int kvt_cmd_info(int argc, char **argv);

/* Print "kvtier <verb>: <message>" on stderr. */
void kvt_cli_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A kvt_progress_cb_t for terminals: "  <label> NN%" on stderr, arg = the label. */
void kvt_cli_progress(uint64_t done, uint64_t total, void *arg);

struct kvt_json;
/* Finish a JSON document and print it on stdout; on failure say so on stderr. Exit status. */
int kvt_cli_print_json(struct kvt_json *w);

/* Map a library status to an exit status: input problems are 2, the rest 1. */
int kvt_cli_exit_for(kvt_status_t st);

#endif
