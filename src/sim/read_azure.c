/*
 * Reader of the Azure LLM inference traces ("azure"; Splitwise, ISCA'24): CSV with the header
 * TIMESTAMP,ContextTokens,GeneratedTokens, one request per row. docs/traces.md states the rules.
 * The file has request sizes and arrival times only, no prefix information, so the chains come
 * from a documented prefix model: K = 8 shared system prompts of S = 1024 tokens, prompt k drawn
 * with Zipf probability (1 / (k + 1)) / H_8 by a deterministic generator seeded with the row's
 * index (splitmix64(row), its top 53 bits as a uniform u in [0, 1)); a request of L tokens holds
 * the first min(S, L - 1) tokens of its system prompt and then unique tokens (at least its last
 * token: every request has a message of its own). So block j (tokens [jB, (j+1)B)) is the shared
 * block j of prompt k when (j+1)B <= min(S, L - 1), SYSTEM, and a fresh block otherwise, USER.
 * Every request is its own session (NEW_SESSION). TIMESTAMP is a date and time,
 * "YYYY-MM-DD HH:MM:SS[.fraction]" (UTC, proleptic Gregorian; the fraction truncated to
 * microseconds); arrivals are microseconds since the first row's, and a row earlier than the
 * first is an error. Lines are read one at a time (getline) and fed to the builder directly; every
 * malformed field fails the load with the file, the line and the column.
 */
#include "sim/chunk_hash.h"
#include "sim/reader_util.h"
#include "sim/trace_build.h"
#include "sim/trace_readers.h"

#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROMPTS        8     /* K shared system prompts */
#define SYSTEM_TOKENS  1024u /* S tokens each */
#define MAX_PROMPT     (1u << 24)
#define FRESH_KEY_BASE (1ull << 63) /* fresh blocks: 2^63 + counter; system blocks below 2^60 */

enum { C_TIME, C_CONTEXT, C_GENERATED, NCOLS };
static const char *const col_names[NCOLS] = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"};

typedef struct az {
    kvt_line_reader_t in; /* path, line number, error */
    kvt_trace_t *t;
    uint32_t bt;
    size_t col[NCOLS];
    size_t ncols;
    char **fields;
    size_t cap_fields;
    bool have_first;
    int64_t first_us; /* the first row's time, microseconds since 1970 */
    uint64_t rows;    /* data rows so far */
    uint64_t next_key;
} az_t;

static kvt_status_t bad(const az_t *r, const char *field, const char *msg)
{
    return kvt_line_bad(&r->in, field, msg);
}

static kvt_status_t oom(const az_t *r)
{
    return kvt_no_memory(r->in.err, r->in.path);
}

/* Split s in place at commas (no quoting: every field of this format is a number or a time). */
static kvt_status_t split(void *self, char *s, size_t len, size_t *n_p)
{
    az_t *r = self;
    (void)len;
    size_t n = 0;
    for (;;) {
        if (!kvt_grow_array((void **)&r->fields, &r->cap_fields, n + 1, sizeof(*r->fields))) {
            return oom(r);
        }
        r->fields[n++] = s;
        char *c = strchr(s, ',');
        if (c == NULL) {
            break;
        }
        *c = '\0';
        s = c + 1;
    }
    *n_p = n;
    return KVT_OK;
}

static kvt_status_t header(void *self, size_t n)
{
    az_t *r = self;
    r->ncols = n;
    return kvt_csv_header(&r->in, r->fields, n, col_names, NCOLS, r->col);
}

/* A decimal integer in [0, max]. */
static kvt_status_t get_uint(const az_t *r, int c, uint64_t max, uint64_t *v_p)
{
    return kvt_csv_uint(&r->in, col_names[c], r->fields[r->col[c]], max, v_p);
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* n decimal digits at s, as a number; false if any is not a digit. */
static bool digits(const char *s, int n, unsigned *v_p)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *v_p = v;
    return true;
}

