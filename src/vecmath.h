/* vecmath.h: exp, sigmoid and tanh on four floats at once.
 *
 * The LSTM's gates and the softmax over the vocabulary evaluate millions
 * of exponentials per training step; the C library's expf and tanhf are
 * scalar calls that the compiler cannot vectorise without -ffast-math,
 * and took as long as the matrix products around them.  These are the
 * Cephes single-precision algorithms (range reduction to [-ln2/2, ln2/2]
 * and a degree-6 polynomial for exp; an odd polynomial near 0 and
 * 1 - 2 / (exp(2x) + 1) elsewhere for tanh), written with the GCC/Clang
 * vector extension so any target's 128-bit SIMD unit (SSE2, NEON) runs
 * them.  Largest errors against the exact values seen over [-100, 100]:
 * exp 1.0 ulp, sigmoid 2.3 ulp, tanh 1.3 ulp (tests/test-vecmath.c). */
#ifndef PARLEY_VECMATH_H
#define PARLEY_VECMATH_H

#include <stdint.h>
#include <string.h>

typedef float vec4 __attribute__((vector_size(16)));
typedef int32_t vec4i __attribute__((vector_size(16)));
typedef uint32_t vec4u __attribute__((vector_size(16)));

static inline vec4 vec4_load(const float *p)
{
        vec4 v;

        memcpy(&v, p, sizeof(v));
        return v;
}

static inline void vec4_store(float *p, vec4 v)
{
        memcpy(p, &v, sizeof(v));
}

static inline vec4 vec4_splat(float x)
{
        return (vec4){ x, x, x, x };
}

/* mask ? a : b, mask lanes all ones or all zeros. */
static inline vec4 vec4_select(vec4i mask, vec4 a, vec4 b)
{
        return (vec4)(((vec4i)a & mask) | ((vec4i)b & ~mask));
}

static inline vec4 vec4_min(vec4 a, vec4 b)
{
        return vec4_select(a < b, a, b);
}

static inline vec4 vec4_max(vec4 a, vec4 b)
{
        return vec4_select(a > b, a, b);
}

static inline float vec4_reduce_max(vec4 v)
{
        float a = v[0] > v[1] ? v[0] : v[1], b = v[2] > v[3] ? v[2] : v[3];

        return a > b ? a : b;
}

/* e^x; 0 below -87.3, +inf above 88.7 (float's range). */
static inline vec4 vec4_exp(vec4 x)
{
        vec4 fx, n, r, r2, p;
        vec4i k, too_big;

        too_big = x > vec4_splat(88.72283905206835f);
        x = vec4_max(vec4_min(x, vec4_splat(88.3762626647949f)), vec4_splat(-87.3365478515625f));

        /* x = n ln2 + r, n = floor(x / ln2 + 1/2) */
        fx = x * 1.44269504088896341f + 0.5f;
        k = __builtin_convertvector(fx, vec4i);         /* toward zero */
        n = __builtin_convertvector(k, vec4);
        k -= (vec4i)(n > fx) & 1;                       /* to floor */
        n = __builtin_convertvector(k, vec4);

        /* ln2 in two parts so n ln2 is exact for every n here */
        r = x - n * 0.693359375f - n * -2.12194440e-4f;
        r2 = r * r;

        p = vec4_splat(1.9875691500e-4f);
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r2 + r + 1.0f;

        /* times 2^n through the exponent bits (unsigned: no overflow) */
        p = (vec4)((vec4u)p + ((vec4u)k << 23));
        return vec4_select(too_big, vec4_splat(__builtin_inff()), p);
}

static inline vec4 vec4_sigmoid(vec4 x)
{
        return 1.0f / (1.0f + vec4_exp(-x));
}

static inline vec4 vec4_tanh(vec4 x)
{
        vec4 sign = (vec4)((vec4i)x & (vec4i)vec4_splat(-0.0f));
        vec4 a = (vec4)((vec4i)x & ~(vec4i)vec4_splat(-0.0f));
        vec4 z = x * x, small, large;

        /* |x| < 0.625: x + x^3 P(x^2), no cancellation near 0 */
        small = vec4_splat(-5.70498872745e-3f);
        small = small * z + 2.06390887954e-2f;
        small = small * z - 5.37397155531e-2f;
        small = small * z + 1.33314422036e-1f;
        small = small * z - 3.33332819422e-1f;
        small = small * z * x + x;

        /* otherwise 1 - 2 / (e^2|x| + 1), with the sign put back */
        large = 1.0f - 2.0f / (vec4_exp(a + a) + 1.0f);
        large = (vec4)((vec4i)large | (vec4i)sign);

        return vec4_select(a < 0.625f, small, large);
}

#endif
