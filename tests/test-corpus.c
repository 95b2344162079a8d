/* test-corpus: the TSV, JSON lines and chatterbot YAML readers on fixtures
 * with known defects, and on the real corpora when they are present. */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "corpus.h"
#include "macro.h"
#include "test.h"
#include "tokenize.h"

#define RECORDS_MAX 64

/* What a read produced, one line per pair or malformed record:
 * "LINE prompt => reply" and "LINE! what". */
struct records {
        char *lines[RECORDS_MAX];
        size_t n;
        const char *file;       /* every callback must name this file */
        int stop_after;         /* > 0: the pair callback fails after so many */
        size_t pairs;
};

static void records_push(struct records *r, const char *format, ...)
{
        va_list ap;
        char *s;

        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);

        if (r->n < RECORDS_MAX && s)
                r->lines[r->n++] = s;
        else
                free(s);
}

static int on_pair(const struct corpus_pair *p, void *userdata)
{
        struct records *r = userdata;

        CHECK_STR_EQ(p->file, r->file);
        records_push(r, "%zu %s => %s", p->line, p->prompt, p->reply);
        r->pairs++;
        if (r->stop_after > 0 && r->pairs >= (size_t)r->stop_after)
                return -ECANCELED;
        return 0;
}

static void on_malformed(const char *file, size_t line, const char *what, void *userdata)
{
        struct records *r = userdata;

        CHECK_STR_EQ(file, r->file);
        records_push(r, "%zu! %s", line, what);
}

static const struct corpus_callbacks callbacks = { on_pair, on_malformed };

static char *fixture(const char *name)
{
        const char *top = getenv("top_srcdir");
        char *path;

        if (asprintf(&path, "%s/tests/fixtures/%s", top ? top : ".", name) < 0)
                return NULL;
        return path;
}

static void records_clear(struct records *r)
{
        for (size_t i = 0; i < r->n; i++)
                free(r->lines[i]);
        r->n = 0;
        r->pairs = 0;
}

static void records_check(struct records *r, const char *const *expected, size_t n)
{
        CHECK_INT_EQ(r->n, n);
        for (size_t i = 0; i < r->n && i < n; i++)
                CHECK_STR_EQ(r->lines[i], expected[i]);
        records_clear(r);
}

static void check_file(const char *path, enum corpus_format format, int expected_r,
                       const char *const *expected, size_t n)
{
        struct records r = { .file = path };

        CHECK_INT_EQ(corpus_read(path, format, &callbacks, &r), expected_r);
        records_check(&r, expected, n);
}

static void test_tsv(void)
{
        static const char *const expected[] = {
                "1 Hello => Hi there!",
                "2 How are you? => Fine, thanks.",
                "3! no tab between prompt and reply",
                "4! invalid UTF-8",
                "6! more than one tab: expected prompt<TAB>reply",
                "7! empty prompt",
                "8 What is AI? => Artificial intelligence.",
                "9 你好 => 你好，很高兴认识你。",
        };
        _cleanup_free_ char *path = fixture("text-pairs.tsv");

        check_file(path, CORPUS_AUTO, 0, expected, ELEMENTSOF(expected));
        check_file(path, CORPUS_TSV, 0, expected, ELEMENTSOF(expected));
}

static void test_jsonl(void)
{
        static const char *const expected[] = {
                "1 Hello => Hi there!",
                "2 Where? => Here.",
                "3! not a JSON object",
                "4! missing \"reply\"",
                "5! \"prompt\" is not a string",
                "6! invalid UTF-8",
                "7! invalid JSON: unexpected end of line",
                "9 你好 => 你好！",
                "10! empty \"prompt\"",
                "11! invalid JSON: text after the object",
                "12 Bye => See you.",
        };
        _cleanup_free_ char *path = fixture("text-pairs.jsonl");

        check_file(path, CORPUS_AUTO, 0, expected, ELEMENTSOF(expected));
}

static void test_yaml(void)
{
        static const char *const expected[] = {
                "5 Hello => Hi",
                "6 Hi => How are you doing?",
                "8 Good morning, how are you? => I am doing well, how about you?",
                "9! conversation has fewer than two turns",
                "11! turn is not a string",
                "15 你好 => 你好，很高兴见到你。",
                "16! empty turn",
                "19 Quoted: with a colon => A folded reply over two lines",
        };
        _cleanup_free_ char *path = fixture("text-chatterbot.yml");

        check_file(path, CORPUS_AUTO, 0, expected, ELEMENTSOF(expected));
}

