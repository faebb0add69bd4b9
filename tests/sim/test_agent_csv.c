/*
 * The agent-csv reader (src/sim/read_agent_csv.c, docs/traces.md). Small CSVs are written to
 * temporary files; the chains, block types, transitions, sessions and arrival times they must
 * give are derived by hand in the comments from the rules: L = input + cache_creation +
 * cache_read; a call reuses floor(shared / bt) blocks of the previous call of its (session,
 * sidechain) chain, shared = min(cache_read, previous L) when cache_read is filled, else
 * min(previous L + previous output, L), never more than floor(previous L / bt); session k starts
 * at k x 60 s. The shipped AgentCgroup trace, when ../shared is present, is loaded and replayed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sim/trace_fixture.h"

#include <kvtier/kvtier.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER                                                                                     \
    "trace,call,model,sidechain,t_start_ms,t_last_ms,input_tokens,cache_creation_input_tokens,"    \
    "cache_read_input_tokens,output_tokens\n"

/* Whether block id b appears in any chain of requests [0, before). */
static bool seen_before(const kvt_trace_t *t, uint64_t before, uint32_t b)
{
    const kvt_trace_request_t *q = kvt_trace_requests(t);
    for (uint64_t r = 0; r < before; r++) {
        for (uint32_t p = 0; p < q[r].nblocks; p++) {
            if (chain_of(t, r)[p] == b) {
                return true;
            }
        }
    }
    return false;
}

/*
 * Two sessions, block_tokens 4, rows out of order. Session A (id 0: first in the file) is an
 * API run with cache_read filled, with a sub-agent; session B (id 1) a local run with the cache
 * columns empty. Per call (L, nb = ceil(L / 4)):
 *   A0 main  L = 2+8+0 = 10, 3 blocks, first main call: NEW_SESSION, all SYSTEM; t = 100 ms.
 *   A1 main  L = 1+6+9 = 16, 4 blocks; shared = min(9, 10) = 9, reuse min(9/4, 10/4) = 2 (A0's
 *            first two); parent A0 output range [10, 13): block 2 starts at 8 -> TOOL, block 3
 *            at 12 -> OUTPUT. t = 1000 ms.
 *   A2 side  L = 3+5+0 = 8, 2 blocks, first sidechain call: HANDOFF, fresh, no parent: block 0
 *            SYSTEM, block 1 TOOL. t = 1500 ms.
 *   A3 side  L = 0+4+8 = 12, 3 blocks; shared = min(8, 8) = 8, reuse 2 (A2's); parent A2 output
 *            [8, 15): block 2 at 8 -> OUTPUT. t = 2000 ms.
 *   A4 main  L = 1+3+20 = 24, 6 blocks; follows A1 (not the sidechain): shared = min(20, 16) =
 *            16, reuse min(4, 4) = 4 (A1's four); parent A1 output [16, 18): block 4 at 16 ->
 *            OUTPUT, block 5 at 20 -> TOOL. t = 2500 ms.
 *   A5       model <synthetic>, all counts 0: skipped.
 *   B0 main  L = 9, 3 blocks, NEW_SESSION, all SYSTEM; t = 60 s + 0.
 *   B1 main  L = 20, 5 blocks; no cache_read: shared = min(9 + 6, 20) = 15, reuse min(15/4,
 *            9/4) = 2; parent B0 output [9, 15): block 2 at 8 -> TOOL, 3 at 12 -> OUTPUT, 4 at 16
 *            -> TOOL. t = 60 s + 5000 ms.
 *   B2 main  L = 12 (shorter: the context was trimmed); shared = min(20 + 4, 12) = 12, reuse
 *            min(12/4, 20/4) = 3: the whole chain is B1's first three blocks. t = 60 s + 6000 ms.
 */
static const char two_sessions[] = HEADER "A,0,m,0,100,150,2,8,0,3\n"
                                          "B,1,glm,0,5000,5100,20,,,4\n"
                                          "A,1,m,0,1000,1100,1,6,9,2\n"
                                          "\n"
                                          "A,3,m,1,2000,2100,0,4,8,1\n"
                                          "B,0,glm,0,0,400,9,,,6\n"
                                          "A,2,m,1,1500,1600,3,5,0,7\n"
                                          "A,5,<synthetic>,0,2700,2700,0,0,0,0\n"
                                          "A,4,m,0,2500,2600,1,3,20,0\n"
                                          "B,2,glm,0,6000,6000,12,,,0\n";

