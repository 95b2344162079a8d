/* parley reply: one answer from a model, for a prompt on the command
 * line. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "macro.h"
#include "parley-decode.h"
#include "parley.h"

static void reply_usage(FILE *f)
{
        fprintf(f,
                "usage: parley reply [OPTIONS] MODEL TEXT...\n"
                "\n"
                "Prints the model's reply to TEXT (the words joined by spaces).\n"
                "\n"
                "  -h, --help               this text\n");
        parley_decode_usage(f);
}

/* The arguments joined by single spaces. */
static char *words_join(char **words, int n)
{
        size_t size = 1;
        char *s, *p;

        for (int i = 0; i < n; i++)
                size += strlen(words[i]) + 1;

        s = p = malloc(size);
        if (!s)
                return NULL;

        for (int i = 0; i < n; i++) {
                size_t len = strlen(words[i]);

                if (i > 0)
                        *p++ = ' ';
                memcpy(p, words[i], len);
                p += len;
        }
        *p = '\0';
        return s;
}

int parley_reply(int argc, char **argv)
{
        static const struct option options[] = {
                PARLEY_DECODE_LONG_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct parley_decode_args args;
        struct seq2seq *model = NULL;
        struct vocab *vocab = NULL;
        struct decoder *decoder = NULL;
        _cleanup_free_ char *text = NULL, *reply = NULL;
        int c, r = 0;

        parley_decode_args_init(&args, "parley reply");
        optind = 0;
        while (r >= 0 && (c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (parley_decode_opt_is(c)) {
                        r = parley_decode_opt_parse(&args, c, optarg);
                } else if (c == 'h') {
                        reply_usage(stdout);
                        return 0;
                } else {
                        reply_usage(stderr);
                        return PARLEY_EXIT_USAGE;
                }
        }
        if (r < 0)
                return PARLEY_EXIT_USAGE;

        if (argc - optind < 2) {
                fprintf(stderr, "parley reply: %s\n",
                        optind >= argc ? "no MODEL given" : "no TEXT given");
                reply_usage(stderr);
                return PARLEY_EXIT_USAGE;
        }

        if (parley_decode_args_finish(&args) < 0)
                return PARLEY_EXIT_USAGE;

        text = words_join(argv + optind + 1, argc - optind - 1);
        if (!text) {
                fprintf(stderr, "parley reply: out of memory\n");
                return PARLEY_EXIT_FAILURE;
        }

        if (parley_decode_open(&args, argv[optind], 1, &model, &vocab, &decoder) < 0)
                return PARLEY_EXIT_FAILURE;

        r = decoder_reply(decoder, text, &reply);
        if (r == -EILSEQ)
                fprintf(stderr, "parley reply: TEXT is not valid UTF-8\n");
        else if (r < 0)
                fprintf(stderr, "parley reply: cannot decode: %s\n", strerror(-r));
        else
                printf("%s\n", reply);

        decoder_free(decoder);
        vocab_free(vocab);
        seq2seq_free(model);
        if (r < 0)
                return PARLEY_EXIT_FAILURE;
        return fflush(stdout) == 0 ? 0 : PARLEY_EXIT_FAILURE;
}
