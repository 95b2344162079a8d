# adapters/local.mk: the platform adapters, built into libparley.a.
src_libparley_a_SOURCES += \
	adapters/adapter.h \
	adapters/registry.c \
	adapters/console.c \
	adapters/matrix.c \
	adapters/telegram.c
src_libparley_a_SOURCES += adapters/matrix-split.c adapters/matrix-split.h

check_PROGRAMS += tests/test-matrix-split
TESTS += tests/test-matrix-split
tests_test_matrix_split_SOURCES = tests/test-matrix-split.c tests/test.h
tests_test_matrix_split_LDADD = $(PARLEY_LIBS)

src_libparley_a_SOURCES += \
	adapters/slack.c \
	adapters/slack-text.c adapters/slack-text.h \
	adapters/slack-sign.c adapters/slack-sign.h
# The Events API's signature check (adapters/slack-sign.c) uses libcrypto.
AM_CFLAGS += $(CRYPTO_CFLAGS)
PARLEY_LIBS += $(CRYPTO_LIBS)

check_PROGRAMS += tests/test-slack-text
TESTS += tests/test-slack-text
tests_test_slack_text_SOURCES = tests/test-slack-text.c tests/test.h
tests_test_slack_text_LDADD = $(PARLEY_LIBS)

check_PROGRAMS += tests/test-slack-sign
TESTS += tests/test-slack-sign
tests_test_slack_sign_SOURCES = tests/test-slack-sign.c tests/test.h
tests_test_slack_sign_LDADD = $(PARLEY_LIBS)
