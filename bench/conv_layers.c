/* Per-layer timing of the convolution kernels (src/net/conv2d.c; docs/conv.md): forward,
 * backward dW (a first layer's) and backward dW + dX, for the Nature and MinAtar layers at
 * batch 32 and several GEMM groups, and the forward followed by a ReLU pass against the
 * forward with DR3I_CONV2D_RELU. Best of 30 calls.
 *   conv_layers [threads (default 1)] [only this layer: nature1|nature2|nature3|minatar]
 * Env: DR3_CONV_BENCH_CPU=1 times with this thread's CPU time instead of the wall clock
 * (one thread: less disturbed by other processes on a shared machine);
 * DR3_BLIS_ARCH=skx|haswell|... forces the BLIS kernels. */
#include <dr3/dr3.h>

#include "core/internal.h"
#include "net/conv2d.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    const char *cpu = getenv("DR3_CONV_BENCH_CPU");
    clock_gettime(cpu != NULL && cpu[0] == '1' ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static dr3i_conv2d shape(size_t C, size_t H, size_t W, size_t K, size_t kh, size_t kw, size_t s,
                         size_t p) {
    dr3i_conv2d c = {
        .in_c = C, .in_h = H, .in_w = W, .out_c = K, .kh = kh, .kw = kw, .stride = s, .pad = p};
    if (dr3i_conv2d_init(&c, "conv_layers") != DR3_OK) {
        fprintf(stderr, "%s\n", dr3_last_error());
        exit(1);
    }
    return c;
}

static void fill(float *x, size_t n, float lo, float hi, dr3_rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * dr3_rng_uniform(rng);
}

static const char *only_layer; /* NULL: all */

static void bench_layer(const char *name, dr3i_conv2d c, size_t n, int u8, size_t group,
                        int threads) {
    if (only_layer != NULL && strcmp(only_layer, name) != 0) return;
    dr3_rng rng;
    dr3_rng_seed(&rng, 3);
    size_t wsf;
    if (dr3i_conv2d_workspace(&c, group, &wsf) != DR3_OK) exit(1);
    wsf *= (size_t)threads; /* one slot per thread, each with the group (as the network) */
    float *ws = malloc(wsf * sizeof(float)), *out = malloc(n * c.out_size * sizeof(float));
    float *gw = malloc(c.weight_count * sizeof(float)), *gb = malloc(c.out_c * sizeof(float));
    float *gx = malloc(n * c.in_size * sizeof(float)), *w = malloc(c.weight_count * 4);
    float *b = malloc(c.out_c * sizeof(float)), *g = malloc(n * c.out_size * sizeof(float));
    float *xf = u8 ? NULL : malloc(n * c.in_size * sizeof(float));
    uint8_t *xb = u8 ? malloc(n * c.in_size) : NULL;
    if (!ws || !out || !gw || !gb || !gx || !w || !b || !g || (!xf && !xb)) exit(1);
    const float bound = (float)(1.0 / sqrt((double)c.patch));
    if (u8)
        for (size_t k = 0; k < n * c.in_size; k++) xb[k] = (uint8_t)dr3_rng_below(&rng, 256);
    else
        fill(xf, n * c.in_size, -1, 1, &rng);
    fill(w, c.weight_count, -bound, bound, &rng);
    fill(b, c.out_c, -0.5f, 0.5f, &rng);
    fill(g, n * c.out_size, -1, 1, &rng);
    dr3i_conv2d_src src = {xf, xb, c.in_size};
    double best_f = 1e9, best_w = 1e9, best_wx = 1e9, best_split = 1e9, best_fused = 1e9;
    for (int r = 0; r < 30; r++) { /* forward + ReLU: a separate pass, or fused */
        double t0 = now_s();
        dr3i_conv2d_forward(&c, threads, n, &src, w, b, out, c.out_size, 0, ws, wsf);
        for (size_t k = 0; k < n * c.out_size; k++) out[k] = out[k] > 0 ? out[k] : 0;
        double t1 = now_s();
        dr3i_conv2d_forward(&c, threads, n, &src, w, b, out, c.out_size, DR3I_CONV2D_RELU, ws,
                            wsf);
        double t2 = now_s();
        best_split = fmin(best_split, t1 - t0);
        best_fused = fmin(best_fused, t2 - t1);
    }
    for (int r = 0; r < 30; r++) {
        double t0 = now_s();
        dr3i_conv2d_forward(&c, threads, n, &src, w, b, out, c.out_size, 0, ws, wsf);
        double t1 = now_s();
        dr3i_conv2d_backward(&c, threads, n, &src, w, g, c.out_size, gw, gb, NULL, 0, 0, ws,
                             wsf);
        double t2 = now_s();
        best_f = fmin(best_f, t1 - t0);
        best_w = fmin(best_w, t2 - t1);
        if (!u8) {
            dr3i_conv2d_backward(&c, threads, n, &src, w, g, c.out_size, gw, gb, gx, c.in_size,
                                 0, ws, wsf);
            best_wx = fmin(best_wx, now_s() - t2);
        }
    }
    double gemm = 2.0 * (double)(c.out_c * c.patch * c.positions * n) * 1e-9; /* GFLOP */
    printf("%-8s %-5s n=%-3zu group=%-3zu thr=%d  fwd %7.3f ms (%5.1f GF/s)  bwd dW %7.3f ms "
           "(%5.1f)",
           name, u8 ? "uint8" : "float", n, group, threads, 1e3 * best_f, gemm / best_f,
           1e3 * best_w, gemm / best_w);
    if (!u8) printf("  bwd dW+dX %7.3f ms (%5.1f)", 1e3 * best_wx, 2 * gemm / best_wx);
    printf("  fwd+ReLU %7.3f ms, fused %7.3f\n", 1e3 * best_split, 1e3 * best_fused);
    fflush(stdout);
    free(ws);
    free(out);
    free(gw);
    free(gb);
    free(gx);
    free(w);
    free(b);
    free(g);
    free(xf);
    free(xb);
}

int main(int argc, char **argv) {
    const int threads = argc > 1 && atoi(argv[1]) > 1 ? atoi(argv[1]) : 1;
    only_layer = argc > 2 ? argv[2] : NULL;
    if (dr3i_runtime_ensure() != DR3_OK) return 1;
    const char *arch = getenv("DR3_BLIS_ARCH");
    printf("DR3_BLIS_ARCH=%s\n", arch ? arch : "(auto)");
    dr3i_conv2d l1 = shape(4, 84, 84, 32, 8, 8, 4, 0), l2 = shape(32, 20, 20, 64, 4, 4, 2, 0);
    dr3i_conv2d l3 = shape(64, 9, 9, 64, 3, 3, 1, 0), mn = shape(10, 10, 10, 16, 3, 3, 1, 0);
    /* one GEMM per batch, the suggested group, one per sample */
    const size_t groups[] = {32, dr3i_conv2d_suggest_group(&l1, 32), 1};
    for (size_t gi = 0; gi < 3; gi++) {
        bench_layer("nature1", l1, 32, 1, groups[gi], threads);
        bench_layer("nature1", l1, 32, 0, groups[gi], threads);
    }
    bench_layer("nature2", l2, 32, 0, 32, threads);
    bench_layer("nature2", l2, 32, 0, dr3i_conv2d_suggest_group(&l2, 32), threads);
    bench_layer("nature2", l2, 32, 0, 1, threads);
    bench_layer("nature3", l3, 32, 0, 32, threads);
    bench_layer("nature3", l3, 32, 0, dr3i_conv2d_suggest_group(&l3, 32), threads);
    bench_layer("nature3", l3, 32, 0, 1, threads);
    bench_layer("minatar", mn, 32, 0, 32, threads);
    bench_layer("minatar", mn, 32, 0, 1, threads);
    /* the 4-plane MinAtar layer of bench/conv_step.c over a step's 2·32 stacked rows */
    dr3i_conv2d m4 = shape(4, 10, 10, 16, 3, 3, 1, 0);
    const size_t m4_groups[] = {64, 16, 8, 4, 2, 1};
    for (size_t gi = 0; gi < sizeof m4_groups / sizeof m4_groups[0]; gi++)
        bench_layer("minatar4", m4, 64, 0, m4_groups[gi], threads);
    return 0;
}
