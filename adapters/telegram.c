/* telegram.c: the Telegram Bot API adapter.
 *
 * Receiving, in one of two modes:
 *   polling  getUpdates long polls, one at a time.  A batch goes to
 *            adapter_receive() with the cursor "last update_id + 1"; only
 *            once it is durable does the next poll carry that offset,
 *            which is what tells Telegram to forget the batch.  A restart
 *            polls from the stored cursor, so nothing is lost, and the
 *            inbox's update_id key makes a repeat a no-op.
 *   webhook  Telegram POSTs each update to the daemon's HTTP server
 *            (adapter_http_route()); the secret token header is checked,
 *            and the 200 waits for the commit (a 5xx makes Telegram
 *            deliver it again).
 * Start-up learns the bot's name with getMe (mentions, its own messages),
 * then switches modes: deleteWebhook before polling if a webhook is set,
 * setWebhook for webhook mode.
 *
 * Sending: sendMessage without parse_mode (model text is plain text).  A
 * reply longer than Telegram's 4,096 UTF-16 units goes out in parts
 * (src/textsplit.c); the parts already delivered are remembered, so a
 * retry after a 429 resumes at the first undelivered part.  Spacing: 1 s
 * per chat (the core's per-chat queue), per group and overall through
 * send_delay_ms with token buckets (src/ratelimit.c).
 *
 * Failures: a 401 or 404 means the token was refused, and the adapter
 * stops for good (the daemon keeps the others running).  429 waits
 * parameters.retry_after; 409 (another poller, or a webhook set) and
 * server or network trouble back off with jitter up to a cap.
 *
 * The token is in every request's URL: URLs and curl's messages are never
 * logged (src/http.c returns only errno values). */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapter.h"
#include "backoff.h"
#include "http.h"
#include "httpd.h"
#include "log.h"
#include "macro.h"
#include "ratelimit.h"
#include "textsplit.h"

#define TELEGRAM_API_URL_DEFAULT "https://api.telegram.org"
#define TELEGRAM_TEXT_UNITS_MAX 4096            /* sendMessage text, UTF-16 units */
#define TELEGRAM_POLL_MARGIN_MIN_MS 1000        /* a long poll this late is abandoned: */
#define TELEGRAM_POLL_MARGIN_MAX_MS 5000        /* a quarter of its timeout within these */
#define TELEGRAM_POLL_LIMIT 100                 /* updates per getUpdates, Telegram's most */
#define TELEGRAM_UPDATES_BYTES_MAX (4 * 1024 * 1024)
#define TELEGRAM_REPLY_BYTES_MAX (256 * 1024)   /* any other method's answer */
#define TELEGRAM_CALL_TIMEOUT_MS (30 * 1000)
#define TELEGRAM_RETRY_INITIAL_MS 500
#define TELEGRAM_RETRY_MAX_MS (60 * 1000)
#define TELEGRAM_RETRY_AFTER_MAX_S 3600         /* a longer 429 wait is clamped */
#define TELEGRAM_GROUPS_MAX 4096                /* group buckets kept */
#define TELEGRAM_SECRET_FILE_MAX 4096           /* token and secret files */
#define TELEGRAM_WEBHOOK_SECRET_MAX 256         /* Telegram's limit for secret_token */
#define TELEGRAM_TOKEN_CREDENTIAL "telegram-token"
#define TELEGRAM_SECRET_CREDENTIAL "telegram-webhook-secret"
#define TELEGRAM_SECRET_HEADER "X-Telegram-Bot-Api-Secret-Token"
#define TELEGRAM_ALLOWED_UPDATES "[\"message\",\"channel_post\"]"

static const struct config_key telegram_config_keys[] = {
        { "telegram", "enabled", CONFIG_BOOL, "false", false, 0, 0, NULL,
          "answer on Telegram" },
        { "telegram", "token_file", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "file holding the bot token (default: the systemd credential telegram-token)" },
        { "telegram", "api_url", CONFIG_STRING, TELEGRAM_API_URL_DEFAULT, false, 0, 0, NULL,
          "the Bot API server" },
        { "telegram", "mode", CONFIG_ENUM, "polling", false, 0, 0, "polling|webhook",
          "how updates arrive: getUpdates long polling, or a webhook on the [http] server" },
        { "telegram", "poll_timeout_s", CONFIG_INT, "50", false, 1, 600, NULL,
          "how long one getUpdates waits for updates" },
        { "telegram", "webhook_url", CONFIG_STRING, NULL, false, 0, 0, NULL,
          "the public https URL Telegram posts updates to (webhook mode)" },
        { "telegram", "webhook_path", CONFIG_STRING, NULL, false, 0, 0, NULL,
          "the path the [http] server takes them on (default: webhook_url's path)" },
        { "telegram", "webhook_secret_file", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "file holding the webhook secret token (default: the credential "
          "telegram-webhook-secret, else a new random one at each start)" },
        { "telegram", "send_per_second", CONFIG_INT, "30", false, 1, 1000000, NULL,
          "messages sent per second over all chats" },
        { "telegram", "group_send_per_minute", CONFIG_INT, "20", false, 1, 100000, NULL,
          "messages sent per minute to one group" },
        { "telegram", "max_text_units", CONFIG_INT, "4096", false, 64, TELEGRAM_TEXT_UNITS_MAX,
          NULL, "longest message in UTF-16 units; longer replies are split" },
        { NULL },
};

enum telegram_mode {
        TELEGRAM_POLLING,
        TELEGRAM_WEBHOOK,
};

/* Where receiving stands; the retry timer repeats the current step. */
enum telegram_step {
        STEP_GET_ME,
        STEP_WEBHOOK_INFO,      /* polling: is a webhook set? */
        STEP_DELETE_WEBHOOK,
        STEP_SET_WEBHOOK,
        STEP_POLL,
        STEP_LISTENING,         /* webhook mode, set up */
        STEP_STOPPED,
};

/* A Bot API answer, parsed. */
struct telegram_reply {
        int r;                  /* < 0: no usable answer (transport, not JSON) */
        long status;
        bool ok;
        json_object *result;    /* borrowed from the parsed body */
        const char *description;
        int64_t retry_after_s;  /* 0 if none */
};

struct telegram;
typedef void (*telegram_reply_fn)(struct telegram *tg, void *userdata,
                                  const struct telegram_reply *reply);

/* A request in flight. */
struct telegram_request {
        struct telegram *tg;
        telegram_reply_fn fn;
        void *userdata;
};

/* One reply being delivered, kept across retries until it is done. */
struct telegram_send {
        struct telegram *tg;
        int64_t id;
        char *chat_id;
        char *thread_id;
        char *reply_to;
        char *text;
        struct textsplit_part *parts;
        size_t n_parts;
        size_t next_part;               /* parts before it were delivered */
        char last_message_id[32];
        struct http_call *call;         /* a part in flight */
        struct telegram_send *prev, *next;
};

/* A webhook update waiting for its commit. */
struct telegram_webhook {
        struct telegram *tg;
        struct httpd_request *req;
};

struct telegram {
        struct adapter *adapter;
        uv_loop_t *loop;
        struct log_fields log;

        char *api_base;                 /* api_url/bot<token>/: a secret */
        enum telegram_mode mode;
        uint64_t poll_timeout_s;
        char *webhook_url;
        char *webhook_path;
        char *webhook_secret;           /* a secret */
        size_t max_text_units;

        struct http_client *http;

        int64_t bot_id;
        char *bot_username;

        enum telegram_step step;
        struct http_call *receive_call;
        uv_timer_t retry_timer;
        struct backoff backoff;
        int64_t offset;                 /* 0: none yet */
        unsigned poll_limit;
        bool receiving;                 /* a batch is with adapter_receive() */
        bool connected;
        bool failed;
        bool stopped;                   /* no more receiving */
        bool closed;
        bool timer_open;
        unsigned open_handles;          /* the retry timer and the HTTP client */
        uint64_t poll_started_ms;

