/* strmap.h: a hash map from NUL-terminated strings to size_t values.
 *
 * The vocabulary (token -> id, token -> count), corpus preparation
 * (duplicate pairs) and the core (chat id -> its queue) need one.  Keys
 * are copied and owned by the map; the stored copy stays at the same
 * address until the map is freed, so callers may keep pointers to it.
 * Open addressing with linear probing, xxHash3 for the hash, at most half
 * full. */
#ifndef PARLEY_STRMAP_H
#define PARLEY_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap;

int strmap_new(struct strmap **ret);
void strmap_free(struct strmap *m);

size_t strmap_size(const struct strmap *m);

/* Inserts key with value when it is absent and returns 1; returns 0 and
 * leaves the map unchanged when it is present.  Either way *ret_key (may be
 * NULL) points to the map's copy of the key and *ret_value (may be NULL) to
 * the value stored for it, which the caller may change; that pointer is
 * valid until the next strmap_add().  -ENOMEM. */
int strmap_add(struct strmap *m, const char *key, size_t value, const char **ret_key,
               size_t **ret_value);

/* True and *ret_value (may be NULL) filled when key is present. */
bool strmap_get(const struct strmap *m, const char *key, size_t *ret_value);

#endif
