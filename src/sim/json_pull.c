/*
 * A streaming JSON pull parser (RFC 8259) for the whole-document trace readers.
 *
 * Bytes come through a 16 KiB buffer refilled with fread, and the line count advances on every
 * '\n' consumed, so each error names the line it happened on. The grammar is checked strictly
 * (no trailing commas, no comments, numbers as RFC 8259 writes them, no raw control characters in
 * strings, literals spelled out); strings are decoded (escapes, \u with surrogate pairs to UTF-8,
 * a lone surrogate to U+FFFD) and handed to the caller's sink in pieces of at most 4 KiB, so a
 * string of any length costs the parser no memory. Other bytes pass through unchecked (text is
 * hashed as bytes, it need not be valid UTF-8). kvt_jp_skip() follows nested values with an
 * explicit stack of KVT_JP_MAX_DEPTH levels instead of recursion, so no input can exhaust the C
 * stack.
 */
#include "sim/json_pull.h"

#include "common/error.h"

#include <stdlib.h>
#include <string.h>

static int peekc(kvt_jp_t *p)
{
    if (p->pos == p->len) {
        if (p->eof) {
            return -1;
        }
        p->len = fread(p->buf, 1, sizeof(p->buf), p->f);
        p->pos = 0;
        if (p->len == 0) {
            p->eof = true;
            return -1;
        }
    }
    return p->buf[p->pos];
}

static int getc_(kvt_jp_t *p)
{
    int c = peekc(p);
    if (c >= 0) {
        p->pos++;
        p->line += c == '\n';
    }
    return c;
}

kvt_status_t kvt_jp_bad(const kvt_jp_t *p, uint64_t line, const char *field, const char *msg)
{
    return kvt_error_set(p->err, KVT_ERR_PARSE, "%s:%llu: %s%s%s", p->path,
                         (unsigned long long)line, field ? field : "", field ? ": " : "", msg);
}

/* A syntax error at the current line; an unexpected end of file may be a read error. */
static kvt_status_t syntax(const kvt_jp_t *p, const char *want, int got)
{
    char msg[160];
    if (got < 0) {
        if (ferror(p->f)) {
            return kvt_error_set(p->err, KVT_ERR_IO, "%s: read error", p->path);
        }
        snprintf(msg, sizeof(msg), "invalid JSON: expected %s, got the end of the file", want);
    } else if (got >= 0x20 && got < 0x7f) {
        snprintf(msg, sizeof(msg), "invalid JSON: expected %s, got '%c'", want, got);
    } else {
        snprintf(msg, sizeof(msg), "invalid JSON: expected %s, got byte 0x%02x", want, got);
    }
    return kvt_jp_bad(p, p->line, NULL, msg);
}

static int skip_ws(kvt_jp_t *p)
{
    int c;
    while ((c = peekc(p)) == ' ' || c == '\t' || c == '\n' || c == '\r') {
        getc_(p);
    }
    return c;
}

void kvt_jp_init(kvt_jp_t *p, FILE *f, const char *path, kvt_error_t *err)
{
    memset(p, 0, offsetof(kvt_jp_t, buf));
    p->f = f;
    p->path = path;
    p->err = err;
    p->line = 1;
    p->value_line = 1;
}

kvt_status_t kvt_jp_peek(kvt_jp_t *p, kvt_jp_kind_t *kind_p)
{
    int c = skip_ws(p);
    p->value_line = p->line;
    switch (c) {
    case '{':
        *kind_p = KVT_JP_OBJECT;
        return KVT_OK;
    case '[':
        *kind_p = KVT_JP_ARRAY;
        return KVT_OK;
    case '"':
        *kind_p = KVT_JP_STRING;
        return KVT_OK;
    case 't':
        *kind_p = KVT_JP_TRUE;
        return KVT_OK;
    case 'f':
        *kind_p = KVT_JP_FALSE;
        return KVT_OK;
    case 'n':
        *kind_p = KVT_JP_NULL;
        return KVT_OK;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            *kind_p = KVT_JP_NUMBER;
            return KVT_OK;
        }
        return syntax(p, "a value", c);
    }
}

