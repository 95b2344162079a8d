/* matvec.c: a few rows times a row-major weight matrix, weights read once.
 *
 * The weight matrix is walked four rows (output units) at a time; each
 * block of four is multiplied by every input row, two at a time, while it
 * sits in L1, so memory sees each weight once.  Sums run on 8-lane
 * vectors; the kernel is compiled twice, for AVX2 + FMA and for the
 * baseline target, and the CPU picks at run time. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "matvec.h"

typedef float vec8 __attribute__((vector_size(32)));

/* The helpers below pass vec8 by value; they are always inlined, so no
 * call ever crosses the ABI that GCC warns about for the baseline build. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define INLINE static inline __attribute__((always_inline))

INLINE vec8 vec8_load(const float *p)
{
        vec8 v;

        memcpy(&v, p, sizeof(v));
        return v;
}

INLINE float vec8_sum(vec8 v)
{
        return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* y[i] += the sum of a_i's lanes, i < 4: a transposing reduction, six
 * shuffles and adds for the four sums where one at a time would take
 * about twenty operations each. */
INLINE void vec8_sum4_add(vec8 a0, vec8 a1, vec8 a2, vec8 a3, float *y)
{
        typedef int32_t vec8i __attribute__((vector_size(32)));
        const vec8i even = { 0, 8, 2, 10, 4, 12, 6, 14 }, odd = { 1, 9, 3, 11, 5, 13, 7, 15 };
        const vec8i lo = { 0, 1, 8, 9, 4, 5, 12, 13 }, hi = { 2, 3, 10, 11, 6, 7, 14, 15 };
        /* t01 = [a0 01, a1 01, a0 23, a1 23, a0 45, a1 45, a0 67, a1 67] */
        vec8 t01 = __builtin_shuffle(a0, a1, even) + __builtin_shuffle(a0, a1, odd);
        vec8 t23 = __builtin_shuffle(a2, a3, even) + __builtin_shuffle(a2, a3, odd);
        /* u = [a0 0-3, a1 0-3, a2 0-3, a3 0-3, a0 4-7, a1 4-7, a2 4-7, a3 4-7] */
        vec8 u = __builtin_shuffle(t01, t23, lo) + __builtin_shuffle(t01, t23, hi);

        y[0] += u[0] + u[4];
        y[1] += u[1] + u[5];
        y[2] += u[2] + u[6];
        y[3] += u[3] + u[7];
}

/* y[0 .. 4) += w[i, :] . x for the four rows of w: [4, in]. */
INLINE void block_4x1(const float *w, int in, const float *x, float *y)
{
        const float *w1 = w + in, *w2 = w1 + in, *w3 = w2 + in;
        vec8 a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
        int k = 0;

        for (; k + 8 <= in; k += 8) {
                vec8 u = vec8_load(x + k);

                a0 += vec8_load(w + k) * u;
                a1 += vec8_load(w1 + k) * u;
                a2 += vec8_load(w2 + k) * u;
                a3 += vec8_load(w3 + k) * u;
        }
        for (; k < in; k++) {
                y[0] += w[k] * x[k];
                y[1] += w1[k] * x[k];
                y[2] += w2[k] * x[k];
                y[3] += w3[k] * x[k];
        }
        vec8_sum4_add(a0, a1, a2, a3, y);
}

/* The same for two input rows: ya[i] += w[i, :] . xa, yb[i] += w[i, :] . xb. */
INLINE void block_4x2(const float *w, int in, const float *xa, const float *xb, float *ya,
                      float *yb, bool prefetch)
{
        const float *w1 = w + in, *w2 = w1 + in, *w3 = w2 + in;
        vec8 a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
        vec8 b0 = { 0 }, b1 = { 0 }, b2 = { 0 }, b3 = { 0 };
        int k = 0;

        for (; k + 8 <= in; k += 8) {
                vec8 u = vec8_load(xa + k), v = vec8_load(xb + k), q;

                /* the next block's weights, a line per row every other
                 * step, while these come from L1 */
                if (prefetch && (k & 8) == 0) {
                        __builtin_prefetch(w + 4 * (size_t)in + k);
                        __builtin_prefetch(w1 + 4 * (size_t)in + k);
                        __builtin_prefetch(w2 + 4 * (size_t)in + k);
                        __builtin_prefetch(w3 + 4 * (size_t)in + k);
                }

                q = vec8_load(w + k);
                a0 += q * u;
                b0 += q * v;
                q = vec8_load(w1 + k);
                a1 += q * u;
                b1 += q * v;
                q = vec8_load(w2 + k);
                a2 += q * u;
                b2 += q * v;
                q = vec8_load(w3 + k);
                a3 += q * u;
                b3 += q * v;
        }
        for (; k < in; k++)
                for (int i = 0; i < 4; i++) {
                        ya[i] += w[(size_t)i * in + k] * xa[k];
                        yb[i] += w[(size_t)i * in + k] * xb[k];
                }
        vec8_sum4_add(a0, a1, a2, a3, ya);
        vec8_sum4_add(b0, b1, b2, b3, yb);
}

INLINE float dot(const float *w, const float *x, int in)
{
        vec8 a = { 0 };
        float s;
        int k = 0;

        for (; k + 8 <= in; k += 8)
                a += vec8_load(w + k) * vec8_load(x + k);
        s = vec8_sum(a);
        for (; k < in; k++)
                s += w[k] * x[k];
        return s;
}

INLINE void kernel(const float *weight, int out, int in, const float *x, int rows, float *y)
{
        int j = 0;

        for (; j + 4 <= out; j += 4) {
                const float *w = weight + (size_t)j * in;       /* [4, in] */
                int r = 0;

                for (; r + 2 <= rows; r += 2)
                        block_4x2(w, in, x + (size_t)r * in, x + (size_t)(r + 1) * in,
                                  y + (size_t)r * out + j, y + (size_t)(r + 1) * out + j,
                                  r == 0 && j + 8 <= out);
                if (r < rows)
                        block_4x1(w, in, x + (size_t)r * in, y + (size_t)r * out + j);
        }

        /* the last out % 4 weight rows */
        for (; j < out; j++)
                for (int r = 0; r < rows; r++)
                        y[(size_t)r * out + j] += dot(weight + (size_t)j * in,
                                                      x + (size_t)r * in, in);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define MATVEC_AVX2 1
__attribute__((target("avx2,fma"))) static void kernel_avx2(const float *weight, int out,
                                                             int in, const float *x, int rows,
                                                             float *y)
{
        kernel(weight, out, in, x, rows, y);
}
#endif

static void kernel_generic(const float *weight, int out, int in, const float *x, int rows,
                           float *y)
{
        kernel(weight, out, in, x, rows, y);
}

void matvec_rows_add(const float *weight, int out, int in, const float *x, int rows, float *y)
{
        if (rows <= 0 || out <= 0)
                return;

#ifdef MATVEC_AVX2
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
                kernel_avx2(weight, out, in, x, rows, y);
                return;
        }
#endif
        kernel_generic(weight, out, in, x, rows, y);
}
