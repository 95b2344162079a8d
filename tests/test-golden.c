/* test-golden.c: parley's model against PyTorch's.
 *
 * tests/golden/golden.safetensors was written by tests/golden/make-golden.py
 * from the same model built of nn.Embedding, nn.LSTM and nn.Linear and run
 * in float64: initial weights, the golden batch (3 rows of different
 * lengths, padded), its logits, masked loss and every gradient, and the
 * parameters after two RMSprop and two Adam steps on the clipped
 * gradients.  parley computes in float32; everything must agree to 1e-4
 * relative (entries smaller than 1e-3 of their tensor's largest are
 * compared against that floor instead, where float32 rounding of sums
 * dominates; updated parameters against the larger of old and new value).
 *
 * With PARLEY_GOLDEN_SAVE=FILE the model is also written to FILE through
 * seq2seq_save(), for make-golden.py --check to load into PyTorch. */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "safetensors.h"
#include "seq2seq.h"
#include "test.h"

#define TOLERANCE 1e-4
#define FLOOR_FRACTION 1e-3

static double worst;

/* Compares n values, counting entries off by more than the tolerance;
 * base, when given, holds values of which want is an update: an entry is
 * then measured against the larger of the two, as float32 cannot hold the
 * difference of two nearly equal numbers more precisely than that. */
static void compare_from(const char *what, const float *got, const float *want,
                         const float *base, size_t n)
{
        double largest = 0.0;
        int bad = 0;

        for (size_t i = 0; i < n; i++)
                largest = fmax(largest, fabs(want[i]));

        for (size_t i = 0; i < n; i++) {
                double scale = fmax(fmax(fabs(want[i]), base ? fabs(base[i]) : 0.0),
                                    FLOOR_FRACTION * largest);
                double e = scale > 0 ? fabs(got[i] - want[i]) / scale : fabs(got[i] - want[i]);

                worst = fmax(worst, e);
                if (e > TOLERANCE && bad++ < 5)
                        TEST_FAIL("%s[%zu]: %.9g, PyTorch %.9g", what, i, got[i], want[i]);
        }

        test_checks++;
        if (bad)
                TEST_FAIL("%s: %d of %zu values differ", what, bad, n);
}

static void compare(const char *what, const float *got, const float *want, size_t n)
{
        compare_from(what, got, want, NULL, n);
}

static double metadata_double(const struct safetensors *st, const char *key)
{
        const char *s = safetensors_metadata_get(st, key);

        if (!s) {
                TEST_FAIL("golden file lacks metadata '%s'", key);
                return NAN;
        }
        return strtod(s, NULL);
}

/* An integer tensor stored as float: [n] into ints. */
static int *read_ints(const struct safetensors *st, const char *name, size_t *ret_n)
{
        int64_t shape[SAFETENSORS_DIMS_MAX];
        char error[SAFETENSORS_ERROR_MAX];
        size_t n = 1;
        float *f;
        int *ids;
        int ndim;

        if (safetensors_tensor_shape(st, name, &ndim, shape) < 0)
                TEST_SKIP("golden file lacks %s", name);
        for (int d = 0; d < ndim; d++)
                n *= (size_t)shape[d];

        f = calloc(n, sizeof(float));
        ids = calloc(n, sizeof(int));
        if (!f || !ids)
                abort();
        CHECK_INT_EQ(safetensors_tensor_read(st, name, ndim, shape, f, error, sizeof(error)), 0);
        for (size_t i = 0; i < n; i++)
                ids[i] = (int)f[i];
        free(f);

        *ret_n = n;
        return ids;
}

static void compare_block(const struct safetensors *st, const struct seq2seq *m,
                          const char *prefix, const float *got, const float *base)
{
        char error[SAFETENSORS_ERROR_MAX];
        float *want = calloc(m->parameter_count, sizeof(float));
        int n = seq2seq_tensor_count(&m->config);

        if (!want)
                abort();
        if (seq2seq_block_read(st, &m->config, prefix, want, error, sizeof(error)) < 0) {
                TEST_FAIL("%s", error);
                free(want);
                return;
        }

        for (int i = 0; i < n; i++) {
                struct seq2seq_tensor t;
                char what[128];

                seq2seq_tensor_describe(&m->config, i, &t);
                snprintf(what, sizeof(what), "%s%s", prefix, t.name);
                compare_from(what, got + t.offset, want + t.offset,
                             base ? base + t.offset : NULL, t.count);
        }
        free(want);
}

static void optimizer_check(const struct safetensors *st, const struct seq2seq *m,
                            const float *clipped, enum optim_kind kind)
{
        float *params = malloc(m->parameter_count * sizeof(float));
        const char *name = optim_kind_to_string(kind);
        struct optim_config config;
        struct optim *o = NULL;
        float lr = (float)metadata_double(st, "learning_rate");

        if (!params)
                abort();
        memcpy(params, m->parameters, m->parameter_count * sizeof(float));
        optim_config_default(kind, &config);
        CHECK_INT_EQ(optim_new(&config, m->parameter_count, &o), 0);

        for (int step = 1; step <= 2; step++) {
                char prefix[32];

                optim_step(o, params, clipped, lr);
                snprintf(prefix, sizeof(prefix), "%s.step%d.", name, step);
                compare_block(st, m, prefix, params, m->parameters);
        }
        CHECK_INT_EQ(o->steps, 2);

        optim_free(o);
        free(params);
}

