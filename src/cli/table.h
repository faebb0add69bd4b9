/* Internal: aligned text tables and human-readable sizes for the CLI. */
#ifndef KVT_CLI_TABLE_H
#define KVT_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KVT_TABLE_MAX_COLS 16

typedef struct kvt_table {
    size_t ncols, nrows, ncells, cap;
    char **cells;                 /* nrows x ncols, owned */
    bool right[KVT_TABLE_MAX_COLS]; /* right-align (numbers) */
} kvt_table_t;

void kvt_table_init(kvt_table_t *t, size_t ncols);
/* Append one printf-formatted cell; every ncols cells make a row (the first row is the header). */
void kvt_table_cell(kvt_table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kvt_table_print(const kvt_table_t *t, FILE *out, const char *indent);
void kvt_table_free(kvt_table_t *t);

/* "1.12 KiB", "68.6 MiB", "512 B": binary units, three significant digits. */
const char *kvt_fmt_bytes(char *buf, size_t len, uint64_t bytes);
/* "1,234,567" */
const char *kvt_fmt_count(char *buf, size_t len, uint64_t v);

#endif
