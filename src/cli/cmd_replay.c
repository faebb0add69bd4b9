/*
 * `kvtier replay`: replay a workload trace against cache policies.
 *
 * Loads the trace once, then runs one policy or all of them (--policy all) at one capacity or a
 * comma-separated list of capacities, and prints a table (policies x capacities of token hit
 * rates, with LRU and Belady for reference) or, with --json, one object per run. Progress goes to
 * stderr when it is a terminal.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/replay_common.h"
#include "cli/table.h"
#include "common/json_writer.h"
#include "common/parse_num.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: kvtier replay (--trace FILE | --generate KIND) --policy NAME --capacity TOKENS\n"
    "                     [options]\n"
    "\n"
    "Replay a trace of prompt-prefix blocks against a cache policy and report hit rates.\n"
    "\n"
    "  --trace FILE        the trace (Mooncake or Bailian JSON lines, agent-session CSV, SWE-agent\n"
    "                      .traj file or directory, LMBenchmark ShareGPT JSON, token-id JSON\n"
    "                      lines, Azure LLM CSV; docs/traces.md)\n"
    "  --format F          auto (default), mooncake, bailian, agent-csv, swe-traj, sharegpt,\n"
    "                      tokens, azure\n"
    "  --block-tokens N    tokens per block of the trace's hash ids (default: the format's;\n"
    "                      16 for generated traces)\n"
    "  --generate KIND     a built-in synthetic workload instead: mix, chat, agent, rag\n"
    "  --sessions N        sessions to generate (default 2000)\n"
    "  --seed N            generator seed (default 1)\n"
    "  --policy NAME       lru, lfu, arc, s3fifo, predictive, belady, belady-head, or all\n"
    "  --capacity TOKENS   one-tier cache size in tokens (suffixes k M G); several: 1M,3M,10M\n"
    "  --node NAME|FILE    replay on a node's tiers instead (built-in: h100-node; a JSON file as\n"
    "                      in docs/node.md) with the TTFT projection, beside HBM only\n"
    "  --tiers N           use only the node's first N tiers\n"
    "  --prefetch          node replay, predictive: prefetch sessions predicted to return into\n"
    "                      HBM ahead of their next request (docs/replay.md)\n"
    "  --hold-cost         node replay: demote a block only to a tier where its value (reuse x\n"
    "                      recompute saved - fetch - holding cost) is positive, else drop it\n"
    "  --json              JSON on stdout: one object, or an array for several runs\n"
    "  -h, --help          this help\n"
    "\n"
    "Token hit rate: the longest cached prefix of each request at arrival (input_length when the\n"
    "whole chain is cached, else matched blocks x block tokens) over all input tokens.\n"
    "belady is the true offline optimum (ties between blocks next used by one request evict the\n"
    "deepest first); belady-head evicts the chain head first (the published Mooncake figures).\n";

enum {
    OPT_TRACE = 256, OPT_FORMAT, OPT_BLOCK, OPT_POLICY, OPT_CAPACITY, OPT_JSON, OPT_GENERATE,
    OPT_SESSIONS, OPT_SEED, OPT_NODE, OPT_TIERS, OPT_PREFETCH, OPT_HOLD_COST,
};

static const struct option longopts[] = {
    {"trace", required_argument, NULL, OPT_TRACE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"block-tokens", required_argument, NULL, OPT_BLOCK},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"capacity", required_argument, NULL, OPT_CAPACITY},
    {"json", no_argument, NULL, OPT_JSON},
    {"generate", required_argument, NULL, OPT_GENERATE},
    {"sessions", required_argument, NULL, OPT_SESSIONS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"node", required_argument, NULL, OPT_NODE},
    {"tiers", required_argument, NULL, OPT_TIERS},
    {"prefetch", no_argument, NULL, OPT_PREFETCH},
    {"hold-cost", no_argument, NULL, OPT_HOLD_COST},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define V "replay"
#define MAX_CAPS 32

typedef struct replay_cli {
    const char *trace, *policy;
    kvt_trace_format_t format;
    uint32_t block_tokens;
    uint64_t caps[MAX_CAPS];
    bool generate;
    kvt_gen_opts_t gen;
    const char *node;
    uint32_t tiers;
    size_t ncaps;
    bool json;
    bool prefetch;
    bool hold_cost;
} replay_cli_t;

static bool parse_caps(const char *arg, replay_cli_t *c)
{
    char buf[512];
    size_t n = strlen(arg);
    if (n >= sizeof(buf)) {
        kvt_cli_error(V, "--capacity: list too long");
        return false;
    }
    memcpy(buf, arg, n + 1);
    c->ncaps = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (c->ncaps == MAX_CAPS) {
            kvt_cli_error(V, "--capacity: at most %d values", MAX_CAPS);
            return false;
        }
        if (!kvt_arg_u64(V, "--capacity", tok, 0, UINT64_MAX / 2, &c->caps[c->ncaps++])) {
            return false;
        }
    }
    if (c->ncaps == 0) {
        kvt_cli_error(V, "--capacity: no value");
        return false;
    }
    return true;
}

static void json_result(kvt_json_t *w, const kvt_trace_t *t, const kvt_replay_result_t *r)
{
    const kvt_trace_info_t *in = kvt_trace_info(t);
    kvt_json_begin_object(w, NULL);
    kvt_json_str(w, "trace", in->origin);
    kvt_json_str(w, "format", kvt_trace_format_name(in->format));
    kvt_json_u64(w, "block_tokens", in->block_tokens);
    kvt_json_str(w, "policy", r->policy);
    kvt_json_u64(w, "capacity_tokens", r->capacity_tokens);
    kvt_json_u64(w, "capacity_blocks", r->capacity_blocks);
    kvt_json_u64(w, "requests", r->requests);
    kvt_json_u64(w, "input_tokens", r->input_tokens);
    kvt_json_u64(w, "hit_tokens", r->hit_tokens);
    kvt_json_double(w, "token_hit_rate", r->token_hit_rate);
    kvt_json_u64(w, "block_refs", r->block_refs);
    kvt_json_u64(w, "block_hits", r->block_hits);
    kvt_json_double(w, "block_hit_rate", r->block_hit_rate);
    kvt_json_u64(w, "resident_refs", r->resident_refs);
    kvt_json_u64(w, "insertions", r->insertions);
    kvt_json_u64(w, "evictions", r->evictions);
    if (r->nposteriors > 0) {
        kvt_json_begin_array(w, "posteriors");
        for (uint32_t i = 0; i < r->nposteriors; i++) {
            const kvt_reuse_posterior_t *q = &r->posteriors[i];
            kvt_json_begin_object(w, NULL);
            kvt_json_str(w, "block_type", kvt_block_type_name(q->block_type));
            kvt_json_str(w, "transition", kvt_transition_name(q->transition));
            kvt_json_double(w, "alpha", q->alpha);
            kvt_json_double(w, "beta", q->beta);
            kvt_json_double(w, "mean", q->mean);
            kvt_json_end_object(w);
        }
        kvt_json_end_array(w);
    }
    kvt_json_end_object(w);
}

/* The paper's 16 reuse posteriors (block type x transition) as a table: mean, and the outcomes
 * behind it (alpha - 1 reuses / beta - 1 expiries); "-" where none was observed. */
