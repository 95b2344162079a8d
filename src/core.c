/* core.c: the path of a message, from an adapter's receive to its reply. */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adapter.h"
#include "backoff.h"
#include "commands.h"
#include "core.h"
#include "httpd.h"
#include "log.h"
#include "macro.h"
#include "policy.h"
#include "remind.h"
#include "responder.h"
#include "router.h"
#include "scheduler.h"
#include "stats.h"
#include "strmap.h"
#include "store.h"
#include "workq.h"

/* Messages and replies in hand at once; adapter_receive() refuses more
 * (-EBUSY), so each fits the worker queues below.  Recovery at start may
 * bring more, up to the queues' limits. */
#define CORE_PENDING_MAX 10000
#define CORE_STORE_QUEUE_MAX (4 * CORE_PENDING_MAX)
#define CORE_DECODE_QUEUE_MAX CORE_PENDING_MAX
#define CORE_STORE_BATCH_MAX 256        /* store jobs committed together */
#define CORE_CONTEXT_SLACK 16           /* history fetched past the context */
#define CORE_SEND_RETRY_INITIAL_MS 1000
#define CORE_SEND_RETRY_MAX_MS (5 * 60 * 1000)
#define CORE_RETRY_AFTER_MAX_MS (60 * 60 * 1000)      /* a platform's requested wait */
#define CORE_SEND_ATTEMPTS_MAX 50       /* then a reply is given up as failed */
#define CORE_ACCOUNT "default"
#define CORE_DAY_MS (24 * 3600 * 1000LL)
#define CORE_READY_TIMEOUT_MS 30000     /* READY=1 even if an adapter is still trying */

const struct config_key core_config_keys[] = {
        { "parleyd", "state_dir", CONFIG_PATH, LOCALSTATEDIR "/lib/parley", false, 0, 0, NULL,
          "directory for the database; created if missing" },
        { "parleyd", "database", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "the SQLite database (default: parley.db in state_dir)" },
        { "parleyd", "log_level", CONFIG_ENUM, "info", false, 0, 0,
          "error|warning|notice|info|debug", "the most detailed messages logged" },
        { "parleyd", "shutdown_timeout_ms", CONFIG_INT, "10000", false, 0, 600000, NULL,
          "how long a stop waits for replies in hand before leaving them for the next start" },
        { "parleyd", "decode_threads", CONFIG_INT, "2", false, 1, 64, NULL,
          "worker threads that run the model" },
        { "model", "path", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "the model file made by 'parley train' (none: only commands answer)" },
        { "model", "method", CONFIG_ENUM, "greedy", false, 0, 0, "greedy|beam|sample",
          "how replies are decoded" },
        { "model", "max_length", CONFIG_INT, "40", false, 1, 1000, NULL,
          "the longest reply, in tokens" },
        { "model", "no_repeat_ngram", CONFIG_INT, "0", false, 0, 16, NULL,
          "never repeat an n-gram of this size in a reply (0: off)" },
        { "model", "beam_width", CONFIG_INT, "5", false, 1, 64, NULL,
          "hypotheses kept by beam search" },
        { "model", "length_penalty", CONFIG_STRING, "0.6", false, 0, 0, NULL,
          "beam search's length penalty alpha, 0 to 10" },
        { "model", "temperature", CONFIG_STRING, "1", false, 0, 0, NULL,
          "sampling temperature, 0 to 100" },
        { "model", "top_k", CONFIG_INT, "0", false, 0, 1 << 22, NULL,
          "sample among the k most likely tokens (0: all)" },
        { "model", "context_messages", CONFIG_INT, "0", false, 0, 20, NULL,
          "earlier messages of the chat put before the question the model sees" },
        { "model", "top_p", CONFIG_STRING, "1", false, 0, 0, NULL,
          "sample among the most likely tokens whose probabilities reach p, in (0, 1]" },
        { "reminders", "time_zone", CONFIG_STRING, NULL, false, 0, 0, NULL,
          "time zone for users who set none, an IANA name (default: the system's)" },
        { "http", "enabled", CONFIG_BOOL, "false", false, 0, 0, NULL,
          "serve /metrics, /healthz and /readyz (and webhooks) over HTTP" },
        { "history", "retention_days", CONFIG_INT, "0", false, 0, 36500, NULL,
          "days messages are kept, pruned daily; 0 keeps them (at least 2 when set)" },
        { NULL },
};

size_t core_config_tables(const struct config_key **tables, size_t max)
{
        size_t n = 0;

        if (n < max)
                tables[n++] = core_config_keys;
        if (n < max)
                tables[n++] = policy_config_keys;
        if (n < max)
                tables[n++] = httpd_config_keys;
        for (const struct adapter_ops *const *ops = adapter_registry; *ops && n < max; ops++)
                tables[n++] = (*ops)->config_keys;
        return n;
}

int core_database_path(const struct config *config, char **ret)
{
        const char *database = config_get_string(config, "parleyd", "database");
        const char *state_dir = config_get_string(config, "parleyd", "state_dir");
        char *path;

        if (database)
                path = strdup(database);
        else if (asprintf(&path, "%s/parley.db", state_dir) < 0)
                path = NULL;
        if (!path)
                return -ENOMEM;

        *ret = path;
        return 0;
}

/* One reply waiting in a chat's queue. */
struct outgoing {
        struct store_outbox_row row;
        struct outgoing *next;
};

/* One chat's messages are answered one at a time, in the order they came,
 * and its replies go out one at a time, in order, spaced by the adapter's
 * interval. */
struct core_message;
struct chat_queue {
        struct adapter *adapter;
        char *chat_id;
        bool answering;                 /* a message of this chat is being answered */
        int64_t replies_minute;         /* the minute replies_in_minute counts */
        int replies_in_minute;          /* rule and model replies in that minute */
        struct core_message *waiting_head, *waiting_tail;
        struct outgoing *head, *tail;
        bool busy;                      /* head is with the adapter or the store */
        uint64_t next_send_ms;          /* uv_now() time the next send may start */
        struct backoff backoff;
        uv_timer_t timer;
        struct chat_queue *next;
        /* in the adapter's sending list while ops->send() holds head */
        struct chat_queue *sending_prev, *sending_next;
        bool sending;
};

struct adapter {
        struct core *core;
        const struct adapter_ops *ops;
        void *state;
        char *cursor;
        enum adapter_state conn;
        bool reported;                  /* connected or failed at least once */
        bool was_connected;             /* a later connection is a reconnect */
        struct chat_queue *chats;
        struct strmap *chat_index;      /* chat id -> its queue (a pointer) */
        struct chat_queue *sending;     /* queues whose head the adapter holds */
        struct log_fields log;
        bool checking;                  /* set up by --check-config only */
};

struct core {
        uv_loop_t *loop;
        struct core_events events;
        struct store *store;
        struct workq *store_q;
        struct workq *decode_q;
        struct responder *responder;    /* the current one; requests hold their own ref */
        bool model_loading;
        struct adapter *adapters;
        size_t n_adapters;

        size_t pending;                 /* messages and replies not finished */
        bool ready_sent;
        bool stopping;
        bool closing;
        uint64_t shutdown_timeout_ms;
        uv_timer_t drain_timer;
        uv_timer_t ready_timer;
        size_t open_timers;

        struct scheduler *scheduler;
        char *time_zone;                /* for users who set none */
        struct policy *policy;
        size_t outbox_queued;           /* replies in chat queues, for the metrics */
        int context_messages;           /* earlier messages the model sees */
        int64_t retention_ms;           /* 0: keep history */
        uv_timer_t retention_timer;
        struct httpd *httpd;            /* NULL unless [http] enabled */
};

/* A message from the inbox on its way to an answer. */
struct core_message {
        struct core *core;
        struct adapter *adapter;
        struct store_inbox_row row;
        struct router_result route;
        struct responder *responder;    /* held while decoding */
        char *prompt;                   /* what the model sees; NULL: row.text */
        /* Settings as they were when answering began: a reload on the loop
         * thread must not change them under a worker. */
        char *time_zone;
        int context_messages;
        char error[STORE_ERROR_MAX];    /* the store's words for a failure */
        uint64_t stored_loop_ms;        /* uv_now() when it was stored or recovered */
        double decode_s;                /* the decode batch's time, on its first message */
        bool run_command;               /* the store job runs route's command first */
        bool reminders_changed;
        int64_t now_ms;
        char *reply;                    /* NULL: the message gets no answer */
        const char *source;
        int64_t outbox_id;
        struct store_outbox_row out;
        int r;
        struct chat_queue *chat;        /* while answering: the chat it holds */
        struct core_message *next_waiting;
};

