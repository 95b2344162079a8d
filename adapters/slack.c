/* slack.c: the Slack adapter, over Socket Mode.
 *
 * auth.test (bot token) names the bot's own user and bot ids, so its own
 * messages are never taken as questions.  apps.connections.open (app-level
 * token) gives a single-use WebSocket URL for every connection; libwebsockets
 * runs it on the daemon's libuv loop.  A connection counts once Slack says
 * "hello".  Each events_api envelope is acknowledged by its envelope_id only
 * after adapter_receive()'s done() says the event is in the inbox; ignored
 * events are acknowledged at once.  "disconnect" with refresh_requested or
 * warning opens the next connection and closes this one once the next says
 * hello; too_many_websockets closes this one before opening another.  No
 * frame or pong for ping_timeout_ms makes a connection dead: it is dropped
 * and another opened.  Replies go through chat.postMessage (bot token).
 *
 * Tokens live only in memory and in Authorization headers: never in a URL,
 * a log line or an error. */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "backoff.h"
#include "http.h"
#include "log.h"
#include "macro.h"
#include "slack-sign.h"
#include "slack-text.h"

#define SLACK_TOKEN_MAX 512                     /* bytes of a token file */
#define SLACK_FRAME_MAX (1024 * 1024)           /* one WebSocket message */
#define SLACK_API_RESPONSE_MAX (1024 * 1024)
#define SLACK_API_TIMEOUT_MS (20 * 1000)
#define SLACK_RECONNECT_INITIAL_MS 1000
#define SLACK_RECONNECT_MAX_MS (60 * 1000)
#define SLACK_CONNECTIONS_MAX 4                 /* open at once, while replacing */
#define SLACK_PROTOCOL "parley-slack"

static const struct config_key slack_config_keys[] = {
        { "slack", "enabled", CONFIG_BOOL, "false", false, 0, 0, NULL,
          "connect to Slack over Socket Mode" },
        { "slack", "mode", CONFIG_ENUM, "socket", false, 0, 0, "socket|events",
          "how events arrive: Socket Mode, or the Events API on the [http] server" },
        { "slack", "app_token_file", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "file holding the app-level token (xapp-...); default: the systemd "
          "credential slack-app-token" },
        { "slack", "bot_token_file", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "file holding the bot token (xoxb-...); default: the systemd credential "
          "slack-bot-token" },
        { "slack", "signing_secret_file", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "file holding the app's signing secret (events mode); default: the systemd "
          "credential slack-signing-secret" },
        { "slack", "events_path", CONFIG_STRING, "/slack/events", false, 0, 0, NULL,
          "the path the [http] server takes Events API requests on (events mode)" },
        { "slack", "api_url", CONFIG_STRING, "https://slack.com/api", false, 0, 0, NULL,
          "the Web API's base URL" },
        { "slack", "allow_bots", CONFIG_BOOL, "false", false, 0, 0, NULL,
          "answer messages of other bots too (never the bot's own)" },
        { "slack", "ping_timeout_ms", CONFIG_INT, "30000", false, 500, 600000, NULL,
          "a connection with no frame or pong for this long is dead and replaced" },
        { NULL },
};

struct slack;

/* An envelope id waiting to be written back as an acknowledgement. */
struct slack_ack {
        struct slack_ack *next;
        char envelope_id[];
};

struct slack_conn {
        struct slack *slack;
        struct lws *wsi;
        uint64_t id;
        bool hello;
        bool replacing;         /* asked to make way; closes when the next says hello */
        bool close_wanted;      /* no longer used; closes at the next write */
        bool reopen;            /* open another once this one is closed */
        bool ping_wanted;
        bool oversize;          /* discarding the rest of a message over the limit */
        uint64_t last_rx_ms;
        uint64_t last_ping_ms;
        char *rx;
        size_t rx_len;
        struct slack_ack *acks_head, *acks_tail;
        struct slack_conn *next;
};

/* An event on its way to the inbox: the envelope to acknowledge after. */
struct slack_receipt {
        struct slack *slack;
        uint64_t conn_id;
        char envelope_id[];
};

/* A reply being posted, part by part. */
struct slack_send {
        struct slack *slack;
        int64_t id;
        char *channel;
        char *thread_ts;
        char **parts;
        size_t n_parts;
        size_t done_parts;
        struct http_call *call;
        struct slack_send *next;
};

/* Parts of a reply already posted, kept so a retry does not post them twice. */
struct slack_progress {
        int64_t id;
        size_t done_parts;
        struct slack_progress *next;
};

struct slack {
        struct adapter *adapter;
        uv_loop_t *loop;
        struct log_fields log;

        bool events_mode;
        char *app_token;                /* socket mode */
        char *signing_secret;           /* events mode */
        char *events_path;
        char *bot_token;
        char *api_url;
        bool allow_bots;
        uint64_t ping_timeout_ms;

        char *bot_user_id;
        char *bot_id;

        struct http_client *http;
        struct http_call *auth_call;
        struct http_call *open_call;
        void *foreign_loops[1];
        struct lws_context *lws;
        struct slack_conn *conns;
        uint64_t next_conn_id;
        struct backoff backoff;
        uv_timer_t reconnect_timer;
        uv_timer_t ping_timer;

        struct slack_send *sends;
        struct slack_progress *progress;

        bool stopping;          /* takes no new events */
        bool closed;
        bool failed;
        bool reported_stopped;
        unsigned open_handles;
};

static void slack_connect(struct slack *s);
static void slack_release(struct slack *s);

/* ---- configuration ---- */

/* Reads a token from path, or from the systemd credential when path is NULL.
 * Logs what is wrong (never the token) and returns -EINVAL.  With neither
 * and credentials_unreadable (adapter_credentials_unreadable()): *ret
 * NULL, a notice, 0. */
