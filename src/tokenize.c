/* tokenize.c: normalisation, splitting and joining; the rules are in
 * tokenize.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "macro.h"
#include "tokenize.h"

/* How a character takes part in splitting. */
enum char_class {
        CHAR_SPACE,
        CHAR_WORD,              /* letters and digits */
        CHAR_MARK,              /* combining marks: stay with what precedes */
        CHAR_CJK,               /* one token each */
        CHAR_OTHER,             /* punctuation, symbols: one token each */
};

/* How a token behaves when joined for display. */
enum join_class {
        JOIN_WORD,              /* spaces on both sides */
        JOIN_CJK,               /* no space next to it */
        JOIN_OPEN,              /* no space after */
        JOIN_CLOSE,             /* no space before */
        JOIN_GLUE,              /* no space on either side */
        JOIN_QUOTE,             /* opens and closes alternately */
};

static int errno_from_utf8proc(utf8proc_ssize_t e)
{
        switch (e) {
        case UTF8PROC_ERROR_NOMEM:
                return -ENOMEM;
        case UTF8PROC_ERROR_OVERFLOW:
                return -E2BIG;
        case UTF8PROC_ERROR_INVALIDUTF8:
                return -EILSEQ;
        default:
                return -EINVAL;
        }
}

bool text_utf8_valid(const char *s, size_t len)
{
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;

        while (len > 0) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t k = utf8proc_iterate(p, (utf8proc_ssize_t)len, &cp);

                if (k <= 0 || cp == 0)
                        return false;
                p += k;
                len -= (size_t)k;
        }

        return true;
}

static bool char_is_space(utf8proc_int32_t cp)
{
        switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_ZS:
        case UTF8PROC_CATEGORY_ZL:
        case UTF8PROC_CATEGORY_ZP:
                return true;
        default:
                return (cp >= 0x09 && cp <= 0x0d) || cp == 0x85;
        }
}

static bool char_is_control(utf8proc_int32_t cp)
{
        utf8proc_category_t c = utf8proc_category(cp);

        return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF;
}

/* Han ideographs (with the iteration mark and ideographic zero), kana and
 * bopomofo: the scripts written without spaces between words. */
static bool char_is_cjk(utf8proc_int32_t cp)
{
        static const struct {
                utf8proc_int32_t first, last;
        } ranges[] = {
                { 0x3005, 0x3007 },     /* 々 〆 〇 */
                { 0x3040, 0x30ff },     /* hiragana, katakana */
                { 0x3100, 0x312f },     /* bopomofo */
                { 0x31a0, 0x31bf },     /* bopomofo extended */
                { 0x31f0, 0x31ff },     /* katakana phonetic extensions */
                { 0x3400, 0x4dbf },     /* CJK extension A */
                { 0x4e00, 0x9fff },     /* CJK unified ideographs */
                { 0xf900, 0xfaff },     /* CJK compatibility ideographs */
                { 0x1b000, 0x1b16f },   /* kana supplement and extensions */
                { 0x20000, 0x3ffff },   /* supplementary and tertiary ideographic planes */
        };

        for (size_t i = 0; i < ELEMENTSOF(ranges); i++)
                if (cp >= ranges[i].first && cp <= ranges[i].last)
                        return true;

        return false;
}

static enum char_class char_classify(utf8proc_int32_t cp)
{
        if (char_is_space(cp))
                return CHAR_SPACE;
        if (char_is_cjk(cp))
                return CHAR_CJK;

        switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
                return CHAR_WORD;
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
                return CHAR_MARK;
        default:
                return CHAR_OTHER;
        }
}

static bool char_is_letter(utf8proc_int32_t cp)
{
        utf8proc_category_t c = utf8proc_category(cp);

        return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO && !char_is_cjk(cp);
}

static bool char_is_digit(utf8proc_int32_t cp)
{
        return utf8proc_category(cp) == UTF8PROC_CATEGORY_ND;
}

