/* test-metrics: BLEU and ROUGE against the reference implementations.
 *
 * Every case of shared/testvectors/bleu-rouge.json (sacrebleu, NLTK and
 * rouge-score figures) within its tolerance, and exact tokeniser outputs,
 * options and errors, whose expected values were computed with sacrebleu's,
 * rouge-score's and NLTK's algorithms and checked by hand where noted. */
#include "autoconfig.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "metrics.h"
#include "test.h"

/* The vectors' tolerances are absolute; test.h's CHECK_NEAR is relative
 * above 1. */
#define CHECK_ABS(a, b, tol, what)                                              \
        do {                                                                    \
                double _a = (a), _b = (b), _t = (tol);                          \
                test_checks++;                                                  \
                if (!(fabs(_a - _b) <= _t))                                     \
                        TEST_FAIL("%s: %.12g != %.12g (tolerance %g)", what, _a, \
                                  _b, _t);                                      \
        } while (0)

/* rouge_note in the vectors: "tolerance 1e-5" for the whole section. */
#define ROUGE_VECTOR_TOLERANCE 1e-5

static const char *top_srcdir(void)
{
        const char *d = getenv("top_srcdir");

        return d ? d : ".";
}

static json_object *json_get(json_object *o, const char *key)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

/* An array of strings as a NULL-free C array, pointing into the JSON. */
static const char **json_strings(json_object *a, size_t *ret_n)
{
        size_t n = json_object_array_length(a);
        const char **v = calloc(n ? n : 1, sizeof(*v));

        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++)
                v[i] = json_object_get_string(json_object_array_get_idx(a, i));
        *ret_n = n;
        return v;
}

static int check_sacrebleu_case(json_object *c, size_t index)
{
        json_object *settings = json_get(c, "settings");
        json_object *refs_json = json_get(c, "refs");
        _cleanup_free_ const char **hyps = NULL;
        _cleanup_free_ const char *const **streams = NULL;
        struct bleu_options o;
        struct bleu_result result;
        size_t n_hyps = 0, n_streams;
        char what[64];
        int r;

        bleu_options_init(&o);
        hyps = json_strings(json_get(c, "hyps"), &n_hyps);
        n_streams = json_object_array_length(refs_json);
        streams = calloc(n_streams, sizeof(*streams));
        if (!hyps || !streams)
                return -ENOMEM;

        for (size_t s = 0; s < n_streams; s++) {
                size_t n = 0;

                streams[s] = json_strings(json_object_array_get_idx(refs_json, s), &n);
                CHECK_INT_EQ(n, n_hyps);
        }

        /* Every setting is understood, or the case fails: none is ignored. */
        json_object_object_foreach(settings, key, value) {
                if (strcmp(key, "tokenize") == 0) {
                        r = bleu_tokenize_from_string(json_object_get_string(value));
                        CHECK(r >= 0);
                        o.tokenize = r;
                } else if (strcmp(key, "smooth") == 0) {
                        r = bleu_smooth_from_string(json_object_get_string(value));
                        CHECK(r >= 0);
                        o.smooth = r;
                } else if (strcmp(key, "smooth_value") == 0)
                        o.smooth_value = json_object_get_double(value);
                else if (strcmp(key, "lowercase") == 0)
                        o.lowercase = json_object_get_boolean(value);
                else if (strcmp(key, "max_order") == 0)
                        o.max_order = json_object_get_int(value);
                else if (strcmp(key, "effective_order") == 0)
                        o.effective_order = json_object_get_boolean(value);
                else
                        TEST_FAIL("sacrebleu case %zu: unknown setting '%s'", index, key);
        }

        r = bleu_corpus(hyps, n_hyps, streams, n_streams, &o, &result);
        CHECK_INT_EQ(r, 0);

        snprintf(what, sizeof(what), "sacrebleu case %zu", index);
        CHECK_ABS(result.score, json_object_get_double(json_get(c, "score")),
                  json_object_get_double(json_get(c, "tolerance")), what);

        for (size_t s = 0; s < n_streams; s++)
                free((void *)streams[s]);
        return 0;
}

