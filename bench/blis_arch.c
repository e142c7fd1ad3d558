/* sgemm throughput through libdr3's kernel layer with whatever BLIS configuration libdr3
 * selected. Run it under bench/blis_arch.sh to compare configurations: the choice is made
 * once per process, so each configuration needs its own process.
 *   usage: blis_arch [threads]   (env DR3_BLIS_ARCH=skx|zen3|haswell|generic to force) */
#include <dr3/dr3.h>

#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Best-of-repeats GFLOP/s of C = A·B (m×k times k×n), row-major, as a layer forward
 * (activations × weightsᵀ) would issue it when trans_b is set. */
static double gflops(int threads, size_t m, size_t n, size_t k, int trans_b) {
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n),
          *c = malloc(sizeof(float) * m * n);
    for (size_t i = 0; i < m * k; i++) a[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < k * n; i++) b[i] = (float)(i % 7) * 0.02f;
    double flop = 2.0 * (double)m * (double)n * (double)k, best = 1e30, total = 0;
    int reps = 0;
    while (total < 0.4 || reps < 5) {
        double t = now();
        dr3k_sgemm(threads, false, trans_b != 0, m, n, k, 1.0f, a, k, b, trans_b ? k : n, 0.0f,
                   c, n);
        t = now() - t;
        if (t < best) best = t;
        total += t;
        reps++;
    }
    free(a);
    free(b);
    free(c);
    return flop / best * 1e-9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1) threads = 1;
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    if (dr3_runtime_info_get(&info) != DR3_OK) return 1;
    static const char *const source[] = {"BLIS's own detection", "libdr3 (replaced generic)",
                                         "user (DR3_BLIS_ARCH / API)", "host BLIS_ARCH_TYPE",
                                         "host initialised BLIS first"};
    printf("BLIS %s, active kernels: %s (chosen by %s); BLIS alone would pick: %s; "
           "CPU %s family %d model %d, AVX2/FMA %d, AVX-512 %d; threads %d\n",
           info.blis_version, info.blis_arch, source[info.blis_arch_source],
           info.blis_arch_auto, info.cpu_vendor, info.cpu_family, info.cpu_model,
           info.cpu_avx2_fma, info.cpu_avx512, threads);
    static const size_t shapes[][4] = {
        {2048, 2048, 2048, 0},                        /* large square: the peak */
        {1024, 1024, 1024, 0}, {1024, 1024, 1024, 1}, /* 1024-wide layer, batch 2*512 */
        {512, 256, 256, 1},                           /* 256-wide hidden layer, batch 2*256 */
        {512, 256, 4, 1},                             /* first layer of a CartPole net: K = 4 */
        {256, 2, 256, 1},                             /* Q head: N = 2 */
        {64, 64, 64, 1},                              /* tiny net */
    };
    printf("%6s %6s %6s %7s %10s\n", "m", "n", "k", "B^T", "GFLOP/s");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        printf("%6zu %6zu %6zu %7s %10.1f\n", shapes[s][0], shapes[s][1], shapes[s][2],
               shapes[s][3] ? "yes" : "no",
               gflops(threads, shapes[s][0], shapes[s][1], shapes[s][2], (int)shapes[s][3]));
    return 0;
}
