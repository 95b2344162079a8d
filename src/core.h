/* core.h: the path of a message through parleyd.
 *
 *   adapter -> inbox (durable) -> ack -> router -> command | responder
 *           -> outbox + inbox done (one transaction) -> per-chat sender
 *           -> adapter -> platform message id recorded
 *
 * The core owns the store, the worker queues, the responder and the
 * adapters.  Everything here runs on the loop thread; database commits and
 * decoding run on worker threads and report back. */
#ifndef PARLEY_CORE_H
#define PARLEY_CORE_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"

#define CORE_ERROR_MAX 1024

struct core;

/* What the daemon around the core wants to hear about. */
struct core_events {
        void (*ready)(void *userdata);          /* every adapter connected or failed once */
        void (*status)(void *userdata, const char *text);
        void (*stopped)(void *userdata);        /* after core_stop(): all drained and closed */
        void *userdata;
};

extern const struct config_key core_config_keys[];

/* Opens the state directory and the database, loads the model and creates
 * the enabled adapters.  On failure error holds a sentence for the user. */
int core_new(uv_loop_t *loop, const struct config *config, const struct core_events *events,
             struct core **ret, char *error);

/* Re-queues what a previous run left unfinished, then starts the adapters. */
int core_start(struct core *c);

/* Stops receiving, finishes the messages in hand (at most
 * shutdown_timeout_ms), closes the adapters, then calls events->stopped. */
void core_stop(struct core *c, const char *reason);

/* Applies a re-read configuration: what can change at run time changes;
 * the rest is reported as needing a restart. */
int core_reload(struct core *c, const struct config *config);

/* Frees what core_stop() left; call after events->stopped. */
void core_free(struct core *c);

#endif
