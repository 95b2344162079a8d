/* router.c: built-in commands and the hand-off to the responder. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "macro.h"
#include "router.h"

#define ROUTER_WORD_MAX 64

struct router_command {
        const char *name;               /* as typed, lower case */
        const char *canonical;
        bool chinese;
        char *(*run)(const char *args, bool chinese);
};

static char *command_help(const char *args, bool chinese)
{
        static const char help_en[] =
                "I answer questions, and these commands:\n"
                "  help    this list (example: help)";
        static const char help_zh[] =
                "我可以回答问题，也支持以下命令：\n"
                "  帮助    显示这份列表（例如：帮助）";

        return strdup(chinese ? help_zh : help_en);
}

static const struct router_command router_commands[] = {
        { "help", "help", false, command_help },
        { "/help", "help", false, command_help },
        { "/start", "help", false, command_help },
        { "帮助", "help", true, command_help },
};

int router_text_is_chinese(const char *text)
{
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
        utf8proc_int32_t cp;

        for (;;) {
                utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);

                if (n <= 0 || cp == 0)
                        return 0;
                /* CJK Unified Ideographs and Extension A. */
                if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF))
                        return 1;
                p += n;
        }
}

/* The first word, lower-cased, without a Telegram "@botname" suffix. */
static const char *router_first_word(const char *text, char *word, const char **ret_args)
{
        size_t n = 0;

        text += strspn(text, " \t\r\n");
        while (text[n] && !isspace((unsigned char)text[n]) && n < ROUTER_WORD_MAX - 1) {
                word[n] = (char)tolower((unsigned char)text[n]);
                n++;
        }
        word[n] = '\0';

        if (word[0] == '/') {
                char *at = strchr(word, '@');

                if (at)
                        *at = '\0';
        }

        *ret_args = text + n + strspn(text + n, " \t\r\n");
        return word;
}

int router_route(const char *text, struct router_result *ret)
{
        char word[ROUTER_WORD_MAX];
        const char *args;

        router_first_word(text, word, &args);

        for (size_t i = 0; i < ELEMENTSOF(router_commands); i++) {
                const struct router_command *c = &router_commands[i];
                char *reply;

                if (strcmp(word, c->name) != 0)
                        continue;

                reply = c->run(args, c->chinese || router_text_is_chinese(text));
                if (!reply)
                        return -ENOMEM;

                *ret = (struct router_result){
                        .action = ROUTER_COMMAND, .reply = reply, .command = c->canonical,
                };
                return 0;
        }

        *ret = (struct router_result){ .action = ROUTER_RESPONDER };
        return 0;
}

void router_result_clear(struct router_result *r)
{
        free(r->reply);
        r->reply = NULL;
}
