/*
 * Trace readers (kvt_trace_load): Mooncake and Bailian JSON lines -- every malformed shape fails
 * with KVT_ERR_PARSE and "<path>:<line>: <field>: <problem>"; valid files give the requests,
 * sessions, transitions and block types derived by hand below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <kvtier/kvtier.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A pointer kvt_trace_load must leave alone when it fails. */
static kvt_trace_t *const untouched = (kvt_trace_t *)(uintptr_t)0x1;

/* Write text to a fresh /tmp file named into path, load it, remove the file. */
static kvt_status_t load_text(const char *text, kvt_trace_format_t fmt, uint32_t bt,
                              kvt_trace_t **t_p, kvt_error_t *err, char path[64])
{
    snprintf(path, 64, "/tmp/kvt_readers_XXXXXX.jsonl");
    int fd = mkstemps(path, 6);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
    memset(err, 0, sizeof(*err));
    kvt_status_t st = kvt_trace_load(path, fmt, bt, t_p, err);
    unlink(path);
    return st;
}

/*
 * Expect the load to fail with status want, *trace_p untouched, and err.message starting with
 * "<path>:<line>: <field>: " (line > 0; field may be NULL) or "<path>: " (line == 0), and
 * containing also. case_line: the caller's line, to name the failing case.
 */
static void expect_error(const char *text, kvt_trace_format_t fmt, uint32_t bt, kvt_status_t want,
                         unsigned line, const char *field, const char *also, int case_line)
{
    char path[64], prefix[160];
    kvt_error_t err;
    kvt_trace_t *t = untouched;
    kvt_status_t st = load_text(text, fmt, bt, &t, &err, path);

    if (line == 0) {
        snprintf(prefix, sizeof(prefix), "%s: ", path);
    } else if (field == NULL) {
        snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
    } else {
        snprintf(prefix, sizeof(prefix), "%s:%u: %s: ", path, line, field);
    }
    bool ok = st == want && t == untouched && err.status == want &&
              strncmp(err.message, prefix, strlen(prefix)) == 0 &&
              (also == NULL || strstr(err.message, also) != NULL) &&
              strchr(err.message, '\n') == NULL;
    if (!ok) {
        print_error("case at line %d: status %s, message \"%s\"; wanted %s, \"%s...%s\"\n",
                    case_line, kvt_status_name(st), err.message, kvt_status_name(want), prefix,
                    also ? also : "");
        if (st == KVT_OK && t != untouched) {
            kvt_trace_destroy(t);
        }
    }
    assert_true(ok);
}

#define EXPECT_PARSE(text, fmt, bt, line, field, also)                                             \
    expect_error(text, fmt, bt, KVT_ERR_PARSE, line, field, also, __LINE__)

/* Mooncake lines */
#define MC(ts, in, out, ids)                                                                       \
    "{\"timestamp\": " #ts ", \"input_length\": " #in ", \"output_length\": " #out                 \
    ", \"hash_ids\": [" ids "]}\n"
#define GOOD MC(0, 8, 2, "1, 2")

