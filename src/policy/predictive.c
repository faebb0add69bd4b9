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
 * In a node's tiers, the instances below the top share the top tier's predictor and its view of
 * each block (class, last access): the top tier sees every access, the others only what reaches
 * them, so only the top one learns.
 *
 * T is measured from a ring of the last `capacity` admission times (8 bytes per cached block)
 * and taken as 60 s until the cache has admitted that many. (An average of evicted blocks' ages
 * was tried first and collapses: evicting young blocks shortens T, which makes young blocks look
 * worthless, which evicts more of them.) Defaults (docs/replay.md): expiry horizon 10 minutes,
 * predictor parameters from kvt_pred_params_default().
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

typedef struct expiry {
    uint32_t block;
    uint64_t t_us;
} expiry_t;

typedef struct reuse {
    uint16_t cls;
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
    uint8_t *reuses;        /* per block: earlier accesses, saturating */
    uint32_t *first_session; /* per block: the first session that accessed it */
    uint8_t *shared;        /* per block: a system prefix, or seen by a second session */
    uint32_t *sess_depth;   /* per session: requests seen */
    uint64_t nsessions;
    expiry_t *ring;         /* accesses in time order, for expiry */
    uint64_t ring_cap, ring_head, ring_len;
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
} predictive_t;

static kvt_status_t grow_ring(predictive_t *p)
{
    uint64_t cap = p->ring_cap ? p->ring_cap * 2 : 4096;
    expiry_t *r = malloc(cap * sizeof(*r));
    if (r == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    for (uint64_t i = 0; i < p->ring_len; i++) {
        r[i] = p->ring[(p->ring_head + i) % p->ring_cap];
    }
    free(p->ring);
    p->ring = r;
    p->ring_cap = cap;
    p->ring_head = 0;
    return KVT_OK;
}

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
    p->reuses = calloc(n, 1);
    p->first_session = malloc(n * sizeof(*p->first_session));
    p->shared = calloc(n, 1);
    if (p->cls == NULL || p->list_of == NULL || p->last_us == NULL || p->pf_us == NULL ||
        p->reuses == NULL ||
        p->first_session == NULL || p->shared == NULL ||
        !kvt_dlinks_init(&p->links, n) || grow_ring(p) != KVT_OK) {
        pv_destroy(p); /* frees whatever was allocated: p came zeroed */
        return KVT_ERR_NO_MEMORY;
    }
    memset(p->cls, 0xff, n * sizeof(*p->cls));
    memset(p->first_session, 0xff, n * sizeof(*p->first_session));
    for (uint32_t c = 0; c < KVT_PRED_CLASSES; c++) {
        kvt_dlist_init(&p->lists[c]);
    }
    kvt_pred_init(&p->own, NULL);
    if (cfg->upper != NULL) {
        const predictive_t *up = cfg->upper;
        p->top = up->top != NULL ? up->top : up;
        p->pred = up->pred;
    } else {
        p->pred = &p->own;
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
    free(p->cls);
    free(p->list_of);
    free(p->last_us);
    free(p->pf_us);
    free(p->reuses);
    free(p->first_session);
    free(p->shared);
    free(p->sess_depth);
    free(p->admit_us);
    free(p->ring);
    free(p->pending);
    free(p);
}

/* Blocks idle past the horizon are failures of their class. */
static void expire(predictive_t *p, uint64_t now)
{
    while (p->ring_len > 0) {
        expiry_t *e = &p->ring[p->ring_head];
        if (e->t_us + HORIZON_US > now) {
            break;
        }
        if (p->last_us[e->block] == e->t_us && p->cls[e->block] != NO_CLASS) {
            kvt_pred_expired(p->pred, p->cls[e->block]);
            p->cls[e->block] = NO_CLASS;
        }
        p->ring_head = (p->ring_head + 1) % p->ring_cap;
        p->ring_len--;
    }
}

/* First access of a request: its session's depth, and expiries up to its arrival. */
static void begin_request(predictive_t *p, const kvt_access_t *a)
{
    p->cur_req = a->req;
    p->cursor = KVT_DL_NIL;
    if (a->session >= p->nsessions) {
        uint64_t n = p->nsessions ? p->nsessions : 1024;
        while (n <= a->session) {
            n *= 2;
        }
        uint32_t *d = realloc(p->sess_depth, n * sizeof(*d));
        if (d != NULL) {
            memset(d + p->nsessions, 0, (n - p->nsessions) * sizeof(*d));
            p->sess_depth = d;
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
    }
    p->npending = 0;
    expire(p, a->t_us);
}

/* A lower tier's view of a block: the class the top tier gave it at its last access. */
static uint16_t class_from_top(const predictive_t *p, const kvt_access_t *a)
{
    uint16_t c = p->top->cls[a->block];
    return c != NO_CLASS ? c
                         : kvt_pred_class(a->block_type == KVT_BLOCK_SYSTEM, KVT_TRANS_NEXT_TURN,
                                          false, 0, 1, 0);
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
            p->pending[p->npending++] = (reuse_t){p->cls[b], a->t_us - p->last_us[b]};
        }
    }
    if (p->first_session[b] == UINT32_MAX) {
        p->first_session[b] = a->session;
    }
    p->shared[b] |= a->block_type == KVT_BLOCK_SYSTEM || p->first_session[b] != a->session;
    uint16_t c = kvt_pred_class(p->shared[b], a->transition, a->partial, p->cur_depth,
                                a->chain_len, p->reuses[b]);
    if (p->reuses[b] < UINT8_MAX) {
        p->reuses[b]++;
    }
    p->cls[b] = c;
    p->last_us[b] = a->t_us;
    if (p->ring_len == p->ring_cap && grow_ring(p) != KVT_OK) {
        /* no memory for the expiry record: the block simply never expires as a failure */
        return c;
    }
    p->ring[(p->ring_head + p->ring_len++) % p->ring_cap] = (expiry_t){b, a->t_us};
    return c;
}

