/* commands.h: the built-in chat commands.
 *
 * A command reads and changes the store, so it runs on the store thread,
 * in the same job that then marks the message answered.  Its reply is in
 * the language the user wrote in. */
#ifndef PARLEY_COMMANDS_H
#define PARLEY_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#include "router.h"
#include "store.h"

/* Most entries a listing shows. */
#define COMMANDS_SEARCH_LIMIT 10
#define COMMANDS_HISTORY_DEFAULT 5
#define COMMANDS_HISTORY_MAX 20

/* Who asked, where, and when. */
struct command_context {
        struct store *store;
        const char *adapter;
        const char *account;
        const char *chat_id;
        const char *user_id;
        const char *thread_id;
        const char *text;               /* the whole message */
        int64_t now_ms;
        const char *default_time_zone;  /* for users who set none */
};

struct command_outcome {
        char *reply;                    /* malloc'd */
        bool reminders_changed;         /* the scheduler must look again */
};

/* Runs command c with its arguments.  Returns 0 with a reply, also when
 * the user's input was wrong (the reply says what and how); a negative
 * errno only when the store failed or memory ran out. */
int command_run(const struct command_context *ctx, const struct router_result *route,
                struct command_outcome *ret);

/* The user's time zone: their "tz" setting, else the default.  Malloc'd. */
int command_user_time_zone(const struct command_context *ctx, char **ret);

/* Describes a recurrence rule for people ("every Monday at 10:00"). */
int command_rule_describe(const char *rule, bool chinese, char *buf, size_t size);

#endif
