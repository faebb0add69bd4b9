/*
 * Reader of agent-session per-call CSV traces ("agent-csv"): one row per LLM API call of an agent
 * run, with token counts but no block hashes (the AgentCgroup Claude Code logs under
 * ../shared/traces/agentcgroup-claude-code). docs/traces.md states the rules; in short: the prompt
 * length is L = input_tokens + cache_creation_input_tokens + cache_read_input_tokens (an empty
 * cell counts 0). Each session has a main chain and a sub-agent (sidechain) chain, each its calls
 * in call order. A call reuses the first floor(shared / block_tokens) blocks of the previous call
 * of its chain, where shared is cache_read_input_tokens when that cell is filled (the prefix the
 * provider served from its prompt cache) and min(previous L + previous output, L) when it is empty
 * (local runs without prompt caching: an append-only agent loop), never more than the previous
 * prompt's full blocks (a chain holds only its prompt, so the blocks over the previous output
 * are new ones); a chain's first call reuses nothing, whatever its cache_read says. Every other
 * block gets a fresh 64-bit key from a counter, so sessions share nothing. Types: every block of
 * a session's first main-chain call is SYSTEM; a sidechain's first call starts a fresh chain
 * typed by the builder's rule for requests without parent (position 0 SYSTEM, the rest TOOL); in
 * later calls new blocks starting inside the previous call's output are OUTPUT and the others
 * TOOL (tool results). The file's times are relative to each session's
 * start, so sessions (dense ids, in order of first appearance) are laid on one timeline, session
 * k starting at k x 60 s. Rows may come in any order: lines are read one at a time (getline),
 * validated, kept as 48-byte records, then sorted by (session, call) and fed to the builder, so
 * memory stays a small fraction of the trace built. Rows of model "<synthetic>" with an empty
 * prompt (placeholders Claude Code writes itself, with no API call behind them) are validated and
 * skipped; any other empty prompt fails the load, as does every malformed field, with the file,
 * the line number and the column.
 */
#include "sim/reader_util.h"
#include "sim/trace_build.h"
#include "sim/trace_readers.h"

#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_GAP_US (60ull * 1000 * 1000) /* session k starts at k x 60 s */
#define MAX_PROMPT     (1u << 24)            /* tokens per prompt, beyond any context window */
#define MAX_TIME_MS    1000000000000000ull   /* 1e15 ms: arrivals in microseconds fit 64 bits */
#define SYNTHETIC      "<synthetic>"

enum {
    C_TRACE,
    C_CALL,
    C_MODEL,
    C_SIDECHAIN,
    C_T_START,
    C_T_LAST,
    C_INPUT,
    C_CREATION,
    C_READ,
    C_OUTPUT,
    NCOLS
};

static const char *const col_names[NCOLS] = {"trace",
                                             "call",
                                             "model",
                                             "sidechain",
                                             "t_start_ms",
                                             "t_last_ms",
                                             "input_tokens",
                                             "cache_creation_input_tokens",
                                             "cache_read_input_tokens",
                                             "output_tokens"};

/* One validated call, kept until every line is read. */
typedef struct row {
    uint64_t line;
    uint64_t call;
    uint64_t t_start_ms;
    uint32_t session;
    uint32_t prompt; /* L */
    uint32_t read;   /* cache_read_input_tokens, when has_read */
    uint32_t output;
    uint8_t sidechain;
    uint8_t has_read;
} row_t;

/* The previous call of a (session, sidechain) chain. */
typedef struct chain {
    uint64_t *keys; /* its blocks */
    size_t cap;
    uint64_t req; /* its request index */
    uint32_t prompt, output;
    bool open;
} chain_t;

typedef struct reader {
    kvt_line_reader_t in; /* path, line number, error */
    uint32_t bt;
    size_t col[NCOLS]; /* field index of each column */
    size_t ncols;      /* fields per line: the header's */
    char **fields;     /* the current line's, split in place */
    size_t cap_fields;
    row_t *rows;
    size_t nrows, cap_rows;
    kvt_idmap_t sessions; /* (name hash + probe) -> session id */
    char *names;          /* session names, NUL-terminated, back to back */
    size_t names_len, names_cap;
    size_t *name_off; /* session id -> offset in names */
    size_t nsessions, cap_off;
    uint64_t next_key; /* the next block key to mint */
} reader_t;

