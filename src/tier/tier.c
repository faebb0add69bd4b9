/*
 * The tier core: the table of built-in backends and thin dispatch through their ops (see
 * tier_module.h). A kvt_tier_t is the backend's ops plus its context; a channel wraps the
 * backend's channel with a pointer back to its tier. Checks that every backend would repeat
 * (sizes against max_record_bytes, NULL buffers) live here, once, so backends see valid I/Os.
 */
#include "tier/tier_module.h"

#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kvt_tier {
    const kvt_tier_ops_t *ops;
    void *ctx;
    uint64_t max_record_bytes;
};

struct kvt_tier_channel {
    kvt_tier_t *tier;
    void *chan;
};

static const kvt_tier_ops_t *backend(kvt_tier_kind_t kind)
{
    switch (kind) {
    case KVT_TIER_DRAM:
        return &kvt_tier_dram_ops;
    case KVT_TIER_CXL:
        return &kvt_tier_cxl_ops;
    case KVT_TIER_NVME:
        return &kvt_tier_nvme_ops;
    case KVT_TIER_PFS:
        return &kvt_tier_pfs_ops;
    default:
        return NULL;
    }
}

void kvt_tier_config_init(kvt_tier_config_t *cfg, kvt_tier_kind_t kind)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->opts_size = sizeof(*cfg);
    cfg->kind = kind;
    cfg->capacity_bytes = 1ull << 30;
    cfg->max_record_bytes = (16ull << 20) + KVT_BLOCK_HEADER_BYTES;
    cfg->numa_node = -1;
    cfg->hugepages = true;
    cfg->queue_depth = 32;
    cfg->segment_bytes = 256ull << 20;
    cfg->durable = true;
}

kvt_status_t kvt_tier_probe(const kvt_tier_config_t *cfg, char *why, size_t why_len)
{
    const kvt_tier_ops_t *ops = backend(cfg->kind);
    if (ops == NULL) {
        const char *name = kvt_tier_kind_name(cfg->kind);
        snprintf(why, why_len, "%s: no kvtier backend for this tier yet",
                 name != NULL ? name : "unknown tier");
        return KVT_ERR_UNAVAILABLE;
    }
    return ops->probe(cfg, why, why_len);
}

kvt_status_t kvt_tier_open(const kvt_tier_config_t *cfg, kvt_tier_t **tier_p, kvt_error_t *err)
{
    const kvt_tier_ops_t *ops = backend(cfg->kind);
    if (ops == NULL) {
        const char *name = kvt_tier_kind_name(cfg->kind);
        return kvt_error_set(err, KVT_ERR_UNAVAILABLE, "tier %s: no kvtier backend for it yet",
                             name != NULL ? name : "(unknown)");
    }
    if (cfg->opts_size < sizeof(*cfg) || cfg->capacity_bytes == 0 ||
        cfg->max_record_bytes <= KVT_BLOCK_HEADER_BYTES || cfg->queue_depth == 0) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "tier %s: configuration not initialised or zero capacity, record "
                             "size or queue depth",
                             ops->name);
    }
    if ((cfg->kind == KVT_TIER_NVME || cfg->kind == KVT_TIER_PFS) &&
        (cfg->dir == NULL || cfg->dir[0] == '\0')) {
        return kvt_error_set(err, KVT_ERR_INVALID, "tier %s: no directory given", ops->name);
    }
    kvt_tier_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return kvt_error_set(err, KVT_ERR_NO_MEMORY, "tier %s: out of memory", ops->name);
    }
    t->ops = ops;
    t->max_record_bytes = cfg->max_record_bytes;
    kvt_status_t st = ops->open(cfg, &t->ctx, err);
    if (st != KVT_OK) {
        free(t);
        return st;
    }
    if (cfg->prefault && (st = kvt_tier_prefault(t)) != KVT_OK) {
        kvt_tier_close(t);
        return kvt_error_set(err, st, "tier %s: prefault at open: %s (details in the log)",
                             ops->name, kvt_status_str(st));
    }
    *tier_p = t;
    return KVT_OK;
}

