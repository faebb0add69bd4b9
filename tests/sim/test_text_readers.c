/*
 * The text and token-id trace readers: swe-traj (src/sim/read_swe_traj.c), sharegpt
 * (read_sharegpt.c), tokens (read_tokens.c) and azure (read_azure.c); rules in docs/traces.md.
 * Small inputs are written to temporary files; the chains (which blocks are shared, by equal ids
 * in kvt_trace_refs), block types, transitions, sessions and arrival times they must give are
 * derived by hand in the comments from the documented rules. Malformed inputs must fail with
 * KVT_ERR_PARSE and "<path>:<line>: <field>: <problem>". The shipped files under ../shared/traces,
 * when present, are loaded and their request counts checked against counts made with python3
 * (the commands are in the comments), and replayed under LRU with room for everything.
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
#include <sys/stat.h>
#include <unistd.h>

static const char *tmp_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir && dir[0] && strlen(dir) < 32 ? dir : "/tmp";
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Block p of request r. */
static uint32_t blk(const kvt_trace_t *t, uint64_t r, uint32_t p)
{
    assert_true(p < kvt_trace_requests(t)[r].nblocks);
    return chain_of(t, r)[p];
}

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
    assert_int_equal(kvt_trace_requests(t)[r].nblocks, n);
    const uint8_t *ty = kvt_trace_block_types(t);
    for (uint32_t p = 0; p < n; p++) {
        assert_int_equal(ty[chain_of(t, r)[p]], want[p]);
    }
}

/* Request r's first `shared` blocks are request from's; the others are new (in no earlier chain).
 */
static void expect_reuse(const kvt_trace_t *t, uint64_t r, uint64_t from, uint32_t shared)
{
    for (uint32_t p = 0; p < shared; p++) {
        assert_int_equal(blk(t, r, p), blk(t, from, p));
    }
    for (uint32_t p = shared; p < kvt_trace_requests(t)[r].nblocks; p++) {
        assert_false(seen_before(t, r, blk(t, r, p)));
    }
}

/* LRU with room for everything: hit and input tokens. */
static void expect_lru(const kvt_trace_t *t, uint64_t hit, uint64_t input)
{
    kvt_replay_opts_t o;
    kvt_replay_result_t r;
    kvt_error_t err;
    kvt_replay_opts_init(&o);
    o.policy = "lru";
    o.capacity_tokens = 1000000000000ull;
    assert_int_equal(kvt_replay_run(t, &o, &r, &err), KVT_OK);
    assert_int_equal(r.hit_tokens, hit);
    assert_int_equal(r.input_tokens, input);
}

static const uint8_t S = KVT_BLOCK_SYSTEM, T = KVT_BLOCK_TOOL, U = KVT_BLOCK_USER,
                     O = KVT_BLOCK_OUTPUT;

/* ---------------------------------------------------------------------------------------------
 * swe-traj. block_tokens 4: 4 x 4 = 16-byte chunks of the serialized history, each message
 * "<|role|>\n" + content + "\n". The run below ("b.traj"), bytes of each message:
 *   m0 system "S"                    "<|system|>\nS\n"     13 bytes  [0, 13)
 *   m1 user, parts "ta" + "sk"       "<|user|>\ntask\n"     14        [13, 27)
 *   m2 assistant "a1"                "<|assistant|>\na1\n"  17        [27, 44)
 *   m3 user "o\u0062s" = "obs"       "<|user|>\nobs\n"      13        [44, 57)
 *   m4 assistant "a2"                                       17        [57, 74)
 *   m5 tool "t"                      "<|tool|>\nt\n"        11        [74, 85)
 *   m6 assistant null -> ""          "<|assistant|>\n\n"    15        [85, 100)
 * Calls (one per assistant message; prompt = the bytes before it; tokens = ceil(bytes / 4)):
 *   c0 prompt 27 bytes: 7 tokens, chunks [0,16) [16,27) partial: 2 blocks; types: byte 0 in m0
 *      SYSTEM, byte 16 in m1 (user before any assistant) USER; output ceil(17 / 4) = 5.
 *   c1 prompt 57 bytes: 15 tokens, [0,16) [16,32) [32,48) [48,57): 4 blocks; block 0 is c0's,
 *      block 1 (a full chunk) is not c0's partial one; byte 32 in m2 OUTPUT, byte 48 in m3 (a user
 *      message after an assistant one: an observation) TOOL; output 5.
 *   c2 prompt 85 bytes: 22 tokens, 5 full chunks + [80,85): 6 blocks; blocks 0-2 are c1's, block
 *      3 (full [48,64)) is new, TOOL (m3); byte 64 in m4 OUTPUT; byte 80 in m5 TOOL; output
 *      ceil(15 / 4) = 4.
 * ------------------------------------------------------------------------------------------- */
#define TRAJ_B                                                                                     \
    "{\n"                                                                                          \
    "  \"environment\": \"swe_main\",\n"                                                           \
    "  \"trajectory\": [{\"action\": \"ls\", \"observation\": [1, {\"x\": null}]}],\n"             \
    "  \"history\": [\n"                                                                           \
    "    {\"role\": \"system\", \"content\": \"S\", \"agent\": \"main\"},\n"                       \
    "    {\"content\": [{\"type\": \"text\", \"text\": \"ta\"}, {\"type\": \"text\", "             \
    "\"text\": \"sk\"}], \"role\": \"user\"},\n"                                                   \
    "    {\"role\": \"assistant\", \"content\": \"a1\", \"thought\": \"t\", \"is_demo\": "         \
    "false},\n"                                                                                    \
    "    {\"role\": \"user\", \"content\": \"o\\u0062s\"},\n"                                      \
    "    {\"role\": \"assistant\", \"content\": \"a2\"},\n"                                        \
    "    {\"role\": \"tool\", \"content\": \"t\", \"tool_call_ids\": [\"c1\"]},\n"                 \
    "    {\"role\": \"assistant\", \"content\": null}\n"                                           \
    "  ],\n"                                                                                       \
    "  \"info\": {\"exit_status\": \"submitted\"}\n"                                               \
    "}\n"

