/* Internal: option values parsed strictly, with errors that name the flag. */
#ifndef KVT_CLI_ARGS_H
#define KVT_CLI_ARGS_H

#include <kvtier/kvtier.h>

/* Each returns false after printing "kvtier <verb>: --flag: ..." on stderr. */
bool kvt_arg_u64(const char *verb, const char *flag, const char *val, uint64_t min,
                 uint64_t max, uint64_t *v_p);
bool kvt_arg_u32(const char *verb, const char *flag, const char *val, uint32_t min,
                 uint32_t max, uint32_t *v_p);
bool kvt_arg_double(const char *verb, const char *flag, const char *val, double min, double max,
                    double *v_p);
bool kvt_arg_dtype(const char *verb, const char *flag, const char *val, kvt_dtype_t *v_p);
/* A count with an optional B (1e9) or T (1e12) suffix: "70.6B", "1.04T", "8e9". */
bool kvt_arg_count(const char *verb, const char *flag, const char *val, double *v_p);

/* getopt_long's own complaints, turned into one line naming the verb; returns exit status 2. */
int kvt_arg_unknown(const char *verb, int opt, int optopt, const char *arg);

#endif
