/* adapter.h: what a platform adapter provides and what it may call.
 *
 * Each platform fills one struct adapter_ops.  The core creates one
 * struct adapter per enabled platform and hands it to the adapter's
 * create(); the adapter calls back only through the functions below, never
 * into the store or the model.
 *
 * Delivery contract:
 *   receive  The adapter passes inbound messages (and its new receive
 *            cursor) to adapter_receive().  Its done() runs once they are
 *            durable; only then may the adapter acknowledge them to the
 *            platform (Slack envelope ack, HTTP 200, Telegram offset).
 *   send     The core calls ops->send() for one reply at a time per chat;
 *            the adapter reports the outcome with adapter_send_done(),
 *            exactly once per send.
 * All of it happens on the loop thread. */
#ifndef PARLEY_ADAPTER_H
#define PARLEY_ADAPTER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "httpd.h"

struct adapter;

/* An inbound message.  Strings are borrowed for the duration of the call;
 * NULL where the platform has no such thing. */
struct adapter_message {
        const char *event_id;   /* the platform's id, for deduplication */
        const char *chat_id;
        const char *user_id;
        const char *user_name;
        const char *thread_id;
        const char *message_id; /* to reply to */
        const char *text;
        bool direct;            /* a direct/private chat */
        bool addressed;         /* mentions or replies to the bot */
        int64_t sent_at_ms;     /* Unix ms; 0 when unknown */
};

/* A reply to deliver. */
struct adapter_outgoing {
        int64_t id;             /* pass back to adapter_send_done() */
        const char *chat_id;
        const char *thread_id;
        const char *reply_to;
        const char *text;
        const char *idempotency_key;    /* stable across retries and restarts */
        int attempts;           /* earlier failed attempts */
};

enum adapter_send_result {
        ADAPTER_SEND_OK,
        ADAPTER_SEND_RETRY,     /* temporary: the core retries after a wait */
        ADAPTER_SEND_REJECTED,  /* permanent: the platform will never take it */
};

enum adapter_state {
        ADAPTER_STARTING,
        ADAPTER_CONNECTED,
        ADAPTER_FAILED,         /* stopped for good: bad credentials, say */
        ADAPTER_STOPPED,
};

struct adapter_ops {
        const char *name;       /* also its configuration section */
        const struct config_key *config_keys;   /* NULL-name terminated */
        /* Minimum spacing of sends to one chat, in ms (0: none). */
        uint64_t chat_send_interval_ms;
        /* Optional: how long the next send to chat_id must wait, for limits
         * beyond the per-chat spacing (per group, per account); 0: now.
         * The core asks again when the wait is over. */
        uint64_t (*send_delay_ms)(void *state, const char *chat_id);

        /* Reads configuration; no I/O yet. */
        int (*create)(struct adapter *a, const struct config *config, void **ret_state);
        /* Begins connecting and receiving; reports through adapter_set_state(). */
        int (*start)(void *state);
        /* Stops taking new messages from the platform; sends go on, so the
         * replies in hand can still be delivered. */
        void (*stop_receiving)(void *state);
        /* Closes everything; a send in flight is abandoned (its outbox row
         * stays pending).  Calls adapter_set_state(ADAPTER_STOPPED) once
         * all its handles are closed. */
        void (*close)(void *state);
        int (*send)(void *state, const struct adapter_outgoing *out);
        void (*destroy)(void *state);
};

/* The adapters this build has, NULL terminated (adapters/registry.c). */
extern const struct adapter_ops *const adapter_registry[];

typedef void (*adapter_received_fn)(void *userdata, int r);

uv_loop_t *adapter_loop(struct adapter *a);
const char *adapter_name(const struct adapter *a);

/* True when parleyd --check-config sets the adapter up (create() and at
 * once destroy(), nothing started) outside the service, with no
 * CREDENTIALS_DIRECTORY: a token left to a systemd credential cannot be
 * read here, so create() says so and goes on instead of failing. */
bool adapter_credentials_unreadable(const struct adapter *a);

/* The receive cursor stored with the last accepted batch; NULL if none. */
const char *adapter_cursor(const struct adapter *a);

/* Stores msgs (duplicates are no-ops) and cursor (NULL: unchanged) in one
 * durable transaction, then calls done(userdata, r) on the loop; r < 0 means
 * nothing was stored and the platform must not be acknowledged.  The
 * messages are then answered.  Returns < 0 if the batch was not even
 * queued (done() is then not called). */
int adapter_receive(struct adapter *a, const struct adapter_message *msgs, size_t n,
                    const char *cursor, adapter_received_fn done, void *userdata);

/* The outcome of ops->send(id).  retry_after_ms: the platform's requested
 * wait for a RETRY (0: the core's backoff).  error: a short reason for the
 * log, never containing secrets. */
void adapter_send_done(struct adapter *a, int64_t id, enum adapter_send_result result,
                       const char *platform_message_id, uint64_t retry_after_ms,
                       const char *error);

void adapter_set_state(struct adapter *a, enum adapter_state state, const char *reason);

/* Serves method+path on the daemon's HTTP server, for webhooks: call it
 * from start().  -ENODEV when [http] is not enabled (say so in the
 * adapter's error), -EEXIST when another route has the path. */
int adapter_http_route(struct adapter *a, const char *method, const char *path,
                       const char *const *headers, httpd_handler_fn fn, void *userdata);

/* The adapter's input ended for good (the console's end of file): the
 * daemon finishes the work in hand and exits. */
void adapter_request_shutdown(struct adapter *a, const char *reason);

#endif