        struct ratelimit global;
        struct ratelimit_set *groups;
        struct telegram_send *sends;
};

static void telegram_step_run(struct telegram *tg);
static void telegram_poll(struct telegram *tg);

/* ---- configuration and secrets ---- */

/* Reads a small secret file: its first line, blanks trimmed.  The content
 * never reaches a message. */
static int telegram_secret_read(const char *path, const struct log_fields *f,
                                const char *what, char **ret)
{
        _cleanup_close_ int fd = -1;
        char buf[TELEGRAM_SECRET_FILE_MAX + 1];
        struct stat st;
        ssize_t n;
        size_t len;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = -errno;

                log_record(LOG_ERR, f, "cannot read the %s from %s: %s", what, path,
                           strerror(-r));
                return -EINVAL;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > TELEGRAM_SECRET_FILE_MAX) {
                log_record(LOG_ERR, f, "%s: not a regular file of at most %d bytes, so not "
                           "the %s", path, TELEGRAM_SECRET_FILE_MAX, what);
                return -EINVAL;
        }
        if (st.st_mode & 0077)
                log_record(LOG_WARNING, f, "%s holds the %s and others may read it; "
                           "chmod 600 it", path, what);

        n = read(fd, buf, TELEGRAM_SECRET_FILE_MAX);
        if (n < 0) {
                int r = -errno;

                log_record(LOG_ERR, f, "cannot read the %s from %s: %s", what, path,
                           strerror(-r));
                return r;
        }
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        len = strlen(buf);
        while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
                buf[--len] = '\0';

        if (buf[strspn(buf, " \t")] == '\0') {
                log_record(LOG_ERR, f, "%s is empty: it holds no %s", path, what);
                return -EINVAL;
        }

        *ret = strdup(buf + strspn(buf, " \t"));
        explicit_bzero(buf, sizeof(buf));
        return *ret ? 0 : -ENOMEM;
}

/* A bot token is "<bot id>:<secret>", the secret of letters, digits, '_'
 * and '-'; anything else would also corrupt the URL. */
static bool telegram_token_valid(const char *t)
{
        size_t digits = strspn(t, "0123456789");
        const char *rest = t + digits;

        return digits > 0 && digits <= 20 && rest[0] == ':' && strlen(rest + 1) >= 20 &&
                strspn(rest + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789_-") == strlen(rest + 1);
}

static bool telegram_webhook_secret_valid(const char *s)
{
        size_t n = strlen(s);

        return n >= 1 && n <= TELEGRAM_WEBHOOK_SECRET_MAX &&
                strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789_-") == n;
}

/* The file named by key, else the systemd credential, else NULL (no
 * error) when optional. */
static int telegram_secret_load(const struct config *config, const char *key,
                                const char *credential, const char *what,
                                const struct log_fields *f, char **ret)
{
        const char *path = config_get_string(config, "telegram", key);
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        _cleanup_free_ char *cred = NULL;

        if (!path && dir) {
                if (asprintf(&cred, "%s/%s", dir, credential) < 0)
                        return -ENOMEM;
                if (access(cred, F_OK) == 0)
                        path = cred;
        }
        if (!path) {
                *ret = NULL;
                return 0;
        }

        return telegram_secret_read(path, f, what, ret);
}

static int telegram_webhook_secret_random(char **ret)
{
        uint8_t bytes[24];
        char *s = malloc(sizeof(bytes) * 2 + 1);

        if (!s)
                return -ENOMEM;
        if (getrandom(bytes, sizeof(bytes), 0) != sizeof(bytes)) {
                free(s);
                return -EIO;
        }
        for (size_t i = 0; i < sizeof(bytes); i++)
                sprintf(s + 2 * i, "%02x", bytes[i]);
        explicit_bzero(bytes, sizeof(bytes));
        *ret = s;
        return 0;
}

/* The path part of an http(s) URL, "/" if it has none. */
static char *telegram_url_path(const char *url)
{
        const char *p = strstr(url, "://");
        size_t n;

        if (!p)
                return NULL;
        p = strchr(p + 3, '/');
        if (!p)
                return strdup("/");
        n = strcspn(p, "?#");
        return strndup(p, n);
}

static int telegram_config_webhook(struct telegram *tg, const struct config *config)
{
        const char *url = config_get_string(config, "telegram", "webhook_url");
        const char *path = config_get_string(config, "telegram", "webhook_path");
        int r;

        if (!url) {
                log_record(LOG_ERR, &tg->log, "%s: webhook mode needs webhook_url, the public "
                           "https:// address Telegram posts to",
                           config_where(config, "telegram", "mode"));
                return -EINVAL;
        }
        if (strncmp(url, "https://", 8) != 0) {
                log_record(LOG_ERR, &tg->log, "%s: webhook_url must be an https:// address "
                           "(Telegram posts to https only)",
                           config_where(config, "telegram", "webhook_url"));
                return -EINVAL;
        }
        tg->webhook_url = strdup(url);
        tg->webhook_path = path ? strdup(path) : telegram_url_path(url);
        if (!tg->webhook_url || !tg->webhook_path)
                return -ENOMEM;
        if (tg->webhook_path[0] != '/') {
                log_record(LOG_ERR, &tg->log, "%s: webhook_path must start with '/'",
                           config_where(config, "telegram", "webhook_path"));
                return -EINVAL;
        }

        r = telegram_secret_load(config, "webhook_secret_file", TELEGRAM_SECRET_CREDENTIAL,
                                 "webhook secret", &tg->log, &tg->webhook_secret);
        if (r < 0)
                return r;
        if (!tg->webhook_secret) {
                log_record(LOG_NOTICE, &tg->log, "no webhook_secret_file: using a new random "
                           "secret token, set with the webhook at each start");
                r = telegram_webhook_secret_random(&tg->webhook_secret);
                if (r < 0)
                        return r;
        }
        if (!telegram_webhook_secret_valid(tg->webhook_secret)) {
                log_record(LOG_ERR, &tg->log, "the webhook secret must be 1 to %d letters, "
                           "digits, '_' or '-'", TELEGRAM_WEBHOOK_SECRET_MAX);
                return -EINVAL;
        }

        if (!config_get_bool(config, "http", "enabled")) {
                log_record(LOG_ERR, &tg->log, "%s: webhook mode needs the daemon's HTTP "
                           "server: set enabled = true in [http]",
                           config_where(config, "telegram", "mode"));
                return -EINVAL;
        }
        return 0;
}

static void telegram_destroy(void *state);

static int telegram_create(struct adapter *a, const struct config *config, void **ret)
{
        struct telegram *tg = calloc(1, sizeof(*tg));
        const char *api_url = config_get_string(config, "telegram", "api_url");
        uint64_t per_second = (uint64_t)config_get_int(config, "telegram", "send_per_second");
        uint64_t group_per_minute = (uint64_t)config_get_int(config, "telegram",
                                                             "group_send_per_minute");
        _cleanup_free_ char *token = NULL;
        size_t api_len;
        int r;

        if (!tg)
                return -ENOMEM;
        tg->adapter = a;
        tg->loop = adapter_loop(a);
        tg->log = (struct log_fields){ .adapter = "telegram" };
        tg->poll_timeout_s = (uint64_t)config_get_int(config, "telegram", "poll_timeout_s");
        tg->max_text_units = (size_t)config_get_int(config, "telegram", "max_text_units");
        tg->mode = strcmp(config_get_string(config, "telegram", "mode"), "webhook") == 0 ?
                TELEGRAM_WEBHOOK : TELEGRAM_POLLING;
        tg->poll_limit = TELEGRAM_POLL_LIMIT;
        backoff_init(&tg->backoff, TELEGRAM_RETRY_INITIAL_MS, TELEGRAM_RETRY_MAX_MS);
        /* Overall: bursts of a tenth of a second's worth.  A group: none,
         * since a bucket allows its burst on top of the rate in any window. */
        ratelimit_init(&tg->global, per_second, 1000, per_second / 10 + 1);
        r = ratelimit_set_new(group_per_minute, 60 * 1000, 1, TELEGRAM_GROUPS_MAX, &tg->groups);
        if (r < 0)
                goto fail;

        if (strncmp(api_url, "http://", 7) != 0 && strncmp(api_url, "https://", 8) != 0) {
                log_record(LOG_ERR, &tg->log, "%s: api_url must be an http:// or https:// URL",
                           config_where(config, "telegram", "api_url"));
                r = -EINVAL;
                goto fail;
        }

        r = telegram_secret_load(config, "token_file", TELEGRAM_TOKEN_CREDENTIAL, "bot token",
                                 &tg->log, &token);
        if (r < 0)
                goto fail;
        if (!token && adapter_credentials_unreadable(a)) {
                log_record(LOG_NOTICE, &tg->log, "no token_file: the bot token is the systemd "
                           "credential %s, read by the service at its start, not by this "
                           "check", TELEGRAM_TOKEN_CREDENTIAL);
        } else if (!token) {
                log_record(LOG_ERR, &tg->log, "no bot token: set token_file in [telegram], or "
                           "pass the systemd credential %s (LoadCredential=)",
                           TELEGRAM_TOKEN_CREDENTIAL);
                r = -EINVAL;
                goto fail;
        }
        if (token && !telegram_token_valid(token)) {
                log_record(LOG_ERR, &tg->log, "%s: the bot token is not of the form BotFather "
                           "gives (digits, ':', then letters, digits, '_' or '-')",
                           config_get_string(config, "telegram", "token_file") ?
                           config_where(config, "telegram", "token_file") :
                           "the systemd credential " TELEGRAM_TOKEN_CREDENTIAL);
                r = -EINVAL;
                goto fail;
        }

        api_len = strlen(api_url);
        while (api_len > 0 && api_url[api_len - 1] == '/')
                api_len--;
        if (token && asprintf(&tg->api_base, "%.*s/bot%s/", (int)api_len, api_url, token) < 0) {
                tg->api_base = NULL;
                r = -ENOMEM;
                goto fail;
        }
        if (token)
                explicit_bzero(token, strlen(token));

        if (tg->mode == TELEGRAM_WEBHOOK) {
                r = telegram_config_webhook(tg, config);
                if (r < 0)
                        goto fail;
        }

        *ret = tg;
        return 0;

fail:
        if (token)
                explicit_bzero(token, strlen(token));
        telegram_destroy(tg);
        return r;
}

/* ---- Bot API calls ---- */

static int64_t json_int(json_object *o, const char *key, int64_t fallback)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return fallback;
        return json_object_get_int64(v);
}