static void test_mooncake_errors(void **state)
{
    (void)state;
    const kvt_trace_format_t M = KVT_TRACE_MOONCAKE;

    /* not JSON on line 3 (line numbers count blank lines) */
    EXPECT_PARSE(GOOD GOOD "{\"timestamp\": 1, oops\n", M, 4, 3, NULL, "JSON");
    EXPECT_PARSE(GOOD "\n" "not json at all\n" GOOD, M, 4, 3, NULL, "JSON");
    EXPECT_PARSE(GOOD "   \n" "[1, 2, 3]\n", M, 4, 3, NULL, "JSON object");
    /* auto-detected Mooncake, then a broken line */
    EXPECT_PARSE(GOOD GOOD "}{\n", KVT_TRACE_AUTO, 4, 3, NULL, "JSON");

    /* missing input_length */
    EXPECT_PARSE(GOOD "{\"timestamp\": 1, \"output_length\": 2, \"hash_ids\": [1, 2]}\n", M, 4, 2,
                 "input_length", "missing");
    /* input_length not a positive integer */
    EXPECT_PARSE(MC(0, 0, 2, ""), M, 4, 1, "input_length", NULL);
    EXPECT_PARSE(MC(0, 7.5, 2, "1, 2"), M, 4, 1, "input_length", NULL);
    EXPECT_PARSE(MC(0, "8", 2, "1, 2"), M, 4, 1, "input_length", NULL);
    /* negative output_length */
    EXPECT_PARSE(GOOD GOOD GOOD MC(3, 8, -1, "1, 2"), M, 4, 4, "output_length", NULL);
    /* missing output_length, missing timestamp */
    EXPECT_PARSE("{\"timestamp\": 1, \"input_length\": 8, \"hash_ids\": [1, 2]}\n", M, 4, 1,
                 "output_length", "missing");
    EXPECT_PARSE(GOOD "{\"input_length\": 8, \"output_length\": 2, \"hash_ids\": [1, 2]}\n", M, 4,
                 2, "timestamp", "missing");

    /* hash_ids not an array, missing */
    EXPECT_PARSE(GOOD "{\"timestamp\": 1, \"input_length\": 4, \"output_length\": 2, "
                      "\"hash_ids\": 7}\n",
                 M, 4, 2, "hash_ids", NULL);
    EXPECT_PARSE(GOOD "{\"timestamp\": 1, \"input_length\": 4, \"output_length\": 2, "
                      "\"hash_ids\": {\"0\": 7}}\n",
                 M, 4, 2, "hash_ids", NULL);
    EXPECT_PARSE("{\"timestamp\": 1, \"input_length\": 4, \"output_length\": 2}\n", M, 4, 1,
                 "hash_ids", "missing");
    /* hash_ids element -1, 2.5, "3", null */
    EXPECT_PARSE(GOOD MC(1, 8, 2, "5, -1"), M, 4, 2, "hash_ids", "element 1");
    EXPECT_PARSE(MC(1, 12, 2, "5, 6, 2.5"), M, 4, 1, "hash_ids", "element 2");
    EXPECT_PARSE(MC(1, 8, 2, "\"3\", 4"), M, 4, 1, "hash_ids", "element 0");
    EXPECT_PARSE(MC(1, 8, 2, "3, null"), M, 4, 1, "hash_ids", "element 1");
    /* hash_ids length disagreeing with ceil(input_length / block_tokens) = ceil(10 / 4) = 3 */
    EXPECT_PARSE(GOOD MC(1, 10, 2, "1, 2"), M, 4, 2, "hash_ids", "input_length 10");
    EXPECT_PARSE(GOOD MC(1, 10, 2, "1, 2, 3, 4"), M, 4, 2, "hash_ids", "input_length 10");
    EXPECT_PARSE(MC(1, 8, 2, ""), M, 4, 1, "hash_ids", NULL);
    /* the format's own block size: Mooncake 512, so 513 tokens need 2 ids */
    EXPECT_PARSE(MC(1, 513, 2, "1"), M, 0, 1, "hash_ids", "513");

    /* timestamp a string, negative, null */
    EXPECT_PARSE(GOOD MC("12", 8, 2, "1, 2"), M, 4, 2, "timestamp", NULL);
    EXPECT_PARSE(MC(-1, 8, 2, "1, 2"), M, 4, 1, "timestamp", NULL);
    EXPECT_PARSE(MC(null, 8, 2, "1, 2"), M, 4, 1, "timestamp", NULL);
}

