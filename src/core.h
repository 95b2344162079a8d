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

#define CORE_CONFIG_TABLES_MAX 16
#define CORE_DEFAULT_CONFIG SYSCONFDIR "/parley/parleyd.conf"

/* The key tables of parleyd.conf: the core's and every adapter's, for
 * config_load().  Returns how many it put in tables. */
size_t core_config_tables(const struct config_key **tables, size_t max);

/* The database a configuration names: [parleyd] database, else parley.db
 * in state_dir.  Malloc'd. */
int core_database_path(const struct config *config, char **ret);

/* Checks what config_load() cannot: the time zone, the retention period,
 * the rules file, the decoding options, that an adapter is enabled, and
 * that the model loads.  -EINVAL for a bad value, another negative errno
 * for a file that cannot be used; error holds a sentence. */
int core_config_check(const struct config *config, char *error);

/* Opens the state directory and the database, loads the model and creates
 * the enabled adapters.  On failure error holds a sentence for the user;
 * -EINVAL means a bad configuration value. */
int core_new(uv_loop_t *loop, const struct config *config, const struct core_events *events,
             struct core **ret, char *error);

/* Re-queues what a previous run left unfinished, then starts the adapters. */
int core_start(struct core *c);

/* Stops receiving, finishes the messages in hand (at most
 * shutdown_timeout_ms), closes the adapters, then calls events->stopped. */
void core_stop(struct core *c, const char *reason);

/* Applies a re-read configuration: what can change at run time changes
 * (shutdown_timeout_ms, [policy], [reminders] time_zone, [history]
 * retention_days).  On error (a sentence in error) nothing changed. */
int core_reload(struct core *c, const struct config *config, char *error);

/* Frees what core_stop() left; call after events->stopped. */
void core_free(struct core *c);

#endif
