/* optim.c: RMSprop and Adam as PyTorch computes them. */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "parallel.h"

void optim_config_default(enum optim_kind kind, struct optim_config *ret)
{
        *ret = (struct optim_config){
                .kind = kind,
                .alpha = 0.99f,
                .beta1 = 0.9f,
                .beta2 = 0.999f,
                .eps = 1e-8f,
        };
}

int optim_kind_from_string(const char *s, enum optim_kind *ret)
{
        if (strcmp(s, "rmsprop") == 0)
                *ret = OPTIM_RMSPROP;
        else if (strcmp(s, "adam") == 0)
                *ret = OPTIM_ADAM;
        else
                return -EINVAL;
        return 0;
}

const char *optim_kind_to_string(enum optim_kind kind)
{
        return kind == OPTIM_ADAM ? "adam" : "rmsprop";
}

int optim_new(const struct optim_config *config, size_t count, struct optim **ret)
{
        struct optim *o;

        if (count == 0 || !(config->eps > 0.0f) ||
            !(config->alpha >= 0.0f && config->alpha < 1.0f) ||
            !(config->beta1 >= 0.0f && config->beta1 < 1.0f) ||
            !(config->beta2 >= 0.0f && config->beta2 < 1.0f))
                return -EINVAL;

        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;

        o->config = *config;
        o->count = count;
        o->state_count = config->kind == OPTIM_ADAM ? 2 : 1;
        o->memory = calloc((size_t)o->state_count * count, sizeof(float));
        if (!o->memory) {
                free(o);
                return -ENOMEM;
        }

        o->state[0] = o->memory;
        if (config->kind == OPTIM_ADAM) {
                o->state[1] = o->memory + count;
                o->state_name[0] = "exp_avg";
                o->state_name[1] = "exp_avg_sq";
        } else {
                o->state_name[0] = "square_avg";
        }

        *ret = o;
        return 0;
}

void optim_free(struct optim *o)
{
        if (!o)
                return;

        free(o->memory);
        free(o);
}

/* Parameters handed to a thread at least. */
#define OPTIM_PART_MIN (64 * 1024)
/* The gradient norm is summed per chunk of this many, then the chunks in
 * order, so it does not depend on the number of threads. */
#define OPTIM_NORM_CHUNK (64 * 1024)

struct step_job {
        struct optim *o;
        float *p;
        const float *g;
        float lr;
        float step_size, root2;         /* Adam */
};

static void rmsprop_part(void *userdata, size_t begin, size_t end)
{
        const struct step_job *j = userdata;
        float alpha = j->o->config.alpha, eps = j->o->config.eps, lr = j->lr;
        float *v = j->o->state[0], *p = j->p;
        const float *g = j->g;

        for (size_t i = begin; i < end; i++) {
                v[i] = alpha * v[i] + (1.0f - alpha) * g[i] * g[i];
                p[i] -= lr * g[i] / (sqrtf(v[i]) + eps);
        }
}

static void adam_part(void *userdata, size_t begin, size_t end)
{
        const struct step_job *j = userdata;
        float b1 = j->o->config.beta1, b2 = j->o->config.beta2, eps = j->o->config.eps;
        float *m = j->o->state[0], *v = j->o->state[1], *p = j->p;
        const float *g = j->g;

        for (size_t i = begin; i < end; i++) {
                m[i] = b1 * m[i] + (1.0f - b1) * g[i];
                v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
                p[i] -= j->step_size * m[i] / (sqrtf(v[i]) / j->root2 + eps);
        }
}

void optim_step(struct optim *o, float *params, const float *grads, float lr)
{
        struct step_job j = { .o = o, .p = params, .g = grads, .lr = lr };

        o->steps++;
        if (o->config.kind == OPTIM_ADAM) {
                /* the bias corrections in double, as PyTorch computes them
                 * in Python floats */
                double correction1 = 1.0 - pow(o->config.beta1, (double)o->steps);
                double correction2 = 1.0 - pow(o->config.beta2, (double)o->steps);

                j.step_size = (float)(lr / correction1);
                j.root2 = (float)sqrt(correction2);
                parallel_for(o->count, OPTIM_PART_MIN, adam_part, &j);
        } else {
                parallel_for(o->count, OPTIM_PART_MIN, rmsprop_part, &j);
        }
}

struct norm_job {
        float *g;
        size_t n;
        double *chunk_sums;
        float factor;
};

static void norm_part(void *userdata, size_t begin, size_t end)
{
        struct norm_job *j = userdata;

        for (size_t c = begin; c < end; c++) {
                size_t first = c * OPTIM_NORM_CHUNK;
                size_t last = first + OPTIM_NORM_CHUNK < j->n ? first + OPTIM_NORM_CHUNK : j->n;
                double sum = 0.0;

                for (size_t i = first; i < last; i++)
                        sum += (double)j->g[i] * j->g[i];
                j->chunk_sums[c] = sum;
        }
}

static void scale_part(void *userdata, size_t begin, size_t end)
{
        struct norm_job *j = userdata;

        for (size_t i = begin; i < end; i++)
                j->g[i] *= j->factor;
}

double optim_clip_grad_norm(float *grads, size_t n, double max_norm)
{
        size_t chunks = (n + OPTIM_NORM_CHUNK - 1) / OPTIM_NORM_CHUNK;
        double stack_sums[64], sum = 0.0, norm, factor;
        double *sums = chunks <= 64 ? stack_sums : malloc(chunks * sizeof(double));
        struct norm_job j = { .g = grads, .n = n, .chunk_sums = sums };

        if (!sums) {
                /* no memory for the partial sums: one pass on this thread */
                j.chunk_sums = &sum;
                for (size_t i = 0; i < n; i++)
                        sum += (double)grads[i] * grads[i];
        } else {
                parallel_for(chunks, 2, norm_part, &j);
                for (size_t c = 0; c < chunks; c++)
                        sum += sums[c];
                if (sums != stack_sums)
                        free(sums);
        }
        norm = sqrt(sum);

        factor = max_norm / (norm + 1e-6);
        if (factor < 1.0) {
                /* as PyTorch: the factor rounded to float, then multiplied */
                j.factor = (float)factor;
                parallel_for(n, OPTIM_PART_MIN, scale_part, &j);
        }

        return norm;
}
