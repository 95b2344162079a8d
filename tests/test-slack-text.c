/* test-slack-text: Slack's escaping, incoming text clean-up and splitting. */
#include "autoconfig.h"

#include <errno.h>
#include <utf8proc.h>

#include "slack-text.h"
#include "test.h"

static size_t points(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += ((unsigned char)*s & 0xc0) != 0x80;
        return n;
}

static void test_escape(void)
{
        char *e = slack_text_escape("a & b <c> d");

        CHECK_STR_EQ(e, "a &amp; b &lt;c&gt; d");
        free(e);
}

static void test_incoming(void)
{
        char *t = slack_text_incoming("<@UBOT> help &amp; more &lt;x&gt; ", "UBOT");

        CHECK_STR_EQ(t, "help & more <x>");
        free(t);

        /* Another user's mention stays; a labelled mention of the bot goes. */
        t = slack_text_incoming("hi <@UOTHER> and <@UBOT|parley>", "UBOT");
        CHECK_STR_EQ(t, "hi <@UOTHER> and");
        free(t);

        /* An escaped "<@UBOT>" typed by the user is text, not a mention. */
        t = slack_text_incoming("&lt;@UBOT&gt;", "UBOT");
        CHECK_STR_EQ(t, "<@UBOT>");
        free(t);
}

static void test_split_short(void)
{
        char **parts;
        size_t n;

        CHECK_INT_EQ(slack_text_split("  one <two>  ", 100, &parts, &n), 0);
        CHECK_INT_EQ(n, 1);
        CHECK_STR_EQ(parts[0], "one &lt;two&gt;");
        CHECK(parts[1] == NULL);
        slack_text_parts_free(parts);

        CHECK_INT_EQ(slack_text_split(" \n ", 100, &parts, &n), 0);
        CHECK_INT_EQ(n, 0);
        slack_text_parts_free(parts);

        CHECK_INT_EQ(slack_text_split("x", 4, &parts, &n), -EINVAL);
}

static void test_split_boundaries(void)
{
        char **parts;
        size_t n;

        /* A paragraph break within the limit wins over sentences. */
        CHECK_INT_EQ(slack_text_split("First one. Second one.\n\nThird paragraph here.", 30,
                                      &parts, &n), 0);
        CHECK_INT_EQ(n, 2);
        CHECK_STR_EQ(parts[0], "First one. Second one.");
        CHECK_STR_EQ(parts[1], "Third paragraph here.");
        slack_text_parts_free(parts);

        /* Then the last sentence end. */
        CHECK_INT_EQ(slack_text_split("Short one. Another sentence goes on and on", 31,
                                      &parts, &n), 0);
        CHECK_INT_EQ(n, 2);
        CHECK_STR_EQ(parts[0], "Short one.");
        CHECK_STR_EQ(parts[1], "Another sentence goes on and on");
        slack_text_parts_free(parts);

        /* Then the last blank. */
        CHECK_INT_EQ(slack_text_split("aaaa bbbb cccc dddd", 12, &parts, &n), 0);
        CHECK_INT_EQ(n, 2);
        CHECK_STR_EQ(parts[0], "aaaa bbbb");
        CHECK_STR_EQ(parts[1], "cccc dddd");
        slack_text_parts_free(parts);

        /* Escapes count at their escaped length: "&" is 5. */
        CHECK_INT_EQ(slack_text_split("&& &&", 10, &parts, &n), 0);
        CHECK_INT_EQ(n, 2);
        CHECK_STR_EQ(parts[0], "&amp;&amp;");
        CHECK_STR_EQ(parts[1], "&amp;&amp;");
        slack_text_parts_free(parts);
}

/* No blank anywhere: cut at code points, never inside one. */
static void test_split_utf8(void)
{
        char text[3 * 25 + 1] = "";
        char **parts;
        size_t n, total = 0;

        for (int i = 0; i < 25; i++)
                strcat(text, "\xe4\xbd\xa0");   /* 你 */

        CHECK_INT_EQ(slack_text_split(text, 10, &parts, &n), 0);
        CHECK_INT_EQ(n, 3);
        for (size_t i = 0; i < n; i++) {
                CHECK(utf8proc_iterate((const utf8proc_uint8_t *)parts[i], -1,
                                       &(utf8proc_int32_t){ 0 }) == 3);
                CHECK_INT_EQ(strlen(parts[i]) % 3, 0);
                total += points(parts[i]);
        }
        CHECK_INT_EQ(points(parts[0]), 10);
        CHECK_INT_EQ(points(parts[2]), 5);
        CHECK_INT_EQ(total, 25);
        slack_text_parts_free(parts);
}

/* A reply longer than Slack's limit: every part under it, nothing lost. */
static void test_split_long(void)
{
        size_t len = 9000;
        char *text = malloc(len + 1);
        char **parts;
        size_t n, total = 0;

        for (size_t i = 0; i < len; i++)
                text[i] = i % 10 == 9 ? ' ' : 'a' + i % 10;
        text[len] = '\0';

        CHECK_INT_EQ(slack_text_split(text, SLACK_TEXT_MAX, &parts, &n), 0);
        CHECK_INT_EQ(n, 3);
        for (size_t i = 0; i < n; i++) {
                CHECK(points(parts[i]) <= SLACK_TEXT_MAX);
                CHECK(parts[i][strlen(parts[i]) - 1] == 'i');
                total += strlen(parts[i]);
        }
        /* Each cut drops one blank. */
        CHECK_INT_EQ(total, len - 1 - (n - 1));
        slack_text_parts_free(parts);
        free(text);
}

int main(void)
{
        test_escape();
        test_incoming();
        test_split_short();
        test_split_boundaries();
        test_split_utf8();
        test_split_long();
        return test_finish();
}
