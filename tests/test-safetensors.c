/* test-safetensors.c: model files round trip bit for bit, and every kind
 * of damaged or foreign file is refused with a message naming the file and
 * the problem. */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "safetensors.h"
#include "seq2seq.h"
#include "test.h"

static char dir[] = "/tmp/test-safetensors-XXXXXX";
static char model_path[256];

static const char vocabulary[] =
        "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\","
        "\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]";
static const struct seq2seq_config config = { .vocab_size = 13, .embed_size = 4,
                                              .hidden_size = 5, .layers = 2 };

static char *file_read(const char *path, size_t *ret_n)
{
        FILE *f = fopen(path, "rb");
        char *buf;
        long n;

        if (!f)
                abort();
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        buf = malloc(n + 1);
        if (!buf || fread(buf, 1, n, f) != (size_t)n)
                abort();
        fclose(f);
        *ret_n = (size_t)n;
        return buf;
}

static void file_write(const char *path, const void *data, size_t n)
{
        FILE *f = fopen(path, "wb");

        if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0)
                abort();
}

/* A file of the given header text and n_data zero bytes of data. */
static void raw_write(const char *path, const char *header, size_t n_data)
{
        size_t n = strlen(header);
        uint64_t length = n;
        char *buf = calloc(1, 8 + n + n_data);

        if (!buf)
                abort();
        memcpy(buf, &length, 8);
        memcpy(buf + 8, header, n);
        file_write(path, buf, 8 + n + n_data);
        free(buf);
}

/* Loading path as a model fails with -EBADMSG, the message names the file
 * and contains expect. */
#define CHECK_REFUSED(path, expect)                                               \
        do {                                                                      \
                char _error[SAFETENSORS_ERROR_MAX] = "";                          \
                struct seq2seq *_m = NULL;                                        \
                char *_vocab = NULL;                                              \
                int _r = seq2seq_load((path), &_m, &_vocab, _error, sizeof(_error)); \
                CHECK_INT_EQ(_r, -EBADMSG);                                       \
                CHECK(_m == NULL && _vocab == NULL);                              \
                if (!strstr(_error, (path)) || !strstr(_error, (expect)))          \
                        TEST_FAIL("error \"%s\" lacks \"%s\"", _error, (expect)); \
                test_checks++;                                                    \
        } while (0)

static struct seq2seq *model_make(void)
{
        struct seq2seq *m = NULL;

        CHECK_INT_EQ(seq2seq_new(&config, &m), 0);
        seq2seq_init_random(m, 11);
        return m;
}

