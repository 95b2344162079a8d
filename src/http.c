/* http.c: libcurl's multi-socket interface on a libuv loop.
 *
 * curl tells us which sockets to watch (http_on_socket) and when to call
 * it back (http_on_timer_set); uv_poll and uv_timer do the watching, and
 * every event goes back to curl through curl_multi_socket_action().
 * Finished transfers are collected with curl_multi_info_read() after each
 * action.  No user code runs inside a curl callback, so done() may start,
 * cancel or close anything. */
#include "autoconfig.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "macro.h"

#define HTTP_CONNECT_TIMEOUT_MAX_MS (15 * 1000)
#define HTTP_USER_AGENT "parley/" PACKAGE_VERSION

struct http_socket {
        uv_poll_t poll;
        curl_socket_t fd;
        struct http_client *client;
};

struct http_call {
        struct http_client *client;
        CURL *easy;
        struct curl_slist *headers;
        http_done_fn done;
        void *userdata;

        char *body;                     /* the response body, NUL terminated */
        size_t body_len;
        size_t body_alloc;
        size_t body_max;
        bool body_overflow;

        /* The final response's headers as "name\0value\0" pairs. */
        char *header_data;
        size_t header_len;
        size_t header_raw_len;          /* as received, for the limit */
        bool header_overflow;

        struct http_call *prev, *next;
};

struct http_client {
        uv_loop_t *loop;
        CURLM *multi;
        uv_timer_t timer;
        struct http_call *calls;
        size_t n_calls;
        size_t open_handles;            /* the timer and socket watchers not yet closed */
        bool closing;
        void (*closed)(void *userdata);
        void *closed_userdata;
};

static pthread_once_t http_global_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_result;

static void http_global_init(void)
{
        http_global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void http_client_release(struct http_client *c)
{
        void (*closed)(void *) = c->closed;
        void *userdata = c->closed_userdata;

        if (!c->closing || c->open_handles > 0)
                return;

        free(c);
        if (closed)
                closed(userdata);
}

static struct http_socket *container_of_socket(uv_handle_t *h)
{
        return (struct http_socket *)((char *)h - offsetof(struct http_socket, poll));
}

static void http_on_handle_closed(uv_handle_t *h)
{
        struct http_client *c = h->data;

        if (h->type == UV_POLL)
                free(container_of_socket(h));
        c->open_handles--;
        http_client_release(c);
}

/* ---- finishing a call ---- */

static int http_error_from_curl(const struct http_call *call, CURLcode code)
{
        if (call->body_overflow || call->header_overflow)
                return -EMSGSIZE;

        switch (code) {
        case CURLE_OK:
                return 0;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_FILESIZE_EXCEEDED:
                return -EMSGSIZE;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_URL_MALFORMAT:
                return -EINVAL;
        default:
                return -EPROTO;
        }
}

static void http_call_unlink(struct http_call *call)
{
        struct http_client *c = call->client;

        if (call->prev)
                call->prev->next = call->next;
        else
                c->calls = call->next;
        if (call->next)
                call->next->prev = call->prev;
        c->n_calls--;

        curl_multi_remove_handle(c->multi, call->easy);
}

static void http_call_free(struct http_call *call)
{
        curl_easy_cleanup(call->easy);
        curl_slist_free_all(call->headers);
        free(call->body);
        free(call->header_data);
        free(call);
}

/* Takes the call out of the client, reports it, frees it. */
static void http_call_finish(struct http_call *call, int r)
{
        struct http_response response = { .call = call };

        http_call_unlink(call);

        if (r == 0) {
                curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &response.status);
                response.body = call->body ? call->body : "";
                response.body_len = call->body_len;
        }

        call->done(call->userdata, r, r == 0 ? &response : NULL);
        http_call_free(call);
}

static void http_check_done(struct http_client *c)
{
        CURLMsg *msg;
        int left;

        while (!c->closing && (msg = curl_multi_info_read(c->multi, &left))) {
                struct http_call *call = NULL;

                if (msg->msg != CURLMSG_DONE)
                        continue;

                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
                http_call_finish(call, http_error_from_curl(call, msg->data.result));
        }
}

/* ---- curl's sockets and timer on the loop ---- */

