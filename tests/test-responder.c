/* test-responder: replies decoded as one batch are the replies decoded one
 * by one; the responder's own notices; a bad model file is refused. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "responder.h"
#include "seq2seq.h"
#include "macro.h"
#include "test.h"
#include "vocab.h"

static const char *const tokens[] = {
        "<pad>", "<s>", "</s>", "<unk>", "hello", "world", "how", "are", "you", "the",
        "printer", "is", "broken", "thanks", "?", "!", ".", "yes", "no", "maybe",
};

/* A random model over the tokens above, saved at path. */
static void make_model(const char *path)
{
        struct seq2seq_config config = {
                .vocab_size = (int)ELEMENTSOF(tokens),
                .embed_size = 8,
                .hidden_size = 16,
                .layers = 1,
        };
        struct seq2seq *m = NULL;
        struct vocab *v = NULL;
        char *json = NULL;

        CHECK_INT_EQ(vocab_new_from_tokens(tokens, (sizeof(tokens) / sizeof(tokens[0])), &v), 0);
        CHECK_INT_EQ(vocab_to_json(v, &json), 0);
        CHECK_INT_EQ(seq2seq_new(&config, &m), 0);
        seq2seq_init_random(m, 42);
        CHECK_INT_EQ(seq2seq_save(m, path, json, NULL, 0), 0);
        seq2seq_free(m);
        vocab_free(v);
        free(json);
}

int main(void)
{
        static const char *const prompts[] = {
                "hello world", "how are you ?", "the printer is broken", "thanks !",
                "yes", "no no no", "maybe the printer", "hello", "are you broken ?",
                "world world", "\xff\xfe not text", "",
        };
        size_t n = ELEMENTSOF(prompts);
        char dir[] = "/tmp/parley-test-responder.XXXXXX", path[128], garbage[128];
        char error[RESPONDER_ERROR_MAX] = "";
        bool chinese[ELEMENTSOF(prompts)] = { false };
        char *batch[ELEMENTSOF(prompts)];
        int results[ELEMENTSOF(prompts)];
        struct decoder_options options;
        struct responder *r = NULL, *none = NULL;
        char *one = NULL;
        FILE *f;

        if (!mkdtemp(dir))
                TEST_SKIP("cannot make a temporary directory");
        snprintf(path, sizeof(path), "%s/model.safetensors", dir);
        snprintf(garbage, sizeof(garbage), "%s/garbage.safetensors", dir);
        make_model(path);

        decoder_options_default(&options);
        options.max_length = 12;
        CHECK_INT_EQ(responder_new(path, &options, &r, error), 0);
        if (!r) {
                TEST_FAIL("%s", error);
                return test_finish();
        }
        CHECK(responder_has_model(r));

        CHECK_INT_EQ(responder_reply_batch(r, prompts, chinese, n, batch, results), 0);
        for (size_t i = 0; i < n; i++) {
                CHECK_INT_EQ(results[i], 0);
                CHECK_INT_EQ(responder_reply(r, prompts[i], false, &one), 0);
                CHECK_STR_EQ(batch[i], one);
                CHECK(batch[i] && batch[i][0] != '\0');
                free(one);
        }
        /* Invalid UTF-8 gets the responder's own answer, never the model's. */
        CHECK_STR_EQ(batch[10], "Sorry, I have no answer to that. Try 'help'.");
        for (size_t i = 0; i < n; i++)
                free(batch[i]);

        /* Without a model: the notice, in the asker's language. */
        CHECK_INT_EQ(responder_new(NULL, &options, &none, error), 0);
        CHECK(!responder_has_model(none));
        CHECK_INT_EQ(responder_reply(none, "你好", true, &one), 0);
        CHECK(strncmp(one, "尚未加载模型", strlen("尚未加载模型")) == 0);
        free(one);

        /* A reference keeps a responder alive after its owner lets go. */
        struct responder *held = responder_ref(r);
        responder_unref(r);
        CHECK_INT_EQ(responder_reply(held, "hello", false, &one), 0);
        free(one);
        responder_unref(held);
        responder_unref(none);

        f = fopen(garbage, "we");
        fputs("this is not a model", f);
        fclose(f);
        CHECK(responder_new(garbage, &options, &r, error) < 0);
        CHECK(strstr(error, garbage) != NULL);

        unlink(path);
        unlink(garbage);
        rmdir(dir);
        return test_finish();
}
