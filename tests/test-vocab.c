/* test-vocab: building, lookup, encoding and the JSON form. */
#include "autoconfig.h"

#include <errno.h>

#include "macro.h"
#include "test.h"
#include "vocab.h"

/* counts: the 6, a 4, b 3, c 3, d 2, e 1 (b and c tie) */
static const char *const corpus[] = {
        "the", "a", "b", "the", "c", "d", "the", "a", "b", "c", "the", "e",
        "a", "the", "b", "c", "d", "the", "a",
};

static struct vocab *build(size_t max_size, size_t min_count)
{
        struct vocab_builder *b = NULL;
        struct vocab *v = NULL;

        CHECK_INT_EQ(vocab_builder_new(&b), 0);
        CHECK_INT_EQ(vocab_builder_add(b, corpus, ELEMENTSOF(corpus)), 0);
        CHECK_INT_EQ(vocab_builder_finish(b, max_size, min_count, &v), 0);
        vocab_builder_free(b);
        return v;
}

static void test_build(void)
{
        struct vocab_builder *b = NULL;
        struct vocab *v = build(100, 1), *w = NULL;
        static const char *const expected[] = { "<pad>", "<s>", "</s>", "<unk>",
                                                "the", "a", "b", "c", "d", "e" };

        CHECK_INT_EQ(vocab_size(v), 10);
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                CHECK_STR_EQ(vocab_token(v, (int32_t)i), expected[i]);
                CHECK_INT_EQ(vocab_id(v, expected[i]), i);
        }
        CHECK(vocab_token(v, 10) == NULL);
        CHECK(vocab_token(v, -1) == NULL);
        CHECK_INT_EQ(vocab_id(v, "zebra"), TOKEN_UNKNOWN);
        CHECK_INT_EQ(vocab_id(v, ""), TOKEN_UNKNOWN);
        vocab_free(v);

        /* size 7: specials + the, a, and b wins its tie with c by bytes */
        v = build(7, 1);
        CHECK_INT_EQ(vocab_size(v), 7);
        CHECK_STR_EQ(vocab_token(v, 6), "b");
        CHECK_INT_EQ(vocab_id(v, "c"), TOKEN_UNKNOWN);
        vocab_free(v);

        /* min_count 3 drops d (2) and e (1) */
        v = build(100, 3);
        CHECK_INT_EQ(vocab_size(v), 8);
        CHECK_STR_EQ(vocab_token(v, 7), "c");
        CHECK_INT_EQ(vocab_id(v, "d"), TOKEN_UNKNOWN);
        vocab_free(v);

        /* only the specials */
        v = build(4, 1);
        CHECK_INT_EQ(vocab_size(v), 4);
        vocab_free(v);

        CHECK_INT_EQ(vocab_builder_new(&b), 0);
        CHECK_INT_EQ(vocab_builder_finish(b, 3, 1, &w), -EINVAL);
        CHECK(w == NULL);

        /* a special's string in the text is counted but not added twice;
         * the builder stays usable after finish */
        static const char *const with_special[] = { "<unk>", "<unk>", "x" };
        CHECK_INT_EQ(vocab_builder_add(b, with_special, 3), 0);
        CHECK_INT_EQ(vocab_builder_finish(b, 10, 1, &w), 0);
        CHECK_INT_EQ(vocab_size(w), 5);
        CHECK_STR_EQ(vocab_token(w, 4), "x");
        vocab_free(w);
        CHECK_INT_EQ(vocab_builder_add(b, with_special + 2, 1), 0);
        CHECK_INT_EQ(vocab_builder_finish(b, 10, 2, &w), 0);
        CHECK_INT_EQ(vocab_size(w), 5);
        vocab_free(w);
        vocab_builder_free(b);
        vocab_builder_free(NULL);
        vocab_free(NULL);
}

