/* test-lstm.c: gradient checks of the LSTM layer and of the whole Seq2Seq
 * model against finite differences.
 *
 * The model computes in float32, so a finite difference carries rounding
 * noise of about (float epsilon * loss) / step.  The derivative is taken
 * with the five-point stencil at steps of 2e-2, whose truncation error is
 * O(step^4), and an entry passes when
 *   |analytic - numeric| <= 3e-3 * max(|numeric|, 0.005),
 * that is 0.3% relative, 1.5e-5 absolute near 0.  Observed errors are
 * below 1.5e-3 relative.  Every tensor must have entries at least 20 times
 * the absolute tolerance, so no comparison is vacuous; a wrong gate, sign
 * or missing term shows as an error of the size of the gradient itself. */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lstm.h"
#include "macro.h"
#include "matvec.h"
#include "random.h"
#include "seq2seq.h"
#include "test.h"

#define FD_STEP 2e-2f
#define FD_TOLERANCE 3e-3
#define FD_FLOOR 0.005

static double worst_error;

static bool gradient_close(double analytic, double numeric)
{
        double scale = fmax(fabs(numeric), FD_FLOOR);
        double e = fabs(analytic - numeric) / scale;

        if (e > worst_error)
                worst_error = e;
        return fabs(analytic - numeric) <= FD_TOLERANCE * scale;
}

/* ---- one layer ------------------------------------------------------- */

enum { L_IN = 3, L_H = 4, L_T = 4, L_B = 3 };

struct layer_case {
        float weights[4 * L_H * L_IN + 4 * L_H * L_H + 8 * L_H];
        struct lstm layer;
        float x[L_T * L_B * L_IN];
        float h0[L_B * L_H], c0[L_B * L_H];
        /* the loss: sum of out_w * h[1..T] + final_h_w * h[T] + final_c_w * c[T] */
        float out_w[L_T * L_B * L_H];
        float final_h_w[L_B * L_H], final_c_w[L_B * L_H];
        int lengths[L_B];
};

static void layer_bind(struct lstm *l, float *block)
{
        *l = (struct lstm){ .input_size = L_IN, .hidden_size = L_H, .weight_ih = block };
        l->weight_hh = l->weight_ih + 4 * L_H * L_IN;
        l->bias_ih = l->weight_hh + 4 * L_H * L_H;
        l->bias_hh = l->bias_ih + 4 * L_H;
}

static void fill(struct random *r, float *x, size_t n, float scale)
{
        for (size_t i = 0; i < n; i++)
                x[i] = (2.0f * random_uniform(r) - 1.0f) * scale;
}

static double layer_loss(struct layer_case *k, float *gates_out, float *h_out, float *c_out)
{
        float gates[L_T * L_B * 4 * L_H], h[(L_T + 1) * L_B * L_H], c[(L_T + 1) * L_B * L_H];
        double loss = 0.0;

        memcpy(h, k->h0, sizeof(k->h0));
        memcpy(c, k->c0, sizeof(k->c0));
        lstm_forward(&k->layer, L_T, L_B, k->lengths, k->x, gates, h, c);

        for (int i = 0; i < L_T * L_B * L_H; i++)
                loss += (double)k->out_w[i] * h[L_B * L_H + i];
        for (int i = 0; i < L_B * L_H; i++)
                loss += (double)k->final_h_w[i] * h[L_T * L_B * L_H + i] +
                        (double)k->final_c_w[i] * c[L_T * L_B * L_H + i];

        if (gates_out)
                memcpy(gates_out, gates, sizeof(gates));
        if (h_out)
                memcpy(h_out, h, sizeof(h));
        if (c_out)
                memcpy(c_out, c, sizeof(c));
        return loss;
}

/* The derivative of f in *p by the five-point stencil
 * (8 (f(p + s) - f(p - s)) - (f(p + 2s) - f(p - 2s))) / 12s, whose
 * truncation error is O(s^4), restoring *p; written with the steps float
 * actually took rather than the nominal ones. */
static double five_point(double (*f)(void *), void *userdata, float *p)
{
        static const float offsets[4] = { 1.0f, -1.0f, 2.0f, -2.0f };
        float saved = *p;
        double value[4], step[4];

        for (int i = 0; i < 4; i++) {
                *p = saved + offsets[i] * FD_STEP;
                step[i] = (double)*p - saved;
                value[i] = f(userdata);
        }
        *p = saved;

        /* central differences at s and 2s, combined to cancel the s^2 term */
        return (4.0 * (value[0] - value[1]) / (step[0] - step[1]) -
                (value[2] - value[3]) / (step[2] - step[3])) / 3.0;
}