static const char *json_str(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *json_obj(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_object))
                return NULL;
        return v;
}

static void telegram_on_http_done(void *userdata, int r, const struct http_response *response)
{
        _cleanup_free_ struct telegram_request *req = userdata;
        struct telegram_reply reply = { .r = r };
        json_tokener *tok = NULL;
        json_object *root = NULL, *ok, *params;
        const char *header;

        if (r == 0) {
                reply.status = response->status;
                tok = json_tokener_new();
                if (!tok) {
                        reply.r = -ENOMEM;
                        goto done;
                }
                root = json_tokener_parse_ex(tok, response->body, (int)response->body_len);
                if (!root || json_tokener_get_parse_end(tok) != response->body_len ||
                    !json_object_is_type(root, json_type_object) ||
                    !json_object_object_get_ex(root, "ok", &ok)) {
                        reply.r = -EPROTO;
                        goto done;
                }
                reply.ok = json_object_get_boolean(ok);
                json_object_object_get_ex(root, "result", &reply.result);
                reply.description = json_str(root, "description");
                params = json_obj(root, "parameters");
                reply.retry_after_s = json_int(params, "retry_after", 0);
                header = http_response_header(response, "Retry-After");
                if (reply.retry_after_s <= 0 && header)
                        reply.retry_after_s = strtoll(header, NULL, 10);
                if (reply.retry_after_s < 0)
                        reply.retry_after_s = 0;
                if (reply.retry_after_s > TELEGRAM_RETRY_AFTER_MAX_S)
                        reply.retry_after_s = TELEGRAM_RETRY_AFTER_MAX_S;
        }

done:
        req->fn(req->tg, req->userdata, &reply);
        json_object_put(root);
        if (tok)
                json_tokener_free(tok);
}

/* The HTTP client, made at first use: the core may hand over replies left
 * from the last run before it starts the adapter. */
static int telegram_http(struct telegram *tg)
{
        int r;

        if (tg->closed)
                return -ESHUTDOWN;
        if (tg->http)
                return 0;
        r = http_client_new(tg->loop, &tg->http);
        if (r < 0)
                return r;
        tg->open_handles++;
        return 0;
}

/* POSTs params (taken) as JSON to method.  On failure to start, returns
 * < 0 and fn is not called. */
static int telegram_call(struct telegram *tg, const char *method, json_object *params,
                         uint64_t timeout_ms, size_t max_bytes, telegram_reply_fn fn,
                         void *userdata, struct http_call **ret_call)
{
        static const char *const headers[] = { "Content-Type: application/json", NULL };
        _cleanup_free_ char *url = NULL;
        struct telegram_request *req;
        const char *body;
        int r;

        if (!params)
                return -ENOMEM;
        r = telegram_http(tg);
        if (r < 0) {
                json_object_put(params);
                return r;
        }
        req = malloc(sizeof(*req));
        if (!req || asprintf(&url, "%s%s", tg->api_base, method) < 0) {
                url = NULL;
                free(req);
                json_object_put(params);
                return -ENOMEM;
        }
        *req = (struct telegram_request){ .tg = tg, .fn = fn, .userdata = userdata };

        body = json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE);
        r = http_request_start(tg->http, &(struct http_request){
                        .method = "POST", .url = url, .headers = headers,
                        .body = body, .body_len = strlen(body),
                        .timeout_ms = timeout_ms, .max_response_bytes = max_bytes,
                }, telegram_on_http_done, req, ret_call);
        if (url)
                explicit_bzero(url, strlen(url));
        json_object_put(params);
        if (r < 0)
                free(req);
        return r;
}

/* "HTTP 502: Bad Gateway" or "connection refused": for the log. */
static void telegram_reply_describe(const struct telegram_reply *reply, char *buf, size_t size)
{
        if (reply->r < 0)
                snprintf(buf, size, "%s", reply->r == -EPROTO ? "the answer was not Bot API JSON" :
                         strerror(-reply->r));
        else
                snprintf(buf, size, "HTTP %ld: %s", reply->status,
                         reply->description ? reply->description : "no description");
}

static bool telegram_reply_token_refused(const struct telegram_reply *reply)
{
        return reply->r == 0 && (reply->status == 401 || reply->status == 404);
}

/* ---- receiving: the steps and their retries ---- */

static void telegram_on_retry_timer(uv_timer_t *t)
{
        telegram_step_run(t->data);
}

static void telegram_retry_in(struct telegram *tg, uint64_t wait_ms)
{
        uv_timer_start(&tg->retry_timer, telegram_on_retry_timer, wait_ms, 0);
}

