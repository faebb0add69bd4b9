/*
 * Typed access to a Hugging Face config.json.
 *
 * Multimodal checkpoints (Llama 4, Gemma 3) nest the language model under `text_config`; a field
 * is looked up there first and then at the top level (where `torch_dtype` usually lives), and an
 * error names the field the way it is spelled in the file ("text_config.head_dim"). JSON null is
 * treated as absent, as transformers does (`"sliding_window": null` means no window). Numbers
 * must be integral where sizes are meant: 4096.5 heads is an error, not 4096. A syntax error
 * reports line and column, computed from the parser's stop offset.
 */
#include "model/json_config.h"

#include "common/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * cJSON reports the last byte both when that byte is wrong and when the input stops too early.
 * Telling them apart: parse the text again with a space appended; if it now fails past the
 * original end, the original simply ended too early. (Error path only.)
 */
static bool input_ends_early(const char *json, size_t len)
{
    char *copy = malloc(len + 2);
    const char *end = NULL;
    bool early = false;

    if (copy == NULL) {
        return false;
    }
    memcpy(copy, json, len);
    copy[len] = ' ';
    copy[len + 1] = '\0';
    cJSON *again = cJSON_ParseWithLengthOpts(copy, len + 1, &end, false);
    if (again == NULL && end != NULL && (size_t)(end - copy) >= len) {
        early = true;
    }
    cJSON_Delete(again);
    free(copy);
    return early;
}

kvt_status_t kvt_cfg_parse(kvt_cfg_t *cfg, const char *json, size_t len, const char *origin,
                           kvt_error_t *err)
{
    const char *end = NULL;

    memset(cfg, 0, sizeof(*cfg));
    cfg->origin = origin;
    cfg->err = err;
    if (len == 0) {
        return kvt_error_set(err, KVT_ERR_PARSE, "%s: empty file, expected a JSON object", origin);
    }
    cfg->root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (cfg->root == NULL) {
        size_t off = (end != NULL && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
        bool at_end = off + 1 >= len && input_ends_early(json, len);
        if (at_end) {
            off = len;
        }
        unsigned line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (json[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return kvt_error_set(err, KVT_ERR_PARSE, "%s:%u:%u: %s", origin, line, col,
                             at_end ? "unexpected end of input" : "not valid JSON");
    }
    /* anything but whitespace after the document is an error too */
    for (size_t i = (size_t)(end - json); i < len; i++) {
        if (strchr(" \t\r\n", json[i]) == NULL && json[i] != '\0') {
            kvt_cfg_release(cfg);
            return kvt_error_set(err, KVT_ERR_PARSE, "%s: unexpected text after the JSON object",
                                 origin);
        }
    }
    if (!cJSON_IsObject(cfg->root)) {
        kvt_cfg_release(cfg);
        return kvt_error_set(err, KVT_ERR_PARSE, "%s: expected a JSON object at the top level",
                             origin);
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(cfg->root, "text_config");
    if (text != NULL && !cJSON_IsNull(text)) {
        if (!cJSON_IsObject(text)) {
            kvt_cfg_release(cfg);
            return kvt_error_set(err, KVT_ERR_INVALID, "%s: text_config: expected an object",
                                 origin);
        }
        cfg->text = text;
    } else {
        cfg->text = cfg->root;
    }
    return KVT_OK;
}

void kvt_cfg_release(kvt_cfg_t *cfg)
{
    cJSON_Delete(cfg->root);
    cfg->root = NULL;
    cfg->text = NULL;
}

const cJSON *kvt_cfg_get(kvt_cfg_t *cfg, const char *key, const char **path_p)
{
    const cJSON *v = NULL;
    bool nested = false;

    if (cfg->text != cfg->root) {
        v = cJSON_GetObjectItemCaseSensitive(cfg->text, key);
        nested = (v != NULL);
    }
    if (v == NULL) {
        v = cJSON_GetObjectItemCaseSensitive(cfg->root, key);
    }
    /* the printable name, built without snprintf: this runs for every field looked up */
    static const char prefix[] = "text_config.";
    size_t off = nested ? sizeof(prefix) - 1 : 0;
    size_t klen = strnlen(key, sizeof(cfg->path) - off - 1);
    memcpy(cfg->path, prefix, off);
    memcpy(cfg->path + off, key, klen);
    cfg->path[off + klen] = '\0';
    if (path_p != NULL) {
        *path_p = cfg->path;
    }
    if (v == NULL || cJSON_IsNull(v)) {
        return NULL;
    }
    return v;
}

const cJSON *kvt_cfg_get_any(kvt_cfg_t *cfg, const char *const *keys, const char **path_p)
{
    for (const char *const *k = keys; *k != NULL; k++) {
        const cJSON *v = kvt_cfg_get(cfg, *k, path_p);
        if (v != NULL) {
            return v;
        }
    }
    /* absent under every name: report the first (canonical) one */
    kvt_cfg_get(cfg, keys[0], path_p);
    return NULL;
}

kvt_status_t kvt_cfg_fail(kvt_cfg_t *cfg, kvt_status_t status, const char *field,
                          const char *fmt, ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (field != NULL && field[0] != '\0') {
        return kvt_error_set(cfg->err, status, "%s: %s: %s", cfg->origin, field, msg);
    }
    return kvt_error_set(cfg->err, status, "%s: %s", cfg->origin, msg);
}

kvt_status_t kvt_cfg_uint(kvt_cfg_t *cfg, const char *const *keys, bool required,
                          bool positive, uint64_t max, uint64_t dflt, uint64_t *v_p)
{
    const char *path;
    const cJSON *v = kvt_cfg_get_any(cfg, keys, &path);

    if (v == NULL) {
        if (required) {
            return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "missing (required)");
        }
        *v_p = dflt;
        return KVT_OK;
    }
    if (!cJSON_IsNumber(v)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "expected an integer");
    }
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "expected an integer, got %g", d);
    }
    if (d < 0) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "must not be negative (got %.0f)", d);
    }
    if (positive && d == 0) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "must be positive (got 0)");
    }
    if (d > (double)max) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "too large (%.0f > %llu)", d,
                            (unsigned long long)max);
    }
    *v_p = (uint64_t)d;
    return KVT_OK;
}

