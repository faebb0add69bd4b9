/*
 * The memory arena behind the DRAM and CXL tiers: one mapping, slabs, size classes.
 *
 * Mapping. The whole capacity is one anonymous mapping made at open: MAP_HUGETLB 2 MiB pages when
 * asked for and the kernel has enough reserved, else ordinary pages on a 2 MiB-aligned range with
 * madvise(MADV_HUGEPAGE) so transparent huge pages can back it. One contiguous range is what a GPU
 * path registers once with cudaHostRegister (kvt_arena_regions). For a CXL tier the range is
 * mbind()-ed to its node before any page is touched, so every page is allocated there; hugetlbfs
 * pages are then used only if that node's own pool has enough free (the kernel's reservation is
 * machine-wide, and a bound fault on an empty node pool is a SIGBUS). Pages are faulted lazily, by
 * the first put into each one, not with MAP_POPULATE: pre-faulting a 1 TiB tier would take minutes
 * at open and commit memory the tier may never use, and an mbind must precede the first touch
 * anyway. The cost is paid once per page (measured: the first put into fresh pages ran at 40-50 %
 * of the steady rate with THP, under 20 % with 4 KiB pages); freed slots keep their pages, so the
 * steady state pays nothing. kvt_arena_prefault() faults everything in for a caller that wants the
 * cost up front (a GPU path pins all of it anyway).
 *
 * Slabs and size classes. The arena is cut into equal slabs, each a whole multiple of the largest
 * slot (the largest payload, rounded to 4 KiB) and at least 2 MiB, so slots of the largest size --
 * the full KV blocks that dominate a tier -- tile their slabs with no waste. A slab serves one
 * size class at a time. Classes are 4, 8, 12, 16 KiB, then four per doubling (x1.25, x1.5, x1.75,
 * x2): a record above 16 KiB wastes at most 20 % of its slot to rounding, slots stay 4 KiB aligned
 * for DMA, and lookup is a binary search over fewer than 110 classes (44 for the default 16 MiB
 * largest payload). A slab whose last slot is freed goes back to the free-slab list and can serve
 * any class: sizes that change over time do not strand memory in a class, short of slabs kept
 * half-used by a few live slots (a slab allocator's known weakness; with KV blocks nearly all of
 * one size, the full-block class and the partial-last-block classes, it stays small). A class
 * above half a slab also leaves the slab's tail unused (a 9 MiB partial block takes a 16 MiB slab
 * of the default geometry). Larger slabs would waste less there but strand more per class; slabs
 * of about one largest slot bound the stranded memory to one slab per class in use.
 *
 * Locks. Each size class has its own mutex (its list of slabs with free slots, and their free slot
 * stacks); the free-slab list has one more, taken only when a class needs a fresh slab or gives an
 * empty one back -- once per slab, not per slot. Bookkeeping lives beside the slab, never in the
 * arena's memory: allocating touches no page and no remote (CXL) cache line.
 *
 * Pins. A reader copies out of a slot without holding any lock for the copy, so removal must not
 * hand the slot to another writer mid-copy. Each slot has an atomic word: pins in the low bits and
 * a RELEASED flag. The owner's release sets the flag and frees the slot if there was no pin;
 * otherwise the unpin that drops the last pin of a released slot frees it. Exactly one of the two
 * sees (released, no pins), so the slot is freed once.
 */
#include "tier/arena.h"

#include "common/error.h"

#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE_BYTES  4096ull
#define HUGE_BYTES  (2ull << 20)
#define MIN_SLAB    HUGE_BYTES
#define MAX_CLASSES 128
#define MAX_SLOT    (1ull << 40)
#define RELEASED    0x80000000u

typedef struct slab {
    int cls; /* size class, -1 while on the free-slab list */
    uint32_t nslots, nfree;
    uint32_t *stack;          /* free slot indices [0, nfree) */
    _Atomic uint32_t *state;  /* per slot: pin count | RELEASED */
    struct slab *prev, *next; /* the class's slabs with free slots */
    bool listed;
} slab_t;

typedef struct size_class {
    _Alignas(64) pthread_mutex_t lock; /* one cache line per class: no false sharing */
    uint64_t bytes;
    slab_t *partial;
} size_class_t;