static void test_empty_and_unknown(void **state)
{
    (void)state;
    /* empty file, a file of blank lines: no requests */
    EXPECT_PARSE("", KVT_TRACE_MOONCAKE, 4, 0, NULL, "no requests");
    EXPECT_PARSE("\n  \n\t\r\n\n", KVT_TRACE_MOONCAKE, 4, 0, NULL, "no requests");
    EXPECT_PARSE("\n\n", KVT_TRACE_BAILIAN, 0, 0, NULL, "no requests");
    /* with auto-detection there is no first line to detect from */
    EXPECT_PARSE("", KVT_TRACE_AUTO, 0, 0, NULL, "unknown trace format");
    EXPECT_PARSE("\n \n\n", KVT_TRACE_AUTO, 0, 0, NULL, "unknown trace format");
    /* a first line that is neither format */
    EXPECT_PARSE("{\"timestamp\": 0, \"input_length\": 8}\n" GOOD, KVT_TRACE_AUTO, 4, 0, NULL,
                 "unknown trace format");
    EXPECT_PARSE("hello\n", KVT_TRACE_AUTO, 4, 0, NULL, "unknown trace format");

    /* a missing file */
    kvt_trace_t *t = untouched;
    kvt_error_t err;
    memset(&err, 0, sizeof(err));
    const char *missing = "/tmp/kvt_readers_no_such_dir/none.jsonl";
    assert_int_equal(kvt_trace_load(missing, KVT_TRACE_AUTO, 0, &t, &err), KVT_ERR_IO);
    assert_ptr_equal(t, untouched);
    assert_int_equal(err.status, KVT_ERR_IO);
    assert_int_equal(strncmp(err.message, missing, strlen(missing)), 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(kvt_trace_load(missing, KVT_TRACE_MOONCAKE, 4, &t, &err), KVT_ERR_IO);
    assert_ptr_equal(t, untouched);
}

/* Bailian lines */
#define BL(chat, parent, ts, in, out, type, ids)                                                   \
    "{\"chat_id\": " #chat ", \"parent_chat_id\": " #parent ", \"timestamp\": " #ts               \
    ", \"input_length\": " #in ", \"output_length\": " #out ", \"type\": \"" type                  \
    "\", \"turn\": 1, \"hash_ids\": [" ids "]}\n"

static void test_bailian_errors(void **state)
{
    (void)state;
    const kvt_trace_format_t A = KVT_TRACE_AUTO;

    /* a line missing chat_id, in an auto-detected Bailian file */
    EXPECT_PARSE(BL(1, -1, 0.5, 20, 4, "text", "1, 2")
                 "{\"parent_chat_id\": 1, \"timestamp\": 1.0, \"input_length\": 20, "
                 "\"output_length\": 4, \"type\": \"text\", \"turn\": 2, \"hash_ids\": [1, 3]}\n",
                 A, 0, 2, "chat_id", "missing");
    /* chat_id negative, parent_chat_id missing or a string */
    EXPECT_PARSE(BL(1, -1, 0.5, 20, 4, "text", "1, 2") BL(-3, -1, 1, 16, 4, "text", "7"), A, 0, 2,
                 "chat_id", NULL);
    EXPECT_PARSE(BL(1, -1, 0.5, 20, 4, "text", "1, 2")
                 "{\"chat_id\": 2, \"timestamp\": 1.0, \"input_length\": 16, "
                 "\"output_length\": 4, \"hash_ids\": [1]}\n",
                 A, 0, 2, "parent_chat_id", NULL);
    EXPECT_PARSE(BL(1, "1", 0.5, 20, 4, "text", "1, 2"), A, 0, 1, "parent_chat_id", NULL);
    /* Bailian blocks are 16 tokens: 20 tokens need 2 ids */
    EXPECT_PARSE(BL(1, -1, 0.5, 20, 4, "text", "1"), A, 0, 1, "hash_ids", "input_length 20");
    /* a Mooncake line read as Bailian: chat_id missing */
    EXPECT_PARSE(MC(0, 16, 2, "1"), KVT_TRACE_BAILIAN, 0, 1, "chat_id", "missing");
}

/*
 * A line holding a JSON object followed by more text is not a JSON object line: two records run
 * together on one line (a lost newline) must not load as the first record alone.
 */
static void test_trailing_garbage(void **state)
{
    (void)state;
#define OBJ(ts, ids)                                                                               \
    "{\"timestamp\": " #ts ", \"input_length\": 8, \"output_length\": 2, \"hash_ids\": [" ids "]}"
    EXPECT_PARSE(GOOD OBJ(1, "1, 2") OBJ(2, "1, 3") "\n", KVT_TRACE_MOONCAKE, 4, 2, NULL, "JSON");
    EXPECT_PARSE(GOOD GOOD OBJ(1, "1, 2") " x\n", KVT_TRACE_MOONCAKE, 4, 3, NULL, "JSON");
    EXPECT_PARSE(OBJ(1, "1, 2") ", 7\n", KVT_TRACE_MOONCAKE, 4, 1, NULL, "JSON");
#undef OBJ
}

/*
 * A timestamp the reader accepts must arrive unchanged: 1.5e16 ms = 1.5e19 us fits in the
 * uint64_t t_us (max 1.8e19), so it loads as exactly 15000000000000000000 us -- or, if the
 * reader considers it out of range, fails with a timestamp error. It must not load as anything
 * else.
 */
static void test_large_timestamp(void **state)
{
    (void)state;
    char path[64];
    kvt_error_t err;
    kvt_trace_t *t = untouched;
    kvt_status_t st = load_text(MC(0, 8, 2, "1, 2") MC(15000000000000000, 8, 2, "1, 3"),
                                KVT_TRACE_MOONCAKE, 4, &t, &err, path);
    if (st != KVT_OK) {
        assert_int_equal(st, KVT_ERR_PARSE);
        assert_non_null(strstr(err.message, ":2: timestamp: "));
        return;
    }
    const kvt_trace_request_t *q = kvt_trace_requests(t);
    uint64_t n = kvt_trace_info(t)->requests, t0 = q[0].t_us, t1 = q[1].t_us;
    uint64_t duration = kvt_trace_info(t)->duration_us;
    kvt_trace_destroy(t);
    assert_int_equal(n, 2);
    assert_int_equal(t0, 0);
    assert_int_equal(t1, 15000000000000000000ull);
    assert_int_equal(duration, 15000000000000000000ull);
}

/*
 * Mooncake, block_tokens = 4, with blank lines between requests:
 *   req0 line 1  t=0      in=7  out=4 [1,2]       new session 0
 *   req1 line 3  t=10     in=16 out=4 [1,2,3,4]   shares block 1 (id 2) with req0: session 0,
 *                                                 next_turn
 *   req2 line 5  t=20     in=8  out=2 [1,5]       shares only block 0: new session 1
 *   req3 line 6  t=30     in=12 out=1 [1,5,6]     shares block 1 (id 5) with req2: session 1
 *   req4 line 8  t=40.5   in=20 out=0 [1,2,3,7,8] deepest shared block is position 2 (id 3), last
 *                                                 held by req1: session 0
 * Block types (dense ids in first-seen order: hash id h -> h - 1):
 *   1: position 0 of a new session -> system
 *   2: req0 position 1, no parent -> user
 *   3: req1 position 2 starts at token 8, inside req0's output [7, 11) -> output
 *   4: req1 position 3 starts at 12, outside [7, 11) -> user
 *   5: req2 position 1, no parent -> user
 *   6: req3 position 2 starts at 8, inside req2's output [8, 10) -> output
 *   7: req4 position 3 starts at 12, outside req1's output [16, 20) -> user
 *   8: req4 position 4 starts at 16, inside [16, 20) -> output
 * Info: 5 requests, 2+4+2+3+5 = 16 refs, 8 blocks, 2 sessions, 7+16+8+12+20 = 63 input tokens,
 * duration 40.5 ms = 40500 us.
 */
static void test_mooncake_sessions_and_types(void **state)
{
    (void)state;
    char path[64];
    kvt_error_t err;
    kvt_trace_t *t = NULL;
    const char *text = MC(0, 7, 4, "1, 2") "\n" MC(10, 16, 4, "1, 2, 3, 4") " \t \n"
        MC(20, 8, 2, "1, 5") MC(30, 12, 1, "1, 5, 6") "\r\n" MC(40.5, 20, 0, "1, 2, 3, 7, 8");

    assert_int_equal(load_text(text, KVT_TRACE_AUTO, 4, &t, &err, path), KVT_OK);
    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_string_equal(in->origin, path);
    assert_int_equal(in->format, KVT_TRACE_MOONCAKE);
    assert_int_equal(in->block_tokens, 4);
    assert_int_equal(in->requests, 5);
    assert_int_equal(in->refs, 16);
    assert_int_equal(in->blocks, 8);
    assert_int_equal(in->sessions, 2);
    assert_int_equal(in->input_tokens, 63);
    assert_int_equal(in->duration_us, 40500);

    static const uint64_t t_us[] = {0, 10000, 20000, 30000, 40500};
    static const uint32_t input[] = {7, 16, 8, 12, 20};
    static const uint32_t output[] = {4, 4, 2, 1, 0};
    static const uint32_t nblocks[] = {2, 4, 2, 3, 5};
    static const uint64_t first[] = {0, 2, 6, 8, 11};
    static const uint32_t session[] = {0, 0, 1, 1, 0};
    static const uint8_t trans[] = {KVT_TRANS_NEW_SESSION, KVT_TRANS_NEXT_TURN,
                                    KVT_TRANS_NEW_SESSION, KVT_TRANS_NEXT_TURN,
                                    KVT_TRANS_NEXT_TURN};
    static const uint32_t refs[] = {0, 1, 0, 1, 2, 3, 0, 4, 0, 4, 5, 0, 1, 2, 6, 7};
    static const uint8_t types[] = {KVT_BLOCK_SYSTEM, KVT_BLOCK_USER,   KVT_BLOCK_OUTPUT,
                                    KVT_BLOCK_USER,   KVT_BLOCK_USER,   KVT_BLOCK_OUTPUT,
                                    KVT_BLOCK_USER,   KVT_BLOCK_OUTPUT};
    const kvt_trace_request_t *q = kvt_trace_requests(t);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(q[i].t_us, t_us[i]);
        assert_int_equal(q[i].input_tokens, input[i]);
        assert_int_equal(q[i].output_tokens, output[i]);
        assert_int_equal(q[i].nblocks, nblocks[i]);
        assert_int_equal(q[i].first_ref, first[i]);
        assert_int_equal(q[i].session, session[i]);
        assert_int_equal(q[i].transition, trans[i]);
    }
    assert_memory_equal(kvt_trace_refs(t), refs, sizeof(refs));
    assert_memory_equal(kvt_trace_block_types(t), types, sizeof(types));
    kvt_trace_destroy(t);

    /* the format's own block size (512): 600 tokens are 2 ids, 512 one */
    t = NULL;
    assert_int_equal(load_text(MC(0, 600, 1, "10, 11") MC(1, 512, 1, "10"), KVT_TRACE_MOONCAKE,
                               0, &t, &err, path),
                     KVT_OK);
    assert_int_equal(kvt_trace_info(t)->block_tokens, 512);
    assert_int_equal(kvt_trace_info(t)->refs, 3);
    assert_int_equal(kvt_trace_info(t)->blocks, 2);
    kvt_trace_destroy(t);
}

