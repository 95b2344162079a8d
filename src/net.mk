# src/net.mk: HTTP client and server on the event loop, reply splitting and
# send rate limits, with their unit tests.
src_libparley_a_SOURCES += \
	src/http.c src/http.h \
	src/httpd.c src/httpd.h \
	src/textsplit.c src/textsplit.h \
	src/ratelimit.c src/ratelimit.h

check_PROGRAMS += tests/test-http tests/test-httpd tests/test-textsplit tests/test-ratelimit
TESTS += tests/test-http tests/test-httpd tests/test-textsplit tests/test-ratelimit
tests_test_http_SOURCES = tests/test-http.c tests/test.h
tests_test_http_LDADD = $(PARLEY_LIBS)
tests_test_httpd_SOURCES = tests/test-httpd.c tests/test.h
tests_test_httpd_LDADD = $(PARLEY_LIBS)
tests_test_textsplit_SOURCES = tests/test-textsplit.c tests/test.h
tests_test_textsplit_LDADD = $(PARLEY_LIBS)
tests_test_ratelimit_SOURCES = tests/test-ratelimit.c tests/test.h
tests_test_ratelimit_LDADD = $(PARLEY_LIBS)

# Figures, not pass/fail: run by hand (see its header).
EXTRA_DIST += bench/load-telegram.py
