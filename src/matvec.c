/* matvec.c: a few rows times a row-major float weight matrix, weights read
 * once; and any number of rows times a packed binary16 one.
 *
 * matvec_rows_add() walks the weight matrix four rows (output units) at a
 * time; each block of four is multiplied by every input row, two at a
 * time, while it sits in L1, so memory sees each weight once.
 * matpack_half_rows_add() walks panels of sixteen output units, each
 * multiplied by up to six input rows at a time with every sum in a
 * register.  Sums run on 8-lane vectors; the kernels are compiled for AVX2
 * + FMA + F16C and for the baseline target, and the CPU picks at run
 * time. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "matvec.h"

typedef float vec8 __attribute__((vector_size(32)));

/* The helpers below pass vec8 by value; they are always inlined, so no
 * call ever crosses the ABI that GCC notes for the baseline build
 * (configure adds -Wno-psabi). */

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

/* How the kernel reads weights: 8 from element i on, or one.  Each
 * kernel below is inlined with constant loaders, so the calls vanish. */
typedef vec8 (*load8_fn)(const void *w, size_t i);
typedef float (*load1_fn)(const void *w, size_t i);

INLINE vec8 float_load8(const void *w, size_t i)
{
        return vec8_load((const float *)w + i);
}

INLINE float float_load1(const void *w, size_t i)
{
        return ((const float *)w)[i];
}

/* IEEE binary16 to float, exactly (every half is a float). */
static float half_to_float(uint16_t h)
{
        uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f;
        uint32_t mantissa = h & 0x3ff, bits;
        float f;

        if (exponent == 0x1f)                   /* inf, nan */
                bits = sign | 0x7f800000 | mantissa << 13;
        else if (exponent != 0)                 /* normal */
                bits = sign | (exponent + 112) << 23 | mantissa << 13;
        else {                                  /* zero, subnormal: m 2^-24 */
                f = (float)mantissa * 0x1p-24f;
                memcpy(&bits, &f, sizeof(bits));
                bits |= sign;
        }
        memcpy(&f, &bits, sizeof(f));
        return f;
}

INLINE vec8 half_load8(const void *w, size_t i)
{
        const uint16_t *p = (const uint16_t *)w + i;
        vec8 v;

        for (int k = 0; k < 8; k++)
                v[k] = half_to_float(p[k]);
        return v;
}

/* y[0 .. 4) += w[i, :] . x for the four rows of w: [4, in]. */
INLINE void block_4x1(const void *w0, int in, const float *x, float *y, load8_fn load8,
                      load1_fn load1)
{
        size_t w = 0, w1 = in, w2 = 2 * (size_t)in, w3 = 3 * (size_t)in;
        vec8 a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
        int k = 0;

        for (; k + 8 <= in; k += 8) {
                vec8 u = vec8_load(x + k);

                a0 += load8(w0, w + k) * u;
                a1 += load8(w0, w1 + k) * u;
                a2 += load8(w0, w2 + k) * u;
                a3 += load8(w0, w3 + k) * u;
        }
        for (; k < in; k++) {
                y[0] += load1(w0, w + k) * x[k];
                y[1] += load1(w0, w1 + k) * x[k];
                y[2] += load1(w0, w2 + k) * x[k];
                y[3] += load1(w0, w3 + k) * x[k];
        }
        vec8_sum4_add(a0, a1, a2, a3, y);
}

