# adapters/local.mk: the platform adapters, built into libparley.a.
src_libparley_a_SOURCES += \
	adapters/adapter.h \
	adapters/registry.c \
	adapters/console.c
src_libparley_a_SOURCES += \
	adapters/slack.c \
	adapters/slack-text.c adapters/slack-text.h \
	adapters/slack-sign.c adapters/slack-sign.h
AM_CFLAGS += $(CRYPTO_CFLAGS)

check_PROGRAMS += tests/test-slack-text
TESTS += tests/test-slack-text
tests_test_slack_text_SOURCES = tests/test-slack-text.c tests/test.h
tests_test_slack_text_LDADD = $(PARLEY_LIBS)

# Only the signature check uses libcrypto; src/local.mk's PARLEY_LIBS gains
# $(CRYPTO_LIBS) when the Events API endpoint calls it from parleyd.
check_PROGRAMS += tests/test-slack-sign
TESTS += tests/test-slack-sign
tests_test_slack_sign_SOURCES = tests/test-slack-sign.c tests/test.h
tests_test_slack_sign_LDADD = $(PARLEY_LIBS) $(CRYPTO_LIBS)
