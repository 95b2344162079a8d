/* parleyd: the chat-bot daemon.
 *
 * Reads the configuration, opens the store, starts the adapters and runs
 * one event loop until SIGTERM, SIGINT or the console's end of input.
 * SIGHUP re-reads the configuration.  Under systemd it speaks sd_notify:
 * READY=1, STATUS=, RELOADING=1, STOPPING=1 and watchdog pings. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "adapter.h"
#include "blas.h"
#include "config.h"
#include "core.h"
#include "log.h"
#include "macro.h"

#define PARLEYD_DEFAULT_CONFIG CORE_DEFAULT_CONFIG

/* Exit statuses, as parleyd(8) documents them. */
#define PARLEYD_EXIT_OK 0
#define PARLEYD_EXIT_FAILURE 1         /* could not start or run */
#define PARLEYD_EXIT_CONFIG 2          /* bad usage or configuration */

/* What parleyd runs on when no configuration file exists: a local chat on
 * the console with the state in the working directory. */
static const char parleyd_builtin_config[] =
        "[parleyd]\n"
        "state_dir = parley-state\n"
        "[console]\n"
        "enabled = true\n";

struct daemon {
        uv_loop_t *loop;
        struct core *core;
        struct config *config;
        const char *config_path;        /* NULL: built in */
        const struct config_key *tables[CORE_CONFIG_TABLES_MAX];
        size_t n_tables;

        uv_signal_t sigterm, sigint, sighup;
        uv_timer_t watchdog;
        bool watchdog_on;
        int exit_status;
};

/* Loads d->config_path, or the built-in configuration when it is NULL. */
static int daemon_config_load(struct daemon *d, struct config **ret)
{
        int r;

        if (!d->config_path)
                return config_load_string("(built-in configuration)", parleyd_builtin_config,
                                          d->tables, d->n_tables, stderr, ret);

        r = config_load(d->config_path, d->tables, d->n_tables, stderr, ret);
        if (r < 0 && r != -EINVAL)
                log_error("cannot read %s: %s", d->config_path, strerror(-r));
        return r;
}

static void daemon_apply_log_level(const struct config *config)
{
        log_set_max_priority(log_priority_from_string(
                config_get_string(config, "parleyd", "log_level")));
}

static void daemon_on_ready(void *userdata)
{
        sd_notify(0, "READY=1");
}

static void daemon_on_status(void *userdata, const char *text)
{
        sd_notifyf(0, "STATUS=%s", text);
}

static void daemon_on_stopped(void *userdata)
{
        struct daemon *d = userdata;

        uv_close((uv_handle_t *)&d->sigterm, NULL);
        uv_close((uv_handle_t *)&d->sigint, NULL);
        uv_close((uv_handle_t *)&d->sighup, NULL);
        /* Closing the last watcher of a signal restores its default action;
         * a SIGTERM during the rest of the exit (systemd's, or a second
         * one) would then kill the process instead of letting it finish
         * and exit with its status.  (One arriving in the instant between
         * the close and the next line still would.) */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        if (d->watchdog_on)
                uv_close((uv_handle_t *)&d->watchdog, NULL);
}

static void daemon_on_stop_signal(uv_signal_t *s, int signum)
{
        struct daemon *d = s->data;

        sd_notify(0, "STOPPING=1");
        core_stop(d->core, signum == SIGTERM ? "SIGTERM received" : "SIGINT received");
}

/* Keys a reload applies; the others need a restart. */
static bool daemon_key_reloadable(const struct config_key *key)
{
        static const char *const keys[] = {
                "parleyd.log_level", "parleyd.shutdown_timeout_ms", "policy.group_replies",
                "policy.quiet_hours", "policy.replies_per_minute", "policy.rules_file",
                "reminders.time_zone", "history.retention_days", "model.path", "model.method",
                "model.max_length", "model.no_repeat_ngram", "model.beam_width",
                "model.length_penalty", "model.temperature", "model.top_k", "model.top_p",
                "model.context_messages",
        };
        char name[128];

        snprintf(name, sizeof(name), "%s.%s", key->section, key->name);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(name, keys[i]) == 0)
                        return true;
        return false;
}

