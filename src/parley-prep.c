/* parley prep: cleans corpora into one deduplicated TSV file for training.
 *
 * Each side is normalised for reading (NFKC, controls removed, white space
 * collapsed; case kept, since tokenize() folds case later), pairs with a
 * side over --max-tokens or under --min-tokens tokens are dropped, and so
 * are exact duplicates after normalisation.  The output replaces OUT only
 * when everything was read and written: it is written to a temporary file
 * beside OUT, synced, and renamed over it. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corpus.h"
#include "log.h"
#include "macro.h"
#include "parley.h"
#include "strmap.h"
#include "tokenize.h"

/* Malformed records printed one by one; the rest are only counted. */
#define PREP_MALFORMED_SHOWN_MAX 20

struct prep {
        size_t max_tokens, min_tokens;
        FILE *out;
        struct strmap *seen;    /* "prompt\treply" of every pair written */

        size_t pairs, written;
        size_t malformed, too_long, too_short, empty, duplicate;
};

static void prep_usage(FILE *f)
{
        fprintf(f,
                "usage: parley prep [OPTIONS] -o OUT.tsv INPUT...\n"
                "\n"
                "Cleans prompt/reply corpora (TSV, JSON lines, chatterbot YAML) into one\n"
                "TSV file: normalised text, length limits, no duplicates.\n"
                "\n"
                "  -o, --output FILE      the TSV file to write (replaced atomically)\n"
                "  -f, --format FORMAT    auto (by extension), tsv, jsonl or yaml [auto]\n"
                "      --max-tokens N     drop pairs with a side over N tokens [40]\n"
                "      --min-tokens N     drop pairs with a side under N tokens [1]\n"
                "  -h, --help             this text\n");
}

static void prep_malformed(const char *file, size_t line, const char *what, void *userdata)
{
        struct prep *p = userdata;

        p->malformed++;
        if (p->malformed <= PREP_MALFORMED_SHOWN_MAX)
                fprintf(stderr, "%s:%zu: %s\n", file, line, what);
}

/* How many tokens text has; 0 for text that is empty after cleaning. */
static int prep_count_tokens(const char *text, size_t *ret)
{
        char **tokens;
        size_t n;
        int r = tokenize(text, &tokens, &n);
        if (r < 0)
                return r;

        tokens_free(tokens);
        *ret = n;
        return 0;
}

static int prep_pair(const struct corpus_pair *pair, void *userdata)
{
        _cleanup_free_ char *prompt = NULL, *reply = NULL, *key = NULL;
        struct prep *p = userdata;
        size_t prompt_tokens, reply_tokens;
        int r;

        p->pairs++;

        r = text_normalize(pair->prompt, false, &prompt);
        if (r >= 0)
                r = text_normalize(pair->reply, false, &reply);
        if (r >= 0)
                r = prep_count_tokens(prompt, &prompt_tokens);
        if (r >= 0)
                r = prep_count_tokens(reply, &reply_tokens);
        if (r < 0)
                return r;       /* the reader passed only valid UTF-8: out of memory */

        if (prompt_tokens == 0 || reply_tokens == 0) {
                p->empty++;
                return 0;
        }

        if (prompt_tokens > p->max_tokens || reply_tokens > p->max_tokens) {
                p->too_long++;
                return 0;
        }

        if (prompt_tokens < p->min_tokens || reply_tokens < p->min_tokens) {
                p->too_short++;
                return 0;
        }

        if (asprintf(&key, "%s\t%s", prompt, reply) < 0) {
                key = NULL;
                return -ENOMEM;
        }

        r = strmap_add(p->seen, key, 0, NULL, NULL);
        if (r < 0)
                return r;
        if (r == 0) {
                p->duplicate++;
                return 0;
        }

        if (fprintf(p->out, "%s\n", key) < 0)
                return -EIO;

        p->written++;
        return 0;
}

static int prep_parse_count(const char *option, const char *s, size_t *ret)
{
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != 0 || s[0] == '-' || v == 0 || v > INT_MAX) {
                fprintf(stderr, "parley prep: %s wants a whole number from 1 to %d, not '%s'\n",
                        option, INT_MAX, s);
                return -EINVAL;
        }

        *ret = (size_t)v;
        return 0;
}

/* Makes the new file durable under its final name: its data first, then
 * the directory entry.  *out is closed either way. */