static void check_nltk_section(json_object *section, size_t *checked)
{
        json_object *cases = json_get(section, "cases");
        _cleanup_free_ const char **refs = NULL;
        size_t n_refs = 0;

        refs = json_strings(json_get(section, "refs"), &n_refs);
        CHECK(refs != NULL);

        for (size_t i = 0; i < json_object_array_length(cases); i++) {
                json_object *c = json_object_array_get_idx(cases, i);
                const char *smoothing = json_object_get_string(json_get(c, "smoothing"));
                struct bleu_nltk_options o;
                double score = -1;
                char what[64];

                /* "method1 (epsilon 0.1 ...)": NLTK's default epsilon, 0.1. */
                bleu_nltk_options_init(&o);
                if (strncmp(smoothing, "method1", 7) == 0)
                        o.smooth = BLEU_NLTK_SMOOTH_METHOD1;
                else if (strcmp(smoothing, "none") != 0) {
                        TEST_FAIL("nltk case %zu: unknown smoothing '%s'", i, smoothing);
                        continue;
                }

                CHECK_INT_EQ(bleu_nltk_sentence(json_object_get_string(json_get(c, "hyp")), refs,
                                                n_refs, &o, &score),
                             0);
                snprintf(what, sizeof(what), "nltk case %zu", i);
                CHECK_ABS(score, json_object_get_double(json_get(c, "score")),
                          json_object_get_double(json_get(c, "tolerance")), what);
                (*checked)++;
        }
}

static void check_rouge_case(json_object *c, size_t index)
{
        const char *type = json_object_get_string(json_get(c, "type"));
        const char *target = json_object_get_string(json_get(c, "target"));
        const char *prediction = json_object_get_string(json_get(c, "prediction"));
        json_object *tolerance_json = json_get(c, "tolerance");
        double tolerance = tolerance_json ? json_object_get_double(tolerance_json)
                                          : ROUGE_VECTOR_TOLERANCE;
        const struct rouge_prf *prf;
        struct rouge_options o;
        struct rouge_result result;
        char what[64];

        rouge_options_init(&o);
        CHECK_INT_EQ(rouge_score(prediction, &target, 1, &o, &result), 0);

        if (strcmp(type, "rouge1") == 0)
                prf = &result.rouge1;
        else if (strcmp(type, "rouge2") == 0)
                prf = &result.rouge2;
        else if (strcmp(type, "rougeL") == 0)
                prf = &result.rougeL;
        else {
                TEST_FAIL("rouge case %zu: unsupported type '%s'", index, type);
                return;
        }

        snprintf(what, sizeof(what), "rouge case %zu (%s) precision", index, type);
        CHECK_ABS(prf->precision, json_object_get_double(json_get(c, "p")), tolerance, what);
        snprintf(what, sizeof(what), "rouge case %zu (%s) recall", index, type);
        CHECK_ABS(prf->recall, json_object_get_double(json_get(c, "r")), tolerance, what);
        snprintf(what, sizeof(what), "rouge case %zu (%s) F", index, type);
        CHECK_ABS(prf->f, json_object_get_double(json_get(c, "f")), tolerance, what);
}