static void daemon_on_change(const struct config_key *key, void *userdata)
{
        if (daemon_key_reloadable(key))
                return;

        log_notice("[%s] %s changed; it takes effect at the next restart", key->section,
                   key->name);
}

static void daemon_on_reload_signal(uv_signal_t *s, int signum)
{
        struct daemon *d = s->data;
        char error[CORE_ERROR_MAX];
        struct config *fresh;
        struct timespec now;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &now);
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                   (unsigned long long)now.tv_sec * 1000000ULL + now.tv_nsec / 1000);

        r = daemon_config_load(d, &fresh);
        if (r < 0) {
                log_error("SIGHUP: %s has errors (above); keeping the running configuration",
                          d->config_path ? d->config_path : "the configuration");
                sd_notify(0, "READY=1");
                return;
        }

        r = core_reload(d->core, fresh, error);
        if (r < 0) {
                log_error("SIGHUP: %s; keeping the running configuration", error);
                config_free(fresh);
                sd_notify(0, "READY=1");
                return;
        }
        config_changes(d->config, fresh, daemon_on_change, d);
        daemon_apply_log_level(fresh);
        config_free(d->config);
        d->config = fresh;

        log_info("configuration reloaded");
        sd_notify(0, "READY=1");
}

/* Pings come from the loop itself, so a stuck loop stops them and systemd
 * restarts the daemon. */
static void daemon_on_watchdog(uv_timer_t *t)
{
        sd_notify(0, "WATCHDOG=1");
}

static int daemon_signals_init(struct daemon *d)
{
        struct {
                uv_signal_t *handle;
                int signum;
                uv_signal_cb cb;
        } signals[] = {
                { &d->sigterm, SIGTERM, daemon_on_stop_signal },
                { &d->sigint, SIGINT, daemon_on_stop_signal },
                { &d->sighup, SIGHUP, daemon_on_reload_signal },
        };

        signal(SIGPIPE, SIG_IGN);

        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                int r = uv_signal_init(d->loop, signals[i].handle);

                if (r == 0)
                        r = uv_signal_start(signals[i].handle, signals[i].cb, signals[i].signum);
                if (r < 0)
                        return r;
                signals[i].handle->data = d;
        }

        return 0;
}

static void daemon_watchdog_init(struct daemon *d)
{
        uint64_t usec;

        if (sd_watchdog_enabled(0, &usec) <= 0)
                return;

        uv_timer_init(d->loop, &d->watchdog);
        d->watchdog.data = d;
        uv_timer_start(&d->watchdog, daemon_on_watchdog, 0, usec / 2000 ? usec / 2000 : 1);
        d->watchdog_on = true;
}

/* A classic detach for running by hand without a supervisor: systemd and
 * containers run parleyd in the foreground. */
static int daemon_detach(void)
{
        pid_t pid = fork();
        int fd;

        if (pid < 0)
                return -errno;
        if (pid > 0)
                _exit(0);

        if (setsid() < 0)
                return -errno;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0)
                _exit(0);

        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
                close(fd);

        log_use_journal();
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: parleyd [OPTIONS]\n"
                "\n"
                "  -c, --config FILE   configuration file (default " PARLEYD_DEFAULT_CONFIG ";\n"
                "                      without one, a console chat with state in ./parley-state)\n"
                "  -f, --foreground    do not detach from the terminal\n"
                "      --check-config  read the configuration, report problems and exit\n"
                "      --config-keys   list every configuration key and exit\n"
                "  -h, --help          this help\n"
                "      --version       the version\n"
                "\nSee parleyd(8) and parleyd.conf(5).\n");
}

