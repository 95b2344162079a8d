/* test-router: which texts are commands, with what arguments. */
#include "autoconfig.h"

#include "router.h"
#include "test.h"

static void check_route(const char *text, enum router_action action, enum command command,
                        const char *args, bool chinese)
{
        struct router_result r;

        router_route(text, &r);
        CHECK_INT_EQ(r.action, action);
        CHECK_INT_EQ(r.chinese, chinese);
        if (action == ROUTER_COMMAND) {
                CHECK_STR_EQ(router_command_name(r.command), router_command_name(command));
                CHECK_STR_EQ(r.args, args);
        }
}

int main(void)
{
        check_route("help", ROUTER_COMMAND, COMMAND_HELP, "", false);
        check_route("  HELP  ", ROUTER_COMMAND, COMMAND_HELP, "", false);
        check_route("/start", ROUTER_COMMAND, COMMAND_HELP, "", false);
        check_route("/help@parley_bot", ROUTER_COMMAND, COMMAND_HELP, "", false);
        check_route("帮助", ROUTER_COMMAND, COMMAND_HELP, "", true);
        check_route("cancel 3", ROUTER_COMMAND, COMMAND_CANCEL, "3", false);
        check_route("/cancel@parley_bot 3", ROUTER_COMMAND, COMMAND_CANCEL, "3", false);
        check_route("取消 3", ROUTER_COMMAND, COMMAND_CANCEL, "3", true);
        check_route("snooze 3 10m", ROUTER_COMMAND, COMMAND_SNOOZE, "3 10m", false);
        check_route("search the blue invoice", ROUTER_COMMAND, COMMAND_SEARCH,
                    "the blue invoice", false);
        check_route("搜索 发票", ROUTER_COMMAND, COMMAND_SEARCH, "发票", true);
        check_route("history", ROUTER_COMMAND, COMMAND_HISTORY, "", false);
        check_route("history 5", ROUTER_COMMAND, COMMAND_HISTORY, "5", false);
        check_route("reminders", ROUTER_COMMAND, COMMAND_REMINDERS, "", false);
        check_route("my reminders", ROUTER_COMMAND, COMMAND_REMINDERS, "", false);
        check_route("my reminders please", ROUTER_RESPONDER, COMMAND_HELP, NULL, false);
        check_route("我的提醒", ROUTER_COMMAND, COMMAND_REMINDERS, "", true);
        check_route("timezone Europe/Berlin", ROUTER_COMMAND, COMMAND_TIMEZONE, "Europe/Berlin",
                    false);
        check_route("tz", ROUTER_COMMAND, COMMAND_TIMEZONE, "", false);
        check_route("forget me", ROUTER_COMMAND, COMMAND_FORGET, "", false);
        check_route("Forget ME ", ROUTER_COMMAND, COMMAND_FORGET, "", false);
        check_route("忘记我", ROUTER_COMMAND, COMMAND_FORGET, "", true);
        check_route("forget me confirm", ROUTER_COMMAND, COMMAND_FORGET, "confirm", false);
        check_route("确认忘记我", ROUTER_COMMAND, COMMAND_FORGET, "confirm", true);
        check_route("forget me not", ROUTER_RESPONDER, COMMAND_HELP, NULL, false);
        check_route("remind me in 10 minutes to stretch", ROUTER_COMMAND, COMMAND_REMIND,
                    "remind me in 10 minutes to stretch", false);
        check_route("明天上午9点提醒我开会", ROUTER_COMMAND, COMMAND_REMIND,
                    "明天上午9点提醒我开会", true);

        /* Not commands: the responder answers these. */
        check_route("forget about it", ROUTER_RESPONDER, COMMAND_HELP, NULL, false);
        check_route("helpful tips please", ROUTER_RESPONDER, COMMAND_HELP, NULL, false);
        check_route("can you help me", ROUTER_RESPONDER, COMMAND_HELP, NULL, false);
        check_route("Help me with my laptop", ROUTER_RESPONDER, COMMAND_HELP, NULL, false);
        check_route("你好", ROUTER_RESPONDER, COMMAND_HELP, NULL, true);
        check_route("", ROUTER_RESPONDER, COMMAND_HELP, NULL, false);

        CHECK(router_text_is_chinese("我爱 NLP"));
        CHECK(!router_text_is_chinese("naïve café"));

        return test_finish();
}
