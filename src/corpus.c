/* corpus.c: TSV, JSON lines and chatterbot YAML readers; formats and the
 * contract are in corpus.h. */
#include "autoconfig.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "corpus.h"
#include "macro.h"
#include "tokenize.h"

struct corpus_reader {
        const char *path;
        const struct corpus_callbacks *cb;
        void *userdata;
        FILE *f;
        char line[CORPUS_LINE_MAX_BYTES + 1];
        size_t line_len;
        size_t line_number;
};

static void corpus_malformed(struct corpus_reader *c, size_t line, const char *what)
{
        if (c->cb->malformed)
                c->cb->malformed(c->path, line, what, c->userdata);
}

static int corpus_pair(struct corpus_reader *c, size_t line, const char *prompt,
                       const char *reply)
{
        struct corpus_pair p = {
                .prompt = prompt,
                .reply = reply,
                .file = c->path,
                .line = line,
        };

        if (!c->cb->pair)
                return 0;
        return c->cb->pair(&p, c->userdata);
}

int corpus_format_from_string(const char *s, enum corpus_format *ret)
{
        static const char *const names[] = {
                [CORPUS_AUTO] = "auto",
                [CORPUS_TSV] = "tsv",
                [CORPUS_JSONL] = "jsonl",
                [CORPUS_YAML] = "yaml",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (enum corpus_format)i;
                        return 0;
                }

        return -EINVAL;
}

static int corpus_format_from_path(const char *path, enum corpus_format *ret)
{
        static const struct {
                const char *extension;
                enum corpus_format format;
        } table[] = {
                { ".tsv", CORPUS_TSV },
                { ".txt", CORPUS_TSV },
                { ".jsonl", CORPUS_JSONL },
                { ".json", CORPUS_JSONL },
                { ".yml", CORPUS_YAML },
                { ".yaml", CORPUS_YAML },
        };
        const char *slash = strrchr(path, '/');
        const char *dot = strrchr(slash ? slash : path, '.');

        for (size_t i = 0; dot && i < ELEMENTSOF(table); i++)
                if (strcasecmp(dot, table[i].extension) == 0) {
                        *ret = table[i].format;
                        return 0;
                }

        return -EINVAL;
}

/* Reads the next line into c->line without its "\n" (nor a "\r" before
 * it).  Returns 1 for a line, 0 at the end, -EIO.  A line that does not fit
 * is read to its end and returned with c->line_len past the limit. */
static int corpus_line_read(struct corpus_reader *c)
{
        size_t len = 0;
        int ch;

        while ((ch = getc_unlocked(c->f)) != EOF && ch != '\n') {
                if (len < CORPUS_LINE_MAX_BYTES)
                        c->line[len] = (char)ch;
                len++;
        }

        if (ch == EOF) {
                if (ferror(c->f))
                        return -EIO;
                if (len == 0)
                        return 0;
        }

        c->line_number++;
        if (len <= CORPUS_LINE_MAX_BYTES && len > 0 && c->line[len - 1] == '\r')
                len--;
        c->line_len = len;
        if (len <= CORPUS_LINE_MAX_BYTES)
                c->line[len] = 0;
        return 1;
}

/* The checks every line-based format shares; false when the line was
 * reported. */
static bool corpus_line_check(struct corpus_reader *c)
{
        char what[64];

        if (c->line_len > CORPUS_LINE_MAX_BYTES) {
                snprintf(what, sizeof(what), "line longer than %d bytes",
                         CORPUS_LINE_MAX_BYTES);
                corpus_malformed(c, c->line_number, what);
                return false;
        }

        if (memchr(c->line, 0, c->line_len)) {
                corpus_malformed(c, c->line_number, "NUL byte in line");
                return false;
        }

        if (!text_utf8_valid(c->line, c->line_len)) {
                corpus_malformed(c, c->line_number, "invalid UTF-8");
                return false;
        }

        return true;
}

static int corpus_tsv_line(struct corpus_reader *c)
{
        char *tab = strchr(c->line, '\t');

        if (!tab) {
                corpus_malformed(c, c->line_number, "no tab between prompt and reply");
                return 0;
        }

        if (strchr(tab + 1, '\t')) {
                corpus_malformed(c, c->line_number,
                                 "more than one tab: expected prompt<TAB>reply");
                return 0;
        }

        if (tab == c->line) {
                corpus_malformed(c, c->line_number, "empty prompt");
                return 0;
        }

        if (tab[1] == 0) {
                corpus_malformed(c, c->line_number, "empty reply");
                return 0;
        }

        *tab = 0;
        return corpus_pair(c, c->line_number, c->line, tab + 1);
}

