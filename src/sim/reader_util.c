/*
 * What the trace readers share, so that each reader holds only its format's rules.
 *
 * Growth: kvt_grow_array doubles an array from 64 elements until it holds what is needed, checking
 * the byte count for overflow, and leaves the array as it was when it cannot grow. Lines: a
 * kvt_line_reader_t wraps getline and counts lines from 1, so every error names the line it came
 * from. Text formats (CSV) get each non-blank line with its line break (CR/LF) removed, a UTF-8
 * byte order mark dropped from line 1 and a NUL byte reported, since C strings would silently cut
 * the line there. JSON-lines formats get each non-blank line parsed into one cJSON object; their
 * blank lines are those of spaces, tabs, CRs (and NUL bytes), and text after the object may only
 * be white space up to a NUL byte, as the JSON-lines readers always accepted. Errors: "path:line:
 * field: message" for a malformed line, "path:line: <status>" for a failure of the trace builder,
 * "path: out of memory" and "path: read error"; every reader words its errors through these, so
 * the messages stay the same from format to format. CSV: kvt_csv_read drives a reader's
 * split/header/row steps over the lines, the header's columns are matched by name and the integer
 * cells parsed by one routine, with the same messages in every CSV reader.
 */
#include "sim/reader_util.h"

#include "common/error.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 64 /* elements of a grown array's first allocation */

bool kvt_grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return true;
    }
    size_t n = *cap ? *cap : FIRST_CAP;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) {
            return false;
        }
        n *= 2;
    }
    void *q = realloc(*p, n * elem);
    if (q == NULL) {
        return false;
    }
    *p = q;
    *cap = n;
    return true;
}

kvt_status_t kvt_parse_error(kvt_error_t *err, const char *path, uint64_t line, const char *field,
                             const char *msg)
{
    return kvt_error_set(err, KVT_ERR_PARSE, "%s:%llu: %s%s%s", path, (unsigned long long)line,
                         field ? field : "", field ? ": " : "", msg);
}

kvt_status_t kvt_status_error(kvt_error_t *err, kvt_status_t st, const char *path, uint64_t line)
{
    return kvt_error_set(err, st, "%s:%llu: %s", path, (unsigned long long)line,
                         kvt_status_str(st));
}

kvt_status_t kvt_no_memory(kvt_error_t *err, const char *path)
{
    return kvt_error_set(err, KVT_ERR_NO_MEMORY, "%s: out of memory", path);
}

void kvt_line_reader_init(kvt_line_reader_t *lr, FILE *f, const char *path, kvt_error_t *err)
{
    *lr = (kvt_line_reader_t){.f = f, .path = path, .err = err};
}

void kvt_line_reader_fini(kvt_line_reader_t *lr)
{
    free(lr->buf);
    lr->buf = NULL;
    lr->cap = 0;
}

kvt_status_t kvt_line_bad(const kvt_line_reader_t *lr, const char *field, const char *msg)
{
    return kvt_parse_error(lr->err, lr->path, lr->line, field, msg);
}

/* The next line as getline gives it (*len_p bytes, its line break kept); false at its end. */
static bool next_raw(kvt_line_reader_t *lr, size_t *len_p)
{
    ssize_t got = getline(&lr->buf, &lr->cap, lr->f);
    if (got == -1) {
        return false;
    }
    lr->line++;
    *len_p = (size_t)got;
    return true;
}

static kvt_status_t end_of_file(const kvt_line_reader_t *lr)
{
    if (ferror(lr->f)) {
        return kvt_error_set(lr->err, KVT_ERR_IO, "%s: read error", lr->path);
    }
    return KVT_OK;
}

