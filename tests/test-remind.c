/* test-remind: reminder phrases, rules, durations and formatting, each
 * checked against the exact UTC instant it must give for a fixed "now".
 *
 * Expected instants are written as UTC wall times and converted with
 * timegm(), independent of ICU.  The zone offsets they encode:
 *   Europe/Berlin     CET  UTC+1; CEST UTC+2 from 2027-03-28 01:00Z to
 *                     2027-10-31 01:00Z (02:00 -> 03:00, 03:00 -> 02:00)
 *   America/New_York  EST  UTC-5; EDT  UTC-4 from 2027-03-14 07:00Z to
 *                     2027-11-07 06:00Z
 *   Asia/Shanghai     UTC+8 all year */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "remind.h"
#include "test.h"

#define BERLIN "Europe/Berlin"
#define NEW_YORK "America/New_York"
#define SHANGHAI "Asia/Shanghai"

/* "2027-01-15 09:00" (UTC) as Unix ms. */
static int64_t utc(const char *text)
{
        struct tm tm = {};
        char *end;

        end = strptime(text, "%Y-%m-%d %H:%M", &tm);
        if (!end || *end) {
                fprintf(stderr, "bad test time \"%s\"\n", text);
                abort();
        }
        return (int64_t)timegm(&tm) * 1000;
}

/* Unix ms as "2027-01-15 09:00" (UTC), for readable failures. */
static const char *utc_text(int64_t ms, char *buf, size_t size)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(buf, size, "%Y-%m-%d %H:%M", &tm);
        if (ms % 60000 != 0)
                snprintf(buf + strlen(buf), size - strlen(buf), " +%lldms",
                         (long long)(ms % 60000));
        return buf;
}

/* phrase, said at now (UTC text) in tz, gives due (UTC text), text, rule
 * (NULL: a one-off) and lang. */
static void check_parse(const char *phrase, const char *tz, const char *now,
                        const char *due, const char *text, const char *rule,
                        enum remind_lang lang)
{
        struct remind_request req = {};
        struct remind_error err = {};
        char got[64];
        int failures = test_failures, r;

        r = remind_parse(phrase, utc(now), tz, &req, &err);
        CHECK_INT_EQ(r, 0);
        if (r == 0) {
                CHECK_STR_EQ(utc_text(req.due_at_ms, got, sizeof(got)), due);
                CHECK_STR_EQ(req.text, text);
                if (rule)
                        CHECK_STR_EQ(req.rule, rule);
                else
                        CHECK(req.rule == NULL);
                CHECK_INT_EQ(req.lang, lang);
        } else
                fprintf(stderr, "  error: %s\n", err.message);

        if (test_failures > failures)
                fprintf(stderr, "  in \"%s\" (%s, now %s)\n", phrase, tz, now);
        remind_request_clear(&req);
}

/* phrase is refused: part, the fragment quoted, and the whole message. */
static void check_refused(const char *phrase, const char *tz, const char *now,
                          enum remind_part part, const char *fragment,
                          const char *message)
{
        struct remind_request req = { .due_at_ms = -1 };
        struct remind_error err = {};
        int failures = test_failures;

        CHECK_INT_EQ(remind_parse(phrase, utc(now), tz, &req, &err), -EINVAL);
        CHECK_INT_EQ(err.part, part);
        CHECK_STR_EQ(err.fragment, fragment);
        CHECK_STR_EQ(err.message, message);
        /* Nothing is handed out on failure. */
        CHECK_INT_EQ(req.due_at_ms, -1);
        CHECK(req.text == NULL && req.rule == NULL);

        if (test_failures > failures)
                fprintf(stderr, "  in \"%s\"\n", phrase);
}

static void check_next(const char *rule, const char *tz, const char *after,
                       const char *expected)
{
        char got[64];
        int64_t next = -1;

        CHECK_INT_EQ(remind_next(rule, tz, utc(after), &next), 0);
        CHECK_STR_EQ(utc_text(next, got, sizeof(got)), expected);
}

/* Friday 2027-01-15 10:00 in Berlin. */
#define FRIDAY_10 "2027-01-15 09:00"

