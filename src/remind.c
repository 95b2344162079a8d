/* remind.c: reminder phrases, recurrence rules and wall-clock arithmetic.
 *
 * A phrase is read in two steps.  The parser turns words into a struct
 * when: an offset ("in 2 hours"), a day (tomorrow, a date, a weekday, a
 * repetition) and a clock time, each at most once and in any order.
 * when_resolve() then turns that into an instant with ICU's calendar in the
 * user's zone, so "tomorrow at 9" is 09:00 on tomorrow's local date whatever
 * the daylight-saving state.  The calendar is lenient (day 32 of a month is
 * the 1st of the next), which the date arithmetic relies on; a date the
 * user typed is checked separately, so 2027-02-29 is refused, not moved.
 *
 * English is read word by word (whitespace-separated, compared in ASCII
 * lower case); Chinese, written without spaces, by matching keywords at
 * byte positions of the UTF-8 text. */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>
#include <utf8proc.h>

#include "macro.h"
#include "remind.h"

#define SECOND_MS 1000LL
#define MINUTE_MS (60 * SECOND_MS)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)

/* The time of day for a phrase that names a day but no time. */
#define DEFAULT_HOUR 9
#define DEFAULT_MINUTE 0

/* Longest zone name and longest word compared as a keyword. */
#define ZONE_NAME_MAX 64
#define WORD_MAX 32

/* Largest number read in a phrase: bounds every product below far from
 * overflow, while REMIND_AHEAD_MAX_MS sets the real limit. */
#define NUMBER_MAX 1000000

/* Years a date may name; ICU handles far more, reminders need no more. */
#define YEAR_MIN 1970
#define YEAR_MAX 9999

#define ALL_WEEKDAYS 0xfeu      /* bits 1 (Monday) .. 7 (Sunday) */
#define WORKING_DAYS 0x3eu      /* Monday .. Friday */
#define WEEKEND_DAYS 0xc0u      /* Saturday, Sunday */

DEFINE_TRIVIAL_CLEANUP_FUNC(UCalendar *, ucal_close);

/* ---- time zones and the calendar ---- */

/* A wall-clock date and time; month 1-12, weekday ISO (1 Monday .. 7). */
struct civil {
        int year;
        int month;
        int day;
        int hour;
        int minute;
        int weekday;
};

static int zone_id(const char *tz, UChar *ret, size_t size)
{
        size_t len = strlen(tz);

        if (len == 0 || len >= size)
                return -EINVAL;

        /* IANA names are ASCII letters, digits and "/_-+"; u_charsToUChars
         * is defined only for such invariant characters. */
        for (size_t i = 0; i < len; i++) {
                char c = tz[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || strchr("/_-+", c)))
                        return -EINVAL;
        }

        u_charsToUChars(tz, ret, (int32_t)len + 1);
        return 0;
}

bool remind_zone_valid(const char *name)
{
        UChar id[ZONE_NAME_MAX], canonical[ZONE_NAME_MAX];
        UErrorCode status = U_ZERO_ERROR;
        UBool system_id = false;

        if (!name || zone_id(name, id, ELEMENTSOF(id)) < 0)
                return false;

        ucal_getCanonicalTimeZoneID(id, -1, canonical, ELEMENTSOF(canonical),
                                    &system_id, &status);
        return U_SUCCESS(status) && system_id;
}

/* A lenient Gregorian calendar in zone tz.  A wall time in a
 * spring-forward gap is read with the offset before the change
 * (WALLTIME_LAST), which moves it forward by the gap: 02:30 is 03:30.  A
 * repeated wall time is its first occurrence (WALLTIME_FIRST). */
static int zone_open(const char *tz, UCalendar **ret)
{
        UChar id[ZONE_NAME_MAX];
        UErrorCode status = U_ZERO_ERROR;
        UCalendar *cal;

        if (!remind_zone_valid(tz))
                return -EINVAL;

        zone_id(tz, id, ELEMENTSOF(id));
        cal = ucal_open(id, -1, "en_US_POSIX", UCAL_GREGORIAN, &status);
        if (U_FAILURE(status)) {
                ucal_close(cal);
                return status == U_MEMORY_ALLOCATION_ERROR ? -ENOMEM : -EINVAL;
        }

        ucal_setAttribute(cal, UCAL_LENIENT, 1);
        ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_LAST);
        ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
        *ret = cal;
        return 0;
}

static int weekday_from_icu(int32_t day_of_week)
{
        /* ICU: 1 = Sunday .. 7 = Saturday. */
        return day_of_week == UCAL_SUNDAY ? 7 : day_of_week - 1;
}

static int civil_from_ms(UCalendar *cal, int64_t ms, struct civil *ret)
{
        UErrorCode status = U_ZERO_ERROR;
        struct civil c;

        ucal_setMillis(cal, (UDate)ms, &status);
        c.year = ucal_get(cal, UCAL_YEAR, &status);
        c.month = ucal_get(cal, UCAL_MONTH, &status) + 1;
        c.day = ucal_get(cal, UCAL_DATE, &status);
        c.hour = ucal_get(cal, UCAL_HOUR_OF_DAY, &status);
        c.minute = ucal_get(cal, UCAL_MINUTE, &status);
        c.weekday = weekday_from_icu(ucal_get(cal, UCAL_DAY_OF_WEEK, &status));
        if (U_FAILURE(status))
                return -EINVAL;

        *ret = c;
        return 0;
}

int remind_local_minutes(int64_t ms, const char *tz, int *ret_minutes)
{
        _cleanup_(ucal_closep) UCalendar *cal = NULL;
        struct civil c;
        int r;

        r = zone_open(tz, &cal);
        if (r < 0)
                return r;

        r = civil_from_ms(cal, ms, &c);
        if (r < 0)
                return r;

        *ret_minutes = c.hour * 60 + c.minute;
        return 0;
}

/* The instant of a wall time; day may lie past the month's end (lenient). */
static int civil_to_ms(UCalendar *cal, int year, int month, int day, int hour,
                       int minute, int64_t *ret)
{
        UErrorCode status = U_ZERO_ERROR;
        UDate ms;

        ucal_clear(cal);
        ucal_setDateTime(cal, year, month - 1, day, hour, minute, 0, &status);
        ms = ucal_getMillis(cal, &status);
        if (U_FAILURE(status))
                return -EINVAL;

        *ret = (int64_t)ms;
        return 0;
}

/* Whether year-month-day is a date of the Gregorian calendar. */
static bool date_exists(UCalendar *cal, int year, int month, int day)
{
        struct civil c;
        int64_t ms;

        if (year < YEAR_MIN || year > YEAR_MAX || month < 1 || month > 12 ||
            day < 1 || day > 31)
                return false;

        if (civil_to_ms(cal, year, month, day, 12, 0, &ms) < 0 ||
            civil_from_ms(cal, ms, &c) < 0)
                return false;

        return c.year == year && c.month == month && c.day == day;
}

/* ---- recurrence rules ---- */

static bool digits_value(const char *s, size_t len, int *ret);

struct rule {
        unsigned weekdays;      /* bit d set: fires on ISO weekday d */
        int hour;
        int minute;
};

static int rule_format(const struct rule *r, char *buf, size_t size)
{
        size_t used;
        int n;

        if (r->weekdays == ALL_WEEKDAYS)
                n = snprintf(buf, size, "daily@%02d:%02d", r->hour, r->minute);
        else {
                n = snprintf(buf, size, "weekly:");
                for (int d = 1; d <= 7 && n > 0 && (size_t)n < size; d++) {
                        if (!(r->weekdays & (1u << d)))
                                continue;
                        used = (size_t)n;
                        n += snprintf(buf + used, size - used, "%s%d",
                                      buf[used - 1] == ':' ? "" : ",", d);
                }
                if (n > 0 && (size_t)n < size)
                        n += snprintf(buf + n, size - (size_t)n, "@%02d:%02d",
                                      r->hour, r->minute);
        }

        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        return 0;
}

/* "HH:MM" at the end of a rule. */
static int rule_parse_time(const char *s, struct rule *r)
{
        int hour, minute;

        if (strlen(s) != 5 || s[2] != ':' || !digits_value(s, 2, &hour) ||
            !digits_value(s + 3, 2, &minute) || hour > 23 || minute > 59)
                return -EINVAL;

        r->hour = hour;
        r->minute = minute;
        return 0;
}

