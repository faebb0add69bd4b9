/*
 * The Bayesian reuse predictor.
 *
 * Sixteen base classes: the block's kind x the request's transition x "partial last block" (a
 * partial block can only be reused by an identical prompt, so it is its own population). The
 * kind folds the four block types into two: shared content (a system prompt, or any block a
 * second session has used -- a popular document, a common preamble) and a session's own content
 * (its user, tool and output blocks). The paper's design keys on all four types, but the
 * blocks of one chain then fall into several classes whose lists each keep their own order, so
 * eviction cuts chains in the middle and everything after the cut is lost. Measured: on the
 * Claude Code agent trace at 100k-300k tokens the four-type classes trailed LRU by up to 3 points
 * and the two kinds beat it by 4 to 13; on Mooncake both close about 23 % of the gap to Belady.
 * The base classes are refined by session depth and chain length, the two features that predict
 * whether a conversation gets another turn (on the Mooncake trace the chance grows from 0.31 at
 * the first turn to 0.8 past the eighth), and by how often the block was accessed before (0, 1,
 * 2+: a block reused twice is a shared prefix or a live session). A block accessed 2+ times is
 * split further by its popularity, the sessions that used it (1-3, 4-7, 8+): without it a
 * document a few sessions read and one that every other session reads share one posterior, and
 * on the generated RAG workload the rarely read documents, valued as popular ones, displaced the
 * young blocks of sessions about to return (docs/replay.md). Counting sessions rather than
 * accesses leaves a conversation's own history (many accesses, one session) where it was: a
 * log2 split of the access count instead moved Mooncake at 3M tokens from 19.21 to 19.17 %.
 * A refined class has few observations, so its estimate
 * is shrunk toward its base class: p = (s + k p_base) / (s + f + k), with k pseudo-counts
 * (confidence weighting: a class speaks for itself once it has many more than k outcomes). The
 * base class itself is Beta(alpha0 + s, beta0 + f).
 *
 * When a reuse comes is learned per base class as a histogram of gaps in log2 buckets of
 * microseconds (1 us .. 2^44 us, five months); survival beyond x interpolates linearly inside
 * x's bucket. A base class with fewer than min_gap_samples gaps borrows the global histogram.
 *
 * The outcomes of blocks a session had left behind (policy/predictive.c: a sub-agent's chain
 * after the main chain resumed) are also counted, pooled over the classes: a left block's posterior
 * is those counts shrunk toward the mean of all outcomes, and decides whether such chains are
 * dead (kvt_pred_left_dead).
 *
 * For reporting only, the same outcomes are also counted by the paper's 16 classes (block type x
 * transition of the access they are credited to); no estimate above reads them.
 */
#include "policy/predictor.h"

#include <string.h>

void kvt_pred_params_default(kvt_pred_params_t *p)
{
    p->prior_alpha = 1;
    p->prior_beta = 1;
    p->shrink = 8;
    p->min_gap_samples = 50;
}

void kvt_pred_init(kvt_predictor_t *p, const kvt_pred_params_t *params)
{
    memset(p, 0, sizeof(*p));
    if (params != NULL) {
        p->params = *params;
    } else {
        kvt_pred_params_default(&p->params);
    }
    for (int i = 0; i < KVT_PRED_PARENTS; i++) {
        p->parent[i].dirty = true;
    }
    p->global.dirty = true;
}

static uint32_t length_bucket(uint32_t n)
{
    uint32_t b = 0;
    for (uint32_t edge = 2; b + 1 < KVT_PRED_LENGTHS && n >= edge; edge *= 2) {
        b++;
    }
    return b;
}