/* Returns false when the vectors are absent. */
static bool test_vectors(void)
{
        _cleanup_free_ char *path = NULL;
        json_object *root, *sacrebleu, *nltk, *rouge;
        size_t n_sacrebleu = 0, n_nltk = 0, n_rouge = 0;

        if (asprintf(&path, "%s/../shared/testvectors/bleu-rouge.json", top_srcdir()) < 0)
                abort();

        if (access(path, R_OK) < 0) {
                fprintf(stderr, "%s is absent: the BLEU/ROUGE test vectors live in the "
                        "shared directory beside the source tree\n", path);
                return false;
        }

        root = json_object_from_file(path);
        if (!root) {
                TEST_FAIL("%s: %s", path, json_util_get_last_err());
                return true;
        }

        sacrebleu = json_get(root, "sacrebleu");
        nltk = json_get(root, "nltk_sentence_bleu");
        rouge = json_get(root, "rouge");
        CHECK(sacrebleu && nltk && rouge);

        for (size_t i = 0; sacrebleu && i < json_object_array_length(sacrebleu); i++) {
                CHECK_INT_EQ(check_sacrebleu_case(json_object_array_get_idx(sacrebleu, i), i), 0);
                n_sacrebleu++;
        }

        if (nltk)
                check_nltk_section(nltk, &n_nltk);

        for (size_t i = 0; rouge && i < json_object_array_length(rouge); i++) {
                check_rouge_case(json_object_array_get_idx(rouge, i), i);
                n_rouge++;
        }

        printf("test vectors: %zu cases checked (sacrebleu %zu, nltk %zu, rouge %zu)\n",
               n_sacrebleu + n_nltk + n_rouge, n_sacrebleu, n_nltk, n_rouge);
        if (n_sacrebleu + n_nltk + n_rouge == 0)
                TEST_FAIL("%s holds no cases", path);
        CHECK(n_sacrebleu > 0 && n_nltk > 0 && n_rouge > 0);

        json_object_put(root);
        return true;
}

static void check_bleu_tokens(enum bleu_tokenize t, bool lowercase, const char *in,
                              const char *expected)
{
        _cleanup_free_ char *out = NULL;
        struct bleu_options o;

        bleu_options_init(&o);
        o.tokenize = t;
        o.lowercase = lowercase;
        CHECK_INT_EQ(bleu_tokenize_line(in, &o, &out), 0);
        CHECK_STR_EQ(out, expected);
}

static void test_bleu_tokenizers(void)
{
        check_bleu_tokens(BLEU_TOKENIZE_13A, false, "It wasn't surprising.",
                          "It wasn't surprising .");
        /* Entities unescaped in sacrebleu's order (&amp;lt; becomes <),
         * <skipped> removed, 3.14 and 1,000 kept, 5-6 split. */
        check_bleu_tokens(BLEU_TOKENIZE_13A, false,
                          "Hello,world! 3.14, 1,000 and 5-6 &quot;ok&quot; &amp;lt;b&amp;gt; "
                          "<skipped>x",
                          "Hello , world ! 3.14 , 1,000 and 5 - 6 \" ok \" < b > x");
        check_bleu_tokens(BLEU_TOKENIZE_13A, false, "(approx. $5.00) e.g. U.S.A. 1990-2000.",
                          "( approx . $ 5.00 ) e . g . U . S . A . 1990 - 2000 .");
        /* 13a pads the line, so a leading ".5" splits; zh does not pad. */
        check_bleu_tokens(BLEU_TOKENIZE_13A, false, ".5 and 5. ,x", ". 5 and 5 . , x");
        check_bleu_tokens(BLEU_TOKENIZE_ZH, false, ".5 and 5. ,x", ".5 and 5 . , x");
        /* Han and full-width characters separated; "…" and curly quotes too,
         * through the '\u20000' range; kana and Hangul not. */
        check_bleu_tokens(BLEU_TOKENIZE_ZH, false,
                          "我爱北京天安门，2.5 kg…OK“你好”"
                          "こんにちは 한국어 ",
                          "我 爱 北 京 天 安 门 ， 2.5 kg … OK "
                          "“ 你 好 ” こんにちは 한국어");
        check_bleu_tokens(BLEU_TOKENIZE_CHAR, false, " ab c ", "a b c");
        check_bleu_tokens(BLEU_TOKENIZE_NONE, false, " a\tb\u3000c\u00a0d\u200be ",
                          "a b c d\u200be");
        /* Python's lower(): final sigma, İ to i + U+0307, Kelvin sign to k. */
        check_bleu_tokens(BLEU_TOKENIZE_13A, true, "ΟΔΟΣ Σ İstanbul KELVIN\u212a",
                          "οδος σ i\u0307stanbul kelvink");
        check_bleu_tokens(BLEU_TOKENIZE_13A, false, "", "");
}

