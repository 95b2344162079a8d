/* test.h: the assertions parley's unit tests use.
 *
 * A test binary runs its checks, prints each failure with file and line and
 * the values compared, and exits 1 if any failed, 77 (automake's "skip")
 * when TEST_SKIP was called, 0 otherwise. */
#ifndef PARLEY_TEST_H
#define PARLEY_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define TEST_FAIL(...)                                                  \
        do {                                                            \
                test_failures++;                                        \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);         \
                fprintf(stderr, __VA_ARGS__);                           \
                fputc('\n', stderr);                                    \
        } while (0)

#define CHECK(cond)                                                     \
        do {                                                            \
                test_checks++;                                          \
                if (!(cond))                                            \
                        TEST_FAIL("check failed: %s", #cond);           \
        } while (0)

#define CHECK_INT_EQ(a, b)                                              \
        do {                                                            \
                long long _a = (long long)(a), _b = (long long)(b);     \
                test_checks++;                                          \
                if (_a != _b)                                           \
                        TEST_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b); \
        } while (0)

#define CHECK_STR_EQ(a, b)                                              \
        do {                                                            \
                const char *_a = (a), *_b = (b);                        \
                test_checks++;                                          \
                if (!_a || !_b || strcmp(_a, _b) != 0)                  \
                        TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, \
                                  _a ? _a : "(null)", _b ? _b : "(null)"); \
        } while (0)

/* |a - b| <= tol * max(1, |b|): relative for large values, absolute near 0. */
#define CHECK_NEAR(a, b, tol)                                           \
        do {                                                            \
                double _a = (a), _b = (b), _t = (tol);                  \
                test_checks++;                                          \
                if (!(fabs(_a - _b) <= _t * fmax(1.0, fabs(_b))))       \
                        TEST_FAIL("%s ~= %s: %.9g != %.9g (tol %g)",    \
                                  #a, #b, _a, _b, _t);                  \
        } while (0)

#define TEST_SKIP(...)                                                  \
        do {                                                            \
                fprintf(stderr, "SKIP: ");                              \
                fprintf(stderr, __VA_ARGS__);                           \
                fputc('\n', stderr);                                    \
                exit(77);                                               \
        } while (0)

static inline int test_finish(void)
{
        fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);
        return test_failures ? 1 : 0;
}

#endif
