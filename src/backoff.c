/* backoff.c: capped exponential backoff with jitter. */
#include "autoconfig.h"

#include <sys/random.h>
#include <time.h>

#include "backoff.h"

void backoff_init(struct backoff *b, uint64_t initial_ms, uint64_t max_ms)
{
        *b = (struct backoff){ .initial_ms = initial_ms ? initial_ms : 1, .max_ms = max_ms };

        if (getrandom(&b->rng, sizeof(b->rng), GRND_NONBLOCK) != sizeof(b->rng))
                b->rng = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
        if (b->rng == 0)
                b->rng = 0x9e3779b97f4a7c15ULL;
}

static uint64_t backoff_random(struct backoff *b)
{
        b->rng ^= b->rng << 13;
        b->rng ^= b->rng >> 7;
        b->rng ^= b->rng << 17;
        return b->rng;
}

uint64_t backoff_next_ms(struct backoff *b)
{
        uint64_t delay = b->initial_ms;

        for (unsigned i = 0; i < b->attempt && delay < b->max_ms; i++)
                delay *= 2;
        if (delay > b->max_ms)
                delay = b->max_ms;

        if (b->attempt < 64)
                b->attempt++;

        return delay / 2 + backoff_random(b) % (delay / 2 + 1);
}

void backoff_reset(struct backoff *b)
{
        b->attempt = 0;
}
