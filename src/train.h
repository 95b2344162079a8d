/* train.h: training the Seq2Seq model on a prompt/reply corpus.
 *
 * The whole procedure behind `parley train`:
 *  - read the corpora (corpus_read()); malformed records are reported with
 *    file and line and skipped; pairs with a side of no tokens or of more
 *    than max_length tokens are counted and skipped;
 *  - split off a validation set: a fixed-seed shuffle, valid_fraction of
 *    the pairs;
 *  - build the vocabulary from the training pairs (both sides), or take it
 *    from the checkpoint when resuming;
 *  - each epoch: shuffle the pairs (seeded by seed and epoch), sort them by
 *    length within chunks of 100 batches, cut into batches padded to their
 *    longest row, shuffle the batches;
 *  - each step: teacher-forced forward, masked cross-entropy averaged over
 *    the batch's real target tokens, backward, gradient clipping by global
 *    norm, an RMSprop or Adam step;
 *  - the learning rate rises linearly over the first warmup_steps steps,
 *    and is multiplied by lr_decay after every epoch whose validation loss
 *    is not the best so far; after patience such epochs in a row training
 *    stops early;
 *  - the model file is written whenever the validation loss is the best so
 *    far (so it always holds the best model), and a checkpoint after every
 *    epoch and when stopped early (time limit, SIGINT, SIGTERM), both
 *    atomically.
 *
 * Everything random derives from seed: the same corpus, options and
 * number of BLAS threads give bit-identical model files, and resuming from
 * a checkpoint continues exactly where the interrupted run was, so the
 * result equals an uninterrupted run's. */
#ifndef PARLEY_TRAIN_H
#define PARLEY_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "optim.h"

#define TRAIN_CHECKPOINT_FORMAT "parley-checkpoint"
#define TRAIN_CHECKPOINT_VERSION "1"
/* Longest side, in tokens, a model may be trained on. */
#define TRAIN_MAX_LENGTH_LIMIT 1000

struct train_options {
        char **corpora;                 /* TSV, JSON lines or YAML files */
        int n_corpora;
        const char *output;             /* the model file */
        const char *checkpoint;         /* NULL: output + ".ckpt" */
        const char *plot;               /* SVG of the loss curves, or NULL */
        bool resume;

        /* what the run that wrote a checkpoint and its resumption must
         * share */
        int vocab_size;
        int min_count;
        int embed_size;
        int hidden_size;
        int layers;
        int max_length;                 /* tokens per side */
        int batch_size;
        enum optim_kind optimizer;
        float learning_rate;
        float clip;                     /* global gradient norm; 0: none */
        int warmup_steps;
        float lr_decay;
        float dropout;
        double valid_fraction;
        uint64_t seed;

        /* free to change between runs */
        int epochs;
        int patience;                   /* epochs without improvement */
        double time_limit_minutes;      /* 0: none */
        int log_every;                  /* steps between log lines */
        bool progress_bar;              /* redraw one line instead of logging */
};

void train_options_default(struct train_options *o);

/* Trains as described above, logging progress and reporting every problem
 * itself.  0 on success (also when stopped early by the time limit,
 * patience or a signal, with the checkpoint saved), negative errno
 * otherwise: -EINVAL for unusable options or data, -EBADMSG for a
 * checkpoint that is damaged or does not fit the options. */
int train_run(const struct train_options *o);

#endif