kvt_status_t kvt_jp_open(kvt_jp_t *p)
{
    int c = skip_ws(p);
    if (c != '{' && c != '[') {
        return syntax(p, "'{' or '['", c);
    }
    getc_(p);
    return KVT_OK;
}

/* Where decoded string bytes go: a member name into p->key, else the caller's sink. */
typedef struct sbuf {
    kvt_jp_sink_t sink;
    void *ctx;
    bool key;
    size_t n; /* bytes in out, or in p->key */
    char out[4096];
} sbuf_t;

static kvt_status_t put(kvt_jp_t *p, sbuf_t *b, const unsigned char *s, size_t m)
{
    kvt_status_t st;
    if (b->key) {
        for (size_t i = 0; i < m; i++) {
            if (b->n + 1 < sizeof(p->key) && s[i] != '\0') {
                p->key[b->n++] = (char)s[i];
            } else {
                p->key_long = true; /* too long, or a NUL: matches no name a reader looks for */
            }
        }
        return KVT_OK;
    }
    if (b->sink == NULL) {
        return KVT_OK;
    }
    if (b->n + m > sizeof(b->out)) {
        if ((st = b->sink(b->ctx, b->out, b->n)) != KVT_OK) {
            return st;
        }
        b->n = 0;
    }
    memcpy(b->out + b->n, s, m);
    b->n += m;
    return KVT_OK;
}

/* A code point as UTF-8 (surrogates never reach here). */
static kvt_status_t put_utf8(kvt_jp_t *p, sbuf_t *b, unsigned long u)
{
    unsigned char e[4];
    size_t m;
    if (u < 0x80) {
        e[0] = (unsigned char)u;
        m = 1;
    } else if (u < 0x800) {
        e[0] = (unsigned char)(0xC0 | u >> 6);
        e[1] = (unsigned char)(0x80 | (u & 0x3F));
        m = 2;
    } else if (u < 0x10000) {
        e[0] = (unsigned char)(0xE0 | u >> 12);
        e[1] = (unsigned char)(0x80 | (u >> 6 & 0x3F));
        e[2] = (unsigned char)(0x80 | (u & 0x3F));
        m = 3;
    } else {
        e[0] = (unsigned char)(0xF0 | u >> 18);
        e[1] = (unsigned char)(0x80 | (u >> 12 & 0x3F));
        e[2] = (unsigned char)(0x80 | (u >> 6 & 0x3F));
        e[3] = (unsigned char)(0x80 | (u & 0x3F));
        m = 4;
    }
    return put(p, b, e, m);
}

/* The four hex digits of a \u escape. */
static kvt_status_t hex4(kvt_jp_t *p, unsigned long *u_p)
{
    unsigned long u = 0;
    for (int i = 0; i < 4; i++) {
        int h = getc_(p);
        unsigned d;
        if (h >= '0' && h <= '9') {
            d = (unsigned)(h - '0');
        } else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f') {
            d = (unsigned)((h | 0x20) - 'a' + 10);
        } else {
            return syntax(p, "four hex digits after \\u", h);
        }
        u = u << 4 | d;
    }
    *u_p = u;
    return KVT_OK;
}

#define IS_HIGH(u) ((u) >= 0xD800 && (u) <= 0xDBFF)
#define IS_LOW(u)  ((u) >= 0xDC00 && (u) <= 0xDFFF)

