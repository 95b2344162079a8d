/* parallel.h: splitting the model's large elementwise loops over threads.
 *
 * Matrix products run on OpenBLAS's threads.  The model's own loops over
 * whole tensors (the softmax over the vocabulary, the optimiser's update
 * of every parameter) are as large and would otherwise keep one core
 * busy while the others wait.  parallel_for() cuts such a loop into one
 * contiguous part per thread; every element is computed the same way
 * whatever the split, so results do not depend on the thread count unless
 * a caller sums across parts (callers that sum do so per fixed-size chunk,
 * then add the chunks in order). */
#ifndef PARLEY_PARALLEL_H
#define PARLEY_PARALLEL_H

#include <stddef.h>

#define PARALLEL_THREADS_MAX 64

/* Threads for parallel_for(), 1 by default; clamped to 1 ..
 * PARALLEL_THREADS_MAX.  Set once at start-up, before any loop runs. */
void parallel_set_threads(int threads);
int parallel_get_threads(void);

/* Calls fn(userdata, begin, end) on contiguous parts of [0, n) that cover
 * it, at most one per thread and none shorter than min_part (so small loops
 * stay on the caller), the first part on the calling thread; returns when
 * all are done.  A part whose thread cannot be started runs on the
 * caller. */
void parallel_for(size_t n, size_t min_part, void (*fn)(void *userdata, size_t begin, size_t end),
                  void *userdata);

#endif
