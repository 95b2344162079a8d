/* lstm.h: one LSTM layer over a right-padded batch of sequences.
 *
 * The gates follow PyTorch's nn.LSTM, so weights convert without
 * reordering:
 *
 *   [i f g o] = x W_ih^T + b_ih + h W_hh^T + b_hh      (rows of W: i, f, g, o)
 *   i, f, o = sigmoid(.), g = tanh(.)
 *   c' = f * c + i * g,   h' = o * tanh(c')
 *
 * Tensors are time-major: x is [steps, batch, input], one time step is a
 * contiguous [batch, ...] block.  Row b of the batch is real for steps
 * t < lengths[b] and padding after; at a padded step the state is carried
 * unchanged (h' = h, c' = c), so the state after the last step is each
 * row's state after its own last real token, and padding contributes
 * nothing to any gradient.
 *
 * The input projection for every step is one matrix product before the
 * time loop; only the recurrent product runs per step.  Backward
 * accumulates into the gradient tensors (+=), as the model's backward pass
 * sums the contributions of every use of a weight. */
#ifndef PARLEY_LSTM_H
#define PARLEY_LSTM_H

#include <stdint.h>

/* A layer's weights: views into the model's parameter block (or, with the
 * same layout, its gradient block).  For decoding, the two weight matrices
 * may also have binary16 copies packed by matpack_half_make()
 * (seq2seq_half_enable()), which lstm_step() then reads instead (decoding:
 * the encoder and the decoder step by step); lstm_forward() and
 * lstm_backward() (training, evaluation) always read the floats. */
struct lstm {
        int input_size;         /* In */
        int hidden_size;        /* H */
        float *weight_ih;       /* [4H, In] */
        float *weight_hh;       /* [4H, H] */
        float *bias_ih;         /* [4H] */
        float *bias_hh;         /* [4H] */
        const uint16_t *weight_ih_packed;       /* [4H, In] packed, or NULL */
        const uint16_t *weight_hh_packed;       /* [4H, H] packed, or NULL */
};

/* What lstm_forward() keeps for lstm_backward(), sized by the caller.
 *   gates: [steps, batch, 4H] i, f, g, o after their nonlinearities
 *   h:     [steps + 1, batch, H]; h[0] is the initial state (set by the
 *          caller), h[t + 1] the output of step t
 *   c:     [steps + 1, batch, H]; likewise */
void lstm_forward(const struct lstm *layer, int steps, int batch, const int *lengths,
                  const float *x, float *gates, float *h, float *c);

/* Backward through the whole sequence.
 *   x, gates, h, c: as forward left them
 *   dh:     [steps + 1, batch, H], in: dh[t + 1] the loss gradient with
 *           respect to h[t + 1] from outside the layer (the layer above,
 *           the output layer, or the next network for the final state),
 *           dh[0] what is known of the gradient for the initial state
 *           (usually 0); out: dh[0] holds the full gradient for h[0], the
 *           other steps are used as scratch
 *   dc:     [batch, H], in: the gradient for the final c; out: for c[0]
 *   dgates: [steps, batch, 4H] scratch
 *   dx:     [steps, batch, In] accumulated (+=), or NULL when the input
 *           needs no gradient
 * Weight gradients are accumulated into grad (same sizes as layer). */
void lstm_backward(const struct lstm *layer, const struct lstm *grad, int steps, int batch,
                   const int *lengths, const float *x, const float *gates, const float *h,
                   const float *c, float *dh, float *dc, float *dgates, float *dx);

/* One step for every row, no padding, for decoding:
 *   x: [batch, In]; h, c: [batch, H] updated in place; gates: [batch, 4H]
 *   scratch.  Allocation-free. */
void lstm_step(const struct lstm *layer, int batch, const float *x, float *h, float *c,
               float *gates);

#endif