int text_normalize(const char *text, bool casefold, char **ret)
{
        utf8proc_option_t options = UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                    UTF8PROC_COMPAT | (casefold ? UTF8PROC_CASEFOLD : 0);
        utf8proc_uint8_t *mapped = NULL;
        utf8proc_ssize_t len;
        size_t out = 0;
        bool space = false;

        len = utf8proc_map((const utf8proc_uint8_t *)text, 0, &mapped, options);
        if (len < 0)
                return errno_from_utf8proc(len);

        /* Rewritten in place: dropping and collapsing only shortens it. */
        for (utf8proc_ssize_t i = 0; i < len;) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t k = utf8proc_iterate(mapped + i, len - i, &cp);

                if (k <= 0) {
                        free(mapped);
                        return -EILSEQ;
                }

                if (char_is_space(cp))
                        space = out > 0;
                else if (!char_is_control(cp)) {
                        if (space)
                                mapped[out++] = ' ';
                        space = false;
                        memmove(mapped + out, mapped + i, (size_t)k);
                        out += (size_t)k;
                }
                i += k;
        }
        mapped[out] = 0;

        *ret = (char *)mapped;
        return 0;
}

struct token_list {
        char **tokens;
        size_t n, allocated;
        char current[TOKEN_MAX_BYTES + 1];
        size_t current_len;
        enum char_class current_class;  /* CHAR_SPACE: no token open */
        utf8proc_int32_t current_last;  /* the last character taken */
};

static int token_list_flush(struct token_list *l)
{
        char *t;

        if (l->current_class == CHAR_SPACE)
                return 0;
        l->current_class = CHAR_SPACE;

        if (l->n + 2 > l->allocated) {
                size_t allocated = l->allocated ? l->allocated * 2 : 16;
                char **tokens = reallocarray(l->tokens, allocated, sizeof(char *));
                if (!tokens)
                        return -ENOMEM;
                l->tokens = tokens;
                l->allocated = allocated;
        }

        t = strndup(l->current, l->current_len);
        if (!t)
                return -ENOMEM;

        l->tokens[l->n++] = t;
        l->tokens[l->n] = NULL;
        return 0;
}

/* Appends one character to the open token; once a token is full the rest
 * of it is dropped, which cuts it at a character boundary. */
static void token_list_append(struct token_list *l, const utf8proc_uint8_t *s, size_t k,
                              utf8proc_int32_t cp)
{
        if (l->current_len + k <= TOKEN_MAX_BYTES) {
                memcpy(l->current + l->current_len, s, k);
                l->current_len += k;
        }
        l->current_last = cp;
}

static int token_list_start(struct token_list *l, const utf8proc_uint8_t *s, size_t k,
                            utf8proc_int32_t cp, enum char_class class)
{
        int r = token_list_flush(l);
        if (r < 0)
                return r;

        l->current_len = 0;
        l->current_class = class;
        token_list_append(l, s, k, cp);
        return 0;
}

/* The character after position i of s (len bytes), 0 at the end. */
static utf8proc_int32_t char_next(const utf8proc_uint8_t *s, size_t len, size_t i)
{
        utf8proc_int32_t cp = 0;

        if (i < len && utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp) <= 0)
                return 0;
        return cp;
}

/* Whether the character cp at the end of a word, followed by next, stays
 * inside the word: apostrophes in "i'm", separators in "3.14". */
static bool char_joins_word(const struct token_list *l, utf8proc_int32_t cp,
                            utf8proc_int32_t next)
{
        if (l->current_class != CHAR_WORD)
                return false;

        if (cp == '\'' || cp == 0x2019)
                return (char_is_letter(l->current_last) || char_is_digit(l->current_last)) &&
                       char_is_letter(next);

        if (cp == '.' || cp == ',')
                return char_is_digit(l->current_last) && char_is_digit(next);

        return false;
}

