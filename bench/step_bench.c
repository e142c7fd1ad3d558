/* One DQN-style update, timed: (a) assembled by hand from the pieces — online forward on
 * the stacked [s; s'], target forward on s', max backup, Huber TD (dr3_td_loss), DR3
 * (dr3_feature_dot_loss), one backward over 2n rows, Adam — and (b) the same update through
 * dr3_learner_step. Prints steps/s, the GEMM work per step, GFLOP/s, the fraction of the
 * sgemm peak measured here, and the learner/hand-assembled time ratio.
 *   usage: step_bench [seconds-per-case [threads [config]]]   (threads 0 = both; config one
 *   of tiny, small, large, for profiling one case; bench/pytorch_step.py is the PyTorch
 *   peer; bench/ratio.sh runs both and prints the ratio table) */
#include <dr3/dr3.h>

#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct config {
    const char *name;
    size_t obs, hidden, depth, actions, batch;
} config;

/* GEMM flops of one update: forward on 2n online rows and n target rows; backward computes
 * dW for every layer and dX for every layer but the first, on 2n rows. */
static double step_flops(const config *c) {
    double f = 0, n = (double)c->batch;
    size_t in = c->obs;
    for (size_t l = 0; l <= c->depth; l++) {
        size_t out = l < c->depth ? c->hidden : c->actions;
        double mk = (double)in * (double)out;
        f += 2 * (2 * n) * mk;            /* online forward */
        f += 2 * n * mk;                  /* target forward */
        f += 2 * (2 * n) * mk;            /* dW */
        if (l > 0) f += 2 * (2 * n) * mk; /* dX */
        in = out;
    }
    return f;
}

typedef struct bufs {
    float *s, *s2, *stacked, *q, *qt, *y, *qa, *gqa, *gout, *gphi, *r;
    int32_t *a;
} bufs;

static void fill(float *x, size_t n, dr3_rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = dr3_rng_uniform(rng) * 2 - 1;
}

/* The hand-assembled update (what a user would write with the building blocks). */
static int manual_step(const config *c, dr3_net *online, dr3_net *target, dr3_optim *opt,
                       bufs *b) {
    const size_t n = c->batch, S = c->obs, A = c->actions, D = c->hidden;
    const float *phi;
    if (dr3_net_forward(online, 2 * n, b->stacked, S, NULL, 0, b->q, A, &phi) != DR3_OK ||
        dr3_net_forward(target, n, b->stacked + n * S, S, NULL, 0, b->qt, A, NULL) != DR3_OK)
        return -1;
    for (size_t i = 0; i < n; i++) {
        float m = b->qt[i * A];
        for (size_t a = 1; a < A; a++) m = b->qt[i * A + a] > m ? b->qt[i * A + a] : m;
        b->y[i] = b->r[i] + 0.99f * m;
        b->qa[i] = b->q[i * A + (size_t)b->a[i]];
        b->gqa[i] = 0;
    }
    float td, reg;
    memset(b->gout, 0, 2 * n * A * sizeof(float));
    memset(b->gphi, 0, 2 * n * D * sizeof(float));
    if (dr3_td_loss(n, b->qa, b->y, NULL, DR3_TD_HUBER, 1.0f, &td, b->gqa) != DR3_OK ||
        dr3_feature_dot_loss(n, D, phi, D, phi + n * D, D, 0.1f, &reg, b->gphi,
                             b->gphi + n * D) != DR3_OK)
        return -1;
    for (size_t i = 0; i < n; i++) b->gout[i * A + (size_t)b->a[i]] = b->gqa[i];
    if (dr3_net_backward(online, 2 * n, b->gout, A, b->gphi, D, NULL, 0, 0) != DR3_OK)
        return -1;
    return dr3_optim_step(opt, dr3_net_params(online), dr3_net_grads(online),
                          dr3_net_param_count(online), NULL) == DR3_OK
               ? 0
               : -1;
}

/* The sgemm peak at this thread count: the best of libdr3's own parallel product
 * (dr3k_sgemm) and BLIS with its own threads, on 1536³. */
