/* test-httpd: the HTTP server, driven by the HTTP client and by raw
 * sockets on the same loop.
 *
 * Routes and their answers (at once and after a delay, as a webhook
 * answers after its commit), the server's own refusals (404, 405, 411,
 * 413, 431), each limit crossed (body size, header timeout, response
 * timeout, connections), a late answer to a closed connection, and a close
 * with a request still held that leaves the loop clean. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http.h"
#include "httpd.h"
#include "macro.h"
#include "test.h"

static uv_loop_t *loop;
static struct http_client *client;
static char base_url[64];

/* ---- handlers ---- */

struct seen {
        int calls;
        char method[8];
        char path[64];
        char secret[64];
        bool secret_present;
        char other[64];
        char body[4096];
        size_t body_len;
        struct httpd_request *held;     /* not answered yet */
};

static void record(struct seen *s, struct httpd_request *req)
{
        const char *h = httpd_request_header(req, "X-Secret");
        const char *body;
        size_t len;

        s->calls++;
        snprintf(s->method, sizeof(s->method), "%s", httpd_request_method(req));
        snprintf(s->path, sizeof(s->path), "%s", httpd_request_path(req));
        s->secret_present = h != NULL;
        snprintf(s->secret, sizeof(s->secret), "%s", h ? h : "");
        h = httpd_request_header(req, "User-Agent");
        snprintf(s->other, sizeof(s->other), "%s", h ? h : "(not kept)");
        body = httpd_request_body(req, &len);
        s->body_len = len;
        snprintf(s->body, sizeof(s->body), "%s", body);
}

static void on_now(void *userdata, struct httpd_request *req)
{
        struct seen *s = userdata;
        char answer[128];

        record(s, req);
        snprintf(answer, sizeof(answer), "now %zu", s->body_len);
        httpd_respond(req, 200, "text/plain", answer, strlen(answer));
}

/* Answers 50 ms later, from a timer. */
struct later {
        uv_timer_t timer;
        struct httpd_request *req;
};

static void later_on_closed(uv_handle_t *h)
{
        free(h->data);
}

static void later_on_timer(uv_timer_t *t)
{
        struct later *l = t->data;

        httpd_respond(l->req, 202, "application/json", "{\"later\":true}", 14);
        uv_close((uv_handle_t *)t, later_on_closed);
}

static void on_later(void *userdata, struct httpd_request *req)
{
        struct later *l = calloc(1, sizeof(*l));

        record(userdata, req);
        if (!l)
                abort();
        l->req = req;
        uv_timer_init(loop, &l->timer);
        l->timer.data = l;
        uv_timer_start(&l->timer, later_on_timer, 50, 0);
}

static void on_hold(void *userdata, struct httpd_request *req)
{
        struct seen *s = userdata;

        record(s, req);
        s->held = req;
}

/* ---- the HTTP client side ---- */

struct result {
        bool done;
        int r;
        long status;
        char body[256];
};

static void on_done(void *userdata, int r, const struct http_response *response)
{
        struct result *res = userdata;

        res->done = true;
        res->r = r;
        if (r == 0) {
                res->status = response->status;
                snprintf(res->body, sizeof(res->body), "%s", response->body);
        }
}

static void run_until(const bool *flag, uint64_t max_ms)
{
        uint64_t start;

        uv_update_time(loop);
        start = uv_now(loop);
        while (!*flag && uv_now(loop) - start < max_ms)
                uv_run(loop, UV_RUN_ONCE);
}

static struct result call(const char *method, const char *path, const char *const *headers,
                          const char *body, size_t body_len)
{
        struct result res = { 0 };
        char u[128];

        snprintf(u, sizeof(u), "%s%s", base_url, path);
        if (http_request_start(client, &(struct http_request){
                        .method = method, .url = u, .headers = headers,
                        .body = body, .body_len = body_len, .timeout_ms = 5000 },
                        on_done, &res, NULL) < 0)
                abort();
        run_until(&res.done, 6000);
        CHECK(res.done);
        return res;
}

/* ---- raw sockets, for what a polite client never does ---- */

struct raw {
        uv_tcp_t tcp;
        uv_connect_t connect;
        uv_write_t write;
        const char *send;
        char received[512];
        size_t received_len;
        bool connected;
        bool eof;
        bool closed;
        uint64_t eof_at_ms;
};

