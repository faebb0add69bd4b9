/*
 * The predictive policy: evict the block with the least expected hits per unit of cache time.
 *
 * Every access (hit or miss: the predictor learns from the whole stream, not only from what the
 * cache kept, so its estimates are not biased by its own evictions) classifies the block
 * (policy/predictor.h) and teaches the predictor: a block accessed again is a success of its
 * previous class, with the gap; a block idle for the expiry horizon is a failure.
 *
 * The value of keeping a block that has been idle for e, in a cache whose blocks live about T
 * (the characteristic time: how long the cache took to admit as many blocks as it holds -- the
 * lifetime of a block in a FIFO of this size at the current admission rate), is its hit
 * density (Beckmann et al., LHD, NSDI'18): the probability that it is reused within T, given
 * that it has not been yet, over the time it is expected to occupy the cache meanwhile:
 *
 *   alive(x) = 1 - p + p S(x)                  p: reuse posterior, S: gap survival of its class
 *   hit      = p (S(e) - S(e + T)) / alive(e)
 *   occupied = integral over [e, e+T] of alive(x) / alive(e) dx   (8-point midpoint rule)
 *   value    = hit / occupied
 *
 * In one tier every block saves the same recompute for the same space, so this value orders
 * them; with tiers it is weighed against holding and fetch costs (docs/replay.md). Within a class
 * the value falls with idle time, so each class keeps an LRU list and only the oldest block of
 * each non-empty class competes at eviction. A newcomer worth less (at idle time 0) than the
 * weakest cached block is not admitted (bypass). Within one request, deeper blocks are placed
 * older than shallower ones: a chain's tail goes before its prefix, which the next turn needs.
 * The predictor learns between requests (reuses seen in a request are applied at the next), so
 * within a request every value is fixed and cached per class.
 *
 * The chain rule (one tier). A block hits only if its whole prefix does, so a block is worth
 * nothing once a block of its prefix is gone, and a prefix is worth at least the chain behind it.
 * The policy learns each block's parent -- the block accessed just before it in the same request,
 * at its last access -- as a prefix tree (first child and sibling links), and keeps each resident
 * block in one of three states: a leaf (its prefix all resident, no whole resident child: in its
 * class list), inner (its prefix all resident, with a whole resident child: in no list) or an
 * orphan (a block of its prefix is not resident: in the orphans list). Only leaves compete in the
 * class lists, so a chain is only ever shortened from its tail, and the weakest leaf is the
 * minimum over all blocks of "own value, or the best of the chain behind it". Orphans go before
 * any leaf, oldest first (they can hit only after their prefix is admitted again). A block that
 * becomes an orphan (reached through a block that is not resident) takes the whole blocks below
 * it along; when it is placed with its prefix whole again, the orphans below it go back to their
 * class lists (or are inner), each placed by its idle clock. A newcomer whose parent is not whole
 * is not admitted into a full cache (bypass). So the victim is always a leaf or an orphan, and an
 * eviction changes no other block's state but its parent's (which may become a leaf). Cost: 21
 * bytes per block (state 1, count of whole resident children 4, four tree links 16); a walk down
 * the tree happens only when a block is admitted or changes between whole and orphan. Measured
 * (docs/replay.md): SWE-agent at 1400 tokens 4.85 -> 16.16 %, Mooncake at 3M tokens 19.06 ->
 * 19.21 %; losses of 4 blocks' hits at Mooncake 1M, 2 at ShareGPT tokens 12k, 0.12 points on
 * the generated agent workload at 1 % of its distinct tokens.
 *
 * Dead sub-agent chains (one tier). A request's chain is a sub-agent's if its first own block was
 * made in a handoff request or carries that mark (TAG_SUB; the request's new blocks carry it too).
 * Such a block is "left" once its session has sent a request after the block's last access (the
 * main chain resumed). Outcomes are also counted by that state (pooled); when a session's request
 * becomes a past one and the sub-agent chain it last touched is left, the chain is dropped -- its
 * resident blocks become orphans -- if a left block is more likely never reused than reused
 * (kvt_pred_left_dead). Valuing left blocks inside their classes was tried first: only a class
 * list's oldest block competes, so dead blocks behind live ones of the same class were never
 * reached, and mix at 2M tokens lost 0.10 points (docs/replay.md). Measured: the generated agent
 * workload at 20 % of its distinct tokens 96.4508 -> 96.6010 % (LRU 96.4514), mix 2M 58.18 ->
 * 58.34 %. Cost: 12 bytes per session, one bit per block.
 *
 * In a node's tiers, the instances below the top share the top tier's predictor and its view of
 * each block (class, last access): the top tier sees every access, the others only what reaches
 * them, so only the top one learns. The chain rule is off there: an evicted block is demoted to
 * the tier below, not lost, so its descendants can still hit (the top tier learns it is in a
 * node when the tier below it is created, before any access).
 *
 * T is measured from a ring of the last `capacity` admission times (8 bytes per cached block)
 * and taken as 60 s until the cache has admitted that many. (An average of evicted blocks' ages
 * was tried first and collapses: evicting young blocks shortens T, which makes young blocks look
 * worthless, which evicts more of them.) Defaults (docs/replay.md): expiry horizon 10 minutes,
 * predictor parameters from kvt_pred_params_default().
 *
 * Expiry. The top tier keeps each block with a class (accessed within the horizon, not yet
 * expired) in a list by last access, newest at the head (intrusive links, 8 bytes per block): an
 * access moves its block to the head, and since accesses come in time order (the engine replays
 * requests by arrival) the list stays sorted, so before each request the blocks at the tail idle
 * for the horizon are failures of their last access's class, oldest first. (A block accessed
 * again at the same instant keeps its place.) These are the failures, in the order, that a log of
 * every access would give -- the first version kept one: a 16-byte ring entry per access within
 * the horizon, which grew with the access rate, 171 bytes per distinct block on bench_replay's
 * 100 M references. Memory: 63 bytes per block id in the top tier (55 below it, which does not
 * expire), of which the prefetch clock's 8 are touched only by prefetches; plus 8 per cached
 * block for T and 16 per session.
 */