/* The token was refused: stop receiving and sending for good. */
static void telegram_fail(struct telegram *tg, long status)
{
        char reason[128];

        if (tg->failed)
                return;
        tg->failed = true;
        tg->stopped = true;
        tg->step = STEP_STOPPED;
        if (tg->timer_open)
                uv_timer_stop(&tg->retry_timer);
        snprintf(reason, sizeof(reason), "the bot token was refused (%ld %s)", status,
                 status == 401 ? "Unauthorized" : "Not Found");
        adapter_set_state(tg->adapter, ADAPTER_FAILED, reason);
}

/* A receive step failed: decide the wait, log it once, arm the retry. */
static void telegram_step_failed(struct telegram *tg, const char *method,
                                 const struct telegram_reply *reply)
{
        char what[256];
        uint64_t wait_ms;

        if (tg->stopped)
                return;
        if (telegram_reply_token_refused(reply)) {
                telegram_fail(tg, reply->status);
                return;
        }

        telegram_reply_describe(reply, what, sizeof(what));
        if (reply->r == 0 && reply->status == 429) {
                wait_ms = (uint64_t)(reply->retry_after_s > 0 ? reply->retry_after_s : 1) * 1000;
                log_record(LOG_WARNING, &tg->log, "%s: Telegram asks to wait %.0f s (%s)",
                           method, wait_ms / 1000.0, what);
        } else if (reply->r == 0 && reply->status == 409) {
                wait_ms = backoff_next_ms(&tg->backoff);
                log_record(LOG_WARNING, &tg->log, "%s: %s; another poller for this bot or a "
                           "webhook is active; retrying in %.1f s", method, what,
                           wait_ms / 1000.0);
        } else {
                wait_ms = backoff_next_ms(&tg->backoff);
                log_record(LOG_WARNING, &tg->log, "%s failed: %s; retrying in %.1f s", method,
                           what, wait_ms / 1000.0);
        }
        telegram_retry_in(tg, wait_ms);
}

static void telegram_connected(struct telegram *tg)
{
        if (tg->connected)
                return;
        tg->connected = true;
        log_record(LOG_INFO, &tg->log, "bot @%s (id %" PRId64 "), %s", tg->bot_username,
                   tg->bot_id, tg->mode == TELEGRAM_POLLING ? "long polling" :
                   "webhook");
        adapter_set_state(tg->adapter, ADAPTER_CONNECTED, NULL);
}

/* Starts a receive-side call; a failure to start is retried like a failed
 * answer. */
static void telegram_step_call(struct telegram *tg, const char *method, json_object *params,
                               uint64_t timeout_ms, size_t max_bytes, telegram_reply_fn fn)
{
        int r = telegram_call(tg, method, params, timeout_ms, max_bytes, fn, NULL,
                              &tg->receive_call);

        if (r < 0) {
                struct telegram_reply reply = { .r = r };

                tg->receive_call = NULL;
                telegram_step_failed(tg, method, &reply);
        }
}

static void telegram_on_set_webhook(struct telegram *tg, void *userdata,
                                    const struct telegram_reply *reply)
{
        tg->receive_call = NULL;
        if (reply->r < 0 || !reply->ok) {
                telegram_step_failed(tg, "setWebhook", reply);
                return;
        }

        backoff_reset(&tg->backoff);
        tg->step = STEP_LISTENING;
        telegram_connected(tg);
}

static void telegram_on_delete_webhook(struct telegram *tg, void *userdata,
                                       const struct telegram_reply *reply)
{
        tg->receive_call = NULL;
        if (reply->r < 0 || !reply->ok) {
                telegram_step_failed(tg, "deleteWebhook", reply);
                return;
        }

        backoff_reset(&tg->backoff);
        log_record(LOG_NOTICE, &tg->log, "webhook removed: switched to long polling");
        tg->step = STEP_POLL;
        telegram_connected(tg);
        telegram_poll(tg);
}

static void telegram_on_webhook_info(struct telegram *tg, void *userdata,
                                     const struct telegram_reply *reply)
{
        const char *url;

        tg->receive_call = NULL;
        if (reply->r < 0 || !reply->ok || !json_object_is_type(reply->result,
                                                              json_type_object)) {
                telegram_step_failed(tg, "getWebhookInfo", reply);
                return;
        }

        backoff_reset(&tg->backoff);
        url = json_str(reply->result, "url");
        tg->step = url && url[0] ? STEP_DELETE_WEBHOOK : STEP_POLL;
        if (tg->step == STEP_POLL)
                telegram_connected(tg);
        telegram_step_run(tg);
}

static void telegram_on_get_me(struct telegram *tg, void *userdata,
                               const struct telegram_reply *reply)
{
        const char *username;
        int64_t id;

        tg->receive_call = NULL;
        if (reply->r < 0 || !reply->ok) {
                telegram_step_failed(tg, "getMe", reply);
                return;
        }

        username = json_str(reply->result, "username");
        id = json_int(reply->result, "id", 0);
        if (!username || id == 0) {
                struct telegram_reply bad = { .r = -EPROTO };

                telegram_step_failed(tg, "getMe", &bad);
                return;
        }

        free(tg->bot_username);
        tg->bot_username = strdup(username);
        if (!tg->bot_username) {
                struct telegram_reply bad = { .r = -ENOMEM };

                telegram_step_failed(tg, "getMe", &bad);
                return;
        }
        tg->bot_id = id;
        backoff_reset(&tg->backoff);
        tg->step = tg->mode == TELEGRAM_POLLING ? STEP_WEBHOOK_INFO : STEP_SET_WEBHOOK;
        telegram_step_run(tg);
}

static void telegram_step_run(struct telegram *tg)
{
        json_object *p;

        if (tg->stopped || tg->receive_call || tg->receiving)
                return;

        switch (tg->step) {
        case STEP_GET_ME:
                telegram_step_call(tg, "getMe", json_object_new_object(),
                                   TELEGRAM_CALL_TIMEOUT_MS, TELEGRAM_REPLY_BYTES_MAX,
                                   telegram_on_get_me);
                break;
        case STEP_WEBHOOK_INFO:
                telegram_step_call(tg, "getWebhookInfo", json_object_new_object(),
                                   TELEGRAM_CALL_TIMEOUT_MS, TELEGRAM_REPLY_BYTES_MAX,
                                   telegram_on_webhook_info);
                break;
        case STEP_DELETE_WEBHOOK:
                p = json_object_new_object();
                if (p)
                        json_object_object_add(p, "drop_pending_updates",
                                               json_object_new_boolean(0));
                telegram_step_call(tg, "deleteWebhook", p, TELEGRAM_CALL_TIMEOUT_MS,
                                   TELEGRAM_REPLY_BYTES_MAX, telegram_on_delete_webhook);
                break;
        case STEP_SET_WEBHOOK:
                p = json_object_new_object();
                if (p) {
                        json_object_object_add(p, "url",
                                               json_object_new_string(tg->webhook_url));
                        json_object_object_add(p, "secret_token",
                                               json_object_new_string(tg->webhook_secret));
                        json_object_object_add(p, "allowed_updates",
                                               json_tokener_parse(TELEGRAM_ALLOWED_UPDATES));
                        json_object_object_add(p, "drop_pending_updates",
                                               json_object_new_boolean(0));
                }
                telegram_step_call(tg, "setWebhook", p, TELEGRAM_CALL_TIMEOUT_MS,
                                   TELEGRAM_REPLY_BYTES_MAX, telegram_on_set_webhook);
                break;
        case STEP_POLL:
                telegram_poll(tg);
                break;
        case STEP_LISTENING:
        case STEP_STOPPED:
                break;
        }
}

/* ---- updates ---- */

/* The byte offset in text of UTF-16 offset units (Telegram's entity
 * offsets); -1 past the end, inside a code point, or on invalid UTF-8. */