kvt_status_t kvt_line_next(kvt_line_reader_t *lr, char **s_p, size_t *len_p)
{
    size_t len;
    *s_p = NULL;
    while (next_raw(lr, &len)) {
        char *s = lr->buf;
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) {
            len--;
        }
        s[len] = '\0';
        if (lr->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3; /* UTF-8 byte order mark */
            len -= 3;
        }
        if (memchr(s, '\0', len) != NULL) {
            return kvt_line_bad(lr, NULL, "NUL byte in line");
        }
        if (strspn(s, " \t") == len) {
            continue; /* blank line */
        }
        *s_p = s;
        *len_p = len;
        return KVT_OK;
    }
    return end_of_file(lr);
}

/* The first index from `from` on that is not JSON white space (a NUL byte is not), or len. */
static size_t skip_json_space(const char *buf, size_t from, size_t len)
{
    while (from < len && buf[from] != '\0' && strchr(" \t\r\n", buf[from]) != NULL) {
        from++;
    }
    return from;
}

kvt_status_t kvt_line_next_json(kvt_line_reader_t *lr, cJSON **o_p)
{
    size_t len;
    *o_p = NULL;
    while (next_raw(lr, &len)) {
        const char *line = lr->buf;
        size_t i = 0;
        while (i < len && strchr(" \t\r\n", line[i]) != NULL) {
            i++; /* a NUL byte counts as blank here, as strchr finds the terminator */
        }
        if (i == len) {
            continue; /* blank line */
        }
        const char *end = NULL;
        cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, false);
        if (o == NULL || !cJSON_IsObject(o)) {
            cJSON_Delete(o);
            return kvt_line_bad(lr, NULL, "not a JSON object");
        }
        if (skip_json_space(line, (size_t)(end - line), len) < len) {
            cJSON_Delete(o);
            return kvt_line_bad(lr, NULL, "unexpected text after the JSON object");
        }
        *o_p = o;
        return KVT_OK;
    }
    return end_of_file(lr);
}

kvt_status_t kvt_csv_read(kvt_line_reader_t *lr, const kvt_csv_ops_t *ops, void *ctx)
{
    char *s;
    size_t len, n = 0;
    bool have_header = false;
    kvt_status_t st;

    while ((st = kvt_line_next(lr, &s, &len)) == KVT_OK && s != NULL) {
        if ((st = ops->split(ctx, s, len, &n)) != KVT_OK) {
            break;
        }
        st = have_header ? ops->row(ctx, n) : ops->header(ctx, n);
        if (st != KVT_OK) {
            break;
        }
        have_header = true;
    }
    if (st == KVT_OK && !have_header) {
        st = kvt_error_set(lr->err, KVT_ERR_PARSE, "%s: no header line", lr->path);
    }
    return st;
}

kvt_status_t kvt_csv_header(const kvt_line_reader_t *lr, char *const *fields, size_t n,
                            const char *const *names, size_t ncols, size_t *col)
{
    for (size_t c = 0; c < ncols; c++) {
        col[c] = SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < ncols; c++) {
            if (strcmp(fields[i], names[c]) != 0) {
                continue;
            }
            if (col[c] != SIZE_MAX) {
                return kvt_line_bad(lr, names[c], "column named twice in the header");
            }
            col[c] = i;
        }
    }
    for (size_t c = 0; c < ncols; c++) {
        if (col[c] == SIZE_MAX) {
            return kvt_line_bad(lr, names[c],
                                "missing from the header (the first line must name the columns)");
        }
    }
    return KVT_OK;
}

kvt_status_t kvt_csv_uint(const kvt_line_reader_t *lr, const char *name, const char *s,
                          uint64_t max, uint64_t *v_p)
{
    char msg[128];
    uint64_t v = 0;

    if (*s == '\0') {
        return kvt_line_bad(lr, name, "empty");
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            snprintf(msg, sizeof(msg), "expected a non-negative integer, got \"%.32s\"", s);
            return kvt_line_bad(lr, name, msg);
        }
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10) {
            snprintf(msg, sizeof(msg), "%.32s is out of range (at most %llu)", s,
                     (unsigned long long)max);
            return kvt_line_bad(lr, name, msg);
        }
        v = v * 10 + d;
    }
    *v_p = v;
    return KVT_OK;
}
