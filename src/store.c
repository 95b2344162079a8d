/* store.c: parley's durable state in one SQLite database.
 *
 * The schema is versioned with PRAGMA user_version.  store_migrations[i]
 * takes a database from version i to i + 1, in its own transaction that
 * also bumps user_version, so a crash mid-migration leaves the previous
 * version intact.  Steps are never edited once released; a change is a new
 * step.
 *
 *   v1  inbox, outbox, cursors: what the delivery guarantee needs.  An
 *       inbound event is accepted (with its cursor) before the platform is
 *       acknowledged, and a reply is queued in the transaction that marks
 *       its event done, so a crash neither loses nor repeats a message.
 *   v2  history with an external-content FTS5 index kept by triggers:
 *       the conversation context, and search over it.  The step fills
 *       history from the inbox and outbox rows a v1 database already holds.
 *   v3  reminders and per-user settings, for the reminder scheduler and
 *       user preferences (time zone, language).
 *   v4  links from history to what a row belongs to: inbox_id (the inbound
 *       message, or the one a reply answers) and reminder_id (a reminder's
 *       firing), and reminder_id on the outbox.  They let a user's data be
 *       found whole for erasure and export, and a message be paired with
 *       its reply.  Rows already stored are linked by matching content
 *       (chat, user, text, time) with the inbox and outbox rows they came
 *       from; no foreign keys, as a link may outlive pruned inbox rows.
 *
 * Opening is careful not to damage what is not ours: the first read
 * (user_version) happens before anything is written, and a file that is
 * not a database, is corrupt, belongs to another program or has a newer
 * schema is refused before WAL is switched on or a table created.
 * PRAGMA quick_check reads every page, so it runs only on databases up to
 * STORE_QUICK_CHECK_MAX_BYTES; larger ones rely on SQLite's own checks on
 * first read (header, size) and report corruption when a query meets it. */
#include "autoconfig.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <utf8proc.h>

#include "macro.h"
#include "store.h"

/* How long a call waits for another connection's lock before -EBUSY. */
#define STORE_BUSY_TIMEOUT_MS 5000

/* quick_check reads the whole file: about 0.3 s for 78 MB from the page
 * cache, far more from a cold disk, so start-up checks only small ones. */
#define STORE_QUICK_CHECK_MAX_BYTES (32LL * 1024 * 1024)

/* SQLite's smallest page; a database file holds at least one. */
#define STORE_FILE_MIN_BYTES 512

/* The idempotency key: random bytes, written as hex. */
#define STORE_KEY_BYTES 16

/* How store_open ends a sentence about a file it leaves alone. */
#define REFUSED " (refusing to touch it)"

static const char *const store_migrations[] = {
        /* v1 */
        "CREATE TABLE inbox (\n"
        "  id INTEGER PRIMARY KEY,\n"
        "  adapter TEXT NOT NULL,\n"
        "  account TEXT NOT NULL,\n"
        "  event_id TEXT NOT NULL,\n"
        "  chat_id TEXT,\n"
        "  user_id TEXT,\n"
        "  user_name TEXT,\n"
        "  thread_id TEXT,\n"
        "  message_id TEXT,\n"
        "  text TEXT,\n"
        "  direct INTEGER NOT NULL CHECK (direct IN (0, 1)),\n"
        "  addressed INTEGER NOT NULL CHECK (addressed IN (0, 1)),\n"
        "  sent_at_ms INTEGER NOT NULL,\n"
        "  received_at_ms INTEGER NOT NULL,\n"
        "  status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'done')),\n"
        "  done_at_ms INTEGER,\n"
        "  UNIQUE (adapter, account, event_id)\n"
        ");\n"
        "CREATE INDEX inbox_undone ON inbox (id) WHERE status = 'new';\n"
        "CREATE TABLE outbox (\n"
        "  id INTEGER PRIMARY KEY,\n"
        "  inbox_id INTEGER REFERENCES inbox (id) ON DELETE SET NULL,\n"
        "  adapter TEXT NOT NULL,\n"
        "  account TEXT NOT NULL,\n"
        "  chat_id TEXT NOT NULL,\n"
        "  thread_id TEXT,\n"
        "  reply_to TEXT,\n"
        "  text TEXT NOT NULL,\n"
        "  source TEXT NOT NULL,\n"
        "  idempotency_key TEXT NOT NULL UNIQUE,\n"
        "  status TEXT NOT NULL DEFAULT 'pending'\n"
        "    CHECK (status IN ('pending', 'sent', 'failed')),\n"
        "  attempts INTEGER NOT NULL DEFAULT 0,\n"
        "  last_error TEXT,\n"
        "  platform_message_id TEXT,\n"
        "  created_at_ms INTEGER NOT NULL,\n"
        "  sent_at_ms INTEGER\n"
        ");\n"
        "CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';\n"
        "CREATE INDEX outbox_inbox ON outbox (inbox_id);\n"
        "CREATE TABLE cursors (\n"
        "  adapter TEXT NOT NULL,\n"
        "  account TEXT NOT NULL,\n"
        "  cursor TEXT NOT NULL,\n"
        "  updated_at_ms INTEGER NOT NULL,\n"
        "  PRIMARY KEY (adapter, account)\n"
        ") WITHOUT ROWID;\n",

        /* v2 */
        "CREATE TABLE history (\n"
        "  id INTEGER PRIMARY KEY,\n"
        "  adapter TEXT NOT NULL,\n"
        "  account TEXT NOT NULL,\n"
        "  chat_id TEXT,\n"
        "  thread_id TEXT,\n"
        "  user_id TEXT,\n"
        "  user_name TEXT,\n"
        "  text TEXT,\n"
        "  outbound INTEGER NOT NULL CHECK (outbound IN (0, 1)),\n"
        "  at_ms INTEGER NOT NULL\n"
        ");\n"
        "CREATE INDEX history_chat ON history (adapter, account, chat_id, id);\n"
        "CREATE INDEX history_user ON history (adapter, account, user_id);\n"
        "CREATE VIRTUAL TABLE history_fts USING fts5 (\n"
        "  text, content = 'history', content_rowid = 'id',\n"
        "  tokenize = 'unicode61 remove_diacritics 2'\n"
        ");\n"
        "CREATE TRIGGER history_fts_insert AFTER INSERT ON history BEGIN\n"
        "  INSERT INTO history_fts (rowid, text) VALUES (new.id, new.text);\n"
        "END;\n"
        "CREATE TRIGGER history_fts_delete AFTER DELETE ON history BEGIN\n"
        "  INSERT INTO history_fts (history_fts, rowid, text)\n"
        "    VALUES ('delete', old.id, old.text);\n"
        "END;\n"
        "CREATE TRIGGER history_fts_update AFTER UPDATE OF text ON history BEGIN\n"
        "  INSERT INTO history_fts (history_fts, rowid, text)\n"
        "    VALUES ('delete', old.id, old.text);\n"
        "  INSERT INTO history_fts (rowid, text) VALUES (new.id, new.text);\n"
        "END;\n"
        "INSERT INTO history\n"
        "  (adapter, account, chat_id, thread_id, user_id, user_name, text,\n"
        "   outbound, at_ms)\n"
        "  SELECT adapter, account, chat_id, thread_id, user_id, user_name,\n"
        "         text, outbound, at_ms FROM (\n"
        "    SELECT adapter, account, chat_id, thread_id, user_id, user_name,\n"
        "           text, 0 AS outbound,\n"
        "           CASE WHEN sent_at_ms > 0 THEN sent_at_ms\n"
        "                ELSE received_at_ms END AS at_ms,\n"
        "           received_at_ms AS stored_at_ms, 0 AS kind, id\n"
        "      FROM inbox\n"
        "    UNION ALL\n"
        "    SELECT adapter, account, chat_id, thread_id, NULL, NULL,\n"
        "           text, 1, created_at_ms, created_at_ms, 1, id\n"
        "      FROM outbox)\n"
        "  ORDER BY stored_at_ms, kind, id;\n",

        /* v3 */
        "CREATE TABLE reminders (\n"
        "  id INTEGER PRIMARY KEY,\n"
        "  adapter TEXT NOT NULL,\n"
        "  account TEXT NOT NULL,\n"
        "  chat_id TEXT NOT NULL,\n"
        "  user_id TEXT NOT NULL,\n"
        "  thread_id TEXT,\n"
        "  text TEXT NOT NULL,\n"
        "  due_at_ms INTEGER NOT NULL,\n"
        "  recurrence TEXT,\n"
        "  time_zone TEXT NOT NULL,\n"
        "  status TEXT NOT NULL DEFAULT 'pending'\n"
        "    CHECK (status IN ('pending', 'fired', 'cancelled')),\n"
        "  fired_at_ms INTEGER,\n"
        "  late INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1)),\n"
        "  created_at_ms INTEGER NOT NULL\n"
        ");\n"
        "CREATE INDEX reminders_due ON reminders (due_at_ms)\n"
        "  WHERE status = 'pending';\n"
        "CREATE INDEX reminders_user ON reminders (adapter, account, user_id);\n"
        "CREATE TABLE settings (\n"
        "  adapter TEXT NOT NULL,\n"
        "  account TEXT NOT NULL,\n"
        "  user_id TEXT NOT NULL,\n"
        "  key TEXT NOT NULL,\n"
        "  value TEXT NOT NULL,\n"
        "  PRIMARY KEY (adapter, account, user_id, key)\n"
        ") WITHOUT ROWID;\n",

        /* v4 */
        "ALTER TABLE history ADD COLUMN inbox_id INTEGER;\n"
        "ALTER TABLE history ADD COLUMN reminder_id INTEGER;\n"
        "ALTER TABLE outbox ADD COLUMN reminder_id INTEGER;\n"
        "CREATE INDEX history_inbox ON history (inbox_id)\n"
        "  WHERE inbox_id IS NOT NULL;\n"
        "CREATE INDEX history_reminder ON history (reminder_id)\n"
        "  WHERE reminder_id IS NOT NULL;\n"
        "CREATE INDEX outbox_reminder ON outbox (reminder_id)\n"
        "  WHERE reminder_id IS NOT NULL;\n"
        "UPDATE history SET inbox_id = (\n"
        "  SELECT i.id FROM inbox i\n"
        "   WHERE i.adapter = history.adapter AND i.account = history.account\n"
        "     AND i.chat_id IS history.chat_id AND i.user_id IS history.user_id\n"
        "     AND i.text IS history.text\n"
        "     AND CASE WHEN i.sent_at_ms > 0 THEN i.sent_at_ms\n"
        "              ELSE i.received_at_ms END = history.at_ms\n"
        "   ORDER BY i.id LIMIT 1)\n"
        "  WHERE outbound = 0;\n"
        "UPDATE history SET inbox_id = (\n"
        "  SELECT o.inbox_id FROM outbox o\n"
        "   WHERE o.adapter = history.adapter AND o.account = history.account\n"
        "     AND o.chat_id IS history.chat_id AND o.text IS history.text\n"
        "     AND o.created_at_ms = history.at_ms\n"
        "   ORDER BY o.id LIMIT 1)\n"
        "  WHERE outbound = 1;\n",
};

const int store_schema_version = ELEMENTSOF(store_migrations);

enum store_stmt {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_SAVEPOINT,
        STMT_RELEASE,
        STMT_ROLLBACK_TO,
        STMT_INBOX_INSERT,
        STMT_INBOX_STATUS,
        STMT_INBOX_MARK_DONE,
        STMT_INBOX_LIST_UNDONE,
        STMT_OUTBOX_INSERT,
        STMT_OUTBOX_GET,
        STMT_OUTBOX_LIST_PENDING,
        STMT_OUTBOX_STATUS,
        STMT_OUTBOX_MARK_SENT,
        STMT_OUTBOX_MARK_ATTEMPT,
        STMT_HISTORY_INSERT,
        STMT_HISTORY_RECENT,
        STMT_CURSOR_GET,
        STMT_CURSOR_SET,
        STMT_COUNTS,
        STMT_BEGIN_READ,
        STMT_REMINDER_INSERT,
        STMT_REMINDER_COUNT_PENDING,
        STMT_REMINDER_GET,
        STMT_REMINDER_LIST_PENDING,
        STMT_REMINDER_LIST_DUE,
        STMT_REMINDER_NEXT_DUE,
        STMT_REMINDER_CANCEL,
        STMT_REMINDER_SNOOZE,
        STMT_REMINDER_FIRE_ONCE,
        STMT_REMINDER_FIRE_AGAIN,
        STMT_SETTING_GET,
        STMT_SETTING_SET,
        STMT_SETTING_DELETE,
        STMT_HISTORY_SEARCH,
        STMT_HISTORY_EXCHANGES,
        STMT_FORGET_HISTORY,
        STMT_FORGET_OUTBOX,
        STMT_FORGET_INBOX,
        STMT_FORGET_REMINDERS,
        STMT_FORGET_SETTINGS,
        STMT_FTS_OPTIMIZE,
        STMT_EXPORT_HISTORY,
        STMT_EXPORT_REMINDERS,
        STMT_EXPORT_SETTINGS,
        STMT_PRUNE_HISTORY,
        STMT_PRUNE_OUTBOX,
        STMT_PRUNE_INBOX,
        STMT_PRUNE_REMINDERS,
        STMT_REMINDER_COUNT_ALL_PENDING,
        _STMT_MAX,
};

