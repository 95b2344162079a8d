/* train.c: the training procedure described in train.h. */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "corpus.h"
#include "log.h"
#include "lossplot.h"
#include "macro.h"
#include "optim.h"
#include "random.h"
#include "safetensors.h"
#include "seq2seq.h"
#include "strmap.h"
#include "tokenize.h"
#include "train.h"
#include "vocab.h"

/* Pairs are sorted by length within chunks of this many batches: batches
 * of similar lengths waste little on padding, and the chunks keep the
 * order random at a larger scale. */
#define TRAIN_CHUNK_BATCHES 100
/* Malformed corpus records reported one by one; the rest only counted. */
#define TRAIN_MALFORMED_SHOWN_MAX 20
#define TRAIN_PROGRESS_REDRAW_S 0.2
#define TRAIN_PROGRESS_BAR_WIDTH 24

/* Independent random streams derived from the seed. */
enum {
        STREAM_SPLIT = 1,
        STREAM_INIT = 2,
        STREAM_EPOCH = 3,
        STREAM_DROPOUT = 4,
};

static volatile sig_atomic_t train_stop_signal;

struct example {
        size_t source;          /* offset of the prompt's ids in tokens */
        size_t target;          /* offset of the reply's ids */
        int source_length;
        int target_length;      /* reply tokens, without START and END */
};

struct curve {
        struct lossplot_point *points;
        size_t n, capacity;
};

struct trainer {
        const struct train_options *o;
        char *checkpoint_path;

        /* the corpus: ids are first indexes into intern_keys, then
         * vocabulary ids */
        struct example *examples;
        size_t n_examples, examples_capacity;
        int32_t *tokens;
        size_t n_tokens, tokens_capacity;
        struct strmap *intern;
        const char **intern_keys;
        size_t n_intern, intern_capacity;
        size_t malformed, skipped_long, skipped_empty;
        uint64_t data_hash;

        int *train, *valid;     /* example indexes */
        size_t n_train, n_valid;

        struct vocab *vocab;
        char *vocab_json;
        struct seq2seq *model;
        struct seq2seq_workspace *workspace;
        struct optim *optim;
        char options[512];      /* the options a resumption must share */

        /* one batch, time-major, and the epoch's order */
        int32_t *source, *target_input, *target_output; /* [max_length + 1, B] */
        int *source_lengths, *target_lengths;           /* [B] */
        int *order;             /* [n_train] */
        int *batch_order;       /* [batches per epoch] */
        size_t batches;         /* per epoch */

        /* where training stands; saved in checkpoints */
        int epoch;              /* epochs completed */
        size_t next_batch;      /* batches of the current epoch done */
        long step;              /* optimiser steps taken */
        double lr_scale;
        double best_valid;
        int bad_epochs;
        double epoch_loss_sum;
        long epoch_tokens;
        bool model_saved;
        struct curve train_curve, valid_curve;

        /* progress display */
        double run_start_s, bar_start_s, last_draw_s;
        long run_start_step, run_tokens;
        double interval_loss_sum, bar_loss_sum;
        long interval_tokens, interval_steps, bar_tokens;
};

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void train_options_default(struct train_options *o)
{
        *o = (struct train_options){
                .vocab_size = 10000,
                .min_count = 2,
                .embed_size = 256,
                .hidden_size = 256,
                .layers = 2,
                .max_length = 40,
                .batch_size = 64,
                .optimizer = OPTIM_RMSPROP,
                .learning_rate = 1e-3f,
                .clip = 5.0f,
                .warmup_steps = 100,
                .lr_decay = 0.5f,
                .dropout = 0.2f,
                .valid_fraction = 0.05,
                .seed = 1,
                .epochs = 20,
                .patience = 3,
                .log_every = 100,
        };
}

static int grow(void **p, size_t *capacity, size_t need, size_t size)
{
        size_t n = *capacity ? *capacity : 64;
        void *q;

        if (need <= *capacity)
                return 0;
        while (n < need)
                n *= 2;
        q = realloc(*p, n * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *capacity = n;
        return 0;
}

/* ---- reading the corpus ---------------------------------------------- */

/* Appends text's tokens to t->tokens as intern indexes; *ret_n their
 * count. */
static int tokens_append(struct trainer *t, const char *text, int *ret_n)
{
        char **tokens = NULL;
        size_t n;
        int r;

        r = tokenize(text, &tokens, &n);
        if (r < 0)
                return r;

        if (n > (size_t)t->o->max_length) {
                tokens_free(tokens);
                *ret_n = (int)(n > INT32_MAX ? INT32_MAX : n);
                return 0;
        }

        r = grow((void **)&t->tokens, &t->tokens_capacity, t->n_tokens + n, sizeof(int32_t));
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *key;
                size_t *index;

                r = strmap_add(t->intern, tokens[i], t->n_intern, &key, &index);
                if (r > 0) {
                        r = grow((void **)&t->intern_keys, &t->intern_capacity,
                                 t->n_intern + 1, sizeof(char *));
                        if (r >= 0)
                                t->intern_keys[t->n_intern++] = key;
                }
                if (r >= 0)
                        t->tokens[t->n_tokens + i] = (int32_t)*index;
        }
        tokens_free(tokens);
        if (r < 0)
                return r;

        t->n_tokens += n;
        *ret_n = (int)n;
        return 0;
}

static void corpus_malformed(const char *file, size_t line, const char *what, void *userdata)
{
        struct trainer *t = userdata;

        t->malformed++;
        if (t->malformed <= TRAIN_MALFORMED_SHOWN_MAX)
                log_warning("%s:%zu: %s, skipped", file, line, what);
}

