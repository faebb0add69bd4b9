/*
 * libFuzzer target for the config.json reader: any bytes in, and when they load, the sizing
 * engine on the model (default options, then TP 2 with a 1000-token context).
 *
 * Beside the sanitizers (ASan, UBSan, LeakSanitizer) it checks the loader's documented error
 * contract, aborting when it is broken: a failing load leaves the model pointer untouched and
 * fills err with its status and one line starting with the origin ("fuzz").
 */
#include <kvtier/kvtier.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN "fuzz"

static kvt_model_t *const untouched = (kvt_model_t *)(uintptr_t)0x1;

static void check_error(kvt_status_t st, const kvt_model_t *m, const kvt_error_t *err)
{
    if (m != untouched || err->status != st ||
        strnlen(err->message, sizeof(err->message)) == sizeof(err->message) ||
        strncmp(err->message, ORIGIN, strlen(ORIGIN)) != 0 || strchr(err->message, '\n') != NULL) {
        abort();
    }
}

static void size_model(const kvt_model_t *m, const kvt_size_opts_t *opts)
{
    kvt_sizing_t *s = NULL;
    kvt_error_t err;

    if (kvt_size_compute(m, opts, &s, &err) == KVT_OK) {
        kvt_sizing_destroy(s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvt_model_t *m = untouched;
    kvt_error_t err;

    memset(&err, 0, sizeof(err));
    kvt_status_t st = kvt_model_load_json((const char *)data, size, ORIGIN, &m, &err);
    if (st != KVT_OK) {
        check_error(st, m, &err);
        return 0;
    }

    /* walk everything the model exposes */
    const kvt_model_info_t *in = kvt_model_info(m);
    for (uint32_t i = 0; i < in->num_layers; i++) {
        if (kvt_model_layer(m, i) == NULL) {
            abort();
        }
    }

    kvt_size_opts_t opts;
    kvt_size_opts_init(&opts);
    size_model(m, &opts);
    opts.tp = 2;
    opts.context_tokens = 1000;
    size_model(m, &opts);

    kvt_model_destroy(m);
    return 0;
}
