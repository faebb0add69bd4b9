/*
 * `kvtier demo`: the whole replay lab on the built-in workload, in one command.
 *
 * Generates the seeded mixed workload (chat, agent, RAG), sweeps every policy over single-tier
 * capacities from 0.5 % to 50 % of the workload's distinct tokens, then replays every policy on
 * the default node's six tiers beside the HBM-only baseline with the TTFT projection. It prints
 * both tables, writes results.json and the plot data to --out, and draws hit rate against
 * capacity and the TTFT distribution with gnuplot when gnuplot is installed. This is what
 * `make run` shows.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/replay_common.h"
#include "cli/table.h"
#include "common/json_writer.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
    "usage: kvtier demo [--out DIR] [--sessions N] [--seed N] [--node NAME|FILE]\n"
    "                   [--instances N] [--no-plots] [--json]\n"
    "\n"
    "Replay the built-in mixed workload against every policy: single-tier hit rates over a\n"
    "range of capacities, then the node's tiers with the TTFT projection beside HBM only.\n"
    "Writes results.json, hitrate.dat, ttft.dat and (with gnuplot) hitrate.png, ttft.png to\n"
    "the output directory (default ./kvtier-demo). --instances sets how many of the node's GPUs\n"
    "serve the workload (default 1: one GPU's HBM in front of the node's shared lower tiers).\n";

#define V "demo"
#define NFRAC 7
#define NQ 200 /* points of each TTFT distribution written for the plot */

static const double fractions[NFRAC] = {0.005, 0.01, 0.02, 0.05, 0.10, 0.20, 0.50};

typedef struct demo_cli {
    const char *out, *node;
    uint32_t instances;
    kvt_gen_opts_t gen;
    bool plots, json;
} demo_cli_t;

static FILE *open_out(const demo_cli_t *c, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", c->out, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        kvt_cli_error(V, "%s: cannot write: %s", path, strerror(errno));
    }
    return f;
}

static int sweep(const demo_cli_t *c, const kvt_trace_t *trace, const char *const *pols,
                 size_t np, bool tty, kvt_json_t *w)
{
    const kvt_trace_info_t *in = kvt_trace_info(trace);
    uint64_t distinct = in->blocks * in->block_tokens;
    double rate[16][NFRAC];
    kvt_table_t t;
    kvt_error_t err;

    kvt_table_init(&t, NFRAC + 1);
    kvt_table_cell(&t, "policy");
    for (int k = 0; k < NFRAC; k++) {
        t.right[k + 1] = true;
        kvt_table_cell(&t, "%g%%", 100 * fractions[k]);
    }
    kvt_json_begin_array(w, "single_tier");
    for (size_t p = 0; p < np && p < 16; p++) {
        kvt_table_cell(&t, "%s", pols[p]);
        for (int k = 0; k < NFRAC; k++) {
            kvt_replay_opts_t o;
            kvt_replay_result_t r;
            kvt_replay_opts_init(&o);
            o.policy = pols[p];
            o.capacity_tokens = (uint64_t)(fractions[k] * (double)distinct);
            if (tty) {
                o.progress = kvt_cli_progress;
                o.progress_arg = (void *)pols[p];
            }
            if (kvt_replay_run(trace, &o, &r, &err) != KVT_OK) {
                kvt_cli_error(V, "%s", err.message);
                kvt_table_free(&t);
                return KVT_EXIT_FAIL;
            }
            rate[p][k] = 100 * r.token_hit_rate;
            kvt_table_cell(&t, "%.2f%%", rate[p][k]);
            kvt_json_begin_object(w, NULL);
            kvt_json_str(w, "policy", pols[p]);
            kvt_json_u64(w, "capacity_tokens", o.capacity_tokens);
            kvt_json_double(w, "token_hit_rate", r.token_hit_rate);
            kvt_json_double(w, "block_hit_rate", r.block_hit_rate);
            kvt_json_end_object(w);
        }
    }
    kvt_json_end_array(w);
    if (!c->json) {
        char b[40];
        printf("single tier: token hit rate by cache size (share of the %s distinct tokens)\n",
               kvt_fmt_count(b, sizeof(b), distinct));
        kvt_table_print(&t, stdout, "  ");
        printf("\n");
    }
    kvt_table_free(&t);
    FILE *f = open_out(c, "hitrate.dat");
    if (f == NULL) {
        return KVT_EXIT_FAIL;
    }
    fprintf(f, "# capacity_tokens");
    for (size_t p = 0; p < np; p++) {
        fprintf(f, " %s", pols[p]);
    }
    fprintf(f, "\n");
    for (int k = 0; k < NFRAC; k++) {
        fprintf(f, "%llu", (unsigned long long)(fractions[k] * (double)distinct));
        for (size_t p = 0; p < np && p < 16; p++) {
            fprintf(f, " %.4f", rate[p][k]);
        }
        fprintf(f, "\n");
    }
    fclose(f);
    return KVT_EXIT_OK;
}

