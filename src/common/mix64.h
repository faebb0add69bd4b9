/* Internal: splitmix64's mixer, shared by the chunk hash, the id map and the generator. */
#ifndef KVT_COMMON_MIX64_H
#define KVT_COMMON_MIX64_H

#include <stdint.h>

/* splitmix64's state increment (the golden ratio in 64 bits). */
#define KVT_SPLITMIX_GAMMA 0x9E3779B97F4A7C15ull

/* splitmix64's output function; kvt_splitmix64(x) is the generator's value for state x. */
static inline uint64_t kvt_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t kvt_splitmix64(uint64_t x)
{
    return kvt_mix64(x + KVT_SPLITMIX_GAMMA);
}

#endif
