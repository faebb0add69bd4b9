/*
 * libFuzzer target for the trace readers: any bytes in, written to a memory file (memfd, or an
 * unlinked temp file where memfd_create is missing) and loaded with kvt_trace_load as AUTO (the
 * format's own block size), MOONCAKE with 4-token blocks and BAILIAN (16); every trace that loads
 * is checked for internal consistency and replayed at two small capacities under every built-in
 * policy, or under those named in FUZZ_TRACE_POLICIES (comma-separated, e.g. "lru,belady").
 *
 * Beside the sanitizers (ASan, UBSan, LeakSanitizer) it checks the documented contracts, aborting
 * when one is broken: a failing load leaves the trace pointer untouched and fills err with its
 * status and one line starting with the path; a loaded trace's requests are in arrival order with
 * chains of ceil(input / block_tokens) valid block ids; replay counters add up.
 */
#include <kvtier/kvtier.h>

#include "fuzz_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kvt_trace_t *const untouched = (kvt_trace_t *)(uintptr_t)0x1;
static int fd = -1;
static char path[64];

static void check_error(kvt_status_t st, const kvt_trace_t *t, const kvt_error_t *err)
{
    if (t != untouched || st >= 0 || err->status != st ||
        strnlen(err->message, sizeof(err->message)) == sizeof(err->message) ||
        strncmp(err->message, path, strlen(path)) != 0 || strchr(err->message, '\n') != NULL) {
        abort();
    }
}

static void check_trace(const kvt_trace_t *t)
{
    const kvt_trace_info_t *in = kvt_trace_info(t);
    const kvt_trace_request_t *q = kvt_trace_requests(t);
    const uint32_t *refs = kvt_trace_refs(t);
    const uint8_t *types = kvt_trace_block_types(t);
    uint64_t nrefs = 0, input = 0;

    if (in->requests == 0 || in->block_tokens == 0 || in->blocks == 0 || in->sessions == 0 ||
        in->duration_us != q[in->requests - 1].t_us) {
        abort();
    }
    for (uint64_t i = 0; i < in->requests; i++) {
        uint64_t want = ((uint64_t)q[i].input_tokens + in->block_tokens - 1) / in->block_tokens;
        if ((i > 0 && q[i].t_us < q[i - 1].t_us) || q[i].nblocks == 0 || q[i].nblocks != want ||
            q[i].first_ref + q[i].nblocks > in->refs || q[i].session >= in->sessions ||
            q[i].transition >= KVT_TRANSITIONS) {
            abort();
        }
        for (uint32_t p = 0; p < q[i].nblocks; p++) {
            if (refs[q[i].first_ref + p] >= in->blocks) {
                abort();
            }
        }
        nrefs += q[i].nblocks;
        input += q[i].input_tokens;
    }
    if (nrefs != in->refs || input != in->input_tokens) {
        abort();
    }
    for (uint64_t b = 0; b < in->blocks; b++) {
        if (types[b] >= KVT_BLOCK_TYPES) {
            abort();
        }
    }
}

/* The policies to replay: FUZZ_TRACE_POLICIES, or every built-in one. */
static const char *const *policies(void)
{
    static char buf[256];
    static const char *list[17];
    static const char *const *names;
    char *save = NULL;
    size_t n = 0;

    if (names != NULL) {
        return names;
    }
    const char *env = getenv("FUZZ_TRACE_POLICIES");
    if (env == NULL || *env == '\0') {
        return names = kvt_replay_policies();
    }
    snprintf(buf, sizeof(buf), "%s", env);
    for (char *w = strtok_r(buf, ",", &save); w != NULL && n < 16; w = strtok_r(NULL, ",", &save)) {
        list[n++] = w;
    }
    list[n] = NULL;
    return names = list;
}

static void replay(const kvt_trace_t *t)
{
    const kvt_trace_info_t *in = kvt_trace_info(t);
    const char *const *names = policies();
    static const uint64_t caps[] = {1, 5};

    for (size_t p = 0; names[p] != NULL; p++) {
        for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
            kvt_replay_opts_t o;
            kvt_replay_result_t r;
            kvt_error_t err;

            kvt_replay_opts_init(&o);
            o.policy = names[p];
            o.capacity_tokens = caps[c] * in->block_tokens;
            if (kvt_replay_run(t, &o, &r, &err) != KVT_OK) {
                abort(); /* every policy runs on every trace that loads */
            }
            if (r.capacity_blocks != caps[c] || r.requests != in->requests ||
                r.input_tokens != in->input_tokens || r.block_refs != in->refs ||
                r.hit_tokens > r.input_tokens || r.block_hits > r.block_refs ||
                r.block_hits > r.resident_refs || r.evictions > r.insertions ||
                r.insertions - r.evictions > r.capacity_blocks ||
                r.insertions - r.evictions > in->blocks || r.resident_refs > r.block_refs ||
                (caps[c] > 0 && r.insertions > r.block_refs)) {
                abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct {
        kvt_trace_format_t format;
        uint32_t block_tokens;
    } runs[] = {{KVT_TRACE_AUTO, 0},      {KVT_TRACE_MOONCAKE, 4}, {KVT_TRACE_BAILIAN, 0},
                {KVT_TRACE_AGENT_CSV, 4}, {KVT_TRACE_SWE_TRAJ, 4}, {KVT_TRACE_SHAREGPT, 4},
                {KVT_TRACE_TOKENS, 4},    {KVT_TRACE_AZURE, 4}};

    if (fd < 0 && (fd = fuzz_memory_file("fuzz_trace", path, sizeof(path))) < 0) {
        abort();
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
        abort();
    }
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        kvt_trace_t *t = untouched;
        kvt_error_t err;

        memset(&err, 0, sizeof(err));
        kvt_status_t st = kvt_trace_load(path, runs[i].format, runs[i].block_tokens, &t, &err);
        if (st != KVT_OK) {
            check_error(st, t, &err);
            continue;
        }
        check_trace(t);
        replay(t);
        kvt_trace_destroy(t);
    }
    return 0;
}
