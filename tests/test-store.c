/* test-store: the SQLite store's contract, one database per test in a
 * temporary directory.  A second SQLite connection looks at what the store
 * wrote, builds old or damaged databases, and injects failures with
 * triggers. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "store.h"
#include "test.h"

static char test_dir[PATH_MAX];

/* test_dir/name, in a buffer the caller frees. */
static char *test_path(const char *name)
{
        char *p = NULL;

        if (asprintf(&p, "%s/%s", test_dir, name) < 0)
                abort();
        return p;
}

static bool file_exists(const char *path)
{
        return access(path, F_OK) == 0;
}

/* Whether SQLite left a -wal, -shm or -journal file beside path. */
static bool side_files_exist(const char *path)
{
        static const char *const suffixes[] = { "-wal", "-shm", "-journal" };

        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s%s", path, suffixes[i]) < 0)
                        abort();
                if (file_exists(p))
                        return true;
        }
        return false;
}

static unsigned char *file_read(const char *path, size_t *ret_size)
{
        unsigned char *data;
        struct stat st;
        FILE *f;

        f = fopen(path, "rb");
        if (!f || fstat(fileno(f), &st) < 0)
                abort();

        data = malloc((size_t)st.st_size + 1);
        if (!data || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
                abort();

        fclose(f);
        *ret_size = (size_t)st.st_size;
        return data;
}

static void file_write(const char *path, const void *data, size_t size)
{
        FILE *f = fopen(path, "wb");

        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
                abort();
}

/* Runs sql on path through a connection of the test's own. */
static int sql_exec(const char *path, const char *sql)
{
        sqlite3 *db;
        int rc;

        rc = sqlite3_open(path, &db);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                fprintf(stderr, "%s: %s: %s\n", path, sql, sqlite3_errmsg(db));
        sqlite3_close(db);
        return rc;
}

/* The first column of the first row of sql as an integer; -1 on error. */
static int64_t sql_int(const char *path, const char *sql)
{
        sqlite3_stmt *st = NULL;
        int64_t value = -1;
        sqlite3 *db;

        if (sqlite3_open(path, &db) == SQLITE_OK &&
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                value = sqlite3_column_int64(st, 0);
        else
                fprintf(stderr, "%s: %s: %s\n", path, sql, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        sqlite3_close(db);
        return value;
}

/* Every row of sql, columns joined by '|', rows by '\n', whitespace runs
 * folded to one space. */
static char *sql_text(const char *path, const char *sql)
{
        sqlite3_stmt *st = NULL;
        char *out = NULL;
        size_t size = 0;
        FILE *f;
        sqlite3 *db;

        f = open_memstream(&out, &size);
        if (!f)
                abort();

        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                fprintf(stderr, "%s: %s: %s\n", path, sql, sqlite3_errmsg(db));
        else
                while (sqlite3_step(st) == SQLITE_ROW) {
                        for (int i = 0; i < sqlite3_column_count(st); i++) {
                                const char *t = (const char *)sqlite3_column_text(st, i);
                                bool space = false;

                                if (i > 0)
                                        fputc('|', f);
                                for (; t && *t; t++) {
                                        bool ws = *t == ' ' || *t == '\n' || *t == '\t';

                                        if (ws && !space)
                                                fputc(' ', f);
                                        else if (!ws)
                                                fputc(*t, f);
                                        space = ws;
                                }
                        }
                        fputc('\n', f);
                }
        sqlite3_finalize(st);
        sqlite3_close(db);
        fclose(f);
        return out;
}

static struct store *open_ok(const char *path)
{
        char error[STORE_ERROR_MAX] = "";
        struct store *s = NULL;
        int r;

        r = store_open(path, &s, error);
        if (r < 0) {
                fprintf(stderr, "store_open: %s\n", error);
                abort();
        }
        return s;
}

/* Opening path must fail with expected, name the file and say what, and
 * leave the file's bytes as they were with no SQLite files beside it. */
static void check_refused(const char *path, int expected, const char *what)
{
        char error[STORE_ERROR_MAX] = "";
        _cleanup_free_ unsigned char *before = NULL, *after = NULL;
        size_t size_before, size_after;
        struct store *s = NULL;
        int r;

        before = file_read(path, &size_before);

        r = store_open(path, &s, error);
        CHECK_INT_EQ(r, expected);
        CHECK(s == NULL);
        CHECK(strstr(error, path) != NULL);
        if (!strstr(error, what))
                TEST_FAIL("error \"%s\" does not say \"%s\"", error, what);

        after = file_read(path, &size_after);
        CHECK_INT_EQ(size_after, size_before);
        CHECK(size_after == size_before && memcmp(before, after, size_before) == 0);
        CHECK(!side_files_exist(path));
        store_free(s);
}

static const struct store_inbound event_weather = {
        .event_id = "u-100",
        .chat_id = "42",
        .user_id = "7",
        .user_name = "Ada",
        .thread_id = NULL,
        .message_id = "501",
        .text = "Will I need an umbrella tomorrow?",
        .direct = true,
        .addressed = true,
        .sent_at_ms = 1700000000000,
};

static const struct store_inbound event_cafe = {
        .event_id = "u-101",
        .chat_id = "42",
        .user_id = "7",
        .user_name = "Ada",
        .thread_id = "t-1",
        .message_id = "502",
        .text = "Meet me at the café \"Zürich\" at 9",
        .direct = false,
        .addressed = false,
        .sent_at_ms = 0,
};

static const struct store_reply reply_weather = {
        .chat_id = "42",
        .thread_id = NULL,
        .reply_to = "501",
        .text = "Probably: rain from noon.",
        .source = "model",
};

static void test_create(void)
{
        _cleanup_free_ char *path = test_path("create.db");
        _cleanup_free_ char *mode = NULL;
        struct store_counts c;
        struct store *s;

        s = open_ok(path);
        CHECK_INT_EQ(store_schema_version, 4);
        CHECK_INT_EQ(sql_int(path, "PRAGMA user_version"), store_schema_version);
        mode = sql_text(path, "PRAGMA journal_mode");
        CHECK_STR_EQ(mode, "wal\n");
        CHECK_STR_EQ(store_error(s), "");

        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_total + c.outbox_total + c.history + c.reminders, 0);
        store_free(s);

        /* Opening again is not a migration: the version stays. */
        s = open_ok(path);
        CHECK_INT_EQ(sql_int(path, "PRAGMA user_version"), store_schema_version);
        store_free(s);
        store_free(NULL);
}

static void test_accept(void)
{
        _cleanup_free_ char *path = test_path("accept.db");
        struct store_inbound events[2] = { event_weather, event_cafe };
        struct store_inbound again[2] = { event_weather, event_cafe };
        int64_t ids[2] = { -1, -1 }, more[3] = { -1, -1, -1 };
        struct store_counts c;
        char *cursor = NULL;
        struct store *s;

        s = open_ok(path);

        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", events, 2, "101", ids), 2);
        CHECK_INT_EQ(ids[0], 1);
        CHECK_INT_EQ(ids[1], 2);
        CHECK_INT_EQ(store_cursor_get(s, "telegram", "bot1", &cursor), 0);
        CHECK_STR_EQ(cursor, "101");
        free(cursor);
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_total, 2);
        CHECK_INT_EQ(c.inbox_undone, 2);
        CHECK_INT_EQ(c.history, 2);

        /* A redelivery: nothing new, but the cursor still moves. */
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", events, 1, "102", ids), 0);
        CHECK_INT_EQ(ids[0], 0);
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_total, 2);
        CHECK_INT_EQ(c.history, 2);
        CHECK_INT_EQ(store_cursor_get(s, "telegram", "bot1", &cursor), 0);
        CHECK_STR_EQ(cursor, "102");
        free(cursor);

        /* One known, one new, and the new one twice in the same batch. */
        again[1].event_id = "u-102";
        again[1].text = "third";
        {
                struct store_inbound batch[3] = { again[0], again[1], again[1] };

                CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", batch, 3, NULL, more),
                             1);
        }
        CHECK_INT_EQ(more[0], 0);
        CHECK_INT_EQ(more[1], 3);
        CHECK_INT_EQ(more[2], 0);
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_total, 3);
        CHECK_INT_EQ(c.history, 3);

        /* The same event id from another account is another event. */
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot2", events, 1, NULL, NULL), 1);
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_total, 4);

        /* A batch of nothing only stores the cursor. */
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", NULL, 0, "103", NULL), 0);
        CHECK_INT_EQ(store_cursor_get(s, "telegram", "bot1", &cursor), 0);
        CHECK_STR_EQ(cursor, "103");
        free(cursor);

        /* An event without an id is refused before anything is written. */
        again[1].event_id = NULL;
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", again, 2, "104", NULL), -EINVAL);
        CHECK(strstr(store_error(s), "event 1 has no id") != NULL);
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_total, 4);
        CHECK_INT_EQ(store_cursor_get(s, "telegram", "bot1", &cursor), 0);
        CHECK_STR_EQ(cursor, "103");
        free(cursor);

        store_free(s);
}

static void test_complete(void)
{
        _cleanup_free_ char *path = test_path("complete.db");
        struct store_inbound events[2] = { event_weather, event_cafe };
        struct store_history_row *history = NULL;
        struct store_inbox_row *undone = NULL;
        struct store_outbox_row row = {};
        int64_t ids[2], outbox_id = -1, other = -1;
        struct store_counts c;
        size_t n = 0;
        struct store *s;

        s = open_ok(path);
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", events, 2, NULL, ids), 2);

        CHECK_INT_EQ(store_inbox_complete(s, ids[0], &reply_weather, &outbox_id), 0);
        CHECK(outbox_id > 0);

        CHECK_INT_EQ(store_outbox_get(s, outbox_id, &row), 0);
        CHECK_INT_EQ(row.id, outbox_id);
        CHECK_INT_EQ(row.inbox_id, ids[0]);
        CHECK_STR_EQ(row.adapter, "telegram");
        CHECK_STR_EQ(row.account, "bot1");
        CHECK_STR_EQ(row.chat_id, "42");
        CHECK(row.thread_id == NULL);
        CHECK_STR_EQ(row.reply_to, "501");
        CHECK_STR_EQ(row.text, "Probably: rain from noon.");
        CHECK_STR_EQ(row.source, "model");
        CHECK_INT_EQ(row.status, STORE_OUTBOX_PENDING);
        CHECK_INT_EQ(row.attempts, 0);
        CHECK(row.platform_message_id == NULL);
        CHECK(row.last_error == NULL);
        CHECK(row.created_at_ms > 1700000000000);
        CHECK_INT_EQ(row.sent_at_ms, 0);
        CHECK_INT_EQ(row.idempotency_key ? strlen(row.idempotency_key) : 0, 32);
        store_outbox_row_clear(&row);

        CHECK_INT_EQ(store_inbox_list_undone(s, NULL, &undone, &n), 0);
        CHECK_INT_EQ(n, 1);
        CHECK_INT_EQ(n > 0 ? undone[0].id : 0, ids[1]);
        store_inbox_rows_free(undone, n);

        CHECK_INT_EQ(store_history_recent(s, "telegram", "bot1", "42", 10, &history, &n), 0);
        CHECK_INT_EQ(n, 3);
        if (n == 3) {
                CHECK(history[2].outbound);
                CHECK_STR_EQ(history[2].text, "Probably: rain from noon.");
                CHECK(history[2].user_id == NULL);
                CHECK(!history[0].outbound);
                CHECK_STR_EQ(history[0].user_id, "7");
        }
        store_history_rows_free(history, n);

        /* Done is done; an unknown row is not there; outputs stay put. */
        CHECK_INT_EQ(store_inbox_complete(s, ids[0], &reply_weather, &other), -EALREADY);
        CHECK(strstr(store_error(s), "already done") != NULL);
        CHECK_INT_EQ(store_inbox_complete(s, ids[1] + 100, NULL, &other), -ENOENT);
        CHECK(strstr(store_error(s), "does not exist") != NULL);
        CHECK_INT_EQ(other, -1);

        /* A reply without text is refused and the row stays undone. */
        {
                struct store_reply bad = reply_weather;

                bad.text = NULL;
                CHECK_INT_EQ(store_inbox_complete(s, ids[1], &bad, &other), -EINVAL);
        }

        /* Done without a reply: no outbox row. */
        CHECK_INT_EQ(store_inbox_complete(s, ids[1], NULL, &other), 0);
        CHECK_INT_EQ(other, 0);
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_undone, 0);
        CHECK_INT_EQ(c.outbox_total, 1);
        CHECK_INT_EQ(c.outbox_pending, 1);
        CHECK_INT_EQ(c.history, 3);
        store_free(s);
}

