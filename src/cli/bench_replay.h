/* Internal: `kvtier bench --replay`: the live store driven by a trace, on this machine. */
#ifndef KVT_CLI_BENCH_REPLAY_H
#define KVT_CLI_BENCH_REPLAY_H

#include <kvtier/kvtier.h>

typedef struct kvt_bench_replay_cli {
    const char *trace;
    kvt_trace_format_t format;
    const char *model;     /* NULL: the node's */
    const char *node;      /* name or file; NULL: h100-node */
    const char *policy;    /* NULL: lru */
    uint64_t requests;     /* 0: the whole trace */
    const char *dir;       /* where nvme/pfs live (NULL: $TMPDIR or /var/tmp) */
    bool json;
} kvt_bench_replay_cli_t;

/* Run it and print the report; returns the exit status. */
int kvt_bench_replay(const kvt_bench_replay_cli_t *c);

#endif