struct kvt_arena {
    uint8_t *base;
    size_t map_len;
    bool hugetlb;
    uint64_t slab_bytes, nslabs;
    unsigned nclasses;
    slab_t *slabs;
    pthread_mutex_t pool_lock;
    uint64_t *pool; /* free slab indices, [0, npool) */
    uint64_t npool;
    char pages[192];
    size_class_t cls[MAX_CLASSES];
};

static uint64_t round_up(uint64_t x, uint64_t to)
{
    return (x + to - 1) / to * to;
}

/* 4, 8, 12, 16 KiB, then x1.25, x1.5, x1.75, x2 per doubling, up to and ending at max. */
static unsigned make_classes(kvt_arena_t *a, uint64_t max)
{
    unsigned n = 0;
    for (uint64_t s = PAGE_BYTES; s <= 4 * PAGE_BYTES && s < max; s += PAGE_BYTES) {
        a->cls[n++].bytes = s;
    }
    for (uint64_t base = 4 * PAGE_BYTES; n < MAX_CLASSES - 1; base *= 2) {
        uint64_t s = 0;
        for (uint64_t q = 5; q <= 8 && n < MAX_CLASSES - 1; q++) {
            s = base * q / 4;
            if (s >= max) {
                break;
            }
            a->cls[n++].bytes = s;
        }
        if (s >= max) {
            break;
        }
    }
    a->cls[n++].bytes = max;
    return n;
}

static int class_of(const kvt_arena_t *a, uint64_t bytes)
{
    unsigned lo = 0, hi = a->nclasses; /* first class with bytes >= bytes */
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (a->cls[mid].bytes < bytes) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < a->nclasses ? (int)lo : -1;
}

/* Why MAP_HUGETLB failed, from /proc/meminfo. */
static void hugetlb_reason(size_t len, int errnum, char *out, size_t out_len)
{
    FILE *f = fopen("/proc/meminfo", "r");
    unsigned long long total = 0, free_pages = 0;
    bool seen = false;
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof(line), f) != NULL) {
            seen |= sscanf(line, "HugePages_Total: %llu", &total) == 1;
            (void)sscanf(line, "HugePages_Free: %llu", &free_pages);
        }
        fclose(f);
    }
    if (seen && total == 0) {
        snprintf(out, out_len, "no hugetlbfs pages reserved");
    } else if (seen) {
        snprintf(out, out_len, "%llu hugetlbfs pages free, %zu needed", free_pages,
                 (size_t)(len / HUGE_BYTES));
    } else {
        snprintf(out, out_len, "MAP_HUGETLB: %s", strerror(errnum ? errnum : ENOMEM));
    }
}

/* Free 2 MiB hugetlbfs pages in node's own pool (0 if unknown). */
static unsigned long long node_free_hugepages(int node)
{
    char path[128];
    snprintf(path, sizeof(path),
             "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/free_hugepages", node);
    FILE *f = fopen(path, "r");
    unsigned long long n = 0;
    if (f != NULL) {
        if (fscanf(f, "%llu", &n) != 1) {
            n = 0;
        }
        fclose(f);
    }
    return n;
}

static bool thp_disabled(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f == NULL) {
        return false;
    }
    char line[128] = "";
    bool never = fgets(line, sizeof(line), f) != NULL && strstr(line, "[never]") != NULL;
    fclose(f);
    return never;
}

