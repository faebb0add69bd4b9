/*
 * PLACEHOLDER while the pfs backend is being written: probes as unavailable. Replaced by the
 * real backend before anything lands.
 */
#include "tier/tier_module.h"

#include <stdio.h>

static kvt_status_t probe(const kvt_tier_config_t *cfg, char *why, size_t why_len)
{
    (void)cfg;
    snprintf(why, why_len, "pfs: backend not built yet");
    return KVT_ERR_UNAVAILABLE;
}

const kvt_tier_ops_t kvt_tier_pfs_ops = {
    .version = KVT_TIER_OPS_VERSION,
    .kind = KVT_TIER_PFS,
    .name = "pfs",
    .probe = probe,
};
