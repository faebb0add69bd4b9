/* Internal: building a kvt_trace_t, for the readers and the generator. */
#ifndef KVT_SIM_TRACE_BUILD_H
#define KVT_SIM_TRACE_BUILD_H

#include <kvtier/trace.h>

#include "index/idmap.h"

#define KVT_NO_PARENT   UINT64_MAX
#define KVT_BLOCK_INFER 0xFFu /* let the builder type a new block (see kvt_trace_add_block) */

struct kvt_trace {
    kvt_trace_info_t info;
    char origin[512];
    kvt_trace_request_t *reqs;
    size_t cap_reqs;
    uint32_t *refs;
    size_t cap_refs;
    uint8_t *types;      /* per block id */
    size_t cap_types;
    /* building state, released by kvt_trace_finish() */
    kvt_idmap_t ids;
    uint32_t *last_req;  /* per block id: last request (index) whose chain held it */
    size_t cap_last;
    uint64_t parent;     /* the current request's parent, or KVT_NO_PARENT */
    uint8_t new_content; /* the current request's type for new non-output blocks */
    uint32_t max_session;
};

kvt_status_t kvt_trace_new(const char *origin, kvt_trace_format_t format, uint32_t block_tokens,
                           kvt_trace_t **trace_p);

/* Start a request; blocks added next form its chain. parent: an earlier request index of the
 * same session (its output positions type new blocks as OUTPUT), or KVT_NO_PARENT. */
kvt_status_t kvt_trace_begin_request(kvt_trace_t *t, uint64_t t_us, uint32_t input_tokens,
                                     uint32_t output_tokens, uint32_t session,
                                     kvt_transition_t transition, uint64_t parent,
                                     kvt_block_type_t new_content);

/*
 * Append a block to the current request's chain. type: a kvt_block_type_t for blocks the reader
 * knows, or KVT_BLOCK_INFER: a new block at position 0 of a request without parent is SYSTEM; in
 * a request with a parent, a new block starting inside the parent's output
 * [parent.input, parent.input + parent.output) is OUTPUT, other new blocks get the request's
 * new_content type (USER, or TOOL for tool results and retrieved documents). A block seen
 * before keeps its first type.
 */
kvt_status_t kvt_trace_add_block(kvt_trace_t *t, uint64_t key, unsigned type);

/*
 * Append a block whose dense id the caller assigns (the generator, which knows its prefixes):
 * id == the number of blocks so far makes a new block of the given type; a smaller id reuses
 * that block. Returns KVT_ERR_INVALID for any other id. Do not mix with kvt_trace_add_block().
 */
kvt_status_t kvt_trace_add_block_id(kvt_trace_t *t, uint32_t id, kvt_block_type_t type);

/*
 * The most recent earlier request holding the deepest of keys[min_depth..n) already seen, i.e.
 * the request this chain continues; KVT_NO_PARENT if none. Used where traces have no session ids.
 */
uint64_t kvt_trace_find_parent(const kvt_trace_t *t, const uint64_t *keys, size_t n,
                               size_t min_depth);

/* Session of an earlier request. */
uint32_t kvt_trace_session_of(const kvt_trace_t *t, uint64_t req);

/* Sort by arrival (stable), compute the info, release the building state. */
kvt_status_t kvt_trace_finish(kvt_trace_t *t);

#endif
