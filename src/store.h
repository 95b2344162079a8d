/* store.h: parley's durable state, one SQLite database.
 *
 * The store is the daemon's memory of what it received and what it owes:
 *
 *   inbox    inbound events, keyed by (adapter, account, event_id) so a
 *            platform's redelivery is a no-op; status 'new' until answered.
 *   outbox   replies with their delivery state, attempts, the platform's
 *            message id once sent, and an idempotency key (Matrix txnId).
 *   history  every message in and out, with an FTS5 index.
 *   reminders, user settings (issue 4 fills in their operations).
 *   cursors  per adapter and account: Telegram offset, Matrix next_batch.
 *
 * Contract: one struct store is used by one thread at a time.  Functions
 * return 0 (or a count) on success and a negative errno on failure, filling
 * outputs only on success; store_error() then says what went wrong, in
 * SQLite's words where SQLite reported it.  Every write is one transaction,
 * committed with synchronous=FULL before the function returns; a failed
 * write leaves the database as it was. */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_ERROR_MAX 512

/* Schema version written to PRAGMA user_version by this build. */
extern const int store_schema_version;

struct store;

/* An inbound message as the core hands it to the store.  Strings are
 * borrowed; NULL where the platform has no such thing. */
struct store_inbound {
        const char *event_id;   /* the platform's id; unique per adapter+account */
        const char *chat_id;
        const char *user_id;
        const char *user_name;
        const char *thread_id;  /* Slack thread_ts, Matrix thread root */
        const char *message_id; /* the platform id of this message, to reply to */
        const char *text;
        bool direct;            /* a direct / private chat */
        bool addressed;         /* mentions the bot or replies to it */
        int64_t sent_at_ms;     /* platform timestamp, Unix ms; 0 = unknown */
};

/* An inbox row, as listed for processing (after a restart, say). */
struct store_inbox_row {
        int64_t id;
        char *adapter;
        char *account;
        char *event_id;
        char *chat_id;
        char *user_id;
        char *user_name;
        char *thread_id;
        char *message_id;
        char *text;
        bool direct;
        bool addressed;
        int64_t sent_at_ms;
        int64_t received_at_ms;
};

/* A reply to queue.  source says who wrote it: "model", "command", "rule",
 * "reminder". */
struct store_reply {
        const char *chat_id;
        const char *thread_id;
        const char *reply_to;   /* platform message id to answer; may be NULL */
        const char *text;
        const char *source;
};

enum store_outbox_status {
        STORE_OUTBOX_PENDING,
        STORE_OUTBOX_SENT,
        STORE_OUTBOX_FAILED,    /* given up after a permanent error */
};

struct store_outbox_row {
        int64_t id;
        int64_t inbox_id;       /* 0 when not a reply (a reminder firing) */
        char *adapter;
        char *account;
        char *chat_id;
        char *thread_id;
        char *reply_to;
        char *text;
        char *source;
        char *idempotency_key;  /* unique across restarts; reused on retry */
        enum store_outbox_status status;
        int attempts;           /* failed delivery attempts so far */
        char *last_error;       /* what the last failed attempt said; NULL if none */
        char *platform_message_id;
        int64_t created_at_ms;
        int64_t sent_at_ms;     /* 0 until sent */
};

struct store_history_row {
        int64_t id;
        char *adapter;
        char *account;
        char *chat_id;
        char *thread_id;
        char *user_id;          /* NULL for the bot's own messages */
        char *user_name;
        char *text;
        bool outbound;
        int64_t at_ms;          /* inbound: the platform's time if known, else
                                 * when received; outbound: when queued */
};

/* Opens or creates the database at path and migrates it forward.  A file
 * that is not a database, is corrupt, cannot be read, or carries a schema
 * newer than this build is refused and left untouched; error (at least
 * STORE_ERROR_MAX bytes, or NULL) then holds a sentence naming the file and
 * what is wrong.  -EBADMSG: not a database, corrupt, or another program's
 * database; -EPROTO: schema newer than this build; -EISDIR, -EACCES, -ENOENT
 * and other errno values as the file system said. */
int store_open(const char *path, struct store **ret, char *error);
void store_free(struct store *s);

/* What went wrong in the last failed call on s; "" if nothing failed. */
const char *store_error(struct store *s);

/* In one durable transaction: inserts the events not seen before into the
 * inbox and history, and sets the cursor of (adapter, account) when cursor
 * is not NULL.  ret_ids[i] (if given) receives the new inbox id, or 0 where
 * events[i] was already known (also for a repeat within events).  Returns
 * the number of new events; -EINVAL when adapter, account or an event_id
 * is NULL, before anything is written. */
int store_inbox_accept(struct store *s, const char *adapter, const char *account,
                       const struct store_inbound *events, size_t n_events,
                       const char *cursor, int64_t *ret_ids);

/* In one durable transaction: marks inbox row inbox_id done and, when reply
 * is not NULL, queues it in the outbox and history.  -ENOENT if the row
 * does not exist, -EALREADY if it is already done.  *ret_outbox_id (if
 * given) is 0 when reply is NULL.  reply's chat_id, text and source must
 * not be NULL (-EINVAL). */
int store_inbox_complete(struct store *s, int64_t inbox_id, const struct store_reply *reply,
                         int64_t *ret_outbox_id);

/* Queues a message that answers no inbox row (a reminder firing), and
 * records it in history. */
int store_outbox_add(struct store *s, const char *adapter, const char *account,
                     const struct store_reply *reply, int64_t *ret_outbox_id);

/* Inbox rows not yet done, oldest first.  adapter NULL means all. */
int store_inbox_list_undone(struct store *s, const char *adapter,
                            struct store_inbox_row **ret, size_t *ret_n);

/* Outbox rows still pending, oldest first.  adapter NULL means all. */
int store_outbox_list_pending(struct store *s, const char *adapter,
                              struct store_outbox_row **ret, size_t *ret_n);

/* -ENOENT if there is no such row.  Release *ret with
 * store_outbox_row_clear(). */
int store_outbox_get(struct store *s, int64_t outbox_id, struct store_outbox_row *ret);

/* The outbox operations below answer -ENOENT for an unknown row and
 * -EALREADY for a row no longer pending (sent or failed). */
int store_outbox_mark_sent(struct store *s, int64_t outbox_id, const char *platform_message_id);

/* Counts a failed attempt; permanent moves the row to FAILED. */
int store_outbox_mark_attempt(struct store *s, int64_t outbox_id, const char *error,
                              bool permanent);

/* *ret is NULL when no cursor is stored yet. */
int store_cursor_get(struct store *s, const char *adapter, const char *account, char **ret);
int store_cursor_set(struct store *s, const char *adapter, const char *account,
                     const char *cursor);

/* The latest limit messages of a chat, oldest first (in the order they
 * were stored). */
int store_history_recent(struct store *s, const char *adapter, const char *account,
                         const char *chat_id, size_t limit,
                         struct store_history_row **ret, size_t *ret_n);

/* Row counts for inspection and tests. */
struct store_counts {
        int64_t inbox_total;
        int64_t inbox_undone;
        int64_t outbox_total;
        int64_t outbox_pending;
        int64_t outbox_sent;
        int64_t outbox_failed;
        int64_t history;
        int64_t reminders;
};
int store_counts_get(struct store *s, struct store_counts *ret);

void store_inbox_rows_free(struct store_inbox_row *rows, size_t n);
void store_outbox_row_clear(struct store_outbox_row *row);
void store_outbox_rows_free(struct store_outbox_row *rows, size_t n);
void store_history_rows_free(struct store_history_row *rows, size_t n);

#endif
