# src/text.mk: rules for the text modules and their tests.
src_libparley_a_SOURCES += \
	src/strmap.c src/strmap.h \
	src/tokenize.c src/tokenize.h \
	src/vocab.c src/vocab.h \
	src/corpus.c src/corpus.h

src_parley_SOURCES += src/parley-prep.c

check_PROGRAMS += tests/test-strmap tests/test-tokenize tests/test-vocab tests/test-corpus
TESTS += tests/test-strmap tests/test-tokenize tests/test-vocab tests/test-corpus \
	tests/test-prep.sh

tests_test_strmap_SOURCES = tests/test-strmap.c tests/test.h
tests_test_strmap_LDADD = $(PARLEY_LIBS)
tests_test_tokenize_SOURCES = tests/test-tokenize.c tests/test.h
tests_test_tokenize_LDADD = $(PARLEY_LIBS)
tests_test_vocab_SOURCES = tests/test-vocab.c tests/test.h
tests_test_vocab_LDADD = $(PARLEY_LIBS)
tests_test_corpus_SOURCES = tests/test-corpus.c tests/test.h
tests_test_corpus_LDADD = $(PARLEY_LIBS)

EXTRA_DIST += tests/test-prep.sh \
	tests/fixtures/text-pairs.tsv \
	tests/fixtures/text-pairs.jsonl \
	tests/fixtures/text-chatterbot.yml \
	tests/fixtures/text-prep-a.tsv \
	tests/fixtures/text-prep-b.yml \
	tests/fixtures/text-prep-expected.tsv

# xxHash is used by strmap only.
PARLEY_LIBS += $(XXHASH_LIBS)
AM_CFLAGS += $(XXHASH_CFLAGS)
