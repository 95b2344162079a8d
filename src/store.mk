# src/store.mk: the SQLite store and its unit test.
src_libparley_a_SOURCES += src/store.c src/store.h

check_PROGRAMS += tests/test-store
TESTS += tests/test-store
tests_test_store_SOURCES = tests/test-store.c tests/test.h
tests_test_store_LDADD = $(PARLEY_LIBS)
EXTRA_DIST += tests/fixtures/store-v1.sql
