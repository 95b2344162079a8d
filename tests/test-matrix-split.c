/* test-matrix-split: long replies cut into Matrix event bodies. */
#include "autoconfig.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matrix-split.h"
#include "test.h"

static void parts_free(char **parts, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(parts[i]);
        free(parts);
}

/* The bytes of s as a JSON string's content, as json-c writes it. */
static size_t json_cost(const char *s)
{
        json_object *o = json_object_new_string(s);
        size_t len = strlen(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));

        json_object_put(o);
        return len - 2;
}

static bool utf8_whole(const char *s)
{
        size_t len = strlen(s);
        size_t i = 0;

        if (len && ((unsigned char)s[0] & 0xc0) == 0x80)
                return false;
        while (i < len) {
                unsigned char c = (unsigned char)s[i];
                size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

                if (i + n > len)
                        return false;
                for (size_t k = 1; k < n; k++)
                        if (((unsigned char)s[i + k] & 0xc0) != 0x80)
                                return false;
                i += n;
        }
        return true;
}

static char **split(const char *text, size_t max, size_t *n)
{
        char **parts = NULL;

        CHECK_INT_EQ(matrix_body_split(text, max, &parts, n), 0);
        for (size_t i = 0; i < *n; i++) {
                CHECK(json_cost(parts[i]) <= max);
                CHECK(utf8_whole(parts[i]));
                CHECK(parts[i][0] != ' ' && parts[i][strlen(parts[i]) - 1] != ' ');
        }
        return parts;
}

int main(void)
{
        char **parts, *text;
        size_t n;

        /* Short text is one part, as it is. */
        parts = split("help me", 60000, &n);
        CHECK_INT_EQ(n, 1);
        CHECK_STR_EQ(parts[0], "help me");
        parts_free(parts, n);

        /* Blank text gives nothing. */
        parts = split("  \n ", 100, &n);
        CHECK_INT_EQ(n, 0);
        parts_free(parts, n);

        CHECK_INT_EQ(matrix_body_split("abc", 7, &parts, &n), -EINVAL);

        /* A paragraph break in the second half wins over later sentences. */
        parts = split("First part here, long enough.\n\nSecond one. Third one.", 40, &n);
        CHECK_INT_EQ(n, 2);
        CHECK_STR_EQ(parts[0], "First part here, long enough.");
        CHECK_STR_EQ(parts[1], "Second one. Third one.");
        parts_free(parts, n);

        /* Without a paragraph, a sentence end; without one, a blank. */
        parts = split("One sentence is here. Another one follows it", 30, &n);
        CHECK_INT_EQ(n, 2);
        CHECK_STR_EQ(parts[0], "One sentence is here.");
        CHECK_STR_EQ(parts[1], "Another one follows it");
        parts_free(parts, n);

        parts = split("alpha beta gamma delta epsilon zeta", 20, &n);
        CHECK_INT_EQ(n, 2);
        CHECK_STR_EQ(parts[0], "alpha beta gamma");
        CHECK_STR_EQ(parts[1], "delta epsilon zeta");
        parts_free(parts, n);

        /* Chinese full stops end sentences too. */
        parts = split("你好世界。再见朋友们", 20, &n);
        CHECK_INT_EQ(n, 2);
        CHECK_STR_EQ(parts[0], "你好世界。");
        CHECK_STR_EQ(parts[1], "再见朋友们");
        parts_free(parts, n);

        /* One long word of two-byte letters: cut at the limit, never inside
         * a character, and nothing lost. */
        text = calloc(1, 201);
        for (int i = 0; i < 100; i++)
                memcpy(text + 2 * i, "\xc3\xa9", 2);
        parts = split(text, 51, &n);
        CHECK_INT_EQ(n, 4);
        CHECK_INT_EQ(strlen(parts[0]), 50);
        {
                char joined[256] = "";

                for (size_t i = 0; i < n; i++)
                        strcat(joined, parts[i]);
                CHECK_STR_EQ(joined, text);
        }
        parts_free(parts, n);
        free(text);

        /* Escaping counts: a quote takes two bytes, a control character six. */
        parts = split("\"\"\"\"\"\"\"\"\"\"", 10, &n);
        CHECK_INT_EQ(n, 2);
        CHECK_INT_EQ(strlen(parts[0]), 5);
        parts_free(parts, n);
        parts = split("\x01\x01\x01\x01", 12, &n);
        CHECK_INT_EQ(n, 2);
        CHECK_INT_EQ(strlen(parts[0]), 2);
        parts_free(parts, n);

        /* A reply of 150,000 bytes under the real limit: three parts, cut
         * at paragraph breaks. */
        text = malloc(150001);
        for (int i = 0; i < 1500; i++)
                memcpy(text + 100 * i, i % 10 == 9 ? "Paragraph of words ends here.\n\n"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       : "Words words words words words. More words and more and more words "
                       "until one hundred bytes are here. ", 100);
        text[150000] = '\0';
        parts = split(text, MATRIX_BODY_MAX_BYTES, &n);
        CHECK_INT_EQ(n, 3);
        for (size_t i = 0; i + 1 < n; i++)
                CHECK(strcmp(parts[i] + strlen(parts[i]) - 5, "here.") == 0);
        parts_free(parts, n);
        free(text);

        return test_finish();
}
