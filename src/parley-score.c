/* parley score: BLEU or ROUGE of a file of hypotheses against reference
 * files, one segment per line. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "metrics.h"
#include "parley.h"

/* How many --ref files one run takes. */
#define SCORE_REF_FILES_MAX 64

/* The lines of one file, without their "\n" or "\r\n". */
struct score_lines {
        char **v;
        size_t n, cap;
};

static void score_lines_done(struct score_lines *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        *l = (struct score_lines){ 0 };
}

static int score_lines_push(struct score_lines *l, const char *s, size_t len)
{
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 256;
                char **v = reallocarray(l->v, cap, sizeof(*v));

                if (!v)
                        return -ENOMEM;
                l->v = v;
                l->cap = cap;
        }

        l->v[l->n] = strndup(s, len);
        if (!l->v[l->n])
                return -ENOMEM;

        l->n++;
        return 0;
}

/* Reads one line into buf[0 .. size) without its terminator.  Returns 1
 * for a line, 0 at the end of the file, -E2BIG when the line does not fit
 * (the rest of it is left unread). */
static int score_line_read(FILE *f, char *buf, size_t size, size_t *ret_len)
{
        size_t len = 0;
        bool any = false;
        int c;

        while ((c = getc_unlocked(f)) != EOF) {
                any = true;
                if (c == '\n')
                        break;
                if (len + 1 >= size)
                        return -E2BIG;
                buf[len++] = (char)c;
        }

        if (ferror(f))
                return -EIO;
        if (!any)
                return 0;

        if (len > 0 && buf[len - 1] == '\r')
                len--;
        buf[len] = '\0';
        *ret_len = len;
        return 1;
}

/* Every line of path as a segment; says what is wrong with the file, and
 * on which line, itself. */
static int score_file_read(const char *path, struct score_lines *ret)
{
        _cleanup_(score_lines_done) struct score_lines lines = { 0 };
        /* Room for a segment of the maximum length, a '\r' and the NUL. */
        _cleanup_free_ char *buf = malloc(METRICS_SEGMENT_MAX_BYTES + 2);
        FILE *f;
        int r = 0;

        if (!buf) {
                log_error("reading '%s': out of memory", path);
                return -ENOMEM;
        }

        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                log_error("cannot open '%s': %s", path, strerror(errno));
                return r;
        }

        for (size_t lineno = 1;; lineno++) {
                size_t len;

                r = score_line_read(f, buf, METRICS_SEGMENT_MAX_BYTES + 2, &len);
                if (r == 0)
                        break;
                if (r == -E2BIG || (r > 0 && len > METRICS_SEGMENT_MAX_BYTES)) {
                        log_error("%s:%zu: line is longer than %d bytes", path, lineno,
                                  METRICS_SEGMENT_MAX_BYTES);
                        r = -E2BIG;
                        break;
                }
                if (r < 0) {
                        log_error("cannot read '%s': %s", path, strerror(-r));
                        break;
                }

                if (memchr(buf, '\0', len)) {
                        log_error("%s:%zu: line contains a NUL byte", path, lineno);
                        r = -EINVAL;
                        break;
                }

                r = metrics_segment_check(buf);
                if (r == -EILSEQ) {
                        log_error("%s:%zu: line is not valid UTF-8", path, lineno);
                        break;
                }
                if (r < 0) {
                        log_error("%s:%zu: %s", path, lineno, strerror(-r));
                        break;
                }

                r = score_lines_push(&lines, buf, len);
                if (r < 0) {
                        log_error("reading '%s': %s", path, strerror(-r));
                        break;
                }
        }

        fclose(f);
        if (r < 0)
                return r;

        if (lines.n == 0) {
                log_error("'%s' holds no segments", path);
                return -EINVAL;
        }

        *ret = lines;
        lines = (struct score_lines){ 0 };
        return 0;
}