int main(void)
{
        const char *srcdir = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
        const char *save = getenv("PARLEY_GOLDEN_SAVE");
        char path[4096], error[SAFETENSORS_ERROR_MAX];
        struct safetensors *st = NULL;
        struct seq2seq_config config;
        struct seq2seq *m = NULL;
        struct seq2seq_workspace *w = NULL;
        struct seq2seq_loss loss;
        struct seq2seq_batch batch;
        int *source, *source_lengths, *target_input, *target_output, *target_lengths;
        size_t n_source, n_batch, n_target, n;
        float *clipped;
        double norm;

        snprintf(path, sizeof(path), "%s/tests/golden/golden.safetensors", srcdir);
        if (safetensors_open(path, &st, error, sizeof(error)) < 0)
                TEST_SKIP("%s", error);

        CHECK_INT_EQ(seq2seq_config_read(st, &config, error, sizeof(error)), 0);
        CHECK_INT_EQ(config.vocab_size, 11);
        CHECK_INT_EQ(config.layers, 2);
        CHECK_INT_EQ(seq2seq_new(&config, &m), 0);
        CHECK_INT_EQ(seq2seq_gradients_enable(m), 0);
        CHECK_INT_EQ(seq2seq_block_read(st, &config, "", m->parameters, error, sizeof(error)), 0);

        /* the batch: token ids stored as floats, time-major */
        source = read_ints(st, "input.source", &n_source);
        source_lengths = read_ints(st, "input.source_lengths", &n_batch);
        target_input = read_ints(st, "input.target_input", &n_target);
        target_output = read_ints(st, "input.target_output", &n);
        target_lengths = read_ints(st, "input.target_lengths", &n);
        batch = (struct seq2seq_batch){
                .size = (int)n_batch,
                .source_steps = (int)(n_source / n_batch),
                .target_steps = (int)(n_target / n_batch),
                .source = (const int32_t *)source,
                .source_lengths = source_lengths,
                .target_input = (const int32_t *)target_input,
                .target_output = (const int32_t *)target_output,
                .target_lengths = target_lengths,
        };

        CHECK_INT_EQ(seq2seq_workspace_new(m, batch.size, batch.source_steps, batch.target_steps,
                                           &w), 0);
        CHECK_INT_EQ(seq2seq_forward(m, w, &batch, 0.0f, 0, &loss), 0);
        CHECK_INT_EQ(loss.tokens, 14);
        CHECK_NEAR(loss.sum / loss.tokens, metadata_double(st, "loss"), TOLERANCE);

        /* logits of the real positions (PyTorch's padded steps ran on pad
         * tokens; parley's carry the state) */
        {
                int V = config.vocab_size, B = batch.size;
                const float *logits = seq2seq_workspace_logits(w);
                int64_t shape[3] = { batch.target_steps, B, V };
                float *want = calloc((size_t)batch.target_steps * B * V, sizeof(float));

                if (!want)
                        abort();
                CHECK_INT_EQ(safetensors_tensor_read(st, "logits", 3, shape, want, error,
                                                     sizeof(error)), 0);
                for (int t = 0; t < batch.target_steps; t++)
                        for (int b = 0; b < B; b++) {
                                size_t o = ((size_t)t * B + b) * V;
                                char what[64];

                                if (t >= target_lengths[b])
                                        continue;
                                snprintf(what, sizeof(what), "logits[%d, %d]", t, b);
                                compare(what, logits + o, want + o, V);
                        }
                free(want);
        }

        CHECK_INT_EQ(seq2seq_backward(m, w, &batch), 0);
        compare_block(st, m, "grad.", m->gradients, NULL);

        /* clipping, then the optimisers, on PyTorch's gradients so that
         * what is compared is the optimiser alone: RMSprop and Adam divide
         * by the gradient's own size, which makes the steps of tiny
         * gradient entries as sensitive as their last float32 bits */
        clipped = malloc(m->parameter_count * sizeof(float));
        if (!clipped)
                abort();
        CHECK_INT_EQ(seq2seq_block_read(st, &config, "grad.", clipped, error, sizeof(error)), 0);
        norm = optim_clip_grad_norm(clipped, m->parameter_count, metadata_double(st, "max_norm"));
        CHECK_NEAR(norm, metadata_double(st, "grad_norm"), TOLERANCE);
        optimizer_check(st, m, clipped, OPTIM_RMSPROP);
        optimizer_check(st, m, clipped, OPTIM_ADAM);

        fprintf(stderr, "worst relative difference from PyTorch: %.2g\n", worst);

        if (save) {
                const char *vocabulary = safetensors_metadata_get(st, "vocabulary");

                CHECK_INT_EQ(seq2seq_save(m, save, vocabulary, NULL, 0), 0);
        }

        free(clipped);
        free(source);
        free(source_lengths);
        free(target_input);
        free(target_output);
        free(target_lengths);
        seq2seq_workspace_free(w);
        seq2seq_free(m);
        safetensors_free(st);
        return test_finish();
}