static int slack_token_read(const struct config *config, const char *key,
                            const char *credential, const char *prefix,
                            bool credentials_unreadable, char **ret)
{
        const char *path = config_get_string(config, "slack", key);
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        _cleanup_free_ char *cred_path = NULL;
        char buf[SLACK_TOKEN_MAX + 2];
        size_t n;
        FILE *f;

        if (!path && dir) {
                if (asprintf(&cred_path, "%s/%s", dir, credential) < 0)
                        return -ENOMEM;
                path = cred_path;
        }
        if (!path && credentials_unreadable) {
                log_notice("[slack] %s is not set: the token is the systemd credential %s, "
                           "read by the service at its start, not by this check", key,
                           credential);
                *ret = NULL;
                return 0;
        }
        if (!path) {
                log_error("[slack] %s is not set and there is no systemd credential %s",
                          key, credential);
                return -EINVAL;
        }

        f = fopen(path, "re");
        if (!f) {
                log_error("[slack] %s: cannot read %s: %s", key, path, strerror(errno));
                return -EINVAL;
        }
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                buf[--n] = '\0';

        if (n > SLACK_TOKEN_MAX) {
                log_error("[slack] %s: %s is longer than %d bytes, not a token", key, path,
                          SLACK_TOKEN_MAX);
                return -EINVAL;
        }
        if (n == 0 || strncmp(buf, prefix, strlen(prefix)) != 0 || strpbrk(buf, " \t\r\n")) {
                log_error("[slack] %s: %s does not hold one %s%s%s", key, path,
                          prefix[0] ? "token starting with " : "secret", prefix,
                          prefix[0] ? "" : " (one word)");
                explicit_bzero(buf, sizeof(buf));
                return -EINVAL;
        }

        *ret = strdup(buf);
        explicit_bzero(buf, sizeof(buf));
        return *ret ? 0 : -ENOMEM;
}

static void slack_free_secret(char *secret)
{
        if (secret)
                explicit_bzero(secret, strlen(secret));
        free(secret);
}

static void slack_destroy(void *state)
{
        struct slack *s = state;

        if (!s)
                return;

        slack_free_secret(s->app_token);
        slack_free_secret(s->signing_secret);
        free(s->events_path);
        slack_free_secret(s->bot_token);
        free(s->api_url);
        free(s->bot_user_id);
        free(s->bot_id);
        while (s->progress) {
                struct slack_progress *p = s->progress;

                s->progress = p->next;
                free(p);
        }
        http_client_free(s->http);
        free(s);
}

static int slack_create(struct adapter *a, const struct config *config, void **ret)
{
        struct slack *s = calloc(1, sizeof(*s));
        const char *api_url = config_get_string(config, "slack", "api_url");
        bool credentials_unreadable = adapter_credentials_unreadable(a);
        int r;

        if (!s)
                return -ENOMEM;

        s->adapter = a;
        s->loop = adapter_loop(a);
        s->log.adapter = "slack";
        s->allow_bots = config_get_bool(config, "slack", "allow_bots");
        s->ping_timeout_ms = (uint64_t)config_get_int(config, "slack", "ping_timeout_ms");
        backoff_init(&s->backoff, SLACK_RECONNECT_INITIAL_MS, SLACK_RECONNECT_MAX_MS);

        if (strncmp(api_url, "https://", 8) != 0 && strncmp(api_url, "http://", 7) != 0) {
                log_error("%s: [slack] api_url must be an http:// or https:// URL",
                          config_where(config, "slack", "api_url"));
                r = -EINVAL;
                goto fail;
        }
        s->api_url = strdup(api_url);
        if (!s->api_url) {
                r = -ENOMEM;
                goto fail;
        }
        /* "https://slack.com/api/" and ".../api" name the same place. */
        if (s->api_url[strlen(s->api_url) - 1] == '/')
                s->api_url[strlen(s->api_url) - 1] = '\0';

        /* Replies left from the last run may be sent before start(). */
        r = http_client_new(s->loop, &s->http);
        if (r < 0)
                goto fail;

        s->events_mode = strcmp(config_get_string(config, "slack", "mode"), "events") == 0;
        if (s->events_mode) {
                const char *path = config_get_string(config, "slack", "events_path");

                if (path[0] != '/') {
                        log_error("%s: [slack] events_path must start with '/'",
                                  config_where(config, "slack", "events_path"));
                        r = -EINVAL;
                        goto fail;
                }
                s->events_path = strdup(path);
                if (!s->events_path) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (!config_get_bool(config, "http", "enabled")) {
                        log_error("%s: [slack] events mode needs the daemon's HTTP server: set "
                                  "enabled = true in [http]",
                                  config_where(config, "slack", "mode"));
                        r = -EINVAL;
                        goto fail;
                }
                r = slack_token_read(config, "signing_secret_file", "slack-signing-secret", "",
                                     credentials_unreadable, &s->signing_secret);
        } else
                r = slack_token_read(config, "app_token_file", "slack-app-token", "xapp-",
                                     credentials_unreadable, &s->app_token);
        if (r < 0)
                goto fail;
        r = slack_token_read(config, "bot_token_file", "slack-bot-token", "xoxb-",
                             credentials_unreadable, &s->bot_token);
        if (r < 0)
                goto fail;

        *ret = s;
        return 0;

fail:
        slack_destroy(s);
        return r;
}

/* ---- Web API ---- */

struct slack_api_result {
        int r;                          /* < 0: no answer (network) */
        long status;
        struct json_object *body;       /* owned; NULL if not JSON */
        bool ok;
        const char *error;              /* Slack's error code, or a description */
        uint64_t retry_after_ms;        /* from Retry-After; 0 if none */
};

static void slack_api_result_parse(int r, const struct http_response *resp,
                                   struct slack_api_result *ret)
{
        struct json_object *v;
        const char *retry_after;

        *ret = (struct slack_api_result){ .r = r, .error = "no answer" };
        if (r < 0) {
                ret->error = strerror(-r);
                return;
        }

        ret->status = resp->status;
        retry_after = http_response_header(resp, "Retry-After");
        if (retry_after) {
                char *end;
                unsigned long secs = strtoul(retry_after, &end, 10);

                if (end != retry_after && *end == '\0' && secs <= 3600)
                        ret->retry_after_ms = secs * 1000;
        }
        if (resp->status == 429) {
                ret->error = "ratelimited";
                return;
        }
        if (resp->status != 200) {
                ret->error = "HTTP error";
                return;
        }

        ret->body = json_tokener_parse(resp->body);
        if (!ret->body || !json_object_is_type(ret->body, json_type_object)) {
                ret->error = "an answer that is not a JSON object";
                return;
        }
        if (json_object_object_get_ex(ret->body, "ok", &v) && json_object_get_boolean(v)) {
                ret->ok = true;
                ret->error = NULL;
                return;
        }
        ret->error = "ok:false";
        if (json_object_object_get_ex(ret->body, "error", &v) &&
            json_object_is_type(v, json_type_string))
                ret->error = json_object_get_string(v);
}

/* Errors that no retry mends: the token is wrong, revoked or of the wrong
 * kind. */
