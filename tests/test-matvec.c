/* test-matvec.c: matvec_rows_add() and matpack_half_rows_add() against a
 * plain triple loop.
 *
 * With small integer inputs every partial sum is an exact float, so the
 * kernel must match the reference exactly whatever its summation order;
 * the shapes cover every tail the kernel has (weight rows not a multiple
 * of 4 or of a panel's 16, input widths not a multiple of 8, odd row
 * counts, row counts past a packed tile's 6). */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdlib.h>

#include "matvec.h"
#include "random.h"
#include "test.h"

/* y [rows, out] += x [rows, in] w^T in double, in index order. */
static void reference(const float *w, int out, int in, const float *x, int rows, double *y)
{
        for (int r = 0; r < rows; r++)
                for (int j = 0; j < out; j++) {
                        double s = 0.0;

                        for (int k = 0; k < in; k++)
                                s += (double)w[(size_t)j * in + k] * x[(size_t)r * in + k];
                        y[(size_t)r * out + j] += s;
                }
}

/* Small integers in [-8, 8], so products and sums stay exact. */
static void fill_integers(struct random *rng, float *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                p[i] = (float)((int)random_below(rng, 17) - 8);
}

enum kernel_kind {
        KERNEL_FLOAT,           /* matvec_rows_add() */
        KERNEL_PACKED,          /* matpack_half_rows_add() */
};

/* Returns the number of entries of y that differ from the reference by
 * more than tol (relative to the sum of absolute products).  The packed
 * kernel reads the weights as binary16 (exact for the integers). */
static int compare(int out, int in, int rows, bool integers, double tol, enum kernel_kind kind,
                   struct random *rng)
{
        uint16_t *w16 = malloc(sizeof(uint16_t) * matpack_half_size(out, in));
        float *w = malloc(sizeof(float) * out * in), *x = malloc(sizeof(float) * rows * in + 1);
        float *y = malloc(sizeof(float) * rows * out + 1);
        double *want = malloc(sizeof(double) * rows * out + 1);
        int wrong = 0;

        if (integers) {
                fill_integers(rng, w, (size_t)out * in);
                fill_integers(rng, x, (size_t)rows * in);
        } else {
                for (int i = 0; i < out * in; i++)
                        w[i] = random_uniform(rng) * 2.0f - 1.0f;
                for (int i = 0; i < rows * in; i++)
                        x[i] = random_uniform(rng) * 2.0f - 1.0f;
        }
        /* y starts non-zero: the kernel adds */
        for (int i = 0; i < rows * out; i++) {
                y[i] = (float)(i % 7) - 3.0f;
                want[i] = y[i];
        }

        if (kind == KERNEL_PACKED) {
                matpack_half_make(w, out, in, w16);
                matpack_half_rows_add(w16, out, in, x, rows, y);
        } else {
                matvec_rows_add(w, out, in, x, rows, y);
        }
        reference(w, out, in, x, rows, want);

        for (int i = 0; i < rows * out; i++) {
                bool bad = integers ? y[i] != want[i] :
                                      !(fabs(y[i] - want[i]) <= tol * (in + 1));
                if (bad && wrong++ < 3)
                        fprintf(stderr, "out %d in %d rows %d: y[%d] = %.9g, want %.9g\n", out,
                                in, rows, i, y[i], want[i]);
        }

        free(w);
        free(w16);
        free(x);
        free(y);
        free(want);
        return wrong;
}

/* Both products against the reference: exact on integers for every shape
 * edge (tails of 4 and 8 units, panels of 16, tiles of 6 rows), within
 * rounding on real values. */
