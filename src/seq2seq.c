/* seq2seq.c: the Seq2Seq LSTM model: layout, layers, forward and backward,
 * decoding steps, model files. */
#include "autoconfig.h"

#include <cblas.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "matvec.h"
#include "parallel.h"
#include "random.h"
#include "seq2seq.h"
#include "vecmath.h"

/* Dropout streams: each masked tensor draws from its own stream so the
 * masks do not depend on the order in which they are made. */
enum {
        DROPOUT_STREAM_ENCODER = 0,
        DROPOUT_STREAM_DECODER = SEQ2SEQ_LAYERS_MAX,
};

/* ---- layout ---------------------------------------------------------- */

int seq2seq_config_check(const struct seq2seq_config *config, const char **ret_reason)
{
        const char *reason = NULL;

        if (config->vocab_size < SEQ2SEQ_VOCAB_MIN || config->vocab_size > SEQ2SEQ_VOCAB_MAX)
                reason = "vocabulary size out of range";
        else if (config->embed_size < 1 || config->embed_size > SEQ2SEQ_WIDTH_MAX)
                reason = "embedding size out of range";
        else if (config->hidden_size < 1 || config->hidden_size > SEQ2SEQ_WIDTH_MAX)
                reason = "hidden size out of range";
        else if (config->layers < 1 || config->layers > SEQ2SEQ_LAYERS_MAX)
                reason = "number of layers out of range";

        if (!reason)
                return 0;

        if (ret_reason)
                *ret_reason = reason;
        return -EINVAL;
}

int seq2seq_tensor_count(const struct seq2seq_config *config)
{
        /* embedding + 4 per LSTM layer, for each side, and the output layer */
        return 2 * (1 + 4 * config->layers) + 2;
}

/* Tensor index within one side's block of 1 + 4L tensors: its name suffix
 * and shape; *ret_slot (when views is given) the view it backs. */
static void side_describe(const struct seq2seq_config *config, const char *side, int index,
                          struct seq2seq_tensor *t, float **slot_embedding, struct lstm *layers,
                          float ***ret_slot)
{
        static const char *const parts[] = { "weight_ih", "weight_hh", "bias_ih", "bias_hh" };
        int H = config->hidden_size, E = config->embed_size;
        int layer, part, input;

        if (index == 0) {
                snprintf(t->name, sizeof(t->name), "%s.embedding.weight", side);
                t->ndim = 2;
                t->shape[0] = config->vocab_size;
                t->shape[1] = E;
                if (ret_slot)
                        *ret_slot = slot_embedding;
                return;
        }

        layer = (index - 1) / 4;
        part = (index - 1) % 4;
        input = layer == 0 ? E : H;
        snprintf(t->name, sizeof(t->name), "%s.lstm.%s_l%d", side, parts[part], layer);
        t->ndim = part < 2 ? 2 : 1;
        t->shape[0] = 4 * H;
        t->shape[1] = part == 0 ? input : part == 1 ? H : 1;

        if (!ret_slot)
                return;

        switch (part) {
        case 0:
                *ret_slot = &layers[layer].weight_ih;
                break;
        case 1:
                *ret_slot = &layers[layer].weight_hh;
                break;
        case 2:
                *ret_slot = &layers[layer].bias_ih;
                break;
        default:
                *ret_slot = &layers[layer].bias_hh;
                break;
        }
}

/* Describes tensor index without its offset; with views, *ret_slot is the
 * pointer in views that the tensor backs. */
static void tensor_shape(const struct seq2seq_config *config, int index,
                         struct seq2seq_tensor *t, struct seq2seq_weights *views,
                         float ***ret_slot)
{
        int side = 1 + 4 * config->layers;

        t->shape[1] = 1;
        if (index < side) {
                side_describe(config, "encoder", index, t,
                              views ? &views->encoder_embedding : NULL,
                              views ? views->encoder : NULL, ret_slot);
        } else if (index < 2 * side) {
                side_describe(config, "decoder", index - side, t,
                              views ? &views->decoder_embedding : NULL,
                              views ? views->decoder : NULL, ret_slot);
        } else if (index == 2 * side) {
                snprintf(t->name, sizeof(t->name), "decoder.out.weight");
                t->ndim = 2;
                t->shape[0] = config->vocab_size;
                t->shape[1] = config->hidden_size;
                if (ret_slot)
                        *ret_slot = &views->out_weight;
        } else {
                snprintf(t->name, sizeof(t->name), "decoder.out.bias");
                t->ndim = 1;
                t->shape[0] = config->vocab_size;
                if (ret_slot)
                        *ret_slot = &views->out_bias;
        }

        t->count = (size_t)t->shape[0] * (size_t)t->shape[1];
        if (t->ndim == 1)
                t->shape[1] = 0;
}

void seq2seq_tensor_describe(const struct seq2seq_config *config, int index,
                             struct seq2seq_tensor *ret)
{
        size_t offset = 0;

        for (int i = 0; i <= index; i++) {
                tensor_shape(config, i, ret, NULL, NULL);
                ret->offset = offset;
                offset += ret->count;
        }
}

static size_t parameter_count(const struct seq2seq_config *config)
{
        struct seq2seq_tensor t;
        int n = seq2seq_tensor_count(config);

        seq2seq_tensor_describe(config, n - 1, &t);
        return t.offset + t.count;
}

/* Points every view of *views into block. */
static void weights_bind(const struct seq2seq_config *config, float *block,
                         struct seq2seq_weights *views)
{
        int n = seq2seq_tensor_count(config);
        size_t offset = 0;

        for (int l = 0; l < config->layers; l++) {
                int input = l == 0 ? config->embed_size : config->hidden_size;

                views->encoder[l].input_size = views->decoder[l].input_size = input;
                views->encoder[l].hidden_size = views->decoder[l].hidden_size =
                        config->hidden_size;
        }

        for (int i = 0; i < n; i++) {
                struct seq2seq_tensor t;
                float **slot;

                tensor_shape(config, i, &t, views, &slot);
                *slot = block + offset;
                offset += t.count;
        }
}

int seq2seq_new(const struct seq2seq_config *config, struct seq2seq **ret)
{
        struct seq2seq *m;
        int r;

        r = seq2seq_config_check(config, NULL);
        if (r < 0)
                return r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;

        m->config = *config;
        m->parameter_count = parameter_count(config);
        m->parameters = calloc(m->parameter_count, sizeof(float));
        if (!m->parameters) {
                free(m);
                return -ENOMEM;
        }

        weights_bind(config, m->parameters, &m->weights);
        *ret = m;
        return 0;
}