/* The same for two input rows: ya[i] += w[i, :] . xa, yb[i] += w[i, :] . xb. */
INLINE void block_4x2(const void *w0, size_t weight_size, int in, const float *xa,
                      const float *xb, float *ya, float *yb, bool prefetch, load8_fn load8,
                      load1_fn load1)
{
        size_t w = 0, w1 = in, w2 = 2 * (size_t)in, w3 = 3 * (size_t)in;
        const char *next = (const char *)w0 + 4 * (size_t)in * weight_size;
        vec8 a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
        vec8 b0 = { 0 }, b1 = { 0 }, b2 = { 0 }, b3 = { 0 };
        int k = 0;

        for (; k + 8 <= in; k += 8) {
                vec8 u = vec8_load(xa + k), v = vec8_load(xb + k), q;

                /* the next block's weights, a line per row every other
                 * step, while these come from L1 */
                if (prefetch && (k & 8) == 0) {
                        __builtin_prefetch(next + (w + k) * weight_size);
                        __builtin_prefetch(next + (w1 + k) * weight_size);
                        __builtin_prefetch(next + (w2 + k) * weight_size);
                        __builtin_prefetch(next + (w3 + k) * weight_size);
                }

                q = load8(w0, w + k);
                a0 += q * u;
                b0 += q * v;
                q = load8(w0, w1 + k);
                a1 += q * u;
                b1 += q * v;
                q = load8(w0, w2 + k);
                a2 += q * u;
                b2 += q * v;
                q = load8(w0, w3 + k);
                a3 += q * u;
                b3 += q * v;
        }
        for (; k < in; k++)
                for (int i = 0; i < 4; i++) {
                        float q = load1(w0, (size_t)i * in + k);

                        ya[i] += q * xa[k];
                        yb[i] += q * xb[k];
                }
        vec8_sum4_add(a0, a1, a2, a3, ya);
        vec8_sum4_add(b0, b1, b2, b3, yb);
}

/* weight row w0 [in] (from element 0) . x [in] */
INLINE float dot(const void *w0, const float *x, int in, load8_fn load8, load1_fn load1)
{
        vec8 a = { 0 };
        float s;
        int k = 0;

        for (; k + 8 <= in; k += 8)
                a += load8(w0, k) * vec8_load(x + k);
        s = vec8_sum(a);
        for (; k < in; k++)
                s += load1(w0, k) * x[k];
        return s;
}

/* weight: [out, in] of elements weight_size bytes wide, read by load8 and
 * load1. */
INLINE void kernel(const void *weight, size_t weight_size, int out, int in, const float *x,
                   int rows, float *y, load8_fn load8, load1_fn load1)
{
        const char *base = weight;
        int j = 0;

        for (; j + 4 <= out; j += 4) {
                const void *w = base + (size_t)j * in * weight_size;    /* [4, in] */
                int r = 0;

                for (; r + 2 <= rows; r += 2)
                        block_4x2(w, weight_size, in, x + (size_t)r * in,
                                  x + (size_t)(r + 1) * in, y + (size_t)r * out + j,
                                  y + (size_t)(r + 1) * out + j, r == 0 && j + 8 <= out,
                                  load8, load1);
                if (r < rows)
                        block_4x1(w, in, x + (size_t)r * in, y + (size_t)r * out + j, load8,
                                  load1);
        }

        /* the last out % 4 weight rows */
        for (; j < out; j++)
                for (int r = 0; r < rows; r++)
                        y[(size_t)r * out + j] += dot(base + (size_t)j * in * weight_size,
                                                      x + (size_t)r * in, in, load8, load1);
}

/* ---- packed binary16 weights, any number of rows --------------------- */

/* A tile: y[i, j0 + c] += x[i, :] . w[j0 + c, :] for rows i < R and the
 * panel's columns c < width (16 but for the last panel).  The panel holds
 * w[j0 .. j0 + 16, k] for k = 0, 1, ... sixteen halves at a time, so each
 * step of k loads two vectors of weights and broadcasts one input per row:
 * R x 2 accumulators, no horizontal sums. */
INLINE void tile_store(float *row, vec8 a, vec8 b, int width)
{
        if (width == MATPACK_PANEL) {
                a += vec8_load(row);
                b += vec8_load(row + 8);
                memcpy(row, &a, sizeof(a));
                memcpy(row + 8, &b, sizeof(b));
                return;
        }
        for (int c = 0; c < width; c++)
                row[c] += c < 8 ? a[c] : b[c - 8];
}

