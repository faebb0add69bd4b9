/* Internal: intrusive doubly-linked lists over dense block ids (prev/next arrays). */
#ifndef KVT_POLICY_DLIST_H
#define KVT_POLICY_DLIST_H

#include <stdint.h>
#include <stdlib.h>

#define KVT_DL_NIL UINT32_MAX

/* Several lists may share one link array pair: an id is in at most one list at a time. */
typedef struct kvt_dlinks {
    uint32_t *prev, *next;
} kvt_dlinks_t;

typedef struct kvt_dlist {
    uint32_t head, tail; /* head = most recently added */
    uint64_t size;
} kvt_dlist_t;

static inline int kvt_dlinks_init(kvt_dlinks_t *l, uint64_t n)
{
    l->prev = malloc(n * sizeof(uint32_t));
    l->next = malloc(n * sizeof(uint32_t));
    return l->prev != NULL && l->next != NULL;
}

static inline void kvt_dlinks_fini(kvt_dlinks_t *l)
{
    free(l->prev);
    free(l->next);
}

static inline void kvt_dlist_init(kvt_dlist_t *d)
{
    d->head = d->tail = KVT_DL_NIL;
    d->size = 0;
}

static inline void kvt_dlist_push_head(kvt_dlist_t *d, kvt_dlinks_t *l, uint32_t id)
{
    l->prev[id] = KVT_DL_NIL;
    l->next[id] = d->head;
    if (d->head != KVT_DL_NIL) {
        l->prev[d->head] = id;
    } else {
        d->tail = id;
    }
    d->head = id;
    d->size++;
}

static inline void kvt_dlist_remove(kvt_dlist_t *d, kvt_dlinks_t *l, uint32_t id)
{
    uint32_t p = l->prev[id], n = l->next[id];
    if (p != KVT_DL_NIL) {
        l->next[p] = n;
    } else {
        d->head = n;
    }
    if (n != KVT_DL_NIL) {
        l->prev[n] = p;
    } else {
        d->tail = p;
    }
    d->size--;
}

/* Insert id right after `after` (toward the tail), which must be in d. */
static inline void kvt_dlist_insert_after(kvt_dlist_t *d, kvt_dlinks_t *l, uint32_t after,
                                          uint32_t id)
{
    uint32_t n = l->next[after];
    l->prev[id] = after;
    l->next[id] = n;
    l->next[after] = id;
    if (n != KVT_DL_NIL) {
        l->prev[n] = id;
    } else {
        d->tail = id;
    }
    d->size++;
}

/* Remove and return the tail (least recently added), KVT_DL_NIL if empty. */
static inline uint32_t kvt_dlist_pop_tail(kvt_dlist_t *d, kvt_dlinks_t *l)
{
    uint32_t id = d->tail;
    if (id != KVT_DL_NIL) {
        kvt_dlist_remove(d, l, id);
    }
    return id;
}

#endif
