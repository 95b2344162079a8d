/* config.c: INI parsing with inih, validation against declared key tables. */
#include "autoconfig.h"

#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"

#define CONFIG_WHERE_MAX (PATH_MAX + 32)

struct config_entry {
        const struct config_key *key;
        char *value;                    /* NULL: not set; the default applies */
        char *resolved;                 /* CONFIG_PATH: value resolved against dir */
        char where[CONFIG_WHERE_MAX];
};

struct config {
        char *path;
        char *dir;                      /* where relative paths resolve */
        struct config_entry *entries;
        size_t n_entries;
        char **sections;                /* sections that appeared in the file */
        size_t n_sections;
};

/* State while inih walks the file. */
struct config_parse {
        struct config *config;
        FILE *in;
        FILE *err;
        unsigned line;
        unsigned errors;
        unsigned last_error_line;
};

static void config_error(struct config_parse *p, const char *format, ...) _printf_(2, 3);

static void config_error(struct config_parse *p, const char *format, ...)
{
        va_list ap;

        fprintf(p->err, "%s:%u: ", p->config->path ? p->config->path : "(defaults)", p->line);
        va_start(ap, format);
        vfprintf(p->err, format, ap);
        va_end(ap);
        fputc('\n', p->err);

        p->errors++;
        p->last_error_line = p->line;
}

static struct config_entry *config_entry_find(const struct config *c, const char *section,
                                              const char *name)
{
        for (size_t i = 0; i < c->n_entries; i++)
                if (strcmp(c->entries[i].key->section, section) == 0 &&
                    strcmp(c->entries[i].key->name, name) == 0)
                        return &c->entries[i];

        return NULL;
}

static bool config_section_known(const struct config *c, const char *section)
{
        for (size_t i = 0; i < c->n_entries; i++)
                if (strcmp(c->entries[i].key->section, section) == 0)
                        return true;

        return false;
}