static kvt_status_t map_arena(kvt_arena_t *a, uint64_t bytes, const kvt_arena_opts_t *o,
                              kvt_error_t *err)
{
    size_t len = (size_t)round_up(bytes, HUGE_BYTES);
    char why[128] = "huge pages not asked for";
    unsigned long long node_free = 0;
    if (o->hugepages && o->numa_node >= 0 &&
        (node_free = node_free_hugepages(o->numa_node)) < len / HUGE_BYTES) {
        /* the kernel reserves hugetlbfs pages machine-wide, not per node: with too few on the
           bound node a page fault would SIGBUS, so do not try */
        hugetlb_reason(len, 0, why, sizeof(why));
        if (strcmp(why, "no hugetlbfs pages reserved") != 0) {
            snprintf(why, sizeof(why), "node %d has %llu free hugetlbfs pages, %zu needed",
                     o->numa_node, node_free, (size_t)(len / HUGE_BYTES));
        }
    } else if (o->hugepages) {
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
                       -1, 0);
        if (p != MAP_FAILED) {
            a->base = p;
            a->map_len = len;
            a->hugetlb = true;
            snprintf(a->pages, sizeof(a->pages), "2 MiB huge pages");
            return KVT_OK;
        }
        hugetlb_reason(len, errno, why, sizeof(why));
    }
    /* over-map by 2 MiB and trim, so the range is 2 MiB aligned and THP can back all of it */
    uint8_t *raw =
        mmap(NULL, len + HUGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        return kvt_error_set(err, errno == ENOMEM ? KVT_ERR_NO_MEMORY : KVT_ERR_IO,
                             "cannot map %zu bytes: %s", len, strerror(errno));
    }
    uint8_t *p = (uint8_t *)round_up((uintptr_t)raw, HUGE_BYTES);
    if (p > raw) {
        munmap(raw, (size_t)(p - raw));
    }
    if (raw + len + HUGE_BYTES > p + len) {
        munmap(p + len, (size_t)(raw + len + HUGE_BYTES - (p + len)));
    }
    a->base = p;
    a->map_len = len;
    const char *thp = "";
    if (o->hugepages) {
        thp = thp_disabled()                        ? ", THP disabled by the kernel"
              : madvise(p, len, MADV_HUGEPAGE) == 0 ? ", THP advised"
                                                    : ", THP not available";
    }
    snprintf(a->pages, sizeof(a->pages), "4 KiB pages (%s)%s", why, thp);
    return KVT_OK;
}

static kvt_status_t bind_node(kvt_arena_t *a, int node, kvt_error_t *err)
{
    struct bitmask *mask = numa_allocate_nodemask();
    if (mask == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "NUMA node %d: out of memory", node);
    }
    kvt_status_t st = KVT_OK;
    if ((unsigned long)node >= mask->size) {
        st = kvt_error_set(err, KVT_ERR_INVALID, "NUMA node %d is beyond this kernel's %lu", node,
                           mask->size);
    } else {
        numa_bitmask_setbit(mask, (unsigned)node);
        if (mbind(a->base, a->map_len, MPOL_BIND, mask->maskp, mask->size + 1, 0) != 0) {
            st = kvt_error_set(err, errno == EINVAL ? KVT_ERR_INVALID : KVT_ERR_UNAVAILABLE,
                               "cannot bind %zu bytes to NUMA node %d (mbind): %s", a->map_len,
                               node, strerror(errno));
        }
    }
    numa_free_nodemask(mask);
    return st;
}

kvt_status_t kvt_arena_create(const kvt_arena_opts_t *o, kvt_arena_t **arena_p, kvt_error_t *err)
{
    if (o->max_slot_bytes == 0 || o->max_slot_bytes > MAX_SLOT || o->capacity_bytes == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "arena: largest slot must be 1 B..1 TiB and capacity non-zero");
    }
    uint64_t max_class = round_up(o->max_slot_bytes, PAGE_BYTES);
    uint64_t slab_bytes = max_class * ((MIN_SLAB + max_class - 1) / max_class);
    uint64_t nslabs = o->capacity_bytes / slab_bytes;
    nslabs = nslabs ? nslabs : 1;
    if (nslabs > UINT32_MAX || nslabs > SIZE_MAX / 2 / slab_bytes) {
        return kvt_error_set(err, KVT_ERR_OVERFLOW, "arena: capacity %" PRIu64 " B too large",
                             o->capacity_bytes);
    }
    kvt_arena_t *a = aligned_alloc(64, sizeof(*a));
    if (a == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "arena: out of memory");
    }
    memset(a, 0, sizeof(*a));
    a->slab_bytes = slab_bytes;
    a->nslabs = nslabs;
    a->nclasses = make_classes(a, max_class);
    a->slabs = calloc(nslabs, sizeof(*a->slabs));
    a->pool = malloc(nslabs * sizeof(*a->pool));
    if (a->slabs == NULL || a->pool == NULL) {
        free(a->slabs);
        free(a->pool);
        free(a);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "arena: out of memory for %" PRIu64 " slabs",
                             nslabs);
    }
    for (uint64_t i = 0; i < nslabs; i++) {
        a->slabs[i].cls = -1;
        a->pool[i] = nslabs - 1 - i; /* slab 0 is taken first */
    }
    a->npool = nslabs;
    kvt_status_t st = map_arena(a, nslabs * slab_bytes, o, err);
    if (st == KVT_OK && o->numa_node >= 0) {
        st = bind_node(a, o->numa_node, err);
        if (st != KVT_OK) {
            munmap(a->base, a->map_len);
        }
    }
    if (st != KVT_OK) {
        free(a->slabs);
        free(a->pool);
        free(a);
        return st;
    }
    pthread_mutex_init(&a->pool_lock, NULL);
    for (unsigned c = 0; c < a->nclasses; c++) {
        pthread_mutex_init(&a->cls[c].lock, NULL);
    }
    *arena_p = a;
    return KVT_OK;
}