#include "policy/dlist.h"
#include "policy/policy.h"
#include "policy/predictor.h"

#include <kvtier/trace.h>

#include <string.h>

#define HORIZON_US   (600ull * 1000000)
#define T_INITIAL_US (60.0 * 1e6)
#define MIN_OCCUPIED 1000.0 /* us: a floor for the density's denominator */
#define NO_CLASS     UINT16_MAX
#define NIL          KVT_DL_NIL
#define TAG_SHARED   1u /* tag bit 0; bits 1-4: the paper's class of the last access */
#define TAG_SUB      32u /* tag bit 5: made in a sub-agent's chain (see is_left) */
_Static_assert(KVT_BLOCK_TYPES * KVT_TRANSITIONS == KVT_PRED_PAPER_CLASSES && KVT_TRANSITIONS == 4,
               "the paper's classes are block type x 4 transitions");

/* A block's state in this instance. Without the chain rule (node tiers) every resident block is
 * IN_CLASS. */
enum {
    OUT = 0,      /* not resident */
    IN_CLASS = 1, /* resident, prefix whole, no whole resident child: in its class list */
    ORPHAN = 2,   /* resident, a block of its prefix is not: in the orphans list */
    INNER = 3,    /* resident, prefix whole, with a whole resident child: in no list */
};

typedef struct reuse {
    uint16_t cls;
    uint8_t paper; /* the paper's class of the previous access (reported only) */
    bool left;     /* the block was left (is_left) when reused */
    uint64_t gap_us;
} reuse_t;

typedef struct predictive {
    kvt_predictor_t own;    /* the top tier's predictor */
    kvt_predictor_t *pred;  /* own, or the top tier's for the tiers below (they do not learn) */
    const struct predictive *top; /* lower tiers: the top tier's instance, which sees every
                                   * access and classifies every block; NULL in the top tier */
    kvt_dlinks_t links;
    kvt_dlist_t lists[KVT_PRED_CLASSES];
    uint16_t active[KVT_PRED_CLASSES]; /* the non-empty lists, in no order */
    uint16_t active_pos[KVT_PRED_CLASSES];
    uint32_t nactive;
    uint16_t *cls;          /* per block: class at last access (NO_CLASS: none alive) */
    uint16_t *list_of;      /* per block: the list holding it when resident */
    uint64_t *last_us;      /* per block: last access time */
    uint64_t *pf_us;        /* per block: last prefetch into this tier (0: none) */
    uint64_t pf_job;        /* the prefetch being placed: its request index + 1 */
    uint8_t *uses;          /* per block: earlier accesses (low 2 bits, saturating at 2) and the
                             * sessions that used it (high 6 bits, saturating at 63) */
    uint32_t *last_session; /* per block: the session of its last access */
    uint8_t *tag;           /* per block: bit 0 (TAG_SHARED) a system prefix, or seen by a second
                             * session; bits 1-4 the paper's class of its last access (block type
                             * x transition, kvt_pred_paper_class), for the report only;
                             * bit 5 (TAG_SUB) on a sub-agent's chain */
    uint32_t *sess_depth;   /* per session: requests seen */
    uint64_t *sess_t;       /* per session: arrival of its latest request before the current */
    uint32_t *sess_sub;     /* per session: the last block of a sub-agent's chain it accessed
                             * (NIL: none, or that chain was dropped) */
    uint64_t nsessions;
    uint32_t cur_session;   /* the current request's session and arrival (UINT32_MAX: none) */
    uint64_t cur_t;
    bool cur_own_seen;      /* the current request has accessed a block of its own kind */
    bool cur_sub;           /* ... and its first such block was a sub-agent's */
    kvt_dlinks_t xlinks;    /* top tier: links of xlist (lower tiers: none) */
    kvt_dlist_t xlist;      /* top tier: the blocks with a class (cls != NO_CLASS) by last
                             * access, newest at the head: the tail expires first */
    reuse_t *pending;       /* reuses seen in the current request, learned at the next */
    uint64_t npending, pending_cap;
    uint64_t cur_req;
    uint32_t cur_depth;
    uint32_t cursor;        /* last block placed for the current request */
    double t_char;          /* characteristic time T, us */
    uint64_t *admit_us;     /* ring of the last `capacity` admission times */
    uint64_t admit_cap, admit_head, admit_len;
    double t_snap;          /* T as the current request began: values use it */
    /* per class: the value of its oldest block, valid for (request, block) */
    double val[KVT_PRED_CLASSES];
    uint32_t val_block[KVT_PRED_CLASSES];
    uint64_t val_req[KVT_PRED_CLASSES];
    uint64_t val_t[KVT_PRED_CLASSES]; /* ... and the time (prefetches come between requests) */
    /* the chain rule (one tier only): a block hits only if its whole prefix does */
    bool chains;
    uint8_t *state;         /* per block: OUT, IN_CLASS, ORPHAN or INNER */
    uint32_t *nkids;        /* per block: its children in state IN_CLASS or INNER */
    uint32_t *parent, *child, *sib_next, *sib_prev; /* the prefix tree: each block under the block
                                                     * accessed before it at its last access */
    kvt_dlist_t orphans;    /* ORPHAN blocks, newest at the head */
    uint32_t prev_block;    /* the last block accessed, in request prev_req */
    uint64_t prev_req;
} predictive_t;

