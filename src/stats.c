/* stats.c: a fixed set of metric families and their text exposition. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "stats.h"

#define STATS_LABEL_MAX 64
#define STATS_BUCKETS_MAX 16

enum stats_type {
        STATS_COUNTER,
        STATS_GAUGE,
        STATS_HISTOGRAM,
};

struct stats_series {
        char label[STATS_LABEL_MAX];
        double value;                           /* counter, gauge */
        unsigned long buckets[STATS_BUCKETS_MAX]; /* histogram, not cumulative */
        unsigned long count;
        double sum;
};

struct stats_family_info {
        const char *name;
        const char *help;
        enum stats_type type;
        const char *label_name;                 /* NULL: one series, no label */
        const double *bounds;                   /* histogram bucket upper bounds */
        size_t n_bounds;
};

/* Seconds: a reply is expected in milliseconds, a slow one in seconds. */
static const double latency_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10 };

static const struct stats_family_info families[_STATS_FAMILY_MAX] = {
        [STATS_MESSAGES_RECEIVED] = { "parley_messages_received_total",
                                      "Messages stored from each adapter.", STATS_COUNTER,
                                      "adapter" },
        [STATS_MESSAGES_SENT] = { "parley_messages_sent_total",
                                  "Replies an adapter delivered.", STATS_COUNTER, "adapter" },
        [STATS_REPLIES] = { "parley_replies_total", "Replies queued, by who wrote them.",
                            STATS_COUNTER, "source" },
        [STATS_UNANSWERED] = { "parley_unanswered_total",
                               "Messages stored but not answered, by reason.", STATS_COUNTER,
                               "reason" },
        [STATS_REPLY_SECONDS] = { "parley_reply_latency_seconds",
                                  "From a message stored to its reply queued.",
                                  STATS_HISTOGRAM, NULL, latency_bounds,
                                  ELEMENTSOF(latency_bounds) },
        [STATS_DECODE_SECONDS] = { "parley_decode_seconds", "Time to decode one batch.",
                                   STATS_HISTOGRAM, NULL, latency_bounds,
                                   ELEMENTSOF(latency_bounds) },
        [STATS_REMINDERS_FIRED] = { "parley_reminders_fired_total", "Reminders sent.",
                                    STATS_COUNTER, "late" },
        [STATS_REMINDERS_PENDING] = { "parley_reminders_pending",
                                      "Reminders waiting for their time.", STATS_GAUGE },
        [STATS_OUTBOX_PENDING] = { "parley_outbox_pending", "Replies queued and not sent.",
                                   STATS_GAUGE },
        [STATS_ADAPTER_UP] = { "parley_adapter_connected",
                               "1 while an adapter is connected to its platform.", STATS_GAUGE,
                               "adapter" },
        [STATS_ADAPTER_RECONNECTS] = { "parley_adapter_reconnects_total",
                                       "Connections an adapter lost and made again.",
                                       STATS_COUNTER, "adapter" },
        [STATS_SEND_WAITS] = { "parley_send_waits_total",
                               "Sends held back by a rate limit or a retry wait.",
                               STATS_COUNTER, "adapter" },
        [STATS_ERRORS] = { "parley_errors_total", "Errors, by kind.", STATS_COUNTER, "kind" },
};

static struct {
        struct stats_series series[STATS_SERIES_MAX];
        size_t n;
} table[_STATS_FAMILY_MAX];

static struct stats_series *stats_series_find(enum stats_family f, const char *label)
{
        for (size_t i = 0; i < table[f].n; i++)
                if (strcmp(table[f].series[i].label, label) == 0)
                        return &table[f].series[i];
        return NULL;
}

static struct stats_series *stats_series_get(enum stats_family f, const char *label)
{
        const char *l = families[f].label_name ? (label ? label : "") : "";
        struct stats_series *s = stats_series_find(f, l);

        if (s)
                return s;

        /* A family's labels are a small known set (adapters, sources); past
         * the limit new values share the last series, "other", rather than
         * grow memory. */
        if (table[f].n >= STATS_SERIES_MAX - 1) {
                l = "other";
                s = stats_series_find(f, l);
                if (s)
                        return s;
        }

        s = &table[f].series[table[f].n++];
        snprintf(s->label, STATS_LABEL_MAX, "%s", l);
        return s;
}

void stats_add(enum stats_family f, const char *label, double value)
{
        stats_series_get(f, label)->value += value;
}

void stats_set(enum stats_family f, const char *label, double value)
{
        stats_series_get(f, label)->value = value;
}

void stats_observe(enum stats_family f, double value)
{
        struct stats_series *s = stats_series_get(f, NULL);
        const struct stats_family_info *info = &families[f];
        size_t b = 0;

        while (b < info->n_bounds && value > info->bounds[b])
                b++;
        if (b < info->n_bounds)
                s->buckets[b]++;
        s->count++;
        s->sum += value;
}

void stats_reset(void)
{
        memset(table, 0, sizeof(table));
}

/* A label value with \, " and newline escaped, as the format requires. */
static void stats_label_write(FILE *f, const char *value)
{
        for (const char *p = value; *p; p++) {
                if (*p == '\\' || *p == '"')
                        fputc('\\', f);
                if (*p == '\n') {
                        fputs("\\n", f);
                        continue;
                }
                fputc(*p, f);
        }
}

static void stats_histogram_write(FILE *f, const struct stats_family_info *info,
                                  const struct stats_series *s)
{
        unsigned long cumulative = 0;

        for (size_t b = 0; b < info->n_bounds; b++) {
                cumulative += s->buckets[b];
                fprintf(f, "%s_bucket{le=\"%g\"} %lu\n", info->name, info->bounds[b], cumulative);
        }
        fprintf(f, "%s_bucket{le=\"+Inf\"} %lu\n", info->name, s->count);
        fprintf(f, "%s_sum %.9g\n", info->name, s->sum);
        fprintf(f, "%s_count %lu\n", info->name, s->count);
}

int stats_render(char **ret, size_t *ret_len)
{
        static const char *const type_names[] = { "counter", "gauge", "histogram" };
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return -ENOMEM;

        for (int i = 0; i < _STATS_FAMILY_MAX; i++) {
                const struct stats_family_info *info = &families[i];
                const struct stats_series empty = { 0 };

                fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", info->name, info->help, info->name,
                        type_names[info->type]);

                if (info->type == STATS_HISTOGRAM) {
                        stats_histogram_write(f, info, table[i].n ? &table[i].series[0] : &empty);
                        continue;
                }
                /* A family without a label always has its one series. */
                if (!info->label_name && table[i].n == 0)
                        fprintf(f, "%s 0\n", info->name);
                for (size_t k = 0; k < table[i].n; k++) {
                        const struct stats_series *s = &table[i].series[k];

                        if (info->label_name) {
                                fprintf(f, "%s{%s=\"", info->name, info->label_name);
                                stats_label_write(f, s->label);
                                fprintf(f, "\"} %.17g\n", s->value);
                        } else
                                fprintf(f, "%s %.17g\n", info->name, s->value);
                }
        }

        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        *ret_len = len;
        return 0;
}
