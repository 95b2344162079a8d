/* parley train: the command line of train_run(). */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "log.h"
#include "optim.h"
#include "parley.h"
#include "seq2seq.h"
#include "tokenize.h"
#include "train.h"

static void train_usage(FILE *f)
{
        struct train_options d;

        train_options_default(&d);
        fprintf(f,
                "usage: parley train [OPTIONS] -o MODEL CORPUS...\n"
                "\n"
                "Trains the Seq2Seq LSTM on prompt/reply pairs (TSV from parley prep, JSON\n"
                "lines, chatterbot YAML) and writes the model with the best validation loss\n"
                "to MODEL (safetensors), with a checkpoint after every epoch.\n"
                "\n"
                "  -o, --output FILE        the model file\n"
                "      --checkpoint FILE    the checkpoint [MODEL.ckpt]\n"
                "      --resume             continue from the checkpoint (same options)\n"
                "      --epochs N           epochs to train in all [%d]\n"
                "      --time-limit MIN     stop after MIN minutes, with a checkpoint\n"
                "      --patience N         stop after N epochs without improvement;\n"
                "                           0: never [%d]\n"
                "      --batch-size N       pairs per batch [%d]\n"
                "      --max-length N       skip pairs with a side over N tokens [%d]\n"
                "      --valid-fraction F   share of pairs held out for validation [%g]\n"
                "      --vocab-size N       vocabulary size, specials included [%d]\n"
                "      --min-count N        leave out tokens seen fewer times [%d]\n"
                "      --embed-size N       embedding width [%d]\n"
                "      --hidden-size N      LSTM width [%d]\n"
                "      --layers N           LSTM layers in encoder and decoder [%d]\n"
                "      --dropout P          on embeddings and between layers [%g]\n"
                "      --optimizer NAME     rmsprop or adam [%s]\n"
                "      --lr RATE            learning rate [%g]\n"
                "      --warmup N           steps of linear learning-rate warm-up [%d]\n"
                "      --lr-decay F         learning-rate factor after an epoch without\n"
                "                           improvement [%g]\n"
                "      --clip NORM          clip the gradient's global norm; 0: never [%g]\n"
                "      --seed N             seed of every random choice [%" PRIu64 "]\n"
                "      --threads N          OpenBLAS threads [OpenBLAS's default]\n"
                "      --plot FILE.svg      draw the loss curves\n"
                "      --log-every N        steps between progress lines [%d]\n"
                "      --progress, --no-progress\n"
                "                           a redrawn progress line [when stderr is a "
                "terminal]\n"
                "  -h, --help               this text\n",
                d.epochs, d.patience, d.batch_size, d.max_length, d.valid_fraction,
                d.vocab_size, d.min_count, d.embed_size, d.hidden_size, d.layers, d.dropout,
                optim_kind_to_string(d.optimizer), d.learning_rate, d.warmup_steps,
                d.lr_decay, d.clip, d.seed, d.log_every);
}

enum {
        OPT_CHECKPOINT = 256,
        OPT_RESUME,
        OPT_EPOCHS,
        OPT_TIME_LIMIT,
        OPT_PATIENCE,
        OPT_BATCH_SIZE,
        OPT_MAX_LENGTH,
        OPT_VALID_FRACTION,
        OPT_VOCAB_SIZE,
        OPT_MIN_COUNT,
        OPT_EMBED_SIZE,
        OPT_HIDDEN_SIZE,
        OPT_LAYERS,
        OPT_DROPOUT,
        OPT_OPTIMIZER,
        OPT_LR,
        OPT_WARMUP,
        OPT_LR_DECAY,
        OPT_CLIP,
        OPT_SEED,
        OPT_THREADS,
        OPT_PLOT,
        OPT_LOG_EVERY,
        OPT_PROGRESS,
        OPT_NO_PROGRESS,
};

/* A whole number in [min, max]. */
static int parse_int(const char *option, const char *s, long min, long max, int *ret)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
                fprintf(stderr, "parley train: --%s wants a whole number from %ld to %ld, "
                        "not '%s'\n", option, min, max, s);
                return -EINVAL;
        }
        *ret = (int)v;
        return 0;
}

