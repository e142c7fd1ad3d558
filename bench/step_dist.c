/* The distribution of single training steps: the minimum, 10th percentile and median of
 * many individually timed steps of the discrete DQN+DR3 learner (the "small" configuration
 * of step_bench: 4 -> 256 -> 256 -> 2, batch 256) and of the SAC and CQL actor-critic steps
 * of ac_step (2 x 256 critics and actor, batch 256, obs 17, action 6, CQL with 10 samples),
 * at a given thread count.
 *
 * On a virtual machine whose neighbours take the second core for milliseconds at a time, an
 * average over a window (step_bench, ac_step) moves by 15-30% between runs; the minimum and
 * the low percentiles of single steps move by a few percent, which is what an A/B comparison
 * of two builds needs (run them interleaved). Timing only: CI never runs this.
 *
 *   build/release/bench/step_dist [threads [small|sac|cql|all [steps]]]
 */
#include "ac_case.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BATCH = 256 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, int threads, double *t, int count) {
    qsort(t, (size_t)count, sizeof *t, by_value);
    printf("%-6s %3d %6d %10.3f %10.3f %10.3f\n", name, threads, count, t[0] * 1e3,
           t[count / 10] * 1e3, t[count / 2] * 1e3);
}

static void fail(const char *what) {
    fprintf(stderr, "step_dist: %s: %s\n", what, dr3_last_error());
    exit(1);
}

static void ac_case(dr3_ac_algo algo, int threads, int steps, double *t) {
    dr3_ac_learner *l = ac_case_learner(algo, threads);
    dr3_ac_batch b = ac_case_batch();
    for (int w = 0; w < 5; w++)
        if (dr3_ac_learner_step_batch(l, &b, NULL) != DR3_OK) fail("step");
    for (int i = 0; i < steps; i++) {
        double t0 = now();
        if (dr3_ac_learner_step_batch(l, &b, NULL) != DR3_OK) fail("step");
        t[i] = now() - t0;
    }
    dr3_ac_learner_free(l);
}

static void small_case(int threads, int steps, double *t) {
    size_t hidden[2] = {256, 256};
    dr3_learner_options lo = DR3_LEARNER_OPTIONS_INIT;
    dr3_regularizer_options reg = DR3_REGULARIZER_OPTIONS_INIT; /* DR3, c0 = 0.1 */
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    lo.obs_dim = 4;
    lo.num_actions = 2;
    lo.num_hidden = 2;
    lo.hidden = hidden;
    lo.batch_size = BATCH;
    lo.threads = threads;
    const dr3_regularizer_options *rp = &reg;
    lo.regularizers = &rp;
    lo.num_regularizers = 1;
    lo.optim = &oo;
    dr3_learner *l = NULL;
    if (dr3_learner_create(&l, &lo) != DR3_OK) fail("dr3_learner_create");
    static float s[2 * BATCH * 4], rew[BATCH];
    static int32_t a[BATCH];
    dr3_rng r;
    dr3_rng_seed(&r, 1);
    for (size_t i = 0; i < 2 * BATCH * 4; i++) s[i] = 2 * dr3_rng_uniform(&r) - 1;
    for (size_t i = 0; i < BATCH; i++) {
        rew[i] = dr3_rng_uniform(&r);
        a[i] = (int32_t)dr3_rng_below(&r, 2);
    }
    dr3_batch b = DR3_BATCH_INIT;
    b.n = BATCH;
    b.obs = s;
    b.ld_obs = 4;
    b.next_obs = s + BATCH * 4;
    b.ld_next_obs = 4;
    b.actions = a;
    b.rewards = rew;
    for (int w = 0; w < 5; w++)
        if (dr3_learner_step(l, &b, NULL) != DR3_OK) fail("step");
    for (int i = 0; i < steps; i++) {
        double t0 = now();
        if (dr3_learner_step(l, &b, NULL) != DR3_OK) fail("step");
        t[i] = now() - t0;
    }
    dr3_learner_free(l);
}

int main(int argc, char **argv) {
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    const char *what = argc > 2 ? argv[2] : "all";
    const int steps = argc > 3 ? atoi(argv[3]) : 400;
    if (threads < 1 || steps < 10) {
        fprintf(stderr, "usage: step_dist [threads [small|sac|cql|all [steps >= 10]]]\n");
        return 2;
    }
    double *t = malloc((size_t)steps * sizeof *t);
    if (t == NULL) return 1;
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    dr3_runtime_info_get(&info);
    printf("libdr3 %s, BLIS %s, kernels %s\n", info.libdr3_version, info.blis_version,
           info.blis_arch);
    printf("%-6s %3s %6s %10s %10s %10s\n", "step", "thr", "steps", "min ms", "p10 ms",
           "median ms");
    const bool all = strcmp(what, "all") == 0;
    if (all || strcmp(what, "small") == 0) {
        small_case(threads, steps, t);
        report("small", threads, t, steps);
    }
    if (all || strcmp(what, "sac") == 0) {
        ac_case(DR3_AC_SAC, threads, steps, t);
        report("sac", threads, t, steps);
    }
    if (all || strcmp(what, "cql") == 0) { /* a CQL step is ~8x a SAC step: fewer of them */
        const int n = steps / 4 >= 10 ? steps / 4 : 10;
        ac_case(DR3_AC_CQL, threads, n, t);
        report("cql", threads, t, n);
    }
    free(t);
    return 0;
}
