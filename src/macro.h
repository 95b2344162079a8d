/* macro.h: small helpers every parley module may use. */
#ifndef PARLEY_MACRO_H
#define PARLEY_MACRO_H

#include <stdlib.h>
#include <unistd.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Run a destructor when a local goes out of scope.  Destructors used with
 * these must accept NULL. */
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p)             \
        {                                               \
                if (*p)                                 \
                        func(*p);                       \
        }

/* Hand ownership out of a _cleanup_ local. */
#define TAKE_PTR(p)                             \
        ({                                      \
                __typeof__(p) _taken = (p);     \
                (p) = NULL;                     \
                _taken;                         \
        })

#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))

#endif
