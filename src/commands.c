/* commands.c: help, reminders, search, history, forget, time zone. */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "macro.h"
#include "remind.h"

/* A reply being written: open_memstream gives a growing buffer. */
struct reply {
        FILE *f;
        char *text;
        size_t size;
};

static int reply_open(struct reply *r)
{
        *r = (struct reply){ 0 };
        r->f = open_memstream(&r->text, &r->size);
        return r->f ? 0 : -ENOMEM;
}

static void reply_add(struct reply *r, const char *format, ...) _printf_(2, 3);

static void reply_add(struct reply *r, const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        vfprintf(r->f, format, ap);
        va_end(ap);
}

/* Hands the text to the outcome; -ENOMEM if the stream failed. */
static int reply_close(struct reply *r, struct command_outcome *out)
{
        bool failed = ferror(r->f);

        fclose(r->f);
        if (failed || !r->text) {
                free(r->text);
                return -ENOMEM;
        }

        /* Listings end with a newline; a message does not. */
        while (r->size > 0 && r->text[r->size - 1] == '\n')
                r->text[--r->size] = '\0';
        out->reply = r->text;
        return 0;
}

static int reply_simple(struct command_outcome *out, const char *text)
{
        out->reply = strdup(text);
        return out->reply ? 0 : -ENOMEM;
}

/* A time for a reply; "?" if it cannot be shown. */
static void time_text(int64_t ms, const char *tz, bool chinese, char *buf, size_t size)
{
        if (remind_format_time(ms, tz, chinese, buf, size) < 0)
                snprintf(buf, size, "?");
}

static const char *lang(bool chinese, const char *en, const char *zh)
{
        return chinese ? zh : en;
}

int command_user_time_zone(const struct command_context *ctx, char **ret)
{
        char *tz = NULL;
        int r;

        r = store_setting_get(ctx->store, ctx->adapter, ctx->account, ctx->user_id, "tz", &tz);
        if (r < 0)
                return r;

        if (!tz) {
                tz = strdup(ctx->default_time_zone);
                if (!tz)
                        return -ENOMEM;
        }
        *ret = tz;
        return 0;
}

int command_rule_describe(const char *rule, bool chinese, char *buf, size_t size)
{
        static const char *const days_en[] = { "", "Monday", "Tuesday", "Wednesday", "Thursday",
                                               "Friday", "Saturday", "Sunday" };
        static const char *const days_zh[] = { "", "一", "二", "三", "四", "五", "六", "日" };
        const char *at = strchr(rule, '@');
        size_t used = 0;

        if (!at)
                return -EINVAL;

        if (strncmp(rule, "daily@", 6) == 0) {
                snprintf(buf, size, "%s %s", lang(chinese, "every day at", "每天"), at + 1);
                return 0;
        }
        if (strncmp(rule, "weekly:", 7) != 0)
                return -EINVAL;

        used = (size_t)snprintf(buf, size, "%s", lang(chinese, "every", "每周"));
        for (const char *p = rule + 7; p < at && used < size; p++) {
                int d = *p - '0';

                if (d < 1 || d > 7)
                        continue;
                used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                         chinese ? (p == rule + 7 ? "" : "、") :
                                                   (p == rule + 7 ? " " : ", "),
                                         chinese ? days_zh[d] : days_en[d]);
        }
        if (used < size)
                snprintf(buf + used, size - used, "%s%s", lang(chinese, " at ", " "), at + 1);
        return 0;
}