static int corpus_pair(const struct corpus_pair *p, void *userdata)
{
        struct trainer *t = userdata;
        size_t mark = t->n_tokens;
        struct example e = { .source = t->n_tokens };
        int r;

        r = tokens_append(t, p->prompt, &e.source_length);
        if (r >= 0 && e.source_length <= t->o->max_length) {
                e.target = t->n_tokens;
                r = tokens_append(t, p->reply, &e.target_length);
        }
        if (r == -EILSEQ) {
                corpus_malformed(p->file, p->line, "invalid UTF-8", t);
                t->n_tokens = mark;
                return 0;
        }
        if (r < 0)
                return r;

        /* the reply is not read when the prompt is already too long */
        if (e.source_length > t->o->max_length || e.target_length > t->o->max_length) {
                t->skipped_long++;
                t->n_tokens = mark;
                return 0;
        }
        if (e.source_length == 0 || e.target_length == 0) {
                t->skipped_empty++;
                t->n_tokens = mark;
                return 0;
        }

        r = grow((void **)&t->examples, &t->examples_capacity, t->n_examples + 1, sizeof(e));
        if (r < 0)
                return r;
        t->examples[t->n_examples++] = e;
        return 0;
}

static int corpora_read(struct trainer *t)
{
        static const struct corpus_callbacks callbacks = {
                .pair = corpus_pair,
                .malformed = corpus_malformed,
        };
        int r;

        r = strmap_new(&t->intern);
        if (r < 0)
                return r;

        for (int i = 0; i < t->o->n_corpora; i++) {
                const char *path = t->o->corpora[i];

                r = corpus_read(path, CORPUS_AUTO, &callbacks, t);
                if (r == -EINVAL) {
                        log_error("'%s': cannot tell the format from the extension (.tsv, "
                                  ".txt, .jsonl, .json, .yml, .yaml)", path);
                        return r;
                }
                if (r < 0) {
                        log_error("Cannot read '%s': %s", path, strerror(-r));
                        return r;
                }
        }

        if (t->malformed > TRAIN_MALFORMED_SHOWN_MAX)
                log_warning("... and %zu more malformed records, skipped",
                            t->malformed - TRAIN_MALFORMED_SHOWN_MAX);
        if (t->skipped_long > 0)
                log_notice("Skipped %zu pairs with a side longer than %d tokens "
                           "(--max-length)", t->skipped_long, t->o->max_length);
        if (t->skipped_empty > 0)
                log_notice("Skipped %zu pairs with a side of no tokens", t->skipped_empty);

        if (t->n_examples == 0) {
                log_error("No usable prompt/reply pairs in the corpus");
                return -EINVAL;
        }
        return 0;
}

/* A fingerprint of the usable pairs, token by token, so a resumption can
 * tell it is reading the same corpus. */
static int data_hash(struct trainer *t)
{
        XXH3_state_t *state = XXH3_createState();

        if (!state || XXH3_64bits_reset(state) == XXH_ERROR) {
                XXH3_freeState(state);
                return -ENOMEM;
        }

        for (size_t i = 0; i < t->n_examples; i++) {
                const struct example *e = &t->examples[i];

                for (int k = 0; k < e->source_length; k++) {
                        const char *s = t->intern_keys[t->tokens[e->source + k]];

                        XXH3_64bits_update(state, s, strlen(s) + 1);
                }
                XXH3_64bits_update(state, "\t", 1);
                for (int k = 0; k < e->target_length; k++) {
                        const char *s = t->intern_keys[t->tokens[e->target + k]];

                        XXH3_64bits_update(state, s, strlen(s) + 1);
                }
                XXH3_64bits_update(state, "\n", 1);
        }

        t->data_hash = XXH3_64bits_digest(state);
        XXH3_freeState(state);
        return 0;
}

static int qsort_compare_lengths(const void *a, const void *b, void *userdata)
{
        const struct trainer *t = userdata;
        int i = *(const int *)a, j = *(const int *)b;
        const struct example *x = &t->examples[i], *y = &t->examples[j];

        if (x->source_length != y->source_length)
                return x->source_length - y->source_length;
        if (x->target_length != y->target_length)
                return x->target_length - y->target_length;
        return i - j;
}

static int int_compare(const void *a, const void *b)
{
        int x = *(const int *)a, y = *(const int *)b;

        return (x > y) - (x < y);
}

/* Validation: a seeded shuffle, the first valid_fraction of it, sorted by
 * length so evaluation batches are tight. */
static int data_split(struct trainer *t)
{
        size_t n = t->n_examples, n_valid = (size_t)((double)n * t->o->valid_fraction);
        _cleanup_free_ int *all = calloc(n, sizeof(int));
        struct random r;

        if (!all)
                return -ENOMEM;

        if (t->o->valid_fraction > 0 && n_valid == 0 && n >= 2)
                n_valid = 1;
        if (n_valid >= n) {
                log_error("--valid-fraction %g leaves no pairs to train on",
                          t->o->valid_fraction);
                return -EINVAL;
        }

        for (size_t i = 0; i < n; i++)
                all[i] = (int)i;
        random_init(&r, random_hash(t->o->seed, STREAM_SPLIT));
        random_shuffle(&r, all, (int)n);

        t->n_valid = n_valid;
        t->n_train = n - n_valid;
        t->valid = calloc(n_valid ? n_valid : 1, sizeof(int));
        t->train = calloc(t->n_train, sizeof(int));
        if (!t->valid || !t->train)
                return -ENOMEM;
        memcpy(t->valid, all, n_valid * sizeof(int));
        memcpy(t->train, all + n_valid, t->n_train * sizeof(int));

        /* the training pairs in corpus order, so each epoch's order is its
         * own shuffle of the same list */
        qsort(t->train, t->n_train, sizeof(int), int_compare);
        qsort_r(t->valid, t->n_valid, sizeof(int), qsort_compare_lengths, t);
        return 0;
}

static int vocab_build(struct trainer *t)
{
        struct vocab_builder *b = NULL;
        _cleanup_free_ const char **keys = NULL;
        int r;

        r = vocab_builder_new(&b);
        if (r < 0)
                return r;

        keys = calloc(2 * (size_t)t->o->max_length + 1, sizeof(char *));
        if (!keys) {
                vocab_builder_free(b);
                return -ENOMEM;
        }

        for (size_t i = 0; r >= 0 && i < t->n_train; i++) {
                const struct example *e = &t->examples[t->train[i]];
                size_t n = 0;

                for (int k = 0; k < e->source_length; k++)
                        keys[n++] = t->intern_keys[t->tokens[e->source + k]];
                for (int k = 0; k < e->target_length; k++)
                        keys[n++] = t->intern_keys[t->tokens[e->target + k]];
                r = vocab_builder_add(b, keys, n);
        }
        if (r >= 0)
                r = vocab_builder_finish(b, (size_t)t->o->vocab_size, (size_t)t->o->min_count,
                                         &t->vocab);
        vocab_builder_free(b);
        return r;
}