/* All that a restart must find: undone rows with every field, in order,
 * and the pending outbox with its keys. */
static void test_restart(void)
{
        _cleanup_free_ char *path = test_path("restart.db");
        struct store_inbound slack = {
                .event_id = "Ev01",
                .chat_id = "C9",
                .user_id = "U5",
                .user_name = NULL,
                .thread_id = "1700000100.000100",
                .message_id = "1700000120.000200",
                .text = "hello 👋 bot",
                .direct = false,
                .addressed = true,
                .sent_at_ms = 1700000120000,
        };
        struct store_inbound events[3] = { event_weather, event_cafe, event_weather };
        struct store_outbox_row *pending = NULL;
        struct store_inbox_row *rows = NULL;
        _cleanup_free_ char *key = NULL;
        int64_t ids[3], outbox_id;
        size_t n = 0;
        struct store *s;

        events[2].event_id = "u-103";
        events[2].text = NULL;

        s = open_ok(path);
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", events, 3, "104", ids), 3);
        CHECK_INT_EQ(store_inbox_accept(s, "slack", "T01", &slack, 1, NULL, NULL), 1);
        CHECK_INT_EQ(store_inbox_complete(s, ids[0], &reply_weather, &outbox_id), 0);
        CHECK_INT_EQ(store_outbox_list_pending(s, NULL, &pending, &n), 0);
        CHECK_INT_EQ(n, 1);
        if (n == 1)
                key = strdup(pending[0].idempotency_key);
        store_outbox_rows_free(pending, n);
        store_free(s);

        s = open_ok(path);
        CHECK_INT_EQ(store_inbox_list_undone(s, NULL, &rows, &n), 0);
        CHECK_INT_EQ(n, 3);
        if (n == 3) {
                CHECK_INT_EQ(rows[0].id, ids[1]);
                CHECK_STR_EQ(rows[0].adapter, "telegram");
                CHECK_STR_EQ(rows[0].account, "bot1");
                CHECK_STR_EQ(rows[0].event_id, "u-101");
                CHECK_STR_EQ(rows[0].chat_id, "42");
                CHECK_STR_EQ(rows[0].user_id, "7");
                CHECK_STR_EQ(rows[0].user_name, "Ada");
                CHECK_STR_EQ(rows[0].thread_id, "t-1");
                CHECK_STR_EQ(rows[0].message_id, "502");
                CHECK_STR_EQ(rows[0].text, "Meet me at the café \"Zürich\" at 9");
                CHECK(!rows[0].direct);
                CHECK(!rows[0].addressed);
                CHECK_INT_EQ(rows[0].sent_at_ms, 0);
                CHECK(rows[0].received_at_ms > 1700000000000);

                CHECK_INT_EQ(rows[1].id, ids[2]);
                CHECK_STR_EQ(rows[1].event_id, "u-103");
                CHECK(rows[1].text == NULL);
                CHECK(rows[1].direct);
                CHECK(rows[1].addressed);
                CHECK_INT_EQ(rows[1].sent_at_ms, 1700000000000);

                CHECK_INT_EQ(rows[2].id, ids[2] + 1);
                CHECK_STR_EQ(rows[2].adapter, "slack");
                CHECK_STR_EQ(rows[2].account, "T01");
                CHECK(rows[2].user_name == NULL);
                CHECK_STR_EQ(rows[2].thread_id, "1700000100.000100");
                CHECK_STR_EQ(rows[2].message_id, "1700000120.000200");
                CHECK_STR_EQ(rows[2].text, "hello 👋 bot");
                CHECK(!rows[2].direct);
                CHECK(rows[2].addressed);
                CHECK_INT_EQ(rows[2].sent_at_ms, 1700000120000);
        }
        store_inbox_rows_free(rows, n);

        CHECK_INT_EQ(store_inbox_list_undone(s, "slack", &rows, &n), 0);
        CHECK_INT_EQ(n, 1);
        CHECK_STR_EQ(n == 1 ? rows[0].event_id : NULL, "Ev01");
        store_inbox_rows_free(rows, n);

        CHECK_INT_EQ(store_outbox_list_pending(s, NULL, &pending, &n), 0);
        CHECK_INT_EQ(n, 1);
        if (n == 1) {
                CHECK_INT_EQ(pending[0].id, outbox_id);
                CHECK_INT_EQ(pending[0].inbox_id, ids[0]);
                CHECK_STR_EQ(pending[0].text, "Probably: rain from noon.");
                CHECK_STR_EQ(pending[0].idempotency_key, key);
        }
        store_outbox_rows_free(pending, n);

        CHECK_INT_EQ(store_outbox_list_pending(s, "slack", &pending, &n), 0);
        CHECK_INT_EQ(n, 0);
        store_outbox_rows_free(pending, n);
        store_free(s);
}

static void test_outbox_state(void)
{
        _cleanup_free_ char *path = test_path("outbox.db");
        const struct store_reply reminder = {
                .chat_id = "42",
                .thread_id = "t-9",
                .reply_to = NULL,
                .text = "Reminder: water the plants",
                .source = "reminder",
        };
        struct store_outbox_row *pending = NULL, row = {};
        int64_t sent_id, failed_id;
        struct store_counts c;
        size_t n = 0;
        struct store *s;

        s = open_ok(path);
        CHECK_INT_EQ(store_outbox_add(s, "matrix", "@bot:example.org", &reminder, &sent_id), 0);
        CHECK_INT_EQ(store_outbox_add(s, "matrix", "@bot:example.org", &reminder, &failed_id),
                     0);
        CHECK_INT_EQ(failed_id, sent_id + 1);

        CHECK_INT_EQ(store_outbox_get(s, sent_id, &row), 0);
        CHECK_INT_EQ(row.inbox_id, 0);
        CHECK_STR_EQ(row.thread_id, "t-9");
        CHECK(row.reply_to == NULL);
        CHECK_STR_EQ(row.source, "reminder");
        store_outbox_row_clear(&row);

        CHECK_INT_EQ(store_outbox_mark_sent(s, sent_id, "$event:example.org"), 0);
        CHECK_INT_EQ(store_outbox_get(s, sent_id, &row), 0);
        CHECK_INT_EQ(row.status, STORE_OUTBOX_SENT);
        CHECK_STR_EQ(row.platform_message_id, "$event:example.org");
        CHECK(row.sent_at_ms >= row.created_at_ms);
        CHECK_INT_EQ(row.attempts, 0);
        store_outbox_row_clear(&row);
        CHECK_INT_EQ(store_outbox_mark_sent(s, sent_id, "$again"), -EALREADY);
        CHECK(strstr(store_error(s), "already sent") != NULL);
        CHECK_INT_EQ(store_outbox_mark_sent(s, failed_id + 1, "$x"), -ENOENT);
        CHECK_INT_EQ(store_outbox_get(s, failed_id + 1, &row), -ENOENT);

        CHECK_INT_EQ(store_outbox_mark_attempt(s, failed_id, "HTTP 502", false), 0);
        CHECK_INT_EQ(store_outbox_get(s, failed_id, &row), 0);
        CHECK_INT_EQ(row.status, STORE_OUTBOX_PENDING);
        CHECK_INT_EQ(row.attempts, 1);
        CHECK_STR_EQ(row.last_error, "HTTP 502");
        store_outbox_row_clear(&row);

        CHECK_INT_EQ(store_outbox_list_pending(s, "matrix", &pending, &n), 0);
        CHECK_INT_EQ(n, 1);
        CHECK_INT_EQ(n == 1 ? pending[0].id : 0, failed_id);
        store_outbox_rows_free(pending, n);

        CHECK_INT_EQ(store_outbox_mark_attempt(s, failed_id, "M_FORBIDDEN", true), 0);
        CHECK_INT_EQ(store_outbox_get(s, failed_id, &row), 0);
        CHECK_INT_EQ(row.status, STORE_OUTBOX_FAILED);
        CHECK_INT_EQ(row.attempts, 2);
        CHECK_STR_EQ(row.last_error, "M_FORBIDDEN");
        store_outbox_row_clear(&row);
        CHECK_INT_EQ(store_outbox_mark_attempt(s, failed_id, "again", false), -EALREADY);
        CHECK_INT_EQ(store_outbox_mark_attempt(s, failed_id + 1, "none", false), -ENOENT);

        CHECK_INT_EQ(store_outbox_list_pending(s, NULL, &pending, &n), 0);
        CHECK_INT_EQ(n, 0);
        store_outbox_rows_free(pending, n);

        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.outbox_total, 2);
        CHECK_INT_EQ(c.outbox_pending, 0);
        CHECK_INT_EQ(c.outbox_sent, 1);
        CHECK_INT_EQ(c.outbox_failed, 1);
        CHECK_INT_EQ(c.history, 2);
        store_free(s);
}

static bool is_lower_hex(const char *s, size_t length)
{
        if (!s || strlen(s) != length)
                return false;
        return strspn(s, "0123456789abcdef") == length;
}

#define N_KEYS 8

static void outbox_keys_read(struct store *s, char *keys[N_KEYS])
{
        struct store_outbox_row *rows = NULL;
        size_t n = 0;

        CHECK_INT_EQ(store_outbox_list_pending(s, NULL, &rows, &n), 0);
        CHECK_INT_EQ(n, N_KEYS);
        for (size_t i = 0; i < N_KEYS; i++)
                keys[i] = i < n ? strdup(rows[i].idempotency_key) : NULL;
        store_outbox_rows_free(rows, n);
}