static void print_posteriors(const kvt_replay_result_t *r)
{
    kvt_table_t t;
    kvt_table_init(&t, 1 + KVT_TRANSITIONS);
    for (size_t k = 1; k < t.ncols; k++) {
        t.right[k] = true;
    }
    kvt_table_cell(&t, "block type");
    for (unsigned x = 0; x < KVT_TRANSITIONS; x++) {
        kvt_table_cell(&t, "%s", kvt_transition_name((kvt_transition_t)x));
    }
    for (unsigned y = 0; y < KVT_BLOCK_TYPES; y++) {
        kvt_table_cell(&t, "%s", kvt_block_type_name((kvt_block_type_t)y));
        for (unsigned x = 0; x < KVT_TRANSITIONS; x++) {
            const kvt_reuse_posterior_t *q = &r->posteriors[y * KVT_TRANSITIONS + x];
            char b[2][40];
            if (q->alpha + q->beta <= 2) {
                kvt_table_cell(&t, "-");
            } else {
                kvt_table_cell(&t, "%.3f (%s / %s)", q->mean,
                               kvt_fmt_count(b[0], 40, (uint64_t)(q->alpha - 1)),
                               kvt_fmt_count(b[1], 40, (uint64_t)(q->beta - 1)));
            }
        }
    }
    printf("\npredictive's reuse posteriors by the paper's classes, block type x transition "
           "(reported,\nnot used for decisions; learned from every access, the same at every "
           "capacity):\nmean of Beta(1 + reused, 1 + expired) (reused / expired)\n");
    kvt_table_print(&t, stdout, "  ");
    kvt_table_free(&t);
}

