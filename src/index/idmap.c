/*
 * Interning 64-bit block identifiers into dense 32-bit ids.
 *
 * Trace block ids (Mooncake hash_ids, hashes of token chunks) are sparse 64-bit values; the replay
 * engine and its policies index plain arrays by dense ids instead, so a block's metadata is a few
 * array slots rather than a hash-table entry. Open addressing with linear probing over a
 * power-of-two table, kept at most half full; keys are mixed with splitmix64's finalizer, so
 * sequential or structured ids spread evenly. Ids are assigned in first-seen order.
 */
#include "index/idmap.h"

#include "common/mix64.h"

#include <stdlib.h>

#define MAX_IDS 0xFFFFFFF0u


static kvt_status_t alloc_table(kvt_idmap_t *m, size_t cap)
{
    m->keys = malloc(cap * sizeof(*m->keys));
    m->vals = calloc(cap, sizeof(*m->vals));
    if (m->keys == NULL || m->vals == NULL) {
        free(m->keys);
        free(m->vals);
        m->keys = NULL;
        m->vals = NULL;
        return KVT_ERR_NO_MEMORY;
    }
    m->cap = cap;
    return KVT_OK;
}

kvt_status_t kvt_idmap_init(kvt_idmap_t *m, size_t expected)
{
    size_t cap = 64;
    while (cap < expected * 2) {
        cap *= 2;
    }
    m->count = 0;
    return alloc_table(m, cap);
}

void kvt_idmap_fini(kvt_idmap_t *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->count = 0;
}

static kvt_status_t grow(kvt_idmap_t *m)
{
    kvt_idmap_t n;
    if (alloc_table(&n, m->cap * 2) != KVT_OK) {
        return KVT_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->vals[i] != 0) {
            size_t j = kvt_mix64(m->keys[i]) & (n.cap - 1);
            while (n.vals[j] != 0) {
                j = (j + 1) & (n.cap - 1);
            }
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
        }
    }
    free(m->keys);
    free(m->vals);
    m->keys = n.keys;
    m->vals = n.vals;
    m->cap = n.cap;
    return KVT_OK;
}

kvt_status_t kvt_idmap_intern(kvt_idmap_t *m, uint64_t key, uint32_t *id_p)
{
    size_t j = kvt_mix64(key) & (m->cap - 1);
    while (m->vals[j] != 0) {
        if (m->keys[j] == key) {
            *id_p = m->vals[j] - 1;
            return KVT_OK;
        }
        j = (j + 1) & (m->cap - 1);
    }
    if (m->count >= MAX_IDS) {
        return KVT_ERR_OVERFLOW;
    }
    if ((m->count + 1) * 2 > m->cap) {
        if (grow(m) != KVT_OK) {
            return KVT_ERR_NO_MEMORY;
        }
        return kvt_idmap_intern(m, key, id_p);
    }
    m->keys[j] = key;
    m->vals[j] = (uint32_t)(++m->count);
    *id_p = (uint32_t)(m->count - 1);
    return KVT_OK;
}

bool kvt_idmap_find(const kvt_idmap_t *m, uint64_t key, uint32_t *id_p)
{
    size_t j = kvt_mix64(key) & (m->cap - 1);
    while (m->vals[j] != 0) {
        if (m->keys[j] == key) {
            *id_p = m->vals[j] - 1;
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}
