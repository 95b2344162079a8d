/* parley-decode.c: the decoding options of parley reply, chat and eval. */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "macro.h"
#include "parley-decode.h"

/* The decoder_options_set() key of each shared option, and the methods it
 * applies to (0: all). */
static const struct {
        const char *key;
        unsigned methods;
} shared_options[] = {
        [PARLEY_DECODE_OPT_METHOD - PARLEY_DECODE_OPT_FIRST] = { "method", 0 },
        [PARLEY_DECODE_OPT_MAX_LENGTH - PARLEY_DECODE_OPT_FIRST] = { "max-length", 0 },
        [PARLEY_DECODE_OPT_MIN_LENGTH - PARLEY_DECODE_OPT_FIRST] = { "min-length", 0 },
        [PARLEY_DECODE_OPT_NO_REPEAT_NGRAM - PARLEY_DECODE_OPT_FIRST] = { "no-repeat-ngram", 0 },
        [PARLEY_DECODE_OPT_BEAM_WIDTH - PARLEY_DECODE_OPT_FIRST] = {
                "beam-width", 1u << DECODER_BEAM },
        [PARLEY_DECODE_OPT_LENGTH_PENALTY - PARLEY_DECODE_OPT_FIRST] = {
                "length-penalty", 1u << DECODER_BEAM },
        [PARLEY_DECODE_OPT_TEMPERATURE - PARLEY_DECODE_OPT_FIRST] = {
                "temperature", 1u << DECODER_SAMPLE },
        [PARLEY_DECODE_OPT_TOP_K - PARLEY_DECODE_OPT_FIRST] = { "top-k", 1u << DECODER_SAMPLE },
        [PARLEY_DECODE_OPT_TOP_P - PARLEY_DECODE_OPT_FIRST] = { "top-p", 1u << DECODER_SAMPLE },
        [PARLEY_DECODE_OPT_SEED - PARLEY_DECODE_OPT_FIRST] = { "seed", 1u << DECODER_SAMPLE },
        [PARLEY_DECODE_OPT_THREADS - PARLEY_DECODE_OPT_FIRST] = { "threads", 0 },
};

void parley_decode_args_init(struct parley_decode_args *a, const char *command)
{
        *a = (struct parley_decode_args){ .command = command };
        decoder_options_default(&a->options);
}

int parley_decode_opt_parse(struct parley_decode_args *a, int c, const char *value)
{
        int index = c - PARLEY_DECODE_OPT_FIRST;
        char error[DECODER_ERROR_MAX];
        char *end;
        long v;

        if (c == PARLEY_DECODE_OPT_THREADS) {
                errno = 0;
                v = strtol(value, &end, 10);
                if (errno != 0 || end == value || *end != '\0' || v < 1 || v > 1024) {
                        fprintf(stderr, "%s: --threads wants a whole number from 1 to 1024, "
                                "not '%s'\n", a->command, value);
                        return -EINVAL;
                }
                a->threads = (int)v;
        } else if (decoder_options_set(&a->options, shared_options[index].key, value, error,
                                       sizeof(error)) < 0) {
                fprintf(stderr, "%s: --%s\n", a->command, error);
                return -EINVAL;
        }

        a->given |= 1u << index;
        return 0;
}

int parley_decode_args_finish(struct parley_decode_args *a)
{
        char error[DECODER_ERROR_MAX];

        for (size_t i = 0; i < ELEMENTSOF(shared_options); i++) {
                unsigned methods = shared_options[i].methods;

                if (!(a->given & (1u << i)) || methods == 0 ||
                    (methods & (1u << a->options.method)))
                        continue;
                fprintf(stderr, "%s: --%s applies to --method %s, not %s\n", a->command,
                        shared_options[i].key,
                        methods == 1u << DECODER_BEAM ? "beam" : "sample",
                        decoder_method_to_string(a->options.method));
                return -EINVAL;
        }

        if (decoder_options_check(&a->options, error, sizeof(error)) < 0) {
                fprintf(stderr, "%s: %s\n", a->command, error);
                return -EINVAL;
        }

        /* before any work: this may run the program again with better
         * OpenBLAS kernels */
        blas_setup(a->threads);
        return 0;
}

void parley_decode_usage(FILE *f)
{
        struct decoder_options d;

        decoder_options_default(&d);
        fprintf(f,
                "\ndecoding:\n"
                "      --method NAME        greedy, beam or sample [%s]\n"
                "      --max-length N       most tokens in a reply [%d]\n"
                "      --min-length N       fewest tokens before a reply may end [%d]\n"
                "      --no-repeat-ngram N  no N tokens in a row twice in a reply; 0: off [%d]\n"
                "      --beam-width N       beam: hypotheses kept per step [%d]\n"
                "      --length-penalty A   beam: rank by log p / ((5 + length) / 6)^A [%g]\n"
                "      --temperature T      sample: from softmax(logits / T); 0: the most\n"
                "                           likely token [%g]\n"
                "      --top-k N            sample: among the N most likely tokens; 0: all [%d]\n"
                "      --top-p P            sample: among the most likely tokens holding\n"
                "                           probability P; 1: all [%g]\n"
                "      --seed N             sample: the random seed [%llu]\n"
                "      --threads N          OpenBLAS threads [OpenBLAS's default]\n",
                decoder_method_to_string(d.method), d.max_length, d.min_length,
                d.no_repeat_ngram, d.beam_width, d.length_penalty, d.temperature, d.top_k,
                d.top_p, (unsigned long long)d.seed);
}

int parley_decode_open(const struct parley_decode_args *a, const char *path, int max_batch,
                       struct seq2seq **ret_model, struct vocab **ret_vocab,
                       struct decoder **ret_decoder)
{
        char error[DECODER_ERROR_MAX];
        struct seq2seq *model;
        struct vocab *vocab;
        struct decoder *decoder;
        int r;

        r = decoder_model_load(path, &model, &vocab, error, sizeof(error));
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", a->command, error);
                return r;
        }

        r = decoder_new(model, vocab, &a->options, max_batch, &decoder);
        if (r < 0) {
                fprintf(stderr, "%s: cannot make a decoder for '%s': %s\n", a->command, path,
                        strerror(-r));
                vocab_free(vocab);
                seq2seq_free(model);
                return r;
        }

        *ret_model = model;
        *ret_vocab = vocab;
        *ret_decoder = decoder;
        return 0;
}
