/* httpd.h: a small HTTP/1.1 server on the daemon's event loop.
 *
 * For platform webhooks (Telegram, the Slack Events API) and, later,
 * /metrics and /healthz.  libwebsockets does the HTTP; it runs on the
 * daemon's libuv loop as a "foreign loop", so nothing here has a thread.
 *
 * Routes are exact paths with one method each.  A handler receives the
 * whole request (the body already read, within its limit) and answers it
 * with httpd_respond(), at once or later: a webhook answers after the
 * inbox commit.  Every limit is in struct httpd_limits; requests that
 * cross one are answered by the server (413, 411, 431, 404, 405) and never
 * reach a handler, and connections beyond connections_max are closed as
 * they are accepted. */
#ifndef PARLEY_HTTPD_H
#define PARLEY_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"

/* The [http] section: where the server listens when something needs it. */
extern const struct config_key httpd_config_keys[];

struct httpd_limits {
        size_t body_max_bytes;          /* longer bodies: 413 */
        unsigned header_timeout_s;      /* request line and headers must arrive within */
        unsigned body_timeout_s;        /* and then the body, between any two reads */
        unsigned idle_timeout_s;        /* a kept-alive connection with no request */
        unsigned response_timeout_s;    /* a handler that has not answered: close */
        unsigned connections_max;       /* open at once; more are closed at accept */
        unsigned header_bytes_max;      /* request line and headers together: 431 */
};

#define HTTPD_LIMITS_DEFAULT {                  \
                .body_max_bytes = 1024 * 1024,  \
                .header_timeout_s = 10,         \
                .body_timeout_s = 10,           \
                .idle_timeout_s = 30,           \
                .response_timeout_s = 30,       \
                .connections_max = 256,         \
                .header_bytes_max = 8192,       \
        }

struct httpd;
struct httpd_request;

/* req stays valid until httpd_respond(req). */
typedef void (*httpd_handler_fn)(void *userdata, struct httpd_request *req);

#define HTTPD_ERROR_MAX 256

/* A server that does not listen yet.  limits may be NULL for
 * HTTPD_LIMITS_DEFAULT.  -ENOPKG when libwebsockets cannot run on libuv
 * (Debian package libwebsockets-evlib-uv missing). */
int httpd_new(uv_loop_t *loop, const struct httpd_limits *limits, struct httpd **ret);

/* Listens on address (an IPv4 or IPv6 literal) and port (0: any free port,
 * see httpd_port()).  On failure error (HTTPD_ERROR_MAX bytes) says why,
 * naming the address; the server is then closed and freed as usual. */
int httpd_listen(struct httpd *h, const char *address, uint16_t port, char *error);

/* Stops listening and closes every connection; requests a handler still
 * holds stay valid until it answers them (the answer goes nowhere).  The
 * loop must then run (libwebsockets closes its handles) before
 * httpd_free().  NULL and repeated calls are accepted. */
void httpd_close(struct httpd *h);

/* Completes the close and frees.  Call after httpd_close() and after the
 * loop has run; NULL is accepted. */
void httpd_free(struct httpd *h);

uint16_t httpd_port(const struct httpd *h);

/* Serves method+path with fn.  headers names the request headers the
 * handler reads (NULL terminated; NULL for none); only those are kept.
 * -EEXIST when the path has a route for that method already. */
int httpd_route_add(struct httpd *h, const char *method, const char *path,
                    const char *const *headers, httpd_handler_fn fn, void *userdata);

const char *httpd_request_method(const struct httpd_request *req);
const char *httpd_request_path(const struct httpd_request *req);

/* A header the route named, NULL if the request did not carry it. */
const char *httpd_request_header(const struct httpd_request *req, const char *name);

/* The body, NUL terminated (the NUL not counted in *ret_len). */
const char *httpd_request_body(const struct httpd_request *req, size_t *ret_len);

/* Answers req, exactly once, and releases it.  body is copied.  When the
 * connection or the server has closed meanwhile, only releases it. */
void httpd_respond(struct httpd_request *req, int status, const char *content_type,
                   const void *body, size_t body_len);

#endif
