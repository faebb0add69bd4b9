/* Internal: rendering sizing results as text and JSON (used by `kvtier size`). */
#ifndef KVT_CLI_SIZE_REPORT_H
#define KVT_CLI_SIZE_REPORT_H

#include <kvtier/kvtier.h>

typedef struct kvt_size_cli {
    const char *config, *model;
    bool all, json, layers, tp_auto;
    uint64_t sequences; /* --sequences: total the KV of this many concurrent sequences (0: no) */
    kvt_size_opts_t size;
    kvt_plan_opts_t plan;
} kvt_size_cli_t;

/* Print one model's report (text or JSON per c->json); plan may be NULL. Returns exit status. */
int kvt_size_report(const kvt_size_cli_t *c, const kvt_model_t *model,
                    const kvt_sizing_t *sizing, const kvt_plan_t *plan);

/* Size every catalog model with c's options and print one table or JSON array. */
int kvt_size_report_all(const kvt_size_cli_t *c);

#endif