#define INBOX_COLUMNS                                               \
        "adapter, account, event_id, chat_id, user_id, user_name, " \
        "thread_id, message_id, text, id, direct, addressed, "      \
        "sent_at_ms, received_at_ms"

#define OUTBOX_COLUMNS                                                   \
        "adapter, account, chat_id, thread_id, reply_to, text, source, " \
        "idempotency_key, platform_message_id, last_error, status, id, " \
        "inbox_id, attempts, created_at_ms, sent_at_ms"

#define HISTORY_COLUMNS                                                    \
        "adapter, account, chat_id, thread_id, user_id, user_name, text, " \
        "id, outbound, at_ms"

/* HISTORY_COLUMNS of the tables q (a question) and a (its answer). */
#define EXCHANGE_COLUMNS                                                      \
        "q.adapter, q.account, q.chat_id, q.thread_id, q.user_id, q.user_name, " \
        "q.text, q.id, q.outbound, q.at_ms, "                                   \
        "a.adapter, a.account, a.chat_id, a.thread_id, a.user_id, a.user_name, " \
        "a.text, a.id, a.outbound, a.at_ms"

#define REMINDER_COLUMNS                                                 \
        "adapter, account, chat_id, user_id, thread_id, text, recurrence, " \
        "time_zone, status, id, due_at_ms, fired_at_ms, late, created_at_ms"

/* The rows that are a user's (?1 adapter, ?2 account, ?3 user_id): their
 * own messages, the replies to them and their reminders' firings. */
#define USER_HISTORY                                                          \
        "adapter = ?1 AND account = ?2 AND (user_id = ?3"                    \
        " OR inbox_id IN (SELECT id FROM inbox"                              \
        "  WHERE adapter = ?1 AND account = ?2 AND user_id = ?3)"            \
        " OR reminder_id IN (SELECT id FROM reminders"                       \
        "  WHERE adapter = ?1 AND account = ?2 AND user_id = ?3))"

static const char *const store_sql[_STMT_MAX] = {
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
        [STMT_SAVEPOINT] = "SAVEPOINT op",
        [STMT_RELEASE] = "RELEASE op",
        [STMT_ROLLBACK_TO] = "ROLLBACK TO op",
        [STMT_INBOX_INSERT] =
                "INSERT INTO inbox (adapter, account, event_id, chat_id, user_id,"
                " user_name, thread_id, message_id, text, direct, addressed,"
                " sent_at_ms, received_at_ms)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                " ON CONFLICT (adapter, account, event_id) DO NOTHING",
        [STMT_INBOX_STATUS] =
                "SELECT adapter, account, status FROM inbox WHERE id = ?1",
        [STMT_INBOX_MARK_DONE] =
                "UPDATE inbox SET status = 'done', done_at_ms = ?2"
                " WHERE id = ?1 AND status = 'new'",
        [STMT_INBOX_LIST_UNDONE] =
                "SELECT " INBOX_COLUMNS " FROM inbox"
                " WHERE status = 'new' AND (?1 IS NULL OR adapter = ?1) ORDER BY id",
        [STMT_OUTBOX_INSERT] =
                "INSERT INTO outbox (inbox_id, adapter, account, chat_id, thread_id,"
                " reply_to, text, source, idempotency_key, created_at_ms, reminder_id)"
                " VALUES (NULLIF(?1, 0), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                " NULLIF(?11, 0))",
        [STMT_OUTBOX_GET] =
                "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE id = ?1",
        [STMT_OUTBOX_LIST_PENDING] =
                "SELECT " OUTBOX_COLUMNS " FROM outbox"
                " WHERE status = 'pending' AND (?1 IS NULL OR adapter = ?1) ORDER BY id",
        [STMT_OUTBOX_STATUS] = "SELECT status FROM outbox WHERE id = ?1",
        [STMT_OUTBOX_MARK_SENT] =
                "UPDATE outbox SET status = 'sent', platform_message_id = ?2,"
                " sent_at_ms = ?3 WHERE id = ?1 AND status = 'pending'",
        [STMT_OUTBOX_MARK_ATTEMPT] =
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,"
                " status = CASE WHEN ?3 THEN 'failed' ELSE status END"
                " WHERE id = ?1 AND status = 'pending'",
        [STMT_HISTORY_INSERT] =
                "INSERT INTO history (adapter, account, chat_id, thread_id, user_id,"
                " user_name, text, outbound, at_ms, inbox_id, reminder_id)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULLIF(?10, 0),"
                " NULLIF(?11, 0))",
        [STMT_HISTORY_RECENT] =
                "SELECT * FROM (SELECT " HISTORY_COLUMNS " FROM history"
                " WHERE adapter = ?1 AND account = ?2 AND chat_id = ?3"
                " ORDER BY id DESC LIMIT ?4) ORDER BY id",
        [STMT_CURSOR_GET] =
                "SELECT cursor FROM cursors WHERE adapter = ?1 AND account = ?2",
        [STMT_CURSOR_SET] =
                "INSERT INTO cursors (adapter, account, cursor, updated_at_ms)"
                " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (adapter, account)"
                " DO UPDATE SET cursor = excluded.cursor,"
                " updated_at_ms = excluded.updated_at_ms",
        [STMT_COUNTS] =
                "SELECT (SELECT count(*) FROM inbox),"
                " (SELECT count(*) FROM inbox WHERE status = 'new'),"
                " (SELECT count(*) FROM outbox),"
                " (SELECT count(*) FROM outbox WHERE status = 'pending'),"
                " (SELECT count(*) FROM outbox WHERE status = 'sent'),"
                " (SELECT count(*) FROM outbox WHERE status = 'failed'),"
                " (SELECT count(*) FROM history),"
                " (SELECT count(*) FROM reminders)",
        [STMT_BEGIN_READ] = "BEGIN",
        [STMT_REMINDER_COUNT_ALL_PENDING] =
                "SELECT count(*) FROM reminders WHERE status = 'pending'",
        [STMT_REMINDER_INSERT] =
                "INSERT INTO reminders (adapter, account, chat_id, user_id, thread_id,"
                " text, due_at_ms, recurrence, time_zone, created_at_ms)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        [STMT_REMINDER_COUNT_PENDING] =
                "SELECT count(*) FROM reminders WHERE adapter = ?1 AND account = ?2"
                " AND user_id = ?3 AND status = 'pending'",
        [STMT_REMINDER_GET] =
                "SELECT " REMINDER_COLUMNS " FROM reminders WHERE id = ?1",
        [STMT_REMINDER_LIST_PENDING] =
                "SELECT " REMINDER_COLUMNS " FROM reminders"
                " WHERE adapter = ?1 AND account = ?2 AND user_id = ?3"
                " AND status = 'pending' ORDER BY due_at_ms, id",
        [STMT_REMINDER_LIST_DUE] =
                "SELECT " REMINDER_COLUMNS " FROM reminders"
                " WHERE status = 'pending' AND due_at_ms <= ?1"
                " ORDER BY due_at_ms, id LIMIT ?2",
        [STMT_REMINDER_NEXT_DUE] =
                "SELECT due_at_ms FROM reminders WHERE status = 'pending'"
                " ORDER BY due_at_ms LIMIT 1",
        [STMT_REMINDER_CANCEL] =
                "UPDATE reminders SET status = 'cancelled'"
                " WHERE id = ?4 AND adapter = ?1 AND account = ?2 AND user_id = ?3"
                " AND status = 'pending'",
        [STMT_REMINDER_SNOOZE] =
                "UPDATE reminders SET status = 'pending', due_at_ms = ?5, late = 0"
                " WHERE id = ?4 AND adapter = ?1 AND account = ?2 AND user_id = ?3"
                " AND status IN ('pending', 'fired')",
        [STMT_REMINDER_FIRE_ONCE] =
                "UPDATE reminders SET status = 'fired', fired_at_ms = ?2, late = ?3"
                " WHERE id = ?1 AND status = 'pending'",
        [STMT_REMINDER_FIRE_AGAIN] =
                "UPDATE reminders SET due_at_ms = ?4, fired_at_ms = ?2, late = ?3"
                " WHERE id = ?1 AND status = 'pending'",
        [STMT_SETTING_GET] =
                "SELECT value FROM settings WHERE adapter = ?1 AND account = ?2"
                " AND user_id = ?3 AND key = ?4",
        [STMT_SETTING_SET] =
                "INSERT INTO settings (adapter, account, user_id, key, value)"
                " VALUES (?1, ?2, ?3, ?4, ?5)"
                " ON CONFLICT (adapter, account, user_id, key)"
                " DO UPDATE SET value = excluded.value",
        [STMT_SETTING_DELETE] =
                "DELETE FROM settings WHERE adapter = ?1 AND account = ?2"
                " AND user_id = ?3 AND key = ?4",
        [STMT_HISTORY_SEARCH] =
                "SELECT " HISTORY_COLUMNS " FROM history"
                " WHERE id IN (SELECT rowid FROM history_fts WHERE history_fts MATCH ?1)"
                " AND adapter = ?2 AND account = ?3 AND chat_id = ?4 AND user_id = ?5"
                " AND outbound = 0 ORDER BY id DESC LIMIT ?6",
        [STMT_HISTORY_EXCHANGES] =
                "SELECT " EXCHANGE_COLUMNS " FROM history q"
                " JOIN history a ON a.id = (SELECT min(r.id) FROM history r"
                "  WHERE r.inbox_id = q.inbox_id AND r.outbound = 1)"
                " WHERE q.adapter = ?1 AND q.account = ?2 AND q.chat_id = ?3"
                " AND q.outbound = 0 AND q.inbox_id IS NOT NULL"
                " ORDER BY q.id DESC LIMIT ?4",
        [STMT_FORGET_HISTORY] = "DELETE FROM history WHERE " USER_HISTORY,
        [STMT_FORGET_OUTBOX] =
                "DELETE FROM outbox WHERE status <> 'pending' AND (inbox_id IN"
                " (SELECT id FROM inbox WHERE adapter = ?1 AND account = ?2"
                "  AND user_id = ?3)"
                " OR reminder_id IN (SELECT id FROM reminders WHERE adapter = ?1"
                "  AND account = ?2 AND user_id = ?3))",
        [STMT_FORGET_INBOX] =
                "UPDATE inbox SET text = NULL, user_id = NULL, user_name = NULL"
                " WHERE adapter = ?1 AND account = ?2 AND user_id = ?3"
                " AND status = 'done'",
        [STMT_FORGET_REMINDERS] =
                "DELETE FROM reminders WHERE adapter = ?1 AND account = ?2"
                " AND user_id = ?3",
        [STMT_FORGET_SETTINGS] =
                "DELETE FROM settings WHERE adapter = ?1 AND account = ?2"
                " AND user_id = ?3",
        [STMT_FTS_OPTIMIZE] =
                "INSERT INTO history_fts (history_fts) VALUES ('optimize')",
        [STMT_EXPORT_HISTORY] =
                "SELECT " HISTORY_COLUMNS " FROM history WHERE " USER_HISTORY
                " ORDER BY id",
        [STMT_EXPORT_REMINDERS] =
                "SELECT " REMINDER_COLUMNS " FROM reminders"
                " WHERE adapter = ?1 AND account = ?2 AND user_id = ?3 ORDER BY id",
        [STMT_EXPORT_SETTINGS] =
                "SELECT key, value FROM settings WHERE adapter = ?1 AND account = ?2"
                " AND user_id = ?3 ORDER BY key",
        [STMT_PRUNE_HISTORY] = "DELETE FROM history WHERE at_ms < ?1",
        [STMT_PRUNE_OUTBOX] =
                "DELETE FROM outbox WHERE status <> 'pending' AND created_at_ms < ?1",
        [STMT_PRUNE_INBOX] =
                "DELETE FROM inbox WHERE status = 'done' AND received_at_ms < ?1"
                " AND id NOT IN (SELECT inbox_id FROM outbox"
                "  WHERE status = 'pending' AND inbox_id IS NOT NULL)",
        [STMT_PRUNE_REMINDERS] =
                "DELETE FROM reminders WHERE (status = 'fired' AND fired_at_ms < ?1)"
                " OR (status = 'cancelled' AND created_at_ms < ?1)",
};

