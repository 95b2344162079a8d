/* matvec.h: products of rows against a weight matrix without sgemm.
 *
 * Decoding multiplies one row (greedy), a handful (a beam) or a batch of
 * prompts against the LSTM's [4H, In] and the output layer's [V, H]
 * matrices, once per token.  cblas_sgemm packs the whole weight matrix
 * into its own layout on every call: for one row against the
 * 10,000 x 256 output matrix that copy cost four times the product, and at
 * 32 rows it was still a third of the call.  These kernels read weights
 * laid out once: matvec_rows_add() the float matrix in place (training's
 * products of few rows), matpack_half_rows_add() a binary16 copy packed in
 * panels (decoding, any number of rows).
 *
 * On x86-64 CPUs with AVX2 and FMA (checked at run time) the kernels run
 * on 8 lanes with fused multiply-adds, elsewhere on the compiler's generic
 * vectors.  Sums are in a different order from sgemm's, so results differ
 * from it in the last bits. */
#ifndef PARLEY_MATVEC_H
#define PARLEY_MATVEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Up to this many rows, matvec_rows_add() beats cblas_sgemm (measured on
 * the seed sizes, docs/performance.md). */
#define MATVEC_ROWS_MAX 8

/* y[r, j] += x[r, :] . weight[j, :] for r < rows, j < out:
 *   weight: [out, in] row-major; x: [rows, in]; y: [rows, out].
 * Allocation-free; any rows >= 0, though meant for rows <= MATVEC_ROWS_MAX. */
void matvec_rows_add(const float *weight, int out, int in, const float *x, int rows, float *y);

/* Weights in binary16 packed for products of any number of rows: panels
 * of MATPACK_PANEL output units, each holding, for k = 0 .. in - 1, the
 * panel's weights w[j, k] side by side (the last panel padded with
 * zeros).  A product step then loads a panel's sixteen weights for one k
 * as two vectors and multiplies them by one input of each of up to
 * MATPACK_TILE_ROWS rows, keeping every sum in a register: no packing per
 * call (sgemm packs the whole matrix every time), no horizontal sums (the
 * matvec kernel's), and half the bytes of float. */
#define MATPACK_PANEL 16
#define MATPACK_TILE_ROWS 6

/* The packed size, in halves, of an [out, in] matrix. */
size_t matpack_half_size(int out, int in);

/* Packs weight [out, in] (row-major float) into packed
 * [matpack_half_size(out, in)], each weight rounded to the nearest half
 * (matvec_half_from_float()). */
void matpack_half_make(const float *weight, int out, int in, uint16_t *packed);

/* y[r, j] += x[r, :] . w[j, :] for r < rows, j < out, w packed by
 * matpack_half_make().  Any rows >= 0; allocation-free; AVX2 + FMA + F16C
 * where the CPU has them, the baseline's vectors elsewhere.  Sums over k
 * run in order, in float. */
void matpack_half_rows_add(const uint16_t *packed, int out, int in, const float *x, int rows,
                           float *y);

/* For tests: true makes both products use the baseline kernels even where
 * the CPU has AVX2, so the tests run them too.  Takes effect from the next
 * product; not thread-safe. */
void matvec_baseline_only(bool on);

/* f rounded to the nearest binary16, ties to even: +-inf past 65504,
 * subnormals below 2^-14, nan stays nan. */
uint16_t matvec_half_from_float(float f);

#endif