uint16_t kvt_pred_class(bool shared, unsigned transition, bool partial, uint32_t depth,
                        uint32_t chain_len, uint32_t reuses, uint32_t sessions)
{
    unsigned kind = shared ? 0 : 1;
    unsigned parent = (kind * 4 + (transition & 3)) * 2 + (partial ? 1 : 0);
    uint32_t d = depth < KVT_PRED_DEPTHS - 1 ? depth : KVT_PRED_DEPTHS - 1;
    uint32_t u = reuses < 2 ? reuses : 2;
    if (u == 2 && sessions >= 4) {
        u = sessions >= 8 ? 4 : 3; /* popularity: 4-7 sessions, 8+ */
    }
    return (uint16_t)(((parent * KVT_PRED_DEPTHS + d) * KVT_PRED_LENGTHS + length_bucket(chain_len)) *
                          KVT_PRED_REUSES +
                      u);
}

static unsigned parent_of(uint16_t cls)
{
    return cls / (KVT_PRED_DEPTHS * KVT_PRED_LENGTHS * KVT_PRED_REUSES);
}

/* Bucket b holds gaps in [2^b, 2^(b+1)) us; bucket 0 also holds gaps below 1 us. */
static unsigned gap_bucket(double us)
{
    if (us < 2) {
        return 0;
    }
    if (us >= 0x1p63) {
        return KVT_PRED_GAP_BUCKETS - 1;
    }
    unsigned b = 63u - (unsigned)__builtin_clzll((unsigned long long)us);
    return b < KVT_PRED_GAP_BUCKETS ? b : KVT_PRED_GAP_BUCKETS - 1;
}

static void add_gap(kvt_pred_parent_t *h, uint64_t gap_us)
{
    h->gaps[gap_bucket((double)gap_us)]++;
    h->ngaps++;
    h->dirty = true;
}

void kvt_pred_reused(kvt_predictor_t *p, uint16_t cls, uint64_t gap_us)
{
    kvt_pred_parent_t *par = &p->parent[parent_of(cls)];
    p->succ[cls] += 1;
    par->succ += 1;
    add_gap(par, gap_us);
    add_gap(&p->global, gap_us);
}

void kvt_pred_expired(kvt_predictor_t *p, uint16_t cls)
{
    p->fail[cls] += 1;
    p->parent[parent_of(cls)].fail += 1;
}

void kvt_pred_paper_outcome(kvt_predictor_t *p, unsigned pc, bool reused)
{
    if (pc < KVT_PRED_PAPER_CLASSES) {
        *(reused ? &p->paper_succ[pc] : &p->paper_fail[pc]) += 1;
    }
}

double kvt_pred_p_reuse(const kvt_predictor_t *p, uint16_t cls)
{
    const kvt_pred_parent_t *par = &p->parent[parent_of(cls)];
    double a0 = p->params.prior_alpha, b0 = p->params.prior_beta, k = p->params.shrink;
    double base = (a0 + par->succ) / (a0 + b0 + par->succ + par->fail);
    return (p->succ[cls] + k * base) / (p->succ[cls] + p->fail[cls] + k);
}

void kvt_pred_left_outcome(kvt_predictor_t *p, bool reused)
{
    *(reused ? &p->left_succ : &p->left_fail) += 1;
}

bool kvt_pred_left_dead(const kvt_predictor_t *p)
{
    double a0 = p->params.prior_alpha, b0 = p->params.prior_beta, k = p->params.shrink;
    double s = 0, f = 0;
    for (int i = 0; i < KVT_PRED_PARENTS; i++) {
        s += p->parent[i].succ;
        f += p->parent[i].fail;
    }
    double all = (a0 + s) / (a0 + b0 + s + f);
    return (p->left_succ + k * all) / (p->left_succ + p->left_fail + k) < 0.5;
}

static void refresh(kvt_pred_parent_t *h)
{
    double acc = 0;
    h->tail[KVT_PRED_GAP_BUCKETS] = 0;
    for (int b = KVT_PRED_GAP_BUCKETS - 1; b >= 0; b--) {
        acc += (double)h->gaps[b];
        h->tail[b] = h->ngaps ? acc / (double)h->ngaps : 0;
    }
    h->dirty = false;
}