static void raw_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        struct raw *r = h->data;

        *buf = uv_buf_init(r->received + r->received_len,
                           (unsigned)(sizeof(r->received) - 1 - r->received_len));
}

static void raw_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct raw *r = s->data;

        if (n < 0) {
                r->eof = true;
                r->eof_at_ms = uv_now(loop);
                uv_read_stop(s);
                return;
        }
        r->received_len += (size_t)n;
        r->received[r->received_len] = '\0';
}

static void raw_on_written(uv_write_t *w, int status)
{
}

static void raw_on_connect(uv_connect_t *c, int status)
{
        struct raw *r = c->data;
        uv_buf_t b;

        r->connected = status == 0;
        if (status < 0) {
                r->eof = true;
                return;
        }
        uv_read_start((uv_stream_t *)&r->tcp, raw_on_alloc, raw_on_read);
        if (r->send) {
                b = uv_buf_init((char *)r->send, (unsigned)strlen(r->send));
                uv_write(&r->write, (uv_stream_t *)&r->tcp, &b, 1, raw_on_written);
        }
}

static void raw_open(struct raw *r, uint16_t port, const char *send)
{
        struct sockaddr_in addr;

        memset(r, 0, sizeof(*r));
        r->send = send;
        uv_ip4_addr("127.0.0.1", port, &addr);
        uv_tcp_init(loop, &r->tcp);
        r->tcp.data = r;
        r->connect.data = r;
        if (uv_tcp_connect(&r->connect, &r->tcp, (struct sockaddr *)&addr, raw_on_connect) < 0)
                abort();
}

static void raw_on_closed(uv_handle_t *h)
{
        ((struct raw *)h->data)->closed = true;
}

/* Closes and waits, so r may go out of scope. */
static void raw_close(struct raw *r)
{
        uv_close((uv_handle_t *)&r->tcp, raw_on_closed);
        while (!r->closed)
                uv_run(loop, UV_RUN_ONCE);
}

/* ---- tests ---- */

static void test_routes(struct seen *now, struct seen *later)
{
        const char *const headers[] = { "X-Secret: s3cr3t", "User-Agent: test", NULL };
        struct result res;

        res = call("POST", "/now", headers, "{\"a\":1}", 7);
        CHECK_INT_EQ(res.r, 0);
        CHECK_INT_EQ(res.status, 200);
        CHECK_STR_EQ(res.body, "now 7");
        CHECK_INT_EQ(now->calls, 1);
        CHECK_STR_EQ(now->method, "POST");
        CHECK_STR_EQ(now->path, "/now");
        CHECK_STR_EQ(now->secret, "s3cr3t");
        CHECK_STR_EQ(now->body, "{\"a\":1}");
        /* Only the headers the route named are kept. */
        CHECK_STR_EQ(now->other, "(not kept)");

        res = call("POST", "/now", NULL, "", 0);
        CHECK_INT_EQ(res.status, 200);
        CHECK_STR_EQ(res.body, "now 0");
        CHECK(!now->secret_present);

        res = call("POST", "/later", headers, "x", 1);
        CHECK_INT_EQ(res.r, 0);
        CHECK_INT_EQ(res.status, 202);
        CHECK_STR_EQ(res.body, "{\"later\":true}");
        CHECK_INT_EQ(later->calls, 1);
        CHECK_STR_EQ(later->other, "test");

        res = call("GET", "/now", NULL, NULL, 0);
        CHECK_INT_EQ(res.status, 405);
        res = call("POST", "/nowhere", NULL, "x", 1);
        CHECK_INT_EQ(res.status, 404);
        CHECK_INT_EQ(now->calls, 2);

        /* Keep-alive after refusals and answers: the connection still works. */
        res = call("POST", "/now", NULL, "abc", 3);
        CHECK_STR_EQ(res.body, "now 3");
}

static void test_concurrent(struct seen *later)
{
        struct result res[40] = { 0 };
        int ok = 0;
        char u[128];

        snprintf(u, sizeof(u), "%s/later", base_url);
        for (size_t i = 0; i < ELEMENTSOF(res); i++)
                if (http_request_start(client, &(struct http_request){
                                .method = "POST", .url = u, .body = "c", .body_len = 1 },
                                on_done, &res[i], NULL) < 0)
                        abort();
        for (size_t i = 0; i < ELEMENTSOF(res); i++) {
                run_until(&res[i].done, 5000);
                ok += res[i].r == 0 && res[i].status == 202;
        }
        CHECK_INT_EQ(ok, (int)ELEMENTSOF(res));
        CHECK_INT_EQ(later->calls, 1 + (int)ELEMENTSOF(res));
}