static int tokenize_normalized(const char *text, struct token_list *l)
{
        const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
        size_t len = strlen(text);

        for (size_t i = 0; i < len;) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
                enum char_class class;
                int r = 0;

                if (k <= 0)
                        return -EILSEQ;

                class = char_classify(cp);
                if (class == CHAR_OTHER && char_joins_word(l, cp, char_next(s, len, i + k))) {
                        static const utf8proc_uint8_t apostrophe = '\'';

                        if (cp == 0x2019)
                                token_list_append(l, &apostrophe, 1, '\'');
                        else
                                token_list_append(l, s + i, (size_t)k, cp);
                } else if (class == CHAR_SPACE)
                        r = token_list_flush(l);
                else if (class == CHAR_MARK && l->current_class != CHAR_SPACE)
                        token_list_append(l, s + i, (size_t)k, cp);
                else if ((class == CHAR_WORD || class == CHAR_MARK) &&
                         l->current_class == CHAR_WORD)
                        token_list_append(l, s + i, (size_t)k, cp);
                else
                        r = token_list_start(l, s + i, (size_t)k, cp,
                                             class == CHAR_MARK ? CHAR_WORD : class);
                if (r < 0)
                        return r;

                i += (size_t)k;
        }

        return token_list_flush(l);
}

void tokens_free(char **tokens)
{
        if (!tokens)
                return;

        for (char **t = tokens; *t; t++)
                free(*t);
        free(tokens);
}

int tokenize(const char *text, char ***ret, size_t *ret_n)
{
        _cleanup_free_ char *normalized = NULL;
        struct token_list l = { .current_class = CHAR_SPACE };
        int r;

        r = text_normalize(text, true, &normalized);
        if (r < 0)
                return r;

        r = tokenize_normalized(normalized, &l);
        if (r >= 0 && !l.tokens) {
                l.tokens = calloc(1, sizeof(char *));
                if (!l.tokens)
                        r = -ENOMEM;
        }
        if (r < 0) {
                tokens_free(l.tokens);
                return r;
        }

        *ret = l.tokens;
        *ret_n = l.n;
        return 0;
}

static enum join_class join_classify(const char *token)
{
        utf8proc_int32_t cp;

        if (utf8proc_iterate((const utf8proc_uint8_t *)token, -1, &cp) <= 0)
                return JOIN_WORD;

        if (char_is_cjk(cp))
                return JOIN_CJK;

        switch (cp) {
        case '"':
        case '\'':
                return JOIN_QUOTE;
        case 0xa1:      /* ¡ */
        case 0xbf:      /* ¿ */
        case '#':
        case '@':
                return JOIN_OPEN;
        case '/':
        case '_':
                return JOIN_GLUE;
        case '&':
        case '*':
        case '\\':
                return JOIN_WORD;
        }

        switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_PS:
        case UTF8PROC_CATEGORY_PI:
        case UTF8PROC_CATEGORY_SC:
                return JOIN_OPEN;
        case UTF8PROC_CATEGORY_PE:
        case UTF8PROC_CATEGORY_PF:
        case UTF8PROC_CATEGORY_PO:
                return JOIN_CLOSE;
        case UTF8PROC_CATEGORY_PD:
        case UTF8PROC_CATEGORY_PC:
                return JOIN_GLUE;
        default:
                return JOIN_WORD;
        }
}

int tokens_join(const char *const *tokens, size_t n, char **ret)
{
        enum join_class previous = JOIN_OPEN;   /* nothing before the first */
        bool double_open = false, single_open = false;
        size_t len = 1;
        char *s, *p;

        for (size_t i = 0; i < n; i++)
                len += strlen(tokens[i]) + 1;

        s = malloc(len);
        if (!s)
                return -ENOMEM;

        p = s;
        for (size_t i = 0; i < n; i++) {
                enum join_class class = join_classify(tokens[i]);
                size_t k = strlen(tokens[i]);

                if (class == JOIN_QUOTE) {
                        bool *open = tokens[i][0] == '"' ? &double_open : &single_open;

                        class = *open ? JOIN_CLOSE : JOIN_OPEN;
                        *open = !*open;
                }

                if (!(previous == JOIN_OPEN || previous == JOIN_GLUE || previous == JOIN_CJK ||
                      class == JOIN_CLOSE || class == JOIN_GLUE || class == JOIN_CJK))
                        *p++ = ' ';

                memcpy(p, tokens[i], k);
                p += k;
                previous = class;
        }
        *p = 0;

        *ret = s;
        return 0;
}
