# src/net.mk: HTTP client and server on the event loop, with their unit
# tests.
src_libparley_a_SOURCES += \
	src/http.c src/http.h \
	src/httpd.c src/httpd.h

check_PROGRAMS += tests/test-http tests/test-httpd
TESTS += tests/test-http tests/test-httpd
tests_test_http_SOURCES = tests/test-http.c tests/test.h
tests_test_http_LDADD = $(PARLEY_LIBS)
tests_test_httpd_SOURCES = tests/test-httpd.c tests/test.h
tests_test_httpd_LDADD = $(PARLEY_LIBS)
