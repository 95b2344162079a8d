/* console.c: the local console adapter.
 *
 * Each line on standard input is a message from the local user in one
 * direct chat named "console"; replies are written to standard output, one
 * line per reply line.  End of input asks the daemon to finish what it has
 * in hand and exit.  Reading pauses while CONSOLE_INFLIGHT_MAX lines wait
 * to be stored, so a fast producer cannot grow memory without bound. */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapter.h"
#include "log.h"
#include "macro.h"

#define CONSOLE_LINE_MAX 65536          /* longer lines are refused, not cut */
#define CONSOLE_INFLIGHT_MAX 64
#define CONSOLE_READ_CHUNK 65536
#define CONSOLE_CHAT_ID "console"

static const struct config_key console_config_keys[] = {
        { "console", "enabled", CONFIG_BOOL, "false", false, 0, 0, NULL,
          "read messages from standard input and write replies to standard output" },
        { "console", "user", CONFIG_STRING, NULL, false, 0, 0, NULL,
          "the local user's name (default: $USER)" },
        { NULL },
};

struct console {
        struct adapter *adapter;
        uv_loop_t *loop;
        char *user;

        /* Input: a stream for a terminal, pipe or socket; reads on the
         * thread pool for a regular file or a device. */
        bool use_stream;
        union {
                uv_stream_t stream;
                uv_pipe_t pipe;
                uv_tty_t tty;
        } in;
        uv_fs_t in_req;
        char *read_buf;
        size_t buf_start;               /* unconsumed input in read_buf */
        size_t buf_len;

        char *line;                     /* the line being assembled */
        size_t line_len;
        bool line_too_long;
        uint64_t line_no;
        char run_id[48];                /* makes event ids unique across runs */

        unsigned inflight;
        bool reading;
        bool eof;
        bool stopped;                   /* no more input taken */
        bool closed;
        bool reported_stopped;

        /* Output: the same choice as input. */
        bool out_stream;
        union {
                uv_stream_t stream;
                uv_pipe_t pipe;
                uv_tty_t tty;
        } out;
        uint64_t sent;
        unsigned open_handles;
};

struct console_write {
        uv_write_t req;
        uv_fs_t fs;
        struct console *console;
        int64_t id;
        char *text;
};

static void console_read_more(struct console *c);
static void console_release(struct console *c);

static int console_create(struct adapter *a, const struct config *config, void **ret)
{
        struct console *c = calloc(1, sizeof(*c));
        const char *user = config_get_string(config, "console", "user");
        struct timespec now;

        if (!c)
                return -ENOMEM;

        if (!user)
                user = getenv("USER");
        c->user = strdup(user && user[0] ? user : "local");
        c->line = malloc(CONSOLE_LINE_MAX + 1);
        c->read_buf = malloc(CONSOLE_READ_CHUNK);
        if (!c->user || !c->line || !c->read_buf) {
                free(c->user);
                free(c->line);
                free(c->read_buf);
                free(c);
                return -ENOMEM;
        }

        clock_gettime(CLOCK_REALTIME, &now);
        snprintf(c->run_id, sizeof(c->run_id), "%" PRId64 ".%ld",
                 (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, (long)getpid());

        c->adapter = a;
        c->loop = adapter_loop(a);
        *ret = c;
        return 0;
}

static void console_on_received(void *userdata, int r _unused_)
{
        struct console *c = userdata;

        /* The core has logged a failure to store it. */
        c->inflight--;

        console_read_more(c);
}

static void console_line_submit(struct console *c)
{
        const struct log_fields f = { .adapter = "console" };
        char event_id[96];
        struct adapter_message m;
        int r;

        c->line_no++;

        if (c->line_too_long) {
                log_record(LOG_WARNING, &f, "line %" PRIu64 " is longer than %d bytes; ignoring it",
                           c->line_no, CONSOLE_LINE_MAX);
                c->line_too_long = false;
                c->line_len = 0;
                return;
        }

        if (c->line_len > 0 && c->line[c->line_len - 1] == '\r')
                c->line_len--;
        c->line[c->line_len] = '\0';
        c->line_len = 0;

        if (strspn(c->line, " \t") == strlen(c->line))
                return;

        snprintf(event_id, sizeof(event_id), "%s:%" PRIu64, c->run_id, c->line_no);
        m = (struct adapter_message){
                .event_id = event_id,
                .chat_id = CONSOLE_CHAT_ID,
                .user_id = c->user,
                .user_name = c->user,
                .message_id = event_id,
                .text = c->line,
                .direct = true,
                .addressed = true,
                .sent_at_ms = 0,
        };

        r = adapter_receive(c->adapter, &m, 1, NULL, console_on_received, c);
        if (r < 0) {
                log_record(LOG_ERR, &f, "line %" PRIu64 " was not taken: %s", c->line_no,
                           strerror(-r));
                return;
        }
        c->inflight++;
}

/* Takes lines from the read buffer while there is room in flight. */
static void console_consume(struct console *c)
{
        while (c->buf_len > 0 && c->inflight < CONSOLE_INFLIGHT_MAX) {
                const char *p = c->read_buf + c->buf_start;
                const char *nl = memchr(p, '\n', c->buf_len);
                size_t take = nl ? (size_t)(nl - p) : c->buf_len;

                if (c->line_len + take > CONSOLE_LINE_MAX)
                        c->line_too_long = true;
                if (!c->line_too_long) {
                        memcpy(c->line + c->line_len, p, take);
                        c->line_len += take;
                }

                take += nl ? 1 : 0;
                c->buf_start += take;
                c->buf_len -= take;
                if (nl)
                        console_line_submit(c);
        }
}

static void console_at_eof(struct console *c)
{
        if (c->line_len > 0 || c->line_too_long)
                console_line_submit(c);

        c->eof = true;
        adapter_request_shutdown(c->adapter, "end of console input");
}

static void console_read_failed(struct console *c, int r)
{
        log_record(LOG_ERR, &(struct log_fields){ .adapter = "console" },
                   "reading standard input failed: %s; treating it as its end", uv_strerror(r));
        console_at_eof(c);
}

static void console_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        struct console *c = h->data;

        *buf = uv_buf_init(c->read_buf, CONSOLE_READ_CHUNK);
}