static void check_rouge_tokens(enum rouge_tokenize t, bool stem, const char *in,
                               const char *expected)
{
        _cleanup_free_ char *out = NULL;
        struct rouge_options o;

        rouge_options_init(&o);
        o.tokenize = t;
        o.stem = stem;
        CHECK_INT_EQ(rouge_tokenize_line(in, &o, &out), 0);
        CHECK_STR_EQ(out, expected);
}

static void test_rouge_tokenizers(void)
{
        const char *mixed = "我爱北京 Testing 2 CATS！"
                            "ｆｕｌｌ－ｗｉｄｔｈ ｶﾀｶﾅ。";

        check_rouge_tokens(ROUGE_TOKENIZE_DEFAULT, false, "Hello, World! it's 2x-fast",
                           "hello world it s 2x fast");
        check_rouge_tokens(ROUGE_TOKENIZE_DEFAULT, false, mixed, "testing 2 cats");
        check_rouge_tokens(ROUGE_TOKENIZE_ZH, false, mixed,
                           "我 爱 北 京 testing 2 cats full width カ タ カ ナ");
        check_rouge_tokens(ROUGE_TOKENIZE_ZH, true, mixed,
                           "我 爱 北 京 test 2 cat full width カ タ カ ナ");
        check_rouge_tokens(ROUGE_TOKENIZE_CHAR, false, "Ab c！", "a b c !");
        /* Only tokens longer than three characters are stemmed. */
        check_rouge_tokens(ROUGE_TOKENIZE_DEFAULT, true, "The runners were running quickly",
                           "the runner were run quickli");
        /* NLTK's extensions: four-letter -ies words and irregular forms. */
        check_rouge_tokens(ROUGE_TOKENIZE_DEFAULT, true, "ties skies dies ponies",
                           "tie sky die poni");
        check_rouge_tokens(ROUGE_TOKENIZE_ZH, false, "Plain ASCII, as the default.",
                           "plain ascii as the default");
}

static void test_bleu_options(void)
{
        const char *hyp[] = { "a b c d" }, *ref[] = { "a b c e" };
        const char *const *refs[] = { ref };
        struct bleu_options o;
        struct bleu_result r;

        /* Orders 1-4 match 3/4, 2/3, 1/2, 0/1. */
        bleu_options_init(&o);
        o.tokenize = BLEU_TOKENIZE_NONE;
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), 0);
        /* exp: the missing 4-gram counts 1/2: (75 * 66.67 * 50 * 50)^(1/4) */
        CHECK_NEAR(r.score, 59.460355750136046, 1e-12);
        CHECK_NEAR(r.precisions[3], 50.0, 1e-12);
        CHECK_INT_EQ(r.counts[0], 3);
        CHECK_INT_EQ(r.totals[0], 4);
        CHECK_INT_EQ(r.counts[3], 0);
        CHECK_INT_EQ(r.totals[3], 1);

        o.smooth = BLEU_SMOOTH_FLOOR;
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), 0);
        CHECK_NEAR(r.score, 39.76353643835254, 1e-12);
        CHECK_NEAR(r.precisions[3], 10.0, 1e-12);

        o.smooth_value = 0.5;
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), 0);
        CHECK_NEAR(r.score, 59.460355750136046, 1e-12);

        /* add-k 1 on orders 2-4: 75, 3/4, 2/3, 1/2 */
        o.smooth = BLEU_SMOOTH_ADD_K;
        o.smooth_value = BLEU_SMOOTH_VALUE_DEFAULT;
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), 0);
        CHECK_NEAR(r.score, 65.80370064762461, 1e-12);
        CHECK_INT_EQ(r.counts[1], 2);

        o.smooth = BLEU_SMOOTH_NONE;
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), 0);
        CHECK(r.score == 0.0);
        CHECK_NEAR(r.precisions[2], 50.0, 1e-12);
}

