/* decode.c: greedy, beam and sampled decoding on struct seq2seq_state.
 *
 * Every search runs the same loop: encode the batch of prompts, then per
 * step one seq2seq_decode_step() over the live rows, a pass over each
 * row's logits that computes the softmax's normaliser and masks what may
 * not be emitted, the search's choice, and a reorder of the state when rows
 * finish (greedy, sample) or hypotheses are extended (beam).  Rows are kept
 * contiguous so a step never computes a finished row. */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "macro.h"
#include "random.h"
#include "tokenize.h"
#include "vecmath.h"

/* A scored token: an extension of a beam row, or a sampling candidate. */
struct candidate {
        double value;
        int row;
        int32_t token;
};

/* A finished beam hypothesis; ids point into the decoder's storage. */
struct hypothesis {
        int32_t *ids;           /* [max_length] */
        int length;
        bool ended;
        double log_prob;
        double score;
};

struct decoder {
        const struct seq2seq *model;
        const struct vocab *vocab;
        struct decoder_options o;
        int max_batch;
        int capacity;           /* state rows: max_batch, times beam_width for beam */
        int vocab_size;         /* V */
        int beam_width;         /* K: 1 unless beam */
        uint64_t prompts_done;  /* numbers the sampling streams */

        struct seq2seq_state *state;
        float *logits;          /* [capacity, V] */
        double *normaliser;     /* [capacity] log of the sum of exp(logits) */
        int32_t *prev;          /* [capacity] the token each row feeds next */
        int *row_prompt;        /* [capacity] the prompt a row belongs to */
        int *rows;              /* [capacity] reorder map */
        const int32_t **prompt_ids;     /* [max_batch] the part of a prompt read */
        int *prompt_lengths;            /* [max_batch] */

        /* greedy and sample: one row per prompt, its reply so far */
        int32_t *reply_ids;             /* [max_batch, max_length] */
        struct random *streams;         /* [max_batch] sample */
        struct candidate *pool;         /* [V] sample: top-k and top-p */

        /* beam */
        int32_t *history;               /* [capacity, max_length] tokens of each row */
        int32_t *history_next;          /* same, being built */
        double *row_log_prob;           /* [capacity] */
        double *next_log_prob;          /* [capacity] */
        int32_t *next_token;            /* [capacity] */
        int *live_begin, *live_count;   /* [max_batch] each prompt's rows */
        bool *done;                     /* [max_batch] */
        struct candidate *heap;         /* [2K] */
        struct hypothesis *finished;    /* [max_batch, K] */
        int32_t *finished_ids;          /* [max_batch, K, max_length] */
        int *finished_count;            /* [max_batch] */
};

/* ---- options ---------------------------------------------------------- */

static const char *const method_names[_DECODER_METHOD_MAX] = {
        [DECODER_GREEDY] = "greedy",
        [DECODER_BEAM] = "beam",
        [DECODER_SAMPLE] = "sample",
};

const char *decoder_method_to_string(enum decoder_method m)
{
        return m >= 0 && m < _DECODER_METHOD_MAX ? method_names[m] : NULL;
}

int decoder_method_from_string(const char *s)
{
        for (int m = 0; m < _DECODER_METHOD_MAX; m++)
                if (strcmp(s, method_names[m]) == 0)
                        return m;
        return -EINVAL;
}

void decoder_options_default(struct decoder_options *o)
{
        *o = (struct decoder_options){
                .method = DECODER_GREEDY,
                .max_length = 40,
                .min_length = 1,
                .no_repeat_ngram = 0,
                .beam_width = 5,
                .length_penalty = 0.6f,
                .temperature = 1.0f,
                .top_k = 0,
                .top_p = 1.0f,
                .seed = 1,
        };
}

enum option_kind {
        OPTION_METHOD,
        OPTION_INT,
        OPTION_FLOAT,
        OPTION_SEED,
};

struct option_spec {
        const char *key;
        enum option_kind kind;
        size_t offset;
        double min, max;
        bool min_open;          /* min itself excluded */
};