static int replay_on_node(const replay_cli_t *c, const kvt_trace_t *trace,
                          const char *const *policies, size_t np, bool tty)
{
    kvt_node_desc_t node;
    kvt_model_t *model = NULL;
    kvt_sizing_t *sizing = NULL;
    kvt_error_t err;
    kvt_status_t st;

    st = kvt_cli_load_node(c->node, &node, &err);
    if (st == KVT_OK) {
        st = kvt_model_load_catalog(node.model, &model, &err);
    }
    if (st == KVT_OK) {
        st = kvt_size_compute(model, NULL, &sizing, &err);
    }
    if (st != KVT_OK) {
        kvt_cli_error(V, "%s", err.message);
        kvt_model_destroy(model);
        return kvt_cli_exit_for(st);
    }
    uint64_t bpt = sizing->kv_bytes_per_token;
    uint32_t ntiers = c->tiers && c->tiers < node.ntiers ? c->tiers : node.ntiers;
    const kvt_trace_info_t *in = kvt_trace_info(trace);

    kvt_json_t w;
    kvt_json_init(&w, true);
    kvt_json_begin_object(&w, NULL);
    kvt_json_str(&w, "trace", in->origin);
    kvt_json_str(&w, "node", node.name);
    kvt_json_str(&w, "model", node.model);
    kvt_json_u64(&w, "kv_bytes_per_token", bpt);
    kvt_json_u64(&w, "block_tokens", in->block_tokens);
    kvt_json_begin_array(&w, "runs");

    kvt_table_t t;
    kvt_table_init(&t, 8 + ntiers);
    for (size_t k = 1; k < t.ncols; k++) {
        t.right[k] = true;
    }
    kvt_table_cell(&t, "policy");
    kvt_table_cell(&t, "hit rate");
    for (uint32_t k = 0; k < ntiers; k++) {
        kvt_table_cell(&t, "%s", node.tiers[k].name);
    }
    kvt_table_cell(&t, "TTFT p50");
    kvt_table_cell(&t, "p90");
    kvt_table_cell(&t, "p99");
    kvt_table_cell(&t, "prefill GPU-h saved");
    kvt_table_cell(&t, "$/Mtok");
    kvt_table_cell(&t, "prefetched: useful");

    int rc = KVT_EXIT_OK;
    /* the baseline first: what an engine's own prefix cache gives (HBM only, LRU) */
    for (size_t p = 0; p <= np && rc == KVT_EXIT_OK; p++) {
        const char *pol = p == 0 ? "lru" : policies[p - 1];
        uint32_t tiers = p == 0 ? 1 : ntiers;
        char label[48];
        snprintf(label, sizeof(label), p == 0 ? "%s, HBM only" : "%s", pol);
        kvt_node_replay_result_t r;
        kvt_proj_result_t pr;
        kvt_node_replay_opts_t o;
        kvt_node_replay_opts_init(&o);
        o.policy = pol;
        o.node = &node;
        o.model = model;
        o.kv_bytes_per_token = bpt;
        o.tiers = tiers;
        o.prefetch = c->prefetch && p > 0;
        o.hold_cost = c->hold_cost && p > 0;
        o.progress = tty ? kvt_cli_progress : NULL;
        st = kvt_cli_node_run(trace, &o, NULL, &r, &pr, &err);
        if (st != KVT_OK) {
            kvt_cli_error(V, "%s", err.message);
            rc = kvt_cli_exit_for(st);
            break;
        }
        kvt_cli_json_node_run(&w, label, &node, &r, &pr);
        kvt_table_cell(&t, "%s", label);
        kvt_table_cell(&t, "%.2f%%", 100 * r.total.token_hit_rate);
        for (uint32_t k = 0; k < ntiers; k++) {
            if (k < r.ntiers) {
                double all = (double)(r.total.input_tokens ? r.total.input_tokens : 1);
                kvt_table_cell(&t, "%.2f%%", 100.0 * (double)r.tiers[k].hit_tokens / all);
            } else {
                kvt_table_cell(&t, "-");
            }
        }
        kvt_table_cell(&t, "%.3f s", pr.ttft_p50_s);
        kvt_table_cell(&t, "%.3f s", pr.ttft_p90_s);
        kvt_table_cell(&t, "%.3f s", pr.ttft_p99_s);
        kvt_table_cell(&t, "%.2f", (pr.prefill_gpu_s_no_cache - pr.prefill_gpu_s) / 3600);
        kvt_table_cell(&t, "%.4f", pr.usd_per_mtok);
        if (r.prefetch) {
            kvt_table_cell(&t, "%llu: %.1f%%", (unsigned long long)r.pf.blocks,
                           r.pf.blocks ? 100.0 * (double)r.pf.useful / (double)r.pf.blocks : 0.0);
        } else {
            kvt_table_cell(&t, "-");
        }
    }
    kvt_json_end_array(&w);
    kvt_json_end_object(&w);
    if (rc == KVT_EXIT_OK && c->json) {
        rc = kvt_cli_print_json(&w);
    } else {
        kvt_json_discard(&w);
        if (rc == KVT_EXIT_OK) {
            char b[3][40];
            printf("%s: %s requests, %s input tokens, %u tokens per block\n"
                   "node %s: %u x %s serving %s (%s B of KV per token)\n\n"
                   "token hit rate, and the share of input tokens served by each tier:\n",
                   in->origin, kvt_fmt_count(b[0], 40, in->requests),
                   kvt_fmt_count(b[1], 40, in->input_tokens), in->block_tokens, node.name,
                   node.instances, node.gpu->name, node.model, kvt_fmt_count(b[2], 40, bpt));
            kvt_table_print(&t, stdout, "  ");
        }
    }
    kvt_table_free(&t);
    kvt_sizing_destroy(sizing);
    kvt_model_destroy(model);
    return rc;
}

