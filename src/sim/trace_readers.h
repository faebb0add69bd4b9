/* Internal: the trace readers behind kvt_trace_load(). */
#ifndef KVT_SIM_TRACE_READERS_H
#define KVT_SIM_TRACE_READERS_H

#include <stdio.h>

#include "sim/trace_build.h"

/* Mooncake and Bailian JSON lines. */
kvt_status_t kvt_read_jsonl(FILE *f, const char *path, kvt_trace_format_t format, uint32_t bt,
                            kvt_trace_t *t, kvt_error_t *err);

/* Agent-session per-call CSV (read_agent_csv.c). */
kvt_status_t kvt_read_agent_csv(FILE *f, const char *path, uint32_t bt, kvt_trace_t *t,
                                kvt_error_t *err);

/* SWE-agent .traj (read_swe_traj.c); f NULL: path is a directory of them. */
kvt_status_t kvt_read_swe_traj(FILE *f, const char *path, uint32_t bt, kvt_trace_t *t,
                               kvt_error_t *err);

/* LMBenchmark multi-round ShareGPT JSON (read_sharegpt.c). */
kvt_status_t kvt_read_sharegpt(FILE *f, const char *path, uint32_t bt, kvt_trace_t *t,
                               kvt_error_t *err);

/* LLMServingSim token-id JSON lines (read_tokens.c). */
kvt_status_t kvt_read_tokens(FILE *f, const char *path, uint32_t bt, kvt_trace_t *t,
                             kvt_error_t *err);

/* Azure LLM inference CSV with a synthetic prefix model (read_azure.c). */
kvt_status_t kvt_read_azure(FILE *f, const char *path, uint32_t bt, kvt_trace_t *t,
                            kvt_error_t *err);

#endif
