/* test-seq2seq.c: the model's layout, and the decoding API against the
 * training forward pass: encoding a batch and stepping the decoder with the
 * reply's tokens must give the teacher-forced logits; reordering and
 * copying states must move exactly the rows asked for. */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "seq2seq.h"
#include "test.h"

enum { V = 9, E = 3, H = 4, L = 2, B = 3, TS = 3, TD = 4 };

static const struct seq2seq_config config = { .vocab_size = V, .embed_size = E,
                                              .hidden_size = H, .layers = L };

static const int32_t prompt0[] = { 4, 5, 6 }, prompt1[] = { 7 }, prompt2[] = { 8, 4 };
static const int32_t *const prompts[B] = { prompt0, prompt1, prompt2 };
static const int prompt_lengths[B] = { 3, 1, 2 };

static const int32_t source[TS * B] = { 4, 7, 8, 5, 0, 4, 6, 0, 0 };
static const int32_t target_input[TD * B] = { 1, 1, 1, 5, 6, 7, 5, 0, 8, 4, 0, 0 };
static const int32_t target_output[TD * B] = { 5, 6, 7, 5, 2, 8, 4, 0, 2, 2, 0, 0 };
static const int target_lengths[B] = { 4, 2, 3 };

static void test_layout(void)
{
        struct seq2seq_tensor t;
        struct seq2seq *m = NULL;
        const char *reason = NULL;
        struct seq2seq_config bad = config;
        size_t lstm0 = 4 * H * E + 4 * H * H + 8 * H, lstm1 = 4 * H * H * 2 + 8 * H;

        CHECK_INT_EQ(seq2seq_tensor_count(&config), 20);
        seq2seq_tensor_describe(&config, 0, &t);
        CHECK_STR_EQ(t.name, "encoder.embedding.weight");
        CHECK_INT_EQ(t.offset, 0);
        CHECK_INT_EQ(t.count, V * E);
        seq2seq_tensor_describe(&config, 5, &t);
        CHECK_STR_EQ(t.name, "encoder.lstm.weight_ih_l1");
        CHECK_INT_EQ(t.shape[0], 4 * H);
        CHECK_INT_EQ(t.shape[1], H);
        CHECK_INT_EQ(t.offset, V * E + lstm0);
        seq2seq_tensor_describe(&config, 12, &t);
        CHECK_STR_EQ(t.name, "decoder.lstm.bias_ih_l0");
        CHECK_INT_EQ(t.ndim, 1);
        seq2seq_tensor_describe(&config, 19, &t);
        CHECK_STR_EQ(t.name, "decoder.out.bias");

        CHECK_INT_EQ(seq2seq_new(&config, &m), 0);
        CHECK_INT_EQ(m->parameter_count, 2 * (V * E + lstm0 + lstm1) + V * H + V);
        /* the views sit where the table says */
        seq2seq_tensor_describe(&config, 18, &t);
        CHECK(m->weights.out_weight == m->parameters + t.offset);
        seq2seq_tensor_describe(&config, 15, &t);
        CHECK(m->weights.decoder[1].weight_hh == m->parameters + t.offset);
        CHECK_INT_EQ(m->weights.decoder[1].input_size, H);
        CHECK_INT_EQ(m->weights.encoder[0].input_size, E);
        seq2seq_free(m);

        bad.layers = 0;
        CHECK_INT_EQ(seq2seq_config_check(&bad, &reason), -EINVAL);
        CHECK_STR_EQ(reason, "number of layers out of range");
        bad = config;
        bad.vocab_size = 3;
        CHECK_INT_EQ(seq2seq_new(&bad, &m), -EINVAL);
}

