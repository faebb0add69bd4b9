/*
 * kvt_trace_load(): open a trace, pick its reader, build the trace.
 *
 * Format detection reads only the first non-blank line: a CSV header starting "trace,call," is
 * agent-csv, a JSON object with "chat_id" Bailian, one with "hash_ids" Mooncake. Each format
 * has its own default block size, the one its hash ids were computed with (agent-csv, which has
 * no hash ids, takes vLLM's default page of 16 tokens).
 */
#include "sim/trace_readers.h"

#include "common/error.h"

#include <errno.h>
#include <string.h>

static kvt_trace_format_t sniff(FILE *f)
{
    char buf[4096];
    kvt_trace_format_t fmt = KVT_TRACE_AUTO;
    while (fgets(buf, sizeof(buf), f) != NULL) {
        if (strspn(buf, " \t\r\n") == strlen(buf)) {
            continue;
        }
        if (strncmp(buf, "trace,call,", 11) == 0) {
            fmt = KVT_TRACE_AGENT_CSV;
        } else if (strstr(buf, "\"chat_id\"") != NULL) {
            fmt = KVT_TRACE_BAILIAN;
        } else if (strstr(buf, "\"hash_ids\"") != NULL) {
            fmt = KVT_TRACE_MOONCAKE;
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
    FILE *f;

    if (path == NULL || trace_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_trace_load: NULL argument");
    }
    f = fopen(path, "r");
    if (f == NULL) {
        return kvt_error_set(err, KVT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (format == KVT_TRACE_AUTO) {
        format = sniff(f);
        if (format == KVT_TRACE_AUTO) {
            fclose(f);
            return kvt_error_set(err, KVT_ERR_PARSE,
                                 "%s: unknown trace format (give --format)", path);
        }
    }
    if (block_tokens == 0) {
        block_tokens = format == KVT_TRACE_MOONCAKE ? 512 : 16;
    }
    if ((st = kvt_trace_new(path, format, block_tokens, &t)) != KVT_OK) {
        fclose(f);
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
    default:
        st = kvt_error_set(err, KVT_ERR_UNSUPPORTED, "%s: format %s has no reader", path,
                           kvt_trace_format_name(format));
    }
    fclose(f);
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
