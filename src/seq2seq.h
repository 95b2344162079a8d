/* seq2seq.h: the Seq2Seq LSTM model.
 *
 *   prompt ids -> encoder embedding [V, E] -> L LSTM layers (encoder)
 *   reply ids  -> decoder embedding [V, E] -> L LSTM layers (decoder), whose
 *                 layer l starts from the encoder layer l's final (h, c)
 *              -> dense [V, H] + bias [V] -> softmax over the vocabulary
 *
 * One vocabulary serves both sides (a reply in a conversation is the next
 * prompt), with separate embedding tables for the encoder and the decoder.
 * Token ids are the vocabulary's (vocab.h); the model itself knows nothing
 * of text.
 *
 * All parameters live in one allocation, and the gradients, when enabled,
 * in a second one with the same layout; struct seq2seq_weights gives named
 * views into either.  Training runs seq2seq_forward() then
 * seq2seq_backward() on a struct seq2seq_workspace, whose one allocation
 * holds every activation for the largest batch it was sized for.
 * Decoding runs seq2seq_encode() once per batch of prompts and then
 * seq2seq_decode_step() per output token on a struct seq2seq_state, which
 * can be copied and reordered row by row for beam search. */
#ifndef PARLEY_SEQ2SEQ_H
#define PARLEY_SEQ2SEQ_H

#include <stddef.h>
#include <stdint.h>

#include "lstm.h"
#include "safetensors.h"

#define SEQ2SEQ_FORMAT "parley-seq2seq"
#define SEQ2SEQ_FORMAT_VERSION "1"

/* Limits on the hyper-parameters a model (or a model file) may have. */
#define SEQ2SEQ_LAYERS_MAX 8
#define SEQ2SEQ_WIDTH_MAX 8192          /* embedding and hidden sizes */
#define SEQ2SEQ_VOCAB_MAX (1 << 22)
#define SEQ2SEQ_VOCAB_MIN 4             /* the special tokens */
#define SEQ2SEQ_TENSOR_NAME_MAX 64

struct seq2seq_config {
        int vocab_size;         /* V */
        int embed_size;         /* E */
        int hidden_size;        /* H */
        int layers;             /* L, in the encoder and in the decoder */
};

/* Named views into one parameter-shaped block. */
struct seq2seq_weights {
        float *encoder_embedding;               /* [V, E] */
        struct lstm encoder[SEQ2SEQ_LAYERS_MAX]; /* layer 0 input E, others H */
        float *decoder_embedding;               /* [V, E] */
        struct lstm decoder[SEQ2SEQ_LAYERS_MAX];
        float *out_weight;                      /* [V, H] */
        float *out_bias;                        /* [V] */
};

struct seq2seq {
        struct seq2seq_config config;
        size_t parameter_count;
        float *parameters;                      /* [parameter_count] */
        float *gradients;                       /* same layout, or NULL */
        struct seq2seq_weights weights;         /* views into parameters */
        struct seq2seq_weights grads;           /* views into gradients */
        uint16_t *packed;                       /* seq2seq_half_enable()'s
                                                 * binary16 copies (the output
                                                 * layer's and every LSTM weight
                                                 * matrix), or NULL */
        const uint16_t *out_weight_packed;      /* [V, H] in packed */
};

/* One tensor of the layout: offset and count in floats from the start of
 * the block; names as PyTorch's state_dict would have them. */
struct seq2seq_tensor {
        char name[SEQ2SEQ_TENSOR_NAME_MAX];
        int ndim;
        int shape[2];
        size_t offset;
        size_t count;
};

/* -EINVAL with a reason in *ret_reason (static text) when a size is out of
 * the limits above. */
int seq2seq_config_check(const struct seq2seq_config *config, const char **ret_reason);

int seq2seq_tensor_count(const struct seq2seq_config *config);
/* index in [0, seq2seq_tensor_count()). */
void seq2seq_tensor_describe(const struct seq2seq_config *config, int index,
                             struct seq2seq_tensor *ret);

/* A model with every parameter 0 and no gradients.  -EINVAL for a bad
 * config, -ENOMEM. */
int seq2seq_new(const struct seq2seq_config *config, struct seq2seq **ret);
void seq2seq_free(struct seq2seq *m);

