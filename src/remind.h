/* remind.h: reminder phrases and the time arithmetic behind them.
 *
 * Pure functions: no I/O, no clock, no global state.  "now" is always an
 * argument, so the same phrase at the same instant in the same zone gives
 * the same answer.  Time zones are IANA names ("Europe/Berlin") resolved by
 * ICU's calendar, so daylight-saving rules come from the zone data.
 *
 * Phrases understood (English; "remind me" may be "remind", and the text
 * may come first: "remind me to stretch in 10 minutes"):
 *
 *   in 10 minutes | in 2 hours | in 1 hour 30 minutes | in 3 days | in 10m
 *                                       seconds, minutes and hours are elapsed
 *                                       time; days, weeks and months keep the
 *                                       wall time ("in 1 month" on January 31
 *                                       is February's last day)
 *   at 5pm | at 17:30 | at 9 | at noon  the next such time, today or tomorrow
 *                                       (a bare hour is the 24-hour clock)
 *   tomorrow [at 9:30]                  without a time: 09:00
 *   on 2027-01-15 | on January 15 [at 14:00]
 *                                       without a time: 09:00; without a
 *                                       year: the next such date
 *   on Monday | next Monday [at 10]     the next Monday (not today)
 *   every day at 8 | every Monday at 10 | every weekday at 9 |
 *   every Monday and Thursday | daily   without a time: 09:00
 *
 * Chinese: 10分钟后 / 2小时后 / 半小时后 / 3天后, 明天 / 后天 / 今天,
 * 上午 / 早上 / 中午 / 下午 / 晚上 / 凌晨 with 9点 / 3点半 / 3点15分 /
 * 15:30, 2027年1月15日 / 1月15日, 周一 / 星期一 / 礼拜一, 每天 / 每周一 /
 * 工作日 / 每个工作日, 下周一, with 提醒我 before the text ("明天上午9点提醒我开会"),
 * 提醒我 first ("提醒我明天9点开会") or last ("明天九点一起吃饭提醒我").  A bare
 * hour without 上午/下午 is the 24-hour clock (3点 is 03:00); a period
 * without an hour has a default (上午 09:00, 下午 15:00, 晚上 20:00); 晚上12点
 * is the midnight that ends the day.
 *
 * Wall-clock times that do not exist (the spring-forward gap) move forward
 * by the length of the gap: 02:30 on the day Berlin skips 02:00-03:00 is
 * 03:30 CEST.  Wall-clock times that happen twice (fall-back) are the first
 * of the two, the daylight-saving one.  A recurring reminder keeps its wall
 * time: every day at 09:00 stays 09:00 local across a change.
 *
 * Recurrence rules, as stored with a reminder:
 *
 *   daily@HH:MM                     every day
 *   weekly:D[,D...]@HH:MM           on ISO weekdays D, 1 = Monday .. 7 = Sunday,
 *                                   ascending ("weekly:1,2,3,4,5@09:00")
 *
 * The grammar only grows by new keywords; a keyword never changes meaning,
 * so rules stored by an older build keep their meaning, and a rule from a
 * newer build is refused by remind_next() with -EPROTONOSUPPORT. */
#ifndef PARLEY_REMIND_H
#define PARLEY_REMIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest reminder phrase accepted, and longest text kept, in bytes. */
#define REMIND_INPUT_MAX_BYTES 2000
#define REMIND_TEXT_MAX_BYTES 1000

/* Longest offset accepted: "in N ..." or a date at most this far ahead. */
#define REMIND_AHEAD_MAX_MS (5LL * 366 * 24 * 3600 * 1000)

/* Room for remind_format_time()'s output, and for a rule string. */
#define REMIND_TIME_TEXT_MAX 64
#define REMIND_RULE_MAX 48

/* Room for the sentence of a parse error, and for the quoted fragment. */
#define REMIND_MESSAGE_MAX 320
#define REMIND_FRAGMENT_MAX 64

enum remind_lang {
        REMIND_LANG_EN,
        REMIND_LANG_ZH,
};