static bool slack_error_is_fatal(const char *error)
{
        static const char *const fatal[] = {
                "invalid_auth", "not_allowed_token_type", "account_inactive",
                "token_revoked", "token_expired", "not_authed", "missing_scope",
        };

        for (size_t i = 0; error && i < ELEMENTSOF(fatal); i++)
                if (strcmp(error, fatal[i]) == 0)
                        return true;
        return false;
}

/* Posts a JSON body (NULL: {}) to api_url/method with token. */
static int slack_api_call(struct slack *s, const char *method, const char *token,
                          const char *json, http_done_fn done, void *userdata,
                          struct http_call **ret_call)
{
        _cleanup_free_ char *url = NULL;
        _cleanup_free_ char *auth = NULL;
        int r;

        if (asprintf(&url, "%s/%s", s->api_url, method) < 0)
                return -ENOMEM;
        if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
                return -ENOMEM;

        const char *headers[] = { auth, "Content-Type: application/json; charset=utf-8", NULL };
        struct http_request req = {
                .method = "POST",
                .url = url,
                .headers = headers,
                .body = json ? json : "{}",
                .body_len = strlen(json ? json : "{}"),
                .timeout_ms = SLACK_API_TIMEOUT_MS,
                .max_response_bytes = SLACK_API_RESPONSE_MAX,
        };

        r = http_request_start(s->http, &req, done, userdata, ret_call);
        explicit_bzero(auth, strlen(auth));
        return r;
}

static void slack_fail(struct slack *s, const char *what, const char *error)
{
        char reason[256];

        if (s->failed)
                return;
        s->failed = true;
        snprintf(reason, sizeof(reason), "%s: %s (check the tokens and the app's scopes)",
                 what, error);
        uv_timer_stop(&s->reconnect_timer);
        uv_timer_stop(&s->ping_timer);
        for (struct slack_conn *c = s->conns; c; c = c->next) {
                c->close_wanted = true;
                lws_callback_on_writable(c->wsi);
        }
        adapter_set_state(s->adapter, ADAPTER_FAILED, reason);
}

/* ---- connections ---- */

static bool slack_has_live_conn(const struct slack *s)
{
        for (const struct slack_conn *c = s->conns; c; c = c->next)
                if (!c->close_wanted && !c->replacing)
                        return true;
        return false;
}

static void slack_authenticate(struct slack *s);

/* The next try: auth.test until it has named the bot, then a connection. */
static void slack_on_reconnect_timer(uv_timer_t *t)
{
        struct slack *s = t->data;

        if (s->bot_user_id)
                slack_connect(s);
        else
                slack_authenticate(s);
}

/* Tries again after the backoff's wait, unless a try is already due. */
static void slack_schedule_reconnect(struct slack *s, const char *why)
{
        uint64_t wait_ms;

        if (s->stopping || s->closed || s->failed ||
            uv_is_active((uv_handle_t *)&s->reconnect_timer))
                return;

        wait_ms = backoff_next_ms(&s->backoff);
        log_record(LOG_WARNING, &s->log, "%s; connecting again in %.1f s", why,
                   wait_ms / 1000.0);
        uv_timer_start(&s->reconnect_timer, slack_on_reconnect_timer, wait_ms, 0);
}

static void slack_conn_want_write(struct slack_conn *c)
{
        if (c->wsi)
                lws_callback_on_writable(c->wsi);
}

static void slack_conn_close(struct slack_conn *c)
{
        c->close_wanted = true;
        slack_conn_want_write(c);
}

static struct slack_conn *slack_conn_find(struct slack *s, uint64_t id)
{
        for (struct slack_conn *c = s->conns; c; c = c->next)
                if (c->id == id)
                        return c;
        return NULL;
}

static int slack_conn_ack(struct slack_conn *c, const char *envelope_id)
{
        struct slack_ack *a = malloc(sizeof(*a) + strlen(envelope_id) + 1);

        if (!a)
                return -ENOMEM;
        a->next = NULL;
        strcpy(a->envelope_id, envelope_id);
        if (c->acks_tail)
                c->acks_tail->next = a;
        else
                c->acks_head = a;
        c->acks_tail = a;
        slack_conn_want_write(c);
        return 0;
}

static void slack_conn_free(struct slack_conn *c)
{
        while (c->acks_head) {
                struct slack_ack *a = c->acks_head;

                c->acks_head = a->next;
                free(a);
        }
        free(c->rx);
        free(c);
}

/* lws is done with the connection: forget it, and see whether another is
 * needed. */
