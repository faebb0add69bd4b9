/*
 * The built-in workload generator.
 *
 * Sessions arrive as a Poisson process; each is generated whole (the builder orders requests by
 * arrival at the end). A session's prompt grows turn by turn as a list of token counts typed by
 * content; its chain of blocks is known without hashing: the full blocks of the previous prompt
 * keep their ids, the block that the previous prompt left partial is completed by new tokens and
 * so becomes a new block, and everything after it is new. Shared prefixes -- system prompts and
 * RAG documents -- have fixed id arrays, so sessions that share them share blocks exactly as a
 * prefix-hashing engine would. Ids are dense from the start, so a 100-million-reference trace
 * costs four bytes per reference and no hash table.
 *
 * Distributions (docs/traces.md): token counts are log-normal (median, sigma) and clipped; a chat
 * continues after turn k with probability 0.3 + 0.5 (1 - e^(-k/3)) -- rising with depth as in the
 * Mooncake conversation trace -- after a think time of median 60 s; an agent step follows the
 * previous one with probability 0.97 after the model's output time plus a tool time of median
 * 3 s, and hands a sub-task to a sub-agent (a second chain on the same system prompt) with
 * probability 0.05; a RAG question picks one of 500 documents by Zipf(1) popularity.
 */
#include <kvtier/generator.h>

#include "common/error.h"
#include "common/mix64.h"
#include "sim/reader_util.h"
#include "sim/trace_build.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N_CHAT_SYS  16
#define N_AGENT_SYS 4
#define N_RAG_SYS   4
#define N_DOCS      500
#define TOKENS_PER_S 50.0 /* decode speed used for the model's share of gaps */

typedef struct rng {
    uint64_t s;
} rng_t;

static uint64_t next_u64(rng_t *r)
{
    return kvt_mix64(r->s += KVT_SPLITMIX_GAMMA);
}

