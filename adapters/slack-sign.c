/* slack-sign.c: Slack request signatures, with OpenSSL's HMAC. */
#include "autoconfig.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "slack-sign.h"

#define SLACK_SIGN_TIMESTAMP_DIGITS_MAX 18     /* fits int64_t */
#define SLACK_SIGN_DIGEST_BYTES 32      /* SHA-256 */

static int timestamp_parse(const char *s, int64_t *ret)
{
        size_t n = s ? strspn(s, "0123456789") : 0;

        if (n == 0 || n > SLACK_SIGN_TIMESTAMP_DIGITS_MAX || s[n] != '\0')
                return -EINVAL;
        *ret = strtoll(s, NULL, 10);
        return 0;
}

int slack_sign_verify(const char *secret, const char *timestamp, const char *signature,
                      const void *body, size_t body_len, int64_t now_s)
{
        unsigned char digest[SLACK_SIGN_DIGEST_BYTES];
        char expected[3 + 2 * SLACK_SIGN_DIGEST_BYTES + 1];
        _cleanup_free_ unsigned char *base = NULL;
        unsigned int digest_len = 0;
        size_t prefix_len;
        int64_t ts;

        if (timestamp_parse(timestamp, &ts) < 0 || !signature ||
            strlen(signature) != sizeof(expected) - 1 || strncmp(signature, "v0=", 3) != 0)
                return SLACK_SIGN_MALFORMED;
        if (ts > now_s + SLACK_SIGN_SKEW_S || ts < now_s - SLACK_SIGN_SKEW_S)
                return SLACK_SIGN_STALE;

        /* "v0:" TIMESTAMP ":" BODY */
        prefix_len = strlen(timestamp) + 4;
        base = malloc(prefix_len + body_len + 1);
        if (!base)
                return -ENOMEM;
        snprintf((char *)base, prefix_len + 1, "v0:%s:", timestamp);
        memcpy(base + prefix_len, body, body_len);

        if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), base, prefix_len + body_len,
                  digest, &digest_len) || digest_len != sizeof(digest))
                return -EIO;

        memcpy(expected, "v0=", 3);
        for (size_t i = 0; i < sizeof(digest); i++)
                snprintf(expected + 3 + 2 * i, 3, "%02x", digest[i]);

        /* Upper-case hex is not what Slack sends: it simply fails. */
        if (CRYPTO_memcmp(expected, signature, sizeof(expected) - 1) != 0)
                return SLACK_SIGN_MISMATCH;
        return SLACK_SIGN_OK;
}

const char *slack_sign_result_string(enum slack_sign_result r)
{
        switch (r) {
        case SLACK_SIGN_OK:
                return "signature good";
        case SLACK_SIGN_MALFORMED:
                return "X-Slack-Signature or X-Slack-Request-Timestamp missing or malformed";
        case SLACK_SIGN_STALE:
                return "X-Slack-Request-Timestamp more than 5 minutes off";
        case SLACK_SIGN_MISMATCH:
                return "X-Slack-Signature does not match";
        }
        return "unknown result";
}
