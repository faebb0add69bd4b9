/*
 * kvtier: definitions shared by every public header (export macro, C++ guards).
 */
#ifndef KVTIER_COMMON_H
#define KVTIER_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(KVT_BUILDING_LIB)
#define KVT_API __attribute__((visibility("default")))
#else
#define KVT_API
#endif

#ifdef __cplusplus
#define KVT_BEGIN_DECLS extern "C" {
#define KVT_END_DECLS   }
#else
#define KVT_BEGIN_DECLS
#define KVT_END_DECLS
#endif

#endif
