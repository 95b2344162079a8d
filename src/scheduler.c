/* scheduler.c: the reminder timer and the firing of due reminders. */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "remind.h"
#include "router.h"
#include "scheduler.h"
#include "stats.h"

struct scheduler {
        uv_loop_t *loop;
        struct workq *store_q;
        struct store *store;
        scheduler_deliver_fn deliver;
        void *userdata;

        uv_timer_t timer;
        bool job_running;               /* a lookup or a firing is on the store thread */
        bool again;                     /* look again when it finishes */
        bool closing;
        void (*closed)(void *userdata);
        void *closed_userdata;
};

/* One trip to the store thread: fire what is due, then find the next. */
struct scheduler_job {
        struct scheduler *scheduler;
        int64_t now_ms;
        struct store_outbox_row *fired;
        size_t n_fired;
        int64_t next_due_ms;            /* 0: nothing pending */
        int64_t pending;                /* reminders pending after this round */
        unsigned fired_late;
        int r;
        char error[STORE_ERROR_MAX];
};

static int64_t wall_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The message a reminder sends, in the language of its text. */
static int scheduler_message(const struct store_reminder_row *r, bool late, char **ret)
{
        bool zh = router_text_is_chinese(r->text);
        char due[REMIND_TIME_TEXT_MAX];

        if (!late)
                return asprintf(ret, zh ? "⏰ 提醒：%s" : "⏰ Reminder: %s", r->text) < 0 ?
                               -ENOMEM : 0;

        if (remind_format_time(r->due_at_ms, r->time_zone, zh, due, sizeof(due)) < 0)
                snprintf(due, sizeof(due), "?");
        return asprintf(ret, zh ? "⏰ 提醒（迟到了，原定 %s）：%s" :
                                  "⏰ Reminder (late: it was due %s): %s",
                        due, r->text) < 0 ? -ENOMEM : 0;
}