static void expect_req(const kvt_trace_t *t, uint64_t r, uint64_t t_us, uint32_t session,
                       uint32_t nblocks, uint32_t input, uint32_t output, kvt_transition_t tr)
{
    const kvt_trace_request_t *q = &kvt_trace_requests(t)[r];
    assert_int_equal(q->t_us, t_us);
    assert_int_equal(q->session, session);
    assert_int_equal(q->nblocks, nblocks);
    assert_int_equal(q->input_tokens, input);
    assert_int_equal(q->output_tokens, output);
    assert_int_equal(q->transition, tr);
}

static void expect_types(const kvt_trace_t *t, uint64_t r, const uint8_t *want, uint32_t n)
{
    const uint8_t *ty = kvt_trace_block_types(t);
    for (uint32_t p = 0; p < n; p++) {
        assert_int_equal(ty[chain_of(t, r)[p]], want[p]);
    }
}

/* Chain of request r: its first `reused` blocks equal those of request from; the rest are new. */
static void expect_reuse(const kvt_trace_t *t, uint64_t r, uint64_t from, uint32_t reused)
{
    const uint32_t *c = chain_of(t, r), *f = chain_of(t, from);
    for (uint32_t p = 0; p < reused; p++) {
        assert_int_equal(c[p], f[p]);
    }
    for (uint32_t p = reused; p < kvt_trace_requests(t)[r].nblocks; p++) {
        assert_false(seen_before(t, r, c[p]));
        for (uint32_t q = p + 1; q < kvt_trace_requests(t)[r].nblocks; q++) {
            assert_int_not_equal(c[p], c[q]);
        }
    }
}

static void test_chains(void **state)
{
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    char path[64];
    (void)state;
    assert_int_equal(load_text(two_sessions, KVT_TRACE_AUTO, 4, &t, &err, path), KVT_OK);

    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_int_equal(in->format, KVT_TRACE_AGENT_CSV);
    assert_int_equal(in->block_tokens, 4);
    assert_int_equal(in->requests, 8); /* 9 rows, the synthetic one skipped */
    assert_int_equal(in->sessions, 2);
    /* refs: A 3+4+2+3+6 = 18, B 3+5+3 = 11 */
    assert_int_equal(in->refs, 29);
    /* distinct: A main 3 + 2 + 2, sidechain 2 + 1, B 3 + 3 + 0 */
    assert_int_equal(in->blocks, 16);
    /* input tokens: A 10+16+8+12+24 = 70, B 9+20+12 = 41 */
    assert_int_equal(in->input_tokens, 111);
    assert_int_equal(in->duration_us, 66000000);

    /* arrival order: A0 A1 A2 A3 A4 B0 B1 B2 */
    const uint8_t S = KVT_BLOCK_SYSTEM, T = KVT_BLOCK_TOOL, O = KVT_BLOCK_OUTPUT;
    expect_req(t, 0, 100000, 0, 3, 10, 3, KVT_TRANS_NEW_SESSION);
    expect_reuse(t, 0, 0, 0);
    expect_types(t, 0, (const uint8_t[]){S, S, S}, 3);

    expect_req(t, 1, 1000000, 0, 4, 16, 2, KVT_TRANS_TOOL_RESULT);
    expect_reuse(t, 1, 0, 2);
    expect_types(t, 1, (const uint8_t[]){S, S, T, O}, 4);

    expect_req(t, 2, 1500000, 0, 2, 8, 7, KVT_TRANS_HANDOFF);
    expect_reuse(t, 2, 0, 0);
    expect_types(t, 2, (const uint8_t[]){S, T}, 2);

    expect_req(t, 3, 2000000, 0, 3, 12, 1, KVT_TRANS_TOOL_RESULT);
    expect_reuse(t, 3, 2, 2);
    expect_types(t, 3, (const uint8_t[]){S, T, O}, 3);

    expect_req(t, 4, 2500000, 0, 6, 24, 0, KVT_TRANS_TOOL_RESULT);
    expect_reuse(t, 4, 1, 4);
    expect_types(t, 4, (const uint8_t[]){S, S, T, O, O, T}, 6);

    /* session B: its own blocks only (expect_reuse checks the new ones against all of A) */
    expect_req(t, 5, 60000000, 1, 3, 9, 6, KVT_TRANS_NEW_SESSION);
    expect_reuse(t, 5, 5, 0);
    expect_types(t, 5, (const uint8_t[]){S, S, S}, 3);

    expect_req(t, 6, 65000000, 1, 5, 20, 4, KVT_TRANS_TOOL_RESULT);
    expect_reuse(t, 6, 5, 2);
    expect_types(t, 6, (const uint8_t[]){S, S, T, O, T}, 5);

    expect_req(t, 7, 66000000, 1, 3, 12, 0, KVT_TRANS_TOOL_RESULT);
    expect_reuse(t, 7, 6, 3);
    kvt_trace_destroy(t);
}