static void test_round_trip(void)
{
        static const struct safetensors_pair extra[] = {
                { "dropout", "0.2" },
                { "optimizer", "adam" },
        };
        char error[SAFETENSORS_ERROR_MAX];
        struct seq2seq *m = model_make(), *loaded = NULL;
        struct safetensors *st = NULL;
        char *vocab = NULL;
        struct dirent *de;
        DIR *d;
        int files = 0;

        CHECK_INT_EQ(seq2seq_save(m, model_path, vocabulary, extra, 2), 0);
        CHECK_INT_EQ(seq2seq_load(model_path, &loaded, &vocab, error, sizeof(error)), 0);
        if (!loaded) {
                TEST_FAIL("%s", error);
                return;
        }

        CHECK_INT_EQ(loaded->parameter_count, m->parameter_count);
        CHECK(memcmp(loaded->parameters, m->parameters, m->parameter_count * sizeof(float)) == 0);
        CHECK_STR_EQ(vocab, vocabulary);
        CHECK(loaded->gradients == NULL);
        CHECK_INT_EQ(loaded->config.hidden_size, 5);

        /* the file is plain safetensors with PyTorch's names */
        CHECK_INT_EQ(safetensors_open(model_path, &st, error, sizeof(error)), 0);
        CHECK_STR_EQ(safetensors_metadata_get(st, "format"), "parley-seq2seq");
        CHECK_STR_EQ(safetensors_metadata_get(st, "format_version"), "1");
        CHECK_STR_EQ(safetensors_metadata_get(st, "layers"), "2");
        CHECK_STR_EQ(safetensors_metadata_get(st, "optimizer"), "adam");
        CHECK_INT_EQ(safetensors_tensor_count(st), 20);
        CHECK_STR_EQ(safetensors_tensor_name(st, 0), "encoder.embedding.weight");
        CHECK_STR_EQ(safetensors_tensor_name(st, 1), "encoder.lstm.weight_ih_l0");
        CHECK_STR_EQ(safetensors_tensor_name(st, 6), "encoder.lstm.weight_hh_l1");
        CHECK_STR_EQ(safetensors_tensor_name(st, 18), "decoder.out.weight");
        CHECK_STR_EQ(safetensors_tensor_name(st, 19), "decoder.out.bias");
        {
                int64_t shape[SAFETENSORS_DIMS_MAX];
                int ndim;

                CHECK_INT_EQ(safetensors_tensor_shape(st, "decoder.lstm.weight_ih_l1", &ndim,
                                                      shape), 0);
                CHECK_INT_EQ(ndim, 2);
                CHECK_INT_EQ(shape[0], 20);
                CHECK_INT_EQ(shape[1], 5);
                CHECK_INT_EQ(safetensors_tensor_shape(st, "nope", &ndim, shape), -ENOENT);
        }
        safetensors_free(st);

        /* saving twice gives the same bytes: nothing time-dependent */
        {
                char again[300];
                size_t n1, n2;
                char *a, *b;

                snprintf(again, sizeof(again), "%s/again.safetensors", dir);
                CHECK_INT_EQ(seq2seq_save(m, again, vocabulary, extra, 2), 0);
                a = file_read(model_path, &n1);
                b = file_read(again, &n2);
                CHECK(n1 == n2 && memcmp(a, b, n1) == 0);
                /* the data after the header starts 8-byte aligned */
                CHECK_INT_EQ((*(uint64_t *)a) % 8, 0);
                free(a);
                free(b);
                unlink(again);
        }

        /* the temporary file was renamed away */
        d = opendir(dir);
        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.')
                        files++;
        if (d)
                closedir(d);
        CHECK_INT_EQ(files, 1);

        free(vocab);
        seq2seq_free(loaded);
        seq2seq_free(m);
}

static void test_truncated(void)
{
        char path[300];
        size_t n;
        char *whole = file_read(model_path, &n);
        uint64_t header;
        struct {
                size_t keep;
                const char *expect;
        } cuts[] = {
                { 0, "truncated" },
                { 5, "truncated" },
                { 8, "runs past the end" },
                { 100, "runs past the end" },
                { 0, "outside" },       /* header complete, no data */
                { 0, "outside" },       /* half the data */
                { 0, "outside" },       /* one byte short */
        };

        memcpy(&header, whole, 8);
        cuts[4].keep = 8 + header;
        cuts[5].keep = 8 + header + (n - 8 - header) / 2;
        cuts[6].keep = n - 1;

        snprintf(path, sizeof(path), "%s/cut.safetensors", dir);
        for (size_t i = 0; i < ELEMENTSOF(cuts); i++) {
                file_write(path, whole, cuts[i].keep);
                CHECK_REFUSED(path, cuts[i].expect);
        }

        /* one byte too many */
        {
                char *longer = malloc(n + 1);

                memcpy(longer, whole, n);
                longer[n] = 0;
                file_write(path, longer, n + 1);
                CHECK_REFUSED(path, "1 bytes after the last tensor");
                free(longer);
        }

        free(whole);
}

static void test_bad_headers(void)
{
        char path[300];
        static const struct {
                const char *header;
                size_t data;
                const char *expect;
        } cases[] = {
                { "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], ", 8, "not valid JSON" },
                { "[1, 2, 3]", 0, "not a JSON object" },
                { "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}} x", 8,
                  "text after the JSON header" },
                { "{\"a\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4,
                  "dtype 'F16'" },
                { "{\"a\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "no dtype" },
                { "{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8,
                  "non-negative integer" },
                { "{\"a\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}", 8,
                  "non-negative integer" },
                { "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}}", 8,
                  "no data_offsets" },
                { "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 16]}}", 8,
                  "outside the 8 bytes" },
                { "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8,
                  "end before they begin" },
                { "{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8,
                  "its shape needs 12" },
                { "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                  " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12,
                  "overlap" },
                { "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12,
                  "belong to no tensor" },
                { "{\"__metadata__\": {\"format\": 1}}", 0, "metadata 'format' is not a string" },
                { "{\"__metadata__\": [\"format\"]}", 0, "__metadata__ is not a JSON object" },
                { "{\"a\": 5}", 0, "tensor 'a' is not a JSON object" },
        };

        snprintf(path, sizeof(path), "%s/bad.safetensors", dir);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                raw_write(path, cases[i].header, cases[i].data);
                CHECK_REFUSED(path, cases[i].expect);
        }

        /* a header length far beyond the file */
        {
                uint64_t length = UINT64_C(1) << 40;
                char buf[64] = { 0 };

                memcpy(buf, &length, 8);
                file_write(path, buf, sizeof(buf));
                CHECK_REFUSED(path, "runs past the end");
        }

        /* garbage */
        {
                unsigned char junk[4096];
                uint32_t x = 12345;

                for (size_t i = 0; i < sizeof(junk); i++) {
                        x = x * 1103515245 + 12345;
                        junk[i] = (unsigned char)(x >> 16);
                }
                file_write(path, junk, sizeof(junk));
                CHECK_REFUSED(path, "runs past the end");
        }

        /* a valid file that is a whole model's worth of nonsense text */
        file_write(path, "hello, this is not a model at all\n", 34);
        CHECK_REFUSED(path, "runs past the end");
}

