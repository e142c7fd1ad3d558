/* dr3: train, evaluate and demonstrate DR3 from the command line. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand commands[] = {
    {"info", cmd_info, "versions, BLIS kernels, threads, optional features"},
    {"collect", cmd_collect, "record an offline dataset (.npy directory) from an environment"},
    {"train", cmd_train, "train a Q-network from a dataset (any supported format)"},
    {"eval", cmd_eval, "greedy returns of a trained checkpoint in an environment"},
    {"demo", cmd_demo, "the DR3 experiment on built-in data (SARSA vs TD vs Q-learning, +DR3)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: dr3 <command> [options]   (dr3 <command> --help for details)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("dr3 %s\n", dr3_version());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc, argv);
    fprintf(stderr, "dr3: unknown command '%s' (see dr3 --help)\n", argv[1]);
    return CLI_USAGE;
}
