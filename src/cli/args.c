/*
 * Strict option values for the CLI.
 *
 * Every numeric flag goes through the library's strict parsers (no sign, no trailing text,
 * explicit SI or binary suffixes) and a range check, and a bad value is reported naming the flag
 * and what was expected. Keeping this in one place makes "a wrong flag is a clear error, exit 2"
 * true for every verb.
 */
#include "cli/args.h"

#include "cli/cli.h"
#include "common/parse_num.h"

#include <stdlib.h>
#include <string.h>

bool kvt_arg_u64(const char *verb, const char *flag, const char *val, uint64_t min,
                 uint64_t max, uint64_t *v_p)
{
    uint64_t v;
    kvt_status_t st = kvt_parse_u64(val, &v);
    if (st == KVT_ERR_INVALID) {
        kvt_cli_error(verb, "%s: \"%s\" is not a non-negative integer (suffixes k, M, G, Ki, Mi, "
                            "Gi allowed)",
                      flag, val);
        return false;
    }
    if (st != KVT_OK || v < min || v > max) {
        kvt_cli_error(verb, "%s: %s is out of range [%llu, %llu]", flag, val,
                      (unsigned long long)min, (unsigned long long)max);
        return false;
    }
    *v_p = v;
    return true;
}

bool kvt_arg_u32(const char *verb, const char *flag, const char *val, uint32_t min,
                 uint32_t max, uint32_t *v_p)
{
    uint64_t v;
    if (!kvt_arg_u64(verb, flag, val, min, max, &v)) {
        return false;
    }
    *v_p = (uint32_t)v;
    return true;
}

bool kvt_arg_double(const char *verb, const char *flag, const char *val, double min, double max,
                    double *v_p)
{
    double v;
    if (kvt_parse_double(val, &v) != KVT_OK) {
        kvt_cli_error(verb, "%s: \"%s\" is not a number", flag, val);
        return false;
    }
    if (v < min || v > max) {
        kvt_cli_error(verb, "%s: %s is out of range [%g, %g]", flag, val, min, max);
        return false;
    }
    *v_p = v;
    return true;
}

bool kvt_arg_dtype(const char *verb, const char *flag, const char *val, kvt_dtype_t *v_p)
{
    if (kvt_dtype_parse(val, v_p) != KVT_OK) {
        kvt_cli_error(verb, "%s: unknown type \"%s\" (bf16, fp16, fp32, fp8_e4m3, fp8_e5m2, "
                            "int8, int4, auto)",
                      flag, val);
        return false;
    }
    return true;
}

bool kvt_arg_count(const char *verb, const char *flag, const char *val, double *v_p)
{
    char buf[64];
    double mult = 1, v;
    size_t n = strlen(val);

    if (n == 0 || n >= sizeof(buf)) {
        kvt_cli_error(verb, "%s: \"%s\" is not a count", flag, val);
        return false;
    }
    memcpy(buf, val, n + 1);
    if (buf[n - 1] == 'B' || buf[n - 1] == 'T') {
        mult = buf[n - 1] == 'B' ? 1e9 : 1e12;
        buf[n - 1] = '\0';
    }
    if (kvt_parse_double(buf, &v) != KVT_OK || !(v > 0)) {
        kvt_cli_error(verb, "%s: \"%s\" is not a positive count (e.g. 70.6B, 1.04T, 8e9)", flag,
                      val);
        return false;
    }
    *v_p = v * mult;
    return true;
}

int kvt_arg_unknown(const char *verb, int opt, int optopt, const char *arg)
{
    if (opt == ':') {
        kvt_cli_error(verb, "%s: missing value (see kvtier %s --help)", arg, verb);
    } else if (optopt != 0) {
        kvt_cli_error(verb, "unknown option -%c (see kvtier %s --help)", optopt, verb);
    } else {
        kvt_cli_error(verb, "unknown option %s (see kvtier %s --help)", arg, verb);
    }
    return KVT_EXIT_USAGE;
}
