/*
 * `kvtier models` and `kvtier gpus`: what the built-in catalogs hold.
 *
 * Both print a table for people or, with --json, an array for scripts. The model list is read
 * through the same loader as --model, so a catalog entry that failed to load shows here as an
 * error instead of silently disappearing.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/table.h"
#include "common/json_writer.h"

#include <getopt.h>
#include <stdlib.h>

#define CONTINUE (-1)

/* The only options these verbs take: --json and --help. Returns CONTINUE or an exit status. */
static int list_opts(const char *verb, const char *help, int argc, char **argv, bool *json_p)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt;

    opterr = 0;
    optind = 1;
    *json_p = false;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            *json_p = true;
            break;
        case 'h':
            fputs(help, stdout);
            return KVT_EXIT_OK;
        default:
            return kvt_arg_unknown(verb, opt, optopt, argv[optind - 1]);
        }
    }
    if (optind < argc) {
        kvt_cli_error(verb, "unexpected argument \"%s\"", argv[optind]);
        return KVT_EXIT_USAGE;
    }
    return CONTINUE;
}

int kvt_cmd_models(int argc, char **argv)
{
    static const char help[] =
        "usage: kvtier models [--json]\n\n"
        "List the built-in model catalog: each entry is a real Hugging Face config.json\n"
        "(data/models/) with its published parameter count. Use a name with\n"
        "`kvtier size --model NAME`.\n";
    kvt_table_t t;
    kvt_json_t w;
    bool json;
    int rc = list_opts("models", help, argc, argv, &json);

    if (rc != CONTINUE) {
        return rc;
    }
    kvt_table_init(&t, 7);
    t.right[3] = t.right[4] = t.right[5] = true;
    kvt_table_cell(&t, "name");
    kvt_table_cell(&t, "attention");
    kvt_table_cell(&t, "layers");
    kvt_table_cell(&t, "params");
    kvt_table_cell(&t, "active");
    kvt_table_cell(&t, "weights");
    kvt_table_cell(&t, "hugging face");
    kvt_json_init(&w, true);
    kvt_json_begin_array(&w, NULL);
    for (size_t i = 0; i < kvt_catalog_count(); i++) {
        const kvt_catalog_entry_t *e = kvt_catalog_at(i);
        kvt_model_t *m;
        kvt_error_t err;
        if (kvt_model_load_catalog(e->name, &m, &err) != KVT_OK) {
            kvt_cli_error("models", "%s", err.message);
            rc = KVT_EXIT_FAIL;
            continue;
        }
        const kvt_model_info_t *in = kvt_model_info(m);
        char layers[64] = "";
        uint32_t counts[5] = {0};
        for (uint32_t l = 0; l < in->num_layers; l++) {
            counts[kvt_model_layer(m, l)->kind]++;
        }
        int off = 0;
        for (int k = 0; k < 5; k++) {
            if (counts[k] != 0 && off < (int)sizeof(layers)) {
                off += snprintf(layers + off, sizeof(layers) - (size_t)off, "%s%u %s",
                                off ? " + " : "", counts[k], kvt_layer_kind_name(k));
            }
        }
        kvt_table_cell(&t, "%s", e->name);
        kvt_table_cell(&t, "%s", kvt_attn_kind_name(in->attn_kind));
        kvt_table_cell(&t, "%s", layers);
        kvt_table_cell(&t, "%.4gB", e->params_total / 1e9);
        kvt_table_cell(&t, e->params_active ? "%.3gB" : "-", e->params_active / 1e9);
        kvt_table_cell(&t, "%s", kvt_dtype_name(e->weights_dtype));
        kvt_table_cell(&t, "%s", e->hf_id);
        kvt_json_begin_object(&w, NULL);
        kvt_json_str(&w, "name", e->name);
        kvt_json_str(&w, "hf_id", e->hf_id);
        kvt_json_str(&w, "attention", kvt_attn_kind_name(in->attn_kind));
        kvt_json_u64(&w, "layers", in->num_layers);
        kvt_json_double(&w, "params_total", e->params_total);
        kvt_json_double(&w, "params_active", e->params_active);
        kvt_json_str(&w, "weights_dtype", kvt_dtype_name(e->weights_dtype));
        kvt_json_end_object(&w);
        kvt_model_destroy(m);
    }
    kvt_json_end_array(&w);
    if (json) {
        int jrc = kvt_cli_print_json(&w);
        rc = rc != KVT_EXIT_OK ? rc : jrc;
    } else {
        kvt_table_print(&t, stdout, "");
        kvt_json_discard(&w);
    }
    kvt_table_free(&t);
    return rc == CONTINUE ? KVT_EXIT_OK : rc;
}

int kvt_cmd_gpus(int argc, char **argv)
{
    static const char help[] =
        "usage: kvtier gpus [--json]\n\n"
        "List the built-in GPU catalog used by `kvtier size --gpu NAME`: memory as the driver\n"
        "reports it, peak memory bandwidth, dense bf16 throughput and the host link.\n";
    kvt_table_t t;
    kvt_json_t w;
    bool json;
    int rc = list_opts("gpus", help, argc, argv, &json);
    char b[32];

    if (rc != CONTINUE) {
        return rc;
    }
    kvt_table_init(&t, 7);
    t.right[2] = t.right[3] = t.right[4] = t.right[6] = true;
    kvt_table_cell(&t, "name");
    kvt_table_cell(&t, "device");
    kvt_table_cell(&t, "memory");
    kvt_table_cell(&t, "HBM GB/s");
    kvt_table_cell(&t, "bf16 TFLOP/s");
    kvt_table_cell(&t, "host link");
    kvt_table_cell(&t, "$/h (assumed)");
    kvt_json_init(&w, true);
    kvt_json_begin_array(&w, NULL);
    for (size_t i = 0; i < kvt_gpu_count(); i++) {
        const kvt_gpu_spec_t *g = kvt_gpu_at(i);
        kvt_table_cell(&t, "%s", g->name);
        kvt_table_cell(&t, "%s", g->display);
        kvt_table_cell(&t, "%s", kvt_fmt_bytes(b, sizeof(b), g->hbm_bytes));
        kvt_table_cell(&t, "%.0f", g->hbm_GBps);
        kvt_table_cell(&t, "%.0f", g->bf16_tflops);
        kvt_table_cell(&t, "%s, %.0f GB/s", g->host_link, g->host_link_GBps);
        kvt_table_cell(&t, "%.2f", g->usd_per_hour);
        kvt_json_begin_object(&w, NULL);
        kvt_json_str(&w, "name", g->name);
        kvt_json_str(&w, "display", g->display);
        kvt_json_u64(&w, "hbm_bytes", g->hbm_bytes);
        kvt_json_double(&w, "hbm_GBps", g->hbm_GBps);
        kvt_json_double(&w, "bf16_tflops", g->bf16_tflops);
        kvt_json_double(&w, "host_link_GBps", g->host_link_GBps);
        kvt_json_str(&w, "host_link", g->host_link);
        kvt_json_str(&w, "note", g->note);
        kvt_json_double(&w, "usd_per_hour", g->usd_per_hour);
        kvt_json_end_object(&w);
    }
    kvt_json_end_array(&w);
    if (json) {
        rc = kvt_cli_print_json(&w);
    } else {
        kvt_table_print(&t, stdout, "");
        kvt_json_discard(&w);
        rc = KVT_EXIT_OK;
    }
    kvt_table_free(&t);
    return rc;
}
