/* scheduler.h: fires reminders on time.
 *
 * One timer is armed for the earliest pending reminder.  Firing one is a
 * single store transaction (queue the message in the outbox, mark the
 * reminder fired or move a recurring one to its next occurrence), so a
 * crash neither loses nor repeats a reminder.  Reminders that fell due
 * while the daemon was down fire at start-up, marked late. */
#ifndef PARLEY_SCHEDULER_H
#define PARLEY_SCHEDULER_H

#include <uv.h>

#include "store.h"
#include "workq.h"

/* A reminder that fires more than this after its due time says it is late. */
#define SCHEDULER_LATE_MS 30000
/* The timer never sleeps longer than this, so a change of the wall clock
 * delays a reminder by at most this much. */
#define SCHEDULER_MAX_SLEEP_MS 60000

struct scheduler;

/* Receives a queued reminder message; takes the row's contents. */
typedef void (*scheduler_deliver_fn)(void *userdata, struct store_outbox_row *row);

int scheduler_new(uv_loop_t *loop, struct workq *store_q, struct store *store,
                  scheduler_deliver_fn deliver, void *userdata, struct scheduler **ret);

/* Looks for the earliest pending reminder again (after one was added,
 * cancelled or snoozed) and fires what is due. */
void scheduler_rearm(struct scheduler *s);

/* Stops the timer; closed(userdata) runs once its handle is closed.  Store
 * jobs in flight still finish; their results are dropped. */
void scheduler_close(struct scheduler *s, void (*closed)(void *userdata), void *userdata);

void scheduler_free(struct scheduler *s);

#endif
