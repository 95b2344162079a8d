# src/net.mk: HTTP client and server on the event loop, with their unit
# tests.
src_libparley_a_SOURCES += \
	src/http.c src/http.h

check_PROGRAMS += tests/test-http
TESTS += tests/test-http
tests_test_http_SOURCES = tests/test-http.c tests/test.h
tests_test_http_LDADD = $(PARLEY_LIBS)
