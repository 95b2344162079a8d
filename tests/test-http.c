/* test-http: the HTTP client against a scripted server on the same loop.
 *
 * The server (raw libuv TCP) reads one request per connection and acts on
 * its path: answers, echoes, stays silent, drops the connection, sends
 * garbage, an over-long body or over-long headers.  Each client error
 * code is provoked and checked, as are cancelling, closing with calls in
 * flight, the calls limit, and a clean loop afterwards. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http.h"
#include "macro.h"
#include "test.h"

#define SERVER_REQUEST_MAX 65536

static uv_loop_t *loop;
static uv_tcp_t server;
static int server_port;

struct conn {
        uv_tcp_t tcp;
        char buf[SERVER_REQUEST_MAX];
        size_t len;
        bool handled;
        bool closing;
};

struct write_req {
        uv_write_t req;
        char *data;
        bool close_after;
};

static void conn_on_closed(uv_handle_t *h)
{
        free(h->data);
}

static void conn_close(struct conn *c)
{
        if (c->closing)
                return;
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, conn_on_closed);
}

static void conn_on_written(uv_write_t *req, int status)
{
        struct write_req *w = (struct write_req *)req;
        struct conn *c = req->handle->data;

        if (w->close_after)
                conn_close(c);
        free(w->data);
        free(w);
}

/* Sends len bytes of data (taken), closing afterwards if close_after. */
static void conn_send(struct conn *c, char *data, size_t len, bool close_after)
{
        struct write_req *w = calloc(1, sizeof(*w));
        uv_buf_t b = uv_buf_init(data, (unsigned)len);

        if (!w)
                abort();
        w->data = data;
        w->close_after = close_after;
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, conn_on_written) < 0)
                abort();
}

static void conn_sendf(struct conn *c, bool close_after, const char *fmt, ...)
        _printf_(3, 4);

static void conn_sendf(struct conn *c, bool close_after, const char *fmt, ...)
{
        va_list ap;
        char *s;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        conn_send(c, s, (size_t)n, close_after);
}

static const char *request_body(const char *head_end)
{
        return head_end + 4;
}