static int on_node(const demo_cli_t *c, const kvt_trace_t *trace, const char *const *pols,
                   size_t np, bool tty, kvt_json_t *w)
{
    kvt_node_desc_t node;
    kvt_model_t *model = NULL;
    kvt_sizing_t *sizing = NULL;
    kvt_error_t err;
    int rc = KVT_EXIT_OK;
    const kvt_trace_info_t *in = kvt_trace_info(trace);
    kvt_status_t st = kvt_cli_load_node(c->node, &node, &err);
    if (st == KVT_OK && c->instances != 0) {
        /* fewer (or more) GPUs of the same kind: HBM scales with them, lower tiers are shared */
        node.tiers[0].capacity_bytes = node.tiers[0].capacity_bytes / node.instances * c->instances;
        node.instances = c->instances;
    }
    if (st == KVT_OK) {
        st = kvt_model_load_catalog(node.model, &model, &err);
    }
    if (st == KVT_OK) {
        st = kvt_size_compute(model, NULL, &sizing, &err);
    }
    double *ttft = calloc((np + 1) * (in->requests ? in->requests : 1), sizeof(*ttft));
    FILE *f = ttft ? open_out(c, "ttft.dat") : NULL;
    if (st != KVT_OK || f == NULL) {
        if (st != KVT_OK) {
            kvt_cli_error(V, "%s", err.message);
        }
        rc = st != KVT_OK ? kvt_cli_exit_for(st) : KVT_EXIT_FAIL;
        goto out;
    }
    kvt_table_t t;
    kvt_table_init(&t, 9);
    for (int k = 1; k < 9; k++) {
        t.right[k] = true;
    }
    const char *head[] = {"policy", "hit rate", "from HBM", "from lower tiers", "TTFT p50",
                          "p90", "p99", "prefill GPU-h saved", "$/Mtok"};
    for (int k = 0; k < 9; k++) {
        kvt_table_cell(&t, "%s", head[k]);
    }
    kvt_json_str(w, "node", node.name);
    kvt_json_begin_array(w, "node_runs");
    fprintf(f, "# quantile lru-hbm-only");
    for (size_t p = 0; p < np; p++) {
        fprintf(f, " %s", pols[p]);
    }
    fprintf(f, "\n");
    for (size_t p = 0; p <= np; p++) {
        const char *pol = p == 0 ? "lru" : pols[p - 1];
        char label[48];
        snprintf(label, sizeof(label), p == 0 ? "%s, HBM only" : "%s", pol);
        kvt_node_replay_result_t r;
        kvt_proj_result_t pr;
        kvt_node_replay_opts_t o;
        kvt_node_replay_opts_init(&o);
        o.policy = pol;
        o.node = &node;
        o.model = model;
        o.kv_bytes_per_token = sizing->kv_bytes_per_token;
        o.tiers = p == 0 ? 1 : 0;
        o.progress = tty ? kvt_cli_progress : NULL;
        st = kvt_cli_node_run(trace, &o, ttft + p * in->requests, &r, &pr, &err);
        if (st != KVT_OK) {
            kvt_cli_error(V, "%s", err.message);
            rc = kvt_cli_exit_for(st);
            break;
        }
        kvt_cli_json_node_run(w, label, &node, &r, &pr);
        double all = (double)(r.total.input_tokens ? r.total.input_tokens : 1);
        kvt_table_cell(&t, "%s", label);
        kvt_table_cell(&t, "%.2f%%", 100 * r.total.token_hit_rate);
        kvt_table_cell(&t, "%.2f%%", 100 * (double)r.tiers[0].hit_tokens / all);
        kvt_table_cell(&t, "%.2f%%",
                       100 * (double)(r.total.hit_tokens - r.tiers[0].hit_tokens) / all);
        kvt_table_cell(&t, "%.3f s", pr.ttft_p50_s);
        kvt_table_cell(&t, "%.3f s", pr.ttft_p90_s);
        kvt_table_cell(&t, "%.3f s", pr.ttft_p99_s);
        kvt_table_cell(&t, "%.2f", (pr.prefill_gpu_s_no_cache - pr.prefill_gpu_s) / 3600);
        kvt_table_cell(&t, "%.4f", pr.usd_per_mtok);
    }
    kvt_json_end_array(w);
    for (int q = 1; q <= NQ && rc == KVT_EXIT_OK && in->requests > 0; q++) {
        uint64_t idx = (uint64_t)((double)q / NQ * (double)in->requests);
        idx = idx == 0 ? 0 : idx - 1;
        fprintf(f, "%.4f", (double)q / NQ);
        for (size_t p = 0; p <= np; p++) {
            fprintf(f, " %.6f", ttft[p * in->requests + idx]);
        }
        fprintf(f, "\n");
    }
    if (rc == KVT_EXIT_OK && !c->json) {
        printf("node %s with %u x %s serving %s: the node's lower tiers beside HBM only\n",
               node.name, node.instances, node.gpu->name, node.model);
        kvt_table_print(&t, stdout, "  ");
        printf("\n");
    }
    kvt_table_free(&t);
out:
    if (f != NULL) {
        fclose(f);
    }
    free(ttft);
    kvt_sizing_destroy(sizing);
    kvt_model_destroy(model);
    return rc;
}

