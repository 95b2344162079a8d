/* responder.h: the model's answer to free text.
 *
 * responder_reply() is called from worker threads, concurrently; the
 * responder is read-only once made. */
#ifndef PARLEY_RESPONDER_H
#define PARLEY_RESPONDER_H

#define RESPONDER_ERROR_MAX 512

struct responder;

/* model_path NULL: no model; every reply then says so and how to train
 * one.  On failure error (RESPONDER_ERROR_MAX bytes) holds a sentence. */
int responder_new(const char *model_path, struct responder **ret, char *error);
void responder_free(struct responder *r);

/* True when a model is loaded. */
int responder_has_model(const struct responder *r);

/* A malloc'd reply to text.  chinese selects the language of the
 * responder's own notices. */
int responder_reply(struct responder *r, const char *text, int chinese, char **ret);

#endif
