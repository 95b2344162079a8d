/* responder.c: answers free text with the Seq2Seq model. */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "responder.h"
#include "tokenize.h"

/* Decoders kept for reuse; more threads than this make their own. */
#define RESPONDER_POOL_MAX 64

struct responder {
        atomic_int refs;
        struct seq2seq *model;          /* NULL: no model configured */
        struct vocab *vocab;
        struct decoder_options options;

        pthread_mutex_t lock;
        struct decoder *pool[RESPONDER_POOL_MAX];
        size_t n_pool;
};

int responder_new(const char *model_path, const struct decoder_options *options,
                  struct responder **ret, char *error)
{
        struct responder *r = calloc(1, sizeof(*r));
        int k;

        if (!r)
                return -ENOMEM;

        atomic_init(&r->refs, 1);
        pthread_mutex_init(&r->lock, NULL);
        r->options = *options;

        if (model_path) {
                k = decoder_model_load(model_path, &r->model, &r->vocab, error,
                                       RESPONDER_ERROR_MAX);
                if (k < 0) {
                        pthread_mutex_destroy(&r->lock);
                        free(r);
                        return k;
                }
        }

        *ret = r;
        return 0;
}

struct responder *responder_ref(struct responder *r)
{
        atomic_fetch_add(&r->refs, 1);
        return r;
}

void responder_unref(struct responder *r)
{
        if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
                return;

        for (size_t i = 0; i < r->n_pool; i++)
                decoder_free(r->pool[i]);
        pthread_mutex_destroy(&r->lock);
        seq2seq_free(r->model);
        vocab_free(r->vocab);
        free(r);
}

bool responder_has_model(const struct responder *r)
{
        return r->model != NULL;
}

static int responder_decoder_take(struct responder *r, struct decoder **ret)
{
        struct decoder *d = NULL;

        pthread_mutex_lock(&r->lock);
        if (r->n_pool > 0)
                d = r->pool[--r->n_pool];
        pthread_mutex_unlock(&r->lock);

        if (d) {
                *ret = d;
                return 0;
        }
        return decoder_new(r->model, r->vocab, &r->options, RESPONDER_BATCH_MAX, ret);
}

static void responder_decoder_give(struct responder *r, struct decoder *d)
{
        pthread_mutex_lock(&r->lock);
        if (r->n_pool < RESPONDER_POOL_MAX) {
                r->pool[r->n_pool++] = d;
                d = NULL;
        }
        pthread_mutex_unlock(&r->lock);
        decoder_free(d);
}

static const char no_model_en[] =
        "No model is loaded, so I can only run commands (try 'help'). "
        "To teach me to answer, train a model with 'parley train' and set "
        "'path' in the [model] section of parleyd.conf.";
static const char no_model_zh[] =
        "尚未加载模型，目前只能执行命令（试试“帮助”）。"
        "请用 'parley train' 训练模型，并在 parleyd.conf 的 [model] 中设置 'path'。";
static const char empty_en[] = "Sorry, I have no answer to that. Try 'help'.";
static const char empty_zh[] = "抱歉，我答不上来。试试“帮助”。";

/* The responder's own answer where the model gives none, or NULL. */
static const char *responder_notice(const struct responder *r, const char *text, bool chinese)
{
        if (!r->model)
                return chinese ? no_model_zh : no_model_en;
        /* Text a platform let through may still be invalid UTF-8. */
        if (!text_utf8_valid(text, strlen(text)))
                return empty_en;
        return NULL;
}

int responder_reply_batch(struct responder *r, const char *const *texts, const bool *chinese,
                          size_t n, char **replies, int *results)
{
        const char *prompts[RESPONDER_BATCH_MAX];
        char *decoded[RESPONDER_BATCH_MAX];
        size_t index[RESPONDER_BATCH_MAX];
        struct decoder *d = NULL;

        for (size_t start = 0; start < n; start += RESPONDER_BATCH_MAX) {
                size_t end = start + RESPONDER_BATCH_MAX < n ? start + RESPONDER_BATCH_MAX : n;
                size_t k = 0;
                int rk = 0;

                for (size_t i = start; i < end; i++) {
                        const char *notice = responder_notice(r, texts[i], chinese[i]);

                        replies[i] = NULL;
                        results[i] = 0;
                        if (notice) {
                                replies[i] = strdup(notice);
                                results[i] = replies[i] ? 0 : -ENOMEM;
                                continue;
                        }
                        index[k] = i;
                        prompts[k++] = texts[i];
                }
                if (k == 0)
                        continue;

                if (!d)
                        rk = responder_decoder_take(r, &d);
                if (rk == 0)
                        rk = decoder_reply_batch(d, prompts, (int)k, decoded);

                for (size_t j = 0; j < k; j++) {
                        size_t i = index[j];

                        if (rk < 0) {
                                results[i] = rk;
                                continue;
                        }
                        if (decoded[j][strspn(decoded[j], " ")] == '\0') {
                                free(decoded[j]);
                                decoded[j] = strdup(chinese[i] ? empty_zh : empty_en);
                        }
                        replies[i] = decoded[j];
                        results[i] = replies[i] ? 0 : -ENOMEM;
                }
        }

        if (d)
                responder_decoder_give(r, d);
        return 0;
}

int responder_reply(struct responder *r, const char *text, bool chinese, char **ret)
{
        char *reply;
        int result;

        responder_reply_batch(r, &text, &chinese, 1, &reply, &result);
        if (result < 0)
                return result;

        *ret = reply;
        return 0;
}
