/*
 * Internal: the Bayesian reuse predictor.
 *
 * A block's class is decided at each access from what is known then: its kind (shared -- a system
 * prompt or a block a second session used -- or the session's own content), the request's
 * transition, whether it is the
 * partial last block of its chain (these 16 are the base classes),
 * the depth of the session (turns so far), the length of the chain and how often the block was
 * accessed before. For each class the
 * predictor keeps a Beta posterior of "this block is accessed again" (success: the next access
 * comes; failure: the block stays idle past the expiry horizon), and for each base class x
 * partial a histogram of reuse gaps. Pure arithmetic: no I/O, no clock.
 */
#ifndef KVT_POLICY_PREDICTOR_H
#define KVT_POLICY_PREDICTOR_H

#include <stdbool.h>
#include <stdint.h>

#define KVT_PRED_DEPTHS     6  /* session turns so far: 0, 1, 2, 3, 4, 5+ */
#define KVT_PRED_LENGTHS    7  /* chain blocks: <2, <4, <8, <16, <32, <64, more */
#define KVT_PRED_KINDS      2  /* shared content, or the session's own */
#define KVT_PRED_PARENTS    (KVT_PRED_KINDS * 4 * 2) /* kind x transition x partial */
#define KVT_PRED_REUSES     3  /* times the block was accessed before: 0, 1, 2+ */
#define KVT_PRED_CLASSES    (KVT_PRED_PARENTS * KVT_PRED_DEPTHS * KVT_PRED_LENGTHS * KVT_PRED_REUSES)
#define KVT_PRED_GAP_BUCKETS 44 /* log2 buckets of microseconds */

typedef struct kvt_pred_params {
    double prior_alpha, prior_beta; /* base-class Beta prior, default 1, 1 */
    double shrink;                  /* pseudo-counts pulling a class to its base class, default 8 */
    uint64_t min_gap_samples;       /* below this a base class uses the global gap histogram: 50 */
} kvt_pred_params_t;

void kvt_pred_params_default(kvt_pred_params_t *p);

typedef struct kvt_pred_parent {
    double succ, fail;
    uint64_t gaps[KVT_PRED_GAP_BUCKETS];
    uint64_t ngaps;
    double tail[KVT_PRED_GAP_BUCKETS + 1]; /* tail[b] = fraction of gaps in buckets >= b */
    bool dirty;
} kvt_pred_parent_t;

typedef struct kvt_predictor {
    kvt_pred_params_t params;
    double succ[KVT_PRED_CLASSES], fail[KVT_PRED_CLASSES];
    kvt_pred_parent_t parent[KVT_PRED_PARENTS];
    kvt_pred_parent_t global;
} kvt_predictor_t;

void kvt_pred_init(kvt_predictor_t *p, const kvt_pred_params_t *params);

/* The class of an access. */
/* shared: the block is a system prefix or has been seen in more than one session */
uint16_t kvt_pred_class(bool shared, unsigned transition, bool partial, uint32_t depth,
                        uint32_t chain_len, uint32_t reuses);

/* A block of class cls was accessed again gap_us after its previous access. */
void kvt_pred_reused(kvt_predictor_t *p, uint16_t cls, uint64_t gap_us);
/* A block of class cls stayed idle past the horizon. */
void kvt_pred_expired(kvt_predictor_t *p, uint16_t cls);

/* Posterior mean of reuse for class cls, shrunk toward its base class. */
double kvt_pred_p_reuse(const kvt_predictor_t *p, uint16_t cls);

/* Fraction of class cls's reuse gaps longer than x_us (its base class's histogram). */
double kvt_pred_gap_survival(kvt_predictor_t *p, uint16_t cls, double x_us);

#endif
