/* Internal: what `kvtier replay --node` and `kvtier demo` share. */
#ifndef KVT_CLI_REPLAY_COMMON_H
#define KVT_CLI_REPLAY_COMMON_H

#include <kvtier/kvtier.h>

#include "common/json_writer.h"

/* Replay one policy on the node's first `tiers` tiers (0: all) and project TTFT; ttft_sorted
 * (optional, one double per request) receives every TTFT in ascending order. prefetch turns the
 * predictive policy's prefetch on. */
/* A node description by built-in name ("h100-node") or JSON file path: a readable file wins. */
kvt_status_t kvt_cli_load_node(const char *name, kvt_node_desc_t *node_p, kvt_error_t *err);

kvt_status_t kvt_cli_node_run(const kvt_trace_t *trace, const kvt_node_replay_opts_t *opts,
                              double *ttft_sorted, kvt_node_replay_result_t *r,
                              kvt_proj_result_t *pr, kvt_error_t *err);

/* One run as a JSON object: hits, per-tier figures, projection. */
void kvt_cli_json_node_run(kvt_json_t *w, const char *label, const kvt_node_desc_t *node,
                           const kvt_node_replay_result_t *r, const kvt_proj_result_t *pr);

#endif