static void test_encode_decode(void)
{
        static const char *const tokens[] = { "<pad>", "<s>", "</s>", "<unk>", "hello", ",",
                                              "world", "!", "i'm", "你", "好" };
        struct vocab *v = NULL;
        int32_t *ids = NULL;
        size_t n = 0;
        char *s = NULL;

        CHECK_INT_EQ(vocab_new_from_tokens(tokens, ELEMENTSOF(tokens), &v), 0);

        CHECK_INT_EQ(vocab_encode(v, "Hello, World! I'm lost 你好", &ids, &n), 0);
        CHECK_INT_EQ(n, 8);
        static const int32_t expected[] = { 4, 5, 6, 7, 8, TOKEN_UNKNOWN, 9, 10 };
        for (size_t i = 0; i < n && i < ELEMENTSOF(expected); i++)
                CHECK_INT_EQ(ids[i], expected[i]);
        free(ids);

        CHECK_INT_EQ(vocab_encode(v, "\xff", &ids, &n), -EILSEQ);
        CHECK_INT_EQ(vocab_encode(v, "  ", &ids, &n), 0);
        CHECK_INT_EQ(n, 0);
        free(ids);

        static const int32_t reply[] = { TOKEN_START, 4, 5, TOKEN_PAD, 6, TOKEN_UNKNOWN, 7,
                                         TOKEN_END, 8, 8 };
        CHECK_INT_EQ(vocab_decode(v, reply, ELEMENTSOF(reply), &s), 0);
        CHECK_STR_EQ(s, "hello, world <unk>!");
        free(s);

        static const int32_t chinese[] = { 9, 10, 5, 9 };
        CHECK_INT_EQ(vocab_decode(v, chinese, ELEMENTSOF(chinese), &s), 0);
        CHECK_STR_EQ(s, "你好,你");
        free(s);

        static const int32_t bad[] = { 4, 11 };
        s = NULL;
        CHECK_INT_EQ(vocab_decode(v, bad, ELEMENTSOF(bad), &s), -EINVAL);
        CHECK(s == NULL);
        vocab_free(v);
}

static void test_json(void)
{
        struct vocab *v = build(100, 1), *w = NULL;
        char *json = NULL, *again = NULL;

        CHECK_INT_EQ(vocab_to_json(v, &json), 0);
        CHECK_STR_EQ(json, "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"the\",\"a\",\"b\",\"c\","
                           "\"d\",\"e\"]");
        CHECK_INT_EQ(vocab_from_json(json, &w), 0);
        CHECK_INT_EQ(vocab_size(w), 10);
        CHECK_INT_EQ(vocab_id(w, "d"), 8);
        CHECK_INT_EQ(vocab_to_json(w, &again), 0);
        CHECK_STR_EQ(again, json);
        free(json);
        free(again);
        vocab_free(v);
        vocab_free(w);

        /* non-ASCII and characters JSON escapes survive the round trip */
        static const char *const odd[] = { "<pad>", "<s>", "</s>", "<unk>", "你", "\"",
                                           "\\", "/", "é" };
        CHECK_INT_EQ(vocab_new_from_tokens(odd, ELEMENTSOF(odd), &v), 0);
        CHECK_INT_EQ(vocab_to_json(v, &json), 0);
        CHECK_STR_EQ(json, "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"你\",\"\\\"\",\"\\\\\","
                           "\"/\",\"é\"]");
        CHECK_INT_EQ(vocab_from_json(json, &w), 0);
        for (int32_t i = 0; i < (int32_t)ELEMENTSOF(odd); i++)
                CHECK_STR_EQ(vocab_token(w, i), odd[i]);
        free(json);
        vocab_free(v);
        vocab_free(w);

        /* surrounding white space is fine */
        CHECK_INT_EQ(vocab_from_json(" [\"<pad>\",\"<s>\",\"</s>\",\"<unk>\"]\n", &w), 0);
        CHECK_INT_EQ(vocab_size(w), 4);
        vocab_free(w);

        static const char *const bad[] = {
                "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"a\",\"a\"]",   /* duplicate */
                "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"<s>\"]",       /* duplicate special */
                "[\"<pad>\",\"<s>\",\"</s>\"]",                         /* missing <unk> */
                "[\"<s>\",\"<pad>\",\"</s>\",\"<unk>\"]",               /* specials misordered */
                "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"\"]",          /* empty token */
                "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"a b\"]",       /* white space */
                "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"a\\u0000b\"]", /* NUL */
                "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",7]",             /* not a string */
                "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"x\"] trailing",
                "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"x\"",          /* unterminated */
                "{\"tokens\":[]}",
                "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"\xff\"]",      /* invalid UTF-8 */
                "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",'x']",           /* not strict JSON */
                "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                w = NULL;
                if (vocab_from_json(bad[i], &w) != -EBADMSG)
                        TEST_FAIL("vocab_from_json(%s) did not give -EBADMSG", bad[i]);
                test_checks++;
                CHECK(w == NULL);
        }

        /* a token of exactly TOKEN_MAX_BYTES is fine, one more is not */
        char long_token[TOKEN_MAX_BYTES + 2];
        const char *tokens[] = { "<pad>", "<s>", "</s>", "<unk>", long_token };
        memset(long_token, 'x', TOKEN_MAX_BYTES);
        long_token[TOKEN_MAX_BYTES] = 0;
        CHECK_INT_EQ(vocab_new_from_tokens(tokens, 5, &v), 0);
        vocab_free(v);
        long_token[TOKEN_MAX_BYTES] = 'x';
        long_token[TOKEN_MAX_BYTES + 1] = 0;
        CHECK_INT_EQ(vocab_new_from_tokens(tokens, 5, &v), -EBADMSG);
}

int main(void)
{
        test_build();
        test_encode_decode();
        test_json();
        return test_finish();
}