/*
 * tests/data/bailian_small.jsonl: 16-token blocks, sessions from parent_chat_id, timestamps in
 * seconds. Requests (file order = arrival order):
 *   req  chat parent  t (s)  in  out type   ids                        session transition
 *   0    100  -1      0      40  20  text   1 2 3                      0 new
 *   1    101  -1      0.5    20  10  text   1 4                        1 new
 *   2    102  100     1.25   80  16  text   1 2 5 6 7                  0 next_turn
 *   3    103  102     2.0    130 8   search 1 2 5 6 7 8 9 10 11        0 next_turn
 *   4    104  -1      2.5    33  30  file   12 13 14                   2 new
 *   5    105  101     3.0    48  12  text   1 4 15                     1 next_turn
 *   6    106  999     3.5    32  4   text   16 17                      3 new (unknown parent)
 *   7    107  104     4.0    70  30  file   12 13 14 18 19             2 next_turn
 *   8    108  103     5.125  160 0   text   1 2 5 6 7 8 9 10 11 20     0 next_turn
 *   9    109  -1      6.0    16  16  text   1                          4 new (shares block 0
 *                                                                        with session 0: only
 *                                                                        parent_chat_id counts)
 *   10   110  109     6.75   50  2   text   1 21 22 23                 4 next_turn
 * Block types, hash id -> dense id h - 1:
 *   1 system (position 0, no parent); 2, 3 user; 4 user;
 *   5 user (req2 pos 2 at token 32, parent req0's output is [40, 60));
 *   6 output (pos 3 at 48 in [40, 60)); 7 user (pos 4 at 64);
 *   8 output (req3 pos 5 at 80, parent req2's output [80, 96): output wins over "search");
 *   9, 10, 11 tool ("search", at 96, 112, 128);
 *   12 system (req4 pos 0, no parent); 13, 14 tool ("file", no parent);
 *   15 user (req5 pos 2 at 32, parent req1's output [20, 30));
 *   16 system, 17 user (req6: the parent is not in the trace);
 *   18 output (req7 pos 3 at 48, parent req4's output [33, 63)); 19 tool (pos 4 at 64, "file");
 *   20 user (req8 pos 9 at 144, parent req3's output [130, 138));
 *   21 output (req10 pos 1 at 16, parent req9's output [16, 32)); 22, 23 user.
 * Info: 11 requests, 47 refs, 23 blocks, 5 sessions, 679 input tokens, duration 6.75 s.
 */