static double layer_loss_of(void *userdata)
{
        return layer_loss(userdata, NULL, NULL, NULL);
}

static int check_entries(const char *what, struct layer_case *k, float *values,
                         const float *analytic, size_t n)
{
        int bad = 0;

        for (size_t i = 0; i < n; i++) {
                double numeric = five_point(layer_loss_of, k, &values[i]);

                if (!gradient_close(analytic[i], numeric)) {
                        if (bad++ < 5)
                                TEST_FAIL("%s[%zu]: analytic %.6g, numeric %.6g", what, i,
                                          analytic[i], numeric);
                }
        }
        test_checks++;
        return bad;
}

static void test_layer_gradients(void)
{
        static struct layer_case k;
        float grad_block[sizeof(k.weights) / sizeof(float)] = { 0 };
        float gates[L_T * L_B * 4 * L_H], h[(L_T + 1) * L_B * L_H], c[(L_T + 1) * L_B * L_H];
        float dh[(L_T + 1) * L_B * L_H] = { 0 }, dc[L_B * L_H];
        float dgates[L_T * L_B * 4 * L_H], dx[L_T * L_B * L_IN] = { 0 };
        struct lstm grad;
        struct random r;

        random_init(&r, 42);
        fill(&r, k.weights, sizeof(k.weights) / sizeof(float), 0.6f);
        fill(&r, k.x, ELEMENTSOF(k.x), 1.0f);
        fill(&r, k.h0, ELEMENTSOF(k.h0), 0.5f);
        fill(&r, k.c0, ELEMENTSOF(k.c0), 0.5f);
        fill(&r, k.out_w, ELEMENTSOF(k.out_w), 1.0f);
        fill(&r, k.final_h_w, ELEMENTSOF(k.final_h_w), 1.0f);
        fill(&r, k.final_c_w, ELEMENTSOF(k.final_c_w), 1.0f);
        /* a full row, a short one, an empty one */
        k.lengths[0] = L_T;
        k.lengths[1] = 2;
        k.lengths[2] = 0;
        layer_bind(&k.layer, k.weights);
        layer_bind(&grad, grad_block);

        layer_loss(&k, gates, h, c);

        /* padding carries the state: row 1 keeps its step-2 state, row 2 its
         * initial state */
        for (int j = 0; j < L_H; j++) {
                CHECK(h[(L_T * L_B + 1) * L_H + j] == h[(2 * L_B + 1) * L_H + j]);
                CHECK(c[(L_T * L_B + 1) * L_H + j] == c[(2 * L_B + 1) * L_H + j]);
                CHECK(h[(L_T * L_B + 2) * L_H + j] == k.h0[2 * L_H + j]);
                CHECK(c[(L_T * L_B + 2) * L_H + j] == k.c0[2 * L_H + j]);
        }
        /* ... and a real step changes it */
        CHECK(h[(L_B + 1) * L_H] != k.h0[L_H]);

        /* the analytic gradients */
        memcpy(dh + L_B * L_H, k.out_w, sizeof(k.out_w));
        for (int i = 0; i < L_B * L_H; i++)
                dh[L_T * L_B * L_H + i] += k.final_h_w[i];
        memcpy(dc, k.final_c_w, sizeof(dc));
        lstm_backward(&k.layer, &grad, L_T, L_B, k.lengths, k.x, gates, h, c, dh, dc, dgates, dx);

        worst_error = 0.0;
        CHECK_INT_EQ(check_entries("weight_ih", &k, k.layer.weight_ih, grad.weight_ih,
                                   4 * L_H * L_IN), 0);
        CHECK_INT_EQ(check_entries("weight_hh", &k, k.layer.weight_hh, grad.weight_hh,
                                   4 * L_H * L_H), 0);
        CHECK_INT_EQ(check_entries("bias_ih", &k, k.layer.bias_ih, grad.bias_ih, 4 * L_H), 0);
        CHECK_INT_EQ(check_entries("bias_hh", &k, k.layer.bias_hh, grad.bias_hh, 4 * L_H), 0);
        CHECK_INT_EQ(check_entries("x", &k, k.x, dx, ELEMENTSOF(k.x)), 0);
        CHECK_INT_EQ(check_entries("h0", &k, k.h0, dh, ELEMENTSOF(k.h0)), 0);
        CHECK_INT_EQ(check_entries("c0", &k, k.c0, dc, ELEMENTSOF(k.c0)), 0);
        fprintf(stderr, "lstm layer: worst relative gradient error %.2g\n", worst_error);

        /* the padded positions of x get no gradient at all */
        for (int t = 2; t < L_T; t++)
                for (int j = 0; j < L_IN; j++)
                        CHECK(dx[(t * L_B + 1) * L_IN + j] == 0.0f);
        for (int t = 0; t < L_T; t++)
                for (int j = 0; j < L_IN; j++)
                        CHECK(dx[(t * L_B + 2) * L_IN + j] == 0.0f);
}