/* Writes text to a temporary file named with suffix; returns its path. */
static char *temporary_file(const char *suffix, const char *text)
{
        char *path;
        int fd;

        if (asprintf(&path, "/tmp/test-corpus-XXXXXX%s", suffix) < 0)
                return NULL;

        fd = mkstemps(path, (int)strlen(suffix));
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
                TEST_FAIL("cannot write %s", path);
                free(path);
                return NULL;
        }
        close(fd);
        return path;
}

static void check_text(const char *suffix, const char *text, const char *const *expected,
                       size_t n)
{
        char *path = temporary_file(suffix, text);

        if (!path)
                return;
        check_file(path, CORPUS_AUTO, 0, expected, n);
        unlink(path);
        free(path);
}

static void test_yaml_errors(void)
{
        /* libyaml cannot read past bad UTF-8: the file is skipped, with
         * the line named */
        static const char *const bad_utf8[] = {
                "4! invalid UTF-8; YAML file skipped",
        };
        check_text(".yml", "conversations:\n- - Hi\n  - Hello\n- - Bad \xff\n  - x\n", bad_utf8,
                   ELEMENTSOF(bad_utf8));

        static const char *const syntax[] = {
                "3 a => b",
                "4 unclosed => c",
                "5! YAML syntax error: did not find expected ',' or ']' while parsing a flow "
                "sequence; rest of file skipped",
        };
        check_text(".yaml", "conversations:\n- - a\n  - b\n- [unclosed, c\n", syntax,
                   ELEMENTSOF(syntax));

        static const char *const shapes[] = {
                "1! unexpected key \"greeting\": expected categories or conversations",
                "2! \"conversations\" is not a list",
        };
        check_text(".yaml", "greeting: hello\nconversations: none\n", shapes, ELEMENTSOF(shapes));

        static const char *const not_mapping[] = {
                "1! document is not a mapping with \"conversations\"",
        };
        check_text(".yaml", "- - a\n  - b\n", not_mapping, ELEMENTSOF(not_mapping));

        static const char *const not_list[] = {
                "2! conversation is not a list of turns",
                "4 c => d",
        };
        check_text(".yaml", "conversations:\n- just a string\n- - c\n  - d\n", not_list,
                   ELEMENTSOF(not_list));

        check_text(".yaml", "", NULL, 0);
}

static void test_limits(void)
{
        /* a line one byte over the limit is malformed, the next is read */
        size_t len = CORPUS_LINE_MAX_BYTES + 1;
        char *text = malloc(len + 16);

        if (!text)
                return;
        memset(text, 'x', len);
        text[10] = '\t';
        strcpy(text + len, "\nq\tr\n");

        static const char *const expected[] = {
                "1! line longer than 65536 bytes",
                "2 q => r",
        };
        check_text(".tsv", text, expected, ELEMENTSOF(expected));

        /* exactly at the limit is fine */
        text[len - 1] = '\n';
        text[len] = 0;
        char *path = temporary_file(".tsv", text);
        struct records r = { .file = path };
        CHECK_INT_EQ(corpus_read(path, CORPUS_AUTO, &callbacks, &r), 0);
        CHECK_INT_EQ(r.pairs, 1);
        CHECK_INT_EQ(r.n, 1);
        CHECK_INT_EQ(strlen(r.lines[0]), strlen("1 ") + 10 + strlen(" => ") + len - 12);
        records_clear(&r);
        unlink(path);
        free(path);
        free(text);

        static const char *const nul[] = { "1! NUL byte in line", "2 c => d" };
        path = temporary_file(".tsv", "");
        FILE *f = fopen(path, "w");
        fwrite("a\0\tb\nc\td\n", 1, 9, f);
        fclose(f);
        check_file(path, CORPUS_AUTO, 0, nul, ELEMENTSOF(nul));
        unlink(path);
        free(path);
}

