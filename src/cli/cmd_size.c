/*
 * `kvtier size`: exact KV-cache sizing and capacity planning from the command line.
 *
 * The verb is a thin shell over kvt_size_compute() and kvt_plan_compute(): it parses flags
 * strictly, loads one model (a config file or a catalog entry) or the whole catalog (--all),
 * and renders the same figures three ways -- a report for people, a table across models, and
 * one JSON document for scripts. Explanations (why MLA is 57x or 71x smaller than MHA, why a
 * batch ratio is smaller than the per-token ratio under TP) are built once as notes and appear
 * in both the text and the JSON, so the two never disagree. Errors print one line on stderr,
 * nothing on stdout, and exit 2.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/size_report.h"
#include "cli/table.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: kvtier size (--config FILE | --model NAME | --all) [options]\n"
    "\n"
    "Exact KV-cache size of a model: per token, per sequence, per layer, per GPU; MLA against\n"
    "its MHA equivalent; sliding windows, chunked attention, linear/SSM state, sparse-attention\n"
    "indexer and MTP layers each accounted for; and, with --gpu, how many tokens and sequences\n"
    "fit beside the weights, against the textbook estimate.\n"
    "\n"
    "model:\n"
    "  --config FILE        a Hugging Face config.json (text_config of multimodal models is used)\n"
    "  --model NAME         a built-in catalog entry (see `kvtier models`)\n"
    "  --all                every catalog entry, as one table (or a JSON array)\n"
    "sizing:\n"
    "  --context N          tokens per sequence (default 32768; suffixes k M G, Ki Mi Gi)\n"
    "  --kv-dtype T         bf16 (default), fp16, fp32, fp8_e4m3, fp8_e5m2, int8, int4, or auto\n"
    "                       (the config's torch_dtype)\n"
    "  --kv-group N         quantization group in elements (default: fp8 per tensor, int8/int4\n"
    "                       per token and head)\n"
    "  --state-dtype T      linear/SSM state type (default: the config's torch_dtype)\n"
    "  --tp N               tensor-parallel ranks (default 1); with --all also `auto`: the\n"
    "                       first of TP 1, 2, 4, 8, 8 x PP 2, 8 x PP 4 where a sequence fits\n"
    "  --pp N               pipeline stages (default 1)\n"
    "  --dp-attention       data-parallel attention: no MLA replication across TP ranks\n"
    "  --mtp                count multi-token-prediction layers (speculative decoding on)\n"
    "  --block-tokens N     paging block size in tokens (default 16)\n"
    "  --sequences N        also total the KV of N concurrent sequences (the fleet's share)\n"
    "capacity (with --gpu):\n"
    "  --gpu NAME           a GPU from `kvtier gpus` (h100-sxm, h200, b200, mi300x, ...)\n"
    "  --mem-util F         fraction of GPU memory the engine uses (default 0.90)\n"
    "  --reserve BYTES      activation/runtime reserve per GPU (default 2Gi)\n"
    "  --weights BYTES      whole-model weights size (default: parameters x weight type)\n"
    "  --params N           parameter count for --config models (e.g. 70.6B, 1.04T)\n"
    "  --weights-dtype T    weight type (default: the checkpoint's, e.g. fp8 for DeepSeek-V3)\n"
    "output:\n"
    "  --layers             add the per-layer table\n"
    "  --json               one JSON object (an array with --all) on stdout\n"
    "  -h, --help           this help\n"
    "\n"
    "Byte figures in --json are exact integers. Definitions: docs/sizing.md.\n";

enum {
    OPT_CONFIG = 256, OPT_MODEL, OPT_ALL, OPT_CONTEXT, OPT_KV_DTYPE, OPT_KV_GROUP,
    OPT_STATE_DTYPE, OPT_TP, OPT_PP, OPT_DP_ATTN, OPT_MTP, OPT_BLOCK, OPT_GPU, OPT_MEM_UTIL,
    OPT_RESERVE, OPT_WEIGHTS, OPT_PARAMS, OPT_WEIGHTS_DTYPE, OPT_LAYERS, OPT_JSON, OPT_SEQUENCES,
};

static const struct option longopts[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"model", required_argument, NULL, OPT_MODEL},
    {"all", no_argument, NULL, OPT_ALL},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"kv-dtype", required_argument, NULL, OPT_KV_DTYPE},
    {"kv-group", required_argument, NULL, OPT_KV_GROUP},
    {"state-dtype", required_argument, NULL, OPT_STATE_DTYPE},
    {"tp", required_argument, NULL, OPT_TP},
    {"pp", required_argument, NULL, OPT_PP},
    {"dp-attention", no_argument, NULL, OPT_DP_ATTN},
    {"mtp", no_argument, NULL, OPT_MTP},
    {"block-tokens", required_argument, NULL, OPT_BLOCK},
    {"gpu", required_argument, NULL, OPT_GPU},
    {"mem-util", required_argument, NULL, OPT_MEM_UTIL},
    {"reserve", required_argument, NULL, OPT_RESERVE},
    {"weights", required_argument, NULL, OPT_WEIGHTS},
    {"params", required_argument, NULL, OPT_PARAMS},
    {"weights-dtype", required_argument, NULL, OPT_WEIGHTS_DTYPE},
    {"layers", no_argument, NULL, OPT_LAYERS},
    {"json", no_argument, NULL, OPT_JSON},
    {"sequences", required_argument, NULL, OPT_SEQUENCES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define V "size"
#define CONTINUE (-1)
#define MAX_TP 4096u

/* Returns CONTINUE, or an exit status when parsing ended the command (help, error). */
static int parse(int argc, char **argv, kvt_size_cli_t *c)
{
    int opt;

    memset(c, 0, sizeof(*c));
    kvt_size_opts_init(&c->size);
    kvt_plan_opts_init(&c->plan);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char *flag = argv[optind - 1];
        bool ok = true;
        uint64_t u;
        switch (opt) {
        case OPT_CONFIG: c->config = optarg; break;
        case OPT_MODEL: c->model = optarg; break;
        case OPT_ALL: c->all = true; break;
        case OPT_CONTEXT:
            ok = kvt_arg_u64(V, "--context", optarg, 1, 1ull << 40, &c->size.context_tokens);
            break;
        case OPT_KV_DTYPE: ok = kvt_arg_dtype(V, "--kv-dtype", optarg, &c->size.kv_dtype); break;
        case OPT_KV_GROUP:
            ok = kvt_arg_u32(V, "--kv-group", optarg, 1, 1u << 20, &c->size.kv_group);
            break;
        case OPT_STATE_DTYPE:
            ok = kvt_arg_dtype(V, "--state-dtype", optarg, &c->size.state_dtype);
            break;
        case OPT_TP:
            if (strcmp(optarg, "auto") == 0) {
                c->tp_auto = true;
            } else {
                ok = kvt_arg_u32(V, "--tp", optarg, 1, MAX_TP, &c->size.tp);
            }
            break;
        case OPT_PP: ok = kvt_arg_u32(V, "--pp", optarg, 1, MAX_TP, &c->size.pp); break;
        case OPT_DP_ATTN: c->size.dp_attention = true; break;
        case OPT_MTP: c->size.include_mtp = true; break;
        case OPT_BLOCK:
            ok = kvt_arg_u32(V, "--block-tokens", optarg, 1, 1u << 20, &c->size.block_tokens);
            break;
        case OPT_GPU:
            c->plan.gpu = kvt_gpu_find(optarg);
            if (c->plan.gpu == NULL) {
                kvt_cli_error(V, "--gpu: unknown GPU \"%s\" (see kvtier gpus)", optarg);
                ok = false;
            }
            break;
        case OPT_MEM_UTIL:
            ok = kvt_arg_double(V, "--mem-util", optarg, 0.01, 1.0, &c->plan.mem_util);
            break;
        case OPT_RESERVE:
            ok = kvt_arg_u64(V, "--reserve", optarg, 0, 1ull << 50, &u);
            c->plan.activation_reserve_bytes = u;
            break;
        case OPT_WEIGHTS:
            ok = kvt_arg_u64(V, "--weights", optarg, 1, 1ull << 56, &c->plan.weights_bytes);
            break;
        case OPT_PARAMS: ok = kvt_arg_count(V, "--params", optarg, &c->plan.params); break;
        case OPT_WEIGHTS_DTYPE:
            ok = kvt_arg_dtype(V, "--weights-dtype", optarg, &c->plan.weights_dtype);
            break;
        case OPT_LAYERS: c->layers = true; break;
        case OPT_JSON: c->json = true; break;
        case OPT_SEQUENCES:
            ok = kvt_arg_u64(V, "--sequences", optarg, 1, 1ull << 32, &c->sequences);
            break;
        case 'h': fputs(help, stdout); return KVT_EXIT_OK;
        default: return kvt_arg_unknown(V, opt, optopt, flag);
        }
        if (!ok) {
            return KVT_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        kvt_cli_error(V, "unexpected argument \"%s\" (see kvtier size --help)", argv[optind]);
        return KVT_EXIT_USAGE;
    }
    if ((c->config != NULL) + (c->model != NULL) + c->all != 1) {
        kvt_cli_error(V, "give exactly one of --config FILE, --model NAME or --all");
        return KVT_EXIT_USAGE;
    }
    if (c->tp_auto && !c->all) {
        kvt_cli_error(V, "--tp auto is for --all; give a number for one model");
        return KVT_EXIT_USAGE;
    }
    if (c->tp_auto && c->plan.gpu == NULL) {
        kvt_cli_error(V, "--tp auto needs --gpu (it picks the TP where the weights fit)");
        return KVT_EXIT_USAGE;
    }
    return CONTINUE;
}

