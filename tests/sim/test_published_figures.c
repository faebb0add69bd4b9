/*
 * The replay engine against published figures: the Mooncake FAST'25 conversation trace replayed
 * by an independent implementation (issue 3): LRU 5.4 / 13.8 / 29.1 % at 1M / 3M / 10M tokens,
 * 37.4 % with an infinite cache; Belady 25.4 / 35.7 % when ties between blocks next used by the
 * same request evict the chain head first, 25.8 / 36.0 % when they evict the tail first. Within
 * 0.3 points, as the issue requires. Also: the predictive policy beats LRU at each capacity and
 * closes at least 15 % of the LRU-to-Belady gap at 3M tokens, and beats LRU on the Claude Code
 * agent sessions below their working set. Skips when ../shared is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static kvt_trace_t *trace;

static int load(void **state)
{
    char path[4096];
    const char *src = getenv("KVT_SOURCE_DIR");
    kvt_error_t err;
    (void)state;
    snprintf(path, sizeof(path), "%s/../shared/traces/mooncake-fast25/conversation_trace.jsonl",
             src ? src : ".");
    if (access(path, R_OK) != 0) {
        printf("skipped: ../shared not present (%s)\n", path);
        return 0;
    }
    if (kvt_trace_load(path, KVT_TRACE_AUTO, 0, &trace, &err) != KVT_OK) {
        printf("cannot load %s: %s\n", path, err.message);
        return -1;
    }
    return 0;
}

static int unload(void **state)
{
    (void)state;
    kvt_trace_destroy(trace);
    return 0;
}

static double rate(const char *policy, uint64_t capacity)
{
    kvt_replay_opts_t o;
    kvt_replay_result_t r;
    kvt_error_t err;
    kvt_replay_opts_init(&o);
    o.policy = policy;
    o.capacity_tokens = capacity;
    assert_int_equal(kvt_replay_run(trace, &o, &r, &err), KVT_OK);
    return 100 * r.token_hit_rate;
}

#define NEAR(policy, cap, want)                                                                    \
    do {                                                                                           \
        double got_ = rate(policy, cap);                                                           \
        if (fabs(got_ - (want)) > 0.3) {                                                           \
            fail_msg("%s at %llu tokens: %.2f%%, published %.1f%%", policy,                        \
                     (unsigned long long)(cap), got_, (double)(want));                             \
        }                                                                                          \
    } while (0)

static void test_lru_and_belady(void **state)
{
    (void)state;
    if (trace == NULL) {
        skip();
    }
    const kvt_trace_info_t *in = kvt_trace_info(trace);
    assert_int_equal(in->requests, 12031);   /* README: 12,031 rows */
    assert_int_equal(in->refs, 288500);      /* README: 288,500 block references */
    assert_int_equal(in->blocks, 182790);    /* README: 182,790 unique blocks */
    NEAR("lru", 1000000, 5.4);
    NEAR("lru", 3000000, 13.8);
    NEAR("lru", 10000000, 29.1);
    NEAR("lru", 1000000000000ull, 37.4);
    NEAR("belady-head", 1000000, 25.4);
    NEAR("belady-head", 3000000, 35.7);
    NEAR("belady-head", 10000000, 37.4);
    NEAR("belady", 1000000, 25.8);
    NEAR("belady", 3000000, 36.0);
    NEAR("belady", 10000000, 37.4);
}

static void test_predictive_targets(void **state)
{
    (void)state;
    if (trace == NULL) {
        skip();
    }
    static const uint64_t caps[] = {1000000, 3000000, 10000000};
    for (size_t i = 0; i < 3; i++) {
        double lru = rate("lru", caps[i]), pred = rate("predictive", caps[i]);
        if (!(pred > lru)) {
            fail_msg("predictive %.2f%% does not beat LRU %.2f%% at %llu tokens", pred, lru,
                     (unsigned long long)caps[i]);
        }
    }
    /* a cache larger than the trace never evicts: every policy gives the infinite-cache rate */
    double inf_lru = rate("lru", 1000000000000ull), inf_pred = rate("predictive", 1000000000000ull);
    assert_true(inf_lru == inf_pred);
    double lru = rate("lru", 3000000), opt = rate("belady", 3000000);
    double pred = rate("predictive", 3000000);
    double closed = (pred - lru) / (opt - lru);
    if (closed < 0.15) {
        fail_msg("predictive closes %.1f%% of the LRU-to-Belady gap at 3M tokens (< 15%%)",
                 100 * closed);
    }
}

static void test_predictive_agent_sessions(void **state)
{
    char path[4096];
    const char *src = getenv("KVT_SOURCE_DIR");
    kvt_trace_t *agent;
    kvt_error_t err;
    (void)state;
    snprintf(path, sizeof(path), "%s/../shared/traces/agentcgroup-claude-code/llm_calls.csv",
             src ? src : ".");
    if (access(path, R_OK) != 0) {
        printf("skipped: ../shared not present (%s)\n", path);
        skip();
    }
    assert_int_equal(kvt_trace_load(path, KVT_TRACE_AUTO, 0, &agent, &err), KVT_OK);
    kvt_trace_t *saved = trace;
    trace = agent;
    static const uint64_t caps[] = {30000, 100000, 300000};
    for (size_t i = 0; i < 3; i++) {
        double lru = rate("lru", caps[i]), pred = rate("predictive", caps[i]);
        if (!(pred > lru)) {
            fail_msg("agent sessions: predictive %.2f%% does not beat LRU %.2f%% at %llu tokens",
                     pred, lru, (unsigned long long)caps[i]);
        }
    }
    trace = saved;
    kvt_trace_destroy(agent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_and_belady),
        cmocka_unit_test(test_predictive_targets),
        cmocka_unit_test(test_predictive_agent_sessions),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
