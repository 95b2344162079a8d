/* httpd.c: the HTTP server, libwebsockets on the daemon's libuv loop.
 *
 * One lws context with one vhost and one protocol whose callback
 * (httpd_on_event) does everything: counts connections, matches routes,
 * collects bodies, and writes answers when the connection is writable.
 *
 * A request's life: LWS_CALLBACK_HTTP makes a struct httpd_request (the
 * route's headers copied, the body buffer sized from Content-Length),
 * HTTP_BODY fills it, HTTP_BODY_COMPLETION hands it to the handler.
 * httpd_respond() stores the answer and asks for a writable callback,
 * where it is written.  The request and the connection point at each
 * other; whichever goes first clears the other's pointer, so a late
 * answer to a closed connection only frees the request.
 *
 * Closing a context on a foreign libuv loop is two-stage in lws 4.x: the
 * first lws_context_destroy() closes the sockets and lws's uv handles,
 * the second (after the loop has run their close callbacks) frees it. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "log.h"
#include "macro.h"

#define HTTPD_METHOD_MAX 8
#define HTTPD_HEADER_VALUE_MAX 4096
#define HTTPD_HEADER_POOL 32            /* header buffers lws shares among connections */
#define HTTPD_LOG_PREFIX "http server: "

const struct config_key httpd_config_keys[] = {
        { "http", "address", CONFIG_STRING, "127.0.0.1", false, 0, 0, NULL,
          "the address the HTTP server (webhooks) listens on" },
        { "http", "port", CONFIG_INT, "8080", false, 0, 65535, NULL,
          "its TCP port (0: any free port, logged at start)" },
        { NULL },
};

struct httpd_route {
        char method[HTTPD_METHOD_MAX];
        char *path;
        char **headers;                 /* lower case, NULL terminated */
        httpd_handler_fn fn;
        void *userdata;
        struct httpd_route *next;
};

struct httpd_request {
        struct httpd *server;           /* NULL once the server closed */
        struct lws *wsi;                /* NULL once the connection closed */
        char method[HTTPD_METHOD_MAX];
        char *path;
        struct httpd_session *session;  /* NULL once the connection closed */
        char **header_names;            /* copies of the route's names */
        char **header_values;           /* parallel; NULL where absent */
        size_t n_headers;

        char *body;
        size_t body_len;
        size_t body_expected;

        bool dispatched;                /* with the handler */
        bool answered;                  /* the answer waits for writable */
        bool close_after;               /* the body was not read: close after answering */
        int status;
        char content_type[64];
        char *answer;
        size_t answer_len;

        struct httpd_request *prev, *next;
};

/* lws's per-connection data. */
struct httpd_session {
        struct httpd_request *req;
};

struct httpd {
        struct lws_context *context;    /* NULL once lws has finished destroying it */
        struct lws_context *destroying; /* for the second stage */
        uv_check_t *destroy_check;      /* its own allocation: it may outlive h */
        bool destroy_started;
        struct httpd_limits limits;
        uint16_t port;
        struct httpd_route *routes;
        struct httpd_request *requests; /* every request not yet released */
        unsigned connections;
        bool refusing_logged;
        bool listening;
        bool closed;
        char address[64];
};

/* Marks lws connections counted in h->connections. */
static const char httpd_counted;

static void httpd_request_free(struct httpd_request *req)
{
        struct httpd *h = req->server;

        if (h) {
                if (req->prev)
                        req->prev->next = req->next;
                else
                        h->requests = req->next;
                if (req->next)
                        req->next->prev = req->prev;
        }

        for (size_t i = 0; i < req->n_headers; i++) {
                free(req->header_names ? req->header_names[i] : NULL);
                free(req->header_values ? req->header_values[i] : NULL);
        }
        free(req->header_names);
        free(req->header_values);
        free(req->path);
        free(req->body);
        free(req->answer);
        free(req);
}

static void httpd_link(struct httpd_session *s, struct httpd_request *req, struct lws *wsi)
{
        s->req = req;
        req->session = s;
        req->wsi = wsi;
}

static void httpd_unlink(struct httpd_request *req)
{
        if (req->session)
                req->session->req = NULL;
        req->session = NULL;
        req->wsi = NULL;
}

/* The connection is gone (or its transaction over): the request may
 * outlive it while its handler holds it. */
