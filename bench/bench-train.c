/* bench-train.c: training throughput of parley's model at the seed sizes.
 *
 *   bench/bench-train CORPUS.tsv [STEPS] [BATCHES.json]
 *
 * Builds the vocabulary (10,000) from the corpus, takes a seeded sample of
 * its pairs, sorts it by length and cuts it into batches of 64 (as parley
 * train's length buckets do), and times STEPS training steps (forward,
 * backward, clipping, RMSprop) after 3 untimed ones, with the OpenBLAS
 * threads given by PARLEY_BENCH_THREADS (default 2).  Prints tokens/s
 * (real source and target tokens), the time per phase, the sgemm GFLOP/s
 * OpenBLAS reaches at the model's own shapes, and the share of the step's
 * time its matrix products would take at those rates (the rest is
 * elementwise work and products running below their measured rate).
 * BATCHES.json receives the timed batches so bench/train_torch.py can run
 * PyTorch on exactly the same work. */
#include "autoconfig.h"

#include <cblas.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "corpus.h"
#include "log.h"
#include "optim.h"
#include "random.h"
#include "seq2seq.h"
#include "tokenize.h"
#include "vocab.h"

#define VOCAB 10000
#define EMBED 256
#define HIDDEN 256
#define LAYERS 2
#define BATCH 64
#define MAX_LENGTH 40
#define WARMUP_STEPS 3
#define SAMPLE_BATCHES 100

struct pair {
        int32_t *source, *target;
        int source_length, target_length;
};

struct bench {
        struct vocab_builder *builder;
        char **prompts, **replies;
        size_t n, capacity;
};

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

static int on_pair(const struct corpus_pair *p, void *userdata)
{
        struct bench *b = userdata;

        if (b->n == b->capacity) {
                b->capacity = b->capacity ? 2 * b->capacity : 1024;
                b->prompts = realloc(b->prompts, b->capacity * sizeof(char *));
                b->replies = realloc(b->replies, b->capacity * sizeof(char *));
                if (!b->prompts || !b->replies)
                        return -ENOMEM;
        }
        b->prompts[b->n] = strdup(p->prompt);
        b->replies[b->n] = strdup(p->reply);
        b->n++;
        return 0;
}

static int compare_lengths(const void *a, const void *b)
{
        const struct pair *x = a, *y = b;

        if (x->source_length != y->source_length)
                return x->source_length - y->source_length;
        return x->target_length - y->target_length;
}

/* GFLOP/s of C[M, N] = A[M, K] B^T (or B when trans_b is false). */
static double sgemm_rate(int M, int N, int K, bool trans_b)
{
        float *a = calloc((size_t)M * K, sizeof(float)), *b = calloc((size_t)K * N, sizeof(float));
        float *c = calloc((size_t)M * N, sizeof(float));
        double start, flops = 0, elapsed;
        int reps = 0;

        for (size_t i = 0; i < (size_t)M * K; i++)
                a[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)K * N; i++)
                b[i] = (float)(i % 5) * 0.1f;

        cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                    1.0f, a, K, b, trans_b ? K : N, 0.0f, c, N);
        start = now_s();
        do {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M,
                            N, K, 1.0f, a, K, b, trans_b ? K : N, 0.0f, c, N);
                flops += 2.0 * M * N * K;
                reps++;
                elapsed = now_s() - start;
        } while (elapsed < 0.5 || reps < 3);

        free(a);
        free(b);
        free(c);
        return flops / elapsed / 1e9;
}

/* The matrix-product FLOPs of one training step on a batch (forward and
 * backward), as seq2seq.c and lstm.c perform them, by the shape measured
 * for each: [0] the output layer's logits and weight gradient, [1] its
 * input gradient, [2] the LSTM's whole-sequence products (input
 * projection, weight gradients, input gradient), [3] the per-step
 * recurrent products. */
enum { SHAPE_LOGITS, SHAPE_LOGITS_DX, SHAPE_SEQUENCE, SHAPE_STEP, SHAPES };

