/* responder.h: the model's answer to free text.
 *
 * A responder holds one loaded model and a pool of decoders, one per
 * worker thread that uses it at the same moment.  It is reference
 * counted: a reload makes a new responder, and a request in flight
 * finishes on the one it started with. */
#ifndef PARLEY_RESPONDER_H
#define PARLEY_RESPONDER_H

#include <stdbool.h>

#include "decode.h"

#define RESPONDER_ERROR_MAX 512

struct responder;

/* model_path NULL: no model; every reply then says so and how to train
 * one.  On failure error (RESPONDER_ERROR_MAX bytes) holds a sentence
 * naming the file. */
int responder_new(const char *model_path, const struct decoder_options *options,
                  struct responder **ret, char *error);

struct responder *responder_ref(struct responder *r);
void responder_unref(struct responder *r);

bool responder_has_model(const struct responder *r);

/* A malloc'd reply to text, never empty.  chinese selects the language of
 * the responder's own notices.  Safe to call from several threads. */
int responder_reply(struct responder *r, const char *text, bool chinese, char **ret);

/* The most prompts decoded as one batch. */
#define RESPONDER_BATCH_MAX 32

/* Replies to n texts decoded together, which costs much less per reply
 * than one at a time.  replies[i] is malloc'd, or NULL where that reply
 * failed (results[i] says why).  Returns 0, or -ENOMEM when nothing could
 * be done. */
int responder_reply_batch(struct responder *r, const char *const *texts, const bool *chinese,
                          size_t n, char **replies, int *results);

#endif
