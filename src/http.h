/* http.h: HTTP client requests on the daemon's event loop.
 *
 * libcurl's multi-socket interface driven by libuv: curl's sockets are
 * watched with uv_poll handles and its timer is a uv_timer, so a request
 * never blocks the loop and many run at once over shared connections.
 * Every platform adapter makes its REST calls through one client.
 *
 * Contract:
 *   - done() runs exactly once per started call, on the loop: with r = 0 and
 *     a response (any HTTP status), or with r < 0 and no response.
 *   - r values: -ETIMEDOUT (no complete answer within timeout_ms),
 *     -ECONNREFUSED (could not connect), -EHOSTUNREACH (name not resolved),
 *     -ECONNRESET (connection dropped, empty or cut-short answer),
 *     -EMSGSIZE (the answer is longer than max_response_bytes), -ECANCELED
 *     (http_call_cancel() or the client closed), -EPROTO (not HTTP, TLS
 *     failure), -EINVAL (bad URL), -ENOMEM.
 *   - Nothing here logs: URLs may carry secrets (a Telegram bot token is in
 *     the path), so errors are numbers, never curl's text. */
#ifndef PARLEY_HTTP_H
#define PARLEY_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define HTTP_TIMEOUT_DEFAULT_MS (30 * 1000)
#define HTTP_RESPONSE_MAX_DEFAULT (1024 * 1024)
#define HTTP_RESPONSE_HEADERS_MAX (64 * 1024)  /* all response header lines */
#define HTTP_CALLS_MAX 4096                     /* calls in flight per client */
#define HTTP_HOST_CONNECTIONS_MAX 64            /* open connections per host */

struct http_client;
struct http_call;

struct http_request {
        const char *method;             /* "GET", "POST", "PUT", "DELETE"...; NULL: GET */
        const char *url;                /* http or https only */
        const char *const *headers;     /* "Name: value", NULL terminated; may be NULL */
        const void *body;               /* copied; may be NULL */
        size_t body_len;
        uint64_t timeout_ms;            /* the whole exchange; 0: HTTP_TIMEOUT_DEFAULT_MS */
        size_t max_response_bytes;      /* body limit; 0: HTTP_RESPONSE_MAX_DEFAULT */
};

/* Valid only during done().  body is NUL terminated (the NUL is not counted
 * in body_len). */
struct http_response {
        long status;
        const char *body;
        size_t body_len;
        const struct http_call *call;   /* for http_response_header() */
};

typedef void (*http_done_fn)(void *userdata, int r, const struct http_response *response);

int http_client_new(uv_loop_t *loop, struct http_client **ret);

/* Cancels every call in flight (each done() runs with -ECANCELED before
 * this returns) and closes the client's handles.  The memory is released
 * once the loop has run the close callbacks; closed(userdata), if given,
 * runs then.  NULL is accepted. */
void http_client_close(struct http_client *c, void (*closed)(void *userdata), void *userdata);
void http_client_free(struct http_client *c);

/* Starts a request.  *ret_call (may be NULL) identifies it for
 * http_call_cancel() until done() runs.  -EBUSY with HTTP_CALLS_MAX in
 * flight, -EINVAL for a URL that is not http:// or https://, -ESHUTDOWN
 * once the client closes; done() is not called when this fails. */
int http_request_start(struct http_client *c, const struct http_request *req,
                       http_done_fn done, void *userdata, struct http_call **ret_call);

/* done() runs at once with -ECANCELED.  NULL is accepted. */
void http_call_cancel(struct http_call *call);

/* The value of the last response header called name (case-insensitive),
 * without surrounding blanks; NULL if absent. */
const char *http_response_header(const struct http_response *response, const char *name);

/* Calls in flight. */
size_t http_client_calls(const struct http_client *c);

#endif