/* Decode a string; with key, into p->key instead of a sink. */
static kvt_status_t string(kvt_jp_t *p, kvt_jp_sink_t sink, void *ctx, bool key)
{
    sbuf_t b;
    kvt_status_t st;
    unsigned long u, lo;
    int c = skip_ws(p);

    if (c != '"') {
        return syntax(p, "a string", c);
    }
    getc_(p);
    b.sink = sink;
    b.ctx = ctx;
    b.key = key;
    b.n = 0;
    if (key) {
        p->key_long = false;
    }
    for (;;) {
        unsigned char byte;
        c = getc_(p);
        if (c < 0) {
            return syntax(p, "the end of a string ('\"')", c);
        }
        if (c == '"') {
            break;
        }
        if (c < 0x20) {
            return kvt_jp_bad(p, p->line - (c == '\n'), NULL,
                              c == '\n' ? "invalid JSON: line break inside a string"
                                        : "invalid JSON: control character inside a string");
        }
        if (c != '\\') {
            byte = (unsigned char)c;
            if ((st = put(p, &b, &byte, 1)) != KVT_OK) {
                return st;
            }
            continue;
        }
    escape:
        c = getc_(p);
        switch (c) {
        case '"':
        case '\\':
        case '/':
            byte = (unsigned char)c;
            break;
        case 'b':
            byte = '\b';
            break;
        case 'f':
            byte = '\f';
            break;
        case 'n':
            byte = '\n';
            break;
        case 'r':
            byte = '\r';
            break;
        case 't':
            byte = '\t';
            break;
        case 'u':
            if ((st = hex4(p, &u)) != KVT_OK) {
                return st;
            }
            if (IS_HIGH(u) && peekc(p) == '\\') {
                getc_(p);
                if (peekc(p) != 'u') {
                    /* a lone high surrogate, then another escape */
                    if ((st = put_utf8(p, &b, 0xFFFD)) != KVT_OK) {
                        return st;
                    }
                    goto escape;
                }
                getc_(p);
                if ((st = hex4(p, &lo)) != KVT_OK) {
                    return st;
                }
                if (IS_LOW(lo)) {
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                } else {
                    if ((st = put_utf8(p, &b, 0xFFFD)) != KVT_OK) {
                        return st;
                    }
                    u = lo;
                }
            }
            if (IS_HIGH(u) || IS_LOW(u)) {
                u = 0xFFFD; /* a lone surrogate */
            }
            if ((st = put_utf8(p, &b, u)) != KVT_OK) {
                return st;
            }
            continue;
        default:
            return syntax(p, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)", c);
        }
        if ((st = put(p, &b, &byte, 1)) != KVT_OK) {
            return st;
        }
    }
    if (key) {
        p->key[b.n] = '\0';
    } else if (sink != NULL && b.n > 0) {
        return sink(ctx, b.out, b.n);
    }
    return KVT_OK;
}

kvt_status_t kvt_jp_string(kvt_jp_t *p, kvt_jp_sink_t sink, void *ctx)
{
    return string(p, sink, ctx, false);
}

kvt_status_t kvt_jp_member(kvt_jp_t *p, bool *first_p, bool *more_p)
{
    int c = skip_ws(p);
    kvt_status_t st;

    if (c == '}') {
        getc_(p);
        *more_p = false;
        return KVT_OK;
    }
    if (!*first_p) {
        if (c != ',') {
            return syntax(p, "',' or '}' after an object member", c);
        }
        getc_(p);
        c = skip_ws(p);
    }
    if (c != '"') {
        return syntax(p, *first_p ? "a member name or '}'" : "a member name", c);
    }
    if ((st = string(p, NULL, NULL, true)) != KVT_OK) {
        return st;
    }
    c = skip_ws(p);
    if (c != ':') {
        return syntax(p, "':' after a member name", c);
    }
    getc_(p);
    *first_p = false;
    *more_p = true;
    return KVT_OK;
}

kvt_status_t kvt_jp_element(kvt_jp_t *p, bool *first_p, bool *more_p)
{
    int c = skip_ws(p);

    if (c == ']') {
        getc_(p);
        *more_p = false;
        return KVT_OK;
    }
    if (!*first_p) {
        if (c != ',') {
            return syntax(p, "',' or ']' after an array element", c);
        }
        getc_(p);
    }
    *first_p = false;
    *more_p = true;
    return KVT_OK;
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_ok(const char *s)
{
    if (*s == '-') {
        s++;
    }
    if (*s == '0') {
        s++;
    } else if (*s >= '1' && *s <= '9') {
        while (*s >= '0' && *s <= '9') {
            s++;
        }
    } else {
        return false;
    }
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9')) {
            return false;
        }
        while (*s >= '0' && *s <= '9') {
            s++;
        }
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') {
            s++;
        }
        if (!(*s >= '0' && *s <= '9')) {
            return false;
        }
        while (*s >= '0' && *s <= '9') {
            s++;
        }
    }
    return *s == '\0';
}

