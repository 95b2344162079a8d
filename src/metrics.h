/* metrics.h: BLEU and ROUGE scores of a model's replies against references.
 *
 * Three reference implementations are reproduced, each with its own
 * conventions, so that figures parley prints can be compared with figures
 * published elsewhere:
 *
 *   bleu_corpus()        sacrebleu 2.x corpus_bleu (BLEU class): tokenisers
 *                        13a, none, zh and char, smoothing exp, floor,
 *                        add-k and none, closest reference length.
 *   bleu_nltk_corpus()   NLTK 3.8 corpus_bleu / sentence_bleu with uniform
 *                        weights on whitespace-split, case-sensitive tokens,
 *                        no smoothing or Chen & Cherry method 1.
 *   rouge_score()        Google's rouge-score RougeScorer: ROUGE-1, ROUGE-2
 *                        and ROUGE-L with its default tokeniser and,
 *                        optionally, NLTK's Porter stemmer; several
 *                        references are handled as score_multi does.
 *
 * Text is UTF-8; every function rejects invalid UTF-8 with -EILSEQ and a
 * segment longer than METRICS_SEGMENT_MAX_BYTES with -E2BIG.  Functions
 * return 0 or a negative errno and fill their outputs only on success.
 *
 * References are given as streams, as sacrebleu takes them:
 * refs[stream][segment] is the reference of that stream for hyps[segment].
 * A NULL reference is absent (sacrebleu's None), so segments may have
 * different numbers of references; every segment needs at least one. */
#ifndef PARLEY_METRICS_H
#define PARLEY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest segment (hypothesis or reference) accepted, in bytes.  ROUGE-L
 * costs time proportional to the product of two segments' token counts, so
 * this bounds the work one pair of lines can cause. */
#define METRICS_SEGMENT_MAX_BYTES 65536

/* 0 when text is a segment the functions below accept; -E2BIG when it
 * is longer than METRICS_SEGMENT_MAX_BYTES, -EILSEQ when it is not valid
 * UTF-8. */
int metrics_segment_check(const char *text);

/* The highest n-gram order bleu_corpus() and bleu_nltk_corpus() accept. */
#define BLEU_ORDER_MAX 10

enum bleu_tokenize {
        BLEU_TOKENIZE_13A,  /* mteval-v13a as sacrebleu implements it */
        BLEU_TOKENIZE_NONE, /* split on whitespace only */
        BLEU_TOKENIZE_ZH,   /* sacrebleu's TokenizerZh */
        BLEU_TOKENIZE_CHAR, /* every non-space character is a token */
        _BLEU_TOKENIZE_MAX,
};

enum bleu_smooth {
        BLEU_SMOOTH_EXP,   /* NIST geometric sequence, mteval-v13a */
        BLEU_SMOOTH_FLOOR, /* a zero count becomes smooth_value */
        BLEU_SMOOTH_ADD_K, /* smooth_value added to counts of orders >= 2 */
        BLEU_SMOOTH_NONE,
        _BLEU_SMOOTH_MAX,
};

/* smooth_value below zero means the method's default: 0.1 for floor, 1 for
 * add-k (sacrebleu's SMOOTH_DEFAULTS); exp and none take no value. */
#define BLEU_SMOOTH_VALUE_DEFAULT (-1.0)

struct bleu_options {
        enum bleu_tokenize tokenize;
        enum bleu_smooth smooth;
        double smooth_value;
        bool lowercase;       /* Python's str.lower() before tokenising */
        int max_order;        /* 1 .. BLEU_ORDER_MAX */
        bool effective_order; /* average only the orders the hypotheses reach */
};

struct bleu_result {
        double score; /* 0 .. 100 */
        int max_order;
        /* Index n - 1 for order n; entries from max_order on are zero.
         * counts and totals are the raw corpus statistics (sacrebleu adds
         * add-k's smooth_value to its copies; these stay integers). */
        double precisions[BLEU_ORDER_MAX]; /* percent */
        uint64_t counts[BLEU_ORDER_MAX];   /* clipped n-gram matches */
        uint64_t totals[BLEU_ORDER_MAX];   /* hypothesis n-grams */
        double bp;                         /* brevity penalty */
        uint64_t sys_len;                  /* hypothesis tokens */
        uint64_t ref_len;                  /* closest reference tokens */
};

/* sacrebleu's defaults: 13a, exp, no lowercasing, order 4, no effective
 * order. */
void bleu_options_init(struct bleu_options *o);

/* Corpus BLEU of hyps[0 .. n_segments) against refs[0 .. n_streams)
 * [0 .. n_segments).  -EINVAL for bad options, no streams, or a segment
 * whose references are all NULL. */
