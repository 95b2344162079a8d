/* bench-decode.c: reply latency and batched throughput of the decoder at
 * the seed sizes.
 *
 *   bench/bench-decode [REPLIES]            (default 200)
 *
 * A model of vocabulary 10,000, embedding 256, hidden 256 and one layer
 * (PARLEY_BENCH_LAYERS=N for N; parley train's default is 2) with random
 * weights (decoding costs the same whatever the weights); a
 * prompt of 10 words; OpenBLAS on one thread.  END is held back
 * (min_length = max_length), so every reply has exactly
 * PARLEY_BENCH_REPLY_TOKENS tokens (default 20) and the figures are for
 * replies of that length, and per token.  Prints the median and 90th
 * percentile of the wall-clock time, and the median CPU time, of REPLIES
 * greedy and beam-5 replies through decoder_reply() (tokenising the
 * prompt, encoding, decoding, joining the reply), with the output layer
 * with the weights in float, then in packed half precision
 * (seq2seq_half_enable(), what decoder_model_load() sets up), then
 * replies/s for batches of 1, 8 and 32
 * prompts through decoder_reply_batch() in half precision. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "decode.h"
#include "seq2seq.h"
#include "vocab.h"

#define VOCAB 10000
#define EMBED 256
#define HIDDEN 256
#define LAYERS 1         /* PARLEY_BENCH_LAYERS overrides (parley train's default is 2) */
#define PROMPT_WORDS 10
#define PROMPTS 64
#define WARMUP 10

