/* lstm.c: LSTM layer forward and backward on cblas_sgemm (matvec.h for
 * products of a few rows, where sgemm's packing costs more than the
 * product); lstm_step() reads the packed binary16 weights when the layer
 * has them (decoding models, seq2seq_half_enable()). */
#include "autoconfig.h"

#include <cblas.h>
#include <string.h>

#include "lstm.h"
#include "matvec.h"
#include "vecmath.h"

/* The helpers below take and return 32-byte vectors; they are always
 * inlined, so no call crosses the ABI GCC notes for the baseline
 * (configure adds -Wno-psabi). */

/* Eight lanes from p, or the n < 8 there are and zeros. */
static inline __attribute__((always_inline)) vec8 load_lanes(const float *p, int n)
{
        float t[8] = { 0 };

        if (n >= 8)
                return vec8_load(p);
        memcpy(t, p, sizeof(float) * n);
        return vec8_load(t);
}

static inline __attribute__((always_inline)) void store_lanes(float *p, vec8 v, int n)
{
        float t[8];

        if (n >= 8) {
                vec8_store(p, v);
                return;
        }
        vec8_store(t, v);
        memcpy(p, t, sizeof(float) * n);
}

/* y [rows, out] += x [rows, in] weight^T, weight [out, in]: sgemm for
 * many rows, matvec.h's kernel (weights read once, no packing) for few. */
static void rows_times_weights_add(const float *weight, int out, int in, const float *x,
                                   int rows, float *y)
{
        if (rows <= MATVEC_ROWS_MAX) {
                matvec_rows_add(weight, out, in, x, rows, y);
                return;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, weight,
                    in, 1.0f, y, out);
}

/* gates: [batch, 4H], every row filled with b_ih + b_hh. */
static void lstm_bias_fill(const struct lstm *layer, int rows, float *gates)
{
        int G = 4 * layer->hidden_size;

        for (int j = 0; j < G; j++)
                gates[j] = layer->bias_ih[j] + layer->bias_hh[j];

        for (int r = 1; r < rows; r++)
                memcpy(gates + (size_t)r * G, gates, sizeof(float) * G);
}

/* One row's cell: gates [4H] pre-activations in, activations out;
 * c_prev, c_next, h_next: [H].  c_next may alias c_prev, h_next any h.
 * Eight units at a time: one instruction per operation where the CPU has
 * AVX2 (the clone picked at run time, where configure found target_clones),
 * two halves elsewhere. */
CLONES_AVX2
static void lstm_cell(int H, float *gates, const float *c_prev, float *c_next, float *h_next)
{
        float *gi = gates, *gf = gates + H, *gg = gates + 2 * H, *go = gates + 3 * H;

        for (int j = 0; j < H; j += 8) {
                int n = H - j;
                vec8 i = vec8_sigmoid(load_lanes(gi + j, n));
                vec8 f = vec8_sigmoid(load_lanes(gf + j, n));
                vec8 g = vec8_tanh(load_lanes(gg + j, n));
                vec8 o = vec8_sigmoid(load_lanes(go + j, n));
                vec8 c = f * load_lanes(c_prev + j, n) + i * g;

                store_lanes(gi + j, i, n);
                store_lanes(gf + j, f, n);
                store_lanes(gg + j, g, n);
                store_lanes(go + j, o, n);
                store_lanes(c_next + j, c, n);
                store_lanes(h_next + j, o * vec8_tanh(c), n);
        }
}

void lstm_forward(const struct lstm *layer, int steps, int batch, const int *lengths,
                  const float *x, float *gates, float *h, float *c)
{
        int H = layer->hidden_size, G = 4 * H, In = layer->input_size;
        size_t step_h = (size_t)batch * H, step_g = (size_t)batch * G;

        if (steps <= 0 || batch <= 0)
                return;

        /* gates[t, b, :] = b_ih + b_hh + x[t, b, :] W_ih^T, every step at once */
        lstm_bias_fill(layer, steps * batch, gates);
        rows_times_weights_add(layer->weight_ih, G, In, x, steps * batch, gates);

        for (int t = 0; t < steps; t++) {
                float *g_t = gates + t * step_g;                        /* [B, 4H] */
                const float *h_prev = h + t * step_h, *c_prev = c + t * step_h; /* [B, H] */
                float *h_next = h + (t + 1) * step_h, *c_next = c + (t + 1) * step_h;

                /* g_t += h_prev W_hh^T: [B, H] x [H, 4H] */
                rows_times_weights_add(layer->weight_hh, G, H, h_prev, batch, g_t);

                for (int b = 0; b < batch; b++) {
                        size_t o = (size_t)b * H;

                        if (t < lengths[b]) {
                                lstm_cell(H, g_t + (size_t)b * G, c_prev + o, c_next + o,
                                          h_next + o);
                        } else {
                                memcpy(h_next + o, h_prev + o, sizeof(float) * H);
                                memcpy(c_next + o, c_prev + o, sizeof(float) * H);
                        }
                }
        }
}

