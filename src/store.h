/* store.h: parley's durable state, one SQLite database.
 *
 * The store is the daemon's memory of what it received and what it owes:
 *
 *   inbox    inbound events, keyed by (adapter, account, event_id) so a
 *            platform's redelivery is a no-op; status 'new' until answered.
 *   outbox   replies with their delivery state, attempts, the platform's
 *            message id once sent, and an idempotency key (Matrix txnId).
 *   history  every message in and out, with an FTS5 index.
 *   reminders one row per reminder; a recurring one stays pending with its
 *            due time moved to the next occurrence each time it fires.
 *   settings per user key/value pairs ("tz": the user's IANA time zone).
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
#include <stdio.h>

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

/* Group commit.  Between store_batch_begin() and store_batch_end() every
 * write operation is a savepoint of one transaction: each still succeeds
 * or fails whole, but none is durable until store_batch_end() commits them
 * all with one fsync.  When store_batch_end() fails (-EIO and the like),
 * none of the batch was stored, whatever the operations returned: run
 * them again outside a batch.  store_user_export() must not run in one. */
int store_batch_begin(struct store *s);
int store_batch_end(struct store *s);

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

/* ---- reminders ---- */

/* Longest reminder text, setting key and setting value stored, in bytes
 * (-E2BIG). */
#define STORE_REMINDER_TEXT_MAX_BYTES 4000
#define STORE_SETTING_KEY_MAX_BYTES 64
#define STORE_SETTING_VALUE_MAX_BYTES 1000

/* Pending reminders one user may have (-EDQUOT beyond), and the most
 * store_reminder_list_due() returns at once. */
#define STORE_REMINDER_PENDING_MAX 100
#define STORE_REMINDER_DUE_BATCH_MAX 256

enum store_reminder_status {
        STORE_REMINDER_PENDING,
        STORE_REMINDER_FIRED,
        STORE_REMINDER_CANCELLED,
};

struct store_reminder_row {
        int64_t id;
        char *adapter;
        char *account;
        char *chat_id;
        char *user_id;
        char *thread_id;        /* NULL when not in a thread */
        char *text;
        char *rule;             /* recurrence rule (remind.h); NULL for a one-off */
        char *time_zone;        /* IANA name the rule is evaluated in */
        enum store_reminder_status status;
        int64_t due_at_ms;      /* next firing; for a fired one-off, when it was due */
        int64_t fired_at_ms;    /* last firing; 0 if never fired */
        bool late;              /* the last firing came late (daemon was down) */
        int64_t created_at_ms;
};

/* Adds a pending reminder.  adapter, account, chat_id, user_id, text and
 * time_zone must not be NULL and due_at_ms must be positive (-EINVAL);
 * thread_id and rule may be NULL.  -E2BIG for a text over
 * STORE_REMINDER_TEXT_MAX_BYTES, -EDQUOT when the user already has
 * STORE_REMINDER_PENDING_MAX pending reminders.  The rule is stored as
 * given; remind.h defines what it means. */
int store_reminder_add(struct store *s, const char *adapter, const char *account,
                       const char *chat_id, const char *user_id, const char *thread_id,
                       const char *text, int64_t due_at_ms, const char *rule,
                       const char *time_zone, int64_t *ret_id);

/* The user's pending reminders, earliest due first (then by id). */
int store_reminder_list_pending(struct store *s, const char *adapter, const char *account,
                                const char *user_id, struct store_reminder_row **ret,
                                size_t *ret_n);

/* Cancels reminder id.  -ENOENT unless it is a pending reminder of this
 * user (adapter, account, user_id): another user's id reads as unknown. */
int store_reminder_cancel(struct store *s, const char *adapter, const char *account,
                          const char *user_id, int64_t id);

/* Moves reminder id to new_due_at_ms and makes it pending again: a one-off
 * that already fired is re-armed, a recurring one fires at new_due_at_ms
 * and then continues its rule from there.  -ENOENT unless it is a pending
 * or fired reminder of this user. */
int store_reminder_snooze(struct store *s, const char *adapter, const char *account,
                          const char *user_id, int64_t id, int64_t new_due_at_ms);

/* How many reminders are pending (for the metrics). */
int store_reminder_count_pending(struct store *s, int64_t *ret);

/* The earliest due time of any pending reminder; -ENOENT when none. */
int store_reminder_next_due(struct store *s, int64_t *ret_due_at_ms);

/* Pending reminders with due_at_ms <= now_ms, earliest first (then id),
 * at most STORE_REMINDER_DUE_BATCH_MAX: after a long downtime, fire these
 * and ask again. */
int store_reminder_list_due(struct store *s, int64_t now_ms, struct store_reminder_row **ret,
                            size_t *ret_n);

/* Fires reminder id in one durable transaction: queues text in the outbox
 * (as store_outbox_add would, source "reminder", to the reminder's chat and
 * thread) and records it in history, then either marks the reminder fired
 * at now_ms (next_due_at_ms == 0) or, for a recurring one, keeps it pending
 * with due_at_ms = next_due_at_ms.  late is recorded on the row.
 * -ENOENT: no such reminder; -EALREADY: it is fired or cancelled, or not
 * due yet at now_ms (a second firing of the same occurrence); -EINVAL:
 * text NULL, or next_due_at_ms not after the current due time. */