INLINE void packed_tile(const uint16_t *panel, int in, const float *x, int R, float *y,
                        int out, int width, load8_fn load8)
{
        /* named accumulators, not an array: with R a constant after
         * inlining, the unused ones vanish and the rest stay in registers */
        vec8 a0 = { 0 }, b0 = { 0 }, a1 = { 0 }, b1 = { 0 }, a2 = { 0 }, b2 = { 0 };
        vec8 a3 = { 0 }, b3 = { 0 }, a4 = { 0 }, b4 = { 0 }, a5 = { 0 }, b5 = { 0 };
        /* row i's input, formed only for the rows the tile has (a pointer
         * past the end of x would be undefined even unread) */
        const float *x0 = x;
        const float *x1 = x + (R > 1 ? 1 * (size_t)in : 0);
        const float *x2 = x + (R > 2 ? 2 * (size_t)in : 0);
        const float *x3 = x + (R > 3 ? 3 * (size_t)in : 0);
        const float *x4 = x + (R > 4 ? 4 * (size_t)in : 0);
        const float *x5 = x + (R > 5 ? 5 * (size_t)in : 0);

        for (int k = 0; k < in; k++) {
                vec8 w0 = load8(panel, (size_t)k * MATPACK_PANEL),
                     w1 = load8(panel, (size_t)k * MATPACK_PANEL + 8);

#define TILE_ROW(i)                             \
        if (R > i) {                            \
                a##i += w0 * x##i[k];           \
                b##i += w1 * x##i[k];           \
        }
                TILE_ROW(0)
                TILE_ROW(1)
                TILE_ROW(2)
                TILE_ROW(3)
                TILE_ROW(4)
                TILE_ROW(5)
#undef TILE_ROW
        }

        tile_store(y, a0, b0, width);
        if (R > 1)
                tile_store(y + (size_t)out, a1, b1, width);
        if (R > 2)
                tile_store(y + 2 * (size_t)out, a2, b2, width);
        if (R > 3)
                tile_store(y + 3 * (size_t)out, a3, b3, width);
        if (R > 4)
                tile_store(y + 4 * (size_t)out, a4, b4, width);
        if (R > 5)
                tile_store(y + 5 * (size_t)out, a5, b5, width);
}

/* Every panel, and for each panel every tile of up to MATPACK_TILE_ROWS
 * rows while the panel (16 x in halves: 8 KiB at in = 256) sits in L1.
 * The switch gives each tile height its own unrolled copy. */
INLINE void packed_kernel(const uint16_t *packed, int out, int in, const float *x, int rows,
                          float *y, load8_fn load8)
{
        int panels = (out + MATPACK_PANEL - 1) / MATPACK_PANEL;

        for (int p = 0; p < panels; p++) {
                const uint16_t *panel = packed + (size_t)p * in * MATPACK_PANEL;
                int j0 = p * MATPACK_PANEL;
                int width = out - j0 < MATPACK_PANEL ? out - j0 : MATPACK_PANEL;

                for (int r = 0; r < rows; r += MATPACK_TILE_ROWS) {
                        const float *xr = x + (size_t)r * in;
                        float *yr = y + (size_t)r * out + j0;

                        switch (rows - r < MATPACK_TILE_ROWS ? rows - r : MATPACK_TILE_ROWS) {
                        case 1:
                                packed_tile(panel, in, xr, 1, yr, out, width, load8);
                                break;
                        case 2:
                                packed_tile(panel, in, xr, 2, yr, out, width, load8);
                                break;
                        case 3:
                                packed_tile(panel, in, xr, 3, yr, out, width, load8);
                                break;
                        case 4:
                                packed_tile(panel, in, xr, 4, yr, out, width, load8);
                                break;
                        case 5:
                                packed_tile(panel, in, xr, 5, yr, out, width, load8);
                                break;
                        default:
                                packed_tile(panel, in, xr, 6, yr, out, width, load8);
                                break;
                        }
                }
        }
}