static const char *const outbox_status_names[] = {
        [STORE_OUTBOX_PENDING] = "pending",
        [STORE_OUTBOX_SENT] = "sent",
        [STORE_OUTBOX_FAILED] = "failed",
};

struct store {
        sqlite3 *db;
        char *path;
        sqlite3_stmt *stmts[_STMT_MAX];
        char error[STORE_ERROR_MAX];
        bool in_batch;                  /* operations are savepoints of one transaction */
        bool batch_lost;                /* SQLite rolled the batch's transaction back */
};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A negative errno for an SQLite result code.  For open and I/O errors the
 * system's own errno says more, when SQLite kept it. */
static int errno_from_sqlite(sqlite3 *db, int rc)
{
        int system_errno = db ? sqlite3_system_errno(db) : 0;

        switch (rc & 0xff) {
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_CONSTRAINT:
                return rc == SQLITE_CONSTRAINT_UNIQUE ? -EEXIST : -EINVAL;
        case SQLITE_INTERRUPT:
                return -EINTR;
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR:
                return system_errno > 0 ? -system_errno : -EIO;
        default:
                return -EIO;
        }
}

/* Says what went wrong in s->error and returns r. */
static int store_fail_msg(struct store *s, int r, const char *format, ...)
        _printf_(3, 4);

static int store_fail_msg(struct store *s, int r, const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        vsnprintf(s->error, sizeof(s->error), format, ap);
        va_end(ap);
        return r;
}

/* Records what SQLite said about a failed step of what, and returns the
 * matching negative errno. */
static int store_fail(struct store *s, int rc, const char *what)
{
        return store_fail_msg(s, errno_from_sqlite(s->db, rc), "%s: %s", what,
                              sqlite3_errmsg(s->db));
}

static void stmt_resetp(sqlite3_stmt **st)
{
        if (*st) {
                sqlite3_reset(*st);
                sqlite3_clear_bindings(*st);
        }
}
#define _cleanup_reset_ _cleanup_(stmt_resetp)

/* A cached statement, ready to bind.  Callers hold it in a _cleanup_reset_
 * local, so no statement outlives its call with a read transaction open. */
static sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id)
{
        sqlite3_stmt *st = s->stmts[id];

        sqlite3_reset(st);
        return st;
}

/* Binds parameters 1, 2, ... of st, one per letter of types: 't' a string
 * (NULL binds NULL), 'i' an int64_t, 'b' a bool.  The macro below counts
 * the arguments, so a types string, an argument list and the statement's
 * parameters that disagree are a programmer error caught on first use. */
static int store_bind_n(struct store *s, sqlite3_stmt *st, const char *types,
                        size_t n_args, ...)
{
        int rc = SQLITE_OK;
        va_list ap;

        assert(strlen(types) == n_args);
        assert(sqlite3_bind_parameter_count(st) == (int)n_args);

        va_start(ap, n_args);
        for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
                switch (types[i]) {
                case 't':
                        rc = sqlite3_bind_text(st, i + 1,
                                               va_arg(ap, const char *), -1,
                                               SQLITE_STATIC);
                        break;
                case 'i':
                        rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
                        break;
                case 'b':
                        rc = sqlite3_bind_int(st, i + 1,
                                              va_arg(ap, int) ? 1 : 0);
                        break;
                default:
                        assert(!"store_bind: unknown parameter type");
                }
        }
        va_end(ap);

        if (rc != SQLITE_OK)
                return store_fail(s, rc, "binding parameters");
        return 0;
}

#define STORE_NARGS(...)                                                     \
        STORE_NARGS_(__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, \
                     4, 3, 2, 1)
#define STORE_NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, \
                     _14, _15, _16, n, ...)                                  \
        n
#define store_bind(s, st, types, ...) \
        store_bind_n(s, st, types, STORE_NARGS(__VA_ARGS__), __VA_ARGS__)

/* Runs a statement that returns no row. */
static int store_step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
        int rc = sqlite3_step(st);

        if (rc != SQLITE_DONE)
                return store_fail(s, rc, what);
        return 0;
}

/* Steps to the next row: 1 for a row, 0 at the end. */
static int store_step_row(struct store *s, sqlite3_stmt *st, const char *what)
{
        int rc = sqlite3_step(st);

        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return store_fail(s, rc, what);
}

/* Copies n text columns, starting at first, into *fields[i].  A NULL
 * column stays NULL.  On failure the fields already set stay set, for the
 * row's destructor. */
static int columns_strdup(sqlite3_stmt *st, int first, char **const fields[],
                          size_t n)
{
        for (size_t i = 0; i < n; i++) {
                int column = first + (int)i;
                const char *text;

                if (sqlite3_column_type(st, column) == SQLITE_NULL)
                        continue;

                text = (const char *)sqlite3_column_text(st, column);
                if (!text)
                        return -ENOMEM;

                *fields[i] = strdup(text);
                if (!*fields[i])
                        return -ENOMEM;
        }
        return 0;
}

/* Inside a batch an operation is a savepoint of the batch's transaction:
 * it can fail alone, and becomes durable with the batch. */
static int store_begin(struct store *s)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL;

        /* SQLite rolls a whole transaction back after some I/O and memory
         * errors; nothing may run after that until the batch is redone. */
        if (s->in_batch && (s->batch_lost || sqlite3_get_autocommit(s->db))) {
                s->batch_lost = true;
                return store_fail_msg(s, -EIO, "the batch's transaction was rolled back");
        }
        st = store_stmt(s, s->in_batch ? STMT_SAVEPOINT : STMT_BEGIN);
        return store_step_done(s, st, "beginning a transaction");
}

/* Undoes the open transaction, unless SQLite already has (it does after
 * some I/O and memory errors), and passes r through.  The error text of the
 * failure that led here is kept.  ROLLBACK fails only when the disk does,
 * and then SQLite rolls the journal back on the next access. */
static int store_rollback(struct store *s, int r)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL;

        if (sqlite3_get_autocommit(s->db)) {
                if (s->in_batch)
                        s->batch_lost = true;
                return r;
        }

        if (s->in_batch) {
                _cleanup_reset_ sqlite3_stmt *release = NULL;

                st = store_stmt(s, STMT_ROLLBACK_TO);
                sqlite3_step(st);
                release = store_stmt(s, STMT_RELEASE);
                sqlite3_step(release);
                return r;
        }

        st = store_stmt(s, STMT_ROLLBACK);
        sqlite3_step(st);
        return r;
}

static int store_commit(struct store *s)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, s->in_batch ? STMT_RELEASE : STMT_COMMIT);
        int r;

        r = store_step_done(s, st, "committing");
        if (r < 0)
                return store_rollback(s, r);
        return 0;
}

int store_batch_begin(struct store *s)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (s->in_batch)
                return store_fail_msg(s, -EALREADY, "a batch is already open");

        st = store_stmt(s, STMT_BEGIN);
        r = store_step_done(s, st, "beginning a batch");
        if (r < 0)
                return r;

        s->in_batch = true;
        s->batch_lost = false;
        return 0;
}

int store_batch_end(struct store *s)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        bool lost = s->batch_lost || sqlite3_get_autocommit(s->db);
        int r;

        if (!s->in_batch)
                return store_fail_msg(s, -EINVAL, "no batch is open");
        s->in_batch = false;

        if (lost) {
                if (!sqlite3_get_autocommit(s->db))
                        store_rollback(s, 0);
                return store_fail_msg(s, -EIO, "the batch's transaction was rolled back");
        }

        st = store_stmt(s, STMT_COMMIT);
        r = store_step_done(s, st, "committing a batch");
        if (r < 0)
                return store_rollback(s, r);
        return 0;
}

static int random_hex(char *ret, size_t n_bytes)
{
        unsigned char bytes[64];
        size_t got = 0;

        assert(n_bytes <= sizeof(bytes));

        while (got < n_bytes) {
                ssize_t k = getrandom(bytes + got, n_bytes - got, 0);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                got += (size_t)k;
        }

        for (size_t i = 0; i < n_bytes; i++)
                snprintf(ret + 2 * i, 3, "%02x", bytes[i]);
        return 0;
}

/* ---- opening ---- */

/* store_open's error sentence, when the caller gave a buffer; returns r. */
static int open_fail(char *error, int r, const char *format, ...)
        _printf_(3, 4);

static int open_fail(char *error, int r, const char *format, ...)
{
        va_list ap;

        if (!error)
                return r;

        va_start(ap, format);
        vsnprintf(error, STORE_ERROR_MAX, format, ap);
        va_end(ap);
        return r;
}

/* The SQLite failure of a read at open, as a sentence naming the file. */
static int open_fail_sqlite(struct store *s, int rc, const char *what,
                            char *error)
{
        int r = errno_from_sqlite(s->db, rc);

        if ((rc & 0xff) == SQLITE_NOTADB)
                return open_fail(error, r, "%s: file is not a database" REFUSED,
                                 s->path);
        if ((rc & 0xff) == SQLITE_CORRUPT)
                return open_fail(error, r,
                                 "%s: database is corrupt: %s" REFUSED, s->path,
                                 sqlite3_errmsg(s->db));
        return open_fail(error, r, "%s: %s: %s", s->path, what,
                         sqlite3_errmsg(s->db));
}

/* Runs one statement at open that yields at most one row and reads its
 * first column as an integer (0 without a row) or, when text is not NULL,
 * copies it as text into text[text_size]. */
static int open_query(struct store *s, const char *sql, int64_t *ret,
                      char *text, size_t text_size, char *error)
{
        sqlite3_stmt *st = NULL;
        int64_t value = 0;
        int rc;

        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        const char *t =
                                (const char *)sqlite3_column_text(st, 0);

                        value = sqlite3_column_int64(st, 0);
                        if (text)
                                snprintf(text, text_size, "%s", t ?: "");
                        rc = SQLITE_DONE;
                }
        }
        sqlite3_finalize(st);

        if (rc != SQLITE_DONE)
                return open_fail_sqlite(s, rc, sql, error);

        if (ret)
                *ret = value;
        return 0;
}

/* What stat() says before SQLite is involved: a directory or a device is
 * refused, and so is a file too short to hold a database page (SQLite
 * would take it for an empty database and write over it).  *ret_size is -1
 * when the file does not exist yet. */
static int open_check_file(const char *path, int64_t *ret_size, char *error)
{
        struct stat st;

        if (stat(path, &st) < 0) {
                if (errno == ENOENT) {
                        *ret_size = -1;
                        return 0;
                }
                return open_fail(error, -errno, "%s: %s", path,
                                 strerror(errno));
        }

        if (S_ISDIR(st.st_mode))
                return open_fail(error, -EISDIR,
                                 "%s: is a directory, not a database file",
                                 path);
        if (!S_ISREG(st.st_mode))
                return open_fail(error, -EBADMSG,
                                 "%s: is not a regular file" REFUSED, path);
        if (st.st_size > 0 && st.st_size < STORE_FILE_MIN_BYTES)
                return open_fail(
                        error, -EBADMSG,
                        "%s: file is not a database: %lld bytes, shorter"
                        " than one page" REFUSED,
                        path, (long long)st.st_size);

        *ret_size = st.st_size;
        return 0;
}