/* "YYYY-MM-DD HH:MM:SS[.fraction]" (or 'T' between date and time) -> microseconds since 1970. */
static kvt_status_t get_time(const az_t *r, int64_t *us_p)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *s = r->fields[r->col[C_TIME]];
    unsigned y, mo, d, h, mi, se;
    char msg[128];

    snprintf(msg, sizeof(msg), "expected YYYY-MM-DD HH:MM:SS[.fraction], got \"%.40s\"", s);
    if (strlen(s) < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != ' ' && s[10] != 'T') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se)) {
        return bad(r, "TIMESTAMP", msg);
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 59) {
        snprintf(msg, sizeof(msg), "no such date or time: \"%.40s\"", s);
        return bad(r, "TIMESTAMP", msg);
    }
    int64_t us = 0;
    const char *f = s + 19;
    if (*f == '.') {
        int n = 0;
        for (f++; *f >= '0' && *f <= '9'; f++, n++) {
            if (n < 6) {
                us = us * 10 + (*f - '0');
            }
        }
        if (n == 0) {
            return bad(r, "TIMESTAMP", msg);
        }
        for (; n < 6; n++) {
            us *= 10;
        }
    }
    if (*f != '\0') {
        snprintf(msg, sizeof(msg), "expected YYYY-MM-DD HH:MM:SS[.fraction], got \"%.40s\"", s);
        return bad(r, "TIMESTAMP", msg);
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    *us_p = secs * 1000000 + us;
    return KVT_OK;
}

/* The system prompt of data row `row`: k with probability (1 / (k + 1)) / H_K. */
static unsigned pick_prompt(uint64_t row)
{
    double u = (double)(kvt_splitmix64(row) >> 11) * 0x1p-53;
    double h = 0, c = 0;
    for (unsigned k = 0; k < PROMPTS; k++) {
        h += 1.0 / (k + 1);
    }
    for (unsigned k = 0; k < PROMPTS; k++) {
        c += 1.0 / (k + 1);
        if (u * h < c) {
            return k;
        }
    }
    return PROMPTS - 1;
}

static kvt_status_t one_row(void *self, size_t n)
{
    az_t *r = self;
    kvt_trace_t *t = r->t;
    uint64_t ctx, gen;
    int64_t us = 0;
    kvt_status_t st;
    char msg[128];

    if (n != r->ncols) {
        snprintf(msg, sizeof(msg), "%zu fields, but the header names %zu columns", n, r->ncols);
        return bad(r, NULL, msg);
    }
    if ((st = get_time(r, &us)) != KVT_OK ||
        (st = get_uint(r, C_CONTEXT, MAX_PROMPT, &ctx)) != KVT_OK ||
        (st = get_uint(r, C_GENERATED, UINT32_MAX, &gen)) != KVT_OK) {
        return st;
    }
    if (ctx == 0) {
        return bad(r, "ContextTokens", "must be positive");
    }
    if (!r->have_first) {
        r->first_us = us;
        r->have_first = true;
    }
    if (us < r->first_us) {
        return bad(r, "TIMESTAMP", "earlier than the first row's (arrivals count from it)");
    }
    if (r->rows >= UINT32_MAX) {
        return bad(r, NULL, "too many rows");
    }
    unsigned k = pick_prompt(r->rows);
    uint64_t bt = r->bt;
    uint64_t sys = ctx - 1 < SYSTEM_TOKENS ? ctx - 1 : SYSTEM_TOKENS;
    uint64_t nb = (ctx + bt - 1) / bt;
    if (kvt_trace_begin_request(t, (uint64_t)(us - r->first_us), (uint32_t)ctx, (uint32_t)gen,
                                (uint32_t)r->rows, KVT_TRANS_NEW_SESSION, KVT_NO_PARENT,
                                KVT_BLOCK_USER) != KVT_OK) {
        return oom(r);
    }
    for (uint64_t j = 0; j < nb; j++) {
        bool shared = (j + 1) * bt <= sys;
        uint64_t key = shared ? (uint64_t)(k + 1) << 56 | j : FRESH_KEY_BASE + r->next_key++;
        st = kvt_trace_add_block(t, key, shared ? KVT_BLOCK_SYSTEM : KVT_BLOCK_USER);
        if (st != KVT_OK) {
            return kvt_status_error(r->in.err, st, r->in.path, r->in.line);
        }
    }
    r->rows++;
    return KVT_OK;
}

kvt_status_t kvt_read_azure(FILE *f, const char *path, uint32_t bt, kvt_trace_t *t,
                            kvt_error_t *err)
{
    static const kvt_csv_ops_t ops = {split, header, one_row};
    az_t r = {.t = t, .bt = bt};
    kvt_status_t st;

    if (bt == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID, "%s: block_tokens must be positive", path);
    }
    kvt_line_reader_init(&r.in, f, path, err);
    st = kvt_csv_read(&r.in, &ops, &r);
    if (st == KVT_OK && t->info.requests == 0) {
        st = kvt_error_set(err, KVT_ERR_PARSE, "%s: no requests", path);
    }
    kvt_line_reader_fini(&r.in);
    free(r.fields);
    return st;
}