static double peak_gflops(int threads) {
    const size_t N = 1536;
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N),
          *c = malloc(sizeof(float) * N * N);
    for (size_t i = 0; i < N * N; i++) a[i] = b[i] = 0.001f * (float)(i % 97);
    double best = 1e30;
    for (int r = 0; r < 12; r++) {
        double t = now();
        if (r % 2)
            dr3k_sgemm(threads, false, false, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
        else
            dr3k_sgemm_blis_threads(threads, N, N, N, a, b, c);
        t = now() - t;
        best = t < best ? t : best;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)N * N * N / best * 1e-9;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    /* optional: only this thread count (1 or 2) */
    const int only = argc > 2 ? atoi(argv[2]) : 0;
    const char *only_config = argc > 3 ? argv[3] : NULL;
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    dr3_runtime_info_get(&info);
    printf("libdr3 %s, BLIS %s, kernels %s\n", info.libdr3_version, info.blis_version,
           info.blis_arch);
    static const config configs[] = {{"tiny", 4, 64, 2, 2, 32},
                                     {"small", 4, 256, 2, 2, 256},
                                     {"large", 64, 1024, 2, 18, 512}};
    printf("%-6s %3s %11s %10s %9s %9s %11s %9s %10s %9s\n", "config", "thr", "GFLOP/step",
           "ms/step", "steps/s", "GFLOP/s", "%sgemm-peak", "learner", "steps/s", "overhead");
    for (int threads = 1; threads <= 2; threads++) {
        if (only > 0 && threads != only) continue;
        double peak = peak_gflops(threads);
        for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
            const config *c = &configs[k];
            if (only_config != NULL && strcmp(only_config, c->name) != 0) continue;
            size_t hidden[2] = {c->hidden, c->hidden};
            dr3_net_options no = DR3_NET_OPTIONS_INIT;
            no.obs_dim = c->obs;
            no.action_dim = c->actions;
            no.num_hidden = c->depth;
            no.hidden = hidden;
            no.max_batch = 2 * c->batch;
            no.threads = threads;
            dr3_net *online = NULL, *target = NULL;
            dr3_optim *opt = NULL;
            dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
            if (dr3_net_create(&online, &no) || dr3_net_clone(&target, online) ||
                dr3_optim_create(&opt, dr3_net_param_count(online), &oo))
                return 1;
            const size_t n = c->batch, S = c->obs, A = c->actions, D = c->hidden;
            bufs b;
            b.stacked = malloc(sizeof(float) * 2 * n * S);
            b.q = malloc(sizeof(float) * 2 * n * A);
            b.qt = malloc(sizeof(float) * n * A);
            b.y = malloc(sizeof(float) * n);
            b.qa = malloc(sizeof(float) * n);
            b.gqa = malloc(sizeof(float) * n);
            b.gout = malloc(sizeof(float) * 2 * n * A);
            b.gphi = malloc(sizeof(float) * 2 * n * D);
            b.r = malloc(sizeof(float) * n);
            b.a = malloc(sizeof(int32_t) * n);
            dr3_rng rng;
            dr3_rng_seed(&rng, 1);
            fill(b.stacked, 2 * n * S, &rng);
            fill(b.r, n, &rng);
            for (size_t i = 0; i < n; i++) b.a[i] = (int32_t)dr3_rng_below(&rng, A);
            /* (a) hand-assembled: best of 5 timed windows */
            double best = 1e30;
            for (int w = 0; w < 5; w++) {
                int iters = 0;
                double t0 = now(), t;
                do {
                    if (manual_step(c, online, target, opt, &b)) return 1;
                    iters++;
                    t = now() - t0;
                } while (t < secs / 5);
                best = t / iters < best ? t / iters : best;
            }
            /* (b) the learner on the same batch */
            dr3_learner_options lo = DR3_LEARNER_OPTIONS_INIT;
            dr3_regularizer_options reg = DR3_REGULARIZER_OPTIONS_INIT;
            lo.obs_dim = S;
            lo.num_actions = A;
            lo.num_hidden = c->depth;
            lo.hidden = hidden;
            lo.batch_size = n;
            lo.threads = threads;
            const dr3_regularizer_options *reg_ptr = &reg;
            lo.regularizers = &reg_ptr;
            lo.num_regularizers = 1;
            lo.optim = &oo;
            dr3_learner *l = NULL;
            if (dr3_learner_create(&l, &lo)) return 1;
            dr3_batch bt = DR3_BATCH_INIT;
            bt.n = n;
            bt.obs = b.stacked;
            bt.ld_obs = S;
            bt.next_obs = b.stacked + n * S;
            bt.ld_next_obs = S;
            bt.actions = b.a;
            bt.rewards = b.r;
            double lbest = 1e30;
            for (int w = 0; w < 5; w++) {
                int iters = 0;
                double t0 = now(), t;
                do {
                    if (dr3_learner_step(l, &bt, NULL)) return 1;
                    iters++;
                    t = now() - t0;
                } while (t < secs / 5);
                lbest = t / iters < lbest ? t / iters : lbest;
            }
            double gf = step_flops(c) * 1e-9;
            printf("%-6s %3d %11.4f %10.3f %9.0f %9.1f %10.0f%% %8.3fms %10.0f %8.1f%%\n",
                   c->name, threads, gf, best * 1e3, 1 / best, gf / best,
                   100 * gf / best / peak, lbest * 1e3, 1 / lbest, 100 * (lbest / best - 1));
            printf("RESULT libdr3 %s %d %.3f %.3f %.1f %.6f\n", c->name, threads, 1 / best,
                   1 / lbest, 100 * gf / best / peak, gf);
            dr3_learner_free(l);
            dr3_net_free(online);
            dr3_net_free(target);
            dr3_optim_free(opt);
            free(b.stacked);
            free(b.q);
            free(b.qt);
            free(b.y);
            free(b.qa);
            free(b.gqa);
            free(b.gout);
            free(b.gphi);
            free(b.r);
            free(b.a);
        }
        printf("(sgemm peak measured here with %d thread%s: %.1f GFLOP/s)\n", threads,
               threads > 1 ? "s" : "", peak);
        printf("PEAK %d %.1f\n", threads, peak);
    }
    return 0;
}