void seq2seq_free(struct seq2seq *m)
{
        if (!m)
                return;

        free(m->parameters);
        free(m->gradients);
        free(m->packed);
        free(m);
}

static void fill_uniform(struct random *r, float *x, size_t n, float bound)
{
        for (size_t i = 0; i < n; i++)
                x[i] = (2.0f * random_uniform(r) - 1.0f) * bound;
}

void seq2seq_init_random(struct seq2seq *m, uint64_t seed)
{
        const struct seq2seq_config *c = &m->config;
        float bound = 1.0f / sqrtf((float)c->hidden_size);
        int n = seq2seq_tensor_count(c);
        struct random r;

        random_init(&r, seed);
        for (int i = 0; i < n; i++) {
                struct seq2seq_tensor t;
                float *x;

                seq2seq_tensor_describe(c, i, &t);
                x = m->parameters + t.offset;
                if (strstr(t.name, ".embedding."))
                        for (size_t j = 0; j < t.count; j++)
                                x[j] = random_normal(&r);
                else
                        fill_uniform(&r, x, t.count, bound);
        }
}

int seq2seq_gradients_enable(struct seq2seq *m)
{
        if (m->gradients) {
                seq2seq_gradients_zero(m);
                return 0;
        }

        m->gradients = calloc(m->parameter_count, sizeof(float));
        if (!m->gradients)
                return -ENOMEM;

        weights_bind(&m->config, m->gradients, &m->grads);
        return 0;
}

void seq2seq_gradients_zero(struct seq2seq *m)
{
        if (m->gradients)
                memset(m->gradients, 0, m->parameter_count * sizeof(float));
}

/* ---- layers ---------------------------------------------------------- */

/* x[t, b, :] = table[ids[t, b], :] for every position, padding included:
 * ids [T, B], table [V, E], x [T, B, E]. */
static void embedding_forward(const float *table, int E, int positions, const int32_t *ids,
                              float *x)
{
        for (int p = 0; p < positions; p++)
                memcpy(x + (size_t)p * E, table + (size_t)ids[p] * E, sizeof(float) * E);
}

/* dtable[ids[t, b], :] += dx[t, b, :] for real positions (t < lengths[b]). */
static void embedding_backward(float *dtable, int E, int steps, int batch, const int32_t *ids,
                               const int *lengths, const float *dx)
{
        for (int t = 0; t < steps; t++)
                for (int b = 0; b < batch; b++) {
                        size_t p = (size_t)t * batch + b;
                        float *row = dtable + (size_t)ids[p] * E;

                        if (t >= lengths[b])
                                continue;
                        for (int j = 0; j < E; j++)
                                row[j] += dx[p * E + j];
                }
}

/* Inverted dropout: keep[i] = 0 with probability p, else 1 / (1 - p), and
 * x *= keep.  x, keep: [n]. */
static void dropout_forward(float *x, float *keep, size_t n, float p, uint64_t seed)
{
        float scale = 1.0f / (1.0f - p);

        for (size_t i = 0; i < n; i++) {
                keep[i] = random_hash_uniform(seed, i) < p ? 0.0f : scale;
                x[i] *= keep[i];
        }
}

/* logits [R, V] = x [R, H] W^T + bias, W [V, H]. */
static void dense_forward(const float *weight, const float *bias, int V, int H, int rows,
                          const float *x, float *logits)
{
        for (int r = 0; r < rows; r++)
                memcpy(logits + (size_t)r * V, bias, sizeof(float) * V);

        /* one row or a beam: no packing, the weights read once (matvec.h) */
        if (rows <= MATVEC_ROWS_MAX) {
                matvec_rows_add(weight, V, H, x, rows, logits);
                return;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, V, H, 1.0f, x, H, weight, H,
                    1.0f, logits, V);
}

struct column_sum_job {
        const float *x;         /* [rows, columns] */
        float *sum;             /* [columns] */
        size_t rows, columns;
};

static void column_sum_part(void *userdata, size_t begin, size_t end)
{
        const struct column_sum_job *j = userdata;

        for (size_t r = 0; r < j->rows; r++) {
                const float *x = j->x + r * j->columns;

                for (size_t c = begin; c < end; c++)
                        j->sum[c] += x[c];
        }
}

/* dW [V, H] += dlogits^T x, dbias [V] += column sums of dlogits, dx [R, H]
 * += dlogits W. */
static void dense_backward(const float *weight, float *dweight, float *dbias, int V, int H,
                           int rows, const float *x, const float *dlogits, float *dx)
{
        struct column_sum_job sums = { dlogits, dbias, (size_t)rows, (size_t)V };

        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, H, rows, 1.0f, dlogits, V, x, H,
                    1.0f, dweight, H);

        parallel_for((size_t)V, 1024, column_sum_part, &sums);

        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, H, V, 1.0f, dlogits, V,
                    weight, H, 1.0f, dx, H);
}

/* Rows of logits handed to a thread at least: a row is V exponentials. */
#define SOFTMAX_ROWS_MIN 16

struct softmax_job {
        const float *logits;    /* [R, V] */
        float *probs;           /* [R, V] */
        float *row_loss;        /* [R] */
        float *row_scale;       /* [R] */
        const int32_t *targets; /* [R] */
        const int *lengths;     /* [B] */
        int V, batch;
        float scale;            /* backward: 1 / real tokens */
};

/* Row r = t * B + b is real when t < lengths[b]; every row is without
 * lengths (rows gathered from the real positions). */
static bool row_real(const struct softmax_job *j, size_t r)
{
        return !j->lengths || (int)(r / j->batch) < j->lengths[r % j->batch];
}

/* Per real row: probs = exp(z - max z) unnormalised, row_scale = 1 / their
 * sum, row_loss = -log softmax(z)[target] = log(sum) + max - z[target].
 * Normalising is left to the backward pass, which reads the row anyway. */
