/*
 * bench_replay: replay speed on a generated trace of 100 million block references.
 *
 * Figures (issue 3's targets in brackets): generation time; LRU and Belady block references per
 * second [20 M/s, 5 M/s]; the whole run -- generate and replay 100 M references -- [< 15 s]; and
 * resident memory per distinct block. The peer is the plain reference replay any engine would
 * write first: an LRU keyed by 64-bit block hashes in an open-addressing table with a linked
 * list, measured on the same references in the same run, with the ratio beside it. Results for
 * the same trace must agree exactly (hit tokens), which the bench checks.
 *
 * Each replay's own memory is its peak resident set above what was resident before it (Linux:
 * the peak is reset through /proc/self/clear_refs before each run and read back as VmHWM), so a
 * policy's metadata is seen apart from the trace's and from the other policies'; predictive's
 * beyond LRU's is its own per-block state (the engine's is the same under both).
 */
#include <kvtier/kvtier.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"

/* A field of /proc/self/status in bytes (-1: unknown). */
static double status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(field);
    double v = -1;
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtod(line + n + 1, NULL) * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

/* The process's peak resident set, across the resets below. */
static double peak_seen;

/* Reset the peak resident set to the current one (Linux >= 4.0), noting the peak so far. Free
 * heap pages are handed back first: a replay reusing pages an earlier one left resident would
 * not raise the peak. */
static bool reset_peak(void)
{
    double hwm = status_bytes("VmHWM");
    peak_seen = hwm > peak_seen ? hwm : peak_seen;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL) {
        return false;
    }
    bool ok = fputs("5", f) >= 0;
    ok &= fclose(f) == 0;
    return ok;
}

/* --- the reference: hash map of 64-bit keys -> node, doubly linked LRU list ----------------- */
typedef struct node {
    uint64_t key;
    uint32_t prev, next;
} node_t;

typedef struct ref_lru {
    uint32_t *slots; /* node index + 1, 0 = empty */
    uint64_t mask;
    node_t *nodes;
    uint32_t *free_list;
    uint64_t nfree, used, cap;
    uint32_t head, tail; /* head = most recent */
} ref_lru_t;

#define NIL UINT32_MAX

static uint64_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* The slot holding key, or the empty slot where it would go. */
static void find_slot(const ref_lru_t *c, uint64_t key, uint64_t *pos_p)
{
    uint64_t i = hash64(key) & c->mask;
    while (c->slots[i] != 0 && c->nodes[c->slots[i] - 1].key != key) {
        i = (i + 1) & c->mask;
    }
    *pos_p = i;
}

/* backward-shift deletion keeps linear probing correct without tombstones */
static void erase_slot(ref_lru_t *c, uint64_t i)
{
    uint64_t j = i;
    c->slots[i] = 0;
    for (;;) {
        j = (j + 1) & c->mask;
        if (c->slots[j] == 0) {
            return;
        }
        uint64_t k = hash64(c->nodes[c->slots[j] - 1].key) & c->mask;
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            c->slots[i] = c->slots[j];
            c->slots[j] = 0;
            i = j;
        }
    }
}

static void unlink_node(ref_lru_t *c, uint32_t n)
{
    node_t *x = &c->nodes[n];
    if (x->prev != NIL) {
        c->nodes[x->prev].next = x->next;
    } else {
        c->head = x->next;
    }
    if (x->next != NIL) {
        c->nodes[x->next].prev = x->prev;
    } else {
        c->tail = x->prev;
    }
}

static void push_front(ref_lru_t *c, uint32_t n)
{
    c->nodes[n].prev = NIL;
    c->nodes[n].next = c->head;
    if (c->head != NIL) {
        c->nodes[c->head].prev = n;
    } else {
        c->tail = n;
    }
    c->head = n;
}

static uint64_t ref_replay(const kvt_trace_t *t, uint64_t cap_blocks)
{
    const kvt_trace_info_t *in = kvt_trace_info(t);
    const kvt_trace_request_t *reqs = kvt_trace_requests(t);
    const uint32_t *refs = kvt_trace_refs(t);
    ref_lru_t c = {0};
    uint64_t size = 1;
    while (size < 2 * cap_blocks + 2) {
        size *= 2;
    }
    c.slots = calloc(size, sizeof(*c.slots));
    c.mask = size - 1;
    c.nodes = malloc((cap_blocks + 1) * sizeof(*c.nodes));
    c.head = c.tail = NIL;
    c.cap = cap_blocks;
    uint64_t hit = 0;
    for (uint64_t r = 0; r < in->requests; r++) {
        const kvt_trace_request_t *q = &reqs[r];
        const uint32_t *ch = refs + q->first_ref;
        uint32_t k = 0;
        uint64_t pos;
        /* keys: the block ids scrambled, as an engine would see 64-bit hashes */
        while (k < q->nblocks) {
            find_slot(&c, hash64(ch[k] + 1), &pos);
            if (c.slots[pos] == 0) {
                break;
            }
            k++;
        }
        hit += k == q->nblocks ? q->input_tokens : (uint64_t)k * in->block_tokens;
        for (uint32_t p = 0; p < q->nblocks; p++) {
            uint64_t key = hash64(ch[p] + 1);
            find_slot(&c, key, &pos);
            if (c.slots[pos] != 0) {
                uint32_t n = c.slots[pos] - 1;
                unlink_node(&c, n);
                push_front(&c, n);
                continue;
            }
            uint32_t n;
            if (c.used == c.cap) {
                n = c.tail;
                unlink_node(&c, n);
                uint64_t vpos;
                find_slot(&c, c.nodes[n].key, &vpos);
                erase_slot(&c, vpos);
                find_slot(&c, key, &pos); /* the shift may have moved the probe path */
            } else {
                n = (uint32_t)c.used++;
            }
            c.nodes[n].key = key;
            c.slots[pos] = n + 1;
            push_front(&c, n);
        }
    }
    free(c.slots);
    free(c.nodes);
    return hit;
}

