/* router.h: decides who answers a message.
 *
 * Built-in commands come first; any other text goes to the responder.  The
 * router only reads the text, so it runs on the loop thread and is tested
 * without a daemon; the commands themselves run in commands.c. */
#ifndef PARLEY_ROUTER_H
#define PARLEY_ROUTER_H

#include <stdbool.h>

enum command {
        COMMAND_HELP,
        COMMAND_REMIND,
        COMMAND_REMINDERS,
        COMMAND_CANCEL,
        COMMAND_SNOOZE,
        COMMAND_SEARCH,
        COMMAND_HISTORY,
        COMMAND_FORGET,
        COMMAND_TIMEZONE,
        _COMMAND_MAX,
};

enum router_action {
        ROUTER_COMMAND,
        ROUTER_RESPONDER,
};

struct router_result {
        enum router_action action;
        enum command command;   /* ROUTER_COMMAND */
        const char *args;       /* the text after the command word, trimmed */
        bool chinese;           /* answer in Chinese */
};

void router_route(const char *text, struct router_result *ret);

/* The command's name as the help lists it ("remind"). */
const char *router_command_name(enum command c);

/* True if text contains a CJK ideograph: answers then use Chinese. */
bool router_text_is_chinese(const char *text);

#endif