/* Input arrived in read_buf: hand over lines, and pause reading while any
 * of it is left. */
static void console_on_input(struct console *c, size_t n)
{
        c->buf_start = 0;
        c->buf_len = n;
        console_consume(c);

        if (c->buf_len > 0 && c->reading && c->use_stream) {
                uv_read_stop(&c->in.stream);
                c->reading = false;
        }
        if (c->buf_len == 0 && !c->reading)
                console_read_more(c);
}

static void console_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct console *c = s->data;

        if (n == 0)
                return;
        if (n < 0) {
                uv_read_stop(s);
                c->reading = false;
                if (n == UV_EOF)
                        console_at_eof(c);
                else
                        console_read_failed(c, (int)n);
                return;
        }

        console_on_input(c, (size_t)n);
}

static void console_on_fs_read(uv_fs_t *req)
{
        struct console *c = req->data;
        ssize_t n = req->result;

        uv_fs_req_cleanup(req);
        c->reading = false;
        c->open_handles--;

        if (c->stopped) {
                console_release(c);
                return;
        }
        if (n == 0) {
                console_at_eof(c);
                return;
        }
        if (n < 0) {
                console_read_failed(c, (int)n);
                return;
        }

        console_on_input(c, (size_t)n);
}

/* Continues reading once the buffered lines are all handed over. */
static void console_read_more(struct console *c)
{
        uv_buf_t b;
        int r;

        if (c->eof || c->stopped || c->reading)
                return;

        console_consume(c);
        if (c->buf_len > 0)
                return;

        c->reading = true;
        if (c->use_stream) {
                r = uv_read_start(&c->in.stream, console_on_alloc, console_on_read);
                if (r < 0) {
                        c->reading = false;
                        console_read_failed(c, r);
                }
                return;
        }

        b = uv_buf_init(c->read_buf, CONSOLE_READ_CHUNK);
        c->in_req.data = c;
        r = uv_fs_read(c->loop, &c->in_req, STDIN_FILENO, &b, 1, -1, console_on_fs_read);
        if (r < 0) {
                c->reading = false;
                console_read_failed(c, r);
                return;
        }
        c->open_handles++;
}

/* Reports the adapter stopped once closed and nothing is left open. */
static void console_release(struct console *c)
{
        if (c->closed && c->open_handles == 0 && !c->reported_stopped) {
                c->reported_stopped = true;
                adapter_set_state(c->adapter, ADAPTER_STOPPED, NULL);
        }
}

static void console_on_close(uv_handle_t *h)
{
        struct console *c = h->data;

        c->open_handles--;
        console_release(c);
}

/* A terminal or a pipe is read as a stream; anything else (a file, a
 * device such as /dev/null) through the loop's thread pool. */