/* A second run with the same first two messages: its one call c0' has c0's exact prompt. */
#define TRAJ_A                                                                                     \
    "{\"history\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "             \
    "\"content\": "                                                                                \
    "\"task\"}, {\"role\": \"assistant\", \"content\": \"zz\"}]}"

/* A run with no assistant message: no call, no session. */
#define TRAJ_C "{\"history\": [{\"role\": \"system\", \"content\": \"S\"}]}"

static void check_run_b(const kvt_trace_t *t, uint64_t r0, uint64_t t0, uint32_t session)
{
    expect_req(t, r0, t0, session, 2, 7, 5, KVT_TRANS_NEW_SESSION);
    expect_types(t, r0, (const uint8_t[]){S, U}, 2);
    expect_req(t, r0 + 1, t0 + 10000000, session, 4, 15, 5, KVT_TRANS_TOOL_RESULT);
    expect_reuse(t, r0 + 1, r0, 1);
    expect_types(t, r0 + 1, (const uint8_t[]){S, U, O, T}, 4);
    expect_req(t, r0 + 2, t0 + 20000000, session, 6, 22, 4, KVT_TRANS_TOOL_RESULT);
    expect_reuse(t, r0 + 2, r0 + 1, 3);
    expect_types(t, r0 + 2, (const uint8_t[]){S, U, O, T, O, T}, 6);
}

static void test_swe_traj_file(void **state)
{
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    char path[64];
    (void)state;
    /* the temporary name has no .traj: detected by the first member, "environment" */
    assert_int_equal(load_text(TRAJ_B, KVT_TRACE_AUTO, 4, &t, &err, path), KVT_OK);
    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_int_equal(in->format, KVT_TRACE_SWE_TRAJ);
    assert_int_equal(in->requests, 3);
    assert_int_equal(in->sessions, 1);
    assert_int_equal(in->refs, 12);
    assert_int_equal(in->blocks, 2 + 3 + 3);
    assert_int_equal(in->input_tokens, 7 + 15 + 22);
    assert_int_equal(in->duration_us, 20000000);
    check_run_b(t, 0, 0, 0);
    kvt_trace_destroy(t);

    /* the default block size, 16 tokens = 64 bytes: c0 (27 bytes) is one partial block, c1 (57
     * bytes) one partial block (not c0's), c2 (85 bytes) a full block and a partial one */
    assert_int_equal(load_text(TRAJ_B, KVT_TRACE_SWE_TRAJ, 0, &t, &err, path), KVT_OK);
    assert_int_equal(kvt_trace_info(t)->block_tokens, 16);
    expect_req(t, 0, 0, 0, 1, 7, 5, KVT_TRANS_NEW_SESSION);
    expect_req(t, 1, 10000000, 0, 1, 15, 5, KVT_TRANS_TOOL_RESULT);
    expect_req(t, 2, 20000000, 0, 2, 22, 4, KVT_TRANS_TOOL_RESULT);
    assert_int_not_equal(blk(t, 1, 0), blk(t, 0, 0));
    expect_reuse(t, 2, 0, 0);
    expect_types(t, 2, (const uint8_t[]){S, O}, 2); /* byte 64 is in m4 */
    kvt_trace_destroy(t);
}

/*
 * A directory: a/x.traj (TRAJ_A), b.traj (TRAJ_B), c.traj (TRAJ_C), notes.txt (ignored), read in
 * path order. a/x.traj is session 0: c0' at 0 s, the exact prompt of c0, so the same 2 blocks
 * (typed when first seen: SYSTEM, USER). b.traj is session 1, starting at 60 s: c0 at 60 s has
 * c0' chain, c1 at 70 s, c2 at 80 s as above. c.traj has no call: no session.
 * LRU with room for everything: c0' misses; c0 hits its whole chain (7 tokens); c1 hits block 0
 * (4 tokens); c2 blocks 0-2 (12 tokens): 23 of 7 + 7 + 15 + 22 = 51 tokens.
 */
