/* tokenize.h: from user text to the tokens the model sees, and back.
 *
 * Normalisation: NFKC, optional Unicode case folding (utf8proc), control
 * and format characters (Cc, Cf) removed, every run of white space (Z*,
 * and the ASCII controls TAB, LF, VT, FF, CR, and NEL) collapsed to one
 * space, no space at either end.
 *
 * Splitting, applied to the case-folded normal form:
 *  - A word is a run of letters, combining marks and digits (Unicode L*,
 *    M*, N*).  An apostrophe (' or U+2019) between a letter or digit and a
 *    letter stays inside the word and is stored as ASCII "'":
 *    "I'm" -> "i'm", "don’t" -> "don't".  A "." or "," between two digits
 *    stays inside the word: "3.14", "1,000".
 *  - Each Han ideograph (CJK unified and compatibility ideographs, with
 *    their extensions), each hiragana and katakana character, and each
 *    bopomofo letter is a token of its own: Chinese and Japanese are
 *    written without spaces and parley has no word segmenter, so one token
 *    per character is the consistent unit (the metrics use the same).
 *    Hangul stays in words: Korean is written with spaces between words.
 *  - Every other character that is not white space (punctuation, symbols,
 *    emoji) is a token of its own; a combining mark right after such a
 *    character stays with it.
 *  - A token longer than TOKEN_MAX_BYTES is cut at the last character
 *    boundary that fits; the rest of that word is dropped.
 *
 * Example: "Hello, World! I'm here." -> hello , world ! i'm here .
 */
#ifndef PARLEY_TOKENIZE_H
#define PARLEY_TOKENIZE_H

#include <stdbool.h>
#include <stddef.h>

/* The ids every vocabulary reserves; the strings are in vocab.h. */
enum token_special {
        TOKEN_PAD = 0,
        TOKEN_START = 1,
        TOKEN_END = 2,
        TOKEN_UNKNOWN = 3,
        TOKEN_SPECIAL_COUNT = 4,
};

/* Longest token in bytes, without the terminating NUL. */
#define TOKEN_MAX_BYTES 64

/* True when the len bytes at s are valid UTF-8 (no overlong forms, no
 * surrogates, nothing past U+10FFFF) without a NUL byte. */
bool text_utf8_valid(const char *s, size_t len);

/* Normalises text as above (case folding only when casefold is true) into a
 * malloc'd string in *ret.  -EILSEQ for invalid UTF-8, -ENOMEM. */
int text_normalize(const char *text, bool casefold, char **ret);

/* Normalises (with case folding) and splits text.  *ret is a NULL-terminated
 * array of malloc'd tokens, free it with tokens_free(); *ret_n the count
 * (0 for empty or all-space text, still with a valid array).  -EILSEQ for
 * invalid UTF-8: the caller decides (the corpus reader reports and skips). */
int tokenize(const char *text, char ***ret, size_t *ret_n);

/* Frees an array from tokenize(); NULL is fine. */
void tokens_free(char **tokens);

/* Joins tokens for display: one space between words; none before closing
 * punctuation (". , ! ? ; : ) ] }" and the like), none after opening
 * punctuation ("( [ { ¿ ¡", currency signs), none on either side of a dash
 * or "/", none between CJK characters or between a CJK character and
 * anything else.  A straight quote (" or ') that is not inside a word opens
 * and closes alternately.  Result malloc'd in *ret ("" for n == 0). */
int tokens_join(const char *const *tokens, size_t n, char **ret);

#endif
