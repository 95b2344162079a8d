/* parallel.c: fork-join of one loop over a few pthreads.  A loop this
 * large (milliseconds) pays the tens of microseconds a thread start costs
 * many times over, so there is no pool to keep. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdbool.h>

#include "parallel.h"

static int parallel_threads = 1;

struct part {
        void (*fn)(void *userdata, size_t begin, size_t end);
        void *userdata;
        size_t begin, end;
        pthread_t thread;
        bool started;
};

void parallel_set_threads(int threads)
{
        if (threads < 1)
                threads = 1;
        if (threads > PARALLEL_THREADS_MAX)
                threads = PARALLEL_THREADS_MAX;
        parallel_threads = threads;
}

int parallel_get_threads(void)
{
        return parallel_threads;
}

static void *part_run(void *arg)
{
        struct part *p = arg;

        p->fn(p->userdata, p->begin, p->end);
        return NULL;
}

void parallel_for(size_t n, size_t min_part, void (*fn)(void *userdata, size_t begin, size_t end),
                  void *userdata)
{
        struct part parts[PARALLEL_THREADS_MAX];
        size_t k = (size_t)parallel_threads;

        if (min_part < 1)
                min_part = 1;
        if (k > n / min_part)
                k = n / min_part;
        if (k <= 1) {
                if (n > 0)
                        fn(userdata, 0, n);
                return;
        }

        for (size_t i = 0; i < k; i++)
                parts[i] = (struct part){
                        .fn = fn,
                        .userdata = userdata,
                        .begin = n * i / k,
                        .end = n * (i + 1) / k,
                };

        for (size_t i = 1; i < k; i++)
                parts[i].started = pthread_create(&parts[i].thread, NULL, part_run, &parts[i]) == 0;

        part_run(&parts[0]);

        for (size_t i = 1; i < k; i++) {
                if (parts[i].started)
                        pthread_join(parts[i].thread, NULL);
                else
                        part_run(&parts[i]);
        }
}
