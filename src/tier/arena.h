/*
 * Internal: the memory arena of the DRAM and CXL tiers -- one large mapping cut into slabs of
 * size-classed slots (arena.c explains the design). Never installed.
 *
 * A slot is named by its byte offset in the arena. Slots are released by their owner with
 * kvt_arena_release(); readers that copy out of a slot without holding the owner's lock pin it
 * first (kvt_arena_pin/unpin), and a released slot is reused only once its last pin is gone.
 */
#ifndef KVT_TIER_ARENA_H
#define KVT_TIER_ARENA_H

#include <kvtier/status.h>

typedef struct kvt_arena kvt_arena_t;

typedef struct kvt_arena_opts {
    uint64_t capacity_bytes; /* the arena holds floor(capacity / slab) slabs, at least one */
    uint64_t max_slot_bytes; /* the largest allocation (the largest payload) */
    bool hugepages;          /* try MAP_HUGETLB 2 MiB pages, else advise THP */
    int numa_node;           /* >= 0: mbind the mapping to this node before any touch */
} kvt_arena_opts_t;

/* A contiguous piece of the arena: what a GPU path registers (cudaHostRegister) once. */
typedef struct kvt_arena_region {
    void *base;
    size_t len;
} kvt_arena_region_t;

typedef struct kvt_arena_stats {
    uint64_t arena_bytes; /* slabs * slab_bytes */
    uint64_t slab_bytes;
    uint64_t slabs;
    uint64_t free_slabs; /* slabs given to no size class */
    uint64_t slots_used; /* slots allocated and not yet freed */
    unsigned nclasses;
} kvt_arena_stats_t;

/* Map the arena. *arena_p is written only on success; err says what failed (mmap, mbind). */
kvt_status_t kvt_arena_create(const kvt_arena_opts_t *opts, kvt_arena_t **arena_p,
                              kvt_error_t *err);
/* Unmap. Every slot is gone with it. NULL is a no-op. */
void kvt_arena_destroy(kvt_arena_t *arena);

/* One line: "2 MiB huge pages" or "4 KiB pages (no hugetlbfs pages reserved), THP advised". */
const char *kvt_arena_pages(const kvt_arena_t *arena);

/*
 * A slot of at least `bytes` (0 < bytes <= max_slot_bytes, else KVT_ERR_DOES_NOT_FIT):
 * KVT_ERR_NO_SPACE when its size class has no free slot and no slab is free,
 * KVT_ERR_NO_MEMORY when the slab's bookkeeping cannot be allocated. Thread-safe (one lock
 * per size class; the free-slab list has its own, taken once per slab).
 */
kvt_status_t kvt_arena_alloc(kvt_arena_t *arena, uint64_t bytes, uint64_t *off_p);
/* The owner gives the slot up: freed now, or by the last kvt_arena_unpin(). Thread-safe. */
void kvt_arena_release(kvt_arena_t *arena, uint64_t off);
/* Keep a slot from being reused while it is read. Call only while the slot is certainly not
 * released (under the lock of whoever owns it). */
void kvt_arena_pin(kvt_arena_t *arena, uint64_t off);
void kvt_arena_unpin(kvt_arena_t *arena, uint64_t off);

/* The address of a slot (arena base + off). */
void *kvt_arena_ptr(const kvt_arena_t *arena, uint64_t off);
/* The slot size `bytes` would get (its size class); 0 if it does not fit. */
uint64_t kvt_arena_class_bytes(const kvt_arena_t *arena, uint64_t bytes);

/* The arena's mappings (one today): writes up to max regions, returns how many there are. */
size_t kvt_arena_regions(const kvt_arena_t *arena, kvt_arena_region_t *out, size_t max);

/* Fault every page in now (MADV_POPULATE_WRITE, else a write per page), so later puts pay no
 * page faults; what a GPU path does before pinning. KVT_ERR_NO_MEMORY if the memory is not
 * there. */
kvt_status_t kvt_arena_prefault(kvt_arena_t *arena);

void kvt_arena_stats(kvt_arena_t *arena, kvt_arena_stats_t *stats);

#endif
