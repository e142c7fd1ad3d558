/* The crossover between libdr3's thin kernels and BLIS: every product shape of the three
 * step_bench networks, timed through the thin kernels (forced) and through BLIS with 1 and
 * 2 threads, best of repeats, in microseconds. Run once per BLIS kernel set:
 *   DR3_BLIS_ARCH=skx  build/release/bench/thin_kernels
 *   DR3_BLIS_ARCH=zen3 build/release/bench/thin_kernels
 * The "auto" column is dr3k_sgemm's own choice (the rule in src/kernels/thin.c). */
#include <dr3/dr3.h>

#include "kernels/kernels.h"
#include "kernels/thin.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct shape {
    const char *what;
    bool ta, tb;
    size_t m, n, k;
} shape;

enum { THIN = -1 };

/* Best time of one product over repeats; threads THIN = the thin kernels forced. */
static double best_us(const shape *s, int threads, const float *a, const float *b, float *c) {
    const size_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    const double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    const int reps = flops > 1e8 ? 5 : flops > 1e6 ? 30 : 300;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = now();
        if (threads == THIN)
            dr3k_thin_sgemm(0, s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c,
                            s->n);
        else
            dr3k_sgemm(threads, s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c,
                       s->n);
        t = now() - t;
        best = t < best ? t : best;
    }
    return best * 1e6;
}

int main(void) {
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    dr3_runtime_info_get(&info);
    printf("BLIS %s, kernels %s; thin kernels %s\n", info.blis_version, info.blis_arch,
           dr3k_thin_isa_name(dr3k_thin_isa()));
    static const shape shapes[] = {
        {"tiny fwd L1", 0, 1, 64, 64, 4},
        {"tiny fwd L2", 0, 1, 64, 64, 64},
        {"tiny fwd head", 0, 1, 64, 2, 64},
        {"tiny dW head", 1, 0, 2, 64, 64},
        {"tiny dW L2", 1, 0, 64, 64, 64},
        {"tiny dW L1", 1, 0, 64, 4, 64},
        {"tiny db", 1, 0, 64, 1, 64},
        {"tiny dX head", 0, 0, 64, 64, 2},
        {"tiny dX L2", 0, 0, 64, 64, 64},
        {"small fwd L1", 0, 1, 512, 256, 4},
        {"small fwd L2", 0, 1, 512, 256, 256},
        {"small fwd head", 0, 1, 512, 2, 256},
        {"small dW head", 1, 0, 2, 256, 512},
        {"small dW L2", 1, 0, 256, 256, 512},
        {"small dW L1", 1, 0, 256, 4, 512},
        {"small db", 1, 0, 256, 1, 512},
        {"small dX head", 0, 0, 512, 256, 2},
        {"small dX L2", 0, 0, 512, 256, 256},
        {"large fwd L1", 0, 1, 1024, 1024, 64},
        {"large fwd head", 0, 1, 1024, 18, 1024},
        {"large dW head", 1, 0, 18, 1024, 1024},
        {"large dW L1", 1, 0, 1024, 64, 1024},
        {"large db", 1, 0, 1024, 1, 1024},
        {"large dX head", 0, 0, 1024, 1024, 18},
        {"large fwd L2", 0, 1, 1024, 1024, 1024},
        {"mid 128^3", 0, 1, 128, 128, 128},
        {"mid 96^3", 0, 1, 96, 96, 96},
        {"mid 128x128x64 TN", 1, 0, 128, 128, 64},
        {"ac fwd L1", 0, 1, 512, 256, 23},
        {"ac dW L1", 1, 0, 256, 23, 512},
        {"ac dX L1", 0, 0, 256, 23, 256},
        {"ac dX head", 0, 0, 512, 256, 1},
        {"cql fwd L1", 0, 1, 7680, 256, 23},
        {"cql dW L1", 1, 0, 256, 23, 7680},
        {"cql dW L1 half", 1, 0, 128, 23, 7680},
        {"cql dX head", 0, 0, 7680, 256, 1},
    };
    const size_t N = 8 * 1024 * 1024 + 64;
    float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float)),
          *c = malloc(N * sizeof(float));
    for (size_t i = 0; i < N; i++) a[i] = b[i] = c[i] = 0.001f * (float)(i % 89);
    printf("%-18s %-3s %5s %5s %5s %10s %10s %10s %10s %8s\n", "shape", "op", "m", "n", "k",
           "thin us", "blis1 us", "blis2 us", "auto1 us", "best");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        double thin = best_us(s, THIN, a, b, c);
        int keep = dr3k_thin_isa();
        dr3k_thin_set_isa(DR3K_ISA_OFF);
        double b1 = best_us(s, 1, a, b, c), b2 = best_us(s, 2, a, b, c);
        dr3k_thin_set_isa(keep);
        double au = best_us(s, 1, a, b, c);
        const char *best = thin <= b1 && thin <= b2 ? "thin" : b1 <= b2 ? "blis1" : "blis2";
        printf("%-18s %c%c  %5zu %5zu %5zu %10.2f %10.2f %10.2f %10.2f %8s\n", s->what,
               s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, s->n, s->k, thin, b1, b2, au, best);
    }
    free(a);
    free(b);
    free(c);
    return 0;
}
