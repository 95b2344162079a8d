/* test-commands: the chat commands against a real store, at a fixed time. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "remind.h"
#include "router.h"
#include "store.h"
#include "test.h"

/* Thursday 2027-01-14 10:00:00 UTC, 11:00 in Berlin. */
#define NOW_MS 1799920800000LL
#define MINUTE_MS 60000LL

static struct store *store;

/* Sends text as user in chat "c1" at now_ms and returns the reply. */
static char *ask_at(const char *user, const char *text, int64_t now_ms, bool *changed)
{
        struct command_context ctx = {
                .store = store, .adapter = "console", .account = "default", .chat_id = "c1",
                .user_id = user, .text = text, .now_ms = now_ms,
                .default_time_zone = "Europe/Berlin",
        };
        struct router_result route;
        struct command_outcome out;
        int r;

        router_route(text, &route);
        CHECK_INT_EQ(route.action, ROUTER_COMMAND);
        r = command_run(&ctx, &route, &out);
        CHECK_INT_EQ(r, 0);
        if (r < 0)
                return strdup("");
        if (changed)
                *changed = out.reminders_changed;
        return out.reply;
}

static void check_reply(const char *user, const char *text, const char *expected)
{
        char *reply = ask_at(user, text, NOW_MS, NULL);

        CHECK_STR_EQ(reply, expected);
        free(reply);
}

/* The listing form of a time, as remind_format_time() gives it. */
static const char *when(int64_t ms, const char *tz, bool chinese)
{
        static char buf[4][REMIND_TIME_TEXT_MAX];
        static int next;
        char *b = buf[next++ % 4];

        CHECK_INT_EQ(remind_format_time(ms, tz, chinese, b, REMIND_TIME_TEXT_MAX), 0);
        return b;
}

/* An inbound message in history, as the daemon stores it. */
static void said(const char *user, const char *event_id, const char *text, int64_t at_ms)
{
        struct store_inbound e = {
                .event_id = event_id, .chat_id = "c1", .user_id = user, .user_name = user,
                .message_id = event_id, .text = text, .direct = true, .addressed = true,
                .sent_at_ms = at_ms,
        };
        int64_t id;

        CHECK_INT_EQ(store_inbox_accept(store, "console", "default", &e, 1, NULL, &id), 1);
}

static void test_reminders(void)
{
        char expected[512], *reply;
        bool changed = false;

        reply = ask_at("ann", "remind me in 10 minutes to stretch", NOW_MS, &changed);
        snprintf(expected, sizeof(expected), "OK, reminder 1: \"stretch\" at %s.",
                 when(NOW_MS + 10 * MINUTE_MS, "Europe/Berlin", false));
        CHECK_STR_EQ(reply, expected);
        CHECK(changed);
        free(reply);

        /* 2027-01-18 is the next Monday; 10:00 in Berlin is 09:00 UTC. */
        snprintf(expected, sizeof(expected),
                 "OK, reminder 2: \"plan the week\" at %s (every Monday at 10:00).",
                 when(1800262800000LL, "Europe/Berlin", false));
        check_reply("ann", "remind me every Monday at 10 to plan the week", expected);

        snprintf(expected, sizeof(expected), "好的，提醒 3：%s 提醒你“喝水”。",
                 when(NOW_MS + 10 * MINUTE_MS, "Europe/Berlin", true));
        check_reply("ann", "10分钟后提醒我喝水", expected);

        snprintf(expected, sizeof(expected),
                 "Your reminders:\n"
                 "  1  %s  stretch\n"
                 "  3  %s  喝水\n"
                 "  2  %s  plan the week (every Monday at 10:00)",
                 when(NOW_MS + 10 * MINUTE_MS, "Europe/Berlin", false),
                 when(NOW_MS + 10 * MINUTE_MS, "Europe/Berlin", false),
                 when(1800262800000LL, "Europe/Berlin", false));
        check_reply("ann", "reminders", expected);

        /* Another user sees none of them and cannot touch them. */
        check_reply("bob", "reminders", "You have no pending reminders. Example: remind me in "
                    "10 minutes to stretch");
        check_reply("bob", "cancel 1", "You have no pending reminder 1; 'reminders' lists "
                    "yours.");

        check_reply("ann", "cancel 3", "Reminder 3 cancelled.");
        check_reply("ann", "cancel 3", "You have no pending reminder 3; 'reminders' lists "
                    "yours.");
        check_reply("ann", "cancel", "Which reminder? Example: cancel 3 ('reminders' lists "
                    "them)");

        /* Reminder 1 was due in 10 minutes: snoozing puts it off from then. */
        snprintf(expected, sizeof(expected), "Reminder 1 put off until %s.",
                 when(NOW_MS + 40 * MINUTE_MS, "Europe/Berlin", false));
        check_reply("ann", "snooze 1 30m", expected);
        check_reply("ann", "snooze 1 soon", "Which reminder, and for how long? Example: "
                    "snooze 3 10m");

        /* Not understood: nothing stored, the reply says what and how. */
        reply = ask_at("ann", "remind me at 25pm to call Anna", NOW_MS, &changed);
        CHECK(strstr(reply, "25pm") != NULL);
        CHECK(strstr(reply, "remind me at 5pm to call Anna") != NULL);
        CHECK(!changed);
        free(reply);

        struct store_counts counts;
        CHECK_INT_EQ(store_counts_get(store, &counts), 0);
        CHECK_INT_EQ(counts.reminders, 3);
}

