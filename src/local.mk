# The core library shared by parleyd, parley and the unit tests; the other
# fragments add their modules to it.
noinst_LIBRARIES += src/libparley.a
src_libparley_a_SOURCES = \
	src/macro.h \
	src/log.c src/log.h \
	src/config.c src/config.h \
	src/backoff.c src/backoff.h \
	src/workq.c src/workq.h \
	src/router.c src/router.h \
	src/commands.c src/commands.h \
	src/scheduler.c src/scheduler.h \
	src/policy.c src/policy.h \
	src/stats.c src/stats.h \
	src/responder.c src/responder.h \
	src/core.c src/core.h \
	src/store.h

PARLEY_LIBS = src/libparley.a $(LIBUV_LIBS) $(SQLITE_LIBS) $(INIH_LIBS) \
	$(UTF8PROC_LIBS) $(JSONC_LIBS) $(CURL_LIBS) $(LWS_LIBS) $(SYSTEMD_LIBS) \
	$(OPENBLAS_LIBS) $(YAML_LIBS) $(LIBS)
AM_CFLAGS += $(LIBUV_CFLAGS) $(SQLITE_CFLAGS) $(INIH_CFLAGS) $(UTF8PROC_CFLAGS) \
	$(JSONC_CFLAGS) $(CURL_CFLAGS) $(LWS_CFLAGS) $(SYSTEMD_CFLAGS) \
	$(OPENBLAS_CFLAGS) $(YAML_CFLAGS)

sbin_PROGRAMS += src/parleyd
src_parleyd_SOURCES = src/parleyd.c
src_parleyd_LDADD = $(PARLEY_LIBS)

bin_PROGRAMS += src/parley
src_parley_SOURCES = src/parley.c src/parley.h src/parley-db.c
src_parley_LDADD = $(PARLEY_LIBS)

check_PROGRAMS += tests/test-router tests/test-commands tests/test-workq tests/test-policy \
	tests/test-responder tests/test-stats
TESTS += tests/test-router tests/test-commands tests/test-workq tests/test-policy \
	tests/test-responder tests/test-stats
tests_test_stats_SOURCES = tests/test-stats.c tests/test.h
tests_test_stats_LDADD = $(PARLEY_LIBS)
tests_test_responder_SOURCES = tests/test-responder.c tests/test.h
tests_test_responder_LDADD = $(PARLEY_LIBS)
tests_test_policy_SOURCES = tests/test-policy.c tests/test.h
tests_test_policy_LDADD = $(PARLEY_LIBS)
tests_test_workq_SOURCES = tests/test-workq.c tests/test.h
tests_test_workq_LDADD = $(PARLEY_LIBS)
tests_test_router_SOURCES = tests/test-router.c tests/test.h
tests_test_router_LDADD = $(PARLEY_LIBS)
tests_test_commands_SOURCES = tests/test-commands.c tests/test.h
tests_test_commands_LDADD = $(PARLEY_LIBS)

include $(srcdir)/src/store.mk
include $(srcdir)/src/text.mk
include $(srcdir)/src/metrics.mk
include $(srcdir)/src/model.mk
include $(srcdir)/src/remind.mk
include $(srcdir)/src/decode.mk
include $(srcdir)/src/net.mk
