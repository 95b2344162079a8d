/* strmap.c: open addressing with linear probing; see strmap.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "strmap.h"

#define STRMAP_CAPACITY_MIN 16

struct strmap_slot {
        char *key;              /* NULL: empty */
        uint64_t hash;
        size_t value;
};

struct strmap {
        struct strmap_slot *slots;
        size_t capacity;        /* a power of two */
        size_t size;
};

static uint64_t strmap_hash(const char *key)
{
        return XXH3_64bits(key, strlen(key));
}

int strmap_new(struct strmap **ret)
{
        struct strmap *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;

        m->slots = calloc(STRMAP_CAPACITY_MIN, sizeof(*m->slots));
        if (!m->slots) {
                free(m);
                return -ENOMEM;
        }
        m->capacity = STRMAP_CAPACITY_MIN;

        *ret = m;
        return 0;
}

void strmap_free(struct strmap *m)
{
        if (!m)
                return;

        for (size_t i = 0; i < m->capacity; i++)
                free(m->slots[i].key);
        free(m->slots);
        free(m);
}

size_t strmap_size(const struct strmap *m)
{
        return m->size;
}

/* The slot holding key, or the empty slot where it would go. */
static struct strmap_slot *strmap_find(const struct strmap *m, const char *key, uint64_t hash)
{
        size_t mask = m->capacity - 1;

        for (size_t i = hash & mask;; i = (i + 1) & mask) {
                struct strmap_slot *s = &m->slots[i];

                if (!s->key)
                        return s;
                if (s->hash == hash && strcmp(s->key, key) == 0)
                        return s;
        }
}

static int strmap_grow(struct strmap *m)
{
        struct strmap old = *m;

        if (m->capacity > SIZE_MAX / 2 / sizeof(*m->slots))
                return -ENOMEM;

        m->slots = calloc(m->capacity * 2, sizeof(*m->slots));
        if (!m->slots) {
                *m = old;
                return -ENOMEM;
        }
        m->capacity *= 2;

        for (size_t i = 0; i < old.capacity; i++)
                if (old.slots[i].key)
                        *strmap_find(m, old.slots[i].key, old.slots[i].hash) = old.slots[i];

        free(old.slots);
        return 0;
}

int strmap_add(struct strmap *m, const char *key, size_t value, const char **ret_key,
               size_t **ret_value)
{
        uint64_t hash = strmap_hash(key);
        struct strmap_slot *s = strmap_find(m, key, hash);
        int added = 0;

        if (!s->key) {
                if ((m->size + 1) * 2 > m->capacity) {
                        int r = strmap_grow(m);
                        if (r < 0)
                                return r;

                        s = strmap_find(m, key, hash);
                }

                s->key = strdup(key);
                if (!s->key)
                        return -ENOMEM;

                s->hash = hash;
                s->value = value;
                m->size++;
                added = 1;
        }

        if (ret_key)
                *ret_key = s->key;
        if (ret_value)
                *ret_value = &s->value;
        return added;
}

bool strmap_get(const struct strmap *m, const char *key, size_t *ret_value)
{
        const struct strmap_slot *s = strmap_find(m, key, strmap_hash(key));

        if (!s->key)
                return false;

        if (ret_value)
                *ret_value = s->value;
        return true;
}