static void softmax_xent_rows(void *userdata, size_t begin, size_t end)
{
        const struct softmax_job *j = userdata;
        int V = j->V;

        for (size_t r = begin; r < end; r++) {
                const float *z = j->logits + r * V;
                float *p = j->probs + r * V;
                float max;
                double sum = 0.0;

                if (!row_real(j, r)) {
                        j->row_loss[r] = 0.0f;
                        j->row_scale[r] = 0.0f;
                        continue;
                }

                /* max and exponentials four at a time; a row of V < 4
                 * or its tail goes through the same code, padded */
                {
                        vec4 m = vec4_splat(-__builtin_inff());
                        int v = 0;

                        for (; v + 4 <= V; v += 4)
                                m = vec4_max(m, vec4_load(z + v));
                        max = vec4_reduce_max(m);
                        for (; v < V; v++)
                                max = z[v] > max ? z[v] : max;

                        for (v = 0; v + 4 <= V; v += 4) {
                                vec4 e = vec4_exp(vec4_load(z + v) - max);

                                vec4_store(p + v, e);
                                sum += (double)(e[0] + e[1]) + (double)(e[2] + e[3]);
                        }
                        if (v < V) {
                                float t[4] = { 0 }, e[4];
                                int n = V - v;

                                memcpy(t, z + v, sizeof(float) * n);
                                vec4_store(e, vec4_exp(vec4_load(t) - max));
                                memcpy(p + v, e, sizeof(float) * n);
                                for (int k = 0; k < n; k++)
                                        sum += e[k];
                        }
                }

                j->row_scale[r] = (float)(1.0 / sum);
                j->row_loss[r] = (float)(log(sum) + max - z[j->targets[r]]);
        }
}

/* Softmax and cross-entropy on the real rows (t < lengths[b]) of logits
 * [T, B, V]: probs [T, B, V] and row_scale [T * B] as above, row_loss
 * [T * B] summed into *loss in row order. */
static void softmax_xent_forward(const float *logits, int V, int steps, int batch,
                                 const int32_t *targets, const int *lengths, float *probs,
                                 float *row_loss, float *row_scale, struct seq2seq_loss *loss)
{
        struct softmax_job j = {
                .logits = logits, .probs = probs, .row_loss = row_loss, .row_scale = row_scale,
                .targets = targets, .lengths = lengths, .V = V, .batch = batch,
        };
        size_t rows = (size_t)steps * batch;

        parallel_for(rows, SOFTMAX_ROWS_MIN, softmax_xent_rows, &j);

        loss->sum = 0.0;
        loss->tokens = 0;
        for (size_t r = 0; r < rows; r++)
                if (row_real(&j, r)) {
                        loss->sum += row_loss[r];
                        loss->tokens++;
                }
}

static void softmax_xent_backward_rows(void *userdata, size_t begin, size_t end)
{
        const struct softmax_job *j = userdata;
        int V = j->V;

        for (size_t r = begin; r < end; r++) {
                float *p = j->probs + r * V;
                float s = j->row_scale[r] * j->scale;

                if (!row_real(j, r)) {
                        memset(p, 0, sizeof(float) * V);
                        continue;
                }

                for (int v = 0; v < V; v++)
                        p[v] *= s;
                p[j->targets[r]] -= j->scale;
        }
}

/* In place: probs becomes the gradient of the mean loss over the real
 * tokens with respect to the logits, (softmax - onehot(target)) / tokens;
 * padded rows become 0. */
static void softmax_xent_backward(float *probs, const float *row_scale, int V, int steps,
                                  int batch, const int32_t *targets, const int *lengths,
                                  long tokens)
{
        struct softmax_job j = {
                .probs = probs, .row_scale = (float *)row_scale, .targets = targets,
                .lengths = lengths, .V = V, .batch = batch, .scale = 1.0f / (float)tokens,
        };

        parallel_for((size_t)steps * batch, SOFTMAX_ROWS_MIN, softmax_xent_backward_rows, &j);
}

/* ---- training workspace ---------------------------------------------- */

struct layer_buffers {
        float *input;           /* [T, B, In] layer input after dropout (own copy) */
        float *keep;            /* [T, B, In] dropout scales */
        float *gates;           /* [T, B, 4H] */
        float *h;               /* [T + 1, B, H] */
        float *c;               /* [T + 1, B, H] */
        float *dh;              /* [T + 1, B, H] */
        float *dc;              /* [B, H] gradient for the final c, then for c[0] */
        const float *x;         /* the input the last forward used */
};

struct seq2seq_workspace {
        int max_batch, max_source_steps, max_target_steps;
        int layers, vocab_size, embed_size, hidden_size;
        float *memory;
        struct layer_buffers encoder[SEQ2SEQ_LAYERS_MAX];
        struct layer_buffers decoder[SEQ2SEQ_LAYERS_MAX];
        /* The output layer runs on the N real target positions only (41%
         * of a length-sorted batch's positions were padding at the seed
         * sizes), gathered in position order. */
        float *hidden;          /* [N, H] the top decoder layer's output there */
        float *logits;          /* [N, V]; [Td, B, V] after logits_expanded */
        float *probs;           /* [N, V] softmax (unnormalised), then its gradient */
        float *row_loss;        /* [N] */
        float *row_scale;       /* [N] 1 / the softmax's sum */
        int32_t *indices;       /* the one allocation behind the two below */
        int32_t *real_position; /* [N] t * B + b of each gathered row */
        int32_t *real_target;   /* [N] its target id */
        float *dgates;          /* [max(Ts, Td), B, 4H] shared scratch */
        float *dx;              /* [max(Ts, Td), B, max(E, H)] shared scratch */

        /* the last forward pass */
        bool forward_done;
        bool logits_expanded;
        int real_count;         /* N */
        bool dropout;
        int batch, source_steps, target_steps;
        long tokens;
};

/* Carves n floats from *cursor (or only counts them when *cursor is NULL
 * and base is NULL). */
static float *carve(float *base, size_t *used, size_t n)
{
        float *p = base ? base + *used : NULL;

        *used += n;
        return p;
}