static long long utf16_to_byte(const char *text, int64_t units)
{
        const unsigned char *p = (const unsigned char *)text;
        int64_t u = 0;
        size_t at = 0;

        while (u < units) {
                unsigned char c = p[at];
                size_t len;

                if (c < 0x80)
                        len = 1;
                else if (c >= 0xC2 && c < 0xE0)
                        len = 2;
                else if (c >= 0xE0 && c < 0xF0)
                        len = 3;
                else if (c >= 0xF0 && c < 0xF5)
                        len = 4;
                else
                        return -1;
                if (c == '\0')
                        return -1;
                for (size_t k = 1; k < len; k++)
                        if ((p[at + k] & 0xC0) != 0x80)
                                return -1;
                u += len == 4 ? 2 : 1;
                at += len;
        }
        return u == units ? (long long)at : -1;
}

/* A message parsed from an update; strings borrowed from the JSON or held
 * in the buffers. */
struct telegram_message {
        struct adapter_message m;
        char event_id[24];
        char chat_id[24];
        char user_id[24];
        char message_id[24];
        char thread_id[24];
        char *user_name;        /* owned */
        char *text;             /* owned */
};

static void telegram_message_clear(struct telegram_message *tm)
{
        free(tm->user_name);
        free(tm->text);
        *tm = (struct telegram_message){ 0 };
}

/* Whether entity e of text names this bot, for type mention,
 * text_mention or bot_command ("/cmd@bot"). */
static bool telegram_entity_is_bot(const struct telegram *tg, const char *text,
                                   json_object *e, long long *ret_start, long long *ret_end)
{
        const char *type = json_str(e, "type");
        int64_t offset = json_int(e, "offset", -1), length = json_int(e, "length", -1);
        long long start, end;
        size_t name_len = strlen(tg->bot_username);

        if (!type || offset < 0 || length <= 0)
                return false;
        if (strcmp(type, "text_mention") == 0)
                return json_int(json_obj(e, "user"), "id", 0) == tg->bot_id;

        start = utf16_to_byte(text, offset);
        end = start < 0 ? -1 : utf16_to_byte(text, offset + length);
        if (start < 0 || end < 0)
                return false;
        *ret_start = start;
        *ret_end = end;

        if (strcmp(type, "mention") == 0)
                return (size_t)(end - start) == name_len + 1 && text[start] == '@' &&
                        strncasecmp(text + start + 1, tg->bot_username, name_len) == 0;
        if (strcmp(type, "bot_command") == 0) {
                const char *at = memchr(text + start, '@', (size_t)(end - start));

                return at && (size_t)(text + end - at - 1) == name_len &&
                        strncasecmp(at + 1, tg->bot_username, name_len) == 0;
        }
        return false;
}

/* Decides addressed, and copies text without the "@bot" mentions (the
 * router and the model want the question, not the name). */
static int telegram_message_text(const struct telegram *tg, json_object *msg,
                                 struct telegram_message *tm, bool *ret_mentioned)
{
        const char *text = json_str(msg, "text");
        const char *entities_key = "entities";
        json_object *entities;
        char *out;
        size_t at = 0, len = 0;
        bool mentioned = false;

        if (!text) {
                text = json_str(msg, "caption");
                entities_key = "caption_entities";
        }
        if (!text)
                return 0;

        out = malloc(strlen(text) + 1);
        if (!out)
                return -ENOMEM;

        if (json_object_object_get_ex(msg, entities_key, &entities) &&
            json_object_is_type(entities, json_type_array)) {
                size_t n = json_object_array_length(entities);

                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(entities, i);
                        long long start = -1, end = -1;
                        const char *type = json_str(e, "type");

                        if (!telegram_entity_is_bot(tg, text, e, &start, &end))
                                continue;
                        mentioned = true;
                        if (!type || strcmp(type, "mention") != 0 || start < (long long)at)
                                continue;
                        memcpy(out + len, text + at, (size_t)start - at);
                        len += (size_t)start - at;
                        at = (size_t)end;
                }
        }
        memcpy(out + len, text + at, strlen(text) - at);
        len += strlen(text) - at;
        out[len] = '\0';

        /* Blanks left where a mention was; nothing but the mention: keep
         * the original. */
        {
                size_t lead = strspn(out, " \t\r\n,:");

                memmove(out, out + lead, len - lead + 1);
                len -= lead;
                while (len > 0 && strchr(" \t\r\n", out[len - 1]))
                        out[--len] = '\0';
                if (len == 0) {
                        free(out);
                        out = strdup(text);
                        if (!out)
                                return -ENOMEM;
                }
        }

        tm->text = out;
        *ret_mentioned = mentioned;
        return 1;
}

/* Parses one update.  Returns 1 with *tm filled for a message to answer, 0
 * for an update to skip (logged), < 0 on allocation failure.
 * *ret_update_id is -1 when the update has none. */
static int telegram_update_parse(const struct telegram *tg, json_object *update,
                                 struct telegram_message *tm, int64_t *ret_update_id)
{
        int64_t update_id = json_int(update, "update_id", -1);
        json_object *msg, *chat, *from, *sender_chat, *reply, *topic;
        const char *chat_type, *kind = "message";
        bool mentioned = false, channel = false;
        int r;

        *ret_update_id = update_id;
        if (update_id < 0) {
                log_record(LOG_WARNING, &tg->log, "an update without update_id, ignoring it");
                return 0;
        }

        msg = json_obj(update, "message");
        if (!msg) {
                msg = json_obj(update, "channel_post");
                kind = "channel_post";
                channel = true;
        }
        if (!msg) {
                if (json_obj(update, "edited_message") || json_obj(update, "edited_channel_post"))
                        log_record(LOG_DEBUG, &tg->log, "update %" PRId64 ": an edit, not a "
                                   "new question; ignoring it", update_id);
                else
                        log_record(LOG_DEBUG, &tg->log, "update %" PRId64 ": nothing this "
                                   "bot answers; ignoring it", update_id);
                return 0;
        }

        chat = json_obj(msg, "chat");
        chat_type = json_str(chat, "type");
        if (!chat || json_int(chat, "id", 0) == 0 || !chat_type ||
            json_int(msg, "message_id", -1) < 0) {
                log_record(LOG_WARNING, &tg->log, "update %" PRId64 ": a %s without chat or "
                           "message_id, ignoring it", update_id, kind);
                return 0;
        }

        from = json_obj(msg, "from");
        if (from && json_int(from, "id", 0) == tg->bot_id) {
                log_record(LOG_DEBUG, &tg->log, "update %" PRId64 ": the bot's own message, "
                           "ignoring it", update_id);
                return 0;
        }

        *tm = (struct telegram_message){ 0 };
        r = telegram_message_text(tg, msg, tm, &mentioned);
        if (r <= 0) {
                if (r == 0)
                        log_record(LOG_DEBUG, &tg->log, "update %" PRId64 ": a %s without "
                                   "text, ignoring it", update_id, kind);
                return r;
        }

        snprintf(tm->event_id, sizeof(tm->event_id), "%" PRId64, update_id);
        snprintf(tm->chat_id, sizeof(tm->chat_id), "%" PRId64, json_int(chat, "id", 0));
        snprintf(tm->message_id, sizeof(tm->message_id), "%" PRId64,
                 json_int(msg, "message_id", 0));