static void slack_conn_gone(struct slack_conn *c, const char *why)
{
        struct slack *s = c->slack;
        bool reopen = c->reopen;

        for (struct slack_conn **p = &s->conns; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        if (c->acks_head)
                log_record(LOG_INFO, &s->log, "connection %" PRIu64 " closed with "
                           "acknowledgements unsent; Slack delivers those events again",
                           c->id);
        slack_conn_free(c);

        if (s->closed) {
                slack_release(s);
                return;
        }
        if (reopen || (!slack_has_live_conn(s) && !s->open_call))
                slack_schedule_reconnect(s, why);
}

static int slack_conn_start(struct slack *s, const char *url)
{
        _cleanup_free_ char *copy = strdup(url);
        _cleanup_free_ char *path = NULL;
        const char *prot, *address, *rest;
        struct lws_client_connect_info ci = { 0 };
        struct slack_conn *c;
        int port;

        if (!copy)
                return -ENOMEM;
        if (lws_parse_uri(copy, &prot, &address, &port, &rest) != 0 ||
            (strcmp(prot, "wss") != 0 && strcmp(prot, "ws") != 0))
                return -EINVAL;
        if (asprintf(&path, "/%s", rest) < 0)
                return -ENOMEM;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->slack = s;
        c->id = ++s->next_conn_id;
        c->last_rx_ms = uv_now(s->loop);
        c->last_ping_ms = c->last_rx_ms;
        c->next = s->conns;
        s->conns = c;

        ci.context = s->lws;
        ci.address = address;
        ci.port = port;
        ci.path = path;
        ci.host = address;
        ci.origin = address;
        ci.ssl_connection = strcmp(prot, "wss") == 0 ? LCCSCF_USE_SSL : 0;
        ci.local_protocol_name = SLACK_PROTOCOL;
        ci.opaque_user_data = c;
        ci.pwsi = &c->wsi;

        /* A failure here has already run the connection-error callback,
         * which freed c. */
        if (!lws_client_connect_via_info(&ci))
                return -ECONNREFUSED;
        return 0;
}

static void slack_on_connections_open(void *userdata, int r, const struct http_response *resp)
{
        struct slack *s = userdata;
        struct slack_api_result res;
        struct json_object *url;
        char why[160];

        s->open_call = NULL;
        slack_api_result_parse(r, resp, &res);
        if (r == -ECANCELED || s->closed || s->stopping)
                goto out;

        if (!res.ok) {
                if (slack_error_is_fatal(res.error)) {
                        slack_fail(s, "apps.connections.open", res.error);
                        goto out;
                }
                snprintf(why, sizeof(why), "apps.connections.open failed: %s", res.error);
                slack_schedule_reconnect(s, why);
                goto out;
        }

        if (!json_object_object_get_ex(res.body, "url", &url) ||
            !json_object_is_type(url, json_type_string)) {
                slack_schedule_reconnect(s, "apps.connections.open gave no URL");
                goto out;
        }

        r = slack_conn_start(s, json_object_get_string(url));
        if (r == -EINVAL)
                slack_schedule_reconnect(s, "apps.connections.open gave a URL that is not "
                                         "ws:// or wss://");
        else if (r < 0 && !s->conns)
                slack_schedule_reconnect(s, "could not open the WebSocket");
out:
        json_object_put(res.body);
}

/* Asks for a new single-use URL and connects to it. */
static void slack_connect(struct slack *s)
{
        size_t n = 0;
        int r;

        if (s->open_call || s->stopping || s->closed || s->failed)
                return;
        for (struct slack_conn *c = s->conns; c; c = c->next)
                n++;
        if (n >= SLACK_CONNECTIONS_MAX) {
                slack_schedule_reconnect(s, "too many connections still closing");
                return;
        }
        uv_timer_stop(&s->reconnect_timer);

        r = slack_api_call(s, "apps.connections.open", s->app_token, NULL,
                           slack_on_connections_open, s, &s->open_call);
        if (r < 0)
                slack_schedule_reconnect(s, "could not call apps.connections.open");
}

static void slack_on_auth_test(void *userdata, int r, const struct http_response *resp)
{
        struct slack *s = userdata;
        struct slack_api_result res;
        struct json_object *user_id, *bot_id;
        char why[160];

        s->auth_call = NULL;
        slack_api_result_parse(r, resp, &res);
        if (r == -ECANCELED || s->closed || s->stopping)
                goto out;

        if (!res.ok) {
                if (slack_error_is_fatal(res.error)) {
                        slack_fail(s, "auth.test", res.error);
                        goto out;
                }
                snprintf(why, sizeof(why), "auth.test failed: %s", res.error);
                slack_schedule_reconnect(s, why);
                goto out;
        }

        if (!json_object_object_get_ex(res.body, "user_id", &user_id) ||
            !json_object_is_type(user_id, json_type_string)) {
                slack_schedule_reconnect(s, "auth.test named no user_id");
                goto out;
        }
        free(s->bot_user_id);
        s->bot_user_id = strdup(json_object_get_string(user_id));
        if (json_object_object_get_ex(res.body, "bot_id", &bot_id) &&
            json_object_is_type(bot_id, json_type_string)) {
                free(s->bot_id);
                s->bot_id = strdup(json_object_get_string(bot_id));
        }
        if (!s->bot_user_id) {
                slack_schedule_reconnect(s, "out of memory");
                goto out;
        }
        log_record(LOG_INFO, &s->log, "signed in as user %s, bot %s", s->bot_user_id,
                   s->bot_id ? s->bot_id : "(none)");
        if (s->events_mode) {
                backoff_reset(&s->backoff);
                adapter_set_state(s->adapter, ADAPTER_CONNECTED, NULL);
        } else
                slack_connect(s);
out:
        json_object_put(res.body);
}

static void slack_authenticate(struct slack *s)
{
        int r;

        r = slack_api_call(s, "auth.test", s->bot_token, NULL, slack_on_auth_test, s,
                           &s->auth_call);
        if (r < 0)
                slack_schedule_reconnect(s, "could not call auth.test");
}

/* ---- events ---- */

static const char *json_string_of(struct json_object *o, const char *key)
{
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static void slack_on_received(void *userdata, int r)
{
        struct slack_receipt *receipt = userdata;
        struct slack *s = receipt->slack;
        struct slack_conn *c;

        if (r < 0) {
                log_record(LOG_ERR, &s->log, "envelope %s not acknowledged: the event was not "
                           "stored; Slack delivers it again", receipt->envelope_id);
                free(receipt);
                return;
        }

        c = slack_conn_find(s, receipt->conn_id);
        if (!c || slack_conn_ack(c, receipt->envelope_id) < 0)
                log_record(LOG_INFO, &s->log, "envelope %s stored, but its connection is gone; "
                           "Slack delivers it again and it is answered once",
                           receipt->envelope_id);
        free(receipt);
}

/* Whether a Slack event is a message for the bot: 1 and *m filled (text in
 * *ret_text, to free), 0 with *why when it is not, -ENOMEM. */
static int slack_event_message(struct slack *s, struct json_object *event, const char *event_id,
                               struct adapter_message *m, char **ret_text, const char **why)
{
        const char *type = json_string_of(event, "type");
        const char *subtype = json_string_of(event, "subtype");
        const char *channel = json_string_of(event, "channel");
        const char *user = json_string_of(event, "user");
        const char *bot_id = json_string_of(event, "bot_id");
        const char *ts = json_string_of(event, "ts");
        const char *thread_ts = json_string_of(event, "thread_ts");
        const char *text = json_string_of(event, "text");
        bool mention = type && strcmp(type, "app_mention") == 0;
        const char *channel_type = json_string_of(event, "channel_type");
        bool direct = channel_type && strcmp(channel_type, "im") == 0;
        bool is_bot = bot_id || (subtype && strcmp(subtype, "bot_message") == 0);
        char *clean;

        if (!type || (!mention && strcmp(type, "message") != 0)) {
                *why = "not a message event";
                return 0;
        }
        if (subtype && strcmp(subtype, "thread_broadcast") != 0 &&
            strcmp(subtype, "file_share") != 0 &&
            !(strcmp(subtype, "bot_message") == 0 && s->allow_bots)) {
                *why = "a message subtype that is not a new message";
                return 0;
        }
        if ((user && s->bot_user_id && strcmp(user, s->bot_user_id) == 0) ||
            (bot_id && s->bot_id && strcmp(bot_id, s->bot_id) == 0)) {
                *why = "the bot's own message";
                return 0;
        }
        if (is_bot && !s->allow_bots) {
                *why = "another bot's message";
                return 0;
        }
        if (!channel || !ts || !text || (!user && !bot_id)) {
                *why = "a message without channel, ts, text or sender";
                return 0;
        }

        /* A mention in a channel comes both as app_mention and as message;
         * the app_mention is the one answered. */
        if (!mention && !direct && s->bot_user_id) {
                _cleanup_free_ char *needle = NULL;

                if (asprintf(&needle, "<@%s", s->bot_user_id) < 0)
                        return -ENOMEM;
                if (strstr(text, needle)) {
                        *why = "the message form of a mention, answered as app_mention";
                        return 0;
                }
        }

        clean = slack_text_incoming(text, s->bot_user_id);
        if (!clean)
                return -ENOMEM;
        if (!clean[0]) {
                free(clean);
                *why = "no text besides the mention";
                return 0;
        }

        /* Replies go in the message's thread; a mention in a channel starts
         * one, so a conversation does not spill into the channel. */
        *m = (struct adapter_message){
                .event_id = event_id,
                .chat_id = channel,
                .user_id = user ? user : bot_id,
                .thread_id = thread_ts ? thread_ts : (mention && !direct) ? ts : NULL,
                .message_id = ts,
                .text = clean,
                .direct = direct,
                .addressed = mention || direct,
                .sent_at_ms = (int64_t)(strtod(ts, NULL) * 1000.0),
        };
        *ret_text = clean;
        return 1;
}

static void slack_on_events_api(struct slack_conn *c, struct json_object *root,
                                const char *envelope_id)
{
        struct slack *s = c->slack;
        struct json_object *payload = NULL, *event = NULL;
        const char *event_id;
        _cleanup_free_ char *text = NULL;
        struct adapter_message m;
        struct slack_receipt *receipt;
        const char *why = NULL;
        int r;

        json_object_object_get_ex(root, "payload", &payload);
        if (payload)
                json_object_object_get_ex(payload, "event", &event);
        event_id = json_string_of(payload, "event_id");
        if (!event || !event_id) {
                log_record(LOG_WARNING, &s->log, "envelope %s has no event or event_id; "
                           "acknowledging and ignoring it", envelope_id);
                slack_conn_ack(c, envelope_id);
                return;
        }

        r = slack_event_message(s, event, event_id, &m, &text, &why);
        if (r == 0) {
                log_record(LOG_DEBUG, &s->log, "event %s ignored: %s", event_id, why);
                slack_conn_ack(c, envelope_id);
                return;
        }
        receipt = r > 0 ? malloc(sizeof(*receipt) + strlen(envelope_id) + 1) : NULL;
        if (!receipt) {
                log_record(LOG_ERR, &s->log, "out of memory; envelope %s is delivered again",
                           envelope_id);
                return;
        }
        receipt->slack = s;
        receipt->conn_id = c->id;
        strcpy(receipt->envelope_id, envelope_id);

        r = adapter_receive(s->adapter, &m, 1, NULL, slack_on_received, receipt);
        if (r < 0) {
                log_record(LOG_ERR, &s->log, "event %s not taken: %s; Slack delivers it again",
                           event_id, strerror(-r));
                free(receipt);
        }
}

static void slack_on_hello(struct slack_conn *c)
{
        struct slack *s = c->slack;

        c->hello = true;
        backoff_reset(&s->backoff);
        log_record(LOG_INFO, &s->log, "connection %" PRIu64 " open", c->id);
        adapter_set_state(s->adapter, ADAPTER_CONNECTED, NULL);

        /* The connections that asked to be replaced may go now. */
        for (struct slack_conn *o = s->conns; o; o = o->next)
                if (o != c && o->replacing)
                        slack_conn_close(o);
}

static void slack_on_disconnect(struct slack_conn *c, struct json_object *root)
{
        struct slack *s = c->slack;
        const char *reason = json_string_of(root, "reason");

        if (!reason)
                reason = "(no reason)";
        log_record(LOG_INFO, &s->log, "connection %" PRIu64 ": disconnect, %s", c->id, reason);

        if (strcmp(reason, "refresh_requested") == 0 || strcmp(reason, "warning") == 0) {
                /* Open the next one, then close this one. */
                c->replacing = true;
                slack_connect(s);
                return;
        }

        /* too_many_websockets, link_disabled and the rest: close this one
         * first, then open another (after the backoff's wait). */
        c->reopen = true;
        slack_conn_close(c);
}

static void slack_on_frame(struct slack_conn *c, const char *data, size_t len)
{
        struct slack *s = c->slack;
        struct json_object *root;
        enum json_tokener_error jerr;
        const char *type, *envelope_id;

        root = json_tokener_parse_verbose(data, &jerr);
        if (!root || !json_object_is_type(root, json_type_object) || strlen(data) != len) {
                log_record(LOG_WARNING, &s->log, "connection %" PRIu64 ": a frame of %zu bytes "
                           "that is not a JSON object, ignoring it", c->id, len);
                json_object_put(root);
                return;
        }

        type = json_string_of(root, "type");
        envelope_id = json_string_of(root, "envelope_id");
        if (!type)
                type = "";

        if (strcmp(type, "hello") == 0)
                slack_on_hello(c);
        else if (strcmp(type, "disconnect") == 0)
                slack_on_disconnect(c, root);
        else if (!envelope_id)
                log_record(LOG_DEBUG, &s->log, "a '%s' frame without envelope_id, ignoring",
                           type);
        else if (s->stopping || s->failed)
                log_record(LOG_DEBUG, &s->log, "stopping: envelope %s left for Slack to "
                           "deliver again", envelope_id);
        else if (strcmp(type, "events_api") == 0)
                slack_on_events_api(c, root, envelope_id);
        else {
                /* Slash commands and interactions are not parley's: say
                 * they arrived so Slack does not send them again. */
                log_record(LOG_DEBUG, &s->log, "a '%s' envelope, acknowledged and ignored",
                           type);
                slack_conn_ack(c, envelope_id);
        }
        json_object_put(root);
}

/* A piece of a WebSocket message: gathered until its last fragment, up to
 * SLACK_FRAME_MAX; a longer message is skipped whole. */
static void slack_conn_receive(struct slack_conn *c, struct lws *wsi, const void *in, size_t len)
{
        struct slack *s = c->slack;
        bool last = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;

        c->last_rx_ms = uv_now(s->loop);

        if (!c->oversize && c->rx_len + len > SLACK_FRAME_MAX) {
                log_record(LOG_WARNING, &s->log, "connection %" PRIu64 ": a message longer "
                           "than %d bytes, ignoring it", c->id, SLACK_FRAME_MAX);
                c->oversize = true;
        }
        if (!c->oversize) {
                char *grown = realloc(c->rx, c->rx_len + len + 1);

                if (!grown) {
                        log_record(LOG_ERR, &s->log, "out of memory; a message is ignored");
                        c->oversize = true;
                } else {
                        c->rx = grown;
                        memcpy(c->rx + c->rx_len, in, len);
                        c->rx_len += len;
                        c->rx[c->rx_len] = '\0';
                }
        }
        if (!last)
                return;

        if (!c->oversize && lws_frame_is_binary(wsi))
                log_record(LOG_WARNING, &s->log, "connection %" PRIu64 ": a binary message, "
                           "ignoring it", c->id);
        else if (!c->oversize && !c->close_wanted)
                slack_on_frame(c, c->rx ? c->rx : "", c->rx_len);
        c->oversize = false;
        c->rx_len = 0;
}

static int slack_conn_writeable(struct slack_conn *c, struct lws *wsi)
{
        unsigned char buf[LWS_PRE + 256];
        struct slack_ack *a = c->acks_head;
        int n;

        if (a) {
                n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
                             "{\"envelope_id\":\"%s\"}", a->envelope_id);
                if (n < 0 || (size_t)n >= sizeof(buf) - LWS_PRE ||
                    strpbrk(a->envelope_id, "\"\\")) {
                        log_record(LOG_WARNING, &c->slack->log, "an envelope id that cannot be "
                                   "acknowledged, dropping it");
                        n = 0;
                }
                if (n > 0 && lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
                        return -1;
                c->acks_head = a->next;
                if (!c->acks_head)
                        c->acks_tail = NULL;
                free(a);
                if (c->acks_head || c->ping_wanted || c->close_wanted)
                        lws_callback_on_writable(wsi);
                return 0;
        }

        /* Acknowledgements first: a connection made way for the next still
         * owes the envelopes it received. */
        if (c->close_wanted) {
                lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
                return -1;
        }

        if (c->ping_wanted) {
                c->ping_wanted = false;
                if (lws_write(wsi, buf + LWS_PRE, 0, LWS_WRITE_PING) < 0)
                        return -1;
        }
        return 0;
}

static int slack_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                              void *in, size_t len)
{
        struct slack_conn *c = lws_get_opaque_user_data(wsi);
        char why[160];

        if (!c)
                return lws_callback_http_dummy(wsi, reason, user, in, len);

        switch (reason) {
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
                snprintf(why, sizeof(why), "connection %" PRIu64 " failed: %s", c->id,
                         in ? (const char *)in : "unknown error");
                lws_set_opaque_user_data(wsi, NULL);
                c->wsi = NULL;
                c->reopen = true;
                slack_conn_gone(c, why);
                return 0;
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
                c->last_rx_ms = uv_now(c->slack->loop);
                return 0;
        case LWS_CALLBACK_CLIENT_RECEIVE:
                slack_conn_receive(c, wsi, in, len);
                return 0;
        case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
                c->last_rx_ms = uv_now(c->slack->loop);
                return 0;
        case LWS_CALLBACK_CLIENT_WRITEABLE:
                return slack_conn_writeable(c, wsi);
        case LWS_CALLBACK_CLIENT_CLOSED:
                snprintf(why, sizeof(why), "connection %" PRIu64 " closed", c->id);
                lws_set_opaque_user_data(wsi, NULL);
                c->wsi = NULL;
                slack_conn_gone(c, why);
                return 0;
        default:
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }
}

static const struct lws_protocols slack_protocols[] = {
        { SLACK_PROTOCOL, slack_lws_callback, 0, 65536, 0, NULL, 0 },
        { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* Pings each connection every third of ping_timeout_ms; one silent for
 * the whole of it is dead. */
static void slack_on_ping_timer(uv_timer_t *t)
{
        struct slack *s = t->data;
        uint64_t now = uv_now(s->loop);
        bool dead = false;

        for (struct slack_conn *c = s->conns; c; c = c->next) {
                if (c->close_wanted)
                        continue;
                if (now - c->last_rx_ms >= s->ping_timeout_ms) {
                        log_record(LOG_WARNING, &s->log, "connection %" PRIu64 ": no frame or "
                                   "pong for %" PRIu64 " ms, it is dead", c->id,
                                   now - c->last_rx_ms);
                        c->close_wanted = true;
                        if (c->wsi)
                                lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
                                                LWS_TO_KILL_ASYNC);
                        dead = true;
                        continue;
                }
                if (c->hello && now - c->last_ping_ms >= s->ping_timeout_ms / 3) {
                        c->last_ping_ms = now;
                        c->ping_wanted = true;
                        slack_conn_want_write(c);
                }
        }
        if (dead && !slack_has_live_conn(s))
                slack_schedule_reconnect(s, "a connection died");
}

static void slack_lws_log(int level, const char *line)
{
        /* lws's own lines may hold a URL with its one-use ticket: debug
         * level only. */
        log_debug("libwebsockets (%d): %.*s", level, (int)strcspn(line, "\n"), line);
}

/* ---- Events API ---- */

#define SLACK_HEADER_SIGNATURE "X-Slack-Signature"
#define SLACK_HEADER_TIMESTAMP "X-Slack-Request-Timestamp"
#define SLACK_HEADER_RETRY "X-Slack-Retry-Num"

static void slack_http_answer(struct httpd_request *req, int status, const char *text)
{
        httpd_respond(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* An event's commit is done: 200 tells Slack it arrived; a 500 makes
 * Slack send it again. */
static void slack_on_http_received(void *userdata, int r)
{
        struct httpd_request *req = userdata;

        if (r < 0)
                slack_http_answer(req, 500, "not stored, send it again\n");
        else
                slack_http_answer(req, 200, "ok\n");
}

static void slack_http_event(struct slack *s, struct httpd_request *req,
                             struct json_object *root)
{
        struct json_object *event = NULL;
        const char *event_id = json_string_of(root, "event_id");
        const char *retry = httpd_request_header(req, SLACK_HEADER_RETRY);
        _cleanup_free_ char *text = NULL;
        struct adapter_message m;
        const char *why = NULL;
        int r;

        json_object_object_get_ex(root, "event", &event);
        if (!event || !event_id) {
                log_record(LOG_WARNING, &s->log, "an event_callback without event or event_id, "
                           "ignoring it");
                slack_http_answer(req, 400, "event_callback without event or event_id\n");
                return;
        }
        if (retry)
                log_record(LOG_DEBUG, &s->log, "event %s: Slack's retry %s", event_id, retry);

        r = slack_event_message(s, event, event_id, &m, &text, &why);
        if (r == 0) {
                log_record(LOG_DEBUG, &s->log, "event %s ignored: %s", event_id, why);
                slack_http_answer(req, 200, "ignored\n");
                return;
        }
        if (r > 0)
                r = adapter_receive(s->adapter, &m, 1, NULL, slack_on_http_received, req);
        if (r < 0) {
                log_record(LOG_ERR, &s->log, "event %s not taken: %s; Slack sends it again",
                           event_id, strerror(-r));
                slack_http_answer(req, 503, "not taken, send it again\n");
        }
}

/* One Events API request: signed, fresh, then a URL check or an event. */
static void slack_on_http_request(void *userdata, struct httpd_request *req)
{
        struct slack *s = userdata;
        struct json_object *root;
        const char *type, *challenge;
        size_t len;
        const char *body = httpd_request_body(req, &len);
        int r;

        r = slack_sign_verify(s->signing_secret,
                              httpd_request_header(req, SLACK_HEADER_TIMESTAMP),
                              httpd_request_header(req, SLACK_HEADER_SIGNATURE), body, len,
                              (int64_t)time(NULL));
        if (r < 0) {
                slack_http_answer(req, 500, "cannot check the signature\n");
                return;
        }
        if (r != SLACK_SIGN_OK) {
                log_record(LOG_WARNING, &s->log, "an Events API request refused: %s",
                           slack_sign_result_string(r));
                slack_http_answer(req, 401, "bad or stale signature\n");
                return;
        }

        root = json_tokener_parse(body);
        type = json_string_of(root, "type");
        if (!type) {
                log_record(LOG_WARNING, &s->log, "a signed Events API request of %zu bytes "
                           "that is not an event, refusing it", len);
                slack_http_answer(req, 400, "not a JSON object with a type\n");
        } else if (strcmp(type, "url_verification") == 0) {
                challenge = json_string_of(root, "challenge");
                if (challenge) {
                        log_record(LOG_INFO, &s->log, "Events API URL verified");
                        slack_http_answer(req, 200, challenge);
                } else
                        slack_http_answer(req, 400, "url_verification without challenge\n");
        } else if (strcmp(type, "event_callback") != 0) {
                log_record(LOG_DEBUG, &s->log, "an Events API '%s' request, ignoring it", type);
                slack_http_answer(req, 200, "ignored\n");
        } else if (s->stopping || s->failed || !s->bot_user_id) {
                /* Without the bot's ids its own messages cannot be told
                 * apart: Slack sends the event again later. */
                slack_http_answer(req, 503, "not ready\n");
        } else
                slack_http_event(s, req, root);
        json_object_put(root);
}

static int slack_events_start(struct slack *s)
{
        static const char *const headers[] = {
                SLACK_HEADER_SIGNATURE, SLACK_HEADER_TIMESTAMP, SLACK_HEADER_RETRY, NULL,
        };
        char reason[256];
        int r;

        r = adapter_http_route(s->adapter, "POST", s->events_path, headers,
                               slack_on_http_request, s);
        if (r < 0) {
                snprintf(reason, sizeof(reason), "cannot take Events API requests on %s: %s",
                         s->events_path, r == -ENODEV ? "the HTTP server is not enabled "
                         "([http] enabled = true)" : r == -EEXIST ? "another route has that "
                         "path" : strerror(-r));
                s->failed = true;
                adapter_set_state(s->adapter, ADAPTER_FAILED, reason);
                return 0;
        }
        log_record(LOG_INFO, &s->log, "Events API on the HTTP server at %s", s->events_path);
        slack_authenticate(s);
        return 0;
}

static int slack_start(void *state)
{
        struct slack *s = state;
        struct lws_context_creation_info info = { 0 };

        uv_timer_init(s->loop, &s->reconnect_timer);
        s->reconnect_timer.data = s;
        uv_timer_init(s->loop, &s->ping_timer);
        s->ping_timer.data = s;
        s->open_handles += 2;

        if (s->events_mode)
                return slack_events_start(s);

        lws_set_log_level(LLL_ERR, slack_lws_log);
        s->foreign_loops[0] = s->loop;
        info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.foreign_loops = s->foreign_loops;
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = slack_protocols;
        info.gid = -1;
        info.uid = -1;
        s->lws = lws_create_context(&info);
        if (!s->lws)
                return -ENOMEM;

        uv_timer_start(&s->ping_timer, slack_on_ping_timer, s->ping_timeout_ms / 3,
                       s->ping_timeout_ms / 3);

        slack_authenticate(s);
        return 0;
}

/* ---- sending ---- */

static struct slack_progress *slack_progress_find(struct slack *s, int64_t id, bool remove)
{
        for (struct slack_progress **p = &s->progress; *p; p = &(*p)->next)
                if ((*p)->id == id) {
                        struct slack_progress *found = *p;

                        if (remove) {
                                *p = found->next;
                                free(found);
                                return NULL;
                        }
                        return found;
                }
        return NULL;
}

static void slack_send_free(struct slack_send *send)
{
        if (!send)
                return;
        for (struct slack_send **p = &send->slack->sends; *p; p = &(*p)->next)
                if (*p == send) {
                        *p = send->next;
                        break;
                }
        free(send->channel);
        free(send->thread_ts);
        slack_text_parts_free(send->parts);
        free(send);
}

static void slack_send_finish(struct slack_send *send, enum adapter_send_result result,
                              const char *ts, uint64_t retry_after_ms, const char *error)
{
        struct slack *s = send->slack;
        struct slack_progress *p;

        if (result == ADAPTER_SEND_RETRY && send->done_parts > 0) {
                p = slack_progress_find(s, send->id, false);
                if (!p) {
                        p = calloc(1, sizeof(*p));
                        if (p) {
                                p->id = send->id;
                                p->next = s->progress;
                                s->progress = p;
                        }
                }
                if (p)
                        p->done_parts = send->done_parts;
        } else
                slack_progress_find(s, send->id, true);

        adapter_send_done(s->adapter, send->id, result, ts, retry_after_ms, error);
        slack_send_free(send);
}

static int slack_send_part(struct slack_send *send);

static void slack_on_post_message(void *userdata, int r, const struct http_response *resp)
{
        struct slack_send *send = userdata;
        struct slack *s = send->slack;
        struct slack_api_result res;
        char error[160];
        const char *ts;

        send->call = NULL;
        if (r == -ECANCELED && s->closed) {
                /* Abandoned at close: the outbox row stays pending. */
                slack_send_free(send);
                return;
        }
        slack_api_result_parse(r, resp, &res);

        if (res.ok) {
                send->done_parts++;
                ts = json_string_of(res.body, "ts");
                if (send->done_parts == send->n_parts)
                        slack_send_finish(send, ADAPTER_SEND_OK, ts, 0, NULL);
                else {
                        r = slack_send_part(send);
                        if (r < 0)
                                slack_send_finish(send, ADAPTER_SEND_RETRY, NULL, 0,
                                                  strerror(-r));
                }
                json_object_put(res.body);
                return;
        }

        snprintf(error, sizeof(error), "chat.postMessage: %s%s", res.error,
                 res.status >= 300 && res.status != 429 ? " (HTTP status)" : "");
        if (r < 0 || res.status == 429 || res.status >= 500 || !res.body ||
            strcmp(res.error, "ratelimited") == 0 || strcmp(res.error, "internal_error") == 0 ||
            strcmp(res.error, "service_unavailable") == 0 ||
            strcmp(res.error, "fatal_error") == 0)
                slack_send_finish(send, ADAPTER_SEND_RETRY, NULL, res.retry_after_ms, error);
        else if (slack_error_is_fatal(res.error)) {
                slack_fail(s, "chat.postMessage", res.error);
                slack_send_finish(send, ADAPTER_SEND_RETRY, NULL, 0, error);
        } else
                slack_send_finish(send, ADAPTER_SEND_REJECTED, NULL, 0, error);
        json_object_put(res.body);
}

static int slack_send_part(struct slack_send *send)
{
        struct slack *s = send->slack;
        struct json_object *body = json_object_new_object();
        int r;

        if (!body)
                return -ENOMEM;
        json_object_object_add(body, "channel", json_object_new_string(send->channel));
        json_object_object_add(body, "text",
                               json_object_new_string(send->parts[send->done_parts]));
        if (send->thread_ts)
                json_object_object_add(body, "thread_ts",
                                       json_object_new_string(send->thread_ts));

        r = slack_api_call(s, "chat.postMessage", s->bot_token,
                           json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE),
                           slack_on_post_message, send, &send->call);
        json_object_put(body);
        return r;
}

static int slack_send(void *state, const struct adapter_outgoing *out)
{
        struct slack *s = state;
        struct slack_send *send;
        struct slack_progress *p;
        int r;

        if (s->failed)
                return -ENOTCONN;
        if (s->closed)
                return -ESHUTDOWN;

        send = calloc(1, sizeof(*send));
        if (!send)
                return -ENOMEM;
        send->slack = s;
        send->id = out->id;
        send->channel = strdup(out->chat_id);
        send->thread_ts = out->thread_id ? strdup(out->thread_id) : NULL;
        send->next = s->sends;
        s->sends = send;
        if (!send->channel || (out->thread_id && !send->thread_ts)) {
                slack_send_free(send);
                return -ENOMEM;
        }

        r = slack_text_split(out->text, SLACK_TEXT_MAX, &send->parts, &send->n_parts);
        if (r < 0) {
                slack_send_free(send);
                return r;
        }
        if (send->n_parts == 0) {
                slack_send_finish(send, ADAPTER_SEND_REJECTED, NULL, 0, "an empty reply");
                return 0;
        }

        p = slack_progress_find(s, out->id, false);
        if (p && p->done_parts < send->n_parts)
                send->done_parts = p->done_parts;

        r = slack_send_part(send);
        if (r < 0)
                slack_send_free(send);
        return r;
}

/* ---- stopping ---- */

static void slack_stop_receiving(void *state)
{
        struct slack *s = state;

        s->stopping = true;
        if (s->open_call)
                http_call_cancel(s->open_call);
        if (s->auth_call)
                http_call_cancel(s->auth_call);
        if (s->open_handles > 0) {
                uv_timer_stop(&s->reconnect_timer);
                uv_timer_stop(&s->ping_timer);
        }
}

static void slack_release(struct slack *s)
{
        if (s->closed && s->open_handles == 0 && !s->conns && !s->reported_stopped) {
                s->reported_stopped = true;
                adapter_set_state(s->adapter, ADAPTER_STOPPED, NULL);
        }
}

static void slack_on_handle_closed(uv_handle_t *h)
{
        struct slack *s = h->data;

        s->open_handles--;
        slack_release(s);
}

static void slack_on_http_closed(void *userdata)
{
        struct slack *s = userdata;

        s->open_handles--;
        slack_release(s);
}

static void slack_close(void *state)
{
        struct slack *s = state;
        struct lws_context *lws;
        bool timers = s->open_handles > 0;

        slack_stop_receiving(s);
        s->closed = true;

        /* A send in flight is abandoned: its outbox row stays pending. */
        while (s->sends) {
                struct slack_send *send = s->sends;

                if (send->call) {
                        http_call_cancel(send->call);
                        continue;
                }
                slack_send_free(send);
        }

        /* lws closes every connection and, on a foreign loop, its own
         * handles as the loop runs on; none of its callbacks reaches a
         * connection of ours after this. */
        for (struct slack_conn *c = s->conns; c; c = c->next)
                if (c->wsi)
                        lws_set_opaque_user_data(c->wsi, NULL);
        lws = TAKE_PTR(s->lws);
        if (lws)
                lws_context_destroy(lws);
        while (s->conns) {
                struct slack_conn *c = s->conns;

                s->conns = c->next;
                slack_conn_free(c);
        }

        if (timers) {
                uv_close((uv_handle_t *)&s->reconnect_timer, slack_on_handle_closed);
                uv_close((uv_handle_t *)&s->ping_timer, slack_on_handle_closed);
        }
        if (s->http) {
                s->open_handles++;
                http_client_close(s->http, slack_on_http_closed, s);
                s->http = NULL;
        }
        slack_release(s);
}

const struct adapter_ops slack_adapter_ops = {
        .name = "slack",
        .config_keys = slack_config_keys,
        .chat_send_interval_ms = 1000,
        .create = slack_create,
        .start = slack_start,
        .stop_receiving = slack_stop_receiving,
        .close = slack_close,
        .send = slack_send,
        .destroy = slack_destroy,
};
