/*
 * Reader of SWE-agent trajectories ("swe-traj"): `.traj` JSON files, one agent run each, whose
 * `history` lists the chat messages in the order they were sent (docs/traces.md states the rules).
 * Each assistant message is one LLM call: its prompt is every history message before it, its
 * output the assistant message itself. The prompt text is the messages serialized one after the
 * other as "<|role|>\n" + content + "\n" (content: the string, or the concatenated "text" of a
 * list of parts; null is empty), at 4 bytes per token, so a block of B tokens is a 4B-byte chunk
 * of that text, hashed with the chained chunk hash of chunk_hash.h. Every prompt of a run is a
 * prefix of the run's whole serialized history, so the history is hashed once, message by
 * message, and each call takes the full chunks hashed so far plus the key of the partial chunk in
 * progress. A block's type is that of the message holding its first byte: system SYSTEM, tool
 * TOOL, user USER before the first assistant message (the task) and TOOL after it (observations
 * of the environment), assistant OUTPUT. A run is a session: its first call NEW_SESSION, later
 * ones TOOL_RESULT. The files have no times: call k of session s arrives at s x 60 s + k x 10 s.
 * The JSON is read with the streaming pull parser (json_pull.c), so memory is the chunk keys of
 * one run (8 bytes per block) plus the largest message; a file over 256 MiB is refused. Given a
 * directory, every *.traj file under it (recursively, symbolic links to directories not
 * followed) is read in byte order of the path, one session per run with calls.
 */
#include "sim/chunk_hash.h"
#include "sim/json_pull.h"
#include "sim/trace_build.h"
#include "sim/trace_readers.h"

#include "common/error.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BYTES_PER_TOKEN 4
#define STEP_GAP_US     (10ull * 1000 * 1000) /* call k of a run at k x 10 s */
#define SESSION_GAP_US  (60ull * 1000 * 1000) /* run s starts at s x 60 s */
#define MAX_FILE_BYTES  (256ull << 20)
#define MAX_PROMPT      (1u << 24) /* tokens, as the other readers */
#define MAX_DIR_DEPTH   32

typedef struct traj {
    kvt_jp_t *jp;
    const char *path; /* the file being read */
    kvt_error_t *err;
    kvt_trace_t *t;
    uint32_t bt;
    kvt_chunker_t ch; /* over the run's serialized history */
    uint8_t *ctype;   /* type of each full chunk */
    size_t cap_ctype;
    uint8_t cur_type; /* type of the chunk in progress */
    char *content;    /* the current message's content */
    size_t clen, ccap;
    uint64_t index; /* of the current message in history */
    uint64_t line;  /* where the current message starts */
    /* per run */
    bool seen_assistant; /* an assistant message was read */
    bool has_session;
    uint32_t session;
    uint64_t steps;
    uint64_t last_req;
} traj_t;

static kvt_status_t oom(const traj_t *r)
{
    return kvt_error_set(r->err, KVT_ERR_NO_MEMORY, "%s: out of memory", r->path);
}

/* An error about member `member` of history[index]. */
static kvt_status_t bad_msg(const traj_t *r, uint64_t line, const char *member, const char *msg)
{
    char field[96];
    snprintf(field, sizeof(field), "history[%llu]%s%s", (unsigned long long)r->index,
             member ? "." : "", member ? member : "");
    return kvt_jp_bad(r->jp, line, field, msg);
}

static kvt_status_t content_sink(void *ctx, const char *bytes, size_t n)
{
    traj_t *r = ctx;
    if (n > MAX_FILE_BYTES - r->clen) {
        return bad_msg(r, r->jp->value_line, "content", "longer than 256 MiB");
    }
    if (r->clen + n > r->ccap) {
        size_t cap = r->ccap ? r->ccap : 4096;
        while (cap < r->clen + n) {
            cap *= 2;
        }
        char *c = realloc(r->content, cap);
        if (c == NULL) {
            return oom(r);
        }
        r->content = c;
        r->ccap = cap;
    }
    memcpy(r->content + r->clen, bytes, n);
    r->clen += n;
    return KVT_OK;
}

typedef struct small {
    char s[32];
    size_t n;
    bool too_long;
} small_t;

static kvt_status_t small_sink(void *ctx, const char *bytes, size_t n)
{
    small_t *b = ctx;
    if (n >= sizeof(b->s) - b->n || memchr(bytes, '\0', n) != NULL) {
        b->too_long = true;
        return KVT_OK;
    }
    memcpy(b->s + b->n, bytes, n);
    b->n += n;
    b->s[b->n] = '\0';
    return KVT_OK;
}

