/* test-workq: order, limits and group commit of the worker queues. */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <uv.h>

#include "test.h"
#include "workq.h"

#define JOBS 40

struct record {
        pthread_mutex_t lock;
        int ran[JOBS * 2];              /* job numbers in the order work() ran */
        int n_ran;
        int done[JOBS];                 /* job numbers in the order done() ran */
        int n_done;
        int begins, ends, fail_ends;
        int batch_sizes[JOBS];          /* jobs run between a begin and its end */
        int n_batches, in_batch;
        bool committed[JOBS];           /* work ran inside a batch that ended well */
        bool done_before_commit;
        pthread_mutex_t gate;           /* held: the first job waits */
};

struct job {
        struct record *rec;
        int number;
        bool in_batch;
};

static struct record rec = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .gate = PTHREAD_MUTEX_INITIALIZER,
};
static struct job jobs[JOBS];

static void job_work(void *data)
{
        struct job *j = data;

        /* The first job waits at the gate, so the others queue up behind it. */
        if (j->number == 0) {
                pthread_mutex_lock(&rec.gate);
                pthread_mutex_unlock(&rec.gate);
        }

        pthread_mutex_lock(&rec.lock);
        rec.ran[rec.n_ran++] = j->number;
        j->in_batch = rec.in_batch >= 0;
        if (rec.in_batch >= 0)
                rec.in_batch++;
        pthread_mutex_unlock(&rec.lock);
}

static void job_done(void *data)
{
        struct job *j = data;

        rec.done[rec.n_done++] = j->number;
        if (!rec.committed[j->number])
                rec.done_before_commit = true;
}

static int batch_begin(void *ctx)
{
        pthread_mutex_lock(&rec.lock);
        rec.begins++;
        rec.in_batch = 0;
        pthread_mutex_unlock(&rec.lock);
        return 0;
}

/* The second batch's commit fails, as a disk error would make it. */
static int batch_end(void *ctx)
{
        int r = 0;

        pthread_mutex_lock(&rec.lock);
        rec.ends++;
        rec.batch_sizes[rec.n_batches++] = rec.in_batch;
        if (rec.ends == 2) {
                rec.fail_ends++;
                r = -EIO;
        } else {
                for (int i = rec.n_ran - rec.in_batch; i < rec.n_ran; i++)
                        rec.committed[rec.ran[i]] = true;
        }
        rec.in_batch = -1;
        pthread_mutex_unlock(&rec.lock);
        return r;
}

/* Outside a batch a job commits by itself. */
static void job_work_outside(void *data)
{
        struct job *j = data;

        job_work(data);
        if (!j->in_batch) {
                pthread_mutex_lock(&rec.lock);
                rec.committed[j->number] = true;
                pthread_mutex_unlock(&rec.lock);
        }
}

int main(void)
{
        uv_loop_t loop;
        struct workq *q;
        int r;

        uv_loop_init(&loop);
        rec.in_batch = -1;

        CHECK_INT_EQ(workq_new(&loop, "test", 1, JOBS, &q), 0);
        CHECK_INT_EQ(workq_batch_set(q, &(struct workq_batch){
                .begin = batch_begin, .end = batch_end, .max = 16 }), 0);

        pthread_mutex_lock(&rec.gate);
        for (int i = 0; i < JOBS; i++) {
                jobs[i] = (struct job){ .rec = &rec, .number = i };
                r = workq_submit(q, job_work_outside, job_done, &jobs[i]);
                CHECK_INT_EQ(r, 0);
        }

        /* Full: the limit counts jobs whose done() has not run. */
        CHECK_INT_EQ(workq_submit(q, job_work_outside, job_done, &jobs[0]), -ENOBUFS);
        CHECK_INT_EQ(workq_pending(q), JOBS);
        pthread_mutex_unlock(&rec.gate);

        while (rec.n_done < JOBS)
                uv_run(&loop, UV_RUN_ONCE);

        /* Job 0 ran alone (the others were not queued yet or waited behind
         * it); then batches of at most 16. */
        CHECK_INT_EQ(rec.done[0], 0);
        for (int i = 0; i < JOBS; i++)
                CHECK_INT_EQ(rec.done[i], i);
        CHECK(rec.begins >= 2);
        CHECK_INT_EQ(rec.begins, rec.ends);
        for (int i = 0; i < rec.n_batches; i++)
                CHECK(rec.batch_sizes[i] >= 2 && rec.batch_sizes[i] <= 16);

        /* The failed batch's jobs ran again, one by one, and every job was
         * committed before its done() ran. */
        CHECK_INT_EQ(rec.fail_ends, 1);
        CHECK_INT_EQ(rec.n_ran, JOBS + rec.batch_sizes[1]);
        CHECK(!rec.done_before_commit);
        for (int i = 0; i < JOBS; i++)
                CHECK(rec.committed[i]);

        workq_free(q);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK_INT_EQ(uv_loop_close(&loop), 0);

        /* Batching needs a queue with one thread. */
        uv_loop_init(&loop);
        CHECK_INT_EQ(workq_new(&loop, "two", 2, 4, &q), 0);
        CHECK_INT_EQ(workq_batch_set(q, &(struct workq_batch){
                .begin = batch_begin, .end = batch_end, .max = 16 }), -EINVAL);
        workq_free(q);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);

        return test_finish();
}