int kvt_cmd_replay(int argc, char **argv)
{
    replay_cli_t c = {.policy = NULL};
    int opt;

    kvt_gen_opts_init(&c.gen);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char *flag = argv[optind - 1];
        bool ok = true;
        switch (opt) {
        case OPT_TRACE: c.trace = optarg; break;
        case OPT_FORMAT:
            if (kvt_trace_format_parse(optarg, &c.format) != KVT_OK) {
                kvt_cli_error(V, "--format: unknown format \"%s\" (auto, mooncake, bailian, "
                                 "agent-csv, swe-traj, sharegpt, tokens, azure)",
                              optarg);
                ok = false;
            }
            break;
        case OPT_BLOCK:
            ok = kvt_arg_u32(V, "--block-tokens", optarg, 1, 1u << 20, &c.block_tokens);
            break;
        case OPT_POLICY: c.policy = optarg; break;
        case OPT_CAPACITY: ok = parse_caps(optarg, &c); break;
        case OPT_JSON: c.json = true; break;
        case OPT_PREFETCH: c.prefetch = true; break;
        case OPT_HOLD_COST: c.hold_cost = true; break;
        case OPT_GENERATE:
            c.generate = true;
            if (kvt_gen_kind_parse(optarg, &c.gen.kind) != KVT_OK) {
                kvt_cli_error(V, "--generate: unknown workload \"%s\" (mix, chat, agent, rag)",
                              optarg);
                ok = false;
            }
            break;
        case OPT_SESSIONS:
            ok = kvt_arg_u64(V, "--sessions", optarg, 1, 100000000, &c.gen.sessions);
            break;
        case OPT_SEED: ok = kvt_arg_u64(V, "--seed", optarg, 0, UINT64_MAX, &c.gen.seed); break;
        case OPT_NODE: c.node = optarg; break;
        case OPT_TIERS: ok = kvt_arg_u32(V, "--tiers", optarg, 1, KVT_MAX_TIERS, &c.tiers); break;
        case 'h': fputs(help, stdout); return KVT_EXIT_OK;
        default: return kvt_arg_unknown(V, opt, optopt, flag);
        }
        if (!ok) {
            return KVT_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        kvt_cli_error(V, "unexpected argument \"%s\"", argv[optind]);
        return KVT_EXIT_USAGE;
    }
    if ((c.trace != NULL) == c.generate || c.policy == NULL || (c.ncaps == 0) == !c.node) {
        kvt_cli_error(V, "give --trace FILE or --generate KIND, --policy, and --capacity or --node "
                         "(see kvtier replay --help)");
        return KVT_EXIT_USAGE;
    }
    const char *const *all = kvt_replay_policies();
    const char *one[] = {c.policy, NULL};
    const char *const *policies = strcmp(c.policy, "all") == 0 ? all : one;
    if (policies == one) {
        bool known = false;
        for (size_t i = 0; all[i] != NULL; i++) {
            known |= strcmp(all[i], c.policy) == 0;
        }
        if (!known) {
            kvt_cli_error(V, "--policy: unknown policy \"%s\" (lru, lfu, arc, s3fifo, "
                             "predictive, belady, belady-head, all)",
                          c.policy);
            return KVT_EXIT_USAGE;
        }
    }

    kvt_trace_t *trace;
    kvt_error_t err;
    kvt_status_t st;
    if (c.generate) {
        if (c.block_tokens != 0) {
            c.gen.block_tokens = c.block_tokens;
        }
        st = kvt_trace_generate(&c.gen, &trace, &err);
    } else {
        st = kvt_trace_load(c.trace, c.format, c.block_tokens, &trace, &err);
    }
    if (st != KVT_OK) {
        kvt_cli_error(V, "%s", err.message);
        return kvt_cli_exit_for(st);
    }
    const kvt_trace_info_t *in = kvt_trace_info(trace);
    bool tty = isatty(STDERR_FILENO);
    size_t np = 0;
    while (policies[np] != NULL) {
        np++;
    }
    if (c.node != NULL) {
        int nrc = replay_on_node(&c, trace, policies, np, tty);
        kvt_trace_destroy(trace);
        return nrc;
    }
    kvt_json_t w;
    kvt_json_init(&w, true);
    bool many = np * c.ncaps > 1;
    if (many) {
        kvt_json_begin_array(&w, NULL);
    }
    kvt_table_t t;
    kvt_table_init(&t, c.ncaps + 1);
    for (size_t k = 1; k <= c.ncaps; k++) {
        t.right[k] = true;
    }
    kvt_table_cell(&t, "policy");
    for (size_t k = 0; k < c.ncaps; k++) {
        char b[40];
        kvt_table_cell(&t, "%s tokens", kvt_fmt_count(b, sizeof(b), c.caps[k]));
    }
    int rc = KVT_EXIT_OK;
    kvt_replay_result_t post; /* the first run that reports posteriors */
    post.nposteriors = 0;
    for (size_t p = 0; p < np && rc == KVT_EXIT_OK; p++) {
        kvt_table_cell(&t, "%s", policies[p]);
        for (size_t k = 0; k < c.ncaps; k++) {
            kvt_replay_opts_t o;
            kvt_replay_result_t r;
            kvt_replay_opts_init(&o);
            o.policy = policies[p];
            o.capacity_tokens = c.caps[k];
            if (tty) {
                o.progress = kvt_cli_progress;
                o.progress_arg = (void *)policies[p];
            }
            st = kvt_replay_run(trace, &o, &r, &err);
            if (st != KVT_OK) {
                kvt_cli_error(V, "%s", err.message);
                rc = kvt_cli_exit_for(st);
                break;
            }
            kvt_table_cell(&t, "%.2f%%", 100 * r.token_hit_rate);
            json_result(&w, trace, &r);
            if (post.nposteriors == 0 && r.nposteriors > 0) {
                post = r;
            }
        }
    }
    if (many) {
        kvt_json_end_array(&w);
    }
    if (rc == KVT_EXIT_OK && c.json) {
        rc = kvt_cli_print_json(&w);
    } else {
        kvt_json_discard(&w);
        if (rc == KVT_EXIT_OK) {
            char b[4][40];
            printf("%s: %s requests, %s input tokens, %s block references (%s distinct, %u "
                   "tokens each)\n\ntoken hit rate:\n",
                   in->origin, kvt_fmt_count(b[0], 40, in->requests),
                   kvt_fmt_count(b[1], 40, in->input_tokens), kvt_fmt_count(b[2], 40, in->refs),
                   kvt_fmt_count(b[3], 40, in->blocks), in->block_tokens);
            kvt_table_print(&t, stdout, "  ");
            if (post.nposteriors > 0) {
                print_posteriors(&post);
            }
        }
    }
    kvt_table_free(&t);
    kvt_trace_destroy(trace);
    return rc;
}
