/* Internal: typed, error-reporting access to the fields of a Hugging Face config.json. */
#ifndef KVT_MODEL_JSON_CONFIG_H
#define KVT_MODEL_JSON_CONFIG_H

#include <cjson/cJSON.h>
#include <kvtier/dtype.h>

typedef struct kvt_cfg {
    const char *origin;   /* file name or "catalog:<slug>", first word of every error */
    cJSON *root;          /* the parsed document (owned) */
    const cJSON *text;    /* text_config when present, else root */
    kvt_error_t *err;     /* where errors go (may be NULL) */
    char path[192];       /* scratch: the printable name of the last field looked up */
} kvt_cfg_t;

/* Parse len bytes of JSON. Errors: KVT_ERR_PARSE with line and column, or not an object. */
kvt_status_t kvt_cfg_parse(kvt_cfg_t *cfg, const char *json, size_t len, const char *origin,
                           kvt_error_t *err);
void kvt_cfg_release(kvt_cfg_t *cfg);

/* The field (text_config first, then the top level), NULL when absent or JSON null.
 * path_p (optional) receives the field's name as errors should print it. */
const cJSON *kvt_cfg_get(kvt_cfg_t *cfg, const char *key, const char **path_p);

/* The first of several alternative names that is present (NULL-terminated list). */
const cJSON *kvt_cfg_get_any(kvt_cfg_t *cfg, const char *const *keys, const char **path_p);

/*
 * Read a non-negative integer field (first present of keys). Absent: KVT_OK with *v_p = dflt
 * unless required (then KVT_ERR_INVALID "missing"). Present but not an integer, negative, or
 * above max: KVT_ERR_INVALID naming the field. positive=true also rejects 0.
 */
kvt_status_t kvt_cfg_uint(kvt_cfg_t *cfg, const char *const *keys, bool required,
                          bool positive, uint64_t max, uint64_t dflt, uint64_t *v_p);
kvt_status_t kvt_cfg_u32(kvt_cfg_t *cfg, const char *key, bool required, uint32_t dflt,
                         uint32_t *v_p);
kvt_status_t kvt_cfg_bool(kvt_cfg_t *cfg, const char *key, bool dflt, bool *v_p);
/* A string field; absent gives dflt. */
kvt_status_t kvt_cfg_str(kvt_cfg_t *cfg, const char *key, const char *dflt,
                         const char **v_p);
/* A finite number field; absent gives dflt. */
kvt_status_t kvt_cfg_number(kvt_cfg_t *cfg, const char *key, double dflt, double *v_p);

/* Report a problem with a field: "<origin>: <field>: <message>". Returns status. */
kvt_status_t kvt_cfg_fail(kvt_cfg_t *cfg, kvt_status_t status, const char *field,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
