/*
 * kvtier trace replay: cache policies measured on real workloads in virtual time.
 *
 * Hit definition (token hit rate, the figure to report first): for each request in arrival
 * order, the longest prefix of its chain whose blocks are all cached at arrival counts as hit
 * tokens -- input_tokens when the whole chain matches, otherwise matched blocks x block_tokens;
 * after the lookup the whole chain is inserted or touched, head first. The rate is hit tokens over
 * the sum of input tokens. The block hit rate counts the same matched prefix blocks over all
 * block references.
 */
#ifndef KVTIER_REPLAY_H
#define KVTIER_REPLAY_H

#include <kvtier/trace.h>

KVT_BEGIN_DECLS

typedef void (*kvt_progress_cb_t)(uint64_t done, uint64_t total, void *arg);

typedef struct kvt_replay_opts {
    size_t opts_size;           /* set by kvt_replay_opts_init() */
    const char *policy;         /* "lru", "lfu", "arc", "s3fifo", "belady", "belady-head" */
    uint64_t capacity_tokens;   /* single-tier cache size; rounded down to whole blocks */
    kvt_progress_cb_t progress; /* optional, called from the calling thread */
    void *progress_arg;
} kvt_replay_opts_t;

KVT_API void kvt_replay_opts_init(kvt_replay_opts_t *opts);

typedef struct kvt_replay_result {
    const char *policy;          /* static storage */
    uint64_t capacity_tokens;
    uint64_t capacity_blocks;
    uint64_t requests;
    uint64_t input_tokens;
    uint64_t hit_tokens;
    double token_hit_rate;       /* hit_tokens / input_tokens */
    uint64_t block_refs;
    uint64_t block_hits;         /* matched prefix blocks */
    double block_hit_rate;       /* block_hits / block_refs */
    uint64_t resident_refs;      /* references resident at arrival, prefix or not */
    uint64_t insertions;
    uint64_t evictions;
} kvt_replay_result_t;

/* Names of the built-in policies, NULL-terminated, static. */
KVT_API const char *const *kvt_replay_policies(void);

/*
 * Replay trace under opts. Fails with KVT_ERR_NOT_FOUND for an unknown policy (err names the
 * known ones) and KVT_ERR_NO_MEMORY. *result_p is written only on success.
 */
KVT_API kvt_status_t kvt_replay_run(const kvt_trace_t *trace, const kvt_replay_opts_t *opts,
                                    kvt_replay_result_t *result_p, kvt_error_t *err);

KVT_END_DECLS

#endif
