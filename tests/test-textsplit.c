/* test-textsplit: where long replies are cut, in each unit.
 *
 * Specific texts check the order of preference (paragraph, sentence,
 * line, word, grapheme, code point) and the units (bytes, code points,
 * UTF-16); a seeded random run checks the invariants on many texts: every
 * part within the cap, valid UTF-8 on both sides of each cut, only blanks
 * between parts, nothing else lost. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "test.h"
#include "textsplit.h"

static bool blank_only(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!strchr(" \t\n\r\f\v", s[i]))
                        return false;
        return true;
}

/* The invariants every split keeps.  Returns the number of parts. */
static size_t split_check(const char *text, size_t max, enum textsplit_unit unit,
                          struct textsplit_part **ret)
{
        struct textsplit_part *parts = NULL;
        size_t n = 0, at = 0;
        int r;

        r = textsplit_split(text, strlen(text), max, unit, &parts, &n);
        CHECK_INT_EQ(r, 0);
        if (r < 0)
                return 0;

        for (size_t i = 0; i < n; i++) {
                size_t units = 0;

                CHECK(parts[i].len > 0);
                CHECK(parts[i].offset >= at);
                /* Only blanks between parts (and before the first). */
                CHECK(blank_only(text + at, parts[i].offset - at));
                CHECK_INT_EQ(textsplit_length(text + parts[i].offset, parts[i].len, unit,
                                              &units), 0);
                CHECK(units <= max);
                CHECK(!strchr(" \t\n\r", text[parts[i].offset]));
                CHECK(!strchr(" \t\n\r", text[parts[i].offset + parts[i].len - 1]));
                at = parts[i].offset + parts[i].len;
        }
        CHECK(blank_only(text + at, strlen(text) - at));

        if (ret)
                *ret = parts;
        else
                free(parts);
        return n;
}

static char *part_text(const char *text, const struct textsplit_part *p)
{
        static char buf[8][4096];
        static int next;
        char *b = buf[next++ % 8];

        snprintf(b, sizeof(buf[0]), "%.*s", (int)p->len, text + p->offset);
        return b;
}

static void test_length(void)
{
        size_t n = 0;

        CHECK_INT_EQ(textsplit_length("héllo", 6, TEXTSPLIT_BYTES, &n), 0);
        CHECK_INT_EQ(n, 6);
        CHECK_INT_EQ(textsplit_length("héllo", 6, TEXTSPLIT_CODEPOINTS, &n), 0);
        CHECK_INT_EQ(n, 5);
        CHECK_INT_EQ(textsplit_length("héllo", 6, TEXTSPLIT_UTF16, &n), 0);
        CHECK_INT_EQ(n, 5);
        /* U+1F600 is one code point, two UTF-16 units, four bytes. */
        CHECK_INT_EQ(textsplit_length("\xF0\x9F\x98\x80", 4, TEXTSPLIT_UTF16, &n), 0);
        CHECK_INT_EQ(n, 2);
        CHECK_INT_EQ(textsplit_length("\xF0\x9F\x98\x80", 4, TEXTSPLIT_CODEPOINTS, &n), 0);
        CHECK_INT_EQ(n, 1);
        CHECK_INT_EQ(textsplit_length("中文", 6, TEXTSPLIT_UTF16, &n), 0);
        CHECK_INT_EQ(n, 2);

        n = 99;
        CHECK_INT_EQ(textsplit_length("a\xFF", 2, TEXTSPLIT_BYTES, &n), -EILSEQ);
        CHECK_INT_EQ(textsplit_length("a\0b", 3, TEXTSPLIT_BYTES, &n), -EILSEQ);
        /* Cut short inside a sequence. */
        CHECK_INT_EQ(textsplit_length("\xC3\xA9", 1, TEXTSPLIT_BYTES, &n), -EILSEQ);
        CHECK_INT_EQ(n, 99);
}

static void test_fits_and_blanks(void)
{
        struct textsplit_part *p = NULL;
        size_t n = 99;

        CHECK_INT_EQ(split_check("hello world", 100, TEXTSPLIT_CODEPOINTS, &p), 1);
        CHECK_STR_EQ(part_text("hello world", &p[0]), "hello world");
        free(p);

        CHECK_INT_EQ(split_check("  \n hi there \n\n ", 100, TEXTSPLIT_CODEPOINTS, &p), 1);
        CHECK_STR_EQ(part_text("  \n hi there \n\n ", &p[0]), "hi there");
        free(p);

        CHECK_INT_EQ(textsplit_split(" \n\t ", 4, 100, TEXTSPLIT_BYTES, &p, &n), 0);
        CHECK_INT_EQ(n, 0);
        free(p);
        CHECK_INT_EQ(textsplit_split("", 0, 100, TEXTSPLIT_BYTES, &p, &n), 0);
        CHECK_INT_EQ(n, 0);
        free(p);

        /* Exactly the cap fits. */
        CHECK_INT_EQ(split_check("abcd", 4, TEXTSPLIT_BYTES, NULL), 1);
        CHECK_INT_EQ(split_check("abcde", 4, TEXTSPLIT_BYTES, NULL), 2);
}