/* content: a string, null, or an array of parts (strings, or objects whose "text" counts). */
static kvt_status_t read_content(traj_t *r)
{
    kvt_jp_t *p = r->jp;
    kvt_jp_kind_t k;
    kvt_status_t st;
    bool first = true, more;
    static const char want[] = "expected a string, null or an array of text parts";

    r->clen = 0;
    if ((st = kvt_jp_peek(p, &k)) != KVT_OK) {
        return st;
    }
    if (k == KVT_JP_STRING) {
        return kvt_jp_string(p, content_sink, r);
    }
    if (k == KVT_JP_NULL) {
        return kvt_jp_skip(p);
    }
    if (k != KVT_JP_ARRAY) {
        return bad_msg(r, p->value_line, "content", want);
    }
    if ((st = kvt_jp_open(p)) != KVT_OK) {
        return st;
    }
    while ((st = kvt_jp_element(p, &first, &more)) == KVT_OK && more) {
        if ((st = kvt_jp_peek(p, &k)) != KVT_OK) {
            return st;
        }
        if (k == KVT_JP_STRING) {
            st = kvt_jp_string(p, content_sink, r);
        } else if (k == KVT_JP_OBJECT) {
            bool f2 = true, m2;
            if ((st = kvt_jp_open(p)) != KVT_OK) {
                return st;
            }
            while ((st = kvt_jp_member(p, &f2, &m2)) == KVT_OK && m2) {
                if (!p->key_long && strcmp(p->key, "text") == 0) {
                    if ((st = kvt_jp_peek(p, &k)) != KVT_OK) {
                        return st;
                    }
                    if (k != KVT_JP_STRING) {
                        return bad_msg(r, p->value_line, "content",
                                       "a part's text is not a string");
                    }
                    st = kvt_jp_string(p, content_sink, r);
                } else {
                    st = kvt_jp_skip(p);
                }
                if (st != KVT_OK) {
                    return st;
                }
            }
        } else {
            return bad_msg(r, p->value_line, "content", want);
        }
        if (st != KVT_OK) {
            return st;
        }
    }
    return st;
}

/* Feed serialized history bytes of one message type, noting the type of each chunk begun. */
static kvt_status_t feed(traj_t *r, const char *s, size_t n, uint8_t type)
{
    while (n > 0) {
        if (r->ch.fill == 0) {
            r->cur_type = type;
        }
        size_t m = r->ch.chunk - r->ch.fill < n ? r->ch.chunk - r->ch.fill : n;
        size_t before = r->ch.nkeys;
        if (kvt_chunker_feed(&r->ch, s, m) != KVT_OK) {
            return oom(r);
        }
        if (r->ch.nkeys > before) {
            if (r->ch.nkeys > r->cap_ctype) {
                size_t cap = r->ch.cap;
                uint8_t *q = realloc(r->ctype, cap);
                if (q == NULL) {
                    return oom(r);
                }
                r->ctype = q;
                r->cap_ctype = cap;
            }
            r->ctype[before] = r->cur_type;
        }
        s += m;
        n -= m;
    }
    return KVT_OK;
}