int bleu_corpus(const char *const *hyps, size_t n_segments,
                const char *const *const *refs, size_t n_streams,
                const struct bleu_options *o, struct bleu_result *ret);

/* The line sacrebleu prints in text mode, without a signature:
 * "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17
 * ref_len = 18)".  *ret is a string to free(). */
int bleu_result_format(const struct bleu_result *r, char **ret);

/* The tokens BLEU counts for one segment (after lowercasing and
 * tokenising as o says), joined by single spaces.  *ret is a string to
 * free(). */
int bleu_tokenize_line(const char *line, const struct bleu_options *o, char **ret);

/* "13a", "none", "zh", "char"; -EINVAL for any other name. */
int bleu_tokenize_from_string(const char *s);
const char *bleu_tokenize_to_string(enum bleu_tokenize t);
/* "exp", "floor", "add-k", "none"; -EINVAL for any other name. */
int bleu_smooth_from_string(const char *s);
const char *bleu_smooth_to_string(enum bleu_smooth s);

enum bleu_nltk_smooth {
        BLEU_NLTK_SMOOTH_NONE,    /* SmoothingFunction().method0 */
        BLEU_NLTK_SMOOTH_METHOD1, /* epsilon added to zero numerators */
        _BLEU_NLTK_SMOOTH_MAX,
};

struct bleu_nltk_options {
        int max_order; /* weights 1/max_order each */
        enum bleu_nltk_smooth smooth;
        double epsilon; /* method1's epsilon */
};

/* NLTK's defaults: order 4 (weights 0.25 x 4), no smoothing, epsilon 0.1. */
void bleu_nltk_options_init(struct bleu_nltk_options *o);

/* NLTK corpus_bleu on tokens split at whitespace, case-sensitive; *ret is
 * 0 .. 1.  One deviation: without smoothing, a zero n-gram precision gives
 * exactly 0, where NLTK 3.8 substitutes the smallest positive double for
 * the precision and so returns about 1e-155 (its own doctest rounds that
 * to 0.0). */
int bleu_nltk_corpus(const char *const *hyps, size_t n_segments,
                     const char *const *const *refs, size_t n_streams,
                     const struct bleu_nltk_options *o, double *ret);

/* NLTK sentence_bleu: one hypothesis against refs[0 .. n_refs). */
int bleu_nltk_sentence(const char *hyp, const char *const *refs, size_t n_refs,
                       const struct bleu_nltk_options *o, double *ret);

enum rouge_tokenize {
        /* rouge-score's: lowercase, every run of characters outside
         * [a-z0-9] separates tokens.  Drops all non-ASCII letters, so it
         * scores Chinese text as empty. */
        ROUGE_TOKENIZE_DEFAULT,
        /* parley's convention for Chinese and Japanese: NFKC, lowercase,
         * each CJK character (a letter or number in the Han, kana, Hangul
         * or Bopomofo blocks) one token, runs of [a-z0-9] tokens as in the
         * default, everything else separates.  Equal to the default on
         * ASCII text. */
        ROUGE_TOKENIZE_ZH,
        /* NFKC, lowercase, every non-space character one token. */
        ROUGE_TOKENIZE_CHAR,
        _ROUGE_TOKENIZE_MAX,
};

struct rouge_options {
        enum rouge_tokenize tokenize;
        bool stem; /* NLTK's Porter stemmer on [a-z0-9] tokens longer than 3 */
};

struct rouge_prf {
        double precision, recall, f; /* 0 .. 1 */
};

struct rouge_result {
        struct rouge_prf rouge1, rouge2, rougeL;
};

/* rouge-score's defaults: its tokeniser, no stemming. */
void rouge_options_init(struct rouge_options *o);

/* One prediction against refs[0 .. n_refs) (NULL entries skipped).  With
 * several references each ROUGE type independently takes the scores of
 * the reference with the highest F, the first on ties (score_multi). */
int rouge_score(const char *hyp, const char *const *refs, size_t n_refs,
                const struct rouge_options *o, struct rouge_result *ret);

/* Corpus ROUGE as parley reports it: precision, recall and F of each type
 * are the means over segments of rouge_score()'s values (so F is the mean
 * of per-segment F, not the F of the mean precision and recall), the
 * convention of rouge-score's aggregator without bootstrap resampling. */
int rouge_corpus(const char *const *hyps, size_t n_segments,
                 const char *const *const *refs, size_t n_streams,
                 const struct rouge_options *o, struct rouge_result *ret);

/* The tokens ROUGE compares for one text, joined by single spaces. */
int rouge_tokenize_line(const char *text, const struct rouge_options *o, char **ret);

/* "default", "zh", "char"; -EINVAL for any other name. */
int rouge_tokenize_from_string(const char *s);
const char *rouge_tokenize_to_string(enum rouge_tokenize t);

#endif
