/*
 * kvt_trace_load(): open a trace, pick its reader, build the trace.
 *
 * Format detection reads only the first non-blank line: a CSV header starting "trace,call," is
 * agent-csv, one starting "TIMESTAMP," azure, a JSON object with "chat_id" Bailian, one with
 * "hash_ids" Mooncake, one with "input_tok_ids" tokens. A whole-document JSON file is told by its
 * first bytes: an array whose first element starts with the member "input" is sharegpt, an object
 * whose first member is "history", "trajectory" or "environment" swe-traj; so is a file named
 * *.traj, and a directory. Each format has its own default block size, the one its hash ids were
 * computed with (the formats without hash ids take vLLM's default page of 16 tokens).
 */
#include "sim/trace_readers.h"

#include "common/error.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* The JSON document's opening: '[' '{' "input" is sharegpt, '{' "history" (etc.) swe-traj. */
static kvt_trace_format_t sniff_document(FILE *f)
{
    char buf[4096];
    size_t n, i = 0;

    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
#define WS() i += strspn(buf + i, " \t\r\n")
    WS();
    if (buf[i] == '[') {
        i++;
        WS();
        if (buf[i] == '{') {
            i++;
            WS();
            if (strncmp(buf + i, "\"input\"", 7) == 0) {
                return KVT_TRACE_SHAREGPT;
            }
        }
    } else if (buf[i] == '{') {
        i++;
        WS();
        if (strncmp(buf + i, "\"history\"", 9) == 0 ||
            strncmp(buf + i, "\"trajectory\"", 12) == 0 ||
            strncmp(buf + i, "\"environment\"", 13) == 0) {
            return KVT_TRACE_SWE_TRAJ;
        }
    }
#undef WS
    return KVT_TRACE_AUTO;
}

static kvt_trace_format_t sniff(FILE *f, const char *path)
{
    char buf[4096];
    kvt_trace_format_t fmt = KVT_TRACE_AUTO;
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".traj") == 0) {
        return KVT_TRACE_SWE_TRAJ;
    }
    while (fgets(buf, sizeof(buf), f) != NULL) {
        if (strspn(buf, " \t\r\n") == strlen(buf)) {
            continue;
        }
        if (strncmp(buf, "trace,call,", 11) == 0) {
            fmt = KVT_TRACE_AGENT_CSV;
        } else if (strncmp(buf, "TIMESTAMP,", 10) == 0) {
            fmt = KVT_TRACE_AZURE;
        } else if (strstr(buf, "\"chat_id\"") != NULL) {
            fmt = KVT_TRACE_BAILIAN;
        } else if (strstr(buf, "\"hash_ids\"") != NULL) {
            fmt = KVT_TRACE_MOONCAKE;
        } else if (strstr(buf, "\"input_tok_ids\"") != NULL) {
            fmt = KVT_TRACE_TOKENS;
        } else {
            fmt = sniff_document(f);
        }
        break;
    }
    rewind(f);
    return fmt;
}

kvt_status_t kvt_trace_load(const char *path, kvt_trace_format_t format, uint32_t block_tokens,
                            kvt_trace_t **trace_p, kvt_error_t *err)
{
    kvt_trace_t *t;
    kvt_status_t st;
    FILE *f = NULL;
    struct stat sb;

    if (path == NULL || trace_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_trace_load: NULL argument");
    }
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        /* a directory: only swe-traj reads one (its reader opens the files) */
        if (format != KVT_TRACE_AUTO && format != KVT_TRACE_SWE_TRAJ) {
            return kvt_error_set(err, KVT_ERR_IO,
                                 "%s: is a directory (only swe-traj reads a directory of .traj "
                                 "files)",
                                 path);
        }
        format = KVT_TRACE_SWE_TRAJ;
    } else if ((f = fopen(path, "r")) == NULL) {
        return kvt_error_set(err, KVT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (format == KVT_TRACE_AUTO) {
        format = sniff(f, path);
        if (format == KVT_TRACE_AUTO) {
            fclose(f);
            return kvt_error_set(err, KVT_ERR_PARSE,
                                 "%s: unknown trace format (give --format: mooncake, bailian, "
                                 "agent-csv, swe-traj, sharegpt, tokens or azure)",
                                 path);
        }
    }
    if (block_tokens == 0) {
        block_tokens = format == KVT_TRACE_MOONCAKE ? 512 : 16;
    }
    if ((st = kvt_trace_new(path, format, block_tokens, &t)) != KVT_OK) {
        if (f != NULL) {
            fclose(f);
        }
        return kvt_error_set(err, st, "%s: out of memory", path);
    }
    switch (format) {
    case KVT_TRACE_MOONCAKE:
    case KVT_TRACE_BAILIAN:
        st = kvt_read_jsonl(f, path, format, block_tokens, t, err);
        break;
    case KVT_TRACE_AGENT_CSV:
        st = kvt_read_agent_csv(f, path, block_tokens, t, err);
        break;
    case KVT_TRACE_SWE_TRAJ: st = kvt_read_swe_traj(f, path, block_tokens, t, err); break;
    case KVT_TRACE_SHAREGPT: st = kvt_read_sharegpt(f, path, block_tokens, t, err); break;
    case KVT_TRACE_TOKENS: st = kvt_read_tokens(f, path, block_tokens, t, err); break;
    case KVT_TRACE_AZURE: st = kvt_read_azure(f, path, block_tokens, t, err); break;
    default:
        st = kvt_error_set(err, KVT_ERR_UNSUPPORTED, "%s: format %s has no reader", path,
                           kvt_trace_format_name(format));
    }
    if (f != NULL) {
        fclose(f);
    }
    if (st == KVT_OK) {
        st = kvt_trace_finish(t);
    }
    if (st != KVT_OK) {
        kvt_trace_destroy(t);
        return st;
    }
    *trace_p = t;
    return KVT_OK;
}
