# src/decode.mk: the decoder, parley reply, chat and eval, their tests and
# benchmark.
src_libparley_a_SOURCES += src/decode.c src/decode.h

src_parley_SOURCES += src/parley-decode.c src/parley-decode.h \
	src/parley-reply.c src/parley-chat.c src/parley-eval.c

check_PROGRAMS += tests/test-decode
TESTS += tests/test-decode
tests_test_decode_SOURCES = tests/test-decode.c tests/test.h
tests_test_decode_LDADD = $(PARLEY_LIBS)

TESTS += tests/test-eval.sh
EXTRA_DIST += tests/test-eval.sh tests/fixtures/decode-zh.tsv man/parley-decode.md