kvt_status_t kvt_cfg_u32(kvt_cfg_t *cfg, const char *key, bool required, uint32_t dflt,
                         uint32_t *v_p)
{
    const char *keys[] = {key, NULL};
    uint64_t v;
    kvt_status_t st = kvt_cfg_uint(cfg, keys, required, required, UINT32_MAX, dflt, &v);
    if (st == KVT_OK) {
        *v_p = (uint32_t)v;
    }
    return st;
}

kvt_status_t kvt_cfg_bool(kvt_cfg_t *cfg, const char *key, bool dflt, bool *v_p)
{
    const char *path;
    const cJSON *v = kvt_cfg_get(cfg, key, &path);

    if (v == NULL) {
        *v_p = dflt;
        return KVT_OK;
    }
    if (!cJSON_IsBool(v)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "expected true or false");
    }
    *v_p = cJSON_IsTrue(v);
    return KVT_OK;
}

kvt_status_t kvt_cfg_str(kvt_cfg_t *cfg, const char *key, const char *dflt, const char **v_p)
{
    const char *path;
    const cJSON *v = kvt_cfg_get(cfg, key, &path);

    if (v == NULL) {
        *v_p = dflt;
        return KVT_OK;
    }
    if (!cJSON_IsString(v)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "expected a string");
    }
    *v_p = v->valuestring;
    return KVT_OK;
}

kvt_status_t kvt_cfg_number(kvt_cfg_t *cfg, const char *key, double dflt, double *v_p)
{
    const char *path;
    const cJSON *v = kvt_cfg_get(cfg, key, &path);

    if (v == NULL) {
        *v_p = dflt;
        return KVT_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        return kvt_cfg_fail(cfg, KVT_ERR_INVALID, path, "expected a number");
    }
    *v_p = v->valuedouble;
    return KVT_OK;
}