static int prep_commit(FILE **out, const char *temporary, const char *path)
{
        _cleanup_free_ char *directory_copy = strdup(path);
        _cleanup_close_ int directory = -1;
        int r = 0;

        if (fflush(*out) != 0 || fsync(fileno(*out)) < 0)
                r = -errno;
        if (fclose(*out) != 0 && r == 0)
                r = -errno;
        *out = NULL;
        if (r < 0)
                return r;

        if (!directory_copy)
                return -ENOMEM;

        if (rename(temporary, path) < 0)
                return -errno;

        directory = open(dirname(directory_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (directory < 0 || fsync(directory) < 0)
                return -errno;

        return 0;
}

static void prep_report(const struct prep *p, size_t files, const char *output)
{
        if (p->malformed > PREP_MALFORMED_SHOWN_MAX)
                fprintf(stderr, "... and %zu more malformed records\n",
                        p->malformed - PREP_MALFORMED_SHOWN_MAX);

        fprintf(stderr,
                "parley prep: %zu records read from %zu file%s: %zu pairs, %zu malformed\n"
                "parley prep: %zu pairs written to %s\n"
                "parley prep: dropped %zu malformed, %zu too long, %zu too short, "
                "%zu empty, %zu duplicate\n",
                p->pairs + p->malformed, files, files == 1 ? "" : "s", p->pairs,
                p->malformed, p->written, output, p->malformed, p->too_long, p->too_short,
                p->empty, p->duplicate);
}

static int prep_run(struct prep *p, enum corpus_format format, const char *output,
                    char **inputs, size_t n_inputs)
{
        static const struct corpus_callbacks callbacks = {
                .pair = prep_pair,
                .malformed = prep_malformed,
        };
        _cleanup_free_ char *temporary = NULL;
        mode_t mask;
        int fd, r;

        if (asprintf(&temporary, "%s.tmp.XXXXXX", output) < 0) {
                temporary = NULL;
                log_error("Out of memory");
                return PARLEY_EXIT_FAILURE;
        }

        fd = mkostemp(temporary, O_CLOEXEC);
        if (fd < 0) {
                log_error("Cannot create a temporary file beside '%s': %m", output);
                return PARLEY_EXIT_FAILURE;
        }

        /* mkostemp() creates 0600; the output is an ordinary file. */
        mask = umask(0);
        umask(mask);
        p->out = fdopen(fd, "w");
        if (!p->out || fchmod(fd, 0666 & ~mask) < 0) {
                log_error("Cannot write '%s': %m", temporary);
                goto fail;
        }

        for (size_t i = 0; i < n_inputs; i++) {
                r = corpus_read(inputs[i], format, &callbacks, p);
                if (r == -EINVAL && format == CORPUS_AUTO) {
                        log_error("'%s': cannot tell the format from the extension "
                                  "(.tsv, .txt, .jsonl, .json, .yml, .yaml); use --format",
                                  inputs[i]);
                        goto fail;
                }
                if (r < 0) {
                        errno = -r;
                        log_error("Cannot read '%s': %m; '%s' left unchanged", inputs[i],
                                  output);
                        goto fail;
                }
        }

        r = prep_commit(&p->out, temporary, output);
        if (r < 0) {
                errno = -r;
                log_error("Cannot write '%s': %m", output);
                goto fail;
        }

        prep_report(p, n_inputs, output);
        return 0;

fail:
        if (p->out)
                fclose(p->out);
        else
                close(fd);
        p->out = NULL;
        unlink(temporary);
        return PARLEY_EXIT_FAILURE;
}

int parley_prep(int argc, char **argv)
{
        enum {
                OPTION_MAX_TOKENS = 0x100,
                OPTION_MIN_TOKENS,
        };
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                { "format", required_argument, NULL, 'f' },
                { "max-tokens", required_argument, NULL, OPTION_MAX_TOKENS },
                { "min-tokens", required_argument, NULL, OPTION_MIN_TOKENS },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct prep p = { .max_tokens = 40, .min_tokens = 1 };
        enum corpus_format format = CORPUS_AUTO;
        const char *output = NULL;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "o:f:h", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        output = optarg;
                        break;
                case 'f':
                        if (corpus_format_from_string(optarg, &format) < 0) {
                                fprintf(stderr, "parley prep: unknown format '%s': "
                                                "use auto, tsv, jsonl or yaml\n", optarg);
                                return PARLEY_EXIT_USAGE;
                        }
                        break;
                case OPTION_MAX_TOKENS:
                        if (prep_parse_count("--max-tokens", optarg, &p.max_tokens) < 0)
                                return PARLEY_EXIT_USAGE;
                        break;
                case OPTION_MIN_TOKENS:
                        if (prep_parse_count("--min-tokens", optarg, &p.min_tokens) < 0)
                                return PARLEY_EXIT_USAGE;
                        break;
                case 'h':
                        prep_usage(stdout);
                        return 0;
                default:
                        prep_usage(stderr);
                        return PARLEY_EXIT_USAGE;
                }

        if (!output || optind >= argc) {
                fprintf(stderr, "parley prep: %s\n",
                        output ? "no input files" : "no output file: use -o OUT.tsv");
                prep_usage(stderr);
                return PARLEY_EXIT_USAGE;
        }

        if (p.min_tokens > p.max_tokens) {
                fprintf(stderr, "parley prep: --min-tokens %zu is over --max-tokens %zu\n",
                        p.min_tokens, p.max_tokens);
                return PARLEY_EXIT_USAGE;
        }

        r = strmap_new(&p.seen);
        if (r < 0) {
                log_error("Out of memory");
                return PARLEY_EXIT_FAILURE;
        }

        r = prep_run(&p, format, output, argv + optind, (size_t)(argc - optind));
        strmap_free(p.seen);
        return r;
}
