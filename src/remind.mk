# src/remind.mk: reminder phrases and time arithmetic, and its unit test.
src_libparley_a_SOURCES += src/remind.c src/remind.h
PARLEY_LIBS += $(ICU_LIBS)
AM_CFLAGS += $(ICU_CFLAGS)

check_PROGRAMS += tests/test-remind
TESTS += tests/test-remind
tests_test_remind_SOURCES = tests/test-remind.c tests/test.h
tests_test_remind_LDADD = $(PARLEY_LIBS)