static void test_swe_traj_dir(void **state)
{
    char dir[64], sub[96], p[128];
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    (void)state;
    snprintf(dir, sizeof(dir), "%s/kvt_traj_XXXXXX", tmp_dir());
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/a", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(p, sizeof(p), "%s/a/x.traj", dir);
    write_file(p, TRAJ_A);
    snprintf(p, sizeof(p), "%s/b.traj", dir);
    write_file(p, TRAJ_B);
    snprintf(p, sizeof(p), "%s/c.traj", dir);
    write_file(p, TRAJ_C);
    snprintf(p, sizeof(p), "%s/notes.txt", dir);
    write_file(p, "not a trajectory\n");

    assert_int_equal(kvt_trace_load(dir, KVT_TRACE_AUTO, 4, &t, &err), KVT_OK);
    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_int_equal(in->format, KVT_TRACE_SWE_TRAJ);
    assert_string_equal(in->origin, dir);
    assert_int_equal(in->requests, 4);
    assert_int_equal(in->sessions, 2);
    assert_int_equal(in->blocks, 8);
    assert_int_equal(in->duration_us, 80000000);
    expect_req(t, 0, 0, 0, 2, 7, 5, KVT_TRANS_NEW_SESSION); /* "<|assistant|>\nzz\n": 17 bytes */
    expect_types(t, 0, (const uint8_t[]){S, U}, 2);
    check_run_b(t, 1, 60000000, 1);
    assert_int_equal(blk(t, 1, 0), blk(t, 0, 0));
    assert_int_equal(blk(t, 1, 1), blk(t, 0, 1)); /* the partial block too: the same 11 bytes */
    expect_lru(t, 23, 51);
    kvt_trace_destroy(t);
    t = NULL;

    /* a file inside, named *.traj: detected by its name */
    snprintf(p, sizeof(p), "%s/b.traj", dir);
    assert_int_equal(kvt_trace_load(p, KVT_TRACE_AUTO, 4, &t, &err), KVT_OK);
    check_run_b(t, 0, 0, 0);
    kvt_trace_destroy(t);
    t = NULL;

    /* a directory given with another format */
    assert_int_equal(kvt_trace_load(dir, KVT_TRACE_SHAREGPT, 4, &t, &err), KVT_ERR_IO);
    assert_non_null(strstr(err.message, "is a directory"));
    assert_null(t);

    snprintf(p, sizeof(p), "%s/a/x.traj", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/b.traj", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/c.traj", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/notes.txt", dir);
    unlink(p);
    rmdir(sub);
    /* an empty directory */
    assert_int_equal(kvt_trace_load(dir, KVT_TRACE_SWE_TRAJ, 4, &t, &err), KVT_ERR_PARSE);
    assert_non_null(strstr(err.message, "no .traj files"));
    rmdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * sharegpt. block_tokens 2: 8-byte chunks of the input; tokens = ceil(bytes / 4). Entries (file
 * order), the chunks ('|' between), the parent found and the arrival (session s, its round r:
 * s x 10 s + r x 30 s):
 *   e0 "abcdefgh|ij" 10 bytes, 3 tokens, 2 blocks; no earlier block: session 0, round 0, 0 s,
 *      NEW_SESSION; no parent, so every block USER. output 3.
 *   e1 "XYZ" 3 bytes, 1 token, 1 (partial) block: session 1, 10 s. output 1.
 *   e2 "abcdefgh|ij\nklmno|pqrst" 21 bytes, 6 tokens, 3 blocks; shares block 0 with e0, whose
 *      whole input (10 bytes) is a prefix: parent e0, session 0 round 1, 30 s, NEXT_TURN. Types
 *      by the builder's rule: e0's output spans tokens [3, 6); block 1 starts at token 2: USER,
 *      block 2 at token 4: OUTPUT. output 2.
 *   e3 "abcdefgh|XX" 10 bytes, 3 tokens, 2 blocks; shares block 0, most recently held by e2,
 *      whose input (21 bytes) is no prefix of it: a new session 2, 20 s. output 0.
 *   e4 "XYZ" again: e1's exact chain; e1 is a prefix: session 1 round 1, 10 + 30 = 40 s,
 *      NEXT_TURN, no new block. output 5.
 *   e5 "abcdefgh|ij\nklmno|pqrst\nuv" 24 bytes, 6 tokens, 3 full blocks; blocks 0 and 1 are e2's,
 *      e2 (21 bytes) is a prefix: session 0 round 2, 60 s, NEXT_TURN; block 2 starts at token 4,
 *      e2's output spans [6, 8): USER. output 1.
 * Arrival order: e0 (0 s), e1 (10 s), e3 (20 s), e2 (30 s), e4 (40 s), e5 (60 s).
 * LRU with room for everything (hits in blocks x 2 tokens): e3 block 0 (2), e2 block 0 (2), e4
 * its whole chain (its 1 input token), e5 blocks 0-1 (4): 9 of 3+1+3+6+1+6 = 20 tokens.
 * ------------------------------------------------------------------------------------------- */
static const char sharegpt_text[] =
    "[\n"
    "  {\"input\": \"abcdefghij\", \"output_length\": 3},\n"
    "  {\"output_length\": 1, \"input\": \"XYZ\", \"extra\": [true, false, null, -1.5e3]},\n"
    "  {\"input\": \"abcdefghij\\nklmnopqrst\", \"output_length\": 2},\n"
    "  {\"input\": \"abcdefghXX\", \"output_length\": 0},\n"
    "  {\"input\": \"X\\u0059Z\", \"output_length\": 5},\n"
    "  {\"input\": \"abcdefghij\\nklmnopqrst\\nuv\", \"output_length\": 1.0}\n"
    "]\n";

static void test_sharegpt(void **state)
{
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    char path[64];
    (void)state;
    assert_int_equal(load_text(sharegpt_text, KVT_TRACE_AUTO, 2, &t, &err, path), KVT_OK);
    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_int_equal(in->format, KVT_TRACE_SHAREGPT);
    assert_int_equal(in->requests, 6);
    assert_int_equal(in->sessions, 3);
    assert_int_equal(in->refs, 2 + 1 + 3 + 2 + 1 + 3);
    assert_int_equal(in->blocks, 2 + 1 + 2 + 1 + 0 + 1);
    assert_int_equal(in->duration_us, 60000000);

    expect_req(t, 0, 0, 0, 2, 3, 3, KVT_TRANS_NEW_SESSION); /* e0 */
    expect_reuse(t, 0, 0, 0);
    expect_types(t, 0, (const uint8_t[]){U, U}, 2);
    expect_req(t, 1, 10000000, 1, 1, 1, 1, KVT_TRANS_NEW_SESSION); /* e1 */
    expect_reuse(t, 1, 1, 0);
    expect_types(t, 1, (const uint8_t[]){U}, 1);
    expect_req(t, 2, 20000000, 2, 2, 3, 0, KVT_TRANS_NEW_SESSION); /* e3 */
    expect_reuse(t, 2, 0, 1);
    expect_types(t, 2, (const uint8_t[]){U, U}, 2);
    expect_req(t, 3, 30000000, 0, 3, 6, 2, KVT_TRANS_NEXT_TURN); /* e2: e0's block 0 */
    assert_int_equal(blk(t, 3, 0), blk(t, 0, 0));
    assert_int_not_equal(blk(t, 3, 1), blk(t, 0, 1));
    assert_false(seen_before(t, 3, blk(t, 3, 1)));
    assert_false(seen_before(t, 3, blk(t, 3, 2)));
    expect_types(t, 3, (const uint8_t[]){U, U, O}, 3);
    expect_req(t, 4, 40000000, 1, 1, 1, 5, KVT_TRANS_NEXT_TURN); /* e4 = e1 */
    expect_reuse(t, 4, 1, 1);
    expect_req(t, 5, 60000000, 0, 3, 6, 1, KVT_TRANS_NEXT_TURN); /* e5 */
    expect_reuse(t, 5, 3, 2);
    expect_types(t, 5, (const uint8_t[]){U, U, U}, 3);
    expect_lru(t, 9, 20);
    kvt_trace_destroy(t);

    /* default block size 16 = 64-byte chunks: every input is one partial block; e4 = e1 only */
    assert_int_equal(load_text(sharegpt_text, KVT_TRACE_SHAREGPT, 0, &t, &err, path), KVT_OK);
    in = kvt_trace_info(t);
    assert_int_equal(in->block_tokens, 16);
    assert_int_equal(in->blocks, 5);
    assert_int_equal(in->sessions, 5); /* no full block: only e4 finds a parent (e1) */
    kvt_trace_destroy(t);
}

/* ---------------------------------------------------------------------------------------------
 * tokens. block_tokens 2: blocks of 2 token ids. Lines (file order):
 *   l1 ids 1 2|3 4|5, 5 tokens, 3 blocks, arrival 1500 ns -> 1.5 us rounds to 2 us; no earlier
 *      block: session 0, NEW_SESSION, new blocks USER. output 2.
 *   l2 ids 1 2|7 8 at 2400 ns -> 2 us: shares block 0 only, and a parent needs a shared block
 *      at position 1 or deeper: session 1, NEW_SESSION. output 0.
 *   l3 ids 1 2|3 4|5 6|10 11|12 at 1e6 ns = 1000 us: shares blocks 0-1 with l1 (its block 2 is
 *      the full [5 6], not l1's partial [5]): parent l1, session 0, NEXT_TURN. Types: l1's output
 *      spans tokens [5, 7): block 2 (token 4) USER, block 3 (token 6) OUTPUT, block 4 (8) USER.
 *   l4 ids 1 2|7 8 again at 5000 ns = 5 us: l2's chain, parent l2, session 1, NEXT_TURN.
 * Arrival order: l1 (2 us), l2 (2 us, file order), l4 (5 us), l3 (1000 us).
 * ------------------------------------------------------------------------------------------- */
static const char tokens_text[] =
    "{\"input_toks\": 5, \"output_toks\": 2, \"arrival_time_ns\": 1500, \"input_tok_ids\": [1, "
    "2, 3, 4, 5], \"output_tok_ids\": [9, 9]}\n"
    "\n"
    "{\"input_toks\": 4, \"output_toks\": 0, \"arrival_time_ns\": 2400, \"input_tok_ids\": [1, "
    "2, 7, 8], \"output_tok_ids\": []}\n"
    "{\"input_toks\": 9, \"output_toks\": 1, \"arrival_time_ns\": 1000000, \"input_tok_ids\": "
    "[1, 2, 3, 4, 5, 6, 10, 11, 12], \"output_tok_ids\": [3]}\n"
    "{\"arrival_time_ns\": 5000, \"input_tok_ids\": [1, 2, 7, 8], \"input_toks\": 4, "
    "\"output_toks\": 7}\n";

static void test_tokens(void **state)
{
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    char path[64];
    (void)state;
    assert_int_equal(load_text(tokens_text, KVT_TRACE_AUTO, 2, &t, &err, path), KVT_OK);
    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_int_equal(in->format, KVT_TRACE_TOKENS);
    assert_int_equal(in->requests, 4);
    assert_int_equal(in->sessions, 2);
    assert_int_equal(in->blocks, 3 + 1 + 3);
    assert_int_equal(in->duration_us, 1000);

    expect_req(t, 0, 2, 0, 3, 5, 2, KVT_TRANS_NEW_SESSION); /* l1 */
    expect_reuse(t, 0, 0, 0);
    expect_types(t, 0, (const uint8_t[]){U, U, U}, 3);
    expect_req(t, 1, 2, 1, 2, 4, 0, KVT_TRANS_NEW_SESSION); /* l2 */
    expect_reuse(t, 1, 0, 1);
    expect_req(t, 2, 5, 1, 2, 4, 7, KVT_TRANS_NEXT_TURN); /* l4 */
    expect_reuse(t, 2, 1, 2);
    expect_req(t, 3, 1000, 0, 5, 9, 1, KVT_TRANS_NEXT_TURN); /* l3 */
    expect_reuse(t, 3, 0, 2);
    expect_types(t, 3, (const uint8_t[]){U, U, U, O, U}, 5);
    /* LRU, room for everything: l2 block 0 (2), l4 whole chain (4), l3 blocks 0-1 (4) */
    expect_lru(t, 10, 5 + 4 + 4 + 9);
    kvt_trace_destroy(t);
}

/* ---------------------------------------------------------------------------------------------
 * azure. The prefix model's prompt for data rows 0-4, from the documented generator:
 *   python3 -c 'M=2**64-1
 *   def sm(x):
 *       z=(x+0x9E3779B97F4A7C15)&M; z=((z^(z>>30))*0xBF58476D1CE4E5B9)&M
 *       z=((z^(z>>27))*0x94D049BB133111EB)&M; return z^(z>>31)
 *   def pick(r):
 *       u=(sm(r)>>11)*2.0**-53; h=sum(1.0/(k+1) for k in range(8)); c=0.0
 *       for k in range(8):
 *           c+=1.0/(k+1)
 *           if u*h<c: return k
 *   print([pick(i) for i in range(5)])'          -> [5, 2, 2, 0, 1]
 * block_tokens 16, S = 1024; system blocks: (j + 1) x 16 <= min(1024, L - 1).
 *   r0 L 374: min(1024, 373) -> 23 system blocks (368 <= 373), 24 blocks, prompt 5; t 0.
 *   r1 L 396: 395 -> 24 system blocks, 25 blocks, prompt 2; t 50.9951690 - 46.6805900 s =
 *      4.314579 s (fractions truncated to us).
 *   r2 L 2048: 1024 -> 64 system blocks, 128 blocks, prompt 2 (r1's first 24 are the same ids);
 *      t 23:59:59.999999 - 18:15:46.680590 = 20653.319409 s.
 *   r3 L 1: 0 system blocks, 1 block; t 00:00:01 on the next day: 20654.319410 s.
 *   r4 L 17: 16 -> 1 system block, 2 blocks, prompt 1; 2024-02-29 (a leap day): 105 days after
 *      2023-11-16 (14 + 31 + 31 + 29), t = 105 x 86400 - 65746.680590 = 9006253.319410 s.
 * ------------------------------------------------------------------------------------------- */
static const char azure_text[] = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
                                 "2023-11-16 18:15:46.6805900,374,44\r\n"
                                 "2023-11-16 18:15:50.9951690,396,109\r\n"
                                 "2023-11-16T23:59:59.9999999,2048,0\r\n"
                                 "\r\n"
                                 "2023-11-17 00:00:01,1,7\r\n"
                                 "2024-02-29 00:00:00.0,17,1\r\n";

static void test_azure(void **state)
{
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    char path[64];
    (void)state;
    assert_int_equal(load_text(azure_text, KVT_TRACE_AUTO, 0, &t, &err, path), KVT_OK);
    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_int_equal(in->format, KVT_TRACE_AZURE);
    assert_int_equal(in->block_tokens, 16);
    assert_int_equal(in->requests, 5);
    assert_int_equal(in->sessions, 5);
    /* distinct: r0 24, r1 25, r2 128 - 24 shared with r1, r3 1, r4 2 */
    assert_int_equal(in->blocks, 24 + 25 + 104 + 1 + 2);
    assert_int_equal(in->duration_us, 9006253319410ull);

    expect_req(t, 0, 0, 0, 24, 374, 44, KVT_TRANS_NEW_SESSION);
    expect_req(t, 1, 4314579, 1, 25, 396, 109, KVT_TRANS_NEW_SESSION);
    expect_req(t, 2, 20653319409ull, 2, 128, 2048, 0, KVT_TRANS_NEW_SESSION);
    expect_req(t, 3, 20654319410ull, 3, 1, 1, 7, KVT_TRANS_NEW_SESSION);
    expect_req(t, 4, 9006253319410ull, 4, 2, 17, 1, KVT_TRANS_NEW_SESSION);
    const uint8_t *ty = kvt_trace_block_types(t);
    static const uint32_t sys[5] = {23, 24, 64, 0, 1};
    for (uint64_t r = 0; r < 5; r++) {
        for (uint32_t p = 0; p < kvt_trace_requests(t)[r].nblocks; p++) {
            assert_int_equal(ty[blk(t, r, p)], p < sys[r] ? S : U);
        }
    }
    expect_reuse(t, 0, 0, 0);
    expect_reuse(t, 1, 1, 0);  /* prompt 2 is new */
    expect_reuse(t, 2, 1, 24); /* prompt 2 again: r1's 24 system blocks */
    expect_reuse(t, 3, 3, 0);
    expect_reuse(t, 4, 4, 0); /* prompt 1 is new */
    /* LRU, room for everything: r2 hits 24 blocks = 384 tokens */
    expect_lru(t, 384, 374 + 396 + 2048 + 1 + 17);
    kvt_trace_destroy(t);
}

static void test_format_names(void **state)
{
    static const struct {
        kvt_trace_format_t f;
        const char *name;
    } names[] = {{KVT_TRACE_SWE_TRAJ, "swe-traj"},
                 {KVT_TRACE_SHAREGPT, "sharegpt"},
                 {KVT_TRACE_TOKENS, "tokens"},
                 {KVT_TRACE_AZURE, "azure"}};
    kvt_trace_format_t f;
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    char path[64];
    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_string_equal(kvt_trace_format_name(names[i].f), names[i].name);
        assert_int_equal(kvt_trace_format_parse(names[i].name, &f), KVT_OK);
        assert_int_equal(f, names[i].f);
    }
    assert_int_equal(KVT_TRACE_SWE_TRAJ, KVT_TRACE_AGENT_CSV + 1);
    /* shapes auto-detection does not take: give --format */
    static const char *const unknown[] = {"[{\"text\": \"a\"}]\n", "[\n  \"input\"\n]\n",
                                          "{\n  \"info\": {}, \"history\": []\n}\n",
                                          "timestamp,ContextTokens,GeneratedTokens\n"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(load_text(unknown[i], KVT_TRACE_AUTO, 0, &t, &err, path), KVT_ERR_PARSE);
        assert_non_null(strstr(err.message, "unknown trace format (give --format"));
        assert_null(t);
    }
}

/* --------------------------------------------------------------------------------------------- */

typedef struct bad_case {
    kvt_trace_format_t format;
    const char *text;
    unsigned line;     /* 0: a whole-file message */
    const char *field; /* NULL: none */
    const char *problem;
} bad_case_t;

#define SGE(x) "{\"input\": \"abc\", \"output_length\": " x "}"
#define SG(x)  "[" SGE(x) "]"
#define TK(x)  "{\"input_toks\": 2, \"output_toks\": 1, \"arrival_time_ns\": 0, " x "}\n"
#define TKOK   TK("\"input_tok_ids\": [1, 2]")
#define AZH    "TIMESTAMP,ContextTokens,GeneratedTokens\n"
#define AZOK   "2023-11-16 18:15:46.6805900,374,44\n"
#define H(x)   "{\"history\": [" x "]}"
#define SYSMSG "{\"role\": \"system\", \"content\": \"s\"}"

static const bad_case_t bad_cases[] = {
    /* swe-traj */
    {KVT_TRACE_SWE_TRAJ, H(SYSMSG ", {\"role\": \"assistant\"}"), 1, "history[1].content",
     "missing"},
    {KVT_TRACE_SWE_TRAJ, H("{\"content\": \"x\"}"), 1, "history[0].role", "missing"},
    {KVT_TRACE_SWE_TRAJ,
     "{\n \"history\": [\n  " SYSMSG ",\n  {\"role\": \"user\",\n"
     "   \"content\": 5}\n ]\n}\n",
     5, "history[1].content", "expected a string, null or an array of text parts"},
    {KVT_TRACE_SWE_TRAJ, H("{\"role\": \"user\", \"content\": [{\"text\": 1}]}"), 1,
     "history[0].content", "a part's text is not a string"},
    {KVT_TRACE_SWE_TRAJ, H("{\"role\": \"robot\", \"content\": \"\"}"), 1, "history[0].role",
     "unknown role \"robot\""},
    {KVT_TRACE_SWE_TRAJ, H("{\"role\": \"a\\nb\", \"content\": \"\"}"), 1, "history[0].role",
     "unknown role \"a?b\""},
    {KVT_TRACE_SWE_TRAJ, H("{\"role\": 1, \"content\": \"\"}"), 1, "history[0].role",
     "expected a string"},
    {KVT_TRACE_SWE_TRAJ, H("[]"), 1, "history[0]", "expected a message object"},
    {KVT_TRACE_SWE_TRAJ, "{\"history\": {}}", 1, "history", "expected an array of messages"},
    {KVT_TRACE_SWE_TRAJ, "{\"trajectory\": []}", 1, "history", "missing"},
    {KVT_TRACE_SWE_TRAJ, "[1]", 1, NULL, "expected a JSON object"},
    {KVT_TRACE_SWE_TRAJ, H("{\"role\": \"assistant\", \"content\": \"a\"}"), 1, "history[0].role",
     "an assistant message first in the history"},
    {KVT_TRACE_SWE_TRAJ, H(SYSMSG), 0, NULL, "no requests"},
    {KVT_TRACE_SWE_TRAJ, "", 1, NULL, "invalid JSON: expected a value, got the end of the file"},
    {KVT_TRACE_SWE_TRAJ, "{\"history\": [\n" SYSMSG ",\n]}", 3, NULL,
     "invalid JSON: expected a value, got ']'"},
    {KVT_TRACE_SWE_TRAJ, "{\"history\": [" SYSMSG "\n\n" SYSMSG "]}", 3, NULL,
     "invalid JSON: expected ',' or ']'"},
    {KVT_TRACE_SWE_TRAJ, "{\"history\": [{\"role\": \"user\", \"content\": \"a\nb\"}]}", 1, NULL,
     "invalid JSON: line break inside a string"},
    {KVT_TRACE_SWE_TRAJ, "{\"history\": [{\"role\": \"user\", \"content\": \"a\\qb\"}]}", 1, NULL,
     "invalid JSON: expected an escape"},
    {KVT_TRACE_SWE_TRAJ, "{\"history\": [{\"role\": \"user\", \"content\": \"\\u12x4\"}]}", 1, NULL,
     "invalid JSON: expected four hex digits"},
    {KVT_TRACE_SWE_TRAJ, "{\"x\": tru, \"history\": []}", 1, NULL,
     "invalid JSON: expected \"true\""},
    {KVT_TRACE_SWE_TRAJ, "{\"x\": 1 \"history\": []}", 1, NULL, "invalid JSON: expected ','"},
    {KVT_TRACE_SWE_TRAJ, "{\"x\" 1}", 1, NULL, "invalid JSON: expected ':'"},
    {KVT_TRACE_SWE_TRAJ, "{\"history\": [], }", 1, NULL, "invalid JSON: expected a member name"},
    {KVT_TRACE_SWE_TRAJ, H(SYSMSG) "\n x", 2, NULL, "invalid JSON: expected the end of the file"},
    {KVT_TRACE_SWE_TRAJ, "{\"history\": [\n" SYSMSG, 2, NULL, "invalid JSON: expected ',' or ']'"},
    {KVT_TRACE_SWE_TRAJ, "{\"history\": [], \"history\": []}", 1, "history", "given twice"},
    {KVT_TRACE_SWE_TRAJ, "{\"x\": 012}", 1, NULL, "invalid JSON: malformed number \"012\""},
    {KVT_TRACE_SWE_TRAJ, "{\"x\": 1.}", 1, NULL, "invalid JSON: malformed number \"1.\""},
    {KVT_TRACE_SWE_TRAJ, "{\"x\": -}", 1, NULL, "invalid JSON: malformed number \"-\""},
    /* sharegpt */
    {KVT_TRACE_SHAREGPT, "[{\"input\": \"a\"}]", 1, "[0].output_length", "missing"},
    {KVT_TRACE_SHAREGPT, "[{\"output_length\": 1}]", 1, "[0].input", "missing"},
    {KVT_TRACE_SHAREGPT,
     "[\n  " SGE("1") ",\n  {\"input\": \"abc\",\n   \"output_length\": 1.5}\n]", 4,
     "[1].output_length", "expected an integer"},
    {KVT_TRACE_SHAREGPT, SG("-1"), 1, "[0].output_length", "out of range"},
    {KVT_TRACE_SHAREGPT, SG("4294967296"), 1, "[0].output_length", "out of range"},
    {KVT_TRACE_SHAREGPT, SG("\"7\""), 1, "[0].output_length", "expected an integer"},
    {KVT_TRACE_SHAREGPT, SG("1e400"), 1, "[0].output_length", "expected an integer"},
    {KVT_TRACE_SHAREGPT, "[{\"input\": \"\", \"output_length\": 1}]", 1, "[0].input", "empty"},
    {KVT_TRACE_SHAREGPT, "[{\"input\": 7, \"output_length\": 1}]", 1, "[0].input",
     "expected a string"},
    {KVT_TRACE_SHAREGPT, "[" SG("1") "]", 1, "[0]", "expected an object"},
    {KVT_TRACE_SHAREGPT, "{\"input\": \"a\"}", 1, NULL, "expected a JSON array"},
    {KVT_TRACE_SHAREGPT, "[]", 0, NULL, "no requests"},
    {KVT_TRACE_SHAREGPT, "[\n" SGE("1") "\n", 3, NULL,
     "invalid JSON: expected ',' or ']' after an array element, got the end of the file"},
    /* tokens */
    {KVT_TRACE_TOKENS, TKOK TK("\"x\": 1"), 2, "input_tok_ids", "missing"},
    {KVT_TRACE_TOKENS, TK("\"input_tok_ids\": [1]"), 1, "input_tok_ids",
     "1 token ids, but input_toks is 2"},
    {KVT_TRACE_TOKENS, TK("\"input_tok_ids\": [1, -2]"), 1, "input_tok_ids", "element 1 is not"},
    {KVT_TRACE_TOKENS, TK("\"input_tok_ids\": [1, 4294967296]"), 1, "input_tok_ids",
     "element 1 is not"},
    {KVT_TRACE_TOKENS, TK("\"input_tok_ids\": {}"), 1, "input_tok_ids", "expected an array"},
    {KVT_TRACE_TOKENS,
     "{\"input_toks\": 0, \"output_toks\": 1, \"arrival_time_ns\": 0, \"input_tok_ids\": []}\n", 1,
     "input_toks", "must be positive"},
    {KVT_TRACE_TOKENS,
     "{\"input_toks\": 1, \"output_toks\": 1.5, \"arrival_time_ns\": 0, \"input_tok_ids\": [1]}\n",
     1, "output_toks", "expected an integer"},
    {KVT_TRACE_TOKENS,
     "{\"input_toks\": 1, \"output_toks\": 1, \"arrival_time_ns\": -1, \"input_tok_ids\": [1]}\n",
     1, "arrival_time_ns", "expected a non-negative number"},
    {KVT_TRACE_TOKENS, "{\"input_toks\": 1, \"output_toks\": 1, \"input_tok_ids\": [1]}\n", 1,
     "arrival_time_ns", "missing"},
    {KVT_TRACE_TOKENS, TKOK "\n[1]\n", 3, NULL, "not a JSON object"},
    {KVT_TRACE_TOKENS, TKOK "{\"input_toks\": 1} x\n", 2, NULL, "unexpected text after"},
    {KVT_TRACE_TOKENS, "\n\n", 0, NULL, "no requests"},
    /* azure */
    {KVT_TRACE_AZURE, "TIMESTAMP,ContextTokens\n" AZOK, 1, "GeneratedTokens", "missing from"},
    {KVT_TRACE_AZURE, "TIMESTAMP,ContextTokens,GeneratedTokens,TIMESTAMP\n", 1, "TIMESTAMP",
     "column named twice"},
    {KVT_TRACE_AZURE, AZH "2023-11-16 18:15:46,374\n", 2, NULL,
     "2 fields, but the header names 3 columns"},
    {KVT_TRACE_AZURE, AZH "2023/11/16 18:15:46,374,44\n", 2, "TIMESTAMP",
     "expected YYYY-MM-DD HH:MM:SS[.fraction], got \"2023/11/16 18:15:46\""},
    {KVT_TRACE_AZURE, AZH "2023-11-16 18:15:46.,374,44\n", 2, "TIMESTAMP", "expected YYYY"},
    {KVT_TRACE_AZURE, AZH "2023-11-16 18:15:46.5Z,374,44\n", 2, "TIMESTAMP", "expected YYYY"},
    {KVT_TRACE_AZURE, AZH "2023-02-29 18:15:46,374,44\n", 2, "TIMESTAMP", "no such date or time"},
    {KVT_TRACE_AZURE, AZH "2023-11-16 24:00:00,374,44\n", 2, "TIMESTAMP", "no such date or time"},
    {KVT_TRACE_AZURE, AZH AZOK "2023-11-16 18:15:46.6805899,374,44\n", 3, "TIMESTAMP",
     "earlier than the first row's"},
    {KVT_TRACE_AZURE, AZH "2023-11-16 18:15:46,0,44\n", 2, "ContextTokens", "must be positive"},
    {KVT_TRACE_AZURE, AZH "2023-11-16 18:15:46,x,44\n", 2, "ContextTokens",
     "expected a non-negative integer, got \"x\""},
    {KVT_TRACE_AZURE, AZH "2023-11-16 18:15:46,16777217,44\n", 2, "ContextTokens",
     "16777217 is out of range"},
    {KVT_TRACE_AZURE, AZH "2023-11-16 18:15:46,3,\n", 2, "GeneratedTokens", "empty"},
    {KVT_TRACE_AZURE, AZH "2023-11-16 18:15:46,3,-1\n", 2, "GeneratedTokens", "expected a"},
    {KVT_TRACE_AZURE, AZH, 0, NULL, "no requests"},
    {KVT_TRACE_AZURE, "", 0, NULL, "no header line"},
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case_t *c = &bad_cases[i];
        kvt_trace_t *t = NULL;
        kvt_error_t err;
        char path[64], want[256];
        kvt_status_t st = load_text(c->text, c->format, 0, &t, &err, path);
        if (st != KVT_ERR_PARSE) {
            fail_msg("case %zu: status %s, want KVT_ERR_PARSE (%s)", i, kvt_status_name(st),
                     st == KVT_OK ? "loaded" : err.message);
        }
        assert_null(t);
        if (c->line == 0) {
            snprintf(want, sizeof(want), "%s: %s", path, c->problem);
        } else {
            snprintf(want, sizeof(want), "%s:%u: %s%s%s", path, c->line, c->field ? c->field : "",
                     c->field ? ": " : "", c->problem);
        }
        if (strncmp(err.message, want, strlen(want)) != 0) {
            fail_msg("case %zu: got \"%s\", want a message starting \"%s\"", i, err.message, want);
        }
    }
}

