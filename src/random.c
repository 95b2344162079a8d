/* random.c: splitmix64 (Steele, Lea, Flood 2014; Vigna's constants). */
#include "autoconfig.h"

#include <math.h>

#include "random.h"

#define GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15)

static uint64_t mix64(uint64_t z)
{
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

void random_init(struct random *r, uint64_t seed)
{
        r->state = seed;
}

uint64_t random_next(struct random *r)
{
        r->state += GOLDEN_GAMMA;
        return mix64(r->state);
}

float random_uniform(struct random *r)
{
        return (float)(random_next(r) >> 40) * (1.0f / 16777216.0f);
}

uint64_t random_below(struct random *r, uint64_t n)
{
        /* Reject the top partial copy of [0, n) so every value is equally
         * likely. */
        uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        uint64_t x;

        do
                x = random_next(r);
        while (x >= limit);

        return x % n;
}

float random_normal(struct random *r)
{
        /* u1 in (0, 1] so the logarithm is finite. */
        double u1 = ((double)(random_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
        double u2 = (double)(random_next(r) >> 11) * (1.0 / 9007199254740992.0);

        return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void random_shuffle(struct random *r, int *items, int n)
{
        for (int i = n - 1; i > 0; i--) {
                int j = (int)random_below(r, (uint64_t)i + 1);
                int t = items[i];

                items[i] = items[j];
                items[j] = t;
        }
}

uint64_t random_hash(uint64_t seed, uint64_t counter)
{
        return mix64(mix64(seed + GOLDEN_GAMMA) + counter * GOLDEN_GAMMA);
}

float random_hash_uniform(uint64_t seed, uint64_t counter)
{
        return (float)(random_hash(seed, counter) >> 40) * (1.0f / 16777216.0f);
}