static void test_preferences(void)
{
        struct textsplit_part *p = NULL;
        const char *t;

        /* Paragraph first, even with sentences and words later. */
        t = "One paragraph that is long enough.\n\nAnother one. It has two sentences.";
        CHECK_INT_EQ(split_check(t, 60, TEXTSPLIT_CODEPOINTS, &p), 2);
        CHECK_STR_EQ(part_text(t, &p[0]), "One paragraph that is long enough.");
        CHECK_STR_EQ(part_text(t, &p[1]), "Another one. It has two sentences.");
        free(p);

        /* A blank line with spaces on it is still a paragraph break. */
        t = "First paragraph is here, yes.\n  \t\nSecond, with words. And more.";
        CHECK_INT_EQ(split_check(t, 50, TEXTSPLIT_CODEPOINTS, &p), 2);
        CHECK_STR_EQ(part_text(t, &p[0]), "First paragraph is here, yes.");
        free(p);

        /* Then the last sentence end in the second half. */
        t = "Short one. Then a longer sentence follows! And a third one goes past the cap";
        CHECK_INT_EQ(split_check(t, 60, TEXTSPLIT_CODEPOINTS, &p), 2);
        CHECK_STR_EQ(part_text(t, &p[0]), "Short one. Then a longer sentence follows!");
        free(p);

        /* Closing quotes stay with their sentence. */
        t = "He said \"it is done.\" Then everybody left the room quietly";
        CHECK_INT_EQ(split_check(t, 40, TEXTSPLIT_CODEPOINTS, &p), 2);
        CHECK_STR_EQ(part_text(t, &p[0]), "He said \"it is done.\"");
        free(p);

        /* A sentence end in the first half loses to a word in the second. */
        t = "Hi. this text has no other sentence end in it at all here";
        CHECK_INT_EQ(split_check(t, 30, TEXTSPLIT_CODEPOINTS, &p), 2);
        CHECK_STR_EQ(part_text(t, &p[0]), "Hi. this text has no other");
        free(p);

        /* Decimal points are not sentence ends. */
        t = "pi is 3.14159 and e is 2.71828 roughly";
        CHECK_INT_EQ(split_check(t, 20, TEXTSPLIT_CODEPOINTS, &p), 2);
        CHECK_STR_EQ(part_text(t, &p[0]), "pi is 3.14159 and e");
        free(p);

        /* A line break beats a word boundary. */
        t = "line one is here\nline two is also here and long";
        CHECK_INT_EQ(split_check(t, 30, TEXTSPLIT_CODEPOINTS, &p), 2);
        CHECK_STR_EQ(part_text(t, &p[0]), "line one is here");
        CHECK_STR_EQ(part_text(t, &p[1]), "line two is also here and long");
        free(p);

        /* Words only: the last blank that fits, wherever it is. */
        t = "a bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        CHECK_INT_EQ(split_check(t, 20, TEXTSPLIT_CODEPOINTS, &p), 3);
        CHECK_STR_EQ(part_text(t, &p[0]), "a");
        CHECK_STR_EQ(part_text(t, &p[1]), "bbbbbbbbbbbbbbbbbbbb");
        CHECK_STR_EQ(part_text(t, &p[2]), "bbbbbbbbbbbb");
        free(p);

        /* CJK: full-width sentence ends need no blank after them. */
        t = "你好。我很好，谢谢你。今天天气很好";
        CHECK_INT_EQ(split_check(t, 12, TEXTSPLIT_CODEPOINTS, &p), 2);
        CHECK_STR_EQ(part_text(t, &p[0]), "你好。我很好，谢谢你。");
        CHECK_STR_EQ(part_text(t, &p[1]), "今天天气很好");
        free(p);

        /* No boundary at all: hard cuts at the cap. */
        t = "abcdefghij";
        CHECK_INT_EQ(split_check(t, 4, TEXTSPLIT_BYTES, &p), 3);
        CHECK_STR_EQ(part_text(t, &p[0]), "abcd");
        CHECK_STR_EQ(part_text(t, &p[2]), "ij");
        free(p);
}