/* Nesting deeper than the parser follows, in a member the reader skips; a NUL inside a string. */
static void test_deep_and_nul(void **state)
{
    char text[2048], path[64], want[128];
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    (void)state;
    size_t n = (size_t)snprintf(text, sizeof(text), "{\"x\": ");
    for (int i = 0; i < 300; i++) {
        text[n++] = '[';
    }
    text[n] = '\0';
    assert_int_equal(load_text(text, KVT_TRACE_SWE_TRAJ, 0, &t, &err, path), KVT_ERR_PARSE);
    snprintf(want, sizeof(want), "%s:1: invalid JSON: nested deeper than 256 levels", path);
    assert_string_equal(err.message, want);

    static const char nul[] = "{\"history\": [{\"role\": \"us\0er\", \"content\": \"\"}]}";
    write_tmp(nul, sizeof(nul) - 1, path);
    assert_int_equal(kvt_trace_load(path, KVT_TRACE_SWE_TRAJ, 0, &t, &err), KVT_ERR_PARSE);
    unlink(path);
    snprintf(want, sizeof(want), "%s:1: invalid JSON: control character inside a string", path);
    assert_string_equal(err.message, want);
    assert_null(t);
}

/* --------------------------------------------------------------------------------------------- */

/* ../shared/traces/<rel>, or skip the test when it is not there. */
static void shared_path(const char *rel, char *path, size_t size)
{
    const char *src = getenv("KVT_SOURCE_DIR");
    if (src == NULL || src[0] == '\0') {
        printf("skipped: ../shared not present (KVT_SOURCE_DIR not set)\n");
        skip();
    }
    snprintf(path, size, "%s/../shared/traces/%s", src, rel);
    if (access(path, R_OK) != 0) {
        printf("skipped: ../shared not present (%s)\n", path);
        skip();
    }
}

