/* textsplit.c: splitting text at the most natural boundary that fits.
 *
 * Each part is found by one scan from its start: code points are decoded
 * (utf8proc, which also validates), their units added up until the cap,
 * and the last position of each kind of boundary seen on the way is
 * remembered.  The cut is the last boundary of the best kind that lies in
 * the second half of the part; failing that, the last word boundary
 * anywhere; failing that, the last grapheme boundary that fits. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <utf8proc.h>

#include "textsplit.h"

enum cut_kind {
        CUT_PARAGRAPH,
        CUT_SENTENCE,
        CUT_LINE,
        CUT_WORD,
        CUT_KINDS,
};

/* A candidate cut: the part would end at end (blanks before it trimmed),
 * having used units up to there. */
struct cut {
        size_t end;
        size_t units;
        bool set;
};

static size_t unit_count(utf8proc_int32_t cp, utf8proc_ssize_t bytes, enum textsplit_unit unit)
{
        switch (unit) {
        case TEXTSPLIT_BYTES:
                return (size_t)bytes;
        case TEXTSPLIT_UTF16:
                return cp >= 0x10000 ? 2 : 1;
        case TEXTSPLIT_CODEPOINTS:
        default:
                return 1;
        }
}

/* A blank a line may be broken at: ASCII white space and the Unicode space
 * separators, except the no-break ones. */
static bool is_blank(utf8proc_int32_t cp)
{
        if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v')
                return true;
        if (cp == 0x00A0 || cp == 0x2007 || cp == 0x202F)
                return false;
        return utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
}

/* Ends a sentence when a blank follows (Latin and most scripts). */
static bool is_sentence_end(utf8proc_int32_t cp)
{
        return cp == '.' || cp == '!' || cp == '?' || cp == 0x2026 /* … */ ||
                cp == 0x0589 /* Armenian */ || cp == 0x061F /* Arabic ? */ ||
                cp == 0x06D4 /* Arabic . */ || cp == 0x0964 /* Devanagari danda */;
}

/* Ends a sentence with no blank after it (CJK full-width punctuation). */
static bool is_fullwidth_sentence_end(utf8proc_int32_t cp)
{
        return cp == 0x3002 /* 。 */ || cp == 0xFF01 /* ！ */ || cp == 0xFF1F /* ？ */ ||
                cp == 0xFF0E /* ． */;
}

/* Closing quotes and brackets that belong to the sentence before them. */
static bool is_closing(utf8proc_int32_t cp)
{
        utf8proc_category_t c = utf8proc_category(cp);

        return c == UTF8PROC_CATEGORY_PE || c == UTF8PROC_CATEGORY_PF || cp == '"' ||
                cp == '\'';
}

static utf8proc_ssize_t decode(const char *text, size_t len, size_t at, utf8proc_int32_t *cp)
{
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + at,
                                              (utf8proc_ssize_t)(len - at), cp);

        if (n <= 0 || *cp == 0)
                return -1;
        return n;
}

int textsplit_length(const char *text, size_t len, enum textsplit_unit unit, size_t *ret)
{
        size_t units = 0;

        for (size_t at = 0; at < len;) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t n = decode(text, len, at, &cp);

                if (n < 0)
                        return -EILSEQ;
                units += unit_count(cp, n, unit);
                at += (size_t)n;
        }

        *ret = units;
        return 0;
}

/* Skips blanks from at; -1 on invalid UTF-8. */
static long long skip_blanks(const char *text, size_t len, size_t at)
{
        while (at < len) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t n = decode(text, len, at, &cp);

                if (n < 0)
                        return -1;
                if (!is_blank(cp))
                        break;
                at += (size_t)n;
        }
        return (long long)at;
}

static void cut_note(struct cut *c, size_t end, size_t units)
{
        c->end = end;
        c->units = units;
        c->set = true;
}

/* Finds where the part starting at start (not a blank) ends: *ret_end is
 * the part's end, blanks excluded, and the next part begins after the
 * blanks from there.  Candidate cuts are noted before each code point is
 * checked against the cap, so a cut right at the cap counts. */
