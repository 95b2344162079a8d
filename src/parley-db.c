/* parley db: looks into parleyd's database. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core.h"
#include "macro.h"
#include "parley.h"
#include "store.h"

struct db_options {
        const char *database;
        const char *config;
        const char *adapter;
        const char *account;
        const char *user;
        const char *output;
};

static void db_usage(FILE *f)
{
        fprintf(f,
                "usage: parley db [OPTIONS] stats\n"
                "       parley db [OPTIONS] export --user ID [--adapter NAME] [--account NAME]\n"
                "                                   [-o FILE]\n"
                "\n"
                "  -d, --database FILE  the database (default: the one parleyd.conf names)\n"
                "  -c, --config FILE    parleyd's configuration\n"
                "                       (default " CORE_DEFAULT_CONFIG ")\n"
                "      --adapter NAME   the platform the user is on (default console)\n"
                "      --account NAME   the bot account on it (default default)\n"
                "      --user ID        the user whose data to export\n"
                "  -o, --output FILE    write the export there, not to standard output\n"
                "\n"
                "stats prints the row counts; export writes every message, reminder and\n"
                "setting of one user as JSON lines (a data-subject access request).\n");
}

/* The database: --database, else what the configuration names, else the
 * built-in configuration's ./parley-state/parley.db. */
static int db_path(const struct db_options *o, char **ret)
{
        const struct config_key *tables[CORE_CONFIG_TABLES_MAX];
        size_t n = core_config_tables(tables, ELEMENTSOF(tables));
        const char *config_path = o->config;
        struct config *config;
        int r;

        if (o->database) {
                *ret = strdup(o->database);
                return *ret ? 0 : -ENOMEM;
        }

        if (!config_path && access(CORE_DEFAULT_CONFIG, F_OK) == 0)
                config_path = CORE_DEFAULT_CONFIG;
        if (!config_path) {
                *ret = strdup("parley-state/parley.db");
                return *ret ? 0 : -ENOMEM;
        }

        r = config_load(config_path, tables, n, stderr, &config);
        if (r == -EINVAL)
                return r;
        if (r < 0) {
                fprintf(stderr, "parley db: cannot read %s: %s\n", config_path, strerror(-r));
                return r;
        }

        r = core_database_path(config, ret);
        config_free(config);
        return r;
}

/* parley db only reads: it must not migrate a database that an older
 * parleyd still uses, which would then refuse it. */
static int db_schema_check(const char *path)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int version = -1;

        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);

        /* Unreadable or newer: store_open() says what is wrong. */
        if (version <= 0 || version >= store_schema_version)
                return 0;

        fprintf(stderr, "parley db: %s: schema version %d is older than this parley's %d; "
                "start this version's parleyd once (it migrates the database), or use the "
                "parley that came with the running parleyd\n", path, version,
                store_schema_version);
        return -EPROTO;
}

static int db_stats(struct store *s)
{
        struct store_counts c;
        int r;

        r = store_counts_get(s, &c);
        if (r < 0) {
                fprintf(stderr, "parley db: %s\n", store_error(s));
                return PARLEY_EXIT_FAILURE;
        }

        printf("schema version   %d\n", store_schema_version);
        printf("inbox            %" PRId64 " (%" PRId64 " not answered)\n", c.inbox_total,
               c.inbox_undone);
        printf("outbox           %" PRId64 " (%" PRId64 " pending, %" PRId64 " sent, %" PRId64
               " failed)\n", c.outbox_total, c.outbox_pending, c.outbox_sent, c.outbox_failed);
        printf("history          %" PRId64 "\n", c.history);
        printf("reminders        %" PRId64 "\n", c.reminders);
        return 0;
}

