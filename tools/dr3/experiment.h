/* The DR3 experiment behind `dr3 demo`: one offline dataset per seed from a known behaviour
 * policy, the same network and optimizer for every method, metrics on a fixed set. */
#ifndef DR3_TOOL_EXPERIMENT_H
#define DR3_TOOL_EXPERIMENT_H

#include <dr3/dr3.h>

#include <stddef.h>
#include <stdio.h>

enum { EXP_MAX_METHODS = 16 };

typedef struct exp_method {
    char name[32];
    dr3_backup_kind backup;
    float c0; /* DR3 coefficient, 0 = none */
} exp_method;

typedef struct exp_config {
    const char *env;
    double epsilon;       /* behaviour policy: ε-mixture with uniform */
    size_t transitions;   /* dataset size */
    size_t steps;         /* gradient steps per run */
    size_t eval_every;    /* metric interval */
    size_t eval_size;     /* fixed evaluation transitions */
    size_t eval_episodes; /* greedy-return episodes per evaluation */
    size_t seeds;
    size_t width, depth;
    size_t batch;
    float lr, tau, gamma;
    int workers; /* runs in parallel (threads), each single-threaded */
    exp_method methods[EXP_MAX_METHODS];
    size_t n_methods;
} exp_config;

/* One evaluation point of one run. */
typedef struct exp_point {
    double step, dot, cos, norm, dead, q, mc, srank, ret, td;
} exp_point;

typedef struct exp_results {
    size_t n_points;   /* per run */
    exp_point *points; /* [method][seed][point] */
    double seconds;
} exp_results;

/* Reads a metrics.csv written by exp_report back into cfg->methods, seeds, steps,
 * eval_every and *out (seconds = -1: unknown). The other fields of cfg describe the run and
 * stay as the caller set them. Returns 0, or -1 after printing why to stderr. */
int exp_read_csv(const char *path, exp_config *cfg, exp_results *out);
/* Runs everything; progress lines go to `log` (may be NULL). Returns 0 on success. */
int exp_run(const exp_config *cfg, exp_results *out, FILE *log);
/* Writes metrics.csv, the SVG plots and summary.txt into dir; prints the summary table. */
int exp_report(const exp_config *cfg, const exp_results *res, const char *dir, FILE *out);
void exp_results_free(exp_results *res);

#endif