/* Intern indexes to vocabulary ids, in place. */
static int tokens_to_ids(struct trainer *t)
{
        _cleanup_free_ int32_t *map = calloc(t->n_intern ? t->n_intern : 1, sizeof(int32_t));

        if (!map)
                return -ENOMEM;

        for (size_t i = 0; i < t->n_intern; i++)
                map[i] = vocab_id(t->vocab, t->intern_keys[i]);
        for (size_t i = 0; i < t->n_tokens; i++)
                t->tokens[i] = map[t->tokens[i]];
        return 0;
}

/* ---- batches ---------------------------------------------------------- */

static void epoch_order(struct trainer *t, int epoch)
{
        size_t B = (size_t)t->o->batch_size, chunk = B * TRAIN_CHUNK_BATCHES;
        struct random r;

        random_init(&r, random_hash(random_hash(t->o->seed, STREAM_EPOCH), (uint64_t)epoch));

        memcpy(t->order, t->train, t->n_train * sizeof(int));
        random_shuffle(&r, t->order, (int)t->n_train);
        for (size_t start = 0; start < t->n_train; start += chunk) {
                size_t n = t->n_train - start < chunk ? t->n_train - start : chunk;

                qsort_r(t->order + start, n, sizeof(int), qsort_compare_lengths, t);
        }

        for (size_t i = 0; i < t->batches; i++)
                t->batch_order[i] = (int)i;
        random_shuffle(&r, t->batch_order, (int)t->batches);
}

/* The examples indexes[0 .. n) as a padded time-major batch; *ret_tokens
 * the real source and target tokens in it. */
static void batch_make(struct trainer *t, const int *indexes, size_t n,
                       struct seq2seq_batch *batch, long *ret_tokens)
{
        int Ts = 0, Td = 0, B = (int)n;
        long tokens = 0;

        for (size_t b = 0; b < n; b++) {
                const struct example *e = &t->examples[indexes[b]];

                Ts = e->source_length > Ts ? e->source_length : Ts;
                Td = e->target_length + 1 > Td ? e->target_length + 1 : Td;
        }

        memset(t->source, 0, sizeof(int32_t) * Ts * B);
        memset(t->target_input, 0, sizeof(int32_t) * Td * B);
        memset(t->target_output, 0, sizeof(int32_t) * Td * B);

        for (int b = 0; b < B; b++) {
                const struct example *e = &t->examples[indexes[b]];
                const int32_t *src = t->tokens + e->source, *tgt = t->tokens + e->target;

                for (int k = 0; k < e->source_length; k++)
                        t->source[k * B + b] = src[k];

                /* in: START y1 .. yn, out: y1 .. yn END */
                t->target_input[b] = TOKEN_START;
                for (int k = 0; k < e->target_length; k++) {
                        t->target_input[(k + 1) * B + b] = tgt[k];
                        t->target_output[k * B + b] = tgt[k];
                }
                t->target_output[e->target_length * B + b] = TOKEN_END;

                t->source_lengths[b] = e->source_length;
                t->target_lengths[b] = e->target_length + 1;
                tokens += e->source_length + e->target_length + 1;
        }

        *batch = (struct seq2seq_batch){
                .size = B,
                .source_steps = Ts,
                .target_steps = Td,
                .source = t->source,
                .source_lengths = t->source_lengths,
                .target_input = t->target_input,
                .target_output = t->target_output,
                .target_lengths = t->target_lengths,
        };
        *ret_tokens = tokens;
}

/* Mean loss per target token over the validation set. */
static int validate(struct trainer *t, double *ret)
{
        size_t B = (size_t)t->o->batch_size;
        double sum = 0.0;
        long tokens = 0;

        for (size_t start = 0; start < t->n_valid; start += B) {
                size_t n = t->n_valid - start < B ? t->n_valid - start : B;
                struct seq2seq_batch batch;
                struct seq2seq_loss loss;
                long all;
                int r;

                batch_make(t, t->valid + start, n, &batch, &all);
                r = seq2seq_forward(t->model, t->workspace, &batch, 0.0f, 0, &loss);
                if (r < 0)
                        return r;
                sum += loss.sum;
                tokens += loss.tokens;
        }

        *ret = tokens > 0 ? sum / tokens : NAN;
        return 0;
}

/* ---- files ------------------------------------------------------------ */

static void options_describe(struct trainer *t)
{
        const struct train_options *o = t->o;

        snprintf(t->options, sizeof(t->options),
                 "vocab_size=%d min_count=%d embed_size=%d hidden_size=%d layers=%d "
                 "max_length=%d batch_size=%d optimizer=%s lr=%.9g clip=%.9g warmup=%d "
                 "lr_decay=%.9g dropout=%.9g valid_fraction=%.17g seed=%" PRIu64,
                 o->vocab_size, o->min_count, o->embed_size, o->hidden_size, o->layers,
                 o->max_length, o->batch_size, optim_kind_to_string(o->optimizer),
                 o->learning_rate, o->clip, o->warmup_steps, o->lr_decay, o->dropout,
                 o->valid_fraction, o->seed);
}

