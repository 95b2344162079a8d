/* parley-decode.h: the decoding options parley reply, chat and eval share
 * on their command lines, and loading the model they decode with. */
#ifndef PARLEY_PARLEY_DECODE_H
#define PARLEY_PARLEY_DECODE_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "decode.h"

/* getopt_long values of the shared options; a command's own options use
 * values below PARLEY_DECODE_OPT_FIRST. */
enum {
        PARLEY_DECODE_OPT_FIRST = 0x1000,
        PARLEY_DECODE_OPT_METHOD = PARLEY_DECODE_OPT_FIRST,
        PARLEY_DECODE_OPT_MAX_LENGTH,
        PARLEY_DECODE_OPT_MIN_LENGTH,
        PARLEY_DECODE_OPT_NO_REPEAT_NGRAM,
        PARLEY_DECODE_OPT_BEAM_WIDTH,
        PARLEY_DECODE_OPT_LENGTH_PENALTY,
        PARLEY_DECODE_OPT_TEMPERATURE,
        PARLEY_DECODE_OPT_TOP_K,
        PARLEY_DECODE_OPT_TOP_P,
        PARLEY_DECODE_OPT_SEED,
        PARLEY_DECODE_OPT_THREADS,
        _PARLEY_DECODE_OPT_END,
};

/* Entries for a command's struct option table. */
#define PARLEY_DECODE_LONG_OPTIONS                                                      \
        { "method", required_argument, NULL, PARLEY_DECODE_OPT_METHOD },                \
        { "max-length", required_argument, NULL, PARLEY_DECODE_OPT_MAX_LENGTH },        \
        { "min-length", required_argument, NULL, PARLEY_DECODE_OPT_MIN_LENGTH },        \
        { "no-repeat-ngram", required_argument, NULL, PARLEY_DECODE_OPT_NO_REPEAT_NGRAM }, \
        { "beam-width", required_argument, NULL, PARLEY_DECODE_OPT_BEAM_WIDTH },        \
        { "length-penalty", required_argument, NULL, PARLEY_DECODE_OPT_LENGTH_PENALTY }, \
        { "temperature", required_argument, NULL, PARLEY_DECODE_OPT_TEMPERATURE },      \
        { "top-k", required_argument, NULL, PARLEY_DECODE_OPT_TOP_K },                  \
        { "top-p", required_argument, NULL, PARLEY_DECODE_OPT_TOP_P },                  \
        { "seed", required_argument, NULL, PARLEY_DECODE_OPT_SEED },                    \
        { "threads", required_argument, NULL, PARLEY_DECODE_OPT_THREADS }

struct parley_decode_args {
        const char *command;            /* "parley reply", for messages */
        struct decoder_options options;
        unsigned given;                 /* bit (opt - FIRST) per option given */
        int threads;                    /* OpenBLAS threads; 0: its default */
};

void parley_decode_args_init(struct parley_decode_args *a, const char *command);

static inline bool parley_decode_opt_is(int c)
{
        return c >= PARLEY_DECODE_OPT_FIRST && c < _PARLEY_DECODE_OPT_END;
}

/* Takes one shared option; prints what is wrong and returns -EINVAL for a
 * bad value. */
int parley_decode_opt_parse(struct parley_decode_args *a, int c, const char *value);

/* After the command line: refuses an option the method does not use
 * (--beam-width without --method beam, ...) and options in conflict,
 * printing why; then sets up OpenBLAS (which may run the program again). */
int parley_decode_args_finish(struct parley_decode_args *a);

/* The usage lines of the shared options. */
void parley_decode_usage(FILE *f);

/* Loads the model file and makes a decoder for up to max_batch prompts,
 * printing what went wrong. */
int parley_decode_open(const struct parley_decode_args *a, const char *path, int max_batch,
                       struct seq2seq **ret_model, struct vocab **ret_vocab,
                       struct decoder **ret_decoder);

#endif