static void step_flops(const struct seq2seq_batch *batch, double flops[SHAPES])
{
        double B = batch->size, T = batch->source_steps + batch->target_steps;
        double G = 4.0 * HIDDEN, real_targets = 0;

        for (int i = 0; i < batch->size; i++)
                real_targets += batch->target_lengths[i];

        for (int l = 0; l < LAYERS; l++) {
                double in = l == 0 ? EMBED : HIDDEN;

                /* x W_ih^T, dW_ih, dx; dW_hh */
                flops[SHAPE_SEQUENCE] += 3 * 2 * T * B * G * in + 2 * T * B * G * HIDDEN;
                /* h W_hh^T and dh W_hh, each step */
                flops[SHAPE_STEP] += 2 * 2 * T * B * G * HIDDEN;
        }
        /* the output layer runs on the real target positions only */
        flops[SHAPE_LOGITS] += 2 * 2 * real_targets * HIDDEN * VOCAB;
        flops[SHAPE_LOGITS_DX] += 2 * real_targets * HIDDEN * VOCAB;
}

static json_object *rows_json(struct pair *const *rows, int n, bool source)
{
        json_object *a = json_object_new_array();

        for (int i = 0; i < n; i++) {
                json_object *r = json_object_new_array();
                int len = source ? rows[i]->source_length : rows[i]->target_length;
                const int32_t *ids = source ? rows[i]->source : rows[i]->target;

                for (int k = 0; k < len; k++)
                        json_object_array_add(r, json_object_new_int(ids[k]));
                json_object_array_add(a, r);
        }
        return a;
}