static int model_save(struct trainer *t, double train_loss, double valid_loss)
{
        char epoch[16], train[32], valid[32], pairs[32], length[16];
        const struct safetensors_pair extra[] = {
                { "trainer", "parley " PACKAGE_VERSION },
                { "epochs_trained", epoch },
                { "train_loss", train },
                { "valid_loss", valid },
                { "max_length", length },
                { "train_pairs", pairs },
                { "training_options", t->options },
        };
        int r;

        snprintf(epoch, sizeof(epoch), "%d", t->epoch);
        snprintf(train, sizeof(train), "%.6f", train_loss);
        snprintf(valid, sizeof(valid), "%.6f", valid_loss);
        snprintf(pairs, sizeof(pairs), "%zu", t->n_train);
        snprintf(length, sizeof(length), "%d", t->o->max_length);

        r = seq2seq_save(t->model, t->o->output, t->vocab_json, extra, ELEMENTSOF(extra));
        if (r < 0)
                log_error("Cannot write the model to '%s': %s", t->o->output, strerror(-r));
        else
                t->model_saved = true;
        return r;
}

static json_object *curve_to_json(const struct curve *c)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < c->n; i++) {
                json_object *p = json_object_new_array();

                json_object_array_add(p, json_object_new_double(c->points[i].x));
                json_object_array_add(p, json_object_new_double(c->points[i].y));
                json_object_array_add(a, p);
        }
        return a;
}

static int curve_add(struct curve *c, double x, double y)
{
        int r = grow((void **)&c->points, &c->capacity, c->n + 1, sizeof(*c->points));

        if (r < 0)
                return r;
        c->points[c->n++] = (struct lossplot_point){ x, y };
        return 0;
}