static int open_connection(struct store *s, char *error)
{
        int rc, r;

        rc = sqlite3_open_v2(s->path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
        if (rc != SQLITE_OK) {
                if (!s->db)
                        return open_fail(error, -ENOMEM,
                                         "%s: out of memory opening", s->path);
                r = errno_from_sqlite(s->db, rc);
                return open_fail(error, r, "%s: cannot open: %s", s->path,
                                 strerror(-r));
        }

        /* SQLite falls back to read-only where it may not write. */
        if (sqlite3_db_readonly(s->db, "main") == 1)
                return open_fail(error, -EACCES,
                                 "%s: cannot open for writing: %s", s->path,
                                 strerror(EACCES));

        sqlite3_extended_result_codes(s->db, 1);

        rc = sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
        if (rc != SQLITE_OK)
                return open_fail_sqlite(s, rc, "setting busy_timeout", error);
        return 0;
}

/* Reads, never writes: is this a database we may migrate and use?  Returns
 * its schema version. */
static int open_validate(struct store *s, int64_t file_size, int *ret_version,
                         char *error)
{
        int64_t version, n_tables, page_count, page_size;
        char check[STORE_ERROR_MAX];
        int r;

        r = open_query(s, "PRAGMA user_version", &version, NULL, 0, error);
        if (r < 0)
                return r;

        if (version > store_schema_version)
                return open_fail(error, -EPROTO,
                                 "%s: schema version %" PRId64
                                 " is newer than this build's %d" REFUSED,
                                 s->path, version, store_schema_version);

        if (version < 0)
                return open_fail(error, -EBADMSG,
                                 "%s: schema version %" PRId64
                                 " was not written by parley" REFUSED,
                                 s->path, version);

        r = open_query(s, "SELECT count(*) FROM sqlite_schema", &n_tables, NULL,
                       0, error);
        if (r < 0)
                return r;

        if (version == 0 && n_tables > 0)
                return open_fail(
                        error, -EBADMSG,
                        "%s: a database of another program: user_version 0"
                        " with %" PRId64 " schema objects" REFUSED,
                        s->path, n_tables);

        r = open_query(s, "PRAGMA page_count", &page_count, NULL, 0, error);
        if (r < 0)
                return r;

        r = open_query(s, "PRAGMA page_size", &page_size, NULL, 0, error);
        if (r < 0)
                return r;

        if (file_size > 0 &&
            page_count * page_size <= STORE_QUICK_CHECK_MAX_BYTES) {
                r = open_query(s, "PRAGMA quick_check(1)", NULL, check,
                               sizeof(check), error);
                if (r < 0)
                        return r;

                if (strcmp(check, "ok") != 0)
                        return open_fail(error, -EBADMSG,
                                         "%s: database is corrupt: %s" REFUSED,
                                         s->path, check);
        }

        *ret_version = (int)version;
        return 0;
}

/* Per-connection settings, and WAL, which is stored in the file. */
static int open_configure(struct store *s, char *error)
{
        static const char *const pragmas[] = {
                "PRAGMA synchronous = FULL",
                "PRAGMA foreign_keys = ON",
        };
        char mode[32];
        int r;

        r = open_query(s, "PRAGMA journal_mode = WAL", NULL, mode, sizeof(mode),
                       error);
        if (r < 0)
                return r;

        if (strcmp(mode, "wal") != 0)
                return open_fail(
                        error, -EOPNOTSUPP,
                        "%s: cannot switch to WAL (journal mode is '%s')",
                        s->path, mode);

        for (size_t i = 0; i < ELEMENTSOF(pragmas); i++) {
                r = open_query(s, pragmas[i], NULL, NULL, 0, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int open_exec(struct store *s, const char *sql, const char *what,
                     char *error)
{
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

        if (rc != SQLITE_OK)
                return open_fail_sqlite(s, rc, what, error);
        return 0;
}

/* One migration step in its own transaction.  The version is read again
 * under the write lock, as another process may have migrated meanwhile. */
static int open_migrate_step(struct store *s, int *version, char *error)
{
        int64_t current;
        char sql[64], what[64];
        int r;

        r = open_exec(s, "BEGIN IMMEDIATE", "starting a migration", error);
        if (r < 0)
                return r;

        r = open_query(s, "PRAGMA user_version", &current, NULL, 0, error);
        if (r < 0)
                goto rollback;

        if (current != *version) {
                *version = (int)current;
                return open_exec(s, "ROLLBACK", "ending a migration", error);
        }

        snprintf(what, sizeof(what), "migrating to schema version %d",
                 *version + 1);
        r = open_exec(s, store_migrations[*version], what, error);
        if (r < 0)
                goto rollback;

        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", *version + 1);
        r = open_exec(s, sql, what, error);
        if (r < 0)
                goto rollback;

        r = open_exec(s, "COMMIT", what, error);
        if (r < 0)
                goto rollback;

        *version += 1;
        return 0;

rollback:
        if (!sqlite3_get_autocommit(s->db))
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

static int open_migrate(struct store *s, int version, char *error)
{
        while (version < store_schema_version) {
                int r = open_migrate_step(s, &version, error);

                if (r < 0)
                        return r;
        }

        if (version > store_schema_version)
                return open_fail(
                        error, -EPROTO,
                        "%s: schema version %d is newer than this build's %d",
                        s->path, version, store_schema_version);
        return 0;
}

static int open_prepare(struct store *s, char *error)
{
        for (size_t i = 0; i < _STMT_MAX; i++) {
                int rc = sqlite3_prepare_v3(s->db, store_sql[i], -1,
                                            SQLITE_PREPARE_PERSISTENT,
                                            &s->stmts[i], NULL);

                if (rc != SQLITE_OK)
                        return open_fail_sqlite(s, rc, "preparing statements",
                                                error);
        }
        return 0;
}

void store_free(struct store *s)
{
        if (!s)
                return;

        for (size_t i = 0; i < _STMT_MAX; i++)
                sqlite3_finalize(s->stmts[i]);

        /* With every statement finalized close cannot be left pending;
         * the last connection checkpoints and removes the -wal file. */
        sqlite3_close(s->db);
        free(s->path);
        free(s);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct store *, store_free);

int store_open(const char *path, struct store **ret, char *error)
{
        _cleanup_(store_freep) struct store *s = NULL;
        int64_t file_size = -1;
        int version = 0, r;

        if (!path || !*path || !ret)
                return open_fail(error, -EINVAL,
                                 "store_open: no database path given");

        r = open_check_file(path, &file_size, error);
        if (r < 0)
                return r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return open_fail(error, -ENOMEM, "%s: out of memory", path);

        s->path = strdup(path);
        if (!s->path)
                return open_fail(error, -ENOMEM, "%s: out of memory", path);

        r = open_connection(s, error);
        if (r < 0)
                return r;

        r = open_validate(s, file_size, &version, error);
        if (r < 0)
                return r;

        r = open_configure(s, error);
        if (r < 0)
                return r;

        r = open_migrate(s, version, error);
        if (r < 0)
                return r;

        r = open_prepare(s, error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

const char *store_error(struct store *s)
{
        return s ? s->error : "";
}

/* ---- inbox ---- */

/* inbox_id: the inbound row this message is or answers; reminder_id: the
 * reminder it fires; 0 for none. */
static int history_insert(struct store *s, const char *adapter,
                          const char *account, const char *chat_id,
                          const char *thread_id, const char *user_id,
                          const char *user_name, const char *text,
                          bool outbound, int64_t at_ms, int64_t inbox_id,
                          int64_t reminder_id)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_HISTORY_INSERT);
        int r;

        r = store_bind(s, st, "tttttttbiii", adapter, account, chat_id,
                       thread_id, user_id, user_name, text, outbound, at_ms,
                       inbox_id, reminder_id);
        if (r < 0)
                return r;

        return store_step_done(s, st, "adding to history");
}

/* Inserts one event unless known: 1 and *ret_id when new, 0 when known. */
static int inbox_insert(struct store *s, const char *adapter,
                        const char *account, const struct store_inbound *e,
                        int64_t received_at_ms, int64_t *ret_id)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_INBOX_INSERT);
        int64_t id;
        int r;

        r = store_bind(s, st, "tttttttttbbii", adapter, account, e->event_id,
                       e->chat_id, e->user_id, e->user_name, e->thread_id,
                       e->message_id, e->text, e->direct, e->addressed,
                       e->sent_at_ms, received_at_ms);
        if (r < 0)
                return r;

        r = store_step_done(s, st, "adding to the inbox");
        if (r < 0)
                return r;

        if (sqlite3_changes(s->db) == 0)
                return 0;

        id = sqlite3_last_insert_rowid(s->db);

        r = history_insert(s, adapter, account, e->chat_id, e->thread_id,
                           e->user_id, e->user_name, e->text, false,
                           e->sent_at_ms > 0 ? e->sent_at_ms : received_at_ms,
                           id, 0);
        if (r < 0)
                return r;

        *ret_id = id;
        return 1;
}

static int cursor_write(struct store *s, const char *adapter,
                        const char *account, const char *cursor)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_CURSOR_SET);
        int r;

        r = store_bind(s, st, "ttti", adapter, account, cursor, now_ms());
        if (r < 0)
                return r;

        return store_step_done(s, st, "storing the cursor");
}

/* The body of store_inbox_accept, inside its transaction. */
static int inbox_accept_all(struct store *s, const char *adapter,
                            const char *account,
                            const struct store_inbound *events, size_t n_events,
                            const char *cursor, int64_t *ids)
{
        int64_t received_at_ms = now_ms();
        int n_new = 0, r;

        for (size_t i = 0; i < n_events; i++) {
                ids[i] = 0;
                r = inbox_insert(s, adapter, account, &events[i],
                                 received_at_ms, &ids[i]);
                if (r < 0)
                        return r;
                n_new += r;
        }

        if (cursor) {
                r = cursor_write(s, adapter, account, cursor);
                if (r < 0)
                        return r;
        }
        return n_new;
}

int store_inbox_accept(struct store *s, const char *adapter,
                       const char *account, const struct store_inbound *events,
                       size_t n_events, const char *cursor, int64_t *ret_ids)
{
        _cleanup_free_ int64_t *ids = NULL;
        int n_new, r;

        if (!adapter || !account || (n_events > 0 && !events))
                return store_fail_msg(s, -EINVAL,
                                      "accept: no adapter, account or events");

        if (n_events > INT_MAX)
                return store_fail_msg(
                        s, -E2BIG, "accept: %zu events in one batch", n_events);

        for (size_t i = 0; i < n_events; i++)
                if (!events[i].event_id)
                        return store_fail_msg(s, -EINVAL,
                                              "accept: event %zu has no id", i);

        ids = calloc(n_events ?: 1, sizeof(*ids));
        if (!ids)
                return store_fail_msg(s, -ENOMEM, "accept: out of memory");

        r = store_begin(s);
        if (r < 0)
                return r;

        r = inbox_accept_all(s, adapter, account, events, n_events, cursor,
                             ids);
        if (r < 0)
                return store_rollback(s, r);

        n_new = r;
        r = store_commit(s);
        if (r < 0)
                return r;

        if (ret_ids)
                memcpy(ret_ids, ids, n_events * sizeof(*ids));
        return n_new;
}

/* The inbox row's adapter and account, or -ENOENT / -EALREADY. */
static int inbox_get_open(struct store *s, int64_t inbox_id, char **ret_adapter,
                          char **ret_account)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_INBOX_STATUS);
        char *adapter = NULL, *account = NULL;
        char **const fields[] = { &adapter, &account };
        int r;

        r = store_bind(s, st, "i", inbox_id);
        if (r < 0)
                return r;

        r = store_step_row(s, st, "reading an inbox row");
        if (r < 0)
                return r;
        if (r == 0)
                return store_fail_msg(s, -ENOENT,
                                      "inbox row %" PRId64 " does not exist",
                                      inbox_id);

        if (strcmp((const char *)sqlite3_column_text(st, 2) ?: "", "new") != 0)
                return store_fail_msg(s, -EALREADY,
                                      "inbox row %" PRId64 " is already done",
                                      inbox_id);

        r = columns_strdup(st, 0, fields, ELEMENTSOF(fields));
        if (r < 0) {
                free(adapter);
                free(account);
                return store_fail_msg(s, r,
                                      "reading an inbox row: out of memory");
        }

        *ret_adapter = adapter;
        *ret_account = account;
        return 0;
}

static int inbox_mark_done(struct store *s, int64_t inbox_id)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_INBOX_MARK_DONE);
        int r;

        r = store_bind(s, st, "ii", inbox_id, now_ms());
        if (r < 0)
                return r;

        return store_step_done(s, st, "marking an inbox row done");
}