static void test_bleu_lowercase_and_order(void)
{
        const char *hyp[] = { "The Cat sat" }, *ref[] = { "the cat sat" };
        const char *const *refs[] = { ref };
        struct bleu_options o;
        struct bleu_result r;

        bleu_options_init(&o);
        o.max_order = 2;
        o.lowercase = true;
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), 0);
        CHECK_NEAR(r.score, 100.0, 1e-12);

        /* 1/3 unigrams, 0/2 bigrams smoothed to 1/4: sqrt(33.3 * 25) */
        o.lowercase = false;
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), 0);
        CHECK_NEAR(r.score, 28.86751345948128, 1e-12);

        o.max_order = 0;
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), -EINVAL);
        o.max_order = BLEU_ORDER_MAX + 1;
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), -EINVAL);
}

static void test_bleu_streams(void)
{
        const char *hyps[] = { "the cat sat on the mat", "a dog barked loudly today" };
        const char *stream0[] = { "the cat sat on a mat", NULL };
        const char *stream1[] = { "a cat sat on the mat", "the dog barked loudly" };
        const char *const *refs[] = { stream0, stream1 };
        const char *none0[] = { NULL, NULL };
        const char *const *no_refs[] = { none0 };
        const char *const nltk_refs[] = { "the cat sat on a mat", "a cat sat on the mat" };
        struct bleu_nltk_options nltk;
        struct bleu_options o;
        struct bleu_result r;
        double score;

        /* Segment 2 has only stream 1's reference (sacrebleu's None). */
        bleu_options_init(&o);
        CHECK_INT_EQ(bleu_corpus(hyps, 2, refs, 2, &o, &r), 0);
        CHECK_NEAR(r.score, 70.16879391277372, 1e-12);
        CHECK_INT_EQ(r.sys_len, 11);
        CHECK_INT_EQ(r.ref_len, 10);

        CHECK_INT_EQ(bleu_corpus(hyps, 1, no_refs, 1, &o, &r), -EINVAL);
        CHECK_INT_EQ(bleu_corpus(hyps, 0, refs, 2, &o, &r), -EINVAL);

        /* NLTK 3.8 corpus_bleu on the same corpus gives the same figure. */
        bleu_nltk_options_init(&nltk);
        CHECK_INT_EQ(bleu_nltk_corpus(hyps, 2, refs, 2, &nltk, &score), 0);
        CHECK_NEAR(score, 0.7016879391277372, 1e-12);

        /* NLTK 3.8 sentence_bleu([ref0, ref1], hyp0) */
        CHECK_INT_EQ(bleu_nltk_sentence(hyps[0], nltk_refs, 2, &nltk, &score), 0);
        CHECK_NEAR(score, 0.9554427922043668, 1e-12);
}

static void test_bleu_nltk_smoothing(void)
{
        const char *hyps[] = { "the cat", "a dog barked" };
        const char *stream[] = { "the cat sat", "a dog barked loudly" };
        const char *const *refs[] = { stream };
        struct bleu_nltk_options o;
        double score = -1;

        /* No 4-gram at all: NLTK 3.8 gives 6.88e-78, parley exactly 0. */
        bleu_nltk_options_init(&o);
        CHECK_INT_EQ(bleu_nltk_corpus(hyps, 2, refs, 1, &o, &score), 0);
        CHECK(score == 0.0);

        /* NLTK 3.8 corpus_bleu with SmoothingFunction().method1 */
        o.smooth = BLEU_NLTK_SMOOTH_METHOD1;
        CHECK_INT_EQ(bleu_nltk_corpus(hyps, 2, refs, 1, &o, &score), 0);
        CHECK_NEAR(score, 0.2665429557589629, 1e-12);
}

