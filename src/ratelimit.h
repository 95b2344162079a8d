/* ratelimit.h: token buckets for platform send limits.
 *
 * A bucket allows count sends per period_ms on average, and bursts of up
 * to burst sends at once.  It is kept as the generic cell rate algorithm:
 * one "theoretical arrival time" in microseconds, so a bucket is three
 * integers and never drifts.  Taking more than the bucket holds is
 * allowed (a reply split into parts goes out together); the debt delays
 * the sends after it.  Times are the caller's monotonic milliseconds
 * (uv_now()).
 *
 * A set keeps one bucket per key (Telegram: one per group chat), at most
 * keys_max of them: a full set first drops the buckets that have refilled
 * (they hold nothing a new bucket would not), then the one closest to
 * refilled. */
#ifndef PARLEY_RATELIMIT_H
#define PARLEY_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit {
        uint64_t interval_us;   /* one send per interval on average */
        uint64_t burst_us;      /* how far ahead of now the next send may be booked */
        uint64_t next_us;       /* when the next send would be due at the steady rate */
};

/* count >= 1, period_ms >= 1, burst >= 1. */
void ratelimit_init(struct ratelimit *r, uint64_t count, uint64_t period_ms, uint64_t burst);

/* How long until one more send is allowed; 0: now. */
uint64_t ratelimit_delay_ms(const struct ratelimit *r, uint64_t now_ms);

/* Counts n sends made at now_ms. */
void ratelimit_take(struct ratelimit *r, uint64_t now_ms, unsigned n);

struct ratelimit_set;

int ratelimit_set_new(uint64_t count, uint64_t period_ms, uint64_t burst, size_t keys_max,
                      struct ratelimit_set **ret);
void ratelimit_set_free(struct ratelimit_set *s);

/* As ratelimit_delay_ms() for key's bucket; 0 for a key without one. */
uint64_t ratelimit_set_delay_ms(const struct ratelimit_set *s, const char *key,
                                uint64_t now_ms);

/* As ratelimit_take() for key's bucket, made if needed.  -ENOMEM. */
int ratelimit_set_take(struct ratelimit_set *s, const char *key, uint64_t now_ms, unsigned n);

/* Buckets held. */
size_t ratelimit_set_size(const struct ratelimit_set *s);

#endif