/* The LLM call behind an assistant message: the history so far is its prompt. */
static kvt_status_t call(traj_t *r, uint64_t out_bytes)
{
    uint64_t in = (r->ch.total + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN;
    uint64_t out = (out_bytes + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN;
    uint64_t parent = KVT_NO_PARENT, key;
    kvt_transition_t tr = KVT_TRANS_TOOL_RESULT;
    kvt_status_t st;
    char msg[160];

    if (in == 0) {
        return bad_msg(r, r->line, "role",
                       "an assistant message first in the history (its prompt would be empty)");
    }
    if (in > MAX_PROMPT) {
        snprintf(msg, sizeof(msg),
                 "the prompt before this message has %llu tokens (of %d bytes), "
                 "more than %u",
                 (unsigned long long)in, BYTES_PER_TOKEN, MAX_PROMPT);
        return bad_msg(r, r->line, NULL, msg);
    }
    if (!r->has_session) {
        if (r->t->max_session == UINT32_MAX) {
            return bad_msg(r, r->line, NULL, "too many sessions");
        }
        r->session = r->t->max_session;
        r->has_session = true;
        tr = KVT_TRANS_NEW_SESSION;
    } else {
        parent = r->last_req;
    }
    uint64_t t_us = r->session * SESSION_GAP_US + r->steps * STEP_GAP_US;
    if (kvt_trace_begin_request(r->t, t_us, (uint32_t)in,
                                out > UINT32_MAX ? UINT32_MAX : (uint32_t)out, r->session, tr,
                                parent, KVT_BLOCK_TOOL) != KVT_OK) {
        return oom(r);
    }
    for (size_t i = 0; i < r->ch.nkeys; i++) {
        if ((st = kvt_trace_add_block(r->t, r->ch.keys[i], r->ctype[i])) != KVT_OK) {
            return kvt_error_set(r->err, st, "%s:%llu: %s", r->path, (unsigned long long)r->line,
                                 kvt_status_str(st));
        }
    }
    if (kvt_chunker_partial(&r->ch, &key) &&
        (st = kvt_trace_add_block(r->t, key, r->cur_type)) != KVT_OK) {
        return kvt_error_set(r->err, st, "%s:%llu: %s", r->path, (unsigned long long)r->line,
                             kvt_status_str(st));
    }
    r->last_req = r->t->info.requests - 1;
    r->steps++;
    return KVT_OK;
}

/* One history message, an object: {role, content, ...}. */
static kvt_status_t message(traj_t *r)
{
    kvt_jp_t *p = r->jp;
    kvt_jp_kind_t k;
    kvt_status_t st;
    bool first = true, more, have_content = false;
    small_t role = {.n = 0};
    bool have_role = false;
    uint8_t type;

    if ((st = kvt_jp_peek(p, &k)) != KVT_OK) {
        return st;
    }
    r->line = p->value_line;
    if (k != KVT_JP_OBJECT) {
        return bad_msg(r, r->line, NULL, "expected a message object {role, content, ...}");
    }
    if ((st = kvt_jp_open(p)) != KVT_OK) {
        return st;
    }
    while ((st = kvt_jp_member(p, &first, &more)) == KVT_OK && more) {
        if (!p->key_long && strcmp(p->key, "role") == 0) {
            if ((st = kvt_jp_peek(p, &k)) != KVT_OK) {
                return st;
            }
            if (k != KVT_JP_STRING) {
                return bad_msg(r, p->value_line, "role", "expected a string");
            }
            role.n = 0;
            role.s[0] = '\0';
            role.too_long = false;
            st = kvt_jp_string(p, small_sink, &role);
            have_role = true;
        } else if (!p->key_long && strcmp(p->key, "content") == 0) {
            st = read_content(r);
            have_content = true;
        } else {
            st = kvt_jp_skip(p);
        }
        if (st != KVT_OK) {
            return st;
        }
    }
    if (st != KVT_OK) {
        return st;
    }
    if (!have_role) {
        return bad_msg(r, r->line, "role", "missing");
    }
    if (!have_content) {
        return bad_msg(r, r->line, "content", "missing");
    }
    if (role.too_long) {
        return bad_msg(r, r->line, "role",
                       "unknown role (expected system, user, assistant or tool)");
    }
    if (strcmp(role.s, "system") == 0) {
        type = KVT_BLOCK_SYSTEM;
    } else if (strcmp(role.s, "assistant") == 0) {
        type = KVT_BLOCK_OUTPUT;
    } else if (strcmp(role.s, "tool") == 0) {
        type = KVT_BLOCK_TOOL;
    } else if (strcmp(role.s, "user") == 0) {
        type = r->seen_assistant ? KVT_BLOCK_TOOL : KVT_BLOCK_USER;
    } else {
        char msg[128]; /* kvt_error_set shows a control character in role as '?' */
        snprintf(msg, sizeof(msg), "unknown role \"%s\" (expected system, user, assistant or tool)",
                 role.s);
        return bad_msg(r, r->line, "role", msg);
    }
    char tag[48];
    int tlen = snprintf(tag, sizeof(tag), "<|%s|>\n", role.s);
    if (type == KVT_BLOCK_OUTPUT) {
        if ((st = call(r, (uint64_t)tlen + r->clen + 1)) != KVT_OK) {
            return st;
        }
        r->seen_assistant = true;
    }
    if ((st = feed(r, tag, (size_t)tlen, type)) != KVT_OK ||
        (st = feed(r, r->content, r->clen, type)) != KVT_OK ||
        (st = feed(r, "\n", 1, type)) != KVT_OK) {
        return st;
    }
    return KVT_OK;
}

/* One .traj file: a JSON object whose "history" member holds the messages. */
static kvt_status_t one_file(traj_t *r, FILE *f, const char *path)
{
    kvt_jp_t *p = r->jp;
    kvt_jp_kind_t k;
    kvt_status_t st;
    bool first = true, more, have_history = false;
    struct stat sb;

    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) &&
        (uint64_t)sb.st_size > MAX_FILE_BYTES) {
        return kvt_error_set(r->err, KVT_ERR_PARSE,
                             "%s: %llu bytes: a .traj file may have at most 256 MiB", path,
                             (unsigned long long)sb.st_size);
    }
    r->path = path;
    kvt_jp_init(p, f, path, r->err);
    kvt_chunker_reset(&r->ch);
    r->seen_assistant = r->has_session = false;
    r->steps = 0;
    if ((st = kvt_jp_peek(p, &k)) != KVT_OK) {
        return st;
    }
    uint64_t top = p->value_line;
    if (k != KVT_JP_OBJECT) {
        return kvt_jp_bad(p, top, NULL, "expected a JSON object (a SWE-agent trajectory)");
    }
    if ((st = kvt_jp_open(p)) != KVT_OK) {
        return st;
    }
    while ((st = kvt_jp_member(p, &first, &more)) == KVT_OK && more) {
        if (p->key_long || strcmp(p->key, "history") != 0) {
            if ((st = kvt_jp_skip(p)) != KVT_OK) {
                return st;
            }
            continue;
        }
        if (have_history) {
            return kvt_jp_bad(p, p->line, "history", "given twice");
        }
        have_history = true;
        if ((st = kvt_jp_peek(p, &k)) != KVT_OK) {
            return st;
        }
        if (k != KVT_JP_ARRAY) {
            return kvt_jp_bad(p, p->value_line, "history", "expected an array of messages");
        }
        if ((st = kvt_jp_open(p)) != KVT_OK) {
            return st;
        }
        bool f2 = true, m2;
        for (r->index = 0; (st = kvt_jp_element(p, &f2, &m2)) == KVT_OK && m2; r->index++) {
            if ((st = message(r)) != KVT_OK) {
                return st;
            }
        }
        if (st != KVT_OK) {
            return st;
        }
    }
    if (st != KVT_OK) {
        return st;
    }
    if (!have_history) {
        return kvt_jp_bad(p, top, "history", "missing (not a SWE-agent trajectory?)");
    }
    return kvt_jp_finish(p);
}

