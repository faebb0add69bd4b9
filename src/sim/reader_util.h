/*
 * Internal: what the trace readers share (reader_util.c): array growth, a line reader for text
 * and JSON-lines files, and the "path:line: field: message" errors.
 */
#ifndef KVT_SIM_READER_UTIL_H
#define KVT_SIM_READER_UTIL_H

#include <kvtier/status.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cJSON;

/*
 * Make *p (an array of *cap elements of elem bytes) hold at least need, doubling from 64; false
 * (and *p, *cap unchanged) when out of memory or the size would overflow.
 */
bool kvt_grow_array(void **p, size_t *cap, size_t need, size_t elem);

/* "path:line: field: msg" (no "field: " when field is NULL), KVT_ERR_PARSE. */
kvt_status_t kvt_parse_error(kvt_error_t *err, const char *path, uint64_t line, const char *field,
                             const char *msg);

/* "path:line: <kvt_status_str(st)>", status st. */
kvt_status_t kvt_status_error(kvt_error_t *err, kvt_status_t st, const char *path, uint64_t line);

/* "path: out of memory", KVT_ERR_NO_MEMORY. */
kvt_status_t kvt_no_memory(kvt_error_t *err, const char *path);

/* A file read one line at a time (getline), counting lines from 1. */
typedef struct kvt_line_reader {
    FILE *f;
    const char *path;
    kvt_error_t *err;
    uint64_t line; /* number of the line last read */
    char *buf;
    size_t cap;
} kvt_line_reader_t;

void kvt_line_reader_init(kvt_line_reader_t *lr, FILE *f, const char *path, kvt_error_t *err);
void kvt_line_reader_fini(kvt_line_reader_t *lr);

/* kvt_parse_error at the line last read. */
kvt_status_t kvt_line_bad(const kvt_line_reader_t *lr, const char *field, const char *msg);

/*
 * The next text line that is not blank (only spaces and tabs): *s_p, NUL-terminated, *len_p bytes,
 * with the trailing CR and LF removed and, on line 1, a UTF-8 byte order mark; *s_p NULL at end
 * of file. "path:line: NUL byte in line" (KVT_ERR_PARSE) for a line holding one, "path: read
 * error" (KVT_ERR_IO) when reading fails. The line stays valid until the next call.
 */
kvt_status_t kvt_line_next(kvt_line_reader_t *lr, char **s_p, size_t *len_p);

/*
 * The next non-blank line of a JSON-lines file, parsed: *o_p, which the caller frees with
 * cJSON_Delete; NULL at end of file. Errors: "not a JSON object", "unexpected text after the JSON
 * object" (KVT_ERR_PARSE, at the line), "path: read error" (KVT_ERR_IO).
 */
kvt_status_t kvt_line_next_json(kvt_line_reader_t *lr, struct cJSON **o_p);

/* A CSV format's steps, each given the reader's own state as ctx. */
typedef struct kvt_csv_ops {
    /* cut the line s[0..len) (NUL-terminated at len) in place into *n_p fields */
    kvt_status_t (*split)(void *ctx, char *s, size_t len, size_t *n_p);
    kvt_status_t (*header)(void *ctx, size_t n); /* the first line's n fields */
    kvt_status_t (*row)(void *ctx, size_t n);    /* each later line's */
} kvt_csv_ops_t;

/*
 * Read every non-blank line of lr's file (kvt_line_next), split, the first through ops->header
 * and the others through ops->row, stopping at the first error; "path: no header line"
 * (KVT_ERR_PARSE) for a file without a non-blank line.
 */
kvt_status_t kvt_csv_read(kvt_line_reader_t *lr, const kvt_csv_ops_t *ops, void *ctx);

/*
 * Match a CSV header's fields[0..n) to the names[0..ncols) of the columns a reader needs: col[c]
 * is the field index of column c. Each column must be named once; errors at the line last read.
 */
kvt_status_t kvt_csv_header(const kvt_line_reader_t *lr, char *const *fields, size_t n,
                            const char *const *names, size_t ncols, size_t *col);

/* The CSV cell s of column `name`: a non-empty decimal integer in [0, max]. */
kvt_status_t kvt_csv_uint(const kvt_line_reader_t *lr, const char *name, const char *s,
                          uint64_t max, uint64_t *v_p);

#endif
