/* random.h: a small deterministic pseudo-random generator for the model.
 *
 * Training must give bit-identical results for the same seed on every
 * machine, so parley does not use rand() (whose sequence is the C
 * library's choice).  The generator is splitmix64: a 64-bit state advanced
 * by a constant and mixed; random_hash() is the same mixer applied to a
 * (seed, counter) pair, for streams that must not depend on the order in
 * which numbers are drawn (dropout masks). */
#ifndef PARLEY_RANDOM_H
#define PARLEY_RANDOM_H

#include <stdint.h>

struct random {
        uint64_t state;
};

void random_init(struct random *r, uint64_t seed);
uint64_t random_next(struct random *r);
/* Uniform in [0, 1), 24 random bits. */
float random_uniform(struct random *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t random_below(struct random *r, uint64_t n);
/* Standard normal (Box-Muller). */
float random_normal(struct random *r);
/* Fisher-Yates shuffle of n ints. */
void random_shuffle(struct random *r, int *items, int n);

/* A well-mixed 64-bit value of (seed, counter). */
uint64_t random_hash(uint64_t seed, uint64_t counter);
/* Uniform in [0, 1) from random_hash(seed, counter). */
float random_hash_uniform(uint64_t seed, uint64_t counter);

#endif
