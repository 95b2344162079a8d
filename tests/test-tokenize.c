/* test-tokenize: normalisation, splitting and joining. */
#include "autoconfig.h"

#include <errno.h>

#include "macro.h"
#include "tokenize.h"
#include "test.h"

/* Tokenises text and compares with the NULL-terminated expected list. */
#define CHECK_TOKENS(text, ...) check_tokens(__LINE__, text, (const char *[]){ __VA_ARGS__, NULL })

static void check_tokens(int line, const char *text, const char *const *expected)
{
        char **tokens = NULL;
        size_t n = 0, n_expected = 0;
        int r = tokenize(text, &tokens, &n);

        while (expected[n_expected])
                n_expected++;

        test_checks++;
        if (r < 0) {
                TEST_FAIL("line %d: tokenize(\"%s\") = %d", line, text, r);
                return;
        }

        if (n != n_expected)
                TEST_FAIL("line %d: tokenize(\"%s\"): %zu tokens, expected %zu", line, text, n,
                          n_expected);
        for (size_t i = 0; i < n && i < n_expected; i++)
                if (strcmp(tokens[i], expected[i]) != 0)
                        TEST_FAIL("line %d: tokenize(\"%s\")[%zu] = \"%s\", expected \"%s\"",
                                  line, text, i, tokens[i], expected[i]);
        if (tokens[n] != NULL)
                TEST_FAIL("line %d: token array not NULL-terminated", line);

        tokens_free(tokens);
}

static void check_normalize(const char *text, bool casefold, const char *expected)
{
        char *s = NULL;
        int r = text_normalize(text, casefold, &s);

        CHECK_INT_EQ(r, 0);
        CHECK_STR_EQ(s, expected);
        free(s);
}

/* join(tokenize(text)) is the case-folded normal form of text. */
static void check_round_trip(const char *text, const char *expected)
{
        char **tokens = NULL, *joined = NULL;
        size_t n;

        CHECK_INT_EQ(tokenize(text, &tokens, &n), 0);
        CHECK_INT_EQ(tokens_join((const char *const *)tokens, n, &joined), 0);
        CHECK_STR_EQ(joined, expected);
        free(joined);
        tokens_free(tokens);
}

static void test_english(void)
{
        CHECK_TOKENS("Hello, World! I'm here.", "hello", ",", "world", "!", "i'm", "here", ".");
        CHECK_TOKENS("Don’t stop", "don't", "stop");
        CHECK_TOKENS("'quoted' text", "'", "quoted", "'", "text");
        CHECK_TOKENS("rock'n'roll", "rock'n'roll");
        CHECK_TOKENS("students' books", "students", "'", "books");
        CHECK_TOKENS("pi is 3.14, about 1,000.5.", "pi", "is", "3.14", ",", "about", "1,000.5",
                     ".");
        CHECK_TOKENS("well-known (really)...", "well", "-", "known", "(", "really", ")", ".", ".",
                     ".");
        CHECK_TOKENS("$5 & 10%", "$", "5", "&", "10", "%");
        CHECK_TOKENS("STRASSE Straße", "strasse", "strasse");
        CHECK_TOKENS("café", "café");
        /* "e" + U+0301 composes to é under NFKC */
        CHECK_TOKENS("cafe\xcc\x81", "café");
        CHECK_TOKENS("Ωmega ΣΑΣ", "ωmega", "σασ");
}

static void test_fullwidth_and_cjk(void)
{
        CHECK_TOKENS("ｈｅｌｌｏ", "hello");
        CHECK_TOKENS("ＡＢＣ１２３", "abc123");
        CHECK_TOKENS("你好，世界", "你", "好", ",", "世", "界");
        CHECK_TOKENS("我爱NLP!", "我", "爱", "nlp", "!");
        CHECK_TOKENS("你好。再见！", "你", "好", "。", "再", "见", "!");
        /* kana one per character, hangul in words */
        CHECK_TOKENS("こんにちはカタカナ", "こ", "ん", "に", "ち", "は",
                     "カ", "タ", "カ", "ナ");
        CHECK_TOKENS("안녕하세요 세계", "안녕하세요", "세계");
        /* halfwidth katakana become fullwidth, with the voiced mark composed */
        CHECK_TOKENS("ｶﾞ", "ガ");
        /* an ideograph from extension B (4 bytes of UTF-8) */
        CHECK_TOKENS("\xf0\xa0\x80\x80好", "\xf0\xa0\x80\x80", "好");
}

