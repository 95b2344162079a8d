/* backoff.h: the one retry schedule every receive loop and retry uses.
 *
 * Exponential from initial_ms, doubling, capped at max_ms, with "equal
 * jitter" (a uniform draw in [delay/2, delay]) so that many clients do not
 * retry in step against a server that just came back. */
#ifndef PARLEY_BACKOFF_H
#define PARLEY_BACKOFF_H

#include <stdint.h>

struct backoff {
        uint64_t initial_ms;
        uint64_t max_ms;
        unsigned attempt;       /* failures since the last success */
        uint64_t rng;           /* xorshift state; seeded by backoff_init */
};

void backoff_init(struct backoff *b, uint64_t initial_ms, uint64_t max_ms);

/* The wait before the next try, counting this failure. */
uint64_t backoff_next_ms(struct backoff *b);

/* A success: the next failure starts from initial_ms again. */
void backoff_reset(struct backoff *b);

#endif
