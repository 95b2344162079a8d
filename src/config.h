/* config.h: parleyd's INI configuration, checked against declared keys.
 *
 * Every module that takes configuration declares its keys in a table of
 * struct config_key; the parser accepts exactly those.  An unknown section
 * or key, a value of the wrong type, a duplicate, or a missing required key
 * is an error reported as "FILE:LINE: what is wrong".  Environment variables
 * PARLEY_<SECTION>_<KEY> (upper case) override file values. */
#ifndef PARLEY_CONFIG_H
#define PARLEY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_VALUE_MAX 4096

enum config_type {
        CONFIG_STRING,
        CONFIG_BOOL,    /* true/false, yes/no, on/off, 1/0 */
        CONFIG_INT,     /* decimal, within [min, max] */
        CONFIG_PATH,    /* a file name; relative names resolve against the file's directory */
        CONFIG_ENUM,    /* one of the '|'-separated words in choices */
};

struct config_key {
        const char *section;
        const char *name;
        enum config_type type;
        const char *default_value;      /* NULL: no default */
        bool required;                  /* must be set when its section appears */
        int64_t min, max;               /* CONFIG_INT only */
        const char *choices;            /* CONFIG_ENUM only */
        const char *doc;                /* one line for --help-config */
};

struct config;

/* Parses path against the NULL-name-terminated key tables in tables[]
 * (n_tables of them).  Errors are printed to err, one per line, and the
 * function returns -EINVAL after reading the whole file, so a user sees
 * every mistake at once.  -errno if the file cannot be read. */
int config_load(const char *path, const struct config_key *const *tables, size_t n_tables,
                FILE *err, struct config **ret);

/* The same for configuration text held in memory; name stands for the
 * file in messages, and relative paths resolve against the working
 * directory. */
int config_load_string(const char *name, const char *text,
                       const struct config_key *const *tables, size_t n_tables, FILE *err,
                       struct config **ret);

void config_free(struct config *c);

/* True when the file had a [section] header or any key of it was set. */
bool config_has_section(const struct config *c, const char *section);

/* Values: the environment's, else the file's, else the default.  Getters
 * of undeclared keys are programmer errors (assert). */
const char *config_get_string(const struct config *c, const char *section, const char *name);
bool config_get_bool(const struct config *c, const char *section, const char *name);
int64_t config_get_int(const struct config *c, const char *section, const char *name);

/* "FILE:LINE" of where a key was set, or "default"; for later messages. */
const char *config_where(const struct config *c, const char *section, const char *name);

/* The file this configuration came from, NULL for defaults. */
const char *config_path(const struct config *c);

/* Calls changed() for each key whose value differs between two
 * configurations made from the same tables; returns how many. */
size_t config_changes(const struct config *old, const struct config *new,
                      void (*changed)(const struct config_key *key, void *userdata),
                      void *userdata);

/* Prints every key with its type, default and doc line. */
void config_keys_print(const struct config_key *const *tables, size_t n_tables, FILE *f);

#endif
