/*
 * Internal: the Bayesian reuse predictor.
 *
 * A block's class is decided at each access from what is known then: its kind (shared -- a system
 * prompt or a block a second session used -- or the session's own content), the request's
 * transition, whether it is the
 * partial last block of its chain (these 16 are the base classes),
 * the depth of the session (turns so far), the length of the chain and how often the block was
 * accessed before (0, 1, 2+), the last split by how many sessions used it (1-3, 4-7, 8+: a
 * document's popularity). For each class the
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
#define KVT_PRED_REUSES     5  /* earlier accesses 0, 1, 2+; 2+ by sessions: 1-3, 4-7, 8+ */
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

/* The paper's 16 classes, block type (kvt_block_type_t) x transition (kvt_transition_t): reported,
 * not used by the decisions (docs/replay.md). */
#define KVT_PRED_PAPER_CLASSES 16

typedef struct kvt_predictor {
    kvt_pred_params_t params;
    double succ[KVT_PRED_CLASSES], fail[KVT_PRED_CLASSES];
    kvt_pred_parent_t parent[KVT_PRED_PARENTS];
    kvt_pred_parent_t global;
    /* the same outcomes counted by the paper's class (kvt_pred_paper_class) of the access they
     * are credited to: for reporting only */
    double paper_succ[KVT_PRED_PAPER_CLASSES], paper_fail[KVT_PRED_PAPER_CLASSES];
    /* the same outcomes of the blocks a session had left behind when they were recorded
     * (policy/predictive.c: a sub-agent's chain after its session moved on), all classes */
    double left_succ, left_fail;
} kvt_predictor_t;

void kvt_pred_init(kvt_predictor_t *p, const kvt_pred_params_t *params);

/* The class of an access. shared: the block is a system prefix or has been seen in more than one
 * session; reuses: its earlier accesses; sessions: the sessions that used it, this one included
 * (counted as changes of session between consecutive accesses, plus one). */
uint16_t kvt_pred_class(bool shared, unsigned transition, bool partial, uint32_t depth,
                        uint32_t chain_len, uint32_t reuses, uint32_t sessions);

/* A block of class cls was accessed again gap_us after its previous access. */
void kvt_pred_reused(kvt_predictor_t *p, uint16_t cls, uint64_t gap_us);
/* A block of class cls stayed idle past the horizon. */
void kvt_pred_expired(kvt_predictor_t *p, uint16_t cls);

/* The paper's class of an access: block_type x 4 + transition (each taken modulo 4). */
static inline unsigned kvt_pred_paper_class(unsigned block_type, unsigned transition)
{
    return (block_type & 3) * 4 + (transition & 3);
}

/* The same outcomes as kvt_pred_reused / kvt_pred_expired, for the paper's class pc of the
 * previous access (reporting only: no decision reads them). */
void kvt_pred_paper_outcome(kvt_predictor_t *p, unsigned pc, bool reused);

/* Posterior mean of reuse for class cls, shrunk toward its base class. */
double kvt_pred_p_reuse(const kvt_predictor_t *p, uint16_t cls);

/* An outcome (reused or expired) of a block that was left behind when it was recorded: counted
 * beside kvt_pred_reused / kvt_pred_expired, which the caller also calls. */
void kvt_pred_left_outcome(kvt_predictor_t *p, bool reused);

/* Is a left block more likely never reused than reused? Its posterior: the left outcomes shrunk
 * toward the mean of all outcomes (Beta(alpha0 + s, beta0 + f), left ones included) with the
 * shrinkage's pseudo-counts, (s_left + k p_all) / (s_left + f_left + k) < 1/2. Without left
 * outcomes it is p_all: it takes evidence (on a trace whose blocks are mostly reused, about k
 * left failures) to say yes. */
bool kvt_pred_left_dead(const kvt_predictor_t *p);

/* Fraction of class cls's reuse gaps longer than x_us (its base class's histogram). */
double kvt_pred_gap_survival(kvt_predictor_t *p, uint16_t cls, double x_us);

/* The predictive policy's reuse posterior for a block it has seen (kvt_pred_p_reuse of the class
 * of its last access, or of its base class when it has none alive); ctx is an instance of
 * kvt_policy_predictive (policy/policy.h), in any tier: lower tiers answer with the top tier's
 * predictor and view. For the node replay's value of a block in a tier. */
double kvt_predictive_p_reuse(const void *ctx, uint32_t block);

/* The predictive policy's outcomes per paper class (kvt_pred_paper_class): succ[pc] blocks
 * accessed again after an access of class pc, fail[pc] left idle past the horizon. Learned from
 * every access, hit or miss, so they do not depend on the capacity. Includes the reuses of the
 * request in progress (the predictor itself learns them when the next request begins); blocks
 * neither reused nor expired yet count in neither. ctx: as for kvt_predictive_p_reuse. */
void kvt_predictive_paper_counts(const void *ctx, double succ[KVT_PRED_PAPER_CLASSES],
                                 double fail[KVT_PRED_PAPER_CLASSES]);

/*
 * The session-turn model (multi-tier prefetch): will a session send another request, and after
 * how long? Classes: the transition of the session's last request x its depth (0..5+). Each has
 * a Beta(1, 1) posterior of "another request comes within the horizon" (success: it came;
 * failure: the horizon passed first), and each transition a log2 histogram of the gaps to the
 * next request (the global one while it has fewer than min_gap_samples). Learned online from the
 * requests seen so far, never from the future.
 */
#define KVT_TURN_CLASSES (4 * KVT_PRED_DEPTHS)

typedef struct kvt_turn_model {
    double succ[KVT_TURN_CLASSES], fail[KVT_TURN_CLASSES];
    kvt_pred_parent_t gaps[4]; /* per transition; only gaps, ngaps, tail, dirty are used */
    kvt_pred_parent_t global;
    uint64_t min_gap_samples;  /* 50, as the block predictor */
} kvt_turn_model_t;

void kvt_turn_init(kvt_turn_model_t *m);
uint16_t kvt_turn_class(unsigned transition, uint32_t depth);
/* The session of a request of class cls sent another one gap_us later (within the horizon). */
void kvt_turn_next(kvt_turn_model_t *m, uint16_t cls, uint64_t gap_us);
/* The session of a request of class cls sent nothing more within the horizon. */
void kvt_turn_ended(kvt_turn_model_t *m, uint16_t cls);
/* Posterior mean of "another request comes within the horizon". */
double kvt_turn_p(const kvt_turn_model_t *m, uint16_t cls);
/* The q-quantile (0 < q < 1) of the gap to the next request, microseconds; -1 with no gap yet. */
double kvt_turn_gap_quantile(kvt_turn_model_t *m, uint16_t cls, double q);
/* Fraction of the gaps to the next request longer than x_us (1 with no gap yet). */
double kvt_turn_gap_survival(kvt_turn_model_t *m, uint16_t cls, double x_us);

#endif
