/* The DQN + DR3 learner step on the convolutional presets, timed (the peer is
 * bench/pytorch_conv_step.py, the same update in PyTorch): online forward on the stacked
 * [s; s'], target forward on s', max backup, Huber TD, DR3 0.1 on the 512/128-wide φ, one
 * backward, Adam. Best of 5 windows; prints ms/step, steps/s and GFLOP/s per config, batch
 * and threads, and the sgemm rate of a 1024³ product (the machine's practical peak).
 *   conv_step [seconds per config (default 4)] [minatar|nature|all] [threads: 1, 2 or 0 for
 *   both] [batch: 32, 128 or 0 for both]; DR3_CONV_STEP_NO_PEAK=1 skips the sgemm rate
 *   (e.g. under callgrind: `conv_step 0.0001 nature 1 32` runs 8 steps). A fifth argument
 *   `replay` also times dr3_learner_step_replay on a uint8 replay of random frames (frame
 *   stack = the input planes) through the raw-frame path and through the float path. */
#define DR3_EXPERIMENTAL 1
#include <dr3/dr3.h>

#include "kernels/kernels.h"
#include "learner/learner_internal.h" /* to time the uint8 replay path against the float one */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Process CPU time: less disturbed by other processes on a shared machine (with one thread
 * it equals the wall time on an idle one). */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct config {
    const char *name, *preset;
    size_t channels, actions, batch;
} config;

/* Floating-point operations of one step of n rows: F per row forward (2·K·C·kh·kw·OH·OW
 * per convolution, 2·in·out per linear layer, the head included); online forward on 2n
 * rows, target forward on n, backward on 2n computing dW of every layer (F) and dX of every
 * layer but the first: n·(7F − 2F₁). Adam and the elementwise work are not counted. */
static double step_flops(const dr3_net_desc *d, size_t n) {
    double f = 0, f1 = 0;
    size_t c = d->in_channels, h = d->in_height, w = d->in_width;
    for (size_t l = 0; l <= d->num_layers; l++) {
        double fl;
        if (l < d->num_layers && d->layers[l]->kind == DR3_LAYER_CONV2D) {
            const dr3_layer *y = d->layers[l];
            size_t oh = (h + 2 * y->padding - y->kernel_h) / y->stride + 1;
            size_t ow = (w + 2 * y->padding - y->kernel_w) / y->stride + 1;
            fl = 2.0 * (double)(y->units * c * y->kernel_h * y->kernel_w * oh * ow);
            c = y->units;
            h = oh;
            w = ow;
        } else {
            size_t out = l < d->num_layers ? d->layers[l]->units : d->action_dim * d->num_heads;
            fl = 2.0 * (double)(c * h * w * out);
            c = out;
            h = w = 1;
        }
        if (l == 0) f1 = fl;
        f += fl;
    }
    return (double)n * (7 * f - 2 * f1);
}

/* Best GFLOP/s of a 1024³ sgemm through libdr3's kernel layer. */
static double sgemm_peak(int threads) {
    const size_t m = 1024;
    float *a = malloc(m * m * sizeof(float)), *b = malloc(m * m * sizeof(float)),
          *c = malloc(m * m * sizeof(float));
    if (!a || !b || !c) return 0;
    for (size_t i = 0; i < m * m; i++) {
        a[i] = (float)(i % 13) * 0.01f;
        b[i] = (float)(i % 7) * 0.02f;
    }
    double best = 1e30;
    for (int r = 0; r < 10; r++) {
        double t = now();
        dr3k_sgemm(threads, false, false, m, m, m, 1.0f, a, m, b, m, 0.0f, c, m);
        t = now() - t;
        if (t < best) best = t;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)(m * m * m) / best * 1e-9;
}

/* Best of 5 windows of secs/5: steps on @p b, or on draws from @p r when it is not NULL. */
static int time_steps(dr3_learner *l, const dr3_batch *b, const dr3_replay *r, double secs,
                      double *best, double *best_cpu) {
    for (int w = 0; w < 3; w++)
        if ((r ? dr3_learner_step_replay(l, r, NULL) : dr3_learner_step(l, b, NULL)) != DR3_OK)
            return 1;
    *best = *best_cpu = 1e30;
    for (int window = 0; window < 5; window++) {
        int iters = 0;
        double t0 = now(), c0 = cpu_now(), t;
        do {
            if ((r ? dr3_learner_step_replay(l, r, NULL) : dr3_learner_step(l, b, NULL)) !=
                DR3_OK)
                return 1;
            iters++;
            t = now() - t0;
        } while (t < secs / 5);
        if (t / iters < *best) *best = t / iters;
        double cpu = (cpu_now() - c0) / iters;
        if (cpu < *best_cpu) *best_cpu = cpu;
    }
    return 0;
}

