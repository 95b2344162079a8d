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
EXTRA_DIST += tests/test-eval.sh tests/fixtures/decode-zh.tsv

# The benchmark: built on demand (make bench/bench-decode), run by
# bench/decode.sh.
EXTRA_PROGRAMS += bench/bench-decode
bench_bench_decode_SOURCES = bench/bench-decode.c
bench_bench_decode_LDADD = $(PARLEY_LIBS)
CLEANFILES += bench/bench-decode
EXTRA_DIST += bench/decode.sh
