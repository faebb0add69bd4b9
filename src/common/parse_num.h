/* Internal: strict parsing of numbers given on command lines and in files. */
#ifndef KVT_COMMON_PARSE_NUM_H
#define KVT_COMMON_PARSE_NUM_H

#include <kvtier/status.h>

/*
 * Parse a non-negative decimal integer, optionally followed by a multiplier suffix:
 * k/M/G/T (powers of 1000) or Ki/Mi/Gi/Ti (powers of 1024). No sign, no spaces, no trailing text.
 * Returns KVT_ERR_INVALID (malformed) or KVT_ERR_OVERFLOW; *v_p is written only on success.
 */
kvt_status_t kvt_parse_u64(const char *s, uint64_t *v_p);

/* Parse a finite decimal floating-point number with nothing after it. */
kvt_status_t kvt_parse_double(const char *s, double *v_p);

#endif
