/*
 * kvtier: the command-line front end.
 *
 * One binary, one verb per concern (`kvtier size`, `kvtier models`, ...), each in its own
 * cmd_*.c with its own --help. This file only dispatches and prints the top-level help. Exit
 * statuses are uniform: 0 success, 1 the work failed, 2 bad usage or bad input (a malformed
 * config, an unknown flag), with a one-line message on stderr and nothing on stdout.
 */
#include "cli/cli.h"

#include "common/json_writer.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    kvt_cmd_fn_t fn;
    const char *summary;
} verbs[] = {
    {"size", kvt_cmd_size, "exact KV-cache size of a model, and what fits on a GPU"},
    {"replay", kvt_cmd_replay, "replay a workload trace against cache policies"},
    {"demo", kvt_cmd_demo, "replay the built-in workload: all policies, tiers, TTFT, plots"},
    {"models", kvt_cmd_models, "list the built-in model catalog"},
    {"gpus", kvt_cmd_gpus, "list the built-in GPU catalog"},
    {"bench", kvt_cmd_bench, "measure the tiers on this machine beside memcpy and fio"},
    {"info", kvt_cmd_info, "this machine's tiers: available or why not, capacity, bandwidth"},
};

void kvt_cli_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kvtier%s%s: ", verb ? " " : "", verb ? verb : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void kvt_cli_progress(uint64_t done, uint64_t total, void *arg)
{
    fprintf(stderr, "\r  %-12s %3llu%%", (const char *)arg,
            (unsigned long long)(total ? done * 100 / total : 100));
    if (done == total) {
        fputs("\r\033[K", stderr);
    }
}

int kvt_cli_print_json(kvt_json_t *w)
{
    char *text;
    if (kvt_json_finish(w, &text, NULL) != KVT_OK) {
        kvt_cli_error(NULL, "out of memory while writing JSON");
        return KVT_EXIT_FAIL;
    }
    puts(text);
    free(text);
    return KVT_EXIT_OK;
}

int kvt_cli_exit_for(kvt_status_t st)
{
    switch (st) {
    case KVT_OK:
        return KVT_EXIT_OK;
    case KVT_ERR_NO_MEMORY:
    case KVT_ERR_IO:
        return st == KVT_ERR_IO ? KVT_EXIT_USAGE : KVT_EXIT_FAIL;
    default:
        return KVT_EXIT_USAGE;
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kvtier <command> [options]\n"
            "       kvtier <command> --help\n"
            "       kvtier --version\n\n"
            "kvtier manages the KV cache of LLM inference across GPU, host, CXL, NVMe, network\n"
            "and shared-filesystem tiers. Commands:\n\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        fprintf(out, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
    }
    fprintf(out, "\nExit status: 0 success, 1 failure, 2 bad usage or bad input.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return KVT_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return KVT_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("kvtier %s\n", kvt_version());
        return KVT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strcmp(argv[1], verbs[i].name) == 0) {
            return verbs[i].fn(argc - 1, argv + 1);
        }
    }
    if (argv[1][0] == '-') {
        kvt_cli_error(NULL, "unknown option %s (see kvtier --help)", argv[1]);
    } else {
        kvt_cli_error(NULL, "unknown command \"%s\" (see kvtier --help)", argv[1]);
    }
    return KVT_EXIT_USAGE;
}
