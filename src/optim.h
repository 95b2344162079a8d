/* optim.h: the optimisers that update the model, and gradient clipping.
 *
 * Both follow PyTorch's torch.optim exactly (so a golden test can compare
 * one step), without weight decay, momentum or the centred variant:
 *
 * RMSprop (alpha 0.99, eps 1e-8 by default):
 *   v = alpha v + (1 - alpha) g^2
 *   p -= lr g / (sqrt(v) + eps)                   eps outside the root
 *
 * Adam (beta1 0.9, beta2 0.999, eps 1e-8 by default), step t from 1:
 *   m = beta1 m + (1 - beta1) g
 *   v = beta2 v + (1 - beta2) g^2
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * The state is one allocation holding one (RMSprop: v) or two (Adam: m,
 * v) arrays with the parameters' layout, so a checkpoint can store them
 * under the parameters' names. */
#ifndef PARLEY_OPTIM_H
#define PARLEY_OPTIM_H

#include <stddef.h>

enum optim_kind {
        OPTIM_RMSPROP,
        OPTIM_ADAM,
};

struct optim_config {
        enum optim_kind kind;
        float alpha;            /* RMSprop's smoothing constant */
        float beta1, beta2;     /* Adam's */
        float eps;
};

#define OPTIM_STATE_MAX 2

struct optim {
        struct optim_config config;
        size_t count;           /* parameters */
        long steps;             /* steps taken */
        float *memory;          /* [state_count * count] */
        int state_count;
        float *state[OPTIM_STATE_MAX];          /* views into memory */
        const char *state_name[OPTIM_STATE_MAX]; /* PyTorch's names */
};

/* PyTorch's defaults for kind. */
void optim_config_default(enum optim_kind kind, struct optim_config *ret);

/* "rmsprop" or "adam"; -EINVAL otherwise. */
int optim_kind_from_string(const char *s, enum optim_kind *ret);
const char *optim_kind_to_string(enum optim_kind kind);

/* State for count parameters, all zero.  -EINVAL, -ENOMEM. */
int optim_new(const struct optim_config *config, size_t count, struct optim **ret);
void optim_free(struct optim *o);

/* params -= the update for grads at learning rate lr; both [count]. */
void optim_step(struct optim *o, float *params, const float *grads, float lr);

/* Scales grads [n] so their global L2 norm is at most max_norm, as
 * torch.nn.utils.clip_grad_norm_ does (factor max_norm / (norm + 1e-6)
 * when below 1).  Returns the norm before clipping. */
double optim_clip_grad_norm(float *grads, size_t n, double max_norm);

#endif