static void test_keys(void)
{
        _cleanup_free_ char *path = test_path("keys.db");
        _cleanup_free_ char *other_path = test_path("keys-other.db");
        char *keys[N_KEYS], *reopened[N_KEYS], *other[N_KEYS];
        struct store *s;

        s = open_ok(path);
        for (int i = 0; i < N_KEYS; i++)
                CHECK_INT_EQ(store_outbox_add(s, "web", "main", &reply_weather, NULL), 0);
        outbox_keys_read(s, keys);
        store_free(s);

        s = open_ok(path);
        outbox_keys_read(s, reopened);
        store_free(s);

        s = open_ok(other_path);
        for (int i = 0; i < N_KEYS; i++)
                CHECK_INT_EQ(store_outbox_add(s, "web", "main", &reply_weather, NULL), 0);
        outbox_keys_read(s, other);
        store_free(s);

        for (int i = 0; i < N_KEYS; i++) {
                CHECK(is_lower_hex(keys[i], 32));
                CHECK_STR_EQ(reopened[i], keys[i]);
                for (int j = 0; j < N_KEYS; j++) {
                        CHECK(!keys[i] || !other[j] || strcmp(keys[i], other[j]) != 0);
                        if (j != i)
                                CHECK(!keys[i] || !keys[j] || strcmp(keys[i], keys[j]) != 0);
                }
        }

        for (int i = 0; i < N_KEYS; i++) {
                free(keys[i]);
                free(reopened[i]);
                free(other[i]);
        }
}

static void test_cursor(void)
{
        _cleanup_free_ char *path = test_path("cursor.db");
        char *cursor = (char *)"untouched";
        struct store *s;

        s = open_ok(path);
        CHECK_INT_EQ(store_cursor_get(s, "matrix", "@bot:example.org", &cursor), 0);
        CHECK(cursor == NULL);

        CHECK_INT_EQ(store_cursor_set(s, "matrix", "@bot:example.org", "s72594_4483_1934"), 0);
        CHECK_INT_EQ(store_cursor_set(s, "matrix", "@other:example.org", "s1"), 0);
        CHECK_INT_EQ(store_cursor_set(s, "matrix", "@bot:example.org", "s72595_4483_1935"), 0);
        CHECK_INT_EQ(store_cursor_set(s, "matrix", "@bot:example.org", NULL), -EINVAL);
        store_free(s);

        s = open_ok(path);
        CHECK_INT_EQ(store_cursor_get(s, "matrix", "@bot:example.org", &cursor), 0);
        CHECK_STR_EQ(cursor, "s72595_4483_1935");
        free(cursor);
        CHECK_INT_EQ(store_cursor_get(s, "matrix", "@other:example.org", &cursor), 0);
        CHECK_STR_EQ(cursor, "s1");
        free(cursor);
        CHECK_INT_EQ(store_cursor_get(s, "telegram", "@bot:example.org", &cursor), 0);
        CHECK(cursor == NULL);
        store_free(s);
}

static void test_history(void)
{
        _cleanup_free_ char *path = test_path("history.db");
        struct store_history_row *rows = NULL;
        struct store_inbound events[6];
        char event_ids[6][16], texts[6][24];
        int64_t ids[6];
        size_t n = 0;
        struct store *s;

        for (int i = 0; i < 6; i++) {
                snprintf(event_ids[i], sizeof(event_ids[i]), "e%d", i);
                snprintf(texts[i], sizeof(texts[i]), "message %d", i);
                events[i] = event_weather;
                events[i].event_id = event_ids[i];
                events[i].text = texts[i];
                events[i].sent_at_ms = 1700000000000 + i;
        }
        events[5].chat_id = "43";

        s = open_ok(path);
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", events, 6, NULL, ids), 6);
        CHECK_INT_EQ(store_inbox_complete(s, ids[4], &reply_weather, NULL), 0);

        CHECK_INT_EQ(store_history_recent(s, "telegram", "bot1", "42", 3, &rows, &n), 0);
        CHECK_INT_EQ(n, 3);
        if (n == 3) {
                CHECK_STR_EQ(rows[0].text, "message 3");
                CHECK_STR_EQ(rows[1].text, "message 4");
                CHECK_STR_EQ(rows[2].text, "Probably: rain from noon.");
                CHECK(!rows[1].outbound);
                CHECK(rows[2].outbound);
                CHECK_INT_EQ(rows[1].at_ms, 1700000000004);
                CHECK_STR_EQ(rows[1].user_name, "Ada");
                CHECK_STR_EQ(rows[1].adapter, "telegram");
                CHECK_STR_EQ(rows[1].chat_id, "42");
                CHECK(rows[0].id < rows[1].id && rows[1].id < rows[2].id);
        }
        store_history_rows_free(rows, n);

        CHECK_INT_EQ(store_history_recent(s, "telegram", "bot1", "42", 100, &rows, &n), 0);
        CHECK_INT_EQ(n, 6);
        CHECK_STR_EQ(n == 6 ? rows[0].text : NULL, "message 0");
        store_history_rows_free(rows, n);

        CHECK_INT_EQ(store_history_recent(s, "telegram", "bot1", "42", 0, &rows, &n), 0);
        CHECK_INT_EQ(n, 0);
        store_history_rows_free(rows, n);

        CHECK_INT_EQ(store_history_recent(s, "telegram", "bot1", "43", 10, &rows, &n), 0);
        CHECK_INT_EQ(n, 1);
        CHECK_STR_EQ(n == 1 ? rows[0].text : NULL, "message 5");
        store_history_rows_free(rows, n);

        CHECK_INT_EQ(store_history_recent(s, "telegram", "bot2", "42", 10, &rows, &n), 0);
        CHECK_INT_EQ(n, 0);
        store_history_rows_free(rows, n);
        store_free(s);
}

static void test_search(void)
{
        _cleanup_free_ char *path = test_path("search.db");
        _cleanup_free_ char *found = NULL, *accent = NULL, *reply = NULL;
        struct store_inbound events[2] = { event_weather, event_cafe };
        int64_t ids[2];
        struct store *s;

        s = open_ok(path);
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", events, 2, NULL, ids), 2);
        CHECK_INT_EQ(store_inbox_complete(s, ids[0], &reply_weather, NULL), 0);

        /* Read while the store holds its connection, as `parley db` would. */
        found = sql_text(path, "SELECT h.text, h.user_id, h.outbound FROM history_fts"
                               " JOIN history h ON h.id = history_fts.rowid"
                               " WHERE history_fts MATCH 'umbrella'");
        CHECK_STR_EQ(found, "Will I need an umbrella tomorrow?|7|0\n");

        accent = sql_text(path,
                          "SELECT rowid FROM history_fts WHERE history_fts MATCH 'cafe'"
                          " AND rowid IN (SELECT id FROM history WHERE thread_id = 't-1')");
        CHECK_STR_EQ(accent, "2\n");

        reply = sql_text(path, "SELECT h.outbound FROM history_fts"
                               " JOIN history h ON h.id = history_fts.rowid"
                               " WHERE history_fts MATCH 'rain AND noon'");
        CHECK_STR_EQ(reply, "1\n");

        CHECK_INT_EQ(sql_int(path, "SELECT count(*) FROM history_fts WHERE history_fts"
                                   " MATCH 'sunday'"),
                     0);
        store_free(s);
}

static void test_not_a_database(void)
{
        _cleanup_free_ char *path = test_path("random.db");
        unsigned char bytes[8192];

        if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
                abort();
        file_write(path, bytes, sizeof(bytes));
        check_refused(path, -EBADMSG, "file is not a database (refusing to touch it)");
}

/* A store database with enough rows to fill several pages, closed. */
static void make_database(const char *path, int n_events)
{
        struct store *s = open_ok(path);

        for (int i = 0; i < n_events; i++) {
                struct store_inbound e = event_weather;
                char id[16];

                snprintf(id, sizeof(id), "e%d", i);
                e.event_id = id;
                CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", &e, 1, NULL, NULL), 1);
        }
        store_free(s);
}

static void test_truncated(void)
{
        _cleanup_free_ char *path = test_path("truncated.db");
        _cleanup_free_ char *first_page = test_path("first-page.db");
        _cleanup_free_ char *header = test_path("header.db");
        _cleanup_free_ unsigned char *data = NULL;
        size_t size;

        make_database(path, 200);
        data = file_read(path, &size);
        CHECK(size > 8 * 4096);
        CHECK(!side_files_exist(path));

        if (truncate(path, (off_t)size / 2) < 0)
                abort();
        check_refused(path, -EBADMSG, "database is corrupt");

        file_write(first_page, data, 4096);
        check_refused(first_page, -EBADMSG, "database is corrupt");

        /* Less than a page: SQLite itself would take it for empty. */
        file_write(header, data, 50);
        check_refused(header, -EBADMSG, "50 bytes, shorter than one page");
}