static size_t workspace_layout(struct seq2seq_workspace *w, float *base)
{
        size_t B = w->max_batch, E = w->embed_size, H = w->hidden_size, V = w->vocab_size;
        size_t Ts = w->max_source_steps, Td = w->max_target_steps;
        size_t T = Ts > Td ? Ts : Td, used = 0;

        for (int side = 0; side < 2; side++) {
                struct layer_buffers *layers = side == 0 ? w->encoder : w->decoder;
                size_t steps = side == 0 ? Ts : Td;

                for (int l = 0; l < w->layers; l++) {
                        struct layer_buffers *lb = &layers[l];
                        size_t in = l == 0 ? E : H;

                        lb->input = carve(base, &used, steps * B * in);
                        lb->keep = carve(base, &used, steps * B * in);
                        lb->gates = carve(base, &used, steps * B * 4 * H);
                        lb->h = carve(base, &used, (steps + 1) * B * H);
                        lb->c = carve(base, &used, (steps + 1) * B * H);
                        lb->dh = carve(base, &used, (steps + 1) * B * H);
                        lb->dc = carve(base, &used, B * H);
                }
        }

        w->hidden = carve(base, &used, Td * B * H);
        w->logits = carve(base, &used, Td * B * V);
        w->probs = carve(base, &used, Td * B * V);
        w->row_loss = carve(base, &used, Td * B);
        w->row_scale = carve(base, &used, Td * B);
        w->dgates = carve(base, &used, T * B * 4 * H);
        w->dx = carve(base, &used, T * B * (E > H ? E : H));
        return used;
}

int seq2seq_workspace_new(const struct seq2seq *m, int max_batch, int max_source_steps,
                          int max_target_steps, struct seq2seq_workspace **ret)
{
        struct seq2seq_workspace *w;
        size_t n;

        if (max_batch < 1 || max_source_steps < 1 || max_target_steps < 1)
                return -EINVAL;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;

        w->max_batch = max_batch;
        w->max_source_steps = max_source_steps;
        w->max_target_steps = max_target_steps;
        w->layers = m->config.layers;
        w->vocab_size = m->config.vocab_size;
        w->embed_size = m->config.embed_size;
        w->hidden_size = m->config.hidden_size;

        n = workspace_layout(w, NULL);
        w->memory = calloc(n, sizeof(float));
        if (!w->memory) {
                free(w);
                return -ENOMEM;
        }

        w->indices = calloc(2 * (size_t)max_batch * max_target_steps, sizeof(int32_t));
        if (!w->indices) {
                free(w->memory);
                free(w);
                return -ENOMEM;
        }
        w->real_position = w->indices;
        w->real_target = w->indices + (size_t)max_batch * max_target_steps;

        workspace_layout(w, w->memory);
        *ret = w;
        return 0;
}

void seq2seq_workspace_free(struct seq2seq_workspace *w)
{
        if (!w)
                return;

        free(w->memory);
        free(w->indices);
        free(w);
}

const float *seq2seq_workspace_logits(struct seq2seq_workspace *w)
{
        size_t V = w->vocab_size;

        /* In place, last row first: row i moves to real_position[i] >= i,
         * past every row not yet moved. */
        if (!w->logits_expanded)
                for (int i = w->real_count - 1; i >= 0; i--)
                        memmove(w->logits + (size_t)w->real_position[i] * V,
                                w->logits + (size_t)i * V, sizeof(float) * V);
        w->logits_expanded = true;
        return w->logits;
}

/* Gathers the real target positions (t < lengths[b]) in position order:
 * their indices and targets into w, the top decoder layer's outputs
 * there, top_h [Td, B, H], into w->hidden [N, H].  Returns N. */
static int real_rows_gather(struct seq2seq_workspace *w, int Td, int B, const int *lengths,
                            const int32_t *targets, const float *top_h)
{
        size_t H = w->hidden_size;
        int n = 0;

        for (int t = 0; t < Td; t++)
                for (int b = 0; b < B; b++) {
                        int32_t p = t * B + b;

                        if (t >= lengths[b])
                                continue;
                        w->real_position[n] = p;
                        w->real_target[n] = targets[p];
                        memcpy(w->hidden + (size_t)n * H, top_h + (size_t)p * H,
                               sizeof(float) * H);
                        n++;
                }
        return n;
}

static bool ids_valid(const int32_t *ids, size_t n, int V)
{
        for (size_t i = 0; i < n; i++)
                if (ids[i] < 0 || ids[i] >= V)
                        return false;
        return true;
}

static bool lengths_valid(const int *lengths, int batch, int steps)
{
        for (int b = 0; b < batch; b++)
                if (lengths[b] < 0 || lengths[b] > steps)
                        return false;
        return true;
}

static int batch_check(const struct seq2seq_workspace *w, const struct seq2seq_batch *batch)
{
        int B = batch->size, V = w->vocab_size;

        if (B < 1 || B > w->max_batch || batch->source_steps < 0 ||
            batch->source_steps > w->max_source_steps || batch->target_steps < 1 ||
            batch->target_steps > w->max_target_steps)
                return -EINVAL;

        if (!lengths_valid(batch->source_lengths, B, batch->source_steps) ||
            !lengths_valid(batch->target_lengths, B, batch->target_steps))
                return -EINVAL;

        if (!ids_valid(batch->source, (size_t)batch->source_steps * B, V) ||
            !ids_valid(batch->target_input, (size_t)batch->target_steps * B, V) ||
            !ids_valid(batch->target_output, (size_t)batch->target_steps * B, V))
                return -EINVAL;

        return 0;
}

/* Embedding, dropout and the LSTM stack of one side.  h[0], c[0] of each
 * layer must be set.  ids: [T, B]. */
static void side_forward(const struct seq2seq_weights *wt, bool encoder,
                         struct layer_buffers *layers, int L, int E, int H, int T, int B,
                         const int32_t *ids, const int *lengths, float dropout, uint64_t seed)
{
        const float *table = encoder ? wt->encoder_embedding : wt->decoder_embedding;
        const struct lstm *lstm = encoder ? wt->encoder : wt->decoder;
        int stream = encoder ? DROPOUT_STREAM_ENCODER : DROPOUT_STREAM_DECODER;
        size_t positions = (size_t)T * B;

        /* layer 0 input: embeddings [T, B, E] */
        embedding_forward(table, E, (int)positions, ids, layers[0].input);
        if (dropout > 0.0f)
                dropout_forward(layers[0].input, layers[0].keep, positions * E, dropout,
                                random_hash(seed, stream));
        layers[0].x = layers[0].input;

        for (int l = 0; l < L; l++) {
                struct layer_buffers *lb = &layers[l];

                if (l > 0) {
                        /* input: the outputs h[1 .. T] of the layer below, [T, B, H] */
                        const float *below = layers[l - 1].h + (size_t)B * H;

                        if (dropout > 0.0f) {
                                memcpy(lb->input, below, sizeof(float) * positions * H);
                                dropout_forward(lb->input, lb->keep, positions * H, dropout,
                                                random_hash(seed, stream + l));
                                lb->x = lb->input;
                        } else {
                                lb->x = below;
                        }
                }

                lstm_forward(&lstm[l], T, B, lengths, lb->x, lb->gates, lb->h, lb->c);
        }
}

