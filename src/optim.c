/* optim.c: RMSprop and Adam as PyTorch computes them. */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"

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

        if (count == 0 || !(config->eps > 0.0f) || !(config->alpha >= 0.0f && config->alpha < 1.0f) ||
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

static void rmsprop_step(struct optim *o, float *p, const float *g, float lr)
{
        float alpha = o->config.alpha, eps = o->config.eps;
        float *v = o->state[0];

        for (size_t i = 0; i < o->count; i++) {
                v[i] = alpha * v[i] + (1.0f - alpha) * g[i] * g[i];
                p[i] -= lr * g[i] / (sqrtf(v[i]) + eps);
        }
}

static void adam_step(struct optim *o, float *p, const float *g, float lr)
{
        float b1 = o->config.beta1, b2 = o->config.beta2, eps = o->config.eps;
        float *m = o->state[0], *v = o->state[1];
        /* the bias corrections in double, as PyTorch computes them in
         * Python floats */
        double correction1 = 1.0 - pow(b1, (double)o->steps);
        double correction2 = 1.0 - pow(b2, (double)o->steps);
        float step_size = (float)(lr / correction1);
        float root2 = (float)sqrt(correction2);

        for (size_t i = 0; i < o->count; i++) {
                m[i] = b1 * m[i] + (1.0f - b1) * g[i];
                v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
                p[i] -= step_size * m[i] / (sqrtf(v[i]) / root2 + eps);
        }
}

void optim_step(struct optim *o, float *params, const float *grads, float lr)
{
        o->steps++;
        if (o->config.kind == OPTIM_ADAM)
                adam_step(o, params, grads, lr);
        else
                rmsprop_step(o, params, grads, lr);
}

double optim_clip_grad_norm(float *grads, size_t n, double max_norm)
{
        double sum = 0.0, norm, factor;

        for (size_t i = 0; i < n; i++)
                sum += (double)grads[i] * grads[i];
        norm = sqrt(sum);

        factor = max_norm / (norm + 1e-6);
        if (factor < 1.0)
                for (size_t i = 0; i < n; i++)
                        grads[i] = (float)(grads[i] * factor);

        return norm;
}