/* The string field name of object o, or NULL with the reason in what. */
static const char *corpus_json_field(json_object *o, const char *name, char *what,
                                     size_t what_size)
{
        json_object *field;
        const char *s;

        if (!json_object_object_get_ex(o, name, &field)) {
                snprintf(what, what_size, "missing \"%s\"", name);
                return NULL;
        }

        if (!json_object_is_type(field, json_type_string)) {
                snprintf(what, what_size, "\"%s\" is not a string", name);
                return NULL;
        }

        s = json_object_get_string(field);
        if ((size_t)json_object_get_string_len(field) != strlen(s)) {
                snprintf(what, what_size, "NUL character in \"%s\"", name);
                return NULL;
        }

        if (!text_utf8_valid(s, strlen(s))) {
                snprintf(what, what_size, "invalid UTF-8 in \"%s\"", name);
                return NULL;
        }

        if (!*s) {
                snprintf(what, what_size, "empty \"%s\"", name);
                return NULL;
        }

        return s;
}

static int corpus_jsonl_line(struct corpus_reader *c, json_tokener *tokener)
{
        const char *prompt, *reply;
        json_object *o;
        size_t end;
        char what[128];
        int r = 0;

        json_tokener_reset(tokener);
        o = json_tokener_parse_ex(tokener, c->line, (int)c->line_len);
        if (!o) {
                enum json_tokener_error e = json_tokener_get_error(tokener);

                snprintf(what, sizeof(what), "invalid JSON: %s",
                         e == json_tokener_continue ? "unexpected end of line"
                                                    : json_tokener_error_desc(e));
                corpus_malformed(c, c->line_number, what);
                return 0;
        }

        end = json_tokener_get_parse_end(tokener);
        if (c->line[end + strspn(c->line + end, " \t")] != 0) {
                corpus_malformed(c, c->line_number, "invalid JSON: text after the object");
                goto out;
        }

        if (!json_object_is_type(o, json_type_object)) {
                corpus_malformed(c, c->line_number, "not a JSON object");
                goto out;
        }

        prompt = corpus_json_field(o, "prompt", what, sizeof(what));
        reply = prompt ? corpus_json_field(o, "reply", what, sizeof(what)) : NULL;
        if (!reply) {
                corpus_malformed(c, c->line_number, what);
                goto out;
        }

        r = corpus_pair(c, c->line_number, prompt, reply);
out:
        json_object_put(o);
        return r;
}