static void test_migrate_v1(void)
{
        _cleanup_free_ char *path = test_path("v1.db");
        _cleanup_free_ char *fresh_path = test_path("fresh.db");
        _cleanup_free_ char *fixture = NULL, *found = NULL, *schema = NULL, *fresh = NULL;
        const char *srcdir = getenv("top_srcdir") ?: ".";
        const char *schema_sql = "SELECT type, name, tbl_name, sql FROM sqlite_schema"
                                 " ORDER BY name";
        struct store_history_row *history = NULL;
        struct store_outbox_row *pending = NULL;
        struct store_inbox_row *undone = NULL;
        _cleanup_free_ unsigned char *sql = NULL;
        char *cursor = NULL;
        struct store_counts c;
        size_t size, n = 0;
        struct store *s;

        if (asprintf(&fixture, "%s/tests/fixtures/store-v1.sql", srcdir) < 0)
                abort();
        if (!file_exists(fixture)) {
                TEST_FAIL("%s: missing (is $top_srcdir set?)", fixture);
                return;
        }
        sql = file_read(fixture, &size);
        sql[size] = '\0';
        CHECK_INT_EQ(sql_exec(path, (const char *)sql), SQLITE_OK);
        CHECK_INT_EQ(sql_int(path, "PRAGMA user_version"), 1);

        s = open_ok(path);
        CHECK_INT_EQ(sql_int(path, "PRAGMA user_version"), store_schema_version);

        CHECK_INT_EQ(store_inbox_list_undone(s, NULL, &undone, &n), 0);
        CHECK_INT_EQ(n, 2);
        if (n == 2) {
                CHECK_INT_EQ(undone[0].id, 2);
                CHECK_STR_EQ(undone[0].text, "And on Sunday?");
                CHECK_INT_EQ(undone[0].received_at_ms, 1700000060400);
                CHECK_INT_EQ(undone[1].id, 3);
                CHECK_STR_EQ(undone[1].adapter, "slack");
                CHECK_STR_EQ(undone[1].thread_id, "1700000100.000100");
                CHECK(!undone[1].direct);
        }
        store_inbox_rows_free(undone, n);

        CHECK_INT_EQ(store_outbox_list_pending(s, NULL, &pending, &n), 0);
        CHECK_INT_EQ(n, 1);
        if (n == 1) {
                CHECK_STR_EQ(pending[0].idempotency_key, "0123456789abcdef0123456789abcdef");
                CHECK_INT_EQ(pending[0].attempts, 1);
                CHECK_STR_EQ(pending[0].last_error, "HTTP 502 from api.telegram.org");
        }
        store_outbox_rows_free(pending, n);

        CHECK_INT_EQ(store_cursor_get(s, "telegram", "bot1", &cursor), 0);
        CHECK_STR_EQ(cursor, "1003");
        free(cursor);

        /* History is filled from what v1 held, in the order it happened. */
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_total, 3);
        CHECK_INT_EQ(c.history, 4);
        CHECK_INT_EQ(c.reminders, 0);
        CHECK_INT_EQ(store_history_recent(s, "telegram", "bot1", "42", 10, &history, &n), 0);
        CHECK_INT_EQ(n, 3);
        if (n == 3) {
                CHECK_STR_EQ(history[0].text, "Will I need an umbrella tomorrow?");
                CHECK_INT_EQ(history[0].at_ms, 1700000000000);
                CHECK_STR_EQ(history[1].text, "Probably, take one.");
                CHECK(history[1].outbound);
                CHECK_STR_EQ(history[2].text, "And on Sunday?");
        }
        store_history_rows_free(history, n);
        found = sql_text(path,
                         "SELECT rowid FROM history_fts WHERE history_fts MATCH 'umbrella'");
        CHECK_STR_EQ(found, "1\n");

        /* New work lands after the old rows. */
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", &event_weather, 1, NULL, NULL),
                     1);
        CHECK_INT_EQ(
                store_inbox_accept(s, "telegram", "bot1",
                                   &(struct store_inbound){ .event_id = "1002", .text = "dup" },
                                   1, NULL, NULL),
                0);
        store_free(s);

        /* A migrated database has the schema of a new one. */
        s = open_ok(fresh_path);
        store_free(s);
        schema = sql_text(path, schema_sql);
        fresh = sql_text(fresh_path, schema_sql);
        CHECK_STR_EQ(schema, fresh);
        CHECK(strstr(schema, "table|reminders|reminders|") != NULL);
        CHECK(strstr(schema, "table|settings|settings|") != NULL);
}

static void test_newer_schema(void)
{
        _cleanup_free_ char *path = test_path("newer.db");
        char sql[64], expected[128];

        make_database(path, 1);
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_version + 1);
        CHECK_INT_EQ(sql_exec(path, sql), SQLITE_OK);

        snprintf(expected, sizeof(expected), "schema version %d is newer than this build's %d",
                 store_schema_version + 1, store_schema_version);
        check_refused(path, -EPROTO, expected);
}

static void test_foreign_database(void)
{
        _cleanup_free_ char *path = test_path("foreign.db");

        CHECK_INT_EQ(sql_exec(path, "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT);"
                                    "INSERT INTO photos (name) VALUES ('cat.jpg');"),
                     SQLITE_OK);
        check_refused(path, -EBADMSG, "a database of another program");
}

static void test_bad_paths(void)
{
        _cleanup_free_ char *dir = test_path("a-directory.db");
        _cleanup_free_ char *missing = test_path("no-such-dir/x.db");
        _cleanup_free_ char *empty = test_path("empty.db");
        char error[STORE_ERROR_MAX] = "";
        struct store *s = NULL;

        if (mkdir(dir, 0755) < 0)
                abort();
        CHECK_INT_EQ(store_open(dir, &s, error), -EISDIR);
        CHECK(s == NULL);
        CHECK(strstr(error, dir) != NULL);
        CHECK(strstr(error, "is a directory") != NULL);

        CHECK_INT_EQ(store_open(missing, &s, error), -ENOENT);
        CHECK(strstr(error, missing) != NULL);
        CHECK(strstr(error, "cannot open: No such file or directory") != NULL);
        CHECK(!file_exists(missing));

        CHECK_INT_EQ(store_open(NULL, &s, error), -EINVAL);
        CHECK_INT_EQ(store_open("", &s, NULL), -EINVAL);

        /* An empty file is an empty database (as after touch(1)). */
        file_write(empty, "", 0);
        s = open_ok(empty);
        CHECK_INT_EQ(sql_int(empty, "PRAGMA user_version"), store_schema_version);
        store_free(s);
}

/* A failure half-way through a transaction leaves nothing of it behind. */
static void test_rollback(void)
{
        _cleanup_free_ char *path = test_path("rollback.db");
        struct store_inbound events[2] = { event_weather, event_cafe };
        struct store_inbox_row *undone = NULL;
        int64_t ids[2] = { -1, -1 }, first_id, outbox_id = -1;
        struct store_counts c;
        char *cursor = NULL;
        size_t n = 0;
        struct store *s;

        s = open_ok(path);
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", events, 1, "c1", ids), 1);
        first_id = ids[0];

        CHECK_INT_EQ(sql_exec(path,
                              "CREATE TRIGGER inject_outbox BEFORE INSERT ON outbox"
                              " BEGIN SELECT RAISE(ABORT, 'injected outbox failure'); END"),
                     SQLITE_OK);
        CHECK_INT_EQ(store_inbox_complete(s, ids[0], &reply_weather, &outbox_id), -EINVAL);
        CHECK(strstr(store_error(s), "injected outbox failure") != NULL);
        CHECK_INT_EQ(outbox_id, -1);
        CHECK_INT_EQ(store_inbox_list_undone(s, NULL, &undone, &n), 0);
        CHECK_INT_EQ(n, 1);
        CHECK_INT_EQ(n == 1 ? undone[0].id : 0, ids[0]);
        store_inbox_rows_free(undone, n);
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_undone, 1);
        CHECK_INT_EQ(c.outbox_total, 0);
        CHECK_INT_EQ(c.history, 1);

        /* The second event of a batch fails: neither event nor cursor stays. */
        CHECK_INT_EQ(sql_exec(path,
                              "CREATE TRIGGER inject_history BEFORE INSERT ON history"
                              " WHEN new.text LIKE 'Meet me%'"
                              " BEGIN SELECT RAISE(ABORT, 'injected history failure'); END"),
                     SQLITE_OK);
        events[0].event_id = "u-200";
        ids[0] = ids[1] = -1;
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", events, 2, "c2", ids), -EINVAL);
        CHECK(strstr(store_error(s), "injected history failure") != NULL);
        CHECK_INT_EQ(ids[0], -1);
        CHECK_INT_EQ(ids[1], -1);
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_total, 1);
        CHECK_INT_EQ(c.history, 1);
        CHECK_INT_EQ(store_cursor_get(s, "telegram", "bot1", &cursor), 0);
        CHECK_STR_EQ(cursor, "c1");
        free(cursor);

        /* With the faults gone the same calls go through. */
        CHECK_INT_EQ(sql_exec(path, "DROP TRIGGER inject_outbox; DROP TRIGGER inject_history"),
                     SQLITE_OK);
        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", events, 2, "c2", ids), 2);
        CHECK_INT_EQ(store_inbox_complete(s, first_id, &reply_weather, &outbox_id), 0);
        CHECK(outbox_id > 0);
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_undone, 2);
        CHECK_INT_EQ(c.history, 4);
        store_free(s);
}

/* Overwrites the type byte of the inbox table's root page, so reading the
 * inbox fails while the schema still reads. */
static void corrupt_inbox_page(const char *path)
{
        int64_t root = sql_int(path, "SELECT rootpage FROM sqlite_schema WHERE name = 'inbox'");
        int64_t page_size = sql_int(path, "PRAGMA page_size");
        unsigned char junk = 0x42;
        int fd;

        CHECK(root > 1);
        CHECK(!side_files_exist(path));
        fd = open(path, O_WRONLY);
        if (fd < 0 || pwrite(fd, &junk, 1, (off_t)((root - 1) * page_size)) != 1)
                abort();
        close(fd);
}

/* quick_check runs at open only up to its size limit; past it, corruption
 * shows when a query meets it. */
static void test_quick_check_limit(void)
{
        _cleanup_free_ char *small = test_path("corrupt-small.db");
        _cleanup_free_ char *large = test_path("corrupt-large.db");
        char error[STORE_ERROR_MAX] = "";
        struct store_inbox_row *rows = NULL;
        struct store *s = NULL;
        size_t n = 0;

        make_database(small, 3);
        corrupt_inbox_page(small);
        check_refused(small, -EBADMSG, "database is corrupt");

        make_database(large, 3);
        CHECK_INT_EQ(sql_exec(large, "CREATE TABLE ballast (b BLOB);"
                                     "WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL"
                                     " SELECT k + 1 FROM i WHERE k < 40)"
                                     " INSERT INTO ballast SELECT zeroblob(1048576) FROM i"),
                     SQLITE_OK);
        corrupt_inbox_page(large);

        CHECK_INT_EQ(store_open(large, &s, error), 0);
        if (!s) {
                TEST_FAIL("store_open: %s", error);
                return;
        }
        CHECK_INT_EQ(store_inbox_list_undone(s, NULL, &rows, &n), -EBADMSG);
        CHECK(strstr(store_error(s), "malformed") != NULL);
        CHECK(rows == NULL);
        store_free(s);
}

/* ---- reminders, settings, search, a user's data, retention ---- */

/* Adds a reminder in chat 42 and returns its id. */
static int64_t reminder_add_ok(struct store *s, const char *account, const char *user_id,
                               const char *text, int64_t due_at_ms, const char *rule)
{
        int64_t id = -1;
        int r;

        r = store_reminder_add(s, "telegram", account, "42", user_id, "t-9", text, due_at_ms,
                               rule, "Europe/Berlin", &id);
        CHECK_INT_EQ(r, 0);
        if (r < 0)
                fprintf(stderr, "  store_reminder_add: %s\n", store_error(s));
        return id;
}

/* The ids of rows, as "1,2,3". */
static char *reminder_ids(const struct store_reminder_row *rows, size_t n)
{
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);

        if (!f)
                abort();
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%" PRId64, i ? "," : "", rows[i].id);
        fclose(f);
        return out;
}