/* One real row at step t: gate activations g [4H], c_prev, c_next [H], the
 * output gradient dh [H]; dc [H] is the gradient for c_next in and for
 * c_prev out; dg [4H] receives the pre-activation gradients.  Eight units
 * at a time, as lstm_cell(). */
CLONES_AVX2
static void lstm_cell_backward(int H, const float *g, const float *c_prev, const float *c_next,
                               const float *dh, float *dc, float *dg)
{
        const float *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;

        for (int j = 0; j < H; j += 8) {
                int n = H - j;
                vec8 i = load_lanes(gi + j, n), f = load_lanes(gf + j, n);
                vec8 gc = load_lanes(gg + j, n), o = load_lanes(go + j, n);
                vec8 tc = vec8_tanh(load_lanes(c_next + j, n));
                vec8 d = load_lanes(dh + j, n);
                vec8 dcj = load_lanes(dc + j, n) + d * o * (1.0f - tc * tc);

                store_lanes(dg + j, dcj * gc * i * (1.0f - i), n);
                store_lanes(dg + H + j, dcj * load_lanes(c_prev + j, n) * f * (1.0f - f), n);
                store_lanes(dg + 2 * H + j, dcj * i * (1.0f - gc * gc), n);
                store_lanes(dg + 3 * H + j, d * tc * o * (1.0f - o), n);
                store_lanes(dc + j, dcj * f, n);
        }
}

void lstm_backward(const struct lstm *layer, const struct lstm *grad, int steps, int batch,
                   const int *lengths, const float *x, const float *gates, const float *h,
                   const float *c, float *dh, float *dc, float *dgates, float *dx)
{
        int H = layer->hidden_size, G = 4 * H, In = layer->input_size;
        size_t step_h = (size_t)batch * H, step_g = (size_t)batch * G;
        int rows = steps * batch;

        if (steps <= 0 || batch <= 0)
                return;

        for (int t = steps - 1; t >= 0; t--) {
                const float *g_t = gates + t * step_g;                  /* [B, 4H] */
                float *dg_t = dgates + t * step_g;                      /* [B, 4H] */
                const float *c_prev = c + t * step_h, *c_next = c_prev + step_h; /* [B, H] */
                float *dh_prev = dh + t * step_h, *dh_next = dh_prev + step_h;  /* [B, H] */

                for (int b = 0; b < batch; b++) {
                        size_t o = (size_t)b * H, og = (size_t)b * G;

                        if (t < lengths[b]) {
                                lstm_cell_backward(H, g_t + og, c_prev + o, c_next + o,
                                                   dh_next + o, dc + o, dg_t + og);
                        } else {
                                /* the carried state passes its gradient on */
                                memset(dg_t + og, 0, sizeof(float) * G);
                                for (int j = 0; j < H; j++)
                                        dh_prev[o + j] += dh_next[o + j];
                        }
                }

                /* dh_prev += dg_t W_hh: [B, 4H] x [4H, H] */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, H, G, 1.0f, dg_t, G,
                            layer->weight_hh, H, 1.0f, dh_prev, H);
        }

        /* dW_ih += dgates^T x: [4H, T*B] x [T*B, In] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, In, rows, 1.0f, dgates, G, x, In,
                    1.0f, grad->weight_ih, In);
        /* dW_hh += dgates^T h[0 .. T-1]: [4H, T*B] x [T*B, H] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, rows, 1.0f, dgates, G, h, H,
                    1.0f, grad->weight_hh, H);

        for (int r = 0; r < rows; r++) {
                const float *dg = dgates + (size_t)r * G;

                for (int j = 0; j < G; j++) {
                        grad->bias_ih[j] += dg[j];
                        grad->bias_hh[j] += dg[j];
                }
        }

        /* dx += dgates W_ih: [T*B, 4H] x [4H, In] */
        if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, In, G, 1.0f, dgates,
                            G, layer->weight_ih, In, 1.0f, dx, In);
}

void lstm_step(const struct lstm *layer, int batch, const float *x, float *h, float *c,
               float *gates)
{
        int H = layer->hidden_size, G = 4 * H, In = layer->input_size;

        if (batch <= 0)
                return;

        /* gates = b_ih + b_hh + x W_ih^T + h W_hh^T: [B, 4H] */
        lstm_bias_fill(layer, batch, gates);
        if (layer->weight_ih_packed && layer->weight_hh_packed) {
                matpack_half_rows_add(layer->weight_ih_packed, G, In, x, batch, gates);
                matpack_half_rows_add(layer->weight_hh_packed, G, H, h, batch, gates);
        } else {
                rows_times_weights_add(layer->weight_ih, G, In, x, batch, gates);
                rows_times_weights_add(layer->weight_hh, G, H, h, batch, gates);
        }

        for (int b = 0; b < batch; b++)
                lstm_cell(H, gates + (size_t)b * G, c + (size_t)b * H, c + (size_t)b * H,
                          h + (size_t)b * H);
}