static void score_usage(FILE *f)
{
        fprintf(f,
                "usage: parley score --hyp FILE --ref FILE [--ref FILE...] [OPTIONS]\n"
                "\n"
                "Scores hypotheses against references, one segment per line and one\n"
                "file per reference stream, as sacrebleu (BLEU) or rouge-score (ROUGE).\n"
                "\n"
                "  --hyp FILE           the hypotheses\n"
                "  --ref FILE           a reference stream; repeat for more references\n"
                "  --metric NAME        bleu (default) or rouge\n"
                "  --tokenize NAME      bleu: 13a (default), none, zh, char;\n"
                "                       rouge: default, zh (one token per CJK character),\n"
                "                       char (one token per character)\n"
                "  --smooth NAME        bleu: exp (default), floor, add-k, none\n"
                "  --smooth-value X     bleu: floor's value (0.1) or add-k's (1)\n"
                "  --lowercase          bleu: lowercase first (rouge always does)\n"
                "  --max-order N        bleu: highest n-gram order, 1 to %d (default 4)\n"
                "  --effective-order    bleu: average only the orders the hypotheses reach\n"
                "  --stem               rouge: Porter stemming, as rouge-score's use_stemmer\n"
                "  -h, --help           show this\n",
                BLEU_ORDER_MAX);
}

enum score_metric {
        SCORE_METRIC_BLEU,
        SCORE_METRIC_ROUGE,
};

struct score_args {
        const char *hyp_path;
        const char *ref_paths[SCORE_REF_FILES_MAX];
        size_t n_refs;
        enum score_metric metric;
        const char *tokenize;
        const char *smooth;
        const char *smooth_value;
        const char *max_order;
        bool lowercase;
        bool effective_order;
        bool stem;
};

/* A usage error: said once, then the exit status. */
#define SCORE_USAGE_ERROR(...)                          \
        ({                                              \
                log_error(__VA_ARGS__);                 \
                PARLEY_EXIT_USAGE;                      \
        })

/* Returns 0 to go on, -1 when --help was answered, or an exit status to
 * leave with. */
static int score_args_parse(int argc, char **argv, struct score_args *a)
{
        enum {
                ARG_HYP = 0x100,
                ARG_REF,
                ARG_METRIC,
                ARG_TOKENIZE,
                ARG_SMOOTH,
                ARG_SMOOTH_VALUE,
                ARG_LOWERCASE,
                ARG_MAX_ORDER,
                ARG_EFFECTIVE_ORDER,
                ARG_STEM,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "hyp", required_argument, NULL, ARG_HYP },
                { "ref", required_argument, NULL, ARG_REF },
                { "metric", required_argument, NULL, ARG_METRIC },
                { "tokenize", required_argument, NULL, ARG_TOKENIZE },
                { "smooth", required_argument, NULL, ARG_SMOOTH },
                { "smooth-value", required_argument, NULL, ARG_SMOOTH_VALUE },
                { "lowercase", no_argument, NULL, ARG_LOWERCASE },
                { "max-order", required_argument, NULL, ARG_MAX_ORDER },
                { "effective-order", no_argument, NULL, ARG_EFFECTIVE_ORDER },
                { "stem", no_argument, NULL, ARG_STEM },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        score_usage(stdout);
                        return -1;
                case ARG_HYP:
                        if (a->hyp_path)
                                return SCORE_USAGE_ERROR("--hyp given twice");
                        a->hyp_path = optarg;
                        break;
                case ARG_REF:
                        if (a->n_refs == SCORE_REF_FILES_MAX)
                                return SCORE_USAGE_ERROR("more than %d --ref files",
                                                         SCORE_REF_FILES_MAX);
                        a->ref_paths[a->n_refs++] = optarg;
                        break;
                case ARG_METRIC:
                        if (strcmp(optarg, "bleu") == 0)
                                a->metric = SCORE_METRIC_BLEU;
                        else if (strcmp(optarg, "rouge") == 0)
                                a->metric = SCORE_METRIC_ROUGE;
                        else
                                return SCORE_USAGE_ERROR("unknown metric '%s' (bleu, rouge)",
                                                         optarg);
                        break;
                case ARG_TOKENIZE:
                        a->tokenize = optarg;
                        break;
                case ARG_SMOOTH:
                        a->smooth = optarg;
                        break;
                case ARG_SMOOTH_VALUE:
                        a->smooth_value = optarg;
                        break;
                case ARG_LOWERCASE:
                        a->lowercase = true;
                        break;
                case ARG_MAX_ORDER:
                        a->max_order = optarg;
                        break;
                case ARG_EFFECTIVE_ORDER:
                        a->effective_order = true;
                        break;
                case ARG_STEM:
                        a->stem = true;
                        break;
                default:
                        /* getopt_long has said what was wrong. */
                        score_usage(stderr);
                        return PARLEY_EXIT_USAGE;
                }
        }

        if (optind < argc)
                return SCORE_USAGE_ERROR("unexpected argument '%s'", argv[optind]);
        if (!a->hyp_path)
                return SCORE_USAGE_ERROR("--hyp FILE is required");
        if (a->n_refs == 0)
                return SCORE_USAGE_ERROR("at least one --ref FILE is required");

        return 0;
}