static void httpd_session_detach(struct httpd_session *s)
{
        struct httpd_request *req = s ? s->req : NULL;

        if (!req)
                return;

        httpd_unlink(req);
        if (!req->dispatched || req->answered)
                httpd_request_free(req);
}

/* ---- answering ---- */

static void httpd_answer_set(struct httpd_request *req, int status, const char *content_type,
                             const void *body, size_t body_len)
{
        req->answered = true;
        req->status = status;
        snprintf(req->content_type, sizeof(req->content_type), "%s",
                 content_type ? content_type : "text/plain");
        free(req->answer);
        req->answer = body_len ? malloc(body_len) : NULL;
        req->answer_len = req->answer ? body_len : 0;
        if (req->answer)
                memcpy(req->answer, body, body_len);
}

/* The server's own answer to a request no handler will see.  The body was
 * not read, so the connection cannot carry another request. */
static int httpd_refuse(struct lws *wsi, struct httpd_session *s, struct httpd_request *req,
                        int status, const char *text)
{
        httpd_answer_set(req, status, "text/plain", text, strlen(text));
        req->close_after = true;
        httpd_link(s, req, wsi);
        lws_callback_on_writable(wsi);
        return 0;
}

/* Writes req's answer; returns -1 when lws must close the connection. */
static int httpd_answer_write(struct lws *wsi, struct httpd_session *s)
{
        struct httpd_request *req = s->req;
        uint8_t head[LWS_PRE + 1024];
        uint8_t *start = head + LWS_PRE, *p = start, *end = head + sizeof(head) - 1;
        bool close_after = req->close_after;
        _cleanup_free_ uint8_t *body = NULL;
        int r;

        if (lws_add_http_common_headers(wsi, (unsigned)req->status, req->content_type,
                                        req->answer_len, &p, end) < 0)
                return -1;
        if (close_after &&
            lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                         (const unsigned char *)"close", 5, &p, end) < 0)
                return -1;
        if (lws_finalize_write_http_header(wsi, start, &p, end) < 0)
                return -1;

        if (req->answer_len > 0) {
                /* lws_write() needs LWS_PRE bytes of room before the data. */
                body = malloc(LWS_PRE + req->answer_len);
                if (!body)
                        return -1;
                memcpy(body + LWS_PRE, req->answer, req->answer_len);
                r = lws_write(wsi, body + LWS_PRE, req->answer_len, LWS_WRITE_HTTP_FINAL);
                if (r < (int)req->answer_len)
                        return -1;
        }

        httpd_unlink(req);
        httpd_request_free(req);

        if (close_after)
                return -1;
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void httpd_respond(struct httpd_request *req, int status, const char *content_type,
                   const void *body, size_t body_len)
{
        if (!req->wsi) {
                httpd_request_free(req);
                return;
        }

        httpd_answer_set(req, status, content_type, body, body_len);
        lws_callback_on_writable(req->wsi);
}

/* ---- requests ---- */

static const char *httpd_method_of(struct lws *wsi)
{
        static const struct {
                enum lws_token_indexes token;
                const char *name;
        } methods[] = {
                { WSI_TOKEN_GET_URI, "GET" },
                { WSI_TOKEN_POST_URI, "POST" },
                { WSI_TOKEN_PUT_URI, "PUT" },
                { WSI_TOKEN_DELETE_URI, "DELETE" },
                { WSI_TOKEN_PATCH_URI, "PATCH" },
                { WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
                { WSI_TOKEN_HEAD_URI, "HEAD" },
        };

        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (lws_hdr_total_length(wsi, methods[i].token) > 0)
                        return methods[i].name;
        return NULL;
}

/* A copy of the value of header name (lower case), NULL if absent. */
static char *httpd_header_copy(struct lws *wsi, const char *name)
{
        char buf[HTTPD_HEADER_VALUE_MAX];
        char key[128];
        int n;

        /* Headers lws knows are tokens; the rest are "custom". */
        for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
                const unsigned char *s = lws_token_to_string((enum lws_token_indexes)t);
                size_t len = strlen(name);

                if (!s || strncasecmp((const char *)s, name, len) != 0 || s[len] != ':')
                        continue;
                n = lws_hdr_copy(wsi, buf, sizeof(buf), (enum lws_token_indexes)t);
                return n >= 0 && lws_hdr_total_length(wsi, (enum lws_token_indexes)t) > 0 ?
                        strdup(buf) : NULL;
        }

        if ((size_t)snprintf(key, sizeof(key), "%s:", name) >= sizeof(key))
                return NULL;
        n = lws_hdr_custom_copy(wsi, buf, sizeof(buf), key, (int)strlen(key));
        return n >= 0 ? strdup(buf) : NULL;
}

