/* metrics.c: sacrebleu's BLEU, NLTK's BLEU and rouge-score's ROUGE.
 *
 * The reference implementations are Python, and their results depend on
 * Python's string semantics: str.split() and str.strip() split on Unicode
 * whitespace, str.lower() applies full case mappings, re.sub() scans left
 * to right without overlapping matches.  The helpers below reproduce those
 * with utf8proc's character properties so that non-ASCII text scores the
 * same here as there. */
#include "autoconfig.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "macro.h"
#include "metrics.h"
#include "porter.h"

/* A growing NUL-terminated byte string. */
struct strbuf {
        char *s;
        size_t len, cap;
};

static void strbuf_done(struct strbuf *b)
{
        free(b->s);
        *b = (struct strbuf){ 0 };
}

static int strbuf_reserve(struct strbuf *b, size_t extra)
{
        size_t need = b->len + extra + 1;
        size_t cap = b->cap ? b->cap : 64;
        char *s;

        if (need <= b->cap)
                return 0;

        while (cap < need)
                cap *= 2;

        s = realloc(b->s, cap);
        if (!s)
                return -ENOMEM;

        b->s = s;
        b->cap = cap;
        return 0;
}

static int strbuf_append(struct strbuf *b, const char *s, size_t len)
{
        int r = strbuf_reserve(b, len);

        if (r < 0)
                return r;

        memcpy(b->s + b->len, s, len);
        b->len += len;
        b->s[b->len] = '\0';
        return 0;
}

static int strbuf_append_char(struct strbuf *b, char c)
{
        return strbuf_append(b, &c, 1);
}

static int strbuf_append_codepoint(struct strbuf *b, utf8proc_int32_t cp)
{
        utf8proc_uint8_t bytes[4];
        utf8proc_ssize_t n = utf8proc_encode_char(cp, bytes);

        return strbuf_append(b, (const char *)bytes, n);
}

/* Hands the string out; an empty buffer becomes "". */
static char *strbuf_steal(struct strbuf *b)
{
        char *s = b->s;

        if (!s)
                return strdup("");

        *b = (struct strbuf){ 0 };
        return s;
}

/* Decodes the code point at s; the text was validated before. */
static size_t utf8_next(const char *s, size_t len, utf8proc_int32_t *cp)
{
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s,
                                              (utf8proc_ssize_t)len, cp);

        assert(n > 0);
        return (size_t)n;
}

/* The start of the code point that ends at s[end - 1]. */
static size_t utf8_prev(const char *s, size_t end)
{
        assert(end > 0);
        end--;
        while (end > 0 && ((unsigned char)s[end] & 0xc0) == 0x80)
                end--;
        return end;
}

/* Every text entering the module passes here: bounded, valid UTF-8. */
static int segment_check(const char *s, size_t *ret_len)
{
        size_t len = strnlen(s, METRICS_SEGMENT_MAX_BYTES + 1);

        if (len > METRICS_SEGMENT_MAX_BYTES)
                return -E2BIG;

        for (size_t i = 0; i < len;) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                                      (utf8proc_ssize_t)(len - i), &cp);
                if (n < 0)
                        return -EILSEQ;
                i += (size_t)n;
        }

        *ret_len = len;
        return 0;
}

int metrics_segment_check(const char *text)
{
        size_t len;

        return segment_check(text, &len);
}

/* Python's str.isspace(): category Zs or bidirectional class WS, B or S. */
static bool py_isspace(utf8proc_int32_t c)
{
        const utf8proc_property_t *p;

        if (c < 0x80)
                return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);

        p = utf8proc_get_property(c);
        return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
               p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* Unicode's Cased property, as far as utf8proc tells it: a cased letter
 * or any character with a case mapping. */
static bool py_is_cased(utf8proc_int32_t c)
{
        switch (utf8proc_category(c)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
                return true;
        default:
                return utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
        }
}

/* Unicode's Case_Ignorable: marks, format characters, modifiers, and the
 * Word_Break classes MidLetter, MidNumLet and Single_Quote. */
static bool py_is_case_ignorable(utf8proc_int32_t c)
{
        static const utf8proc_int32_t word_break_mid[] = {
                0x0027, 0x002e, 0x003a, 0x00b7, 0x0387, 0x055f, 0x05f4, 0x2018, 0x2019,
                0x2024, 0x2027, 0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a,
        };

        switch (utf8proc_category(c)) {
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_ME:
        case UTF8PROC_CATEGORY_CF:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_SK:
                return true;
        default:
                break;
        }

        for (size_t i = 0; i < ELEMENTSOF(word_break_mid); i++)
                if (word_break_mid[i] == c)
                        return true;

        return false;
}

/* CPython's rule for U+03A3 in str.lower(): final sigma when a cased
 * character precedes it and none follows, skipping case-ignorable ones. */
static bool py_sigma_is_final(const char *s, size_t len, size_t start, size_t end)
{
        utf8proc_int32_t c = 0;
        bool found = false;

        for (size_t j = start; j > 0;) {
                j = utf8_prev(s, j);
                utf8_next(s + j, len - j, &c);
                if (!py_is_case_ignorable(c)) {
                        found = true;
                        break;
                }
        }

        if (!found || !py_is_cased(c))
                return false;

        for (size_t j = end; j < len;) {
                j += utf8_next(s + j, len - j, &c);
                if (!py_is_case_ignorable(c))
                        return !py_is_cased(c);
        }

        return true;
}

/* Python's str.lower(): the simple mappings, the one unconditional full
 * mapping (U+0130 to "i" and a combining dot) and the final sigma. */
