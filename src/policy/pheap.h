/*
 * Internal: a max-heap of (priority, block) with lazy deletion, for priority-ordered policies.
 *
 * Each block has at most one live entry: the one whose priority equals prio[block]; changing a
 * block's priority pushes a new entry and leaves the old one stale. Priority 0 means "not in the
 * heap". The heap is sized at twice the number of blocks it may hold live plus slack and rebuilt
 * from its live entries when full, so it never reallocates: 16 bytes per entry, 8 per block.
 */
#ifndef KVT_POLICY_PHEAP_H
#define KVT_POLICY_PHEAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct kvt_pheap_entry {
    uint64_t prio;
    uint32_t block;
} kvt_pheap_entry_t;

typedef struct kvt_pheap {
    kvt_pheap_entry_t *h;
    uint64_t n, cap;
    uint64_t *prio; /* per block id */
} kvt_pheap_t;

/* max_live: the most blocks live at once (+1 for an incoming one is included in the slack). */
static inline bool kvt_pheap_init(kvt_pheap_t *q, uint64_t nblocks, uint64_t max_live)
{
    q->n = 0;
    q->cap = 2 * max_live + 128;
    q->h = malloc(q->cap * sizeof(*q->h));
    q->prio = calloc(nblocks ? nblocks : 1, sizeof(*q->prio));
    return q->h != NULL && q->prio != NULL;
}

static inline void kvt_pheap_fini(kvt_pheap_t *q)
{
    free(q->h);
    free(q->prio);
}

static inline void kvt_pheap_sift_up_(kvt_pheap_entry_t *h, uint64_t i)
{
    kvt_pheap_entry_t e = h[i];
    while (i > 0) {
        uint64_t p = (i - 1) / 2;
        if (h[p].prio >= e.prio) {
            break;
        }
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static inline void kvt_pheap_sift_down_(kvt_pheap_entry_t *h, uint64_t n, uint64_t i)
{
    kvt_pheap_entry_t e = h[i];
    for (;;) {
        uint64_t c = 2 * i + 1;
        if (c >= n) {
            break;
        }
        if (c + 1 < n && h[c + 1].prio > h[c].prio) {
            c++;
        }
        if (h[c].prio <= e.prio) {
            break;
        }
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

static inline void kvt_pheap_compact_(kvt_pheap_t *q)
{
    uint64_t k = 0;
    for (uint64_t i = 0; i < q->n; i++) {
        if (q->prio[q->h[i].block] == q->h[i].prio) {
            q->h[k++] = q->h[i];
        }
    }
    q->n = k;
    for (uint64_t i = q->n / 2; i-- > 0;) {
        kvt_pheap_sift_down_(q->h, q->n, i);
    }
}

/* Set block's priority (> 0), replacing any earlier one. */
static inline void kvt_pheap_set(kvt_pheap_t *q, uint32_t block, uint64_t prio)
{
    if (q->n == q->cap) {
        kvt_pheap_compact_(q);
    }
    q->prio[block] = prio;
    q->h[q->n] = (kvt_pheap_entry_t){prio, block};
    kvt_pheap_sift_up_(q->h, q->n++);
}

/* Remove block (its entry goes stale). */
static inline void kvt_pheap_remove(kvt_pheap_t *q, uint32_t block)
{
    q->prio[block] = 0;
}

/* Remove and return the live block of highest priority, UINT32_MAX if none. */
static inline uint32_t kvt_pheap_pop(kvt_pheap_t *q)
{
    while (q->n > 0) {
        kvt_pheap_entry_t top = q->h[0];
        q->h[0] = q->h[--q->n];
        if (q->n > 0) {
            kvt_pheap_sift_down_(q->h, q->n, 0);
        }
        if (q->prio[top.block] == top.prio) {
            q->prio[top.block] = 0;
            return top.block;
        }
    }
    return UINT32_MAX;
}

#endif
