/*
 * kvtier data types of KV caches, recurrent states and weights, with their storage cost.
 *
 * A vector of n elements stored in a type costs ceil(n * bits / 8) bytes of payload plus, for
 * quantized types, per-group metadata: fp8 carries one fp32 scale per group (default: one scale
 * per tensor, i.e. nothing per token, as vLLM's fp8 KV cache does); int8 and int4 are asymmetric
 * with an fp16 scale and an fp16 zero point per group (default group: the whole vector, i.e. per
 * token and per KV head, the layout LMDeploy uses). mxfp4 (weights only) is 4 bits plus one e8m0
 * scale byte per 32 elements.
 */
#ifndef KVTIER_DTYPE_H
#define KVTIER_DTYPE_H

#include <kvtier/status.h>

KVT_BEGIN_DECLS

typedef enum kvt_dtype {
    KVT_DTYPE_AUTO = 0, /* follow the model's torch_dtype (or its checkpoint's native type) */
    KVT_DTYPE_BF16,
    KVT_DTYPE_FP16,
    KVT_DTYPE_FP32,
    KVT_DTYPE_FP8_E4M3,
    KVT_DTYPE_FP8_E5M2,
    KVT_DTYPE_INT8,
    KVT_DTYPE_INT4,
    KVT_DTYPE_MXFP4,
} kvt_dtype_t;

/* Group sizes with a special meaning (kvt_dtype_vector_bytes, kv_group options). */
#define KVT_GROUP_DEFAULT 0u          /* the type's default */
#define KVT_GROUP_TENSOR  0xFFFFFFFEu /* one scale per tensor: no per-token overhead */
#define KVT_GROUP_VECTOR  0xFFFFFFFFu /* one group per stored vector (per token, per head) */

/* Canonical name ("bf16", "fp8_e4m3", ...); "auto" for KVT_DTYPE_AUTO. Static storage. */
KVT_API const char *kvt_dtype_name(kvt_dtype_t dtype);

/*
 * Parse a name: bf16, fp16 (half, float16), fp32 (float32), fp8 (= fp8_e4m3), fp8_e4m3, fp8_e5m2,
 * int8, int4, mxfp4, auto; also the torch spellings "bfloat16" and "float16". Case-insensitive.
 * Returns KVT_ERR_NOT_FOUND for anything else. dtype_p is written only on success.
 */
KVT_API kvt_status_t kvt_dtype_parse(const char *name, kvt_dtype_t *dtype_p);

/* Payload bits per element (16 for bf16, 4 for int4); 0 for KVT_DTYPE_AUTO. */
KVT_API unsigned kvt_dtype_bits(kvt_dtype_t dtype);

/* True for types that carry per-group scales (fp8, int8, int4, mxfp4). */
KVT_API bool kvt_dtype_is_quantized(kvt_dtype_t dtype);

/* Metadata bytes per group (fp8: 4, int8/int4: 4 = scale + zero, mxfp4: 1, others 0). */
KVT_API unsigned kvt_dtype_group_meta_bytes(kvt_dtype_t dtype);

/* The type's default group for KV vectors: KVT_GROUP_TENSOR (fp8), KVT_GROUP_VECTOR (int8,
 * int4), 32 (mxfp4), KVT_GROUP_TENSOR for unquantized types (no metadata at all). */
KVT_API uint32_t kvt_dtype_default_group(kvt_dtype_t dtype);

/*
 * Bytes to store one vector of n elements in dtype with the given group (KVT_GROUP_DEFAULT,
 * KVT_GROUP_TENSOR, KVT_GROUP_VECTOR or a positive element count). Unquantized types ignore the
 * group. Returns 0 for KVT_DTYPE_AUTO.
 */
KVT_API uint64_t kvt_dtype_vector_bytes(kvt_dtype_t dtype, uint64_t n, uint32_t group);

KVT_END_DECLS

#endif