/* Queues reply in the outbox and history; inbox_id and reminder_id 0 mean
 * none. */
static int outbox_insert(struct store *s, int64_t inbox_id, const char *adapter,
                         const char *account, const struct store_reply *reply,
                         int64_t reminder_id, int64_t *ret_id)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_INSERT);
        char key[2 * STORE_KEY_BYTES + 1];
        int64_t created_at_ms = now_ms(), id;
        int r;

        r = random_hex(key, STORE_KEY_BYTES);
        if (r < 0)
                return store_fail_msg(s, r, "making an idempotency key: %s",
                                      strerror(-r));

        r = store_bind(s, st, "ittttttttii", inbox_id, adapter, account,
                       reply->chat_id, reply->thread_id, reply->reply_to,
                       reply->text, reply->source, key, created_at_ms,
                       reminder_id);
        if (r < 0)
                return r;

        r = store_step_done(s, st, "adding to the outbox");
        if (r < 0)
                return r;

        id = sqlite3_last_insert_rowid(s->db);

        r = history_insert(s, adapter, account, reply->chat_id,
                           reply->thread_id, NULL, NULL, reply->text, true,
                           created_at_ms, inbox_id, reminder_id);
        if (r < 0)
                return r;

        *ret_id = id;
        return 0;
}

static int reply_check(struct store *s, const struct store_reply *reply)
{
        if (!reply->chat_id || !reply->text || !reply->source)
                return store_fail_msg(s, -EINVAL,
                                      "reply lacks chat_id, text or source");
        return 0;
}

static int inbox_complete(struct store *s, int64_t inbox_id,
                          const struct store_reply *reply,
                          int64_t *ret_outbox_id)
{
        _cleanup_free_ char *adapter = NULL, *account = NULL;
        int r;

        r = inbox_get_open(s, inbox_id, &adapter, &account);
        if (r < 0)
                return r;

        r = inbox_mark_done(s, inbox_id);
        if (r < 0)
                return r;

        *ret_outbox_id = 0;
        if (!reply)
                return 0;

        return outbox_insert(s, inbox_id, adapter, account, reply, 0,
                             ret_outbox_id);
}

int store_inbox_complete(struct store *s, int64_t inbox_id,
                         const struct store_reply *reply,
                         int64_t *ret_outbox_id)
{
        int64_t outbox_id;
        int r;

        if (reply) {
                r = reply_check(s, reply);
                if (r < 0)
                        return r;
        }

        r = store_begin(s);
        if (r < 0)
                return r;

        r = inbox_complete(s, inbox_id, reply, &outbox_id);
        if (r < 0)
                return store_rollback(s, r);

        r = store_commit(s);
        if (r < 0)
                return r;

        if (ret_outbox_id)
                *ret_outbox_id = outbox_id;
        return 0;
}

int store_outbox_add(struct store *s, const char *adapter, const char *account,
                     const struct store_reply *reply, int64_t *ret_outbox_id)
{
        int64_t outbox_id;
        int r;

        if (!adapter || !account || !reply)
                return store_fail_msg(s, -EINVAL,
                                      "outbox: no adapter, account or reply");

        r = reply_check(s, reply);
        if (r < 0)
                return r;

        r = store_begin(s);
        if (r < 0)
                return r;

        r = outbox_insert(s, 0, adapter, account, reply, 0, &outbox_id);
        if (r < 0)
                return store_rollback(s, r);

        r = store_commit(s);
        if (r < 0)
                return r;

        if (ret_outbox_id)
                *ret_outbox_id = outbox_id;
        return 0;
}

/* ---- listing ---- */

static void inbox_row_clear(void *p)
{
        struct store_inbox_row *row = p;

        free(row->adapter);
        free(row->account);
        free(row->event_id);
        free(row->chat_id);
        free(row->user_id);
        free(row->user_name);
        free(row->thread_id);
        free(row->message_id);
        free(row->text);
}

void store_inbox_row_clear(struct store_inbox_row *row)
{
        inbox_row_clear(row);
        *row = (struct store_inbox_row){ 0 };
}

void store_inbox_rows_free(struct store_inbox_row *rows, size_t n)
{
        for (size_t i = 0; rows && i < n; i++)
                inbox_row_clear(&rows[i]);
        free(rows);
}

/* Fills one row from the current result of st (a struct store_inbox_row). */
static int inbox_row_read(sqlite3_stmt *st, void *p)
{
        struct store_inbox_row *row = p;
        char **const fields[] = {
                &row->adapter,   &row->account,    &row->event_id,
                &row->chat_id,   &row->user_id,    &row->user_name,
                &row->thread_id, &row->message_id, &row->text,
        };

        *row = (struct store_inbox_row){
                .id = sqlite3_column_int64(st, 9),
                .direct = sqlite3_column_int(st, 10) != 0,
                .addressed = sqlite3_column_int(st, 11) != 0,
                .sent_at_ms = sqlite3_column_int64(st, 12),
                .received_at_ms = sqlite3_column_int64(st, 13),
        };
        return columns_strdup(st, 0, fields, ELEMENTSOF(fields));
}

void store_outbox_row_clear(struct store_outbox_row *row)
{
        if (!row)
                return;

        free(row->adapter);
        free(row->account);
        free(row->chat_id);
        free(row->thread_id);
        free(row->reply_to);
        free(row->text);
        free(row->source);
        free(row->idempotency_key);
        free(row->platform_message_id);
        free(row->last_error);
        *row = (struct store_outbox_row){};
}

void store_outbox_rows_free(struct store_outbox_row *rows, size_t n)
{
        for (size_t i = 0; rows && i < n; i++)
                store_outbox_row_clear(&rows[i]);
        free(rows);
}

static int outbox_status_from_string(const char *s,
                                     enum store_outbox_status *ret)
{
        for (size_t i = 0; i < ELEMENTSOF(outbox_status_names); i++)
                if (s && strcmp(s, outbox_status_names[i]) == 0) {
                        *ret = (enum store_outbox_status)i;
                        return 0;
                }
        return -EBADMSG;
}

/* Fills one row from the current result of st (a struct store_outbox_row). */
static int outbox_row_read(sqlite3_stmt *st, void *p)
{
        struct store_outbox_row *row = p;
        char **const fields[] = {
                &row->adapter,
                &row->account,
                &row->chat_id,
                &row->thread_id,
                &row->reply_to,
                &row->text,
                &row->source,
                &row->idempotency_key,
                &row->platform_message_id,
                &row->last_error,
        };

        *row = (struct store_outbox_row){
                .id = sqlite3_column_int64(st, 11),
                .inbox_id = sqlite3_column_int64(st, 12),
                .attempts = sqlite3_column_int(st, 13),
                .created_at_ms = sqlite3_column_int64(st, 14),
                .sent_at_ms = sqlite3_column_int64(st, 15),
        };

        if (outbox_status_from_string((const char *)sqlite3_column_text(st, 10),
                                      &row->status) < 0)
                return -EBADMSG;

        return columns_strdup(st, 0, fields, ELEMENTSOF(fields));
}

static void history_row_clear(void *p)
{
        struct store_history_row *row = p;

        free(row->adapter);
        free(row->account);
        free(row->chat_id);
        free(row->thread_id);
        free(row->user_id);
        free(row->user_name);
        free(row->text);
}

void store_history_rows_free(struct store_history_row *rows, size_t n)
{
        for (size_t i = 0; rows && i < n; i++)
                history_row_clear(&rows[i]);
        free(rows);
}

/* Fills one row from the current result of st (a struct store_history_row). */
static int history_row_read(sqlite3_stmt *st, void *p)
{
        struct store_history_row *row = p;
        char **const fields[] = {
                &row->adapter, &row->account,   &row->chat_id, &row->thread_id,
                &row->user_id, &row->user_name, &row->text,
        };

        *row = (struct store_history_row){
                .id = sqlite3_column_int64(st, 7),
                .outbound = sqlite3_column_int(st, 8) != 0,
                .at_ms = sqlite3_column_int64(st, 9),
        };
        return columns_strdup(st, 0, fields, ELEMENTSOF(fields));
}

/* Reads every row of st (bound, not yet stepped) into a new array of
 * elements of row_size bytes with read_row; on failure, what was read is
 * released with clear_row. */
static int store_rows_read(struct store *s, sqlite3_stmt *st, const char *what,
                           size_t row_size,
                           int (*read_row)(sqlite3_stmt *, void *),
                           void (*clear_row)(void *), void **ret, size_t *ret_n)
{
        unsigned char *rows = NULL;
        size_t n = 0, allocated = 0;
        int r;

        for (;;) {
                r = store_step_row(s, st, what);
                if (r <= 0)
                        break;

                if (n == allocated) {
                        size_t grown = allocated ? 2 * allocated : 16;
                        void *p = reallocarray(rows, grown, row_size);

                        if (!p) {
                                r = store_fail_msg(s, -ENOMEM,
                                                   "%s: out of memory", what);
                                break;
                        }
                        rows = p;
                        allocated = grown;
                }

                r = read_row(st, rows + n * row_size);
                n++;
                if (r < 0) {
                        r = store_fail_msg(s, r, "%s: %s", what, strerror(-r));
                        break;
                }
        }

        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        clear_row(rows + i * row_size);
                free(rows);
                return r;
        }

        *ret = rows;
        *ret_n = n;
        return 0;
}

static void outbox_row_clear(void *row)
{
        store_outbox_row_clear(row);
}

int store_inbox_list_undone(struct store *s, const char *adapter,
                            struct store_inbox_row **ret, size_t *ret_n)
{
        _cleanup_reset_ sqlite3_stmt *st =
                store_stmt(s, STMT_INBOX_LIST_UNDONE);
        void *rows;
        int r;

        r = store_bind(s, st, "t", adapter);
        if (r < 0)
                return r;

        r = store_rows_read(s, st, "listing undone inbox rows", sizeof(**ret),
                            inbox_row_read, inbox_row_clear, &rows, ret_n);
        if (r < 0)
                return r;

        *ret = rows;
        return 0;
}

int store_outbox_list_pending(struct store *s, const char *adapter,
                              struct store_outbox_row **ret, size_t *ret_n)
{
        _cleanup_reset_ sqlite3_stmt *st =
                store_stmt(s, STMT_OUTBOX_LIST_PENDING);
        void *rows;
        int r;

        r = store_bind(s, st, "t", adapter);
        if (r < 0)
                return r;

        r = store_rows_read(s, st, "listing pending outbox rows", sizeof(**ret),
                            outbox_row_read, outbox_row_clear, &rows, ret_n);
        if (r < 0)
                return r;

        *ret = rows;
        return 0;
}

int store_history_recent(struct store *s, const char *adapter,
                         const char *account, const char *chat_id, size_t limit,
                         struct store_history_row **ret, size_t *ret_n)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_HISTORY_RECENT);
        void *rows;
        int r;

        if (!adapter || !account || !chat_id)
                return store_fail_msg(s, -EINVAL,
                                      "history: no adapter, account or chat");

        r = store_bind(s, st, "ttti", adapter, account, chat_id,
                       (int64_t)(limit > INT64_MAX ? INT64_MAX : limit));
        if (r < 0)
                return r;

        r = store_rows_read(s, st, "reading history", sizeof(**ret),
                            history_row_read, history_row_clear, &rows, ret_n);
        if (r < 0)
                return r;

        *ret = rows;
        return 0;
}

int store_outbox_get(struct store *s, int64_t outbox_id,
                     struct store_outbox_row *ret)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_GET);
        struct store_outbox_row row;
        int r;

        r = store_bind(s, st, "i", outbox_id);
        if (r < 0)
                return r;

        r = store_step_row(s, st, "reading an outbox row");
        if (r < 0)
                return r;
        if (r == 0)
                return store_fail_msg(s, -ENOENT,
                                      "outbox row %" PRId64 " does not exist",
                                      outbox_id);

        r = outbox_row_read(st, &row);
        if (r < 0) {
                store_outbox_row_clear(&row);
                return store_fail_msg(s, r,
                                      "reading outbox row %" PRId64 ": %s",
                                      outbox_id, strerror(-r));
        }

        *ret = row;
        return 0;
}

/* ---- outbox delivery state ---- */

