/* blas.c: OpenBLAS kernel check, re-execution with OPENBLAS_CORETYPE, and
 * thread count. */
#include "autoconfig.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "blas.h"
#include "log.h"
#include "macro.h"
#include "parallel.h"

/* OpenBLAS x86 kernels without AVX2: what OpenBLAS falls back to on a CPU it
 * does not know. */
static const char *const old_cores[] = {
        "Prescott", "Katmai", "Coppermine", "Northwood", "Banias", "Core2", "Penryn",
        "Dunnington", "Nehalem", "Atom", "Opteron", "Barcelona", "Bobcat", "Athlon",
        "Sandybridge", "Bulldozer", "Piledriver", "Steamroller", "generic", "Unknown",
};

static bool flag_present(const char *flags, const char *name)
{
        size_t n = strlen(name);

        for (const char *p = flags; (p = strstr(p, name)); p += n) {
                bool starts = p == flags || p[-1] == ' ' || p[-1] == '\t';
                bool ends = p[n] == '\0' || p[n] == ' ' || p[n] == '\n' || p[n] == '\t';

                if (starts && ends)
                        return true;
        }
        return false;
}

void blas_decide(const char *core, const char *cpu_flags, const char *coretype_env,
                 bool reexecuted, bool opt_out, struct blas_decision *ret)
{
        bool old = false;

        *ret = (struct blas_decision){ .action = BLAS_KEEP };

        for (size_t i = 0; i < ELEMENTSOF(old_cores); i++)
                if (strcasecmp(core, old_cores[i]) == 0)
                        old = true;
        if (!old || !cpu_flags)
                return;

        /* OpenBLAS's SkylakeX kernels need AVX-512 F, BW, VL and DQ; its
         * Haswell kernels AVX2 and FMA */
        if (flag_present(cpu_flags, "avx512f") && flag_present(cpu_flags, "avx512bw") &&
            flag_present(cpu_flags, "avx512vl") && flag_present(cpu_flags, "avx512dq"))
                ret->target = "SkylakeX";
        else if (flag_present(cpu_flags, "avx2") && flag_present(cpu_flags, "fma"))
                ret->target = "Haswell";
        else
                return;

        ret->action = BLAS_WARN;
        if (reexecuted)
                ret->reason = "already re-executed once with it set";
        else if (coretype_env)
                ret->reason = "OPENBLAS_CORETYPE is set, and parley leaves it alone";
        else if (opt_out)
                ret->reason = BLAS_REEXEC_OPT_OUT "=1 is set";
        else
                ret->action = BLAS_REEXEC;
}

const char *blas_core_name(void)
{
        const char *name = openblas_get_corename();

        return name ? name : "unknown";
}

/* The "flags" line of /proc/cpuinfo (malloc'd), or NULL. */
static char *cpu_flags_read(void)
{
        _cleanup_free_ char *line = NULL;
        FILE *f = fopen("/proc/cpuinfo", "re");
        size_t size = 0;
        char *flags = NULL;

        if (!f)
                return NULL;

        while (getline(&line, &size, f) > 0)
                if (strncmp(line, "flags", 5) == 0 && strchr(line, ':')) {
                        flags = strdup(strchr(line, ':') + 1);
                        break;
                }

        fclose(f);
        return flags;
}

/* This program's own argv, from /proc/self/cmdline, NULL-terminated. */
static char **self_argv_read(void)
{
        _cleanup_free_ char *buf = NULL;
        size_t used = 0, size = 0, n = 0;
        char **argv;
        FILE *f = fopen("/proc/self/cmdline", "re");

        if (!f)
                return NULL;

        for (;;) {
                size_t k;

                if (used == size) {
                        char *bigger = realloc(buf, size ? size * 2 : 4096);

                        if (!bigger) {
                                fclose(f);
                                return NULL;
                        }
                        buf = bigger;
                        size = size ? size * 2 : 4096;
                }
                k = fread(buf + used, 1, size - used, f);
                if (k == 0)
                        break;
                used += k;
        }
        fclose(f);

        if (used == 0 || buf[used - 1] != '\0')
                return NULL;

        for (size_t i = 0; i < used; i++)
                n += buf[i] == '\0';

        argv = calloc(n + 1, sizeof(char *));
        if (!argv)
                return NULL;

        /* argv[0] owns the buffer */
        argv[0] = TAKE_PTR(buf);
        for (size_t i = 0, k = 1; k < n; i++)
                if (argv[0][i] == '\0')
                        argv[k++] = argv[0] + i + 1;
        return argv;
}

static void blas_reexec(const char *target)
{
        char **argv = self_argv_read();

        if (!argv) {
                log_warning("OpenBLAS: could not read this program's arguments to re-execute "
                            "it; set OPENBLAS_CORETYPE=%s before starting parley", target);
                return;
        }

        log_notice("OpenBLAS chose its %s kernels on a CPU that runs %s kernels; restarting "
                   "with OPENBLAS_CORETYPE=%s", blas_core_name(), target, target);
        if (setenv("OPENBLAS_CORETYPE", target, 1) < 0 ||
            setenv(BLAS_REEXEC_MARKER, "1", 1) < 0) {
                log_warning("OpenBLAS: cannot set OPENBLAS_CORETYPE: %s", strerror(errno));
                free(argv[0]);
                free(argv);
                return;
        }

        execv("/proc/self/exe", argv);
        log_warning("OpenBLAS: re-executing /proc/self/exe failed: %s; continuing with the "
                    "slow %s kernels", strerror(errno), blas_core_name());
        unsetenv("OPENBLAS_CORETYPE");
        free(argv[0]);
        free(argv);
}

void blas_setup(int threads)
{
        _cleanup_free_ char *flags = cpu_flags_read();
        const char *coretype = getenv("OPENBLAS_CORETYPE");
        const char *marker = getenv(BLAS_REEXEC_MARKER);
        const char *opt_out = getenv(BLAS_REEXEC_OPT_OUT);
        struct blas_decision d;

        blas_decide(blas_core_name(), flags, coretype, marker && strcmp(marker, "1") == 0,
                    opt_out && strcmp(opt_out, "1") == 0, &d);

        if (d.action == BLAS_REEXEC)
                blas_reexec(d.target);  /* returns only on failure */
        else if (d.action == BLAS_WARN)
                log_warning("OpenBLAS is using its old %s kernels on a CPU that runs %s "
                            "kernels: matrix products run several times slower than they "
                            "should.  Set OPENBLAS_CORETYPE=%s in the environment before "
                            "starting parley (%s).", blas_core_name(), d.target, d.target,
                            d.reason);

        if (threads > 0)
                openblas_set_num_threads(threads);
        /* the model's own large loops use as many threads as OpenBLAS */
        parallel_set_threads(openblas_get_num_threads());

        if (marker && coretype)
                log_info("OpenBLAS: %s kernels (restarted with OPENBLAS_CORETYPE=%s), %d "
                         "threads", blas_core_name(), coretype, openblas_get_num_threads());
        else
                log_info("OpenBLAS: %s kernels%s%s, %d threads", blas_core_name(),
                         coretype ? ", OPENBLAS_CORETYPE=" : "", coretype ? coretype : "",
                         openblas_get_num_threads());
}
