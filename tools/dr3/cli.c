#include "cli.h"

#ifdef DR3_TOOL_MPI
#include <mpi.h>
#endif

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cli_usage(const char *cmd, const char *synopsis, const cli_opt *opts, size_t n_opts) {
    printf("usage: dr3 %s %s\n\noptions:\n", cmd, synopsis);
    for (size_t i = 0; i < n_opts; i++) {
        const char *arg = opts[i].kind == 's'   ? " VALUE"
                          : opts[i].kind == 'u' ? " N"
                          : opts[i].kind == 'f' ? " X"
                                                : "";
        char left[64];
        snprintf(left, sizeof left, "--%s%s", opts[i].name, arg);
        printf("  %-24s %s\n", left, opts[i].help);
    }
    printf("  %-24s %s\n", "--help", "show this help");
}

int cli_parse(const char *cmd, const char *synopsis, int argc, char **argv, int first,
              const cli_opt *opts, size_t n_opts) {
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_usage(cmd, synopsis, opts, n_opts);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "dr3 %s: unexpected argument '%s' (see dr3 %s --help)\n", cmd, a,
                    cmd);
            return CLI_USAGE;
        }
        const cli_opt *o = NULL;
        for (size_t k = 0; k < n_opts; k++)
            if (strcmp(a + 2, opts[k].name) == 0) o = &opts[k];
        if (o == NULL) {
            fprintf(stderr, "dr3 %s: unknown option '%s' (see dr3 %s --help)\n", cmd, a, cmd);
            return CLI_USAGE;
        }
        if (o->kind == 'b') {
            *(bool *)o->target = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "dr3 %s: option '%s' needs a value\n", cmd, a);
            return CLI_USAGE;
        }
        const char *v = argv[++i];
        char *end = NULL;
        errno = 0;
        if (o->kind == 's') {
            *(const char **)o->target = v;
        } else if (o->kind == 'u') {
            if (v[0] == '-' || v[0] == '\0')
                end = (char *)v;
            else
                *(uint64_t *)o->target = strtoull(v, &end, 10);
            if (end == v || *end != '\0' || errno != 0) {
                fprintf(stderr, "dr3 %s: '%s' needs a non-negative integer, got '%s'\n", cmd, a,
                        v);
                return CLI_USAGE;
            }
        } else {
            double x = strtod(v, &end);
            if (end == v || *end != '\0' || errno != 0 || !isfinite(x)) {
                fprintf(stderr, "dr3 %s: '%s' needs a number, got '%s'\n", cmd, a, v);
                return CLI_USAGE;
            }
            *(double *)o->target = x;
        }
    }
    return CLI_OK;
}

int cli_fail(const char *cmd, const char *what, dr3_status st) {
    fprintf(stderr, "dr3 %s: %s: %s (%s)\n", cmd, what, dr3_status_str(st), dr3_last_error());
    return CLI_FAIL;
}

double cli_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int cli_mpi_begin(bool mpi, bool shard, int *rank) {
    *rank = 0;
#ifdef DR3_TOOL_MPI
    if (mpi) {
        int started = 0;
        MPI_Initialized(&started);
        if (!started) MPI_Init(NULL, NULL);
        MPI_Comm_rank(MPI_COMM_WORLD, rank);
        if (*rank != 0 && freopen("/dev/null", "w", stdout) == NULL) *rank = -1;
        if (*rank < 0) MPI_Abort(MPI_COMM_WORLD, CLI_FAIL);
    }
#else
    if (mpi) {
        fprintf(stderr, "dr3 train: --mpi: this dr3 was built without MPI (libdr3-mpi)\n");
        return CLI_USAGE;
    }
#endif
    if (shard && !mpi) {
        fprintf(stderr,
                "dr3 train: --shard divides the dataset among --mpi ranks; add --mpi\n");
        return CLI_USAGE;
    }
    return CLI_OK;
}
