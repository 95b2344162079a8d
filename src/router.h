/* router.h: decides who answers a message.
 *
 * Built-in commands come first; any other text goes to the responder.  The
 * router is pure: it reads the text and returns a decision, so it can run
 * anywhere and be tested without a daemon. */
#ifndef PARLEY_ROUTER_H
#define PARLEY_ROUTER_H

enum router_action {
        ROUTER_COMMAND,         /* reply holds the command's answer */
        ROUTER_RESPONDER,       /* hand the text to the responder */
};

struct router_result {
        enum router_action action;
        char *reply;            /* ROUTER_COMMAND: malloc'd answer */
        const char *command;    /* ROUTER_COMMAND: the command's name */
};

/* -ENOMEM only. */
int router_route(const char *text, struct router_result *ret);

void router_result_clear(struct router_result *r);

/* True if text contains a CJK ideograph: answers then use Chinese. */
int router_text_is_chinese(const char *text);

#endif