void kvt_tier_close(kvt_tier_t *tier)
{
    if (tier == NULL) {
        return;
    }
    tier->ops->close(tier->ctx);
    free(tier);
}

kvt_status_t kvt_tier_channel_open(kvt_tier_t *tier, kvt_tier_channel_t **chan_p)
{
    kvt_tier_channel_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return KVT_ERR_NO_MEMORY;
    }
    c->tier = tier;
    kvt_status_t st = tier->ops->channel_open(tier->ctx, &c->chan);
    if (st != KVT_OK) {
        free(c);
        return st;
    }
    *chan_p = c;
    return KVT_OK;
}

void kvt_tier_channel_close(kvt_tier_channel_t *chan)
{
    if (chan == NULL) {
        return;
    }
    chan->tier->ops->channel_close(chan->chan);
    free(chan);
}

kvt_status_t kvt_tier_submit(kvt_tier_channel_t *chan, kvt_tier_io_t *io)
{
    if (io->buf == NULL || (io->op != KVT_TIER_PUT && io->op != KVT_TIER_GET)) {
        return KVT_ERR_INVALID;
    }
    if (io->op == KVT_TIER_PUT && io->len != io->meta.payload_bytes) {
        return KVT_ERR_INVALID;
    }
    if (io->op == KVT_TIER_PUT && io->len + KVT_BLOCK_HEADER_BYTES > chan->tier->max_record_bytes) {
        return KVT_ERR_DOES_NOT_FIT;
    }
    io->status = KVT_INPROGRESS;
    return chan->tier->ops->submit(chan->chan, io);
}

size_t kvt_tier_poll(kvt_tier_channel_t *chan, size_t min_complete, kvt_tier_io_t **done,
                     size_t max)
{
    return chan->tier->ops->poll(chan->chan, min_complete, done, max);
}

kvt_status_t kvt_tier_run(kvt_tier_channel_t *chan, kvt_tier_io_t *io)
{
    kvt_status_t st = kvt_tier_submit(chan, io);
    if (st != KVT_OK) {
        io->status = st;
        return st;
    }
    while (io->status == KVT_INPROGRESS) {
        kvt_tier_io_t *done[1];
        (void)kvt_tier_poll(chan, 1, done, 1);
    }
    return io->status;
}

kvt_status_t kvt_tier_remove(kvt_tier_t *tier, kvt_key_t key)
{
    return tier->ops->remove(tier->ctx, key);
}

bool kvt_tier_contains(kvt_tier_t *tier, kvt_key_t key)
{
    return tier->ops->contains(tier->ctx, key);
}

kvt_status_t kvt_tier_scan(kvt_tier_t *tier, kvt_tier_scan_cb_t cb, void *arg)
{
    return tier->ops->scan(tier->ctx, cb, arg);
}

uint64_t kvt_tier_capacity_blocks(kvt_tier_t *tier, uint64_t payload_bytes)
{
    if (payload_bytes + KVT_BLOCK_HEADER_BYTES > tier->max_record_bytes) {
        return 0;
    }
    return tier->ops->records(tier->ctx, payload_bytes);
}

size_t kvt_tier_regions(kvt_tier_t *tier, kvt_tier_region_t *out, size_t max)
{
    return tier->ops->regions != NULL ? tier->ops->regions(tier->ctx, out, max) : 0;
}

kvt_status_t kvt_tier_prefault(kvt_tier_t *tier)
{
    return tier->ops->prefault != NULL ? tier->ops->prefault(tier->ctx) : KVT_OK;
}

void kvt_tier_info(kvt_tier_t *tier, kvt_tier_info_t *info)
{
    memset(info, 0, sizeof(*info));
    tier->ops->info(tier->ctx, info);
    info->kind = tier->ops->kind;
    info->name = tier->ops->name;
}