/*
 * Replay of the same trace with room for everything (LRU, 1M tokens = 250,000 blocks): every
 * reused block is resident at arrival. Hits: A1 2 blocks = 8 tokens, A3 2 = 8, A4 4 = 16, B1 2 =
 * 8, B2 the whole chain = its 12 input tokens; 52 tokens of 111, 13 blocks of 29.
 */
static void test_replay_small(void **state)
{
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    kvt_replay_opts_t o;
    kvt_replay_result_t r;
    char path[64];
    (void)state;
    assert_int_equal(load_text(two_sessions, KVT_TRACE_AGENT_CSV, 4, &t, &err, path), KVT_OK);
    kvt_replay_opts_init(&o);
    o.policy = "lru";
    o.capacity_tokens = 1000000;
    assert_int_equal(kvt_replay_run(t, &o, &r, &err), KVT_OK);
    assert_int_equal(r.hit_tokens, 52);
    assert_int_equal(r.input_tokens, 111);
    assert_int_equal(r.block_hits, 13);
    assert_int_equal(r.block_refs, 29);
    kvt_trace_destroy(t);
}

/*
 * The format's default block size is 16; columns are found by name (any order, extra columns
 * ignored), quoted fields may hold commas. A0: L = 10 -> 1 block; A1: L = 40 -> 3 blocks, shared
 * = min(33, 10) = 10, reuse min(10/16, 10/16) = 0: nothing is shared below one block.
 */
static void test_defaults_and_header(void **state)
{
    static const char text[] =
        "call,extra,trace,sidechain,model,t_last_ms,t_start_ms,output_tokens,input_tokens,"
        "cache_read_input_tokens,cache_creation_input_tokens\r\n"
        "0,x,\"runs/a,b\",0,\"m \"\"q\"\"\",7,5,1,2,0,8\r\n"
        "1,y,\"runs/a,b\",0,m,9,9,1,7,33,0\r\n";
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    kvt_trace_format_t f;
    char path[64];
    (void)state;
    assert_int_equal(load_text(text, KVT_TRACE_AGENT_CSV, 0, &t, &err, path), KVT_OK);
    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_int_equal(in->block_tokens, 16);
    assert_int_equal(in->requests, 2);
    assert_int_equal(in->sessions, 1);
    expect_req(t, 0, 5000, 0, 1, 10, 1, KVT_TRANS_NEW_SESSION);
    expect_req(t, 1, 9000, 0, 3, 40, 1, KVT_TRANS_TOOL_RESULT);
    expect_reuse(t, 1, 0, 0);
    kvt_trace_destroy(t);

    /* this header does not start with "trace,call,": auto-detection cannot tell */
    assert_int_equal(load_text(text, KVT_TRACE_AUTO, 0, &t, &err, path), KVT_ERR_PARSE);
    assert_non_null(strstr(err.message, "unknown trace format"));

    assert_string_equal(kvt_trace_format_name(KVT_TRACE_AGENT_CSV), "agent-csv");
    assert_int_equal(kvt_trace_format_parse("agent-csv", &f), KVT_OK);
    assert_int_equal(f, KVT_TRACE_AGENT_CSV);
}

typedef struct bad_case {
    const char *text;
    unsigned line;      /* 0: a whole-file message */
    const char *column; /* NULL: no column */
    const char *problem;
} bad_case_t;

