/* log.h: one way to report what the daemon and the tools do.
 *
 * Under systemd (stderr connected to the journal) records go to journald
 * with structured fields; otherwise they are plain lines on stderr with the
 * same words.  Callers log once, at the level that decides what happens;
 * helpers return errors and stay quiet.  Never pass a token, a secret, or a
 * whole message body at info level. */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

/* Context attached to a record: each may be NULL. */
struct log_fields {
        const char *adapter;
        const char *chat;
        const char *msg;
};

/* ident: the program name printed on stderr lines.  Decides once whether
 * stderr is the journal. */
void log_open(const char *ident);

/* Records above this priority (LOG_DEBUG is highest) are dropped. */
void log_set_max_priority(int priority);
int log_get_max_priority(void);

/* Parses "error", "warning", "notice", "info", "debug"; -EINVAL otherwise. */
int log_priority_from_string(const char *s);

bool log_to_journal(void);

/* Sends every record to the journal from now on: for a daemon that
 * detached and has no stderr left. */
void log_use_journal(void);

void log_record(int priority, const struct log_fields *fields, const char *format, ...)
        _printf_(3, 4);

#define log_error(...) log_record(LOG_ERR, NULL, __VA_ARGS__)
#define log_warning(...) log_record(LOG_WARNING, NULL, __VA_ARGS__)
#define log_notice(...) log_record(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(...) log_record(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_record(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
