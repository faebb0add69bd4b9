/* Internal: interning of 64-bit block ids into dense 32-bit ids (open addressing). */
#ifndef KVT_INDEX_IDMAP_H
#define KVT_INDEX_IDMAP_H

#include <kvtier/status.h>

typedef struct kvt_idmap {
    uint64_t *keys;
    uint32_t *vals; /* dense id + 1; 0 = empty slot */
    size_t cap;     /* power of two */
    size_t count;
} kvt_idmap_t;

kvt_status_t kvt_idmap_init(kvt_idmap_t *m, size_t expected);
void kvt_idmap_fini(kvt_idmap_t *m);

/* The dense id of key, assigning the next one (count before the call) if new. */
kvt_status_t kvt_idmap_intern(kvt_idmap_t *m, uint64_t key, uint32_t *id_p);

/* The dense id of key if present. */
bool kvt_idmap_find(const kvt_idmap_t *m, uint64_t key, uint32_t *id_p);

#endif