int seq2seq_forward(const struct seq2seq *m, struct seq2seq_workspace *w,
                    const struct seq2seq_batch *batch, float dropout, uint64_t dropout_seed,
                    struct seq2seq_loss *ret)
{
        const struct seq2seq_config *c = &m->config;
        int B = batch->size, Ts = batch->source_steps, Td = batch->target_steps;
        int L = c->layers, E = c->embed_size, H = c->hidden_size, V = c->vocab_size;
        size_t state = (size_t)B * H;
        struct seq2seq_loss loss;
        int r, n;

        w->forward_done = false;
        r = batch_check(w, batch);
        if (r < 0)
                return r;
        if (!(dropout >= 0.0f && dropout < 1.0f))
                return -EINVAL;

        /* encoder from a zero state */
        for (int l = 0; l < L; l++) {
                memset(w->encoder[l].h, 0, sizeof(float) * state);
                memset(w->encoder[l].c, 0, sizeof(float) * state);
        }
        side_forward(&m->weights, true, w->encoder, L, E, H, Ts, B, batch->source,
                     batch->source_lengths, dropout, dropout_seed);

        /* decoder layer l starts from encoder layer l's state after step Ts,
         * which is each row's state after its own last token */
        for (int l = 0; l < L; l++) {
                memcpy(w->decoder[l].h, w->encoder[l].h + (size_t)Ts * state,
                       sizeof(float) * state);
                memcpy(w->decoder[l].c, w->encoder[l].c + (size_t)Ts * state,
                       sizeof(float) * state);
        }
        side_forward(&m->weights, false, w->decoder, L, E, H, Td, B, batch->target_input,
                     batch->target_lengths, dropout, dropout_seed);

        /* logits [N, V] from the top decoder layer's h[1 .. Td] at the N
         * real positions; padding would only be masked out of the loss */
        n = real_rows_gather(w, Td, B, batch->target_lengths, batch->target_output,
                             w->decoder[L - 1].h + state);
        dense_forward(m->weights.out_weight, m->weights.out_bias, V, H, n, w->hidden,
                      w->logits);
        softmax_xent_forward(w->logits, V, 1, n, w->real_target, NULL, w->probs, w->row_loss,
                             w->row_scale, &loss);

        w->forward_done = true;
        w->logits_expanded = false;
        w->real_count = n;
        w->dropout = dropout > 0.0f;
        w->batch = B;
        w->source_steps = Ts;
        w->target_steps = Td;
        w->tokens = loss.tokens;
        *ret = loss;
        return 0;
}

/* Backward through one side's LSTM stack and embedding; each layer's dh
 * and dc must hold every gradient from outside the side. */
static void side_backward(const struct seq2seq_weights *wt, struct seq2seq_weights *gr,
                          bool encoder, struct layer_buffers *layers, int L, int E, int H, int T,
                          int B, const int32_t *ids, const int *lengths, bool dropout,
                          float *dgates, float *dx)
{
        const struct lstm *lstm = encoder ? wt->encoder : wt->decoder;
        const struct lstm *glstm = encoder ? gr->encoder : gr->decoder;
        float *dtable = encoder ? gr->encoder_embedding : gr->decoder_embedding;
        size_t positions = (size_t)T * B;

        for (int l = L - 1; l >= 0; l--) {
                struct layer_buffers *lb = &layers[l];
                size_t in = l == 0 ? E : H;
                /* without dropout, layer l's input gradient is exactly the
                 * output gradient of the layer below */
                float *d_input = l > 0 && !dropout ? layers[l - 1].dh + (size_t)B * H : dx;

                if (d_input == dx)
                        memset(dx, 0, sizeof(float) * positions * in);

                lstm_backward(&lstm[l], &glstm[l], T, B, lengths, lb->x, lb->gates, lb->h,
                              lb->c, lb->dh, lb->dc, dgates, d_input);

                if (dropout)
                        for (size_t i = 0; i < positions * in; i++)
                                dx[i] *= lb->keep[i];

                if (l > 0 && dropout) {
                        float *below = layers[l - 1].dh + (size_t)B * H;

                        for (size_t i = 0; i < positions * H; i++)
                                below[i] += dx[i];
                }
        }

        embedding_backward(dtable, E, T, B, ids, lengths, dx);
}

int seq2seq_backward(struct seq2seq *m, struct seq2seq_workspace *w,
                     const struct seq2seq_batch *batch)
{
        const struct seq2seq_config *c = &m->config;
        int B = w->batch, Ts = w->source_steps, Td = w->target_steps;
        int L = c->layers, E = c->embed_size, H = c->hidden_size, V = c->vocab_size;
        int N = w->real_count;
        size_t state = (size_t)B * H;

        if (!m->gradients || !w->forward_done || batch->size != B ||
            batch->source_steps != Ts || batch->target_steps != Td)
                return -EINVAL;

        /* backward consumes the softmax */
        w->forward_done = false;
        if (w->tokens == 0)
                return 0;

        for (int l = 0; l < L; l++) {
                memset(w->encoder[l].dh, 0, sizeof(float) * (Ts + 1) * state);
                memset(w->encoder[l].dc, 0, sizeof(float) * state);
                memset(w->decoder[l].dh, 0, sizeof(float) * (Td + 1) * state);
                memset(w->decoder[l].dc, 0, sizeof(float) * state);
        }

        /* the output layer's rows are the N real positions; their input
         * gradient [N, H] goes through the dx scratch to the top decoder
         * layer's dh at those positions (padding gets none) */
        softmax_xent_backward(w->probs, w->row_scale, V, 1, N, w->real_target, NULL,
                              w->tokens);
        memset(w->dx, 0, sizeof(float) * N * H);
        dense_backward(m->weights.out_weight, m->grads.out_weight, m->grads.out_bias, V, H, N,
                       w->hidden, w->probs, w->dx);
        {
                float *dh = w->decoder[L - 1].dh + state;      /* [Td, B, H] */

                for (int i = 0; i < N; i++) {
                        float *to = dh + (size_t)w->real_position[i] * H;
                        const float *from = w->dx + (size_t)i * H;

                        for (int j = 0; j < H; j++)
                                to[j] += from[j];
                }
        }

        side_backward(&m->weights, &m->grads, false, w->decoder, L, E, H, Td, B,
                      batch->target_input, batch->target_lengths, w->dropout, w->dgates, w->dx);

        /* the decoder's initial state was the encoder's final state */
        for (int l = 0; l < L; l++) {
                float *dh_final = w->encoder[l].dh + (size_t)Ts * state;

                for (size_t i = 0; i < state; i++)
                        dh_final[i] += w->decoder[l].dh[i];
                memcpy(w->encoder[l].dc, w->decoder[l].dc, sizeof(float) * state);
        }

        side_backward(&m->weights, &m->grads, true, w->encoder, L, E, H, Ts, B, batch->source,
                      batch->source_lengths, w->dropout, w->dgates, w->dx);
        return 0;
}

