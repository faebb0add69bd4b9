/*
 * A streaming JSON writer into memory.
 *
 * Reports are built whole in memory and written out only when complete, so a command that fails
 * half-way prints no partial JSON. Integers are written from uint64_t/int64_t directly (never
 * through a double), so byte counts above 2^53 stay exact. Strings are escaped per RFC 8259;
 * bytes >= 0x80 pass through (the writer assumes UTF-8 input). Errors (allocation, nesting past
 * KVT_JSON_MAX_DEPTH) are sticky and reported once by kvt_json_finish().
 */
#include "common/json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kvt_json_init(kvt_json_t *w, bool pretty)
{
    memset(w, 0, sizeof(*w));
    w->pretty = pretty;
}

static void put(kvt_json_t *w, const char *s, size_t n)
{
    if (w->failed) {
        return;
    }
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 1024;
        while (cap < w->len + n + 1) {
            cap *= 2;
        }
        char *nb = realloc(w->buf, cap);
        if (nb == NULL) {
            w->failed = true;
            return;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void puts_(kvt_json_t *w, const char *s)
{
    put(w, s, strlen(s));
}

static void putf(kvt_json_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(kvt_json_t *w, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        w->failed = true;
        return;
    }
    put(w, tmp, (size_t)n);
}

static void newline(kvt_json_t *w)
{
    if (!w->pretty) {
        return;
    }
    puts_(w, "\n");
    for (int i = 0; i < w->depth; i++) {
        puts_(w, "  ");
    }
}

static void put_string(kvt_json_t *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0;

    puts_(w, "\"");
    for (; p[run] != '\0';) {
        unsigned char c = p[run];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        put(w, (const char *)p, run);
        p += run;
        run = 0;
        switch (c) {
        case '"': puts_(w, "\\\""); break;
        case '\\': puts_(w, "\\\\"); break;
        case '\n': puts_(w, "\\n"); break;
        case '\t': puts_(w, "\\t"); break;
        case '\r': puts_(w, "\\r"); break;
        default: {
            char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], '\0'};
            puts_(w, esc);
        }
        }
        p++;
    }
    put(w, (const char *)p, run);
    puts_(w, "\"");
}

/* Separator, indentation and key before a value at the current depth. */
static void item(kvt_json_t *w, const char *key)
{
    if (w->depth > 0) {
        if (w->has_items[w->depth]) {
            puts_(w, ",");
        }
        w->has_items[w->depth] = true;
        newline(w);
    }
    if (key != NULL) {
        put_string(w, key);
        puts_(w, w->pretty ? ": " : ":");
    }
}

static void open_(kvt_json_t *w, const char *key, const char *bracket)
{
    item(w, key);
    puts_(w, bracket);
    if (w->depth + 1 >= KVT_JSON_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    w->depth++;
    w->has_items[w->depth] = false;
}

static void close_(kvt_json_t *w, const char *bracket)
{
    if (w->depth == 0) {
        w->failed = true;
        return;
    }
    bool had = w->has_items[w->depth];
    w->depth--;
    if (had) {
        newline(w);
    }
    puts_(w, bracket);
}

void kvt_json_begin_object(kvt_json_t *w, const char *key)
{
    open_(w, key, "{");
}

void kvt_json_end_object(kvt_json_t *w)
{
    close_(w, "}");
}

void kvt_json_begin_array(kvt_json_t *w, const char *key)
{
    open_(w, key, "[");
}

void kvt_json_end_array(kvt_json_t *w)
{
    close_(w, "]");
}

void kvt_json_u64(kvt_json_t *w, const char *key, uint64_t v)
{
    item(w, key);
    putf(w, "%" PRIu64, v);
}

void kvt_json_i64(kvt_json_t *w, const char *key, int64_t v)
{
    item(w, key);
    putf(w, "%" PRId64, v);
}

void kvt_json_double(kvt_json_t *w, const char *key, double v)
{
    item(w, key);
    if (!isfinite(v)) {
        puts_(w, "null");
    } else {
        /* the shortest of 15..17 significant digits that reads back as the same double */
        char tmp[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
            if (strtod(tmp, NULL) == v) {
                break;
            }
        }
        puts_(w, tmp);
    }
}

void kvt_json_str(kvt_json_t *w, const char *key, const char *s)
{
    item(w, key);
    put_string(w, s != NULL ? s : "");
}

void kvt_json_bool(kvt_json_t *w, const char *key, bool v)
{
    item(w, key);
    puts_(w, v ? "true" : "false");
}

void kvt_json_null(kvt_json_t *w, const char *key)
{
    item(w, key);
    puts_(w, "null");
}

kvt_status_t kvt_json_finish(kvt_json_t *w, char **text_p, size_t *len_p)
{
    if (w->failed || w->depth != 0 || w->buf == NULL) {
        kvt_json_discard(w);
        return KVT_ERR_NO_MEMORY;
    }
    *text_p = w->buf;
    if (len_p != NULL) {
        *len_p = w->len;
    }
    w->buf = NULL;
    return KVT_OK;
}

void kvt_json_discard(kvt_json_t *w)
{
    free(w->buf);
    memset(w, 0, sizeof(*w));
}