static void pv_destroy(void *ctx);

static kvt_status_t pv_create(const kvt_policy_cfg_t *cfg, void **ctx_p)
{
    predictive_t *p = calloc(1, sizeof(*p));
    uint64_t n = cfg->nblocks ? cfg->nblocks : 1;
    if (p == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    p->cls = malloc(n * sizeof(*p->cls));
    p->list_of = malloc(n * sizeof(*p->list_of));
    p->last_us = calloc(n, sizeof(*p->last_us));
    p->pf_us = calloc(n, sizeof(*p->pf_us));
    p->uses = calloc(n, 1);
    p->last_session = malloc(n * sizeof(*p->last_session));
    p->tag = calloc(n, 1);
    p->state = calloc(n, 1);
    p->nkids = calloc(n, sizeof(uint32_t));
    p->parent = malloc(n * sizeof(uint32_t));
    p->child = malloc(n * sizeof(uint32_t));
    p->sib_next = malloc(n * sizeof(uint32_t));
    p->sib_prev = malloc(n * sizeof(uint32_t));
    if (p->cls == NULL || p->list_of == NULL || p->last_us == NULL || p->pf_us == NULL ||
        p->uses == NULL ||
        p->last_session == NULL || p->tag == NULL || p->state == NULL || p->nkids == NULL ||
        p->parent == NULL || p->child == NULL || p->sib_next == NULL || p->sib_prev == NULL ||
        !kvt_dlinks_init(&p->links, n)) {
        pv_destroy(p); /* frees whatever was allocated: p came zeroed */
        return KVT_ERR_NO_MEMORY;
    }
    memset(p->cls, 0xff, n * sizeof(*p->cls));
    memset(p->last_session, 0xff, n * sizeof(*p->last_session));
    memset(p->parent, 0xff, n * sizeof(uint32_t));
    memset(p->child, 0xff, n * sizeof(uint32_t));
    memset(p->sib_next, 0xff, n * sizeof(uint32_t));
    memset(p->sib_prev, 0xff, n * sizeof(uint32_t));
    kvt_dlist_init(&p->orphans);
    kvt_dlist_init(&p->xlist);
    p->prev_req = UINT64_MAX;
    p->cur_session = UINT32_MAX;
    p->chains = true;
    for (uint32_t c = 0; c < KVT_PRED_CLASSES; c++) {
        kvt_dlist_init(&p->lists[c]);
    }
    kvt_pred_init(&p->own, NULL);
    if (cfg->upper != NULL) {
        /* in a node an evicted block is demoted, not lost: no tier applies the chain rule (the
         * tiers are created top first, before any access) */
        predictive_t *up = cfg->upper;
        up->chains = false;
        if (up->top != NULL) {
            ((predictive_t *)up->top)->chains = false;
        }
        p->chains = false;
        p->top = up->top != NULL ? up->top : up;
        p->pred = up->pred;
    } else {
        p->pred = &p->own;
        if (!kvt_dlinks_init(&p->xlinks, n)) { /* only the top tier learns, so only it expires */
            pv_destroy(p);
            return KVT_ERR_NO_MEMORY;
        }
    }
    /* a cache larger than the id space never evicts: it needs no T */
    p->admit_cap = cfg->capacity < n ? cfg->capacity : n;
    p->admit_cap = p->admit_cap ? p->admit_cap : 1;
    p->admit_us = malloc(p->admit_cap * sizeof(*p->admit_us));
    if (p->admit_us == NULL) {
        pv_destroy(p);
        return KVT_ERR_NO_MEMORY;
    }
    p->t_char = T_INITIAL_US;
    p->cur_req = UINT64_MAX;
    *ctx_p = p;
    return KVT_OK;
}

static void pv_destroy(void *ctx)
{
    predictive_t *p = ctx;
    kvt_dlinks_fini(&p->links);
    kvt_dlinks_fini(&p->xlinks);
    free(p->cls);
    free(p->list_of);
    free(p->last_us);
    free(p->pf_us);
    free(p->uses);
    free(p->last_session);
    free(p->tag);
    free(p->state);
    free(p->nkids);
    free(p->parent);
    free(p->child);
    free(p->sib_next);
    free(p->sib_prev);
    free(p->sess_depth);
    free(p->sess_t);
    free(p->sess_sub);
    free(p->admit_us);
    free(p->pending);
    free(p);
}

/* A block its session left behind: a sub-agent's chain (TAG_SUB) whose session sent a request
 * (before the current one) after the block's last access. Top tier only. */
static bool is_left(const predictive_t *p, uint32_t b)
{
    uint32_t s = p->last_session[b];
    return p->top == NULL && (p->tag[b] & TAG_SUB) && s < p->nsessions &&
           p->sess_t[s] > p->last_us[b];
}

/* Blocks idle past the horizon are failures of their class, oldest access first. */
static void expire(predictive_t *p, uint64_t now)
{
    while (p->xlist.size > 0) {
        uint32_t b = p->xlist.tail;
        if (p->last_us[b] + HORIZON_US > now) {
            break;
        }
        if (is_left(p, b)) {
            kvt_pred_left_outcome(p->pred, false);
        }
        kvt_pred_expired(p->pred, p->cls[b]);
        kvt_pred_paper_outcome(p->pred, (p->tag[b] >> 1) & 15, false);
        p->cls[b] = NO_CLASS;
        kvt_dlist_remove(&p->xlist, &p->xlinks, b);
    }
}

static void drop_left(predictive_t *p, uint32_t s);

/* First access of a request: its session's depth, and expiries up to its arrival. */
static void begin_request(predictive_t *p, const kvt_access_t *a)
{
    p->cur_req = a->req;
    p->cursor = KVT_DL_NIL;
    uint32_t past = p->cur_session;
    if (past < p->nsessions) {
        p->sess_t[past] = p->cur_t; /* the previous request is now a past one */
    }
    p->cur_session = a->session;
    p->cur_t = a->t_us;
    p->cur_own_seen = false;
    p->cur_sub = false;
    if (a->session >= p->nsessions) {
        uint64_t n = p->nsessions ? p->nsessions : 1024;
        while (n <= a->session) {
            n *= 2;
        }
        uint32_t *d = realloc(p->sess_depth, n * sizeof(*d));
        uint64_t *t = d != NULL ? realloc(p->sess_t, n * sizeof(*t)) : NULL;
        uint32_t *u = t != NULL ? realloc(p->sess_sub, n * sizeof(*u)) : NULL;
        p->sess_depth = d != NULL ? d : p->sess_depth;
        p->sess_t = t != NULL ? t : p->sess_t;
        if (u != NULL) { /* all three grown: the new sessions start empty */
            memset(d + p->nsessions, 0, (n - p->nsessions) * sizeof(*d));
            memset(t + p->nsessions, 0, (n - p->nsessions) * sizeof(*t));
            memset(u + p->nsessions, 0xff, (n - p->nsessions) * sizeof(*u));
            p->sess_sub = u;
            p->nsessions = n;
        }
    }
    p->cur_depth = a->session < p->nsessions ? p->sess_depth[a->session]++ : 0;
    /* T: how long the last `capacity` admissions took -- the time a block lasts in a FIFO of
     * this size at the current admission rate (Che's characteristic time); 60 s until the cache
     * has admitted that many */
    if (p->admit_len == p->admit_cap) {
        double t = (double)(a->t_us - p->admit_us[p->admit_head]);
        p->t_char = t > 1 ? t : 1;
    }
    p->t_snap = p->t_char;
    for (uint64_t i = 0; i < p->npending; i++) {
        kvt_pred_reused(p->pred, p->pending[i].cls, p->pending[i].gap_us);
        if (p->pending[i].left) {
            kvt_pred_left_outcome(p->pred, true);
        }
        kvt_pred_paper_outcome(p->pred, p->pending[i].paper, true);
    }
    p->npending = 0;
    expire(p, a->t_us);
    if (past != UINT32_MAX) {
        drop_left(p, past); /* with what was learned up to now */
    }
}

/* A lower tier's view of a block: the class the top tier gave it at its last access. */
static uint16_t class_from_top(const predictive_t *p, const kvt_access_t *a)
{
    uint16_t c = p->top->cls[a->block];
    return c != NO_CLASS ? c
                         : kvt_pred_class(a->block_type == KVT_BLOCK_SYSTEM, KVT_TRANS_NEXT_TURN,
                                          false, 0, 1, 0, 0);
}

/* Learn from the access and record the block's new class and time. */
static uint16_t observe(predictive_t *p, const kvt_access_t *a)
{
    if (a->req != p->cur_req) {
        begin_request(p, a);
    }
    uint32_t b = a->block;
    if (p->top != NULL) {
        /* a lower tier learns nothing itself: the top tier sees every access */
        p->cls[b] = class_from_top(p, a);
        p->last_us[b] = a->t_us;
        return p->cls[b];
    }
    if (p->cls[b] != NO_CLASS) {
        if (p->npending == p->pending_cap) {
            uint64_t cap = p->pending_cap ? p->pending_cap * 2 : 256;
            reuse_t *r = realloc(p->pending, cap * sizeof(*r));
            if (r != NULL) {
                p->pending = r;
                p->pending_cap = cap;
            }
        }
        if (p->npending < p->pending_cap) {
            p->pending[p->npending++] =
                (reuse_t){p->cls[b], (uint8_t)((p->tag[b] >> 1) & 15), is_left(p, b),
                          a->t_us - p->last_us[b]};
        }
    }
    /* popularity: the sessions that used the block, counted at each change of session (a
     * conversation's turns count once; a session coming back after another counts again) */
    unsigned reuses = p->uses[b] & 3, sessions = p->uses[b] >> 2;
    if (p->last_session[b] != a->session && sessions < 63) {
        sessions++;
    }
    /* a second session: shared (the first access by a session other than the last one is the
     * first by a session other than the first one) */
    bool shared = (p->tag[b] & TAG_SHARED) || a->block_type == KVT_BLOCK_SYSTEM ||
                  (p->last_session[b] != UINT32_MAX && p->last_session[b] != a->session);
    /* a sub-agent's chain: the request's first own block was made in a handoff request, or
     * carries that mark; the new blocks of such a request carry it too */
    bool made = p->last_session[b] == UINT32_MAX;
    if (!shared && !p->cur_own_seen) {
        p->cur_own_seen = true;
        p->cur_sub = made ? a->transition == KVT_TRANS_HANDOFF : (p->tag[b] & TAG_SUB) != 0;
    }
    unsigned sub = made ? (p->cur_sub && !shared ? TAG_SUB : 0) : (p->tag[b] & TAG_SUB);
    p->tag[b] = (uint8_t)((shared ? TAG_SHARED : 0) | sub |
                          kvt_pred_paper_class(a->block_type, a->transition) << 1);
    if (sub && a->session < p->nsessions) {
        p->sess_sub[a->session] = b;
    }
    p->last_session[b] = a->session;
    uint16_t c = kvt_pred_class(shared, a->transition, a->partial, p->cur_depth,
                                a->chain_len, reuses, sessions);
    p->uses[b] = (uint8_t)(sessions << 2 | (reuses < 2 ? reuses + 1 : 2));
    /* to the head of the expiry list (accesses come in time order, so it stays sorted by last
     * access); a block accessed again at the same instant keeps its place, that of its first
     * access then */
    bool listed = p->cls[b] != NO_CLASS;
    if (!listed || p->last_us[b] != a->t_us) {
        if (listed) {
            kvt_dlist_remove(&p->xlist, &p->xlinks, b);
        }
        kvt_dlist_push_head(&p->xlist, &p->xlinks, b);
    }
    p->cls[b] = c;
    p->last_us[b] = a->t_us;
    return c;
}

/* The clock a resident block's idle time runs from: its last access, or a later prefetch (a
 * prefetched block is predicted to be used soon: its value restarts as if just accessed; the
 * predictor's gaps still run from the last access). */
static uint64_t since(const predictive_t *p, uint32_t b)
{
    return p->pf_us[b] > p->last_us[b] ? p->pf_us[b] : p->last_us[b];
}

/* Take b out of its class list, and its class out of the active set if the list empties. */
static void class_remove(predictive_t *p, uint32_t b)
{
    uint16_t c = p->list_of[b];
    kvt_dlist_remove(&p->lists[c], &p->links, b);
    if (p->lists[c].size == 0) {
        uint16_t last = p->active[--p->nactive];
        p->active[p->active_pos[c]] = last;
        p->active_pos[last] = p->active_pos[c];
    }
}

/* Class c is about to receive a block: into the active set if its list is empty. */
static void activate(predictive_t *p, uint16_t c)
{
    if (p->lists[c].size == 0) {
        p->active_pos[c] = (uint16_t)p->nactive;
        p->active[p->nactive++] = c;
    }
}

/* Put b into its class list at its place by idle clock (scanning from the oldest end): a block
 * coming back to its list (a leaf again, or its prefix whole again) is not a new access. */
static void class_insert_sorted(predictive_t *p, uint32_t b)
{
    uint16_t c = p->list_of[b];
    kvt_dlist_t *l = &p->lists[c];
    activate(p, c);
    uint64_t t = since(p, b);
    uint32_t x = l->tail;
    while (x != NIL && since(p, x) <= t) {
        x = p->links.prev[x];
    }
    if (x == NIL) {
        kvt_dlist_push_head(l, &p->links, b);
    } else {
        kvt_dlist_insert_after(l, &p->links, x, b);
    }
}

/* Resident with its whole prefix resident. */
static bool whole(const predictive_t *p, uint32_t b)
{
    return p->state[b] == IN_CLASS || p->state[b] == INNER;
}

/* Does a block under `par` lack part of its prefix (par not resident, or itself an orphan)? */
static bool cut_above(const predictive_t *p, uint32_t par)
{
    return p->chains && par != NIL && !whole(p, par);
}

/* A whole child of b came (d = +1) or went (-1). Only leaves compete: a block with a whole child
 * leaves its class list, and rejoins it, at its place by idle time, when the last one goes. */
static void kid(predictive_t *p, uint32_t b, int d)
{
    if (b == NIL || !whole(p, b)) {
        return;
    }
    p->nkids[b] = (uint32_t)((int64_t)p->nkids[b] + d);
    if (d > 0 && p->state[b] == IN_CLASS) {
        class_remove(p, b);
        p->state[b] = INNER;
    } else if (d < 0 && p->nkids[b] == 0 && p->state[b] == INNER) {
        p->state[b] = IN_CLASS;
        class_insert_sorted(p, b);
    }
}

/* Take a resident block out of whichever list holds it (its parent's count is left alone). */
static void leave(predictive_t *p, uint32_t b)
{
    if (p->state[b] == ORPHAN) {
        kvt_dlist_remove(&p->orphans, &p->links, b);
    } else if (p->state[b] == IN_CLASS) {
        class_remove(p, b);
    }
    p->state[b] = OUT;
}

/* A resident block leaves the cache. */
static void evict(predictive_t *p, uint32_t b)
{
    bool w = whole(p, b);
    leave(p, b);
    if (w) {
        kid(p, p->parent[b], -1);
    }
}

/* Walk the resident descendants of `root`: to_orphan, each whole one becomes an orphan (root
 * left the cache or lost its prefix); otherwise each orphan becomes whole again (root came back
 * with its prefix whole). A block in neither state ends its branch: its subtree is already in the
 * state wanted (a whole block has no orphan below it, an orphan no whole block). */
static void walk(predictive_t *p, uint32_t root, bool to_orphan)
{
    uint32_t n = p->child[root];
    while (n != NIL) {
        bool go = to_orphan ? whole(p, n) : p->state[n] == ORPHAN;
        if (go) {
            leave(p, n);
            p->nkids[n] = 0;
            if (to_orphan) {
                kvt_dlist_push_head(&p->orphans, &p->links, n);
                p->state[n] = ORPHAN;
            } else {
                /* a leaf until a child of its own comes back (kid below) */
                p->state[n] = IN_CLASS;
                class_insert_sorted(p, n);
                kid(p, p->parent[n], +1);
            }
            if (p->child[n] != NIL) {
                n = p->child[n];
                continue;
            }
        }
        while (n != root && p->sib_next[n] == NIL) {
            n = p->parent[n];
        }
        if (n == root) {
            break;
        }
        n = p->sib_next[n];
    }
}

/* Session s's request just became a past one. If the sub-agent's chain the session touched last
 * is now left (the session has sent a request since: its main chain resumed) and a left block
 * is, on the evidence so far, more likely never reused than reused (kvt_pred_left_dead), the
 * chain is dead: its resident blocks become orphans, evicted before any leaf. Its top is found
 * by walking up from the last block the session touched while the parent is a block of the same
 * chain; everything below the top is left too (a descendant is accessed only after its prefix).
 * One tier only. */
static void drop_left(predictive_t *p, uint32_t s)
{
    uint32_t u = s < p->nsessions ? p->sess_sub[s] : NIL;
    if (u == NIL || !p->chains || !is_left(p, u) || !kvt_pred_left_dead(p->pred)) {
        return;
    }
    p->sess_sub[s] = NIL;
    while (p->parent[u] != NIL && (p->tag[p->parent[u]] & TAG_SUB) &&
           p->last_session[p->parent[u]] == s) {
        u = p->parent[u];
    }
    if (!whole(p, u)) {
        return; /* not resident (nothing whole below it) or an orphan already (nor below it) */
    }
    leave(p, u);
    kid(p, p->parent[u], -1);
    p->nkids[u] = 0;
    kvt_dlist_push_head(&p->orphans, &p->links, u);
    p->state[u] = ORPHAN;
    walk(p, u, true);
}

/* The block accessed before b in its request becomes its parent in the prefix tree (none at
 * position 0). b is not in its parent's count here (not resident, or just left): none moves. */
static void link_parent(predictive_t *p, const kvt_access_t *a)
{
    uint32_t b = a->block;
    uint32_t par = a->pos > 0 && p->prev_req == a->req ? p->prev_block : NIL;
    p->prev_req = a->req;
    p->prev_block = b;
    if (par == b || par == p->parent[b]) {
        return; /* the same parent, or a chain naming b twice in a row: no loop onto itself */
    }
    uint32_t old = p->parent[b];
    if (old != NIL) {
        if (p->sib_prev[b] != NIL) {
            p->sib_next[p->sib_prev[b]] = p->sib_next[b];
        } else {
            p->child[old] = p->sib_next[b];
        }
        if (p->sib_next[b] != NIL) {
            p->sib_prev[p->sib_next[b]] = p->sib_prev[b];
        }
    }
    p->parent[b] = par;
    p->sib_prev[b] = NIL;
    p->sib_next[b] = NIL;
    if (par != NIL) {
        p->sib_next[b] = p->child[par];
        if (p->child[par] != NIL) {
            p->sib_prev[p->child[par]] = b;
        }
        p->child[par] = b;
    }
}

/* Place a block that is not in any list (just accessed, or admitted) in class c. With its prefix
 * whole it goes to its class list if it is a leaf -- shallower blocks of a request stay more
 * recent -- or stays out of the lists if a whole child hangs below it; its orphaned descendants
 * come back. With its prefix cut it is an orphan, and so is every whole block below it.
 * `was_whole`: b was whole before this access (no orphan hangs below it); `counted`: b is still
 * in its parent's count of whole children. */
static void place(predictive_t *p, uint32_t b, uint16_t c, bool was_whole, bool counted)
{
    p->list_of[b] = c;
    if (cut_above(p, p->parent[b])) {
        kvt_dlist_push_head(&p->orphans, &p->links, b);
        p->state[b] = ORPHAN;
        p->nkids[b] = 0;
        p->cursor = b;
        walk(p, b, true);
        return;
    }
    if (p->chains && p->nkids[b] > 0) {
        p->state[b] = INNER;
    } else {
        kvt_dlist_t *l = &p->lists[c];
        activate(p, c);
        if (p->cursor != NIL && p->state[p->cursor] == IN_CLASS && p->list_of[p->cursor] == c) {
            kvt_dlist_insert_after(l, &p->links, p->cursor, b);
        } else {
            kvt_dlist_push_head(l, &p->links, b);
        }
        p->state[b] = IN_CLASS;
    }
    p->cursor = b;
    if (p->chains) {
        if (!counted) {
            kid(p, p->parent[b], +1);
        }
        if (!was_whole && p->child[b] != NIL) {
            walk(p, b, false);
        }
    }
}

static double value(predictive_t *p, uint16_t c, double e)
{
    double pr = kvt_pred_p_reuse(p->pred, c);
    double T = p->t_snap;
    double se = kvt_pred_gap_survival(p->pred, c, e);
    double alive = 1 - pr + pr * se;
    if (alive <= 0) {
        return 0;
    }
    double hit = pr * (se - kvt_pred_gap_survival(p->pred, c, e + T)) / alive;
    double occupied = 0;
    for (int k = 0; k < 8; k++) {
        double x = e + (k + 0.5) * T / 8;
        occupied += (1 - pr + pr * kvt_pred_gap_survival(p->pred, c, x)) / alive * T / 8;
    }
    return hit / (occupied > MIN_OCCUPIED ? occupied : MIN_OCCUPIED);
}

/* The resident block of least value: the oldest orphan, else the oldest leaf of each class
 * competes. */
static uint32_t weakest(predictive_t *p, uint64_t now, double *value_p)
{
    uint32_t best = KVT_NO_BLOCK;
    double best_v = 0;
    if (p->orphans.size > 0) {
        /* a block whose prefix is gone can hit only after the prefix is admitted again */
        *value_p = -1;
        return p->orphans.tail;
    }
    for (uint32_t i = 0; i < p->nactive; i++) {
        uint16_t c = p->active[i];
        uint32_t b = p->lists[c].tail;
        /* within a request the clock, T and the predictor stand still (it learns between
         * requests), so a class's value changes only with its oldest block */
        if (p->val_req[c] != p->cur_req + 1 || p->val_block[c] != b || p->val_t[c] != now) {
            p->val[c] = value(p, c, (double)(now - since(p, b)));
            p->val_req[c] = p->cur_req + 1;
            p->val_block[c] = b;
            p->val_t[c] = now;
        }
        double v = p->val[c];
        /* ties (equal values, e.g. zero) go to the older block, then the lower class: the
         * order of the active set must not matter */
        if (best == KVT_NO_BLOCK || v < best_v ||
            (v == best_v && (since(p, b) < since(p, best) ||
                             (since(p, b) == since(p, best) && c < p->list_of[best])))) {
            best = b;
            best_v = v;
        }
    }
    *value_p = best_v;
    return best;
}

static void pv_hit(void *ctx, const kvt_access_t *a)
{
    predictive_t *p = ctx;
    if (a->req != p->cur_req) {
        begin_request(p, a); /* first: it may turn a dropped chain into orphans (drop_left) */
    }
    if (p->cursor == a->block) {
        p->cursor = KVT_DL_NIL; /* a chain naming one block twice: do not place it after itself */
    }
    uint32_t b = a->block, par = p->parent[b];
    bool was_whole = whole(p, b);
    bool counted = was_whole; /* in its parent's count: stays there if the parent is the same */
    leave(p, b);
    uint16_t c = observe(p, a);
    if (p->chains) {
        link_parent(p, a);
        if (counted && p->parent[b] != par) {
            kid(p, par, -1);
            counted = false;
        }
    }
    place(p, b, c, was_whole, counted);
}

static uint32_t pv_miss(void *ctx, const kvt_access_t *a, bool full)
{
    predictive_t *p = ctx;
    uint16_t c;
    uint32_t cursor = p->cursor;
    if (!a->demoted && !a->prefetch) {
        c = observe(p, a);
        if (p->chains) {
            link_parent(p, a);
            if (full && cut_above(p, p->parent[a->block])) {
                return a->block; /* its prefix is not cached: it could not hit */
            }
        }
    } else {
        /* a demoted or prefetched block is not an access: nothing to learn; it keeps the class
         * of its last access seen here, or its base class with the engine's last access time */
        if (p->top != NULL) {
            p->cls[a->block] = class_from_top(p, a);
            p->last_us[a->block] = a->last_us;
        } else if (p->cls[a->block] == NO_CLASS) {
            p->last_us[a->block] = a->last_us;
        }
        c = p->cls[a->block] != NO_CLASS
                ? p->cls[a->block]
                : kvt_pred_class(a->block_type == KVT_BLOCK_SYSTEM, KVT_TRANS_NEXT_TURN, false,
                                 0, 1, 0, 0);
        if (!a->prefetch) {
            p->cursor = KVT_DL_NIL; /* not part of the current request's chain order */
        } else if (p->pf_job != a->req + 1) {
            p->pf_job = a->req + 1; /* a new prefetch: its chain is placed in order, head first */
            p->cursor = KVT_DL_NIL;
            cursor = KVT_DL_NIL;
        }
    }
    uint32_t victim = KVT_NO_BLOCK;
    if (full) {
        double weakest_v;
        victim = weakest(p, a->t_us, &weakest_v);
        double idle = (double)(a->t_us - since(p, a->block));
        /* a prefetched block is valued as just accessed, and must be worth strictly more than
         * what it displaces (an equal block of its own chain is not displaced) */
        double nv = value(p, c, a->demoted ? idle : 0);
        if (victim == KVT_NO_BLOCK || nv < weakest_v || (a->prefetch && nv <= weakest_v)) {
            p->cursor = a->demoted ? cursor : p->cursor;
            return a->block; /* the newcomer is worth less than anything cached: bypass */
        }
        /* a leaf or an orphan: nothing whole hangs below it, so no descendant changes state */
        evict(p, victim);
        if (victim == cursor) {
            cursor = KVT_DL_NIL;
        }
        if (victim == p->cursor) {
            p->cursor = KVT_DL_NIL;
        }
    }
    if (a->prefetch) {
        p->pf_us[a->block] = a->t_us;
    }
    place(p, a->block, c, false, false);
    if (a->demoted) {
        p->cursor = cursor;
    }
    p->admit_us[(p->admit_head + p->admit_len) % p->admit_cap] = a->t_us;
    if (p->admit_len < p->admit_cap) {
        p->admit_len++;
    } else {
        p->admit_head = (p->admit_head + 1) % p->admit_cap;
    }
    return victim;
}

double kvt_predictive_p_reuse(const void *ctx, uint32_t block)
{
    const predictive_t *p = ctx;
    const predictive_t *top = p->top != NULL ? p->top : p;
    uint16_t c = top->cls[block];
    if (c == NO_CLASS) {
        c = kvt_pred_class(top->tag[block] & TAG_SHARED, KVT_TRANS_NEXT_TURN, false, 0, 1, 0, 0);
    }
    return kvt_pred_p_reuse(p->pred, c);
}

void kvt_predictive_paper_counts(const void *ctx, double succ[KVT_PRED_PAPER_CLASSES],
                                 double fail[KVT_PRED_PAPER_CLASSES])
{
    const predictive_t *p = ctx;
    const predictive_t *top = p->top != NULL ? p->top : p;
    memcpy(succ, p->pred->paper_succ, sizeof(p->pred->paper_succ));
    memcpy(fail, p->pred->paper_fail, sizeof(p->pred->paper_fail));
    for (uint64_t i = 0; i < top->npending; i++) { /* the request in progress: not learned yet */
        succ[top->pending[i].paper & (KVT_PRED_PAPER_CLASSES - 1)] += 1;
    }
}

static void pv_paper_counts(const void *ctx, double *succ, double *fail)
{
    kvt_predictive_paper_counts(ctx, succ, fail);
}

const kvt_policy_ops_t kvt_policy_predictive = {
    .name = "predictive",
    .summary = "Bayesian reuse classes, evict the least hit density (no future knowledge)",
    .flags = KVT_POLICY_PREFETCH,
    .create = pv_create,
    .destroy = pv_destroy,
    .hit = pv_hit,
    .miss = pv_miss,
    .paper_counts = pv_paper_counts,
};
