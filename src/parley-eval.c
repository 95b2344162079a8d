/* parley eval: BLEU, ROUGE and perplexity of a model on test pairs.
 *
 * The model's replies (decoded with the options given) are scored against
 * the pairs' replies with corpus BLEU (sacrebleu's BLEU, 13a tokenisation
 * and exp smoothing by default) and ROUGE-1/2/L F1 (rouge-score's, the
 * mean over pairs).  The references are first put through the model's own
 * tokeniser and joined for display the way replies are, so that case
 * folding and Unicode normalisation, which no model output can undo, do
 * not count against it.  Perplexity is exp of the mean cross-entropy per
 * target token (the reply's tokens and END) with teacher forcing. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "decode.h"
#include "macro.h"
#include "metrics.h"
#include "parley-decode.h"
#include "parley.h"
#include "seq2seq.h"
#include "tokenize.h"

/* The teacher-forced batches' logits and their gradient buffer take
 * 2 * rows * steps * V floats; the batch shrinks to stay under this. */
#define EVAL_LOGITS_FLOATS_MAX (64 * 1024 * 1024)
#define EVAL_BATCH_DEFAULT 32
#define EVAL_BATCH_MAX 1024

struct eval_pair {
        int32_t *prompt;
        int prompt_length;
        int32_t *reply;
        int reply_length;
        char *reference;        /* the reply, tokenised and joined */
};

struct eval {
        const struct vocab *vocab;
        struct eval_pair *pairs;
        size_t n, capacity;
        size_t limit;           /* 0: all */
        size_t malformed, too_long;
};

static void eval_done(struct eval *e)
{
        for (size_t i = 0; i < e->n; i++) {
                free(e->pairs[i].prompt);
                free(e->pairs[i].reply);
                free(e->pairs[i].reference);
        }
        free(e->pairs);
}

static void eval_usage(FILE *f)
{
        fprintf(f,
                "usage: parley eval [OPTIONS] MODEL TEST\n"
                "\n"
                "Decodes the prompts of TEST (TSV, JSON lines or chatterbot YAML) and prints\n"
                "corpus BLEU and ROUGE-1/2/L F1 of the replies against TEST's, and the\n"
                "model's perplexity on TEST's replies.\n"
                "\n"
                "      --tokenize NAME      13a, zh (one token per CJK character), char or\n"
                "                           none, for BLEU; zh and char for ROUGE too [13a]\n"
                "      --limit N            the first N pairs only\n"
                "      --batch-size N       prompts decoded together [%d]\n"
                "      --hypotheses FILE    write the model's replies, one per line\n"
                "      --references FILE    write the references as scored, one per line\n"
                "  -h, --help               this text\n",
                EVAL_BATCH_DEFAULT);
        parley_decode_usage(f);
}

static void eval_malformed(const char *file, size_t line, const char *what, void *userdata)
{
        struct eval *e = userdata;

        e->malformed++;
        fprintf(stderr, "%s:%zu: %s, skipped\n", file, line, what);
}

