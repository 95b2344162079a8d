/* matrix.c: the Matrix adapter (client-server API v3).
 *
 * Receiving is a /sync long poll.  The since token is the receive cursor
 * the core stores with each batch (adapter_cursor()); a new next_batch is
 * handed to adapter_receive() with the events it covers, even when there
 * are none, and the next poll starts only once that batch is durable, so a
 * crash at any point re-reads events the inbox then drops as duplicates.
 * The first sync of an account with no stored position answers nothing: it
 * only records where the account stands.
 *
 * Start-up runs in phases on one call at a time: a one-time password login
 * (when there is no access token), whoami (checks the token), the bot's
 * display name, its m.direct account data (which rooms are direct chats),
 * then sync for good.  Failures back off with src/backoff.h; only a
 * refused token or password stops the adapter (ADAPTER_FAILED).
 *
 * Sending is PUT /rooms/{room}/send/m.room.message/{txnId}, the txnId being
 * the reply's idempotency key (key-2, key-3... for the further parts of a
 * long reply), so a retry after a crash or a lost answer is deduplicated
 * by the homeserver.
 *
 * The access token is secret: it goes only into the Authorization header,
 * never into a URL, a log line or an error text. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapter.h"
#include "backoff.h"
#include "http.h"
#include "log.h"
#include "macro.h"
#include "matrix-split.h"
#include "strmap.h"

#define MATRIX_API "/_matrix/client/v3"
#define MATRIX_CALL_TIMEOUT_MS (30 * 1000)      /* calls other than /sync */
#define MATRIX_SYNC_RESPONSE_MAX (64 * 1024 * 1024)
#define MATRIX_RETRY_INITIAL_MS 1000
#define MATRIX_RETRY_MAX_MS (60 * 1000)
#define MATRIX_JOIN_RETRY_INITIAL_MS 2000
#define MATRIX_JOIN_WINDOW_MS (5 * 60 * 1000)   /* retrying a 403 after an invite */
#define MATRIX_FAILED_RETRY_MS (60 * 1000)      /* sends while the adapter is failed */
#define MATRIX_NOT_READY_RETRY_MS 2000          /* sends before the login finished */
#define MATRIX_RECENT_MAX 256                   /* own event ids kept for replies */
#define MATRIX_TOKEN_MAX 4096
#define MATRIX_SESSION_FILE "matrix-session.json"
#define MATRIX_SESSION_VERSION 1
#define MATRIX_CREDENTIAL "matrix-token"

/* Keeps the timeline to messages, state to nothing (room summaries still
 * come), and account data to m.direct. */
#define MATRIX_FILTER                                                           \
        "{\"presence\":{\"types\":[]},"                                         \
        "\"account_data\":{\"types\":[\"m.direct\"]},"                          \
        "\"room\":{\"timeline\":{\"limit\":50,\"types\":[\"m.room.message\"]}," \
        "\"state\":{\"types\":[],\"lazy_load_members\":true},"                  \
        "\"ephemeral\":{\"types\":[]},\"account_data\":{\"types\":[]}}}"

static const struct config_key matrix_config_keys[] = {
        { "matrix", "enabled", CONFIG_BOOL, "false", false, 0, 0, NULL,
          "connect to a Matrix homeserver" },
        { "matrix", "homeserver_url", CONFIG_STRING, NULL, false, 0, 0, NULL,
          "the homeserver's client API base URL, e.g. https://matrix.example.org "
          "(required when enabled)" },
        { "matrix", "user_id", CONFIG_STRING, NULL, false, 0, 0, NULL,
          "the bot's full user id, e.g. @parley:example.org (required with password_file)" },
        { "matrix", "access_token_file", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "file holding the access token (default: the systemd credential matrix-token)" },
        { "matrix", "password_file", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "file holding the password for a one-time login when there is no token" },
        { "matrix", "sync_timeout_ms", CONFIG_INT, "30000", false, 1000, 300000, NULL,
          "how long one /sync long poll waits on the homeserver" },
        { "matrix", "auto_join", CONFIG_BOOL, "true", false, 0, 0, NULL,
          "join rooms the bot is invited to" },
        { "matrix", "allowed_inviters", CONFIG_STRING, NULL, false, 0, 0, NULL,
          "user ids or :server suffixes whose invites are accepted, "
          "space-separated (default: anyone)" },
        { "matrix", "reply_msgtype", CONFIG_ENUM, "notice", false, 0, 0, "notice|text",
          "send replies as m.notice (bots do not answer those) or m.text" },
        { "matrix", "rich_replies", CONFIG_BOOL, "true", false, 0, 0, NULL,
          "send replies as replies to the message they answer" },
        { NULL },
};

enum matrix_phase {
        MATRIX_PHASE_LOGIN,
        MATRIX_PHASE_WHOAMI,
        MATRIX_PHASE_PROFILE,
        MATRIX_PHASE_DIRECT,
        MATRIX_PHASE_SYNC,
};

struct matrix;

struct matrix_join {
        struct matrix *matrix;
        char *room_id;
        char *inviter;
        bool is_direct;
        uint64_t deadline_ms;           /* uv_now() after which a 403 is final */
        struct backoff backoff;
        uv_timer_t timer;
        struct http_call *call;
        struct matrix_join *next;
};

struct matrix_send {
        struct matrix *matrix;
        int64_t id;
        char *room_id;
        char *key;
        char *reply_to;
        char *thread_id;
        char **parts;
        size_t n_parts;
        size_t next_part;
        char *first_event_id;
        struct http_call *call;
        struct matrix_send *prev, *next;
};

struct matrix {
        struct adapter *adapter;
        uv_loop_t *loop;
        struct log_fields log;
        struct http_client *http;

        char *base_url;                 /* without a trailing slash */
        char *user_id;                  /* configured, else from whoami */
        char *token;                    /* secret */
        char *password;                 /* secret; only until the login */
        char *session_path;             /* where a password login's token is kept */
        bool session_token;             /* the token came from a password login */
        char *password_file;            /* for logging in again */
        bool relogin_tried;             /* since the last stored sync batch */
        char *display_name;
        char *filter_param;             /* the inline filter, URL-encoded */
        uint64_t sync_timeout_ms;
        bool auto_join;
        bool rich_replies;
        const char *msgtype;
        char **inviters;
        size_t n_inviters;

        struct strmap *direct_rooms;    /* from m.direct */
        json_object *direct_content;    /* m.direct as last seen, to add to */
        struct strmap *member_counts;   /* room -> joined members, from summaries */
        char *recent[MATRIX_RECENT_MAX];        /* own event ids, for replies to them */
        size_t recent_next;

        enum matrix_phase phase;
        struct http_call *call;         /* the receive side's call in flight */
        bool batch_pending;             /* a batch waits to be stored */
        uv_timer_t retry_timer;
        struct backoff backoff;
        bool connected;
        bool failed;
        bool started;
        bool stopped;
        bool closed;
        bool reported_stopped;
        unsigned open_handles;

        struct matrix_join *joins;
        struct matrix_send *sends;
};

static void matrix_phase_run(struct matrix *m);
static void matrix_relogin(struct matrix *m, const char *what);
static void matrix_join_start(struct matrix_join *j);

/* ---- small helpers ---- */

static int64_t json_get_int(json_object *o, const char *key, int64_t fallback)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return fallback;
        return json_object_get_int64(v);
}

static const char *json_get_string(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *json_get_object(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
                return NULL;
        return v;
}

static json_object *json_get_array(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static char *url_escape(const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        char *out = malloc(strlen(s) * 3 + 1), *p = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;

                if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
                        *p++ = (char)ch;
                } else {
                        *p++ = '%';
                        *p++ = hex[ch >> 4];
                        *p++ = hex[ch & 15];
                }
        }
        *p = '\0';
        return out;
}

/* Reads a secret from a file: the first line, without surrounding blanks.
 * Errors name the file, never the content. */