/* A batch from an adapter on its way into the inbox. */
struct core_accept {
        struct core *core;
        struct adapter *adapter;
        struct store_inbound *events;
        size_t n;
        char *cursor;
        int64_t *ids;
        int r;
        char error[STORE_ERROR_MAX];
        adapter_received_fn done;
        void *userdata;
};

/* A send's outcome on its way into the outbox. */
struct core_delivery {
        struct chat_queue *queue;
        int64_t outbox_id;              /* the queue's head, copied for the store thread */
        char error_text[STORE_ERROR_MAX];
        enum adapter_send_result result;
        char *platform_message_id;
        char *error;
        uint64_t retry_after_ms;
        int r;
};

static void core_message_route(struct core_message *m);
static void core_message_answer(struct core_message *m);
static struct chat_queue *chat_queue_get(struct adapter *a, const char *chat_id);
static void chat_queue_kick(struct chat_queue *q);
static void core_check_drained(struct core *c);

static void core_status(struct core *c, const char *format, ...) _printf_(2, 3);

static void core_status(struct core *c, const char *format, ...)
{
        char text[256];
        va_list ap;

        va_start(ap, format);
        vsnprintf(text, sizeof(text), format, ap);
        va_end(ap);

        if (c->events.status)
                c->events.status(c->events.userdata, text);
}

static int64_t core_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void core_pending_done(struct core *c)
{
        c->pending--;
        core_check_drained(c);
}

/* ---- adapters' view of the core ---- */

uv_loop_t *adapter_loop(struct adapter *a)
{
        return a->core->loop;
}

bool adapter_credentials_unreadable(const struct adapter *a)
{
        return a->checking && !getenv("CREDENTIALS_DIRECTORY");
}

const char *adapter_name(const struct adapter *a)
{
        return a->ops->name;
}

const char *adapter_cursor(const struct adapter *a)
{
        return a->cursor;
}

static void core_ready_send(struct core *c)
{
        size_t connected = 0;

        if (c->ready_sent)
                return;
        c->ready_sent = true;
        uv_timer_stop(&c->ready_timer);

        for (size_t i = 0; i < c->n_adapters; i++)
                connected += c->adapters[i].conn == ADAPTER_CONNECTED;
        core_status(c, "%zu of %zu adapter(s) connected", connected, c->n_adapters);
        if (c->events.ready)
                c->events.ready(c->events.userdata);
}

static void core_check_ready(struct core *c)
{
        for (size_t i = 0; i < c->n_adapters; i++)
                if (!c->adapters[i].reported)
                        return;
        core_ready_send(c);
}

/* An adapter that has said nothing by now is still trying: report ready
 * without it rather than let the service manager's start timeout fire. */
static void core_on_ready_timeout(uv_timer_t *t)
{
        struct core *c = t->data;

        for (size_t i = 0; i < c->n_adapters; i++)
                if (!c->adapters[i].reported)
                        log_record(LOG_WARNING, &c->adapters[i].log, "not connected after %d s; "
                                   "reporting ready without it", CORE_READY_TIMEOUT_MS / 1000);
        core_ready_send(c);
}

void adapter_set_state(struct adapter *a, enum adapter_state state, const char *reason)
{
        struct core *c = a->core;

        a->conn = state;
        stats_set(STATS_ADAPTER_UP, a->ops->name, state == ADAPTER_CONNECTED);
        switch (state) {
        case ADAPTER_STARTING:
                /* With a reason: it tried and is retrying; that counts as
                 * having reported, so one platform that is down does not
                 * hold READY=1 back. */
                if (reason) {
                        log_record(LOG_WARNING, &a->log, "%s", reason);
                        core_status(c, "%s: %s", a->ops->name, reason);
                        a->reported = true;
                }
                break;
        case ADAPTER_CONNECTED:
                log_record(LOG_INFO, &a->log, "connected");
                if (a->was_connected)
                        stats_add(STATS_ADAPTER_RECONNECTS, a->ops->name, 1);
                a->was_connected = true;
                a->reported = true;
                break;
        case ADAPTER_FAILED:
                log_record(LOG_ERR, &a->log, "stopped: %s; the other adapters keep running",
                           reason ? reason : "unknown error");
                a->reported = true;
                core_status(c, "%s failed: %s", a->ops->name, reason ? reason : "unknown error");
                break;
        case ADAPTER_STOPPED:
                a->reported = true;
                core_check_drained(c);
                return;
        }

        core_check_ready(c);
}

int adapter_http_route(struct adapter *a, const char *method, const char *path,
                       const char *const *headers, httpd_handler_fn fn, void *userdata)
{
        if (!a->core->httpd)
                return -ENODEV;
        return httpd_route_add(a->core->httpd, method, path, headers, fn, userdata);
}

void adapter_request_shutdown(struct adapter *a, const char *reason)
{
        core_stop(a->core, reason);
}

/* ---- inbox ---- */

static void inbound_free(struct store_inbound *e)
{
        free((char *)e->event_id);
        free((char *)e->chat_id);
        free((char *)e->user_id);
        free((char *)e->user_name);
        free((char *)e->thread_id);
        free((char *)e->message_id);
        free((char *)e->text);
}

static char *strdup_or_null(const char *s, bool *failed)
{
        char *d;

        if (!s)
                return NULL;
        d = strdup(s);
        if (!d)
                *failed = true;
        return d;
}