static void test_space_and_controls(void)
{
        CHECK_TOKENS("a\tb", "a", "b");
        CHECK_TOKENS("  lots   of\n\r\n space  ", "lots", "of", "space");
        CHECK_TOKENS("a\x01" "b\x7f" "c", "abc");
        /* zero width space (Cf) removed, no-break space (Zs) splits */
        CHECK_TOKENS("zero\xe2\x80\x8bwidth no\xc2\xa0" "break", "zerowidth", "no", "break");
        check_normalize("  Hello\tWorld \x01!\n", false, "Hello World !");
        check_normalize("  Hello\tWorld \x01!\n", true, "hello world !");
        check_normalize("ｆｕｌｌ　ｗｉｄｔｈ", false, "full width");
        check_normalize("", false, "");
        check_normalize(" \t\n ", true, "");
        CHECK_TOKENS("", NULL);
        CHECK_TOKENS(" \t ", NULL);
}

static void test_invalid(void)
{
        static const char *const invalid[] = {
                "abc\xff",
                "\xc3",                 /* truncated sequence */
                "\xc0\xaf",             /* overlong "/" */
                "\xed\xa0\x80",         /* surrogate */
                "\xf4\x90\x80\x80",     /* past U+10FFFF */
        };
        char **tokens = (char **)"untouched";
        size_t n = 42;
        char *s = (char *)"untouched";

        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                CHECK_INT_EQ(tokenize(invalid[i], &tokens, &n), -EILSEQ);
                CHECK_INT_EQ(text_normalize(invalid[i], false, &s), -EILSEQ);
                CHECK(!text_utf8_valid(invalid[i], strlen(invalid[i])));
        }
        CHECK_STR_EQ((const char *)tokens, "untouched");
        CHECK_INT_EQ(n, 42);
        CHECK_STR_EQ(s, "untouched");

        CHECK(text_utf8_valid("你好", strlen("你好")));
        CHECK(!text_utf8_valid("a\0b", 3));
}

static void test_long_token(void)
{
        char text[200], expected[TOKEN_MAX_BYTES + 1];
        size_t i = 0;

        /* 10 ASCII letters, then 2-byte letters: the cut must not split
         * one, so the token ends at byte 64 (10 + 27 * 2). */
        memset(text, 'a', 10);
        for (i = 10; i < 10 + 2 * 40; i += 2)
                memcpy(text + i, "\xc3\xa9", 2);
        strcpy(text + i, " next");

        memset(expected, 'a', 10);
        for (i = 10; i + 2 <= TOKEN_MAX_BYTES; i += 2)
                memcpy(expected + i, "\xc3\xa9", 2);
        expected[i] = 0;
        CHECK_INT_EQ(strlen(expected), 64);
        CHECK_TOKENS(text, expected, "next");

        /* 11 ASCII letters: the 27th "é" would end at byte 65 */
        memmove(text + 1, text, strlen(text) + 1);
        text[0] = 'a';
        expected[62] = 0;
        memmove(expected + 1, expected, 63);
        expected[0] = 'a';
        CHECK_INT_EQ(strlen(expected), 63);
        CHECK_TOKENS(text, expected, "next");
}

static void test_join(void)
{
        static const char *const english[] = { "hello", ",", "world", "!", "i'm", "(", "here",
                                               ")", "\"", "quoted", "\"", "well", "-", "known",
                                               "." };
        static const char *const chinese[] = { "你", "好", ",", "世", "界", "!", "我", "爱",
                                               "nlp", "。" };
        char *s = NULL;

        CHECK_INT_EQ(tokens_join(english, ELEMENTSOF(english), &s), 0);
        CHECK_STR_EQ(s, "hello, world! i'm (here) \"quoted\" well-known.");
        free(s);

        CHECK_INT_EQ(tokens_join(chinese, ELEMENTSOF(chinese), &s), 0);
        CHECK_STR_EQ(s, "你好,世界!我爱nlp。");
        free(s);

        CHECK_INT_EQ(tokens_join(english, 0, &s), 0);
        CHECK_STR_EQ(s, "");
        free(s);

        check_round_trip("Hello, World! I'm here.", "hello, world! i'm here.");
        check_round_trip("He said \"hi\" (twice) -- then left...",
                         "he said \"hi\" (twice)--then left...");
        check_round_trip("Is it 3.14? ¿Qué? 50% off, $5!", "is it 3.14? ¿qué? 50% off, $5!");
        check_round_trip("你好，世界！", "你好,世界!");
        check_round_trip("我爱NLP。", "我爱nlp。");
        check_round_trip("「引用」と言った", "「引用」と言った");
}

int main(void)
{
        test_english();
        test_fullwidth_and_cjk();
        test_space_and_controls();
        test_invalid();
        test_long_token();
        test_join();
        return test_finish();
}
