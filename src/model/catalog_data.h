/* Internal: the config.json texts embedded at build time (generated catalog_data.c). */
#ifndef KVT_MODEL_CATALOG_DATA_H
#define KVT_MODEL_CATALOG_DATA_H

#include <stddef.h>

typedef struct kvt_catalog_blob {
    const char *slug; /* file name without .json */
    const char *data; /* NUL-terminated */
    size_t len;       /* without the NUL */
} kvt_catalog_blob_t;

extern const kvt_catalog_blob_t kvt_catalog_blobs[];
extern const size_t kvt_catalog_blob_count;

#endif