static const struct option_spec option_specs[] = {
        { "method", OPTION_METHOD, offsetof(struct decoder_options, method), 0, 0, false },
        { "max_length", OPTION_INT, offsetof(struct decoder_options, max_length), 1,
          DECODER_MAX_LENGTH_LIMIT, false },
        { "min_length", OPTION_INT, offsetof(struct decoder_options, min_length), 0,
          DECODER_MAX_LENGTH_LIMIT, false },
        { "no_repeat_ngram", OPTION_INT, offsetof(struct decoder_options, no_repeat_ngram), 0,
          DECODER_NGRAM_MAX, false },
        { "beam_width", OPTION_INT, offsetof(struct decoder_options, beam_width), 1,
          DECODER_BEAM_WIDTH_MAX, false },
        { "length_penalty", OPTION_FLOAT, offsetof(struct decoder_options, length_penalty), 0,
          10, false },
        { "temperature", OPTION_FLOAT, offsetof(struct decoder_options, temperature), 0, 100,
          false },
        { "top_k", OPTION_INT, offsetof(struct decoder_options, top_k), 0, SEQ2SEQ_VOCAB_MAX,
          false },
        { "top_p", OPTION_FLOAT, offsetof(struct decoder_options, top_p), 0, 1, true },
        { "seed", OPTION_SEED, offsetof(struct decoder_options, seed), 0, 0, false },
};

/* Keys compare with '-' and '_' alike, so a command line's --top-p and a
 * configuration file's top_p name the same option. */
static bool key_equal(const char *a, const char *b)
{
        for (; *a && *b; a++, b++)
                if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
                        return false;
        return *a == *b;
}

static void range_describe(const struct option_spec *s, char *buf, size_t size)
{
        if (s->kind == OPTION_INT)
                snprintf(buf, size, "a whole number from %.0f to %.0f", s->min, s->max);
        else
                snprintf(buf, size, "a number in %c%g, %g]", s->min_open ? '(' : '[', s->min,
                         s->max);
}

static bool in_range(const struct option_spec *s, double v)
{
        return (s->min_open ? v > s->min : v >= s->min) && v <= s->max;
}

int decoder_options_set(struct decoder_options *o, const char *key, const char *value,
                        char *error, size_t error_size)
{
        const struct option_spec *s = NULL;
        char *p = (char *)o, *end, range[64];
        unsigned long long seed;
        double v;
        int m;

        for (size_t i = 0; i < ELEMENTSOF(option_specs) && !s; i++)
                if (key_equal(key, option_specs[i].key))
                        s = &option_specs[i];
        if (!s) {
                snprintf(error, error_size, "unknown decoding option '%s'", key);
                return -ENOENT;
        }

        switch (s->kind) {
        case OPTION_METHOD:
                m = decoder_method_from_string(value);
                if (m < 0) {
                        snprintf(error, error_size, "%s is greedy, beam or sample, not '%.64s'",
                                 key, value);
                        return -EINVAL;
                }
                o->method = m;
                return 0;

        case OPTION_SEED:
                errno = 0;
                seed = strtoull(value, &end, 10);
                if (errno != 0 || end == value || *end != '\0' || value[0] == '-') {
                        snprintf(error, error_size, "%s is a whole number from 0 to 2^64-1, "
                                 "not '%.64s'", key, value);
                        return -EINVAL;
                }
                o->seed = seed;
                return 0;

        case OPTION_INT:
        case OPTION_FLOAT:
                errno = 0;
                v = strtod(value, &end);
                if (errno != 0 || end == value || *end != '\0' || !isfinite(v) ||
                    !in_range(s, v) || (s->kind == OPTION_INT && v != floor(v))) {
                        range_describe(s, range, sizeof(range));
                        snprintf(error, error_size, "%s is %s, not '%.64s'", key, range, value);
                        return -EINVAL;
                }
                if (s->kind == OPTION_INT)
                        *(int *)(p + s->offset) = (int)v;
                else
                        *(float *)(p + s->offset) = (float)v;
                return 0;
        }
        return -EINVAL;
}

int decoder_options_check(const struct decoder_options *o, char *error, size_t error_size)
{
        const char *p = (const char *)o;
        char range[64];

        if (!decoder_method_to_string(o->method)) {
                snprintf(error, error_size, "method %d is not a decoding method", o->method);
                return -EINVAL;
        }

        for (size_t i = 0; i < ELEMENTSOF(option_specs); i++) {
                const struct option_spec *s = &option_specs[i];
                double v;

                if (s->kind == OPTION_INT)
                        v = *(const int *)(p + s->offset);
                else if (s->kind == OPTION_FLOAT)
                        v = *(const float *)(p + s->offset);
                else
                        continue;

                if (!in_range(s, v)) {
                        range_describe(s, range, sizeof(range));
                        snprintf(error, error_size, "%s is %s, not %g", s->key, range, v);
                        return -EINVAL;
                }
        }

        if (o->min_length > o->max_length) {
                snprintf(error, error_size, "min_length %d is over max_length %d",
                         o->min_length, o->max_length);
                return -EINVAL;
        }
        return 0;
}