void kvt_arena_destroy(kvt_arena_t *a)
{
    if (a == NULL) {
        return;
    }
    munmap(a->base, a->map_len);
    for (uint64_t i = 0; i < a->nslabs; i++) {
        free(a->slabs[i].stack);
        free((void *)a->slabs[i].state);
    }
    for (unsigned c = 0; c < a->nclasses; c++) {
        pthread_mutex_destroy(&a->cls[c].lock);
    }
    pthread_mutex_destroy(&a->pool_lock);
    free(a->slabs);
    free(a->pool);
    free(a);
}

const char *kvt_arena_pages(const kvt_arena_t *a)
{
    return a->pages;
}

static void link_slab(size_class_t *c, slab_t *s)
{
    s->prev = NULL;
    s->next = c->partial;
    if (c->partial != NULL) {
        c->partial->prev = s;
    }
    c->partial = s;
    s->listed = true;
}

static void unlink_slab(size_class_t *c, slab_t *s)
{
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        c->partial = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    s->prev = s->next = NULL;
    s->listed = false;
}

/* A free slab given to class ci (class lock held): NO_SPACE when there is none. */
static kvt_status_t take_slab(kvt_arena_t *a, int ci)
{
    pthread_mutex_lock(&a->pool_lock);
    if (a->npool == 0) {
        pthread_mutex_unlock(&a->pool_lock);
        return KVT_ERR_NO_SPACE;
    }
    uint64_t si = a->pool[--a->npool];
    pthread_mutex_unlock(&a->pool_lock);

    slab_t *s = &a->slabs[si];
    uint32_t n = (uint32_t)(a->slab_bytes / a->cls[ci].bytes);
    s->stack = malloc(n * sizeof(*s->stack));
    s->state = calloc(n, sizeof(*s->state));
    if (s->stack == NULL || s->state == NULL) {
        free(s->stack);
        free((void *)s->state);
        s->stack = NULL;
        s->state = NULL;
        pthread_mutex_lock(&a->pool_lock);
        a->pool[a->npool++] = si;
        pthread_mutex_unlock(&a->pool_lock);
        return KVT_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < n; i++) {
        s->stack[i] = n - 1 - i; /* lowest address first */
    }
    s->cls = ci;
    s->nslots = s->nfree = n;
    link_slab(&a->cls[ci], s);
    return KVT_OK;
}

kvt_status_t kvt_arena_alloc(kvt_arena_t *a, uint64_t bytes, uint64_t *off_p)
{
    int ci = class_of(a, bytes ? bytes : 1);
    if (ci < 0) {
        return KVT_ERR_DOES_NOT_FIT;
    }
    size_class_t *c = &a->cls[ci];
    pthread_mutex_lock(&c->lock);
    if (c->partial == NULL) {
        kvt_status_t st = take_slab(a, ci);
        if (st != KVT_OK) {
            pthread_mutex_unlock(&c->lock);
            return st;
        }
    }
    slab_t *s = c->partial;
    uint32_t idx = s->stack[--s->nfree];
    if (s->nfree == 0) {
        unlink_slab(c, s);
    }
    pthread_mutex_unlock(&c->lock);
    *off_p = (uint64_t)(s - a->slabs) * a->slab_bytes + idx * c->bytes;
    return KVT_OK;
}

/* The slab and slot index of a live slot: its class cannot change while it is allocated. */
static slab_t *slot_of(const kvt_arena_t *a, uint64_t off, uint32_t *idx_p)
{
    slab_t *s = &a->slabs[off / a->slab_bytes];
    *idx_p = (uint32_t)(off % a->slab_bytes / a->cls[s->cls].bytes);
    return s;
}