static void test_reminders(void)
{
        _cleanup_free_ char *path = test_path("reminders.db");
        _cleanup_free_ char *ids = NULL, *history = NULL, *linked = NULL;
        struct store_reminder_row *rows = NULL, row = {};
        struct store_outbox_row out = {};
        int64_t a, b, c, d, e, due = -1, outbox_id = -1, other = -1;
        struct store_counts counts;
        size_t n = 0;
        struct store *s;

        s = open_ok(path);
        CHECK_INT_EQ(store_reminder_next_due(s, &due), -ENOENT);
        CHECK_STR_EQ(store_error(s), "no reminder is pending");
        CHECK_INT_EQ(due, -1);

        a = reminder_add_ok(s, "bot1", "7", "stretch", 5000, NULL);
        b = reminder_add_ok(s, "bot1", "7", "call Anna", 3000, NULL);
        c = reminder_add_ok(s, "bot1", "7", "take the pills", 5000, "daily@09:00");
        d = reminder_add_ok(s, "bot1", "8", "water the plants", 2000, NULL);
        e = reminder_add_ok(s, "bot2", "7", "other account", 10000, NULL);
        CHECK_INT_EQ(a, 1);
        CHECK_INT_EQ(e, 5);

        /* The user's pending ones, by due time, then id. */
        CHECK_INT_EQ(store_reminder_list_pending(s, "telegram", "bot1", "7", &rows, &n), 0);
        ids = reminder_ids(rows, n);
        CHECK_STR_EQ(ids, "2,1,3");
        if (n == 3) {
                CHECK_STR_EQ(rows[0].text, "call Anna");
                CHECK_STR_EQ(rows[0].adapter, "telegram");
                CHECK_STR_EQ(rows[0].account, "bot1");
                CHECK_STR_EQ(rows[0].chat_id, "42");
                CHECK_STR_EQ(rows[0].user_id, "7");
                CHECK_STR_EQ(rows[0].thread_id, "t-9");
                CHECK_STR_EQ(rows[0].time_zone, "Europe/Berlin");
                CHECK(rows[0].rule == NULL);
                CHECK_STR_EQ(rows[2].rule, "daily@09:00");
                CHECK_INT_EQ(rows[0].status, STORE_REMINDER_PENDING);
                CHECK_INT_EQ(rows[0].due_at_ms, 3000);
                CHECK_INT_EQ(rows[0].fired_at_ms, 0);
                CHECK(!rows[0].late);
                CHECK(rows[0].created_at_ms > 1700000000000);
        }
        store_reminder_rows_free(rows, n);

        /* Only the owner cancels, only once. */
        CHECK_INT_EQ(store_reminder_cancel(s, "telegram", "bot1", "8", a), -ENOENT);
        CHECK_STR_EQ(store_error(s),
                     "cancelling a reminder: user 8 has no reminder 1 that can be changed");
        CHECK_INT_EQ(store_reminder_cancel(s, "telegram", "bot1", "7", d), -ENOENT);
        CHECK_INT_EQ(store_reminder_cancel(s, "telegram", "bot2", "7", a), -ENOENT);
        CHECK_INT_EQ(store_reminder_cancel(s, "telegram", "bot1", "7", 99), -ENOENT);
        CHECK_INT_EQ(store_reminder_cancel(s, "telegram", "bot1", "7", a), 0);
        CHECK_INT_EQ(store_reminder_cancel(s, "telegram", "bot1", "7", a), -ENOENT);
        CHECK_INT_EQ(store_reminder_cancel(s, "telegram", "bot1", NULL, a), -EINVAL);
        CHECK_INT_EQ(store_reminder_list_pending(s, "telegram", "bot1", "7", &rows, &n), 0);
        free(ids);
        ids = reminder_ids(rows, n);
        CHECK_STR_EQ(ids, "2,3");
        store_reminder_rows_free(rows, n);

        /* One timer for the earliest of all users; what is due now. */
        CHECK_INT_EQ(store_reminder_next_due(s, &due), 0);
        CHECK_INT_EQ(due, 2000);
        CHECK_INT_EQ(store_reminder_list_due(s, 3000, &rows, &n), 0);
        free(ids);
        ids = reminder_ids(rows, n);
        CHECK_STR_EQ(ids, "4,2");
        store_reminder_rows_free(rows, n);
        CHECK_INT_EQ(store_reminder_list_due(s, 1999, &rows, &n), 0);
        CHECK_INT_EQ(n, 0);
        store_reminder_rows_free(rows, n);

        /* A one-off fires once: outbox row to its chat and thread, fired. */
        CHECK_INT_EQ(store_reminder_fire(s, b, 3000, false, 0, "Reminder: call Anna",
                                         &outbox_id),
                     0);
        CHECK_INT_EQ(store_outbox_get(s, outbox_id, &out), 0);
        CHECK_STR_EQ(out.text, "Reminder: call Anna");
        CHECK_STR_EQ(out.source, "reminder");
        CHECK_STR_EQ(out.chat_id, "42");
        CHECK_STR_EQ(out.thread_id, "t-9");
        CHECK_STR_EQ(out.adapter, "telegram");
        CHECK_STR_EQ(out.account, "bot1");
        CHECK_INT_EQ(out.inbox_id, 0);
        CHECK(out.reply_to == NULL);
        CHECK_INT_EQ(out.status, STORE_OUTBOX_PENDING);
        store_outbox_row_clear(&out);
        CHECK_INT_EQ(store_reminder_get(s, b, &row), 0);
        CHECK_INT_EQ(row.status, STORE_REMINDER_FIRED);
        CHECK_INT_EQ(row.fired_at_ms, 3000);
        CHECK_INT_EQ(row.due_at_ms, 3000);
        CHECK(!row.late);
        store_reminder_row_clear(&row);

        CHECK_INT_EQ(store_reminder_fire(s, b, 3000, false, 0, "again", &other), -EALREADY);
        CHECK_STR_EQ(store_error(s), "reminder 2 is already fired");
        CHECK_INT_EQ(store_reminder_fire(s, a, 9000, false, 0, "cancelled", &other),
                     -EALREADY);
        CHECK_STR_EQ(store_error(s), "reminder 1 is already cancelled");
        CHECK_INT_EQ(store_reminder_fire(s, 99, 9000, false, 0, "none", &other), -ENOENT);
        /* A one-off has no next time. */
        CHECK_INT_EQ(store_reminder_fire(s, d, 3000, false, 9000, "x", &other), -EINVAL);
        CHECK_INT_EQ(store_reminder_fire(s, d, 3000, false, 0, NULL, &other), -EINVAL);
        CHECK_INT_EQ(other, -1);

        /* A recurring one: not before it is due, the next time must be
         * later, then it stays pending at the next time, marked late. */
        CHECK_INT_EQ(store_reminder_fire(s, c, 4999, false, 90000, "early", &other),
                     -EALREADY);
        CHECK_INT_EQ(store_reminder_fire(s, c, 6000, true, 5000, "same", &other), -EINVAL);
        CHECK_INT_EQ(store_reminder_fire(s, c, 6000, true, 86405000, "Reminder: pills",
                                         &outbox_id),
                     0);
        CHECK_INT_EQ(store_reminder_get(s, c, &row), 0);
        CHECK_INT_EQ(row.status, STORE_REMINDER_PENDING);
        CHECK_INT_EQ(row.due_at_ms, 86405000);
        CHECK_INT_EQ(row.fired_at_ms, 6000);
        CHECK(row.late);
        store_reminder_row_clear(&row);
        /* The same occurrence again: it is not due. */
        CHECK_INT_EQ(store_reminder_fire(s, c, 6000, true, 172805000, "twice", &other),
                     -EALREADY);
        CHECK_INT_EQ(other, -1);

        CHECK_INT_EQ(store_counts_get(s, &counts), 0);
        CHECK_INT_EQ(counts.outbox_total, 2);
        CHECK_INT_EQ(counts.history, 2);
        CHECK_INT_EQ(counts.reminders, 5);
        history = sql_text(path, "SELECT text, outbound, reminder_id, user_id IS NULL"
                                 " FROM history ORDER BY id");
        CHECK_STR_EQ(history, "Reminder: call Anna|1|2|1\nReminder: pills|1|3|1\n");
        linked = sql_text(path, "SELECT id, reminder_id FROM outbox ORDER BY id");
        CHECK_STR_EQ(linked, "1|2\n2|3\n");

        /* Snooze re-arms a fired one-off, moves a pending one; only the
         * owner's, never a cancelled one. */
        CHECK_INT_EQ(store_reminder_snooze(s, "telegram", "bot1", "7", b, 7000), 0);
        CHECK_INT_EQ(store_reminder_get(s, b, &row), 0);
        CHECK_INT_EQ(row.status, STORE_REMINDER_PENDING);
        CHECK_INT_EQ(row.due_at_ms, 7000);
        CHECK_INT_EQ(row.fired_at_ms, 3000);
        store_reminder_row_clear(&row);
        CHECK_INT_EQ(store_reminder_snooze(s, "telegram", "bot1", "7", c, 8000), 0);
        CHECK_INT_EQ(store_reminder_get(s, c, &row), 0);
        CHECK_INT_EQ(row.due_at_ms, 8000);
        CHECK(!row.late);
        store_reminder_row_clear(&row);
        CHECK_INT_EQ(store_reminder_snooze(s, "telegram", "bot1", "8", b, 7000), -ENOENT);
        CHECK_INT_EQ(store_reminder_snooze(s, "telegram", "bot1", "7", a, 7000), -ENOENT);
        CHECK_INT_EQ(store_reminder_snooze(s, "telegram", "bot1", "7", b, 0), -EINVAL);

        CHECK_INT_EQ(store_reminder_list_due(s, 8000, &rows, &n), 0);
        free(ids);
        ids = reminder_ids(rows, n);
        CHECK_STR_EQ(ids, "4,2,3");
        store_reminder_rows_free(rows, n);
        store_free(s);
}

