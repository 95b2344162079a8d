/* vecmath-lanes.h: the body of vecmath.h for one vector width.
 *
 * vecmath.h includes this file once per width, with VECMATH_LANES set to 4
 * and then 8, so vec4_exp() and vec8_exp() are the same code on vectors of
 * 16 and 32 bytes.  Not for inclusion elsewhere. */
#ifndef VECMATH_LANES
#error "vecmath-lanes.h is included by vecmath.h only"
#endif

#define VM_PASTE_(a, b, c) a##b##c
#define VM_PASTE(a, b, c) VM_PASTE_(a, b, c)
#define VM_V VM_PASTE(vec, VECMATH_LANES, )
#define VM_VI VM_PASTE(vec, VECMATH_LANES, i)
#define VM_VU VM_PASTE(vec, VECMATH_LANES, u)
#define VM_FN(name) VM_PASTE(vec, VECMATH_LANES, _##name)
/* Always inlined: a function compiled for AVX2 (target_clones) must get
 * these compiled for AVX2 too, not call a baseline copy whose 32-byte
 * vector arguments and result travel differently (-Wpsabi). */
#define VM_INLINE static inline __attribute__((always_inline))

VM_INLINE VM_V VM_FN(load)(const float *p)
{
        VM_V v;

        memcpy(&v, p, sizeof(v));
        return v;
}

VM_INLINE void VM_FN(store)(float *p, VM_V v)
{
        memcpy(p, &v, sizeof(v));
}

VM_INLINE VM_V VM_FN(splat)(float x)
{
        VM_V v;

        /* lane by lane (compiled to one broadcast): 0 + x would turn -0.0
         * into +0.0, and tanh takes its sign mask from splat(-0.0f) */
        for (int i = 0; i < VECMATH_LANES; i++)
                v[i] = x;
        return v;
}

/* mask ? a : b, mask lanes all ones or all zeros. */
VM_INLINE VM_V VM_FN(select)(VM_VI mask, VM_V a, VM_V b)
{
        return (VM_V)(((VM_VI)a & mask) | ((VM_VI)b & ~mask));
}

VM_INLINE VM_V VM_FN(min)(VM_V a, VM_V b)
{
        return VM_FN(select)(a < b, a, b);
}

VM_INLINE VM_V VM_FN(max)(VM_V a, VM_V b)
{
        return VM_FN(select)(a > b, a, b);
}

/* e^x; 0 below -87.3, +inf above 88.7 (float's range). */
VM_INLINE VM_V VM_FN(exp)(VM_V x)
{
        VM_V fx, n, r, r2, p;
        VM_VI k, too_big;

        too_big = x > VM_FN(splat)(88.72283905206835f);
        x = VM_FN(min)(x, VM_FN(splat)(88.3762626647949f));
        x = VM_FN(max)(x, VM_FN(splat)(-87.3365478515625f));

        /* x = n ln2 + r, n = floor(x / ln2 + 1/2) */
        fx = x * 1.44269504088896341f + 0.5f;
        k = __builtin_convertvector(fx, VM_VI);         /* toward zero */
        n = __builtin_convertvector(k, VM_V);
        k -= (VM_VI)(n > fx) & 1;                       /* to floor */
        n = __builtin_convertvector(k, VM_V);

        /* ln2 in two parts so n ln2 is exact for every n here */
        r = x - n * 0.693359375f - n * -2.12194440e-4f;
        r2 = r * r;

        p = VM_FN(splat)(1.9875691500e-4f);
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r2 + r + 1.0f;

        /* times 2^n through the exponent bits (unsigned: no overflow) */
        p = (VM_V)((VM_VU)p + ((VM_VU)k << 23));
        return VM_FN(select)(too_big, VM_FN(splat)(__builtin_inff()), p);
}

VM_INLINE VM_V VM_FN(sigmoid)(VM_V x)
{
        return 1.0f / (1.0f + VM_FN(exp)(-x));
}

VM_INLINE VM_V VM_FN(tanh)(VM_V x)
{
        VM_V sign = (VM_V)((VM_VI)x & (VM_VI)VM_FN(splat)(-0.0f));
        VM_V a = (VM_V)((VM_VI)x & ~(VM_VI)VM_FN(splat)(-0.0f));
        VM_V z = x * x, small, large;

        /* |x| < 0.625: x + x^3 P(x^2), no cancellation near 0 */
        small = VM_FN(splat)(-5.70498872745e-3f);
        small = small * z + 2.06390887954e-2f;
        small = small * z - 5.37397155531e-2f;
        small = small * z + 1.33314422036e-1f;
        small = small * z - 3.33332819422e-1f;
        small = small * z * x + x;

        /* otherwise 1 - 2 / (e^2|x| + 1), with the sign put back */
        large = 1.0f - 2.0f / (VM_FN(exp)(a + a) + 1.0f);
        large = (VM_V)((VM_VI)large | (VM_VI)sign);

        return VM_FN(select)(a < 0.625f, small, large);
}

#undef VM_INLINE
#undef VM_FN
#undef VM_VU
#undef VM_VI
#undef VM_V
#undef VM_PASTE
#undef VM_PASTE_