static double survival(kvt_pred_parent_t *h, double x_us);

double kvt_pred_gap_survival(kvt_predictor_t *p, uint16_t cls, double x_us)
{
    kvt_pred_parent_t *h = &p->parent[parent_of(cls)];
    if (h->ngaps < p->params.min_gap_samples) {
        h = &p->global;
    }
    return survival(h, x_us);
}

static double survival(kvt_pred_parent_t *h, double x_us)
{
    if (h->ngaps == 0) {
        return 1;
    }
    if (h->dirty) {
        refresh(h);
    }
    unsigned b = gap_bucket(x_us);
    double lo = b == 0 ? 0 : (double)(1ull << b), hi = (double)(1ull << (b + 1));
    double frac = (hi - x_us) / (hi - lo); /* share of bucket b still above x */
    if (frac < 0) {
        frac = 0;
    } else if (frac > 1) {
        frac = 1;
    }
    return h->tail[b + 1] + frac * (h->tail[b] - h->tail[b + 1]);
}

/* The session-turn model (policy/predictor.h): a Beta posterior per (transition, depth) and a
 * gap histogram per transition, in the same log2 buckets as the block predictor. */
void kvt_turn_init(kvt_turn_model_t *m)
{
    memset(m, 0, sizeof(*m));
    for (int i = 0; i < 4; i++) {
        m->gaps[i].dirty = true;
    }
    m->global.dirty = true;
    m->min_gap_samples = 50;
}

uint16_t kvt_turn_class(unsigned transition, uint32_t depth)
{
    uint32_t d = depth < KVT_PRED_DEPTHS - 1 ? depth : KVT_PRED_DEPTHS - 1;
    return (uint16_t)((transition & 3) * KVT_PRED_DEPTHS + d);
}

void kvt_turn_next(kvt_turn_model_t *m, uint16_t cls, uint64_t gap_us)
{
    m->succ[cls] += 1;
    add_gap(&m->gaps[cls / KVT_PRED_DEPTHS], gap_us);
    add_gap(&m->global, gap_us);
}

void kvt_turn_ended(kvt_turn_model_t *m, uint16_t cls)
{
    m->fail[cls] += 1;
}

double kvt_turn_p(const kvt_turn_model_t *m, uint16_t cls)
{
    return (1 + m->succ[cls]) / (2 + m->succ[cls] + m->fail[cls]);
}

double kvt_turn_gap_quantile(kvt_turn_model_t *m, uint16_t cls, double q)
{
    kvt_pred_parent_t *h = &m->gaps[cls / KVT_PRED_DEPTHS];
    if (h->ngaps < m->min_gap_samples) {
        h = &m->global;
    }
    if (h->ngaps == 0) {
        return -1;
    }
    if (h->dirty) {
        refresh(h);
    }
    /* the survival is linear inside a bucket: find the bucket where 1 - tail crosses q */
    for (unsigned b = 0; b < KVT_PRED_GAP_BUCKETS; b++) {
        double below_hi = 1 - h->tail[b + 1], below_lo = 1 - h->tail[b];
        if (below_hi >= q && h->tail[b] > h->tail[b + 1]) {
            double lo = b == 0 ? 0 : (double)(1ull << b), hi = (double)(1ull << (b + 1));
            double f = (q - below_lo) / (h->tail[b] - h->tail[b + 1]);
            f = f < 0 ? 0 : f > 1 ? 1 : f;
            return lo + f * (hi - lo);
        }
    }
    return (double)(1ull << KVT_PRED_GAP_BUCKETS);
}

double kvt_turn_gap_survival(kvt_turn_model_t *m, uint16_t cls, double x_us)
{
    kvt_pred_parent_t *h = &m->gaps[cls / KVT_PRED_DEPTHS];
    return survival(h->ngaps < m->min_gap_samples ? &m->global : h, x_us);
}