static void test_relative(void)
{
        check_parse("remind me in 10 minutes to stretch", BERLIN, FRIDAY_10,
                    "2027-01-15 09:10", "stretch", NULL, REMIND_LANG_EN);
        check_parse("in 2 hours to drink water", BERLIN, FRIDAY_10, "2027-01-15 11:00",
                    "drink water", NULL, REMIND_LANG_EN);
        check_parse("remind me in 1 hour 30 minutes to stretch", BERLIN, FRIDAY_10,
                    "2027-01-15 10:30", "stretch", NULL, REMIND_LANG_EN);
        check_parse("remind me in an hour and 15 minutes to stretch", BERLIN,
                    FRIDAY_10, "2027-01-15 10:15", "stretch", NULL, REMIND_LANG_EN);
        check_parse("remind me in half an hour to stretch", BERLIN, FRIDAY_10,
                    "2027-01-15 09:30", "stretch", NULL, REMIND_LANG_EN);
        check_parse("REMIND ME IN 5 MINUTES TO SHOUT", BERLIN, FRIDAY_10,
                    "2027-01-15 09:05", "SHOUT", NULL, REMIND_LANG_EN);
        check_parse("remind me in 10 minutes: stretch", BERLIN, FRIDAY_10,
                    "2027-01-15 09:10", "stretch", NULL, REMIND_LANG_EN);

        /* Seconds are kept exactly: now need not be on a minute. */
        check_parse("remind me in 90 seconds to flip", BERLIN, FRIDAY_10,
                    "2027-01-15 09:01 +30000ms", "flip", NULL, REMIND_LANG_EN);
}

static void test_clock(void)
{
        check_parse("remind me at 5pm to call Anna", BERLIN, FRIDAY_10,
                    "2027-01-15 16:00", "call Anna", NULL, REMIND_LANG_EN);
        check_parse("remind me at 17:30 to leave", BERLIN, FRIDAY_10, "2027-01-15 16:30",
                    "leave", NULL, REMIND_LANG_EN);
        check_parse("remind me at 5:45 pm to leave", BERLIN, FRIDAY_10,
                    "2027-01-15 16:45", "leave", NULL, REMIND_LANG_EN);
        /* 09:00 has passed at 10:00, so tomorrow; 11:00 has not. */
        check_parse("remind me at 9 to call", BERLIN, FRIDAY_10, "2027-01-16 08:00",
                    "call", NULL, REMIND_LANG_EN);
        check_parse("remind me at 11 to call", BERLIN, FRIDAY_10, "2027-01-15 10:00",
                    "call", NULL, REMIND_LANG_EN);
        check_parse("remind me at 10 to call", BERLIN, FRIDAY_10, "2027-01-16 09:00",
                    "call", NULL, REMIND_LANG_EN);
        check_parse("remind me at 12am to sleep", BERLIN, FRIDAY_10, "2027-01-15 23:00",
                    "sleep", NULL, REMIND_LANG_EN);
        check_parse("remind me at 12pm to eat", BERLIN, FRIDAY_10, "2027-01-15 11:00",
                    "eat", NULL, REMIND_LANG_EN);
        check_parse("remind me at noon to eat", BERLIN, FRIDAY_10, "2027-01-15 11:00",
                    "eat", NULL, REMIND_LANG_EN);
        check_parse("remind me at midnight to sleep", BERLIN, FRIDAY_10,
                    "2027-01-15 23:00", "sleep", NULL, REMIND_LANG_EN);
}

static void test_days(void)
{
        check_parse("remind me tomorrow at 9:30 to send the report", BERLIN, FRIDAY_10,
                    "2027-01-16 08:30", "send the report", NULL, REMIND_LANG_EN);
        /* "tomorrow" alone is 09:00. */
        check_parse("remind me tomorrow to water the plants", BERLIN, FRIDAY_10,
                    "2027-01-16 08:00", "water the plants", NULL, REMIND_LANG_EN);
        check_parse("remind me on 2027-01-16 to renew the domain", BERLIN, FRIDAY_10,
                    "2027-01-16 08:00", "renew the domain", NULL, REMIND_LANG_EN);
        check_parse("remind me on 2027-01-15 at 14:00 to renew the domain", BERLIN,
                    FRIDAY_10, "2027-01-15 13:00", "renew the domain", NULL,
                    REMIND_LANG_EN);
        check_parse("remind me on 2027-01-31 to pay the rent", BERLIN, FRIDAY_10,
                    "2027-01-31 08:00", "pay the rent", NULL, REMIND_LANG_EN);
        check_parse("remind me on January 20 to call", BERLIN, FRIDAY_10,
                    "2027-01-20 08:00", "call", NULL, REMIND_LANG_EN);
        check_parse("remind me on 20 March 2027 at 8am to call", BERLIN, FRIDAY_10,
                    "2027-03-20 07:00", "call", NULL, REMIND_LANG_EN);
        /* A date without a year that has passed is next year's. */
        check_parse("remind me on Jan 3 to call", BERLIN, FRIDAY_10, "2028-01-03 08:00",
                    "call", NULL, REMIND_LANG_EN);
        /* "on Friday" said on a Friday is next week's. */
        check_parse("remind me on Friday to call", BERLIN, FRIDAY_10, "2027-01-22 08:00",
                    "call", NULL, REMIND_LANG_EN);
        check_parse("remind me next monday at 5 pm to call", BERLIN, FRIDAY_10,
                    "2027-01-18 16:00", "call", NULL, REMIND_LANG_EN);

        /* Leap day: 2028 has one, 2027 does not. */
        check_parse("remind me on 2028-02-29 to celebrate", BERLIN, FRIDAY_10,
                    "2028-02-29 08:00", "celebrate", NULL, REMIND_LANG_EN);
        check_refused("remind me on 2027-02-29 to celebrate", BERLIN, FRIDAY_10,
                      REMIND_PART_DATE, "2027-02-29",
                      "There is no date \"2027-02-29\". Try: remind me on 2027-01-15"
                      " to renew the domain");

        /* Month ends: "in 1 month" from January 31 is February's last day. */
        check_parse("remind me in 1 month to pay", BERLIN, "2027-01-31 09:00",
                    "2027-02-28 09:00", "pay", NULL, REMIND_LANG_EN);
        check_parse("remind me in 1 month to pay", BERLIN, "2028-01-31 09:00",
                    "2028-02-29 09:00", "pay", NULL, REMIND_LANG_EN);
}

