/*
 * kvtier workload traces: requests as chains of prefix blocks, for replay.
 *
 * A trace is a sequence of requests in arrival order. Each request carries its prompt as a chain
 * of block ids (block i holds tokens [i x block_tokens, (i+1) x block_tokens) of the prompt, and
 * equal ids mean equal prefixes, so a cached block can serve any request whose chain holds it at
 * the same position), the session it belongs to, and the transition that led to it. Each distinct
 * block has a type (what kind of content it holds). Where a trace does not say, readers infer
 * sessions, transitions and types by the rules documented in docs/traces.md.
 *
 * A kvt_trace_t is immutable once loaded and may be shared by threads; every pointer it returns
 * stays valid until kvt_trace_destroy().
 */
#ifndef KVTIER_TRACE_H
#define KVTIER_TRACE_H

#include <kvtier/status.h>

KVT_BEGIN_DECLS

typedef struct kvt_trace kvt_trace_t;

typedef enum kvt_trace_format {
    KVT_TRACE_AUTO = 0, /* decide from the file's name and first line */
    KVT_TRACE_MOONCAKE, /* JSONL: timestamp (ms), input_length, output_length, hash_ids */
    KVT_TRACE_BAILIAN,  /* JSONL: chat_id, parent_chat_id, timestamp (s), ..., hash_ids */
    KVT_TRACE_AGENT_CSV, /* CSV: one row per LLM call of agent sessions, token counts only */
    KVT_TRACE_SWE_TRAJ,  /* SWE-agent .traj JSON (or a directory of them): chat history text */
    KVT_TRACE_SHAREGPT,  /* LMBenchmark JSON array: cumulative conversation text, output_length */
    KVT_TRACE_TOKENS,    /* JSONL: arrival_time_ns, input_toks, output_toks, input_tok_ids */
    KVT_TRACE_AZURE,     /* CSV: TIMESTAMP, ContextTokens, GeneratedTokens (+ a prefix model) */
} kvt_trace_format_t;

/* What a block holds (the predictor's first class dimension). */
typedef enum kvt_block_type {
    KVT_BLOCK_SYSTEM = 0, /* system prompt / shared preamble */
    KVT_BLOCK_TOOL,       /* tool definitions, tool results, retrieved documents */
    KVT_BLOCK_USER,       /* user turns and conversation history */
    KVT_BLOCK_OUTPUT,     /* model output fed back: reasoning, assistant turns */
} kvt_block_type_t;
#define KVT_BLOCK_TYPES 4

/* How a request follows the previous one of its session (the second class dimension). */
typedef enum kvt_transition {
    KVT_TRANS_NEXT_TURN = 0, /* the next turn of a conversation */
    KVT_TRANS_TOOL_RESULT,   /* an agent step after a tool call returned */
    KVT_TRANS_HANDOFF,       /* agent handoff / next task of a workflow */
    KVT_TRANS_NEW_SESSION,   /* first request of a session */
} kvt_transition_t;
#define KVT_TRANSITIONS 4

typedef struct kvt_trace_request {
    uint64_t t_us;          /* arrival, microseconds since the trace's start */
    uint64_t first_ref;     /* index of the first block of the chain in kvt_trace_refs() */
    uint32_t nblocks;       /* chain length: ceil(input_tokens / block_tokens) */
    uint32_t input_tokens;
    uint32_t output_tokens;
    uint32_t session;       /* dense session id, 0.. */
    uint8_t transition;     /* kvt_transition_t */
} kvt_trace_request_t;

typedef struct kvt_trace_info {
    const char *origin;      /* file path, or "generator:<kind>" */
    kvt_trace_format_t format;
    uint32_t block_tokens;
    uint64_t requests;
    uint64_t refs;           /* block references: sum of chain lengths */
    uint64_t blocks;         /* distinct blocks */
    uint64_t sessions;
    uint64_t input_tokens;   /* sum of input_tokens */
    uint64_t duration_us;    /* last arrival */
} kvt_trace_info_t;

/* Names for formats, block types and transitions ("mooncake", "system", "next_turn"). */
KVT_API const char *kvt_trace_format_name(kvt_trace_format_t f);
KVT_API kvt_status_t kvt_trace_format_parse(const char *name, kvt_trace_format_t *f_p);
KVT_API const char *kvt_block_type_name(kvt_block_type_t t);
KVT_API const char *kvt_transition_name(kvt_transition_t t);

/*
 * Load a trace file (for swe-traj also a directory: every *.traj under it, one session each).
 * block_tokens: tokens per block of the file's hash ids, 0 for the format's own (Mooncake 512,
 * the others 16); the text and token-id formats hash blocks of that size (docs/traces.md). A
 * chain whose length disagrees with ceil(input_length / block_tokens) is a malformed line.
 * Readers stream the file (memory is bounded by the compact trace, 4 bytes per block reference,
 * and one request's input); a malformed line fails the load with
 * "<path>:<line>: <field>: <problem>" in err and KVT_ERR_PARSE. *trace_p is written only on
 * success; free it with kvt_trace_destroy().
 */
KVT_API kvt_status_t kvt_trace_load(const char *path, kvt_trace_format_t format,
                                    uint32_t block_tokens, kvt_trace_t **trace_p,
                                    kvt_error_t *err);

KVT_API void kvt_trace_destroy(kvt_trace_t *trace);

KVT_API const kvt_trace_info_t *kvt_trace_info(const kvt_trace_t *trace);
/* Requests in arrival order (ties in file order). */
KVT_API const kvt_trace_request_t *kvt_trace_requests(const kvt_trace_t *trace);
/* All chains, concatenated: request r's chain is refs[r.first_ref .. r.first_ref + r.nblocks). */
KVT_API const uint32_t *kvt_trace_refs(const kvt_trace_t *trace);
/* Type of each distinct block (kvt_block_type_t), indexed by block id. */
KVT_API const uint8_t *kvt_trace_block_types(const kvt_trace_t *trace);

KVT_END_DECLS

#endif