#define ROW_OK "A,0,m,0,1,2,3,4,5,6\n"

static const bad_case_t bad_cases[] = {
    {"", 0, NULL, "no header line"},
    {"\n \n", 0, NULL, "no header line"},
    {HEADER, 0, NULL, "no requests"},
    {HEADER "A,0,<synthetic>,0,1,1,0,0,0,0\n", 0, NULL, "no requests"},
    {ROW_OK, 1, "trace", "missing from the header"},
    {"trace,call,model,sidechain,t_start_ms,t_last_ms,input_tokens,cache_creation_input_tokens,"
     "output_tokens\n" ROW_OK,
     1, "cache_read_input_tokens", "missing from the header"},
    {"trace,call,call,model,sidechain,t_start_ms,t_last_ms,input_tokens,"
     "cache_creation_input_tokens,cache_read_input_tokens,output_tokens\n",
     1, "call", "column named twice"},
    {HEADER ROW_OK "A,1,m,0,1,2,3,4,5\n", 3, NULL, "9 fields, but the header names 10 columns"},
    {HEADER ",0,m,0,1,2,3,4,5,6\n", 2, "trace", "empty"},
    {HEADER "A,,m,0,1,2,3,4,5,6\n", 2, "call", "empty"},
    {HEADER "A,x1,m,0,1,2,3,4,5,6\n", 2, "call", "expected a non-negative integer"},
    {HEADER "A,0,m,2,1,2,3,4,5,6\n", 2, "sidechain", "expected 0 or 1, got \"2\""},
    {HEADER "A,0,m,,1,2,3,4,5,6\n", 2, "sidechain", "expected 0 or 1"},
    {HEADER "A,0,m,01,1,2,3,4,5,6\n", 2, "sidechain", "expected 0 or 1"},
    {HEADER "A,0,m,0,1.5,2,3,4,5,6\n", 2, "t_start_ms", "expected a non-negative integer"},
    {HEADER "A,0,m,0,1,-2,3,4,5,6\n", 2, "t_last_ms", "must be non-negative"},
    {HEADER "A,0,m,0,5,2,3,4,5,6\n", 2, "t_last_ms", "earlier than t_start_ms"},
    {HEADER "\n" ROW_OK "A,1,m,0,1,2,-3,4,5,6\n", 4, "input_tokens", "must be non-negative"},
    {HEADER "A,0,m,0,1,2, 3,4,5,6\n", 2, "input_tokens", "expected a non-negative integer"},
    {HEADER "A,0,m,0,1,2,4294967296,4,5,6\n", 2, "input_tokens", "4294967296 is out of range"},
    {HEADER "A,0,m,0,1,2,3,x,5,6\n", 2, "cache_creation_input_tokens", "expected a"},
    {HEADER "A,0,m,0,1,2,3,4,5e3,6\n", 2, "cache_read_input_tokens", "expected a"},
    {HEADER "A,0,m,0,1,2,3,4,5,\n", 2, "output_tokens", "empty"},
    {HEADER "A,0,m,0,1,2,3,4,5,-6\n", 2, "output_tokens", "must be non-negative"},
    {HEADER "A,0,m,0,1,2,0,0,,6\n", 2, "input_tokens", "empty prompt"},
    {HEADER "A,0,m,0,1,2,0,0,0,0\n", 2, "input_tokens", "empty prompt"},
    {HEADER "A,0,m,0,1,2,16777216,1,0,0\n", 2, "input_tokens", "prompt of 16777217 tokens"},
    {HEADER "A,0,m,0,1,2,3,4,5,6\nB,0,m,0,1,2,3,4,5,6\nA,0,m,1,1,2,3,4,5,6\n", 4, "call",
     "call 0 of this session is also on line 2"},
    {HEADER "\"A,0,m,0,1,2,3,4,5,6\n", 2, NULL, "unterminated quoted field"},
    {HEADER "\"A\"x,0,m,0,1,2,3,4,5,6\n", 2, NULL, "text after a closing quote"},
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case_t *c = &bad_cases[i];
        kvt_trace_t *t = NULL;
        kvt_error_t err;
        char path[64], want[256];
        assert_int_equal(load_text(c->text, KVT_TRACE_AGENT_CSV, 0, &t, &err, path), KVT_ERR_PARSE);
        assert_null(t);
        if (c->line == 0) {
            snprintf(want, sizeof(want), "%s: %s", path, c->problem);
        } else {
            snprintf(want, sizeof(want), "%s:%u: %s%s%s", path, c->line, c->column ? c->column : "",
                     c->column ? ": " : "", c->problem);
        }
        if (strncmp(err.message, want, strlen(want)) != 0) {
            fail_msg("case %zu: got \"%s\", want a message starting \"%s\"", i, err.message, want);
        }
    }
}