static int command_help(const struct command_context *ctx, bool chinese,
                        struct command_outcome *out)
{
        static const char help_en[] =
                "I answer questions, and these commands:\n"
                "  remind     set a reminder (example: remind me tomorrow at 9:30 to call Anna)\n"
                "  reminders  list your pending reminders (example: reminders)\n"
                "  cancel     cancel a reminder (example: cancel 3)\n"
                "  snooze     put a reminder off (example: snooze 3 10m)\n"
                "  search     find your earlier messages here (example: search invoice)\n"
                "  history    the last exchanges here (example: history 5)\n"
                "  timezone   show or set your time zone (example: timezone Europe/Berlin)\n"
                "  forget me  erase your data here, once you confirm (example: forget me)\n"
                "  help       this list (example: help)";
        static const char help_zh[] =
                "我可以回答问题，也支持以下命令：\n"
                "  提醒我    设置提醒（例如：明天上午9点提醒我开会）\n"
                "  我的提醒  列出待办提醒（例如：我的提醒）\n"
                "  取消      取消提醒（例如：取消 3）\n"
                "  推迟      推迟提醒（例如：推迟 3 10分钟）\n"
                "  搜索      查找你在这里发过的消息（例如：搜索 发票）\n"
                "  历史      最近的几轮对话（例如：历史 5）\n"
                "  时区      查看或设置时区（例如：时区 Asia/Shanghai）\n"
                "  忘记我    确认后删除你的消息、提醒和设置（例如：忘记我）\n"
                "  帮助      显示这份列表（例如：帮助）";

        return reply_simple(out, chinese ? help_zh : help_en);
}

static int command_remind(const struct command_context *ctx, bool chinese,
                          struct command_outcome *out)
{
        _cleanup_free_ char *tz = NULL;
        struct remind_request req = { 0 };
        struct remind_error error;
        char when[REMIND_TIME_TEXT_MAX], repeat[128] = "";
        struct reply reply;
        int64_t id;
        int r;

        r = command_user_time_zone(ctx, &tz);
        if (r < 0)
                return r;

        r = remind_parse(ctx->text, ctx->now_ms, tz, &req, &error);
        if (r == -EINVAL || r == -E2BIG)
                return reply_simple(out, error.message);
        if (r < 0)
                return r;

        chinese = req.lang == REMIND_LANG_ZH;
        r = store_reminder_add(ctx->store, ctx->adapter, ctx->account, ctx->chat_id,
                               ctx->user_id, ctx->thread_id, req.text, req.due_at_ms, req.rule,
                               tz, &id);
        if (r == -EDQUOT) {
                r = reply_simple(out, lang(chinese, "You have as many pending reminders as I "
                                                    "keep for one person; cancel one first "
                                                    "('reminders' lists them).",
                                           "你的待办提醒已达上限；请先取消一个"
                                           "（“我的提醒”会列出它们）。"));
                goto finish;
        }
        if (r < 0)
                goto finish;

        time_text(req.due_at_ms, tz, chinese, when, sizeof(when));
        if (req.rule) {
                char rule[96];

                if (command_rule_describe(req.rule, chinese, rule, sizeof(rule)) == 0)
                        snprintf(repeat, sizeof(repeat), chinese ? "（%s）" : " (%s)", rule);
        }

        r = reply_open(&reply);
        if (r < 0)
                goto finish;
        if (chinese)
                reply_add(&reply, "好的，提醒 %" PRId64 "：%s 提醒你“%s”%s。", id, when, req.text,
                          repeat);
        else
                reply_add(&reply, "OK, reminder %" PRId64 ": \"%s\" at %s%s.", id, req.text, when,
                          repeat);
        r = reply_close(&reply, out);
        out->reminders_changed = true;

finish:
        remind_request_clear(&req);
        return r;
}

static int command_reminders(const struct command_context *ctx, bool chinese,
                             struct command_outcome *out)
{
        _cleanup_free_ char *tz = NULL;
        struct store_reminder_row *rows = NULL;
        struct reply reply;
        size_t n = 0;
        int r;

        r = command_user_time_zone(ctx, &tz);
        if (r < 0)
                return r;

        r = store_reminder_list_pending(ctx->store, ctx->adapter, ctx->account, ctx->user_id,
                                        &rows, &n);
        if (r < 0)
                return r;