int main(int argc, char **argv)
{
        const char *threads_env = getenv("PARLEY_BENCH_THREADS");
        int threads = threads_env ? atoi(threads_env) : 2;
        int steps = argc > 2 ? atoi(argv[2]) : 20;
        static const struct corpus_callbacks callbacks = { .pair = on_pair };
        struct bench b = { 0 };
        struct vocab *v = NULL;
        struct pair *pairs;
        size_t n_pairs = 0, sample = (size_t)SAMPLE_BATCHES * BATCH;
        struct seq2seq_config config = { VOCAB, EMBED, HIDDEN, LAYERS };
        struct seq2seq *m = NULL;
        struct seq2seq_workspace *w = NULL;
        struct optim_config oc;
        struct optim *o = NULL;
        struct random rng;
        int32_t *source, *target_in, *target_out;
        int source_lengths[BATCH], target_lengths[BATCH];
        double t_forward = 0, t_backward = 0, t_update = 0, flops[SHAPES] = { 0 };
        double t_cpu = 0;       /* CPU time of the process over the timed steps */
        long tokens = 0, target_tokens = 0, target_positions = 0;
        json_object *dump = json_object_new_array();
        double rate[SHAPES], ideal = 0, flops_all = 0;

        log_open("bench-train");
        if (argc < 2 || steps < 1) {
                fprintf(stderr, "usage: bench-train CORPUS.tsv [STEPS] [BATCHES.json]\n");
                return 2;
        }
        blas_setup(threads);

        if (corpus_read(argv[1], CORPUS_TSV, &callbacks, &b) < 0) {
                fprintf(stderr, "cannot read %s\n", argv[1]);
                return 1;
        }
        if (vocab_builder_new(&b.builder) < 0)
                return 1;
        for (size_t i = 0; i < b.n; i++)
                for (int side = 0; side < 2; side++) {
                        char **tokens_list;
                        size_t n;

                        if (tokenize(side ? b.replies[i] : b.prompts[i], &tokens_list, &n) < 0)
                                continue;
                        vocab_builder_add(b.builder, (const char *const *)tokens_list, n);
                        tokens_free(tokens_list);
                }
        if (vocab_builder_finish(b.builder, VOCAB, 1, &v) < 0)
                return 1;
        config.vocab_size = (int)vocab_size(v);

        /* a seeded sample of pairs within the length limit */
        pairs = calloc(sample, sizeof(*pairs));
        random_init(&rng, 1);
        while (n_pairs < sample) {
                size_t i = random_below(&rng, b.n);
                struct pair *p = &pairs[n_pairs];
                size_t ns, nt;

                if (vocab_encode(v, b.prompts[i], &p->source, &ns) < 0 ||
                    vocab_encode(v, b.replies[i], &p->target, &nt) < 0)
                        continue;
                if (ns < 1 || nt < 1 || ns > MAX_LENGTH || nt > MAX_LENGTH) {
                        free(p->source);
                        free(p->target);
                        continue;
                }
                p->source_length = (int)ns;
                p->target_length = (int)nt;
                n_pairs++;
        }
        qsort(pairs, n_pairs, sizeof(*pairs), compare_lengths);

        if (seq2seq_new(&config, &m) < 0 || seq2seq_gradients_enable(m) < 0 ||
            seq2seq_workspace_new(m, BATCH, MAX_LENGTH, MAX_LENGTH + 1, &w) < 0)
                return 1;
        seq2seq_init_random(m, 1);
        optim_config_default(OPTIM_RMSPROP, &oc);
        if (optim_new(&oc, m->parameter_count, &o) < 0)
                return 1;

        source = calloc(MAX_LENGTH * BATCH, sizeof(int32_t));
        target_in = calloc((MAX_LENGTH + 1) * BATCH, sizeof(int32_t));
        target_out = calloc((MAX_LENGTH + 1) * BATCH, sizeof(int32_t));

        for (int s = 0; s < WARMUP_STEPS + steps; s++) {
                /* batches spread over the length range, as a shuffled epoch
                 * visits them */
                size_t first = (size_t)((s * 37) % SAMPLE_BATCHES) * BATCH;
                struct pair *rows[BATCH];
                struct seq2seq_batch batch = { .size = BATCH };
                struct seq2seq_loss loss;
                double t0, t1, t2, t3, cpu0;
                bool timed = s >= WARMUP_STEPS;

                for (int i = 0; i < BATCH; i++) {
                        rows[i] = &pairs[first + i];
                        batch.source_steps = rows[i]->source_length > batch.source_steps ?
                                                     rows[i]->source_length : batch.source_steps;
                        batch.target_steps = rows[i]->target_length + 1 > batch.target_steps ?
                                                     rows[i]->target_length + 1 :
                                                     batch.target_steps;
                }
                memset(source, 0, MAX_LENGTH * BATCH * sizeof(int32_t));
                memset(target_in, 0, (MAX_LENGTH + 1) * BATCH * sizeof(int32_t));
                memset(target_out, 0, (MAX_LENGTH + 1) * BATCH * sizeof(int32_t));
                for (int i = 0; i < BATCH; i++) {
                        for (int k = 0; k < rows[i]->source_length; k++)
                                source[k * BATCH + i] = rows[i]->source[k];
                        target_in[i] = TOKEN_START;
                        for (int k = 0; k < rows[i]->target_length; k++) {
                                target_in[(k + 1) * BATCH + i] = rows[i]->target[k];
                                target_out[k * BATCH + i] = rows[i]->target[k];
                        }
                        target_out[rows[i]->target_length * BATCH + i] = TOKEN_END;
                        source_lengths[i] = rows[i]->source_length;
                        target_lengths[i] = rows[i]->target_length + 1;
                }
                batch.source = source;
                batch.source_lengths = source_lengths;
                batch.target_input = target_in;
                batch.target_output = target_out;
                batch.target_lengths = target_lengths;

                t0 = now_s();
                cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
                seq2seq_gradients_zero(m);
                if (seq2seq_forward(m, w, &batch, 0.2f, (uint64_t)s, &loss) < 0)
                        return 1;
                t1 = now_s();
                if (seq2seq_backward(m, w, &batch) < 0)
                        return 1;
                t2 = now_s();
                optim_clip_grad_norm(m->gradients, m->parameter_count, 5.0);
                optim_step(o, m->parameters, m->gradients, 1e-3f);
                t3 = now_s();

                if (!timed)
                        continue;
                t_forward += t1 - t0;
                t_backward += t2 - t1;
                t_update += t3 - t2;
                t_cpu += clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
                step_flops(&batch, flops);
                for (int i = 0; i < BATCH; i++)
                        tokens += source_lengths[i] + target_lengths[i];
                for (int i = 0; i < BATCH; i++)
                        target_tokens += target_lengths[i];
                target_positions += (long)batch.target_steps * BATCH;

                {
                        json_object *jb = json_object_new_object();

                        json_object_object_add(jb, "source", rows_json(rows, BATCH, true));
                        json_object_object_add(jb, "target", rows_json(rows, BATCH, false));
                        json_object_array_add(dump, jb);
                }
        }

        if (argc > 3 &&
            json_object_to_file_ext(argv[3], dump, JSON_C_TO_STRING_PLAIN) < 0) {
                fprintf(stderr, "cannot write %s\n", argv[3]);
                return 1;
        }

        rate[SHAPE_LOGITS] = sgemm_rate(1024, config.vocab_size, HIDDEN, true);
        rate[SHAPE_LOGITS_DX] = sgemm_rate(1024, HIDDEN, config.vocab_size, false);
        rate[SHAPE_SEQUENCE] = sgemm_rate(1024, 4 * HIDDEN, HIDDEN, true);
        rate[SHAPE_STEP] = sgemm_rate(BATCH, 4 * HIDDEN, HIDDEN, true);
        /* the time the step's products would take at those rates */
        for (int k = 0; k < SHAPES; k++) {
                ideal += flops[k] / (rate[k] * 1e9);
                flops_all += flops[k];
        }

        {
                double total = t_forward + t_backward + t_update;

                printf("parley: OpenBLAS core %s, %d threads, OPENBLAS_CORETYPE %s\n",
                       blas_core_name(), threads,
                       getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "unset");
                printf("parley: model V=%d E=%d H=%d L=%d, batch %d, %d timed steps\n",
                       config.vocab_size, EMBED, HIDDEN, LAYERS, BATCH, steps);
                printf("parley: %.0f tokens/s, %.1f ms/step (forward %.1f, backward %.1f, "
                       "clip+update %.1f)\n", tokens / total, total / steps * 1e3,
                       t_forward / steps * 1e3, t_backward / steps * 1e3,
                       t_update / steps * 1e3);
                printf("sgemm GFLOP/s: logits [1024x256]x[256x%d] %.1f, their input gradient "
                       "[1024x%d]x[%dx256] %.1f, LSTM sequence [1024x256]x[256x1024] %.1f, LSTM "
                       "step [64x256]x[256x1024] %.1f\n", config.vocab_size,
                       rate[SHAPE_LOGITS], config.vocab_size, config.vocab_size,
                       rate[SHAPE_LOGITS_DX], rate[SHAPE_SEQUENCE], rate[SHAPE_STEP]);
                printf("parley: %.1f GFLOP/s in matrix products over whole steps; at the rates "
                       "above they would take %.0f%% of the step time (%.1f GFLOP/s)\n",
                       flops_all / total / 1e9, 100.0 * ideal / total,
                       flops_all / ideal / 1e9);
                printf("parley: on CPU %.1f ms/step, all threads (spinning BLAS threads "
                       "included; less sensitive than the wall clock to a shared machine)\n",
                       t_cpu / steps * 1e3);
                printf("parley: target side %.0f%% padding (%ld real tokens in %ld "
                       "positions)\n", 100.0 * (target_positions - target_tokens) /
                       target_positions, target_tokens, target_positions);
                printf("parley_tokens_per_s %.1f\n", tokens / total);
        }

        json_object_put(dump);
        return 0;
}
