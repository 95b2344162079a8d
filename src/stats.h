/* stats.h: the daemon's counters, gauges and histograms, served on
 * /metrics in Prometheus's text format (version 0.0.4).
 *
 * Every family is declared here, with at most one label; series appear as
 * label values are first used.  Only the loop thread records and renders,
 * so nothing is locked: work done on a worker is recorded by its done()
 * callback. */
#ifndef PARLEY_STATS_H
#define PARLEY_STATS_H

#include <stddef.h>

/* Label values per family before new ones are folded into "other". */
#define STATS_SERIES_MAX 64

enum stats_family {
        STATS_MESSAGES_RECEIVED,        /* counter {adapter} */
        STATS_MESSAGES_SENT,            /* counter {adapter} */
        STATS_REPLIES,                  /* counter {source}: model, command, rule, reminder */
        STATS_UNANSWERED,               /* counter {reason}: not addressed, quiet hours, limit */
        STATS_REPLY_SECONDS,            /* histogram: message stored to reply queued */
        STATS_DECODE_SECONDS,           /* histogram: one decode batch */
        STATS_REMINDERS_FIRED,          /* counter {late}: "no", "yes" */
        STATS_REMINDERS_PENDING,        /* gauge */
        STATS_OUTBOX_PENDING,           /* gauge: replies queued, not yet sent */
        STATS_ADAPTER_UP,               /* gauge {adapter}: 1 connected, 0 not */
        STATS_ADAPTER_RECONNECTS,       /* counter {adapter} */
        STATS_SEND_WAITS,               /* counter {adapter}: sends held back, limit or retry */
        STATS_ERRORS,                   /* counter {kind} */
        _STATS_FAMILY_MAX,
};

/* label may be NULL for families without one. */
void stats_add(enum stats_family f, const char *label, double value);
void stats_set(enum stats_family f, const char *label, double value);
void stats_observe(enum stats_family f, double value);

/* The exposition text, malloc'd. */
int stats_render(char **ret, size_t *ret_len);

/* Forgets every series (for tests). */
void stats_reset(void);

#endif