/* ---- the whole model ------------------------------------------------- */

enum { M_B = 3, M_TS = 4, M_TD = 4 };

static const int32_t m_source[M_TS * M_B] = {
        /* t = 0 */ 4, 5, 0,
        /* t = 1 */ 6, 6, 0,
        /* t = 2 */ 5, 4, 0,
        /* t = 3 */ 4, 0, 0,
};
static const int m_source_lengths[M_B] = { 4, 3, 0 };
static const int32_t m_target_in[M_TD * M_B] = {
        1, 1, 1,
        6, 4, 0,
        4, 0, 0,
        5, 0, 0,
};
static const int32_t m_target_out[M_TD * M_B] = {
        6, 4, 2,
        4, 2, 0,
        5, 0, 0,
        2, 0, 0,
};
static const int m_target_lengths[M_B] = { 4, 2, 1 };

static const struct seq2seq_batch m_batch = {
        .size = M_B,
        .source_steps = M_TS,
        .target_steps = M_TD,
        .source = m_source,
        .source_lengths = m_source_lengths,
        .target_input = m_target_in,
        .target_output = m_target_out,
        .target_lengths = m_target_lengths,
};

static double model_loss(struct seq2seq *m, struct seq2seq_workspace *w, float dropout)
{
        struct seq2seq_loss loss;
        int r;

        r = seq2seq_forward(m, w, &m_batch, dropout, 7, &loss);
        CHECK_INT_EQ(r, 0);
        return loss.sum / loss.tokens;
}

struct model_case {
        struct seq2seq *m;
        struct seq2seq_workspace *w;
        float dropout;
};

static double model_loss_of(void *userdata)
{
        struct model_case *mc = userdata;

        return model_loss(mc->m, mc->w, mc->dropout);
}

static void test_model_gradients(float dropout)
{
        struct seq2seq_config config = { .vocab_size = 7, .embed_size = 3, .hidden_size = 4,
                                         .layers = 2 };
        struct seq2seq *m = NULL;
        struct seq2seq_workspace *w = NULL;
        struct seq2seq_loss loss;
        int n;

        CHECK_INT_EQ(seq2seq_new(&config, &m), 0);
        CHECK_INT_EQ(seq2seq_gradients_enable(m), 0);
        CHECK_INT_EQ(seq2seq_workspace_new(m, M_B, M_TS, M_TD, &w), 0);
        seq2seq_init_random(m, 3);
        /* PyTorch's initial LSTM weights for H = 4 are U(-0.5, 0.5): scaled
         * up, they carry gradients down to the encoder's first layer with
         * magnitudes worth checking */
        for (size_t i = 0; i < m->parameter_count; i++)
                m->parameters[i] *= 2.5f;

        CHECK_INT_EQ(seq2seq_forward(m, w, &m_batch, dropout, 7, &loss), 0);
        CHECK_INT_EQ(loss.tokens, 7);
        CHECK_INT_EQ(seq2seq_backward(m, w, &m_batch), 0);
        /* backward consumes the forward pass */
        CHECK_INT_EQ(seq2seq_backward(m, w, &m_batch), -EINVAL);

        worst_error = 0.0;
        n = seq2seq_tensor_count(&config);
        for (int i = 0; i < n; i++) {
                struct seq2seq_tensor t;
                int bad = 0;
                double largest = 0.0;

                seq2seq_tensor_describe(&config, i, &t);
                for (size_t j = 0; j < t.count; j++) {
                        struct model_case mc = { m, w, dropout };
                        double numeric, analytic;

                        numeric = five_point(model_loss_of, &mc, m->parameters + t.offset + j);
                        analytic = m->gradients[t.offset + j];
                        largest = fmax(largest, fabs(analytic));
                        if (!gradient_close(analytic, numeric) && bad++ < 5)
                                TEST_FAIL("dropout %.1f: %s[%zu]: analytic %.6g, numeric %.6g",
                                          dropout, t.name, j, analytic, numeric);
                }
                test_checks++;
                CHECK_INT_EQ(bad, 0);
                /* the comparison means something only where the gradient is
                 * well above the absolute tolerance */
                if (!(largest > 20 * FD_TOLERANCE * FD_FLOOR))
                        TEST_FAIL("%s: largest gradient %.3g is too small to check", t.name,
                                  largest);
        }
        fprintf(stderr, "model (dropout %.1f): worst relative gradient error %.2g\n", dropout,
                worst_error);

        /* token 3 appears nowhere: its embedding rows get nothing */
        for (int j = 0; j < 3; j++) {
                CHECK(m->grads.encoder_embedding[3 * 3 + j] == 0.0f);
                CHECK(m->grads.decoder_embedding[3 * 3 + j] == 0.0f);
        }

        seq2seq_workspace_free(w);
        seq2seq_free(m);
}