static void test_decode_matches_forward(void)
{
        struct seq2seq_batch batch = {
                .size = B, .source_steps = TS, .target_steps = TD, .source = source,
                .source_lengths = prompt_lengths, .target_input = target_input,
                .target_output = target_output, .target_lengths = target_lengths,
        };
        struct seq2seq *m = NULL;
        struct seq2seq_workspace *w = NULL;
        struct seq2seq_state *s = NULL, *other = NULL;
        struct seq2seq_loss loss;
        const float *teacher;
        float logits[6 * V], again[6 * V];
        double worst = 0.0;

        CHECK_INT_EQ(seq2seq_new(&config, &m), 0);
        seq2seq_init_random(m, 5);
        CHECK_INT_EQ(seq2seq_workspace_new(m, B, TS, TD, &w), 0);
        CHECK_INT_EQ(seq2seq_forward(m, w, &batch, 0.0f, 0, &loss), 0);
        CHECK_INT_EQ(loss.tokens, 9);
        teacher = seq2seq_workspace_logits(w);

        CHECK_INT_EQ(seq2seq_state_new(m, 6, &s), 0);
        CHECK_INT_EQ(seq2seq_encode(m, s, prompts, prompt_lengths, B), 0);
        CHECK_INT_EQ(s->batch, B);

        for (int t = 0; t < TD; t++) {
                CHECK_INT_EQ(seq2seq_decode_step(m, s, target_input + t * B, logits), 0);
                for (int b = 0; b < B; b++)
                        for (int v = 0; v < V && t < target_lengths[b]; v++) {
                                double d = fabs(logits[b * V + v] - teacher[(t * B + b) * V + v]);

                                worst = fmax(worst, d);
                        }
        }
        /* the same arithmetic in a different grouping of products */
        CHECK(worst < 1e-5);

        /* a beam: rows 2, 2, 0, 1 of a fresh encoding */
        {
                static const int rows[] = { 2, 2, 0, 1 };
                static const int32_t start[4] = { 1, 1, 1, 1 };

                CHECK_INT_EQ(seq2seq_encode(m, s, prompts, prompt_lengths, B), 0);
                CHECK_INT_EQ(seq2seq_decode_step(m, s, start, logits), 0);
                CHECK_INT_EQ(seq2seq_encode(m, s, prompts, prompt_lengths, B), 0);
                CHECK_INT_EQ(seq2seq_state_reorder(s, rows, 4), 0);
                CHECK_INT_EQ(s->batch, 4);
                CHECK_INT_EQ(seq2seq_decode_step(m, s, start, again), 0);
                for (int i = 0; i < 4; i++)
                        CHECK(memcmp(again + i * V, logits + rows[i] * V, V * sizeof(float)) == 0);
        }

        /* copying a row into another state */
        CHECK_INT_EQ(seq2seq_state_new(m, 2, &other), 0);
        CHECK_INT_EQ(seq2seq_encode(m, s, prompts, prompt_lengths, B), 0);
        CHECK_INT_EQ(seq2seq_encode(m, other, prompts, prompt_lengths, 2), 0);
        seq2seq_state_copy_row(other, 0, s, 2);
        for (int l = 0; l < L; l++) {
                CHECK(memcmp(other->h + l * 2 * H, s->h + (l * 6 + 2) * H, H * sizeof(float)) == 0);
                CHECK(memcmp(other->c + l * 2 * H, s->c + (l * 6 + 2) * H, H * sizeof(float)) == 0);
        }

        /* refusals */
        {
                static const int bad_rows[] = { 0, 3 };
                static const int32_t bad_tokens[B] = { 1, V, 1 };
                static const int32_t *const many[7] = { prompt0, prompt0, prompt0, prompt0,
                                                        prompt0, prompt0, prompt0 };
                static const int many_lengths[7] = { 3, 3, 3, 3, 3, 3, 3 };

                CHECK_INT_EQ(seq2seq_state_reorder(s, bad_rows, 2), -EINVAL);
                CHECK_INT_EQ(seq2seq_state_reorder(s, bad_rows, 7), -EINVAL);
                CHECK_INT_EQ(seq2seq_decode_step(m, s, bad_tokens, logits), -EINVAL);
                CHECK_INT_EQ(seq2seq_encode(m, s, many, many_lengths, 7), -EINVAL);
                CHECK_INT_EQ(s->batch, B);
        }

        /* an empty prompt encodes to the zero state */
        {
                static const int32_t *const empty[1] = { prompt0 };
                static const int zero[1] = { 0 };

                CHECK_INT_EQ(seq2seq_encode(m, other, empty, zero, 1), 0);
                for (int i = 0; i < H; i++)
                        CHECK(other->h[i] == 0.0f && other->c[i] == 0.0f);
        }

        seq2seq_state_free(other);
        seq2seq_state_free(s);
        seq2seq_workspace_free(w);
        seq2seq_free(m);
}

