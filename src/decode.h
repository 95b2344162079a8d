/* decode.h: replies from a trained Seq2Seq model.
 *
 * A decoder turns prompts into replies with one of three searches:
 *
 *   greedy   the most likely token at every step;
 *   beam     beam search keeping beam_width hypotheses per prompt, ranked
 *            by log-probability divided by GNMT's length penalty
 *            lp(n) = ((5 + n) / 6)^alpha (Wu et al. 2016), n the
 *            hypothesis' tokens counting END when it has one; alpha 0
 *            ranks by log-probability alone, larger alphas favour longer
 *            replies;
 *   sample   a token drawn at every step from the softmax of logits /
 *            temperature, restricted to the top_k most likely tokens and
 *            then to the smallest set of them whose probability reaches
 *            top_p (nucleus sampling).
 *
 * In every search: the specials PAD, START and UNKNOWN are never emitted
 * (their logits count as -inf), END is not allowed before min_length tokens
 * and ends a reply, a reply stops after max_length tokens, and with
 * no_repeat_ngram n >= 1 no n tokens in a row appear twice in a reply (a
 * token that would complete a repeat counts as -inf).  A hypothesis with no
 * allowed token left stops where it is.
 *
 * Beam search follows fairseq: each step ranks the 2 * beam_width best
 * extensions of a prompt's live hypotheses; END among the first beam_width
 * of them finishes that hypothesis, the first beam_width others live on.
 * The best beam_width finished hypotheses (by score) are kept, and a
 * prompt is done when no live hypothesis can still beat the worst of them
 * (its log-probability only falls, and the penalty is at most
 * lp(max_length + 1)), or at max_length, where the live ones count as
 * finished.  Beam width 1 with alpha 0 is greedy search.
 *
 * Sampling is reproducible: every prompt a decoder handles gets its own
 * random stream, derived from seed and the number of prompts the decoder
 * handled before it, so the same seed gives the same replies whether the
 * prompts come one by one or in batches.  Greedy and beam search are
 * deterministic; ties go to the lower token id.
 *
 * Prompts: at most DECODER_PROMPT_TOKENS_MAX tokens are read; a longer
 * prompt keeps its last tokens (the most recent words matter most to a
 * reply).
 *
 * Threads: the model and the vocabulary are only read, so any number of
 * decoders may share them; one decoder holds the scratch memory of its
 * searches and serves one thread at a time.  After decoder_new() nothing is
 * allocated per decoding step (encoding a batch of prompts allocates its
 * activations once). */
#ifndef PARLEY_DECODE_H
#define PARLEY_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seq2seq.h"
#include "vocab.h"

/* Limits on the options and on one call. */
#define DECODER_BEAM_WIDTH_MAX 64
#define DECODER_MAX_LENGTH_LIMIT 1000
#define DECODER_NGRAM_MAX 16
#define DECODER_BATCH_MAX 4096
#define DECODER_PROMPT_TOKENS_MAX 1000
#define DECODER_ERROR_MAX 512

enum decoder_method {
        DECODER_GREEDY,
        DECODER_BEAM,
        DECODER_SAMPLE,
        _DECODER_METHOD_MAX,
};

struct decoder_options {
        enum decoder_method method;
        int max_length;         /* reply tokens, END not counted: 1 .. LIMIT */
        int min_length;         /* END allowed from this many tokens: 0 .. max_length */
        int no_repeat_ngram;    /* n: 0 (off) .. DECODER_NGRAM_MAX */
        int beam_width;         /* beam: 1 .. DECODER_BEAM_WIDTH_MAX */
        float length_penalty;   /* beam: alpha, 0 .. 10 */
        float temperature;      /* sample: 0 (then the most likely token) .. 100 */
        int top_k;              /* sample: 0 (no limit) .. vocabulary size */
        float top_p;            /* sample: (0, 1], 1 no limit */
        uint64_t seed;          /* sample */
};

/* Greedy, max_length 40, min_length 1, no n-gram blocking; for beam
 * search width 5 and alpha 0.6; for sampling temperature 1, no top-k or
 * top-p limit, seed 1. */
void decoder_options_default(struct decoder_options *o);

/* Sets one option from text, as a configuration file or a command line
 * has it.  Keys: method (greedy, beam, sample), max_length, min_length,
 * no_repeat_ngram, beam_width, length_penalty, temperature, top_k, top_p,
 * seed.  -EINVAL with error ("top_p is a number in (0, 1], not '2'") for
 * a bad value, -ENOENT for an unknown key; o unchanged then. */
int decoder_options_set(struct decoder_options *o, const char *key, const char *value,
                        char *error, size_t error_size);

/* -EINVAL with error for options out of the ranges above or in conflict
 * (min_length over max_length). */
int decoder_options_check(const struct decoder_options *o, char *error, size_t error_size);

const char *decoder_method_to_string(enum decoder_method m);
/* -EINVAL for a name other than greedy, beam or sample. */
int decoder_method_from_string(const char *s);

/* A model file's model and vocabulary (seq2seq_load() and
 * vocab_from_json()), the model set up for decoding: its weight matrices
 * read in half precision (seq2seq_half_enable(), whose tolerance
 * seq2seq.h states).  -EBADMSG (with error naming the file and what is
 * wrong) for a file that is not a parley model or whose vocabulary is
 * unusable, -ENOENT and other errno from opening it, -ENOMEM. */
int decoder_model_load(const char *path, struct seq2seq **ret_model, struct vocab **ret_vocab,
                       char *error, size_t error_size);

struct decoder;

/* A decoder for model with vocab (whose size must be the model's), for
 * calls of up to max_batch prompts (1 .. DECODER_BATCH_MAX).  -EINVAL
 * for bad options or sizes, -ENOMEM. */
int decoder_new(const struct seq2seq *model, const struct vocab *vocab,
                const struct decoder_options *o, int max_batch, struct decoder **ret);
void decoder_free(struct decoder *d);

const struct decoder_options *decoder_get_options(const struct decoder *d);

/* One reply, as decoder_decode() gives it. */
struct decoder_result {
        const int32_t *ids;     /* [length], valid until the decoder's next call */
        int length;             /* tokens, END not counted */
        bool ended;             /* false: stopped by max_length or no allowed token */
        double log_prob;        /* sum of the model's log p over the tokens (and END) */
        double score;           /* log_prob / lp(length + ended), what beam search ranks */
};

/* Replies to n prompts (1 .. max_batch), prompts[i] being lengths[i] token
 * ids without START or END; results[i] for prompts[i].  The model's
 * probabilities are the softmax of its logits over the whole vocabulary,
 * whatever the search masks or samples from.  -EINVAL for a bad n, length
 * or id. */
int decoder_decode(struct decoder *d, const int32_t *const *prompts, const int *lengths, int n,
                   struct decoder_result *results);

/* Replies to n texts (any n >= 0; decoded max_batch at a time): tokenises
 * each prompt with the vocabulary, decodes, and joins the reply's tokens
 * for display (vocab_decode()).  replies[i] is malloc'd.  -EILSEQ when a
 * prompt is not valid UTF-8 (nothing is decoded then; callers batching
 * untrusted text check text_utf8_valid() first), -ENOMEM. */
int decoder_reply_batch(struct decoder *d, const char *const *prompts, int n, char **replies);

/* decoder_reply_batch() for one prompt. */
int decoder_reply(struct decoder *d, const char *prompt, char **ret);

#endif