static void plot(const demo_cli_t *c, size_t np, const char *const *pols)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "kvtier demo: gnuplot is not installed: plots skipped (data in %s)\n",
                c->out);
        return;
    }
    FILE *g = open_out(c, "plots.gp");
    if (g == NULL) {
        return;
    }
    fprintf(g, "set terminal pngcairo size 900,600\nset key left top\nset grid\n"
               "set output '%s/hitrate.png'\nset logscale x\n"
               "set xlabel 'cache capacity (tokens)'\nset ylabel 'token hit rate (%%)'\n"
               "set title 'kvtier demo: single-tier hit rate'\nplot ",
            c->out);
    for (size_t p = 0; p < np; p++) {
        fprintf(g, "%s'%s/hitrate.dat' using 1:%zu with linespoints title '%s'",
                p ? ", " : "", c->out, p + 2, pols[p]);
    }
    fprintf(g, "\nset output '%s/ttft.png'\n"
               "set xlabel 'time to first token (s)'\nset ylabel 'fraction of requests'\n"
               "set key right bottom\nset title 'kvtier demo: TTFT on the node'\nplot ",
            c->out);
    for (size_t p = 0; p <= np; p++) {
        fprintf(g, "%s'%s/ttft.dat' using %zu:1 with lines title '%s'", p ? ", " : "", c->out,
                p + 2, p == 0 ? "lru, HBM only" : pols[p - 1]);
    }
    fprintf(g, "\n");
    fclose(g);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "gnuplot '%s/plots.gp'", c->out);
    if (system(cmd) != 0) {
        fprintf(stderr, "kvtier demo: gnuplot failed: plots skipped\n");
    } else if (!c->json) {
        printf("plots: %s/hitrate.png, %s/ttft.png\n", c->out, c->out);
    }
}

