/* vocab.c: the vocabulary is an id -> token array and a token -> id map
 * whose keys the array points into. */
#include "autoconfig.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strmap.h"
#include "vocab.h"

static const char *const vocab_specials[TOKEN_SPECIAL_COUNT] = {
        [TOKEN_PAD] = VOCAB_PAD,
        [TOKEN_START] = VOCAB_START,
        [TOKEN_END] = VOCAB_END,
        [TOKEN_UNKNOWN] = VOCAB_UNKNOWN,
};

struct vocab {
        const char **tokens;    /* [size], owned by ids */
        size_t size;
        struct strmap *ids;     /* token -> id */
};

struct vocab_count {
        const char *token;      /* owned by the builder's map */
        size_t count;
};

struct vocab_builder {
        struct strmap *index;   /* token -> position in counts */
        struct vocab_count *counts;
        size_t n, allocated;
};

int vocab_builder_new(struct vocab_builder **ret)
{
        struct vocab_builder *b = calloc(1, sizeof(*b));
        int r;

        if (!b)
                return -ENOMEM;

        r = strmap_new(&b->index);
        if (r < 0) {
                free(b);
                return r;
        }

        *ret = b;
        return 0;
}

void vocab_builder_free(struct vocab_builder *b)
{
        if (!b)
                return;

        strmap_free(b->index);
        free(b->counts);
        free(b);
}

int vocab_builder_add(struct vocab_builder *b, const char *const *tokens, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const char *key;
                size_t *position;
                int r;

                if (b->n == b->allocated) {
                        size_t allocated = b->allocated ? b->allocated * 2 : 256;
                        struct vocab_count *counts =
                                reallocarray(b->counts, allocated, sizeof(*counts));
                        if (!counts)
                                return -ENOMEM;
                        b->counts = counts;
                        b->allocated = allocated;
                }

                r = strmap_add(b->index, tokens[i], b->n, &key, &position);
                if (r < 0)
                        return r;

                if (r > 0)
                        b->counts[b->n++] = (struct vocab_count){ key, 1 };
                else
                        b->counts[*position].count++;
        }

        return 0;
}

static int vocab_count_compare(const void *a, const void *b)
{
        const struct vocab_count *x = a, *y = b;

        if (x->count != y->count)
                return x->count > y->count ? -1 : 1;
        return strcmp(x->token, y->token);
}

static bool vocab_is_special(const char *token)
{
        for (size_t i = 0; i < TOKEN_SPECIAL_COUNT; i++)
                if (strcmp(token, vocab_specials[i]) == 0)
                        return true;
        return false;
}

int vocab_builder_finish(struct vocab_builder *b, size_t max_size, size_t min_count,
                         struct vocab **ret)
{
        _cleanup_free_ struct vocab_count *sorted = NULL;
        _cleanup_free_ const char **tokens = NULL;
        size_t n = 0;

        if (max_size < TOKEN_SPECIAL_COUNT)
                return -EINVAL;

        sorted = calloc(b->n + 1, sizeof(*sorted));
        tokens = calloc(TOKEN_SPECIAL_COUNT + b->n, sizeof(*tokens));
        if (!sorted || !tokens)
                return -ENOMEM;

        memcpy(sorted, b->counts, b->n * sizeof(*sorted));
        qsort(sorted, b->n, sizeof(*sorted), vocab_count_compare);

        for (size_t i = 0; i < TOKEN_SPECIAL_COUNT; i++)
                tokens[n++] = vocab_specials[i];

        for (size_t i = 0; i < b->n && n < max_size; i++) {
                if (sorted[i].count < min_count)
                        break;
                if (vocab_is_special(sorted[i].token))
                        continue;
                tokens[n++] = sorted[i].token;
        }

        return vocab_new_from_tokens(tokens, n, ret);
}

void vocab_free(struct vocab *v)
{
        if (!v)
                return;

        strmap_free(v->ids);
        free(v->tokens);
        free(v);
}

/* A token a vocabulary may hold: what tokenize() can produce, or a
 * special's string. */
static bool vocab_token_valid(const char *token)
{
        size_t len = strlen(token);

        if (len == 0 || len > TOKEN_MAX_BYTES || !text_utf8_valid(token, len))
                return false;

        for (const char *p = token; *p; p++)
                if ((unsigned char)*p <= ' ')
                        return false;

        return true;
}