/* Fires one due reminder; appends its outbox row to the job. */
static int scheduler_fire_one(struct scheduler_job *j, const struct store_reminder_row *r)
{
        struct store *store = j->scheduler->store;
        bool late = j->now_ms - r->due_at_ms > SCHEDULER_LATE_MS;
        int64_t next_ms = 0, outbox_id;
        struct store_outbox_row *grown;
        char *text;
        int k;

        /* A recurring reminder that missed occurrences while the daemon was
         * down fires once, then continues from now. */
        if (r->rule) {
                int64_t after = j->now_ms > r->due_at_ms ? j->now_ms : r->due_at_ms;

                k = remind_next(r->rule, r->time_zone, after, &next_ms);
                if (k < 0) {
                        log_warning("reminder %" PRId64 " has a rule this build cannot follow "
                                    "('%s'); firing it once", r->id, r->rule);
                        next_ms = 0;
                }
        }

        k = scheduler_message(r, late, &text);
        if (k < 0)
                return k;

        k = store_reminder_fire(store, r->id, j->now_ms, late, next_ms, text, &outbox_id);
        free(text);
        if (k == -EALREADY)
                return 0;
        if (k < 0)
                return k;
        j->fired_late += late;

        grown = realloc(j->fired, (j->n_fired + 1) * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        j->fired = grown;

        k = store_outbox_get(store, outbox_id, &j->fired[j->n_fired]);
        if (k < 0)
                return k;
        j->n_fired++;
        return 0;
}

static void scheduler_work(void *data)
{
        struct scheduler_job *j = data;
        struct store_reminder_row *due = NULL;
        size_t n = 0;

        /* A failed group commit runs this again: start from nothing. */
        for (size_t i = 0; i < j->n_fired; i++)
                store_outbox_row_clear(&j->fired[i]);
        j->n_fired = 0;
        j->next_due_ms = 0;
        j->fired_late = 0;

        j->r = store_reminder_list_due(j->scheduler->store, j->now_ms, &due, &n);
        for (size_t i = 0; j->r >= 0 && i < n; i++) {
                int k = scheduler_fire_one(j, &due[i]);

                /* A reminder the store refuses to fire would come first
                 * again every minute and hold up the others: it is
                 * cancelled.  Other errors are the store's and end the round. */
                if (k == -EINVAL || k == -E2BIG) {
                        log_warning("reminder %" PRId64 " cannot be sent (%s); cancelling it",
                                    due[i].id, strerror(-k));
                        store_reminder_cancel(j->scheduler->store, due[i].adapter,
                                              due[i].account, due[i].user_id, due[i].id);
                } else if (k < 0)
                        j->r = k;
        }
        store_reminder_rows_free(due, n);
        if (j->r < 0) {
                snprintf(j->error, sizeof(j->error), "%s", store_error(j->scheduler->store));
                return;
        }

        j->r = store_reminder_next_due(j->scheduler->store, &j->next_due_ms);
        if (j->r == -ENOENT) {
                j->next_due_ms = 0;
                j->r = 0;
        }
        if (j->r >= 0)
                j->r = store_reminder_count_pending(j->scheduler->store, &j->pending);
        if (j->r < 0)
                snprintf(j->error, sizeof(j->error), "%s", store_error(j->scheduler->store));
}

static void scheduler_on_timer(uv_timer_t *t);

static void scheduler_done(void *data)
{
        struct scheduler_job *j = data;
        struct scheduler *s = j->scheduler;

        s->job_running = false;
        if (j->r >= 0) {
                stats_set(STATS_REMINDERS_PENDING, NULL, (double)j->pending);
                stats_add(STATS_REMINDERS_FIRED, "no", (double)(j->n_fired - j->fired_late));
                stats_add(STATS_REMINDERS_FIRED, "yes", j->fired_late);
        }

        /* Fired reminders are committed; delivering them can wait for a
         * restart, but not be dropped while running. */
        for (size_t i = 0; i < j->n_fired; i++) {
                if (!s->closing)
                        s->deliver(s->userdata, &j->fired[i]);
                store_outbox_row_clear(&j->fired[i]);
        }
        free(j->fired);

        if (j->r < 0) {
                log_error("reminders: %s; looking again in %d s", j->error,
                          SCHEDULER_MAX_SLEEP_MS / 1000);
                j->next_due_ms = wall_now_ms() + SCHEDULER_MAX_SLEEP_MS;
        }

        if (!s->closing) {
                if (s->again) {
                        s->again = false;
                        scheduler_rearm(s);
                } else if (j->next_due_ms > 0) {
                        int64_t wait_ms = j->next_due_ms - wall_now_ms();

                        if (wait_ms < 0)
                                wait_ms = 0;
                        if (wait_ms > SCHEDULER_MAX_SLEEP_MS)
                                wait_ms = SCHEDULER_MAX_SLEEP_MS;
                        uv_timer_start(&s->timer, scheduler_on_timer, (uint64_t)wait_ms, 0);
                }
        }

        free(j);
}

void scheduler_rearm(struct scheduler *s)
{
        struct scheduler_job *j;
        int r;

        if (s->closing)
                return;
        if (s->job_running) {
                s->again = true;
                return;
        }

        j = calloc(1, sizeof(*j));
        if (!j) {
                log_error("reminders: out of memory; looking again in %d s",
                          SCHEDULER_MAX_SLEEP_MS / 1000);
                uv_timer_start(&s->timer, scheduler_on_timer, SCHEDULER_MAX_SLEEP_MS, 0);
                return;
        }
        j->scheduler = s;
        j->now_ms = wall_now_ms();

        uv_timer_stop(&s->timer);
        r = workq_submit(s->store_q, scheduler_work, scheduler_done, j);
        if (r < 0) {
                free(j);
                log_warning("reminders: the store is busy (%s); looking again in 1 s",
                            strerror(-r));
                uv_timer_start(&s->timer, scheduler_on_timer, 1000, 0);
                return;
        }
        s->job_running = true;
}

static void scheduler_on_timer(uv_timer_t *t)
{
        scheduler_rearm(t->data);
}

int scheduler_new(uv_loop_t *loop, struct workq *store_q, struct store *store,
                  scheduler_deliver_fn deliver, void *userdata, struct scheduler **ret)
{
        struct scheduler *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;

        *s = (struct scheduler){
                .loop = loop, .store_q = store_q, .store = store,
                .deliver = deliver, .userdata = userdata,
        };
        uv_timer_init(loop, &s->timer);
        s->timer.data = s;

        *ret = s;
        return 0;
}

static void scheduler_on_closed(uv_handle_t *h)
{
        struct scheduler *s = h->data;

        if (s->closed)
                s->closed(s->closed_userdata);
}

void scheduler_close(struct scheduler *s, void (*closed)(void *userdata), void *userdata)
{
        s->closing = true;
        s->closed = closed;
        s->closed_userdata = userdata;
        uv_timer_stop(&s->timer);
        uv_close((uv_handle_t *)&s->timer, scheduler_on_closed);
}

void scheduler_free(struct scheduler *s)
{
        free(s);
}