static int py_lower(const char *s, size_t len, struct strbuf *out)
{
        for (size_t i = 0; i < len;) {
                utf8proc_int32_t cp;
                size_t n = utf8_next(s + i, len - i, &cp);
                int r;

                if (cp < 0x80)
                        r = strbuf_append_char(out, (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
                else if (cp == 0x130)
                        r = strbuf_append(out, "i\xcc\x87", 3);
                else if (cp == 0x3a3)
                        r = strbuf_append_codepoint(out, py_sigma_is_final(s, len, i, i + n)
                                                                 ? 0x3c2 : 0x3c3);
                else
                        r = strbuf_append_codepoint(out, utf8proc_tolower(cp));
                if (r < 0)
                        return r;

                i += n;
        }

        return 0;
}

/* The length of s without trailing whitespace, as str.rstrip() cuts. */
static size_t py_rstrip_len(const char *s, size_t len)
{
        size_t end = 0;

        for (size_t i = 0; i < len;) {
                utf8proc_int32_t cp;

                i += utf8_next(s + i, len - i, &cp);
                if (!py_isspace(cp))
                        end = i;
        }

        return end;
}

/* The tokens of one text: NUL-terminated strings kept in one buffer. */
struct tokens {
        struct strbuf text;
        size_t *offsets;
        size_t n, cap;
};

static void tokens_done(struct tokens *t)
{
        strbuf_done(&t->text);
        free(t->offsets);
        *t = (struct tokens){ 0 };
}

static int tokens_push(struct tokens *t, const char *s, size_t len)
{
        int r;

        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 16;
                size_t *o = reallocarray(t->offsets, cap, sizeof(*o));

                if (!o)
                        return -ENOMEM;
                t->offsets = o;
                t->cap = cap;
        }

        t->offsets[t->n] = t->text.len;
        r = strbuf_append(&t->text, s, len);
        if (r < 0)
                return r;

        r = strbuf_append_char(&t->text, '\0');
        if (r < 0)
                return r;

        t->n++;
        return 0;
}

static const char *tokens_get(const struct tokens *t, size_t i)
{
        return t->text.s + t->offsets[i];
}

/* str.split() with no arguments: runs of non-whitespace. */
static int py_split(const char *s, size_t len, struct tokens *out)
{
        size_t start = 0;
        bool in_token = false;

        for (size_t i = 0; i < len;) {
                utf8proc_int32_t cp;
                size_t n = utf8_next(s + i, len - i, &cp);

                if (py_isspace(cp)) {
                        if (in_token) {
                                int r = tokens_push(out, s + start, i - start);
                                if (r < 0)
                                        return r;
                        }
                        in_token = false;
                } else if (!in_token) {
                        start = i;
                        in_token = true;
                }

                i += n;
        }

        if (in_token)
                return tokens_push(out, s + start, len - start);

        return 0;
}

static int tokens_join(const struct tokens *t, char **ret)
{
        _cleanup_(strbuf_done) struct strbuf b = { 0 };
        char *joined;

        for (size_t i = 0; i < t->n; i++) {
                const char *tok = tokens_get(t, i);
                int r;

                if (i > 0) {
                        r = strbuf_append_char(&b, ' ');
                        if (r < 0)
                                return r;
                }

                r = strbuf_append(&b, tok, strlen(tok));
                if (r < 0)
                        return r;
        }

        joined = strbuf_steal(&b);
        if (!joined)
                return -ENOMEM;

        *ret = joined;
        return 0;
}

/* str.replace(): every non-overlapping occurrence, left to right. */
static int str_replace(struct strbuf *b, const char *from, const char *to)
{
        _cleanup_(strbuf_done) struct strbuf out = { 0 };
        size_t from_len = strlen(from), to_len = strlen(to);
        const char *p, *hit;
        int r;

        if (!b->s || !memmem(b->s, b->len, from, from_len))
                return 0;

        for (p = b->s; (hit = memmem(p, b->len - (size_t)(p - b->s), from, from_len));
             p = hit + from_len) {
                r = strbuf_append(&out, p, (size_t)(hit - p));
                if (r < 0)
                        return r;
                r = strbuf_append(&out, to, to_len);
                if (r < 0)
                        return r;
        }

        r = strbuf_append(&out, p, b->len - (size_t)(p - b->s));
        if (r < 0)
                return r;

        strbuf_done(b);
        *b = out;
        out = (struct strbuf){ 0 };
        return 0;
}

/* The character class of tokenizer_re's first rule,
 * [\{-\~\[-\` -\&\(-\+\:-\@\/]: ASCII punctuation except ' , - . */
static bool bleu_char_is_symbol(char c)
{
        return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
               (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}

static bool char_is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool char_is_period_or_comma(char c)
{
        return c == '.' || c == ',';
}

/* sacrebleu's TokenizerRegexp, shared by 13a and zh: four substitutions in
 * order, then whitespace splitting.  The patterns name only ASCII, so
 * scanning bytes matches what re.sub does on code points: a multi-byte
 * character is never a digit, period or comma, and a match that starts on
 * one ends on the ASCII byte after its last byte. */
static int bleu_regexp_tokenize(const char *s, size_t len, struct tokens *out)
{
        _cleanup_(strbuf_done) struct strbuf a = { 0 }, b = { 0 };
        int r = 0;

        /* ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 " */
        for (size_t i = 0; i < len && r >= 0; i++) {
                if (bleu_char_is_symbol(s[i]))
                        r = strbuf_append(&a, (char[]){ ' ', s[i], ' ' }, 3);
                else
                        r = strbuf_append_char(&a, s[i]);
        }
        if (r < 0)
                return r;

        /* ([^0-9])([\.,]) -> "\1 \2 " */
        for (size_t i = 0; i < a.len && r >= 0;) {
                if (i + 1 < a.len && !char_is_digit(a.s[i]) &&
                    char_is_period_or_comma(a.s[i + 1])) {
                        r = strbuf_append(&b, (char[]){ a.s[i], ' ', a.s[i + 1], ' ' }, 4);
                        i += 2;
                } else
                        r = strbuf_append_char(&b, a.s[i++]);
        }
        if (r < 0)
                return r;

        /* ([\.,])([^0-9]) -> " \1 \2" */
        a.len = 0;
        for (size_t i = 0; i < b.len && r >= 0;) {
                if (i + 1 < b.len && char_is_period_or_comma(b.s[i]) &&
                    !char_is_digit(b.s[i + 1])) {
                        r = strbuf_append(&a, (char[]){ ' ', b.s[i], ' ', b.s[i + 1] }, 4);
                        i += 2;
                } else
                        r = strbuf_append_char(&a, b.s[i++]);
        }
        if (r < 0)
                return r;

        /* ([0-9])(-) -> "\1 \2 " */
        b.len = 0;
        for (size_t i = 0; i < a.len && r >= 0;) {
                if (i + 1 < a.len && char_is_digit(a.s[i]) && a.s[i + 1] == '-') {
                        r = strbuf_append(&b, (char[]){ a.s[i], ' ', '-', ' ' }, 4);
                        i += 2;
                } else
                        r = strbuf_append_char(&b, a.s[i++]);
        }
        if (r < 0)
                return r;

        return py_split(b.s ? b.s : "", b.len, out);
}

/* sacrebleu's Tokenizer13a: mteval-v13a's language-independent part, then
 * the regular expressions on the line padded with a space each side. */
static int bleu_tokenize_13a(const char *s, size_t len, struct tokens *out)
{
        _cleanup_(strbuf_done) struct strbuf b = { 0 };
        _cleanup_(strbuf_done) struct strbuf padded = { 0 };
        int r;

        r = strbuf_append(&b, s, len);
        if (r < 0)
                return r;

        r = str_replace(&b, "<skipped>", "");
        if (r >= 0)
                r = str_replace(&b, "-\n", "");
        if (r >= 0)
                r = str_replace(&b, "\n", " ");
        /* In this order, so "&amp;lt;" becomes "<" as in sacrebleu. */
        if (r >= 0)
                r = str_replace(&b, "&quot;", "\"");
        if (r >= 0)
                r = str_replace(&b, "&amp;", "&");
        if (r >= 0)
                r = str_replace(&b, "&lt;", "<");
        if (r >= 0)
                r = str_replace(&b, "&gt;", ">");
        if (r < 0)
                return r;

        r = strbuf_append_char(&padded, ' ');
        if (r >= 0)
                r = strbuf_append(&padded, b.s ? b.s : "", b.len);
        if (r >= 0)
                r = strbuf_append_char(&padded, ' ');
        if (r < 0)
                return r;

        return bleu_regexp_tokenize(padded.s, padded.len, out);
}

/* TokenizerZh's _UCODE_RANGES as Python compares them.  Two of its entries
 * are written '\u20000' and '\u2f800' (and end '\u2a6d6', '\u2fa1d'),
 * which Python reads as a four-digit escape followed by a digit: two-char
 * strings.  A single character c satisfies '\u2000' '0' <= c <= '\u2a6d'
 * '6' exactly when U+2001 <= c <= U+2A6D, so sacrebleu separates general
 * punctuation, arrows and mathematical symbols, and not the supplementary
 * ideographs the comment names.  Reproduced as it behaves. */
static bool bleu_zh_char_is_chinese(utf8proc_int32_t c)
{
        static const struct {
                utf8proc_int32_t first, last;
        } ranges[] = {
                { 0x3400, 0x4db5 }, { 0x4e00, 0x9fa5 }, { 0x9fa6, 0x9fbb }, { 0xf900, 0xfa2d },
                { 0xfa30, 0xfa6a }, { 0xfa70, 0xfad9 }, { 0x2001, 0x2a6d }, { 0x2f81, 0x2fa1 },
                { 0xff00, 0xffef }, { 0x2e80, 0x2eff }, { 0x3000, 0x303f }, { 0x31c0, 0x31ef },
                { 0x2f00, 0x2fdf }, { 0x2ff0, 0x2fff }, { 0x3100, 0x312f }, { 0x31a0, 0x31bf },
                { 0xfe10, 0xfe1f }, { 0xfe30, 0xfe4f }, { 0x2600, 0x26ff }, { 0x2700, 0x27bf },
                { 0x3200, 0x32ff }, { 0x3300, 0x33ff },
        };

        for (size_t i = 0; i < ELEMENTSOF(ranges); i++)
                if (c >= ranges[i].first && c <= ranges[i].last)
                        return true;

        return false;
}

/* sacrebleu's TokenizerZh: strip, a space each side of every character in
 * its ranges, then the regular expressions (without 13a's padding and
 * entity handling). */
static int bleu_tokenize_zh(const char *s, size_t len, struct tokens *out)
{
        _cleanup_(strbuf_done) struct strbuf b = { 0 };
        size_t start = 0;

        while (start < len) {
                utf8proc_int32_t cp;
                size_t n = utf8_next(s + start, len - start, &cp);

                if (!py_isspace(cp))
                        break;
                start += n;
        }

        len = py_rstrip_len(s, len);

        for (size_t i = start; i < len;) {
                utf8proc_int32_t cp;
                size_t n = utf8_next(s + i, len - i, &cp);
                int r;

                if (bleu_zh_char_is_chinese(cp)) {
                        r = strbuf_append_char(&b, ' ');
                        if (r >= 0)
                                r = strbuf_append(&b, s + i, n);
                        if (r >= 0)
                                r = strbuf_append_char(&b, ' ');
                } else
                        r = strbuf_append(&b, s + i, n);
                if (r < 0)
                        return r;

                i += n;
        }

        return bleu_regexp_tokenize(b.s ? b.s : "", b.len, out);
}

/* sacrebleu's TokenizerChar joins every character with spaces, and BLEU
 * then splits at whitespace: each non-space character is a token. */
static int tokenize_chars(const char *s, size_t len, struct tokens *out)
{
        for (size_t i = 0; i < len;) {
                utf8proc_int32_t cp;
                size_t n = utf8_next(s + i, len - i, &cp);

                if (!py_isspace(cp)) {
                        int r = tokens_push(out, s + i, n);
                        if (r < 0)
                                return r;
                }

                i += n;
        }

        return 0;
}

/* BLEU._preprocess_segment() and the split in extract_all_word_ngrams():
 * lowercase, strip trailing whitespace, tokenise, split. */
static int bleu_line_tokens(const char *line, const struct bleu_options *o, struct tokens *out)
{
        _cleanup_(strbuf_done) struct strbuf lowered = { 0 };
        size_t len;
        int r;

        r = segment_check(line, &len);
        if (r < 0)
                return r;

        if (o->lowercase) {
                r = py_lower(line, len, &lowered);
                if (r < 0)
                        return r;
                line = lowered.s ? lowered.s : "";
                len = lowered.len;
        }

        len = py_rstrip_len(line, len);

        switch (o->tokenize) {
        case BLEU_TOKENIZE_13A:
                return bleu_tokenize_13a(line, len, out);
        case BLEU_TOKENIZE_NONE:
                return py_split(line, len, out);
        case BLEU_TOKENIZE_ZH:
                return bleu_tokenize_zh(line, len, out);
        case BLEU_TOKENIZE_CHAR:
                return tokenize_chars(line, len, out);
        default:
                return -EINVAL;
        }
}

/* The token sequences of one segment as small integers, equal tokens with
 * equal ids: sequence 0 is the hypothesis, the others its references.  The
 * n-gram counting and the LCS then compare integers, not strings. */
struct id_seqs {
        uint32_t *ids;  /* [total tokens], the sequences one after another */
        size_t *starts; /* [n_seqs + 1] */
        size_t n_seqs;
};

static void id_seqs_done(struct id_seqs *q)
{
        free(q->ids);
        free(q->starts);
        *q = (struct id_seqs){ 0 };
}

struct token_ref {
        const char *s;
        size_t pos;
};

static int token_ref_compare(const void *a, const void *b)
{
        return strcmp(((const struct token_ref *)a)->s, ((const struct token_ref *)b)->s);
}

static int id_seqs_build(const struct tokens *const *seqs, size_t n_seqs, struct id_seqs *ret)
{
        _cleanup_free_ struct token_ref *refs = NULL;
        _cleanup_free_ uint32_t *ids = NULL;
        _cleanup_free_ size_t *starts = NULL;
        size_t total = 0;
        uint32_t next_id = 0;

        starts = calloc(n_seqs + 1, sizeof(*starts));
        if (!starts)
                return -ENOMEM;

        for (size_t s = 0; s < n_seqs; s++) {
                starts[s] = total;
                total += seqs[s]->n;
        }
        starts[n_seqs] = total;

        ids = calloc(total ? total : 1, sizeof(*ids));
        refs = calloc(total ? total : 1, sizeof(*refs));
        if (!ids || !refs)
                return -ENOMEM;

        for (size_t s = 0; s < n_seqs; s++)
                for (size_t i = 0; i < seqs[s]->n; i++)
                        refs[starts[s] + i] = (struct token_ref){ tokens_get(seqs[s], i),
                                                                  starts[s] + i };

        qsort(refs, total, sizeof(*refs), token_ref_compare);

        for (size_t i = 0; i < total; i++) {
                if (i > 0 && strcmp(refs[i - 1].s, refs[i].s) != 0)
                        next_id++;
                ids[refs[i].pos] = next_id;
        }

        *ret = (struct id_seqs){ TAKE_PTR(ids), TAKE_PTR(starts), n_seqs };
        return 0;
}

struct key_pos {
        uint64_t key;
        size_t pos;
};

static int key_pos_compare(const void *a, const void *b)
{
        uint64_t x = ((const struct key_pos *)a)->key, y = ((const struct key_pos *)b)->key;

        return x < y ? -1 : x > y;
}

/* Ids of the n-grams of order `order` from those of order - 1:
 * keys[pos] identifies the n-gram starting at pos, for every pos whose
 * n-gram lies inside its sequence; equal n-grams get equal keys.
 * keys: [total tokens], overwritten in place. */
static int ngram_keys_extend(const struct id_seqs *q, size_t order, uint32_t *keys)
{
        size_t total = q->starts[q->n_seqs], n = 0;
        _cleanup_free_ struct key_pos *pairs = NULL;
        uint32_t next_key = 0;

        pairs = calloc(total ? total : 1, sizeof(*pairs));
        if (!pairs)
                return -ENOMEM;

        for (size_t s = 0; s < q->n_seqs; s++)
                for (size_t pos = q->starts[s]; pos + order <= q->starts[s + 1]; pos++)
                        pairs[n++] = (struct key_pos){
                                (uint64_t)keys[pos] << 32 | q->ids[pos + order - 1], pos
                        };

        qsort(pairs, n, sizeof(*pairs), key_pos_compare);

        for (size_t i = 0; i < n; i++) {
                if (i > 0 && pairs[i - 1].key != pairs[i].key)
                        next_key++;
                keys[pairs[i].pos] = next_key;
        }

        return 0;
}

/* For orders 1 .. max_order: matched[n - 1] is the sum over distinct
 * n-grams g of sequence 0 of min(count_0(g), max over s >= 1 of
 * count_s(g)) (BLEU's clipped counts; ROUGE-N's overlap with one
 * reference), totals[n - 1] the number of n-grams in sequence 0. */
static int ngram_match(const struct id_seqs *q, int max_order, uint64_t *matched,
                       uint64_t *totals)
{
        size_t total = q->starts[q->n_seqs];
        _cleanup_free_ uint32_t *keys = NULL, *hyp_count = NULL;
        _cleanup_free_ uint32_t *ref_count = NULL, *ref_max = NULL;

        keys = calloc(total ? total : 1, sizeof(*keys));
        hyp_count = calloc(total ? total : 1, sizeof(*hyp_count));
        ref_count = calloc(total ? total : 1, sizeof(*ref_count));
        ref_max = calloc(total ? total : 1, sizeof(*ref_max));
        if (!keys || !hyp_count || !ref_count || !ref_max)
                return -ENOMEM;

        memcpy(keys, q->ids, total * sizeof(*keys));

        for (size_t order = 1; order <= (size_t)max_order; order++) {
                size_t hyp_end = q->starts[1];
                uint64_t m = 0;

                if (order > 1) {
                        int r = ngram_keys_extend(q, order, keys);
                        if (r < 0)
                                return r;
                }

                /* Keys are below `total`, so the count arrays never overflow. */
                for (size_t s = 1; s < q->n_seqs; s++) {
                        size_t end = q->starts[s + 1];

                        for (size_t pos = q->starts[s]; pos + order <= end; pos++)
                                ref_count[keys[pos]]++;
                        for (size_t pos = q->starts[s]; pos + order <= end; pos++) {
                                uint32_t k = keys[pos];

                                if (ref_count[k] > ref_max[k])
                                        ref_max[k] = ref_count[k];
                        }
                        for (size_t pos = q->starts[s]; pos + order <= end; pos++)
                                ref_count[keys[pos]] = 0;
                }

                for (size_t pos = 0; pos + order <= hyp_end; pos++)
                        hyp_count[keys[pos]]++;

                /* Each distinct n-gram once: its count is cleared when used. */
                for (size_t pos = 0; pos + order <= hyp_end; pos++) {
                        uint32_t k = keys[pos];

                        if (hyp_count[k] == 0)
                                continue;
                        m += hyp_count[k] < ref_max[k] ? hyp_count[k] : ref_max[k];
                        hyp_count[k] = 0;
                }

                for (size_t s = 1; s < q->n_seqs; s++)
                        for (size_t pos = q->starts[s]; pos + order <= q->starts[s + 1]; pos++)
                                ref_max[keys[pos]] = 0;

                matched[order - 1] = m;
                totals[order - 1] = hyp_end >= order ? hyp_end - order + 1 : 0;
        }

        return 0;
}

/* The reference length BLEU compares with: the closest to the hypothesis
 * length, the shorter on ties (sacrebleu's _get_closest_ref_len and
 * NLTK's closest_ref_length agree). */
static size_t closest_ref_len(size_t hyp_len, const struct tokens *refs, size_t n_refs)
{
        size_t best_len = 0, best_diff = SIZE_MAX;

        for (size_t i = 0; i < n_refs; i++) {
                size_t len = refs[i].n;
                size_t diff = len > hyp_len ? len - hyp_len : hyp_len - len;

                if (diff < best_diff || (diff == best_diff && len < best_len)) {
                        best_diff = diff;
                        best_len = len;
                }
        }

        return best_len;
}

/* One segment's hypothesis and references, tokenised. */
struct segment {
        struct tokens hyp;
        struct tokens *refs;
        size_t n_refs;
};

static void segment_done(struct segment *g)
{
        tokens_done(&g->hyp);
        for (size_t i = 0; i < g->n_refs; i++)
                tokens_done(&g->refs[i]);
        free(g->refs);
        *g = (struct segment){ 0 };
}

typedef int (*line_tokenizer_fn)(const char *line, const void *options, struct tokens *out);

/* Tokenises segment i and its non-NULL references from every stream. */
static int segment_load(const char *hyp, const char *const *const *refs, size_t n_streams,
                        size_t i, line_tokenizer_fn tokenize, const void *options,
                        struct segment *g)
{
        int r;

        if (!hyp)
                return -EINVAL;

        g->refs = calloc(n_streams ? n_streams : 1, sizeof(*g->refs));
        if (!g->refs)
                return -ENOMEM;

        r = tokenize(hyp, options, &g->hyp);
        if (r < 0)
                return r;

        for (size_t s = 0; s < n_streams; s++) {
                if (!refs[s][i])
                        continue;

                r = tokenize(refs[s][i], options, &g->refs[g->n_refs++]);
                if (r < 0)
                        return r;
        }

        return g->n_refs > 0 ? 0 : -EINVAL;
}

/* Clipped n-gram counts of one loaded segment. */
static int segment_ngram_match(const struct segment *g, int max_order, uint64_t *matched,
                               uint64_t *totals)
{
        _cleanup_free_ const struct tokens **seqs = NULL;
        _cleanup_(id_seqs_done) struct id_seqs q = { 0 };
        int r;

        seqs = calloc(g->n_refs + 1, sizeof(*seqs));
        if (!seqs)
                return -ENOMEM;

        seqs[0] = &g->hyp;
        for (size_t i = 0; i < g->n_refs; i++)
                seqs[i + 1] = &g->refs[i];

        r = id_seqs_build(seqs, g->n_refs + 1, &q);
        if (r < 0)
                return r;

        return ngram_match(&q, max_order, matched, totals);
}

void bleu_options_init(struct bleu_options *o)
{
        *o = (struct bleu_options){
                .tokenize = BLEU_TOKENIZE_13A,
                .smooth = BLEU_SMOOTH_EXP,
                .smooth_value = BLEU_SMOOTH_VALUE_DEFAULT,
                .lowercase = false,
                .max_order = 4,
                .effective_order = false,
        };
}

static bool bleu_options_valid(const struct bleu_options *o)
{
        return (int)o->tokenize >= 0 && o->tokenize < _BLEU_TOKENIZE_MAX &&
               (int)o->smooth >= 0 && o->smooth < _BLEU_SMOOTH_MAX && o->max_order >= 1 &&
               o->max_order <= BLEU_ORDER_MAX && isfinite(o->smooth_value);
}

static int bleu_line_tokenizer(const char *line, const void *options, struct tokens *out)
{
        return bleu_line_tokens(line, options, out);
}

/* sacrebleu's log for BLEU: a zero precision counts as a huge negative
 * number rather than -inf. */
static double bleu_log(double x)
{
        return x == 0.0 ? -9999999999.0 : log(x);
}

/* BLEU.compute_bleu(), term for term, so rounding matches as well. */
static void bleu_compute(const uint64_t *counts, const uint64_t *totals, uint64_t sys_len,
                         uint64_t ref_len, const struct bleu_options *o, struct bleu_result *r)
{
        double smooth_value = o->smooth_value;
        double smooth_mteval = 1.0, log_sum = 0.0;
        int eff_order = o->max_order;
        bool any_match = false;

        if (smooth_value < 0)
                smooth_value = o->smooth == BLEU_SMOOTH_FLOOR   ? 0.1
                               : o->smooth == BLEU_SMOOTH_ADD_K ? 1.0
                                                                : 0.0;

        *r = (struct bleu_result){
                .max_order = o->max_order,
                .sys_len = sys_len,
                .ref_len = ref_len,
        };
        memcpy(r->counts, counts, sizeof(r->counts));
        memcpy(r->totals, totals, sizeof(r->totals));

        if (sys_len < ref_len)
                r->bp = sys_len > 0 ? exp(1.0 - (double)ref_len / (double)sys_len) : 0.0;
        else
                r->bp = 1.0;

        for (int n = 0; n < o->max_order; n++)
                any_match = any_match || counts[n] > 0;
        if (!any_match)
                return;

        for (int n = 1; n <= o->max_order; n++) {
                double correct = (double)counts[n - 1], total = (double)totals[n - 1];

                if (o->smooth == BLEU_SMOOTH_ADD_K && n > 1) {
                        correct += smooth_value;
                        total += smooth_value;
                }

                if (total == 0.0)
                        break;

                if (o->effective_order)
                        eff_order = n;

                if (correct == 0.0) {
                        if (o->smooth == BLEU_SMOOTH_EXP) {
                                smooth_mteval *= 2;
                                r->precisions[n - 1] = 100.0 / (smooth_mteval * total);
                        } else if (o->smooth == BLEU_SMOOTH_FLOOR)
                                r->precisions[n - 1] = 100.0 * smooth_value / total;
                } else
                        r->precisions[n - 1] = 100.0 * correct / total;
        }

        for (int n = 0; n < eff_order; n++)
                log_sum += bleu_log(r->precisions[n]);

        r->score = r->bp * exp(log_sum / eff_order);
}

int bleu_corpus(const char *const *hyps, size_t n_segments, const char *const *const *refs,
                size_t n_streams, const struct bleu_options *o, struct bleu_result *ret)
{
        uint64_t counts[BLEU_ORDER_MAX] = { 0 }, totals[BLEU_ORDER_MAX] = { 0 };
        uint64_t sys_len = 0, ref_len = 0;

        if (!bleu_options_valid(o) || n_segments == 0 || n_streams == 0)
                return -EINVAL;

        for (size_t i = 0; i < n_segments; i++) {
                _cleanup_(segment_done) struct segment g = { 0 };
                uint64_t matched[BLEU_ORDER_MAX], seg_totals[BLEU_ORDER_MAX];
                int r;

                r = segment_load(hyps[i], refs, n_streams, i, bleu_line_tokenizer, o, &g);
                if (r < 0)
                        return r;

                r = segment_ngram_match(&g, o->max_order, matched, seg_totals);
                if (r < 0)
                        return r;

                for (int n = 0; n < o->max_order; n++) {
                        counts[n] += matched[n];
                        totals[n] += seg_totals[n];
                }
                sys_len += g.hyp.n;
                ref_len += closest_ref_len(g.hyp.n, g.refs, g.n_refs);
        }

        bleu_compute(counts, totals, sys_len, ref_len, o, ret);
        return 0;
}

int bleu_result_format(const struct bleu_result *r, char **ret)
{
        _cleanup_(strbuf_done) struct strbuf b = { 0 };
        double ratio = r->ref_len ? (double)r->sys_len / (double)r->ref_len : 0.0;
        char field[64], *line;
        int n;

        if (r->max_order < 1 || r->max_order > BLEU_ORDER_MAX)
                return -EINVAL;

        n = snprintf(field, sizeof(field), "BLEU = %.2f ", r->score);
        if (n < 0 || (size_t)n >= sizeof(field) || strbuf_append(&b, field, (size_t)n) < 0)
                return -ENOMEM;

        for (int i = 0; i < r->max_order; i++) {
                n = snprintf(field, sizeof(field), "%s%.1f", i ? "/" : "", r->precisions[i]);
                if (n < 0 || (size_t)n >= sizeof(field) ||
                    strbuf_append(&b, field, (size_t)n) < 0)
                        return -ENOMEM;
        }

        n = snprintf(field, sizeof(field), " (BP = %.3f ratio = %.3f ", r->bp, ratio);
        if (n < 0 || (size_t)n >= sizeof(field) || strbuf_append(&b, field, (size_t)n) < 0)
                return -ENOMEM;

        n = snprintf(field, sizeof(field), "hyp_len = %" PRIu64 " ref_len = %" PRIu64 ")",
                     r->sys_len, r->ref_len);
        if (n < 0 || (size_t)n >= sizeof(field) || strbuf_append(&b, field, (size_t)n) < 0)
                return -ENOMEM;

        line = strbuf_steal(&b);
        if (!line)
                return -ENOMEM;

        *ret = line;
        return 0;
}

int bleu_tokenize_line(const char *line, const struct bleu_options *o, char **ret)
{
        _cleanup_(tokens_done) struct tokens t = { 0 };
        int r;

        if (!bleu_options_valid(o))
                return -EINVAL;

        r = bleu_line_tokens(line, o, &t);
        if (r < 0)
                return r;

        return tokens_join(&t, ret);
}

static const char *const bleu_tokenize_names[_BLEU_TOKENIZE_MAX] = {
        [BLEU_TOKENIZE_13A] = "13a",
        [BLEU_TOKENIZE_NONE] = "none",
        [BLEU_TOKENIZE_ZH] = "zh",
        [BLEU_TOKENIZE_CHAR] = "char",
};

static const char *const bleu_smooth_names[_BLEU_SMOOTH_MAX] = {
        [BLEU_SMOOTH_EXP] = "exp",
        [BLEU_SMOOTH_FLOOR] = "floor",
        [BLEU_SMOOTH_ADD_K] = "add-k",
        [BLEU_SMOOTH_NONE] = "none",
};

static const char *const rouge_tokenize_names[_ROUGE_TOKENIZE_MAX] = {
        [ROUGE_TOKENIZE_DEFAULT] = "default",
        [ROUGE_TOKENIZE_ZH] = "zh",
        [ROUGE_TOKENIZE_CHAR] = "char",
};

static int name_lookup(const char *const *names, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (s && strcmp(names[i], s) == 0)
                        return (int)i;

        return -EINVAL;
}

int bleu_tokenize_from_string(const char *s)
{
        return name_lookup(bleu_tokenize_names, _BLEU_TOKENIZE_MAX, s);
}

const char *bleu_tokenize_to_string(enum bleu_tokenize t)
{
        return (int)t >= 0 && t < _BLEU_TOKENIZE_MAX ? bleu_tokenize_names[t] : NULL;
}

int bleu_smooth_from_string(const char *s)
{
        return name_lookup(bleu_smooth_names, _BLEU_SMOOTH_MAX, s);
}

const char *bleu_smooth_to_string(enum bleu_smooth s)
{
        return (int)s >= 0 && s < _BLEU_SMOOTH_MAX ? bleu_smooth_names[s] : NULL;
}

int rouge_tokenize_from_string(const char *s)
{
        return name_lookup(rouge_tokenize_names, _ROUGE_TOKENIZE_MAX, s);
}

const char *rouge_tokenize_to_string(enum rouge_tokenize t)
{
        return (int)t >= 0 && t < _ROUGE_TOKENIZE_MAX ? rouge_tokenize_names[t] : NULL;
}

void bleu_nltk_options_init(struct bleu_nltk_options *o)
{
        *o = (struct bleu_nltk_options){
                .max_order = 4,
                .smooth = BLEU_NLTK_SMOOTH_NONE,
                .epsilon = 0.1,
        };
}

/* NLTK's callers split sentences themselves; the vectors and parley use
 * str.split(), keeping case. */
static int bleu_nltk_line_tokenizer(const char *line, const void *options, struct tokens *out)
{
        size_t len;
        int r;

        r = segment_check(line, &len);
        if (r < 0)
                return r;

        return py_split(line, len, out);
}

int bleu_nltk_corpus(const char *const *hyps, size_t n_segments, const char *const *const *refs,
                     size_t n_streams, const struct bleu_nltk_options *o, double *ret)
{
        uint64_t numerators[BLEU_ORDER_MAX] = { 0 }, denominators[BLEU_ORDER_MAX] = { 0 };
        uint64_t hyp_lengths = 0, ref_lengths = 0;
        double bp, log_sum = 0.0;

        if (o->max_order < 1 || o->max_order > BLEU_ORDER_MAX || (int)o->smooth < 0 ||
            o->smooth >= _BLEU_NLTK_SMOOTH_MAX || !isfinite(o->epsilon) || n_segments == 0 ||
            n_streams == 0)
                return -EINVAL;

        for (size_t i = 0; i < n_segments; i++) {
                _cleanup_(segment_done) struct segment g = { 0 };
                uint64_t matched[BLEU_ORDER_MAX], totals[BLEU_ORDER_MAX];
                int r;

                r = segment_load(hyps[i], refs, n_streams, i, bleu_nltk_line_tokenizer, NULL,
                                 &g);
                if (r < 0)
                        return r;

                r = segment_ngram_match(&g, o->max_order, matched, totals);
                if (r < 0)
                        return r;

                /* modified_precision(): the denominator is at least 1. */
                for (int n = 0; n < o->max_order; n++) {
                        numerators[n] += matched[n];
                        denominators[n] += totals[n] > 0 ? totals[n] : 1;
                }
                hyp_lengths += g.hyp.n;
                ref_lengths += closest_ref_len(g.hyp.n, g.refs, g.n_refs);
        }

        /* brevity_penalty(closest_ref_len, hyp_len) */
        if (hyp_lengths > ref_lengths)
                bp = 1.0;
        else if (hyp_lengths == 0)
                bp = 0.0;
        else
                bp = exp(1.0 - (double)ref_lengths / (double)hyp_lengths);

        /* No matching unigram: no matching n-gram of any order. */
        if (numerators[0] == 0) {
                *ret = 0.0;
                return 0;
        }

        for (int n = 0; n < o->max_order; n++) {
                double p;

                if (numerators[n] > 0)
                        p = (double)numerators[n] / (double)denominators[n];
                else if (o->smooth == BLEU_NLTK_SMOOTH_METHOD1)
                        p = o->epsilon / (double)denominators[n];
                else {
                        /* NLTK's method0 puts sys.float_info.min here, meaning
                         * "precision 0"; the geometric mean is then 0. */
                        *ret = 0.0;
                        return 0;
                }

                log_sum += 1.0 / o->max_order * log(p);
        }

        *ret = bp * exp(log_sum);
        return 0;
}

int bleu_nltk_sentence(const char *hyp, const char *const *refs, size_t n_refs,
                       const struct bleu_nltk_options *o, double *ret)
{
        _cleanup_free_ const char *const **streams = NULL;

        if (n_refs == 0)
                return -EINVAL;

        streams = calloc(n_refs, sizeof(*streams));
        if (!streams)
                return -ENOMEM;

        /* Each reference is a stream of one segment. */
        for (size_t i = 0; i < n_refs; i++)
                streams[i] = &refs[i];

        return bleu_nltk_corpus(&hyp, 1, streams, n_refs, o, ret);
}

/* rouge-score stems only tokens longer than three characters and drops
 * tokens that end up empty. */
static int rouge_push_word(struct tokens *out, const char *s, size_t len, bool stem)
{
        _cleanup_free_ char *word = NULL, *stemmed = NULL;
        int r;

        if (!stem || len <= 3)
                return tokens_push(out, s, len);

        word = strndup(s, len);
        if (!word)
                return -ENOMEM;

        r = porter_stem(word, &stemmed);
        if (r < 0)
                return r;

        if (stemmed[0] == '\0')
                return 0;

        return tokens_push(out, stemmed, strlen(stemmed));
}

static bool char_is_ascii_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || char_is_digit(c);
}

/* The characters ROUGE_TOKENIZE_ZH makes tokens of one each: letters and
 * numbers in the blocks of Han ideographs, kana, Hangul and Bopomofo
 * (punctuation in those blocks still separates, as ASCII punctuation
 * does). */
static bool rouge_char_is_cjk(utf8proc_int32_t c)
{
        static const struct {
                utf8proc_int32_t first, last;
        } blocks[] = {
                { 0x1100, 0x11ff },   /* Hangul Jamo */
                { 0x2e80, 0x2fdf },   /* CJK Radicals Supplement, Kangxi Radicals */
                { 0x3000, 0x303f },   /* CJK Symbols and Punctuation: 々 〆 〇 */
                { 0x3040, 0x30ff },   /* Hiragana, Katakana */
                { 0x3100, 0x31bf },   /* Bopomofo, Hangul Compatibility Jamo, Kanbun */
                { 0x31f0, 0x31ff },   /* Katakana Phonetic Extensions */
                { 0x3400, 0x4dbf },   /* CJK Unified Ideographs Extension A */
                { 0x4e00, 0x9fff },   /* CJK Unified Ideographs */
                { 0xa960, 0xa97f },   /* Hangul Jamo Extended-A */
                { 0xac00, 0xd7ff },   /* Hangul Syllables, Jamo Extended-B */
                { 0xf900, 0xfaff },   /* CJK Compatibility Ideographs */
                { 0xff66, 0xffdc },   /* Halfwidth Katakana and Hangul */
                { 0x20000, 0x3134f }, /* CJK Unified Ideographs Extensions B to G */
        };
        bool in_block = false;

        for (size_t i = 0; i < ELEMENTSOF(blocks) && !in_block; i++)
                in_block = c >= blocks[i].first && c <= blocks[i].last;

        if (!in_block)
                return false;

        switch (utf8proc_category(c)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
                return true;
        default:
                return false;
        }
}

/* rouge_scorer's tokenize(): lowercase, [^a-z0-9]+ to a space, split,
 * stem.  On the lowered text a byte outside [a-z0-9] is either ASCII
 * punctuation or part of a multi-byte character, which the pattern drops
 * alike.  With `cjk`, CJK characters become tokens of their own. */
static int rouge_words(const char *s, size_t len, bool stem, bool cjk, struct tokens *out)
{
        size_t start = 0;
        bool in_word = false;
        int r;

        for (size_t i = 0; i < len;) {
                utf8proc_int32_t cp;
                size_t n;

                if (char_is_ascii_alnum(s[i])) {
                        if (!in_word)
                                start = i;
                        in_word = true;
                        i++;
                        continue;
                }

                if (in_word) {
                        r = rouge_push_word(out, s + start, i - start, stem);
                        if (r < 0)
                                return r;
                        in_word = false;
                }

                n = utf8_next(s + i, len - i, &cp);
                if (cjk && rouge_char_is_cjk(cp)) {
                        r = tokens_push(out, s + i, n);
                        if (r < 0)
                                return r;
                }
                i += n;
        }

        if (in_word)
                return rouge_push_word(out, s + start, len - start, stem);

        return 0;
}

static int rouge_line_tokens(const char *line, const struct rouge_options *o,
                             struct tokens *out)
{
        _cleanup_(strbuf_done) struct strbuf lowered = { 0 };
        _cleanup_free_ char *normalized = NULL;
        size_t len;
        int r;

        if ((int)o->tokenize < 0 || o->tokenize >= _ROUGE_TOKENIZE_MAX)
                return -EINVAL;

        r = segment_check(line, &len);
        if (r < 0)
                return r;

        /* parley's conventions fold compatibility forms (full-width Latin
         * and digits, half-width kana) first; rouge-score's does not. */
        if (o->tokenize != ROUGE_TOKENIZE_DEFAULT) {
                normalized = (char *)utf8proc_NFKC((const utf8proc_uint8_t *)line);
                if (!normalized)
                        return -ENOMEM;
                line = normalized;
                len = strlen(normalized);
        }

        r = py_lower(line, len, &lowered);
        if (r < 0)
                return r;

        switch (o->tokenize) {
        case ROUGE_TOKENIZE_DEFAULT:
                return rouge_words(lowered.s ? lowered.s : "", lowered.len, o->stem, false, out);
        case ROUGE_TOKENIZE_ZH:
                return rouge_words(lowered.s ? lowered.s : "", lowered.len, o->stem, true, out);
        case ROUGE_TOKENIZE_CHAR:
                return tokenize_chars(lowered.s ? lowered.s : "", lowered.len, out);
        default:
                return -EINVAL;
        }
}

void rouge_options_init(struct rouge_options *o)
{
        *o = (struct rouge_options){
                .tokenize = ROUGE_TOKENIZE_DEFAULT,
                .stem = false,
        };
}

int rouge_tokenize_line(const char *text, const struct rouge_options *o, char **ret)
{
        _cleanup_(tokens_done) struct tokens t = { 0 };
        int r;

        r = rouge_line_tokens(text, o, &t);
        if (r < 0)
                return r;

        return tokens_join(&t, ret);
}

/* scoring.fmeasure() */
static struct rouge_prf rouge_prf_make(double precision, double recall)
{
        double f = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;

        return (struct rouge_prf){ precision, recall, f };
}

/* Length of the longest common subsequence of a and b, one row at a time.
 * prev, row: [len_b + 1] */
static size_t lcs_length(const uint32_t *a, size_t len_a, const uint32_t *b, size_t len_b,
                         size_t *prev, size_t *row)
{
        memset(prev, 0, (len_b + 1) * sizeof(*prev));

        for (size_t i = 1; i <= len_a; i++) {
                row[0] = 0;
                for (size_t j = 1; j <= len_b; j++) {
                        if (a[i - 1] == b[j - 1])
                                row[j] = prev[j - 1] + 1;
                        else
                                row[j] = prev[j] > row[j - 1] ? prev[j] : row[j - 1];
                }
                memcpy(prev, row, (len_b + 1) * sizeof(*prev));
        }

        return prev[len_b];
}

/* RougeScorer.score(target, prediction) for rouge1, rouge2 and rougeL. */
static int rouge_score_pair(const struct tokens *prediction, const struct tokens *target,
                            struct rouge_result *ret)
{
        const struct tokens *seqs[2] = { prediction, target };
        _cleanup_(id_seqs_done) struct id_seqs q = { 0 };
        _cleanup_free_ size_t *prev = NULL, *row = NULL;
        uint64_t overlap[2], pred_count[2];
        size_t n_pred = prediction->n, n_target = target->n, lcs;
        int r;

        r = id_seqs_build(seqs, 2, &q);
        if (r < 0)
                return r;

        r = ngram_match(&q, 2, overlap, pred_count);
        if (r < 0)
                return r;

        for (int n = 1; n <= 2; n++) {
                /* _score_ngrams(): both counts at least 1 */
                double p_den = pred_count[n - 1] > 0 ? (double)pred_count[n - 1] : 1.0;
                double r_den = n_target >= (size_t)n ? (double)(n_target - n + 1) : 1.0;
                struct rouge_prf *prf = n == 1 ? &ret->rouge1 : &ret->rouge2;

                *prf = rouge_prf_make((double)overlap[n - 1] / p_den,
                                      (double)overlap[n - 1] / r_den);
        }

        if (n_pred == 0 || n_target == 0) {
                ret->rougeL = (struct rouge_prf){ 0 };
                return 0;
        }

        prev = calloc(n_pred + 1, sizeof(*prev));
        row = calloc(n_pred + 1, sizeof(*row));
        if (!prev || !row)
                return -ENOMEM;

        lcs = lcs_length(q.ids + q.starts[1], n_target, q.ids, n_pred, prev, row);
        ret->rougeL = rouge_prf_make((double)lcs / (double)n_pred, (double)lcs / (double)n_target);
        return 0;
}

/* score_multi(): per type, the scores of the reference with the highest F
 * (numpy's argmax: the first of equals). */
static void rouge_keep_best(struct rouge_prf *best, const struct rouge_prf *candidate, bool first)
{
        if (first || candidate->f > best->f)
                *best = *candidate;
}

static int rouge_score_segment(const struct segment *g, struct rouge_result *ret)
{
        struct rouge_result best = { 0 };

        for (size_t i = 0; i < g->n_refs; i++) {
                struct rouge_result one;
                int r;

                r = rouge_score_pair(&g->hyp, &g->refs[i], &one);
                if (r < 0)
                        return r;

                rouge_keep_best(&best.rouge1, &one.rouge1, i == 0);
                rouge_keep_best(&best.rouge2, &one.rouge2, i == 0);
                rouge_keep_best(&best.rougeL, &one.rougeL, i == 0);
        }

        *ret = best;
        return 0;
}

static int rouge_line_tokenizer(const char *line, const void *options, struct tokens *out)
{
        return rouge_line_tokens(line, options, out);
}

int rouge_score(const char *hyp, const char *const *refs, size_t n_refs,
                const struct rouge_options *o, struct rouge_result *ret)
{
        _cleanup_free_ const char *const **streams = NULL;
        _cleanup_(segment_done) struct segment g = { 0 };
        int r;

        if (n_refs == 0)
                return -EINVAL;

        streams = calloc(n_refs, sizeof(*streams));
        if (!streams)
                return -ENOMEM;

        for (size_t i = 0; i < n_refs; i++)
                streams[i] = &refs[i];

        r = segment_load(hyp, streams, n_refs, 0, rouge_line_tokenizer, o, &g);
        if (r < 0)
                return r;

        return rouge_score_segment(&g, ret);
}

int rouge_corpus(const char *const *hyps, size_t n_segments, const char *const *const *refs,
                 size_t n_streams, const struct rouge_options *o, struct rouge_result *ret)
{
        struct rouge_result sum = { 0 };
        struct rouge_prf *sums[] = { &sum.rouge1, &sum.rouge2, &sum.rougeL };

        if (n_segments == 0 || n_streams == 0)
                return -EINVAL;

        for (size_t i = 0; i < n_segments; i++) {
                _cleanup_(segment_done) struct segment g = { 0 };
                struct rouge_result one;
                const struct rouge_prf *ones[] = { &one.rouge1, &one.rouge2, &one.rougeL };
                int r;

                r = segment_load(hyps[i], refs, n_streams, i, rouge_line_tokenizer, o, &g);
                if (r < 0)
                        return r;

                r = rouge_score_segment(&g, &one);
                if (r < 0)
                        return r;

                for (size_t t = 0; t < ELEMENTSOF(sums); t++) {
                        sums[t]->precision += ones[t]->precision;
                        sums[t]->recall += ones[t]->recall;
                        sums[t]->f += ones[t]->f;
                }
        }

        for (size_t t = 0; t < ELEMENTSOF(sums); t++) {
                sums[t]->precision /= (double)n_segments;
                sums[t]->recall /= (double)n_segments;
                sums[t]->f /= (double)n_segments;
        }

        *ret = sum;
        return 0;
}