int store_reminder_fire(struct store *s, int64_t id, int64_t now_ms, bool late,
                        int64_t next_due_at_ms, const char *text, int64_t *ret_outbox_id);

/* -ENOENT if there is no such reminder. */
int store_reminder_get(struct store *s, int64_t id, struct store_reminder_row *ret);

void store_reminder_row_clear(struct store_reminder_row *row);
void store_reminder_rows_free(struct store_reminder_row *rows, size_t n);

/* ---- user settings ---- */

/* *ret is NULL when the key is not set.  Key and value limits: -E2BIG. */
int store_setting_get(struct store *s, const char *adapter, const char *account,
                      const char *user_id, const char *key, char **ret);

/* Sets key to value; value NULL removes the key. */
int store_setting_set(struct store *s, const char *adapter, const char *account,
                      const char *user_id, const char *key, const char *value);

/* ---- history queries, retention, and a user's data ---- */

/* Limits on a history search. */
#define STORE_SEARCH_QUERY_MAX_BYTES 512
#define STORE_SEARCH_TERMS_MAX 16
#define STORE_SEARCH_LIMIT_MAX 100

/* The user's own messages in this chat that hold every word of query,
 * newest first, at most limit (capped at STORE_SEARCH_LIMIT_MAX).  Each
 * word of query is matched as a quoted FTS5 term (case and accents
 * ignored), so the user's text is never read as query syntax.  -EINVAL
 * when query holds no letter or digit; -E2BIG over
 * STORE_SEARCH_QUERY_MAX_BYTES or STORE_SEARCH_TERMS_MAX words. */
int store_history_search(struct store *s, const char *adapter, const char *account,
                         const char *chat_id, const char *user_id, const char *query,
                         size_t limit, struct store_history_row **ret, size_t *ret_n);

/* The most exchanges store_history_last_exchanges() returns. */
#define STORE_EXCHANGES_MAX 64

/* An inbound message and the bot's reply to it. */
struct store_exchange {
        struct store_history_row question;
        struct store_history_row answer;
};

/* The last n (at most STORE_EXCHANGES_MAX) answered messages of a chat
 * with their replies, oldest first (in the order the messages were
 * stored).  A message answered twice pairs with its first reply;
 * unanswered messages are not exchanges.  Replies are paired through the
 * inbox row they answer, recorded since schema version 4 (and matched by
 * content for older rows when the database was migrated). */
int store_history_last_exchanges(struct store *s, const char *adapter, const char *account,
                                 const char *chat_id, size_t n, struct store_exchange **ret,
                                 size_t *ret_count);

void store_exchanges_free(struct store_exchange *exchanges, size_t n);

/* What store_user_forget() erased. */
struct store_forget_counts {
        int64_t messages;       /* history rows: the user's, and the bot's
                                 * replies and reminders to the user */
        int64_t reminders;
        int64_t settings;
};

/* Erases a user's data in one transaction: their history rows, the bot's
 * replies to them and reminder firings for them (history and delivered or
 * failed outbox rows), their reminders and settings; answered inbox rows
 * keep only their event id (for redelivery detection) with text and user
 * cleared.  A message still being answered and a reply not yet delivered
 * are left for the delivery path, which owes them.  Freed pages are
 * overwritten (secure_delete) and the search index is rebuilt without the
 * erased words, so the text does not linger in the file; the write-ahead
 * log is checkpointed afterwards when no reader holds it. */
int store_user_forget(struct store *s, const char *adapter, const char *account,
                      const char *user_id, struct store_forget_counts *ret);

/* Writes every message, reminder and setting of the user to out as JSON
 * lines, read in one snapshot.  The first line describes the export:
 * {"type":"export","version":1,"adapter":...,"account":...,"user_id":...,
 * "exported_at_ms":...}; then {"type":"message",...} per history row
 * (the user's and the bot's to the user, as forget would erase),
 * {"type":"reminder",...} and {"type":"setting",...}.  Returns the number
 * of lines written; -EIO when out fails. */
int store_user_export(struct store *s, const char *adapter, const char *account,
                      const char *user_id, FILE *out);

/* What store_history_prune() removed. */
struct store_prune_counts {
        int64_t history;        /* history rows */
        int64_t inbox;          /* answered inbox rows */
        int64_t outbox;         /* delivered or failed outbox rows */
        int64_t reminders;      /* fired one-off and cancelled reminders */
};

/* Removes, in one transaction, what the retention period no longer
 * covers: history rows older than older_than_ms, answered inbox rows
 * received before it, delivered or failed outbox rows created before it,
 * one-off reminders fired before it and cancelled reminders created
 * before it.  Pending work is never
 * removed.  A removed inbox row no longer detects a redelivery, so the
 * period must be longer than any platform's redelivery window (a day). */
int store_history_prune(struct store *s, int64_t older_than_ms, struct store_prune_counts *ret);

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

void store_inbox_row_clear(struct store_inbox_row *row);
void store_inbox_rows_free(struct store_inbox_row *rows, size_t n);
void store_outbox_row_clear(struct store_outbox_row *row);
void store_outbox_rows_free(struct store_outbox_row *rows, size_t n);
void store_history_rows_free(struct store_history_row *rows, size_t n);

#endif
