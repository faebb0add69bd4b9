/* Internal: when each block reference is used next, for policies that see the future. */
#ifndef KVT_SIM_NEXT_USE_H
#define KVT_SIM_NEXT_USE_H

#include <kvtier/trace.h>

#define KVT_NEXT_POS_BITS 20 /* next use = (request index << 20) | position in its chain */

/*
 * next[ref] for every reference of trace: the next access of the same block as
 * (request index << KVT_NEXT_POS_BITS | position), or KVT_NEVER (policy/policy.h) when there is
 * none. Chains must be shorter than 2^KVT_NEXT_POS_BITS blocks (KVT_ERR_UNSUPPORTED otherwise).
 * The caller frees *next_p.
 */
kvt_status_t kvt_next_uses(const kvt_trace_t *trace, uint64_t **next_p, kvt_error_t *err);

#endif