static void test_reminder_limits(void)
{
        _cleanup_free_ char *path = test_path("reminder-limits.db");
        char text[STORE_REMINDER_TEXT_MAX_BYTES + 2];
        struct store_reminder_row *rows = NULL;
        struct store_counts counts;
        int64_t id = -1, outbox_id = -1;
        size_t n = 0;
        struct store *s;

        s = open_ok(path);
        memset(text, 'x', sizeof(text) - 1);
        text[sizeof(text) - 1] = '\0';
        CHECK_INT_EQ(store_reminder_add(s, "telegram", "bot1", "42", "7", NULL, text, 1000,
                                        NULL, "UTC", &id),
                     -E2BIG);
        text[STORE_REMINDER_TEXT_MAX_BYTES] = '\0';
        CHECK_INT_EQ(store_reminder_add(s, "telegram", "bot1", "42", "7", NULL, text, 1000,
                                        NULL, "UTC", &id),
                     0);
        CHECK_INT_EQ(id, 1);
        CHECK_INT_EQ(store_reminder_add(s, "telegram", "bot1", "42", "7", NULL, NULL, 1000,
                                        NULL, "UTC", &id),
                     -EINVAL);
        CHECK_INT_EQ(store_reminder_add(s, "telegram", "bot1", "42", "7", NULL, "x", 0,
                                        NULL, "UTC", &id),
                     -EINVAL);
        CHECK_INT_EQ(store_reminder_add(s, "telegram", "bot1", "42", "7", NULL, "x", 1000,
                                        NULL, NULL, &id),
                     -EINVAL);
        CHECK_INT_EQ(id, 1);

        /* STORE_REMINDER_PENDING_MAX per user: the next is refused, another
         * user is not, and a freed place can be taken again. */
        for (int i = 1; i < STORE_REMINDER_PENDING_MAX; i++)
                reminder_add_ok(s, "bot1", "7", "x", 1000 + i, NULL);
        CHECK_INT_EQ(store_reminder_add(s, "telegram", "bot1", "42", "7", NULL, "x", 5000,
                                        NULL, "UTC", &id),
                     -EDQUOT);
        CHECK_STR_EQ(store_error(s),
                     "user 7 already has 100 pending reminders, the most allowed");
        CHECK_INT_EQ(id, 1);
        for (int i = 0; i < 2 * STORE_REMINDER_PENDING_MAX; i++)
                reminder_add_ok(s, "bot1", i % 2 ? "8" : "9", "y", 500, NULL);
        CHECK_INT_EQ(store_reminder_fire(s, 1, 1000, false, 0, "x", &outbox_id), 0);
        CHECK_INT_EQ(store_reminder_add(s, "telegram", "bot1", "42", "7", NULL, "x", 5000,
                                        NULL, "UTC", &id),
                     0);
        CHECK_INT_EQ(id, 3 * STORE_REMINDER_PENDING_MAX + 1);

        /* 300 are due; one batch holds STORE_REMINDER_DUE_BATCH_MAX, the
         * earliest first. */
        CHECK_INT_EQ(store_reminder_list_due(s, 2000, &rows, &n), 0);
        CHECK_INT_EQ(n, STORE_REMINDER_DUE_BATCH_MAX);
        CHECK_INT_EQ(n > 0 ? rows[0].due_at_ms : 0, 500);
        CHECK_INT_EQ(n > 0 ? rows[0].id : 0, STORE_REMINDER_PENDING_MAX + 1);
        store_reminder_rows_free(rows, n);

        /* A failure inside the firing leaves neither outbox row nor mark. */
        CHECK_INT_EQ(sql_exec(path,
                              "CREATE TRIGGER inject_fire BEFORE UPDATE ON reminders"
                              " BEGIN SELECT RAISE(ABORT, 'injected reminder failure'); END"),
                     SQLITE_OK);
        CHECK_INT_EQ(store_counts_get(s, &counts), 0);
        CHECK_INT_EQ(counts.outbox_total, 1);
        outbox_id = -1;
        CHECK_INT_EQ(store_reminder_fire(s, 2, 2000, false, 0, "x", &outbox_id), -EINVAL);
        CHECK(strstr(store_error(s), "injected reminder failure") != NULL);
        CHECK_INT_EQ(outbox_id, -1);
        CHECK_INT_EQ(store_counts_get(s, &counts), 0);
        CHECK_INT_EQ(counts.outbox_total, 1);
        CHECK_INT_EQ(counts.history, 1);
        CHECK_INT_EQ(sql_int(path, "SELECT count(*) FROM reminders WHERE status = 'pending'"),
                     3 * STORE_REMINDER_PENDING_MAX);
        store_free(s);
}

static void test_settings(void)
{
        _cleanup_free_ char *path = test_path("settings.db");
        char key[STORE_SETTING_KEY_MAX_BYTES + 2], value[STORE_SETTING_VALUE_MAX_BYTES + 2];
        char *got = NULL;
        struct store *s;

        s = open_ok(path);
        got = (char *)"unchanged";
        CHECK_INT_EQ(store_setting_get(s, "telegram", "bot1", "7", "tz", &got), 0);
        CHECK(got == NULL);

        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "7", "tz", "Europe/Berlin"), 0);
        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "8", "tz", "Asia/Shanghai"), 0);
        CHECK_INT_EQ(store_setting_get(s, "telegram", "bot1", "7", "tz", &got), 0);
        CHECK_STR_EQ(got, "Europe/Berlin");
        free(got);

        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "7", "tz", "America/New_York"),
                     0);
        CHECK_INT_EQ(store_setting_get(s, "telegram", "bot1", "7", "tz", &got), 0);
        CHECK_STR_EQ(got, "America/New_York");
        free(got);
        CHECK_INT_EQ(store_setting_get(s, "telegram", "bot2", "7", "tz", &got), 0);
        CHECK(got == NULL);

        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "7", "tz", NULL), 0);
        CHECK_INT_EQ(store_setting_get(s, "telegram", "bot1", "7", "tz", &got), 0);
        CHECK(got == NULL);
        CHECK_INT_EQ(store_setting_get(s, "telegram", "bot1", "8", "tz", &got), 0);
        CHECK_STR_EQ(got, "Asia/Shanghai");
        free(got);

        memset(key, 'k', sizeof(key) - 1);
        key[sizeof(key) - 1] = '\0';
        memset(value, 'v', sizeof(value) - 1);
        value[sizeof(value) - 1] = '\0';
        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "7", key, "x"), -E2BIG);
        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "7", "lang", value), -E2BIG);
        CHECK_STR_EQ(store_error(s), "setting lang: value of 1001 bytes is longer than 1000");
        value[STORE_SETTING_VALUE_MAX_BYTES] = '\0';
        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "7", "lang", value), 0);
        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "7", NULL, "x"), -EINVAL);
        CHECK_INT_EQ(sql_int(path, "SELECT count(*) FROM settings"), 2);
        store_free(s);
}

/* Accepts one event and returns its inbox id. */
static int64_t accept_one(struct store *s, const char *account, const char *event_id,
                          const char *chat_id, const char *user_id, const char *text,
                          int64_t sent_at_ms)
{
        struct store_inbound e = {
                .event_id = event_id,
                .chat_id = chat_id,
                .user_id = user_id,
                .user_name = user_id,
                .message_id = event_id,
                .text = text,
                .direct = true,
                .addressed = true,
                .sent_at_ms = sent_at_ms,
        };
        int64_t id = -1;

        CHECK_INT_EQ(store_inbox_accept(s, "telegram", account, &e, 1, NULL, &id), 1);
        return id;
}

static void answer(struct store *s, int64_t inbox_id, const char *chat_id, const char *text,
                   int64_t *ret_outbox_id)
{
        struct store_reply reply = {
                .chat_id = chat_id,
                .text = text,
                .source = "model",
        };

        CHECK_INT_EQ(store_inbox_complete(s, inbox_id, text ? &reply : NULL, ret_outbox_id),
                     0);
}

/* The texts of rows, joined by '|'. */
static char *history_texts(const struct store_history_row *rows, size_t n)
{
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);

        if (!f)
                abort();
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%s", i ? "|" : "", rows[i].text ? rows[i].text : "(null)");
        fclose(f);
        return out;
}

/* Searches chat 42 of user 7; the texts found, or "error N". */
static char *search(struct store *s, const char *query, size_t limit)
{
        struct store_history_row *rows = NULL;
        char *texts;
        size_t n = 0;
        int r;

        r = store_history_search(s, "telegram", "bot1", "42", "7", query, limit, &rows, &n);
        if (r < 0) {
                if (asprintf(&texts, "error %d", r) < 0)
                        abort();
                return texts;
        }
        texts = history_texts(rows, n);
        store_history_rows_free(rows, n);
        return texts;
}

static void check_search(struct store *s, const char *query, size_t limit,
                         const char *expected)
{
        _cleanup_free_ char *got = search(s, query, limit);

        CHECK_STR_EQ(got, expected);
        if (!got || strcmp(got, expected) != 0)
                fprintf(stderr, "  for the query \"%s\"\n", query);
}

static void test_history_search(void)
{
        _cleanup_free_ char *path = test_path("history-search.db");
        char query[STORE_SEARCH_QUERY_MAX_BYTES + 2];
        struct store *s;
        int64_t id;

        s = open_ok(path);
        id = accept_one(s, "bot1", "s1", "42", "7", "Meeting with Anna on Friday", 1000);
        answer(s, id, "42", "Noted: Anna on Friday.", NULL);
        accept_one(s, "bot1", "s2", "42", "7", "The quarterly report is due", 2000);
        accept_one(s, "bot1", "s3", "42", "7", "Anna's birthday party", 3000);
        accept_one(s, "bot1", "s4", "42", "7", "don't forget the \"milk\"", 4000);
        accept_one(s, "bot1", "s5", "42", "8", "Anna from another user", 5000);
        accept_one(s, "bot1", "s6", "43", "7", "Anna in another chat", 6000);
        accept_one(s, "bot2", "s7", "42", "7", "Anna on another account", 7000);

        /* The user's own messages in this chat, newest first; case and
         * punctuation do not matter; every word must be there. */
        check_search(s, "anna", 10, "Anna's birthday party|Meeting with Anna on Friday");
        check_search(s, "ANNA friday", 10, "Meeting with Anna on Friday");
        check_search(s, "anna", 1, "Anna's birthday party");
        check_search(s, "anna", 0, "");
        check_search(s, "don't", 10, "don't forget the \"milk\"");
        check_search(s, "report", 10, "The quarterly report is due");

        /* The user's syntax is words, not FTS5 syntax. */
        check_search(s, "anna OR milk", 10, "");
        check_search(s, "\"milk", 10, "don't forget the \"milk\"");
        check_search(s, "NEAR(anna friday)", 10, "");
        check_search(s, "anna*", 10, "Anna's birthday party|Meeting with Anna on Friday");
        check_search(s, "text:anna", 10, "");
        check_search(s, "-report", 10, "The quarterly report is due");
        check_search(s, "milk ???", 10, "don't forget the \"milk\"");
        check_search(s, "!!! ...", 10, "error -22");
        CHECK_STR_EQ(store_error(s), "search: the query has no letter or digit");
        check_search(s, "", 10, "error -22");
        check_search(s, "\xff", 10, "error -22");

        memset(query, 'a', sizeof(query) - 1);
        query[sizeof(query) - 1] = '\0';
        check_search(s, query, 10, "error -7");
        check_search(s, "a b c d e f g h i j k l m n o p", 10, "");
        check_search(s, "a b c d e f g h i j k l m n o p q", 10, "error -7");
        store_free(s);
}