static const struct httpd_route *httpd_route_find(const struct httpd *h, const char *method,
                                                  const char *path, bool *ret_path_known)
{
        *ret_path_known = false;
        for (const struct httpd_route *rt = h->routes; rt; rt = rt->next) {
                if (strcmp(rt->path, path) != 0)
                        continue;
                *ret_path_known = true;
                if (strcmp(rt->method, method) == 0)
                        return rt;
        }
        return NULL;
}

static void httpd_dispatch(struct httpd *h, struct lws *wsi, struct httpd_request *req,
                           const struct httpd_route *route)
{
        req->dispatched = true;
        if (h->limits.response_timeout_s)
                lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                                (int)h->limits.response_timeout_s);
        route->fn(route->userdata, req);
}

static const struct httpd_route *httpd_request_route(const struct httpd *h,
                                                     const struct httpd_request *req)
{
        bool known;

        return httpd_route_find(h, req->method, req->path, &known);
}

/* LWS_CALLBACK_HTTP: the request line and headers are in. */
static int httpd_on_request(struct httpd *h, struct lws *wsi, struct httpd_session *s,
                            const char *path)
{
        const char *method = httpd_method_of(wsi);
        const struct httpd_route *route;
        struct httpd_request *req;
        char length[32];
        bool path_known = false;

        req = calloc(1, sizeof(*req));
        if (!req)
                return -1;
        req->server = h;
        req->path = strdup(path ? path : "");
        if (!req->path) {
                free(req);
                return -1;
        }
        snprintf(req->method, sizeof(req->method), "%s", method ? method : "?");
        req->next = h->requests;
        if (h->requests)
                h->requests->prev = req;
        h->requests = req;

        route = method ? httpd_route_find(h, method, req->path, &path_known) : NULL;
        if (!route)
                return httpd_refuse(wsi, s, req, path_known ? 405 : 404,
                                    path_known ? "method not allowed\n" : "not found\n");

        if (lws_hdr_copy(wsi, length, sizeof(length), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
                char *end;
                unsigned long long n;

                errno = 0;
                n = strtoull(length, &end, 10);
                if (errno || end == length || *end || length[0] == '-')
                        return httpd_refuse(wsi, s, req, 400, "bad Content-Length\n");
                if (n > h->limits.body_max_bytes)
                        return httpd_refuse(wsi, s, req, 413, "request body too large\n");
                req->body_expected = (size_t)n;
        } else if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 ||
                   strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
                return httpd_refuse(wsi, s, req, 411, "Content-Length required\n");
        }

        httpd_link(s, req, wsi);
        req->body = malloc(req->body_expected + 1);
        for (char **n = route->headers; n && *n; n++)
                req->n_headers++;
        req->header_names = calloc(req->n_headers + 1, sizeof(char *));
        req->header_values = calloc(req->n_headers + 1, sizeof(char *));
        if (!req->body || !req->header_names || !req->header_values)
                return -1;
        req->body[0] = '\0';
        for (size_t i = 0; i < req->n_headers; i++) {
                req->header_names[i] = strdup(route->headers[i]);
                if (!req->header_names[i])
                        return -1;
                req->header_values[i] = httpd_header_copy(wsi, route->headers[i]);
        }

        if (req->body_expected == 0)
                httpd_dispatch(h, wsi, req, route);
        return 0;
}

static int httpd_on_body(struct httpd_session *s, const void *data, size_t len)
{
        struct httpd_request *req = s->req;

        if (!req || req->dispatched || req->answered)
                return 0;
        if (len > req->body_expected - req->body_len)
                return -1;      /* more than Content-Length said */

        memcpy(req->body + req->body_len, data, len);
        req->body_len += len;
        req->body[req->body_len] = '\0';
        return 0;
}

static int httpd_on_body_done(struct httpd *h, struct lws *wsi, struct httpd_session *s)
{
        struct httpd_request *req = s->req;
        const struct httpd_route *route;

        if (!req || req->dispatched || req->answered)
                return 0;

        route = httpd_request_route(h, req);
        if (!route)
                return -1;
        httpd_dispatch(h, wsi, req, route);
        return 0;
}

