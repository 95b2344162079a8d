/* slack-text.c: escaping, unescaping and splitting Slack message text. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "macro.h"
#include "slack-text.h"

char *slack_text_escape(const char *text)
{
        size_t n = 0;
        char *out, *p;

        for (const char *s = text; *s; s++)
                n += *s == '&' ? 5 : (*s == '<' || *s == '>') ? 4 : 1;

        out = malloc(n + 1);
        if (!out)
                return NULL;

        p = out;
        for (const char *s = text; *s; s++) {
                const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" :
                                *s == '>' ? "&gt;" : NULL;

                if (e) {
                        memcpy(p, e, strlen(e));
                        p += strlen(e);
                } else
                        *p++ = *s;
        }
        *p = '\0';
        return out;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The length of a mention of user_id at s ("<@U1>" or "<@U1|name>"), or 0. */
static size_t mention_length(const char *s, const char *user_id)
{
        size_t n;
        const char *end;

        if (!user_id || strncmp(s, "<@", 2) != 0)
                return 0;
        n = strlen(user_id);
        if (strncmp(s + 2, user_id, n) != 0)
                return 0;
        if (s[2 + n] == '>')
                return n + 3;
        if (s[2 + n] != '|')
                return 0;
        end = strchr(s + 2 + n, '>');
        return end ? (size_t)(end - s) + 1 : 0;
}

char *slack_text_incoming(const char *text, const char *user_id)
{
        static const struct { const char *from; char to; } escapes[] = {
                { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
        };
        char *out = malloc(strlen(text) + 1);
        char *p = out, *start;

        if (!out)
                return NULL;

        /* Mentions first: they hold no escapes, and an unescaped "<" of
         * the user's own must not be taken for one. */
        for (const char *s = text; *s;) {
                size_t m = mention_length(s, user_id);
                bool replaced = false;

                if (m > 0) {
                        s += m;
                        continue;
                }
                for (size_t i = 0; i < ELEMENTSOF(escapes); i++) {
                        size_t len = strlen(escapes[i].from);

                        if (strncmp(s, escapes[i].from, len) == 0) {
                                *p++ = escapes[i].to;
                                s += len;
                                replaced = true;
                                break;
                        }
                }
                if (!replaced)
                        *p++ = *s++;
        }
        *p = '\0';

        while (p > out && is_blank(p[-1]))
                *--p = '\0';
        start = out;
        while (is_blank(*start))
                start++;
        memmove(out, start, strlen(start) + 1);
        return out;
}

/* Bytes of the code point at s (1 for a byte that starts none). */
static size_t point_length(const char *s)
{
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &cp);

        return n > 0 ? (size_t)n : 1;
}

static size_t escaped_cost(char c)
{
        return c == '&' ? 5 : (c == '<' || c == '>') ? 4 : 1;
}

static bool is_sentence_end(const char *s, const char *end)
{
        static const char *const wide[] = { "\u3002", "\uff01", "\uff1f" };

        if ((*s == '.' || *s == '!' || *s == '?') && s + 1 < end && is_blank(s[1]))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(wide); i++)
                if (strncmp(s, wide[i], strlen(wide[i])) == 0)
                        return true;
        return false;
}

/* Where to end the part that starts at start and may run to limit (a code
 * point boundary before the text's end). */
static const char *split_point(const char *start, const char *limit)
{
        const char *paragraph = NULL, *sentence = NULL, *blank = NULL;

        for (const char *s = start; s < limit; s += point_length(s)) {
                if (s > start && s[0] == '\n' && s + 1 < limit && s[1] == '\n')
                        paragraph = s;
                if (is_sentence_end(s, limit + 1))
                        sentence = s + point_length(s);
                if (s > start && is_blank(*s))
                        blank = s;
        }

        if (paragraph)
                return paragraph;
        if (sentence && sentence <= limit)
                return sentence;
        if (blank)
                return blank;
        return limit;
}

void slack_text_parts_free(char **parts)
{
        for (size_t i = 0; parts && parts[i]; i++)
                free(parts[i]);
        free(parts);
}

int slack_text_split(const char *text, size_t max_points, char ***ret_parts, size_t *ret_n)
{
        char **parts = NULL;
        size_t n = 0;
        const char *s = text;

        if (max_points < 8)
                return -EINVAL;

        for (;;) {
                const char *limit = s, *cut;
                size_t cost = 0;
                char *raw, *part, **grown;

                while (is_blank(*s))
                        s++;
                if (!*s)
                        break;

                limit = s;
                while (*limit && cost + escaped_cost(*limit) <= max_points) {
                        cost += escaped_cost(*limit);
                        limit += point_length(limit);
                }
                cut = *limit ? split_point(s, limit) : limit;

                raw = strndup(s, (size_t)(cut - s));
                part = raw ? slack_text_escape(raw) : NULL;
                free(raw);
                grown = part ? realloc(parts, (n + 2) * sizeof(*parts)) : NULL;
                if (!grown) {
                        free(part);
                        slack_text_parts_free(parts);
                        return -ENOMEM;
                }
                parts = grown;
                parts[n++] = part;
                parts[n] = NULL;

                /* Trailing blanks of the part go too. */
                for (size_t len = strlen(part); len > 0 && is_blank(part[len - 1]); len--)
                        part[len - 1] = '\0';
                s = cut;
        }

        if (!parts) {
                parts = calloc(1, sizeof(*parts));
                if (!parts)
                        return -ENOMEM;
        }
        *ret_parts = parts;
        *ret_n = n;
        return 0;
}