static void list_remove(predictive_t *p, uint32_t b)
{
    uint16_t c = p->list_of[b];
    kvt_dlist_remove(&p->lists[c], &p->links, b);
    if (p->lists[c].size == 0) {
        uint16_t last = p->active[--p->nactive];
        p->active[p->active_pos[c]] = last;
        p->active_pos[last] = p->active_pos[c];
    }
}

/* Put a resident block in its class list: shallower blocks of a request stay more recent. */
static void place(predictive_t *p, uint32_t b, uint16_t c)
{
    kvt_dlist_t *l = &p->lists[c];
    if (l->size == 0) {
        p->active_pos[c] = (uint16_t)p->nactive;
        p->active[p->nactive++] = c;
    }
    if (p->cursor != KVT_DL_NIL && p->list_of[p->cursor] == c) {
        kvt_dlist_insert_after(l, &p->links, p->cursor, b);
    } else {
        kvt_dlist_push_head(l, &p->links, b);
    }
    p->list_of[b] = c;
    p->cursor = b;
}

/* The clock a resident block's idle time runs from: its last access, or a later prefetch (a
 * prefetched block is predicted to be used soon: its value restarts as if just accessed; the
 * predictor's gaps still run from the last access). */
static uint64_t since(const predictive_t *p, uint32_t b)
{
    return p->pf_us[b] > p->last_us[b] ? p->pf_us[b] : p->last_us[b];
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

/* The resident block of least value: the oldest of each class competes. */
static uint32_t weakest(predictive_t *p, uint64_t now, double *value_p)
{
    uint32_t best = KVT_NO_BLOCK;
    double best_v = 0;
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
    if (p->cursor == a->block) {
        p->cursor = KVT_DL_NIL; /* a chain naming one block twice: do not place it after itself */
    }
    list_remove(p, a->block);
    place(p, a->block, observe(p, a));
}

static uint32_t pv_miss(void *ctx, const kvt_access_t *a, bool full)
{
    predictive_t *p = ctx;
    uint16_t c;
    uint32_t cursor = p->cursor;
    if (!a->demoted && !a->prefetch) {
        c = observe(p, a);
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
                                 0, 1, 0);
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
        list_remove(p, victim);
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
    place(p, a->block, c);
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
        c = kvt_pred_class(top->shared[block], KVT_TRANS_NEXT_TURN, false, 0, 1, 0);
    }
    return kvt_pred_p_reuse(p->pred, c);
}

const kvt_policy_ops_t kvt_policy_predictive = {
    .name = "predictive",
    .summary = "Bayesian reuse classes, evict the least hit density (no future knowledge)",
    .flags = KVT_POLICY_PREFETCH,
    .create = pv_create,
    .destroy = pv_destroy,
    .hit = pv_hit,
    .miss = pv_miss,
};