/*
 * Load a shipped file, check its counts, replay it under LRU with room for everything: the hit
 * rate must lie in (0, 1], or be 0 where the file shares no block between requests (reuse false).
 */
static void check_shared(const char *rel, kvt_trace_format_t fmt, uint64_t requests,
                         uint64_t sessions, uint64_t input_tokens, bool reuse)
{
    char path[4096];
    kvt_trace_t *t = NULL;
    kvt_error_t err;
    kvt_replay_opts_t o;
    kvt_replay_result_t r;

    shared_path(rel, path, sizeof(path));
    if (kvt_trace_load(path, KVT_TRACE_AUTO, 0, &t, &err) != KVT_OK) {
        fail_msg("%s", err.message);
    }
    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_int_equal(in->format, fmt);
    assert_int_equal(in->block_tokens, 16);
    assert_int_equal(in->requests, requests);
    assert_int_equal(in->sessions, sessions);
    assert_int_equal(in->input_tokens, input_tokens);
    kvt_replay_opts_init(&o);
    o.policy = "lru";
    o.capacity_tokens = 1000000000000ull; /* 1T tokens: room for everything */
    assert_int_equal(kvt_replay_run(t, &o, &r, &err), KVT_OK);
    printf("%s: %llu requests, %llu sessions, %llu distinct blocks, lru infinite %.2f%%\n", rel,
           (unsigned long long)in->requests, (unsigned long long)in->sessions,
           (unsigned long long)in->blocks, 100 * r.token_hit_rate);
    if (reuse) {
        assert_true(r.token_hit_rate > 0 && r.token_hit_rate <= 1);
    } else {
        assert_int_equal(r.hit_tokens, 0);
    }
    kvt_trace_destroy(t);
}