/* Which part of a phrase was not understood. */
enum remind_part {
        REMIND_PART_NONE,
        REMIND_PART_WHEN,       /* no time or date found at all */
        REMIND_PART_TIME,       /* a clock time: "at 25pm", "下午25点" */
        REMIND_PART_DATE,       /* a date: "on 2027-02-29", "on 2027-13-01" */
        REMIND_PART_DURATION,   /* an offset: "in 0 minutes", "in 9999 days" */
        REMIND_PART_WEEKDAY,    /* "every Funday" */
        REMIND_PART_PAST,       /* a date and time already past */
        REMIND_PART_TEXT,       /* nothing to remind of, or too long */
        REMIND_PART_ZONE,       /* the time zone name is unknown */
};

/* A parsed reminder.  Release with remind_request_clear(). */
struct remind_request {
        int64_t due_at_ms;      /* first firing, Unix ms (UTC) */
        char *text;             /* what to say, trimmed, never empty */
        char *rule;             /* recurrence rule; NULL for a one-off */
        enum remind_lang lang;  /* the language of the phrase */
};

/* Why a phrase was refused, in the phrase's language.  message is the
 * whole reply for the user: what was not understood, quoting it, and an
 * example that works ("I did not understand the time \"at 25pm\". Try:
 * remind me at 5pm to call Anna"). */
struct remind_error {
        enum remind_part part;
        enum remind_lang lang;
        char fragment[REMIND_FRAGMENT_MAX];     /* the words not understood; "" if none */
        const char *example;                    /* a phrase that works, static */
        char message[REMIND_MESSAGE_MAX];
};

/* Whether text asks for a reminder: it starts with "remind" (any case) or
 * holds 提醒我.  The router's test before calling remind_parse(). */
bool remind_is_request(const char *text);

/* Parses a reminder phrase said at now_ms by a user in time zone tz.
 * Returns 0 and fills *ret; -EINVAL when the phrase is not understood (or
 * tz unknown) and *error (if not NULL) says which part; -E2BIG for a
 * phrase over REMIND_INPUT_MAX_BYTES (error filled, part TEXT); -ENOMEM. */
int remind_parse(const char *input, int64_t now_ms, const char *tz,
                 struct remind_request *ret, struct remind_error *error);

void remind_request_clear(struct remind_request *r);

/* The first occurrence of rule strictly after after_ms, in zone tz.
 * -EINVAL for a malformed rule or unknown zone, -EPROTONOSUPPORT for a
 * rule keyword this build does not know. */
int remind_next(const char *rule, const char *tz, int64_t after_ms,
                int64_t *ret_next_ms);

/* A snooze length: "10m", "10 min", "10 minutes", "2h", "2 hours",
 * "1 day", "1h30m", "1 hour 30 minutes", "10分钟", "2小时", "半小时",
 * "1天", "1个半小时".  -EINVAL if not understood or not positive, -ERANGE
 * over REMIND_AHEAD_MAX_MS, -E2BIG for text over REMIND_INPUT_MAX_BYTES. */
int remind_parse_duration(const char *text, int64_t *ret_ms);

/* ms as wall time in tz for a listing: "Mon 2027-01-15 09:00 EST", or in
 * Chinese "2027-01-15 周一 09:00 EST".  The zone abbreviation is ICU's
 * short name, which is "GMT+1" where English has no common abbreviation.
 * -EINVAL for an unknown zone, -ENOBUFS if size is too small (at least
 * REMIND_TIME_TEXT_MAX always suffices). */
int remind_format_time(int64_t ms, const char *tz, bool chinese, char *buf,
                       size_t size);

/* Minutes since local midnight at ms in zone tz (0 .. 1439), for quiet
 * hours.  -EINVAL for an unknown zone. */
int remind_local_minutes(int64_t ms, const char *tz, int *ret_minutes);

/* Whether name is an IANA time zone ICU knows ("Europe/Berlin", "UTC"). */
bool remind_zone_valid(const char *name);

#endif
