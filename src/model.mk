# src/model.mk: rules for the model modules and their tests.
src_libparley_a_SOURCES += \
	src/random.c src/random.h \
	src/parallel.c src/parallel.h \
	src/vecmath.h \
	src/vecmath-lanes.h \
	src/matvec.c src/matvec.h \
	src/lstm.c src/lstm.h \
	src/seq2seq.c src/seq2seq.h \
	src/safetensors.c src/safetensors.h \
	src/optim.c src/optim.h \
	src/blas.c src/blas.h \
	src/lossplot.c src/lossplot.h \
	src/train.c src/train.h

src_parley_SOURCES += src/parley-train.c

check_PROGRAMS += tests/test-lstm
TESTS += tests/test-lstm
tests_test_lstm_SOURCES = tests/test-lstm.c tests/test.h
tests_test_lstm_LDADD = $(PARLEY_LIBS)

check_PROGRAMS += tests/test-golden
TESTS += tests/test-golden tests/test-golden-torch.sh
tests_test_golden_SOURCES = tests/test-golden.c tests/test.h
tests_test_golden_LDADD = $(PARLEY_LIBS)
EXTRA_DIST += tests/golden/golden.safetensors tests/golden/make-golden.py \
	tests/test-golden-torch.sh

check_PROGRAMS += tests/test-safetensors
TESTS += tests/test-safetensors
tests_test_safetensors_SOURCES = tests/test-safetensors.c tests/test.h
tests_test_safetensors_LDADD = $(PARLEY_LIBS)

check_PROGRAMS += tests/test-seq2seq
TESTS += tests/test-seq2seq
tests_test_seq2seq_SOURCES = tests/test-seq2seq.c tests/test.h
tests_test_seq2seq_LDADD = $(PARLEY_LIBS)

check_PROGRAMS += tests/test-blas
TESTS += tests/test-blas
tests_test_blas_SOURCES = tests/test-blas.c tests/test.h
tests_test_blas_LDADD = $(PARLEY_LIBS)

TESTS += tests/test-train.sh
EXTRA_DIST += tests/test-train.sh tests/fixtures/train-pairs.tsv

# Benchmarks: built on demand (make bench/bench-train), run by bench/train.sh.
# Only this fragment has on-demand programs so far; move the "=" to Makefile.am
# when another needs them.
EXTRA_PROGRAMS = bench/bench-train bench/bench-encode
bench_bench_train_SOURCES = bench/bench-train.c
bench_bench_train_LDADD = $(PARLEY_LIBS)
bench_bench_encode_SOURCES = bench/bench-encode.c
bench_bench_encode_LDADD = $(PARLEY_LIBS)
CLEANFILES += bench/bench-train bench/bench-encode
EXTRA_DIST += bench/train.sh bench/train_torch.py bench/compare.sh bench/compare_torch.py

check_PROGRAMS += tests/test-vecmath
TESTS += tests/test-vecmath
tests_test_vecmath_SOURCES = tests/test-vecmath.c tests/test.h
tests_test_vecmath_LDADD = $(PARLEY_LIBS)

check_PROGRAMS += tests/test-matvec
TESTS += tests/test-matvec
tests_test_matvec_SOURCES = tests/test-matvec.c tests/test.h
tests_test_matvec_LDADD = $(PARLEY_LIBS)