        sender_chat = json_obj(msg, "sender_chat");
        if (from) {
                const char *first = json_str(from, "first_name");
                const char *last = json_str(from, "last_name");
                const char *username = json_str(from, "username");

                snprintf(tm->user_id, sizeof(tm->user_id), "%" PRId64, json_int(from, "id", 0));
                if (first && last)
                        r = asprintf(&tm->user_name, "%s %s", first, last);
                else
                        r = asprintf(&tm->user_name, "%s", first ? first : username ?
                                     username : tm->user_id);
        } else {
                json_object *who = sender_chat ? sender_chat : chat;
                const char *title = json_str(who, "title");

                snprintf(tm->user_id, sizeof(tm->user_id), "%" PRId64, json_int(who, "id", 0));
                r = asprintf(&tm->user_name, "%s", title ? title : tm->user_id);
        }
        if (r < 0) {
                tm->user_name = NULL;
                telegram_message_clear(tm);
                return -ENOMEM;
        }

        reply = json_obj(msg, "reply_to_message");
        tm->m = (struct adapter_message){
                .event_id = tm->event_id,
                .chat_id = tm->chat_id,
                .user_id = tm->user_id,
                .user_name = tm->user_name,
                .message_id = tm->message_id,
                .text = tm->text,
                .direct = !channel && strcmp(chat_type, "private") == 0,
                .sent_at_ms = json_int(msg, "date", 0) * 1000,
        };
        tm->m.addressed = tm->m.direct || mentioned ||
                (!channel && json_int(json_obj(reply, "from"), "id", 0) == tg->bot_id);

        /* Forum topics: answer in the topic. */
        if (json_object_object_get_ex(msg, "is_topic_message", &topic) &&
            json_object_get_boolean(topic) && json_int(msg, "message_thread_id", 0) > 0) {
                snprintf(tm->thread_id, sizeof(tm->thread_id), "%" PRId64,
                         json_int(msg, "message_thread_id", 0));
                tm->m.thread_id = tm->thread_id;
        }
        return 1;
}

/* ---- polling ---- */

struct telegram_batch {
        struct telegram *tg;
        int64_t next_offset;
};

static void telegram_on_batch_stored(void *userdata, int r)
{
        struct telegram_batch *b = userdata;
        struct telegram *tg = b->tg;
        int64_t next = b->next_offset;

        free(b);
        tg->receiving = false;
        if (tg->stopped)
                return;

        if (r < 0) {
                /* Not stored: poll again from the same offset. */
                struct telegram_reply reply = { .r = r };

                telegram_step_failed(tg, "storing updates", &reply);
                return;
        }

        tg->offset = next;
        backoff_reset(&tg->backoff);
        telegram_poll(tg);
}

/* Hands the batch's messages to the core with the new cursor. */
static void telegram_updates_accept(struct telegram *tg, json_object *updates)
{
        size_t n = json_object_array_length(updates), n_msgs = 0;
        _cleanup_free_ struct telegram_message *tms = calloc(n ? n : 1, sizeof(*tms));
        _cleanup_free_ struct adapter_message *msgs = calloc(n ? n : 1, sizeof(*msgs));
        struct telegram_batch *batch = NULL;
        int64_t max_id = tg->offset - 1;
        char cursor[24];
        int r = 0;

        if (!tms || !msgs) {
                r = -ENOMEM;
                goto fail;
        }

        for (size_t i = 0; i < n; i++) {
                int64_t id;

                r = telegram_update_parse(tg, json_object_array_get_idx(updates, i),
                                          &tms[n_msgs], &id);
                if (r < 0)
                        goto fail;
                if (id > max_id)
                        max_id = id;
                if (r > 0) {
                        msgs[n_msgs] = tms[n_msgs].m;
                        n_msgs++;
                }
        }

        if (n == 0) {
                /* The long poll ended without updates.  One that came back
                 * at once (a server ignoring timeout) waits a little, so a
                 * misbehaving server is not polled in a tight loop. */
                if (uv_now(tg->loop) - tg->poll_started_ms < 100)
                        telegram_retry_in(tg, TELEGRAM_RETRY_INITIAL_MS);
                else
                        telegram_poll(tg);
                return;
        }
        if (max_id < tg->offset) {
                struct telegram_reply stale = { .r = -EPROTO };

                telegram_step_failed(tg, "getUpdates (only updates already confirmed)",
                                     &stale);
                return;
        }

        if (n_msgs == 0) {
                /* Only updates to skip: the next poll's offset confirms
                 * them, and there is nothing to store. */
                tg->offset = max_id + 1;
                backoff_reset(&tg->backoff);
                telegram_poll(tg);
                return;
        }

        batch = malloc(sizeof(*batch));
        if (!batch) {
                r = -ENOMEM;
                goto fail;
        }
        *batch = (struct telegram_batch){ .tg = tg, .next_offset = max_id + 1 };
        snprintf(cursor, sizeof(cursor), "%" PRId64, max_id + 1);

        r = adapter_receive(tg->adapter, msgs, n_msgs, cursor, telegram_on_batch_stored, batch);
        for (size_t i = 0; i < n_msgs; i++)
                telegram_message_clear(&tms[i]);
        if (r < 0) {
                free(batch);
                goto fail_cleared;
        }
        tg->receiving = true;
        return;

fail:
        for (size_t i = 0; tms && i < n_msgs; i++)
                telegram_message_clear(&tms[i]);
fail_cleared:
        {
                struct telegram_reply reply = { .r = r };

                telegram_step_failed(tg, "taking updates", &reply);
        }
}

static void telegram_on_updates(struct telegram *tg, void *userdata,
                                const struct telegram_reply *reply)
{
        tg->receive_call = NULL;
        if (tg->stopped)
                return;

        if (reply->r == -EMSGSIZE && tg->poll_limit > 1) {
                /* A batch too big for our limit: ask for fewer at a time. */
                tg->poll_limit /= 2;
                log_record(LOG_WARNING, &tg->log, "getUpdates: the answer is over %d bytes; "
                           "asking for %u updates at a time", TELEGRAM_UPDATES_BYTES_MAX,
                           tg->poll_limit);
                telegram_poll(tg);
                return;
        }
        if (reply->r < 0 || !reply->ok ||
            !json_object_is_type(reply->result, json_type_array)) {
                struct telegram_reply bad = *reply;

                if (bad.r == 0 && bad.ok)
                        bad.r = -EPROTO;
                telegram_step_failed(tg, "getUpdates", &bad);
                return;
        }

        if (tg->poll_limit < TELEGRAM_POLL_LIMIT)
                tg->poll_limit = tg->poll_limit * 2 < TELEGRAM_POLL_LIMIT ?
                        tg->poll_limit * 2 : TELEGRAM_POLL_LIMIT;
        telegram_updates_accept(tg, reply->result);
}

/* A long poll that has not returned by its timeout plus a margin is
 * abandoned and made again (a connection that died without a reset). */
static uint64_t telegram_poll_deadline_ms(const struct telegram *tg)
{
        uint64_t timeout_ms = tg->poll_timeout_s * 1000, margin_ms = timeout_ms / 4;

        if (margin_ms < TELEGRAM_POLL_MARGIN_MIN_MS)
                margin_ms = TELEGRAM_POLL_MARGIN_MIN_MS;
        if (margin_ms > TELEGRAM_POLL_MARGIN_MAX_MS)
                margin_ms = TELEGRAM_POLL_MARGIN_MAX_MS;
        return timeout_ms + margin_ms;
}

static void telegram_poll(struct telegram *tg)
{
        json_object *p;

        if (tg->stopped || tg->receive_call || tg->receiving)
                return;

        tg->step = STEP_POLL;
        tg->poll_started_ms = uv_now(tg->loop);
        p = json_object_new_object();
        if (p) {
                if (tg->offset > 0)
                        json_object_object_add(p, "offset", json_object_new_int64(tg->offset));
                json_object_object_add(p, "limit", json_object_new_int((int)tg->poll_limit));
                json_object_object_add(p, "timeout",
                                       json_object_new_int64((int64_t)tg->poll_timeout_s));
                json_object_object_add(p, "allowed_updates",
                                       json_tokener_parse(TELEGRAM_ALLOWED_UPDATES));
        }
        telegram_step_call(tg, "getUpdates", p, telegram_poll_deadline_ms(tg),
                           TELEGRAM_UPDATES_BYTES_MAX, telegram_on_updates);
}