/* A number in [min, max] (max_open: below max). */
static int parse_double(const char *option, const char *s, double min, double max,
                        bool max_open, double *ret)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max ||
            (max_open && v == max)) {
                fprintf(stderr, "parley train: --%s wants a number from %g to %g%s, not '%s'\n",
                        option, min, max, max_open ? " (excluded)" : "", s);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int parse_float(const char *option, const char *s, double min, double max,
                       bool max_open, float *ret)
{
        double v;
        int r = parse_double(option, s, min, max, max_open, &v);

        if (r >= 0)
                *ret = (float)v;
        return r;
}

int parley_train(int argc, char **argv)
{
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                { "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
                { "resume", no_argument, NULL, OPT_RESUME },
                { "epochs", required_argument, NULL, OPT_EPOCHS },
                { "time-limit", required_argument, NULL, OPT_TIME_LIMIT },
                { "patience", required_argument, NULL, OPT_PATIENCE },
                { "batch-size", required_argument, NULL, OPT_BATCH_SIZE },
                { "max-length", required_argument, NULL, OPT_MAX_LENGTH },
                { "valid-fraction", required_argument, NULL, OPT_VALID_FRACTION },
                { "vocab-size", required_argument, NULL, OPT_VOCAB_SIZE },
                { "min-count", required_argument, NULL, OPT_MIN_COUNT },
                { "embed-size", required_argument, NULL, OPT_EMBED_SIZE },
                { "hidden-size", required_argument, NULL, OPT_HIDDEN_SIZE },
                { "layers", required_argument, NULL, OPT_LAYERS },
                { "dropout", required_argument, NULL, OPT_DROPOUT },
                { "optimizer", required_argument, NULL, OPT_OPTIMIZER },
                { "lr", required_argument, NULL, OPT_LR },
                { "warmup", required_argument, NULL, OPT_WARMUP },
                { "lr-decay", required_argument, NULL, OPT_LR_DECAY },
                { "clip", required_argument, NULL, OPT_CLIP },
                { "seed", required_argument, NULL, OPT_SEED },
                { "threads", required_argument, NULL, OPT_THREADS },
                { "plot", required_argument, NULL, OPT_PLOT },
                { "log-every", required_argument, NULL, OPT_LOG_EVERY },
                { "progress", no_argument, NULL, OPT_PROGRESS },
                { "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct train_options o;
        int threads = 0, progress = -1, c, r = 0;
        double seed;

        train_options_default(&o);
        optind = 0;
        while (r >= 0 && (c = getopt_long(argc, argv, "o:h", options, NULL)) >= 0) {
                switch (c) {
                case 'o':
                        o.output = optarg;
                        break;
                case OPT_CHECKPOINT:
                        o.checkpoint = optarg;
                        break;
                case OPT_RESUME:
                        o.resume = true;
                        break;
                case OPT_EPOCHS:
                        r = parse_int("epochs", optarg, 1, 1000000, &o.epochs);
                        break;
                case OPT_TIME_LIMIT:
                        r = parse_double("time-limit", optarg, 0, 1e7, false,
                                         &o.time_limit_minutes);
                        break;
                case OPT_PATIENCE:
                        r = parse_int("patience", optarg, 0, 1000000, &o.patience);
                        break;
                case OPT_BATCH_SIZE:
                        r = parse_int("batch-size", optarg, 1, 65536, &o.batch_size);
                        break;
                case OPT_MAX_LENGTH:
                        r = parse_int("max-length", optarg, 1, TRAIN_MAX_LENGTH_LIMIT,
                                      &o.max_length);
                        break;
                case OPT_VALID_FRACTION:
                        r = parse_double("valid-fraction", optarg, 0, 1, true,
                                         &o.valid_fraction);
                        break;
                case OPT_VOCAB_SIZE:
                        r = parse_int("vocab-size", optarg, TOKEN_SPECIAL_COUNT + 1,
                                      SEQ2SEQ_VOCAB_MAX, &o.vocab_size);
                        break;
                case OPT_MIN_COUNT:
                        r = parse_int("min-count", optarg, 1, INT_MAX, &o.min_count);
                        break;
                case OPT_EMBED_SIZE:
                        r = parse_int("embed-size", optarg, 1, SEQ2SEQ_WIDTH_MAX, &o.embed_size);
                        break;
                case OPT_HIDDEN_SIZE:
                        r = parse_int("hidden-size", optarg, 1, SEQ2SEQ_WIDTH_MAX,
                                      &o.hidden_size);
                        break;
                case OPT_LAYERS:
                        r = parse_int("layers", optarg, 1, SEQ2SEQ_LAYERS_MAX, &o.layers);
                        break;
                case OPT_DROPOUT:
                        r = parse_float("dropout", optarg, 0, 1, true, &o.dropout);
                        break;
                case OPT_OPTIMIZER:
                        r = optim_kind_from_string(optarg, &o.optimizer);
                        if (r < 0)
                                fprintf(stderr, "parley train: --optimizer is rmsprop or adam, "
                                        "not '%s'\n", optarg);
                        break;
                case OPT_LR:
                        r = parse_float("lr", optarg, 1e-9, 10, false, &o.learning_rate);
                        break;
                case OPT_WARMUP:
                        r = parse_int("warmup", optarg, 0, INT_MAX, &o.warmup_steps);
                        break;
                case OPT_LR_DECAY:
                        r = parse_float("lr-decay", optarg, 1e-6, 1, false, &o.lr_decay);
                        break;
                case OPT_CLIP:
                        r = parse_float("clip", optarg, 0, 1e9, false, &o.clip);
                        break;
                case OPT_SEED:
                        /* exact up to 2^53, more than anyone types */
                        r = parse_double("seed", optarg, 0, 9007199254740992.0, false, &seed);
                        if (r >= 0 && seed != floor(seed)) {
                                fprintf(stderr, "parley train: --seed wants a whole number\n");
                                r = -EINVAL;
                        }
                        o.seed = (uint64_t)seed;
                        break;
                case OPT_THREADS:
                        r = parse_int("threads", optarg, 1, 1024, &threads);
                        break;
                case OPT_PLOT:
                        o.plot = optarg;
                        break;
                case OPT_LOG_EVERY:
                        r = parse_int("log-every", optarg, 1, INT_MAX, &o.log_every);
                        break;
                case OPT_PROGRESS:
                        progress = 1;
                        break;
                case OPT_NO_PROGRESS:
                        progress = 0;
                        break;
                case 'h':
                        train_usage(stdout);
                        return 0;
                default:
                        train_usage(stderr);
                        return PARLEY_EXIT_USAGE;
                }
        }
        if (r < 0)
                return PARLEY_EXIT_USAGE;

        if (!o.output || optind >= argc) {
                fprintf(stderr, "parley train: %s\n",
                        !o.output ? "-o MODEL is required" : "no CORPUS given");
                train_usage(stderr);
                return PARLEY_EXIT_USAGE;
        }

        o.corpora = argv + optind;
        o.n_corpora = argc - optind;
        o.progress_bar = progress >= 0 ? progress : isatty(STDERR_FILENO) && !log_to_journal();

        /* before any work: this may run the program again with better
         * OpenBLAS kernels */
        blas_setup(threads);

        return train_run(&o) < 0 ? PARLEY_EXIT_FAILURE : 0;
}