static void test_bleu_format(void)
{
        const char *hyps[] = { "The dog bit the man.", "It wasn't surprising.",
                               "The man had just bitten him." };
        const char *stream0[] = { "The dog bit the man.", "It was not unexpected.",
                                  "The man bit him first." };
        const char *stream1[] = { "The dog had bit the man.", "No one was surprised.",
                                  "The man had bitten the dog." };
        const char *const *refs[] = { stream0, stream1 };
        _cleanup_free_ char *line = NULL;
        struct bleu_options o;
        struct bleu_result r;

        bleu_options_init(&o);
        CHECK_INT_EQ(bleu_corpus(hyps, 3, refs, 2, &o, &r), 0);
        CHECK_INT_EQ(r.counts[0], 14);
        CHECK_INT_EQ(r.totals[0], 17);
        CHECK_INT_EQ(r.counts[3], 3);
        CHECK_INT_EQ(r.totals[3], 8);
        CHECK_INT_EQ(bleu_result_format(&r, &line), 0);
        CHECK_STR_EQ(line, "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 "
                           "hyp_len = 17 ref_len = 18)");
}

static void test_bleu_zh_corpus(void)
{
        const char *hyps[] = { "我爱北京天安门", "你好，世界！" };
        const char *stream[] = { "我爱北京", "你好世界" };
        const char *const *refs[] = { stream };
        struct bleu_options o;
        struct bleu_result r;

        /* With 13a each Chinese line is one token, and none matches. */
        bleu_options_init(&o);
        CHECK_INT_EQ(bleu_corpus(hyps, 2, refs, 1, &o, &r), 0);
        CHECK(r.score == 0.0);
        CHECK_INT_EQ(r.sys_len, 2);

        o.tokenize = BLEU_TOKENIZE_ZH;
        CHECK_INT_EQ(bleu_corpus(hyps, 2, refs, 1, &o, &r), 0);
        CHECK_NEAR(r.score, 30.697524172484872, 1e-12);
        CHECK_INT_EQ(r.sys_len, 13);
        CHECK_INT_EQ(r.ref_len, 8);
}

static void test_rouge_multi_and_corpus(void)
{
        const char *const refs[] = { "a dog", "the cat sat on the mat", "cat sat the" };
        const char *hyps[] = { "testing one", "the cat" };
        const char *stream[] = { "testing one two", "a cat sat" };
        const char *const *streams[] = { stream };
        struct rouge_options o;
        struct rouge_result r;

        rouge_options_init(&o);
        CHECK_INT_EQ(rouge_score("the cat sat", refs, 3, &o, &r), 0);
        /* ROUGE-1 from the third reference, ROUGE-2 from the second... */
        CHECK_NEAR(r.rouge1.f, 1.0, 1e-12);
        CHECK_NEAR(r.rouge2.precision, 1.0, 1e-12);
        CHECK_NEAR(r.rouge2.recall, 0.4, 1e-12);
        /* ...ROUGE-L ties at 2/3 (second: P 1, R 1/2; third: P = R = 2/3)
         * and the first of equals wins. */
        CHECK_NEAR(r.rougeL.precision, 1.0, 1e-12);
        CHECK_NEAR(r.rougeL.recall, 0.5, 1e-12);

        /* Means of (1, 2/3, 0.8) and (1/2, 1/3, 0.4) etc. */
        CHECK_INT_EQ(rouge_corpus(hyps, 2, streams, 1, &o, &r), 0);
        CHECK_NEAR(r.rouge1.precision, 0.75, 1e-12);
        CHECK_NEAR(r.rouge1.recall, 0.5, 1e-12);
        CHECK_NEAR(r.rouge1.f, 0.6, 1e-12);
        CHECK_NEAR(r.rouge2.f, 1.0 / 3.0, 1e-12);
        CHECK_NEAR(r.rougeL.f, 0.6, 1e-12);

        /* Stemming makes runner/runners and runs/running meet. */
        o.stem = true;
        CHECK_INT_EQ(rouge_score("a runner runs quick", &(const char *){ "The runners were "
                                                                        "running quickly" },
                                 1, &o, &r),
                     0);
        CHECK_NEAR(r.rouge1.precision, 0.5, 1e-12);
        CHECK_NEAR(r.rouge1.recall, 0.4, 1e-12);

        /* Chinese scores nothing with the default tokeniser, and by
         * character with parley's: 3 of 4 characters in order. */
        o.stem = false;
        CHECK_INT_EQ(rouge_score("我爱北京", &(const char *){ "我在北京" }, 1, &o, &r), 0);
        CHECK(r.rouge1.f == 0.0);
        o.tokenize = ROUGE_TOKENIZE_ZH;
        CHECK_INT_EQ(rouge_score("我爱北京", &(const char *){ "我在北京" }, 1, &o, &r), 0);
        CHECK_NEAR(r.rouge1.f, 0.75, 1e-12);
        CHECK_NEAR(r.rouge2.f, 1.0 / 3.0, 1e-12);
        CHECK_NEAR(r.rougeL.f, 0.75, 1e-12);
}