/* A uint8 replay of random frames: 20 episodes of 100 steps, frame stack @p stack. */
static dr3_replay *random_frames(size_t frame, size_t stack, size_t actions) {
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = 2100;
    ro.obs_dim = frame;
    ro.obs_dtype = DR3_DTYPE_U8;
    ro.num_actions = actions;
    ro.frame_stack = stack;
    dr3_replay *r = NULL;
    if (dr3_replay_create(&r, &ro) != DR3_OK) return NULL;
    uint8_t *obs = malloc(101 * frame);
    int32_t act[100];
    float rew[100];
    dr3_rng rng;
    dr3_rng_seed(&rng, 5);
    for (int ep = 0; ep < 20 && obs; ep++) {
        for (size_t i = 0; i < 101 * frame; i++) obs[i] = (uint8_t)dr3_rng_below(&rng, 256);
        for (int t = 0; t < 100; t++) {
            act[t] = (int32_t)dr3_rng_below(&rng, actions);
            rew[t] = dr3_rng_uniform(&rng);
        }
        if (dr3_replay_add_episode(r, 100, obs, act, rew, 1, 0) != DR3_OK) break;
    }
    free(obs);
    return r;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 4.0;
    const char *only = argc > 2 ? argv[2] : "all";
    int only_threads = argc > 3 ? atoi(argv[3]) : 0;
    size_t only_batch = argc > 4 ? (size_t)atoi(argv[4]) : 0;
    const int with_replay = argc > 5 && strcmp(argv[5], "replay") == 0;
    static const config configs[] = {{"minatar", "minatar", 4, 6, 32},
                                     {"nature", "nature", 4, 6, 32},
                                     {"minatar", "minatar", 4, 6, 128},
                                     {"nature", "nature", 4, 6, 128}};
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    dr3_runtime_info_get(&info);
    printf("libdr3 %s, BLIS %s, kernels %s\n", info.libdr3_version, info.blis_version,
           info.blis_arch);
    for (int threads = 1; threads <= 2 && getenv("DR3_CONV_STEP_NO_PEAK") == NULL; threads++)
        if (only_threads == 0 || only_threads == threads)
            printf("sgemm 1024^3, %d thread(s): %.1f GFLOP/s\n", threads, sgemm_peak(threads));
    printf("%-8s %5s %3s %9s %9s %8s %9s\n", "config", "batch", "thr", "ms/step", "steps/s",
           "GFLOP/s", "cpu ms");
    for (int threads = 1; threads <= 2; threads++)
        for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
            const config *c = &configs[k];
            if ((only_threads != 0 && only_threads != threads) ||
                (only_batch != 0 && only_batch != c->batch) ||
                (strcmp(only, "all") != 0 && strcmp(only, c->name) != 0))
                continue;
            dr3_net_desc d;
            if (dr3_net_desc_preset(&d, c->preset, c->channels, c->actions) != DR3_OK) return 1;
            dr3_optim_options adam = DR3_OPTIM_OPTIONS_INIT;
            adam.lr = 1e-4f;
            dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT;
            const dr3_regularizer_options *regs[] = {&dr3};
            dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
            o.batch_size = c->batch;
            o.optim = &adam;
            o.regularizers = regs;
            o.num_regularizers = 1;
            o.threads = threads;
            o.seed = 1;
            dr3_learner *l = NULL;
            if (dr3_learner_create_desc(&l, &o, &d) != DR3_OK) {
                fprintf(stderr, "conv_step: %s\n", dr3_last_error());
                return 1;
            }
            const size_t S = d.in_channels * d.in_height * d.in_width, n = c->batch;
            float *obs = malloc(n * S * sizeof(float)), *next = malloc(n * S * sizeof(float));
            float *r = malloc(n * sizeof(float));
            int32_t *a = malloc(n * sizeof(int32_t));
            dr3_rng rng;
            dr3_rng_seed(&rng, 3);
            for (size_t i = 0; i < n * S; i++) obs[i] = dr3_rng_uniform(&rng);
            for (size_t i = 0; i < n * S; i++) next[i] = dr3_rng_uniform(&rng);
            for (size_t i = 0; i < n; i++) {
                r[i] = dr3_rng_uniform(&rng);
                a[i] = (int32_t)dr3_rng_below(&rng, c->actions);
            }
            dr3_batch b = DR3_BATCH_INIT;
            b.n = n;
            b.obs = obs;
            b.ld_obs = S;
            b.next_obs = next;
            b.ld_next_obs = S;
            b.actions = a;
            b.rewards = r;
            double best, best_cpu;
            if (time_steps(l, &b, NULL, secs, &best, &best_cpu) != 0) {
                fprintf(stderr, "conv_step: %s\n", dr3_last_error());
                return 1;
            }
            printf("%-8s %5zu %3d %9.3f %9.1f %8.1f %9.3f\n", c->name, c->batch, threads,
                   best * 1e3, 1.0 / best, step_flops(&d, c->batch) / best * 1e-9,
                   best_cpu * 1e3);
            fflush(stdout);
            dr3_replay *rp =
                with_replay ? random_frames(d.in_height * d.in_width, d.in_channels, c->actions)
                            : NULL;
            for (int path = 0; rp != NULL && path < 2; path++) {
                l->u8_path = path == 0; /* raw frames, then the replay's float batch */
                if (time_steps(l, NULL, rp, secs, &best, &best_cpu) != 0) {
                    fprintf(stderr, "conv_step: %s\n", dr3_last_error());
                    return 1;
                }
                printf("%-8s %5zu %3d %9.3f %9.1f %8.1f %9.3f  step_replay, %s\n", c->name,
                       c->batch, threads, best * 1e3, 1.0 / best,
                       step_flops(&d, c->batch) / best * 1e-9, best_cpu * 1e3,
                       path == 0 ? "uint8 frames" : "float batch");
                fflush(stdout);
            }
            dr3_replay_free(rp);
            free(obs);
            free(next);
            free(r);
            free(a);
            dr3_learner_free(l);
        }
    return 0;
}