static void http_on_poll(uv_poll_t *p, int status, int events)
{
        struct http_socket *s = container_of_socket((uv_handle_t *)p);
        struct http_client *c = s->client;
        int flags = 0, running;

        if (status < 0)
                flags = CURL_CSELECT_ERR;
        else {
                if (events & UV_READABLE)
                        flags |= CURL_CSELECT_IN;
                if (events & UV_WRITABLE)
                        flags |= CURL_CSELECT_OUT;
        }

        curl_multi_socket_action(c->multi, s->fd, flags, &running);
        http_check_done(c);
}

static int http_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
        struct http_client *c = userp;
        struct http_socket *s = socketp;
        int events = 0;

        if (what == CURL_POLL_REMOVE) {
                if (s) {
                        uv_poll_stop(&s->poll);
                        curl_multi_assign(c->multi, fd, NULL);
                        uv_close((uv_handle_t *)&s->poll, http_on_handle_closed);
                }
                return 0;
        }

        if (!s) {
                s = calloc(1, sizeof(*s));
                if (!s)
                        return -1;
                if (uv_poll_init_socket(c->loop, &s->poll, fd) < 0) {
                        free(s);
                        return -1;
                }
                s->fd = fd;
                s->client = c;
                s->poll.data = c;
                c->open_handles++;
                curl_multi_assign(c->multi, fd, s);
        }

        if (what & CURL_POLL_IN)
                events |= UV_READABLE;
        if (what & CURL_POLL_OUT)
                events |= UV_WRITABLE;

        return uv_poll_start(&s->poll, events, http_on_poll) < 0 ? -1 : 0;
}

static void http_on_timeout(uv_timer_t *t)
{
        struct http_client *c = t->data;
        int running;

        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        http_check_done(c);
}

static int http_on_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
        struct http_client *c = userp;

        if (timeout_ms < 0)
                uv_timer_stop(&c->timer);
        else
                uv_timer_start(&c->timer, http_on_timeout, (uint64_t)timeout_ms, 0);
        return 0;
}

/* ---- the client ---- */

int http_client_new(uv_loop_t *loop, struct http_client **ret)
{
        struct http_client *c;

        pthread_once(&http_global_once, http_global_init);
        if (http_global_result != CURLE_OK)
                return -ENOMEM;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;

        c->multi = curl_multi_init();
        if (!c->multi) {
                free(c);
                return -ENOMEM;
        }

        c->loop = loop;
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_on_socket);
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_on_timer_set);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          (long)HTTP_HOST_CONNECTIONS_MAX);
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)HTTP_HOST_CONNECTIONS_MAX);

        uv_timer_init(loop, &c->timer);
        c->timer.data = c;
        c->open_handles = 1;

        *ret = c;
        return 0;
}

void http_client_close(struct http_client *c, void (*closed)(void *userdata), void *userdata)
{
        if (!c || c->closing)
                return;

        /* Closing first: a done() that starts a new call is refused. */
        c->closing = true;
        while (c->calls)
                http_call_cancel(c->calls);

        c->closed = closed;
        c->closed_userdata = userdata;

        /* Closes the cached connections, which removes their watchers. */
        curl_multi_cleanup(c->multi);
        c->multi = NULL;

        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, http_on_handle_closed);
}

void http_client_free(struct http_client *c)
{
        http_client_close(c, NULL, NULL);
}

size_t http_client_calls(const struct http_client *c)
{
        return c->n_calls;
}

/* ---- one call ---- */

static size_t http_on_body(char *data, size_t size, size_t n, void *userp)
{
        struct http_call *call = userp;
        size_t len = size * n;

        if (len > call->body_max - call->body_len) {
                call->body_overflow = true;
                return 0;
        }

        if (call->body_len + len + 1 > call->body_alloc) {
                size_t want = call->body_alloc ? call->body_alloc : 4096;
                char *p;

                while (want < call->body_len + len + 1)
                        want *= 2;
                if (want > call->body_max + 1)
                        want = call->body_max + 1;

                p = realloc(call->body, want);
                if (!p)
                        return 0;
                call->body = p;
                call->body_alloc = want;
        }

        memcpy(call->body + call->body_len, data, len);
        call->body_len += len;
        call->body[call->body_len] = '\0';
        return len;
}

/* Keeps "name\0value\0" for each header of the last response (an interim
 * 100 Continue or a proxy's CONNECT answer starts a new set). */
