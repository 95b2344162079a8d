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
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

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
};

const int store_schema_version = ELEMENTSOF(store_migrations);

enum store_stmt {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
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

static const char *const store_sql[_STMT_MAX] = {
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
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
                " reply_to, text, source, idempotency_key, created_at_ms)"
                " VALUES (NULLIF(?1, 0), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
                " user_name, text, outbound, at_ms)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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

static int store_begin(struct store *s)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_BEGIN);

        return store_step_done(s, st, "beginning a transaction");
}

/* Undoes the open transaction, unless SQLite already has (it does after
 * some I/O and memory errors), and passes r through.  The error text of the
 * failure that led here is kept.  ROLLBACK fails only when the disk does,
 * and then SQLite rolls the journal back on the next access. */
static int store_rollback(struct store *s, int r)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL;

        if (sqlite3_get_autocommit(s->db))
                return r;

        st = store_stmt(s, STMT_ROLLBACK);
        sqlite3_step(st);
        return r;
}

static int store_commit(struct store *s)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_COMMIT);
        int r;

        r = store_step_done(s, st, "committing");
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

static int history_insert(struct store *s, const char *adapter,
                          const char *account, const char *chat_id,
                          const char *thread_id, const char *user_id,
                          const char *user_name, const char *text,
                          bool outbound, int64_t at_ms)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_HISTORY_INSERT);
        int r;

        r = store_bind(s, st, "tttttttbi", adapter, account, chat_id, thread_id,
                       user_id, user_name, text, outbound, at_ms);
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
                           e->sent_at_ms > 0 ? e->sent_at_ms : received_at_ms);
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

/* Queues reply in the outbox and history; inbox_id 0 means none. */
static int outbox_insert(struct store *s, int64_t inbox_id, const char *adapter,
                         const char *account, const struct store_reply *reply,
                         int64_t *ret_id)
{
        _cleanup_reset_ sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_INSERT);
        char key[2 * STORE_KEY_BYTES + 1];
        int64_t created_at_ms = now_ms(), id;
        int r;

        r = random_hex(key, STORE_KEY_BYTES);
        if (r < 0)
                return store_fail_msg(s, r, "making an idempotency key: %s",
                                      strerror(-r));

        r = store_bind(s, st, "itttttttti", inbox_id, adapter, account,
                       reply->chat_id, reply->thread_id, reply->reply_to,
                       reply->text, reply->source, key, created_at_ms);
        if (r < 0)
                return r;

        r = store_step_done(s, st, "adding to the outbox");
        if (r < 0)
                return r;

        id = sqlite3_last_insert_rowid(s->db);

        r = history_insert(s, adapter, account, reply->chat_id,
                           reply->thread_id, NULL, NULL, reply->text, true,
                           created_at_ms);
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

        return outbox_insert(s, inbox_id, adapter, account, reply,
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

        r = outbox_insert(s, 0, adapter, account, reply, &outbox_id);
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