static int db_export(struct store *s, const struct db_options *o)
{
        FILE *out = stdout;
        _cleanup_free_ char *tmp = NULL;
        int r, n;

        if (!o->user) {
                fprintf(stderr, "parley db export: --user ID is required\n");
                return PARLEY_EXIT_USAGE;
        }

        /* A file is written whole or not at all. */
        if (o->output) {
                if (asprintf(&tmp, "%s.tmp", o->output) < 0)
                        return PARLEY_EXIT_FAILURE;
                out = fopen(tmp, "we");
                if (!out) {
                        fprintf(stderr, "parley db export: cannot write %s: %s\n", tmp,
                                strerror(errno));
                        return PARLEY_EXIT_FAILURE;
                }
        }

        n = store_user_export(s, o->adapter, o->account, o->user, out);
        if (out != stdout) {
                r = fflush(out) == 0 && fsync(fileno(out)) == 0 ? 0 : -errno;
                if (fclose(out) != 0 && r == 0)
                        r = -errno;
                if (n >= 0 && r == 0 && rename(tmp, o->output) < 0)
                        r = -errno;
                if (n < 0 || r < 0) {
                        unlink(tmp);
                        if (n >= 0)
                                fprintf(stderr, "parley db export: cannot write %s: %s\n",
                                        o->output, strerror(-r));
                }
                if (r < 0)
                        return PARLEY_EXIT_FAILURE;
        }
        if (n < 0) {
                fprintf(stderr, "parley db export: %s\n", store_error(s));
                return PARLEY_EXIT_FAILURE;
        }

        fprintf(stderr, "parley db export: %d line(s) for user %s on %s\n", n, o->user,
                o->adapter);
        return 0;
}

int parley_db(int argc, char **argv)
{
        enum { OPT_ADAPTER = 0x100, OPT_ACCOUNT, OPT_USER };
        static const struct option options[] = {
                { "database", required_argument, NULL, 'd' },
                { "config", required_argument, NULL, 'c' },
                { "adapter", required_argument, NULL, OPT_ADAPTER },
                { "account", required_argument, NULL, OPT_ACCOUNT },
                { "user", required_argument, NULL, OPT_USER },
                { "output", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        struct db_options o = { .adapter = "console", .account = "default" };
        char error[STORE_ERROR_MAX];
        _cleanup_free_ char *path = NULL;
        struct store *s;
        const char *what;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "d:c:o:h", options, NULL)) >= 0) {
                switch (opt) {
                case 'd':
                        o.database = optarg;
                        break;
                case 'c':
                        o.config = optarg;
                        break;
                case OPT_ADAPTER:
                        o.adapter = optarg;
                        break;
                case OPT_ACCOUNT:
                        o.account = optarg;
                        break;
                case OPT_USER:
                        o.user = optarg;
                        break;
                case 'o':
                        o.output = optarg;
                        break;
                case 'h':
                        db_usage(stdout);
                        return 0;
                default:
                        db_usage(stderr);
                        return PARLEY_EXIT_USAGE;
                }
        }

        if (optind != argc - 1) {
                db_usage(stderr);
                return PARLEY_EXIT_USAGE;
        }
        what = argv[optind];
        if (strcmp(what, "stats") != 0 && strcmp(what, "export") != 0) {
                fprintf(stderr, "parley db: unknown action '%s'\n", what);
                db_usage(stderr);
                return PARLEY_EXIT_USAGE;
        }

        r = db_path(&o, &path);
        if (r < 0)
                return r == -EINVAL ? PARLEY_EXIT_USAGE : PARLEY_EXIT_FAILURE;

        if (access(path, F_OK) < 0) {
                fprintf(stderr, "parley db: %s: %s\n", path, strerror(errno));
                return PARLEY_EXIT_FAILURE;
        }

        r = db_schema_check(path);
        if (r < 0)
                return PARLEY_EXIT_FAILURE;

        r = store_open(path, &s, error);
        if (r < 0) {
                fprintf(stderr, "parley db: %s\n", error);
                return PARLEY_EXIT_FAILURE;
        }

        r = strcmp(what, "stats") == 0 ? db_stats(s) : db_export(s, &o);
        store_free(s);
        return r;
}