        if (n == 0) {
                r = reply_simple(out, lang(chinese, "You have no pending reminders. Example: "
                                                    "remind me in 10 minutes to stretch",
                                           "你没有待办提醒。例如：10分钟后提醒我喝水"));
                goto finish;
        }

        r = reply_open(&reply);
        if (r < 0)
                goto finish;
        reply_add(&reply, "%s\n", lang(chinese, "Your reminders:", "你的提醒："));
        for (size_t i = 0; i < n; i++) {
                char when[REMIND_TIME_TEXT_MAX], rule[96] = "";

                time_text(rows[i].due_at_ms, tz, chinese, when, sizeof(when));
                if (rows[i].rule)
                        command_rule_describe(rows[i].rule, chinese, rule, sizeof(rule));
                reply_add(&reply, "  %" PRId64 "  %s  %s%s%s%s\n", rows[i].id, when,
                          rows[i].text, rule[0] ? " (" : "", rule, rule[0] ? ")" : "");
        }
        r = reply_close(&reply, out);

finish:
        store_reminder_rows_free(rows, n);
        return r;
}

/* A reminder id from the start of args; *ret_rest after it. */
static int parse_id(const char *args, int64_t *ret, const char **ret_rest)
{
        char *end;
        long long id;

        errno = 0;
        id = strtoll(args, &end, 10);
        if (errno != 0 || end == args || id <= 0)
                return -EINVAL;

        *ret = id;
        if (ret_rest)
                *ret_rest = end + strspn(end, " \t");
        return 0;
}

static int command_cancel(const struct command_context *ctx, const char *args, bool chinese,
                          struct command_outcome *out)
{
        char text[160];
        int64_t id;
        int r;

        if (parse_id(args, &id, NULL) < 0)
                return reply_simple(out, lang(chinese, "Which reminder? Example: cancel 3 "
                                                       "('reminders' lists them)",
                                              "取消哪个提醒？例如：取消 3"
                                              "（“我的提醒”会列出编号）"));

        r = store_reminder_cancel(ctx->store, ctx->adapter, ctx->account, ctx->user_id, id);
        if (r == -ENOENT)
                snprintf(text, sizeof(text),
                         lang(chinese, "You have no pending reminder %" PRId64
                                       "; 'reminders' lists yours.",
                              "你没有编号为 %" PRId64 " 的待办提醒；“我的提醒”会列出它们。"),
                         id);
        else if (r < 0)
                return r;
        else {
                snprintf(text, sizeof(text),
                         lang(chinese, "Reminder %" PRId64 " cancelled.",
                              "提醒 %" PRId64 " 已取消。"), id);
                out->reminders_changed = true;
        }

        return reply_simple(out, text);
}

static int command_snooze(const struct command_context *ctx, const char *args, bool chinese,
                          struct command_outcome *out)
{
        _cleanup_free_ char *tz = NULL;
        char text[256], when[REMIND_TIME_TEXT_MAX];
        struct store_reminder_row row;
        const char *rest;
        int64_t id, delay_ms, base_ms = ctx->now_ms;
        int r;

        if (parse_id(args, &id, &rest) < 0 || remind_parse_duration(rest, &delay_ms) < 0)
                return reply_simple(out, lang(chinese, "Which reminder, and for how long? "
                                                       "Example: snooze 3 10m",
                                              "推迟哪个提醒、多久？例如：推迟 3 10分钟"));

        r = command_user_time_zone(ctx, &tz);
        if (r < 0)
                return r;

        /* Snoozing puts a reminder off from its due time, or from now if
         * that has passed (it fired, or is firing). */
        r = store_reminder_get(ctx->store, id, &row);
        if (r == 0) {
                if (row.due_at_ms > ctx->now_ms && row.status == STORE_REMINDER_PENDING)
                        base_ms = row.due_at_ms;
                store_reminder_row_clear(&row);
        } else if (r != -ENOENT)
                return r;

