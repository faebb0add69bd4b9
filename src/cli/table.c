/*
 * Text tables for terminal output.
 *
 * Cells are formatted as they are added and the column widths computed at print time, so
 * callers never pad by hand. Numbers right-align, text left-aligns; the header is the first row
 * and is underlined. Sizes print in binary units with three significant digits: exact byte counts
 * belong in --json, a person wants "2.14 GiB".
 */
#include "cli/table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void kvt_table_init(kvt_table_t *t, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols < KVT_TABLE_MAX_COLS ? ncols : KVT_TABLE_MAX_COLS;
}

void kvt_table_cell(kvt_table_t *t, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (t->ncells == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **nc = realloc(t->cells, cap * sizeof(*nc));
        if (nc == NULL) {
            return;
        }
        t->cells = nc;
        t->cap = cap;
    }
    t->cells[t->ncells] = strdup(buf);
    if (t->cells[t->ncells] != NULL) {
        t->ncells++;
        t->nrows = t->ncells / t->ncols;
    }
}

void kvt_table_print(const kvt_table_t *t, FILE *out, const char *indent)
{
    size_t w[KVT_TABLE_MAX_COLS] = {0};

    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = strlen(t->cells[r * t->ncols + c]);
            w[c] = n > w[c] ? n : w[c];
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        fputs(indent, out);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            const char *sep = c + 1 < t->ncols ? "  " : "";
            if (t->right[c] && r > 0) {
                fprintf(out, "%*s%s", (int)w[c], s, sep);
            } else if (c + 1 < t->ncols) {
                fprintf(out, "%-*s%s", (int)w[c], s, sep);
            } else {
                fputs(s, out);
            }
        }
        fputc('\n', out);
        if (r == 0) {
            size_t total = 0;
            for (size_t c = 0; c < t->ncols; c++) {
                total += w[c] + (c + 1 < t->ncols ? 2 : 0);
            }
            fputs(indent, out);
            for (size_t i = 0; i < total; i++) {
                fputc('-', out);
            }
            fputc('\n', out);
        }
    }
}

void kvt_table_free(kvt_table_t *t)
{
    for (size_t i = 0; i < t->ncells; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

const char *kvt_fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    size_t u = 0;

    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0) {
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
    } else {
        snprintf(buf, len, "%.*f %s", v >= 100 ? 0 : v >= 10 ? 1 : 2, v, units[u]);
    }
    return buf;
}

const char *kvt_fmt_count(char *buf, size_t len, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
    size_t o = 0;

    for (int i = 0; i < n && o + 1 < len; i++) {
        buf[o++] = tmp[i];
        if ((n - i - 1) % 3 == 0 && i + 1 < n && o + 1 < len) {
            buf[o++] = ',';
        }
    }
    buf[o] = '\0';
    return buf;
}