static void test_recurring(void)
{
        /* Monday 2027-01-18 10:00 CET. */
        check_parse("remind me every Monday at 10 to plan the week", BERLIN, FRIDAY_10,
                    "2027-01-18 09:00", "plan the week", "weekly:1@10:00",
                    REMIND_LANG_EN);
        check_parse("remind me every day at 8 to take the pills", BERLIN, FRIDAY_10,
                    "2027-01-16 07:00", "take the pills", "daily@08:00", REMIND_LANG_EN);
        check_parse("remind me every weekday at 9 to stand up", BERLIN, FRIDAY_10,
                    "2027-01-18 08:00", "stand up", "weekly:1,2,3,4,5@09:00",
                    REMIND_LANG_EN);
        check_parse("remind me every monday, wednesday and friday at 7:15am to run",
                    BERLIN, FRIDAY_10, "2027-01-18 06:15", "run", "weekly:1,3,5@07:15",
                    REMIND_LANG_EN);
        check_parse("remind me daily at noon to eat", BERLIN, FRIDAY_10,
                    "2027-01-15 11:00", "eat", "daily@12:00", REMIND_LANG_EN);
        /* Without a time: 09:00. */
        check_parse("remind me every day to water the plants", BERLIN, FRIDAY_10,
                    "2027-01-16 08:00", "water the plants", "daily@09:00",
                    REMIND_LANG_EN);

        /* From Sunday 2026-12-27 across the year end. */
        check_parse("remind me every Monday at 10 to plan the week", BERLIN,
                    "2026-12-27 11:00", "2026-12-28 09:00", "plan the week",
                    "weekly:1@10:00", REMIND_LANG_EN);
        check_next("weekly:1@10:00", BERLIN, "2026-12-28 09:00", "2027-01-04 09:00");
        check_next("weekly:1@10:00", BERLIN, "2027-01-04 09:00", "2027-01-11 09:00");
        check_next("daily@08:00", BERLIN, "2026-12-31 07:00", "2027-01-01 07:00");
        /* Strictly after: a minute before fires the same day. */
        check_next("daily@08:00", BERLIN, "2027-01-01 06:59", "2027-01-01 07:00");
        check_next("weekly:1,2,3,4,5@09:00", BERLIN, "2027-01-15 08:00",
                   "2027-01-18 08:00");
        check_next("weekly:6,7@09:00", SHANGHAI, "2027-01-15 08:00", "2027-01-16 01:00");
}