static double uniform(rng_t *r) /* (0, 1) */
{
    return ((double)(next_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

static double normal(rng_t *r)
{
    return sqrt(-2 * log(uniform(r))) * cos(6.283185307179586 * uniform(r));
}

static uint32_t lognormal(rng_t *r, double median, double sigma, uint32_t lo, uint32_t hi)
{
    double v = median * exp(sigma * normal(r));
    return v < lo ? lo : v > hi ? hi : (uint32_t)v;
}

static double exponential(rng_t *r, double rate)
{
    return -log(uniform(r)) / rate;
}

/* Zipf(1) over n items by inversion of the harmonic CDF (n is small). */
static uint32_t zipf(rng_t *r, const double *cdf, uint32_t n)
{
    double u = uniform(r);
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cdf[mid] < u) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* A growable array of block ids. */
typedef struct chain {
    uint32_t *ids;
    size_t n, cap;
} chain_t;

static kvt_status_t chain_push(chain_t *c, uint32_t id)
{
    if (!kvt_grow_array((void **)&c->ids, &c->cap, c->n + 1, sizeof(*c->ids))) {
        return KVT_ERR_NO_MEMORY;
    }
    c->ids[c->n++] = id;
    return KVT_OK;
}

/* A shared prefix: its tokens and the ids of its full blocks (assigned on first use). */
typedef struct prefix {
    uint32_t tokens;
    uint32_t sys_tokens; /* the system prompt's part; the rest (a RAG document) is tool content */
    chain_t blocks;
    bool made;
} prefix_t;

typedef struct gen {
    kvt_gen_opts_t o;
    rng_t rng;
    kvt_trace_t *t;
    uint32_t bt;
    prefix_t chat_sys[N_CHAT_SYS], agent_sys[N_AGENT_SYS];
    prefix_t rag[N_RAG_SYS][N_DOCS]; /* system prompt + document */
    uint32_t rag_sys_tokens[N_RAG_SYS];
    uint32_t doc_tokens[N_DOCS];
    double sys_cdf[N_CHAT_SYS], doc_cdf[N_DOCS];
    uint32_t session;
} gen_t;

static void make_cdf(double *cdf, uint32_t n)
{
    double acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc += 1.0 / (i + 1);
        cdf[i] = acc;
    }
    for (uint32_t i = 0; i < n; i++) {
        cdf[i] /= acc;
    }
}

/*
 * One request: prompt of `tokens` tokens, whose first `keep` blocks are `chain`'s (the part of
 * the previous prompt still intact); new blocks are typed by `type_at` ranges: [0, out_end) of
 * the new part starting at token `new_from` is OUTPUT up to out_end, then `new_type`.
 */
typedef struct turn {
    uint64_t t_us;
    uint32_t tokens, output;
    uint32_t session;
    kvt_transition_t transition;
    uint64_t prev_tokens;  /* the previous prompt of this chain (0: none) */
    uint32_t prev_output;  /* its output, which opens the new part */
    kvt_block_type_t new_type;
} turn_t;

static kvt_status_t emit(gen_t *g, chain_t *chain, const turn_t *tu)
{
    kvt_status_t st = kvt_trace_begin_request(g->t, tu->t_us, tu->tokens, tu->output, tu->session,
                                              tu->transition, KVT_NO_PARENT, tu->new_type);
    if (st != KVT_OK) {
        return st;
    }
    uint64_t keep = tu->prev_tokens / g->bt; /* full blocks of the previous prompt */
    if (keep > chain->n) {
        keep = chain->n;
    }
    uint64_t nblocks = ((uint64_t)tu->tokens + g->bt - 1) / g->bt;
    chain->n = keep;
    for (uint64_t i = 0; i < nblocks; i++) {
        uint32_t id;
        kvt_block_type_t type = KVT_BLOCK_USER;
        if (i < keep) {
            id = chain->ids[i];
        } else {
            uint64_t start = i * g->bt;
            id = (uint32_t)kvt_trace_info(g->t)->blocks;
            type = (start < tu->prev_tokens + tu->prev_output && tu->prev_tokens > 0)
                       ? KVT_BLOCK_OUTPUT
                       : tu->new_type;
            if ((st = chain_push(chain, id)) != KVT_OK) {
                return st;
            }
        }
        if ((st = kvt_trace_add_block_id(g->t, id, type)) != KVT_OK) {
            return st;
        }
    }
    return KVT_OK;
}

/* Seed a chain with a shared prefix, creating its block ids the first time. */
static kvt_status_t start_chain(gen_t *g, chain_t *chain, prefix_t *px, kvt_block_type_t type,
                                const turn_t *tu)
{
    kvt_status_t st;
    chain->n = 0;
    if (px->made) {
        for (uint64_t i = 0; i < px->blocks.n; i++) {
            if ((st = chain_push(chain, px->blocks.ids[i])) != KVT_OK) {
                return st;
            }
        }
        turn_t t2 = *tu;
        t2.prev_tokens = (uint64_t)px->blocks.n * g->bt;
        t2.prev_output = 0;
        return emit(g, chain, &t2);
    }
    /* first use: the prefix's full blocks are new blocks: system prompt, then `type` */
    uint32_t full = px->tokens / g->bt;
    st = kvt_trace_begin_request(g->t, tu->t_us, tu->tokens, tu->output, tu->session,
                                 tu->transition, KVT_NO_PARENT, tu->new_type);
    if (st != KVT_OK) {
        return st;
    }
    uint64_t nblocks = ((uint64_t)tu->tokens + g->bt - 1) / g->bt;
    for (uint64_t i = 0; i < nblocks; i++) {
        uint32_t id = (uint32_t)kvt_trace_info(g->t)->blocks;
        if ((st = chain_push(chain, id)) != KVT_OK ||
            (i < full && (st = chain_push(&px->blocks, id)) != KVT_OK) ||
            (st = kvt_trace_add_block_id(g->t, id,
                                         i >= full                       ? tu->new_type
                                         : i * g->bt < px->sys_tokens ? KVT_BLOCK_SYSTEM
                                                                         : type)) != KVT_OK) {
            return st;
        }
    }
    px->made = true;
    return KVT_OK;
}

static kvt_status_t chat_session(gen_t *g, double t0, prefix_t *sys, kvt_block_type_t sys_type,
                                 double p_first, bool rag)
{
    chain_t chain = {0};
    rng_t *r = &g->rng;
    kvt_status_t st;
    double t = t0;
    uint64_t prompt = sys->tokens;
    uint32_t session = g->session++;
    turn_t tu = {.session = session, .transition = KVT_TRANS_NEW_SESSION,
                 .new_type = KVT_BLOCK_USER};

    for (uint32_t k = 0;; k++) {
        uint32_t user = rag ? lognormal(r, 60, 0.8, 5, 2000) : lognormal(r, 300, 1.0, 10, 32000);
        uint32_t out = lognormal(r, 300, 0.8, 1, 4000);
        uint64_t tokens = prompt + user;
        if (tokens > UINT32_MAX / 2) {
            break;
        }
        tu.t_us = (uint64_t)(t * 1e6);
        tu.tokens = (uint32_t)tokens;
        tu.output = out;
        st = k == 0 ? start_chain(g, &chain, sys, sys_type, &tu) : emit(g, &chain, &tu);
        if (st != KVT_OK) {
            free(chain.ids);
            return st;
        }
        double p_next = k == 0 ? p_first : 0.3 + 0.5 * (1 - exp(-(double)k / 3));
        if (uniform(r) >= p_next) {
            break;
        }
        t += out / TOKENS_PER_S + lognormal(r, 60, 1.0, 2, 3600);
        tu.prev_tokens = tokens;
        tu.prev_output = out;
        tu.transition = KVT_TRANS_NEXT_TURN;
        prompt = tokens + out;
    }
    free(chain.ids);
    return KVT_OK;
}

static kvt_status_t agent_chain(gen_t *g, double *t, prefix_t *sys, uint32_t session,
                                kvt_transition_t first, double p_step, int depth,
                                uint32_t *result_p)
{
    chain_t chain = {0};
    rng_t *r = &g->rng;
    kvt_status_t st = KVT_OK;
    uint64_t prompt = (uint64_t)sys->tokens + lognormal(r, 500, 0.8, 20, 8000);
    turn_t tu = {.session = session, .transition = first, .new_type = KVT_BLOCK_USER};

    for (uint32_t k = 0; prompt < UINT32_MAX / 2; k++) {
        uint32_t out = lognormal(r, 150, 0.8, 1, 4000);
        tu.t_us = (uint64_t)(*t * 1e6);
        tu.tokens = (uint32_t)prompt;
        tu.output = out;
        st = k == 0 ? start_chain(g, &chain, sys, KVT_BLOCK_SYSTEM, &tu) : emit(g, &chain, &tu);
        if (st != KVT_OK || uniform(r) >= p_step) {
            break;
        }
        *t += out / TOKENS_PER_S + lognormal(r, 3, 1.0, 0, 300);
        uint32_t result = lognormal(r, 800, 1.2, 10, 16000);
        if (depth == 0 && uniform(r) < 0.05) {
            /* a sub-agent works on a sub-task; its summary comes back as the tool result */
            if ((st = agent_chain(g, t, sys, session, KVT_TRANS_HANDOFF, 0.9, 1, &result)) !=
                KVT_OK) {
                break;
            }
        }
        tu.prev_tokens = prompt;
        tu.prev_output = out;
        tu.transition = KVT_TRANS_TOOL_RESULT;
        tu.new_type = KVT_BLOCK_TOOL;
        prompt += out + result;
    }
    if (result_p != NULL) {
        *result_p = lognormal(r, 400, 0.8, 20, 4000);
    }
    free(chain.ids);
    return st;
}

void kvt_gen_opts_init(kvt_gen_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->opts_size = sizeof(*o);
    o->kind = KVT_GEN_MIX;
    o->seed = 1;
    o->sessions = 2000;
    o->session_rate = 1;
    o->block_tokens = 16;
}

static const char *const kind_names[] = {"mix", "chat", "agent", "rag"};

const char *kvt_gen_kind_name(kvt_gen_kind_t kind)
{
    return (unsigned)kind < 4 ? kind_names[kind] : "?";
}

kvt_status_t kvt_gen_kind_parse(const char *name, kvt_gen_kind_t *kind_p)
{
    for (unsigned i = 0; name != NULL && i < 4; i++) {
        if (strcasecmp(name, kind_names[i]) == 0) {
            *kind_p = (kvt_gen_kind_t)i;
            return KVT_OK;
        }
    }
    return KVT_ERR_NOT_FOUND;
}

static void free_prefixes(gen_t *g)
{
    for (int i = 0; i < N_CHAT_SYS; i++) {
        free(g->chat_sys[i].blocks.ids);
    }
    for (int i = 0; i < N_AGENT_SYS; i++) {
        free(g->agent_sys[i].blocks.ids);
    }
    for (int i = 0; i < N_RAG_SYS; i++) {
        for (int d = 0; d < N_DOCS; d++) {
            free(g->rag[i][d].blocks.ids);
        }
    }
}

kvt_status_t kvt_trace_generate(const kvt_gen_opts_t *user, kvt_trace_t **trace_p,
                                kvt_error_t *err)
{
    gen_t *g = calloc(1, sizeof(*g));
    char origin[128];
    kvt_status_t st = KVT_OK;

    if (g == NULL || trace_p == NULL) {
        free(g);
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "generator: out of memory");
    }
    kvt_gen_opts_init(&g->o);
    if (user != NULL) {
        if (user->opts_size == 0 || user->opts_size > sizeof(g->o)) {
            free(g);
            return kvt_error_set(err, KVT_ERR_INVALID, "generator options: unknown opts_size");
        }
        memcpy(&g->o, user, user->opts_size);
    }
    if (g->o.block_tokens == 0 || !(g->o.session_rate > 0) || (unsigned)g->o.kind > 3) {
        free(g);
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "generator: block_tokens and session_rate must be positive");
    }
    g->bt = g->o.block_tokens;
    g->rng.s = g->o.seed;
    /* fixed per seed: prompt and document lengths */
    for (int i = 0; i < N_CHAT_SYS; i++) {
        g->chat_sys[i].tokens = 500 + (uint32_t)(uniform(&g->rng) * 2500);
        g->chat_sys[i].sys_tokens = g->chat_sys[i].tokens;
    }
    for (int i = 0; i < N_AGENT_SYS; i++) {
        g->agent_sys[i].tokens = 6000 + (uint32_t)(uniform(&g->rng) * 6000);
        g->agent_sys[i].sys_tokens = g->agent_sys[i].tokens;
    }
    for (int i = 0; i < N_RAG_SYS; i++) {
        g->rag_sys_tokens[i] = 300 + (uint32_t)(uniform(&g->rng) * 700);
    }
    for (int d = 0; d < N_DOCS; d++) {
        g->doc_tokens[d] = lognormal(&g->rng, 3000, 0.7, 200, 16000);
    }
    for (int i = 0; i < N_RAG_SYS; i++) {
        for (int d = 0; d < N_DOCS; d++) {
            g->rag[i][d].tokens = g->rag_sys_tokens[i] + g->doc_tokens[d];
            g->rag[i][d].sys_tokens = g->rag_sys_tokens[i];
        }
    }
    make_cdf(g->sys_cdf, N_CHAT_SYS);
    make_cdf(g->doc_cdf, N_DOCS);
    snprintf(origin, sizeof(origin), "generator:%s seed=%llu", kvt_gen_kind_name(g->o.kind),
             (unsigned long long)g->o.seed);
    if ((st = kvt_trace_new(origin, KVT_TRACE_AUTO, g->bt, &g->t)) != KVT_OK) {
        free(g);
        return kvt_error_set(err, st, "generator: out of memory");
    }

    double t = 0;
    for (uint64_t s = 0; s < g->o.sessions && st == KVT_OK; s++) {
        if (g->o.max_refs && kvt_trace_info(g->t)->refs >= g->o.max_refs) {
            break;
        }
        t += exponential(&g->rng, g->o.session_rate);
        kvt_gen_kind_t kind = g->o.kind;
        if (kind == KVT_GEN_MIX) {
            double u = uniform(&g->rng);
            kind = u < 0.5 ? KVT_GEN_CHAT : u < 0.75 ? KVT_GEN_AGENT : KVT_GEN_RAG;
        }
        double ts = t;
        if (kind == KVT_GEN_CHAT) {
            prefix_t *sys = &g->chat_sys[zipf(&g->rng, g->sys_cdf, N_CHAT_SYS)];
            st = chat_session(g, t, sys, KVT_BLOCK_SYSTEM, 0.3, false);
        } else if (kind == KVT_GEN_AGENT) {
            prefix_t *sys = &g->agent_sys[(uint32_t)(uniform(&g->rng) * N_AGENT_SYS)];
            st = agent_chain(g, &ts, sys, g->session++, KVT_TRANS_NEW_SESSION, 0.97, 0, NULL);
        } else {
            uint32_t k = (uint32_t)(uniform(&g->rng) * N_RAG_SYS);
            uint32_t d = zipf(&g->rng, g->doc_cdf, N_DOCS);
            st = chat_session(g, t, &g->rag[k][d], KVT_BLOCK_TOOL, 0.3, true);
        }
    }
    free_prefixes(g);
    if (st == KVT_OK) {
        st = kvt_trace_finish(g->t);
    }
    if (st != KVT_OK) {
        kvt_trace_destroy(g->t);
        free(g);
        return kvt_error_set(err, st, "generator: %s", kvt_status_str(st));
    }
    *trace_p = g->t;
    free(g);
    return KVT_OK;
}