static int rule_parse(const char *rule, struct rule *ret)
{
        struct rule r = {};
        const char *p;
        size_t keyword_len;

        if (!rule)
                return -EINVAL;

        keyword_len = strspn(rule, "abcdefghijklmnopqrstuvwxyz");
        if (keyword_len == 0 || (rule[keyword_len] != '@' && rule[keyword_len] != ':'))
                return -EINVAL;

        if (keyword_len == 5 && strncmp(rule, "daily", 5) == 0 &&
            rule[5] == '@') {
                r.weekdays = ALL_WEEKDAYS;
                p = rule + 6;
        } else if (keyword_len == 6 && strncmp(rule, "weekly", 6) == 0 &&
                   rule[6] == ':') {
                int last = 0;

                p = rule + 7;
                for (;;) {
                        if (*p < '1' || *p > '7' || *p - '0' <= last)
                                return -EINVAL;
                        last = *p - '0';
                        r.weekdays |= 1u << last;
                        p++;
                        if (*p == '@')
                                break;
                        if (*p != ',')
                                return -EINVAL;
                        p++;
                }
                p++;
        } else if ((keyword_len == 5 && strncmp(rule, "daily", 5) == 0) ||
                   (keyword_len == 6 && strncmp(rule, "weekly", 6) == 0))
                return -EINVAL;
        else
                return -EPROTONOSUPPORT;

        if (rule_parse_time(p, &r) < 0)
                return -EINVAL;

        *ret = r;
        return 0;
}

/* The first wall time of r at or after local day first_day (0 = the day of
 * after_ms) that lies strictly after after_ms.  Eight days always hold
 * one, as every rule fires at least once a week. */
static int rule_next_after(UCalendar *cal, const struct rule *r,
                           int64_t after_ms, int first_day, int64_t *ret)
{
        struct civil c;
        int r2;

        r2 = civil_from_ms(cal, after_ms, &c);
        if (r2 < 0)
                return r2;

        for (int k = first_day; k <= first_day + 7; k++) {
                int weekday = (c.weekday - 1 + k) % 7 + 1;
                int64_t t;

                if (!(r->weekdays & (1u << weekday)))
                        continue;

                r2 = civil_to_ms(cal, c.year, c.month, c.day + k, r->hour,
                                 r->minute, &t);
                if (r2 < 0)
                        return r2;
                if (t > after_ms) {
                        *ret = t;
                        return 0;
                }
        }
        return -EINVAL;
}

int remind_next(const char *rule, const char *tz, int64_t after_ms,
                int64_t *ret_next_ms)
{
        _cleanup_(ucal_closep) UCalendar *cal = NULL;
        struct rule r;
        int64_t next;
        int ret;

        ret = rule_parse(rule, &r);
        if (ret < 0)
                return ret;

        ret = zone_open(tz, &cal);
        if (ret < 0)
                return ret;

        ret = rule_next_after(cal, &r, after_ms, 0, &next);
        if (ret < 0)
                return ret;

        *ret_next_ms = next;
        return 0;
}

/* ---- what a phrase says about when ---- */

enum day_kind {
        DAY_NONE,
        DAY_RELATIVE,   /* today + day_offset */
        DAY_DATE,       /* year (0: the next such date), month, mday */
        DAY_WEEKDAY,    /* the next day after today on one of weekdays */
        DAY_NEXT_WEEK,  /* that weekday of next week (下周一) */
        DAY_EVERY,      /* recurring on weekdays */
};

/* A span of the input, quoted in errors. */
struct span {
        const char *start;
        size_t len;
};

struct duration {
        int64_t ms;
        int days;
        int months;
};

struct when {
        bool has_offset;
        struct duration offset;
        struct span offset_text;

        enum day_kind day;
        int day_offset;
        int year, month, mday;
        unsigned weekdays;
        struct span day_text;

        bool has_time;
        int hour, minute;
        /* 晚上12点: midnight at the end of the named day. */
        int day_carry;
        struct span time_text;

        /* A Chinese period of the day (上午, 下午...), applied to the hour
         * when both are known; its default hour when no time is given. */
        bool has_period;
        int period_default_hour;
        int period_kind;
};

static bool when_found(const struct when *w)
{
        return w->has_offset || w->day != DAY_NONE || w->has_time ||
               w->has_period;
}

struct part_text {
        const char *example_en;
        const char *example_zh;
};

static const struct part_text part_texts[] = {
        [REMIND_PART_NONE] = { "", "" },
        [REMIND_PART_WHEN] = { "remind me in 10 minutes to stretch",
                               "10分钟后提醒我喝水" },
        [REMIND_PART_TIME] = { "remind me at 5pm to call Anna",
                               "下午3点半提醒我开会" },
        [REMIND_PART_DATE] = { "remind me on 2027-01-15 to renew the domain",
                               "2027年1月15日提醒我续费域名" },
        [REMIND_PART_DURATION] = { "remind me in 1 hour 30 minutes to stretch",
                                   "半小时后提醒我喝水" },
        [REMIND_PART_WEEKDAY] = { "remind me every Monday at 10 to plan the week",
                                  "每周一上午10点提醒我写周报" },
        [REMIND_PART_PAST] = { "remind me tomorrow at 9:30 to send the report",
                               "明天上午9点提醒我开会" },
        [REMIND_PART_TEXT] = { "remind me in 10 minutes to stretch",
                               "10分钟后提醒我喝水" },
        [REMIND_PART_ZONE] = { "Europe/Berlin", "Asia/Shanghai" },
};

/* Copies at most size - 1 bytes of span, cut at a UTF-8 character start. */
static void span_copy(struct span sp, char *buf, size_t size)
{
        size_t len = sp.len < size - 1 ? sp.len : size - 1;

        while (len > 0 && len < sp.len &&
               ((unsigned char)sp.start[len] & 0xc0) == 0x80)
                len--;

        memcpy(buf, sp.start ? sp.start : "", sp.start ? len : 0);
        buf[sp.start ? len : 0] = '\0';
}

/* Drops a UTF-8 sequence that truncation left incomplete at the end. */
static void utf8_cut(char *s)
{
        size_t len = strlen(s), start = len;

        while (start > 0 && ((unsigned char)s[start - 1] & 0xc0) == 0x80)
                start--;
        if (start > 0 && ((unsigned char)s[start - 1] & 0x80)) {
                unsigned char lead = (unsigned char)s[start - 1];
                size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;

                if (len - (start - 1) < need)
                        s[start - 1] = '\0';
        }
}

/* Fills *err: the sentence is en or zh (a format with one %s for the
 * quoted fragment, which may be unused), then the example.  Returns
 * -EINVAL, or r when r is not 0. */
static int parse_fail(struct remind_error *err, enum remind_part part,
                      enum remind_lang lang, struct span fragment,
                      const char *en, const char *zh)
{
        char sentence[REMIND_MESSAGE_MAX];
        int n;

        if (!err)
                return -EINVAL;

        *err = (struct remind_error){ .part = part, .lang = lang };
        span_copy(fragment, err->fragment, sizeof(err->fragment));

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        if (snprintf(sentence, sizeof(sentence), lang == REMIND_LANG_ZH ? zh : en,
                     err->fragment) >= (int)sizeof(sentence))
                utf8_cut(sentence);
#pragma GCC diagnostic pop

        err->example = lang == REMIND_LANG_ZH ? part_texts[part].example_zh :
                                                part_texts[part].example_en;
        n = snprintf(err->message, sizeof(err->message),
                     lang == REMIND_LANG_ZH ? "%s例如：%s" : "%s Try: %s", sentence,
                     err->example);
        if (n >= (int)sizeof(err->message))
                utf8_cut(err->message);
        return -EINVAL;
}

static const struct span no_span = { NULL, 0 };

/* The text from the first to the end of the last of two spans of one
 * input; either may be empty. */
static struct span span_union(struct span a, struct span b)
{
        const char *start, *end;

        if (!a.start)
                return b;
        if (!b.start)
                return a;

        start = a.start < b.start ? a.start : b.start;
        end = a.start + a.len > b.start + b.len ? a.start + a.len : b.start + b.len;
        return (struct span){ start, (size_t)(end - start) };
}

/* The day and time of w as an instant, and the rule of a recurring one. */
static int when_resolve(const struct when *w_in, int64_t now_ms, UCalendar *cal,
                        enum remind_lang lang, int64_t *ret_due, char *rule,
                        struct remind_error *err)
{
        struct when w = *w_in;
        struct civil today;
        int64_t due = 0;
        int r;

        r = civil_from_ms(cal, now_ms, &today);
        if (r < 0)
                return r;

        if (w.has_offset) {
                UErrorCode status = U_ZERO_ERROR;

                /* Days and months keep the wall time ("in 3 days" at the
                 * same hour across a change); hours and minutes are
                 * elapsed time. */
                ucal_setMillis(cal, (UDate)now_ms, &status);
                ucal_add(cal, UCAL_MONTH, w.offset.months, &status);
                ucal_add(cal, UCAL_DATE, w.offset.days, &status);
                due = (int64_t)ucal_getMillis(cal, &status) + w.offset.ms;
                if (U_FAILURE(status) || due - now_ms > REMIND_AHEAD_MAX_MS)
                        return parse_fail(err, REMIND_PART_DURATION, lang,
                                          w.offset_text,
                                          "\"%s\" is too far ahead: at most 5 years.",
                                          "“%s”太远了：最多5年。");
                *ret_due = due;
                return 0;
        }