        r = store_reminder_snooze(ctx->store, ctx->adapter, ctx->account, ctx->user_id, id,
                                  base_ms + delay_ms);
        if (r == -ENOENT) {
                snprintf(text, sizeof(text),
                         lang(chinese, "You have no reminder %" PRId64
                                       "; 'reminders' lists yours.",
                              "你没有编号为 %" PRId64 " 的提醒；“我的提醒”会列出它们。"),
                         id);
                return reply_simple(out, text);
        }
        if (r < 0)
                return r;

        time_text(base_ms + delay_ms, tz, chinese, when, sizeof(when));
        snprintf(text, sizeof(text),
                 lang(chinese, "Reminder %" PRId64 " put off until %s.",
                      "提醒 %" PRId64 " 已推迟到 %s。"), id, when);
        out->reminders_changed = true;
        return reply_simple(out, text);
}

static int command_search(const struct command_context *ctx, const char *args, bool chinese,
                          struct command_outcome *out)
{
        _cleanup_free_ char *tz = NULL;
        struct store_history_row *rows = NULL;
        struct reply reply;
        size_t n = 0, shown = 0;
        int r;

        r = command_user_time_zone(ctx, &tz);
        if (r < 0)
                return r;

        /* One more than shown: the search message itself matches. */
        r = store_history_search(ctx->store, ctx->adapter, ctx->account, ctx->chat_id,
                                 ctx->user_id, args, COMMANDS_SEARCH_LIMIT + 1, &rows, &n);
        if (r == -EINVAL || r == -E2BIG)
                return reply_simple(out, lang(chinese, "Search for what? Example: search invoice",
                                              "搜索什么？例如：搜索 发票"));
        if (r < 0)
                return r;

        r = reply_open(&reply);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < n && shown < COMMANDS_SEARCH_LIMIT; i++) {
                char when[REMIND_TIME_TEXT_MAX];

                if (strcmp(rows[i].text, ctx->text) == 0)
                        continue;
                if (shown++ == 0)
                        reply_add(&reply, lang(chinese, "Your messages matching \"%s\", newest "
                                                        "first:\n",
                                               "你发过的包含“%s”的消息（最新的在前）：\n"),
                                  args);
                time_text(rows[i].at_ms, tz, chinese, when, sizeof(when));
                reply_add(&reply, "  %s  %s\n", when, rows[i].text);
        }
        if (shown == 0)
                reply_add(&reply, lang(chinese, "None of your messages here match \"%s\".",
                                       "你在这里没有包含“%s”的消息。"), args);
        r = reply_close(&reply, out);

finish:
        store_history_rows_free(rows, n);
        return r;
}

static int command_history(const struct command_context *ctx, const char *args, bool chinese,
                           struct command_outcome *out)
{
        struct store_exchange *ex = NULL;
        struct reply reply;
        int64_t want = COMMANDS_HISTORY_DEFAULT;
        size_t n = 0;
        int r;

        if (*args && (parse_id(args, &want, NULL) < 0 || want > COMMANDS_HISTORY_MAX))
                return reply_simple(out, lang(chinese, "How many exchanges? Example: history 5 "
                                                       "(at most 20)",
                                              "要看几轮？例如：历史 5（最多 20）"));

        r = store_history_last_exchanges(ctx->store, ctx->adapter, ctx->account, ctx->chat_id,
                                         (size_t)want, &ex, &n);
        if (r < 0)
                return r;

        r = reply_open(&reply);
        if (r < 0)
                goto finish;
        if (n == 0)
                reply_add(&reply, "%s", lang(chinese, "Nothing has been said here yet.",
                                             "这里还没有对话。"));
        for (size_t i = 0; i < n; i++)
                reply_add(&reply, "%s %s\n%s %s\n", lang(chinese, "Q:", "问："),
                          ex[i].question.text, lang(chinese, "A:", "答："), ex[i].answer.text);
        r = reply_close(&reply, out);

finish:
        store_exchanges_free(ex, n);
        return r;
}