/* Acts on a complete request in c->buf. */
static void conn_handle(struct conn *c, const char *path, const char *body, size_t body_len)
{
        if (strcmp(path, "/ok") == 0) {
                conn_sendf(c, false, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                           "retry-after:   7  \r\nX-Twice: one\r\nX-Twice: two\r\n\r\nhello");
        } else if (strcmp(path, "/echo") == 0) {
                const char *h = strcasestr(c->buf, "\r\nX-Test: ");
                char value[64] = "";

                if (h)
                        sscanf(h + 10, "%63[^\r]", value);
                conn_sendf(c, false, "HTTP/1.1 201 Created\r\nContent-Length: %zu\r\n\r\n%s|%.*s",
                           strlen(value) + 1 + body_len, value, (int)body_len, body);
        } else if (strcmp(path, "/status429") == 0) {
                conn_sendf(c, false, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\n"
                           "Content-Length: 2\r\n\r\n{}");
        } else if (strcmp(path, "/hang") == 0) {
                /* Never answers. */
        } else if (strcmp(path, "/drop") == 0) {
                conn_close(c);
        } else if (strcmp(path, "/cut") == 0) {
                conn_sendf(c, true, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
        } else if (strcmp(path, "/garbage") == 0) {
                conn_sendf(c, true, "this is not HTTP at all\r\n\r\n");
        } else if (strcmp(path, "/big-declared") == 0) {
                conn_sendf(c, false, "HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n");
        } else if (strcmp(path, "/big-chunked") == 0) {
                size_t chunk = 60000, n = 5, len;
                char *s = malloc(64 + n * (chunk + 16) + 16), *p;

                if (!s)
                        abort();
                p = s + sprintf(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                for (size_t i = 0; i < n; i++) {
                        p += sprintf(p, "%zx\r\n", chunk);
                        memset(p, 'x', chunk);
                        p += chunk;
                        p += sprintf(p, "\r\n");
                }
                p += sprintf(p, "0\r\n\r\n");
                len = (size_t)(p - s);
                conn_send(c, s, len, false);
        } else if (strcmp(path, "/big-headers") == 0) {
                size_t n = HTTP_RESPONSE_HEADERS_MAX / 98 + 10;        /* 98 bytes a line */
                char *s = malloc(n * 110 + 128), *p;

                if (!s)
                        abort();
                p = s + sprintf(s, "HTTP/1.1 200 OK\r\n");
                for (size_t i = 0; i < n; i++) {
                        p += sprintf(p, "X-Filler-%05zu: ", i);
                        memset(p, 'h', 80);
                        p += 80;
                        p += sprintf(p, "\r\n");
                }
                p += sprintf(p, "Content-Length: 2\r\n\r\nok");
                conn_send(c, s, (size_t)(p - s), false);
        } else {
                conn_sendf(c, false, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
}

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        struct conn *c = h->data;

        *buf = uv_buf_init(c->buf + c->len, (unsigned)(SERVER_REQUEST_MAX - 1 - c->len));
}

static void conn_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct conn *c = s->data;
        char path[256];
        const char *end, *cl;
        size_t body_len = 0;

        if (n < 0) {
                conn_close(c);
                return;
        }
        c->len += (size_t)n;
        c->buf[c->len] = '\0';

        end = strstr(c->buf, "\r\n\r\n");
        if (!end || c->handled)
                return;
        cl = strcasestr(c->buf, "\r\nContent-Length: ");
        if (cl && cl < end)
                body_len = strtoul(cl + 18, NULL, 10);
        if (c->len < (size_t)(request_body(end) - c->buf) + body_len)
                return;

        if (sscanf(c->buf, "%*s %255s", path) != 1)
                abort();
        c->handled = true;
        conn_handle(c, path, request_body(end), body_len);

        /* Keep-alive: the next request on this connection starts afresh. */
        if (!c->closing) {
                size_t used = (size_t)(request_body(end) - c->buf) + body_len;

                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
                c->buf[c->len] = '\0';
                c->handled = false;
        }
}

static void server_on_connection(uv_stream_t *s, int status)
{
        struct conn *c = calloc(1, sizeof(*c));

        if (!c || status < 0)
                abort();
        uv_tcp_init(loop, &c->tcp);
        c->tcp.data = c;
        if (uv_accept(s, (uv_stream_t *)&c->tcp) < 0)
                abort();
        uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read);
}

static void server_start(void)
{
        struct sockaddr_in addr;
        struct sockaddr_storage bound;
        int len = sizeof(bound);

        uv_ip4_addr("127.0.0.1", 0, &addr);
        uv_tcp_init(loop, &server);
        if (uv_tcp_bind(&server, (struct sockaddr *)&addr, 0) < 0 ||
            uv_listen((uv_stream_t *)&server, 128, server_on_connection) < 0 ||
            uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len) < 0)
                abort();
        server_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static void walk_close(uv_handle_t *h, void *arg)
{
        if (!uv_is_closing(h))
                uv_close(h, h->type == UV_TCP && h != (uv_handle_t *)&server ?
                         conn_on_closed : NULL);
}

/* ---- client side ---- */

struct result {
        bool done;
        int calls;
        int r;
        long status;
        char body[256];
        size_t body_len;
        char retry_after[32];
        char twice[32];
        bool had_retry_after;
        uint64_t at_ms;
};

static void on_done(void *userdata, int r, const struct http_response *response)
{
        struct result *res = userdata;
        const char *h;

        res->done = true;
        res->calls++;
        res->r = r;
        res->at_ms = uv_now(loop);
        if (r < 0)
                return;

        res->status = response->status;
        res->body_len = response->body_len;
        snprintf(res->body, sizeof(res->body), "%s", response->body);
        h = http_response_header(response, "Retry-After");
        res->had_retry_after = h != NULL;
        snprintf(res->retry_after, sizeof(res->retry_after), "%s", h ? h : "");
        h = http_response_header(response, "x-twice");
        snprintf(res->twice, sizeof(res->twice), "%s", h ? h : "");
}

static char *url(const char *path)
{
        static char buf[128];

        snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", server_port, path);
        return buf;
}

/* Runs the loop until res is done (or 10 s pass). */
static void wait_for(struct result *res)
{
        uint64_t start = uv_now(loop);

        while (!res->done && uv_now(loop) - start < 10000)
                uv_run(loop, UV_RUN_ONCE);
}

static struct result fetch(struct http_client *c, const struct http_request *req)
{
        struct result res = { 0 };
        int r;

        r = http_request_start(c, req, on_done, &res, NULL);
        CHECK_INT_EQ(r, 0);
        if (r == 0)
                wait_for(&res);
        CHECK(res.done);
        return res;
}

static void test_get_and_headers(struct http_client *c)
{
        struct result res = fetch(c, &(struct http_request){ .url = url("/ok") });

        CHECK_INT_EQ(res.r, 0);
        CHECK_INT_EQ(res.status, 200);
        CHECK_STR_EQ(res.body, "hello");
        CHECK_INT_EQ(res.body_len, 5);
        CHECK_STR_EQ(res.retry_after, "7");
        CHECK_STR_EQ(res.twice, "two");
        CHECK_INT_EQ(res.calls, 1);

        res = fetch(c, &(struct http_request){ .url = url("/status429") });
        CHECK_INT_EQ(res.r, 0);
        CHECK_INT_EQ(res.status, 429);
        CHECK_STR_EQ(res.retry_after, "3");
        CHECK_STR_EQ(res.body, "{}");

        res = fetch(c, &(struct http_request){ .url = url("/nothing-here") });
        CHECK_INT_EQ(res.status, 404);
        CHECK(!res.had_retry_after);
        CHECK_INT_EQ(res.body_len, 0);
        CHECK_STR_EQ(res.body, "");
}

static void test_post_body_and_headers(struct http_client *c)
{
        const char *const headers[] = { "X-Test: carried", "Content-Type: text/plain", NULL };
        char body[] = "the body\0with a NUL";
        struct result res = fetch(c, &(struct http_request){
                .method = "POST", .url = url("/echo"), .headers = headers,
                .body = body, .body_len = 8,
        });

        CHECK_INT_EQ(res.r, 0);
        CHECK_INT_EQ(res.status, 201);
        CHECK_STR_EQ(res.body, "carried|the body");

        res = fetch(c, &(struct http_request){
                .method = "PUT", .url = url("/echo"), .body = "put", .body_len = 3,
        });
        CHECK_INT_EQ(res.status, 201);
        CHECK_STR_EQ(res.body, "|put");

        /* A POST without a body sends Content-Length: 0. */
        res = fetch(c, &(struct http_request){ .method = "POST", .url = url("/echo") });
        CHECK_INT_EQ(res.status, 201);
        CHECK_STR_EQ(res.body, "|");
}

static void test_errors(struct http_client *c)
{
        struct result res;
        uint64_t start;
        char refused[64];
        uv_tcp_t closed;
        struct sockaddr_in addr;
        struct sockaddr_storage bound;
        int len = sizeof(bound), r;

        start = uv_now(loop);
        res = fetch(c, &(struct http_request){ .url = url("/hang"), .timeout_ms = 300 });
        CHECK_INT_EQ(res.r, -ETIMEDOUT);
        CHECK(res.at_ms - start >= 290);
        CHECK(res.at_ms - start < 3000);

        res = fetch(c, &(struct http_request){ .url = url("/drop") });
        CHECK_INT_EQ(res.r, -ECONNRESET);

        res = fetch(c, &(struct http_request){ .url = url("/cut") });
        CHECK_INT_EQ(res.r, -ECONNRESET);

        res = fetch(c, &(struct http_request){ .url = url("/garbage") });
        CHECK_INT_EQ(res.r, -EPROTO);

        res = fetch(c, &(struct http_request){ .url = url("/big-declared"),
                                               .max_response_bytes = 1000000 });
        CHECK_INT_EQ(res.r, -EMSGSIZE);

        res = fetch(c, &(struct http_request){ .url = url("/big-chunked"),
                                               .max_response_bytes = 250000 });
        CHECK_INT_EQ(res.r, -EMSGSIZE);

        /* The same body fits a larger limit. */
        res = fetch(c, &(struct http_request){ .url = url("/big-chunked"),
                                               .max_response_bytes = 300000 });
        CHECK_INT_EQ(res.r, 0);
        CHECK_INT_EQ(res.body_len, 300000);

        res = fetch(c, &(struct http_request){ .url = url("/big-headers") });
        CHECK_INT_EQ(res.r, -EMSGSIZE);

        /* A port nobody listens on: bind one, note it, close it. */
        uv_ip4_addr("127.0.0.1", 0, &addr);
        uv_tcp_init(loop, &closed);
        if (uv_tcp_bind(&closed, (struct sockaddr *)&addr, 0) < 0 ||
            uv_tcp_getsockname(&closed, (struct sockaddr *)&bound, &len) < 0)
                abort();
        snprintf(refused, sizeof(refused), "http://127.0.0.1:%d/",
                 ntohs(((struct sockaddr_in *)&bound)->sin_port));
        uv_close((uv_handle_t *)&closed, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        res = fetch(c, &(struct http_request){ .url = refused });
        CHECK_INT_EQ(res.r, -ECONNREFUSED);

        r = http_request_start(c, &(struct http_request){ .url = "ftp://127.0.0.1/" },
                               on_done, &res, NULL);
        CHECK_INT_EQ(r, -EINVAL);
        r = http_request_start(c, &(struct http_request){ .url = NULL }, on_done, &res, NULL);
        CHECK_INT_EQ(r, -EINVAL);
}

static void test_cancel(struct http_client *c)
{
        struct result res = { 0 };
        struct http_call *call;
        int r;

        r = http_request_start(c, &(struct http_request){ .url = url("/hang") }, on_done, &res,
                               &call);
        CHECK_INT_EQ(r, 0);
        uv_run(loop, UV_RUN_NOWAIT);
        CHECK_INT_EQ(http_client_calls(c), 1);

        http_call_cancel(call);
        CHECK(res.done);
        CHECK_INT_EQ(res.r, -ECANCELED);
        CHECK_INT_EQ(res.calls, 1);
        CHECK_INT_EQ(http_client_calls(c), 0);

        http_call_cancel(NULL);
}

/* A done() that starts the next request: a chain of five. */
struct chain {
        struct http_client *client;
        int left;
        int ok;
        bool finished;
};

static void chain_on_done(void *userdata, int r, const struct http_response *response)
{
        struct chain *ch = userdata;

        if (r == 0 && response->status == 200)
                ch->ok++;
        if (--ch->left == 0) {
                ch->finished = true;
                return;
        }
        if (http_request_start(ch->client, &(struct http_request){ .url = url("/ok") },
                               chain_on_done, ch, NULL) < 0)
                ch->finished = true;
}

static void test_chain_and_concurrency(struct http_client *c)
{
        struct chain ch = { .client = c, .left = 5 };
        struct result many[100] = { 0 };
        uint64_t start;
        int ok = 0;

        if (http_request_start(c, &(struct http_request){ .url = url("/ok") }, chain_on_done,
                               &ch, NULL) < 0)
                abort();
        start = uv_now(loop);
        while (!ch.finished && uv_now(loop) - start < 10000)
                uv_run(loop, UV_RUN_ONCE);
        CHECK_INT_EQ(ch.ok, 5);

        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                CHECK_INT_EQ(http_request_start(c, &(struct http_request){ .url = url("/ok") },
                                                on_done, &many[i], NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(many); i++) {
                wait_for(&many[i]);
                ok += many[i].r == 0 && many[i].status == 200 && many[i].calls == 1;
        }
        CHECK_INT_EQ(ok, (int)ELEMENTSOF(many));
}

static void on_closed(void *userdata)
{
        *(bool *)userdata = true;
}

/* HTTP_CALLS_MAX in flight: the next is refused; closing cancels all. */
static void test_limit_and_close(void)
{
        struct http_client *c;
        static struct result res[HTTP_CALLS_MAX + 1];
        struct result late = { 0 };
        bool closed = false;
        int cancelled = 0, r;

        CHECK_INT_EQ(http_client_new(loop, &c), 0);
        for (size_t i = 0; i < HTTP_CALLS_MAX; i++) {
                r = http_request_start(c, &(struct http_request){ .url = url("/hang") },
                                       on_done, &res[i], NULL);
                if (r < 0) {
                        CHECK_INT_EQ(r, 0);
                        break;
                }
        }
        CHECK_INT_EQ(http_client_calls(c), HTTP_CALLS_MAX);
        r = http_request_start(c, &(struct http_request){ .url = url("/hang") }, on_done,
                               &res[HTTP_CALLS_MAX], NULL);
        CHECK_INT_EQ(r, -EBUSY);

        uv_run(loop, UV_RUN_NOWAIT);
        http_client_close(c, on_closed, &closed);
        for (size_t i = 0; i < HTTP_CALLS_MAX; i++)
                cancelled += res[i].done && res[i].r == -ECANCELED && res[i].calls == 1;
        CHECK_INT_EQ(cancelled, HTTP_CALLS_MAX);
        CHECK(!res[HTTP_CALLS_MAX].done);

        CHECK_INT_EQ(http_request_start(c, &(struct http_request){ .url = url("/ok") },
                                        on_done, &late, NULL), -ESHUTDOWN);
        CHECK(!closed);
        for (int i = 0; i < 100 && !closed; i++)
                uv_run(loop, UV_RUN_ONCE);
        CHECK(closed);
}

int main(void)
{
        struct http_client *c;
        bool closed = false;

        loop = uv_default_loop();
        server_start();

        CHECK_INT_EQ(http_client_new(loop, &c), 0);
        test_get_and_headers(c);
        test_post_body_and_headers(c);
        test_errors(c);
        test_cancel(c);
        test_chain_and_concurrency(c);
        http_client_close(c, on_closed, &closed);
        http_client_close(NULL, NULL, NULL);
        http_client_free(NULL);

        test_limit_and_close();

        /* Everything the client opened is closed once the loop has run. */
        for (int i = 0; i < 100 && !closed; i++)
                uv_run(loop, UV_RUN_NOWAIT);
        CHECK(closed);
        uv_walk(loop, walk_close, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        CHECK_INT_EQ(uv_loop_close(loop), 0);

        return test_finish();
}