static int inbound_copy(const struct adapter_message *m, struct store_inbound *ret)
{
        bool failed = false;
        struct store_inbound e = {
                .event_id = strdup_or_null(m->event_id, &failed),
                .chat_id = strdup_or_null(m->chat_id, &failed),
                .user_id = strdup_or_null(m->user_id, &failed),
                .user_name = strdup_or_null(m->user_name, &failed),
                .thread_id = strdup_or_null(m->thread_id, &failed),
                .message_id = strdup_or_null(m->message_id, &failed),
                .text = strdup_or_null(m->text, &failed),
                .direct = m->direct,
                .addressed = m->addressed,
                .sent_at_ms = m->sent_at_ms,
        };

        if (failed) {
                inbound_free(&e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

static void core_accept_free(struct core_accept *j)
{
        for (size_t i = 0; j->events && i < j->n; i++)
                inbound_free(&j->events[i]);
        free(j->events);
        free(j->ids);
        free(j->cursor);
        free(j);
}

static void core_accept_work(void *data)
{
        struct core_accept *j = data;

        j->r = store_inbox_accept(j->core->store, j->adapter->ops->name, CORE_ACCOUNT,
                                  j->events, j->n, j->cursor, j->ids);
        if (j->r < 0)
                snprintf(j->error, sizeof(j->error), "%s", store_error(j->core->store));
}

/* Moves event i of a committed batch into a message to answer. */
static struct core_message *core_message_from_accept(struct core_accept *j, size_t i)
{
        struct core_message *m = calloc(1, sizeof(*m));
        struct store_inbound *e = &j->events[i];

        if (!m)
                return NULL;

        m->core = j->core;
        m->adapter = j->adapter;
        m->stored_loop_ms = uv_now(j->core->loop);
        m->row = (struct store_inbox_row){
                .id = j->ids[i],
                .event_id = (char *)e->event_id,
                .chat_id = (char *)e->chat_id,
                .user_id = (char *)e->user_id,
                .user_name = (char *)e->user_name,
                .thread_id = (char *)e->thread_id,
                .message_id = (char *)e->message_id,
                .text = (char *)e->text,
                .direct = e->direct,
                .addressed = e->addressed,
                .sent_at_ms = e->sent_at_ms,
        };
        *e = (struct store_inbound){ 0 };
        return m;
}

static void core_accept_done(void *data)
{
        struct core_accept *j = data;
        struct core *c = j->core;

        if (j->r < 0)
                log_record(LOG_ERR, &j->adapter->log, "could not store %zu message(s): %s; "
                           "they are not acknowledged", j->n, j->error);
        else if (j->cursor) {
                free(j->adapter->cursor);
                j->adapter->cursor = TAKE_PTR(j->cursor);
        }
        if (j->r > 0)
                stats_add(STATS_MESSAGES_RECEIVED, j->adapter->ops->name, j->r);
        else if (j->r < 0)
                stats_add(STATS_ERRORS, "store", 1);

        /* Durable now: the adapter may acknowledge. */
        if (j->done)
                j->done(j->userdata, j->r < 0 ? j->r : 0);

        for (size_t i = 0; j->r >= 0 && i < j->n; i++) {
                struct core_message *m;

                if (j->ids[i] == 0) {
                        log_record(LOG_DEBUG, &j->adapter->log, "event %s seen before, ignoring",
                                   j->events[i].event_id);
                        continue;
                }

                m = core_message_from_accept(j, i);
                if (!m) {
                        log_record(LOG_ERR, &j->adapter->log,
                                   "out of memory; inbox row %" PRId64
                                   " is answered at the next start", j->ids[i]);
                        continue;
                }
                c->pending++;
                core_message_route(m);
        }

        core_accept_free(j);
        core_pending_done(c);
}

int adapter_receive(struct adapter *a, const struct adapter_message *msgs, size_t n,
                    const char *cursor, adapter_received_fn done, void *userdata)
{
        struct core *c = a->core;
        struct core_accept *j;
        int r;

        if (c->closing)
                return -ESHUTDOWN;

        /* Everything accepted must fit the worker queues later on. */
        if (c->pending + n > CORE_PENDING_MAX)
                return -EBUSY;

        for (size_t i = 0; i < n; i++)
                if (!msgs[i].event_id || !msgs[i].chat_id || !msgs[i].text)
                        return -EINVAL;

        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        *j = (struct core_accept){
                .core = c, .adapter = a, .n = n, .done = done, .userdata = userdata,
        };

        j->events = calloc(n ? n : 1, sizeof(*j->events));
        j->ids = calloc(n ? n : 1, sizeof(*j->ids));
        j->cursor = cursor ? strdup(cursor) : NULL;
        if (!j->events || !j->ids || (cursor && !j->cursor)) {
                core_accept_free(j);
                return -ENOMEM;
        }

        for (size_t i = 0; i < n; i++) {
                r = inbound_copy(&msgs[i], &j->events[i]);
                if (r < 0) {
                        core_accept_free(j);
                        return r;
                }
        }

        r = workq_submit(c->store_q, core_accept_work, core_accept_done, j);
        if (r < 0) {
                core_accept_free(j);
                return r;
        }

        c->pending++;
        return 0;
}

/* ---- answering ---- */

static void core_message_free(struct core_message *m)
{
        store_inbox_row_clear(&m->row);
        free(m->reply);
        free(m->prompt);
        free(m->time_zone);
        store_outbox_row_clear(&m->out);
        responder_unref(m->responder);
        free(m);
}

/* The message is done with (answered, or left for the next start): the
 * chat's next message may be answered. */
static void core_message_finish(struct core_message *m)
{
        struct core *c = m->core;
        struct chat_queue *q = m->chat;
        struct core_message *next;

        core_message_free(m);
        core_pending_done(c);
        if (!q)
                return;

        q->answering = false;
        next = q->waiting_head;
        if (!next)
                return;

        q->waiting_head = next->next_waiting;
        if (!q->waiting_head)
                q->waiting_tail = NULL;
        next->next_waiting = NULL;
        q->answering = true;
        next->chat = q;
        core_message_answer(next);
}

static struct log_fields core_message_log(const struct core_message *m)
{
        return (struct log_fields){
                .adapter = m->adapter->ops->name,
                .chat = m->row.chat_id,
                .msg = m->row.event_id,
        };
}

static void chat_queue_push(struct adapter *a, struct store_outbox_row *row);

/* Runs the message's command, if any, then marks the message answered and
 * queues the reply: on the store thread. */
static void core_complete_work(void *data)
{
        struct core_message *m = data;
        struct core *c = m->core;
        struct store *s = c->store;
        struct store_reply reply;

        /* A failed group commit runs this again: start from nothing. */
        store_outbox_row_clear(&m->out);
        if (m->run_command) {
                free(m->reply);
                m->reply = NULL;
                m->reminders_changed = false;
        }

        if (m->run_command) {
                struct command_context ctx = {
                        .store = s,
                        .adapter = m->adapter->ops->name,
                        .account = CORE_ACCOUNT,
                        .chat_id = m->row.chat_id,
                        .user_id = m->row.user_id ? m->row.user_id : "",
                        .thread_id = m->row.thread_id,
                        .text = m->row.text,
                        .now_ms = m->now_ms,
                        .default_time_zone = m->time_zone,
                };
                struct command_outcome outcome;

                m->r = command_run(&ctx, &m->route, &outcome);
                if (m->r < 0) {
                        snprintf(m->error, sizeof(m->error), "%s", strerror(-m->r));
                        return;
                }
                m->reply = outcome.reply;
                m->reminders_changed = outcome.reminders_changed;
        }

        reply = (struct store_reply){
                .chat_id = m->row.chat_id,
                .thread_id = m->row.thread_id,
                .reply_to = m->row.message_id,
                .text = m->reply,
                .source = m->source,
        };
        m->r = store_inbox_complete(s, m->row.id, m->reply ? &reply : NULL, &m->outbox_id);
        if (m->r >= 0 && m->reply)
                m->r = store_outbox_get(s, m->outbox_id, &m->out);
        if (m->r < 0)
                snprintf(m->error, sizeof(m->error), "%s", store_error(s));
}

static void core_complete_done(void *data)
{
        struct core_message *m = data;
        struct core *c = m->core;
        struct log_fields f = core_message_log(m);

        if (m->r == -EALREADY)
                log_record(LOG_DEBUG, &f, "already answered, ignoring");
        else if (m->r < 0)
                log_record(LOG_ERR, &f, "could not queue the reply: %s; it is retried at the "
                           "next start", m->error);
        else if (m->reply) {
                log_record(LOG_DEBUG, &f, "reply %" PRId64 " queued (%s)", m->outbox_id,
                           m->source);
                stats_add(STATS_REPLIES, m->source, 1);
                stats_observe(STATS_REPLY_SECONDS,
                              (uv_now(c->loop) - m->stored_loop_ms) / 1000.0);
                chat_queue_push(m->adapter, &m->out);
        }
        if (m->r < 0 && m->r != -EALREADY)
                stats_add(STATS_ERRORS, "store", 1);

        if (m->reminders_changed)
                scheduler_rearm(c->scheduler);
        core_message_finish(m);
}

/* Queues the answer's commit; the message is finished from here on. */
static void core_message_complete(struct core_message *m)
{
        struct core *c = m->core;
        struct log_fields f = core_message_log(m);
        int r;

        r = workq_submit(c->store_q, core_complete_work, core_complete_done, m);
        if (r < 0) {
                log_record(LOG_ERR, &f, "could not queue the reply: %s; it is retried at the "
                           "next start", strerror(-r));
                core_message_finish(m);
        }
}

static void core_respond_work(void *data)
{
        struct core_message *m = data;

        m->r = responder_reply(m->responder, m->prompt ? m->prompt : m->row.text,
                               router_text_is_chinese(m->row.text),
                               &m->reply);
}

/* Several waiting requests decoded as one batch: much cheaper per reply
 * than one at a time.  Requests made before a reload use the old model. */
static void core_respond_many(void *ctx, void **datas, size_t n)
{
        const char *texts[RESPONDER_BATCH_MAX];
        bool chinese[RESPONDER_BATCH_MAX];
        char *replies[RESPONDER_BATCH_MAX];
        int results[RESPONDER_BATCH_MAX];
        size_t start = 0;

        while (start < n) {
                struct core_message *first = datas[start];
                size_t k = 0;

                while (start + k < n && k < RESPONDER_BATCH_MAX &&
                       ((struct core_message *)datas[start + k])->responder == first->responder) {
                        struct core_message *m = datas[start + k];

                        texts[k] = m->prompt ? m->prompt : m->row.text;
                        chinese[k] = router_text_is_chinese(m->row.text);
                        k++;
                }

                struct timespec t0, t1;

                clock_gettime(CLOCK_MONOTONIC, &t0);
                responder_reply_batch(first->responder, texts, chinese, k, replies, results);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                first->decode_s = (double)(t1.tv_sec - t0.tv_sec) +
                                  (t1.tv_nsec - t0.tv_nsec) / 1e9;
                for (size_t i = 0; i < k; i++) {
                        struct core_message *m = datas[start + i];

                        m->reply = replies[i];
                        m->r = results[i];
                }
                start += k;
        }
}

static void core_respond_done(void *data)
{
        struct core_message *m = data;
        struct log_fields f = core_message_log(m);

        if (m->decode_s > 0)
                stats_observe(STATS_DECODE_SECONDS, m->decode_s);
        if (m->r < 0) {
                stats_add(STATS_ERRORS, "model", 1);
                log_record(LOG_ERR, &f, "the responder failed: %s; the message is retried at "
                           "the next start", strerror(-m->r));
                core_message_finish(m);
                return;
        }

        m->source = "model";
        core_message_complete(m);
}

/* The chat's last context_messages messages before this one, joined with
 * it: what the model sees when context is configured.  On the store
 * thread; without history the question alone is used. */
static void core_context_work(void *data)
{
        struct core_message *m = data;
        struct core *c = m->core;
        struct store_history_row *rows = NULL;
        size_t n = 0, before = 0, question, first;
        char *prompt = NULL;
        size_t size = 0;
        FILE *f;

        free(m->prompt);
        m->prompt = NULL;
        /* Later messages of the chat may be stored already: fetch a few
         * more and stop at the question itself. */
        if (store_history_recent(c->store, m->adapter->ops->name, CORE_ACCOUNT, m->row.chat_id,
                                 (size_t)m->context_messages + CORE_CONTEXT_SLACK, &rows,
                                 &n) < 0)
                return;

        question = n;
        for (size_t i = n; i-- > 0;)
                if (!rows[i].outbound && strcmp(rows[i].text, m->row.text) == 0) {
                        question = i;
                        break;
                }
        first = question > (size_t)m->context_messages ? question - m->context_messages : 0;

        f = open_memstream(&prompt, &size);
        if (f) {
                for (size_t i = first; i < question; i++) {
                        fprintf(f, "%s ", rows[i].text);
                        before++;
                }
                fputs(m->row.text, f);
                if (fclose(f) == 0 && before > 0)
                        m->prompt = prompt;
                else
                        free(prompt);
        }
        store_history_rows_free(rows, n);
}

static void core_context_done(void *data)
{
        struct core_message *m = data;
        struct log_fields f = core_message_log(m);
        int r;

        /* Closing: the decode queue may be gone; the row waits for the
         * next start. */
        if (m->core->closing) {
                core_message_finish(m);
                return;
        }

        r = workq_submit(m->core->decode_q, core_respond_work, core_respond_done, m);
        if (r < 0) {
                log_record(LOG_ERR, &f, "could not answer: %s; the message is retried at the "
                           "next start", strerror(-r));
                core_message_finish(m);
        }
}

/* Why a rule or model reply must not be sent now, or NULL: quiet hours
 * (group chats only) and the per-chat limit. */
static const char *core_policy_silences(struct core *c, struct core_message *m)
{
        const char *adapter = m->adapter->ops->name;
        int limit = policy_replies_per_minute(c->policy, adapter, m->row.chat_id), minutes;
        struct chat_queue *q = m->chat;
        int64_t minute = m->now_ms / 60000;

        if (!m->row.direct && remind_local_minutes(m->now_ms, c->time_zone, &minutes) == 0 &&
            policy_quiet(c->policy, adapter, m->row.chat_id, minutes))
                return "quiet hours";

        if (limit > 0 && q) {
                if (q->replies_minute != minute) {
                        q->replies_minute = minute;
                        q->replies_in_minute = 0;
                }
                if (q->replies_in_minute >= limit)
                        return "the chat's replies_per_minute is reached";
                q->replies_in_minute++;
        }
        return NULL;
}

/* Answers m now, or after the messages of its chat that came first. */
static void core_message_route(struct core_message *m)
{
        struct chat_queue *q;

        /* Closing: no new queues; the row is answered at the next start. */
        if (m->core->closing) {
                core_message_finish(m);
                return;
        }

        q = chat_queue_get(m->adapter, m->row.chat_id);
        if (q && q->answering) {
                if (q->waiting_tail)
                        q->waiting_tail->next_waiting = m;
                else
                        q->waiting_head = m;
                q->waiting_tail = m;
                return;
        }

        if (q)
                q->answering = true;
        m->chat = q;
        core_message_answer(m);
}

static void core_message_answer(struct core_message *m)
{
        struct core *c = m->core;
        struct log_fields f = core_message_log(m);
        const char *silenced, *rule;
        int r;

        /* Closing: the inbox row stays undone and is answered at the next
         * start. */
        if (c->closing) {
                core_message_finish(m);
                return;
        }

        m->now_ms = core_now_ms();
        m->context_messages = c->context_messages;
        m->time_zone = strdup(c->time_zone);
        if (!m->time_zone) {
                log_record(LOG_ERR, &f, "out of memory; the message is answered at the next "
                           "start");
                core_message_finish(m);
                return;
        }

        if (!policy_addresses(c->policy, m->adapter->ops->name, m->row.chat_id, m->row.direct,
                              m->row.addressed)) {
                log_record(LOG_DEBUG, &f, "not addressed to the bot, not answering");
                stats_add(STATS_UNANSWERED, "not addressed", 1);
                core_message_complete(m);
                return;
        }

        router_route(m->row.text, &m->route);
        if (m->route.action == ROUTER_COMMAND) {
                log_record(LOG_DEBUG, &f, "command '%s'", router_command_name(m->route.command));
                m->run_command = true;
                m->source = "command";
                core_message_complete(m);
                return;
        }

        silenced = core_policy_silences(c, m);
        if (silenced) {
                log_record(LOG_INFO, &f, "not answering: %s", silenced);
                stats_add(STATS_UNANSWERED, silenced, 1);
                core_message_complete(m);
                return;
        }

        rule = policy_rule_reply(c->policy, m->adapter->ops->name, m->row.chat_id, m->row.text);
        if (rule) {
                m->reply = strdup(rule);
                m->source = "rule";
                if (!m->reply) {
                        core_message_finish(m);
                        return;
                }
                core_message_complete(m);
                return;
        }

        m->responder = responder_ref(c->responder);
        if (c->context_messages > 0 && responder_has_model(m->responder))
                r = workq_submit(c->store_q, core_context_work, core_context_done, m);
        else
                r = workq_submit(c->decode_q, core_respond_work, core_respond_done, m);
        if (r < 0) {
                log_record(LOG_ERR, &f, "could not answer: %s; the message is retried at the "
                           "next start", strerror(-r));
                core_message_finish(m);
        }
}

/* ---- delivery ---- */

/* The queues whose head is with the adapter (between ops->send() and
 * adapter_send_done()), so a report finds its queue among the sends in
 * flight, not among every chat ever seen. */
static void sending_link(struct chat_queue *q)
{
        struct adapter *a = q->adapter;

        q->sending = true;
        q->sending_prev = NULL;
        q->sending_next = a->sending;
        if (a->sending)
                a->sending->sending_prev = q;
        a->sending = q;
}

static void sending_unlink(struct chat_queue *q)
{
        struct adapter *a = q->adapter;

        if (!q->sending)
                return;
        if (q->sending_prev)
                q->sending_prev->sending_next = q->sending_next;
        else
                a->sending = q->sending_next;
        if (q->sending_next)
                q->sending_next->sending_prev = q->sending_prev;
        q->sending = false;
        q->sending_prev = q->sending_next = NULL;
}

/* chat_index keeps each queue's address as its value */
_Static_assert(sizeof(size_t) >= sizeof(uintptr_t),
               "a strmap value (size_t) cannot hold a chat_queue pointer");

static struct chat_queue *chat_queue_get(struct adapter *a, const char *chat_id)
{
        struct chat_queue *q;
        size_t found;

        if (!a->chat_index && strmap_new(&a->chat_index) < 0)
                return NULL;
        if (strmap_get(a->chat_index, chat_id, &found))
                return (struct chat_queue *)(uintptr_t)found;

        q = calloc(1, sizeof(*q));
        if (!q)
                return NULL;
        q->chat_id = strdup(chat_id);
        if (!q->chat_id || strmap_add(a->chat_index, chat_id, (uintptr_t)q, NULL, NULL) < 0) {
                free(q->chat_id);
                free(q);
                return NULL;
        }

        q->adapter = a;
        backoff_init(&q->backoff, CORE_SEND_RETRY_INITIAL_MS, CORE_SEND_RETRY_MAX_MS);
        uv_timer_init(a->core->loop, &q->timer);
        q->timer.data = q;
        a->core->open_timers++;
        q->next = a->chats;
        a->chats = q;
        return q;
}

/* Takes the row's contents; the row is left empty. */
static void chat_queue_push(struct adapter *a, struct store_outbox_row *row)
{
        struct core *c = a->core;
        struct chat_queue *q;
        struct outgoing *o;

        /* Closing: the row stays pending in the outbox for the next start. */
        if (c->closing)
                return;

        q = chat_queue_get(a, row->chat_id);
        o = q ? calloc(1, sizeof(*o)) : NULL;
        if (!o) {
                log_record(LOG_ERR, &a->log, "out of memory; reply %" PRId64
                           " is sent at the next start", row->id);
                return;
        }

        o->row = *row;
        *row = (struct store_outbox_row){ 0 };
        stats_set(STATS_OUTBOX_PENDING, NULL, ++c->outbox_queued);
        if (q->tail)
                q->tail->next = o;
        else
                q->head = o;
        q->tail = o;

        c->pending++;
        chat_queue_kick(q);
}

static void chat_queue_on_timer(uv_timer_t *t)
{
        chat_queue_kick(t->data);
}

static void chat_queue_kick(struct chat_queue *q)
{
        struct adapter *a = q->adapter;
        struct core *c = a->core;
        struct outgoing *o = q->head;
        uint64_t now = uv_now(c->loop);
        struct adapter_outgoing out;
        int r;

        /* A failed adapter cannot send: its replies wait in the outbox for
         * the next start. */
        if (!o || q->busy || c->closing || a->conn == ADAPTER_FAILED)
                return;

        if (now < q->next_send_ms) {
                uv_timer_start(&q->timer, chat_queue_on_timer, q->next_send_ms - now, 0);
                return;
        }

        if (a->ops->send_delay_ms) {
                uint64_t delay_ms = a->ops->send_delay_ms(a->state, q->chat_id);

                if (delay_ms > 0) {
                        stats_add(STATS_SEND_WAITS, a->ops->name, 1);
                        uv_timer_start(&q->timer, chat_queue_on_timer, delay_ms, 0);
                        return;
                }
        }

        out = (struct adapter_outgoing){
                .id = o->row.id,
                .chat_id = o->row.chat_id,
                .thread_id = o->row.thread_id,
                .reply_to = o->row.reply_to,
                .text = o->row.text,
                .idempotency_key = o->row.idempotency_key,
                .attempts = o->row.attempts,
        };

        q->busy = true;
        sending_link(q);
        r = a->ops->send(a->state, &out);
        if (r < 0)
                adapter_send_done(a, o->row.id, ADAPTER_SEND_RETRY, NULL, 0, strerror(-r));
}

static void core_delivery_work(void *data)
{
        struct core_delivery *d = data;
        struct store *s = d->queue->adapter->core->store;

        if (d->result == ADAPTER_SEND_OK)
                d->r = store_outbox_mark_sent(s, d->outbox_id, d->platform_message_id);
        else
                d->r = store_outbox_mark_attempt(s, d->outbox_id, d->error,
                                                 d->result == ADAPTER_SEND_REJECTED);
        if (d->r < 0)
                snprintf(d->error_text, sizeof(d->error_text), "%s", store_error(s));
}

static void chat_queue_pop(struct chat_queue *q)
{
        struct outgoing *o = q->head;
        struct core *c = q->adapter->core;

        stats_set(STATS_OUTBOX_PENDING, NULL, --c->outbox_queued);
        q->head = o->next;
        if (!q->head)
                q->tail = NULL;
        store_outbox_row_clear(&o->row);
        free(o);
}

static void core_delivery_done(void *data)
{
        struct core_delivery *d = data;
        struct chat_queue *q = d->queue;
        struct adapter *a = q->adapter;
        struct core *c = a->core;
        struct outgoing *o = q->head;
        struct log_fields f = { .adapter = a->ops->name, .chat = q->chat_id };
        uint64_t now = uv_now(c->loop), wait_ms;

        if (d->r < 0)
                log_record(LOG_ERR, &f, "could not record the delivery of reply %" PRId64
                           ": %s", o->row.id, d->error_text);

        switch (d->result) {
        case ADAPTER_SEND_OK:
                stats_add(STATS_MESSAGES_SENT, a->ops->name, 1);
                backoff_reset(&q->backoff);
                q->next_send_ms = now + a->ops->chat_send_interval_ms;
                chat_queue_pop(q);
                c->pending--;
                break;
        case ADAPTER_SEND_RETRY:
                stats_add(STATS_SEND_WAITS, a->ops->name, 1);
                o->row.attempts++;
                wait_ms = d->retry_after_ms ? d->retry_after_ms : backoff_next_ms(&q->backoff);
                if (wait_ms > CORE_RETRY_AFTER_MAX_MS)
                        wait_ms = CORE_RETRY_AFTER_MAX_MS;
                log_record(LOG_WARNING, &f, "sending reply %" PRId64 " failed: %s; retrying "
                           "in %.1f s", o->row.id, d->error ? d->error : "unknown error",
                           wait_ms / 1000.0);
                q->next_send_ms = now + wait_ms;
                break;
        case ADAPTER_SEND_REJECTED:
                stats_add(STATS_ERRORS, "send refused", 1);
                log_record(LOG_ERR, &f, "reply %" PRId64 " was refused for good: %s; it stays "
                           "in the outbox marked failed", o->row.id,
                           d->error ? d->error : "unknown error");
                chat_queue_pop(q);
                c->pending--;
                break;
        }

        q->busy = false;
        free(d->platform_message_id);
        free(d->error);
        free(d);

        chat_queue_kick(q);
        core_check_drained(c);
}

void adapter_send_done(struct adapter *a, int64_t id, enum adapter_send_result result,
                       const char *platform_message_id, uint64_t retry_after_ms,
                       const char *error)
{
        struct core *c = a->core;
        struct chat_queue *q;
        struct core_delivery *d;
        int r;

        for (q = a->sending; q; q = q->sending_next)
                if (q->head && q->head->row.id == id)
                        break;
        if (!q) {
                log_record(LOG_ERR, &a->log, "reported a send of reply %" PRId64
                           " that was not in flight, ignoring", id);
                return;
        }
        sending_unlink(q);

        /* A reply that never goes through must not hold up its chat. */
        if (result == ADAPTER_SEND_RETRY && q->head->row.attempts + 1 >= CORE_SEND_ATTEMPTS_MAX) {
                log_record(LOG_ERR, &a->log, "giving up on reply %" PRId64 " after %d attempts",
                           id, CORE_SEND_ATTEMPTS_MAX);
                result = ADAPTER_SEND_REJECTED;
        }

        d = calloc(1, sizeof(*d));
        if (!d)
                goto fail;
        *d = (struct core_delivery){
                .queue = q,
                .outbox_id = id,
                .result = result,
                .platform_message_id = platform_message_id ? strdup(platform_message_id) : NULL,
                .error = error ? strdup(error) : NULL,
                .retry_after_ms = retry_after_ms,
        };

        r = workq_submit(c->store_q, core_delivery_work, core_delivery_done, d);
        if (r < 0)
                goto fail;
        return;

fail:
        /* The outbox row stays pending and is sent again at the next start. */
        log_record(LOG_ERR, &a->log, "could not record the delivery of reply %" PRId64
                   "; it may be sent again at the next start", id);
        if (d) {
                free(d->platform_message_id);
                free(d->error);
                free(d);
        }
        q->busy = false;
        chat_queue_pop(q);
        c->pending--;
        core_check_drained(c);
}

/* ---- health and metrics over HTTP ---- */

static void core_http_metrics(void *userdata, struct httpd_request *req)
{
        char *text;
        size_t len;

        if (stats_render(&text, &len) < 0) {
                httpd_respond(req, 500, "text/plain", "out of memory\n", 14);
                return;
        }
        httpd_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
        free(text);
}

/* Answering at all shows the loop runs: it is the one thread that could. */
static void core_http_healthz(void *userdata, struct httpd_request *req)
{
        httpd_respond(req, 200, "text/plain", "ok\n", 3);
}

/* Ready: every enabled adapter connected, and the model loaded when one
 * is configured.  The body lists each part either way. */
static void core_http_readyz(void *userdata, struct httpd_request *req)
{
        static const char *const states[] = { "starting", "connected", "failed", "stopped" };
        struct core *c = userdata;
        bool ready = !c->stopping;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        if (!f) {
                httpd_respond(req, 500, "text/plain", "out of memory\n", 14);
                return;
        }

        for (size_t i = 0; i < c->n_adapters; i++) {
                const struct adapter *a = &c->adapters[i];

                ready = ready && a->conn == ADAPTER_CONNECTED;
                fprintf(f, "%s: %s\n", a->ops->name, states[a->conn]);
        }
        fprintf(f, "model: %s\n", responder_has_model(c->responder) ? "loaded" : "none");
        if (c->stopping)
                fprintf(f, "stopping\n");
        fclose(f);

        httpd_respond(req, ready ? 200 : 503, "text/plain", text, len);
        free(text);
}

static int core_http_start(struct core *c, const struct config *config, char *error)
{
        const char *address = config_get_string(config, "http", "address");
        uint16_t port = (uint16_t)config_get_int(config, "http", "port");
        char why[HTTPD_ERROR_MAX];
        int r;

        if (!config_get_bool(config, "http", "enabled"))
                return 0;

        r = httpd_new(c->loop, NULL, &c->httpd);
        if (r < 0) {
                snprintf(error, CORE_ERROR_MAX, "cannot start the HTTP server: %s",
                         r == -ENOPKG ? "libwebsockets cannot use libuv (install "
                                        "libwebsockets-evlib-uv)" : strerror(-r));
                return r;
        }

        if (httpd_route_add(c->httpd, "GET", "/metrics", NULL, core_http_metrics, c) < 0 ||
            httpd_route_add(c->httpd, "GET", "/healthz", NULL, core_http_healthz, c) < 0 ||
            httpd_route_add(c->httpd, "GET", "/readyz", NULL, core_http_readyz, c) < 0) {
                snprintf(error, CORE_ERROR_MAX, "cannot set up the HTTP routes");
                return -ENOMEM;
        }

        r = httpd_listen(c->httpd, address, port, why);
        if (r < 0) {
                snprintf(error, CORE_ERROR_MAX, "%s", why);
                return r;
        }

        log_info("HTTP on %s port %u: /metrics, /healthz, /readyz", address,
                 httpd_port(c->httpd));
        return 0;
}

/* ---- start-up, recovery, shutdown ---- */

static struct adapter *core_adapter_find(struct core *c, const char *name)
{
        for (size_t i = 0; i < c->n_adapters; i++)
                if (strcmp(c->adapters[i].ops->name, name) == 0)
                        return &c->adapters[i];
        return NULL;
}

static int mkdir_parents(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int core_adapters_create(struct core *c, const struct config *config, char *error)
{
        size_t n = 0;
        int r;

        for (const struct adapter_ops *const *ops = adapter_registry; *ops; ops++)
                if (config_get_bool(config, (*ops)->name, "enabled"))
                        n++;

        if (n == 0) {
                snprintf(error, CORE_ERROR_MAX, "%s: no adapter is enabled; set 'enabled = true' "
                         "in the section of at least one ([console] for a local chat)",
                         config_path(config) ? config_path(config) : "configuration");
                return -EINVAL;
        }

        c->adapters = calloc(n, sizeof(*c->adapters));
        if (!c->adapters)
                return -ENOMEM;

        for (const struct adapter_ops *const *ops = adapter_registry; *ops; ops++) {
                struct adapter *a;

                if (!config_get_bool(config, (*ops)->name, "enabled"))
                        continue;

                a = &c->adapters[c->n_adapters];
                *a = (struct adapter){
                        .core = c, .ops = *ops, .conn = ADAPTER_STARTING,
                        .log = { .adapter = (*ops)->name },
                };

                r = store_cursor_get(c->store, a->ops->name, CORE_ACCOUNT, &a->cursor);
                if (r < 0) {
                        snprintf(error, CORE_ERROR_MAX, "%s: cannot read its receive position: %s",
                                 a->ops->name, store_error(c->store));
                        return r;
                }

                r = a->ops->create(a, config, &a->state);
                if (r < 0) {
                        snprintf(error, CORE_ERROR_MAX, "%s: cannot set up: %s", a->ops->name,
                                 strerror(-r));
                        return r;
                }
                c->n_adapters++;
        }

        return 0;
}

static int core_store_batch_begin(void *ctx)
{
        return store_batch_begin(ctx);
}

static int core_store_batch_end(void *ctx)
{
        return store_batch_end(ctx);
}

/* The decoding options of [model]; error names the key's line. */
static int core_decoder_options(const struct config *config, struct decoder_options *ret,
                                char *error)
{
        static const char *const keys[] = {
                "method", "max_length", "no_repeat_ngram", "beam_width", "length_penalty",
                "temperature", "top_k", "top_p",
        };
        struct decoder_options o;
        char why[256];

        decoder_options_default(&o);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *value = config_get_string(config, "model", keys[i]);

                if (decoder_options_set(&o, keys[i], value, why, sizeof(why)) < 0) {
                        snprintf(error, CORE_ERROR_MAX, "%s: [model] %s",
                                 config_where(config, "model", keys[i]), why);
                        return -EINVAL;
                }
        }

        *ret = o;
        return 0;
}

/* The system's zone name: /etc/localtime links into the zone database;
 * TZ may name a zone too.  UTC when neither says. */
static int system_time_zone(char **ret)
{
        char link[512];
        const char *tz = getenv("TZ"), *name = "UTC", *z;
        ssize_t n = readlink("/etc/localtime", link, sizeof(link) - 1);

        if (tz && *tz)
                name = tz[0] == ':' ? tz + 1 : tz;
        else if (n > 0) {
                link[n] = '\0';
                z = strstr(link, "zoneinfo/");
                if (z)
                        name = z + strlen("zoneinfo/");
        }

        *ret = strdup(name);
        return *ret ? 0 : -ENOMEM;
}

/* The zone for users who set none: the configured one or the system's. */
static int core_time_zone_resolve(const struct config *config, char **ret, char *error)
{
        const char *tz = config_get_string(config, "reminders", "time_zone");
        char *name;
        int r;

        if (tz && *tz) {
                name = strdup(tz);
                if (!name)
                        return -ENOMEM;
        } else {
                r = system_time_zone(&name);
                if (r < 0)
                        return r;
        }

        if (!remind_zone_valid(name)) {
                if (tz && *tz)
                        snprintf(error, CORE_ERROR_MAX, "%s: time_zone in [reminders]: '%s' is "
                                 "not a time zone; use a name such as Europe/Berlin",
                                 config_where(config, "reminders", "time_zone"), name);
                else
                        snprintf(error, CORE_ERROR_MAX, "the system's time zone '%s' is not one "
                                 "ICU knows; set time_zone in [reminders]", name);
                free(name);
                return -EINVAL;
        }

        *ret = name;
        return 0;
}

/* Applies the reply policy, the time zone and the retention period; on
 * error nothing changes. */
static int core_policy_set(struct core *c, const struct config *config, char *error)
{
        int64_t days = config_get_int(config, "history", "retention_days");
        struct policy *policy;
        char *tz;
        int r;

        if (days == 1) {
                snprintf(error, CORE_ERROR_MAX, "%s: retention_days must be 0 (keep) or at least "
                         "2, longer than a platform's redelivery window",
                         config_where(config, "history", "retention_days"));
                return -EINVAL;
        }

        r = core_time_zone_resolve(config, &tz, error);
        if (r < 0)
                return r;

        r = policy_new(config, &policy, error);
        if (r < 0) {
                free(tz);
                return r;
        }

        free(c->time_zone);
        c->time_zone = tz;
        policy_free(c->policy);
        c->policy = policy;
        c->retention_ms = days * CORE_DAY_MS;
        c->context_messages = (int)config_get_int(config, "model", "context_messages");
        return 0;
}

/* A reminder fired: its message goes out like any reply. */
static void core_on_reminder(void *userdata, struct store_outbox_row *row)
{
        struct core *c = userdata;
        struct adapter *a = core_adapter_find(c, row->adapter);

        if (!a) {
                log_notice("a reminder for %s is queued, but that adapter is not enabled",
                           row->adapter);
                return;
        }
        chat_queue_push(a, row);
}

struct core_prune {
        struct core *core;
        int64_t before_ms;
        struct store_prune_counts counts;
        int r;
        char error[STORE_ERROR_MAX];
};

static void core_prune_work(void *data)
{
        struct core_prune *p = data;

        p->r = store_history_prune(p->core->store, p->before_ms, &p->counts);
        if (p->r < 0)
                snprintf(p->error, sizeof(p->error), "%s", store_error(p->core->store));
}

static void core_prune_done(void *data)
{
        struct core_prune *p = data;

        if (p->r < 0)
                log_error("history retention: %s; trying again tomorrow", p->error);
        else if (p->counts.history + p->counts.inbox + p->counts.outbox + p->counts.reminders)
                log_info("history retention removed %" PRId64 " message(s), %" PRId64
                         " inbox, %" PRId64 " outbox and %" PRId64 " reminder row(s)",
                         p->counts.history, p->counts.inbox, p->counts.outbox,
                         p->counts.reminders);
        free(p);
}

static void core_on_retention_timer(uv_timer_t *t)
{
        struct core *c = t->data;
        struct core_prune *p;

        if (c->retention_ms == 0 || c->closing)
                return;

        p = calloc(1, sizeof(*p));
        if (!p)
                return;
        p->core = c;
        p->before_ms = core_now_ms() - c->retention_ms;
        if (workq_submit(c->store_q, core_prune_work, core_prune_done, p) < 0)
                free(p);
}

/* The start's and the check's error for a model that does not load. */
static void core_model_error(char *error, const char *reason)
{
        snprintf(error, CORE_ERROR_MAX, "cannot load the model ([model] path or "
                 "PARLEY_MODEL_PATH): %s", reason);
}

/* Sets up each enabled adapter as the start would, on a loop of its own
 * that is never run for I/O, and takes it down again: what only the start
 * used to find (a missing or unreadable token file, a token of the wrong
 * form, webhook settings) is found by --check-config too.  Nothing is
 * sent.  Each adapter logs why it cannot be set up; error names the first
 * and the result is its error. */
static int core_adapters_check(const struct config *config, size_t *ret_enabled, char *error)
{
        uv_loop_t loop;
        struct core probe = { .loop = &loop };
        size_t enabled = 0;
        int r, failed = 0;

        r = uv_loop_init(&loop);
        if (r < 0) {
                snprintf(error, CORE_ERROR_MAX, "cannot make an event loop: %s", uv_strerror(r));
                return r;
        }

        for (const struct adapter_ops *const *ops = adapter_registry; *ops; ops++) {
                struct adapter a = {
                        .core = &probe, .ops = *ops, .conn = ADAPTER_STARTING,
                        .log = { .adapter = (*ops)->name }, .checking = true,
                };
                void *state = NULL;

                if (!config_get_bool(config, (*ops)->name, "enabled"))
                        continue;
                enabled++;
                r = (*ops)->create(&a, config, &state);
                if (r < 0) {
                        /* the first failure decides the exit status, as at
                         * the start; the others are logged too */
                        if (failed == 0) {
                                snprintf(error, CORE_ERROR_MAX, "%s: cannot set up: %s",
                                         (*ops)->name, strerror(-r));
                                failed = r;
                        }
                        continue;
                }
                (*ops)->destroy(state);
        }
        /* the handles the adapters closed */
        uv_run(&loop, UV_RUN_DEFAULT);
        r = uv_loop_close(&loop);
        if (r < 0)
                log_debug("the check's event loop closed with handles open: %s", uv_strerror(r));

        if (failed < 0)
                return failed;
        *ret_enabled = enabled;
        return 0;
}

int core_config_check(const struct config *config, char *error)
{
        const char *model = config_get_string(config, "model", "path");
        struct core probe = { 0 };
        struct decoder_options options;
        struct responder *responder;
        char sub_error[RESPONDER_ERROR_MAX];
        size_t enabled = 0;
        int r;

        r = core_policy_set(&probe, config, error);
        policy_free(probe.policy);
        free(probe.time_zone);
        if (r < 0)
                return r;

        r = core_decoder_options(config, &options, error);
        if (r < 0)
                return r;

        r = core_adapters_check(config, &enabled, error);
        if (r < 0)
                return r;
        if (enabled == 0) {
                snprintf(error, CORE_ERROR_MAX, "%s: no adapter is enabled; set 'enabled = true' "
                         "in the section of at least one ([console] for a local chat)",
                         config_path(config) ? config_path(config) : "configuration");
                return -EINVAL;
        }

        r = responder_new(model, &options, &responder, sub_error);
        if (r < 0) {
                core_model_error(error, sub_error);
                return r;
        }
        responder_unref(responder);
        return 0;
}

int core_new(uv_loop_t *loop, const struct config *config, const struct core_events *events,
             struct core **ret, char *error)
{
        const char *state_dir = config_get_string(config, "parleyd", "state_dir");
        const char *model = config_get_string(config, "model", "path");
        _cleanup_free_ char *database = NULL;
        struct decoder_options options;
        char sub_error[STORE_ERROR_MAX];
        struct core *c;
        int r;

        error[0] = '\0';
        c = calloc(1, sizeof(*c));
        if (!c) {
                snprintf(error, CORE_ERROR_MAX, "out of memory");
                return -ENOMEM;
        }
        c->loop = loop;
        c->events = *events;
        c->shutdown_timeout_ms = config_get_int(config, "parleyd", "shutdown_timeout_ms");

        r = mkdir_parents(state_dir, 0750);
        if (r < 0) {
                snprintf(error, CORE_ERROR_MAX, "cannot create the state directory %s: %s",
                         state_dir, strerror(-r));
                goto fail;
        }

        r = core_database_path(config, &database);
        if (r < 0)
                goto fail;

        r = core_policy_set(c, config, error);
        if (r < 0)
                goto fail;

        r = store_open(database, &c->store, sub_error);
        if (r < 0) {
                snprintf(error, CORE_ERROR_MAX, "%s", sub_error);
                goto fail;
        }

        r = core_decoder_options(config, &options, error);
        if (r < 0)
                goto fail;

        r = responder_new(model, &options, &c->responder, sub_error);
        if (r < 0) {
                core_model_error(error, sub_error);
                goto fail;
        }

        r = workq_new(loop, "store", 1, CORE_STORE_QUEUE_MAX, &c->store_q);
        if (r < 0)
                goto fail_errno;

        /* Jobs that queue up while a commit waits for the disk share the
         * next commit. */
        r = workq_batch_set(c->store_q, &(struct workq_batch){
                .begin = core_store_batch_begin,
                .end = core_store_batch_end,
                .ctx = c->store,
                .max = CORE_STORE_BATCH_MAX,
        });
        if (r < 0)
                goto fail_errno;

        r = workq_new(loop, "decode", (unsigned)config_get_int(config, "parleyd", "decode_threads"),
                      CORE_DECODE_QUEUE_MAX, &c->decode_q);
        if (r < 0)
                goto fail_errno;

        r = workq_batch_set(c->decode_q, &(struct workq_batch){
                .run_many = core_respond_many,
                .max = RESPONDER_BATCH_MAX,
        });
        if (r < 0)
                goto fail_errno;

        uv_timer_init(loop, &c->drain_timer);
        c->drain_timer.data = c;
        c->open_timers++;
        uv_timer_init(loop, &c->retention_timer);
        c->retention_timer.data = c;
        c->open_timers++;
        uv_timer_init(loop, &c->ready_timer);
        c->ready_timer.data = c;
        c->open_timers++;

        r = scheduler_new(loop, c->store_q, c->store, core_on_reminder, c, &c->scheduler);
        if (r < 0)
                goto fail_errno;
        c->open_timers++;

        r = core_adapters_create(c, config, error);
        if (r < 0)
                goto fail;

        r = core_http_start(c, config, error);
        if (r < 0)
                goto fail;

        log_info("database %s, %s", database,
                 model ? model : "no model (commands only)");
        *ret = c;
        return 0;

fail_errno:
        snprintf(error, CORE_ERROR_MAX, "cannot start worker threads: %s", strerror(-r));
fail:
        if (r == -ENOMEM && error[0] == '\0')
                snprintf(error, CORE_ERROR_MAX, "out of memory");
        /* Nothing ran on the loop yet: handles are closed and the loop run
         * once by the caller's uv_loop_close path. */
        c->stopping = c->closing = true;
        httpd_close(c->httpd);
        for (size_t i = 0; i < c->n_adapters; i++)
                c->adapters[i].ops->destroy(c->adapters[i].state);
        for (size_t i = 0; i < c->n_adapters; i++)
                free(c->adapters[i].cursor);
        free(c->adapters);
        if (c->open_timers) {
                uv_close((uv_handle_t *)&c->drain_timer, NULL);
                uv_close((uv_handle_t *)&c->retention_timer, NULL);
                uv_close((uv_handle_t *)&c->ready_timer, NULL);
        }
        if (c->scheduler)
                scheduler_close(c->scheduler, NULL, NULL);
        workq_free(c->decode_q);
        workq_free(c->store_q);
        responder_unref(c->responder);
        store_free(c->store);
        uv_run(loop, UV_RUN_NOWAIT);
        scheduler_free(c->scheduler);
        httpd_free(c->httpd);
        policy_free(c->policy);
        free(c->time_zone);
        free(c);
        return r;
}

/* Answers what the last run received but did not answer, and sends what it
 * queued but did not send. */
static int core_recover(struct core *c)
{
        struct store_inbox_row *undone = NULL;
        struct store_outbox_row *unsent = NULL;
        size_t n_undone = 0, n_unsent = 0, skipped = 0;
        int r;

        r = store_inbox_list_undone(c->store, NULL, &undone, &n_undone);
        if (r < 0)
                goto fail;

        r = store_outbox_list_pending(c->store, NULL, &unsent, &n_unsent);
        if (r < 0)
                goto fail;

        if (n_undone || n_unsent)
                log_notice("resuming %zu unanswered message(s) and %zu unsent reply(ies) from "
                           "the last run", n_undone, n_unsent);

        for (size_t i = 0; i < n_unsent; i++) {
                struct adapter *a = core_adapter_find(c, unsent[i].adapter);

                if (a)
                        chat_queue_push(a, &unsent[i]);
                else
                        skipped++;
        }

        for (size_t i = 0; i < n_undone; i++) {
                struct adapter *a = core_adapter_find(c, undone[i].adapter);
                struct core_message *m;

                if (!a) {
                        skipped++;
                        continue;
                }

                m = calloc(1, sizeof(*m));
                if (!m) {
                        r = -ENOMEM;
                        goto fail;
                }
                m->core = c;
                m->adapter = a;
                m->stored_loop_ms = uv_now(c->loop);
                m->row = undone[i];
                undone[i] = (struct store_inbox_row){ 0 };
                c->pending++;
                core_message_route(m);
        }

        if (skipped)
                log_notice("%zu message(s) belong to adapters that are not enabled; they wait "
                           "in the database", skipped);

        store_inbox_rows_free(undone, n_undone);
        store_outbox_rows_free(unsent, n_unsent);
        return 0;

fail:
        log_error("cannot resume the last run's work: %s", store_error(c->store));
        store_inbox_rows_free(undone, n_undone);
        store_outbox_rows_free(unsent, n_unsent);
        return r;
}

int core_start(struct core *c)
{
        int r;

        /* Adapters start first, so recovered replies find them ready; what
         * they receive is stored by the store thread, which runs only once
         * the loop does, after the recovered messages are queued. */
        for (size_t i = 0; i < c->n_adapters; i++) {
                struct adapter *a = &c->adapters[i];

                r = a->ops->start(a->state);
                if (r < 0) {
                        char reason[128];

                        snprintf(reason, sizeof(reason), "cannot start: %s", strerror(-r));
                        adapter_set_state(a, ADAPTER_FAILED, reason);
                }
        }

        r = core_recover(c);
        if (r < 0)
                return r;

        if (!c->ready_sent)
                uv_timer_start(&c->ready_timer, core_on_ready_timeout, CORE_READY_TIMEOUT_MS, 0);
        scheduler_rearm(c->scheduler);
        uv_timer_start(&c->retention_timer, core_on_retention_timer, 0, CORE_DAY_MS);

        core_status(c, "running");
        return 0;
}

static void core_on_drain_timeout(uv_timer_t *t)
{
        struct core *c = t->data;

        log_warning("%zu message(s) or reply(ies) still in hand after %" PRIu64 " ms; they are "
                    "finished at the next start", c->pending, c->shutdown_timeout_ms);
        core_check_drained(c);
}

static void core_on_drain_timer_closed(uv_handle_t *h)
{
        struct core *c = h->data;

        c->open_timers--;
        core_check_drained(c);
}

static void core_on_timer_closed(void *userdata)
{
        struct core *c = userdata;

        c->open_timers--;
        core_check_drained(c);
}

static void core_on_loop_timer_closed(uv_handle_t *h)
{
        core_on_timer_closed(h->data);
}

static void core_on_chat_timer_closed(uv_handle_t *h)
{
        struct chat_queue *q = h->data;
        struct core *c = q->adapter->core;

        c->open_timers--;
        core_check_drained(c);
}

/* Closes adapters and timers; the loop then runs the close callbacks. */
static void core_close(struct core *c)
{
        c->closing = true;
        httpd_close(c->httpd);
        uv_timer_stop(&c->drain_timer);
        uv_close((uv_handle_t *)&c->drain_timer, core_on_drain_timer_closed);
        uv_close((uv_handle_t *)&c->retention_timer, core_on_loop_timer_closed);
        uv_timer_stop(&c->ready_timer);
        uv_close((uv_handle_t *)&c->ready_timer, core_on_loop_timer_closed);
        scheduler_close(c->scheduler, core_on_timer_closed, c);

        for (size_t i = 0; i < c->n_adapters; i++) {
                struct adapter *a = &c->adapters[i];

                for (struct chat_queue *q = a->chats; q; q = q->next)
                        uv_close((uv_handle_t *)&q->timer, core_on_chat_timer_closed);
                if (a->conn == ADAPTER_STOPPED)
                        continue;
                a->ops->close(a->state);
        }
}

static bool core_adapters_stopped(const struct core *c)
{
        for (size_t i = 0; i < c->n_adapters; i++)
                if (c->adapters[i].conn != ADAPTER_STOPPED)
                        return false;
        return true;
}

static void core_check_drained(struct core *c)
{
        if (!c->stopping)
                return;

        if (!c->closing) {
                if (c->pending > 0 && uv_is_active((uv_handle_t *)&c->drain_timer))
                        return;
                core_close(c);
        }

        if (c->open_timers > 0 || !core_adapters_stopped(c) || !c->events.stopped)
                return;

        /* Everything is closed: let the worker queues finish, then tell the
         * daemon.  Their last callbacks see closing and send nothing. */
        workq_free(c->decode_q);
        c->decode_q = NULL;
        workq_free(c->store_q);
        c->store_q = NULL;

        void (*stopped)(void *) = c->events.stopped;
        c->events.stopped = NULL;
        stopped(c->events.userdata);
}

void core_stop(struct core *c, const char *reason)
{
        if (c->stopping)
                return;
        c->stopping = true;

        log_info("stopping: %s", reason);
        core_status(c, "stopping: %s", reason);

        for (size_t i = 0; i < c->n_adapters; i++) {
                struct adapter *a = &c->adapters[i];

                if (a->conn != ADAPTER_STOPPED && a->conn != ADAPTER_FAILED)
                        a->ops->stop_receiving(a->state);
        }

        uv_timer_start(&c->drain_timer, core_on_drain_timeout,
                       c->shutdown_timeout_ms ? c->shutdown_timeout_ms : 1, 0);
        core_check_drained(c);
}

/* A model loading on a worker, to replace the current one. */
struct core_model_load {
        uv_work_t work;
        struct core *core;
        char *path;
        struct decoder_options options;
        struct responder *responder;
        char error[RESPONDER_ERROR_MAX];
        int r;
};

static void core_model_load_work(uv_work_t *work)
{
        struct core_model_load *l = work->data;

        l->r = responder_new(l->path, &l->options, &l->responder, l->error);
}

static void core_model_load_done(uv_work_t *work, int status)
{
        struct core_model_load *l = work->data;
        struct core *c = l->core;

        c->model_loading = false;
        if (status < 0)
                log_error("reload: the model load was cancelled; keeping the model in use");
        else if (l->r < 0)
                log_error("reload: %s; keeping the model in use", l->error);
        else {
                responder_unref(c->responder);
                c->responder = l->responder;
                log_info("reload: %s", l->path ? l->path : "no model; commands only");
        }
        free(l->path);
        free(l);
        core_pending_done(c);
}

/* Loads the configured model on a worker; the current one answers until
 * the new one is ready, and stays if it cannot be loaded. */
static int core_model_reload(struct core *c, const struct config *config, char *error)
{
        const char *path = config_get_string(config, "model", "path");
        struct core_model_load *l;
        int r;

        if (c->model_loading) {
                snprintf(error, CORE_ERROR_MAX, "a model is still loading from the last reload");
                return -EBUSY;
        }

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->core = c;
        r = core_decoder_options(config, &l->options, error);
        if (r < 0 || (path && !(l->path = strdup(path)))) {
                free(l);
                return r < 0 ? r : -ENOMEM;
        }

        /* A rare, long job: libuv's own thread pool, so it neither waits
         * behind nor holds up replies. */
        l->work.data = l;
        r = uv_queue_work(c->loop, &l->work, core_model_load_work, core_model_load_done);
        if (r < 0) {
                snprintf(error, CORE_ERROR_MAX, "cannot load the model: %s", strerror(-r));
                free(l->path);
                free(l);
                return r;
        }
        c->model_loading = true;
        c->pending++;
        return 0;
}

int core_reload(struct core *c, const struct config *config, char *error)
{
        struct decoder_options options;
        int r;

        if (c->stopping) {
                snprintf(error, CORE_ERROR_MAX, "parleyd is stopping");
                return -ESHUTDOWN;
        }

        /* Check everything before changing anything. */
        if (c->model_loading) {
                snprintf(error, CORE_ERROR_MAX, "a model is still loading from the last reload");
                return -EBUSY;
        }

        r = core_decoder_options(config, &options, error);
        if (r < 0)
                return r;

        r = core_policy_set(c, config, error);
        if (r < 0)
                return r;

        r = core_model_reload(c, config, error);
        if (r < 0)
                return r;

        c->shutdown_timeout_ms = config_get_int(config, "parleyd", "shutdown_timeout_ms");
        return 0;
}

void core_free(struct core *c)
{
        if (!c)
                return;

        for (size_t i = 0; i < c->n_adapters; i++) {
                struct adapter *a = &c->adapters[i];

                while (a->chats) {
                        struct chat_queue *q = a->chats;

                        a->chats = q->next;
                        while (q->head)
                                chat_queue_pop(q);
                        while (q->waiting_head) {
                                struct core_message *m = q->waiting_head;

                                q->waiting_head = m->next_waiting;
                                core_message_free(m);
                        }
                        free(q->chat_id);
                        free(q);
                }
                a->sending = NULL;
                strmap_free(a->chat_index);
                a->ops->destroy(a->state);
                free(a->cursor);
        }
        free(c->adapters);
        responder_unref(c->responder);
        scheduler_free(c->scheduler);
        httpd_free(c->httpd);
        store_free(c->store);
        policy_free(c->policy);
        free(c->time_zone);
        free(c);
}