/* After an update of a pending row changed nothing: why. */
static int outbox_not_pending(struct store *s, int64_t outbox_id)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_STATUS);
        int r;

        r = store_bind(s, st, "i", outbox_id);
        if (r < 0)
                return r;

        r = store_step_row(s, st, "reading an outbox row");
        if (r < 0)
                return r;
        if (r == 0)
                return store_fail_msg(s, -ENOENT,
                                      "outbox row %" PRId64 " does not exist",
                                      outbox_id);

        return store_fail_msg(s, -EALREADY,
                              "outbox row %" PRId64 " is already %s", outbox_id,
                              (const char *)sqlite3_column_text(st, 0) ?: "");
}

int store_outbox_mark_sent(struct store *s, int64_t outbox_id,
                           const char *platform_message_id)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_MARK_SENT);
        int r;

        r = store_bind(s, st, "iti", outbox_id, platform_message_id, now_ms());
        if (r < 0)
                return r;

        r = store_step_done(s, st, "marking an outbox row sent");
        if (r < 0)
                return r;

        if (sqlite3_changes(s->db) == 0)
                return outbox_not_pending(s, outbox_id);
        return 0;
}

int store_outbox_mark_attempt(struct store *s, int64_t outbox_id,
                              const char *error, bool permanent)
{
        _cleanup_reset_ sqlite3_stmt *st =
                store_stmt(s, STMT_OUTBOX_MARK_ATTEMPT);
        int r;

        r = store_bind(s, st, "itb", outbox_id, error, permanent);
        if (r < 0)
                return r;

        r = store_step_done(s, st, "counting a delivery attempt");
        if (r < 0)
                return r;

        if (sqlite3_changes(s->db) == 0)
                return outbox_not_pending(s, outbox_id);
        return 0;
}

/* ---- cursors and counts ---- */

int store_cursor_get(struct store *s, const char *adapter, const char *account,
                     char **ret)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_CURSOR_GET);
        char *cursor = NULL;
        char **const fields[] = { &cursor };
        int r;

        if (!adapter || !account)
                return store_fail_msg(s, -EINVAL,
                                      "cursor: no adapter or account");

        r = store_bind(s, st, "tt", adapter, account);
        if (r < 0)
                return r;

        r = store_step_row(s, st, "reading a cursor");
        if (r < 0)
                return r;

        if (r > 0) {
                r = columns_strdup(st, 0, fields, ELEMENTSOF(fields));
                if (r < 0)
                        return store_fail_msg(s, r, "cursor: out of memory");
        }

        *ret = cursor;
        return 0;
}

int store_cursor_set(struct store *s, const char *adapter, const char *account,
                     const char *cursor)
{
        if (!adapter || !account || !cursor)
                return store_fail_msg(s, -EINVAL,
                                      "cursor: no adapter, account or value");

        return cursor_write(s, adapter, account, cursor);
}

int store_counts_get(struct store *s, struct store_counts *ret)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_COUNTS);
        int r;

        r = store_step_row(s, st, "counting rows");
        if (r < 0)
                return r;
        if (r == 0)
                return store_fail_msg(s, -EIO, "counting rows: no result");

        *ret = (struct store_counts){
                .inbox_total = sqlite3_column_int64(st, 0),
                .inbox_undone = sqlite3_column_int64(st, 1),
                .outbox_total = sqlite3_column_int64(st, 2),
                .outbox_pending = sqlite3_column_int64(st, 3),
                .outbox_sent = sqlite3_column_int64(st, 4),
                .outbox_failed = sqlite3_column_int64(st, 5),
                .history = sqlite3_column_int64(st, 6),
                .reminders = sqlite3_column_int64(st, 7),
        };
        return 0;
}

int store_reminder_count_pending(struct store *s, int64_t *ret)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_REMINDER_COUNT_ALL_PENDING);
        int r;

        r = store_step_row(s, st, "counting pending reminders");
        if (r < 0)
                return r;
        if (r == 0)
                return store_fail_msg(s, -EIO, "counting pending reminders: no result");

        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

/* ---- reminders ---- */

static const char *const reminder_status_names[] = {
        [STORE_REMINDER_PENDING] = "pending",
        [STORE_REMINDER_FIRED] = "fired",
        [STORE_REMINDER_CANCELLED] = "cancelled",
};

void store_reminder_row_clear(struct store_reminder_row *row)
{
        if (!row)
                return;

        free(row->adapter);
        free(row->account);
        free(row->chat_id);
        free(row->user_id);
        free(row->thread_id);
        free(row->text);
        free(row->rule);
        free(row->time_zone);
        *row = (struct store_reminder_row){};
}

static void reminder_row_clear(void *row)
{
        store_reminder_row_clear(row);
}

void store_reminder_rows_free(struct store_reminder_row *rows, size_t n)
{
        for (size_t i = 0; rows && i < n; i++)
                store_reminder_row_clear(&rows[i]);
        free(rows);
}

/* Fills one row from the current result of st (a struct
 * store_reminder_row), read with REMINDER_COLUMNS. */
static int reminder_row_read(sqlite3_stmt *st, void *p)
{
        struct store_reminder_row *row = p;
        const char *status = (const char *)sqlite3_column_text(st, 8);
        char **const fields[] = {
                &row->adapter,   &row->account, &row->chat_id,
                &row->user_id,   &row->thread_id, &row->text,
                &row->rule,      &row->time_zone,
        };
        size_t i;

        *row = (struct store_reminder_row){
                .id = sqlite3_column_int64(st, 9),
                .due_at_ms = sqlite3_column_int64(st, 10),
                .fired_at_ms = sqlite3_column_int64(st, 11),
                .late = sqlite3_column_int(st, 12) != 0,
                .created_at_ms = sqlite3_column_int64(st, 13),
        };

        for (i = 0; i < ELEMENTSOF(reminder_status_names); i++)
                if (status && strcmp(status, reminder_status_names[i]) == 0)
                        break;
        if (i == ELEMENTSOF(reminder_status_names))
                return -EBADMSG;
        row->status = (enum store_reminder_status)i;

        return columns_strdup(st, 0, fields, ELEMENTSOF(fields));
}

/* One int64 from a statement that yields at most one row; -ENOENT when
 * it yields none. */
static int store_query_int(struct store *s, sqlite3_stmt *st, const char *what,
                           int64_t *ret)
{
        int r = store_step_row(s, st, what);

        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;

        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

static int reminder_count_pending(struct store *s, const char *adapter,
                                  const char *account, const char *user_id,
                                  int64_t *ret)
{
        _cleanup_reset_ sqlite3_stmt *st =
                store_stmt(s, STMT_REMINDER_COUNT_PENDING);
        int r;

        r = store_bind(s, st, "ttt", adapter, account, user_id);
        if (r < 0)
                return r;

        return store_query_int(s, st, "counting reminders", ret);
}

static int reminder_insert(struct store *s, const char *adapter,
                           const char *account, const char *chat_id,
                           const char *user_id, const char *thread_id,
                           const char *text, int64_t due_at_ms,
                           const char *rule, const char *time_zone,
                           int64_t *ret_id)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_REMINDER_INSERT);
        int64_t pending;
        int r;

        r = reminder_count_pending(s, adapter, account, user_id, &pending);
        if (r < 0)
                return r;

        if (pending >= STORE_REMINDER_PENDING_MAX)
                return store_fail_msg(s, -EDQUOT,
                                      "user %s already has %" PRId64
                                      " pending reminders, the most allowed",
                                      user_id, pending);

        r = store_bind(s, st, "ttttttitti", adapter, account, chat_id, user_id,
                       thread_id, text, due_at_ms, rule, time_zone, now_ms());
        if (r < 0)
                return r;

        r = store_step_done(s, st, "adding a reminder");
        if (r < 0)
                return r;

        *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

int store_reminder_add(struct store *s, const char *adapter,
                       const char *account, const char *chat_id,
                       const char *user_id, const char *thread_id,
                       const char *text, int64_t due_at_ms, const char *rule,
                       const char *time_zone, int64_t *ret_id)
{
        int64_t id = 0;
        int r;

        if (!adapter || !account || !chat_id || !user_id || !text || !time_zone)
                return store_fail_msg(s, -EINVAL,
                                      "reminder: no adapter, account, chat, user,"
                                      " text or time zone");
        if (due_at_ms <= 0)
                return store_fail_msg(s, -EINVAL,
                                      "reminder: due time %" PRId64
                                      " is not a time",
                                      due_at_ms);
        if (strlen(text) > STORE_REMINDER_TEXT_MAX_BYTES)
                return store_fail_msg(s, -E2BIG,
                                      "reminder: text of %zu bytes is longer"
                                      " than %d",
                                      strlen(text),
                                      STORE_REMINDER_TEXT_MAX_BYTES);

        r = store_begin(s);
        if (r < 0)
                return r;

        r = reminder_insert(s, adapter, account, chat_id, user_id, thread_id,
                            text, due_at_ms, rule, time_zone, &id);
        if (r < 0)
                return store_rollback(s, r);

        r = store_commit(s);
        if (r < 0)
                return r;

        if (ret_id)
                *ret_id = id;
        return 0;
}

int store_reminder_get(struct store *s, int64_t id,
                       struct store_reminder_row *ret)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_REMINDER_GET);
        struct store_reminder_row row;
        int r;

        r = store_bind(s, st, "i", id);
        if (r < 0)
                return r;

        r = store_step_row(s, st, "reading a reminder");
        if (r < 0)
                return r;
        if (r == 0)
                return store_fail_msg(s, -ENOENT,
                                      "reminder %" PRId64 " does not exist", id);

        r = reminder_row_read(st, &row);
        if (r < 0) {
                store_reminder_row_clear(&row);
                return store_fail_msg(s, r, "reading reminder %" PRId64 ": %s",
                                      id, strerror(-r));
        }

        *ret = row;
        return 0;
}

int store_reminder_list_pending(struct store *s, const char *adapter,
                                const char *account, const char *user_id,
                                struct store_reminder_row **ret, size_t *ret_n)
{
        _cleanup_reset_ sqlite3_stmt *st =
                store_stmt(s, STMT_REMINDER_LIST_PENDING);
        void *rows;
        int r;

        if (!adapter || !account || !user_id)
                return store_fail_msg(s, -EINVAL,
                                      "reminders: no adapter, account or user");

        r = store_bind(s, st, "ttt", adapter, account, user_id);
        if (r < 0)
                return r;

        r = store_rows_read(s, st, "listing reminders", sizeof(**ret),
                            reminder_row_read, reminder_row_clear, &rows,
                            ret_n);
        if (r < 0)
                return r;

        *ret = rows;
        return 0;
}

int store_reminder_list_due(struct store *s, int64_t now,
                            struct store_reminder_row **ret, size_t *ret_n)
{
        _cleanup_reset_ sqlite3_stmt *st =
                store_stmt(s, STMT_REMINDER_LIST_DUE);
        void *rows;
        int r;

        r = store_bind(s, st, "ii", now, (int64_t)STORE_REMINDER_DUE_BATCH_MAX);
        if (r < 0)
                return r;

        r = store_rows_read(s, st, "listing due reminders", sizeof(**ret),
                            reminder_row_read, reminder_row_clear, &rows,
                            ret_n);
        if (r < 0)
                return r;

        *ret = rows;
        return 0;
}

int store_reminder_next_due(struct store *s, int64_t *ret_due_at_ms)
{
        _cleanup_reset_ sqlite3_stmt *st =
                store_stmt(s, STMT_REMINDER_NEXT_DUE);
        int64_t due;
        int r;

        r = store_query_int(s, st, "finding the next reminder", &due);
        if (r == -ENOENT)
                return store_fail_msg(s, r, "no reminder is pending");
        if (r < 0)
                return r;

        *ret_due_at_ms = due;
        return 0;
}

/* Runs a reminder update of one user's reminder (?1 adapter, ?2 account,
 * ?3 user, ?4 id, and ?5 when given); -ENOENT when it changed nothing. */
static int reminder_user_update(struct store *s, enum store_stmt id_stmt,
                                const char *adapter, const char *account,
                                const char *user_id, int64_t id,
                                int64_t new_due_at_ms, const char *what)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, id_stmt);
        int r;

        if (!adapter || !account || !user_id)
                return store_fail_msg(s, -EINVAL,
                                      "%s: no adapter, account or user", what);

        if (id_stmt == STMT_REMINDER_SNOOZE)
                r = store_bind(s, st, "tttii", adapter, account, user_id, id,
                               new_due_at_ms);
        else
                r = store_bind(s, st, "ttti", adapter, account, user_id, id);
        if (r < 0)
                return r;

        r = store_step_done(s, st, what);
        if (r < 0)
                return r;

        if (sqlite3_changes(s->db) == 0)
                return store_fail_msg(s, -ENOENT,
                                      "%s: user %s has no reminder %" PRId64
                                      " that can be changed",
                                      what, user_id, id);
        return 0;
}

