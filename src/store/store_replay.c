/*
 * Driving the live store with a trace (kvtier/trace.h), for benchmarks: the engine's side of
 * the protocol in its simplest form, on one channel.
 *
 * Per request: look the chain up, GET the cached prefix (one scratch buffer: the bytes are not
 * used), then PUT every block from the first miss on (a PUT of a block the store holds is an
 * access that writes nothing, so a chain's resident tail is touched as the replay engine
 * touches it), then flush the channel's access log, so the next request sees this one's
 * promotions and demotions as a replay would. Block ids become keys by a fixed mixing of the
 * id; every payload is one fixed pattern (filling a block per PUT would measure the fill, not
 * the store; the stress test checks content, this measures movement). Timing covers the whole
 * loop.
 */
#include "store/store_internal.h"

#include "common/error.h"
#include "common/mix64.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void kvt_store_replay_opts_init(kvt_store_replay_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->opts_size = sizeof(*opts);
}

static kvt_key_t key_of(uint32_t id)
{
    return (kvt_key_t){kvt_mix64((uint64_t)id + 1), kvt_mix64((uint64_t)id ^ 0xA5A5A5A5u) | 1};
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Submit reqs[0..n) and poll them all back, n at most the queue depth. */
static void run_batch(kvt_store_channel_t *c, kvt_store_req_t *reqs, kvt_store_req_t **done,
                      size_t n)
{
    size_t acc = 0;
    while (acc < n) {
        size_t a = 0;
        (void)kvt_store_submit(c, reqs + acc, n - acc, &a);
        acc += a;
        (void)kvt_store_poll(c, a, done, a ? a : 1);
    }
}

kvt_status_t kvt_store_replay(kvt_store_t *s, const kvt_trace_t *trace,
                              const kvt_store_replay_opts_t *user,
                              kvt_store_replay_result_t *result_p, kvt_error_t *err)
{
    kvt_store_replay_opts_t o;
    if (s == NULL || trace == NULL || result_p == NULL) {
        return kvt_error_set(err, KVT_ERR_INVALID, "kvt_store_replay: NULL argument");
    }
    kvt_store_replay_opts_init(&o);
    if (user != NULL) {
        if (user->opts_size == 0 || user->opts_size > sizeof(o)) {
            return kvt_error_set(err, KVT_ERR_INVALID, "store replay options: unknown opts_size");
        }
        memcpy(&o, user, user->opts_size);
    }
    uint64_t pb = o.payload_bytes ? o.payload_bytes : s->block_bytes;
    if (pb > s->block_bytes || pb < 16) {
        return kvt_error_set(err, KVT_ERR_INVALID,
                             "store replay: payload_bytes %llu outside 16 .. block_bytes %llu",
                             (unsigned long long)pb, (unsigned long long)s->block_bytes);
    }
    const kvt_trace_info_t *in = kvt_trace_info(trace);
    const kvt_trace_request_t *reqs = kvt_trace_requests(trace);
    const uint32_t *refs = kvt_trace_refs(trace);
    uint32_t qd = s->queue_depth;
    kvt_store_channel_t *c = NULL;
    kvt_status_t st = kvt_store_channel_open(s, &c);
    if (st != KVT_OK) {
        return kvt_error_set(err, st, "store replay: cannot open a channel: %s",
                             kvt_status_str(st));
    }
    size_t maxlen = 1;
    for (uint64_t i = 0; i < in->requests; i++) {
        maxlen = reqs[i].nblocks > maxlen ? reqs[i].nblocks : maxlen;
    }
    kvt_key_t *keys = malloc(maxlen * sizeof(*keys));
    uint8_t *tiers = malloc(maxlen);
    kvt_store_req_t *batch = calloc(qd, sizeof(*batch));
    kvt_store_req_t **done = calloc(qd, sizeof(*done));
    unsigned char *scratch = malloc(s->block_bytes);
    unsigned char *payload = malloc(pb);
    if (keys == NULL || tiers == NULL || batch == NULL || done == NULL || scratch == NULL ||
        payload == NULL) {
        st = kvt_error_set(err, KVT_ERR_NO_MEMORY, "store replay: out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < pb; i++) {
        payload[i] = (unsigned char)(kvt_mix64(i) >> 56);
    }

    kvt_store_replay_result_t r;
    memset(&r, 0, sizeof(r));
    uint64_t nreq = o.max_requests && o.max_requests < in->requests ? o.max_requests
                                                                    : in->requests;
    uint32_t bt = in->block_tokens;
    double t0 = seconds();
    for (uint64_t i = 0; i < nreq; i++) {
        const kvt_trace_request_t *q = &reqs[i];
        const uint32_t *chain = refs + q->first_ref;
        for (uint32_t p = 0; p < q->nblocks; p++) {
            keys[p] = key_of(chain[p]);
        }
        size_t m = kvt_store_lookup(s, keys, q->nblocks, tiers);
        /* GET the prefix in batches; the hit prefix ends at the first GET that misses */
        size_t hit = 0;
        bool broken = false;
        for (size_t p0 = 0; p0 < m; p0 += qd) {
            size_t nb = m - p0 < qd ? m - p0 : qd;
            for (size_t j = 0; j < nb; j++) {
                batch[j] = (kvt_store_req_t){.op = KVT_STORE_GET,
                                             .buf = scratch,
                                             .len = s->block_bytes,
                                             .session = q->session};
                batch[j].meta.key = keys[p0 + j];
            }
            run_batch(c, batch, done, nb);
            for (size_t j = 0; j < nb; j++) {
                if (batch[j].status != KVT_OK) {
                    broken = true;
                }
                if (broken) {
                    r.lookups_short++;
                    continue;
                }
                size_t p = p0 + j;
                uint64_t tok = p + 1 == q->nblocks ? q->input_tokens - (uint64_t)p * bt : bt;
                r.hit_blocks[tiers[p]]++; /* where the lookup found it, as replay counts */
                r.hit_tokens_tier[tiers[p]] += tok;
                r.hit_tokens += tok;
                r.bytes_moved += batch[j].len;
                hit++;
            }
        }
        /* PUT the rest of the chain */
        for (size_t p0 = hit; p0 < q->nblocks; p0 += qd) {
            size_t nb = q->nblocks - p0 < qd ? q->nblocks - p0 : qd;
            for (size_t j = 0; j < nb; j++) {
                size_t p = p0 + j;
                batch[j] = (kvt_store_req_t){.op = KVT_STORE_PUT,
                                             .buf = payload,
                                             .len = pb,
                                             .session = q->session};
                batch[j].meta.key = keys[p];
                batch[j].meta.first_token = (uint64_t)p * bt;
                batch[j].meta.ntokens =
                    p + 1 == q->nblocks ? (uint32_t)(q->input_tokens - (uint64_t)p * bt) : bt;
            }
            run_batch(c, batch, done, nb);
            r.put_blocks += nb;
            r.bytes_moved += nb * pb;
        }
        kvt_store_channel_flush(c);
        r.input_tokens += q->input_tokens;
        r.requests++;
    }
    r.wall_s = seconds() - t0;
    r.token_hit_rate = r.input_tokens ? (double)r.hit_tokens / (double)r.input_tokens : 0;
    r.GBps = r.wall_s > 0 ? (double)r.bytes_moved / r.wall_s / 1e9 : 0;
    *result_p = r;

out:
    kvt_store_channel_close(c);
    free(keys);
    free(tiers);
    free(batch);
    free(done);
    free(scratch);
    free(payload);
    return st;
}
