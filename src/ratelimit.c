/* ratelimit.c: the generic cell rate algorithm, alone and keyed. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ratelimit.h"

void ratelimit_init(struct ratelimit *r, uint64_t count, uint64_t period_ms, uint64_t burst)
{
        uint64_t interval_us = period_ms * 1000 / (count ? count : 1);

        *r = (struct ratelimit){
                .interval_us = interval_us ? interval_us : 1,
                .burst_us = (burst ? burst - 1 : 0) * (interval_us ? interval_us : 1),
        };
}

uint64_t ratelimit_delay_ms(const struct ratelimit *r, uint64_t now_ms)
{
        uint64_t now_us = now_ms * 1000;

        if (r->next_us <= now_us + r->burst_us)
                return 0;
        /* Rounded up: waking early would only ask again. */
        return (r->next_us - r->burst_us - now_us + 999) / 1000;
}

void ratelimit_take(struct ratelimit *r, uint64_t now_ms, unsigned n)
{
        uint64_t now_us = now_ms * 1000;

        if (r->next_us < now_us)
                r->next_us = now_us;
        r->next_us += (uint64_t)n * r->interval_us;
}

/* ---- a bucket per key ---- */

struct bucket {
        char *key;
        struct ratelimit limit;
        struct bucket *next;
};

struct ratelimit_set {
        struct ratelimit prototype;
        size_t keys_max;
        size_t size;
        size_t n_slots;                 /* a power of two */
        struct bucket **slots;
};

int ratelimit_set_new(uint64_t count, uint64_t period_ms, uint64_t burst, size_t keys_max,
                      struct ratelimit_set **ret)
{
        struct ratelimit_set *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;

        ratelimit_init(&s->prototype, count, period_ms, burst);
        s->keys_max = keys_max ? keys_max : 1;
        s->n_slots = 16;
        while (s->n_slots < s->keys_max)
                s->n_slots *= 2;
        s->slots = calloc(s->n_slots, sizeof(*s->slots));
        if (!s->slots) {
                free(s);
                return -ENOMEM;
        }

        *ret = s;
        return 0;
}

void ratelimit_set_free(struct ratelimit_set *s)
{
        if (!s)
                return;

        for (size_t i = 0; i < s->n_slots; i++)
                while (s->slots[i]) {
                        struct bucket *b = s->slots[i];

                        s->slots[i] = b->next;
                        free(b->key);
                        free(b);
                }
        free(s->slots);
        free(s);
}

size_t ratelimit_set_size(const struct ratelimit_set *s)
{
        return s->size;
}

static struct bucket **ratelimit_set_slot(const struct ratelimit_set *s, const char *key)
{
        return &s->slots[XXH3_64bits(key, strlen(key)) & (s->n_slots - 1)];
}

static struct bucket *ratelimit_set_find(const struct ratelimit_set *s, const char *key)
{
        for (struct bucket *b = *ratelimit_set_slot(s, key); b; b = b->next)
                if (strcmp(b->key, key) == 0)
                        return b;
        return NULL;
}

uint64_t ratelimit_set_delay_ms(const struct ratelimit_set *s, const char *key,
                                uint64_t now_ms)
{
        const struct bucket *b = ratelimit_set_find(s, key);

        return b ? ratelimit_delay_ms(&b->limit, now_ms) : 0;
}

/* Drops every bucket that has refilled; if none had, the one closest to
 * refilled. */
static void ratelimit_set_prune(struct ratelimit_set *s, uint64_t now_ms)
{
        struct bucket **oldest = NULL;
        uint64_t now_us = now_ms * 1000;
        bool dropped = false;

        for (size_t i = 0; i < s->n_slots; i++) {
                struct bucket **p = &s->slots[i];

                while (*p) {
                        struct bucket *b = *p;

                        if (b->limit.next_us <= now_us) {
                                *p = b->next;
                                free(b->key);
                                free(b);
                                s->size--;
                                dropped = true;
                                continue;
                        }
                        if (!oldest || b->limit.next_us < (*oldest)->limit.next_us)
                                oldest = p;
                        p = &b->next;
                }
        }

        if (!dropped && oldest) {
                struct bucket *b = *oldest;

                *oldest = b->next;
                free(b->key);
                free(b);
                s->size--;
        }
}

int ratelimit_set_take(struct ratelimit_set *s, const char *key, uint64_t now_ms, unsigned n)
{
        struct bucket *b = ratelimit_set_find(s, key), **slot;

        if (!b) {
                if (s->size >= s->keys_max)
                        ratelimit_set_prune(s, now_ms);

                b = calloc(1, sizeof(*b));
                if (!b)
                        return -ENOMEM;
                b->key = strdup(key);
                if (!b->key) {
                        free(b);
                        return -ENOMEM;
                }
                b->limit = s->prototype;
                slot = ratelimit_set_slot(s, key);
                b->next = *slot;
                *slot = b;
                s->size++;
        }

        ratelimit_take(&b->limit, now_ms, n);
        return 0;
}