static void test_command_form(void)
{
        check_parse("remind 10m stretch", BERLIN, FRIDAY_10, "2027-01-15 09:10",
                    "stretch", NULL, REMIND_LANG_EN);
        check_parse("remind 1h30m stretch", BERLIN, FRIDAY_10, "2027-01-15 10:30",
                    "stretch", NULL, REMIND_LANG_EN);
        check_parse("remind 2027-01-16 renew the domain", BERLIN, FRIDAY_10,
                    "2027-01-16 08:00", "renew the domain", NULL, REMIND_LANG_EN);
        check_parse("remind tomorrow 9:30 send report", BERLIN, FRIDAY_10,
                    "2027-01-16 08:30", "send report", NULL, REMIND_LANG_EN);

        /* What before when. */
        check_parse("remind me to stretch in 10 minutes", BERLIN, FRIDAY_10,
                    "2027-01-15 09:10", "stretch", NULL, REMIND_LANG_EN);
        check_parse("remind me to call Anna at 5pm tomorrow", BERLIN, FRIDAY_10,
                    "2027-01-16 16:00", "call Anna", NULL, REMIND_LANG_EN);
        check_parse("remind me to water the plants every day at 7", BERLIN, FRIDAY_10,
                    "2027-01-16 06:00", "water the plants", "daily@07:00",
                    REMIND_LANG_EN);
        check_parse("remind stretch 10m", BERLIN, FRIDAY_10, "2027-01-15 09:10",
                    "stretch", NULL, REMIND_LANG_EN);
        /* Words of the text that look like a time stay text. */
        check_parse("remind me to check the oven at 200 in 10 minutes", BERLIN,
                    FRIDAY_10, "2027-01-15 09:10", "check the oven at 200", NULL,
                    REMIND_LANG_EN);
        /* A time after the text joins the day in front. */
        check_parse("remind me tomorrow to call Anna at 5pm", BERLIN, FRIDAY_10,
                    "2027-01-16 16:00", "call Anna", NULL, REMIND_LANG_EN);
        check_parse("remind me in 10 minutes to call Anna at home", BERLIN, FRIDAY_10,
                    "2027-01-15 09:10", "call Anna at home", NULL, REMIND_LANG_EN);
}

static void test_daylight_saving(void)
{
        /* A daily 09:00 stays 09:00 in Berlin: 08:00Z before the change on
         * 2027-03-28, 07:00Z from that day on, 08:00Z again after the
         * change back on 2027-10-31. */
        check_parse("remind me every day at 9 to stretch", BERLIN, "2027-03-26 11:00",
                    "2027-03-27 08:00", "stretch", "daily@09:00", REMIND_LANG_EN);
        check_next("daily@09:00", BERLIN, "2027-03-27 08:00", "2027-03-28 07:00");
        check_next("daily@09:00", BERLIN, "2027-03-28 07:00", "2027-03-29 07:00");
        check_next("daily@09:00", BERLIN, "2027-10-30 07:00", "2027-10-31 08:00");

        /* New York: 14:00Z on 2027-03-13 (EST), 13:00Z on 2027-03-14 (EDT);
         * 13:00Z on 2027-11-06, 14:00Z on 2027-11-07. */
        check_next("daily@09:00", NEW_YORK, "2027-03-12 14:00", "2027-03-13 14:00");
        check_next("daily@09:00", NEW_YORK, "2027-03-13 14:00", "2027-03-14 13:00");
        check_next("daily@09:00", NEW_YORK, "2027-11-06 12:00", "2027-11-06 13:00");
        check_next("daily@09:00", NEW_YORK, "2027-11-06 13:00", "2027-11-07 14:00");

        /* 02:30 does not exist on the spring-forward day: it moves forward
         * by the gap, to 03:30 summer time. */
        check_parse("remind me tomorrow at 2:30 to check the clocks", BERLIN,
                    "2027-03-27 11:00", "2027-03-28 01:30", "check the clocks", NULL,
                    REMIND_LANG_EN);
        check_parse("remind me tomorrow at 2:30 to check the clocks", NEW_YORK,
                    "2027-03-13 17:00", "2027-03-14 07:30", "check the clocks", NULL,
                    REMIND_LANG_EN);
        /* A daily 02:30 fires at 03:30 that day, then at 02:30 again. */
        check_next("daily@02:30", BERLIN, "2027-03-27 02:00", "2027-03-28 01:30");
        check_next("daily@02:30", BERLIN, "2027-03-28 01:30", "2027-03-29 00:30");

        /* 02:30 happens twice on the fall-back day: the first, summer-time
         * one.  A daily 02:30 fires once that day, not twice. */
        check_parse("remind me tomorrow at 2:30 to check the clocks", BERLIN,
                    "2027-10-30 10:00", "2027-10-31 00:30", "check the clocks", NULL,
                    REMIND_LANG_EN);
        check_next("daily@02:30", BERLIN, "2027-10-30 02:00", "2027-10-31 00:30");
        check_next("daily@02:30", BERLIN, "2027-10-31 00:30", "2027-11-01 01:30");
        check_next("daily@01:30", NEW_YORK, "2027-11-06 06:00", "2027-11-07 05:30");
        check_next("daily@01:30", NEW_YORK, "2027-11-07 05:30", "2027-11-08 06:30");

        /* Days keep the wall time, hours are elapsed: from Friday 12:00
         * CET, three days is Monday 12:00 CEST, 72 hours is 13:00 CEST. */
        check_parse("remind me in 3 days to call", BERLIN, "2027-03-26 11:00",
                    "2027-03-29 10:00", "call", NULL, REMIND_LANG_EN);
        check_parse("remind me in 72 hours to call", BERLIN, "2027-03-26 11:00",
                    "2027-03-29 11:00", "call", NULL, REMIND_LANG_EN);
}