static int curve_from_json(json_object *a, struct curve *c)
{
        if (!a || !json_object_is_type(a, json_type_array))
                return -EBADMSG;

        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *p = json_object_array_get_idx(a, i);

                if (!json_object_is_type(p, json_type_array) ||
                    json_object_array_length(p) != 2)
                        return -EBADMSG;
                if (curve_add(c, json_object_get_double(json_object_array_get_idx(p, 0)),
                              json_object_get_double(json_object_array_get_idx(p, 1))) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int checkpoint_save(struct trainer *t)
{
        const struct seq2seq_config *c = &t->model->config;
        int n = seq2seq_tensor_count(c), blocks = 1 + t->optim->state_count;
        _cleanup_free_ struct safetensors_tensor *tensors = NULL;
        struct seq2seq_metadata_storage storage;
        struct safetensors_pair meta[SEQ2SEQ_METADATA_COUNT + 16];
        char numbers[10][32];
        json_object *history;
        size_t m = SEQ2SEQ_METADATA_COUNT;
        int r;

        tensors = calloc((size_t)n * blocks, sizeof(*tensors));
        history = json_object_new_object();
        if (!tensors || !history) {
                json_object_put(history);
                return -ENOMEM;
        }

        seq2seq_block_describe(c, t->model->parameters, "", tensors);
        for (int s = 0; s < t->optim->state_count; s++) {
                char prefix[64];

                snprintf(prefix, sizeof(prefix), "optimizer.%s.", t->optim->state_name[s]);
                seq2seq_block_describe(c, t->optim->state[s], prefix, tensors + (s + 1) * n);
        }

        json_object_object_add(history, "train", curve_to_json(&t->train_curve));
        json_object_object_add(history, "valid", curve_to_json(&t->valid_curve));

        seq2seq_metadata_describe(t->model, t->vocab_json, &storage, meta);
        snprintf(numbers[0], 32, "%d", t->epoch);
        snprintf(numbers[1], 32, "%zu", t->next_batch);
        snprintf(numbers[2], 32, "%ld", t->step);
        snprintf(numbers[3], 32, "%ld", t->optim->steps);
        snprintf(numbers[4], 32, "%.17g", t->lr_scale);
        snprintf(numbers[5], 32, "%.17g", t->best_valid);
        snprintf(numbers[6], 32, "%d", t->bad_epochs);
        snprintf(numbers[7], 32, "%.17g", t->epoch_loss_sum);
        snprintf(numbers[8], 32, "%ld", t->epoch_tokens);
        snprintf(numbers[9], 32, "%016" PRIx64, t->data_hash);
        meta[m++] = (struct safetensors_pair){ "checkpoint_format", TRAIN_CHECKPOINT_FORMAT };
        meta[m++] = (struct safetensors_pair){ "checkpoint_version", TRAIN_CHECKPOINT_VERSION };
        meta[m++] = (struct safetensors_pair){ "training_options", t->options };
        meta[m++] = (struct safetensors_pair){ "data_hash", numbers[9] };
        meta[m++] = (struct safetensors_pair){ "epoch", numbers[0] };
        meta[m++] = (struct safetensors_pair){ "next_batch", numbers[1] };
        meta[m++] = (struct safetensors_pair){ "step", numbers[2] };
        meta[m++] = (struct safetensors_pair){ "optimizer_steps", numbers[3] };
        meta[m++] = (struct safetensors_pair){ "lr_scale", numbers[4] };
        meta[m++] = (struct safetensors_pair){ "best_valid_loss", numbers[5] };
        meta[m++] = (struct safetensors_pair){ "bad_epochs", numbers[6] };
        meta[m++] = (struct safetensors_pair){ "epoch_loss_sum", numbers[7] };
        meta[m++] = (struct safetensors_pair){ "epoch_tokens", numbers[8] };
        meta[m++] = (struct safetensors_pair){ "model_saved", t->model_saved ? "1" : "0" };
        meta[m++] = (struct safetensors_pair){
                "history", json_object_to_json_string_ext(history, JSON_C_TO_STRING_PLAIN)
        };

        r = safetensors_write(t->checkpoint_path, tensors, (size_t)n * blocks, meta, m);
        json_object_put(history);
        if (r < 0)
                log_error("Cannot write the checkpoint '%s': %s", t->checkpoint_path,
                          strerror(-r));
        return r;
}

/* A number from the checkpoint's metadata. */
static int meta_number(const struct safetensors *st, const char *key, double *ret)
{
        const char *s = safetensors_metadata_get(st, key);
        char *end;

        if (!s) {
                log_error("%s: checkpoint metadata '%s' is missing", safetensors_path(st), key);
                return -EBADMSG;
        }

        errno = 0;
        *ret = strtod(s, &end);
        if (errno == ERANGE || end == s || *end) {
                log_error("%s: checkpoint metadata '%s' is not a number: \"%.32s\"",
                          safetensors_path(st), key, s);
                return -EBADMSG;
        }
        return 0;
}

static int meta_count(const struct safetensors *st, const char *key, double max, long *ret)
{
        double v;
        int r = meta_number(st, key, &v);

        if (r < 0)
                return r;
        if (!(v >= 0 && v <= max && v == floor(v))) {
                log_error("%s: checkpoint metadata '%s' is out of range",
                          safetensors_path(st), key);
                return -EBADMSG;
        }
        *ret = (long)v;
        return 0;
}

/* Opens the checkpoint and checks it belongs to this run: format, the
 * options, the corpus.  Sets the vocabulary from it. */
static int checkpoint_open(struct trainer *t, struct safetensors **ret)
{
        char error[SAFETENSORS_ERROR_MAX], hash[32];
        struct safetensors *st = NULL;
        const char *s;
        int r;

        r = safetensors_open(t->checkpoint_path, &st, error, sizeof(error));
        if (r == -ENOENT) {
                log_error("No checkpoint '%s' to resume from", t->checkpoint_path);
                return r;
        }
        if (r < 0) {
                log_error("%s", error);
                return r;
        }

        r = -EBADMSG;
        s = safetensors_metadata_get(st, "checkpoint_format");
        if (!s || strcmp(s, TRAIN_CHECKPOINT_FORMAT) != 0) {
                log_error("%s: not a parley training checkpoint", t->checkpoint_path);
                goto fail;
        }
        s = safetensors_metadata_get(st, "checkpoint_version");
        if (!s || strcmp(s, TRAIN_CHECKPOINT_VERSION) != 0) {
                log_error("%s: checkpoint version %s is not the supported version "
                          TRAIN_CHECKPOINT_VERSION, t->checkpoint_path, s ? s : "(missing)");
                goto fail;
        }

        s = safetensors_metadata_get(st, "training_options");
        if (!s || strcmp(s, t->options) != 0) {
                log_error("%s: the checkpoint was trained with other options; resume with "
                          "the same ones.\n  checkpoint: %s\n  now:        %s",
                          t->checkpoint_path, s ? s : "(missing)", t->options);
                goto fail;
        }

        snprintf(hash, sizeof(hash), "%016" PRIx64, t->data_hash);
        s = safetensors_metadata_get(st, "data_hash");
        if (!s || strcmp(s, hash) != 0) {
                log_error("%s: the checkpoint was trained on a different corpus",
                          t->checkpoint_path);
                goto fail;
        }

        s = safetensors_metadata_get(st, "vocabulary");
        if (!s || vocab_from_json(s, &t->vocab) < 0) {
                log_error("%s: the checkpoint's vocabulary is missing or invalid",
                          t->checkpoint_path);
                goto fail;
        }

        *ret = st;
        return 0;
fail:
        safetensors_free(st);
        return r;
}

/* Parameters, optimiser state and progress from the checkpoint. */
static int checkpoint_restore(struct trainer *t, const struct safetensors *st)
{
        char error[SAFETENSORS_ERROR_MAX];
        const struct seq2seq_config *c = &t->model->config;
        struct seq2seq_config stored;
        const char *history;
        json_object *h = NULL, *train = NULL, *valid = NULL;
        long epoch, next_batch, step, optimizer_steps, bad_epochs, epoch_tokens;
        int r;

        r = seq2seq_config_read(st, &stored, error, sizeof(error));
        if (r < 0) {
                log_error("%s", error);
                return r;
        }
        if (memcmp(&stored, c, sizeof(stored)) != 0) {
                log_error("%s: the checkpoint's model sizes do not match",
                          t->checkpoint_path);
                return -EBADMSG;
        }

        r = seq2seq_block_read(st, c, "", t->model->parameters, error, sizeof(error));
        for (int s = 0; r >= 0 && s < t->optim->state_count; s++) {
                char prefix[64];

                snprintf(prefix, sizeof(prefix), "optimizer.%s.", t->optim->state_name[s]);
                r = seq2seq_block_read(st, c, prefix, t->optim->state[s], error, sizeof(error));
        }
        if (r < 0) {
                log_error("%s", error);
                return r;
        }

        if ((r = meta_count(st, "epoch", INT32_MAX, &epoch)) < 0 ||
            (r = meta_count(st, "next_batch", (double)t->batches, &next_batch)) < 0 ||
            (r = meta_count(st, "step", 1e15, &step)) < 0 ||
            (r = meta_count(st, "optimizer_steps", 1e15, &optimizer_steps)) < 0 ||
            (r = meta_count(st, "bad_epochs", INT32_MAX, &bad_epochs)) < 0 ||
            (r = meta_count(st, "epoch_tokens", 1e15, &epoch_tokens)) < 0 ||
            (r = meta_number(st, "lr_scale", &t->lr_scale)) < 0 ||
            (r = meta_number(st, "best_valid_loss", &t->best_valid)) < 0 ||
            (r = meta_number(st, "epoch_loss_sum", &t->epoch_loss_sum)) < 0)
                return r;

        t->epoch = (int)epoch;
        t->next_batch = (size_t)next_batch;
        t->step = step;
        t->optim->steps = optimizer_steps;
        t->bad_epochs = (int)bad_epochs;
        t->epoch_tokens = epoch_tokens;
        t->model_saved = safetensors_metadata_get(st, "model_saved") &&
                         strcmp(safetensors_metadata_get(st, "model_saved"), "1") == 0;

        history = safetensors_metadata_get(st, "history");
        h = history ? json_tokener_parse(history) : NULL;
        if (!h || !json_object_object_get_ex(h, "train", &train) ||
            !json_object_object_get_ex(h, "valid", &valid) ||
            curve_from_json(train, &t->train_curve) < 0 ||
            curve_from_json(valid, &t->valid_curve) < 0) {
                log_error("%s: checkpoint metadata 'history' is not valid",
                          t->checkpoint_path);
                json_object_put(h);
                return -EBADMSG;
        }
        json_object_put(h);
        return 0;
}

static void plot_write(struct trainer *t)
{
        const struct lossplot_series series[] = {
                { "training loss", "#1f77b4", t->train_curve.points, t->train_curve.n, false },
                { "validation loss", "#d62728", t->valid_curve.points, t->valid_curve.n, true },
        };
        int r;

        if (!t->o->plot || t->train_curve.n + t->valid_curve.n == 0)
                return;

        r = lossplot_write(t->o->plot, "parley train: loss per target token", "step",
                           "cross-entropy (nats)", series, ELEMENTSOF(series));
        if (r < 0)
                log_warning("Cannot write the plot '%s': %s, continuing", t->o->plot,
                            strerror(-r));
}

/* ---- progress --------------------------------------------------------- */

static void duration_format(char *buf, size_t size, double s)
{
        long v = (long)(s + 0.5);

        if (v >= 3600)
                snprintf(buf, size, "%ldh%02ldm", v / 3600, v / 60 % 60);
        else if (v >= 60)
                snprintf(buf, size, "%ldm%02lds", v / 60, v % 60);
        else
                snprintf(buf, size, "%lds", v);
}

/* Called after every step: the loss curve gets a point every log_every
 * steps; on a terminal one line is redrawn, otherwise a log line is written
 * with each point. */
static void progress_step(struct trainer *t, size_t batch, double loss_sum, long loss_tokens,
                          long tokens, float lr)
{
        const struct train_options *o = t->o;
        double now = now_s(), elapsed = now - t->run_start_s, rate;
        bool point = false;

        t->run_tokens += tokens;
        rate = elapsed > 0 ? t->run_tokens / elapsed : 0.0;
        t->interval_loss_sum += loss_sum;
        t->interval_tokens += loss_tokens;
        t->interval_steps++;
        t->bar_loss_sum += loss_sum;
        t->bar_tokens += loss_tokens;

        if (t->interval_steps >= o->log_every || batch + 1 == t->batches) {
                double loss = t->interval_loss_sum / t->interval_tokens;

                point = true;
                if (curve_add(&t->train_curve, (double)t->step, loss) < 0)
                        log_warning("Out of memory for the loss curve");
                if (!o->progress_bar)
                        log_info("epoch %d/%d, batch %zu/%zu: loss %.4f, learning rate %.3g, "
                                 "%.0f tokens/s", t->epoch + 1, o->epochs, batch + 1,
                                 t->batches, loss, lr, rate);
                t->interval_loss_sum = 0;
                t->interval_tokens = 0;
                t->interval_steps = 0;
        }

        if (o->progress_bar && (point || now - t->last_draw_s >= TRAIN_PROGRESS_REDRAW_S)) {
                long done = t->step - t->run_start_step;
                long left = (long)((o->epochs - t->epoch - 1) * t->batches + t->batches -
                                   batch - 1);
                char eta[32], bar[TRAIN_PROGRESS_BAR_WIDTH + 1];
                int filled = (int)((batch + 1) * TRAIN_PROGRESS_BAR_WIDTH / t->batches);

                memset(bar, '#', filled);
                memset(bar + filled, '.', TRAIN_PROGRESS_BAR_WIDTH - filled);
                bar[TRAIN_PROGRESS_BAR_WIDTH] = '\0';
                duration_format(eta, sizeof(eta), done > 0 ? elapsed / done * left : 0.0);
                fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %zu/%zu loss %.4f %.0f tok/s ETA %s",
                        t->epoch + 1, o->epochs, bar, batch + 1, t->batches,
                        t->bar_loss_sum / t->bar_tokens, rate, eta);
                fflush(stderr);
                t->last_draw_s = now;

                /* the bar shows the loss of about the last second */
                if (now - t->bar_start_s >= 1.0) {
                        t->bar_loss_sum = 0;
                        t->bar_tokens = 0;
                        t->bar_start_s = now;
                }
        }
}

static void progress_clear(struct trainer *t)
{
        if (t->o->progress_bar) {
                fprintf(stderr, "\r\033[K");
                fflush(stderr);
        }
}

/* ---- the loop --------------------------------------------------------- */

static void on_stop_signal(int sig)
{
        train_stop_signal = sig;
}

static float learning_rate(const struct trainer *t)
{
        double lr = t->o->learning_rate * t->lr_scale;

        if (t->o->warmup_steps > 0 && t->step < t->o->warmup_steps)
                lr *= (double)(t->step + 1) / t->o->warmup_steps;
        return (float)lr;
}

static int train_step(struct trainer *t, size_t batch_index)
{
        size_t B = (size_t)t->o->batch_size;
        size_t first = (size_t)t->batch_order[batch_index] * B;
        size_t n = t->n_train - first < B ? t->n_train - first : B;
        struct seq2seq_batch batch;
        struct seq2seq_loss loss;
        float lr = learning_rate(t);
        long tokens;
        int r;

        batch_make(t, t->order + first, n, &batch, &tokens);

        seq2seq_gradients_zero(t->model);
        r = seq2seq_forward(t->model, t->workspace, &batch, t->o->dropout,
                            random_hash(random_hash(t->o->seed, STREAM_DROPOUT),
                                        (uint64_t)t->step), &loss);
        if (r >= 0)
                r = seq2seq_backward(t->model, t->workspace, &batch);
        if (r < 0) {
                log_error("Training step failed: %s", strerror(-r));
                return r;
        }

        if (!isfinite(loss.sum)) {
                log_error("The loss diverged (%g) at step %ld; try a lower --lr or --clip",
                          loss.sum, t->step + 1);
                return -ERANGE;
        }

        if (t->o->clip > 0)
                optim_clip_grad_norm(t->model->gradients, t->model->parameter_count, t->o->clip);
        optim_step(t->optim, t->model->parameters, t->model->gradients, lr);

        t->step++;
        t->epoch_loss_sum += loss.sum;
        t->epoch_tokens += loss.tokens;
        progress_step(t, batch_index, loss.sum, loss.tokens, tokens, lr);
        return 0;
}

/* After a whole epoch: validation, the best model, the learning rate,
 * patience.  *ret_stop when patience ran out. */
static int epoch_finish(struct trainer *t, double started_s, bool *ret_stop)
{
        const struct train_options *o = t->o;
        double train_loss = t->epoch_loss_sum / (t->epoch_tokens ? t->epoch_tokens : 1);
        double valid_loss = NAN;
        char took[32], note[96];
        bool improved;
        int r;

        r = validate(t, &valid_loss);
        if (r < 0) {
                log_error("Validation failed: %s", strerror(-r));
                return r;
        }

        t->epoch++;
        improved = t->n_valid == 0 || valid_loss < t->best_valid;
        if (improved) {
                if (t->n_valid > 0)
                        t->best_valid = valid_loss;
                t->bad_epochs = 0;
                snprintf(note, sizeof(note), "%s", t->n_valid ? " (best so far, saved)" : "");
                r = model_save(t, train_loss, valid_loss);
                if (r < 0)
                        return r;
        } else {
                t->bad_epochs++;
                t->lr_scale *= o->lr_decay;
                if (o->patience > 0)
                        snprintf(note, sizeof(note),
                                 " (no improvement %d/%d, learning rate now %.3g)",
                                 t->bad_epochs, o->patience, o->learning_rate * t->lr_scale);
                else
                        snprintf(note, sizeof(note), " (no improvement, learning rate now %.3g)",
                                 o->learning_rate * t->lr_scale);
        }

        if (t->n_valid > 0 && curve_add(&t->valid_curve, (double)t->step, valid_loss) < 0)
                log_warning("Out of memory for the loss curve");

        duration_format(took, sizeof(took), now_s() - started_s);
        progress_clear(t);
        if (t->n_valid > 0)
                log_info("epoch %d/%d: train loss %.4f, valid loss %.4f%s, %s", t->epoch,
                         o->epochs, train_loss, valid_loss, note, took);
        else
                log_info("epoch %d/%d: train loss %.4f (saved), %s", t->epoch, o->epochs,
                         train_loss, took);

        t->next_batch = 0;
        t->epoch_loss_sum = 0.0;
        t->epoch_tokens = 0;

        r = checkpoint_save(t);
        if (r < 0)
                return r;
        plot_write(t);

        *ret_stop = o->patience > 0 && t->bad_epochs >= o->patience;
        if (*ret_stop)
                log_info("Stopping early: the validation loss has not improved for %d epochs",
                         t->bad_epochs);
        return 0;
}

static bool stop_requested(const struct trainer *t, const char **ret_why)
{
        if (train_stop_signal) {
                *ret_why = train_stop_signal == SIGINT ? "interrupted" : "terminated";
                return true;
        }
        if (t->o->time_limit_minutes > 0 &&
            now_s() - t->run_start_s >= t->o->time_limit_minutes * 60.0) {
                *ret_why = "time limit reached";
                return true;
        }
        return false;
}

static int train_loop(struct trainer *t)
{
        const struct train_options *o = t->o;
        const char *why = NULL;
        int r;

        t->run_start_s = t->bar_start_s = now_s();
        t->run_start_step = t->step;

        if (o->patience > 0 && t->bad_epochs >= o->patience) {
                log_info("The checkpoint had already stopped early (no improvement for %d "
                         "epochs); nothing to do", t->bad_epochs);
                return 0;
        }
        if (t->epoch >= o->epochs) {
                log_info("The checkpoint has already trained %d epochs; nothing to do "
                         "(raise --epochs to go on)", t->epoch);
                return 0;
        }

        while (t->epoch < o->epochs) {
                double started = now_s();
                bool stop = false;

                epoch_order(t, t->epoch);
                for (size_t b = t->next_batch; b < t->batches; b++) {
                        r = train_step(t, b);
                        if (r < 0)
                                return r;
                        t->next_batch = b + 1;
                        if (b + 1 < t->batches && stop_requested(t, &why))
                                break;
                }

                if (t->next_batch < t->batches) {
                        /* stopped inside the epoch: keep where we are; the
                         * model file is written now only if there is none
                         * yet from this training */
                        progress_clear(t);
                        if (!t->model_saved) {
                                r = model_save(t, t->epoch_loss_sum / t->epoch_tokens, NAN);
                                if (r < 0)
                                        return r;
                        }
                        r = checkpoint_save(t);
                        if (r < 0)
                                return r;
                        plot_write(t);
                        log_notice("Stopped (%s) in epoch %d at batch %zu/%zu; checkpoint "
                                   "'%s' saved, continue with --resume", why, t->epoch + 1,
                                   t->next_batch, t->batches, t->checkpoint_path);
                        return 0;
                }

                r = epoch_finish(t, started, &stop);
                if (r < 0)
                        return r;
                if (stop)
                        return 0;
                if (t->epoch < o->epochs && stop_requested(t, &why)) {
                        log_notice("Stopped (%s) after epoch %d; checkpoint '%s' saved, "
                                   "continue with --resume", why, t->epoch, t->checkpoint_path);
                        return 0;
                }
        }

        log_info("Trained %d epochs; the model %s is in '%s'", t->epoch,
                 t->n_valid > 0 ? "with the best validation loss" : "of the last epoch",
                 o->output);
        return 0;
}

/* ---- set-up ----------------------------------------------------------- */

static int options_check(const struct train_options *o)
{
        if (o->n_corpora < 1 || !o->output) {
                log_error("A corpus and an output file are needed");
                return -EINVAL;
        }
        if (o->max_length < 1 || o->max_length > TRAIN_MAX_LENGTH_LIMIT || o->batch_size < 1 ||
            o->epochs < 1 || o->vocab_size < TOKEN_SPECIAL_COUNT + 1 || o->min_count < 1 ||
            !(o->learning_rate > 0) || !(o->dropout >= 0 && o->dropout < 1) ||
            !(o->valid_fraction >= 0 && o->valid_fraction < 1) || !(o->clip >= 0) ||
            !(o->lr_decay > 0 && o->lr_decay <= 1) || o->warmup_steps < 0 ||
            o->patience < 0 || !(o->time_limit_minutes >= 0) || o->log_every < 1) {
                log_error("A training option is out of range (see parley train --help)");
                return -EINVAL;
        }
        return 0;
}

/* The files go where the model goes: find out now rather than after the
 * first epoch. */
static int output_check(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);
        const char *directory;

        if (!copy)
                return -ENOMEM;

        directory = dirname(copy);
        if (access(directory, W_OK) < 0) {
                int r = -errno;

                log_error("Cannot write the model into '%s': %s", directory, strerror(-r));
                return r;
        }
        return 0;
}