/* A side's ids, and with ret_joined its tokens joined for display. */
static int side_encode(const struct vocab *vocab, const char *text, int32_t **ret_ids,
                       size_t *ret_n, char **ret_joined)
{
        char **tokens = NULL;
        int32_t *ids = NULL;
        size_t n;
        int r;

        r = tokenize(text, &tokens, &n);
        if (r < 0)
                return r;

        ids = calloc(n ? n : 1, sizeof(*ids));
        if (!ids) {
                tokens_free(tokens);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                ids[i] = vocab_id(vocab, tokens[i]);

        if (ret_joined) {
                r = tokens_join((const char *const *)tokens, n, ret_joined);
                if (r < 0) {
                        free(ids);
                        tokens_free(tokens);
                        return r;
                }
        }

        tokens_free(tokens);
        *ret_ids = ids;
        *ret_n = n;
        return 0;
}

static int eval_pair_add(const struct corpus_pair *p, void *userdata)
{
        struct eval *e = userdata;
        struct eval_pair pair = { 0 };
        size_t prompt_n = 0, reply_n = 0;
        int r;

        r = side_encode(e->vocab, p->prompt, &pair.prompt, &prompt_n, NULL);
        if (r >= 0)
                r = side_encode(e->vocab, p->reply, &pair.reply, &reply_n, &pair.reference);
        if (r < 0)
                goto fail;

        if (prompt_n > DECODER_PROMPT_TOKENS_MAX || reply_n > DECODER_PROMPT_TOKENS_MAX) {
                fprintf(stderr, "%s:%zu: %s of %zu tokens, over %d, skipped\n", p->file,
                        p->line, prompt_n > DECODER_PROMPT_TOKENS_MAX ? "prompt" : "reply",
                        prompt_n > DECODER_PROMPT_TOKENS_MAX ? prompt_n : reply_n,
                        DECODER_PROMPT_TOKENS_MAX);
                e->too_long++;
                r = 0;
                goto fail;
        }
        pair.prompt_length = (int)prompt_n;
        pair.reply_length = (int)reply_n;

        if (e->n == e->capacity) {
                size_t capacity = e->capacity ? 2 * e->capacity : 256;
                struct eval_pair *pairs = reallocarray(e->pairs, capacity, sizeof(*pairs));

                r = -ENOMEM;
                if (!pairs)
                        goto fail;
                e->pairs = pairs;
                e->capacity = capacity;
        }
        e->pairs[e->n++] = pair;

        /* enough: stop reading */
        return e->limit > 0 && e->n == e->limit ? -ECANCELED : 0;

fail:
        free(pair.prompt);
        free(pair.reply);
        free(pair.reference);
        if (r == -EILSEQ) {
                eval_malformed(p->file, p->line, "invalid UTF-8", e);
                return 0;
        }
        return r;
}

/* The model's replies to every prompt, batch prompts at a time. */
static int eval_decode(struct decoder *decoder, const struct vocab *vocab,
                       const struct eval *e, int batch, char **hyps)
{
        _cleanup_free_ const int32_t **prompts = calloc(batch, sizeof(*prompts));
        _cleanup_free_ int *lengths = calloc(batch, sizeof(*lengths));
        _cleanup_free_ struct decoder_result *results = calloc(batch, sizeof(*results));
        int r;

        if (!prompts || !lengths || !results)
                return -ENOMEM;

        for (size_t begin = 0; begin < e->n; begin += batch) {
                int n = e->n - begin < (size_t)batch ? (int)(e->n - begin) : batch;

                for (int i = 0; i < n; i++) {
                        prompts[i] = e->pairs[begin + i].prompt;
                        lengths[i] = e->pairs[begin + i].prompt_length;
                }

                r = decoder_decode(decoder, prompts, lengths, n, results);
                if (r < 0)
                        return r;

                for (int i = 0; i < n; i++) {
                        r = vocab_decode(vocab, results[i].ids, results[i].length,
                                         &hyps[begin + i]);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* A pair's place in the order of batches. */
struct pair_key {
        int reply_length;
        int prompt_length;
        size_t index;
};

/* Shorter replies first, then shorter prompts, then file order: batches of
 * like lengths waste little on padding. */
static int pair_key_compare(const void *x, const void *y)
{
        const struct pair_key *a = x, *b = y;

        if (a->reply_length != b->reply_length)
                return a->reply_length < b->reply_length ? -1 : 1;
        if (a->prompt_length != b->prompt_length)
                return a->prompt_length < b->prompt_length ? -1 : 1;
        return a->index < b->index ? -1 : a->index > b->index;
}

/* Teacher-forced cross-entropy summed over every reply token and END. */
static int eval_cross_entropy(const struct seq2seq *model, const struct eval *e, int batch,
                              struct seq2seq_loss *ret)
{
        _cleanup_free_ struct pair_key *order = calloc(e->n, sizeof(*order));
        _cleanup_free_ int32_t *source = NULL, *input = NULL, *output = NULL;
        _cleanup_free_ int *source_lengths = NULL, *target_lengths = NULL;
        struct seq2seq_workspace *w = NULL;
        struct seq2seq_loss total = { 0 };
        size_t V = model->config.vocab_size;
        int Ts = 1, Td = 1, r = 0;

        if (!order)
                return -ENOMEM;

        for (size_t i = 0; i < e->n; i++) {
                order[i] = (struct pair_key){ e->pairs[i].reply_length,
                                              e->pairs[i].prompt_length, i };
                Ts = e->pairs[i].prompt_length > Ts ? e->pairs[i].prompt_length : Ts;
                Td = e->pairs[i].reply_length + 1 > Td ? e->pairs[i].reply_length + 1 : Td;
        }
        qsort(order, e->n, sizeof(*order), pair_key_compare);

        while (batch > 1 && 2 * (size_t)batch * Td * V > EVAL_LOGITS_FLOATS_MAX)
                batch /= 2;

        source = calloc((size_t)Ts * batch, sizeof(*source));
        input = calloc((size_t)Td * batch, sizeof(*input));
        output = calloc((size_t)Td * batch, sizeof(*output));
        source_lengths = calloc(batch, sizeof(*source_lengths));
        target_lengths = calloc(batch, sizeof(*target_lengths));
        if (!source || !input || !output || !source_lengths || !target_lengths)
                return -ENOMEM;

        r = seq2seq_workspace_new(model, batch, Ts, Td, &w);
        if (r < 0)
                return r;

        for (size_t begin = 0; begin < e->n && r >= 0; begin += batch) {
                int B = e->n - begin < (size_t)batch ? (int)(e->n - begin) : batch;
                struct seq2seq_batch b = { .size = B };
                struct seq2seq_loss loss;

                for (int i = 0; i < B; i++) {
                        const struct eval_pair *p = &e->pairs[order[begin + i].index];

                        source_lengths[i] = p->prompt_length;
                        target_lengths[i] = p->reply_length + 1;
                        b.source_steps = p->prompt_length > b.source_steps ?
                                p->prompt_length : b.source_steps;
                        b.target_steps = p->reply_length + 1 > b.target_steps ?
                                p->reply_length + 1 : b.target_steps;
                }

                /* time-major [steps, B], padded with TOKEN_PAD */
                for (int i = 0; i < B; i++) {
                        const struct eval_pair *p = &e->pairs[order[begin + i].index];

                        for (int t = 0; t < b.source_steps; t++)
                                source[(size_t)t * B + i] = t < p->prompt_length ?
                                        p->prompt[t] : TOKEN_PAD;
                        for (int t = 0; t < b.target_steps; t++) {
                                input[(size_t)t * B + i] = t == 0 ? TOKEN_START :
                                        t <= p->reply_length ? p->reply[t - 1] : TOKEN_PAD;
                                output[(size_t)t * B + i] = t < p->reply_length ? p->reply[t] :
                                        t == p->reply_length ? TOKEN_END : TOKEN_PAD;
                        }
                }

                b.source = source;
                b.source_lengths = source_lengths;
                b.target_input = input;
                b.target_output = output;
                b.target_lengths = target_lengths;
                r = seq2seq_forward(model, w, &b, 0.0f, 0, &loss);
                if (r >= 0) {
                        total.sum += loss.sum;
                        total.tokens += loss.tokens;
                }
        }

        seq2seq_workspace_free(w);
        if (r < 0)
                return r;

        *ret = total;
        return 0;
}

/* Writes lines[0 .. n) to path, one per line. */
static int lines_write(const char *path, char *const *lines, size_t n)
{
        FILE *f = fopen(path, "we");
        int r = 0;

        if (!f) {
                r = -errno;
                fprintf(stderr, "parley eval: cannot create '%s': %s\n", path, strerror(errno));
                return r;
        }

        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s\n", lines[i]);

        if (ferror(f) | (fclose(f) != 0)) {
                r = -errno;
                fprintf(stderr, "parley eval: cannot write '%s': %s\n", path, strerror(errno));
        }
        return r;
}

struct eval_settings {
        const char *tokenize;
        size_t limit;
        int batch;
        const char *hypotheses;
        const char *references;
};

/* Scores the replies and prints the report. */
static int eval_report(const struct eval *e, char *const *hyps, char *const *refs,
                       const struct eval_settings *s, const struct seq2seq_loss *loss)
{
        const char *const *ref_stream = (const char *const *)refs;
        struct bleu_options bo;
        struct rouge_options ro;
        struct bleu_result bleu;
        struct rouge_result rouge;
        _cleanup_free_ char *bleu_line = NULL;
        double cross_entropy = loss->tokens > 0 ? loss->sum / loss->tokens : 0.0;
        int r;

        bleu_options_init(&bo);
        bo.tokenize = bleu_tokenize_from_string(s->tokenize);
        rouge_options_init(&ro);
        if (strcmp(s->tokenize, "zh") == 0)
                ro.tokenize = ROUGE_TOKENIZE_ZH;
        else if (strcmp(s->tokenize, "char") == 0)
                ro.tokenize = ROUGE_TOKENIZE_CHAR;

        r = bleu_corpus((const char *const *)hyps, e->n, &ref_stream, 1, &bo, &bleu);
        if (r >= 0)
                r = bleu_result_format(&bleu, &bleu_line);
        if (r >= 0)
                r = rouge_corpus((const char *const *)hyps, e->n, &ref_stream, 1, &ro, &rouge);
        if (r < 0) {
                fprintf(stderr, "parley eval: cannot score the replies: %s\n", strerror(-r));
                return r;
        }

        printf("pairs: %zu evaluated, %zu malformed skipped, %zu too long skipped\n", e->n,
               e->malformed, e->too_long);
        printf("%s\n", bleu_line);
        printf("ROUGE-1 F1 = %.6f\n", rouge.rouge1.f);
        printf("ROUGE-2 F1 = %.6f\n", rouge.rouge2.f);
        printf("ROUGE-L F1 = %.6f\n", rouge.rougeL.f);
        printf("perplexity = %.4f (cross-entropy %.6f nats per token over %ld tokens)\n",
               exp(cross_entropy), cross_entropy, loss->tokens);
        return fflush(stdout) == 0 ? 0 : -EIO;
}

static int eval_run(const char *model_path, const char *test_path,
                    const struct parley_decode_args *args, const struct eval_settings *s)
{
        static const struct corpus_callbacks callbacks = {
                .pair = eval_pair_add,
                .malformed = eval_malformed,
        };
        struct seq2seq *model = NULL;
        struct vocab *vocab = NULL;
        struct decoder *decoder = NULL;
        struct eval e = { .limit = s->limit };
        struct seq2seq_loss loss;
        char **hyps = NULL, **refs = NULL;
        int r;

        r = parley_decode_open(args, model_path, s->batch, &model, &vocab, &decoder);
        if (r < 0)
                return r;
        e.vocab = vocab;

        r = corpus_read(test_path, CORPUS_AUTO, &callbacks, &e);
        if (r == -ECANCELED)
                r = 0;
        if (r == -EINVAL)
                fprintf(stderr, "parley eval: '%s': cannot tell the format from the extension "
                        "(.tsv, .txt, .jsonl, .json, .yml, .yaml)\n", test_path);
        else if (r < 0)
                fprintf(stderr, "parley eval: cannot read '%s': %s\n", test_path, strerror(-r));
        if (r >= 0 && e.n == 0) {
                fprintf(stderr, "parley eval: no pairs to evaluate in '%s'\n", test_path);
                r = -EINVAL;
        }
        if (r < 0)
                goto out;

        hyps = calloc(e.n, sizeof(*hyps));
        refs = calloc(e.n, sizeof(*refs));
        r = hyps && refs ? 0 : -ENOMEM;
        if (r >= 0)
                r = eval_decode(decoder, vocab, &e, s->batch, hyps);
        if (r >= 0)
                r = eval_cross_entropy(model, &e, s->batch, &loss);
        if (r < 0) {
                fprintf(stderr, "parley eval: %s\n", strerror(-r));
                goto out;
        }

        for (size_t i = 0; i < e.n; i++)
                refs[i] = e.pairs[i].reference;

        if (s->hypotheses)
                r = lines_write(s->hypotheses, hyps, e.n);
        if (r >= 0 && s->references)
                r = lines_write(s->references, refs, e.n);
        if (r >= 0)
                r = eval_report(&e, hyps, refs, s, &loss);

out:
        for (size_t i = 0; hyps && i < e.n; i++)
                free(hyps[i]);
        free(hyps);
        free(refs);
        eval_done(&e);
        decoder_free(decoder);
        vocab_free(vocab);
        seq2seq_free(model);
        return r;
}

enum {
        OPT_TOKENIZE = 256,
        OPT_LIMIT,
        OPT_BATCH_SIZE,
        OPT_HYPOTHESES,
        OPT_REFERENCES,
};

static int parse_count(const char *option, const char *s, long max, long *ret)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max) {
                fprintf(stderr, "parley eval: --%s wants a whole number from 1 to %ld, "
                        "not '%s'\n", option, max, s);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

int parley_eval(int argc, char **argv)
{
        static const struct option options[] = {
                PARLEY_DECODE_LONG_OPTIONS,
                { "tokenize", required_argument, NULL, OPT_TOKENIZE },
                { "limit", required_argument, NULL, OPT_LIMIT },
                { "batch-size", required_argument, NULL, OPT_BATCH_SIZE },
                { "hypotheses", required_argument, NULL, OPT_HYPOTHESES },
                { "references", required_argument, NULL, OPT_REFERENCES },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct eval_settings s = { .tokenize = "13a", .batch = EVAL_BATCH_DEFAULT };
        struct parley_decode_args args;
        long v;
        int c, r = 0;

        parley_decode_args_init(&args, "parley eval");
        optind = 0;
        while (r >= 0 && (c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (parley_decode_opt_is(c)) {
                        r = parley_decode_opt_parse(&args, c, optarg);
                        continue;
                }
                switch (c) {
                case OPT_TOKENIZE:
                        s.tokenize = optarg;
                        if (bleu_tokenize_from_string(optarg) < 0) {
                                fprintf(stderr, "parley eval: --tokenize is 13a, zh, char or "
                                        "none, not '%s'\n", optarg);
                                r = -EINVAL;
                        }
                        break;
                case OPT_LIMIT:
                        r = parse_count("limit", optarg, LONG_MAX, &v);
                        s.limit = (size_t)v;
                        break;
                case OPT_BATCH_SIZE:
                        r = parse_count("batch-size", optarg, EVAL_BATCH_MAX, &v);
                        s.batch = (int)v;
                        break;
                case OPT_HYPOTHESES:
                        s.hypotheses = optarg;
                        break;
                case OPT_REFERENCES:
                        s.references = optarg;
                        break;
                case 'h':
                        eval_usage(stdout);
                        return 0;
                default:
                        eval_usage(stderr);
                        return PARLEY_EXIT_USAGE;
                }
        }
        if (r < 0)
                return PARLEY_EXIT_USAGE;

        if (argc - optind != 2) {
                fprintf(stderr, "parley eval: %s\n", argc - optind < 2 ?
                        "MODEL and TEST are required" : "too many arguments");
                eval_usage(stderr);
                return PARLEY_EXIT_USAGE;
        }

        if (parley_decode_args_finish(&args) < 0)
                return PARLEY_EXIT_USAGE;

        return eval_run(argv[optind], argv[optind + 1], &args, &s) < 0 ?
                PARLEY_EXIT_FAILURE : 0;
}