static void test_limits(struct httpd *h, struct seen *now, struct seen *hold)
{
        static char big[3000];
        struct raw a, b, c;
        struct result res;
        uint64_t start;
        int calls = now->calls;

        memset(big, 'b', sizeof(big) - 1);
        res = call("POST", "/now", NULL, big, 2001);
        CHECK_INT_EQ(res.status, 413);
        res = call("POST", "/now", NULL, big, 2000);
        CHECK_INT_EQ(res.status, 200);
        CHECK_STR_EQ(res.body, "now 2000");
        CHECK_INT_EQ(now->calls, calls + 1);

        /* A chunked body has no length to check up front. */
        raw_open(&a, httpd_port(h), "POST /now HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        run_until(&a.eof, 3000);
        CHECK(strncmp(a.received, "HTTP/1.1 411", 12) == 0);
        raw_close(&a);

        /* Headers that never finish: closed after header_timeout_s (1 s). */
        uv_update_time(loop);
        start = uv_now(loop);
        raw_open(&b, httpd_port(h), "POST /now HTTP/1.1\r\nHost: x\r\n");
        run_until(&b.eof, 5000);
        CHECK(b.eof);
        CHECK(b.eof_at_ms - start >= 900);
        CHECK_INT_EQ(b.received_len, 0);
        raw_close(&b);

        /* A handler that never answers: closed after response_timeout_s
         * (1 s), with nothing written. */
        uv_update_time(loop);
        start = uv_now(loop);
        raw_open(&a, httpd_port(h), "POST /hold HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 1\r\n\r\nh");
        run_until(&a.eof, 5000);
        CHECK(a.eof);
        CHECK(a.eof_at_ms - start >= 900);
        CHECK_INT_EQ(a.received_len, 0);
        raw_close(&a);
        CHECK_INT_EQ(hold->calls, 1);
        CHECK(hold->held != NULL);
        /* The late answer goes nowhere and frees the request. */
        if (hold->held)
                httpd_respond(hold->held, 200, NULL, "late", 4);
        hold->held = NULL;

        /* Headers over header_bytes_max never reach a handler. */
        {
                static char huge[6000];
                char *p = huge;

                p += sprintf(p, "POST /now HTTP/1.1\r\nHost: x\r\nX-Long: ");
                memset(p, 'l', 4000);
                strcpy(p + 4000, "\r\nContent-Length: 1\r\n\r\nx");
                calls = now->calls;
                raw_open(&c, httpd_port(h), huge);
                run_until(&c.eof, 3000);
                CHECK(c.eof);
                CHECK(strstr(c.received, "200 OK") == NULL);
                CHECK_INT_EQ(now->calls, calls);
                raw_close(&c);
        }

}

/* connections_max (3): a fourth is closed as it arrives, and one is
 * accepted again once another ends. */
static void test_connections_max(void)
{
        const struct httpd_limits tight = {
                .body_max_bytes = 100, .header_timeout_s = 5, .body_timeout_s = 5,
                .idle_timeout_s = 5, .response_timeout_s = 5, .connections_max = 3,
                .header_bytes_max = 1024,
        };
        const char *const request = "POST /now HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                "Connection: close\r\n\r\nx";
        struct seen seen = { 0 };
        char error[HTTPD_ERROR_MAX];
        struct raw d, e, f, g;
        struct httpd *h;
        bool closed;

        if (httpd_new(loop, &tight, &h) < 0 || httpd_listen(h, "127.0.0.1", 0, error) < 0 ||
            httpd_route_add(h, "POST", "/now", NULL, on_now, &seen) < 0)
                abort();

        raw_open(&d, httpd_port(h), NULL);
        raw_open(&e, httpd_port(h), NULL);
        raw_open(&f, httpd_port(h), NULL);
        run_until(&f.connected, 1000);
        for (int i = 0; i < 20; i++)
                uv_run(loop, UV_RUN_NOWAIT);

        raw_open(&g, httpd_port(h), request);
        run_until(&g.eof, 3000);
        CHECK(g.eof);
        CHECK_INT_EQ(g.received_len, 0);
        CHECK_INT_EQ(seen.calls, 0);
        raw_close(&g);

        raw_close(&d);
        for (int i = 0; i < 20; i++)
                uv_run(loop, UV_RUN_NOWAIT);
        raw_open(&g, httpd_port(h), request);
        run_until(&g.eof, 3000);
        CHECK(strncmp(g.received, "HTTP/1.1 200", 12) == 0);
        CHECK_INT_EQ(seen.calls, 1);
        raw_close(&g);
        raw_close(&e);
        raw_close(&f);

        httpd_close(h);
        closed = false;
        run_until(&closed, 200);
        httpd_free(h);
}

static void walk_close(uv_handle_t *h, void *arg)
{
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

static void on_client_closed(void *userdata)
{
        *(bool *)userdata = true;
}

int main(void)
{
        const struct httpd_limits limits = {
                .body_max_bytes = 2000,
                .header_timeout_s = 1,
                .body_timeout_s = 2,
                .idle_timeout_s = 5,
                .response_timeout_s = 1,
                .connections_max = 64,
                .header_bytes_max = 2048,
        };
        const char *const secret_only[] = { "x-secret", NULL };
        const char *const kept[] = { "x-secret", "User-Agent", NULL };
        struct seen now = { 0 }, later = { 0 }, hold = { 0 }, after = { 0 };
        char error[HTTPD_ERROR_MAX] = "";
        struct httpd *h, *other;
        bool closed = false;
        struct result res;
        int r;

        loop = uv_default_loop();
        if (http_client_new(loop, &client) < 0)
                abort();

        r = httpd_new(loop, &limits, &h);
        if (r == -ENOPKG)
                TEST_SKIP("libwebsockets has no libuv support (libwebsockets-evlib-uv)");
        CHECK_INT_EQ(r, 0);
        r = httpd_listen(h, "127.0.0.1", 0, error);
        CHECK_INT_EQ(r, 0);
        if (r < 0)
                return test_finish();
        CHECK(httpd_port(h) > 0);
        snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%u", httpd_port(h));

        CHECK_INT_EQ(httpd_route_add(h, "POST", "/now", secret_only, on_now, &now), 0);
        CHECK_INT_EQ(httpd_route_add(h, "POST", "/later", kept, on_later, &later), 0);
        CHECK_INT_EQ(httpd_route_add(h, "POST", "/hold", NULL, on_hold, &hold), 0);
        CHECK_INT_EQ(httpd_route_add(h, "POST", "/now", NULL, on_now, &now), -EEXIST);

        /* The same port twice: the second says which address it wanted. */
        CHECK_INT_EQ(httpd_new(loop, NULL, &other), 0);
        r = httpd_listen(other, "127.0.0.1", httpd_port(h), error);
        CHECK_INT_EQ(r, -EADDRNOTAVAIL);
        CHECK(strstr(error, "127.0.0.1 port") != NULL);
        CHECK_INT_EQ(httpd_listen(h, "127.0.0.1", 0, error), -EALREADY);
        /* Closed in the same loop turn as it was made. */
        httpd_close(other);

        test_routes(&now, &later);
        test_concurrent(&later);
        test_limits(h, &now, &hold);
        test_connections_max();

        /* A request held across the close: answered afterwards, freed. */
        CHECK_INT_EQ(httpd_route_add(h, "POST", "/after", NULL, on_hold, &after), 0);
        {
                char u[128];

                snprintf(u, sizeof(u), "%s/after", base_url);
                res = (struct result){ 0 };
                if (http_request_start(client, &(struct http_request){
                                .method = "POST", .url = u, .body = "a", .body_len = 1 },
                                on_done, &res, NULL) < 0)
                        abort();
                for (int i = 0; i < 200 && !after.held; i++)
                        uv_run(loop, UV_RUN_ONCE);
        }
        CHECK(after.held != NULL);
        httpd_close(h);
        httpd_close(h);
        run_until(&res.done, 3000);
        /* curl tries a fresh connection once a reused one dies; the server
         * is gone by then. */
        CHECK(res.r == -ECONNRESET || res.r == -ECONNREFUSED);
        if (after.held)
                httpd_respond(after.held, 200, NULL, NULL, 0);

        http_client_close(client, on_client_closed, &closed);
        uv_run(loop, UV_RUN_DEFAULT);
        CHECK(closed);
        httpd_free(h);
        httpd_free(other);
        httpd_free(NULL);

        uv_walk(loop, walk_close, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        CHECK_INT_EQ(uv_loop_close(loop), 0);
        return test_finish();
}