static void test_errors(void)
{
        struct records r = { .file = "x" };
        enum corpus_format format = CORPUS_AUTO;
        _cleanup_free_ char *tsv = fixture("text-pairs.tsv");
        _cleanup_free_ char *yaml = fixture("text-chatterbot.yml");

        CHECK_INT_EQ(corpus_read("/nonexistent/pairs.tsv", CORPUS_AUTO, &callbacks, &r),
                     -ENOENT);
        CHECK_INT_EQ(corpus_read("pairs.csv", CORPUS_AUTO, &callbacks, &r), -EINVAL);
        CHECK_INT_EQ(corpus_read("pairs", CORPUS_AUTO, &callbacks, &r), -EINVAL);
        CHECK_INT_EQ(r.n, 0);

        /* a failing callback stops the read with its error */
        r.file = tsv;
        r.stop_after = 2;
        CHECK_INT_EQ(corpus_read(tsv, CORPUS_AUTO, &callbacks, &r), -ECANCELED);
        CHECK_INT_EQ(r.pairs, 2);
        records_check(&r, (const char *const[]){ "1 Hello => Hi there!",
                                                 "2 How are you? => Fine, thanks." }, 2);
        r.file = yaml;
        CHECK_INT_EQ(corpus_read(yaml, CORPUS_AUTO, &callbacks, &r), -ECANCELED);
        CHECK_INT_EQ(r.pairs, 2);
        records_check(&r, (const char *const[]){ "5 Hello => Hi", "6 Hi => How are you doing?" },
                      2);

        CHECK_INT_EQ(corpus_format_from_string("jsonl", &format), 0);
        CHECK_INT_EQ(format, CORPUS_JSONL);
        CHECK_INT_EQ(corpus_format_from_string("yaml", &format), 0);
        CHECK_INT_EQ(format, CORPUS_YAML);
        CHECK_INT_EQ(corpus_format_from_string("csv", &format), -EINVAL);
        CHECK_INT_EQ(format, CORPUS_YAML);

        /* NULL callbacks are allowed */
        static const struct corpus_callbacks none = { NULL, NULL };
        CHECK_INT_EQ(corpus_read(tsv, CORPUS_TSV, &none, NULL), 0);
}

/* The real Chinese corpus: every pair good, each ideograph one token. */
struct real_corpus {
        size_t pairs, malformed, line1_tokens;
        char *line1_prompt[8];
};

static int real_pair(const struct corpus_pair *p, void *userdata)
{
        struct real_corpus *c = userdata;
        char **tokens;
        size_t n;

        c->pairs++;
        if (p->line != 1)
                return 0;

        CHECK_INT_EQ(tokenize(p->prompt, &tokens, &n), 0);
        CHECK_INT_EQ(n, 4);
        static const char *const prompt[] = { "什", "么", "是", "ai" };
        for (size_t i = 0; i < n && i < 4; i++)
                CHECK_STR_EQ(tokens[i], prompt[i]);
        tokens_free(tokens);

        /* 人工智能是工程和科学的分支,致力于构建具有思维的机器。 */
        CHECK_INT_EQ(tokenize(p->reply, &tokens, &n), 0);
        CHECK_INT_EQ(n, 27);
        CHECK_STR_EQ(tokens[0], "人");
        CHECK_STR_EQ(tokens[12], "支");
        CHECK_STR_EQ(tokens[13], ",");
        CHECK_STR_EQ(tokens[26], "。");
        tokens_free(tokens);
        return 0;
}

static void real_malformed(const char *file, size_t line, const char *what, void *userdata)
{
        struct real_corpus *c = userdata;

        c->malformed++;
        TEST_FAIL("%s:%zu: %s", file, line, what);
}

static void test_real_corpora(void)
{
        static const struct corpus_callbacks real = { real_pair, real_malformed };
        const char *top = getenv("top_srcdir");
        _cleanup_free_ char *path = NULL;
        struct real_corpus c = {};

        if (asprintf(&path, "%s/../shared/corpora/chatterbot-zh.tsv", top ? top : ".") < 0)
                return;
        if (access(path, R_OK) < 0) {
                fprintf(stderr, "real corpora not checked: %s absent\n", path);
                return;
        }

        CHECK_INT_EQ(corpus_read(path, CORPUS_AUTO, &real, &c), 0);
        CHECK_INT_EQ(c.pairs, 552);
        CHECK_INT_EQ(c.malformed, 0);
}

int main(void)
{
        test_tsv();
        test_jsonl();
        test_yaml();
        test_yaml_errors();
        test_limits();
        test_errors();
        test_real_corpora();
        return test_finish();
}