/* ---- model files ------------------------------------------------------ */

int decoder_model_load(const char *path, struct seq2seq **ret_model, struct vocab **ret_vocab,
                       char *error, size_t error_size)
{
        _cleanup_free_ char *json = NULL;
        struct seq2seq *model = NULL;
        struct vocab *vocab = NULL;
        int r;

        r = seq2seq_load(path, &model, &json, error, error_size);
        if (r < 0)
                return r;

        r = vocab_from_json(json, &vocab);
        if (r < 0) {
                if (r == -EBADMSG)
                        snprintf(error, error_size, "%s: metadata 'vocabulary' is not a parley "
                                 "vocabulary (the four specials first, then distinct valid "
                                 "tokens)", path);
                else
                        snprintf(error, error_size, "%s: %s", path, strerror(-r));
                seq2seq_free(model);
                return r;
        }

        /* decoding streams the weight matrices: half the bytes, packed */
        r = seq2seq_half_enable(model);
        if (r < 0) {
                snprintf(error, error_size, "%s: %s", path, strerror(-r));
                seq2seq_free(model);
                vocab_free(vocab);
                return r;
        }

        *ret_model = model;
        *ret_vocab = vocab;
        return 0;
}

/* ---- the decoder ------------------------------------------------------ */

void decoder_free(struct decoder *d)
{
        if (!d)
                return;

        seq2seq_state_free(d->state);
        free(d->logits);
        free(d->normaliser);
        free(d->prev);
        free(d->row_prompt);
        free(d->rows);
        free(d->prompt_ids);
        free(d->prompt_lengths);
        free(d->reply_ids);
        free(d->streams);
        free(d->pool);
        free(d->history);
        free(d->history_next);
        free(d->row_log_prob);
        free(d->next_log_prob);
        free(d->next_token);
        free(d->live_begin);
        free(d->live_count);
        free(d->done);
        free(d->heap);
        free(d->finished);
        free(d->finished_ids);
        free(d->finished_count);
        free(d);
}

int decoder_new(const struct seq2seq *model, const struct vocab *vocab,
                const struct decoder_options *o, int max_batch, struct decoder **ret)
{
        struct decoder *d;
        char error[DECODER_ERROR_MAX];
        size_t V = model->config.vocab_size, capacity, rows_x_length;
        int K, r;

        if (decoder_options_check(o, error, sizeof(error)) < 0 || max_batch < 1 ||
            max_batch > DECODER_BATCH_MAX || vocab_size(vocab) != V)
                return -EINVAL;

        K = o->method == DECODER_BEAM ? o->beam_width : 1;
        capacity = (size_t)max_batch * K;
        rows_x_length = capacity * o->max_length;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;

        d->model = model;
        d->vocab = vocab;
        d->o = *o;
        d->max_batch = max_batch;
        d->capacity = (int)capacity;
        d->vocab_size = (int)V;
        d->beam_width = K;

        r = seq2seq_state_new(model, d->capacity, &d->state);
        if (r < 0)
                goto fail;

        r = -ENOMEM;
        d->logits = calloc(capacity * V, sizeof(float));
        d->normaliser = calloc(capacity, sizeof(double));
        d->prev = calloc(capacity, sizeof(int32_t));
        d->row_prompt = calloc(capacity, sizeof(int));
        d->rows = calloc(capacity, sizeof(int));
        d->prompt_ids = calloc(max_batch, sizeof(int32_t *));
        d->prompt_lengths = calloc(max_batch, sizeof(int));
        if (!d->logits || !d->normaliser || !d->prev || !d->row_prompt || !d->rows ||
            !d->prompt_ids || !d->prompt_lengths)
                goto fail;

        if (o->method != DECODER_BEAM) {
                d->reply_ids = calloc(rows_x_length, sizeof(int32_t));
                if (!d->reply_ids)
                        goto fail;
        }

        if (o->method == DECODER_SAMPLE) {
                d->streams = calloc(max_batch, sizeof(struct random));
                d->pool = calloc(V, sizeof(struct candidate));
                if (!d->streams || !d->pool)
                        goto fail;
        }

        if (o->method == DECODER_BEAM) {
                d->history = calloc(rows_x_length, sizeof(int32_t));
                d->history_next = calloc(rows_x_length, sizeof(int32_t));
                d->row_log_prob = calloc(capacity, sizeof(double));
                d->next_log_prob = calloc(capacity, sizeof(double));
                d->next_token = calloc(capacity, sizeof(int32_t));
                d->live_begin = calloc(max_batch, sizeof(int));
                d->live_count = calloc(max_batch, sizeof(int));
                d->done = calloc(max_batch, sizeof(bool));
                d->heap = calloc(2 * (size_t)K, sizeof(struct candidate));
                d->finished = calloc(capacity, sizeof(struct hypothesis));
                d->finished_ids = calloc(rows_x_length, sizeof(int32_t));
                d->finished_count = calloc(max_batch, sizeof(int));
                if (!d->history || !d->history_next || !d->row_log_prob || !d->next_log_prob ||
                    !d->next_token || !d->live_begin || !d->live_count || !d->done ||
                    !d->heap || !d->finished || !d->finished_ids || !d->finished_count)
                        goto fail;
                for (size_t i = 0; i < capacity; i++)
                        d->finished[i].ids = d->finished_ids + i * o->max_length;
        }

        *ret = d;
        return 0;

fail:
        decoder_free(d);
        return r;
}