static kvt_status_t bad(const reader_t *r, const char *field, const char *msg)
{
    return kvt_line_bad(&r->in, field, msg);
}

static kvt_status_t oom(const reader_t *r)
{
    return kvt_no_memory(r->in.err, r->in.path);
}

/*
 * Split s[0..len) (NUL-terminated at len) in place at commas into r->fields. A field that starts
 * with a double quote runs to the closing quote and may hold commas and "" for a quote (RFC
 * 4180, without line breaks inside a field).
 */
static kvt_status_t split(void *self, char *s, size_t len, size_t *n_p)
{
    reader_t *r = self;
    size_t n = 0, i = 0;
    for (;;) {
        if (!kvt_grow_array((void **)&r->fields, &r->cap_fields, n + 1, sizeof(*r->fields))) {
            return oom(r);
        }
        r->fields[n++] = s + i;
        if (i < len && s[i] == '"') {
            size_t w = i++;
            for (;;) {
                if (i == len) {
                    return bad(r, NULL, "unterminated quoted field");
                }
                if (s[i] == '"') {
                    if (i + 1 < len && s[i + 1] == '"') {
                        i++;
                    } else {
                        break;
                    }
                }
                s[w++] = s[i++];
            }
            s[w] = '\0';
            i++; /* the closing quote */
            if (i < len && s[i] != ',') {
                return bad(r, NULL, "text after a closing quote");
            }
        } else {
            while (i < len && s[i] != ',') {
                i++;
            }
        }
        if (i >= len) {
            break;
        }
        s[i++] = '\0';
    }
    *n_p = n;
    return KVT_OK;
}

static kvt_status_t header(void *self, size_t n)
{
    reader_t *r = self;
    r->ncols = n;
    return kvt_csv_header(&r->in, r->fields, n, col_names, NCOLS, r->col);
}

static const char *cell(const reader_t *r, int c)
{
    return r->fields[r->col[c]];
}