static int part_find(const char *text, size_t len, size_t start, size_t max_units,
                     enum textsplit_unit unit, size_t *ret_end)
{
        enum { SENTENCE_NONE, SENTENCE_NEEDS_BLANK, SENTENCE_ENDED } sentence = SENTENCE_NONE;
        struct cut cuts[CUT_KINDS] = { 0 };
        struct cut grapheme = { 0 };
        size_t at = start, units = 0, content_end = start, content_units = 0;
        utf8proc_int32_t prev = -1, state = 0;
        bool newline_pending = false;   /* a line ended and only blanks followed */

        while (at < len) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t n = decode(text, len, at, &cp);
                bool boundary;
                size_t u;

                if (n < 0)
                        return -EILSEQ;
                u = unit_count(cp, n, unit);
                boundary = prev < 0 || utf8proc_grapheme_break_stateful(prev, cp, &state);

                if (is_blank(cp)) {
                        if (cp == '\n') {
                                cut_note(&cuts[newline_pending ? CUT_PARAGRAPH : CUT_LINE],
                                         content_end, content_units);
                                newline_pending = true;
                        }
                        if (sentence != SENTENCE_NONE)
                                cut_note(&cuts[CUT_SENTENCE], content_end, content_units);
                        sentence = SENTENCE_NONE;
                        cut_note(&cuts[CUT_WORD], content_end, content_units);
                } else {
                        if (boundary && at > start)
                                cut_note(&grapheme, at, units);
                        if (sentence == SENTENCE_ENDED && !is_closing(cp))
                                cut_note(&cuts[CUT_SENTENCE], content_end, content_units);
                        if (is_fullwidth_sentence_end(cp))
                                sentence = SENTENCE_ENDED;
                        else if (is_sentence_end(cp))
                                sentence = SENTENCE_NEEDS_BLANK;
                        else if (!is_closing(cp))
                                sentence = SENTENCE_NONE;
                        newline_pending = false;
                }

                if (units + u > max_units)
                        break;
                units += u;
                at += (size_t)n;
                prev = cp;
                if (!is_blank(cp)) {
                        content_end = at;
                        content_units = units;
                }
        }

        /* All of it fits. */
        if (at >= len) {
                *ret_end = content_end;
                return 0;
        }

        for (int k = 0; k < CUT_KINDS; k++)
                if (cuts[k].set && cuts[k].end > start && cuts[k].units * 2 >= max_units) {
                        *ret_end = cuts[k].end;
                        return 0;
                }
        if (cuts[CUT_WORD].set && cuts[CUT_WORD].end > start) {
                *ret_end = cuts[CUT_WORD].end;
                return 0;
        }
        if (grapheme.set) {
                *ret_end = grapheme.end;
                return 0;
        }

        /* One grapheme cluster longer than the cap: between code points.
         * At least one code point fits, as the cap is at least
         * TEXTSPLIT_UNITS_MIN. */
        *ret_end = at;
        return 0;
}

int textsplit_split(const char *text, size_t len, size_t max_units, enum textsplit_unit unit,
                    struct textsplit_part **ret_parts, size_t *ret_n)
{
        struct textsplit_part *parts = NULL;
        size_t n = 0, alloc = 0;
        long long at;
        int r;

        if (max_units < TEXTSPLIT_UNITS_MIN)
                return -EINVAL;

        at = skip_blanks(text, len, 0);
        while (at >= 0 && (size_t)at < len) {
                size_t end;

                r = part_find(text, len, (size_t)at, max_units, unit, &end);
                if (r < 0)
                        goto fail;

                if (n == alloc) {
                        struct textsplit_part *p;

                        alloc = alloc ? alloc * 2 : 4;
                        p = realloc(parts, alloc * sizeof(*parts));
                        if (!p) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        parts = p;
                }
                parts[n++] = (struct textsplit_part){
                        .offset = (size_t)at, .len = end - (size_t)at,
                };
                at = skip_blanks(text, len, end);
        }
        if (at < 0) {
                r = -EILSEQ;
                goto fail;
        }

        *ret_parts = parts;
        *ret_n = n;
        return 0;

fail:
        free(parts);
        return r;
}