int main(int argc, char **argv)
{
        enum { OPT_CHECK = 0x100, OPT_KEYS, OPT_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "foreground", no_argument, NULL, 'f' },
                { "check-config", no_argument, NULL, OPT_CHECK },
                { "config-keys", no_argument, NULL, OPT_KEYS },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                { NULL, 0, NULL, 0 },
        };
        struct daemon d = { .exit_status = PARLEYD_EXIT_OK };
        struct core_events events = {
                .ready = daemon_on_ready,
                .status = daemon_on_status,
                .stopped = daemon_on_stopped,
                .userdata = &d,
        };
        char error[CORE_ERROR_MAX];
        bool foreground = false, check_only = false;
        int opt, r;

        log_open("parleyd");
        d.n_tables = core_config_tables(d.tables, ELEMENTSOF(d.tables));

        while ((opt = getopt_long(argc, argv, "c:fh", options, NULL)) >= 0) {
                switch (opt) {
                case 'c':
                        d.config_path = optarg;
                        break;
                case 'f':
                        foreground = true;
                        break;
                case OPT_CHECK:
                        check_only = true;
                        break;
                case OPT_KEYS:
                        config_keys_print(d.tables, d.n_tables, stdout);
                        return PARLEYD_EXIT_OK;
                case 'h':
                        usage(stdout);
                        return PARLEYD_EXIT_OK;
                case OPT_VERSION:
                        printf("parleyd %s\n", PACKAGE_VERSION);
                        return PARLEYD_EXIT_OK;
                default:
                        usage(stderr);
                        return PARLEYD_EXIT_CONFIG;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "parleyd: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return PARLEYD_EXIT_CONFIG;
        }

        if (!d.config_path && access(PARLEYD_DEFAULT_CONFIG, F_OK) == 0)
                d.config_path = PARLEYD_DEFAULT_CONFIG;

        r = daemon_config_load(&d, &d.config);
        if (r < 0)
                return PARLEYD_EXIT_CONFIG;
        if (check_only) {
                r = core_config_check(d.config, error);
                config_free(d.config);
                if (r < 0) {
                        log_error("%s", error);
                        return r == -EINVAL ? PARLEYD_EXIT_CONFIG : PARLEYD_EXIT_FAILURE;
                }
                printf("%s: configuration is valid\n",
                       d.config_path ? d.config_path : "built-in");
                return PARLEYD_EXIT_OK;
        }
        daemon_apply_log_level(d.config);
        if (!d.config_path)
                log_notice("no configuration file at %s; running a console chat with state in "
                           "./parley-state (see parleyd.conf(5))", PARLEYD_DEFAULT_CONFIG);

        /* Before any thread starts (it may run parleyd again with the right
         * kernels): the decode workers run BLAS on one thread each, so they
         * do not compete for the cores. */
        blas_setup(1);

        /* The console needs the terminal; systemd and containers supervise
         * a foreground process. */
        if (!foreground && !getenv("NOTIFY_SOCKET") &&
            !config_get_bool(d.config, "console", "enabled")) {
                r = daemon_detach();
                if (r < 0) {
                        log_error("cannot detach: %s", strerror(-r));
                        return PARLEYD_EXIT_FAILURE;
                }
        }

        d.loop = uv_default_loop();

        r = core_new(d.loop, d.config, &events, &d.core, error);
        if (r < 0) {
                log_error("%s", error);
                sd_notifyf(0, "STATUS=%s", error);
                config_free(d.config);
                return r == -EINVAL ? PARLEYD_EXIT_CONFIG : PARLEYD_EXIT_FAILURE;
        }

        r = daemon_signals_init(&d);
        if (r < 0) {
                log_error("cannot handle signals: %s", uv_strerror(r));
                return PARLEYD_EXIT_FAILURE;
        }
        daemon_watchdog_init(&d);

        r = core_start(d.core);
        if (r < 0) {
                d.exit_status = PARLEYD_EXIT_FAILURE;
                core_stop(d.core, "start-up failed");
        }

        uv_run(d.loop, UV_RUN_DEFAULT);

        core_free(d.core);
        config_free(d.config);
        r = uv_loop_close(d.loop);
        if (r < 0)
                log_debug("event loop closed with handles open: %s", uv_strerror(r));

        log_info("stopped");
        return d.exit_status;
}