const struct decoder_options *decoder_get_options(const struct decoder *d)
{
        return &d->o;
}

/* GNMT's length penalty for n tokens. */
static double length_penalty(const struct decoder *d, int n)
{
        if (d->o.length_penalty == 0.0f)
                return 1.0;
        return pow((5.0 + n) / 6.0, d->o.length_penalty);
}

/* The log of the softmax normaliser of logits [V]. */
static double row_normaliser(const float *logits, int V)
{
        vec4 max4 = vec4_splat(-INFINITY), sum4 = vec4_splat(0.0f);
        float max;
        double sum = 0.0;
        int v;

        /* four lanes at a time (vecmath.h), the last V % 4 one by one */
        for (v = 0; v + 4 <= V; v += 4)
                max4 = vec4_max(max4, vec4_load(logits + v));
        max = vec4_reduce_max(max4);
        for (; v < V; v++)
                max = logits[v] > max ? logits[v] : max;

        for (v = 0; v + 4 <= V; v += 4)
                sum4 += vec4_exp(vec4_load(logits + v) - max);
        sum = (double)sum4[0] + sum4[1] + sum4[2] + sum4[3];
        for (; v < V; v++)
                sum += expf(logits[v] - max);
        return isfinite(max) ? max + log(sum) : max;
}

/* Returns the log of the softmax normaliser of a row's logits [V] (0 when
 * scores is false: nobody reads the log-probabilities, and the 10,000
 * exponentials are the costliest part of a greedy step after the matrix
 * products), then sets to -inf every token the row may not emit after the
 * t tokens of its reply: the specials other than END, END before
 * min_length, and each token that would repeat an n-gram of the reply. */
static double row_prepare(const struct decoder *d, float *logits, const int32_t *reply, int t,
                          bool scores)
{
        int n = d->o.no_repeat_ngram;
        double normaliser = scores ? row_normaliser(logits, d->vocab_size) : 0.0;

        logits[TOKEN_PAD] = -INFINITY;
        logits[TOKEN_START] = -INFINITY;
        logits[TOKEN_UNKNOWN] = -INFINITY;
        if (t < d->o.min_length)
                logits[TOKEN_END] = -INFINITY;

        /* the n-grams reply[i .. i + n - 1] whose first n - 1 tokens are
         * the reply's last n - 1 */
        if (n > 0 && t >= n) {
                const int32_t *suffix = reply + t - (n - 1);

                for (int i = 0; i <= t - n; i++)
                        if (memcmp(reply + i, suffix, sizeof(int32_t) * (n - 1)) == 0)
                                logits[reply[i + n - 1]] = -INFINITY;
        }
        return normaliser;
}

/* The most likely allowed token of a masked row, the lowest id on ties;
 * -1 when none is allowed.  Eight lanes at a time, each keeping its first
 * maximum (strictly greater replaces), then the lanes compared with the
 * lower id winning ties; compiled for AVX2 and for the baseline, picked at
 * run time. */