static int trainer_setup(struct trainer *t, struct safetensors **ret_checkpoint)
{
        const struct train_options *o = t->o;
        struct seq2seq_config config;
        struct optim_config oc;
        const char *reason;
        size_t steps = (size_t)o->max_length + 1, B = (size_t)o->batch_size;
        int r;

        r = output_check(o->output);
        if (r < 0)
                return r;

        r = corpora_read(t);
        if (r < 0)
                return r;

        r = data_hash(t);
        if (r >= 0)
                r = data_split(t);
        if (r < 0)
                return r;

        options_describe(t);
        if (o->resume) {
                r = checkpoint_open(t, ret_checkpoint);
                if (r < 0)
                        return r;
        } else {
                r = vocab_build(t);
                if (r < 0) {
                        log_error("Cannot build the vocabulary: %s", strerror(-r));
                        return r;
                }
        }

        r = vocab_to_json(t->vocab, &t->vocab_json);
        if (r >= 0)
                r = tokens_to_ids(t);
        if (r < 0)
                return r;

        config = (struct seq2seq_config){
                .vocab_size = (int)vocab_size(t->vocab),
                .embed_size = o->embed_size,
                .hidden_size = o->hidden_size,
                .layers = o->layers,
        };
        if (seq2seq_config_check(&config, &reason) < 0) {
                log_error("Cannot build the model: %s", reason);
                return -EINVAL;
        }

        r = seq2seq_new(&config, &t->model);
        if (r >= 0)
                r = seq2seq_gradients_enable(t->model);
        if (r >= 0)
                r = seq2seq_workspace_new(t->model, o->batch_size, o->max_length,
                                          o->max_length + 1, &t->workspace);
        if (r < 0)
                return r;
        seq2seq_init_random(t->model, random_hash(o->seed, STREAM_INIT));

        optim_config_default(o->optimizer, &oc);
        r = optim_new(&oc, t->model->parameter_count, &t->optim);
        if (r < 0)
                return r;

        t->batches = (t->n_train + B - 1) / B;
        t->source = calloc(steps * B, sizeof(int32_t));
        t->target_input = calloc(steps * B, sizeof(int32_t));
        t->target_output = calloc(steps * B, sizeof(int32_t));
        t->source_lengths = calloc(B, sizeof(int));
        t->target_lengths = calloc(B, sizeof(int));
        t->order = calloc(t->n_train, sizeof(int));
        t->batch_order = calloc(t->batches, sizeof(int));
        if (!t->source || !t->target_input || !t->target_output || !t->source_lengths ||
            !t->target_lengths || !t->order || !t->batch_order)
                return -ENOMEM;

        t->lr_scale = 1.0;
        t->best_valid = INFINITY;
        return 0;
}

