/* test-blas.c: when parley re-executes itself with OPENBLAS_CORETYPE, when
 * it only warns, and when it leaves OpenBLAS alone. */
#include "autoconfig.h"

#include <string.h>

#include "blas.h"
#include "test.h"

#define AVX2_FLAGS " fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2\n"
#define AVX512_FLAGS " fpu sse2 fma avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl\n"
#define OLD_FLAGS " fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt\n"

static void check(const char *core, const char *flags, const char *env, bool reexecuted,
                  bool opt_out, enum blas_action action, const char *target)
{
        struct blas_decision d;

        blas_decide(core, flags, env, reexecuted, opt_out, &d);
        CHECK_INT_EQ(d.action, action);
        if (target)
                CHECK_STR_EQ(d.target, target);
        if (action == BLAS_WARN)
                CHECK(d.reason && d.reason[0]);
}

int main(void)
{
        /* Sapphire Rapids on OpenBLAS 0.3.21: Prescott kernels */
        check("Prescott", AVX512_FLAGS, NULL, false, false, BLAS_REEXEC, "SkylakeX");
        check("Prescott", AVX2_FLAGS, NULL, false, false, BLAS_REEXEC, "Haswell");
        check("Nehalem", AVX2_FLAGS, NULL, false, false, BLAS_REEXEC, "Haswell");
        check("CORE2", AVX2_FLAGS, NULL, false, false, BLAS_REEXEC, "Haswell");
        /* avx512f alone is not enough for the SkylakeX kernels */
        check("Katmai", " avx2 fma avx512f\n", NULL, false, false, BLAS_REEXEC, "Haswell");

        /* kernels that suit the CPU */
        check("Haswell", AVX2_FLAGS, NULL, false, false, BLAS_KEEP, NULL);
        check("Zen", AVX2_FLAGS, NULL, false, false, BLAS_KEEP, NULL);
        check("SkylakeX", AVX512_FLAGS, NULL, false, false, BLAS_KEEP, NULL);
        check("Haswell", AVX512_FLAGS, NULL, false, false, BLAS_KEEP, NULL);
        /* an old CPU with old kernels is right as it is */
        check("Nehalem", OLD_FLAGS, NULL, false, false, BLAS_KEEP, NULL);
        check("Prescott", NULL, NULL, false, false, BLAS_KEEP, NULL);
        /* "avx2" must be a whole flag, not part of another */
        check("Prescott", " fma xavx2x\n", NULL, false, false, BLAS_KEEP, NULL);

        /* only a warning: once already, the user's own setting, opted out */
        check("Prescott", AVX2_FLAGS, NULL, true, false, BLAS_WARN, "Haswell");
        check("Prescott", AVX2_FLAGS, "Prescott", false, false, BLAS_WARN, "Haswell");
        check("Prescott", AVX512_FLAGS, NULL, false, true, BLAS_WARN, "SkylakeX");

        /* the library linked here reports a name */
        CHECK(strlen(blas_core_name()) > 0);
        return test_finish();
}
