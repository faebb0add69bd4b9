/*
 * Strict number parsing.
 *
 * strtoull accepts a leading minus sign (and wraps it), spaces and trailing garbage; a CLI that
 * takes "--context -1" as 18446744073709551615 is a bug report waiting. These parsers accept only
 * the documented forms and say whether the text was malformed or out of range.
 */
#include "common/parse_num.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *suffix;
    uint64_t mult;
} suffixes[] = {
    {"", 1},
    {"k", 1000ull},
    {"M", 1000000ull},
    {"G", 1000000000ull},
    {"T", 1000000000000ull},
    {"Ki", 1ull << 10},
    {"Mi", 1ull << 20},
    {"Gi", 1ull << 30},
    {"Ti", 1ull << 40},
};

kvt_status_t kvt_parse_u64(const char *s, uint64_t *v_p)
{
    uint64_t v = 0;
    const char *p = s;

    if (s == NULL || *s < '0' || *s > '9') {
        return KVT_ERR_INVALID;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return KVT_ERR_OVERFLOW;
        }
        v = v * 10 + d;
    }
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(p, suffixes[i].suffix) == 0) {
            if (v != 0 && suffixes[i].mult > UINT64_MAX / v) {
                return KVT_ERR_OVERFLOW;
            }
            *v_p = v * suffixes[i].mult;
            return KVT_OK;
        }
    }
    return KVT_ERR_INVALID;
}

kvt_status_t kvt_parse_double(const char *s, double *v_p)
{
    char *end;
    double v;

    if (s == NULL || *s == '\0' || strchr(" \t\n", *s) != NULL) {
        return KVT_ERR_INVALID;
    }
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0') {
        return KVT_ERR_INVALID;
    }
    if (errno == ERANGE || !isfinite(v)) {
        return KVT_ERR_OVERFLOW;
    }
    *v_p = v;
    return KVT_OK;
}
