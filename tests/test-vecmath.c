/* test-vecmath.c: the vectorised exp, sigmoid and tanh against the C
 * library's double-precision functions, in units in the last place of the
 * float result, over the whole range the model uses. */
#include "autoconfig.h"

#include <math.h>
#include <string.h>

#include "random.h"
#include "test.h"
#include "vecmath.h"

/* Error of got against the exact want, in float ulps at want. */
static double ulps(float got, double want)
{
        double ulp;

        if (want == 0.0)
                return got == 0.0f ? 0.0 : INFINITY;
        ulp = ldexp(1.0, ilogb(want) - 23);
        /* below the normal range a float's spacing stays at 2^-149 */
        ulp = fmax(ulp, ldexp(1.0, -149));
        return fabs((double)got - want) / ulp;
}

struct worst {
        double exp, sigmoid, tanh;
};

static void check4(const float *x, struct worst *w)
{
        float e[4], s[4], t[4];

        vec4_store(e, vec4_exp(vec4_load(x)));
        vec4_store(s, vec4_sigmoid(vec4_load(x)));
        vec4_store(t, vec4_tanh(vec4_load(x)));

        for (int i = 0; i < 4; i++) {
                double d = x[i];

                /* exp's results in float's normal range */
                if (d > -87.0 && d < 88.0)
                        w->exp = fmax(w->exp, ulps(e[i], exp(d)));
                if (d > -87.0)
                        w->sigmoid = fmax(w->sigmoid, ulps(s[i], 1.0 / (1.0 + exp(-d))));
                w->tanh = fmax(w->tanh, ulps(t[i], tanh(d)));
        }
}

int main(void)
{
        struct worst w = { 0 };
        struct random r;
        float x[4];
        float out[4];

        /* a fine sweep over [-100, 100] and random points */
        for (int i = 0; i < 400000; i += 4) {
                for (int k = 0; k < 4; k++)
                        x[k] = -100.0f + (float)(i + k) * (200.0f / 400000.0f);
                check4(x, &w);
        }
        random_init(&r, 9);
        for (int i = 0; i < 100000; i++) {
                for (int k = 0; k < 4; k++)
                        x[k] = (random_uniform(&r) - 0.5f) * 20.0f;
                check4(x, &w);
        }
        /* tiny arguments, where tanh(x) = x must not lose precision */
        for (int i = 0; i < 40; i++) {
                for (int k = 0; k < 4; k++)
                        x[k] = (k % 2 ? -1.0f : 1.0f) * ldexpf(1.5f, -i - k);
                check4(x, &w);
        }

        fprintf(stderr, "worst errors: exp %.2f ulp, sigmoid %.2f ulp, tanh %.2f ulp\n", w.exp,
                w.sigmoid, w.tanh);
        CHECK(w.exp <= 1.5);
        CHECK(w.sigmoid <= 3.0);
        CHECK(w.tanh <= 2.0);

        /* the ends of the range */
        x[0] = -1000.0f;
        x[1] = 1000.0f;
        x[2] = 0.0f;
        x[3] = -0.0f;
        vec4_store(out, vec4_exp(vec4_load(x)));
        CHECK(out[0] < 1.2e-38f);
        CHECK(isinf(out[1]));
        CHECK(out[2] == 1.0f);
        vec4_store(out, vec4_sigmoid(vec4_load(x)));
        CHECK(out[0] == 0.0f);
        CHECK(out[1] == 1.0f);
        CHECK(out[2] == 0.5f);
        vec4_store(out, vec4_tanh(vec4_load(x)));
        CHECK(out[0] == -1.0f);
        CHECK(out[1] == 1.0f);
        CHECK(out[2] == 0.0f);
        CHECK(out[3] == 0.0f);

        /* the eight-lane versions are the same code: lane for lane the
         * four-lane results, bit for bit, over the same sweep */
        {
                float in[8], want[8], got[8];
                int differ = 0;

                random_init(&r, 11);
                for (int i = 0; i < 20000; i++) {
                        for (int k = 0; k < 8; k++)
                                in[k] = (random_uniform(&r) - 0.5f) * (i % 2 ? 200.0f : 4.0f);
                        vec4_store(want, vec4_exp(vec4_load(in)));
                        vec4_store(want + 4, vec4_exp(vec4_load(in + 4)));
                        vec8_store(got, vec8_exp(vec8_load(in)));
                        differ += memcmp(want, got, sizeof(got)) != 0;
                        vec4_store(want, vec4_sigmoid(vec4_load(in)));
                        vec4_store(want + 4, vec4_sigmoid(vec4_load(in + 4)));
                        vec8_store(got, vec8_sigmoid(vec8_load(in)));
                        differ += memcmp(want, got, sizeof(got)) != 0;
                        vec4_store(want, vec4_tanh(vec4_load(in)));
                        vec4_store(want + 4, vec4_tanh(vec4_load(in + 4)));
                        vec8_store(got, vec8_tanh(vec8_load(in)));
                        differ += memcmp(want, got, sizeof(got)) != 0;
                }
                CHECK_INT_EQ(differ, 0);
        }

        return test_finish();
}