/* ---- the lws callback ---- */

static int httpd_on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                          void *in, size_t len)
{
        struct lws_context *cx = wsi ? lws_get_context(wsi) : NULL;
        struct httpd *h = cx ? lws_context_user(cx) : NULL;
        struct httpd_session *s = user;

        if (!h || h->closed) {
                if (reason == LWS_CALLBACK_CLOSED_HTTP || reason == LWS_CALLBACK_HTTP_DROP_PROTOCOL)
                        httpd_session_detach(s);
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }

        switch (reason) {
        case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
                if (h->connections < h->limits.connections_max) {
                        h->refusing_logged = false;
                        return 0;
                }
                if (!h->refusing_logged)
                        log_warning(HTTPD_LOG_PREFIX "%u connections open, the most allowed; "
                                    "closing new ones until some end", h->connections);
                h->refusing_logged = true;
                return 1;

        case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
                h->connections++;
                lws_set_opaque_user_data(wsi, (void *)&httpd_counted);
                return 0;

        case LWS_CALLBACK_WSI_DESTROY:
                if (lws_get_opaque_user_data(wsi) == &httpd_counted) {
                        lws_set_opaque_user_data(wsi, NULL);
                        h->connections--;
                }
                return 0;

        case LWS_CALLBACK_HTTP:
                return httpd_on_request(h, wsi, s, in);

        case LWS_CALLBACK_HTTP_BODY:
                return httpd_on_body(s, in, len);

        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
                return httpd_on_body_done(h, wsi, s);

        case LWS_CALLBACK_HTTP_WRITEABLE:
                if (!s || !s->req || !s->req->answered)
                        return 0;
                return httpd_answer_write(wsi, s);

        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        case LWS_CALLBACK_CLOSED_HTTP:
                httpd_session_detach(s);
                return 0;

        default:
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }
}