/* PyTorch's default initialisation, from seed: embeddings N(0, 1), LSTM
 * and output weights and biases U(-1/sqrt(H), 1/sqrt(H)). */
void seq2seq_init_random(struct seq2seq *m, uint64_t seed);

/* Allocates the gradient block (zeroed); a second call only zeroes it. */
int seq2seq_gradients_enable(struct seq2seq *m);
void seq2seq_gradients_zero(struct seq2seq *m);

/* A batch for training: B prompt/reply pairs, padded on the right.
 * Positions past a row's length must still hold a valid id (TOKEN_PAD);
 * they are never looked at otherwise. */
struct seq2seq_batch {
        int size;                       /* B */
        int source_steps;               /* Ts: the longest source length */
        int target_steps;               /* Td: the longest target length */
        const int32_t *source;          /* [Ts, B] prompt ids */
        const int *source_lengths;      /* [B], 0 .. Ts */
        const int32_t *target_input;    /* [Td, B] START y1 .. yn (teacher forcing) */
        const int32_t *target_output;   /* [Td, B] y1 .. yn END (what is predicted) */
        const int *target_lengths;      /* [B], n + 1, 0 .. Td */
};

struct seq2seq_loss {
        double sum;                     /* sum of -log p(target) over real tokens */
        long tokens;                    /* real target tokens */
};

struct seq2seq_workspace;

/* Activations for batches of up to max_batch rows and the given lengths.
 * -EINVAL for non-positive sizes, -ENOMEM. */
int seq2seq_workspace_new(const struct seq2seq *m, int max_batch, int max_source_steps,
                          int max_target_steps, struct seq2seq_workspace **ret);
void seq2seq_workspace_free(struct seq2seq_workspace *w);

/* Teacher-forced forward pass and masked cross-entropy.  dropout: the
 * probability of zeroing an embedding output or the input of an LSTM layer
 * above the first (0 for evaluation); dropout_seed makes the masks
 * reproducible.  -EINVAL when the batch exceeds the workspace or holds an
 * id outside the vocabulary or a length outside its steps. */
int seq2seq_forward(const struct seq2seq *m, struct seq2seq_workspace *w,
                    const struct seq2seq_batch *batch, float dropout, uint64_t dropout_seed,
                    struct seq2seq_loss *ret);

/* The logits of the last forward pass: [Td, B, V] for its Td and B, at the
 * real positions (t < target_lengths[b]); rows of padded positions are
 * unspecified, as the output layer runs only on the real ones.  Call
 * between seq2seq_forward() and seq2seq_backward(). */
const float *seq2seq_workspace_logits(struct seq2seq_workspace *w);

/* Backward pass for the batch of the last seq2seq_forward() on w, of the
 * loss averaged over its real target tokens; accumulates into
 * m->gradients.  -EINVAL without gradients or without a forward pass. */
int seq2seq_backward(struct seq2seq *m, struct seq2seq_workspace *w,
                     const struct seq2seq_batch *batch);

/* Decoder state for up to capacity rows (hypotheses). */
struct seq2seq_state {
        int capacity;
        int batch;                      /* rows in use */
        int layers, hidden_size, embed_size;
        float *memory;                  /* the one allocation behind the float arrays */
        float *h;                       /* [L, capacity, H] */
        float *c;                       /* [L, capacity, H] */
        float *x;                       /* [capacity, E] scratch */
        float *gates;                   /* [capacity, 4H] scratch */
        float *spare_h;                 /* [L, capacity, H] scratch for reordering */
        float *spare_c;
        int32_t *ids;                   /* [capacity] scratch for encoding */
        int *order, *position;          /* [capacity] each, likewise */
};

int seq2seq_state_new(const struct seq2seq *m, int capacity, struct seq2seq_state **ret);
void seq2seq_state_free(struct seq2seq_state *s);

/* Runs the encoder over batch prompts (prompts[b]: lengths[b] ids, no
 * START/END) and sets rows 0 .. batch-1 of s to the final states, s->batch
 * to batch.  Allocation-free (the state's scratch arrays); -EINVAL for
 * batch > capacity or an id outside the vocabulary. */
int seq2seq_encode(const struct seq2seq *m, struct seq2seq_state *s, const int32_t *const *prompts,
                   const int *lengths, int batch);