int kvt_cmd_demo(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},  {"sessions", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'}, {"node", required_argument, NULL, 'n'},
        {"no-plots", no_argument, NULL, 'P'},   {"json", no_argument, NULL, 'j'},
        {"instances", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    demo_cli_t c = {.out = "kvtier-demo", .node = "h100-node", .plots = true, .instances = 1};
    int opt;

    kvt_gen_opts_init(&c.gen);
    c.gen.sessions = 200;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char *flag = argv[optind - 1];
        bool ok = true;
        switch (opt) {
        case 'o': c.out = optarg; break;
        case 's': ok = kvt_arg_u64(V, "--sessions", optarg, 1, 1000000, &c.gen.sessions); break;
        case 'S': ok = kvt_arg_u64(V, "--seed", optarg, 0, UINT64_MAX, &c.gen.seed); break;
        case 'n': c.node = optarg; break;
        case 'i': ok = kvt_arg_u32(V, "--instances", optarg, 1, 4096, &c.instances); break;
        case 'P': c.plots = false; break;
        case 'j': c.json = true; break;
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
    if (mkdir(c.out, 0755) != 0 && errno != EEXIST) {
        kvt_cli_error(V, "%s: cannot create: %s", c.out, strerror(errno));
        return KVT_EXIT_USAGE;
    }
    kvt_trace_t *trace;
    kvt_error_t err;
    if (kvt_trace_generate(&c.gen, &trace, &err) != KVT_OK) {
        kvt_cli_error(V, "%s", err.message);
        return KVT_EXIT_FAIL;
    }
    const kvt_trace_info_t *in = kvt_trace_info(trace);
    const char *const *pols = kvt_replay_policies();
    size_t np = 0;
    while (pols[np] != NULL) {
        np++;
    }
    bool tty = isatty(STDERR_FILENO);
    if (!c.json) {
        char b[4][40];
        printf("kvtier demo: %s: %s sessions, %s requests, %s input tokens, %s block "
               "references\n\n",
               in->origin, kvt_fmt_count(b[0], 40, in->sessions),
               kvt_fmt_count(b[1], 40, in->requests), kvt_fmt_count(b[2], 40, in->input_tokens),
               kvt_fmt_count(b[3], 40, in->refs));
    }
    kvt_json_t w;
    kvt_json_init(&w, true);
    kvt_json_begin_object(&w, NULL);
    kvt_json_str(&w, "trace", in->origin);
    kvt_json_u64(&w, "requests", in->requests);
    kvt_json_u64(&w, "input_tokens", in->input_tokens);
    int rc = sweep(&c, trace, pols, np, tty, &w);
    if (rc == KVT_EXIT_OK) {
        rc = on_node(&c, trace, pols, np, tty, &w);
    }
    kvt_json_end_object(&w);
    char *text = NULL;
    if (rc == KVT_EXIT_OK && kvt_json_finish(&w, &text, NULL) == KVT_OK) {
        FILE *f = open_out(&c, "results.json");
        if (f != NULL) {
            fputs(text, f);
            fputc('\n', f);
            fclose(f);
        }
        if (c.json) {
            puts(text);
        } else {
            printf("results: %s/results.json\n", c.out);
        }
        free(text);
        if (c.plots) {
            plot(&c, np, pols);
        }
    } else {
        kvt_json_discard(&w);
        rc = rc == KVT_EXIT_OK ? KVT_EXIT_FAIL : rc;
    }
    kvt_trace_destroy(trace);
    return rc;
}