/* A decimal integer in [0, max]; an empty cell only where allow_empty (then *present_p false). */
static kvt_status_t get_uint(const reader_t *r, int c, uint64_t max, bool allow_empty,
                             uint64_t *v_p, bool *present_p)
{
    const char *s = cell(r, c);
    char msg[128];

    if (*s == '\0' && allow_empty) {
        *v_p = 0;
        *present_p = false;
        return KVT_OK;
    }
    if (*s == '-' && s[1] >= '0' && s[1] <= '9') {
        snprintf(msg, sizeof(msg), "must be non-negative, got \"%.32s\"", s);
        return bad(r, col_names[c], msg);
    }
    *present_p = true;
    return kvt_csv_uint(&r->in, col_names[c], s, max, v_p);
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

/* The dense id of a session name, the next one if new (open addressing over the id map). */
static kvt_status_t session_id(reader_t *r, const char *name, uint32_t *id_p)
{
    uint64_t k = hash_name(name);
    uint32_t id;
    for (; kvt_idmap_find(&r->sessions, k, &id); k++) {
        if (strcmp(r->names + r->name_off[id], name) == 0) {
            *id_p = id;
            return KVT_OK;
        }
    }
    if (r->nsessions >= UINT32_MAX - 1) {
        return bad(r, "trace", "too many sessions");
    }
    size_t len = strlen(name) + 1;
    if (!kvt_grow_array((void **)&r->names, &r->names_cap, r->names_len + len, 1) ||
        !kvt_grow_array((void **)&r->name_off, &r->cap_off, r->nsessions + 1, sizeof(*r->name_off)) ||
        kvt_idmap_intern(&r->sessions, k, &id) != KVT_OK) {
        return oom(r);
    }
    /* ids are handed out in order, so id == r->nsessions */
    memcpy(r->names + r->names_len, name, len);
    r->name_off[id] = r->names_len;
    r->names_len += len;
    r->nsessions++;
    *id_p = id;
    return KVT_OK;
}

static kvt_status_t one_row(void *self, size_t n)
{
    reader_t *r = self;
    uint64_t call, t0, t1, in, cre, rd, out;
    bool present, has_read;
    kvt_status_t st;
    char msg[160];

    if (n != r->ncols) {
        snprintf(msg, sizeof(msg), "%zu fields, but the header names %zu columns", n, r->ncols);
        return bad(r, NULL, msg);
    }
    if (*cell(r, C_TRACE) == '\0') {
        return bad(r, "trace", "empty (the session id is required)");
    }
    if ((st = get_uint(r, C_CALL, UINT64_MAX, false, &call, &present)) != KVT_OK) {
        return st;
    }
    const char *sc = cell(r, C_SIDECHAIN);
    if ((sc[0] != '0' && sc[0] != '1') || sc[1] != '\0') {
        snprintf(msg, sizeof(msg), "expected 0 or 1, got \"%.32s\"", sc);
        return bad(r, "sidechain", msg);
    }
    if ((st = get_uint(r, C_T_START, MAX_TIME_MS, false, &t0, &present)) != KVT_OK ||
        (st = get_uint(r, C_T_LAST, MAX_TIME_MS, false, &t1, &present)) != KVT_OK ||
        (st = get_uint(r, C_INPUT, UINT32_MAX, false, &in, &present)) != KVT_OK ||
        (st = get_uint(r, C_CREATION, UINT32_MAX, true, &cre, &present)) != KVT_OK ||
        (st = get_uint(r, C_READ, UINT32_MAX, true, &rd, &has_read)) != KVT_OK ||
        (st = get_uint(r, C_OUTPUT, UINT32_MAX, false, &out, &present)) != KVT_OK) {
        return st;
    }
    if (t1 < t0) {
        return bad(r, "t_last_ms", "earlier than t_start_ms");
    }
    uint64_t prompt = in + cre + rd;
    if (prompt > MAX_PROMPT) {
        snprintf(msg, sizeof(msg),
                 "prompt of %llu tokens (input + cache_creation + cache_read) exceeds %u",
                 (unsigned long long)prompt, MAX_PROMPT);
        return bad(r, "input_tokens", msg);
    }
    if (prompt == 0) {
        if (strcmp(cell(r, C_MODEL), SYNTHETIC) == 0) {
            return KVT_OK; /* no API call behind it: skipped */
        }
        return bad(r, "input_tokens",
                   "empty prompt (input + cache_creation + cache_read tokens are 0)");
    }
    if (r->nrows >= UINT32_MAX) {
        return bad(r, NULL, "too many rows");
    }
    if (!kvt_grow_array((void **)&r->rows, &r->cap_rows, r->nrows + 1, sizeof(*r->rows))) {
        return oom(r);
    }
    row_t *w = &r->rows[r->nrows];
    if ((st = session_id(r, cell(r, C_TRACE), &w->session)) != KVT_OK) {
        return st;
    }
    w->line = r->in.line;
    w->call = call;
    w->t_start_ms = t0;
    w->prompt = (uint32_t)prompt;
    w->read = (uint32_t)rd;
    w->output = (uint32_t)out;
    w->sidechain = (uint8_t)(sc[0] - '0');
    w->has_read = has_read;
    r->nrows++;
    return KVT_OK;
}

static int by_session_call(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->session != y->session) {
        return x->session < y->session ? -1 : 1;
    }
    if (x->call != y->call) {
        return x->call < y->call ? -1 : 1;
    }
    return x->line < y->line ? -1 : x->line > y->line;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* One call: its chain continues the previous call of its (session, sidechain) chain, if any. */
static kvt_status_t add_call(reader_t *r, const row_t *w, chain_t *ch, uint64_t **scratch,
                             size_t *scratch_cap, kvt_trace_t *t)
{
    uint64_t bt = r->bt;
    uint64_t nb = (w->prompt + bt - 1) / bt;
    uint64_t reused = 0, parent = KVT_NO_PARENT;
    unsigned first = KVT_BLOCK_INFER; /* type of the new blocks of a chain's first call */
    kvt_transition_t tr;
    kvt_status_t st;

    if (ch->open) {
        uint64_t shared = w->has_read ? min_u64(w->read, ch->prompt)
                                      : min_u64((uint64_t)ch->prompt + ch->output, w->prompt);
        reused = min_u64(shared / bt, ch->prompt / bt);
        parent = ch->req;
        tr = KVT_TRANS_TOOL_RESULT;
    } else if (w->sidechain) {
        tr = KVT_TRANS_HANDOFF;
    } else {
        tr = KVT_TRANS_NEW_SESSION;
        first = KVT_BLOCK_SYSTEM;
    }
    if (!kvt_grow_array((void **)scratch, scratch_cap, nb, sizeof(**scratch))) {
        return oom(r);
    }
    uint64_t t_us = w->session * SESSION_GAP_US + w->t_start_ms * 1000;
    if (kvt_trace_begin_request(t, t_us, w->prompt, w->output, w->session, tr, parent,
                                KVT_BLOCK_TOOL) != KVT_OK) {
        return oom(r);
    }
    for (uint64_t p = 0; p < nb; p++) {
        uint64_t key = p < reused ? ch->keys[p] : r->next_key++;
        (*scratch)[p] = key;
        if ((st = kvt_trace_add_block(t, key, p < reused ? KVT_BLOCK_INFER : first)) != KVT_OK) {
            return kvt_status_error(r->in.err, st, r->in.path, r->in.line);
        }
    }
    /* this call's chain becomes the one the next call continues */
    uint64_t *k = ch->keys;
    size_t cap = ch->cap;
    ch->keys = *scratch;
    ch->cap = *scratch_cap;
    *scratch = k;
    *scratch_cap = cap;
    ch->req = t->info.requests - 1;
    ch->prompt = w->prompt;
    ch->output = w->output;
    ch->open = true;
    return KVT_OK;
}

static kvt_status_t build(reader_t *r, kvt_trace_t *t)
{
    chain_t chains[2] = {{0}, {0}}; /* main, sidechain */
    uint64_t *scratch = NULL;
    size_t scratch_cap = 0;
    kvt_status_t st = KVT_OK;
    char msg[160];

    if (r->nrows > 1) {
        qsort(r->rows, r->nrows, sizeof(*r->rows), by_session_call);
    }
    for (size_t i = 0; i < r->nrows && st == KVT_OK; i++) {
        const row_t *w = &r->rows[i];
        r->in.line = w->line;
        if (i > 0 && r->rows[i - 1].session == w->session) {
            if (r->rows[i - 1].call == w->call) {
                snprintf(msg, sizeof(msg), "call %llu of this session is also on line %llu",
                         (unsigned long long)w->call, (unsigned long long)r->rows[i - 1].line);
                st = bad(r, "call", msg);
                break;
            }
        } else {
            chains[0].open = chains[1].open = false;
        }
        st = add_call(r, w, &chains[w->sidechain], &scratch, &scratch_cap, t);
    }
    free(chains[0].keys);
    free(chains[1].keys);
    free(scratch);
    return st;
}

kvt_status_t kvt_read_agent_csv(FILE *f, const char *path, uint32_t bt, kvt_trace_t *t,
                                kvt_error_t *err)
{
    static const kvt_csv_ops_t ops = {split, header, one_row};
    reader_t r = {.bt = bt};
    kvt_status_t st;

    if (bt == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID, "%s: block_tokens must be positive", path);
    }
    kvt_line_reader_init(&r.in, f, path, err);
    if (kvt_idmap_init(&r.sessions, 256) != KVT_OK) {
        return oom(&r);
    }
    if ((st = kvt_csv_read(&r.in, &ops, &r)) == KVT_OK) {
        st = build(&r, t);
    }
    if (st == KVT_OK && t->info.requests == 0) {
        st = kvt_error_set(err, KVT_ERR_PARSE, "%s: no requests", path);
    }
    kvt_line_reader_fini(&r.in);
    free(r.fields);
    free(r.rows);
    free(r.names);
    free(r.name_off);
    kvt_idmap_fini(&r.sessions);
    return st;
}