CLONES_AVX2
static int32_t row_argmax(const float *logits, int V)
{
        vec8 max8 = { -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                      -INFINITY, -INFINITY, -INFINITY, -INFINITY };
        vec8i best8 = { -1, -1, -1, -1, -1, -1, -1, -1 }, index = { 0, 1, 2, 3, 4, 5, 6, 7 };
        int32_t best = -1;
        float max = -INFINITY;
        int v;

        for (v = 0; v + 8 <= V; v += 8) {
                vec8 x;
                vec8i greater;

                memcpy(&x, logits + v, sizeof(x));
                greater = x > max8;
                max8 = (vec8)(((vec8i)x & greater) | ((vec8i)max8 & ~greater));
                best8 = (index & greater) | (best8 & ~greater);
                index += 8;
        }
        for (int lane = 0; lane < 8; lane++)
                if (best8[lane] >= 0 &&
                    (max8[lane] > max || (max8[lane] == max && best8[lane] < best))) {
                        max = max8[lane];
                        best = best8[lane];
                }
        for (; v < V; v++)
                if (logits[v] > max) {
                        max = logits[v];
                        best = v;
                }
        return best;
}

/* The order of candidates: higher value, then lower row, then lower
 * token. */
static bool candidate_better(const struct candidate *a, const struct candidate *b)
{
        if (a->value != b->value)
                return a->value > b->value;
        if (a->row != b->row)
                return a->row < b->row;
        return a->token < b->token;
}

/* Restores the heap order below position i of heap[0 .. n), the worst
 * candidate at the root. */
static void heap_sift_down(struct candidate *heap, int n, int i)
{
        for (;;) {
                int worst = i, left = 2 * i + 1, right = left + 1;
                struct candidate t;

                if (left < n && candidate_better(&heap[worst], &heap[left]))
                        worst = left;
                if (right < n && candidate_better(&heap[worst], &heap[right]))
                        worst = right;
                if (worst == i)
                        return;
                t = heap[i];
                heap[i] = heap[worst];
                heap[worst] = t;
                i = worst;
        }
}

/* Keeps the capacity best candidates offered in heap[0 .. *n), the worst
 * at heap[0]. */
static void heap_offer(struct candidate *heap, int *n, int capacity, const struct candidate *c)
{
        int i;

        if (*n < capacity) {
                i = (*n)++;
                heap[i] = *c;
                while (i > 0 && candidate_better(&heap[(i - 1) / 2], &heap[i])) {
                        struct candidate t = heap[i];

                        heap[i] = heap[(i - 1) / 2];
                        heap[(i - 1) / 2] = t;
                        i = (i - 1) / 2;
                }
                return;
        }

        if (!candidate_better(c, &heap[0]))
                return;
        heap[0] = *c;
        heap_sift_down(heap, *n, 0);
}

/* Sorts a heap of heap_offer() best first, in place (heapsort: the C
 * library's qsort() may allocate, and a decoding step must not). */
static void heap_sort(struct candidate *heap, int n)
{
        for (int end = n - 1; end > 0; end--) {
                struct candidate t = heap[0];

                heap[0] = heap[end];
                heap[end] = t;
                heap_sift_down(heap, end, 0);
        }
}

/* Draws a token from a masked row as the sampling options say; -1 when
 * none is allowed. */
static int32_t row_sample(struct decoder *d, const float *logits, struct random *stream)
{
        const struct decoder_options *o = &d->o;
        struct candidate *pool = d->pool;
        int V = d->vocab_size, n = 0;
        int32_t best = row_argmax(logits, V), last = best;
        double inverse_temperature, total = 0.0, u, sum = 0.0;
        float max;

        if (best < 0 || o->temperature == 0.0f)
                return best;

        max = logits[best];
        inverse_temperature = 1.0 / o->temperature;

        if (o->top_k == 0 && o->top_p >= 1.0f) {
                /* every allowed token: one pass for the total, one to draw */
                for (int v = 0; v < V; v++)
                        if (logits[v] != -INFINITY)
                                total += exp((logits[v] - max) * inverse_temperature);

                u = random_uniform(stream) * total;
                for (int v = 0; v < V; v++) {
                        if (logits[v] == -INFINITY)
                                continue;
                        sum += exp((logits[v] - max) * inverse_temperature);
                        if (u < sum)
                                return v;
                        last = v;
                }
                return last;
        }

        /* the candidates, most likely first */
        for (int v = 0; v < V; v++) {
                struct candidate c = { .value = logits[v], .row = 0, .token = v };

                if (logits[v] != -INFINITY)
                        heap_offer(pool, &n, o->top_k > 0 ? o->top_k : V, &c);
        }
        heap_sort(pool, n);

        for (int i = 0; i < n; i++) {
                pool[i].value = exp((pool[i].value - max) * inverse_temperature);
                total += pool[i].value;
        }

        /* the nucleus: the shortest prefix holding top_p of the mass */
        if (o->top_p < 1.0f) {
                double cumulative = 0.0;
                int keep = 0;

                while (keep < n && cumulative < o->top_p * total)
                        cumulative += pool[keep++].value;
                n = keep;
                total = cumulative;
        }

        u = random_uniform(stream) * total;
        for (int i = 0; i < n; i++) {
                sum += pool[i].value;
                if (u < sum)
                        return pool[i].token;
        }
        return pool[n - 1].token;
}

