/* log.c: journald records with fields, or plain stderr lines. */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_LINE_MAX 4096

static const char *log_ident = "parley";
static int log_max_priority = LOG_INFO;
static bool log_journal;

/* systemd sets JOURNAL_STREAM to "DEVICE:INODE" of the stream it connected
 * stderr to; only when stderr is still that stream do records belong in
 * the journal. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;

        if (fstat(STDERR_FILENO, &st) < 0)
                return false;

        return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void log_open(const char *ident)
{
        log_ident = ident;
        log_journal = stderr_is_journal();
}

void log_use_journal(void)
{
        log_journal = true;
}

bool log_to_journal(void)
{
        return log_journal;
}

void log_set_max_priority(int priority)
{
        log_max_priority = priority;
}

int log_get_max_priority(void)
{
        return log_max_priority;
}

int log_priority_from_string(const char *s)
{
        static const struct {
                const char *name;
                int priority;
        } names[] = {
                { "error", LOG_ERR },   { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
                { "info", LOG_INFO },   { "debug", LOG_DEBUG },
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i].name) == 0)
                        return names[i].priority;

        return -EINVAL;
}

/* Only the fields that are set become journal fields. */
static void log_journal_send(int priority, const struct log_fields *f, const char *text)
{
        char message[LOG_LINE_MAX + 16], prio[32], ident[128];
        char adapter[256], chat[256], msg[256];
        struct iovec iov[6];
        int n = 0;

        snprintf(message, sizeof(message), "MESSAGE=%s", text);
        iov[n++] = (struct iovec){ message, strlen(message) };
        snprintf(prio, sizeof(prio), "PRIORITY=%d", priority);
        iov[n++] = (struct iovec){ prio, strlen(prio) };
        snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", log_ident);
        iov[n++] = (struct iovec){ ident, strlen(ident) };

        if (f && f->adapter) {
                snprintf(adapter, sizeof(adapter), "ADAPTER=%s", f->adapter);
                iov[n++] = (struct iovec){ adapter, strlen(adapter) };
        }
        if (f && f->chat) {
                snprintf(chat, sizeof(chat), "CHAT=%s", f->chat);
                iov[n++] = (struct iovec){ chat, strlen(chat) };
        }
        if (f && f->msg) {
                snprintf(msg, sizeof(msg), "MSG=%s", f->msg);
                iov[n++] = (struct iovec){ msg, strlen(msg) };
        }

        sd_journal_sendv(iov, n);
}

/* "parleyd: telegram: chat 42: warning: text", one write per record so
 * threads do not interleave. */
static void log_stderr_send(int priority, const struct log_fields *f, const char *text)
{
        const char *adapter = f ? f->adapter : NULL;
        const char *chat = f ? f->chat : NULL;
        const char *level = priority <= LOG_ERR       ? "error: "
                            : priority == LOG_WARNING ? "warning: "
                                                      : "";

        fprintf(stderr, "%s: %s%s%s%s%s%s%s\n", log_ident,
                adapter ? adapter : "", adapter ? ": " : "",
                chat ? "chat " : "", chat ? chat : "", chat ? ": " : "",
                level, text);
}

void log_record(int priority, const struct log_fields *f, const char *format, ...)
{
        char text[LOG_LINE_MAX];
        int saved_errno = errno;
        va_list ap;

        if (priority > log_max_priority)
                return;

        va_start(ap, format);
        vsnprintf(text, sizeof(text), format, ap);
        va_end(ap);

        if (log_journal)
                log_journal_send(priority, f, text);
        else
                log_stderr_send(priority, f, text);

        errno = saved_errno;
}
