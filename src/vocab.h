/* vocab.h: the model's vocabulary, id <-> token.
 *
 * Ids 0..3 are always the specials (enum token_special in tokenize.h) with
 * the strings below; ordinary tokens follow, most frequent first.  Tokens
 * are the strings tokenize() produces. */
#ifndef PARLEY_VOCAB_H
#define PARLEY_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "tokenize.h"

#define VOCAB_PAD "<pad>"
#define VOCAB_START "<s>"
#define VOCAB_END "</s>"
#define VOCAB_UNKNOWN "<unk>"

struct vocab;
struct vocab_builder;

/* Counts tokens to pick a vocabulary. */
int vocab_builder_new(struct vocab_builder **ret);
/* Adds one occurrence of each of the n tokens (the tokens are copied). */
int vocab_builder_add(struct vocab_builder *b, const char *const *tokens, size_t n);
/* Keeps the max_size most frequent tokens, counting the 4 specials (so
 * max_size >= TOKEN_SPECIAL_COUNT, else -EINVAL), ties broken by byte order
 * of the tokens so the result is deterministic; tokens seen fewer than
 * min_count times are dropped.  A counted token equal to a special's string
 * is not added twice.  The builder stays usable. */
int vocab_builder_finish(struct vocab_builder *b, size_t max_size, size_t min_count,
                         struct vocab **ret);
void vocab_builder_free(struct vocab_builder *b);

size_t vocab_size(const struct vocab *v);
/* The id of token, TOKEN_UNKNOWN if absent. */
int32_t vocab_id(const struct vocab *v, const char *token);
/* The token of id, NULL if out of range; valid while v lives. */
const char *vocab_token(const struct vocab *v, int32_t id);

/* text -> ids (tokenize() + vocab_id()), without START/END; *ret_ids is
 * malloc'd (may be NULL when *ret_n is 0).  -EILSEQ for invalid UTF-8. */
int vocab_encode(const struct vocab *v, const char *text, int32_t **ret_ids, size_t *ret_n);
/* ids -> display text (tokens_join()): stops at TOKEN_END, skips TOKEN_PAD
 * and TOKEN_START; TOKEN_UNKNOWN shows as "<unk>"; an id out of range is
 * -EINVAL. */
int vocab_decode(const struct vocab *v, const int32_t *ids, size_t n, char **ret);

/* The vocabulary as a JSON array of tokens in id order, e.g.
 * ["<pad>","<s>","</s>","<unk>","hello",...], for the model file's
 * metadata. */
int vocab_to_json(const struct vocab *v, char **ret);
/* The reverse: -EBADMSG when the text is not a JSON array of strings, the
 * first four are not the specials in order, a token is empty, longer than
 * TOKEN_MAX_BYTES or not valid UTF-8, or a token appears twice. */
int vocab_from_json(const char *json, struct vocab **ret);
/* Builds a vocabulary from tokens in id order (specials first), with the
 * same checks as vocab_from_json(). */
int vocab_new_from_tokens(const char *const *tokens, size_t n, struct vocab **ret);
void vocab_free(struct vocab *v);

#endif