/* Greedy and sampled decoding: one row per prompt, reply_ids[p] its reply
 * so far; rows of finished prompts leave the state. */
static int decode_rows(struct decoder *d, int n, bool scores, struct decoder_result *results)
{
        const struct decoder_options *o = &d->o;
        int V = d->vocab_size, B = n, r;

        for (int p = 0; p < n; p++) {
                results[p] = (struct decoder_result){
                        .ids = d->reply_ids + (size_t)p * o->max_length,
                };
                d->row_prompt[p] = p;
                d->prev[p] = TOKEN_START;
                if (o->method == DECODER_SAMPLE)
                        random_init(&d->streams[p], random_hash(o->seed, d->prompts_done + p));
        }

        for (int t = 0; t < o->max_length && B > 0; t++) {
                int live = 0;

                r = seq2seq_decode_step(d->model, d->state, d->prev, d->logits);
                if (r < 0)
                        return r;

                for (int i = 0; i < B; i++) {
                        float *logits = d->logits + (size_t)i * V;   /* [V] */
                        int p = d->row_prompt[i];
                        struct decoder_result *res = &results[p];
                        int32_t *reply = d->reply_ids + (size_t)p * o->max_length;
                        double normaliser = row_prepare(d, logits, reply, t, scores);
                        int32_t token = o->method == DECODER_SAMPLE ?
                                row_sample(d, logits, &d->streams[p]) : row_argmax(logits, V);

                        if (token < 0)
                                continue;       /* nothing allowed: stops here */

                        if (scores)
                                res->log_prob += logits[token] - normaliser;
                        if (token == TOKEN_END) {
                                res->ended = true;
                                continue;
                        }

                        reply[res->length++] = token;
                        /* rows move down only, so i's values are read first */
                        d->rows[live] = i;
                        d->row_prompt[live] = p;
                        d->prev[live] = token;
                        live++;
                }

                if (live > 0 && live < B) {
                        r = seq2seq_state_reorder(d->state, d->rows, live);
                        if (r < 0)
                                return r;
                }
                B = live;
        }

        for (int p = 0; p < n; p++)
                results[p].score = results[p].log_prob /
                                   length_penalty(d, results[p].length + results[p].ended);
        return 0;
}

/* Adds a finished hypothesis of prompt p (its tokens ids[0 .. length)) to
 * the best K kept, replacing the worst when it scores higher. */
static void beam_finish(struct decoder *d, int p, const int32_t *ids, int length, bool ended,
                        double log_prob)
{
        struct hypothesis *kept = d->finished + (size_t)p * d->beam_width, *slot = NULL;
        double score = log_prob / length_penalty(d, length + ended);
        int *count = &d->finished_count[p];

        if (*count < d->beam_width)
                slot = &kept[(*count)++];
        else
                for (int i = 0; i < *count; i++)
                        if (score > kept[i].score && (!slot || kept[i].score < slot->score))
                                slot = &kept[i];
        if (!slot)
                return;

        memcpy(slot->ids, ids, sizeof(int32_t) * length);
        slot->length = length;
        slot->ended = ended;
        slot->log_prob = log_prob;
        slot->score = score;
}

/* True when prompt p has K finished hypotheses and none of its live ones,
 * rows[begin .. begin + count) with log-probabilities log_prob[], can
 * still beat the worst of them. */
static bool beam_settled(const struct decoder *d, int p, const double *log_prob, int begin,
                         int count)
{
        const struct hypothesis *kept = d->finished + (size_t)p * d->beam_width;
        double worst = INFINITY, best_live = -INFINITY;

        if (d->finished_count[p] < d->beam_width)
                return false;

        for (int i = 0; i < d->finished_count[p]; i++)
                worst = kept[i].score < worst ? kept[i].score : worst;
        for (int i = begin; i < begin + count; i++)
                best_live = log_prob[i] > best_live ? log_prob[i] : best_live;

        /* a live log-probability only falls; the penalty only grows, up to
         * max_length tokens and END */
        return best_live / length_penalty(d, d->o.max_length + 1) <= worst;
}

