/* test-ratelimit: the token bucket's waits, bursts and debt, and the keyed
 * set's bound on how many buckets it keeps. */
#include "autoconfig.h"

#include "ratelimit.h"
#include "test.h"

/* Sends as fast as the bucket allows for duration_ms; how many went. */
static unsigned simulate(struct ratelimit *r, uint64_t duration_ms)
{
        unsigned sent = 0;

        for (uint64_t now = 0; now < duration_ms;) {
                uint64_t wait = ratelimit_delay_ms(r, now);

                if (wait) {
                        now += wait;
                        continue;
                }
                ratelimit_take(r, now, 1);
                sent++;
        }
        return sent;
}

static void test_bucket(void)
{
        struct ratelimit r;

        /* Telegram's overall limit: 30 a second, bursts of 3. */
        ratelimit_init(&r, 30, 1000, 3);
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 0), 0);
        ratelimit_take(&r, 0, 1);
        ratelimit_take(&r, 0, 1);
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 0), 0);
        ratelimit_take(&r, 0, 1);
        /* The fourth waits one interval (33.3 ms), rounded up. */
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 0), 34);
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 20), 14);
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 34), 0);

        /* Over ten seconds: the rate plus the first burst, no more. */
        ratelimit_init(&r, 30, 1000, 3);
        CHECK_INT_EQ(simulate(&r, 10000), 302);

        /* A group: 20 a minute, no burst, so one every 3 s. */
        ratelimit_init(&r, 20, 60000, 1);
        ratelimit_take(&r, 1000, 1);
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 1000), 3000);
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 2500), 1500);
        ratelimit_init(&r, 20, 60000, 1);
        CHECK_INT_EQ(simulate(&r, 60000), 20);

        /* Debt: five parts at once at 1/s leave a five-second wait. */
        ratelimit_init(&r, 1, 1000, 1);
        ratelimit_take(&r, 100, 5);
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 100), 5000);
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 5100), 0);

        /* An idle bucket refills to its burst, not beyond. */
        ratelimit_init(&r, 10, 1000, 2);
        ratelimit_take(&r, 0, 1);
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 100000), 0);
        ratelimit_take(&r, 100000, 2);
        CHECK_INT_EQ(ratelimit_delay_ms(&r, 100000), 100);
}

static void test_set(void)
{
        struct ratelimit_set *s;

        CHECK_INT_EQ(ratelimit_set_new(1, 1000, 1, 2, &s), 0);
        CHECK_INT_EQ(ratelimit_set_delay_ms(s, "-100", 0), 0);
        CHECK_INT_EQ(ratelimit_set_size(s), 0);

        CHECK_INT_EQ(ratelimit_set_take(s, "-100", 0, 1), 0);
        CHECK_INT_EQ(ratelimit_set_take(s, "-200", 0, 1), 0);
        CHECK_INT_EQ(ratelimit_set_delay_ms(s, "-100", 0), 1000);
        CHECK_INT_EQ(ratelimit_set_delay_ms(s, "-200", 400), 600);
        CHECK_INT_EQ(ratelimit_set_delay_ms(s, "-300", 400), 0);
        CHECK_INT_EQ(ratelimit_set_size(s), 2);

        /* Full and nothing refilled: the closest to refilled goes. */
        CHECK_INT_EQ(ratelimit_set_take(s, "-200", 500, 1), 0);
        CHECK_INT_EQ(ratelimit_set_take(s, "-300", 500, 1), 0);
        CHECK_INT_EQ(ratelimit_set_size(s), 2);
        CHECK_INT_EQ(ratelimit_set_delay_ms(s, "-100", 500), 0);
        CHECK_INT_EQ(ratelimit_set_delay_ms(s, "-200", 500), 1500);
        CHECK_INT_EQ(ratelimit_set_delay_ms(s, "-300", 500), 1000);

        /* Full with refilled buckets: all of those go. */
        CHECK_INT_EQ(ratelimit_set_take(s, "-400", 10000, 1), 0);
        CHECK_INT_EQ(ratelimit_set_size(s), 1);
        CHECK_INT_EQ(ratelimit_set_delay_ms(s, "-400", 10000), 1000);

        ratelimit_set_free(s);
        ratelimit_set_free(NULL);

        /* Many keys stay within keys_max. */
        CHECK_INT_EQ(ratelimit_set_new(20, 60000, 1, 100, &s), 0);
        for (int i = 0; i < 1000; i++) {
                char key[16];

                snprintf(key, sizeof(key), "-%d", i);
                CHECK_INT_EQ(ratelimit_set_take(s, key, (uint64_t)i, 1), 0);
                CHECK(ratelimit_set_size(s) <= 100);
        }
        CHECK_INT_EQ(ratelimit_set_delay_ms(s, "-999", 999), 3000);
        ratelimit_set_free(s);
}

int main(void)
{
        test_bucket();
        test_set();
        return test_finish();
}
