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
        return decoder_new(r->model, r->vocab, &r->options, 1, ret);
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

int responder_reply(struct responder *r, const char *text, bool chinese, char **ret)
{
        static const char no_model_en[] =
                "No model is loaded, so I can only run commands (try 'help'). "
                "To teach me to answer, train a model with 'parley train' and set "
                "'path' in the [model] section of parleyd.conf.";
        static const char no_model_zh[] =
                "尚未加载模型，目前只能执行命令（试试“帮助”）。"
                "请用 'parley train' 训练模型，并在 parleyd.conf 的 [model] 中设置 'path'。";
        static const char empty_en[] = "Sorry, I have no answer to that. Try 'help'.";
        static const char empty_zh[] = "抱歉，我答不上来。试试“帮助”。";
        struct decoder *d;
        char *reply = NULL;
        int k;

        if (!r->model) {
                reply = strdup(chinese ? no_model_zh : no_model_en);
                goto done;
        }

        /* Text the platform let through may still be invalid UTF-8. */
        if (!text_utf8_valid(text, strlen(text))) {
                reply = strdup(empty_en);
                goto done;
        }

        k = responder_decoder_take(r, &d);
        if (k < 0)
                return k;

        k = decoder_reply(d, text, &reply);
        responder_decoder_give(r, d);
        if (k < 0)
                return k;

        if (reply[strspn(reply, " ")] == '\0') {
                free(reply);
                reply = strdup(chinese ? empty_zh : empty_en);
        }

done:
        if (!reply)
                return -ENOMEM;
        *ret = reply;
        return 0;
}