static void test_errors(void)
{
        _cleanup_free_ char *long_line = malloc(METRICS_SEGMENT_MAX_BYTES + 2);
        const char *hyp[1], *ref[] = { "a" };
        const char *const *refs[] = { ref };
        struct bleu_options o;
        struct rouge_options ro;
        struct bleu_result r;
        struct rouge_result rr;

        bleu_options_init(&o);
        rouge_options_init(&ro);
        memset(long_line, 'a', METRICS_SEGMENT_MAX_BYTES + 1);

        /* Exactly at the limit is accepted; one byte more is not. */
        long_line[METRICS_SEGMENT_MAX_BYTES] = '\0';
        hyp[0] = long_line;
        CHECK_INT_EQ(metrics_segment_check(long_line), 0);
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), 0);
        CHECK_INT_EQ(r.sys_len, 1);

        long_line[METRICS_SEGMENT_MAX_BYTES] = 'a';
        long_line[METRICS_SEGMENT_MAX_BYTES + 1] = '\0';
        CHECK_INT_EQ(metrics_segment_check(long_line), -E2BIG);
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), -E2BIG);
        CHECK_INT_EQ(rouge_score(long_line, ref, 1, &ro, &rr), -E2BIG);

        hyp[0] = "caf\xc3";
        CHECK_INT_EQ(metrics_segment_check(hyp[0]), -EILSEQ);
        CHECK_INT_EQ(bleu_corpus(hyp, 1, refs, 1, &o, &r), -EILSEQ);
        CHECK_INT_EQ(rouge_score("ok", &(const char *){ "\xff" }, 1, &ro, &rr), -EILSEQ);
        CHECK_INT_EQ(rouge_score("ok", ref, 0, &ro, &rr), -EINVAL);

        CHECK_INT_EQ(bleu_tokenize_from_string("intl"), -EINVAL);
        CHECK_INT_EQ(bleu_smooth_from_string("add_k"), -EINVAL);
        CHECK_INT_EQ(rouge_tokenize_from_string("13a"), -EINVAL);
        CHECK_INT_EQ(bleu_tokenize_from_string("char"), BLEU_TOKENIZE_CHAR);
        CHECK_INT_EQ(bleu_smooth_from_string("add-k"), BLEU_SMOOTH_ADD_K);
        CHECK_INT_EQ(rouge_tokenize_from_string("zh"), ROUGE_TOKENIZE_ZH);
        CHECK_STR_EQ(bleu_tokenize_to_string(BLEU_TOKENIZE_13A), "13a");
        CHECK_STR_EQ(bleu_smooth_to_string(BLEU_SMOOTH_FLOOR), "floor");
        CHECK_STR_EQ(rouge_tokenize_to_string(ROUGE_TOKENIZE_CHAR), "char");
}

int main(void)
{
        test_bleu_tokenizers();
        test_rouge_tokenizers();
        test_bleu_options();
        test_bleu_lowercase_and_order();
        test_bleu_streams();
        test_bleu_nltk_smoothing();
        test_bleu_format();
        test_bleu_zh_corpus();
        test_rouge_multi_and_corpus();
        test_errors();

        /* Without the vectors the run is a skip, unless something failed. */
        if (!test_vectors() && test_failures == 0)
                TEST_SKIP("shared test vectors absent; the other %d checks passed",
                          test_checks);

        return test_finish();
}
