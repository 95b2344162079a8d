/* parley chat: a conversation with a model on the terminal, or a reply for
 * every line of standard input. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "macro.h"
#include "parley-decode.h"
#include "parley.h"
#include "tokenize.h"

/* A longer input line is refused (and the rest of it read past). */
#define CHAT_LINE_MAX_BYTES (64 * 1024)

static void chat_usage(FILE *f)
{
        fprintf(f,
                "usage: parley chat [OPTIONS] MODEL\n"
                "\n"
                "Answers every line of standard input with the model's reply.  On a\n"
                "terminal it prompts with \"> \" and skips empty lines; otherwise it writes\n"
                "exactly one line per input line (an empty one for a line it cannot read).\n"
                "End of input (Ctrl-D) ends the conversation.\n"
                "\n"
                "  -h, --help               this text\n");
        parley_decode_usage(f);
}

/* Reads one line into buf[0 .. size) without its "\n" or "\r\n".  1 for a
 * line, 0 at the end of input, -E2BIG for a line that does not fit (read
 * past to its end), -EIO. */
static int chat_line_read(FILE *f, char *buf, size_t size)
{
        size_t len = 0;
        bool any = false, too_long = false;
        int c;

        while ((c = getc(f)) != EOF) {
                any = true;
                if (c == '\n')
                        break;
                if (len + 1 >= size)
                        too_long = true;
                else
                        buf[len++] = (char)c;
        }

        if (ferror(f))
                return -EIO;
        if (!any)
                return 0;
        if (too_long)
                return -E2BIG;

        if (len > 0 && buf[len - 1] == '\r')
                len--;
        buf[len] = '\0';
        return 1;
}

static int chat_loop(struct decoder *decoder, bool terminal)
{
        _cleanup_free_ char *line = malloc(CHAT_LINE_MAX_BYTES + 2);
        int r;

        if (!line) {
                fprintf(stderr, "parley chat: out of memory\n");
                return -ENOMEM;
        }

        for (size_t lineno = 1;; lineno++) {
                _cleanup_free_ char *reply = NULL;

                if (terminal) {
                        fputs("> ", stdout);
                        fflush(stdout);
                }

                r = chat_line_read(stdin, line, CHAT_LINE_MAX_BYTES + 2);
                if (r == 0)
                        break;
                if (r == -EIO) {
                        fprintf(stderr, "parley chat: cannot read standard input: %s\n",
                                strerror(errno));
                        return r;
                }

                if (r == -E2BIG) {
                        fprintf(stderr, "parley chat: line %zu is longer than %d bytes, "
                                "skipped\n", lineno, CHAT_LINE_MAX_BYTES);
                } else if (terminal && line[strspn(line, " \t")] == '\0') {
                        continue;
                } else {
                        r = decoder_reply(decoder, line, &reply);
                        if (r == -EILSEQ)
                                fprintf(stderr, "parley chat: line %zu is not valid UTF-8, "
                                        "skipped\n", lineno);
                        else if (r < 0) {
                                fprintf(stderr, "parley chat: cannot decode line %zu: %s\n",
                                        lineno, strerror(-r));
                                return r;
                        }
                }

                /* one output line per input line, also for a skipped one */
                printf("%s\n", reply ? reply : "");
                if (fflush(stdout) != 0) {
                        fprintf(stderr, "parley chat: cannot write: %s\n", strerror(errno));
                        return -EIO;
                }
        }

        if (terminal)
                fputc('\n', stdout);
        return 0;
}

int parley_chat(int argc, char **argv)
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
        bool terminal;
        int c, r = 0;

        parley_decode_args_init(&args, "parley chat");
        optind = 0;
        while (r >= 0 && (c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (parley_decode_opt_is(c)) {
                        r = parley_decode_opt_parse(&args, c, optarg);
                } else if (c == 'h') {
                        chat_usage(stdout);
                        return 0;
                } else {
                        chat_usage(stderr);
                        return PARLEY_EXIT_USAGE;
                }
        }
        if (r < 0)
                return PARLEY_EXIT_USAGE;

        if (argc - optind != 1) {
                fprintf(stderr, "parley chat: %s\n",
                        optind >= argc ? "no MODEL given" : "one MODEL only");
                chat_usage(stderr);
                return PARLEY_EXIT_USAGE;
        }

        if (parley_decode_args_finish(&args) < 0)
                return PARLEY_EXIT_USAGE;

        if (parley_decode_open(&args, argv[optind], 1, &model, &vocab, &decoder) < 0)
                return PARLEY_EXIT_FAILURE;

        terminal = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        if (terminal)
                fprintf(stderr, "Talking to '%s' (%s decoding); end with Ctrl-D.\n",
                        argv[optind], decoder_method_to_string(args.options.method));

        r = chat_loop(decoder, terminal);

        decoder_free(decoder);
        vocab_free(vocab);
        seq2seq_free(model);
        return r < 0 ? PARLEY_EXIT_FAILURE : 0;
}
