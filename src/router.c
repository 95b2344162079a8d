/* router.c: recognises built-in commands; the rest goes to the responder. */
#include "autoconfig.h"

#include <ctype.h>
#include <string.h>
#include <utf8proc.h>

#include "macro.h"
#include "remind.h"
#include "router.h"

#define ROUTER_WORD_MAX 64

/* Words that start a command, as typed (lower case).  A leading '/' and a
 * Telegram "@botname" suffix are removed before the lookup. */
static const struct {
        const char *word;
        enum command command;
        bool chinese;
} router_words[] = {
        { "help", COMMAND_HELP, false },
        { "start", COMMAND_HELP, false },
        { "帮助", COMMAND_HELP, true },
        { "reminders", COMMAND_REMINDERS, false },
        { "提醒列表", COMMAND_REMINDERS, true },
        { "我的提醒", COMMAND_REMINDERS, true },
        { "cancel", COMMAND_CANCEL, false },
        { "取消", COMMAND_CANCEL, true },
        { "snooze", COMMAND_SNOOZE, false },
        { "推迟", COMMAND_SNOOZE, true },
        { "search", COMMAND_SEARCH, false },
        { "搜索", COMMAND_SEARCH, true },
        { "history", COMMAND_HISTORY, false },
        { "历史", COMMAND_HISTORY, true },
        { "timezone", COMMAND_TIMEZONE, false },
        { "tz", COMMAND_TIMEZONE, false },
        { "时区", COMMAND_TIMEZONE, true },
};

static const char *const router_names[_COMMAND_MAX] = {
        [COMMAND_HELP] = "help",
        [COMMAND_REMIND] = "remind",
        [COMMAND_REMINDERS] = "reminders",
        [COMMAND_CANCEL] = "cancel",
        [COMMAND_SNOOZE] = "snooze",
        [COMMAND_SEARCH] = "search",
        [COMMAND_HISTORY] = "history",
        [COMMAND_FORGET] = "forget",
        [COMMAND_TIMEZONE] = "timezone",
};

const char *router_command_name(enum command c)
{
        return c < _COMMAND_MAX ? router_names[c] : "?";
}

bool router_text_is_chinese(const char *text)
{
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
        utf8proc_int32_t cp;

        for (;;) {
                utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);

                if (n <= 0 || cp == 0)
                        return false;
                /* CJK Unified Ideographs and Extension A. */
                if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF))
                        return true;
                p += n;
        }
}

static const char *skip_space(const char *s)
{
        return s + strspn(s, " \t\r\n");
}

/* Copies the first word of text, lower-cased, without a leading '/' or a
 * "@botname" suffix; *ret_rest points after it. */
static void router_first_word(const char *text, char *word, const char **ret_rest)
{
        const char *p = skip_space(text);
        size_t n = 0;
        char *at;

        if (*p == '/')
                p++;
        while (p[n] && !isspace((unsigned char)p[n]) && n < ROUTER_WORD_MAX - 1) {
                word[n] = (char)tolower((unsigned char)p[n]);
                n++;
        }
        word[n] = '\0';

        at = strchr(word, '@');
        if (at)
                *at = '\0';

        *ret_rest = skip_space(p + n);
}

void router_route(const char *text, struct router_result *ret)
{
        char word[ROUTER_WORD_MAX];
        const char *rest;
        bool chinese = router_text_is_chinese(text);

        router_first_word(text, word, &rest);

        /* "forget me" is two words, so a message that merely starts with
         * "forget" still reaches the responder; "forget me confirm" (确认忘记我)
         * is the second step that erases. */
        if (strcmp(word, "forget") == 0 && strncasecmp(rest, "me", 2) == 0) {
                const char *after = skip_space(rest + 2);

                if (*after == '\0' || strcasecmp(after, "confirm") == 0) {
                        *ret = (struct router_result){
                                .action = ROUTER_COMMAND, .command = COMMAND_FORGET,
                                .args = *after ? "confirm" : "", .chinese = chinese,
                        };
                        return;
                }
        }
        if (strcmp(word, "忘记我") == 0 || strcmp(word, "确认忘记我") == 0) {
                *ret = (struct router_result){
                        .action = ROUTER_COMMAND, .command = COMMAND_FORGET,
                        .args = strcmp(word, "忘记我") == 0 ? "" : "confirm", .chinese = true,
                };
                return;
        }

        if (strcmp(word, "my") == 0 && strncasecmp(rest, "reminders", 9) == 0 &&
            *skip_space(rest + 9) == '\0') {
                *ret = (struct router_result){
                        .action = ROUTER_COMMAND, .command = COMMAND_REMINDERS, .args = "",
                        .chinese = chinese,
                };
                return;
        }

        for (size_t i = 0; i < ELEMENTSOF(router_words); i++) {
                if (strcmp(word, router_words[i].word) != 0)
                        continue;

                /* "help me with my laptop" is a question, not the command. */
                if (router_words[i].command == COMMAND_HELP && *rest)
                        break;

                *ret = (struct router_result){
                        .action = ROUTER_COMMAND,
                        .command = router_words[i].command,
                        .args = rest,
                        .chinese = chinese || router_words[i].chinese,
                };
                return;
        }

        if (remind_is_request(text)) {
                *ret = (struct router_result){
                        .action = ROUTER_COMMAND, .command = COMMAND_REMIND, .args = text,
                        .chinese = chinese,
                };
                return;
        }

        *ret = (struct router_result){ .action = ROUTER_RESPONDER, .chinese = chinese };
}
