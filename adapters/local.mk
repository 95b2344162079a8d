# adapters/local.mk: the platform adapters, built into libparley.a.
src_libparley_a_SOURCES += \
	adapters/adapter.h \
	adapters/registry.c \
	adapters/console.c \
	adapters/matrix.c
src_libparley_a_SOURCES += adapters/matrix-split.c adapters/matrix-split.h

check_PROGRAMS += tests/test-matrix-split
TESTS += tests/test-matrix-split
tests_test_matrix_split_SOURCES = tests/test-matrix-split.c tests/test.h
tests_test_matrix_split_LDADD = $(PARLEY_LIBS)