/* Returns 0, or an exit status to leave with. */
static int score_bleu_options(const struct score_args *a, struct bleu_options *o)
{
        bleu_options_init(o);

        if (a->stem)
                return SCORE_USAGE_ERROR("--stem applies only to --metric rouge");

        if (a->tokenize) {
                int t = bleu_tokenize_from_string(a->tokenize);

                if (t < 0)
                        return SCORE_USAGE_ERROR("unknown BLEU tokenizer '%s' "
                                                 "(13a, none, zh, char)", a->tokenize);
                o->tokenize = t;
        }

        if (a->smooth) {
                int s = bleu_smooth_from_string(a->smooth);

                if (s < 0)
                        return SCORE_USAGE_ERROR("unknown smoothing '%s' "
                                                 "(exp, floor, add-k, none)", a->smooth);
                o->smooth = s;
        }

        if (a->smooth_value) {
                char *end;

                if (o->smooth != BLEU_SMOOTH_FLOOR && o->smooth != BLEU_SMOOTH_ADD_K)
                        return SCORE_USAGE_ERROR("--smooth-value applies only to "
                                                 "--smooth floor or add-k");

                errno = 0;
                o->smooth_value = strtod(a->smooth_value, &end);
                if (errno != 0 || end == a->smooth_value || *end != '\0' ||
                    !isfinite(o->smooth_value) || o->smooth_value < 0)
                        return SCORE_USAGE_ERROR("--smooth-value '%s' is not a number >= 0",
                                                 a->smooth_value);
        }

        if (a->max_order) {
                char *end;
                long n;

                errno = 0;
                n = strtol(a->max_order, &end, 10);
                if (errno != 0 || end == a->max_order || *end != '\0' || n < 1 ||
                    n > BLEU_ORDER_MAX)
                        return SCORE_USAGE_ERROR("--max-order '%s' is not a number from "
                                                 "1 to %d", a->max_order, BLEU_ORDER_MAX);
                o->max_order = (int)n;
        }

        o->lowercase = a->lowercase;
        o->effective_order = a->effective_order;
        return 0;
}

/* Returns 0, or an exit status to leave with. */
static int score_rouge_options(const struct score_args *a, struct rouge_options *o)
{
        static const char *const bleu_only[] = {
                "--smooth", "--smooth-value", "--lowercase", "--max-order", "--effective-order",
        };
        const bool given[ELEMENTSOF(bleu_only)] = {
                a->smooth, a->smooth_value, a->lowercase, a->max_order, a->effective_order,
        };

        rouge_options_init(o);

        for (size_t i = 0; i < ELEMENTSOF(bleu_only); i++)
                if (given[i])
                        return SCORE_USAGE_ERROR("%s applies only to --metric bleu",
                                                 bleu_only[i]);

        if (a->tokenize) {
                int t = rouge_tokenize_from_string(a->tokenize);

                if (t < 0)
                        return SCORE_USAGE_ERROR("unknown ROUGE tokenizer '%s' "
                                                 "(default, zh, char)", a->tokenize);
                o->tokenize = t;
        }

        o->stem = a->stem;
        return 0;
}