/* ---- decoding -------------------------------------------------------- */

int seq2seq_state_new(const struct seq2seq *m, int capacity, struct seq2seq_state **ret)
{
        const struct seq2seq_config *c = &m->config;
        size_t state, total;
        struct seq2seq_state *s;

        if (capacity < 1)
                return -EINVAL;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;

        s->capacity = capacity;
        s->layers = c->layers;
        s->hidden_size = c->hidden_size;
        s->embed_size = c->embed_size;

        state = (size_t)c->layers * capacity * c->hidden_size;
        total = 4 * state + (size_t)capacity * c->embed_size +
                (size_t)capacity * 4 * c->hidden_size;
        s->memory = calloc(total, sizeof(float));
        s->ids = calloc(capacity, sizeof(int32_t));
        s->order = calloc(capacity, sizeof(int));
        s->position = calloc(capacity, sizeof(int));
        if (!s->memory || !s->ids || !s->order || !s->position) {
                seq2seq_state_free(s);
                return -ENOMEM;
        }

        s->h = s->memory;

        s->c = s->h + state;
        s->spare_h = s->c + state;
        s->spare_c = s->spare_h + state;
        s->x = s->spare_c + state;
        s->gates = s->x + (size_t)capacity * c->embed_size;
        *ret = s;
        return 0;
}

void seq2seq_state_free(struct seq2seq_state *s)
{
        if (!s)
                return;

        free(s->memory);
        free(s->ids);
        free(s->order);
        free(s->position);
        free(s);
}

int seq2seq_encode(const struct seq2seq *m, struct seq2seq_state *s, const int32_t *const *prompts,
                   const int *lengths, int batch)
{
        const struct seq2seq_config *c = &m->config;
        int H = c->hidden_size, T = 0;
        size_t layer = (size_t)s->capacity * H;

        if (batch < 1 || batch > s->capacity)
                return -EINVAL;

        for (int b = 0; b < batch; b++) {
                if (lengths[b] < 0 || !ids_valid(prompts[b], lengths[b], c->vocab_size))
                        return -EINVAL;
                T = lengths[b] > T ? lengths[b] : T;
        }

        /* Rows longest prompt first (ties in prompt order), so that at
         * step t the prompts still running are the first `active` rows and
         * the products cover those alone: no work on padding.  Step by step
         * through every layer in the state's own arrays: unlike training,
         * nothing is kept for a backward pass. */
        for (int b = 0; b < batch; b++) {
                int k = b;

                while (k > 0 && lengths[s->order[k - 1]] < lengths[b]) {
                        s->order[k] = s->order[k - 1];
                        k--;
                }
                s->order[k] = b;
        }
        for (int l = 0; l < c->layers; l++) {
                memset(s->h + l * layer, 0, sizeof(float) * batch * H);
                memset(s->c + l * layer, 0, sizeof(float) * batch * H);
        }

        for (int t = 0, active = batch; t < T; t++) {
                const float *input = s->x;

                while (active > 0 && lengths[s->order[active - 1]] <= t)
                        active--;
                for (int i = 0; i < active; i++)
                        s->ids[i] = prompts[s->order[i]][t];
                embedding_forward(m->weights.encoder_embedding, c->embed_size, active, s->ids,
                                  s->x);
                for (int l = 0; l < c->layers; l++) {
                        lstm_step(&m->weights.encoder[l], active, input, s->h + l * layer,
                                  s->c + l * layer, s->gates);
                        input = s->h + l * layer;
                }
        }

        /* back to prompt order: prompt b's state is in row position[b] */
        for (int i = 0; i < batch; i++)
                s->position[s->order[i]] = i;
        s->batch = batch;
        return seq2seq_state_reorder(s, s->position, batch);
}

void seq2seq_state_copy_row(struct seq2seq_state *dst, int dst_row,
                            const struct seq2seq_state *src, int src_row)
{
        int H = src->hidden_size;

        for (int l = 0; l < src->layers; l++) {
                size_t d = ((size_t)l * dst->capacity + dst_row) * H;
                size_t s = ((size_t)l * src->capacity + src_row) * H;

                memcpy(dst->h + d, src->h + s, sizeof(float) * H);
                memcpy(dst->c + d, src->c + s, sizeof(float) * H);
        }
}

int seq2seq_state_reorder(struct seq2seq_state *s, const int *rows, int batch)
{
        int H = s->hidden_size;
        size_t layer = (size_t)s->capacity * H;
        float *t;

        if (batch < 1 || batch > s->capacity)
                return -EINVAL;
        for (int i = 0; i < batch; i++)
                if (rows[i] < 0 || rows[i] >= s->batch)
                        return -EINVAL;

        for (int l = 0; l < s->layers; l++)
                for (int i = 0; i < batch; i++) {
                        size_t d = l * layer + (size_t)i * H, o = l * layer + (size_t)rows[i] * H;

                        memcpy(s->spare_h + d, s->h + o, sizeof(float) * H);
                        memcpy(s->spare_c + d, s->c + o, sizeof(float) * H);
                }

        t = s->h;
        s->h = s->spare_h;
        s->spare_h = t;
        t = s->c;
        s->c = s->spare_c;
        s->spare_c = t;
        s->batch = batch;
        return 0;
}