static int parse_bool(const char *v, bool *ret)
{
        static const char *const yes[] = { "true", "yes", "on", "1" };
        static const char *const no[] = { "false", "no", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(v, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }

        return -EINVAL;
}

static int parse_int(const char *v, int64_t *ret)
{
        char *end;
        long long n;

        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0')
                return -EINVAL;

        *ret = n;
        return 0;
}

static bool enum_has(const char *choices, const char *v)
{
        size_t len = strlen(v);

        for (const char *p = choices; p && *p;) {
                const char *bar = strchr(p, '|');
                size_t n = bar ? (size_t)(bar - p) : strlen(p);

                if (n == len && strncmp(p, v, n) == 0)
                        return true;

                p = bar ? bar + 1 : NULL;
        }

        return false;
}

/* NULL when value is acceptable for key, else a sentence fragment. */
static const char *config_value_check(const struct config_key *key, const char *value,
                                      char *buf, size_t size)
{
        int64_t n;
        bool b;

        switch (key->type) {
        case CONFIG_STRING:
                return NULL;
        case CONFIG_PATH:
                return value[0] ? NULL : "expects a file name, got an empty value";
        case CONFIG_BOOL:
                if (parse_bool(value, &b) < 0) {
                        snprintf(buf, size, "expects true or false, got '%s'", value);
                        return buf;
                }
                return NULL;
        case CONFIG_INT:
                if (parse_int(value, &n) < 0) {
                        snprintf(buf, size, "expects a whole number, got '%s'", value);
                        return buf;
                }
                if (n < key->min || n > key->max) {
                        snprintf(buf, size, "must be between %" PRId64 " and %" PRId64
                                 ", got %" PRId64, key->min, key->max, n);
                        return buf;
                }
                return NULL;
        case CONFIG_ENUM:
                if (!enum_has(key->choices, value)) {
                        snprintf(buf, size, "expects one of %s, got '%s'", key->choices, value);
                        return buf;
                }
                return NULL;
        }

        return "has an unknown type";
}

static int config_entry_set(struct config *c, struct config_entry *e, const char *value,
                            const char *where)
{
        char *copy = strdup(value);

        if (!copy)
                return -ENOMEM;

        free(e->value);
        e->value = copy;
        snprintf(e->where, sizeof(e->where), "%s", where);
        return 0;
}

static int config_section_note(struct config *c, const char *section)
{
        char **n;

        for (size_t i = 0; i < c->n_sections; i++)
                if (strcmp(c->sections[i], section) == 0)
                        return 0;

        n = realloc(c->sections, (c->n_sections + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        c->sections = n;

        c->sections[c->n_sections] = strdup(section);
        if (!c->sections[c->n_sections])
                return -ENOMEM;
        c->n_sections++;
        return 0;
}

static int config_ini_handler(void *user, const char *section, const char *name,
                              const char *value)
{
        struct config_parse *p = user;
        struct config_entry *e;
        char where[CONFIG_WHERE_MAX], buf[256];
        const char *problem;

        if (!section[0]) {
                config_error(p, "'%s' is outside any [section]", name);
                return 1;
        }

        if (!config_section_known(p->config, section)) {
                config_error(p, "unknown section [%s]", section);
                return 1;
        }

        if (config_section_note(p->config, section) < 0)
                return 0;

        e = config_entry_find(p->config, section, name);
        if (!e) {
                config_error(p, "unknown key '%s' in section [%s]", name, section);
                return 1;
        }

        if (e->value && strncmp(e->where, "environment", 11) != 0) {
                config_error(p, "'%s' in [%s] is set twice (first at %s)", name, section,
                             e->where);
                return 1;
        }

        problem = config_value_check(e->key, value, buf, sizeof(buf));
        if (problem) {
                config_error(p, "%s in [%s] %s", name, section, problem);
                return 1;
        }

        snprintf(where, sizeof(where), "%s:%u", p->config->path, p->line);
        return config_entry_set(p->config, e, value, where) < 0 ? 0 : 1;
}

/* inih reads through this so the handler knows the line it is on. */
static char *config_ini_reader(char *str, int num, void *stream)
{
        struct config_parse *p = stream;
        char *r = fgets(str, num, p->in);

        if (r)
                p->line++;
        return r;
}

static int config_new(const struct config_key *const *tables, size_t n_tables,
                      struct config **ret)
{
        struct config *c;
        size_t n = 0, k = 0;

        for (size_t t = 0; t < n_tables; t++)
                for (const struct config_key *key = tables[t]; key->name; key++)
                        n++;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;

        c->entries = calloc(n ? n : 1, sizeof(*c->entries));
        if (!c->entries) {
                free(c);
                return -ENOMEM;
        }

        for (size_t t = 0; t < n_tables; t++)
                for (const struct config_key *key = tables[t]; key->name; key++) {
                        c->entries[k].key = key;
                        snprintf(c->entries[k].where, CONFIG_WHERE_MAX, "default");
                        k++;
                }
        c->n_entries = n;

        *ret = c;
        return 0;
}

/* PARLEY_<SECTION>_<NAME>, upper case, '-' and '.' as '_'. */
static void config_env_name(const struct config_key *key, char *buf, size_t size)
{
        size_t i;

        snprintf(buf, size, "PARLEY_%s_%s", key->section, key->name);
        for (i = 0; buf[i]; i++) {
                unsigned char ch = (unsigned char)buf[i];

                buf[i] = ch == '-' || ch == '.' ? '_' : (char)toupper(ch);
        }
}

static void config_env_apply(struct config_parse *p)
{
        struct config *c = p->config;

        for (size_t i = 0; i < c->n_entries; i++) {
                struct config_entry *e = &c->entries[i];
                char name[256], where[300], buf[256];
                const char *value, *problem;

                config_env_name(e->key, name, sizeof(name));
                value = getenv(name);
                if (!value)
                        continue;

                problem = config_value_check(e->key, value, buf, sizeof(buf));
                if (problem) {
                        fprintf(p->err, "environment %s: %s\n", name, problem);
                        p->errors++;
                        continue;
                }

                snprintf(where, sizeof(where), "environment %s", name);
                if (config_entry_set(c, e, value, where) < 0 ||
                    config_section_note(c, e->key->section) < 0)
                        p->errors++;
        }
}

/* Variables that look like configuration but are not: the BLAS set-up's. */
static const char *const config_env_other[] = {
        "PARLEY_NO_BLAS_REEXEC", "PARLEY_BLAS_REEXEC",
};

/* A misspelt PARLEY_ variable would otherwise be ignored without a word. */
static void config_env_unknown_warn(struct config_parse *p)
{
        extern char **environ;

        for (char **e = environ; e && *e; e++) {
                const char *eq = strchr(*e, '=');
                size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
                bool known = false;
                char name[256];

                if (strncmp(*e, "PARLEY_", 7) != 0 || len >= sizeof(name))
                        continue;
                memcpy(name, *e, len);
                name[len] = '\0';

                for (size_t i = 0; i < ELEMENTSOF(config_env_other) && !known; i++)
                        known = strcmp(name, config_env_other[i]) == 0;
                for (size_t i = 0; i < p->config->n_entries && !known; i++) {
                        char key[256];

                        config_env_name(p->config->entries[i].key, key, sizeof(key));
                        known = strcmp(name, key) == 0;
                }
                if (!known)
                        fprintf(p->err, "warning: environment %s is not a configuration key; "
                                "ignoring it\n", name);
        }
}

static int config_resolve_paths(struct config *c)
{
        for (size_t i = 0; i < c->n_entries; i++) {
                struct config_entry *e = &c->entries[i];
                const char *v = e->value ? e->value : e->key->default_value;
                int r;

                if (e->key->type != CONFIG_PATH || !v)
                        continue;

                if (v[0] == '/' || !c->dir || !e->value ||
                    strncmp(e->where, "environment", 11) == 0)
                        r = asprintf(&e->resolved, "%s", v);
                else
                        r = asprintf(&e->resolved, "%s/%s", c->dir, v);
                if (r < 0)
                        return -ENOMEM;
        }

        return 0;
}

static void config_required_check(struct config_parse *p)
{
        struct config *c = p->config;

        for (size_t i = 0; i < c->n_entries; i++) {
                const struct config_entry *e = &c->entries[i];

                if (!e->key->required || e->value || !config_has_section(c, e->key->section))
                        continue;

                fprintf(p->err, "%s: [%s] needs '%s' (%s)\n",
                        c->path ? c->path : "configuration", e->key->section, e->key->name,
                        e->key->doc);
                p->errors++;
        }
}

static int config_finish(struct config_parse *p, struct config **ret)
{
        int r;

        config_env_apply(p);
        config_env_unknown_warn(p);
        config_required_check(p);

        r = config_resolve_paths(p->config);
        if (r < 0)
                return r;

        if (p->errors > 0)
                return -EINVAL;

        *ret = p->config;
        return 0;
}

static int config_load_stream(FILE *in, const char *path, const char *dir,
                              const struct config_key *const *tables, size_t n_tables,
                              FILE *err, struct config **ret)
{
        struct config_parse p = { .err = err, .in = in };
        int r;

        r = config_new(tables, n_tables, &p.config);
        if (r < 0)
                return r;

        p.config->path = strdup(path);
        p.config->dir = strdup(dir);
        if (!p.config->path || !p.config->dir) {
                r = -ENOMEM;
                goto fail;
        }

        r = ini_parse_stream(config_ini_reader, &p, config_ini_handler, &p);
        if (r < 0) {
                r = -ENOMEM;
                goto fail;
        }
        /* inih reports the first line it could not parse at all; lines the
         * handler refused were already reported. */
        if (r > 0 && (unsigned)r != p.last_error_line) {
                fprintf(err, "%s:%d: expected 'key = value' or '[section]'\n", path, r);
                p.errors++;
        }

        r = config_finish(&p, ret);
        if (r < 0)
                goto fail;
        return 0;

fail:
        config_free(p.config);
        return r;
}

int config_load(const char *path, const struct config_key *const *tables, size_t n_tables,
                FILE *err, struct config **ret)
{
        _cleanup_free_ char *dir_copy = strdup(path);
        struct stat st;
        FILE *in;
        int r;

        if (!dir_copy)
                return -ENOMEM;

        in = fopen(path, "re");
        if (!in)
                return -errno;
        /* a directory opens, and would read as an empty file */
        r = fstat(fileno(in), &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
        if (r < 0) {
                fclose(in);
                return r;
        }

        r = config_load_stream(in, path, dirname(dir_copy), tables, n_tables, err, ret);
        fclose(in);
        return r;
}

int config_load_string(const char *name, const char *text,
                       const struct config_key *const *tables, size_t n_tables, FILE *err,
                       struct config **ret)
{
        FILE *in = fmemopen((void *)text, strlen(text), "r");
        int r;

        if (!in)
                return -errno;

        r = config_load_stream(in, name, ".", tables, n_tables, err, ret);
        fclose(in);
        return r;
}

void config_free(struct config *c)
{
        if (!c)
                return;

        for (size_t i = 0; i < c->n_entries; i++) {
                free(c->entries[i].value);
                free(c->entries[i].resolved);
        }
        for (size_t i = 0; i < c->n_sections; i++)
                free(c->sections[i]);
        free(c->sections);
        free(c->entries);
        free(c->path);
        free(c->dir);
        free(c);
}

bool config_has_section(const struct config *c, const char *section)
{
        for (size_t i = 0; i < c->n_sections; i++)
                if (strcmp(c->sections[i], section) == 0)
                        return true;

        return false;
}

static const struct config_entry *config_entry_get(const struct config *c, const char *section,
                                                   const char *name, enum config_type type)
{
        const struct config_entry *e = config_entry_find(c, section, name);

        assert(e);
        assert(e->key->type == type || (type == CONFIG_STRING && e->key->type == CONFIG_ENUM));
        return e;
}

const char *config_get_string(const struct config *c, const char *section, const char *name)
{
        const struct config_entry *e = config_entry_find(c, section, name);

        assert(e);
        if (e->key->type == CONFIG_PATH)
                return e->resolved;
        return e->value ? e->value : e->key->default_value;
}

bool config_get_bool(const struct config *c, const char *section, const char *name)
{
        const struct config_entry *e = config_entry_get(c, section, name, CONFIG_BOOL);
        const char *v = e->value ? e->value : e->key->default_value;
        bool b = false;

        /* Values were checked on the way in; defaults are the program's own. */
        if (v) {
                int r = parse_bool(v, &b);

                assert(r == 0);
                (void)r;
        }
        return b;
}

int64_t config_get_int(const struct config *c, const char *section, const char *name)
{
        const struct config_entry *e = config_entry_get(c, section, name, CONFIG_INT);
        const char *v = e->value ? e->value : e->key->default_value;
        int64_t n = 0;

        if (v) {
                int r = parse_int(v, &n);

                assert(r == 0);
                (void)r;
        }
        return n;
}

const char *config_where(const struct config *c, const char *section, const char *name)
{
        const struct config_entry *e = config_entry_find(c, section, name);

        assert(e);
        return e->where;
}

const char *config_path(const struct config *c)
{
        return c->path;
}

static const char *config_type_name(const struct config_key *key)
{
        switch (key->type) {
        case CONFIG_STRING:
                return "string";
        case CONFIG_BOOL:
                return "boolean";
        case CONFIG_INT:
                return "integer";
        case CONFIG_PATH:
                return "path";
        case CONFIG_ENUM:
                return key->choices;
        }
        return "?";
}

void config_keys_print(const struct config_key *const *tables, size_t n_tables, FILE *f)
{
        for (size_t t = 0; t < n_tables; t++)
                for (const struct config_key *key = tables[t]; key->name; key++)
                        fprintf(f, "[%s] %s (%s%s%s%s): %s\n", key->section, key->name,
                                config_type_name(key), key->required ? ", required" : "",
                                key->default_value ? ", default " : "",
                                key->default_value ? key->default_value : "", key->doc);
}

size_t config_changes(const struct config *old, const struct config *new,
                      void (*changed)(const struct config_key *key, void *userdata),
                      void *userdata)
{
        size_t n = 0;

        for (size_t i = 0; i < old->n_entries && i < new->n_entries; i++) {
                const struct config_key *key = old->entries[i].key;
                const char *a = config_get_string(old, key->section, key->name);
                const char *b = config_get_string(new, key->section, key->name);

                if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0)) {
                        changed(key, userdata);
                        n++;
                }
        }

        return n;
}