static double clock_s(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now_s(void)
{
        return clock_s(CLOCK_MONOTONIC);
}

/* The process's CPU time: on a shared machine, time spent waiting for a
 * core does not count, so it varies less than the wall clock. */
static double cpu_s(void)
{
        return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static int compare_double(const void *x, const void *y)
{
        double a = *(const double *)x, b = *(const double *)y;

        return a < b ? -1 : a > b;
}

/* PROMPTS prompts of PROMPT_WORDS vocabulary words each. */
static char prompts[PROMPTS][PROMPT_WORDS * 8];
static const char *prompt_ptrs[PROMPTS];

static void prompts_make(void)
{
        uint64_t x = 1;

        for (int p = 0; p < PROMPTS; p++) {
                char *s = prompts[p];

                for (int w = 0; w < PROMPT_WORDS; w++) {
                        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                        s += sprintf(s, "%sw%d", w ? " " : "",
                                     (int)(4 + (x >> 33) % (VOCAB - 4)));
                }
                prompt_ptrs[p] = prompts[p];
        }
}

static int vocab_make(struct vocab **ret)
{
        static char names[VOCAB][8];
        static const char *tokens[VOCAB] = { "<pad>", "<s>", "</s>", "<unk>" };

        for (int i = 4; i < VOCAB; i++) {
                snprintf(names[i], sizeof(names[i]), "w%d", i);
                tokens[i] = names[i];
        }
        return vocab_new_from_tokens(tokens, VOCAB, ret);
}

/* Times replies one at a time; prints median and 90th percentile. */
static int latency(const char *name, const struct seq2seq *m, const struct vocab *v,
                   const struct decoder_options *o, int replies)
{
        struct decoder *d;
        double *times = calloc(replies, sizeof(double));
        double *cpu_times = calloc(replies, sizeof(double));
        long tokens = 0;
        int r;

        r = decoder_new(m, v, o, 1, &d);
        if (r < 0 || !times || !cpu_times) {
                free(times);
                free(cpu_times);
                decoder_free(d);
                return r < 0 ? r : -ENOMEM;
        }

        for (int i = -WARMUP; i < replies && r >= 0; i++) {
                char *reply = NULL;
                double start = now_s(), cpu_start = cpu_s();

                r = decoder_reply(d, prompt_ptrs[(i + WARMUP) % PROMPTS], &reply);
                if (r < 0)
                        break;
                if (i >= 0) {
                        times[i] = now_s() - start;
                        cpu_times[i] = cpu_s() - cpu_start;
                        tokens += 1;
                        for (char *c = reply; *c; c++)
                                tokens += *c == ' ';
                }
                free(reply);
        }

        if (r >= 0) {
                qsort(times, replies, sizeof(double), compare_double);
                qsort(cpu_times, replies, sizeof(double), compare_double);
                printf("%-8s median %7.3f ms  p90 %7.3f ms  (%.1f tokens per reply, "
                       "%.1f us per token at the median); on CPU: median %.3f ms\n", name,
                       1e3 * times[replies / 2], 1e3 * times[replies * 9 / 10],
                       (double)tokens / replies,
                       1e6 * times[replies / 2] / ((double)tokens / replies),
                       1e3 * cpu_times[replies / 2]);
        }
        decoder_free(d);
        free(times);
        free(cpu_times);
        return r;
}

/* Replies per second for batches of n prompts, over about a second. */
static int throughput(const struct seq2seq *m, const struct vocab *v,
                      const struct decoder_options *o, int n)
{
        char *replies[PROMPTS];
        struct decoder *d;
        double start, elapsed = 0.0;
        long done = 0;
        int r;

        r = decoder_new(m, v, o, n, &d);
        if (r < 0)
                return r;

        start = now_s();
        for (int round = 0; r >= 0 && (round < 3 || elapsed < 1.0); round++) {
                r = decoder_reply_batch(d, prompt_ptrs + (round * n) % (PROMPTS - n + 1), n,
                                        replies);
                for (int i = 0; r >= 0 && i < n; i++)
                        free(replies[i]);
                done += n;
                elapsed = now_s() - start;
        }

        if (r >= 0)
                printf("batch %-3d %8.1f replies/s  (%.3f ms per batch)\n", n, done / elapsed,
                       1e3 * elapsed / (done / n));
        decoder_free(d);
        return r;
}

int main(int argc, char **argv)
{
        const char *layers_env = getenv("PARLEY_BENCH_LAYERS");
        const struct seq2seq_config config = { .vocab_size = VOCAB, .embed_size = EMBED,
                                               .hidden_size = HIDDEN,
                                               .layers = layers_env ? atoi(layers_env) : LAYERS };
        const char *coretype = getenv("OPENBLAS_CORETYPE");
        const char *length_env = getenv("PARLEY_BENCH_REPLY_TOKENS");
        bool reexecuted = getenv(BLAS_REEXEC_MARKER) != NULL;
        int replies = argc > 1 ? atoi(argv[1]) : 200;
        struct seq2seq *m = NULL;
        struct vocab *v = NULL;
        struct decoder_options o;
        int r;

        if (replies < 10) {
                fprintf(stderr, "usage: bench-decode [REPLIES >= 10]\n");
                return 2;
        }

        /* one OpenBLAS thread; may run the program again with
         * OPENBLAS_CORETYPE set (blas.h) */
        blas_setup(1);

        r = seq2seq_new(&config, &m);
        if (r >= 0)
                r = vocab_make(&v);
        if (r < 0) {
                fprintf(stderr, "bench-decode: %s\n", strerror(-r));
                return 1;
        }
        seq2seq_init_random(m, 1);
        prompts_make();

        decoder_options_default(&o);
        o.max_length = length_env ? atoi(length_env) : 20;
        o.min_length = o.max_length;    /* random weights: the same length every time */

        printf("model: vocabulary %d, embedding %d, hidden %d, %d layer(s); prompt %d words; "
               "replies of %d tokens\n", VOCAB, EMBED, HIDDEN, config.layers, PROMPT_WORDS,
               o.max_length);
        printf("OpenBLAS: %s kernels, 1 thread; OPENBLAS_CORETYPE %s%s\n", blas_core_name(),
               coretype ? coretype : "unset",
               !coretype ? "" : reexecuted ? " (set by blas_setup()'s re-execution)" :
                                             " (set by the caller)");

        printf("output layer in float:\n");
        r = latency("greedy", m, v, &o, replies);
        if (r >= 0) {
                o.method = DECODER_BEAM;
                o.beam_width = 5;
                r = latency("beam 5", m, v, &o, replies);
        }

        /* as decoder_model_load() sets a model up: parley reply, chat and
         * the daemon decode like this */
        if (r >= 0)
                r = seq2seq_half_enable(m);
        if (r >= 0) {
                printf("weights in packed half precision (seq2seq_half_enable(), as "
                       "decoder_model_load() sets up):\n");
                o.method = DECODER_GREEDY;
                r = latency("greedy", m, v, &o, replies);
        }
        if (r >= 0) {
                o.method = DECODER_BEAM;
                r = latency("beam 5", m, v, &o, replies);
        }

        o.method = DECODER_GREEDY;
        for (int n = 1; r >= 0 && n <= 32; n *= n == 1 ? 8 : 4)
                r = throughput(m, v, &o, n);

        if (r < 0)
                fprintf(stderr, "bench-decode: %s\n", strerror(-r));
        seq2seq_free(m);
        vocab_free(v);
        return r < 0 ? 1 : 0;
}
