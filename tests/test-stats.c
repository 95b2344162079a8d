/* test-stats: the exposition text, exactly. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "test.h"

/* The lines of text that start with prefix, joined by '|'. */
static char *lines_with(const char *text, const char *prefix)
{
        static char out[4096];
        size_t used = 0, n = strlen(prefix);

        out[0] = '\0';
        for (const char *p = text; *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);

                if (strncmp(p, prefix, n) == 0 && used + len + 2 < sizeof(out)) {
                        if (used)
                                out[used++] = '|';
                        memcpy(out + used, p, len);
                        used += len;
                        out[used] = '\0';
                }
                p += len + (nl ? 1 : 0);
        }
        return out;
}

int main(void)
{
        char *text = NULL, label[32];
        size_t len = 0;

        stats_add(STATS_MESSAGES_RECEIVED, "console", 1);
        stats_add(STATS_MESSAGES_RECEIVED, "console", 2);
        stats_add(STATS_MESSAGES_RECEIVED, "tele\"gram", 1);
        stats_set(STATS_OUTBOX_PENDING, NULL, 7);
        stats_observe(STATS_REPLY_SECONDS, 0.004);
        stats_observe(STATS_REPLY_SECONDS, 0.02);
        stats_observe(STATS_REPLY_SECONDS, 30);

        CHECK_INT_EQ(stats_render(&text, &len), 0);
        CHECK_INT_EQ(strlen(text), len);
        CHECK_STR_EQ(lines_with(text, "parley_messages_received_total"),
                     "parley_messages_received_total{adapter=\"console\"} 3|"
                     "parley_messages_received_total{adapter=\"tele\\\"gram\"} 1");
        CHECK_STR_EQ(lines_with(text, "# TYPE parley_reply_latency_seconds"),
                     "# TYPE parley_reply_latency_seconds histogram");
        CHECK_STR_EQ(lines_with(text, "parley_reply_latency_seconds_bucket{le=\"0.005\"}"),
                     "parley_reply_latency_seconds_bucket{le=\"0.005\"} 1");
        CHECK_STR_EQ(lines_with(text, "parley_reply_latency_seconds_bucket{le=\"0.025\"}"),
                     "parley_reply_latency_seconds_bucket{le=\"0.025\"} 2");
        CHECK_STR_EQ(lines_with(text, "parley_reply_latency_seconds_bucket{le=\"+Inf\"}"),
                     "parley_reply_latency_seconds_bucket{le=\"+Inf\"} 3");
        CHECK_STR_EQ(lines_with(text, "parley_reply_latency_seconds_count"),
                     "parley_reply_latency_seconds_count 3");
        CHECK_STR_EQ(lines_with(text, "parley_reply_latency_seconds_sum"),
                     "parley_reply_latency_seconds_sum 30.024");
        CHECK_STR_EQ(lines_with(text, "parley_outbox_pending "), "parley_outbox_pending 7");
        CHECK_STR_EQ(lines_with(text, "parley_reminders_pending "),
                     "parley_reminders_pending 0");
        /* An empty histogram still has all its lines. */
        CHECK_STR_EQ(lines_with(text, "parley_decode_seconds_count"),
                     "parley_decode_seconds_count 0");
        free(text);

        /* Past the series limit, new label values share "other". */
        stats_reset();
        for (int i = 0; i < STATS_SERIES_MAX + 10; i++) {
                snprintf(label, sizeof(label), "kind%d", i);
                stats_add(STATS_ERRORS, label, 1);
        }
        CHECK_INT_EQ(stats_render(&text, &len), 0);
        CHECK_STR_EQ(lines_with(text, "parley_errors_total{kind=\"other\"}"),
                     "parley_errors_total{kind=\"other\"} 11");
        CHECK(strstr(text, "kind=\"kind62\"") != NULL);
        CHECK(strstr(text, "kind=\"kind63\"") == NULL);
        free(text);

        return test_finish();
}
