/*
 * Little-endian byte order for on-disk and on-wire formats (block headers, NVMe segments, key
 * hashing input): written and read byte by byte, so the bytes are the same on every host and no
 * alignment is assumed.
 */
#ifndef KVT_COMMON_LE_H
#define KVT_COMMON_LE_H

#include <stdint.h>

/* Store the low `bytes` bytes of v at p, least significant first. */
static inline void kvt_put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static inline uint64_t kvt_get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static inline void kvt_put_le64(unsigned char *p, uint64_t v)
{
    kvt_put_le(p, v, 8);
}

static inline uint64_t kvt_get_le64(const unsigned char *p)
{
    return kvt_get_le(p, 8);
}

#endif
