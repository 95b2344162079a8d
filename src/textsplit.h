/* textsplit.h: cutting a long reply into messages a platform accepts.
 *
 * Each platform caps one message's text and counts it its own way:
 * Telegram 4,096 UTF-16 code units, Slack about 4,000 characters (code
 * points), Matrix 65,536 bytes for the whole event.  A reply longer than
 * the cap goes out as several messages, cut where a reader expects a
 * pause: at a paragraph break, else after a sentence, else at a line
 * break, else between words, and only when none of those falls in the
 * second half of a part, at a character (grapheme cluster) boundary.
 * Never inside a UTF-8 sequence.  Blanks at a cut are dropped from both
 * sides; nothing else is dropped or changed. */
#ifndef PARLEY_TEXTSPLIT_H
#define PARLEY_TEXTSPLIT_H

#include <stddef.h>

/* The smallest cap accepted: one code point in any unit fits. */
#define TEXTSPLIT_UNITS_MIN 4

enum textsplit_unit {
        TEXTSPLIT_BYTES,        /* UTF-8 bytes */
        TEXTSPLIT_CODEPOINTS,   /* Unicode scalar values */
        TEXTSPLIT_UTF16,        /* UTF-16 code units: 2 for a code point above U+FFFF */
};

/* One message's text: len bytes at offset into the original. */
struct textsplit_part {
        size_t offset;
        size_t len;
};

/* The length of text (len bytes) in unit.  -EILSEQ if it is not UTF-8. */
int textsplit_length(const char *text, size_t len, enum textsplit_unit unit, size_t *ret);

/* Splits text (len bytes of UTF-8) into parts of at most max_units each.
 * *ret_parts (freed by the caller) and *ret_n are set on success; a text
 * of only blanks gives no parts.  -EILSEQ for invalid UTF-8 (including an
 * encoded NUL), -EINVAL when max_units < TEXTSPLIT_UNITS_MIN, -ENOMEM. */
int textsplit_split(const char *text, size_t len, size_t max_units, enum textsplit_unit unit,
                    struct textsplit_part **ret_parts, size_t *ret_n);

#endif