static void test_units(void)
{
        struct textsplit_part *p = NULL;
        const char *t;

        /* UTF-16: five units hold two emoji, never one and a half. */
        t = "😀😀😀😀😀😀😀😀😀😀";
        CHECK_INT_EQ(split_check(t, 5, TEXTSPLIT_UTF16, &p), 5);
        CHECK_STR_EQ(part_text(t, &p[0]), "😀😀");
        free(p);
        CHECK_INT_EQ(split_check(t, 5, TEXTSPLIT_CODEPOINTS, NULL), 2);

        /* Bytes: two-byte letters, never cut in half. */
        t = "éééééééééé";
        CHECK_INT_EQ(split_check(t, 5, TEXTSPLIT_BYTES, &p), 5);
        CHECK_STR_EQ(part_text(t, &p[0]), "éé");
        free(p);

        /* Grapheme clusters: e + combining acute (3 bytes) stays whole. */
        t = "e\xCC\x81" "e\xCC\x81" "e\xCC\x81";
        CHECK_INT_EQ(split_check(t, 4, TEXTSPLIT_BYTES, &p), 3);
        CHECK_STR_EQ(part_text(t, &p[0]), "e\xCC\x81");
        free(p);

        /* A family emoji is one cluster of seven code points and eleven
         * UTF-16 units: longer than the cap, so cut between code points. */
        t = "👨‍👩‍👧‍👦";
        CHECK_INT_EQ(split_check(t, 4, TEXTSPLIT_UTF16, &p), 4);
        CHECK_STR_EQ(part_text(t, &p[0]), "👨\u200d");
        CHECK_STR_EQ(part_text(t, &p[3]), "👦");
        free(p);
        /* With room for it, it is not cut. */
        CHECK_INT_EQ(split_check("ab 👨‍👩‍👧‍👦", 12, TEXTSPLIT_UTF16, &p), 2);
        free(p);
}

static void test_errors(void)
{
        struct textsplit_part *p = (void *)0x1;
        size_t n = 7;

        CHECK_INT_EQ(textsplit_split("abc", 3, TEXTSPLIT_UNITS_MIN - 1, TEXTSPLIT_BYTES, &p, &n),
                     -EINVAL);
        CHECK_INT_EQ(textsplit_split("ab\xFF cd", 6, 100, TEXTSPLIT_BYTES, &p, &n), -EILSEQ);
        CHECK_INT_EQ(textsplit_split("ab cd \xE2\x82", 8, 4, TEXTSPLIT_BYTES, &p, &n), -EILSEQ);
        CHECK_INT_EQ(n, 7);
        CHECK(p == (void *)0x1);
}

/* A 10,000-character reply at Telegram's cap. */
static void test_telegram_size(void)
{
        static const char *const words[] = { "model ", "answer. ", "ünïcode ", "中文 ", "😀 ",
                                             "line\n", "para\n\n" };
        char *t = malloc(64 * 1024), *p = t;
        struct textsplit_part *parts = NULL;
        size_t n, units = 0, total_units = 0;
        uint64_t rng = 7;

        if (!t)
                abort();
        while ((size_t)(p - t) < 30000) {
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                p += sprintf(p, "%s", words[(rng >> 33) % ELEMENTSOF(words)]);
        }
        CHECK_INT_EQ(textsplit_length(t, strlen(t), TEXTSPLIT_UTF16, &total_units), 0);
        n = split_check(t, 4096, TEXTSPLIT_UTF16, &parts);
        CHECK(n >= (total_units + 4095) / 4096);
        CHECK(n <= (total_units + 4095) / 4096 + 2);
        for (size_t i = 0; i + 1 < n; i++) {
                /* Each part but the last fills at least half the cap. */
                textsplit_length(t + parts[i].offset, parts[i].len, TEXTSPLIT_UTF16, &units);
                CHECK(units >= 2048);
        }
        free(parts);
        free(t);
}

/* Seeded random texts: the invariants hold for every unit and cap. */
static void test_random(void)
{
        static const char *const pieces[] = { "a", "word", " ", "  ", "\n", "\n\n", ". ", "!",
                                              "é", "中", "。", "😀", "e\xCC\x81", "\t", "\"",
                                              "‍", "ab.cd", "?" };
        uint64_t rng = 42;
        char text[512];

        for (int round = 0; round < 3000; round++) {
                size_t len = 0, max;
                enum textsplit_unit unit;

                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                max = TEXTSPLIT_UNITS_MIN + (rng >> 40) % 40;
                unit = (enum textsplit_unit)((rng >> 20) % 3);
                while (len < 300) {
                        const char *piece;

                        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                        piece = pieces[(rng >> 33) % ELEMENTSOF(pieces)];
                        memcpy(text + len, piece, strlen(piece));
                        len += strlen(piece);
                }
                text[len] = '\0';
                split_check(text, max, unit, NULL);
        }
}

int main(void)
{
        test_length();
        test_fits_and_blanks();
        test_preferences();
        test_units();
        test_errors();
        test_telegram_size();
        test_random();
        return test_finish();
}