        if (!w.has_time) {
                w.hour = w.has_period ? w.period_default_hour : DEFAULT_HOUR;
                w.minute = DEFAULT_MINUTE;
        }

        switch (w.day) {
        case DAY_NONE:
                r = civil_to_ms(cal, today.year, today.month, today.day + w.day_carry,
                                w.hour, w.minute, &due);
                if (r == 0 && due <= now_ms)
                        r = civil_to_ms(cal, today.year, today.month,
                                        today.day + w.day_carry + 1, w.hour,
                                        w.minute, &due);
                break;

        case DAY_RELATIVE:
                r = civil_to_ms(cal, today.year, today.month,
                                today.day + w.day_offset + w.day_carry, w.hour,
                                w.minute, &due);
                break;

        case DAY_DATE: {
                int year = w.year ? w.year : today.year;

                if (!date_exists(cal, year, w.month, w.mday))
                        return parse_fail(err, REMIND_PART_DATE, lang, w.day_text,
                                          "There is no date \"%s\".",
                                          "没有“%s”这个日期。");

                r = civil_to_ms(cal, year, w.month, w.mday + w.day_carry, w.hour,
                                w.minute, &due);
                if (r == 0 && due <= now_ms && !w.year) {
                        year++;
                        if (!date_exists(cal, year, w.month, w.mday))
                                return parse_fail(err, REMIND_PART_DATE, lang,
                                                  w.day_text,
                                                  "There is no date \"%s\" next year.",
                                                  "明年没有“%s”这个日期。");
                        r = civil_to_ms(cal, year, w.month, w.mday + w.day_carry,
                                        w.hour, w.minute, &due);
                }
                break;
        }

        case DAY_WEEKDAY:
        case DAY_EVERY: {
                struct rule rl = {
                        .weekdays = w.weekdays,
                        .hour = w.hour,
                        .minute = w.minute,
                };

                if (w.day == DAY_EVERY) {
                        r = rule_format(&rl, rule, REMIND_RULE_MAX);
                        if (r < 0)
                                return r;
                        r = rule_next_after(cal, &rl, now_ms, 0, &due);
                } else
                        /* "on Monday" is a day after today. */
                        r = rule_next_after(cal, &rl, now_ms, 1, &due);
                break;
        }

        case DAY_NEXT_WEEK: {
                int target = 0;

                for (int d = 1; d <= 7; d++)
                        if (w.weekdays & (1u << d))
                                target = d;
                r = civil_to_ms(cal, today.year, today.month,
                                today.day - (today.weekday - 1) + 7 + target - 1 +
                                        w.day_carry,
                                w.hour, w.minute, &due);
                break;
        }
        }
        if (r < 0)
                return r;

        if (due <= now_ms)
                return parse_fail(err, REMIND_PART_PAST, lang,
                                  span_union(w.day_text, w.time_text),
                                  "\"%s\" is already past.",
                                  "“%s”已经过去了。");

        if (due - now_ms > REMIND_AHEAD_MAX_MS)
                return parse_fail(err, REMIND_PART_DATE, lang, w.day_text,
                                  "\"%s\" is too far ahead: at most 5 years.",
                                  "“%s”太远了：最多5年。");

        *ret_due = due;
        return 0;
}