/*
 * The 22 .traj files (its README): one call per assistant message, prompt tokens ceil(bytes / 4)
 * of the serialized history before it:
 *   cd ../shared/traces && python3 -c 'import json,os
 *   fs=sorted(os.path.join(d,f) for d,_,fl in os.walk("swe-agent-trajectories")
 *             for f in fl if f.endswith(".traj")); n=tok=0
 *   for f in fs:
 *       b=0
 *       for m in json.load(open(f))["history"]:
 *           if m["role"]=="assistant": n+=1; tok+=(b+3)//4
 *           b+=len(("<|%s|>\n"%m["role"]+m["content"]+"\n").encode())
 *   print(len(fs),n,tok)'                  -> 22 230 1085840
 * Every run has calls, so 22 sessions.
 */
static void test_shared_swe_traj(void **state)
{
    (void)state;
    check_shared("swe-agent-trajectories", KVT_TRACE_SWE_TRAJ, 230, 22, 1085840, true);
}

/*
 * run.json and warmup.json (the README: 252 and 55 entries, 55 users):
 *   python3 -c 'import json; d=json.load(open("run.json"))
 *   print(len(d), sum((len(e["input"].encode())+3)//4 for e in d))'   -> 252 313380
 *   (warmup.json -> 55 25820). Sessions by the prefix rule, in python (the most recent earlier
 *   entry whose input is a prefix): 55 in each file; no two users share their first 64 bytes.
 * warmup.json holds one round of each of the 55 users and nothing else, so alone it has no block
 * two requests share: its hit rate is 0 even with room for everything.
 */