static void test_exchanges(void)
{
        _cleanup_free_ char *path = test_path("exchanges.db");
        struct store_exchange *x = NULL;
        int64_t m1, m2, m3, m4, reminder, outbox_id;
        size_t n = 0;
        struct store *s;

        s = open_ok(path);
        m1 = accept_one(s, "bot1", "x1", "42", "7", "hello", 1000);
        m2 = accept_one(s, "bot1", "x2", "42", "8", "chatter between people", 2000);
        m3 = accept_one(s, "bot1", "x3", "42", "7", "how are you?", 3000);
        m4 = accept_one(s, "bot1", "x4", "42", "7", "still thinking", 4000);
        accept_one(s, "bot1", "x5", "43", "7", "other chat", 5000);
        /* Answered out of order: m3 first, then m1. */
        answer(s, m3, "42", "fine, thanks", NULL);
        answer(s, m2, "42", NULL, NULL);
        answer(s, m1, "42", "hi there", NULL);
        reminder = reminder_add_ok(s, "bot1", "7", "stretch", 1000, NULL);
        CHECK_INT_EQ(store_reminder_fire(s, reminder, 1000, false, 0, "stretch!", &outbox_id),
                     0);
        (void)m4;

        CHECK_INT_EQ(store_history_last_exchanges(s, "telegram", "bot1", "42", 10, &x, &n), 0);
        CHECK_INT_EQ(n, 2);
        if (n == 2) {
                CHECK_STR_EQ(x[0].question.text, "hello");
                CHECK_STR_EQ(x[0].answer.text, "hi there");
                CHECK_STR_EQ(x[1].question.text, "how are you?");
                CHECK_STR_EQ(x[1].answer.text, "fine, thanks");
                CHECK(!x[1].question.outbound);
                CHECK(x[1].answer.outbound);
                CHECK_STR_EQ(x[1].question.user_id, "7");
                CHECK(x[1].answer.user_id == NULL);
                CHECK_INT_EQ(x[1].question.at_ms, 3000);
                CHECK_STR_EQ(x[1].answer.chat_id, "42");
                CHECK(x[0].question.id < x[1].question.id);
                CHECK(x[1].answer.id < x[0].answer.id);
        }
        store_exchanges_free(x, n);

        CHECK_INT_EQ(store_history_last_exchanges(s, "telegram", "bot1", "42", 1, &x, &n), 0);
        CHECK_INT_EQ(n, 1);
        CHECK_STR_EQ(n == 1 ? x[0].question.text : NULL, "how are you?");
        store_exchanges_free(x, n);

        CHECK_INT_EQ(store_history_last_exchanges(s, "telegram", "bot1", "42", 0, &x, &n), 0);
        CHECK_INT_EQ(n, 0);
        store_exchanges_free(x, n);
        CHECK_INT_EQ(store_history_last_exchanges(s, "telegram", "bot1", "43", 10, &x, &n), 0);
        CHECK_INT_EQ(n, 0);
        store_exchanges_free(x, n);
        CHECK_INT_EQ(store_history_last_exchanges(s, "telegram", "bot1", NULL, 10, &x, &n),
                     -EINVAL);
        store_exchanges_free(NULL, 0);
        store_free(s);
}

/* Whether the bytes of text appear in the file at path, if it exists. */
static bool file_holds(const char *path, const char *text)
{
        _cleanup_free_ unsigned char *data = NULL;
        size_t size;

        if (!file_exists(path))
                return false;
        data = file_read(path, &size);
        return memmem(data, size, text, strlen(text)) != NULL;
}

/* The world of test_forget and test_export: users 7 and 8 in chat 42 of
 * telegram/bot1, and user 7 on bot2. */
static void user_data_make(struct store *s)
{
        int64_t m1, m2, m3, r1, fired, outbox_id;

        m1 = accept_one(s, "bot1", "f1", "42", "7", "my marmalade secret", 1000);
        m2 = accept_one(s, "bot1", "f2", "42", "7", "second \"quoted\"\nline", 2000);
        m3 = accept_one(s, "bot1", "f3", "42", "8", "eight says hi", 3000);
        accept_one(s, "bot1", "f4", "42", "7", "forget me", 4000);
        accept_one(s, "bot2", "f5", "42", "7", "seven elsewhere", 5000);
        answer(s, m1, "42", "I keep your marmalade secret", &r1);
        CHECK_INT_EQ(store_outbox_mark_sent(s, r1, "p-1"), 0);
        answer(s, m2, "42", "a pending reply", NULL);
        answer(s, m3, "42", "hi eight", NULL);

        fired = reminder_add_ok(s, "bot1", "7", "buy marmalade", 1000, NULL);
        CHECK_INT_EQ(store_reminder_fire(s, fired, 1000, false, 0, "Reminder: buy marmalade",
                                         &outbox_id),
                     0);
        CHECK_INT_EQ(store_outbox_mark_sent(s, outbox_id, "p-2"), 0);
        reminder_add_ok(s, "bot1", "7", "call Anna", 90000, "daily@09:00");
        reminder_add_ok(s, "bot1", "8", "eight's reminder", 90000, NULL);
        reminder_add_ok(s, "bot2", "7", "bot2 reminder", 90000, NULL);
        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "7", "tz", "Europe/Berlin"), 0);
        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "7", "lang", "en"), 0);
        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "8", "tz", "Asia/Shanghai"), 0);
        CHECK_INT_EQ(store_setting_set(s, "telegram", "bot2", "7", "tz", "UTC"), 0);
}

static void test_forget(void)
{
        _cleanup_free_ char *path = test_path("forget.db"), *wal = NULL;
        _cleanup_free_ char *history = NULL, *inbox = NULL, *outbox = NULL, *rest = NULL;
        struct store_forget_counts c = { -1, -1, -1 };
        struct store *s;

        if (asprintf(&wal, "%s-wal", path) < 0)
                abort();

        s = open_ok(path);
        user_data_make(s);
        CHECK(file_holds(path, "marmalade secret") || file_holds(wal, "marmalade secret"));

        CHECK_INT_EQ(store_user_forget(s, "telegram", "bot1", "7", &c), 0);
        /* History: f1, its reply, f2, its reply, f4, the reminder's firing. */
        CHECK_INT_EQ(c.messages, 6);
        CHECK_INT_EQ(c.reminders, 2);
        CHECK_INT_EQ(c.settings, 2);

        history = sql_text(path, "SELECT account, text FROM history ORDER BY id");
        CHECK_STR_EQ(history, "bot1|eight says hi\nbot2|seven elsewhere\nbot1|hi eight\n");
        /* Answered rows keep their event id only; "forget me" is still being
         * answered and stays for the delivery path. */
        inbox = sql_text(path, "SELECT event_id, user_id, user_name, text, status FROM inbox"
                               " ORDER BY id");
        CHECK_STR_EQ(inbox, "f1||||done\nf2||||done\nf3|8|8|eight says hi|done\n"
                            "f4|7|7|forget me|new\nf5|7|7|seven elsewhere|new\n");
        /* Delivered replies go; an undelivered one stays to be delivered. */
        outbox = sql_text(path, "SELECT text, status FROM outbox ORDER BY id");
        CHECK_STR_EQ(outbox, "a pending reply|pending\nhi eight|pending\n");
        rest = sql_text(path, "SELECT 'r', account, user_id, text FROM reminders"
                              " UNION ALL SELECT 's', account, user_id, value FROM settings"
                              " ORDER BY 1, 2, 3");
        CHECK_STR_EQ(rest, "r|bot1|8|eight's reminder\nr|bot2|7|bot2 reminder\n"
                           "s|bot1|8|Asia/Shanghai\ns|bot2|7|UTC\n");

        /* Neither the database nor its log still holds the words. */
        CHECK(!file_holds(path, "marmalade"));
        CHECK(!file_holds(wal, "marmalade"));
        CHECK_INT_EQ(sql_int(path, "SELECT count(*) FROM history_fts WHERE history_fts"
                                   " MATCH 'marmalade'"),
                     0);
        CHECK_INT_EQ(sql_int(path, "SELECT count(*) FROM history_fts WHERE history_fts"
                                   " MATCH 'eight'"),
                     2);

        /* Again: nothing left to erase. */
        CHECK_INT_EQ(store_user_forget(s, "telegram", "bot1", "7", &c), 0);
        CHECK_INT_EQ(c.messages + c.reminders + c.settings, 0);
        CHECK_INT_EQ(store_user_forget(s, "telegram", NULL, "7", &c), -EINVAL);
        store_free(s);
}

/* The lines of an export, each parsed; NULL where a line is not JSON. */
static size_t export_parse(char *text, json_object **objects, size_t max)
{
        size_t n = 0;

        for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n"))
                objects[n++] = json_tokener_parse(line);
        return n;
}

static const char *json_get_string(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v))
                return "(missing)";
        return v ? json_object_get_string(v) : "(null)";
}

static int64_t json_get_int(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v))
                return -1;
        return json_object_get_int64(v);
}

static void test_export(void)
{
        _cleanup_free_ char *path = test_path("export.db");
        _cleanup_free_ char *text = NULL;
        json_object *lines[16] = {};
        size_t size = 0, n;
        struct store *s;
        FILE *f, *full;
        int r;

        s = open_ok(path);
        user_data_make(s);

        f = open_memstream(&text, &size);
        if (!f)
                abort();
        r = store_user_export(s, "telegram", "bot1", "7", f);
        fclose(f);
        /* A header, 6 messages, 2 reminders, 2 settings. */
        CHECK_INT_EQ(r, 11);
        CHECK(text && !strstr(text, "eight"));
        CHECK(text && !strstr(text, "elsewhere"));

        n = export_parse(text, lines, ELEMENTSOF(lines));
        CHECK_INT_EQ(n, 11);
        if (n == 11) {
                CHECK_STR_EQ(json_get_string(lines[0], "type"), "export");
                CHECK_INT_EQ(json_get_int(lines[0], "version"), 1);
                CHECK_STR_EQ(json_get_string(lines[0], "user_id"), "7");
                CHECK_STR_EQ(json_get_string(lines[0], "account"), "bot1");
                CHECK(json_get_int(lines[0], "exported_at_ms") > 1700000000000);

                CHECK_STR_EQ(json_get_string(lines[1], "type"), "message");
                CHECK_STR_EQ(json_get_string(lines[1], "text"), "my marmalade secret");
                CHECK_STR_EQ(json_get_string(lines[1], "direction"), "in");
                CHECK_INT_EQ(json_get_int(lines[1], "at_ms"), 1000);
                CHECK_STR_EQ(json_get_string(lines[1], "chat_id"), "42");
                CHECK_STR_EQ(json_get_string(lines[1], "thread_id"), "(null)");
                CHECK_STR_EQ(json_get_string(lines[2], "text"), "second \"quoted\"\nline");
                CHECK_STR_EQ(json_get_string(lines[3], "text"), "forget me");
                CHECK_STR_EQ(json_get_string(lines[4], "text"),
                             "I keep your marmalade secret");
                CHECK_STR_EQ(json_get_string(lines[4], "direction"), "out");
                CHECK_STR_EQ(json_get_string(lines[4], "user_id"), "(null)");
                CHECK_STR_EQ(json_get_string(lines[5], "text"), "a pending reply");
                CHECK_STR_EQ(json_get_string(lines[6], "text"), "Reminder: buy marmalade");

                CHECK_STR_EQ(json_get_string(lines[7], "type"), "reminder");
                CHECK_STR_EQ(json_get_string(lines[7], "text"), "buy marmalade");
                CHECK_STR_EQ(json_get_string(lines[7], "status"), "fired");
                CHECK_INT_EQ(json_get_int(lines[7], "fired_at_ms"), 1000);
                CHECK_STR_EQ(json_get_string(lines[7], "rule"), "(null)");
                CHECK_STR_EQ(json_get_string(lines[8], "rule"), "daily@09:00");
                CHECK_STR_EQ(json_get_string(lines[8], "time_zone"), "Europe/Berlin");
                CHECK_INT_EQ(json_get_int(lines[8], "due_at_ms"), 90000);
                CHECK_STR_EQ(json_get_string(lines[8], "late"), "false");

                CHECK_STR_EQ(json_get_string(lines[9], "type"), "setting");
                CHECK_STR_EQ(json_get_string(lines[9], "key"), "lang");
                CHECK_STR_EQ(json_get_string(lines[9], "value"), "en");
                CHECK_STR_EQ(json_get_string(lines[10], "key"), "tz");
        }
        for (size_t i = 0; i < n; i++)
                json_object_put(lines[i]);

        /* A user with nothing stored gets the header alone. */
        free(text);
        text = NULL;
        f = open_memstream(&text, &size);
        if (!f)
                abort();
        CHECK_INT_EQ(store_user_export(s, "telegram", "bot1", "nobody", f), 1);
        fclose(f);

        /* A full disk is an error, and the store goes on working. */
        full = fopen("/dev/full", "w");
        if (full) {
                CHECK_INT_EQ(store_user_export(s, "telegram", "bot1", "7", full), -EIO);
                CHECK(strstr(store_error(s), "cannot write") != NULL);
                fclose(full);
                CHECK_INT_EQ(store_setting_set(s, "telegram", "bot1", "7", "tz", "UTC"), 0);
        }
        CHECK_INT_EQ(store_user_export(s, "telegram", "bot1", NULL, stdout), -EINVAL);
        store_free(s);
}

