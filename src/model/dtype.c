/*
 * Data types and what a vector of them costs.
 *
 * One table holds each type's payload bits, per-group metadata and default group; every sizing
 * figure goes through kvt_dtype_vector_bytes(), so a quantization layout is defined in exactly
 * one place. Per-group metadata follows the common implementations: fp8 KV with an fp32 scale
 * (per tensor by default, as vLLM's k_scale/v_scale; per group when a group is given, as the
 * DeepSeek-V3.2 indexer's 128-element blocks), int8/int4 asymmetric with fp16 scale and zero
 * (per token and head by default, as LMDeploy's quantized KV), and OCP MXFP4 for weights.
 */
#include <kvtier/dtype.h>
#include <strings.h>

typedef struct dtype_row {
    kvt_dtype_t dtype;
    const char *name;
    unsigned bits;
    unsigned meta_bytes; /* per group */
    uint32_t default_group;
} dtype_row_t;

static const dtype_row_t rows[] = {
    {KVT_DTYPE_AUTO, "auto", 0, 0, KVT_GROUP_TENSOR},
    {KVT_DTYPE_BF16, "bf16", 16, 0, KVT_GROUP_TENSOR},
    {KVT_DTYPE_FP16, "fp16", 16, 0, KVT_GROUP_TENSOR},
    {KVT_DTYPE_FP32, "fp32", 32, 0, KVT_GROUP_TENSOR},
    {KVT_DTYPE_FP8_E4M3, "fp8_e4m3", 8, 4, KVT_GROUP_TENSOR},
    {KVT_DTYPE_FP8_E5M2, "fp8_e5m2", 8, 4, KVT_GROUP_TENSOR},
    {KVT_DTYPE_INT8, "int8", 8, 4, KVT_GROUP_VECTOR},
    {KVT_DTYPE_INT4, "int4", 4, 4, KVT_GROUP_VECTOR},
    {KVT_DTYPE_MXFP4, "mxfp4", 4, 1, 32},
};

static const struct {
    const char *alias;
    kvt_dtype_t dtype;
} aliases[] = {
    {"bfloat16", KVT_DTYPE_BF16}, {"float16", KVT_DTYPE_FP16}, {"half", KVT_DTYPE_FP16},
    {"float32", KVT_DTYPE_FP32},  {"float", KVT_DTYPE_FP32},   {"fp8", KVT_DTYPE_FP8_E4M3},
    {"fp8_e4m3fn", KVT_DTYPE_FP8_E4M3}, {"float8_e4m3fn", KVT_DTYPE_FP8_E4M3},
    {"float8_e5m2", KVT_DTYPE_FP8_E5M2},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static const dtype_row_t *row_of(kvt_dtype_t dtype)
{
    for (size_t i = 0; i < NROWS; i++) {
        if (rows[i].dtype == dtype) {
            return &rows[i];
        }
    }
    return &rows[0];
}

const char *kvt_dtype_name(kvt_dtype_t dtype)
{
    return row_of(dtype)->name;
}

kvt_status_t kvt_dtype_parse(const char *name, kvt_dtype_t *dtype_p)
{
    if (name == NULL) {
        return KVT_ERR_NOT_FOUND;
    }
    for (size_t i = 0; i < NROWS; i++) {
        if (strcasecmp(name, rows[i].name) == 0) {
            *dtype_p = rows[i].dtype;
            return KVT_OK;
        }
    }
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcasecmp(name, aliases[i].alias) == 0) {
            *dtype_p = aliases[i].dtype;
            return KVT_OK;
        }
    }
    return KVT_ERR_NOT_FOUND;
}

unsigned kvt_dtype_bits(kvt_dtype_t dtype)
{
    return row_of(dtype)->bits;
}

bool kvt_dtype_is_quantized(kvt_dtype_t dtype)
{
    return row_of(dtype)->meta_bytes != 0;
}

unsigned kvt_dtype_group_meta_bytes(kvt_dtype_t dtype)
{
    return row_of(dtype)->meta_bytes;
}

uint32_t kvt_dtype_default_group(kvt_dtype_t dtype)
{
    return row_of(dtype)->default_group;
}

uint64_t kvt_dtype_vector_bytes(kvt_dtype_t dtype, uint64_t n, uint32_t group)
{
    const dtype_row_t *r = row_of(dtype);
    uint64_t bytes = (n * r->bits + 7) / 8;

    if (r->meta_bytes == 0 || n == 0) {
        return bytes;
    }
    if (group == KVT_GROUP_DEFAULT) {
        group = r->default_group;
    }
    if (group == KVT_GROUP_TENSOR) {
        return bytes;
    }
    uint64_t groups = (group == KVT_GROUP_VECTOR) ? 1 : (n + group - 1) / group;
    return bytes + groups * r->meta_bytes;
}
