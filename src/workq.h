/* workq.h: threads that run slow work for the event loop.
 *
 * The loop thread never blocks; database commits and model decoding run
 * here.  A queue with one thread runs its jobs strictly in submission order
 * (the store queue relies on that); a queue with more threads runs them
 * concurrently.  Each job's done() runs afterwards on the loop thread, in
 * the order the jobs finished. */
#ifndef PARLEY_WORKQ_H
#define PARLEY_WORKQ_H

#include <stddef.h>
#include <uv.h>

/* The most jobs one batch takes. */
#define WORKQ_BATCH_MAX 1024

struct workq;

typedef void (*workq_work_fn)(void *data);      /* on a worker thread */
typedef void (*workq_done_fn)(void *data);      /* on the loop thread */

/* max_queued bounds the jobs waiting, running, or finished with done()
 * still to run; submit refuses beyond it. */
int workq_new(uv_loop_t *loop, const char *name, unsigned n_threads, size_t max_queued,
              struct workq **ret);

/* -ENOBUFS when max_queued jobs are already queued, -ESHUTDOWN after
 * workq_free began.  On success done() is guaranteed to run once. */
int workq_submit(struct workq *q, workq_work_fn work, workq_done_fn done, void *data);

/* Batches.  A worker takes up to max waiting jobs at once.  With begin
 * and end (group commit, one-thread queues only): it calls begin(ctx),
 * runs them, then end(ctx), and queues their done() callbacks only after
 * end() returned; when begin() or end() fails, the jobs run again one by
 * one outside a batch, so a job's work() must give the same result when
 * run twice.  With run_many (any queue): run_many() does all their work
 * at once.  Set before any submit. */
struct workq_batch {
        int (*begin)(void *ctx);
        int (*end)(void *ctx);
        /* Instead of begin, each work() and end: does the work of all n
         * jobs at once (decoding several prompts as one batch). */
        void (*run_many)(void *ctx, void **datas, size_t n);
        void *ctx;
        size_t max;
};

int workq_batch_set(struct workq *q, const struct workq_batch *batch);

/* Jobs queued or running, plus finished jobs whose done() has not run. */
size_t workq_pending(const struct workq *q);

/* Runs every queued job to completion (a stop waits for them: their number
 * is bounded by max_queued), joins the threads, then runs the remaining
 * done() callbacks on the caller's thread.  Call it on the loop
 * thread after the loop has stopped or from a loop callback. */
void workq_free(struct workq *q);

#endif
