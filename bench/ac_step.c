/* One actor-critic update in libdr3: SAC and CQL (N = 10), two critics and an actor of
 * 2 × 256 hidden units, batch 256, obs 17, action 6, DR3 on (c0 = 0.1), at 1 and 2 threads.
 * Prints ms per step (best of five windows) and, given the PyTorch script, runs it and
 * prints the ratio table (PyTorch ms / libdr3 ms, best against best).
 *
 *   DR3_BLIS_ARCH=skx|zen3 build/release/bench/ac_step [secs] [bench/pytorch_ac_step.py]
 * (the peer runs with BLIS_ARCH_TYPE=0; do not set it for this program: libdr3 would keep it)
 *   build/release/bench/ac_step secs sac|cql [threads]     (one case, for profiling)
 */
#include "ac_case.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU seconds of the whole process: on a machine shared with other jobs, the 1-thread CPU
 * time per step is the measure that time slicing does not inflate. */
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static double bench(dr3_ac_algo algo, int threads, double secs, double *cpu_ms) {
    dr3_ac_learner *l = ac_case_learner(algo, threads);
    dr3_ac_batch b = ac_case_batch();
    for (int w = 0; w < 3; w++) dr3_ac_learner_step_batch(l, &b, NULL);
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        int iters = 0;
        double t0 = now(), c0 = cpu(), t;
        do {
            if (dr3_ac_learner_step_batch(l, &b, NULL) != DR3_OK) {
                fprintf(stderr, "%s\n", dr3_last_error());
                exit(1);
            }
            iters++;
            t = now() - t0;
        } while (t < secs / 5);
        if (t / iters < best) best = t / iters;
        if ((cpu() - c0) / iters < best_cpu) best_cpu = (cpu() - c0) / iters;
    }
    dr3_ac_learner_free(l);
    *cpu_ms = best_cpu * 1e3;
    return best * 1e3;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    dr3_runtime_info_get(&info);
    printf("libdr3 %s, BLIS %s, kernels %s\n", info.libdr3_version, info.blis_version,
           info.blis_arch);
    if (getenv("BLIS_ARCH_TYPE") != NULL)
        printf("note: BLIS_ARCH_TYPE is set, so libdr3 keeps it and DR3_BLIS_ARCH has no "
               "effect (the PyTorch peer gets BLIS_ARCH_TYPE=0 by itself)\n");
    const char *names[2] = {"sac", "cql"};
    if (argc > 2 && (strcmp(argv[2], names[0]) == 0 || strcmp(argv[2], names[1]) == 0)) {
        const int th = argc > 3 ? atoi(argv[3]) : 1;
        double c, ms = bench(strcmp(argv[2], "sac") == 0 ? DR3_AC_SAC : DR3_AC_CQL,
                             th > 0 ? th : 1, secs, &c);
        printf("%-5s %3d %12.3f %12.3f\n", argv[2], th > 0 ? th : 1, ms, c);
        return 0;
    }
    double ours[2][2], ours_cpu[2][2];
    printf("%-5s %3s %12s %12s\n", "algo", "thr", "libdr3 ms", "cpu ms");
    for (int a = 0; a < 2; a++)
        for (int th = 1; th <= 2; th++) {
            ours[a][th - 1] =
                bench(a == 0 ? DR3_AC_SAC : DR3_AC_CQL, th, secs, &ours_cpu[a][th - 1]);
            printf("%-5s %3d %12.3f %12.3f\n", names[a], th, ours[a][th - 1],
                   ours_cpu[a][th - 1]);
        }
    if (argc < 3) return 0;
    char cmd[4096];
    /* the peer with BLIS forced to skx, its best on the AVX-512 machines measured here; set
     * for its process only (in this one, BLIS_ARCH_TYPE would override DR3_BLIS_ARCH) */
    snprintf(cmd, sizeof cmd, "BLIS_ARCH_TYPE=0 /usr/bin/python3 '%s' %g", argv[2], secs);
    FILE *p = popen(cmd, "r");
    if (p == NULL) return 1;
    double torch[2][2] = {{0, 0}, {0, 0}}, torch_cpu[2][2] = {{0, 0}, {0, 0}};
    char line[512];
    while (fgets(line, sizeof line, p)) {
        char name[16];
        int th;
        double ms, cms;
        if (sscanf(line, "%15s %d %lf %lf", name, &th, &ms, &cms) == 4 && th >= 1 && th <= 2 &&
            (strcmp(name, names[0]) == 0 || strcmp(name, names[1]) == 0)) {
            for (int a = 0; a < 2; a++)
                if (strcmp(name, names[a]) == 0) {
                    torch[a][th - 1] = ms;
                    torch_cpu[a][th - 1] = cms;
                }
        } else {
            fputs(line, stdout);
        }
    }
    pclose(p);
    printf("\n%-5s %3s %12s %12s %8s\n", "algo", "thr", "libdr3 ms", "torch ms", "ratio");
    for (int a = 0; a < 2; a++) {
        for (int th = 0; th < 2; th++)
            printf("%-5s %3d %12.3f %12.3f %8.2f\n", names[a], th + 1, ours[a][th],
                   torch[a][th], torch[a][th] / ours[a][th]);
        double bo = ours[a][0] < ours[a][1] ? ours[a][0] : ours[a][1];
        double bt = torch[a][0] < torch[a][1] ? torch[a][0] : torch[a][1];
        printf("%-5s %3s %12.3f %12.3f %8.2f   (best against best)\n", names[a], "best", bo, bt,
               bt / bo);
    }
    printf("\nCPU time per step, 1 thread (not inflated by other jobs' time slices):\n");
    for (int a = 0; a < 2; a++)
        printf("%-5s %3d %12.3f %12.3f %8.2f\n", names[a], 1, ours_cpu[a][0], torch_cpu[a][0],
               torch_cpu[a][0] / ours_cpu[a][0]);
    return 0;
}