/* ---- webhook ---- */

/* Compares in time that depends only on the expected secret's length. */
static bool telegram_secret_equal(const char *given, const char *expected)
{
        size_t given_len = strlen(given), expected_len = strlen(expected);
        unsigned char diff = given_len != expected_len;

        for (size_t i = 0; i < expected_len; i++)
                diff |= (unsigned char)(given[i < given_len ? i : 0] ^ expected[i]);
        return diff == 0;
}

static void telegram_webhook_answer(struct httpd_request *req, int status, const char *text)
{
        httpd_respond(req, status, "text/plain", text, strlen(text));
}

static void telegram_on_webhook_stored(void *userdata, int r)
{
        struct telegram_webhook *w = userdata;

        /* A 5xx has Telegram deliver the update again. */
        if (r < 0)
                telegram_webhook_answer(w->req, 500, "not stored, send it again\n");
        else
                telegram_webhook_answer(w->req, 200, "ok\n");
        free(w);
}

static void telegram_on_webhook(void *userdata, struct httpd_request *req)
{
        struct telegram *tg = userdata;
        const char *secret = httpd_request_header(req, TELEGRAM_SECRET_HEADER);
        struct telegram_message tm = { 0 };
        struct telegram_webhook *w;
        json_tokener *tok;
        json_object *update;
        const char *body;
        size_t len;
        int64_t id;
        int r;

        if (!secret || !telegram_secret_equal(secret, tg->webhook_secret)) {
                log_record(LOG_WARNING, &tg->log, "a webhook request with %s secret token, "
                           "refused", secret ? "a wrong" : "no");
                telegram_webhook_answer(req, 401, "wrong secret token\n");
                return;
        }
        if (tg->stopped || !tg->connected) {
                telegram_webhook_answer(req, 503, "not taking updates now\n");
                return;
        }

        body = httpd_request_body(req, &len);
        tok = json_tokener_new();
        update = tok ? json_tokener_parse_ex(tok, body, (int)len) : NULL;
        if (!update || json_tokener_get_parse_end(tok) != len ||
            !json_object_is_type(update, json_type_object)) {
                log_record(LOG_WARNING, &tg->log, "a webhook request whose body is not a JSON "
                           "update, refused");
                telegram_webhook_answer(req, 400, "not a JSON update\n");
                goto out;
        }

        r = telegram_update_parse(tg, update, &tm, &id);
        if (r <= 0) {
                telegram_webhook_answer(req, r < 0 ? 503 : 200, r < 0 ? "busy\n" : "ok\n");
                goto out;
        }

        w = malloc(sizeof(*w));
        r = w ? adapter_receive(tg->adapter, &tm.m, 1, NULL, telegram_on_webhook_stored, w) :
                -ENOMEM;
        telegram_message_clear(&tm);
        if (r < 0) {
                free(w);
                log_record(LOG_WARNING, &tg->log, "webhook update %" PRId64 " not taken: %s; "
                           "Telegram sends it again", id, strerror(-r));
                telegram_webhook_answer(req, 503, "busy\n");
                goto out;
        }
        *w = (struct telegram_webhook){ .tg = tg, .req = req };

out:
        json_object_put(update);
        if (tok)
                json_tokener_free(tok);
}

/* Takes updates on the daemon's HTTP server.  Returns 1, or 0 with the
 * adapter failed (the reason given). */
static int telegram_webhook_start(struct telegram *tg)
{
        static const char *const headers[] = { TELEGRAM_SECRET_HEADER, NULL };
        char reason[256];
        int r;

        r = adapter_http_route(tg->adapter, "POST", tg->webhook_path, headers,
                               telegram_on_webhook, tg);
        if (r < 0) {
                snprintf(reason, sizeof(reason), "cannot take the webhook on %s: %s",
                         tg->webhook_path, r == -ENODEV ? "the HTTP server is not enabled "
                         "([http] enabled = true)" : r == -EEXIST ? "another route has that "
                         "path" : strerror(-r));
                adapter_set_state(tg->adapter, ADAPTER_FAILED, reason);
                return 0;
        }

        log_record(LOG_INFO, &tg->log, "webhook on the HTTP server at %s", tg->webhook_path);
        return 1;
}

/* ---- sending ---- */

static void telegram_send_free(struct telegram_send *s)
{
        struct telegram *tg = s->tg;

        if (s->prev)
                s->prev->next = s->next;
        else
                tg->sends = s->next;
        if (s->next)
                s->next->prev = s->prev;

        free(s->chat_id);
        free(s->thread_id);
        free(s->reply_to);
        free(s->text);
        free(s->parts);
        free(s);
}

static void telegram_send_part(struct telegram_send *s);

/* The core's verdict on the whole reply; s is finished unless a retry
 * will resume it. */
static void telegram_send_report(struct telegram_send *s, enum adapter_send_result result,
                                 uint64_t retry_after_ms, const char *error)
{
        struct telegram *tg = s->tg;
        int64_t id = s->id;
        char platform_id[32];

        snprintf(platform_id, sizeof(platform_id), "%s", s->last_message_id);
        if (result != ADAPTER_SEND_RETRY)
                telegram_send_free(s);
        adapter_send_done(tg->adapter, id, result, result == ADAPTER_SEND_OK ? platform_id : NULL,
                          retry_after_ms, error);
}

static void telegram_on_sent(struct telegram *tg, void *userdata,
                             const struct telegram_reply *reply)
{
        struct telegram_send *s = userdata;
        char what[300];
        int64_t message_id;

        s->call = NULL;
        /* Closing: the reply stays pending in the outbox. */
        if (reply->r == -ECANCELED)
                return;

        if (reply->r == 0 && reply->ok) {
                message_id = json_int(reply->result, "message_id", 0);
                snprintf(s->last_message_id, sizeof(s->last_message_id), "%" PRId64, message_id);
                s->next_part++;
                if (s->next_part < s->n_parts)
                        telegram_send_part(s);
                else
                        telegram_send_report(s, ADAPTER_SEND_OK, 0, NULL);
                return;
        }

        telegram_reply_describe(reply, what, sizeof(what));
        if (telegram_reply_token_refused(reply)) {
                telegram_fail(tg, reply->status);
                telegram_send_report(s, ADAPTER_SEND_RETRY, 0, "the bot token was refused");
        } else if (reply->r == 0 && reply->status == 429) {
                telegram_send_report(s, ADAPTER_SEND_RETRY,
                                     (uint64_t)(reply->retry_after_s > 0 ?
                                                reply->retry_after_s : 1) * 1000, what);
        } else if (reply->r == 0 && reply->status >= 400 && reply->status < 500) {
                /* 400 (chat not found, text refused), 403 (blocked by the
                 * user, removed from the group): sending again cannot help. */
                telegram_send_report(s, ADAPTER_SEND_REJECTED, 0, what);
        } else {
                telegram_send_report(s, ADAPTER_SEND_RETRY, 0, what);
        }
}

/* Numbers go to the API as numbers, anything else ("@channel") as text. */
static json_object *telegram_json_id(const char *id)
{
        char *end;
        long long v;

        errno = 0;
        v = strtoll(id, &end, 10);
        if (errno == 0 && end != id && *end == '\0')
                return json_object_new_int64(v);
        return json_object_new_string(id);
}