static void test_bailian_fixture(void **state)
{
    (void)state;
    const char *src = getenv("KVT_SOURCE_DIR");
    char path[4096];
    kvt_error_t err;
    kvt_trace_t *t = NULL;

    assert_non_null(src);
    snprintf(path, sizeof(path), "%s/tests/data/bailian_small.jsonl", src);
    memset(&err, 0, sizeof(err));
    kvt_status_t st = kvt_trace_load(path, KVT_TRACE_AUTO, 0, &t, &err);
    if (st != KVT_OK) {
        print_error("%s\n", err.message);
    }
    assert_int_equal(st, KVT_OK);

    const kvt_trace_info_t *in = kvt_trace_info(t);
    assert_int_equal(in->format, KVT_TRACE_BAILIAN);
    assert_int_equal(in->block_tokens, 16);
    assert_int_equal(in->requests, 11);
    assert_int_equal(in->refs, 47);
    assert_int_equal(in->blocks, 23);
    assert_int_equal(in->sessions, 5);
    assert_int_equal(in->input_tokens, 679);
    assert_int_equal(in->duration_us, 6750000);

    static const uint64_t t_us[] = {0,       500000,  1250000, 2000000, 2500000, 3000000,
                                    3500000, 4000000, 5125000, 6000000, 6750000};
    static const uint32_t nblocks[] = {3, 2, 5, 9, 3, 3, 2, 5, 10, 1, 4};
    static const uint32_t input[] = {40, 20, 80, 130, 33, 48, 32, 70, 160, 16, 50};
    static const uint32_t session[] = {0, 1, 0, 0, 2, 1, 3, 2, 0, 4, 4};
    static const uint8_t N = KVT_TRANS_NEW_SESSION, T = KVT_TRANS_NEXT_TURN;
    const uint8_t trans[] = {N, N, T, T, N, T, N, T, T, N, T};
    const kvt_trace_request_t *q = kvt_trace_requests(t);
    uint64_t ref = 0;
    for (int i = 0; i < 11; i++) {
        assert_int_equal(q[i].t_us, t_us[i]);
        assert_int_equal(q[i].nblocks, nblocks[i]);
        assert_int_equal(q[i].input_tokens, input[i]);
        assert_int_equal(q[i].session, session[i]);
        assert_int_equal(q[i].transition, trans[i]);
        assert_int_equal(q[i].first_ref, ref);
        ref += nblocks[i];
    }
    /* the chains: hash id h is dense id h - 1 */
    static const uint32_t chains[] = {1, 2, 3, 1, 4,  1, 2, 5, 6,  7,  1,  2,  5,  6,  7,  8,
                                      9, 10, 11, 12, 13, 14, 1, 4,  15, 16, 17, 12, 13, 14, 18,
                                      19, 1, 2, 5, 6, 7, 8, 9, 10, 11, 20, 1,  1,  21, 22, 23};
    const uint32_t *refs = kvt_trace_refs(t);
    for (size_t i = 0; i < 47; i++) {
        assert_int_equal(refs[i], chains[i] - 1);
    }
    static const uint8_t S = KVT_BLOCK_SYSTEM, U = KVT_BLOCK_USER, O = KVT_BLOCK_OUTPUT,
                         X = KVT_BLOCK_TOOL;
    /* hash ids 1..23 */
    const uint8_t types[] = {S, U, U, U, U, O, U, O, X, X, X, S,
                             X, X, U, S, U, O, X, U, O, U, U};
    const uint8_t *got = kvt_trace_block_types(t);
    for (int i = 0; i < 23; i++) {
        if (got[i] != types[i]) {
            print_error("hash id %d: type %s, wanted %s\n", i + 1,
                        kvt_block_type_name((kvt_block_type_t)got[i]),
                        kvt_block_type_name((kvt_block_type_t)types[i]));
        }
        assert_int_equal(got[i], types[i]);
    }
    kvt_trace_destroy(t);
}

static void test_format_names(void **state)
{
    (void)state;
    kvt_trace_format_t f = KVT_TRACE_AUTO;
    assert_string_equal(kvt_trace_format_name(KVT_TRACE_MOONCAKE), "mooncake");
    assert_string_equal(kvt_trace_format_name(KVT_TRACE_BAILIAN), "bailian");
    assert_int_equal(kvt_trace_format_parse("Bailian", &f), KVT_OK);
    assert_int_equal(f, KVT_TRACE_BAILIAN);
    assert_int_equal(kvt_trace_format_parse("jsonl", &f), KVT_ERR_NOT_FOUND);
    assert_string_equal(kvt_block_type_name(KVT_BLOCK_TOOL), "tool");
    assert_string_equal(kvt_transition_name(KVT_TRANS_NEXT_TURN), "next_turn");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mooncake_errors),
        cmocka_unit_test(test_empty_and_unknown),
        cmocka_unit_test(test_bailian_errors),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_large_timestamp),
        cmocka_unit_test(test_mooncake_sessions_and_types),
        cmocka_unit_test(test_bailian_fixture),
        cmocka_unit_test(test_format_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