static void test_shared_sharegpt(void **state)
{
    (void)state;
    check_shared("sharegpt-lmbenchmark-multiround/run.json", KVT_TRACE_SHAREGPT, 252, 55, 313380,
                 true);
    check_shared("sharegpt-lmbenchmark-multiround/warmup.json", KVT_TRACE_SHAREGPT, 55, 55, 25820,
                 false);
}

/*
 * 300 lines (the README):
 *   python3 -c 'import json; r=[json.loads(l) for l in
 * open("sharegpt-llama-3.1-8b-300-sps10.jsonl")] print(len(r), sum(x["input_toks"] for x in r))' ->
 * 300 257239 Sessions: in python, with 16-token blocks, 32 requests share a full block at position
 * 1 or deeper with an earlier request (30 continue an earlier prompt exactly, 1 differs from its
 * parent in its last 7 tokens, 1 shares a 38-token opening template), so 300 - 32 = 268.
 */
static void test_shared_tokens(void **state)
{
    (void)state;
    check_shared("sharegpt-llmservingsim-tokens/sharegpt-llama-3.1-8b-300-sps10.jsonl",
                 KVT_TRACE_TOKENS, 300, 268, 257239, true);
}

/*
 * The two CSVs (the README: 8,819 and 19,366 rows):
 *   python3 -c 'import csv; r=list(csv.DictReader(open("AzureLLMInferenceTrace_code.csv")))
 *   print(len(r), sum(int(x["ContextTokens"]) for x in r))'  -> 8819 18059974
 *   (conv: 19366 22361870). One session per request.
 */
static void test_shared_azure(void **state)
{
    (void)state;
    check_shared("azure-llm-2023/AzureLLMInferenceTrace_code.csv", KVT_TRACE_AZURE, 8819, 8819,
                 18059974, true);
    check_shared("azure-llm-2023/AzureLLMInferenceTrace_conv.csv", KVT_TRACE_AZURE, 19366, 19366,
                 22361870, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swe_traj_file),   cmocka_unit_test(test_swe_traj_dir),
        cmocka_unit_test(test_sharegpt),        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_azure),           cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_malformed),       cmocka_unit_test(test_deep_and_nul),
        cmocka_unit_test(test_shared_swe_traj), cmocka_unit_test(test_shared_sharegpt),
        cmocka_unit_test(test_shared_tokens),   cmocka_unit_test(test_shared_azure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