static int corpus_read_lines(struct corpus_reader *c, enum corpus_format format)
{
        json_tokener *tokener = NULL;
        int r;

        if (format == CORPUS_JSONL) {
                tokener = json_tokener_new();
                if (!tokener)
                        return -ENOMEM;
                json_tokener_set_flags(tokener,
                                       JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
        }

        while ((r = corpus_line_read(c)) > 0) {
                if (c->line_len <= CORPUS_LINE_MAX_BYTES &&
                    c->line[strspn(c->line, " \t")] == 0)
                        continue;       /* a blank line holds no record */

                if (!corpus_line_check(c))
                        continue;

                r = tokener ? corpus_jsonl_line(c, tokener) : corpus_tsv_line(c);
                if (r < 0)
                        break;
        }

        if (tokener)
                json_tokener_free(tokener);
        return r;
}

/* chatterbot YAML, read as a stream of events so that every problem has
 * the line it was found on. */
struct corpus_yaml {
        struct corpus_reader *c;
        yaml_parser_t parser;
};

static size_t corpus_yaml_line(const yaml_event_t *e)
{
        return e->start_mark.line + 1;
}

/* The next event; -EBADMSG after a syntax error (reported here: nothing
 * after it can be read), -EIO, -ENOMEM. */
static int corpus_yaml_next(struct corpus_yaml *y, yaml_event_t *e)
{
        char what[256];

        if (yaml_parser_parse(&y->parser, e))
                return 0;

        if (y->parser.error == YAML_MEMORY_ERROR)
                return -ENOMEM;

        /* The text was checked for UTF-8 before: what is left is syntax. */
        snprintf(what, sizeof(what), "YAML syntax error: %s%s%s; rest of file skipped",
                 y->parser.problem ? y->parser.problem : "unknown problem",
                 y->parser.context ? " " : "", y->parser.context ? y->parser.context : "");
        corpus_malformed(y->c, y->parser.problem_mark.line + 1, what);
        return -EBADMSG;
}

/* Consumes the rest of the node that e starts (e itself is deleted by the
 * caller). */
static int corpus_yaml_skip(struct corpus_yaml *y, const yaml_event_t *e)
{
        size_t depth = e->type == YAML_SEQUENCE_START_EVENT ||
                       e->type == YAML_MAPPING_START_EVENT;

        while (depth > 0) {
                yaml_event_t next;
                int r = corpus_yaml_next(y, &next);
                if (r < 0)
                        return r;

                if (next.type == YAML_SEQUENCE_START_EVENT ||
                    next.type == YAML_MAPPING_START_EVENT)
                        depth++;
                else if (next.type == YAML_SEQUENCE_END_EVENT ||
                         next.type == YAML_MAPPING_END_EVENT)
                        depth--;
                yaml_event_delete(&next);
        }

        return 0;
}

/* A turn's text, or NULL after reporting why it cannot be one. */
static const char *corpus_yaml_turn(struct corpus_yaml *y, const yaml_event_t *e)
{
        const char *s = (const char *)e->data.scalar.value;
        size_t len = e->data.scalar.length;
        char what[64];

        if (len > CORPUS_LINE_MAX_BYTES) {
                snprintf(what, sizeof(what), "turn longer than %d bytes",
                         CORPUS_LINE_MAX_BYTES);
                corpus_malformed(y->c, corpus_yaml_line(e), what);
                return NULL;
        }

        if (strlen(s) != len || !text_utf8_valid(s, len)) {
                corpus_malformed(y->c, corpus_yaml_line(e), "invalid UTF-8 or NUL in turn");
                return NULL;
        }

        if (s[strspn(s, " \t\r\n")] == 0) {
                corpus_malformed(y->c, corpus_yaml_line(e), "empty turn");
                return NULL;
        }

        return s;
}

/* One conversation, whose SEQUENCE_START was start: turn i and turn i+1
 * make a pair when both are good. */
static int corpus_yaml_conversation(struct corpus_yaml *y, const yaml_event_t *start)
{
        _cleanup_free_ char *previous = NULL;
        size_t turns = 0;

        for (;;) {
                const char *turn = NULL;
                yaml_event_t e;
                int r = corpus_yaml_next(y, &e);
                if (r < 0)
                        return r;

                if (e.type == YAML_SEQUENCE_END_EVENT) {
                        yaml_event_delete(&e);
                        break;
                }

                turns++;
                if (e.type == YAML_SCALAR_EVENT)
                        turn = corpus_yaml_turn(y, &e);
                else {
                        corpus_malformed(y->c, corpus_yaml_line(&e), "turn is not a string");
                        r = corpus_yaml_skip(y, &e);
                }

                if (r >= 0 && turn && previous)
                        r = corpus_pair(y->c, corpus_yaml_line(&e), previous, turn);

                free(previous);
                previous = turn ? strdup(turn) : NULL;
                if (turn && !previous)
                        r = -ENOMEM;

                yaml_event_delete(&e);
                if (r < 0)
                        return r;
        }

        if (turns < 2)
                corpus_malformed(y->c, corpus_yaml_line(start),
                                 "conversation has fewer than two turns");
        return 0;
}

/* The value of "conversations:": a list of conversations. */
static int corpus_yaml_conversations(struct corpus_yaml *y, const yaml_event_t *value)
{
        if (value->type != YAML_SEQUENCE_START_EVENT) {
                corpus_malformed(y->c, corpus_yaml_line(value),
                                 "\"conversations\" is not a list");
                return corpus_yaml_skip(y, value);
        }

        for (;;) {
                yaml_event_t e;
                int r = corpus_yaml_next(y, &e);
                if (r < 0)
                        return r;

                if (e.type == YAML_SEQUENCE_END_EVENT) {
                        yaml_event_delete(&e);
                        return 0;
                }

                if (e.type == YAML_SEQUENCE_START_EVENT)
                        r = corpus_yaml_conversation(y, &e);
                else {
                        corpus_malformed(y->c, corpus_yaml_line(&e),
                                         "conversation is not a list of turns");
                        r = corpus_yaml_skip(y, &e);
                }

                yaml_event_delete(&e);
                if (r < 0)
                        return r;
        }
}

/* The top-level mapping, whose MAPPING_START has been read. */
static int corpus_yaml_mapping(struct corpus_yaml *y)
{
        for (;;) {
                yaml_event_t key, value;
                char what[128];
                int r = corpus_yaml_next(y, &key);
                if (r < 0)
                        return r;

                if (key.type == YAML_MAPPING_END_EVENT) {
                        yaml_event_delete(&key);
                        return 0;
                }

                r = corpus_yaml_next(y, &value);
                if (r < 0) {
                        yaml_event_delete(&key);
                        return r;
                }

                if (key.type != YAML_SCALAR_EVENT) {
                        corpus_malformed(y->c, corpus_yaml_line(&key), "key is not a string");
                        r = corpus_yaml_skip(y, &key);
                        if (r >= 0)
                                r = corpus_yaml_skip(y, &value);
                } else if (strcmp((const char *)key.data.scalar.value, "conversations") == 0)
                        r = corpus_yaml_conversations(y, &value);
                else if (strcmp((const char *)key.data.scalar.value, "categories") == 0)
                        r = corpus_yaml_skip(y, &value);
                else {
                        snprintf(what, sizeof(what),
                                 "unexpected key \"%.40s\": expected categories or conversations",
                                 (const char *)key.data.scalar.value);
                        corpus_malformed(y->c, corpus_yaml_line(&key), what);
                        r = corpus_yaml_skip(y, &value);
                }

                yaml_event_delete(&key);
                yaml_event_delete(&value);
                if (r < 0)
                        return r;
        }
}

/* Reads the whole file into *ret (NUL-terminated).  -EFBIG past
 * CORPUS_YAML_MAX_BYTES. */
static int corpus_file_read(FILE *f, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0, allocated = 0;

        for (;;) {
                if (allocated - len < 4096) {
                        char *grown;

                        if (allocated > CORPUS_YAML_MAX_BYTES)
                                return -EFBIG;
                        allocated = allocated ? allocated * 2 : 65536;
                        grown = realloc(text, allocated + 1);
                        if (!grown)
                                return -ENOMEM;
                        text = grown;
                }

                size_t k = fread(text + len, 1, allocated - len, f);
                len += k;
                if (k == 0)
                        break;
        }

        if (ferror(f))
                return -EIO;
        if (len > CORPUS_YAML_MAX_BYTES)
                return -EFBIG;

        text[len] = 0;
        *ret = TAKE_PTR(text);
        *ret_len = len;
        return 0;
}

/* libyaml stops at the first byte that is not UTF-8 and reports only its
 * offset, possibly before the events of the lines above it: check every
 * line first, so that the report names the line. */
static bool corpus_yaml_check_utf8(struct corpus_reader *c, const char *text, size_t len)
{
        size_t line = 1;

        for (const char *p = text; p < text + len; line++) {
                const char *end = memchr(p, '\n', (size_t)(text + len - p));
                size_t k = end ? (size_t)(end - p) : (size_t)(text + len - p);

                if (!text_utf8_valid(p, k)) {
                        corpus_malformed(c, line, memchr(p, 0, k)
                                                          ? "NUL byte in line; YAML file skipped"
                                                          : "invalid UTF-8; YAML file skipped");
                        return false;
                }
                p += k + 1;
        }

        return true;
}

static int corpus_read_yaml(struct corpus_reader *c)
{
        struct corpus_yaml y = { .c = c };
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        r = corpus_file_read(c->f, &text, &len);
        if (r < 0)
                return r;

        if (!corpus_yaml_check_utf8(c, text, len))
                return 0;

        if (!yaml_parser_initialize(&y.parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);

        for (bool done = false; !done && r >= 0;) {
                yaml_event_t e;

                r = corpus_yaml_next(&y, &e);
                if (r < 0)
                        break;

                switch (e.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_MAPPING_START_EVENT:
                        r = corpus_yaml_mapping(&y);
                        break;
                case YAML_SCALAR_EVENT:
                case YAML_SEQUENCE_START_EVENT:
                case YAML_ALIAS_EVENT:
                        corpus_malformed(c, corpus_yaml_line(&e),
                                         "document is not a mapping with \"conversations\"");
                        r = corpus_yaml_skip(&y, &e);
                        break;
                default:        /* stream and document start and end */
                        break;
                }
                yaml_event_delete(&e);
        }

        yaml_parser_delete(&y.parser);

        /* A syntax error was reported with its line: the file was read as
         * far as it could be. */
        return r == -EBADMSG ? 0 : r;
}

int corpus_read(const char *path, enum corpus_format format,
                const struct corpus_callbacks *cb, void *userdata)
{
        _cleanup_free_ struct corpus_reader *c = NULL;
        int r;

        if (format == CORPUS_AUTO) {
                r = corpus_format_from_path(path, &format);
                if (r < 0)
                        return r;
        }

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;

        c->path = path;
        c->cb = cb;
        c->userdata = userdata;
        c->f = fopen(path, "re");
        if (!c->f)
                return -errno;

        if (format == CORPUS_YAML)
                r = corpus_read_yaml(c);
        else
                r = corpus_read_lines(c, format);

        fclose(c->f);
        return r;
}
