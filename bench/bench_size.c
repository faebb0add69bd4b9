/*
 * bench_size: how fast kvtier reads configs and sizes models, beside its peer.
 *
 * The peer is cJSON parsing the same config text and freeing it -- the floor under any reader
 * built on it: kvtier's load cannot be cheaper than the parse it starts with. We report loads
 * and sizings per second over the whole catalog and the ratio of the load time to the bare
 * parse. A capacity planner sweeping thousands of (model, TP, context, dtype) points wants the
 * sizing step in microseconds.
 */
#include <cjson/cJSON.h>
#include <kvtier/kvtier.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"

/* Repeat fn over the catalog until at least min_s seconds passed; returns seconds per pass. */
#define TIMED(min_s, passes_p, body)                                                               \
    do {                                                                                           \
        double t0_ = now(), el_;                                                                   \
        size_t n_ = 0;                                                                             \
        do {                                                                                       \
            body;                                                                                  \
            n_++;                                                                                  \
        } while ((el_ = now() - t0_) < (min_s));                                                   \
        *(passes_p) = el_ / (double)n_;                                                            \
    } while (0)

int main(void)
{
    size_t n = kvt_catalog_count();
    double parse_s, load_s, size_s;
    size_t bytes = 0;
    kvt_model_t **models = calloc(n, sizeof(*models));

    if (models == NULL) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        bytes += kvt_catalog_at(i)->config_len;
    }
    TIMED(1.0, &parse_s, {
        for (size_t i = 0; i < n; i++) {
            const kvt_catalog_entry_t *e = kvt_catalog_at(i);
            cJSON_Delete(cJSON_ParseWithLength(e->config_json, e->config_len));
        }
    });
    TIMED(1.0, &load_s, {
        for (size_t i = 0; i < n; i++) {
            kvt_model_t *m;
            if (kvt_model_load_catalog(kvt_catalog_at(i)->name, &m, NULL) == KVT_OK) {
                kvt_model_destroy(m);
            }
        }
    });
    for (size_t i = 0; i < n; i++) {
        if (kvt_model_load_catalog(kvt_catalog_at(i)->name, &models[i], NULL) != KVT_OK) {
            fprintf(stderr, "bench_size: %s does not load\n", kvt_catalog_at(i)->name);
            return 1;
        }
    }
    TIMED(1.0, &size_s, {
        for (size_t i = 0; i < n; i++) {
            kvt_sizing_t *s;
            if (kvt_size_compute(models[i], NULL, &s, NULL) == KVT_OK) {
                kvt_sizing_destroy(s);
            }
        }
    });
    printf("bench_size: %zu catalog configs, %zu bytes of JSON in all\n\n", n, bytes);
    printf("  %-34s %12s %14s\n", "operation", "per config", "per second");
    printf("  %-34s %9.2f us %14.0f\n", "peer: cJSON parse + free", parse_s / n * 1e6,
           n / parse_s);
    printf("  %-34s %9.2f us %14.0f   %.2fx the bare parse\n", "kvtier load (parse + build)",
           load_s / n * 1e6, n / load_s, load_s / parse_s);
    printf("  %-34s %9.2f us %14.0f\n", "kvtier size (loaded model)", size_s / n * 1e6,
           n / size_s);
    for (size_t i = 0; i < n; i++) {
        kvt_model_destroy(models[i]);
    }
    free(models);
    return 0;
}