/* ---- a decoding step on binary16 weights ----------------------------- */

enum { S_IN = 64, S_H = 48, S_B = 3 };

/* lstm_step() reading packed binary16 copies of W_ih and W_hh stays within the
 * first-order bound seq2seq.h states: each gate's pre-activation moves by
 * at most e = 2^-11 (sum |W_ih x| + sum |W_hh h|), so c by at most
 * e_f |c| / 4 + e_i / 4 + e_g and h by that plus e_o / 4; and the copies
 * are really what is read (the results differ). */
static void test_step_half(void)
{
        static float block[4 * S_H * (S_IN + S_H) + 8 * S_H];
        static uint16_t half[4 * (S_H * S_IN + S_H * S_H)];     /* 4H = 192: whole panels */
        float x[S_B * S_IN], h0[S_B * S_H], c0[S_B * S_H];
        float h_want[S_B * S_H], c_want[S_B * S_H], h_got[S_B * S_H], c_got[S_B * S_H];
        float gates[S_B * 4 * S_H];
        struct lstm layer = { .input_size = S_IN, .hidden_size = S_H, .weight_ih = block };
        double worst_excess = -1.0, largest = 0.0;
        struct random r;

        layer.weight_hh = block + 4 * S_H * S_IN;
        layer.bias_ih = layer.weight_hh + 4 * S_H * S_H;
        layer.bias_hh = layer.bias_ih + 4 * S_H;
        random_init(&r, 7);
        fill(&r, block, ELEMENTSOF(block), 0.3f);
        fill(&r, x, ELEMENTSOF(x), 1.0f);
        fill(&r, h0, ELEMENTSOF(h0), 0.9f);
        fill(&r, c0, ELEMENTSOF(c0), 2.0f);

        memcpy(h_want, h0, sizeof(h0));
        memcpy(c_want, c0, sizeof(c0));
        lstm_step(&layer, S_B, x, h_want, c_want, gates);

        CHECK(matpack_half_size(4 * S_H, S_IN) + matpack_half_size(4 * S_H, S_H) ==
              ELEMENTSOF(half));
        matpack_half_make(layer.weight_ih, 4 * S_H, S_IN, half);
        matpack_half_make(layer.weight_hh, 4 * S_H, S_H, half + matpack_half_size(4 * S_H, S_IN));
        layer.weight_ih_packed = half;
        layer.weight_hh_packed = half + matpack_half_size(4 * S_H, S_IN);
        memcpy(h_got, h0, sizeof(h0));
        memcpy(c_got, c0, sizeof(c0));
        lstm_step(&layer, S_B, x, h_got, c_got, gates);

        for (int b = 0; b < S_B; b++)
                for (int j = 0; j < S_H; j++) {
                        double e[4], bound_c, bound_h;

                        for (int g = 0; g < 4; g++) {
                                const float *wi = layer.weight_ih + (size_t)(g * S_H + j) * S_IN;
                                const float *wh = layer.weight_hh + (size_t)(g * S_H + j) * S_H;
                                double sum = 0.0;

                                for (int k = 0; k < S_IN; k++)
                                        sum += fabs(wi[k] * x[b * S_IN + k]);
                                for (int k = 0; k < S_H; k++)
                                        sum += fabs(wh[k] * h0[b * S_H + k]);
                                e[g] = ldexp(sum, -11);
                        }
                        /* gates i, f, g, o; 1e-5 for float rounding and
                         * the second-order terms */
                        bound_c = e[1] * fabs(c0[b * S_H + j]) / 4 + e[0] / 4 + e[2] + 1e-5;
                        bound_h = bound_c + e[3] / 4;
                        worst_excess = fmax(worst_excess,
                                            fabs(c_got[b * S_H + j] - c_want[b * S_H + j]) -
                                                    bound_c);
                        worst_excess = fmax(worst_excess,
                                            fabs(h_got[b * S_H + j] - h_want[b * S_H + j]) -
                                                    bound_h);
                        largest = fmax(largest, fabs(h_got[b * S_H + j] - h_want[b * S_H + j]));
                }
        CHECK(worst_excess <= 0.0);
        CHECK(largest > 0.0);
}

int main(void)
{
        test_layer_gradients();
        test_step_half();
        test_model_gradients(0.0f);
        test_model_gradients(0.3f);
        return test_finish();
}