/* Writes the model's tensors with one change, and metadata as given. */
static void model_write_variant(const char *path, const struct seq2seq *m, int change,
                                const struct safetensors_pair *meta, size_t n_meta)
{
        struct safetensors_tensor tensors[20];
        size_t n = 20;

        seq2seq_block_describe(&m->config, m->parameters, "", tensors);
        switch (change) {
        case 1: /* a tensor with the wrong shape (same size) */
                tensors[1].shape[0] = 4;
                tensors[1].shape[1] = 4 * 5;
                break;
        case 2: /* the last tensor renamed */
                snprintf(tensors[19].name, sizeof(tensors[19].name), "decoder.out.bias_extra");
                break;
        case 3: /* the last tensor left out */
                n = 19;
                break;
        default:
                break;
        }
        CHECK_INT_EQ(safetensors_write(path, tensors, n, meta, n_meta), 0);
}

static void test_not_a_model(void)
{
        struct seq2seq *m = model_make();
        struct seq2seq_metadata_storage storage;
        struct safetensors_pair meta[SEQ2SEQ_METADATA_COUNT];
        char path[300];

        snprintf(path, sizeof(path), "%s/variant.safetensors", dir);
        seq2seq_metadata_describe(m, vocabulary, &storage, meta);

        /* foreign safetensors: right tensors, no parley metadata */
        model_write_variant(path, m, 0, NULL, 0);
        CHECK_REFUSED(path, "not a parley model (metadata format is missing");

        model_write_variant(path, m, 0, meta, SEQ2SEQ_METADATA_COUNT);
        {
                /* sanity: the unchanged variant loads */
                char error[SAFETENSORS_ERROR_MAX];
                struct seq2seq *loaded = NULL;
                char *vocab = NULL;

                CHECK_INT_EQ(seq2seq_load(path, &loaded, &vocab, error, sizeof(error)), 0);
                free(vocab);
                seq2seq_free(loaded);
        }

        model_write_variant(path, m, 1, meta, SEQ2SEQ_METADATA_COUNT);
        CHECK_REFUSED(path, "tensor 'encoder.lstm.weight_ih_l0' has shape [4, 20], expected "
                            "[20, 4]");
        model_write_variant(path, m, 2, meta, SEQ2SEQ_METADATA_COUNT);
        CHECK_REFUSED(path, "tensor 'decoder.out.bias' is missing");
        model_write_variant(path, m, 3, meta, SEQ2SEQ_METADATA_COUNT);
        CHECK_REFUSED(path, "19 tensors, a model of 2 layers has 20");

        meta[0].value = "gpt2";
        model_write_variant(path, m, 0, meta, SEQ2SEQ_METADATA_COUNT);
        CHECK_REFUSED(path, "not a parley model (metadata format is \"gpt2\"");
        meta[0].value = SEQ2SEQ_FORMAT;

        meta[1].value = "2";
        model_write_variant(path, m, 0, meta, SEQ2SEQ_METADATA_COUNT);
        CHECK_REFUSED(path, "format version \"2\" is not the supported version 1");
        meta[1].value = SEQ2SEQ_FORMAT_VERSION;

        meta[5].value = "three";
        model_write_variant(path, m, 0, meta, SEQ2SEQ_METADATA_COUNT);
        CHECK_REFUSED(path, "metadata 'layers' is \"three\"");
        meta[5].value = "3";
        model_write_variant(path, m, 0, meta, SEQ2SEQ_METADATA_COUNT);
        CHECK_REFUSED(path, "20 tensors, a model of 3 layers has 28");
        meta[5].value = "2";

        meta[6].value = "[\"<pad>\", \"<s>\"]";
        model_write_variant(path, m, 0, meta, SEQ2SEQ_METADATA_COUNT);
        CHECK_REFUSED(path, "'vocabulary' is not a JSON array of 13 strings");
        meta[6].value = "{";
        model_write_variant(path, m, 0, meta, SEQ2SEQ_METADATA_COUNT);
        CHECK_REFUSED(path, "'vocabulary' is not a JSON array of 13 strings");

        seq2seq_free(m);
}

