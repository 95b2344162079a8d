/* responder.c: answers free text with the Seq2Seq model. */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "responder.h"

struct responder {
        char *model_path;
};

int responder_new(const char *model_path, struct responder **ret, char *error)
{
        struct responder *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;

        if (model_path) {
                snprintf(error, RESPONDER_ERROR_MAX,
                         "%s: this parleyd cannot load models yet", model_path);
                free(r);
                return -EOPNOTSUPP;
        }

        *ret = r;
        return 0;
}

void responder_free(struct responder *r)
{
        if (!r)
                return;
        free(r->model_path);
        free(r);
}

int responder_has_model(const struct responder *r)
{
        return r->model_path != NULL;
}

int responder_reply(struct responder *r, const char *text, int chinese, char **ret)
{
        static const char no_model_en[] =
                "No model is loaded, so I can only run commands (try 'help'). "
                "To teach me to answer, train a model with 'parley train' and set "
                "'path' in the [model] section of parleyd.conf.";
        static const char no_model_zh[] =
                "尚未加载模型，目前只能执行命令（试试“帮助”）。"
                "请用 'parley train' 训练模型，并在 parleyd.conf 的 [model] 中设置 'path'。";
        char *reply = strdup(chinese ? no_model_zh : no_model_en);

        if (!reply)
                return -ENOMEM;

        *ret = reply;
        return 0;
}
