/* bench-encode.c: a corpus as token ids in a model's vocabulary.
 *
 *   bench/bench-encode MODEL.safetensors CORPUS... > PAIRS.jsonl
 *
 * Reads the prompt/reply pairs of each CORPUS (TSV, JSON lines or
 * chatterbot YAML, as parley train does), encodes both sides with parley's
 * tokenizer and the vocabulary stored in MODEL, and writes one JSON object
 * per pair, {"s": [ids], "t": [ids]}, keeping the pairs parley train keeps:
 * both sides non-empty and at most the model's max_length tokens (40 when
 * the file does not say).  So bench/compare_torch.py trains PyTorch on
 * exactly the examples and ids parley trained on.  Counts go to stderr. */
#include "autoconfig.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "log.h"
#include "safetensors.h"
#include "seq2seq.h"
#include "vocab.h"

struct encoder {
        const struct vocab *vocab;
        long max_length;
        size_t written, long_pairs, empty, malformed;
        bool write_failed;      /* stdout refused a pair */
        bool pair_failed;       /* on_pair() stopped the read */
};

static json_object *ids_json(const int32_t *ids, size_t n)
{
        json_object *a = json_object_new_array_ext((int)n);

        for (size_t i = 0; a && i < n; i++) {
                json_object *id = json_object_new_int(ids[i]);

                if (!id || json_object_array_add(a, id) < 0) {
                        json_object_put(id);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

/* One JSON line to stdout; the write's error, -EIO if it set none. */
static int pair_write(json_object *o)
{
        const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

        if (!line)
                return -ENOMEM;
        errno = 0;
        if (puts(line) < 0)
                return errno ? -errno : -EIO;
        return 0;
}

static int on_pair(const struct corpus_pair *p, void *userdata)
{
        struct encoder *e = userdata;
        int32_t *source = NULL, *target = NULL;
        size_t ns = 0, nt = 0;
        int r;

        r = vocab_encode(e->vocab, p->prompt, &source, &ns);
        if (r >= 0)
                r = vocab_encode(e->vocab, p->reply, &target, &nt);
        if (r == -EILSEQ) {
                e->malformed++;
                r = 0;
        } else if (r >= 0 && (ns > (size_t)e->max_length || nt > (size_t)e->max_length)) {
                e->long_pairs++;
        } else if (r >= 0 && (ns == 0 || nt == 0)) {
                e->empty++;
        } else if (r >= 0) {
                json_object *o = json_object_new_object();
                json_object *s = ids_json(source, ns), *t = ids_json(target, nt);

                if (!o || !s || !t || json_object_object_add(o, "s", s) < 0) {
                        json_object_put(s);
                        json_object_put(t);
                        r = -ENOMEM;
                } else if (json_object_object_add(o, "t", t) < 0) {
                        json_object_put(t);
                        r = -ENOMEM;
                } else {
                        r = pair_write(o);
                        if (r < 0)
                                e->write_failed = true;
                        else
                                e->written++;
                }
                json_object_put(o);
        }
        free(source);
        free(target);
        if (r < 0)
                e->pair_failed = true;
        return r;
}

static void on_malformed(const char *file, size_t line, const char *what, void *userdata)
{
        struct encoder *e = userdata;

        e->malformed++;
        fprintf(stderr, "%s:%zu: %s, skipped\n", file, line, what);
}

int main(int argc, char **argv)
{
        static const struct corpus_callbacks callbacks = { .pair = on_pair,
                                                           .malformed = on_malformed };
        struct encoder e = { .max_length = 40 };
        struct seq2seq *m = NULL;
        struct safetensors *st = NULL;
        struct vocab *v = NULL;
        char *vocabulary = NULL, error[512];
        const char *max_length;

        log_open("bench-encode");
        if (argc < 3) {
                fprintf(stderr, "usage: bench-encode MODEL.safetensors CORPUS... > PAIRS.jsonl\n");
                return 2;
        }
        if (seq2seq_load(argv[1], &m, &vocabulary, error, sizeof(error)) < 0) {
                fprintf(stderr, "%s\n", error);
                return 1;
        }
        if (vocab_from_json(vocabulary, &v) < 0) {
                fprintf(stderr, "%s: the vocabulary cannot be read\n", argv[1]);
                return 1;
        }
        if (safetensors_open(argv[1], &st, error, sizeof(error)) < 0) {
                fprintf(stderr, "%s\n", error);
                return 1;
        }
        max_length = safetensors_metadata_get(st, "max_length");
        if (max_length) {
                char *end;

                errno = 0;
                e.max_length = strtol(max_length, &end, 10);
                if (errno || end == max_length || *end || e.max_length <= 0) {
                        fprintf(stderr, "%s: metadata max_length \"%s\" is not a positive "
                                        "integer\n", argv[1], max_length);
                        return 1;
                }
        }
        e.vocab = v;

        for (int i = 2; i < argc; i++) {
                int r = corpus_read(argv[i], CORPUS_AUTO, &callbacks, &e);

                if (r < 0 && e.write_failed)
                        fprintf(stderr, "stdout: cannot write the pairs: %s\n", strerror(-r));
                else if (r == -EINVAL && !e.pair_failed)
                        fprintf(stderr, "%s: the name does not end in .tsv, .txt, .jsonl, .json, "
                                        ".yml or .yaml\n", argv[i]);
                else if (r < 0)
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                if (r < 0)
                        return 1;
        }
        if (fflush(stdout) != 0) {
                perror("stdout");
                return 1;
        }
        fprintf(stderr, "%zu pairs written; skipped: %zu over %ld tokens, %zu with an empty side, "
                        "%zu malformed\n",
                e.written, e.long_pairs, e.max_length, e.empty, e.malformed);
        safetensors_free(st);
        vocab_free(v);
        free(vocabulary);
        seq2seq_free(m);
        return 0;
}