int store_reminder_cancel(struct store *s, const char *adapter,
                          const char *account, const char *user_id, int64_t id)
{
        return reminder_user_update(s, STMT_REMINDER_CANCEL, adapter, account,
                                    user_id, id, 0, "cancelling a reminder");
}

int store_reminder_snooze(struct store *s, const char *adapter,
                          const char *account, const char *user_id, int64_t id,
                          int64_t new_due_at_ms)
{
        if (new_due_at_ms <= 0)
                return store_fail_msg(s, -EINVAL,
                                      "snoozing: due time %" PRId64
                                      " is not a time",
                                      new_due_at_ms);

        return reminder_user_update(s, STMT_REMINDER_SNOOZE, adapter, account,
                                    user_id, id, new_due_at_ms,
                                    "snoozing a reminder");
}

/* The body of store_reminder_fire, inside its transaction. */
static int reminder_fire(struct store *s, int64_t id, int64_t now,
                         bool late, int64_t next_due_at_ms, const char *text,
                         int64_t *ret_outbox_id)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        struct store_reminder_row row;
        struct store_reply reply;
        int r;

        r = store_reminder_get(s, id, &row);
        if (r < 0)
                return r;

        if (row.status != STORE_REMINDER_PENDING)
                r = store_fail_msg(s, -EALREADY,
                                   "reminder %" PRId64 " is already %s", id,
                                   reminder_status_names[row.status]);
        else if (row.due_at_ms > now)
                r = store_fail_msg(s, -EALREADY,
                                   "reminder %" PRId64 " is not due until %" PRId64
                                   " (fired already for this occurrence?)",
                                   id, row.due_at_ms);
        else if (next_due_at_ms != 0 &&
                 (!row.rule || next_due_at_ms <= row.due_at_ms))
                r = store_fail_msg(s, -EINVAL,
                                   "reminder %" PRId64 ": next due time %" PRId64
                                   " for a %s reminder due at %" PRId64,
                                   id, next_due_at_ms,
                                   row.rule ? "recurring" : "one-off",
                                   row.due_at_ms);
        if (r < 0)
                goto out;

        reply = (struct store_reply){
                .chat_id = row.chat_id,
                .thread_id = row.thread_id,
                .text = text,
                .source = "reminder",
        };
        r = outbox_insert(s, 0, row.adapter, row.account, &reply, id,
                          ret_outbox_id);
        if (r < 0)
                goto out;

        if (next_due_at_ms == 0) {
                st = store_stmt(s, STMT_REMINDER_FIRE_ONCE);
                r = store_bind(s, st, "iib", id, now, late);
        } else {
                st = store_stmt(s, STMT_REMINDER_FIRE_AGAIN);
                r = store_bind(s, st, "iibi", id, now, late, next_due_at_ms);
        }
        if (r < 0)
                goto out;

        r = store_step_done(s, st, "marking a reminder fired");

out:
        store_reminder_row_clear(&row);
        return r;
}

int store_reminder_fire(struct store *s, int64_t id, int64_t now, bool late,
                        int64_t next_due_at_ms, const char *text,
                        int64_t *ret_outbox_id)
{
        int64_t outbox_id;
        int r;

        if (!text)
                return store_fail_msg(s, -EINVAL, "firing a reminder: no text");
        if (next_due_at_ms < 0)
                return store_fail_msg(s, -EINVAL,
                                      "firing a reminder: next due time %" PRId64
                                      " is not a time",
                                      next_due_at_ms);

        r = store_begin(s);
        if (r < 0)
                return r;

        r = reminder_fire(s, id, now, late, next_due_at_ms, text, &outbox_id);
        if (r < 0)
                return store_rollback(s, r);

        r = store_commit(s);
        if (r < 0)
                return r;

        if (ret_outbox_id)
                *ret_outbox_id = outbox_id;
        return 0;
}

/* ---- settings ---- */

static int setting_check(struct store *s, const char *adapter,
                         const char *account, const char *user_id,
                         const char *key)
{
        if (!adapter || !account || !user_id || !key)
                return store_fail_msg(s, -EINVAL,
                                      "setting: no adapter, account, user or key");
        if (strlen(key) > STORE_SETTING_KEY_MAX_BYTES)
                return store_fail_msg(s, -E2BIG,
                                      "setting: key of %zu bytes is longer than %d",
                                      strlen(key), STORE_SETTING_KEY_MAX_BYTES);
        return 0;
}

int store_setting_get(struct store *s, const char *adapter, const char *account,
                      const char *user_id, const char *key, char **ret)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_SETTING_GET);
        char *value = NULL;
        char **const fields[] = { &value };
        int r;

        r = setting_check(s, adapter, account, user_id, key);
        if (r < 0)
                return r;

        r = store_bind(s, st, "tttt", adapter, account, user_id, key);
        if (r < 0)
                return r;

        r = store_step_row(s, st, "reading a setting");
        if (r < 0)
                return r;

        if (r > 0) {
                r = columns_strdup(st, 0, fields, ELEMENTSOF(fields));
                if (r < 0)
                        return store_fail_msg(s, r, "setting: out of memory");
        }

        *ret = value;
        return 0;
}

int store_setting_set(struct store *s, const char *adapter, const char *account,
                      const char *user_id, const char *key, const char *value)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = setting_check(s, adapter, account, user_id, key);
        if (r < 0)
                return r;

        if (value && strlen(value) > STORE_SETTING_VALUE_MAX_BYTES)
                return store_fail_msg(s, -E2BIG,
                                      "setting %s: value of %zu bytes is longer"
                                      " than %d",
                                      key, strlen(value),
                                      STORE_SETTING_VALUE_MAX_BYTES);

        if (value) {
                st = store_stmt(s, STMT_SETTING_SET);
                r = store_bind(s, st, "ttttt", adapter, account, user_id, key,
                               value);
        } else {
                st = store_stmt(s, STMT_SETTING_DELETE);
                r = store_bind(s, st, "tttt", adapter, account, user_id, key);
        }
        if (r < 0)
                return r;

        return store_step_done(s, st, "storing a setting");
}

/* ---- history search and exchanges ---- */

static bool codepoint_is_word(utf8proc_int32_t c)
{
        switch (utf8proc_category(c)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
                return true;
        default:
                return false;
        }
}

/* The FTS5 query for a user's words: each white-space separated word that
 * holds a letter or digit becomes a quoted string (an embedded '"' is
 * doubled), so FTS5 reads no operator, column filter or prefix from it;
 * the strings are ANDed.  The tokenizer splits a string as it split the
 * stored text ("don't" is the phrase "don t"). */
static int search_query_build(struct store *s, const char *query, char **ret)
{
        _cleanup_free_ char *fts = NULL;
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)query;
        size_t len = 0, n_terms = 0;

        if (strlen(query) > STORE_SEARCH_QUERY_MAX_BYTES)
                return store_fail_msg(s, -E2BIG,
                                      "search: query of %zu bytes is longer than %d",
                                      strlen(query), STORE_SEARCH_QUERY_MAX_BYTES);

        /* Every byte doubled, plus quotes and a space per word. */
        fts = malloc(3 * strlen(query) + 1);
        if (!fts)
                return store_fail_msg(s, -ENOMEM, "search: out of memory");

        while (*p) {
                size_t start = len;
                bool has_word_char = false;

                while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                        p++;
                if (!*p)
                        break;

                if (len > 0)
                        fts[len++] = ' ';
                fts[len++] = '"';
                while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
                        utf8proc_int32_t c;
                        utf8proc_ssize_t k = utf8proc_iterate(p, -1, &c);

                        if (k < 0)
                                return store_fail_msg(s, -EINVAL,
                                                      "search: query is not UTF-8");
                        has_word_char |= codepoint_is_word(c);
                        for (utf8proc_ssize_t i = 0; i < k; i++) {
                                if (p[i] == '"')
                                        fts[len++] = '"';
                                fts[len++] = (char)p[i];
                        }
                        p += k;
                }
                fts[len++] = '"';

                if (!has_word_char) {
                        /* Punctuation alone matches nothing: drop it. */
                        len = start;
                        continue;
                }

                if (++n_terms > STORE_SEARCH_TERMS_MAX)
                        return store_fail_msg(s, -E2BIG,
                                              "search: more than %d words",
                                              STORE_SEARCH_TERMS_MAX);
        }
        fts[len] = '\0';

        if (n_terms == 0)
                return store_fail_msg(s, -EINVAL,
                                      "search: the query has no letter or digit");

        *ret = TAKE_PTR(fts);
        return 0;
}

int store_history_search(struct store *s, const char *adapter,
                         const char *account, const char *chat_id,
                         const char *user_id, const char *query, size_t limit,
                         struct store_history_row **ret, size_t *ret_n)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_HISTORY_SEARCH);
        _cleanup_free_ char *fts = NULL;
        void *rows;
        int r;

        if (!adapter || !account || !chat_id || !user_id || !query)
                return store_fail_msg(s, -EINVAL,
                                      "search: no adapter, account, chat, user"
                                      " or query");

        r = search_query_build(s, query, &fts);
        if (r < 0)
                return r;

        if (limit > STORE_SEARCH_LIMIT_MAX)
                limit = STORE_SEARCH_LIMIT_MAX;

        r = store_bind(s, st, "ttttti", fts, adapter, account, chat_id,
                       user_id, (int64_t)limit);
        if (r < 0)
                return r;

        r = store_rows_read(s, st, "searching history", sizeof(**ret),
                            history_row_read, history_row_clear, &rows, ret_n);
        if (r < 0)
                return r;

        *ret = rows;
        return 0;
}

static void exchange_clear(void *p)
{
        struct store_exchange *x = p;

        history_row_clear(&x->question);
        history_row_clear(&x->answer);
}

void store_exchanges_free(struct store_exchange *exchanges, size_t n)
{
        for (size_t i = 0; exchanges && i < n; i++)
                exchange_clear(&exchanges[i]);
        free(exchanges);
}

/* One exchange from EXCHANGE_COLUMNS: the question's columns, then the
 * answer's, each in history_row_read's order. */
static int exchange_read(sqlite3_stmt *st, void *p)
{
        struct store_exchange *x = p;
        struct store_history_row *rows[] = { &x->question, &x->answer };
        int r = 0;

        *x = (struct store_exchange){};
        for (size_t i = 0; i < ELEMENTSOF(rows) && r == 0; i++) {
                struct store_history_row *row = rows[i];
                int first = (int)i * 10;
                char **const fields[] = {
                        &row->adapter, &row->account,   &row->chat_id,
                        &row->thread_id, &row->user_id, &row->user_name,
                        &row->text,
                };

                row->id = sqlite3_column_int64(st, first + 7);
                row->outbound = sqlite3_column_int(st, first + 8) != 0;
                row->at_ms = sqlite3_column_int64(st, first + 9);
                r = columns_strdup(st, first, fields, ELEMENTSOF(fields));
        }
        return r;
}

int store_history_last_exchanges(struct store *s, const char *adapter,
                                 const char *account, const char *chat_id,
                                 size_t n, struct store_exchange **ret,
                                 size_t *ret_count)
{
        _cleanup_reset_ sqlite3_stmt *st =
                store_stmt(s, STMT_HISTORY_EXCHANGES);
        struct store_exchange *rows;
        void *read;
        size_t count;
        int r;

        if (!adapter || !account || !chat_id)
                return store_fail_msg(s, -EINVAL,
                                      "exchanges: no adapter, account or chat");

        if (n > STORE_EXCHANGES_MAX)
                n = STORE_EXCHANGES_MAX;

        r = store_bind(s, st, "ttti", adapter, account, chat_id, (int64_t)n);
        if (r < 0)
                return r;

        r = store_rows_read(s, st, "reading exchanges", sizeof(**ret),
                            exchange_read, exchange_clear, &read, &count);
        if (r < 0)
                return r;

        /* Read newest first, for the LIMIT; handed out oldest first. */
        rows = read;
        for (size_t i = 0; i < count / 2; i++) {
                struct store_exchange t = rows[i];

                rows[i] = rows[count - 1 - i];
                rows[count - 1 - i] = t;
        }

        *ret = rows;
        *ret_count = count;
        return 0;
}