/* Ranks the 2K best extensions of prompt p's live rows at step t: END
 * among the first K finishes its hypothesis, the first K others become
 * rows of the next step, appended from *next on (d->rows[] their source
 * rows, d->next_token[] and d->next_log_prob[] what they add up to).
 * Returns how many live on. */
static int beam_extend(struct decoder *d, int p, int t, int *next)
{
        int K = d->beam_width, V = d->vocab_size, n = 0, live = 0;
        int begin = d->live_begin[p], end = begin + d->live_count[p];
        const size_t L = d->o.max_length;

        for (int row = begin; row < end; row++) {
                const float *logits = d->logits + (size_t)row * V;     /* [V] */
                double base = d->row_log_prob[row] - d->normaliser[row];
                bool any = false;

                for (int v = 0; v < V; v++) {
                        struct candidate c = { .value = base + logits[v], .row = row,
                                               .token = v };

                        if (logits[v] == -INFINITY)
                                continue;
                        any = true;
                        if (n == 2 * K && c.value < d->heap[0].value)
                                continue;
                        heap_offer(d->heap, &n, 2 * K, &c);
                }

                /* nothing allowed: the hypothesis stops as it is */
                if (!any)
                        beam_finish(d, p, d->history + row * L, t, false,
                                    d->row_log_prob[row]);
        }

        heap_sort(d->heap, n);
        for (int rank = 0; rank < n; rank++) {
                const struct candidate *c = &d->heap[rank];

                if (c->token == TOKEN_END) {
                        if (rank < K)
                                beam_finish(d, p, d->history + c->row * L, t, true, c->value);
                        continue;
                }
                if (live == K)
                        continue;

                d->rows[*next] = c->row;
                d->next_token[*next] = c->token;
                d->next_log_prob[*next] = c->value;
                d->row_prompt[*next] = p;
                (*next)++;
                live++;
        }
        return live;
}

static int decode_beam(struct decoder *d, int n, struct decoder_result *results)
{
        const struct decoder_options *o = &d->o;
        const size_t L = o->max_length;
        int V = d->vocab_size, B = n, r;

        for (int p = 0; p < n; p++) {
                d->live_begin[p] = p;
                d->live_count[p] = 1;
                d->done[p] = false;
                d->finished_count[p] = 0;
                d->row_log_prob[p] = 0.0;
                d->prev[p] = TOKEN_START;
        }

        for (int t = 0; t < o->max_length && B > 0; t++) {
                int next = 0;
                int32_t *swap;
                double *swap_log_prob;

                r = seq2seq_decode_step(d->model, d->state, d->prev, d->logits);
                if (r < 0)
                        return r;

                for (int row = 0; row < B; row++)
                        d->normaliser[row] = row_prepare(d, d->logits + (size_t)row * V,
                                                         d->history + row * L, t, true);

                for (int p = 0; p < n; p++) {
                        int begin = next, live;

                        if (d->done[p])
                                continue;

                        live = beam_extend(d, p, t, &next);
                        if (live == 0 || beam_settled(d, p, d->next_log_prob, begin, live)) {
                                d->done[p] = true;
                                next = begin;   /* its rows leave */
                                continue;
                        }
                        d->live_begin[p] = begin;
                        d->live_count[p] = live;
                }

                /* each surviving row: its source's tokens and the new one */
                for (int i = 0; i < next; i++) {
                        int32_t *h = d->history_next + i * L;

                        memcpy(h, d->history + d->rows[i] * L, sizeof(int32_t) * t);
                        h[t] = d->next_token[i];
                        d->prev[i] = d->next_token[i];
                }
                swap = d->history;
                d->history = d->history_next;
                d->history_next = swap;
                swap_log_prob = d->row_log_prob;
                d->row_log_prob = d->next_log_prob;
                d->next_log_prob = swap_log_prob;

                if (t + 1 == o->max_length) {
                        /* the live hypotheses end at max_length */
                        for (int i = 0; i < next; i++)
                                beam_finish(d, d->row_prompt[i], d->history + i * L, t + 1,
                                            false, d->row_log_prob[i]);
                        break;
                }

                if (next > 0) {
                        r = seq2seq_state_reorder(d->state, d->rows, next);
                        if (r < 0)
                                return r;
                }
                B = next;
        }

        for (int p = 0; p < n; p++) {
                const struct hypothesis *kept = d->finished + (size_t)p * d->beam_width;
                const struct hypothesis *best = &kept[0];

                for (int i = 1; i < d->finished_count[p]; i++)
                        if (kept[i].score > best->score)
                                best = &kept[i];

                results[p] = (struct decoder_result){
                        .ids = best->ids,
                        .length = best->length,
                        .ended = best->ended,
                        .log_prob = best->log_prob,
                        .score = best->score,
                };
        }
        return 0;
}

