# adapters/local.mk: the platform adapters, built into libparley.a.
src_libparley_a_SOURCES += \
	adapters/adapter.h \
	adapters/registry.c \
	adapters/console.c
src_libparley_a_SOURCES += \
	adapters/slack.c \
	adapters/slack-text.c adapters/slack-text.h

check_PROGRAMS += tests/test-slack-text
TESTS += tests/test-slack-text
tests_test_slack_text_SOURCES = tests/test-slack-text.c tests/test.h
tests_test_slack_text_LDADD = $(PARLEY_LIBS)