/* Row dst_row of dst becomes row src_row of src (same model). */
void seq2seq_state_copy_row(struct seq2seq_state *dst, int dst_row,
                            const struct seq2seq_state *src, int src_row);

/* Row i becomes the old row rows[i], for i < batch; batch may differ from
 * s->batch (a beam growing from one prompt) and becomes s->batch.
 * -EINVAL for batch > capacity or a row outside the old batch.
 * Allocation-free. */
int seq2seq_state_reorder(struct seq2seq_state *s, const int *rows, int batch);

/* Sets a model up for decoding: binary16 (IEEE half precision) copies of
 * the output layer's and every LSTM layer's weight matrices (the biases
 * and embeddings stay float), packed by matpack_half_make(), which
 * seq2seq_encode() and seq2seq_decode_step() then read instead of the
 * floats for any batch: half the memory traffic of the float weights, and
 * none of sgemm's packing of the whole matrix on every call
 * (docs/performance.md has the figures).  Each weight is rounded to the
 * nearest half (relative error at most 2^-11 for weights in
 * [2^-14, 65504]), so a product's output moves by at most
 * 2^-11 sum_k |W[j, k] x[k]| plus float rounding: a logit, for given h,
 * and each gate's pre-activation, which an LSTM cell passes on at most once
 * (sigmoid' <= 1/4, tanh' <= 1) before the next step.  The copies are of
 * the weights at the time of the call: call again after changing them.
 * Training and seq2seq_forward() (evaluation's perplexity) never read
 * them.  -ENOMEM. */
int seq2seq_half_enable(struct seq2seq *m);

/* One decoder step for every row: feeds prev_tokens[b] (TOKEN_START first)
 * and writes the next token's logits, [s->batch, V], into logits.
 * -EINVAL for an id outside the vocabulary.  Allocation-free. */
int seq2seq_decode_step(const struct seq2seq *m, struct seq2seq_state *s,
                        const int32_t *prev_tokens, float *logits);

/* Writes the model as safetensors (atomically: temporary file and
 * rename), with metadata format, format_version, the config, "vocabulary"
 * (a JSON array of the tokens in id order) and the extra pairs.  Negative
 * errno from the file system. */
int seq2seq_save(const struct seq2seq *m, const char *path, const char *vocabulary_json,
                 const struct safetensors_pair *extra, size_t n_extra);

/* Reads and validates a model file: the safetensors structure, format and
 * version, the config, every tensor present with its shape (and no other),
 * the vocabulary a JSON array of vocab_size strings.  *ret_vocabulary is
 * the vocabulary's JSON (malloc'd).  -EBADMSG (with error saying which file
 * and what is wrong), -ENOENT and other errno from opening, -ENOMEM. */
int seq2seq_load(const char *path, struct seq2seq **ret, char **ret_vocabulary, char *error,
                 size_t error_size);

/* The pieces of save and load, for files that hold more than the model
 * (training checkpoints add the optimiser's state). */

/* The metadata seq2seq_save() writes for m, in out[0 .. SEQ2SEQ_METADATA_COUNT);
 * values point into storage, which must outlive out. */
#define SEQ2SEQ_METADATA_COUNT 7
struct seq2seq_metadata_storage {
        char numbers[4][16];
};
void seq2seq_metadata_describe(const struct seq2seq *m, const char *vocabulary_json,
                               struct seq2seq_metadata_storage *storage,
                               struct safetensors_pair *out);

/* Describes a parameter-shaped block (parameters, gradients, an
 * optimiser's moments) as seq2seq_tensor_count() tensors named prefix +
 * the PyTorch name. */
void seq2seq_block_describe(const struct seq2seq_config *config, const float *block,
                            const char *prefix, struct safetensors_tensor *out);

/* Reads a model's config from the file's metadata, checking format and
 * version; -EBADMSG with error. */
int seq2seq_config_read(const struct safetensors *st, struct seq2seq_config *ret, char *error,
                        size_t error_size);

/* Reads a parameter-shaped block stored under prefix (see
 * seq2seq_block_describe()); -EBADMSG with error for a missing tensor or a
 * wrong shape. */
int seq2seq_block_read(const struct safetensors *st, const struct seq2seq_config *config,
                       const char *prefix, float *block, char *error, size_t error_size);

#endif