static int command_forget(const struct command_context *ctx, const char *args, bool chinese,
                          struct command_outcome *out)
{
        struct store_forget_counts counts;
        char text[256];
        int r;

        /* Erasing cannot be undone: it takes a second, explicit message. */
        if (strcmp(args, "confirm") != 0)
                return reply_simple(out, lang(chinese, "This erases all your messages, reminders "
                                                       "and settings here, and cannot be undone. "
                                                       "To go ahead, send: forget me confirm",
                                              "这将删除你在这里的全部消息、提醒和设置，且无法恢复。"
                                              "确定的话请发送：确认忘记我"));

        r = store_user_forget(ctx->store, ctx->adapter, ctx->account, ctx->user_id, &counts);
        if (r < 0)
                return r;

        snprintf(text, sizeof(text),
                 lang(chinese, "Done: I erased %" PRId64 " message(s), %" PRId64
                               " reminder(s) and %" PRId64 " setting(s) of yours.",
                      "完成：已删除你的 %" PRId64 " 条消息、%" PRId64 " 个提醒和 %" PRId64
                      " 项设置。"),
                 counts.messages, counts.reminders, counts.settings);
        out->reminders_changed = counts.reminders > 0;
        return reply_simple(out, text);
}

static int command_timezone(const struct command_context *ctx, const char *args, bool chinese,
                            struct command_outcome *out)
{
        _cleanup_free_ char *tz = NULL;
        char text[256];
        int r;

        if (*args == '\0') {
                r = command_user_time_zone(ctx, &tz);
                if (r < 0)
                        return r;
                snprintf(text, sizeof(text),
                         lang(chinese, "Your time zone is %s. Change it with, for example: "
                                       "timezone Europe/Berlin",
                              "你的时区是 %s。可以这样修改：时区 Asia/Shanghai"), tz);
                return reply_simple(out, text);
        }

        if (!remind_zone_valid(args)) {
                snprintf(text, sizeof(text),
                         lang(chinese, "I do not know the time zone \"%.64s\". Use a name such "
                                       "as Europe/Berlin or America/New_York.",
                              "不认识时区“%.64s”。请使用 Asia/Shanghai 这样的名称。"), args);
                return reply_simple(out, text);
        }

        r = store_setting_set(ctx->store, ctx->adapter, ctx->account, ctx->user_id, "tz", args);
        if (r < 0)
                return r;

        snprintf(text, sizeof(text), lang(chinese, "Your time zone is now %s.",
                                          "你的时区已设为 %s。"), args);
        /* Pending reminders keep the zone they were set in. */
        return reply_simple(out, text);
}

int command_run(const struct command_context *ctx, const struct router_result *route,
                struct command_outcome *ret)
{
        struct command_outcome out = { 0 };
        bool zh = route->chinese;
        const char *args = route->args ? route->args : "";
        int r = -EINVAL;

        switch (route->command) {
        case COMMAND_HELP:
                r = command_help(ctx, zh, &out);
                break;
        case COMMAND_REMIND:
                r = command_remind(ctx, zh, &out);
                break;
        case COMMAND_REMINDERS:
                r = command_reminders(ctx, zh, &out);
                break;
        case COMMAND_CANCEL:
                r = command_cancel(ctx, args, zh, &out);
                break;
        case COMMAND_SNOOZE:
                r = command_snooze(ctx, args, zh, &out);
                break;
        case COMMAND_SEARCH:
                r = command_search(ctx, args, zh, &out);
                break;
        case COMMAND_HISTORY:
                r = command_history(ctx, args, zh, &out);
                break;
        case COMMAND_FORGET:
                r = command_forget(ctx, args, zh, &out);
                break;
        case COMMAND_TIMEZONE:
                r = command_timezone(ctx, args, zh, &out);
                break;
        case _COMMAND_MAX:
                break;
        }
        if (r < 0)
                return r;

        *ret = out;
        return 0;
}