int seq2seq_decode_step(const struct seq2seq *m, struct seq2seq_state *s,
                        const int32_t *prev_tokens, float *logits)
{
        const struct seq2seq_config *c = &m->config;
        int B = s->batch, H = c->hidden_size;
        const float *input = s->x;

        if (!ids_valid(prev_tokens, B, c->vocab_size))
                return -EINVAL;

        /* x [B, E] */
        embedding_forward(m->weights.decoder_embedding, c->embed_size, B, prev_tokens, s->x);
        for (int l = 0; l < c->layers; l++) {
                float *h = s->h + (size_t)l * s->capacity * H;  /* [B, H] */
                float *cc = s->c + (size_t)l * s->capacity * H; /* [B, H] */

                lstm_step(&m->weights.decoder[l], B, input, h, cc, s->gates);
                input = h;
        }

        /* logits [B, V] */
        /* packed half-precision weights (every decoding model) for any
         * number of rows; a float model (training, perplexity) through
         * dense_forward() */
        if (m->out_weight_packed) {
                for (int b = 0; b < B; b++)
                        memcpy(logits + (size_t)b * c->vocab_size, m->weights.out_bias,
                               sizeof(float) * c->vocab_size);
                matpack_half_rows_add(m->out_weight_packed, c->vocab_size, H, input, B, logits);
                return 0;
        }
        dense_forward(m->weights.out_weight, m->weights.out_bias, c->vocab_size, H, B, input,
                      logits);
        return 0;
}

/* Packs weight [out, in] at *at and moves *at past it. */
static const uint16_t *pack(const float *weight, int out, int in, uint16_t **at)
{
        uint16_t *p = *at;

        matpack_half_make(weight, out, in, p);
        *at += matpack_half_size(out, in);
        return p;
}

int seq2seq_half_enable(struct seq2seq *m)
{
        const struct seq2seq_config *c = &m->config;
        struct lstm *sides[2] = { m->weights.encoder, m->weights.decoder };
        size_t n = matpack_half_size(c->vocab_size, c->hidden_size);
        uint16_t *at;

        for (int side = 0; side < 2; side++)
                for (int l = 0; l < c->layers; l++) {
                        const struct lstm *layer = &sides[side][l];
                        int G = 4 * layer->hidden_size;

                        n += matpack_half_size(G, layer->input_size) +
                             matpack_half_size(G, layer->hidden_size);
                }
        if (!m->packed) {
                m->packed = malloc(n * sizeof(uint16_t));
                if (!m->packed)
                        return -ENOMEM;
        }

        at = m->packed;
        m->out_weight_packed = pack(m->weights.out_weight, c->vocab_size, c->hidden_size, &at);
        for (int side = 0; side < 2; side++)
                for (int l = 0; l < c->layers; l++) {
                        struct lstm *layer = &sides[side][l];
                        int G = 4 * layer->hidden_size;

                        layer->weight_ih_packed = pack(layer->weight_ih, G, layer->input_size,
                                                       &at);
                        layer->weight_hh_packed = pack(layer->weight_hh, G, layer->hidden_size,
                                                       &at);
                }
        return 0;
}

/* ---- model files ----------------------------------------------------- */

void seq2seq_metadata_describe(const struct seq2seq *m, const char *vocabulary_json,
                               struct seq2seq_metadata_storage *storage,
                               struct safetensors_pair *out)
{
        const struct seq2seq_config *c = &m->config;

        snprintf(storage->numbers[0], sizeof(storage->numbers[0]), "%d", c->vocab_size);
        snprintf(storage->numbers[1], sizeof(storage->numbers[1]), "%d", c->embed_size);
        snprintf(storage->numbers[2], sizeof(storage->numbers[2]), "%d", c->hidden_size);
        snprintf(storage->numbers[3], sizeof(storage->numbers[3]), "%d", c->layers);

        out[0] = (struct safetensors_pair){ "format", SEQ2SEQ_FORMAT };
        out[1] = (struct safetensors_pair){ "format_version", SEQ2SEQ_FORMAT_VERSION };
        out[2] = (struct safetensors_pair){ "vocab_size", storage->numbers[0] };
        out[3] = (struct safetensors_pair){ "embed_size", storage->numbers[1] };
        out[4] = (struct safetensors_pair){ "hidden_size", storage->numbers[2] };
        out[5] = (struct safetensors_pair){ "layers", storage->numbers[3] };
        out[6] = (struct safetensors_pair){ "vocabulary", vocabulary_json };
}

void seq2seq_block_describe(const struct seq2seq_config *config, const float *block,
                            const char *prefix, struct safetensors_tensor *out)
{
        int n = seq2seq_tensor_count(config);

        for (int i = 0; i < n; i++) {
                struct seq2seq_tensor t;

                seq2seq_tensor_describe(config, i, &t);
                snprintf(out[i].name, sizeof(out[i].name), "%s%s", prefix, t.name);
                out[i].ndim = t.ndim;
                out[i].shape[0] = t.shape[0];
                out[i].shape[1] = t.shape[1];
                out[i].data = block + t.offset;
        }
}

int seq2seq_save(const struct seq2seq *m, const char *path, const char *vocabulary_json,
                 const struct safetensors_pair *extra, size_t n_extra)
{
        _cleanup_free_ struct safetensors_tensor *tensors = NULL;
        _cleanup_free_ struct safetensors_pair *meta = NULL;
        struct seq2seq_metadata_storage storage;
        int n = seq2seq_tensor_count(&m->config);

        tensors = calloc(n, sizeof(*tensors));
        meta = calloc(SEQ2SEQ_METADATA_COUNT + n_extra, sizeof(*meta));
        if (!tensors || !meta)
                return -ENOMEM;

        seq2seq_block_describe(&m->config, m->parameters, "", tensors);
        seq2seq_metadata_describe(m, vocabulary_json, &storage, meta);
        for (size_t i = 0; i < n_extra; i++)
                meta[SEQ2SEQ_METADATA_COUNT + i] = extra[i];

        return safetensors_write(path, tensors, n, meta, SEQ2SEQ_METADATA_COUNT + n_extra);
}

/* A metadata value that must be a decimal integer in [min, max]. */
static int metadata_int(const struct safetensors *st, const char *key, int min, int max,
                        int *ret, char *error, size_t error_size)
{
        const char *s = safetensors_metadata_get(st, key);
        char *end;
        long v;

        if (!s) {
                snprintf(error, error_size, "%s: metadata '%s' is missing",
                         safetensors_path(st), key);
                return -EBADMSG;
        }

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
                snprintf(error, error_size, "%s: metadata '%s' is \"%.32s\", not an integer "
                         "in %d..%d", safetensors_path(st), key, s, min, max);
                return -EBADMSG;
        }

        *ret = (int)v;
        return 0;
}

