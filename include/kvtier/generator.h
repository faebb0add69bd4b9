/*
 * kvtier workload generator: seeded synthetic traces of chat, agentic and RAG sessions.
 *
 * The generated trace has the same shape as a file trace (kvtier/trace.h) and is what
 * `kvtier demo` and `make run` replay by default. Its distributions are documented in
 * docs/traces.md; the same options and seed always give the same trace.
 */
#ifndef KVTIER_GENERATOR_H
#define KVTIER_GENERATOR_H

#include <kvtier/trace.h>

KVT_BEGIN_DECLS

typedef enum kvt_gen_kind {
    KVT_GEN_MIX = 0, /* chat 50%, agent 25%, RAG 25% of sessions */
    KVT_GEN_CHAT,    /* multi-turn conversations over a few shared system prompts */
    KVT_GEN_AGENT,   /* tool loops: long sessions of short steps, with sub-agent handoffs */
    KVT_GEN_RAG,     /* questions over a pool of shared documents */
} kvt_gen_kind_t;

typedef struct kvt_gen_opts {
    size_t opts_size;      /* set by kvt_gen_opts_init() */
    kvt_gen_kind_t kind;   /* default KVT_GEN_MIX */
    uint64_t seed;         /* default 1 */
    uint64_t sessions;     /* sessions to generate, default 2000 */
    double session_rate;   /* new sessions per second (Poisson), default 1 */
    uint32_t block_tokens; /* default 16 */
    uint64_t max_refs;     /* stop starting sessions past this many block references; 0 = none */
} kvt_gen_opts_t;

KVT_API void kvt_gen_opts_init(kvt_gen_opts_t *opts);
KVT_API const char *kvt_gen_kind_name(kvt_gen_kind_t kind);
KVT_API kvt_status_t kvt_gen_kind_parse(const char *name, kvt_gen_kind_t *kind_p);

/* Generate a trace. *trace_p is written only on success; free it with kvt_trace_destroy(). */
KVT_API kvt_status_t kvt_trace_generate(const kvt_gen_opts_t *opts, kvt_trace_t **trace_p,
                                        kvt_error_t *err);

KVT_END_DECLS

#endif
