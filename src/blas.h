/* blas.h: making sure OpenBLAS runs the kernels this CPU deserves.
 *
 * Debian's OpenBLAS 0.3.21 is built for every x86-64 CPU and picks its
 * kernels at load time, but does not recognise recent Xeons (Sapphire and
 * Emerald Rapids) and falls back to its oldest kernels ("Prescott"), about
 * 8 times slower for matrix products.  The choice can only be overridden by
 * the environment variable OPENBLAS_CORETYPE, read when the library loads,
 * so once the program runs the only remedy is to run it again: blas_setup()
 * sets OPENBLAS_CORETYPE to SkylakeX (AVX-512) or Haswell (AVX2) and
 * re-executes the program once, or with PARLEY_NO_BLAS_REEXEC=1 only says
 * loudly what to set. */
#ifndef PARLEY_BLAS_H
#define PARLEY_BLAS_H

#include <stdbool.h>

/* Set in the environment of the re-executed program, so it happens once. */
#define BLAS_REEXEC_MARKER "PARLEY_BLAS_REEXEC"
#define BLAS_REEXEC_OPT_OUT "PARLEY_NO_BLAS_REEXEC"

enum blas_action {
        BLAS_KEEP,              /* the kernels suit the CPU */
        BLAS_REEXEC,            /* set OPENBLAS_CORETYPE=target and run again */
        BLAS_WARN,              /* wrong kernels, but no re-execution: warn */
};

struct blas_decision {
        enum blas_action action;
        const char *target;     /* "SkylakeX" or "Haswell" when not BLAS_KEEP */
        const char *reason;     /* for BLAS_WARN: why not re-executing */
};

/* The decision, from the kernel OpenBLAS chose (core), the CPU's flags
 * (the "flags" line of /proc/cpuinfo, NULL if unknown), OPENBLAS_CORETYPE
 * as found (NULL if unset), whether this process is already the
 * re-executed one, and whether re-execution is opted out of. */
void blas_decide(const char *core, const char *cpu_flags, const char *coretype_env,
                 bool reexecuted, bool opt_out, struct blas_decision *ret);

/* Call first thing in a program that uses the model, before any thread is
 * started: decides as above from the real state, logs the kernel in use,
 * and either re-executes the program (not returning) or warns; then sets
 * the number of BLAS threads (threads > 0; 0 keeps OpenBLAS's default),
 * which parallel_for() then uses too. */
void blas_setup(int threads);

/* The kernel OpenBLAS uses, e.g. "Haswell". */
const char *blas_core_name(void);

#endif
