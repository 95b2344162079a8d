/* test-slack-sign: Slack's request signature check, on the example from
 * Slack's documentation ("Verifying requests from Slack"). */
#include "autoconfig.h"

#include <string.h>

#include "slack-sign.h"
#include "test.h"

#define SECRET "8f742231b10e8888abcd99yyyzzz85a5"
#define TS "1531420618"
#define GOOD "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

static const char body[] =
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

static int verify(const char *secret, const char *ts, const char *sig, const char *b,
                  int64_t now_s)
{
        return slack_sign_verify(secret, ts, sig, b, strlen(b), now_s);
}

int main(void)
{
        const int64_t now = 1531420618;
        char altered[sizeof(body)];

        CHECK_INT_EQ(verify(SECRET, TS, GOOD, body, now), SLACK_SIGN_OK);
        CHECK_INT_EQ(verify(SECRET, TS, GOOD, body, now + 300), SLACK_SIGN_OK);
        CHECK_INT_EQ(verify(SECRET, TS, GOOD, body, now - 300), SLACK_SIGN_OK);

        /* Five minutes and one second either way is too far. */
        CHECK_INT_EQ(verify(SECRET, TS, GOOD, body, now + 301), SLACK_SIGN_STALE);
        CHECK_INT_EQ(verify(SECRET, TS, GOOD, body, now - 301), SLACK_SIGN_STALE);

        /* Another secret, another body, another timestamp. */
        CHECK_INT_EQ(verify("8f742231b10e8888abcd99yyyzzz85a6", TS, GOOD, body, now),
                     SLACK_SIGN_MISMATCH);
        memcpy(altered, body, sizeof(body));
        altered[6] = 'X';
        CHECK_INT_EQ(verify(SECRET, TS, GOOD, altered, now), SLACK_SIGN_MISMATCH);
        CHECK_INT_EQ(verify(SECRET, "1531420619", GOOD, body, now), SLACK_SIGN_MISMATCH);
        CHECK_INT_EQ(verify(SECRET, TS, "v0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD2"
                            "7519666489C69B503", body, now), SLACK_SIGN_MISMATCH);

        /* Headers missing or of the wrong form. */
        CHECK_INT_EQ(verify(SECRET, NULL, GOOD, body, now), SLACK_SIGN_MALFORMED);
        CHECK_INT_EQ(verify(SECRET, TS, NULL, body, now), SLACK_SIGN_MALFORMED);
        CHECK_INT_EQ(verify(SECRET, "", GOOD, body, now), SLACK_SIGN_MALFORMED);
        CHECK_INT_EQ(verify(SECRET, "15314x0618", GOOD, body, now), SLACK_SIGN_MALFORMED);
        CHECK_INT_EQ(verify(SECRET, "-1531420618", GOOD, body, now), SLACK_SIGN_MALFORMED);
        CHECK_INT_EQ(verify(SECRET, TS, "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27"
                            "519666489c69b503", body, now), SLACK_SIGN_MALFORMED);
        CHECK_INT_EQ(verify(SECRET, TS, "v0=a2114d57", body, now), SLACK_SIGN_MALFORMED);

        /* An empty body is signed like any other. */
        CHECK_INT_EQ(verify(SECRET, TS, GOOD, "", now), SLACK_SIGN_MISMATCH);

        CHECK_STR_EQ(slack_sign_result_string(SLACK_SIGN_STALE),
                     "X-Slack-Request-Timestamp more than 5 minutes off");
        return test_finish();
}
