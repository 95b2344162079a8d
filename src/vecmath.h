/* vecmath.h: exp, sigmoid and tanh on four or eight floats at once.
 *
 * The LSTM's gates and the softmax over the vocabulary evaluate millions
 * of exponentials per training step; the C library's expf and tanhf are
 * scalar calls that the compiler cannot vectorise without -ffast-math,
 * and took as long as the matrix products around them.  These are the
 * Cephes single-precision algorithms (range reduction to [-ln2/2, ln2/2]
 * and a degree-6 polynomial for exp; an odd polynomial near 0 and
 * 1 - 2 / (exp(2x) + 1) elsewhere for tanh), written with the GCC/Clang
 * vector extension so any target's 128-bit SIMD unit (SSE2, NEON) runs
 * them; the eight-lane versions are the same code on 256-bit vectors,
 * which a function compiled for AVX2 runs in one instruction each (and
 * any other target as two halves).  Largest errors against the exact
 * values seen over [-100, 100]: exp 1.0 ulp, sigmoid 2.3 ulp, tanh
 * 1.3 ulp (tests/test-vecmath.c). */
#ifndef PARLEY_VECMATH_H
#define PARLEY_VECMATH_H

#include <stdint.h>
#include <string.h>

/* CLONES_AVX2 before a function compiles it for AVX2 and for the
 * baseline, the loader picking one by the CPU (configure checks that the
 * compiler and C library can); elsewhere the baseline only. */
#ifdef HAVE_CLONES_AVX2
#define CLONES_AVX2 __attribute__((target_clones("avx2", "default")))
#else
#define CLONES_AVX2
#endif

typedef float vec4 __attribute__((vector_size(16)));
typedef int32_t vec4i __attribute__((vector_size(16)));
typedef uint32_t vec4u __attribute__((vector_size(16)));
typedef float vec8 __attribute__((vector_size(32)));
typedef int32_t vec8i __attribute__((vector_size(32)));
typedef uint32_t vec8u __attribute__((vector_size(32)));

/* vec4_load, _store, _splat, _select, _min, _max, _exp, _sigmoid, _tanh,
 * and the same for vec8 */
#define VECMATH_LANES 4
#include "vecmath-lanes.h"
#undef VECMATH_LANES
/* Functions on 32-byte vectors draw GCC's note that their ABI differs
 * with and without AVX; these are static inline, never called across
 * units compiled differently (configure adds -Wno-psabi). */
#define VECMATH_LANES 8
#include "vecmath-lanes.h"
#undef VECMATH_LANES

static inline float vec4_reduce_max(vec4 v)
{
        float a = v[0] > v[1] ? v[0] : v[1], b = v[2] > v[3] ? v[2] : v[3];

        return a > b ? a : b;
}

#endif