/* ---- a user's data: erasure and export ---- */

/* Runs a statement bound to (adapter, account, user_id) that changes rows;
 * the number it changed. */
static int user_statement(struct store *s, enum store_stmt id,
                          const char *adapter, const char *account,
                          const char *user_id, const char *what, int64_t *ret)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, id);
        int r;

        r = store_bind(s, st, "ttt", adapter, account, user_id);
        if (r < 0)
                return r;

        r = store_step_done(s, st, what);
        if (r < 0)
                return r;

        if (ret)
                *ret = sqlite3_changes64(s->db);
        return 0;
}

/* The body of store_user_forget, inside its transaction.  History and
 * outbox rows go first: they are found through the user's inbox rows and
 * reminders, which the later steps clear. */
static int user_forget(struct store *s, const char *adapter,
                       const char *account, const char *user_id,
                       struct store_forget_counts *c)
{
        _cleanup_reset_ sqlite3_stmt *optimize = NULL;
        int r;

        r = user_statement(s, STMT_FORGET_HISTORY, adapter, account, user_id,
                           "erasing history", &c->messages);
        if (r < 0)
                return r;

        r = user_statement(s, STMT_FORGET_OUTBOX, adapter, account, user_id,
                           "erasing sent replies", NULL);
        if (r < 0)
                return r;

        r = user_statement(s, STMT_FORGET_INBOX, adapter, account, user_id,
                           "erasing inbox text", NULL);
        if (r < 0)
                return r;

        r = user_statement(s, STMT_FORGET_REMINDERS, adapter, account, user_id,
                           "erasing reminders", &c->reminders);
        if (r < 0)
                return r;

        r = user_statement(s, STMT_FORGET_SETTINGS, adapter, account, user_id,
                           "erasing settings", &c->settings);
        if (r < 0)
                return r;

        /* The index keeps deleted words in old segments until they merge. */
        optimize = store_stmt(s, STMT_FTS_OPTIMIZE);
        return store_step_done(s, optimize, "rebuilding the search index");
}

/* Sets PRAGMA secure_delete for this connection (on: 1, off: 0) and
 * returns the value it had; -1 when SQLite does not say. */
static int secure_delete_set(struct store *s, bool on)
{
        sqlite3_stmt *st = NULL;
        int previous = -1;

        if (sqlite3_prepare_v2(s->db, "PRAGMA secure_delete", -1, &st, NULL) ==
                    SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                previous = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);

        sqlite3_exec(s->db, on ? "PRAGMA secure_delete = 1" : "PRAGMA secure_delete = 0",
                     NULL, NULL, NULL);
        return previous;
}

int store_user_forget(struct store *s, const char *adapter,
                      const char *account, const char *user_id,
                      struct store_forget_counts *ret)
{
        struct store_forget_counts c = {};
        int previous, r;

        if (!adapter || !account || !user_id)
                return store_fail_msg(s, -EINVAL,
                                      "forget: no adapter, account or user");

        /* Erased rows' pages are zeroed, not just put on the free list. */
        previous = secure_delete_set(s, true);

        r = store_begin(s);
        if (r >= 0) {
                r = user_forget(s, adapter, account, user_id, &c);
                if (r < 0)
                        store_rollback(s, r);
                else
                        r = store_commit(s);
        }

        secure_delete_set(s, previous > 0);
        if (r < 0)
                return r;

        /* Old page images stay in the WAL until a checkpoint copies the new
         * ones over them; a reader may prevent it, then the next
         * checkpoint does it. */
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                  NULL);

        if (ret)
                *ret = c;
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* Members of an export record; a NULL string is written as null. */
static int json_add_string(json_object *o, const char *key, const char *value)
{
        json_object *v = NULL;

        if (value) {
                v = json_object_new_string(value);
                if (!v)
                        return -ENOMEM;
        }
        return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

static int json_add_int(json_object *o, const char *key, int64_t value)
{
        json_object *v = json_object_new_int64(value);

        if (!v)
                return -ENOMEM;
        return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

static int json_add_bool(json_object *o, const char *key, bool value)
{
        json_object *v = json_object_new_boolean(value);

        if (!v)
                return -ENOMEM;
        return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

/* Writes o as one line; -EIO when out fails. */
static int json_write_line(json_object *o, FILE *out)
{
        const char *text = json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

        if (!text)
                return -ENOMEM;
        if (fputs(text, out) == EOF || fputc('\n', out) == EOF)
                return -EIO;
        return 0;
}

static const char *column_text(sqlite3_stmt *st, int column)
{
        return (const char *)sqlite3_column_text(st, column);
}

/* A record of type with the columns of st added by add_columns. */
static int export_record(const char *type, sqlite3_stmt *st,
                         int (*add_columns)(json_object *, sqlite3_stmt *),
                         FILE *out)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;

        r = json_add_string(o, "type", type);
        if (r < 0)
                return r;

        r = add_columns(o, st);
        if (r < 0)
                return r;

        return json_write_line(o, out);
}

/* From HISTORY_COLUMNS. */
static int export_message_columns(json_object *o, sqlite3_stmt *st)
{
        int r = 0;

        r = r ?: json_add_int(o, "id", sqlite3_column_int64(st, 7));
        r = r ?: json_add_string(o, "chat_id", column_text(st, 2));
        r = r ?: json_add_string(o, "thread_id", column_text(st, 3));
        r = r ?: json_add_string(o, "direction",
                                 sqlite3_column_int(st, 8) ? "out" : "in");
        r = r ?: json_add_string(o, "user_id", column_text(st, 4));
        r = r ?: json_add_string(o, "user_name", column_text(st, 5));
        r = r ?: json_add_string(o, "text", column_text(st, 6));
        r = r ?: json_add_int(o, "at_ms", sqlite3_column_int64(st, 9));
        return r;
}

/* From REMINDER_COLUMNS. */
static int export_reminder_columns(json_object *o, sqlite3_stmt *st)
{
        int r = 0;

        r = r ?: json_add_int(o, "id", sqlite3_column_int64(st, 9));
        r = r ?: json_add_string(o, "chat_id", column_text(st, 2));
        r = r ?: json_add_string(o, "thread_id", column_text(st, 4));
        r = r ?: json_add_string(o, "text", column_text(st, 5));
        r = r ?: json_add_string(o, "status", column_text(st, 8));
        r = r ?: json_add_int(o, "due_at_ms", sqlite3_column_int64(st, 10));
        r = r ?: json_add_string(o, "rule", column_text(st, 6));
        r = r ?: json_add_string(o, "time_zone", column_text(st, 7));
        r = r ?: json_add_int(o, "fired_at_ms", sqlite3_column_int64(st, 11));
        r = r ?: json_add_bool(o, "late", sqlite3_column_int(st, 12) != 0);
        r = r ?: json_add_int(o, "created_at_ms", sqlite3_column_int64(st, 13));
        return r;
}

static int export_setting_columns(json_object *o, sqlite3_stmt *st)
{
        int r = 0;

        r = r ?: json_add_string(o, "key", column_text(st, 0));
        r = r ?: json_add_string(o, "value", column_text(st, 1));
        return r;
}

/* A record of type per row of statement id, bound to the user. */
static int export_table(struct store *s, enum store_stmt id, const char *type,
                        int (*add_columns)(json_object *, sqlite3_stmt *),
                        const char *adapter, const char *account,
                        const char *user_id, FILE *out, int *lines)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, id);
        int r;

        r = store_bind(s, st, "ttt", adapter, account, user_id);
        if (r < 0)
                return r;

        for (;;) {
                r = store_step_row(s, st, "exporting");
                if (r <= 0)
                        return r;

                r = export_record(type, st, add_columns, out);
                if (r < 0)
                        return store_fail_msg(s, r, "exporting %ss: %s", type,
                                              r == -EIO ? "cannot write" :
                                                          strerror(-r));
                if (*lines == INT_MAX)
                        return store_fail_msg(s, -E2BIG, "exporting: too many rows");
                (*lines)++;
        }
}

static int export_header(struct store *s, const char *adapter,
                         const char *account, const char *user_id, FILE *out)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        r = r ?: json_add_string(o, "type", "export");
        r = r ?: json_add_int(o, "version", 1);
        r = r ?: json_add_string(o, "adapter", adapter);
        r = r ?: json_add_string(o, "account", account);
        r = r ?: json_add_string(o, "user_id", user_id);
        r = r ?: json_add_int(o, "exported_at_ms", now_ms());
        r = r ?: json_write_line(o, out);
        if (r < 0)
                return store_fail_msg(s, r, "exporting: %s",
                                      r == -EIO ? "cannot write" : strerror(-r));
        return 0;
}

/* The body of store_user_export, inside its read transaction. */
static int user_export(struct store *s, const char *adapter,
                       const char *account, const char *user_id, FILE *out)
{
        int lines = 1, r;

        r = export_header(s, adapter, account, user_id, out);
        if (r < 0)
                return r;

        r = export_table(s, STMT_EXPORT_HISTORY, "message", export_message_columns,
                         adapter, account, user_id, out, &lines);
        if (r < 0)
                return r;

        r = export_table(s, STMT_EXPORT_REMINDERS, "reminder",
                         export_reminder_columns, adapter, account, user_id, out,
                         &lines);
        if (r < 0)
                return r;

        r = export_table(s, STMT_EXPORT_SETTINGS, "setting", export_setting_columns,
                         adapter, account, user_id, out, &lines);
        if (r < 0)
                return r;

        if (fflush(out) == EOF || ferror(out))
                return store_fail_msg(s, -EIO, "exporting: cannot write: %s",
                                      strerror(errno));
        return lines;
}

int store_user_export(struct store *s, const char *adapter, const char *account,
                      const char *user_id, FILE *out)
{
        _cleanup_reset_ sqlite3_stmt *begin = NULL;
        int lines, r;

        if (!adapter || !account || !user_id || !out)
                return store_fail_msg(s, -EINVAL,
                                      "export: no adapter, account, user or file");

        /* A read transaction: the three tables as of one instant. */
        begin = store_stmt(s, STMT_BEGIN_READ);
        r = store_step_done(s, begin, "beginning a read transaction");
        if (r < 0)
                return r;

        lines = user_export(s, adapter, account, user_id, out);
        if (lines < 0)
                return store_rollback(s, lines);

        r = store_commit(s);
        if (r < 0)
                return r;
        return lines;
}

/* ---- retention ---- */

static int prune_statement(struct store *s, enum store_stmt id,
                           int64_t older_than_ms, const char *what,
                           int64_t *ret)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, id);
        int r;

        r = store_bind(s, st, "i", older_than_ms);
        if (r < 0)
                return r;

        r = store_step_done(s, st, what);
        if (r < 0)
                return r;

        *ret = sqlite3_changes64(s->db);
        return 0;
}

/* The body of store_history_prune, inside its transaction.  Outbox rows go
 * before inbox rows, so an inbox row whose reply was pruned can go too. */
static int history_prune(struct store *s, int64_t older_than_ms,
                         struct store_prune_counts *c)
{
        int r;

        r = prune_statement(s, STMT_PRUNE_HISTORY, older_than_ms,
                            "pruning history", &c->history);
        if (r < 0)
                return r;

        r = prune_statement(s, STMT_PRUNE_OUTBOX, older_than_ms,
                            "pruning the outbox", &c->outbox);
        if (r < 0)
                return r;

        r = prune_statement(s, STMT_PRUNE_INBOX, older_than_ms,
                            "pruning the inbox", &c->inbox);
        if (r < 0)
                return r;

        return prune_statement(s, STMT_PRUNE_REMINDERS, older_than_ms,
                               "pruning reminders", &c->reminders);
}

int store_history_prune(struct store *s, int64_t older_than_ms,
                        struct store_prune_counts *ret)
{
        struct store_prune_counts c = {};
        int r;

        r = store_begin(s);
        if (r < 0)
                return r;

        r = history_prune(s, older_than_ms, &c);
        if (r < 0)
                return store_rollback(s, r);

        r = store_commit(s);
        if (r < 0)
                return r;

        if (ret)
                *ret = c;
        return 0;
}