static void test_batch_refusals(void)
{
        static const int32_t bad_source[TS * B] = { 4, 7, 8, 5, 0, 4, 6, 0, -1 };
        static const int long_lengths[B] = { 4, 1, 2 };
        struct seq2seq_batch batch = {
                .size = B, .source_steps = TS, .target_steps = TD, .source = bad_source,
                .source_lengths = prompt_lengths, .target_input = target_input,
                .target_output = target_output, .target_lengths = target_lengths,
        };
        struct seq2seq *m = NULL;
        struct seq2seq_workspace *w = NULL;
        struct seq2seq_loss loss;

        CHECK_INT_EQ(seq2seq_new(&config, &m), 0);
        CHECK_INT_EQ(seq2seq_workspace_new(m, B, TS, TD, &w), 0);
        CHECK_INT_EQ(seq2seq_forward(m, w, &batch, 0.0f, 0, &loss), -EINVAL);
        batch.source = source;
        batch.source_lengths = long_lengths;
        CHECK_INT_EQ(seq2seq_forward(m, w, &batch, 0.0f, 0, &loss), -EINVAL);
        batch.source_lengths = prompt_lengths;
        batch.size = B + 1;
        CHECK_INT_EQ(seq2seq_forward(m, w, &batch, 0.0f, 0, &loss), -EINVAL);
        batch.size = B;
        CHECK_INT_EQ(seq2seq_forward(m, w, &batch, 1.0f, 0, &loss), -EINVAL);
        CHECK_INT_EQ(seq2seq_forward(m, w, &batch, 0.5f, 0, &loss), 0);
        /* no gradients enabled */
        CHECK_INT_EQ(seq2seq_backward(m, w, &batch), -EINVAL);

        seq2seq_workspace_free(w);
        seq2seq_free(m);
}

/* seq2seq_half_enable(): encoding and decoding read the packed binary16
 * copies (the logits move, by about the halves' rounding: the largest
 * change stays under 2^-8 of the largest logit), while seq2seq_forward()
 * (training, evaluation) still reads the floats: its loss and logits are
 * bit for bit the float model's. */