/* The file is read tensor by tensor after the header: one that shrinks in
 * between is an error naming the tensor, not a half-filled model. */
/* Reads one tensor of st into a buffer of its own size, then frees it. */
static int tensor_read(struct safetensors *st, const char *name, char *error)
{
        int64_t shape[SAFETENSORS_DIMS_MAX], elements = 1;
        int ndim, r;
        float *dst;

        CHECK_INT_EQ(safetensors_tensor_shape(st, name, &ndim, shape), 0);
        for (int i = 0; i < ndim; i++)
                elements *= shape[i];
        dst = calloc((size_t)elements, sizeof(float));
        CHECK(dst != NULL);
        r = safetensors_tensor_read(st, name, ndim, shape, dst, error, SAFETENSORS_ERROR_MAX);
        free(dst);
        return r;
}

static void test_shrank(void)
{
        char error[SAFETENSORS_ERROR_MAX], path[300];
        struct safetensors *st = NULL;
        size_t n, failed = 0;
        char *whole = file_read(model_path, &n);
        const char *name;

        snprintf(path, sizeof(path), "%s/shrinks.safetensors", dir);
        file_write(path, whole, n);
        CHECK_INT_EQ(safetensors_open(path, &st, error, sizeof(error)), 0);

        /* 64 bytes: not even the whole header stays, and no data */
        name = safetensors_tensor_name(st, safetensors_tensor_count(st) - 1);
        CHECK_INT_EQ(truncate(path, 64), 0);
        CHECK_INT_EQ(tensor_read(st, name, error), -EBADMSG);
        CHECK(strstr(error, path) != NULL);
        CHECK(strstr(error, "shrank") != NULL);
        CHECK(strstr(error, name) != NULL);

        /* one byte short: the tensor that ended the file loses its last
         * byte, every other one still reads */
        file_write(path, whole, n - 1);
        for (size_t t = 0; t < safetensors_tensor_count(st); t++) {
                int r;

                name = safetensors_tensor_name(st, t);
                r = tensor_read(st, name, error);
                if (r < 0) {
                        CHECK_INT_EQ(r, -EBADMSG);
                        CHECK(strstr(error, "shrank") != NULL);
                        CHECK(strstr(error, name) != NULL);
                        failed++;
                }
        }
        CHECK_INT_EQ(failed, 1);

        safetensors_free(st);
        free(whole);
}

static void test_open_errors(void)
{
        char error[SAFETENSORS_ERROR_MAX], path[300];
        struct seq2seq *m = NULL;
        char *vocab = NULL;

        snprintf(path, sizeof(path), "%s/absent.safetensors", dir);
        CHECK_INT_EQ(seq2seq_load(path, &m, &vocab, error, sizeof(error)), -ENOENT);
        CHECK(strstr(error, path) != NULL);

        /* a directory is not a model */
        CHECK_INT_EQ(seq2seq_load(dir, &m, &vocab, error, sizeof(error)), -EBADMSG);

        /* saving into a missing directory fails cleanly */
        m = model_make();
        snprintf(path, sizeof(path), "%s/no/such/dir/model.safetensors", dir);
        CHECK_INT_EQ(seq2seq_save(m, path, vocabulary, NULL, 0), -ENOENT);
        seq2seq_free(m);
}

int main(void)
{
        if (!mkdtemp(dir))
                abort();
        snprintf(model_path, sizeof(model_path), "%s/model.safetensors", dir);

        test_round_trip();
        test_truncated();
        test_shrank();
        test_bad_headers();
        test_not_a_model();
        test_open_errors();

        {
                char cmd[300];

                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                if (system(cmd) != 0)
                        TEST_FAIL("could not remove %s", dir);
        }
        return test_finish();
}
