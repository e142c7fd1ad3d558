/* Shared pieces of the dr3 command: argument parsing and reporting. */
#ifndef DR3_TOOL_CLI_H
#define DR3_TOOL_CLI_H

#include <dr3/dr3.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes: 0 success, 1 failure while running, 2 bad usage. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* One option of a subcommand. kind: 's' string, 'u' unsigned integer, 'f' float, 'b' flag. */
typedef struct cli_opt {
    const char *name; /* without the leading "--" */
    char kind;
    void *target; /* const char **, uint64_t *, double *, bool * */
    const char *help;
} cli_opt;

/* Parses argv[first..argc) into opts. Prints a one-line error to stderr and returns
 * CLI_USAGE on unknown options, missing or malformed values; returns -1 if --help was
 * given (after printing usage), CLI_OK otherwise. */
int cli_parse(const char *cmd, const char *synopsis, int argc, char **argv, int first,
              const cli_opt *opts, size_t n_opts);
void cli_usage(const char *cmd, const char *synopsis, const cli_opt *opts, size_t n_opts);

/* Prints "dr3 <cmd>: <what>: <status> (<last error>)" and returns CLI_FAIL. */
int cli_fail(const char *cmd, const char *what, dr3_status st);

/* Seconds on the monotonic clock (for rates and wall times). */
double cli_now(void);

/* Subcommands. */
int cmd_info(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_collect(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Continuous actions (cmd_continuous.c): the subcommands' actor-critic paths, and the tests
 * that route to them: --env names a continuous environment; an option is present. */
int cmd_collect_continuous(int argc, char **argv);
int cmd_train_continuous(int argc, char **argv);
int cmd_eval_continuous(int argc, char **argv);
int cli_continuous_env(int argc, char **argv);
int cli_has_option(int argc, char **argv, const char *name);

/* dr3 train --mpi [--shard]: starts MPI (unless already started) and sets *rank, sending the
 * standard output of ranks other than 0 to /dev/null; refuses --mpi in a dr3 built without
 * MPI and --shard without --mpi. CLI_OK or CLI_USAGE (after a message). */
int cli_mpi_begin(bool mpi, bool shard, int *rank);

#endif