static void test_time_zone(void)
{
        char expected[256];

        check_reply("cy", "timezone", "Your time zone is Europe/Berlin. Change it with, for "
                    "example: timezone Europe/Berlin");
        check_reply("cy", "timezone Mars/Olympus", "I do not know the time zone \"Mars/Olympus\". "
                    "Use a name such as Europe/Berlin or America/New_York.");
        check_reply("cy", "timezone America/New_York", "Your time zone is now America/New_York.");

        /* Her "at 5pm" is New York's: 22:00 UTC. */
        snprintf(expected, sizeof(expected), "OK, reminder 4: \"call Anna\" at %s.",
                 when(1799964000000LL, "America/New_York", false));
        check_reply("cy", "remind me at 5pm to call Anna", expected);
}

static void test_search_and_history(void)
{
        char expected[512];

        said("dan", "e1", "bring the umbrella tomorrow", NOW_MS - 50 * MINUTE_MS);
        said("dan", "e2", "the umbrella is blue", NOW_MS - 40 * MINUTE_MS);
        said("eve", "e3", "my umbrella is red", NOW_MS - 30 * MINUTE_MS);
        said("dan", "e4", "search umbrella", NOW_MS);

        snprintf(expected, sizeof(expected),
                 "Your messages matching \"umbrella\", newest first:\n"
                 "  %s  the umbrella is blue\n"
                 "  %s  bring the umbrella tomorrow",
                 when(NOW_MS - 40 * MINUTE_MS, "Europe/Berlin", false),
                 when(NOW_MS - 50 * MINUTE_MS, "Europe/Berlin", false));
        check_reply("dan", "search umbrella", expected);
        check_reply("dan", "search zeppelin", "None of your messages here match \"zeppelin\".");
        check_reply("dan", "search ???", "Search for what? Example: search invoice");

        check_reply("dan", "history", "Nothing has been said here yet.");
        check_reply("dan", "history 99", "How many exchanges? Example: history 5 (at most 20)");
}

static void test_forget(void)
{
        check_reply("ann", "forget me", "This erases all your messages, reminders and settings "
                    "here, and cannot be undone. To go ahead, send: forget me confirm");
        check_reply("ann", "forget me confirm", "Done: I erased 0 message(s), 3 reminder(s) and 0 "
                    "setting(s) of yours.");
        check_reply("ann", "reminders", "You have no pending reminders. Example: remind me in "
                    "10 minutes to stretch");
        check_reply("dan", "forget me confirm", "Done: I erased 3 message(s), 0 reminder(s) and 0 "
                    "setting(s) of yours.");
        check_reply("cy", "Forget me CONFIRM", "Done: I erased 0 message(s), 1 reminder(s) and 1 "
                    "setting(s) of yours.");
}

/* At the limit of pending reminders the user is told, nothing is stored. */
static void test_reminder_quota(void)
{
        struct store_counts before, after;
        bool changed = true;
        char *reply;

        for (int i = 0; i < STORE_REMINDER_PENDING_MAX; i++) {
                reply = ask_at("quota", "remind me in 1 hour to breathe", NOW_MS, NULL);
                free(reply);
        }
        CHECK_INT_EQ(store_counts_get(store, &before), 0);

        reply = ask_at("quota", "remind me in 2 hours to breathe again", NOW_MS, &changed);
        CHECK_STR_EQ(reply, "You have as many pending reminders as I keep for one person; "
                     "cancel one first ('reminders' lists them).");
        CHECK(!changed);
        free(reply);
        CHECK_INT_EQ(store_counts_get(store, &after), 0);
        CHECK_INT_EQ(after.reminders, before.reminders);

        reply = ask_at("quota", "forget me confirm", NOW_MS, NULL);
        free(reply);
}

static void test_help(void)
{
        char *reply = ask_at("ann", "help", NOW_MS, NULL);

        CHECK(strncmp(reply, "I answer questions, and these commands:\n", 40) == 0);
        for (enum command c = 0; c < _COMMAND_MAX; c++)
                CHECK(strstr(reply, router_command_name(c)) != NULL);
        free(reply);

        reply = ask_at("ann", "帮助", NOW_MS, NULL);
        CHECK(strncmp(reply, "我可以回答问题，也支持以下命令：\n", 46) == 0);
        CHECK(strstr(reply, "例如：明天上午9点提醒我开会") != NULL);
        free(reply);
}

int main(void)
{
        char dir[] = "/tmp/parley-test-commands.XXXXXX", path[64], error[STORE_ERROR_MAX];

        if (!mkdtemp(dir))
                TEST_SKIP("cannot make a temporary directory");
        snprintf(path, sizeof(path), "%s/parley.db", dir);
        if (store_open(path, &store, error) < 0) {
                TEST_FAIL("%s", error);
                return test_finish();
        }

        test_help();
        test_reminders();
        test_time_zone();
        test_search_and_history();
        test_forget();
        test_reminder_quota();

        store_free(store);
        unlink(path);
        snprintf(path, sizeof(path), "%s/parley.db-wal", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/parley.db-shm", dir);
        unlink(path);
        rmdir(dir);
        return test_finish();
}