static const char *score_error_text(int r)
{
        switch (r) {
        case -E2BIG:
                return "a segment is too long";
        case -EILSEQ:
                return "a segment is not valid UTF-8";
        default:
                return strerror(-r);
        }
}

static int score_print_bleu(const struct score_lines *hyps, const char *const *const *refs,
                            size_t n_refs, const struct bleu_options *o)
{
        _cleanup_free_ char *line = NULL;
        struct bleu_result result;
        int r;

        r = bleu_corpus((const char *const *)hyps->v, hyps->n, refs, n_refs, o, &result);
        if (r < 0) {
                log_error("computing BLEU: %s", score_error_text(r));
                return PARLEY_EXIT_FAILURE;
        }

        r = bleu_result_format(&result, &line);
        if (r < 0) {
                log_error("formatting BLEU: %s", strerror(-r));
                return PARLEY_EXIT_FAILURE;
        }

        printf("%s\n", line);
        return 0;
}

static int score_print_rouge(const struct score_lines *hyps, const char *const *const *refs,
                             size_t n_refs, const struct rouge_options *o)
{
        struct rouge_result result;
        const struct {
                const char *name;
                const struct rouge_prf *prf;
        } rows[] = {
                { "ROUGE-1", &result.rouge1 },
                { "ROUGE-2", &result.rouge2 },
                { "ROUGE-L", &result.rougeL },
        };
        int r;

        r = rouge_corpus((const char *const *)hyps->v, hyps->n, refs, n_refs, o, &result);
        if (r < 0) {
                log_error("computing ROUGE: %s", score_error_text(r));
                return PARLEY_EXIT_FAILURE;
        }

        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                printf("%s P = %.6f R = %.6f F = %.6f\n", rows[i].name, rows[i].prf->precision,
                       rows[i].prf->recall, rows[i].prf->f);

        return 0;
}

int parley_score(int argc, char **argv)
{
        struct score_args a = { .metric = SCORE_METRIC_BLEU };
        struct score_lines hyps = { 0 }, refs[SCORE_REF_FILES_MAX] = { { 0 } };
        const char *const *streams[SCORE_REF_FILES_MAX];
        struct bleu_options bleu;
        struct rouge_options rouge;
        int status;

        status = score_args_parse(argc, argv, &a);
        if (status < 0)
                return 0;
        if (status > 0)
                return status;

        if (a.metric == SCORE_METRIC_BLEU)
                status = score_bleu_options(&a, &bleu);
        else
                status = score_rouge_options(&a, &rouge);
        if (status > 0)
                return status;

        status = PARLEY_EXIT_FAILURE;

        if (score_file_read(a.hyp_path, &hyps) < 0)
                goto finish;

        for (size_t i = 0; i < a.n_refs; i++) {
                if (score_file_read(a.ref_paths[i], &refs[i]) < 0)
                        goto finish;

                if (refs[i].n != hyps.n) {
                        log_error("'%s' has %zu lines but '%s' has %zu: each reference "
                                  "file needs one line per hypothesis", a.ref_paths[i],
                                  refs[i].n, a.hyp_path, hyps.n);
                        goto finish;
                }

                streams[i] = (const char *const *)refs[i].v;
        }

        if (a.metric == SCORE_METRIC_BLEU)
                status = score_print_bleu(&hyps, streams, a.n_refs, &bleu);
        else
                status = score_print_rouge(&hyps, streams, a.n_refs, &rouge);

finish:
        score_lines_done(&hyps);
        for (size_t i = 0; i < a.n_refs; i++)
                score_lines_done(&refs[i]);
        return status;
}