kvt_status_t kvt_jp_number(kvt_jp_t *p, double *v_p)
{
    char text[128];
    size_t n = 0;
    int c = skip_ws(p);

    while (c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9')) {
        if (n + 1 == sizeof(text)) {
            return kvt_jp_bad(p, p->line, NULL, "invalid JSON: number longer than 127 characters");
        }
        text[n++] = (char)getc_(p);
        c = peekc(p);
    }
    text[n] = '\0';
    if (n == 0) {
        return syntax(p, "a number", c);
    }
    if (!number_ok(text)) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid JSON: malformed number \"%s\"", text);
        return kvt_jp_bad(p, p->line, NULL, msg);
    }
    *v_p = strtod(text, NULL);
    return KVT_OK;
}

static kvt_status_t literal(kvt_jp_t *p, const char *word)
{
    for (const char *w = word; *w != '\0'; w++) {
        int c = getc_(p);
        if (c != *w) {
            char want[32];
            snprintf(want, sizeof(want), "\"%s\"", word);
            return syntax(p, want, c);
        }
    }
    return KVT_OK;
}

kvt_status_t kvt_jp_skip(kvt_jp_t *p)
{
    unsigned char is_obj[KVT_JP_MAX_DEPTH];
    bool first[KVT_JP_MAX_DEPTH];
    size_t depth = 0;
    kvt_status_t st;
    kvt_jp_kind_t kind = KVT_JP_OBJECT; /* set by kvt_jp_peek; initialised for -O3 flow analysis */
    double v;
    bool more;

    for (;;) {
        /* one value */
        if ((st = kvt_jp_peek(p, &kind)) != KVT_OK) {
            return st;
        }
        switch (kind) {
        case KVT_JP_OBJECT:
        case KVT_JP_ARRAY:
            if (depth == KVT_JP_MAX_DEPTH) {
                char msg[96];
                snprintf(msg, sizeof(msg), "invalid JSON: nested deeper than %d levels",
                         KVT_JP_MAX_DEPTH);
                return kvt_jp_bad(p, p->line, NULL, msg);
            }
            getc_(p);
            is_obj[depth] = kind == KVT_JP_OBJECT;
            first[depth++] = true;
            break;
        case KVT_JP_STRING:
            st = string(p, NULL, NULL, false);
            break;
        case KVT_JP_NUMBER:
            st = kvt_jp_number(p, &v);
            break;
        case KVT_JP_TRUE:
            st = literal(p, "true");
            break;
        case KVT_JP_FALSE:
            st = literal(p, "false");
            break;
        case KVT_JP_NULL:
            st = literal(p, "null");
            break;
        }
        if (st != KVT_OK) {
            return st;
        }
        /* the next member or element of the innermost open container, closing finished ones */
        for (;;) {
            if (depth == 0) {
                return KVT_OK;
            }
            st = is_obj[depth - 1] ? kvt_jp_member(p, &first[depth - 1], &more)
                                   : kvt_jp_element(p, &first[depth - 1], &more);
            if (st != KVT_OK) {
                return st;
            }
            if (more) {
                break;
            }
            depth--;
        }
    }
}

kvt_status_t kvt_jp_finish(kvt_jp_t *p)
{
    int c = skip_ws(p);
    if (c >= 0) {
        return syntax(p, "the end of the file after the top-level value", c);
    }
    if (ferror(p->f)) {
        return kvt_error_set(p->err, KVT_ERR_IO, "%s: read error", p->path);
    }
    return KVT_OK;
}
