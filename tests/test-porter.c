/* test-porter: NLTK's Porter stemmer, word for word.
 *
 * tests/fixtures/metrics-porter.tsv holds words and the stems NLTK 3.8's
 * PorterStemmer().stem() gives them: every word where libstemmer's porter
 * or english stemmer differs from NLTK in shared/corpora, a sample of the
 * other words there, and words for each rule of the algorithm. */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "porter.h"
#include "test.h"

/* Every word of the fixture, stemmed as NLTK 3.8 stems it. */
static void test_porter_fixture(void)
{
        _cleanup_free_ char *path = NULL, *line = NULL;
        size_t cap = 0, checked = 0;
        ssize_t n;
        FILE *f;
        const char *top_srcdir = getenv("top_srcdir");

        if (asprintf(&path, "%s/tests/fixtures/metrics-porter.tsv",
                     top_srcdir ? top_srcdir : ".") < 0)
                abort();

        f = fopen(path, "re");
        if (!f) {
                TEST_FAIL("cannot open %s", path);
                return;
        }

        while ((n = getline(&line, &cap, f)) > 0) {
                _cleanup_free_ char *stem = NULL;
                char *tab;

                if (line[0] == '#')
                        continue;
                line[strcspn(line, "\n")] = '\0';
                tab = strchr(line, '\t');
                if (!tab) {
                        TEST_FAIL("%s: line without a tab: '%s'", path, line);
                        continue;
                }
                *tab = '\0';

                CHECK_INT_EQ(porter_stem(line, &stem), 0);
                if (stem && strcmp(stem, tab + 1) != 0)
                        TEST_FAIL("stem('%s') = '%s', NLTK says '%s'", line, stem, tab + 1);
                test_checks++;
                checked++;
        }

        fclose(f);
        printf("porter fixture: %zu words checked\n", checked);
        CHECK(checked > 1000);
}

static void test_errors(void)
{
        _cleanup_free_ char *long_word = malloc(PORTER_WORD_MAX_BYTES + 2);
        char *out = NULL;

        CHECK_INT_EQ(porter_stem("Running", &out), -EINVAL);
        CHECK_INT_EQ(porter_stem("naïve", &out), -EINVAL);
        CHECK_INT_EQ(porter_stem("two words", &out), -EINVAL);
        CHECK(out == NULL);

        /* At the limit a word is stemmed (quickly: with no vowel before
         * "ing" each rule scans all of it once); one byte more is refused. */
        memset(long_word, 'b', PORTER_WORD_MAX_BYTES + 1);
        memcpy(long_word + PORTER_WORD_MAX_BYTES - 3, "ing", 3);
        long_word[PORTER_WORD_MAX_BYTES] = '\0';
        CHECK_INT_EQ(porter_stem(long_word, &out), 0);
        CHECK_INT_EQ(out ? strlen(out) : 0, PORTER_WORD_MAX_BYTES);
        free(out);
        out = NULL;

        long_word[PORTER_WORD_MAX_BYTES] = 'a';
        long_word[PORTER_WORD_MAX_BYTES + 1] = '\0';
        CHECK_INT_EQ(porter_stem(long_word, &out), -E2BIG);
        CHECK(out == NULL);

        /* Words of one or two letters are returned as they are. */
        CHECK_INT_EQ(porter_stem("", &out), 0);
        CHECK_STR_EQ(out, "");
        free(out);
}

int main(void)
{
        test_porter_fixture();
        test_errors();

        return test_finish();
}