int main(int argc, char **argv)
{
    uint64_t target = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000000ull;
    kvt_gen_opts_t g;
    kvt_trace_t *t;
    kvt_error_t err;

    kvt_gen_opts_init(&g);
    g.sessions = UINT32_MAX;
    g.max_refs = target;
    double t0 = now();
    if (kvt_trace_generate(&g, &t, &err) != KVT_OK) {
        fprintf(stderr, "bench_replay: %s\n", err.message);
        return 1;
    }
    double gen_s = now() - t0;
    const kvt_trace_info_t *in = kvt_trace_info(t);
    uint64_t cap = in->blocks * in->block_tokens / 20; /* 5% of the distinct tokens */

    printf("bench_replay: generated trace (mix, seed 1): %llu requests, %llu block references, "
           "%llu distinct blocks, in %.2f s\n",
           (unsigned long long)in->requests, (unsigned long long)in->refs,
           (unsigned long long)in->blocks, gen_s);
    printf("  cache: %llu tokens (5%% of the distinct tokens)\n\n", (unsigned long long)cap);
    printf("  %-40s %10s %14s %12s %12s\n", "replay", "seconds", "refs/s", "token hits",
           "own B/block");

    double ref_t0 = now();
    uint64_t ref_hits = ref_replay(t, cap / in->block_tokens);
    double ref_s = now() - ref_t0;
    printf("  %-40s %10.2f %12.1f M %11.2f%%\n", "peer: reference LRU (hash map + list)", ref_s,
           in->refs / ref_s / 1e6, 100.0 * ref_hits / in->input_tokens);

    const char *pols[] = {"lru", "belady", "predictive"};
    double lru_s = 0, own[3] = {-1, -1, -1};
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        kvt_replay_opts_t o;
        kvt_replay_result_t r;
        kvt_replay_opts_init(&o);
        o.policy = pols[i];
        o.capacity_tokens = cap;
        bool peak = reset_peak();
        double rss0 = status_bytes("VmRSS");
        double s0 = now();
        if (kvt_replay_run(t, &o, &r, &err) != KVT_OK) {
            fprintf(stderr, "bench_replay: %s\n", err.message);
            return 1;
        }
        double s = now() - s0;
        double hwm = status_bytes("VmHWM");
        if (peak && rss0 >= 0 && hwm >= rss0) {
            own[i] = (hwm - rss0) / in->blocks;
        }
        if (i == 0) {
            lru_s = s;
        }
        char label[64];
        snprintf(label, sizeof(label), "kvtier %s", pols[i]);
        printf("  %-40s %10.2f %12.1f M %11.2f%%", label, s, in->refs / s / 1e6,
               100 * r.token_hit_rate);
        if (own[i] >= 0) {
            printf(" %10.1f B", own[i]);
        } else {
            printf(" %12s", "?");
        }
        if (i == 0) {
            printf("   %.1fx the reference%s", ref_s / s,
                   r.hit_tokens == ref_hits ? ", same hits" : ", HITS DIFFER");
            rc |= r.hit_tokens != ref_hits;
        }
        printf("\n");
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss * 1024;
    double hwm = status_bytes("VmHWM");
    rss = peak_seen > rss ? peak_seen : rss;
    rss = hwm > rss ? hwm : rss;
    printf("\n  generate + LRU replay of %.0f M references: %.2f s (target < 15 s)\n",
           in->refs / 1e6, gen_s + lru_s);
    printf("  peak RSS %.0f MiB: %.1f B per distinct block beyond the trace's 4 B per reference "
           "and Belady's 8 B next-use per reference (target < 64)\n",
           rss / (1 << 20), (rss - 12.0 * in->refs) / in->blocks);
    if (own[0] >= 0 && own[2] >= 0) {
        printf("  predictive's own state beyond LRU's: %.1f B per distinct block (its peak resident "
               "set during the replay, less LRU's)\n",
               own[2] - own[0]);
    }
    kvt_trace_destroy(t);
    return rc;
}