static const struct lws_protocols httpd_protocols[] = {
        { "http", httpd_on_event, sizeof(struct httpd_session), 0, 0, NULL, 0 },
        { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* lws's own log lines, into ours. */
static void httpd_on_lws_log(int level, const char *line)
{
        size_t n = strlen(line);

        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
        /* Debug: what lws reports, the server's code decides and logs. */
        log_record(LOG_DEBUG, NULL, "libwebsockets: %s%.*s", level == LLL_ERR ? "error: " : "",
                   (int)n, line);
}

/* ---- the server ---- */

int httpd_new(uv_loop_t *loop, const struct httpd_limits *limits, struct httpd **ret)
{
        static const struct httpd_limits defaults = HTTPD_LIMITS_DEFAULT;
        struct lws_context_creation_info info = { 0 };
        void *loops[1] = { loop };
        struct httpd *h;

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->limits = limits ? *limits : defaults;

        lws_set_log_level(LLL_ERR | LLL_WARN, httpd_on_lws_log);

        /* The context without a vhost: listening is httpd_listen()'s, so
         * a failure to bind leaves an object the caller closes as usual. */
        info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
        info.foreign_loops = loops;
        info.pcontext = &h->context;
        info.user = h;
        info.max_http_header_data = (unsigned short)h->limits.header_bytes_max;
        info.max_http_header_pool = HTTPD_HEADER_POOL;

        h->context = lws_create_context(&info);
        if (!h->context) {
                free(h);
                return -ENOPKG;
        }
        h->destroying = h->context;
        h->destroy_check = malloc(sizeof(*h->destroy_check));
        if (!h->destroy_check) {
                /* Never ran: nothing of lws is registered with the loop yet. */
                lws_context_destroy(h->context);
                lws_context_destroy(h->destroying);
                free(h);
                return -ENOMEM;
        }
        uv_check_init(loop, h->destroy_check);
        h->destroy_check->data = h;

        *ret = h;
        return 0;
}

int httpd_listen(struct httpd *h, const char *address, uint16_t port, char *error)
{
        struct lws_context_creation_info info = { 0 };
        struct lws_vhost *vhost;

        if (h->closed || h->listening)
                return -EALREADY;
        snprintf(h->address, sizeof(h->address), "%s", address);

        info.protocols = httpd_protocols;
        info.iface = h->address;
        info.port = port;
        info.vhost_name = "parley";
        info.server_string = "parleyd";
        info.keepalive_timeout = (int)h->limits.idle_timeout_s;
        info.timeout_secs_ah_idle = h->limits.header_timeout_s;
        info.timeout_secs = h->limits.body_timeout_s;
        if (!strchr(address, ':'))
                info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;

        vhost = lws_create_vhost(h->context, &info);
        if (!vhost) {
                snprintf(error, HTTPD_ERROR_MAX, "cannot listen on %s port %u: the port is in "
                         "use or the address is not one of this machine's", address, port);
                return -EADDRNOTAVAIL;
        }

        h->listening = true;
        h->port = (uint16_t)lws_get_vhost_listen_port(vhost);
        return 0;
}

uint16_t httpd_port(const struct httpd *h)
{
        return h->port;
}

int httpd_route_add(struct httpd *h, const char *method, const char *path,
                    const char *const *headers, httpd_handler_fn fn, void *userdata)
{
        struct httpd_route *rt;
        size_t n = 0;
        bool known;

        if (httpd_route_find(h, method, path, &known))
                return -EEXIST;
        if (strlen(method) >= HTTPD_METHOD_MAX)
                return -EINVAL;

        rt = calloc(1, sizeof(*rt));
        if (!rt)
                return -ENOMEM;
        snprintf(rt->method, sizeof(rt->method), "%s", method);
        rt->path = strdup(path);
        while (headers && headers[n])
                n++;
        rt->headers = calloc(n + 1, sizeof(char *));
        if (!rt->path || !rt->headers)
                goto fail;
        for (size_t i = 0; i < n; i++) {
                rt->headers[i] = strdup(headers[i]);
                if (!rt->headers[i])
                        goto fail;
                for (char *c = rt->headers[i]; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
        }
        rt->fn = fn;
        rt->userdata = userdata;
        rt->next = h->routes;
        h->routes = rt;
        return 0;

fail:
        for (size_t i = 0; rt->headers && i < n; i++)
                free(rt->headers[i]);
        free(rt->headers);
        free(rt->path);
        free(rt);
        return -ENOMEM;
}

const char *httpd_request_method(const struct httpd_request *req)
{
        return req->method;
}

const char *httpd_request_path(const struct httpd_request *req)
{
        return req->path;
}

const char *httpd_request_header(const struct httpd_request *req, const char *name)
{
        if (!req->header_names)
                return NULL;
        for (size_t i = 0; i < req->n_headers; i++)
                if (strcasecmp(req->header_names[i], name) == 0)
                        return req->header_values[i];
        return NULL;
}

const char *httpd_request_body(const struct httpd_request *req, size_t *ret_len)
{
        if (ret_len)
                *ret_len = req->body_len;
        return req->body ? req->body : "";
}

/* The first stage of lws's destroy runs from a check handle, after the
 * loop's poll phase: lws 4.1 closes its event fd at once but leaves the fd's
 * uv_poll watcher for later, and a watcher the loop has not yet registered
 * with epoll then fails to register (libuv aborts). */
static void httpd_destroy_start(struct httpd *h)
{
        if (h->destroy_started)
                return;
        h->destroy_started = true;
        uv_check_stop(h->destroy_check);
        uv_close((uv_handle_t *)h->destroy_check, (uv_close_cb)free);
        h->destroy_check = NULL;
        lws_context_destroy(h->context);
}

static void httpd_on_destroy_check(uv_check_t *c)
{
        httpd_destroy_start(c->data);
}

void httpd_close(struct httpd *h)
{
        if (!h || h->closed)
                return;

        /* Requests a handler holds outlive the server; the others go. */
        while (h->requests) {
                struct httpd_request *req = h->requests;

                h->requests = req->next;
                req->prev = req->next = NULL;
                req->server = NULL;
                httpd_unlink(req);
                if (!req->dispatched || req->answered)
                        httpd_request_free(req);
        }

        h->closed = true;
        uv_check_start(h->destroy_check, httpd_on_destroy_check);
}

void httpd_free(struct httpd *h)
{
        if (!h)
                return;

        httpd_close(h);
        httpd_destroy_start(h);
        if (h->context)
                lws_context_destroy(h->destroying);

        while (h->routes) {
                struct httpd_route *rt = h->routes;

                h->routes = rt->next;
                for (char **n = rt->headers; n && *n; n++)
                        free(*n);
                free(rt->headers);
                free(rt->path);
                free(rt);
        }
        free(h);
}