static int secret_read(const char *path, char **ret)
{
        _cleanup_free_ char *buf = malloc(MATRIX_TOKEN_MAX + 1);
        _cleanup_close_ int fd = -1;
        size_t len = 0;
        char *start, *end;
        ssize_t n;

        if (!buf)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (len < MATRIX_TOKEN_MAX && (n = read(fd, buf + len, MATRIX_TOKEN_MAX - len)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                len += (size_t)n;
        }
        buf[len] = '\0';

        start = buf + strspn(buf, " \t\r\n");
        end = start + strcspn(start, "\r\n");
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        *end = '\0';
        if (*start == '\0')
                return -ENODATA;
        for (const char *p = start; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return -EBADMSG;

        *ret = strdup(start);
        return *ret ? 0 : -ENOMEM;
}

/* The wait a 429 asks for: Retry-After (seconds), else retry_after_ms in
 * the body; 0 when neither says. */
static uint64_t matrix_retry_after_ms(const struct http_response *resp, json_object *body)
{
        const char *h = http_response_header(resp, "Retry-After");
        int64_t ms;

        if (h && *h) {
                char *end;
                unsigned long long s = strtoull(h, &end, 10);

                if (*end == '\0' && s < 24 * 3600)
                        return (uint64_t)s * 1000;
        }
        ms = json_get_int(body, "retry_after_ms", 0);
        return ms > 0 ? (uint64_t)ms : 0;
}

static json_object *matrix_response_json(const struct http_response *resp)
{
        json_object *o;

        if (!resp || !resp->body)
                return NULL;
        o = json_tokener_parse(resp->body);
        if (o && !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static bool matrix_auth_refused(const struct http_response *resp, json_object *body)
{
        const char *code = json_get_string(body, "errcode");

        return resp->status == 401 ||
               (code && (strcmp(code, "M_UNKNOWN_TOKEN") == 0 ||
                         strcmp(code, "M_MISSING_TOKEN") == 0));
}

/* "HTTP 500 (M_UNKNOWN: text)" or the errno text, for logs. */
static void matrix_describe(int r, const struct http_response *resp, json_object *body,
                            char *buf, size_t size)
{
        const char *code = json_get_string(body, "errcode");
        const char *error = json_get_string(body, "error");

        if (r < 0)
                snprintf(buf, size, "%s", strerror(-r));
        else if (code)
                snprintf(buf, size, "HTTP %ld (%s%s%.120s)", resp->status, code,
                         error ? ": " : "", error ? error : "");
        else
                snprintf(buf, size, "HTTP %ld", resp->status);
}

static int matrix_call(struct matrix *m, const char *method, const char *path,
                       json_object *body, uint64_t timeout_ms, size_t max_bytes,
                       http_done_fn done, void *userdata, struct http_call **ret_call)
{
        _cleanup_free_ char *url = NULL, *auth = NULL;
        const char *headers[3] = { "Content-Type: application/json", NULL, NULL };
        int r;
        const char *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE)
                                : NULL;

        if (asprintf(&url, "%s%s", m->base_url, path) < 0)
                return -ENOMEM;
        if (m->token) {
                if (asprintf(&auth, "Authorization: Bearer %s", m->token) < 0)
                        return -ENOMEM;
                headers[1] = auth;
        }

        r = http_request_start(m->http, &(struct http_request){
                .method = method,
                .url = url,
                .headers = headers,
                .body = text,
                .body_len = text ? strlen(text) : 0,
                .timeout_ms = timeout_ms,
                .max_response_bytes = max_bytes,
        }, done, userdata, ret_call);
        if (auth)
                explicit_bzero(auth, strlen(auth));
        return r;
}

/* ---- configuration ---- */

static void matrix_free(struct matrix *m)
{
        if (!m)
                return;
        free(m->base_url);
        free(m->user_id);
        if (m->token)
                explicit_bzero(m->token, strlen(m->token));
        free(m->token);
        if (m->password)
                explicit_bzero(m->password, strlen(m->password));
        free(m->password);
        free(m->session_path);
        free(m->password_file);
        free(m->display_name);
        free(m->filter_param);
        for (size_t i = 0; i < m->n_inviters; i++)
                free(m->inviters[i]);
        free(m->inviters);
        strmap_free(m->direct_rooms);
        strmap_free(m->member_counts);
        json_object_put(m->direct_content);
        for (size_t i = 0; i < MATRIX_RECENT_MAX; i++)
                free(m->recent[i]);
        free(m);
}

static int matrix_inviters_parse(struct matrix *m, const char *list)
{
        _cleanup_free_ char *copy = strdup(list);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " ,\t", &save); w; w = strtok_r(NULL, " ,\t", &save)) {
                char **grown;

                if ((w[0] != '@' && w[0] != ':') || !strchr(w, ':') || w[strlen(w) - 1] == ':') {
                        log_record(LOG_ERR, &m->log, "allowed_inviters: '%s' is neither a user "
                                   "id (@name:server) nor a :server suffix", w);
                        return -EINVAL;
                }
                grown = realloc(m->inviters, (m->n_inviters + 1) * sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                m->inviters = grown;
                m->inviters[m->n_inviters] = strdup(w);
                if (!m->inviters[m->n_inviters])
                        return -ENOMEM;
                m->n_inviters++;
        }
        return 0;
}

/* The token from access_token_file, else from the systemd credential. */
static int matrix_token_load(struct matrix *m, const struct config *config, bool *ret_found)
{
        const char *file = config_get_string(config, "matrix", "access_token_file");
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        _cleanup_free_ char *cred_path = NULL;
        const char *where;
        int r;

        *ret_found = false;
        if (file) {
                where = config_where(config, "matrix", "access_token_file");
        } else if (creds && *creds) {
                if (asprintf(&cred_path, "%s/%s", creds, MATRIX_CREDENTIAL) < 0)
                        return -ENOMEM;
                if (access(cred_path, F_OK) < 0)
                        return 0;
                file = cred_path;
                where = "$CREDENTIALS_DIRECTORY";
        } else {
                return 0;
        }

        r = secret_read(file, &m->token);
        if (r < 0) {
                log_record(LOG_ERR, &m->log, "%s: cannot read the access token from %s: %s",
                           where, file, r == -ENODATA ? "the file is empty" :
                           r == -EBADMSG ? "it holds control characters" : strerror(-r));
                return -EINVAL;
        }
        *ret_found = true;
        return 0;
}

/* A password login's session kept from an earlier run, when it is for the
 * same homeserver and user. */
static void matrix_session_load(struct matrix *m)
{
        json_object *o = json_object_from_file(m->session_path);
        const char *hs = json_get_string(o, "homeserver_url");
        const char *user = json_get_string(o, "user_id");
        const char *token = json_get_string(o, "access_token");

        if (!o) {
                if (access(m->session_path, F_OK) == 0)
                        log_record(LOG_WARNING, &m->log, "%s is not a session file; "
                                   "logging in again", m->session_path);
                return;
        }
        if (json_get_int(o, "version", 0) == MATRIX_SESSION_VERSION && hs && user && token &&
            strcmp(hs, m->base_url) == 0 && strcmp(user, m->user_id) == 0)
                m->session_token = (m->token = strdup(token)) != NULL;
        else
                log_record(LOG_NOTICE, &m->log, "%s is for another account or version; "
                           "logging in again", m->session_path);
        json_object_put(o);
}

/* Writes the session to a new file (mode 0600) and renames it into place. */
static int matrix_session_save(struct matrix *m, const char *device_id)
{
        _cleanup_free_ char *tmp = NULL;
        json_object *o = json_object_new_object();
        const char *text;
        int fd, r = 0;
        size_t len;

        if (!o || asprintf(&tmp, "%s.tmp", m->session_path) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        json_object_object_add(o, "version", json_object_new_int(MATRIX_SESSION_VERSION));
        json_object_object_add(o, "homeserver_url", json_object_new_string(m->base_url));
        json_object_object_add(o, "user_id", json_object_new_string(m->user_id));
        json_object_object_add(o, "device_id", json_object_new_string(device_id));
        json_object_object_add(o, "access_token", json_object_new_string(m->token));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        len = strlen(text);

        (void)unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
                r = errno ? -errno : -EIO;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, m->session_path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
out:
        explicit_bzero((char *)text, len);
        json_object_put(o);
        return r;
}

static int matrix_create(struct adapter *a, const struct config *config, void **ret)
{
        const char *hs = config_get_string(config, "matrix", "homeserver_url");
        const char *user = config_get_string(config, "matrix", "user_id");
        const char *password_file = config_get_string(config, "matrix", "password_file");
        const char *inviters = config_get_string(config, "matrix", "allowed_inviters");
        const char *state_dir = config_get_string(config, "parleyd", "state_dir");
        struct matrix *m = calloc(1, sizeof(*m));
        size_t len;
        bool have_token;
        int r = -ENOMEM;

        if (!m)
                return -ENOMEM;
        m->adapter = a;
        m->loop = adapter_loop(a);
        m->log = (struct log_fields){ .adapter = "matrix" };

        if (!hs || !*hs) {
                log_record(LOG_ERR, &m->log, "%s: homeserver_url is required when [matrix] is "
                           "enabled", config_path(config) ? config_path(config) : "configuration");
                r = -EINVAL;
                goto fail;
        }
        if (strncmp(hs, "https://", 8) != 0 && strncmp(hs, "http://", 7) != 0) {
                log_record(LOG_ERR, &m->log, "%s: homeserver_url must start with https:// "
                           "or http://", config_where(config, "matrix", "homeserver_url"));
                r = -EINVAL;
                goto fail;
        }
        m->base_url = strdup(hs);
        if (!m->base_url)
                goto fail;
        len = strlen(m->base_url);
        while (len > 0 && m->base_url[len - 1] == '/')
                m->base_url[--len] = '\0';

        if (user && (user[0] != '@' || !strchr(user, ':'))) {
                log_record(LOG_ERR, &m->log, "%s: user_id '%s' is not a full Matrix user id "
                           "such as @parley:example.org",
                           config_where(config, "matrix", "user_id"), user);
                r = -EINVAL;
                goto fail;
        }
        if (user && !(m->user_id = strdup(user)))
                goto fail;

        if (asprintf(&m->session_path, "%s/%s", state_dir, MATRIX_SESSION_FILE) < 0) {
                m->session_path = NULL;
                goto fail;
        }

        r = matrix_token_load(m, config, &have_token);
        if (r < 0)
                goto fail;
        if (!have_token && !password_file && adapter_credentials_unreadable(a)) {
                log_record(LOG_NOTICE, &m->log, "no access_token_file or password_file: the "
                           "token is the systemd credential %s, read by the service at its "
                           "start, not by this check", MATRIX_CREDENTIAL);
        } else if (!have_token) {
                if (!password_file) {
                        log_record(LOG_ERR, &m->log, "%s: [matrix] needs access_token_file, the "
                                   "systemd credential %s, or password_file",
                                   config_path(config) ? config_path(config) : "configuration",
                                   MATRIX_CREDENTIAL);
                        r = -EINVAL;
                        goto fail;
                }
                if (!m->user_id) {
                        log_record(LOG_ERR, &m->log, "%s: password_file needs user_id",
                                   config_where(config, "matrix", "password_file"));
                        r = -EINVAL;
                        goto fail;
                }
                m->password_file = strdup(password_file);
                if (!m->password_file) {
                        r = -ENOMEM;
                        goto fail;
                }
                matrix_session_load(m);
                if (!m->token) {
                        r = secret_read(password_file, &m->password);
                        if (r < 0) {
                                log_record(LOG_ERR, &m->log, "%s: cannot read the password "
                                           "from %s: %s",
                                           config_where(config, "matrix", "password_file"),
                                           password_file,
                                           r == -ENODATA ? "the file is empty" :
                                           r == -EBADMSG ? "it holds control characters" :
                                           strerror(-r));
                                r = -EINVAL;
                                goto fail;
                        }
                }
        }

        if (inviters) {
                r = matrix_inviters_parse(m, inviters);
                if (r < 0)
                        goto fail;
        }

        r = -ENOMEM;
        m->filter_param = url_escape(MATRIX_FILTER);
        if (!m->filter_param)
                goto fail;
        if (strmap_new(&m->direct_rooms) < 0 || strmap_new(&m->member_counts) < 0)
                goto fail;

        m->sync_timeout_ms = (uint64_t)config_get_int(config, "matrix", "sync_timeout_ms");
        m->auto_join = config_get_bool(config, "matrix", "auto_join");
        m->rich_replies = config_get_bool(config, "matrix", "rich_replies");
        m->msgtype = strcmp(config_get_string(config, "matrix", "reply_msgtype"), "text") == 0
                     ? "m.text" : "m.notice";
        backoff_init(&m->backoff, MATRIX_RETRY_INITIAL_MS, MATRIX_RETRY_MAX_MS);
        m->phase = m->token ? MATRIX_PHASE_WHOAMI : MATRIX_PHASE_LOGIN;

        *ret = m;
        return 0;

fail:
        matrix_free(m);
        return r;
}

/* ---- the receive side: login, whoami, profile, m.direct, sync ---- */

static void matrix_fail(struct matrix *m, const char *reason)
{
        if (m->failed)
                return;
        m->failed = true;
        if (m->started)
                uv_timer_stop(&m->retry_timer);
        /* The receive side's call, if this came from a send. */
        http_call_cancel(m->call);
        m->call = NULL;
        adapter_set_state(m->adapter, ADAPTER_FAILED, reason);
}

static void matrix_on_retry_timer(uv_timer_t *t)
{
        matrix_phase_run(t->data);
}

static void matrix_retry_in(struct matrix *m, uint64_t wait_ms)
{
        if (m->stopped || m->failed)
                return;
        uv_timer_start(&m->retry_timer, matrix_on_retry_timer, wait_ms, 0);
}

static const char *const matrix_phase_names[] = {
        [MATRIX_PHASE_LOGIN] = "login",
        [MATRIX_PHASE_WHOAMI] = "whoami",
        [MATRIX_PHASE_PROFILE] = "profile",
        [MATRIX_PHASE_DIRECT] = "m.direct",
        [MATRIX_PHASE_SYNC] = "sync",
};

/* A failed call of the receive side: fatal for a refused token, else a
 * wait (the server's for a 429, the backoff's otherwise) and the same
 * phase again. */
static void matrix_phase_failed(struct matrix *m, int r, const struct http_response *resp,
                                json_object *body)
{
        char what[256];
        uint64_t wait_ms = 0;

        matrix_describe(r, resp, body, what, sizeof(what));

        if (r >= 0 && matrix_auth_refused(resp, body)) {
                char reason[384];

                if (m->password || m->phase == MATRIX_PHASE_LOGIN) {
                        snprintf(reason, sizeof(reason), "the homeserver refused the login: %s; "
                                 "check user_id and password_file", what);
                } else if (m->session_token && !m->relogin_tried) {
                        matrix_relogin(m, what);
                        return;
                } else {
                        snprintf(reason, sizeof(reason), "the homeserver refused the access "
                                 "token: %s; replace it in access_token_file", what);
                }
                matrix_fail(m, reason);
                return;
        }
        if (r >= 0 && m->phase == MATRIX_PHASE_LOGIN && resp->status == 403) {
                char reason[384];

                snprintf(reason, sizeof(reason), "the homeserver refused the login: %s; check "
                         "user_id and password_file", what);
                matrix_fail(m, reason);
                return;
        }

        if (r >= 0 && resp->status == 429)
                wait_ms = matrix_retry_after_ms(resp, body);
        if (wait_ms == 0)
                wait_ms = backoff_next_ms(&m->backoff);

        log_record(LOG_WARNING, &m->log, "%s failed: %s; retrying in %.1f s",
                   matrix_phase_names[m->phase], what, wait_ms / 1000.0);
        if (!m->connected) {
                char reason[320];

                /* Why it has not connected yet, for the start-up report. */
                snprintf(reason, sizeof(reason), "not connected yet: %s failed: %s",
                         matrix_phase_names[m->phase], what);
                adapter_set_state(m->adapter, ADAPTER_STARTING, reason);
        }
        matrix_retry_in(m, wait_ms);
}

/* The token of our own password login was refused (logged out, expired):
 * forget it and log in once more; a second refusal before a sync goes
 * through is final. */
static void matrix_relogin(struct matrix *m, const char *what)
{
        char reason[384];
        int r;

        m->relogin_tried = true;
        if (unlink(m->session_path) < 0 && errno != ENOENT)
                log_record(LOG_WARNING, &m->log, "cannot delete %s: %s", m->session_path,
                           strerror(errno));
        explicit_bzero(m->token, strlen(m->token));
        free(m->token);
        m->token = NULL;
        m->session_token = false;

        r = secret_read(m->password_file, &m->password);
        if (r < 0) {
                snprintf(reason, sizeof(reason), "the homeserver refused the kept access token "
                         "(%s) and the password cannot be read from %s: %s", what,
                         m->password_file, strerror(-r));
                matrix_fail(m, reason);
                return;
        }
        log_record(LOG_WARNING, &m->log, "the homeserver refused the kept access token: %s; "
                   "logging in again", what);
        m->phase = MATRIX_PHASE_LOGIN;
        matrix_retry_in(m, 0);
}

static void matrix_phase_next(struct matrix *m, enum matrix_phase next)
{
        m->phase = next;
        backoff_reset(&m->backoff);
        matrix_phase_run(m);
}

static void matrix_on_login(void *userdata, int r, const struct http_response *resp)
{
        struct matrix *m = userdata;
        json_object *body = matrix_response_json(resp);
        const char *token = json_get_string(body, "access_token");
        const char *device = json_get_string(body, "device_id");

        m->call = NULL;
        if (m->stopped || r == -ECANCELED)
                goto out;
        if (r < 0 || resp->status != 200 || !token || !device) {
                if (r >= 0 && resp->status == 200)
                        r = -EBADMSG;
                matrix_phase_failed(m, r, resp, body);
                goto out;
        }

        m->token = strdup(token);
        m->session_token = true;
        if (!m->token) {
                matrix_phase_failed(m, -ENOMEM, resp, body);
                goto out;
        }
        explicit_bzero(m->password, strlen(m->password));
        free(m->password);
        m->password = NULL;

        r = matrix_session_save(m, device);
        if (r < 0)
                log_record(LOG_WARNING, &m->log, "logged in as device %s, but cannot keep the "
                           "session in %s: %s; the next start logs in again", device,
                           m->session_path, strerror(-r));
        else
                log_record(LOG_INFO, &m->log, "logged in as device %s; the session is kept "
                           "in %s", device, m->session_path);
        matrix_phase_next(m, MATRIX_PHASE_WHOAMI);
out:
        json_object_put(body);
}

static void matrix_on_whoami(void *userdata, int r, const struct http_response *resp)
{
        struct matrix *m = userdata;
        json_object *body = matrix_response_json(resp);
        const char *user = json_get_string(body, "user_id");

        m->call = NULL;
        if (m->stopped || r == -ECANCELED)
                goto out;
        if (r < 0 || resp->status != 200 || !user) {
                if (r >= 0 && resp->status == 200)
                        r = -EBADMSG;
                matrix_phase_failed(m, r, resp, body);
                goto out;
        }

        if (m->user_id && strcmp(m->user_id, user) != 0) {
                char reason[512];

                snprintf(reason, sizeof(reason), "the access token belongs to %.200s, not to "
                         "the configured user_id %.200s", user, m->user_id);
                matrix_fail(m, reason);
                goto out;
        }
        if (!m->user_id && !(m->user_id = strdup(user))) {
                matrix_phase_failed(m, -ENOMEM, resp, body);
                goto out;
        }

        log_record(LOG_INFO, &m->log, "signed in as %s", m->user_id);
        if (!m->connected) {
                m->connected = true;
                adapter_set_state(m->adapter, ADAPTER_CONNECTED, NULL);
        }
        matrix_phase_next(m, MATRIX_PHASE_PROFILE);
out:
        json_object_put(body);
}

static void matrix_on_profile(void *userdata, int r, const struct http_response *resp)
{
        struct matrix *m = userdata;
        json_object *body = matrix_response_json(resp);
        const char *name = json_get_string(body, "displayname");

        m->call = NULL;
        if (m->stopped || r == -ECANCELED)
                goto out;
        if (r < 0 || resp->status >= 500 || resp->status == 429 || resp->status == 401) {
                matrix_phase_failed(m, r, resp, body);
                goto out;
        }

        /* A missing profile is no error: mentions then go by user id. */
        free(m->display_name);
        m->display_name = name && *name ? strdup(name) : NULL;
        matrix_phase_next(m, MATRIX_PHASE_DIRECT);
out:
        json_object_put(body);
}

/* Rebuilds the set of direct rooms from m.direct's content: user id ->
 * [room ids]. */
static void matrix_direct_set(struct matrix *m, json_object *content)
{
        struct strmap *rooms;

        if (!content || strmap_new(&rooms) < 0)
                return;

        json_object_object_foreach(content, user, list) {
                (void)user;
                if (!json_object_is_type(list, json_type_array))
                        continue;
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        json_object *id = json_object_array_get_idx(list, i);

                        if (json_object_is_type(id, json_type_string))
                                (void)strmap_add(rooms, json_object_get_string(id), 1, NULL,
                                                 NULL);
                }
        }

        strmap_free(m->direct_rooms);
        m->direct_rooms = rooms;
        json_object_put(m->direct_content);
        m->direct_content = json_object_get(content);
}

static void matrix_on_direct(void *userdata, int r, const struct http_response *resp)
{
        struct matrix *m = userdata;
        json_object *body = matrix_response_json(resp);

        m->call = NULL;
        if (m->stopped || r == -ECANCELED)
                goto out;
        if (r < 0 || resp->status >= 500 || resp->status == 429 || resp->status == 401) {
                matrix_phase_failed(m, r, resp, body);
                goto out;
        }

        /* 404: the account has no direct chats yet. */
        if (resp->status == 200 && body)
                matrix_direct_set(m, body);
        log_record(LOG_INFO, &m->log, "%zu direct chat(s); %s", strmap_size(m->direct_rooms),
                   adapter_cursor(m->adapter) ? "resuming the sync" :
                   "first sync: old messages are not answered");
        matrix_phase_next(m, MATRIX_PHASE_SYNC);
out:
        json_object_put(body);
}

/* ---- invites ---- */

static bool matrix_inviter_allowed(const struct matrix *m, const char *inviter)
{
        size_t len = strlen(inviter);

        if (m->n_inviters == 0)
                return true;
        for (size_t i = 0; i < m->n_inviters; i++) {
                const char *w = m->inviters[i];
                size_t wl = strlen(w);

                if (w[0] == '@' && strcmp(w, inviter) == 0)
                        return true;
                if (w[0] == ':' && len > wl && strcmp(inviter + len - wl, w) == 0)
                        return true;
        }
        return false;
}

static void matrix_join_free(struct matrix_join *j)
{
        free(j->room_id);
        free(j->inviter);
        free(j);
}

static void matrix_release(struct matrix *m)
{
        if (m->closed && m->open_handles == 0 && !m->reported_stopped) {
                m->reported_stopped = true;
                adapter_set_state(m->adapter, ADAPTER_STOPPED, NULL);
        }
}

static void matrix_on_join_timer_closed(uv_handle_t *h)
{
        struct matrix_join *j = h->data;
        struct matrix *m = j->matrix;

        matrix_join_free(j);
        m->open_handles--;
        matrix_release(m);
}

/* Unlinks j and closes its timer; the close frees it. */
static void matrix_join_finish(struct matrix_join *j)
{
        struct matrix *m = j->matrix;

        for (struct matrix_join **p = &m->joins; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        break;
                }
        uv_close((uv_handle_t *)&j->timer, matrix_on_join_timer_closed);
}

static void matrix_on_fire_and_forget(void *userdata, int r, const struct http_response *resp)
{
        const char *what = userdata;

        if (r == -ECANCELED)
                return;
        if (r < 0 || resp->status != 200)
                log_record(LOG_WARNING, &(struct log_fields){ .adapter = "matrix" },
                           "%s failed: %s", what,
                           r < 0 ? strerror(-r) : "the homeserver refused it");
}

/* Marks a room joined from an is_direct invite as a direct chat in the
 * account's m.direct, as clients do. */
static void matrix_direct_add(struct matrix *m, const char *inviter, const char *room_id)
{
        json_object *content = m->direct_content ? json_object_get(m->direct_content)
                                                 : json_object_new_object();
        json_object *list;
        _cleanup_free_ char *user = url_escape(m->user_id), *path = NULL;

        if (!content || !user)
                goto out;
        if (!json_object_object_get_ex(content, inviter, &list) ||
            !json_object_is_type(list, json_type_array)) {
                list = json_object_new_array();
                json_object_object_add(content, inviter, list);
        }
        json_object_array_add(list, json_object_new_string(room_id));
        matrix_direct_set(m, content);

        if (asprintf(&path, MATRIX_API "/user/%s/account_data/m.direct", user) < 0) {
                path = NULL;
                goto out;
        }
        (void)matrix_call(m, "PUT", path, content, MATRIX_CALL_TIMEOUT_MS, 0,
                          matrix_on_fire_and_forget, (void *)"updating m.direct", NULL);
out:
        json_object_put(content);
}

static void matrix_on_join_timer(uv_timer_t *t)
{
        matrix_join_start(t->data);
}

static void matrix_on_join(void *userdata, int r, const struct http_response *resp)
{
        struct matrix_join *j = userdata;
        struct matrix *m = j->matrix;
        json_object *body = matrix_response_json(resp);
        uint64_t now = uv_now(m->loop), wait_ms = 0;
        bool retry;
        char what[256];

        j->call = NULL;
        if (r == -ECANCELED || m->stopped)
                goto out;

        if (r == 0 && resp->status == 200) {
                log_record(LOG_INFO, &(struct log_fields){ .adapter = "matrix",
                           .chat = j->room_id }, "joined on the invite of %s%s", j->inviter,
                           j->is_direct ? " (a direct chat)" : "");
                if (j->is_direct)
                        matrix_direct_add(m, j->inviter, j->room_id);
                matrix_join_finish(j);
                goto out;
        }

        matrix_describe(r, resp, body, what, sizeof(what));
        /* A 403 right after an invite is a homeserver that has not caught
         * up yet; server errors and lost connections are temporary. */
        retry = r < 0 || resp->status == 403 || resp->status == 429 || resp->status >= 500;
        if (retry && r >= 0 && resp->status == 429)
                wait_ms = matrix_retry_after_ms(resp, body);
        if (wait_ms == 0)
                wait_ms = backoff_next_ms(&j->backoff);
        if (!retry || now + wait_ms > j->deadline_ms) {
                log_record(LOG_ERR, &(struct log_fields){ .adapter = "matrix",
                           .chat = j->room_id }, "cannot join on the invite of %s: %s; "
                           "giving up", j->inviter, what);
                matrix_join_finish(j);
                goto out;
        }
        log_record(LOG_WARNING, &(struct log_fields){ .adapter = "matrix", .chat = j->room_id },
                   "joining failed: %s; retrying in %.1f s", what, wait_ms / 1000.0);
        uv_timer_start(&j->timer, matrix_on_join_timer, wait_ms, 0);
out:
        json_object_put(body);
}

static void matrix_join_start(struct matrix_join *j)
{
        struct matrix *m = j->matrix;
        _cleanup_free_ char *room = url_escape(j->room_id), *path = NULL;
        json_object *empty = json_object_new_object();
        int r = -ENOMEM;

        if (room && empty && asprintf(&path, MATRIX_API "/join/%s", room) >= 0)
                r = matrix_call(m, "POST", path, empty, MATRIX_CALL_TIMEOUT_MS, 0,
                                matrix_on_join, j, &j->call);
        else
                path = NULL;
        json_object_put(empty);
        if (r < 0) {
                uint64_t wait_ms = backoff_next_ms(&j->backoff);

                log_record(LOG_WARNING, &(struct log_fields){ .adapter = "matrix",
                           .chat = j->room_id }, "cannot start joining: %s; retrying in %.1f s",
                           strerror(-r), wait_ms / 1000.0);
                uv_timer_start(&j->timer, matrix_on_join_timer, wait_ms, 0);
        }
}

static void matrix_decline(struct matrix *m, const char *room_id)
{
        _cleanup_free_ char *room = url_escape(room_id), *path = NULL;
        json_object *empty = json_object_new_object();

        if (room && empty && asprintf(&path, MATRIX_API "/rooms/%s/leave", room) >= 0)
                (void)matrix_call(m, "POST", path, empty, MATRIX_CALL_TIMEOUT_MS, 0,
                                  matrix_on_fire_and_forget, (void *)"declining an invite",
                                  NULL);
        else
                path = NULL;
        json_object_put(empty);
}

/* One room of rooms.invite: our own m.room.member invite event in its
 * invite_state says who invited and whether it is a direct chat. */
static void matrix_invite_handle(struct matrix *m, const char *room_id, json_object *room)
{
        json_object *events = json_get_array(json_get_object(room, "invite_state"), "events");
        const struct log_fields f = { .adapter = "matrix", .chat = room_id };
        const char *inviter = NULL;
        bool is_direct = false;
        struct matrix_join *j;

        for (size_t i = 0; events && i < json_object_array_length(events); i++) {
                json_object *e = json_object_array_get_idx(events, i);
                json_object *content = json_get_object(e, "content");
                const char *type = json_get_string(e, "type");
                const char *key = json_get_string(e, "state_key");
                const char *membership = json_get_string(content, "membership");
                json_object *direct;

                if (!type || strcmp(type, "m.room.member") != 0 || !key ||
                    strcmp(key, m->user_id) != 0 || !membership ||
                    strcmp(membership, "invite") != 0)
                        continue;
                inviter = json_get_string(e, "sender");
                is_direct = json_object_object_get_ex(content, "is_direct", &direct) &&
                            json_object_get_boolean(direct);
        }
        if (!inviter)
                inviter = "an unknown user";

        for (j = m->joins; j; j = j->next)
                if (strcmp(j->room_id, room_id) == 0)
                        return;

        if (!m->auto_join) {
                log_record(LOG_NOTICE, &f, "invited by %s; not joining, auto_join is off",
                           inviter);
                return;
        }
        if (!matrix_inviter_allowed(m, inviter)) {
                log_record(LOG_NOTICE, &f, "invited by %s, who is not in allowed_inviters; "
                           "declining", inviter);
                matrix_decline(m, room_id);
                return;
        }

        j = calloc(1, sizeof(*j));
        if (!j || !(j->room_id = strdup(room_id)) || !(j->inviter = strdup(inviter))) {
                if (j)
                        matrix_join_free(j);
                log_record(LOG_ERR, &f, "out of memory; not joining");
                return;
        }
        j->matrix = m;
        j->is_direct = is_direct;
        j->deadline_ms = uv_now(m->loop) + MATRIX_JOIN_WINDOW_MS;
        backoff_init(&j->backoff, MATRIX_JOIN_RETRY_INITIAL_MS, MATRIX_RETRY_MAX_MS);
        uv_timer_init(m->loop, &j->timer);
        j->timer.data = j;
        m->open_handles++;
        j->next = m->joins;
        m->joins = j;

        log_record(LOG_INFO, &f, "invited by %s; joining", inviter);
        matrix_join_start(j);
}

/* ---- sync ---- */

static bool matrix_is_own_event(const struct matrix *m, const char *event_id)
{
        for (size_t i = 0; i < MATRIX_RECENT_MAX; i++)
                if (m->recent[i] && strcmp(m->recent[i], event_id) == 0)
                        return true;
        return false;
}

static void matrix_own_event_add(struct matrix *m, const char *event_id)
{
        char *copy = strdup(event_id);

        if (!copy)
                return;
        free(m->recent[m->recent_next]);
        m->recent[m->recent_next] = copy;
        m->recent_next = (m->recent_next + 1) % MATRIX_RECENT_MAX;
}

/* Length of a leading address to the bot ("@bot:server: ", "Parley, ")
 * that precedes the question, or 0. */
static size_t matrix_address_prefix(const struct matrix *m, const char *text)
{
        const char *names[3] = { m->user_id, m->display_name, NULL };
        char localpart[256];
        const char *colon = strchr(m->user_id, ':');

        if (colon && colon > m->user_id + 1) {
                snprintf(localpart, sizeof(localpart), "%.*s", (int)(colon - m->user_id - 1),
                         m->user_id + 1);
                names[2] = localpart;
        }

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                size_t len = names[i] ? strlen(names[i]) : 0, end;

                if (len == 0 || strncasecmp(text, names[i], len) != 0)
                        continue;
                end = len;
                if (text[end] == ':' || text[end] == ',')
                        end++;
                else if (text[end] != ' ' && text[end] != '\0')
                        continue;
                end += strspn(text + end, " \t");
                return end;
        }
        return 0;
}

static bool matrix_mentions_bot(const struct matrix *m, json_object *content, const char *body)
{
        json_object *ids = json_get_array(json_get_object(content, "m.mentions"), "user_ids");
        const char *html = json_get_string(content, "formatted_body");
        _cleanup_free_ char *pill = NULL;

        for (size_t i = 0; ids && i < json_object_array_length(ids); i++) {
                json_object *id = json_object_array_get_idx(ids, i);

                if (json_object_is_type(id, json_type_string) &&
                    strcmp(json_object_get_string(id), m->user_id) == 0)
                        return true;
        }
        if (strstr(body, m->user_id))
                return true;
        if (m->display_name && strcasestr(body, m->display_name))
                return true;
        if (html && asprintf(&pill, "matrix.to/#/%s", m->user_id) < 0)
                pill = NULL;
        return pill && strstr(html, pill);
}

/* Length of a reply fallback ("> <@user> quoted line" lines and a blank
 * line) that older clients put before the text of a reply, or 0. */
static size_t matrix_reply_fallback(const char *body)
{
        const char *p = body;

        if (strncmp(p, "> ", 2) != 0)
                return 0;
        while (*p == '>') {
                const char *nl = strchr(p, '\n');

                if (!nl)
                        return 0;
                p = nl + 1;
        }
        if (*p != '\n')
                return 0;
        return (size_t)(p + 1 - body);
}

/* Adds the timeline events of one joined room that are questions to msgs. */
static int matrix_room_collect(struct matrix *m, const char *room_id, json_object *room,
                               struct adapter_message **msgs, size_t *n, size_t *alloc)
{
        json_object *timeline = json_get_object(room, "timeline");
        json_object *events = json_get_array(timeline, "events");
        json_object *summary = json_get_object(room, "summary");
        json_object *limited;
        const struct log_fields f = { .adapter = "matrix", .chat = room_id };
        int64_t members = json_get_int(summary, "m.joined_member_count", -1);
        size_t count = 0, *slot;

        if (members >= 0) {
                if (strmap_add(m->member_counts, room_id, (size_t)members, NULL, &slot) == 0)
                        *slot = (size_t)members;
        }
        if (json_object_object_get_ex(timeline, "limited", &limited) &&
            json_object_get_boolean(limited))
                log_record(LOG_WARNING, &f, "gap in the timeline: the homeserver left out "
                           "older events (limited); they are not answered");

        for (size_t i = 0; events && i < json_object_array_length(events); i++) {
                json_object *e = json_object_array_get_idx(events, i);
                json_object *content = json_get_object(e, "content");
                json_object *rel = json_get_object(content, "m.relates_to");
                const char *type = json_get_string(e, "type");
                const char *event_id = json_get_string(e, "event_id");
                const char *sender = json_get_string(e, "sender");
                const char *msgtype = json_get_string(content, "msgtype");
                const char *body = json_get_string(content, "body");
                const char *rel_type = json_get_string(rel, "rel_type");
                const char *reply_to = json_get_string(json_get_object(rel, "m.in_reply_to"),
                                                       "event_id");
                struct adapter_message *msg;
                size_t prefix;
                bool addressed;

                if (!type || strcmp(type, "m.room.message") != 0 || !event_id || !sender)
                        continue;
                if (strcmp(sender, m->user_id) == 0)
                        continue;               /* our own */
                if (!msgtype || strcmp(msgtype, "m.text") != 0 || !body)
                        continue;               /* notices (bots), media, redacted */
                if (rel_type && strcmp(rel_type, "m.replace") == 0) {
                        log_record(LOG_DEBUG, &f, "%s is an edit, not a new question",
                                   event_id);
                        continue;
                }

                if (reply_to)
                        body += matrix_reply_fallback(body);
                addressed = matrix_mentions_bot(m, content, body) ||
                            (reply_to && matrix_is_own_event(m, reply_to));
                prefix = addressed ? matrix_address_prefix(m, body) : 0;
                if (body[prefix] == '\0')
                        prefix = 0;

                if (*n == *alloc) {
                        size_t grown_n = *alloc ? *alloc * 2 : 16;
                        struct adapter_message *grown = realloc(*msgs, grown_n * sizeof(*grown));

                        if (!grown)
                                return -ENOMEM;
                        *msgs = grown;
                        *alloc = grown_n;
                }
                msg = &(*msgs)[(*n)++];
                *msg = (struct adapter_message){
                        .event_id = event_id,
                        .chat_id = room_id,
                        .user_id = sender,
                        .user_name = sender,
                        .thread_id = rel_type && strcmp(rel_type, "m.thread") == 0
                                     ? json_get_string(rel, "event_id") : NULL,
                        .message_id = event_id,
                        .text = body + prefix,
                        .direct = strmap_get(m->direct_rooms, room_id, NULL) ||
                                  (strmap_get(m->member_counts, room_id, &count) &&
                                   count == 2),
                        .addressed = addressed,
                        .sent_at_ms = json_get_int(e, "origin_server_ts", 0),
                };
        }
        return 0;
}

static void matrix_on_batch_stored(void *userdata, int r)
{
        struct matrix *m = userdata;

        m->batch_pending = false;
        if (m->stopped || m->closed)
                return;
        if (r < 0) {
                uint64_t wait_ms = backoff_next_ms(&m->backoff);

                log_record(LOG_ERR, &m->log, "could not store a sync batch: %s; syncing again "
                           "from the stored position in %.1f s", strerror(-r), wait_ms / 1000.0);
                matrix_retry_in(m, wait_ms);
                return;
        }
        backoff_reset(&m->backoff);
        m->relogin_tried = false;
        matrix_phase_run(m);
}

static void matrix_on_sync(void *userdata, int r, const struct http_response *resp)
{
        struct matrix *m = userdata;
        json_object *body = NULL, *rooms, *join, *invite, *account;
        _cleanup_free_ struct adapter_message *msgs = NULL;
        const char *next_batch = NULL;
        bool first = adapter_cursor(m->adapter) == NULL;
        size_t n = 0, alloc = 0;

        m->call = NULL;
        if (m->stopped || r == -ECANCELED)
                return;

        if (r == 0)
                body = matrix_response_json(resp);
        if (r == 0 && resp->status == 200 &&
            !(next_batch = json_get_string(body, "next_batch"))) {
                log_record(LOG_WARNING, &m->log, "the sync answer is not a JSON object with "
                           "next_batch (%zu bytes)", resp->body_len);
                r = -EBADMSG;
        }
        if (r < 0 || resp->status != 200) {
                matrix_phase_failed(m, r, resp, body);
                json_object_put(body);
                return;
        }

        account = json_get_array(json_get_object(body, "account_data"), "events");
        for (size_t i = 0; account && i < json_object_array_length(account); i++) {
                json_object *e = json_object_array_get_idx(account, i);
                const char *type = json_get_string(e, "type");

                if (type && strcmp(type, "m.direct") == 0)
                        matrix_direct_set(m, json_get_object(e, "content"));
        }

        rooms = json_get_object(body, "rooms");
        invite = json_get_object(rooms, "invite");
        if (invite) {
                json_object_object_foreach(invite, room_id, room)
                        matrix_invite_handle(m, room_id, room);
        }

        join = json_get_object(rooms, "join");
        if (join && !first) {
                json_object_object_foreach(join, room_id, room) {
                        r = matrix_room_collect(m, room_id, room, &msgs, &n, &alloc);
                        if (r < 0)
                                break;
                }
        } else if (join) {
                size_t skipped = 0;

                json_object_object_foreach(join, room_id, room) {
                        json_object *ev = json_get_array(json_get_object(room, "timeline"),
                                                         "events");
                        int64_t members = json_get_int(json_get_object(room, "summary"),
                                                       "m.joined_member_count", -1);
                        size_t *slot;

                        if (members >= 0 && strmap_add(m->member_counts, room_id,
                                                       (size_t)members, NULL, &slot) == 0)
                                *slot = (size_t)members;
                        skipped += ev ? json_object_array_length(ev) : 0;
                }
                if (skipped)
                        log_record(LOG_INFO, &m->log, "first sync: %zu earlier event(s) left "
                                   "unanswered", skipped);
        }

        if (r == 0)
                r = adapter_receive(m->adapter, msgs, n, next_batch, matrix_on_batch_stored, m);
        if (r < 0) {
                uint64_t wait_ms = backoff_next_ms(&m->backoff);

                log_record(LOG_ERR, &m->log, "cannot take a sync batch: %s; syncing again in "
                           "%.1f s", strerror(-r), wait_ms / 1000.0);
                matrix_retry_in(m, wait_ms);
        } else {
                m->batch_pending = true;
                if (n > 0)
                        log_record(LOG_DEBUG, &m->log, "sync: %zu message(s)", n);
        }
        json_object_put(body);
}

static void matrix_phase_run(struct matrix *m)
{
        _cleanup_free_ char *path = NULL, *user = NULL, *since = NULL;
        const char *cursor = adapter_cursor(m->adapter);
        http_done_fn done = NULL;
        uint64_t timeout_ms = MATRIX_CALL_TIMEOUT_MS;
        size_t max_bytes = 0;
        const char *method = "GET";
        json_object *body = NULL;
        int r = -ENOMEM;

        if (m->stopped || m->failed || m->call || m->batch_pending)
                return;

        switch (m->phase) {
        case MATRIX_PHASE_LOGIN:
                body = json_object_new_object();
                if (body) {
                        json_object *id = json_object_new_object();

                        json_object_object_add(id, "type", json_object_new_string("m.id.user"));
                        json_object_object_add(id, "user", json_object_new_string(m->user_id));
                        json_object_object_add(body, "type",
                                               json_object_new_string("m.login.password"));
                        json_object_object_add(body, "identifier", id);
                        json_object_object_add(body, "password",
                                               json_object_new_string(m->password));
                        json_object_object_add(body, "initial_device_display_name",
                                               json_object_new_string("parley"));
                }
                method = "POST";
                path = strdup(MATRIX_API "/login");
                done = matrix_on_login;
                break;
        case MATRIX_PHASE_WHOAMI:
                path = strdup(MATRIX_API "/account/whoami");
                done = matrix_on_whoami;
                break;
        case MATRIX_PHASE_PROFILE:
                user = url_escape(m->user_id);
                if (user && asprintf(&path, MATRIX_API "/profile/%s", user) < 0)
                        path = NULL;
                done = matrix_on_profile;
                break;
        case MATRIX_PHASE_DIRECT:
                user = url_escape(m->user_id);
                if (user && asprintf(&path, MATRIX_API "/user/%s/account_data/m.direct",
                                     user) < 0)
                        path = NULL;
                done = matrix_on_direct;
                break;
        case MATRIX_PHASE_SYNC:
                since = cursor ? url_escape(cursor) : strdup("");
                if (since && asprintf(&path, MATRIX_API "/sync?timeout=%" PRIu64
                                      "&filter=%s%s%s", cursor ? m->sync_timeout_ms : 0,
                                      m->filter_param, cursor ? "&since=" : "", since) < 0)
                        path = NULL;
                /* A poll not answered by then is abandoned and started
                 * again: a dead connection must not stall receiving. */
                timeout_ms = m->sync_timeout_ms * 3 / 2 + 2000;
                max_bytes = MATRIX_SYNC_RESPONSE_MAX;
                done = matrix_on_sync;
                break;
        }

        if (path && (m->phase != MATRIX_PHASE_LOGIN || body))
                r = matrix_call(m, method, path, body, timeout_ms, max_bytes, done, m, &m->call);
        if (body && m->phase == MATRIX_PHASE_LOGIN) {
                const char *text = json_object_to_json_string(body);

                explicit_bzero((char *)text, strlen(text));
        }
        json_object_put(body);
        if (r < 0) {
                uint64_t wait_ms = backoff_next_ms(&m->backoff);

                log_record(LOG_WARNING, &m->log, "cannot start %s: %s; retrying in %.1f s",
                           matrix_phase_names[m->phase], strerror(-r), wait_ms / 1000.0);
                matrix_retry_in(m, wait_ms);
        }
}

static int matrix_start(void *state)
{
        struct matrix *m = state;
        int r;

        if (!m->http) {
                r = http_client_new(m->loop, &m->http);
                if (r < 0)
                        return r;
        }
        uv_timer_init(m->loop, &m->retry_timer);
        m->retry_timer.data = m;
        m->open_handles++;
        m->started = true;

        log_record(LOG_INFO, &m->log, "%s %s", m->token ? "checking the access token at" :
                   "logging in at", m->base_url);
        matrix_phase_run(m);
        return 0;
}

static void matrix_stop_receiving(void *state)
{
        struct matrix *m = state;

        if (m->stopped)
                return;
        m->stopped = true;
        if (!m->started)
                return;
        uv_timer_stop(&m->retry_timer);
        http_call_cancel(m->call);
        m->call = NULL;
        for (struct matrix_join *j = m->joins; j; j = j->next) {
                uv_timer_stop(&j->timer);
                http_call_cancel(j->call);
                j->call = NULL;
        }
}

/* ---- sending ---- */

static void matrix_send_free(struct matrix_send *s)
{
        if (!s)
                return;
        free(s->room_id);
        free(s->key);
        free(s->reply_to);
        free(s->thread_id);
        for (size_t i = 0; i < s->n_parts; i++)
                free(s->parts[i]);
        free(s->parts);
        free(s->first_event_id);
        free(s);
}

static void matrix_send_unlink(struct matrix_send *s)
{
        struct matrix *m = s->matrix;

        if (s->prev)
                s->prev->next = s->next;
        else
                m->sends = s->next;
        if (s->next)
                s->next->prev = s->prev;
}

static int matrix_send_part(struct matrix_send *s);

static void matrix_on_sent(void *userdata, int r, const struct http_response *resp)
{
        struct matrix_send *s = userdata;
        struct matrix *m = s->matrix;
        json_object *body = matrix_response_json(resp);
        const char *event_id = json_get_string(body, "event_id");
        enum adapter_send_result result;
        uint64_t wait_ms = 0;
        char what[256];

        s->call = NULL;
        if (r == -ECANCELED) {
                /* Closing: the outbox row stays pending for the next start. */
                matrix_send_unlink(s);
                matrix_send_free(s);
                goto out;
        }

        if (r == 0 && resp->status == 200 && event_id) {
                matrix_own_event_add(m, event_id);
                if (!s->first_event_id)
                        s->first_event_id = strdup(event_id);
                s->next_part++;
                if (s->next_part < s->n_parts) {
                        r = matrix_send_part(s);
                        if (r == 0)
                                goto out;
                        snprintf(what, sizeof(what), "%s", strerror(-r));
                        result = ADAPTER_SEND_RETRY;
                } else {
                        adapter_send_done(m->adapter, s->id, ADAPTER_SEND_OK,
                                          s->first_event_id ? s->first_event_id : event_id,
                                          0, NULL);
                        matrix_send_unlink(s);
                        matrix_send_free(s);
                        goto out;
                }
        } else {
                if (r == 0 && resp->status == 200)
                        r = -EBADMSG;
                matrix_describe(r, resp, body, what, sizeof(what));
                if (r < 0 || resp->status >= 500) {
                        result = ADAPTER_SEND_RETRY;
                } else if (resp->status == 429) {
                        result = ADAPTER_SEND_RETRY;
                        wait_ms = matrix_retry_after_ms(resp, body);
                } else if (matrix_auth_refused(resp, body)) {
                        /* The token is gone: the reply waits for a new one,
                         * which the receive side gets by logging in again
                         * when it can. */
                        result = ADAPTER_SEND_RETRY;
                        if (m->password_file) {
                                wait_ms = MATRIX_NOT_READY_RETRY_MS;
                        } else {
                                wait_ms = MATRIX_FAILED_RETRY_MS;
                                matrix_fail(m, "the homeserver refused the access token while "
                                            "sending; replace it in access_token_file");
                        }
                } else {
                        result = ADAPTER_SEND_REJECTED;
                }
        }

        adapter_send_done(m->adapter, s->id, result, NULL, wait_ms, what);
        matrix_send_unlink(s);
        matrix_send_free(s);
out:
        json_object_put(body);
}

static int matrix_send_part(struct matrix_send *s)
{
        struct matrix *m = s->matrix;
        _cleanup_free_ char *room = url_escape(s->room_id), *path = NULL, *txn = NULL;
        json_object *content = json_object_new_object();
        int r = -ENOMEM;

        if (!room || !content)
                goto out;
        if (s->next_part == 0)
                txn = strdup(s->key);
        else if (asprintf(&txn, "%s-%zu", s->key, s->next_part + 1) < 0)
                txn = NULL;
        if (!txn || asprintf(&path, MATRIX_API "/rooms/%s/send/m.room.message/%s",
                             room, txn) < 0) {
                path = NULL;
                goto out;
        }

        json_object_object_add(content, "msgtype", json_object_new_string(m->msgtype));
        json_object_object_add(content, "body", json_object_new_string(s->parts[s->next_part]));
        if (s->thread_id || (s->reply_to && m->rich_replies && s->next_part == 0)) {
                json_object *rel = json_object_new_object();

                if (s->thread_id) {
                        json_object_object_add(rel, "rel_type",
                                               json_object_new_string("m.thread"));
                        json_object_object_add(rel, "event_id",
                                               json_object_new_string(s->thread_id));
                        json_object_object_add(rel, "is_falling_back",
                                               json_object_new_boolean(!(s->reply_to &&
                                                       m->rich_replies && s->next_part == 0)));
                }
                if (s->reply_to && m->rich_replies && s->next_part == 0) {
                        json_object *to = json_object_new_object();

                        json_object_object_add(to, "event_id",
                                               json_object_new_string(s->reply_to));
                        json_object_object_add(rel, "m.in_reply_to", to);
                } else if (s->thread_id) {
                        json_object *to = json_object_new_object();

                        json_object_object_add(to, "event_id",
                                               json_object_new_string(s->thread_id));
                        json_object_object_add(rel, "m.in_reply_to", to);
                }
                json_object_object_add(content, "m.relates_to", rel);
        }

        r = matrix_call(m, "PUT", path, content, MATRIX_CALL_TIMEOUT_MS, 0, matrix_on_sent, s,
                        &s->call);
out:
        json_object_put(content);
        return r;
}

static int matrix_send(void *state, const struct adapter_outgoing *out)
{
        struct matrix *m = state;
        struct matrix_send *s;
        int r;

        if (m->failed) {
                adapter_send_done(m->adapter, out->id, ADAPTER_SEND_RETRY, NULL,
                                  MATRIX_FAILED_RETRY_MS, "the Matrix adapter has stopped");
                return 0;
        }
        if (!m->token) {
                adapter_send_done(m->adapter, out->id, ADAPTER_SEND_RETRY, NULL,
                                  MATRIX_NOT_READY_RETRY_MS, "not logged in yet");
                return 0;
        }
        /* The core sends the last run's replies before start(). */
        if (!m->http) {
                r = http_client_new(m->loop, &m->http);
                if (r < 0)
                        return r;
        }
        if (!out->idempotency_key || !*out->idempotency_key) {
                adapter_send_done(m->adapter, out->id, ADAPTER_SEND_REJECTED, NULL, 0,
                                  "the reply has no idempotency key for its txnId");
                return 0;
        }

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->matrix = m;
        s->id = out->id;
        s->room_id = strdup(out->chat_id);
        s->key = strdup(out->idempotency_key);
        s->reply_to = out->reply_to ? strdup(out->reply_to) : NULL;
        s->thread_id = out->thread_id ? strdup(out->thread_id) : NULL;
        if (!s->room_id || !s->key || (out->reply_to && !s->reply_to) ||
            (out->thread_id && !s->thread_id)) {
                matrix_send_free(s);
                return -ENOMEM;
        }
        r = matrix_body_split(out->text, MATRIX_BODY_MAX_BYTES, &s->parts, &s->n_parts);
        if (r < 0) {
                matrix_send_free(s);
                return r;
        }
        if (s->n_parts == 0) {
                matrix_send_free(s);
                adapter_send_done(m->adapter, out->id, ADAPTER_SEND_REJECTED, NULL, 0,
                                  "the reply is empty");
                return 0;
        }

        r = matrix_send_part(s);
        if (r < 0) {
                matrix_send_free(s);
                return r;
        }
        s->next = m->sends;
        if (m->sends)
                m->sends->prev = s;
        m->sends = s;
        return 0;
}

/* ---- closing ---- */

static void matrix_on_http_closed(void *userdata)
{
        struct matrix *m = userdata;

        m->open_handles--;
        matrix_release(m);
}

static void matrix_on_retry_timer_closed(uv_handle_t *h)
{
        struct matrix *m = h->data;

        m->open_handles--;
        matrix_release(m);
}

static void matrix_close(void *state)
{
        struct matrix *m = state;

        matrix_stop_receiving(m);
        if (m->closed)
                return;
        m->closed = true;

        while (m->joins)
                matrix_join_finish(m->joins);
        if (m->started)
                uv_close((uv_handle_t *)&m->retry_timer, matrix_on_retry_timer_closed);
        if (m->http) {
                /* Cancels the sends in flight; their outbox rows stay
                 * pending. */
                m->open_handles++;
                http_client_close(m->http, matrix_on_http_closed, m);
                m->http = NULL;
        }
        matrix_release(m);
}

static void matrix_destroy(void *state)
{
        matrix_free(state);
}

const struct adapter_ops matrix_adapter_ops = {
        .name = "matrix",
        .config_keys = matrix_config_keys,
        .chat_send_interval_ms = 200,
        .create = matrix_create,
        .start = matrix_start,
        .stop_receiving = matrix_stop_receiving,
        .close = matrix_close,
        .send = matrix_send,
        .destroy = matrix_destroy,
};