/* decoder_decode(); with scores false, greedy and sampled results leave
 * log_prob and score 0 (beam search always needs them). */
static int decode_prompts(struct decoder *d, const int32_t *const *prompts, const int *lengths,
                          int n, bool scores, struct decoder_result *results)
{
        int r;

        if (n < 1 || n > d->max_batch)
                return -EINVAL;

        for (int p = 0; p < n; p++) {
                int skip = lengths[p] > DECODER_PROMPT_TOKENS_MAX ?
                        lengths[p] - DECODER_PROMPT_TOKENS_MAX : 0;

                if (lengths[p] < 0)
                        return -EINVAL;
                d->prompt_ids[p] = prompts[p] + skip;
                d->prompt_lengths[p] = lengths[p] - skip;
        }

        r = seq2seq_encode(d->model, d->state, d->prompt_ids, d->prompt_lengths, n);
        if (r < 0)
                return r;

        r = d->o.method == DECODER_BEAM ? decode_beam(d, n, results) :
                                          decode_rows(d, n, scores, results);
        d->prompts_done += n;
        return r;
}

int decoder_decode(struct decoder *d, const int32_t *const *prompts, const int *lengths, int n,
                   struct decoder_result *results)
{
        return decode_prompts(d, prompts, lengths, n, true, results);
}

/* Replies to prompts[0 .. n), n <= max_batch, into replies[]. */
static int reply_chunk(struct decoder *d, const char *const *prompts, int n, char **replies)
{
        _cleanup_free_ struct decoder_result *results = calloc(n, sizeof(*results));
        _cleanup_free_ int32_t **ids = calloc(n, sizeof(*ids));
        _cleanup_free_ int *lengths = calloc(n, sizeof(*lengths));
        int r = 0, done = 0;

        if (!results || !ids || !lengths)
                return -ENOMEM;

        for (int i = 0; i < n && r >= 0; i++) {
                size_t count;

                r = vocab_encode(d->vocab, prompts[i], &ids[i], &count);
                if (r < 0)
                        break;

                /* decoder_decode() reads the last DECODER_PROMPT_TOKENS_MAX */
                if (count > DECODER_PROMPT_TOKENS_MAX) {
                        memmove(ids[i], ids[i] + count - DECODER_PROMPT_TOKENS_MAX,
                                sizeof(int32_t) * DECODER_PROMPT_TOKENS_MAX);
                        count = DECODER_PROMPT_TOKENS_MAX;
                }
                lengths[i] = (int)count;
        }

        if (r >= 0)
                r = decode_prompts(d, (const int32_t *const *)ids, lengths, n, false, results);

        for (; r >= 0 && done < n; done++)
                r = vocab_decode(d->vocab, results[done].ids, results[done].length,
                                 &replies[done]);
        if (r < 0)
                while (done > 0)
                        free(replies[--done]);

        for (int i = 0; i < n; i++)
                free(ids[i]);
        return r;
}

int decoder_reply_batch(struct decoder *d, const char *const *prompts, int n, char **replies)
{
        _cleanup_free_ char **out = NULL;
        int r = 0, done = 0;

        if (n < 0)
                return -EINVAL;
        if (n == 0)
                return 0;

        for (int i = 0; i < n; i++)
                if (!text_utf8_valid(prompts[i], strlen(prompts[i])))
                        return -EILSEQ;

        out = calloc(n, sizeof(*out));
        if (!out)
                return -ENOMEM;

        while (done < n && r >= 0) {
                int chunk = n - done < d->max_batch ? n - done : d->max_batch;

                r = reply_chunk(d, prompts + done, chunk, out + done);
                if (r >= 0)
                        done += chunk;
        }
        if (r < 0) {
                for (int i = 0; i < done; i++)
                        free(out[i]);
                return r;
        }

        memcpy(replies, out, sizeof(*out) * n);
        return 0;
}

int decoder_reply(struct decoder *d, const char *prompt, char **ret)
{
        return decoder_reply_batch(d, &prompt, 1, ret);
}
