/* Internal: CRC-32C (Castagnoli), the payload checksum of stored blocks. */
#ifndef KVT_COMMON_CRC32C_H
#define KVT_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-32C (reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF) of buf,
 * continuing from crc: kvt_crc32c(0, buf, len) is the standard CRC-32C of buf ("123456789" gives
 * 0xE3069283), and kvt_crc32c(kvt_crc32c(0, a, la), b, lb) is the CRC-32C of a followed by b (the
 * inversions are inside, as with zlib's crc32). buf may be NULL when len is 0; no alignment is
 * needed. Thread-safe; never blocks. Uses the SSE4.2 crc32 instruction with PCLMULQDQ when the
 * CPU has both, else slice-by-8 tables.
 */
uint32_t kvt_crc32c(uint32_t crc, const void *buf, size_t len);

/* Name of the implementation kvt_crc32c uses on this CPU; a static string. */
const char *kvt_crc32c_impl(void);

/* For tests and benchmarks: the portable slice-by-8 path, whatever the CPU. Same contract. */
uint32_t kvt_crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
