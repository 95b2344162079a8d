/* slack-sign.h: checking Slack's request signatures (Events API).
 *
 * Slack signs each request it POSTs with the app's signing secret:
 *   X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:" TIMESTAMP ":" BODY))
 *   X-Slack-Request-Timestamp: TIMESTAMP (Unix seconds)
 * A request is taken only when the signature matches, compared in constant
 * time, and the timestamp is within SLACK_SIGN_SKEW_S of now, so a
 * recorded request cannot be replayed later. */
#ifndef PARLEY_SLACK_SIGN_H
#define PARLEY_SLACK_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define SLACK_SIGN_SKEW_S (5 * 60)

enum slack_sign_result {
        SLACK_SIGN_OK,
        SLACK_SIGN_MALFORMED,   /* a header missing or not of the documented form */
        SLACK_SIGN_STALE,       /* the timestamp is more than SLACK_SIGN_SKEW_S off */
        SLACK_SIGN_MISMATCH,    /* signed with another secret, or altered */
};

/* Checks one request; timestamp and signature are the two headers' values
 * (NULL when absent).  Returns a slack_sign_result, or -ENOMEM / -EIO when
 * the digest could not be computed. */
int slack_sign_verify(const char *secret, const char *timestamp, const char *signature,
                      const void *body, size_t body_len, int64_t now_s);

/* A short description of a result, for the log. */
const char *slack_sign_result_string(enum slack_sign_result r);

#endif