static size_t http_on_header(char *data, size_t size, size_t n, void *userp)
{
        struct http_call *call = userp;
        size_t len = size * n, name_len, value_len;
        const char *colon, *value, *end = data + len;
        char *p;

        if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
                call->header_len = 0;
                call->header_raw_len = 0;
        }
        call->header_raw_len += len;
        if (call->header_raw_len > HTTP_RESPONSE_HEADERS_MAX) {
                call->header_overflow = true;
                return 0;
        }
        if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
                return len;

        colon = memchr(data, ':', len);
        if (!colon)
                return len;

        name_len = (size_t)(colon - data);
        value = colon + 1;
        while (value < end && (*value == ' ' || *value == '\t'))
                value++;
        while (end > value && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                               end[-1] == '\t'))
                end--;
        value_len = (size_t)(end - value);

        if (!call->header_data) {
                call->header_data = malloc(HTTP_RESPONSE_HEADERS_MAX);
                if (!call->header_data)
                        return 0;
        }

        p = call->header_data + call->header_len;
        memcpy(p, data, name_len);
        p[name_len] = '\0';
        memcpy(p + name_len + 1, value, value_len);
        p[name_len + 1 + value_len] = '\0';
        call->header_len += name_len + value_len + 2;
        return len;
}

const char *http_response_header(const struct http_response *response, const char *name)
{
        const struct http_call *call = response->call;
        const char *found = NULL;
        size_t at = 0;

        while (at < call->header_len) {
                const char *h = call->header_data + at;
                const char *v = h + strlen(h) + 1;

                if (strcasecmp(h, name) == 0)
                        found = v;
                at = (size_t)(v + strlen(v) + 1 - call->header_data);
        }

        return found;
}

static int http_call_setup(struct http_call *call, const struct http_request *req)
{
        const char *method = req->method ? req->method : "GET";
        uint64_t timeout_ms = req->timeout_ms ? req->timeout_ms : HTTP_TIMEOUT_DEFAULT_MS;
        CURL *e = call->easy;
        bool ok = true;

        /* curl waits for 100 Continue before a large body; no server we
         * speak to needs that round trip. */
        call->headers = curl_slist_append(NULL, "Expect:");
        if (!call->headers)
                return -ENOMEM;
        for (const char *const *h = req->headers; h && *h; h++) {
                struct curl_slist *l = curl_slist_append(call->headers, *h);

                if (!l)
                        return -ENOMEM;
                call->headers = l;
        }

        ok &= curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_PRIVATE, call) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, HTTP_USER_AGENT) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                               (long)(timeout_ms < HTTP_CONNECT_TIMEOUT_MAX_MS ?
                                      timeout_ms : HTTP_CONNECT_TIMEOUT_MAX_MS)) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                               (curl_off_t)call->body_max) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_on_body) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, call) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_on_header) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_HEADERDATA, call) == CURLE_OK;

        if (strcmp(method, "POST") == 0)
                ok &= curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK;
        else if (strcmp(method, "HEAD") == 0)
                ok &= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK;
        else if (strcmp(method, "GET") != 0)
                ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;

        if (req->body || strcmp(method, "POST") == 0) {
                ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                                       (curl_off_t)req->body_len) == CURLE_OK;
                ok &= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
                                       req->body ? req->body : "") == CURLE_OK;
        }

        return ok ? 0 : -EINVAL;
}

int http_request_start(struct http_client *c, const struct http_request *req,
                       http_done_fn done, void *userdata, struct http_call **ret_call)
{
        struct http_call *call;
        int r;

        if (c->closing)
                return -ESHUTDOWN;
        if (!req->url || !done ||
            (strncasecmp(req->url, "http://", 7) != 0 && strncasecmp(req->url, "https://", 8) != 0))
                return -EINVAL;
        if (c->n_calls >= HTTP_CALLS_MAX)
                return -EBUSY;

        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        call->client = c;
        call->done = done;
        call->userdata = userdata;
        call->body_max = req->max_response_bytes ? req->max_response_bytes :
                HTTP_RESPONSE_MAX_DEFAULT;

        call->easy = curl_easy_init();
        if (!call->easy) {
                http_call_free(call);
                return -ENOMEM;
        }

        r = http_call_setup(call, req);
        if (r < 0) {
                http_call_free(call);
                return r;
        }

        if (curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) {
                http_call_free(call);
                return -ENOMEM;
        }

        call->next = c->calls;
        if (c->calls)
                c->calls->prev = call;
        c->calls = call;
        c->n_calls++;

        if (ret_call)
                *ret_call = call;
        return 0;
}

void http_call_cancel(struct http_call *call)
{
        if (!call)
                return;

        http_call_unlink(call);
        call->done(call->userdata, -ECANCELED, NULL);
        http_call_free(call);
}
