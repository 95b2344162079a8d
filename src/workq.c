/* workq.c: a fixed pool of threads with a bounded FIFO of jobs; finished
 * jobs return to the loop through a uv_async_t. */
#include "autoconfig.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "workq.h"

#define WORKQ_THREADS_MAX 64

struct workq_job {
        workq_work_fn work;
        workq_done_fn done;
        void *data;
        struct workq_job *next;
};

struct workq_list {
        struct workq_job *head;
        struct workq_job *tail;
};

struct workq {
        uv_loop_t *loop;
        uv_async_t async;
        char name[32];

        pthread_mutex_t lock;
        pthread_cond_t wake;
        struct workq_list todo;         /* waiting for a thread */
        struct workq_list finished;     /* waiting for done() on the loop */
        size_t pending;                 /* submitted, done() not yet run */
        size_t max_queued;
        bool stopping;

        pthread_t threads[WORKQ_THREADS_MAX];
        unsigned n_threads;
        struct workq_batch batch;       /* max 0: no batching */
};

static void workq_list_push(struct workq_list *l, struct workq_job *j)
{
        j->next = NULL;
        if (l->tail)
                l->tail->next = j;
        else
                l->head = j;
        l->tail = j;
}

static struct workq_job *workq_list_pop(struct workq_list *l)
{
        struct workq_job *j = l->head;

        if (j) {
                l->head = j->next;
                if (!l->head)
                        l->tail = NULL;
        }
        return j;
}

/* Takes up to max waiting jobs off the queue; called with the lock held. */
static size_t workq_take(struct workq *q, size_t max, struct workq_list *ret)
{
        size_t n = 0;
        struct workq_job *j;

        *ret = (struct workq_list){ 0 };
        while (n < max && (j = workq_list_pop(&q->todo))) {
                workq_list_push(ret, j);
                n++;
        }
        return n;
}

/* Runs the jobs, in one batch when there are several and the queue has
 * batching; without the lock. */
static void workq_run(struct workq *q, struct workq_list *jobs, size_t n)
{
        const struct workq_batch *b = &q->batch;

        if (n > 1 && b->run_many) {
                void *datas[WORKQ_BATCH_MAX];
                size_t k = 0;

                for (struct workq_job *j = jobs->head; j; j = j->next)
                        datas[k++] = j->data;
                b->run_many(b->ctx, datas, k);
                return;
        }

        if (n > 1 && b->max > 1 && b->begin && b->begin(b->ctx) >= 0) {
                for (struct workq_job *j = jobs->head; j; j = j->next)
                        j->work(j->data);
                if (b->end(b->ctx) >= 0)
                        return;
        }

        for (struct workq_job *j = jobs->head; j; j = j->next)
                j->work(j->data);
}

static void *workq_thread(void *userdata)
{
        struct workq *q = userdata;

        pthread_mutex_lock(&q->lock);
        for (;;) {
                struct workq_list jobs;
                size_t n = workq_take(q, q->batch.max > 1 ? q->batch.max : 1, &jobs);

                if (n == 0) {
                        if (q->stopping)
                                break;
                        pthread_cond_wait(&q->wake, &q->lock);
                        continue;
                }

                pthread_mutex_unlock(&q->lock);
                workq_run(q, &jobs, n);
                pthread_mutex_lock(&q->lock);

                for (struct workq_job *j = jobs.head, *next; j; j = next) {
                        next = j->next;
                        workq_list_push(&q->finished, j);
                }
                uv_async_send(&q->async);
        }
        pthread_mutex_unlock(&q->lock);
        return NULL;
}

/* Runs done() for every finished job; the list is taken whole so callbacks
 * may submit new jobs. */
static void workq_drain_finished(struct workq *q)
{
        struct workq_list done;

        pthread_mutex_lock(&q->lock);
        done = q->finished;
        q->finished = (struct workq_list){ 0 };
        pthread_mutex_unlock(&q->lock);

        for (struct workq_job *j = done.head, *next; j; j = next) {
                next = j->next;
                pthread_mutex_lock(&q->lock);
                q->pending--;
                pthread_mutex_unlock(&q->lock);
                j->done(j->data);
                free(j);
        }
}

static void workq_on_async(uv_async_t *async)
{
        workq_drain_finished(async->data);
}

int workq_new(uv_loop_t *loop, const char *name, unsigned n_threads, size_t max_queued,
              struct workq **ret)
{
        sigset_t all, old;
        struct workq *q;
        int r;

        if (n_threads == 0 || n_threads > WORKQ_THREADS_MAX || max_queued == 0)
                return -EINVAL;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;

        q->loop = loop;
        q->max_queued = max_queued;
        snprintf(q->name, sizeof(q->name), "%s", name);
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->wake, NULL);

        r = uv_async_init(loop, &q->async, workq_on_async);
        if (r < 0) {
                free(q);
                return r;
        }
        q->async.data = q;

        /* Signals belong to the loop thread; workers inherit a full mask. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (; q->n_threads < n_threads; q->n_threads++) {
                r = -pthread_create(&q->threads[q->n_threads], NULL, workq_thread, q);
                if (r < 0)
                        break;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);

        if (r < 0) {
                workq_free(q);
                return r;
        }

        *ret = q;
        return 0;
}

int workq_submit(struct workq *q, workq_work_fn work, workq_done_fn done, void *data)
{
        struct workq_job *j = malloc(sizeof(*j));
        int r = 0;

        if (!j)
                return -ENOMEM;
        *j = (struct workq_job){ .work = work, .done = done, .data = data };

        pthread_mutex_lock(&q->lock);
        if (q->stopping)
                r = -ESHUTDOWN;
        else if (q->pending >= q->max_queued)
                r = -ENOBUFS;
        else {
                workq_list_push(&q->todo, j);
                q->pending++;
                pthread_cond_signal(&q->wake);
        }
        pthread_mutex_unlock(&q->lock);

        if (r < 0)
                free(j);
        return r;
}

int workq_batch_set(struct workq *q, const struct workq_batch *batch)
{
        bool commit = batch->begin && batch->end;

        if (batch->max < 1 || batch->max > WORKQ_BATCH_MAX)
                return -EINVAL;
        if (commit == !!batch->run_many || (commit && q->n_threads != 1) ||
            (!commit && (batch->begin || batch->end)))
                return -EINVAL;

        pthread_mutex_lock(&q->lock);
        q->batch = *batch;
        pthread_mutex_unlock(&q->lock);
        return 0;
}

size_t workq_pending(const struct workq *q)
{
        size_t n;

        pthread_mutex_lock((pthread_mutex_t *)&q->lock);
        n = q->pending;
        pthread_mutex_unlock((pthread_mutex_t *)&q->lock);
        return n;
}

static void workq_on_close(uv_handle_t *handle)
{
        struct workq *q = handle->data;

        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->wake);
        free(q);
}

void workq_free(struct workq *q)
{
        if (!q)
                return;

        pthread_mutex_lock(&q->lock);
        q->stopping = true;
        pthread_cond_broadcast(&q->wake);
        pthread_mutex_unlock(&q->lock);

        for (unsigned i = 0; i < q->n_threads; i++)
                pthread_join(q->threads[i], NULL);

        workq_drain_finished(q);
        uv_close((uv_handle_t *)&q->async, workq_on_close);
}