static void kernels_check(struct random *rng)
{
        static const int outs[] = { 1, 3, 4, 5, 7, 8, 13, 16, 17, 33, 1024 };
        static const int ins[] = { 1, 3, 7, 8, 9, 16, 23, 256 };

        for (size_t o = 0; o < sizeof(outs) / sizeof(outs[0]); o++)
                for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++)
                        for (int rows = 1; rows <= MATVEC_ROWS_MAX + 1; rows++)
                                CHECK_INT_EQ(compare(outs[o], ins[i], rows, true, 0.0,
                                                     KERNEL_FLOAT, rng), 0);
        for (size_t o = 0; o < sizeof(outs) / sizeof(outs[0]); o++)
                for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++)
                        for (int rows = 1; rows <= 2 * MATPACK_TILE_ROWS + 1; rows++)
                                CHECK_INT_EQ(compare(outs[o], ins[i], rows, true, 0.0,
                                                     KERNEL_PACKED, rng), 0);
        CHECK_INT_EQ(compare(1000, 256, 32, true, 0.0, KERNEL_PACKED, rng), 0);

        /* real-valued: within float rounding of a sum of in products, and
         * for packed half weights within their rounding, 2^-11 of each
         * product */
        for (int rows = 1; rows <= MATVEC_ROWS_MAX; rows++)
                CHECK_INT_EQ(compare(1000, 256, rows, false, 1e-7, KERNEL_FLOAT, rng), 0);
        for (int rows = 1; rows <= 2 * MATPACK_TILE_ROWS + 1; rows++)
                CHECK_INT_EQ(compare(1000, 256, rows, false, 0x1p-11, KERNEL_PACKED, rng), 0);
}

int main(void)
{
        struct random rng;
        float w[2 * 3] = { 1, 2, 3, 4, 5, 6 };  /* [2, 3] */
        float x[2 * 3] = { 1, 0, -1, 2, 1, 0 }; /* [2, 3] */
        float y[2 * 2] = { 10, 20, 30, 40 };    /* [2, 2] */

        /* by hand: x0 . w0 = 1 - 3 = -2, x0 . w1 = 4 - 6 = -2,
         * x1 . w0 = 2 + 2 = 4, x1 . w1 = 8 + 5 = 13 */
        matvec_rows_add(w, 2, 3, x, 2, y);
        CHECK(y[0] == 8.0f && y[1] == 18.0f && y[2] == 34.0f && y[3] == 53.0f);

        /* no rows, no weights: nothing written */
        matvec_rows_add(w, 2, 3, x, 0, y);
        matvec_rows_add(w, 0, 3, x, 2, y);
        CHECK(y[0] == 8.0f && y[3] == 53.0f);

        /* the kernel the CPU gets, then the baseline one */
        for (int pass = 0; pass < 2; pass++) {
                matvec_baseline_only(pass == 1);
                random_init(&rng, 7);
                kernels_check(&rng);
        }
        matvec_baseline_only(false);

        /* binary16 rounding, to nearest and ties to even */
        CHECK_INT_EQ(matvec_half_from_float(1.0f), 0x3c00);
        CHECK_INT_EQ(matvec_half_from_float(-2.0f), 0xc000);
        CHECK_INT_EQ(matvec_half_from_float(0.0f), 0x0000);
        CHECK_INT_EQ(matvec_half_from_float(-0.0f), 0x8000);
        CHECK_INT_EQ(matvec_half_from_float(1.0f + 0x1p-11f), 0x3c00);         /* tie: even */
        CHECK_INT_EQ(matvec_half_from_float(1.0f + 3 * 0x1p-11f), 0x3c02);     /* tie: even */
        CHECK_INT_EQ(matvec_half_from_float(1.0f + 0x1p-10f), 0x3c01);
        CHECK_INT_EQ(matvec_half_from_float(0.1f), 0x2e66);
        CHECK_INT_EQ(matvec_half_from_float(65504.0f), 0x7bff);
        CHECK_INT_EQ(matvec_half_from_float(65519.0f), 0x7bff);
        CHECK_INT_EQ(matvec_half_from_float(65520.0f), 0x7c00);               /* to inf */
        CHECK_INT_EQ(matvec_half_from_float(-1e6f), 0xfc00);
        CHECK_INT_EQ(matvec_half_from_float(0x1p-14f), 0x0400);               /* least normal */
        CHECK_INT_EQ(matvec_half_from_float(0x1p-24f), 0x0001);               /* least subnormal */
        CHECK_INT_EQ(matvec_half_from_float(0x1p-25f), 0x0000);               /* tie: even */
        CHECK_INT_EQ(matvec_half_from_float(3 * 0x1p-25f), 0x0002);           /* tie: even */
        CHECK_INT_EQ(matvec_half_from_float(__builtin_inff()), 0x7c00);
        CHECK_INT_EQ(matvec_half_from_float(__builtin_nanf("")) & 0x7e00, 0x7e00);

        return test_finish();
}
