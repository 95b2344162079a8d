/* parley: corpus preparation, training, evaluation, chat, inspection. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "parley.h"

static const struct parley_command commands[] = {
        { "prep", "clean and deduplicate corpora into one TSV file", parley_prep },
        { "train", "train the Seq2Seq model on a corpus", parley_train },
        { "eval", "BLEU, ROUGE and perplexity of a model on test pairs", parley_eval },
        { "score", "BLEU or ROUGE of hypotheses against references", parley_score },
        { "reply", "one reply from a model", parley_reply },
        { "chat", "talk to a model on the terminal", parley_chat },
        { "db", "look into parleyd's database: counts, a user's data", parley_db },
        { NULL, NULL, NULL },
};

static void usage(FILE *f)
{
        fprintf(f, "usage: parley COMMAND [ARGS...]\n\ncommands:\n");
        for (const struct parley_command *c = commands; c->name; c++)
                fprintf(f, "  %-8s %s\n", c->name, c->summary);
        fprintf(f, "\n'parley COMMAND --help' describes each; see parley(1).\n");
}

int main(int argc, char **argv)
{
        log_open("parley");

        if (argc < 2) {
                usage(stderr);
                return PARLEY_EXIT_USAGE;
        }

        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                usage(stdout);
                return 0;
        }

        if (strcmp(argv[1], "--version") == 0) {
                printf("parley %s\n", PACKAGE_VERSION);
                return 0;
        }

        for (const struct parley_command *c = commands; c->name; c++)
                if (strcmp(argv[1], c->name) == 0)
                        return c->run(argc - 1, argv + 1);

        fprintf(stderr, "parley: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return PARLEY_EXIT_USAGE;
}
