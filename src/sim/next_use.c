/*
 * Next uses: the future a Belady policy is allowed to see.
 *
 * One backward pass over the requests in arrival order keeps, per block, the latest (request,
 * position) seen so far, which is the next use of every earlier reference to that block: 8 bytes
 * per reference for the answer and 8 per block while computing it. Both replay engines (one tier
 * and a node's tiers) use it.
 */
#include "sim/next_use.h"

#include "common/error.h"
#include "policy/policy.h"

#include <stdlib.h>

kvt_status_t kvt_next_uses(const kvt_trace_t *trace, uint64_t **next_p, kvt_error_t *err)
{
    const kvt_trace_info_t *in = kvt_trace_info(trace);
    const kvt_trace_request_t *reqs = kvt_trace_requests(trace);
    const uint32_t *refs = kvt_trace_refs(trace);

    for (uint64_t i = 0; i < in->requests; i++) {
        if (reqs[i].nblocks >= (1u << KVT_NEXT_POS_BITS)) {
            return kvt_error_set(err, KVT_ERR_UNSUPPORTED,
                                 "replay: a chain of %u blocks exceeds %u for an offline policy",
                                 reqs[i].nblocks, 1u << KVT_NEXT_POS_BITS);
        }
    }
    uint64_t *next = malloc((in->refs ? in->refs : 1) * sizeof(*next));
    uint64_t *last = malloc((in->blocks ? in->blocks : 1) * sizeof(*last));
    if (next == NULL || last == NULL) {
        free(next);
        free(last);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "replay: out of memory for next uses");
    }
    for (uint64_t b = 0; b < in->blocks; b++) {
        last[b] = KVT_NEVER;
    }
    for (uint64_t r = in->requests; r-- > 0;) {
        for (uint32_t p = reqs[r].nblocks; p-- > 0;) {
            uint64_t ref = reqs[r].first_ref + p;
            next[ref] = last[refs[ref]];
            last[refs[ref]] = (r << KVT_NEXT_POS_BITS) | p;
        }
    }
    free(last);
    *next_p = next;
    return KVT_OK;
}
