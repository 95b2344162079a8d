/* matrix-split.c: cutting a reply into Matrix event bodies. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "matrix-split.h"

/* The bytes c takes inside a JSON string. */
static size_t json_char_cost(unsigned char c)
{
        if (c == '"' || c == '\\' || c == '\n' || c == '\t' || c == '\r' || c == '\b' ||
            c == '\f')
                return 2;
        return c < 0x20 ? 6 : 1;
}

static bool is_utf8_continuation(unsigned char c)
{
        return (c & 0xc0) == 0x80;
}

/* Where to end a part that may reach at most text + limit: after the last
 * paragraph break, else sentence end, else blank, in the window's second
 * half; else at limit, never inside a UTF-8 sequence. */
static size_t body_break(const char *text, size_t limit)
{
        static const char *const sentence_ends[] = { ". ", "! ", "? ", ".\n", "!\n", "?\n",
                                                     "\xe3\x80\x82", "\xef\xbc\x81",
                                                     "\xef\xbc\x9f" };
        size_t half = limit / 2;

        for (size_t i = limit; i > half; i--)
                if (text[i - 1] == '\n' && i >= 2 && text[i - 2] == '\n')
                        return i;
        for (size_t i = limit; i > half; i--)
                for (size_t k = 0; k < ELEMENTSOF(sentence_ends); k++) {
                        size_t l = strlen(sentence_ends[k]);

                        if (i >= l && memcmp(text + i - l, sentence_ends[k], l) == 0)
                                return i;
                }
        for (size_t i = limit; i > half; i--)
                if (text[i - 1] == ' ' || text[i - 1] == '\n' || text[i - 1] == '\t')
                        return i;
        while (limit > 0 && is_utf8_continuation((unsigned char)text[limit]))
                limit--;
        return limit;
}

int matrix_body_split(const char *text, size_t max_cost, char ***ret_parts, size_t *ret_n)
{
        char **parts = NULL;
        size_t n = 0;
        const char *p = text;

        if (max_cost < 8)
                return -EINVAL;

        while (*p) {
                size_t cost = 0, fit = 0, end, len;
                char **grown;

                while (p[fit] && cost + json_char_cost((unsigned char)p[fit]) <= max_cost)
                        cost += json_char_cost((unsigned char)p[fit++]);
                end = p[fit] ? body_break(p, fit) : fit;
                if (end == 0) {
                        /* Only a max_cost below one character's cost gets
                         * here: take that whole character. */
                        end = fit ? fit : 1;
                        while (is_utf8_continuation((unsigned char)p[end]))
                                end++;
                }
                len = end;
                while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\n' ||
                                   p[len - 1] == '\t'))
                        len--;

                if (len > 0) {
                        grown = realloc(parts, (n + 1) * sizeof(*grown));
                        if (!grown)
                                goto fail;
                        parts = grown;
                        parts[n] = strndup(p, len);
                        if (!parts[n])
                                goto fail;
                        n++;
                }
                p += end;
                p += strspn(p, " \n\t");
        }

        *ret_parts = parts;
        *ret_n = n;
        return 0;
fail:
        for (size_t i = 0; i < n; i++)
                free(parts[i]);
        free(parts);
        return -ENOMEM;
}

