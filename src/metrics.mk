# src/metrics.mk: rules for the metrics modules and their tests.
src_libparley_a_SOURCES += src/metrics.c src/metrics.h src/porter.c src/porter.h
src_parley_SOURCES += src/parley-score.c

check_PROGRAMS += tests/test-metrics tests/test-porter
TESTS += tests/test-metrics tests/test-porter tests/test-score.sh
tests_test_metrics_SOURCES = tests/test-metrics.c tests/test.h
tests_test_metrics_LDADD = $(PARLEY_LIBS)
tests_test_porter_SOURCES = tests/test-porter.c tests/test.h
tests_test_porter_LDADD = $(PARLEY_LIBS)

EXTRA_DIST += tests/test-score.sh tests/fixtures/metrics-porter.tsv
