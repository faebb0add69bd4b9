/* Internal: the model object and the steps that build it from a config. */
#ifndef KVT_MODEL_INTERNAL_H
#define KVT_MODEL_INTERNAL_H

#include <kvtier/model.h>

#include "model/json_config.h"

struct kvt_model {
    kvt_model_info_t info;
    kvt_layer_desc_t *layers;
    char name[128];
    char origin[512];
    char model_type[64];
    char hf_id[128];
};

/* layer_layout.c: decide each layer's kind and window from the config (model->info filled). */
kvt_status_t kvt_layout_resolve(kvt_cfg_t *cfg, kvt_model_t *model);

/* model.c: build a model from a parsed config; on failure *err names origin and field. */
kvt_status_t kvt_model_build(kvt_cfg_t *cfg, kvt_model_t **model_p);

#endif
