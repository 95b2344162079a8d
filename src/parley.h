/* parley.h: the subcommands of the parley tool.  Each takes the arguments
 * after its own name (argv[0] is the subcommand) and returns an exit
 * status: 0 success, 1 failure, 2 bad usage. */
#ifndef PARLEY_PARLEY_H
#define PARLEY_PARLEY_H

#define PARLEY_EXIT_FAILURE 1
#define PARLEY_EXIT_USAGE 2

struct parley_command {
        const char *name;
        const char *summary;
        int (*run)(int argc, char **argv);
};

int parley_prep(int argc, char **argv);
int parley_train(int argc, char **argv);
int parley_score(int argc, char **argv);
int parley_db(int argc, char **argv);
int parley_reply(int argc, char **argv);
int parley_chat(int argc, char **argv);
int parley_eval(int argc, char **argv);

#endif