static void free_slot(kvt_arena_t *a, slab_t *s, uint32_t idx)
{
    size_class_t *c = &a->cls[s->cls];
    pthread_mutex_lock(&c->lock);
    atomic_store(&s->state[idx], 0);
    s->stack[s->nfree++] = idx;
    if (!s->listed) {
        link_slab(c, s);
    }
    if (s->nfree == s->nslots) { /* empty: back to the free-slab list for any class */
        unlink_slab(c, s);
        free(s->stack);
        free((void *)s->state);
        s->stack = NULL;
        s->state = NULL;
        s->cls = -1;
        s->nslots = s->nfree = 0;
        pthread_mutex_lock(&a->pool_lock);
        a->pool[a->npool++] = (uint64_t)(s - a->slabs);
        pthread_mutex_unlock(&a->pool_lock);
    }
    pthread_mutex_unlock(&c->lock);
}

void kvt_arena_release(kvt_arena_t *a, uint64_t off)
{
    uint32_t idx;
    slab_t *s = slot_of(a, off, &idx);
    uint32_t old = atomic_fetch_or(&s->state[idx], RELEASED);
    if ((old & ~RELEASED) == 0) {
        free_slot(a, s, idx);
    }
}

void kvt_arena_pin(kvt_arena_t *a, uint64_t off)
{
    uint32_t idx;
    slab_t *s = slot_of(a, off, &idx);
    atomic_fetch_add(&s->state[idx], 1);
}

void kvt_arena_unpin(kvt_arena_t *a, uint64_t off)
{
    uint32_t idx;
    slab_t *s = slot_of(a, off, &idx);
    if (atomic_fetch_sub(&s->state[idx], 1) == (RELEASED | 1)) {
        free_slot(a, s, idx);
    }
}

void *kvt_arena_ptr(const kvt_arena_t *a, uint64_t off)
{
    return a->base + off;
}

uint64_t kvt_arena_class_bytes(const kvt_arena_t *a, uint64_t bytes)
{
    int ci = class_of(a, bytes ? bytes : 1);
    return ci < 0 ? 0 : a->cls[ci].bytes;
}

size_t kvt_arena_regions(const kvt_arena_t *a, kvt_arena_region_t *out, size_t max)
{
    if (max >= 1) {
        out[0].base = a->base;
        out[0].len = a->map_len;
    }
    return 1;
}

kvt_status_t kvt_arena_prefault(kvt_arena_t *a)
{
    if (madvise(a->base, a->map_len, MADV_POPULATE_WRITE) == 0) {
        return KVT_OK;
    }
    if (errno != EINVAL) { /* EINVAL: kernel older than 5.14; anything else is a real failure */
        return errno == ENOMEM || errno == EFAULT ? KVT_ERR_NO_MEMORY : KVT_ERR_IO;
    }
    size_t step = a->hugetlb ? HUGE_BYTES : PAGE_BYTES;
    for (size_t i = 0; i < a->map_len; i += step) {
        /* an atomic add of 0 faults the page in for writing and keeps any data there */
        __atomic_fetch_add(a->base + i, 0, __ATOMIC_RELAXED);
    }
    return KVT_OK;
}

void kvt_arena_stats(kvt_arena_t *a, kvt_arena_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    for (unsigned c = 0; c < a->nclasses; c++) {
        pthread_mutex_lock(&a->cls[c].lock);
    }
    pthread_mutex_lock(&a->pool_lock);
    for (uint64_t i = 0; i < a->nslabs; i++) {
        if (a->slabs[i].cls >= 0) {
            st->slots_used += a->slabs[i].nslots - a->slabs[i].nfree;
        }
    }
    st->free_slabs = a->npool;
    pthread_mutex_unlock(&a->pool_lock);
    for (unsigned c = a->nclasses; c-- > 0;) {
        pthread_mutex_unlock(&a->cls[c].lock);
    }
    st->arena_bytes = a->nslabs * a->slab_bytes;
    st->slab_bytes = a->slab_bytes;
    st->slabs = a->nslabs;
    st->nclasses = a->nclasses;
}