#ifdef HAVE_AVX2_INTRINSICS
#include <immintrin.h>

#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

TARGET_AVX2 INLINE vec8 half_load8_f16c(const void *w, size_t i)
{
        return (vec8)_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
}

TARGET_AVX2 static void kernel_avx2(const float *weight, int out, int in, const float *x,
                                    int rows, float *y)
{
        kernel(weight, sizeof(float), out, in, x, rows, y, float_load8, float_load1);
}

TARGET_AVX2 static void packed_kernel_avx2(const uint16_t *packed, int out, int in,
                                           const float *x, int rows, float *y)
{
        packed_kernel(packed, out, in, x, rows, y, half_load8_f16c);
}

static bool baseline_only;

static bool cpu_has_avx2(void)
{
        return !baseline_only && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
#endif

void matvec_baseline_only(bool on)
{
#ifdef HAVE_AVX2_INTRINSICS
        baseline_only = on;
#else
        (void)on;
#endif
}

void matvec_rows_add(const float *weight, int out, int in, const float *x, int rows, float *y)
{
        if (rows <= 0 || out <= 0)
                return;

#ifdef HAVE_AVX2_INTRINSICS
        if (cpu_has_avx2()) {
                kernel_avx2(weight, out, in, x, rows, y);
                return;
        }
#endif
        kernel(weight, sizeof(float), out, in, x, rows, y, float_load8, float_load1);
}

size_t matpack_half_size(int out, int in)
{
        return (size_t)(out + MATPACK_PANEL - 1) / MATPACK_PANEL * MATPACK_PANEL * (size_t)in;
}

void matpack_half_make(const float *weight, int out, int in, uint16_t *packed)
{
        int panels = (out + MATPACK_PANEL - 1) / MATPACK_PANEL;

        for (int p = 0; p < panels; p++)
                for (int k = 0; k < in; k++)
                        for (int c = 0; c < MATPACK_PANEL; c++) {
                                int j = p * MATPACK_PANEL + c;

                                *packed++ = j < out ?
                                        matvec_half_from_float(weight[(size_t)j * in + k]) : 0;
                        }
}

void matpack_half_rows_add(const uint16_t *packed, int out, int in, const float *x, int rows,
                           float *y)
{
        if (rows <= 0 || out <= 0)
                return;

#ifdef HAVE_AVX2_INTRINSICS
        if (cpu_has_avx2()) {
                packed_kernel_avx2(packed, out, in, x, rows, y);
                return;
        }
#endif
        packed_kernel(packed, out, in, x, rows, y, half_load8);
}

uint16_t matvec_half_from_float(float f)
{
        uint32_t bits, sign, magnitude;
        float a;

        memcpy(&bits, &f, sizeof(bits));
        sign = (bits >> 16) & 0x8000;
        magnitude = bits & 0x7fffffff;

        if (magnitude > 0x7f800000)                     /* nan: stays a nan */
                return (uint16_t)(sign | 0x7e00);
        if (magnitude >= 0x477ff000)                    /* rounds past 65504 */
                return (uint16_t)(sign | 0x7c00);
        if (magnitude < 0x38800000) {                   /* below 2^-14: subnormal */
                /* in units of 2^-24, rounded to nearest even by the FPU's
                 * default mode */
                memcpy(&a, &magnitude, sizeof(a));
                return (uint16_t)(sign | (uint32_t)__builtin_rintf(a * 0x1p24f));
        }

        /* normal: drop 13 mantissa bits, rounding to nearest even; a carry
         * into the exponent is the right result */
        magnitude += ((magnitude >> 13) & 1) + 0xfff;
        return (uint16_t)(sign | ((magnitude - (112u << 23)) >> 13));
}