static void telegram_send_part(struct telegram_send *s)
{
        struct telegram *tg = s->tg;
        const struct textsplit_part *part = &s->parts[s->next_part];
        uint64_t now = uv_now(tg->loop);
        json_object *p = json_object_new_object();
        int r;

        if (p) {
                json_object_object_add(p, "chat_id", telegram_json_id(s->chat_id));
                json_object_object_add(p, "text", json_object_new_string_len(
                                               s->text + part->offset, (int)part->len));
                if (s->thread_id)
                        json_object_object_add(p, "message_thread_id",
                                               telegram_json_id(s->thread_id));
                if (s->reply_to && s->next_part == 0) {
                        json_object *rp = json_object_new_object();

                        if (rp) {
                                json_object_object_add(rp, "message_id",
                                                       telegram_json_id(s->reply_to));
                                json_object_object_add(rp, "allow_sending_without_reply",
                                                       json_object_new_boolean(1));
                        }
                        json_object_object_add(p, "reply_parameters", rp);
                }
        }

        ratelimit_take(&tg->global, now, 1);
        if (s->chat_id[0] == '-')
                ratelimit_set_take(tg->groups, s->chat_id, now, 1);

        r = telegram_call(tg, "sendMessage", p, TELEGRAM_CALL_TIMEOUT_MS,
                          TELEGRAM_REPLY_BYTES_MAX, telegram_on_sent, s, &s->call);
        if (r < 0) {
                s->call = NULL;
                telegram_send_report(s, ADAPTER_SEND_RETRY, 0, strerror(-r));
        }
}

static struct telegram_send *telegram_send_find(struct telegram *tg, int64_t id)
{
        for (struct telegram_send *s = tg->sends; s; s = s->next)
                if (s->id == id)
                        return s;
        return NULL;
}

static int telegram_send_new(struct telegram *tg, const struct adapter_outgoing *out,
                             struct telegram_send **ret)
{
        struct telegram_send *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->tg = tg;
        s->id = out->id;
        s->chat_id = strdup(out->chat_id);
        s->text = strdup(out->text ? out->text : "");
        s->thread_id = out->thread_id ? strdup(out->thread_id) : NULL;
        s->reply_to = out->reply_to ? strdup(out->reply_to) : NULL;
        s->next = tg->sends;
        if (tg->sends)
                tg->sends->prev = s;
        tg->sends = s;
        if (!s->chat_id || !s->text || (out->thread_id && !s->thread_id) ||
            (out->reply_to && !s->reply_to)) {
                telegram_send_free(s);
                return -ENOMEM;
        }

        r = textsplit_split(s->text, strlen(s->text), tg->max_text_units, TEXTSPLIT_UTF16,
                            &s->parts, &s->n_parts);
        if (r < 0) {
                s->parts = NULL;
                s->n_parts = 0;
                if (r != -EILSEQ) {
                        telegram_send_free(s);
                        return r;
                }
        }

        *ret = s;
        return 0;
}

static int telegram_send(void *state, const struct adapter_outgoing *out)
{
        struct telegram *tg = state;
        struct telegram_send *s = telegram_send_find(tg, out->id);
        int r;

        if (tg->failed)
                return -EKEYREJECTED;
        if (s && s->call)
                return -EBUSY;  /* the core sends one at a time per chat */

        if (!s) {
                r = telegram_send_new(tg, out, &s);
                if (r < 0)
                        return r;
        }

        if (s->n_parts == 0) {
                telegram_send_report(s, ADAPTER_SEND_REJECTED, 0,
                                     s->parts ? "the reply is empty" :
                                     "the reply is not valid UTF-8");
                return 0;
        }

        telegram_send_part(s);
        return 0;
}

/* Group and overall limits; the core spaces sends to one chat. */
static uint64_t telegram_send_delay_ms(void *state, const char *chat_id)
{
        struct telegram *tg = state;
        uint64_t now = uv_now(tg->loop);
        uint64_t wait = ratelimit_delay_ms(&tg->global, now);

        if (chat_id[0] == '-') {
                uint64_t group = ratelimit_set_delay_ms(tg->groups, chat_id, now);

                if (group > wait)
                        wait = group;
        }
        return wait;
}

/* ---- life cycle ---- */

static int telegram_start(void *state)
{
        struct telegram *tg = state;
        const char *cursor = adapter_cursor(tg->adapter);
        int r;

        if (cursor) {
                char *end;

                errno = 0;
                tg->offset = strtoll(cursor, &end, 10);
                if (errno || *end || tg->offset < 0) {
                        log_record(LOG_WARNING, &tg->log, "the stored position \"%s\" is not "
                                   "an update id; polling from Telegram's oldest update",
                                   cursor);
                        tg->offset = 0;
                }
        }

        r = telegram_http(tg);
        if (r < 0)
                return r;

        uv_timer_init(tg->loop, &tg->retry_timer);
        tg->retry_timer.data = tg;
        tg->timer_open = true;
        tg->open_handles++;

        /* A reply left from the last run already met a refused token. */
        if (tg->failed)
                return 0;

        if (tg->mode == TELEGRAM_WEBHOOK) {
                r = telegram_webhook_start(tg);
                if (r <= 0) {
                        tg->failed = tg->stopped = true;
                        return r;
                }
        }

        tg->step = STEP_GET_ME;
        telegram_step_run(tg);
        return 0;
}

static void telegram_stop_receiving(void *state)
{
        struct telegram *tg = state;

        tg->stopped = true;
        if (tg->timer_open)
                uv_timer_stop(&tg->retry_timer);
        if (tg->receive_call) {
                struct http_call *call = tg->receive_call;

                tg->receive_call = NULL;
                http_call_cancel(call);
        }
}

static void telegram_release(struct telegram *tg)
{
        if (tg->closed && tg->open_handles == 0)
                adapter_set_state(tg->adapter, ADAPTER_STOPPED, NULL);
}

static void telegram_on_http_closed(void *userdata)
{
        struct telegram *tg = userdata;

        tg->http = NULL;
        tg->open_handles--;
        telegram_release(tg);
}

static void telegram_on_timer_closed(uv_handle_t *h)
{
        struct telegram *tg = h->data;

        tg->open_handles--;
        telegram_release(tg);
}

static void telegram_close(void *state)
{
        struct telegram *tg = state;

        if (tg->closed)
                return;
        telegram_stop_receiving(tg);
        tg->closed = true;

        /* Cancels sends in flight too: their replies stay pending. */
        if (tg->http)
                http_client_close(tg->http, telegram_on_http_closed, tg);
        if (tg->timer_open) {
                tg->timer_open = false;
                uv_close((uv_handle_t *)&tg->retry_timer, telegram_on_timer_closed);
        }
        telegram_release(tg);
}

static void telegram_destroy(void *state)
{
        struct telegram *tg = state;

        if (!tg)
                return;

        while (tg->sends)
                telegram_send_free(tg->sends);
        ratelimit_set_free(tg->groups);
        if (tg->api_base)
                explicit_bzero(tg->api_base, strlen(tg->api_base));
        free(tg->api_base);
        if (tg->webhook_secret)
                explicit_bzero(tg->webhook_secret, strlen(tg->webhook_secret));
        free(tg->webhook_secret);
        free(tg->webhook_url);
        free(tg->webhook_path);
        free(tg->bot_username);
        free(tg);
}

const struct adapter_ops telegram_adapter_ops = {
        .name = "telegram",
        .config_keys = telegram_config_keys,
        .chat_send_interval_ms = 1000,
        .send_delay_ms = telegram_send_delay_ms,
        .create = telegram_create,
        .start = telegram_start,
        .stop_receiving = telegram_stop_receiving,
        .close = telegram_close,
        .send = telegram_send,
        .destroy = telegram_destroy,
};