static int size_one(const kvt_size_cli_t *c)
{
    kvt_model_t *model = NULL;
    kvt_sizing_t *sizing = NULL;
    kvt_plan_t plan;
    kvt_error_t err;
    kvt_status_t st;
    int rc;

    st = c->config ? kvt_model_load_file(c->config, &model, &err)
                   : kvt_model_load_catalog(c->model, &model, &err);
    if (st == KVT_OK) {
        st = kvt_size_compute(model, &c->size, &sizing, &err);
    }
    if (st == KVT_OK && c->plan.gpu != NULL) {
        st = kvt_plan_compute(model, sizing, &c->plan, &plan, &err);
    }
    if (st != KVT_OK) {
        kvt_cli_error(V, "%s", err.message);
        rc = kvt_cli_exit_for(st);
    } else {
        rc = kvt_size_report(c, model, sizing, c->plan.gpu ? &plan : NULL);
    }
    kvt_sizing_destroy(sizing);
    kvt_model_destroy(model);
    return rc;
}

int kvt_cmd_size(int argc, char **argv)
{
    kvt_size_cli_t c;
    int rc = parse(argc, argv, &c);

    if (rc != CONTINUE) {
        return rc;
    }
    return c.all ? kvt_size_report_all(&c) : size_one(&c);
}
