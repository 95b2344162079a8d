/* policy.h: when the bot answers free text, and with what.
 *
 * In group chats only messages that address the bot are answered, commands
 * included (unless group_replies = all).  Commands are then always
 * answered; for other messages keyword rules
 * from rules_file answer before the model (the auto-reply use); quiet hours
 * silence rule and model replies in group chats; a per-chat limit caps
 * rule and model replies per minute.  The chats file changes the last
 * three for an adapter or a chat.  A message that is not answered is
 * still stored. */
#ifndef PARLEY_POLICY_H
#define PARLEY_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define POLICY_ERROR_MAX 1024
#define POLICY_RULES_MAX 1000
#define POLICY_RULE_LINE_MAX 8192
#define POLICY_RULE_CHATS_MAX 64

extern const struct config_key policy_config_keys[];

struct policy;

/* Reads [policy] and its rules file.  On failure error holds every
 * problem, "FILE:LINE: what" for the rules file. */
int policy_new(const struct config *config, struct policy **ret, char *error);
void policy_free(struct policy *p);

/* The settings below come from [policy], overridden for an adapter's
 * chats ("adapter:*") and then for one chat ("adapter:chat") by the
 * chats file. */

/* Whether a message may be answered at all: direct, addressed, or
 * group_replies = all. */
bool policy_addresses(const struct policy *p, const char *adapter, const char *chat_id,
                      bool direct, bool addressed);

/* Whether local_minutes (since midnight) fall in the chat's quiet hours. */
bool policy_quiet(const struct policy *p, const char *adapter, const char *chat_id,
                  int local_minutes);

/* The chat's limit on rule and model replies per minute; 0: none. */
int policy_replies_per_minute(const struct policy *p, const char *adapter, const char *chat_id);

/* The reply of the first rule that matches text in this chat, or NULL. */
const char *policy_rule_reply(const struct policy *p, const char *adapter, const char *chat_id,
                              const char *text);

#endif