static int console_stream_open(struct console *c, int fd, uv_stream_t *s, bool readable,
                               bool *ret_stream)
{
        uv_handle_type type = uv_guess_handle(fd);
        int r;

        if (type == UV_TTY)
                r = uv_tty_init(c->loop, (uv_tty_t *)s, fd, readable);
        else if (type == UV_NAMED_PIPE || type == UV_TCP) {
                r = uv_pipe_init(c->loop, (uv_pipe_t *)s, 0);
                if (r == 0) {
                        r = uv_pipe_open((uv_pipe_t *)s, fd);
                        if (r < 0)
                                uv_close((uv_handle_t *)s, NULL);
                }
        } else {
                *ret_stream = false;
                return 0;
        }
        if (r < 0)
                return r;

        s->data = c;
        c->open_handles++;
        *ret_stream = true;
        return 0;
}

static int console_start(void *state)
{
        struct console *c = state;
        int r;

        r = console_stream_open(c, STDIN_FILENO, &c->in.stream, true, &c->use_stream);
        if (r < 0)
                return r;

        r = console_stream_open(c, STDOUT_FILENO, &c->out.stream, false, &c->out_stream);
        if (r < 0)
                return r;

        adapter_set_state(c->adapter, ADAPTER_CONNECTED, NULL);
        console_read_more(c);
        return 0;
}

static void console_stop_receiving(void *state)
{
        struct console *c = state;

        c->stopped = true;
        if (c->use_stream) {
                uv_read_stop(&c->in.stream);
                uv_close((uv_handle_t *)&c->in.stream, console_on_close);
                c->use_stream = false;
        } else if (c->reading) {
                /* A read on the thread pool may block on a terminal or a
                 * FIFO; cancel it if it has not started. */
                uv_cancel((uv_req_t *)&c->in_req);
        }
}

static void console_close(void *state)
{
        struct console *c = state;

        console_stop_receiving(c);
        c->closed = true;
        if (c->out_stream) {
                uv_close((uv_handle_t *)&c->out.stream, console_on_close);
                c->out_stream = false;
        }
        console_release(c);
}

static void console_write_finish(struct console_write *w, int r)
{
        struct console *c = w->console;
        char platform_id[32];

        if (r < 0) {
                adapter_send_done(c->adapter, w->id, ADAPTER_SEND_RETRY, NULL, 0, uv_strerror(r));
        } else {
                snprintf(platform_id, sizeof(platform_id), "%" PRIu64, ++c->sent);
                adapter_send_done(c->adapter, w->id, ADAPTER_SEND_OK, platform_id, 0, NULL);
        }
        free(w->text);
        free(w);
}

static void console_on_write(uv_write_t *req, int r)
{
        console_write_finish(req->data, r);
}

static void console_on_fs_write(uv_fs_t *req)
{
        struct console_write *w = req->data;
        int r = req->result < 0 ? (int)req->result : 0;

        struct console *c = w->console;

        uv_fs_req_cleanup(req);
        c->open_handles--;
        console_write_finish(w, r);
        console_release(c);
}

static int console_send(void *state, const struct adapter_outgoing *out)
{
        struct console *c = state;
        struct console_write *w = calloc(1, sizeof(*w));
        uv_buf_t b;
        int r;

        if (!w)
                return -ENOMEM;

        w->console = c;
        w->id = out->id;
        if (asprintf(&w->text, "%s\n", out->text) < 0) {
                free(w);
                return -ENOMEM;
        }
        b = uv_buf_init(w->text, strlen(w->text));

        if (c->out_stream) {
                w->req.data = w;
                r = uv_write(&w->req, &c->out.stream, &b, 1, console_on_write);
        } else {
                w->fs.data = w;
                r = uv_fs_write(c->loop, &w->fs, STDOUT_FILENO, &b, 1, -1, console_on_fs_write);
                if (r == 0)
                        c->open_handles++;
        }
        if (r < 0) {
                free(w->text);
                free(w);
        }
        return r;
}

static void console_destroy(void *state)
{
        struct console *c = state;

        if (!c)
                return;

        free(c->user);
        free(c->line);
        free(c->read_buf);
        free(c);
}

const struct adapter_ops console_adapter_ops = {
        .name = "console",
        .config_keys = console_config_keys,
        .chat_send_interval_ms = 0,
        .create = console_create,
        .start = console_start,
        .stop_receiving = console_stop_receiving,
        .close = console_close,
        .send = console_send,
        .destroy = console_destroy,
};