static void test_prune(void)
{
        _cleanup_free_ char *path = test_path("prune.db");
        _cleanup_free_ char *history = NULL, *inbox = NULL, *outbox = NULL, *left = NULL;
        struct store_prune_counts c = { -1, -1, -1, -1 };
        int64_t e0, e1, e2, r0, fired, cancelled, outbox_id;
        struct store *s;

        s = open_ok(path);
        e0 = accept_one(s, "bot1", "p0", "42", "7", "first", 1000);
        e1 = accept_one(s, "bot1", "p1", "42", "7", "second", 2000);
        e2 = accept_one(s, "bot1", "p2", "42", "7", "third", 3000);
        accept_one(s, "bot1", "p3", "42", "7", "fourth", 4000);
        answer(s, e0, "42", "reply to first", &r0);
        CHECK_INT_EQ(store_outbox_mark_sent(s, r0, "m-1"), 0);
        answer(s, e1, "42", NULL, NULL);
        answer(s, e2, "42", "reply to third", NULL);

        fired = reminder_add_ok(s, "bot1", "7", "fired one", 1200, NULL);
        CHECK_INT_EQ(store_reminder_fire(s, fired, 1200, false, 0, "Reminder: fired one",
                                         &outbox_id),
                     0);
        CHECK_INT_EQ(store_outbox_mark_sent(s, outbox_id, "m-2"), 0);
        cancelled = reminder_add_ok(s, "bot1", "7", "cancelled one", 1300, NULL);
        CHECK_INT_EQ(store_reminder_cancel(s, "telegram", "bot1", "7", cancelled), 0);
        reminder_add_ok(s, "bot1", "7", "pending and overdue", 1000, NULL);
        reminder_add_ok(s, "bot1", "7", "recurring", 1000, "daily@09:00");

        /* Everything stored "now" is moved to 1500, before the cut. */
        CHECK_INT_EQ(sql_exec(path, "UPDATE inbox SET received_at_ms = 1500;"
                                    "UPDATE outbox SET created_at_ms = 1500;"
                                    "UPDATE history SET at_ms = 1500 WHERE outbound = 1;"
                                    "UPDATE reminders SET created_at_ms = 1500;"),
                     SQLITE_OK);

        CHECK_INT_EQ(store_history_prune(s, 2500, &c), 0);
        /* first (1000), second (2000), the two replies and the firing. */
        CHECK_INT_EQ(c.history, 5);
        CHECK_INT_EQ(c.outbox, 2);
        CHECK_INT_EQ(c.inbox, 2);
        CHECK_INT_EQ(c.reminders, 2);

        history = sql_text(path, "SELECT text FROM history ORDER BY id");
        CHECK_STR_EQ(history, "third\nfourth\n");
        /* third's reply is not delivered yet, fourth is not answered. */
        inbox = sql_text(path, "SELECT event_id, status FROM inbox ORDER BY id");
        CHECK_STR_EQ(inbox, "p2|done\np3|new\n");
        outbox = sql_text(path, "SELECT text, status FROM outbox ORDER BY id");
        CHECK_STR_EQ(outbox, "reply to third|pending\n");
        left = sql_text(path, "SELECT text, status FROM reminders ORDER BY id");
        CHECK_STR_EQ(left, "pending and overdue|pending\nrecurring|pending\n");
        CHECK_INT_EQ(sql_int(path, "SELECT count(*) FROM history_fts WHERE history_fts"
                                   " MATCH 'first'"),
                     0);

        CHECK_INT_EQ(store_history_prune(s, 2500, &c), 0);
        CHECK_INT_EQ(c.history + c.inbox + c.outbox + c.reminders, 0);
        store_free(s);
}

/* Rows stored before schema version 4 are linked by their content. */
static void test_migrate_links(void)
{
        _cleanup_free_ char *path = test_path("v1-links.db");
        _cleanup_free_ char *fixture = NULL, *links = NULL;
        _cleanup_free_ unsigned char *sql = NULL;
        const char *srcdir = getenv("top_srcdir") ?: ".";
        struct store_exchange *x = NULL;
        struct store_forget_counts c;
        size_t size, n = 0;
        struct store *s;

        if (asprintf(&fixture, "%s/tests/fixtures/store-v1.sql", srcdir) < 0)
                abort();
        if (!file_exists(fixture)) {
                TEST_FAIL("%s: missing (is $top_srcdir set?)", fixture);
                return;
        }
        sql = file_read(fixture, &size);
        sql[size] = '\0';
        CHECK_INT_EQ(sql_exec(path, (const char *)sql), SQLITE_OK);

        s = open_ok(path);
        links = sql_text(path, "SELECT id, inbox_id, outbound FROM history ORDER BY id");
        CHECK_STR_EQ(links, "1|1|0\n2|1|1\n3|2|0\n4|3|0\n");

        CHECK_INT_EQ(store_history_last_exchanges(s, "telegram", "bot1", "42", 5, &x, &n), 0);
        CHECK_INT_EQ(n, 1);
        if (n == 1) {
                CHECK_STR_EQ(x[0].question.text, "Will I need an umbrella tomorrow?");
                CHECK_STR_EQ(x[0].answer.text, "Probably, take one.");
        }
        store_exchanges_free(x, n);

        /* Ada's old rows and the reply to her are found for erasure. */
        CHECK_INT_EQ(store_user_forget(s, "telegram", "bot1", "7", &c), 0);
        CHECK_INT_EQ(c.messages, 3);
        CHECK_INT_EQ(sql_int(path, "SELECT count(*) FROM history"), 1);
        store_free(s);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/* Group commit: operations in a batch fail alone, and become durable (and
 * visible to another connection) only when the batch ends. */
static void test_batch(void)
{
        _cleanup_free_ char *path = test_path("batch.db");
        struct store_inbound events[2] = { event_weather, event_cafe };
        struct store_counts c;
        int64_t ids[2], outbox_id = -1;
        sqlite3 *other;
        struct store *s;
        int64_t seen = -1;

        s = open_ok(path);
        CHECK_INT_EQ(store_batch_end(s), -EINVAL);
        CHECK_INT_EQ(store_batch_begin(s), 0);
        CHECK_INT_EQ(store_batch_begin(s), -EALREADY);

        CHECK_INT_EQ(store_inbox_accept(s, "telegram", "bot1", events, 2, "7", ids), 2);
        CHECK_INT_EQ(store_inbox_complete(s, ids[0], &reply_weather, &outbox_id), 0);
        /* A failing operation inside the batch undoes only itself. */
        CHECK_INT_EQ(store_inbox_complete(s, 999, &reply_weather, NULL), -ENOENT);
        CHECK_INT_EQ(store_inbox_complete(s, ids[0], &reply_weather, NULL), -EALREADY);

        /* Not committed yet: another connection sees nothing. */
        CHECK_INT_EQ(sqlite3_open(path, &other), SQLITE_OK);
        sqlite3_busy_timeout(other, 5000);
        {
                sqlite3_stmt *st;

                CHECK_INT_EQ(sqlite3_prepare_v2(other, "SELECT count(*) FROM inbox", -1, &st,
                                                NULL), SQLITE_OK);
                CHECK_INT_EQ(sqlite3_step(st), SQLITE_ROW);
                seen = sqlite3_column_int64(st, 0);
                sqlite3_finalize(st);
        }
        CHECK_INT_EQ(seen, 0);

        CHECK_INT_EQ(store_batch_end(s), 0);
        {
                sqlite3_stmt *st;

                CHECK_INT_EQ(sqlite3_prepare_v2(other, "SELECT count(*) FROM inbox", -1, &st,
                                                NULL), SQLITE_OK);
                CHECK_INT_EQ(sqlite3_step(st), SQLITE_ROW);
                seen = sqlite3_column_int64(st, 0);
                sqlite3_finalize(st);
        }
        CHECK_INT_EQ(seen, 2);
        sqlite3_close(other);

        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.inbox_undone, 1);
        CHECK_INT_EQ(c.outbox_pending, 1);
        CHECK_INT_EQ(c.history, 3);

        /* Outside a batch, operations commit by themselves again. */
        CHECK_INT_EQ(store_outbox_mark_sent(s, outbox_id, "m-1"), 0);
        store_free(s);

        s = open_ok(path);
        CHECK_INT_EQ(store_counts_get(s, &c), 0);
        CHECK_INT_EQ(c.outbox_sent, 1);
        CHECK_INT_EQ(c.inbox_undone, 1);
        store_free(s);
}

int main(void)
{
        const char *tmp = getenv("TMPDIR") ?: "/tmp";

        snprintf(test_dir, sizeof(test_dir), "%s/parley-test-store-XXXXXX", tmp);
        if (!mkdtemp(test_dir)) {
                fprintf(stderr, "mkdtemp %s: %s\n", test_dir, strerror(errno));
                return 1;
        }

        test_create();
        test_accept();
        test_complete();
        test_restart();
        test_outbox_state();
        test_keys();
        test_cursor();
        test_history();
        test_search();
        test_not_a_database();
        test_truncated();
        test_migrate_v1();
        test_newer_schema();
        test_foreign_database();
        test_bad_paths();
        test_rollback();
        test_quick_check_limit();
        test_reminders();
        test_reminder_limits();
        test_settings();
        test_history_search();
        test_exchanges();
        test_forget();
        test_export();
        test_prune();
        test_migrate_links();
        test_batch();

        if (nftw(test_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
                fprintf(stderr, "removing %s: %s\n", test_dir, strerror(errno));
        return test_finish();
}
