/*
 * PLACEHOLDER while the cxl backend is being written: probes as unavailable. Replaced by the
 * real backend before anything lands.
 */
#include "tier/tier_module.h"

#include <stdio.h>

static kvt_status_t probe(const kvt_tier_config_t *cfg, char *why, size_t why_len)
{
    (void)cfg;
    snprintf(why, why_len, "cxl: backend not built yet");
    return KVT_ERR_UNAVAILABLE;
}

const kvt_tier_ops_t kvt_tier_cxl_ops = {
    .version = KVT_TIER_OPS_VERSION,
    .kind = KVT_TIER_CXL,
    .name = "cxl",
    .probe = probe,
};