static void test_chinese(void)
{
        check_parse("10分钟后提醒我喝水", SHANGHAI, "2027-01-15 02:00", "2027-01-15 02:10",
                    "喝水", NULL, REMIND_LANG_ZH);
        /* 2027-01-15 10:00 in Shanghai. */
        check_parse("明天上午9点提醒我开会", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-16 01:00", "开会", NULL, REMIND_LANG_ZH);
        check_parse("下午3点半提醒我交报告", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-15 07:30", "交报告", NULL, REMIND_LANG_ZH);
        check_parse("每周一上午10点提醒我写周报", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-18 02:00", "写周报", "weekly:1@10:00", REMIND_LANG_ZH);
        check_parse("每天早上8点提醒我吃药", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-16 00:00", "吃药", "daily@08:00", REMIND_LANG_ZH);
        check_parse("每个工作日上午9点提醒我打卡", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-18 01:00", "打卡", "weekly:1,2,3,4,5@09:00", REMIND_LANG_ZH);
        check_parse("提醒我明天9点开会", SHANGHAI, "2027-01-15 02:00", "2027-01-16 01:00",
                    "开会", NULL, REMIND_LANG_ZH);
        check_parse("半小时后提醒我喝水", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-15 02:30", "喝水", NULL, REMIND_LANG_ZH);
        check_parse("一个半小时后提醒我喝水", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-15 03:30", "喝水", NULL, REMIND_LANG_ZH);
        check_parse("两小时后提醒我喝水", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-15 04:00", "喝水", NULL, REMIND_LANG_ZH);
        check_parse("2027年1月20日提醒我续费域名", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-20 01:00", "续费域名", NULL, REMIND_LANG_ZH);
        check_parse("2028年2月29日提醒我续费", SHANGHAI, "2027-01-15 02:00",
                    "2028-02-29 01:00", "续费", NULL, REMIND_LANG_ZH);
        check_parse("下周一上午10点提醒我开会", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-18 02:00", "开会", NULL, REMIND_LANG_ZH);
        check_parse("周三下午2点提醒我开会", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-20 06:00", "开会", NULL, REMIND_LANG_ZH);
        check_parse("晚上十点一刻提醒我睡觉", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-15 14:15", "睡觉", NULL, REMIND_LANG_ZH);
        /* 晚上12点 is the midnight that ends today. */
        check_parse("晚上12点提醒我睡觉", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-15 16:00", "睡觉", NULL, REMIND_LANG_ZH);
        /* The text may come before 提醒我; 一 after 点 is not a minute. */
        check_parse("明天九点一起吃饭提醒我", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-16 01:00", "一起吃饭", NULL, REMIND_LANG_ZH);
        /* A period alone gives its hour: 下午 is 15:00. */
        check_parse("明天下午提醒我取快递", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-16 07:00", "取快递", NULL, REMIND_LANG_ZH);
        /* Chinese text after an English command stays English. */
        check_parse("remind me in 10 minutes to 喝水", SHANGHAI, "2027-01-15 02:00",
                    "2027-01-15 02:10", "喝水", NULL, REMIND_LANG_EN);
}

static void test_errors(void)
{
        check_refused("remind me at 25pm to call Anna", BERLIN, FRIDAY_10,
                      REMIND_PART_TIME, "at 25pm",
                      "I did not understand the time \"at 25pm\". Try: remind me at 5pm"
                      " to call Anna");
        check_refused("remind me at 9:75 to call Anna", BERLIN, FRIDAY_10,
                      REMIND_PART_TIME, "at 9:75",
                      "I did not understand the time \"at 9:75\". Try: remind me at 5pm"
                      " to call Anna");
        check_refused("remind me to do the dishes", BERLIN, FRIDAY_10, REMIND_PART_WHEN,
                      "",
                      "I could not tell when to remind you. Try: remind me in 10 minutes"
                      " to stretch");
        check_refused("remind me in 10 minutes", BERLIN, FRIDAY_10, REMIND_PART_TEXT, "",
                      "What should I remind you of? Try: remind me in 10 minutes to"
                      " stretch");
        check_refused("remind me in 0 minutes to stretch", BERLIN, FRIDAY_10,
                      REMIND_PART_DURATION, "in 0 minutes",
                      "I did not understand the duration \"in 0 minutes\". Try: remind"
                      " me in 1 hour 30 minutes to stretch");
        check_refused("remind me in a bit to stretch", BERLIN, FRIDAY_10,
                      REMIND_PART_DURATION, "in a bit",
                      "I did not understand the duration \"in a bit\". Try: remind me"
                      " in 1 hour 30 minutes to stretch");
        check_refused("remind me in 9999 days to stretch", BERLIN, FRIDAY_10,
                      REMIND_PART_DURATION, "in 9999 days",
                      "\"in 9999 days\" is too far ahead: at most 5 years. Try: remind"
                      " me in 1 hour 30 minutes to stretch");
        check_refused("remind me every funday to party", BERLIN, FRIDAY_10,
                      REMIND_PART_WEEKDAY, "every funday",
                      "I did not understand \"every funday\": I can repeat every day,"
                      " every weekday or on named days. Try: remind me every Monday at"
                      " 10 to plan the week");
        check_refused("remind me today at 9 to call", BERLIN, FRIDAY_10, REMIND_PART_PAST,
                      "today at 9",
                      "\"today at 9\" is already past. Try: remind me tomorrow at 9:30"
                      " to send the report");
        check_refused("remind me on 2026-12-01 to call", BERLIN, FRIDAY_10,
                      REMIND_PART_PAST, "2026-12-01",
                      "\"2026-12-01\" is already past. Try: remind me tomorrow at 9:30"
                      " to send the report");
        check_refused("remind me on 2027-13-01 to call", BERLIN, FRIDAY_10,
                      REMIND_PART_DATE, "2027-13-01",
                      "There is no date \"2027-13-01\". Try: remind me on 2027-01-15 to"
                      " renew the domain");
        check_refused("remind me on 2040-01-01 to call", BERLIN, FRIDAY_10,
                      REMIND_PART_DATE, "2040-01-01",
                      "\"2040-01-01\" is too far ahead: at most 5 years. Try: remind me"
                      " on 2027-01-15 to renew the domain");
        check_refused("remind me in 10 minutes to stretch", "Mars/Olympus", FRIDAY_10,
                      REMIND_PART_ZONE, "Mars/Olympus",
                      "I do not know the time zone \"Mars/Olympus\". Try: Europe/Berlin");

        check_refused("下午25点提醒我开会", SHANGHAI, "2027-01-15 02:00", REMIND_PART_TIME,
                      "25点", "看不懂时间“25点”。例如：下午3点半提醒我开会");
        check_refused("2027年2月29日提醒我续费", SHANGHAI, "2027-01-15 02:00",
                      REMIND_PART_DATE, "2027年2月29日",
                      "没有“2027年2月29日”这个日期。例如：2027年1月15日提醒我续费域名");
        check_refused("每周八提醒我开会", SHANGHAI, "2027-01-15 02:00",
                      REMIND_PART_WEEKDAY, "每周八",
                      "看不懂“每周八”：可以每天、每个工作日或每周几提醒。"
                      "例如：每周一上午10点提醒我写周报");
        check_refused("提醒我喝水", SHANGHAI, "2027-01-15 02:00", REMIND_PART_WHEN, "",
                      "没有找到提醒的时间。例如：10分钟后提醒我喝水");
        check_refused("10分钟后提醒我", SHANGHAI, "2027-01-15 02:00", REMIND_PART_TEXT, "",
                      "要提醒什么呢？例如：10分钟后提醒我喝水");
        check_refused("今天上午9点提醒我开会", SHANGHAI, "2027-01-15 02:00",
                      REMIND_PART_PAST, "今天上午9点",
                      "“今天上午9点”已经过去了。例如：明天上午9点提醒我开会");
}

static void test_limits(void)
{
        struct remind_request req = {};
        struct remind_error err = {};
        char long_text[REMIND_INPUT_MAX_BYTES + 2];
        char phrase[REMIND_INPUT_MAX_BYTES + 64];
        const char bad_utf8[] = "remind me in 10 minutes to \xff\xfe";

        /* The longest text kept passes; one byte more is refused. */
        memset(long_text, 'x', REMIND_TEXT_MAX_BYTES);
        long_text[REMIND_TEXT_MAX_BYTES] = '\0';
        snprintf(phrase, sizeof(phrase), "remind me in 10 minutes to %s", long_text);
        CHECK_INT_EQ(remind_parse(phrase, utc(FRIDAY_10), BERLIN, &req, &err), 0);
        CHECK_INT_EQ(req.text ? strlen(req.text) : 0, REMIND_TEXT_MAX_BYTES);
        remind_request_clear(&req);
        CHECK(req.text == NULL);

        snprintf(phrase, sizeof(phrase), "remind me in 10 minutes to %sy", long_text);
        CHECK_INT_EQ(remind_parse(phrase, utc(FRIDAY_10), BERLIN, &req, &err), -EINVAL);
        CHECK_INT_EQ(err.part, REMIND_PART_TEXT);
        CHECK_STR_EQ(err.message, "That is too much text for a reminder. Try: remind me"
                                  " in 10 minutes to stretch");

        memset(long_text, 'x', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = '\0';
        CHECK_INT_EQ(remind_parse(long_text, utc(FRIDAY_10), BERLIN, &req, &err), -E2BIG);
        CHECK_INT_EQ(err.part, REMIND_PART_TEXT);

        CHECK_INT_EQ(remind_parse(bad_utf8, utc(FRIDAY_10), BERLIN, &req, &err), -EINVAL);
        CHECK_INT_EQ(err.part, REMIND_PART_TEXT);
        CHECK_STR_EQ(err.message,
                     "That is not valid UTF-8 text. Try: remind me in 10 minutes to stretch");

        /* A fragment longer than the error keeps is cut at a character. */
        CHECK_INT_EQ(remind_parse("每周八八八八八八八八八八八八八八八八八八八八八八八八提醒我开会",
                                  utc(FRIDAY_10), SHANGHAI, &req, &err),
                     -EINVAL);
        CHECK_INT_EQ(strlen(err.fragment), 63);
        CHECK(strncmp(err.fragment, "每周八八", 12) == 0);

        CHECK_INT_EQ(remind_parse(NULL, 0, BERLIN, &req, &err), -EINVAL);
        CHECK_INT_EQ(remind_parse("remind me in 10 minutes to x", 0, NULL, &req, &err),
                     -EINVAL);
        CHECK_INT_EQ(err.part, REMIND_PART_ZONE);
        remind_request_clear(NULL);
}

static void test_next_errors(void)
{
        int64_t next = 42;

        CHECK_INT_EQ(remind_next("monthly:15@09:00", BERLIN, 0, &next), -EPROTONOSUPPORT);
        CHECK_INT_EQ(remind_next("daily@9:00", BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next("daily@24:00", BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next("daily@09:60", BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next("daily:1@09:00", BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next("weekly:@09:00", BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next("weekly:8@09:00", BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next("weekly:3,1@09:00", BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next("weekly:1,1@09:00", BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next("weekly:1@09:00x", BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next("", BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next(NULL, BERLIN, 0, &next), -EINVAL);
        CHECK_INT_EQ(remind_next("daily@09:00", "Berlin", 0, &next), -EINVAL);
        CHECK_INT_EQ(next, 42);
}

static void check_duration(const char *text, int64_t expected_ms)
{
        int64_t ms = -1;
        int r = remind_parse_duration(text, &ms);

        CHECK_INT_EQ(r, 0);
        CHECK_INT_EQ(ms, expected_ms);
        if (r != 0 || ms != expected_ms)
                fprintf(stderr, "  in \"%s\"\n", text);
}

static void test_durations(void)
{
        const int64_t minute = 60000, hour = 60 * minute, day = 24 * hour;
        int64_t ms = -1;

        check_duration("10m", 10 * minute);
        check_duration("10 min", 10 * minute);
        check_duration("10 minutes", 10 * minute);
        check_duration("2h", 2 * hour);
        check_duration("2 hours", 2 * hour);
        check_duration("1 day", day);
        check_duration("1h30m", 90 * minute);
        check_duration("1 hour 30 minutes", 90 * minute);
        check_duration("in 5 minutes", 5 * minute);
        check_duration("an hour", hour);
        check_duration("half an hour", 30 * minute);
        check_duration("1 week", 7 * day);
        check_duration("10分钟", 10 * minute);
        check_duration("半小时", 30 * minute);
        check_duration("2小时", 2 * hour);
        check_duration("两个小时", 2 * hour);
        check_duration("1天", day);
        check_duration("一个半小时", 90 * minute);
        check_duration("十五分钟", 15 * minute);
        check_duration("1小时零5分钟", 65 * minute);

        CHECK_INT_EQ(remind_parse_duration("0m", &ms), -EINVAL);
        CHECK_INT_EQ(remind_parse_duration("10", &ms), -EINVAL);
        CHECK_INT_EQ(remind_parse_duration("10 parsecs", &ms), -EINVAL);
        CHECK_INT_EQ(remind_parse_duration("10m please", &ms), -EINVAL);
        CHECK_INT_EQ(remind_parse_duration("1 month", &ms), -EINVAL);
        CHECK_INT_EQ(remind_parse_duration("", &ms), -EINVAL);
        CHECK_INT_EQ(remind_parse_duration("十分钟吧", &ms), -EINVAL);
        CHECK_INT_EQ(remind_parse_duration("99999h", &ms), -ERANGE);
        CHECK_INT_EQ(remind_parse_duration(NULL, &ms), -EINVAL);
        /* Chinese numerals add up past the 1,000,000 a number may be (112
         * times 九千 is 1,008,000 minutes, under five years): refused. */
        {
                char numerals[112 * 6 + 16] = "";

                for (int i = 0; i < 112; i++)
                        strcat(numerals, "九千");
                strcat(numerals, "分钟");
                CHECK_INT_EQ(remind_parse_duration(numerals, &ms), -EINVAL);
                numerals[111 * 6] = '\0';
                strcat(numerals, "分钟");
                /* 111 times is 999,000 minutes, about 694 days: fine. */
                CHECK_INT_EQ(remind_parse_duration(numerals, &ms), 0);
                CHECK_INT_EQ(ms, 999000 * minute);
                ms = -1;
        }
        {
                char long_text[REMIND_INPUT_MAX_BYTES + 2];

                memset(long_text, ' ', sizeof(long_text) - 1);
                long_text[sizeof(long_text) - 1] = '\0';
                CHECK_INT_EQ(remind_parse_duration(long_text, &ms), -E2BIG);
        }
        CHECK_INT_EQ(ms, -1);
}

static void test_format(void)
{
        char buf[REMIND_TIME_TEXT_MAX];

        CHECK_INT_EQ(remind_format_time(utc("2027-01-15 08:00"), BERLIN, false, buf,
                                        sizeof(buf)),
                     0);
        CHECK_STR_EQ(buf, "Fri 2027-01-15 09:00 GMT+1");
        CHECK_INT_EQ(remind_format_time(utc("2027-07-15 08:00"), BERLIN, false, buf,
                                        sizeof(buf)),
                     0);
        CHECK_STR_EQ(buf, "Thu 2027-07-15 10:00 GMT+2");
        CHECK_INT_EQ(remind_format_time(utc("2027-01-18 14:00"), NEW_YORK, false, buf,
                                        sizeof(buf)),
                     0);
        CHECK_STR_EQ(buf, "Mon 2027-01-18 09:00 EST");
        CHECK_INT_EQ(remind_format_time(utc("2027-07-18 13:00"), NEW_YORK, false, buf,
                                        sizeof(buf)),
                     0);
        CHECK_STR_EQ(buf, "Sun 2027-07-18 09:00 EDT");
        CHECK_INT_EQ(remind_format_time(utc("2027-01-17 01:00"), SHANGHAI, true, buf,
                                        sizeof(buf)),
                     0);
        CHECK_STR_EQ(buf, "2027-01-17 周日 09:00 GMT+8");
        CHECK_INT_EQ(remind_format_time(utc("2027-01-17 01:00"), "UTC", false, buf,
                                        sizeof(buf)),
                     0);
        CHECK_STR_EQ(buf, "Sun 2027-01-17 01:00 UTC");

        CHECK_INT_EQ(remind_format_time(0, BERLIN, false, buf, 10), -ENOBUFS);
        CHECK_INT_EQ(remind_format_time(0, "Nowhere/Town", false, buf, sizeof(buf)),
                     -EINVAL);
}

static void test_zones(void)
{
        CHECK(remind_zone_valid("Europe/Berlin"));
        CHECK(remind_zone_valid("America/New_York"));
        CHECK(remind_zone_valid("Asia/Shanghai"));
        CHECK(remind_zone_valid("UTC"));
        CHECK(remind_zone_valid("America/Argentina/Buenos_Aires"));
        CHECK(!remind_zone_valid("Europe/Atlantis"));
        CHECK(!remind_zone_valid("europe/berlin"));
        CHECK(!remind_zone_valid("Europe/Berlin "));
        CHECK(!remind_zone_valid("Europe/Berlin\n"));
        CHECK(!remind_zone_valid("Europe/Bérlin"));
        CHECK(!remind_zone_valid(""));
        CHECK(!remind_zone_valid(NULL));
}

static void test_is_request(void)
{
        CHECK(remind_is_request("remind me in 10 minutes to stretch"));
        CHECK(remind_is_request("  Remind 10m stretch"));
        CHECK(remind_is_request("remind"));
        CHECK(remind_is_request("明天上午9点提醒我开会"));
        CHECK(!remind_is_request("reminders"));
        CHECK(!remind_is_request("what did I say about reminding?"));
        CHECK(!remind_is_request("提醒"));
        CHECK(!remind_is_request(NULL));
}

int main(void)
{
        test_relative();
        test_clock();
        test_days();
        test_recurring();
        test_command_form();
        test_daylight_saving();
        test_chinese();
        test_errors();
        test_limits();
        test_next_errors();
        test_durations();
        test_format();
        test_zones();
        test_is_request();
        return test_finish();
}