static void test_half(void)
{
        struct seq2seq_batch batch = {
                .size = B, .source_steps = TS, .target_steps = TD, .source = source,
                .source_lengths = prompt_lengths, .target_input = target_input,
                .target_output = target_output, .target_lengths = target_lengths,
        };
        struct seq2seq *m = NULL, *half = NULL;
        struct seq2seq_state *s = NULL, *sh = NULL;
        struct seq2seq_workspace *w = NULL, *wh = NULL;
        struct seq2seq_loss loss, loss_half;
        float want[B * V], got[B * V];
        double largest_logit = 0.0, largest_change = 0.0;

        CHECK_INT_EQ(seq2seq_new(&config, &m), 0);
        CHECK_INT_EQ(seq2seq_new(&config, &half), 0);
        seq2seq_init_random(m, 9);
        memcpy(half->parameters, m->parameters, sizeof(float) * m->parameter_count);
        CHECK_INT_EQ(seq2seq_half_enable(half), 0);
        CHECK(half->out_weight_packed != NULL);
        CHECK(half->weights.encoder[L - 1].weight_hh_packed != NULL);
        CHECK(half->weights.decoder[0].weight_ih_packed != NULL);
        CHECK(m->weights.decoder[0].weight_ih_packed == NULL);

        CHECK_INT_EQ(seq2seq_state_new(m, B, &s), 0);
        CHECK_INT_EQ(seq2seq_state_new(half, B, &sh), 0);
        CHECK_INT_EQ(seq2seq_encode(m, s, prompts, prompt_lengths, B), 0);
        CHECK_INT_EQ(seq2seq_encode(half, sh, prompts, prompt_lengths, B), 0);
        for (int t = 0; t < TD; t++) {
                CHECK_INT_EQ(seq2seq_decode_step(m, s, target_input + t * B, want), 0);
                CHECK_INT_EQ(seq2seq_decode_step(half, sh, target_input + t * B, got), 0);
                for (int i = 0; i < B * V; i++) {
                        largest_logit = fmax(largest_logit, fabs(want[i]));
                        largest_change = fmax(largest_change, fabs(got[i] - want[i]));
                }
        }
        CHECK(largest_change > 0.0);
        CHECK(largest_change < ldexp(largest_logit, -8));

        CHECK_INT_EQ(seq2seq_workspace_new(m, B, TS, TD, &w), 0);
        CHECK_INT_EQ(seq2seq_workspace_new(half, B, TS, TD, &wh), 0);
        CHECK_INT_EQ(seq2seq_forward(m, w, &batch, 0.0f, 0, &loss), 0);
        CHECK_INT_EQ(seq2seq_forward(half, wh, &batch, 0.0f, 0, &loss_half), 0);
        CHECK(loss.sum == loss_half.sum);
        CHECK(memcmp(seq2seq_workspace_logits(w), seq2seq_workspace_logits(wh),
                     sizeof(float) * TD * B * V) == 0);

        seq2seq_workspace_free(w);
        seq2seq_workspace_free(wh);
        seq2seq_state_free(s);
        seq2seq_state_free(sh);
        seq2seq_free(m);
        seq2seq_free(half);
}

/* seq2seq_encode() sorts the rows by prompt length and steps only the
 * ones still running: with equal lengths, an empty prompt and rows out of
 * order, every row must hold exactly the state of its prompt encoded
 * alone, and the empty one the zero state.  half: with the packed binary16
 * weights that decoding uses. */
static void test_encode_rows(bool half)
{
        static const int32_t p0[] = { 4, 5 }, p2[] = { 8, 6 }, p3[] = { 7 };
        static const int32_t *const rows[4] = { p0, p0, p2, p3 };
        static const int lengths[4] = { 2, 0, 2, 1 };
        struct seq2seq *m = NULL;
        struct seq2seq_state *all = NULL, *one = NULL;

        CHECK_INT_EQ(seq2seq_new(&config, &m), 0);
        seq2seq_init_random(m, 11);
        if (half)
                CHECK_INT_EQ(seq2seq_half_enable(m), 0);
        CHECK_INT_EQ(seq2seq_state_new(m, 4, &all), 0);
        CHECK_INT_EQ(seq2seq_state_new(m, 1, &one), 0);
        CHECK_INT_EQ(seq2seq_encode(m, all, rows, lengths, 4), 0);
        CHECK_INT_EQ(all->batch, 4);

        for (int b = 0; b < 4; b++) {
                CHECK_INT_EQ(seq2seq_encode(m, one, &rows[b], &lengths[b], 1), 0);
                for (int l = 0; l < L; l++) {
                        const float *h = all->h + (l * 4 + b) * H, *c = all->c + (l * 4 + b) * H;

                        CHECK(memcmp(h, one->h + l * H, H * sizeof(float)) == 0);
                        CHECK(memcmp(c, one->c + l * H, H * sizeof(float)) == 0);
                        for (int i = 0; i < H; i++) {
                                if (lengths[b] == 0)
                                        CHECK(h[i] == 0.0f && c[i] == 0.0f);
                                else
                                        CHECK(h[i] != 0.0f);
                        }
                }
        }
        /* rows 0 and 2 have the same length but different prompts */
        CHECK(memcmp(all->h, all->h + 2 * H, H * sizeof(float)) != 0);

        seq2seq_state_free(one);
        seq2seq_state_free(all);
        seq2seq_free(m);
}

int main(void)
{
        test_layout();
        test_decode_matches_forward();
        test_encode_rows(false);
        test_encode_rows(true);
        test_batch_refusals();
        test_half();
        return test_finish();
}
