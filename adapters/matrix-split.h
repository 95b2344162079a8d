/* matrix-split.h: a reply cut into Matrix event bodies.
 *
 * An event is at most 65,536 bytes of JSON, so a long reply goes out as
 * several events.  The cuts fall after a paragraph break, else a sentence
 * end, else a blank, in the second half of a part; only a word longer than
 * half a part is cut inside, and then never inside a UTF-8 sequence. */
#ifndef PARLEY_MATRIX_SPLIT_H
#define PARLEY_MATRIX_SPLIT_H

#include <stddef.h>

/* The most JSON-escaped bytes of one part's body: with the rest of the
 * event (msgtype, relations, ids) it stays under the limit. */
#define MATRIX_BODY_MAX_BYTES 60000

/* Splits text into parts whose bodies take at most max_json_bytes (>= 8)
 * as JSON string content, trimmed of the blanks at each cut; blank-only
 * text gives no parts.  *ret_parts: n malloc'ed strings in a malloc'ed
 * array.  -EINVAL for a max_json_bytes below 8, -ENOMEM. */
int matrix_body_split(const char *text, size_t max_json_bytes, char ***ret_parts,
                      size_t *ret_n);

#endif