int vocab_new_from_tokens(const char *const *tokens, size_t n, struct vocab **ret)
{
        struct vocab *v;
        int r;

        if (n < TOKEN_SPECIAL_COUNT || n > INT32_MAX)
                return -EBADMSG;

        for (size_t i = 0; i < TOKEN_SPECIAL_COUNT; i++)
                if (strcmp(tokens[i], vocab_specials[i]) != 0)
                        return -EBADMSG;

        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;

        v->tokens = calloc(n, sizeof(*v->tokens));
        r = v->tokens ? strmap_new(&v->ids) : -ENOMEM;
        if (r < 0)
                goto fail;

        for (size_t i = 0; i < n; i++) {
                if (!vocab_token_valid(tokens[i])) {
                        r = -EBADMSG;
                        goto fail;
                }

                r = strmap_add(v->ids, tokens[i], i, &v->tokens[i], NULL);
                if (r == 0)
                        r = -EBADMSG;   /* a duplicate */
                if (r < 0)
                        goto fail;
        }
        v->size = n;

        *ret = v;
        return 0;

fail:
        vocab_free(v);
        return r;
}

size_t vocab_size(const struct vocab *v)
{
        return v->size;
}

int32_t vocab_id(const struct vocab *v, const char *token)
{
        size_t id;

        if (!strmap_get(v->ids, token, &id))
                return TOKEN_UNKNOWN;
        return (int32_t)id;
}

const char *vocab_token(const struct vocab *v, int32_t id)
{
        if (id < 0 || (size_t)id >= v->size)
                return NULL;
        return v->tokens[id];
}

int vocab_encode(const struct vocab *v, const char *text, int32_t **ret_ids, size_t *ret_n)
{
        char **tokens = NULL;
        int32_t *ids = NULL;
        size_t n;
        int r;

        r = tokenize(text, &tokens, &n);
        if (r < 0)
                return r;

        if (n > 0) {
                ids = calloc(n, sizeof(*ids));
                if (!ids) {
                        tokens_free(tokens);
                        return -ENOMEM;
                }
        }

        for (size_t i = 0; i < n; i++)
                ids[i] = vocab_id(v, tokens[i]);
        tokens_free(tokens);

        *ret_ids = ids;
        *ret_n = n;
        return 0;
}

int vocab_decode(const struct vocab *v, const int32_t *ids, size_t n, char **ret)
{
        _cleanup_free_ const char **tokens = calloc(n + 1, sizeof(*tokens));
        size_t k = 0;

        if (!tokens)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                const char *t = vocab_token(v, ids[i]);

                if (!t)
                        return -EINVAL;
                if (ids[i] == TOKEN_END)
                        break;
                if (ids[i] == TOKEN_PAD || ids[i] == TOKEN_START)
                        continue;
                tokens[k++] = t;
        }

        return tokens_join(tokens, k, ret);
}

int vocab_to_json(const struct vocab *v, char **ret)
{
        json_object *array = json_object_new_array_ext((int)v->size);
        char *s = NULL;
        int r = -ENOMEM;

        if (!array)
                return -ENOMEM;

        for (size_t i = 0; i < v->size; i++) {
                json_object *t = json_object_new_string(v->tokens[i]);

                if (!t || json_object_array_add(array, t) < 0) {
                        json_object_put(t);
                        goto out;
                }
        }

        s = strdup(json_object_to_json_string_ext(array, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!s)
                goto out;

        *ret = s;
        r = 0;
out:
        json_object_put(array);
        return r;
}

int vocab_from_json(const char *json, struct vocab **ret)
{
        _cleanup_free_ const char **tokens = NULL;
        json_tokener *tokener = json_tokener_new();
        json_object *array = NULL;
        size_t len = strlen(json), n;
        int r = -EBADMSG;

        if (!tokener)
                return -ENOMEM;
        if (len > INT32_MAX)
                goto out;

        json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        array = json_tokener_parse_ex(tokener, json, (int)len);
        if (!array || json_tokener_get_parse_end(tokener) != len ||
            !json_object_is_type(array, json_type_array))
                goto out;

        n = json_object_array_length(array);
        tokens = calloc(n + 1, sizeof(*tokens));
        if (!tokens) {
                r = -ENOMEM;
                goto out;
        }

        for (size_t i = 0; i < n; i++) {
                json_object *t = json_object_array_get_idx(array, i);

                if (!json_object_is_type(t, json_type_string))
                        goto out;

                tokens[i] = json_object_get_string(t);
                if ((size_t)json_object_get_string_len(t) != strlen(tokens[i]))
                        goto out;       /* an escaped NUL */
        }

        r = vocab_new_from_tokens(tokens, n, ret);
out:
        json_object_put(array);
        json_tokener_free(tokener);
        return r;
}