/* ---- numbers, shared ---- */

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* Digits s[0..len) as a number up to NUMBER_MAX. */
static bool digits_value(const char *s, size_t len, int *ret)
{
        int v = 0;

        if (len == 0 || len > 7)
                return false;

        for (size_t i = 0; i < len; i++) {
                if (!is_digit(s[i]))
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        if (v > NUMBER_MAX)
                return false;

        *ret = v;
        return true;
}

static int duration_add(struct duration *d, int n, int64_t ms, int days,
                        int months)
{
        /* n <= NUMBER_MAX keeps each product far inside int64_t; the
         * running sums are checked against the limit as they grow. */
        d->ms += (int64_t)n * ms;
        d->days += n * days;
        d->months += n * months;
        if (d->ms > REMIND_AHEAD_MAX_MS || d->days > 5 * 366 || d->months > 5 * 12)
                return -ERANGE;
        return 0;
}

static bool duration_positive(const struct duration *d)
{
        return d->ms > 0 || d->days > 0 || d->months > 0;
}

/* ---- English ---- */

struct word {
        const char *start;
        size_t len;
        char norm[WORD_MAX];    /* lower case, trailing ",.;:!?" dropped */
};

static void word_normalize(struct word *w)
{
        size_t len = w->len;

        while (len > 0 && strchr(",.;:!?", w->start[len - 1]))
                len--;
        /* A lone ":" or "-" stays itself, as a separator. */
        if (len == 0)
                len = w->len;

        if (len >= WORD_MAX) {
                w->norm[0] = '\0';
                return;
        }

        for (size_t i = 0; i < len; i++) {
                char c = w->start[i];

                w->norm[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        w->norm[len] = '\0';
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
               c == '\v';
}

/* Splits s at white space; *ret is NULL when s holds no word. */
static int words_split(const char *s, struct word **ret, size_t *ret_n)
{
        struct word *words;
        size_t n = 0, max = strlen(s) / 2 + 1;

        words = calloc(max, sizeof(*words));
        if (!words)
                return -ENOMEM;

        while (*s) {
                const char *start;

                while (is_space(*s))
                        s++;
                if (!*s)
                        break;

                start = s;
                while (*s && !is_space(*s))
                        s++;

                words[n] = (struct word){ .start = start, .len = (size_t)(s - start) };
                word_normalize(&words[n]);
                n++;
        }

        *ret = words;
        *ret_n = n;
        return 0;
}

static bool word_is(const struct word *w, const char *s)
{
        return strcmp(w->norm, s) == 0;
}

static bool word_in(const struct word *w, const char *const list[], size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (word_is(w, list[i]))
                        return true;
        return false;
}

static struct span words_span(const struct word *words, size_t first, size_t end)
{
        if (first >= end)
                return no_span;

        return (struct span){
                .start = words[first].start,
                .len = (size_t)(words[end - 1].start + words[end - 1].len -
                                words[first].start),
        };
}

static bool en_number(const struct word *w, int *ret)
{
        static const char *const names[] = {
                "a", "one", "two", "three", "four", "five", "six", "seven",
                "eight", "nine", "ten", "eleven", "twelve",
        };

        if (word_is(w, "an")) {
                *ret = 1;
                return true;
        }
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (word_is(w, names[i])) {
                        *ret = i == 0 ? 1 : (int)i;
                        return true;
                }
        return digits_value(w->norm, strlen(w->norm), ret);
}

struct unit {
        const char *name;
        int64_t ms;
        int days;
        int months;
};

static const struct unit en_units[] = {
        { "s", SECOND_MS, 0, 0 },      { "sec", SECOND_MS, 0, 0 },
        { "secs", SECOND_MS, 0, 0 },   { "second", SECOND_MS, 0, 0 },
        { "seconds", SECOND_MS, 0, 0 }, { "m", MINUTE_MS, 0, 0 },
        { "min", MINUTE_MS, 0, 0 },    { "mins", MINUTE_MS, 0, 0 },
        { "minute", MINUTE_MS, 0, 0 }, { "minutes", MINUTE_MS, 0, 0 },
        { "h", HOUR_MS, 0, 0 },        { "hr", HOUR_MS, 0, 0 },
        { "hrs", HOUR_MS, 0, 0 },      { "hour", HOUR_MS, 0, 0 },
        { "hours", HOUR_MS, 0, 0 },    { "d", 0, 1, 0 },
        { "day", 0, 1, 0 },            { "days", 0, 1, 0 },
        { "w", 0, 7, 0 },              { "wk", 0, 7, 0 },
        { "week", 0, 7, 0 },           { "weeks", 0, 7, 0 },
        { "month", 0, 0, 1 },          { "months", 0, 0, 1 },
};

static const struct unit *en_unit(const char *s, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(en_units); i++)
                if (strlen(en_units[i].name) == len &&
                    strncmp(en_units[i].name, s, len) == 0)
                        return &en_units[i];
        return NULL;
}

/* One word of number-unit pairs: "10m", "1h30m", "90min". */
static int en_compact(const struct word *w, struct duration *d)
{
        const char *p = w->norm;

        if (!is_digit(*p))
                return 0;

        while (*p) {
                const char *digits = p, *letters;
                const struct unit *u;
                int n;

                while (is_digit(*p))
                        p++;
                letters = p;
                while (*p >= 'a' && *p <= 'z')
                        p++;

                if (!digits_value(digits, (size_t)(letters - digits), &n))
                        return -EINVAL;
                u = en_unit(letters, (size_t)(p - letters));
                if (!u)
                        return -EINVAL;
                if (duration_add(d, n, u->ms, u->days, u->months) < 0)
                        return -ERANGE;
        }
        return 1;
}

/* A duration from word i: "10 minutes", "1 hour 30 minutes", "2h",
 * "an hour and 30 minutes", "half an hour".  Returns the words used, 0 if
 * none (*ret_malformed says whether word i looked like the start of one),
 * -ERANGE when too long (*ret_stop then ends the piece that was). */
static int en_duration(const struct word *w, size_t i, size_t n,
                       struct duration *ret, bool *ret_malformed, size_t *ret_stop)
{
        struct duration d = {};
        size_t j = i;
        int pieces = 0, r;

        *ret_malformed = false;
        *ret_stop = i + 1;

        while (j < n) {
                const struct unit *u;
                int value;

                if (pieces > 0 && word_is(&w[j], "and") && j + 1 < n) {
                        j++;
                        continue;
                }

                if (j + 2 < n && word_is(&w[j], "half") && word_is(&w[j + 1], "an") &&
                    word_is(&w[j + 2], "hour")) {
                        d.ms += 30 * MINUTE_MS;
                        j += 3;
                        pieces++;
                        continue;
                }

                r = en_compact(&w[j], &d);
                *ret_stop = j + 1;
                if (r == -ERANGE)
                        return r;
                if (r > 0) {
                        j++;
                        pieces++;
                        continue;
                }

                if (j + 1 < n && en_number(&w[j], &value)) {
                        u = en_unit(w[j + 1].norm, strlen(w[j + 1].norm));
                        if (u) {
                                *ret_stop = j + 2;
                                if (duration_add(&d, value, u->ms, u->days,
                                                 u->months) < 0)
                                        return -ERANGE;
                                j += 2;
                                pieces++;
                                continue;
                        }
                }
                break;
        }

        /* A trailing "and" belongs to the text. */
        while (j > i && word_is(&w[j - 1], "and"))
                j--;

        if (pieces == 0) {
                int value;

                *ret_malformed = is_digit(w[i].norm[0]) ||
                                 word_is(&w[i], "half") || en_number(&w[i], &value);
                return 0;
        }

        *ret = d;
        return (int)(j - i);
}

static const char *const en_weekday_names[8][3] = {
        [1] = { "monday", "mon", "mondays" },
        [2] = { "tuesday", "tue", "tuesdays" },
        [3] = { "wednesday", "wed", "wednesdays" },
        [4] = { "thursday", "thu", "thursdays" },
        [5] = { "friday", "fri", "fridays" },
        [6] = { "saturday", "sat", "saturdays" },
        [7] = { "sunday", "sun", "sundays" },
};

static int en_weekday(const struct word *w)
{
        for (int d = 1; d <= 7; d++)
                if (word_in(w, en_weekday_names[d], 3))
                        return d;
        return 0;
}

static int en_month(const struct word *w)
{
        static const char *const names[13][2] = {
                [1] = { "january", "jan" },    [2] = { "february", "feb" },
                [3] = { "march", "mar" },      [4] = { "april", "apr" },
                [5] = { "may", "may" },        [6] = { "june", "jun" },
                [7] = { "july", "jul" },       [8] = { "august", "aug" },
                [9] = { "september", "sep" },  [10] = { "october", "oct" },
                [11] = { "november", "nov" },  [12] = { "december", "dec" },
        };

        for (int m = 1; m <= 12; m++)
                if (word_in(w, names[m], 2))
                        return m;
        return 0;
}

/* "15", "15th", "1st": a day of the month, syntactically. */
static bool en_mday(const struct word *w, int *ret)
{
        size_t len = strspn(w->norm, "0123456789");
        const char *suffix = w->norm + len;

        if (*suffix && strcmp(suffix, "st") != 0 && strcmp(suffix, "nd") != 0 &&
            strcmp(suffix, "rd") != 0 && strcmp(suffix, "th") != 0)
                return false;
        return digits_value(w->norm, len, ret) && *ret >= 1 && *ret <= 31;
}

static bool en_year(const struct word *w, int *ret)
{
        return strlen(w->norm) == 4 && digits_value(w->norm, 4, ret);
}

/* "2027-01-15": 1 if it is one, -EINVAL if it starts with a digit and
 * holds a '-' but is not, 0 otherwise.  Whether the date exists is for
 * date_exists(). */
static int iso_date(const char *s, size_t len, int *y, int *m, int *d)
{
        if (len == 0 || !is_digit(s[0]) || !memchr(s, '-', len))
                return 0;

        if (len != 10 || s[4] != '-' || s[7] != '-' ||
            !digits_value(s, 4, y) || !digits_value(s + 5, 2, m) ||
            !digits_value(s + 8, 2, d))
                return -EINVAL;
        return 1;
}

/* A date from word i: ISO, "January 15 [2027]", "15 January [2027]". */
static int en_date(const struct word *w, size_t i, size_t n, struct when *wh)
{
        int y = 0, m, d, r;
        size_t j = i;

        r = iso_date(w[i].norm, strlen(w[i].norm), &y, &m, &d);
        if (r != 0) {
                if (r > 0) {
                        wh->year = y;
                        wh->month = m;
                        wh->mday = d;
                }
                return r < 0 ? r : 1;
        }

        m = en_month(&w[j]);
        if (m && j + 1 < n && en_mday(&w[j + 1], &d))
                j += 2;
        else if (en_mday(&w[j], &d) && j + 1 < n && (m = en_month(&w[j + 1])))
                j += 2;
        else
                return is_digit(w[i].norm[0]) ? -EINVAL : 0;

        if (j < n && en_year(&w[j], &y))
                j++;

        wh->year = y;
        wh->month = m;
        wh->mday = d;
        return (int)(j - i);
}

/* A clock time from word i: "5pm", "5 pm", "5:30pm", "17:30", "noon",
 * and a bare hour "9" when bare_hour.  Returns the words used, 0 if it is
 * not one, -EINVAL if it starts with a digit but is no valid time. */
static int en_time(const struct word *w, size_t i, size_t n, bool bare_hour,
                   int *ret_hour, int *ret_minute)
{
        static const char *const am[] = { "am", "a.m" };
        static const char *const pm[] = { "pm", "p.m" };
        const char *p = w[i].norm, *suffix;
        int hour, minute = 0, used = 1;
        size_t len;
        bool is_am = false, is_pm = false, colon = false;

        if (word_is(&w[i], "noon") || word_is(&w[i], "midday")) {
                *ret_hour = 12;
                *ret_minute = 0;
                return 1;
        }
        if (word_is(&w[i], "midnight")) {
                *ret_hour = 0;
                *ret_minute = 0;
                return 1;
        }
        if (!is_digit(*p))
                return 0;

        len = strspn(p, "0123456789");
        if (!digits_value(p, len, &hour) || len > 2)
                return -EINVAL;
        suffix = p + len;

        if (*suffix == ':') {
                size_t mlen = strspn(suffix + 1, "0123456789");

                if (mlen != 2 || !digits_value(suffix + 1, 2, &minute))
                        return -EINVAL;
                suffix += 3;
                colon = true;
        }

        if (*suffix) {
                is_am = strcmp(suffix, "am") == 0 || strcmp(suffix, "a.m") == 0;
                is_pm = strcmp(suffix, "pm") == 0 || strcmp(suffix, "p.m") == 0;
                if (!is_am && !is_pm)
                        return -EINVAL;
        } else if (i + 1 < n && word_in(&w[i + 1], am, ELEMENTSOF(am))) {
                is_am = true;
                used = 2;
        } else if (i + 1 < n && word_in(&w[i + 1], pm, ELEMENTSOF(pm))) {
                is_pm = true;
                used = 2;
        } else if (i + 1 < n && word_is(&w[i + 1], "o'clock"))
                used = 2;

        if (!is_am && !is_pm && !colon && !bare_hour)
                return 0;

        if (minute > 59)
                return -EINVAL;
        if (is_am || is_pm) {
                if (hour < 1 || hour > 12)
                        return -EINVAL;
                hour = hour % 12 + (is_pm ? 12 : 0);
        } else if (hour > 23)
                return -EINVAL;

        *ret_hour = hour;
        *ret_minute = minute;
        return used;
}

/* "every ..." from word i (the word after "every"): the weekdays. */
static int en_every(const struct word *w, size_t i, size_t n, unsigned *ret)
{
        unsigned days = 0;
        size_t j = i;
        int d;

        if (i >= n)
                return 0;

        if (word_is(&w[i], "day") || word_is(&w[i], "morning")) {
                *ret = ALL_WEEKDAYS;
                return 1;
        }
        if (word_is(&w[i], "weekday") || word_is(&w[i], "weekdays") ||
            word_is(&w[i], "workday")) {
                *ret = WORKING_DAYS;
                return 1;
        }
        if (word_is(&w[i], "weekend")) {
                *ret = WEEKEND_DAYS;
                return 1;
        }

        /* "Monday", "Monday and Thursday", "Monday, Wednesday and Friday" */
        while (j < n && (d = en_weekday(&w[j]))) {
                days |= 1u << d;
                j++;
                if (j + 1 < n && word_is(&w[j], "and") && en_weekday(&w[j + 1]))
                        j++;
        }
        if (!days)
                return 0;

        *ret = days;
        return (int)(j - i);
}

/* Words that may start a when after text ("to stretch in 10 minutes"). */
static bool en_introducer(const struct word *w)
{
        static const char *const list[] = {
                "in", "at", "on", "next", "every", "each", "today", "tomorrow",
                "tmrw", "daily", "everyday",
        };

        return word_in(w, list, ELEMENTSOF(list));
}

static bool en_separator(const struct word *w);

/* One element of when from word i.  Returns the words used, 0 if word i
 * starts none (or one of a kind already given), or -EINVAL with *err. */
static int en_element(const struct word *w, size_t i, size_t n, struct when *wh,
                      struct remind_error *err)
{
        bool day_free = wh->day == DAY_NONE && !wh->has_offset;
        bool time_free = !wh->has_time && !wh->has_offset;
        bool offset_free = !wh->has_offset && wh->day == DAY_NONE && !wh->has_time;
        const struct word *x = &w[i];
        bool malformed;
        size_t stop;
        int r, d;

        if (word_is(x, "in") && i + 1 < n && offset_free) {
                r = en_duration(w, i + 1, n, &wh->offset, &malformed, &stop);
                if (r > 0)
                        stop = i + 1 + (size_t)r;
                /* Quote "in a bit" whole, but not the "to" of "in 2 to". */
                else if (r == 0 && stop < n && !en_separator(&w[stop]))
                        stop++;
                if (r == -ERANGE || (r == 0 && malformed) ||
                    (r > 0 && !duration_positive(&wh->offset)))
                        return parse_fail(err, REMIND_PART_DURATION, REMIND_LANG_EN,
                                          words_span(w, i, stop),
                                          r == -ERANGE ?
                                                  "\"%s\" is too far ahead: at most 5 years." :
                                                  "I did not understand the duration \"%s\".",
                                          "");
                if (r == 0)
                        return 0;
                wh->has_offset = true;
                wh->offset_text = words_span(w, i, i + 1 + (size_t)r);
                return 1 + r;
        }

        if (word_is(x, "at") && i + 1 < n && time_free) {
                r = en_time(w, i + 1, n, true, &wh->hour, &wh->minute);
                if (r < 0)
                        return parse_fail(err, REMIND_PART_TIME, REMIND_LANG_EN,
                                          words_span(w, i, i + 2),
                                          "I did not understand the time \"%s\".", "");
                if (r == 0)
                        return 0;
                wh->has_time = true;
                wh->time_text = words_span(w, i, i + 1 + (size_t)r);
                return 1 + r;
        }

        if ((word_is(x, "on") || word_is(x, "next")) && i + 1 < n && day_free) {
                d = en_weekday(&w[i + 1]);
                if (d) {
                        wh->day = DAY_WEEKDAY;
                        wh->weekdays = 1u << d;
                        wh->day_text = words_span(w, i, i + 2);
                        return 2;
                }
                if (word_is(x, "next"))
                        return 0;

                r = en_date(w, i + 1, n, wh);
                if (r < 0)
                        return parse_fail(err, REMIND_PART_DATE, REMIND_LANG_EN,
                                          words_span(w, i, i + 2),
                                          "I did not understand the date \"%s\".", "");
                if (r == 0)
                        return 0;
                wh->day = DAY_DATE;
                wh->day_text = words_span(w, i + 1, i + 1 + (size_t)r);
                return 1 + r;
        }

        if ((word_is(x, "every") || word_is(x, "each")) && i + 1 < n && day_free) {
                r = en_every(w, i + 1, n, &wh->weekdays);
                if (r == 0)
                        return parse_fail(err, REMIND_PART_WEEKDAY, REMIND_LANG_EN,
                                          words_span(w, i, i + 2),
                                          "I did not understand \"%s\": I can repeat every"
                                          " day, every weekday or on named days.",
                                          "");
                wh->day = DAY_EVERY;
                wh->day_text = words_span(w, i, i + 1 + (size_t)r);
                return 1 + r;
        }

        if ((word_is(x, "daily") || word_is(x, "everyday")) && day_free) {
                wh->day = DAY_EVERY;
                wh->weekdays = ALL_WEEKDAYS;
                wh->day_text = words_span(w, i, i + 1);
                return 1;
        }

        if ((word_is(x, "today") || word_is(x, "tomorrow") || word_is(x, "tmrw")) &&
            day_free) {
                wh->day = DAY_RELATIVE;
                wh->day_offset = word_is(x, "today") ? 0 : 1;
                wh->day_text = words_span(w, i, i + 1);
                return 1;
        }

        if (word_is(x, "day") && i + 2 < n && word_is(&w[i + 1], "after") &&
            word_is(&w[i + 2], "tomorrow") && day_free) {
                wh->day = DAY_RELATIVE;
                wh->day_offset = 2;
                wh->day_text = words_span(w, i, i + 3);
                return 3;
        }

        /* The command form's bare elements: "10m", "10 minutes",
         * "2027-01-15", "9:30", "5pm". */
        if (!is_digit(x->norm[0]))
                return 0;

        if (offset_free) {
                r = en_duration(w, i, n, &wh->offset, &malformed, &stop);
                if (r > 0 && duration_positive(&wh->offset)) {
                        wh->has_offset = true;
                        wh->offset_text = words_span(w, i, i + (size_t)r);
                        return r;
                }
                wh->offset = (struct duration){};
        }

        if (day_free) {
                int y, m, dd;

                if (iso_date(x->norm, strlen(x->norm), &y, &m, &dd) > 0) {
                        wh->day = DAY_DATE;
                        wh->year = y;
                        wh->month = m;
                        wh->mday = dd;
                        wh->day_text = words_span(w, i, i + 1);
                        return 1;
                }
        }

        if (time_free) {
                r = en_time(w, i, n, false, &wh->hour, &wh->minute);
                if (r > 0) {
                        wh->has_time = true;
                        wh->time_text = words_span(w, i, i + (size_t)r);
                        return r;
                }
        }
        return 0;
}

/* Elements from word i on; *ret_end is the word after the last. */
static int en_when(const struct word *w, size_t i, size_t n, struct when *wh,
                   struct remind_error *err, size_t *ret_end)
{
        while (i < n) {
                int r = en_element(w, i, n, wh, err);

                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                i += (size_t)r;
        }

        *ret_end = i;
        return 0;
}

static bool en_separator(const struct word *w)
{
        static const char *const list[] = { "to", "that", "about", "of", ":", "-",
                                            "--", ",", "—" };

        return word_in(w, list, ELEMENTSOF(list));
}

/* The text of words [first, end), without a leading "to" or separator and
 * without trailing separators. */
static struct span en_text(const struct word *w, size_t first, size_t end)
{
        if (first < end && en_separator(&w[first]))
                first++;
        while (end > first && en_separator(&w[end - 1]))
                end--;
        return words_span(w, first, end);
}

/* A when that ends the words, starting at the earliest j in [from, n)
 * where one does; j = n when none.  With introduced_only, the when must
 * start with "in", "at", "on" and the like.  *first_err keeps the first
 * error met on the way. */
static size_t en_when_suffix(const struct word *w, size_t from, size_t n,
                             struct when *wh, bool introduced_only,
                             struct remind_error *first_err, bool *have_err)
{
        for (size_t j = from; j < n; j++) {
                struct remind_error e;
                struct when candidate = *wh;
                size_t end;

                if (introduced_only && !en_introducer(&w[j]))
                        continue;

                if (en_when(w, j, n, &candidate, &e, &end) < 0) {
                        if (first_err && !*have_err) {
                                *first_err = e;
                                *have_err = true;
                        }
                        continue;
                }

                if (end == n && end > j) {
                        *wh = candidate;
                        return j;
                }
        }
        return n;
}

static int en_parse(const char *input, struct when *ret, struct span *ret_text,
                    struct remind_error *err)
{
        _cleanup_free_ struct word *w = NULL;
        struct remind_error suffix_err;
        struct when wh = {};
        struct span text;
        bool have_err = false;
        size_t n, p = 0, end, text_end;
        int r;

        r = words_split(input, &w, &n);
        if (r < 0)
                return r;

        if (p < n && word_is(&w[p], "remind")) {
                p++;
                if (p < n && (word_is(&w[p], "me") || word_is(&w[p], "us")))
                        p++;
        }

        /* When first: "in 10 minutes to stretch". */
        r = en_when(w, p, n, &wh, err, &end);
        if (r < 0)
                return r;

        if (when_found(&wh)) {
                /* "tomorrow to call Anna at 5pm": a when that ends the
                 * text adds to the one in front, if it fits. */
                text_end = en_when_suffix(w, end + 1, n, &wh, true, NULL, NULL);
                text = en_text(w, end, text_end);
        } else {
                /* Text first: "to stretch in 10 minutes", "stretch 10m". */
                text_end = en_when_suffix(w, p + 1, n, &wh, false, &suffix_err,
                                          &have_err);
                if (!when_found(&wh)) {
                        if (have_err) {
                                if (err)
                                        *err = suffix_err;
                                return -EINVAL;
                        }
                        return parse_fail(err, REMIND_PART_WHEN, REMIND_LANG_EN, no_span,
                                          "I could not tell when to remind you.%s", "");
                }
                text = en_text(w, p, text_end);
        }

        if (text.len == 0)
                return parse_fail(err, REMIND_PART_TEXT, REMIND_LANG_EN, no_span,
                                  "What should I remind you of?%s", "");

        *ret = wh;
        *ret_text = text;
        return 0;
}

/* ---- Chinese ---- */

/* From start to the next 提醒 or the end: the part quoted when an element
 * at start is malformed and its own end is unknown. */
static struct span zh_rest(const char *s, size_t start)
{
        const char *end = strstr(s + start, "提醒");

        return (struct span){ s + start, end ? (size_t)(end - s) - start : strlen(s + start) };
}

static bool zh_eat(const char *s, size_t *pos, const char *word)
{
        size_t len = strlen(word);

        if (strncmp(s + *pos, word, len) != 0)
                return false;
        *pos += len;
        return true;
}

/* The first of words (longest first where one is a prefix of another)
 * at *pos; its index, or -1. */
static int zh_eat_any(const char *s, size_t *pos, const char *const words[],
                      size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (zh_eat(s, pos, words[i]))
                        return (int)i;
        return -1;
}

static int zh_digit(const char *s, size_t *pos)
{
        static const char *const digits[] = {
                "零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "〇", "两",
        };
        int i = zh_eat_any(s, pos, digits, ELEMENTSOF(digits));

        if (i == 10)
                return 0;
        if (i == 11)
                return 2;
        return i;
}

/* A number in ASCII digits or Chinese numerals (二十三, 十五, 两, 一百). */
static bool zh_number(const char *s, size_t *pos, int *ret)
{
        size_t p = *pos, len = strspn(s + p, "0123456789");
        int total = 0, current = -1;

        if (len > 0) {
                if (!digits_value(s + p, len, ret))
                        return false;
                *pos = p + len;
                return true;
        }

        for (;;) {
                int d = zh_digit(s, &p);

                if (d >= 0) {
                        current = d;
                        continue;
                }
                if (zh_eat(s, &p, "十"))
                        total += (current < 0 ? 1 : current) * 10;
                else if (zh_eat(s, &p, "百"))
                        total += (current < 0 ? 1 : current) * 100;
                else if (zh_eat(s, &p, "千"))
                        total += (current < 0 ? 1 : current) * 1000;
                else
                        break;
                current = 0;
                if (total > NUMBER_MAX)
                        return false;
        }

        if (p == *pos)
                return false;
        if (current > 0)
                total += current;
        *pos = p;
        *ret = total;
        return true;
}

static const struct unit zh_units[] = {
        { "秒钟", SECOND_MS, 0, 0 },   { "秒", SECOND_MS, 0, 0 },
        { "分钟", MINUTE_MS, 0, 0 },   { "分", MINUTE_MS, 0, 0 },
        { "个小时", HOUR_MS, 0, 0 },   { "小时", HOUR_MS, 0, 0 },
        { "个钟头", HOUR_MS, 0, 0 },   { "钟头", HOUR_MS, 0, 0 },
        { "天", 0, 1, 0 },             { "个星期", 0, 7, 0 },
        { "星期", 0, 7, 0 },           { "周", 0, 7, 0 },
        { "个月", 0, 0, 1 },
};

/* A duration at *pos: "10分钟", "1小时30分钟", "半小时", "一个半小时". */
static int zh_duration(const char *s, size_t *pos, struct duration *ret)
{
        static const char *const half_hour[] = { "半个小时", "半小时", "半个钟头",
                                                  "半钟头" };
        static const char *const and_a_half[] = { "个半小时", "个半钟头" };
        struct duration d = {};
        size_t p = *pos;
        int pieces = 0;

        for (;;) {
                size_t q = p;
                int n, u;

                if (zh_eat_any(s, &q, half_hour, ELEMENTSOF(half_hour)) >= 0) {
                        d.ms += 30 * MINUTE_MS;
                        p = q;
                        pieces++;
                        continue;
                }

                if (!zh_number(s, &q, &n))
                        break;

                if (zh_eat_any(s, &q, and_a_half, ELEMENTSOF(and_a_half)) >= 0) {
                        if (duration_add(&d, n, HOUR_MS, 0, 0) < 0)
                                return -ERANGE;
                        d.ms += 30 * MINUTE_MS;
                        p = q;
                        pieces++;
                        continue;
                }

                for (u = 0; u < (int)ELEMENTSOF(zh_units); u++)
                        if (zh_eat(s, &q, zh_units[u].name))
                                break;
                if (u == (int)ELEMENTSOF(zh_units))
                        break;

                if (duration_add(&d, n, zh_units[u].ms, zh_units[u].days,
                                 zh_units[u].months) < 0)
                        return -ERANGE;
                p = q;
                pieces++;
                /* 零 joins pieces: 1小时零5分钟 */
                zh_eat(s, &p, "零");
        }

        if (pieces == 0)
                return 0;

        *ret = d;
        *pos = p;
        return 1;
}

static int zh_weekday(const char *s, size_t *pos)
{
        static const char *const days[] = { "一", "二", "三", "四", "五", "六", "日", "天" };
        int i = zh_eat_any(s, pos, days, ELEMENTSOF(days));

        if (i >= 0)
                return i == 7 ? 7 : i + 1;
        if (s[*pos] >= '1' && s[*pos] <= '7') {
                (*pos)++;
                return s[*pos - 1] - '0';
        }
        return 0;
}

enum zh_period {
        PERIOD_NONE,
        PERIOD_EARLY,           /* 凌晨 */
        PERIOD_MORNING,         /* 早上, 上午 */
        PERIOD_NOON,            /* 中午 */
        PERIOD_AFTERNOON,       /* 下午, 傍晚 */
        PERIOD_EVENING,         /* 晚上, 夜里, 今晚 */
};

static const struct {
        const char *name;
        enum zh_period kind;
        int default_hour;
} zh_periods[] = {
        { "凌晨", PERIOD_EARLY, 6 },      { "早上", PERIOD_MORNING, 8 },
        { "早晨", PERIOD_MORNING, 8 },    { "上午", PERIOD_MORNING, 9 },
        { "中午", PERIOD_NOON, 12 },      { "下午", PERIOD_AFTERNOON, 15 },
        { "傍晚", PERIOD_AFTERNOON, 18 }, { "晚上", PERIOD_EVENING, 20 },
        { "夜里", PERIOD_EVENING, 22 },
};

/* The 24-hour hour of a clock hour said in a period; *carry is 1 for
 * 晚上12点, midnight at the end of the day. */
static int zh_period_hour(enum zh_period period, int hour, int *carry)
{
        *carry = 0;
        switch (period) {
        case PERIOD_NOON:
                return hour <= 2 ? hour + 12 : hour;
        case PERIOD_AFTERNOON:
        case PERIOD_EVENING:
                if (hour == 12 && period == PERIOD_EVENING) {
                        *carry = 1;
                        return 0;
                }
                return hour < 12 ? hour + 12 : hour;
        case PERIOD_EARLY:
        case PERIOD_MORNING:
                return hour == 12 && period == PERIOD_EARLY ? 0 : hour;
        default:
                return hour;
        }
}

/* A clock time at *pos: "9点", "3点半", "3点15分", "3点15", "10点一刻",
 * "15:30".  1 if one, 0 if none, -EINVAL if a number and 点 make no valid
 * time (*ret_end then ends the bad part). */
static int zh_clock(const char *s, size_t *pos, int *ret_hour, int *ret_minute,
                    size_t *ret_end)
{
        static const char *const hour_words[] = { "点钟", "点", "时" };
        size_t p = *pos, len = strspn(s + p, "0123456789");
        int hour, minute = 0;

        if (len > 0 && len <= 2 && (s[p + len] == ':' ||
                                    strncmp(s + p + len, "：", 3) == 0)) {
                size_t colon = s[p + len] == ':' ? 1 : 3;
                size_t mlen = strspn(s + p + len + colon, "0123456789");

                *ret_end = p + len + colon + mlen;
                if (mlen != 2 || !digits_value(s + p, len, &hour) ||
                    !digits_value(s + p + len + colon, 2, &minute) || hour > 23 ||
                    minute > 59)
                        return -EINVAL;
                *pos = *ret_end;
                *ret_hour = hour;
                *ret_minute = minute;
                return 1;
        }

        if (!zh_number(s, &p, &hour) ||
            zh_eat_any(s, &p, hour_words, ELEMENTSOF(hour_words)) < 0)
                return 0;

        if (zh_eat(s, &p, "半"))
                minute = 30;
        else if (zh_eat(s, &p, "一刻"))
                minute = 15;
        else if (zh_eat(s, &p, "三刻"))
                minute = 45;
        else {
                size_t q = p;
                int m;

                /* "3点15" and "三点十五" are minutes; "九点一起" is not. */
                if (zh_number(s, &q, &m) &&
                    (zh_eat(s, &q, "分") || is_digit(s[p]) || m >= 10 ||
                     strncmp(s + p, "零", 3) == 0)) {
                        minute = m;
                        p = q;
                }
        }

        *ret_end = p;
        if (hour > 24 || minute > 59 || (hour == 24 && minute > 0))
                return -EINVAL;

        *pos = p;
        *ret_hour = hour;
        *ret_minute = minute;
        return 1;
}

/* A date at *pos: "2027年1月15日", "1月15号", "2027-01-15". */
static int zh_date(const char *s, size_t *pos, struct when *wh)
{
        size_t p = *pos, len = strspn(s + p, "0123456789-");
        int y = 0, m, d, r;

        r = iso_date(s + p, len, &y, &m, &d);
        if (r > 0) {
                *pos = p + len;
                goto found;
        }

        if (zh_number(s, &p, &y) && zh_eat(s, &p, "年")) {
                if (y < 100)
                        return -EINVAL;
        } else {
                p = *pos;
                y = 0;
        }

        if (!zh_number(s, &p, &m) || !zh_eat(s, &p, "月"))
                return y ? -EINVAL : 0;
        if (!zh_number(s, &p, &d) || (!zh_eat(s, &p, "日") && !zh_eat(s, &p, "号")))
                return -EINVAL;
        *pos = p;

found:
        wh->year = y;
        wh->month = m;
        wh->mday = d;
        return 1;
}

static const char *const zh_every_week[] = {
        "每个星期", "每星期", "每个礼拜", "每礼拜", "每周",
};
static const char *const zh_next_week[] = {
        "下个星期", "下星期", "下个礼拜", "下礼拜", "下周",
};
static const char *const zh_week[] = { "星期", "礼拜", "周" };

/* "每周一、三和五": the weekdays after a "每周" word. */
static unsigned zh_weekday_list(const char *s, size_t *pos)
{
        static const char *const joins[] = { "、", "和", "，", ",", "及" };
        unsigned days = 0;
        size_t p = *pos;
        int d;

        while ((d = zh_weekday(s, &p))) {
                size_t q = p;

                days |= 1u << d;
                *pos = p;
                if (zh_eat_any(s, &q, joins, ELEMENTSOF(joins)) < 0)
                        break;
                zh_eat_any(s, &q, zh_week, ELEMENTSOF(zh_week));
                p = q;
        }
        return days;
}

/* One element of when at *pos, like en_element. */
static int zh_element(const char *s, size_t *pos, struct when *wh,
                      struct remind_error *err)
{
        static const char *const every_day[] = { "每天", "每日", "天天" };
        static const char *const working_days[] = { "每个工作日", "每工作日",
                                                    "每周工作日", "工作日" };
        static const char *const weekends[] = { "每个周末", "每周末" };
        static const char *const relative_days[] = { "大后天", "后天", "明天", "今天",
                                                     "今晚", "明早", "明晚" };
        static const int relative_offsets[] = { 3, 2, 1, 0, 0, 1, 1 };
        bool day_free = wh->day == DAY_NONE && !wh->has_offset;
        bool time_free = !wh->has_time && !wh->has_offset;
        size_t start = *pos, p = *pos, end;
        int r, i;

        if (!wh->has_offset && wh->day == DAY_NONE && !wh->has_time &&
            !wh->has_period) {
                struct duration d = {};

                r = zh_duration(s, &p, &d);
                if (r == -ERANGE)
                        return parse_fail(err, REMIND_PART_DURATION, REMIND_LANG_ZH,
                                          zh_rest(s, start), "", "“%s”太远了：最多5年。");
                if (r > 0 && (zh_eat(s, &p, "之后") || zh_eat(s, &p, "以后") ||
                              zh_eat(s, &p, "后"))) {
                        if (!duration_positive(&d))
                                return parse_fail(err, REMIND_PART_DURATION,
                                                  REMIND_LANG_ZH,
                                                  (struct span){ s + start, p - start },
                                                  "", "看不懂时长“%s”。");
                        wh->has_offset = true;
                        wh->offset = d;
                        wh->offset_text = (struct span){ s + start, p - start };
                        *pos = p;
                        return 1;
                }
                p = start;
        }

        if (day_free) {
                unsigned days = 0;

                if ((i = zh_eat_any(s, &p, weekends, ELEMENTSOF(weekends))) >= 0)
                        days = WEEKEND_DAYS;
                else if ((i = zh_eat_any(s, &p, every_day, ELEMENTSOF(every_day))) >= 0)
                        days = ALL_WEEKDAYS;
                else if ((i = zh_eat_any(s, &p, working_days,
                                         ELEMENTSOF(working_days))) >= 0)
                        days = WORKING_DAYS;
                else if (zh_eat_any(s, &p, zh_every_week, ELEMENTSOF(zh_every_week)) >= 0) {
                        days = zh_weekday_list(s, &p);
                        if (!days)
                                return parse_fail(err, REMIND_PART_WEEKDAY,
                                                  REMIND_LANG_ZH,
                                                  zh_rest(s, start), "",
                                                  "看不懂“%s”：可以每天、每个工作日或每周几提醒。");
                }
                if (days) {
                        wh->day = DAY_EVERY;
                        wh->weekdays = days;
                        goto day_found;
                }

                if (zh_eat_any(s, &p, zh_next_week, ELEMENTSOF(zh_next_week)) >= 0) {
                        int d = zh_weekday(s, &p);

                        if (d) {
                                wh->day = DAY_NEXT_WEEK;
                                wh->weekdays = 1u << d;
                                goto day_found;
                        }
                        p = start;
                }

                if (zh_eat_any(s, &p, zh_week, ELEMENTSOF(zh_week)) >= 0) {
                        int d = zh_weekday(s, &p);

                        if (d) {
                                wh->day = DAY_WEEKDAY;
                                wh->weekdays = 1u << d;
                                goto day_found;
                        }
                        p = start;
                }

                i = zh_eat_any(s, &p, relative_days, ELEMENTSOF(relative_days));
                if (i >= 0) {
                        wh->day = DAY_RELATIVE;
                        wh->day_offset = relative_offsets[i];
                        /* 今晚, 明早, 明晚 name a period too. */
                        if (i >= 4 && !wh->has_period) {
                                wh->has_period = true;
                                wh->period_kind = i == 5 ? PERIOD_MORNING : PERIOD_EVENING;
                                wh->period_default_hour = i == 5 ? 8 : 20;
                        }
                        goto day_found;
                }

                r = zh_date(s, &p, wh);
                if (r < 0)
                        return parse_fail(err, REMIND_PART_DATE, REMIND_LANG_ZH,
                                          zh_rest(s, start), "", "看不懂日期“%s”。");
                if (r > 0) {
                        wh->day = DAY_DATE;
                        goto day_found;
                }
        }

        if (!wh->has_period && !wh->has_time && !wh->has_offset) {
                for (i = 0; i < (int)ELEMENTSOF(zh_periods); i++)
                        if (zh_eat(s, &p, zh_periods[i].name)) {
                                wh->has_period = true;
                                wh->period_kind = zh_periods[i].kind;
                                wh->period_default_hour = zh_periods[i].default_hour;
                                *pos = p;
                                return 1;
                        }
        }

        if (time_free) {
                int hour, minute;

                r = zh_clock(s, &p, &hour, &minute, &end);
                if (r < 0)
                        return parse_fail(err, REMIND_PART_TIME, REMIND_LANG_ZH,
                                          (struct span){ s + start, end - start },
                                          "", "看不懂时间“%s”。");
                if (r > 0) {
                        int carry;

                        hour = zh_period_hour(wh->has_period ? wh->period_kind :
                                                               PERIOD_NONE,
                                              hour, &carry);
                        if (hour == 24) {
                                hour = 0;
                                carry = 1;
                        }
                        wh->has_time = true;
                        wh->hour = hour;
                        wh->minute = minute;
                        wh->day_carry = carry;
                        wh->time_text = (struct span){ s + start, p - start };
                        *pos = p;
                        return 1;
                }
        }
        return 0;

day_found:
        wh->day_text = (struct span){ s + start, p - start };
        *pos = p;
        return 1;
}

static void zh_skip_fillers(const char *s, size_t *pos)
{
        static const char *const fillers[] = { " ", "\t", "在", "，", ",", "的时候" };

        while (zh_eat_any(s, pos, fillers, ELEMENTSOF(fillers)) >= 0)
                ;
}

static int zh_when(const char *s, size_t *pos, struct when *wh,
                   struct remind_error *err)
{
        for (;;) {
                size_t p = *pos;
                int r;

                zh_skip_fillers(s, &p);
                r = zh_element(s, &p, wh, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 0;
                *pos = p;
        }
}

static int zh_parse(const char *s, struct when *ret, struct span *ret_text,
                    struct remind_error *err)
{
        static const char *const remind_words[] = { "提醒我", "提醒一下我", "提醒" };
        static const char *const leading[] = { "：", ":", "，", ",", " ", "一下", "去",
                                               "要" };
        struct when wh = {};
        size_t p = 0, len;
        int r;

        while (is_space(s[p]))
                p++;
        zh_eat(s, &p, "请");

        if (zh_eat_any(s, &p, remind_words, ELEMENTSOF(remind_words)) >= 0) {
                /* 提醒我明天9点开会 */
                r = zh_when(s, &p, &wh, err);
                if (r < 0)
                        return r;
        } else {
                /* 明天上午9点提醒我开会 */
                r = zh_when(s, &p, &wh, err);
                if (r < 0)
                        return r;
                zh_skip_fillers(s, &p);
                zh_eat_any(s, &p, remind_words, ELEMENTSOF(remind_words));
        }

        if (!when_found(&wh))
                return parse_fail(err, REMIND_PART_WHEN, REMIND_LANG_ZH, no_span, "",
                                  "没有找到提醒的时间。%s");

        while (zh_eat_any(s, &p, leading, ELEMENTSOF(leading)) >= 0)
                ;
        len = strlen(s + p);
        while (len > 0 && is_space(s[p + len - 1]))
                len--;
        /* 明天九点一起吃饭提醒我: the text came before 提醒我. */
        for (size_t i = 0; i < ELEMENTSOF(remind_words); i++) {
                size_t k = strlen(remind_words[i]);

                if (len >= k && strncmp(s + p + len - k, remind_words[i], k) == 0) {
                        len -= k;
                        break;
                }
        }
        while (len > 0 && is_space(s[p + len - 1]))
                len--;
        if (len == 0)
                return parse_fail(err, REMIND_PART_TEXT, REMIND_LANG_ZH, no_span, "",
                                  "要提醒什么呢？%s");

        *ret = wh;
        *ret_text = (struct span){ s + p, len };
        return 0;
}

/* ---- the public face ---- */

/* Whether s holds a CJK ideograph; -EBADMSG if it is not UTF-8. */
static int has_han(const char *s)
{
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
        bool han = false;

        while (*p) {
                utf8proc_int32_t c;
                utf8proc_ssize_t k = utf8proc_iterate(p, -1, &c);

                if (k < 0)
                        return -EBADMSG;
                if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf))
                        han = true;
                p += k;
        }
        return han;
}

static bool starts_with_remind(const char *text)
{
        while (is_space(*text))
                text++;
        return strncasecmp(text, "remind", 6) == 0 &&
               (text[6] == '\0' || is_space(text[6]));
}

bool remind_is_request(const char *text)
{
        return text && (starts_with_remind(text) || strstr(text, "提醒我"));
}

void remind_request_clear(struct remind_request *r)
{
        if (!r)
                return;

        free(r->text);
        free(r->rule);
        *r = (struct remind_request){};
}

int remind_parse(const char *input, int64_t now_ms, const char *tz,
                 struct remind_request *ret, struct remind_error *error)
{
        _cleanup_(ucal_closep) UCalendar *cal = NULL;
        char rule[REMIND_RULE_MAX] = "";
        enum remind_lang lang = REMIND_LANG_EN;
        struct remind_error scratch;
        struct remind_request req = {};
        struct span text = {};
        struct when wh;
        int64_t due = 0;
        int han, r;

        if (!error)
                error = &scratch;
        if (!input || !ret)
                return parse_fail(error, REMIND_PART_WHEN, lang, no_span,
                                  "I could not tell when to remind you.%s", "");

        if (strlen(input) > REMIND_INPUT_MAX_BYTES) {
                parse_fail(error, REMIND_PART_TEXT, lang, no_span,
                           "That is too long for a reminder.%s", "");
                return -E2BIG;
        }

        han = has_han(input);
        if (han < 0)
                return parse_fail(error, REMIND_PART_TEXT, lang, no_span,
                                  "That is not valid UTF-8 text.%s", "");
        if (han && !starts_with_remind(input))
                lang = REMIND_LANG_ZH;

        r = zone_open(tz ? tz : "", &cal);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return parse_fail(error, REMIND_PART_ZONE, lang,
                                  (struct span){ tz, tz ? strlen(tz) : 0 },
                                  "I do not know the time zone \"%s\".",
                                  "不认识时区“%s”。");

        r = lang == REMIND_LANG_ZH ? zh_parse(input, &wh, &text, error) :
                                     en_parse(input, &wh, &text, error);
        if (r < 0)
                return r;

        if (text.len > REMIND_TEXT_MAX_BYTES)
                return parse_fail(error, REMIND_PART_TEXT, lang, no_span,
                                  "That is too much text for a reminder.%s",
                                  "提醒的内容太长了。%s");

        r = when_resolve(&wh, now_ms, cal, lang, &due, rule, error);
        if (r < 0)
                return r;

        req.text = strndup(text.start, text.len);
        req.rule = rule[0] ? strdup(rule) : NULL;
        if (!req.text || (rule[0] && !req.rule)) {
                remind_request_clear(&req);
                return -ENOMEM;
        }

        req.due_at_ms = due;
        req.lang = lang;
        *ret = req;
        return 0;
}

int remind_parse_duration(const char *text, int64_t *ret_ms)
{
        _cleanup_free_ struct word *w = NULL;
        struct duration d = {};
        size_t n, i = 0, stop;
        bool malformed;
        int r;

        if (!text)
                return -EINVAL;
        if (strlen(text) > REMIND_INPUT_MAX_BYTES)
                return -E2BIG;

        r = has_han(text);
        if (r < 0)
                return -EINVAL;

        if (r > 0) {
                size_t p = 0;

                while (is_space(text[p]))
                        p++;
                r = zh_duration(text, &p, &d);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -EINVAL;
                if (!zh_eat(text, &p, "之后"))
                        zh_eat(text, &p, "后");
                while (is_space(text[p]))
                        p++;
                if (text[p])
                        return -EINVAL;
        } else {
                r = words_split(text, &w, &n);
                if (r < 0)
                        return r;
                if (n > 0 && (word_is(&w[0], "in") || word_is(&w[0], "for")))
                        i++;
                if (i >= n)
                        return -EINVAL;
                r = en_duration(w, i, n, &d, &malformed, &stop);
                if (r < 0)
                        return r;
                if (r == 0 || i + (size_t)r != n)
                        return -EINVAL;
        }

        /* A snooze is elapsed time: a month has no fixed length. */
        if (d.months > 0 || !duration_positive(&d))
                return -EINVAL;

        d.ms += (int64_t)d.days * DAY_MS;
        if (d.ms > REMIND_AHEAD_MAX_MS)
                return -ERANGE;

        *ret_ms = d.ms;
        return 0;
}

int remind_format_time(int64_t ms, const char *tz, bool chinese, char *buf,
                       size_t size)
{
        static const char *const en_days[] = { "", "Mon", "Tue", "Wed", "Thu", "Fri",
                                               "Sat", "Sun" };
        static const char *const zh_days[] = { "", "一", "二", "三", "四", "五", "六",
                                               "日" };
        _cleanup_(ucal_closep) UCalendar *cal = NULL;
        UErrorCode status = U_ZERO_ERROR;
        UChar zone16[ZONE_NAME_MAX];
        char zone[ZONE_NAME_MAX * 3];
        struct civil c;
        UBool dst;
        int n, r;

        r = zone_open(tz ? tz : "", &cal);
        if (r < 0)
                return r;

        r = civil_from_ms(cal, ms, &c);
        if (r < 0)
                return r;

        dst = ucal_inDaylightTime(cal, &status);
        ucal_getTimeZoneDisplayName(cal, dst ? UCAL_SHORT_DST : UCAL_SHORT_STANDARD,
                                    "en_US", zone16, ELEMENTSOF(zone16), &status);
        u_strToUTF8(zone, sizeof(zone), NULL, zone16, -1, &status);
        if (U_FAILURE(status))
                return -EINVAL;

        if (chinese)
                n = snprintf(buf, size, "%04d-%02d-%02d 周%s %02d:%02d %s", c.year,
                             c.month, c.day, zh_days[c.weekday], c.hour, c.minute,
                             zone);
        else
                n = snprintf(buf, size, "%s %04d-%02d-%02d %02d:%02d %s",
                             en_days[c.weekday], c.year, c.month, c.day, c.hour,
                             c.minute, zone);

        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        return 0;
}