int seq2seq_config_read(const struct safetensors *st, struct seq2seq_config *ret, char *error,
                        size_t error_size)
{
        const char *format = safetensors_metadata_get(st, "format");
        const char *version = safetensors_metadata_get(st, "format_version");
        struct seq2seq_config c;
        int r;

        if (!format || strcmp(format, SEQ2SEQ_FORMAT) != 0) {
                snprintf(error, error_size, "%s: not a parley model (metadata format is %s%.32s%s, "
                         "expected \"" SEQ2SEQ_FORMAT "\")", safetensors_path(st),
                         format ? "\"" : "", format ? format : "missing", format ? "\"" : "");
                return -EBADMSG;
        }
        if (!version || strcmp(version, SEQ2SEQ_FORMAT_VERSION) != 0) {
                snprintf(error, error_size, "%s: model format version %s%.16s%s is not the "
                         "supported version " SEQ2SEQ_FORMAT_VERSION, safetensors_path(st),
                         version ? "\"" : "", version ? version : "missing",
                         version ? "\"" : "");
                return -EBADMSG;
        }

        r = metadata_int(st, "vocab_size", SEQ2SEQ_VOCAB_MIN, SEQ2SEQ_VOCAB_MAX, &c.vocab_size,
                         error, error_size);
        if (r >= 0)
                r = metadata_int(st, "embed_size", 1, SEQ2SEQ_WIDTH_MAX, &c.embed_size, error,
                                 error_size);
        if (r >= 0)
                r = metadata_int(st, "hidden_size", 1, SEQ2SEQ_WIDTH_MAX, &c.hidden_size, error,
                                 error_size);
        if (r >= 0)
                r = metadata_int(st, "layers", 1, SEQ2SEQ_LAYERS_MAX, &c.layers, error,
                                 error_size);
        if (r < 0)
                return r;

        *ret = c;
        return 0;
}

int seq2seq_block_read(const struct safetensors *st, const struct seq2seq_config *config,
                       const char *prefix, float *block, char *error, size_t error_size)
{
        int n = seq2seq_tensor_count(config);

        for (int i = 0; i < n; i++) {
                struct seq2seq_tensor t;
                char name[SAFETENSORS_NAME_MAX];
                int64_t shape[2];
                int r;

                seq2seq_tensor_describe(config, i, &t);
                snprintf(name, sizeof(name), "%s%s", prefix, t.name);
                shape[0] = t.shape[0];
                shape[1] = t.shape[1];
                r = safetensors_tensor_read(st, name, t.ndim, shape, block + t.offset, error,
                                            error_size);
                if (r < 0)
                        return -EBADMSG;
        }
        return 0;
}

/* The vocabulary must be a JSON array of vocab_size strings; its finer
 * rules are vocab_from_json()'s. */
static int vocabulary_check(const struct safetensors *st, int vocab_size, char *error,
                            size_t error_size)
{
        const char *text = safetensors_metadata_get(st, "vocabulary");
        json_object *o;
        bool ok;

        if (!text) {
                snprintf(error, error_size, "%s: metadata 'vocabulary' is missing",
                         safetensors_path(st));
                return -EBADMSG;
        }

        o = json_tokener_parse(text);
        ok = o && json_object_is_type(o, json_type_array) &&
             json_object_array_length(o) == (size_t)vocab_size;
        for (size_t i = 0; ok && i < (size_t)vocab_size; i++)
                ok = json_object_is_type(json_object_array_get_idx(o, i), json_type_string);
        json_object_put(o);

        if (!ok) {
                snprintf(error, error_size,
                         "%s: metadata 'vocabulary' is not a JSON array of %d strings",
                         safetensors_path(st), vocab_size);
                return -EBADMSG;
        }
        return 0;
}

int seq2seq_load(const char *path, struct seq2seq **ret, char **ret_vocabulary, char *error,
                 size_t error_size)
{
        struct safetensors *st = NULL;
        struct seq2seq *m = NULL;
        struct seq2seq_config config;
        const char *reason;
        char *vocabulary;
        int r;

        r = safetensors_open(path, &st, error, error_size);
        if (r < 0)
                return r;

        if (safetensors_metadata_get(st, "checkpoint_format")) {
                size_t n = strlen(path);
                bool named = n > 5 && strcmp(path + n - 5, ".ckpt") == 0;

                /* parley train writes MODEL's checkpoint as MODEL.ckpt */
                if (named)
                        snprintf(error, error_size, "%s is a training checkpoint (for parley "
                                 "train --resume), not a model: use '%.*s'", path,
                                 (int)(n - 5), path);
                else
                        snprintf(error, error_size, "%s is a training checkpoint (for parley "
                                 "train --resume), not a model", path);
                r = -EBADMSG;
                goto out;
        }

        r = seq2seq_config_read(st, &config, error, error_size);
        if (r < 0)
                goto out;

        if (seq2seq_config_check(&config, &reason) < 0) {
                snprintf(error, error_size, "%s: %s", path, reason);
                r = -EBADMSG;
                goto out;
        }

        if (safetensors_tensor_count(st) != (size_t)seq2seq_tensor_count(&config)) {
                snprintf(error, error_size, "%s: %zu tensors, a model of %d layers has %d",
                         path, safetensors_tensor_count(st), config.layers,
                         seq2seq_tensor_count(&config));
                r = -EBADMSG;
                goto out;
        }

        r = vocabulary_check(st, config.vocab_size, error, error_size);
        if (r < 0)
                goto out;

        r = seq2seq_new(&config, &m);
        if (r < 0) {
                snprintf(error, error_size, "%s: out of memory", path);
                goto out;
        }

        /* every expected tensor present, and as many as expected: no other */
        r = seq2seq_block_read(st, &config, "", m->parameters, error, error_size);
        if (r < 0)
                goto out;

        vocabulary = strdup(safetensors_metadata_get(st, "vocabulary"));
        if (!vocabulary) {
                snprintf(error, error_size, "%s: out of memory", path);
                r = -ENOMEM;
                goto out;
        }

        *ret = TAKE_PTR(m);
        *ret_vocabulary = vocabulary;
        r = 0;
out:
        seq2seq_free(m);
        safetensors_free(st);
        return r;
}