static void trainer_done(struct trainer *t)
{
        free(t->checkpoint_path);
        free(t->examples);
        free(t->tokens);
        strmap_free(t->intern);
        free(t->intern_keys);
        free(t->train);
        free(t->valid);
        vocab_free(t->vocab);
        free(t->vocab_json);
        seq2seq_workspace_free(t->workspace);
        seq2seq_free(t->model);
        optim_free(t->optim);
        free(t->source);
        free(t->target_input);
        free(t->target_output);
        free(t->source_lengths);
        free(t->target_lengths);
        free(t->order);
        free(t->batch_order);
        free(t->train_curve.points);
        free(t->valid_curve.points);
}

int train_run(const struct train_options *o)
{
        struct trainer t = { .o = o };
        struct safetensors *checkpoint = NULL;
        struct sigaction sa = { .sa_handler = on_stop_signal }, old_int, old_term;
        int r;

        r = options_check(o);
        if (r < 0)
                return r;

        if (o->checkpoint)
                t.checkpoint_path = strdup(o->checkpoint);
        else if (asprintf(&t.checkpoint_path, "%s.ckpt", o->output) < 0)
                t.checkpoint_path = NULL;
        if (!t.checkpoint_path) {
                log_error("Out of memory");
                return -ENOMEM;
        }

        r = trainer_setup(&t, &checkpoint);
        if (r == -ENOMEM)
                log_error("Out of memory setting up training");
        if (r < 0)
                goto out;

        if (checkpoint) {
                r = checkpoint_restore(&t, checkpoint);
                if (r < 0)
                        goto out;
                log_info("Resuming from '%s' at epoch %d, batch %zu/%zu (step %ld)",
                         t.checkpoint_path, t.epoch + 1, t.next_batch, t.batches, t.step);
        }

        log_info("%zu training and %zu validation pairs, %zu malformed records skipped; "
                 "vocabulary %zu tokens", t.n_train, t.n_valid, t.malformed,
                 vocab_size(t.vocab));
        log_info("Model: embedding %d, hidden %d, %d layers, %zu parameters; %s, learning "
                 "rate %g, batch %d, %zu batches per epoch", o->embed_size, o->hidden_size,
                 o->layers, t.model->parameter_count, optim_kind_to_string(o->optimizer),
                 o->learning_rate, o->batch_size, t.batches);
        if (t.n_valid == 0)
                log_notice("No validation set: no early stopping, the model is saved after "
                           "every epoch");

        /* a first SIGINT or SIGTERM stops after the current step, with a
         * checkpoint; a second one acts as usual */
        train_stop_signal = 0;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);

        r = train_loop(&t);

        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
out:
        safetensors_free(checkpoint);
        trainer_done(&t);
        return r;
}