/* A NUL byte inside a line (strlen-based helpers cannot write it). */
static void test_nul_byte(void **state)
{
    static const char text[] = HEADER "A,0,m,0,1,2,3\0,4,5,6\n";
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    char path[64], want[128];
    (void)state;
    write_tmp(text, sizeof(text) - 1, path);
    assert_int_equal(kvt_trace_load(path, KVT_TRACE_AGENT_CSV, 0, &t, &err), KVT_ERR_PARSE);
    unlink(path);
    snprintf(want, sizeof(want), "%s:2: NUL byte", path);
    assert_non_null(strstr(err.message, want));
}

/*
 * The shipped AgentCgroup file: 3,675 lines, a header and 3,674 calls of 95 sessions (its
 * README). Two of the calls (lines 287 and 2803) are Claude Code "<synthetic>" rows with every
 * count 0, skipped: 3,672 requests. Replayed under LRU, the hit rate at any capacity lies in
 * (0, the rate with room for everything].
 */
static void test_agentcgroup(void **state)
{
    const char *src = getenv("KVT_SOURCE_DIR");
    char path[4096];
    (void)state;
    if (src == NULL || src[0] == '\0') {
        printf("skipped: KVT_SOURCE_DIR not set, ../shared not present\n");
        skip();
    }
    snprintf(path, sizeof(path), "%s/../shared/traces/agentcgroup-claude-code/llm_calls.csv", src);
    if (access(path, R_OK) != 0) {
        printf("skipped: ../shared not present (%s)\n", path);
        skip();
    }

    /* count the data rows and the synthetic ones independently of the reader */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    uint64_t rows = 0, synthetic = 0;
    while (getline(&line, &cap, f) != -1) {
        rows++;
        synthetic += strstr(line, ",<synthetic>,0,") != NULL;
    }
    free(line);
    fclose(f);
    assert_int_equal(rows - 1, 3674);
    assert_int_equal(synthetic, 2);

    kvt_trace_t *t = NULL;
    kvt_error_t err;
    if (kvt_trace_load(path, KVT_TRACE_AUTO, 0, &t, &err) != KVT_OK) {
        fail_msg("%s", err.message);
    }
    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_int_equal(in->format, KVT_TRACE_AGENT_CSV);
    assert_int_equal(in->block_tokens, 16);
    assert_int_equal(in->requests, 3674 - 2);
    assert_int_equal(in->sessions, 95);

    kvt_replay_opts_t o;
    kvt_replay_result_t all, r;
    kvt_replay_opts_init(&o);
    o.policy = "lru";
    o.capacity_tokens = 1000000000000ull; /* 1T tokens: room for everything */
    assert_int_equal(kvt_replay_run(t, &o, &all, &err), KVT_OK);
    printf("agentcgroup lru: infinite capacity %.2f%%\n", 100 * all.token_hit_rate);
    assert_true(all.token_hit_rate > 0 && all.token_hit_rate <= 1);
    static const uint64_t caps[] = {100000, 300000, 1000000, 3000000};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        o.capacity_tokens = caps[i];
        assert_int_equal(kvt_replay_run(t, &o, &r, &err), KVT_OK);
        printf("agentcgroup lru: %llu tokens %.2f%%\n", (unsigned long long)caps[i],
               100 * r.token_hit_rate);
        assert_true(r.token_hit_rate > 0);
        assert_true(r.token_hit_rate <= all.token_hit_rate);
    }
    kvt_trace_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chains),
        cmocka_unit_test(test_replay_small),
        cmocka_unit_test(test_defaults_and_header),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_agentcgroup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