typedef struct paths {
    char **v;
    size_t n, cap;
} paths_t;

static int by_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Every *.traj under dir (regular files, or links to them), into ps. */
static kvt_status_t collect(const char *dir, int depth, paths_t *ps, kvt_error_t *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    kvt_status_t st = KVT_OK;

    if (d == NULL) {
        return kvt_error_set(err, KVT_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
    }
    while (st == KVT_OK && (e = readdir(d)) != NULL) {
        struct stat sb;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *full = malloc(len);
        if (full == NULL) {
            st = kvt_error_set(err, KVT_ERR_NO_MEMORY, "%s: out of memory", dir);
            break;
        }
        snprintf(full, len, "%s/%s", dir, e->d_name);
        if (lstat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if (depth < MAX_DIR_DEPTH) {
                st = collect(full, depth + 1, ps, err);
            }
            free(full);
            continue;
        }
        if (!ends_with(e->d_name, ".traj") || stat(full, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(full);
            continue;
        }
        if (ps->n == ps->cap) {
            size_t cap = ps->cap ? ps->cap * 2 : 64;
            char **v = realloc(ps->v, cap * sizeof(*v));
            if (v == NULL) {
                free(full);
                st = kvt_error_set(err, KVT_ERR_NO_MEMORY, "%s: out of memory", dir);
                break;
            }
            ps->v = v;
            ps->cap = cap;
        }
        ps->v[ps->n++] = full;
    }
    closedir(d);
    return st;
}

kvt_status_t kvt_read_swe_traj(FILE *f, const char *path, uint32_t bt, kvt_trace_t *t,
                               kvt_error_t *err)
{
    traj_t r = {.path = path, .err = err, .t = t, .bt = bt};
    paths_t ps = {NULL, 0, 0};
    kvt_status_t st = KVT_OK;

    if (bt == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID, "%s: block_tokens must be positive", path);
    }
    r.jp = malloc(sizeof(*r.jp));
    if (r.jp == NULL) {
        return oom(&r);
    }
    kvt_chunker_init(&r.ch, (size_t)bt * BYTES_PER_TOKEN);
    if (f != NULL) {
        st = one_file(&r, f, path);
    } else {
        st = collect(path, 0, &ps, err);
        if (st == KVT_OK && ps.n == 0) {
            st = kvt_error_set(err, KVT_ERR_PARSE, "%s: no .traj files in this directory", path);
        }
        if (st == KVT_OK) {
            qsort(ps.v, ps.n, sizeof(*ps.v), by_path);
        }
        for (size_t i = 0; i < ps.n && st == KVT_OK; i++) {
            FILE *g = fopen(ps.v[i], "r");
            if (g == NULL) {
                st =
                    kvt_error_set(err, KVT_ERR_IO, "%s: cannot open: %s", ps.v[i], strerror(errno));
                break;
            }
            st = one_file(&r, g, ps.v[i]);
            fclose(g);
        }
    }
    if (st == KVT_OK && t->info.requests == 0) {
        st = kvt_error_set(err, KVT_ERR_PARSE, "%s: no requests (no assistant message in %s)", path,
                           f != NULL ? "the history" : "any history");
    }
    for (size_t i = 0; i < ps.n; i++) {
        free(ps.v[i]);
    }
    free(ps.v);
    kvt_chunker_fini(&r.ch);
    free(r.ctype);
    free(r.content);
    free(r.jp);
    return st;
}
